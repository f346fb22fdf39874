"""Seeded violations of the node (NODE) and network (NET) rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from policy.rules import (
    iso_net_01,
    iso_net_02,
    iso_net_03,
    iso_net_04,
    iso_net_05,
    iso_net_06,
    iso_net_07,
    iso_net_08,
    iso_net_09,
    iso_net_10,
    iso_net_11,
    iso_net_12,
    iso_node_01,
    iso_node_02,
    iso_node_03,
    iso_node_04,
    iso_node_05,
    iso_node_06,
    iso_node_07,
)
from tests.policy import fixtures as f
from tests.policy.cases import (
    Case,
    adding,
    alone,
    changing,
    check,
    evaluate,
    one,
    params,
    stack_edit,
    without,
)

DEPLOY = "kubernetes:apps/v1:Deployment"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ADDON = "aws:eks/addon:Addon"
ROLE = "aws:iam/role:Role"
T = ("spec", "template", "spec")
EGRESS0 = ("spec", "egress", 0)


def ingress(host: str | None, **annotations: str) -> dict[str, Any]:
    rule: dict[str, Any] = {"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
        "service": {"name": "fileserver", "port": {"number": 80}}}}]}}
    if host is not None:
        rule["host"] = host
    return f.resource("kubernetes:networking.k8s.io/v1:Ingress", "acme-ingress", {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": f.meta("fileserver", "acme", annotations=annotations), "spec": {"rules": [rule]}})


def sg_rule(**inputs: Any) -> dict[str, Any]:
    return f.resource("aws:ec2/securityGroupRule:SecurityGroupRule", "sgr", {
        "type": "ingress", "securityGroupId": "sg-nodes", "protocol": "tcp", **inputs})


def sg_ingress_rule(**inputs: Any) -> dict[str, Any]:
    return f.resource("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "sgi", {
        "securityGroupId": "sg-lb", "ipProtocol": "tcp", **inputs})


def database_egress(stack: list[dict[str, Any]], block: str, port: int) -> list[dict[str, Any]]:
    """The stack with its proxy in subnet private-a and acme egress to ``block`` on ``port``."""
    proxy = f.changed(f.find(stack, "aws:rds/proxy:Proxy", "db-proxy"), ("vpcSubnetIds",), ["private-a-id"])
    policy = f.changed(f.changed(f.allow_https_egress(), EGRESS0, {
        "to": [{"ipBlock": {"cidr": block}}], "ports": [{"port": port, "protocol": "TCP"}]}),
        ("metadata", "name"), "allow-database")
    policy["name"] = "acme-allow-database"
    policy["urn"] = policy["urn"].replace("acme-allow-https", "acme-allow-database")
    return [*f.replace(stack, proxy), policy]


def cni_config(**config: Any) -> str:
    return json.dumps(config)


def node_role_policy() -> dict[str, Any]:
    return f.resource("aws:iam/rolePolicy:RolePolicy", "node-extra", {
        "role": "node-role-id", "policy": f.doc({"Effect": "Allow", "Action": "s3:GetObject",
                                                  "Resource": "arn:aws:s3:::tp-prod-acme-files/*"})},
        depends_on=[f.node_role()])


def enforcer_chart(chart: str) -> dict[str, Any]:
    return f.resource("kubernetes:helm.sh/v4:Chart", chart, {
        "chart": chart, "namespace": "kube-system", "version": "1.0.0"}, custom=False)


CASES: list[Case] = [
    # ISO-NODE-01
    one("node01-no-taint", "ISO-NODE-01", f.node_group, ("taints",), f.DELETE, iso_node_01.MSG_TAINT),
    one("node01-prefer-no-schedule", "ISO-NODE-01", f.node_group, ("taints", 0, "effect"),
        "PREFER_NO_SCHEDULE", iso_node_01.MSG_TAINT),
    one("node01-taint-other-tenant", "ISO-NODE-01", f.node_group, ("taints", 0, "value"), "acme",
        iso_node_01.MSG_TAINT),
    one("node01-no-label", "ISO-NODE-01", f.node_group, ("labels",), f.DELETE, iso_node_01.MSG_LABEL),
    alone("node01-raw-node-group", "ISO-NODE-01", lambda: f.resource(
        "aws:eks/nodeGroup:NodeGroup", "raw-pool", {
            "clusterName": "c", "nodeRoleArn": "r", "subnetIds": ["s"], "tags": f.tags("bolt")}),
        iso_node_01.MSG_TAINT, iso_node_01.MSG_LABEL),
    # ISO-NODE-02 (stack)
    stack_edit("node02-keyless-exists", "ISO-NODE-02",
               changing(DEPLOY, "acme-fileserver", T + ("tolerations",), [{"operator": "Exists"}]),
               iso_node_02.MSG_KEYLESS, about="acme-fileserver"),
    stack_edit("node02-selects-other-pool", "ISO-NODE-02",
               changing(DEPLOY, "acme-fileserver", T + ("nodeSelector",), {"tenant": "bolt"}),
               iso_node_02.MSG_FOREIGN_POOL, about="acme-fileserver"),
    stack_edit("node02-tolerates-every-pool", "ISO-NODE-02",
               changing(DEPLOY, "bolt-fileserver", T + ("tolerations",),
                        [{"key": "tenant", "operator": "Exists", "effect": "NoSchedule"}]),
               iso_node_02.MSG_FOREIGN_POOL, iso_node_02.MSG_TOLERATION, about="bolt-fileserver"),
    stack_edit("node02-affinity-other-pool", "ISO-NODE-02",
               changing(DEPLOY, "bolt-fileserver", T + ("affinity",), {"nodeAffinity": {
                   "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                       {"matchExpressions": [{"key": "tenant", "operator": "In",
                                              "values": ["acme"]}]}]}}}),
               iso_node_02.MSG_FOREIGN_POOL, about="bolt-fileserver"),
    stack_edit("node02-no-selector", "ISO-NODE-02",
               changing(DEPLOY, "bolt-fileserver", T + ("nodeSelector",), f.DELETE),
               iso_node_02.MSG_SELECTOR, about="bolt-fileserver"),
    stack_edit("node02-no-toleration", "ISO-NODE-02",
               changing(DEPLOY, "bolt-fileserver", T + ("tolerations",), f.DELETE),
               iso_node_02.MSG_TOLERATION, about="bolt-fileserver"),
    stack_edit("node02-no-pool", "ISO-NODE-02", without("eks:index:ManagedNodeGroup", "bolt-pool"),
               iso_node_02.MSG_NO_POOL, about="bolt-fileserver"),
    # ISO-NODE-03
    one("node03-optional-tokens", "ISO-NODE-03", f.launch_template, ("metadataOptions", "httpTokens"),
        "optional", iso_node_03.MSG_HTTP_TOKENS),
    one("node03-hop-limit-2", "ISO-NODE-03", f.launch_template,
        ("metadataOptions", "httpPutResponseHopLimit"), 2, iso_node_03.MSG_HOP_LIMIT),
    one("node03-no-metadata-options", "ISO-NODE-03", f.launch_template, ("metadataOptions",), f.DELETE,
        iso_node_03.MSG_HTTP_TOKENS, iso_node_03.MSG_HOP_LIMIT),
    # ISO-NODE-04 (stack)
    stack_edit("node04-managed-cni-on-node-role", "ISO-NODE-04",
               changing(ROLE, "node-role", ("managedPolicyArns",),
                        ["arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"]),
               iso_node_04.MSG_NODE_POLICIES, about="node-role"),
    stack_edit("node04-attached-cni-on-node-role", "ISO-NODE-04",
               changing("aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                        "node-AmazonSSMManagedInstanceCore",
                        ("policyArn",), "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"),
               iso_node_04.MSG_NODE_POLICIES, about="node-AmazonSSMManagedInstanceCore"),
    stack_edit("node04-inline-on-node-role", "ISO-NODE-04",
               changing(ROLE, "node-role", ("inlinePolicies",), [{"name": "x", "policy": f.doc(
                   {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})}]),
               iso_node_04.MSG_NODE_INLINE, about="node-role"),
    stack_edit("node04-role-policy-on-node-role", "ISO-NODE-04", adding(node_role_policy),
               iso_node_04.MSG_NODE_INLINE, about="node-extra"),
    stack_edit("node04-cni-without-identity", "ISO-NODE-04",
               changing(ADDON, "vpc-cni", ("serviceAccountRoleArn",), f.DELETE),
               iso_node_04.MSG_CNI_IDENTITY, about="vpc-cni"),
    # ISO-NODE-05
    one("node05-remote-access", "ISO-NODE-05", f.node_group, ("remoteAccess",), {"ec2SshKey": "ops"},
        iso_node_05.MSG_SSH),
    one("node05-key-name", "ISO-NODE-05", f.launch_template, ("keyName",), "ops", iso_node_05.MSG_SSH),
    one("node05-node-public-key", "ISO-NODE-05", f.eks_cluster, ("nodePublicKey",), "ssh-ed25519 AAAA",
        iso_node_05.MSG_SSH),
    # ISO-NODE-06
    one("node06-public-ip", "ISO-NODE-06", f.launch_template,
        ("networkInterfaces", 0, "associatePublicIpAddress"), "true", iso_node_06.MSG_PUBLIC_IP),
    one("node06-cluster-public-ip", "ISO-NODE-06", f.eks_cluster, ("nodeAssociatePublicIpAddress",),
        True, iso_node_06.MSG_PUBLIC_IP),
    one("node06-unencrypted", "ISO-NODE-06", f.launch_template,
        ("blockDeviceMappings", 0, "ebs", "encrypted"), "false", iso_node_06.MSG_EBS_ENCRYPTED),
    one("node06-aws-managed-key", "ISO-NODE-06", f.launch_template,
        ("blockDeviceMappings", 0, "ebs", "kmsKeyId"), f.DELETE, iso_node_06.MSG_EBS_CMK),
    one("node06-no-volumes", "ISO-NODE-06", f.launch_template, ("blockDeviceMappings",), f.DELETE,
        iso_node_06.MSG_EBS_ENCRYPTED, iso_node_06.MSG_EBS_CMK),
    one("node06-public-subnet", "ISO-NODE-06", f.subnet, ("mapPublicIpOnLaunch",), True,
        iso_node_06.MSG_SUBNET_PUBLIC_IP),
    # ISO-NODE-07
    one("node07-unsandboxed-tenant-code", "ISO-NODE-07", f.deployment,
        ("spec", "template", "metadata", "labels", "isolation.tenant-platform.io/code"), f.DELETE,
        iso_node_07.MSG_SANDBOX),
    alone("node07-sandbox-class-runc", "ISO-NODE-07", lambda: f.resource(
        "kubernetes:node.k8s.io/v1:RuntimeClass", "gvisor", {
            "apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "gvisor"},
            "handler": "runc"}), iso_node_07.MSG_HANDLER),
    # ISO-NET-01 (stack)
    stack_edit("net01-no-default-deny", "ISO-NET-01", without(NETPOL, "acme-default-deny"),
               iso_net_01.MSG_DEFAULT_DENY, about="acme-namespace"),
    stack_edit("net01-deny-ingress-only", "ISO-NET-01",
               changing(NETPOL, "cirrus-default-deny", ("spec", "policyTypes"), ["Ingress"]),
               iso_net_01.MSG_DEFAULT_DENY, about="cirrus-namespace"),
    stack_edit("net01-deny-with-allow-rule", "ISO-NET-01",
               changing(NETPOL, "acme-default-deny", ("spec", "ingress"), [{}]),
               iso_net_01.MSG_DEFAULT_DENY, about="acme-namespace"),
    stack_edit("net01-deny-some-pods", "ISO-NET-01",
               changing(NETPOL, "acme-default-deny", ("spec", "podSelector"),
                        {"matchLabels": {"app": "x"}}),
               iso_net_01.MSG_DEFAULT_DENY, about="acme-namespace"),
    stack_edit("net01-no-dns", "ISO-NET-01", without(NETPOL, "bolt-allow-dns"),
               iso_net_01.MSG_DNS, about="bolt-namespace"),
    stack_edit("net01-dns-anywhere", "ISO-NET-01",
               changing(NETPOL, "acme-allow-dns", EGRESS0 + ("to",), f.DELETE),
               iso_net_01.MSG_DNS, about="acme-namespace"),
    # ISO-NET-02
    one("net02-all-namespaces", "ISO-NET-02", f.allow_gateway, ("spec", "ingress", 0, "from", 0),
        {"namespaceSelector": {}}, iso_net_02.MSG_ALL_NAMESPACES),
    one("net02-all-namespaces-with-pods", "ISO-NET-02", f.allow_dns, EGRESS0 + ("to", 0, "namespaceSelector"),
        {}, iso_net_02.MSG_ALL_NAMESPACES),
    one("net02-open-block-reaches-vpc", "ISO-NET-02", f.allow_https_egress, EGRESS0 + ("to", 0, "ipBlock"),
        {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}, iso_net_02.MSG_INTERNAL_RANGES),
    one("net02-wide-block", "ISO-NET-02", f.allow_https_egress, EGRESS0 + ("to", 0, "ipBlock"),
        {"cidr": "0.0.0.0/1"}, iso_net_02.MSG_INTERNAL_RANGES),
    # ISO-NET-03 (stack)
    stack_edit("net03-cni-policy-off", "ISO-NET-03",
               changing(ADDON, "vpc-cni", ("configurationValues",), cni_config(enableNetworkPolicy="false")),
               iso_net_03.MSG_ADDON, about="vpc-cni"),
    stack_edit("net03-cni-unconfigured", "ISO-NET-03",
               changing(ADDON, "vpc-cni", ("configurationValues",), f.DELETE),
               iso_net_03.MSG_ADDON, about="vpc-cni"),
    stack_edit("net03-no-enforcer", "ISO-NET-03", without(ADDON, "vpc-cni"),
               iso_net_03.MSG_NO_ENFORCER, about="tp-prod-cell-apne1-01-eks"),
    # ISO-NET-04
    one("net04-imds-not-excepted", "ISO-NET-04", f.allow_https_egress,
        EGRESS0 + ("to", 0, "ipBlock", "except"),
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"], iso_net_04.MSG_IMDS),
    one("net04-link-local-block", "ISO-NET-04", f.allow_https_egress, EGRESS0 + ("to", 0, "ipBlock"),
        {"cidr": "169.254.0.0/16"}, iso_net_04.MSG_IMDS),
    one("net04-ipv6-imds", "ISO-NET-04", f.allow_https_egress, EGRESS0 + ("to", 1),
        {"ipBlock": {"cidr": "::/0"}}, iso_net_04.MSG_IMDS),
    one("net04-http-anywhere", "ISO-NET-04", f.allow_https_egress, EGRESS0,
        {"ports": [{"port": 80, "protocol": "TCP"}]}, iso_net_04.MSG_OPEN_EGRESS),
    one("net04-all-egress", "ISO-NET-04", f.allow_https_egress, EGRESS0, {}, iso_net_04.MSG_OPEN_EGRESS),
    one("net04-vcluster-default-except", "ISO-NET-04", f.vcluster_chart,
        ("values", "policies", "networkPolicy", "outgoingConnections"), f.DELETE,
        iso_net_04.MSG_VCLUSTER_IMDS),
    one("net04-vcluster-except", "ISO-NET-04", f.vcluster_chart,
        ("values", "policies", "networkPolicy", "outgoingConnections", "ipBlock", "except"),
        ["10.0.0.0/8"], iso_net_04.MSG_VCLUSTER_IMDS),
    # ISO-NET-05
    one("net05-node-port", "ISO-NET-05", f.service, ("spec", "type"), "NodePort", iso_net_05.MSG_NODE_PORT),
    # ISO-NET-06
    one("net06-public-lb", "ISO-NET-06", f.service, ("spec", "type"), "LoadBalancer",
        iso_net_06.MSG_INTERNAL, iso_net_06.MSG_SOURCE_RANGES),
    alone("net06-internal-lb-open-ranges", "ISO-NET-06", lambda: f.changed(f.changed(f.changed(
        f.service(), ("spec", "type"), "LoadBalancer"), ("spec", "loadBalancerSourceRanges"), ["0.0.0.0/0"]),
        ("metadata", "annotations"), {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}),
        iso_net_06.MSG_SOURCE_RANGES),
    # ISO-NET-07
    one("net07-open-sg", "ISO-NET-07", f.db_security_group, ("ingress", 0, "cidrBlocks"), ["0.0.0.0/0"],
        iso_net_07.MSG_OPEN_INGRESS),
    alone("net07-open-sg-rule", "ISO-NET-07",
          lambda: sg_rule(fromPort=22, toPort=22, cidrBlocks=["0.0.0.0/0"]),
          iso_net_07.MSG_OPEN_INGRESS),
    alone("net07-open-ingress-rule-v6", "ISO-NET-07", lambda: sg_ingress_rule(
        fromPort=443, toPort=443, cidrIpv6="::/0"), iso_net_07.MSG_OPEN_INGRESS),
    alone("net07-all-protocols", "ISO-NET-07", lambda: sg_ingress_rule(
        ipProtocol="-1", cidrIpv4="0.0.0.0/0"), iso_net_07.MSG_OPEN_INGRESS,
        config={"ISO-NET-07": {"publicIngressPorts": [443]}}),
    one("net07-sgp-without-standard", "ISO-NET-07", f.vpc_cni, ("configurationValues",),
        cni_config(enableNetworkPolicy="true", env={"ENABLE_POD_ENI": "true"}), iso_net_07.MSG_SGP_MODE),
    # ISO-NET-08 (stack)
    stack_edit("net08-no-flow-log", "ISO-NET-08", without("aws:ec2/flowLog:FlowLog", "vpc-flow-log"),
               iso_net_08.MSG_NO_FLOW_LOG, about="vpc"),
    stack_edit("net08-rejects-only", "ISO-NET-08",
               changing("aws:ec2/flowLog:FlowLog", "vpc-flow-log", ("trafficType",), "REJECT"),
               iso_net_08.MSG_TRAFFIC_TYPE, about="vpc-flow-log"),
    # ISO-NET-09
    one("net09-other-tenant-host", "ISO-NET-09", f.virtual_service, ("spec", "hosts"),
        ["bolt.files.example.com"], iso_net_09.MSG_FOREIGN_HOST),
    one("net09-platform-wildcard", "ISO-NET-09", f.virtual_service, ("spec", "hosts"),
        ["*.files.example.com"], iso_net_09.MSG_FOREIGN_HOST),
    alone("net09-ingress-no-host", "ISO-NET-09", lambda: ingress(None), iso_net_09.MSG_MISSING_HOST),
    alone("net09-snippet", "ISO-NET-09", lambda: ingress(
        "acme.files.example.com", **{"nginx.ingress.kubernetes.io/server-snippet": "location / {}"}),
        iso_net_09.MSG_SNIPPET),
    # Openness by address space, however the blocks are split
    one("net02-split-internet-no-except", "ISO-NET-02", f.allow_https_egress, EGRESS0 + ("to",),
        [{"ipBlock": {"cidr": "0.0.0.0/1"}}, {"ipBlock": {"cidr": "128.0.0.0/1"}}],
        iso_net_02.MSG_INTERNAL_RANGES),
    one("net02-except-only-half-of-vpc", "ISO-NET-02", f.allow_https_egress,
        EGRESS0 + ("to", 0, "ipBlock", "except"), ["10.0.0.0/9", "172.16.0.0/12", "192.168.0.0/16"],
        iso_net_02.MSG_INTERNAL_RANGES),
    one("net04-split-internet-reaches-imds", "ISO-NET-04", f.allow_https_egress, EGRESS0 + ("to",),
        [{"ipBlock": {"cidr": "0.0.0.0/1"}}, {"ipBlock": {"cidr": "128.0.0.0/1"}}], iso_net_04.MSG_IMDS),
    one("net04-imds-excepted-link-local-open", "ISO-NET-04", f.allow_https_egress,
        EGRESS0 + ("to", 0, "ipBlock", "except"),
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.169.254/32"], iso_net_04.MSG_IMDS),
    one("net04-ipv6-ec2-link-local", "ISO-NET-04", f.allow_https_egress, EGRESS0 + ("to", 1),
        {"ipBlock": {"cidr": "fd00:ec2::/32"}}, iso_net_04.MSG_IMDS),
    alone("net06-split-source-ranges", "ISO-NET-06", lambda: f.changed(f.changed(f.changed(
        f.service(), ("spec", "type"), "LoadBalancer"),
        ("spec", "loadBalancerSourceRanges"), ["0.0.0.0/1", "128.0.0.0/1"]),
        ("metadata", "annotations"), {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}),
        iso_net_06.MSG_SOURCE_RANGES),
    one("net07-split-sg", "ISO-NET-07", f.db_security_group, ("ingress", 0, "cidrBlocks"),
        ["0.0.0.0/1", "128.0.0.0/1"], iso_net_07.MSG_OPEN_INGRESS),
    one("net07-split-across-sg-rules", "ISO-NET-07", f.db_security_group, ("ingress",),
        [{"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrBlocks": ["0.0.0.0/1"]},
         {"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrBlocks": ["128.0.0.0/1"]}],
        iso_net_07.MSG_OPEN_INGRESS),
    alone("net07-many-slash-8s", "ISO-NET-07", lambda: sg_rule(
        fromPort=22, toPort=22, cidrBlocks=[f"{i}.0.0.0/8" for i in range(1, 60) if i != 10]),
        iso_net_07.MSG_OPEN_INGRESS),
    alone("net07-provider-sized-block", "ISO-NET-07", lambda: sg_ingress_rule(
        fromPort=22, toPort=22, cidrIpv4="64.0.0.0/10"), iso_net_07.MSG_OPEN_INGRESS),
    alone("net07-ipv6-split", "ISO-NET-07", lambda: sg_rule(
        fromPort=22, toPort=22, ipv6CidrBlocks=["::/1", "8000::/1"]), iso_net_07.MSG_OPEN_INGRESS),
    alone("net07-global-unicast", "ISO-NET-07", lambda: sg_ingress_rule(
        fromPort=22, toPort=22, cidrIpv6="2000::/3"), iso_net_07.MSG_OPEN_INGRESS),
    # ISO-NET-10 (stack): peers by what they select, ipBlocks by what they cover
    stack_edit("net10-shared-tier-label", "ISO-NET-10",
               changing(NETPOL, "acme-allow-gateway", ("spec", "ingress", 0, "from", 0, "namespaceSelector"),
                        {"matchLabels": {"tier": "namespace"}}),
               iso_net_10.MSG_FOREIGN_NAMESPACE, about="acme-allow-gateway"),
    stack_edit("net10-other-tenant-by-name", "ISO-NET-10",
               changing(NETPOL, "acme-allow-gateway", ("spec", "ingress", 0, "from", 0, "namespaceSelector"),
                        {"matchLabels": {"kubernetes.io/metadata.name": "tenant-bolt"}}),
               iso_net_10.MSG_FOREIGN_NAMESPACE, about="acme-allow-gateway"),
    stack_edit("net10-tenant-exists", "ISO-NET-10",
               changing(NETPOL, "acme-allow-gateway", ("spec", "ingress", 0, "from", 0, "namespaceSelector"),
                        {"matchExpressions": [{"key": "tenant", "operator": "Exists"}]}),
               iso_net_10.MSG_FOREIGN_NAMESPACE, about="acme-allow-gateway"),
    stack_edit("net10-not-in-own-name", "ISO-NET-10",
               changing(NETPOL, "acme-allow-dns", EGRESS0 + ("to", 0, "namespaceSelector"),
                        {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                                               "values": ["tenant-acme"]}]}),
               iso_net_10.MSG_FOREIGN_NAMESPACE, about="acme-allow-dns"),
    stack_edit("net10-managed-by-label", "ISO-NET-10",
               changing(NETPOL, "bolt-allow-dns", EGRESS0 + ("to", 0, "namespaceSelector"),
                        {"matchLabels": {"app.kubernetes.io/managed-by": "tenant-platform"}}),
               iso_net_10.MSG_FOREIGN_NAMESPACE, about="bolt-allow-dns"),
    stack_edit("net10-plan-in-list", "ISO-NET-10",
               changing(NETPOL, "cirrus-allow-dns", EGRESS0 + ("to", 0, "namespaceSelector"),
                        {"matchExpressions": [{"key": "tenant", "operator": "In",
                                               "values": ["cirrus", "acme"]}]}),
               iso_net_10.MSG_FOREIGN_NAMESPACE, about="cirrus-allow-dns"),
    stack_edit("net10-egress-ports-no-to", "ISO-NET-10",
               changing(NETPOL, "acme-allow-dns", EGRESS0 + ("to",), f.DELETE),
               iso_net_10.MSG_ALL_DESTINATIONS, about="acme-allow-dns"),
    stack_edit("net10-ingress-no-from", "ISO-NET-10",
               changing(NETPOL, "acme-allow-gateway", ("spec", "ingress", 0, "from"), []),
               iso_net_10.MSG_ALL_SOURCES, about="acme-allow-gateway"),
    stack_edit("net10-vpc-all-ports", "ISO-NET-10",
               changing(NETPOL, "acme-allow-https", EGRESS0, {"to": [{"ipBlock": {"cidr": "10.0.0.0/16"}}]}),
               iso_net_10.MSG_INTERNAL_EGRESS, about="acme-allow-https"),
    stack_edit("net10-link-local", "ISO-NET-10",
               changing(NETPOL, "acme-allow-https", EGRESS0 + ("to", 0, "ipBlock"),
                        {"cidr": "169.254.0.0/16"}),
               iso_net_10.MSG_INTERNAL_EGRESS, about="acme-allow-https"),
    stack_edit("net10-database-subnet-other-port", "ISO-NET-10",
               lambda s: database_egress(s, "10.0.0.0/19", 443),
               iso_net_10.MSG_DATABASE_PORT, about="acme-allow-database"),
    stack_edit("net10-whole-vpc-on-database-port", "ISO-NET-10",
               lambda s: database_egress(s, "10.0.0.0/16", 5432),
               iso_net_10.MSG_INTERNAL_EGRESS, about="acme-allow-database"),
    stack_edit("net10-ingress-from-vpc", "ISO-NET-10",
               changing(NETPOL, "acme-allow-gateway", ("spec", "ingress", 0, "from", 0),
                        {"ipBlock": {"cidr": "10.0.0.0/8"}}),
               iso_net_10.MSG_INTERNAL_INGRESS, about="acme-allow-gateway"),
    # ISO-NET-11
    one("net11-honor-labels", "ISO-NET-11", f.pod_monitor, ("spec", "podMetricsEndpoints", 0, "honorLabels"),
        True, iso_net_11.MSG_HONOR_LABELS),
    one("net11-tenant-from-pod-label", "ISO-NET-11", f.pod_monitor,
        ("spec", "podMetricsEndpoints", 0, "relabelings", 1),
        {"action": "replace", "sourceLabels": ["__meta_kubernetes_pod_label_tenant"],
         "targetLabel": "tenant"},
        iso_net_11.MSG_RELABEL_TENANCY),
    one("net11-other-namespace-value", "ISO-NET-11", f.pod_monitor,
        ("spec", "podMetricsEndpoints", 0, "metricRelabelings"),
        [{"action": "replace", "replacement": "tenant-bolt", "targetLabel": "namespace"}],
        iso_net_11.MSG_RELABEL_TENANCY),
    one("net11-labelmap", "ISO-NET-11", f.pod_monitor, ("spec", "podMetricsEndpoints", 0, "relabelings", 1),
        {"action": "labelmap", "regex": "__meta_kubernetes_pod_label_(.+)"}, iso_net_11.MSG_RELABEL_TENANCY),
    one("net11-tenant-from-pod-target-labels", "ISO-NET-11", f.pod_monitor, ("spec", "podTargetLabels"),
        ["app", "tenant"], iso_net_11.MSG_RELABEL_TENANCY),
    one("net11-any-namespace", "ISO-NET-11", f.pod_monitor, ("spec", "namespaceSelector"), {"any": True},
        iso_net_11.MSG_FOREIGN_NAMESPACES),
    one("net11-other-namespace", "ISO-NET-11", f.pod_monitor, ("spec", "namespaceSelector", "matchNames"),
        ["tenant-acme", "tenant-bolt"], iso_net_11.MSG_FOREIGN_NAMESPACES),
    # ISO-NET-12
    one("net12-service-source", "ISO-NET-12", f.external_dns_chart, ("values", "sources"),
        ["istio-gateway", "service"], iso_net_12.MSG_SOURCES),
    one("net12-crd-arg", "ISO-NET-12", f.external_dns_chart, ("values", "extraArgs"),
        ["--source=crd"], iso_net_12.MSG_SOURCES),
    one("net12-split-arg", "ISO-NET-12", f.external_dns_chart, ("values", "extraArgs"),
        ["--source", "istio-virtualservice"], iso_net_12.MSG_SOURCES),
    one("net12-no-sources", "ISO-NET-12", f.external_dns_chart, ("values", "sources"), f.DELETE,
        iso_net_12.MSG_SOURCES),
]


@params(CASES)
def test_rule_reports_seeded_violation(case: Case) -> None:
    check(case)


def _rule(resources: list[dict[str, Any]], rule: str, **kw: Any) -> list[dict[str, Any]]:
    return [v for v in evaluate(resources, **kw) if v["policy"] == rule]


def test_node_affinity_pins_the_pool_like_a_node_selector() -> None:
    stack = f.shared_stack()
    dep = f.changed(f.find(stack, DEPLOY, "bolt-fileserver"), T + ("nodeSelector",), f.DELETE)
    dep = f.changed(dep, T + ("affinity",), {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "tenant", "operator": "In", "values": ["bolt"]}]}]}}})
    assert _rule(f.replace(stack, dep), "ISO-NODE-02") == []


def test_pod_identity_gives_the_cni_its_own_identity() -> None:
    stack = f.shared_stack()
    addon = f.changed(f.find(stack, ADDON, "vpc-cni"), ("serviceAccountRoleArn",), f.DELETE)
    addon = f.changed(addon, ("podIdentityAssociations",),
                      [{"serviceAccount": "aws-node", "roleArn": "arn:aws:iam::1:role/cni"}])
    assert _rule(f.replace(stack, addon), "ISO-NODE-04") == []


@pytest.mark.parametrize("enforcer", ["calico", "tigera-operator", "cilium"])
def test_calico_or_cilium_enforce_network_policy(enforcer: str) -> None:
    stack = [r for r in f.shared_stack() if r["name"] != "vpc-cni"] + [enforcer_chart(enforcer)]
    assert _rule(stack, "ISO-NET-03") == []


def test_eks_component_cni_options_enforce_network_policy() -> None:
    stack = [r for r in f.shared_stack() if r["name"] != "vpc-cni"]
    cluster = f.find(stack, "eks:index:Cluster", "tp-prod-cell-apne1-01-eks")
    stack = f.replace(stack, f.changed(cluster, ("vpcCniOptions",), {"enableNetworkPolicy": True}))
    assert _rule(stack, "ISO-NET-03") == []


def test_listed_public_ports_may_accept_ingress_from_anywhere() -> None:
    res = sg_ingress_rule(fromPort=443, toPort=443, cidrIpv4="0.0.0.0/0")
    assert _rule([res], "ISO-NET-07", config={"ISO-NET-07": {"publicIngressPorts": [443]}}) == []
    assert len(_rule([res], "ISO-NET-07")) == 1


def test_custom_host_names_come_from_config() -> None:
    res = f.changed(f.virtual_service(), ("spec", "hosts"), ["files.example.org"])
    assert len(_rule([res], "ISO-NET-09")) == 1
    config = {"ISO-NET-09": {"tenantHosts": {"acme": ["files.example.org"]}}}
    assert _rule([res], "ISO-NET-09", config=config) == []


def test_mesh_only_virtual_services_are_not_ingress() -> None:
    res = f.changed(f.virtual_service(), ("spec", "gateways"), ["mesh"])
    res = f.changed(res, ("spec", "hosts"), ["fileserver"])
    assert _rule([res], "ISO-NET-09") == []


def test_dns_rule_to_any_port_is_not_an_imds_path_unless_it_allows_http() -> None:
    assert _rule([f.allow_dns()], "ISO-NET-04") == []
    wide = f.changed(f.allow_dns(), EGRESS0 + ("to",), f.DELETE)
    assert _rule([wide], "ISO-NET-04") == []


def test_database_egress_to_the_proxy_subnets_on_its_port_passes() -> None:
    stack = database_egress(f.shared_stack(), "10.0.0.0/19", 5432)
    assert _rule(stack, "ISO-NET-10") == []
    assert _rule(database_egress(f.shared_stack(), "10.0.0.0/24", 5432), "ISO-NET-10") == []


def test_selectors_of_own_and_platform_namespaces_pass() -> None:
    stack = f.shared_stack()
    own = {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In",
                                 "values": ["tenant-acme", "istio-ingress", "monitoring"]}]}
    policy = f.changed(f.find(stack, NETPOL, "acme-allow-gateway"),
                       ("spec", "ingress", 0, "from", 0, "namespaceSelector"), own)
    assert _rule(f.replace(stack, policy), "ISO-NET-10") == []
    # A label only platform namespaces carry (none of the tenants' labels) selects no tenant.
    platform = {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}
    policy = f.changed(policy, ("spec", "ingress", 0, "from", 0, "namespaceSelector"), platform)
    assert _rule(f.replace(stack, policy), "ISO-NET-10") == []


def test_allow_listed_ranges_are_not_open() -> None:
    office = sg_rule(fromPort=22, toPort=22, cidrBlocks=["203.0.113.0/24", "198.51.100.0/24"])
    assert _rule([office], "ISO-NET-07") == []
    private = sg_rule(fromPort=22, toPort=22, cidrBlocks=["10.0.0.0/8"])
    assert _rule([private], "ISO-NET-07") == []


def test_compliant_monitor_and_external_dns_pass() -> None:
    assert _rule([f.pod_monitor()], "ISO-NET-11") == []
    assert _rule([f.external_dns_chart()], "ISO-NET-12") == []
