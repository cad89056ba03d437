"""Property-based fuzzing (Hypothesis) of the decoder and of the upload endpoint.

Random bytes and mutated valid files (flipped bytes, truncations, insertions, header fields) must
give an image within the limits or an :class:`~pixseek.errors.ImageError`, never another exception;
the upload endpoint must answer 200 or 4xx, never 500. CI runs a few examples, derandomised;
``PIXSEEK_FUZZ_EXAMPLES=N`` runs N random ones (bench/hostile.py uses it)."""
from __future__ import annotations

import io
import os
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from api_fixtures import indexed_copy
from pixseek.api import ApiSettings, create_app
from pixseek.errors import ImageError
from pixseek.io import load_image

pytestmark = pytest.mark.integration

LONG = int(os.environ.get("PIXSEEK_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=LONG or 150, deadline=None, derandomize=not LONG, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])
FUZZ_HTTP = settings(FUZZ, max_examples=LONG or 25)
MAX_PIXELS = 4_000_000
HANG_S = 20.0  # a hang detector, not a speed claim: each example decodes a few KB


def _seeds() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    out = {}
    for name, im, kw in (("png", rgb, {}), ("jpeg", rgb, {"quality": 80}),
                         ("jpeg-progressive", rgb, {"progressive": True, "format": "JPEG"}),
                         ("gif", rgb.quantize(16), {}), ("webp", rgb, {"quality": 70}), ("bmp", rgb, {}),
                         ("tiff", rgb, {"compression": "tiff_lzw"}), ("png-palette", rgb.quantize(8), {"format": "PNG"}),
                         ("png-rgba", rgb.convert("RGBA"), {"format": "PNG"}),
                         ("png-16bit", Image.fromarray((np.asarray(rgb.convert("L"), np.uint16) * 257)), {"format": "PNG"})):
        buf = io.BytesIO()
        im.save(buf, kw.pop("format", name.upper()), **kw)
        out[name] = buf.getvalue()
    import pillow_heif

    buf = io.BytesIO()
    pillow_heif.from_pillow(rgb).save(buf, quality=60)
    out["heic"] = buf.getvalue()
    return out


SEEDS = _seeds()


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["flip", "header", "truncate", "insert", "dims"]))
        if not data:
            break
        if op == "flip":
            for pos in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
                data[pos] = draw(st.integers(0, 255))
        elif op == "header":  # the first bytes hold sizes, modes, offsets: where parsers trust input
            pos = draw(st.integers(0, min(64, len(data) - 1)))
            data[pos] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF, draw(st.integers(0, 255))]))
        elif op == "truncate":
            del data[draw(st.integers(0, len(data) - 1)):]
        elif op == "insert":
            pos = draw(st.integers(0, len(data)))
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif op == "dims" and len(data) > 24:  # a 32-bit big-endian field near the start: PNG IHDR, TIFF tags
            pos = draw(st.integers(8, min(40, len(data) - 4)))
            data[pos:pos + 4] = draw(st.integers(0, 2**32 - 1)).to_bytes(4, "big")
    return bytes(data)


hostile_bytes = st.one_of(st.binary(max_size=2048), mutated())


def _decode_is_an_image_or_an_image_error(data: bytes, min_side: int | None) -> None:
    t0 = time.perf_counter()
    try:
        im = load_image("fuzz.bin", data=io.BytesIO(data), max_pixels=MAX_PIXELS, min_side=min_side)
    except ImageError as err:
        assert err.path == "fuzz.bin" and err.cause
    else:
        assert im.mode == "RGB" and im.width * im.height <= MAX_PIXELS
        assert max(im.size) <= 16 * min(im.size)
    assert time.perf_counter() - t0 < HANG_S


@FUZZ
@given(data=hostile_bytes, min_side=st.sampled_from([None, 8, 224]))
def test_decoder_gives_an_image_or_an_image_error(data, min_side):
    _decode_is_an_image_or_an_image_error(data, min_side)


def test_decoder_seeds_are_valid():
    """The mutations start from files that do decode (else the fuzz only ever tests garbage)."""
    for name, data in SEEDS.items():
        assert load_image(name, data=io.BytesIO(data)).size == (32, 24), name


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    lib = indexed_copy(tmp_path_factory.mktemp("fuzz"), ["chelsea.jpg", "coffee.jpg"])
    app = create_app(lib, ApiSettings(max_upload_bytes=256 * 1024, max_pixels=MAX_PIXELS))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    lib.close()


@FUZZ_HTTP
@given(data=hostile_bytes, name=st.text(max_size=80),
       ctype=st.sampled_from(["image/png", "image/jpeg", "application/octet-stream", "", "text/plain", "image/x-ü"]))
def test_upload_endpoint_never_answers_500(client, data, name, ctype):
    resp = client.post("/api/search/image", files={"file": (name, data, ctype)}, params={"k": 2})
    assert resp.status_code == 200 or 400 <= resp.status_code < 500, (resp.status_code, resp.text[:300])
    assert resp.headers["content-type"].startswith("application/json")
