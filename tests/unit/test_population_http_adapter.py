"""The production population register adapter, against a tiny loopback server."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib.core.errors import ServiceUnavailable
from chalicelib.population.http_adapter import HttpPopulationRegister
from tests.support import person, pnr

PATHS: list[str] = []


class Register(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        PATHS.append(self.path)
        if self.path == "/persons/lookup" and body["personnummer"] == pnr("Sara"):
            self._send(200, {"person": person("Sara")})
        elif self.path == "/persons/children":
            self._send(200, {"persons": [person("Elsa")] if body["guardian"] == pnr("Anna") else []})
        elif body.get("personnummer") == pnr("Erik"):
            self._send(503, {})
        else:
            self._send(404, {})

    def _send(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def register():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Register)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield HttpPopulationRegister(f"http://127.0.0.1:{server.server_address[1]}/")
    server.shutdown()


def test_finds_a_person_and_children_with_the_number_only_in_bodies(register):
    found = register.find(pnr("Sara"))
    assert found.name == "Sara Berg" and found.address.city == "Malmö"
    assert [c.given_name for c in register.children_of(pnr("Anna"))] == ["Elsa"]
    assert all(pnr("Sara") not in p and pnr("Anna") not in p for p in PATHS)


def test_unknown_is_none_and_outage_is_503(register):
    assert register.find(pnr("Johan")) is None
    with pytest.raises(ServiceUnavailable):
        register.find(pnr("Erik"))
