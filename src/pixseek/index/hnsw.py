"""HNSW graph index (FAISS ``IndexHNSWFlat``, inner product) with deletions and background compaction.

FAISS HNSW cannot remove a node. A removed vector stays in the graph (it still routes searches), its
label becomes -1 and a bitmap selector over graph positions (``IDSelectorBitmap``) keeps it out of
results, so the same id can come back at once as a new node. Once ``compact_at`` (a quarter) of the
nodes are dead the graph is rebuilt without them in a background thread, from the vectors the index
itself stores (no catalog round trip); adds and removes made meanwhile are replayed onto the new
graph before it is swapped in (:mod:`pixseek.index.rebuild`). ``save`` waits for a running rebuild.
"""
from __future__ import annotations

from typing import BinaryIO

import faiss
import numpy as np

from pixseek.index.base import as_ids, as_matrix
from pixseek.index.factory import register_index
from pixseek.index.flat import FaissIndex, write_faiss
from pixseek.index.growing import GrowingArray
from pixseek.index.rebuild import BackgroundRebuild

COMPACT_AT = 0.25
CHUNK = 50_000


def search_with(index, x: np.ndarray, k: int, params):
    """``index.search(x, k, params=params)``, also after ``faiss.contrib.torch_utils`` (imported by
    pytorch-metric-learning) has replaced ``search`` with a version without ``params``; it keeps
    FAISS's own method as ``search_numpy``."""
    return getattr(index, "search_numpy", index.search)(x, k, params=params)


class Tombstones:
    """Graph position -> int64 label (-1 once removed), grown in place; the selector of live positions."""

    def __init__(self, labels: np.ndarray | None = None):
        self._labels = GrowingArray(np.int64, data=labels)
        self.dead = int((self.labels < 0).sum())
        self._sel = self._bits = None

    @property
    def labels(self) -> np.ndarray:
        return self._labels.view

    @property
    def n(self) -> int:
        return len(self._labels)

    @property
    def live(self) -> int:
        return self.n - self.dead

    def append(self, ids: np.ndarray) -> None:
        self._labels.append(ids)
        self._sel = None

    def kill(self, ids: np.ndarray) -> int:
        """Mark every live node labelled with one of ``ids`` dead; returns how many distinct ids were live."""
        ids = ids[ids >= 0]
        labels = self.labels
        hit = np.flatnonzero(np.isin(labels, ids))
        if len(hit) == 0:
            return 0
        count = len(np.unique(labels[hit]))
        labels[hit] = -1
        self.dead += len(hit)
        self._sel = None
        return count

    def selector(self):
        if self.dead == 0:
            return None
        if self._sel is None:
            self._bits = np.packbits(self.labels >= 0, bitorder="little")  # kept alive beside the selector
            self._sel = faiss.IDSelectorBitmap(self._bits)
        return self._sel

    def to_ids(self, pos: np.ndarray) -> np.ndarray:
        return np.where(pos >= 0, self.labels[np.maximum(pos, 0)], -1)

    def nbytes(self) -> int:
        return self._labels.nbytes


@register_index("hnsw")
class HNSWIndex(FaissIndex):
    """``M`` links per node (2M on level 0), ``ef_construction`` / ``ef_search`` beam widths.

    Spec: ``hnsw,M=32,efc=80,ef=64`` (``ef`` = ``ef_search``, ``efc`` = ``ef_construction``)."""

    search_params = ("ef_search",)
    aliases = {"ef": "ef_search", "efc": "ef_construction", "efConstruction": "ef_construction",
               "efSearch": "ef_search"}
    _not_params = ("self", "dim", "faiss_index", "background")  # background: how, not what

    def __init__(self, dim: int, faiss_index=None, M: int = 32, ef_construction: int = 80, ef_search: int = 64,
                 compact_at: float = COMPACT_AT, background: bool = True):
        self.M, self.ef_construction, self.ef_search = M, ef_construction, ef_search
        self.compact_at, self.background = compact_at, background
        super().__init__(dim, faiss_index)
        hnsw = self._graph(self._index).hnsw
        if faiss_index is None:
            hnsw.efSearch = ef_search
        else:  # loaded: the file's parameters
            self.M, self.ef_construction, self.ef_search = hnsw.nb_neighbors(1), hnsw.efConstruction, hnsw.efSearch
        self._set(self._index, Tombstones(faiss.vector_to_array(self._index.id_map)))
        self.rebuilder = BackgroundRebuild("hnsw-compact")

    def _build(self, dim: int):
        inner = faiss.IndexHNSWFlat(dim, self.M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = self.ef_construction
        inner.hnsw.efSearch = self.ef_search
        return faiss.IndexIDMap(inner)  # positions -> ids; no reverse map (not needed, ~40 B/vector)

    @staticmethod
    def _graph(index):
        return faiss.downcast_index(index.index)

    def _set(self, index, tomb: Tombstones) -> None:
        self._index, self._tomb = index, tomb
        self._pair = (self._graph(index), tomb)  # one attribute: a search never mixes old and new

    @property
    def ntotal(self) -> int:
        return self._tomb.live

    @property
    def params(self) -> dict:
        return {"M": self.M, "ef_construction": self.ef_construction, "ef_search": self.ef_search,
                "compact_at": self.compact_at}

    def _set_search(self, ef_search: int) -> None:
        """Beam width; no rebuild."""
        self.ef_search = int(ef_search)
        self._graph(self._index).hnsw.efSearch = self.ef_search

    @property
    def dead_fraction(self) -> float:
        return self._tomb.dead / max(1, self._tomb.n)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        vectors, ids = as_matrix(vectors, self.dim), as_ids(ids)
        with self.rebuilder.lock:
            super().add(vectors, ids)
            self._tomb.append(ids)
            self.rebuilder.record("add", vectors, ids)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = as_matrix(queries, self.dim)
        k = max(1, int(k))
        graph, tomb = self._pair
        if tomb.live <= 0:
            return (np.full((len(queries), k), -np.inf, np.float32), np.full((len(queries), k), -1, np.int64))
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(self.ef_search, k)
        sel = tomb.selector()
        if sel is not None:
            params.sel = sel
        scores, pos = search_with(graph, queries, k, params)
        return scores, tomb.to_ids(pos)

    def remove(self, ids: np.ndarray) -> int:
        ids = as_ids(ids)
        if len(ids) == 0:
            return 0
        with self.rebuilder.lock:
            n = self._tomb.kill(ids)
            self.rebuilder.record("remove", ids)
        if self._tomb.dead and self.dead_fraction >= self.compact_at:
            self.compact()
        return n

    # -- compaction ----------------------------------------------------------------------------
    def compact(self, background: bool | None = None) -> bool:
        """Rebuild the graph without its dead nodes (in a thread unless ``background=False``);
        False when a rebuild is already running."""
        bg = self.background if background is None else background
        return self.rebuilder.start(self._snapshot, self._rebuilt, self._install, background=bg)

    def _snapshot(self):
        return self._index, self._tomb.n, self._tomb.labels.copy()

    def _rebuilt(self, snap):
        old, n, labels = snap
        new = self._build(self.dim)
        for s in range(0, n, CHUNK):
            with self.rebuilder.lock:  # adds to the old graph may reallocate its storage
                rows = old.index.reconstruct_n(s, min(CHUNK, n - s))
            keep = labels[s:s + len(rows)] >= 0
            if keep.any():
                new.add_with_ids(np.ascontiguousarray(rows[keep]), labels[s:s + len(rows)][keep])
        return new

    def _install(self, new, journal) -> None:
        tomb = Tombstones(faiss.vector_to_array(new.id_map))
        for op, args in journal:
            if op == "add":
                new.add_with_ids(*args)
                tomb.append(args[1])
            else:
                tomb.kill(args[0])
        self._set(new, tomb)

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path) -> None:
        self.rebuilder.wait()
        super().save(path)

    def _write(self, fh: BinaryIO) -> None:
        with self.rebuilder.lock:
            faiss.copy_array_to_vector(self._tomb.labels, self._index.id_map)  # dead nodes saved as -1
            write_faiss(self._index, fh)

    def bytes_per_vector_ram(self) -> float:
        """Vectors + graph links + levels + the id map (FAISS's) and label copy (ours), per live vector."""
        h = self._graph(self._index).hnsw
        n = self._tomb.n
        total = n * self.dim * 4 + h.neighbors.size() * 4 + h.levels.size() * 4 + h.offsets.size() * 8
        total += n * 8 + self._tomb.nbytes()
        return total / max(1, self._tomb.live)
