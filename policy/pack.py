"""The thin adapter from rules to CrossGuard policies.

Each :class:`~policy.rule.ResourceRule` becomes a ``ResourceValidationPolicy`` and each
:class:`~policy.rule.StackRule` a ``StackValidationPolicy`` with the rule's id, description,
severity, default enforcement and config schema (tiers plus rule options). The same
policy objects serve the real engine (``policy/__main__.py``) and the in-process engine
(``policy.engine``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy.rule import AnyRule, Resource, ResourceRule, StackRule
from policy.rules import ALL

PACK_NAME = "tenant-isolation"
#: Must equal ``version`` in PulumiPolicy.yaml (a test checks it).
PACK_VERSION = "0.1.0"


def _schema(rule: AnyRule) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties=rule.config_schema())


def _resource_policy(rule: ResourceRule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if not rule.applies_to(args.resource_type):
            return
        res = Resource(type=args.resource_type, props=args.props, urn=args.urn, name=args.name)
        for message in rule.evaluate(res, rule.config(args.get_config())):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=rule.id, description=rule.description, validate=validate,
        enforcement_level=EnforcementLevel(rule.default_enforcement),
        severity=Severity(rule.severity), config_schema=_schema(rule),
        tags=[rule.family, f"tiers:{rule.tiers}"])


def _as_resource(resource: Any) -> Resource:
    """A rule's view of a CrossGuard ``PolicyResource`` (parent and dependencies as URNs)."""
    parent = resource.parent.urn if resource.parent is not None else None
    return Resource(type=resource.resource_type, props=resource.props, urn=resource.urn,
                    name=resource.name, parent=parent,
                    dependencies=tuple(d.urn for d in resource.dependencies),
                    property_dependencies={k: tuple(d.urn for d in v)
                                           for k, v in resource.property_dependencies.items()})


def _stack_policy(rule: StackRule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [_as_resource(r) for r in args.resources]
        for finding in rule.evaluate(resources, rule.config(args.get_config())):
            report_violation(finding.message, finding.urn)

    return StackValidationPolicy(
        name=rule.id, description=rule.description, validate=validate,
        enforcement_level=EnforcementLevel(rule.default_enforcement),
        severity=Severity(rule.severity), config_schema=_schema(rule),
        tags=[rule.family, f"tiers:{rule.tiers}", "stack"])


def to_policy(rule: AnyRule) -> Policy:
    """The CrossGuard policy of one rule."""
    if isinstance(rule, ResourceRule):
        return _resource_policy(rule)
    return _stack_policy(rule)


def build_policies(rules: Sequence[AnyRule] = ALL) -> list[Policy]:
    """Every policy of the pack, in rule order."""
    return [to_policy(rule) for rule in rules]
