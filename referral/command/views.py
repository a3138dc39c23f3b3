"""Transfer pages: the list (open ones by priority), a request form, and one transfer with its
priority reasons, timeline and the moves the reader may make."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from consult.schemas import label_of_specialty
from hub import db
from hub.auth.principal import user_principal
from hub.models import Facility, Specialty, User
from referral.command import rules, services, threads
from referral.command.models import TransferStatus as S

bp = Blueprint("transfer_pages", __name__)

STATUS_LABELS = {
    S.PENDING: _l("Pending"),
    S.ON_HOLD: _l("On hold"),
    S.APPROVED: _l("Approved by command"),
    S.REJECTED: _l("Rejected"),
    S.DESTINATION_APPROVED: _l("Accepted by the destination"),
    S.DESTINATION_REJECTED: _l("Refused by the destination"),
    S.TRANSPORT_TO_BE_ARRANGED: _l("Transport to be arranged"),
    S.PATIENT_TO_BE_PICKED_UP: _l("Patient to be picked up"),
    S.IN_TRANSIT: _l("In transit"),
    S.COMPLETED: _l("Completed"),
    S.PATIENT_EXPIRED: _l("Patient died"),
    S.CANCELLED: _l("Cancelled"),
}
# The button that moves a transfer to each state.
ACTION_LABELS = {
    S.PENDING: _l("Take off hold"),
    S.ON_HOLD: _l("Put on hold"),
    S.APPROVED: _l("Approve and send to"),
    S.REJECTED: _l("Reject"),
    S.DESTINATION_APPROVED: _l("Accept the patient"),
    S.DESTINATION_REJECTED: _l("Refuse the patient"),
    S.TRANSPORT_TO_BE_ARRANGED: _l("Transport is being arranged"),
    S.PATIENT_TO_BE_PICKED_UP: _l("Ready for pick-up"),
    S.IN_TRANSIT: _l("Patient left: in transit"),
    S.COMPLETED: _l("Patient arrived: complete"),
    S.PATIENT_EXPIRED: _l("Patient died"),
    S.CANCELLED: _l("Cancel the transfer"),
}
REASON_LABELS = {
    "emergency": _l("emergency"),
    "severity": _l("severity"),
    "waiting": _l("waiting time"),
    "distance": _l("distance"),
    "level_1_origin": _l("rural health post"),
}


def _render(template: str, **context: Any) -> str:
    html = render_template(
        template,
        status_labels=STATUS_LABELS,
        status_by_value={s.value: label for s, label in STATUS_LABELS.items()},
        action_labels=ACTION_LABELS,
        reason_labels=REASON_LABELS,
        **context,
    )
    db.session().commit()  # the audit rows of what the page read
    return html


@bp.get("/transfers")
@login_required
def transfers() -> ResponseReturnValue:
    principal = user_principal(current_user.user, "session")
    session = db.session()
    open_only = request.args.get("all") != "1"
    found = services.list_visible(session, principal, open_only=open_only)
    return _render(
        "command/transfers.html",
        transfers=[(t, services.score(t)) for t in found],
        open_only=open_only,
        can_request=principal.facility_id is not None
        and bool(principal.roles & services.ORIGIN_ROLES),
        specialties=sorted(
            (
                (sp.code, label_of_specialty(sp.code, sp.name))
                for sp in session.scalars(select(Specialty))
            ),
            key=lambda item: item[1],
        ),
    )


@bp.get("/transfers/<int:transfer_id>")
@login_required
def transfer(transfer_id: int) -> ResponseReturnValue:
    principal = user_principal(current_user.user, "session")
    session = db.session()
    t = services.get(session, principal, transfer_id)
    moves = rules.next_states(t.status, services.sides_of(principal, t))
    facilities = []
    if S.APPROVED in moves:
        facilities = list(
            session.scalars(
                select(Facility)
                .where(Facility.id != t.origin_facility_id, Facility.level >= 2)
                .order_by(Facility.region_id != t.region_id, Facility.level.desc(), Facility.name)
            )
        )
    thread = threads.thread_of(session, t)
    helper_id = services.assisting_physician_id(session, t)
    # One timeline: the decisions and the thread's messages, in the order they happened.
    timeline: list[tuple[datetime, int, Any]] = [(e.at, 0, e) for e in t.events]
    timeline += [(m.at, 1, m) for m in thread]
    timeline.sort(key=lambda item: (item[0], item[1]))
    return _render(
        "command/transfer.html",
        t=t,
        score=services.score(t),
        moves=moves,
        facilities=facilities,
        people={e.actor_id: e.actor for e in t.events if e.actor is not None},
        timeline=[item[2] for item in timeline],
        thread=thread,
        helper=session.get(User, helper_id) if helper_id is not None else None,
        may_write=threads.may_write(session, principal, t) and t.status not in rules.TERMINAL,
        specialty=label_of_specialty(t.specialty.code, t.specialty.name) if t.specialty else None,
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
