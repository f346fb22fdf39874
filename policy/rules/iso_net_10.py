"""ISO-NET-10 (stack): what a tenant NetworkPolicy reaches, judged by what its peers select.

A peer is judged by the namespaces its selector actually selects among the stack's
namespaces, the cluster's platform namespaces (``tenants.naming``) and a probe twin of
every tenant namespace (:func:`policy.network.namespace_universe`): selecting another
tenant's namespace, or tenants by a label they share (tier, plan, managed-by...), lets
one tenant's pods talk to another's. ipBlocks are judged by the addresses they cover
(:mod:`policy.cidr`): inside the VPC and the private and link-local ranges a tenant may
reach only the database endpoints' subnets, on the database port.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policy import aws, cidr, kube, network, stackview, tenancy
from policy.props import as_list, as_map, as_str_list, number, text
from policy.rule import Finding, Resource, RuleConfig, StackRule

MSG_FOREIGN_NAMESPACE = ("Select only the tenant's own namespace and platform namespaces in "
                         "namespaceSelector (by kubernetes.io/metadata.name): this peer selects "
                         "another tenant's namespace, or tenants by a label they share.")
MSG_ALL_DESTINATIONS = "Give every egress rule a 'to' list: without one it allows every destination."
MSG_ALL_SOURCES = "Give every ingress rule a 'from' list: without one it admits every source."
MSG_INTERNAL_EGRESS = ("Limit egress ipBlocks inside the VPC, private and link-local ranges to "
                       "the database endpoints' subnets.")
MSG_DATABASE_PORT = ("Allow egress to the database subnets on TCP port 5432 only (option "
                     "databasePort).")
MSG_INTERNAL_INGRESS = ("Admit no ingress ipBlock inside the VPC, private or link-local ranges "
                        "(other tenants' pods have those addresses); option allowedIngressCidrs.")

SUBNET = "aws:ec2/subnet:Subnet"
DB_SUBNET_HOLDERS = {"aws:rds/proxy:Proxy": "vpcSubnetIds", "aws:rds/subnetGroup:SubnetGroup": "subnetIds"}
IS_NAMESPACE = kube.matcher("Namespace")


def _database_cidrs(resources: Sequence[Resource]) -> list[cidr.Network]:
    """CIDRs of the subnets an RDS proxy or DB subnet group of the stack lives in."""
    subnets = {r.urn: r for r in resources if r.type == SUBNET}
    names = {urn: [r.name, *aws.physical_names(r.props)] for urn, r in subnets.items()}
    found: set[str] = set()
    for res in resources:
        prop = DB_SUBNET_HOLDERS.get(res.type)
        if prop is None:
            continue
        found.update(u for u in res.property_dependencies.get(prop, ()) if u in subnets)
        for value in as_str_list(res.props.get(prop)):
            found.update(u for u, n in names.items() if any(stackview.refers_to(value, x) for x in n))
    return cidr.covered(text(subnets[u].props.get("cidrBlock")) for u in found)


def _internal(resources: Sequence[Resource]) -> list[cidr.Network]:
    """The VPCs' CIDRs, the private ranges and the link-local ones."""
    vpcs = [text(r.props.get("cidrBlock")) for r in resources if r.type in aws.VPC_TYPES]
    return cidr.covered([*vpcs, *cidr.PRIVATE, *cidr.LINK_LOCAL])


def _only_port(rule: Mapping[str, Any], port: int) -> bool:
    ports = [as_map(p) for p in as_list(rule.get("ports"))]
    return bool(ports) and all(
        (p.get("protocol") or "TCP") == "TCP" and number(p.get("port")) == port
        and number(p.get("endPort")) in (None, port) for p in ports)


def _judge(policy: Resource, own: str, universe: Mapping[str, Mapping[str, Any]],
           internal: list[cidr.Network], database: list[cidr.Network],
           cfg: RuleConfig) -> Iterator[str]:
    tenant = tenancy.tenant_of_namespace(own)
    spec = kube.spec(policy.props)
    allowed_in = cidr.covered(cfg.option("allowedIngressCidrs"))
    for direction in (network.INGRESS, network.EGRESS):
        if direction not in network.policy_types(spec):
            continue
        for rule in network.rules(spec, direction):
            peers = network.peers(rule)
            if not peers:
                yield MSG_ALL_SOURCES if direction == network.INGRESS else MSG_ALL_DESTINATIONS
            for peer in peers:
                reached = network.selected_namespaces(peer, own, universe)
                if any(tenancy.tenant_of_namespace(n) not in (None, tenant) for n in reached):
                    yield MSG_FOREIGN_NAMESPACE
            blocks = cidr.union(*(network.block_covers(as_map(p.get("ipBlock")))
                                  for p in peers if p.get("ipBlock") is not None))
            inside = cidr.intersect(blocks, internal)
            if direction == network.INGRESS:
                if cidr.minus(inside, allowed_in):
                    yield MSG_INTERNAL_INGRESS
            elif inside and not cidr.within(inside, database):
                yield MSG_INTERNAL_EGRESS
            elif inside and not _only_port(rule, int(cfg.option("databasePort"))):
                yield MSG_DATABASE_PORT


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    declared = {name: kube.labels(r.props) for r in resources
                if IS_NAMESPACE(r.type) and (name := kube.name(r.props)) is not None}
    known = [t for n in declared if (t := tenancy.tenant_of_namespace(n)) is not None]
    universe = network.namespace_universe(declared, tenancy.CLUSTER_NAMESPACES, known)
    internal, database = _internal(resources), _database_cidrs(resources)
    for res in resources:
        own = kube.namespace(res.props)
        if not network.is_network_policy(res.type) or not cfg.applies(res) or own is None:
            continue
        for message in _judge(res, own, universe, internal, database, cfg):
            yield Finding(message, res.urn)


RULE = StackRule(
    id="ISO-NET-10",
    description=(
        "Tenant NetworkPolicy peers select only the tenant's own and platform namespaces (judged "
        "against the stack's namespace labels), every rule names its peers, and ipBlocks reach "
        "internal ranges only at the database subnets on the database port."
    ),
    severity="high", tiers="NPV", scope="tenant", check=check,
    options={
        "databasePort": {"type": "integer", "default": 5432,
                         "description": "The database endpoints' port."},
        "allowedIngressCidrs": {
            "type": "array", "items": {"type": "string"}, "default": ["169.254.7.127/32"],
            "description": "Internal sources tenants may admit (the ambient kubelet probe address)."},
    },
    reads=lambda t: (IS_NAMESPACE(t) or network.is_network_policy(t) or t == SUBNET
                     or t in aws.VPC_TYPES or t in DB_SUBNET_HOLDERS))
