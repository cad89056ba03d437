"""Opening input files safely: a file-type check before any read, reads bounded by size, names that
cannot be stored reported instead of crashing a later stage.

Every check raises :class:`~pixseek.errors.UnreadableFileError` (or ``ImageTooLargeError`` for size)
naming the file by :func:`printable_path`, so the error itself can always be printed and stored.
"""
from __future__ import annotations

import os
import stat

from pixseek.errors import ImageTooLargeError, UnreadableFileError

DEFAULT_MAX_FILE_BYTES = 512 * 1024 * 1024
PATH_MAX = 4096  # Linux; a longer path cannot be passed to open() or stat()
NAME_MAX = 255  # bytes in one path component on every common file system

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


def _raw(path: str | os.PathLike) -> bytes | None:
    try:
        return os.fsencode(path)
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte (e.g. from JSON "\\ud800")
        return None


def printable_path(path: str | os.PathLike) -> str:
    """``path`` as text that can always be printed, JSON-encoded and stored as UTF-8: bytes that are
    not UTF-8 (a name surrogate-escaped by ``os.fsdecode``) are shown as ``\\xNN``."""
    raw = _raw(path)
    if raw is None:
        return os.fspath(path).encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def is_utf8_name(path: str | os.PathLike) -> bool:
    raw = _raw(path)
    if raw is None:
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def check_name(path: str | os.PathLike) -> None:
    """Refuse a path that cannot be stored as text (not UTF-8) or passed to the OS (too long)."""
    if not is_utf8_name(path):
        raise UnreadableFileError(printable_path(path), "file name is not valid UTF-8; rename the file to index it")
    raw = os.fsencode(path)
    if len(raw) >= PATH_MAX:
        raise UnreadableFileError(path, f"path of {len(raw)} bytes exceeds PATH_MAX ({PATH_MAX})")
    longest = max((len(part) for part in raw.split(b"/")), default=0)
    if longest > NAME_MAX:
        raise UnreadableFileError(path, f"a path component of {longest} bytes exceeds NAME_MAX ({NAME_MAX})")


def file_kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "a special file"


def stat_regular(path: str | os.PathLike) -> os.stat_result:
    """``os.stat`` of ``path`` (symlinks followed), refused unless it is a regular file; nothing is opened."""
    check_name(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise UnreadableFileError(path, f"cannot read ({exc.strerror or exc})") from exc
    if stat.S_ISDIR(st.st_mode):
        try:
            os.scandir(path).close()
            reason = "a directory"
        except OSError as exc:
            reason = f"a directory that cannot be listed: {exc.strerror or exc}; its files were not read"
        raise UnreadableFileError(path, f"not a regular file ({reason})")
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableFileError(path, f"not a regular file ({file_kind(st.st_mode)})")
    return st


def read_bounded(path: str | os.PathLike, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> tuple[bytes, os.stat_result]:
    """All bytes of the regular file ``path`` (at most ``max_bytes``) and its ``fstat`` at read time.

    The type is checked before opening (a FIFO, device or socket is never opened) and again on the
    open descriptor (opened non-blocking, so one swapped in meanwhile cannot hang the read); at most
    ``max_bytes + 1`` bytes are read whatever the file claims. A file whose size or mtime changed
    while it was read is refused (the next run reads it again)."""
    st = stat_regular(path)
    if st.st_size > max_bytes:
        raise ImageTooLargeError(path, f"file of {st.st_size} bytes exceeds {max_bytes}")
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise UnreadableFileError(path, f"cannot read ({exc.strerror or exc})") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableFileError(path, f"not a regular file ({file_kind(st.st_mode)})")
        if st.st_size > max_bytes:
            raise ImageTooLargeError(path, f"file of {st.st_size} bytes exceeds {max_bytes}")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(max_bytes + 1)
        after = os.fstat(fd)
    except OSError as exc:
        raise UnreadableFileError(path, f"cannot read ({exc.strerror or exc})") from exc
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise ImageTooLargeError(path, f"file grew beyond {max_bytes} bytes while being read")
    if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns) or len(data) != st.st_size:
        raise UnreadableFileError(path, "file changed while being read; it is read again on the next run")
    return data, st
