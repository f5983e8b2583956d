"""The ``haechi`` command line."""

from haechi.cli.app import app, main

__all__ = ["app", "main"]
