"""Issue 13 (beyond 1177): photos lose their metadata in the content check. A JPEG or PNG is decoded and
saved again with the picture only (EXIF with GPS, XMP, IPTC, comments, PNG text chunks go; the colour
profile stays; a JPEG keeps its quantisation tables and is turned upright by its EXIF orientation), and
what was removed is recorded for the citizen's notice. Unreadable images and decompression bombs are
refused with a reason, never raised."""

from __future__ import annotations

import io
import random
import struct

import pytest
from PIL import Image, ImageCms, PngImagePlugin

from chalicelib.attachments import content
from chalicelib.attachments.service import _rejected, metadata_info, metadata_notice
from tests.unit.photo_samples import GPS_IFD, ORIENTATION, jpeg_with_gps, png_claiming

RED, BLUE = (220, 20, 20), (20, 20, 220)
IPTC_APP13 = b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0e\x1c\x02\x5a\x00\x09J\xc3\xb6nk\xc3\xb6ping"


def _two_colours(size: tuple[int, int] = (64, 32)) -> Image.Image:
    """Left half red, right half blue: after a rotation the halves say which way it turned."""
    image = Image.new("RGB", size, RED)
    image.paste(BLUE, (size[0] // 2, 0, size[0], size[1]))
    return image


def _with_segment(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    """`jpeg` with an APPn segment inserted right after SOI."""
    return jpeg[:2] + struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload + jpeg[2:]


def _reopen(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _no_metadata(image: Image.Image) -> None:
    assert not image.getexif(), "EXIF left"
    assert GPS_IFD not in image.getexif()
    assert not image.info.get("exif") and not image.info.get("xmp") and not image.info.get("comment")
    assert "photoshop" not in image.info
    assert not getattr(image, "text", {})
    assert [m for m, _ in getattr(image, "applist", []) if m in ("APP1", "APP13", "COM")] == []


# --- JPEG -----------------------------------------------------------------------------------------


def test_a_jpeg_loses_gps_exif_xmp_iptc_and_comment_and_the_citizen_is_told() -> None:
    original = _with_segment(
        jpeg_with_gps(xmp=b"<x:xmpmeta>Storgatan 1</x:xmpmeta>", comment=b"hemma"), 0xED, IPTC_APP13
    )
    before = _reopen(original)
    assert before.getexif().get_ifd(GPS_IFD)  # the sample does carry a position
    cleaned = content.strip_metadata(original, "image/jpeg")
    assert cleaned.reason is None
    assert cleaned.removed == ("gps", "exif", "xmp", "iptc", "comment")
    after = _reopen(cleaned.data)
    assert after.format == "JPEG"
    _no_metadata(after)
    assert b"Storgatan" not in cleaned.data and b"hemma" not in cleaned.data and b"Exif" not in cleaned.data
    assert metadata_notice(cleaned.removed) == (
        "Vi tog bort dold information från bilden innan den sparades: platsuppgifter (GPS), kamerainformation "
        "(EXIF), XMP-metadata, IPTC-uppgifter och kommentarer. Själva bilden är densamma."
    )


def test_the_orientation_is_applied_to_the_pixels_before_the_exif_goes() -> None:
    # Orientation 6: the camera was turned; viewers rotate 90° clockwise. Left (red) ends up on top.
    original = jpeg_with_gps(image=_two_colours((64, 32)), orientation=6)
    assert _reopen(original).size == (64, 32)
    after = _reopen(content.strip_metadata(original, "image/jpeg").data).convert("RGB")
    assert after.size == (32, 64)
    top, bottom = after.getpixel((16, 8)), after.getpixel((16, 56))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 150 and top[2] < 100, top  # red on top
    assert bottom[2] > 150 and bottom[0] < 100, bottom  # blue below
    assert ORIENTATION not in after.getexif()


def test_a_jpeg_keeps_its_quantisation_tables_and_looks_the_same() -> None:
    original = jpeg_with_gps(image=_two_colours((64, 64)), quality=75)
    cleaned = content.strip_metadata(original, "image/jpeg")
    before, after = _reopen(original), _reopen(cleaned.data)
    assert getattr(after, "quantization", None) == getattr(before, "quantization", None)
    assert after.size == before.size and after.mode == before.mode
    differences = [abs(a - b) for a, b in zip(after.tobytes(), before.tobytes(), strict=True)]
    assert sum(differences) / len(differences) < 3  # re-encoded with the same tables: no visible change


def test_a_jpeg_without_metadata_reports_nothing_removed() -> None:
    buffer = io.BytesIO()
    _two_colours().save(buffer, "JPEG", quality=90)
    cleaned = content.strip_metadata(buffer.getvalue(), "image/jpeg")
    assert (cleaned.reason, cleaned.removed) == (None, ())
    assert _reopen(cleaned.data).size == (64, 32)
    assert metadata_notice(()) is None


def test_the_colour_profile_stays() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    original = jpeg_with_gps(icc_profile=srgb)
    after = _reopen(content.strip_metadata(original, "image/jpeg").data)
    assert after.info.get("icc_profile") == srgb
    _no_metadata(after)


# --- PNG ------------------------------------------------------------------------------------------


def _png_with_metadata(image: Image.Image | None = None) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Sara Berg")
    info.add_text("Comment", "hemma i köket", zip=True)
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>Storgatan 1</x:xmpmeta>")
    exif = Image.Exif()
    exif[0x010F] = "Apple"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (57.0, 46.0, 59.0), 3: "E", 4: (14.0, 9.0, 38.0)})
    buffer = io.BytesIO()
    (image or _two_colours()).save(buffer, "PNG", pnginfo=info, exif=exif)
    return buffer.getvalue()


def test_a_png_loses_its_text_chunks_exif_and_xmp_and_keeps_every_pixel() -> None:
    original = _png_with_metadata()
    cleaned = content.strip_metadata(original, "image/png")
    assert cleaned.reason is None
    assert cleaned.removed == ("gps", "exif", "xmp", "text")
    after = _reopen(cleaned.data)
    assert after.format == "PNG"
    _no_metadata(after)
    assert b"tEXt" not in cleaned.data and b"zTXt" not in cleaned.data and b"iTXt" not in cleaned.data
    assert b"eXIf" not in cleaned.data
    assert after.tobytes() == _reopen(original).tobytes()  # lossless: the picture is exactly the same


def test_a_png_with_transparency_keeps_it() -> None:
    image = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    image.putpixel((1, 1), (255, 0, 0, 255))
    after = _reopen(content.strip_metadata(_png_with_metadata(image), "image/png").data)
    assert (
        after.mode == "RGBA" and after.getpixel((0, 0)) == (0, 0, 0, 0) and after.getpixel((1, 1)) == (255, 0, 0, 255)
    )


def test_an_animated_png_keeps_its_frames_and_loses_its_text() -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in (RED, BLUE, (0, 200, 0))]
    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "Storgatan 1")
    buffer = io.BytesIO()
    frames[0].save(buffer, "PNG", save_all=True, append_images=frames[1:], pnginfo=info, duration=100, loop=0)
    cleaned = content.strip_metadata(buffer.getvalue(), "image/png")
    assert cleaned.removed == ("text",)
    after = Image.open(io.BytesIO(cleaned.data))
    assert getattr(after, "n_frames", 1) == 3
    assert b"Storgatan" not in cleaned.data


# --- refused, never raised ------------------------------------------------------------------------


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A JPEG whose frame header (SOF0) claims `width` x `height`."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, "JPEG")
    data = buffer.getvalue()
    sof = data.index(b"\xff\xc0")
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (png_claiming(8000, 8000), "image/png"),  # 64 megapixels: over our limit, under Pillow's own error
        (png_claiming(100_000, 100_000), "image/png"),  # Pillow's DecompressionBombError
        (png_claiming(4000, 4000, frames=4), "image/png"),  # 16 MP a frame, 4 frames
        (_jpeg_claiming(65_000, 65_000), "image/jpeg"),
    ],
    ids=["png-64mp", "png-10gp", "apng-4x16mp", "jpeg-4gp"],
)
def test_decompression_bombs_are_refused_before_decoding(data: bytes, content_type: str) -> None:
    assert len(data) < 1000
    cleaned = content.strip_metadata(data, content_type)
    assert (cleaned.reason, cleaned.data, cleaned.removed) == (content.IMAGE_TOO_LARGE, b"", ())
    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # Pillow's process-wide limit is left alone


def test_the_pixel_limit_is_the_product_of_width_height_and_frames() -> None:
    assert content.MAX_PIXELS == 50_000_000
    at_limit = content.strip_metadata(png_claiming(5000, 10_000), "image/png")
    assert at_limit.reason != content.IMAGE_TOO_LARGE  # exactly 50 MP is not refused as a bomb
    assert content.strip_metadata(png_claiming(5001, 10_000), "image/png").reason == content.IMAGE_TOO_LARGE


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 200, "image/jpeg"),
        (jpeg_with_gps()[:300], "image/jpeg"),  # truncated
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image/png"),
        (_png_with_metadata()[:120], "image/png"),  # truncated
        (png_claiming(8, 8), "image/png"),  # IDAT too short for 8 rows
        (jpeg_with_gps(), "image/png"),  # a JPEG is not read as a PNG, whatever Pillow could do
    ],
    ids=[
        "jpeg-soi",
        "jpeg-zeros",
        "jpeg-truncated",
        "png-signature",
        "png-zeros",
        "png-truncated",
        "png-short",
        "jpeg-as-png",
    ],
)
def test_unreadable_images_are_refused(data: bytes, content_type: str) -> None:
    cleaned = content.strip_metadata(data, content_type)
    assert (cleaned.reason, cleaned.data, cleaned.removed) == (content.UNREADABLE_IMAGE, b"", ())


@pytest.mark.parametrize("seed", range(40))
def test_damaged_photos_never_raise(seed: int) -> None:
    rng = random.Random(seed)
    original = bytearray(jpeg_with_gps() if seed % 2 else _png_with_metadata())
    for _ in range(rng.randint(1, 12)):
        original[rng.randrange(8, len(original))] = rng.randrange(256)
    content_type = "image/jpeg" if seed % 2 else "image/png"
    cleaned = content.strip_metadata(bytes(original), content_type)
    if cleaned.reason is None:  # still decodable: then it is clean
        _no_metadata(_reopen(cleaned.data))
    else:
        assert cleaned.reason in (content.UNREADABLE_IMAGE, content.IMAGE_TOO_LARGE) and cleaned.data == b""


def test_the_new_reasons_are_reasons_and_the_citizen_is_told_what_to_do() -> None:
    assert {content.UNREADABLE_IMAGE, content.IMAGE_TOO_LARGE} <= set(content.REASONS)
    unreadable, too_large, other = (
        _rejected(content.UNREADABLE_IMAGE),
        _rejected(content.IMAGE_TOO_LARGE),
        _rejected(content.UNKNOWN_TYPE),
    )
    assert unreadable.code == too_large.code == other.code == "attachment-rejected"
    assert unreadable.detail.startswith("Bilden kunde inte läsas.")
    assert too_large.detail == "Bilden har för många bildpunkter. Förminska den och ladda upp den igen."
    assert other.detail.startswith("Filen kunde inte godkännas.")
    assert unreadable.body()["reason"] == content.UNREADABLE_IMAGE


def test_only_a_photo_that_lost_something_carries_a_notice() -> None:
    from chalicelib.attachments.models import Attachment, Uploader

    def attachment(removed: tuple[str, ...]) -> Attachment:
        return Attachment(
            "a",
            Uploader("citizen", "c"),
            "bild.jpg",
            "image/jpeg",
            10,
            "checked",
            None,
            None,
            "t",
            None,
            metadata_removed=removed,
        )

    assert metadata_info(attachment(())) == {}
    assert metadata_info(attachment(("gps", "exif"))) == {
        "metadataRemoved": ["gps", "exif"],
        "notice": "Vi tog bort dold information från bilden innan den sparades: platsuppgifter (GPS) och "
        "kamerainformation (EXIF). Själva bilden är densamma.",
    }
