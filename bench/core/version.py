"""The harness's version, recorded in every run (``code_version``) and its record."""

__version__ = "0.1.0"
