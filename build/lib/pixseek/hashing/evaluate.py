"""Quality of binary codes: the same retrieval metrics as float vectors, ranked by Hamming distance.

For codes in {-1, +1}^b, the inner product is ``b - 2 * hamming``, so ranking scaled ±1 vectors by
inner product (:func:`pixseek.metrics.retrieval_metrics`) is ranking by Hamming distance; ties keep
database order (no random tie-breaking).
"""
from __future__ import annotations

import numpy as np

from pixseek.metrics import retrieval_metrics


def signs(packed: np.ndarray, bits: int) -> np.ndarray:
    """Packed uint8 codes -> float32 ±1 rows (unscaled: their inner products are exact integers, so
    equal Hamming distances tie exactly and keep database order)."""
    b = np.unpackbits(packed, axis=1)[:, :bits].astype(np.float32)
    return 2 * b - 1


def code_metrics(packed: np.ndarray, labels: np.ndarray, bits: int, ks: tuple[int, ...] = (1, 10)) -> dict:
    """Leave-one-out mAP, MAP@R, recall@k of Hamming ranking over ``packed`` codes."""
    return retrieval_metrics(signs(packed, bits), labels, ks=ks)
