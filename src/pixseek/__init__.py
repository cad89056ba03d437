"""pixseek: image search by example, offline.

>>> import pixseek
>>> lib = pixseek.open("photos.db")
>>> lib.add("~/photos")
>>> lib.search("query.jpg", k=10)
"""
from __future__ import annotations

from pixseek.version import __version__  # noqa: F401


def open(db=None, model=None, index=None, **kwargs):  # noqa: A001 - the library's verb
    """Open or create a library (catalog + index + encoder). See :func:`pixseek.search.open_library`."""
    from pixseek.wiring import open_library

    return open_library(db, model=model, index=index, **kwargs)


def encode(paths, model=None):
    """Encode image files -> L2-normalised float32 (n, d); raises on the first unreadable file."""
    from pixseek.errors import ImageError
    from pixseek.search import encode_paths

    vectors, ok, errors = encode_paths(list(paths), model=model)
    if errors:
        e = errors[0]
        raise ImageError(e["path"], e["cause"])
    return vectors


def open_library(*args, **kwargs):
    """Open or create a library with every feature's extras wired in (:func:`pixseek.wiring.open_library`)."""
    from pixseek.wiring import open_library as _open

    return _open(*args, **kwargs)
