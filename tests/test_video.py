"""Video search end to end: a generated video with known scenes, indexed beside images through the real CLI."""
from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from conftest import GALLERY, run_cli
from pixseek.io.video import format_timestamp, frame_at, sample_frames
from pixseek.search.library import Hit
from pixseek.search.video import merge_video_hits

pytestmark = pytest.mark.integration

# (photo, start, end, motion): four scenes, the first one coming back at the end.
SCENES = [("astronaut.jpg", 0, 5, "static"), ("coffee.jpg", 5, 10, "pan"), ("rocket.jpg", 10, 15, "zoom"),
          ("chelsea.jpg", 15, 19, "static"), ("astronaut.jpg", 19, 22, "pan")]
FPS, SIZE = 10, (320, 240)


def _frame(im: Image.Image, motion: str, u: float) -> np.ndarray:
    w, h = im.size
    cw, ch = (w * 0.8, h * 0.8) if motion != "static" else (w, h)
    if motion == "zoom":
        cw, ch = w * (1 - 0.3 * u), h * (1 - 0.3 * u)
        x, y = (w - cw) / 2, (h - ch) / 2
    else:
        x, y = (w - cw) * (u if motion == "pan" else 0.5), (h - ch) / 2
    return np.asarray(im.resize(SIZE, Image.Resampling.BILINEAR, box=(x, y, x + cw, y + ch)))


def write_video(path: Path) -> Path:
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as c:
        s = c.add_stream("libx264", rate=FPS, options={"preset": "veryfast", "g": str(FPS)})
        s.width, s.height, s.pix_fmt = *SIZE, "yuv420p"
        for name, start, end, motion in SCENES:
            im = Image.open(GALLERY / name).convert("RGB")
            n = (end - start) * FPS
            for j in range(n):
                arr = np.clip(_frame(im, motion, j / (n - 1)) + rng.normal(0, 3, (SIZE[1], SIZE[0], 3)), 0, 255)
                for pkt in s.encode(av.VideoFrame.from_ndarray(arr.astype(np.uint8), format="rgb24")):
                    c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


@pytest.fixture(scope="module")
def footage(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("footage")
    write_video(root / "cam3.mp4")
    for name in ("camera.jpg", "moon.jpg", "coins.jpg"):
        shutil.copy(GALLERY / name, root / name)
    return root


@pytest.fixture(scope="module")
def indexed(footage, tmp_path_factory) -> tuple[Path, dict]:
    db = tmp_path_factory.mktemp("db") / "lib.db"
    report = json.loads(run_cli("index", footage, "--db", db, "--json").stdout)
    return db, report


def search(db: Path, *queries, k: int = 5) -> list[list[dict]]:
    out = json.loads(run_cli("search", *queries, "--db", db, "-k", k, "--json").stdout)
    return [r["hits"] for r in out["results"]]


def test_sampling_follows_scenes(footage):
    times = [f.t_sec for f in sample_frames(footage / "cam3.mp4")]
    for _, start, _, _ in SCENES[1:]:  # every cut gives a frame within half a second
        assert any(start <= t <= start + 0.6 for t in times), (start, times)
    assert len(times) < 22 * 2 / 2  # far fewer than every candidate (2 fps)


def test_still_of_scene_finds_video_at_right_time(indexed, footage):
    db, report = indexed
    assert report["added"] == 4 and not report["errors"]
    for name, start, end, _ in SCENES[1:4]:
        top = search(db, GALLERY / name)[0][0]
        assert top["path"].endswith("cam3.mp4") and top["kind"] == "video", top
        assert start - 1 <= top["t_sec"] <= end + 1 and abs(top["t_start"] - start) <= 1, (name, top)
    # the repeated scene: both occurrences come back as separate hits
    hits = [h for h in search(db, GALLERY / "astronaut.jpg")[0] if h.get("kind") == "video"]
    starts = sorted(h["t_start"] for h in hits[:2])
    assert abs(starts[0] - 0) <= 1 and abs(starts[1] - 19) <= 1, hits


def test_videos_and_images_ranked_together(indexed):
    db, _ = indexed
    hits = search(db, GALLERY / "camera.jpg", k=4)[0]
    assert hits[0]["path"].endswith("camera.jpg") and hits[0]["score"] > 0.99
    assert any(h.get("kind") == "video" for h in hits)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    text = run_cli("search", GALLERY / "rocket.jpg", "--db", db, "-k", 2, "--sheet", db.parent / "s.png").stdout
    assert "cam3.mp4 @ 00:00:1" in text and (db.parent / "s.png").stat().st_size > 10_000


def test_rerun_does_not_reencode(indexed, footage):
    db, _ = indexed
    before = search(db, GALLERY / "rocket.jpg")[0][0]
    again = json.loads(run_cli("index", footage, "--db", db, "--json").stdout)
    assert again["added"] == again["updated"] == 0 and again["unchanged"] == 4
    (footage / "cam3.mp4").touch()  # same bytes, new mtime: hashed, not decoded
    touched = json.loads(run_cli("index", footage, "--db", db, "--json").stdout)
    assert touched["added"] == touched["updated"] == 0 and touched["unchanged"] == 4
    assert search(db, GALLERY / "rocket.jpg")[0][0]["id"] == before["id"]  # same stored vectors


def test_truncated_video_is_partly_indexed_and_reported(footage, tmp_path):
    data = (footage / "cam3.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.55)])
    report = json.loads(run_cli("index", tmp_path, "--db", tmp_path / "c.db", "--json").stdout)
    assert report["added"] == 1
    assert [(e["path"], e["error"]) for e in report["errors"]] == [(str(cut), "corrupt-video")]
    assert "truncated" in report["errors"][0]["cause"]
    top = search(tmp_path / "c.db", GALLERY / "coffee.jpg")[0][0]  # scene 2 (5-10 s) survived the cut
    assert top["path"] == str(cut) and 4 <= top["t_sec"] <= 11


def test_merge_video_hits_and_frame_at(footage):
    hits = [Hit("v.mp4", 0.9, 11, 12.0, "video"), Hit("v.mp4", 0.8, 10, 10.0, "video"),
            Hit("a.jpg", 0.85, 3), Hit("v.mp4", 0.7, 30, 60.0, "video"), Hit("v.mp4", 0.6, 12, 40.0, "video")]
    merged = merge_video_hits(hits, gap=12)
    assert [(h.path, h.t_sec, h.t_start, h.t_end) for h in merged] == [
        ("v.mp4", 12.0, 10.0, 12.0), ("a.jpg", None, None, None), ("v.mp4", 60.0, 60.0, 60.0),
        ("v.mp4", 40.0, 40.0, 40.0)]  # 40 s is adjacent by id but 28 s away: another shot
    bridged = merge_video_hits([Hit("v.mp4", 0.9, 5, 5.0, "video"), Hit("v.mp4", 0.89, 7, 7.0, "video"),
                                Hit("v.mp4", 0.5, 6, 6.0, "video")])
    assert [(h.score, h.t_sec, h.t_start, h.t_end) for h in bridged] == [(0.9, 5.0, 5.0, 7.0)]
    assert format_timestamp(761.2) == "00:12:41.2"
    a, b = frame_at(footage / "cam3.mp4", 2.0), frame_at(footage / "cam3.mp4", 17.0)
    ref = np.asarray(Image.open(GALLERY / "chelsea.jpg").convert("RGB").resize(b.size), np.float32)
    assert np.abs(np.asarray(b, np.float32) - ref).mean() < np.abs(np.asarray(a, np.float32) - ref).mean()


def test_api_shows_video_hit_as_its_frame(indexed, footage):
    from fastapi.testclient import TestClient

    from pixseek.api import ApiSettings, create_app
    from pixseek import open_library

    db, _ = indexed
    with open_library(db) as lib, TestClient(create_app(lib, ApiSettings(roots=(footage,)))) as client:
        data = (GALLERY / "rocket.jpg").read_bytes()
        hits = client.post("/api/search/image", files={"file": ("rocket.jpg", data, "image/jpeg")}).json()["hits"]
        top = hits[0]
        assert top["name"].startswith("cam3.mp4 @ 00:00:1") and 9 <= top["t_sec"] <= 16, top
        assert top["image_url"].endswith(f"#t={top['t_sec']:.1f}")  # the page opens the video playing from there
        thumb = client.get(top["thumb_url"])
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        frame = Image.open(io.BytesIO(thumb.content)).convert("RGB")
        other = next(h for h in hits if h.get("t_sec") is not None and abs(h["t_sec"] - top["t_sec"]) > 3)
        assert client.get(other["thumb_url"]).content != thumb.content  # one thumbnail per frame, not per file
        assert frame.size[0] > 100
        video = client.get(top["image_url"].split("#")[0])
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"


def test_interrupted_video_resumes_after_last_committed_frame(footage, tmp_path):
    from pixseek import open_library
    from pixseek.search.video import PARTIAL

    video = tmp_path / "cam3.mp4"
    shutil.copy(footage / "cam3.mp4", video)
    full = [f.t_sec for f in sample_frames(video)]

    def stop(path, t, duration):
        if t > 12:
            raise KeyboardInterrupt  # what Ctrl-C does in the middle of a video

    with open_library(tmp_path / "i.db", batch_size=2) as lib:  # a commit every 2 frames
        with pytest.raises(KeyboardInterrupt):
            lib.add(tmp_path, video_progress=stop)
        kept = lib.catalog.items()
        assert 0 < len(kept) < len(full) and max(r.t_sec for r in kept) <= 12  # whole chunks committed
        assert lib.catalog.file_states()[str(video)].size == PARTIAL  # not complete: the next run comes back to it
        resumed_at: list[float] = []
        report = lib.add(tmp_path, video_progress=lambda p, t, d: resumed_at.append(t))
        assert report.added == 1 and not report.errors
        assert min(resumed_at) > max(r.t_sec for r in kept)  # decoding went on after the last committed frame
        rows = lib.catalog.items()
        assert [r.id for r in rows[:len(kept)]] == [r.id for r in kept]  # what was committed is kept, not redone
        times = [r.t_sec for r in rows]
        assert times == sorted(set(times)) and times[-1] >= full[-1] - 0.5 and abs(len(times) - len(full)) <= 2
        assert lib.catalog.file_states()[str(video)].size == video.stat().st_size  # complete now
        assert lib.catalog.count_vectors() == lib.index.ntotal
        top = lib.search(GALLERY / "chelsea.jpg", k=3)[0][0]  # scene 4 (15-19 s) was encoded after the resume
        assert top.kind == "video" and 14 <= top.t_sec <= 20, top
        assert lib.add(tmp_path).unchanged == 1


def test_long_static_stretch_is_committed_every_chunk_of_video_time(footage, tmp_path):
    from pixseek import open_library
    from pixseek.search.library import IndexReport
    from pixseek.search.video import add_videos

    committed: list[tuple[float, int]] = []  # (video time, vectors in the index) while decoding
    with open_library(tmp_path / "c.db") as lib:  # batch of 32 frames: more than the whole video gives
        add_videos(lib, [str(footage / "cam3.mp4")], {}, IndexReport(), commit_every=5.0,
                   progress=lambda p, t, d: committed.append((t, lib.index.ntotal)))
        total = lib.index.ntotal
    steps = sorted({n for _, n in committed})
    assert len(steps) >= 4 and steps[-1] < total  # committed as it went, ~every 5 s of video, not at the end only
    assert all(n > 0 for t, n in committed if t > 7)


def test_web_page_shows_video_frame_and_plays_from_its_time(indexed, footage, browser):
    """Real headless Chromium on a real server: the hit card is the frame named with its time, and its
    link opens the video already at that time."""
    from api_fixtures import live_server
    from playwright.sync_api import expect

    from pixseek.api import ApiSettings
    from pixseek import open_library

    db, _ = indexed
    with open_library(db) as lib, live_server(lib, ApiSettings(roots=(footage,))) as base:
        ctx = browser.new_context()
        page = ctx.new_page()
        page.goto(base + "/")
        page.set_input_files("#file", str(GALLERY / "rocket.jpg"))
        top = page.locator("#results .card.rank-1")
        expect(top.locator(".name")).to_contain_text("cam3.mp4 @ 00:00:1")
        expect(top.locator("img")).to_have_js_property("complete", True)
        assert top.locator("img").evaluate("i => i.naturalWidth") > 100  # the frame, not a placeholder
        link = top.locator(".open")
        assert link.get_attribute("aria-label").startswith("Play cam3.mp4 @ ")
        href = link.get_attribute("href")
        t = float(href.split("#t=")[1])
        assert 9 <= t <= 16, href
        page.goto(base + href)  # what following the link does: the browser's own player, at #t=
        # a frame decoded there (HAVE_CURRENT_DATA): Chromium plays this H.264 file, from the hit's time
        page.wait_for_function("() => { const v = document.querySelector('video'); return v && v.readyState >= 2; }")
        at = page.evaluate("() => document.querySelector('video').currentTime")
        assert abs(at - t) < 0.2, (at, t)
        ctx.close()
