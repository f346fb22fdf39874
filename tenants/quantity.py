"""Kubernetes resource quantities as exact numbers, for quota arithmetic at validation time."""

from __future__ import annotations

import functools
import re
from decimal import Decimal

_SUFFIXES = {
    "Ki": Decimal(1024), "Mi": Decimal(1024**2), "Gi": Decimal(1024**3), "Ti": Decimal(1024**4),
    "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12),
    "m": Decimal("0.001"), "": Decimal(1),
}
QUANTITY_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T|m)?$")


def parse_quantity(value: str | int) -> Decimal:
    """Parse ``"500m"``, ``"2Gi"``, ``4`` into a Decimal in base units (cores or bytes).

    Strings and ints are kept per value: validating a fleet parses the same few quantities
    of the plans hundreds of thousands of times (Decimals are immutable, so every caller
    may share one). Anything else (a bool, a float, a list from a hostile file) is parsed
    each time and refused the same way.
    """
    if type(value) is str or type(value) is int:
        return _parse_kept(value)
    return _parse(value)


def _parse(value: str | int) -> Decimal:
    match = QUANTITY_RE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a Kubernetes quantity such as 500m, 2, 512Mi or 4Gi")
    number, suffix = match.groups()
    return Decimal(number) * _SUFFIXES[suffix or ""]


_parse_kept = functools.lru_cache(maxsize=4096, typed=True)(_parse)
