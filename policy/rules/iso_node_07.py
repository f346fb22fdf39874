"""ISO-NODE-07: untrusted code on shared nodes runs under a sandbox runtime or Fargate."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube, tenancy
from policy.props import as_map, text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_SANDBOX = ("Run tenant code under a sandbox RuntimeClass (option sandboxRuntimeClasses) or "
               "on Fargate; label pods built by the platform isolation.tenant-platform.io/code=platform.")
MSG_HANDLER = "Point the sandbox RuntimeClass at a sandbox handler (option sandboxHandlers)."

IS_RUNTIME_CLASS = kube.matcher("node.k8s.io/RuntimeClass")
FARGATE_SELECTOR = "eks.amazonaws.com/compute-type"


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if IS_RUNTIME_CLASS(res.type):
        if kube.name(res.props) in cfg.option("sandboxRuntimeClasses") \
                and res.props.get("handler") not in cfg.option("sandboxHandlers"):
            yield MSG_HANDLER
        return
    if tenancy.tenant_of(res.type, res.props) is None:
        return
    template = kube.pod_template(res.type, res.props)
    label, _, trusted = str(cfg.option("trustedCodeLabel")).partition("=")
    if template.labels.get(label) == trusted:
        return
    runtime = text(template.spec.get("runtimeClassName"))
    on_fargate = as_map(template.spec.get("nodeSelector")).get(FARGATE_SELECTOR) == "fargate"
    if runtime not in cfg.option("sandboxRuntimeClasses") and not on_fargate:
        yield MSG_SANDBOX


RULE = ResourceRule(
    id="ISO-NODE-07",
    description=(
        "On shared nodes, tenant code that the platform did not build runs under a sandbox "
        "RuntimeClass (gVisor, Kata) or on Fargate."
    ),
    severity="medium", tiers="N", scope="all",
    options={
        "sandboxRuntimeClasses": {"type": "array", "items": {"type": "string"},
                                  "default": ["gvisor", "kata"],
                                  "description": "RuntimeClass names that sandbox pods."},
        "sandboxHandlers": {"type": "array", "items": {"type": "string"},
                            "default": ["runsc", "kata", "kata-qemu", "kata-fc", "kata-clh"],
                            "description": "Container runtime handlers that sandbox pods."},
        "trustedCodeLabel": {"type": "string", "default": "isolation.tenant-platform.io/code=platform",
                             "description": "Pod label (key=value) marking platform-built images."},
    },
    applies_to=lambda t: kube.is_workload(t) or IS_RUNTIME_CLASS(t), check=check)
