"""Compare two images, find copies and near-duplicates, explain a match (issue 4)."""
from pixseek.compare.copies import CascadeStats, CopyConfig, copy_search, search_copies
from pixseek.compare.regions import RegionConfig, Regions, describe

__all__ = ["CascadeStats", "CopyConfig", "RegionConfig", "Regions", "copy_search", "describe", "search_copies"]


def api_compare(library):
    """The HTTP API's compare seam: (PIL a, PIL b) -> Comparison (see pixseek/api/backends.py)."""
    from pixseek.compare.verdict import compare, load_thresholds

    th = load_thresholds(library.model_id)
    return lambda a, b: compare(library.encoder, a, b, th)


def api_duplicates(library):
    """The HTTP API's duplicates seam: () -> [(vector ids, lowest similarity, tier, keeper path)], answered from
    the dedup sidecar cache (instant once computed; only new or changed images are verified again).
    The whole groups (keeper, tier, true sizes): :func:`pixseek.compare.dedup.cached_groups`."""
    from pixseek.compare.dedup import cached_groups

    return lambda: [(g.ids, g.score, g.tier, g.best) for g in cached_groups(library)]
