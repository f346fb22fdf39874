"""What ``tenantctl migrate`` will do: the move, its steps, and each step's registry and diff.

A move is decided once, from the registry and the command line (:func:`decide`), and kept
in the migration's state file, so that a resumed run continues the same move even though
the registry already shows the target tier. Every step's effect on the stacks is computed
from the registry that step writes (:mod:`tenants.migration`), planned offline like any
change, so the printed diff of a step is what its ``up`` applies.

Refusals (:class:`Refused`, exit 2) name the reason: a tenant that is not active, a target
equal to the source, a ``cluster`` target without an account, a move to another account
without a hosted zone for the host there (with ``hosted_zones``), a shared target in a stack
that still keeps an earlier placement of the tenant, a registry the move would make
invalid (no cell with room, an account already used...), or a move the platform does not
make (another cell of the same tier: its account-scoped names would be declared by two
stacks of one account).
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tenantctl import delegation, planner
from tenantctl.delegation import Delegation
from tenantctl.diff import PlanDiff, diff_plans
from tenants import accounts, migration, placements
from tenants.loader import LEDGER_FILE, Registry, load_registry
from tenants.migration import Target
from tenants.models import Placement, Tier
from tenants.problems import RegistryInvalid
from tenants.quotas import account_label
from tenants.stacks import StackSpec, fleet_stacks

#: Steps of a move between stacks, in order.
BETWEEN_STACKS = ("record", "target-up", "copy-data", "verify", "switch", "retire-source", "finish")
#: The step a move whose serving zone changes runs between ``switch`` and ``retire-source``.
DELEGATE = "delegate"
#: Steps of a move inside one cell stack.
IN_PLACE = ("record", "up", "finish")
#: What each step does, for the printed plan.
DESCRIPTIONS = {
    "record": "write the migration into the registry: both stacks declare the tenant",
    "target-up": "pulumi up the source (the copy grant) and the target (new names; the source keeps serving)",
    "copy-data": "copy the tenant's schema and files from the source to the target",
    "verify": "compare row counts and checksums of every table, and the objects copied",
    "switch": "the target serves the host (DNS, certificate, gateway): registry, then up target",
    DELEGATE: "wait for the operator to delegate the host to the target's zone (--delegated)",
    "retire-source": "pulumi up the source: workloads removed, data kept (retired)",
    "finish": "record the source as kept (data stays until an explicit destroy)",
    "up": "pulumi up the cell stack (same resources, updated in place)",
}
#: Per step, the registry state its stacks are deployed at before it and the state it leaves:
#: the diff of the step is the one between the two (a stack is deployed by its own step's up:
#: the target first at ``target-up``, where the source's up adds only the copier's grant, and the
#: source's retirement at ``retire-source``).
SPANS = {"record": ("before", "recorded"), "target-up": ("before", "recorded"),
         "copy-data": ("recorded", "recorded"), "verify": ("recorded", "recorded"),
         "switch": ("recorded", "switched"), DELEGATE: ("switched", "switched"),
         "retire-source": ("recorded", "switched"),
         "finish": ("switched", "finished"), "up": ("before", "recorded")}


class Refused(Exception):
    """The move is not made; ``code`` 2 (invalid or unsupported) or 1 (it would lose data)."""

    def __init__(self, reason: str, code: int = 2) -> None:
        super().__init__(reason)
        self.code = code


@dataclass(frozen=True)
class Move:
    """One tenant's move: where from, where to, through which steps."""

    tenant: str
    environment: str
    source: Placement
    target: Target
    source_stack: str
    target_stack: str
    #: URNs (in the source stack) handed to the target by ``pulumi state move``.
    handover: tuple[str, ...] = ()
    #: The host's delegation to change after ``switch`` (a move that changes its serving zone).
    delegation: Delegation | None = None

    @property
    def between_stacks(self) -> bool:
        """Whether the tenant changes stack."""
        return self.source_stack != self.target_stack

    @property
    def steps(self) -> tuple[str, ...]:
        """The ordered steps (``delegate`` right after ``switch`` when the serving zone changes)."""
        if not self.between_stacks:
            return IN_PLACE
        if self.delegation is None:
            return BETWEEN_STACKS
        at = BETWEEN_STACKS.index("switch") + 1
        return (*BETWEEN_STACKS[:at], DELEGATE, *BETWEEN_STACKS[at:])

    @property
    def stacks(self) -> tuple[str, ...]:
        """The stacks it touches (source first)."""
        return (self.source_stack, self.target_stack) if self.between_stacks else (self.source_stack,)

    def ups(self, step: str) -> tuple[str, ...]:
        """The stacks a step runs ``pulumi up`` on."""
        # target-up brings the source up too (first): its bucket and key grant the copier the
        # source's side of the copy while the tenant is moving (tenants.placements.copier_account).
        return {"target-up": self.stacks,
                "switch": (self.target_stack,),
                "retire-source": (self.source_stack,), "up": (self.source_stack,),
                "finish": self.finish_ups}.get(step, ())

    @property
    def finish_ups(self) -> tuple[str, ...]:
        """A dedicated source is released at retire-source and becomes data-only at finish.

        (Its EKS deletion protection and protected namespace cannot go in the update that
        lifts them: the same two updates as ``tenantctl offboard`` of a dedicated tenant.)
        """
        return (self.source_stack,) if self.between_stacks and self.source.tier is Tier.CLUSTER else ()

    def as_json(self) -> dict[str, Any]:
        """The move as the state file keeps it."""
        return {"tenant": self.tenant, "environment": self.environment,
                "source": migration.placement_json(self.source),
                "target": {"tier": str(self.target.tier), "cell": self.target.cell,
                           "account": self.target.account},
                "sourceStack": self.source_stack, "targetStack": self.target_stack,
                "handover": list(self.handover),
                **({"delegation": self.delegation.as_json()} if self.delegation else {})}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Move:
        """The move a state file recorded."""
        target = data["target"]
        return cls(data["tenant"], data["environment"], Placement.model_validate(data["source"]),
                   Target(Tier(target["tier"]), target.get("cell"), target.get("account")),
                   data["sourceStack"], data["targetStack"], tuple(data.get("handover", ())),
                   Delegation.from_json(data["delegation"]) if data.get("delegation") else None)


# --- the registry at each step ------------------------------------------------------------
def tenant_file(directory: Path, tenant_id: str) -> Path:
    """The tenant's file in a registry directory."""
    return directory / f"{tenant_id}.yaml"


def read_tenant(directory: Path, tenant_id: str) -> dict[str, Any]:
    """The tenant file as data."""
    data = yaml.safe_load(tenant_file(directory, tenant_id).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def write_tenant(directory: Path, tenant_id: str, data: Mapping[str, Any]) -> None:
    """Rewrite the tenant file (one rename: never half-written)."""
    from tenantctl.lifecycle_cmd import write_atomically

    text = yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True, width=200)
    write_atomically(tenant_file(directory, tenant_id), text)


def _set_ledger_cell(directory: Path, tenant_id: str, cell: str) -> None:
    """The ledger's cell of the tenant, moved by a migration (the only thing that moves it)."""
    from tenantctl.lifecycle_cmd import LEDGER_HEADER, write_atomically

    path = directory / LEDGER_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    entries = dict((data or {}).get("tenants") or {})
    entries[tenant_id] = {**(entries.get(tenant_id) or {}), "cell": cell}
    body = yaml.safe_dump({"tenants": dict(sorted(entries.items()))}, sort_keys=True)
    write_atomically(path, LEDGER_HEADER + body)


def apply_record(directory: Path, move: Move) -> Registry:
    """Write the ``record`` step into a registry directory; return the registry it makes.

    Nothing stays written when the result is invalid (:class:`RegistryInvalid` propagates).
    """
    from tenantctl.lifecycle_cmd import record_placements

    path, ledger = tenant_file(directory, move.tenant), directory / LEDGER_FILE
    originals = {p: p.read_text(encoding="utf-8") for p in (path, ledger) if p.exists()}
    record = load_registry(directory).tenant(move.tenant).record
    data = read_tenant(directory, move.tenant)
    try:
        if move.between_stacks:
            write_tenant(directory, move.tenant,
                         migration.start(data, record, move.source, move.target, "record"))
            if move.target.tier.shared and move.target.cell:
                _set_ledger_cell(directory, move.tenant, move.target.cell)
            record_placements(load_registry(directory), [move.tenant])
        else:
            write_tenant(directory, move.tenant, migration.retier(data, move.target.tier))
        return load_registry(directory)
    except Exception:
        for p, text in originals.items():
            p.write_text(text, encoding="utf-8")
        raise


def apply_switch(directory: Path, move: Move) -> Registry:
    """Write the ``switch`` step: the target serves the host, the source is retired."""
    write_tenant(directory, move.tenant, migration.switch(read_tenant(directory, move.tenant), "switch"))
    return load_registry(directory)


def apply_finish(directory: Path, move: Move, on: dt.date) -> Registry:
    """Write the ``finish`` step: the source is a kept placement."""
    write_tenant(directory, move.tenant, migration.finish(read_tenant(directory, move.tenant), on))
    return load_registry(directory)


def apply_mark(directory: Path, move: Move, step: str) -> None:
    """Note the last finished step in the tenant's ``migration`` block."""
    data = read_tenant(directory, move.tenant)
    if data.get("migration"):
        write_tenant(directory, move.tenant, migration.mark(data, step))


@contextmanager
def scratch_copy(directory: Path) -> Iterator[Path]:
    """A throwaway copy of a registry directory, to plan a step before writing it."""
    with tempfile.TemporaryDirectory(prefix="tenantctl-migrate-") as tmp:
        copy = Path(tmp) / "registry"
        shutil.copytree(directory, copy, ignore=shutil.ignore_patterns(".*"))
        yield copy


# --- deciding the move --------------------------------------------------------------------
def decide(registry: Registry, tenant_id: str, target: Target, environment: str) -> Move:
    """The move of a tenant to ``target``, or :class:`Refused` with the reason."""
    try:
        tenant = registry.tenant(tenant_id)
    except KeyError:
        raise Refused(f"tenant {tenant_id!r} is not in the registry {registry.directory}") from None
    record = tenant.record
    if not record.lifecycle.active:
        raise Refused(f"tenant {tenant_id!r} is {record.lifecycle.state}, not active: only an active "
                      "tenant is migrated")
    if record.migration is not None:
        raise Refused(f"tenant {tenant_id!r} is already being migrated (from {record.migration.source.tier}, "
                      f"step {record.migration.step}): resume it with the same command and --apply, "
                      "where its state file is (or --state FILE)")
    source = placements.current(record, tenant.cell, tenant.network_cidr)
    if target.tier is Tier.CLUSTER:
        if target.cell is not None:
            raise Refused("--cell: a cluster-tier tenant has its own cluster and no cell")
        account = target.account or (record.account if record.tier is Tier.CLUSTER else None)
        if account is None:
            raise Refused("a move to the cluster tier needs the tenant's own AWS account: give --account")
        target = Target(Tier.CLUSTER, account=account)
    else:
        if target.account is not None:
            raise Refused(f"--account: only the cluster tier has its own account (target is {target.tier})")
        if source.tier.shared and target.cell not in (None, source.cell):
            raise Refused(
                f"moving {tenant_id} from cell {source.cell} to cell {target.cell} is not done by the "
                "platform: the cells share an account, and its account-scoped names (IAM roles, "
                "functions, repositories) would be declared by both stacks during the move")
        cell = target.cell or (source.cell if source.tier.shared else _ledger_cell(registry, tenant_id))
        if cell is None:
            raise Refused(f"a move from the cluster tier to {target.tier} needs --cell (cells: "
                          f"{', '.join(c.name for c in registry.settings.cells)})")
        target = Target(target.tier, cell=cell)
    if target.tier is source.tier and (not target.tier.shared or target.cell == source.cell):
        raise Refused(f"tenant {tenant_id!r} is already {source.tier}-tier"
                      + (f" in cell {source.cell}" if source.cell else "") + ": nothing to migrate")
    source_stack = placements.stack_name(tenant_id, source.tier, source.cell)
    target_stack = placements.stack_name(tenant_id, target.tier, target.cell)
    here, there = _accounts(registry, source, target)
    return Move(tenant_id, environment, source, target, source_stack, target_stack,
                delegation=delegation.needed(registry.settings, tenant.hostname, here, there))


def _accounts(registry: Registry, source: Placement, target: Target) -> tuple[str | None, str | None]:
    """The accounts of the source placement and of the target."""
    settings = registry.settings
    return (accounts.tenant_account(settings, source.tier, source.account, source.cell),
            accounts.tenant_account(settings, target.tier, target.account, target.cell))


def _check_target_zone(registry: Registry, move: Move) -> None:
    """Refuse a move across accounts whose target account holds no zone for the host.

    After the switch the target's add-ons publish the host and its certificate challenge,
    and they can write only their own account's zones (docs/migration.md, DNS): the zone
    is made (not yet delegated) and listed before the move, not found missing at the switch.
    """
    settings, hostname = registry.settings, registry.tenant(move.tenant).hostname
    here, there = _accounts(registry, move.source, move.target)
    if not settings.hosted_zones or here == there or settings.zone_of(hostname, there):
        return
    raise Refused(f"{hostname} has no hosted zone in {account_label(there)}, whose stack serves it "
                  f"after the switch: create a zone for exactly {hostname} there (do not delegate "
                  "it yet), list it under hosted_zones with its zone_id and account, and rerun "
                  "(docs/migration.md, DNS)")


def _ledger_cell(registry: Registry, tenant_id: str) -> str | None:
    recorded = registry.ledger.tenants.get(tenant_id)
    return recorded.cell if recorded else None


# --- planning every step ------------------------------------------------------------------
@dataclass
class StepPlans:
    """The plans of the move's stacks in each registry state (``before``, ``recorded``...)."""

    move: Move
    states: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    specs: dict[str, dict[str, StackSpec]] = field(default_factory=dict)
    allowed: dict[str, placements.DataLossAllowance] = field(default_factory=dict)

    def document(self, state: str, stacks: Sequence[str] | None = None) -> dict[str, Any]:
        """A plan document of the move's stacks in one state (a stack absent there: no entry)."""
        wanted = self.move.stacks if stacks is None else stacks
        return {"version": planner.PLAN_VERSION,
                "stacks": [self.states[state][s] for s in wanted if s in self.states[state]]}

    def diff(self, step: str) -> PlanDiff:
        """What the step changes: its stacks from the state they are deployed at to the one it leaves.

        A step that runs ``up`` shows the stacks it updates; ``record`` and ``finish`` show
        what the registry change means for every stack of the move.
        """
        deployed, leaves = SPANS[step] if self.move.between_stacks or step != "finish" else (
            "recorded", "recorded")
        stacks = self.move.ups(step) or self.move.stacks
        return diff_plans(self.document(deployed, stacks), self.document(leaves, stacks),
                          self.allowed[leaves])


def _stack_plans(registry: Registry, move: Move) -> tuple[dict[str, dict[str, Any]], dict[str, StackSpec]]:
    specs = {s.name: s for s in fleet_stacks(registry, move.environment) if s.name in move.stacks}
    plans = {name: planner.plan_stack(spec, policies=False).as_json() for name, spec in specs.items()}
    return plans, specs


def plan_steps(directory: Path, move: Move, *, today: dt.date | None = None) -> StepPlans:
    """Plan the move's stacks in every registry state its steps write, offline.

    Raises :class:`Refused` when the recorded registry is invalid (with the loader's
    problems), when the target account has no zone for the host, or when a move inside one
    stack would delete or replace data (code 1).
    """
    result = StepPlans(move)
    with scratch_copy(directory) as copy:
        before = load_registry(copy)
        try:
            registry = apply_record(copy, move)
        except RegistryInvalid as exc:
            raise Refused("the registry after the move would be invalid: "
                          + "; ".join(str(p) for p in exc.problems)) from None
        _check_target_zone(before, move)
        result.states["before"], result.specs["before"] = _stack_plans(before, move)
        result.allowed["before"] = set()
        order = [("recorded", registry)]
        if move.between_stacks:
            order.append(("switched", apply_switch(copy, move)))
            order.append(("finished", apply_finish(copy, move, today or dt.date.today())))
        for state, reg in order:
            result.states[state], result.specs[state] = _stack_plans(reg, move)
            result.allowed[state] = placements.data_loss_allowed(t.record for t in reg.tenants)
    if not move.between_stacks:
        diff = result.diff("up")
        if diff.errors:
            lost = ", ".join(f"{c.action} {c.type} {c.name}" for c in diff.errors)
            raise Refused(f"moving {move.tenant} to {move.target.tier} in place would lose data: {lost}", 1)
    return result
