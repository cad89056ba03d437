"""Walk a folder for media files: sorted, symlink-safe (loops are detected, not followed twice).

Nothing found is dropped silently: what cannot be read is still yielded, so the reader reports it
with its cause (a file name that is not UTF-8, a path beyond PATH_MAX, a FIFO or device named like
an image, a folder that cannot be listed)."""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path


def walk_files(root: str | Path, extensions: Iterable[str]) -> Iterator[Path]:
    """Yield files under ``root`` whose suffix (lower-cased) is in ``extensions``.

    Follows symlinked directories but never enters the same directory twice, so symlink loops
    terminate. Hidden directories (``.name``) are skipped. Order is deterministic (sorted).
    A file given as ``root`` is yielded as is (whatever its type: the reader checks it). A folder
    that cannot be listed (permissions, a path beyond PATH_MAX) is yielded itself, so that it is
    reported rather than skipped; files whose names are not UTF-8 are yielded (surrogate-escaped).
    """
    exts = {e.lower() for e in extensions}
    root = Path(root)
    try:
        if not root.is_dir():
            if os.path.lexists(root):
                yield root
            return
    except OSError:  # ENAMETOOLONG and the like: let the reader name it
        yield root
        return
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
        except OSError:
            yield folder  # vanished, or its path is too long: the reader names the cause
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            continue
        seen.add(key)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            yield folder  # reported by the reader ("a directory that cannot be listed")
            continue
        subdirs = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:  # ELOOP on a self-referencing link: yield it so the reader reports it
                is_dir = False
            if is_dir:
                subdirs.append(Path(entry.path))
            elif os.path.splitext(entry.name)[1].lower() in exts:
                yield Path(entry.path)
        stack.extend(reversed(subdirs))
