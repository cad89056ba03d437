"""The relevance floor: a per-model cosine score below which a hit is a weak match.

Calibrated by ``bench/relevance_floor.py`` and shipped in ``search/data/relevance.json`` keyed by model
id; a model without a calibration has no floor (no hit is marked weak)."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=None)
def _table() -> dict:
    try:
        return json.loads(resources.files("pixseek.search").joinpath("data/relevance.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}


def relevance_floor(model_id: str) -> float | None:
    entry = _table().get(model_id)
    return None if entry is None else float(entry["floor"])
