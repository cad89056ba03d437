"""Dev-set builders: labelled folders generated from package data (never committed; written under bench/data/)."""
import hashlib
import json
from pathlib import Path

from PIL import Image

DATA_ROOT = Path(__file__).resolve().parents[1] / "data"


def write_labels(path: Path, table: dict[str, list[str]]) -> None:
    """Write a words dev set's label table (``{picture: [words]}``) and print how often each word occurs."""
    path.write_text(json.dumps(table, indent=0, sort_keys=True) + "\n")
    counts: dict[str, int] = {}
    for ws in table.values():
        for w in ws:
            counts[w] = counts.get(w, 0) + 1
    print(len(table), "pictures;", dict(sorted(counts.items(), key=lambda kv: -kv[1])))


def split_of(key: str) -> str:
    """A words dev set's half, "a" or "b", by a hash of the picture's key."""
    return "a" if hashlib.sha256(key.encode()).digest()[0] % 2 == 0 else "b"


def words_split(labels: dict[str, list[str]], split: str) -> dict[str, list[str]]:
    """The label table restricted to one half ("all": the whole of it)."""
    return {k: v for k, v in labels.items() if split == "all" or split_of(k) == split}


def renamed(keys, suffix: str, start: int = 0) -> dict[str, str]:
    """{neutral file name (img0001.jpg): key}, in an order that says nothing of the keys (a hash)."""
    order = sorted(keys, key=lambda r: hashlib.sha256(r.encode()).hexdigest())
    return {f"img{i + start:04d}{suffix}": k for i, k in enumerate(order)}


def save_pair(im: Image.Image, a: Path, b: Path, max_side: int,
              resample: Image.Resampling = Image.Resampling.BICUBIC, **save) -> None:
    """One picture, at most ``max_side`` px, transparency flattened onto white, written to both copies
    (its original name ``a``, its neutral name ``b``)."""
    a.parent.mkdir(parents=True, exist_ok=True)
    b.parent.mkdir(parents=True, exist_ok=True)
    im.thumbnail((max_side, max_side), resample)
    im = im.convert("RGBA")
    flat = Image.new("RGB", im.size, "white")
    flat.paste(im, mask=im.getchannel("A"))
    flat.save(a, **save)
    flat.save(b, **save)
