"""The files beside a catalog, owned in one place, and the one way they are written.

``photos.db`` is the source of truth; everything else is a cache of it or a lock:

=========================  ===================================================================
``photos.db.index``        the vector index (FAISS or a re-rank store's codes), self-describing
``photos.db.index.json``   the catalog generation the index was saved at, its kind and size
``photos.db.lock``         the writer lock: one writer commits (and saves) at a time
``photos.db.thumbs/``      thumbnails served by the HTTP API
``photos.db.uploads/``     images uploaded through the HTTP API
``photos.db.cache/``       derived results (dedup groups), keyed by generation
=========================  ===================================================================

Every sidecar is written with :func:`atomic_write` (a unique temporary name in the same folder, then
``os.replace``), so a kill at any instant leaves the old file or the new one, never half of one, and
two writers never share a temporary file. A damaged or missing cache is rebuilt from the catalog.
"""
from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pixseek.atomic import atomic_write, atomic_write_bytes, atomic_write_text, remove_stale

__all__ = ["LibraryLayout", "WriterLock", "atomic_write", "atomic_write_bytes", "atomic_write_text", "remove_stale"]


@dataclass(frozen=True)
class LibraryLayout:
    db: Path

    @classmethod
    def of(cls, db: str | os.PathLike) -> "LibraryLayout":
        return cls(Path(db))

    def _side(self, suffix: str) -> Path:
        return Path(str(self.db) + suffix)

    @property
    def index(self) -> Path:
        return self._side(".index")

    @property
    def index_meta(self) -> Path:
        return self._side(".index.json")

    @property
    def lock(self) -> Path:
        return self._side(".lock")

    @property
    def thumbs(self) -> Path:
        return self._side(".thumbs")

    @property
    def uploads(self) -> Path:
        return self._side(".uploads")

    @property
    def cache(self) -> Path:
        return self._side(".cache")

    def files(self) -> list[Path]:
        """The sidecar files whose killed writes may leave temporaries (index, its metadata and stores)."""
        return sorted(p for p in self.db.parent.glob(self.db.name + ".index*") if not p.name.endswith(".tmp"))


class WriterLock:
    """Exclusive across processes (``flock`` on the lock file) and threads (an RLock), re-entrant.

    Held while a batch is committed to the catalog and applied to the index, and while the index is
    saved: writers interleave batch by batch and each one first replays what the others committed."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._thread = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread:
            if self._depth == 0:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                    os.close(self._fd)
                    self._fd = None
