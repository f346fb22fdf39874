"""ISO-ADM-01 (stack): every cluster declares the platform's tenant admission, unweakened.

A stack with an EKS cluster must declare each policy of :mod:`components.admission` once,
exactly as the platform renders it for that cluster (``failurePolicy: Fail``, the same
match rules, conditions, variables and validations), and one binding per policy with
``validationActions: [Deny]`` over every tenant namespace. The cluster-specific literals
are read back and checked: the deployer exemption must be the assumed-role prefix of the
cluster's one cluster-admin access entry (an empty or foreign prefix would exempt
everyone), and the image prefix must keep the tenant id from the namespace. Everything else
is compared with the expected rendering, so a dropped binding, ``Warn``, ``Ignore``, a
narrowed selector or an edited expression all fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from components import admission
from policy.props import as_map, text
from policy.rule import Finding, Resource, RuleConfig, StackRule

CLUSTER = "aws:eks/cluster:Cluster"
POLICY = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
BINDING = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
ROLE_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role/(?:.*/)?(?P<name>[^/]+)$")
STARTS_WITH = re.compile(r"startsWith\((\"(?:[^\"\\]|\\.)*\")\)")

MSG_MISSING = ("Declare every platform admission policy and its binding, as components/admission.py "
               "renders them.")
MSG_DUPLICATE = "Declare each admission policy and its binding once."
MSG_WEAKENED = ("Restore the admission policy as the platform renders it (failurePolicy Fail, same "
                "rules and expressions).")
MSG_BINDING = "Bind each admission policy with validationActions [Deny] over every tenant namespace."
MSG_DEPLOYER = ("Limit the admission policies' deployer exemption to the cluster-admin access entry's "
                "assumed-role prefix.")


def _plain(value: Any) -> Any:
    """Engine values (read-only mappings, tuples) as plain dicts and lists, to compare."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain(v) for v in value]
    return value


def _name(res: Resource) -> str:
    return text(as_map(res.props.get("metadata")).get("name")) or ""


def _deployer_prefixes(resources: Sequence[Resource]) -> set[str]:
    prefixes = set()
    for res in resources:
        if res.type != ASSOCIATION or text(as_map(res.props.get("accessScope")).get("type")) != "cluster":
            continue
        match = ROLE_ARN.match(text(res.props.get("principalArn")) or "")
        if match:
            prefixes.add(f"arn:{match['partition']}:sts::{match['account']}:assumed-role/{match['name']}/")
    return prefixes


def _literal(spec: dict[str, Any], kind: str, name: str) -> str | None:
    item = next((i for i in spec.get(kind) or [] if isinstance(i, dict) and i.get("name") == name), None)
    expression = text(item.get("expression")) if item else None
    if kind == "variables":
        return expression
    found = STARTS_WITH.search(expression or "")
    return json.loads(found.group(1)) if found else None


def _expected_settings(policies: dict[str, Resource]) -> tuple[str | None, str | None]:
    """(deployer prefix, image prefix) as the stack's policies state them."""
    image = policies.get("tenant-pod-images")
    image_prefix = None
    if image is not None:
        expression = _literal(_plain(image.props.get("spec")), "variables", "imagePrefix") or ""
        parts = re.fullmatch(r"(\"(?:[^\"\\]|\\.)*\") \+ variables\.tenant(?: \+ (\"(?:[^\"\\]|\\.)*\"))?",
                             expression)
        if parts:
            image_prefix = (json.loads(parts.group(1)) + admission.PLACEHOLDER_TENANT
                            + (json.loads(parts.group(2)) if parts.group(2) else ""))
    any_policy = next(iter(policies.values()), None)
    deployer = _literal(_plain(any_policy.props.get("spec")), "matchConditions", "not-platform-deployer") \
        if any_policy is not None else None
    return deployer, image_prefix


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    clusters = [r for r in resources if r.type == CLUSTER]
    if not clusters:
        return
    policies: dict[str, Resource] = {}
    bindings: dict[str, list[Resource]] = {}
    for res in resources:
        if res.type == POLICY:
            if _name(res) in policies:
                yield Finding(MSG_DUPLICATE, res.urn)
            policies[_name(res)] = res
        elif res.type == BINDING:
            bindings.setdefault(text(as_map(res.props.get("spec")).get("policyName")) or "", []).append(res)
    deployer, image_prefix = _expected_settings(policies)
    allowed_deployers = _deployer_prefixes(resources)
    expected: dict[str, dict[str, Any]] = {}
    if deployer is not None and image_prefix is not None:
        try:
            settings = admission.AdmissionSettings(deployer_prefix=deployer, image_prefix=image_prefix)
            expected = {p["metadata"]["name"]: p["spec"] for p in admission.policies(settings)}
        except ValueError:
            expected = {}
    for name in admission.POLICY_NAMES:
        found = policies.get(name)
        if found is None:
            yield Finding(MSG_MISSING, clusters[0].urn)
            continue
        res = found
        spec = _plain(res.props.get("spec"))
        if _literal(spec, "matchConditions", "not-platform-deployer") not in allowed_deployers:
            yield Finding(MSG_DEPLOYER, res.urn)
        if name not in expected or spec != expected[name]:
            yield Finding(MSG_WEAKENED, res.urn)
        bound = bindings.get(name, [])
        if not bound:
            yield Finding(MSG_MISSING, res.urn)
        elif len(bound) > 1:
            yield Finding(MSG_DUPLICATE, bound[1].urn)
        elif _plain(bound[0].props.get("spec")) != admission.binding(name)["spec"]:
            yield Finding(MSG_BINDING, bound[0].urn)


RULE = StackRule(
    id="ISO-ADM-01",
    description=(
        "Every cluster declares the platform's tenant admission policies (docs/admission.md) and their "
        "bindings exactly as rendered: failurePolicy Fail, validationActions [Deny], every tenant "
        "namespace, the deployer exemption limited to the cluster-admin access entry."
    ),
    severity="high", tiers="NPVD", scope="all", check=check,
    reads=lambda t: t in (CLUSTER, POLICY, BINDING, ASSOCIATION))
