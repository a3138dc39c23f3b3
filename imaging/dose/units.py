"""Dose units as vendors write them, normalised to the hub's four: mGy, mGy·cm, Gy·m², s.

UCUM says ``mGy.cm``, ``Gy.m2`` and ``s``; devices also write ``mGycm``, ``Gym2``,
``dGy*cm2``, ``uGy.m2``, ``Gy.cm^2``, ``ms`` or ``min``. A unit is read as a prefixed gray
times an optional prefixed metre to a power, so any such spelling converts by arithmetic
rather than by a list of known strings; a unit of the wrong dimension is refused (None).
"""

from __future__ import annotations

import re
from enum import Enum

_PREFIX = {
    "": 1.0,
    "k": 1e3,
    "d": 1e-1,
    "c": 1e-2,
    "m": 1e-3,
    "u": 1e-6,
    "µ": 1e-6,
    "μ": 1e-6,
    "n": 1e-9,
    "p": 1e-12,
}
_GRAY = re.compile(
    r"^(?P<p>[kdcmuµμnp]?)gy(?:[.*·_]?(?P<lp>[kdcmuµμ]?)m(?:\^?(?P<e>[23]))?)?$", re.IGNORECASE
)
_SECONDS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,
    "min": 60.0,
    "h": 3600.0,
}


class Quantity(Enum):
    """What a value measures, with the SI value of one hub unit and the metre power."""

    DOSE = ("mGy", 1e-3, 0)  # CTDIvol, SSDE, AGD, entrance exposure (as air kerma)
    DOSE_RP = ("Gy", 1.0, 0)  # dose at the reference point
    DLP = ("mGy·cm", 1e-5, 1)
    DAP = ("Gy·m²", 1.0, 2)
    TIME = ("s", 1.0, -1)

    def __init__(self, label: str, si: float, power: int) -> None:
        self.label = label
        self.si = si
        self.power = power


def _case_sensitive_prefix(text: str) -> str:
    # "Mgy" (a mega-gray) does not exist in dose reports; "MGy" is a shouted "mGy".
    return text.lower() if text[:1] in {"M"} else text


def convert(value: float, unit: str, quantity: Quantity) -> float | None:
    """``value`` in ``unit`` expressed in the hub's unit for ``quantity``; None if the unit
    is not one of that quantity (or not understood)."""
    text = unit.strip().replace(" ", "")
    if quantity is Quantity.TIME:
        factor = _SECONDS.get(text) or _SECONDS.get(text.lower())
        return None if factor is None else value * factor
    match = _GRAY.match(_case_sensitive_prefix(text))
    if match is None:
        return None
    length = match.group("lp")  # None when no metre follows the gray
    power = 0 if length is None else int(match.group("e") or 1)
    if power != quantity.power:
        return None
    si = _PREFIX[match.group("p")] * _PREFIX[length or ""] ** power
    return value * si / quantity.si
