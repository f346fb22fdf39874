"""The fixture fleet's plan, computed once per session for every mutation of the suite."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.adversarial.harness import FLEET
from tests.conftest import run_cli


@pytest.fixture(scope="session")
def fleet_plan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """plan.json of ``tests/fixtures/fleet``; the unmodified plan has no mandatory violation."""
    out = tmp_path_factory.mktemp("fleet-plan")
    result = run_cli("plan", "--registry", str(FLEET), "--out", str(out))
    assert result.code == 0, result.out[-3000:] + result.err[-2000:]
    document: dict[str, Any] = json.loads((out / "plan.json").read_text())
    return document
