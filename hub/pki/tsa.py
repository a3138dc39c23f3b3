"""Signature time-stamps (RFC 3161): the hub's own TSA, or an outside one (``HUB_TSA_URL``).

The hub's TSA is pyHanko's in-process time stamper, keyed by the TSA certificate of
``hub pki init``. It is also served over HTTP at ``/pki/tsa`` so other nodes, or other tools,
can use the same authority.
"""

from __future__ import annotations

from datetime import datetime

from asn1crypto import cms, core, keys, tsp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pyhanko.sign import general, timestamps
from pyhanko.sign.general import get_pyca_cryptography_hash, simple_cms_attribute
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from hub.pki.ca import Authority
from hub.pki.signer import to_asn1


class HubTimeStamper(DummyTimeStamper):
    """pyHanko's local time stamper with the TSA key loaded once per process.

    pyHanko re-parses the RSA key for every token (~0.3 s of key validation here); this override
    differs from ``DummyTimeStamper._sign_tst_info`` only in signing with the cached key.
    """

    def __init__(self, authority: Authority) -> None:
        key = authority.tsa_key()
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        super().__init__(
            tsa_cert=to_asn1(authority.tsa),
            tsa_key=keys.PrivateKeyInfo.load(der),
            certs_to_embed=SimpleCertificateStore.from_certs(
                [to_asn1(c) for c in authority.chain()]
            ),
        )
        self._key: rsa.RSAPrivateKey = key

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, dt: datetime
    ) -> tuple[bytes, cms.CMSAttributes]:

        digest = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
        digest.update(tst_info_data)
        signed_attrs = cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
                simple_cms_attribute("signing_certificate", _as_signing_certificate(self.tsa_cert)),
                simple_cms_attribute("message_digest", digest.finalize()),
            ]
        )
        signature = self._key.sign(
            signed_attrs.dump(),
            padding.PKCS1v15(),
            get_pyca_cryptography_hash(md_algorithm.upper()),
        )
        return signature, signed_attrs


def _as_signing_certificate(cert: object) -> object:

    return general.as_signing_certificate(cert)


_stampers: dict[int, HubTimeStamper] = {}


def timestamper(authority: Authority, tsa_url: str | None) -> timestamps.TimeStamper:
    """The configured TSA: an outside one when ``HUB_TSA_URL`` is set, else the hub's own."""
    if tsa_url:
        return timestamps.HTTPTimeStamper(tsa_url, timeout=10)
    key = id(authority)
    found = _stampers.get(key)
    if found is None:
        found = _stampers[key] = HubTimeStamper(authority)
    return found


def answer(authority: Authority, request_der: bytes) -> bytes:
    """An RFC 3161 response (DER) to a DER time-stamp request; ValueError if it is malformed."""
    try:
        req = tsp.TimeStampReq.load(request_der)
        req.native  # noqa: B018 - parses every field now, so a bad request fails here
    except Exception as exc:
        raise ValueError(f"not an RFC 3161 time-stamp request: {exc}") from None
    stamper = timestamper(authority, None)
    assert isinstance(stamper, HubTimeStamper)
    return bytes(stamper.request_tsa_response(req).dump())
