"""The routing policy as a pure function."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from consult.routing import Candidate, Request, route, summarise

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def cand(
    uid: int,
    *,
    level: int = 2,
    uni: int | None = 1,
    region: int = 1,
    on_call: bool = True,
    state: str = "available",
    active: int = 0,
    cap: int = 5,
    idle_since: datetime | None = None,
    paused_until: datetime | None = None,
) -> Candidate:
    return Candidate(
        user_id=uid,
        username=f"s{uid}",
        level=level,
        university_id=uni,
        region_id=region,
        on_call=on_call,
        state=state,
        paused_until=paused_until,
        active_cases=active,
        max_concurrent=cap,
        last_assigned_at=idle_since,
    )


def req(urgency: str = "routine", **kw: object) -> Request:
    return Request(urgency=urgency, university_id=1, region_id=1, now=NOW, **kw)  # type: ignore[arg-type]


def test_same_university_level_2_first() -> None:
    decision = route(req(), [cand(1, level=3), cand(2, uni=2), cand(3), cand(4, region=2, uni=9)])
    assert decision.offer_to == [3]
    assert decision.tier == "university-L2"
    assert any("chose s3" in line for line in decision.trace)


def test_level_3_of_university_before_other_university() -> None:
    decision = route(req(), [cand(1, level=3), cand(2, uni=2)])
    assert decision.offer_to == [1]
    assert decision.tier == "university-L3"


def test_region_then_national_pool() -> None:
    assert route(req(), [cand(2, uni=2), cand(4, region=2, uni=9)]).offer_to == [2]
    national = route(req(), [cand(4, region=2, uni=9)])
    assert national.offer_to == [4] and national.tier == "national-L2"


def test_least_loaded_then_longest_idle() -> None:
    early = NOW - timedelta(hours=5)
    late = NOW - timedelta(minutes=5)
    assert route(req(), [cand(1, active=2), cand(2, active=1)]).offer_to == [2]
    assert route(req(), [cand(1, idle_since=late), cand(2, idle_since=early)]).offer_to == [2]
    assert route(req(), [cand(1, idle_since=late), cand(2, idle_since=None)]).offer_to == [2]


def test_ineligible_are_skipped_with_reasons() -> None:
    decision = route(
        req(),
        [
            cand(1, on_call=False),
            cand(2, state="busy"),
            cand(3, state="on_break"),
            cand(4, paused_until=NOW + timedelta(minutes=10)),
            cand(5, active=5, cap=5),
            cand(6),
        ],
    )
    assert decision.offer_to == [6]
    text = "\n".join(decision.trace)
    for reason in (
        "not on call now",
        "status busy",
        "status on_break",
        "paused",
        "at capacity (5/5)",
    ):
        assert reason in text


def test_expired_pause_is_eligible() -> None:
    assert route(req(), [cand(1, paused_until=NOW - timedelta(minutes=1))]).offer_to == [1]


def test_decliners_are_excluded() -> None:
    decision = route(req(excluded=frozenset({1})), [cand(1), cand(2, level=3)])
    assert decision.offer_to == [2]
    assert "skip s1: already offered or declined" in decision.trace


def test_emergency_goes_to_everyone_in_region_at_once() -> None:
    decision = route(
        req("emergency"),
        [
            cand(1),
            cand(2, level=3),
            cand(3, uni=2),
            cand(4, region=2, uni=9),
            cand(5, state="busy"),
        ],
    )
    assert sorted(decision.offer_to) == [1, 2, 3]
    assert decision.tier == "region-all"


def test_emergency_without_regional_cover_goes_national() -> None:
    decision = route(req("emergency"), [cand(4, region=2, uni=9), cand(5, region=3, uni=8)])
    assert sorted(decision.offer_to) == [4, 5]


def test_escalation_min_pool_skips_nearer_tiers() -> None:
    decision = route(req(min_pool=2), [cand(1), cand(4, region=2, uni=9)])
    assert decision.offer_to == [4]


def test_nobody_eligible() -> None:
    decision = route(req(), [cand(1, on_call=False)])
    assert decision.offer_to == [] and decision.tier is None
    assert "escalation needed" in decision.trace[-1]


def test_level_1_facilities_never_consult() -> None:
    assert route(req(), [cand(1, level=1)]).offer_to == []


def test_trace_summary_is_bounded() -> None:
    trace = [f"skip s{i}: not on call now" for i in range(500)] + ["university pool: chose s1"]
    short = summarise(trace, limit=50)
    assert len(short) <= 51
    assert short[-1] == "university pool: chose s1"
    assert any("more skipped" in line for line in short)
