"""`GET /me`: the citizen as the app shows them. Name from the population register only (R-02)."""

from __future__ import annotations

from chalicelib.accounts.models import Account
from chalicelib.core.clock import Clock
from chalicelib.core.errors import Forbidden
from chalicelib.guardians import service as guardians
from chalicelib.population.port import PopulationRegister


def me(account: Account, *, register: PopulationRegister, clock: Clock) -> dict[str, object]:
    person = register.find(account.personnummer)
    if person is None:
        raise Forbidden("Vi hittar dig inte i folkbokföringen.", code="not-in-population-register")
    links = guardians.acting_for(person, account.citizen_id, register=register, clock=clock)
    return {
        "citizenId": account.citizen_id,
        "name": person.name,
        "givenName": person.given_name,
        "surname": person.surname,
        "address": (
            {"street": person.address.street, "postalCode": person.address.postal_code, "city": person.address.city}
            if person.address
            else None
        ),
        "protectedIdentity": person.protected,
        "firstLoginAt": account.first_login_at,
        "mustReviewSettings": account.must_review_settings,
        "recordSealed": account.record_sealed,
        "actingFor": [{"citizenId": link.citizen_id, "name": link.name, "relation": link.relation} for link in links],
    }
