"""Distributed encoding on a local Ray (2 encoder actors with fractional CPUs): the same catalog
rows as single-process indexing, and neither a killed worker nor a killed driver duplicates or
loses a row."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys

import numpy as np
import psutil
import pytest
from PIL import Image, ImageOps

from conftest import GALLERY, run_cli
from pixseek.distributed.ray_encode import RayConfig, ray_add, start_ray
from pixseek.search import encode_paths
from pixseek import open_library

pytestmark = pytest.mark.system

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"


@pytest.fixture(scope="module")
def local_ray():
    import ray

    start_ray(RayConfig())
    yield
    ray.shutdown()


@pytest.fixture()
def variants(tmp_path):
    """The gallery and three edited copies of each photo: 88 small real images."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for src in sorted(GALLERY.iterdir()):
        im = Image.open(src).convert("RGB")
        w, h = im.size
        for i, e in enumerate([im, ImageOps.mirror(im), im.crop((w // 8, h // 8, w - w // 8, h - h // 8)), im.rotate(8)]):
            e.save(folder / f"{src.stem}_{i}.jpg", quality=90)
    return folder


def rows(db) -> dict[str, tuple[np.ndarray, list[str]]]:
    """path -> (vector, sorted tags) straight from the catalog file."""
    con = sqlite3.connect(db)
    out = {}
    for path, vid, emb in con.execute("SELECT f.path, v.id, v.embedding FROM files f JOIN vectors v ON v.file_id=f.id"):
        tags = sorted(t for (t,) in con.execute("SELECT tag FROM tags WHERE vector_id=?", (vid,)))
        out[path] = (np.frombuffer(emb, np.float32), tags)
    con.close()
    return out


def counts(db) -> tuple[int, int, int]:
    with sqlite3.connect(db, timeout=5) as con:
        return tuple(con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("files", "vectors", "regions"))


def test_ray_writes_the_same_rows_as_one_process(local_ray, tmp_path, gallery):
    with open_library(tmp_path / "one.db", regions=True) as lib:
        lib.add(gallery)
    with open_library(tmp_path / "ray.db", regions=True) as lib:
        report = ray_add(lib, gallery, RayConfig(workers=2, batch_size=8))
        assert (report.added, report.unchanged, report.errors) == (22, 0, [])
        assert lib.index.ntotal == 22
        hit = lib.search(GALLERY.parent / "queries" / "cat-crop.jpg", k=1)[0][0]
        assert hit.path.endswith("chelsea.jpg")
        again = ray_add(lib, gallery, RayConfig(workers=2, batch_size=8))
        assert (again.added, again.updated, again.unchanged) == (0, 0, 22)
    one, ray_rows = rows(tmp_path / "one.db"), rows(tmp_path / "ray.db")
    assert sorted(one) == sorted(ray_rows)
    for path, (vec, tags) in one.items():
        np.testing.assert_allclose(ray_rows[path][0], vec, atol=1e-5, err_msg=path)
        assert ray_rows[path][1] == tags, path
    assert counts(tmp_path / "ray.db") == counts(tmp_path / "one.db") == (22, 22, 22)


def test_killed_worker_neither_duplicates_nor_loses_rows(local_ray, tmp_path, variants, monkeypatch):
    # one encoder actor SIGKILLs itself with its 2nd batch encoded but not yet returned (pixseek/faults.py,
    # forwarded to the actors); the file makes it one death in all: the restarted actor and the other go on
    fired = tmp_path / "fault.pid"
    monkeypatch.setenv("PIXSEEK_FAULT", "ray.actor.after_encode:2")
    monkeypatch.setenv("PIXSEEK_FAULT_ONCE", str(fired))
    db = tmp_path / "k.db"
    with open_library(db, regions=True) as lib:
        report = ray_add(lib, variants, RayConfig(workers=2, batch_size=4))
        assert fired.exists(), "no actor reached the fault point"
        pid = int(fired.read_text())
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        assert report.added == 88 and report.errors == []
        assert counts(db) == (88, 88, 88) and lib.index.ntotal == 88
        stored = rows(db)
        sample = sorted(stored)[::11]
        want, ok, _ = encode_paths(sample, encoder=lib.encoder)
        for path, vec in zip(ok, want):
            np.testing.assert_allclose(stored[path][0], vec, atol=1e-5, err_msg=path)
        monkeypatch.delenv("PIXSEEK_FAULT")
        again = ray_add(lib, variants, RayConfig(workers=2, batch_size=4))
        assert (again.added, again.unchanged) == (0, 88)


def env_of(proc: psutil.Process) -> dict:
    try:
        return proc.environ()
    except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
        return {}


def test_rerun_after_killed_driver_duplicates_nothing(tmp_path, variants):
    db = tmp_path / "d.db"
    cmd = [sys.executable, "-c", "from pixseek.cli import main; main()", "index", str(variants), "--db", str(db),
           "--ray", "auto", "--ray-workers", "2", "--batch-size", "4", "--regions", "--json"]
    # the driver is SIGKILLed right after its 2nd batch reached the catalog (pixseek/faults.py), before that
    # batch's regions were written; the marker finds the Ray processes it started
    marker = str(tmp_path)
    log = tmp_path / "driver.log"  # a file, not a pipe: Ray's orphaned agents would hold a pipe open
    with log.open("w") as err:
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=err, timeout=600,
                              env={**os.environ, "PIXSEEK_FAULT": "ingest.after_catalog:2", "PIXSEEK_TEST_RUN": marker})
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, log.read_text()[-2000:])
    # Ray fate-shares its head processes with the driver, but two agents outlive a SIGKILL: end them
    _, alive = psutil.wait_procs([p for p in psutil.process_iter() if env_of(p).get("PIXSEEK_TEST_RUN") == marker],
                                 timeout=10)
    for p in alive:
        p.kill()
    first = counts(db)
    assert first == (8, 8, 4), first  # 2 batches of 4; the 2nd batch's regions not yet written
    summary = json.loads(run_cli("index", variants, "--db", db, "--ray", "auto", "--batch-size", "8", "--json").stdout)
    kept = counts(db)
    # files and vectors: exactly once each. Regions are a cache committed after their batch's vectors: a
    # kill between the two leaves a few without (made on first use); the re-run without --regions still
    # describes what it adds (the catalog remembers), and ensure_regions completes the rest
    assert kept[:2] == (88, 88) and kept[2] <= 88, kept
    with open_library(db) as lib:
        from pixseek.compare.regions import ensure_regions

        ids = [int(i) for i in next(lib.catalog.iter_vectors(lib.dim))[0]]
        assert len(ensure_regions(lib, ids)) == 88
    assert counts(db) == (88, 88, 88)
    assert summary["total"] == 88 and summary["added"] + summary["unchanged"] == 88 and summary["added"] < 88
    info = json.loads(run_cli("info", "--db", db, "--json").stdout)
    assert info["index_ntotal"] == info["vectors"] == 88
