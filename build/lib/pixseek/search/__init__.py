"""The search service: one :class:`Library` object, wired in one place (:func:`open_library`)."""
from pixseek.search.library import Hit, IndexReport, Library
from pixseek.search.wiring import default_db_path, encode_paths, open_library

__all__ = ["Hit", "IndexReport", "Library", "default_db_path", "encode_paths", "open_library"]
