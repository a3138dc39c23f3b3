"""The versioned tariff schedule: CSV upload (validated whole before anything is stored) and the
schedule in force at a service's time.

CSV columns: ``component,unit,amount[,description]``. ``amount`` is a decimal in the currency's
major unit with at most ``minor_unit`` decimals (``1250.50`` with minor unit 2); it is stored as
an integer count of minor units. Nothing is ever rounded on upload: more decimals are an error.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.errors import Conflict, ValidationFailed
from hub.models import Role
from hub.permissions import require
from insurance.errors import SEEDS_000_PRINT
from insurance.models import TariffItem, TariffSchedule, TariffUnit

COLUMNS = ("component", "unit", "amount", "description")
REQUIRED = ("component", "unit", "amount")
COMPONENT = re.compile(r"^[a-z0-9_]+(:[a-z0-9_]+)*$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_AMOUNT_MINOR = 10**15
MAX_ERRORS = 50
MAX_BYTES = 2 * 1024 * 1024
TARIFF_ADMINS = frozenset({Role.NATIONAL_ADMIN})
# SEEDS 000: printed film or paper is never a billable component.
_PRINT_WORDS = frozenset({"film", "paper", "print", "printing", "printed"})


def is_print_component(component: str) -> bool:
    """True for any component naming film or paper print (SEEDS 000), e.g. ``film_print:ct``."""
    return any(_PRINT_WORDS & set(seg.split("_")) for seg in component.lower().split(":"))


def lookup_chain(component: str) -> list[str]:
    """``consult:l2:pulmonology`` → itself, ``consult:l2``, ``consult`` (most specific first)."""
    parts = component.split(":")
    return [":".join(parts[:n]) for n in range(len(parts), 0, -1)]


@dataclass(frozen=True)
class ParsedItem:
    component: str
    unit: TariffUnit
    amount_minor: int
    description: str


def _amount(text: str, minor_unit: int) -> int:
    value = Decimal(text)
    if not value.is_finite():
        raise InvalidOperation
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > minor_unit:
        raise ValueError(f"more than {minor_unit} decimal places for this currency")
    minor = int(value.scaleb(minor_unit))
    if minor < 0:
        raise ValueError("must not be negative")
    if minor > MAX_AMOUNT_MINOR:
        raise ValueError("too large")
    return minor


def parse_csv(data: bytes, minor_unit: int) -> list[ParsedItem]:
    """Every row, or :class:`ValidationFailed` listing each bad line and column (1-based)."""
    errors: list[dict[str, object]] = []

    def bad(line: int, column: str | None, problem: str, code: str = "invalid") -> None:
        errors.append({"line": line, "column": column, "problem": problem, "code": code})

    if len(data) > MAX_BYTES:
        raise ValidationFailed(
            "The tariff file is too large.", details=[{"line": None, "problem": "too large"}]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValidationFailed(
            "The tariff file is not UTF-8 text.",
            details=[{"line": line, "column": None, "problem": "not UTF-8", "code": "encoding"}],
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise ValidationFailed(
            "The tariff file is empty.",
            details=[{"line": 1, "column": None, "problem": "no header", "code": "empty"}],
        ) from None
    names = [h.strip().lower() for h in header]
    for i, name in enumerate(names):
        if name not in COLUMNS:
            bad(1, header[i], f"unknown column; expected {', '.join(COLUMNS)}", "unknown_column")
    for name in REQUIRED:
        if name not in names:
            bad(1, name, "missing column", "missing_column")
    if len(set(names)) != len(names):
        bad(1, None, "a column appears twice", "duplicate_column")
    if errors:
        raise ValidationFailed("The tariff file's header is wrong.", details=errors)
    index = {name: i for i, name in enumerate(names)}
    items: list[ParsedItem] = []
    seen: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            if len(row) != len(names):
                bad(line, None, f"{len(row)} fields, expected {len(names)}", "field_count")
                continue
            component = row[index["component"]].strip()
            if not COMPONENT.match(component):
                bad(line, "component", "lower-case code, segments separated by ':'", "format")
            elif is_print_component(component):
                bad(line, "component", SEEDS_000_PRINT, "seeds_000_print_not_billable")
            elif component in seen:
                bad(line, "component", f"already on line {seen[component]}", "duplicate")
            else:
                seen[component] = line
            unit_text = row[index["unit"]].strip().lower()
            try:
                unit = TariffUnit(unit_text)
            except ValueError:
                bad(line, "unit", "one of: service, minute", "unit")
                unit = TariffUnit.SERVICE
            try:
                amount = _amount(row[index["amount"]].strip(), minor_unit)
            except (InvalidOperation, ValueError) as exc:
                problem = str(exc) if isinstance(exc, ValueError) and str(exc) else "not a number"
                bad(line, "amount", problem, "amount")
                amount = 0
            description = row[index["description"]].strip() if "description" in index else ""
            if len(description) > 200:
                bad(line, "description", "longer than 200 characters", "length")
            items.append(ParsedItem(component, unit, amount, description))
            if len(errors) >= MAX_ERRORS:
                break
    except csv.Error as exc:
        bad(reader.line_num, None, f"malformed CSV: {exc}", "csv")
    if not errors and not items:
        bad(2, None, "no tariff lines", "empty")
    if errors:
        raise ValidationFailed(
            f"The tariff file has {len(errors)} error(s); nothing was stored.", details=errors
        )
    return items


def upload(
    session: Session,
    principal: Principal,
    *,
    data: bytes,
    label: str,
    currency: str,
    minor_unit: int,
    effective_from: date,
) -> TariffSchedule:
    """Store a new schedule version from a CSV file, all of it or nothing."""
    action = "insurance:tariff:uploaded"
    require(principal, "admin", roles=TARIFF_ADMINS, action=action)
    problems = []
    if not CURRENCY.match(currency):
        problems.append({"field": "currency", "problem": "ISO 4217 code, e.g. IRR"})
    if not 0 <= minor_unit <= 4:
        problems.append({"field": "minor_unit", "problem": "between 0 and 4"})
    if not label.strip() or len(label) > 120:
        problems.append({"field": "label", "problem": "1 to 120 characters"})
    if problems:
        raise ValidationFailed("The schedule's parameters are invalid.", details=problems)
    items = parse_csv(data, minor_unit)
    if session.scalar(
        select(TariffSchedule.id).where(TariffSchedule.effective_from == effective_from)
    ):
        raise Conflict(
            "A schedule already takes effect on this date; a schedule never changes once stored.",
            code="schedule_exists",
            details={"effective_from": effective_from.isoformat()},
        )
    schedule = TariffSchedule(
        label=label.strip(),
        currency=currency,
        minor_unit=minor_unit,
        effective_from=effective_from,
        source_sha256=hashlib.sha256(data).hexdigest(),
        uploaded_by_id=principal.user_id,
    )
    session.add(schedule)
    session.flush()
    session.add_all(
        TariffItem(
            schedule_id=schedule.id,
            component=i.component,
            unit=i.unit,
            amount_minor=i.amount_minor,
            description=i.description,
        )
        for i in items
    )
    session.flush()
    audit.record(
        session,
        principal,
        action,
        object_type="tariff_schedule",
        object_id=schedule.id,
        details={"items": len(items), "effective_from": effective_from.isoformat()},
    )
    return schedule


def in_force(session: Session, on: date) -> TariffSchedule | None:
    """The schedule in force on a date: the latest to take effect on or before it."""
    return session.scalar(
        select(TariffSchedule)
        .where(TariffSchedule.effective_from <= on)
        .order_by(TariffSchedule.effective_from.desc())
        .limit(1)
    )


def schedules(
    session: Session, *, before: date | None = None, limit: int | None = None
) -> list[TariffSchedule]:
    """Schedules newest first; ``before`` (an effective date) and ``limit`` give one page."""
    stmt = select(TariffSchedule)
    if before is not None:
        stmt = stmt.where(TariffSchedule.effective_from < before)
    return list(session.scalars(stmt.order_by(TariffSchedule.effective_from.desc()).limit(limit)))


def price_of(session: Session, schedule: TariffSchedule, component: str) -> TariffItem | None:
    """The schedule's item for a component, falling back to its less specific codes."""
    chain = lookup_chain(component)
    rows = {
        row.component: row
        for row in session.scalars(
            select(TariffItem).where(
                TariffItem.schedule_id == schedule.id, TariffItem.component.in_(chain)
            )
        )
    }
    for code in chain:
        if code in rows:
            return rows[code]
    return None
