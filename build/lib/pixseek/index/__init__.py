"""Vector indexes behind one faiss-like seam: add / search / remove / save / load."""
from pixseek.index.base import VectorIndex
from pixseek.index.factory import create_index, list_index_kinds, load_index, register_index
from pixseek.index import flat as _flat  # noqa: F401  (registers "flat")
from pixseek.index import hnsw as _hnsw  # noqa: F401  (registers "hnsw")
from pixseek.index import ivfpq as _ivfpq, binary as _binary  # noqa: F401  (registers "ivfpq", "binary")

__all__ = ["VectorIndex", "create_index", "list_index_kinds", "load_index", "register_index"]
