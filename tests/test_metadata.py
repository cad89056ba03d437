"""pixseek.io.metadata: true size, date, camera, GPS and text read from real files' headers."""
from __future__ import annotations

import io
import struct
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from conftest import best_of
from pixseek.errors import CorruptImageError, EmptyFileError, ImageError, NotAnImageError, UnreadableFileError
from pixseek.io import load_image
from pixseek.io.metadata import ImageMeta, read_metadata

pytestmark = pytest.mark.unit

GALLERY = Path(__file__).resolve().parents[1] / "samples" / "gallery"
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag><rdf:li>beach</rdf:li>'
       b'<rdf:li>sunset &amp; sea</rdf:li></rdf:Bag></dc:subject><dc:title><rdf:Alt><rdf:li xml:lang="x-default">'
       b'Evening at Etretat</rdf:li></rdf:Alt></dc:title></rdf:Description></rdf:RDF></x:xmpmeta>')


def photo(size=(400, 300)) -> Image.Image:
    with Image.open(GALLERY / "coffee.jpg") as im:
        return im.convert("RGB").resize(size, Image.Resampling.BILINEAR)


def full_exif(orientation: int = 1) -> Image.Exif:
    ex = Image.Exif()
    ex[0x0112] = orientation
    ex[0x010F] = "Canon"
    ex[0x0110] = "Canon EOS 5D Mark II"
    ex[0x010E] = "Harbour at dusk"
    ex[0x0132] = "2022:01:01 00:00:00"  # DateTime (file changed): DateTimeOriginal wins
    ex.get_ifd(EXIF_IFD)[0x9003] = "2021:07:04 15:30:00"  # DateTimeOriginal
    ex.get_ifd(EXIF_IFD)[0x9011] = "+02:00"  # OffsetTimeOriginal
    ex.get_ifd(GPS_IFD).update({1: "N", 2: (IFDRational(48), IFDRational(51), IFDRational(2448, 100)),
                                3: "W", 4: (IFDRational(2), IFDRational(17), IFDRational(4020, 100))})
    ex[0x9C9E] = "boats;harbour".encode("utf-16-le")  # XPKeywords
    return ex


@pytest.mark.parametrize("fmt,ext", [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("HEIF", "heic"), ("TIFF", "tif")])
def test_size_and_fields_per_format(tmp_path, fmt, ext):
    p = tmp_path / f"a.{ext}"
    photo((640, 360)).save(p, fmt, exif=full_exif())
    m = read_metadata(p)
    assert (m.width, m.height) == (640, 360) == load_image(p).size
    assert m.format == fmt
    assert (m.camera_make, m.camera_model, m.camera) == ("Canon", "Canon EOS 5D Mark II", "Canon EOS 5D Mark II")
    assert "boats" in m.keywords and "Harbour at dusk" in m.description
    if fmt != "TIFF":  # PIL's TIFF writer keeps IFD0 only (no Exif / GPS sub-IFDs)
        assert m.taken_at == datetime(2021, 7, 4, 15, 30, tzinfo=timezone(timedelta(hours=2)))
        assert m.taken_at_unix == datetime(2021, 7, 4, 13, 30, tzinfo=timezone.utc).timestamp()
        assert m.gps == pytest.approx((48.8568, -2.2945))


@pytest.mark.parametrize("fmt,ext", [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("TIFF", "tif"), ("HEIF", "heic")])
@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_exif_orientation_gives_the_displayed_size(tmp_path, fmt, ext, orientation):
    p = tmp_path / f"r{orientation}.{ext}"
    ex = Image.Exif()
    ex[0x0112] = orientation
    photo((400, 300)).save(p, fmt, exif=ex)
    m = read_metadata(p)
    assert (m.width, m.height) == load_image(p).size  # the size a person sees is the size decode returns
    if fmt != "HEIF":  # libheif ignores an EXIF orientation (HEIF rotates with its own irot box)
        assert (m.width, m.height) == ((300, 400) if orientation in (6, 8) else (400, 300))


def test_rotated_camera_jpeg_4000x3000_is_3000x4000(tmp_path):
    p = tmp_path / "portrait.jpg"
    photo((4000, 3000)).save(p, quality=85, exif=full_exif(orientation=6))
    m = read_metadata(p)
    assert (m.width, m.height) == (3000, 4000)
    assert m.orientation == 6


def test_huge_jpeg_reports_its_true_size_not_the_draft_and_costs_a_fraction_of_a_decode(tmp_path):
    p = tmp_path / "big.jpg"
    photo((4224, 3168)).save(p, quality=90)
    data = p.read_bytes()
    m = read_metadata(p, data=data)
    assert (m.width, m.height) == (4224, 3168)
    t0 = time.perf_counter()
    full = load_image(p, data=io.BytesIO(data))
    t_decode = time.perf_counter() - t0  # a preemption here only makes the ratio easier
    assert full.size == (4224, 3168)
    t_meta = best_of(3, lambda: read_metadata(p, data=data))  # a ratio, the best of 3: one preemption can't flip it
    draft = load_image(p, data=io.BytesIO(data), min_side=224)
    assert max(draft.size) < 1100  # what the catalog stored before: the DCT-scaled decode
    assert t_meta < t_decode / 10, (t_meta, t_decode)


def test_catalog_columns(tmp_path):
    p = tmp_path / "c.jpg"
    photo((640, 480)).save(p, exif=full_exif(orientation=8), xmp=XMP)
    cols = read_metadata(p).columns()
    assert cols == {"width": 480, "height": 640, "camera": "Canon EOS 5D Mark II",
                    "taken_at": datetime(2021, 7, 4, 13, 30, tzinfo=timezone.utc).timestamp(),
                    "gps_lat": pytest.approx(48.8568), "gps_lon": pytest.approx(-2.2945),
                    "description": "Harbour at dusk | Evening at Etretat boats harbour beach sunset & sea"}
    p2 = tmp_path / "bare.png"
    photo((10, 20)).save(p2)
    assert read_metadata(p2).columns() == {"width": 10, "height": 20, "taken_at": None, "camera": None,
                                           "gps_lat": None, "gps_lon": None, "description": None}


def test_bytes_and_path_agree(tmp_path):
    p = tmp_path / "a.webp"
    photo().save(p, "WEBP", exif=full_exif(), xmp=XMP)
    assert read_metadata(p) == read_metadata("elsewhere.webp", data=p.read_bytes())


def test_xmp_subject_and_title(tmp_path):
    p = tmp_path / "x.jpg"
    photo().save(p, xmp=XMP)
    m = read_metadata(p)
    assert m.keywords == ("beach", "sunset & sea")
    assert m.description == "Evening at Etretat"
    assert "sunset & sea" in m.text and "Etretat" in m.text


def test_png_text_chunks(tmp_path):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Description", "a red kite over the hill")
    info.add_itxt("Keywords", "kite, bird")
    p = tmp_path / "t.png"
    photo().save(p, pnginfo=info)
    m = read_metadata(p)
    assert m.description == "a red kite over the hill" and m.keywords == ("kite", "bird")


def test_no_metadata_gives_none_fields(tmp_path):
    p = tmp_path / "plain.png"
    photo((123, 45)).save(p)
    assert read_metadata(p) == ImageMeta(123, 45, "PNG")


def _jpeg_with_app1(body: bytes) -> bytes:
    buf = io.BytesIO()
    photo((320, 240)).save(buf, "JPEG")
    raw = buf.getvalue()
    seg = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    return raw[:2] + seg + raw[2:]


@pytest.mark.parametrize("body", [
    b"Exif\x00\x00" + b"\x13\x37garbage" * 20,  # not a TIFF header
    b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x05" + b"\xff" * 40,  # IFD entries pointing past the end
    b"Exif\x00\x00II\x2a\x00\x08\x00\x00\x00",  # truncated right after the header
])
def test_broken_exif_gives_none_fields_and_the_true_size(tmp_path, body):
    p = tmp_path / "broken.jpg"
    p.write_bytes(_jpeg_with_app1(body))
    m = read_metadata(p)
    assert (m.width, m.height) == (320, 240)
    assert m.taken_at is None and m.gps is None and m.camera is None


def test_malformed_fields_are_none_each_on_its_own(tmp_path):
    ex = Image.Exif()
    ex[0x010F] = "Nikon"
    ex[0x0112] = 42  # no such orientation
    ex[0x0132] = "0000:00:00 00:00:00"
    ex.get_ifd(EXIF_IFD)[0x9003] = "not a date"
    ex.get_ifd(GPS_IFD).update({1: "N", 2: (IFDRational(91), IFDRational(0), IFDRational(0)),  # > 90 degrees
                                3: "E", 4: (IFDRational(1, 0), IFDRational(0), IFDRational(0))})  # 1/0
    p = tmp_path / "m.jpg"
    photo((400, 300)).save(p, exif=ex)
    m = read_metadata(p)
    assert (m.width, m.height, m.orientation) == (400, 300, 1)
    assert m.taken_at is None and m.gps is None
    assert m.camera == "Nikon"


def test_unicode_keywords_and_camera_placeholders(tmp_path):
    ex = Image.Exif()
    ex[0x010E] = "OLYMPUS DIGITAL CAMERA"  # what the camera writes, not what the picture shows
    ex[0x9C9E] = "猫;Köln".encode("utf-16-le")
    ex[0x9C9B] = "夏の海".encode("utf-16-le")
    ex[0x010F], ex[0x0110] = "Apple", "iPhone 12"
    p = tmp_path / "u.jpg"
    photo().save(p, exif=ex)
    m = read_metadata(p)
    assert m.keywords == ("猫", "Köln") and m.description == "夏の海" and m.camera == "Apple iPhone 12"


def test_date_without_offset_is_read_as_utc_wall_clock(tmp_path):
    ex = Image.Exif()
    ex[0x0132] = "2019:12:31 23:59:58"  # DateTime only
    p = tmp_path / "d.jpg"
    photo().save(p, exif=ex)
    m = read_metadata(p)
    assert m.taken_at == datetime(2019, 12, 31, 23, 59, 58)
    assert m.taken_at_unix == datetime(2019, 12, 31, 23, 59, 58, tzinfo=timezone.utc).timestamp()


def test_unreadable_files_raise_typed_errors(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.jpg").write_text("shopping list")
    buf = io.BytesIO()
    photo().save(buf, "PNG")
    (tmp_path / "cut.png").write_bytes(buf.getvalue()[:20])  # the IHDR chunk cut in half
    with pytest.raises(EmptyFileError, match="empty.jpg"):
        read_metadata(tmp_path / "empty.jpg")
    with pytest.raises(EmptyFileError):
        read_metadata("x.jpg", data=b"")
    with pytest.raises(NotAnImageError, match="notes.jpg"):
        read_metadata(tmp_path / "notes.jpg")
    with pytest.raises(ImageError, match="cut.png"):
        read_metadata(tmp_path / "cut.png")
    with pytest.raises(UnreadableFileError, match="missing.jpg"):
        read_metadata(tmp_path / "missing.jpg")
    with pytest.raises(ImageError):
        read_metadata(tmp_path)  # a folder
    assert issubclass(CorruptImageError, ImageError)
