"""A tenant's life as commands: ``onboard``, ``offboard`` (:mod:`tenantctl.offboard`) and ``status``.

``tenantctl onboard ID --tier T --plan P [--hostname H] [--contact 'Name <email>'] ...``
writes the tenant's file, records its placement, validates the registry, plans the stack
that will hold it and prints the diff from that stack as it is today. Nothing is written
when the new registry is invalid. ``--apply`` then brings up exactly that stack through
the Automation API and writes (and sends to the configured webhook) the handover record.

``tenantctl status [--json]`` is the fleet as a table: tenant, tier, plan, cell or CIDR,
host name, state.

Exit codes: 0 done; 1 the new stack's plan has a mandatory violation (nothing applied);
2 invalid input (nothing written); 3 ``--apply`` or the webhook failed (the registry
change and any handover record stay, so the step can be retried).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tenantctl import diff_cmd, diff_report, handover, offboard, planner
from tenantctl.diff import diff_plans
from tenants.loader import LEDGER_FILE, Registry, load_registry
from tenants.models import TenantRecord
from tenants.problems import RegistryInvalid, problems_from_validation
from tenants.stacks import StackSpec, fleet_stacks

EXIT_OK, EXIT_VIOLATIONS, EXIT_INVALID, EXIT_FAILED = 0, 1, 2, 3
_CONTACT_RE = re.compile(r"^\s*(?P<name>[^<>]+?)\s*<(?P<email>[^<>\s]+)>\s*(?::\s*(?P<role>\S.*))?$")
LEDGER_HEADER = ("# Placement ledger, written by `tenantctl allocate --write`. Recorded cells and\n"
                 "# CIDRs never move; entries of departed tenants stay reserved until released.\n")


def _err(message: str) -> None:
    print(message, file=sys.stderr)


# --- shared pieces ------------------------------------------------------------------------
def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename (no half-written registry file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def record_placements(registry: Registry,
                      tenant_ids: Iterable[str] | None = None) -> dict[str, dict[str, str]]:
    """Write the registry's new placements (of ``tenant_ids``, default all) into the ledger.

    Returns what was recorded. Recorded entries are never changed.
    """
    wanted = set(registry.new_allocations) if tenant_ids is None else set(tenant_ids)
    new = {t: dict(a) for t, a in registry.new_allocations.items() if t in wanted}
    if not new:
        return {}
    entries: dict[str, dict[str, str]] = {
        tid: {k: v for k, v in a.model_dump().items() if v is not None}
        for tid, a in registry.ledger.tenants.items()}
    for tenant_id, alloc in new.items():
        entries.setdefault(tenant_id, {}).update(alloc)
    body = yaml.safe_dump({"tenants": dict(sorted(entries.items()))}, sort_keys=True)
    write_atomically(registry.directory / LEDGER_FILE, LEDGER_HEADER + body)
    return new


def _stack_document(spec: StackSpec | None, *,
                    policies: bool) -> tuple[dict[str, Any], list[planner.StackPlan]]:
    """One stack's plan as a plan document (none: an empty plan, for a stack not there yet)."""
    plans = [planner.plan_stack(spec, policies=policies)] if spec is not None else []
    return planner.plan_document(plans), plans


# --- onboard --------------------------------------------------------------------------------
def parse_contact(text: str) -> dict[str, str]:
    """``'Ken Sato <ken@clinic.example>: security'`` -> a contact mapping."""
    match = _CONTACT_RE.match(text)
    if match is None:
        raise ValueError(f"--contact {text!r}: give 'Name <email>' or 'Name <email>: role'")
    return {k: v for k, v in match.groupdict().items() if v}


def new_record(args: argparse.Namespace) -> dict[str, Any]:
    """The tenant file's fields from the command line (defaults left to the registry)."""
    fields: dict[str, Any] = {"id": args.id, "tier": args.tier, "plan": args.plan}
    for name in ("display_name", "hostname", "cell", "region", "account"):
        if getattr(args, name):
            fields[name] = getattr(args, name)
    if args.contact:
        fields["contacts"] = [parse_contact(c) for c in args.contact]
    return fields


def cmd_onboard(args: argparse.Namespace, registry_dir: Path) -> int:
    """Write, record, validate, plan and show the diff; with ``--apply``, bring the stack up."""
    before = load_registry(registry_dir)
    path = registry_dir / f"{args.id}.yaml"
    if any(t.id == args.id for t in before.tenants) or path.exists():
        _err(f"{path.name}: tenant {args.id!r} is already in the registry; change its file instead")
        return EXIT_INVALID
    try:
        fields = new_record(args)
        TenantRecord.model_validate(fields)
    except ValueError as exc:
        problems = problems_from_validation(path.name, exc, TenantRecord) if isinstance(
            exc, ValidationError) else [str(exc)]
        for problem in problems:
            _err(str(problem))
        _err("nothing was written")
        return EXIT_INVALID
    write_atomically(path, yaml.safe_dump(fields, sort_keys=False, allow_unicode=True))
    try:
        recorded = record_placements(load_registry(registry_dir), [args.id])
    except RegistryInvalid:
        path.unlink()  # nothing written: the registry is as it was
        raise
    after = load_registry(registry_dir)
    spec = offboard.stack_of(after, args.id, args.environment)
    print(f"onboarded {args.id}: {path}" + "".join(
        f"; recorded {k}={v}" for a in recorded.values() for k, v in sorted(a.items())))
    print(f"stack {spec.name} ({spec.kind}, {len(spec.tenants)} tenant(s))")
    old_spec = next((s for s in fleet_stacks(before, args.environment) if s.name == spec.name), None)
    base, _ = _stack_document(old_spec, policies=False)
    head, plans = _stack_document(spec, policies=True)
    diff = diff_plans(base, head, diff_cmd.allowed_data_loss(after))
    print(diff_report.markdown(diff) if args.markdown else diff_report.text(diff))
    mandatory = [v for p in plans for v in p.violations if v["enforcement"] == "mandatory"]
    for v in mandatory:
        print(f"  [mandatory] {v['policy']} {spec.name}: {v['urn'].split('::')[-1]}: {v['message']}")
    if mandatory or diff.errors:
        _err(f"the plan of {spec.name} is not clean: nothing applied (the tenant file stays for review)")
        return EXIT_VIOLATIONS
    if not args.apply:
        print("(plan only: add --apply to bring the stack up)")
        return EXIT_OK
    created = [c.type for c in diff.changes if c.action == "create" and c.tenant == args.id]
    return _apply(args, after, spec, created)


def _apply(args: argparse.Namespace, registry: Registry, spec: StackSpec, created: list[str]) -> int:
    from tenantctl.automation import FleetRunner

    runner = FleetRunner(work_root=Path(args.work_dir), pulumi_command=args.pulumi_command,
                         registry=registry.directory, parallel=1)
    result = runner.run_one(spec, "up")
    if not result.ok:
        _err(f"tenantctl onboard: up of {spec.name} failed: {result.error}")
        return EXIT_FAILED
    record = handover.handover_for(registry.tenant(args.id), spec.name, created)
    path = handover.write(record, Path(args.out))
    print(f"up {spec.name}: ok; handover record {path}")
    url = args.webhook or os.environ.get(handover.WEBHOOK_ENV)
    if not url:
        print(f"(no webhook configured: set --webhook or ${handover.WEBHOOK_ENV} to send it)")
        return EXIT_OK
    try:
        status = handover.send(record, url)
    except handover.WebhookFailed as exc:
        _err(f"tenantctl onboard: {exc}; the record stays in {path}: send it again with the same command")
        return EXIT_FAILED
    print(f"handover sent (HTTP {status})")
    return EXIT_OK


# --- status ---------------------------------------------------------------------------------
def status_rows(registry: Registry) -> list[dict[str, Any]]:
    """One row per tenant: where it lives and in which state."""
    rows = []
    for t in registry.tenants:
        placement = f"cell {t.cell}" if t.cell else f"cidr {t.network_cidr}"
        recorded = t.id not in registry.new_allocations
        rows.append({"tenant": t.id, "tier": str(t.tier), "plan": t.record.plan,
                     "placement": placement, "hostname": t.hostname,
                     "state": str(t.record.lifecycle.state), "recorded": recorded})
    return rows


def cmd_status(args: argparse.Namespace, registry_dir: Path) -> int:
    """Print the fleet table (or JSON)."""
    rows = status_rows(load_registry(registry_dir))
    if args.json:
        print(json.dumps(rows, indent=1))
        return EXIT_OK
    print(f"{'tenant':30} {'tier':9} {'plan':11} {'placement':22} {'state':10} hostname")
    for r in rows:
        state = r["state"] + ("" if r["recorded"] else "*")
        print(f"{r['tenant']:30} {r['tier']:9} {r['plan']:11} {r['placement']:22} {state:10} {r['hostname']}")
    if not all(r["recorded"] for r in rows):
        print(f"* placement not recorded in {LEDGER_FILE} yet (`tenantctl allocate --write`)")
    return EXIT_OK


def add_lifecycle_parsers(sub: Any, registry_opts: Any) -> None:
    """Register ``onboard``, ``offboard`` and ``status`` (``registry_opts`` adds --registry/--environment)."""
    p = sub.add_parser("onboard", help="add a tenant: write its file, record, validate, plan, diff")
    registry_opts(p)
    p.add_argument("id", help="tenant id (DNS label, 3-30 characters)")
    p.add_argument("--tier", required=True, choices=["namespace", "node", "vcluster", "cluster"])
    p.add_argument("--plan", required=True, help="a plan of tenants/plans.yaml")
    p.add_argument("--hostname", help="default: <id>.<platform domain>")
    p.add_argument("--display-name", dest="display_name")
    p.add_argument("--cell", help="shared tiers: default the first open cell with room")
    p.add_argument("--region", help="default: the platform's default region")
    p.add_argument("--account", help="cluster tier: the tenant's own 12-digit AWS account (required there)")
    p.add_argument("--contact", action="append", default=[], help="'Name <email>' or 'Name <email>: role'")
    p.add_argument("--markdown", action="store_true", help="print the diff as Markdown")
    p.add_argument("--apply", action="store_true", help="bring the tenant's stack up (Automation API)")
    p.add_argument("--webhook", help=f"where to POST the handover record (default ${handover.WEBHOOK_ENV})")
    p.add_argument("--out", default="out/onboard", help="where the handover record is written")
    p.add_argument("--work-dir", default=".tenantctl/stacks", help="per-stack work directories")
    p.set_defaults(lifecycle=cmd_onboard, pulumi_command=None)

    offboard.add_parser(sub, registry_opts)

    p = sub.add_parser("status", help="the fleet: tenant, tier, plan, placement, host, state")
    registry_opts(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(lifecycle=cmd_status)
