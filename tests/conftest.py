"""Shared fixtures: the sample fleet's offline plan is computed once per test session."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis.internal.observability  # noqa: F401 - see below
import pytest

from tenantctl.cli import main

# Hypothesis' pytest plugin imports hypothesis lazily, at the end of the session, through
# pytest's assertion rewriter (ast.parse). On CPython 3.11 that late parse has failed
# intermittently with "AST constructor recursion depth mismatch" after the Pulumi runtime
# had run in the process; importing it here, during collection, sidesteps the late parse.


@dataclass
class CliResult:
    """What one tenantctl invocation returned and printed."""

    code: int
    out: str
    err: str


def run_cli(*argv: str) -> CliResult:
    """Run tenantctl in-process, capturing its output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return CliResult(code, out.getvalue(), err.getvalue())


@dataclass
class SamplePlan:
    """The sample fleet's plan: the CLI result, the output directory, plan.json parsed."""

    result: CliResult
    out: Path
    document: dict[str, Any]

    def stack(self, name: str) -> dict[str, Any]:
        return next(s for s in self.document["stacks"] if s["name"] == name)


@pytest.fixture(scope="session")
def sample_plan(tmp_path_factory: pytest.TempPathFactory) -> SamplePlan:
    out = tmp_path_factory.mktemp("plan")
    result = run_cli("plan", "--out", str(out))
    document = json.loads((out / "plan.json").read_text()) if (out / "plan.json").exists() else {}
    return SamplePlan(result, out, document)


#: A fixture registry with every tier (tests/fixtures/fleet): tests that need a whole plan
#: use it, so that tenants added to tenants/registry/ never change what they see.
FIXTURE_FLEET = Path(__file__).resolve().parent / "fixtures" / "fleet"


@functools.lru_cache(maxsize=1)
def fixture_fleet_planned() -> SamplePlan:
    """The fixture fleet's offline plan, computed once per process (cases built at import use it)."""
    out = Path(tempfile.mkdtemp(prefix="fleet-plan-"))
    result = run_cli("plan", "--registry", str(FIXTURE_FLEET), "--out", str(out))
    document = json.loads((out / "plan.json").read_text()) if (out / "plan.json").exists() else {}
    return SamplePlan(result, out, document)


@pytest.fixture(scope="session")
def fixture_fleet_plan() -> SamplePlan:
    """The fixture fleet's offline plan, computed once per session."""
    return fixture_fleet_planned()
