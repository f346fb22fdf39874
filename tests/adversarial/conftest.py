"""The fixture fleet's plan, shared by every mutation of the suite."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SamplePlan


@pytest.fixture(scope="session")
def fleet_plan(fixture_fleet_plan: SamplePlan) -> dict[str, Any]:
    """plan.json of ``tests/fixtures/fleet``; the unmodified plan has no mandatory violation."""
    result = fixture_fleet_plan.result
    assert result.code == 0, result.out[-3000:] + result.err[-2000:]
    return fixture_fleet_plan.document
