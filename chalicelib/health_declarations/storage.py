"""The documents bucket: where the health declarations' PDFs are kept (S3; in AWS encrypted at rest with
the data key by the bucket's default SSE-KMS, infra/parts/data.py). Keys carry only the declaration's
random id, never a name or a personnummer:

  health-declarations/<declarationId>.pdf
"""

from __future__ import annotations

from typing import Protocol

from chalicelib.core import clients
from chalicelib.core.config import settings
from chalicelib.core.errors import ConfigurationError

BUCKET_ENV = "DOCUMENTS_BUCKET"
PREFIX = "health-declarations/"
PDF = "application/pdf"
_MISSING = {"404", "NoSuchKey", "NotFound"}


def bucket() -> str:
    name = settings().documents_bucket
    if not name:
        raise ConfigurationError(f"environment variable {BUCKET_ENV} is not set")
    return name


def pdf_key(declaration_id: str) -> str:
    return f"{PREFIX}{declaration_id}.pdf"


class Documents(Protocol):
    def put_pdf(self, key: str, body: bytes) -> None:
        """Writes (or writes again, the same bytes) the PDF at `key`."""

    def get_pdf(self, key: str) -> bytes | None:
        """The PDF, or None when it is not there."""


class S3Documents:
    def put_pdf(self, key: str, body: bytes) -> None:
        # No SSE header: the bucket's default encryption uses the data key (a bare "aws:kms" would pick
        # the account's aws/s3 key instead).
        clients.s3().put_object(Bucket=bucket(), Key=key, Body=body, ContentType=PDF, CacheControl="private, no-store")

    def get_pdf(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            response = clients.s3().get_object(Bucket=bucket(), Key=key)
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code")) in _MISSING:
                return None
            raise
        with response["Body"] as body:
            data: bytes = body.read()
        return data


S3: Documents = S3Documents()
