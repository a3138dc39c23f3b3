"""Functions other packages register to run inside a domain's own transaction (billing a signed
document, moving records of a merged patient), so the domain never imports them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, ParamSpec

P = ParamSpec("P")


class Hooks(Generic[P]):
    """An ordered set of callbacks, each registered once (``init_app`` may run more than once)."""

    def __init__(self) -> None:
        self._hooks: list[Callable[P, None]] = []

    def register(self, hook: Callable[P, None]) -> None:
        if hook not in self._hooks:
            self._hooks.append(hook)

    def run(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """Call every hook in registration order; a hook's exception propagates."""
        for hook in self._hooks:
            hook(*args, **kwargs)
