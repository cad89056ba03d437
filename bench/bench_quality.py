"""Retrieval quality of the default encoder and its design choices, beside classical baselines, same run.

    .venv/bin/python bench/bench_quality.py [--classes 400] [--folder DIR]

Dev set: bench/datasets/emoji.py (each class = one emoji drawn by 4 vendors). Protocol: `pixseek eval`
(every image queries all others; mAP, mAP@R, R@1/5/10). Variants: pooling (GeM vs average),
geometry (centre crop vs squash), transparency background (white / grey / black), int8 encoder.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.baselines import ColourHistogram, TinyPixels  # noqa: E402
from bench.datasets import emoji  # noqa: E402
from pixseek.encoders import create_encoder, get_spec  # noqa: E402
from pixseek.search.evaluate import evaluate_folder  # noqa: E402


def variants(include_int8: bool):
    base = get_spec("efficientnet_lite0").preprocess
    yield "default (efficientnet_lite0)", create_encoder("efficientnet_lite0")
    yield "pooling=avg", create_encoder("efficientnet_lite0", pooling="avg")
    yield "geometry=squash", create_encoder("efficientnet_lite0", preprocess=dataclasses.replace(base, mode="squash"))
    yield "background=grey", create_encoder("efficientnet_lite0", preprocess=dataclasses.replace(base, background=(128, 128, 128)))
    yield "background=black", create_encoder("efficientnet_lite0", preprocess=dataclasses.replace(base, background=(0, 0, 0)))
    if include_int8:
        yield "int8 (efficientnet_lite0_int8)", create_encoder("efficientnet_lite0_int8")
    yield "baseline: colour histogram", ColourHistogram()
    yield "baseline: tiny 16x16 pixels", TinyPixels()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--classes", type=int, default=400)
    ap.add_argument("--folder", type=Path, help="labelled folder to use instead of the emoji set")
    ap.add_argument("--no-int8", action="store_true")
    a = ap.parse_args()
    folder = a.folder or emoji.build(emoji.DATA_ROOT / f"emoji{a.classes}", classes=a.classes)
    print(f"dev set: {folder}")
    print(f"{'variant':34} {'mAP':>7} {'mAP@R':>7} {'R@1':>7} {'R@5':>7} {'R@10':>7} {'img/s':>7}")
    for name, enc in variants(not a.no_int8):
        t0 = time.perf_counter()
        r = evaluate_folder(folder, enc)
        rate = r["images"] / (time.perf_counter() - t0)
        print(f"{name:34} {r['map']:7.4f} {r['map_at_r']:7.4f} {r['recall@1']:7.4f} {r['recall@5']:7.4f} "
              f"{r['recall@10']:7.4f} {rate:7.1f}", flush=True)


if __name__ == "__main__":
    main()
