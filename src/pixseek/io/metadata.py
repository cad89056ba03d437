"""True image metadata read from the file's headers, never from its pixels.

:func:`read_metadata` opens a file with PIL (lazy: only the headers are parsed, pixels are never
decoded) and returns an :class:`ImageMeta`: the size of the image as stored after its EXIF
orientation (a 4000x3000 JPEG tagged "rotate 90" is 3000x4000, the size :func:`pixseek.io.load_image`
returns without ``min_side``), the date it was taken, the camera, the GPS position and the words a
person wrote into it (EXIF ImageDescription / XP* tags / UserComment, XMP dc:subject, dc:title,
dc:description, PNG text chunks) for text search.

Bounded: a file that cannot be opened at all raises the project's :class:`~pixseek.errors.ImageError`
(naming the file); every malformed or absent field is ``None`` (each is parsed on its own, so a broken
GPS block does not lose the date). Text is capped at :data:`MAX_TEXT` characters, XMP at
:data:`MAX_XMP` bytes.

HEIC / AVIF go through pillow-heif (registered in :mod:`pixseek.io.decode`); libheif applies the
container's rotation itself and reports the upright size, and PIL already swaps a rotated TIFF's size,
so no EXIF swap is applied to those.
"""
from __future__ import annotations

import html
import io
import math
import re
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from PIL import ExifTags, Image, PngImagePlugin

from pixseek.errors import EmptyFileError
from pixseek.io.decode import pil_error  # (importing it registers the HEIF / AVIF openers with PIL)

MAX_TEXT = 4000  # characters of description / keywords kept
MAX_XMP = 256 * 1024  # bytes of an XMP packet parsed; larger packets are skipped
# formats whose header size is already upright: libheif applies the rotation, PIL swaps a TIFF's size itself
UPRIGHT_FORMATS = frozenset({"HEIF", "AVIF", "TIFF"})
_SWAPPED = frozenset({5, 6, 7, 8})  # EXIF orientations that turn the stored image by 90 degrees
# What a malformed field can raise inside PIL's EXIF parser or ours; caught per field.
_BAD_FIELD = (ValueError, TypeError, KeyError, IndexError, OSError, SyntaxError, struct.error, ZeroDivisionError,
              OverflowError, UnicodeError)

_T = ExifTags.Base
_IFD = ExifTags.IFD
_GPS = ExifTags.GPS


@dataclass(frozen=True)
class ImageMeta:
    """What the headers of one image file say. Every field but the size may be ``None`` (absent or malformed)."""

    width: int  # as displayed: after the EXIF orientation
    height: int
    format: str | None = None  # PIL's format name: JPEG, PNG, WEBP, HEIF, ...
    orientation: int = 1  # the EXIF orientation tag (1: as stored)
    taken_at: datetime | None = None  # DateTimeOriginal, else DateTimeDigitized, else DateTime; aware if the file says its offset
    camera_make: str | None = None
    camera_model: str | None = None
    gps: tuple[float, float] | None = None  # (latitude, longitude) in decimal degrees, WGS84
    description: str | None = None  # the free text (description, title, comment), joined by " | "
    keywords: tuple[str, ...] = ()  # XPKeywords, XMP dc:subject, PNG "Keywords"

    @property
    def taken_at_unix(self) -> float | None:
        """``taken_at`` as unix seconds. A date without an offset (most cameras) is read as UTC, so
        filters compare the wall-clock time the camera showed, the same for every reader."""
        if self.taken_at is None:
            return None
        t = self.taken_at if self.taken_at.tzinfo is not None else self.taken_at.replace(tzinfo=timezone.utc)
        return t.timestamp()

    @property
    def camera(self) -> str | None:
        """Make and model in one string ("Canon EOS 5D", not "Canon Canon EOS 5D")."""
        make, model = self.camera_make, self.camera_model
        if make and model:
            return model if model.lower().startswith(make.split()[0].lower()) else f"{make} {model}"
        return model or make

    def columns(self) -> dict:
        """The catalog's columns for this file (``files``: width, height, taken_at, camera, gps_lat, gps_lon, description)."""
        lat, lon = self.gps if self.gps is not None else (None, None)
        return {"width": self.width, "height": self.height, "taken_at": self.taken_at_unix, "camera": self.camera,
                "gps_lat": lat, "gps_lon": lon, "description": self.text or None}

    @property
    def text(self) -> str:
        """Everything a text search may match: description and keywords, one string."""
        return " ".join([*(self.description and [self.description] or []), *self.keywords])


def read_metadata(path: str | Path, data: bytes | None = None) -> ImageMeta:
    """The :class:`ImageMeta` of ``path`` (or of ``data``, its bytes already read: ``path`` is then only named in errors).

    Raises :class:`~pixseek.errors.ImageError` (empty, unreadable, not an image, a header too broken to
    give a size); never for a malformed metadata field, which is ``None`` instead.
    """
    path = Path(path)
    if data is not None and len(data) == 0:
        raise EmptyFileError(path, "file is empty (0 bytes)")
    try:
        if data is None and path.stat().st_size == 0:
            raise EmptyFileError(path, "file is empty (0 bytes)")
        with Image.open(io.BytesIO(data) if data is not None else path) as im:
            return _from_header(im)
    except Exception as exc:  # noqa: BLE001 - translated by the decoder's one mapping, or re-raised as it was
        raise pil_error(path, exc, "read header") from exc


def _from_header(im: Image.Image) -> ImageMeta:
    w, h = im.size
    exif = _exif(im)
    orientation = _field(lambda: int(exif.get(_T.Orientation, 1)), 1) if exif is not None else 1
    if orientation not in range(1, 9):
        orientation = 1
    if orientation in _SWAPPED and im.format not in UPRIGHT_FORMATS:
        w, h = h, w
    xmp = _xmp(im)
    keywords: list[str] = []
    texts: list[str] = []
    taken = make = model = gps = None
    if exif is not None:
        taken = _field(lambda: _taken_at(exif))
        make = _field(lambda: _clean(exif.get(_T.Make)))
        model = _field(lambda: _clean(exif.get(_T.Model)))
        gps = _field(lambda: _gps(exif.get_ifd(_IFD.GPSInfo)))
        texts.append(_field(lambda: _clean(exif.get(_T.ImageDescription))) or "")
        for tag in (_T.XPTitle, _T.XPSubject, _T.XPComment):
            texts.append(_field(lambda tag=tag: _clean(exif.get(tag), utf16=True)) or "")
        texts.append(_field(lambda: _user_comment(exif.get_ifd(_IFD.Exif).get(_T.UserComment))) or "")
        keywords += _field(lambda: _split_keywords(_clean(exif.get(_T.XPKeywords), utf16=True)), [])
    if xmp:
        keywords += _field(lambda: _xmp_list(xmp, "dc:subject"), [])
        texts += _field(lambda: _xmp_list(xmp, "dc:title") + _xmp_list(xmp, "dc:description"), [])
    if isinstance(im, PngImagePlugin.PngImageFile):  # tEXt / iTXt chunks before the pixels
        for key in ("Title", "Description", "Comment"):
            texts.append(_field(lambda key=key: _clean(im.info.get(key))) or "")
        keywords += _field(lambda: _split_keywords(_clean(im.info.get("Keywords"))), [])
    return ImageMeta(w, h, im.format, orientation, taken, make, model, gps, _join(texts), _dedupe(keywords))


def _field(fn, default=None):
    """``fn()``, or ``default`` when the field it reads is malformed."""
    try:
        return fn()
    except _BAD_FIELD:
        return default


def _exif(im: Image.Image) -> Image.Exif | None:
    # PNG's own getexif() decodes the whole image to look for an eXIf chunk after the pixels; the base
    # class reads only what the header parse found (an eXIf before IDAT, where writers put it).
    try:
        exif = Image.Image.getexif(im)
    except _BAD_FIELD:
        return None
    return exif


def _xmp(im: Image.Image) -> str | None:
    raw = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if not raw or len(raw) > MAX_XMP:
        return None
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _clean(value, utf16: bool = False) -> str | None:
    """A tag value as trimmed text: bytes (UTF-8; UTF-16LE with ``utf16``, the XP* tags), tuples of byte values.
    Placeholders cameras write into ImageDescription ("OLYMPUS DIGITAL CAMERA") are dropped."""
    if value is None:
        return None
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        value = bytes(value)
    if isinstance(value, bytes):
        value = value.decode("utf-16-le" if utf16 else "utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", " ").strip()
    if value.upper() in _PLACEHOLDERS:
        return None
    return value[:MAX_TEXT] or None


_PLACEHOLDERS = frozenset({"OLYMPUS DIGITAL CAMERA", "SONY DSC", "DIGITAL CAMERA", "KODAK DIGITAL STILL CAMERA",
                           "SAMSUNG DIGITAL CAMERA", "MINOLTA DIGITAL CAMERA", "DEFAULT", "DCIM", "DCF 1.0"})


def _user_comment(value) -> str | None:
    """EXIF UserComment: an 8-byte character-code prefix, then the text."""
    if not isinstance(value, bytes) or len(value) <= 8:
        return _clean(value)
    code, body = value[:8], value[8:]
    if code.startswith(b"UNICODE"):
        big = body[:1] == b"\x00"
        return _clean(body.decode("utf-16-be" if big else "utf-16-le", "replace"))
    return _clean(body)


def _split_keywords(text: str | None) -> list[str]:
    return [k.strip() for k in re.split(r"[;,]", text) if k.strip()] if text else []


_XMP_LI = re.compile(r"<rdf:li\b[^>]*>(.*?)</rdf:li>", re.S)


def _xmp_list(xmp: str, prop: str) -> list[str]:
    """The values of an XMP property: its rdf:li items (Bag / Seq / Alt), or a plain element / attribute value."""
    out = []
    for m in re.finditer(rf"<{prop}\b[^>]*>(.*?)</{prop}>", xmp, re.S):
        items = _XMP_LI.findall(m.group(1))
        out += items if items else [m.group(1)]
    out += re.findall(rf'\b{prop}="([^"]*)"', xmp)
    vals = [html.unescape(re.sub(r"<[^>]+>", "", v)).strip() for v in out]
    return [v[:MAX_TEXT] for v in vals if v]


def _join(texts: list[str]) -> str | None:
    seen = _dedupe(texts)
    return " | ".join(seen)[:MAX_TEXT] or None


def _dedupe(items: list[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for t in items:
        if t and t.lower() not in {s.lower() for s in seen}:
            seen[t] = None
    return tuple(seen)


_DATE = re.compile(r"^\s*(\d{4})[:\-/](\d{2})[:\-/](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})")


def _taken_at(exif: Image.Exif) -> datetime | None:
    sub = exif.get_ifd(_IFD.Exif)
    for tag, off_tag, sub_tag in ((_T.DateTimeOriginal, _T.OffsetTimeOriginal, _T.SubsecTimeOriginal),
                                  (_T.DateTimeDigitized, _T.OffsetTimeDigitized, _T.SubsecTimeDigitized),
                                  (_T.DateTime, _T.OffsetTime, _T.SubsecTime)):
        value = _clean(exif.get(tag)) if tag == _T.DateTime else _clean(sub.get(tag)) or _clean(exif.get(tag))
        m = _DATE.match(value or "")
        if not m:
            continue
        try:
            t = datetime(*(int(g) for g in m.groups()))
        except ValueError:  # 0000:00:00 00:00:00, month 13, ...
            continue
        frac = _clean(sub.get(sub_tag))
        if frac and frac.isdigit():
            t += timedelta(seconds=float("0." + frac))
        off = _OFFSET.match(_clean(sub.get(off_tag)) or "")
        if off:
            sign = -1 if off.group(1) == "-" else 1
            delta = timedelta(hours=int(off.group(2)), minutes=int(off.group(3)))
            if delta < timedelta(hours=15):
                t = t.replace(tzinfo=timezone(sign * delta))
        return t
    return None


def _degrees(value) -> float:
    d, m, s = (float(x) for x in value)
    return d + m / 60.0 + s / 3600.0


def _gps(ifd: dict) -> tuple[float, float] | None:
    if not ifd or _GPS.GPSLatitude not in ifd or _GPS.GPSLongitude not in ifd:
        return None
    lat, lon = _degrees(ifd[_GPS.GPSLatitude]), _degrees(ifd[_GPS.GPSLongitude])
    if (_clean(ifd.get(_GPS.GPSLatitudeRef)) or "N").upper().startswith("S"):
        lat = -lat
    if (_clean(ifd.get(_GPS.GPSLongitudeRef)) or "E").upper().startswith("W"):
        lon = -lon
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        return None
    if lat == 0.0 and lon == 0.0:  # what phones without a fix write
        return None
    return (round(lat, 7), round(lon, 7))


__all__ = ["ImageMeta", "read_metadata"]
