"""``tenantctl migrate ID --to TIER``: move a tenant to another tier, in resumable steps.

``tenantctl migrate ID --to TIER [--cell C] [--account A] [--dry-run | --apply]
[--source-dsn DSN --target-dsn DSN] [--overwrite-target] [--delegated] [--source-writes-carried]
[--state FILE] [--redo STEP] [--json]``

Without ``--apply`` (or with ``--dry-run``) it prints the move, its steps and each step's
diff, planned offline from the registry each step writes, and changes nothing. With
``--apply`` it runs the steps (:mod:`tenantctl.migrate_steps`), each checked before the
next, recording progress in the state file (default ``.tenantctl/migrations/<id>.json``);
run the same command again to resume from the step that failed. See docs/migration.md.

Exit codes: 0 planned, or every step done; 1 a move inside a stack would delete or replace
data (nothing changed); 2 refused or invalid input (with the reason; nothing changed);
3 a step failed (the state file says which; rerun to resume); 4 the run waits for the
operator at ``delegate`` (it printed the DNS change to make; rerun with ``--delegated``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tenantctl import diff_report, schema_copy
from tenantctl import migrate_plan as mp
from tenantctl import migrate_steps as ms
from tenants.loader import load_registry
from tenants.migration import Target
from tenants.models import Tier

EXIT_OK, EXIT_DATA_LOSS, EXIT_INVALID, EXIT_FAILED, EXIT_WAITING = 0, 1, 2, 3, 4
#: Environment variables with the admin connection strings of the two database servers.
SOURCE_DSN_ENV, TARGET_DSN_ENV = "TENANTCTL_MIGRATE_SOURCE_DSN", "TENANTCTL_MIGRATE_TARGET_DSN"


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def default_schema_copier() -> ms.SchemaCopier:
    """The psycopg copier of :mod:`tenantctl.schema_copy`."""
    return schema_copy.copy_schema


def default_schema_verifier() -> ms.SchemaVerifier:
    """:func:`tenantctl.schema_copy.verify_schema`: reads both servers again, writes nothing."""
    return schema_copy.verify_schema


def default_object_copier() -> ms.ObjectCopier:
    """The boto3 copier of :mod:`tenantctl.object_copy` (its ``verify`` reads both buckets again)."""
    from tenantctl.object_copy import S3Copier

    return S3Copier()


def describe(move: mp.Move) -> str:
    """One line: from where to where."""
    def where(tier: Tier, cell: str | None, account: str | None, stack: str) -> str:
        return f"{tier} ({f'cell {cell}' if cell else f'account {account}'}, stack {stack})"
    source, target = move.source, move.target
    names = "new names (next generation)" if move.between_stacks else "the same names"
    return (f"migrate {move.tenant}: {where(source.tier, source.cell, source.account, move.source_stack)}"
            f" -> {where(target.tier, target.cell, target.account, move.target_stack)}, {names}")


def _steps_json(move: mp.Move, state: ms.State | None, plans: mp.StepPlans | None) -> list[dict[str, Any]]:
    rows = []
    for step in move.steps:
        row: dict[str, Any] = {"step": step, "what": mp.DESCRIPTIONS[step], "ups": list(move.ups(step)),
                               "status": state.status(step) if state else "pending"}
        if state and state.steps[step].get("error"):
            row["error"] = state.steps[step]["error"]
        if plans is not None:
            diff = plans.diff(step)
            row["diff"] = {"summary": dict(diff.counts()), "errors": len(diff.errors),
                           "stacks": sorted({c.stack for c in diff.changes})}
        rows.append(row)
    return rows


def _print_plan(move: mp.Move, state: ms.State | None, plans: mp.StepPlans | None) -> None:
    print(describe(move))
    if move.between_stacks:
        print(f"  handed over by `pulumi state move`: {len(move.handover)} resource(s); every other "
              "data-bearing resource gets a new name in the target and its data is copied")
    for index, row in enumerate(_steps_json(move, state, plans), start=1):
        ups = f" [up {', '.join(row['ups'])}]" if row["ups"] else ""
        print(f"  {index}. {row['step']:14} {row['status']:8} {row['what']}{ups}")
    if plans is None:
        return
    for step in move.steps:
        diff = plans.diff(step)
        if diff.changes:  # per stack and tenant; `tenantctl diff` of the step's plans lists each resource
            lines = [line for line in diff_report.text(diff).splitlines() if not line.startswith("    ")]
            print(f"  step {step}: " + "\n    ".join(lines))


def _services(args: argparse.Namespace, registry_dir: Path) -> ms.Services:
    copier = args.copy_schema if args.copy_schema is not None else default_schema_copier()
    verifier = args.verify_schema if args.verify_schema is not None else default_schema_verifier()
    objects = args.copy_objects if args.copy_objects is not None else default_object_copier()
    today = dt.date.fromisoformat(args.today) if args.today else dt.date.today()
    return ms.Services(registry=registry_dir, work_dir=Path(args.work_dir),
                       pulumi_command=args.pulumi_command, copy_schema=copier, copy_objects=objects,
                       verify_schema=verifier, overwrite_target=args.overwrite_target,
                       delegated=args.delegated, source_writes_carried=args.source_writes_carried,
                       source_dsn=args.source_dsn or os.environ.get(SOURCE_DSN_ENV),
                       target_dsn=args.target_dsn or os.environ.get(TARGET_DSN_ENV), today=today,
                       report=_err)


def _target(args: argparse.Namespace) -> Target:
    return Target(Tier(args.to), cell=args.cell, account=args.account)


def cmd_migrate(args: argparse.Namespace, registry_dir: Path) -> int:
    """Plan (default) or run (``--apply``) a tenant's migration; resume a recorded one."""
    state_path = Path(args.state or Path(".tenantctl") / "migrations" / f"{args.id}.json")
    try:
        with ms.holding(state_path):
            return _migrate(args, registry_dir, state_path)
    except ms.StateError as exc:
        _err(f"tenantctl migrate: {exc}")
        return EXIT_INVALID


def _same_request(args: argparse.Namespace, move: mp.Move) -> bool:
    return move.tenant == args.id and move.target.tier is Tier(args.to) and all(
        given is None or given == recorded for given, recorded in (
            (args.cell, move.target.cell), (args.account, move.target.account)))


def _archive(state_path: Path) -> Path:
    """Move a finished migration's state file aside (``<id>.done-<n>.json``) for the next one."""
    n = 1
    while (archived := state_path.with_name(f"{state_path.stem}.done-{n}.json")).exists():
        n += 1
    state_path.replace(archived)
    return archived


def _migrate(args: argparse.Namespace, registry_dir: Path, state_path: Path) -> int:
    state = ms.State.load(state_path) if state_path.exists() else None
    finished = None
    if state is not None and not state.pending() and not _same_request(args, state.move):
        finished, state = state, None  # a new move after a finished one
    plans = None
    try:
        if state is not None:
            move = state.move
            if move.tenant != args.id or move.target.tier is not Tier(args.to):
                raise mp.Refused(f"{state_path} holds the migration of {move.tenant} to {move.target.tier}: "
                                 "finish it (same command) or give another --state")
        else:
            move = mp.decide(load_registry(registry_dir), args.id, _target(args), args.environment)
            plans = mp.plan_steps(registry_dir, move, today=_today(args))
        _check_inputs(args, move)
    except mp.Refused as exc:
        _emit_refusal(args, str(exc))
        return exc.code
    if state is not None and args.redo:
        if args.redo not in move.steps:
            _emit_refusal(args, f"--redo {args.redo}: the steps are {', '.join(move.steps)}")
            return EXIT_INVALID
        state.redo(args.redo)
    waits = ("waiting", "failed", "running")  # a killed or failed run at delegate is still waiting there
    if args.delegated and not (args.apply and _stopped_at(state, mp.DELEGATE, *waits)):
        _emit_refusal(args, "--delegated (with --apply) confirms the DNS delegation the delegate step "
                      "waits for, after the switch; this migration is not waiting there")
        return EXIT_INVALID
    if args.source_writes_carried and not (args.apply and _stopped_at(state, "retire-source", "failed")):
        _emit_refusal(args, "--source-writes-carried (with --apply) answers a retire-source that found "
                      "writes on the source after verify; this migration has no such failure")
        return EXIT_INVALID
    done = state is not None and not state.pending()
    if not args.apply or done:
        _output(args, move, state, plans, "done" if done else "planned")
        if not args.json and not done:
            print("(plan only: add --apply to run the steps; the same command resumes a stopped run)")
        return EXIT_OK
    if state is None:
        if finished is not None:
            _err(f"the finished migration's record moved to {_archive(state_path)}")
        state = ms.State(state_path, move)
        state.save()
    if not args.json:
        _print_plan(move, state, plans)
    stopped = ms.run(state, _services(args, registry_dir))
    waiting = stopped is not None and state.status(stopped) == "waiting"
    failed = None if waiting else stopped
    if args.json:
        _output(args, move, state, None, "waiting" if waiting else "failed" if failed else "done", failed,
                waiting=stopped if waiting else None)
    elif waiting:
        _err(f"tenantctl migrate: waiting at step {stopped}: make the change above, then run the same "
             "command with --delegated")
    elif failed:
        _err(f"tenantctl migrate: step {failed} failed; {state_path} records it: fix the cause and run "
             "the same command again to resume there")
    else:
        print(f"migrated {move.tenant} to {move.target.tier} ({move.target_stack}); state {state_path}")
    return EXIT_WAITING if waiting else EXIT_FAILED if failed else EXIT_OK


def _stopped_at(state: ms.State | None, step: str, *statuses: str) -> bool:
    """Whether a recorded run has ``step`` in one of ``statuses`` (what a confirmation answers)."""
    return state is not None and step in state.move.steps and state.status(step) in statuses


def _today(args: argparse.Namespace) -> dt.date:
    return dt.date.fromisoformat(args.today) if args.today else dt.date.today()


def _check_inputs(args: argparse.Namespace, move: mp.Move) -> None:
    """An ``--apply`` between stacks needs both database servers' connection strings."""
    if args.apply and move.between_stacks:
        if not (args.source_dsn or os.environ.get(SOURCE_DSN_ENV)) or not (
                args.target_dsn or os.environ.get(TARGET_DSN_ENV)):
            raise mp.Refused(f"a move between stacks copies the tenant's schema: give --source-dsn and "
                             f"--target-dsn (or ${SOURCE_DSN_ENV}, ${TARGET_DSN_ENV}), the admin "
                             f"connection strings of {move.source_stack}'s and {move.target_stack}'s "
                             "database servers")


def _emit_refusal(args: argparse.Namespace, reason: str) -> None:
    if args.json:
        print(json.dumps({"tenant": args.id, "to": args.to, "result": "refused", "reason": reason}, indent=1))
    _err(f"tenantctl migrate: refused: {reason}")


def _output(args: argparse.Namespace, move: mp.Move, state: ms.State | None, plans: mp.StepPlans | None,
            result: str, failed: str | None = None, *, waiting: str | None = None) -> None:
    if args.json:
        print(json.dumps({"tenant": move.tenant, "move": move.as_json(), "result": result,
                          "failedStep": failed, **({"waitingStep": waiting} if waiting else {}),
                          "steps": _steps_json(move, state, plans)}, indent=1))
    else:
        _print_plan(move, state, plans)


def add_migrate_parser(sub: Any, registry_opts: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register ``migrate``."""
    p = sub.add_parser("migrate", help="move a tenant to another tier in resumable, checked steps")
    registry_opts(p)
    p.add_argument("id", help="tenant id")
    p.add_argument("--to", required=True, choices=[str(t) for t in Tier], help="the target tier")
    p.add_argument("--cell", help="shared target: its cell (default: the recorded cell)")
    p.add_argument("--account", help="cluster target: the tenant's own 12-digit AWS account")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the plan and the diffs (the default)")
    mode.add_argument("--apply", action="store_true", help="run the steps (resumes a stopped run)")
    p.add_argument("--source-dsn", help=f"admin conninfo of the source database server (${SOURCE_DSN_ENV})")
    p.add_argument("--target-dsn", help=f"admin conninfo of the target database server (${TARGET_DSN_ENV})")
    p.add_argument("--overwrite-target", action="store_true",
                   help="copy-data: replace what the target schema holds (before the switch only: "
                        "an earlier or tampered copy; never a target that serves)")
    p.add_argument("--delegated", action="store_true",
                   help="the operator has made the DNS delegation the delegate step waits for")
    p.add_argument("--source-writes-carried", action="store_true",
                   help="retire-source: the writes it found on the source after verify are in the target now")
    p.add_argument("--state", help="state file (default .tenantctl/migrations/<id>.json)")
    p.add_argument("--redo", help="run this step and the later ones again (after fixing what it found)")
    p.add_argument("--work-dir", default=".tenantctl/stacks", help="per-stack work directories")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.add_argument("--today", help=argparse.SUPPRESS)  # tests pin the recorded date
    p.set_defaults(lifecycle=cmd_migrate, pulumi_command=None, copy_schema=None, verify_schema=None,
                   copy_objects=None)
