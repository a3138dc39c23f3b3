"""Staff accounts: creation with a scope that matches the role, passwords, login with lockout,
disabling (which ends every session and token of the account)."""

from __future__ import annotations

import re
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, Select, false, func, or_, select, true
from sqlalchemy.orm import Session, joinedload

from hub import audit
from hub.auth.principal import SYSTEM, Principal
from hub.auth.sessions import end_user_sessions
from hub.auth.throttle import UNKNOWN_ADDRESS, LoginPolicy, failed_here, record_failure
from hub.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from hub.models import Facility, Insurer, MacroRegion, Role, Specialty, User, UserRole, utcnow
from hub.permissions import REGION_ROLES, require
from hub.services.tokens import revoke_user_tokens

_hasher = PasswordHasher()
# Verified against when the username is unknown, so the answer takes as long either way.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
MIN_PASSWORD_LENGTH = 10
BAD_CREDENTIALS = "Wrong username or password, or the account is locked."

FACILITY_ROLES = frozenset(
    {Role.CHW, Role.NURSE, Role.GP, Role.SPECIALIST, Role.RADIOLOGIST, Role.FACILITY_ADMIN}
)


def role_holders(role: Role, *columns: Any) -> Select[Any]:
    """Active accounts holding ``role``, as a query of ``columns`` (default: their ids) for the
    caller to narrow further (a facility, a region)."""
    return (
        select(*(columns or (User.id,)))
        .join(UserRole, UserRole.user_id == User.id)
        .where(User.is_active.is_(True), UserRole.role == role)
    )


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    return _hasher.hash(password)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def create_user(
    session: Session,
    username: str,
    *,
    full_name: str,
    role: Role,
    facility_code: str | None = None,
    region_code: str | None = None,
    insurer_code: str | None = None,
    specialty_codes: tuple[str, ...] = (),
    password: str | None = None,
    licence_number: str | None = None,
    actor: Principal = SYSTEM,
) -> User:
    """An account bound to the scope its role needs: a facility, a region, an insurer or none."""
    if not USERNAME_PATTERN.match(username):
        raise ValidationFailed("Usernames are 2-63 lower-case letters, digits, '.', '_' or '-'.")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"User {username!r} already exists.", code="duplicate_username")
    user = User(username=username, full_name=full_name, licence_number=licence_number)
    if role in FACILITY_ROLES:
        if not facility_code:
            raise ValidationFailed(f"Role {role.value} needs --facility.")
        facility = session.scalar(select(Facility).where(Facility.code == facility_code))
        if facility is None:
            raise ValidationFailed(f"Unknown facility {facility_code!r}.")
        user.facility = facility
    elif role in REGION_ROLES:
        code = region_code
        if not code and facility_code:
            # Command staff may be named by a facility of their region, for convenience.
            fac = session.scalar(select(Facility).where(Facility.code == facility_code))
            if fac is None:
                raise ValidationFailed(f"Unknown facility {facility_code!r}.")
            user.region_id = fac.region_id
        elif code:
            region = session.scalar(select(MacroRegion).where(MacroRegion.code == code))
            if region is None:
                raise ValidationFailed(f"Unknown region {code!r}.")
            user.region = region
        else:
            raise ValidationFailed(f"Role {role.value} needs --region (or a facility in it).")
    elif role is Role.INSURER:
        insurer = session.scalar(select(Insurer).where(Insurer.code == insurer_code))
        if insurer is None:
            raise ValidationFailed(f"Role insurer needs a known --insurer (got {insurer_code!r}).")
        user.insurer = insurer
    if specialty_codes:
        specialties = list(
            session.scalars(select(Specialty).where(Specialty.code.in_(specialty_codes)))
        )
        missing = set(specialty_codes) - {s.code for s in specialties}
        if missing:
            raise ValidationFailed(f"Unknown specialty {sorted(missing)[0]!r}.")
        user.specialties = specialties
    if password is not None:
        user.password_hash = hash_password(password)
    user.roles = [UserRole(role=role)]
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "hub:user:created",
        object_type="user",
        object_id=user.id,
        details={"role": role.value},
    )
    return user


def set_password(session: Session, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    max_failures: int,
    lockout_seconds: int,
    address: str = UNKNOWN_ADDRESS,
    policy: LoginPolicy | None = None,
) -> User:
    """The user for these credentials; one message for every failure, so none leaks which part.

    Failures are counted per account and per client address as :mod:`hub.auth.throttle`
    describes; the caller checks the address's budget first (:func:`address_retry_after`).
    """
    policy = policy or LoginPolicy(
        max_failures=max_failures,
        lockout_seconds=lockout_seconds,
        lockout_first_seconds=min(lockout_seconds, LoginPolicy.lockout_first_seconds),
    )
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    now = utcnow()
    if user is None or user.password_hash is None or not user.is_active:
        _verify(_DUMMY_HASH, password)
        record_failure(session, address, None, policy, now)
        # Recorded without the typed name (it is sometimes a password typed in the wrong
        # field), so password spraying against made-up usernames still shows in the log.
        audit.record(
            session,
            SYSTEM,
            "hub:login:refused",
            object_type="user",
            object_id=user.id if user else None,
            outcome="denied",
            details={"reason": "unknown_or_inactive", "address": address},
        )
        raise Unauthorized(BAD_CREDENTIALS, code="invalid_credentials")
    locked = user.locked_until is not None and user.locked_until > now
    if locked and failed_here(session, address, user, policy, now):
        # Only the addresses that failed against the account wait; see hub.auth.throttle.
        _verify(_DUMMY_HASH, password)
        audit.record(
            session,
            SYSTEM,
            "hub:login:refused",
            object_type="user",
            object_id=user.id,
            outcome="denied",
            details={"reason": "locked", "address": address},
        )
        raise Unauthorized(BAD_CREDENTIALS, code="invalid_credentials")
    if not _verify(user.password_hash, password):
        user.failed_logins += 1
        record_failure(session, address, user, policy, now)
        details: dict[str, object] = {
            "reason": "password",
            "failures": user.failed_logins,
            "address": address,
        }
        lock = policy.lock_for(user.failed_logins)
        if lock is not None:
            user.locked_until = now + lock
            details["locked"] = True
            details["lock_seconds"] = int(lock.total_seconds())
        audit.record(
            session,
            SYSTEM,
            "hub:login:refused",
            object_type="user",
            object_id=user.id,
            outcome="denied",
            details=details,
        )
        raise Unauthorized(BAD_CREDENTIALS, code="invalid_credentials")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return user


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _user_named(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound(f"No user {username!r}.")
    return user


def disable_user(session: Session, username: str, actor: Principal = SYSTEM) -> User:
    """Disable an account: no login, and its sessions and tokens end at once (audited)."""
    user = _user_named(session, username)
    user.is_active = False
    sessions = end_user_sessions(session, user.id, "disabled")
    personal, oauth = revoke_user_tokens(session, user.id)
    audit.record(
        session,
        actor,
        "hub:user:disabled",
        object_type="user",
        object_id=user.id,
        details={"sessions": sessions, "personal_tokens": personal, "oauth_tokens": oauth},
    )
    return user


def enable_user(session: Session, username: str, actor: Principal = SYSTEM) -> User:
    """Let a disabled account log in again; its old sessions and tokens stay ended."""
    user = _user_named(session, username)
    user.is_active = True
    user.failed_logins = 0
    user.locked_until = None
    audit.record(session, actor, "hub:user:enabled", object_type="user", object_id=user.id)
    return user


# --- administration: who manages whom ---------------------------------------------------------

ADMIN_ROLES = frozenset({Role.FACILITY_ADMIN, Role.NATIONAL_ADMIN})


def require_admin(principal: Principal, action: str) -> None:
    """Refuse unless the principal administers accounts (a facility's or the nation's)."""
    require(principal, "admin", roles=ADMIN_ROLES, action=action)


def is_national_admin(principal: Principal) -> bool:
    return principal.kind == "system" or principal.has_role(Role.NATIONAL_ADMIN)


def assignable_roles(principal: Principal) -> tuple[Role, ...]:
    """The roles this administrator may give: a facility's staff roles, or every role."""
    if is_national_admin(principal):
        return tuple(Role)
    if principal.has_role(Role.FACILITY_ADMIN) and principal.facility_id is not None:
        return tuple(r for r in Role if r in FACILITY_ROLES)
    return ()


def managed_users(principal: Principal) -> ColumnElement[bool]:
    """A SQL condition on :class:`User` true for the accounts the principal administers."""
    if is_national_admin(principal):
        return true()
    if principal.has_role(Role.FACILITY_ADMIN) and principal.facility_id is not None:
        return User.facility_id == principal.facility_id
    return false()


def list_users(
    session: Session,
    principal: Principal,
    *,
    query: str | None = None,
    facility_id: int | None = None,
    active: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[User]:
    """The accounts the principal administers, by username; ``query`` matches the username or
    the full name."""
    require_admin(principal, "hub:user:listed")
    stmt = select(User).where(managed_users(principal))
    if query:
        pattern = f"%{query.strip().lower()}%"
        stmt = stmt.where(
            or_(func.lower(User.username).like(pattern), func.lower(User.full_name).like(pattern))
        )
    if facility_id is not None:
        stmt = stmt.where(User.facility_id == facility_id)
    if active is not None:
        stmt = stmt.where(User.is_active.is_(active))
    stmt = stmt.options(joinedload(User.facility), joinedload(User.region))
    return list(session.scalars(stmt.order_by(User.username).limit(limit).offset(offset)).unique())


def get_managed_user(session: Session, principal: Principal, user_id: int) -> User:
    """An account the principal administers; any other is not found (its existence is not
    told to another facility's administrator)."""
    require_admin(principal, "hub:user:viewed")
    user = session.scalar(select(User).where(User.id == user_id, managed_users(principal)))
    if user is None:
        raise NotFound("No such user.")
    return user


def set_user_active(session: Session, principal: Principal, user_id: int, *, active: bool) -> User:
    """Disable or enable an account the principal administers (never their own)."""
    user = get_managed_user(session, principal, user_id)
    if user.id == principal.user_id:
        raise Conflict("You cannot disable or enable your own account.", code="own_account")
    if active:
        return enable_user(session, user.username, actor=principal)
    return disable_user(session, user.username, actor=principal)
