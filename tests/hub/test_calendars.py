"""Server-written dates (signed PDFs) in the reader's calendar: Solar Hijri in Persian with the
Gregorian date beside it, Babel's localised dates elsewhere."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from hub.calendars import format_date, format_datetime, solar_hijri


@pytest.mark.parametrize(
    ("gregorian", "expected"),
    [
        (date(2026, 3, 21), (1405, 1, 1)),  # Nowruz 1405
        (date(2025, 3, 20), (1403, 12, 30)),  # the last day of a leap year
        (date(1990, 5, 14), (1369, 2, 24)),
        (date(2024, 12, 21), (1403, 10, 1)),  # the first of Dey
    ],
)
def test_solar_hijri_conversion(gregorian: date, expected: tuple[int, int, int]) -> None:
    assert solar_hijri(gregorian) == expected


def test_persian_dates_in_persian_digits_with_the_gregorian_beside() -> None:
    assert format_date(date(1990, 5, 14), "fa") == "۲۴ اردیبهشت ۱۳۶۹ (1990-05-14)"
    assert format_date("1990-05-14", "fa") == "۲۴ اردیبهشت ۱۳۶۹ (1990-05-14)"
    assert format_datetime(datetime(2026, 3, 21, 10, 5), "fa").endswith("۱۰:۰۵ UTC")  # noqa: RUF001


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "May 14, 1990"),
        ("ru", "14 мая 1990\u202fг."),  # noqa: RUF001 (a narrow no-break space, as CLDR)
        ("tr", "14 Mayıs 1990"),  # noqa: RUF001
        ("zh", "1990年5月14日"),
    ],
)
def test_other_languages_use_their_own_gregorian_forms(locale: str, expected: str) -> None:
    assert format_date(date(1990, 5, 14), locale) == expected


def test_missing_date_is_a_dash() -> None:
    assert format_date(None, "en") == "—"
    assert format_date("", "fa") == "—"
