"""Few-shot recipe sweep: metric-learning variants on the emoji set, three class-disjoint splits.

    make bench-deps && .venv/bin/python bench/train_sweep.py [--only dim128 dim256 ...]

Emoji (`bench/datasets/emoji.py`, 400 classes x 4 vendor drawings) split by class in halves (seeds
100, 101, 102, the first two as in train_metric.py); each variant of the default `pixseek train` recipe
is trained on one half and scored (mAP@R) on the other, against the pretrained encoder in the same run.
Prints the relative gain per split and its mean. Training is deterministic: a re-run gives the same figures.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.datasets import DATA_ROOT, emoji  # noqa: E402
from bench.train_metric import OUT, subset, trained_metrics  # noqa: E402
from pixseek.encoders import create_encoder  # noqa: E402
from pixseek.train import EmbeddingRecipe, train_embedding  # noqa: E402
from pixseek.train.data import FeatureSpec, extract_features, read_image_folder, split_by_class  # noqa: E402
from pixseek.train.heads import HeadConfig  # noqa: E402
from pixseek.train.recipes import embedding_metrics  # noqa: E402
from pixseek.train.trainer import TrainConfig  # noqa: E402

BASE = EmbeddingRecipe()
VARIANTS = {
    "dim128": dataclasses.replace(BASE, head=HeadConfig(out_dim=128)),
    "dim256": dataclasses.replace(BASE, head=HeadConfig(out_dim=256)),
    "dim384": dataclasses.replace(BASE, head=HeadConfig(out_dim=384)),
    "dim512": dataclasses.replace(BASE, head=HeadConfig(out_dim=512)),
    "dim256-batch64": dataclasses.replace(BASE, head=HeadConfig(out_dim=256), batch_size=64),
    "dim256-batch256": dataclasses.replace(BASE, head=HeadConfig(out_dim=256), batch_size=256),
    "dim256-wd1e-2": dataclasses.replace(BASE, head=HeadConfig(out_dim=256), train=TrainConfig(weight_decay=1e-2)),
    "dim256-patience12": dataclasses.replace(BASE, head=HeadConfig(out_dim=256),
                                             train=TrainConfig(epochs=80, patience=12)),
    "dim128-views4": dataclasses.replace(BASE, head=HeadConfig(out_dim=128), features=FeatureSpec(views=4)),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", choices=sorted(VARIANTS), help="variants to run (default: all)")
    a = ap.parse_args()
    enc = create_encoder()
    folder = emoji.build(DATA_ROOT / "emoji400", classes=400)
    feats = {}
    for name in a.only or VARIANTS:
        recipe = VARIANTS[name]
        if recipe.features not in feats:
            feats[recipe.features] = extract_features(enc, read_image_folder(folder), recipe.features)
        allf = feats[recipe.features]
        gains = []
        for seed in (0, 1, 2):
            tr, te = split_by_class(allf.data.labels, 0.5, 100 + seed)
            base = embedding_metrics(allf.vectors[0, te], allf.data.labels[te])
            path = OUT / f"sweep-{name}.model"
            train_embedding(allf.data.subset(tr), path, recipe, encoder=enc, features=subset(allf, tr))
            m = trained_metrics(path, allf.vectors[0, te], allf.data.labels[te])
            gains.append(m["map_at_r"] / base["map_at_r"] - 1)
        print(f"{name:18} gain per split {' '.join(f'{g * 100:+5.1f}%' for g in gains)}  mean {np.mean(gains) * 100:+5.1f}%",
              flush=True)


if __name__ == "__main__":
    main()
