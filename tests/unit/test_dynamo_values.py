from chalicelib.core import dynamo


def test_round_trip_of_nested_values():
    value = {"s": "å", "n": 3, "f": 1.5, "b": True, "m": {"l": [1, "x", None]}, "none": None}
    item = dynamo.to_item(value)
    assert "none" not in item  # absent rather than NULL
    assert dynamo.from_item(item) == {k: v for k, v in value.items() if v is not None}


def test_is_live_ignores_expired_items():
    assert dynamo.is_live({"expiresAt": 101}, 100)
    assert not dynamo.is_live({"expiresAt": 100}, 100)
    assert dynamo.is_live({"pk": "x"}, 100)
    assert not dynamo.is_live(None, 100)
