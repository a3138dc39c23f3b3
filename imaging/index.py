"""Writing the study index: one received instance becomes patient → study → series → instance
rows (and, with a central archive, its forwarding row) in one transaction."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import psycopg
from sqlalchemy import (
    Connection,
    Engine,
    Insert,
    bindparam,
    delete,
    insert,
    literal_column,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from hub import audit
from hub.auth.principal import Principal
from hub.db import make_engine
from hub.models import Facility, Patient, Role, utcnow
from hub.national_id import InvalidNationalId, normalise
from imaging.dicom.parse import Parsed
from imaging.dose.ingest import DoseIntake, is_candidate
from imaging.models import (
    ForwardItem,
    ForwardState,
    Instance,
    InstanceKind,
    PatientKey,
    Series,
    Study,
)

CACHE_SIZE = 4096


class DuplicateInstance(Exception):
    """The SOP Instance UID is already stored; the new copy is not kept."""


class ForeignInstance(Exception):
    """The instance names a study it cannot join: another facility's, or another patient's.

    Refused whole (audited as ``imaging:instance:refused``): merging it would show one
    patient's image in another's study and in every link to it. ``comment`` says why, without
    any attribute value; ``code`` is the reason for the API.
    """

    def __init__(self, code: str, comment: str, study_id: int, study_facility_id: int) -> None:
        super().__init__(comment)
        self.code = code
        self.comment = comment
        self.study_id = study_id
        self.study_facility_id = study_facility_id


@dataclass(frozen=True)
class _StudyKey:
    """What an indexed study is, as far as an instance must agree with it."""

    id: int
    urgent: bool
    facility_id: int
    dicom_patient_id: str
    issuer: str
    patient_id: int | None


def node_principal(calling_ae: str, facility_id: int) -> Principal:
    """Who acts when a calling AE stores or queries: the facility's DICOM client."""
    return Principal(
        kind="client",
        via="dicom",
        roles=frozenset({Role.FACILITY_ADMIN}),
        scopes=frozenset({"imaging:read", "imaging:write"}),
        client_id=f"ae:{calling_ae}"[:64],
        facility_id=facility_id,
    )


def resolve_patient(session: Session, facility_id: int, patient_id: str, issuer: str) -> int | None:
    """The hub patient a facility's PatientID (+ issuer) stands for, or None when unknown.

    A mapped key wins; otherwise a PatientID that is a valid national id of the facility's
    country links to the patient registered under it, and the key is remembered.
    """
    if not patient_id:
        return None
    key = session.scalar(
        select(PatientKey.patient_id).where(
            PatientKey.facility_id == facility_id,
            PatientKey.issuer == issuer,
            PatientKey.dicom_patient_id == patient_id,
        )
    )
    if key is not None:
        return key
    facility = session.get_one(Facility, facility_id)
    country = facility.region.country.code
    try:
        national_id = normalise(country, patient_id)
    except InvalidNationalId:
        return None
    found = session.scalar(
        select(Patient).where(Patient.id_country == country, Patient.national_id == national_id)
    )
    if found is None:
        return None
    survivor = found.merged_into_id or found.id
    session.add(
        PatientKey(
            facility_id=facility_id, issuer=issuer, dicom_patient_id=patient_id, patient_id=survivor
        )
    )
    return survivor


@dataclass
class Indexed:
    instance_id: int
    study_id: int
    new_study: bool


class Indexer:
    """Adds instances to the index; remembers study and series ids to spare lookups."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        forward: bool,
        dose: DoseIntake | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.forward = forward
        # Reads dose documents into the dose index with their instance (None: not read).
        self.dose = dose
        self._studies: OrderedDict[str, _StudyKey] = OrderedDict()
        self._series: OrderedDict[str, int] = OrderedDict()
        self._known_sql: str | None = None
        self._stream_engine: Engine | None = None

    def stream(self) -> Connection | None:
        """A connection kept for one sender's instances (PostgreSQL), or None.

        With it, an instance of a series already seen is one autocommitted statement: no pool
        checkout with its liveness ping, no BEGIN, one round trip to the server. SQLite has no
        round trips to spare; its instances take the session path.
        """
        engine = self.session_factory.kw["bind"]
        if engine.dialect.name != "postgresql":
            return None
        if self._stream_engine is None:
            # Not from the shared pool: an association holds its connection for as long as it
            # lasts, and many at once would leave none for the session path (new studies and
            # series, C-FIND), which would then wait for the pool's timeout.
            self._stream_engine = make_engine(
                engine.url.render_as_string(hide_password=False), poolclass=NullPool
            )
        return self._stream_engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    @staticmethod
    def _remember(cache: OrderedDict[str, object], key: str, value: object) -> None:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)

    def add(
        self,
        parsed: Parsed,
        relative_path: str,
        size: int,
        calling_ae: str,
        facility_id: int,
        before_commit: Callable[[], None] | None = None,
        principal: Principal | None = None,
        connection: Connection | None = None,
    ) -> Indexed:
        """Index one instance; raises :class:`DuplicateInstance` if already stored.

        ``before_commit`` runs before the rows commit: the node waits there for the file's
        fsync, so nothing is committed for a file that is not durable. In a session the rows
        are written first, so that work overlaps the disk flush.

        ``connection`` (from :meth:`stream`) takes the one-statement path for an instance of
        a study and series already indexed.
        """
        study = self._studies.get(parsed.study_uid)
        series_id = self._series.get(parsed.series_uid)
        if study is not None:
            # Checked on every instance, the cached path too: a study is joined only by
            # its own facility's instances of its own patient.
            try:
                self._check_joins(study, parsed, facility_id)
            except ForeignInstance as exc:
                self._record_refusal(exc, parsed, facility_id, principal, calling_ae)
                raise
        reads_dose = self.dose is not None and is_candidate(parsed.sop_class_uid)
        if (
            connection is not None
            and study is not None
            and series_id is not None
            and not reads_dose
        ):
            return self._add_known(
                connection,
                parsed,
                relative_path,
                size,
                calling_ae,
                study,
                series_id,
                before_commit,
            )
        session = self.session_factory()
        try:
            key, new_study = self._study(
                session,
                parsed,
                facility_id,
                principal or node_principal(calling_ae, facility_id),
                calling_ae,
            )
            study_id, urgent = key.id, key.urgent
            series_id = self._series_id(session, parsed, study_id)
            now = utcnow()
            # Core inserts: the ORM's unit of work costs ~1 ms per instance here.
            instance_id = session.scalar(
                _instance_insert(parsed, series_id, study_id, size, relative_path, calling_ae, now)
            )
            assert instance_id is not None
            if self.forward:
                session.execute(
                    insert(ForwardItem).values(
                        instance_id=instance_id,
                        study_id=study_id,
                        urgent=urgent,
                        state=ForwardState.PENDING,
                        available_at=now,
                        attempts=0,
                        resent=0,
                    )
                )
            if before_commit is not None:
                before_commit()
            if reads_dose:
                assert self.dose is not None
                # The file is durable by now; the dose rows commit with the instance's.
                self.dose.take(
                    session,
                    instance_id,
                    study_id,
                    relative_path,
                    principal or node_principal(calling_ae, facility_id),
                    parsed.sop_class_uid,
                    parsed.sop_instance_uid,
                )
            session.commit()
        except IntegrityError:
            session.rollback()
            # Or a study or series row another process inserted meanwhile.
            self._conflict(session, parsed)
            raise
        except ForeignInstance as exc:
            # Recorded once the session let go: SQLite's one writer is this session.
            session.rollback()
            self._record_refusal(exc, parsed, facility_id, principal, calling_ae)
            raise
        except BaseException:
            session.rollback()
            self._studies.pop(parsed.study_uid, None)
            self._series.pop(parsed.series_uid, None)
            raise
        finally:
            session.close()
        self._remember(self._studies, parsed.study_uid, key)  # type: ignore[arg-type]
        self._remember(self._series, parsed.series_uid, series_id)  # type: ignore[arg-type]
        return Indexed(instance_id, study_id, new_study)

    def knows(self, parsed: Parsed) -> bool:
        """Whether the instance's study and series are indexed already (as far as we know)."""
        return parsed.study_uid in self._studies and parsed.series_uid in self._series

    def _add_known(
        self,
        connection: Connection,
        parsed: Parsed,
        relative_path: str,
        size: int,
        calling_ae: str,
        study: _StudyKey,
        series_id: int,
        before_commit: Callable[[], None] | None,
    ) -> Indexed:
        study_id, urgent = study.id, study.urgent
        now = utcnow()
        params = {
            "sop_instance_uid": parsed.sop_instance_uid,
            "sop_class_uid": parsed.sop_class_uid,
            "transfer_syntax_uid": parsed.transfer_syntax,
            "series_id": series_id,
            "study_id": study_id,
            "instance_number": parsed.instance_number,
            "kind": (InstanceKind.REPORT if parsed.is_report else InstanceKind.IMAGE).value,
            "frames": parsed.frames,
            "problems": _problems(parsed),
            "size": size,
            "path": relative_path,
            "calling_ae": calling_ae,
            "received_at": now,
            "urgent": urgent,
        }
        if self._known_sql is None:
            statement = _instance_insert_template()
            if self.forward:
                # The instance and its outbox row in one statement, so one commit covers both.
                statement = _with_forward_item(statement)
            # Compiled once: building and compiling the statement cost more than the round trip.
            self._known_sql = str(statement.compile(dialect=connection.dialect))
        if before_commit is not None:
            before_commit()
        # Straight to psycopg: SQLAlchemy's execution and result layers took most of this
        # path's CPU, and with several senders the node's cores are the limit.
        raw = connection.connection.driver_connection
        try:
            with raw.cursor() as cursor:  # type: ignore[union-attr]
                cursor.execute(self._known_sql, params, prepare=True)
                row = cursor.fetchone()
        except psycopg.IntegrityError as exc:
            # Or the study or series row went away (retention).
            self._conflict(connection, parsed)
            raise IntegrityError(self._known_sql, params, exc) from exc
        assert row is not None
        return Indexed(int(row[0]), study_id, False)

    def stored(self, sop_instance_uid: str) -> tuple[str | None, int] | None:
        """The stored copy of an indexed instance: (relative path, size), or None."""
        with self.session_factory() as session:
            row = session.execute(
                select(Instance.path, Instance.size).where(
                    Instance.sop_instance_uid == sop_instance_uid
                )
            ).first()
        return None if row is None else (row[0], int(row[1]))

    def stored_instance(self, sop_instance_uid: str) -> tuple[int, str | None, int] | None:
        """The indexed instance: (id, relative path, size), or None."""
        with self.session_factory() as session:
            row = session.execute(
                select(Instance.id, Instance.path, Instance.size).where(
                    Instance.sop_instance_uid == sop_instance_uid
                )
            ).first()
        return None if row is None else (int(row[0]), row[1], int(row[2]))

    def withdraw(self, instance_id: int) -> None:
        """Remove an instance's rows again (its file could not be made durable)."""
        with self.session_factory() as session:
            session.execute(delete(ForwardItem).where(ForwardItem.instance_id == instance_id))
            session.execute(delete(Instance).where(Instance.id == instance_id))
            session.commit()

    def _conflict(self, db: Session | Connection, parsed: Parsed) -> None:
        """After a refused insert: a duplicate SOP Instance UID raises DuplicateInstance;
        otherwise the remembered study and series ids are forgotten and the caller retries."""
        same = select(Instance.id).where(Instance.sop_instance_uid == parsed.sop_instance_uid)
        if db.scalar(same) is not None:
            raise DuplicateInstance(parsed.sop_instance_uid) from None
        self._studies.pop(parsed.study_uid, None)
        self._series.pop(parsed.series_uid, None)

    def _check_joins(
        self, study: _StudyKey, p: Parsed, facility_id: int, session: Session | None = None
    ) -> None:
        """Raise :class:`ForeignInstance` unless ``p`` may join ``study``."""
        refusal: tuple[str, str] | None = None
        if study.facility_id != facility_id:
            refusal = ("foreign_study", "the study belongs to another facility")
        elif (p.patient_id, p.issuer) != (study.dicom_patient_id, study.issuer):
            refusal = ("patient_mismatch", "the patient differs from the study's patient")
        elif session is not None and study.patient_id is not None:
            # The same PatientID, mapped since to another hub patient (a re-linked key).
            mapped = resolve_patient(session, facility_id, p.patient_id, p.issuer)
            if mapped is not None and mapped != study.patient_id:
                refusal = ("patient_mismatch", "the patient differs from the study's patient")
        if refusal is None:
            return
        code, comment = refusal
        raise ForeignInstance(code, comment, study.id, study.facility_id)

    def _record_refusal(
        self,
        refused: ForeignInstance,
        p: Parsed,
        facility_id: int,
        principal: Principal | None,
        calling_ae: str,
    ) -> None:
        # Its own session: the instance's rows roll back, the refusal must stay on record.
        # Ids only: never a name or PatientID in the audit.
        with self.session_factory() as session:
            audit.record(
                session,
                principal or node_principal(calling_ae, facility_id),
                "imaging:instance:refused",
                outcome="denied",
                object_type="study",
                object_id=refused.study_id,
                details={
                    "reason": refused.code,
                    "calling_ae": calling_ae,
                    "facility_id": facility_id,
                    "study_facility_id": refused.study_facility_id,
                    "sop_instance_uid": p.sop_instance_uid,
                },
            )
            session.commit()

    def _study(
        self, session: Session, p: Parsed, facility_id: int, principal: Principal, calling_ae: str
    ) -> tuple[_StudyKey, bool]:
        cached = self._studies.get(p.study_uid)
        if cached is not None:
            return cached, False
        row = session.execute(
            select(
                Study.id,
                Study.urgent,
                Study.facility_id,
                Study.dicom_patient_id,
                Study.issuer,
                Study.patient_id,
            ).where(Study.study_instance_uid == p.study_uid)
        ).first()
        if row is not None:
            key = _StudyKey(*row)
            self._check_joins(key, p, facility_id, session)
            return key, False
        study = Study(
            study_instance_uid=p.study_uid,
            facility_id=facility_id,
            patient_id=resolve_patient(session, facility_id, p.patient_id, p.issuer),
            dicom_patient_id=p.patient_id,
            issuer=p.issuer,
            dicom_patient_name=p.patient_name,
            dicom_birth_date=p.birth_date,
            dicom_sex=p.sex,
            study_date=p.study_date,
            study_time=p.study_time,
            accession_number=p.accession_number,
            study_id=p.study_id,
            description=p.study_description,
            referring_physician=p.referring_physician,
            urgent=p.urgent,
            received_at=utcnow(),
        )
        session.add(study)
        session.flush()
        audit.record(
            session,
            principal,
            "imaging:study:received",
            object_type="study",
            object_id=study.id,
            details={"calling_ae": calling_ae, "linked": study.patient_id is not None},
        )
        key = _StudyKey(
            study.id,
            study.urgent,
            facility_id,
            study.dicom_patient_id,
            study.issuer,
            study.patient_id,
        )
        return key, True

    def _series_id(self, session: Session, p: Parsed, study_id: int) -> int:
        cached = self._series.get(p.series_uid)
        if cached is not None:
            return cached
        found = session.scalar(select(Series.id).where(Series.series_instance_uid == p.series_uid))
        if found is not None:
            return found
        series = Series(
            series_instance_uid=p.series_uid,
            study_id=study_id,
            modality=p.modality,
            series_number=p.series_number,
            description=p.series_description,
            body_part=p.body_part,
        )
        session.add(series)
        session.flush()
        return series.id


def _problems(parsed: Parsed) -> str | None:
    return " ".join(parsed.problems)[:255] or None


def _instance_insert(
    parsed: Parsed,
    series_id: int,
    study_id: int,
    size: int,
    relative_path: str,
    calling_ae: str,
    now: datetime,
) -> Insert:
    return (
        insert(Instance)
        .values(
            sop_instance_uid=parsed.sop_instance_uid,
            sop_class_uid=parsed.sop_class_uid,
            transfer_syntax_uid=parsed.transfer_syntax,
            series_id=series_id,
            study_id=study_id,
            instance_number=parsed.instance_number,
            kind=InstanceKind.REPORT if parsed.is_report else InstanceKind.IMAGE,
            frames=parsed.frames,
            problems=_problems(parsed),
            size=size,
            path=relative_path,
            calling_ae=calling_ae,
            received_at=now,
        )
        .returning(Instance.id)
    )


def _instance_insert_template() -> Insert:
    """The instance row with named parameters (as :func:`_instance_insert`)."""
    names = (
        "sop_instance_uid",
        "sop_class_uid",
        "transfer_syntax_uid",
        "series_id",
        "study_id",
        "instance_number",
        "kind",
        "frames",
        "problems",
        "size",
        "path",
        "calling_ae",
        "received_at",
    )
    return insert(Instance).values({name: bindparam(name) for name in names}).returning(Instance.id)


def _with_forward_item(instance: Insert) -> Insert:
    """``WITH i AS (INSERT instance RETURNING id) INSERT forward item``: PostgreSQL only."""
    new = instance.cte("new_instance")
    columns = ForwardItem.__table__.c
    return (
        insert(ForwardItem)
        .from_select(
            ["instance_id", "study_id", "urgent", "state", "available_at", "attempts", "resent"],
            select(
                new.c.id,
                bindparam("study_id", type_=columns.study_id.type),
                bindparam("urgent", type_=columns.urgent.type),
                literal_column(f"'{ForwardState.PENDING.value}'"),
                bindparam("received_at", type_=columns.available_at.type),
                literal_column("0"),
                literal_column("0"),
            ),
        )
        .add_cte(new)
        .returning(ForwardItem.instance_id)
    )
