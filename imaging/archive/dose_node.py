"""The national dose node: the Ministry's teleradiology system that takes each study's dose SRs
and a KOS naming them (SEEDS 003), over C-STORE."""

from __future__ import annotations

from hub.config import ImagingSettings
from imaging.archive.client import ArchiveClient


class NationalDoseNode(ArchiveClient):
    """``HUB_NATIONAL_DOSE_NODE``, called as the hub's own AE title."""

    name = "national dose node"

    @classmethod
    def from_settings(cls, settings: ImagingSettings) -> NationalDoseNode:
        """The client as configured; its calls refuse when no node is configured."""
        return cls(settings.national_dose_node, settings.ae_title)
