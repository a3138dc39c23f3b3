"""Hooks other packages register to act inside a consult's own transactions (e.g. billing a
signed outcome), so that consult never imports them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from hub.auth.principal import Principal
from hub.hooks import Hooks

if TYPE_CHECKING:
    from consult.models import Consult

# (session, signer, consult, document kind code, document public id); called in the signing
# transaction after the document is certified. A hook must not raise for its own failures.
signed_hooks: Hooks[[Session, Principal, Consult, str, str]] = Hooks()
register_signed_hook = signed_hooks.register
document_signed = signed_hooks.run
