"""Near-duplicate groups in a library: k-NN candidate pairs, verified by region matching, grouped
by connected components of near-duplicate edges with a complete-linkage guard against chaining
(two groups join only if every cross pair is at least "similar", so A~B~C never joins an A and a C
that are different pictures). Never deletes anything."""
from __future__ import annotations

import html
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pixseek.compare.copies import CopyConfig
from pixseek.compare.regions import ensure_regions
from pixseek.compare.verdict import load_thresholds, pair_similarity


@dataclass(frozen=True)
class DedupConfig:
    neighbours: int = 10  # k of the k-NN graph the candidate pairs come from
    min_cosine: float = 0.3  # global cosine below which a k-NN pair is not even verified
    threshold: float | None = None  # near-duplicate similarity; default: the calibrated one for the model
    guard: float | None = None  # every pair inside a group must reach this; default: the calibrated "similar"


@dataclass
class Group:
    ids: list[int]
    paths: list[str]
    best: str  # the copy to keep: largest resolution, then largest file
    score: float  # the lowest similarity between two members

    def to_dict(self) -> dict:
        return {"paths": self.paths, "ids": self.ids, "best": self.best, "score": round(self.score, 6)}


def find_duplicates(library, cfg: DedupConfig = DedupConfig(), prefix: str | None = None) -> list[Group]:
    """Groups of near-duplicate images (only those under ``prefix`` when given), largest first."""
    th = load_thresholds(library.model_id)
    threshold = cfg.threshold if cfg.threshold is not None else th.near_duplicate
    guard = min(threshold, cfg.guard if cfg.guard is not None else th.similar)
    items = {r.id: r for r in library.catalog.items() if r.kind == "image"
             and (prefix is None or r.path.startswith(prefix))}
    if len(items) < 2:
        return []
    ids = np.asarray(sorted(items), np.int64)
    vecs = library.catalog.get_vectors(ids, library.dim)
    vec_of = dict(zip(ids.tolist(), vecs))
    k = min(cfg.neighbours + 1, library.index.ntotal)
    scores, nbrs = library.index.search(vecs, k)
    cand = {(min(a, int(b)), max(a, int(b))) for a, srow, nrow in zip(ids.tolist(), scores, nbrs)
            for s, b in zip(srow, nrow) if b >= 0 and int(b) != a and int(b) in items and s >= cfg.min_cosine}
    regions = ensure_regions(library, sorted({i for p in cand for i in p}))
    cache: dict[tuple[int, int], float] = {}

    def sim(a: int, b: int) -> float:
        key = (min(a, b), max(a, b))
        if key not in cache:
            ra, rb = regions.get(key[0]), regions.get(key[1])
            cache[key] = -1.0 if ra is None or rb is None else pair_similarity(
                [ra], vec_of[key[0]], [rb], vec_of[key[1]], CopyConfig())[0]
        return cache[key]

    edges = sorted(((sim(a, b), a, b) for a, b in cand), reverse=True)
    group_of = {int(i): {int(i)} for i in ids}
    for s, a, b in edges:
        if s < threshold:
            break
        ga, gb = group_of[a], group_of[b]
        if ga is gb:
            continue
        if all(sim(x, y) >= guard for x in ga for y in gb):  # complete linkage on the guard: no chaining
            merged = ga | gb
            for m in merged:
                group_of[m] = merged
    groups, seen = [], set()
    for members in group_of.values():
        if len(members) < 2 or id(members) in seen:
            continue
        seen.add(id(members))
        rows = sorted((items[m] for m in members), key=lambda r: r.path)
        best = max(rows, key=lambda r: ((r.width or 0) * (r.height or 0), r.size))
        low = min(sim(x.id, y.id) for x in rows for y in rows if x.id < y.id)
        groups.append(Group([r.id for r in rows], [r.path for r in rows], best.path, low))
    return sorted(groups, key=lambda g: (-len(g.ids), g.paths[0]))


def move_copies(groups: list[Group], dest: str | os.PathLike) -> list[tuple[str, str]]:
    """Move every non-best copy into ``dest`` (names kept, numbered on collision); returns (from, to)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    moved = []
    for g in groups:
        for p in g.paths:
            if p == g.best:
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
    """A self-contained page (images referenced by file URL) listing each group, best copy marked."""
    parts = [f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>",
             "<style>body{font:14px sans-serif}figure{display:inline-block;margin:4px;text-align:center}"
             "img{max-width:220px;max-height:220px}figure.best img{outline:4px solid #2a2}</style>",
             f"<h1>{len(groups)} groups of near-duplicates</h1>"]
    for i, g in enumerate(groups, 1):
        parts.append(f"<h2>group {i} ({len(g.paths)} files, min similarity {g.score:.3f})</h2>")
        for p in g.paths:
            cls = ' class="best"' if p == g.best else ""
            label = "keep (best)" if p == g.best else "copy"
            parts.append(f'<figure{cls}><img src="{html.escape(Path(p).as_uri())}"><figcaption>'
                         f"{html.escape(Path(p).name)}<br>{label}</figcaption></figure>")
    return "\n".join(parts)
