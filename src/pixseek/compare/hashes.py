"""Perceptual hashes for copy detection: the one implementation lives in :mod:`pixseek.io.hashes`
(indexing stores each image's pHash, the library stacks near-duplicates with it)."""
from pixseek.io.hashes import BITS, dhash, hamming, phash

__all__ = ["BITS", "dhash", "hamming", "phash"]
