"""Exact inner-product search: FAISS ``IndexIDMap2(IndexFlatIP)``."""
from __future__ import annotations

from contextlib import contextmanager
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


@contextmanager
def single_thread_for_small(nq: int):
    """A single query is memory-bound: one thread scans as fast as two, and OpenMP threads that
    spin-wait on a busy 2-core machine made it 4x slower. Batches keep FAISS's threading."""
    threads = faiss.omp_get_max_threads()
    if nq >= SMALL_BATCH or threads <= 1:
        yield
        return
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


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
        with single_thread_for_small(len(queries)):
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
