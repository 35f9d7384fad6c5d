"""The simulator speaks BankID RP v6 as pybankid expects it (loopback only)."""

import pytest

from chalicelib.auth.bankid import ConfiguredBankIDClient
from local.bankid_simulator import serve
from tests.support import pnr


@pytest.fixture
def client():
    server, _ = serve()
    host, port = server.server_address[:2]
    yield ConfiguredBankIDClient(f"http://{host}:{port}/rp/v6.0", None)
    server.shutdown()


def test_order_with_personal_number_completes_on_second_collect(client):
    order = client.authenticate(end_user_ip="127.0.0.1", requirement={"personalNumber": pnr("Sara")})
    assert client.collect(order["orderRef"])["status"] == "pending"
    done = client.collect(order["orderRef"])
    assert done["status"] == "complete"
    assert done["completionData"]["user"]["personalNumber"] == pnr("Sara")


def test_second_order_for_same_person_is_already_in_progress(client):
    from bankid.exceptions import AlreadyInProgressError

    client.authenticate(end_user_ip="127.0.0.1", requirement={"personalNumber": pnr("Sara")})
    with pytest.raises(AlreadyInProgressError):
        client.authenticate(end_user_ip="127.0.0.1", requirement={"personalNumber": pnr("Sara")})


def test_cancel_and_unknown_orders(client):
    from bankid.exceptions import NotFoundError

    order = client.authenticate(end_user_ip="127.0.0.1")
    assert client.cancel(order["orderRef"]) is True
    with pytest.raises(NotFoundError):
        client.collect(order["orderRef"])
