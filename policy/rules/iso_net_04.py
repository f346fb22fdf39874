"""ISO-NET-04: tenant egress cannot reach the instance metadata service."""

from __future__ import annotations

from collections.abc import Iterator

from policy import cidr, helm, kube, network
from policy.props import as_list, as_map, get, is_true, text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_IMDS = ("Except the link-local ranges 169.254.0.0/16 (with the metadata service "
            "169.254.169.254) and fd00:ec2::/32, fe80::/10 from every egress ipBlock that reaches "
            "them.")
MSG_OPEN_EGRESS = ("Give egress rules that allow port 80 or every port a 'to' list; with no "
                   "peers they reach 169.254.169.254.")
MSG_VCLUSTER_IMDS = ("Add 169.254.0.0/16 (with 169.254.169.254/32) to policies.networkPolicy."
                     "outgoingConnections.ipBlock.except in the vCluster values.")

#: vCluster's defaults for its workloads' outgoing connections.
VCLUSTER_DEFAULT_CIDR = "0.0.0.0/0"
VCLUSTER_DEFAULT_EXCEPT = ("100.64.0.0/10", "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12",
                           "192.168.0.0/16")


def _reaches_imds(block_cidr: str, excepts: list[str]) -> bool:
    """Whether the block minus its exceptions reaches IMDS or any link-local address."""
    reached = cidr.covered([block_cidr], excepts)
    return any(cidr.reaches(reached, target) for target in (*cidr.IMDS, *cidr.LINK_LOCAL))


def _network_policy(res: Resource) -> Iterator[str]:
    spec = kube.spec(res.props)
    if network.EGRESS not in network.policy_types(spec):
        return
    for rule in network.rules(spec, network.EGRESS):
        if not network.peers(rule) and network.port_allows(rule, 80, "TCP"):
            yield MSG_OPEN_EGRESS
    for direction, block in network.ip_blocks(spec):
        excepts = [e for e in as_list(block.get("except")) if isinstance(e, str)]
        if direction == network.EGRESS and _reaches_imds(text(block.get("cidr")) or "", excepts):
            yield MSG_IMDS


def _vcluster(res: Resource) -> Iterator[str]:
    values = helm.values(res.props)
    policy = as_map(get(values, "policies", "networkPolicy"))
    if not is_true(policy.get("enabled")):
        return
    block = as_map(get(policy, "outgoingConnections", "ipBlock"))
    block_cidr = text(block.get("cidr")) or VCLUSTER_DEFAULT_CIDR
    excepts = as_list(block.get("except")) if "except" in block else list(VCLUSTER_DEFAULT_EXCEPT)
    if _reaches_imds(block_cidr, [e for e in excepts if isinstance(e, str)]):
        yield MSG_VCLUSTER_IMDS


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if network.is_network_policy(res.type):
        yield from _network_policy(res)
    elif helm.is_vcluster(res.type, res.props):
        yield from _vcluster(res)


RULE = ResourceRule(
    id="ISO-NET-04",
    description=(
        "Tenant egress excludes the instance metadata addresses (169.254.169.254/32, "
        "fd00:ec2::254) and every link-local range in NetworkPolicies and vCluster values."
    ),
    severity="high", tiers="NPV", scope="tenant",
    applies_to=lambda t: network.is_network_policy(t) or helm.is_chart_type(t), check=check)
