"""The search service: one :class:`Library` object, wired in one place (:func:`open_library`)."""
from pixseek.search.filters import Filter
from pixseek.search.library import IngestStopped, Library, UnknownTagError
from pixseek.search.tags import TagPolicy
from pixseek.types import Hit, IndexReport
from pixseek.search.wiring import default_db_path, encode_paths, open_library

__all__ = ["Filter", "Hit", "IndexReport", "IngestStopped", "Library", "TagPolicy", "UnknownTagError", "default_db_path", "encode_paths", "open_library"]
