"""ISO-NS-02: tenant namespaces enforce the restricted Pod Security Standard, pinned."""

from __future__ import annotations

import re
from collections.abc import Iterator

from policy import kube
from policy.rule import Resource, ResourceRule, RuleConfig

PSA = "pod-security.kubernetes.io/"
PINNED_VERSION = re.compile(r"^v1\.\d+$")

MSG_ENFORCE = "Label the tenant Namespace pod-security.kubernetes.io/enforce=restricted."
MSG_VERSION = ("Pin pod-security.kubernetes.io/enforce-version to a Kubernetes minor version "
               "(e.g. v1.33), not 'latest'.")
MSG_AUDIT = "Label the tenant Namespace pod-security.kubernetes.io/audit=restricted."
MSG_WARN = "Label the tenant Namespace pod-security.kubernetes.io/warn=restricted."


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    labels = kube.labels(res.props)
    if labels.get(PSA + "enforce") != "restricted":
        yield MSG_ENFORCE
    version = labels.get(PSA + "enforce-version")
    if not (isinstance(version, str) and PINNED_VERSION.match(version)):
        yield MSG_VERSION
    if labels.get(PSA + "audit") != "restricted":
        yield MSG_AUDIT
    if labels.get(PSA + "warn") != "restricted":
        yield MSG_WARN


RULE = ResourceRule(
    id="ISO-NS-02",
    description=(
        "Tenant namespaces enforce, audit and warn the restricted Pod Security Standard at a "
        "pinned version."
    ),
    severity="high", tiers="NPVD", scope="tenant",
    applies_to=kube.matcher("Namespace"), check=check)
