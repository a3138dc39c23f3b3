"""The transfer's state machine with its role gates, and the priority score: pure functions,
tested without a database."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from referral.command.models import TransferStatus as S


class Side(Enum):
    """Who acts on a transfer: the sending facility, command staff, the receiving facility."""

    ORIGIN = "origin"
    COMMAND = "command"
    DESTINATION = "destination"


# target ← (allowed from, who may move it there)
TRANSITIONS: dict[S, tuple[frozenset[S], frozenset[Side]]] = {
    S.ON_HOLD: (frozenset({S.PENDING}), frozenset({Side.COMMAND})),
    S.PENDING: (frozenset({S.ON_HOLD}), frozenset({Side.COMMAND})),
    # Command staff choose the destination when they approve (again after a refusal).
    S.APPROVED: (
        frozenset({S.PENDING, S.ON_HOLD, S.DESTINATION_REJECTED}),
        frozenset({Side.COMMAND}),
    ),
    S.REJECTED: (frozenset({S.PENDING, S.ON_HOLD}), frozenset({Side.COMMAND})),
    S.DESTINATION_APPROVED: (frozenset({S.APPROVED}), frozenset({Side.DESTINATION})),
    S.DESTINATION_REJECTED: (frozenset({S.APPROVED}), frozenset({Side.DESTINATION})),
    S.TRANSPORT_TO_BE_ARRANGED: (
        frozenset({S.DESTINATION_APPROVED}),
        frozenset({Side.COMMAND, Side.ORIGIN}),
    ),
    S.PATIENT_TO_BE_PICKED_UP: (
        frozenset({S.TRANSPORT_TO_BE_ARRANGED}),
        frozenset({Side.COMMAND, Side.ORIGIN}),
    ),
    S.IN_TRANSIT: (frozenset({S.PATIENT_TO_BE_PICKED_UP}), frozenset({Side.ORIGIN})),
    # Only the origin completes or cancels; terminal states lock.
    S.COMPLETED: (frozenset({S.IN_TRANSIT}), frozenset({Side.ORIGIN})),
    S.PATIENT_EXPIRED: (
        frozenset(
            {
                S.PENDING,
                S.ON_HOLD,
                S.APPROVED,
                S.DESTINATION_APPROVED,
                S.TRANSPORT_TO_BE_ARRANGED,
                S.PATIENT_TO_BE_PICKED_UP,
                S.IN_TRANSIT,
            }
        ),
        frozenset({Side.ORIGIN}),
    ),
    S.CANCELLED: (
        frozenset(
            {
                S.PENDING,
                S.ON_HOLD,
                S.APPROVED,
                S.DESTINATION_APPROVED,
                S.DESTINATION_REJECTED,
                S.TRANSPORT_TO_BE_ARRANGED,
                S.PATIENT_TO_BE_PICKED_UP,
            }
        ),
        frozenset({Side.ORIGIN}),
    ),
}
TERMINAL = frozenset({S.REJECTED, S.COMPLETED, S.PATIENT_EXPIRED, S.CANCELLED})


class NotFromHere(Exception):
    """The transition does not exist from the current state (409)."""


class NotYours(Exception):
    """The transition exists but not for the acting side (403)."""


def check(current: S, target: S, sides: frozenset[Side]) -> None:
    """Who may first (a move never theirs is refused whatever the state), then from where."""
    allowed_from, allowed_sides = TRANSITIONS.get(target, (frozenset(), frozenset()))
    if not sides & allowed_sides:
        raise NotYours(f"only {', '.join(sorted(s.value for s in allowed_sides))} may do this")
    if current in TERMINAL or current not in allowed_from:
        raise NotFromHere(f"a transfer that is {current.value} cannot become {target.value}")


def next_states(current: S, sides: frozenset[Side]) -> list[S]:
    """What the acting sides may move the transfer to now (the page's buttons)."""
    return [
        target
        for target, (allowed_from, allowed_sides) in TRANSITIONS.items()
        if current in allowed_from and current not in TERMINAL and sides & allowed_sides
    ]


@dataclass(frozen=True)
class Priority:
    score: int
    reasons: tuple[tuple[str, int], ...]  # (reason code, points), shown beside the score


def priority(
    *,
    emergency: bool,
    severity: int,
    waiting_minutes: int,
    distance_km: int | None,
    origin_level: int,
) -> Priority:
    """Higher first. Emergencies lead; severity weighs most after that; waiting time adds up to
    an hour's worth of points per half day; a far, low-level origin (a rural post hours from a
    hospital) is harder to serve later, so it adds a little."""
    reasons: list[tuple[str, int]] = []
    if emergency:
        reasons.append(("emergency", 50))
    reasons.append(("severity", 10 * max(1, min(5, severity))))
    waited = min(30, max(0, waiting_minutes) // 60 * 2)
    if waited:
        reasons.append(("waiting", waited))
    if distance_km is not None and distance_km >= 50:
        reasons.append(("distance", min(10, distance_km // 50 * 2)))
    if origin_level == 1:
        reasons.append(("level_1_origin", 5))
    return Priority(sum(points for _, points in reasons), tuple(reasons))
