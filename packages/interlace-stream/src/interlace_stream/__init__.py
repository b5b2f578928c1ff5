"""interlace-stream: `@stream` (package skeleton; see README)."""

__version__ = "0.1.0"
