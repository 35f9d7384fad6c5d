"""Base pydantic models and field types shared by every capability.

Models defer building their validators to first use (`defer_build`): importing the app must stay
cheap for cold starts, and most requests touch only one or two models.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from chalicelib.core import personal_number


class ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown request fields are ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        defer_build=True,
        extra="ignore",
        str_strip_whitespace=True,
    )


def _valid_personnummer(value: str) -> str:
    personal_number.parse(value)
    return value


PersonnummerField = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{12}$",
        description="Personnummer or samordningsnummer, 12 digits",
        examples=["198504022396"],
    ),
    AfterValidator(_valid_personnummer),
]
