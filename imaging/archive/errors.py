"""The errors of every outside-archive client: retryable or permanent, nothing else.

They are API errors too: a request that needed the archive answers 503 either way, since the
caller can do nothing about the archive but try later or ask someone who can.
"""

from __future__ import annotations

from hub.errors import HubError


class ArchiveError(HubError):
    """An outside archive did not do what was asked; ``permanent`` says whether retrying can
    help. Messages never carry the archive's address (it may hold credentials)."""

    status = 503
    code = "archive_unavailable"

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class ArchiveUnavailable(ArchiveError):
    """Down, busy, or the connection lost: the same request may succeed later."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=False)


class ArchiveRefused(ArchiveError):
    """The archive refuses the request as it is: sending it again will not help."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)
