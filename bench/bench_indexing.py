"""Indexing throughput, end to end (decode -> encode -> store), against a per-image PyTorch loop, same run.

    .venv/bin/python bench/bench_indexing.py [--n 512] [--size 1280]

Prints images/s for:
  baseline   a seed-style loop: PIL open + resize each file, eager PyTorch on one image at a time;
  forward    the ONNX encoder alone on pre-decoded batches of 32 (the ceiling);
  pixseek    `Library.add` on the folder into a fresh catalog (threaded decode, batched ONNX, SQLite, FAISS);
and the same two for the int8 encoder. Floors (issue 3): pixseek >= 4x baseline, pixseek >= 0.7x forward.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.datasets import photos_large  # noqa: E402
from pixseek.encoders import create_encoder  # noqa: E402
from pixseek.encoders.efficientnet import load_torch_model  # noqa: E402
from pixseek.preprocess import build_transform, load_for  # noqa: E402
from pixseek.search import open_library  # noqa: E402


def baseline_rate(paths, limit: int) -> float:
    import torch
    from PIL import Image

    torch.set_num_threads(2)
    model = load_torch_model()
    enc = create_encoder("efficientnet_lite0")
    cfg = enc.preprocess

    def one(p):
        im = Image.open(p).convert("RGB").resize((cfg.input_size, cfg.input_size))
        x = (np.asarray(im, np.float32) / 255 - cfg.mean[0]) / cfg.std[0]
        model(torch.from_numpy(x.transpose(2, 0, 1).copy())[None])

    with torch.no_grad():
        for p in paths[:3]:  # warm-up: first calls pay for kernel selection
            one(p)
        t0 = time.perf_counter()
        for p in paths[:limit]:
            one(p)
    return limit / (time.perf_counter() - t0)


def forward_rate(name: str, paths, batch: int = 32) -> float:
    enc = create_encoder(name)
    t = build_transform(enc.preprocess)
    pixels = np.stack([t(load_for(enc.preprocess, p)) for p in paths[: batch * 4]])
    enc.embed_pixels(pixels[:batch])  # warm-up (and ONNX export on first use)
    t0 = time.perf_counter()
    reps = max(1, len(paths) // len(pixels))
    for _ in range(reps):
        for s in range(0, len(pixels), batch):
            enc.embed_pixels(pixels[s:s + batch])
    return reps * len(pixels) / (time.perf_counter() - t0)


def pixseek_rate(name: str, folder: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        lib = open_library(Path(tmp) / "b.db", model=name)
        lib.encoder.embed_pixels(np.zeros((1, 3, 224, 224), np.float32))  # load the session outside the timing
        report = lib.add(folder)
        lib.close()
        assert not report.errors and report.added > 0
        return report.added / report.seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--size", type=int, default=1280)
    ap.add_argument("--baseline-n", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    folder = photos_large.build(a.n, a.size)
    paths = sorted(str(p) for p in folder.glob("*.jpg"))
    print(f"corpus: {len(paths)} JPEGs, longest side {a.size} px ({folder})")
    base = max(baseline_rate(paths, a.baseline_n) for _ in range(a.repeat))
    print(f"baseline (PIL + eager PyTorch, 1 image at a time): {base:7.1f} img/s")
    for name in ("efficientnet_lite0", "efficientnet_lite0_int8"):
        # interleaved, best of --repeat: other processes on a shared 2-core machine only ever slow a run down
        fwd = e2e = 0.0
        for _ in range(a.repeat):
            fwd = max(fwd, forward_rate(name, paths))
            e2e = max(e2e, pixseek_rate(name, folder))
        print(f"{name:24} forward-only {fwd:7.1f} img/s | pixseek index end to end {e2e:7.1f} img/s | "
              f"x baseline {e2e / base:5.2f} | / forward {e2e / fwd:4.2f}", flush=True)


if __name__ == "__main__":
    main()
