"""The error middleware and the problem+json shape, without AWS."""

import json

from chalice.app import Request, Response

from chalicelib.core.errors import Forbidden
from chalicelib.core.http import error_middleware


def _request():
    return Request(
        {
            "multiValueQueryStringParameters": None,
            "headers": {},
            "pathParameters": None,
            "requestContext": {"httpMethod": "GET", "resourcePath": "/x", "requestId": "r"},
            "body": None,
            "stageVariables": None,
            "isBase64Encoded": False,
        },
        None,
    )


def test_problem_becomes_problem_json():
    def view(_):
        raise Forbidden("Nej.", code="account-locked", title="Inloggningen är låst")

    response = error_middleware(_request(), view)
    body = json.loads(response.body)
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/problem+json"
    assert body == {
        "type": "/problems/account-locked",
        "title": "Inloggningen är låst",
        "status": 403,
        "detail": "Nej.",
        "code": "account-locked",
    }


def test_crash_becomes_500_problem_without_details():
    def view(_):
        raise KeyError("198504022396")

    response = error_middleware(_request(), view)
    assert response.status_code == 500
    assert "198504022396" not in response.body
    assert json.loads(response.body)["code"] == "internal-error"


def test_chalice_own_errors_get_our_shape():
    def view(_):
        return Response(body={"Code": "MethodNotAllowedError", "Message": "Unsupported method: PUT"}, status_code=405)

    response = error_middleware(_request(), view)
    assert response.status_code == 405
    body = json.loads(response.body)
    assert body["code"] == "method-not-allowed" and body["title"] == "Metoden stöds inte"
    assert "PUT" not in body["detail"]  # Swedish, not Chalice's English message
