"""Walking an /api/v1 list by its next_cursor, and the cursors every list must refuse."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from hub.api.pagination import encode_cursor

# A cursor this hub never wrote, and one whose key is beyond any database id.
BAD_CURSORS = ("not-a-cursor!", encode_cursor(2**70))


def _with(url: str, **params: object) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items() if v is not None)
    return f"{url}{'&' if '?' in url else '?'}{query}"


def all_pages(
    client: FlaskClient, url: str, headers: dict[str, str], *, limit: int = 200
) -> list[dict[str, Any]]:
    """Every item of the list, following next_cursor until it is null."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(10_000):
        resp = client.get(_with(url, limit=limit, cursor=cursor), headers=headers)
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("next_cursor never became null")


def assert_refuses_bad_cursors(client: FlaskClient, url: str, headers: dict[str, str]) -> None:
    """A malformed cursor and one with an out-of-range key are a 400, never a first page."""
    for cursor in BAD_CURSORS:
        resp = client.get(_with(url, cursor=cursor), headers=headers)
        assert resp.status_code == 400, (cursor, resp.get_json())
        assert resp.get_json()["error"]["code"] == "bad_cursor"
