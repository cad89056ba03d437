"""Exact re-ranking for compressed indexes: float16 copies of the vectors, on disk, memory-mapped.

The compressed index (PQ codes, binary codes) finds a shortlist; these vectors rescore it exactly
(up to float16 rounding), so recall is limited by the shortlist, not by the compression.
While an index is being built the rows live in RAM; after ``save``/``load`` they are a read-only
memory map beside the index file (``<index>.f16.npy``), so RAM holds only the codes.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


class RerankStore:
    def __init__(self, dim: int, ids: np.ndarray | None = None, rows: np.ndarray | None = None):
        self.dim = dim
        self.ids = np.zeros(0, np.int64) if ids is None else ids  # sorted ascending
        self._chunks: list[np.ndarray] = [] if rows is None else [rows]
        self._chunk_ids: list[np.ndarray] = []
        self.alive = np.ones(len(self.ids), bool)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        if len(ids) == 0:
            return
        rows = np.asarray(vectors, np.float16)
        if len(self.ids) and np.isin(ids, self.ids).any():  # re-added ids replace their old rows
            keep = ~np.isin(self.ids, ids)
            self._chunks, self.ids, self.alive = [self.matrix()[keep]], self.ids[keep], self.alive[keep]
        if len(self.ids) and ids.min() <= self.ids[-1] or np.any(np.diff(ids) <= 0):
            order = np.argsort(np.concatenate([self.ids, ids]), kind="stable")
            all_rows = np.concatenate([self.matrix(), rows])[order]
            self.ids = np.concatenate([self.ids, ids])[order]
            self.alive = np.concatenate([self.alive, np.ones(len(ids), bool)])[order]
            self._chunks = [all_rows]
            return
        self._chunks.append(rows)
        self.ids = np.concatenate([self.ids, ids])
        self.alive = np.concatenate([self.alive, np.ones(len(ids), bool)])

    def matrix(self) -> np.ndarray:
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0] if self._chunks else np.zeros((0, self.dim), np.float16)

    def remove(self, ids: np.ndarray) -> None:
        pos = np.searchsorted(self.ids, ids)
        ok = (pos < len(self.ids)) & (self.ids[np.minimum(pos, len(self.ids) - 1)] == ids)
        self.alive[pos[ok]] = False

    def rescore(self, queries: np.ndarray, cand: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact inner products of each query with its candidate ids; best ``k`` first."""
        mat = self.matrix()
        out_s = np.full((len(queries), k), -np.inf, np.float32)
        out_i = np.full((len(queries), k), -1, np.int64)
        for qi, (q, c) in enumerate(zip(queries, cand)):
            c = c[c >= 0]
            pos = np.searchsorted(self.ids, c)
            ok = (pos < len(self.ids)) & (self.ids[np.minimum(pos, len(self.ids) - 1)] == c)
            pos, c = pos[ok], c[ok]
            keep = self.alive[pos]
            pos, c = pos[keep], c[keep]
            if len(c) == 0:
                continue
            s = mat[pos].astype(np.float32) @ q
            top = np.argsort(-s)[:k]
            out_s[qi, :len(top)], out_i[qi, :len(top)] = s[top], c[top]
        return out_s, out_i

    def save(self, path: Path) -> None:
        fd, tmp = tempfile.mkstemp(suffix=".npy.tmp", dir=path.parent)
        os.close(fd)
        try:
            with open(tmp, "wb") as fh:
                np.save(fh, self.matrix())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path: Path, dim: int, ids: np.ndarray, alive: np.ndarray) -> "RerankStore":
        store = cls(dim, ids, np.load(path, mmap_mode="r"))
        store.alive = alive.copy()
        return store

    @property
    def nbytes_ram(self) -> int:
        """Bytes held in RAM besides the memory map: ids and the alive mask."""
        return int(self.ids.nbytes + self.alive.nbytes)
