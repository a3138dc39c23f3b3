"""CSV cells a spreadsheet will not run as formulas (OWASP "CSV injection").

A text cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by
spreadsheet programs as a formula; a leading apostrophe makes it plain text and is not shown.
Numbers are written as numbers: a negative amount is not a formula. Every CSV the hub writes
passes its text cells through :func:`cell` (rows built in Python) or :func:`sql_cell` (rows the
database writes itself, as ``COPY`` does).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, case, func, literal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """``value``, with an apostrophe in front when it is text a spreadsheet would evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def row(values: tuple[Any, ...] | list[Any]) -> list[Any]:
    return [cell(v) for v in values]


def sql_cell(column: ColumnElement[Any]) -> ColumnElement[str]:
    """The same rule in SQL, for text the database writes to CSV itself."""
    first = func.substr(column, 1, 1)
    return case(
        (first.in_(FORMULA_STARTS), literal("'", String) + column),
        else_=column,
    )
