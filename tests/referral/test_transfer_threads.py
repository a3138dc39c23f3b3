"""The transfer thread with the region's assisting physician, and who designates them.

Good paths: command staff designate a specialist of the region; the transfer takes the consult's
specialty; the assisting physician reads the transfer, hears of it, and answers in its thread;
every message is on the transfer page's timeline and in the audit log. Bad paths: another
region's officer 404, a national administrator (oversight) posting 403, a closed transfer 409,
an ineligible designee 422, an empty message 422, a health worker designating 403."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models import AuditEvent, Role, User
from referral.command.models import AssistingPhysician, TransferMessage
from tests.consult.support import Site, bearer, specialist, submit
from tests.hub.test_auth import log_in
from tests.support import factories as f


class Thread:
    def __init__(self, app: Flask, client: FlaskClient, session: Session) -> None:
        self.site = Site(app, session)
        self.helper_user = specialist(session, self.site.l3)  # pulmonology, in the region
        self.helper = bearer(session, self.helper_user)
        self.officer_user = f.user(session, Role.COMMAND, region_of=self.site.region)
        self.officer = bearer(session, self.officer_user)
        self.elsewhere = bearer(session, f.user(session, Role.COMMAND, region_of=f.region(session)))
        self.national = bearer(session, f.user(session, Role.NATIONAL_ADMIN))
        self.outsider = specialist(
            session, f.facility(session, f.university(session, f.region(session)))
        )
        session.commit()
        self.client = client
        self.consult = submit(client, self.site.chw_headers, self.site.patient.id)["id"]

    def designate(self, headers: dict[str, str], username: str | None, **kw: Any) -> Any:
        region = kw.get("region", self.site.region.code)
        specialty = kw.get("specialty", "pulmonology")
        return self.client.put(
            f"/api/v1/regions/{region}/assisting-physicians/{specialty}",
            json={"username": username},
            headers=headers,
        )

    def request(self) -> int:
        resp = self.client.post(
            "/api/v1/transfers",
            json={
                "patient_id": self.site.patient.id,
                "consult_id": self.consult,
                "reason": "Respiratory failure; needs an ICU bed.",
                "severity": 4,
            },
            headers=self.site.chw_headers,
        )
        assert resp.status_code == 201, resp.get_json()
        assert resp.get_json()["specialty"] == "pulmonology"  # the consult's
        return int(resp.get_json()["id"])

    def say(self, tid: int, headers: dict[str, str], text: str) -> Any:
        return self.client.post(
            f"/api/v1/transfers/{tid}/messages", json={"text": text}, headers=headers
        )


def test_the_assisting_physician_is_consulted_in_the_thread(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    t = Thread(app, client, session)
    resp = t.designate(t.officer, t.helper_user.username)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["user_id"] == t.helper_user.id
    listed = client.get(
        f"/api/v1/regions/{t.site.region.code}/assisting-physicians", headers=t.officer
    ).get_json()
    by_code = {i["specialty"]: i for i in listed["items"]}
    assert by_code["pulmonology"]["username"] == t.helper_user.username
    assert by_code["cardiology"]["user_id"] is None

    tid = t.request()
    # The assisting physician may read the transfer (not move it) and sees it listed.
    assert client.get(f"/api/v1/transfers/{tid}", headers=t.helper).status_code == 200
    assert [
        x["id"] for x in client.get("/api/v1/transfers", headers=t.helper).get_json()["items"]
    ] == [tid]
    assert (
        client.post(
            f"/api/v1/transfers/{tid}/transition", json={"to": "on_hold"}, headers=t.helper
        ).status_code
        == 403
    )

    first = t.say(tid, t.officer, "Is an ICU bed at the level-3 hospital the right call?")
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["author_id"] == t.officer_user.id
    second = t.say(tid, t.helper, "Yes: non-invasive ventilation first, then transfer.")
    assert second.status_code == 201
    page = client.get(f"/api/v1/transfers/{tid}/messages", headers=t.site.chw_headers).get_json()
    assert [m["text"] for m in page["items"]] == [
        "Is an ICU bed at the level-3 hospital the right call?",
        "Yes: non-invasive ventilation first, then transfer.",
    ]
    assert page["items"][1]["author"] == t.helper_user.full_name
    # Paginated like every list.
    one = client.get(f"/api/v1/transfers/{tid}/messages?limit=1", headers=t.officer).get_json()
    assert len(one["items"]) == 1 and one["next_cursor"]
    rest = client.get(
        f"/api/v1/transfers/{tid}/messages?limit=1&cursor={one['next_cursor']}", headers=t.officer
    ).get_json()
    assert [m["id"] for m in rest["items"]] == [second.get_json()["id"]]

    actions = set(
        session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.object_type.in_(("transfer", "region")),
            )
        )
    )
    assert {"command:transfer:message_posted", "command:assisting:designated"} <= actions

    # The transfer page shows the thread and puts the messages on its timeline.
    session.commit()  # end the test's read transaction before the app writes (SQLite)
    log_in(client, t.helper_user)
    html = client.get(f"/transfers/{tid}").get_data(as_text=True)
    assert 'id="thread-form"' in html
    assert html.count("non-invasive ventilation first") == 2  # the thread and the timeline
    assert t.helper_user.full_name in html


def test_the_home_panel_lists_the_transfers_the_physician_assists(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    t = Thread(app, client, session)
    assert t.designate(t.officer, t.helper_user.username).status_code == 200
    tid = t.request()
    session.commit()  # end the test's read transaction before the app writes (SQLite)
    log_in(client, t.helper_user)
    html = client.get("/home").get_data(as_text=True)
    assert f'href="/transfers/{tid}"' in html


def test_thread_permissions(app: Flask, client: FlaskClient, session: Session) -> None:
    t = Thread(app, client, session)
    tid = t.request()
    # Another region's officer: the transfer does not exist for them.
    assert client.get(f"/api/v1/transfers/{tid}/messages", headers=t.elsewhere).status_code == 404
    assert t.say(tid, t.elsewhere, "hello").status_code == 404
    # Not yet designated: the specialist is no participant and cannot see it.
    assert t.say(tid, t.helper, "hello").status_code == 404
    # A national administrator reads (oversight) but is no participant of the thread.
    assert client.get(f"/api/v1/transfers/{tid}/messages", headers=t.national).status_code == 200
    refused = t.say(tid, t.national, "hello")
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"]
    # Bad bodies: empty, too long, unknown field.
    assert t.say(tid, t.officer, "").status_code == 422
    assert t.say(tid, t.officer, "x" * 4001).status_code == 422
    assert (
        client.post(
            f"/api/v1/transfers/{tid}/messages", json={"text": "hi", "x": 1}, headers=t.officer
        ).status_code
        == 422
    )
    assert client.get("/api/v1/transfers/999999/messages", headers=t.officer).status_code == 404
    # A closed transfer's thread is read-only.
    assert (
        client.post(
            f"/api/v1/transfers/{tid}/transition",
            json={"to": "cancelled", "note": "improved"},
            headers=t.site.chw_headers,
        ).status_code
        == 200
    )
    assert t.say(tid, t.site.chw_headers, "too late").status_code == 409
    texts = session.scalars(
        select(TransferMessage.text).where(TransferMessage.transfer_id == tid)
    ).all()
    assert "too late" not in texts


@pytest.mark.parametrize(
    ("who", "region", "username", "status"),
    [
        ("elsewhere", None, "helper", 404),  # another region's officer
        ("officer", "NOPE", "helper", 404),  # no such region
        ("officer", None, "outsider", 422),  # a specialist of another region
        ("officer", None, "nobody", 422),  # no such user
        ("officer", None, "chw", 422),  # not a specialist
        ("chw", None, "helper", 403),  # not command staff
    ],
)
def test_designation_bad_paths(
    app: Flask,
    client: FlaskClient,
    session: Session,
    who: str,
    region: str | None,
    username: str,
    status: int,
) -> None:
    t = Thread(app, client, session)
    headers = {"elsewhere": t.elsewhere, "officer": t.officer, "chw": t.site.chw_headers}[who]
    names = {
        "helper": t.helper_user.username,
        "outsider": t.outsider.username,
        "nobody": "no-such-user",
        "chw": t.site.chw.username,
    }
    resp = t.designate(headers, names[username], region=region or t.site.region.code)
    assert resp.status_code == status, resp.get_json()
    assert (
        session.scalar(
            select(func.count())
            .select_from(AssistingPhysician)
            .where(AssistingPhysician.region_id == t.site.region.id)
        )
        == 0
    )
    session.commit()
    assert t.designate(t.officer, t.helper_user.username, specialty="nope").status_code == 404


def test_a_national_admin_designates_and_removes(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    t = Thread(app, client, session)
    assert t.designate(t.national, t.helper_user.username).status_code == 200
    removed = t.designate(t.national, None)
    assert removed.status_code == 200
    assert removed.get_json()["user_id"] is None
    assert (
        session.scalar(
            select(func.count())
            .select_from(AssistingPhysician)
            .where(AssistingPhysician.region_id == t.site.region.id)
        )
        == 0
    )
    # The page lists the region's specialists of each specialty to choose from.
    admin = session.scalar(select(User).where(User.id == t.officer_user.id))
    assert admin is not None
    session.commit()
    log_in(client, admin)
    html = client.get("/command/assisting-physicians").get_data(as_text=True)
    assert f'value="{t.helper_user.username}"' in html
    assert client.get("/command/assisting-physicians?region=NOPE").status_code == 404
