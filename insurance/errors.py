"""Insurance errors that name the rule they enforce."""

from __future__ import annotations

from typing import Any

from hub.errors import ValidationFailed

SEEDS_000_PRINT = (
    "SEEDS 000: no fee may be charged for printed film or paper; only the approved tariffs "
    "of electronic services may be billed."
)


class PrintNotBillable(ValidationFailed):
    """Film or paper print as a billable component (SEEDS 000)."""

    code = "seeds_000_print_not_billable"

    def __init__(self, component: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(
            f"{component!r} is not billable. {SEEDS_000_PRINT}",
            details={"component": component, "rule": "SEEDS 000", **(details or {})},
        )


class CannotPrice(Exception):
    """A service could not be priced; the claim is kept for review with ``reason``."""

    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details
