"""A consumer's view: generate a typed client from docs/openapi.json with `openapi-python-client` and
drive login → inbox with it against the local stack, as a team calling this API would."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests

from tests.integration.case_helpers import CLINIC
from tests.support import ROOT, pnr

PACKAGE = "e_services_api_client"  # what the generator makes of info.title "E-services API"


@pytest.fixture(scope="module")
def client_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    where = tmp_path_factory.mktemp("generated")
    config = where / "generator.yaml"
    # No formatter run (the code is only imported); the health declaration's PDF is read as bytes, as a
    # consumer would configure it (the generator knows no application/pdf).
    config.write_text(
        "post_hooks: []\ncontent_type_overrides:\n  application/pdf: application/octet-stream\n", encoding="utf-8"
    )
    generator = Path(sys.executable).parent / "openapi-python-client"
    command = [str(generator), "generate", "--path", str(ROOT / "docs" / "openapi.json")]
    command += ["--meta", "none", "--config", str(config)]
    result = subprocess.run(command, cwd=where, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    assert (where / PACKAGE / "__init__.py").exists(), sorted(p.name for p in where.iterdir())
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


def _complete_in_the_bankid_app(http: Any, order_ref: str, personnummer: str) -> None:
    """The simulator's control endpoint plays the person scanning the QR code."""
    url = f"{http.env['BANKID_SIMULATOR_URL']}/sim/orders/{order_ref}/complete"
    assert requests.post(url, json={"personalNumber": personnummer}, timeout=10).ok


def test_generated_client_logs_in_and_reads_the_inbox(http: Any, client_package: ModuleType) -> None:
    models = _module(client_package, "models")
    login = {name: _module(client_package, f"api.citizen_login.{name}") for name in ("post_auth_bankid_start",
             "post_auth_bankid_collect", "get_me")}  # fmt: skip
    cases = _module(client_package, "api.cases.post_citizens_cid_cases")
    inbox = _module(client_package, "api.inbox.get_citizens_cid_inbox")
    inbox_item = _module(client_package, "api.inbox.get_citizens_cid_inbox_item_id")
    public = client_package.Client(base_url=http.base, raise_on_unexpected_status=True)

    # The QR / autostart flow: an empty start, the person completes it in the app, collect hands out a session.
    started = login["post_auth_bankid_start"].sync(client=public, body=models.StartRequest())
    assert isinstance(started, models.StartResponse), started
    _complete_in_the_bankid_app(http, started.order_ref, pnr("Maria"))
    collected = login["post_auth_bankid_collect"].sync(
        client=public, body=models.OrderRequest(order_ref=started.order_ref)
    )
    assert isinstance(collected, models.CollectResponse), collected
    assert collected.status == models.CollectResponseStatus.COMPLETE
    citizen = client_package.AuthenticatedClient(
        base_url=http.base, token=collected.session.token, raise_on_unexpected_status=True
    )

    me = login["get_me"].sync(client=citizen)
    assert isinstance(me, models.Me) and me.given_name == "Maria"

    created = cases.sync(
        cid="me",
        client=citizen,
        body=models.StartCaseRequest(
            clinic_id=CLINIC, case_type_id="fraga-sjukskoterskan", subject="Via klienten", body="Hej!"
        ),
        idempotency_key="generated-client-1",
    )
    assert isinstance(created, models.CaseCreated), created

    page = inbox.sync(cid="me", client=citizen)
    assert isinstance(page, models.InboxPage), page
    newest = page.items[0]
    assert (newest.id, newest.kind, newest.subject) == (created.case_id, models.InboxItemKind.CASE, "Via klienten")
    view = inbox_item.sync(cid=me.citizen_id, item_id=created.case_id, client=citizen)
    assert isinstance(view, models.InboxItemView), view
    assert [m.body for m in view.case.messages] == ["Hej!"]


def test_generated_client_reads_a_problem(http: Any, client_package: ModuleType) -> None:
    get_me = _module(client_package, "api.citizen_login.get_me")
    anonymous = client_package.AuthenticatedClient(base_url=http.base, token="not-a-session")
    answer = get_me.sync_detailed(client=anonymous)
    assert answer.status_code == 401
    assert isinstance(answer.parsed, _module(client_package, "models").Problem)
    assert answer.parsed.status == 401 and answer.parsed.code
