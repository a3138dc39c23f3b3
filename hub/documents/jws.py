"""Checking the detached JWS stored with each signed document (machine consumers do the same)."""

from __future__ import annotations

import base64
import json

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_detached(detached: str, payload: bytes, root: x509.Certificate) -> bool:
    """True when ``detached`` signs ``payload`` with a certificate chaining to ``root``."""
    try:
        head, middle, signature = detached.split(".")
        if middle:
            return False
        header = json.loads(_b64url_decode(head))
        certs = [x509.load_der_x509_certificate(base64.b64decode(c)) for c in header["x5c"]]
        for child, parent in zip(certs, [*certs[1:], root], strict=True):
            child.verify_directly_issued_by(parent)
        public = certs[0].public_key()
        key: ECKey | RSAKey
        if isinstance(public, ec.EllipticCurvePublicKey):
            key = ECKey.import_key(public)
        elif isinstance(public, rsa.RSAPublicKey):
            key = RSAKey.import_key(public)
        else:
            return False
        registry = jws.JWSRegistry(algorithms=[header["alg"]])
        # The x5c chain makes the header ~2 KiB; joserfc's default cap is 512 bytes.
        registry.max_header_length = 16 * 1024
        registry.max_payload_length = 4 * 1024 * 1024
        jws.deserialize_compact(
            f"{head}..{signature}",
            key,
            algorithms=[header["alg"]],
            registry=registry,
            payload=payload,
        )
        return True
    except (ValueError, KeyError, TypeError, JoseError, InvalidSignature):
        return False
    except Exception:  # any other malformed input is simply not a valid signature
        return False
