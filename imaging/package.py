"""A study as a CD/download package (SEEDS 000: facilities without electronic access get the
images on CD): a zip with a DICOMDIR and the instances in the DICOM file-set layout.

Reports stored as DICOM (SR, encapsulated PDF) are part of the study and come along; the hub's
own signed report goes in as REPORT.PDF, signatures intact.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path
from typing import IO

from pydicom.fileset import FileSet

README = (
    b"This package holds one imaging study in DICOM format. Open DICOMDIR with any DICOM\r\n"
    b"viewer; the images are in the DICOM folder.\r\n"
)
REPORT_README = (
    b"REPORT.PDF is the signed imaging report; its signatures can be checked on the hub's\r\n"
    b"verification page (the address is printed on it).\r\n"
)


def write_package(
    storage_root: Path, relative_paths: list[str], out: IO[bytes], report_pdf: bytes | None = None
) -> int:
    """Write the zip to ``out``; returns how many instances went into the DICOMDIR."""
    fileset = FileSet()
    others: list[Path] = []
    for relative in relative_paths:
        path = storage_root / relative
        try:
            fileset.add(str(path))
        except (ValueError, KeyError, AttributeError, TypeError):
            # An instance the DICOMDIR has no record type for still goes on the CD.
            others.append(path)
    with tempfile.TemporaryDirectory(prefix="cd-") as tmp:
        root = Path(tmp)
        indexed = len(fileset)
        if indexed:
            fileset.write(root)
        # Stored, not deflated: pixel data hardly compresses and the CPU is better spent.
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr("README.TXT", README + (REPORT_README if report_pdf else b""))
            if report_pdf:
                archive.writestr("REPORT.PDF", report_pdf)
            for dirpath, _dirs, files in os.walk(root):
                for name in sorted(files):
                    full = Path(dirpath) / name
                    archive.write(full, str(full.relative_to(root)))
            for number, path in enumerate(others, 1):
                archive.write(path, f"OTHER/F{number:06d}.DCM")
    return indexed
