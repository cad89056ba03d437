"""Vector database backends behind the index seam: the vectors live in a server, the SQLite
catalog keeps everything else (paths, hashes, tags) and stays the source of truth.

A backend is chosen by URL (``pixseek index DIR --backend milvus://127.0.0.1:19530``) and is an
ordinary :class:`~pixseek.index.VectorIndex` kind (``milvus``), registered in the index factory
when its module is imported (pymilvus itself is only loaded when a backend is used).

Consistency after a crash: the catalog commits a batch before the backend sees it, and the
library's saved generation says whether the backend was in step at the last clean save. When the
generation differs, or the backend's row count differs from the catalog's (server lost data, or
the library was pointed at another server), the library calls ``fill`` with every catalog vector
and the backend *reconciles*: it lists the ids it holds, uploads only the missing ones and
deletes the ones the catalog no longer has. Vector ids are never reused by the catalog, so an id
present on both sides always holds the same vector.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from pixseek.backends.common import fresh_name  # noqa: F401  (re-exported)
from pixseek.errors import BackendError

# Backend modules, loaded when a backend is used (each registers its index kind in the factory);
# they import pixseek.backends.common, never this package.
MODULES = {"milvus": "pixseek.backends.milvus"}
SCHEMES = {"milvus": "milvus"}


@dataclass(frozen=True)
class BackendSpec:
    """What a backend URL means: the index kind and the parameters ``create_index`` gets."""

    kind: str
    params: dict = field(default_factory=dict)


def is_backend(kind: str | None) -> bool:
    return kind in MODULES


def ensure_registered(kind: str) -> None:
    """Import the backend's module so that its index kind is in the factory."""
    if kind in MODULES:
        importlib.import_module(MODULES[kind])


def _number(text: str):
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def parse_backend(url: str, stored: dict | None = None) -> BackendSpec:
    """``milvus://host:port[/collection][?index=HNSW&M=32&efConstruction=200&ef=128]``.

    Without a collection name, the one in ``stored`` (the catalog's saved parameters) is
    kept when it points at the same server; otherwise a fresh ``pixseek_<random>`` name is made,
    so two catalogs never share one collection by accident.
    """
    parts = urlsplit(url)
    kind = SCHEMES.get(parts.scheme.lower())
    if kind is None:
        raise BackendError(url, f"unknown backend scheme '{parts.scheme}'; use milvus://")
    if not parts.hostname:
        raise BackendError(url, "no host in the backend URL")
    query = {k: _number(v) for k, v in parse_qsl(parts.query)}
    module = importlib.import_module(MODULES[kind])
    return BackendSpec(kind, module.params_from_url(url, parts, query, stored or {}))


def sync_with_catalog(library) -> bool:
    """Bring a backend-held index in step with the catalog when it is not (see module doc).

    Returns whether a reconciliation ran. The library's own generation check already covers a
    crash between catalog and index; this adds the checks only a server needs: same server and
    collection and parameters as asked, and as many rows as the catalog has vectors.
    """
    index = library.index
    if not is_backend(index.kind):
        return False
    if index.params == library.index_params and index.ntotal == library.catalog.count_vectors():
        return False
    library.rebuild_index()
    library.save()
    return True
