"""Synthetic footage with known timestamps: scikit-image's photos stitched into an H.264 video with
hard cuts, slow pans and zooms, sensor noise, and one scene that comes back several times.

``build()`` returns the video path and its ground truth: one :class:`Shot` per shot, in time order.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image

from bench.datasets import DATA_ROOT

SOURCES = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
           "hubble_deep_field.jpg", "camera.png", "moon.png", "coins.png", "retina.jpg", "ihc.png",
           "brick.png", "grass.png", "gravel.png", "immunohistochemistry.png", "page.png", "horse.png",
           "text.png", "clock_motion.png", "cell.png"]
REPEATED = "coffee.png"


@dataclass(frozen=True)
class Shot:
    source: str
    start: float
    end: float
    motion: str  # static | pan | zoom


def _sources() -> dict[str, Image.Image]:
    import skimage.data

    root = Path(skimage.data.__file__).parent
    return {s: Image.open(root / s).convert("RGB") for s in SOURCES if (root / s).exists()}


def plan(total: float = 120.0, seed: int = 0, repeats: int = 4) -> list[Shot]:
    """Shots of 3-12 s over ``total`` seconds; the REPEATED scene appears ``repeats`` times, spread out."""
    rng = np.random.default_rng(seed)
    names = [s for s in _sources() if s != REPEATED]
    shots, t, i = [], 0.0, 0
    repeat_at = set(np.linspace(0, total, repeats + 2)[1:-1].round().tolist())
    while t < total - 2:
        dur = float(min(total - t, rng.uniform(3, 12)))
        if any(abs(t - r) < 6 for r in repeat_at) and not any(s.source == REPEATED and abs(s.start - t) < 20 for s in shots):
            src = REPEATED
        else:
            src = names[i % len(names)]
            i += 1
        shots.append(Shot(src, round(t, 2), round(t + dur, 2), ["static", "pan", "zoom"][int(rng.integers(3))]))
        t += dur
    return shots


def _render(im: Image.Image, size: tuple[int, int], motion: str, u: float) -> Image.Image:
    """One frame of a shot at progress ``u`` in [0, 1]: a crop window moving over the photo."""
    w, h = im.size
    aspect = size[0] / size[1]
    cw = min(w, h * aspect)
    ch = cw / aspect
    if motion == "zoom":
        s = 1.0 - 0.3 * u
        cw, ch = cw * s, ch * s
        x, y = (w - cw) / 2, (h - ch) / 2
    elif motion == "pan":
        cw, ch = cw * 0.8, ch * 0.8
        x, y = (w - cw) * u, (h - ch) / 2
    else:
        x, y = (w - cw) / 2, (h - ch) / 2
    return im.resize(size, Image.Resampling.BILINEAR, box=(x, y, x + cw, y + ch))


def write(out: Path, shots: list[Shot], size: tuple[int, int] = (1280, 720), fps: int = 25,
          noise: float = 4.0, gop: int = 50, seed: int = 0) -> Path:
    """Encode the shots to ``out`` (H.264, yuv420p) with Gaussian noise of ``noise`` grey levels."""
    srcs = _sources()
    rng = np.random.default_rng(seed)
    noise_bank = [rng.normal(0, noise, (size[1], size[0], 3)).astype(np.int16) for _ in range(8)]
    out.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(out), "w", options={"movflags": "+faststart"}) as container:  # index first: a cut file stays readable
        stream = container.add_stream("libx264", rate=fps, options={"preset": "veryfast", "crf": "23", "g": str(gop)})
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        n = 0
        for shot in shots:
            frames = int(round(shot.end * fps)) - int(round(shot.start * fps))  # no drift: cuts land where planned
            for j in range(frames):
                im = _render(srcs[shot.source], size, shot.motion, j / max(1, frames - 1))
                arr = np.clip(np.asarray(im, np.int16) + noise_bank[n % len(noise_bank)], 0, 255).astype(np.uint8)
                for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                    container.mux(packet)
                n += 1
        for packet in stream.encode():
            container.mux(packet)
    return out


def build(total: float = 120.0, size: tuple[int, int] = (1280, 720), out: Path | None = None) -> tuple[Path, list[Shot]]:
    out = out or DATA_ROOT / f"footage-{size[1]}p-{int(total)}s-v2" / "footage.mp4"
    truth = out.with_suffix(".json")
    if out.exists() and truth.exists():
        return out, [Shot(**s) for s in json.loads(truth.read_text())]
    shots = plan(total)
    write(out, shots, size)
    truth.write_text(json.dumps([asdict(s) for s in shots], indent=1))
    return out, shots


def stills(shots: list[Shot], out: Path) -> dict[str, Path]:
    """One query photo per distinct source: the original photo (not a video frame), centre-cropped."""
    out.mkdir(parents=True, exist_ok=True)
    srcs = _sources()
    paths = {}
    for name in sorted({s.source for s in shots}):
        p = out / (Path(name).stem + ".jpg")
        if not p.exists():
            im = srcs[name]
            w, h = im.size
            im.crop((w // 8, h // 8, w - w // 8, h - h // 8)).save(p, quality=90)
        paths[name] = p
    return paths
