from tests.support import pnr


def test_full_login_returns_session_and_name_from_register(api):
    outcome = api.login(pnr("Sara"))
    assert outcome["status"] == 200
    body = outcome["body"]
    assert body["status"] == "complete"
    assert body["me"]["name"] == "Sara Berg"
    status, me, _ = api.call("GET", "/me", token=body["session"]["token"])
    assert status == 200
    assert me["name"] == "Sara Berg"
