"""Compare two images, find copies and near-duplicates, explain a match (issue 4)."""
from pixseek.compare.copies import CopyConfig, search_copies
from pixseek.compare.regions import RegionConfig, Regions, describe

__all__ = ["CopyConfig", "RegionConfig", "Regions", "describe", "search_copies"]


def api_compare(library):
    """The HTTP API's compare seam: (PIL a, PIL b) -> Comparison (see pixseek/api/backends.py)."""
    from pixseek.compare.verdict import compare, load_thresholds

    th = load_thresholds(library.model_id)
    return lambda a, b: compare(library.encoder, a, b, th)


def api_duplicates(library):
    """The HTTP API's duplicates seam: () -> [(vector ids, lowest similarity in the group)]."""
    from pixseek.compare.dedup import find_duplicates

    return lambda: [(g.ids, g.score) for g in find_duplicates(library)]
