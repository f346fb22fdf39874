"""ISO-POD-13: digest-pinned images from ECR, pulled Always on shared nodes.

Images never come from another tenant's repositories, and ECR repositories scan on push
with immutable tags.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from policy import kube, tenancy
from policy.props import as_map, is_true, text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_DIGEST = "Pin every image by digest (image@sha256:...)."
MSG_REGISTRY = "Pull images only from the platform's ECR registries (option allowedRegistries)."
MSG_OTHER_TENANT_REPOSITORY = "Pull only from the tenant's own ECR repositories, never another tenant's."
MSG_PULL_ALWAYS = "Set imagePullPolicy: Always on shared nodes (namespace and vcluster tiers)."
MSG_SCAN_ON_PUSH = "Enable imageScanningConfiguration.scanOnPush on the ECR repository."
MSG_IMMUTABLE_TAGS = "Set imageTagMutability to IMMUTABLE on the ECR repository."

ECR_REPOSITORY = "aws:ecr/repository:Repository"
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
SHARED_NODE_TIERS = frozenset({"N", "V"})


def _repository(image: str) -> str:
    """The repository path of an image reference, without registry, tag or digest."""
    path = image.split("@", 1)[0]
    path = path.split("/", 1)[1] if "/" in path else path
    return path.rsplit(":", 1)[0] if ":" in path.rsplit("/", 1)[-1] else path


def _check_repository(res: Resource) -> Iterator[str]:
    if not is_true(as_map(res.props.get("imageScanningConfiguration")).get("scanOnPush")):
        yield MSG_SCAN_ON_PUSH
    if res.props.get("imageTagMutability") != "IMMUTABLE":
        yield MSG_IMMUTABLE_TAGS


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if res.type == ECR_REPOSITORY:
        yield from _check_repository(res)
        return
    tenant = tenancy.tenant_of(res.type, res.props)
    registries = [re.compile(p) for p in cfg.option("allowedRegistries")]
    shared = tenancy.tier_of(res.type, res.props) in SHARED_NODE_TIERS | {None}
    for container in kube.containers(kube.pod_template(res.type, res.props)):
        image = text(container.body.get("image")) or ""
        if not DIGEST.search(image):
            yield MSG_DIGEST
        if not any(r.match(image) for r in registries):
            yield MSG_REGISTRY
        repository = _repository(image)
        if tenancy.looks_tenant_owned(repository) and not (
                tenant and tenancy.tenants_named_in(repository, [tenant])):
            yield MSG_OTHER_TENANT_REPOSITORY
        if shared and container.body.get("imagePullPolicy") != "Always":
            yield MSG_PULL_ALWAYS


RULE = ResourceRule(
    id="ISO-POD-13",
    description=(
        "Tenant images are digest-pinned and come from ECR (never another tenant's repositories),"
        " are pulled Always on shared nodes, and ECR repositories scan on push with immutable "
        "tags."
    ),
    severity="medium", tiers="NPV", scope="k8s-tenant",
    options={"allowedRegistries": {
        "type": "array", "items": {"type": "string"},
        "default": [r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/"],
        "description": "Regular expressions an image reference must match (from its start)."}},
    applies_to=lambda t: kube.is_workload(t) or t == ECR_REPOSITORY, check=check)
