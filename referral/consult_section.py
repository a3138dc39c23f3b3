"""The consult page's referral part (the ``consult_page_sections`` seam): when the consult's
outcome says refer, the health post sees "Refer", opening the refer form filled in with the
patient, the specialty and the consult; once referred, a link to that referral instead (or to
the patient's live referral for the specialty, which took this consult's letter)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from consult import services as consults
from hub.auth.principal import Principal
from hub.hooks import ConsultPage
from hub.models import Specialty
from hub.permissions import REQUESTER_ROLES
from referral.access import referral_visibility
from referral.models import Referral
from referral.services import live_key

TEMPLATE = "referral/_consult_section.html"
REFER = "refer"  # consult's Disposition.REFER, by value


def context(session: Session, principal: Principal, page: ConsultPage) -> dict[str, Any]:
    """Shown to the consult's health post once the outcome's disposition is refer."""
    if not principal.roles & REQUESTER_ROLES or principal.facility_id is None:
        return {"shown": False}
    facts = consults.facts(session, page.consult_id)
    if facts is None or not facts.on_requester_side(principal):
        return {"shown": False}
    # The consult page has just read (and audited) this consult; its outcome says where to.
    consult = consults.get(session, principal, page.consult_id, purpose="viewed")
    outcome = consult.outcome
    if outcome is None or outcome.disposition.value != REFER:
        return {"shown": False}
    existing = session.scalar(
        select(Referral.id)
        .where(Referral.consult_id == page.consult_id, referral_visibility(principal))
        .order_by(Referral.id.desc())
        .limit(1)
    )
    live = False
    if existing is None:
        specialty_id = session.scalar(
            select(Specialty.id).where(Specialty.code == facts.specialty_code)
        )
        existing = session.scalar(
            select(Referral.id).where(
                Referral.live_key == live_key(page.patient_id, specialty_id or 0),
                referral_visibility(principal),
            )
        )
        live = existing is not None
    query = urlencode(
        {
            "patient_id": page.patient_id,
            "specialty": facts.specialty_code,
            "consult_id": page.consult_id,
        }
    )
    return {
        "shown": True,
        "refer_url": f"/referrals/new?{query}",
        "referral_id": existing,
        "live": live,  # the patient's live referral for the specialty, not this consult's own
    }
