"""The provider modules the planner preloads before forking cover everything a plan loads.

A module missing from ``preload.PROVIDER_MODULES`` costs every forked stack its import
again (seconds each) without changing any plan, so nothing else would notice: this test
plans a generated fleet with every tier in a fresh interpreter after :func:`preload` and
fails, naming them, if planning still executes a provider module.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tenantctl import preload

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = """
import json, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from bench.plan_fleet import generate
from tenantctl import planner, preload
from tenants.loader import load_registry
from tenants.stacks import fleet_stacks

registry = Path({registry!r})
generate(registry, 12, cells=1)  # every tier: namespace, node, vcluster and a dedicated cluster
specs = fleet_stacks(load_registry(registry))
preload.preload()
waiting = preload.unloaded_provider_modules()
modules = set(sys.modules)
planner.plan_stacks(specs)
loaded = sorted(waiting - preload.unloaded_provider_modules())
imported = sorted(m for m in set(sys.modules) - modules if m.startswith(("pulumi_aws", "pulumi_kubernetes")))
print(json.dumps({{"loaded": loaded, "imported": imported, "stacks": [s.kind for s in specs]}}))
"""


def test_planning_after_preload_loads_no_provider_module(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    registry.mkdir()
    run = subprocess.run([sys.executable, "-c", _SCRIPT.format(root=str(ROOT), registry=str(registry))],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(found["stacks"]) == {"shared", "dedicated"}
    assert found["loaded"] == [], f"add to preload.PROVIDER_MODULES: {found['loaded']}"
    assert found["imported"] == [], f"add their packages to preload.PROVIDER_MODULES: {found['imported']}"


def test_preload_executes_every_listed_module() -> None:
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
            "from tenantctl import preload\n"
            "preload.preload()\n"
            "print(sorted(set(preload.PROVIDER_MODULES) & preload.unloaded_provider_modules()))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert run.stdout.strip() == "[]"
    assert len(set(preload.PROVIDER_MODULES)) == len(preload.PROVIDER_MODULES)
