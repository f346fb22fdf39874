"""ChatbotStack under the recording mock: workload, least-privilege role, no secrets."""

from __future__ import annotations

import json
import re

import pytest

from components import iam_documents as docs
from components import token_budget
from tenants.plans import load_plans
from tests.components import manifest_checks, policy_lint
from tests.components.stack_checks import DB, descendants, manifests, obj, pod, run_tenant, trust
from tests.factories import ACCOUNT_ID, OIDC_ISSUER

PLANS = load_plans()
BUCKET = "arn:aws:s3:::tp-prod-acme-files"
KEY = f"arn:aws:kms:ap-northeast-1:{ACCOUNT_ID}:key/key-acme-files-key-key"


@pytest.fixture(scope="module")
def run():
    return run_tenant()


def test_stack_declares_exactly_its_permissions_and_workload(run):
    assert sorted((r.type, r.name) for r in descendants(run, "acme-chat")) == sorted([
        ("aws:iam/rolePolicy:RolePolicy", "acme-chat-permissions"),
        ("tenant-platform:index:TenantWorkload", "acme-chat-workload"),
        ("aws:ecr/repository:Repository", "acme-chat-workload-repository"),
        ("kubernetes:core/v1:ConfigMap", "acme-chat-workload-config"),
        ("kubernetes:apps/v1:Deployment", "acme-chat-workload-deployment"),
        ("kubernetes:core/v1:Service", "acme-chat-workload-service"),
        ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "acme-chat-workload-autoscaler"),
        ("kubernetes:policy/v1:PodDisruptionBudget", "acme-chat-workload-disruption-budget"),
        ("pulumi-python:dynamic/tenant-platform:ReleasedImage", "acme-chat-workload-image"),
        ("tenant-platform:index:TokenBudget", "acme-chat-token-budget"),
        *[("aws:bedrock/inferenceProfile:InferenceProfile", f"acme-chat-token-budget-profile-{i}")
          for i in range(3)],
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "acme-chat-token-budget-alarm"),
        ("aws:cloudwatch/logGroup:LogGroup", "acme-chat-token-budget-guard-logs"),
        ("aws:iam/role:Role", "acme-chat-token-budget-guard-role"),
        ("aws:iam/rolePolicy:RolePolicy", "acme-chat-token-budget-guard-permissions"),
        ("aws:lambda/function:Function", "acme-chat-token-budget-guard"),
        ("aws:lambda/permission:Permission", "acme-chat-token-budget-guard-from-alarm"),
        ("aws:lambda/permission:Permission", "acme-chat-token-budget-guard-from-schedule"),
        ("aws:cloudwatch/eventRule:EventRule", "acme-chat-token-budget-guard-schedule"),
        ("aws:cloudwatch/eventTarget:EventTarget", "acme-chat-token-budget-guard-target"),
    ])


@pytest.mark.parametrize("tier", ["namespace", "node", "vcluster", "cluster"])
def test_every_manifest_validates_strictly(tier):
    run = run_tenant(tier=tier)
    objects = [obj(r) for r in descendants(run, "acme-chat") if r.type.startswith("kubernetes:")]
    assert len(objects) == 5
    for manifest in objects:
        manifest_checks.validate(manifest)


def test_workload_shares_the_file_servers_baseline(run):
    chatbot, fileserver = pod(run, "acme-chat"), pod(run, "acme-files")
    for key in ("securityContext", "automountServiceAccountToken", "hostNetwork", "hostPID", "hostIPC",
                "enableServiceLinks"):
        assert chatbot[key] == fileserver[key]
    assert chatbot["containers"][0]["securityContext"] == fileserver["containers"][0]["securityContext"]
    assert chatbot["serviceAccountName"] == "chatbot"
    assert chatbot["automountServiceAccountToken"] is False


@pytest.mark.parametrize("plan", sorted(PLANS))
def test_resources_and_replicas_come_from_the_plan(plan):
    run = run_tenant(plan=plan)
    size = PLANS[plan].chatbot
    (container,) = pod(run, "acme-chat")["containers"]
    assert container["resources"]["requests"] == {"cpu": size.cpu, "memory": size.memory,
                                                  "ephemeral-storage": size.ephemeral_storage}
    assert set(container["resources"]["limits"]) == {"cpu", "memory", "ephemeral-storage"}
    hpa = obj(run.named("acme-chat-workload-autoscaler"))["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (size.min_replicas, size.max_replicas)


def test_irsa_trust_names_exactly_the_chatbot_account_in_the_tenant_namespace(run):
    (statement,) = trust(run, "chatbot")["Statement"]
    assert statement["Condition"] == {"StringEquals": {
        f"{OIDC_ISSUER}:sub": "system:serviceaccount:tenant-acme:chatbot",
        f"{OIDC_ISSUER}:aud": "sts.amazonaws.com"}}
    assert statement["Principal"] == {"Federated": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{OIDC_ISSUER}"}


#: The models each shipped plan's chatbot may invoke: its LLMs and its embedding model, sorted.
MODELS_GRANTED = {
    "starter": ["amazon.titan-embed-text-v2:0", "anthropic.claude-3-haiku-20240307-v1:0"],
    "standard": ["amazon.titan-embed-text-v2:0", "anthropic.claude-3-5-sonnet-20240620-v1:0",
                 "anthropic.claude-3-haiku-20240307-v1:0"],
    "enterprise": ["amazon.titan-embed-text-v2:0", "anthropic.claude-3-5-sonnet-20240620-v1:0",
                   "anthropic.claude-3-haiku-20240307-v1:0"],
}


@pytest.mark.parametrize("plan", sorted(PLANS))
def test_role_reads_files_keeps_history_and_invokes_only_the_plans_models(plan):
    run = run_tenant(plan=plan)
    permissions = run.named("acme-chat-permissions").inputs
    assert permissions["role"] == "tp-prod-acme-chatbot"
    policy = json.loads(permissions["policy"])
    profiles = profile_arns(run)
    models = [f"arn:aws:bedrock:ap-northeast-1::foundation-model/{m}" for m in MODELS_GRANTED[plan]]
    assert sorted(profiles) == MODELS_GRANTED[plan]
    assert policy == token_budget.through_profiles(
        docs.chatbot_policy(bucket=BUCKET, key_arn=KEY, region="ap-northeast-1", partition="aws",
                            models=PLANS[plan].llm_models, embedding_model=PLANS[plan].embedding_model),
        profile_arns=[profiles[m] for m in MODELS_GRANTED[plan]], model_arns=models)
    assert policy_lint.allow_wildcards(policy) == []
    assert policy_lint.findings(policy) == []
    bedrock = [s for s in policy["Statement"]
               if str(policy_lint._as_list(s["Action"])[0]).startswith("bedrock:")]
    # The profiles, and the foundation models only through the tenant's own profiles.
    assert [(s["Resource"], s.get("Condition")) for s in bedrock] == [
        ([profiles[m] for m in MODELS_GRANTED[plan]], None),
        (models, {"ArnEquals": {"bedrock:InferenceProfileArn": [profiles[m] for m in MODELS_GRANTED[plan]]}})]
    expected = {BUCKET, f"{BUCKET}/files/*", f"{BUCKET}/chat-history/*", KEY, *models, *profiles.values()}
    assert policy_lint.arns_in(policy) == expected
    actions = {a for s in policy["Statement"] for a in policy_lint._as_list(s["Action"])}
    assert {a for a in actions if a.startswith("bedrock:")} == set(token_budget.INVOKE_ACTIONS)


def profile_arns(run) -> dict[str, str]:
    """The tenant's inference profiles: model id -> ARN (the mock's outputs)."""
    found = [r for r in descendants(run, "acme-chat")
             if r.type == "aws:bedrock/inferenceProfile:InferenceProfile"]
    return {r.inputs["modelSource"]["copyFrom"].rsplit("/", 1)[1]: r.outputs["arn"] for r in found}


def test_configuration_locates_files_vector_store_and_models_without_secrets(run):
    data = obj(run.named("acme-chat-workload-config"))["data"]
    plan = PLANS["standard"]
    assert data == {
        "FILES_BUCKET": "tp-prod-acme-files", "FILES_PREFIX": "files/",
        "CHAT_HISTORY_PREFIX": "chat-history/",
        "FILES_KMS_KEY_ARN": KEY, "AWS_REGION": "ap-northeast-1", "BEDROCK_REGION": "ap-northeast-1",
        "BEDROCK_MODELS": ",".join(plan.llm_models), "BEDROCK_DEFAULT_MODEL": plan.llm_models[0],
        "EMBEDDING_MODEL": "amazon.titan-embed-text-v2:0", "EMBEDDING_DIMENSIONS": "1024",
        "VECTOR_STORE": "pgvector", "PGHOST": DB["database_endpoint"], "PGPORT": "5432",
        "PGDATABASE": "tenants", "PGUSER": "t_acme_app", "VECTOR_STORE_SCHEMA": "t_acme",
        "PGSSLMODE": "verify-full", "PGSSLROOTCERT": "system", "DB_AUTH": "iam",
        "BUDGET_REQUESTS_PER_DAY": "5000", "BUDGET_TOKENS_PER_DAY": "2000000",
        "BEDROCK_PROFILES": json.dumps(profile_arns(run), sort_keys=True),
        "PORT": "8080", "METRICS_PORT": "9090", "TMPDIR": "/tmp"}
    assert not [k for k in data if re.search(r"PASSWORD|SECRET|TOKEN(?!S_PER_DAY)|CREDENTIAL", k)]
    (container,) = pod(run, "acme-chat")["containers"]
    assert container["envFrom"] == [{"configMapRef": {"name": "chatbot-config"}}]
    assert "env" not in container
    assert not [v for v in pod(run, "acme-chat")["volumes"] if "secret" in v]


def test_chatbot_is_not_exposed_outside_the_namespace(run):
    service = obj(run.named("acme-chat-workload-service"))
    assert service["spec"]["type"] == "ClusterIP"
    routes = [m for m in manifests(run) if m["kind"] in ("VirtualService", "Gateway")]
    assert all("chatbot" not in json.dumps(r["spec"]["http"] if "http" in r["spec"] else r["spec"])
               for r in routes)


def test_config_change_rolls_the_pods():
    first = obj(run_tenant().named("acme-chat-workload-deployment"))
    other = obj(run_tenant(chatbot_args=(("database_port", 6432),)).named("acme-chat-workload-deployment"))
    key = "tenant-platform.io/config-hash"
    assert first["spec"]["template"]["metadata"]["annotations"][key] != \
        other["spec"]["template"]["metadata"]["annotations"][key]
