"""Shared test setup: a persistent ONNX cache and the bundled sample gallery."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GALLERY = REPO / "samples" / "gallery"
os.environ.setdefault("PIXSEEK_CACHE", str(REPO / ".cache" / "pixseek"))


def run_cli(*args: str, check: bool = True, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess."""
    cmd = [sys.executable, "-c", "from pixseek.cli import main; main()", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"pixseek {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def gallery() -> Path:
    return GALLERY


@pytest.fixture()
def gallery_copy(tmp_path) -> Path:
    """A writable copy of the sample gallery."""
    dst = tmp_path / "gallery"
    shutil.copytree(GALLERY, dst)
    return dst
