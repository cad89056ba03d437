"""Command line: a thin layer over :mod:`pixseek.search`. Each feature registers its commands on ``app``."""
from pixseek.cli.app import app, main
from pixseek.cli import core as _core  # noqa: F401  (registers index, search, embed, eval, tags, ...)
from pixseek.cli import scale as _scale  # noqa: F401,E402  (bench-index)
from pixseek.cli import serve as _serve  # noqa: F401  (registers serve)
from pixseek.cli import train as _train  # noqa: F401  (registers train, tag-train)
from pixseek.cli import compare as _compare  # noqa: F401  (registers compare, dedup, explain)

__all__ = ["app", "main"]
