"""Consult attachments: size-limited, type-checked by content, stored outside the database under
their SHA-256, never served inline."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import IO

import filetype

from consult.models import AttachmentKind
from hub.errors import HubError

CHUNK = 1024 * 1024

# What each kind may contain, decided from the bytes, never from the name or the browser's claim.
ALLOWED: dict[AttachmentKind, frozenset[str]] = {
    AttachmentKind.PHOTO: frozenset({"image/jpeg", "image/png", "image/webp", "image/heic"}),
    AttachmentKind.PDF: frozenset({"application/pdf"}),
    AttachmentKind.ECG: frozenset(
        {"application/pdf", "image/jpeg", "image/png", "application/dicom", "application/xml"}
    ),
    AttachmentKind.AUDIO: frozenset(
        {
            "audio/mpeg",
            "audio/x-wav",
            "audio/ogg",
            "audio/mp4",
            "audio/x-m4a",
            "video/webm",
            "audio/webm",
        }
    ),
    AttachmentKind.PAPER_FORM: frozenset({"application/pdf", "image/jpeg", "image/png"}),
}


class TooLarge(HubError):
    status = 413
    code = "too_large"


class RefusedType(HubError):
    status = 415
    code = "unsupported_type"


def _sniff(head: bytes) -> str | None:
    if len(head) > 132 and head[128:132] == b"DICM":
        return "application/dicom"
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    stripped = head.lstrip()
    # HL7 aECG is XML; accept XML only when it declares the annotated-ECG root element.
    if stripped.startswith(b"<?xml") and b"AnnotatedECG" in head:
        return "application/xml"
    return None


def safe_filename(name: str) -> str:
    base = os.path.basename(name.replace("\\", "/")).strip() or "attachment"
    base = re.sub(r"[^\w.\- ]+", "_", base, flags=re.UNICODE)
    return base[:200]


def store(
    root: Path, stream: IO[bytes], kind: AttachmentKind, max_bytes: int
) -> tuple[str, int, str]:
    """Write the stream under ``root``; returns (sha256, size, detected content type).

    The file is written to a temporary name, checked, fsynced and only then renamed into place,
    so a refused or interrupted upload leaves nothing behind.
    """
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    head = b""
    fd, tmp_name = tempfile.mkstemp(dir=root, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(
                        f"The file is larger than {max_bytes // (1024 * 1024)} MB.",
                        details={"max_bytes": max_bytes},
                    )
                if len(head) < 8192:
                    head += chunk[: 8192 - len(head)]
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise RefusedType("The file is empty.")
        detected = _sniff(head)
        if detected is None or detected not in ALLOWED[kind]:
            raise RefusedType(
                f"This file type is not accepted as {kind.value}.",
                details={"detected": detected, "accepted": sorted(ALLOWED[kind])},
            )
        sha = digest.hexdigest()
        final = path_for(root, sha)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_name, final)
        return sha, size, detected
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def path_for(root: Path, sha256: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError("not a sha256 digest")
    return root / sha256[:2] / sha256[2:4] / sha256


def verify(root: Path, sha256: str) -> bool:
    """Whether the stored bytes still match their checksum."""
    digest = hashlib.sha256()
    with path_for(root, sha256).open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest() == sha256
