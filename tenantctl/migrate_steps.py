"""Running a migration's steps: a state file, a lock, one check after every step.

The state file (``.tenantctl/migrations/<id>.json`` by default) holds the move
(:class:`tenantctl.migrate_plan.Move`) and each step's status (``pending``, ``running``,
``done``, ``failed``, ``waiting`` for the operator), times, error and detail (the copy
reports), rewritten atomically whenever a step starts or ends. A run continues from the
first step not ``done``: a step that failed, waits, or was interrupted (``running``), runs
again; a ``done`` step never does.
Only one run at a time holds a state file (``<file>.lock``, an advisory ``flock`` the
kernel releases when the process ends).

Every step is followed by its check; a failed check is a failed step, and nothing after
it runs. Steps that talk to Pulumi go through :class:`tenantctl.automation.FleetRunner`,
so the CLI is reached only through its injectable ``PulumiCommand``; the data copies and
the schema's verification go through injected callables (:class:`Services`; the CLI's are
:mod:`tenantctl.schema_copy` and :mod:`tenantctl.object_copy`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tenantctl import filelock
from tenantctl import migrate_plan as mp
from tenantctl import schema_copy as sc
from tenantctl.automation import FleetRunner
from tenants import naming
from tenants.loader import Registry, load_registry
from tenants.models import MigrationState
from tenants.stacks import StackSpec, fleet_stacks

#: 2: a move may carry a ``delegation`` and its ``delegate`` step, which may be ``waiting``.
#: A version-1 file (no delegation) reads unchanged.
STATE_VERSION = 2
READS_VERSIONS = (1, 2)
STATUSES = ("pending", "running", "done", "failed", "waiting")
#: ``copy_objects(source_bucket, target_bucket)`` returning a report with ``.ok``; a copier with a
#: ``verify(source_bucket, target_bucket)`` too (:class:`tenantctl.object_copy.S3Copier`) has
#: ``verify`` read both buckets again instead of trusting the copy's report.
ObjectCopier = Callable[[str, str], Any]


class SchemaCopier(Protocol):
    """:func:`tenantctl.schema_copy.copy_schema`'s signature (mypy holds every copier to it)."""

    def __call__(self, source: str, target: str, schema: str, *, target_schema: str | None = None,
                 progress: sc.Progress | None = None, overwrite: bool = False) -> sc.CopyReport:
        """Copy ``schema`` from ``source`` to ``target`` (libpq admin conninfos); the final check."""


class SchemaVerifier(Protocol):
    """:func:`tenantctl.schema_copy.verify_schema`'s signature: compares, writes nothing."""

    def __call__(self, source: str, target: str, schema: str, *,
                 target_schema: str | None = None) -> sc.CopyReport:
        """Compare ``schema`` on both servers."""


class StepFailed(Exception):
    """A step or its check failed; the run stops there (exit 3) and resumes there."""


class Waiting(Exception):
    """A step waits for the operator (exit 4): the message says what to do, then rerun."""


class StateError(Exception):
    """A state file that is unreadable, of another move, or held by another run (exit 2)."""


@dataclass
class Services:
    """What the steps act through; tests inject every one of them."""

    registry: Path
    work_dir: Path
    pulumi_command: Any = None
    copy_schema: SchemaCopier | None = None
    verify_schema: SchemaVerifier | None = None
    copy_objects: ObjectCopier | None = None
    #: ``copy_schema(overwrite=True)``: replace whatever the target schema holds (--overwrite-target).
    overwrite_target: bool = False
    #: The operator says the host's delegation is made (--delegated): ``delegate`` completes.
    delegated: bool = False
    #: The operator carried into the target the writes ``retire-source`` found on the source
    #: after ``verify`` (--source-writes-carried): the step records them and completes.
    source_writes_carried: bool = False
    source_dsn: str | None = None
    target_dsn: str | None = None
    today: dt.date = field(default_factory=dt.date.today)
    report: Callable[[str], None] = print

    def runner(self) -> FleetRunner:
        """A runner over the registry as it is now (one stack at a time)."""
        return FleetRunner(work_root=self.work_dir, pulumi_command=self.pulumi_command,
                           registry=self.registry, parallel=1, report=self.report)


# --- the state file ------------------------------------------------------------------------
class State:
    """The migration's record of progress (module docstring)."""

    def __init__(self, path: Path, move: mp.Move, steps: dict[str, dict[str, Any]] | None = None) -> None:
        self.path = path
        self.move = move
        self.steps = steps or {name: {"status": "pending", "error": "", "detail": {}} for name in move.steps}

    @classmethod
    def load(cls, path: Path) -> State:
        """Read a state file, or :class:`StateError`."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            move = mp.Move.from_json(data["move"])
            steps = data["steps"]
            if data.get("version") not in READS_VERSIONS or list(steps) != list(move.steps) or not all(
                    s.get("status") in STATUSES for s in steps.values()):
                raise ValueError("steps do not match the move")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StateError(f"{path}: not a migration state file this tenantctl reads ({exc})") from None
        return cls(path, move, steps)

    def status(self, step: str) -> str:
        """A step's status."""
        return str(self.steps[step]["status"])

    def pending(self) -> list[str]:
        """The steps still to run, in order."""
        return [s for s in self.move.steps if self.status(s) != "done"]

    def set(self, step: str, status: str, **extra: Any) -> None:
        """Record a step's status (and times, error, detail) and save."""
        entry = self.steps[step]
        entry.update(status=status, **extra)
        entry[{"running": "started"}.get(status, "finished")] = dt.datetime.now(dt.UTC).isoformat(
            timespec="seconds")
        self.save()

    def redo(self, step: str) -> None:
        """Run ``step`` and every later one again (after an operator fixed what they found)."""
        steps = self.move.steps
        for name in steps[steps.index(step):]:
            self.steps[name].update(status="pending", error="")
        self.save()

    def as_json(self) -> dict[str, Any]:
        """The state file's document."""
        return {"version": STATE_VERSION, "move": self.move.as_json(), "steps": self.steps}

    def save(self) -> None:
        """Rewrite the file in one rename."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(self.as_json(), indent=1), encoding="utf-8")
        tmp.replace(self.path)


def holding(path: Path) -> contextlib.AbstractContextManager[None]:
    """Hold ``<state>.lock``: two runs never drive one migration."""
    return filelock.holding(path, StateError(f"{path}: another tenantctl migrate is running this migration"))


# --- the steps -------------------------------------------------------------------------------
def _spec(registry: Registry, move: mp.Move, stack: str) -> StackSpec:
    found = {s.name: s for s in fleet_stacks(registry, move.environment)}
    if stack not in found or not any(t.id == move.tenant for t in found[stack].tenants):
        raise StepFailed(f"stack {stack} does not declare tenant {move.tenant} in the registry")
    return found[stack]


def _up(services: Services, move: mp.Move, stack: str) -> dict[str, Any]:
    spec = _spec(load_registry(services.registry), move, stack)
    result = services.runner().run_one(spec, "up")
    if not result.ok:
        raise StepFailed(f"up of {stack} failed: {result.error}")
    return {"up": stack, "changes": result.changes}


def state_move(services: Services, move: mp.Move) -> None:
    """Hand ``move.handover`` from the source stack to the target: ``pulumi state move``."""
    registry = load_registry(services.registry)
    runner = services.runner()
    source, target = _spec(registry, move, move.source_stack), _spec(registry, move, move.target_stack)
    runner.stack(source)
    dest = runner.stack(target)  # both exist and carry their config before state moves between them
    args = ["state", "move", "--source", source.name, "--dest", target.name, "--yes", *move.handover]
    try:
        runner.command.run(args, dest.workspace.work_dir, runner.env)
    except Exception as exc:  # a CommandError, or the CLI missing
        raise StepFailed(f"pulumi state move {source.name} -> {target.name} failed: {exc}") from None


def report_json(report: Any) -> dict[str, Any]:
    """A copier's report as JSON (a dataclass, an ``as_json``, or at least its ``ok``)."""
    if hasattr(report, "as_json"):
        out = dict(report.as_json())
    elif dataclasses.is_dataclass(report) and not isinstance(report, type):
        out = json.loads(json.dumps(dataclasses.asdict(report), default=str))
    else:
        out = {}
    out["ok"] = bool(getattr(report, "ok", False))  # a property is no dataclass field
    return out


def mismatches(detail: Any, where: str = "") -> list[str]:
    """Every ``source_X``/``target_X`` pair (objects, bytes, checksum...) of a report that differs.

    The object copier's report spelling; the schema's checks are typed (:func:`schema_mismatches`).
    """
    found: list[str] = []
    if isinstance(detail, Mapping):
        label = str(detail.get("name") or detail.get("table") or where)
        for key, value in detail.items():
            if key.startswith("source_") and f"target_{key[7:]}" in detail:
                if value != detail[f"target_{key[7:]}"]:
                    what = f"{key[7:]} {value!r} != {detail[f'target_{key[7:]}']!r}"
                    found.append(f"{label}: {what}" if label else what)
            elif isinstance(value, (Mapping, list)):
                found += mismatches(value, f"{label}.{key}" if label else key)
    elif isinstance(detail, list):
        for i, item in enumerate(detail):
            found += mismatches(item, f"{where}[{i}]")
    return found


def schema_mismatches(report: sc.CopyReport) -> list[str]:
    """What differs in a schema copy's report: per table, per sequence, per definition."""
    found = []
    for t in report.tables:
        if t.rows_target is None:
            found.append(f"table {t.table}: missing on the target")
        elif not t.ok:
            rows = f"rows {t.rows_source} != {t.rows_target}" if t.rows_source != t.rows_target else ""
            sums = "" if t.checksum_source == t.checksum_target else "checksums differ"
            found.append(f"table {t.table}: {', '.join(filter(None, (rows, sums)))}")
    for q in report.sequences:
        if not q.ok:
            found.append(f"sequence {q.sequence}: next value {q.next_source} != "
                         f"{'missing' if q.next_target is None else q.next_target}")
    return found + list(report.problems)


def schema_failure(exc: sc.SchemaCopyError, move: mp.Move) -> StepFailed:
    """One line an operator can act on, for each way the schema copy refuses or fails."""
    if isinstance(exc, sc.TargetNotReady):
        return StepFailed(f"the target is not ready: {exc}. The target-up step's database bootstrap "
                          f"(stack {move.target_stack}) creates the tenant's schema on that stack's server: "
                          f"--target-dsn must be its admin connection to database {naming.DB_NAME!r}; "
                          f"if the schema was dropped since, `tenantctl db bootstrap --dsn TARGET --tenant "
                          f"{move.tenant}` recreates it")
    if isinstance(exc, sc.TargetNotEmpty):
        refusal = str(exc).replace("overwrite=True", "--overwrite-target")  # the CLI's spelling
        return StepFailed(f"{refusal}: the copy changed nothing. Check that --target-dsn is "
                          f"{move.target_stack}'s database server; if what it holds is an earlier or "
                          "tampered copy (the target does not serve before the switch), rerun with "
                          "--redo copy-data --overwrite-target to replace it")
    if isinstance(exc, sc.SourceSchemaMissing):
        return StepFailed(f"{exc}: check that --source-dsn is {move.source_stack}'s database server")
    if isinstance(exc, sc.UnsupportedObjects):
        return StepFailed(f"{exc}; nothing was written: remove or replace them on the source, then rerun")
    if isinstance(exc, sc.CopyFailed):
        return StepFailed(f"{exc} (run the same command again: the copy resumes)")
    return StepFailed(str(exc))


def _copy(services: Services, move: mp.Move) -> dict[str, Any]:
    if services.copy_schema is None or not services.source_dsn or not services.target_dsn:
        raise StepFailed("copying the schema needs a schema copier and --source-dsn/--target-dsn")
    registry = load_registry(services.registry)
    tenant = registry.tenant(move.tenant)
    schema = naming.db_schema_name(move.tenant)  # the same name on both servers (no generation)
    try:
        report = services.copy_schema(services.source_dsn, services.target_dsn, schema,
                                      progress=lambda message: services.report(f"  copy {schema}: {message}"),
                                      overwrite=services.overwrite_target)
    except sc.SchemaCopyError as exc:
        raise schema_failure(exc, move) from None
    detail: dict[str, Any] = {"schema": report.summary()}
    if not report.ok:
        raise StepFailed(f"the schema copy of {schema} does not match its source: "
                         + "; ".join(schema_mismatches(report)))
    if tenant.record.features.fileserver:
        if services.copy_objects is None:
            raise StepFailed("copying the tenant's files needs an object copier")
        source_bucket = naming.TenantNames(move.tenant, move.environment, move.source.generation).files_bucket
        target_bucket = tenant.names(move.environment).files_bucket
        detail["files"] = {"source_bucket": source_bucket, "target_bucket": target_bucket,
                           "report": report_json(services.copy_objects(source_bucket, target_bucket))}
        if not detail["files"]["report"]["ok"]:
            raise StepFailed(f"the file copy reported a failure: {json.dumps(detail['files'])[:500]}")
    return detail


def _verify(services: Services, state: State) -> dict[str, Any]:
    """Compare both servers again (not the copy's own report) and the copied buckets' report."""
    move = state.move
    if services.verify_schema is None or not services.source_dsn or not services.target_dsn:
        raise StepFailed("verifying the schema needs a schema verifier and --source-dsn/--target-dsn")
    schema = naming.db_schema_name(move.tenant)
    try:
        report = services.verify_schema(services.source_dsn, services.target_dsn, schema)
    except sc.SchemaCopyError as exc:
        raise schema_failure(exc, move) from None
    found = [] if report.ok else [f"schema {schema}: {m}" for m in schema_mismatches(report)]
    files = state.steps["copy-data"]["detail"].get("files")
    verify_objects = getattr(services.copy_objects, "verify", None)
    if files is not None and verify_objects is not None:
        fresh = verify_objects(files["source_bucket"], files["target_bucket"])
        files = {**files, "report": report_json(fresh)}
        found += [f"files: {p}" for p in files["report"].get("problems", ())]
    if files is not None:
        found += mismatches(files["report"], "files")
    if found:
        raise StepFailed("the target does not match the source: " + "; ".join(found))
    return {"schema": report.summary(), **({"files": files["report"]} if files is not None else {})}


def source_writes(verified: Mapping[str, Any], now: sc.CopyReport) -> list[str]:
    """What changed on the source since ``verify`` read it (its recorded schema summary).

    ``now`` is the source read again (``verify_schema(source, source)``): per table the row
    count and checksum, per sequence the next value, against what verify saw there.
    """
    before = {t["table"]: (t["rows_source"], t["checksum_source"]) for t in verified.get("tables", ())}
    after = {t.table: (t.rows_source, t.checksum_source) for t in now.tables}
    found = []
    for table in sorted(before.keys() | after.keys()):
        if table not in after:
            found.append(f"table {table}: dropped")
        elif table not in before:
            found.append(f"table {table}: created ({after[table][0]} rows)")
        elif before[table] != after[table]:
            found.append(f"table {table}: rows {before[table][0]} -> {after[table][0]}"
                         + (", checksum changed" if before[table][1] != after[table][1] else ""))
    sequences = {q["sequence"]: q["next_source"] for q in verified.get("sequences", ())}
    found += [f"sequence {q.sequence}: next value {sequences[q.sequence]} -> {q.next_source}"
              for q in now.sequences if q.sequence in sequences and sequences[q.sequence] != q.next_source]
    return found


def _retire_source(services: Services, state: State) -> dict[str, Any]:
    """Retire the source, then prove that nothing was written to it after ``verify``.

    From ``copy-data`` until this up removes them, the source's workloads run, and resolvers
    reach them until the delegation: a write they take is not in the target. Read after the
    up (nothing writes to the source any more), the source must be what verify compared; if
    not, the step fails naming each table and sequence that changed. The source keeps them
    (retired, data kept): the operator carries them into the target and reruns with
    ``--source-writes-carried``, which records them.
    """
    move = state.move
    detail = _up(services, move, move.source_stack)
    verified = state.steps["verify"]["detail"].get("schema")
    if verified is None or services.verify_schema is None or not services.source_dsn:
        raise StepFailed("checking the source for writes after verify needs the schema verifier and "
                         "--source-dsn")
    schema = naming.db_schema_name(move.tenant)
    try:
        now = services.verify_schema(services.source_dsn, services.source_dsn, schema)
    except sc.SchemaCopyError as exc:
        raise schema_failure(exc, move) from None
    found = source_writes(verified, now)
    if found and not services.source_writes_carried:
        raise StepFailed(f"writes reached the source after verify, and the target (serving since the "
                         f"switch) does not have them: schema {schema}: {'; '.join(found)}. The source is "
                         "retired now and keeps them: carry them into the target, then rerun with "
                         "--source-writes-carried")
    return {**detail, "sourceWritesAfterVerify": found}


def _recorded(registry: Registry, move: mp.Move) -> bool:
    """Whether the registry already holds the ``record`` step (an interrupted run wrote it)."""
    record = registry.tenant(move.tenant).record
    if not move.between_stacks:
        return record.tier is move.target.tier
    return record.migration is not None and record.migration.source == move.source


def _record(services: Services, move: mp.Move) -> dict[str, Any]:
    registry = load_registry(services.registry)
    if not _recorded(registry, move):
        registry = mp.apply_record(services.registry, move)
    for stack in move.stacks:
        _spec(registry, move, stack)  # the check: every stack of the move declares the tenant
    return {"generation": registry.tenant(move.tenant).record.generation}


def _switch(services: Services, move: mp.Move) -> dict[str, Any]:
    registry = load_registry(services.registry)
    record = registry.tenant(move.tenant).record
    if record.migration is None:
        raise StepFailed(f"{move.tenant}.yaml records no migration: the registry was changed by hand")
    if record.migration.state is not MigrationState.SWITCHED:
        mp.apply_switch(services.registry, move)
    return _up(services, move, move.target_stack)


def _finish(services: Services, move: mp.Move) -> dict[str, Any]:
    if not move.between_stacks:
        tier = load_registry(services.registry).tenant(move.tenant).tier
        if tier is not move.target.tier:
            raise StepFailed(f"{move.tenant}.yaml says tier {tier}, not {move.target.tier}")
        return {}
    registry = load_registry(services.registry)
    if registry.tenant(move.tenant).record.migration is not None:
        registry = mp.apply_finish(services.registry, move, services.today)
    record = registry.tenant(move.tenant).record
    if not any(p.tier is move.source.tier and p.generation == move.source.generation for p in record.kept):
        raise StepFailed(f"{move.tenant}.yaml does not keep the source placement")
    detail: dict[str, Any] = {"kept": move.source_stack}
    for stack in move.finish_ups:  # a dedicated source: now data-only
        detail["up"] = _up(services, move, stack)
    return detail


def _delegate(services: Services, move: mp.Move) -> dict[str, Any]:
    """Wait until the operator has changed the host's delegation (tenantctl.delegation)."""
    assert move.delegation is not None
    if not services.delegated:
        raise Waiting("\n".join([f"the host {move.delegation.hostname} is now served from "
                                  f"{move.delegation.target_zone.label()}; make resolvers follow:",
                                  *(f"  {n}. {line}" for n, line in
                                    enumerate(move.delegation.instructions(), start=1))]))
    return {"delegated": "confirmed by the operator (--delegated)", **move.delegation.as_json()}


def run_step(step: str, state: State, services: Services) -> dict[str, Any]:
    """Run one step and its check; return its detail, or raise :class:`StepFailed`."""
    move = state.move
    if step == "record":
        return _record(services, move)
    if step == "target-up":  # the source (its copy grant), then the target: Move.ups
        if move.handover:
            state_move(services, move)
        ups = [_up(services, move, stack) for stack in move.ups(step)]
        return {**ups[-1], "ups": ups}
    if step == "copy-data":
        return _copy(services, move)
    if step == "verify":
        return _verify(services, state)
    if step == "switch":
        return _switch(services, move)
    if step == mp.DELEGATE:
        return _delegate(services, move)
    if step == "retire-source":
        return _retire_source(services, state)
    if step == "up":
        return _up(services, move, move.source_stack)
    return _finish(services, move)


def run(state: State, services: Services) -> str | None:
    """Run every step not done, in order; return the step that failed or waits (None: all done)."""
    for step in state.pending():
        services.report(f"[{move_index(state, step)}/{len(state.move.steps)}] {step}: "
                        f"{mp.DESCRIPTIONS[step]}")
        state.set(step, "running")
        try:
            detail = run_step(step, state, services)
        except Waiting as wait:
            state.set(step, "waiting", error="", detail={"instructions": str(wait)})
            services.report(f"    WAITING: {wait}")
            return step
        except Exception as exc:  # a copier's or the registry's error fails the step, never a traceback
            error = str(exc) if isinstance(exc, StepFailed) else f"{type(exc).__name__}: {exc}"
            state.set(step, "failed", error=error)
            services.report(f"    FAILED: {error}")
            return step
        state.set(step, "done", error="", detail=detail)
        if step not in ("record", "finish"):
            mp.apply_mark(services.registry, state.move, step)
    return None


def move_index(state: State, step: str) -> int:
    """The 1-based position of a step."""
    return state.move.steps.index(step) + 1
