"""Hooks other packages register to act inside imaging's own transactions (e.g. billing a signed
report), so that imaging never imports them."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from hub.auth.principal import Principal

# (session, signer, study id, document public id); called in the signing transaction after the
# report is certified. A hook must not raise for its own failures.
ReportSignedHook = Callable[[Session, Principal, int, str], None]
_report_signed_hooks: list[ReportSignedHook] = []


def register_report_signed_hook(hook: ReportSignedHook) -> None:
    if hook not in _report_signed_hooks:
        _report_signed_hooks.append(hook)


def report_signed(session: Session, principal: Principal, study_id: int, public_id: str) -> None:
    """Run every registered hook for a newly signed imaging report."""
    for hook in _report_signed_hooks:
        hook(session, principal, study_id, public_id)
