"""Compliant baseline resources (plan.json dicts), one builder per resource kind.

``shared_stack()`` and ``dedicated_stack()`` assemble them into stacks that break no rule;
seeded-violation tests change one field of one resource with :func:`changed` and assert
the exact rule and message. Shapes follow what the platform's components declare: inputs
use the engine's camelCase names, AWS policy documents are JSON strings.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Sequence
from typing import Any

from tenants.plans import load_plans

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"
ENV = "prod"
PROJECT = "tenant-platform"
DIGEST = "sha256:" + "ab" * 32
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/tenant-platform/fileserver@{DIGEST}"
OIDC = "oidc.eks.ap-northeast-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
OIDC_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC}"
POOL_TENANT = "bolt"
TIERS = {"acme": "namespace", "bolt": "node", "cirrus": "vcluster", "delta": "cluster"}
DELETE = object()
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
ACCESS_POLICY = "arn:aws:eks::aws:cluster-access-policy/"


# --- plumbing -------------------------------------------------------------------------
def urn(type_: str, name: str, stack: str = "test") -> str:
    """A URN as the recording monitor builds it (no parent chain: fixtures are flat)."""
    return f"urn:pulumi:{stack}::{PROJECT}::{type_}::{name}"


def resource(type_: str, name: str, inputs: dict[str, Any], *,
             depends_on: Iterable[dict[str, Any]] = (), parent: dict[str, Any] | None = None,
             protect: bool = False, custom: bool = True) -> dict[str, Any]:
    """One plan.json resource."""
    return {
        "urn": urn(type_, name), "type": type_, "name": name,
        "parent": parent["urn"] if parent else None, "custom": custom, "inputs": inputs,
        "options": {"protect": protect, "retainOnDelete": protect, "deleteBeforeReplace": False,
                    "dependsOn": sorted(d["urn"] for d in depends_on), "provider": None,
                    "aliases": [], "ignoreChanges": []},
    }


def changed(res: dict[str, Any], path: Sequence[str | int], value: Any) -> dict[str, Any]:
    """A deep copy of ``res`` with the value at ``path`` (under ``inputs``) replaced or deleted.

    Intermediate objects are created as needed; ``DELETE`` removes the key; an index one past
    the end of a list appends.
    """
    result = copy.deepcopy(res)
    node: Any = result["inputs"]
    for key in path[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(key, {})
        else:
            node = node[key]
    last = path[-1]
    if value is DELETE:
        node.pop(last)
    elif isinstance(node, list) and last == len(node):
        node.append(copy.deepcopy(value))
    else:
        node[last] = copy.deepcopy(value)
    return result


def replace(stack: list[dict[str, Any]], new: dict[str, Any]) -> list[dict[str, Any]]:
    """The stack with the resource of the same URN replaced by ``new``."""
    assert any(r["urn"] == new["urn"] for r in stack), new["urn"]
    return [new if r["urn"] == new["urn"] else r for r in stack]


def find(stack: Sequence[dict[str, Any]], type_: str, name: str) -> dict[str, Any]:
    """The stack's resource of this type and logical name."""
    return next(r for r in stack if r["type"] == type_ and r["name"] == name)


def labels(tenant: str) -> dict[str, str]:
    """Labels of a tenant-owned Kubernetes object."""
    return {"tenant": tenant, "tier": TIERS[tenant], "plan": "standard",
            "app.kubernetes.io/managed-by": "tenant-platform"}


def tags(tenant: str) -> dict[str, str]:
    """Tags of a tenant-owned AWS resource."""
    return {"tenant": tenant, "tier": TIERS[tenant], "plan": "standard", "environment": ENV,
            "managed-by": "tenant-platform"}


def meta(name: str, tenant: str, **extra: Any) -> dict[str, Any]:
    """Metadata of a namespaced tenant object."""
    return {"name": name, "namespace": f"tenant-{tenant}", "labels": labels(tenant), **extra}


def doc(*statements: dict[str, Any]) -> str:
    """A policy document as the AWS provider receives it."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


# --- Kubernetes: one tenant's fences ----------------------------------------------------
def namespace(tenant: str = "acme") -> dict[str, Any]:
    psa = {f"pod-security.kubernetes.io/{m}": "restricted" for m in ("enforce", "audit", "warn")}
    return resource("kubernetes:core/v1:Namespace", f"{tenant}-namespace", {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": f"tenant-{tenant}", "labels": {
            **labels(tenant), **psa, "pod-security.kubernetes.io/enforce-version": "v1.33",
            "istio-injection": "enabled"}}})


def resource_quota(tenant: str = "acme") -> dict[str, Any]:
    """The quota of the fixture tenants' plan (``standard``), from the plan table."""
    return resource("kubernetes:core/v1:ResourceQuota", f"{tenant}-quota", {
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": meta("tenant-quota", tenant),
        "spec": {"hard": load_plans()["standard"].quota.hard()}})


def limit_range(tenant: str = "acme") -> dict[str, Any]:
    """The LimitRange of the fixture tenants' plan (``standard``), as the platform renders it."""
    lr = load_plans()["standard"].limit_range
    return resource("kubernetes:core/v1:LimitRange", f"{tenant}-limits", {
        "apiVersion": "v1", "kind": "LimitRange", "metadata": meta("tenant-limits", tenant),
        "spec": {"limits": [
            {"type": "Container", "default": lr.default.manifest(),
             "defaultRequest": lr.default_request.manifest(), "min": lr.min.manifest(),
             "max": lr.max.manifest()},
            {"type": "Pod", "max": lr.pod_max.manifest()},
            {"type": "PersistentVolumeClaim", "min": {"storage": lr.pvc.min},
             "max": {"storage": lr.pvc.max}}]}})


def _netpol(tenant: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return resource("kubernetes:networking.k8s.io/v1:NetworkPolicy", f"{tenant}-{name}", {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": meta(name, tenant), "spec": spec})


def deny_all(tenant: str = "acme") -> dict[str, Any]:
    return _netpol(tenant, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})


def allow_dns(tenant: str = "acme") -> dict[str, Any]:
    return _netpol(tenant, "allow-dns", {
        "podSelector": {}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"namespaceSelector": {"matchLabels": {
                                "kubernetes.io/metadata.name": "kube-system"}},
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]})


def allow_gateway(tenant: str = "acme") -> dict[str, Any]:
    return _netpol(tenant, "allow-gateway", {
        "podSelector": {"matchLabels": {"app": "fileserver"}}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                                  "kubernetes.io/metadata.name": "istio-ingress"}}}],
                     "ports": [{"port": 8080, "protocol": "TCP"}]}]})


def allow_https_egress(tenant: str = "acme") -> dict[str, Any]:
    return _netpol(tenant, "allow-https", {
        "podSelector": {"matchLabels": {"app": "chatbot"}}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [
                        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
                        "169.254.0.0/16", "169.254.169.254/32"]}}],
                    "ports": [{"port": 443, "protocol": "TCP"}]}]})


def _authz(tenant: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return resource("kubernetes:security.istio.io/v1:AuthorizationPolicy", f"{tenant}-{name}", {
        "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
        "metadata": meta(name, tenant), "spec": spec})


def allow_nothing(tenant: str = "acme") -> dict[str, Any]:
    return _authz(tenant, "allow-nothing", {})


def allow_callers(tenant: str = "acme") -> dict[str, Any]:
    return _authz(tenant, "allow-fileserver", {
        "selector": {"matchLabels": {"app": "fileserver"}}, "action": "ALLOW",
        "rules": [{"from": [{"source": {"principals": [
                      "cluster.local/ns/istio-ingress/sa/istio-ingressgateway",
                      f"cluster.local/ns/tenant-{tenant}/sa/chatbot"]}}],
                   "to": [{"operation": {"methods": ["GET", "PUT"], "ports": ["8080"]}}]}]})


def sidecar(tenant: str = "acme") -> dict[str, Any]:
    return resource("kubernetes:networking.istio.io/v1:Sidecar", f"{tenant}-sidecar", {
        "apiVersion": "networking.istio.io/v1", "kind": "Sidecar", "metadata": meta("default", tenant),
        "spec": {"egress": [{"hosts": ["./*", "istio-system/*"]}],
                 "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}}})


def service_account(tenant: str = "acme") -> dict[str, Any]:
    return resource("kubernetes:core/v1:ServiceAccount", f"{tenant}-fileserver-sa", {
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": meta("fileserver", tenant, annotations={
            "eks.amazonaws.com/role-arn": f"arn:aws:iam::{ACCOUNT}:role/tp-{ENV}-{tenant}-fileserver"}),
        "automountServiceAccountToken": False})


def role(tenant: str = "acme") -> dict[str, Any]:
    return resource("kubernetes:rbac.authorization.k8s.io/v1:Role", f"{tenant}-viewer", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": meta("tenant-viewer", tenant),
        "rules": [{"apiGroups": [""], "resources": ["pods", "services", "configmaps"],
                   "verbs": ["get", "list", "watch"]},
                  {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]}]})


def role_binding(tenant: str = "acme") -> dict[str, Any]:
    return resource("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", f"{tenant}-viewer-binding", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": meta("tenant-viewer", tenant),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenant-viewer"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                      "name": f"tenant:{tenant}:viewers"},
                     {"kind": "ServiceAccount", "name": "fileserver", "namespace": f"tenant-{tenant}"}]})


def container(name: str = "fileserver") -> dict[str, Any]:
    """A container meeting every PodT rule."""
    return {
        "name": name, "image": IMAGE, "imagePullPolicy": "Always",
        "ports": [{"containerPort": 8080, "name": "http"}],
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"},
                      "limits": {"cpu": "1", "memory": "1Gi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"},
                         {"name": "credentials", "mountPath": "/var/run/secrets/app"}],
    }


def pod_spec(tenant: str = "acme") -> dict[str, Any]:
    """A pod spec meeting every PodT rule for the tenant's tier."""
    spec: dict[str, Any] = {
        "serviceAccountName": "fileserver", "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                            "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container()],
        "initContainers": [container("init-schema")],
        "volumes": [{"name": "tmp", "emptyDir": {}},
                    {"name": "credentials", "secret": {"secretName": "fileserver-credentials"}}],
    }
    if TIERS[tenant] == "node":
        spec["nodeSelector"] = {"tenant": tenant}
        spec["tolerations"] = [{"key": "tenant", "operator": "Equal", "value": tenant,
                                "effect": "NoSchedule"}]
    return spec


def pod_labels(tenant: str) -> dict[str, str]:
    """Pod template labels (platform-built image, so no sandbox is required)."""
    return {**labels(tenant), "app": "fileserver", "isolation.tenant-platform.io/code": "platform"}


def deployment(tenant: str = "acme") -> dict[str, Any]:
    return resource("kubernetes:apps/v1:Deployment", f"{tenant}-fileserver", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("fileserver", tenant),
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "fileserver"}},
                 "template": {"metadata": {"labels": pod_labels(tenant)},
                              "spec": pod_spec(tenant)}}})


def workload(kind: str, tenant: str = "acme") -> dict[str, Any]:
    """A compliant workload of any pod-template kind."""
    api = {"Pod": "v1", "Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1",
           "ReplicaSet": "apps/v1", "Job": "batch/v1", "CronJob": "batch/v1"}[kind]
    group = "core/v1" if api == "v1" else api
    template = {"metadata": {"labels": pod_labels(tenant)}, "spec": pod_spec(tenant)}
    body: dict[str, Any] = {"apiVersion": api, "kind": kind, "metadata": meta(kind.lower(), tenant)}
    if kind == "Pod":
        body["metadata"]["labels"] = pod_labels(tenant)
        body["spec"] = template["spec"]
    elif kind == "CronJob":
        body["spec"] = {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}}
    else:
        body["spec"] = {"template": template}
    return resource(f"kubernetes:{group}:{kind}", f"{tenant}-{kind.lower()}", body)


def service(tenant: str = "acme") -> dict[str, Any]:
    return resource("kubernetes:core/v1:Service", f"{tenant}-fileserver-svc", {
        "apiVersion": "v1", "kind": "Service", "metadata": meta("fileserver", tenant),
        "spec": {"type": "ClusterIP", "selector": {"app": "fileserver"},
                 "ports": [{"port": 80, "targetPort": 8080, "name": "http"}]}})


def virtual_service(tenant: str = "acme") -> dict[str, Any]:
    return resource("kubernetes:networking.istio.io/v1:VirtualService", f"{tenant}-route", {
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": meta("fileserver", tenant),
        "spec": {"hosts": [hostname(tenant)], "gateways": [f"istio-ingress/tenant-{tenant}"],
                 "http": [{"route": [{"destination": {"host": "fileserver", "port": {"number": 80}}}]}]}})


def hostname(tenant: str) -> str:
    """The tenant's registry host name (``HOSTS``)."""
    return f"{tenant}.files.example.com"


#: Host ownership the registry would give the fixture tenants (policy config tenantHosts).
HOSTS = {t: [hostname(t)] for t in TIERS}


def ingress_gateway(tenant: str = "acme") -> dict[str, Any]:
    """The platform's Gateway for one tenant's host, in the ingress namespace."""
    return resource("kubernetes:networking.istio.io/v1:Gateway", f"{tenant}-gateway", {
        "apiVersion": "networking.istio.io/v1", "kind": "Gateway",
        "metadata": {"name": f"tenant-{tenant}", "namespace": "istio-ingress",
                     "labels": {"tenant-platform.io/for-tenant": tenant,
                                "app.kubernetes.io/managed-by": "tenant-platform"}},
        "spec": {"selector": {"istio": "ingressgateway"}, "servers": [{
            "hosts": [f"tenant-{tenant}/{hostname(tenant)}"],
            "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
            "tls": {"mode": "SIMPLE", "credentialName": f"tenant-{tenant}-tls"}}]}})


def vcluster_chart(tenant: str = "cirrus") -> dict[str, Any]:
    return resource("kubernetes:helm.sh/v4:Chart", f"{tenant}-vcluster", {
        "chart": "vcluster", "version": "0.28.0", "namespace": f"tenant-{tenant}",
        "repositoryOpts": {"repo": "https://charts.loft.sh"},
        "values": {
            "policies": {"networkPolicy": {"enabled": True, "outgoingConnections": {
                "platform": False, "ipBlock": {
                "cidr": "0.0.0.0/0",
                "except": ["100.64.0.0/10", "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12",
                           "192.168.0.0/16", "169.254.0.0/16", "169.254.169.254/32"]}}}},
            "sync": {"fromHost": {"nodes": {"enabled": False, "syncBackChanges": False}},
                     "toHost": {"pods": {"enforceTolerations": []}}},
        }}, custom=False)


def pod_monitor(tenant: str = "acme") -> dict[str, Any]:
    """The platform's scrape of a tenant's pods (own namespace, own tenant label only)."""
    return resource("kubernetes:monitoring.coreos.com/v1:PodMonitor", f"{tenant}-pod-monitor", {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
        "metadata": meta("tenant-workloads", tenant),
        "spec": {"selector": {"matchLabels": {"tenant": tenant}},
                 "namespaceSelector": {"matchNames": [f"tenant-{tenant}"]},
                 "podMetricsEndpoints": [{"path": "/stats/prometheus", "relabelings": [
                     {"action": "keep", "sourceLabels": ["__meta_kubernetes_pod_container_name"],
                      "regex": "istio-proxy"},
                     {"action": "replace", "replacement": tenant, "targetLabel": "tenant"}]}]}})


def external_dns_chart() -> dict[str, Any]:
    """The platform's external-dns: publishes the ingress gateway's Gateways only."""
    return resource("kubernetes:helm.sh/v4:Chart", "external-dns", {
        "chart": "external-dns", "version": "1.19.0", "namespace": "external-dns",
        "repositoryOpts": {"repo": "https://kubernetes-sigs.github.io/external-dns/"},
        "values": {"provider": {"name": "aws"}, "sources": ["istio-gateway"], "policy": "upsert-only",
                   "domainFilters": [hostname(t) for t in ("acme", "bolt")],
                   "extraArgs": ["--aws-zone-type=public"]}}, custom=False)


def tenant_fences(tenant: str) -> list[dict[str, Any]]:
    """Everything that fences one tenant inside the cluster."""
    return [namespace(tenant), resource_quota(tenant), limit_range(tenant), deny_all(tenant),
            allow_dns(tenant), allow_gateway(tenant), allow_https_egress(tenant),
            allow_nothing(tenant), allow_callers(tenant), sidecar(tenant),
            service_account(tenant), role(tenant), role_binding(tenant)]


def tenant_workloads(tenant: str) -> list[dict[str, Any]]:
    """A tenant's workloads (a vcluster tenant's run inside its vCluster instead)."""
    if TIERS[tenant] == "vcluster":
        return [vcluster_chart(tenant)]
    return [deployment(tenant), service(tenant), virtual_service(tenant), ingress_gateway(tenant),
            pod_monitor(tenant)]


# --- AWS: one tenant's data and identity -----------------------------------------------
def kms_key(tenant: str = "acme", purpose: str = "files") -> dict[str, Any]:
    return resource("aws:kms/key:Key", f"{tenant}-{purpose}-key", {
        "description": f"{tenant} {purpose}", "enableKeyRotation": True,
        "policy": doc({"Sid": "PlatformAdminAdministersKey", "Effect": "Allow",
                       "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/tp-{ENV}-platform-admin"},
                       "Action": ["kms:DescribeKey", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"],
                       "Resource": "*"},
                      {"Sid": "AccountUsesKeyThroughS3", "Effect": "Allow",
                       "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                       "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
                       "Condition": {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com",
                                                      "kms:CallerAccount": ACCOUNT}}}),
        "tags": tags(tenant)}, protect=True)


def key_arn(tenant: str, purpose: str = "files") -> str:
    """The mock ARN of a tenant key (the recording engine's form)."""
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/key-{tenant}-{purpose}-key"


def bucket(tenant: str = "acme", role_: str = "files") -> dict[str, Any]:
    return resource("aws:s3/bucket:Bucket", f"{tenant}-{role_}-bucket", {
        "bucket": f"tp-{ENV}-{tenant}-{role_}", "tags": tags(tenant)}, protect=True)


def public_access_block(b: dict[str, Any]) -> dict[str, Any]:
    return resource("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{b['name']}-pab", {
        "bucket": b["inputs"]["bucket"] + "-id", "blockPublicAcls": True, "blockPublicPolicy": True,
        "ignorePublicAcls": True, "restrictPublicBuckets": True}, depends_on=[b])


def encryption(b: dict[str, Any], key: dict[str, Any] | None) -> dict[str, Any]:
    default = ({"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn(*key["name"].split("-")[:2])}
               if key else {"sseAlgorithm": "AES256"})
    return resource(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        f"{b['name']}-sse", {"bucket": b["inputs"]["bucket"] + "-id",
                             "rules": [{"applyServerSideEncryptionByDefault": default,
                                        "bucketKeyEnabled": True}]},
        depends_on=[b] + ([key] if key else []))


def bucket_logging(source: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    return resource("aws:s3/bucketLogging:BucketLogging", f"{source['name']}-logging", {
        "bucket": source["inputs"]["bucket"] + "-id", "targetBucket": target["inputs"]["bucket"] + "-id",
        "targetPrefix": "access/"}, depends_on=[source, target])


def irsa_trust(namespace_: str, account: str) -> str:
    return doc({"Effect": "Allow", "Principal": {"Federated": OIDC_ARN},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {f"{OIDC}:sub": f"system:serviceaccount:{namespace_}:{account}",
                                               f"{OIDC}:aud": "sts.amazonaws.com"}}})


def tenant_role(tenant: str = "acme") -> dict[str, Any]:
    return resource("aws:iam/role:Role", f"{tenant}-fileserver-role", {
        "name": f"tp-{ENV}-{tenant}-fileserver",
        "assumeRolePolicy": irsa_trust(f"tenant-{tenant}", "fileserver"),
        "inlinePolicies": [{"name": "files", "policy": doc(
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
             "Resource": [f"arn:aws:s3:::tp-{ENV}-{tenant}-files/*"]},
            {"Effect": "Allow", "Action": ["s3:ListBucket"],
             "Resource": [f"arn:aws:s3:::tp-{ENV}-{tenant}-files"]},
            {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
             "Resource": [key_arn(tenant)]})}],
        "tags": tags(tenant)})


def chatbot_role(tenant: str = "acme") -> dict[str, Any]:
    return resource("aws:iam/role:Role", f"{tenant}-chatbot-role", {
        "name": f"tp-{ENV}-{tenant}-chatbot",
        "assumeRolePolicy": doc({"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                                 "Action": ["sts:AssumeRole", "sts:TagSession"]}),
        "tags": tags(tenant)})


def profile_arn(tenant: str) -> str:
    """The tenant's application inference profile for ``MODEL`` (its metered way to Bedrock)."""
    return f"arn:aws:bedrock:{REGION}:{ACCOUNT}:application-inference-profile/{tenant}0profile"


def chatbot_policy(tenant: str = "acme") -> dict[str, Any]:
    """Invoke the tenant's profile, and the model only through it (components/token_budget.py)."""
    actions = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    return resource("aws:iam/rolePolicy:RolePolicy", f"{tenant}-chatbot-bedrock", {
        "role": f"tp-{ENV}-{tenant}-chatbot",
        "policy": doc({"Sid": "InvokeAllowedModels", "Effect": "Allow", "Action": actions,
                       "Resource": [profile_arn(tenant)]},
                      {"Effect": "Allow", "Action": actions,
                       "Resource": [f"arn:aws:bedrock:{REGION}::foundation-model/{MODEL}"],
                       "Condition": {"ArnEquals": {"bedrock:InferenceProfileArn": [profile_arn(tenant)]}}})},
        depends_on=[chatbot_role(tenant)])


def token_alarm(tenant: str = "acme") -> dict[str, Any]:
    """The tenant's token budget alarm at its plan's (standard) tokens_per_day."""
    guard = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:tp-{ENV}-{tenant}-token-budget-guard"
    queries = [{"id": f"{m[0].lower()}0", "returnData": False, "metric": {
        "namespace": "AWS/Bedrock", "metricName": m, "stat": "Sum", "period": 86400,
        "dimensions": {"ModelId": profile_arn(tenant)}}} for m in ("InputTokenCount", "OutputTokenCount")]
    queries.append({"id": "tokens", "expression": "SUM([i0,o0])", "returnData": True})
    return resource("aws:cloudwatch/metricAlarm:MetricAlarm", f"{tenant}-token-alarm", {
        "name": f"tp-{ENV}-{tenant}-chatbot-token-budget", "threshold": 2000000,
        "comparisonOperator": "GreaterThanOrEqualToThreshold", "evaluationPeriods": 1,
        "evaluationWindow": {"wallClockWindow": {"timezone": "UTC"}}, "metricQueries": queries,
        "alarmActions": [guard], "okActions": [guard], "tags": tags(tenant)})


def budget_guard(tenant: str = "acme") -> list[dict[str, Any]]:
    """The tenant's budget guard function and the permission that lets its alarm invoke it."""
    name = f"tp-{ENV}-{tenant}-token-budget-guard"
    function = resource("aws:lambda/function:Function", f"{tenant}-budget-guard", {
        "name": name, "runtime": "python3.12", "handler": "token_budget_guard.handler",
        "role": f"arn:aws:iam::{ACCOUNT}:role/tp-{ENV}-{tenant}-budget-guard",
        "environment": {"variables": {"ROLE_NAME": f"tp-{ENV}-{tenant}-chatbot",
                                      "ALARM_NAME": f"tp-{ENV}-{tenant}-chatbot-token-budget",
                                      "POLICY_NAME": "token-budget-exhausted"}},
        "tags": tags(tenant)})
    permission = resource("aws:lambda/permission:Permission", f"{tenant}-budget-guard-from-alarm", {
        "function": name, "action": "lambda:InvokeFunction",
        "principal": "lambda.alarms.cloudwatch.amazonaws.com",
        "sourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:tp-{ENV}-{tenant}-chatbot-token-budget",
        "sourceAccount": ACCOUNT})
    return [function, permission]


def pod_identity(tenant: str = "acme") -> dict[str, Any]:
    return resource("aws:eks/podIdentityAssociation:PodIdentityAssociation", f"{tenant}-chatbot-identity", {
        "clusterName": "tp-prod-cell-apne1-01", "namespace": f"tenant-{tenant}",
        "serviceAccount": "chatbot", "roleArn": f"arn:aws:iam::{ACCOUNT}:role/tp-{ENV}-{tenant}-chatbot",
        "tags": tags(tenant)}, depends_on=[chatbot_role(tenant)])


def db_secret(tenant: str = "acme") -> dict[str, Any]:
    return resource("aws:secretsmanager/secret:Secret", f"{tenant}-db-secret", {
        "name": f"tp/{ENV}/{tenant}/db", "kmsKeyId": key_arn(tenant, "secrets"),
        "tags": tags(tenant)}, protect=True)


def secret_rotation(tenant: str = "acme") -> dict[str, Any]:
    secret = db_secret(tenant)
    return resource("aws:secretsmanager/secretRotation:SecretRotation", f"{tenant}-db-rotation", {
        "secretId": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:tp/{ENV}/{tenant}/db-AbCdEf",
        "rotationLambdaArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:tp-{ENV}-rotate-db",
        "rotationRules": {"automaticallyAfterDays": 30}}, depends_on=[secret])


def tenant_data(tenant: str) -> list[dict[str, Any]]:
    """A tenant's keys, buckets, roles and secrets."""
    files_key, secrets_key = kms_key(tenant, "files"), kms_key(tenant, "secrets")
    files, logs = bucket(tenant, "files"), bucket(tenant, "logs")
    return [files_key, secrets_key, files, logs,
            public_access_block(files), public_access_block(logs),
            encryption(files, files_key), encryption(logs, None), bucket_logging(files, logs),
            tenant_role(tenant), chatbot_role(tenant), chatbot_policy(tenant), pod_identity(tenant),
            token_alarm(tenant), *budget_guard(tenant), db_secret(tenant), secret_rotation(tenant)]


# --- AWS and cluster: the platform -------------------------------------------------------
def eks_cluster(tenant: str | None = None) -> dict[str, Any]:
    name = f"tp-{ENV}-{tenant}" if tenant else f"tp-{ENV}-cell-apne1-01"
    operator = tenant or "acme"
    return resource("eks:index:Cluster", f"{name}-eks", {
        "name": name, "endpointPrivateAccess": True, "endpointPublicAccess": False,
        "encryptionConfigKeyArn": key_arn(tenant or "cell", "eks"),
        "enabledClusterLogTypes": ["api", "audit", "authenticator"], "authenticationMode": "API",
        "createOidcProvider": True, "skipDefaultNodeGroup": True,
        "accessEntries": {
            "platform-admin": {"principalArn": f"arn:aws:iam::{ACCOUNT}:role/tp-{ENV}-cell-apne1-01-admin",
                               "accessPolicies": {"admin": {
                                   "policyArn": ACCESS_POLICY + "AmazonEKSClusterAdminPolicy",
                                   "accessScope": {"type": "cluster"}}}},
            "tenant-operator": {"principalArn": f"arn:aws:iam::{ACCOUNT}:role/tp-{ENV}-{operator}-operator",
                                "accessPolicies": {"edit": {
                                    "policyArn": ACCESS_POLICY + "AmazonEKSEditPolicy",
                                    "accessScope": {"type": "namespace",
                                                    "namespaces": [f"tenant-{operator}"]}}}},
        },
        "tags": tags(tenant) if tenant else {"environment": ENV, "managed-by": "tenant-platform"},
    }, custom=False)


def _platform_tags(tenant: str | None) -> dict[str, str]:
    return tags(tenant) if tenant else {"environment": ENV, "managed-by": "tenant-platform"}


def cni_role(tenant: str | None = None) -> dict[str, Any]:
    return resource("aws:iam/role:Role", "vpc-cni-role", {
        "assumeRolePolicy": irsa_trust("kube-system", "aws-node"), "tags": _platform_tags(tenant)})


def cni_attachment(tenant: str | None = None) -> dict[str, Any]:
    return resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "vpc-cni-policy", {
        "role": "vpc-cni-role-id", "policyArn": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"},
        depends_on=[cni_role(tenant)])


def vpc_cni(tenant: str | None = None) -> dict[str, Any]:
    return resource("aws:eks/addon:Addon", "vpc-cni", {
        "clusterName": "tp-prod-cell-apne1-01", "addonName": "vpc-cni",
        "configurationValues": json.dumps({"enableNetworkPolicy": "true",
                                           "env": {"ENABLE_POD_ENI": "false"}}),
        "serviceAccountRoleArn": f"arn:aws:iam::{ACCOUNT}:role/vpc-cni-role",
        "tags": _platform_tags(tenant)}, depends_on=[cni_role(tenant)])


def node_role(tenant: str | None = None) -> dict[str, Any]:
    return resource("aws:iam/role:Role", "node-role", {
        "assumeRolePolicy": doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                 "Action": "sts:AssumeRole"}),
        "tags": _platform_tags(tenant)})


def node_attachments(tenant: str | None = None) -> list[dict[str, Any]]:
    return [resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", f"node-{policy}", {
        "role": "node-role-id", "policyArn": f"arn:aws:iam::aws:policy/{policy}"},
        depends_on=[node_role(tenant)])
        for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly",
                       "AmazonSSMManagedInstanceCore")]


def launch_template(tenant: str | None = None) -> dict[str, Any]:
    return resource("aws:ec2/launchTemplate:LaunchTemplate", "nodes-lt", {
        "metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required",
                            "httpPutResponseHopLimit": 1},
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {
            "encrypted": "true", "kmsKeyId": key_arn(tenant or "cell", "ebs"), "volumeSize": 100,
            "volumeType": "gp3"}}],
        "networkInterfaces": [{"associatePublicIpAddress": "false"}],
        "tags": _platform_tags(tenant)})


def node_group(tenant: str = POOL_TENANT) -> dict[str, Any]:
    return resource("eks:index:ManagedNodeGroup", f"{tenant}-pool", {
        "clusterName": "tp-prod-cell-apne1-01", "nodeGroupName": f"tenant-{tenant}",
        "nodeRoleArn": f"arn:aws:iam::{ACCOUNT}:role/node-role",
        "subnetIds": ["subnet-a", "subnet-b"],
        "scalingConfig": {"minSize": 2, "maxSize": 4, "desiredSize": 2},
        "taints": [{"key": "tenant", "value": tenant, "effect": "NO_SCHEDULE"}],
        "labels": {"tenant": tenant, "tier": TIERS[tenant]},
        "launchTemplate": {"id": "lt-0abc", "version": "1"},
        "tags": tags(tenant)}, custom=False)


def vpc(tenant: str | None = None) -> dict[str, Any]:
    return resource("aws:ec2/vpc:Vpc", "vpc", {
        "cidrBlock": "10.0.0.0/16", "enableDnsHostnames": True, "tags": _platform_tags(tenant)})


def flow_log(tenant: str | None = None) -> dict[str, Any]:
    return resource("aws:ec2/flowLog:FlowLog", "vpc-flow-log", {
        "vpcId": "vpc-id", "trafficType": "ALL", "logDestinationType": "cloud-watch-logs",
        "logGroupName": "/tp/prod/vpc", "tags": _platform_tags(tenant)}, depends_on=[vpc(tenant)])


def subnet(tenant: str | None = None) -> dict[str, Any]:
    return resource("aws:ec2/subnet:Subnet", "private-a", {
        "vpcId": "vpc-id", "cidrBlock": "10.0.0.0/19", "mapPublicIpOnLaunch": False,
        "tags": _platform_tags(tenant)}, depends_on=[vpc(tenant)])


def db_security_group(tenant: str | None = None) -> dict[str, Any]:
    return resource("aws:ec2/securityGroup:SecurityGroup", "db-sg", {
        "vpcId": "vpc-id", "description": "database",
        "ingress": [{"protocol": "tcp", "fromPort": 5432, "toPort": 5432,
                     "securityGroups": ["sg-nodes"]}],
        "egress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["10.0.0.0/16"]}],
        "tags": _platform_tags(tenant)})


def db_instance(tenant: str | None = None) -> dict[str, Any]:
    return resource("aws:rds/instance:Instance", "db", {
        "identifier": f"tp-{ENV}-cell-apne1-01-db", "engine": "postgres", "instanceClass": "db.r6g.large",
        "publiclyAccessible": False, "dbSubnetGroupName": "tp-prod-db-private",
        "storageEncrypted": True, "kmsKeyId": key_arn(tenant or "cell", "db"),
        "performanceInsightsEnabled": True, "performanceInsightsKmsKeyId": key_arn(tenant or "cell", "db"),
        "iamDatabaseAuthenticationEnabled": True, "vpcSecurityGroupIds": ["sg-db"],
        "tags": _platform_tags(tenant)}, protect=True)


def db_proxy(tenants: Sequence[str] = ("acme",), owner: str | None = None) -> dict[str, Any]:
    return resource("aws:rds/proxy:Proxy", "db-proxy", {
        "engineFamily": "POSTGRESQL", "requireTls": True, "debugLogging": False,
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/tp-prod-cell-apne1-01-proxy",
        "vpcSubnetIds": ["subnet-a", "subnet-b"], "vpcSecurityGroupIds": ["sg-proxy"],
        "auths": [{"authScheme": "SECRETS", "iamAuth": "REQUIRED",
                   "secretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:tp/{ENV}/{t}/db-AbCdEf"}
                  for t in tenants],
        "tags": _platform_tags(owner)})


def mesh_peer_authentication() -> dict[str, Any]:
    return resource("kubernetes:security.istio.io/v1:PeerAuthentication", "mesh-mtls", {
        "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "istio-system"},
        "spec": {"mtls": {"mode": "STRICT"}}})


def ecr_repository() -> dict[str, Any]:
    return resource("aws:ecr/repository:Repository", "fileserver-repo", {
        "name": "tenant-platform/fileserver", "imageTagMutability": "IMMUTABLE",
        "imageScanningConfiguration": {"scanOnPush": True},
        "encryptionConfigurations": [{"encryptionType": "KMS"}]})


def storage_class() -> dict[str, Any]:
    return resource("kubernetes:storage.k8s.io/v1:StorageClass", "gp3", {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "gp3"},
        "provisioner": "ebs.csi.aws.com", "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
        "parameters": {"type": "gp3", "encrypted": "true"}})


def monitoring_binding() -> dict[str, Any]:
    """A platform ClusterRoleBinding (no tenant subject)."""
    return resource("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "prometheus-view", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "prometheus-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "prometheus", "namespace": "monitoring"}]})


def platform_release() -> dict[str, Any]:
    """A platform Helm release (policies only flag tenant-facing ones)."""
    return resource("kubernetes:helm.sh/v3:Release", "metrics-server", {
        "chart": "metrics-server", "version": "3.13.0", "namespace": "kube-system",
        "repositoryOpts": {"repo": "https://kubernetes-sigs.github.io/metrics-server"}, "values": {}},
        custom=False)


def platform(tenant: str | None = None) -> list[dict[str, Any]]:
    """Cluster-level resources; ``tenant`` owns them in a dedicated stack."""
    return [eks_cluster(tenant), cni_role(tenant), cni_attachment(tenant), vpc_cni(tenant),
            node_role(tenant), *node_attachments(tenant), launch_template(tenant), vpc(tenant),
            flow_log(tenant), subnet(tenant), db_security_group(tenant), db_instance(tenant),
            db_proxy((tenant,) if tenant else ("acme", "bolt"), tenant),
            mesh_peer_authentication(), ecr_repository(), storage_class(), monitoring_binding(),
            platform_release(), external_dns_chart()]


def shared_stack() -> list[dict[str, Any]]:
    """A cell: the platform plus a namespace, a node and a vcluster tenant."""
    stack = platform() + [node_group()]
    for tenant in ("acme", "bolt", "cirrus"):
        stack += tenant_fences(tenant) + tenant_workloads(tenant)
    stack += tenant_data("acme") + tenant_data("bolt")
    return stack


def dedicated_stack() -> list[dict[str, Any]]:
    """A cluster-tier tenant's own stack."""
    return platform("delta") + tenant_fences("delta") + tenant_workloads("delta") + tenant_data("delta")
