"""ISO-NET-12: external-dns publishes only from the platform's sources.

external-dns writes public DNS records for whatever its sources declare. The platform
points it at the ingress gateway's Gateways only (which live in the ingress namespace,
out of tenants' reach); a source such as ``service``, ``ingress``, ``crd`` (DNSEndpoint),
``istio-virtualservice`` or ``gateway-httproute`` reads objects tenants can write, so one
tenant could publish, or take over, another tenant's host name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from policy import helm
from policy.props import as_list
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_SOURCES = ("Limit external-dns sources (values.sources and --source args) to the platform's "
               "(option allowedSources, default istio-gateway).")

SOURCE_ARG = re.compile(r"^--source(?:=(?P<value>.+))?$")


def sources(values: Mapping[str, Any]) -> list[str]:
    """Every source the chart's values configure: ``sources`` and ``--source`` arguments."""
    found = [str(s) for s in as_list(values.get("sources"))]
    args = [str(a) for a in as_list(values.get("extraArgs"))]
    for i, arg in enumerate(args):
        match = SOURCE_ARG.match(arg.strip())
        if match is None:
            continue
        value = match.group("value") or (args[i + 1] if i + 1 < len(args) else "")
        found.append(value)
    return found


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if helm.chart_name(res.props) != "external-dns":
        return
    found = sources(helm.values(res.props))
    allowed = {str(s) for s in cfg.option("allowedSources")}
    if not found or any(s not in allowed for s in found):
        yield MSG_SOURCES


RULE = ResourceRule(
    id="ISO-NET-12",
    description=(
        "external-dns reads only the platform's sources (the ingress gateway's Gateways), never "
        "objects tenants can write (Services, Ingresses, DNSEndpoints, VirtualServices, routes)."
    ),
    severity="high", tiers="NPVD", scope="all",
    options={"allowedSources": {
        "type": "array", "items": {"type": "string"}, "default": ["istio-gateway"],
        "description": "external-dns sources the platform configures."}},
    applies_to=helm.is_chart_type, check=check)
