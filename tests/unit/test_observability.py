"""Every handler logs inside Powertools' Lambda context, with a correlation id (issue 8, item 5)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from chalice import Chalice
from chalice.test import Client

from chalicelib.core.observability import lambda_context, logger


def _app() -> Chalice:
    app = Chalice(app_name="observed")
    app.register_middleware(lambda_context, "all")

    @app.route("/hello")
    def hello() -> dict[str, Any]:
        logger.info("hello")
        return {}

    @app.lambda_function(name="console")
    def console(event: dict[str, Any], context: Any) -> dict[str, Any]:
        logger.info("console")
        return {}

    return app


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """What the Powertools logger writes (its handler keeps the stdout it was created with)."""
    handler = logger.registered_handler
    stream = io.StringIO()
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    yield stream
    handler.setStream(previous)  # type: ignore[attr-defined]


def _lines(output: str, message: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("message") == message]


def test_a_request_logs_its_lambda_context(logs: io.StringIO) -> None:
    with Client(_app()) as client:
        assert client.http.get("/hello").status_code == 200
    (line,) = _lines(logs.getvalue(), "hello")
    assert line["function_name"] == "api_handler"
    assert line["function_request_id"]
    assert "cold_start" in line
    assert line["correlation_id"]


def test_a_requests_correlation_id_is_api_gateways_request_id(logs: io.StringIO) -> None:
    """The same id as the API access log's requestId, so one request can be followed end to end."""
    context = SimpleNamespace(
        function_name="api_handler", memory_limit_in_mb=512, invoked_function_arn="", aws_request_id="lambda-1"
    )
    request = SimpleNamespace(lambda_context=context, context={"requestId": "gateway-1"})
    lambda_context(request, lambda _: logger.info("inside"))
    (line,) = _lines(logs.getvalue(), "inside")
    assert line["correlation_id"] == "gateway-1"
    assert line["function_request_id"] == "lambda-1"


def test_a_console_function_logs_its_lambda_context(logs: io.StringIO) -> None:
    with Client(_app()) as client:
        client.lambda_.invoke("console", {})
    (line,) = _lines(logs.getvalue(), "console")
    assert line["function_name"] == "console"
    assert line["correlation_id"] == line["function_request_id"]


def test_each_invocation_gets_its_own_ids(logs: io.StringIO) -> None:
    """clear_state: nothing of one invocation's context is carried into the next."""
    with Client(_app()) as client:
        client.http.get("/hello")
        client.http.get("/hello")
    first, second = _lines(logs.getvalue(), "hello")
    assert first["function_request_id"] != second["function_request_id"]
    assert first["correlation_id"] != second["correlation_id"]
    assert second["cold_start"] is False


def test_the_app_runs_every_handler_in_the_context() -> None:
    from app import app

    assert (lambda_context, "all") in [(m, kind) for m, kind in _registered(app)]


def _registered(app: Chalice) -> list[tuple[Any, str]]:
    return list(app.middleware_handlers)
