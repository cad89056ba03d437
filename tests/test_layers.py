"""The layer contract (.importlinter) holds on the source tree, and a back-edge, a sibling cycle or an
import of the facade — function-level ones included — breaks it (checked on a temporary copy)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"


def lint(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` over ``root/src/pixseek`` with ``root/.importlinter`` (never an installed pixseek)."""
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run([str(LINT), "--no-cache", "--config", str(root / ".importlinter")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "src" / "pixseek", tmp_path / "src" / "pixseek",
                    ignore=shutil.ignore_patterns("__pycache__", "static", "data"))
    shutil.copy(REPO / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def add_function_import(path: Path, statement: str) -> None:
    """Append a function whose body imports ``statement``: a lazy import, the kind that hid cycles before."""
    with path.open("a") as fh:
        fh.write(f"\n\ndef _back_edge():\n    {statement}\n")


def test_the_layer_contract_holds():
    assert LINT.exists(), "import-linter is not installed in the venv (requirements.txt)"
    proc = lint(REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 kept, 0 broken" in proc.stdout


def test_a_function_level_back_edge_breaks_the_layers(copy: Path):
    assert lint(copy).returncode == 0  # the copy itself is clean
    add_function_import(copy / "src/pixseek/index/flat.py", "from pixseek.search import Library")
    proc = lint(copy)
    assert proc.returncode == 1, proc.stdout
    assert "Layers" in proc.stdout and "BROKEN" in proc.stdout
    assert "pixseek.index.flat -> pixseek.search" in proc.stdout


def test_hashing_importing_its_trainer_breaks_the_layers(copy: Path):
    """The cycle this contract was written to end: index -> hashing -> train -> search -> index."""
    add_function_import(copy / "src/pixseek/hashing/coders.py", "from pixseek.train.hashing import train_deep_hash")
    proc = lint(copy)
    assert proc.returncode == 1 and "pixseek.hashing.coders -> pixseek.train.hashing" in proc.stdout, proc.stdout


def test_a_cycle_between_siblings_breaks_the_contract(copy: Path):
    """backends <-> backends.milvus was such a cycle (the child imported its package)."""
    add_function_import(copy / "src/pixseek/backends/common.py", "from pixseek.backends.milvus import MilvusIndex")
    add_function_import(copy / "src/pixseek/backends/milvus.py", "from pixseek import backends")
    proc = lint(copy)
    assert proc.returncode == 1, proc.stdout
    assert "No import cycles" in proc.stdout and "BROKEN" in proc.stdout


def test_importing_the_facade_from_a_layer_breaks_the_contract(copy: Path):
    add_function_import(copy / "src/pixseek/io/walk.py", "from pixseek import __version__")
    proc = lint(copy)
    assert proc.returncode == 1 and "pixseek.io.walk is not allowed to import pixseek" in proc.stdout, proc.stdout


def test_a_new_package_must_be_placed_in_a_layer(copy: Path):
    (copy / "src/pixseek/newthing").mkdir()
    (copy / "src/pixseek/newthing/__init__.py").write_text("")
    proc = lint(copy)
    assert proc.returncode != 0 and "newthing" in proc.stdout + proc.stderr, proc.stdout
