"""docs/openapi.json is generated from the route models and kept in step with the routes."""

import json

from app import app
from chalicelib.core.openapi import OPERATIONS, document
from tests.support import ROOT


def test_published_document_is_current():
    published = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert published == json.loads(json.dumps(document())), "run `make openapi`"


def test_every_route_is_documented_and_every_documented_route_exists():
    routes = {(path, method) for path, methods in app.routes.items() for method in methods}
    documented = {(op.path, op.method) for op in OPERATIONS}
    assert routes - {("/openapi.json", "GET")} == documented


def test_api_contract_fields_are_in_the_schema():
    schemas = document()["components"]["schemas"]
    assert {"orderRef", "autoStartToken", "qrStartToken"} <= set(schemas["StartResponse"]["properties"])
    assert {"citizenId", "name", "firstLoginAt", "mustReviewSettings", "actingFor"} <= set(schemas["Me"]["properties"])
