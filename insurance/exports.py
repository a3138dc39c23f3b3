"""Insurer exports: incremental pulls by opaque cursor, streamed as CSV, JSON lines or FHIR R4
``Claim`` bundles with flat memory.

A pull is recorded (and audited) before any byte is sent: it fixes the part of the insurer's
export queue it covers, ``(after, upto]`` of ``insurance_claim_release.id``, and issues the cursor
for the next pull. Rows are then read through a server-side cursor on PostgreSQL (``yield_per``)
and written chunk by chunk; on PostgreSQL the CSV itself is produced by ``COPY ... TO STDOUT``
of the same query.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, Select, String, and_, case, func, literal, select, text, type_coerce
from sqlalchemy.orm import Session

from hub import audit, spreadsheet
from hub.auth.principal import Principal
from hub.errors import AccessDenied, BadRequest
from hub.models import Facility, Insurer, Patient, Role
from hub.permissions import require
from insurance.models import Claim, ClaimRelease, InsurerPull, TariffSchedule

FORMATS = ("csv", "jsonl", "fhir")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "fhir": "application/fhir+ndjson",
}
CSV_COLUMNS = (
    "claim_id",
    "kind",
    "original_claim_id",
    "service_type",
    "service_id",
    "document_id",
    "patient_id_country",
    "patient_national_id",
    "coverage",
    "member_id",
    "facility_code",
    "service_at",
    "created_at",
    "currency",
    "minor_unit",
    "total_minor",
    "basic_minor",
    "supplementary_minor",
    "patient_minor",
    "insurer_share_minor",
    "tariff_schedule_id",
    "components",
)
YIELD_PER = 5000
BUNDLE_SIZE = 100
CLAIM_SYSTEM = "urn:telemedicine-hub:claim"
COMPONENT_SYSTEM = "urn:telemedicine-hub:tariff-component"
FACILITY_SYSTEM = "urn:telemedicine-hub:facility"


@dataclass(frozen=True)
class Pull:
    id: int
    insurer_id: int
    insurer_code: str
    format: str
    after: int
    upto: int
    claims: int
    cursor: str


def start_pull(
    session: Session,
    principal: Principal,
    fmt: str,
    cursor: str | None,
    limit: int | None = None,
) -> Pull:
    """Record a pull of the insurer's claims after ``cursor`` (from the start without one)."""
    action = "insurance:claims:exported"
    require(principal, "claims:read", roles=frozenset({Role.INSURER}), action=action)
    if principal.insurer_id is None:
        raise AccessDenied("This account belongs to no insurer.", action=action)
    insurer = session.get_one(Insurer, principal.insurer_id)
    after = 0
    if cursor is not None:
        previous = session.scalar(
            select(InsurerPull).where(
                InsurerPull.cursor == cursor, InsurerPull.insurer_id == insurer.id
            )
        )
        if previous is None:
            raise BadRequest("Unknown cursor.", code="unknown_cursor")
        after = previous.upto_release_id
    if session.get_bind().dialect.name == "postgresql":
        # Waits for transactions still inserting into the queue, so no release with a smaller
        # id can commit after this pull's bound is read and be skipped by the cursor for good.
        session.execute(text("LOCK TABLE insurance_claim_release IN SHARE MODE"))
    mine = and_(ClaimRelease.insurer_id == insurer.id, ClaimRelease.id > after)
    if limit is not None:
        upto = session.scalar(
            select(ClaimRelease.id).where(mine).order_by(ClaimRelease.id).offset(limit - 1).limit(1)
        )
        if upto is None:
            upto = session.scalar(select(func.max(ClaimRelease.id)).where(mine))
    else:
        upto = session.scalar(select(func.max(ClaimRelease.id)).where(mine))
    upto = int(upto) if upto is not None else after
    count = int(
        session.scalar(
            select(func.count()).select_from(ClaimRelease).where(mine, ClaimRelease.id <= upto)
        )
        or 0
    )
    row = InsurerPull(
        insurer_id=insurer.id,
        cursor=secrets.token_urlsafe(32),
        after_release_id=after,
        upto_release_id=upto,
        format=fmt,
        claims=count,
        client_id=principal.client_id,
        user_id=principal.user_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        principal,
        action,
        object_type="insurer",
        object_id=insurer.id,
        details={"pull": row.id, "format": fmt, "claims": count, "after": after, "upto": upto},
    )
    return Pull(row.id, insurer.id, insurer.code, fmt, after, upto, count, row.cursor)


def _stamp_sql(column: Any, dialect: str | None) -> Any:
    """A UTC timestamp column as ``YYYY-MM-DDTHH:MM:SSZ`` text, formatted by the database."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    if dialect == "sqlite":  # stored as naive UTC text
        return func.strftime("%Y-%m-%dT%H:%M:%SZ", column)
    return column


def export_query(pull: Pull, dialect: str | None = None, *, csv: bool = False) -> Select[Any]:
    """One row per claim released to the insurer in the pull's range, in queue order.

    With a dialect, the database formats the timestamps and the kind is read as plain text, so
    rows need no per-value conversion in Python. With ``csv``, text cells a spreadsheet would
    run as formulas are neutralised by the database (for ``COPY``)."""
    basic = Claim.basic_insurer_id == pull.insurer_id
    kind = type_coerce(Claim.kind, String) if dialect else Claim.kind

    def text(column: Any, name: str) -> Any:
        return (spreadsheet.sql_cell(column) if csv else column).label(name)

    return (
        select(
            Claim.id,
            kind.label("kind"),
            Claim.original_id,
            text(Claim.service_type, "service_type"),
            Claim.service_id,
            text(Claim.document_public_id, "document_public_id"),
            text(Patient.id_country, "id_country"),
            text(Patient.national_id, "national_id"),
            case((basic, literal("basic")), else_=literal("supplementary")).label("coverage"),
            text(
                case((basic, Claim.basic_member_id), else_=Claim.supplementary_member_id),
                "member_id",
            ),
            text(Facility.code, "facility_code"),
            _stamp_sql(Claim.service_at, dialect).label("service_at"),
            _stamp_sql(Claim.created_at, dialect).label("created_at"),
            Claim.currency,
            TariffSchedule.minor_unit,
            Claim.total_minor,
            Claim.basic_minor,
            Claim.supplementary_minor,
            Claim.patient_minor,
            case((basic, Claim.basic_minor), else_=Claim.supplementary_minor).label(
                "insurer_share_minor"
            ),
            Claim.tariff_schedule_id,
            text(Claim.components_text, "components_text"),
        )
        .select_from(ClaimRelease)
        .join(Claim, Claim.id == ClaimRelease.claim_id)
        .join(Patient, Patient.id == Claim.patient_id)
        .join(Facility, Facility.id == Claim.facility_id)
        .join(TariffSchedule, TariffSchedule.id == Claim.tariff_schedule_id)
        .where(
            ClaimRelease.insurer_id == pull.insurer_id,
            ClaimRelease.id > pull.after,
            ClaimRelease.id <= pull.upto,
        )
        .order_by(ClaimRelease.id)
    )


def _rows(engine: Engine, pull: Pull) -> Iterator[tuple[Any, ...]]:
    """Rows in chunks of ``YIELD_PER`` through a server-side cursor (flat memory)."""
    query = export_query(pull, engine.dialect.name)
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=YIELD_PER).execute(query)
        for partition in result.partitions():
            yield from partition


def _csv_header() -> bytes:
    return (",".join(CSV_COLUMNS) + "\n").encode()


def stream_csv(engine: Engine, pull: Pull) -> Iterator[bytes]:
    yield _csv_header()
    if engine.dialect.name == "postgresql":
        yield from _copy_csv(engine, pull)
    else:
        yield from _python_csv(engine, pull)


def _python_csv(engine: Engine, pull: Pull) -> Iterator[bytes]:
    """CSV written row by row in Python (SQLite; and PostgreSQL's reference in the benchmark)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for n, cells in enumerate(_rows(engine, pull), start=1):
        writer.writerow(spreadsheet.row(cells))
        if n % 1000 == 0:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue().encode()


def _copy_csv(engine: Engine, pull: Pull) -> Iterator[bytes]:
    """The same query through ``COPY ... TO STDOUT (FORMAT csv)``, streamed as it arrives."""
    sql = str(
        export_query(pull, engine.dialect.name, csv=True).compile(
            dialect=engine.dialect, compile_kwargs={"literal_binds": True}
        )
    )
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
            pending: list[bytes] = []
            size = 0
            for chunk in copy:
                pending.append(bytes(chunk))
                size += len(chunk)
                if size >= 256 * 1024:
                    yield b"".join(pending)
                    pending, size = [], 0
            if pending:
                yield b"".join(pending)
        raw.commit()
    finally:
        raw.close()


def _record(cells: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(CSV_COLUMNS, cells, strict=True))


def stream_jsonl(engine: Engine, pull: Pull) -> Iterator[bytes]:
    lines: list[str] = []
    for cells in _rows(engine, pull):
        rec = _record(cells)
        rec["components"] = _components(rec["components"])
        lines.append(json.dumps(rec, ensure_ascii=False, separators=(",", ":")))
        if len(lines) >= 1000:
            yield ("\n".join(lines) + "\n").encode()
            lines = []
    if lines:
        yield ("\n".join(lines) + "\n").encode()


def _components(text_value: str) -> list[dict[str, Any]]:
    out = []
    for part in filter(None, text_value.split(";")):
        code_qty, amount = part.rsplit("=", 1)
        code, qty = code_qty.rsplit("*", 1)
        out.append({"component": code, "quantity": int(qty), "amount_minor": int(amount)})
    return out


def _money(minor: int, minor_unit: int, currency: str) -> dict[str, Any]:
    # Exact decimal value; amounts stay far below 2**53 minor units, so the shortest float repr
    # JSON writes is the same decimal.
    value = Decimal(minor).scaleb(-minor_unit)
    return {"value": int(value) if minor_unit == 0 else float(value), "currency": currency}


def fhir_claim(rec: dict[str, Any], insurer_code: str) -> dict[str, Any]:
    """A FHIR R4 ``Claim`` of one export record."""
    unit, cur = int(rec["minor_unit"]), rec["currency"]
    items = []
    for i, part in enumerate(_components(rec["components"]), start=1):
        qty = part["quantity"]
        items.append(
            {
                "sequence": i,
                "productOrService": {
                    "coding": [{"system": COMPONENT_SYSTEM, "code": part["component"]}]
                },
                "quantity": {"value": qty},
                "unitPrice": _money(part["amount_minor"] // qty if qty else 0, unit, cur),
                "net": _money(part["amount_minor"], unit, cur),
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "Claim",
        "id": str(rec["claim_id"]),
        "identifier": [
            {"system": CLAIM_SYSTEM, "value": str(rec["claim_id"])},
            {
                "system": f"urn:telemedicine-hub:service:{rec['service_type']}",
                "value": str(rec["service_id"]),
            },
        ],
        "status": "active",
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/claim-type",
                    "code": "professional",
                }
            ]
        },
        "use": "claim",
        "patient": {
            "identifier": {
                "system": f"urn:telemedicine-hub:national-id:{rec['patient_id_country']}",
                "value": rec["patient_national_id"],
            }
        },
        "billablePeriod": {"start": rec["service_at"]},
        "created": rec["created_at"],
        "provider": {"identifier": {"system": FACILITY_SYSTEM, "value": rec["facility_code"]}},
        "priority": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/processpriority",
                    "code": "normal",
                }
            ]
        },
        "insurance": [
            {
                "sequence": 1,
                "focal": True,
                "coverage": {
                    "identifier": {
                        "system": f"urn:telemedicine-hub:insurer:{insurer_code}:member",
                        "value": rec["member_id"],
                    },
                    "display": rec["coverage"],
                },
            }
        ],
        "total": _money(int(rec["total_minor"]), unit, cur),
    }
    if items:
        resource["item"] = items
    if rec["document_id"]:
        resource["supportingInfo"] = [
            {
                "sequence": 1,
                "category": {"coding": [{"code": "signed-document"}]},
                "valueReference": {
                    "identifier": {
                        "system": "urn:telemedicine-hub:signed-document",
                        "value": rec["document_id"],
                    }
                },
            }
        ]
    if rec["original_claim_id"] is not None:
        resource["related"] = [
            {
                "claim": {
                    "identifier": {"system": CLAIM_SYSTEM, "value": str(rec["original_claim_id"])}
                },
                "relationship": {"coding": [{"code": "prior"}]},
                "reference": {"value": rec["kind"]},
            }
        ]
    return resource


def fhir_bundle(claims: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"{CLAIM_SYSTEM}:{c['id']}", "resource": c} for c in claims],
    }


def validate_bundle(bundle: dict[str, Any]) -> None:
    """Raises when the bundle is not valid FHIR R4 (R4B models; ``Claim`` is unchanged in R4B)."""
    # fhir.resources takes ~0.2 s to import; only FHIR exports need it, not every process.
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(bundle)


def stream_fhir(engine: Engine, pull: Pull) -> Iterator[bytes]:
    """One validated FHIR ``Bundle`` (type collection) of up to ``BUNDLE_SIZE`` claims per line."""
    batch: list[dict[str, Any]] = []

    def flush() -> bytes:
        bundle = fhir_bundle(batch)
        validate_bundle(bundle)
        return (json.dumps(bundle, ensure_ascii=False, separators=(",", ":")) + "\n").encode()

    for cells in _rows(engine, pull):
        batch.append(fhir_claim(_record(cells), pull.insurer_code))
        if len(batch) >= BUNDLE_SIZE:
            yield flush()
            batch = []
    if batch:
        yield flush()


def stream(engine: Engine, pull: Pull) -> Iterator[bytes]:
    if pull.format == "csv":
        return stream_csv(engine, pull)
    if pull.format == "jsonl":
        return stream_jsonl(engine, pull)
    return stream_fhir(engine, pull)
