"""National identity numbers of the countries whose rules the hub follows, with their checksums.

Turkish and Chinese numbers are checked by python-stdnum; it has no Iranian national code or
Russian SNILS, whose published check-digit rules are implemented here.
"""

from __future__ import annotations

import unicodedata

from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.tr import tckimlik


class InvalidNationalId(ValueError):
    pass


def _iran(value: str) -> str:
    digits = value.replace("-", "")
    if len(digits) != 10 or not digits.isdigit():
        raise InvalidNationalId("an Iranian national code has 10 digits")
    if len(set(digits)) == 1:
        raise InvalidNationalId("an Iranian national code cannot repeat one digit")
    total = sum(int(digits[i]) * (10 - i) for i in range(9)) % 11
    check = total if total < 2 else 11 - total
    if int(digits[9]) != check:
        raise InvalidNationalId("the Iranian national code's check digit is wrong")
    return digits


def _russia_snils(value: str) -> str:
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) != 11 or len(digits) != len(value.replace("-", "").replace(" ", "")):
        raise InvalidNationalId("a SNILS has 11 digits")
    total = sum(int(d) * (9 - i) for i, d in enumerate(digits[:9]))
    check = total % 101
    if check == 100:
        check = 0
    if int(digits[9:]) != check:
        raise InvalidNationalId("the SNILS check number is wrong")
    return digits


def _turkey(value: str) -> str:
    try:
        return str(tckimlik.validate(value))
    except StdnumError as exc:
        raise InvalidNationalId(f"not a valid T.C. Kimlik number: {exc}") from None


def _china(value: str) -> str:
    try:
        return str(ric.validate(value))
    except StdnumError as exc:
        raise InvalidNationalId(f"not a valid resident identity card number: {exc}") from None


VALIDATORS = {"IR": _iran, "RU": _russia_snils, "TR": _turkey, "CN": _china}
# Dashes people type or paste between groups of digits (hyphen, non-breaking hyphen, figure and
# en/em dashes, minus sign, small and full-width hyphen-minus).
_DASHES = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d")


def fold(value: str) -> str:
    """``value`` with every decimal digit as ASCII (Persian, Arabic-Indic, full-width
    and the other Unicode digit forms), without white space, dashes or invisible format marks
    (a pasted right-to-left mark): one number typed in any keyboard's digits is one text."""
    out: list[str] = []
    for ch in value:
        if ch.isspace() or ch in _DASHES or unicodedata.category(ch) == "Cf":
            continue
        digit = unicodedata.decimal(ch, None)
        out.append(str(digit) if digit is not None else ch)
    return "".join(out)


def normalise(country: str, value: str) -> str:
    """The canonical form of ``value`` for ``country``; raises :class:`InvalidNationalId`."""
    validator = VALIDATORS.get(country.upper())
    if validator is None:
        raise InvalidNationalId(f"national ids of country {country!r} are not supported")
    folded = fold(value)
    if not folded.isascii():
        raise InvalidNationalId("a national id has digits (and, in China, a final X) only")
    return validator(folded)


def make_iranian(prefix9: str) -> str:
    """Complete nine digits with their check digit (for demo data and tests)."""
    total = sum(int(prefix9[i]) * (10 - i) for i in range(9)) % 11
    return prefix9 + str(total if total < 2 else 11 - total)
