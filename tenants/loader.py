"""Load the registry directory, check it as a whole, and resolve every tenant.

The registry is read completely and every problem is collected before anything is
returned: an operator fixes all mistakes in one round, and nothing is ever provisioned from
a registry with a problem in it.

Layout of a registry directory:

- ``<id>.yaml``: one tenant (:class:`tenants.models.TenantRecord`);
- ``_platform.yaml``: platform settings and cells (optional, safe defaults);
- ``_allocations.yaml``: the placement ledger (optional; see :mod:`tenants.allocation`).
"""

from __future__ import annotations

import functools
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from tenants import accounts, capacity, naming, placements, strict_yaml
from tenants.allocation import CellSlot, PlacementError, Seeker, allocate_cidrs, assign_cells
from tenants.models import Allocation, Ledger, PlatformSettings, TenantRecord, Tier
from tenants.naming import TenantNames
from tenants.plans import PlanSpec, load_plans
from tenants.problems import Problem, RegistryInvalid, problems_from_validation, show_value

PLATFORM_FILE = "_platform.yaml"
LEDGER_FILE = "_allocations.yaml"
MAX_FILE_BYTES = 64 * 1024
DEFAULT_REGISTRY = Path(__file__).with_name("registry")
#: Environment variable naming the registry directory (when no option or config does).
REGISTRY_ENV = "TENANTCTL_REGISTRY"


def registry_directory(given: str | None = None, *, base: Path | None = None) -> Path:
    """Where the registry is: ``given``, else ``$TENANTCTL_REGISTRY``, else the sample fleet.

    ``given`` is an option or the stack's config. The registry is data that may live apart
    from the code (its own repository, a mounted volume); this is the one place that
    decides which one a command or stack reads. Relative paths are taken from ``base``
    (default: the working directory).
    """
    value = given or os.environ.get(REGISTRY_ENV)
    if not value:
        return DEFAULT_REGISTRY
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base or Path.cwd()) / path


@dataclass(frozen=True)
class ResolvedTenant:
    """A tenant with every default and placement decided: what components receive."""

    record: TenantRecord
    plan: PlanSpec
    region: str
    hostname: str
    cell: str | None
    network_cidr: str | None
    source: str
    #: The AWS account its resources live in (its own, or its cell's; None: the platform's).
    account: str | None = None

    @property
    def id(self) -> str:
        """The tenant id."""
        return self.record.id

    @property
    def tier(self) -> Tier:
        """The isolation tier."""
        return self.record.tier

    @property
    def display_name(self) -> str:
        """Human name, defaulting to the id."""
        return self.record.display_name or self.record.id

    #: Whether this placement serves the tenant's host (DNS records, certificates). During
    #: a migration (:mod:`tenants.placements`) exactly one of the tenant's placements does.
    serving: bool = True
    #: While the tenant moves between stacks: the account whose deploy role copies its files
    #: (the move's dedicated placement's); this placement's bucket and key grant that role its
    #: side of the copy (:func:`tenants.placements.copier_account`). None otherwise.
    copier_account: str | None = None

    def names(self, environment: str) -> TenantNames:
        """Physical names of this tenant in one environment, in its placement's generation."""
        return TenantNames(self.record.id, environment, self.record.generation)


@dataclass(frozen=True)
class Registry:
    """A valid registry: settings, resolved tenants (sorted by id) and the ledger."""

    directory: Path
    settings: PlatformSettings
    tenants: tuple[ResolvedTenant, ...]
    ledger: Ledger
    #: Placements made by this load that the ledger does not record yet.
    new_allocations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def tenant(self, tenant_id: str) -> ResolvedTenant:
        """The tenant with this id (KeyError if absent)."""
        return self._by_id[tenant_id]

    @functools.cached_property
    def _by_id(self) -> dict[str, ResolvedTenant]:
        """The tenants by id, built once (listing a fleet's stacks asks for each dedicated one)."""
        return {t.id: t for t in self.tenants}


#: What ``_read_yaml`` returns for a file it already reported as unreadable.
_UNREADABLE = object()


def _read_yaml(path: Path, rel: str, problems: list[Problem]) -> Any:
    """Parse one YAML file defensively; return ``_UNREADABLE`` (with a problem) on bad input."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            problems.append(Problem(rel, "(file)", f"{size} bytes",
                                    f"file is larger than the {MAX_FILE_BYTES}-byte limit"))
            return _UNREADABLE
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(rel, "(file)", f"byte {exc.start}", "file is not UTF-8 text"))
        return _UNREADABLE
    except OSError as exc:
        problems.append(Problem(rel, "(file)", show_value(str(exc)), "file cannot be read"))
        return _UNREADABLE
    if "\x00" in text:
        problems.append(Problem(rel, "(file)", "NUL byte", "file is binary, not YAML text"))
        return _UNREADABLE
    try:
        data = strict_yaml.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        reason = getattr(exc, "problem", None) or type(exc).__name__
        problems.append(Problem(rel, "(file)", where, f"invalid YAML: {reason}"))
        return _UNREADABLE
    except RecursionError:
        problems.append(Problem(rel, "(file)", "deep nesting", "YAML is nested too deeply"))
        return _UNREADABLE
    return data


def _model(cls: type[BaseModel], data: Any, rel: str, problems: list[Problem]) -> Any:
    """Validate ``data`` as ``cls``; record problems and return None when invalid."""
    if data is _UNREADABLE:
        return None
    if data is None:
        problems.append(Problem(rel, "(file)", "empty", "file is empty; expected a mapping"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(rel, "(file)", show_value(data),
                                f"expected a mapping of fields, got {type(data).__name__}"))
        return None
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        problems.extend(problems_from_validation(rel, exc, cls))
        return None


def _load_optional(directory: Path, name: str, cls: type[BaseModel], problems: list[Problem]) -> Any:
    path = directory / name
    if not path.exists():
        return cls()
    return _model(cls, _read_yaml(path, name, problems), name, problems)


def _load_records(directory: Path, plans: Mapping[str, PlanSpec], problems: list[Problem]
                  ) -> list[tuple[str, TenantRecord]]:
    parsed: list[tuple[Path, TenantRecord]] = []
    for path in sorted(directory.iterdir()):
        rel = path.name
        if path.name.startswith((".", "_")) or path.is_dir():
            continue
        if path.suffix == ".yml":
            problems.append(Problem(rel, "(file)", rel, "tenant files end in .yaml"))
            continue
        if path.suffix != ".yaml":
            continue
        record = _model(TenantRecord, _read_yaml(path, rel, problems), rel, problems)
        if record is not None:
            parsed.append((path, record))
    # A file named after its id comes first, so that a duplicate blames the newcomer (a
    # misnamed copy), never the existing customer's own <id>.yaml.
    parsed.sort(key=lambda item: (item[0].stem != item[1].id, item[0].name))
    records: list[tuple[str, TenantRecord]] = []
    seen: dict[str, str] = {}
    for path, record in parsed:
        rel = path.name
        if record.id in seen:
            problems.append(Problem(rel, "id", show_value(record.id),
                                    f"duplicate tenant id, already defined in {seen[record.id]}"))
            continue
        seen[record.id] = rel
        if path.stem != record.id:
            problems.append(Problem(rel, "id", show_value(record.id),
                                    f"file name must be the tenant id: rename to {record.id}.yaml"))
        if record.plan not in plans:
            problems.append(Problem(rel, "plan", show_value(record.plan),
                                    f"unknown plan; allowed plans are {sorted(plans)}"))
            continue
        records.append((rel, record))
    records.sort(key=lambda item: item[0])
    return records


def _runner_blocks(settings: PlatformSettings) -> dict[str, str]:
    """The deploy runners' subnets: routed into every VPC of their region, so never reused."""
    return {f"deploy runner of {region}": cidr
            for region, runner in sorted(settings.deploy_runners.items()) for cidr in runner.cidrs}


def _check_cells(settings: PlatformSettings, problems: list[Problem]) -> None:
    names = [c.name for c in settings.cells]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(Problem(PLATFORM_FILE, "cells.name", show_value(dup), "duplicate cell name"))
    # (field, what, cidr) of every block that must not overlap another.
    blocks = [("cells.vpc_cidr", f"cell {c.name}", c.vpc_cidr) for c in settings.cells]
    blocks.append(("dedicated_cidr_pool", "dedicated_cidr_pool", settings.dedicated_cidr_pool))
    blocks += [("deploy_runners.cidrs", what, cidr) for what, cidr in _runner_blocks(settings).items()]
    for i, (where, what_a, a) in enumerate(blocks):
        for _, what_b, b in blocks[i + 1:]:
            if ipaddress.IPv4Network(a).overlaps(ipaddress.IPv4Network(b)):
                problems.append(Problem(PLATFORM_FILE, where, a, f"{what_a} overlaps {what_b} ({b})"))


def _check_images(settings: PlatformSettings, records: list[tuple[str, TenantRecord]],
                  problems: list[Problem]) -> None:
    """Every workload some tenant runs needs its released image digest."""
    for workload in naming.WORKLOADS:
        users = sorted(r.id for _, r in records if workload in r.features.workloads)
        if users and workload not in settings.images:
            problems.append(Problem(
                PLATFORM_FILE, f"images.{workload}", "(missing)",
                f"no released digest (sha256:<64 hex>) for the {workload} image, which "
                f"{len(users)} tenant(s) run (first: {users[0]}); the release pipeline writes it here"))


def _self_and_ancestors(host: str) -> list[str]:
    """``a.b.c`` -> ``[a.b.c, b.c, c]``: the names a DNS name lies inside (label boundaries)."""
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def _check_hosts(records: list[tuple[str, TenantRecord]], domain: str,
                 problems: list[Problem]) -> dict[str, str]:
    """Every tenant's host name (default ``<id>.<domain>``), each in a DNS subtree of its own.

    A host name is not only one name: the tenant's cluster gets a DNS and certificate grant
    for the name and every name below it (external-dns, cert-manager), and a certificate or
    cookie for a parent name reaches the children. So no tenant's host may equal, lie inside
    or contain another tenant's, and under the platform domain a tenant may hold only its
    own default ``<id>.<domain>``: every other ``<x>.<domain>`` is the default host of
    tenant ``x`` (present or future), and the platform domain and the names above it hold
    every tenant's default host. Names are already normalised (:func:`normalise_hostname`).
    Each clash is reported once, on the later file of the pair (files sorted by name).
    """
    hosts = {rec.id: rec.hostname or f"{rec.id}.{domain}" for _, rec in records}
    allowed = "a tenant's host name may not equal, lie inside or contain another tenant's"
    owners: dict[str, list[int]] = {}
    for index, (_, rec) in enumerate(records):
        owners.setdefault(hosts[rec.id], []).append(index)
    for j, (rel, rec) in enumerate(records):
        host, own_default = hosts[rec.id], f"{rec.id}.{domain}"
        if host in _self_and_ancestors(domain):
            problems.append(Problem(rel, "hostname", show_value(host), (
                f"host name {'is' if host == domain else 'contains'} the platform domain "
                f"{domain} ({PLATFORM_FILE}), which holds every tenant's default host name; "
                f"allowed: a name outside {domain}, or {own_default}")))
        elif host.endswith(f".{domain}") and host != own_default:
            holder = host.removesuffix(f".{domain}").rsplit(".", 1)[-1]
            problems.append(Problem(rel, "hostname", show_value(host), (
                f"under the platform domain {domain} ({PLATFORM_FILE}) each tenant holds only "
                f"its own default host name, and {holder}.{domain} is the default of tenant {holder!r}; "
                f"allowed: {own_default} or a name outside {domain}")))
        for ancestor in _self_and_ancestors(host):
            for i in owners.get(ancestor, ()):
                if i == j or (ancestor == host and i > j):
                    continue  # itself; an equal pair is reported on its later file
                other_rel = records[i][0]
                if ancestor == host:
                    problems.append(Problem(rel, "hostname", show_value(host),
                                            f"host name already used by {other_rel}; {allowed}"))
                elif i < j:
                    problems.append(Problem(rel, "hostname", show_value(host), (
                        f"host name is inside {ancestor}, the host name of {other_rel}; {allowed}")))
                else:
                    problems.append(Problem(other_rel, "hostname", show_value(ancestor), (
                        f"host name contains {host}, the host name of {rel}; {allowed}")))
    return hosts


def _unrecorded_move(rel: str, rec: TenantRecord, recorded: Allocation | None) -> list[Problem]:
    """A tier edit that moves a tenant to another stack without a recorded migration.

    The ledger says where the tenant's data lives (a cell, or its own VPC). Editing the
    tier across that boundary would plan the tenant in a new stack and drop it from the
    old one: the old stack would lose its protected and retained resources, and both
    would claim the same names. Such a move is ``tenantctl migrate``, which records the
    placement it leaves (``migration``, then ``kept``) so both stacks keep declaring it.
    """
    if recorded is None:
        return []
    left = placements.left(rec)
    fix = (f"a move between stacks is a migration, not an edit: restore its tier and run "
           f"`tenantctl migrate {rec.id} --to {rec.tier}`")
    if rec.tier is Tier.CLUSTER and recorded.cell and not any(p.cell == recorded.cell for p, _ in left):
        return [Problem(rel, "tier", show_value(rec.tier.value), (
            f"tenant is recorded in cell {recorded.cell!r} ({LEDGER_FILE}), where its namespace, "
            f"schema and data live; " + fix))]
    if rec.tier.shared and recorded.network_cidr and not any(
            p.network_cidr == recorded.network_cidr for p, _ in left):
        return [Problem(rel, "tier", show_value(rec.tier.value), (
            f"tenant is recorded with its own VPC {recorded.network_cidr} ({LEDGER_FILE}), where its "
            f"cluster and data live; " + fix))]
    return []


def _place(records: list[tuple[str, TenantRecord]], settings: PlatformSettings, ledger: Ledger,
           problems: list[Problem]) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, str]]]:
    """Decide every tenant's cell and CIDR; return (cells, cidrs, new ledger entries)."""
    cells_by_name = {c.name: c for c in settings.cells}
    region_of = {r.id: r.region or settings.default_region for _, r in records}
    placed_cell: dict[str, str] = {}
    held_cidr: dict[str, str] = {}
    for tenant_id, alloc in ledger.tenants.items():
        if alloc.network_cidr:
            held_cidr[tenant_id] = alloc.network_cidr  # reserved even after offboarding
    for rel, rec in records:
        recorded = ledger.tenants.get(rec.id)
        problems.extend(_unrecorded_move(rel, rec, recorded))
        if rec.tier.shared:
            cell = rec.cell or (recorded.cell if recorded else None)
            if rec.cell and recorded and recorded.cell and recorded.cell != rec.cell:
                problems.append(Problem(rel, "cell", show_value(rec.cell),
                                        f"tenant is recorded in cell {recorded.cell!r} ({LEDGER_FILE}); "
                                        "its namespace, database schema and data live there, so a "
                                        "cell is not changed by an edit: set cell back to "
                                        f"{recorded.cell!r}"))
            if cell is None:
                continue
            spec = cells_by_name.get(cell)
            if spec is None:
                problems.append(Problem(rel, "cell", show_value(cell),
                                        f"unknown cell; cells are {sorted(cells_by_name)}"))
            elif spec.region != region_of[rec.id]:
                problems.append(Problem(rel, "region", show_value(region_of[rec.id]),
                                        f"cell {cell!r} is in {spec.region}"))
            elif rec.tier is Tier.NODE and not spec.dedicated_pools:
                problems.append(Problem(rel, "tier", show_value(rec.tier.value),
                                        f"cell {cell!r} does not allow dedicated node pools"))
            else:
                placed_cell[rec.id] = cell
        else:
            if rec.network_cidr:
                if recorded and recorded.network_cidr and recorded.network_cidr != rec.network_cidr:
                    problems.append(Problem(rel, "network_cidr", rec.network_cidr,
                                            f"tenant is recorded with {recorded.network_cidr}; "
                                            "a VPC's CIDR cannot change in place"))
                held_cidr[rec.id] = rec.network_cidr
    # Overlaps between CIDRs that are held, and with the cells' VPCs.
    cell_blocks = {f"cell {c.name}": c.vpc_cidr for c in settings.cells} | _runner_blocks(settings)
    source_of = {r.id: rel for rel, r in records}
    holders = sorted(held_cidr.items())
    for i, (a_id, a) in enumerate(holders):
        others = [(f"tenant {b_id}", b) for b_id, b in holders[i + 1:]] + list(cell_blocks.items())
        for what, b in others:
            if ipaddress.IPv4Network(a).overlaps(ipaddress.IPv4Network(b)):
                problems.append(Problem(source_of.get(a_id, LEDGER_FILE), "network_cidr", a,
                                        f"overlaps {what} ({b})"))
    for cell, spec in cells_by_name.items():
        count = sum(1 for c in placed_cell.values() if c == cell)
        if count > settings.capacity_of(spec):
            problems.append(Problem(PLATFORM_FILE, f"cells.{cell}", f"{count} tenants",
                                    f"cell is over its capacity of {settings.capacity_of(spec)}"))
    try:
        slots = [CellSlot(c.name, c.region, settings.capacity_of(c), c.dedicated_pools,
                          c.accepts_new_tenants) for c in settings.cells]
        seekers = [Seeker(r.id, region_of[r.id], r.tier is Tier.NODE) for _, r in records
                   if r.tier.shared and r.id not in placed_cell and r.cell is None]
        placed_cell.update(assign_cells(seekers, placed_cell, slots))
        wanting = [r.id for _, r in records if r.tier is Tier.CLUSTER and r.id not in held_cidr]
        held_cidr.update(allocate_cidrs(wanting, held_cidr, settings.dedicated_cidr_pool,
                                        settings.dedicated_prefix, list(cell_blocks.values())))
    except PlacementError as exc:
        problems.append(Problem(PLATFORM_FILE, "cells", "(placement)", str(exc)))
    # Every placement the ledger does not hold yet, explicit or automatic, is to be recorded.
    new: dict[str, dict[str, str]] = {}
    for _, rec in records:
        recorded = ledger.tenants.get(rec.id)
        final = ({"cell": placed_cell.get(rec.id)} if rec.tier.shared
                 else {"network_cidr": held_cidr.get(rec.id)})
        for key, value in final.items():
            if value is not None and (recorded is None or getattr(recorded, key) != value):
                new.setdefault(rec.id, {})[key] = value
    return placed_cell, held_cidr, new


def _check_departed(directory: Path, ledger: Ledger, problems: list[Problem]) -> None:
    """A recorded tenant whose file is gone would orphan its stack and data: refuse it.

    Tenants leave through ``tenantctl offboard``, which keeps the file (marked offboarded,
    its placement reserved) so that every later plan still declares the data it keeps.
    """
    for tenant_id in sorted(ledger.tenants):
        if not (directory / f"{tenant_id}.yaml").exists():
            problems.append(Problem(
                LEDGER_FILE, f"tenants.{tenant_id}", show_value(tenant_id),
                f"tenant is recorded but {tenant_id}.yaml is gone: deleting a tenant file orphans its "
                f"stack and data; restore it and run `tenantctl offboard {tenant_id}`"))


def load_registry(directory: Path = DEFAULT_REGISTRY,
                  plans: Mapping[str, PlanSpec] | None = None) -> Registry:
    """Read, validate and resolve a registry directory, or raise :class:`RegistryInvalid`."""
    plans = load_plans() if plans is None else plans
    problems: list[Problem] = []
    directory = Path(directory)
    if not directory.is_dir():
        raise RegistryInvalid([Problem(str(directory), "(directory)", show_value(str(directory)),
                                       "registry directory does not exist")])
    settings = _load_optional(directory, PLATFORM_FILE, PlatformSettings, problems)
    ledger = _load_optional(directory, LEDGER_FILE, Ledger, problems)
    records = _load_records(directory, plans, problems)
    if settings is None or ledger is None:
        raise RegistryInvalid(problems)
    _check_cells(settings, problems)
    _check_departed(directory, ledger, problems)
    cells, cidrs, new = _place(records, settings, ledger, problems)
    resolved: list[ResolvedTenant] = []
    hosts = _check_hosts(records, settings.domain, problems)
    for rel, rec in records:
        plan = plans[rec.plan]
        hostname = hosts[rec.id]
        problems.extend(Problem(rel, f, v, m) for f, v, m in capacity.check_fits(rec, plan))
        resolved.append(ResolvedTenant(
            record=rec, plan=plan, region=rec.region or settings.default_region,
            hostname=hostname, cell=cells.get(rec.id), network_cidr=cidrs.get(rec.id)
            if rec.tier is Tier.CLUSTER else None, source=rel,
            account=accounts.tenant_account(settings, rec.tier, rec.account, cells.get(rec.id))))
    cell_names = [c.name for c in settings.cells]
    for rel, rec in records:
        problems.extend(placements.problems(rel, rec, cells.get(rec.id), cell_names))
    _check_images(settings, records, problems)
    problems.extend(accounts.check_accounts(settings, resolved))
    if problems:
        raise RegistryInvalid(problems)
    return Registry(directory=directory, settings=settings,
                    tenants=tuple(sorted(resolved, key=lambda t: t.id)), ledger=ledger,
                    new_allocations=new)
