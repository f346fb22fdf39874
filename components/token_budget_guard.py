"""The budget guard: the Lambda that stops one tenant's chatbot when its token budget is spent.

Packaged alone into the tenant's guard function by :mod:`components.token_budget` (it
imports nothing of the platform, only the standard library and the Lambda runtime's
boto3). Its configuration is the function's environment:

- ``ROLE_NAME``: the tenant's chatbot IAM role, the only role this function may change;
- ``ALARM_NAME``: the tenant's token budget alarm, the only alarm it reads;
- ``POLICY_NAME``: the name of the inline Deny it attaches.

It is invoked by the alarm itself (CloudWatch alarm actions on ALARM and on OK) and by a
schedule every few minutes. Either way it reads the alarm's *current* state and makes the
role agree with it: ALARM attaches :func:`deny_document` (an explicit Deny on
``bedrock:Invoke*``, which no Allow overrides, on every session of the role at once:
IAM evaluates a role's policies on each request); any other state removes it. Acting on
the state read rather than on the event makes duplicate, late or reordered deliveries
harmless, and the schedule repairs a missed delivery or a Deny someone removed by hand.
The alarm's window is the wall-clock day (UTC), so at midnight the day's sum restarts,
the alarm returns to OK and the next run lifts the Deny.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Protocol

#: Bedrock actions the Deny covers: every invocation action (InvokeModel also authorises
#: Converse, InvokeModelWithResponseStream also ConverseStream).
DENIED_ACTIONS = "bedrock:Invoke*"
DENY_SID = "TokenBudgetExhausted"
STATE_ALARM = "ALARM"


class IamClient(Protocol):
    """The IAM calls the guard makes (boto3's ``iam`` client has them)."""

    def put_role_policy(self, *, RoleName: str, PolicyName: str, PolicyDocument: str) -> Any:  # noqa: N803
        """Attach or replace an inline policy."""

    def delete_role_policy(self, *, RoleName: str, PolicyName: str) -> Any:  # noqa: N803
        """Remove an inline policy."""

    def list_role_policies(self, *, RoleName: str) -> Any:  # noqa: N803
        """Names of the role's inline policies (``PolicyNames``)."""


class CloudWatchClient(Protocol):
    """The CloudWatch call the guard makes."""

    def describe_alarms(self, *, AlarmNames: list[str]) -> Any:  # noqa: N803
        """The named alarms with their state (``MetricAlarms``)."""


@dataclass(frozen=True)
class GuardConfig:
    """Which role the guard may change, which alarm decides, and the Deny's name."""

    role_name: str
    alarm_name: str
    policy_name: str

    @classmethod
    def from_environment(cls, env: dict[str, str] | None = None) -> GuardConfig:
        """The configuration from the function's environment (KeyError names what is missing)."""
        env = dict(os.environ) if env is None else env
        return cls(env["ROLE_NAME"], env["ALARM_NAME"], env["POLICY_NAME"])


def deny_document() -> dict[str, Any]:
    """The inline policy that stops the chatbot: Deny every Bedrock invocation, on anything."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": DENY_SID, "Effect": "Deny", "Action": DENIED_ACTIONS, "Resource": "*"}]}


def alarm_state(cloudwatch: CloudWatchClient, alarm_name: str) -> str:
    """The alarm's current state; a missing alarm fails loudly (the guard must not guess)."""
    alarms = cloudwatch.describe_alarms(AlarmNames=[alarm_name]).get("MetricAlarms", [])
    if len(alarms) != 1:
        raise RuntimeError(f"budget alarm {alarm_name!r} not found")
    return str(alarms[0]["StateValue"])


def enforce(config: GuardConfig, iam: IamClient, cloudwatch: CloudWatchClient) -> str:
    """Make the role agree with the alarm; return what was done (``denied``/``allowed``)."""
    if alarm_state(cloudwatch, config.alarm_name) == STATE_ALARM:
        iam.put_role_policy(RoleName=config.role_name, PolicyName=config.policy_name,
                            PolicyDocument=json.dumps(deny_document()))
        return "denied"
    attached = iam.list_role_policies(RoleName=config.role_name).get("PolicyNames", [])
    if config.policy_name in attached:
        iam.delete_role_policy(RoleName=config.role_name, PolicyName=config.policy_name)
    return "allowed"


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    """Lambda entry point (alarm action or schedule: the event's content is not trusted)."""
    import boto3  # the Lambda runtime's; imported here so tests need no AWS SDK

    config = GuardConfig.from_environment()
    result = enforce(config, boto3.client("iam"), boto3.client("cloudwatch"))
    return {"role": config.role_name, "result": result}
