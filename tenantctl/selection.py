"""Change selection: the stacks a change between a base and a head can touch, and no others.

From the paths a change touches and the registry on both sides (the head's, and the base's
read from the git ref), the stacks to plan:

- a tenant file (``<registry>/<id>.yaml``) added, changed or deleted: the stacks that tenant
  lives in on the head and on the base. Tenants of a cell share its stack, so touching one
  tenant of a cell plans that cell's stack (with all of its tenants); a move between cells
  or tiers, or a migration, touches its source and its target;
- ``_allocations.yaml``: the stacks of the tenants whose ledger entries differ;
- any other path (code, ``_platform.yaml``, ``tenants/plans.yaml``, pyproject, ``policy/``,
  workflows, a file of the registry that is not a tenant's): every stack, on both sides;
- paths that no plan reads (:data:`INERT`: documentation, tests, benchmarks): nothing.

Whatever the paths say, a stack whose own inputs differ between base and head
(:func:`tenantctl.plan_cache.spec_digest`: resolved records, placements, ledger entries)
or a tenant that lives in other stacks on the two sides selects those stacks too: the net
under the path rules, so a placement decided differently (an unrecorded one, a migration
recorded elsewhere) is never missed. No base registry (the ref has none, or it does not
load with this code) plans everything.
"""

from __future__ import annotations

import contextlib
import io
import subprocess  # noqa: S404 - git with fixed argument lists
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from tenantctl.plan_cache import canonical, spec_digest
from tenants.loader import LEDGER_FILE, PLATFORM_FILE, Registry, load_registry
from tenants.problems import RegistryInvalid
from tenants.stacks import StackSpec, fleet_stacks

#: Paths no plan reads (the same ones the plan cache's code digest leaves out).
INERT = ("docs/", "tests/", "bench/")
INERT_SUFFIXES = (".md",)
#: Paths named as the reason for planning everything (the rest are counted).
MAX_REASONS = 10


class SelectionError(Exception):
    """The change cannot be worked out (no git repository, unknown ref): invalid input."""


@dataclass(frozen=True)
class Selection:
    """The stacks to plan on each side, and why each was chosen."""

    head: tuple[str, ...]
    base: tuple[str, ...]
    everything: bool
    reasons: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        """Every selected stack, on either side, sorted (what a diff compares)."""
        return tuple(sorted(set(self.head) | set(self.base)))

    def as_json(self) -> dict[str, object]:
        """The selection as ``tenantctl plan --json`` reports it."""
        return {"everything": self.everything, "head": list(self.head), "base": list(self.base),
                "reasons": {k: list(v) for k, v in sorted(self.reasons.items())}}


def _git(repo: Path, *args: str, text: bool = True) -> subprocess.CompletedProcess[Any]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=text,  # noqa: S603, S607
                          check=False)


def repository_of(directory: Path) -> Path:
    """The top of the git work tree holding ``directory``."""
    found = _git(directory, "rev-parse", "--show-toplevel")
    if found.returncode != 0:
        raise SelectionError(f"{directory} is not in a git repository: give --changed-files instead")
    return Path(found.stdout.strip())


def changed_paths(repo: Path, ref: str) -> list[str]:
    """Paths (relative to the repository) that differ between ``ref`` and the work tree, untracked ones too.

    Renames count as a deletion and an addition, so both names are seen.
    """
    if ref.startswith("-") or _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode:
        raise SelectionError(f"{ref!r} is not a commit of {repo}")
    diff = _git(repo, "diff", "--name-only", "--no-renames", ref, "--")
    untracked = _git(repo, "ls-files", "--others", "--exclude-standard", "--full-name")
    if diff.returncode or untracked.returncode:
        raise SelectionError(f"git diff {ref} failed: {(diff.stderr or untracked.stderr).strip()}")
    return sorted((set(diff.stdout.split("\n")) | set(untracked.stdout.split("\n"))) - {""})


@contextlib.contextmanager
def registry_at(repo: Path, ref: str, registry: Path) -> Iterator[Registry | None]:
    """The registry as it was at ``ref`` (None: the ref has none, or it does not load).

    Read with ``git archive`` into a temporary directory, with this code's loader.
    """
    rel = registry.resolve().relative_to(repo.resolve()).as_posix()
    archive = _git(repo, "archive", "--format=tar", ref, "--", rel, text=False)
    if archive.returncode != 0:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="tenantctl-base-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        try:
            yield load_registry(Path(tmp) / rel)
        except RegistryInvalid:
            yield None


def _homes(stacks: Iterable[StackSpec]) -> dict[str, set[str]]:
    """Tenant id -> the stacks it lives in."""
    homes: dict[str, set[str]] = {}
    for spec in stacks:
        for tenant in spec.tenants:
            homes.setdefault(tenant.id, set()).add(spec.name)
    return homes


def _classify(path: str, registry_rel: str) -> tuple[str, str]:
    """("tenant", id) | ("ledger", "") | ("inert", "") | ("everything", why) for one changed path."""
    pure = PurePosixPath(path)
    inside = registry_rel == "." or pure.is_relative_to(registry_rel)
    if inside:
        rest = pure.relative_to(registry_rel) if registry_rel != "." else pure
        if rest.as_posix() == LEDGER_FILE:
            return "ledger", ""
        if len(rest.parts) == 1 and rest.suffix == ".yaml" and not rest.name.startswith(("_", ".")):
            return "tenant", rest.stem
        why = "the platform file" if rest.as_posix() == PLATFORM_FILE else "a registry file"
        return "everything", f"{path} ({why}) changed"
    if path.startswith(INERT) or path.endswith(INERT_SUFFIXES):
        return "inert", ""
    return "everything", f"{path} changed"


def select(paths: Iterable[str], head: Registry, base: Registry | None, environment: str,
           registry_rel: str) -> Selection:
    """The stacks to plan for a change of ``paths`` (relative to the repository root).

    ``registry_rel``: the registry directory relative to the same root ("." if it is the root).
    """
    head_stacks = fleet_stacks(head, environment)
    if base is None:
        return Selection(tuple(s.name for s in head_stacks), (), True,
                         {"*": ("the base has no registry that loads with this code",)})
    base_stacks = fleet_stacks(base, environment)
    everything = []
    reasons: dict[str, list[str]] = {}
    head_homes, base_homes = _homes(head_stacks), _homes(base_stacks)

    def touch(tenant: str, why: str) -> None:
        for name in head_homes.get(tenant, set()) | base_homes.get(tenant, set()):
            reasons.setdefault(name, []).append(why)

    for path in paths:
        kind, detail = _classify(path, registry_rel)
        if kind == "tenant":
            touch(detail, f"tenant {detail} ({path}) changed")
        elif kind == "ledger":
            for tenant in sorted(set(head.ledger.tenants) | set(base.ledger.tenants)):
                if canonical(head.ledger.tenants.get(tenant)) != canonical(base.ledger.tenants.get(tenant)):
                    touch(tenant, f"the ledger entry of {tenant} changed")
        elif kind == "everything":
            everything.append(detail)
    if everything:
        shown = everything[:MAX_REASONS] + [f"... and {len(everything) - MAX_REASONS} more"] \
            if len(everything) > MAX_REASONS else everything
        return Selection(tuple(s.name for s in head_stacks), tuple(s.name for s in base_stacks), True,
                         {"*": tuple(shown)})
    for tenant in sorted(set(head_homes) | set(base_homes)):
        if head_homes.get(tenant) != base_homes.get(tenant):
            touch(tenant, f"tenant {tenant} moves between stacks")
    base_by_name = {s.name: s for s in base_stacks}
    for spec in head_stacks:
        other = base_by_name.get(spec.name)
        if other is not None and spec_digest(spec, head) != spec_digest(other, base):
            reasons.setdefault(spec.name, []).append("its inputs differ from the base")
    head_names = {s.name for s in head_stacks}
    return Selection(tuple(sorted(n for n in reasons if n in head_names)),
                     tuple(sorted(n for n in reasons if n in base_by_name)), False,
                     {k: tuple(dict.fromkeys(v)) for k, v in reasons.items()})


def read_paths(text: str) -> list[str]:
    """A changed-files list: one path a line, blank lines ignored."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def registry_relative(registry: Path, repo: Path) -> str:
    """The registry directory relative to the repository, or :class:`SelectionError` if outside it."""
    try:
        return registry.resolve().relative_to(repo.resolve()).as_posix() or "."
    except ValueError:
        raise SelectionError(f"the registry {registry} is not inside the repository {repo}: "
                             "changes to it cannot be seen there") from None


def selection_since(ref: str, head: Registry, environment: str,
                    paths: Sequence[str] | None = None) -> Selection:
    """The selection for a change from ``ref`` to the work tree (``paths``: given instead of git's)."""
    repo = repository_of(head.directory)
    rel = registry_relative(head.directory, repo)
    changed = changed_paths(repo, ref) if paths is None else list(paths)
    with registry_at(repo, ref, head.directory) as base:
        return select(changed, head, base, environment, rel)
