"""All of the hub core's tables; importing this registers them on ``Model.metadata``."""

from hub.models.audit import AuditEvent, AuditHead
from hub.models.auth import AuthorizationCode, OAuthClient, OAuthToken, PersonalToken
from hub.models.base import Model, utcnow
from hub.models.documents import DocumentRevision, DocumentStatus, SignedDocument
from hub.models.org import (
    Country,
    Facility,
    FacilityKind,
    Insurer,
    InsurerKind,
    MacroRegion,
    Specialty,
    University,
)
from hub.models.outbox import OutboxMessage
from hub.models.patients import Consent, ConsentMethod, ConsentScope, Membership, Patient, Sex
from hub.models.people import Role, User, UserRole
from hub.models.pki import KeyStore, SigningCertificate

__all__ = [
    "AuditEvent",
    "AuditHead",
    "AuthorizationCode",
    "Consent",
    "ConsentMethod",
    "ConsentScope",
    "Country",
    "DocumentRevision",
    "DocumentStatus",
    "Facility",
    "FacilityKind",
    "Insurer",
    "InsurerKind",
    "KeyStore",
    "MacroRegion",
    "Membership",
    "Model",
    "OAuthClient",
    "OAuthToken",
    "OutboxMessage",
    "Patient",
    "PersonalToken",
    "Role",
    "Sex",
    "SignedDocument",
    "SigningCertificate",
    "Specialty",
    "University",
    "User",
    "UserRole",
    "utcnow",
]
