"""The transfer state machine's role gates and the priority score, as pure functions."""

from __future__ import annotations

import pytest

from referral.command.models import TransferStatus as S
from referral.command.rules import (
    TERMINAL,
    NotFromHere,
    NotYours,
    Side,
    check,
    next_states,
    priority,
)

ORIGIN, COMMAND, DEST = (frozenset({s}) for s in (Side.ORIGIN, Side.COMMAND, Side.DESTINATION))


def test_the_happy_path_moves_through_each_side() -> None:
    path = [
        (S.PENDING, S.APPROVED, COMMAND),
        (S.APPROVED, S.DESTINATION_APPROVED, DEST),
        (S.DESTINATION_APPROVED, S.TRANSPORT_TO_BE_ARRANGED, ORIGIN),
        (S.TRANSPORT_TO_BE_ARRANGED, S.PATIENT_TO_BE_PICKED_UP, COMMAND),
        (S.PATIENT_TO_BE_PICKED_UP, S.IN_TRANSIT, ORIGIN),
        (S.IN_TRANSIT, S.COMPLETED, ORIGIN),
    ]
    for current, target, side in path:
        check(current, target, side)


@pytest.mark.parametrize("side", [COMMAND, DEST])
def test_only_the_origin_cancels_or_completes(side: frozenset[Side]) -> None:
    with pytest.raises(NotYours):
        check(S.PENDING, S.CANCELLED, side)
    with pytest.raises(NotYours):
        check(S.IN_TRANSIT, S.COMPLETED, side)


def test_the_destination_cannot_approve_for_command() -> None:
    with pytest.raises(NotYours):
        check(S.PENDING, S.APPROVED, DEST | ORIGIN)


@pytest.mark.parametrize("terminal", sorted(TERMINAL, key=lambda s: s.value))
def test_terminal_states_lock(terminal: S) -> None:
    everyone = ORIGIN | COMMAND | DEST
    assert next_states(terminal, everyone) == []
    with pytest.raises(NotFromHere):
        check(terminal, S.PENDING, everyone)


def test_no_skipping_ahead() -> None:
    with pytest.raises(NotFromHere):
        check(S.PENDING, S.IN_TRANSIT, ORIGIN)


def test_the_pages_buttons_are_what_the_side_may_do() -> None:
    assert set(next_states(S.PENDING, COMMAND)) == {S.ON_HOLD, S.APPROVED, S.REJECTED}
    assert set(next_states(S.APPROVED, DEST)) == {S.DESTINATION_APPROVED, S.DESTINATION_REJECTED}
    assert S.CANCELLED in next_states(S.PENDING, ORIGIN)


def test_priority_weighs_emergency_then_severity_and_says_why() -> None:
    base = {"waiting_minutes": 0, "distance_km": None, "origin_level": 2}
    urgent = priority(emergency=True, severity=2, **base)
    severe = priority(emergency=False, severity=5, **base)
    mild = priority(emergency=False, severity=1, **base)
    assert urgent.score > severe.score > mild.score
    assert dict(urgent.reasons) == {"emergency": 50, "severity": 20}
    assert urgent.score == sum(points for _, points in urgent.reasons)


def test_waiting_distance_and_a_rural_origin_add_up_to_caps() -> None:
    far = priority(
        emergency=False, severity=3, waiting_minutes=48 * 60, distance_km=400, origin_level=1
    )
    assert dict(far.reasons) == {"severity": 30, "waiting": 30, "distance": 10, "level_1_origin": 5}
    near = priority(emergency=False, severity=3, waiting_minutes=59, distance_km=10, origin_level=2)
    assert dict(near.reasons) == {"severity": 30}
