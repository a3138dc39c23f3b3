"""Exam types, reference-level checks and effective-dose estimates.

Exam types come from the events' target regions (codes, SRT or SCT) and, failing those, from
the study and protocol descriptions. CT events above 80 mGy CTDIvol (body phantom) or 120 mGy
(head phantom) are flagged whatever the exam. Effective dose is an *estimate*: DLP times the
adult conversion coefficients of the European Guidelines on Quality Criteria for CT
(EUR 16262) as tabulated in AAPM Report 96 (2008), in mSv per mGy·cm.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

CTDIVOL_ALERT_BODY_MGY = 80.0
CTDIVOL_ALERT_HEAD_MGY = 120.0

HEAD = {"T-D1100^SRT", "69536005^SCT", "T-A0100^SRT", "12738006^SCT"}  # head, brain
NECK = {"T-D1600^SRT", "45048000^SCT"}
CHEST = {"T-D3000^SRT", "51185008^SCT", "T-28000^SRT", "39607008^SCT"}  # chest, lung
ABDOMEN = {"T-D4000^SRT", "818981001^SCT", "113345001^SCT"}
PELVIS = {"T-D6000^SRT", "816092008^SCT", "12921003^SCT"}
ABDOMEN_PELVIS = {"R-FAB57^SRT", "818982008^SCT", "416949008^SCT"}
TRUNK = {"T-D0010^SRT", "38266002^SCT"}  # "entire body"
BREAST = {"T-04000^SRT", "76752008^SCT"}

# mSv per mGy·cm (adult), by body region.
K_FACTORS = {
    "head": 0.0021,
    "neck": 0.0059,
    "chest": 0.014,
    "abdomen_pelvis": 0.015,
    "trunk": 0.015,
}

# Descriptions as facilities write them, in the hub's languages (first match wins).
_DESCRIPTION_RULES: Sequence[tuple[str, re.Pattern[str]]] = (
    ("head", re.compile(r"head|brain|skull|cran|kopf|kafa|beyin|голов|мозг|头|颅|سر|مغز", re.I)),
    ("chest", re.compile(r"chest|thora|lung|pulm|toraks|akciğer|груд|лёгк|легк|胸|肺|قفسه", re.I)),
    (
        "abdomen_pelvis",
        re.compile(r"abd|pelv|tap\b|kar\u0131n|живот|таз|腹|盆|شکم|لگن", re.I),
    ),
)


def region_of(code: str | None) -> str | None:
    if code is None:
        return None
    if code in HEAD:
        return "head"
    if code in NECK:
        return "neck"
    if code in CHEST:
        return "chest"
    if code in ABDOMEN | PELVIS | ABDOMEN_PELVIS:
        return "abdomen_pelvis"
    if code in TRUNK:
        return "trunk"
    if code in BREAST:
        return "breast"
    return None


def region_of_text(*texts: str | None) -> str | None:
    for text in texts:
        if not text:
            continue
        for region, pattern in _DESCRIPTION_RULES:
            if pattern.search(text):
                return region
    return None


# The exam types reference levels are kept for, and the modality each belongs to.
EXAM_MODALITY = {
    "ct_head": "CT",
    "ct_chest": "CT",
    "ct_abdomen_pelvis": "CT",
    "mammography_view": "MG",
    "chest_xray": "DX",
}
UNCLASSIFIED = "unclassified"


@dataclass(frozen=True)
class MappingRule:
    """A facility's rule: a description containing ``pattern`` is of ``exam_type``."""

    pattern: str
    exam_type: str  # a key of EXAM_MODALITY, or UNCLASSIFIED


def mapped(
    rules: Sequence[MappingRule], modality: str | None, texts: Iterable[str | None]
) -> str | None:
    """The exam type of the first facility rule matching one of the texts (the study's
    description first, then the protocols), for the study's modality; None when none does.
    A rule to another modality's exam type never applies."""
    folded = [t.casefold() for t in texts if t]
    for rule in rules:
        if rule.exam_type != UNCLASSIFIED and EXAM_MODALITY.get(rule.exam_type) != modality:
            continue
        needle = rule.pattern.casefold()
        if any(needle in text for text in folded):
            return rule.exam_type
    return None


@dataclass(frozen=True)
class EventFacts:
    uid: str | None
    ctdivol_mgy: float | None
    dlp_mgycm: float | None
    phantom: str | None
    agd_mgy: float | None
    region_code: str | None
    protocol: str | None


def exam_type(
    modality: str | None,
    description: str,
    events: Iterable[EventFacts],
    rules: Sequence[MappingRule] = (),
) -> str | None:
    """The exam type the reference levels are kept for, or None when it cannot be told.
    The facility's rules take precedence over the built-in ones below."""
    events = list(events)
    found = mapped(rules, modality, [description, *(e.protocol for e in events)])
    if found is not None:
        return None if found == UNCLASSIFIED else found
    if modality == "MG":
        return "mammography_view"
    regions = [region_of(e.region_code) for e in events]
    dosed = [r for e, r in zip(events, regions, strict=True) if r and (e.dlp_mgycm or 0) > 0]
    region = max(set(dosed), key=dosed.count) if dosed else None
    if region is None or region == "trunk":
        region = region_of_text(description, *(e.protocol for e in events)) or region
    if modality == "CT":
        return {
            "head": "ct_head",
            "chest": "ct_chest",
            "abdomen_pelvis": "ct_abdomen_pelvis",
        }.get(region or "")
    if modality == "DX" and region == "chest":
        return "chest_xray"
    return None


def effective_dose(events: Iterable[EventFacts], fallback_region: str | None) -> float | None:
    """Sum of DLP times k over the CT events whose region is known; None when none is."""
    total, any_known = 0.0, False
    for event in events:
        if event.dlp_mgycm is None:
            continue
        region = region_of(event.region_code)
        if region not in K_FACTORS:
            region = fallback_region
        k = K_FACTORS.get(region or "")
        if k is None:
            continue
        total += event.dlp_mgycm * k
        any_known = True
    return round(total, 3) if any_known else None


def ctdivol_alerts(events: Iterable[EventFacts]) -> list[tuple[EventFacts, float]]:
    """CT events above the CTDIvol alert value of their phantom."""
    found = []
    for event in events:
        if event.ctdivol_mgy is None:
            continue
        limit = CTDIVOL_ALERT_HEAD_MGY if event.phantom == "head" else CTDIVOL_ALERT_BODY_MGY
        if event.ctdivol_mgy > limit:
            found.append((event, limit))
    return found
