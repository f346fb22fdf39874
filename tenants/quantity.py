"""Kubernetes resource quantities as exact numbers, for quota arithmetic at validation time."""

from __future__ import annotations

import re
from decimal import Decimal

_SUFFIXES = {
    "Ki": Decimal(1024), "Mi": Decimal(1024**2), "Gi": Decimal(1024**3), "Ti": Decimal(1024**4),
    "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12),
    "m": Decimal("0.001"), "": Decimal(1),
}
QUANTITY_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T|m)?$")


def parse_quantity(value: str | int) -> Decimal:
    """Parse ``"500m"``, ``"2Gi"``, ``4`` into a Decimal in base units (cores or bytes)."""
    match = QUANTITY_RE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a Kubernetes quantity such as 500m, 2, 512Mi or 4Gi")
    number, suffix = match.groups()
    return Decimal(number) * _SUFFIXES[suffix or ""]
