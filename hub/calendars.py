"""Dates in the reader's calendar where the server writes them itself (signed PDFs).

Pages leave this to the browser (``<time>`` and Intl, see hub.js). A PDF is rendered on the
server: Persian documents give the Solar Hijri date with the Gregorian one beside it (a
document may be read abroad or by an insurer's system); other languages get Babel's
localised Gregorian date.
"""

from __future__ import annotations

from datetime import date, datetime

import jdatetime
from babel.dates import format_date as babel_date

# jdatetime's month names, in Persian, without changing its process-wide locale.
PERSIAN_MONTHS = (
    "فروردین",
    "اردیبهشت",
    "خرداد",
    "تیر",
    "مرداد",
    "شهریور",
    "مهر",
    "آبان",
    "آذر",
    "دی",
    "بهمن",
    "اسفند",
)
PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def solar_hijri(value: date) -> tuple[int, int, int]:
    """(year, month, day) of ``value`` in the Solar Hijri calendar."""
    j = jdatetime.date.fromgregorian(date=value)
    return j.year, j.month, j.day


def format_date(value: date | datetime | str | None, locale: str) -> str:
    """``value`` (a date, a datetime or an ISO date) as a reader of ``locale`` writes it."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.date()
    if locale == "fa":
        year, month, day = solar_hijri(value)
        persian = f"{day} {PERSIAN_MONTHS[month - 1]} {year}".translate(PERSIAN_DIGITS)
        return f"{persian} ({value.isoformat()})"
    return babel_date(value, format="long", locale=locale)


def format_datetime(value: datetime, locale: str) -> str:
    """A UTC instant: the date as :func:`format_date` writes it, then the time and "UTC"."""
    clock = value.strftime("%H:%M")
    if locale == "fa":
        clock = clock.translate(PERSIAN_DIGITS)
    return f"{format_date(value, locale)} {clock} UTC"
