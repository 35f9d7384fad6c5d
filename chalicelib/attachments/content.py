"""Judging an uploaded file by its content (R-23): the first bytes decide the type, never the file
name or the type the client declared. Photos (JPEG, PNG) are then decoded and saved again without
their metadata (issue 13, beyond 1177: a photo of a rash should not carry the home's coordinates).
Pure functions, no AWS; Pillow is imported only when a photo is cleaned."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

MAX_BYTES = 20 * 1024 * 1024

# Magic numbers at offset 0. PDF readers tolerate junk before "%PDF-"; we do not.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
SNIFF_BYTES = max(len(signature) for signature, _ in SIGNATURES)

# Why a file was rejected (stored as `rejectReason`; never contains anything from the file).
EMPTY = "empty"
TOO_LARGE = "too-large"
LARGER_THAN_DECLARED = "larger-than-declared"
UNKNOWN_TYPE = "unknown-type"
TYPE_MISMATCH = "type-mismatch"
UNREADABLE_IMAGE = "unreadable-image"  # a JPEG/PNG signature, but Pillow cannot decode the picture
IMAGE_TOO_LARGE = "image-too-large"  # more pixels than MAX_PIXELS: a decompression bomb, or near one
REASONS = (EMPTY, TOO_LARGE, LARGER_THAN_DECLARED, UNKNOWN_TYPE, TYPE_MISMATCH, UNREADABLE_IMAGE, IMAGE_TOO_LARGE)


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    content_type: str | None  # what the content is (None when unrecognised)
    reason: str | None = None  # one of REASONS when not accepted


def sniff(head: bytes) -> str | None:
    """The allowed type whose signature `head` starts with, or None."""
    for signature, content_type in SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


def judge(head: bytes, *, size: int, declared_type: str, declared_size: int) -> Verdict:
    """Accept only a non-empty file of at most 20 MB and at most the declared size, whose first bytes
    are the signature of the declared type."""
    sniffed = sniff(head)
    if size <= 0:
        return Verdict(False, sniffed, EMPTY)
    if size > MAX_BYTES:
        return Verdict(False, sniffed, TOO_LARGE)
    if size > declared_size:
        return Verdict(False, sniffed, LARGER_THAN_DECLARED)
    if sniffed is None:
        return Verdict(False, None, UNKNOWN_TYPE)
    if sniffed != declared_type:
        return Verdict(False, sniffed, TYPE_MISMATCH)
    return Verdict(True, sniffed)


# ------------------------------------------------------------------ photo metadata (issue 13)

PHOTO_TYPES = frozenset({"image/jpeg", "image/png"})
_FORMAT = {"image/jpeg": "JPEG", "image/png": "PNG"}
# A 48-megapixel phone photo decodes to ~150 MB (RGB), twice that while it is turned upright; the
# content check has 1024 MB (infra/functions.py). A file claiming more pixels than this (all frames of
# an animated PNG together) is refused before anything is decoded.
MAX_PIXELS = 50_000_000
# What a photo can carry about the person and the place, in the order the citizen is told about it.
METADATA_KINDS = ("gps", "exif", "xmp", "iptc", "comment", "text")
_GPS_IFD = 0x8825
_XMP_PREFIXES = (b"http://ns.adobe.com/xap/1.0/\x00", b"http://ns.adobe.com/xmp/extension/\x00")


@dataclass(frozen=True)
class CleanedPhoto:
    """A photo saved again without metadata (`data`, and which METADATA_KINDS it had: `removed`), or
    refused (`reason`: UNREADABLE_IMAGE or IMAGE_TOO_LARGE; `data` is then empty)."""

    data: bytes
    removed: tuple[str, ...] = ()
    reason: str | None = None


def strip_metadata(data: bytes, content_type: str) -> CleanedPhoto:
    """Decode the JPEG or PNG in `data` and save it again with the picture only: no EXIF (GPS, camera,
    times), XMP, IPTC, comments or PNG text chunks; the ICC colour profile and the resolution stay. A
    JPEG is turned upright by its EXIF orientation first (the orientation goes with the EXIF, so it
    must be applied to the pixels) and re-encoded with its own quantisation tables (`quality="keep"`),
    so it looks the same. Anything Pillow cannot read, truncated files included, is refused, never
    raised: the caller stores nothing of it."""
    from PIL import Image as PilImage

    try:
        with warnings.catch_warnings():
            # Hostile files make decoders warn (truncated EXIF...): the verdict says it, not the log. Our
            # pixel limit is below Pillow's bomb warning; its bomb error (twice that) still applies.
            warnings.simplefilter("ignore")
            with PilImage.open(io.BytesIO(data), formats=[_FORMAT[content_type]]) as image:
                animated = content_type == "image/png" and bool(getattr(image, "is_animated", False))
                frames = int(getattr(image, "n_frames", 1)) if animated else 1
                if image.width * image.height * frames > MAX_PIXELS:
                    return CleanedPhoto(b"", reason=IMAGE_TOO_LARGE)
                image.load()  # PNG text after the image data is read here, so found() sees it
                removed = found_metadata(image)
                return CleanedPhoto(_saved_again(image, animated=animated), removed)
    except PilImage.DecompressionBombError:
        return CleanedPhoto(b"", reason=IMAGE_TOO_LARGE)
    except Exception:  # any decoder error on hostile input (OSError, ValueError, SyntaxError, ...)
        return CleanedPhoto(b"", reason=UNREADABLE_IMAGE)


def found_metadata(image: Image) -> tuple[str, ...]:
    """Which METADATA_KINDS an opened (and loaded) JPEG or PNG carries."""
    found = {kind for marker, payload in getattr(image, "applist", ()) if (kind := _segment_kind(marker, payload))}
    found |= {_text_kind(key) for key in getattr(image, "text", {})}
    if image.info.get("exif"):  # JPEG APP1 Exif, PNG eXIf
        found.add("exif")
    if image.info.get("xmp"):
        found.add("xmp")
    if "exif" in found and _has_gps(image):
        found.add("gps")
    return tuple(kind for kind in METADATA_KINDS if kind in found)


def _segment_kind(marker: str, payload: bytes) -> str | None:
    """A JPEG APPn/COM segment's kind of metadata (None: JFIF, the ICC profile, Adobe's colour marker...)."""
    if marker == "APP1" and payload.startswith(b"Exif\x00"):
        return "exif"
    if marker == "APP1" and payload.startswith(_XMP_PREFIXES):
        return "xmp"
    if marker == "APP13" and payload.startswith(b"Photoshop 3.0"):
        return "iptc"
    return "comment" if marker == "COM" else None


def _text_kind(key: str) -> str:
    """A PNG tEXt/zTXt/iTXt chunk's kind (ImageMagick keeps EXIF/IPTC/XMP in "Raw profile type ..." ones)."""
    name = key.lower()
    if name == "xml:com.adobe.xmp" or name.startswith("raw profile type xmp"):
        return "xmp"
    if name.startswith("raw profile type exif"):
        return "exif"
    if name.startswith(("raw profile type iptc", "raw profile type 8bim")):
        return "iptc"
    return "text"


def _has_gps(image: Image) -> bool:
    try:
        return _GPS_IFD in image.getexif()
    except Exception:  # malformed EXIF: it goes anyway; we just cannot say whether it held a position
        return False


def _saved_again(image: Image, *, animated: bool) -> bytes:
    from PIL import ImageOps

    keep: dict[str, object] = {}
    if image.info.get("icc_profile"):
        keep["icc_profile"] = image.info["icc_profile"]
    if image.info.get("dpi"):
        keep["dpi"] = image.info["dpi"]
    out = io.BytesIO()
    if image.format in ("JPEG", "MPO"):  # MPO: a JPEG with extra pictures (depth map...); the first stays
        ImageOps.exif_transpose(image, in_place=True)
        # Pillow writes a comment from the image's own info unless told otherwise.
        image.save(out, "JPEG", quality="keep", comment=b"", **keep)
    else:
        if not animated:
            ImageOps.exif_transpose(image, in_place=True)
        image.save(out, "PNG", save_all=animated, **keep)  # no pnginfo, no exif: no text chunks, no eXIf
    return out.getvalue()
