"""Distributed encoding with Ray Data: ``map_batches`` over the file list with encoder actors.

Who does what:

- the driver (``pixseek index DIR --ray auto``) plans like :meth:`Library.add` (new and changed
  files only), puts the *paths* in a Ray dataset (one block per batch) and is the only writer:
  each batch that comes back is committed in one catalog transaction, then added to the index;
- each actor builds the library's encoder once (``PIXSEEK_THREADS`` threads), reads, hashes and
  decodes its batch (:func:`~pixseek.search.pipeline.decode_stream`), embeds it and, when the
  library stores region descriptors for copy detection, describes the images too.

Idempotent by construction: catalog rows are keyed by path (a file written twice keeps one row;
the replaced vector leaves the index), a batch is committed whole or not at all, and a re-run
skips the files already committed with the same size and mtime. Ray Data restarts a dead actor
and retries its batch (``max_restarts=-1``); a batch that still never came back is encoded in
this process at the end, so nothing is lost either.

On one machine the actors ask for fractional CPUs (``cpus_per_worker``, default 0.5): two
1-CPU actors on 2 cores leave no CPU for Ray's own feeder tasks and the job stalls.
"""
from __future__ import annotations

import logging
import math
import os
import pickle
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pixseek import faults
from pixseek._extras import require

import numpy as np

from pixseek.encoders.base import Embedding
from pixseek.errors import ImageError, PixseekError
from pixseek.io.video import is_video
from pixseek.search.library import IndexReport, Library
from pixseek.search.pipeline import Decoded, decode_stream

LOCAL = ("auto", "local")


@dataclass(frozen=True)
class RayConfig:
    """``address``: ``auto``/``local`` starts a Ray on this machine; anything else is passed to
    ``ray.init(address=...)`` (``ray://head:10001``, ``head:6379``): the workers must then see the
    same file paths (NFS, a mounted bucket) and have pixseek installed."""

    address: str = "auto"
    workers: int = 2
    cpus_per_worker: float = 0.5
    threads_per_worker: int = 1
    batch_size: int = 32
    object_store_bytes: int = 256 << 20  # local Ray only; paths and vectors are small


class EncodeActor:
    """One encoder per actor; ``__call__`` maps a batch of paths to vectors (Ray Data ``map_batches``)."""

    def __init__(self, record: dict, regions: bool):
        from pixseek.encoders import create_encoder

        self.encoder = create_encoder(record["name"], **record.get("options", {}))
        self.regions = regions

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        paths = [str(p) for p in batch["path"]]
        known = {p: str(s) for p, s in zip(paths, batch["known_sha"]) if s}
        decoded = list(decode_stream(paths, self.encoder.preprocess, known_sha=known, workers=2, prefetch=8))
        good = [i for i, d in enumerate(decoded) if d.pixels is not None]
        vectors = np.zeros((len(decoded), self.encoder.embed_dim), np.float32)
        probs = None
        if good:
            emb = self.encoder.embed_pixels(np.stack([decoded[i].pixels for i in good]))
            vectors[good] = emb.vectors
            if emb.probs is not None:
                probs = np.zeros((len(decoded), emb.probs.shape[1]), np.float32)
                probs[good] = emb.probs
        regions = [b""] * len(decoded)
        if self.regions:
            from pixseek.compare.regions import DEFAULT, describe
            from pixseek.io import load_image

            for i in good:
                try:
                    regions[i] = pickle.dumps(describe(self.encoder, load_image(paths[i], min_side=DEFAULT.long_side)))
                except ImageError:
                    pass
        out = {
            "path": np.asarray(paths, dtype=object),
            "sha256": np.asarray([d.sha256 for d in decoded], dtype=object),
            "size": np.asarray([d.size for d in decoded], np.int64),
            "mtime_ns": np.asarray([d.mtime_ns for d in decoded], np.int64),
            "width": np.asarray([d.width for d in decoded], np.int64),
            "height": np.asarray([d.height for d in decoded], np.int64),
            "unchanged": np.asarray([d.unchanged for d in decoded], bool),
            "error_kind": np.asarray([d.error.kind if d.error else "" for d in decoded], dtype=object),
            "error_cause": np.asarray([d.error.cause if d.error else "" for d in decoded], dtype=object),
            "vector": vectors,
            "regions": np.asarray(regions, dtype=object),
        }
        if probs is not None:
            out["probs"] = probs
        faults.point("ray.actor.after_encode")  # tests: an actor dies holding a batch the driver never got
        return out


def _decoded(out: dict[str, np.ndarray], i: int) -> Decoded:
    error = None
    if out["error_kind"][i]:
        error = ImageError(str(out["path"][i]), str(out["error_cause"][i]))
        error.kind = str(out["error_kind"][i])  # keep the worker's error type name in the report
    return Decoded(str(out["path"][i]), None, str(out["sha256"][i]), int(out["size"][i]), int(out["mtime_ns"][i]),
                   int(out["width"][i]), int(out["height"][i]), error=error, unchanged=bool(out["unchanged"][i]))


def start_ray(cfg: RayConfig) -> None:
    """Connect to (or start) Ray once per process; usage statistics off."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray = require("scale", "ray", "pyarrow", feature="encoding on Ray (--ray)")

    if ray.is_initialized():
        return
    env = {"PIXSEEK_THREADS": str(cfg.threads_per_worker), "OMP_NUM_THREADS": str(cfg.threads_per_worker),
           "RAY_USAGE_STATS_ENABLED": "0"}
    if os.environ.get("PIXSEEK_CACHE"):
        env["PIXSEEK_CACHE"] = os.environ["PIXSEEK_CACHE"]
    kwargs = {"runtime_env": {"env_vars": env}, "log_to_driver": False, "configure_logging": False}
    try:
        if cfg.address in LOCAL:
            ray.init(address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False,  # a new one, ours
                     object_store_memory=cfg.object_store_bytes, **kwargs)
        else:
            ray.init(address=cfg.address, **kwargs)
    except Exception as exc:  # ray raises ConnectionError, RuntimeError, ValueError... name the address
        raise PixseekError(f"ray at '{cfg.address}': cannot start or connect ({exc})") from exc
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # pixseek draws its own
    ctx.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def ray_strategy(cfg: RayConfig = RayConfig()):
    """An encoding strategy for :meth:`Library.ingest`: the images are encoded by Ray actors and each
    batch that comes back is committed by the library (its one write path); videos stay in-process."""

    def encode(lib: Library, todo: list[str], known: dict, report: IndexReport, progress) -> None:
        total, done = len(todo), 0
        seen: set[str] = set()
        if todo:
            start_ray(cfg)
            import ray

            regions = bool(lib.extras)  # the library describes regions per image (pixseek.compare): so do the actors
            if regions:
                from pixseek.compare.regions import RegionStore

                store = RegionStore(lib)
            items = [{"path": p, "known_sha": known[p].sha256 if p in known else ""} for p in todo]
            ds = ray.data.from_items(items, override_num_blocks=max(1, math.ceil(len(items) / cfg.batch_size)))
            fault = faults.forwarded_env()  # a test's fault point inside the actors (merged into the job's env)
            ds = ds.map_batches(EncodeActor, fn_constructor_kwargs={"record": lib.encoder.config.record(),
                                                                    "regions": regions},
                                batch_size=cfg.batch_size, batch_format="numpy",
                                compute=ray.data.ActorPoolStrategy(size=cfg.workers), num_cpus=cfg.cpus_per_worker,
                                **({"runtime_env": {"env_vars": fault}} if fault else {}))
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*minimum number of concurrent actors.*")  # few batches
                for out in ds.iter_batches(batch_size=None, batch_format="numpy"):
                    batch = [_decoded(out, i) for i in range(len(out["path"]))]
                    fresh = [i for i, d in enumerate(batch)
                             if d.error is None and not d.unchanged and d.path not in seen]
                    batch = [d for d in batch if d.path not in seen]  # a batch delivered twice is written once
                    probs = out["probs"][fresh] if "probs" in out else None
                    added = lib.commit(batch, Embedding(out["vector"][fresh], probs), known, report, extras=False)
                    if regions:
                        store.put((vid, pickle.loads(out["regions"][i]))
                                  for vid, i in zip(added, fresh) if out["regions"][i])
                    seen.update(d.path for d in batch)
                    done += len(batch)
                    if progress:
                        progress(done, total)
        missing = [p for p in todo if p not in seen]
        if missing:  # never came back from the cluster: encode here rather than lose them
            lib.encode_local(missing, known, report, None)

    return encode


def ray_add(lib: Library, source: str | os.PathLike | Sequence[str | os.PathLike], cfg: RayConfig = RayConfig(), *,
            prune: bool = True, progress: Callable[[int, int], None] | None = None) -> IndexReport:
    """:meth:`Library.ingest` with the encoding done by Ray actors."""
    return lib.ingest(source, prune=prune, progress=progress, encode=ray_strategy(cfg))
