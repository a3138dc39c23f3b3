"""One national id, whatever digits it is typed in (Persian, Arabic-Indic, ASCII), with white
space or dashes: one patient, found by a search in any of them; rows stored as typed before
are folded by migration 0012."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from flask import Flask
from flask.testing import FlaskClient

from hub.db import make_engine
from hub.migrate import alembic_config
from hub.national_id import InvalidNationalId, fold, normalise
from tests.support import factories as f
from tests.support.databases import temporary_database
from tests.support.personas import World

# The digits 0-9 of each script, by code point (U+06F0.., U+0660.., U+FF10..).
PERSIAN = str.maketrans("0123456789", "".join(chr(0x06F0 + d) for d in range(10)))
ARABIC = str.maketrans("0123456789", "".join(chr(0x0660 + d) for d in range(10)))
FULL_WIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))


def test_every_digit_form_folds_to_ascii() -> None:
    number = f.national_id()
    persian, arabic = number.translate(PERSIAN), number.translate(ARABIC)
    assert persian != number and arabic != number
    typed = f" {arabic[:3]}-{arabic[3:9]}\u2013{arabic[9]}\u200f "  # en dash, right-to-left mark
    for form in (persian, arabic, typed, number.translate(FULL_WIDTH)):
        assert normalise("IR", form) == number
    assert fold("123 456".translate(PERSIAN)[:4] + "456".translate(ARABIC)) == "123456"
    # A letter that is not a digit in any script is still refused, not folded away.
    with pytest.raises(InvalidNationalId):
        normalise("IR", number[:9] + "a")


def _register(client: FlaskClient, world: World, national_id: str, persona: str) -> int:
    body = {
        "national_id": national_id,
        "given_name": "Leila",
        "family_name": "Digits",
        "date_of_birth": "1991-04-05",
        "sex": "female",
    }
    resp = client.post("/api/v1/patients", json=body, headers=world[persona].headers)
    return resp.status_code


def test_the_same_id_in_persian_digits_is_the_same_patient(
    app: Flask, client: FlaskClient, world: World
) -> None:
    number = f.national_id()
    assert _register(client, world, number.translate(PERSIAN), "hw_a") == 201
    # Stored folded: the ASCII and Arabic-Indic forms are the same patient.
    assert _register(client, world, number, "hw_a") == 409
    assert _register(client, world, number.translate(ARABIC), "hw_a") == 409
    for query in (number, number.translate(PERSIAN), number.translate(ARABIC)):
        found = client.get(
            "/api/v1/patients", query_string={"q": query}, headers=world["hw_a"].headers
        ).get_json()["items"]
        assert [p["national_id"] for p in found] == [number], query


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migration_folds_rows_stored_as_typed(kind: str, tmp_path: Path) -> None:
    with temporary_database(kind, tmp_path, migrate=False) as url:
        cfg = alembic_config(url)
        command.upgrade(cfg, "0011")
        engine = make_engine(url)
        one, two = f.national_id(), f.national_id()
        try:
            with engine.begin() as conn:
                facility = _facility(conn)
                for national_id in (one.translate(PERSIAN), one, two.translate(ARABIC)):
                    conn.execute(
                        sa.text(
                            "INSERT INTO patient (id_country, national_id, given_name, "
                            "family_name, date_of_birth, sex, home_facility_id, created_at, "
                            "updated_at) "
                            "VALUES ('IR', :n, 'A', 'B', '1990-01-01', 'female', :f, "
                            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                        ),
                        {"n": national_id, "f": facility},
                    )
            command.upgrade(cfg, "head")
            with engine.connect() as conn:
                stored = sorted(conn.execute(sa.text("SELECT national_id FROM patient")).scalars())
        finally:
            engine.dispose()
    # The Arabic-Indic row is folded; of the two forms of ``one`` the folded row stays, and the
    # Persian duplicate is kept as typed for an administrator to merge (nothing is lost).
    assert sorted([one, one.translate(PERSIAN), two]) == stored


def _facility(conn: sa.Connection) -> int:
    """A facility of a new organisation tree (the migrations seed none)."""
    conn.execute(sa.text("INSERT INTO country (code, name) VALUES ('IR', 'Iran')"))
    country = conn.execute(sa.text("SELECT id FROM country WHERE code = 'IR'")).scalar_one()
    conn.execute(
        sa.text(
            "INSERT INTO macro_region (code, number, name, country_id) "
            "VALUES ('MRT', 1, 'Region', :c)"
        ),
        {"c": country},
    )
    region = conn.execute(sa.text("SELECT id FROM macro_region WHERE code = 'MRT'")).scalar_one()
    conn.execute(
        sa.text(
            "INSERT INTO facility (code, name, kind, level, region_id, timezone) "
            "VALUES ('HP-T', 'Post', 'health_post', 1, :r, 'Asia/Tehran')"
        ),
        {"r": region},
    )
    return int(conn.execute(sa.text("SELECT id FROM facility WHERE code = 'HP-T'")).scalar_one())
