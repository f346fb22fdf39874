"""Seeded violations of the EKS, IAM, data (DATA) and metadata (META) rules."""

from __future__ import annotations

import json
from typing import Any

from policy.rules import (
    iso_data_01,
    iso_data_02,
    iso_data_03,
    iso_data_04,
    iso_data_05,
    iso_data_06,
    iso_data_07,
    iso_data_08,
    iso_eks_01,
    iso_eks_02,
    iso_eks_03,
    iso_eks_04,
    iso_iam_01,
    iso_iam_02,
    iso_iam_03,
    iso_iam_04,
    iso_meta_01,
    iso_meta_02,
)
from tenants.naming import TenantNames
from tests.policy import fixtures as f
from tests.policy.cases import (
    Case,
    adding,
    alone,
    changing,
    check,
    evaluate,
    one,
    params,
    stack_edit,
    without,
)

ROLE = "aws:iam/role:Role"
KEY = "aws:kms/key:Key"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SECRET_TYPE = "aws:secretsmanager/secret:Secret"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
POD_IDENTITY = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
BOLT_ROLE = f"arn:aws:iam::{f.ACCOUNT}:role/tp-prod-bolt-fileserver"
TRUST_SUB = ("assumeRolePolicy",)


def raw_cluster() -> dict[str, Any]:
    return f.resource("aws:eks/cluster:Cluster", "raw-cluster", {
        "name": "tp-prod-cell-apne1-02", "roleArn": "arn:aws:iam::1:role/eks",
        "vpcConfig": {"subnetIds": ["subnet-a"], "endpointPrivateAccess": True,
                      "endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]},
        "encryptionConfig": {"provider": {"keyArn": f.key_arn("cell", "eks")}, "resources": ["secrets"]},
        "enabledClusterLogTypes": ["audit", "authenticator", "api"],
        "accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}})


def association(principal: str, policy: str, scope: dict[str, Any]) -> dict[str, Any]:
    return f.resource("aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "apa", {
        "clusterName": "c", "principalArn": principal,
        "policyArn": f"arn:aws:eks::aws:cluster-access-policy/{policy}", "accessScope": scope})


def access_entry(entry_type: str) -> dict[str, Any]:
    return f.resource("aws:eks/accessEntry:AccessEntry", "entry", {
        "clusterName": "c", "principalArn": f"arn:aws:iam::{f.ACCOUNT}:role/tp-prod-acme-operator",
        "type": entry_type, "tags": f.tags("acme")})


def trust(condition: dict[str, Any]) -> str:
    return f.doc({"Effect": "Allow", "Principal": {"Federated": f.OIDC_ARN},
                  "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition})


def irsa_statement(**overrides: Any) -> dict[str, Any]:
    """The compliant IRSA statement of acme's file server, with fields replaced."""
    statement = json.loads(f.irsa_trust("tenant-acme", "fileserver"))["Statement"][0]
    return {**statement, **overrides}


OTHER_OIDC = "oidc.eks.ap-northeast-1.amazonaws.com/id/OTHERCLUSTER0000000000000000000"
RDS_USERS = f"arn:aws:rds-db:{f.REGION}:{f.ACCOUNT}:dbuser:prx-0abc"


def inline(*statements: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": "p", "policy": f.doc(*statements)}]


def allow(action: Any, resource: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def bucket_policy(principal: str) -> dict[str, Any]:
    files = f.bucket("acme", "files")
    return f.resource("aws:s3/bucketPolicy:BucketPolicy", "acme-files-policy", {
        "bucket": "tp-prod-acme-files-id",
        "policy": f.doc({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "s3:GetObject",
                         "Resource": "arn:aws:s3:::tp-prod-acme-files/*"})}, depends_on=[files])


def foreign_attachment() -> dict[str, Any]:
    return f.resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "acme-bolt-reader", {
        "role": "tp-prod-acme-fileserver",
        "policyArn": f"arn:aws:iam::{f.ACCOUNT}:policy/tp-prod-bolt-reader"})


def policy_built_from_bolt_key() -> dict[str, Any]:
    return f.resource("aws:iam/rolePolicy:RolePolicy", "acme-decrypt", {
        "role": "tp-prod-acme-fileserver",
        "policy": f.doc(allow("kms:Decrypt", f.key_arn("bolt")))},
        depends_on=[f.tenant_role("acme"), f.kms_key("bolt", "files")])


def shared_role(conditioned: bool) -> dict[str, Any]:
    statement = allow("s3:GetObject", "arn:aws:s3:::tp-prod-shared-models/*")
    if conditioned:
        statement["Condition"] = {"StringEquals": {
            "aws:ResourceTag/kubernetes-namespace": "${aws:PrincipalTag/kubernetes-namespace}"}}
    return f.resource(ROLE, "shared-reader", {
        "name": "tp-prod-cell-apne1-01-reader",
        "assumeRolePolicy": f.doc({"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                                   "Action": ["sts:AssumeRole", "sts:TagSession"]}),
        "inlinePolicies": inline(statement)})


def shared_associations(conditioned: bool) -> list[dict[str, Any]]:
    role = shared_role(conditioned)
    return [role] + [f.resource(POD_IDENTITY, f"{t}-reader", {
        "clusterName": "c", "namespace": f"tenant-{t}", "serviceAccount": "chatbot",
        "roleArn": f"arn:aws:iam::{f.ACCOUNT}:role/tp-prod-cell-apne1-01-reader", "tags": f.tags(t)},
        depends_on=[role]) for t in ("acme", "bolt")]


def efs(**inputs: Any) -> dict[str, Any]:
    return f.resource("aws:efs/fileSystem:FileSystem", "efs", inputs)


def persistent_volume(claim: dict[str, Any] | None, **labels: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
                            "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"}}
    if claim is not None:
        spec["claimRef"] = claim
    meta: dict[str, Any] = {"name": "pv-1"}
    if labels:
        meta["labels"] = labels
    return f.resource("kubernetes:core/v1:PersistentVolume", "pv", {
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": meta, "spec": spec})


def two_tenant_proxy() -> dict[str, Any]:
    return f.db_proxy(("acme", "bolt"))


def unlogged_bucket() -> list[dict[str, Any]]:
    extra = f.changed(f.bucket("bolt", "files"), ("bucket",), "tp-prod-bolt-exports")
    extra["name"], extra["urn"] = "bolt-exports", f.urn("aws:s3/bucket:Bucket", "bolt-exports")
    return [extra, f.public_access_block(extra), f.encryption(extra, f.kms_key("bolt", "files"))]


def release() -> dict[str, Any]:
    return f.resource("kubernetes:helm.sh/v3:Release", "acme-extra", {
        "chart": "redis", "namespace": "tenant-acme", "values": {}})


CASES: list[Case] = [
    # ISO-EKS-01
    one("eks01-public-default-cidrs", "ISO-EKS-01", f.eks_cluster, ("endpointPublicAccess",), True,
        iso_eks_01.MSG_PUBLIC_ENDPOINT),
    one("eks01-public-by-default", "ISO-EKS-01", f.eks_cluster, ("endpointPublicAccess",), f.DELETE,
        iso_eks_01.MSG_PUBLIC_ENDPOINT),
    one("eks01-raw-open-cidrs", "ISO-EKS-01", raw_cluster, ("vpcConfig", "publicAccessCidrs"),
        ["0.0.0.0/0"], iso_eks_01.MSG_PUBLIC_ENDPOINT),
    one("eks01-raw-no-cidrs", "ISO-EKS-01", raw_cluster, ("vpcConfig", "publicAccessCidrs"), f.DELETE,
        iso_eks_01.MSG_PUBLIC_ENDPOINT),
    # ISO-EKS-02
    one("eks02-no-key", "ISO-EKS-02", f.eks_cluster, ("encryptionConfigKeyArn",), f.DELETE,
        iso_eks_02.MSG_ENVELOPE),
    one("eks02-raw-no-config", "ISO-EKS-02", raw_cluster, ("encryptionConfig",), f.DELETE,
        iso_eks_02.MSG_ENVELOPE),
    one("eks02-raw-not-secrets", "ISO-EKS-02", raw_cluster, ("encryptionConfig", "resources"), [],
        iso_eks_02.MSG_ENVELOPE),
    # ISO-EKS-03
    one("eks03-no-audit", "ISO-EKS-03", f.eks_cluster, ("enabledClusterLogTypes",), ["api", "authenticator"],
        iso_eks_03.MSG_AUDIT_LOG),
    one("eks03-no-authenticator", "ISO-EKS-03", raw_cluster, ("enabledClusterLogTypes",), ["audit"],
        iso_eks_03.MSG_AUTHENTICATOR_LOG),
    one("eks03-no-logs", "ISO-EKS-03", f.eks_cluster, ("enabledClusterLogTypes",), f.DELETE,
        iso_eks_03.MSG_AUDIT_LOG, iso_eks_03.MSG_AUTHENTICATOR_LOG),
    # ISO-EKS-04
    one("eks04-config-map-auth", "ISO-EKS-04", f.eks_cluster, ("authenticationMode",), "API_AND_CONFIG_MAP",
        iso_eks_04.MSG_AUTH_MODE),
    one("eks04-raw-default-auth", "ISO-EKS-04", raw_cluster, ("accessConfig", "authenticationMode"),
        f.DELETE, iso_eks_04.MSG_AUTH_MODE),
    one("eks04-raw-bootstrap", "ISO-EKS-04", raw_cluster,
        ("accessConfig", "bootstrapClusterCreatorAdminPermissions"), f.DELETE, iso_eks_04.MSG_BOOTSTRAP),
    one("eks04-tenant-cluster-scope", "ISO-EKS-04", f.eks_cluster,
        ("accessEntries", "tenant-operator", "accessPolicies", "edit", "accessScope"), {"type": "cluster"},
        iso_eks_04.MSG_TENANT_SCOPE),
    one("eks04-tenant-cluster-admin", "ISO-EKS-04", f.eks_cluster,
        ("accessEntries", "tenant-operator", "accessPolicies", "edit", "policyArn"),
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", iso_eks_04.MSG_TENANT_ADMIN),
    alone("eks04-association-two-tenants", "ISO-EKS-04", lambda: association(
        "arn:aws:iam::1:role/support", "AmazonEKSEditPolicy",
        {"type": "namespace", "namespaces": ["tenant-acme", "tenant-bolt"]}), iso_eks_04.MSG_TENANT_SCOPE),
    alone("eks04-association-system-namespace", "ISO-EKS-04", lambda: association(
        f"arn:aws:iam::{f.ACCOUNT}:role/tp-prod-acme-operator", "AmazonEKSEditPolicy",
        {"type": "namespace", "namespaces": ["tenant-acme", "kube-system"]}), iso_eks_04.MSG_TENANT_SCOPE),
    alone("eks04-association-admin", "ISO-EKS-04", lambda: association(
        f"arn:aws:iam::{f.ACCOUNT}:role/tp-prod-acme-operator", "AmazonEKSClusterAdminPolicy",
        {"type": "cluster"}), iso_eks_04.MSG_TENANT_ADMIN, iso_eks_04.MSG_TENANT_SCOPE),
    alone("eks04-tenant-node-entry", "ISO-EKS-04", lambda: access_entry("EC2_LINUX"),
          iso_eks_04.MSG_TENANT_ENTRY_TYPE),
    # ISO-IAM-01
    one("iam01-second-statement", "ISO-IAM-01", f.tenant_role, TRUST_SUB, f.doc(
        irsa_statement(), irsa_statement(Condition={"StringEquals": {
            f"{f.OIDC}:sub": "system:serviceaccount:tenant-acme:chatbot",
            f"{f.OIDC}:aud": "sts.amazonaws.com"}})), iso_iam_01.MSG_ONE_IDENTITY),
    one("iam01-second-provider", "ISO-IAM-01", f.tenant_role, TRUST_SUB, f.doc(
        irsa_statement(), irsa_statement(
            Principal={"Federated": f"arn:aws:iam::{f.ACCOUNT}:oidc-provider/{OTHER_OIDC}"},
            Condition={"StringEquals": {f"{OTHER_OIDC}:sub": "system:serviceaccount:tenant-acme:fileserver",
                                        f"{OTHER_OIDC}:aud": "sts.amazonaws.com"}})),
        iso_iam_01.MSG_ONE_IDENTITY),
    one("iam01-aws-principal-added", "ISO-IAM-01", f.tenant_role, TRUST_SUB, f.doc(irsa_statement(
        Principal={"Federated": f.OIDC_ARN, "AWS": f"arn:aws:iam::{f.ACCOUNT}:root"})),
        iso_iam_01.MSG_ONE_IDENTITY),
    one("iam01-service-statement-added", "ISO-IAM-01", f.tenant_role, TRUST_SUB, f.doc(
        irsa_statement(), {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                           "Action": "sts:AssumeRole"}), iso_iam_01.MSG_ONE_IDENTITY),
    one("iam01-keys-of-another-issuer", "ISO-IAM-01", f.tenant_role, TRUST_SUB, f.doc(irsa_statement(
        Condition={"StringEquals": {f"{OTHER_OIDC}:sub": "system:serviceaccount:tenant-acme:fileserver",
                                    f"{OTHER_OIDC}:aud": "sts.amazonaws.com"}})),
        iso_iam_01.MSG_ONE_IDENTITY),
    one("iam01-other-service-account", "ISO-IAM-01",
        lambda: f.changed(f.tenant_role(), ("tags", "workload"), "fileserver"), TRUST_SUB,
        f.irsa_trust("tenant-acme", "chatbot"), iso_iam_01.MSG_SUB_NAMESPACE),
    one("iam01-string-like", "ISO-IAM-01", f.tenant_role, TRUST_SUB, trust({
        "StringLike": {f"{f.OIDC}:sub": "system:serviceaccount:tenant-acme:*"},
        "StringEquals": {f"{f.OIDC}:aud": "sts.amazonaws.com"}}),
        iso_iam_01.MSG_SUB_EXACT, iso_iam_01.MSG_ONE_IDENTITY),
    one("iam01-wildcard-value", "ISO-IAM-01", f.tenant_role, TRUST_SUB, trust({"StringEquals": {
        f"{f.OIDC}:sub": "system:serviceaccount:tenant-acme:*", f"{f.OIDC}:aud": "sts.amazonaws.com"}}),
        iso_iam_01.MSG_SUB_EXACT),
    one("iam01-no-conditions", "ISO-IAM-01", f.tenant_role, TRUST_SUB, trust({}),
        iso_iam_01.MSG_SUB_EXACT, iso_iam_01.MSG_AUD, iso_iam_01.MSG_ONE_IDENTITY),
    one("iam01-other-namespace", "ISO-IAM-01", f.tenant_role, TRUST_SUB, trust({"StringEquals": {
        f"{f.OIDC}:sub": "system:serviceaccount:default:fileserver", f"{f.OIDC}:aud": "sts.amazonaws.com"}}),
        iso_iam_01.MSG_SUB_NAMESPACE),
    one("iam01-no-audience", "ISO-IAM-01", f.tenant_role, TRUST_SUB, trust({"StringEquals": {
        f"{f.OIDC}:sub": "system:serviceaccount:tenant-acme:fileserver"}}),
        iso_iam_01.MSG_AUD, iso_iam_01.MSG_ONE_IDENTITY),
    # ISO-IAM-02 (stack)
    stack_edit("iam02-association-other-namespace", "ISO-IAM-02",
               changing(POD_IDENTITY, "acme-chatbot-identity", ("namespace",), "tenant-bolt"),
               iso_iam_02.MSG_ASSOCIATION_NAMESPACE, about="acme-chatbot-identity"),
    stack_edit("iam02-untagged-association-of-tenant-role", "ISO-IAM-02",
               lambda s: changing(POD_IDENTITY, "acme-chatbot-identity", ("namespace",), "monitoring")(
                   changing(POD_IDENTITY, "acme-chatbot-identity", ("tags",), f.DELETE)(s)),
               iso_iam_02.MSG_ASSOCIATION_NAMESPACE, about="acme-chatbot-identity"),
    stack_edit("iam02-shared-role-unconditioned", "ISO-IAM-02",
               lambda s: s + shared_associations(conditioned=False),
               iso_iam_02.MSG_SHARED_ROLE, about="shared-reader"),
    # ISO-IAM-03
    one("iam03-wildcard-action", "ISO-IAM-03", f.tenant_role, ("inlinePolicies",),
        inline(allow("s3:*", "arn:aws:s3:::tp-prod-acme-files/*")), iso_iam_03.MSG_WILDCARD_ACTION),
    one("iam03-partial-action-wildcard", "ISO-IAM-03", f.tenant_role, ("inlinePolicies",),
        inline(allow("s3:Get*", "arn:aws:s3:::tp-prod-acme-files/*")), iso_iam_03.MSG_WILDCARD_ACTION),
    one("iam03-question-mark-action", "ISO-IAM-03", f.tenant_role, ("inlinePolicies",),
        inline(allow("kms:?ecrypt", f.key_arn("acme"))), iso_iam_03.MSG_WILDCARD_ACTION),
    one("iam03-open-arn", "ISO-IAM-03", f.tenant_role, ("inlinePolicies",),
        inline(allow("s3:GetObject", "arn:aws:s3:::*")), iso_iam_03.MSG_WILDCARD_RESOURCE),
    one("iam03-any-key", "ISO-IAM-03", f.tenant_role, ("inlinePolicies",),
        inline(allow("kms:Decrypt", f"arn:aws:kms:{f.REGION}:{f.ACCOUNT}:key/*")),
        iso_iam_03.MSG_WILDCARD_RESOURCE),
    one("iam03-not-action", "ISO-IAM-03", f.tenant_role, ("inlinePolicies",),
        inline({"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::tp-prod-acme-files"}),
        iso_iam_03.MSG_WILDCARD_ACTION),
    one("iam03-wildcard-resource", "ISO-IAM-03", f.tenant_role, ("inlinePolicies",),
        inline(allow(["s3:GetObject"], "*")), iso_iam_03.MSG_WILDCARD_RESOURCE),
    one("iam03-role-policy-star", "ISO-IAM-03", f.chatbot_policy, ("policy",), f.doc(allow("*", "*")),
        iso_iam_03.MSG_WILDCARD_ACTION, iso_iam_03.MSG_WILDCARD_RESOURCE),
    one("iam03-admin-managed", "ISO-IAM-03", f.tenant_role, ("managedPolicyArns",),
        ["arn:aws:iam::aws:policy/AdministratorAccess"], iso_iam_03.MSG_ADMIN_POLICY),
    alone("iam03-admin-attached", "ISO-IAM-03", lambda: f.resource(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "acme-admin", {
            "role": "tp-prod-acme-fileserver", "policyArn": "arn:aws:iam::aws:policy/AmazonS3FullAccess"}),
        iso_iam_03.MSG_ADMIN_POLICY),
    alone("iam03-tenant-policy", "ISO-IAM-03", lambda: f.resource("aws:iam/policy:Policy", "acme-p", {
        "name": "tp-prod-acme-extra", "policy": f.doc(allow("dynamodb:*", "*"))}),
        iso_iam_03.MSG_WILDCARD_ACTION, iso_iam_03.MSG_WILDCARD_RESOURCE),
    # ISO-IAM-04 (stack)
    *(stack_edit(f"iam04-reach-{label}", "ISO-IAM-04",
                 changing(ROLE, "acme-fileserver-role", ("inlinePolicies",), inline(allow(action, arn))),
                 iso_iam_04.MSG_FOREIGN_REACH, about="acme-fileserver-role")
      for label, action, arn in (
          ("dbuser-of-every-tenant", "rds-db:connect", f"{RDS_USERS}/*"),
          ("dbuser-pattern", "rds-db:connect", f"{RDS_USERS}/t*_app"),
          ("bucket-pattern", "s3:GetObject", "arn:aws:s3:::tp-prod-*/*"),
          ("bucket-prefix-of-longer-ids", "s3:GetObject", "arn:aws:s3:::tp-prod-acme-*/*"),
          ("secret-pattern", "secretsmanager:GetSecretValue",
           f"arn:aws:secretsmanager:{f.REGION}:{f.ACCOUNT}:secret:tp/prod/*"),
          ("alias-pattern", "kms:Decrypt", f"arn:aws:kms:{f.REGION}:{f.ACCOUNT}:alias/tp/prod/*"),
          ("role-pattern", "iam:PassRole", f"arn:aws:iam::{f.ACCOUNT}:role/tp-prod-*"),
          ("question-mark", "s3:GetObject", "arn:aws:s3:::tp-prod-????-files/*"),
      )),
    stack_edit("iam04-not-resource-allow", "ISO-IAM-04",
               changing(ROLE, "acme-fileserver-role", ("inlinePolicies",), inline({
                   "Effect": "Allow", "Action": "s3:GetObject",
                   "NotResource": "arn:aws:s3:::tp-prod-acme-files/*"})),
               iso_iam_04.MSG_FOREIGN_REACH, about="acme-fileserver-role"),
    stack_edit("iam04-bucket-policy-principal-pattern", "ISO-IAM-04",
               adding(lambda: bucket_policy(f"arn:aws:iam::{f.ACCOUNT}:role/tp-prod-*-fileserver")),
               iso_iam_04.MSG_FOREIGN_REACH, about="acme-files-policy"),
    stack_edit("iam04-role-reads-other-bucket", "ISO-IAM-04",
               changing(ROLE, "acme-fileserver-role", ("inlinePolicies",),
                        inline(allow("s3:GetObject", "arn:aws:s3:::tp-prod-bolt-files/*"))),
               iso_iam_04.MSG_FOREIGN_REFERENCE, iso_iam_04.MSG_FOREIGN_REACH, about="acme-fileserver-role"),
    stack_edit("iam04-trust-other-clusters-provider", "ISO-IAM-04",
               lambda stack: changing(ROLE, "acme-fileserver-role", ("assumeRolePolicy",), f.irsa_trust(
                   "tenant-acme", "fileserver").replace("EXAMPLED539D4633E53DE1B71EXAMPLE",
                                                        "0THERC1USTER0000000000000000000"))(
                   [*stack, f.resource("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "cell-oidc",
                                       {"url": f"https://{f.OIDC}"})]),
               iso_iam_04.MSG_FOREIGN_PROVIDER, about="acme-fileserver-role"),
    stack_edit("iam04-trust-other-namespace", "ISO-IAM-04",
               changing(ROLE, "acme-fileserver-role", TRUST_SUB, f.irsa_trust("tenant-bolt", "fileserver")),
               iso_iam_04.MSG_FOREIGN_REFERENCE, about="acme-fileserver-role"),
    stack_edit("iam04-key-grants-other-role", "ISO-IAM-04",
               changing(KEY, "acme-files-key", ("policy",), f.doc({
                   "Effect": "Allow", "Principal": {"AWS": BOLT_ROLE}, "Action": "kms:Decrypt",
                   "Resource": "*"})),
               iso_iam_04.MSG_FOREIGN_REFERENCE, about="acme-files-key"),
    stack_edit("iam04-role-policy-reads-other-secret", "ISO-IAM-04",
               changing("aws:iam/rolePolicy:RolePolicy", "acme-chatbot-bedrock", ("policy",), f.doc(allow(
                   "secretsmanager:GetSecretValue",
                   f"arn:aws:secretsmanager:{f.REGION}:{f.ACCOUNT}:secret:tp/prod/bolt/db-AbCdEf"))),
               iso_iam_04.MSG_FOREIGN_REFERENCE, about="acme-chatbot-bedrock"),
    stack_edit("iam04-bucket-policy-other-role", "ISO-IAM-04", adding(lambda: bucket_policy(BOLT_ROLE)),
               iso_iam_04.MSG_FOREIGN_REFERENCE, about="acme-files-policy"),
    stack_edit("iam04-attaches-other-policy", "ISO-IAM-04", adding(foreign_attachment),
               iso_iam_04.MSG_FOREIGN_REFERENCE, about="acme-bolt-reader"),
    stack_edit("iam04-built-from-other-key", "ISO-IAM-04", adding(policy_built_from_bolt_key),
               iso_iam_04.MSG_FOREIGN_REFERENCE, about="acme-decrypt"),
    stack_edit("iam04-db-user-of-other-tenant", "ISO-IAM-04",
               changing(ROLE, "acme-fileserver-role", ("inlinePolicies",), inline(allow(
                   "rds-db:connect", f"{RDS_USERS}/{TenantNames('bolt', f.ENV).db_role}"))),
               iso_iam_04.MSG_FOREIGN_REFERENCE, about="acme-fileserver-role"),
    # ISO-DATA-01
    one("data01-public", "ISO-DATA-01", f.db_instance, ("publiclyAccessible",), True,
        iso_data_01.MSG_PUBLIC_DB),
    one("data01-default-subnets", "ISO-DATA-01", f.db_instance, ("dbSubnetGroupName",), f.DELETE,
        iso_data_01.MSG_SUBNET_GROUP),
    alone("data01-cluster-instance-public", "ISO-DATA-01", lambda: f.resource(
        "aws:rds/clusterInstance:ClusterInstance", "ci", {
            "clusterIdentifier": "c", "instanceClass": "db.r6g.large", "engine": "aurora-postgresql",
            "publiclyAccessible": True}), iso_data_01.MSG_PUBLIC_DB),
    # ISO-DATA-02
    one("data02-unencrypted", "ISO-DATA-02", f.db_instance, ("storageEncrypted",), False,
        iso_data_02.MSG_STORAGE_ENCRYPTED),
    one("data02-aws-managed-key", "ISO-DATA-02", f.db_instance, ("kmsKeyId",),
        f"arn:aws:kms:{f.REGION}:{f.ACCOUNT}:alias/aws/rds", iso_data_02.MSG_STORAGE_CMK),
    one("data02-default-key", "ISO-DATA-02", f.db_instance, ("kmsKeyId",), f.DELETE,
        iso_data_02.MSG_STORAGE_CMK),
    one("data02-insights-default-key", "ISO-DATA-02", f.db_instance, ("performanceInsightsKmsKeyId",),
        f.DELETE, iso_data_02.MSG_PERFORMANCE_INSIGHTS_CMK),
    alone("data02-aurora-cluster", "ISO-DATA-02", lambda: f.resource("aws:rds/cluster:Cluster", "aurora", {
        "engine": "aurora-postgresql", "dbSubnetGroupName": "g", "iamDatabaseAuthenticationEnabled": True}),
        iso_data_02.MSG_STORAGE_ENCRYPTED, iso_data_02.MSG_STORAGE_CMK),
    # ISO-DATA-03
    one("data03-password-auth", "ISO-DATA-03", f.db_instance, ("iamDatabaseAuthenticationEnabled",),
        f.DELETE, iso_data_03.MSG_IAM_AUTH),
    one("data03-db-port-from-vpc", "ISO-DATA-03", f.db_security_group, ("ingress", 0, "cidrBlocks"),
        ["10.0.0.0/16"], iso_data_03.MSG_DB_PORT_CIDR),
    alone("data03-db-port-rule", "ISO-DATA-03", lambda: f.resource(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "db-in", {
            "securityGroupId": "sg-db", "ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432,
            "cidrIpv4": "10.0.32.0/19"}), iso_data_03.MSG_DB_PORT_CIDR),
    # ISO-DATA-04
    one("data04-no-tls", "ISO-DATA-04", f.db_proxy, ("requireTls",), False, iso_data_04.MSG_REQUIRE_TLS),
    one("data04-iam-disabled", "ISO-DATA-04", two_tenant_proxy, ("auths", 1, "iamAuth"), "DISABLED",
        iso_data_04.MSG_PROXY_IAM),
    one("data04-no-auths", "ISO-DATA-04", f.db_proxy, ("auths",), f.DELETE,
        iso_data_04.MSG_PROXY_IAM, iso_data_04.MSG_PROXY_AUTH_SECRETS),
    one("data04-shared-secret", "ISO-DATA-04", two_tenant_proxy, ("auths", 1, "secretArn"),
        f"arn:aws:secretsmanager:{f.REGION}:{f.ACCOUNT}:secret:tp/prod/acme/db-AbCdEf",
        iso_data_04.MSG_PROXY_AUTH_SECRETS),
    one("data04-debug", "ISO-DATA-04", f.db_proxy, ("debugLogging",), True, iso_data_04.MSG_DEBUG_LOGGING),
    one("data04-default-sg", "ISO-DATA-04", f.db_proxy, ("vpcSecurityGroupIds",), f.DELETE,
        iso_data_04.MSG_PROXY_SECURITY_GROUPS),
    # ISO-DATA-05 (stack)
    stack_edit("data05-no-public-access-block", "ISO-DATA-05", without(PAB, "acme-files-bucket-pab"),
               iso_data_05.MSG_PUBLIC_ACCESS_BLOCK, about="acme-files-bucket"),
    stack_edit("data05-partial-block", "ISO-DATA-05",
               changing(PAB, "bolt-logs-bucket-pab", ("ignorePublicAcls",), False),
               iso_data_05.MSG_PUBLIC_ACCESS_BLOCK, about="bolt-logs-bucket"),
    stack_edit("data05-no-encryption", "ISO-DATA-05", without(SSE, "acme-files-bucket-sse"),
               iso_data_05.MSG_SSE_KMS, about="acme-files-bucket"),
    stack_edit("data05-sse-s3", "ISO-DATA-05",
               changing(SSE, "acme-files-bucket-sse", ("rules", 0, "applyServerSideEncryptionByDefault"),
                        {"sseAlgorithm": "AES256"}),
               iso_data_05.MSG_SSE_KMS, about="acme-files-bucket"),
    stack_edit("data05-aws-managed-key", "ISO-DATA-05",
               changing(SSE, "acme-files-bucket-sse",
                        ("rules", 0, "applyServerSideEncryptionByDefault", "kmsMasterKeyId"), "alias/aws/s3"),
               iso_data_05.MSG_SSE_KMS, about="acme-files-bucket"),
    stack_edit("data05-other-tenant-key", "ISO-DATA-05",
               changing(SSE, "acme-files-bucket-sse",
                        ("rules", 0, "applyServerSideEncryptionByDefault", "kmsMasterKeyId"),
                        f"arn:aws:kms:{f.REGION}:{f.ACCOUNT}:alias/tp/prod/bolt/files"),
               iso_data_05.MSG_FOREIGN_KEY, about="acme-files-bucket"),
    stack_edit("data05-no-logging", "ISO-DATA-05", lambda s: s + unlogged_bucket(),
               iso_data_05.MSG_ACCESS_LOGGING, about="bolt-exports"),
    stack_edit("data05-log-bucket-kms", "ISO-DATA-05",
               changing(SSE, "acme-logs-bucket-sse", ("rules", 0, "applyServerSideEncryptionByDefault"),
                        {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": f.key_arn("acme")}),
               iso_data_05.MSG_LOG_BUCKET_SSE, about="acme-logs-bucket"),
    # ISO-DATA-06
    one("data06-no-rotation", "ISO-DATA-06", f.kms_key, ("enableKeyRotation",), f.DELETE,
        iso_data_06.MSG_ROTATION),
    one("data06-wildcard-principal", "ISO-DATA-06", f.kms_key, ("policy",), f.doc(
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"}),
        iso_data_06.MSG_WILDCARD_PRINCIPAL, iso_data_06.MSG_ACCOUNT_WIDE),
    one("data06-anonymous-principal", "ISO-DATA-06", f.kms_key, ("policy",), f.doc(
        {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}),
        iso_data_06.MSG_WILDCARD_PRINCIPAL, iso_data_06.MSG_ACCOUNT_WIDE),
    *(one(f"data06-{label}", "ISO-DATA-06", f.kms_key, ("policy",), f.doc(statement),
          iso_data_06.MSG_ACCOUNT_WIDE)
      for label, statement in (
          ("account-root-admin", {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{f.ACCOUNT}:root"},
                                  "Action": "kms:*", "Resource": "*"}),
          ("bare-account-id", {"Effect": "Allow", "Principal": {"AWS": f.ACCOUNT},
                               "Action": "kms:Decrypt", "Resource": "*"}),
          ("other-account", {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
                             "Action": "kms:Decrypt", "Resource": "*"}),
          ("not-principal", {"Effect": "Allow", "NotPrincipal": {"AWS": BOLT_ROLE},
                             "Action": "kms:Decrypt", "Resource": "*"}),
          ("root-fenced-by-pattern", {
              "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{f.ACCOUNT}:root"},
              "Action": "kms:Decrypt", "Resource": "*",
              "Condition": {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{f.ACCOUNT}:role/*"}}}),
          ("root-fenced-if-exists", {
              "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{f.ACCOUNT}:root"},
              "Action": "kms:Decrypt", "Resource": "*",
              "Condition": {"StringEqualsIfExists": {"aws:PrincipalTag/tenant": "acme"}}}),
          ("via-service-admin", {
              "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{f.ACCOUNT}:root"},
              "Action": ["kms:Decrypt", "kms:PutKeyPolicy"], "Resource": "*",
              "Condition": {"StringEquals": {"kms:ViaService": f"s3.{f.REGION}.amazonaws.com",
                                             "kms:CallerAccount": f.ACCOUNT}}}),
          ("service-without-source", {"Effect": "Allow", "Principal": {"Service": "logs.amazonaws.com"},
                                      "Action": "kms:Decrypt", "Resource": "*"}),
      )),
    one("data06-copier-grant-without-a-move", "ISO-DATA-06", f.kms_key, ("policy",), f.doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::567890123456:role/tp-{f.ENV}-deploy"},
         "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:ViaService": f"s3.{f.REGION}.amazonaws.com",
                                        "kms:CallerAccount": "567890123456"}}}),
        iso_data_06.MSG_COPY_GRANT),
    one("data06-lockout-bypass", "ISO-DATA-06", f.kms_key, ("bypassPolicyLockoutSafetyCheck",), True,
        iso_data_06.MSG_LOCKOUT_BYPASS),
    # ISO-DATA-07 (stack)
    stack_edit("data07-default-key", "ISO-DATA-07",
               changing(SECRET_TYPE, "acme-db-secret", ("kmsKeyId",), f.DELETE),
               iso_data_07.MSG_CMK, about="acme-db-secret"),
    stack_edit("data07-open-inline-policy", "ISO-DATA-07",
               changing(SECRET_TYPE, "bolt-db-secret", ("policy",), f.doc(
                   {"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue",
                    "Resource": "*"})),
               iso_data_07.MSG_WILDCARD_READER, about="bolt-db-secret"),
    stack_edit("data07-open-secret-policy", "ISO-DATA-07", adding(lambda: f.resource(
        "aws:secretsmanager/secretPolicy:SecretPolicy", "acme-db-secret-policy", {
            "secretArn": "arn:x", "policy": f.doc({"Effect": "Allow", "Principal": {"AWS": "*"},
                                                   "Action": "secretsmanager:GetSecretValue",
                                                   "Resource": "*"})},
        depends_on=[f.db_secret("acme")])),
        iso_data_07.MSG_WILDCARD_READER, about="acme-db-secret-policy"),
    stack_edit("data07-root-inline-policy", "ISO-DATA-07",
               changing(SECRET_TYPE, "bolt-db-secret", ("policy",), f.doc(
                   {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{f.ACCOUNT}:root"},
                    "Action": "secretsmanager:GetSecretValue", "Resource": "*"})),
               iso_data_07.MSG_WILDCARD_READER, about="bolt-db-secret"),
    stack_edit("data07-account-id-fenced-by-other-tenant-tag", "ISO-DATA-07",
               changing(SECRET_TYPE, "bolt-db-secret", ("policy",), f.doc(
                   {"Effect": "Allow", "Principal": {"AWS": f.ACCOUNT},
                    "Action": "secretsmanager:GetSecretValue", "Resource": "*",
                    "Condition": {"StringEquals": {"aws:PrincipalTag/tenant": "acme"}}})),
               iso_data_07.MSG_WILDCARD_READER, about="bolt-db-secret"),
    stack_edit("data05-bucket-policy-allows-everyone", "ISO-DATA-05", adding(lambda: bucket_policy("*")),
               iso_data_05.MSG_OPEN_POLICY, about="acme-files-policy"),
    stack_edit("data05-bucket-policy-allows-account", "ISO-DATA-05",
               adding(lambda: bucket_policy(f"arn:aws:iam::{f.ACCOUNT}:root")),
               iso_data_05.MSG_OPEN_POLICY, about="acme-files-policy"),
    # The migration's copier on a bucket that is no side of a move in progress (untagged).
    stack_edit("data05-copier-grant-without-a-move", "ISO-DATA-05",
               adding(lambda: bucket_policy(f"arn:aws:iam::567890123456:role/tp-{f.ENV}-deploy")),
               iso_data_05.MSG_COPY_GRANT, about="acme-files-policy"),
    stack_edit("data07-no-rotation", "ISO-DATA-07", without(ROTATION, "acme-db-rotation"),
               iso_data_07.MSG_NO_ROTATION, about="acme-db-secret"),
    stack_edit("data07-slow-rotation", "ISO-DATA-07",
               changing(ROTATION, "acme-db-rotation", ("rotationRules",), {"automaticallyAfterDays": 180}),
               iso_data_07.MSG_SLOW_ROTATION, about="acme-db-rotation"),
    stack_edit("data07-slow-schedule", "ISO-DATA-07",
               changing(ROTATION, "bolt-db-rotation", ("rotationRules",),
                        {"scheduleExpression": "rate(120 days)"}),
               iso_data_07.MSG_SLOW_ROTATION, about="bolt-db-rotation"),
    # ISO-DATA-08
    one("data08-retain", "ISO-DATA-08", f.storage_class, ("reclaimPolicy",), "Retain",
        iso_data_08.MSG_RECLAIM),
    one("data08-unencrypted-ebs", "ISO-DATA-08", f.storage_class, ("parameters", "encrypted"), f.DELETE,
        iso_data_08.MSG_EBS_ENCRYPTION),
    alone("data08-unencrypted-efs", "ISO-DATA-08", lambda: efs(encrypted=False),
          iso_data_08.MSG_EFS_ENCRYPTION),
    alone("data08-efs-default-key", "ISO-DATA-08", lambda: efs(encrypted=True),
          iso_data_08.MSG_EFS_ENCRYPTION),
    alone("data08-unbound-static-pv", "ISO-DATA-08", lambda: persistent_volume(None),
          iso_data_08.MSG_STATIC_PV),
    alone("data08-pv-bound-across-tenants", "ISO-DATA-08", lambda: persistent_volume(
        {"namespace": "tenant-bolt", "name": "data"}, tenant="acme", tier="namespace"),
        iso_data_08.MSG_STATIC_PV),
    # ISO-META-01 (stack)
    stack_edit("meta01-tier-mismatch", "ISO-META-01",
               changing("kubernetes:apps/v1:Deployment", "acme-fileserver",
                        ("metadata", "labels", "tier"), "node"),
               iso_meta_01.MSG_TIER_MISMATCH, about="acme-fileserver"),
    stack_edit("meta01-missing-tier", "ISO-META-01",
               changing("aws:s3/bucket:Bucket", "acme-files-bucket", ("tags", "tier"), f.DELETE),
               iso_meta_01.MSG_MISSING_TIER, about="acme-files-bucket"),
    stack_edit("meta01-unknown-tenant", "ISO-META-01",
               changing("aws:s3/bucket:Bucket", "bolt-logs-bucket", ("tags", "tenant"), "zeta"),
               iso_meta_01.MSG_UNKNOWN_TENANT, about="bolt-logs-bucket"),
    stack_edit("meta01-pool-labels-disagree", "ISO-META-01",
               changing("eks:index:ManagedNodeGroup", "bolt-pool", ("labels", "tier"), "namespace"),
               iso_meta_01.MSG_POOL_MISMATCH, about="bolt-pool"),
    # ISO-META-02
    alone("meta02-release", "ISO-META-02", release, iso_meta_02.MSG_RELEASE),
]


@params(CASES)
def test_rule_reports_seeded_violation(case: Case) -> None:
    check(case)


def _rule(resources: list[dict[str, Any]], rule: str) -> list[dict[str, Any]]:
    return [v for v in evaluate(resources) if v["policy"] == rule]


def test_raw_cluster_baseline_is_compliant() -> None:
    assert [v for v in evaluate([raw_cluster()]) if v["policy"].startswith("ISO-EKS")] == []


def test_shared_role_with_namespace_tag_condition_is_allowed() -> None:
    assert _rule(f.shared_stack() + shared_associations(conditioned=True), "ISO-IAM-02") == []


def test_platform_policies_may_name_every_tenant() -> None:
    key = f.changed(f.kms_key("acme", "db"), ("tags",), {"environment": "prod"})
    key = f.changed(key, ("policy",), f.doc({
        "Effect": "Allow", "Principal": {"AWS": [BOLT_ROLE, BOLT_ROLE.replace("bolt", "acme")]},
        "Action": "kms:Decrypt", "Resource": "*"}))
    assert _rule(f.shared_stack() + [key], "ISO-IAM-04") == []


def test_unattributable_arns_are_not_guessed() -> None:
    stack = f.shared_stack()
    role = f.changed(f.find(stack, ROLE, "acme-fileserver-role"), ("inlinePolicies",),
                     inline(allow("s3:GetObject", "arn:aws:s3:::customer-uploads-7f3a/*")))
    assert _rule(f.replace(stack, role), "ISO-IAM-04") == []


def test_longest_tenant_id_wins_when_ids_share_a_prefix() -> None:
    stack = f.shared_stack()
    extra = f.changed(f.bucket("bolt", "files"), ("tags", "tenant"), "acme")
    extra = f.changed(extra, ("bucket",), "tp-prod-acme-corp-files")
    ns = f.changed(f.namespace("acme"), ("metadata",), {"name": "tenant-acme-corp", "labels": {
        **f.labels("acme"), "tenant": "acme-corp"}})
    role = f.changed(f.find(stack, ROLE, "bolt-fileserver-role"), ("inlinePolicies",),
                     inline(allow("s3:GetObject", "arn:aws:s3:::tp-prod-acme-corp-files/*")))
    found = _rule(f.replace(stack, role) + [ns], "ISO-IAM-04")
    assert {v["urn"].rsplit("::", 1)[-1] for v in found} == {"bolt-fileserver-role"}
    own = f.changed(f.find(stack, ROLE, "acme-fileserver-role"), ("inlinePolicies",),
                    inline(allow("s3:GetObject", "arn:aws:s3:::tp-prod-acme-files/*")))
    assert _rule(f.replace(stack, own) + [ns], "ISO-IAM-04") == []


def test_access_log_bucket_needs_no_logging_of_its_own() -> None:
    found = [v for v in evaluate(f.shared_stack()) if v["policy"] == "ISO-DATA-05"]
    assert found == []
    assert json.loads(json.dumps(f.shared_stack()))  # the fixture is plain JSON, like plan.json


def test_fences_that_really_fence_are_accepted() -> None:
    root = {"AWS": f"arn:aws:iam::{f.ACCOUNT}:root"}
    fenced = [
        {"Effect": "Allow", "Principal": root, "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"ArnEquals": {"aws:PrincipalArn": BOLT_ROLE.replace("bolt", "acme")}}},
        {"Effect": "Allow", "Principal": root, "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalTag/tenant": "acme"}}},
        {"Effect": "Allow", "Principal": {"Service": "logs.ap-northeast-1.amazonaws.com"},
         "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceAccount": f.ACCOUNT}}},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"},
    ]
    for statement in fenced:
        key = f.changed(f.kms_key(), ("policy",), f.doc(statement))
        assert _rule([key], "ISO-DATA-06") == [], statement


def test_a_tenant_tag_fence_keeps_a_pattern_within_the_tenant() -> None:
    stack = f.shared_stack()
    secrets = f"arn:aws:secretsmanager:{f.REGION}:{f.ACCOUNT}:secret:tp/prod/*"

    def fenced(operator: str, value: str) -> list[dict[str, Any]]:
        role = f.changed(f.find(stack, ROLE, "acme-fileserver-role"), ("inlinePolicies",), inline({
            **allow("secretsmanager:GetSecretValue", secrets),
            "Condition": {operator: {"aws:ResourceTag/tenant": value}}}))
        return _rule(f.replace(stack, role), "ISO-IAM-04")

    assert fenced("StringEquals", "acme") == []
    for operator, value in (("StringLike", "acme*"), ("StringEqualsIfExists", "acme"),
                            ("StringEquals", "bolt"), ("StringNotEquals", "bolt")):
        assert {v["message"] for v in fenced(operator, value)} == {iso_iam_04.MSG_FOREIGN_REACH}, operator


def test_tenant_roles_trust_only_the_stacks_own_oidc_provider() -> None:
    provider = f.resource("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "cell-oidc", {
        "url": f"https://{f.OIDC}", "clientIdLists": ["sts.amazonaws.com"]})
    stack = f.shared_stack() + [provider]
    assert _rule(stack, "ISO-IAM-04") == []
    role = f.find(stack, ROLE, "acme-fileserver-role")
    foreign = f.changed(role, TRUST_SUB, f.irsa_trust("tenant-acme", "fileserver").replace(
        f.OIDC, OTHER_OIDC))
    found = _rule(f.replace(stack, foreign), "ISO-IAM-04")
    assert [(v["message"], v["urn"].rsplit("::", 1)[-1]) for v in found] == [
        (iso_iam_04.MSG_FOREIGN_PROVIDER, "acme-fileserver-role")]
