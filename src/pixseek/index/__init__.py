"""Vector indexes behind one faiss-like seam: add / search / remove / save / load."""
from pixseek.index.base import VectorIndex
from pixseek.index.factory import create_index, list_index_kinds, load_index, register_index
from pixseek.index import flat as _flat  # noqa: F401  (registers "flat")

__all__ = ["VectorIndex", "create_index", "list_index_kinds", "load_index", "register_index"]
