"""Rebuilding an index in a background thread while it keeps serving.

``start(snapshot, build, install)``: under the lock, ``snapshot()`` records what the old index holds
and a journal opens; ``build(snap)`` runs in a daemon thread (taking the lock only for short reads of
the old index); then, under the lock, ``install(new, journal)`` replays the adds and removes made
meanwhile onto the new index and swaps it in. One rebuild at a time; if it fails, the old index keeps
serving and the next trigger tries again (the error is kept in ``error``).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class BackgroundRebuild:
    def __init__(self, name: str = "index-rebuild"):
        self.name = name
        self.lock = threading.RLock()
        self.error: BaseException | None = None
        self.completed = 0
        self._thread: threading.Thread | None = None
        self._journal: list[tuple[str, tuple]] | None = None

    @property
    def running(self) -> bool:
        return self._journal is not None

    def record(self, op: str, *args: Any) -> None:
        """Call under ``lock`` with every mutation of the old index."""
        if self._journal is not None:
            self._journal.append((op, args))

    def start(self, snapshot: Callable[[], Any], build: Callable[[Any], Any],
              install: Callable[[Any, list[tuple[str, tuple]]], None], background: bool = True) -> bool:
        with self.lock:
            if self._journal is not None:
                return False
            snap = snapshot()
            self._journal = []

        def work() -> None:
            try:
                new = build(snap)
            except Exception as exc:  # noqa: BLE001 - the old index keeps serving; kept for the caller
                with self.lock:
                    self._journal, self.error = None, exc
                return
            with self.lock:
                journal, self._journal = self._journal or [], None
                install(new, journal)
                self.completed += 1
                self.error = None

        if background:
            self._thread = threading.Thread(target=work, name=self.name, daemon=True)
            self._thread.start()
        else:
            work()
        return True

    def wait(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

