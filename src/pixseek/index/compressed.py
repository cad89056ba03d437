"""Compressed indexes with an exact re-rank: IVF-PQ (+OPQ) and binary hash codes (Hamming search).

Both keep only compact codes in RAM, shortlist ``k * shortlist`` candidates, and rescore them from
float16 vectors memory-mapped from disk (:class:`RerankStore`). Both support ``remove`` natively
(IVF lists), so deletes and adds never need a rebuild; ``train`` learns the quantizers.
"""
from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np

from pixseek.hashing import BinaryCoder, create_coder, load_coder
from pixseek.index.base import VectorIndex, as_ids, as_matrix
from pixseek.index.factory import register_index
from pixseek.index.flat import single_thread_for_small
from pixseek.index.rerank import RerankStore


class RerankedIndex(VectorIndex):
    shortlist: int = 10

    def __init__(self, dim: int):
        self.dim = dim
        self.store = RerankStore(dim)

    # subclasses: _codes_add, _codes_search, _codes_remove, _codes_ntotal, _codes_bytes, _codes_dump/_load
    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        vectors, ids = as_matrix(vectors, self.dim), as_ids(ids)
        if len(ids):
            self._codes_add(vectors, ids)
            self.store.add(vectors, ids)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = as_matrix(queries, self.dim)
        k = max(1, int(k))
        if self.ntotal == 0:
            return (np.full((len(queries), k), -np.inf, np.float32), np.full((len(queries), k), -1, np.int64))
        with single_thread_for_small(len(queries)):
            cand = self._codes_search(queries, max(k * self.shortlist, k))
        return self.store.rescore(queries, cand, k)

    def remove(self, ids: np.ndarray) -> int:
        ids = as_ids(ids)
        if len(ids) == 0:
            return 0
        n = self._codes_remove(ids)
        self.store.remove(ids)
        return n

    @property
    def ntotal(self) -> int:
        return self._codes_ntotal()

    def bytes_per_vector_ram(self) -> float:
        n = max(1, self.ntotal)
        return (self._codes_bytes() + self.store.nbytes_ram) / n

    def save(self, path) -> None:
        """The float16 vectors first (atomic), then the codes (atomic); a crash in between leaves a
        generation mismatch that makes the library rebuild the index from the catalog."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.store.save(Path(str(path) + ".f16.npy"))
        super().save(path)

    def _write(self, path: Path) -> None:
        payload, meta = self._codes_dump()
        with open(path, "wb") as fh:
            np.savez(fh, payload=payload, ids=self.store.ids, alive=self.store.alive,
                     meta=np.frombuffer(json.dumps(meta).encode(), np.uint8))

    @classmethod
    def _read(cls, path: Path) -> "RerankedIndex":
        with np.load(path) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            index = cls._codes_load(z["payload"], meta)
            index.store = RerankStore.load(Path(str(path) + ".f16.npy"), index.dim, z["ids"], z["alive"])
        return index


@register_index("ivfpq")
class IVFPQIndex(RerankedIndex):
    """IVF coarse quantizer + PQ codes (``m`` bytes per vector; optional OPQ rotation), exact re-rank."""

    def __init__(self, dim: int, m: int = 40, nlist: int | None = None, nprobe: int = 16, shortlist: int = 10,
                 opq: bool = False, train_iters: int = 10):
        super().__init__(dim)
        if dim % m:
            raise ValueError(f"PQ needs dim ({dim}) to be a multiple of m ({m})")
        self.m, self.nlist, self.nprobe, self.shortlist, self.opq = m, nlist, nprobe, shortlist, opq
        self.train_iters = train_iters
        self._index = None

    @property
    def is_trained(self) -> bool:
        return self._index is not None and self._index.is_trained

    def train(self, vectors: np.ndarray) -> None:
        vectors = as_matrix(vectors, self.dim)
        nlist = self.nlist or int(max(16, min(65536, 4 * np.sqrt(len(vectors)))))
        nlist = min(nlist, max(1, len(vectors) // 39))
        desc = (f"OPQ{self.m}," if self.opq else "") + f"IVF{nlist},PQ{self.m}"
        self._index = faiss.index_factory(self.dim, desc, faiss.METRIC_INNER_PRODUCT)
        ivf = faiss.downcast_index(faiss.extract_index_ivf(self._index))
        # FAISS's factory turns on polysemous training (a slow annealing we never use: re-ranking
        # is exact) and 25 k-means iterations; together they made training ~15x slower here.
        ivf.do_polysemous_training = False
        ivf.pq.cp.niter = self.train_iters
        ivf.cp.niter = self.train_iters
        if self.opq:
            opq = faiss.downcast_VectorTransform(self._index.chain.at(0))
            opq.niter, opq.niter_pq = self.train_iters, 4
        self._index.train(vectors)
        faiss.extract_index_ivf(self._index).nprobe = self.nprobe
        self.nlist = nlist

    def _codes_add(self, vectors, ids):
        if not self.is_trained:
            raise RuntimeError("train the IVF-PQ index before adding vectors")
        self._index.add_with_ids(vectors, ids)

    def _codes_search(self, queries, k):
        return self._index.search(queries, k)[1]

    def _codes_remove(self, ids):
        return int(self._index.remove_ids(faiss.IDSelectorBatch(ids))) if self._index is not None else 0

    def _codes_ntotal(self):
        return int(self._index.ntotal) if self._index is not None else 0

    def _codes_bytes(self):
        ivf = faiss.extract_index_ivf(self._index)
        return self._index.ntotal * (ivf.code_size + 8)  # codes + inverted-list ids

    def _codes_dump(self):
        return faiss.serialize_index(self._index), {"dim": self.dim, "m": self.m, "nlist": self.nlist,
                                                    "nprobe": self.nprobe, "shortlist": self.shortlist, "opq": self.opq}

    @classmethod
    def _codes_load(cls, payload, meta):
        index = cls(meta["dim"], m=meta["m"], nlist=meta["nlist"], nprobe=meta["nprobe"],
                    shortlist=meta["shortlist"], opq=meta["opq"])
        index._index = faiss.deserialize_index(payload)
        faiss.extract_index_ivf(index._index).nprobe = index.nprobe
        return index


@register_index("binary")
class BinaryIndex(RerankedIndex):
    """Binary hash codes (``bits``; ITQ by default, or LSH) in a FAISS binary IVF with Hamming search."""

    def __init__(self, dim: int, bits: int = 256, coder: str = "itq", nlist: int | None = None, nprobe: int = 16,
                 shortlist: int = 20):
        super().__init__(dim)
        self.bits, self.coder_name, self.nlist, self.nprobe, self.shortlist = bits, coder, nlist, nprobe, shortlist
        self.coder: BinaryCoder | None = None
        self._index = None

    @property
    def is_trained(self) -> bool:
        return self._index is not None

    def train(self, vectors: np.ndarray) -> None:
        vectors = as_matrix(vectors, self.dim)
        self.coder = create_coder(self.coder_name, self.dim, self.bits)
        self.coder.train(vectors)
        codes = self.coder.encode(vectors)
        nlist = self.nlist or int(max(4, min(16384, 2 * np.sqrt(len(vectors)))))
        nlist = min(nlist, max(1, len(vectors) // 39))
        quantizer = faiss.IndexBinaryFlat(self.bits)
        self._index = faiss.IndexBinaryIVF(quantizer, self.bits, nlist)
        self._index.own_fields = True
        quantizer.this.disown()
        self._index.train(codes)
        self._index.nprobe = self.nprobe
        self.nlist = nlist

    def _codes_add(self, vectors, ids):
        if not self.is_trained:
            raise RuntimeError("train the binary index before adding vectors")
        self._index.add_with_ids(self.coder.encode(vectors), ids)

    def _codes_search(self, queries, k):
        return self._index.search(self.coder.encode(queries), k)[1]

    def _codes_remove(self, ids):
        return int(self._index.remove_ids(faiss.IDSelectorBatch(ids))) if self._index is not None else 0

    def _codes_ntotal(self):
        return int(self._index.ntotal) if self._index is not None else 0

    def _codes_bytes(self):
        return self._index.ntotal * (self.bits // 8 + 8)

    def _codes_dump(self):
        payload = faiss.serialize_index_binary(self._index)
        return payload, {"dim": self.dim, "bits": self.bits, "coder": self.coder.dump(), "coder_name": self.coder_name,
                         "nlist": self.nlist, "nprobe": self.nprobe, "shortlist": self.shortlist}

    @classmethod
    def _codes_load(cls, payload, meta):
        index = cls(meta["dim"], bits=meta["bits"], coder=meta["coder_name"], nlist=meta["nlist"],
                    nprobe=meta["nprobe"], shortlist=meta["shortlist"])
        index.coder = load_coder(meta["coder"])
        index._index = faiss.deserialize_index_binary(payload)
        index._index.nprobe = index.nprobe
        return index
