"""The HTTP API's seams to the feature modules (text search, compare, dedup): the API calls these small
callables and never the features' internals, and a test can hand :func:`pixseek.api.create_app` its own.
The defaults are built here from the feature modules (they ship with pixseek: nothing is discovered).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from PIL import Image

from pixseek.compare import api_compare, api_duplicates
from pixseek.compare.verdict import Comparison  # (similarity in [0, 1], verdict, method, details)
from pixseek.search import Filter, Library
from pixseek.text import api_text_search
from pixseek.types import Hit


class TextFound(Protocol):
    hits: list[Hit]                     # best first, from the library's read path
    labels: list[tuple[str, float]]     # (label, weight) the words matched
    warnings: list[str]                 # words ignored, no strong match


class TextSearch(Protocol):
    """(query text, k, filter, stack=, like=, unlike=) -> TextFound; ``warm()`` loads what the first
    query would (run at start-up)."""

    def __call__(self, text: str, k: int, filter: Filter | None = None, *, stack: bool = True,  # noqa: A002
                 like: Sequence[int] = (), unlike: Sequence[int] = ()) -> TextFound: ...

    def warm(self) -> None: ...


Compare = Callable[[Image.Image, Image.Image], Comparison]
# () -> [(vector ids, group score or None)]
Duplicates = Callable[[], list[tuple[list[int], float | None]]]


def text_backend(library: Library) -> TextSearch:
    return api_text_search(library)


def compare_backend(library: Library) -> Compare:
    return api_compare(library)


def duplicates_backend(library: Library) -> Duplicates:
    return api_duplicates(library)
