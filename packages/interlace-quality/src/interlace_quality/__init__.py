"""interlace-quality: the data quality check types (`not_null` (package skeleton; see README)."""

__version__ = "0.1.0"
