"""Host ownership reaches the host rules the same way on every path: plan, check, real engine.

The registry (tenants loader) is the one source: ``policy.config.host_ownership`` turns the
stack's tenants into the ``tenantHosts`` option; ``tenantctl plan`` records it per stack in
plan.json, ``tenantctl check`` reads it back, and ``FleetRunner`` / ``python -m
policy.config --registry`` write it into the engine's ``--policy-pack-config``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest

from policy import config, hosts
from tenantctl.automation import FleetRunner
from tenants.loader import load_registry
from tenants.stacks import fleet_stacks
from tests.adversarial.harness import CELL_STACK, FLEET, run_check
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def specs() -> list[Any]:
    return fleet_stacks(load_registry(FLEET))


@pytest.fixture(scope="module")
def fleet_plan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The fixture fleet's plan.json (its exit code is the adversarial suite's concern)."""
    out = tmp_path_factory.mktemp("hosts-plan")
    run_cli("plan", "--registry", str(FLEET), "--out", str(out))
    document: dict[str, Any] = json.loads((out / "plan.json").read_text())
    return document


def test_ownership_is_each_tenants_registry_host(specs: list[Any]) -> None:
    registry = load_registry(FLEET)
    for spec in specs:
        owned = config.host_ownership(spec.tenants)
        assert owned == {t.id: [registry.tenant(t.id).hostname.lower()] for t in spec.tenants}


def test_stack_config_gives_every_host_rule_the_hosts(specs: list[Any]) -> None:
    spec = next(s for s in specs if s.name == CELL_STACK)
    document = config.stack_config(spec.kind, hosts=config.host_ownership(spec.tenants))
    for rule_id, option in config.HOST_RULES.items():
        assert document[rule_id][option] == config.host_ownership(spec.tenants)
    # The document is valid engine config: the reconciled options carry the hosts.
    merged = config.reconcile(spec.kind, document)
    assert merged["ISO-MESH-07"].properties["tenantHosts"] == config.host_ownership(spec.tenants)


def test_policy_config_cli_reads_the_registry(tmp_path: Path) -> None:
    out = tmp_path / "cfg.json"
    assert config.main(["--stack", CELL_STACK, "--registry", str(FLEET), "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    spec = next(s for s in fleet_stacks(load_registry(FLEET)) if s.name == CELL_STACK)
    assert document["ISO-MESH-07"]["tenantHosts"] == config.host_ownership(spec.tenants)
    with pytest.raises(config.PolicyConfigError):
        config.main(["--stack", "shared-nowhere", "--registry", str(FLEET)])


def test_fleet_runner_writes_hosts_into_the_engine_config(tmp_path: Path, specs: list[Any]) -> None:
    spec = next(s for s in specs if s.name == CELL_STACK)
    # No Pulumi CLI is needed to write the config: a stand-in command object.
    runner = FleetRunner(work_root=tmp_path, pulumi_command=cast(Any, object()), report=lambda _m: None,
                         sleep=lambda _s: None)
    paths = runner._policy_config(spec)
    assert paths is not None
    document = json.loads(Path(paths[0]).read_text())
    assert document["ISO-MESH-07"]["tenantHosts"] == config.host_ownership(spec.tenants)
    assert document["ISO-MESH-07"]["enforcementLevel"] == "mandatory"


def test_check_judges_hosts_from_the_plan(fleet_plan: dict[str, Any], tmp_path: Path) -> None:
    """A saved plan carries hosts; without a tenant's entry its own host claims fail."""
    stack = next(s for s in fleet_plan["stacks"] if s["name"] == CELL_STACK)
    assert set(stack["hosts"]) == set(stack["tenants"])
    document = json.loads(json.dumps(fleet_plan))
    cell = next(s for s in document["stacks"] if s["name"] == CELL_STACK)
    dropped = sorted(cell["hosts"])[0]
    del cell["hosts"][dropped]
    result = run_check(document, tmp_path)
    assert result.code == 1
    assert not any(" ISO-MESH-07 " in line for line in run_check(fleet_plan, tmp_path).out.splitlines())
    lines = result.out.splitlines()
    assert any(" ISO-MESH-07 " in line and f"{dropped}-files-route" in line for line in lines)


@pytest.mark.parametrize(("host", "namespace", "domains", "expected"), [
    ("fileserver", "tenant-a", [], True),
    ("fileserver.tenant-a.svc.cluster.local", "tenant-a", [], True),
    ("database.tenant-a.internal", "tenant-a", [], True),
    ("fileserver.tenant-b.svc.cluster.local", "tenant-a", [], False),
    ("a.example.com", "tenant-a", ["a.example.com"], True),
    ("API.A.example.com.", "tenant-a", ["a.example.com"], True),
    ("*.a.example.com", "tenant-a", ["a.example.com"], True),
    ("*.example.com", "tenant-a", ["a.example.com"], False),
    ("b.example.com", "tenant-a", ["a.example.com"], False),
    ("xa.example.com", "tenant-a", ["a.example.com"], False),
    ("*", "tenant-a", ["a.example.com"], False),
])
def test_ownership_of_host_names(host: str, namespace: str, domains: list[str], expected: bool) -> None:
    assert hosts.owned(host, namespace, domains) is expected
