"""The `vidlab` entry point: the application with every command registered."""

from vidlab.cli import data, models, outputs, score  # noqa: F401  (each registers its commands)
from vidlab.cli.app import app

__all__ = ["app"]
