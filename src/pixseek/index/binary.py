"""Binary hash codes with Hamming search and an exact float16 re-rank.

The coder (:mod:`pixseek.hashing`: ITQ by default, random-hyperplane LSH, or a trained deep-hash
``.hash`` file) turns each vector into ``bits`` sign bits. The codes live in a FAISS binary index:

- ``structure="ivf"`` (default): ``IndexBinaryIVF`` (Hamming k-means lists, ``nprobe`` visited);
  ids and deletions are native;
- ``structure="hnsw"``: ``IndexBinaryHNSW``; removed nodes are tombstoned like the float HNSW
  (:class:`~pixseek.index.hnsw.Tombstones`) and the graph is rebuilt in the background once a
  quarter of it is dead.

RAM per vector: ``bits / 8`` bytes of code + 8 bytes of id; the float16 vectors stay on disk.
"""
from __future__ import annotations

import json

import faiss
import numpy as np

from pixseek.hashing import BinaryCoder, create_coder, load_coder
from pixseek.index.base import as_matrix
from pixseek.index.factory import register_index
from pixseek.index.hnsw import Tombstones, search_with
from pixseek.index.rerank import RerankedIndex

STRUCTURES = ("ivf", "hnsw")


@register_index("binary")
class BinaryIndex(RerankedIndex):
    _code_fields = ("_index", "trained_on", "coder", "lists", "_tomb")
    search_params = ("nprobe", "ef_search", "shortlist")
    aliases = {"ef": "ef_search"}

    def __init__(self, dim: int, bits: int = 256, coder: str = "itq", structure: str = "ivf",
                 nlist: int | None = None, nprobe: int = 16, M: int = 32, ef_search: int = 128,
                 shortlist: int = 20):
        super().__init__(dim)
        if structure not in STRUCTURES:
            raise ValueError(f"unknown binary index structure {structure!r}; one of {', '.join(STRUCTURES)}")
        self.bits, self.coder_name, self.structure = bits, coder, structure
        self.nlist, self.nprobe, self.M, self.ef_search, self.shortlist = nlist, nprobe, M, ef_search, shortlist
        self.coder: BinaryCoder | None = None
        self.lists = 0
        self._index = None
        self._tomb: Tombstones | None = None

    @property
    def params(self) -> dict:
        return {"bits": self.bits, "coder": self.coder_name, "structure": self.structure, "nlist": self.nlist,
                "nprobe": self.nprobe, "M": self.M, "ef_search": self.ef_search, "shortlist": self.shortlist}

    @property
    def is_trained(self) -> bool:
        return self._index is not None

    def train(self, vectors: np.ndarray) -> None:
        vectors = as_matrix(vectors, self.dim)
        coder = create_coder(self.coder_name, self.dim, self.bits)
        coder.train(vectors)
        self.bits = coder.bits  # a trained deep-hash file fixes its own length
        if self.structure == "hnsw":
            index, lists = faiss.IndexBinaryHNSW(self.bits, self.M), 0
            index.hnsw.efSearch = self.ef_search
            self._tomb = Tombstones()
        else:
            lists = self.nlist or int(max(4, min(16384, 2 * np.sqrt(len(vectors)))))
            lists = max(1, min(lists, len(vectors) // 39))
            quantizer = faiss.IndexBinaryFlat(self.bits)
            index = faiss.IndexBinaryIVF(quantizer, self.bits, lists)
            index.own_fields = True
            quantizer.this.disown()
            index.train(coder.encode(vectors))
            index.nprobe = self.nprobe
        self.coder, self._index, self.lists, self.trained_on = coder, index, lists, len(vectors)

    def _set_search(self, nprobe: int | None = None, ef_search: int | None = None, shortlist: int | None = None) -> None:
        """Search-time settings; no rebuild."""
        if nprobe is not None:
            self.nprobe = int(nprobe)
            if self._index is not None and self._tomb is None:
                self._index.nprobe = self.nprobe
        if ef_search is not None:
            self.ef_search = int(ef_search)
            if self._index is not None and self._tomb is not None:
                self._index.hnsw.efSearch = self.ef_search
        if shortlist is not None:
            self.shortlist = int(shortlist)

    def _codes_add(self, vectors, ids):
        if not self.is_trained:
            raise RuntimeError("train the binary index before adding vectors")
        codes = self.coder.encode(vectors)
        if self._tomb is not None:
            self._index.add(codes)
            self._tomb.append(ids)
        else:
            self._index.add_with_ids(codes, ids)

    def _codes_search(self, queries, k):
        codes = self.coder.encode(queries)
        if self._tomb is None:
            return self._index.search(codes, k)[1]
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(self.ef_search, k)
        sel = self._tomb.selector()
        if sel is not None:
            params.sel = sel
        return self._tomb.to_ids(search_with(self._index, codes, k, params)[1])

    def _codes_remove(self, ids):
        if self._index is None:
            return 0
        if self._tomb is not None:
            return self._tomb.kill(ids)
        return int(self._index.remove_ids(faiss.IDSelectorBatch(ids)))

    def _codes_ntotal(self):
        if self._index is None:
            return 0
        return self._tomb.live if self._tomb is not None else int(self._index.ntotal)

    def _codes_dead_fraction(self) -> float:
        return self._tomb.dead / max(1, self._tomb.n) if self._tomb is not None else 0.0

    def _codes_bytes(self):
        if self._index is None:
            return 0
        coder = sum(v.nbytes for v in vars(self.coder).values() if isinstance(v, np.ndarray))
        labels = self._tomb.nbytes() if self._tomb is not None else 0
        return len(faiss.serialize_index_binary(self._index)) + coder + labels  # codes, ids/links, centroids

    def _codes_dump(self):
        arrays = {"faiss": faiss.serialize_index_binary(self._index),
                  "coder": np.frombuffer(json.dumps(self.coder.dump()).encode(), np.uint8)}
        if self._tomb is not None:
            arrays["labels"] = self._tomb.labels
        return arrays, {"lists": self.lists}

    def _codes_load(self, arrays, meta):
        self.coder = load_coder(json.loads(bytes(arrays["coder"]).decode()))
        self._index = faiss.deserialize_index_binary(arrays["faiss"])
        self.lists = meta["lists"]
        if self.structure == "hnsw":
            self._tomb = Tombstones(arrays["labels"])
            self._index.hnsw.efSearch = self.ef_search
        else:
            self._index.nprobe = self.nprobe
