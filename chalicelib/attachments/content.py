"""Judging an uploaded file by its content (R-23): the first bytes decide the type, never the file
name or the type the client declared. Pure functions, no AWS."""

from __future__ import annotations

from dataclasses import dataclass

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
REASONS = (EMPTY, TOO_LARGE, LARGER_THAN_DECLARED, UNKNOWN_TYPE, TYPE_MISMATCH)


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
