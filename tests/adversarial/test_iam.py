"""IAM, key, bucket and secret policies (issue 11.5): careless one-line changes the gate must stop.

Every mutation edits one document of the fixture fleet's plan the way a hurried change
would: a wildcard where a name was, an inverted list, a trust that admits one more
identity, the account root in a key policy. Names come from tenants.naming, so the
mutations hold whatever ids the fixture fleet uses.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components import iam_documents as docs
from tenants.naming import TenantNames
from tests.adversarial.harness import (
    CELL_STACK,
    DEDICATED_STACK,
    DEDICATED_TENANT,
    ENVIRONMENT,
    OTHER,
    TENANT,
    Mutation,
    Resource,
    Resources,
    add,
    assert_check_fails,
    find,
    find_all,
    mutation,
    policy_document,
    set_policy_document,
)

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_POLICY = "aws:iam/policy:Policy"
KEY = "aws:kms/key:Key"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
SECRET_POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"
NAMES = TenantNames(TENANT, ENVIRONMENT)
OTHER_NAMES = TenantNames(OTHER, ENVIRONMENT)
OTHER_OIDC = "oidc.eks.ap-northeast-1.amazonaws.com/id/0THERC1USTER00000000000000000000"


def account(resources: Resources) -> str:
    """The stack's account id, read from the tenant role's ARN in its key policy."""
    key = find(resources, KEY, f"{TENANT}-files-key-key")
    principal = next(s["Principal"]["AWS"] for s in policy_document(key)["Statement"]
                     if s["Sid"] == "TenantRolesUseKeyThroughS3")
    return str(principal[0] if isinstance(principal, list) else principal).split(":")[4]


def _arn_prefix(arn: str, service: str, kind: str) -> str:
    """``arn:<partition>:<service>:<region>:<account>:<kind>`` of an ARN of the same place."""
    parts = arn.split(":")
    return ":".join([parts[0], parts[1], service, parts[3], parts[4], kind])


def _edit_statement(resource: Resource, sid: str, **changes: Any) -> None:
    document = policy_document(resource)
    for statement in document["Statement"]:
        if statement.get("Sid") == sid:
            statement.update(changes)
            for key in [k for k, v in changes.items() if v is None]:
                del statement[key]
    set_policy_document(resource, document)


def _add_statement(resource: Resource, statement: dict[str, Any], key: str = "policy") -> None:
    document = policy_document(resource, key)
    document["Statement"].append(statement)
    set_policy_document(resource, document, key)


def _connect(resources: Resources) -> Resource:
    return find(resources, IAM_POLICY, f"{TENANT}-db-connect")


def _connect_resource(resources: Resources) -> str:
    return str(policy_document(_connect(resources))["Statement"][0]["Resource"])


def _files_permissions(resources: Resources) -> Resource:
    return find(resources, ROLE_POLICY, f"{TENANT}-files-permissions")


def _trust(resources: Resources, stack_tenant: str = TENANT) -> tuple[Resource, dict[str, Any]]:
    role = find(resources, ROLE, f"{stack_tenant}-fileserver-role")
    return role, policy_document(role, "assumeRolePolicy")


# --- ISO-IAM-04: wildcards that reach other tenants ------------------------------------------
@mutation("ISO-IAM-04")
def dbuser_of_every_tenant_on_the_cell_proxy(resources: Resources) -> str:
    policy = _connect(resources)
    _edit_statement(policy, "ConnectAsTenantUserThroughProxy",
                    Resource=_connect_resource(resources).rsplit("/", 1)[0] + "/*")
    return str(policy["name"])


@mutation("ISO-IAM-04")
def dbuser_prefix_pattern(resources: Resources) -> str:
    policy = _connect(resources)
    user = NAMES.db_role
    _edit_statement(policy, "ConnectAsTenantUserThroughProxy",
                    Resource=_connect_resource(resources).rsplit("/", 1)[0] + f"/{user[:2]}*")
    return str(policy["name"])


@mutation("ISO-IAM-04")
def dbuser_any_proxy_any_user(resources: Resources) -> str:
    policy = _connect(resources)
    _edit_statement(policy, "ConnectAsTenantUserThroughProxy",
                    Resource=_connect_resource(resources).split(":dbuser:")[0] + ":dbuser:*")
    return str(policy["name"])


@mutation("ISO-IAM-04")
def bucket_name_wildcard(resources: Resources) -> str:
    policy = _files_permissions(resources)
    prefix = NAMES.files_bucket[: -len(f"{TENANT}-files")]
    _edit_statement(policy, "ReadWriteFiles", Resource=f"arn:aws:s3:::{prefix}*/files/*")
    return str(policy["name"])


@mutation("ISO-IAM-04")
def bucket_question_marks(resources: Resources) -> str:
    policy = _files_permissions(resources)
    masked = NAMES.files_bucket.replace(TENANT, "?" * len(TENANT))
    _edit_statement(policy, "ReadWriteFiles", Resource=f"arn:aws:s3:::{masked}/files/*")
    return str(policy["name"])


@mutation("ISO-IAM-04")
def secret_arn_wildcard(resources: Resources) -> str:
    policy = _files_permissions(resources)
    secrets = _arn_prefix(_connect_resource(resources), "secretsmanager", "secret")
    root = NAMES.db_secret.split(f"/{TENANT}/")[0]
    _add_statement(policy, {"Sid": "ReadSecrets", "Effect": "Allow",
                            "Action": "secretsmanager:GetSecretValue", "Resource": f"{secrets}:{root}/*"})
    return str(policy["name"])


@mutation("ISO-IAM-04")
def key_alias_wildcard(resources: Resources) -> str:
    policy = _files_permissions(resources)
    aliases = _arn_prefix(_connect_resource(resources), "kms", NAMES.kms_alias("files").rsplit("/", 2)[0])
    _add_statement(policy, {"Sid": "UseAliases", "Effect": "Allow", "Action": "kms:Decrypt",
                            "Resource": f"{aliases}/*"})
    return str(policy["name"])


@mutation("ISO-IAM-04")
def not_resource_allow(resources: Resources) -> str:
    policy = _connect(resources)
    _edit_statement(policy, "ConnectAsTenantUserThroughProxy", Resource=None,
                    NotResource=_connect_resource(resources))
    return str(policy["name"])


@mutation("ISO-IAM-04")
def secret_policy_lets_another_tenant_read(resources: Resources) -> str:
    policy = find(resources, SECRET_POLICY, f"{TENANT}-db-secret-policy")
    other = f"arn:aws:iam::{account(resources)}:role/{OTHER_NAMES.iam_role('fileserver')}"
    _add_statement(policy, {"Sid": "OtherTenantReads", "Effect": "Allow", "Principal": {"AWS": other},
                            "Action": "secretsmanager:GetSecretValue", "Resource": "*"})
    return str(policy["name"])


@mutation("ISO-IAM-04")
def bucket_policy_admits_a_role_pattern(resources: Resources) -> str:
    policy = find(resources, BUCKET_POLICY, f"{TENANT}-files-storage-files-policy")
    pattern = f"arn:aws:iam::{account(resources)}:role/{NAMES.prefix.rsplit('-', 1)[0]}-*"
    _add_statement(policy, {"Sid": "Readers", "Effect": "Allow", "Principal": {"AWS": pattern},
                            "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{NAMES.files_bucket}/*"})
    return str(policy["name"])


# --- ISO-IAM-03: wildcard actions and open resources on tenant roles -------------------------
@mutation("ISO-IAM-03")
def kms_star_on_star(resources: Resources) -> str:
    policy = _files_permissions(resources)
    _add_statement(policy, {"Sid": "AllKms", "Effect": "Allow", "Action": "kms:*", "Resource": "*"})
    return str(policy["name"])


@mutation("ISO-IAM-03")
def partial_action_wildcard(resources: Resources) -> str:
    policy = _files_permissions(resources)
    _edit_statement(policy, "ReadWriteFiles", Action=["s3:Get*", "s3:PutObject"])
    return str(policy["name"])


@mutation("ISO-IAM-03")
def any_key_without_service_fence(resources: Resources) -> str:
    policy = _files_permissions(resources)
    keys = _arn_prefix(_connect_resource(resources), "kms", "key")
    _edit_statement(policy, "UseFilesKeyThroughS3", Resource=f"{keys}/*", Condition=None)
    return str(policy["name"])


# --- ISO-IAM-01: IRSA trust admits exactly one web identity ----------------------------------
def _statement(trust: dict[str, Any]) -> dict[str, Any]:
    return trust["Statement"][0]


def _issuer(statement: dict[str, Any]) -> str:
    return str(statement["Principal"]["Federated"]).split(":oidc-provider/", 1)[1]


@mutation("ISO-IAM-01")
def irsa_sub_string_like_wildcard(resources: Resources) -> str:
    role, trust = _trust(resources)
    statement = _statement(trust)
    issuer = _issuer(statement)
    equals = statement["Condition"]["StringEquals"]
    del equals[f"{issuer}:sub"]
    statement["Condition"]["StringLike"] = {f"{issuer}:sub": f"system:serviceaccount:{NAMES.namespace}:*"}
    set_policy_document(role, trust, "assumeRolePolicy")
    return str(role["name"])


@mutation("ISO-IAM-01")
def irsa_trusts_a_second_provider(resources: Resources) -> str:
    role, trust = _trust(resources)
    second = json.loads(json.dumps(_statement(trust)))
    issuer = _issuer(second)
    second["Principal"]["Federated"] = second["Principal"]["Federated"].replace(issuer, OTHER_OIDC)
    second["Condition"]["StringEquals"] = {k.replace(issuer, OTHER_OIDC): v
                                           for k, v in second["Condition"]["StringEquals"].items()}
    trust["Statement"].append(second)
    set_policy_document(role, trust, "assumeRolePolicy")
    return str(role["name"])


@mutation("ISO-IAM-01")
def irsa_without_audience(resources: Resources) -> str:
    role, trust = _trust(resources)
    statement = _statement(trust)
    del statement["Condition"]["StringEquals"][f"{_issuer(statement)}:aud"]
    set_policy_document(role, trust, "assumeRolePolicy")
    return str(role["name"])


@mutation("ISO-IAM-01")
def irsa_adds_an_account_principal(resources: Resources) -> str:
    role, trust = _trust(resources)
    _statement(trust)["Principal"]["AWS"] = docs.account_root_arn("aws", account(resources))
    set_policy_document(role, trust, "assumeRolePolicy")
    return str(role["name"])


@mutation("ISO-IAM-01")
def irsa_adds_a_service_statement(resources: Resources) -> str:
    role, trust = _trust(resources)
    trust["Statement"].append({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                               "Action": "sts:AssumeRole"})
    set_policy_document(role, trust, "assumeRolePolicy")
    return str(role["name"])


@mutation("ISO-IAM-04")
def irsa_swaps_to_another_clusters_provider(resources: Resources) -> str:
    role, trust = _trust(resources)
    statement = _statement(trust)
    issuer = _issuer(statement)
    statement["Principal"]["Federated"] = statement["Principal"]["Federated"].replace(issuer, OTHER_OIDC)
    statement["Condition"]["StringEquals"] = {k.replace(issuer, OTHER_OIDC): v
                                              for k, v in statement["Condition"]["StringEquals"].items()}
    set_policy_document(role, trust, "assumeRolePolicy")
    return str(role["name"])


@mutation("ISO-IAM-01", stack=DEDICATED_STACK)
def dedicated_irsa_sub_wildcard(resources: Resources) -> str:
    role, trust = _trust(resources, DEDICATED_TENANT)
    statement = _statement(trust)
    sub = f"{_issuer(statement)}:sub"
    statement["Condition"]["StringEquals"][sub] = "system:serviceaccount:*"
    set_policy_document(role, trust, "assumeRolePolicy")
    return str(role["name"])


# --- ISO-IAM-02: Pod Identity outside the role's tenant --------------------------------------
@mutation("ISO-IAM-02")
def pod_identity_binds_a_role_to_another_namespace(resources: Resources) -> str:
    role = find(resources, ROLE, f"{TENANT}-chatbot-role")
    arn = f"arn:aws:iam::{account(resources)}:role/{NAMES.iam_role('chatbot')}"
    return add(resources, role, "aws:eks/podIdentityAssociation:PodIdentityAssociation",
               f"{TENANT}-chatbot-identity", {
                   "clusterName": "c", "namespace": OTHER_NAMES.namespace, "serviceAccount": "chatbot",
                   "roleArn": arn, "tags": role["inputs"]["tags"]})


# --- ISO-DATA-05/06/07: account-wide grants in resource policies -----------------------------
@mutation("ISO-DATA-06")
def key_policy_gives_the_account_root_everything(resources: Resources) -> str:
    key = find(resources, KEY, f"{TENANT}-files-key-key")
    _add_statement(key, {"Sid": "EnableIamPolicies", "Effect": "Allow",
                         "Principal": {"AWS": docs.account_root_arn("aws", account(resources))},
                         "Action": "kms:*", "Resource": "*"})
    return str(key["name"])


@mutation("ISO-DATA-06", stack=DEDICATED_STACK)
def dedicated_volumes_key_with_bare_account_id(resources: Resources) -> str:
    key = find(resources, KEY, f"{TenantNames(DEDICATED_TENANT, ENVIRONMENT).prefix}-volumes-key")
    document = policy_document(key)
    admin = document["Statement"][0]["Principal"]["AWS"]
    acct = str(admin).split(":")[4]
    document["Statement"].append({"Sid": "Account", "Effect": "Allow", "Principal": {"AWS": acct},
                                  "Action": "kms:Decrypt", "Resource": "*"})
    set_policy_document(key, document)
    return str(key["name"])


@mutation("ISO-DATA-06")
def key_lockout_check_bypassed(resources: Resources) -> str:
    key = find(resources, KEY, f"{TENANT}-files-key-key")
    key["inputs"]["bypassPolicyLockoutSafetyCheck"] = True
    return str(key["name"])


@mutation("ISO-DATA-05")
def bucket_policy_allows_everyone(resources: Resources) -> str:
    policy = find(resources, BUCKET_POLICY, f"{TENANT}-files-storage-files-policy")
    _add_statement(policy, {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
                            "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{NAMES.files_bucket}/*"})
    return str(policy["name"])


@mutation("ISO-DATA-05")
def log_delivery_without_source_fence(resources: Resources) -> str:
    policy = find(resources, BUCKET_POLICY, f"{TENANT}-files-storage-logs-policy")
    _edit_statement(policy, "AllowAccessLogDelivery", Condition=None)
    return str(policy["name"])


@mutation("ISO-DATA-07")
def secret_policy_allows_the_account(resources: Resources) -> str:
    policy = find(resources, SECRET_POLICY, f"{TENANT}-db-secret-policy")
    _edit_statement(policy, "ProxyReadsSecret",
                    Principal={"AWS": docs.account_root_arn("aws", account(resources))})
    return str(policy["name"])


# --- the data rules that judge no document, for the record of the suite ----------------------
@mutation("ISO-DATA-02")
def database_storage_unencrypted(resources: Resources) -> str:
    [db] = find_all(resources, "aws:rds/instance:Instance")
    db["inputs"]["storageEncrypted"] = False
    return str(db["name"])


@mutation("ISO-DATA-03")
def database_password_auth(resources: Resources) -> str:
    [db] = find_all(resources, "aws:rds/instance:Instance")
    db["inputs"]["iamDatabaseAuthenticationEnabled"] = False
    return str(db["name"])


@mutation("ISO-DATA-04")
def proxy_without_tls(resources: Resources) -> str:
    [proxy] = find_all(resources, "aws:rds/proxy:Proxy")
    proxy["inputs"]["requireTls"] = False
    return str(proxy["name"])


@mutation("ISO-DATA-08")
def storage_class_retains_released_volumes(resources: Resources) -> str:
    [storage_class] = find_all(resources, "kubernetes:storage.k8s.io/v1:StorageClass")
    storage_class["inputs"]["reclaimPolicy"] = "Retain"
    return str(storage_class["name"])


MUTATIONS: list[Mutation] = [
    dbuser_of_every_tenant_on_the_cell_proxy, dbuser_prefix_pattern, dbuser_any_proxy_any_user,
    bucket_name_wildcard, bucket_question_marks, secret_arn_wildcard, key_alias_wildcard,
    not_resource_allow, secret_policy_lets_another_tenant_read, bucket_policy_admits_a_role_pattern,
    kms_star_on_star, partial_action_wildcard, any_key_without_service_fence,
    irsa_sub_string_like_wildcard, irsa_trusts_a_second_provider, irsa_without_audience,
    irsa_adds_an_account_principal, irsa_adds_a_service_statement, irsa_swaps_to_another_clusters_provider,
    dedicated_irsa_sub_wildcard,
    pod_identity_binds_a_role_to_another_namespace,
    key_policy_gives_the_account_root_everything, dedicated_volumes_key_with_bare_account_id,
    key_lockout_check_bypassed, bucket_policy_allows_everyone, log_delivery_without_source_fence,
    secret_policy_allows_the_account,
    database_storage_unencrypted, database_password_auth, proxy_without_tls,
    storage_class_retains_released_volumes,
]


@pytest.mark.parametrize("m", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_gate_stops(fleet_plan, tmp_path, m):
    assert_check_fails(fleet_plan, m, tmp_path)


def _stack(plan: dict[str, Any], name: str) -> Resources:
    return next(s["resources"] for s in plan["stacks"] if s["name"] == name)


def test_only_the_dedicated_account_declares_the_auto_scaling_role_and_its_volumes_key_waits(fleet_plan):
    """Issue 12.6 on the fleet: one declaration per account, and the key depends on it."""
    slr = "aws:iam/serviceLinkedRole:ServiceLinkedRole"
    assert find_all(_stack(fleet_plan, CELL_STACK), slr) == []
    dedicated = _stack(fleet_plan, DEDICATED_STACK)
    [role] = find_all(dedicated, slr)
    assert role["inputs"]["awsServiceName"] == docs.AUTOSCALING_SERVICE
    key = find(dedicated, KEY, f"{TenantNames(DEDICATED_TENANT, ENVIRONMENT).prefix}-volumes-key")
    assert role["urn"] in key["options"]["dependsOn"]
    assert role["urn"] in key["options"]["propertyDependencies"]["policy"]


def test_no_key_bucket_or_secret_policy_of_the_fleet_grants_account_wide(fleet_plan):
    from policy import iam
    for stack in fleet_plan["stacks"]:
        for resource in stack["resources"]:
            if resource["type"] in (KEY, BUCKET_POLICY, SECRET_POLICY):
                assert iam.open_grants(resource["inputs"]["policy"], kms=resource["type"] == KEY) == [], (
                    resource["name"])
