"""Search by description: words -> labels -> images, offline; or an image+text encoder's text tower."""
from pixseek.text.search import (
    METHODS,
    TextQuery,
    TextResult,
    TextSearchConfig,
    TextSearcher,
    TermMatch,
    api_text_search,
    parse_text,
)

__all__ = ["METHODS", "TermMatch", "TextQuery", "TextResult", "TextSearchConfig", "TextSearcher",
           "api_text_search", "parse_text"]
