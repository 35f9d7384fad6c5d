"""What the population register (folkbokföringen) says about a person. Plain dataclasses: cheap to import."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ProtectedIdentity = Literal["sekretessmarkering", "skyddad-folkbokforing"]


@dataclass(frozen=True)
class Address:
    street: str
    postal_code: str
    city: str


@dataclass(frozen=True)
class Person:
    personnummer: str
    given_name: str
    surname: str
    address: Address | None  # None for protected identities: the register does not hand it out
    guardians: tuple[str, ...] = field(default_factory=tuple)  # guardians' personnummer
    protected_identity: ProtectedIdentity | None = None
    deceased: bool = False

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.surname}"

    @property
    def protected(self) -> bool:
        return self.protected_identity is not None
