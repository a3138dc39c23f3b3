"""The DICOM AE titles page: a facility administrator lists, adds, edits, disables and enables
their own facility's titles and nobody else's; a national administrator keeps every facility's;
other roles are refused; every change is audited and bad input is said on the page."""

from __future__ import annotations

import re
import uuid

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub import db
from hub.models import AuditEvent, Role
from imaging.models import AeKind, CallingAe
from tests.support.pages import logged_in
from tests.support.personas import World

FORM_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGE = "/admin/ae-titles"


def _token(page: FlaskClient, path: str = PAGE) -> str:
    match = FORM_CSRF.search(page.get(path).get_data(as_text=True))
    assert match
    return match.group(1)


def _title() -> str:
    return f"T{uuid.uuid4().hex[:10]}".upper()


def _row(app: Flask, title: str) -> CallingAe | None:
    with app.app_context(), db.transaction() as sess:
        row = sess.scalar(select(CallingAe).where(CallingAe.ae_title == title))
        if row is not None:
            sess.expunge(row)
        return row


def _audited(app: Flask, action: str, ae_id: int) -> bool:
    with app.app_context(), db.transaction() as sess:
        return (
            sess.scalar(
                select(AuditEvent.id).where(
                    AuditEvent.action == action, AuditEvent.object_id == str(ae_id)
                )
            )
            is not None
        )


def test_a_facility_administrator_keeps_their_facility_titles(app: Flask, world: World) -> None:
    admin = logged_in(app, Role.FACILITY_ADMIN, world.facility_a.code)
    token = _token(admin)
    title = _title()
    resp = admin.post(PAGE, data={"csrf_token": token, "ae_title": title, "kind": "modality"})
    assert resp.status_code == 302
    row = _row(app, title)
    assert row is not None and row.facility_id == world.facility_a.id
    assert row.kind is AeKind.MODALITY and row.disabled_at is None
    assert _audited(app, "imaging:ae:added", row.id)
    html = admin.get(PAGE).get_data(as_text=True)
    assert f'data-ae="{title}"' in html
    # The home page offers the work area.
    assert f'href="{PAGE}"' in admin.get("/home").get_data(as_text=True)

    # The same title again, or a title no modality could use: said on the page, nothing added.
    again = admin.post(PAGE, data={"csrf_token": token, "ae_title": title, "kind": "modality"})
    assert again.status_code == 409
    assert "in use already" in again.get_data(as_text=True)
    bad = admin.post(PAGE, data={"csrf_token": token, "ae_title": "A\\B", "kind": "modality"})
    assert bad.status_code == 422 and 'id="ae-error"' in bad.get_data(as_text=True)
    assert _row(app, "A\\B") is None
    kind = admin.post(PAGE, data={"csrf_token": token, "ae_title": _title(), "kind": "x"})
    assert kind.status_code == 422

    # Renamed and made a PACS proxy.
    renamed = _title()
    resp = admin.post(
        f"{PAGE}/{row.id}",
        data={"csrf_token": token, "ae_title": renamed, "kind": "pacs_proxy"},
    )
    assert resp.status_code == 302
    changed = _row(app, renamed)
    assert changed is not None and changed.id == row.id and changed.kind is AeKind.PACS_PROXY
    assert _audited(app, "imaging:ae:changed", row.id)

    # Disabled, then enabled again.
    assert admin.post(f"{PAGE}/{row.id}/disable", data={"csrf_token": token}).status_code == 302
    disabled = _row(app, renamed)
    assert disabled is not None and disabled.disabled_at is not None
    assert "disabled since" in admin.get(PAGE).get_data(as_text=True)
    assert admin.post(f"{PAGE}/{row.id}/enable", data={"csrf_token": token}).status_code == 302
    enabled = _row(app, renamed)
    assert enabled is not None and enabled.disabled_at is None
    assert _audited(app, "imaging:ae:disabled", row.id)
    assert _audited(app, "imaging:ae:enabled", row.id)


def test_another_facility_title_is_not_theirs(app: Flask, world: World) -> None:
    owner = logged_in(app, Role.FACILITY_ADMIN, world.facility_a.code)
    title = _title()
    owner.post(PAGE, data={"csrf_token": _token(owner), "ae_title": title, "kind": "modality"})
    row = _row(app, title)
    assert row is not None
    other = logged_in(app, Role.FACILITY_ADMIN, world.facility_b.code)
    token = _token(other)
    assert title not in other.get(PAGE).get_data(as_text=True)
    assert other.get(f"{PAGE}/{row.id}").status_code == 404
    assert other.post(f"{PAGE}/{row.id}/disable", data={"csrf_token": token}).status_code == 404
    resp = other.post(
        f"{PAGE}/{row.id}", data={"csrf_token": token, "ae_title": _title(), "kind": "modality"}
    )
    assert resp.status_code == 404
    # A facility id in the form does not move a title to another facility.
    taken = _title()
    other.post(
        PAGE,
        data={
            "csrf_token": token,
            "ae_title": taken,
            "kind": "modality",
            "facility_id": str(world.facility_a.id),
        },
    )
    added = _row(app, taken)
    assert added is not None and added.facility_id == world.facility_b.id
    unchanged = _row(app, title)
    assert unchanged is not None and unchanged.disabled_at is None


def test_a_national_administrator_keeps_every_facility_and_others_are_refused(
    app: Flask, world: World
) -> None:
    national = logged_in(app, Role.NATIONAL_ADMIN, world.facility_a.code)
    token = _token(national)
    title = _title()
    resp = national.post(
        PAGE,
        data={
            "csrf_token": token,
            "ae_title": title,
            "kind": "modality",
            "facility_id": str(world.facility_c.id),
        },
    )
    assert resp.status_code == 302
    row = _row(app, title)
    assert row is not None and row.facility_id == world.facility_c.id
    html = national.get(f"{PAGE}?facility={world.facility_c.code}").get_data(as_text=True)
    assert f'data-ae="{title}"' in html
    missing = national.post(
        PAGE,
        data={
            "csrf_token": token,
            "ae_title": _title(),
            "kind": "modality",
            "facility_id": "9999999",
        },
    )
    assert missing.status_code == 422
    for role in (Role.CHW, Role.COMMAND):
        page = logged_in(app, role, world.facility_a.code)
        assert page.get(PAGE).status_code == 403


def test_a_title_can_send_its_studies_for_reading_on_arrival(app: Flask, world: World) -> None:
    admin = logged_in(app, Role.FACILITY_ADMIN, world.facility_a.code)
    token = _token(admin)
    title = _title()
    form = {"csrf_token": token, "ae_title": title, "kind": "modality"}
    assert admin.post(PAGE, data={**form, "reading_urgency": "urgent"}).status_code == 302
    row = _row(app, title)
    assert row is not None and row.reading_urgency == "urgent"
    html = admin.get(PAGE).get_data(as_text=True)
    assert 'id="reading_urgency"' in html and "Yes, urgent" in html
    edit = admin.get(f"{PAGE}/{row.id}").get_data(as_text=True)
    assert '<option value="urgent" selected>' in edit
    # An urgency no one offered is refused on the page and changes nothing.
    bad = admin.post(f"{PAGE}/{row.id}", data={**form, "reading_urgency": "whenever"})
    assert bad.status_code == 422 and 'id="ae-error"' in bad.get_data(as_text=True)
    unchanged = _row(app, title)
    assert unchanged is not None and unchanged.reading_urgency == "urgent"
    # Turned off again: staff send its studies themselves.
    assert admin.post(f"{PAGE}/{row.id}", data={**form, "reading_urgency": ""}).status_code == 302
    off = _row(app, title)
    assert off is not None and off.reading_urgency is None
