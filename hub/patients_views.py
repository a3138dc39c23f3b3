"""Patient pages for health workers: search, register, correct, consents and their signed
forms, insurance memberships.

Forms post back to these views, which call the audited patient services (the same ones the
API uses) and show a refused field on the form itself, in the reader's language. Insurance
memberships are added and ended by the page's script through the JSON API, because their
service belongs to the insurance package, which the core does not import.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import db
from hub.auth.principal import Principal, user_principal
from hub.config import SUPPORTED_LOCALES, Settings
from hub.documents.schemas import pdf_response
from hub.errors import AccessDenied, Conflict, HubError, ValidationFailed
from hub.http import local_path
from hub.models import (
    Consent,
    ConsentMethod,
    ConsentScope,
    Facility,
    Insurer,
    Patient,
    Role,
    Sex,
    SignedDocument,
)
from hub.national_id import VALIDATORS, InvalidNationalId, normalise
from hub.permissions import PATIENT_WRITERS, has_scope
from hub.schemas import ConsentIn, PatientIn, PatientPatch
from hub.services import consent_forms
from hub.services import patients as svc

bp = Blueprint("patient_pages", __name__)

PAGE_SIZE = 50

SEX_LABELS = {
    Sex.FEMALE: _l("Female"),
    Sex.MALE: _l("Male"),
    Sex.OTHER: _l("Other"),
    Sex.UNKNOWN: _l("Unknown"),
}
SCOPE_LABELS = {
    ConsentScope.CONSULT: _l("Remote consultation with a specialist"),
    ConsentScope.VIDEO: _l("Video visit"),
    ConsentScope.RECORDING: _l("Recording of the video visit"),
    ConsentScope.DATA_SHARING: _l("Sharing the record with the treating facilities"),
}
METHOD_LABELS = {
    ConsentMethod.WRITTEN: _l("In writing, on the paper form"),
    ConsentMethod.VERBAL: _l("Spoken, in front of the health worker"),
    ConsentMethod.ELECTRONIC: _l("Electronically, in the hub"),
}
RELATIONSHIP_LABELS = {
    "self": _l("The patient"),
    "parent": _l("Parent"),
    "guardian": _l("Legal guardian"),
    "spouse": _l("Spouse"),
    "child": _l("Adult child"),
    "other": _l("Other representative"),
}
COUNTRY_LABELS = {
    "IR": _l("Iran"),
    "RU": _l("Russia"),
    "TR": _l("Türkiye"),
    "CN": _l("China"),
}
# What each country's national number looks like, said on the form beside the field.
ID_HINTS = {
    "IR": _l("National code: 10 digits, the last one a check digit."),
    "RU": _l("SNILS: 11 digits, the last two a check number."),
    "TR": _l("T.C. Kimlik No: 11 digits, the last two check digits."),
    "CN": _l("Resident identity card: 18 characters, the last a check digit or X."),
}
# A refused field of the patient form, said in the reader's language (pydantic's own messages
# are English and name the schema, not the form).
FIELD_ERRORS = {
    "given_name": _l("Enter the given name (up to 120 characters)."),
    "family_name": _l("Enter the family name (up to 120 characters)."),
    "date_of_birth": _l("Enter a real date of birth, not in the future."),
    "sex": _l("Choose the sex."),
    "phone": _l("Enter a phone number: digits, spaces, + ( ) and -."),
    "email": _l("Enter an e-mail address such as name@example.org."),
    "address": _l("The address is too long (up to 2000 characters)."),
    "national_id": _l("Enter the national id (5 to 32 characters)."),
    "id_country": _l("Choose the country that issued the national id."),
    "home_facility": _l("Choose the patient's home facility."),
}
CONSENT_ERRORS = {
    "scopes": _l("Choose at least one thing the patient agrees to."),
    "method": _l("Choose how the consent was given."),
    "given_by_name": _l("Enter who gave the consent (up to 200 characters)."),
    "relationship_to_patient": _l("Choose who gave the consent."),
    "given_at": _l("Enter when the consent was given (not in the future)."),
}
FORM_KIND = consent_forms.CONSENT_FORM.code


def _principal() -> Principal:
    principal = user_principal(current_user.user, "session")
    g.principal = principal  # a refusal is audited under the reader's name
    return principal


def _settings() -> Settings:
    settings: Settings = current_app.config["HUB_SETTINGS"]
    return settings


def _may_write(principal: Principal) -> bool:
    return bool(principal.roles & PATIENT_WRITERS) and has_scope(principal, "patients:write")


def _render(template: str, status: int = 200, **context: Any) -> ResponseReturnValue:
    """Render with the shared labels, then commit: the services' audit rows go with the page."""
    html = render_template(
        template,
        sex_labels=SEX_LABELS,
        scope_labels=SCOPE_LABELS,
        method_labels=METHOD_LABELS,
        relationship_labels=RELATIONSHIP_LABELS,
        country_labels=COUNTRY_LABELS,
        id_hints=ID_HINTS,
        may_write=_may_write(_principal()),
        **context,
    )
    db.session().commit()
    return html, status


def _country_of(session: Session, principal: Principal) -> str:
    """The country of the reader's facility: the default issuer of a new patient's id."""
    if principal.facility_id is not None:
        facility = session.get_one(Facility, principal.facility_id)
        return facility.region.country.code
    return next(iter(VALIDATORS))


def _field_errors(exc: ValidationError, messages: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        if name in messages:
            errors.setdefault(name, str(messages[name]))
        else:
            errors.setdefault("form", _("Check the form: a value was not accepted."))
    return errors


def _patient_form() -> dict[str, str]:
    names = (
        "given_name",
        "family_name",
        "national_id",
        "id_country",
        "date_of_birth",
        "sex",
        "phone",
        "email",
        "address",
        "home_facility",
    )
    return {name: request.form.get(name, "").strip() for name in names}


def _optional(values: dict[str, str], *names: str) -> dict[str, Any]:
    """The form's values with empty optional fields left out (None for the service)."""
    out: dict[str, Any] = dict(values)
    for name in names:
        if not out.get(name):
            out[name] = None
    return out


def _check_national_id(country: str, value: str) -> str | None:
    """A translated message when the number fails the country's checksum, else None."""
    if country not in VALIDATORS:
        return str(FIELD_ERRORS["id_country"])
    try:
        normalise(country, value)
    except InvalidNationalId:
        return _(
            "This is not a valid national id of %(country)s: check every digit. %(hint)s",
            country=COUNTRY_LABELS[country],
            hint=ID_HINTS[country],
        )
    return None


def _form_context(session: Session, principal: Principal) -> dict[str, Any]:
    facilities: list[Facility] = []
    if principal.facility_id is None and principal.has_role(Role.NATIONAL_ADMIN):
        facilities = list(session.scalars(select(Facility).order_by(Facility.name)))
    return {
        "sexes": list(Sex),
        "countries": list(VALIDATORS),
        "facilities": facilities,
        "today": date.today().isoformat(),
    }


# --- search ---------------------------------------------------------------------------------


@bp.get("/patients")
@login_required
def search() -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    query = (request.args.get("q") or "").strip()[:120]
    found = svc.list_patients(session, principal, query=query or None, limit=PAGE_SIZE)
    return _render(
        "patients/search.html",
        query=query,
        patients=found,
        more=len(found) == PAGE_SIZE,
    )


# --- register and correct -------------------------------------------------------------------


@bp.route("/patients/new", methods=["GET", "POST"])
@login_required
def register() -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    values = {"id_country": _country_of(session, principal)}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = _patient_form()
        errors = _register_errors(values)
        if not errors:
            try:
                data = PatientIn.model_validate(
                    _optional(values, "phone", "email", "address", "home_facility")
                )
            except ValidationError as exc:
                errors = _field_errors(exc, FIELD_ERRORS)
            else:
                try:
                    patient = svc.create_patient(session, principal, data)
                except Conflict as exc:
                    session.rollback()
                    errors = {"national_id": _duplicate_message(exc)}
                except ValidationFailed:
                    session.rollback()
                    errors = {"home_facility": str(FIELD_ERRORS["home_facility"])}
                else:
                    session.commit()
                    flash(_("Patient registered."))
                    return redirect(url_for("patient_pages.show", patient_id=patient.id))
    return _render(
        "patients/form.html",
        status=422 if errors else 200,
        patient=None,
        values=values,
        errors=errors,
        **_form_context(session, principal),
    )


def _register_errors(values: dict[str, str]) -> dict[str, str]:
    """Checks said in the reader's language before the schema's own."""
    country = values["id_country"].upper()
    values["id_country"] = country
    if not values["national_id"]:
        return {"national_id": str(FIELD_ERRORS["national_id"])}
    message = _check_national_id(country, values["national_id"])
    return {"national_id": message} if message else {}


def _duplicate_message(exc: Conflict) -> str:
    if exc.code == "duplicate_national_id":
        return _("A patient with this national id is already registered: search for them.")
    return exc.message


@bp.route("/patients/<int:patient_id>/edit", methods=["GET", "POST"])
@login_required
def edit(patient_id: int) -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    patient = svc.get_patient(session, principal, patient_id)
    values: dict[str, str] = {
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "national_id": patient.national_id,
        "id_country": patient.id_country,
        "date_of_birth": patient.date_of_birth.isoformat(),
        "sex": patient.sex.value,
        "phone": patient.phone or "",
        "email": patient.email or "",
        "address": patient.address or "",
    }
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {**_patient_form(), "id_country": patient.id_country}
        errors = _register_errors(values)
        if not errors:
            changes = _optional(values, "phone", "email", "address")
            changes.pop("home_facility", None)
            changes.pop("id_country", None)
            try:
                data = PatientPatch.model_validate(changes)
            except ValidationError as exc:
                errors = _field_errors(exc, FIELD_ERRORS)
            else:
                try:
                    svc.update_patient(session, principal, patient_id, data)
                except Conflict as exc:
                    session.rollback()
                    errors = {"national_id": _duplicate_message(exc)}
                else:
                    session.commit()
                    flash(_("Patient details saved."))
                    return redirect(url_for("patient_pages.show", patient_id=patient_id))
    return _render(
        "patients/form.html",
        status=422 if errors else 200,
        patient=patient,
        values=values,
        errors=errors,
        **_form_context(session, principal),
    )


# --- the patient's page ---------------------------------------------------------------------


def _signed_forms(session: Session, consents: list[Consent]) -> dict[int, SignedDocument]:
    if not consents:
        return {}
    docs = session.scalars(
        select(SignedDocument).where(
            SignedDocument.kind == FORM_KIND,
            SignedDocument.subject_type == "consent",
            SignedDocument.subject_id.in_([c.id for c in consents]),
        )
    )
    return {doc.subject_id: doc for doc in docs}


@bp.get("/patients/<int:patient_id>")
@login_required
def show(patient_id: int) -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    patient = svc.get_patient(session, principal, patient_id)
    consents = sorted(patient.consents, key=lambda c: (c.given_at, c.id), reverse=True)
    insurers = {i.id: i for i in session.scalars(select(Insurer).order_by(Insurer.name))}
    memberships = sorted(patient.memberships, key=lambda m: (m.valid_from, m.id), reverse=True)
    return _render(
        "patients/show.html",
        patient=patient,
        consents=consents,
        forms=_signed_forms(session, consents),
        memberships=memberships,
        insurers=insurers,
        today=date.today(),
        user_id=principal.user_id,
        consult_url=_consult_url(patient),
        js_text={
            "failed": _("Could not save: %(error)s", error="{error}"),
            "network": _("No connection to the hub."),
            "saved": _("Saved."),
            "confirm_end": _("End this membership on the chosen date?"),
        },
    )


def _consult_url(patient: Patient) -> str | None:
    """The consult request form with this patient chosen (when the consult pages exist)."""
    if "consult_pages.new_consult" not in current_app.view_functions:
        return None
    return url_for("consult_pages.new_consult", patient=patient.id, q=patient.national_id)


# --- consent --------------------------------------------------------------------------------


def consent_url(patient_id: int, scope: ConsentScope, next_url: str | None = None) -> str:
    """Where a health worker records the patient's consent of ``scope`` (linked from the
    "consent must be recorded first" refusal)."""
    return url_for("patient_pages.consent", patient_id=patient_id, scope=scope.value, next=next_url)


@bp.route("/patients/<int:patient_id>/consent", methods=["GET", "POST"])
@login_required
def consent(patient_id: int) -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    patient = svc.get_patient(session, principal, patient_id)
    next_url = local_path(request.values.get("next"))
    asked = {s for s in request.args.getlist("scope") if s in {x.value for x in ConsentScope}}
    values: dict[str, Any] = {
        "scopes": asked or {ConsentScope.CONSULT.value},
        "method": ConsentMethod.WRITTEN.value,
        "given_by_name": f"{patient.given_name} {patient.family_name}",
        "relationship_to_patient": "self",
    }
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {
            "scopes": set(request.form.getlist("scopes")),
            "method": request.form.get("method", ""),
            "given_by_name": request.form.get("given_by_name", "").strip(),
            "relationship_to_patient": request.form.get("relationship_to_patient", ""),
        }
        if values["relationship_to_patient"] not in RELATIONSHIP_LABELS:
            errors["relationship_to_patient"] = str(CONSENT_ERRORS["relationship_to_patient"])
        else:
            try:
                data = ConsentIn.model_validate(
                    {
                        "scopes": sorted(values["scopes"]),
                        "method": values["method"],
                        "given_by_name": values["given_by_name"] or None,
                        "relationship_to_patient": values["relationship_to_patient"],
                    }
                )
            except ValidationError as exc:
                errors = _field_errors(exc, CONSENT_ERRORS)
            else:
                try:
                    svc.record_consent(session, principal, patient_id, data)
                except Conflict as exc:
                    session.rollback()
                    errors = {"form": exc.message}
                else:
                    session.commit()
                    flash(_("Consent recorded."))
                    target = next_url or url_for("patient_pages.show", patient_id=patient_id)
                    return redirect(target if next_url else target + "#consents")
    return _render(
        "patients/consent.html",
        status=422 if errors else 200,
        patient=patient,
        values=values,
        errors=errors,
        scopes=list(ConsentScope),
        methods=list(ConsentMethod),
        next_url=next_url,
    )


def _locale() -> str:
    return str(get_locale() or "en")


@bp.post("/patients/<int:patient_id>/consents/<int:consent_id>/sign")
@login_required
def sign_form(patient_id: int, consent_id: int) -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    try:
        consent_forms.sign(session, _settings(), principal, patient_id, consent_id, _locale())
    except AccessDenied as exc:
        if exc.hide:
            raise
        session.rollback()
        flash(_("Only the health worker who recorded this consent signs its form."))
    except Conflict:
        session.rollback()
        flash(_("This form cannot be signed: it was signed already or the consent withdrawn."))
    except HubError as exc:
        if exc.status == 404:
            raise
        session.rollback()
        flash(_("The form could not be signed now; try again later."))
    else:
        session.commit()
        flash(_("Consent form signed."))
    return redirect(url_for("patient_pages.show", patient_id=patient_id) + "#consents")


@bp.post("/patients/<int:patient_id>/consents/<int:consent_id>/withdraw")
@login_required
def withdraw(patient_id: int, consent_id: int) -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    try:
        svc.withdraw_consent(session, principal, patient_id, consent_id)
    except Conflict:
        session.rollback()
        flash(_("This consent was already withdrawn."))
    else:
        session.commit()
        flash(_("Consent withdrawn."))
    return redirect(url_for("patient_pages.show", patient_id=patient_id) + "#consents")


@bp.get("/patients/<int:patient_id>/consents/<int:consent_id>/form.pdf")
@login_required
def form_pdf(patient_id: int, consent_id: int) -> Response:
    """The consent form to print and have signed on paper: the signed PDF, or a draft."""
    locale = request.args.get("locale") or _locale()
    if locale not in SUPPORTED_LOCALES:
        abort(404)
    data, signed = consent_forms.pdf(
        db.session(), _settings(), _principal(), patient_id, consent_id, locale
    )
    db.session().commit()
    return pdf_response(data, signed, f"consent-{consent_id}")


def utc_iso(value: datetime | None) -> str:
    """Machine-readable instant for <time datetime>; the page script shows it in the reader's
    zone."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_template_filter(utc_iso, "utc_iso")
