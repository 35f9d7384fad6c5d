"""The personnummer wrapper: parsing, validity, age, and the keyed hash used as a lookup key.

A personnummer is personal data. It may be stored as an attribute, but keys, URLs, logs, metrics and
queue bodies carry `lookup_key(pnr)` or an internal id instead (DESIGN.md, Data).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date

from personnummer import personnummer as _lib

from chalicelib.core.config import settings
from chalicelib.core.errors import ConfigurationError
from chalicelib.core.process import process_wide

_TWELVE_DIGITS = re.compile(r"\A[0-9]{12}\Z")  # ASCII only: "١٩٤٦..." is not a personnummer


@dataclass(frozen=True)
class PersonalNumber:
    value: str  # 12 digits, YYYYMMDDNNNC
    birth_date: date
    coordination: bool  # samordningsnummer: day of birth + 60

    def birthday_in(self, year: int) -> date:
        """The birthday in `year`. R-34 (lag 1930:173, 1 §): someone born 29 February has it on 28 February
        in a year without 29 February. The one rule for every age limit: proxy, the 13th birthday, R-35."""
        born = self.birth_date
        try:
            return born.replace(year=year)
        except ValueError:  # 29 February in a common year
            return date(year, 2, 28)

    def age_on(self, day: date) -> int:
        """Whole years on `day` (a Stockholm calendar date)."""
        years = day.year - self.birth_date.year
        return years - (1 if day < self.birthday_in(day.year) else 0)

    def turns(self, age: int) -> date:
        """The date this person reaches `age` years."""
        return self.birthday_in(self.birth_date.year + age)


def parse(value: str) -> PersonalNumber:
    """A valid 12-digit personnummer or samordningsnummer, or ValueError (never echoing the value)."""
    if not isinstance(value, str) or not _TWELVE_DIGITS.match(value):
        raise ValueError("must be 12 digits (ÅÅÅÅMMDDNNNN)")
    try:
        parsed = _lib.parse(value)
    except _lib.PersonnummerException:
        raise ValueError("is not a valid personnummer") from None
    born = parsed.get_date()
    return PersonalNumber(value=value, birth_date=born, coordination=parsed.is_coordination_number())


@process_wide
def hmac_key() -> bytes:
    """The secret of every keyed hash (personnummer lookups, idempotency guards)."""
    config = settings()
    if config.pnr_hmac_secret:
        return config.pnr_hmac_secret.encode()
    if config.pnr_hmac_secret_arn:
        from aws_lambda_powertools.utilities.parameters import get_secret

        secret = get_secret(config.pnr_hmac_secret_arn, max_age=3600)
        return secret.encode() if isinstance(secret, str) else bytes(secret)
    raise ConfigurationError("PNR_HMAC_SECRET or PNR_HMAC_SECRET_ARN must be set")


def lookup_key(value: str) -> str:
    """Keyed hash of a personnummer: stable, not reversible without the secret."""
    return hmac.new(hmac_key(), value.encode(), hashlib.sha256).hexdigest()
