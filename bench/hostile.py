"""Hostile inputs, end to end (issue 16): the hostile corpus plus the sample gallery through the real
``pixseek index``, hostile uploads and half-sent requests against a real ``pixseek serve``, and a
long Hypothesis fuzz run.

    .venv/bin/python bench/hostile.py [--fuzz 2000] [--slow 500] [--load 60 --clients 32 --extra 200]

Baselines from the same run: the gallery alone through ``pixseek index`` (peak RSS, seconds), a
normal photo upload (latency, server RSS growth), /api/info with no half-sent connection open.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from hostile import EITHER, Case, _jpeg, build_hostile_corpus, keep_rewriting, strip_png  # noqa: E402
from test_hostile_corpus import check_outcomes  # noqa: E402

from pixseek.io import printable_path  # noqa: E402
from pixseek.store.catalog import Catalog  # noqa: E402

GALLERY = REPO / "samples" / "gallery"
CLI = [sys.executable, "-c", "from pixseek.cli import main; main()"]
ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}


# Runs argv as its child and prints that child's own peak RSS (wait4's rusage, kB) as stderr's last line.
PEAK_WRAPPER = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:]); _, st, ru = os.wait4(p.pid, 0); "
                "print(ru.ru_maxrss, file=sys.stderr); sys.exit(os.waitstatus_to_exitcode(st))")


def run_index(folder: Path, db: Path, timeout: float) -> dict:
    """One ``pixseek index`` child: exit code, seconds, its own peak RSS, its JSON report."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", PEAK_WRAPPER, *CLI, "index", str(folder), "--db", str(db), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        hung = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)  # the wrapper and the index run it started (their own session)
        out, err = proc.communicate()
        hung = True
    tail = err.decode(errors="replace").strip().splitlines()
    peak_kb = int(tail[-1]) if tail and tail[-1].isdigit() else 0
    return {"rc": proc.returncode, "hung": hung, "seconds": time.perf_counter() - t0, "peak_kb": peak_kb,
            "crashed": proc.returncode != 0 or b"Traceback" in err,
            "report": json.loads(out) if proc.returncode == 0 else None, "stderr": "\n".join(tail[-10:])}


def index_part(work: Path, timeout: float) -> list[str]:
    lines = []
    good_only = work / "good-only"
    shutil.copytree(GALLERY, good_only)
    base = run_index(good_only, work / "good.db", timeout)
    corpus = work / "corpus"
    cases = build_hostile_corpus(corpus)
    shutil.copytree(GALLERY, corpus / "good")
    stop = threading.Event()
    writer = keep_rewriting(corpus / "rewritten.jpg", stop, _jpeg(99))
    cases.append(Case(str(corpus / "rewritten.jpg"), EITHER))
    try:
        hostile = run_index(corpus, work / "corpus.db", timeout)
    finally:
        stop.set()
        writer.join(10)
    hostile_peak_kb = hostile["peak_kb"]
    cat = Catalog(work / "corpus.db")
    try:
        indexed = set(cat.file_states())
    finally:
        cat.close()
    errors = hostile["report"]["errors"] if hostile["report"] else []
    problems = check_outcomes(cases, indexed, errors)
    good = [str(p) for p in sorted((corpus / "good").iterdir())]
    bad_indexed = sum(1 for c in cases if c.path in indexed)
    reported = {printable_path(c.path) for c in cases} & {e["path"] for e in errors}
    reported |= {printable_path(c.path) for c in cases if any(e["path"].startswith(printable_path(c.path) + "/")
                                                              for e in errors)}
    lines += [
        "## index: hostile corpus + gallery vs gallery alone",
        f"hostile entries tried: {len(cases)} (+ {len(good)} good photos)",
        f"  reported with a cause: {len(reported)}, indexed: {bad_indexed}, neither: "
        f"{len(cases) - len(reported) - bad_indexed}; outcome problems: {len(problems)}",
        *[f"    {p}" for p in problems],
        f"  good photos indexed: {sum(p in indexed for p in good)}/{len(good)}",
        f"  exit code {hostile['rc']}, crashes {int(hostile['crashed'])}, hangs {int(hostile['hung'])}",
        f"peak RSS: corpus {hostile_peak_kb / 1024:.0f} MB vs gallery alone {base['peak_kb'] / 1024:.0f} MB "
        f"({hostile_peak_kb / max(1, base['peak_kb']):.2f}x; limit 2500 MB)",
        f"seconds: corpus {hostile['seconds']:.1f} vs gallery alone {base['seconds']:.1f} "
        f"({hostile['seconds'] / base['seconds']:.2f}x)",
    ]
    if hostile["crashed"] or hostile["hung"]:
        lines.append("  stderr: " + hostile["stderr"])
    return lines


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    line = next(x for x in open(f"/proc/{pid}/status") if x.startswith(field))
    return int(line.split()[1])


def http_part(work: Path, slow: int) -> list[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([*CLI, "serve", "--db", str(work / "good.db"), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**ENV, "PIXSEEK_HEADER_TIMEOUT": "5"})
    lines = ["", "## serve: hostile requests (server RSS from /proc, same process)"]
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                return lines + ["server did not start"]
            time.sleep(0.2)

        def upload(data: bytes, name: str) -> tuple[int, float, int]:
            """Status, seconds, and the server's peak RSS during the request over its RSS before (kB)."""
            with open(f"/proc/{proc.pid}/clear_refs", "w") as fh:  # resets VmHWM to the current RSS
                fh.write("5")
            before = rss_kb(proc.pid)
            t0 = time.perf_counter()
            r = httpx.post(f"{base}/api/search/image", files={"file": (name, data, "image/png")}, timeout=120)
            return r.status_code, time.perf_counter() - t0, rss_kb(proc.pid, "VmHWM") - before

        photo = (GALLERY / "coffee.jpg").read_bytes()
        upload(photo, "warm.jpg")
        status, secs, grew = upload(photo, "coffee.jpg")
        lines.append(f"normal photo upload: {status} in {secs * 1000:.0f} ms, peak RSS over the RSS before +{grew / 1024:.0f} MB")
        for w, h in ((20000, 1), (1, 40000), (100000, 1)):
            data = strip_png(work / f"{w}x{h}.png", w, h).read_bytes()
            status, secs2, grew2 = upload(data, f"{w}x{h}.png")
            lines.append(f"{w}x{h} PNG ({len(data)} B): {status} in {secs2 * 1000:.0f} ms ({secs2 / secs:.2f}x the photo), "
                         f"peak RSS +{grew2 / 1024:.0f} MB")
        foreign = httpx.get(f"{base}/api/info", headers={"Host": "evil.example"}).status_code
        lines.append(f"foreign Host header: {foreign}; own: {httpx.get(f'{base}/api/info').status_code}")

        def info_ms() -> float:
            t0 = time.perf_counter()
            assert httpx.get(f"{base}/api/info", timeout=30).status_code == 200
            return (time.perf_counter() - t0) * 1000

        quiet = sorted(info_ms() for _ in range(20))[10]
        socks = []
        for i in range(slow):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-{i}: ".encode())
            socks.append(s)
        loaded = sorted(info_ms() for _ in range(20))[10]
        time.sleep(5 + 3)
        still_open = 0
        for s in socks:
            s.setblocking(False)
            try:
                still_open += s.recv(1) != b""
            except BlockingIOError:
                still_open += 1
            except OSError:
                pass
            s.close()
        lines.append(f"{slow} half-sent request heads: /api/info p50 {loaded:.1f} ms while held vs {quiet:.1f} ms "
                     f"before ({loaded / quiet:.2f}x); still open 8 s later (head deadline 5 s): {still_open}")
        lines.append(f"server RSS at the end: {rss_kb(proc.pid) / 1024:.0f} MB (peak {rss_kb(proc.pid, 'VmHWM') / 1024:.0f} MB)")
    finally:
        proc.terminate()
        proc.wait(30)
    return lines


def load_part(work: Path, clients: int, seconds: float, extra: int) -> list[str]:
    """``clients`` threads of mixed reads (uploads, text, item searches) for ``seconds`` against a real
    ``pixseek serve`` while a separate ``pixseek index`` adds ``extra`` new files to the same catalog."""
    from hostile import synthetic_png

    db = work / "load.db"
    for p in work.glob("good.db*"):  # the catalog and its index files
        shutil.copy(p, work / p.name.replace("good.db", "load.db", 1))
    new = work / "extra"
    new.mkdir()
    for i in range(extra):
        synthetic_png(new / f"new-{i:04d}.png", 1000 + i, (160, 120))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([*CLI, "serve", "--db", str(db), "--port", str(port), "--threads", "2"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    lines = ["", f"## serve under load: {clients} clients, {seconds:.0f} s, while `pixseek index` adds {extra} files"]
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                return lines + ["server did not start"]
            time.sleep(0.2)
        before = httpx.get(f"{base}/api/info").json()
        ids = [i["id"] for i in httpx.get(f"{base}/api/items", params={"limit": 100}).json()["items"]]
        photos = [p.read_bytes() for p in sorted(GALLERY.iterdir())[:6]]
        words = ["cat", "coffee", "rocket", "astronaut", "moon", "horse"]
        samples: list[tuple[str, object, float]] = []
        lock = threading.Lock()
        end = time.monotonic() + seconds

        def client(n: int, count: int | None = None) -> None:
            with httpx.Client(base_url=base, timeout=120) as c:
                i = n
                while (time.monotonic() < end) if count is None else (i < n + count):
                    kind = ("upload", "text", "item")[i % 3]
                    t0 = time.perf_counter()
                    try:
                        if kind == "upload":
                            r = c.post("/api/search/image", files={"file": ("q.jpg", photos[i % len(photos)], "image/jpeg")})
                        elif kind == "text":
                            r = c.get("/api/search/text", params={"q": words[i % len(words)]})
                        else:
                            r = c.get(f"/api/items/{ids[i % len(ids)]}/similar")
                        status: object = r.status_code
                    except httpx.HTTPError as exc:
                        status = type(exc).__name__
                    with lock:
                        samples.append((kind, status, time.perf_counter() - t0))
                    i += 1

        client(0, 30)  # baseline: one client alone, 10 requests of each kind
        alone = {kind: sorted(x for k, st_, x in samples if k == kind and st_ == 200)[5] for kind in ("upload", "text", "item")}
        samples.clear()
        end = time.monotonic() + seconds
        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
        for t in threads:
            t.start()
        time.sleep(min(2.0, seconds / 4))
        t_index = time.perf_counter()
        indexer = subprocess.run([*CLI, "index", str(new), "--db", str(db), "--json"], capture_output=True,
                                 text=True, env=ENV, timeout=seconds * 10 + 600)
        index_s = time.perf_counter() - t_index
        for t in threads:
            t.join(seconds + 180)
        time.sleep(1)
        after = httpx.get(f"{base}/api/info").json()
        stale = httpx.get(f"{base}/readyz").json()  # the server reloads another process's writes on its next read
        probe = httpx.get(f"{base}/api/search/text", params={"q": "new"}).status_code
        ready = httpx.get(f"{base}/readyz").json()
        by_status: dict[str, int] = {}
        for _, status, _ in samples:
            by_status[str(status)] = by_status.get(str(status), 0) + 1
        lines.append(f"requests: {len(samples)} ({len(samples) / seconds:.1f}/s); by status: "
                     + ", ".join(f"{k}: {v}" for k, v in sorted(by_status.items())))
        for kind in ("upload", "text", "item"):
            lat = sorted(x for k, st_, x in samples if k == kind and st_ == 200)
            if lat:
                p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]
                lines.append(f"  {kind}: {len(lat)} ok, p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms; one client "
                             f"alone p50 {alone[kind] * 1000:.0f} ms ({p50 / alone[kind]:.1f}x)")
        added = json.loads(indexer.stdout)["added"] if indexer.returncode == 0 else None
        lines.append(f"index run: exit {indexer.returncode}, {added} added in {index_s:.1f} s; files "
                     f"{before['files']} -> {after['files']} (expected {before['files'] + extra}); readyz "
                     f"{stale['status']} (index {stale['index_size']} / catalog {stale['catalog_vectors']}), after one "
                     f"search ({probe}): {ready['status']} (index {ready['index_size']} / catalog {ready['catalog_vectors']})")
    finally:
        server.terminate()
        server.wait(30)
    return lines


def fuzz_part(examples: int) -> list[str]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:warnings", "-p", "no:cacheprovider",
                           str(REPO / "tests" / "test_hostile_fuzz.py")], capture_output=True, text=True,
                          env={**ENV, "PIXSEEK_FUZZ_EXAMPLES": str(examples)}, cwd=REPO)
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]
    return ["", "## fuzz (Hypothesis, random seeds)",
            f"{examples} examples each (decoder; upload endpoint): {tail} in {time.perf_counter() - t0:.0f} s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fuzz", type=int, default=2000, help="Hypothesis examples per fuzz test")
    ap.add_argument("--slow", type=int, default=500, help="half-sent connections to hold open")
    ap.add_argument("--timeout", type=float, default=600, help="seconds before an index run counts as hung")
    ap.add_argument("--load", type=float, default=0, help="seconds of the mixed load (0: skip; the issue asks 60)")
    ap.add_argument("--clients", type=int, default=32, help="mixed-load clients")
    ap.add_argument("--extra", type=int, default=200, help="files `pixseek index` adds during the load")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pixseek-hostile-") as tmp:
        work = Path(tmp)
        lines = index_part(work, args.timeout)
        lines += http_part(work, args.slow)
        if args.load > 0:
            lines += load_part(work, args.clients, args.load, args.extra)
    if args.fuzz > 0:
        lines += fuzz_part(args.fuzz)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
