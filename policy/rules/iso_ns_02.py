"""ISO-NS-02: tenant namespaces enforce the restricted Pod Security Standard, pinned."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from policy import kube, tenancy
from policy.rule import Resource, ResourceRule, RuleConfig

PSA = "pod-security.kubernetes.io/"
PINNED_VERSION = re.compile(r"^v1\.\d+$")

MSG_ENFORCE = "Label the tenant Namespace pod-security.kubernetes.io/enforce=restricted."
MSG_VERSION = ("Pin pod-security.kubernetes.io/enforce-version to a Kubernetes minor version "
               "(e.g. v1.33), not 'latest'.")
MSG_AUDIT = "Label the tenant Namespace pod-security.kubernetes.io/audit=restricted."
MSG_WARN = "Label the tenant Namespace pod-security.kubernetes.io/warn=restricted."


IS_NAMESPACE = kube.matcher("Namespace")
IS_NAMESPACE_PATCH = kube.matcher("NamespacePatch")
#: What each PSA label must hold: (key, test, message).
LABELS: tuple[tuple[str, Callable[[object], bool], str], ...] = (
    (PSA + "enforce", lambda v: v == "restricted", MSG_ENFORCE),
    (PSA + "enforce-version", lambda v: isinstance(v, str) and bool(PINNED_VERSION.match(v)),
     MSG_VERSION),
    (PSA + "audit", lambda v: v == "restricted", MSG_AUDIT),
    (PSA + "warn", lambda v: v == "restricted", MSG_WARN),
)


def _tenant_namespace(res: Resource) -> bool:
    """A tenant's Namespace: tenant label, else its name (``tenant-<id>``).

    The name counts on its own so that a Namespace or NamespacePatch that drops the tenant
    label is still judged (the rule's scope is ``all`` for that reason).
    """
    return (tenancy.tenant_of(res.type, res.props) is not None
            or tenancy.tenant_of_namespace(kube.name(res.props)) is not None)


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if not _tenant_namespace(res):
        return
    labels = kube.labels(res.props)
    # A NamespacePatch (Server-Side Apply) writes only the labels it names: those must be right.
    patch = IS_NAMESPACE_PATCH(res.type)
    for key, valid, message in LABELS:
        if (not patch or key in labels) and not valid(labels.get(key)):
            yield message


RULE = ResourceRule(
    id="ISO-NS-02",
    description=(
        "Tenant namespaces enforce, audit and warn the restricted Pod Security Standard at a "
        "pinned version."
    ),
    severity="high", tiers="NPVD", scope="all",
    applies_to=lambda t: IS_NAMESPACE(t) or IS_NAMESPACE_PATCH(t), check=check)
