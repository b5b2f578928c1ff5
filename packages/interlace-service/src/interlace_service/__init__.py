"""interlace-service: the `interlace serve` process: REST API (package skeleton; see README)."""

__version__ = "0.1.0"
