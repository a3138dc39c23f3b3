"""Login throttling, counted in the database so that every web process shares it.

The policy, in two parts:

1. **Per client address.** An address (an IPv6 address by its /64, which one client usually
   holds whole) may fail ``address_max_failures`` times within ``address_window_seconds``,
   whatever the accounts tried. Over that budget every login from the address is answered 429
   with ``Retry-After`` (when the oldest failure leaves the window), for every account, the
   right password included: password spraying across many accounts stops after a handful of
   guesses.
2. **Per account.** ``max_failures`` wrong passwords in a row lock the account for
   ``lockout_first_seconds``; each further wrong password doubles the lock, up to
   ``lockout_seconds``. A locked account refuses, without checking the password, only the
   addresses that failed against it since its last good login (or within the window). The right
   password from any other address still logs in, and a wrong one from there costs the guesser
   a doubled lock. So a guesser is slowed exponentially, while a stranger elsewhere cannot lock a
   clinician out; one behind the same address locks them out for the lock's length, which starts
   at a minute.

The client address is the connection's, unless ``trusted_proxies`` (``HUB_TRUSTED_PROXIES``)
says how many reverse proxies append to ``X-Forwarded-For``: only then is the header read, from
the right, so a client cannot forge its place in the budget.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hub.config import Settings
from hub.models import User
from hub.models.auth import LoginFailure

UNKNOWN_ADDRESS = "unknown"


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int = 5
    lockout_seconds: int = 900
    lockout_first_seconds: int = 60
    address_max_failures: int = 20
    address_window_seconds: int = 600

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginPolicy:
        return cls(
            max_failures=settings.login_max_failures,
            lockout_seconds=settings.login_lockout_seconds,
            lockout_first_seconds=settings.login_lockout_first_seconds,
            address_max_failures=settings.login_address_max_failures,
            address_window_seconds=settings.login_address_window_seconds,
        )

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.address_window_seconds)

    @property
    def kept_for(self) -> timedelta:
        """How long a failure matters to either rule, and so how long its row is kept."""
        return timedelta(seconds=max(self.address_window_seconds, self.lockout_seconds))

    def lock_for(self, failures: int) -> timedelta | None:
        """The lock after ``failures`` wrong passwords in a row, or None below the threshold."""
        if failures < self.max_failures:
            return None
        doublings = min(failures - self.max_failures, 32)  # 2**32 minutes is past any cap
        seconds = min(self.lockout_seconds, self.lockout_first_seconds * 2**doublings)
        return timedelta(seconds=seconds)


def client_address(remote_addr: str | None, forwarded_for: str | None, trusted_proxies: int) -> str:
    """The address a login is counted against (see the module's docstring)."""
    candidate = remote_addr
    if trusted_proxies and forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        if len(hops) >= trusted_proxies:
            candidate = hops[-trusted_proxies]
    try:
        ip = ipaddress.ip_address((candidate or "").strip())
    except ValueError:
        try:
            ip = ipaddress.ip_address((remote_addr or "").strip())
        except ValueError:
            return UNKNOWN_ADDRESS
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def address_retry_after(
    session: Session, address: str, policy: LoginPolicy, now: datetime
) -> int | None:
    """Seconds until ``address`` may try again, or None while it is within its budget."""
    since = now - policy.window
    count, oldest = session.execute(
        select(func.count(LoginFailure.id), func.min(LoginFailure.occurred_at)).where(
            LoginFailure.address == address, LoginFailure.occurred_at > since
        )
    ).one()
    if count < policy.address_max_failures or oldest is None:
        return None
    return max(1, math.ceil((oldest + policy.window - now).total_seconds()))


def failed_here(
    session: Session, address: str, user: User, policy: LoginPolicy, now: datetime
) -> bool:
    """Whether ``address`` failed against ``user`` since their last good login (or recently)."""
    since = now - policy.kept_for
    if user.last_login_at is not None and user.last_login_at > since:
        since = user.last_login_at
    found = session.scalar(
        select(LoginFailure.id)
        .where(
            LoginFailure.user_id == user.id,
            LoginFailure.address == address,
            LoginFailure.occurred_at > since,
        )
        .limit(1)
    )
    return found is not None


def record_failure(
    session: Session, address: str, user: User | None, policy: LoginPolicy, now: datetime
) -> None:
    """Count one wrong password (or unknown name) against the address and the account."""
    # Rows older than either rule are dead weight; dropping them here needs no periodic job.
    session.execute(delete(LoginFailure).where(LoginFailure.occurred_at < now - policy.kept_for))
    session.add(LoginFailure(address=address, user_id=user.id if user else None, occurred_at=now))
