"""The demo's certification authority, so the one-command demo signs documents out of the box.

`hub serve` with demo data creates it when the data directory has none. Without a configured
passphrase it generates one and keeps it in the data directory, beside the keys: acceptable for
a demo only. A deployment sets HUB_PKI_PASSPHRASE (or _FILE) and runs `hub pki init` itself.
"""

from __future__ import annotations

import dataclasses
import os
import secrets

from hub.config import Settings
from hub.pki import ca

PASSPHRASE_FILE = "demo-pki-passphrase"  # noqa: S105 (a file name, not a secret)
DEMO_NAME = "Demo Hub, not for clinical use"  # at most ca.MAX_NAME characters


def ensure(settings: Settings) -> dict[str, str]:
    """Create the demo CA when there is none; returns the environment the hub's processes need
    to sign with it (empty when the passphrase is configured)."""
    pki = settings.pki
    path = settings.data_dir / PASSPHRASE_FILE
    if pki.passphrase:
        if not ca.is_initialised(pki):
            ca.initialise(pki, settings.base_url, name=DEMO_NAME, country="IR")
        return {}
    if ca.is_initialised(pki):
        # A CA this demo created earlier; one created by an operator keeps needing their
        # passphrase, and signing says so.
        return {"HUB_PKI_PASSPHRASE_FILE": str(path)} if path.is_file() else {}
    passphrase = secrets.token_urlsafe(32)
    # Written before the CA, so a crash in between never leaves keys nobody can open.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(passphrase)
    ca.initialise(
        dataclasses.replace(pki, passphrase=passphrase),
        settings.base_url,
        name=DEMO_NAME,
        country="IR",
    )
    return {"HUB_PKI_PASSPHRASE_FILE": str(path)}
