"""The administration pages: accounts, personal tokens, OAuth2 clients, the audit log; the bad
paths refused with nothing written (another facility's account is not found, a bad role or
facility is said on the form, a form without its CSRF token is refused)."""

from __future__ import annotations

import re

from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models import AuditEvent, OAuthClient, PersonalToken, Role, User
from hub.models.auth import UserSession
from tests.support import factories as f
from tests.support.personas import World

FORM_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
SHOWN_TOKEN = re.compile(r'id="new-token" value="(hubpat_[^"]+)"')


def _login(app: Flask, user: User) -> FlaskClient:
    client = app.test_client()
    match = FORM_CSRF.search(client.get("/login").get_data(as_text=True))
    assert match
    resp = client.post(
        "/login",
        data={"csrf_token": match.group(1), "username": user.username, "password": f.PASSWORD},
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return client


def _csrf(client: FlaskClient, path: str) -> str:
    match = FORM_CSRF.search(client.get(path).get_data(as_text=True))
    assert match, f"no form token on {path}"
    return match.group(1)


def _count(session: Session, model: type, *where: object) -> int:
    session.close()
    n = session.scalar(select(func.count()).select_from(model).where(*where))  # type: ignore[arg-type]
    session.close()  # release SQLite's snapshot before the next request writes
    return int(n or 0)


def _token_of(session: Session, user: User) -> tuple[int, str]:
    """The id and name of the user's one token, read without keeping a transaction open."""
    session.close()
    row = session.execute(
        select(PersonalToken.id, PersonalToken.name).where(PersonalToken.user_id == user.id)
    ).one()
    session.close()  # SQLite: an open transaction of the test would hold the write lock
    return int(row[0]), str(row[1])


def _person(session: Session, role: Role, **scope: object) -> User:
    user = f.user(session, role, **scope)  # type: ignore[arg-type]
    session.commit()
    return user


def _new_user_form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "username": f.unique("nurse").lower(),
        "full_name": "Nasrin Karimi",
        "role": "nurse",
        "facility": "",
        "password": "",
    }
    data.update(overrides)
    return data


def _me(app: Flask, token: str) -> int:
    with app.test_client() as c:
        return c.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


# --- accounts -------------------------------------------------------------------------------


def test_facility_admin_lists_only_their_facility(
    app: Flask, session: Session, world: World
) -> None:
    admin = _person(session, Role.FACILITY_ADMIN, at=world.facility_a)
    mine = _person(session, Role.NURSE, at=world.facility_a)
    theirs = _person(session, Role.NURSE, at=world.facility_b)
    client = _login(app, admin)
    page = client.get("/admin/users").get_data(as_text=True)
    assert mine.username in page and theirs.username not in page
    found = client.get(f"/admin/users?q={mine.username}").get_data(as_text=True)
    assert f'data-username="{mine.username}"' in found
    assert 'data-username="' + admin.username + '"' not in found


def test_facility_admin_creates_a_nurse_at_their_facility(
    app: Flask, session: Session, world: World
) -> None:
    admin = _person(session, Role.FACILITY_ADMIN, at=world.facility_a)
    client = _login(app, admin)
    form = _new_user_form(facility=world.facility_a.code)
    resp = client.post(
        "/admin/users/new", data={**form, "csrf_token": _csrf(client, "/admin/users/new")}
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    assert resp.headers["Cache-Control"] == "no-store"
    body = resp.get_data(as_text=True)
    assert 'id="new-password"' in body  # made for them, shown once
    session.close()
    user = session.scalar(select(User).where(User.username == form["username"]))
    assert user is not None and user.facility_id == world.facility_a.id
    assert user.role_set == {Role.NURSE}
    event = session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "hub:user:created", AuditEvent.object_id == str(user.id)
        )
    )
    assert event is not None and event.actor_id == str(admin.id)


def test_bad_role_and_facility_are_said_on_the_form_and_nothing_is_written(
    app: Flask, session: Session, world: World
) -> None:
    admin = _person(session, Role.FACILITY_ADMIN, at=world.facility_a)
    client = _login(app, admin)
    token = _csrf(client, "/admin/users/new")
    cases = [
        ({"role": "national_admin", "facility": world.facility_a.code}, "role"),
        ({"role": "astronaut", "facility": world.facility_a.code}, "role"),
        ({"facility": world.facility_b.code}, "facility"),
        ({"facility": "NO-SUCH-FACILITY"}, "facility"),
        ({"username": "Bad Name!", "facility": world.facility_a.code}, "username"),
        ({"full_name": "", "facility": world.facility_a.code}, "full_name"),
        ({"password": "short", "facility": world.facility_a.code}, "password"),
        ({"specialties": "astrology", "facility": world.facility_a.code}, "specialties"),
    ]
    before = _count(session, User)
    for overrides, field in cases:
        resp = client.post(
            "/admin/users/new", data={**_new_user_form(**overrides), "csrf_token": token}
        )
        body = resp.get_data(as_text=True)
        assert resp.status_code == 422, (overrides, body[:300])
        assert f'id="{field}-error"' in body, overrides
        assert 'id="form-errors"' in body
    assert _count(session, User) == before


def test_national_admin_creates_region_and_insurer_accounts(
    app: Flask, session: Session, world: World
) -> None:
    national = _person(session, Role.NATIONAL_ADMIN)
    client = _login(app, national)
    token = _csrf(client, "/admin/users/new")
    command = _new_user_form(
        role="command", region=world.region_x.code, password="a-long-password-1"
    )
    assert client.post("/admin/users/new", data={**command, "csrf_token": token}).status_code == 200
    analyst = _new_user_form(role="insurer", insurer=world.insurer_a.code)
    assert client.post("/admin/users/new", data={**analyst, "csrf_token": token}).status_code == 200
    no_region = _new_user_form(role="qa_physician")
    resp = client.post("/admin/users/new", data={**no_region, "csrf_token": token})
    assert resp.status_code == 422 and 'id="region-error"' in resp.get_data(as_text=True)
    session.close()
    made = {
        u.username: u
        for u in session.scalars(
            select(User).where(
                User.username.in_([command["username"], analyst["username"], no_region["username"]])
            )
        )
    }
    assert set(made) == {command["username"], analyst["username"]}
    assert made[str(command["username"])].region_id == world.region_x.id
    assert made[str(analyst["username"])].insurer_id == world.insurer_a.id


def test_another_facilitys_account_is_not_found_on_every_page(
    app: Flask, session: Session, world: World
) -> None:
    admin = _person(session, Role.FACILITY_ADMIN, at=world.facility_a)
    other = _person(session, Role.NURSE, at=world.facility_b)
    token_of_other = f.personal_token(session, other)
    session.commit()
    token_id = session.scalar(select(PersonalToken.id).where(PersonalToken.user_id == other.id))
    session.close()  # SQLite: an open transaction of the test would hold the write lock
    assert token_id is not None
    client = _login(app, admin)
    csrf = _csrf(client, "/admin/users")
    assert client.get(f"/admin/users/{other.id}").status_code == 404
    for path in (
        f"/admin/users/{other.id}/disable",
        f"/admin/users/{other.id}/enable",
        f"/admin/users/{other.id}/tokens",
        f"/admin/tokens/{token_id}/revoke",
    ):
        assert client.post(path, data={"csrf_token": csrf, "ttl": "3600"}).status_code == 404, path
    session.close()
    assert session.get_one(User, other.id).is_active
    assert _count(session, PersonalToken, PersonalToken.user_id == other.id) == 1
    assert _me(app, token_of_other) == 200


def test_disabling_ends_sessions_tokens_and_logins(
    app: Flask, session: Session, world: World
) -> None:
    admin = _person(session, Role.FACILITY_ADMIN, at=world.facility_a)
    nurse = _person(session, Role.NURSE, at=world.facility_a)
    token = f.personal_token(session, nurse)
    session.commit()
    nurse_client = _login(app, nurse)
    assert nurse_client.get("/home").status_code == 200
    client = _login(app, admin)
    resp = client.post(
        f"/admin/users/{nurse.id}/disable",
        data={"csrf_token": _csrf(client, f"/admin/users/{nurse.id}")},
    )
    assert resp.status_code == 302
    page = client.get(f"/admin/users/{nurse.id}").get_data(as_text=True)
    assert 'id="enable-form"' in page
    assert _me(app, token) == 401
    assert nurse_client.get("/home").status_code in (302, 401)
    assert (
        _count(
            session, UserSession, UserSession.user_id == nurse.id, UserSession.revoked_at.is_(None)
        )
        == 0
    )
    with app.test_client() as fresh:
        csrf = _csrf(fresh, "/login")
        refused = fresh.post(
            "/login",
            data={"csrf_token": csrf, "username": nurse.username, "password": f.PASSWORD},
        )
        assert refused.status_code != 302
    resp = client.post(
        f"/admin/users/{nurse.id}/enable",
        data={"csrf_token": _csrf(client, f"/admin/users/{nurse.id}")},
    )
    assert resp.status_code == 302
    assert _me(app, token) == 401  # old tokens stay ended
    _login(app, nurse)


def test_an_admin_cannot_disable_themselves(app: Flask, session: Session, world: World) -> None:
    admin = _person(session, Role.FACILITY_ADMIN, at=world.facility_a)
    client = _login(app, admin)
    page = client.get(f"/admin/users/{admin.id}").get_data(as_text=True)
    assert 'id="disable-form"' not in page
    resp = client.post(
        f"/admin/users/{admin.id}/disable",
        data={"csrf_token": _csrf(client, f"/admin/users/{admin.id}")},
    )
    assert resp.status_code == 302
    session.close()
    assert session.get_one(User, admin.id).is_active


def test_forms_without_their_csrf_token_are_refused(
    app: Flask, session: Session, world: World
) -> None:
    admin = _person(session, Role.FACILITY_ADMIN, at=world.facility_a)
    nurse = _person(session, Role.NURSE, at=world.facility_a)
    client = _login(app, admin)
    before_users, before_tokens = _count(session, User), _count(session, PersonalToken)
    form = _new_user_form(facility=world.facility_a.code)
    assert client.post("/admin/users/new", data=form).status_code == 400
    assert client.post(f"/admin/users/{nurse.id}/disable").status_code == 400
    assert client.post("/admin/tokens", data={"ttl": "3600"}).status_code == 400
    assert client.post(f"/admin/users/{nurse.id}/tokens", data={"ttl": "3600"}).status_code == 400
    assert _count(session, User) == before_users
    assert _count(session, PersonalToken) == before_tokens
    session.close()
    assert session.get_one(User, nurse.id).is_active


def test_clinicians_cannot_reach_account_administration(
    app: Flask, session: Session, world: World
) -> None:
    chw = _person(session, Role.CHW, at=world.facility_a)
    client = _login(app, chw)
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/users/new").status_code == 403
    assert client.get("/admin/oauth-clients").status_code == 403
    assert client.get("/admin/audit").status_code == 403
    index = client.get("/admin").get_data(as_text=True)
    assert "/admin/tokens" in index and "/admin/users" not in index


# --- personal tokens ------------------------------------------------------------------------


def test_own_token_is_shown_once_works_and_is_revoked(
    app: Flask, session: Session, world: World
) -> None:
    gp = _person(session, Role.GP, at=world.facility_a)
    client = _login(app, gp)
    resp = client.post(
        "/admin/tokens",
        data={"csrf_token": _csrf(client, "/admin/tokens"), "name": "script", "ttl": "86400"},
    )
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    match = SHOWN_TOKEN.search(resp.get_data(as_text=True))
    assert match
    token = match.group(1)
    assert _me(app, token) == 200
    listing = client.get("/admin/tokens").get_data(as_text=True)
    assert token not in listing and 'data-state="active"' in listing
    token_id, name = _token_of(session, gp)
    assert name == "script"
    resp = client.post(
        f"/admin/tokens/{token_id}/revoke", data={"csrf_token": _csrf(client, "/admin/tokens")}
    )
    assert resp.status_code == 302
    assert _me(app, token) == 401
    assert 'data-state="revoked"' in client.get("/admin/tokens").get_data(as_text=True)


def test_a_token_lifetime_not_offered_is_refused(
    app: Flask, session: Session, world: World
) -> None:
    gp = _person(session, Role.GP, at=world.facility_a)
    client = _login(app, gp)
    csrf = _csrf(client, "/admin/tokens")
    for ttl in ("", "5", "999999999999", "-1", "abc"):
        resp = client.post("/admin/tokens", data={"csrf_token": csrf, "ttl": ttl})
        assert resp.status_code == 422, ttl
    assert _count(session, PersonalToken, PersonalToken.user_id == gp.id) == 0


def test_someone_elses_token_is_not_found_for_a_clinician(
    app: Flask, session: Session, world: World
) -> None:
    gp = _person(session, Role.GP, at=world.facility_a)
    other = _person(session, Role.GP, at=world.facility_a)
    token = f.personal_token(session, other)
    session.commit()
    token_id, _name = _token_of(session, other)
    client = _login(app, gp)
    resp = client.post(
        f"/admin/tokens/{token_id}/revoke", data={"csrf_token": _csrf(client, "/admin/tokens")}
    )
    assert resp.status_code in (403, 404)
    assert _me(app, token) == 200


def test_admin_creates_and_revokes_a_token_of_their_staff(
    app: Flask, session: Session, world: World
) -> None:
    admin = _person(session, Role.FACILITY_ADMIN, at=world.facility_a)
    nurse = _person(session, Role.NURSE, at=world.facility_a)
    client = _login(app, admin)
    page = f"/admin/users/{nurse.id}"
    resp = client.post(
        f"{page}/tokens", data={"csrf_token": _csrf(client, page), "name": "x", "ttl": "3600"}
    )
    match = SHOWN_TOKEN.search(resp.get_data(as_text=True))
    assert resp.status_code == 200 and match
    assert _me(app, match.group(1)) == 200
    token_id, _name = _token_of(session, nurse)
    resp = client.post(
        f"/admin/tokens/{token_id}/revoke",
        data={"csrf_token": _csrf(client, page), "next": page},
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith(page)
    assert _me(app, match.group(1)) == 401


# --- OAuth2 clients -------------------------------------------------------------------------


def test_national_admin_creates_and_revokes_an_insurer_client(
    app: Flask, session: Session, world: World
) -> None:
    national = _person(session, Role.NATIONAL_ADMIN)
    client = _login(app, national)
    csrf = _csrf(client, "/admin/oauth-clients")
    resp = client.post(
        "/admin/oauth-clients",
        data={
            "csrf_token": csrf,
            "name": "Claims system",
            "kind": "insurer",
            "insurer": world.insurer_a.code,
        },
    )
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    client_id = re.search(r'id="new-client-id" value="([^"]+)"', body)
    secret = re.search(r'id="new-client-secret" value="([^"]+)"', body)
    assert client_id and secret
    session.close()
    row = session.execute(
        select(OAuthClient.id, OAuthClient.insurer_id).where(
            OAuthClient.client_id == client_id.group(1)
        )
    ).one()
    session.close()
    assert row.insurer_id == world.insurer_a.id
    with app.test_client() as machine:
        issued = machine.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id.group(1), secret.group(1)),
        )
        assert issued.status_code == 200
        access = issued.get_json()["access_token"]
    assert _me(app, access) == 200
    resp = client.post(f"/admin/oauth-clients/{row.id}/revoke", data={"csrf_token": csrf})
    assert resp.status_code == 302
    assert _me(app, access) == 401
    listing = client.get("/admin/oauth-clients").get_data(as_text=True)
    assert f'data-client-id="{client_id.group(1)}" data-state="revoked"' in listing
    assert secret.group(1) not in listing


def test_a_bad_client_form_is_said_and_nothing_is_written(
    app: Flask, session: Session, world: World
) -> None:
    national = _person(session, Role.NATIONAL_ADMIN)
    client = _login(app, national)
    csrf = _csrf(client, "/admin/oauth-clients")
    before = _count(session, OAuthClient)
    cases = [
        ({"name": "", "kind": "insurer", "insurer": world.insurer_a.code}, "name"),
        ({"name": "x", "kind": "insurer", "insurer": "NOPE"}, "insurer"),
        ({"name": "x", "kind": "robot"}, "kind"),
        ({"name": "x", "kind": "app", "redirect_uris": "ftp://x"}, "redirect_uris"),
        (
            {"name": "x", "kind": "facility", "facility": world.facility_a.code, "scope": "root"},
            "scope",
        ),
    ]
    for data, field in cases:
        resp = client.post("/admin/oauth-clients", data={**data, "csrf_token": csrf})
        assert resp.status_code == 422, data
        assert f'id="{field}-error"' in resp.get_data(as_text=True), data
    assert _count(session, OAuthClient) == before


def test_facility_admin_cannot_manage_oauth_clients(
    app: Flask, session: Session, world: World
) -> None:
    admin = _person(session, Role.FACILITY_ADMIN, at=world.facility_a)
    client = _login(app, admin)
    assert client.get("/admin/oauth-clients").status_code == 403
    csrf = _csrf(client, "/admin/users")
    data = {"csrf_token": csrf, "name": "x", "kind": "insurer", "insurer": world.insurer_a.code}
    assert client.post("/admin/oauth-clients", data=data).status_code == 403


# --- index, home and audit ------------------------------------------------------------------


def test_index_and_home_link_the_admin_pages(app: Flask, session: Session, world: World) -> None:
    admin = _person(session, Role.FACILITY_ADMIN, at=world.facility_a)
    client = _login(app, admin)
    index = client.get("/admin").get_data(as_text=True)
    assert "/admin/users" in index and "/admin/tokens" in index
    assert "/admin/oauth-clients" not in index and "/admin/audit" not in index
    assert 'href="/admin/users"' in client.get("/home").get_data(as_text=True)
    national = _login(app, _person(session, Role.NATIONAL_ADMIN))
    index = national.get("/admin").get_data(as_text=True)
    assert "/admin/oauth-clients" in index and "/admin/audit" in index
    # Other packages' admin pages are linked when the app has them.
    for endpoint in ("imaging_admin.ae_titles_page", "sla_pages.targets"):
        if endpoint in app.view_functions:
            with app.test_request_context():
                assert f'href="{url_for(endpoint)}"' in index, endpoint


def test_audit_log_is_filtered_paged_and_verified(
    app: Flask, session: Session, world: World
) -> None:
    qa = _person(session, Role.QA_PHYSICIAN, region_of=world.region_x)
    client = _login(app, qa)
    page = client.get("/admin/audit?action=hub:login:")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    actions = re.findall(r"<code>([a-z_]+:[a-z_]+:[a-z_]+)</code>", body)
    assert actions and all(a.startswith("hub:login:") for a in actions)
    seqs = [int(s) for s in re.findall(r'data-seq="(\d+)"', body)]
    assert seqs == sorted(seqs, reverse=True)
    if 'rel="next"' in body:
        older = re.search(r'href="([^"]*before=(\d+)[^"]*)" rel="next"', body)
        assert older
        nxt = client.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
        assert all(int(s) < int(older.group(2)) for s in re.findall(r'data-seq="(\d+)"', nxt))
    verified = client.get("/admin/audit?verify=1").get_data(as_text=True)
    assert 'id="chain-state" data-ok="true"' in verified
    assert client.get("/admin/audit?since=yesterday").status_code == 422
    assert client.get("/admin/audit?outcome=maybe").status_code == 422
    session.close()
    viewed = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "hub:audit:viewed", AuditEvent.actor_id == str(qa.id))
    )
    assert viewed and viewed >= 2
