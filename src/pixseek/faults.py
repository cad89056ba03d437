"""Named fault-injection points, for tests that must stop a writer at an exact place.

Library code calls ``point("ingest.after_catalog")`` at the places where a crash matters; nothing
happens unless the process was started with ``PIXSEEK_FAULT=<name>`` (read once, at import), in which
case the process kills itself with SIGKILL there -- the same as a ``kill -9`` at that instant, but
deterministic on any machine. ``PIXSEEK_FAULT=<name>:<n>`` fires at the n-th time the point is reached.

With ``PIXSEEK_FAULT_ONCE=<file>`` as well, the fault fires once across every process that shares the
setting: the process that fires first creates the file (with its pid) and dies; the others, and the
processes that replace it (a Ray actor is restarted with the same environment), carry on. Processes a
library starts itself (Ray's encoder actors) get these variables from :func:`forwarded_env`.
A leaf module: it imports nothing of pixseek.
"""
from __future__ import annotations

import os
import signal

_SPEC = os.environ.get("PIXSEEK_FAULT", "")
_NAME, _, _NTH = _SPEC.partition(":")
_AT = int(_NTH) if _NTH.isdigit() else 1
_ONCE = os.environ.get("PIXSEEK_FAULT_ONCE", "")
_seen = 0
VARIABLES = ("PIXSEEK_FAULT", "PIXSEEK_FAULT_ONCE")

POINTS = (
    "ingest.after_catalog",   # a batch's catalog rows are committed, the index not yet updated
    "ingest.after_index",     # a batch is in the catalog and the in-memory index, nothing saved
    "save.after_index_file",  # the index file is written, its metadata not yet
    "atomic.before_replace",  # a file's new content is written to its temporary, not yet renamed over it
    "ray.actor.after_encode", # a Ray encoder actor has encoded its batch, nothing returned to the driver yet
)


def point(name: str) -> None:
    """Die here (SIGKILL) when this point is armed by ``PIXSEEK_FAULT``; otherwise do nothing."""
    global _seen
    if not _NAME or name != _NAME:
        return
    _seen += 1
    if _seen >= _AT and (not _ONCE or _claim(_ONCE)):
        os.kill(os.getpid(), signal.SIGKILL)


def _claim(path: str) -> bool:
    """Create ``path`` (with this pid) unless it exists: True for the one process that created it."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    return True


def forwarded_env() -> dict[str, str]:
    """The fault settings of this process's environment now, for processes a library starts itself."""
    return {k: os.environ[k] for k in VARIABLES if os.environ.get(k)}
