"""Walk a folder for media files: sorted, symlink-safe (loops are detected, not followed twice)."""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path


def walk_files(root: str | Path, extensions: Iterable[str]) -> Iterator[Path]:
    """Yield files under ``root`` whose suffix (lower-cased) is in ``extensions``.

    Follows symlinked directories but never enters the same directory twice, so symlink loops
    terminate. Hidden directories (``.name``) are skipped. Order is deterministic (sorted).
    A file given as ``root`` is yielded as is.
    """
    exts = {e.lower() for e in extensions}
    root = Path(root)
    if root.is_file():
        yield root
        return
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
        except OSError:
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            continue
        seen.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
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
