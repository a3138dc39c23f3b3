"""What any client-sent value must be before a route sees it, whatever its schema says: JSON no
deeper than a bound, integers a database column can hold, text that can be stored as UTF-8.

Each check runs in one place (the API's body and query parsing, the URL's integer converter,
the realtime handlers), so a malformed request is a 4xx with the usual error body, never a
RecursionError, OverflowError or UnicodeEncodeError from deep inside the stack.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter

from hub.errors import BadRequest, ValidationFailed

MAX_DEPTH = 32  # far deeper than any of the API's bodies; the parser recurses per level
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # a signed 64-bit column, the widest the hub stores
ID_MAX = 2**31 - 1  # an INTEGER id column (signed 32-bit on PostgreSQL), what most ids are


def json_depth_exceeds(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON text nests arrays/objects deeper than ``limit``, read without parsing
    it (the parser itself would recurse once per level and fail on a deep enough text)."""
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


def _problem(value: Any, path: str) -> tuple[str, str] | None:
    """(field, problem) for the first value no column can store, else None."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, bool):
            continue
        if isinstance(item, int):
            if not INT_MIN <= item <= INT_MAX:
                return where, "integer out of range (a signed 64-bit integer)"
        elif isinstance(item, str):
            if not _is_storable(item):
                return where, "text is not valid Unicode (a lone surrogate)"
        elif isinstance(item, dict):
            for key, sub in item.items():
                if isinstance(key, str) and not _is_storable(key):
                    return where, "a key is not valid Unicode (a lone surrogate)"
                stack.append((sub, f"{where}.{key}" if where else str(key)))
        elif isinstance(item, list | tuple):
            stack.extend((sub, f"{where}.{i}" if where else str(i)) for i, sub in enumerate(item))
    return None


def _is_storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_values(value: Any, *, what: str = "body") -> None:
    """Refuse (422) a decoded payload holding an integer or a text no column can store."""
    found = _problem(value, "")
    if found is not None:
        field, problem = found
        raise ValidationFailed(
            f"The {what} has a value that cannot be stored.",
            details=[{"field": field or None, "problem": problem, "type": "value_error"}],
        )


def check_json_text(raw: bytes) -> None:
    """Refuse (400) a JSON text nested deeper than the hub accepts, before it is parsed."""
    if json_depth_exceeds(raw):
        raise BadRequest(
            f"The JSON body nests deeper than {MAX_DEPTH} levels.", code="json_too_deep"
        )


def digits_up_to(limit: int) -> str:
    """A regular expression matching the decimal numbers 0..``limit`` (leading zeros allowed up
    to ``limit``'s length), so that a larger number fails the URL's pattern itself."""
    top = str(limit)
    options = [rf"\d{{1,{len(top) - 1}}}"] if len(top) > 1 else []
    for i, digit in enumerate(top):
        if digit != "0":
            rest = len(top) - i - 1
            options.append(f"{top[:i]}[0-{int(digit) - 1}]" + (rf"\d{{{rest}}}" if rest else ""))
    options.append(top)
    return "(?:" + "|".join(options) + ")"


class IdConverter(IntegerConverter):
    """``<int:...>`` in every URL: an id column is INTEGER, signed 32-bit on PostgreSQL, so a
    larger number matches no route (404) instead of overflowing the database driver.

    The bound is in the pattern, not only in ``to_python``: a number refused there would still
    have matched the path, and Werkzeug would answer 405 for the other methods of that shape."""

    max_value = ID_MAX

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", self.max_value)
        super().__init__(map, *args, **kwargs)
        self.regex = digits_up_to(self.max_value)


class BigIdConverter(IdConverter):
    """``<bigint:...>``: the id of a BIGINT table (insurance claims), up to 64 bits."""

    max_value = INT_MAX
