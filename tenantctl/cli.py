"""``tenantctl``: the command-line interface users and CI script against.

Exit codes are an interface (README.md, "tenantctl"): 0 success; 1 a mandatory policy is
violated, or a diff deletes data without a recorded offboarding; 2 invalid input
(registry, arguments, plan file); 3 an operation failed (a stack operation, planning a
git ref, a file that cannot be written). Bad input never produces a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenantctl import diff_cmd, lifecycle_cmd, parallel, plan_cache, planner, selection, shards
from tenantctl.cost_cmd import add_cost_parser
from tenantctl.db import add_db_parser
from tenantctl.diff import PlanDiff
from tenantctl.migrate import add_migrate_parser
from tenantctl.rollout import add_rollout_parser
from tenants.loader import LEDGER_FILE, REGISTRY_ENV, Registry, load_registry, registry_directory
from tenants.naming import ENVIRONMENT_RE
from tenants.problems import RegistryInvalid
from tenants.stacks import StackSpec, fleet_stacks

EXIT_OK = 0
EXIT_VIOLATIONS = 1
EXIT_INVALID = 2
EXIT_FAILED = 3  # a stack operation (preview/up/refresh/destroy) failed


class UsageError(Exception):
    """Arguments that name something that does not exist."""


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def _load(args: argparse.Namespace) -> Registry:
    return load_registry(registry_directory(args.registry))


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate the registry; report unrecorded placements."""
    registry = _load(args)
    stacks = fleet_stacks(registry, args.environment)
    if args.json:
        failed = bool(args.locked and registry.new_allocations)
        print(json.dumps({"valid": not failed, "directory": str(registry.directory),
                          "tenants": len(registry.tenants), "stacks": [s.name for s in stacks],
                          "unrecorded": {t: dict(a) for t, a in sorted(registry.new_allocations.items())},
                          "noRunner": sorted({s.region for s in stacks if s.deploy_runner is None})},
                         indent=1))
        return EXIT_INVALID if failed else EXIT_OK
    if args.locked and registry.new_allocations:
        for tenant_id, alloc in sorted(registry.new_allocations.items()):
            placed = ", ".join(f"{k}={v}" for k, v in sorted(alloc.items()))
            _err(f"{LEDGER_FILE}: {tenant_id}: placement not recorded ({placed})")
        _err(f"--locked: {len(registry.new_allocations)} placement(s) not recorded in {LEDGER_FILE}; "
             "record them with `tenantctl allocate --write`")
        return EXIT_INVALID
    print(f"registry OK: {len(registry.tenants)} tenants in {len(stacks)} stacks "
          f"({registry.directory})")
    for region in sorted({s.region for s in stacks if s.deploy_runner is None}):
        names = ", ".join(s.name for s in stacks if s.region == region)
        print(f"  note: no deploy runner for {region} ({names}): `pulumi up` must run inside "
              "those VPCs (see deploy_runners in _platform.yaml)")
    if registry.new_allocations:
        for tenant_id, alloc in sorted(registry.new_allocations.items()):
            placed = ", ".join(f"{k}={v}" for k, v in sorted(alloc.items()))
            print(f"  unrecorded placement: {tenant_id}: {placed}")
        print(f"  record them with `tenantctl allocate --write` ({LEDGER_FILE})")
    return EXIT_OK


def cmd_allocate(args: argparse.Namespace) -> int:
    """Show (and with --write, record) placements the ledger does not have yet."""
    registry = _load(args)
    if args.json:
        recorded = lifecycle_cmd.record_placements(registry) if args.write else {}
        print(json.dumps({"new": {t: dict(a) for t, a in sorted(registry.new_allocations.items())},
                          "written": bool(recorded)}, indent=1))
        return EXIT_OK
    if not registry.new_allocations:
        print("nothing to record: every placement is in the ledger")
        return EXIT_OK
    for tenant_id, alloc in sorted(registry.new_allocations.items()):
        print(f"{tenant_id}: " + ", ".join(f"{k}={v}" for k, v in sorted(alloc.items())))
    if args.write:
        recorded = lifecycle_cmd.record_placements(registry)
        print(f"recorded {len(recorded)} placement(s) in {registry.directory / LEDGER_FILE}")
    else:
        print("(dry run: add --write to record)")
    return EXIT_OK


def _stack_row(spec: StackSpec) -> dict[str, Any]:
    return {"name": spec.name, "kind": spec.kind, "region": spec.region,
            "cell": spec.cell.name if spec.cell else None,
            "tenants": [t.id for t in spec.tenants]}


def cmd_stacks(args: argparse.Namespace) -> int:
    """List every stack and the tenants it holds."""
    stacks = fleet_stacks(_load(args), args.environment)
    if args.json:
        print(json.dumps([_stack_row(s) for s in stacks], indent=1))
        return EXIT_OK
    for spec in stacks:
        tenants = ", ".join(t.id for t in spec.tenants) or "(no tenants)"
        print(f"{spec.name:32} {spec.kind:9} {spec.region:16} {tenants}")
    return EXIT_OK


def select_stacks(stacks: list[StackSpec], names: Sequence[str], tenants: Sequence[str]
                  ) -> list[StackSpec]:
    """The stacks named, plus the stacks holding the tenants named (all when none given)."""
    if not names and not tenants:
        return stacks
    by_name = {s.name: s for s in stacks}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise UsageError(f"unknown stack(s) {unknown}; stacks are {sorted(by_name)}")
    holder = {t.id: s.name for s in stacks for t in s.tenants}
    missing = [t for t in tenants if t not in holder]
    if missing:
        raise UsageError(f"unknown tenant(s) {missing}")
    wanted = set(names) | {holder[t] for t in tenants}
    return [s for s in stacks if s.name in wanted]


def _print_violations(plans: Sequence[planner.StackPlan]) -> tuple[int, int]:
    mandatory = advisory = 0
    for plan in plans:
        for v in plan.violations:
            if v["enforcement"] == "mandatory":
                mandatory += 1
            elif v["enforcement"] == "advisory":
                advisory += 1
            else:
                continue
            # Stack-level rules may report no resource: name the stack instead.
            where = v["urn"].split("::")[-1] if v.get("urn") else "(stack)"
            print(f"  [{v['enforcement']}] {v['policy']} ({v['severity']}) {plan.name}: "
                  f"{where}: {v['message']}")
    return mandatory, advisory


def _summary_json(plans: Sequence[planner.StackPlan], **extra: Any) -> int:
    """The plan or check summary as JSON on stdout; the same exit code as the table."""
    violations = [{**v, "stack": p.name} for p in plans for v in p.violations]
    mandatory = sum(v["enforcement"] == "mandatory" for v in violations)
    print(json.dumps({
        "stacks": [{"name": p.name, "kind": p.kind, "tenants": p.tenants, "resources": len(p.resources),
                    "violations": len(p.violations)} for p in plans],
        "resourcesByType": dict(sorted(planner.resource_counts(plans).items())),
        "mandatory": mandatory,
        "advisory": sum(v["enforcement"] == "advisory" for v in violations),
        "violations": violations, **extra}, indent=1))
    return EXIT_VIOLATIONS if mandatory else EXIT_OK


def _summary(plans: Sequence[planner.StackPlan]) -> int:
    print(f"{'stack':32} {'kind':9} {'tenants':>7} {'resources':>9} {'violations':>10}")
    for p in plans:
        print(f"{p.name:32} {p.kind:9} {len(p.tenants):>7} {len(p.resources):>9} "
              f"{len(p.violations):>10}")
    counts = planner.resource_counts(plans)
    print(f"resources by type ({sum(counts.values())} in all):")
    for type_, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {n:6}  {type_}")
    mandatory, advisory = _print_violations(plans)
    print(f"policy: {mandatory} mandatory, {advisory} advisory violation(s)")
    return EXIT_VIOLATIONS if mandatory else EXIT_OK


@dataclass
class _Scope:
    """What ``plan`` plans: head specs, base stack names (None: the whole base), names a diff compares."""

    specs: list[StackSpec]
    base: tuple[str, ...] | None
    compare: list[str] | None
    selection: list[str]
    report: dict[str, Any] = field(default_factory=dict)
    #: With ``--shard``: the stacks of this shard, on either side.
    mine: list[str] | None = None


def _plan_scope(args: argparse.Namespace, registry: Registry) -> _Scope:
    """The stacks to plan: named, or touched by a change (``--changed-since``), or all; one shard of them."""
    stacks = fleet_stacks(registry, args.environment)
    if args.changed_files and not args.changed_since:
        raise UsageError("--changed-files needs --changed-since REF (the base registry)")
    if args.changed_since and (args.stack or args.tenant):
        raise UsageError("--changed-since selects the stacks itself: drop --stack and --tenant")
    if (args.shards is not None or args.github_output) and not args.matrix:
        raise UsageError("--shards and --github-output go with --matrix")
    if args.matrix and args.shard:
        raise UsageError("--matrix lists every shard: drop --shard")
    if args.changed_since:
        paths = selection.read_paths(Path(args.changed_files).read_text(encoding="utf-8")) \
            if args.changed_files else None
        chosen = selection.selection_since(args.changed_since, registry, args.environment, paths)
        wanted = set(chosen.head)
        specs = [s for s in stacks if s.name in wanted]
        # Everything selected: the whole base, as its own code names its stacks; one shard of
        # it: the shard's names (a stack the base's code does not know fails loudly, exit 3).
        scope = _Scope(specs, None if chosen.everything and not args.shard else chosen.base,
                       list(chosen.names), list(chosen.names), {"selection": chosen.as_json()})
        base_weights = dict.fromkeys(chosen.base, shards.DEDICATED_WEIGHT)
    else:
        specs = select_stacks(stacks, args.stack, args.tenant)
        named = [s.name for s in specs]
        scope = _Scope(specs, None, named if (args.stack or args.tenant) else None, named)
        base_weights = {}
    if args.shard or args.matrix:
        # Base-only stacks (a departed dedicated tenant's) weigh as a dedicated stack.
        weights = {**base_weights, **{s.name: shards.weight(s) for s in scope.specs}}
        count = args.shard.count if args.shard else (args.shards or shards.shard_count(weights))
        scope.report["matrix"] = shards.matrix(weights, count)
        if args.shard:
            mine = shards.assign(weights, count)[args.shard.index - 1]
            scope.specs = [s for s in scope.specs if s.name in mine]
            if scope.base is not None:
                scope.base = tuple(n for n in scope.base if n in mine)
            scope.compare = scope.mine = mine
    return scope


def _worker_count(args: argparse.Namespace, stacks: int) -> int:
    """``--workers``, else one worker process per CPU (never more than there are jobs)."""
    return args.workers if args.workers is not None else planner.default_workers(stacks)


def _plan_all(args: argparse.Namespace, registry: Registry, specs: Sequence[StackSpec]
              ) -> list[planner.StackPlan]:
    """Plan the specs, reusing and filling the plan cache with ``--cache``; progress on stderr."""
    def progress(index: int, total: int, plan: planner.StackPlan) -> None:
        _err(f"[{index}/{total}] {plan.name}: {len(plan.resources)} resources, "
             f"{len(plan.violations)} violation(s) ({plan.seconds:.1f}s)")

    policies = not args.no_policy
    workers = args.workers if args.workers is not None else planner.plan_workers(specs)
    if not args.cache:
        return planner.plan_stacks(specs, policies=policies, progress=progress, workers=workers)
    cache = plan_cache.PlanCache(Path(args.cache), registry, policies=policies)
    plans = cache.plan(specs, lambda missing: planner.plan_stacks(missing, policies=policies,
                                                                  progress=progress, workers=workers))
    _err(f"plan cache {args.cache}: {cache.hits} stack(s) reused, {cache.misses} planned")
    return plans


def cmd_plan(args: argparse.Namespace) -> int:
    """Plan the selected stacks offline, write plan.json and manifests, gate on policies."""
    registry = _load(args)
    scope = _plan_scope(args, registry)
    if args.matrix:
        return _print_matrix(scope.report["matrix"], args.github_output)
    started = time.perf_counter()
    if "selection" in scope.report:
        chosen = scope.report["selection"]
        _err(f"changed since {args.changed_since}: " + ("every stack" if chosen["everything"] else
             f"{len(chosen['head'])} stack(s) to plan, {len(chosen['base'])} on the base"))
    base = diff_cmd.load_source(args.base, registry.directory, args.environment, scope.base) \
        if args.base else None
    plans = _plan_all(args, registry, scope.specs)
    out = Path(args.out)
    path = planner.write_plan(plans, out, workers=_worker_count(args, planner.write_jobs(plans)))
    diff = _base_diff(args, registry, scope.compare, plans, base) if base is not None else None
    if args.shard:
        build = plan_cache.build_digest(registry, policies=not args.no_policy)
        mine = set(scope.mine or ())
        shards.write_shard(out, args.shard, scope.selection, [p.name for p in plans],
                           None if base is None else [s["name"] for s in base["stacks"] if s["name"] in mine],
                           build)
    lost = EXIT_VIOLATIONS if diff is not None and diff.errors else EXIT_OK
    if args.json:
        return max(lost, _summary_json(plans, plan=str(path), **scope.report,
                                       diff=diff.as_json() if diff is not None else None))
    code = _summary(plans)
    print(f"wrote {path} and {out / 'manifests'} "
          f"({len(plans)} stacks in {time.perf_counter() - started:.1f}s)")
    if diff is not None:
        diff_cmd.emit(diff, args)
    return max(code, lost)


def _print_matrix(entries: list[dict[str, Any]], github_output: bool) -> int:
    """The shards as a CI job matrix: JSON on stdout, and ``matrix=``/``shards=`` for GitHub."""
    text = json.dumps(entries)
    print(text)
    if github_output:
        target = os.environ.get("GITHUB_OUTPUT")
        if not target:
            raise UsageError("--github-output needs $GITHUB_OUTPUT")
        with open(target, "a", encoding="utf-8") as output:
            output.write(f"matrix={text}\nshards={len(entries)}\n")
    return EXIT_OK


def cmd_merge_plans(args: argparse.Namespace) -> int:
    """Merge the partial plans of ``plan --shard`` into one plan.json and one verdict."""
    try:
        merged = shards.merge([Path(p) for p in args.plans], args.shards)
    except shards.ShardError as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.out)
    path = planner.write_plan(merged.plans, out, with_manifests=not args.no_manifests,
                              workers=_worker_count(args, planner.write_jobs(merged.plans)))
    diff = None
    if merged.base is not None:
        registry = _load(args)
        (out / shards.BASE_FILE).write_text(json.dumps(merged.base, indent=1), encoding="utf-8")
        diff = diff_cmd.compare(merged.base, planner.plan_document(merged.plans),
                                diff_cmd.allowed_data_loss(registry), merged.selection)
    lost = EXIT_VIOLATIONS if diff is not None and diff.errors else EXIT_OK
    if args.json:
        return max(lost, _summary_json(merged.plans, plan=str(path), shards=len(args.plans),
                                       diff=diff.as_json() if diff is not None else None))
    code = _summary(merged.plans)
    print(f"merged {len(args.plans)} shard(s) into {path}: {len(merged.plans)} stacks")
    if diff is not None:
        diff_cmd.emit(diff, args)
    return max(code, lost)


def _base_diff(args: argparse.Namespace, registry: Registry, compare: Sequence[str] | None,
               plans: Sequence[planner.StackPlan], base: dict[str, Any]) -> PlanDiff:
    """The diff from ``--base``; the base, as planned, is kept as ``<out>/base-plan.json``.

    A git ref is planned on the fly, so later steps (the gate's stack selection) read the
    kept file instead of planning it again.
    """
    (Path(args.out) / "base-plan.json").write_text(json.dumps(base, indent=1), encoding="utf-8")
    return diff_cmd.compare(base, planner.plan_document(plans), diff_cmd.allowed_data_loss(registry),
                            compare)


def cmd_diff(args: argparse.Namespace) -> int:
    """Compare two plans (plan.json files or git refs; the head defaults to the working tree)."""
    registry = _load(args)
    base = diff_cmd.load_source(args.base, registry.directory, args.environment)
    if args.head:
        head = diff_cmd.load_source(args.head, registry.directory, args.environment)
    else:
        specs = fleet_stacks(registry, args.environment)
        plans = planner.plan_stacks(specs, policies=False)
        head = planner.plan_document(plans)
    diff = diff_cmd.compare(base, head, diff_cmd.allowed_data_loss(registry))
    diff_cmd.emit(diff, args)
    return EXIT_VIOLATIONS if diff.errors else EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    """Re-evaluate the policy pack over a saved plan.json."""
    plans = planner.read_plan(Path(args.plan))
    for plan in plans:
        plan.violations = planner.evaluate(plan.resources, plan.name, plan.kind, plan.hosts)
    return _summary_json(plans) if args.json else _summary(plans)


def cmd_operate(args: argparse.Namespace) -> int:
    """Run preview, up, refresh or destroy on the selected stacks (Automation API)."""
    from pulumi import automation as auto

    from tenantctl.automation import FleetRunner

    if args.command in ("up", "destroy") and not args.yes:
        _err(f"tenantctl {args.command} changes infrastructure: review `tenantctl preview` "
             "first, then add --yes")
        return EXIT_INVALID
    registry = _load(args)
    specs = select_stacks(fleet_stacks(registry, args.environment), args.stack, args.tenant)
    if args.command == "destroy" and not (args.stack or args.tenant):
        _err("tenantctl destroy needs an explicit --stack or --tenant: never the whole fleet")
        return EXIT_INVALID
    try:
        command = args.pulumi_command or auto.PulumiCommand()
    except (OSError, auto.errors.InvalidVersionError) as exc:
        _err(f"tenantctl: the Pulumi CLI is needed for {args.command} ({exc}); "
             "`tenantctl plan` works without it")
        return EXIT_INVALID
    runner = FleetRunner(work_root=Path(args.work_dir), pulumi_command=command,
                         registry=registry.directory,
                         parallel=args.parallel, policy_pack=None if args.no_policy else
                         Path(__file__).resolve().parents[1] / "policy")
    results = runner.run(specs, args.command)
    failed = [r.stack for r in results if not r.ok]
    not_run = len(specs) - len(results)
    print(f"{args.command}: {len(results) - len(failed)} ok, {len(failed)} failed, {not_run} not run")
    return EXIT_FAILED if failed or not_run else EXIT_OK


def _environment(value: str) -> str:
    """Type of ``--environment``: a short lowercase word (it is part of every name)."""
    if not ENVIRONMENT_RE.match(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an environment: 1-8 lowercase letters and digits, starting with a letter")
    return value


def _out_dir(value: str) -> str:
    """Type of ``--out``: a directory, or a path where one can be made."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} exists and is not a directory")
    return value


def _shard(value: str) -> shards.Shard:
    """Type of ``--shard``: ``K/N``."""
    try:
        return shards.parse_shard(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _count(least: int) -> Callable[[str], int]:
    """Type of a count option: an integer of at least ``least``."""
    def parse(value: str) -> int:
        if not value.isdigit() or int(value) < least:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least {least}")
        return int(value)
    return parse


def _workers(value: str) -> int:
    """Type of ``--workers``: a whole number of processes, at least one."""
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of workers") from None
    if count < 1:
        raise argparse.ArgumentTypeError("--workers must be at least 1")
    return count


def workers_option(parser: argparse.ArgumentParser, what: str) -> None:
    """``--workers N`` of a command that spreads its work over processes."""
    parser.add_argument("--workers", type=_workers, default=None,
                        help=f"{what} (default: one per CPU; 1: in this process)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and documentation)."""
    parser = argparse.ArgumentParser(prog="tenantctl", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def registry_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("--registry", default=None,
                       help=f"registry directory (default: ${REGISTRY_ENV}, else the sample fleet "
                            "shipped with tenants/)")
        p.add_argument("--environment", default="prod", type=_environment,
                       help="environment of the stacks (default prod)")

    p = sub.add_parser("validate", help="validate the registry")
    registry_opts(p)
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.add_argument("--locked", action="store_true",
                   help="fail (exit 2) when a placement is not recorded in the ledger")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("allocate", help="show or record new cell/CIDR placements in the ledger")
    registry_opts(p)
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.add_argument("--write", action="store_true", help="write the ledger")
    p.set_defaults(func=cmd_allocate)

    p = sub.add_parser("stacks", help="list stacks and their tenants")
    registry_opts(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_stacks)

    p = sub.add_parser("plan", help="plan stacks offline (mock engine + policy pack)")
    registry_opts(p)
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.add_argument("--stack", action="append", default=[], help="plan this stack (repeatable)")
    p.add_argument("--tenant", action="append", default=[],
                   help="plan the stack holding this tenant (repeatable)")
    p.add_argument("--out", default="out/plan", type=_out_dir, help="output directory (default out/plan)")
    p.add_argument("--no-policy", action="store_true", help="skip the policy pack")
    workers_option(p, "plan this many stacks at once in worker processes")
    p.add_argument("--base", help="also print the diff from this plan.json or git ref")
    p.add_argument("--changed-since", metavar="REF",
                   help="plan only the stacks the change from this git ref touches (docs/gate.md)")
    p.add_argument("--changed-files", metavar="FILE",
                   help="with --changed-since: the changed paths (one a line) instead of git's")
    p.add_argument("--cache", metavar="DIR",
                   help="reuse stack plans from this cache directory and store new ones (default: off)")
    p.add_argument("--shard", type=_shard, metavar="K/N",
                   help="plan only the K-th of N balanced parts of the selected stacks (writes shard.json)")
    p.add_argument("--matrix", action="store_true",
                   help="print the shards of the selection as a CI job matrix (JSON); plan nothing")
    p.add_argument("--shards", type=_count(1), metavar="N",
                   help="with --matrix: this many shards (default: by the selection's weight)")
    p.add_argument("--github-output", action="store_true",
                   help="with --matrix: also write matrix= and shards= to $GITHUB_OUTPUT")
    diff_cmd.add_format_options(p, json_flag=False)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("merge-plans", help="merge the partial plans of `plan --shard` into one plan")
    registry_opts(p)
    p.add_argument("out", help="output directory of the merged plan")
    p.add_argument("plans", nargs="*", help="the shards' plan.json files (or their directories)")
    p.add_argument("--shards", type=_count(0), metavar="N",
                   help="expect exactly N shards (a missing one is an error, also when none came)")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    workers_option(p, "write the merged manifests in this many worker processes")
    p.add_argument("--no-manifests", action="store_true",
                   help="write the merged plan.json only, not its manifests (the verdict and the "
                        "diff read plan.json; a 5,000-tenant fleet has half a million manifests)")
    diff_cmd.add_format_options(p, json_flag=False)
    p.set_defaults(func=cmd_merge_plans)

    p = sub.add_parser("diff", help="what changes between two plans (plan.json files or git refs)")
    registry_opts(p)
    p.add_argument("--base", required=True, help="plan.json (or its directory) or git ref to compare from")
    p.add_argument("--head", help="plan.json or git ref to compare to (default: plan the working tree)")
    diff_cmd.add_format_options(p, json_flag=True)
    p.set_defaults(func=cmd_diff)

    for action, text in (("preview", "preview stacks with the real engine and policy pack"),
                         ("up", "deploy stacks (needs --yes)"),
                         ("refresh", "refresh stacks' state from the cloud"),
                         ("destroy", "destroy named stacks (needs --yes; protected data stays)")):
        p = sub.add_parser(action, help=text)
        registry_opts(p)
        p.add_argument("--stack", action="append", default=[], help="this stack (repeatable)")
        p.add_argument("--tenant", action="append", default=[],
                       help="the stack holding this tenant (repeatable)")
        p.add_argument("--parallel", type=int, default=2, help="stacks at once per wave (default 2)")
        p.add_argument("--work-dir", default=".tenantctl/stacks", help="per-stack work directories")
        p.add_argument("--no-policy", action="store_true", help="do not run the policy pack")
        p.add_argument("--yes", action="store_true", help="confirm a change (up, destroy)")
        p.set_defaults(func=cmd_operate, pulumi_command=None)

    add_db_parser(sub)
    lifecycle_cmd.add_lifecycle_parsers(sub, registry_opts)
    add_rollout_parser(sub, registry_opts)
    add_cost_parser(sub)
    add_migrate_parser(sub, registry_opts)

    p = sub.add_parser("check", help="evaluate the policy pack over a saved plan.json")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.add_argument("--plan", required=True, help="path to plan.json")
    p.set_defaults(func=cmd_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run tenantctl; return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    try:
        if getattr(args, "lifecycle", None) is not None:
            return int(args.lifecycle(args, registry_directory(args.registry)))
        return int(args.func(args))
    except RegistryInvalid as exc:
        if getattr(args, "json", False):
            print(json.dumps({"valid": False, "problems": [str(p) for p in exc.problems]}, indent=1))
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        _err(f"registry invalid: {len(exc.problems)} problem(s); nothing was planned or changed")
        return EXIT_INVALID
    except (UsageError, planner.PlanFormatError, diff_cmd.SourceError, selection.SelectionError) as exc:
        _err(f"tenantctl: {exc}")
        return EXIT_INVALID
    except (diff_cmd.PlanningFailed, parallel.WorkerDied, parallel.WorkerFailed) as exc:
        _err(f"tenantctl: {exc}")
        return EXIT_FAILED
    except OSError as exc:
        # A file the command had to read or write: one line, never a traceback.
        _err(f"tenantctl: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return EXIT_FAILED


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
