"""``tenantctl cost``: the cost arithmetic, the split of a cell's shared lines, the worked example.

The arithmetic is checked on a small fixed fleet built here (three tenants in a cell, one
dedicated tenant, one empty cell) with the round-number price table
``tests/fixtures/prices/round.yaml`` and plan specs whose quotas are set here, so every
expected figure is worked by hand in the comments and none depends on the shipped
tables. The fixture registry's real plan then checks the properties every plan has.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.cluster import SYSTEM_TAINT
from tenantctl import cost
from tenantctl.planner import StackPlan
from tenants.plans import ChatbotBudget, PlanSpec, load_plans
from tenants.prices import PRICES_FILE, PriceTableInvalid, load_prices, parse_prices, read_prices
from tests.conftest import run_cli

ROUND_PRICES = Path(__file__).parents[1] / "fixtures" / "prices" / "round.yaml"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
REPO_ROOT = Path(__file__).parents[2]


# --- a small fixed fleet --------------------------------------------------------------
def _plan(name: str, cpu: str, memory: str, list_price: int) -> PlanSpec:
    """A shipped plan with the quota requests and list price the hand-worked figures use."""
    base = load_plans()[name]
    return base.model_copy(update={
        "quota": base.quota.model_copy(update={"cpu": cpu, "memory": memory}),
        "list_price_usd_month": Decimal(list_price), "llm_models": (HAIKU,),
        "chatbot_budget": ChatbotBudget(requests_per_day=1000, tokens_per_day=2_000_000)})


#: Requests: starter 1 CPU / 1Gi, standard 3 / 3Gi, enterprise 4 / 12Gi.
PLANS = {"starter": _plan("starter", "1", "1Gi", 50), "standard": _plan("standard", "3", "3Gi", 300),
         "enterprise": _plan("enterprise", "4", "12Gi", 300)}


def _res(stack: str, type_: str, name: str, parent: str | None = None, **inputs: Any) -> dict[str, Any]:
    return {"urn": f"urn:pulumi:{stack}::tenant-platform::{type_}::{name}", "type": type_, "name": name,
            "parent": parent, "inputs": inputs}


def _tenant_tags(tenant: str, tier: str, plan: str) -> dict[str, str]:
    return {"tenant": tenant, "tier": tier, "plan": plan}


def _node_group(stack: str, name: str, itype: str, count: int, disk: int, *, system: bool = False,
                tags: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """A node group and its launch template, children of one component (as NodePool declares them)."""
    parent = f"urn:pulumi:{stack}::tenant-platform::tenant-platform:index:NodePool::{name}"
    return [_res(stack, "aws:ec2/launchTemplate:LaunchTemplate", f"{name}-lt", parent, tags=tags or {},
                 blockDeviceMappings=[{"deviceName": "/dev/xvda", "ebs": {"volumeSize": disk}}]),
            _res(stack, "aws:eks/nodeGroup:NodeGroup", f"{name}-ng", parent, tags=tags or {},
                 nodeGroupName=name, instanceTypes=[itype], scalingConfig={"desiredSize": count},
                 taints=[SYSTEM_TAINT] if system else [])]


def _provider(stack: str) -> dict[str, Any]:
    return _res(stack, "pulumi:providers:aws", f"{stack}-aws", region="ap-northeast-1")


def small_fleet() -> list[StackPlan]:
    """shared-c1 (a: starter namespace, b: standard namespace, n: enterprise node), tenant-d, shared-e."""
    c1, db = "shared-c1", "urn:pulumi:shared-c1::tenant-platform::tenant-platform:index:DatabaseServer::db"
    a, b, n = (_tenant_tags("a", "namespace", "starter"), _tenant_tags("b", "namespace", "standard"),
               _tenant_tags("n", "node", "enterprise"))
    cell = [
        _provider(c1),
        _res(c1, "aws:eks/cluster:Cluster", "c1-eks", tags={"cell": "c1"}),
        *_node_group(c1, "system", "m6i.large", 2, 50, system=True),
        *_node_group(c1, "workload", "m6i.xlarge", 3, 100),
        _res(c1, "aws:rds/instance:Instance", "c1-db", db, instanceClass="db.r6g.large", multiAz=True,
             allocatedStorage=100),
        _res(c1, "aws:rds/proxy:Proxy", "c1-proxy", db),
        _res(c1, "aws:ec2/natGateway:NatGateway", "c1-nat"),
        _res(c1, "aws:kms/key:Key", "a-key", tags=a),
        _res(c1, "aws:s3/bucket:Bucket", "a-files", tags=a),
        _res(c1, "aws:kms/key:Key", "b-key", tags=b),
        _res(c1, "aws:secretsmanager/secret:Secret", "b-secret", tags=b),
        _res(c1, "aws:bedrock/inferenceProfile:InferenceProfile", "b-profile", tags=b),
        _res(c1, "aws:kms/key:Key", "n-key", tags=n),
        *_node_group(c1, "tenant-n", "m6i.xlarge", 1, 200, tags=n),
        _res(c1, "kubernetes:core/v1:Namespace", "a-ns"),   # not an AWS resource: no cost
    ]
    d_stack, d = "tenant-d", _tenant_tags("d", "cluster", "enterprise")
    cluster = "urn:pulumi:tenant-d::tenant-platform::tenant-platform:index:TenantCluster::tp-prod-d"
    dedicated = [
        _provider(d_stack),
        _res(d_stack, "aws:eks/cluster:Cluster", "d-eks", cluster, tags=d),
        _res(d_stack, "aws:eks/nodeGroup:NodeGroup", "d-ng", cluster, tags=d, instanceTypes=["m6i.large"],
             scalingConfig={"desiredSize": 1}, diskSize=20),
        _res(d_stack, "aws:cloudwatch/logGroup:LogGroup", "d-cluster-logs", cluster, tags=d),
        _res(d_stack, "aws:cloudwatch/logGroup:LogGroup", "d-guard-logs",
             "urn:pulumi:tenant-d::tenant-platform::tenant-platform:index:TokenBudget::d-budget", tags=d),
    ]
    empty = [_provider("shared-e"), _res("shared-e", "aws:eks/cluster:Cluster", "e-eks")]
    return [StackPlan(c1, "shared", ["a", "b", "n"], cell, []),
            StackPlan(d_stack, "dedicated", ["d"], dedicated, []),
            StackPlan("shared-e", "shared", [], empty, [])]


def small_estimate() -> cost.FleetCost:
    return cost.estimate(small_fleet(), read_prices(ROUND_PRICES), PLANS)


def test_shares_split_by_requested_cpu_and_memory_and_sum_to_one():
    # CPU 1 + 3 + 4 = 8 cores, memory 1 + 3 + 12 = 16Gi; each share is half CPU, half memory:
    # a (1/8 + 1/16)/2 = 3/32, b (3/8 + 3/16)/2 = 9/32, n (4/8 + 12/16)/2 = 20/32.
    got = cost.shares({"a": PLANS["starter"], "b": PLANS["standard"], "n": PLANS["enterprise"]})
    assert got == {"a": Decimal(3) / 32, "b": Decimal(9) / 32, "n": Decimal(20) / 32}
    assert sum(got.values()) == 1
    assert cost.shares({}) == {}
    # A resource nobody requests (quotas of 0 CPU) is split evenly rather than divided by 0.
    idle = _plan("starter", "0", "1Gi", 1)
    assert cost.shares({"x": idle, "y": idle.model_copy(update={
        "quota": idle.quota.model_copy(update={"memory": "3Gi"})})}) == {
        "x": (Decimal("0.5") + Decimal("0.25")) / 2, "y": (Decimal("0.5") + Decimal("0.75")) / 2}


def test_the_small_fleet_costs_what_the_hand_worked_figures_say():
    fleet = small_estimate()
    by_id = {t.tenant: t for t in fleet.tenants}
    # shared-c1, 240 hours a month. Shared by a, b and n (3/32, 9/32, 20/32):
    #   EKS 240 x 0.10 = 24, its NLB 240 x 0.05 = 12 (no baseline LCU)         = 36
    #   system nodes 2 x 240 x 0.10 = 48, root volumes 2 x 50 GB x 0.10 = 10     = 58
    #   RDS r6g.large Multi-AZ 240 x 2 x 0.50 = 240, storage 100 x 2 x 0.10 = 20  = 260
    #   proxy 2 vCPU x 240 x 0.05 = 24; NAT 240 x 0.05 = 12                      = 36
    #   shared by all: 390
    # Shared by a and b only (n has its own pool; a 1/4, b 3/4 by 1:3 CPU and memory):
    #   workload nodes 3 x 240 x 0.20 = 144, root volumes 3 x 100 x 0.10 = 30    = 174
    # Own lines:
    #   a: key 1, S3 100 GB x 0.02 = 2, NAT data 10 GB x 0.10 = 1                = 4
    #   b: key 1, secret 0.5, Bedrock 2M tokens/day x 10 days x 0.5 = 10M tokens:
    #      8M input x 1 + 2M output x 5 = 18                                      = 19.5
    #   n: key 1, own nodes 240 x 0.20 = 48, root volume 200 x 0.10 = 20          = 69
    assert by_id["a"].cost == Decimal(390) * 3 / 32 + Decimal(174) / 4 + 4   # 84.0625
    assert by_id["b"].cost == Decimal(390) * 9 / 32 + Decimal(174) * 3 / 4 + Decimal("19.5")  # 259.6875
    assert by_id["n"].cost == Decimal(390) * 20 / 32 + 69                     # 312.75
    # tenant-d: EKS 24 + NLB 12, nodes 24 + disk 20 GB x 0.10 = 2, its cluster's log
    # group at the stack's 10 GB x 0.5 = 5, its own log group at enterprise's 2 GB x 0.5 = 1.
    assert by_id["d"].cost == 68
    # shared-e has no tenants: its EKS 24 and NLB 12 are charged to nobody.
    assert fleet.unattributed_cost == 36
    assert fleet.total == Decimal("84.0625") + Decimal("259.6875") + Decimal("312.75") + 68 + 36
    assert [(t.tenant, t.below_cost) for t in fleet.tenants] == [
        ("a", True), ("b", False), ("d", False), ("n", True)]
    assert by_id["b"].margin == Decimal("40.3125")


def test_a_cells_shared_lines_are_split_in_full_among_its_tenants():
    fleet = small_estimate()
    cell_lines = cost.StackPricer(small_fleet()[0], "ap-northeast-1",
                                  read_prices(ROUND_PRICES).regions["ap-northeast-1"],
                                  read_prices(ROUND_PRICES),
                                  cost.tenant_profiles(small_fleet()[0])).lines()
    shared = [line for line in cell_lines if line.owner is None]
    assert sum((line.cost for line in shared), Decimal(0)) == 390 + 174
    charged = sum((tl.cost for t in fleet.tenants for tl in t.lines
                   if t.stack == "shared-c1" and tl.line.owner is None), Decimal(0))
    assert charged == 390 + 174
    # The node-tier tenant pays nothing of the shared workload pool, its own pool in full.
    n = next(t for t in fleet.tenants if t.tenant == "n")
    assert not [tl for tl in n.lines if tl.line.owner is None and tl.line.pool == "shared-nodes"]
    own_pool = [tl for tl in n.lines if tl.line.resource == "tenant-n-ng"]
    assert [tl.fraction for tl in own_pool] == [1, 1]


def test_without_tenants_on_the_shared_pool_the_whole_cell_shares_it():
    stack = small_fleet()[0]
    kept = [r for r in stack.resources if r["inputs"].get("tags", {}).get("tenant") in (None, "n")]
    only_n = StackPlan(stack.name, stack.kind, ["n"], kept, [])
    (n,) = cost.estimate([only_n], read_prices(ROUND_PRICES), PLANS).tenants
    assert n.cost == 390 + 174 + 69


def test_a_dedicated_tenant_pays_its_cluster_in_full(fixture_fleet_plan):
    plans = [StackPlan(s["name"], s["kind"], s["tenants"], s["resources"], [])
             for s in fixture_fleet_plan.document["stacks"]]
    fleet = cost.estimate(plans, load_prices(), load_plans())
    prices = load_prices()
    delta = next(t for t in fleet.tenants if t.tier == "cluster")
    eks = [tl for tl in delta.lines if tl.line.item == "EKS cluster"]
    assert [tl.fraction for tl in eks] == [1]
    assert eks[0].cost == prices.regions[delta.region].eks_cluster_hour * prices.hours_per_month
    assert all(tl.fraction == 1 for tl in delta.lines)
    # Every cell's tenants together pay every line of their cell, and nobody else pays any.
    for stack in plans:
        if stack.kind != "shared" or not stack.tenants:
            continue
        lines = cost.StackPricer(stack, cost.stack_region(stack), prices.region(cost.stack_region(stack)),
                                 prices, cost.tenant_profiles(stack)).lines()
        charged = sum((tl.line.cost * tl.fraction for t in fleet.tenants if t.stack == stack.name
                       for tl in t.lines if tl.line.resource != "(usage)"), Decimal(0))
        assert abs(charged - sum((line.cost for line in lines), Decimal(0))) < Decimal("1e-20")
        assert sum(t.share for t in fleet.tenants if t.stack == stack.name) == pytest.approx(1)


# --- the worked example -----------------------------------------------------------------
#: The design document's estimate for one cell of 500 tenants: (item, quantity, monthly
#: unit price in its rounded figures). Its parts are quantity x unit price.
DESIGN_EXAMPLE = [
    ("EKS cluster", 1, 73), ("EC2 system nodes m6i.large", 2, 100),
    ("EC2 enterprise nodes m6i.xlarge", 5, 150), ("EC2 standard nodes m6i.large", 10, 100),
    ("RDS PostgreSQL db.r6g.large Multi-AZ", 1, 400), ("RDS Proxy (2 vCPU)", 1, 73),
    ("ALB + LCU", 1, 50), ("NAT gateway, 3 AZ, with data", 3, 50), ("CloudWatch logs + metrics", 1, 200),
    ("ECR image storage", 1, 30), ("Secrets Manager secret", 50, Decimal("0.40")),
]


def test_the_worked_example_is_reproduced_from_its_parts():
    lines = [cost.CostLine(item, "(design document)", Decimal(q), "unit-month", Decimal(p))
             for item, q, p in DESIGN_EXAMPLE]
    total = sum((line.cost for line in lines), Decimal(0))
    assert total == 2946
    assert (total / 500).quantize(Decimal("0.01")) == Decimal("5.89")


def example_stack() -> StackPlan:
    """The example's resources as a plan declares them (no disks, no storage: the example has none)."""
    s, db = "shared-x", "urn:pulumi:shared-x::tenant-platform::tenant-platform:index:DatabaseServer::db"
    resources = [
        _provider(s), _res(s, "aws:eks/cluster:Cluster", "x-eks"),
        *_node_group(s, "system", "m6i.large", 2, 0, system=True),
        *_node_group(s, "enterprise", "m6i.xlarge", 5, 0), *_node_group(s, "standard", "m6i.large", 10, 0),
        _res(s, "aws:rds/instance:Instance", "x-db", db, instanceClass="db.r6g.large", multiAz=True,
             allocatedStorage=0),
        _res(s, "aws:rds/proxy:Proxy", "x-proxy", db),
        *[_res(s, "aws:ec2/natGateway:NatGateway", f"x-nat-{i}") for i in range(3)],
        *[_res(s, "aws:secretsmanager/secret:Secret", f"x-secret-{i}") for i in range(50)],
    ]
    return StackPlan(s, "shared", [], resources, [])


def real_example_lines() -> dict[str, Decimal]:
    """The example's quantities at the shipped Tokyo prices, by item (usage items omitted)."""
    table = load_prices()
    lines = cost.StackPricer(example_stack(), "ap-northeast-1", table.regions["ap-northeast-1"], table,
                             {}).lines()
    out: dict[str, Decimal] = {}
    for line in lines:
        if line.cost:
            out[line.item] = out.get(line.item, Decimal(0)) + line.cost
    return out


def test_the_worked_examples_quantities_at_the_real_prices_are_what_docs_cost_md_says():
    table = load_prices()
    tokyo, hours = table.regions["ap-northeast-1"], table.hours_per_month
    got = real_example_lines()
    assert got["EC2 m6i.large x10 (standard nodes)"] == 10 * hours * tokyo.ec2_instance_hour["m6i.large"]
    assert got["RDS PostgreSQL db.r6g.large Multi-AZ"] == (
        hours * tokyo.rds_multi_az_factor * tokyo.rds_instance_hour["db.r6g.large"])
    assert got["RDS Proxy (2 vCPU)"] == 2 * hours * tokyo.rds_proxy_vcpu_hour
    assert got["NAT gateway"] == 3 * hours * tokyo.nat_gateway_hour
    assert got["Secrets Manager secret"] == 50 * tokyo.secret_month
    # The example's usage-priced items (its load balancer's 50 with LCUs, CloudWatch 200, ECR
    # 30, and the NAT data in its 150) are kept at its own figures: it states no volumes.
    load_balancer = {"ingress load balancer (NLB)", "ingress load balancer baseline capacity"}
    fixed = sum((v for k, v in got.items() if k not in load_balancer), Decimal(0))
    nat_data = 150 - 3 * hours * tokyo.nat_gateway_hour
    total = fixed + 50 + 200 + 30 + nat_data
    doc = (REPO_ROOT / "docs" / "cost.md").read_text(encoding="utf-8")
    for figure in (fixed, total, total - 2946):
        assert f"${figure.quantize(Decimal('0.01')):,}" in doc, figure
    assert f"${(total / 500).quantize(Decimal('0.01'))}" in doc


# --- the price table -----------------------------------------------------------------------
def _raw() -> dict[str, Any]:
    return yaml.safe_load(ROUND_PRICES.read_text(encoding="utf-8"))


def _tokyo(raw: dict[str, Any]) -> dict[str, Any]:
    return raw["regions"]["ap-northeast-1"]


@pytest.mark.parametrize(("change", "expected"), [
    (lambda r: _tokyo(r).update(eks_cluster_hour=-0.1),
     "round.yaml: regions.ap-northeast-1.eks_cluster_hour: Input should be greater than or equal to 0 "
     "(got -0.1)"),
    (lambda r: _tokyo(r).update(nat_gateway_gb=True),
     "round.yaml: regions.ap-northeast-1.nat_gateway_gb: Decimal input should be an integer, float, "
     "string or Decimal object (got True)"),
    (lambda r: _tokyo(r).update(nat_gateway_gbs=1),
     "round.yaml: regions.ap-northeast-1.nat_gateway_gbs: unknown field; allowed fields are"),
    (lambda r: _tokyo(r)["rds_vcpus"].clear(),
     "round.yaml: regions.ap-northeast-1.rds_vcpus: Dictionary should have at least 1 item after validation"),
    (lambda r: _tokyo(r)["rds_instance_hour"].update({"db.r6g.xlarge": 1}),
     "round.yaml: regions.ap-northeast-1: rds_vcpus has no entry for ['db.r6g.xlarge']"),
    (lambda r: r.update(currency="JPY"), "round.yaml: currency: Input should be 'USD' (got 'JPY')"),
    (lambda r: r.update(as_of="last spring"), "round.yaml: as_of: Input should be a valid date"),
    (lambda r: r.pop("source"), "round.yaml: source: Field required"),
    (lambda r: r["usage"]["plans"]["starter"].update(chatbot_budget_used=1.5),
     "round.yaml: usage.plans.starter.chatbot_budget_used: Input should be less than or equal to 1 "
     "(got 1.5)"),
])
def test_bad_price_data_is_refused_with_the_field_named(change, expected):
    raw = _raw()
    change(raw)
    with pytest.raises(PriceTableInvalid) as info:
        parse_prices(raw, "round.yaml")
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


def test_a_price_table_with_a_key_twice_or_not_a_mapping_is_refused(tmp_path):
    twice = tmp_path / "twice.yaml"
    twice.write_text(ROUND_PRICES.read_text(encoding="utf-8") + "hours_per_month: 730\n", encoding="utf-8")
    with pytest.raises(PriceTableInvalid, match="duplicate key 'hours_per_month'"):
        read_prices(twice)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n", encoding="utf-8")
    with pytest.raises(PriceTableInvalid, match="expected a mapping"):
        read_prices(listed)


def test_the_shipped_price_table_is_valid_and_prices_what_the_plans_declare():
    table = read_prices(PRICES_FILE)
    assert table.as_of and "WITHOUT access" in table.source
    for name, plan in load_plans().items():
        table.plan_usage(name)
        for region in table.regions.values():
            assert set(plan.node_pool.instance_types) <= set(region.ec2_instance_hour)
            assert plan.database.instance_class in region.rds_instance_hour
            assert set(plan.llm_models) <= set(region.bedrock_million_tokens)


def test_a_stack_in_a_region_without_prices_or_of_an_unpriced_type_is_an_input_error():
    raw = _raw()
    raw["regions"]["us-east-1"] = raw["regions"].pop("ap-northeast-1")
    with pytest.raises(cost.CostInputError, match=r"shared-c1: no prices for region 'ap-northeast-1'"):
        cost.estimate(small_fleet(), parse_prices(raw), PLANS)
    raw = _raw()
    del _tokyo(raw)["ec2_instance_hour"]["m6i.xlarge"]
    with pytest.raises(cost.CostInputError, match=r"no price for EC2 instance type 'm6i.xlarge'"):
        cost.estimate(small_fleet(), parse_prices(raw), PLANS)


# --- the command -----------------------------------------------------------------------
@pytest.fixture
def small_plan(tmp_path) -> Path:
    path = tmp_path / "plan.json"
    document = {"version": 2, "stacks": [s.as_json() for s in small_fleet()]}
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_cost_prints_tenants_plans_and_fleet_and_marks_below_cost(small_plan):
    result = run_cli("cost", "--plan", str(small_plan), "--prices", str(ROUND_PRICES))
    assert result.code == 0, result.err
    rows = {line.split()[0]: line for line in result.out.splitlines()[2:6]}
    assert set(rows) == {"a", "b", "d", "n"}
    assert rows["d"].split()[-3:] == ["68.00", "499.00", "431.00"]   # the shipped enterprise list price
    assert rows["a"].endswith("BELOW COST")
    assert "unattributed: shared-e has no tenants: 36.00 a month charged to nobody" in result.out
    assert result.out.splitlines()[-1].startswith("fleet: 4 tenants, cost ")


def test_cost_json_has_tenants_plans_and_fleet_totals_that_add_up(small_plan):
    result = run_cli("cost", "--plan", str(small_plan), "--prices", str(ROUND_PRICES), "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert set(doc) == {"version", "prices", "tenants", "plans", "unattributed", "fleet"}
    assert doc["prices"]["asOf"] == "2026-01-01" and doc["prices"]["hoursPerMonth"] == 240
    assert {t["tenant"] for t in doc["tenants"]} == {"a", "b", "d", "n"}
    assert set(doc["tenants"][0]) == {"tenant", "stack", "region", "tier", "plan", "share", "cost",
                                      "listPrice", "margin", "belowCost"}
    assert doc["unattributed"] == {"shared-e": 36.0}
    assert doc["fleet"]["cost"] == pytest.approx(sum(t["cost"] for t in doc["tenants"]) + 36, abs=0.02)
    assert doc["fleet"]["tenants"] == sum(p["tenants"] for p in doc["plans"].values()) == 4


def test_cost_of_one_tenant_lists_its_lines(small_plan):
    args = ("cost", "--plan", str(small_plan), "--prices", str(ROUND_PRICES), "--tenant", "d")
    result = run_cli(*args, "--json")
    assert result.code == 0, result.err
    (d,) = json.loads(result.out)["tenants"]
    assert d["cost"] == 68.0
    assert {line["item"] for line in d["lines"]} >= {"EKS cluster", "ingress load balancer (NLB)"}
    text = run_cli(*args)
    assert "d: cluster tier, plan enterprise, stack tenant-d" in text.out
    assert text.out.splitlines()[-1] == "  total 68.00 a month; list price 499.00; margin 431.00"


def test_fail_below_cost_exits_1_only_when_a_chosen_tenant_is_below_cost(small_plan):
    base = ("cost", "--plan", str(small_plan), "--prices", str(ROUND_PRICES), "--fail-below-cost")
    assert run_cli(*base).code == 1
    assert run_cli(*base, "--tenant", "d").code == 0
    assert run_cli(*base, "--tenant", "a").code == 1


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.with_name("absent.json"), "no plan at "),
    (lambda p: (p.write_text("{", encoding="utf-8"), p)[1], "cannot read plan"),
    (lambda p: (p.write_text('{"version": 9, "stacks": []}', encoding="utf-8"), p)[1],
     "plan version 9 is not supported"),
])
def test_a_missing_or_invalid_plan_exits_2_with_one_line(small_plan, make, message):
    result = run_cli("cost", "--plan", str(make(small_plan)), "--prices", str(ROUND_PRICES))
    assert result.code == 2
    assert message in result.err and len(result.err.splitlines()) == 1 and result.out == ""


def test_bad_prices_or_an_unknown_tenant_exit_2(small_plan, tmp_path):
    bad = tmp_path / "prices.yaml"
    bad.write_text(ROUND_PRICES.read_text(encoding="utf-8").replace("hours_per_month: 240",
                                                                    "hours_per_month: 0"), encoding="utf-8")
    result = run_cli("cost", "--plan", str(small_plan), "--prices", str(bad))
    assert result.code == 2
    assert result.err == ("tenantctl: prices.yaml: hours_per_month: Input should be greater than 0 "
                          "(got 0)\n")
    unknown = run_cli("cost", "--plan", str(small_plan), "--prices", str(ROUND_PRICES), "--tenant", "zz")
    assert unknown.code == 2 and "tenant 'zz' is not in" in unknown.err


def test_cost_reads_the_fixture_fleets_plan_directory(fixture_fleet_plan):
    result = run_cli("cost", "--plan", str(fixture_fleet_plan.out), "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert sorted(t["tenant"] for t in doc["tenants"]) == sorted(
        t for s in fixture_fleet_plan.document["stacks"] for t in s["tenants"])
    assert all(t["cost"] > 0 for t in doc["tenants"])
