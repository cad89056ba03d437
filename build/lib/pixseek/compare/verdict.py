"""``compare(a, b)``: a similarity in [0, 1] and a verdict (identical | near-duplicate | similar | different).

Similarity is the copy score both ways (each image's regions, as is and mirrored, looked up in the
other's) fused with the global cosine. Thresholds come from ``data/calibration.json``, keyed by
model id, written by ``bench/copydetect.py --calibrate`` on a seeded transform set; "near-duplicate"
means "above the threshold that gave the calibrated precision". One meaning of "threshold"
everywhere: a pair is a near-duplicate when its similarity is at or above ``near_duplicate``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
from PIL import Image

from pixseek.compare.copies import CopyConfig, fuse, region_score
from pixseek.compare.hashes import hamming
from pixseek.compare.regions import Regions, describe_query
from pixseek.encoders import Encoder

VERDICTS = ("identical", "near-duplicate", "similar", "different")


@dataclass(frozen=True)
class Thresholds:
    near_duplicate: float = 0.75
    similar: float = 0.5
    identical_bits: int = 2  # pHash and dHash both within this many bits (and above near_duplicate)
    calibrated: bool = False
    notes: dict = field(default_factory=dict)


def calibration_file():
    return resources.files("pixseek.compare") / "data" / "calibration.json"


def load_thresholds(model_id: str) -> Thresholds:
    """The calibrated thresholds for ``model_id``; uncalibrated defaults when there are none."""
    try:
        table = json.loads(calibration_file().read_text())
    except (OSError, ValueError):
        return Thresholds()
    entry = table.get(model_id)
    if not entry:
        return Thresholds()
    return Thresholds(entry["near_duplicate"], entry["similar"], entry.get("identical_bits", 2), True,
                      {k: v for k, v in entry.items() if k not in {"near_duplicate", "similar", "identical_bits"}})


@dataclass(frozen=True)
class Comparison:
    similarity: float
    verdict: str
    method: str
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"similarity": round(self.similarity, 6), "verdict": self.verdict, "method": self.method,
                "details": self.details}


def pair_similarity(qa: list[Regions], ga: np.ndarray, qb: list[Regions], gb: np.ndarray,
                    cfg: CopyConfig = CopyConfig()) -> tuple[float, dict]:
    """(similarity in [0, 1], details) of two described images (``q*``: regions as is and mirrored; ``g*``: global vectors)."""
    cos = float(np.dot(ga, gb))
    regional = max(region_score(qa, qb[0]), region_score(qb, qa[0]))
    sim = float(np.clip(fuse(cos, regional, cfg), 0.0, 1.0))
    bits = (hamming(qa[0].phash, qb[0].phash), hamming(qa[0].dhash, qb[0].dhash))
    if max(bits) <= cfg.hash_bits:  # first stage: both perceptual hashes agree -> a trivial copy
        sim = max(sim, 1.0 - max(bits) / 64)
    return sim, {"global_cosine": round(cos, 6), "region_score": round(regional, 6), "phash_bits": bits[0],
                 "dhash_bits": bits[1]}


def judge(similarity: float, details: dict, th: Thresholds) -> str:
    if similarity >= th.near_duplicate:
        if max(details["phash_bits"], details["dhash_bits"]) <= th.identical_bits:
            return "identical"
        return "near-duplicate"
    return "similar" if similarity >= th.similar else "different"


def compare(encoder: Encoder, a: Image.Image, b: Image.Image, th: Thresholds | None = None) -> Comparison:
    """Compare two images with ``encoder`` (which must expose feature maps, like the default one)."""
    th = th or load_thresholds(encoder.model_id)
    ga, gb = encoder.encode_images([a.convert("RGB"), b.convert("RGB")])
    sim, details = pair_similarity(describe_query(encoder, a), ga, describe_query(encoder, b), gb)
    details |= {"thresholds": {"near_duplicate": th.near_duplicate, "similar": th.similar,
                               "identical_bits": th.identical_bits}, "calibrated": th.calibrated}
    return Comparison(sim, judge(sim, details, th), f"pixseek.compare:regions:{encoder.model_id}", details)
