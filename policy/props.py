"""Safe access to engine property bags.

Properties arrive as plain dicts in tests and as CrossGuard's unknown-checking proxies
(``Mapping``/``Sequence``, not ``dict``/``list``) from the engine. These helpers accept
both, treat a missing or mistyped value as absent (a rule then reports it as
non-compliant instead of crashing), and never swallow the proxy's ``UnknownValueError``:
an unknown value during preview must surface as "cannot decide".
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

EMPTY: Mapping[str, Any] = {}


def is_map(value: Any) -> bool:
    """Whether ``value`` is an object."""
    return isinstance(value, Mapping)


def is_list(value: Any) -> bool:
    """Whether ``value`` is an array (strings are not)."""
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def as_map(value: Any) -> Mapping[str, Any]:
    """``value`` if it is an object, else an empty one."""
    return value if isinstance(value, Mapping) else EMPTY


def as_list(value: Any) -> list[Any]:
    """``value`` as a list if it is an array, else an empty list."""
    return list(value) if is_list(value) else []


def as_str_list(value: Any) -> list[str]:
    """A string or array of strings (IAM's ``Action: "x"`` or ``["x"]``) as a list."""
    if isinstance(value, str):
        return [value]
    return [v for v in as_list(value) if isinstance(v, str)]


def get(value: Any, *path: str | int) -> Any:
    """The value at ``path`` inside nested objects/arrays, or ``None`` if any step is missing."""
    for key in path:
        if isinstance(key, int):
            items = as_list(value)
            if key >= len(items):
                return None
            value = items[key]
        else:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
    return value


def text(value: Any) -> str | None:
    """``value`` if it is a non-empty string."""
    return value if isinstance(value, str) and value else None


def is_true(value: Any) -> bool:
    """True for ``true`` and for the string ``"true"`` (AWS passes some booleans as strings)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def is_false(value: Any) -> bool:
    """False for ``false`` and the string ``"false"``; a missing value is not false."""
    return value is False or (isinstance(value, str) and value.lower() == "false")


def number(value: Any) -> float | None:
    """A numeric value (the engine sends numbers as floats; some APIs use strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def json_doc(value: Any) -> Mapping[str, Any] | None:
    """A JSON document given as a string (IAM policies, add-on config) or as an object."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def strings(value: Any) -> list[str]:
    """Every string anywhere inside ``value`` (keys excluded), depth first."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, Mapping):
            stack.extend(item[k] for k in item)
        elif is_list(item):
            stack.extend(item)
    return found
