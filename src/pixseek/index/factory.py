"""Index registry: ``index_factory(spec, dim)``, ``create_index(kind, dim, **params)`` and
``load_index(path)`` (the file says its kind)."""
from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

from pixseek.errors import IndexFileError, IndexSpecError, UnknownIndexError
from pixseek.index.base import VectorIndex, read_header
from pixseek.index.spec import format_spec, parse_spec

_KINDS: dict[str, type[VectorIndex]] = {}


def register_index(kind: str) -> Callable[[type[VectorIndex]], type[VectorIndex]]:
    def deco(cls: type[VectorIndex]) -> type[VectorIndex]:
        cls.kind = kind
        _KINDS[kind] = cls
        return cls

    return deco


def list_index_kinds() -> list[str]:
    return sorted(_KINDS)


def index_class(kind: str) -> type[VectorIndex]:
    try:
        return _KINDS[kind]
    except KeyError:
        raise UnknownIndexError(kind, list(_KINDS)) from None


def create_index(kind: str, dim: int, **params) -> VectorIndex:
    """An empty index of ``kind`` (aliases such as ``ef`` accepted; unknown names are an
    :class:`~pixseek.errors.IndexSpecError`)."""
    cls = index_class(kind)
    return cls(dim, **cls.resolve_params(params))


def index_factory(spec: str, dim: int, **overrides) -> VectorIndex:
    """An empty index from a spec string: ``"flat"``, ``"hnsw,M=32,ef=64"``, ``"ivfpq,nlist=1024,m=32"``;
    ``overrides`` win over the spec's parameters."""
    kind, params = parse_spec(spec)
    cls = index_class(kind)
    return cls(dim, **(cls.resolve_params(params, spec) | cls.resolve_params(overrides, spec)))


def normalize_spec(spec: str) -> str:
    """The canonical form of a spec string (names resolved, kind checked), without building anything."""
    kind, params = parse_spec(spec)
    return format_spec(kind, index_class(kind).resolve_params(params, spec))


def load_index(path: str | Path, kind: str | None = None) -> VectorIndex:
    """Read a saved index; its header says its kind and parameters. ``kind`` is needed only for a file
    saved before headers existed (and must agree with the header otherwise). A missing, damaged or
    unreadable file is an :class:`~pixseek.errors.IndexFileError` (the catalog can rebuild it)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            header = read_header(fh)
            found = header["kind"] if header is not None else kind
            if found is None:
                raise IndexFileError(path, "not a self-describing pixseek index (no pixseek-index/1 header); "
                                           "give its kind")
            if kind is not None and found != kind:
                raise IndexFileError(path, f"holds a {found} index, not {kind}")
            cls = index_class(found)
            index = cls._read(fh, path, header)
    except (IndexFileError, UnknownIndexError):
        raise
    except FileNotFoundError:
        raise IndexFileError(path, "no such index file") from None
    except (RuntimeError, ValueError, KeyError, TypeError, EOFError, OSError, zipfile.BadZipFile) as exc:
        raise IndexFileError(path, f"damaged index file ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from exc
    if header is not None and index.dim != header.get("dim", index.dim):
        raise IndexFileError(path, f"header says {header['dim']}-d vectors, the payload holds {index.dim}-d")
    return index


__all__ = ["IndexSpecError", "create_index", "index_class", "index_factory", "list_index_kinds", "load_index",
           "normalize_spec", "register_index"]
