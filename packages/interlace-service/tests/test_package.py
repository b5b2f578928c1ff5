import interlace_service


def test_distribution_is_importable_with_its_version() -> None:
    assert interlace_service.__version__ == "0.1.0"
