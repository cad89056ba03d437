"""Exact inner-product search: FAISS ``IndexIDMap2(IndexFlatIP)``."""
from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import faiss
import numpy as np

from pixseek.index.base import VectorIndex, as_ids, as_matrix
from pixseek.index.factory import register_index


SMALL_BATCH = 8


def write_faiss(index, fh: BinaryIO) -> None:
    """``faiss.write_index`` into an open file (after the pixseek header), streamed in 1 MB blocks."""
    writer = faiss.PyCallbackIOWriter(fh.write)
    faiss.write_index(index, writer)
    del writer  # flushes


def read_faiss(fh: BinaryIO):
    reader = faiss.PyCallbackIOReader(fh.read)
    try:
        return faiss.read_index(reader)
    finally:
        del reader


class FaissIndex(VectorIndex):
    """Shared plumbing for indexes that are one FAISS object with an id map."""

    def __init__(self, dim: int, faiss_index=None):
        self.dim = dim
        self._index = faiss_index if faiss_index is not None else self._build(dim)

    def _build(self, dim: int):
        raise NotImplementedError

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        vectors, ids = as_matrix(vectors, self.dim), as_ids(ids)
        if len(vectors) != len(ids):
            raise ValueError(f"{len(vectors)} vectors but {len(ids)} ids")
        if len(ids):
            self._index.add_with_ids(vectors, ids)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = as_matrix(queries, self.dim)
        k = max(1, int(k))
        if self.ntotal == 0:
            return (np.full((len(queries), k), -np.inf, np.float32), np.full((len(queries), k), -1, np.int64))
        return self._index.search(queries, k)

    def remove(self, ids: np.ndarray) -> int:
        ids = as_ids(ids)
        if len(ids) == 0:
            return 0
        return int(self._index.remove_ids(faiss.IDSelectorBatch(ids)))

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    def _write(self, fh: BinaryIO) -> None:
        write_faiss(self._index, fh)

    @classmethod
    def _read(cls, fh: BinaryIO, path: Path, header: dict | None) -> "FaissIndex":
        raw = read_faiss(fh)
        return cls(raw.d, faiss_index=raw, **(header or {}).get("params", {}))


@register_index("flat")
class FlatIndex(FaissIndex):
    """Exact search; the default and the ground truth for every approximate index."""

    def _build(self, dim: int):
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """A few queries are scored with one matrix product over FAISS's own storage (a view, no
        copy): FAISS spreads a single query over its OpenMP threads, which spin-wait on a busy
        machine (2-3x slower than this path at 10k-100k vectors, bench/flat_single_query.py); changing
        its thread count per call would be process-wide state. Batches go to FAISS."""
        queries = as_matrix(queries, self.dim)
        n = self.ntotal
        if n == 0 or len(queries) >= SMALL_BATCH:
            return super().search(queries, k)
        k = max(1, int(k))
        flat = faiss.downcast_index(self._index.index)
        stored = faiss.rev_swig_ptr(flat.get_xb(), n * self.dim).reshape(n, self.dim)
        labels = faiss.rev_swig_ptr(self._index.id_map.data(), n)
        scores = queries @ stored.T
        kk = min(k, n)
        top = np.argpartition(-scores, kk - 1, axis=1)[:, :kk] if kk < n else np.tile(np.arange(n), (len(queries), 1))
        rows = np.arange(len(queries))[:, None]
        order = np.argsort(-scores[rows, top], axis=1, kind="stable")
        top = top[rows, order]
        out_s = np.full((len(queries), k), -np.inf, np.float32)
        out_i = np.full((len(queries), k), -1, np.int64)
        out_s[:, :kk] = scores[rows, top]
        out_i[:, :kk] = labels[top]
        return out_s, out_i
