"""Compare two images, find copies and near-duplicates, explain a match (issue 4)."""
from pixseek.compare.copies import CopyConfig, search_copies
from pixseek.compare.regions import RegionConfig, Regions, describe

__all__ = ["CopyConfig", "RegionConfig", "Regions", "describe", "search_copies"]
