"""Tariff upload: a good file becomes a schedule version; a bad one is refused whole with each
line and column, and nothing of it is stored (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
import random
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from hub import db
from hub.api.pagination import encode_cursor
from insurance import tariffs
from insurance.models import TariffItem, TariffSchedule, TariffUnit
from tests.support.paging import all_pages, assert_refuses_bad_cursors
from tests.support.personas import World

_days = itertools.count(random.randrange(0, 50_000))


def _future() -> date:
    # After 2200: never the schedule in force for the other tests' services.
    return date(2200, 1, 1) + timedelta(days=next(_days))


def _upload(
    client: FlaskClient, headers: dict[str, str], body: bytes, *, on: date, minor_unit: int = 2
) -> tuple[int, dict[str, object]]:
    resp = client.post(
        f"/api/v1/tariffs?label=Tariff&currency=IRR&minor_unit={minor_unit}"
        f"&effective_from={on.isoformat()}",
        data=body,
        headers={**headers, "Content-Type": "text/csv"},
    )
    return resp.status_code, resp.get_json()


def _count(app: Flask) -> tuple[int, int]:
    with app.app_context(), db.transaction() as sess:
        return (
            int(sess.scalar(select(func.count()).select_from(TariffSchedule)) or 0),
            int(sess.scalar(select(func.count()).select_from(TariffItem)) or 0),
        )


GOOD = (
    "component,unit,amount,description\n"
    "consult:l2,service,1500000.50,Level-2 consult\n"
    "consult:l3:cardiology,service,2000000,Level-3 cardiology\n"
    "video_minute,minute,60000.05,\n"
    "image_reading:ct,service,0,Free during the pilot\n"
)


def test_upload_stores_a_version_in_minor_units(
    app: Flask, client: FlaskClient, world: World
) -> None:
    on = _future()
    status, body = _upload(client, world["national"].headers, GOOD.encode(), on=on)
    assert status == 201, body
    items = {i["component"]: i for i in body["items"]}  # type: ignore[union-attr]
    assert items["consult:l2"]["amount_minor"] == 150_000_050
    assert items["video_minute"] == {
        "component": "video_minute",
        "unit": "minute",
        "amount_minor": 6_000_005,
        "description": "",
    }
    assert body["minor_unit"] == 2 and body["effective_from"] == on.isoformat()
    with app.app_context(), db.transaction() as sess:
        assert tariffs.in_force(sess, on).id == body["id"]  # type: ignore[union-attr]
        earlier = tariffs.in_force(sess, on - timedelta(days=1))
        assert earlier is None or earlier.id != body["id"]
        schedule = sess.get_one(TariffSchedule, body["id"])
        item = tariffs.price_of(sess, schedule, "consult:l3:cardiology:followup")
        assert item is not None and item.component == "consult:l3:cardiology"
        assert tariffs.price_of(sess, schedule, "referral") is None

    # A date already taken: a stored schedule never changes.
    status, body = _upload(client, world["national"].headers, GOOD.encode(), on=on)
    assert status == 409 and body["error"]["code"] == "schedule_exists"  # type: ignore[index]


def test_schedules_page_newest_first_by_next_cursor(client: FlaskClient, world: World) -> None:
    national = world["national"].headers
    made = []
    for _ in range(3):
        status, body = _upload(client, national, GOOD.encode(), on=_future())
        assert status == 201, body
        made.append(body)
    one_page = client.get("/api/v1/tariffs?limit=200", headers=national).get_json()
    walked = all_pages(client, "/api/v1/tariffs", national, limit=1)
    assert [s["id"] for s in walked] == [s["id"] for s in one_page["items"]]
    dates = [s["effective_from"] for s in walked]
    assert dates == sorted(dates, reverse=True)
    assert {m["id"] for m in made} <= {s["id"] for s in walked}  # type: ignore[index]
    assert_refuses_bad_cursors(client, "/api/v1/tariffs", national)
    # A key no date has (0, or past year 9999) is refused as well.
    for key in (0, date.max.toordinal() + 1):
        resp = client.get(f"/api/v1/tariffs?cursor={encode_cursor(key)}", headers=national)
        assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "bad_cursor"


@pytest.mark.parametrize(
    ("content", "line", "column", "code"),
    [
        ("component,unit,amount\nconsult:l2,service,12.345\n", 2, "amount", "amount"),
        ("component,unit,amount\nconsult:l2,service,-5\n", 2, "amount", "amount"),
        ("component,unit,amount\nconsult:l2,service,abc\n", 2, "amount", "amount"),
        ("component,unit,amount\nconsult:l2,service,NaN\n", 2, "amount", "amount"),
        ("component,unit,amount\nconsult:l2,hour,10\n", 2, "unit", "unit"),
        ("component,unit,amount\nConsult L2,service,10\n", 2, "component", "format"),
        ("component,unit,amount\na,service,1\nb,service\n", 3, None, "field_count"),
        ("component,unit,amount\na,service,1\na,service,2\n", 3, "component", "duplicate"),
        ("component,unit,price\na,service,1\n", 1, "price", "unknown_column"),
        ("component,unit,amount\n", 2, None, "empty"),
        ("", 1, None, "empty"),
        (
            "component,unit,amount\nconsult:l2,service,1\nfilm_print:ct,service,50000\n",
            3,
            "component",
            "seeds_000_print_not_billable",
        ),
        (
            "component,unit,amount\npaper,service,1\n",
            2,
            "component",
            "seeds_000_print_not_billable",
        ),
    ],
)
def test_a_malformed_file_is_refused_whole_naming_line_and_column(
    app: Flask,
    client: FlaskClient,
    world: World,
    content: str,
    line: int,
    column: str | None,
    code: str,
) -> None:
    before = _count(app)
    status, body = _upload(client, world["national"].headers, content.encode(), on=_future())
    assert status == 422, body
    problems = body["error"]["details"]  # type: ignore[index]
    assert {"line": line, "column": column, "code": code}.items() <= problems[0].items()
    if code == "seeds_000_print_not_billable":
        assert "SEEDS 000" in problems[0]["problem"]
    assert _count(app) == before  # nothing partially applied


def test_every_bad_line_is_reported_at_once(app: Flask, client: FlaskClient, world: World) -> None:
    content = "component,unit,amount\nok,service,1\nbad,day,1\nok2,service,x\n"
    status, body = _upload(client, world["national"].headers, content.encode(), on=_future())
    assert status == 422
    where = [(p["line"], p["column"]) for p in body["error"]["details"]]  # type: ignore[index]
    assert where == [(3, "unit"), (4, "amount")]


def test_not_utf8_and_bad_parameters(app: Flask, client: FlaskClient, world: World) -> None:
    status, body = _upload(
        client,
        world["national"].headers,
        "component,unit,amount\nä,service,1\n".encode("latin-1"),
        on=_future(),
    )
    assert status == 422 and body["error"]["details"][0]["line"] == 2  # type: ignore[index]
    resp = client.post(
        "/api/v1/tariffs?label=T&currency=rial&minor_unit=9&effective_from=2300-01-01",
        data=GOOD,
        headers=world["national"].headers,
    )
    assert resp.status_code == 422
    fields = {d["field"] for d in resp.get_json()["error"]["details"]}
    assert fields == {"currency", "minor_unit"}


def test_only_a_national_administrator_uploads(
    app: Flask, client: FlaskClient, world: World
) -> None:
    before = _count(app)
    for name in ("admin_a", "insurer_a", "hw_a"):
        status, _ = _upload(client, world[name].headers, GOOD.encode(), on=_future())
        assert status == 403, name
    assert _count(app) == before


def test_parser_units() -> None:
    items = tariffs.parse_csv(b"\xef\xbb\xbfComponent,Unit,Amount\nx:y,MINUTE,7\n\n", 0)
    assert items == [tariffs.ParsedItem("x:y", TariffUnit.MINUTE, 7, "")]
    assert tariffs.is_print_component("image_reading:film")
    assert tariffs.is_print_component("paper_print")
    assert not tariffs.is_print_component("image_reading:ct")
    assert tariffs.lookup_chain("a:b:c") == ["a:b:c", "a:b", "a"]
