"""interlace-http: the HTTP toolkit shared by interlace-service and interlace-stream."""

__version__ = "0.1.0"
