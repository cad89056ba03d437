"""Colour words: the score of a colour term from an image's stored colour profile
(:mod:`pixseek.io.colours`, computed at ingest).

The word score of a colour is ``1 - exp(-share / 0.15)``: 15 % of the picture -> 0.63, 35 % -> 0.90.
"""
from __future__ import annotations

import numpy as np

from pixseek.io.colours import COLOURS, THUMB, colour_profile, image_colours  # noqa: F401  (re-exported)

SCALE = 0.15


def colour_score(profile: np.ndarray, colour: str) -> np.ndarray | float:
    """Share of ``colour`` -> word score in [0, 1] (see module doc). ``profile``: (11,) or (n, 11)."""
    share = np.asarray(profile)[..., COLOURS.index(colour)]
    return 1.0 - np.exp(-share / SCALE)
