"""ISO-META-02: tenant charts are Helm v4 Charts, whose objects policies can see.

High, not the catalogue's medium: a tenant-facing helm.sh/v3:Release installs objects no
rule of the pack ever sees, so a privileged pod or a cluster-admin binding inside it
would pass every mandatory rule. A gate bypass has to block.
"""

from __future__ import annotations

from collections.abc import Iterator

from policy import helm
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_RELEASE = ("Deploy tenant-facing charts with kubernetes:helm.sh/v4:Chart; a helm.sh/v3:Release "
               "hides its manifests from policies.")


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    yield MSG_RELEASE


RULE = ResourceRule(
    id="ISO-META-02",
    description=(
        "Tenant charts use kubernetes:helm.sh/v4:Chart; helm.sh/v3:Release is flagged because its"
        " manifests are invisible to policies."
    ),
    severity="high", tiers="NPV", scope="tenant",
    applies_to=lambda t: t == helm.RELEASE_V3, check=check)
