"""The tenant's policy documents: least privilege, exact ARNs, lint-clean, one tenant only."""

from __future__ import annotations

import json
import re

import pytest

from components import iam_documents as d
from tests.components import policy_lint

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET = "anthropic.claude-3-5-sonnet-20240620-v1:0"
TITAN = "amazon.titan-embed-text-v2:0"


def tenant(tenant_id: str) -> dict[str, str]:
    return {
        "bucket": d.bucket_arn("aws", f"tp-prod-{tenant_id}-files"),
        "logs": d.bucket_arn("aws", f"tp-prod-{tenant_id}-logs"),
        "key": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/key-{tenant_id}",
        "fileserver": f"arn:aws:iam::{ACCOUNT}:role/tp-prod-{tenant_id}-fileserver",
        "chatbot": f"arn:aws:iam::{ACCOUNT}:role/tp-prod-{tenant_id}-chatbot",
    }


def documents(tenant_id: str) -> dict[str, dict]:
    t = tenant(tenant_id)
    roles = [t["fileserver"], t["chatbot"]]
    return {
        "fileserver": d.fileserver_policy(bucket=t["bucket"], key_arn=t["key"], region=REGION),
        "chatbot": d.chatbot_policy(bucket=t["bucket"], key_arn=t["key"], region=REGION, partition="aws",
                                    models=[HAIKU, SONNET], embedding_model=TITAN),
        "files-bucket": d.files_bucket_policy(bucket=t["bucket"], key_arn=t["key"], tenant_role_arns=roles),
        "log-bucket": d.access_log_bucket_policy(log_bucket=t["logs"], source_bucket=t["bucket"],
                                                 account_id=ACCOUNT),
        "key": d.tenant_key_policy(partition="aws", account_id=ACCOUNT, region=REGION,
                                   tenant_role_arns=roles),
    }


DOCS = documents("acme")
T = tenant("acme")
ALIAS = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/tp/prod/acme/files"


def by_sid(document: dict) -> dict[str, dict]:
    return {s["Sid"]: s for s in document["Statement"]}


@pytest.mark.parametrize("kind", sorted(DOCS), ids=sorted(DOCS))
def test_documents_pass_parliament_with_no_findings(kind):
    key_resources = [T["key"], ALIAS] if kind == "key" else None
    assert policy_lint.findings(DOCS[kind], key_resources=key_resources) == []


def test_parliament_objects_to_bedrock_model_grants_only_because_it_wants_more_resources():
    """The one dropped finding asks for *wider* access (every resource type) or no ``:``."""
    statement = by_sid(DOCS["chatbot"])["InvokeAllowedModels"]
    foundation = "arn:*:bedrock:*::foundation-model/*"

    def wanted(resources):
        document = {"Version": d.VERSION, "Statement": [{**statement, "Resource": resources}]}
        found = policy_lint.raw_findings(document)
        assert [issue for issue, _ in found] == ["RESOURCE_MISMATCH"]
        return {item["required_format"] for item in found[0][1]}

    with_versions = wanted(statement["Resource"])
    without_colon = wanted([re.sub(r":\d+$", "", r) for r in statement["Resource"]])
    assert with_versions - without_colon == {foundation}  # the ':' of the model version
    assert "arn:*:bedrock:*:*:inference-profile/*" in without_colon  # other resource types
    assert foundation not in without_colon


def test_key_policy_is_linted_for_the_key_and_its_alias():
    raw = [issue for issue, _ in policy_lint.raw_findings(DOCS["key"])]
    assert set(raw) == {"RESOURCE_STAR"}  # "*" means this key; linted below as what it stands for
    only_key = [issue for issue, _ in policy_lint.findings(DOCS["key"], key_resources=[T["key"]])]
    assert only_key == ["RESOURCE_MISMATCH"]  # alias operations also need the alias


@pytest.mark.parametrize(("mutate", "issue"), [
    (lambda doc: doc["Statement"][1]["Action"].append("s3:GetObjekt"), "UNKNOWN_ACTION"),
    (lambda doc: doc["Statement"][2].update(Resource=T["bucket"]), "RESOURCE_MISMATCH"),
    (lambda doc: doc["Statement"][0]["Condition"]["StringLike"].update({"kms:ViaService": "x"}),
     "UNKNOWN_CONDITION_FOR_ACTION"),
], ids=["misspelt-action", "kms-action-on-bucket", "condition-not-for-action"])
def test_lint_catches_seeded_mistakes(mutate, issue):
    doc = json.loads(json.dumps(DOCS["fileserver"]))
    mutate(doc)
    assert issue in [i for i, _ in policy_lint.findings(doc)]


@pytest.mark.parametrize("kind", sorted(DOCS), ids=sorted(DOCS))
def test_allow_statements_name_exact_resources_and_principals(kind):
    assert policy_lint.allow_wildcards(DOCS[kind]) == []


@pytest.mark.parametrize(("resource", "exact"), [
    ("arn:aws:s3:::tp-prod-acme-files/files/*", True),
    ("arn:aws:s3:::tp-prod-acme-files", True),
    ("arn:aws:s3:::tp-prod-*-files/*", False),
    ("arn:aws:kms:ap-northeast-1:123456789012:key/*", False),
    ("*", False),
], ids=["object-prefix", "bucket", "bucket-pattern", "any-key", "star"])
def test_exact_resource_check_rejects_patterns(resource, exact):
    assert policy_lint.exact_resource(resource) is exact


@pytest.mark.parametrize("kind", sorted(DOCS), ids=sorted(DOCS))
def test_documents_name_only_their_own_tenant(kind):
    other = documents("globex")[kind]
    assert "globex" not in json.dumps(DOCS[kind])
    assert "acme" not in json.dumps(other)


def test_fileserver_reads_and_writes_files_only():
    assert DOCS["fileserver"] == {"Version": "2012-10-17", "Statement": [
        {"Sid": "ListFiles", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
         "Resource": T["bucket"], "Condition": {"StringLike": {"s3:prefix": ["files/", "files/*"]}}},
        {"Sid": "ReadWriteFiles", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject",
                    "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
         "Resource": f"{T['bucket']}/files/*"},
        {"Sid": "UseFilesKeyThroughS3", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": T["key"],
         "Condition": {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}},
    ]}


def test_fileserver_cannot_destroy_versions():
    actions = {a for s in DOCS["fileserver"]["Statement"] for a in policy_lint._as_list(s["Action"])}
    assert "s3:DeleteObjectVersion" not in actions


def test_chatbot_reads_files_keeps_history_and_invokes_plan_and_embedding_models_only():
    statements = by_sid(DOCS["chatbot"])
    assert statements["ReadFiles"] == {"Sid": "ReadFiles", "Effect": "Allow", "Action": "s3:GetObject",
                                       "Resource": f"{T['bucket']}/files/*"}
    assert statements["ReadWriteChatHistory"]["Resource"] == f"{T['bucket']}/chat-history/*"
    assert statements["InvokeAllowedModels"] == {
        "Sid": "InvokeAllowedModels", "Effect": "Allow", "Action": "bedrock:InvokeModel",
        "Resource": [f"arn:aws:bedrock:{REGION}::foundation-model/{TITAN}",
                     f"arn:aws:bedrock:{REGION}::foundation-model/{SONNET}",
                     f"arn:aws:bedrock:{REGION}::foundation-model/{HAIKU}"]}
    bedrock = [s for s in DOCS["chatbot"]["Statement"] if "bedrock" in json.dumps(s)]
    assert bedrock == [statements["InvokeAllowedModels"]]
    writes = [s for s in DOCS["chatbot"]["Statement"]
              if "s3:PutObject" in policy_lint._as_list(s["Action"])]
    assert [s["Resource"] for s in writes] == [f"{T['bucket']}/chat-history/*"]
    assert set(statements) == {"ListFilesAndHistory", "ReadFiles", "ReadWriteChatHistory",
                               "UseFilesKeyThroughS3", "InvokeAllowedModels"}


@pytest.mark.parametrize(("models", "embedding", "message"), [
    ([], TITAN, "at least one model"), ([HAIKU], "", "embedding model"),
], ids=["no-llm", "no-embedding-model"])
def test_chatbot_needs_a_model_and_an_embedding_model(models, embedding, message):
    with pytest.raises(ValueError, match=message):
        d.chatbot_policy(bucket=T["bucket"], key_arn=T["key"], region=REGION, partition="aws", models=models,
                         embedding_model=embedding)


def test_chatbot_grants_a_model_listed_twice_once_in_the_partition_and_region_given():
    policy = d.chatbot_policy(bucket=T["bucket"], key_arn=T["key"], region="us-gov-west-1",
                              partition="aws-us-gov", models=[TITAN, HAIKU], embedding_model=TITAN)
    assert by_sid(policy)["InvokeAllowedModels"]["Resource"] == [
        f"arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/{TITAN}",
        f"arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/{HAIKU}"]
    assert policy_lint.findings(policy) == []


def test_files_bucket_denies_plain_http_and_everyone_but_the_tenant_roles():
    statements = by_sid(DOCS["files-bucket"])
    assert all(s["Effect"] == "Deny" for s in statements.values())
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statements["DenyInsecureTransport"]["Resource"] == [T["bucket"], f"{T['bucket']}/*"]
    outsider = statements["DenyDataAccessOutsideTenant"]
    roles = sorted([T["chatbot"], T["fileserver"]])
    assert outsider["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": roles}}
    assert {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"} <= set(outsider["Action"])
    assert statements["DenyOtherKeys"]["Condition"] == {
        "ArnNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": T["key"]}}


def test_log_bucket_accepts_only_this_tenants_access_logs():
    allow = by_sid(DOCS["log-bucket"])["AllowAccessLogDelivery"]
    assert allow["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert allow["Resource"] == f"{T['logs']}/s3-access/files/*"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": T["bucket"]},
                                  "StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_key_is_administered_by_the_account_but_used_only_by_tenant_roles_through_s3():
    statements = by_sid(DOCS["key"])
    admin, use = statements["AccountAdministersKey"], statements["TenantRolesUseKeyThroughS3"]
    assert admin["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    use_actions = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom"}
    assert not use_actions & set(admin["Action"])
    assert "kms:PutKeyPolicy" in admin["Action"]  # the account can always repair the policy
    assert use["Principal"] == {"AWS": sorted([T["chatbot"], T["fileserver"]])}
    assert use["Condition"]["StringEquals"]["kms:ViaService"] == f"s3.{REGION}.amazonaws.com"
    assert all(s["Resource"] == "*" for s in statements.values())  # "*" is this key


@pytest.mark.parametrize("build", [
    lambda: d.files_bucket_policy(bucket=T["bucket"], key_arn=T["key"], tenant_role_arns=[]),
    lambda: d.tenant_key_policy(partition="aws", account_id=ACCOUNT, region=REGION, tenant_role_arns=[]),
], ids=["bucket", "key"])
def test_resource_policies_need_a_tenant_role(build):
    with pytest.raises(ValueError, match="at least one tenant role"):
        build()
