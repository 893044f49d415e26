"""labkit: make Jetson recording-performance investigations reproducible."""

__version__ = "0.1.0"
