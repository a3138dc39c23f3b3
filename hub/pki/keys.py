"""Private keys encrypted at rest, and a per-process cache of the loaded ones.

Keys are PKCS#8 PEM encrypted with a passphrase (PBES2, AES-256): a standard format that
``openssl pkey`` can read during an audit or a migration to a token. Loading one costs ~0.2-0.3 s
here (key derivation plus RSA key validation), so each process keeps the keys it has loaded.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from hub.pki.errors import PkiUnavailable

_CACHE_SIZE = 512
_cache: OrderedDict[str, PrivateKeyTypes] = OrderedDict()
_lock = threading.Lock()


def encrypt_key(key: PrivateKeyTypes, passphrase: str) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
    )


def decrypt_key(pem: bytes, passphrase: str) -> PrivateKeyTypes:
    """The key in ``pem``; cached by the PEM's digest, so a changed row is never served stale."""
    cache_key = hashlib.sha256(pem).hexdigest()
    with _lock:
        cached = _cache.get(cache_key)
        if cached is not None:
            _cache.move_to_end(cache_key)
            return cached
    try:
        key = serialization.load_pem_private_key(pem, passphrase.encode("utf-8"))
    except (ValueError, TypeError):
        raise PkiUnavailable(
            "A private key cannot be decrypted: HUB_PKI_PASSPHRASE does not "
            "match the one the key was written with.",
            code="pki_passphrase_mismatch",
        ) from None
    with _lock:
        _cache[cache_key] = key
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return key


def write_private(path: Path, data: bytes) -> None:
    """Create ``path`` readable by the owner only; never overwrite an existing key."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
