"""The deploy runner's path into a cluster's VPC, under the recording mock engine.

A cluster built with the region's runner attaches to the runner's transit gateway, routes
exactly the runner's subnets there from every private route table, admits the runner's
security groups (and nothing else) to the EKS API, and makes the Kubernetes provider and
the database bootstrap wait for that path. The sample fleet's stacks carry it too.
"""

from __future__ import annotations

import pytest

from components.cluster import TenantCluster
from tenantctl.mock_engine import ProgramRun, run_program
from tenants.loader import load_registry
from tenants.models import DeployRunner
from tenants.stacks import fleet_stacks
from tests.components.test_cluster import CASES, ZONES, cluster_args, one

RUNNER = DeployRunner(transit_gateway_id="tgw-0123456789abcdef0",
                      security_group_ids=("sg-0123456789abcdef0", "sg-89abcdef"),
                      cidrs=("172.16.0.0/24", "172.16.8.0/22"))
PREFIX = CASES["dedicated"]["name"]


@pytest.fixture(scope="module")
def run() -> ProgramRun:
    return run_program(lambda: TenantCluster(PREFIX, cluster_args("dedicated", deploy_runner=RUNNER)))


def test_vpc_attaches_to_the_runners_transit_gateway_from_its_private_subnets(run):
    attachment = one(run, "aws:ec2transitgateway/vpcAttachment:VpcAttachment")
    assert attachment.name == f"{PREFIX}-runner-attachment"
    assert attachment.inputs["transitGatewayId"] == RUNNER.transit_gateway_id
    assert attachment.inputs["vpcId"] == one(run, "aws:ec2/vpc:Vpc").id
    assert attachment.inputs["subnetIds"] == [run.named(f"{PREFIX}-private-{z}").id for z in ZONES]
    assert attachment.inputs["securityGroupReferencingSupport"] == "enable"
    assert attachment.inputs["tags"]["tenant"] == "minato-bank"


def test_every_private_route_table_routes_exactly_the_runners_subnets_to_the_gateway(run):
    routes = [r for r in run.of_type("aws:ec2/route:Route") if "-runner-route-" in r.name]
    got = {(r.inputs["routeTableId"], r.inputs["destinationCidrBlock"], r.inputs["transitGatewayId"])
           for r in routes}
    assert len(routes) == len(ZONES) * len(RUNNER.cidrs)
    assert got == {(run.named(f"{PREFIX}-private-{z}-rt").id, cidr, RUNNER.transit_gateway_id)
                   for z in ZONES for cidr in RUNNER.cidrs}
    attachment = one(run, "aws:ec2transitgateway/vpcAttachment:VpcAttachment")
    assert all(attachment.urn in r.options["dependsOn"] for r in routes)
    # The public route table and the default routes are untouched.
    public = run.named(f"{PREFIX}-public-rt").id
    assert not any(r.inputs["routeTableId"] == public for r in routes)


def test_eks_api_admits_the_runners_groups_on_https_only(run):
    api = run.named(f"{PREFIX}-api-sg")
    eks = one(run, "aws:eks/cluster:Cluster").inputs
    assert eks["vpcConfig"]["securityGroupIds"] == [api.id]
    rules = run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert sorted((r.inputs["securityGroupId"], r.inputs["referencedSecurityGroupId"], r.inputs["ipProtocol"],
                   r.inputs["fromPort"], r.inputs["toPort"]) for r in rules) == sorted(
        (api.id, sg, "tcp", 443, 443) for sg in RUNNER.security_group_ids)
    assert not any("cidrIpv4" in r.inputs or "cidrIpv6" in r.inputs for r in rules)


def test_kubernetes_provider_waits_for_the_runners_path(run):
    provider = one(run, "pulumi:providers:kubernetes")
    path = {r.urn for r in run.resources
            if r.type == "aws:ec2transitgateway/vpcAttachment:VpcAttachment" or "-runner-route-" in r.name}
    assert path and path <= set(provider.options["dependsOn"])


def test_sample_fleet_stacks_give_the_bootstrap_a_path_to_every_database(sample_plan):
    """Every stack of the sample fleet: each database instance admits its region's runner,
    and each bootstrap waits for the runner's routes and that ingress rule."""
    registry = load_registry()
    region_of = {s.name: s.region for s in fleet_stacks(registry)}
    checked = 0
    for stack in sample_plan.document["stacks"]:
        runner = registry.settings.deploy_runners[region_of[stack["name"]]]
        by_name = {r["name"]: r for r in stack["resources"]}
        routes = {r["urn"] for r in stack["resources"] if "-runner-route-" in r["name"]}
        assert routes, stack["name"]
        for bootstrap in (r for r in stack["resources"] if r["type"].endswith(":TenantDatabaseBootstrap")):
            waits = set(bootstrap["options"]["dependsOn"])
            assert routes <= waits, bootstrap["name"]
            runner_rules = [by_name[u.rsplit("::", 1)[1]] for u in waits if "-instance-from-admin-" in u]
            assert [r["inputs"]["referencedSecurityGroupId"] for r in runner_rules] == \
                list(runner.security_group_ids)
            checked += 1
    assert checked == len(registry.tenants)



# --- cross-VPC references wait for the attachment -----------------------------------------
ATTACHMENT = "aws:ec2transitgateway/vpcAttachment:VpcAttachment"
SG_RULES = ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")


def rules_not_waiting_for_the_attachment(resources, runner_groups) -> list[str]:
    """Rules naming one of the runner's groups whose dependencies miss the VPC's attachment.

    ``resources``: one stack's plan resources (dicts). A rule must wait for the attachment
    through its ``referencedSecurityGroupId`` property dependencies or its ``dependsOn``.
    """
    attachments = {r["urn"] for r in resources if r["type"] == ATTACHMENT}
    late = []
    for rule in resources:
        referenced = rule["inputs"].get("referencedSecurityGroupId")
        if rule["type"] not in SG_RULES or referenced not in runner_groups:
            continue
        waits = set(rule["options"]["dependsOn"]) | set(
            rule["options"]["propertyDependencies"].get("referencedSecurityGroupId", []))
        if not attachments or not attachments & waits:
            late.append(rule["name"])
    return late


def test_api_rules_reference_the_runners_groups_only_once_the_attachment_exists(run):
    attachment = one(run, ATTACHMENT)
    rules = [r for r in run.of_type(SG_RULES[0]) if "-api-from-runner-" in r.name]
    assert len(rules) == len(RUNNER.security_group_ids)
    for rule in rules:
        assert attachment.urn in rule.options["propertyDependencies"]["referencedSecurityGroupId"]
    plan = [r.as_plan() for r in run.resources]
    assert rules_not_waiting_for_the_attachment(plan, set(RUNNER.security_group_ids)) == []


def test_the_attachment_check_catches_a_rule_that_names_the_runner_as_a_plain_string(run):
    """Hostile case: the same rule with the runner's group id pasted in as a literal."""
    plan = [r.as_plan() for r in run.resources]
    [rule] = [r for r in plan if r["name"].endswith("-api-from-runner-0")]
    rule["options"] = {**rule["options"], "dependsOn": [], "propertyDependencies": {}}
    assert rules_not_waiting_for_the_attachment(plan, set(RUNNER.security_group_ids)) == [rule["name"]]


def test_every_rule_naming_the_runner_waits_for_its_attachment_in_every_sample_stack(sample_plan):
    """The database instances' rules (built in another component) wait for it too."""
    registry = load_registry()
    region_of = {s.name: s.region for s in fleet_stacks(registry)}
    for stack in sample_plan.document["stacks"]:
        runner = registry.settings.deploy_runners[region_of[stack["name"]]]
        groups = set(runner.security_group_ids)
        assert rules_not_waiting_for_the_attachment(stack["resources"], groups) == [], stack["name"]
        counted = sum(1 for r in stack["resources"] if r["type"] in SG_RULES
                      and r["inputs"].get("referencedSecurityGroupId") in groups)
        # At least one database instance rule, and the API rule where there is a cluster (an
        # offboarded dedicated tenant's stack keeps its database only). Nothing: no rule.
        types = {r["type"] for r in stack["resources"]}
        expected = ("aws:rds/instance:Instance" in types) + ("aws:eks/cluster:Cluster" in types)
        assert counted >= expected, stack["name"]
