"""Decoding: every format to upright RGB; every hostile file to a typed error naming it."""
from __future__ import annotations


import numpy as np
import pytest
from PIL import Image

from conftest import best_of
from hostile import format_zoo, hostile_corpus
from pixseek.errors import CorruptImageError, EmptyFileError, ImageError, ImageTooLargeError, NotAnImageError
from pixseek.io import IMAGE_EXTENSIONS, load_image, walk_files

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zoo")
    return folder, format_zoo(folder)


def test_every_format_decodes_upright_rgb(zoo):
    folder, expected = zoo
    ref = np.asarray(load_image(folder / "cat.png"), np.float32)
    for name, size in expected.items():
        im = load_image(folder / name)
        assert im.mode == "RGB", name
        assert im.size == size, name
        if size == ref.shape[1::-1] and name not in ("cat-rgba.png",):
            diff = np.abs(np.asarray(im, np.float32).mean(axis=2) - ref.mean(axis=2)).mean()
            assert diff < 25, f"{name} decodes to a different picture (mean abs diff {diff:.1f})"


def test_transparent_pixels_composite_on_background(zoo):
    folder, _ = zoo
    white = np.asarray(load_image(folder / "cat-rgba.png"))
    black = np.asarray(load_image(folder / "cat-rgba.png", background=(0, 0, 0)))
    w = white.shape[1]
    assert white[:, : w // 4 - 1].min() == 255
    assert black[:, : w // 4 - 1].max() == 0
    assert (white[:, w // 2:] == black[:, w // 2:]).all()


def test_exif_orientation_is_applied(zoo):
    folder, _ = zoo
    upright = load_image(folder / "cat-exif-rot.jpg")
    plain = load_image(folder / "cat.png")
    assert upright.size == plain.size[::-1]
    rotated = np.asarray(plain.transpose(Image.Transpose.ROTATE_270), np.float32)
    assert np.abs(np.asarray(upright, np.float32) - rotated).mean() < 12


def test_draft_decoding_keeps_requested_size(gallery, tmp_path):
    from pixseek.io.decode import DRAFT_SLACK

    full = load_image(gallery / "astronaut.jpg")
    im = load_image(gallery / "astronaut.jpg", min_side=100)
    assert DRAFT_SLACK * 100 <= min(im.size) <= min(full.size) / 2  # DCT-scaled, never below the slack
    # 1280 x 852 asked for 224: the 1/4 scale (213 px, within the slack) instead of 1/2 (426 px)
    big = tmp_path / "big.jpg"
    full.resize((1280, 852)).save(big, quality=90)
    scaled = load_image(big, min_side=224)
    assert scaled.size == (320, 213)
    # the same picture as the full decode brought to that size
    ref = np.asarray(load_image(big).resize(scaled.size, Image.Resampling.BOX), np.float32)
    assert np.abs(np.asarray(scaled, np.float32) - ref).mean() < 4
    # upright by EXIF on the DCT-scaled path too, and a truncated stream is an error, not grey rows
    exif = Image.Exif()
    exif[0x0112] = 6
    full.resize((1280, 852)).save(tmp_path / "rot.jpg", quality=90, exif=exif.tobytes())
    upright = load_image(tmp_path / "rot.jpg", min_side=224)
    assert upright.size == (213, 320)
    expected = np.asarray(scaled.transpose(Image.Transpose.ROTATE_270), np.float32)
    assert np.abs(np.asarray(upright, np.float32) - expected).mean() < 4
    (tmp_path / "cut.jpg").write_bytes(big.read_bytes()[: big.stat().st_size // 2])
    with pytest.raises(CorruptImageError, match="cut.jpg"):
        load_image(tmp_path / "cut.jpg", min_side=224)


def test_hostile_files_raise_typed_errors_quickly(tmp_path, gallery):
    expected = hostile_corpus(tmp_path)
    kinds = {"corrupt-image": CorruptImageError, "empty-file": EmptyFileError, "not-an-image": NotAnImageError,
             "too-large": ImageTooLargeError}
    # "quickly" as a ratio, not a wall-clock limit: rejecting one hostile file costs less than decoding the
    # 22 sample photos once (a pixel bomb that were decoded would cost seconds: ~100x that)
    photos = sorted(gallery.iterdir())
    gallery_decode = best_of(3, lambda: [load_image(p) for p in photos])

    def reject(name):
        with pytest.raises(ImageError):
            load_image(tmp_path / name)

    for name, kind in expected.items():
        spent = best_of(3, lambda: reject(name))
        assert spent < gallery_decode, f"{name}: rejecting took {spent * 1e3:.1f} ms, decoding the gallery {gallery_decode * 1e3:.1f} ms"
        with pytest.raises(ImageError) as info:
            load_image(tmp_path / name)
        assert info.value.kind == kind
        assert name in str(info.value)
        if kind in kinds:
            assert isinstance(info.value, kinds[kind])


def test_walk_survives_symlink_loops(tmp_path, gallery):
    hostile_corpus(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "cat.jpg").write_bytes((gallery / "chelsea.jpg").read_bytes())
    found = [p.relative_to(tmp_path).as_posix() for p in walk_files(tmp_path, IMAGE_EXTENSIONS)]
    assert found.count("sub/cat.jpg") == 1
    assert not any(f.startswith("loop/parent/") for f in found)
    assert set(found) >= {"truncated.jpg", "empty.jpg", "notes.jpg", "bomb.png", "sub/cat.jpg"}
