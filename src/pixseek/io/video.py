"""Stream frames out of a video with PyAV, keeping only the ones worth encoding.

Candidates are taken at a low rate (``sample_fps``); a candidate is emitted when its 32x18
thumbnail differs from the last emitted one -- its colour histogram by more than ``threshold`` (a
cut), or its pixels by more than ``motion_threshold`` (a pan or zoom that has drifted far enough)
-- or when ``max_gap`` seconds have passed since the last emitted frame. A static scene therefore
gives one vector per ``max_gap``; a busy one gives up to ``sample_fps``.

Memory is flat: frames are decoded one at a time and only the last signature is kept. Frames that
are not candidates are decoded (the codec needs them as references) but never converted.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from pixseek._extras import optional
from pixseek.errors import CorruptVideoError, UnreadableFileError
from pixseek.io.files import stat_regular

av = optional("video", "av")  # PyAV: the [video] extra; images need none of this module's decoding

VIDEO_EXTENSIONS = frozenset({".mp4", ".mkv", ".webm", ".mov", ".avi"})

TimeProgress = Callable[[float, float], None]  # (seconds decoded, duration in seconds)


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class SamplingConfig:
    """How densely a video is sampled.

    ``sample_fps``: candidate frames per second; ``max_gap``: a frame is emitted at least this often
    (seconds); ``threshold``: colour-histogram distance in [0, 1] above which a candidate counts as
    a new scene; ``motion_threshold``: mean absolute thumbnail difference in [0, 1] above which it
    counts as moved on (a pan of ~5 % of the width per second reaches 0.1 in about a second and a
    half); ``short_side``: emitted frames are scaled to this shorter side (the encoder's input is
    smaller); ``every``: if set, scene detection is off and every candidate is emitted (the
    "every Nth frame" baseline); ``skip_nonref``: H.264/HEVC frames no other frame refers to are
    not decoded at all (about half the decoding work; candidates then fall on reference frames)."""

    sample_fps: float = 2.0
    max_gap: float = 10.0
    threshold: float = 0.1
    motion_threshold: float = 0.1
    short_side: int = 256
    every: bool = False
    skip_nonref: bool = True

    def __post_init__(self) -> None:
        if self.sample_fps <= 0 or self.max_gap <= 0:
            raise ValueError("sample_fps and max_gap must be positive")


@dataclass(frozen=True)
class SampledFrame:
    t_sec: float
    image: Image.Image


NONREF_CODECS = frozenset({"h264", "hevc"})
SIG_W, SIG_H, SIG_BINS = 32, 18, 4


def signature(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(h, w, 3) uint8 tiny thumbnail -> (L1-normalised joint colour histogram (4x4x4 bins),
    grey thumbnail in [0, 1])."""
    q = (rgb.reshape(-1, 3) // (256 // SIG_BINS)).astype(np.int32)
    codes = (q[:, 0] * SIG_BINS + q[:, 1]) * SIG_BINS + q[:, 2]
    hist = np.bincount(codes, minlength=SIG_BINS ** 3).astype(np.float32)
    return hist / max(1.0, float(hist.sum())), rgb.mean(axis=2, dtype=np.float32) / 255.0


def signature_distance(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[float, float]:
    """(half the L1 distance between histograms: 0 same colours .. 1 disjoint,
    mean absolute difference of the thumbnails: 0 .. 1)."""
    return 0.5 * float(np.abs(a[0] - b[0]).sum()), float(np.abs(a[1] - b[1]).mean())


def _open(path: str) -> av.container.InputContainer:
    stat_regular(path)  # FFmpeg would block on a FIFO and read a device forever
    try:
        return av.open(path, metadata_errors="ignore")
    except FileNotFoundError as exc:
        raise UnreadableFileError(path, f"cannot read ({exc.strerror or exc})") from exc
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise CorruptVideoError(path, f"cannot open video ({exc})") from exc


@contextmanager
def _video_stream(path: str, threads: bool = True) -> Iterator[tuple[av.container.InputContainer, av.video.VideoStream]]:
    """The opened container and its first video stream (typed errors when there is none); closed on exit."""
    container = _open(path)
    try:
        if not container.streams.video:
            raise CorruptVideoError(path, "no video stream")
        stream = container.streams.video[0]
        if threads:
            stream.thread_type = "AUTO"
        yield container, stream
    finally:
        container.close()


def _duration(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _out_size(w: int, h: int, short_side: int) -> tuple[int, int]:
    scale = min(1.0, short_side / min(w, h))
    return max(2, round(w * scale)) // 2 * 2, max(2, round(h * scale)) // 2 * 2


@dataclass(frozen=True)
class VideoInfo:
    duration: float | None  # seconds, as the container declares it (None when it does not)
    width: int
    height: int


def probe(path: str | Path) -> VideoInfo:
    """The first video stream's duration and frame size, from the headers (nothing decoded)."""
    with _video_stream(str(path), threads=False) as (container, stream):
        return VideoInfo(_duration(container, stream), stream.codec_context.width, stream.codec_context.height)


def video_duration(path: str | Path) -> float | None:
    """Seconds, as the container declares it (None when it does not)."""
    return probe(path).duration


def sample_frames(path: str | Path, cfg: SamplingConfig = SamplingConfig(), *, start: float = 0.0,
                  progress: TimeProgress | None = None) -> Iterator[SampledFrame]:
    """Yield :class:`SampledFrame` (time in seconds, RGB image) in time order; with ``start``, only
    frames after ``start`` seconds (seeks to the keyframe before it; the first frame after it is
    emitted, as at the start of a video).

    A damaged or truncated file yields the frames decoded before the damage, then raises
    :class:`~pixseek.errors.CorruptVideoError` naming the file and how far decoding got."""
    path = str(path)
    with _video_stream(path) as (container, stream):
        if cfg.skip_nonref and stream.codec_context.name in NONREF_CODECS:
            stream.codec_context.skip_frame = "NONREF"
        duration = _duration(container, stream)
        step = 1.0 / cfg.sample_fps
        next_candidate = start + 2e-6 if start > 0 else 0.0
        last_emit: float | None = None
        last_sig: np.ndarray | None = None
        t = start
        seen = False  # any frame decoded at all
        size: tuple[int, int] | None = None
        try:
            if start > 0 and stream.time_base is not None:
                container.seek(int(start / stream.time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                t, seen = float(frame.time), True
                if t + 1e-6 < next_candidate:
                    continue
                next_candidate = step * (np.floor(t / step + 1e-6) + 1) - 1e-3
                if progress:
                    progress(t, duration or 0.0)
                if cfg.every:
                    emit = True
                else:
                    sig = signature(frame.to_ndarray(width=SIG_W, height=SIG_H, format="rgb24"))
                    colour, motion = signature_distance(sig, last_sig) if last_sig is not None else (1.0, 1.0)
                    emit = (last_emit is None or t - last_emit >= cfg.max_gap or colour > cfg.threshold
                            or motion > cfg.motion_threshold)
                    if emit:
                        last_sig = sig
                if emit:
                    last_emit = t
                    size = size or _out_size(frame.width, frame.height, cfg.short_side)
                    rgb = frame.to_ndarray(width=size[0], height=size[1], format="rgb24")
                    yield SampledFrame(t, Image.fromarray(rgb))
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise CorruptVideoError(path, f"decoding stopped at {t:.1f}s ({exc})") from exc
        if not seen:
            raise CorruptVideoError(path, "no decodable frame" + (f" after {start:.1f}s" if start > 0 else ""))
        # A truncated file often just ends early without a decoder error: compare with the header.
        frame_slack = 2.0 / float(stream.average_rate or 1) + 0.5
        if duration is not None and t + frame_slack < duration:
            raise CorruptVideoError(path, f"truncated: decoded {t:.1f}s of {duration:.1f}s")
        if progress:
            progress(duration or t, duration or t)


def frame_at(path: str | Path, t_sec: float, short_side: int = 512) -> Image.Image:
    """The frame shown at ``t_sec`` (seek to the keyframe before it, decode forward)."""
    path = str(path)
    with _video_stream(path) as (container, stream):
        best = None
        try:
            if stream.time_base is not None and t_sec > 0:
                container.seek(int(t_sec / stream.time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                if frame.time is not None and frame.time > t_sec + 1e-3 and best is not None:
                    break
                best = frame
        except (av.FFmpegError, OSError, ValueError) as exc:
            if best is None:
                raise CorruptVideoError(path, f"no frame at {t_sec:.1f}s ({exc})") from exc
        if best is None:
            raise CorruptVideoError(path, f"no frame at {t_sec:.1f}s")
        w, h = _out_size(best.width, best.height, short_side)
        return Image.fromarray(best.to_ndarray(width=w, height=h, format="rgb24"))


def format_timestamp(t_sec: float) -> str:
    """``761.2`` -> ``00:12:41.2``."""
    tenths = int(round(t_sec * 10))
    h, rem = divmod(tenths, 36000)
    m, rem = divmod(rem, 600)
    return f"{h:02d}:{m:02d}:{rem // 10:02d}.{rem % 10}"
