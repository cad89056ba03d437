"""``pip install pixseek`` as a new user gets it: the wheel built from this tree, installed into a fresh
venv with no requirements file and no make (pip's configured package index only), gives a working
``pixseek --version``, ``index`` and ``search`` on the bundled samples, names the extra a server needs,
and stays under 1.6 GB."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import pixseek

pytestmark = pytest.mark.system

REPO = Path(__file__).resolve().parents[1]
CORE_LIMIT = 1.6e9


def run(cmd, cwd, env, timeout=900):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return proc


def ok(proc):
    assert proc.returncode == 0, f"{proc.args} -> {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def tree_bytes(root: Path) -> int:
    return sum(p.lstat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def test_wheel_in_a_fresh_venv(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PIXSEEK_DB"}}
    env["PIXSEEK_CACHE"] = str(tmp_path / "cache")  # nothing cached: the first index exports the encoder
    ok(run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "dist", REPO], tmp_path, env))
    wheel, = (tmp_path / "dist").glob("pixseek-*.whl")
    assert wheel.name.startswith(f"pixseek-{pixseek.__version__}-")
    # every data file of the source tree ships (weights tables, calibration photos, web page, projections)
    src = REPO / "src"
    data = {p.relative_to(src).as_posix() for p in (src / "pixseek").rglob("*")
            if p.is_file() and p.suffix not in {".py", ".pyc"} and "__pycache__" not in p.parts}
    with zipfile.ZipFile(wheel) as zf:
        shipped = {n for n in zf.namelist() if n.startswith("pixseek/") and not n.endswith(".py")}
    assert data <= shipped, f"missing from the wheel: {sorted(data - shipped)}"
    venv = tmp_path / "venv"
    ok(run([sys.executable, "-m", "venv", venv], tmp_path, env))
    ok(run([venv / "bin" / "python", "-m", "pip", "install", "-q", wheel], tmp_path, env))
    exe = venv / "bin" / "pixseek"

    assert ok(run([exe, "--version"], tmp_path, env)).stdout.strip() == f"pixseek {pixseek.__version__}"
    db = tmp_path / "lib.db"
    ok(run([exe, "index", REPO / "samples" / "gallery", "--db", db], tmp_path, env))
    hits = json.loads(ok(run([exe, "search", REPO / "samples" / "queries" / "cat-crop.jpg", "--db", db, "-k", "3",
                              "--json"], tmp_path, env)).stdout)
    assert Path(hits["results"][0]["hits"][0]["path"]).name == "chelsea.jpg", hits
    # text search by words is in the core too (shipped tables; nothing embedded, no hub)
    found = json.loads(ok(run([exe, "search", "--text", "cat", "--db", db, "-k", "3", "--json"], tmp_path, env)).stdout)
    assert found["results"][0]["method"] == "words", found
    assert Path(found["results"][0]["hits"][0]["path"]).name == "chelsea.jpg", found

    # the core has no server: one line naming the extra, exit 2
    serve = run([exe, "serve", "--db", db], tmp_path, env, timeout=120)
    assert serve.returncode == 2 and "pip install 'pixseek[server]'" in serve.stderr, serve.stderr
    # ... and the installed package is the wheel's, not this source tree
    where = ok(run([venv / "bin" / "python", "-c", "import pixseek; print(pixseek.__file__)"], tmp_path, env)).stdout
    assert str(venv) in where

    size = tree_bytes(venv)
    print(f"core venv: {size / 1e9:.2f} GB ({venv})")
    assert size < CORE_LIMIT, f"core install is {size / 1e9:.2f} GB"
