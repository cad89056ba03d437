"""Near-duplicate groups in a library: k-NN candidate pairs, verified by region matching, grouped
by connected components of near-duplicate edges with a complete-linkage guard against chaining
(two groups join only if every cross pair is at least "similar", so A~B~C never joins an A and a C
that are different pictures). Never deletes anything.

Each verified pair gets a tier: ``exact`` (pHash and dHash agree: the same picture re-encoded or
resized), ``copy`` (an edited copy: near-duplicate score, same colours and framing) or ``variant``
(near-duplicate score but other colours or another crop / framing: a recoloured twin, a crop).
Only the first two are duplicates unless ``include_variants``. Images with next to nothing to show
(flat colour, or mostly transparent: judged composited on black and on white) are grouped only with
byte-identical files. The keeper is the largest true resolution (read from the file header, EXIF
orientation applied), then a lossless file over a lossy one, then the largest file.

Groups are cached next to the catalog (``<db>.dedup.json``, keyed by catalog generation and the images'
content hashes) and pair scores and looks beside them (``<db>.dedup-pairs.json``): :func:`cached_groups` answers from it when nothing changed, and otherwise
recomputes only the pairs that involve new or changed images.
"""
from __future__ import annotations

import hashlib
import html
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pixseek.atomic import atomic_write_text

import numpy as np
from PIL import Image

from pixseek.compare.copies import CopyConfig
from pixseek.compare.hashes import hamming
from pixseek.compare.regions import RegionStore, describe_missing
from pixseek.compare.verdict import load_thresholds, pair_similarity
from pixseek.errors import ImageError
from pixseek.io import load_image

Progress = Callable[[str, int, int], None]  # (what, done, total)
TIERS = ("exact", "copy", "variant")
LOSSLESS = {"PNG", "TIFF", "BMP", "GIF", "PPM"}
CACHE_VERSION = 1


@dataclass(frozen=True)
class DedupConfig:
    neighbours: int = 10  # k of the k-NN graph the candidate pairs come from
    min_cosine: float = 0.3  # global cosine below which a k-NN pair is not even verified
    threshold: float | None = None  # near-duplicate similarity; default: the calibrated one for the model
    guard: float | None = None  # every pair inside a group must reach this; default: the calibrated "similar"
    include_variants: bool = False  # also group "variant" pairs (other colours, another crop)
    min_content: float = 6.0  # grey std-dev (0-255) under which an image shows next to nothing
    min_opaque: float = 0.1  # fraction of opaque pixels under which an image shows next to nothing
    same_look: float = 0.85  # thumbnail correlation (both backgrounds) at or above which framing agrees
    same_colour: float = 0.75  # colour-histogram intersection at or above which colours agree
    block: int = 64  # images whose regions are held in memory at once while verifying pairs


@dataclass
class Group:
    ids: list[int]
    paths: list[str]
    best: str  # the copy to keep: largest true resolution, then lossless, then largest file
    score: float  # the lowest similarity between two members
    tier: str = "copy"  # the weakest tier of the edges that joined it: exact | copy | variant
    sizes: dict[str, list[int]] = field(default_factory=dict)  # path -> [width, height] as stored in the file

    def to_dict(self) -> dict:
        return {"paths": self.paths, "ids": self.ids, "best": self.best, "score": round(self.score, 6),
                "tier": self.tier, "sizes": self.sizes}


# -- what a file is: true size, look ---------------------------------------------------------------
def true_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) of the image as stored, after EXIF orientation, from the header (no pixel decode)."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            orientation = im.getexif().get(0x0112, 1)
    except (OSError, ValueError) as exc:
        raise ImageError(Path(path), f"cannot read the image header ({exc})") from exc
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def keeper_key(path: str, size: int) -> tuple:
    """Sort key of the copy to keep: true resolution, then lossless over lossy, then file size."""
    try:
        w, h = true_size(path)
        with Image.open(path) as im:
            lossless = im.format in LOSSLESS or (im.format == "WEBP" and im.info.get("lossless", False))
    except ImageError:
        return (0, False, size)
    return (w * h, lossless, size)


THUMB = 16


def look(path: str) -> dict | None:
    """A small picture of what a file shows, composited on black and on white: grey thumbnails (THUMB²,
    zero-mean, unit norm, as is and mirrored), a 4x4x4 colour histogram, content std-dev, opaque fraction."""
    try:
        im = load_image(path, min_side=64, background=(0, 0, 0))
        im_w = load_image(path, min_side=64, background=(255, 255, 255))
    except ImageError:
        return None
    with Image.open(path) as raw:
        opaque = 1.0
        if raw.mode in ("RGBA", "LA", "PA") or "transparency" in raw.info:
            raw.draft("RGBA", (64, 64))
            alpha = np.asarray(raw.convert("RGBA").getchannel("A").resize((64, 64)), np.float32)
            opaque = float((alpha > 128).mean())
    out = {"opaque": opaque, "std": [], "thumb": [], "mirror": [], "hist": [], "size": list(true_size(path))}
    for x in (im, im_w):
        grey = np.asarray(x.convert("L").resize((THUMB, THUMB), Image.Resampling.BOX), np.float32)
        out["std"].append(float(np.asarray(x.convert("L").resize((64, 64)), np.float32).std()))
        for key, g in (("thumb", grey), ("mirror", grey[:, ::-1])):
            g = g - g.mean()
            out[key].append((g / (np.linalg.norm(g) + 1e-6)).ravel().round(4).tolist())
        q = np.asarray(x.convert("RGB").resize((64, 64)), np.uint8) // 64
        hist = np.bincount((q[..., 0] * 16 + q[..., 1] * 4 + q[..., 2]).ravel(), minlength=64).astype(np.float32)
        out["hist"].append((hist / hist.sum()).round(5).tolist())
    return out


def near_empty(lk: dict | None, cfg: DedupConfig) -> bool:
    return lk is None or lk["opaque"] < cfg.min_opaque or min(lk["std"]) < cfg.min_content


def tier_of(sim: float, bits: tuple[int, int], la: dict, lb: dict, th, cfg: DedupConfig) -> str | None:
    """exact (same size, both hashes agree: the same pixels re-encoded) | copy | variant (other colours or
    framing) for a pair at or above the near-duplicate score (None below it); byte-identical files are
    exact before this is asked."""
    if sim < th.near_duplicate:
        return None
    shape = min(max(float(np.dot(la["thumb"][i], lb["thumb"][i])), float(np.dot(la["thumb"][i], lb["mirror"][i])))
                for i in range(2))
    colour = min(float(np.minimum(la["hist"][i], lb["hist"][i]).sum()) for i in range(2))
    if shape < cfg.same_look or colour < cfg.same_colour:
        return "variant"
    return "exact" if max(bits) <= th.identical_bits and la["size"] == lb["size"] else "copy"


# -- the sidecar cache -------------------------------------------------------------------------------
def cache_path(library) -> Path:
    """The groups of the last dedup run (small: read on every cached answer)."""
    return library.layout.cache / "dedup.json"


def pairs_path(library) -> Path:
    """Verified pair scores and looks, keyed by vector id and content hash (read only to recompute)."""
    return library.layout.cache / "dedup-pairs.json"


def _config_key(cfg: DedupConfig, th, model_id: str) -> dict:
    return {"cfg": asdict(cfg), "near_duplicate": th.near_duplicate, "similar": th.similar, "model": model_id,
            "version": CACHE_VERSION}


def _read_cache(path: Path, key: dict) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if data.get("key") == key else {}


def _write_cache(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data))


# -- finding groups ------------------------------------------------------------------------------------
class _PairScorer:
    """Similarity of id pairs, verified in blocks so that only ``cfg.block`` images' regions (plus their
    partners') are in memory at once; scores already in ``known`` are not recomputed."""

    def __init__(self, library, vec_of: dict[int, np.ndarray], known: dict[str, list], progress: Progress | None):
        self.library, self.vec_of, self.known, self.progress = library, vec_of, known, progress
        self.store = RegionStore(library)

    def score_all(self, pairs: list[tuple[int, int]], block: int) -> None:
        todo = sorted(p for p in pairs if f"{p[0]}-{p[1]}" not in self.known)
        firsts = sorted({a for a, _ in todo})
        done = 0
        for start in range(0, len(firsts), block):
            part = set(firsts[start:start + block])
            chunk = [p for p in todo if p[0] in part]
            self._score(chunk)
            done += len(chunk)
            if self.progress is not None:
                self.progress("verifying pairs", done, len(todo))

    def _score(self, pairs: list[tuple[int, int]]) -> None:
        regions = self.store.get({i for p in pairs for i in p})
        for a, b in pairs:
            ra, rb = regions.get(a), regions.get(b)
            if ra is None or rb is None:
                self.known[f"{a}-{b}"] = [-1.0, 64, 64]
                continue
            sim = pair_similarity([ra], self.vec_of[a], [rb], self.vec_of[b], CopyConfig())[0]
            self.known[f"{a}-{b}"] = [round(sim, 6), hamming(ra.phash, rb.phash), hamming(ra.dhash, rb.dhash)]

    def get(self, a: int, b: int) -> list:
        key = (min(a, b), max(a, b))
        if f"{key[0]}-{key[1]}" not in self.known:
            self._score([key])
        return self.known[f"{key[0]}-{key[1]}"]


def find_duplicates(library, cfg: DedupConfig = DedupConfig(), prefix: str | None = None,
                    progress: Progress | None = None, cache: bool = True,
                    against: str | None = None) -> list[Group]:
    """Groups of near-duplicate images (only those under ``prefix`` when given), largest first.

    ``against``: only pairs between an image under ``prefix`` and one under ``against`` (which files
    of one folder already exist in another); groups then hold one image of ``prefix`` and its matches."""
    th = load_thresholds(library.model_id)
    threshold = cfg.threshold if cfg.threshold is not None else th.near_duplicate
    th = type(th)(threshold, th.similar, th.identical_bits, th.calibrated, th.notes)
    guard = min(threshold, cfg.guard if cfg.guard is not None else th.similar)

    def under(path: str, root: str | None) -> bool:
        return root is None or path.startswith(root)

    items = {r.id: r for r in library.items() if r.kind == "image"
             and (under(r.path, prefix) or (against is not None and under(r.path, against)))}
    key = _config_key(cfg, th, library.model_id)
    side = cache_path(library)
    generation = library.catalog_generation
    shas = {str(i): r.sha256 for i, r in items.items()}
    scope = hashlib.sha1(json.dumps(sorted(shas.items())).encode()).hexdigest()
    if cache:  # the small file first: unchanged catalog and scope -> the stored groups, nothing else read
        head = _read_cache(side, key)
        if (head.get("generation") == generation and head.get("scope") == scope and head.get("prefix") == prefix
                and head.get("against") == against):
            return [Group(**g) for g in head["groups"]]
    data = _read_cache(pairs_path(library), key) if cache else {}
    pairs_known: dict[str, list] = {}
    looks: dict[str, dict | None] = {}
    if data:  # keep what still describes unchanged images
        old = data.get("shas", {})
        same = {k for k, v in shas.items() if old.get(k) == v}
        pairs_known = {k: v for k, v in data.get("pairs", {}).items() if set(k.split("-")) <= same}
        looks = {k: v for k, v in data.get("looks", {}).items() if k in same}
    if len(items) < 2:
        return []
    ids = np.asarray(sorted(items), np.int64)
    describe_missing(library, ids.tolist(), progress=progress)
    vecs = library.vectors(ids)
    vec_of = dict(zip(ids.tolist(), vecs))
    k = cfg.neighbours + 1
    cand: set[tuple[int, int]] = set()
    side_a = {i for i, r in items.items() if under(r.path, prefix)}
    for start in range(0, len(ids), 4096):
        scores, nbrs = library.neighbours(vecs[start:start + 4096], k)
        for a, srow, nrow in zip(ids[start:start + 4096].tolist(), scores, nbrs):
            for s, b in zip(srow, nrow):
                b = int(b)
                if b < 0 or b == a or b not in items or s < cfg.min_cosine:
                    continue
                if against is not None and (a in side_a) == (b in side_a):
                    continue
                cand.add((min(a, b), max(a, b)))
    scorer = _PairScorer(library, vec_of, pairs_known, progress)
    scorer.score_all(sorted(cand), cfg.block)

    def look_of(i: int) -> dict | None:
        if str(i) not in looks:
            looks[str(i)] = look(items[i].path)
        return looks[str(i)]

    def edge(a: int, b: int) -> tuple[float, str | None]:
        sim, pb, db = scorer.get(a, b)
        if sim < threshold:
            return sim, None
        la, lb = look_of(a), look_of(b)
        if items[a].sha256 == items[b].sha256:
            return sim, "exact"
        if near_empty(la, cfg) or near_empty(lb, cfg):  # nothing to compare but the bytes
            return sim, None
        return sim, tier_of(sim, (pb, db), la, lb, th, cfg)

    allowed = {"exact", "copy"} | ({"variant"} if cfg.include_variants else set())
    edges = []
    strong = sorted((scorer.get(a, b)[0], a, b) for a, b in cand if scorer.get(a, b)[0] >= threshold)
    for n, (s, a, b) in enumerate(reversed(strong)):
        sim, tier = edge(a, b)
        if tier in allowed:
            edges.append((sim, TIERS.index(tier), a, b))
        if progress is not None and (n + 1) % 50 == 0:
            progress("checking looks", n + 1, len(strong))
    edges.sort(key=lambda e: (-e[0], e[1]))
    group_of = {int(i): {int(i)} for i in ids}
    tier_of_group: dict[int, int] = {}
    if against is not None:  # one group per image of the first folder: it and its matches in the other
        group_of = {}
        for s, t, a, b in edges:
            mine, other = (a, b) if a in side_a else (b, a)
            members = group_of.setdefault(mine, {mine})
            members.add(other)
            tier_of_group[id(members)] = max(t, tier_of_group.get(id(members), 0))
    for s, t, a, b in edges if against is None else []:
        ga, gb = group_of[a], group_of[b]
        if ga is gb:
            continue
        if all(scorer.get(x, y)[0] >= guard for x in ga for y in gb):  # complete linkage: no chaining
            merged = ga | gb
            tier = max(t, tier_of_group.get(id(ga), 0), tier_of_group.get(id(gb), 0))
            for m in merged:
                group_of[m] = merged
            tier_of_group[id(merged)] = tier
    groups, seen = [], set()
    for members in group_of.values():
        if len(members) < 2 or id(members) in seen:
            continue
        seen.add(id(members))
        rows = sorted((items[m] for m in members), key=lambda r: r.path)
        best = max(rows, key=lambda r: keeper_key(r.path, r.size))
        low = min(scorer.get(x.id, y.id)[0] for x in rows for y in rows if x.id < y.id)
        sizes = {}
        for r in rows:
            try:
                sizes[r.path] = list(true_size(r.path))
            except ImageError:
                sizes[r.path] = [0, 0]
        groups.append(Group([r.id for r in rows], [r.path for r in rows], best.path, low,
                            TIERS[tier_of_group.get(id(members), 1)], sizes))
    groups.sort(key=lambda g: (-len(g.ids), g.paths[0]))
    if cache:
        known_shas = {k: v for k, v in (data.get("shas", {}) | shas).items()}
        _write_cache(pairs_path(library), {"key": key, "shas": known_shas, "pairs": scorer.known, "looks": looks})
        _write_cache(side, {"key": key, "generation": generation, "scope": scope, "prefix": prefix,
                            "against": against, "groups": [asdict(g) for g in groups]})
    return groups


def cached_groups(library, cfg: DedupConfig = DedupConfig(), progress: Progress | None = None) -> list[Group]:
    """The library's duplicate groups from the sidecar cache (instant when the catalog has not changed
    since they were computed; otherwise only pairs with new or changed images are verified)."""
    return find_duplicates(library, cfg, progress=progress, cache=True)


def move_copies(groups: list[Group], dest: str | os.PathLike, keep: set[str] | None = None) -> list[tuple[str, str]]:
    """Move every non-best copy into ``dest`` (names kept, numbered on collision); returns (from, to).
    ``keep``: paths never moved (with --against: the files of the other folder)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    moved = []
    for g in groups:
        for p in g.paths:
            if p == g.best or (keep is not None and p in keep):
                continue
            target = dest / Path(p).name
            n = 1
            while target.exists():
                target = dest / f"{Path(p).stem}-{n}{Path(p).suffix}"
                n += 1
            shutil.move(p, target)
            moved.append((p, str(target)))
    return moved


def groups_html(groups: list[Group], title: str = "pixseek dedup") -> str:
    """A self-contained page (images referenced by file URL, on a checkerboard so transparent ones show)
    listing each group with its tier, the copy to keep marked."""
    parts = [f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>",
             "<style>body{font:14px sans-serif}figure{display:inline-block;margin:4px;text-align:center}"
             "img{max-width:220px;max-height:220px;background:repeating-conic-gradient(#ccc 0 25%,#fff 0 50%) "
             "0 0/16px 16px}figure.best img{outline:4px solid #2a2}</style>",
             f"<h1>{len(groups)} groups of duplicates</h1>"]
    for i, g in enumerate(groups, 1):
        parts.append(f"<h2>group {i}: {g.tier} ({len(g.paths)} files, min similarity {g.score:.3f})</h2>")
        for p in g.paths:
            cls = ' class="best"' if p == g.best else ""
            label = "keep (best)" if p == g.best else "copy"
            w, h = g.sizes.get(p, [0, 0])
            parts.append(f'<figure{cls}><img src="{html.escape(Path(p).as_uri())}"><figcaption>'
                         f"{html.escape(Path(p).name)}<br>{w}×{h} {label}</figcaption></figure>")
    return "\n".join(parts)
