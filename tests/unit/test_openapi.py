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


def test_public_operations_say_so_and_the_others_name_their_scheme():
    schemes = set(document()["components"]["securitySchemes"])
    public = set()
    for path, methods in document()["paths"].items():
        for method, operation in methods.items():
            assert "security" in operation, (method, path)
            if operation["security"] == []:
                public.add((method.upper(), path))
            else:
                assert {name for requirement in operation["security"] for name in requirement} <= schemes
    assert {("POST", "/auth/bankid/start"), ("GET", "/clinics")} <= public
    assert ("GET", "/me") not in public


def test_operations_parameters_and_tags_are_described():
    published = document()
    declared = {tag["name"]: tag["description"] for tag in published["tags"]}
    assert all(declared.values())
    used = set()
    for methods in published["paths"].values():
        for operation in methods.values():
            assert operation["description"] and operation["operationId"]
            assert all(parameter["description"] for parameter in operation.get("parameters", []))
            used.update(operation["tags"])
    assert used == set(declared)


def test_servers_carry_the_api_gateway_stage():
    stages = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))["stages"]
    assert {stage["api_gateway_stage"] for stage in stages.values()} == {"api"}
    assert [server["url"] for server in document()["servers"]] == ["/api"]


def test_title_makes_an_importable_generated_package():
    from openapi_python_client import strings

    # openapi-python-client's own naming: "<kebab title>-client", with "_" for the package.
    package = f"{strings.kebab_case(document()['info']['title']).lower()}-client".replace("-", "_")
    assert package.isidentifier() and package == "e_services_api_client"
