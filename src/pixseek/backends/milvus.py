"""Milvus backend (pymilvus): one collection ``(id INT64 primary key, vec FLOAT_VECTOR)`` per
library, inner-product metric, the index type and its parameters passed through.

``milvus://host:port[/collection]?index=HNSW&M=32&efConstruction=200&ef=128`` — build
parameters (``M``, ``efConstruction``, ``nlist``, ``m``, ``nbits``...) go to ``create_index``,
search parameters (``ef``, ``nprobe``...) to every search; ``consistency=`` sets the level of
searches (default ``Bounded``; the first search after a write of this process is ``Strong``,
so a process always reads its own writes). Writes are upserts keyed by the catalog's vector id,
so writing a batch twice leaves one row per id.

The file the library saves beside the catalog (``<db>.index``) is the index header alone
(``pixseek-index/1``: kind, dimension, where the collection is and with which parameters); the
vectors themselves stay in Milvus.
"""
from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlencode, urlsplit

import numpy as np

from pixseek._extras import require
from pixseek.backends.common import fresh_name
from pixseek.errors import BackendError
from pixseek.index.base import VectorIndex, as_ids, as_matrix
from pixseek.index.factory import register_index

DEFAULT_BUILD = {"HNSW": {"M": 32, "efConstruction": 80}, "IVF_FLAT": {"nlist": 1024}, "IVF_SQ8": {"nlist": 1024},
                 "IVF_PQ": {"nlist": 1024, "m": 16, "nbits": 8}, "FLAT": {}}
DEFAULT_SEARCH = {"HNSW": {"ef": 64}, "IVF_FLAT": {"nprobe": 16}, "IVF_SQ8": {"nprobe": 16},
                  "IVF_PQ": {"nprobe": 16}, "FLAT": {}}
SEARCH_KEYS = {"ef", "nprobe", "search_k", "reorder_k", "level", "radius", "range_filter"}
QUERY_WINDOW = 16_384  # Milvus's maxQueryResultWindow: most rows one query returns
UPLOAD_ROWS = 2_000  # rows per upsert (1280-d float32: 10 MB, well under gRPC's 64 MB)
TIMEOUT = 60.0
UNINDEXED_ROWS = 1024  # Milvus's indexCoord.segment.minSegmentNumRowsToEnableIndex: smaller segments get no index
CONNECT_TIMEOUT = 10.0


def params_from_url(url: str, parts, query: dict, stored: dict) -> dict:
    """``milvus://host:port[/collection]?...`` -> the keyword arguments of :class:`MilvusIndex`."""
    uri = f"http://{parts.hostname}:{parts.port or 19530}"
    collection = parts.path.strip("/") or (stored.get("collection") if stored.get("uri") == uri else None) or fresh_name()
    index_type = str(query.pop("index", "HNSW")).upper()
    if index_type not in DEFAULT_BUILD:
        raise BackendError(url, f"unsupported Milvus index type '{index_type}'; use one of {', '.join(DEFAULT_BUILD)}")
    consistency = str(query.pop("consistency", "Bounded")).capitalize()
    build = {k: v for k, v in query.items() if k not in SEARCH_KEYS}
    search = {k: v for k, v in query.items() if k in SEARCH_KEYS}
    return {"uri": uri, "collection": collection, "index_type": index_type, "build": build, "search": search,
            "consistency": consistency}


@register_index("milvus")
class MilvusIndex(VectorIndex):
    """A Milvus collection behind the :class:`~pixseek.index.VectorIndex` seam."""

    search_params = tuple(sorted(SEARCH_KEYS))

    def __init__(self, dim: int, uri: str = "http://127.0.0.1:19530", collection: str | None = None,
                 index_type: str = "HNSW", build: dict | None = None, search: dict | None = None,
                 consistency: str = "Bounded"):
        connections = require("scale", "pymilvus", feature="the Milvus backend").connections

        self.dim = dim
        self._params = {"uri": uri, "collection": collection or fresh_name(), "index_type": index_type.upper(),
                       "build": dict(build or {}), "search": dict(search or {}), "consistency": consistency}
        self.url = f"milvus://{uri.split('://', 1)[-1]}/{self._params['collection']}"
        self.index_type = self._params["index_type"]
        self.build_params = DEFAULT_BUILD.get(self.index_type, {}) | self._params["build"]
        self.search_settings = DEFAULT_SEARCH.get(self.index_type, {}) | self._params["search"]
        self._alias = f"pixseek:{uri}"
        self._dirty = False
        with self._calls("cannot connect"):
            if not connections.has_connection(self._alias):
                self._probe(uri)
                connections.connect(self._alias, uri=uri, timeout=CONNECT_TIMEOUT)
            self._coll = self._open_collection()

    # -- plumbing -------------------------------------------------------------------------------
    def _probe(self, uri: str) -> None:
        """Fail fast with the reason (refused, unknown host) instead of a gRPC wait for a channel."""
        parts = urlsplit(uri)
        try:
            socket.create_connection((parts.hostname, parts.port or 19530), timeout=CONNECT_TIMEOUT).close()
        except OSError as exc:
            raise BackendError(self.url, f"cannot connect ({exc.strerror or exc})") from exc

    @contextmanager
    def _calls(self, what: str):
        from pymilvus import MilvusException

        try:
            yield
        except MilvusException as exc:
            raise BackendError(self.url, f"{what}: {exc.message if hasattr(exc, 'message') else exc}") from exc

    def _open_collection(self):
        from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, utility

        name = self._params["collection"]
        index = {"index_type": self.index_type, "metric_type": "IP", "params": self.build_params}
        if utility.has_collection(name, using=self._alias, timeout=TIMEOUT):
            coll = Collection(name, using=self._alias)
            vec = next((f for f in coll.schema.fields if f.name == "vec"), None)
            if vec is None or int(vec.params.get("dim", -1)) != self.dim:
                raise BackendError(self.url, f"collection exists with another layout than (id, vec[{self.dim}]); "
                                             "name another collection in the URL")
            if not self._same_index(coll, index):  # other index type or build parameters: rebuild the index
                coll.release(timeout=TIMEOUT)
                coll.drop_index(timeout=TIMEOUT)
                coll.create_index("vec", index, timeout=TIMEOUT)
        else:
            schema = CollectionSchema([FieldSchema("id", DataType.INT64, is_primary=True, auto_id=False),
                                       FieldSchema("vec", DataType.FLOAT_VECTOR, dim=self.dim)],
                                      description="pixseek vectors; metadata in the pixseek catalog")
            coll = Collection(name, schema, using=self._alias, consistency_level="Bounded", timeout=TIMEOUT)
            coll.create_index("vec", index, timeout=TIMEOUT)
        coll.load(timeout=TIMEOUT)
        return coll

    @staticmethod
    def _same_index(coll, want: dict) -> bool:
        if not coll.indexes:
            return False
        have = coll.indexes[0].params
        inner = have.get("params", {})
        if isinstance(inner, str):
            inner = json.loads(inner)
        return (have.get("index_type") == want["index_type"] and have.get("metric_type") == "IP"
                and {k: str(v) for k, v in inner.items()} == {k: str(v) for k, v in want["params"].items()})

    def _consistency(self) -> str:
        if self._dirty:
            self._dirty = False
            return "Strong"
        return self._params["consistency"]

    @property
    def params(self) -> dict:
        return self._params

    @property
    def spec(self) -> str:
        """The backend URL that builds this index again (what ``--backend`` takes)."""
        query = {"index": self.index_type} | self._params["build"] | self._params["search"]
        if self._params["consistency"] != "Bounded":
            query["consistency"] = self._params["consistency"]
        return f"{self.url}?{urlencode(query)}"

    def bytes_per_vector_ram(self) -> float:
        return 0.0  # the vectors live in the Milvus server

    def _set_search(self, **search) -> None:
        """Search-time parameters (``ef``, ``nprobe``...) for this process."""
        self.search_settings = self.search_settings | search

    def wait_indexed(self, timeout: float = 1800, compact: bool = True) -> None:
        """After a bulk load: seal what was written, merge the small segments (``compact``), wait
        until Milvus has built the index over them *and* the query node serves the indexed, merged
        segments. Until then a search pays for it: a loaded segment without its index is scanned
        (or searched through Milvus's interim IVF), and every extra segment is one more graph
        search per query (100k 1280-d rows land in 4 segments of ~25k before compaction)."""
        from pymilvus import utility

        name, deadline = self._params["collection"], time.monotonic() + timeout
        with self._calls("index build failed"):
            self._coll.flush(timeout=TIMEOUT)
            merged: set[int] = set()
            if compact:  # Milvus 2.3 compacts only segments whose index is built: build, merge, build again
                utility.wait_for_index_building_complete(name, using=self._alias, timeout=timeout)
                self._coll.compact(timeout=TIMEOUT)
                self._coll.wait_for_compaction_completed(timeout=max(1.0, deadline - time.monotonic()))
                plans = self._coll.get_compaction_plans(timeout=TIMEOUT).plans
                merged = {s for p in plans for s in p.sources} - {p.target for p in plans}
            utility.wait_for_index_building_complete(name, using=self._alias,
                                                     timeout=max(1.0, deadline - time.monotonic()))
            total = self.ntotal
            while True:  # every row in a served segment (deleted rows count there too), each indexed
                served = utility.get_query_segment_info(name, timeout=TIMEOUT, using=self._alias)
                if (sum(s.num_rows for s in served) >= total and all(s.index_name or s.num_rows < UNINDEXED_ROWS for s in served)
                        and not merged & {s.segmentID for s in served}):
                    return
                if time.monotonic() > deadline:
                    raise BackendError(self.url, f"the query node still serves unindexed or pre-compaction "
                                                 f"segments after {timeout:.0f} s")
                time.sleep(1.0)

    # -- the seam -------------------------------------------------------------------------------
    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        vectors, ids = as_matrix(vectors, self.dim), as_ids(ids)
        if len(vectors) != len(ids):
            raise ValueError(f"{len(vectors)} vectors but {len(ids)} ids")
        with self._calls("upsert failed"):
            for start in range(0, len(ids), UPLOAD_ROWS):
                part = slice(start, start + UPLOAD_ROWS)
                self._coll.upsert([ids[part].tolist(), vectors[part]], timeout=TIMEOUT)
        self._dirty = self._dirty or len(ids) > 0

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = as_matrix(queries, self.dim)
        k = max(1, int(k))
        scores = np.full((len(queries), k), -np.inf, np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        params = dict(self.search_settings)
        if "ef" in params:
            params["ef"] = max(int(params["ef"]), k)  # Milvus refuses ef < k
        with self._calls("search failed"):
            result = self._coll.search(list(queries), "vec", {"metric_type": "IP", "params": params}, limit=k,
                                       consistency_level=self._consistency(), timeout=TIMEOUT)
        for row, hits in enumerate(result):
            got = np.asarray(hits.ids, np.int64)
            ids[row, :len(got)] = got
            scores[row, :len(got)] = hits.distances
        return scores, ids

    def remove(self, ids: np.ndarray) -> int:
        ids = as_ids(ids)
        held = self._held(ids)
        with self._calls("delete failed"):
            for start in range(0, len(held), QUERY_WINDOW):
                self._coll.delete(f"id in {held[start:start + QUERY_WINDOW].tolist()}", timeout=TIMEOUT)
        self._dirty = self._dirty or len(held) > 0
        return len(held)

    def _held(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` the collection holds (strongly consistent)."""
        out = []
        with self._calls("query failed"):
            for start in range(0, len(ids), QUERY_WINDOW):
                rows = self._coll.query(f"id in {ids[start:start + QUERY_WINDOW].tolist()}", output_fields=["id"],
                                        consistency_level="Strong", timeout=TIMEOUT)
                out += [r["id"] for r in rows]
        return np.asarray(sorted(out), np.int64)

    @property
    def ntotal(self) -> int:
        with self._calls("count failed"):
            rows = self._coll.query("", output_fields=["count(*)"], consistency_level="Strong", timeout=TIMEOUT)
        self._dirty = False
        return int(rows[0]["count(*)"])

    def held_ids(self) -> np.ndarray:
        """Every id the collection holds, sorted. Pages of ``id > last`` (Milvus 2.3 returns the
        smallest primary keys first, which pymilvus's own query iterator relies on too); the total is
        checked against ``count(*)`` so a server that paged otherwise is an error, not a silent gap."""
        total, found, last = self.ntotal, [], -1  # catalog ids are positive
        with self._calls("query failed"):
            while True:
                rows = self._coll.query(f"id > {last}", output_fields=["id"], limit=QUERY_WINDOW,
                                        consistency_level="Strong", timeout=TIMEOUT)
                if not rows:
                    break
                page = np.fromiter((r["id"] for r in rows), np.int64, len(rows))
                found.append(page)
                last = int(page.max())
        ids = np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)
        if len(ids) != total:
            raise BackendError(self.url, f"listed {len(ids)} ids but the collection counts {total}")
        return ids

    def fill(self, batches: Iterable[tuple[np.ndarray, np.ndarray]]) -> None:
        """Reconcile with the catalog's vectors (see :mod:`pixseek.backends`): upload the ids the
        collection lacks, delete the ids the catalog no longer has; ids on both sides are left alone."""
        held = self.held_ids()
        wanted = []
        for ids, vecs in batches:
            ids = as_ids(ids)
            wanted.append(ids)
            missing = ~np.isin(ids, held, assume_unique=True)
            if missing.any():
                self.add(vecs[missing], ids[missing])
        wanted_all = np.concatenate(wanted) if wanted else np.zeros(0, np.int64)
        stale = held[~np.isin(held, wanted_all, assume_unique=True)]
        if len(stale):
            self.remove(stale)

    def _write(self, fh: BinaryIO) -> None:
        """Make what was written durable in Milvus (flush); the header (kind, dim, params) is the
        whole manifest: the vectors stay in Milvus."""
        with self._calls("flush failed"):
            self._coll.flush(timeout=TIMEOUT)

    @classmethod
    def _read(cls, fh: BinaryIO, path: Path, header: dict | None) -> "MilvusIndex":
        manifest = header if header is not None else json.loads(fh.read())  # before headers: a JSON manifest
        return cls(int(manifest["dim"]), **manifest["params"])

    def drop(self) -> None:
        """Delete the whole collection (the catalog is untouched)."""
        from pymilvus import utility

        with self._calls("drop failed"):
            utility.drop_collection(self._params["collection"], using=self._alias, timeout=TIMEOUT)
