"""Who is acting: a person (session or token), a machine client, or the system itself."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.models import OAuthClient, Role, User
from hub.permissions import scopes_for_roles


@dataclass(frozen=True)
class Principal:
    kind: str  # user | client | system
    via: str  # session | personal_token | oauth | cli | task
    roles: frozenset[Role] = frozenset()
    scopes: frozenset[str] = frozenset()
    user_id: int | None = None
    username: str | None = None
    client_id: str | None = None
    facility_id: int | None = None
    region_id: int | None = None
    insurer_id: int | None = None
    specialty_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def actor_id(self) -> str | None:
        if self.kind == "user":
            return str(self.user_id)
        return self.client_id

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    def describe(self) -> str:
        return self.username or self.client_id or self.kind


SYSTEM = Principal(
    kind="system", via="task", roles=frozenset({Role.NATIONAL_ADMIN}), scopes=frozenset({"*"})
)


def user_principal(user: User, via: str, scopes: frozenset[str] | None = None) -> Principal:
    """A person's principal; scopes default to everything their roles allow."""
    roles = user.role_set
    allowed = scopes_for_roles(roles)
    region_id = user.region_id
    if region_id is None and user.facility is not None:
        region_id = user.facility.region_id
    return Principal(
        kind="user",
        via=via,
        roles=roles,
        scopes=allowed if scopes is None else allowed & scopes,
        user_id=user.id,
        username=user.username,
        facility_id=user.facility_id,
        region_id=region_id,
        insurer_id=user.insurer_id,
        specialty_ids=frozenset(s.id for s in user.specialties),
    )


def client_principal(client: OAuthClient, scopes: frozenset[str]) -> Principal:
    """A machine client acts with the role of the organisation it belongs to."""
    roles: frozenset[Role] = frozenset()
    region_id = None
    if client.insurer_id is not None:
        roles = frozenset({Role.INSURER})
    elif client.facility_id is not None:
        roles = frozenset({Role.FACILITY_ADMIN})
        region_id = client.facility.region_id if client.facility else None
    return Principal(
        kind="client",
        via="oauth",
        roles=roles,
        scopes=scopes,
        client_id=client.client_id,
        facility_id=client.facility_id,
        region_id=region_id,
        insurer_id=client.insurer_id,
    )
