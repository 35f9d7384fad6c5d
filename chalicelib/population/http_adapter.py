"""Population register over HTTP (production).

Protocol (the register integration the region provides): `POST {base}/persons/lookup` with
`{"personnummer": "..."}` and `POST {base}/persons/children` with `{"guardian": "..."}`, answering in
the JSON shape of `testdata/population.json` persons (`{"person": {...}}` / `{"persons": [...]}`),
404 when unknown. The personnummer goes in the body, never in the URL. Transport security (mTLS or
a private endpoint) is the deployment's concern.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from chalicelib.core.errors import ServiceUnavailable
from chalicelib.population.local_adapter import person_from_json
from chalicelib.population.models import Person


class HttpPopulationRegister:
    def __init__(self, base_url: str, timeout_s: float = 3.0) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = timeout_s

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        request = urllib.request.Request(  # noqa: S310 - the URL is configuration, https in production
            f"{self._base}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                result: dict[str, Any] = json.loads(response.read())
                return result
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise ServiceUnavailable(
                "Folkbokföringen svarar inte just nu.", code="population-register-unavailable"
            ) from None
        except (urllib.error.URLError, TimeoutError):
            raise ServiceUnavailable(
                "Folkbokföringen svarar inte just nu.", code="population-register-unavailable"
            ) from None

    def find(self, personnummer: str) -> Person | None:
        data = self._post("/persons/lookup", {"personnummer": personnummer})
        return person_from_json(data["person"]) if data else None

    def children_of(self, personnummer: str) -> list[Person]:
        data = self._post("/persons/children", {"guardian": personnummer})
        return [person_from_json(raw) for raw in (data or {}).get("persons", [])]
