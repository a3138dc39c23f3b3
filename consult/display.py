"""Words the consult pages show for what the hub stores as codes: timeline events, routing-trace
lines and live statuses, in the reader's language.

Stored data stays language-neutral: an event keeps its ``kind`` and details, a routing trace
keeps the lines of ``consult.routing`` (a fixed grammar, also in the API). They are translated
here, when a page is rendered; a line this module does not recognise is shown as stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import pgettext

from consult.models import ConsultEvent, SpecialistState, Urgency
from consult.schemas import SPECIALTY_LABELS as SPECIALTY_LABELS  # other pages read it here
from consult.schemas import label_of_specialty
from hub.models import Specialty

URGENCY_LABELS = {
    Urgency.EMERGENCY: _l("Emergency"),
    Urgency.URGENT: _l("Urgent"),
    Urgency.ROUTINE: _l("Routine"),
}


def specialty_label(specialty: Specialty) -> str:
    return label_of_specialty(specialty.code, specialty.name)


def event_label(kind: str) -> str:
    """The timeline's name of an event kind (the kind itself if unknown, e.g. a new package's)."""
    labels: dict[str, Callable[[], str]] = {
        "submitted": lambda: _("Submitted"),
        "offered": lambda: _("Offered to specialists"),
        "status": lambda: _("Status changed"),
        "claimed": lambda: pgettext("consult", "Claimed by a specialist"),
        "declined": lambda: _("Declined"),
        "escalated": lambda: _("Escalated"),
        "rerouted": lambda: _("Re-routed"),
        "registered_after": lambda: _("Registered after the call"),
        "virtual_visit": lambda: _("Opened for a booked virtual visit"),
        "attachment": lambda: _("File attached"),
        "escalation_empty": lambda: _("Nobody found at this escalation stage"),
        "command_alerted": lambda: _("Command staff alerted"),
        "answer_overdue": lambda: _("Answer overdue"),
        "signed": lambda: _("Outcome signed by the consultant"),
        "outcome_countersigned": lambda: _("Outcome countersigned by the requester"),
        "prescription_signed": lambda: _("E-prescription signed"),
        "prescription_countersigned": lambda: _("E-prescription countersigned"),
        "referral_signed": lambda: _("Referral letter signed"),
        "referral_countersigned": lambda: _("Referral letter countersigned"),
        "video_session": lambda: _("Video session opened"),
    }
    found = labels.get(kind)
    return found() if found is not None else kind


# Reasons the hub itself writes into an event (a person's reason is shown as they wrote it).
SYSTEM_REASONS = {
    "nobody eligible at submission": _l("nobody on call was available when it was submitted"),
}
POOL_LABELS = {
    "university": _l("same university"),
    "region": _l("same macro-region"),
    "national": _l("national pool"),
}
STATE_LABELS = {
    SpecialistState.AVAILABLE: _l("Available"),
    SpecialistState.BUSY: _l("Busy"),
    SpecialistState.ON_BREAK: _l("On a break"),
    SpecialistState.OFF_SHIFT: _l("Off shift"),
}


def _tier(tier: str) -> str:
    """``university-L2`` / ``region-all`` as words."""
    if tier == "region-all":
        return _("everyone eligible in the macro-region")
    pool, _sep, level = tier.partition("-L")
    if pool in POOL_LABELS and level.isdigit():
        return _("%(pool)s, level %(level)s", pool=POOL_LABELS[pool], level=level)
    return tier


def event_details(event: ConsultEvent) -> list[str]:
    """Short translated facts of an event beyond its name and status change."""
    d: Mapping[str, Any] = event.details or {}
    found: list[str] = []
    stage = d.get("stage")
    if isinstance(stage, int) and stage > 0:
        found.append(_("stage %(stage)s", stage=stage))
    if event.kind == "offered":
        if isinstance(d.get("tier"), str):
            found.append(_tier(d["tier"]))
        people = d.get("specialists")
        if isinstance(people, list):
            found.append(_("%(count)s specialists", count=len(people)))
    reason = d.get("reason")
    if isinstance(reason, str) and reason in SYSTEM_REASONS:
        found.append(str(SYSTEM_REASONS[reason]))
    return found


def person_reason(event: ConsultEvent) -> str | None:
    """A reason a person wrote (a decline, a cancellation), shown as written."""
    reason = (event.details or {}).get("reason")
    if isinstance(reason, str) and reason not in SYSTEM_REASONS:
        return reason
    return None


@dataclass(frozen=True)
class TraceLine:
    text: str
    at: str | None = None  # an ISO 8601 instant the line begins with (a routing run)


def _skip_reason(reason: str) -> str:
    if reason == "already offered or declined":
        return _("already offered or declined")
    if reason == "not on call now":
        return _("not on call now")
    if reason == "paused":
        return _("paused")
    if m := re.fullmatch(r"status (\w+)", reason):
        try:
            return _("status: %(state)s", state=STATE_LABELS[SpecialistState(m[1])])
        except ValueError:
            return reason
    if m := re.fullmatch(r"at capacity \((\d+)/(\d+)\)", reason):
        return _("at capacity (%(active)s of %(limit)s cases)", active=m[1], limit=m[2])
    return reason


def _pool(name: str, level: str) -> str:
    return _("%(pool)s, level %(level)s", pool=POOL_LABELS[name], level=level)


_POOL = r"(university|region|national) pool, level (\d+)"
# (pattern, words): the lines consult.routing and consult.assignment write.
_LINES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], TraceLine]], ...] = (
    (
        re.compile(r"\[([0-9T:+.\-]+)\] routing at stage (\d+)"),
        lambda m: TraceLine(_("Routing at stage %(stage)s", stage=m[2]), at=m[1]),
    ),
    (
        re.compile(r"skip (\S+): (.+)"),
        lambda m: TraceLine(
            _("Passed over %(name)s: %(reason)s", name=m[1], reason=_skip_reason(m[2]))
        ),
    ),
    (
        re.compile(
            r"emergency: offered at once to all (\d+) eligible specialists of the region "
            r"\((.*)\); first claim wins"
        ),
        lambda m: TraceLine(
            _(
                "Emergency: offered at once to all %(count)s eligible specialists of the "
                "macro-region (%(names)s); the first to accept takes it",
                count=m[1],
                names=m[2],
            )
        ),
    ),
    (
        re.compile(r"emergency: nobody eligible in the region; trying national pool"),
        lambda m: TraceLine(
            _("Emergency: nobody eligible in the macro-region; trying the national pool")
        ),
    ),
    (
        re.compile(_POOL + r": nobody eligible"),
        lambda m: TraceLine(_("%(tier)s: nobody eligible", tier=_pool(m[1], m[2]))),
    ),
    (
        re.compile(_POOL + r": emergency offered to all (\d+)"),
        lambda m: TraceLine(
            _("%(tier)s: emergency, offered to all %(count)s", tier=_pool(m[1], m[2]), count=m[3])
        ),
    ),
    (
        re.compile(_POOL + r": (\d+) eligible; chose (\S+) \((\d+) active cases, .*\)"),
        lambda m: TraceLine(
            _(
                "%(tier)s: %(count)s eligible; chose %(name)s (%(active)s open cases: the "
                "least loaded, then the longest idle)",
                tier=_pool(m[1], m[2]),
                count=m[3],
                name=m[4],
                active=m[5],
            )
        ),
    ),
    (
        re.compile(r"no eligible specialist \((\d+) skipped\); escalation needed"),
        lambda m: TraceLine(
            _(
                "No eligible specialist (%(count)s passed over); the consult is escalated",
                count=m[1],
            )
        ),
    ),
    (
        re.compile(r"\.\.\. (\d+) more skipped"),
        lambda m: TraceLine(_("… %(count)s more passed over", count=m[1])),
    ),
)


def trace_line(line: str) -> TraceLine:
    for pattern, words in _LINES:
        if m := pattern.fullmatch(line):
            return words(m)
    return TraceLine(line)


def trace_lines(lines: Iterable[str]) -> list[TraceLine]:
    """The stored routing trace in the reader's language."""
    return [trace_line(line) for line in lines]
