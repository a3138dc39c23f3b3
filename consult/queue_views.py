"""The queue board page (/queues): open consults of the officer's region with their SLA clocks.
The page refreshes its tables itself (every 30 s) so a wall screen stays current."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from consult.queues import Place, open_queue
from consult.schemas import label_of_specialty
from consult.views import STATUS_LABELS, URGENCY_LABELS
from hub import db
from hub.auth.principal import Principal, user_principal
from hub.errors import AccessDenied, NotFound
from hub.models import Facility, MacroRegion, Role, University
from hub.permissions import has_scope

bp = Blueprint("consult_queue_pages", __name__)
REFRESH_SECONDS = 30


def duration(value: timedelta) -> str:
    """A waiting time as staff say it: minutes under two hours, then hours, then days."""
    minutes = max(0, int(value.total_seconds() // 60))
    if minutes < 120:
        return gettext("%(num)d min", num=minutes)
    if minutes < 48 * 60:
        return gettext("%(num)d h", num=minutes // 60)
    return gettext("%(num)d d", num=minutes // (24 * 60))


def _place(session: Session, principal: Principal) -> tuple[Place | None, str | None]:
    """The board narrowed to one facility, university or (national view) region by code, with
    its name; a code outside the reader's region is not found (404), like any other."""
    found: Facility | University | MacroRegion | None
    if code := request.args.get("facility"):
        found = session.scalar(select(Facility).where(Facility.code == code))
        kind = "facility"
    elif code := request.args.get("university"):
        found = session.scalar(select(University).where(University.code == code))
        kind = "university"
    elif code := request.args.get("region"):
        found = session.scalar(select(MacroRegion).where(MacroRegion.code == code))
        kind = "region"
    else:
        return None, None
    if found is None:
        raise NotFound("Not found.")
    region_id = found.id if isinstance(found, MacroRegion) else found.region_id
    if not principal.has_role(Role.NATIONAL_ADMIN) and region_id != principal.region_id:
        raise AccessDenied(
            action="consult:queue:viewed", object_type=kind, object_id=found.id, hide=True
        )
    place = Place(
        facility_id=found.id if isinstance(found, Facility) else None,
        university_id=found.id if isinstance(found, University) else None,
        region_id=found.id if isinstance(found, MacroRegion) else None,
    )
    return place, found.name


@bp.get("/queues")
@login_required
def queues() -> ResponseReturnValue:
    principal = user_principal(current_user.user, "session")
    breached_only = request.args.get("breached") == "1"
    session = db.session()
    place, place_name = _place(session, principal)
    queue = open_queue(session, principal, breached_only=breached_only, place=place)
    # The filter links and the live refresh keep the place the board is narrowed to.
    where = {k: request.args[k] for k in ("facility", "university", "region") if k in request.args}
    template = (
        "consult/_queue_tables.html"
        if request.args.get("part") == "tables"
        else "consult/queues.html"
    )
    html = render_template(
        template,
        queue=queue,
        breached_only=breached_only,
        duration=duration,
        status_labels=STATUS_LABELS,
        urgency_labels=URGENCY_LABELS,
        specialty_label=label_of_specialty,
        place_name=place_name,
        where=where,
        refresh_seconds=REFRESH_SECONDS,
        can_dispatch=has_scope(principal, "consults:dispatch"),
    )
    session.commit()  # the audit row of the view goes with the page
    return html


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
