"""The hub's certification authority: an offline-style root, an issuing CA and a TSA certificate.

Layout of ``HUB_PKI_DIR`` (never the database, so a database dump holds no CA key):

    root.crt.pem     root.key.pem (encrypted: HUB_PKI_ROOT_PASSPHRASE or HUB_PKI_PASSPHRASE)
    issuing.crt.pem  issuing.key.pem (encrypted: HUB_PKI_PASSPHRASE)
    tsa.crt.pem      tsa.key.pem (encrypted: HUB_PKI_PASSPHRASE)
    root.crl         DER CRL of the root, re-signed by ``hub pki root-crl``

The root key is only needed by ``hub pki init`` and ``hub pki root-crl``; the web process uses the
issuing CA key (clinicians' certificates, the CRL) and the TSA key.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub.config import PkiSettings
from hub.models import utcnow
from hub.pki import keys
from hub.pki.errors import PkiUnavailable

ROOT_CERT, ROOT_KEY, ROOT_CRL = "root.crt.pem", "root.key.pem", "root.crl"
ISSUING_CERT, ISSUING_KEY = "issuing.crt.pem", "issuing.key.pem"
TSA_CERT, TSA_KEY = "tsa.crt.pem", "tsa.key.pem"
ROOT_YEARS, ISSUING_YEARS, TSA_YEARS = 20, 10, 10
# Clock skew between hub nodes and verifiers must not make a fresh certificate "not yet valid".
BACKDATE = timedelta(minutes=5)
CRL_HOURS = 24
ROOT_CRL_DAYS = 365


def crl_url(base_url: str, which: str = "issuing") -> str:
    return f"{base_url.rstrip('/')}/pki/{which}.crl"


def cert_url(base_url: str, which: str = "issuing") -> str:
    return f"{base_url.rstrip('/')}/pki/{which}.crt"


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def signing_key_usage() -> x509.KeyUsage:
    """digitalSignature + nonRepudiation (contentCommitment): a legally binding signature."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _hash_for(key: CertificateIssuerPrivateKeyTypes) -> hashes.SHA256 | hashes.SHA384:
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size > 256:
        return hashes.SHA384()
    return hashes.SHA256()


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: CertificatePublicKeyTypes,
    issuer_key: CertificateIssuerPrivateKeyTypes,
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )


def _distribution(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(url)],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
        ]
    )


def _issuer_info(url: str) -> x509.AuthorityInformationAccess:
    return x509.AuthorityInformationAccess(
        [
            x509.AccessDescription(
                x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                x509.UniformResourceIdentifier(url),
            )
        ]
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class Authority:
    """The loaded CA; private keys are decrypted on first use and then cached."""

    settings: PkiSettings
    root: x509.Certificate
    issuing: x509.Certificate
    tsa: x509.Certificate

    @property
    def directory(self) -> Path:
        assert self.settings.directory is not None
        return self.settings.directory

    def _key(self, name: str, passphrase: str | None, setting: str) -> object:
        if not passphrase:
            raise PkiUnavailable(f"The hub's PKI needs {setting} (or {setting}_FILE) to sign.")
        return keys.decrypt_key((self.directory / name).read_bytes(), passphrase)

    def issuing_key(self) -> ec.EllipticCurvePrivateKey:
        key = self._key(ISSUING_KEY, self.settings.passphrase, "HUB_PKI_PASSPHRASE")
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key

    def tsa_key(self) -> rsa.RSAPrivateKey:
        key = self._key(TSA_KEY, self.settings.passphrase, "HUB_PKI_PASSPHRASE")
        assert isinstance(key, rsa.RSAPrivateKey)
        return key

    def root_key(self) -> ec.EllipticCurvePrivateKey:
        key = self._key(ROOT_KEY, self.settings.root_secret, "HUB_PKI_ROOT_PASSPHRASE")
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key

    def root_crl(self) -> bytes:
        path = self.directory / ROOT_CRL
        return path.read_bytes() if path.exists() else b""

    def chain(self) -> list[x509.Certificate]:
        return [self.issuing, self.root]


def is_initialised(settings: PkiSettings) -> bool:
    return settings.directory is not None and (settings.directory / ROOT_CERT).exists()


_loaded: dict[tuple[str, float], Authority] = {}
_load_lock = threading.Lock()


def load(settings: PkiSettings) -> Authority:
    """The CA of ``HUB_PKI_DIR``; refuses clearly when ``hub pki init`` was not run."""
    if not is_initialised(settings):
        raise PkiUnavailable(
            "The hub's PKI is not initialised: run `hub pki init`.", code="pki_not_initialised"
        )
    assert settings.directory is not None
    stamp = (str(settings.directory), (settings.directory / ISSUING_CERT).stat().st_mtime)
    with _load_lock:
        found = _loaded.get(stamp)
        if found is None or found.settings != settings:
            directory = settings.directory

            def read(name: str) -> x509.Certificate:
                return x509.load_pem_x509_certificate((directory / name).read_bytes())

            found = Authority(settings, read(ROOT_CERT), read(ISSUING_CERT), read(TSA_CERT))
            _loaded[stamp] = found
        return found


# The longest common name is the issuing CA's; X.509 allows 64 characters.
MAX_NAME = 64 - len(" Clinician Signing CA")


def initialise(settings: PkiSettings, base_url: str, *, name: str, country: str) -> Authority:
    """Create the root CA, the issuing CA and the TSA certificate; never overwrites."""
    if not settings.passphrase:
        raise PkiUnavailable("Set HUB_PKI_PASSPHRASE (or HUB_PKI_PASSPHRASE_FILE) first.")
    if is_initialised(settings):
        raise PkiUnavailable(
            f"The PKI in {settings.directory} already exists; it is never overwritten.",
            code="pki_exists",
        )
    directory = settings.directory
    assert directory is not None and settings.root_secret is not None
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = utcnow()

    def subject(common_name: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, country),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )

    root_key = ec.generate_private_key(ec.SECP384R1())
    root_name = subject(f"{name} Root CA")
    root = (
        _builder(
            root_name,
            root_name,
            root_key.public_key(),
            root_key,
            now - BACKDATE,
            now + timedelta(days=365 * ROOT_YEARS),
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .sign(root_key, hashes.SHA384())
    )
    issuing_key = ec.generate_private_key(ec.SECP256R1())
    issuing = (
        _builder(
            subject(f"{name} Clinician Signing CA"),
            root_name,
            issuing_key.public_key(),
            root_key,
            now - BACKDATE,
            now + timedelta(days=365 * ISSUING_YEARS),
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(_distribution(crl_url(base_url, "root")), critical=False)
        .add_extension(_issuer_info(cert_url(base_url, "root")), critical=False)
        .sign(root_key, hashes.SHA384())
    )
    # pyHanko's in-process time-stamp authority signs with RSA only.
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa = (
        _builder(
            subject(f"{name} Time-Stamp Authority"),
            issuing.subject,
            tsa_key.public_key(),
            issuing_key,
            now - BACKDATE,
            now + timedelta(days=365 * TSA_YEARS),
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(_distribution(crl_url(base_url)), critical=False)
        .sign(issuing_key, hashes.SHA256())
    )
    keys.write_private(directory / ROOT_KEY, keys.encrypt_key(root_key, settings.root_secret))
    keys.write_private(directory / ISSUING_KEY, keys.encrypt_key(issuing_key, settings.passphrase))
    keys.write_private(directory / TSA_KEY, keys.encrypt_key(tsa_key, settings.passphrase))
    (directory / TSA_CERT).write_bytes(_pem(tsa))
    (directory / ISSUING_CERT).write_bytes(_pem(issuing))
    (directory / ROOT_CRL).write_bytes(_sign_crl(root, root_key, [], timedelta(days=ROOT_CRL_DAYS)))
    # The root certificate is written last: its presence is what "initialised" means.
    (directory / ROOT_CERT).write_bytes(_pem(root))
    return load(settings)


def issue(
    authority: Authority,
    *,
    subject: x509.Name,
    public_key: CertificatePublicKeyTypes,
    base_url: str,
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    """A clinician's signing certificate, valid no longer than the issuing CA itself."""
    not_after = min(not_after, authority.issuing.not_valid_after_utc)
    key = authority.issuing_key()
    return (
        _builder(subject, authority.issuing.subject, public_key, key, not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(signing_key_usage(), critical=True)
        .add_extension(_distribution(crl_url(base_url)), critical=False)
        .add_extension(_issuer_info(cert_url(base_url)), critical=False)
        .sign(key, _hash_for(key))
    )


def _sign_crl(
    issuer: x509.Certificate,
    key: CertificateIssuerPrivateKeyTypes,
    revoked: list[tuple[int, datetime]],
    lifetime: timedelta,
) -> bytes:
    now = utcnow()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(now - BACKDATE)
        .next_update(now + lifetime)
        # Milliseconds since the epoch: increases with every CRL any node signs.
        .add_extension(x509.CRLNumber(int(time.time() * 1000)), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
    )
    for serial, revoked_at in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(revoked_at)
            .build()
        )
    return builder.sign(key, _hash_for(key)).public_bytes(serialization.Encoding.DER)


def issuing_crl(authority: Authority, revoked: list[tuple[int, datetime]]) -> bytes:
    """The issuing CA's CRL (DER) listing ``revoked`` (serial, revocation time)."""
    return _sign_crl(
        authority.issuing, authority.issuing_key(), revoked, timedelta(hours=CRL_HOURS)
    )


def refresh_root_crl(authority: Authority) -> bytes:
    """Re-sign the root's (empty) CRL before it expires; needs the root passphrase."""
    data = _sign_crl(authority.root, authority.root_key(), [], timedelta(days=ROOT_CRL_DAYS))
    (authority.directory / ROOT_CRL).write_bytes(data)
    return data
