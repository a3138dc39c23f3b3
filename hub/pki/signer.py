"""The signer interface: what signing a document needs from whoever holds the private key.

Documents are signed through :class:`DocumentSigner`, never with a raw key, so a clinician's key
can move to a PKCS#11 token (smart card, HSM) by adding an implementation that returns pyHanko's
``pyhanko.sign.pkcs11.PKCS11Signer`` and signs the JWS on the token; nothing else changes.
"""

from __future__ import annotations

import base64
from typing import Protocol

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from joserfc import jws
from joserfc.jwk import ECKey, RSAKey
from pyhanko.sign import signers
from pyhanko.sign.general import get_pyca_cryptography_hash
from pyhanko_certvalidator.registry import SimpleCertificateStore

from hub.pki.errors import PkiUnavailable


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


class DocumentSigner(Protocol):
    """A key holder able to sign PDFs (through pyHanko) and JWS."""

    @property
    def certificate(self) -> x509.Certificate: ...

    def pdf_signer(self) -> signers.Signer: ...

    def detached_jws(self, payload: bytes) -> str: ...


class _CachedKeySigner(signers.SimpleSigner):
    """pyHanko's SimpleSigner re-parses the private key for every signature, which for RSA
    costs ~0.3 s of key validation here; this one signs with the key object loaded once."""

    def __init__(self, key: PrivateKeyTypes, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._key = key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        hash_algo = get_pyca_cryptography_hash(digest_algorithm)
        if mechanism == "rsassa_pkcs1v15" and isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), hash_algo)
        if mechanism == "ecdsa" and isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data, ec.ECDSA(hash_algo))
        return super().sign_raw(data, digest_algorithm)  # anything else: pyHanko's own path


class SoftwareSigner:
    """A key kept encrypted in the database and decrypted in this process."""

    def __init__(
        self, certificate: x509.Certificate, key: PrivateKeyTypes, chain: list[x509.Certificate]
    ) -> None:
        self._certificate = certificate
        self._key = key
        self._chain = chain
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self._pdf = _CachedKeySigner(
            key,
            signing_cert=to_asn1(certificate),
            signing_key=asn1_keys.PrivateKeyInfo.load(der),
            cert_registry=SimpleCertificateStore.from_certs([to_asn1(c) for c in chain]),
        )

    @property
    def certificate(self) -> x509.Certificate:
        return self._certificate

    def pdf_signer(self) -> signers.Signer:
        return self._pdf

    def detached_jws(self, payload: bytes) -> str:
        """RFC 7515 compact JWS with the payload detached (appendix F), certificate chain in x5c."""

        if isinstance(self._key, rsa.RSAPrivateKey):
            jwk: RSAKey | ECKey = RSAKey.import_key(self._key)
            alg = "RS256"
        elif isinstance(self._key, ec.EllipticCurvePrivateKey):
            jwk = ECKey.import_key(self._key)
            alg = "ES256"
        else:
            raise PkiUnavailable("This key type cannot sign a JWS.")
        x5c = [
            base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode("ascii")
            for c in [self._certificate, *self._chain[:-1]]
        ]
        header = {
            "alg": alg,
            "typ": "JOSE",
            "kid": format(self._certificate.serial_number, "x"),
            "x5c": x5c,
        }
        compact = jws.serialize_compact(header, payload, jwk, algorithms=[alg])
        return jws.detach_content(compact)
