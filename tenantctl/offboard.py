"""``tenantctl offboard ID [--destroy-data]``: a tenant's departure as recorded phases.

Pulumi cannot delete a protected resource in the update that stops protecting it, so
every departure that deletes something protected takes two updates, each driven by what
the tenant's file records (``lifecycle``, :mod:`tenants.lifecycle`):

- offboarding a shared-tier tenant: ``offboarded`` (workloads retired, data kept), one update;
- offboarding a dedicated (``cluster``-tier) tenant: ``retiring`` (workloads retired, its
  cluster's EKS deletion protection and its namespace's protection lifted), then
  ``offboarded`` (its stack keeps only its data resources);
- ``--destroy-data`` (an offboarded tenant only): ``data: destroy`` (data declared without
  protection: buckets force-destroyed, RDS deletion protection off, its final snapshot kept
  unless ``--no-final-snapshot``), then ``data: destroyed`` (nothing of the tenant declared;
  its file stays as the record and its placement stays reserved).

Each phase is written to the file, planned with the policy pack and diffed against the
stack as the previous phase left it; a diff that would lose data no recorded phase allows,
or a mandatory violation, restores the file and exits 1. Without ``--apply`` only the next
phase is recorded (the deploy applies it; run the command again for the one after). With
``--apply`` every remaining phase is recorded and brought up in turn on exactly the tenant's
stack (FleetRunner, the Automation API); a failed ``up`` exits 3 with the registry at that
phase, and running the command again re-runs that phase's ``up`` (a no-op if it was done)
and carries on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.database import KEY_DELETION_WINDOW_DAYS, SECRET_RECOVERY_DAYS
from tenantctl import diff_cmd, diff_report, planner
from tenantctl.diff import diff_plans
from tenants import placements
from tenants.lifecycle import DataDisposition, Lifecycle, State
from tenants.loader import Registry, ResolvedTenant, load_registry
from tenants.models import TenantRecord, Tier
from tenants.naming import DbServerNames
from tenants.stacks import StackSpec, fleet_stacks

EXIT_OK, EXIT_VIOLATIONS, EXIT_INVALID, EXIT_FAILED = 0, 1, 2, 3
HEADER = ("# Offboarded by `tenantctl offboard`: workloads retired; the data below is kept\n"
          "# (protected, retained) until an explicit, recorded destruction.\n")
#: The lifecycle block `offboard` writes: its comment, ``lifecycle:`` and its indented body.
_BLOCK = re.compile(r"^(?:# Offboarded by `tenantctl offboard`.*\n(?:#.*\n)*)?"
                    r"lifecycle:.*\n(?:[ \t-].*\n|\n)*", re.MULTILINE)
#: The in-database bootstrap, whose delete drops the schema once phase 1 recorded it.
BOOTSTRAP = "pulumi-python:dynamic/tenant-platform:TenantDatabaseBootstrap"
#: How the operator's list names a tenant's schema (not a Pulumi type: the bootstrap's data).
SCHEMA = "postgresql:schema"
#: Inputs that carry a resource's physical name, in the order they are looked up.
_PHYSICAL = ("bucket", "identifier", "name", "schema")


class Refused(Exception):
    """Input the command refuses (exit 2, one line)."""


# --- phases ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Subject:
    """What one run of the command acts on: the tenant's current placement, or a kept one.

    ``tenant`` is the tenant as the subject's stack sees it (a kept placement's view has
    that placement's tier, cell or account and naming generation); ``kept`` is the index of
    the kept placement in the tenant file (None: the current placement, whose ``lifecycle``
    block records the phases).
    """

    tenant: ResolvedTenant
    stack: str
    #: The tenant file's record (a view's record has no ``kept``).
    record: TenantRecord
    kept: int | None = None

    @property
    def dedicated(self) -> bool:
        """Whether the whole stack is the tenant's (every data resource in it is its)."""
        return self.tenant.tier is Tier.CLUSTER

    @property
    def lifecycle(self) -> Lifecycle:
        """The subject's recorded lifecycle (a kept placement's is offboarded, its data as recorded)."""
        if self.kept is None:
            return self.record.lifecycle
        return placements.kept_lifecycle(self.record.kept[self.kept])

    def merged(self, update: Mapping[str, Any]) -> dict[str, Any]:
        """The recorded fields with ``update`` applied (dates as ISO strings)."""
        if self.kept is None:
            fields = self.record.lifecycle.model_dump(mode="json", exclude_defaults=True)
        else:
            fields = {"data": str(self.record.kept[self.kept].data)}
        return {**fields, **update}

    def write(self, registry_dir: Path, fields: Mapping[str, Any]) -> str:
        """Record ``fields`` (a phase) in the tenant file; returns the file's original text."""
        from tenantctl import migrate_plan  # the tenant file as data, as the migration writes it

        path = registry_dir / self.tenant.source
        if self.kept is None:
            return write_lifecycle(path, fields)
        original = path.read_text(encoding="utf-8")
        data = migrate_plan.read_tenant(registry_dir, self.tenant.id)
        data["kept"][self.kept] = {**data["kept"][self.kept], **fields}
        migrate_plan.write_tenant(registry_dir, self.tenant.id, data)
        return original


def subject_of(registry: Registry, tenant_id: str, environment: str, kept: str | None) -> Subject:
    """The subject a run names: the tenant's current placement, or its kept placement in ``kept``.

    Raises :class:`Refused` for an unknown tenant, or a stack that keeps no placement of it.
    """
    try:
        tenant = registry.tenant(tenant_id)
    except KeyError:
        raise Refused(f"tenant {tenant_id!r} is not in the registry {registry.directory}") from None
    record = tenant.record
    if kept is None:
        return Subject(tenant, placements.view_stack(tenant), record)
    found = [i for i, p in enumerate(record.kept)
             if placements.stack_name(tenant_id, p.tier, p.cell) == kept]
    if not found:
        stacks = sorted({placements.stack_name(tenant_id, p.tier, p.cell) for p in record.kept})
        raise Refused(f"--kept {kept}: tenant {tenant_id!r} keeps no placement there (it keeps "
                      f"{', '.join(stacks) or 'none'}; a move in progress finishes first)")
    index = next((i for i in found if record.kept[i].holds_data), found[-1])
    placement = record.kept[index]
    view = next((v for v in placements.views(tenant, registry.settings)
                 if placements.view_stack(v) == kept and v.record.generation == placement.generation), None)
    # None: destroyed, and left out of that stack, which holds another placement of the
    # tenant now (nothing of this one is declared: the run has nothing left to record).
    return Subject(view or tenant, kept, record, index)


def phase_order(subject: Subject, *, destroy: bool) -> tuple[list[dict[str, str]], int]:
    """Every phase of the departure (the first: not started) and the index the file is at.

    Raises :class:`Refused` for a destruction of data that is not an offboarded tenant's
    (or a kept placement's).
    """
    life, tenant = subject.lifecycle, subject.tenant
    if destroy:
        if life.state is not State.OFFBOARDED:
            raise Refused(f"tenant {tenant.id!r} is {life.state}: only an offboarded tenant's data can be "
                          f"destroyed (run `tenantctl offboard {tenant.id}` first), or the data a move "
                          "left behind (--kept STACK)")
        data = [DataDisposition.KEPT, DataDisposition.DESTROY, DataDisposition.DESTROYED]
        return [{"data": str(d)} for d in data], data.index(life.data)
    states = [State.ACTIVE, *([State.RETIRING] if tenant.tier is Tier.CLUSTER else []), State.OFFBOARDED]
    return [{"state": str(s)} for s in states], states.index(life.state) if life.state in states else 0


def lifecycle_text(fields: Mapping[str, Any]) -> str:
    """The ``lifecycle`` block of a tenant file (its comment, then the section)."""
    body = yaml.safe_dump({"lifecycle": dict(fields)}, sort_keys=False, width=200)
    return HEADER + body


def write_lifecycle(path: Path, fields: Mapping[str, Any]) -> str:
    """Replace (or append) the file's lifecycle block; returns the original text."""
    original = path.read_text(encoding="utf-8")
    rest = _BLOCK.sub("", original).rstrip("\n") + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(rest + lifecycle_text(fields), encoding="utf-8")
    tmp.replace(path)
    return original


# --- plans and what they say ------------------------------------------------------------------
def stack_of(registry: Registry, tenant_id: str, environment: str) -> StackSpec:
    """The stack holding a tenant's current placement (a migrated one's kept placements are elsewhere)."""
    return spec_named(registry, placements.view_stack(registry.tenant(tenant_id)), environment)


def spec_named(registry: Registry, name: str, environment: str) -> StackSpec:
    """One stack of the fleet, by name."""
    return next(s for s in fleet_stacks(registry, environment) if s.name == name)


def plan_document(spec: StackSpec, *, policies: bool) -> tuple[dict[str, Any], list[planner.StackPlan]]:
    """One stack's plan as a plan document."""
    plans = [planner.plan_stack(spec, policies=policies)]
    return planner.plan_document(plans), plans


def data_resources(document: Mapping[str, Any], tenant_id: str, *, dedicated: bool) -> list[dict[str, Any]]:
    """The tenant's protected or retained resources in a plan (every one, in its own stack)."""
    diff = diff_plans(document, {"version": planner.PLAN_VERSION, "stacks": []})
    by_urn = {r["urn"]: r for s in document.get("stacks", []) for r in s["resources"]}
    return [by_urn[c.urn] for c in sorted(diff.changes, key=lambda c: (c.type, c.name))
            if c.keeps_data and (dedicated or c.tenant == tenant_id)]


def physical_name(resource: Mapping[str, Any], resources: Sequence[Mapping[str, Any]]) -> str:
    """What AWS or Kubernetes calls a resource: its bucket, identifier, name, alias or schema."""
    inputs = resource.get("inputs") or {}
    if resource["type"] == "aws:kms/key:Key":
        aliases = [r for r in resources if r["type"] == "aws:kms/alias:Alias"
                   and r.get("parent") == resource.get("parent")]
        exact = [a for a in aliases if a["name"] == f"{resource['name']}-alias"]
        chosen = exact or (aliases if len(aliases) == 1 else [])
        if chosen:
            return str(chosen[0]["inputs"].get("name"))
    for key in _PHYSICAL:
        if isinstance(inputs.get(key), str):
            return str(inputs[key])
    metadata = inputs.get("metadata") or {}
    return str(metadata.get("name") or resource["name"])


def describe(resources: Sequence[Mapping[str, Any]], document: Mapping[str, Any]) -> list[dict[str, str]]:
    """``{type, name, physical}`` of each resource, for the operator and ``--json``."""
    everything = [r for s in document.get("stacks", []) for r in s["resources"]]
    return [{"type": r["type"], "name": r["name"], "physical": physical_name(r, everything)}
            for r in resources]


def mandatory(plans: Sequence[planner.StackPlan]) -> list[dict[str, Any]]:
    """The plans' mandatory policy violations."""
    return [v for p in plans for v in p.violations if v["enforcement"] == "mandatory"]


def what_destroys(registry_dir: Path, subject: Subject, environment: str,
                  final_snapshot: bool) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(destroyed, left behind): the subject's data resources phase 1 releases, from real plans.

    Plans the stack as it is and as phase 1 would declare it (in a scratch copy of the
    registry: nothing is written before ``--yes``). Destroyed: data-bearing now and
    neither protected nor retained in phase 1. Left behind: still retained (the key of a
    kept final snapshot).
    """
    tenant_id, dedicated = subject.tenant.id, subject.dedicated

    def plan(directory: Path) -> dict[str, Any]:
        spec = spec_named(load_registry(directory), subject.stack, environment)
        return plan_document(spec, policies=False)[0]

    now = plan(registry_dir)
    with tempfile.TemporaryDirectory(prefix="tenantctl-destroy-") as scratch:
        copy = Path(scratch) / "registry"
        shutil.copytree(registry_dir, copy)
        subject.write(copy, {**subject.merged({"data": str(DataDisposition.DESTROY)}),
                             "final_snapshot": final_snapshot})
        released = plan(copy)
    still = {r["urn"] for r in data_resources(released, tenant_id, dedicated=dedicated)}
    data = data_resources(now, tenant_id, dedicated=dedicated)
    schemas = [{"type": SCHEMA, "name": r["name"], "physical": str(r["inputs"].get("schema"))}
               for r in by_type(released, BOOTSTRAP) if r["inputs"].get("drop_data_on_delete") is True]
    return (describe([r for r in data if r["urn"] not in still], now) + schemas,
            describe([r for r in data if r["urn"] in still], now))


def by_type(document: Mapping[str, Any], type_: str) -> list[dict[str, Any]]:
    """A plan's resources of one type."""
    return [r for s in document.get("stacks", []) for r in s["resources"] if r["type"] == type_]


# --- the command ------------------------------------------------------------------------------
class Offboarding:
    """One run of ``tenantctl offboard``: its output (text or JSON) and its steps."""

    def __init__(self, args: argparse.Namespace, registry_dir: Path) -> None:
        self.args, self.registry_dir = args, registry_dir
        self.report: dict[str, Any] = {"tenant": args.id, "destroyData": bool(args.destroy_data),
                                       "phases": []}

    def say(self, line: str) -> None:
        """Human output on stdout; none under ``--json`` (stdout is the document, which says it)."""
        if not self.args.json:
            print(line)

    @staticmethod
    def progress(line: str) -> None:
        """Progress and errors: stderr, with or without ``--json``."""
        print(line, file=sys.stderr)

    def done(self, code: int) -> int:
        """Print the JSON document (``--json``) and return the exit code."""
        if self.args.json:
            print(json.dumps({**self.report, "exitCode": code}, indent=1))
        return code

    def record_phase(self, subject: Subject, update: Mapping[str, str],
                     base: dict[str, Any]) -> int:
        """Write one phase, plan it, show the diff from ``base``; restore the file if refused."""
        args = self.args
        tenant = subject.tenant
        today = args.today or dt.date.today().isoformat()
        fields = subject.merged(update)
        if "state" in update:
            fields.setdefault("offboarded_on", today)
            fields.setdefault("data", str(DataDisposition.KEPT))
        elif update["data"] == str(DataDisposition.DESTROY):
            fields["final_snapshot"] = not args.no_final_snapshot
        else:
            fields["destroyed_on"] = today
        path = self.registry_dir / tenant.source
        original = subject.write(self.registry_dir, fields)
        try:
            after = load_registry(self.registry_dir)
            head, plans = plan_document(spec_named(after, subject.stack, args.environment), policies=True)
            if "state" in update:  # what this phase keeps: still protected or retained
                fields["kept"] = [f"{r['type']} {r['name']}" for r in data_resources(
                    head, tenant.id, dedicated=subject.dedicated)]
                write_lifecycle(path, fields)
        except Exception:
            path.write_text(original, encoding="utf-8")  # nothing half-done
            raise
        diff = diff_plans(base, head, diff_cmd.allowed_data_loss(after))
        phase: dict[str, Any] = {"lifecycle": fields, "summary": dict(diff.counts()),
                                 "dataLoss": [c.as_json() for c in diff.errors],
                                 "mandatory": mandatory(plans), "recorded": True, "applied": False}
        self.report["phases"].append(phase)
        where = "" if subject.kept is None else f" (its placement kept in {subject.stack})"
        self.say(f"recorded {_label(update)} for {tenant.id}{where} in {path.name}"
                 + (f": {len(fields['kept'])} data resource(s) kept" if "state" in update else ""))
        if not args.json:
            print(diff_report.markdown(diff) if args.markdown else diff_report.text(diff))
        for v in phase["mandatory"]:
            self.say(f"  [mandatory] {v['policy']}: {v['urn'].split('::')[-1]}: {v['message']}")
        if diff.errors or phase["mandatory"]:
            path.write_text(original, encoding="utf-8")
            phase["recorded"] = False
            self.progress(f"{_label(update)} of {tenant.id} would lose data or break a fence: "
                     "nothing recorded (file restored)")
            return EXIT_VIOLATIONS
        return EXIT_OK

    def up(self, registry: Registry, spec: StackSpec, label: str) -> bool:
        """``pulumi up`` of exactly the tenant's stack; False (and one line) when it fails."""
        from tenantctl.automation import FleetRunner

        runner = FleetRunner(work_root=Path(self.args.work_dir), pulumi_command=self.args.pulumi_command,
                             registry=registry.directory, parallel=1)
        self.progress(f"up {spec.name} ({label}) ...")
        result = runner.run_one(spec, "up")
        if not result.ok:
            print(f"tenantctl offboard: up of {spec.name} ({label}) failed: {result.error} (the registry "
                  "stays at this phase: run the same command again to resume)", file=sys.stderr)
            return False
        self.progress(f"up {spec.name}: ok")
        return True

    def run(self) -> int:
        """The whole command (see the module docstring)."""
        args = self.args
        destroy = bool(args.destroy_data)
        if args.no_final_snapshot and not destroy:
            raise Refused("--no-final-snapshot goes with --destroy-data")
        if args.kept and not destroy:
            raise Refused("--kept goes with --destroy-data (a kept placement is already retired)")
        registry = load_registry(self.registry_dir)
        subject = subject_of(registry, args.id, args.environment, args.kept)
        order, at = phase_order(subject, destroy=destroy)
        remaining = order[at + 1:]
        spec = spec_named(registry, subject.stack, args.environment)
        self.report["stack"] = spec.name
        if args.kept:
            self.report["kept"] = spec.name
        if destroy:
            self.confirm_destruction(subject, spec, started=at > 0)
        if not args.apply:
            if not remaining:
                self.say(f"{subject.tenant.id} is already {_done_label(order[at])}"
                         + (f" in {spec.name}" if args.kept else "") + ": nothing left to record")
                return self.done(EXIT_OK)
            base, _ = plan_document(spec, policies=False)
            code = self.record_phase(subject, remaining[0], base)
            if code == EXIT_OK:
                later = (f"; once it is deployed, run the same command again for {_label(remaining[1])}"
                         if len(remaining) > 1 else "")
                self.say(f"(recorded in the registry; add --apply to update the stack now, or let the deploy "
                         f"do it{later})")
            return self.done(code)
        # --apply: bring the recorded phase up again (it may have failed), then each next one.
        if at > 0 and not self.up(registry, spec, f"recorded {_label(order[at])}"):
            return self.done(EXIT_FAILED)
        for step in remaining:
            registry = load_registry(self.registry_dir)
            subject = subject_of(registry, args.id, args.environment, args.kept)
            base, _ = plan_document(spec_named(registry, subject.stack, args.environment), policies=False)
            code = self.record_phase(subject, step, base)
            if code != EXIT_OK:
                return self.done(code)
            registry = load_registry(self.registry_dir)
            if not self.up(registry, spec_named(registry, subject.stack, args.environment), _label(step)):
                return self.done(EXIT_FAILED)
            self.report["phases"][-1]["applied"] = True
        return self.done(EXIT_OK)

    def confirm_destruction(self, subject: Subject, spec: StackSpec, *, started: bool) -> None:
        """Say what ``--destroy-data`` destroys (from plans), and refuse it without ``--yes``."""
        args, tenant = self.args, subject.tenant
        if started:
            self.say(f"{tenant.id}: its data's destruction is recorded (data: {subject.lifecycle.data}); "
                     "the next update deletes what phase 1 released")
        else:
            destroyed, left = what_destroys(self.registry_dir, subject, args.environment,
                                            not args.no_final_snapshot)
            self.report["destroys"], self.report["leavesBehind"] = destroyed, left
            self.say(f"--destroy-data destroys {len(destroyed)} data resource(s) of {tenant.id} "
                     f"in {spec.name}:")
            for r in destroyed:
                self.say(f"  - {r['type']} {r['physical']}")
            self.say(f"  (KMS keys are scheduled for deletion, AWS's {KEY_DELETION_WINDOW_DAYS}-day window; "
                     f"secrets after their {SECRET_RECOVERY_DAYS}-day recovery window)")
            for r in left:
                why = ("it encrypts the final snapshot" if r["type"] == "aws:kms/key:Key"
                       else "the account's, left in place")
                self.say(f"  kept: {r['type']} {r['physical']} (retained: {why})")
            if subject.dedicated:
                snapshot = DbServerNames(tenant.names(args.environment).db_identifier).final_snapshot
                self.report["finalSnapshot"] = None if args.no_final_snapshot else snapshot
                self.say("  final RDS snapshot: " + ("none (--no-final-snapshot)" if args.no_final_snapshot
                                                     else f"{snapshot} (kept)"))
        if not args.yes:
            raise Refused("--destroy-data deletes data for good: add --yes to go ahead (nothing written)")


def _done_label(phase: Mapping[str, str]) -> str:
    return "offboarded" if phase.get("state") else f"{next(iter(phase.values()))} (data)"


def _label(update: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in update.items()) or "nothing recorded"


def cmd_offboard(args: argparse.Namespace, registry_dir: Path) -> int:
    """Entry point of ``tenantctl offboard``."""
    run = Offboarding(args, registry_dir)
    try:
        return run.run()
    except Refused as exc:
        print(f"tenantctl offboard: {exc}", file=sys.stderr)
        return run.done(EXIT_INVALID)


def add_parser(sub: Any, registry_opts: Any) -> None:
    """Register ``offboard`` (``registry_opts`` adds --registry/--environment)."""
    p = sub.add_parser("offboard", help="retire a tenant's workloads and keep its data; or destroy its data")
    registry_opts(p)
    p.add_argument("id", help="tenant id")
    p.add_argument("--destroy-data", action="store_true",
                   help="an offboarded tenant: destroy its data (two recorded phases; needs --yes)")
    p.add_argument("--no-final-snapshot", action="store_true",
                   help="with --destroy-data: no final RDS snapshot (default: one is kept, with its key)")
    p.add_argument("--kept", metavar="STACK",
                   help="with --destroy-data: destroy the data a tier migration left in STACK (the tenant's "
                        "kept placement there; the tenant may be active)")
    p.add_argument("--yes", action="store_true", help="confirm --destroy-data")
    p.add_argument("--markdown", action="store_true", help="print the diff as Markdown")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.add_argument("--apply", action="store_true",
                   help="bring every remaining phase up now on the tenant's stack (Automation API)")
    p.add_argument("--work-dir", default=".tenantctl/stacks", help="per-stack work directories")
    p.add_argument("--today", help=argparse.SUPPRESS)  # tests pin the recorded date
    p.set_defaults(lifecycle=cmd_offboard, pulumi_command=None)
