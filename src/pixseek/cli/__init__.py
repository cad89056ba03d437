"""Command line: a thin layer over :mod:`pixseek.search`. Each feature registers its commands on ``app``."""
from pixseek.cli.app import app, main
from pixseek.cli import core as _core  # noqa: F401  (registers index, search, embed, eval, tags, ...)

__all__ = ["app", "main"]
