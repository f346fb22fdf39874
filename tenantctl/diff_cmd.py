"""``tenantctl diff``: every change visible before it happens.

``tenantctl diff --base SOURCE [--head SOURCE] [--markdown | --json]`` compares two plans.
A SOURCE is a saved ``plan.json``, or a git ref (branch, tag, commit) of this repository,
which is checked out into a temporary worktree and planned offline there with its own
code, over the same registry; without ``--head`` the working tree is planned. ``tenantctl
plan --base SOURCE`` prints the same diff after planning.

Exit codes: 0 the diff has no data-loss error; 1 a protected or retained resource would be
deleted or replaced without a recorded offboarding or migration; 2 invalid input (no such
file or ref, unreadable plan); 3 planning a git ref failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess  # noqa: S404 - git and the ref's own tenantctl, with fixed argument lists
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tenantctl import diff_report, planner
from tenantctl.diff import PlanDiff, diff_plans
from tenants import placements
from tenants.loader import Registry

ROOT = Path(__file__).resolve().parents[1]


class SourceError(Exception):
    """A plan source that is neither a readable plan.json nor a git ref (exit 2)."""


class PlanningFailed(Exception):
    """Planning a git ref failed (exit 3)."""


def read_document(path: Path) -> dict[str, Any]:
    """A saved plan.json as a document, checked by the same reader as ``tenantctl check``."""
    plans = planner.read_plan(path)
    return planner.plan_document(plans)


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,  # noqa: S603, S607
                          check=False)


def _is_ref(source: str) -> bool:
    return not source.startswith("-") and _git("rev-parse", "--verify", "--quiet",
                                               f"{source}^{{commit}}").returncode == 0


def plan_ref(ref: str, registry: Path, environment: str,
             stacks: Sequence[str] | None = None) -> dict[str, Any]:
    """Plan a git ref of this repository offline, with that ref's own code.

    The registry is the same one (it is data, and may live outside the repository); a
    registry inside the repository is taken from the ref, so that a change to tenant files
    shows too. ``stacks``: only these (each must exist at the ref; none: no planning).
    """
    if stacks is not None and not stacks:
        return planner.plan_document([])
    with tempfile.TemporaryDirectory(prefix="tenantctl-diff-") as tmp:
        tree = Path(tmp) / "tree"
        added = _git("worktree", "add", "--detach", "--force", str(tree), ref)
        if added.returncode != 0:
            raise PlanningFailed(f"cannot check out {ref!r}: {added.stderr.strip()}")
        try:
            try:
                registry_there = tree / registry.resolve().relative_to(ROOT)
            except ValueError:
                registry_there = registry.resolve()
            out = Path(tmp) / "plan"
            run = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
                [sys.executable, "-c", "import sys; from tenantctl.cli import main; sys.exit(main())",
                 "plan", "--registry", str(registry_there), "--environment", environment,
                 "--out", str(out), *(f"--stack={name}" for name in stacks or ())],
                cwd=tree, env=_env(tree), capture_output=True, text=True, check=False)
            if run.returncode not in (0, 1) or not (out / "plan.json").is_file():
                tail = (run.stderr or run.stdout).strip().splitlines()[-3:]
                raise PlanningFailed(f"planning {ref!r} failed (exit {run.returncode}): " + " | ".join(tail))
            return read_document(out / "plan.json")
        finally:
            _git("worktree", "remove", "--force", str(tree))


def _env(tree: Path) -> dict[str, str]:
    """The environment of the ref's planner: its own tree first on the import path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def load_source(source: str, registry: Path, environment: str,
                stacks: Sequence[str] | None = None) -> dict[str, Any]:
    """A plan document from a plan.json path or a git ref (``stacks``: plan only these of a ref)."""
    path = Path(source)
    if path.is_file():
        return read_document(path)
    if path.is_dir() and (path / "plan.json").is_file():
        return read_document(path / "plan.json")
    if _is_ref(source):
        return plan_ref(source, registry, environment, stacks)
    raise SourceError(f"{source!r} is neither a plan.json (or a directory holding one) nor a git ref")


def restrict(document: Mapping[str, Any], stacks: Iterable[str]) -> dict[str, Any]:
    """Only the named stacks of a plan (a head planned with ``--stack`` compares like for like)."""
    wanted = set(stacks)
    return {**document, "stacks": [s for s in document.get("stacks", []) if s["name"] in wanted]}


def render(diff: PlanDiff, fmt: str) -> str:
    """The diff as text, Markdown or JSON."""
    if fmt == "json":
        return json.dumps(diff.as_json(), indent=1)
    return diff_report.markdown(diff) if fmt == "markdown" else diff_report.text(diff)


def compare(base: Mapping[str, Any], head: Mapping[str, Any], allowed: Iterable[str | tuple[str, str]],
            only_stacks: Sequence[str] | None = None) -> PlanDiff:
    """The diff of two documents, restricted to ``only_stacks`` when the head is partial."""
    if only_stacks is not None:
        base, head = restrict(base, only_stacks), restrict(head, only_stacks)
    return diff_plans(base, head, allowed)


def allowed_data_loss(registry: Registry) -> placements.DataLossAllowance:
    """Whose data the head registry records as to be destroyed (a tenant's, or a kept placement's)."""
    return placements.data_loss_allowed(t.record for t in registry.tenants)


def add_format_options(p: argparse.ArgumentParser, *, json_flag: bool) -> None:
    """``--markdown`` (and ``--json`` for ``diff``), ``--diff-out FILE`` (repeatable)."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--markdown", dest="diff_format", action="store_const", const="markdown",
                       help="print the diff as Markdown (a pull-request comment)")
    if json_flag:
        group.add_argument("--json", dest="diff_format", action="store_const", const="json",
                           help="print the diff as JSON")
    p.add_argument("--diff-out", action="append", default=[],
                   help="also write the diff to this file, as its extension says (.md Markdown, "
                        ".json JSON, else text); repeatable")
    p.set_defaults(diff_format="text")


#: Output file extension -> diff format.
_FORMAT_OF_SUFFIX = {".md": "markdown", ".json": "json"}


def emit(diff: PlanDiff, args: argparse.Namespace) -> None:
    """Print the diff in the chosen format, and write each ``--diff-out`` in its own."""
    print(render(diff, args.diff_format))
    for out in args.diff_out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(diff, _FORMAT_OF_SUFFIX.get(path.suffix, "text")) + "\n", encoding="utf-8")
