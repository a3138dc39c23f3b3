"""The one way every ``/api/v1`` list pages: ``?cursor=`` (opaque) and ``limit``, answering
``next_cursor`` (null on the last page).

A cursor carries the sort key of the last row the caller saw. It is opaque so that a list may
change its key later without breaking clients; a cursor that does not decode, or whose key is
out of range, is a 400, never a silent first page.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from hub.errors import BadRequest

T = TypeVar("T")
_PREFIX = "k1:"
# Keys are database ids: a key beyond a signed 64-bit integer can match no row, and would
# overflow the database driver.
MAX_KEY = 2**63 - 1
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class PageQuery(BaseModel):
    """``cursor`` and ``limit``; list queries subclass it to add their filters."""

    model_config = ConfigDict(extra="forbid")
    cursor: str | None = Field(
        default=None, max_length=64, description="next_cursor of the previous page (opaque)"
    )
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)

    def position(self) -> int | None:
        """The key after which this page starts; None for the first page."""
        return decode_cursor(self.cursor)


def encode_cursor(key: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{key}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The key a cursor carries; BadRequest when it is not one this hub wrote."""
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    digits = raw[len(_PREFIX) :] if raw.startswith(_PREFIX) else ""
    if not digits.isascii() or not digits.isdigit() or int(digits) > MAX_KEY:
        raise BadRequest(
            "The cursor is not valid; use next_cursor from the previous page.",
            code="bad_cursor",
        )
    return int(digits)


def next_cursor(rows: Sequence[T], limit: int, key: Callable[[T], int]) -> str | None:
    """The cursor of the page after ``rows`` (fetched with ``limit``), None on the last page.

    A full page may be followed by an empty one; fetching ``limit + 1`` rows to know better
    would cost every page to spare the last one.
    """
    if len(rows) < limit or not rows:
        return None
    return encode_cursor(key(rows[-1]))
