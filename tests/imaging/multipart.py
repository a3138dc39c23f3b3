"""multipart/related bodies for DICOMweb tests: read an answer's parts, build a STOW body."""

from __future__ import annotations

import io
import secrets

from pydicom.dataset import Dataset


def parts(body: bytes, content_type: str) -> list[bytes]:
    """The parts' bodies of a multipart answer, in order."""
    return [data for _head, data in parts_with_headers(body, content_type)]


def parts_with_headers(body: bytes, content_type: str) -> list[tuple[str, bytes]]:
    """(header block, body) of each part of a multipart answer."""
    mark = content_type.split("boundary=")[1].split(";")[0].strip('"')
    out = []
    for piece in body.split(b"--" + mark.encode())[1:]:
        if piece.startswith(b"--"):
            break
        head, _, data = piece.partition(b"\r\n\r\n")
        out.append((head.decode("latin-1"), data[:-2]))
    return out


def multipart(items: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A STOW-RS body of (part media type, bytes) and its Content-Type."""
    mark = secrets.token_hex(8)
    body = b"".join(
        f"--{mark}\r\nContent-Type: {kind}\r\n\r\n".encode() + data + b"\r\n"
        for kind, data in items
    )
    return body + f"--{mark}--\r\n".encode(), (
        f'multipart/related; type="application/dicom"; boundary={mark}'
    )


def part10(ds: Dataset) -> bytes:
    """A dataset as a DICOM file's bytes."""
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()
