"""Domain errors and their one mapping to RFC 9457 problem+json.

Services raise `Problem` subclasses; the HTTP middleware (`core.http`) renders them and admin
functions turn them into `{ok: false, code, detail}`. `Problem` derives from Chalice's
`ChaliceUnhandledError` only so that Chalice lets it reach the middleware instead of answering 500.
"""

from __future__ import annotations

from typing import Any

from chalice.app import ChaliceUnhandledError

PROBLEM_JSON = "application/problem+json"


class ConfigurationError(RuntimeError):
    """The deployment is wrong (a missing setting): an operator's problem, never the caller's."""


class Unhandled(ChaliceUnhandledError):
    """Carries an unexpected exception from a view to the error middleware (`cause`)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(type(cause).__name__)
        self.cause = cause


class Problem(ChaliceUnhandledError):
    status = 400
    code = "bad-request"
    title = "Felaktig begäran"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        title: str | None = None,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code:
            self.code = code
        if title:
            self.title = title
        if status:
            self.status = status
        self.extra = extra or {}
        self.headers = headers or {}  # e.g. Retry-After on 429 and 503

    def body(self) -> dict[str, Any]:
        return {
            "type": f"/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            **self.extra,
        }


class BadRequest(Problem):
    status, code, title = 400, "bad-request", "Felaktig begäran"


class InvalidInput(Problem):
    status, code, title = 422, "invalid-input", "Uppgifterna kunde inte godtas"


class Unauthenticated(Problem):
    status, code, title = 401, "unauthenticated", "Du behöver logga in"


class Forbidden(Problem):
    status, code, title = 403, "forbidden", "Åtkomst nekad"


class NotFound(Problem):
    status, code, title = 404, "not-found", "Finns inte"


class Conflict(Problem):
    status, code, title = 409, "conflict", "Begäran krockar med nuvarande läge"


class Gone(Problem):
    status, code, title = 410, "gone", "Finns inte längre"


class TooManyRequests(Problem):
    status, code, title = 429, "rate-limited", "För många försök"

    def __init__(self, detail: str, *, retry_after_s: int, code: str | None = None) -> None:
        seconds = max(1, int(retry_after_s))
        super().__init__(detail, code=code, headers={"Retry-After": str(seconds)}, extra={"retryAfter": seconds})


class ServiceUnavailable(Problem):
    status, code, title = 503, "service-unavailable", "Tjänsten är tillfälligt otillgänglig"

    def __init__(self, detail: str | None = None, *, code: str | None = None, retry_after_s: int = 5) -> None:
        super().__init__(
            detail or "Tjänsten är tillfälligt otillgänglig. Försök igen om en stund.",
            code=code,
            headers={"Retry-After": str(retry_after_s)},
        )
