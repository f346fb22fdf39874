"""``tenantctl rollout``: update many stacks in waves, resumably, with a record of each.

``tenantctl rollout [--stack S]... [--tenant T]... [--stacks-from FILE] [--parallel N]
[--waves SPEC] [--record FILE | --resume FILE] [--matrix [--per-job N] [--github-output]]
[--json] --yes``

The selected stacks (all of them when none is named) run in waves: the first wave is the
canary, and a wave in which any stack fails stops the rollout once that wave's other stacks
have finished; later waves never start. Within a wave at most ``--parallel`` stacks run at
once, each in its own work directory. The program's Pulumi plugins are installed once,
serially, before any stack runs (parallel installs race). A stack locked by another update
is retried with backoff (:meth:`tenantctl.automation.FleetRunner.run_one`); the lock is
never cancelled. The policy pack is always on.

Wave plans (``--waves``), over the selected stacks:

- ``default`` (the default): the canary cell ``shared-dev`` alone (when it is not selected,
  the first selected stack alone), then the other cells, then the dedicated stacks;
- ``all``: one wave (what a CI runner uses for its share of a wave the matrix ordered);
- sizes ``1,2,5``: waves of 1, 2 and 5 stacks in the default order, the last size repeated
  until every stack has a wave;
- lists ``shared-dev;shared-r1,shared-r2;*``: waves separated by ``;``, stacks by ``,``;
  ``*`` is every selected stack not listed elsewhere (in the default order). Every selected
  stack must be in exactly one wave and every listed stack must be selected.

The record (``--record FILE``, default ``.tenantctl/rollout.json``) is JSON, rewritten
atomically (temporary file, then rename) when a stack starts and when it finishes::

    {"version": 1, "action": "up", "environment": "prod", "waves": [["shared-dev"], ...],
     "stacks": {"shared-dev": {"wave": 1, "status": "done", "attempts": 1,
                               "changes": {"create": 3}, "error": "",
                               "started": "2026-12-01T12:00:00+00:00", "finished": "..."}}}

``status`` is ``pending``, ``running`` (a run that stopped mid-stack), ``done`` or
``failed``. ``--resume FILE`` continues that record: stacks ``done`` are skipped, every
other one runs again, in the recorded waves. A record of another action, environment or
stack set is refused (select the same stacks, or start a new record). Only one rollout at
a time can hold a record (``FILE.lock``).

``--matrix`` runs nothing: it prints the waves as a GitHub Actions job matrix, each wave
cut into jobs of at most ``--per-job`` stacks of one region::

    {"include": [{"wave": 1, "part": 1, "parts": 1, "region": "ap-northeast-1",
                  "stacks": "shared-dev"},
                 {"wave": 2, "part": 1, "parts": 2, "region": "ap-northeast-1",
                  "stacks": "shared-r1 shared-r2"},
                 {"wave": 2, "part": 2, "parts": 2, "region": "us-east-1",
                  "stacks": "shared-u1"}, ...]}

A job holds the stacks of one region (its deploy runner reaches their private endpoints).

``--github-output`` also appends ``waves=<n>``, ``matrix=<all>`` and, per wave,
``wave<i>={"include": [...]}`` to ``$GITHUB_OUTPUT``, so that one job per wave (each
``needs:`` the previous one) runs its matrix: every entry runs
``tenantctl rollout --waves all --stack ...`` for its share (.github/workflows/deploy.yml).

``--stacks-from FILE`` adds the stacks of a JSON list of names (what ``python -m
policy.gate`` prints); an empty list with nothing else selected selects no stack (never the
whole fleet).

Progress goes to stderr, one line per finished stack (``[done/total]``, its time and the
rollout's elapsed time); the summary goes to stdout (JSON with ``--json``).

Exit codes: 0 every selected stack is done; 2 invalid input (arguments, wave plan, record,
registry, no Pulumi CLI); 3 a stack (or the plugin install) failed, or stacks were not run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from pulumi import automation as auto

from tenantctl import filelock
from tenantctl.automation import Action, FleetRunner, StackResult, waves
from tenants.stacks import StackSpec

EXIT_OK, EXIT_INVALID, EXIT_FAILED = 0, 2, 3
RECORD_VERSION = 1
ACTIONS: tuple[Action, ...] = ("up", "preview", "refresh")
STATUSES = ("pending", "running", "done", "failed")
#: GitHub Actions runs at most 256 jobs of one matrix.
MATRIX_LIMIT = 256
_SIZES = re.compile(r"^\s*\d+(\s*,\s*\d+)*\s*$")


class RolloutError(ValueError):
    """Bad input: a wave plan, record or option that cannot be used (exit 2)."""


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- wave plans ---------------------------------------------------------------------------
def default_plan(specs: Sequence[StackSpec]) -> list[list[StackSpec]]:
    """Canary, cells, dedicated stacks; without the canary cell, the first stack is the canary."""
    plan = waves(specs)
    if plan and len(plan[0]) > 1:
        plan = [[plan[0][0]], plan[0][1:], *plan[1:]]
    return plan


def parse_plan(text: str | None, specs: Sequence[StackSpec]) -> list[list[StackSpec]]:
    """The waves ``--waves`` describes over the selected stacks (module docstring)."""
    ordered = [s for wave in default_plan(specs) for s in wave]
    spec = (text or "default").strip()
    if not ordered:
        return []
    if spec == "default":
        return default_plan(specs)
    if spec == "all":
        return [ordered]
    if _SIZES.match(spec):
        sizes = [int(n) for n in spec.split(",")]
        if min(sizes) < 1:
            raise RolloutError(f"--waves {text!r}: a wave holds at least one stack")
        plan: list[list[StackSpec]] = []
        start = 0
        while start < len(ordered):
            size = sizes[min(len(plan), len(sizes) - 1)]
            plan.append(ordered[start:start + size])
            start += size
        return plan
    return _listed_plan(spec, ordered)


def _listed_plan(spec: str, ordered: list[StackSpec]) -> list[list[StackSpec]]:
    by_name = {s.name: s for s in ordered}
    groups = [re.split(r"[,\s]+", part.strip()) for part in spec.split(";")]
    if any(group == [""] for group in groups):
        raise RolloutError(f"--waves {spec!r}: an empty wave (waves are separated by ';')")
    if sum(group == ["*"] for group in groups) > 1 or any("*" in g and g != ["*"] for g in groups):
        raise RolloutError(f"--waves {spec!r}: '*' stands alone, once (the stacks not listed)")
    listed = [name for group in groups for name in group if name != "*"]
    unknown = sorted({n for n in listed if n not in by_name})
    if unknown:
        raise RolloutError(f"--waves: {', '.join(unknown)} not selected; selected stacks are "
                           f"{', '.join(by_name)}")
    twice = sorted({n for n in listed if listed.count(n) > 1})
    if twice:
        raise RolloutError(f"--waves: {', '.join(twice)} in more than one wave")
    rest = [s for s in ordered if s.name not in listed]
    if rest and ["*"] not in groups:
        raise RolloutError(f"--waves: {', '.join(s.name for s in rest)} in no wave "
                           "(list them, or end the plan with ';*')")
    plan = [rest if group == ["*"] else [by_name[n] for n in group] for group in groups]
    return [wave for wave in plan if wave]


def matrix(plan: Sequence[Sequence[StackSpec]], per_job: int) -> list[dict[str, Any]]:
    """The matrix entries of every wave: per region, jobs of at most ``per_job`` stacks.

    A job holds stacks of one region only: ``pulumi up`` must run on that region's deploy
    runner, the one machine that reaches its clusters' private endpoints and databases.
    """
    entries: list[dict[str, Any]] = []
    for number, wave in enumerate(plan, start=1):
        shares: list[tuple[str, list[str]]] = []
        for region in dict.fromkeys(s.region for s in wave):  # regions in wave order
            names = [s.name for s in wave if s.region == region]
            shares += [(region, names[i:i + per_job]) for i in range(0, len(names), per_job)]
        if len(shares) > MATRIX_LIMIT:
            raise RolloutError(f"wave {number} needs {len(shares)} jobs; GitHub runs at most "
                               f"{MATRIX_LIMIT} per matrix: raise --per-job")
        entries += [{"wave": number, "part": part, "parts": len(shares), "region": region,
                     "stacks": " ".join(names)} for part, (region, names) in enumerate(shares, start=1)]
    return entries


def write_github_output(plan: Sequence[Sequence[str]], entries: list[dict[str, Any]]) -> Path:
    """Append ``waves``, ``matrix`` and ``wave<i>`` to ``$GITHUB_OUTPUT``."""
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        raise RolloutError("--github-output: $GITHUB_OUTPUT is not set (it is, inside GitHub Actions)")
    lines = [f"waves={len(plan)}", "matrix=" + json.dumps({"include": entries}, separators=(",", ":"))]
    for number in range(1, len(plan) + 1):
        wave = [e for e in entries if e["wave"] == number]
        lines.append(f"wave{number}=" + json.dumps({"include": wave}, separators=(",", ":")))
    with open(target, "a", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    return Path(target)


# --- the record -----------------------------------------------------------------------------
class Record:
    """What a rollout has done, per stack; saved atomically after every change."""

    def __init__(self, path: Path, action: Action, environment: str, plan: list[list[str]],
                 stacks: dict[str, dict[str, Any]] | None = None) -> None:
        self.path = path
        self.action = action
        self.environment = environment
        self.waves = plan
        self.stacks = stacks if stacks is not None else {
            name: {"wave": number, "status": "pending", "attempts": 0, "changes": {}, "error": "",
                   "started": None, "finished": None}
            for number, wave in enumerate(plan, start=1) for name in wave}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path) -> Record:
        """Read a record; anything that is not one this version wrote is bad input."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RolloutError(f"--resume {path}: no such record") from None
        except (OSError, ValueError) as exc:
            raise RolloutError(f"--resume {path}: not a rollout record ({exc})") from None
        problem = _record_problem(data)
        if problem:
            raise RolloutError(f"--resume {path}: not a rollout record this tenantctl wrote: {problem}")
        return cls(path, data["action"], data["environment"], data["waves"], data["stacks"])

    def check_matches(self, action: str, environment: str, names: Sequence[str]) -> None:
        """Refuse to continue a record of another action, environment or stack set."""
        problems = []
        if action != self.action:
            problems.append(f"it records `{self.action}`, not `{action}`")
        if environment != self.environment:
            problems.append(f"it records environment {self.environment}, not {environment}")
        missing, extra = sorted(set(self.stacks) - set(names)), sorted(set(names) - set(self.stacks))
        if missing:
            problems.append(f"it has {', '.join(missing)}, not selected now")
        if extra:
            problems.append(f"{', '.join(extra)} selected now, not in it")
        if problems:
            raise RolloutError(f"--resume {self.path}: a different rollout ({'; '.join(problems)}): "
                               "select the same stacks and action, or start a new record with --record")

    def status(self, name: str) -> str:
        """A stack's status: pending, running, done or failed."""
        return str(self.stacks[name]["status"])

    def start(self, name: str) -> None:
        """Record that a stack has started (a crash now leaves it ``running``: not done)."""
        with self._lock:
            self.stacks[name].update(status="running", started=_now(), finished=None)
            self._save()

    def finish(self, result: StackResult) -> None:
        """Record a stack's outcome; attempts add up over resumed runs."""
        with self._lock:
            entry = self.stacks[result.stack]
            entry.update(status="done" if result.ok else "failed", changes=result.changes,
                         error=result.error, finished=_now(),
                         attempts=int(entry["attempts"]) + result.attempts)
            self._save()

    def document(self) -> dict[str, Any]:
        """The record as JSON data."""
        return {"version": RECORD_VERSION, "action": self.action, "environment": self.environment,
                "waves": self.waves, "stacks": self.stacks}

    def save(self) -> None:
        """Write the record now."""
        with self._lock:
            self._save()

    def _save(self) -> None:
        # One rename: a reader (or a crash) sees the old record or the new one, never half.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.document(), f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path)

    def counts(self) -> dict[str, int]:
        """How many stacks are in each status."""
        return {status: sum(e["status"] == status for e in self.stacks.values()) for status in STATUSES}


def _record_problem(data: Any) -> str | None:
    """Why ``data`` is not a well-formed record (None: it is one)."""
    if not isinstance(data, dict) or data.get("version") != RECORD_VERSION:
        return f"version is not {RECORD_VERSION}"
    if data.get("action") not in ACTIONS or not isinstance(data.get("environment"), str):
        return "action or environment missing"
    plan, stacks = data.get("waves"), data.get("stacks")
    if not (isinstance(plan, list) and all(isinstance(w, list) and w and all(isinstance(n, str) for n in w)
                                           for w in plan)):
        return "waves is not a list of lists of stack names"
    if not isinstance(stacks, dict) or sorted(stacks) != sorted(n for w in plan for n in w):
        return "its stacks are not exactly the stacks of its waves"
    for name, entry in stacks.items():
        if not (isinstance(entry, dict) and entry.get("status") in STATUSES
                and isinstance(entry.get("attempts"), int) and isinstance(entry.get("changes"), dict)):
            return f"{name}: status, attempts or changes missing"
    return None


def holding(record_path: Path) -> contextlib.AbstractContextManager[None]:
    """Hold ``<record>.lock`` for the rollout: two rollouts never write one record."""
    return filelock.holding(record_path, RolloutError(f"{record_path}: another rollout is using this record"))


# --- running ----------------------------------------------------------------------------------
class Progress:
    """One stderr line per finished stack: ``[done/total]``, its time, the rollout's elapsed."""

    def __init__(self, done: int, total: int, say: Callable[[str], None] = _err) -> None:
        self.done, self.total, self.say = done, total, say
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def finished(self, result: StackResult, seconds: float) -> None:
        """Report one finished stack."""
        with self._lock:
            self.done += 1
            state = "ok" if result.ok else "FAILED"
            changes = " ".join(f"{k}={v}" for k, v in sorted(result.changes.items()) if k != "same")
            tries = f", {result.attempts} attempts" if result.attempts > 1 else ""
            self.say(f"[{self.done}/{self.total}] {result.stack}: {result.action} {state} in "
                     f"{seconds:.1f}s{tries} (elapsed {time.monotonic() - self.started:.1f}s)"
                     + (f" {changes}" if changes else "")
                     + (f"\n    {result.error}" if result.error else ""))


def _run_stack(runner: FleetRunner, spec: StackSpec, action: Action, record: Record,
               progress: Progress) -> StackResult:
    """One stack: recorded when it starts and when it ends, whatever happens inside."""
    record.start(spec.name)
    started = time.monotonic()
    try:
        result = runner.run_one(spec, action)
    except Exception as exc:  # noqa: BLE001 - one stack's surprise must not stop its wave-mates
        result = StackResult(spec.name, action, False, error=f"{type(exc).__name__}: {exc}")
    record.finish(result)
    progress.finished(result, time.monotonic() - started)
    return result


def run_waves(runner: FleetRunner, plan: list[list[StackSpec]], record: Record,
              say: Callable[[str], None] = _err) -> bool:
    """Run the record's unfinished stacks wave by wave; False when a wave failed."""
    todo = [[s for s in wave if record.status(s.name) != "done"] for wave in plan]
    total = sum(len(w) for w in plan)
    progress = Progress(total - sum(len(w) for w in todo), total, say)
    if progress.done:
        say(f"resuming {record.path}: {progress.done} of {total} stacks done already")
    if not any(todo):
        return True
    plugins = runner.install_plugins()
    say("plugins installed: " + (", ".join(f"{p.name} {p.version}" for p in plugins) or "none"))
    for number, wave in enumerate(todo, start=1):
        if not wave:
            continue
        say(f"wave {number}/{len(plan)}: {', '.join(s.name for s in wave)}")
        with ThreadPoolExecutor(max_workers=runner.parallel) as pool:
            futures = [pool.submit(_run_stack, runner, s, record.action, record, progress) for s in wave]
            failed = [f.result().stack for f in as_completed(futures) if not f.result().ok]
        if failed:
            later = [s.name for w in todo[number:] for s in w]
            say(f"stopping: wave {number} failed ({', '.join(sorted(failed))})"
                + (f"; not run: {', '.join(later)}" if later else ""))
            return False
    return True


# --- the command ------------------------------------------------------------------------------
def _whole(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``."""
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = minimum - 1
        if number < minimum:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least {minimum}")
        return number
    return parse


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number < 3600:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds (0 to 3600)")
    return number


def _stacks_from(path: str) -> list[str]:
    try:
        names = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RolloutError(f"--stacks-from {path}: not readable as JSON ({exc})") from None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise RolloutError(f"--stacks-from {path}: give a JSON list of stack names")
    return names


def _selection(args: argparse.Namespace) -> tuple[Any, list[StackSpec]]:
    from tenantctl.cli import select_stacks  # tenantctl.cli imports this module
    from tenants.loader import load_registry, registry_directory
    from tenants.stacks import fleet_stacks

    registry = load_registry(registry_directory(args.registry))
    names = list(args.stack)
    if args.stacks_from is not None:
        names += _stacks_from(args.stacks_from)
        if not names and not args.tenant:
            return registry, []  # the gate found nothing to deploy: never "the whole fleet"
    return registry, select_stacks(fleet_stacks(registry, args.environment), names, args.tenant)


def summary(record: Record, plan: list[list[StackSpec]], ok: bool, started: float) -> dict[str, Any]:
    """The ``--json`` summary (stdout)."""
    return {"action": record.action, "environment": record.environment, "ok": ok,
            "record": str(record.path), "waves": [[s.name for s in w] for w in plan],
            "counts": record.counts(), "stacks": record.stacks,
            "elapsed_seconds": round(time.monotonic() - started, 3)}


def cmd_rollout(args: argparse.Namespace) -> int:
    """Plan the waves; print the matrix, or run them with a record (module docstring)."""
    started = time.monotonic()
    try:
        return _rollout(args, started)
    except RolloutError as exc:
        _err(f"tenantctl rollout: {exc}")
        return EXIT_INVALID


def _rollout(args: argparse.Namespace, started: float) -> int:
    if args.github_output and not args.matrix:
        raise RolloutError("--github-output goes with --matrix")
    if args.action == "up" and not args.yes and not args.matrix:
        raise RolloutError("rollout changes infrastructure: review `tenantctl preview` (or "
                           "`tenantctl rollout --action preview`) first, then add --yes")
    if args.resume and args.record and Path(args.resume) != Path(args.record):
        raise RolloutError("--resume continues its own record: give --resume or --record, not both")
    registry, specs = _selection(args)
    plan = parse_plan(args.waves, specs)
    names = [[s.name for s in wave] for wave in plan]
    if args.matrix:
        entries = matrix(plan, args.per_job)
        print(json.dumps({"include": entries}, indent=1))
        if args.github_output:
            write_github_output(names, entries)
        return EXIT_OK
    if not specs:
        print(json.dumps({"action": args.action, "ok": True, "waves": [], "stacks": {}}) if args.json
              else "nothing to roll out: no stack selected")
        return EXIT_OK
    runner = _runner(args, registry.directory)  # no Pulumi CLI: fail before writing anything
    path = Path(args.resume or args.record or ".tenantctl/rollout.json")
    with holding(path):
        if args.resume:
            record = Record.load(path)
            record.check_matches(args.action, args.environment, [n for w in names for n in w])
            if args.waves is not None and names != record.waves:
                raise RolloutError(f"--resume {path}: --waves gives other waves than the record "
                                   f"({record.waves}); leave --waves out to keep them")
            by_name = {s.name: s for s in specs}
            plan = [[by_name[n] for n in wave] for wave in record.waves]
        else:
            record = Record(path, args.action, args.environment, names)
        record.save()
        try:
            ok = run_waves(runner, plan, record)
        except auto.CommandError as exc:  # the plugin install: nothing ran, the record says so
            _err(f"tenantctl rollout: plugin install failed, no stack run: {str(exc).strip()}")
            ok = False
    result = summary(record, plan, ok, started)
    counts = result["counts"]
    if args.json:
        print(json.dumps(result, indent=1, sort_keys=True))
    else:
        print(f"rollout {record.action}: {counts['done']} done, {counts['failed']} failed, "
              f"{counts['pending'] + counts['running']} not run (record {path}"
              + ("" if ok else f"; continue with --resume {path}") + ")")
    return EXIT_OK if ok and counts["done"] == len(record.stacks) else EXIT_FAILED


def _runner(args: argparse.Namespace, registry_dir: Path) -> FleetRunner:
    try:
        command = args.pulumi_command or auto.PulumiCommand()
    except (OSError, auto.errors.InvalidVersionError) as exc:
        raise RolloutError(f"the Pulumi CLI is needed ({exc}); `tenantctl rollout --matrix` and "
                           "`tenantctl plan` work without it") from None
    return FleetRunner(work_root=Path(args.work_dir), pulumi_command=command, registry=registry_dir,
                       parallel=args.parallel, retries=args.lock_retries,
                       backoff_seconds=args.lock_backoff, report=_err)


def add_rollout_parser(sub: Any, registry_opts: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register ``rollout`` (``registry_opts`` adds --registry/--environment)."""
    p = sub.add_parser("rollout", help="update many stacks in waves (canary first), resumably",
                       description=cast(str, __doc__).split("\n\n")[0])
    registry_opts(p)
    p.add_argument("--stack", action="append", default=[], help="this stack (repeatable)")
    p.add_argument("--tenant", action="append", default=[], help="the stack holding this tenant (repeatable)")
    p.add_argument("--stacks-from", metavar="FILE",
                   help="also the stacks of this JSON list (`python -m policy.gate` output; [] selects none)")
    p.add_argument("--action", choices=ACTIONS, default="up", help="what to run on each stack (default up)")
    p.add_argument("--parallel", type=_whole(1), default=2, help="stacks at once per wave (default 2)")
    p.add_argument("--waves", metavar="SPEC",
                   help="wave plan: default | all | sizes (1,2,5) | lists (shared-dev;shared-r1,shared-r2;*)")
    p.add_argument("--record", metavar="FILE",
                   help="where to record progress (default .tenantctl/rollout.json)")
    p.add_argument("--resume", metavar="FILE", help="continue this record: skip done stacks, retry the rest")
    p.add_argument("--matrix", action="store_true",
                   help="print the waves as a GitHub Actions matrix; run nothing")
    p.add_argument("--per-job", type=_whole(1), default=5, help="--matrix: stacks per job (default 5)")
    p.add_argument("--github-output", action="store_true",
                   help="--matrix: also write waves, matrix and wave<i> to $GITHUB_OUTPUT")
    p.add_argument("--json", action="store_true", help="JSON summary on stdout")
    p.add_argument("--lock-retries", type=_whole(0), default=3, help="retries of a locked stack (default 3)")
    p.add_argument("--lock-backoff", type=_seconds, default=5.0,
                   help="first wait for a locked stack, doubled each retry (default 5s)")
    p.add_argument("--work-dir", default=".tenantctl/stacks", help="per-stack work directories")
    p.add_argument("--yes", action="store_true", help="confirm the change (--action up)")
    p.set_defaults(func=cmd_rollout, pulumi_command=None)
