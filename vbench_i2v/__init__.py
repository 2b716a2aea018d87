"""vbench-i2v: an evaluation and benchmark suite for image-to-video generation."""

__version__ = "0.1.0"
