import interlace_connections


def test_distribution_is_importable_with_its_version() -> None:
    assert interlace_connections.__version__ == "0.1.0"
