"""Prints the OpenAPI document the app serves (`make openapi` writes it to docs/openapi.json)."""

import json

from app import app  # noqa: F401 - registers the routes
from chalicelib.core.openapi import document

if __name__ == "__main__":
    print(json.dumps(document(), ensure_ascii=False, indent=2, sort_keys=True))
