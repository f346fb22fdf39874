"""The chatbot's token budget, enforced: metering profiles, the alarm, the guard and its rights.

The guard's handler is plain Python, run here against fake IAM and CloudWatch clients that
keep state like the real ones; the alarm, function and permissions are read back from the
recording mock.
"""

from __future__ import annotations

import ast
import json
import re
import sys
import types

import pytest

from components import token_budget as tb
from components import token_budget_guard as guard
from tenants.naming import TenantNames
from tenants.plans import load_plans
from tests.components import policy_lint
from tests.components.stack_checks import descendants, run_tenant

PLANS = load_plans()
ROLE = "tp-prod-acme-chatbot"
ALARM = "tp-prod-acme-chatbot-token-budget"
CONFIG = guard.GuardConfig(role_name=ROLE, alarm_name=ALARM, policy_name=tb.DENY_POLICY_NAME)


# --- the guard, against fakes ---------------------------------------------------------
class FakeIam:
    """Inline policies per role, as IAM keeps them; refuses roles it was not given."""

    def __init__(self, roles: dict[str, dict[str, str]]) -> None:
        self.roles = roles
        self.calls: list[str] = []

    def _role(self, name: str) -> dict[str, str]:
        if name not in self.roles:
            raise PermissionError(f"AccessDenied: {name}")
        return self.roles[name]

    def put_role_policy(self, *, RoleName: str, PolicyName: str, PolicyDocument: str) -> None:  # noqa: N803
        self.calls.append("put")
        self._role(RoleName)[PolicyName] = PolicyDocument

    def delete_role_policy(self, *, RoleName: str, PolicyName: str) -> None:  # noqa: N803
        self.calls.append("delete")
        policies = self._role(RoleName)
        if PolicyName not in policies:
            raise KeyError("NoSuchEntity")
        del policies[PolicyName]

    def list_role_policies(self, *, RoleName: str) -> dict[str, list[str]]:  # noqa: N803
        return {"PolicyNames": sorted(self._role(RoleName))}


class FakeCloudWatch:
    def __init__(self, states: dict[str, str]) -> None:
        self.states = states

    def describe_alarms(self, *, AlarmNames: list[str]) -> dict[str, list[dict[str, str]]]:  # noqa: N803
        return {"MetricAlarms": [{"AlarmName": n, "StateValue": self.states[n]}
                                 for n in AlarmNames if n in self.states]}


def fleet(acme_state: str) -> tuple[FakeIam, FakeCloudWatch]:
    """Two tenants' chatbot roles; acme's alarm in ``acme_state``, bolt's OK."""
    iam = FakeIam({ROLE: {"chatbot-files-and-models": "{}"},
                   "tp-prod-bolt-chatbot": {"chatbot-files-and-models": "{}"}})
    return iam, FakeCloudWatch({ALARM: acme_state, "tp-prod-bolt-chatbot-token-budget": "OK"})


def test_alarm_attaches_the_deny_to_that_tenants_role_only():
    iam, cloudwatch = fleet("ALARM")
    assert guard.enforce(CONFIG, iam, cloudwatch) == "denied"
    assert json.loads(iam.roles[ROLE][tb.DENY_POLICY_NAME]) == {"Version": "2012-10-17", "Statement": [
        {"Sid": "TokenBudgetExhausted", "Effect": "Deny", "Action": "bedrock:Invoke*", "Resource": "*"}]}
    # The others keep answering.
    assert iam.roles["tp-prod-bolt-chatbot"] == {"chatbot-files-and-models": "{}"}


def test_the_deny_covers_every_action_the_chatbot_is_allowed():
    """Converse and ConverseStream are authorised as InvokeModel(WithResponseStream): covered too."""
    denied = re.compile(guard.DENIED_ACTIONS.replace("*", ".*"))
    assert all(denied.fullmatch(action) for action in tb.INVOKE_ACTIONS)


@pytest.mark.parametrize("state", ["OK", "INSUFFICIENT_DATA"])
def test_back_under_budget_the_deny_is_removed(state):
    iam, cloudwatch = fleet("ALARM")
    guard.enforce(CONFIG, iam, cloudwatch)
    cloudwatch.states[ALARM] = state
    assert guard.enforce(CONFIG, iam, cloudwatch) == "allowed"
    assert tb.DENY_POLICY_NAME not in iam.roles[ROLE]
    assert iam.roles[ROLE] == {"chatbot-files-and-models": "{}"}  # its own grant untouched


def test_repeated_and_late_deliveries_are_harmless():
    iam, cloudwatch = fleet("OK")
    assert guard.enforce(CONFIG, iam, cloudwatch) == "allowed"
    assert guard.enforce(CONFIG, iam, cloudwatch) == "allowed"
    assert "delete" not in iam.calls  # nothing to remove, nothing removed
    cloudwatch.states[ALARM] = "ALARM"
    guard.enforce(CONFIG, iam, cloudwatch)
    guard.enforce(CONFIG, iam, cloudwatch)
    assert list(iam.roles[ROLE]).count(tb.DENY_POLICY_NAME) == 1


def test_a_deny_removed_by_hand_comes_back_on_the_next_run():
    iam, cloudwatch = fleet("ALARM")
    guard.enforce(CONFIG, iam, cloudwatch)
    del iam.roles[ROLE][tb.DENY_POLICY_NAME]
    guard.enforce(CONFIG, iam, cloudwatch)  # the schedule's reconcile
    assert tb.DENY_POLICY_NAME in iam.roles[ROLE]


def test_a_missing_alarm_fails_loudly_instead_of_allowing():
    iam, _ = fleet("ALARM")
    with pytest.raises(RuntimeError, match="not found"):
        guard.enforce(CONFIG, iam, FakeCloudWatch({}))
    assert iam.calls == []


def test_the_event_decides_nothing(monkeypatch):
    """The handler reads the alarm's state: an OK event while the alarm is in ALARM lifts nothing."""
    iam, cloudwatch = fleet("ALARM")
    clients = {"iam": iam, "cloudwatch": cloudwatch}
    monkeypatch.setitem(sys.modules, "boto3", types.SimpleNamespace(client=clients.__getitem__))
    for key, value in {"ROLE_NAME": ROLE, "ALARM_NAME": ALARM, "POLICY_NAME": tb.DENY_POLICY_NAME}.items():
        monkeypatch.setenv(key, value)
    forged = {"source": "aws.cloudwatch", "alarmData": {"alarmName": ALARM, "state": {"value": "OK"}}}
    assert guard.handler(forged, None) == {"role": ROLE, "result": "denied"}
    assert tb.DENY_POLICY_NAME in iam.roles[ROLE]


def test_configuration_comes_from_the_environment():
    env = {"ROLE_NAME": ROLE, "ALARM_NAME": ALARM, "POLICY_NAME": "p"}
    assert guard.GuardConfig.from_environment(env) == guard.GuardConfig(ROLE, ALARM, "p")
    with pytest.raises(KeyError):
        guard.GuardConfig.from_environment({"ROLE_NAME": ROLE})


def test_the_packaged_handler_imports_nothing_of_the_platform():
    """The Lambda gets this one file: it may import only the standard library (and boto3)."""
    tree = ast.parse(tb.GUARD_SOURCE.read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"__future__", "json", "os", "dataclasses", "typing", "boto3"}


# --- pure decisions ---------------------------------------------------------------------
NAME_RE = re.compile(r"^([0-9a-zA-Z][ _-]?)+$")


LONGEST_ID = "a" + "b" * 28 + "c"  # 30 characters: the longest tenant id


@pytest.mark.parametrize("model", ["anthropic.claude-3-haiku-20240307-v1:0", "amazon.titan-embed-text-v2:0"])
@pytest.mark.parametrize("tenant", ["acme", LONGEST_ID])
def test_profile_names_are_valid_bedrock_names(tenant, model):
    names = TenantNames(tenant, "prod")
    name = names.inference_profile(model)
    assert NAME_RE.match(name) and len(name) <= 64 and name.startswith(names.prefix)


def test_long_profile_names_stay_distinct_per_model():
    names = TenantNames(LONGEST_ID, "prod")
    long_model = "x" * 40 + ":0"
    one, two = names.inference_profile(f"m.one-{long_model}"), names.inference_profile(f"m.two-{long_model}")
    assert len(one) == len(two) == 64 and one != two


def test_through_profiles_refuses_a_policy_it_cannot_meter():
    doc = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Other", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}
    with pytest.raises(ValueError, match="exactly one"):
        tb.through_profiles(doc, ["p"], ["m"])
    sneaky = {**doc, "Statement": [*doc["Statement"],
                                   {"Sid": tb.INVOKE_SID, "Effect": "Allow", "Action": "bedrock:InvokeModel",
                                    "Resource": "m"},
                                   {"Sid": "Extra", "Effect": "Allow", "Action": ["bedrock:InvokeModel"],
                                    "Resource": "*"}]}
    with pytest.raises(ValueError, match="outside"):
        tb.through_profiles(sneaky, ["p"], ["m"])


def test_metric_math_adds_input_and_output_tokens_of_every_profile():
    queries = tb.token_metric_queries(["arn:p0", "arn:p1"])
    metrics = [q for q in queries if "metric" in q]
    assert {(q["metric"]["metric_name"], q["metric"]["dimensions"]["ModelId"]) for q in metrics} == {
        ("InputTokenCount", "arn:p0"), ("OutputTokenCount", "arn:p0"),
        ("InputTokenCount", "arn:p1"), ("OutputTokenCount", "arn:p1")}
    assert all(q["metric"]["namespace"] == "AWS/Bedrock" and q["metric"]["stat"] == "Sum"
               and q["metric"]["period"] == 86_400 and q["return_data"] is False for q in metrics)
    (total,) = [q for q in queries if q["return_data"]]
    assert total["expression"] == f"SUM([{','.join(q['id'] for q in metrics)}])"


# --- wiring, under the recording mock -----------------------------------------------------
@pytest.fixture(scope="module")
def run():
    return run_tenant()


def budget(run, suffix: str):
    return run.named(f"acme-chat-token-budget-{suffix}")


@pytest.mark.parametrize("plan", sorted(PLANS))
def test_alarm_fires_at_the_plans_daily_tokens_over_the_tenants_profiles(plan):
    run = run_tenant(plan=plan)
    alarm = budget(run, "alarm").inputs
    profiles = sorted(r.outputs["arn"] for r in descendants(run, "acme-chat")
                      if r.type == "aws:bedrock/inferenceProfile:InferenceProfile")
    assert len(profiles) == len({*PLANS[plan].llm_models, PLANS[plan].embedding_model})
    assert alarm["threshold"] == PLANS[plan].chatbot_budget.tokens_per_day
    assert (alarm["comparisonOperator"], alarm["evaluationPeriods"], alarm["treatMissingData"]) == (
        "GreaterThanOrEqualToThreshold", 1, "notBreaching")
    assert alarm["evaluationWindow"] == {"wallClockWindow": {"timezone": "UTC"}}
    dims = sorted(q["metric"]["dimensions"]["ModelId"] for q in alarm["metricQueries"] if q.get("metric"))
    assert dims == sorted(profiles * 2)
    assert [q["expression"] for q in alarm["metricQueries"] if q.get("returnData")] == [
        "SUM([" + ",".join(q["id"] for q in alarm["metricQueries"] if q.get("metric")) + "])"]


def test_alarm_and_schedule_invoke_the_guard_and_nothing_else_may(run):
    function = budget(run, "guard")
    arn = function.outputs["arn"]
    alarm = budget(run, "alarm")
    assert alarm.inputs["alarmActions"] == [arn] and alarm.inputs["okActions"] == [arn]
    from_alarm = budget(run, "guard-from-alarm").inputs
    assert (from_alarm["principal"], from_alarm["sourceArn"], from_alarm["function"]) == (
        "lambda.alarms.cloudwatch.amazonaws.com", alarm.outputs["arn"], function.inputs["name"])
    schedule = budget(run, "guard-schedule")
    assert schedule.inputs["scheduleExpression"] == f"rate({tb.RECONCILE_MINUTES} minutes)"
    assert budget(run, "guard-target").inputs["arn"] == arn
    from_schedule = budget(run, "guard-from-schedule").inputs
    assert (from_schedule["principal"], from_schedule["sourceArn"]) == ("events.amazonaws.com",
                                                                        schedule.outputs["arn"])


def test_guard_runs_the_packaged_handler_on_the_tenants_role_and_alarm(run):
    function = budget(run, "guard").inputs
    assert function["handler"] == "token_budget_guard.handler"
    assert function["code"]["archive"]["token_budget_guard.py"]["file"] == "token_budget_guard.py"
    assert function["environment"]["variables"] == {
        "ROLE_NAME": ROLE, "ALARM_NAME": budget(run, "alarm").inputs["name"],
        "POLICY_NAME": tb.DENY_POLICY_NAME}


def test_guard_may_change_exactly_the_chatbot_role_and_read_exactly_its_alarm(run):
    policy = json.loads(budget(run, "guard-permissions").inputs["policy"])
    chatbot_role = run.named("acme-chatbot-role").outputs["arn"]
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["ChangeTheChatbotRoleOnly"]["Resource"] == chatbot_role
    assert by_sid["ReadTheBudgetAlarmOnly"]["Resource"] == budget(run, "alarm").outputs["arn"]
    log_group = budget(run, "guard-logs").outputs["arn"]
    assert by_sid["WriteItsLogs"]["Resource"] == f"{log_group}:*"  # its own log streams only
    assert set(by_sid) == {"ChangeTheChatbotRoleOnly", "ReadTheBudgetAlarmOnly", "WriteItsLogs"}
    trust = json.loads(budget(run, "guard-role").inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}


def test_each_tenants_guard_reaches_only_its_own_role():
    acme, bolt = run_tenant("acme"), run_tenant("bolt")
    for tenant, run in (("acme", acme), ("bolt", bolt)):
        policy = budget_policy(run, tenant)
        assert {s["Resource"] for s in policy["Statement"] if s["Sid"] == "ChangeTheChatbotRoleOnly"} == {
            run.named(f"{tenant}-chatbot-role").outputs["arn"]}
        assert [a for a in policy_lint.arns_in(policy) if "acme" in a and tenant != "acme"] == []


def budget_policy(run, tenant: str) -> dict:
    return json.loads(run.named(f"{tenant}-chat-token-budget-guard-permissions").inputs["policy"])
