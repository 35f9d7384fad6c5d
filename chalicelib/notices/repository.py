"""The notice record, its keys and every write; the sparse index that makes notices due (gsi5).

BOOKING#<system>#<bookingId> / NOTICE      the notice (models.Notice, camelCase attributes)
  gsi5 = RELEASE#<shard>, <releaseAt>#<noticeId>     while a digital notice waits for its release
  gsi5 = FOLLOWUP#<shard>, <dueAt>#<noticeId>        after release, until the unread follow-up ran

The index is sparse: a notice is in it only while something is due, so `release_due_notices` and
`report_unread_notices` read exactly the notices they act on, by key, in due order. It projects every
attribute, so a page of the index is all a release needs (about one item read per notice released).
The shard (a stable hash of the notice id) spreads the 18:00 burst over index partitions and workers.
Every write is a whole-item Put conditioned on the version it replaces, so two writers never both win.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from chalicelib.core import dynamo
from chalicelib.core.clock import iso
from chalicelib.core.concurrency import VersionConflict
from chalicelib.core.config import settings
from chalicelib.core.unit_of_work import UnitOfWork
from chalicelib.notices.models import Notice

SHARDS = 16
INDEX = "gsi5"
Due = Literal["RELEASE", "FOLLOWUP"]
RETENTION_S = 2 * 365 * 24 * 3600  # the record outlives the visit by two years, like a case


def notice_key(system: str, booking_id: str) -> dict[str, Any]:
    return dynamo.key(f"BOOKING#{system}#{booking_id}", "NOTICE")


def shard_of(notice_id: str) -> int:
    return zlib.crc32(notice_id.encode()) % SHARDS


def marker(notice: Notice) -> dict[str, str]:
    """The index attributes that make the notice due (none when nothing is)."""
    if notice.state == "pending" and notice.digital and notice.release_at:
        kind, at = "RELEASE", notice.release_at
    elif notice.state == "released" and notice.follow_up and notice.follow_up.state == "due":
        kind, at = "FOLLOWUP", notice.follow_up.due_at
    else:
        return {}
    return {"gsi5pk": f"{kind}#{shard_of(notice.notice_id)}", "gsi5sk": f"{at}#{notice.notice_id}"}


@dataclass(frozen=True)
class Page:
    notices: list[tuple[Notice, str]]  # each with the index sort key it was found under
    last_key: dict[str, Any] | None  # where the next page starts; None: no more
    read: int  # items the page read (bench: items read per notice released)


class NoticeRepository(Protocol):
    def get(self, system: str, booking_id: str) -> Notice | None: ...

    def put(self, uow: UnitOfWork, notice: Notice, *, replaces: str | None, seen_marker: str | None = None) -> None:
        """The notice as a whole; `replaces` is the version it must still have (None: it must be new),
        `seen_marker` the index sort key it must still carry (a due notice not taken by another run)."""
        ...

    def due(self, kind: Due, shard: int, by: datetime, limit: int, start: dict[str, Any] | None) -> Page: ...


class DynamoNotices:
    def get(self, system: str, booking_id: str) -> Notice | None:
        item = (
            dynamo.client()
            .get_item(TableName=settings().main_table, Key=notice_key(system, booking_id), ConsistentRead=True)
            .get("Item")
        )
        return Notice.from_record(dynamo.from_item(item)) if item else None

    def put(self, uow: UnitOfWork, notice: Notice, *, replaces: str | None, seen_marker: str | None = None) -> None:
        stored = {
            **notice_key(notice.system, notice.booking_id),
            **dynamo.to_item(
                {
                    "type": "notice",
                    **notice.to_record(),
                    **marker(notice),
                    "expiresAt": _expires_at(notice),
                }
            ),
        }
        action: dict[str, Any] = {"TableName": settings().main_table, "Item": stored}
        if replaces is None:
            action["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            action["ConditionExpression"] = "#v = :v" + (" AND gsi5sk = :seen" if seen_marker else "")
            action["ExpressionAttributeNames"] = {"#v": "version"}
            action["ExpressionAttributeValues"] = dynamo.values(
                v=replaces, **({"seen": seen_marker} if seen_marker else {})
            )
        uow.add({"Put": action}, on_failed=lambda: VersionConflict(notice.notice_id))

    def due(self, kind: Due, shard: int, by: datetime, limit: int, start: dict[str, Any] | None) -> Page:
        request: dict[str, Any] = {
            "TableName": settings().main_table,
            "IndexName": INDEX,
            "KeyConditionExpression": "gsi5pk = :pk AND gsi5sk <= :upper",
            # "#" sorts below every id character: everything due at or before `by`.
            "ExpressionAttributeValues": dynamo.values(pk=f"{kind}#{shard}", upper=f"{iso(by)}#~"),
            "Limit": limit,
        }
        if start:
            request["ExclusiveStartKey"] = start
        answer = dynamo.client().query(**request)
        found = [dynamo.from_item(i) for i in answer.get("Items", [])]
        return Page(
            notices=[(Notice.from_record(raw), str(raw["gsi5sk"])) for raw in found],
            last_key=answer.get("LastEvaluatedKey"),
            read=len(found),
        )


def _expires_at(notice: Notice) -> int:
    anchor = notice.content.starts_at if notice.content else notice.received_at
    return int(datetime.fromisoformat(anchor.replace("Z", "+00:00")).timestamp()) + RETENTION_S


DYNAMO = DynamoNotices()
