"""Colour words: the score of a colour term from an image's stored colour profile
(:mod:`pixseek.io.colours`, computed at ingest).

The word score of a colour is ``1 - exp(-share / 0.15)``: 15 % of the picture (or of the region read:
the top third for "sky") -> 0.63, 35 % -> 0.90.
"""
from __future__ import annotations

import numpy as np

from pixseek.io.colours import (COLOURS, LAYOUT, THUMB, colour_layout, colour_profile, image_colours,  # noqa: F401
                                region_profile)  # (re-exported)

SCALE = 0.15


def colour_score(profile: np.ndarray, colour: str, region: str = "all") -> np.ndarray | float:
    """Share of ``colour`` -> word score in [0, 1] (see module doc). ``profile``: (11,) or (n, 11), or
    stored layouts (LAYOUT,) / (n, LAYOUT), of which ``region`` (pixseek.io.colours.REGIONS) is read."""
    p = np.asarray(profile)
    if p.shape[-1] == LAYOUT:  # a layout stored before regions were has NaN there: its whole picture counts
        whole, part = region_profile(p, "all"), region_profile(p, region)
        p = np.where(np.isnan(part), whole, part)
    elif region != "all":
        raise ValueError(f"a {p.shape[-1]}-share profile has no region {region!r} (a layout has {LAYOUT})")
    return 1.0 - np.exp(-p[..., COLOURS.index(colour)] / SCALE)
