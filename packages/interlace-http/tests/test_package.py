import interlace_http


def test_distribution_is_importable_with_its_version() -> None:
    assert interlace_http.__version__ == "0.1.0"
