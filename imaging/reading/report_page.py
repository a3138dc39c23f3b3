"""The report as pages show it: beside the images in the reading view (write, preview, sign,
amend) and on the study page (read, download each version, receive it for the sending facility).
The page's own view of the study is the audited read of the study; reading the report's text is
audited here."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.models import User
from imaging.models import ImagingReport, ReportStatus, Study
from imaging.reading import services
from imaging.reading.schemas import ReportVersion

# A starting structure per modality (SEEDS 004 asks for standard reports); the radiologist
# inserts it and writes over it.
TEMPLATES = {
    "CT": _l(
        "Technique: CT of the ... with/without contrast.\n"
        "Comparison: none.\n"
        "Findings:\n- Lungs and airways:\n- Mediastinum and heart:\n- Pleura:\n"
        "- Upper abdomen:\n- Bones and soft tissues:"
    ),
    "MR": _l(
        "Technique: MRI of the ..., sequences: ...\n"
        "Comparison: none.\n"
        "Findings:\n- Signal and morphology:\n- Enhancement:\n- Other findings:"
    ),
    "CR": _l(
        "Projection: PA / AP / lateral.\n"
        "Comparison: none.\n"
        "Findings:\n- Lungs:\n- Heart and mediastinum:\n- Pleura and diaphragm:\n- Bones:"
    ),
    "US": _l(
        "Technique: ultrasound of the ...\n"
        "Findings:\n- Organ size and echotexture:\n- Focal lesions:\n- Free fluid:"
    ),
    "MG": _l(
        "Breast composition (ACR a, b, c or d):\n"
        "Findings, right breast:\nFindings, left breast:\n"
        "BI-RADS category, right / left:"
    ),
}
TEMPLATES["DX"] = TEMPLATES["CR"]
STATE_LABELS = {
    "draft": _l("Draft"),
    "signed": _l("Signed"),
    "superseded": _l("Superseded by an amendment"),
}


@dataclass(frozen=True)
class ReportPanel:
    study_uid: str
    report: ImagingReport | None  # the newest version
    author_name: str
    versions: list[ReportVersion]
    may_write: bool  # start the report, or change the draft (its author)
    may_sign: bool
    may_amend: bool
    may_receive: bool  # countersign the newest signed version for the sending facility
    template: str  # the structure for the study's modality, "" when there is none


def panel(
    session: Session, principal: Principal, study: Study, modalities: set[str]
) -> ReportPanel:
    """What the report section shows this reader; the caller has checked access to the study."""
    report = services.current(session, study)
    versions = services.version_list(session, study.id) if report is not None else []
    if report is not None:
        audit.record(
            session,
            principal,
            "imaging:report:viewed",
            object_type="study",
            object_id=study.id,
            details={"patient_id": study.patient_id, "version": report.version},
        )
    writer = "imaging:write" in principal.scopes or "*" in principal.scopes
    radiologist = writer and principal.has_role(*services.AUTHORS)
    draft = report is not None and report.status is ReportStatus.DRAFT
    own_draft = draft and report is not None and report.author_id == principal.user_id
    newest_signed = next((v for v in reversed(versions) if v.state == "signed"), None)
    receiver = (
        writer
        and principal.has_role(*services.RECEIVERS)
        and principal.facility_id == study.facility_id
    )
    author = session.get(User, report.author_id) if report is not None else None
    template = next((str(TEMPLATES[m]) for m in sorted(modalities) if m in TEMPLATES), "")
    return ReportPanel(
        study_uid=study.study_instance_uid,
        report=report,
        author_name=author.full_name if author is not None else "",
        versions=versions,
        may_write=radiologist and (report is None or own_draft),
        may_sign=radiologist and own_draft,
        may_amend=radiologist and report is not None and not draft,
        may_receive=receiver
        and newest_signed is not None
        and newest_signed.countersigned_at is None,
        template=template,
    )
