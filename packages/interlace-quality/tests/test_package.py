import interlace_quality


def test_distribution_is_importable_with_its_version() -> None:
    assert interlace_quality.__version__ == "0.1.0"
