"""TokenBudget: the chatbot's daily token budget (``chatbot_budget.tokens_per_day``), enforced.

Alerting alone (:mod:`components.monitoring`) tells someone; this stops the spending, for
one tenant, while every other tenant keeps answering:

1. **Metering per tenant.** One Bedrock *application inference profile* per model the plan
   allows (``llm_models`` and ``embedding_model``), copied from the foundation model and
   tagged with the tenant. The chatbot invokes the profile's ARN (``BEDROCK_PROFILES`` in
   its configuration), and Bedrock publishes ``AWS/Bedrock`` ``InputTokenCount`` and
   ``OutputTokenCount`` with ``ModelId`` = the id the request named, so each profile's
   series is this tenant's usage and nobody else's.
2. **No way around the meter.** The chatbot's role may invoke only its own profiles, and
   the foundation models only *through* them (``bedrock:InferenceProfileArn`` condition,
   :func:`invoke_statements`): a direct call to the model, which would not be metered per
   tenant, is denied. No other role of the tenant has any Bedrock right, and tenants cannot
   run pods as the chatbot's ServiceAccount (admission), so the chatbot role is the only
   caller.
3. **The alarm.** A CloudWatch alarm sums both token counts over every profile of the
   tenant in a wall-clock day (UTC, ``evaluation_window.wall_clock_window``, period
   86400 s) and goes to ALARM at the plan's ``tokens_per_day``.
4. **The stop.** The alarm's ALARM and OK actions invoke the tenant's budget guard
   (:mod:`components.token_budget_guard`), and so does a schedule every
   :data:`RECONCILE_MINUTES` minutes. The guard reads the alarm's state and attaches (or
   removes) an inline Deny on ``bedrock:Invoke*`` to the chatbot role. An explicit Deny
   wins over every Allow, applies to sessions already issued, and cannot be removed by the
   chatbot (its role has no IAM rights). At midnight UTC the window restarts, the alarm
   returns to OK and the Deny goes.

One guard per tenant, not one per cell: its role may change exactly one role
(``iam:PutRolePolicy``/``DeleteRolePolicy``/``ListRolePolicies`` on that role's ARN) and
read exactly one alarm, so no wildcard reaches another tenant, and a fault in one guard
stops nobody else. An idle function costs nothing.

The request budget (``requests_per_day``) stays with the chatbot and the gateway's rate
limit; tokens are what cost money and what one tenant could take from the shared Bedrock
account quota.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components import iam_documents as docs
from components import token_budget_guard as guard
from components.context import ClusterRef, TenantContext

#: The CloudWatch namespace and metrics Bedrock publishes per invocation (bedrock-runtime).
BEDROCK_NAMESPACE = "AWS/Bedrock"
TOKEN_METRICS = ("InputTokenCount", "OutputTokenCount")
MODEL_DIMENSION = "ModelId"
#: The budget period: one wall-clock day (UTC). Wall-clock alarms take this period.
PERIOD_SECONDS = 86_400
BUDGET_TIMEZONE = "UTC"
#: How often the guard reconciles the role with the alarm besides the alarm's actions.
RECONCILE_MINUTES = 5
#: The Bedrock actions the chatbot may use (InvokeModel also authorises Converse).
INVOKE_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
#: Condition key naming the inference profile a foundation-model call goes through.
PROFILE_CONDITION_KEY = "bedrock:InferenceProfileArn"
#: Sid of the chatbot policy statement that grants model invocation.
INVOKE_SID = "InvokeAllowedModels"
#: Name of the Deny the guard attaches to the chatbot role.
DENY_POLICY_NAME = "token-budget-exhausted"
LAMBDA_RUNTIME = "python3.12"
#: The service principal CloudWatch alarms invoke Lambda actions as.
ALARM_PRINCIPAL = "lambda.alarms.cloudwatch.amazonaws.com"
GUARD_SOURCE = Path(guard.__file__)
GUARD_HANDLER = f"{GUARD_SOURCE.stem}.handler"
LOG_RETENTION_DAYS = 30
#: Inference profile names: letters and digits, single ``-``/``_``/space between them.


# --- pure decisions ---------------------------------------------------------------------
def budget_models(llm_models: Sequence[str], embedding_model: str) -> list[str]:
    """Every model the chatbot may call, once each, in a stable order."""
    return sorted({*llm_models, embedding_model})


def invoke_statements(profile_arns: Sequence[str], model_arns: Sequence[str]) -> list[dict[str, Any]]:
    """Invoke the tenant's profiles, and the foundation models only through them."""
    return [
        {"Sid": INVOKE_SID, "Effect": "Allow", "Action": list(INVOKE_ACTIONS),
         "Resource": list(profile_arns)},
        {"Sid": "InvokeModelsOnlyThroughTheTenantsProfiles", "Effect": "Allow",
         "Action": list(INVOKE_ACTIONS), "Resource": list(model_arns),
         "Condition": {"ArnEquals": {PROFILE_CONDITION_KEY: list(profile_arns)}}},
    ]


def through_profiles(document: Mapping[str, Any], profile_arns: Sequence[str],
                     model_arns: Sequence[str]) -> dict[str, Any]:
    """The chatbot's policy with its model grant replaced by :func:`invoke_statements`.

    Raises if the document has no :data:`INVOKE_SID` statement: a grant this function does
    not recognise must not survive next to the metered one.
    """
    statements = list(document["Statement"])
    kept = [s for s in statements if s.get("Sid") != INVOKE_SID]
    if len(kept) != len(statements) - 1:
        raise ValueError(f"the chatbot policy must have exactly one {INVOKE_SID!r} statement")
    if any(str(a).startswith("bedrock:") for s in kept for a in _actions(s)):
        raise ValueError("the chatbot policy grants Bedrock outside its model statement")
    return {**document, "Statement": [*kept, *invoke_statements(profile_arns, model_arns)]}


def _actions(statement: Mapping[str, Any]) -> list[Any]:
    action = statement.get("Action", [])
    return action if isinstance(action, list) else [action]


def token_metric_queries(profile_arns: Sequence[pulumi.Input[str]]) -> list[dict[str, Any]]:
    """The alarm's metric math: input plus output tokens over every profile, per day."""
    queries: list[dict[str, Any]] = []
    for i, arn in enumerate(profile_arns):
        for metric in TOKEN_METRICS:
            queries.append({"id": f"{metric[0].lower()}{i}", "return_data": False, "metric": {
                "namespace": BEDROCK_NAMESPACE, "metric_name": metric, "stat": "Sum",
                "period": PERIOD_SECONDS, "dimensions": {MODEL_DIMENSION: arn}}})
    ids = ",".join(q["id"] for q in queries)
    queries.append({"id": "tokens", "expression": f"SUM([{ids}])", "label": "tokens per day",
                    "return_data": True})
    return queries


def _query_args(query: Mapping[str, Any]) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
    metric = query.get("metric")
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id=query["id"], expression=query.get("expression"), label=query.get("label"),
        return_data=query["return_data"],
        metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(**metric) if metric else None)


def guard_policy(*, role_arn: str, alarm_arn: str, log_group_arn: str) -> dict[str, Any]:
    """The guard's own rights: one role's inline policies, one alarm's state, its logs."""
    return {"Version": docs.VERSION, "Statement": [
        {"Sid": "ChangeTheChatbotRoleOnly", "Effect": "Allow",
         "Action": ["iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:ListRolePolicies"],
         "Resource": role_arn},
        {"Sid": "ReadTheBudgetAlarmOnly", "Effect": "Allow", "Action": "cloudwatch:DescribeAlarms",
         "Resource": alarm_arn},
        {"Sid": "WriteItsLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": f"{log_group_arn}:*"},
    ]}


def lambda_trust_policy(account_id: str, function_arn_prefix: str) -> dict[str, Any]:
    """Only the Lambda service, for this account's guard function, may assume the guard's role."""
    return {"Version": docs.VERSION, "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id},
                      "ArnLike": {"aws:SourceArn": function_arn_prefix}}}]}


# --- component ---------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class TokenBudgetArgs:
    """Inputs of :class:`TokenBudget`: the tenant, its cluster (region, account) and its chatbot role.

    ``chatbot_role_name``/``chatbot_role_arn``: the chatbot's WorkloadIdentity role.
    """

    ctx: TenantContext
    cluster: ClusterRef
    chatbot_role_name: pulumi.Input[str]
    chatbot_role_arn: pulumi.Input[str]


class TokenBudget(pulumi.ComponentResource):
    """The tenant's inference profiles, budget alarm and budget guard (module docstring)."""

    profile_arns: pulumi.Output[dict[str, str]]
    alarm_arn: pulumi.Output[str]
    guard_arn: pulumi.Output[str]

    def __init__(self, name: str, args: TokenBudgetArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-platform:index:TokenBudget", name, None, opts)
        ctx, cluster = args.ctx, args.cluster
        plan, names = ctx.tenant.plan, ctx.names
        child = pulumi.ResourceOptions(parent=self)
        tags = {**ctx.tags, "workload": "chatbot"}
        models = budget_models(plan.llm_models, plan.embedding_model)
        profiles = {model: aws.bedrock.InferenceProfile(
            f"{name}-profile-{i}", name=names.inference_profile(model),
            description=f"chatbot of tenant {ctx.id}: {model}, metered for its token budget",
            model_source={"copy_from": docs.foundation_model_arn(cluster.partition, cluster.region, model)},
            tags=tags, opts=child) for i, model in enumerate(models)}
        self.profile_arns = pulumi.Output.all(*[p.arn for p in profiles.values()]).apply(
            lambda arns: dict(zip(models, arns, strict=True)))

        function_name, alarm_name = names.budget_guard_function, names.budget_alarm
        log_group = aws.cloudwatch.LogGroup(f"{name}-guard-logs", name=f"/aws/lambda/{function_name}",
                                            retention_in_days=LOG_RETENTION_DAYS, tags=tags, opts=child)
        function_prefix = pulumi.Output.format("arn:{0}:lambda:{1}:{2}:function:{3}", cluster.partition,
                                               cluster.region, cluster.account_id, function_name)
        role = aws.iam.Role(f"{name}-guard-role", name=names.budget_guard_role, tags=tags, opts=child,
                            assume_role_policy=pulumi.Output.all(cluster.account_id, function_prefix).apply(
                                lambda v: json.dumps(lambda_trust_policy(v[0], v[1]))))
        function = aws.lambda_.Function(
            f"{name}-guard", name=function_name, role=role.arn, runtime=LAMBDA_RUNTIME,
            handler=GUARD_HANDLER, timeout=30, memory_size=128,
            code=pulumi.AssetArchive({GUARD_SOURCE.name: pulumi.FileAsset(str(GUARD_SOURCE))}),
            environment={"variables": {"ROLE_NAME": args.chatbot_role_name, "ALARM_NAME": alarm_name,
                                       "POLICY_NAME": DENY_POLICY_NAME}},
            tags=tags, opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]))
        alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-alarm", name=alarm_name,
            alarm_description=(f"tenant {ctx.id} spent its {plan.chatbot_budget.tokens_per_day} chatbot "
                               "tokens of the day: its budget guard stops the chatbot until midnight UTC"),
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=plan.chatbot_budget.tokens_per_day, evaluation_periods=1, datapoints_to_alarm=1,
            treat_missing_data="notBreaching",
            evaluation_window=aws.cloudwatch.MetricAlarmEvaluationWindowArgs(
                wall_clock_window=aws.cloudwatch.MetricAlarmEvaluationWindowWallClockWindowArgs(
                    timezone=BUDGET_TIMEZONE)),
            metric_queries=[_query_args(q) for q in token_metric_queries([p.arn for p in profiles.values()])],
            alarm_actions=[function.arn], ok_actions=[function.arn], tags=tags, opts=child)
        aws.iam.RolePolicy(f"{name}-guard-permissions", role=role.name, name="budget-guard",
                           policy=pulumi.Output.all(args.chatbot_role_arn, alarm.arn, log_group.arn).apply(
                               lambda v: json.dumps(guard_policy(role_arn=v[0], alarm_arn=v[1],
                                                                 log_group_arn=v[2]))), opts=child)
        aws.lambda_.Permission(f"{name}-guard-from-alarm", function=function.name,
                               action="lambda:InvokeFunction", principal=ALARM_PRINCIPAL,
                               source_arn=alarm.arn, source_account=cluster.account_id, opts=child)
        schedule = aws.cloudwatch.EventRule(f"{name}-guard-schedule", name=names.budget_reconcile_rule,
                                            schedule_expression=f"rate({RECONCILE_MINUTES} minutes)",
                                            tags=tags, opts=child)
        aws.cloudwatch.EventTarget(f"{name}-guard-target", rule=schedule.name, arn=function.arn, opts=child)
        aws.lambda_.Permission(f"{name}-guard-from-schedule", function=function.name,
                               action="lambda:InvokeFunction", principal="events.amazonaws.com",
                               source_arn=schedule.arn, opts=child)
        self.alarm_arn = alarm.arn
        self.guard_arn = function.arn
        self.register_outputs({"profile_arns": self.profile_arns, "alarm_arn": self.alarm_arn,
                               "guard_arn": self.guard_arn})
