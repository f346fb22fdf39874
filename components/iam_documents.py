"""Policy documents of a tenant's data and workloads, as pure functions returning dicts.

Every document here names only the resources of one tenant: its bucket, its key, its
roles, and the foundation models its plan allows (its LLMs and its embedding model).
Components ``json.dumps`` the dicts into resources; tests lint them with parliament and
check them for other tenants' ARNs (ISO-IAM-03, ISO-IAM-04).

Conventions:

- *Allow* statements list exact actions on exact ARNs: no ``*`` in an action or a
  resource. The only ``*`` resources are in key policies, where ``"*"`` means "this key"
  (a key policy is attached to exactly one key and cannot name its own ARN before the
  key exists).
- *Deny* statements may be broad (``s3:*`` for TLS-only): a broad deny only removes
  access, and narrowing it would leave gaps.
- The bucket layout is by prefix: the file server owns ``files/``; the chatbot reads
  ``files/`` and keeps the tenant's chat history under ``chat-history/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tenants import naming

VERSION = "2012-10-17"

#: Where the tenant's files live in its bucket.
FILES_PREFIX = "files/"
#: Where the chatbot keeps the tenant's chat history in the same bucket.
CHAT_HISTORY_PREFIX = "chat-history/"
#: Where the files bucket's access logs land in the tenant's log bucket.
ACCESS_LOG_PREFIX = "s3-access/files/"

#: Object and listing actions that make up "access to the tenant's data" in S3. Only the
#: tenant's own workload roles may perform them on its bucket.
S3_DATA_ACTIONS = (
    "s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes", "s3:GetObjectTagging",
    "s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject", "s3:DeleteObjectVersion",
    "s3:RestoreObject", "s3:ListBucket", "s3:ListBucketVersions",
    "s3:ListBucketMultipartUploads", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload",
)

#: Key administration without key use: the account can manage (and so never lose) the
#: key, but only the tenant's roles can encrypt or decrypt with it.
KMS_ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey",
    "kms:DisableKey", "kms:EnableKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus", "kms:ListGrants", "kms:ListKeyPolicies",
    "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:RevokeGrant", "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)
#: What S3 needs from the caller's key permissions for SSE-KMS reads and writes.
KMS_S3_USE_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")


# --- ARNs -------------------------------------------------------------------------------
def bucket_arn(partition: str, bucket: str) -> str:
    """ARN of an S3 bucket (bucket ARNs carry neither region nor account)."""
    return f"arn:{partition}:s3:::{bucket}"


def objects_arn(bucket: str, prefix: str = "") -> str:
    """ARN pattern of the objects under ``prefix`` of a bucket given by its ARN."""
    return f"{bucket}/{prefix}*"


def account_root_arn(partition: str, account_id: str) -> str:
    """The account principal: delegates to the account's own IAM policies.

    Resource policies use it only under a condition that pins the caller
    (``aws:PrincipalArn``) or, in key policies, key use through one service
    (``kms:ViaService`` with ``kms:CallerAccount``): never bare (ISO-DATA-05/06/07).
    """
    return f"arn:{partition}:iam::{account_id}:root"


def platform_admin_role_arn(partition: str, account_id: str, environment: str) -> str:
    """The platform admin role (account bootstrap): the deployer, and every key's administrator."""
    return f"arn:{partition}:iam::{account_id}:role/{naming.platform_admin_role(environment)}"


def deploy_role_arn(partition: str, account_id: str, environment: str) -> str:
    """An account's deploy role (account bootstrap), which the deploy runner assumes there."""
    return f"arn:{partition}:iam::{account_id}:role/{naming.deploy_role(environment)}"


#: EC2 Auto Scaling's service-linked role: launches managed node groups' instances.
AUTOSCALING_SERVICE = "autoscaling.amazonaws.com"
AUTOSCALING_ROLE = "AWSServiceRoleForAutoScaling"


def autoscaling_role_arn(partition: str, account_id: str) -> str:
    """ARN of the account's EC2 Auto Scaling service-linked role."""
    return f"arn:{partition}:iam::{account_id}:role/aws-service-role/{AUTOSCALING_SERVICE}/{AUTOSCALING_ROLE}"


def key_administration(admin_role_arn: str) -> dict[str, Any]:
    """Key policy statement: the platform admin role administers the key, and nobody else.

    Why a named role, not the account root: a root statement lets any principal of the
    account whose IAM policies say ``kms:*`` manage (and through ``PutKeyPolicy`` use) the
    key, tenant roles included if a policy ever slips. Why this cannot lock the key out:
    KMS's lockout safety check (never bypassed) refuses a policy that would not let the
    caller call ``PutKeyPolicy`` again, and the caller of ``pulumi up`` is this role; the
    role is account bootstrap (protected, not managed by any stack), and an account
    administrator can always re-create it under the same name to regain the key.
    """
    return {"Sid": "PlatformAdminAdministersKey", "Effect": "Allow",
            "Principal": {"AWS": admin_role_arn}, "Action": list(KMS_ADMIN_ACTIONS),
            "Resource": "*"}


def foundation_model_arn(partition: str, region: str, model_id: str) -> str:
    """ARN of a Bedrock foundation model (foundation models have no account)."""
    return f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}"


def via_service(service: str, region: str) -> str:
    """The ``kms:ViaService`` value of an AWS service in a region."""
    return f"{service}.{region}.amazonaws.com"


def _document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": VERSION, "Statement": list(statements)}


def _prefix_listing(prefixes: Sequence[str]) -> list[str]:
    return [p for prefix in prefixes for p in (prefix, f"{prefix}*")]


def _use_key_via_s3(key_arn: str, region: str) -> dict[str, Any]:
    return {
        "Sid": "UseFilesKeyThroughS3",
        "Effect": "Allow",
        "Action": list(KMS_S3_USE_ACTIONS),
        "Resource": key_arn,
        "Condition": {"StringEquals": {"kms:ViaService": via_service("s3", region)}},
    }


# --- identity policies of the workload roles --------------------------------------------
def fileserver_policy(*, bucket: str, key_arn: str, region: str) -> dict[str, Any]:
    """The file server: read and write the tenant's files, through S3 with the tenant key.

    ``bucket`` is the bucket's ARN. Object versions can be read (restore) but not
    destroyed: ``DeleteObject`` on a versioned bucket leaves a recoverable marker, and
    ``DeleteObjectVersion`` is not granted.
    """
    return _document(
        {
            "Sid": "ListFiles",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
            "Resource": bucket,
            "Condition": {"StringLike": {"s3:prefix": _prefix_listing([FILES_PREFIX])}},
        },
        {
            "Sid": "ReadWriteFiles",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject",
                       "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
            "Resource": objects_arn(bucket, FILES_PREFIX),
        },
        _use_key_via_s3(key_arn, region),
    )


def chatbot_policy(*, bucket: str, key_arn: str, region: str, partition: str,
                   models: Sequence[str], embedding_model: str) -> dict[str, Any]:
    """The chatbot: read the tenant's files, keep its chat history, invoke allowed models.

    ``bucket`` is the bucket's ARN; ``models`` are the plan's LLM ids and
    ``embedding_model`` its embedding model id (embeddings are ``InvokeModel`` calls too).
    Only ``bedrock:InvokeModel``, only on those foundation models, in the cluster's region,
    in one statement.
    """
    if not models:
        raise ValueError("the chatbot needs at least one model from the plan")
    if not embedding_model:
        raise ValueError("the chatbot needs the plan's embedding model")
    return _document(
        {
            "Sid": "ListFilesAndHistory",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket,
            "Condition": {"StringLike": {
                "s3:prefix": _prefix_listing([FILES_PREFIX, CHAT_HISTORY_PREFIX])}},
        },
        {
            "Sid": "ReadFiles",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": objects_arn(bucket, FILES_PREFIX),
        },
        {
            "Sid": "ReadWriteChatHistory",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": objects_arn(bucket, CHAT_HISTORY_PREFIX),
        },
        _use_key_via_s3(key_arn, region),
        {
            "Sid": "InvokeAllowedModels",
            "Effect": "Allow",
            "Action": "bedrock:InvokeModel",
            "Resource": [foundation_model_arn(partition, region, m)
                         for m in sorted({*models, embedding_model})],
        },
    )


# --- resource policies ------------------------------------------------------------------
def _deny_insecure_transport(resources: list[str]) -> list[dict[str, Any]]:
    # TLS 1.2 is the floor of every AWS endpoint already; what a policy adds is "no HTTP".
    return [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": resources,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    ]


#: Bucket-level listing: also what HeadBucket needs, which the AWS provider calls to read
#: (refresh, update) any bucket; there is no separate permission for HeadBucket.
S3_LIST_ACTION = "s3:ListBucket"


#: What the migration's copier does on each side of a move (``tenantctl.object_copy``):
#: reads the source (HeadObject is GetObject; the copy pins versions and keeps tags) ...
COPY_SOURCE_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging",
                       "s3:GetObjectVersionTagging", "s3:ListBucket")
#: ... and writes the target (CopyObject and every multipart request are PutObject; it aborts a
#: failed upload, reads the bucket's default key, and verify reads the copies back).
COPY_TARGET_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject",
                       "s3:GetEncryptionConfiguration", "s3:ListBucket")
#: Key use each side needs: S3 decrypts the source with the copier's permission; it generates the
#: target's data keys, and a multipart upload under SSE-KMS also decrypts them (S3 docs).
COPY_SOURCE_KEY_ACTIONS = ("kms:Decrypt",)
COPY_TARGET_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
COPY_SIDES = ("source", "target")


@dataclass(frozen=True)
class CopyGrant:
    """The migration copier's access to one side of a move, while the tenant is moving.

    ``role_arn`` is the copier (:func:`tenants.naming.deploy_role` of ``account_id``, the
    account of the move's dedicated placement); ``side`` is ``source`` or ``target``.
    """

    role_arn: str
    account_id: str
    side: str

    def __post_init__(self) -> None:
        if self.side not in COPY_SIDES:
            raise ValueError(f"a copy grant is for the source or the target, not {self.side!r}")

    @property
    def bucket_actions(self) -> tuple[str, ...]:
        """What the copier does in this side's files bucket."""
        return COPY_SOURCE_ACTIONS if self.side == "source" else COPY_TARGET_ACTIONS

    @property
    def key_actions(self) -> tuple[str, ...]:
        """What the copier may do with this side's files key, through S3 only."""
        return COPY_SOURCE_KEY_ACTIONS if self.side == "source" else COPY_TARGET_KEY_ACTIONS


def files_bucket_policy(*, bucket: str, key_arn: str, tenant_role_arns: Sequence[str],
                        deployer_role_arn: str, copier: CopyGrant | None = None) -> dict[str, Any]:
    """TLS-only, tenant-only bucket policy of the files bucket (``bucket`` is its ARN).

    Nobody but the tenant's own workload roles can read, write or delete its objects,
    whatever their IAM policies say (a bucket-policy Deny beats any Allow). Objects can
    only be written encrypted with the tenant's key. The policy grants nothing itself:
    the roles' identity policies do.

    The deployer (``naming.platform_admin_role``, which runs ``pulumi up``) is exempt from
    the deny of ``s3:ListBucket`` only: the provider reads the bucket with HeadBucket,
    which needs ``s3:ListBucket`` (terraform-provider-aws ``findBucket``), and without it
    every later refresh or update fails with 403. Bucket configuration (``GetBucket*``/
    ``PutBucket*``: policy, encryption, versioning, logging, lifecycle, public-access
    block, ownership) is not denied at all. The cost: the deployer can list object keys,
    which are customer data *names*; it still cannot read, write, restore or delete an
    object, list versions or uploads. That is accepted because the deployer can rewrite
    this policy anyway (``PutBucketPolicy``), so denying it listing protects nothing
    against the deployer itself, and S3 data events record any listing.

    ``copier``: while the tenant moves between stacks, the migration's copier
    (:class:`CopyGrant`) is allowed exactly its side's actions (another account's role
    needs the Allow; the denies exempt it from those actions only). Every write is still
    held to the tenant's key by the encryption denies.
    """
    roles = sorted(set(tenant_role_arns))
    if not roles:
        raise ValueError("a files bucket needs at least one tenant role")
    if deployer_role_arn in roles:
        raise ValueError("the deployer role must not be one of the tenant's roles")
    if copier is not None and copier.role_arn in (*roles, deployer_role_arn):
        raise ValueError("the migration's copier must be neither a tenant role nor the deployer")
    both = [bucket, objects_arn(bucket)]
    copies = set(copier.bucket_actions) if copier else set()
    data = [a for a in S3_DATA_ACTIONS if a != S3_LIST_ACTION]
    return _document(
        *_deny_insecure_transport(both),
        *_copier_statements(copier, bucket, both, roles, [a for a in data if a in copies]),
        {
            "Sid": "DenyDataAccessOutsideTenant",
            "Effect": "Deny",
            "Principal": "*",
            "Action": [a for a in data if a not in copies],
            "Resource": both,
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": roles}},
        },
        {
            "Sid": "DenyListingOutsideTenantAndDeployer",
            "Effect": "Deny",
            "Principal": "*",
            "Action": S3_LIST_ACTION,
            "Resource": bucket,
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": sorted(
                [*roles, deployer_role_arn, *([copier.role_arn] if copier else [])])}},
        },
        {
            "Sid": "DenyOtherEncryption",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects_arn(bucket),
            "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
        },
        {
            "Sid": "DenyOtherKeys",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects_arn(bucket),
            "Condition": {"ArnNotEqualsIfExists": {
                "s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}},
        },
    )


def _copier_statements(copier: CopyGrant | None, bucket: str, both: list[str], roles: list[str],
                       denied: list[str]) -> list[dict[str, Any]]:
    """The copier's Allow, and the deny of its data actions to everyone else (none without a copier)."""
    if copier is None:
        return []
    bucket_level = {S3_LIST_ACTION, "s3:GetEncryptionConfiguration"}
    actions = sorted(copier.bucket_actions)
    return [
        {
            "Sid": f"MigrationCopier{copier.side.capitalize()}",
            "Effect": "Allow",
            "Principal": {"AWS": copier.role_arn},
            "Action": actions,
            "Resource": [*([bucket] if bucket_level & set(actions) else []), objects_arn(bucket)],
        },
        {
            "Sid": "DenyCopierActionsOutsideTenantAndCopier",
            "Effect": "Deny",
            "Principal": "*",
            "Action": denied,
            "Resource": both,
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": sorted([*roles, copier.role_arn])}},
        },
    ]


def access_log_bucket_policy(*, log_bucket: str, source_bucket: str,
                             account_id: str) -> dict[str, Any]:
    """TLS-only policy of a tenant's log bucket: S3 delivers that tenant's access logs only.

    Both buckets are given by ARN. The delivery grant is pinned to the source bucket and
    the account (``aws:SourceArn``/``aws:SourceAccount``), so no other bucket can log
    into it (the confused-deputy guard AWS recommends).
    """
    return _document(
        {
            "Sid": "AllowAccessLogDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": objects_arn(log_bucket, ACCESS_LOG_PREFIX),
            "Condition": {
                "ArnEquals": {"aws:SourceArn": source_bucket},
                "StringEquals": {"aws:SourceAccount": account_id},
            },
        },
        *_deny_insecure_transport([log_bucket, objects_arn(log_bucket)]),
    )


def tenant_key_policy(*, partition: str, account_id: str, region: str,
                      tenant_role_arns: Sequence[str], admin_role_arn: str,
                      copier: CopyGrant | None = None) -> dict[str, Any]:
    """Key policy of a tenant's files key.

    The platform admin role administers the key (:func:`key_administration`: the
    lockout safety check stays on) but cannot use it: only the tenant's roles may
    encrypt and decrypt, and only through S3 in this region. No account root, no
    wildcard principal. While the tenant moves, the migration's copier (``copier``) may
    use it for its side of the copy only, through S3 in this region, from its account.
    """
    roles = sorted(set(tenant_role_arns))
    if not roles:
        raise ValueError("a tenant key needs at least one tenant role")
    copying = [] if copier is None else [{
        "Sid": f"MigrationCopier{copier.side.capitalize()}UsesKeyThroughS3",
        "Effect": "Allow",
        "Principal": {"AWS": copier.role_arn},
        "Action": list(copier.key_actions),
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": via_service("s3", region),
                                       "kms:CallerAccount": copier.account_id}},
    }]
    return _document(
        *copying,
        key_administration(admin_role_arn),
        {
            "Sid": "TenantRolesUseKeyThroughS3",
            "Effect": "Allow",
            "Principal": {"AWS": roles},
            "Action": [*KMS_S3_USE_ACTIONS, "kms:DescribeKey"],
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": via_service("s3", region),
                                           "kms:CallerAccount": account_id}},
        },
    )
