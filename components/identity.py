"""WorkloadIdentity: one workload's own IAM role (IRSA) and its Kubernetes ServiceAccount.

Every tenant workload runs as a ServiceAccount of its own, never ``default``, and that
account is the only principal its IAM role trusts: the trust policy pins both the token's
subject (``system:serviceaccount:<namespace>:<account>``) and its audience
(``sts.amazonaws.com``) with ``StringEquals`` (ISO-IAM-01). ``StringLike`` or a missing
``:aud`` condition would let any account in the cluster assume the role.

The ServiceAccount turns token automounting off (ISO-RBAC-07): the workload does not talk
to the Kubernetes API, and the projected web-identity token that IRSA needs is mounted by
EKS's pod identity webhook independently of automounting. The pod templates must turn it
off too; a pod's setting overrides its account's.

The role carries no permissions here: the component that knows what the workload does
(FileServerStack, ChatbotStack) attaches least-privilege policies to ``.role``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.context import ClusterRef, TenantContext
from components.iam_documents import platform_admin_role_arn
from tenants import naming

#: Annotation EKS's pod identity webhook reads to inject the role's web-identity token.
ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
#: Use the regional STS endpoint (lower latency, no dependency on us-east-1).
REGIONAL_STS_ANNOTATION = "eks.amazonaws.com/sts-regional-endpoints"
STS_AUDIENCE = "sts.amazonaws.com"


def object_name(meta: Any) -> str:
    """The name in a Kubernetes resource's ``metadata`` output (always set by the platform)."""
    if not meta.name:
        raise ValueError("a platform object has no metadata.name")
    return str(meta.name)


def service_account_subject(namespace: str, service_account: str) -> str:
    """The ``sub`` claim of a ServiceAccount's projected token."""
    return f"system:serviceaccount:{namespace}:{service_account}"


def irsa_trust_policy(oidc_provider_arn: str, oidc_issuer: str, namespace: str,
                      service_account: str) -> dict[str, Any]:
    """Trust policy letting exactly one ServiceAccount assume a role through IRSA.

    ``oidc_issuer`` is the issuer host and path without ``https://`` (as IAM condition
    keys spell it); a scheme is rejected rather than silently producing a condition key
    that never matches.
    """
    if "://" in oidc_issuer or not oidc_issuer:
        raise ValueError(f"OIDC issuer {oidc_issuer!r} must be host/path without a scheme")
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "IrsaOneServiceAccount",
            "Effect": "Allow",
            "Principal": {"Federated": oidc_provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{oidc_issuer}:sub": service_account_subject(namespace, service_account),
                f"{oidc_issuer}:aud": STS_AUDIENCE,
            }},
        }],
    }


def restore_trust_policy(admin_role_arn: str) -> dict[str, Any]:
    """Trust of a retired workload role whose cluster is gone (data-only stack).

    The role stays because the kept bucket's and key's policies name it (KMS refuses a
    key policy naming a role that does not exist), but no ServiceAccount can assume it
    any more: only the platform admin role may, to restore the kept files deliberately.
    """
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "RestoreByPlatformAdminOnly", "Effect": "Allow",
        "Principal": {"AWS": admin_role_arn}, "Action": "sts:AssumeRole"}]}


@dataclass(frozen=True, kw_only=True)
class WorkloadIdentityArgs:
    """Inputs of :class:`WorkloadIdentity`.

    ``namespace`` is the tenant namespace's name as an output of the Namespace resource,
    so that the ServiceAccount is created after its namespace.
    """

    ctx: TenantContext
    cluster: ClusterRef
    workload: str
    namespace: pulumi.Input[str]


class WorkloadIdentity(pulumi.ComponentResource):
    """A workload's IAM role (IRSA trust only) and the ServiceAccount annotated with it."""

    role: aws.iam.Role
    role_name: pulumi.Output[str]
    service_account_name: pulumi.Output[str]

    def __init__(self, name: str, args: WorkloadIdentityArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-platform:index:WorkloadIdentity", name, None, opts)
        if args.workload not in naming.WORKLOADS:
            raise ValueError(f"workload {args.workload!r} is not one of {naming.WORKLOADS}")
        ctx, cluster = args.ctx, args.cluster
        names = ctx.names
        account = names.service_account(args.workload)
        trust: pulumi.Output[str]
        if cluster.serving:
            trust = pulumi.Output.all(cluster.oidc_provider_arn, cluster.oidc_issuer, args.namespace).apply(
                lambda v: json.dumps(irsa_trust_policy(v[0], v[1], v[2], account)))
        else:
            trust = pulumi.Output.from_input(cluster.account_id).apply(lambda a: json.dumps(
                restore_trust_policy(platform_admin_role_arn(cluster.partition, a, ctx.environment))))
        self.role = aws.iam.Role(
            f"{name}-role",
            name=names.iam_role(args.workload),
            description=f"IRSA role of {args.workload} for tenant {ctx.id}",
            assume_role_policy=trust,
            max_session_duration=3600,
            tags={**ctx.tags, "workload": args.workload},
            opts=pulumi.ResourceOptions(parent=self))
        self.role_name = self.role.name
        if not cluster.serving:  # no cluster: no ServiceAccount
            self.service_account_name = pulumi.Output.from_input(account)
            self.register_outputs({"role": self.role, "role_name": self.role_name})
            return
        labels = {**ctx.labels, "app.kubernetes.io/name": args.workload}
        service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata={
                "name": account,
                "namespace": args.namespace,
                "labels": labels,
                "annotations": {ROLE_ARN_ANNOTATION: self.role.arn, REGIONAL_STS_ANNOTATION: "true"},
            },
            automount_service_account_token=False,
            opts=pulumi.ResourceOptions(parent=self, provider=cluster.provider))
        self.service_account_name = service_account.metadata.apply(object_name)
        self.register_outputs({"role": self.role, "role_name": self.role_name,
                               "service_account_name": self.service_account_name})
