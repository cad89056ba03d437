"""Learn a copy-detection projection of the encoder's descriptors on split "cal" only (issue 4).

    .venv/bin/python bench/train_copy_projection.py    # learned whitening 1280 -> 256 on cal, evaluated on
                                                       # dev seeds 0-2, written to src/pixseek/compare/data/
    .venv/bin/python bench/train_copy_projection.py --no-write --method pcaw    # PCA whitening (unsupervised)
    .venv/bin/python bench/train_copy_projection.py --no-write --method ntxent  # + NT-Xent fine-tuning

Training pairs come only from pictures of split "cal" (bench/datasets/photos.py, seeds ``--cal-seeds``),
edited with the photos.py families: positives = an edited copy and its original (global vectors, whole-
image regions, and each query region with its best-matching region of the original), negatives = other
pictures. Dev pictures are never used for fitting: dev descriptors are read only by ``evaluate``, which
scores the copydetect dev sets offline (same scoring as bench/copydetect.py, region re-ranking of the
whole index) with and without the projection. Descriptors are cached under bench/data/copydet-*/.
"""
from __future__ import annotations

import argparse
import json
import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.datasets import photos  # noqa: E402
from pixseek.compare.copies import CopyConfig  # noqa: E402
from pixseek.compare.hashes import hamming  # noqa: E402
from pixseek.compare.projection import projection_file  # noqa: E402
from pixseek.compare.regions import RegionStore, describe_query  # noqa: E402
from pixseek.preprocess import load_for  # noqa: E402
from pixseek.search.wiring import open_library  # noqa: E402


def descriptors(split: str, seed: int) -> dict:
    """Global vectors and regions of a copydetect set, computed exactly as bench/copydetect.py does (cached)."""
    root = photos.build(split, seed)
    cache = root / "descriptors.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    manifest = json.loads((root / "manifest.json").read_text())
    lib = open_library(Path(tempfile.mkdtemp(prefix="copyproj-")) / "lib.db")
    lib.add(root / "db")
    ids, vecs = next(lib.catalog.iter_vectors(lib.dim, batch=1 << 20))
    rows = lib.catalog.vector_rows(ids.tolist())
    names = [Path(rows[int(i)].path).name for i in ids]
    stored = RegionStore(lib).get(ids.tolist())
    pack = lambda rs: [(r.feats.astype(np.float16), r.phash, r.dhash) for r in rs]  # noqa: E731
    db = {"names": names, "vecs": vecs.astype(np.float32), "regions": [pack([stored[int(i)]])[0] for i in ids],
          "as_query": [pack(describe_query(lib.encoder, load_for(lib.encoder.preprocess, rows[int(i)].path)))
                       for i in ids]}
    qs = []
    for q in manifest["queries"]:
        im = load_for(lib.encoder.preprocess, root / "queries" / q["file"])
        qs.append({**q, "vec": lib.embed([im])[0].astype(np.float32), "regions": pack(describe_query(lib.encoder, im))})
    lib.close()
    out = {"split": split, "seed": seed, "db": db, "queries": qs}
    cache.write_bytes(pickle.dumps(out))
    return out


# -- projections ------------------------------------------------------------------------------------
def l2n(x: np.ndarray) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-12)


def training_pairs(sets: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(anchors, positives, "seed/picture" key of each pair, all descriptors) from cal sets."""
    a, p, lab, alld = [], [], [], []
    for s in sets:
        idx = {n: i for i, n in enumerate(s["db"]["names"])}
        for r in s["db"]["regions"]:
            alld.append(r[0].astype(np.float32))
        alld.append(s["db"]["vecs"])
        for q in s["queries"]:
            i = idx[q["source"]]
            key = f"{s['seed']}/{q['source']}"
            src_r = s["db"]["regions"][i][0].astype(np.float32)
            qr = q["regions"][0][0].astype(np.float32)
            if q["family"] == "flip" or "flip" in (q.get("chain") or ""):
                qr = q["regions"][1][0].astype(np.float32)  # the mirrored query lines up with the original
            alld.append(qr)
            a += [q["vec"], qr[0]]
            p += [s["db"]["vecs"][i], src_r[0]]
            lab += [key, key]
            sims = qr[1:] @ src_r.T
            best = sims.argmax(axis=1)
            back = sims.argmax(axis=0)
            for j, b in enumerate(best):  # mutual best region pairs
                if back[b] == j and sims[j, b] > 0.5:
                    a.append(qr[1 + j])
                    p.append(src_r[b])
                    lab.append(key)
    return np.asarray(a), np.asarray(p), np.asarray(lab), np.concatenate(alld)


def fit_pcaw(alld: np.ndarray, dim: int, shrink: float) -> tuple[np.ndarray, np.ndarray]:
    mu = alld.mean(0)
    c = np.cov((alld - mu).T)
    ev, evec = np.linalg.eigh(c)
    order = np.argsort(-ev)[:dim]
    ev, evec = ev[order], evec[:, order]
    w = evec / np.sqrt(ev + shrink * ev.mean())
    return mu.astype(np.float32), w.astype(np.float32)


def fit_lw(a: np.ndarray, p: np.ndarray, alld: np.ndarray, dim: int, shrink: float) -> tuple[np.ndarray, np.ndarray]:
    """Learned whitening (Radenović et al. 2018): whiten the within-pair scatter, then PCA of the rest."""
    mu = alld.mean(0)
    d = a - p
    cs = d.T @ d / len(d)
    cs += shrink * np.trace(cs) / cs.shape[0] * np.eye(cs.shape[0])
    ev, evec = np.linalg.eigh(cs)
    p1 = evec / np.sqrt(ev)  # x -> (x - mu) @ p1
    x = (alld - mu) @ p1
    cd = np.cov(x.T)
    ev2, evec2 = np.linalg.eigh(cd)
    order = np.argsort(-ev2)[:dim]
    return mu.astype(np.float32), (p1 @ evec2[:, order]).astype(np.float32)


def fit_ntxent(a, p, init: tuple[np.ndarray, np.ndarray], epochs: int, temp: float, lr: float, seed: int = 0):
    """Fine-tune the linear map with NT-Xent (InfoNCE, SimCLR / SSCD style): each (copy, original) pair is
    its own class, every other descriptor of the batch a negative. Written out as a cross-entropy over the
    batch similarity matrix (pytorch-metric-learning's NTXentLoss builds a positives x negatives mask,
    ~4 GB at these batch sizes)."""
    import torch

    torch.manual_seed(seed)
    mu, w0 = init
    w = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    mu_t = torch.from_numpy(mu)
    at, pt = torch.from_numpy(a.astype(np.float32)), torch.from_numpy(p.astype(np.float32))
    opt = torch.optim.Adam([w], lr=lr)
    n, bs = len(at), 512
    emb = lambda x: torch.nn.functional.normalize((x - mu_t) @ w, dim=1)  # noqa: E731
    for ep in range(epochs):
        perm = torch.randperm(n)
        tot = 0.0
        for s in range(0, n, bs):
            b = perm[s:s + bs]
            z = torch.cat([emb(at[b]), emb(pt[b])])
            sim = z @ z.T / temp
            sim.fill_diagonal_(float("-inf"))
            m = len(b)
            target = torch.cat([torch.arange(m, 2 * m), torch.arange(m)])
            loss = torch.nn.functional.cross_entropy(sim, target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * m
        if ep % 5 == 0 or ep == epochs - 1:
            print(f"  epoch {ep}: loss {tot / n:.4f}", flush=True)
    return mu, w.detach().numpy()


# -- offline copydetect scoring ---------------------------------------------------------------------
def project(x: np.ndarray, proj) -> np.ndarray:
    x = x.astype(np.float32)
    if proj is None:
        return x
    mu, w = proj
    return l2n((x - mu) @ w)


def region_score(qfeats: list[np.ndarray], ref: np.ndarray) -> float:
    best = 0.0
    for q in qfeats:
        sims = q @ ref.T
        best = max(best, 0.5 * float(sims.max()) + 0.5 * float(sims.max(axis=1).mean()))
    return best


def average_precision(scores, labels) -> float:
    order = np.argsort(-scores, kind="stable")
    hits = labels[order].astype(np.float64)
    prec = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((prec * hits).sum() / hits.sum())


def evaluate(s: dict, proj, cfg: CopyConfig = CopyConfig()) -> dict:
    """R@1 / mAP per family (global alone and region re-ranked) of one cached set under ``proj``."""
    names = s["db"]["names"]
    vecs = project(s["db"]["vecs"], proj)
    refs = [project(r[0], proj) for r in s["db"]["regions"]]
    per: dict[str, dict[str, list]] = {}
    for q in s["queries"]:
        qv = project(q["vec"], proj)
        qf = [project(r[0], proj) for r in q["regions"]]
        g = vecs @ qv
        r = np.array([1.0 if hamming(q["regions"][0][1], s["db"]["regions"][i][1]) <= cfg.hash_bits else
                      cfg.global_weight * g[i] + (1 - cfg.global_weight) * region_score(qf, refs[i])
                      for i in range(len(names))])
        labels = np.array([n == q["source"] for n in names])
        fam = per.setdefault(q["family"], {"global": [], "region": []})
        for kind, sc in (("global", g), ("region", r)):
            rank = int((sc > sc[labels][0]).sum()) + 1
            fam[kind].append((rank == 1, 1.0 / rank))
    out = {}
    for kind in ("global", "region"):
        single = np.array([x for f, d in per.items() if f != "combo" for x in d[kind]])
        combo = np.array(per["combo"][kind])
        alls = np.concatenate([single, combo])
        out[kind] = {"R@1 all": alls[:, 0].mean(), "mAP combo": combo[:, 1].mean(), "R@1 single": single[:, 0].mean(),
                     "mAP single": single[:, 1].mean()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", choices=["pcaw", "lw", "ntxent"], default="lw")
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--shrink", type=float, default=0.1)
    ap.add_argument("--cal-seeds", type=int, nargs="+", default=[1, 10, 11, 12])
    ap.add_argument("--dev-seeds", type=int, nargs="*", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--temp", type=float, default=0.1)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--no-write", action="store_true", help="evaluate only; do not write the package's projection file")
    ap.add_argument("--extract-only", action="store_true")
    args = ap.parse_args()
    cal = [descriptors("cal", s) for s in args.cal_seeds]
    dev = [descriptors("dev", s) for s in args.dev_seeds]
    if args.extract_only:
        return
    a, p, lab, alld = training_pairs(cal)
    print(f"training: {len(a)} positive pairs over {len(np.unique(lab))} (seed, picture) keys, {len(alld)} descriptors")
    if args.method == "pcaw":
        proj = fit_pcaw(alld, args.dim, args.shrink)
    else:
        proj = fit_lw(a, p, alld, args.dim, args.shrink)
        if args.method == "ntxent":
            proj = fit_ntxent(a, p, proj, args.epochs, args.temp, args.lr)
    if not args.no_write:
        with open_library(Path(tempfile.mkdtemp(prefix="copyproj-")) / "m.db") as lib:
            model_id = lib.model_id
        path = Path(str(projection_file(model_id)))
        np.savez(path, mean=proj[0].astype(np.float32), matrix=proj[1].astype(np.float32))
        print(f"wrote {path}: {model_id}, {args.method} {proj[1].shape[0]} -> {proj[1].shape[1]}")
    for s in dev:
        base, new = evaluate(s, None), evaluate(s, proj)
        for kind in ("global", "region"):
            print(f"dev seed {s['seed']} {kind:6s}: " + ", ".join(
                f"{k} {base[kind][k]:.3f} -> {new[kind][k]:.3f}" for k in base[kind]), flush=True)


if __name__ == "__main__":
    main()
