"""The index contract: array in, array out (faiss style)."""
from __future__ import annotations

import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path

import numpy as np


class VectorIndex(ABC):
    """Inner-product search over L2-normalised float32 vectors with int64 ids.

    ``search`` returns ``(scores, ids)`` of shape (nq, k); missing slots have id -1.
    """

    kind: str
    dim: int

    @abstractmethod
    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None: ...

    @abstractmethod
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    @abstractmethod
    def remove(self, ids: np.ndarray) -> int: ...

    @property
    @abstractmethod
    def ntotal(self) -> int: ...

    @abstractmethod
    def _write(self, path: Path) -> None:
        """Write the index to ``path`` (a fresh temporary file)."""

    @classmethod
    @abstractmethod
    def _read(cls, path: Path) -> "VectorIndex": ...

    def train(self, vectors: np.ndarray) -> None:  # noqa: B027 - optional hook
        """Indexes that need training (IVF, PQ) learn from ``vectors``; others ignore it."""

    @property
    def is_trained(self) -> bool:
        return True

    def fill(self, batches: Iterable[tuple[np.ndarray, np.ndarray]]) -> None:
        """Add every ``(ids, vectors)`` batch of a rebuild. A backend that keeps its vectors in a
        server (``pixseek.backends``) overrides this to reconcile with what it already holds."""
        for ids, vectors in batches:
            self.add(vectors, ids)

    def save(self, path: str | Path) -> None:
        """Atomic: write a temporary file beside ``path``, then rename over it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            self._write(Path(tmp))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path: str | Path) -> "VectorIndex":
        return cls._read(Path(path))


def as_matrix(x: np.ndarray, dim: int) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"expected vectors of shape (n, {dim}), got {x.shape}")
    return x


def as_ids(ids: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
