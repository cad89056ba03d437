"""Metric learning and tagging on your own classes: pretrained vs trained, on UNSEEN classes, same run.

    make bench-deps && .venv/bin/python bench/train_metric.py [--emoji] [--no-losses]

Dev set: bench/datasets/glyphs.py (characters x fonts; train and test classes DISJOINT, the CUB / SOP
protocol). Measures, in one run:
1. mAP@R and R@1 on the test classes: the pretrained encoder vs the trained ``.model`` (default recipe),
   and the wall-clock time of training on the train classes from scratch (feature extraction included);
2. every loss of the registry with the same recipe otherwise (why the default won);
3. with ``--emoji``: the same loss comparison on a second domain (emoji, 4 images per class, 2 splits);
4. tagging: top-1 accuracy of ``tag-train`` on a held-out 25 % of the train classes' images, vs a
   nearest-class-mean classifier on the pretrained embedding.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.datasets import DATA_ROOT, emoji, glyphs  # noqa: E402
from pixseek.encoders import create_encoder  # noqa: E402
from pixseek.train import EmbeddingRecipe, TaggerRecipe, train_embedding, train_tagger  # noqa: E402
from pixseek.train.data import Features, FeatureSpec, extract_features, read_image_folder, split_by_class, split_within_classes  # noqa: E402,E501
from pixseek.train.losses import LOSSES  # noqa: E402
from pixseek.train.recipes import embedding_metrics  # noqa: E402
from pixseek.train.trainer import plot_history  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"


def subset(f: Features, idx) -> Features:
    return Features(f.vectors[:, idx], f.data.subset(idx), [])


def trained_metrics(model_path: Path, base_vectors: np.ndarray, labels: np.ndarray) -> dict:
    """The artefact's ONNX head over base embeddings (the inference path after the backbone)."""
    enc = create_encoder(model_path)
    out = enc.head_outputs(base_vectors)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return embedding_metrics(out, labels)


def row(name: str, m: dict, base: dict | None = None, extra: str = "") -> str:
    gain = f"{m['map_at_r'] / base['map_at_r'] - 1:+7.1%}" if base else " " * 7
    return f"  {name:34} mAP@R {m['map_at_r']:.4f}  R@1 {m['recall@1']:.4f}  {gain} {extra}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=64)
    ap.add_argument("--no-losses", action="store_true", help="skip the loss comparison")
    ap.add_argument("--emoji", action="store_true", help="also compare losses on the emoji set (second domain)")
    a = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    root = glyphs.build(per_class=a.per_class)
    train_dir, test_dir = root / "train", root / "test"
    enc = create_encoder()
    recipe = EmbeddingRecipe()
    results: dict = {"recipe": dataclasses.asdict(recipe)}

    # 1. baseline on the unseen test classes, then train from scratch (timed) and measure the artefact
    test = extract_features(enc, read_image_folder(test_dir), FeatureSpec(views=1), cache=False)
    y_test = test.data.labels
    base = embedding_metrics(test.vectors[0], y_test)
    t0 = time.perf_counter()
    train_data = read_image_folder(train_dir)
    train_feats = extract_features(enc, train_data, recipe.features, cache=False)
    t_feat = time.perf_counter() - t0
    model = OUT / "glyphs.model"
    trained = train_embedding(train_data, model, recipe, encoder=enc, features=train_feats)
    t_total = time.perf_counter() - t0
    plot_history(trained.result, OUT / "glyphs-curve.png", title=f"glyphs, {recipe.loss}")
    after = trained_metrics(model, test.vectors[0], y_test)
    # the full path (decode -> backbone -> head) agrees with the head over cached features
    sample = list(test.data.paths[::97])
    full = create_encoder(model).encode_images([Image.open(p).convert("RGB") for p in sample])
    cached = create_encoder(model).head_outputs(test.vectors[0, ::97])
    cached /= np.linalg.norm(cached, axis=1, keepdims=True)
    agree = float(np.abs(full - cached).max())
    n_train = len(train_feats.data)
    print(f"glyphs: train {n_train} images / {len(train_data.classes)} classes, test {len(y_test)} images / "
          f"{len(set(y_test))} classes (disjoint)")
    print(row("pretrained efficientnet_lite0", base))
    print(row(f"trained ({recipe.loss}, {recipe.head.out_dim}-d head)", after, base,
              f"best epoch {trained.result.best_epoch}, {trained.result.stopped}"))
    print(f"  training time on {n_train} images: {t_total:.1f}s (features {t_feat:.1f}s, "
          f"{recipe.features.views} views; head {t_total - t_feat:.1f}s); full-path max |diff| {agree:.2e}")
    results["glyphs"] = {"pretrained": base, "trained": after, "gain": after["map_at_r"] / base["map_at_r"] - 1,
                         "train_images": n_train, "train_seconds": t_total, "feature_seconds": t_feat,
                         "best_epoch": trained.result.best_epoch, "model_id": trained.manifest["model_id"]}

    # 2. the loss registry, same cached features, same recipe otherwise
    if not a.no_losses:
        print("losses (glyphs test classes):")
        results["losses"] = {}
        for name in LOSSES:
            r = train_embedding(train_data, OUT / f"glyphs-{name}.model", dataclasses.replace(recipe, loss=name),
                                encoder=enc, features=train_feats)
            m = trained_metrics(OUT / f"glyphs-{name}.model", test.vectors[0], y_test)
            results["losses"][name] = m | {"val_map_at_r": r.result.best_score, "best_epoch": r.result.best_epoch}
            print(row(name, m, base, f"val {r.result.best_score:.4f} ep {r.result.best_epoch}"), flush=True)

    # 3. a second domain: emoji (4 vendors per class), 2 class-disjoint splits
    if a.emoji:
        folder = emoji.build(DATA_ROOT / "emoji400", classes=400)
        allf = extract_features(enc, read_image_folder(folder), recipe.features)
        results["emoji"] = {}
        for seed in (0, 1):
            tr, te = split_by_class(allf.data.labels, 0.5, 100 + seed)
            b = embedding_metrics(allf.vectors[0, te], allf.data.labels[te])
            print(f"emoji split {seed}: train {len(tr)} / test {len(te)} images")
            print(row("pretrained efficientnet_lite0", b))
            for name in LOSSES:
                path = OUT / f"emoji-{name}.model"
                train_embedding(allf.data.subset(tr), path, dataclasses.replace(recipe, loss=name), encoder=enc,
                                features=subset(allf, tr))
                m = trained_metrics(path, allf.vectors[0, te], allf.data.labels[te])
                results["emoji"].setdefault(name, []).append(m["map_at_r"] / b["map_at_r"] - 1)
                print(row(name, m, b), flush=True)

    # 4. tagging on a held-out 25 % of the train classes' images
    tr, ho = split_within_classes(train_feats.data.labels, 0.25, seed=1)
    tag_model = OUT / "glyphs-tagger.model"
    t1 = time.perf_counter()
    tagged = train_tagger(train_feats.data.subset(tr), tag_model, TaggerRecipe(), encoder=enc,
                          features=subset(train_feats, tr))
    t_tag = time.perf_counter() - t1
    tagger = create_encoder(tag_model)
    y_ho = train_feats.data.labels[ho]
    probs = tagger.class_probs(tagger.head_outputs(train_feats.vectors[0, ho]))
    acc = float((probs.argmax(1) == y_ho).mean())
    y_tr = train_feats.data.labels[tr]
    classes = np.unique(y_tr)
    means = np.stack([train_feats.vectors[0, tr][y_tr == c].mean(0) for c in classes])
    ncm = float((classes[(train_feats.vectors[0, ho] @ means.T).argmax(1)] == y_ho).mean())
    print(f"tagging ({len(classes)} classes, train {len(tr)}, held out {len(ho)}): top-1 {acc:.4f} vs nearest class "
          f"mean on the pretrained embedding {ncm:.4f}; {t_tag:.1f}s; temperature {tagged.summary['temperature']}, "
          f"val ECE {tagged.summary['val_uncalibrated']['ece']:.4f} -> {tagged.summary['val_calibrated']['ece']:.4f}")
    results["tagging"] = {"top1": acc, "nearest_class_mean": ncm, "seconds": t_tag, **tagged.summary}
    results["tagging"].pop("skipped", None)
    (OUT / "train_metric.json").write_text(json.dumps(results, indent=1, default=str))
    print(f"wrote {OUT / 'train_metric.json'}, curve {OUT / 'glyphs-curve.png'}")


if __name__ == "__main__":
    main()
