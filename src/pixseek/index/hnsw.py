"""HNSW graph index (FAISS ``IndexHNSWFlat``, inner product) with deletions.

FAISS HNSW cannot remove nodes, so removed ids go to a deletion set that searches filter out
(an ``IDSelectorNot`` passed as search parameters); once a quarter of the graph is dead the
graph is rebuilt from its own stored vectors (no catalog round trip).
"""
from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from pixseek.index.base import as_ids, as_matrix
from pixseek.index.factory import register_index
from pixseek.index.flat import FaissIndex, single_thread_for_small

COMPACT_AT = 0.25


@register_index("hnsw")
class HNSWIndex(FaissIndex):
    def __init__(self, dim: int, faiss_index=None, M: int = 32, ef_construction: int = 80, ef_search: int = 64,
                 deleted: np.ndarray | None = None):
        self.M, self.ef_construction, self.ef_search = M, ef_construction, ef_search
        super().__init__(dim, faiss_index)
        self._hnsw().efSearch = ef_search
        self._deleted: set[int] = set(int(i) for i in (deleted if deleted is not None else []))

    def _build(self, dim: int):
        inner = faiss.IndexHNSWFlat(dim, self.M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = self.ef_construction
        return faiss.IndexIDMap2(inner)

    def _hnsw(self):
        return faiss.downcast_index(self._index.index).hnsw

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal) - len(self._deleted)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        ids = as_ids(ids)
        back = self._deleted.intersection(ids.tolist())
        if back:  # an id that comes back replaces the dead node: compact first so it is not filtered
            self._compact()
        super().add(vectors, ids)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = as_matrix(queries, self.dim)
        k = max(1, int(k))
        if self.ntotal <= 0:
            return (np.full((len(queries), k), -np.inf, np.float32), np.full((len(queries), k), -1, np.int64))
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(self.ef_search, k)
        if self._deleted:
            self._sel_batch = faiss.IDSelectorBatch(np.fromiter(self._deleted, np.int64, len(self._deleted)))
            self._sel = faiss.IDSelectorNot(self._sel_batch)
            params.sel = self._sel
        with single_thread_for_small(len(queries)):
            return self._index.search(queries, k, params=params)

    def remove(self, ids: np.ndarray) -> int:
        ids = as_ids(ids)
        present = set(faiss.vector_to_array(self._index.id_map).tolist())
        new = {int(i) for i in ids if int(i) in present and int(i) not in self._deleted}
        self._deleted |= new
        if self._deleted and len(self._deleted) >= COMPACT_AT * self._index.ntotal:
            self._compact()
        return len(new)

    def _compact(self) -> None:
        """Rebuild the graph without the deleted nodes, from the vectors the index stores."""
        n = int(self._index.ntotal)
        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        vecs = self._index.index.reconstruct_n(0, n) if n else np.zeros((0, self.dim), np.float32)
        keep = ~np.isin(ids, np.fromiter(self._deleted, np.int64, len(self._deleted)))
        self._index = self._build(self.dim)
        self._hnsw().efSearch = self.ef_search
        self._deleted = set()
        if keep.any():
            self._index.add_with_ids(np.ascontiguousarray(vecs[keep]), ids[keep])

    def _write(self, path: Path) -> None:
        buf = faiss.serialize_index(self._index)
        with open(path, "wb") as fh:
            np.savez(fh, index=buf, deleted=np.fromiter(self._deleted, np.int64, len(self._deleted)),
                     params=np.array([self.M, self.ef_construction, self.ef_search], np.int64))

    @classmethod
    def _read(cls, path: Path) -> "HNSWIndex":
        with np.load(path) as z:
            raw = faiss.deserialize_index(z["index"])
            M, efc, efs = (int(v) for v in z["params"])
            return cls(raw.d, faiss_index=raw, M=M, ef_construction=efc, ef_search=efs, deleted=z["deleted"])


