"""Compressed indexes with an exact re-rank: compact codes in RAM, float16 vectors on disk.

The compressed index (PQ codes, binary codes) finds a shortlist of ``k * shortlist`` candidates;
:class:`RerankStore` rescores them exactly (up to float16 rounding) from float16 copies of the
vectors, so recall is limited by the shortlist, not by the compression. After ``save``/``load`` those
rows are a read-only memory map beside the index file (``<index>.f16.npy``); rows added since live
in RAM until the next save.

:class:`RerankedIndex` is the shared seam (add / search / remove / save / load, background re-fit);
:mod:`pixseek.index.ivfpq` and :mod:`pixseek.index.binary` supply the codes.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from pixseek.index.base import VectorIndex, as_ids, as_matrix
from pixseek.index.growing import GrowingArray
from pixseek.index.rebuild import BackgroundRebuild

CHUNK = 50_000
TRAIN_SAMPLE = 50_000


class RerankStore:
    """float16 rows sorted by id: a base (a memory map after ``load``) followed by an in-RAM tail."""

    def __init__(self, dim: int, ids: np.ndarray | None = None, base: np.ndarray | None = None,
                 alive: np.ndarray | None = None):
        self.dim = dim
        self._base = np.zeros((0, dim), np.float16) if base is None else base
        self._tail = GrowingArray(np.float16, (dim,))
        self._ids = GrowingArray(np.int64, data=ids)
        self._alive = GrowingArray(bool, data=np.ones(len(self._ids), bool) if alive is None else alive)

    @property
    def ids(self) -> np.ndarray:
        return self._ids.view

    @property
    def alive(self) -> np.ndarray:
        return self._alive.view

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        if len(ids) == 0:
            return
        rows = np.asarray(vectors, np.float16)
        if len(self.ids) and ids.min() <= self.ids[-1] or np.any(np.diff(ids) <= 0):
            self._merge(rows, ids)  # out of order or re-added ids: rare, rewrites in RAM
            return
        self._tail.append(rows)
        self._ids.append(ids)
        self._alive.append(np.ones(len(ids), bool))

    def _merge(self, rows: np.ndarray, ids: np.ndarray) -> None:
        keep = ~np.isin(self.ids, ids)  # a re-added id replaces its old row
        old = self._rows_at(np.flatnonzero(keep))
        all_ids = np.concatenate([self.ids[keep], ids])
        order = np.argsort(all_ids, kind="stable")
        self._base = np.concatenate([old, rows])[order]
        self._tail = GrowingArray(np.float16, (self.dim,))
        self._ids.replace(all_ids[order])
        self._alive.replace(np.concatenate([self.alive[keep], np.ones(len(ids), bool)])[order])

    def _rows_at(self, pos: np.ndarray) -> np.ndarray:
        nb = len(self._base)
        if len(self._tail) == 0:
            return self._base[pos]
        out = np.empty((len(pos), self.dim), np.float16)
        inb = pos < nb
        out[inb] = self._base[pos[inb]]
        out[~inb] = self._tail.view[pos[~inb] - nb]
        return out

    def _positions(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions, found mask) of ``ids``."""
        pos = np.searchsorted(self.ids, ids)
        ok = (pos < len(self.ids)) & (self.ids[np.minimum(pos, max(0, len(self.ids) - 1))] == ids) \
            if len(self.ids) else np.zeros(len(ids), bool)
        return pos, ok

    def alive_ids(self) -> np.ndarray:
        return self.ids[self.alive]

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """float32 rows of ``ids`` (all present)."""
        return self._rows_at(np.searchsorted(self.ids, ids)).astype(np.float32)

    def remove(self, ids: np.ndarray) -> None:
        pos, ok = self._positions(ids)
        self.alive[pos[ok]] = False

    def rescore(self, queries: np.ndarray, cand: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact inner products of each query with its candidate ids; best ``k`` first."""
        out_s = np.full((len(queries), k), -np.inf, np.float32)
        out_i = np.full((len(queries), k), -1, np.int64)
        for qi, (q, c) in enumerate(zip(queries, cand)):
            c = c[c >= 0]
            pos, ok = self._positions(c)
            pos, c = pos[ok], c[ok]
            live = self.alive[pos]
            pos, c = pos[live], c[live]
            if len(c) == 0:
                continue
            s = self._rows_at(pos).astype(np.float32) @ q
            top = np.argsort(-s, kind="stable")[:k]
            out_s[qi, :len(top)], out_i[qi, :len(top)] = s[top], c[top]
        return out_s, out_i

    def save(self, path: Path) -> None:
        """Write the live rows (atomically), then serve them from a memory map of that file."""
        keep = np.flatnonzero(self.alive)
        fd, tmp = tempfile.mkstemp(suffix=".npy.tmp", dir=path.parent)
        os.close(fd)
        try:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(len(keep), self.dim))
            for s in range(0, len(keep), CHUNK):
                out[s:s + CHUNK] = self._rows_at(keep[s:s + CHUNK])
            out.flush()
            del out
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        ids = self.ids[keep]
        self._base = np.load(path, mmap_mode="r")
        self._tail = GrowingArray(np.float16, (self.dim,))
        self._ids.replace(ids)
        self._alive.replace(np.ones(len(ids), bool))

    @classmethod
    def load(cls, path: Path, dim: int, ids: np.ndarray, alive: np.ndarray) -> "RerankStore":
        return cls(dim, ids, np.load(path, mmap_mode="r"), alive)

    @property
    def nbytes_ram(self) -> int:
        """Bytes held in RAM besides the memory map: ids, the alive mask and unsaved rows."""
        return int(self._ids.nbytes + self._alive.nbytes + self._tail.nbytes
                   + (0 if isinstance(self._base, np.memmap) else self._base.nbytes))


class RerankedIndex(VectorIndex):
    """Codes for the shortlist (subclass hooks ``_codes_*``), a :class:`RerankStore` for the answer.

    Drift: the quantizers are learned from the vectors given to ``train`` (at most a sample of
    ``TRAIN_SAMPLE``). When they were learned from fewer than that and the index has since grown
    ``refit_growth`` times past them (a library that started small), or when ``dead_limit`` of a
    graph's nodes are dead, they are re-learned from the stored vectors and every code recomputed,
    in a background thread; searches keep using the old codes until the new ones are swapped in.
    """

    shortlist: int = 10
    refit_growth: float = 4.0
    refit_min: int = 10_000  # below this, a re-fit is cheap but not worth a thread
    dead_limit: float = 0.25
    _code_fields: tuple[str, ...] = ("_index", "trained_on")
    disk_backed = True  # float16 vectors memory-mapped from ``<index>.f16.npy``

    def __init__(self, dim: int):
        self.dim = dim
        self.store = RerankStore(dim)
        self.trained_on = 0
        self.rebuilder = BackgroundRebuild(f"{type(self).__name__}-refit")

    # subclasses: params, search_params / _set_search, train, _codes_add, _codes_search, _codes_remove, _codes_ntotal, _codes_bytes,
    # _codes_dump -> (arrays, meta), _codes_load(arrays, meta), optionally _codes_dead_fraction
    @property
    def params(self) -> dict:
        raise NotImplementedError

    def _codes_dead_fraction(self) -> float:
        return 0.0

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        vectors, ids = as_matrix(vectors, self.dim), as_ids(ids)
        if len(ids) == 0:
            return
        with self.rebuilder.lock:
            self._codes_add(vectors, ids)
            self.store.add(vectors, ids)
            self.rebuilder.record("add", vectors, ids)
        if self.needs_refit():
            self.refit()

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = as_matrix(queries, self.dim)
        k = max(1, int(k))
        with self.rebuilder.lock:  # a re-fit swaps codes (and coder) together
            if self.ntotal == 0:
                return (np.full((len(queries), k), -np.inf, np.float32), np.full((len(queries), k), -1, np.int64))
            cand = self._codes_search(queries, max(k * self.shortlist, k))
            return self.store.rescore(queries, cand, k)

    def remove(self, ids: np.ndarray) -> int:
        ids = as_ids(ids)
        if len(ids) == 0:
            return 0
        with self.rebuilder.lock:
            n = self._codes_remove(ids)
            self.store.remove(ids)
            self.rebuilder.record("remove", ids)
        if self.needs_refit():
            self.refit()
        return n

    @property
    def ntotal(self) -> int:
        return self._codes_ntotal()

    def bytes_per_vector_ram(self) -> float:
        return (self._codes_bytes() + self.store.nbytes_ram) / max(1, self.ntotal)

    # -- drift: re-fit in the background -------------------------------------------------------
    def needs_refit(self) -> bool:
        if not self.is_trained or self.rebuilder.running or self.ntotal < self.refit_min:
            return False
        # learned from fewer vectors than a full training sample, and the index has grown well past them
        grown = 0 < self.trained_on < TRAIN_SAMPLE and self.ntotal >= self.refit_growth * self.trained_on
        return grown or self._codes_dead_fraction() >= self.dead_limit

    def refit(self, background: bool | None = None) -> bool:
        """Re-learn the quantizers from the stored vectors and recompute every code."""
        bg = self.background if background is None else background
        return self.rebuilder.start(self.store.alive_ids, self._refitted, self._install, background=bg)

    def _refitted(self, ids: np.ndarray) -> "RerankedIndex":
        fresh = type(self)(self.dim, **self.params)
        sample = np.sort(np.random.default_rng(0).choice(ids, min(len(ids), TRAIN_SAMPLE), replace=False))
        with self.rebuilder.lock:
            x = self.store.rows(sample)
        fresh.train(x)
        for s in range(0, len(ids), CHUNK):
            with self.rebuilder.lock:  # adds may move the store's rows
                rows = self.store.rows(ids[s:s + CHUNK])
            fresh._codes_add(rows, ids[s:s + CHUNK])
        return fresh

    def _install(self, fresh: "RerankedIndex", journal) -> None:
        for op, args in journal:
            if op == "add":
                fresh._codes_add(*args)
            else:
                fresh._codes_remove(args[0])
        for name in self._code_fields:
            setattr(self, name, getattr(fresh, name))

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path) -> None:
        """The float16 vectors first (atomic), then the codes (atomic); a crash in between leaves a
        generation mismatch that makes the library rebuild the index from the catalog."""
        self.rebuilder.wait()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.rebuilder.lock:
            self.store.save(Path(str(path) + ".f16.npy"))
            super().save(path)

    def _write(self, fh: BinaryIO) -> None:
        arrays, meta = self._codes_dump()
        meta |= {"dim": self.dim, "params": self.params, "trained_on": self.trained_on}
        np.savez(fh, ids=self.store.ids, alive=self.store.alive,
                 meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)

    @classmethod
    def _read(cls, fh: BinaryIO, path: Path, header: dict | None) -> "RerankedIndex":
        with np.load(fh) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            index = cls(meta["dim"], **meta["params"])
            index.trained_on = meta["trained_on"]
            index._codes_load({k: z[k] for k in z.files if k not in ("ids", "alive", "meta")}, meta)
            index.store = RerankStore.load(Path(str(path) + ".f16.npy"), index.dim, z["ids"], z["alive"])
        return index
