"""Administration pages: staff accounts, personal API tokens, OAuth2 clients and the audit log.

Facility administrators manage the accounts of their own facility, national administrators
every account and the OAuth2 clients. Forms post back to these views, which call the same
audited services as the ``hub user``, ``hub token`` and ``hub oauth-client`` commands; a
refused field is said on the form in the reader's language, with nothing written. A token or
secret is shown once, on the answer to the form that made it, and never stored in clear.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import db
from hub.auth.oauth import create_client, list_clients, revoke_client
from hub.auth.principal import Principal, user_principal
from hub.config import Settings
from hub.errors import AccessDenied, Conflict, HubError, NotFound
from hub.http import local_path
from hub.models import (
    Facility,
    Insurer,
    MacroRegion,
    OAuthClient,
    PersonalToken,
    Role,
    Specialty,
    User,
    utcnow,
)
from hub.permissions import REGION_ROLES, SCOPES, has_scope
from hub.services import tokens as token_svc
from hub.services import users as user_svc
from hub.web import ROLE_LABELS

bp = Blueprint("admin_pages", __name__, url_prefix="/admin")

PAGE_SIZE = 50
# Lifetimes offered for a new personal token, in seconds (those above the hub's maximum are
# left out of the list).
TOKEN_LIFETIMES = (
    (3600, _l("1 hour")),
    (86400, _l("1 day")),
    (7 * 86400, _l("7 days")),
    (30 * 86400, _l("30 days")),
    (90 * 86400, _l("90 days")),
    (365 * 86400, _l("365 days")),
)
USER_ERRORS = {
    "username": _l(
        "Usernames are 2 to 63 lower-case letters, digits, '.', '_' or '-', starting with a "
        "letter or digit."
    ),
    "duplicate": _l("This username is already taken."),
    "full_name": _l("Enter the person's full name (up to 200 characters)."),
    "role": _l("Choose one of the roles you may give."),
    "facility": _l("Choose the facility this person works at."),
    "own_facility": _l("You can add staff only to your own facility."),
    "region": _l("Choose the region this person works in."),
    "insurer": _l("Choose the insurer this person works for."),
    "specialties": _l("Choose specialties from the list."),
    "password": _l("A password needs at least %(n)s characters.", n=user_svc.MIN_PASSWORD_LENGTH),
    "licence_number": _l("The licence number is too long (up to 64 characters)."),
}
TOKEN_STATES = {
    "active": _l("Active"),
    "expired": _l("Expired"),
    "revoked": _l("Revoked"),
}
CLIENT_KINDS = {
    "insurer": _l("Insurer system (client credentials)"),
    "facility": _l("Facility system, e.g. a PACS proxy (client credentials)"),
    "app": _l("Application acting for a person (authorization code with PKCE)"),
}
# The OAuth2 scopes in the reader's language (hub.permissions keeps the English for the API).
SCOPE_LABELS = {
    "profile": _l("Read your own identity"),
    "patients:read": _l("Read patients within your scope"),
    "patients:write": _l("Register and update patients, record consent"),
    "consults:read": _l("Read consultations within your scope"),
    "consults:write": _l("Request, claim and answer consultations"),
    "imaging:read": _l("Read studies and images within your scope"),
    "imaging:write": _l("Send and manage studies"),
    "claims:read": _l("Pull billing records of your own members"),
    "claims:reconcile": _l("Accept or reject billing records"),
    "audit:read": _l("Read the audit log"),
    "admin": _l("Administer facilities, users and clients"),
}
# Other packages' administration pages, listed on the index when they are installed: the
# blueprints that may own them and a word of their address (their endpoint names are theirs).
OTHER_AREAS = (
    (
        ("imaging_admin",),
        "ae-titles",
        _l("DICOM AE titles"),
        _l("The modalities and archives that send studies to the hub."),
    ),
    (
        ("reading_contacts",),
        "contacts",
        _l("Contact list for critical results"),
        _l("Who is e-mailed when a radiologist raises a critical result for your studies."),
    ),
    (
        ("insurance_pages",),
        "tariffs",
        _l("Tariffs"),
        _l("Upload a tariff table and see its line-by-line errors."),
    ),
    (
        ("sla_pages", "consult_pages"),
        "sla",
        _l("SLA targets"),
        _l("How quickly each tier must answer a consultation."),
    ),
    (
        ("roster_pages", "consult_pages"),
        "rosters",
        _l("On-call roster"),
        _l("Who is on call in each specialty, week by week."),
    ),
)


# --- helpers --------------------------------------------------------------------------------


def _principal() -> Principal:
    return user_principal(current_user.user, "session")


def _settings() -> Settings:
    settings: Settings = current_app.config["HUB_SETTINGS"]
    return settings


def _is_admin(principal: Principal) -> bool:
    return bool(principal.roles & user_svc.ADMIN_ROLES) and has_scope(principal, "admin")


def _is_national(principal: Principal) -> bool:
    return principal.has_role(Role.NATIONAL_ADMIN) and has_scope(principal, "admin")


def _may_read_audit(principal: Principal) -> bool:
    return bool(principal.roles & {Role.NATIONAL_ADMIN, Role.QA_PHYSICIAN}) and has_scope(
        principal, "audit:read"
    )


def _render(template: str, status: int = 200, **context: Any) -> Response:
    """Render with the shared labels, then commit: the services' audit rows go with the page."""
    html = render_template(
        template,
        role_labels=ROLE_LABELS,
        token_states=TOKEN_STATES,
        now=utcnow(),
        **context,
    )
    db.session().commit()
    return make_response((html, status))


def _secret_page(resp: Response) -> Response:
    """A page showing a token, password or secret once: never kept by a cache or the history."""
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _lifetimes() -> list[tuple[int, str]]:
    longest = min(_settings().token_max_ttl_days * 86400, token_svc.HARD_MAX_TTL_SECONDS)
    return [(seconds, str(label)) for seconds, label in TOKEN_LIFETIMES if seconds <= longest]


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return max(1, min(int(raw), 10_000)) if raw.isdigit() else 1


# --- index ----------------------------------------------------------------------------------


def _other_areas() -> list[dict[str, str]]:
    """Other packages' administration pages that exist in this app: a GET page without
    arguments, in the named blueprint, whose address holds the area's word."""
    found: list[dict[str, str]] = []
    for blueprints, word, title, text in OTHER_AREAS:
        for rule in current_app.url_map.iter_rules():
            if (
                rule.endpoint.split(".", 1)[0] in blueprints
                and word in rule.rule
                and not rule.arguments
                and "GET" in (rule.methods or ())
            ):
                found.append(
                    {"url": url_for(rule.endpoint), "title": str(title), "text": str(text)}
                )
                break
    return found


@bp.get("")
@login_required
def index() -> ResponseReturnValue:
    principal = _principal()
    return _render(
        "admin/index.html",
        is_admin=_is_admin(principal),
        is_national=_is_national(principal),
        audit_url=url_for("audit_pages.events")
        if _may_read_audit(principal) and "audit_pages.events" in current_app.view_functions
        else None,
        other_areas=_other_areas() if _is_admin(principal) else [],
    )


# --- users ----------------------------------------------------------------------------------


def _facilities(session: Session, principal: Principal) -> list[Facility]:
    if user_svc.is_national_admin(principal):
        return list(session.scalars(select(Facility).order_by(Facility.name)))
    if principal.facility_id is not None:
        return [session.get_one(Facility, principal.facility_id)]
    return []


@bp.get("/users")
@login_required
def users() -> ResponseReturnValue:
    principal = _principal()
    user_svc.require_admin(principal, "hub:user:listed")
    session = db.session()
    query = (request.args.get("q") or "").strip()[:100]
    state = request.args.get("state", "")
    facility_code = request.args.get("facility", "")
    facilities = _facilities(session, principal)
    facility = next((f for f in facilities if f.code == facility_code), None)
    page = _page_number()
    found = user_svc.list_users(
        session,
        principal,
        query=query or None,
        facility_id=facility.id if facility else None,
        active={"active": True, "disabled": False}.get(state),
        limit=PAGE_SIZE + 1,
        offset=(page - 1) * PAGE_SIZE,
    )
    return _render(
        "admin/users.html",
        users=found[:PAGE_SIZE],
        query=query,
        state=state,
        facility_code=facility.code if facility else "",
        facilities=facilities if len(facilities) > 1 else [],
        page=page,
        more=len(found) > PAGE_SIZE,
        may_create=bool(user_svc.assignable_roles(principal)),
    )


def _user_form() -> dict[str, Any]:
    names = ("username", "full_name", "role", "facility", "region", "insurer", "licence_number")
    values: dict[str, Any] = {name: request.form.get(name, "").strip() for name in names}
    values["username"] = values["username"].lower()
    values["specialties"] = [s.strip() for s in request.form.getlist("specialties") if s.strip()]
    values["password"] = request.form.get("password", "")
    return values


def _known(session: Session, column: Any, value: str) -> bool:
    return bool(value) and session.scalar(select(column).where(column == value)) is not None


def _user_errors(session: Session, principal: Principal, values: dict[str, Any]) -> dict[str, str]:
    """Every refused field of the new-user form, said in the reader's language."""
    errors: dict[str, str] = {}
    if not user_svc.USERNAME_PATTERN.match(values["username"]):
        errors["username"] = str(USER_ERRORS["username"])
    elif session.scalar(select(User.id).where(User.username == values["username"])) is not None:
        errors["username"] = str(USER_ERRORS["duplicate"])
    if not values["full_name"] or len(values["full_name"]) > 200:
        errors["full_name"] = str(USER_ERRORS["full_name"])
    if len(values["licence_number"]) > 64:
        errors["licence_number"] = str(USER_ERRORS["licence_number"])
    if values["password"] and len(values["password"]) < user_svc.MIN_PASSWORD_LENGTH:
        errors["password"] = str(USER_ERRORS["password"])
    roles = {r.value: r for r in user_svc.assignable_roles(principal)}
    role = roles.get(values["role"])
    if role is None:
        errors["role"] = str(USER_ERRORS["role"])
    elif role in user_svc.FACILITY_ROLES:
        facility = session.scalar(select(Facility).where(Facility.code == values["facility"]))
        if facility is None:
            errors["facility"] = str(USER_ERRORS["facility"])
        elif not user_svc.is_national_admin(principal) and facility.id != principal.facility_id:
            errors["facility"] = str(USER_ERRORS["own_facility"])
    elif role in REGION_ROLES and not _known(session, MacroRegion.code, values["region"]):
        errors["region"] = str(USER_ERRORS["region"])
    elif role is Role.INSURER and not _known(session, Insurer.code, values["insurer"]):
        errors["insurer"] = str(USER_ERRORS["insurer"])
    if values["specialties"]:
        known = set(
            session.scalars(select(Specialty.code).where(Specialty.code.in_(values["specialties"])))
        )
        if known != set(values["specialties"]):
            errors["specialties"] = str(USER_ERRORS["specialties"])
    return errors


def _user_form_context(session: Session, principal: Principal) -> dict[str, Any]:
    national = user_svc.is_national_admin(principal)
    return {
        "roles": user_svc.assignable_roles(principal),
        "facility_roles": sorted(r.value for r in user_svc.FACILITY_ROLES),
        "region_roles": sorted(r.value for r in REGION_ROLES),
        "facilities": _facilities(session, principal),
        "regions": list(session.scalars(select(MacroRegion).order_by(MacroRegion.name)))
        if national
        else [],
        "insurers": list(session.scalars(select(Insurer).order_by(Insurer.name)))
        if national
        else [],
        "specialties": list(session.scalars(select(Specialty).order_by(Specialty.name))),
        "min_password": user_svc.MIN_PASSWORD_LENGTH,
    }


@bp.route("/users/new", methods=["GET", "POST"])
@login_required
def new_user() -> ResponseReturnValue:
    principal = _principal()
    user_svc.require_admin(principal, "hub:user:created")
    session = db.session()
    if not user_svc.assignable_roles(principal):
        raise AccessDenied("Your account is not bound to a facility.", action="hub:user:created")
    facilities = _facilities(session, principal)
    values: dict[str, Any] = {"facility": facilities[0].code if len(facilities) == 1 else ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = _user_form()
        errors = _user_errors(session, principal, values)
        if not errors:
            password = values["password"] or user_svc.generate_password()
            role = Role(values["role"])
            try:
                user = user_svc.create_user(
                    session,
                    values["username"],
                    full_name=values["full_name"],
                    role=role,
                    facility_code=values["facility"] if role in user_svc.FACILITY_ROLES else None,
                    region_code=values["region"] if role in REGION_ROLES else None,
                    insurer_code=values["insurer"] if role is Role.INSURER else None,
                    specialty_codes=tuple(values["specialties"]),
                    password=password,
                    licence_number=values["licence_number"] or None,
                    actor=principal,
                )
            except HubError:
                # A race with another administrator, or a value the checks above let through.
                session.rollback()
                errors = {"form": _("The account was not created: check the form and try again.")}
            else:
                session.commit()
                return _secret_page(
                    _user_page(
                        session,
                        principal,
                        user,
                        new_password=None if values["password"] else password,
                        created=True,
                    )
                )
    return _render(
        "admin/user_form.html",
        status=422 if errors else 200,
        values=values,
        errors=errors,
        **_user_form_context(session, principal),
    )


def _user_page(
    session: Session,
    principal: Principal,
    user: User,
    *,
    new_token: str | None = None,
    new_password: str | None = None,
    created: bool = False,
) -> Response:
    rows = token_svc.tokens_of_user(session, user.id)
    return _render(
        "admin/user.html",
        person=user,
        tokens=rows,
        states={row.id: token_svc.token_state(row) for row in rows},
        lifetimes=_lifetimes(),
        default_ttl=_settings().token_default_ttl,
        new_token=new_token,
        new_password=new_password,
        created=created,
        is_self=user.id == principal.user_id,
    )


@bp.get("/users/<int:user_id>")
@login_required
def user_page(user_id: int) -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    user = user_svc.get_managed_user(session, principal, user_id)
    return _user_page(session, principal, user)


def _switch(user_id: int, *, active: bool) -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    try:
        user = user_svc.set_user_active(session, principal, user_id, active=active)
    except Conflict:
        session.rollback()
        flash(_("You cannot disable or enable your own account."))
        return redirect(url_for("admin_pages.user_page", user_id=user_id))
    session.commit()
    if active:
        flash(_("%(name)s can log in again.", name=user.username))
    else:
        flash(_("%(name)s is disabled: their sessions and tokens have ended.", name=user.username))
    return redirect(url_for("admin_pages.user_page", user_id=user_id))


@bp.post("/users/<int:user_id>/disable")
@login_required
def disable(user_id: int) -> ResponseReturnValue:
    return _switch(user_id, active=False)


@bp.post("/users/<int:user_id>/enable")
@login_required
def enable(user_id: int) -> ResponseReturnValue:
    return _switch(user_id, active=True)


# --- personal tokens ------------------------------------------------------------------------


def _token_form() -> tuple[str, int | None]:
    name = (request.form.get("name") or "").strip()[:120] or "web"
    raw = request.form.get("ttl", "")
    allowed = {seconds for seconds, _label in _lifetimes()}
    ttl = int(raw) if raw.isdigit() and int(raw) in allowed else None
    return name, ttl


def _own_tokens_page(
    session: Session,
    principal: Principal,
    *,
    new_token: str | None = None,
    error: str | None = None,
) -> Response:
    rows = token_svc.tokens_of_user(session, current_user.user.id)
    return _render(
        "admin/tokens.html",
        status=422 if error else 200,
        tokens=rows,
        states={row.id: token_svc.token_state(row) for row in rows},
        lifetimes=_lifetimes(),
        default_ttl=_settings().token_default_ttl,
        new_token=new_token,
        error=error,
    )


@bp.get("/tokens")
@login_required
def tokens() -> ResponseReturnValue:
    return _own_tokens_page(db.session(), _principal())


@bp.post("/tokens")
@login_required
def create_own_token() -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    name, ttl = _token_form()
    if ttl is None:
        return _own_tokens_page(session, principal, error=_("Choose how long the token lives."))
    token = token_svc.create_personal_token(
        session, current_user.user.username, ttl, name=name, actor=principal
    )
    session.commit()
    return _secret_page(_own_tokens_page(session, principal, new_token=token))


@bp.post("/users/<int:user_id>/tokens")
@login_required
def create_user_token(user_id: int) -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    user = user_svc.get_managed_user(session, principal, user_id)
    name, ttl = _token_form()
    if ttl is None or not user.is_active:
        flash(
            _("Choose how long the token lives.")
            if ttl is None
            else _("A disabled account gets no tokens.")
        )
        return redirect(url_for("admin_pages.user_page", user_id=user_id))
    token = token_svc.create_personal_token(session, user.username, ttl, name=name, actor=principal)
    session.commit()
    return _secret_page(_user_page(session, principal, user, new_token=token))


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    row = session.get(PersonalToken, token_id)
    if row is None:
        raise NotFound("No such token.")
    if row.user_id != principal.user_id:
        # Someone else's token: only their administrator may revoke it; to anyone else it
        # does not exist.
        user_svc.get_managed_user(session, principal, row.user_id)
    token_svc.revoke_personal_token(session, str(row.id), actor=principal)
    session.commit()
    flash(_("Token %(id)s revoked: it no longer works.", id=row.id))
    back = local_path(request.form.get("next"))
    if back:
        return redirect(back)
    if row.user_id == principal.user_id:
        return redirect(url_for("admin_pages.tokens"))
    return redirect(url_for("admin_pages.user_page", user_id=row.user_id))


# --- OAuth2 clients -------------------------------------------------------------------------


def _require_national(action: str) -> Principal:
    principal = _principal()
    if not _is_national(principal):
        raise AccessDenied("Only a national administrator manages OAuth2 clients.", action=action)
    return principal


def _clients_page(
    session: Session,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    created: tuple[OAuthClient, str | None] | None = None,
) -> Response:
    return _render(
        "admin/oauth_clients.html",
        status=422 if errors else 200,
        clients=list_clients(session),
        insurers=list(session.scalars(select(Insurer).order_by(Insurer.name))),
        facilities=list(session.scalars(select(Facility).order_by(Facility.name))),
        kinds=CLIENT_KINDS,
        scopes={code: SCOPE_LABELS.get(code, text) for code, text in SCOPES.items()},
        values=values or {"kind": "insurer"},
        errors=errors or {},
        created=created,
    )


@bp.get("/oauth-clients")
@login_required
def oauth_clients() -> ResponseReturnValue:
    _require_national("hub:oauth_client:listed")
    return _clients_page(db.session())


def _client_errors(session: Session, values: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not values["name"] or len(values["name"]) > 200:
        errors["name"] = _("Enter the client's name (up to 200 characters).")
    kind = values["kind"]
    if kind not in CLIENT_KINDS:
        errors["kind"] = _("Choose what kind of client this is.")
    elif kind == "insurer" and not _known(session, Insurer.code, values["insurer"]):
        errors["insurer"] = str(USER_ERRORS["insurer"])
    elif kind == "facility" and not _known(session, Facility.code, values["facility"]):
        errors["facility"] = _("Choose the facility whose system this is.")
    elif kind == "app":
        uris = values["redirect_uris"].split()
        if not uris or not all(
            u.startswith(("https://", "http://localhost", "http://127.0.0.1")) for u in uris
        ):
            errors["redirect_uris"] = _(
                "Enter one or more redirect addresses, each https:// (or http://localhost)."
            )
    if any(s not in SCOPES for s in values["scope"].split()):
        errors["scope"] = _("Choose scopes from the list.")
    return errors


@bp.post("/oauth-clients")
@login_required
def create_oauth_client() -> ResponseReturnValue:
    principal = _require_national("hub:oauth_client:created")
    session = db.session()
    values = {
        name: request.form.get(name, "").strip()
        for name in ("name", "kind", "insurer", "facility", "redirect_uris")
    }
    values["scope"] = " ".join(request.form.getlist("scope"))
    values["public"] = "1" if request.form.get("public") and values["kind"] == "app" else ""
    errors = _client_errors(session, values)
    if errors:
        return _clients_page(session, values=values, errors=errors)
    kind = values["kind"]
    try:
        client, secret = create_client(
            session,
            name=values["name"],
            insurer_code=values["insurer"] if kind == "insurer" else None,
            facility_code=values["facility"] if kind == "facility" else None,
            redirect_uris=tuple(values["redirect_uris"].split()) if kind == "app" else (),
            public=bool(values["public"]),
            scope=values["scope"] or None,
            actor=principal,
        )
    except HubError:
        session.rollback()
        errors = {"form": _("The client was not created: check the form and try again.")}
        return _clients_page(session, values=values, errors=errors)
    session.commit()
    return _secret_page(_clients_page(session, created=(client, secret)))


@bp.post("/oauth-clients/<int:client_pk>/revoke")
@login_required
def revoke_oauth_client(client_pk: int) -> ResponseReturnValue:
    principal = _require_national("hub:oauth_client:revoked")
    session = db.session()
    row = session.get(OAuthClient, client_pk)
    if row is None:
        raise NotFound("No such OAuth2 client.")
    revoke_client(session, row.client_id, actor=principal)
    session.commit()
    flash(_("Client %(name)s revoked: its tokens no longer work.", name=row.name))
    return redirect(url_for("admin_pages.oauth_clients"))


def as_utc(value: datetime) -> datetime:
    """Stored instants are naive UTC; the templates write them as ISO-8601 with the zone."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@bp.app_template_filter("admin_iso")
def _admin_iso(value: datetime | None) -> str:
    return as_utc(value).isoformat(timespec="seconds") if value else ""


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
