"""Photos for the metadata tests (unit, integration, e2e): a JPEG as a phone takes it, with EXIF that
holds a GPS position (Jönköping), the camera, a time and an orientation; a PNG shaped like a
decompression bomb."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE, MODEL, DATE_TIME = 0x010F, 0x0110, 0x0132


def jpeg_with_gps(
    *,
    image: Image.Image | None = None,
    orientation: int = 1,
    quality: int = 85,
    xmp: bytes | None = None,
    comment: bytes | None = None,
    icc_profile: bytes | None = None,
) -> bytes:
    exif = Image.Exif()
    exif[MAKE], exif[MODEL], exif[DATE_TIME] = "Apple", "iPhone 15", "2026:03:01 08:15:00"
    exif[ORIENTATION] = orientation
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (57.0, 46.0, 59.0), 3: "E", 4: (14.0, 9.0, 38.0)})
    extra: dict[str, object] = {}
    if xmp:
        extra["xmp"] = xmp
    if comment:
        extra["comment"] = comment
    if icc_profile:
        extra["icc_profile"] = icc_profile
    buffer = io.BytesIO()
    (image or Image.new("RGB", (48, 32), (200, 120, 90))).save(buffer, "JPEG", exif=exif, quality=quality, **extra)
    return buffer.getvalue()


def exif_of(data: bytes) -> dict[int, object]:
    """The EXIF tags (and the GPS IFD's) Pillow finds in a stored file; empty when it has none."""
    image = Image.open(io.BytesIO(data))
    exif = image.getexif()
    tags: dict[int, object] = dict(exif)
    if GPS_IFD in exif:
        tags[GPS_IFD] = dict(exif.get_ifd(GPS_IFD))
    return tags


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_claiming(width: int, height: int, *, frames: int | None = None) -> bytes:
    """A PNG that claims `width` x `height` (and `frames` frames) and holds almost nothing: a bomb's shape."""
    ihdr = _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    actl = _chunk(b"acTL", struct.pack(">II", frames, 0)) if frames else b""
    return b"\x89PNG\r\n\x1a\n" + ihdr + actl + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _chunk(b"IEND", b"")
