"""Named fault-injection points, for tests that must stop a writer at an exact place.

Library code calls ``point("ingest.after_catalog")`` at the places where a crash matters; nothing
happens unless the process was started with ``PIXSEEK_FAULT=<name>`` (read once, at import), in which
case the process kills itself with SIGKILL there -- the same as a ``kill -9`` at that instant, but
deterministic on any machine. ``PIXSEEK_FAULT=<name>:<n>`` fires at the n-th time the point is reached.
A leaf module: it imports nothing of pixseek.
"""
from __future__ import annotations

import os
import signal

_SPEC = os.environ.get("PIXSEEK_FAULT", "")
_NAME, _, _NTH = _SPEC.partition(":")
_AT = int(_NTH) if _NTH.isdigit() else 1
_seen = 0

POINTS = (
    "ingest.after_catalog",   # a batch's catalog rows are committed, the index not yet updated
    "ingest.after_index",     # a batch is in the catalog and the in-memory index, nothing saved
    "save.after_index_file",  # the index file is written, its metadata not yet
)


def point(name: str) -> None:
    """Die here (SIGKILL) when this point is armed by ``PIXSEEK_FAULT``; otherwise do nothing."""
    global _seen
    if not _NAME or name != _NAME:
        return
    _seen += 1
    if _seen >= _AT:
        os.kill(os.getpid(), signal.SIGKILL)
