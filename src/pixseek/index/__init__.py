"""Vector indexes behind one faiss-like seam: add / search / remove / save / load.

Described by spec strings (``index_factory("hnsw,M=32,ef=64", dim)``), saved self-describing
(``load_index(path)`` reads the kind from the file), search-time settings through ``set_params``."""
from pixseek.index.base import VectorIndex
from pixseek.index.factory import (
    create_index,
    index_class,
    index_factory,
    list_index_kinds,
    load_index,
    normalize_spec,
    register_index,
)
from pixseek.index.spec import format_spec, parse_spec
from pixseek.index import flat as _flat  # noqa: F401  (registers "flat")
from pixseek.index import hnsw as _hnsw  # noqa: F401  (registers "hnsw")
from pixseek.index import ivfpq as _ivfpq, binary as _binary  # noqa: F401  (registers "ivfpq", "binary")

__all__ = ["VectorIndex", "create_index", "format_spec", "index_class", "index_factory", "list_index_kinds",
           "load_index", "normalize_spec", "parse_spec", "register_index"]
