"""Decode in worker threads while the encoder runs: bounded prefetch, so memory stays flat."""
from __future__ import annotations

import hashlib
import io
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from pixseek.errors import ImageError
from pixseek.io import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_PIXELS, load_image, read_bounded
from pixseek.io.colours import image_colours
from pixseek.io.hashes import phash
from pixseek.io.metadata import read_metadata
from pixseek.preprocess import PreprocessConfig, build_transform
from pixseek.types import Decoded  # noqa: F401  (re-exported: defined in the leaf module)

MAX_FILE_BYTES = DEFAULT_MAX_FILE_BYTES  # 512 MiB


def read_and_decode(path: str, transform, cfg: PreprocessConfig, known_sha: str | None = None,
                    max_pixels: int = DEFAULT_MAX_PIXELS) -> Decoded:
    """Read the file once: hash its bytes, then decode and preprocess them.

    Only regular files are opened (checked by ``stat`` first; non-blocking open), at most
    ``MAX_FILE_BYTES`` are read, and a name that cannot be stored (not UTF-8, too long) is reported
    here rather than failing the catalog write: every problem comes back as ``Decoded.error``."""
    try:
        data, st = read_bounded(path, MAX_FILE_BYTES)
    except ImageError as err:
        return Decoded(path, None, "", 0, 0, error=err)
    sha = hashlib.sha256(data).hexdigest()
    if known_sha is not None and sha == known_sha:
        return Decoded(path, None, sha, st.st_size, st.st_mtime_ns, unchanged=True)
    try:
        im = load_image(path, data=io.BytesIO(data), max_pixels=max_pixels, min_side=cfg.min_decode_side,
                        background=cfg.background)
        meta = read_metadata(path, data).columns()  # the true size (not the draft decode's), date taken, camera...
    except ImageError as err:
        return Decoded(path, None, sha, st.st_size, st.st_mtime_ns, error=err)
    w, h = meta.pop("width") or im.width, meta.pop("height") or im.height
    return Decoded(path, transform(im), sha, st.st_size, st.st_mtime_ns, w, h, meta=meta | {"phash": phash(im), "colours": image_colours(im)})


DECODE_NICE = 10


def _yield_to_encoder() -> None:
    """Decode threads run at a lower priority (Linux: per-thread nice), so they fill the gaps of the
    encoder's thread pool instead of preempting its workers mid-operator (each ONNX operator waits for
    its slowest thread): +6 % images/s end to end on 2 cores, same decode work."""
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), DECODE_NICE)
        except OSError:  # not permitted: decode at normal priority
            pass


def decode_stream(paths: Iterable[str | Path], cfg: PreprocessConfig, *, known_sha: dict[str, str] | None = None,
                  workers: int | None = None, prefetch: int = 64,
                  decode: Callable[..., Decoded] = read_and_decode) -> Iterator[Decoded]:
    """Yield :class:`Decoded` items in input order, decoding up to ``prefetch`` ahead in threads."""
    transform = build_transform(cfg)
    known_sha = known_sha or {}
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    pending: deque[Future] = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix="pixseek-decode", initializer=_yield_to_encoder) as pool:
        try:
            for p in paths:
                p = str(p)
                pending.append(pool.submit(decode, p, transform, cfg, known_sha.get(p)))
                if len(pending) >= prefetch:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # stopped early (Ctrl-C, an error downstream): drop the prefetched work, wait only for running decodes
            for f in pending:
                f.cancel()


def batched(items: Iterator[Decoded], batch_size: int) -> Iterator[list[Decoded]]:
    batch: list[Decoded] = []
    for item in items:
        batch.append(item)
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch
