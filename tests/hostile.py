"""Builders for real image files in every format we decode, and for a hostile corpus."""
from __future__ import annotations

import io
import os
import shutil
import socket
import struct
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import GALLERY


def png_bomb(path: Path, side: int = 50_000) -> Path:
    """A valid 1-bit PNG of side x side pixels (2.5 gigapixels) that compresses to a few hundred KB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    comp = zlib.compressobj(9)
    parts = [comp.compress(row * 1000) for _ in range(side // 1000)]
    parts.append(comp.flush())
    with open(path, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n")
        fh.write(chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)))
        fh.write(chunk(b"IDAT", b"".join(parts)))
        fh.write(chunk(b"IEND", b""))
    return path


def hostile_corpus(folder: Path) -> dict[str, str]:
    """Write bad files into ``folder``; returns {file name: expected error kind}."""
    folder.mkdir(parents=True, exist_ok=True)
    good = (GALLERY / "coffee.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("this is a text file, not a JPEG\n")
    png_bomb(folder / "bomb.png")
    loop = folder / "loop"
    loop.mkdir()
    os.symlink("..", loop / "parent")  # directory loop
    os.symlink("self.jpg", folder / "self.jpg")  # a link to itself
    return {"truncated.jpg": "corrupt-image", "empty.jpg": "empty-file", "notes.jpg": "not-an-image",
            "bomb.png": "too-large", "self.jpg": "unreadable"}


def format_zoo(folder: Path) -> dict[str, tuple[int, int]]:
    """The cat photo in many encodings; returns {file name: expected upright (w, h)}."""
    folder.mkdir(parents=True, exist_ok=True)
    cat = Image.open(GALLERY / "chelsea.jpg").convert("RGB")
    w, h = cat.size
    out: dict[str, tuple[int, int]] = {}

    cat.save(folder / "cat.png"); out["cat.png"] = (w, h)
    cat.save(folder / "cat.webp", quality=80); out["cat.webp"] = (w, h)
    cat.save(folder / "cat.bmp"); out["cat.bmp"] = (w, h)
    cat.save(folder / "cat.tiff"); out["cat.tiff"] = (w, h)
    cat.convert("L").save(folder / "cat-grey.jpg"); out["cat-grey.jpg"] = (w, h)
    cat.convert("CMYK").save(folder / "cat-cmyk.jpg"); out["cat-cmyk.jpg"] = (w, h)
    cat.quantize(64).save(folder / "cat-palette.png"); out["cat-palette.png"] = (w, h)
    rgba = cat.convert("RGBA")
    alpha = np.full((h, w), 255, np.uint8)
    alpha[:, : w // 4] = 0
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(folder / "cat-rgba.png"); out["cat-rgba.png"] = (w, h)
    grey16 = (np.asarray(cat.convert("L"), np.uint16) * 257).astype(np.uint16)
    Image.fromarray(grey16).save(folder / "cat-16bit.png"); out["cat-16bit.png"] = (w, h)
    frames = [cat, cat.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    frames[0].save(folder / "cat.gif", save_all=True, append_images=frames[1:], duration=100); out["cat.gif"] = (w, h)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    cat.save(folder / "cat-exif-rot.jpg", exif=exif.tobytes()); out["cat-exif-rot.jpg"] = (h, w)
    import pillow_heif

    pillow_heif.from_pillow(cat).save(folder / "cat.heic", quality=80); out["cat.heic"] = (w, h)
    return out


# -- the full hostile corpus (issue 16) ---------------------------------------------------------------
INDEXED, REPORTED, EITHER = "indexed", "reported", "either"


@dataclass(frozen=True)
class Case:
    """One hostile entry of the corpus: ``path`` (as the walk yields it, possibly surrogate-escaped),
    what must happen to it, and for a reported one the error kind and a word of its cause."""

    path: str
    outcome: str  # INDEXED, REPORTED or EITHER
    kind: str | None = None
    cause: str | None = None


def synthetic_png(path: Path, seed: int, size: tuple[int, int] = (96, 64)) -> Path:
    """A small distinct picture (coloured blocks), never a copy of a gallery photo."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    Image.fromarray(blocks).resize(size, Image.Resampling.NEAREST).save(path, "PNG")
    return path


def strip_png(path: Path, w: int, h: int) -> Path:
    """A w x h one-colour PNG: a few hundred bytes however long."""
    Image.new("RGB", (w, h), (200, 40, 40)).save(path, "PNG")
    return path


def header_only_png(path: Path, w: int, h: int) -> Path:
    """A PNG whose header claims w x h pixels, with one empty IDAT (a bomb that is refused from its header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    return path


def unix_socket_file(path: Path) -> bool:
    """Leave a unix-socket file at ``path`` (bound under a short temporary name, then renamed)."""
    short = Path(tempfile.mkdtemp(prefix="pxs")) / "s"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(short))
        os.rename(short, path)
        return True
    except OSError:
        return False
    finally:
        sock.close()
        shutil.rmtree(short.parent, ignore_errors=True)


def beyond_path_max(folder: Path, image: bytes) -> Path:
    """Nested 250-byte folder names until the path passes PATH_MAX (made with ``dir_fd``: a path that
    long cannot be passed to mkdir), with an image at the bottom. Returns the top folder."""
    top = folder / "deep"
    top.mkdir()
    name = "d" * 250
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    depth_bytes = len(os.fsencode(top))
    try:
        while depth_bytes < 4096 + 300:
            os.mkdir(name, dir_fd=fd)
            child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
            depth_bytes += len(name) + 1
        out = os.open("photo.jpg", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(out, image)
        os.close(out)
    finally:
        os.close(fd)
    return top


def build_hostile_corpus(folder: Path) -> list[Case]:
    """Write every kind of hostile entry into ``folder`` (created); returns the cases, by full path.

    Covers the first wave's (truncated, zero-byte, not an image, decompression bomb, symlink loops)
    and issue 16's (extreme aspect ratios, FIFO, links to devices, a socket, a name that is not UTF-8,
    a path beyond PATH_MAX, odd names, a wrong extension, a sparse file larger than the read limit,
    formats we must not hand to other decoders). A file rewritten while indexing is made by
    :func:`keep_rewriting`."""
    folder.mkdir(parents=True, exist_ok=True)
    good = (GALLERY / "coffee.jpg").read_bytes()
    cases: list[Case] = []

    def add(name: str, outcome: str, kind: str | None = None, cause: str | None = None) -> Path:
        cases.append(Case(str(folder / name), outcome, kind, cause))
        return folder / name

    # first wave
    add("truncated.jpg", REPORTED, "corrupt-image").write_bytes(good[: len(good) // 3])
    add("empty.jpg", REPORTED, "empty-file").write_bytes(b"")
    add("notes.jpg", REPORTED, "not-an-image").write_text("this is a text file, not a JPEG\n")
    png_bomb(add("bomb.png", REPORTED, "too-large"))
    header_only_png(add("claims-65535x65535.png", REPORTED, "too-large"), 65535, 65535)
    (folder / "loop").mkdir()
    os.symlink("..", folder / "loop" / "parent")  # a directory loop: walked once, nothing to report
    os.symlink("self.jpg", add("self.jpg", REPORTED, "unreadable", "symbolic links"))
    os.symlink("missing.jpg", add("dangling.jpg", REPORTED, "unreadable", "No such file"))
    # extreme aspect ratios: a sane embedding, bounded memory
    strip_png(add("strip-20000x1.png", INDEXED), 20000, 1)
    strip_png(add("strip-1x40000.png", INDEXED), 1, 40000)
    strip_png(add("strip-100000x1.png", INDEXED), 100000, 1)
    synthetic_png(add("one-pixel.png", INDEXED), 1, (1, 1))
    # not regular files: reported without being opened
    os.mkfifo(add("fifo.jpg", REPORTED, "unreadable", "not a regular file"))
    os.mkfifo(add("fifo.mp4", REPORTED, "unreadable", "not a regular file"))  # the video path reads it too
    os.symlink("/dev/zero", add("zero.jpg", REPORTED, "unreadable", "not a regular file"))
    os.symlink("/dev/null", add("null.png", REPORTED, "unreadable", "not a regular file"))
    if unix_socket_file(folder / "socket.jpg"):
        add("socket.jpg", REPORTED, "unreadable", "not a regular file")
    # names
    bad_name = os.fsdecode(os.fsencode(str(folder)) + b"/caf\xe9.jpg")
    synthetic_png(Path(bad_name), 2)
    cases.append(Case(bad_name, REPORTED, "unreadable", "not valid UTF-8"))
    bad_video = os.fsdecode(os.fsencode(str(folder)) + b"/clip-\xff.mp4")
    Path(bad_video).write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))
    cases.append(Case(bad_video, REPORTED, "unreadable", "not valid UTF-8"))
    for i, name in enumerate(["space name.jpg", "new\nline.jpg", "-dash.jpg", "ünïcödé.png", "emoji-😀.png",
                              "quote'\"`$(x).png", "x" * 251 + ".png", "UPPER.PNG"]):
        synthetic_png(add(name, INDEXED), 10 + i)
    (folder / "folder.jpg").mkdir()
    synthetic_png(add("folder.jpg/inside.png", INDEXED), 30)
    top = beyond_path_max(folder, good)
    cases.append(Case(str(top), REPORTED, "unreadable", "PATH_MAX"))  # a prefix: the first folder too long
    # content and extension disagree, or the content is meant for another decoder
    add("jpeg-named.png", INDEXED).write_bytes(_jpeg(40))
    add("eps.jpg", REPORTED, "not-an-image").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    add("garbage.heic", REPORTED).write_bytes(os.urandom(2048))
    with open(add("sparse.jpg", REPORTED, "too-large"), "wb") as fh:  # 600 MB claimed, nothing stored
        fh.truncate(600 * 1024 * 1024)
    return cases


def _jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)).resize((90, 60)).save(buf, "JPEG")
    return buf.getvalue()


def keep_rewriting(path: Path, stop: threading.Event, image: bytes) -> threading.Thread:
    """A thread that rewrites ``path`` (truncate, then write in pieces) until ``stop`` is set."""
    def run() -> None:
        while not stop.is_set():
            with open(path, "wb") as fh:
                for i in range(0, len(image), 4096):
                    fh.write(image[i:i + 4096])
                    fh.flush()
            time.sleep(0.001)

    path.write_bytes(image)
    thread = threading.Thread(target=run, name="rewriter", daemon=True)
    thread.start()
    return thread
