"""The one atomic file write (a leaf module): a unique temporary name in the target's folder, then
``os.replace``. A kill at any instant leaves the old file or the new one, never half of one, and two
writers never share a temporary file. A kill before the rename leaves a ``.NAME.*.tmp`` file, which
:func:`remove_stale` (called by the owner of the folder, under its writer lock) deletes."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from pixseek import faults

TMP_SUFFIX = ".tmp"


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a unique temporary path beside ``path``, then move it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        faults.point("atomic.before_replace")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def remove_stale(path: str | os.PathLike) -> int:
    """Delete temporary files a killed :func:`atomic_write` of ``path`` left behind; returns how many."""
    path = Path(path)
    n = 0
    for tmp in path.parent.glob(f".{path.name}.*{TMP_SUFFIX}"):
        try:
            tmp.unlink()
            n += 1
        except OSError:
            pass
    return n
