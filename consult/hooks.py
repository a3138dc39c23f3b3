"""Hooks other packages register to act inside a consult's own transactions (e.g. billing a
signed outcome), so that consult never imports them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from hub.auth.principal import Principal

if TYPE_CHECKING:
    from consult.models import Consult

# (session, signer, consult, document kind code, document public id); called in the signing
# transaction after the document is certified. A hook must not raise for its own failures.
SignedHook = Callable[[Session, Principal, "Consult", str, str], None]
_signed_hooks: list[SignedHook] = []


def register_signed_hook(hook: SignedHook) -> None:
    if hook not in _signed_hooks:
        _signed_hooks.append(hook)


def document_signed(
    session: Session, principal: Principal, consult: Consult, kind_code: str, public_id: str
) -> None:
    """Run every registered hook for a newly signed consult document."""
    for hook in _signed_hooks:
        hook(session, principal, consult, kind_code, public_id)
