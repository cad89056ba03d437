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


def _hook(module: str, name: str):
    """``module.name`` when the module is installed and defines it, else ``None``."""
    try:
        if importlib.util.find_spec(module) is None:
            return None
    except (ImportError, ValueError):
        return None
    return getattr(importlib.import_module(module), name, None)


# The seam each feature module fills, by convention (one factory per module, given the open library):
#   pixseek.text.api_text_search(library)        -> TextSearch
#   pixseek.compare.api_compare(library)         -> Compare (returns a Comparison-like object)
#   pixseek.compare.api_duplicates(library)      -> Duplicates
# A module that is absent, or that does not define its factory yet, leaves the API on its fallback.

def text_backend(library: Library) -> TextSearch | None:
    factory = _hook("pixseek.text", "api_text_search")
    return factory(library) if factory else None


def compare_backend(library: Library) -> Compare | None:
    factory = _hook("pixseek.compare", "api_compare")
    if not factory:
        return None
    inner = factory(library)

    def compare(a: Image.Image, b: Image.Image) -> Comparison:
        r = inner(a, b)
        if isinstance(r, Comparison):
            return r
        return Comparison(float(r.similarity), getattr(r, "verdict", None), getattr(r, "method", "pixseek.compare"),
                          dict(getattr(r, "details", {}) or {}))

    return compare


def duplicates_backend(library: Library) -> Duplicates | None:
    factory = _hook("pixseek.compare", "api_duplicates")
    return factory(library) if factory else None
