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
ADMIN = d.platform_admin_role_arn("aws", ACCOUNT, "prod")


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
        "files-bucket": d.files_bucket_policy(bucket=t["bucket"], key_arn=t["key"], tenant_role_arns=roles,
                                              deployer_role_arn=ADMIN),
        "log-bucket": d.access_log_bucket_policy(log_bucket=t["logs"], source_bucket=t["bucket"],
                                                 account_id=ACCOUNT),
        "key": d.tenant_key_policy(partition="aws", account_id=ACCOUNT, region=REGION,
                                   tenant_role_arns=roles, admin_role_arn=ADMIN),
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
    assert set(outsider["Action"]) == set(d.S3_DATA_ACTIONS) - {"s3:ListBucket"}
    # Listing (which HeadBucket needs) is denied to all but the tenant roles and the deployer.
    listing = statements["DenyListingOutsideTenantAndDeployer"]
    assert listing["Action"] == "s3:ListBucket" and listing["Resource"] == T["bucket"]
    assert listing["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": sorted([*roles, ADMIN])}}
    assert statements["DenyOtherKeys"]["Condition"] == {
        "ArnNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": T["key"]}}


def test_log_bucket_accepts_only_this_tenants_access_logs():
    allow = by_sid(DOCS["log-bucket"])["AllowAccessLogDelivery"]
    assert allow["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert allow["Resource"] == f"{T['logs']}/s3-access/files/*"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": T["bucket"]},
                                  "StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_the_deployer_reads_the_bucket_configuration_but_no_object():
    """What the deployer may still do on the files bucket, by AWS's policy evaluation order.

    Each action below is evaluated against the policy's explicit Denies for the deployer
    (the bucket policy allows nothing itself; the deployer's IAM policy allows).
    """
    denied = {a for s in DOCS["files-bucket"]["Statement"] if s["Effect"] == "Deny"
              and ADMIN not in s["Condition"].get("ArnNotEquals", {}).get("aws:PrincipalArn", [ADMIN])
              for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    # The provider's read path (HeadBucket = s3:ListBucket, then the GetBucket* calls).
    for action in ("s3:ListBucket", "s3:GetBucketPolicy", "s3:GetEncryptionConfiguration",
                   "s3:GetBucketVersioning", "s3:GetLifecycleConfiguration", "s3:GetBucketLogging",
                   "s3:GetBucketPublicAccessBlock", "s3:GetBucketOwnershipControls",
                   "s3:PutBucketPolicy", "s3:PutEncryptionConfiguration"):
        assert action not in denied, action
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectVersion",
                   "s3:ListBucketVersions", "s3:RestoreObject"):
        assert action in denied, action


def test_the_deployer_is_never_a_tenant_role():
    with pytest.raises(ValueError, match="deployer"):
        d.files_bucket_policy(bucket=T["bucket"], key_arn=T["key"], tenant_role_arns=[ADMIN],
                              deployer_role_arn=ADMIN)


def test_key_is_administered_by_the_platform_admin_but_used_only_by_tenant_roles_through_s3():
    statements = by_sid(DOCS["key"])
    admin, use = statements["PlatformAdminAdministersKey"], statements["TenantRolesUseKeyThroughS3"]
    assert admin["Principal"] == {"AWS": ADMIN}  # never the account root
    use_actions = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom"}
    assert not use_actions & set(admin["Action"])
    assert "kms:PutKeyPolicy" in admin["Action"]  # the deployer passes the lockout safety check
    assert use["Principal"] == {"AWS": sorted([T["chatbot"], T["fileserver"]])}
    assert use["Condition"]["StringEquals"]["kms:ViaService"] == f"s3.{REGION}.amazonaws.com"
    assert all(s["Resource"] == "*" for s in statements.values())  # "*" is this key


@pytest.mark.parametrize("build", [
    lambda: d.files_bucket_policy(bucket=T["bucket"], key_arn=T["key"], tenant_role_arns=[],
                                  deployer_role_arn=ADMIN),
    lambda: d.tenant_key_policy(partition="aws", account_id=ACCOUNT, region=REGION, tenant_role_arns=[],
                                admin_role_arn=ADMIN),
], ids=["bucket", "key"])
def test_resource_policies_need_a_tenant_role(build):
    with pytest.raises(ValueError, match="at least one tenant role"):
        build()


@pytest.mark.parametrize("kind", ["files-bucket", "log-bucket", "key"])
def test_resource_policies_pass_the_pack_account_wide_check(kind):
    """The pack's own judgement (ISO-DATA-05/06): no unfenced root, account id or '*' Allow."""
    from policy import iam
    assert iam.open_grants(json.dumps(DOCS[kind]), tenant="acme", kms=kind == "key") == []
