"""The central archive: the national PACS every instance is forwarded to."""

from __future__ import annotations

from hub.config import ImagingSettings
from imaging.archive.client import ArchiveClient


class CentralArchive(ArchiveClient):
    """The central PACS (``HUB_CENTRAL_PACS``) and its REST API (``HUB_CENTRAL_ARCHIVE_REST``)."""

    name = "central archive"

    @classmethod
    def from_settings(cls, settings: ImagingSettings) -> CentralArchive:
        """The client as configured; its calls refuse what the settings leave unconfigured."""
        return cls(settings.central_pacs, settings.ae_title, rest_url=settings.central_archive_rest)
