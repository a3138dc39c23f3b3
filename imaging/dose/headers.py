"""Dose from image headers, for a study that came without any dose document.

CT images carry the CTDIvol of their acquisition (0018,9345), projection images their
dose-area product (0018,115E, in dGy·cm²), mammograms their organ dose, the average glandular
dose (0040,0316, in dGy). Only headers are read, never pixel data, and at most ``LIMIT``
images: the CT CTDIvol is per series, the projection doses add up per image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

LIMIT = 2000
MODALITIES = frozenset({"CT", "MG", "DX", "CR", "XA", "RF"})
_TAGS = [
    "Modality",
    "SeriesInstanceUID",
    "CTDIvol",
    "ImageAndFluoroscopyAreaDoseProduct",
    "OrganDose",
    "ExposureTime",
]


@dataclass
class HeaderDose:
    modality: str | None = None
    ctdivol_by_series: dict[str, float] = field(default_factory=dict)
    dap_gym2: float | None = None
    agd_mgy: float | None = None
    images: int = 0


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def read(paths: list[Path]) -> HeaderDose:
    """What the headers of these images say of their dose."""
    found = HeaderDose()
    for path in paths[:LIMIT]:
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=_TAGS)
        except (InvalidDicomError, OSError, ValueError, TypeError, AttributeError):
            continue
        modality = str(getattr(ds, "Modality", "") or "")
        found.images += 1
        found.modality = found.modality or modality or None
        ctdivol = _number(getattr(ds, "CTDIvol", None))
        if ctdivol is not None:
            series = str(getattr(ds, "SeriesInstanceUID", ""))
            found.ctdivol_by_series[series] = max(ctdivol, found.ctdivol_by_series.get(series, 0))
        dap = _number(getattr(ds, "ImageAndFluoroscopyAreaDoseProduct", None))
        if dap is not None:
            found.dap_gym2 = (found.dap_gym2 or 0.0) + dap * 1e-5  # dGy·cm² → Gy·m²
        organ = _number(getattr(ds, "OrganDose", None))
        if organ is not None and modality == "MG":
            found.agd_mgy = (found.agd_mgy or 0.0) + organ * 100.0  # dGy → mGy
    return found
