"""The SQLite catalog: files, vectors (with the model id beside them), errors; versioned schema."""
from pixseek.store.catalog import SCHEMA_VERSION, Catalog, FileState, VectorRow

__all__ = ["SCHEMA_VERSION", "Catalog", "FileState", "VectorRow"]
