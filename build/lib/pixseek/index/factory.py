"""Index registry: ``create_index(kind, dim, **params)`` and ``load_index(path)``."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pixseek.errors import UnknownIndexError
from pixseek.index.base import VectorIndex

_KINDS: dict[str, type[VectorIndex]] = {}


def register_index(kind: str) -> Callable[[type[VectorIndex]], type[VectorIndex]]:
    def deco(cls: type[VectorIndex]) -> type[VectorIndex]:
        cls.kind = kind
        _KINDS[kind] = cls
        return cls

    return deco


def list_index_kinds() -> list[str]:
    return sorted(_KINDS)


def create_index(kind: str, dim: int, **params) -> VectorIndex:
    try:
        cls = _KINDS[kind]
    except KeyError:
        raise UnknownIndexError(kind, list(_KINDS)) from None
    return cls(dim, **params)


def load_index(path: str | Path, kind: str) -> VectorIndex:
    try:
        cls = _KINDS[kind]
    except KeyError:
        raise UnknownIndexError(kind, list(_KINDS)) from None
    return cls.load(path)
