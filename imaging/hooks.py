"""Hooks other packages register to act inside imaging's own transactions (e.g. billing a signed
report), so that imaging never imports them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from hub.auth.principal import Principal
from hub.hooks import Hooks

# (session, signer, study id, document public id); called in the signing transaction after the
# report is certified. A hook must not raise for its own failures.
report_signed_hooks: Hooks[[Session, Principal, int, str]] = Hooks()
register_report_signed_hook = report_signed_hooks.register
report_signed = report_signed_hooks.run
