"""The package version (one place; the command line, the API and run tags read it)."""

__version__ = "0.1.0"
