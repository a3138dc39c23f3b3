"""Signed, expiring, revocable links to a study's images (SEEDS 000: links replace film).

The token is signed with the hub's secret (a forged or garbled token is refused before any
database read) and only its SHA-256 is stored, so a leaked database holds no live link. Every
open is audited with the link as the actor.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from consult import services as consult_services
from hub import audit
from hub.auth.principal import Principal
from hub.errors import AccessDenied, Conflict, NotFound, ValidationFailed
from hub.models import Role, utcnow
from hub.permissions import CLINICAL_ROLES, require
from imaging.models import ImageLink, Study, StudyConsult
from imaging.services import get_study

LINK_CREATORS = CLINICAL_ROLES | {Role.FACILITY_ADMIN, Role.NATIONAL_ADMIN}
_SALT = "imaging-link"


class LinkRefused(Exception):
    """The token is forged, unknown, expired or revoked (the page says only that)."""


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=_SALT)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _require_sharer(session: Session, principal: Principal, study: Study, action: str) -> None:
    """Only the facility that owns the study, or the assigned specialist of a consult it is
    attached to, hands out (or withdraws) anonymous access to it: seeing a study, e.g. through
    an open offer, is not enough."""
    if principal.has_role(Role.NATIONAL_ADMIN) or principal.facility_id == study.facility_id:
        return
    consult_ids = list(
        session.scalars(select(StudyConsult.consult_id).where(StudyConsult.study_id == study.id))
    )
    if consult_services.assigned_any(session, principal.user_id, consult_ids):
        return
    raise AccessDenied(
        "Only the study's facility or the consult's assigned specialist shares this study.",
        action=action,
        object_type="study",
        object_id=study.id,
    )


def may_share(session: Session, principal: Principal, study: Study) -> bool:
    """Whether the principal may create and revoke the study's links (a page's buttons)."""
    if not principal.roles & LINK_CREATORS:
        return False
    try:
        _require_sharer(session, principal, study, "imaging:link:created")
    except AccessDenied:
        return False
    return True


def create_link(
    session: Session,
    principal: Principal,
    study_uid: str,
    *,
    secret_key: str,
    ttl_hours: int,
    max_ttl_hours: int,
) -> tuple[ImageLink, str]:
    """A new link and its token (shown once; only its digest is kept)."""
    action = "imaging:link:created"
    require(principal, "imaging:read", roles=LINK_CREATORS, action=action)
    if not 1 <= ttl_hours <= max_ttl_hours:
        raise ValidationFailed(
            f"A link lives 1 to {max_ttl_hours} hours.", details={"ttl_hours": ttl_hours}
        )
    study = get_study(session, principal, study_uid, purpose="viewed")
    _require_sharer(session, principal, study, action)
    token = _serializer(secret_key).dumps({"s": study.id, "n": secrets.token_urlsafe(24)})
    link = ImageLink(
        token_hash=_digest(token),
        study_id=study.id,
        created_by_id=principal.user_id,
        expires_at=utcnow() + timedelta(hours=ttl_hours),
    )
    session.add(link)
    session.flush()
    audit.record(
        session,
        principal,
        action,
        object_type="image_link",
        object_id=link.id,
        details={"study_id": study.id, "ttl_hours": ttl_hours},
    )
    return link, token


def list_links(
    session: Session,
    principal: Principal,
    study_uid: str,
    *,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[ImageLink]:
    """The study's links, oldest first: all of them, or ``limit`` after the id ``after_id``."""
    study = get_study(session, principal, study_uid, purpose="links_viewed")
    stmt = select(ImageLink).where(ImageLink.study_id == study.id)
    if after_id is not None:
        stmt = stmt.where(ImageLink.id > after_id)
    return list(session.scalars(stmt.order_by(ImageLink.id).limit(limit)))


def revoke_link(session: Session, principal: Principal, study_uid: str, link_id: int) -> ImageLink:
    action = "imaging:link:revoked"
    require(principal, "imaging:read", roles=LINK_CREATORS, action=action)
    study = get_study(session, principal, study_uid, purpose="viewed")
    _require_sharer(session, principal, study, action)
    link = session.scalar(
        select(ImageLink).where(ImageLink.id == link_id, ImageLink.study_id == study.id)
    )
    if link is None:
        raise NotFound("Not found.")
    if link.revoked_at is not None:
        raise Conflict("The link was already revoked.", code="already_revoked")
    link.revoked_at = utcnow()
    link.revoked_by_id = principal.user_id
    audit.record(
        session,
        principal,
        action,
        object_type="image_link",
        object_id=link.id,
        details={"study_id": study.id},
    )
    return link


def link_principal(link: ImageLink) -> Principal:
    """Who acts when a link is opened: the link itself, seeing one study and nothing else."""
    return Principal(kind="link", via="link", client_id=f"link:{link.id}")


def open_link(
    session: Session,
    token: str,
    *,
    secret_key: str,
    what: str = "opened",
    count: bool = True,
    audited: bool = True,
) -> tuple[ImageLink, Study]:
    """The link and its study if the token is good; audits the open (and any refusal).

    Frames fetched by an opened viewer pass ``audited=False``: the open itself is the audited
    read, and one event per scrolled slice would bury it.
    """
    try:
        payload = _serializer(secret_key).loads(token)
    except BadSignature:
        raise LinkRefused("bad signature") from None
    link = session.scalar(select(ImageLink).where(ImageLink.token_hash == _digest(token)))
    if link is None or not isinstance(payload, dict) or payload.get("s") != link.study_id:
        raise LinkRefused("unknown link")
    now = utcnow()
    if link.revoked_at is not None or link.expires_at <= now:
        audit.record(
            session,
            link_principal(link),
            f"imaging:link:{what}",
            outcome="denied",
            object_type="image_link",
            object_id=link.id,
            details={"reason": "revoked" if link.revoked_at else "expired"},
        )
        session.commit()
        raise LinkRefused("expired or revoked")
    study = session.get_one(Study, link.study_id)
    if count:
        session.execute(
            update(ImageLink).where(ImageLink.id == link.id).values(opens=ImageLink.opens + 1)
        )
    if audited:
        audit.record(
            session,
            link_principal(link),
            f"imaging:link:{what}",
            object_type="image_link",
            object_id=link.id,
            details={"study_id": study.id},
        )
    return link, study


def expires_in(link: ImageLink) -> timedelta:
    return max(timedelta(0), link.expires_at - utcnow())
