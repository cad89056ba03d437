"""Typed errors. Every error that concerns a file names the file and the cause."""
from __future__ import annotations

from pathlib import Path


class PixseekError(Exception):
    """Base class of every error pixseek raises on purpose."""


class ImageError(PixseekError):
    """An input file could not be turned into an image."""

    kind = "image-error"

    def __init__(self, path: str | Path, cause: str):
        self.path = str(path)
        self.cause = cause
        super().__init__(f"{self.path}: {cause}")

    def to_dict(self) -> dict:
        return {"path": self.path, "error": self.kind, "cause": self.cause}


class EmptyFileError(ImageError):
    kind = "empty-file"


class NotAnImageError(ImageError):
    kind = "not-an-image"


class CorruptImageError(ImageError):
    kind = "corrupt-image"


class ImageTooLargeError(ImageError):
    """Too many pixels: a decompression bomb or simply larger than the configured limit."""

    kind = "too-large"


class UnreadableFileError(ImageError):
    kind = "unreadable"


class CorruptVideoError(ImageError):
    """A video could not be decoded (to the end): the frames before the damage may still have been used."""

    kind = "corrupt-video"


class CatalogError(PixseekError):
    """The catalog is missing, damaged or of an unknown schema."""


class CatalogNotFoundError(CatalogError):
    """A reading command was pointed at a catalog that does not exist (it is not created)."""


class ForeignCatalogError(CatalogError):
    """The file is a SQLite database of another program; it is left byte-for-byte unchanged."""


class EmptyLibraryError(CatalogError):
    """The catalog holds no images yet: nothing to search."""


class ModelMismatchError(CatalogError):
    """A catalog built with one model was opened with another."""

    def __init__(self, db: str | Path, stored: str, requested: str):
        self.db, self.stored, self.requested = str(db), stored, requested
        super().__init__(
            f"{db}: catalog was built with model '{stored}' but '{requested}' was requested; "
            f"re-index into a new catalog or pass --model {stored}"
        )


class UnknownEncoderError(PixseekError):
    def __init__(self, name: str, known: list[str]):
        self.name = name
        super().__init__(f"unknown encoder '{name}'; known: {', '.join(sorted(known))}")


class EncoderUnavailableError(PixseekError):
    """The encoder exists but cannot be loaded here (missing optional package or weights)."""


class UnknownIndexError(PixseekError):
    def __init__(self, name: str, known: list[str]):
        super().__init__(f"unknown index type '{name}'; known: {', '.join(sorted(known))}")


class DatasetError(PixseekError):
    """A labelled folder does not have the expected layout."""


class TrainedModelError(PixseekError):
    """A trained ``.model`` file is missing, damaged or of an unknown format."""

    def __init__(self, path: str | Path, cause: str):
        self.path, self.cause = str(path), cause
        super().__init__(f"{self.path}: {cause}")


class BackendError(PixseekError):
    """A vector database backend (Milvus) is unreachable, misconfigured or refused a request."""

    def __init__(self, url: str, cause: str):
        self.url, self.cause = url, cause
        super().__init__(f"{url}: {cause}")


class FeedbackError(PixseekError, ValueError):
    """Relevance-feedback marks that cannot be used: an unknown item id, too many marks, an item marked
    both like and unlike, or vectors of the wrong shape."""


class IndexSpecError(PixseekError, ValueError):
    """An index spec string (``"hnsw,M=32,ef=64"``) or index parameter that pixseek cannot build."""

    def __init__(self, spec: str, cause: str):
        self.spec, self.cause = spec, cause
        super().__init__(f"index spec '{spec}': {cause}")


class IndexFileError(PixseekError):
    """A saved index file is missing, damaged, or not one pixseek can read; the catalog can rebuild it."""

    def __init__(self, path: str | Path, cause: str):
        self.path, self.cause = str(path), cause
        super().__init__(f"{self.path}: {cause}")
