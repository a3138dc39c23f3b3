"""Request and response shapes of the core API; they also feed the OpenAPI document."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import (
    AliasPath,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
)

from hub.limits import ID_MAX
from hub.models import ConsentMethod, ConsentScope, Sex


class Strict(BaseModel):
    """Unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


_RFC3339_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _rfc3339_text(value: object) -> object:
    # pydantic would read a number, or digits in a query string, as seconds since 1970 ("0.5"
    # would be a time in 1970); the API documents date-time text, so only that is read. Parsed
    # here, as strictly typed bodies take no text for a datetime.
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _RFC3339_DATE.match(value.strip()):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError("give a date and time as text (e.g. 2026-12-01T08:00:00+03:30)")


# A date and time given to the API: RFC 3339 text (or a datetime from Python callers).
Timestamp = Annotated[datetime, BeforeValidator(_rfc3339_text)]


def _iso_day(value: object) -> object:
    # As for Timestamp: a query's digits would otherwise be read as seconds since 1970.
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError("give a day as YYYY-MM-DD")


# A day given to the API in a query: ISO 8601 text (or a date from Python callers).
Day = Annotated[date, BeforeValidator(_iso_day)]


# The id of a row given in a body or query: what an INTEGER id column holds (signed 32-bit
# on PostgreSQL; a larger number would overflow the driver instead of matching nothing).
Id = Annotated[int, Field(gt=0, le=ID_MAX)]


class FromRow(BaseModel):
    """A response built from a database row (``Model.model_validate(row)``)."""

    model_config = ConfigDict(from_attributes=True)


class CursorPage(BaseModel):
    """One page of a list; pass ``next_cursor`` back as ``cursor`` for the next one."""

    next_cursor: str | None = Field(
        default=None,
        description="Opaque cursor of the next page: send it as ?cursor=. Null on the last page.",
    )


class PatientIn(Strict):
    national_id: str = Field(min_length=5, max_length=32)
    id_country: str | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="Defaults to the home facility's country",
    )
    given_name: str = Field(min_length=1, max_length=120)
    family_name: str = Field(min_length=1, max_length=120)
    date_of_birth: date
    sex: Sex
    phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9 ()-]{5,31}$")
    email: EmailStr | None = None
    address: str | None = Field(default=None, max_length=2000)
    home_facility: str | None = Field(
        default=None, max_length=32, description="Facility code; defaults to your facility"
    )

    @field_validator("date_of_birth")
    @classmethod
    def _not_future(cls, value: date) -> date:
        if value > date.today():
            raise ValueError("date of birth is in the future")
        if value.year < 1880:
            raise ValueError("date of birth is implausibly early")
        return value


class PatientPatch(Strict):
    national_id: str | None = Field(
        default=None,
        min_length=5,
        max_length=32,
        description="A corrected national id, checked against its country's checksum",
    )
    given_name: str | None = Field(default=None, min_length=1, max_length=120)
    family_name: str | None = Field(default=None, min_length=1, max_length=120)
    date_of_birth: date | None = None
    sex: Sex | None = None
    phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9 ()-]{5,31}$")
    email: EmailStr | None = None
    address: str | None = Field(default=None, max_length=2000)


class PatientOut(FromRow):
    id: int
    national_id: str
    id_country: str
    given_name: str
    family_name: str
    date_of_birth: date
    sex: Sex
    phone: str | None
    email: str | None
    address: str | None
    home_facility: str = Field(validation_alias=AliasPath("home_facility", "code"))
    merged_into: int | None = Field(validation_alias="merged_into_id")
    created_at: datetime


class PatientList(CursorPage):
    items: list[PatientOut]


class MergeIn(Strict):
    duplicate_id: Id
    reason: str = Field(min_length=3, max_length=500)


class ConsentIn(Strict):
    scopes: list[ConsentScope] = Field(
        min_length=1,
        max_length=len(ConsentScope),
        description="What the consent covers; one record each",
    )
    method: ConsentMethod = Field(
        default=ConsentMethod.ELECTRONIC,
        description="How it was given; recorded in the hub by default",
    )
    given_by_name: str | None = Field(
        default=None, min_length=1, max_length=200, description="Defaults to the patient's own name"
    )
    relationship_to_patient: str = Field(default="self", min_length=1, max_length=40)
    given_at: Timestamp | None = Field(default=None, description="Defaults to now (UTC)")

    @field_validator("scopes")
    @classmethod
    def _distinct(cls, value: list[ConsentScope]) -> list[ConsentScope]:
        if len(set(value)) != len(value):
            raise ValueError("scopes are repeated")
        return value


class ConsentOut(FromRow):
    id: int
    patient_id: int
    scope: ConsentScope
    method: ConsentMethod
    given_by_name: str
    relationship_to_patient: str
    given_at: datetime
    recorded_by: int = Field(validation_alias="recorded_by_id")
    withdrawn_at: datetime | None
    active: bool


class ConsentList(BaseModel):
    items: list[ConsentOut]


class MembershipEndIn(Strict):
    valid_to: date | None = Field(
        default=None, description="The last day the membership covers; defaults to today"
    )


class PatientMembershipOut(FromRow):
    id: int
    patient_id: int
    insurer_id: int
    member_id: str
    valid_from: date
    valid_to: date | None


class MeOut(BaseModel):
    kind: str
    username: str | None = None
    full_name: str | None = None
    roles: list[str]
    scopes: list[str]
    facility: str | None = None
    region: str | None = None
    insurer: str | None = None
    client_id: str | None = None
    via: str
