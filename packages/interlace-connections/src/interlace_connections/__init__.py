"""interlace-connections: PostgreSQL as a model engine and state store (package skeleton; see README)."""

__version__ = "0.1.0"
