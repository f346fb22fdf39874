"""A cache of stack plans keyed by everything that shapes them, so an unchanged stack is not re-planned.

Planning a stack is a pure function of its inputs: the stack's spec (its tenants' parsed
records with every default and placement resolved, their ledger entries, the cell, the
platform settings it takes), the platform file and the plan table, the code that builds
and judges it, the installed dependency versions, the plan format, the environment and
whether the policy pack ran. The key of a stack is the SHA-256 of all of them; an entry is
only ever found under the key of the exact inputs it was planned from, so a hit can never
be stale. Anything not named here is assumed not to shape a plan: adding such an input to
the program means adding it to :func:`fleet_fingerprint` or the spec.

Entries are JSON files ``<dir>/<key>.json``, written atomically (a temporary file renamed
into place); an entry that cannot be read or does not hold a plan of its stack is ignored
and the stack re-planned. Trust: an entry is believed as planned, policy verdict
included, so the directory must be writable only by jobs as trusted as the gate itself.
Deleting the directory is always safe.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tenantctl import planner
from tenants.loader import PLATFORM_FILE, Registry
from tenants.stacks import StackSpec

ROOT = Path(__file__).resolve().parents[1]
#: The code that builds and judges a stack (every file under these, relative to the root).
CODE_DIRECTORIES = ("components", "tenants", "policy", "tenantctl")
CODE_FILES = ("__main__.py", "Pulumi.yaml")
#: Under the code directories but data, keyed per stack instead: the sample registry.
NOT_CODE = ("tenants/registry",)
PLANS_FILE = "tenants/plans.yaml"
#: Bump to drop every entry written before (a change of what an entry holds).
CACHE_FORMAT = 1

PlanMany = Callable[[Sequence[StackSpec]], list[planner.StackPlan]]


def canonical(value: Any) -> Any:
    """A JSON-able, order-independent form of a spec: models, dataclasses, mappings, enums."""
    if isinstance(value, BaseModel):
        return canonical(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple | set | frozenset):
        items = [canonical(v) for v in value]
        return sorted(items, key=json.dumps) if isinstance(value, set | frozenset) else items
    if isinstance(value, enum.Enum):
        return canonical(value.value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot key a {type(value).__name__} ({value!r}): add it to plan_cache.canonical")


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def spec_digest(spec: StackSpec, registry: Registry) -> str:
    """The digest of one stack's own inputs: its spec and its tenants' ledger entries."""
    ledger = {t.id: registry.ledger.tenants.get(t.id) for t in spec.tenants}
    return _digest({"spec": canonical(spec), "ledger": canonical(ledger)})


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "absent"


def code_digest(root: Path = ROOT) -> str:
    """Every file of the code that builds and judges a stack, by path and content."""
    files: list[Path] = [root / name for name in CODE_FILES]
    for directory in CODE_DIRECTORIES:
        files += (p for p in (root / directory).rglob("*") if p.is_file())
    excluded = tuple(root / d for d in NOT_CODE)
    digests = {p.relative_to(root).as_posix(): _file_digest(p) for p in sorted(files)
               if "__pycache__" not in p.parts and p.suffix != ".pyc"
               and not any(p.is_relative_to(d) for d in excluded)}
    return _digest(digests)


def dependency_versions() -> list[str]:
    """``name==version`` of every installed distribution, and the interpreter's version.

    All of them, not a chosen few: the plan runs through pulumi's gRPC and protobuf
    stacks and pydantic's core, so a transitive upgrade can change it too.
    """
    found = {f"{re.sub(r'[-_.]+', '-', d.metadata['Name'] or '?').lower()}=={d.version}"
             for d in metadata.distributions()}
    return sorted(found) + [f"python=={sys.version.split()[0]}"]


def fleet_fingerprint(registry: Registry, *, policies: bool, root: Path = ROOT) -> dict[str, Any]:
    """What shapes every stack of a fleet alike (the per-stack part is :func:`spec_digest`)."""
    return {"cache": CACHE_FORMAT, "planVersion": planner.PLAN_VERSION, "policies": policies,
            "platform": _file_digest(registry.directory / PLATFORM_FILE),
            "plans": _file_digest(root / PLANS_FILE), "code": code_digest(root),
            "dependencies": dependency_versions()}


def build_digest(registry: Registry, *, policies: bool, root: Path = ROOT) -> str:
    """One digest of :func:`fleet_fingerprint`: plans made under equal digests are comparable."""
    return _digest(fleet_fingerprint(registry, policies=policies, root=root))


def stack_key(spec: StackSpec, registry: Registry, fingerprint: Mapping[str, Any]) -> str:
    """The cache key of one stack: its own inputs, its environment and the fleet's fingerprint."""
    return _digest({"fleet": dict(fingerprint), "environment": spec.environment,
                    "stack": spec_digest(spec, registry)})


def _plan_from(entry: Any, key: str, spec: StackSpec) -> planner.StackPlan | None:
    """The plan an entry holds, or None when it is not a whole plan of this stack under this key."""
    if not isinstance(entry, dict) or entry.get("key") != key or not isinstance(entry.get("plan"), dict):
        return None
    body = entry["plan"]
    try:
        plan = planner.StackPlan(body["name"], body["kind"], list(body["tenants"]),
                                 list(body["resources"]), list(body["violations"]),
                                 float(entry.get("seconds", 0.0)), dict(body["hosts"]))
    except (KeyError, TypeError, ValueError):
        return None
    if plan.name != spec.name or plan.tenants != [t.id for t in spec.tenants]:
        return None
    return plan


class PlanCache:
    """Stack plans of one registry, environment and policy setting, stored under ``directory``."""

    def __init__(self, directory: Path, registry: Registry, *, policies: bool, root: Path = ROOT) -> None:
        self.directory = directory
        self.registry = registry
        self.fingerprint = fleet_fingerprint(registry, policies=policies, root=root)
        self.hits = 0
        self.misses = 0

    def key(self, spec: StackSpec) -> str:
        """The key of one stack of this registry."""
        return stack_key(spec, self.registry, self.fingerprint)

    def get(self, spec: StackSpec) -> planner.StackPlan | None:
        """The cached plan of this stack, or None (absent, unreadable or not this stack's)."""
        key = self.key(spec)
        try:
            entry = json.loads((self.directory / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        return _plan_from(entry, key, spec)

    def put(self, spec: StackSpec, plan: planner.StackPlan) -> None:
        """Store a plan atomically: readers see the old entry or the whole new one."""
        key = self.key(spec)
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"key": key, "seconds": plan.seconds, "plan": plan.as_json()}, out)
            os.replace(tmp, self.directory / f"{key}.json")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def plan(self, specs: Sequence[StackSpec], plan_many: PlanMany) -> list[planner.StackPlan]:
        """Plans of ``specs`` in order: cached ones reused, the others planned by ``plan_many`` and stored.

        ``plan_many`` is the planner (``planner.plan_stacks`` with its options), called once
        with every miss, so that whatever it does for speed (parallel workers) still applies.
        """
        found = {spec.name: plan for spec in specs if (plan := self.get(spec)) is not None}
        missing = [spec for spec in specs if spec.name not in found]
        planned = {plan.name: plan for plan in (plan_many(missing) if missing else [])}
        for spec in missing:  # by name: a parallel planner may return them in another order
            self.put(spec, planned[spec.name])
            found[spec.name] = planned[spec.name]
        self.hits += len(specs) - len(missing)
        self.misses += len(missing)
        return [found[spec.name] for spec in specs]

