"""The relevance floor: per model, the cosine score below which a search hit is a weak match.

Read from ``data/relevance.json`` (keyed by :attr:`Encoder.model_id`), written by
``bench/relevance_floor.py --write``: the smallest score at which hits on the calibration halves of the
emoji and photo dev sets were still >= 90 % relevant. One meaning everywhere: a hit is weak when its
score is below ``relevance_floor(model_id)``; a model without a calibrated floor has none (``None``: no
hit is marked weak). The floor applies to image-to-image cosine scores, not to text-query scores.
"""
from __future__ import annotations

import json
from importlib import resources


def floor_file():
    return resources.files("pixseek.encoders") / "data" / "relevance.json"


def relevance_floor(model_id: str) -> float | None:
    """The calibrated weak-match floor of ``model_id``, or ``None`` when it has not been calibrated."""
    try:
        table = json.loads(floor_file().read_text())
    except (OSError, ValueError):
        return None
    entry = table.get(model_id)
    return float(entry["weak_below"]) if isinstance(entry, dict) and "weak_below" in entry else None


def is_weak(score: float, floor: float | None) -> bool:
    """Whether a hit of ``score`` is a weak match under ``floor`` (never, without a floor)."""
    return floor is not None and score < floor


__all__ = ["floor_file", "is_weak", "relevance_floor"]
