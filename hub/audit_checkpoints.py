"""Signed checkpoints of the audit chain, kept outside the database.

The MACs of ``hub.audit`` stop a rewrite by someone without the audit key, but a database
restored to an earlier state, or a tail truncated together with an old head row, still looks
whole. A checkpoint records the chain's tip (sequence number and hash) at a moment, signed with
the hub's time-stamp authority key (``hub pki init``), in a file under
``HUB_AUDIT_CHECKPOINT_DIR``: a directory meant to live elsewhere than the database (another
disk, a write-once mount, a copy sent off the host). ``hub audit verify`` holds the chain
against every checkpoint and reports the first place it departs from one.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path

from celery import shared_task
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from flask import current_app
from sqlalchemy.orm import Session

from hub import db
from hub.audit import Anchor
from hub.config import Settings
from hub.models import AuditHead, utcnow
from hub.pki import ca
from hub.pki.errors import PkiUnavailable

log = logging.getLogger("hub.audit")
SUFFIX = ".checkpoint.json"


class CheckpointError(Exception):
    """A checkpoint file that is not one the hub signed (or cannot be read)."""


def _canonical(statement: dict[str, object]) -> bytes:
    return json.dumps(statement, sort_keys=True, separators=(",", ":")).encode("utf-8")


def write(session: Session, settings: Settings) -> Path | None:
    """Sign the chain's current tip into a new checkpoint file; None when the latest checkpoint
    already records this tip (nothing was appended since)."""
    head = session.get_one(AuditHead, 1)
    directory = settings.audit.checkpoint_dir
    latest = _latest_seq(directory)
    if latest is not None and latest >= head.seq:
        return None
    authority = ca.load(settings.pki)
    statement = {"seq": head.seq, "hash": head.hash, "written_at": utcnow().isoformat()}
    signature = authority.tsa_key().sign(_canonical(statement), padding.PKCS1v15(), hashes.SHA256())
    body = {
        "statement": statement,
        "signature": base64.b64encode(signature).decode("ascii"),
        "signer_serial": authority.tsa.serial_number,
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{head.seq:015d}{SUFFIX}"
    staged = directory / f".{path.name}.{os.getpid()}"
    staged.write_text(json.dumps(body, indent=1), encoding="utf-8")
    os.replace(staged, path)  # a reader never sees half a file
    return path


def _latest_seq(directory: Path) -> int | None:
    seqs = [int(p.name[: -len(SUFFIX)]) for p in _files(directory)]
    return max(seqs) if seqs else None


def _files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(
        p for p in directory.iterdir() if p.name.endswith(SUFFIX) and p.name[:1].isdigit()
    )


def load(settings: Settings) -> list[Anchor]:
    """Every checkpoint, its signature checked against the hub's TSA certificate; raises
    :class:`CheckpointError` on the first one that is not the hub's."""
    files = _files(settings.audit.checkpoint_dir)
    if not files:
        return []
    public_key = ca.load(settings.pki).tsa.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)  # the TSA key is RSA (hub pki init)
    anchors = []
    for path in files:
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            statement = body["statement"]
            signature = base64.b64decode(body["signature"], validate=True)
            public_key.verify(signature, _canonical(statement), padding.PKCS1v15(), hashes.SHA256())
            anchors.append(Anchor(int(statement["seq"]), str(statement["hash"]), path.name))
        except InvalidSignature:
            raise CheckpointError(f"checkpoint {path.name} is not signed by this hub") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(
                f"checkpoint {path.name} cannot be read: {type(exc).__name__}"
            ) from None
    return anchors


@shared_task(name="hub.audit.checkpoint", acks_late=True, ignore_result=True)
def checkpoint_task() -> str | None:
    """Periodic job: sign the chain's tip into a checkpoint (when something was appended)."""
    settings: Settings = current_app.config["HUB_SETTINGS"]
    with db.transaction() as session:
        try:
            path = write(session, settings)
        except PkiUnavailable as exc:
            log.warning("audit checkpoint not written: %s", exc)
            return None
    return path.name if path else None
