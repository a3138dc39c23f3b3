"""The DICOM AE titles page: the calling AE titles a facility's modalities use, for facility
and national administrators (list, add, edit, disable, enable)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy.orm import Session

from hub import db
from hub.auth.principal import Principal, user_principal
from hub.errors import Conflict, ValidationFailed
from hub.models import Facility, Role
from imaging import ae_titles
from imaging.models import AeKind, CallingAe

bp = Blueprint("imaging_admin", __name__, url_prefix="/admin/ae-titles")

KIND_LABELS = {
    AeKind.MODALITY: _l("Modality"),
    AeKind.PACS_PROXY: _l("PACS proxy (the facility's own archive forwarding to the hub)"),
}


# Studies from a title can be sent for teleradiology reading as they arrive (SEEDS 004).
URGENCY_LABELS = {
    "": _l("No: staff send studies for reading themselves"),
    "routine": _l("Yes, routine"),
    "urgent": _l("Yes, urgent"),
    "emergency": _l("Yes, emergency"),
}
FIELDS = ("ae_title", "kind", "facility_id", "reading_urgency")


def _principal() -> Principal:
    return user_principal(current_user.user, "session")


class _FormError(ValidationFailed):
    """A form field the page refuses before any service is asked (its message translated)."""


def _kind(raw: str | None) -> AeKind:
    try:
        return AeKind(raw or "")
    except ValueError:
        raise _FormError(_("Choose what sends with this title.")) from None


def _facility_id(principal: Principal, raw: str | None) -> int:
    if not principal.has_role(Role.NATIONAL_ADMIN):
        if principal.facility_id is None:
            raise _FormError(_("Choose a facility."))
        return principal.facility_id
    if raw is None or not raw.isascii() or not raw.isdigit() or int(raw) >= 2**31:
        raise _FormError(_("Choose a facility."))
    return int(raw)


def _message(exc: ValidationFailed | Conflict) -> str:
    # The services' messages are English; the page says the same in the reader's language.
    if isinstance(exc, _FormError):
        return exc.message
    if isinstance(exc, Conflict):
        return _("This AE title is in use already; each modality needs a title of its own.")
    if isinstance(exc.details, dict) and "reading_urgency" in exc.details:
        return _("Choose whether studies are sent for reading on arrival.")
    if isinstance(exc.details, dict) and "ae_title" in exc.details:
        return _("An AE title is 1 to 16 letters, digits, spaces, '_', '-' or '.'.")
    return _("Unknown facility.")


def _list_page(
    sess: Session,
    principal: Principal,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    choices = ae_titles.facilities(sess, principal)
    code = request.args.get("facility", "").strip()
    chosen: Facility | None = next((f for f in choices if f.code == code), None)
    rows = ae_titles.list_titles(sess, principal, facility_id=chosen.id if chosen else None)
    page = render_template(
        "imaging/ae_titles.html",
        rows=rows,
        facilities=choices,
        chosen=chosen,
        national=principal.has_role(Role.NATIONAL_ADMIN),
        kinds=KIND_LABELS,
        urgencies=URGENCY_LABELS,
        error=error,
        form=form or {},
    )
    sess.commit()
    return page, status


@bp.get("")
@login_required
def ae_titles_page() -> ResponseReturnValue:
    """The titles the administrator keeps and a form to add one."""
    return _list_page(db.session(), _principal())


@bp.post("")
@login_required
def add() -> ResponseReturnValue:
    principal = _principal()
    sess = db.session()
    form = {k: request.form.get(k, "") for k in FIELDS}
    try:
        row = ae_titles.add_title(
            sess,
            principal,
            form["ae_title"],
            _facility_id(principal, form["facility_id"]),
            _kind(form["kind"]),
            form["reading_urgency"] or None,
        )
    except (ValidationFailed, Conflict) as exc:
        sess.rollback()
        return _list_page(sess, principal, error=_message(exc), form=form, status=exc.status)
    sess.commit()
    flash(
        _(
            "%(title)s may now send images for %(facility)s.",
            title=row.ae_title,
            facility=row.facility.name,
        )
    )
    return redirect(url_for("imaging_admin.ae_titles_page"))


def _edit_page(
    sess: Session,
    principal: Principal,
    row: CallingAe,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    page = render_template(
        "imaging/ae_title_edit.html",
        row=row,
        facilities=ae_titles.facilities(sess, principal),
        national=principal.has_role(Role.NATIONAL_ADMIN),
        kinds=KIND_LABELS,
        error=error,
        urgencies=URGENCY_LABELS,
        form=form
        or {
            "ae_title": row.ae_title,
            "kind": row.kind.value,
            "facility_id": str(row.facility_id),
            "reading_urgency": row.reading_urgency or "",
        },
    )
    sess.commit()
    return page, status


@bp.get("/<int:ae_id>")
@login_required
def edit(ae_id: int) -> ResponseReturnValue:
    principal = _principal()
    sess = db.session()
    return _edit_page(sess, principal, ae_titles.get_title(sess, principal, ae_id))


@bp.post("/<int:ae_id>")
@login_required
def update(ae_id: int) -> ResponseReturnValue:
    principal = _principal()
    sess = db.session()
    form = {k: request.form.get(k, "") for k in FIELDS}
    try:
        row = ae_titles.update_title(
            sess,
            principal,
            ae_id,
            title=form["ae_title"],
            kind=_kind(form["kind"]),
            facility_id=_facility_id(principal, form["facility_id"])
            if principal.has_role(Role.NATIONAL_ADMIN)
            else None,
            reading_urgency=form["reading_urgency"] or None,
        )
    except (ValidationFailed, Conflict) as exc:
        sess.rollback()
        row = ae_titles.get_title(sess, principal, ae_id)
        return _edit_page(sess, principal, row, error=_message(exc), form=form, status=exc.status)
    sess.commit()
    flash(_("%(title)s is saved.", title=row.ae_title))
    return redirect(url_for("imaging_admin.ae_titles_page"))


def _switch(ae_id: int, disabled: bool) -> ResponseReturnValue:
    sess = db.session()
    row = ae_titles.set_disabled(sess, _principal(), ae_id, disabled)
    sess.commit()
    if disabled:
        flash(
            _(
                "%(title)s is disabled: its associations are refused from now on.",
                title=row.ae_title,
            )
        )
    else:
        flash(_("%(title)s may send images again.", title=row.ae_title))
    return redirect(url_for("imaging_admin.ae_titles_page"))


@bp.post("/<int:ae_id>/disable")
@login_required
def disable(ae_id: int) -> ResponseReturnValue:
    return _switch(ae_id, True)


@bp.post("/<int:ae_id>/enable")
@login_required
def enable(ae_id: int) -> ResponseReturnValue:
    return _switch(ae_id, False)
