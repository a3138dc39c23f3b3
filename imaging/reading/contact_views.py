"""The page of a facility's contact list for critical results: its administrators add and
remove the addresses e-mailed when a critical result is raised for one of its studies."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from pydantic import ValidationError
from sqlalchemy import select

from hub import db
from hub.auth.principal import Principal, user_principal
from hub.config import SUPPORTED_LOCALES
from hub.errors import Conflict
from hub.models import Facility, Role
from imaging.reading import contacts
from imaging.reading.schemas import ContactIn

bp = Blueprint("reading_contacts", __name__, url_prefix="/reading/contacts")

LANGUAGES = {
    "en": "English",
    "fa": "فارسی",
    "ru": "Русский",
    "tr": "Türkçe",
    "zh": "中文",
}
PROBLEMS = {
    "name": _l("Give a name of at most 120 characters (e.g. the ward or duty role)."),
    "email": _l("Give a valid e-mail address."),
    "locale": _l("Choose a language."),
}


def _principal() -> Principal:
    return user_principal(current_user.user, "session")


def _code(principal: Principal) -> str:
    chosen = request.values.get("facility", "").strip()[:40]
    if chosen:
        return chosen
    own = db.session().get(Facility, principal.facility_id) if principal.facility_id else None
    return own.code if own is not None else ""


@bp.get("/")
@login_required
def page() -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    facility, rows = contacts.of_facility(session, principal, _code(principal))
    choices = (
        list(session.scalars(select(Facility).order_by(Facility.code)))
        if principal.has_role(Role.NATIONAL_ADMIN)
        else []
    )
    html = render_template(
        "imaging/reading/contacts.html",
        facility=facility,
        contacts=rows,
        choices=choices,
        languages=LANGUAGES,
        default_locale=str(getattr(current_user.user, "locale", None) or "en"),
    )
    session.commit()
    return html


@bp.post("/")
@login_required
def add() -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    code = _code(principal)
    locale = request.form.get("locale", "en")
    try:
        data = ContactIn(
            name=request.form.get("name", ""),
            email=request.form.get("email", ""),
            locale=locale if locale in SUPPORTED_LOCALES else "",  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        fields = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        for name in ("name", "email", "locale"):
            if name in fields:
                flash(str(PROBLEMS[name]), "error")
        return redirect(url_for("reading_contacts.page", facility=code))
    try:
        row = contacts.add(session, principal, code, data.name, str(data.email), data.locale)
    except Conflict as exc:
        session.rollback()
        flash(
            _("This address is already on the list.")
            if exc.code == "contact_exists"
            else _("The list is full: remove a contact first."),
            "error",
        )
        return redirect(url_for("reading_contacts.page", facility=code))
    session.commit()
    flash(_("%(name)s will be e-mailed about critical results.", name=row.name))
    return redirect(url_for("reading_contacts.page", facility=code))


@bp.post("/<int:contact_id>/remove")
@login_required
def remove(contact_id: int) -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    code = _code(principal)
    contacts.remove(session, principal, code, contact_id)
    session.commit()
    flash(_("Removed from the list."))
    return redirect(url_for("reading_contacts.page", facility=code))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
