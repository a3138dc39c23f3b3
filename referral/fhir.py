"""A referral as FHIR R4 resources, the way HL7 BSeR (Bidirectional Services eReferral) carries
it: a ServiceRequest for what is asked, and a Task whose business status is the BSeR status."""

from __future__ import annotations

from typing import Any

from referral.models import Referral, ReferralStatus

BSER_STATUS_SYSTEM = "http://hl7.org/fhir/us/bser/CodeSystem/TaskBusinessStatusCS"
# FHIR Task.status for each BSeR business status.
TASK_STATUS = {
    ReferralStatus.CREATED: "requested",
    ReferralStatus.ACCEPTED: "accepted",
    ReferralStatus.DECLINED: "rejected",
    ReferralStatus.SCHEDULED: "in-progress",
    ReferralStatus.NO_SHOW: "in-progress",
    ReferralStatus.EVENT_CANCELLED: "in-progress",
    ReferralStatus.EVENT_COMPLETED: "in-progress",
    ReferralStatus.CANCELLATION_REQUESTED: "in-progress",
    ReferralStatus.CANCELLED: "cancelled",
    ReferralStatus.COMPLETED: "completed",
}
# BSeR's display names ("unattended" is its word for a no-show).
BSER_DISPLAY = {
    ReferralStatus.CREATED: "Service Request Created",
    ReferralStatus.ACCEPTED: "Service Request Accepted",
    ReferralStatus.DECLINED: "Service Request Declined",
    ReferralStatus.SCHEDULED: "Service Request Event Scheduled",
    ReferralStatus.NO_SHOW: "Service Request Unattended",
    ReferralStatus.EVENT_CANCELLED: "Service Request Event Cancelled",
    ReferralStatus.EVENT_COMPLETED: "Service Request Event Completed",
    ReferralStatus.CANCELLATION_REQUESTED: "Service Request Cancellation Requested",
    ReferralStatus.CANCELLED: "Service Request Cancelled",
    ReferralStatus.COMPLETED: "Service Request Fulfillment Completed",
}


def _request_status(status: ReferralStatus) -> str:
    if status is ReferralStatus.COMPLETED:
        return "completed"
    if status in (ReferralStatus.CANCELLED, ReferralStatus.DECLINED):
        return "revoked"
    return "active"


def bundle_entries(referral: Referral) -> list[dict[str, Any]]:
    """The ServiceRequest and the Task of one referral, as Bundle entries."""
    request_id = f"referral-{referral.id}"
    patient = {"reference": f"Patient/{referral.patient_id}"}
    service_request: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": request_id,
        "status": _request_status(referral.status),
        "intent": "order",
        "category": [{"text": "referral"}],
        "code": {"text": referral.specialty.name, "coding": [{"code": referral.specialty.code}]},
        "subject": patient,
        "authoredOn": referral.created_at.isoformat(),
        "requester": {"reference": f"Practitioner/{referral.requester_id}"},
        "performer": [
            {
                "reference": f"Organization/{referral.to_facility.code}",
                "display": referral.to_facility.name,
            }
        ],
        "reasonCode": [{"text": referral.reason}],
    }
    if referral.letter_document_id:
        service_request["supportingInfo"] = [
            {"reference": f"DocumentReference/{referral.letter_document_id}"}
        ]
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": f"referral-task-{referral.id}",
        "status": TASK_STATUS[referral.status],
        "businessStatus": {
            "coding": [
                {
                    "system": BSER_STATUS_SYSTEM,
                    "code": referral.status.value,
                    "display": BSER_DISPLAY[referral.status],
                }
            ]
        },
        "intent": "order",
        "focus": {"reference": f"ServiceRequest/{request_id}"},
        "for": patient,
        "authoredOn": referral.created_at.isoformat(),
        "requester": {"reference": f"Organization/{referral.from_facility.code}"},
        "owner": {"reference": f"Organization/{referral.to_facility.code}"},
    }
    if referral.decline_reason:
        task["statusReason"] = {"text": referral.decline_reason}
    back = referral.back_referral
    if back is not None:
        task["output"] = [
            {
                "type": {"text": "back-referral"},
                "valueString": back.summary,
            },
            *(
                {
                    "type": {"text": "follow-up task"},
                    "valueString": t.text + (f" (due {t.due.isoformat()})" if t.due else ""),
                }
                for t in back.tasks
            ),
        ]
    return [
        {"fullUrl": f"urn:hub:ServiceRequest/{request_id}", "resource": service_request},
        {"fullUrl": f"urn:hub:Task/referral-task-{referral.id}", "resource": task},
    ]
