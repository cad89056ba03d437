"""Configuration from the environment, read in one place (a leaf module).

Library code takes its settings as arguments; the front-ends (CLI, server) and the few defaults
below are the only readers of these variables:

================  ==========================================================================
PIXSEEK_DB        default catalog (else ``$XDG_DATA_HOME/pixseek/library.db``)
PIXSEEK_CACHE     cache folder for exported models and shipped tables (else ``$XDG_CACHE_HOME/pixseek``)
PIXSEEK_THREADS   encoder threads (else all cores)
PIXSEEK_MODEL     default encoder for a new catalog
PIXSEEK_API_KEY   the server's admin key (see ``pixseek serve --help``)
PIXSEEK_FAULT     test-only fault-injection point (:mod:`pixseek.faults`)
================  ==========================================================================
"""
from __future__ import annotations

import os
from pathlib import Path


def db_path() -> Path:
    env = os.environ.get("PIXSEEK_DB")
    if env:
        return Path(env)
    data = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(data) / "pixseek" / "library.db"


def cache_dir() -> Path:
    env = os.environ.get("PIXSEEK_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")) / "pixseek"


def threads() -> int:
    try:
        return int(os.environ.get("PIXSEEK_THREADS", "0")) or (os.cpu_count() or 1)
    except ValueError:
        return os.cpu_count() or 1


def default_model(fallback: str) -> str:
    return os.environ.get("PIXSEEK_MODEL") or fallback
