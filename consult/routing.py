"""Routing policy: who is offered a consult, and a human-readable trace of why.

A pure function over plain values, so it is unit-tested without a database and fast enough to
run on every submission and escalation. The order of preference:

1. same specialty, on call now, available (not paused, below their concurrent-case limit),
   not among those who already declined or were offered;
2. nearest pool first: same university, then same macro-region, then the national pool;
   within a pool level 2 before level 3;
3. among the eligible of the first non-empty tier: least loaded, then longest idle.

Emergencies are offered at once to every eligible specialist of the region (university and
region pools, both levels); the first to claim wins. Only when the region has nobody does an
emergency go to the national pool.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

POOLS = ("university", "region", "national")
LEVELS = (2, 3)


@dataclass(frozen=True)
class Candidate:
    user_id: int
    username: str
    level: int
    university_id: int | None
    region_id: int
    on_call: bool
    state: str  # available | busy | on_break | off_shift
    paused_until: datetime | None
    active_cases: int
    max_concurrent: int
    last_assigned_at: datetime | None


@dataclass(frozen=True)
class Request:
    urgency: str
    university_id: int | None
    region_id: int
    now: datetime
    excluded: frozenset[int] = frozenset()
    # Escalation widens the search by skipping the nearest tiers (see consult.sla).
    min_pool: int = 0


@dataclass
class Decision:
    offer_to: list[int] = field(default_factory=list)
    tier: str | None = None
    trace: list[str] = field(default_factory=list)


def ineligible_reason(c: Candidate, req: Request) -> str | None:
    if c.user_id in req.excluded:
        return "already offered or declined"
    if not c.on_call:
        return "not on call now"
    if c.state != "available":
        return f"status {c.state}"
    if c.paused_until is not None and c.paused_until > req.now:
        return "paused"
    if c.active_cases >= c.max_concurrent:
        return f"at capacity ({c.active_cases}/{c.max_concurrent})"
    return None


def _pool_of(c: Candidate, req: Request) -> int:
    if req.university_id is not None and c.university_id == req.university_id:
        return 0
    if c.region_id == req.region_id:
        return 1
    return 2


def _idle_key(c: Candidate) -> tuple[int, float]:
    # Never assigned counts as idle the longest.
    if c.last_assigned_at is None:
        return (0, 0.0)
    return (1, c.last_assigned_at.timestamp())


def route(req: Request, candidates: Iterable[Candidate]) -> Decision:
    """Choose whom to offer the consult to; the candidates are of the right specialty."""
    decision = Decision()
    tiers: dict[tuple[int, int], list[Candidate]] = {}
    skipped = 0
    for c in candidates:
        reason = ineligible_reason(c, req)
        if reason is not None:
            skipped += 1
            decision.trace.append(f"skip {c.username}: {reason}")
            continue
        if c.level not in LEVELS:
            continue
        tiers.setdefault((_pool_of(c, req), c.level), []).append(c)
    if req.urgency == "emergency" and req.min_pool <= 1:
        regional = [c for (pool, _lvl), cs in sorted(tiers.items()) if pool <= 1 for c in cs]
        if regional:
            decision.offer_to = [c.user_id for c in regional]
            decision.tier = "region-all"
            decision.trace.append(
                f"emergency: offered at once to all {len(regional)} eligible specialists of "
                f"the region ({', '.join(c.username for c in regional)}); first claim wins"
            )
            return decision
        decision.trace.append("emergency: nobody eligible in the region; trying national pool")
    for pool_index, pool in enumerate(POOLS):
        if pool_index < req.min_pool:
            continue
        for level in LEVELS:
            tier = tiers.get((pool_index, level), [])
            label = f"{pool} pool, level {level}"
            if not tier:
                decision.trace.append(f"{label}: nobody eligible")
                continue
            if req.urgency == "emergency":
                decision.offer_to = [c.user_id for c in tier]
                decision.tier = f"{pool}-L{level}"
                decision.trace.append(f"{label}: emergency offered to all {len(tier)}")
                return decision
            best = min(tier, key=lambda c: (c.active_cases, _idle_key(c), c.user_id))
            decision.offer_to = [best.user_id]
            decision.tier = f"{pool}-L{level}"
            decision.trace.append(
                f"{label}: {len(tier)} eligible; chose {best.username} "
                f"({best.active_cases} active cases, least loaded then longest idle)"
            )
            return decision
    decision.trace.append(f"no eligible specialist ({skipped} skipped); escalation needed")
    return decision


def summarise(trace: Sequence[str], limit: int = 50) -> list[str]:
    """Keep stored traces bounded on very large rosters (skips are the bulk)."""
    if len(trace) <= limit:
        return list(trace)
    decisions = [t for t in trace if not t.startswith("skip ")]
    skips = [t for t in trace if t.startswith("skip ")]
    kept = skips[: max(0, limit - len(decisions) - 1)]
    return [*kept, f"... {len(skips) - len(kept)} more skipped", *decisions]
