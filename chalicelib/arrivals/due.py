"""The notification due index: sparse `gsi4` on the main table, the outbox's "to be done by".

An inbox item carries a due marker from the transaction that writes an arrival (the business
transaction itself: no extra request) until `send_notifications` has claimed the arrival's
notifications; a notification carries one while it is `sending` without a provider message id.
`sweep_notifications` reads the index by key, one range Query per shard, and re-queues what is past due.

gsi4pk = NOTIFYDUE#<shard>    gsi4sk = <due instant, UTC ISO>#<name>
(name = <citizenId>#<itemId> for an inbox item, the notification id for a notification). The shard is a
stable hash of the name, so markers spread over a few index partitions and one item always lands in
the same one.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta

from chalicelib.core.clock import iso

SHARDS = 8
PREFIX = "NOTIFYDUE#"
# How long an arrival (or a claimed notification) may wait before the sweeper takes it up: well above
# the path's normal latency (seconds) and the sender's lease, so only what was lost gets re-queued.
BOUND = timedelta(minutes=2)


def partition(shard: int) -> str:
    return f"{PREFIX}{shard}"


def shard_of(name: str) -> int:
    return zlib.crc32(name.encode()) % SHARDS


def marker(name: str, due: datetime) -> dict[str, str]:
    """The index attributes that make `name` due at `due`."""
    return {"gsi4pk": partition(shard_of(name)), "gsi4sk": f"{iso(due)}#{name}"}


def inbox_name(citizen_id: str, item_id: str) -> str:
    return f"{citizen_id}#{item_id}"


def rescheduled(sort_key: str, due: datetime) -> str:
    """The same marker (`gsi4sk`), due at `due` instead."""
    return f"{iso(due)}#{sort_key.split('#', 1)[1]}"
