"""The project version: the one place it is written (pyproject, images and the chart read it)."""

__version__ = "0.1.0"
