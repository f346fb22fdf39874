"""ISO-FAIR-01 (stack): each tenant's chatbot token budget is enforced, not only alerted.

A chatbot role (``tenants.naming`` ``iam_role("chatbot")`` of a tenant-tagged role) means
the tenant calls Bedrock, and Bedrock tokens are what one tenant can take from the shared
account quota and bill. The stack must then hold the whole stop of
:mod:`components.token_budget`:

- a CloudWatch alarm of the tenant on ``AWS/Bedrock`` ``InputTokenCount`` and
  ``OutputTokenCount``, at most the plan's ``tokens_per_day`` (plan by the alarm's ``plan``
  tag) over periods of at most a day;
- its ALARM and OK actions invoking the tenant's budget guard: a Lambda function whose
  ``ROLE_NAME`` is that chatbot role and whose ``ALARM_NAME`` is that alarm, which alarms
  may invoke (a ``lambda.alarms.cloudwatch.amazonaws.com`` permission);
- no unmetered way to Bedrock: every Allow of a Bedrock invocation in the chatbot role's
  inline policies names only application inference profiles, or foundation models only
  under a ``bedrock:InferenceProfileArn`` condition (a direct model call is counted for no
  tenant, so no alarm would ever see it).

High: without the stop, one tenant spends the cell's Bedrock quota and the others stop
answering.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from components import token_budget as tb
from policy import stackview, tenancy
from policy.props import as_list, as_map, is_list, number, text
from policy.rule import Finding, Resource, RuleConfig, StackRule
from tenants import naming
from tenants.plans import load_plans

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
#: How an unknown value reaches a rule: the real engine's marker, and the offline plan's
#: (``policy.engine.UNKNOWN``, which imports the rules, so it is spelled here).
UNKNOWN_VALUES = (UNKNOWN_STRING_VALUE, "[unknown]")
PROFILE_ARN = re.compile(r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:\d{12}:application-inference-profile/.+$")

MSG_NO_ALARM = ("Give the tenant's chatbot a token budget alarm on AWS/Bedrock InputTokenCount and "
                "OutputTokenCount (components/token_budget.py).")
MSG_ABOVE_PLAN = ("Set the token budget alarm's threshold to at most the plan's chatbot_budget "
                  "tokens_per_day.")
MSG_UNKNOWN_PLAN = "Tag the token budget alarm with the tenant's plan (tenants/plans.yaml)."
MSG_PERIOD = "Sum the token budget alarm's metrics over periods of at most one day (86400 s)."
MSG_NO_GUARD = ("Give the tenant a budget guard: a Lambda function with ROLE_NAME set to its chatbot "
                "role, invoked by the token budget alarm.")
MSG_NOT_WIRED = "Make the token budget alarm's alarm and OK actions invoke the tenant's budget guard."
MSG_GUARD_ALARM = "Set the budget guard's ALARM_NAME to the tenant's token budget alarm."
MSG_NO_PERMISSION = ("Let CloudWatch alarms invoke the budget guard (a lambda Permission for "
                     "lambda.alarms.cloudwatch.amazonaws.com).")
MSG_UNMETERED = ("Grant the chatbot role Bedrock invocation only on the tenant's application inference "
                 "profiles, and foundation models only under a bedrock:InferenceProfileArn condition.")


@dataclass(frozen=True)
class _Tenant:
    id: str
    role: Resource
    role_name: str


def _items(value: Any) -> list[Any]:
    """A policy field or property that may be one value or a list of them, as a list."""
    if value is None:
        return []
    return as_list(value) if is_list(value) else [value]


def _chatbot_roles(resources: Sequence[Resource], cfg: RuleConfig) -> list[_Tenant]:
    found = []
    for res in stackview.of_types(resources, ROLE):
        tenant = tenancy.tenant_of(res.type, res.props)
        env = text(as_map(res.props.get("tags")).get("environment"))
        if tenant is None or env is None or not cfg.applies(res):
            continue
        expected = naming.TenantNames(tenant, env).iam_role("chatbot")
        if text(res.props.get("name")) == expected:
            found.append(_Tenant(tenant, res, expected))
    return found


def _of_tenant(resources: Sequence[Resource], type_: str, tenant: str) -> list[Resource]:
    return [r for r in stackview.of_types(resources, type_) if tenancy.tenant_of(r.type, r.props) == tenant]


def _metrics(alarm: Resource) -> list[Mapping[str, Any]]:
    return [as_map(as_map(q).get("metric")) for q in as_list(alarm.props.get("metricQueries"))
            if as_map(q).get("metric")]


def _is_token_alarm(alarm: Resource) -> bool:
    names = {(text(m.get("namespace")), text(m.get("metricName"))) for m in _metrics(alarm)}
    return all((tb.BEDROCK_NAMESPACE, metric) in names for metric in tb.TOKEN_METRICS)


def _invokes(res: Resource, prop: str, function: Resource) -> bool:
    """Whether ``prop`` of ``res`` names the function (engine dependencies if it is unknown)."""
    name = text(function.props.get("name")) or ""
    values = _items(res.props.get(prop))
    if any(v in UNKNOWN_VALUES for v in values):
        return function.urn in res.property_dependencies.get(prop, ())
    return any(stackview.refers_to(v, name) for v in values)


def _judge_alarm(alarm: Resource) -> Iterator[Finding]:
    plan = load_plans().get(text(as_map(alarm.props.get("tags")).get(naming.LABEL_PLAN)) or "")
    if plan is None:
        yield Finding(MSG_UNKNOWN_PLAN, alarm.urn)
    else:
        threshold = number(alarm.props.get("threshold"))
        allowed = plan.chatbot_budget.tokens_per_day
        if threshold is None or threshold > allowed:
            yield Finding(MSG_ABOVE_PLAN, alarm.urn)
    periods = [number(m.get("period")) for m in _metrics(alarm)]
    if any(p is None or p > tb.PERIOD_SECONDS for p in periods):
        yield Finding(MSG_PERIOD, alarm.urn)


def _judge_guard(tenant: _Tenant, alarm: Resource, resources: Sequence[Resource]) -> Iterator[Finding]:
    guards = [f for f in _of_tenant(resources, FUNCTION, tenant.id)
              if text(as_map(as_map(f.props.get("environment")).get("variables")).get("ROLE_NAME"))
              == tenant.role_name]
    if not guards:
        yield Finding(MSG_NO_GUARD, alarm.urn)
        return
    wired = [g for g in guards if all(_invokes(alarm, p, g) for p in ("alarmActions", "okActions"))]
    if not wired:
        yield Finding(MSG_NOT_WIRED, alarm.urn)
        return
    guard = wired[0]
    variables = as_map(as_map(guard.props.get("environment")).get("variables"))
    if text(variables.get("ALARM_NAME")) != text(alarm.props.get("name")):
        yield Finding(MSG_GUARD_ALARM, guard.urn)
    permitted = any(text(p.props.get("principal")) == tb.ALARM_PRINCIPAL and _invokes(p, "function", guard)
                    for p in stackview.of_types(resources, PERMISSION))
    if not permitted:
        yield Finding(MSG_NO_PERMISSION, guard.urn)


def _unmetered(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    actions = [str(a) for a in _items(statement.get("Action"))]
    if not any(a in ("*", "bedrock:*") or a.startswith("bedrock:Invoke") for a in actions):
        return False
    if "NotResource" in statement:
        return True
    conditions = json.dumps(statement.get("Condition") or {})
    if tb.PROFILE_CONDITION_KEY in conditions:
        return False
    return not all(PROFILE_ARN.match(str(r)) for r in _items(statement.get("Resource")))


def _judge_grants(tenant: _Tenant, resources: Sequence[Resource]) -> Iterator[Finding]:
    for policy in stackview.of_types(resources, ROLE_POLICY):
        role = policy.props.get("role")
        if not (stackview.refers_to(role, tenant.role_name) or tenant.role.urn in
                policy.property_dependencies.get("role", ())):
            continue
        document = policy.props.get("policy")
        parsed = json.loads(document) if isinstance(document, str) and document.startswith("{") else None
        if parsed is not None and any(_unmetered(as_map(s)) for s in _items(parsed.get("Statement"))):
            yield Finding(MSG_UNMETERED, policy.urn)


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    yield from dict.fromkeys(_findings(resources, cfg))


def _findings(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    for tenant in _chatbot_roles(resources, cfg):
        yield from _judge_grants(tenant, resources)
        alarms = [a for a in _of_tenant(resources, ALARM, tenant.id) if _is_token_alarm(a)]
        if not alarms:
            yield Finding(MSG_NO_ALARM, tenant.role.urn)
            continue
        for alarm in alarms:
            yield from _judge_alarm(alarm)
            yield from _judge_guard(tenant, alarm, resources)


RULE = StackRule(
    id="ISO-FAIR-01",
    description=(
        "Each tenant's chatbot token budget is enforced: a token alarm at most the plan's tokens_per_day "
        "invokes a budget guard that can deny the chatbot role Bedrock, and the role reaches Bedrock only "
        "through the tenant's metered inference profiles."
    ),
    # "all": a lambda Permission carries no tags, yet it is part of the tenant's stop.
    severity="high", tiers="NPVD", scope="all", check=check,
    reads=lambda t: t in (ROLE, ROLE_POLICY, ALARM, FUNCTION, PERMISSION))
