"""PKI errors; they reach API callers as the usual ``{"error": ...}`` JSON."""

from __future__ import annotations

from hub.errors import Conflict, HubError


class PkiUnavailable(HubError):
    """The CA is not initialised or its passphrase is not configured: the operator's to fix."""

    status = 503
    code = "pki_unavailable"


class CertificateRefused(Conflict):
    """The signer's certificate cannot sign now (revoked, expired, missing licence)."""

    code = "certificate_refused"
