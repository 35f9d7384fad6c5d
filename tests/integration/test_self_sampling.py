"""Self-sampling (R-54) over the routes against DynamoDB Local: a citizen orders a test kit (home address
from the population register, a pickup point or another address; Idempotency-Key), and a lab's system
(machine JWT, scope `lab-results:write`) returns the result, which lands in the citizen's inbox as a
message, notified once per result: a replay writes nothing and queues no second notification.

Sara Berg is an adult with an address; Maria Nilsson has protected identity (no address handed out);
Anna Andersson is guardian of Elsa (9)."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import pytest

from chalicelib.core import dynamo, process
from chalicelib.core.config import settings
from tests.integration.test_notifications import Stream, inbox_events, queued
from tests.support import pnr

LAB = "lab-unilabs-test"
HOME = {"kind": "home"}


@pytest.fixture(autouse=True)
def fresh_clients(stack: Any) -> None:
    process.reset()


@pytest.fixture
def queue_url(stack: Any) -> str:
    url = str(boto3.client("sqs").get_queue_url(QueueName=os.environ["NOTIFICATIONS_QUEUE"])["QueueUrl"])
    queued(url)  # what an earlier test left
    return url


def lab_token(scopes: list[str] | None = None) -> str:
    from local.clients import machine_token

    return machine_token(LAB, scopes if scopes is not None else ["lab-results:write"])


def order(
    api: Any, token: str, delivery: dict[str, Any], *, cid: str = "me", kit: str = "klamydia-gonorre", key: str = ""
) -> tuple[int, Any]:
    headers = {"Idempotency-Key": key} if key else None
    status, body, _ = api.call(
        "POST", f"/citizens/{cid}/sample-kits", {"kitType": kit, "delivery": delivery}, token=token, headers=headers
    )
    return status, body


def stored_order(order_id: str) -> dict[str, Any]:
    item = dynamo.client().get_item(
        TableName=settings().main_table, Key=dynamo.key(f"KITORDER#{order_id}", "KITORDER"), ConsistentRead=True
    )["Item"]
    return dynamo.from_item(item)


def result(order_id: str, result_id: str = "R-1", **fields: Any) -> dict[str, Any]:
    return {
        "orderId": order_id,
        "resultId": result_id,
        "analysis": "Klamydia",
        "outcome": "negative",
        "text": "Inga bakterier påvisades. Du behöver inte göra något mer.",
        **fields,
    }


def deliver(api: Any, body: Any, token: str | None = None) -> tuple[int, Any]:
    status, answer, _ = api.call("POST", "/integrations/lab-results", body, token=token or lab_token())
    return status, answer


def inbox(api: Any, token: str, cid: str = "me") -> list[dict[str, Any]]:
    status, page, _ = api.call("GET", f"/citizens/{cid}/inbox", token=token)
    assert status == 200, page
    return list(page["items"])


# ---------------------------------------------------------------- ordering a kit


def test_a_kit_to_the_home_address_in_the_register_and_a_retry_orders_nothing_new(api: Any) -> None:
    sara = api.token_for(pnr("Sara"))
    status, first = order(api, sara, HOME, key="kit-1")
    assert status == 201, first
    again_status, again = order(api, sara, HOME, key="kit-1")
    assert (again_status, again) == (201, first)  # the first result, nothing new
    stored = stored_order(first["orderId"])
    assert stored["citizenId"] == sara.split(".")[0]
    assert stored["kitType"] == "klamydia-gonorre" and stored["status"] == "ordered"
    # the register's address (Kungsgatan 3, Malmö), not one the citizen typed
    assert stored["delivery"] == {
        "kind": "home",
        "address": {"street": "Kungsgatan 3", "postalCode": "211 49", "city": "Malmö"},
    }
    assert stored["orderedBy"] == {"kind": "citizen", "citizenId": sara.split(".")[0]}
    assert int(stored["expiresAt"]) > 0
    reused, problem = order(api, sara, {"kind": "pickup-point", "pickupPointId": "PN-123"}, key="kit-1")
    assert reused == 422 and problem["code"] == "idempotency-key-reused"
    other_status, other = order(api, sara, HOME, key="kit-2")
    assert other_status == 201 and other["orderId"] != first["orderId"]


def test_a_pickup_point_and_another_address(api: Any) -> None:
    sara = api.token_for(pnr("Sara"))
    status, body = order(api, sara, {"kind": "pickup-point", "pickupPointId": "PN-4711"}, kit="hpv")
    assert status == 201, body
    assert stored_order(body["orderId"])["delivery"] == {"kind": "pickup-point", "pickupPointId": "PN-4711"}
    elsewhere = {"street": "Sommarvägen 1", "postalCode": "38792", "city": "Borgholm"}
    status, body = order(api, sara, {"kind": "other", "address": elsewhere})
    assert status == 201, body
    assert stored_order(body["orderId"])["delivery"] == {"kind": "other", "address": elsewhere}


@pytest.mark.parametrize(
    ("delivery", "code"),
    [
        ({"kind": "pickup-point"}, "delivery-invalid"),
        ({"kind": "other"}, "delivery-invalid"),
        ({"kind": "other", "pickupPointId": "PN-1"}, "delivery-invalid"),
        ({"kind": "home", "pickupPointId": "PN-1"}, "delivery-invalid"),
        ({"kind": "home", "address": {"street": "X 1", "postalCode": "11122", "city": "Y"}}, "delivery-invalid"),
        ({"kind": "drone"}, "invalid-input"),
        ({"kind": "other", "address": {"street": "X 1", "postalCode": "1", "city": "Y"}}, "invalid-input"),
        ({"kind": "pickup-point", "pickupPointId": "../etc"}, "invalid-input"),
    ],
)
def test_a_delivery_that_does_not_add_up_is_422(api: Any, delivery: dict[str, Any], code: str) -> None:
    status, problem = order(api, api.token_for(pnr("Sara")), delivery)
    assert status == 422 and problem["code"] == code, problem
    assert problem["detail"]


def test_unknown_kit_and_protected_identity_without_a_home_address(api: Any) -> None:
    sara = api.token_for(pnr("Sara"))
    status, problem = order(api, sara, HOME, kit="covid-19-antigen")
    assert status == 422 and problem["code"] == "invalid-input"
    maria = api.token_for(pnr("Maria"))  # protected identity: the register hands out no address
    status, problem = order(api, maria, HOME)
    assert status == 422 and problem["code"] == "no-home-address"
    assert "folkbokföringsadress" in problem["detail"]
    status, _ = order(api, maria, {"kind": "pickup-point", "pickupPointId": "PN-9"})
    assert status == 201


def test_a_guardian_orders_for_the_child_and_the_result_reaches_the_childs_inbox(api: Any) -> None:
    from chalicelib.audit import service as audit
    from chalicelib.audit.models import proxy_subject

    anna = api.token_for(pnr("Anna"))
    _, me, _ = api.call("GET", "/me", token=anna)
    elsa = next(c["citizenId"] for c in me["actingFor"] if c["name"].startswith("Elsa"))
    status, body = order(api, anna, {"kind": "pickup-point", "pickupPointId": "PN-1"}, cid=elsa)
    assert status == 201, body
    stored = stored_order(body["orderId"])
    assert stored["citizenId"] == elsa
    assert stored["orderedBy"]["kind"] == "guardian" and stored["orderedBy"]["citizenId"] == anna.split(".")[0]
    acts = [e["action"] for e in audit.entries_for(proxy_subject(elsa))]
    assert acts == ["proxy.sample-kit-ordered"]
    assert deliver(api, result(body["orderId"]))[0] == 202
    assert [i["subject"] for i in inbox(api, anna, elsa)] == ["Provsvar"]
    assert inbox(api, anna) == []  # the guardian's own inbox is untouched


def test_someone_elses_child_and_no_session(api: Any) -> None:
    sara = api.token_for(pnr("Sara"))
    anna = api.token_for(pnr("Anna"))
    _, me, _ = api.call("GET", "/me", token=anna)
    elsa = me["actingFor"][0]["citizenId"]
    assert order(api, sara, HOME, cid=elsa)[0] == 404
    status, _, _ = api.call("POST", "/citizens/me/sample-kits", {"kitType": "hpv", "delivery": HOME})
    assert status == 401


# ---------------------------------------------------------------- the lab's result


def test_a_result_reaches_the_inbox_notified_once_and_a_replay_changes_nothing(api: Any, queue_url: str) -> None:
    sara = api.token_for(pnr("Sara"))
    order_id = order(api, sara, HOME)[1]["orderId"]
    stream = Stream()
    stream.drain()
    status, receipt = deliver(api, result(order_id))
    assert status == 202, receipt
    assert receipt == {"orderId": order_id, "resultId": "R-1", "duplicate": False}

    items = inbox(api, sara)
    assert len(items) == 1
    item = items[0]
    assert item["kind"] == "message" and item["unread"] is True and item["subject"] == "Provsvar"
    assert item["from"] == "Egen provhantering"
    status, view, _ = api.call("GET", f"/citizens/me/inbox/{item['id']}", token=sara)
    assert status == 200, view
    assert "Inga bakterier påvisades" in view["body"] and "Negativt" in view["body"]
    raw = dynamo.from_item(
        dynamo.client().get_item(
            TableName=settings().main_table, Key=dynamo.key(f"CITIZEN#{sara.split('.')[0]}", f"INBOX#{item['id']}")
        )["Item"]
    )
    assert raw["labResult"]["orderId"] == order_id and raw["labResult"]["outcome"] == "negative"
    assert raw["arrivalId"]  # an arrival: notified
    assert stored_order(order_id)["status"] == "result-received"

    # one arrival → one notification message on the queue
    assert inbox_events(stream.drain()) == {"batchItemFailures": []}
    messages = queued(queue_url)
    assert [json.loads(m["body"])["itemId"] for m in messages] == [item["id"]]

    # the lab sends it again: 202, nothing new in the inbox, nothing to notify
    status, again = deliver(api, result(order_id))
    assert (status, again) == (202, {"orderId": order_id, "resultId": "R-1", "duplicate": True})
    assert len(inbox(api, sara)) == 1
    records = stream.drain()
    assert inbox_events(records) == {"batchItemFailures": []}
    assert queued(queue_url) == []
    assert stored_order(order_id).get("resultCount") == 1


def test_the_same_result_id_with_other_content_is_409_and_a_new_result_id_is_a_new_message(api: Any) -> None:
    sara = api.token_for(pnr("Sara"))
    order_id = order(api, sara, HOME)[1]["orderId"]
    assert deliver(api, result(order_id))[0] == 202
    status, problem = deliver(api, result(order_id, outcome="positive"))
    assert status == 409 and problem["code"] == "result-differs"
    status, receipt = deliver(api, result(order_id, "R-2", analysis="Gonorré", outcome="inconclusive"))
    assert status == 202 and receipt["duplicate"] is False
    assert len(inbox(api, sara)) == 2
    assert stored_order(order_id)["resultCount"] == 2


def test_the_lab_needs_its_scope_and_a_known_order(api: Any) -> None:
    sara = api.token_for(pnr("Sara"))
    order_id = order(api, sara, HOME)[1]["orderId"]
    status, problem, _ = api.call("POST", "/integrations/lab-results", result(order_id))
    assert status == 401
    status, problem = deliver(api, result(order_id), token=lab_token(["bookings:write"]))
    assert status == 403 and problem["code"] == "scope-required"
    status, problem = deliver(api, result(order_id), token=sara)  # a citizen's session is no lab
    assert status == 401
    status, problem = deliver(api, result("00000000-0000-4000-8000-000000000000"))
    assert status == 404 and problem["code"] == "order-not-found"
    for bad in (
        result(order_id, outcome="maybe"),
        result(order_id, text=""),
        result(order_id, text="x" * 4001),
        result(order_id, resultId="a/b"),
        {"orderId": order_id},
    ):
        status, problem = deliver(api, bad)
        assert status == 422 and problem["code"] == "invalid-input", bad
    assert inbox(api, sara) == []


def test_nothing_personal_in_keys(api: Any) -> None:
    """The order's and the result's keys carry ids only: no personnummer, no result."""
    sara = api.token_for(pnr("Sara"))
    order_id = order(api, sara, HOME)[1]["orderId"]
    assert deliver(api, result(order_id))[0] == 202
    items = dynamo.client().query(
        TableName=settings().main_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues=dynamo.values(pk=f"KITORDER#{order_id}"),
        ConsistentRead=True,
    )["Items"]
    assert sorted(i["sk"]["S"] for i in items) == ["KITORDER", "RESULT#R-1"]
    stored_result = next(dynamo.from_item(i) for i in items if i["sk"]["S"] != "KITORDER")
    text = json.dumps(stored_result, ensure_ascii=False, default=str)
    for leak in (pnr("Sara"), "Klamydia", "bakterier", "negative", "Kungsgatan"):
        assert leak not in text
