"""Monthly cost of each tenant, from the resources its plan declares and a price table.

The estimate reads a saved ``plan.json`` (what ``tenantctl plan`` declared and the policy
pack gated), never the cloud: every priced resource becomes a :class:`CostLine`
(quantity x unit price from :mod:`tenants.prices`), owned by one tenant or shared by the
tenants of its stack.

- A resource tagged with a tenant (its buckets, keys, secrets, log groups, image
  repositories, a ``node``-tier tenant's node group), and everything in a dedicated
  stack, is that tenant's in full.
- A cell's own resources (cluster, system node group, database and proxy, NAT gateways
  and their addresses, the ingress load balancer, runner attachment, cell log groups) are
  shared by the cell's tenants in proportion to what each *requests*: its plan quota's CPU
  and memory requests (``tenants/plans.yaml`` ``quota.cpu``/``quota.memory``, the figures
  the scheduler reserves and the cell's ResourceQuotas budget), half by CPU, half by memory.
- The cell's shared workload node group is shared the same way, but only by the tenants
  that run on it: a ``node``-tier tenant's pods run on its own pool
  (:func:`components.scheduling.has_dedicated_pool`). If no tenant runs on it, the whole
  cell shares it.
- A cell without tenants has nobody to charge: its cost is reported as unattributed.

Usage (GB stored, logs ingested, NAT data, load balancer capacity, chatbot tokens) is not
in a plan: it comes from the price table's ``usage`` assumptions for the tenant's plan, as
lines of the tenant's own. The one load balancer per cluster is the ingress gateway's NLB,
which the AWS Load Balancer Controller creates from the gateway's Service, so it is
priced per EKS cluster rather than found as a resource. docs/cost.md has the whole model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from components.cluster import SYSTEM_TAINT
from components.scheduling import has_dedicated_pool
from tenantctl.planner import StackPlan
from tenants import naming
from tenants.models import Tier
from tenants.plans import PlanSpec
from tenants.prices import PriceTable, PriceTableInvalid, RegionPrices
from tenants.quantity import parse_quantity

#: Who shares a line that no tenant owns: every tenant of the stack, or only those that
#: run on the cell's shared workload nodes.
Pool = Literal["all", "shared-nodes"]
MILLION = Decimal(1_000_000)
DAYS_PER_MONTH_DIVISOR = Decimal(24)  # hours_per_month / 24 = days in the month
AVERAGE_DAYS_PER_MONTH = Decimal("30.4167")  # log retention: stored GB = monthly GB x days / this
_AWS_PROVIDER = "pulumi:providers:aws"
#: The component that declares a cluster's own log groups (control plane, VPC flow logs):
#: priced at the stack's log volume even in a dedicated stack, where they carry the tenant's tags.
_CLUSTER_COMPONENT = "tenant-platform:index:TenantCluster"


class CostInputError(ValueError):
    """The plan cannot be priced (a region, type or plan the price table does not know)."""


@dataclass(frozen=True)
class CostLine:
    """One priced item: ``quantity`` of ``unit`` at ``unit_price`` a unit, per month."""

    item: str
    resource: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    owner: str | None = None
    pool: Pool = "all"

    @property
    def cost(self) -> Decimal:
        """The monthly cost of the whole line (before it is split)."""
        return self.quantity * self.unit_price

    def as_json(self) -> dict[str, Any]:
        """The line in ``--json`` output (amounts as numbers)."""
        return {"item": self.item, "resource": self.resource, "quantity": float(self.quantity),
                "unit": self.unit, "unitPrice": float(self.unit_price), "cost": round(float(self.cost), 4),
                "owner": self.owner, "sharedBy": None if self.owner else self.pool}


@dataclass(frozen=True)
class TenantLine:
    """A tenant's part of one line: ``fraction`` of it (1 for its own lines)."""

    line: CostLine
    fraction: Decimal

    @property
    def cost(self) -> Decimal:
        """The tenant's part of the line's cost."""
        return self.line.cost * self.fraction


@dataclass
class TenantCost:
    """One tenant's estimated monthly cost beside its plan's list price."""

    tenant: str
    stack: str
    region: str
    tier: str
    plan: str
    list_price: Decimal
    #: The tenant's share of its cell's shared lines (1 in a dedicated stack).
    share: Decimal
    lines: list[TenantLine] = field(default_factory=list)

    @property
    def cost(self) -> Decimal:
        """The tenant's monthly cost: its parts of every line."""
        return sum((tl.cost for tl in self.lines), Decimal(0))

    @property
    def margin(self) -> Decimal:
        """List price less cost (negative: sold below cost)."""
        return self.list_price - self.cost

    @property
    def below_cost(self) -> bool:
        """Whether the tenant costs more than its plan's list price."""
        return self.cost > self.list_price


@dataclass
class FleetCost:
    """Every tenant's cost, the cost nobody is charged for, and the prices used."""

    tenants: list[TenantCost]
    #: Lines of stacks without tenants (a new or emptied cell), by stack.
    unattributed: dict[str, list[CostLine]]
    prices: PriceTable

    @property
    def unattributed_cost(self) -> Decimal:
        """What stacks without tenants cost."""
        return sum((line.cost for lines in self.unattributed.values() for line in lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        """The fleet's monthly cost: every tenant's, plus the unattributed."""
        return sum((t.cost for t in self.tenants), Decimal(0)) + self.unattributed_cost

    @property
    def revenue(self) -> Decimal:
        """The tenants' list prices added up."""
        return sum((t.list_price for t in self.tenants), Decimal(0))

    def by_plan(self) -> dict[str, dict[str, Decimal | int]]:
        """Per plan: tenants, cost, revenue (list prices), margin and tenants below cost."""
        rows: dict[str, dict[str, Decimal | int]] = {}
        for t in self.tenants:
            row = rows.setdefault(t.plan, {"tenants": 0, "cost": Decimal(0), "revenue": Decimal(0),
                                           "belowCost": 0})
            row["tenants"] = int(row["tenants"]) + 1
            row["cost"] = Decimal(row["cost"]) + t.cost
            row["revenue"] = Decimal(row["revenue"]) + t.list_price
            row["belowCost"] = int(row["belowCost"]) + t.below_cost
        for row in rows.values():
            row["margin"] = Decimal(row["revenue"]) - Decimal(row["cost"])
        return dict(sorted(rows.items()))


# --- shares --------------------------------------------------------------------------
def requested(plan: PlanSpec) -> tuple[Decimal, Decimal]:
    """What a tenant of the plan requests of a cell: its quota's CPU (cores) and memory (bytes)."""
    return parse_quantity(plan.quota.cpu), parse_quantity(plan.quota.memory)


def shares(plans: Mapping[str, PlanSpec]) -> dict[str, Decimal]:
    """Each tenant's share of what the given tenants share: half by CPU, half by memory requests.

    The shares of the tenants given sum to 1 (up to Decimal's precision); none given, none.
    """
    if not plans:
        return {}
    amounts = {t: requested(p) for t, p in plans.items()}
    totals = [sum((a[i] for a in amounts.values()), Decimal(0)) for i in (0, 1)]
    equal = Decimal(1) / len(amounts)  # a resource nobody requests is split evenly

    def part(i: int, amount: Decimal) -> Decimal:
        return amount / totals[i] if totals[i] else equal

    return {t: (part(0, c) + part(1, m)) / 2 for t, (c, m) in amounts.items()}


# --- reading a stack ----------------------------------------------------------------
def _tags(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    tags = resource.get("inputs", {}).get("tags")
    return tags if isinstance(tags, dict) else {}


def stack_region(stack: StackPlan) -> str:
    """The region of a stack: its AWS provider's (every stack has exactly one)."""
    regions = {r["inputs"].get("region") for r in stack.resources if r["type"] == _AWS_PROVIDER}
    if len(regions) != 1 or None in regions:
        raise CostInputError(f"stack {stack.name}: expected one AWS provider with a region, found "
                             f"{sorted(str(r) for r in regions) or 'none'}")
    return str(regions.pop())


def tenant_profiles(stack: StackPlan) -> dict[str, tuple[str, str]]:
    """Tenant id -> (tier, plan), as the tenant's own resources are tagged in the plan."""
    found: dict[str, tuple[str, str]] = {}
    for resource in stack.resources:
        tags = _tags(resource)
        tenant = tags.get(naming.LABEL_TENANT)
        if tenant in stack.tenants and naming.LABEL_PLAN in tags and naming.LABEL_TIER in tags:
            found.setdefault(str(tenant), (str(tags[naming.LABEL_TIER]), str(tags[naming.LABEL_PLAN])))
    missing = [t for t in stack.tenants if t not in found]
    if missing:
        raise CostInputError(f"stack {stack.name}: no resource tagged with the tier and plan of "
                             f"tenant(s) {missing}")
    return found


def _owner(stack: StackPlan, resource: Mapping[str, Any]) -> str | None:
    """The tenant a resource is charged to in full, or None when its stack's tenants share it."""
    if stack.kind == "dedicated" and len(stack.tenants) == 1:
        return stack.tenants[0]
    tenant = _tags(resource).get(naming.LABEL_TENANT)
    return str(tenant) if tenant is not None else None


def _parent_type(resource: Mapping[str, Any]) -> str:
    """The type token of a resource's parent (``urn:pulumi:<stack>::<project>::<a$b$type>::<name>``)."""
    parts = str(resource.get("parent") or "").split("::")
    return parts[2].split("$")[-1] if len(parts) >= 4 else ""


def _lookup(table: Mapping[str, Decimal], key: str, what: str, region: str) -> Decimal:
    try:
        return table[key]
    except KeyError:
        raise CostInputError(f"no price for {what} {key!r} in {region} (prices.yaml lists "
                             f"{sorted(table)})") from None


@dataclass(frozen=True)
class StackPricer:
    """Turns one stack's resources into cost lines with one region's prices."""

    stack: StackPlan
    region: str
    prices: RegionPrices
    table: PriceTable
    #: Tenant id -> (tier, plan) (:func:`tenant_profiles`).
    profiles: Mapping[str, tuple[str, str]]

    @property
    def hours(self) -> Decimal:
        """Hours in the priced month."""
        return Decimal(self.table.hours_per_month)

    def line(self, resource: Mapping[str, Any], item: str, quantity: Decimal, unit: str,
             unit_price: Decimal, pool: Pool = "all") -> CostLine:
        """A line for ``resource``, owned as :func:`_owner` says."""
        return CostLine(item, str(resource.get("name", "")), quantity, unit, unit_price,
                        _owner(self.stack, resource), pool)

    def lines(self) -> list[CostLine]:
        """Every priced resource of the stack (usage lines come from :func:`usage_lines`)."""
        by_parent: dict[str, list[Mapping[str, Any]]] = {}
        for r in self.stack.resources:
            by_parent.setdefault(str(r.get("parent")), []).append(r)
        out: list[CostLine] = []
        for r in self.stack.resources:
            out.extend(self.resource_lines(r, by_parent.get(str(r.get("parent")), [])))
        return out

    def resource_lines(self, r: Mapping[str, Any], siblings: Sequence[Mapping[str, Any]]
                       ) -> Iterable[CostLine]:
        """The lines of one resource (none for what is not priced: IAM, Kubernetes objects...)."""
        p, h, inputs, kind = self.prices, self.hours, r["inputs"], r["type"]
        if kind == "aws:eks/cluster:Cluster":
            yield self.line(r, "EKS cluster", h, "cluster-hour", p.eks_cluster_hour)
            usage = self.table.usage.stack
            yield self.line(r, "ingress load balancer (NLB)", h, "LB-hour", p.load_balancer_hour)
            yield self.line(r, "ingress load balancer baseline capacity", h * usage.load_balancer_lcu,
                            "LCU-hour", p.load_balancer_lcu_hour)
        elif kind == "aws:eks/nodeGroup:NodeGroup":
            yield from self.node_group_lines(r, siblings)
        elif kind == "aws:rds/instance:Instance":
            factor = p.rds_multi_az_factor if inputs.get("multiAz") else Decimal(1)
            klass = str(inputs.get("instanceClass"))
            az = "Multi-AZ" if inputs.get("multiAz") else "Single-AZ"
            yield self.line(r, f"RDS PostgreSQL {klass} {az}", h * factor, "instance-hour",
                            _lookup(p.rds_instance_hour, klass, "RDS instance class", self.region))
            yield self.line(r, f"RDS gp3 storage {az}", Decimal(inputs.get("allocatedStorage", 0)) * factor,
                            "GB-month", p.rds_gp3_gb_month)
        elif kind == "aws:rds/proxy:Proxy":
            vcpus = max(p.rds_proxy_min_vcpus, self.proxy_vcpus(siblings))
            yield self.line(r, f"RDS Proxy ({vcpus} vCPU)", h * vcpus, "vCPU-hour", p.rds_proxy_vcpu_hour)
        elif kind == "aws:ec2/natGateway:NatGateway":
            yield self.line(r, "NAT gateway", h, "gateway-hour", p.nat_gateway_hour)
        elif kind == "aws:ec2/eip:Eip":
            yield self.line(r, "public IPv4 address", h, "address-hour", p.public_ipv4_hour)
        elif kind == "aws:ec2transitgateway/vpcAttachment:VpcAttachment":
            yield self.line(r, "transit gateway attachment", h, "attachment-hour",
                            p.transit_gateway_attachment_hour)
        elif kind == "aws:kms/key:Key":
            yield self.line(r, "KMS key", Decimal(1), "key-month", p.kms_key_month)
        elif kind == "aws:secretsmanager/secret:Secret":
            yield self.line(r, "Secrets Manager secret", Decimal(1), "secret-month", p.secret_month)
        elif kind == "aws:cloudwatch/metricAlarm:MetricAlarm":
            yield self.line(r, "CloudWatch alarm", Decimal(1), "alarm-month", p.cloudwatch_alarm_month)
        elif kind == "aws:cloudwatch/logGroup:LogGroup":
            yield from self.log_group_lines(r)
        elif kind == "aws:ecr/repository:Repository":
            owner = _owner(self.stack, r)
            gb = self.table.plan_usage(self.plan_of(owner)).image_gb if owner else Decimal(0)
            yield self.line(r, "ECR image storage (assumed)", gb, "GB-month", p.ecr_gb_month)

    def plan_of(self, tenant: str) -> str:
        """The plan of a tenant of the stack."""
        try:
            return self.profiles[tenant][1]
        except KeyError:
            raise CostInputError(f"stack {self.stack.name}: a resource is tagged with tenant "
                                 f"{tenant!r}, which the stack does not hold") from None

    def node_group_lines(self, r: Mapping[str, Any], siblings: Sequence[Mapping[str, Any]]
                         ) -> Iterable[CostLine]:
        """Instances and root volumes of a node group; shared by whom its taint says."""
        inputs = r["inputs"]
        count = Decimal(inputs.get("scalingConfig", {}).get("desiredSize", 0))
        types = inputs.get("instanceTypes") or []
        if not types:
            raise CostInputError(f"stack {self.stack.name}: node group {r.get('name')} "
                                 "names no instance type")
        itype = str(types[0])
        pool: Pool = "all" if SYSTEM_TAINT in (inputs.get("taints") or []) else "shared-nodes"
        group = inputs.get("nodeGroupName", r.get("name"))
        yield self.line(r, f"EC2 {itype} x{count} ({group} nodes)", self.hours * count, "instance-hour",
                        _lookup(self.prices.ec2_instance_hour, itype, "EC2 instance type", self.region), pool)
        disk = Decimal(inputs.get("diskSize") or self.launch_template_disk(siblings))
        yield self.line(r, f"EBS gp3 root volumes ({group} nodes)", disk * count, "GB-month",
                        self.prices.ebs_gp3_gb_month, pool)

    @staticmethod
    def launch_template_disk(siblings: Sequence[Mapping[str, Any]]) -> int:
        """Root volume GB of the launch template declared beside a node group (same component)."""
        for s in siblings:
            if s["type"] == "aws:ec2/launchTemplate:LaunchTemplate":
                return sum(int(m.get("ebs", {}).get("volumeSize", 0))
                           for m in s["inputs"].get("blockDeviceMappings") or [])
        return 0

    def proxy_vcpus(self, siblings: Sequence[Mapping[str, Any]]) -> int:
        """The vCPUs of the instance behind a proxy: the RDS instance of the same database server."""
        for s in siblings:
            if s["type"] == "aws:rds/instance:Instance":
                klass = str(s["inputs"].get("instanceClass"))
                return int(_lookup({k: Decimal(v) for k, v in self.prices.rds_vcpus.items()}, klass,
                                   "RDS instance class (vCPUs)", self.region))
        return 0

    def log_group_lines(self, r: Mapping[str, Any]) -> Iterable[CostLine]:
        """Assumed ingestion into a log group, and its storage over its retention."""
        owner = _owner(self.stack, r)
        gb = (self.table.usage.stack.log_group_gb_month
              if owner is None or _parent_type(r) == _CLUSTER_COMPONENT
              else self.table.plan_usage(self.plan_of(owner)).log_gb_month)
        name = r["inputs"].get("name", r.get("name"))
        yield CostLine(f"CloudWatch Logs ingestion {name} (assumed)", str(r.get("name")), gb, "GB",
                       self.prices.cloudwatch_logs_ingest_gb, owner)
        retention = r["inputs"].get("retentionInDays")
        if retention:
            stored = gb * Decimal(retention) / AVERAGE_DAYS_PER_MONTH
            yield CostLine(f"CloudWatch Logs storage {name} ({retention} days kept)", str(r.get("name")),
                           stored, "GB-month", self.prices.cloudwatch_logs_storage_gb_month, owner)


def tagged_resources(stack: StackPlan) -> dict[str, list[Mapping[str, Any]]]:
    """The stack's resources by the tenant their tags name (untagged ones are left out)."""
    by_tenant: dict[str, list[Mapping[str, Any]]] = {}
    for r in stack.resources:
        tenant = _tags(r).get(naming.LABEL_TENANT)
        if tenant is not None:
            by_tenant.setdefault(str(tenant), []).append(r)
    return by_tenant


def usage_lines(own: Sequence[Mapping[str, Any]], tenant: str, plan: PlanSpec, table: PriceTable,
                prices: RegionPrices) -> list[CostLine]:
    """The tenant's assumed usage (price table ``usage.plans``) that no resource states.

    ``own``: the resources tagged with the tenant (:func:`tagged_resources`).
    """
    usage, hours = table.plan_usage(plan.name), Decimal(table.hours_per_month)
    lines = [CostLine("NAT data processed (assumed)", "(usage)", usage.nat_gb_month, "GB",
                      prices.nat_gateway_gb, tenant),
             CostLine("ingress load balancer capacity (assumed)", "(usage)", usage.load_balancer_lcu * hours,
                      "LCU-hour", prices.load_balancer_lcu_hour, tenant)]
    if any(r["type"] == "aws:s3/bucket:Bucket" for r in own):
        lines.append(CostLine("S3 Standard storage (assumed)", "(usage)", usage.object_storage_gb,
                              "GB-month", prices.s3_standard_gb_month, tenant))
    if any(r["type"] == "aws:bedrock/inferenceProfile:InferenceProfile" for r in own):
        model = plan.llm_models[0]
        try:
            price = prices.bedrock_million_tokens[model]
        except KeyError:
            raise CostInputError(f"no Bedrock price for model {model!r} in its region (prices.yaml lists "
                                 f"{sorted(prices.bedrock_million_tokens)})") from None
        tokens = (Decimal(plan.chatbot_budget.tokens_per_day) * hours / DAYS_PER_MONTH_DIVISOR
                  * usage.chatbot_budget_used / MILLION)
        out = usage.output_token_share
        lines.append(CostLine(f"Bedrock {model} input tokens (assumed)", "(usage)", tokens * (1 - out),
                              "million tokens", price.input, tenant))
        lines.append(CostLine(f"Bedrock {model} output tokens (assumed)", "(usage)", tokens * out,
                              "million tokens", price.output, tenant))
    return lines


# --- the fleet ------------------------------------------------------------------------
def _plan_spec(plans: Mapping[str, PlanSpec], stack: StackPlan, tenant: str, plan: str) -> PlanSpec:
    try:
        return plans[plan]
    except KeyError:
        raise CostInputError(f"stack {stack.name}: tenant {tenant} has plan {plan!r}, which "
                             f"plans.yaml does not define ({sorted(plans)})") from None


def estimate(stacks: Sequence[StackPlan], table: PriceTable, plans: Mapping[str, PlanSpec]) -> FleetCost:
    """Every tenant's monthly cost from a plan, with the given prices and plan table."""
    tenants: list[TenantCost] = []
    unattributed: dict[str, list[CostLine]] = {}
    for stack in stacks:
        region = stack_region(stack)
        try:
            prices = table.region(region)
        except PriceTableInvalid as exc:
            raise CostInputError(f"stack {stack.name}: {exc}") from None
        profiles = tenant_profiles(stack)
        lines = StackPricer(stack, region, prices, table, profiles).lines()
        if not stack.tenants:
            unattributed[stack.name] = lines
            continue
        specs = {t: _plan_spec(plans, stack, t, profiles[t][1]) for t in stack.tenants}
        everyone = shares(specs)
        on_shared_nodes = shares({t: s for t, s in specs.items()
                                  if not has_dedicated_pool(Tier(profiles[t][0]))}) or everyone
        # Each tenant's lines are its own and the shared ones, in the stack's order (looking
        # at every line, and every resource, for every tenant grew with the cell's square).
        shared: list[int] = []
        owned: dict[str, list[int]] = {}
        for index, line in enumerate(lines):
            (shared if line.owner is None else owned.setdefault(line.owner, [])).append(index)
        tagged = tagged_resources(stack)
        for t in stack.tenants:
            tier, plan = profiles[t]
            cost = TenantCost(t, stack.name, region, tier, plan, specs[t].list_price_usd_month, everyone[t])
            for index in sorted([*shared, *owned.get(t, ())]):
                line = lines[index]
                if line.owner is not None:
                    fraction = Decimal(1)
                else:
                    split = on_shared_nodes if line.pool == "shared-nodes" else everyone
                    fraction = split.get(t, Decimal(0))
                if fraction:
                    cost.lines.append(TenantLine(line, fraction))
            cost.lines.extend(TenantLine(u, Decimal(1))
                              for u in usage_lines(tagged.get(t, []), t, specs[t], table, prices))
            tenants.append(cost)
    return FleetCost(sorted(tenants, key=lambda c: c.tenant), unattributed, table)
