"""The citizen's inbox: a page of items (one Query), and one item with its case thread and files (marks it
read). The read side sits above cases and attachments and asks them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Response

from chalicelib.core.clock import system_clock
from chalicelib.core.errors import NotFound
from chalicelib.core.http import ok, query_param
from chalicelib.core.lazy import lazy_module
from chalicelib.core.openapi import documented
from chalicelib.edge import callers

if TYPE_CHECKING:
    from chalicelib.cases import service as cases
    from chalicelib.forms import service as forms
    from chalicelib.guardians import activity
    from chalicelib.inbox import service
    from chalicelib.web_booking import invitations
else:
    invitations = lazy_module("chalicelib.web_booking.invitations")
    activity = lazy_module("chalicelib.guardians.activity")
    cases = lazy_module("chalicelib.cases.service")
    forms = lazy_module("chalicelib.forms.service")
    service = lazy_module("chalicelib.inbox.service")

bp = Blueprint(__name__)
MODELS = "chalicelib.inbox.schemas"


@documented(
    bp,
    "/citizens/{cid}/inbox",
    "GET",
    summary="The inbox, newest first",
    tag="Inbox",
    models=MODELS,
    responses={200: "InboxPage"},
    security="citizenSession",
    problems=(400, 401, 404),
    query=("cursor",),
)
def inbox_page(cid: str) -> Response:
    subject = callers.subject(bp.current_request, cid)
    cursor = query_param(bp.current_request, "cursor")
    return ok(service.page(subject.citizen_id, cursor, clock=system_clock))


@documented(
    bp,
    "/citizens/{cid}/inbox/{itemId}",
    "GET",
    summary="One inbox item with its messages; marks it read",
    tag="Inbox",
    models=MODELS,
    responses={200: "InboxItemView"},
    security="citizenSession",
    problems=(401, 404),
)
def inbox_item(cid: str, itemId: str) -> Response:
    subject = callers.subject(bp.current_request, cid)
    item = service.get(subject.citizen_id, itemId, clock=system_clock) if len(itemId) <= 64 else None
    if item is None:
        raise NotFound("Finns inte.", code="not-found")
    view: dict[str, Any] = {
        **service.summary(item),
        "body": item.get("body"),
        "notice": item.get("notice"),
        "booking": item.get("booking"),
        "labResult": item.get("labResult"),
        "attachments": [],
    }
    if item.get("kind") == "invitation":  # its state now: open, used or expired
        view["invitation"] = invitations.view(subject.citizen_id, itemId, clock=system_clock)
    if item.get("kind") == "form":  # the form to fill in, and whether it is answered
        view["form"] = forms.view(subject.citizen_id, itemId, clock=system_clock)
    if item.get("caseId"):
        thread = cases.citizen_view(subject, item["caseId"], clock=system_clock)
        view["case"] = thread
        view["attachments"] = _attachment_infos([a for m in thread["messages"] for a in m["attachmentIds"]])
    if item.get("unread"):
        service.mark_read(subject.citizen_id, itemId)
        view["unread"] = False
    return ok(view)


@documented(
    bp,
    "/citizens/{cid}/proxy-activity",
    "GET",
    summary="What guardians did in proxy mode (R-36): who, what, when; newest first",
    tag="Inbox",
    models=MODELS,
    responses={200: "ProxyActivity"},
    security="citizenSession",
    problems=(400, 401, 404),
    query=("cursor",),
)
def proxy_activity(cid: str) -> Response:
    """A child's guardians see each other's acts in the child's name; the child sees them too (also after
    the 13th birthday, when the guardians no longer may). Anyone else: 404."""
    subject = callers.subject(bp.current_request, cid)
    return ok(activity.page(subject.citizen_id, query_param(bp.current_request, "cursor")))


def _attachment_infos(ids: list[str]) -> list[dict[str, Any]]:
    if not ids:
        return []
    from chalicelib.attachments import service as attachments

    return [
        {
            "attachmentId": found.attachment_id,
            "fileName": found.file_name,
            "contentType": found.content_type,
            "size": found.size,
            **attachments.metadata_info(found),  # what the content check removed from a photo, and why
        }
        for found in attachments.get_many(ids, clock=system_clock)
    ]
