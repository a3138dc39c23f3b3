"""Each signed version of a report, kept as a DICOM instance of its study: an Encapsulated PDF
(PS3.3 A.45.1) carrying the signed PDF byte for byte. Indexed like any instance, it is
retained with the reports (10 years, SEEDS 000), goes into the study's CD package and is
forwarded to the central archive by the same durable queue as the images.

Signing queues an outbox message in the signing transaction; the handler builds the instance
and stores it. The instance's UIDs derive from the signed document, so a message delivered
twice stores it once.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from flask import current_app
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filewriter import dcmwrite
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian, generate_uid
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub import audit, outbox
from hub.auth.principal import SYSTEM
from hub.config import ImagingSettings
from hub.documents import services as documents
from hub.models import DocumentRevision, SignedDocument
from imaging import storage as storage_module
from imaging.dicom.parse import parse
from imaging.index import DuplicateInstance, Indexer
from imaging.models import ImagingReport, Instance, Study
from imaging.upload import split_part10

TOPIC = "imaging.report_copy"
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
CALLING_AE = "HUB-REPORTS"
# All versions of a study's report go in one series of their own.
SERIES_NUMBER = 9000


def queue(session: Session, report: ImagingReport, document: SignedDocument) -> None:
    """In the signing transaction: keep the signed version as a DICOM instance, later."""
    outbox.add(session, TOPIC, {"report_id": report.id, "document_id": document.public_id})


def _as_signed(session: Session, document: SignedDocument) -> bytes:
    """The PDF as its author signed it (the first revision): the same bytes however late the
    message is delivered, a countersignature coming in between or not."""
    first = session.scalar(
        select(DocumentRevision)
        .where(DocumentRevision.document_id == document.id)
        .order_by(DocumentRevision.seq)
        .limit(1)
    )
    assert first is not None, "a signed document always has its first revision"
    return first.pdf


def _uid(*parts: str) -> str:
    # Deterministic (a hash of the parts under pydicom's root): the same signed document
    # always gives the same UIDs, so a second delivery finds the first.
    return str(generate_uid(entropy_srcs=list(parts)))


def encapsulated_pdf(
    study: Study, report: ImagingReport, pdf: bytes, document_id: str, signed_at: datetime
) -> bytes:
    """The Part 10 file of one signed report version."""
    sop_uid = _uid("hub-report-instance", document_id)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(ENCAPSULATED_PDF)
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = ENCAPSULATED_PDF
    ds.SOPInstanceUID = sop_uid
    # Patient and study exactly as the study's own instances have them: the index refuses an
    # instance whose patient differs from its study's.
    ds.PatientName = study.dicom_patient_name
    ds.PatientID = study.dicom_patient_id
    if study.issuer:
        ds.IssuerOfPatientID = study.issuer
    ds.PatientBirthDate = study.dicom_birth_date
    ds.PatientSex = study.dicom_sex if study.dicom_sex in ("M", "F", "O") else ""
    ds.StudyInstanceUID = study.study_instance_uid
    ds.StudyDate = study.study_date.strftime("%Y%m%d") if study.study_date else ""
    ds.StudyTime = study.study_time
    ds.AccessionNumber = study.accession_number
    ds.ReferringPhysicianName = study.referring_physician
    ds.StudyID = study.study_id
    ds.SeriesInstanceUID = _uid("hub-report-series", study.study_instance_uid)
    ds.SeriesNumber = SERIES_NUMBER
    ds.Modality = "DOC"
    ds.SeriesDescription = "Signed imaging reports"
    ds.ConversionType = "WSD"  # workstation: the document was made here, not scanned
    ds.Manufacturer = "Telemedicine hub"
    ds.InstanceNumber = report.version
    ds.ContentDate = signed_at.strftime("%Y%m%d")
    ds.ContentTime = signed_at.strftime("%H%M%S")
    ds.AcquisitionDateTime = signed_at.strftime("%Y%m%d%H%M%S")
    ds.BurnedInAnnotation = "YES"  # the patient's name is printed in the PDF
    ds.DocumentTitle = f"Imaging report, version {report.version}"
    concept = Dataset()
    concept.CodeValue = "18748-4"
    concept.CodingSchemeDesignator = "LN"
    concept.CodeMeaning = "Diagnostic imaging study"
    ds.ConceptNameCodeSequence = [concept]
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    # OB values are padded to even length; the padding byte is not part of the document.
    ds.EncapsulatedDocument = pdf + (b"\0" if len(pdf) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(pdf)
    out = io.BytesIO()
    dcmwrite(out, ds, enforce_file_format=True)
    return out.getvalue()


def deliver(session: Session, payload: dict[str, Any]) -> None:
    """Outbox handler of ``TOPIC``: store the signed version's instance, once."""
    report = session.get(ImagingReport, int(payload["report_id"]))
    doc = documents.by_public_id(session, str(payload["document_id"]))
    if report is None or doc is None:
        raise outbox.PermanentError("the report version or its signed document is gone")
    study = report.study
    raw = encapsulated_pdf(study, report, _as_signed(session, doc), doc.public_id, doc.certified_at)
    syntax, sop_class, sop_uid, offset = split_part10(raw)
    if session.scalar(select(Instance.id).where(Instance.sop_instance_uid == sop_uid)):
        return  # delivered before
    settings: ImagingSettings = current_app.config["HUB_SETTINGS"].imaging
    store = storage_module.from_settings(settings)
    relative = storage_module.relative_path(study.study_instance_uid, sop_uid)
    try:
        size = store.write(relative, [raw])
    except FileExistsError:
        # Left by an attempt that stopped before indexing (the index has no such instance):
        # the same bytes can be indexed as they are, anything else is replaced.
        if store.full(relative).read_bytes() != raw:
            store.delete(relative)
            store.write(relative, [raw])
        size = len(raw)
    parsed = parse(raw, syntax, sop_class_uid=sop_class, sop_instance_uid=sop_uid, offset=offset)
    # The index rows go in the outbox message's own transaction (a savepoint of it): they
    # commit with the message marked delivered, or not at all. A second connection would also
    # wait forever on SQLite, whose one writer this transaction already is.
    factory = sessionmaker(bind=session.connection(), join_transaction_mode="create_savepoint")
    indexer = Indexer(factory, forward=settings.central_pacs is not None)
    try:
        indexer.add(parsed, relative, size, CALLING_AE, study.facility_id, principal=SYSTEM)
    except DuplicateInstance:
        return  # another worker stored it meanwhile; its file is the one kept
    except BaseException:
        store.delete(relative)
        raise
    audit.record(
        session,
        SYSTEM,
        "imaging:report:archived",
        object_type="study",
        object_id=study.id,
        details={"patient_id": study.patient_id, "version": report.version},
    )
