"""GET /api/v1/me: who the caller is."""

from __future__ import annotations

from hub import db
from hub.api.core import api_route
from hub.auth.principal import Principal
from hub.models import Facility, Insurer, MacroRegion, User
from hub.schemas import MeOut


def register() -> None:
    @api_route(
        "/me",
        summary="The caller's identity, roles, scope and token scopes",
        scope=None,
        tag="identity",
        response=MeOut,
    )
    def me(principal: Principal) -> MeOut:
        sess = db.session()
        facility = sess.get(Facility, principal.facility_id) if principal.facility_id else None
        region = sess.get(MacroRegion, principal.region_id) if principal.region_id else None
        insurer = sess.get(Insurer, principal.insurer_id) if principal.insurer_id else None
        user = sess.get(User, principal.user_id) if principal.user_id else None
        return MeOut(
            kind=principal.kind,
            username=principal.username,
            full_name=user.full_name if user else None,
            roles=sorted(r.value for r in principal.roles),
            scopes=sorted(principal.scopes),
            facility=facility.code if facility else None,
            region=region.code if region else None,
            insurer=insurer.code if insurer else None,
            client_id=principal.client_id,
            via=principal.via,
        )
