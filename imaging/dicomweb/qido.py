"""QIDO-RS (PS3.18 10.6): search the index for studies, series and instances.

Matching follows PS3.4 C.2.2.2: single values (``*`` and ``?`` wildcards on text; person
names regardless of case), UID lists (``a,b`` or the key repeated), date ranges
(``YYYYMMDD-YYYYMMDD``, open at either end). A key the index does not hold is ignored with a
``Warning`` header, as PS3.18 8.3.4.1 allows; a key that names no attribute, or a malformed
value, is a 400 naming the problem.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session
from werkzeug.datastructures import MultiDict

from hub.errors import BadRequest
from imaging.dicom.parse import UID_PATTERN
from imaging.dicomweb import dicomjson as dj
from imaging.dicomweb.access import Access
from imaging.models import Instance, Series, Study

MAX_LIMIT = 1000
MAX_OFFSET = 2**31 - 1
MAX_VALUE = 256
RESERVED = frozenset({"includefield", "limit", "offset", "fuzzymatching"})
_DATE = re.compile(r"^\d{8}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class BadQuery(BadRequest):
    code = "bad_query"


def _bad(parameter: str, problem: str) -> BadQuery:
    return BadQuery(
        f"The query parameter {parameter} is malformed: {problem}.",
        details={"parameter": parameter, "problem": problem},
    )


@dataclass
class Query:
    """A parsed QIDO query: conditions per attribute, fields, paging, ignored keys."""

    values: dict[str, list[str]] = field(default_factory=dict)
    included: set[str] | None = None
    limit: int = MAX_LIMIT
    offset: int = 0
    limited: bool = False
    ignored: list[str] = field(default_factory=list)


def _int(args: MultiDict[str, str], key: str, low: int, high: int) -> int | None:
    raw = args.get(key)
    if raw is None:
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise _bad(key, f"expected a whole number from {low} to {high}")
    return int(raw)


def parse_query(args: MultiDict[str, str], matching: frozenset[str]) -> Query:
    """The query of a request; raises :class:`BadQuery` naming the first problem."""
    query = Query()
    limit = _int(args, "limit", 1, MAX_LIMIT)
    query.limit = limit or MAX_LIMIT
    query.limited = limit is None
    query.offset = _int(args, "offset", 0, MAX_OFFSET) or 0
    fuzzy = args.get("fuzzymatching")
    if fuzzy is not None and fuzzy not in ("true", "false"):
        raise _bad("fuzzymatching", "expected true or false")
    included = [v.strip() for raw in args.getlist("includefield") for v in raw.split(",")]
    if included:
        query.included = set()
        for name in included:
            if name == "all":
                query.included.add("all")
                continue
            tag = dj.tag_of(name)
            if tag is None:
                raise _bad("includefield", f"{name[:64]!r} is not a DICOM attribute")
            query.included.add(tag)
    for key in args:
        if key in RESERVED:
            continue
        tag = dj.tag_of(key)
        if tag is None:
            raise _bad(key[:64], "not a DICOM attribute keyword or tag")
        values = [v for raw in args.getlist(key) for v in raw.split(",")]
        for value in values:
            if len(value) > MAX_VALUE or _CONTROL.search(value):
                raise _bad(key[:64], "value too long or with control characters")
        if tag not in matching:
            query.ignored.append(dj.keyword_of(tag))
            continue
        query.values.setdefault(tag, []).extend(values)
    return query


# How each matched attribute reads in the index.
def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def _text(
    column: InstrumentedAttribute[str], *, fold: bool = False
) -> Callable[[str, list[str]], ColumnElement[bool]]:
    def condition(key: str, values: list[str]) -> ColumnElement[bool]:
        if len(values) != 1:
            raise _bad(dj.keyword_of(key), "one value expected")
        value = values[0]
        target = func.lower(column) if fold else column
        wanted = value.lower() if fold else value
        if "*" in value or "?" in value:
            return target.like(_like(wanted), escape="\\")
        return target == wanted

    return condition


def _uids(column: InstrumentedAttribute[str]) -> Callable[[str, list[str]], ColumnElement[bool]]:
    def condition(key: str, values: list[str]) -> ColumnElement[bool]:
        for value in values:
            if len(value) > 64 or not UID_PATTERN.match(value):
                raise _bad(dj.keyword_of(key), f"{value[:64]!r} is not a UID")
        return column.in_(values)

    return condition


def _codes(column: InstrumentedAttribute[str]) -> Callable[[str, list[str]], ColumnElement[bool]]:
    def condition(key: str, values: list[str]) -> ColumnElement[bool]:
        if any(not v or len(v) > 16 for v in values):
            raise _bad(dj.keyword_of(key), "empty or over-long code")
        return column.in_(values)

    return condition


def _number(
    column: InstrumentedAttribute[int | None],
) -> Callable[[str, list[str]], ColumnElement[bool]]:
    def condition(key: str, values: list[str]) -> ColumnElement[bool]:
        if len(values) != 1 or not values[0].lstrip("-").isdigit() or abs(int(values[0])) > 2**31:
            raise _bad(dj.keyword_of(key), "expected one whole number")
        return column == int(values[0])

    return condition


def _day(text: str, key: str) -> date:
    if not _DATE.match(text):
        raise _bad(key, f"{text[:16]!r} is not a date YYYYMMDD")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise _bad(key, f"{text!r} is not a calendar date") from None


def _dates(
    column: InstrumentedAttribute[date | None],
) -> Callable[[str, list[str]], ColumnElement[bool]]:
    def condition(key: str, values: list[str]) -> ColumnElement[bool]:
        name = dj.keyword_of(key)
        if len(values) != 1:
            raise _bad(name, "one date or range expected")
        value = values[0]
        if "-" not in value:
            return column == _day(value, name)
        start, _, end = value.partition("-")
        if not start and not end:
            raise _bad(name, "a range needs at least one end")
        low = _day(start, name) if start else None
        high = _day(end, name) if end else None
        if low and high and low > high:
            raise _bad(name, "the range ends before it starts")
        parts = []
        if low:
            parts.append(column >= low)
        if high:
            parts.append(column <= high)
        return parts[0] if len(parts) == 1 else parts[0] & parts[1]

    return condition


def _modalities(key: str, values: list[str]) -> ColumnElement[bool]:
    if any(not v or len(v) > 16 for v in values):
        raise _bad("ModalitiesInStudy", "empty or over-long modality")
    return Study.id.in_(select(Series.study_id).where(Series.modality.in_(values)))


Matcher = Callable[[str, list[str]], ColumnElement[bool]]
T = dj.tag_of
MATCHERS: dict[str | None, Matcher] = {
    T("StudyInstanceUID"): _uids(Study.study_instance_uid),
    T("PatientID"): _text(Study.dicom_patient_id),
    T("PatientName"): _text(Study.dicom_patient_name, fold=True),
    T("StudyDate"): _dates(Study.study_date),
    T("AccessionNumber"): _text(Study.accession_number),
    T("ModalitiesInStudy"): _modalities,
    T("StudyID"): _text(Study.study_id),
    T("StudyDescription"): _text(Study.description, fold=True),
    T("ReferringPhysicianName"): _text(Study.referring_physician, fold=True),
    T("SeriesInstanceUID"): _uids(Series.series_instance_uid),
    T("Modality"): _codes(Series.modality),
    T("SeriesNumber"): _number(Series.series_number),
    T("SeriesDescription"): _text(Series.description, fold=True),
    T("SOPInstanceUID"): _uids(Instance.sop_instance_uid),
    T("SOPClassUID"): _uids(Instance.sop_class_uid),
    T("InstanceNumber"): _number(Instance.instance_number),
}


def _where(stmt: Select, query: Query) -> Select:
    for tag, values in query.values.items():
        stmt = stmt.where(MATCHERS[tag](tag, values))
    return stmt


def _stored() -> ColumnElement[bool]:
    return Instance.path.is_not(None) & Instance.deleted_at.is_(None)


@dataclass(frozen=True)
class Found:
    """One page of answers and whether more were left off by the default limit."""

    items: list[dj.Json]
    truncated: bool


def _page(rows: list, query: Query) -> tuple[list, bool]:
    truncated = query.limited and len(rows) > query.limit
    return rows[: query.limit], truncated


def _select(known: Mapping[str, object], tags: list[str]) -> dj.Json:
    """The answer's elements: the attributes asked for that this level knows."""
    return {
        tag: dj.element(tag, known[tag])
        for tag in tags
        if tag in known and known[tag] is not _ABSENT
    }


_ABSENT = object()


def search_studies(session: Session, access: Access, query: Query, root: str) -> Found:
    stmt = _where(select(Study).where(access.studies()), query)
    rows = list(
        session.scalars(stmt.order_by(Study.id.desc()).offset(query.offset).limit(query.limit + 1))
    )
    rows, truncated = _page(rows, query)
    ids = [s.id for s in rows]
    modalities: dict[int, set[str]] = defaultdict(set)
    series_count: dict[int, int] = defaultdict(int)
    for study_id, modality in session.execute(
        select(Series.study_id, Series.modality).where(Series.study_id.in_(ids))
    ):
        series_count[study_id] += 1
        if modality:
            modalities[study_id].add(modality)
    instances = dict(
        session.execute(
            select(Instance.study_id, func.count())
            .where(Instance.study_id.in_(ids), _stored())
            .group_by(Instance.study_id)
        ).all()
    )
    tags = dj.STUDY.fields(query.included)
    items = []
    for s in rows:
        known = {
            "00080005": "ISO_IR 192",
            "00080020": s.study_date,
            "00080030": s.study_time,
            "00080050": s.accession_number,
            "00080061": sorted(modalities[s.id]),
            "00080090": s.referring_physician,
            "00100010": s.dicom_patient_name,
            "00100020": s.dicom_patient_id,
            "00100030": s.dicom_birth_date,
            "00100040": s.dicom_sex,
            "0020000D": s.study_instance_uid,
            "00200010": s.study_id,
            "00201206": series_count[s.id],
            "00201208": instances.get(s.id, 0),
            "00081190": f"{root}/studies/{s.study_instance_uid}",
            "00081030": s.description,
            "00100021": s.issuer,
        }
        items.append(_select(known, tags))
    return Found(items, truncated)


def search_series(
    session: Session, access: Access, query: Query, root: str, study_id: int | None
) -> Found:
    stmt = select(Series, Study.study_instance_uid).join(Study, Study.id == Series.study_id)
    stmt = _where(stmt.where(access.studies()), query)
    if study_id is not None:
        stmt = stmt.where(Series.study_id == study_id)
    rows = list(
        session.execute(
            stmt.order_by(Series.study_id.desc(), Series.series_number, Series.id)
            .offset(query.offset)
            .limit(query.limit + 1)
        ).all()
    )
    rows, truncated = _page(rows, query)
    ids = [series.id for series, _uid in rows]
    counts = dict(
        session.execute(
            select(Instance.series_id, func.count())
            .where(Instance.series_id.in_(ids), _stored())
            .group_by(Instance.series_id)
        ).all()
    )
    tags = dj.SERIES.fields(query.included)
    items = []
    for series, study_uid in rows:
        known = {
            "00080005": "ISO_IR 192",
            "00080060": series.modality,
            "0008103E": series.description,
            "0020000E": series.series_instance_uid,
            "00200011": series.series_number,
            "00201209": counts.get(series.id, 0),
            "0020000D": study_uid,
            "00081190": f"{root}/studies/{study_uid}/series/{series.series_instance_uid}",
            "00180015": series.body_part,
        }
        items.append(_select(known, tags))
    return Found(items, truncated)


def search_instances(
    session: Session,
    access: Access,
    query: Query,
    root: str,
    study_id: int | None,
    series_id: int | None,
) -> Found:
    stmt = (
        select(Instance, Series.series_instance_uid, Study.study_instance_uid)
        .join(Series, Series.id == Instance.series_id)
        .join(Study, Study.id == Instance.study_id)
        .where(access.studies(), _stored())
    )
    stmt = _where(stmt, query)
    if study_id is not None:
        stmt = stmt.where(Instance.study_id == study_id)
    if series_id is not None:
        stmt = stmt.where(Instance.series_id == series_id)
    rows = list(
        session.execute(
            stmt.order_by(
                Instance.study_id.desc(),
                Series.series_number,
                Instance.instance_number,
                Instance.id,
            )
            .offset(query.offset)
            .limit(query.limit + 1)
        ).all()
    )
    rows, truncated = _page(rows, query)
    tags = dj.INSTANCE.fields(query.included)
    items = []
    for inst, series_uid, study_uid in rows:
        url = f"{root}/studies/{study_uid}/series/{series_uid}/instances/{inst.sop_instance_uid}"
        known = {
            "00080005": "ISO_IR 192",
            "00080016": inst.sop_class_uid,
            "00080018": inst.sop_instance_uid,
            "00080056": "ONLINE",
            "00200013": inst.instance_number,
            "00280008": inst.frames if inst.frames > 1 else _ABSENT,
            "0020000D": study_uid,
            "0020000E": series_uid,
            "00081190": url,
            "00083002": inst.transfer_syntax_uid,
        }
        items.append(_select(known, tags))
    return Found(items, truncated)
