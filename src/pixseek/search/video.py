"""Videos in the library: one catalog file per video, one vector per sampled frame (with its time).

A video is committed chunk by chunk -- an encoder batch of frames, or fewer when ``COMMIT_EVERY``
seconds of video have gone by -- so memory stays flat however long it is, and an interruption
loses at most one chunk. Until its last chunk is in, its file row carries the size ``PARTIAL``,
which never matches the file on disk: the next run sees it as changed and, if its content hash is
the one stored, resumes decoding after the last committed frame instead of starting over (the
frames of at most one uncommitted batch are decoded again). A changed video starts over: its first
chunk replaces everything stored for it. A damaged or truncated video keeps the frames decoded
before the damage and is reported as a :class:`~pixseek.errors.CorruptVideoError`.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from PIL import Image

from pixseek.errors import ImageError, UnreadableFileError
from pixseek.io.files import stat_regular
from pixseek.io.video import SampledFrame, SamplingConfig, format_timestamp, frame_at, probe, sample_frames
from pixseek.store.catalog import FileState, NewFile

from pixseek.types import Hit, IndexReport

Library = Any  # the library committing the frames (pixseek.search.library imports this module, not the reverse)

VideoProgress = Callable[[str, float, float], None]  # (path, seconds done, duration)
PARTIAL = -1  # files.size of a video whose frames are not all committed yet
COMMIT_EVERY = 60.0  # seconds of video: a static scene gives few frames, commit them anyway


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def resume_point(lib: Library, path: str) -> float:
    """Time of the last frame committed for ``path`` (0 when none)."""
    times = [r.t_sec for r in lib.catalog.items(lib.catalog.vectors_for_path(path)) if r.t_sec is not None]
    return max(times, default=0.0)


def encode_video(lib: Library, path: str, cfg: SamplingConfig = SamplingConfig(), *, start: float = 0.0,
                 progress: VideoProgress | None = None, sha256: str | None = None,
                 commit_every: float = COMMIT_EVERY) -> tuple[int, ImageError | None]:
    """Sample, encode and commit one video (catalog, then index), a batch of frames at a time, from
    ``start`` seconds (a resumed video: its earlier frames are kept) or from the beginning
    (everything stored for ``path`` is replaced). Returns (vectors written, error or None): a
    truncated video gives both. The file is marked complete once decoding has ended."""
    st = os.stat(path)
    sha = sha256 or file_sha256(path)
    info = probe(path)
    transform = lib.encoder.transform()
    batch: list[SampledFrame] = []
    written, error = 0, None
    fresh = start <= 0  # the first commit replaces what the catalog holds for this path

    def commit() -> None:
        nonlocal written, fresh
        emb = lib.encoder.embed_pixels(np.stack([transform(f.image) for f in batch]))
        new = NewFile(path, PARTIAL, st.st_mtime_ns, sha, emb.vectors, emb.probs, t_sec=[f.t_sec for f in batch],
                      kind="video", width=info.width, height=info.height, tags=lib.tags_for(emb.probs))
        lib.commit_files([new], append=not fresh)  # the first chunk replaces what the catalog holds for path
        fresh = False
        written += len(batch)
        batch.clear()

    report_time = (lambda t, d: progress(path, t, d)) if progress else None
    try:
        for frame in sample_frames(path, cfg, start=start, progress=report_time):
            batch.append(frame)
            if len(batch) >= lib.batch_size or frame.t_sec - batch[0].t_sec >= commit_every:
                commit()
    except ImageError as err:
        error = err
    if batch:
        commit()
    if not fresh:  # something is stored: decoding is over, the file is complete
        lib.catalog.touch_file(path, st.st_size, st.st_mtime_ns)
    return written, error


def add_videos(lib: Library, paths: Sequence[str], known: dict[str, FileState], report: IndexReport,
               cfg: SamplingConfig = SamplingConfig(), *, progress: VideoProgress | None = None,
               commit_every: float = COMMIT_EVERY) -> None:
    """Encode and commit each video that is new, changed or partly committed (resumed); count it in
    ``report`` (a resumed video counts as added)."""
    for path in paths:
        state = known.get(path)
        start = 0.0
        try:
            stat_regular(path)  # never open a FIFO / device named like a video; names that cannot be stored
            sha = file_sha256(path)
            if state is not None and sha == state.sha256:
                if state.size != PARTIAL:  # touched, not changed: no decoding
                    st = os.stat(path)
                    lib.catalog.touch_file(path, st.st_size, st.st_mtime_ns)
                    report.unchanged += 1
                    continue
                start = resume_point(lib, path)
            written, error = encode_video(lib, path, cfg, start=start, progress=progress, sha256=sha,
                                          commit_every=commit_every)
        except OSError as exc:
            written, error = 0, UnreadableFileError(path, f"cannot read ({exc.strerror or exc})")
        except ImageError as err:  # not even the headers could be read
            written, error = 0, err
        if error is not None:
            report.errors.append(error.to_dict())
        if not written and not start:
            continue
        if state is not None and state.size != PARTIAL:
            report.updated += 1
        else:
            report.added += 1


def merge_video_hits(hits: Sequence[Hit], vectors: Mapping[int, np.ndarray] | None = None, *,
                     gap: float = 12.0, min_similarity: float = 0.7) -> list[Hit]:
    """Merge hits on the same video that belong to one shot into one hit spanning
    ``t_start``..``t_end``, scored and timed by its best member. Two hits are in one shot when they
    are consecutive samples (adjacent vector ids), at most ``gap`` seconds apart and, when their
    ``vectors`` are given, at least ``min_similarity`` alike (cosine). Images pass through; the
    order stays best first."""
    ranked = sorted(hits, key=lambda h: -h.score)
    parent = list(range(len(ranked)))  # union-find over the hits: each shot ends up as one set

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    pos = {h.id: i for i, h in enumerate(ranked) if h.kind == "video" and h.t_sec is not None}
    for i, h in enumerate(ranked):
        j = pos.get(h.id + 1)
        if j is not None and h.kind == "video" and h.t_sec is not None:
            o = ranked[j]
            if (o.path == h.path and abs(o.t_sec - h.t_sec) <= gap
                    and (vectors is None or float(np.dot(vectors[h.id], vectors[o.id])) >= min_similarity)):
                parent[root(j)] = root(i)
    members: dict[int, list[Hit]] = {}
    for i in range(len(ranked)):
        members.setdefault(root(i), []).append(ranked[i])
    out: list[Hit] = []
    for group in sorted(members.values(), key=lambda g: -g[0].score):  # each group is in score order
        best = group[0]
        if best.kind == "video" and best.t_sec is not None:
            best = replace(best, t_start=min(m.t_sec for m in group), t_end=max(m.t_sec for m in group))
        out.append(best)
    return out


def hit_label(hit: Hit) -> str:
    """``cam3.mp4 @ 00:12:41.2`` for a video hit, the file name for an image."""
    name = os.path.basename(hit.path)
    return f"{name} @ {format_timestamp(hit.t_sec)}" if hit.kind == "video" and hit.t_sec is not None else name


def hit_picture(hit: Hit) -> Image.Image | str:
    """What to show for a hit: the video's frame at the hit's time, or the image's path (an
    unreadable video gives its path too, which a contact sheet draws as a placeholder)."""
    if hit.kind != "video" or hit.t_sec is None:
        return hit.path
    try:
        return frame_at(hit.path, hit.t_sec)
    except ImageError:
        return hit.path


def fold_time_into(progress: Callable[[float, int], None]) -> tuple[Callable[[int, int], None], VideoProgress]:
    """Drive one ``(done, total)`` file progress bar from both callbacks of ``Library.add``: while a
    video is being read, ``done`` advances by the fraction of its duration decoded so far, so a
    long video shows progress in video time instead of sitting on one file."""
    state = {"done": 0, "total": 0, "path": None, "videos": 0}

    def files(done: int, total: int) -> None:
        state["done"], state["total"] = done, total
        progress(done, total)

    def video(path: str, t: float, duration: float) -> None:
        if path != state["path"]:
            state["path"], state["videos"] = path, state["videos"] + 1
        frac = min(1.0, t / duration) if duration else 0.0
        progress(state["done"] + state["videos"] - 1 + frac, state["total"])

    return files, video
