"""Builders for test inputs: resolved tenants and cluster references from literals."""

from __future__ import annotations

from typing import Any

import pulumi_kubernetes as k8s

from components.context import ClusterRef, TenantContext
from tenants.loader import ResolvedTenant
from tenants.models import TenantRecord, Tier
from tenants.plans import load_plans

ACCOUNT_ID = "123456789012"
OIDC_ISSUER = "oidc.eks.ap-northeast-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
#: Released image digests of test registries and contexts (``_platform.yaml`` ``images``).
TEST_IMAGES = {"fileserver": "sha256:" + "1" * 64, "chatbot": "sha256:" + "2" * 64}


def make_tenant(tenant_id: str = "acme", tier: str = "namespace", plan: str = "standard",
                **fields: Any) -> ResolvedTenant:
    """A resolved tenant as the loader would produce it (cell/CIDR given or defaulted)."""
    cell = fields.pop("resolved_cell", None if tier == "cluster" else "apne1-01")
    cidr = fields.pop("resolved_cidr", "10.128.0.0/18" if tier == "cluster" else None)
    record = TenantRecord.model_validate({"id": tenant_id, "tier": tier, "plan": plan, **fields})
    return ResolvedTenant(
        record=record, plan=load_plans()[plan], region=record.region or "ap-northeast-1",
        hostname=record.hostname or f"{tenant_id}.files.example.com", cell=cell,
        network_cidr=cidr if record.tier is Tier.CLUSTER else None, source=f"{tenant_id}.yaml")


def make_context(tenant_id: str = "acme", tier: str = "namespace", plan: str = "standard",
                 environment: str = "prod", **fields: Any) -> TenantContext:
    """A TenantContext for component tests."""
    return TenantContext(tenant=make_tenant(tenant_id, tier, plan, **fields), environment=environment,
                         images=TEST_IMAGES)


def make_cluster_ref(name: str = "tp-prod-cell-apne1-01", *, dedicated_pools: bool = True,
                     runner_security_group_ids: tuple[str, ...] = ()) -> ClusterRef:
    """A ClusterRef with literal outputs. Call it inside a program run (it declares a provider)."""
    provider = k8s.Provider(f"{name}-k8s", kubeconfig="{}")
    return ClusterRef(
        name=name, provider=provider,
        oidc_provider_arn=f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{OIDC_ISSUER}",
        oidc_issuer=OIDC_ISSUER, vpc_id="vpc-0abc", vpc_cidr="10.0.0.0/16",
        private_subnet_ids=["subnet-a", "subnet-b", "subnet-c"],
        node_security_group_id="sg-nodes", region="ap-northeast-1", account_id=ACCOUNT_ID,
        dedicated_pools=dedicated_pools, runner_security_group_ids=runner_security_group_ids)
