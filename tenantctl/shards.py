"""Shards: the offline plan of many stacks split across CI runners, and merged back into one plan.

``tenantctl plan --shard K/N`` plans the K-th of N balanced parts of the selected stacks
and writes a partial ``plan.json`` with a ``shard.json`` beside it (which part, of which
selection, planned by which code); ``tenantctl merge-plans OUT PLAN...`` checks that the
parts are the N parts of one selection planned alike (else exit 2) and writes one
``plan.json`` with one verdict. ``tenantctl plan --matrix`` prints the shards as a CI job
matrix.

The assignment is a pure function of the selected stack names and their weights: every
shard computes it for itself, from the same checkout, and all agree. Weights estimate a
stack's resources (what its planning time follows): a cell's platform plus about a hundred
resources per tenant, a dedicated tenant's stack about 240. Stacks go heaviest first to the
lightest shard (ties: the lower index), which keeps the largest shard within one stack of
the mean.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenantctl import planner
from tenants.stacks import StackSpec

SHARD_FILE = "shard.json"
BASE_FILE = "base-plan.json"
SHARD_FORMAT = 1
#: Estimated resources: a cell's own, each tenant's in a cell, a dedicated tenant's stack.
CELL_WEIGHT, SHARED_TENANT_WEIGHT, DEDICATED_WEIGHT = 150, 100, 240
#: Weight one CI runner plans in reasonable time, and the most runners one gate asks for.
SHARD_TARGET_WEIGHT, MAX_SHARDS = 5000, 16
_SHARD_RE = re.compile(r"^([1-9][0-9]*)/([1-9][0-9]*)$")


class ShardError(ValueError):
    """Partial plans that are not the parts of one plan (exit 2)."""


@dataclass(frozen=True)
class Shard:
    """Part ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(value: str) -> Shard:
    """``K/N`` with 1 <= K <= N (the type of ``--shard``)."""
    match = _SHARD_RE.match(value)
    if not match or int(match[1]) > int(match[2]):
        raise ValueError(f"{value!r} is not a shard: K/N with 1 <= K <= N")
    return Shard(int(match[1]), int(match[2]))


def weight(spec: StackSpec) -> int:
    """A stack's estimated resources."""
    if spec.kind == "shared":
        return CELL_WEIGHT + SHARED_TENANT_WEIGHT * len(spec.tenants)
    return DEDICATED_WEIGHT


def assign(weights: Mapping[str, int], count: int) -> list[list[str]]:
    """The stacks of each of ``count`` shards (sorted names), balanced by weight, deterministic."""
    loads = [0] * count
    parts: list[list[str]] = [[] for _ in range(count)]
    for name in sorted(weights, key=lambda n: (-weights[n], n)):
        lightest = min(range(count), key=lambda i: (loads[i], i))
        parts[lightest].append(name)
        loads[lightest] += weights[name]
    return [sorted(p) for p in parts]


def shard_count(weights: Mapping[str, int], target: int = SHARD_TARGET_WEIGHT,
                most: int = MAX_SHARDS) -> int:
    """How many shards a selection needs: one per ``target`` weight, at most ``most``, one per stack."""
    if not weights:
        return 0
    return max(1, min(most, len(weights), -(-sum(weights.values()) // target)))


def matrix(weights: Mapping[str, int], count: int) -> list[dict[str, Any]]:
    """The CI job matrix: one entry per shard, ``{"shard": "K/N", "stacks": n, "weight": w}``."""
    return [{"shard": str(Shard(i, count)), "stacks": len(part), "weight": sum(weights[n] for n in part)}
            for i, part in enumerate(assign(weights, count), start=1) if count]


def write_shard(out: Path, shard: Shard, selection: Sequence[str], head: Sequence[str],
                base: Sequence[str] | None, build: str) -> Path:
    """``out/shard.json``: which part this is, of which selection, planned by which build.

    ``base``: the base stacks this shard planned into ``base-plan.json`` (None: no base).
    ``build``: a digest of what shapes every plan (code, dependencies, platform, policies).
    """
    path = out / SHARD_FILE
    path.write_text(json.dumps({"format": SHARD_FORMAT, "shard": shard.index, "of": shard.count,
                                "planVersion": planner.PLAN_VERSION, "build": build,
                                "selection": sorted(selection), "head": sorted(head),
                                "base": None if base is None else sorted(base)}, indent=1), encoding="utf-8")
    return path


@dataclass
class Merged:
    """The merged head plan, the merged base document (if the shards diffed), the selection."""

    plans: list[planner.StackPlan]
    base: dict[str, Any] | None
    selection: list[str]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ShardError(f"{path}: cannot read: {exc}") from None


def _partial_plans(path: Path) -> list[planner.StackPlan]:
    """A shard's plan.json: possibly no stacks at all (a shard of only deleted stacks)."""
    return planner.plans_in(_read_json(path), path, may_be_empty=True)


def _plan_file(given: Path) -> Path:
    return given / "plan.json" if given.is_dir() else given


def merge(paths: Sequence[Path], expected: int | None = None) -> Merged:
    """Check that ``paths`` are the parts of one sharded plan and merge them (ShardError otherwise)."""
    if not paths:
        if expected:
            raise ShardError(f"no partial plans given; expected {expected}")
        return Merged([], None, [])
    metas = []
    for given in paths:
        sidecar = _plan_file(given).parent / SHARD_FILE
        meta = _read_json(sidecar) if sidecar.is_file() else None
        if not isinstance(meta, dict) or meta.get("format") != SHARD_FORMAT:
            raise ShardError(f"{given}: not a shard of `tenantctl plan --shard` (no readable {SHARD_FILE})")
        metas.append(meta)
    first = metas[0]
    for key in ("of", "planVersion", "build", "selection"):
        differing = sorted({json.dumps(m.get(key)) for m in metas})
        if len(differing) > 1:
            raise ShardError(f"the shards differ in {key}: {', '.join(differing)[:300]} "
                             "(planned from other commits, code or settings?)")
    count = int(first["of"])
    if expected is not None and count != expected:
        raise ShardError(f"the shards are parts of {count}, expected {expected}")
    indices = sorted(int(m["shard"]) for m in metas)
    if indices != list(range(1, count + 1)):
        raise ShardError(f"shards {indices} given; expected exactly one of each of 1..{count}")
    plans: list[planner.StackPlan] = []
    base_stacks: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    with_base = all(m.get("base") is not None for m in metas)
    for given, meta in zip(paths, metas, strict=True):
        part = _partial_plans(_plan_file(given))
        names = sorted(p.name for p in part)
        if names != meta["head"]:
            raise ShardError(f"{given}: holds stacks {names}, but its shard.json says {meta['head']}")
        for name in names:
            if name in seen:
                raise ShardError(f"stack {name} is in shard {seen[name]} and in shard {meta['shard']}: "
                                 "the shards overlap")
            seen[name] = meta["shard"]
        plans += part
        if with_base:
            document = _read_json(_plan_file(given).parent / BASE_FILE)
            base_stacks += [s for s in document.get("stacks", []) if s.get("name") in meta["base"]]
    selection = list(first["selection"])
    covered = set(seen) | {n for m in metas for n in (m.get("base") or ())}
    unplanned = sorted(set(selection) - covered)
    if unplanned:
        raise ShardError(f"stack(s) {unplanned} of the selection are in no shard")
    base = {**planner.plan_document([]), "stacks": sorted(base_stacks, key=lambda s: s["name"])} \
        if with_base else None
    return Merged(sorted(plans, key=lambda p: p.name), base, selection)
