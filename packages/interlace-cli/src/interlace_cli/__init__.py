"""The `interlace` command line (click + rich)."""

__version__ = "0.1.0"
