"""Domain errors that the web layer turns into ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(HubError):
    status = 400
    code = "bad_request"


class ValidationFailed(HubError):
    status = 422
    code = "validation_failed"


class Unauthorized(HubError):
    status = 401
    code = "unauthorized"


class NotFound(HubError):
    status = 404
    code = "not_found"


class Gone(HubError):
    """It existed and was removed on purpose (e.g. by retention); it will not come back."""

    status = 410
    code = "gone"


class Conflict(HubError):
    status = 409
    code = "conflict"


class AccessDenied(HubError):
    """A refusal. It is audited in its own transaction after the request's work is rolled back.

    ``hide`` turns it into a 404 where the object's existence is itself private.
    """

    status = 403
    code = "forbidden"

    def __init__(
        self,
        message: str = "You are not allowed to do this.",
        *,
        action: str,
        object_type: str | None = None,
        object_id: object = None,
        hide: bool = False,
        details: Any = None,
    ) -> None:
        super().__init__(message, details=details)
        self.action = action
        self.object_type = object_type
        self.object_id = None if object_id is None else str(object_id)
        self.hide = hide
        if hide:
            self.status = 404
            self.code = "not_found"
            self.message = "Not found."
