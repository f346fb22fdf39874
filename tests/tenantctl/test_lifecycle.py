"""A tenant's life through tenantctl: onboard (plan, diff, apply, handover), status, errors.

Each test copies the fixture fleet into a temporary registry, so onboarding there never
touches tenants/registry/. ``--apply`` runs through Pulumi's own seam (an injected
PulumiCommand) and the handover webhook is a real HTTP server on loopback.
"""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

from tenantctl import cli
from tests.conftest import FIXTURE_FLEET, run_cli
from tests.tenantctl.fake_pulumi import FakePulumi


@pytest.fixture
def registry(tmp_path) -> Path:
    target = tmp_path / "registry"
    shutil.copytree(FIXTURE_FLEET, target)
    return target


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 200

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"body": json.loads(body), "type": self.headers["Content-Type"]})
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *_args):
        pass


@pytest.fixture
def webhook():
    _Hook.received, _Hook.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/handover", _Hook
    server.shutdown()


def onboard(registry: Path, *extra: str, fake: FakePulumi | None = None, tmp: Path | None = None):
    argv = ["onboard", "echo", "--tier", "namespace", "--plan", "starter", "--registry", str(registry),
            "--contact", "Ken Sato <ken@echo.example>: security", *extra]
    if fake is None:
        return run_cli(*argv)
    parser = cli.build_parser()
    args = parser.parse_args(argv + ["--work-dir", str(tmp / "work"), "--out", str(tmp / "out")])
    args.pulumi_command = fake
    return args.lifecycle(args, registry)


def test_onboard_writes_the_file_records_the_placement_and_shows_the_diff(registry):
    result = onboard(registry)
    assert result.code == 0, result.err
    record = yaml.safe_load((registry / "echo.yaml").read_text())
    assert record == {"id": "echo", "tier": "namespace", "plan": "starter",
                      "contacts": [{"name": "Ken Sato", "email": "ken@echo.example", "role": "security"}]}
    ledger = yaml.safe_load((registry / "_allocations.yaml").read_text())
    assert ledger["tenants"]["echo"] == {"cell": "f1"}
    assert "stack shared-f1" in result.out
    assert "  echo: " in result.out and " to create" in result.out
    assert "(plan only: add --apply" in result.out
    # The registry is valid and locked afterwards: nothing left unrecorded.
    assert run_cli("validate", "--registry", str(registry), "--locked").code == 0


def test_onboarding_shows_the_updates_to_shared_cell_resources(registry):
    result = onboard(registry)
    platform = [line for line in result.out.splitlines() if line.startswith("  (platform): ")]
    assert platform and "to update" in platform[0]


def test_onboard_refuses_an_existing_tenant_and_writes_nothing(registry):
    before = (registry / "alpha.yaml").read_text()
    result = run_cli("onboard", "alpha", "--tier", "namespace", "--plan", "starter",
                     "--registry", str(registry))
    assert result.code == 2 and "already in the registry" in result.err
    assert (registry / "alpha.yaml").read_text() == before


@pytest.mark.parametrize(("extra", "message"), [
    (("--hostname", "alpha.files.fleet.example"), "host name already used by alpha.yaml"),
    (("--plan", "platinum"), "unknown plan"),
    (("--contact", "nobody"), "give 'Name <email>'"),
], ids=["host-clash", "unknown-plan", "bad-contact"])
def test_onboard_with_bad_input_writes_nothing(registry, extra, message):
    files = sorted(p.name for p in registry.iterdir())
    ledger = (registry / "_allocations.yaml").read_text()
    result = run_cli("onboard", "echo", "--tier", "namespace", "--plan", "starter",
                     "--registry", str(registry), *extra)
    assert result.code == 2 and message in result.err, result.err
    assert sorted(p.name for p in registry.iterdir()) == files
    assert (registry / "_allocations.yaml").read_text() == ledger


def test_onboard_apply_brings_up_exactly_that_stack_and_sends_the_handover(registry, tmp_path, webhook):
    url, hook = webhook
    fake = FakePulumi()
    code = onboard(registry, "--apply", "--webhook", url, fake=fake, tmp=tmp_path)
    assert code == 0
    ups = fake.ran("up")
    assert len(ups) == 1 and ups[0][ups[0].index("--stack") + 1] == "shared-f1"
    selected = [c for c in fake.calls if c[:2] == ["stack", "select"]]
    assert [c[-1] for c in selected] == ["shared-f1"]
    config = next(c for c in fake.calls if c[:2] == ["config", "set-all"])
    assert f"tenant-platform:registry={registry.resolve()}" in config
    record = json.loads((tmp_path / "out" / "handover-echo.json").read_text())
    assert record["hostname"] == "echo.files.fleet.example"
    assert record["url"] == "https://echo.files.fleet.example/"
    assert record["chatbot_url"] == "https://echo.files.fleet.example/chat/"
    assert record["created"]["aws:s3/bucket:Bucket"] >= 1
    assert record["created"]["kubernetes:apps/v1:Deployment"] == 2
    assert [h["body"] for h in hook.received] == [record]
    assert hook.received[0]["type"] == "application/json"


def test_a_failed_webhook_keeps_the_record_and_exits_3(registry, tmp_path, webhook):
    url, hook = webhook
    hook.status = 503
    code = onboard(registry, "--apply", "--webhook", url, fake=FakePulumi(), tmp=tmp_path)
    assert code == 3
    assert (tmp_path / "out" / "handover-echo.json").is_file()


def test_a_failed_up_exits_3_and_writes_no_handover(registry, tmp_path):
    fake = FakePulumi(lambda a: "error: update failed" if a[0] == "up" else None)
    code = onboard(registry, "--apply", fake=fake, tmp=tmp_path)
    assert code == 3 and not (tmp_path / "out" / "handover-echo.json").exists()


def test_status_lists_every_tenant_with_its_placement_and_state(registry):
    result = run_cli("status", "--registry", str(registry), "--json")
    rows = {r["tenant"]: r for r in json.loads(result.out)}
    assert result.code == 0
    assert rows["delta"]["placement"] == "cidr 10.128.0.0/18"
    assert rows["alpha"] == {"tenant": "alpha", "tier": "namespace", "plan": "standard",
                             "placement": "cell f1", "hostname": "alpha.files.fleet.example",
                             "state": "active", "recorded": True}
    table = run_cli("status", "--registry", str(registry)).out
    assert table.splitlines()[0].split() == ["tenant", "tier", "plan", "placement", "state", "hostname"]


def test_the_registry_comes_from_the_environment_when_no_option_names_it(registry, monkeypatch):
    monkeypatch.setenv("TENANTCTL_REGISTRY", str(registry))
    result = run_cli("validate")
    assert result.code == 0 and str(registry) in result.out


def test_locked_validation_never_says_ok_before_failing(registry):
    (registry / "_allocations.yaml").unlink()
    result = run_cli("validate", "--registry", str(registry), "--locked")
    assert result.code == 2 and "registry OK" not in result.out
    assert "alpha: placement not recorded (cell=f1)" in result.err


@pytest.mark.parametrize(("argv", "message"), [
    (("validate", "--environment", "Prod!"), "is not an environment"),
    (("plan", "--out", "README.md"), "exists and is not a directory"),
], ids=["bad-environment", "out-is-a-file"])
def test_bad_options_exit_2_with_one_line(argv, message, capsys):
    result = run_cli(*argv)
    err = result.err + capsys.readouterr().err
    assert result.code == 2 and message in err and "Traceback" not in err


# --- offboarding -----------------------------------------------------------------------------
def offboard(registry: Path, tenant: str, *extra: str, fake: FakePulumi | None = None,
             tmp: Path | None = None):
    argv = ["offboard", tenant, "--registry", str(registry), "--today", "2026-12-01", *extra]
    if fake is None:
        return run_cli(*argv)
    args = cli.build_parser().parse_args(argv + ["--work-dir", str(tmp / "work")])
    args.pulumi_command = fake
    return args.lifecycle(args, registry)


def _stack_plan(registry: Path, stack: str, tmp: Path) -> dict:
    out = tmp / f"plan-{stack}-{len(list(tmp.iterdir()))}"
    result = run_cli("plan", "--registry", str(registry), "--stack", stack, "--out", str(out))
    assert result.code == 0, result.out[-3000:]
    return json.loads((out / "plan.json").read_text())["stacks"][0]


# A dedicated (cluster-tier) tenant's two-phase offboarding: tests/tenantctl/test_offboard.py.
@pytest.mark.parametrize(("tenant", "stack"), [("alpha", "shared-f1"), ("bravo", "shared-f1"),
                                             ("charlie", "shared-f1")],
                         ids=["namespace-tier", "node-tier", "vcluster-tier"])
def test_offboarding_retires_workloads_keeps_every_data_resource_and_records_them(
        registry, tmp_path, tenant, stack):
    before = _stack_plan(registry, stack, tmp_path)
    data = {r["urn"] for r in before["resources"] if tenant in r["name"]
            and (r["options"]["protect"] or r["options"]["retainOnDelete"])}
    result = offboard(registry, tenant)
    assert result.code == 0, result.out[-3000:] + result.err
    assert "data loss" not in result.out and " to delete" in result.out
    after = _stack_plan(registry, stack, tmp_path)
    kept = {r["urn"]: r for r in after["resources"]}
    assert data <= set(kept), sorted(data - set(kept))
    assert all(kept[u]["options"]["protect"] or kept[u]["options"]["retainOnDelete"] for u in data)
    # Nothing of the tenant runs any more, and its database login is disabled.
    mine = [r for r in after["resources"] if r["name"].startswith(f"{tenant}-")]
    assert not [r for r in mine if r["type"] == "kubernetes:apps/v1:Deployment"]
    assert not [r for r in mine if r["type"] == "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"]
    bootstrap = next(r for r in mine if r["type"].startswith("pulumi-python:dynamic/"))
    assert bootstrap["inputs"]["active"] is False
    record = yaml.safe_load((registry / f"{tenant}.yaml").read_text())["lifecycle"]
    assert record["state"] == "offboarded" and record["data"] == "kept"
    assert record["offboarded_on"] == "2026-12-01"
    assert len(record["kept"]) == len(data)


def test_an_offboarded_shared_tenant_leaves_the_cell_proxy(registry, tmp_path):
    offboard(registry, "alpha")
    proxy = next(r for r in _stack_plan(registry, "shared-f1", tmp_path)["resources"]
                 if r["type"] == "aws:rds/proxy:Proxy")
    assert len(proxy["inputs"]["auths"]) == 3  # anvil, bravo, charlie


def test_offboarding_keeps_the_tenant_and_its_placement(registry):
    offboard(registry, "alpha")
    assert run_cli("validate", "--registry", str(registry), "--locked").code == 0
    rows = {r["tenant"]: r for r in json.loads(run_cli("status", "--registry", str(registry), "--json").out)}
    assert rows["alpha"]["state"] == "offboarded" and rows["alpha"]["placement"] == "cell f1"
    again = offboard(registry, "alpha")
    assert again.code == 0 and "already offboarded" in again.out


def test_offboard_apply_updates_exactly_that_stack(registry, tmp_path):
    fake = FakePulumi()
    assert offboard(registry, "bravo", "--apply", fake=fake, tmp=tmp_path) == 0
    assert [c[c.index("--stack") + 1] for c in fake.ran("up")] == ["shared-f1"]
    assert not fake.ran("destroy")


def test_deleting_a_tenant_file_instead_of_offboarding_is_refused(registry):
    (registry / "delta.yaml").unlink()
    result = run_cli("validate", "--registry", str(registry))
    assert result.code == 2
    assert "delta.yaml is gone: deleting a tenant file orphans its stack and data" in result.err


def test_the_diff_of_a_deleted_dedicated_tenant_is_a_data_loss_error(registry, tmp_path):
    base = tmp_path / "base"
    planned = run_cli("plan", "--registry", str(registry), "--stack", "tenant-delta", "--out", str(base))
    assert planned.code == 0
    head = json.loads((base / "plan.json").read_text())
    head["stacks"] = []
    (tmp_path / "head.json").write_text(json.dumps({**head, "stacks": [
        {"name": "shared-f1", "kind": "shared", "tenants": [], "resources": [], "violations": []}]}))
    result = run_cli("diff", "--registry", str(registry), "--base", str(base / "plan.json"),
                     "--head", str(tmp_path / "head.json"))
    assert result.code == 1
    assert "[mandatory] data loss: delete of aws:rds/instance:Instance delta-db-server-instance" in result.out


# --- --json on every reporting command ----------------------------------------------------------
def test_validate_json_reports_validity_and_unrecorded_placements(registry):
    (registry / "_allocations.yaml").unlink()
    document = json.loads(run_cli("validate", "--registry", str(registry), "--json").out)
    assert document["valid"] is True and document["tenants"] == 5
    assert document["stacks"] == ["shared-f1", "tenant-delta"]
    assert document["unrecorded"]["alpha"] == {"cell": "f1"}
    locked = run_cli("validate", "--registry", str(registry), "--json", "--locked")
    assert locked.code == 2 and json.loads(locked.out)["valid"] is False


def test_an_invalid_registry_is_json_too(registry):
    (registry / "alpha.yaml").write_text("id: alpha\ntier: namespace\nplan: platinum\n")
    result = run_cli("validate", "--registry", str(registry), "--json")
    document = json.loads(result.out)
    assert result.code == 2 and document["valid"] is False
    assert any(p.startswith("alpha.yaml: plan: unknown plan") for p in document["problems"])


def test_allocate_json_lists_new_placements(registry):
    (registry / "_allocations.yaml").unlink()
    document = json.loads(run_cli("allocate", "--registry", str(registry), "--json").out)
    assert document == {"new": {"alpha": {"cell": "f1"}, "anvil": {"cell": "f1"}, "bravo": {"cell": "f1"},
                                "charlie": {"cell": "f1"}, "delta": {"network_cidr": "10.128.0.0/18"}},
                        "written": False}


def test_check_json_summarises_the_saved_plan(fixture_fleet_plan):
    result = run_cli("check", "--plan", str(fixture_fleet_plan.out / "plan.json"), "--json")
    document = json.loads(result.out)
    assert result.code == 0 and document["mandatory"] == 0
    assert [s["name"] for s in document["stacks"]] == ["shared-f1", "tenant-delta"]
    assert sum(s["resources"] for s in document["stacks"]) == sum(document["resourcesByType"].values())
