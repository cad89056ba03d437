"""JPEG decode for the encoder: PIL's draft path vs libjpeg-turbo's scaled decode (what pixseek uses).

    .venv/bin/python bench/bench_decode.py [--n 256] [--size 1280]

On the same photos as bench_indexing.py, same run: ms per image (read + decode at the DCT scale within
io.decode.DRAFT_SLACK of the encoder's 224-px hint + upright RGB), the decoded size, and how far the
pixels are from PIL's draft decode at that size (0 where both choose the same scale).
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.datasets import photos_large  # noqa: E402
from pixseek.encoders import create_encoder  # noqa: E402
from pixseek.io import load_image  # noqa: E402
from pixseek.io.decode import DRAFT_SLACK  # noqa: E402


def pil_draft(data: bytes, min_side: int) -> Image.Image:
    """The previous path: Image.draft at a power-of-two scale, then upright RGB."""
    from PIL import ImageOps

    im = Image.open(io.BytesIO(data))
    w, h = im.size
    scale = min(w, h) / float(min_side * DRAFT_SLACK)
    if scale >= 2:
        im.draft("RGB", (max(1, int(w / scale)), max(1, int(h / scale))))
    im.load()
    return ImageOps.exif_transpose(im).convert("RGB")


def timed(fn, datas) -> tuple[float, list[Image.Image]]:
    t0 = time.perf_counter()
    out = [fn(d) for d in datas]
    return 1000 * (time.perf_counter() - t0) / len(datas), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--size", type=int, default=1280)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    folder = photos_large.build(max(a.n, 256), a.size)
    datas = [p.read_bytes() for p in sorted(folder.glob("*.jpg"))[: a.n]]
    hint = create_encoder().preprocess.min_decode_side
    ours = lambda d: load_image("photo.jpg", data=io.BytesIO(d), min_side=hint)  # noqa: E731
    best = {"PIL draft": np.inf, "pixseek (libjpeg-turbo)": np.inf}
    for _ in range(a.repeat):  # interleaved, best of: other processes only slow a run down
        t_pil, pil = timed(lambda d: pil_draft(d, hint), datas)
        t_ours, mine = timed(ours, datas)
        best["PIL draft"] = min(best["PIL draft"], t_pil)
        best["pixseek (libjpeg-turbo)"] = min(best["pixseek (libjpeg-turbo)"], t_ours)
    same = [x.size == y.size for x, y in zip(pil, mine)]
    diff = [np.abs(np.asarray(x, np.int16) - np.asarray(y, np.int16)).mean() for x, y, s in zip(pil, mine, same) if s]
    print(f"{len(datas)} JPEGs, longest side {a.size} px, encoder hint {hint} px; best of {a.repeat}")
    for name, ms in best.items():
        print(f"  {name:26} {ms:6.2f} ms/image")
    print(f"  ratio {best['PIL draft'] / best['pixseek (libjpeg-turbo)']:.2f}x; decoded {mine[0].size[0]}x{mine[0].size[1]} "
          f"(PIL {pil[0].size[0]}x{pil[0].size[1]}); same size {sum(same)}/{len(same)}, "
          f"mean |pixel diff| where same {np.mean(diff) if diff else float('nan'):.3f}")


if __name__ == "__main__":
    main()
