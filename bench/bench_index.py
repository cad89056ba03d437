"""Index types and hash codes, measured in one run.

1. Index types (the same code as ``pixseek bench-index``): real embeddings of the dev images (the
   glyph set's train + test renders and the emoji set, encoded with the default encoder) as cluster
   centres, jittered along their principal directions to --n vectors; 1,000 queries; exact search as
   the ground truth, same run. Build time, RAM bytes/vector, recall@10, p50/p99, batch QPS.
2. Hash codes (--codes): mAP of LSH, ITQ and a deep hashing head (trained on the glyph TRAIN
   classes with pixseek.train's loop: triplet loss + quantization loss) at 32/64/128/256 bits on
   the glyph TEST classes (unseen in training), against the float vectors' mAP in the same run.

    .venv/bin/python bench/bench_index.py [--n 1000000] [--kinds flat,hnsw,ivfpq,binary] [--no-index] [--no-codes]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.datasets import DATA_ROOT, emoji, glyphs  # noqa: E402
from pixseek.encoders import create_encoder  # noqa: E402
from pixseek.hashing import ITQCoder, LSHCoder, code_metrics  # noqa: E402
from pixseek.metrics import retrieval_metrics  # noqa: E402
from pixseek.search.bench_index import DEFAULT_CONFIGS, run  # noqa: E402
from pixseek.train.data import FeatureSpec, extract_features, read_image_folder  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
BITS = (32, 64, 128, 256)


def dev_features(encoder):
    """(glyph train features (views, n, d), labels), (glyph test vectors, labels), emoji vectors."""
    root = glyphs.build()
    train = extract_features(encoder, read_image_folder(root / "train"), FeatureSpec())
    test = extract_features(encoder, read_image_folder(root / "test"), FeatureSpec(views=1))
    emo = extract_features(encoder, read_image_folder(emoji.build(DATA_ROOT / "emoji400", classes=400)), FeatureSpec())
    return (train.vectors, train.data.labels), (test.vectors[0], test.data.labels), emo.vectors[0]


def code_report(train, test, model_id: str) -> dict:
    from pixseek.train.hashing import DeepHashRecipe, train_deep_hash

    (tr_x, tr_y), (te_x, te_y) = train, test
    dim = te_x.shape[1]
    float_map = retrieval_metrics(te_x, te_y)["map"]
    print(f"hash codes on the glyph test classes ({len(te_y)} images, {len(np.unique(te_y))} classes, unseen in "
          f"training); float vectors ({dim} x 32 bits): mAP {float_map:.4f}")
    rows = {"float": {"bits": dim * 32, "map": float_map}}
    for bits in BITS:
        lsh = LSHCoder(dim, bits)
        itq = ITQCoder(dim, bits)
        itq.train(tr_x[0])
        t0 = time.perf_counter()
        # validation for early stopping: a fifth of the train classes' images (never the test classes)
        val = np.random.default_rng(0).random(len(tr_y)) < 0.2
        deep, result = train_deep_hash(tr_x[:, ~val], tr_y[~val], model_id, DeepHashRecipe(bits=bits),
                                       val=(tr_x[0, val], tr_y[val]))
        t_deep = time.perf_counter() - t0
        deep.save(OUT / f"glyphs-deephash{bits}.hash")
        for name, coder in (("lsh", lsh), ("itq", itq), ("deep", deep)):
            m = code_metrics(coder.encode(te_x), te_y, bits)["map"]
            rows[f"{name}{bits}"] = {"bits": bits, "map": m, "ratio_to_float": m / float_map}
        print(f"{bits:4} bits  mAP  LSH {rows[f'lsh{bits}']['map']:.4f}  ITQ {rows[f'itq{bits}']['map']:.4f}  "
              f"deep {rows[f'deep{bits}']['map']:.4f}  (deep / float {rows[f'deep{bits}']['ratio_to_float']:.2f}; "
              f"trained {t_deep:.0f}s, best epoch {result.best_epoch}, {deep.model_id})")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--kinds", default=",".join(DEFAULT_CONFIGS))
    ap.add_argument("--no-index", action="store_true")
    ap.add_argument("--no-codes", action="store_true")
    a = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    enc = create_encoder()
    train, test, emo = dev_features(enc)
    report: dict = {}
    if not a.no_codes:
        report["codes"] = code_report(train, test, enc.model_id)
    if not a.no_index:
        centres = np.concatenate([train[0][0], test[0], emo])
        work = DATA_ROOT / "bench-index"
        work.mkdir(parents=True, exist_ok=True)
        desc, results = run(a.n, centres.shape[1], a.queries, tuple(a.kinds.split(",")), centres, work=work)
        report["index"] = {"data": desc, "results": [r.__dict__ for r in results]}
    path = OUT / f"bench_index-{a.n}.json"
    path.write_text(json.dumps(report, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
