"""The consult's state machine. Any transition not listed here is refused with 409.

draft → submitted → offered → accepted → answered → signed → closed
submitted → escalated        (nobody eligible: escalation looks wider)
offered → escalated          (time-to-accept breached, offers widened)
offered → declined           (every offer declined and nobody else eligible)
escalated | declined → offered | accepted | escalated
draft | submitted | offered | escalated | declined → cancelled (by the requester)
offered | escalated | declined → expired (escalation exhausted and command alerted)
"""

from __future__ import annotations

from consult.models import ConsultStatus as S
from hub.errors import Conflict

TRANSITIONS: dict[S, frozenset[S]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.CANCELLED}),
    S.SUBMITTED: frozenset({S.OFFERED, S.ESCALATED, S.CANCELLED}),
    S.OFFERED: frozenset({S.ACCEPTED, S.DECLINED, S.ESCALATED, S.OFFERED, S.CANCELLED, S.EXPIRED}),
    S.ESCALATED: frozenset({S.OFFERED, S.ACCEPTED, S.ESCALATED, S.CANCELLED, S.EXPIRED}),
    S.DECLINED: frozenset({S.OFFERED, S.ACCEPTED, S.ESCALATED, S.CANCELLED, S.EXPIRED}),
    S.ACCEPTED: frozenset({S.ANSWERED}),
    S.ANSWERED: frozenset({S.SIGNED}),
    S.SIGNED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
}

# States in which a specialist may still claim the consult.
CLAIMABLE = frozenset({S.OFFERED, S.ESCALATED, S.DECLINED})
OPEN = frozenset({S.SUBMITTED, S.OFFERED, S.ESCALATED, S.DECLINED, S.ACCEPTED, S.ANSWERED})


def check(current: S, target: S) -> None:
    if target not in TRANSITIONS[current]:
        raise Conflict(
            f"A consult cannot go from {current.value} to {target.value}.",
            code="illegal_transition",
            details={"from": current.value, "to": target.value},
        )
