"""Copy detection: a global k-NN shortlist re-ranked by region-to-region matching, as a cascade.

Per batch of queries (:func:`copy_search`):

1. **global** -- the queries are embedded in one batch and searched like a plain search (``shortlist``
   hits); the shortlist is scored on the copy-detection projection of the global vectors, and a stored
   pHash within ``hash_bits`` of the query's counts as a trivial copy (score 1). When the plain search is
   confident (top-1 cosine >= ``skip_score`` and ahead of the second by >= ``skip_margin``) or a candidate
   is a pHash copy, the query stops here: no region is described.
2. **regions** -- the query is described at 384 px as is and mirrored (one batched forward pass) and
   matched against all its candidates' regions at once (one matrix product over the stacked, projected
   region descriptors, reduced per candidate). When the plain search's lead is >= ``rotation_margin``
   the query stops here.
3. **rotations** -- the query is also described de-rotated by each of ``rotations`` degrees.

The thresholds were fitted on the copydetect split "cal" only (``bench/copydetect.py --fit-cascade``);
``cascade=False`` runs every stage for every query (the pre-cascade behaviour). Candidates' stored regions
are loaded and projected once per call, however many queries share them.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from pixseek.compare.hashes import phash
from pixseek.compare.projection import Projection, load_projection
from pixseek.compare.regions import DEFAULT, RegionConfig, Regions, RegionStore, describe_variants, ensure_regions
from pixseek.preprocess import load_for
from pixseek.search import Hit

Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass(frozen=True)
class CopyConfig:
    shortlist: int = 100  # global candidates re-ranked by regions
    global_weight: float = 0.2  # fused score = w * global cosine + (1 - w) * region score
    hash_bits: int = 4  # pHash distance at or under which a candidate is a trivial copy (score 1)
    regions: RegionConfig = DEFAULT
    projected: bool = True  # rank copies on the model's shipped copy-detection projection, when it has one
    # the query is also described de-rotated by these angles (copy ranking only; compare's verdict is
    # calibrated without them): dev combos mAP 0.939 -> 0.973 and 0.930 -> 0.951 on seeds 3 and 5
    rotations: tuple[float, ...] = (15.0, -15.0)
    # the cascade (fitted on split "cal", bench/copydetect.py --fit-cascade); cascade=False: every stage always
    cascade: bool = True
    # decided on the raw global cosines of the shortlist (the plain search's own scores: nothing of them was
    # fitted on split "cal", unlike the projection, so thresholds fitted there hold elsewhere)
    # cal seed 1: no query the global stage ranks wrong leads by more than 0.034; the margin is twice that,
    # rounded up (R@1 and combos mAP there as with every stage; 86 % of its queries stop at the global stage)
    skip_score: float = 0.5  # top-1 global cosine at or above which ...
    skip_margin: float = 0.08  # ... with this lead over the second candidate, regions are skipped
    # not fitted (the projection was fitted on the cal pictures, where no copy needs them): with regions,
    # the de-rotated variants always run (a lead >= 1 never happens)
    rotation_margin: float = 1.0
    batch: int = 32  # queries embedded / described per batch


@dataclass
class CascadeStats:
    """How many queries stopped at each stage (global | regions | rotations)."""
    stopped: dict[str, int] = field(default_factory=lambda: {"global": 0, "regions": 0, "rotations": 0})

    def to_dict(self) -> dict:
        n = sum(self.stopped.values())
        return {"queries": n, "stopped": dict(self.stopped),
                "expensive_rate": round((n - self.stopped["global"]) / n, 4) if n else 0.0}


def projection_for(model_id: str, cfg: CopyConfig) -> Projection | None:
    return load_projection(model_id) if cfg.projected else None


def region_score(query: list[Regions], ref: Regions) -> float:
    """How well ``query`` (its variants: as is, mirrored, de-rotated) is found inside ``ref`` or ``ref`` inside it:
    half the best region pair, half the mean best match of the query's regions, best variant."""
    best = 0.0
    for q in query:
        sims = q.feats @ ref.feats.T
        best = max(best, 0.5 * float(sims.max()) + 0.5 * float(sims.max(axis=1).mean()))
    return best


def fuse(global_cos, regional, cfg: CopyConfig):
    return cfg.global_weight * global_cos + (1 - cfg.global_weight) * regional


class RefBank:
    """Candidates' projected region descriptors stacked in one matrix (row block ``i`` is candidate ``ids[i]``)."""

    def __init__(self, feats: dict[int, np.ndarray]):
        self.ids = np.asarray(sorted(feats), np.int64)
        self.pos = {int(v): i for i, v in enumerate(self.ids)}
        blocks = [feats[int(v)] for v in self.ids]
        self.counts = np.asarray([len(f) for f in blocks], np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)
        self.feats = np.concatenate(blocks) if blocks else np.zeros((0, 1), np.float32)

    def region_scores(self, variants: list[np.ndarray], ids: Sequence[int]) -> np.ndarray:
        """(variants of projected query regions, candidate ids) -> region score per candidate, best variant:
        one product of all the query's regions with all the candidates' regions, reduced per candidate."""
        if not len(ids):
            return np.zeros(0, np.float32)
        cand = np.asarray([self.pos[int(i)] for i in ids], np.int64)
        counts = self.counts[cand]
        idx = np.concatenate([np.arange(s, s + c) for s, c in zip(self.starts[cand], counts)])
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        q = np.concatenate(variants)
        best_per_row = np.maximum.reduceat(q @ self.feats[idx].T, starts, axis=1)  # (query rows, candidates)
        out, at = np.zeros(len(cand), np.float32), 0
        for v in variants:
            block = best_per_row[at:at + len(v)]
            at += len(v)
            out = np.maximum(out, 0.5 * block.max(axis=0) + 0.5 * block.mean(axis=0))
        return out


def _project(x: np.ndarray, proj: Projection | None) -> np.ndarray:
    return proj.vectors(x) if proj is not None else np.asarray(x, np.float32)


def project_regions(refs: dict[int, Regions], proj: Projection | None) -> dict[int, np.ndarray]:
    """Each reference's region descriptors on the projection, in one matrix product for all of them."""
    ids = list(refs)
    if not ids:
        return {}
    flat = _project(np.concatenate([refs[i].feats for i in ids]), proj)
    cuts = np.cumsum([len(refs[i].feats) for i in ids])[:-1]
    return dict(zip(ids, np.split(flat, cuts)))


def hash_copies(q_phash: int, ref_phash: np.ndarray, bits: int) -> np.ndarray:
    """Which of ``ref_phash`` (int64; -1 = none stored) are within ``bits`` of the query's pHash."""
    dist = np.bitwise_count(np.bitwise_xor(ref_phash, np.int64(q_phash)).view(np.uint64))
    return (dist <= bits) & (ref_phash != -1)


def margin(scores: np.ndarray) -> tuple[float, float]:
    """(best score, its lead over the second best)."""
    if len(scores) == 0:
        return 0.0, 0.0
    top = np.sort(scores)[::-1]
    return float(top[0]), float(top[0] - (top[1] if len(top) > 1 else -1.0))


class _Candidates:
    """What one copy_search call has read about candidates (global vectors, pHashes, projected regions),
    kept across its batches up to ``limit`` images (then dropped and read again as needed)."""

    def __init__(self, library, cfg: CopyConfig, proj: Projection | None, progress: Progress | None,
                 limit: int = 20000):
        self.library, self.cfg, self.proj, self.progress, self.limit = library, cfg, proj, progress, limit
        self.store = RegionStore(library)
        self.vecs: dict[int, np.ndarray] = {}
        self.phash: dict[int, int] = {}
        self.feats: dict[int, np.ndarray] = {}

    def global_view(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(projected global vectors, stored pHashes or -1) of ``ids``."""
        if len(self.vecs) > self.limit:
            self.vecs, self.phash = {}, {}
        new = [i for i in ids if i not in self.vecs]
        if new:
            arr = np.asarray(new, np.int64)
            self.vecs.update(zip(new, _project(self.library.vectors(arr), self.proj)))
            self.phash.update({i: -1 for i in new} | self.store.phashes(new))
        return np.stack([self.vecs[i] for i in ids]), np.asarray([self.phash[i] for i in ids], np.int64)

    def bank(self, ids: set[int]) -> RefBank:
        """Projected regions of ``ids`` (described now, with progress, where not stored yet)."""
        if len(self.feats) > self.limit:
            self.feats = {}
        new = sorted(ids - set(self.feats))
        if new:
            refs = ensure_regions(self.library, new, self.cfg.regions, progress=self.progress)
            self.feats.update(project_regions(refs, self.proj))
            self.phash.update({i: r.phash for i, r in refs.items()})
        return RefBank({i: self.feats[i] for i in ids if i in self.feats})


def copy_search(library, queries: Sequence[str | os.PathLike | Image.Image], k: int = 10,
                cfg: CopyConfig = CopyConfig(), progress: Progress | None = None,
                stats: CascadeStats | None = None) -> list[list[Hit]]:
    """For each query, the stored images it is most likely a (possibly heavily edited) copy of, best first.

    Queries are embedded, searched and described in batches of ``cfg.batch``; ``progress(what, done, total)``
    is called as queries finish and while candidates' regions are described on first use; ``stats`` (when
    given) counts where the cascade stopped. Hits of queries that stop at the global stage are scored by
    their projected global cosine (or 1 for a pHash copy), the others by the fused region score.
    Raises :class:`~pixseek.errors.ImageError` naming the file for an unreadable query."""
    stats = stats if stats is not None else CascadeStats()
    proj = projection_for(library.model_id, cfg)
    seen = _Candidates(library, cfg, proj, progress)
    out: list[list[Hit]] = []
    for start in range(0, len(queries), cfg.batch):
        ims = [q if isinstance(q, Image.Image) else load_for(library.encoder.preprocess, q)
               for q in queries[start:start + cfg.batch]]
        qvecs = library.embed(ims)
        shortlists = library.query(qvecs, cfg.shortlist, stack=False)  # every copy is a candidate
        pq = _project(qvecs, proj)
        # stage 1 for the whole batch: projected global cosines and stored pHashes
        first = []
        for im, q, hits in zip(ims, pq, shortlists):
            ids = [h.id for h in hits if h.kind == "image"]
            if not ids:
                first.append((ids, None, None, True))
                continue
            vecs, hashes = seen.global_view(ids)
            g = vecs @ q
            qhash = phash(im)
            trivial = hash_copies(qhash, hashes, cfg.hash_bits)
            top, lead = margin(np.asarray([h.score for h in hits if h.kind == "image"], np.float32))
            done = cfg.cascade and (bool(trivial.any()) or (top >= cfg.skip_score and lead >= cfg.skip_margin))
            first.append((ids, g, (qhash, lead) if not done else trivial, done))
        need = {i for ids, _, _, done in first if not done for i in ids}
        bank = seen.bank(need) if need else None
        for im, hits, (ids, g, trivial, done) in zip(ims, shortlists, first):
            scores: dict[int, float] = {}
            if g is None:
                stats.stopped["global"] += 1
            elif done:
                stats.stopped["global"] += 1
                scores = dict(zip(ids, np.where(trivial, 1.0, g).tolist()))
            else:  # pHashes again: candidates described just now have theirs
                qhash, lead = trivial
                hashes = np.asarray([seen.phash.get(i, -1) for i in ids], np.int64)
                scores = _regions_stage(library, im, ids, g, hash_copies(qhash, hashes, cfg.hash_bits), lead,
                                        bank, cfg, proj, stats)
            for h in hits:
                h.score = scores.get(h.id, h.score if g is None else -1.0)  # -1: a file whose regions are unreadable
            hits.sort(key=lambda h: -h.score)
            out.append(hits[:k])
        if progress is not None:
            progress("copy search", len(out), len(queries))
    return out


def _regions_stage(library, im: Image.Image, ids: list[int], g: np.ndarray, trivial: np.ndarray, lead: float,
                   bank: RefBank, cfg: CopyConfig, proj: Projection | None, stats: CascadeStats) -> dict[int, float]:
    keep = [j for j, i in enumerate(ids) if i in bank.pos]
    ids, g, trivial = [ids[j] for j in keep], g[keep], trivial[keep]
    if not ids:
        stats.stopped["regions"] += 1
        return {}
    variants = describe_variants(library.encoder, im, cfg.regions)
    regional = bank.region_scores([_project(v.feats, proj) for v in variants], ids)
    score = np.where(trivial, 1.0, fuse(g, regional, cfg))
    stage = "regions"
    if cfg.rotations and (not cfg.cascade or lead < cfg.rotation_margin):
        turned = describe_variants(library.encoder, im, cfg.regions, cfg.rotations, plain=False)
        regional = np.maximum(regional, bank.region_scores([_project(v.feats, proj) for v in turned], ids))
        score = np.where(trivial, 1.0, fuse(g, regional, cfg))
        stage = "rotations"
    stats.stopped[stage] += 1
    return dict(zip(ids, score.tolist()))


def search_copies(library, query: str | os.PathLike | Image.Image, k: int = 10,
                  cfg: CopyConfig = CopyConfig()) -> list[Hit]:
    """One query's :func:`copy_search`."""
    return copy_search(library, [query], k, cfg)[0]


def copy_scores(q: list[Regions], qvec: np.ndarray, refs: dict[int, Regions], ref_vecs: dict[int, np.ndarray],
                cfg: CopyConfig = CopyConfig(), proj: Projection | None = None) -> dict[int, float]:
    """Fused copy score of one query (all its variants, no cascade) against given references,
    on descriptors projected by ``proj`` when given."""
    if not refs:
        return {}
    ids = sorted(refs)
    bank = RefBank(project_regions({i: refs[i] for i in ids}, proj))
    g = _project(np.stack([ref_vecs[i] for i in ids]), proj) @ _project(qvec, proj)
    regional = bank.region_scores([_project(r.feats, proj) for r in q], ids)
    hashes = np.asarray([refs[i].phash for i in ids], np.int64)
    score = np.where(hash_copies(q[0].phash, hashes, cfg.hash_bits), 1.0, fuse(g, regional, cfg))
    return dict(zip(ids, score.tolist()))
