"""Shared test setup: a persistent ONNX cache, the bundled sample gallery, and the test tiers.

Tiers (markers registered in pyproject.toml): every test file declares one with ``pytestmark``:
``unit`` (seconds, no model), ``integration`` (the real encoder, SQLite, FAISS, in-process or the CLI in a
subprocess) or ``system`` (servers, a browser, Milvus, Ray, processes killed mid-write, wheel installs).
A few tests in integration files start a server or a browser: SYSTEM_TESTS below promotes them, so the
tier of every test is declared here or at the top of its file. ``make test-fast`` = ``-m "not system"``.
"""
from __future__ import annotations

import os

# Before numpy loads (here and in every CLI subprocess the tests start): OpenBLAS on one thread. The suite's
# BLAS work is small, and a 2-thread OpenBLAS spins when the other core is busy: on the shared 2-core machine
# the eigh of a 1280 x 1280 covariance (pca_init, every embedding training) took 10.7 s instead of 0.3 s.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# OpenMP (FAISS, PyTorch) threads sleep when idle instead of spinning: at load 9 one OPQ training took
# 22 CPU-s (34 s wall) spinning, 6.3 CPU-s (9.5 s) passive.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import shutil
import subprocess
import time
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


CHROMIUM = "/usr/bin/chromium"  # Debian's package (`make browser`), driven by Playwright; never `playwright install`
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def best_of(n: int, fn) -> float:
    """The shortest of ``n`` timed calls of ``fn`` (seconds): a ratio test's least noisy figure."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def in_ci() -> bool:
    """CI=true (CI's runner sets it): what a developer's machine may skip, CI must run."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_browser() -> None:
    """Skip (with the reason) when Chromium or Playwright is missing here; fail on CI, which installs both."""
    missing = None
    if not Path(CHROMIUM).exists():
        missing = f"{CHROMIUM} missing: `make browser` installs the Debian package chromium (as root)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "playwright missing: pip install -e '.[test]' (or `make setup`)"
    if missing is None:
        return
    if in_ci():
        pytest.fail(f"{missing}; CI runs `make test`, which installs it", pytrace=False)
    pytest.skip(missing)


@pytest.fixture(scope="session")
def browser():
    """The one headless Chromium of the run, shared by every browser test (each opens its own context)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


TIERS = ("unit", "integration", "system")
# Tests in an integration file that run a real uvicorn server, a browser or another process's server, or
# a heavy end-to-end run whose behaviour a lighter test in the same file covers.
SYSTEM_TESTS = {
    "test_api.py::test_traversal_and_symlink_escapes_are_refused",  # live uvicorn (raw request targets)
    "test_api.py::test_searches_run_while_writes_happen",  # live uvicorn, concurrent clients
    "test_api.py::test_serve_command_end_to_end",  # `pixseek serve` in a subprocess
    "test_video.py::test_web_page_shows_video_frame_and_plays_from_its_time",  # uvicorn + Chromium
    "test_store.py::test_kill_9_during_index_then_resume",  # indexer SIGKILLed at fault points, then resumed
    # heavy end to end, covered in the fast tier by a lighter test named in its docstring:
    "test_train.py::test_cli_train_eval_and_tag_train_round_trip",  # two training processes (train, tag-train)
}


@pytest.hookimpl(tryfirst=True)  # before -m deselects, so the promotions below count for -m
def pytest_collection_modifyitems(config, items):
    problems = set()
    for item in items:
        if f"{item.path.name}::{item.originalname}" in SYSTEM_TESTS:
            item.add_marker(pytest.mark.system)
            continue
        tiers = [t for t in TIERS if item.get_closest_marker(t)]
        if len(tiers) != 1:
            problems.add(f"{item.path.name}: declare exactly one tier at the top "
                         f"(pytestmark = pytest.mark.<{'|'.join(TIERS)}>); found {tiers or 'none'}")
    if problems:
        raise pytest.UsageError("\n".join(sorted(problems)))
