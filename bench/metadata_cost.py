"""Cost of reading true image metadata from headers (pixseek.io.metadata) vs decoding the image.

    make bench-deps && .venv/bin/python bench/metadata_cost.py [--n 80]

On the first ``n`` wallpapers of the Debian packages (JPEG / PNG, 1-13 MP; the sample gallery when they
are absent), per file from bytes already in memory (as indexing has them): read_metadata, the draft
decode indexing does (load_image min_side=224) and a full decode; and whether the metadata size equals
the full decode's size (the catalog stored the draft's size before).
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pixseek.io import load_image  # noqa: E402
from pixseek.io.metadata import read_metadata  # noqa: E402

ROOTS = [Path("/usr/share/backgrounds"), Path("/usr/share/wallpapers"), Path("/usr/share/desktop-base")]


def files(n: int) -> list[Path]:
    out = [p for r in ROOTS if r.exists() for p in sorted(r.rglob("*"))
           if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"} and p.is_file() and not p.is_symlink()]
    out = out or sorted((Path(__file__).resolve().parents[1] / "samples" / "gallery").iterdir())
    step = max(1, len(out) // n)
    return out[::step][:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=80)
    a = ap.parse_args()
    paths = files(a.n)
    t_meta = t_draft = t_full = 0.0
    same = draft_same = mp = 0
    for p in paths:
        data = p.read_bytes()
        t0 = time.perf_counter()
        m = read_metadata(p, data=data)
        t1 = time.perf_counter()
        d = load_image(p, data=io.BytesIO(data), min_side=224)
        t2 = time.perf_counter()
        f = load_image(p, data=io.BytesIO(data))
        t3 = time.perf_counter()
        t_meta, t_draft, t_full = t_meta + t1 - t0, t_draft + t2 - t1, t_full + t3 - t2
        same += (m.width, m.height) == f.size
        draft_same += d.size == f.size
        mp += f.size[0] * f.size[1] / 1e6
    n = len(paths)
    print(f"{n} files, {mp / n:.1f} MP mean")
    print(f"read_metadata     {1e3 * t_meta / n:8.2f} ms/file   size == full decode: {same}/{n}")
    print(f"draft decode      {1e3 * t_draft / n:8.2f} ms/file   size == full decode: {draft_same}/{n}  "
          f"(metadata costs {t_meta / t_draft:.4f} x this)")
    print(f"full decode       {1e3 * t_full / n:8.2f} ms/file   (metadata costs {t_meta / t_full:.4f} x this)")


if __name__ == "__main__":
    main()
