"""The command centre's pages: the board (/command: charts, pressure grid, staffing,
teleradiology, referral loops, transfers; it refreshes itself like the queue board), and the
region's assisting physicians (/command/assisting-physicians)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy.orm import Session

from consult.schemas import label_of_specialty
from hub import db
from hub.auth.principal import Principal, user_principal
from hub.hooks import HomePanel, HomeRow
from hub.models import MacroRegion
from referral.command import threads
from referral.command.board import Board, Pressure, board

bp = Blueprint("command_board_pages", __name__)
REFRESH_SECONDS = 30

PRESSURE_LABELS = {
    Pressure.CALM: _l("calm"),
    Pressure.BUSY: _l("busy"),
    Pressure.BREACHED: _l("SLA breached"),
}
URGENCY_LABELS = {
    "emergency": _l("Emergency"),
    "urgent": _l("Urgent"),
    "routine": _l("Routine"),
}


def _minutes(seconds: float) -> int:
    return round(seconds / 60)


def duration(value: timedelta) -> str:
    """A waiting time as the queue board says it (minutes, then hours, then days)."""
    minutes = max(0, int(value.total_seconds() // 60))
    if minutes < 120:
        return _("%(num)d min", num=minutes)
    if minutes < 48 * 60:
        return _("%(num)d h", num=minutes // 60)
    return _("%(num)d d", num=minutes // (24 * 60))


def chart_data(b: Board) -> dict[str, Any]:
    """What the two charts draw (the same figures as the tables beside them)."""
    specialties: list[tuple[str, str]] = []
    for g in b.queue.groups:
        key = (g.specialty_code, label_of_specialty(g.specialty_code, g.specialty))
        if key not in specialties:
            specialties.append(key)
    specialties.sort(key=lambda s: s[1])
    by_urgency = {
        urgency: [
            sum(
                g.count
                for g in b.queue.groups
                if g.specialty_code == code and g.urgency.value == urgency
            )
            for code, _label in specialties
        ]
        for urgency in URGENCY_LABELS
    }
    waits = [
        {
            "label": f"{label_of_specialty(g.specialty_code, g.specialty)} · "
            f"{URGENCY_LABELS[g.urgency.value]}",
            "median": _minutes(g.median_wait.total_seconds()),
            "p90": _minutes(g.p90_wait.total_seconds()),
        }
        for g in b.queue.groups
    ]
    return {
        "specialties": [label for _code, label in specialties],
        "urgencies": [
            {"key": u, "label": str(label), "counts": by_urgency[u]}
            for u, label in URGENCY_LABELS.items()
        ],
        "waits": waits,
    }


def _board_page(principal: Principal, session: Session) -> str:
    region_code = request.args.get("region") or None
    b = board(session, principal, region_code)
    where = {"region": b.region.code} if b.region is not None and region_code else {}
    template = (
        "command/_board_sections.html"
        if request.args.get("part") == "sections"
        else "command/board.html"
    )
    html = render_template(
        template,
        b=b,
        where=where,
        chart=chart_data(b),
        specialty_label=label_of_specialty,
        duration=duration,
        urgency_labels=URGENCY_LABELS,
        pressure_labels=PRESSURE_LABELS,
        refresh_seconds=REFRESH_SECONDS,
    )
    session.commit()  # the audit rows of what the board read
    return html


@bp.get("/command")
@login_required
def command_board() -> ResponseReturnValue:
    return _board_page(user_principal(current_user.user, "session"), db.session())


@bp.get("/command/assisting-physicians")
@login_required
def assisting_physicians() -> ResponseReturnValue:
    principal = user_principal(current_user.user, "session")
    session = db.session()
    code = request.args.get("region") or _own_region_code(session, principal)
    region, found = threads.designations(session, principal, code)
    html = render_template(
        "command/assisting.html",
        region=region,
        designations=found,
        candidates=threads.candidates(session, region),
        specialty_label=label_of_specialty,
    )
    session.commit()
    return html


def _own_region_code(session: Session, principal: Principal) -> str:
    region = session.get(MacroRegion, principal.region_id) if principal.region_id else None
    return region.code if region is not None else ""


def home_panel(session: Session, principal: Principal) -> HomePanel | None:
    """Open transfers the reader is consulted on as the region's assisting physician."""
    found = threads.consulted_on(session, principal)
    if not found:
        return None
    return HomePanel(
        title=_("Transfers you are consulted on"),
        rows=tuple(
            HomeRow(
                text=_("Transfer %(number)s", number=t.id),
                url=url_for("transfer_pages.transfer", transfer_id=t.id),
                time=t.created_at,
                detail=_("assisting physician for the specialty"),
            )
            for t in found
        ),
        empty=_("No transfer waits for your advice."),
        more_url=url_for("transfer_pages.transfers"),
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
