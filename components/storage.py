"""A tenant's own storage: a KMS key and a files bucket with its access-log bucket.

``TenantKey`` is a customer-managed key per tenant and purpose (rotation on, the
lockout safety check never bypassed, administered by the platform admin role, used only
by the tenant's roles through S3).
``TenantBucket`` is the tenant's files bucket (versioned, SSE-KMS with the tenant's key
and an S3 Bucket Key, all four public-access blocks, ACLs disabled, TLS-only and
tenant-only policy, access logging) plus the bucket that receives its access logs. The
deployer (the platform admin role) may list the files bucket, which reading it needs
(HeadBucket), but not touch its objects (``iam_documents.files_bucket_policy``).

Why the log bucket uses SSE-S3 and not the tenant key: S3 server access logging cannot
deliver into a bucket whose default encryption is SSE-KMS (AWS documents SSE-S3 as the
only supported default encryption for log destinations). The logs hold request
metadata, not file contents; the bucket is still the tenant's own, private, TLS-only and
writable only by S3's log delivery for this tenant's files bucket. It is tagged
``purpose=access-logs`` so policies can tell it from data buckets.

Lifecycles and retention:

- Buckets and keys are data-bearing: ``protect`` and ``retain_on_delete``.
- Bucket configuration (public-access block, encryption, policy, versioning, logging,
  lifecycle) is ``retain_on_delete`` too: removing a tenant from the program must leave
  its retained bucket exactly as locked down as it was, never strip its public-access
  block or policy on the way out.
- ``tenantctl offboard --destroy-data`` (phase 1, :attr:`TenantContext.releasing_data`)
  lifts all of that and sets ``force_destroy`` (a versioned bucket is deleted with every
  version), so that the next update, which no longer declares them, deletes them.
- Overwritten or deleted files stay recoverable for the plan's backup retention
  (``plan.database.backup_retention_days``, the one retention figure a plan has).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import iam_documents as docs
from components.context import ClusterRef, TenantContext
from tenants import naming

#: Days a key waits between its deletion being scheduled and carried out (the maximum).
KEY_DELETION_WINDOW_DAYS = 30
#: Days between automatic rotations of a tenant key's material (AWS default and minimum
#: that auditors expect: yearly).
KEY_ROTATION_DAYS = 365
#: Days access logs are kept.
ACCESS_LOG_RETENTION_DAYS = 365
#: Days an incomplete multipart upload may linger before S3 removes its parts.
ABORT_MULTIPART_DAYS = 7


def copy_grant(ctx: TenantContext, partition: str) -> docs.CopyGrant | None:
    """The migration copier's grant on this placement's bucket and key (None unless moving).

    The copier is the deploy role of the move's dedicated account
    (``tenants.placements.copier_account``); the placement the move leaves is its source
    (its view records no migration), the current one its target.
    """
    account = ctx.tenant.copier_account
    if account is None:
        return None
    return docs.CopyGrant(role_arn=docs.deploy_role_arn(partition, account, ctx.environment),
                          account_id=account,
                          side="target" if ctx.tenant.record.migration is not None else "source")


def copy_tags(ctx: TenantContext, partition: str) -> dict[str, str]:
    """The tag that says a bucket's or key's policy carries the copier's grant (none otherwise)."""
    grant = copy_grant(ctx, partition)
    return {naming.TAG_MIGRATION_COPY: grant.side} if grant else {}


def _config_opts(ctx: TenantContext, parent: pulumi.Resource,
                 depends_on: list[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
    # Retained with its bucket; released with it by ``offboard --destroy-data``.
    return ctx.data_options(parent, pulumi.ResourceOptions(depends_on=depends_on), protect=False)


@dataclass(frozen=True, kw_only=True)
class TenantKeyArgs:
    """Inputs of :class:`TenantKey`.

    ``purpose`` names the key (its alias is ``alias/tp/<env>/<tenant>/<purpose>``);
    ``tenant_role_arns`` are the tenant's roles allowed to use it (through S3 only).
    """

    ctx: TenantContext
    cluster: ClusterRef
    purpose: str
    tenant_role_arns: Sequence[pulumi.Input[str]]


class TenantKey(pulumi.ComponentResource):
    """A customer-managed KMS key of one tenant, with its alias."""

    key_arn: pulumi.Output[str]
    key_id: pulumi.Output[str]
    alias_name: pulumi.Output[str]

    def __init__(self, name: str, args: TenantKeyArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-platform:index:TenantKey", name, None, opts)
        ctx, cluster = args.ctx, args.cluster
        if not args.tenant_role_arns:
            raise ValueError(f"tenant key {args.purpose!r} of {ctx.id!r} needs at least one tenant role")
        policy = pulumi.Output.all(cluster.account_id, *args.tenant_role_arns).apply(
            lambda v: json.dumps(docs.tenant_key_policy(
                partition=cluster.partition, account_id=v[0], region=cluster.region,
                tenant_role_arns=v[1:], admin_role_arn=docs.platform_admin_role_arn(
                    cluster.partition, v[0], ctx.environment), copier=copy_grant(ctx, cluster.partition))))
        key = aws.kms.Key(
            f"{name}-key",
            description=f"{args.purpose} of tenant {ctx.id} ({ctx.environment})",
            enable_key_rotation=True,
            rotation_period_in_days=KEY_ROTATION_DAYS,
            deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
            bypass_policy_lockout_safety_check=False,
            policy=policy,
            tags={**ctx.tags, "purpose": args.purpose, **copy_tags(ctx, cluster.partition)},
            opts=ctx.data_options(self))
        alias = aws.kms.Alias(
            f"{name}-alias", name=ctx.names.kms_alias(args.purpose), target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=self))
        self.key_arn = key.arn
        self.key_id = key.key_id
        self.alias_name = alias.name
        self.register_outputs({"key_arn": self.key_arn, "key_id": self.key_id,
                               "alias_name": self.alias_name})


@dataclass(frozen=True, kw_only=True)
class TenantBucketArgs:
    """Inputs of :class:`TenantBucket`.

    ``key_arn``: the tenant's key that encrypts every object. ``tenant_role_arns``: the
    only principals that may touch the bucket's data (the bucket policy denies everyone
    else, whatever their IAM policies allow).
    """

    ctx: TenantContext
    cluster: ClusterRef
    key_arn: pulumi.Input[str]
    tenant_role_arns: Sequence[pulumi.Input[str]]


class TenantBucket(pulumi.ComponentResource):
    """The tenant's files bucket and its access-log bucket (see the module docstring)."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    log_bucket_name: pulumi.Output[str]
    log_bucket_arn: pulumi.Output[str]

    def __init__(self, name: str, args: TenantBucketArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-platform:index:TenantBucket", name, None, opts)
        ctx, cluster = args.ctx, args.cluster
        if not args.tenant_role_arns:
            raise ValueError(f"the files bucket of {ctx.id!r} needs at least one tenant role")
        names = ctx.names
        self._ctx = ctx

        logs = aws.s3.Bucket(f"{name}-logs", bucket=names.access_log_bucket,
                             force_destroy=ctx.releasing_data,
                             tags={**ctx.tags, "purpose": "access-logs"}, opts=ctx.data_options(self))
        logs_locked = self._lock_down(f"{name}-logs", logs)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-logs-encryption", bucket=logs.bucket,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=_config_opts(self._ctx, self))
        self._versioning(f"{name}-logs", logs)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-logs-lifecycle", bucket=logs.bucket,
            rules=[{"id": "expire-access-logs", "status": "Enabled", "filter": {},
                    "expiration": {"days": ACCESS_LOG_RETENTION_DAYS},
                    "noncurrent_version_expiration": {"noncurrent_days": 30},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_MULTIPART_DAYS}}],
            opts=_config_opts(self._ctx, self))

        files = aws.s3.Bucket(f"{name}-files", bucket=names.files_bucket,
                              force_destroy=ctx.releasing_data,
                              tags={**ctx.tags, "purpose": "files", **copy_tags(ctx, cluster.partition)},
                              opts=ctx.data_options(self))
        files_locked = self._lock_down(f"{name}-files", files)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-files-encryption", bucket=files.bucket,
            rules=[{"apply_server_side_encryption_by_default": {
                "sse_algorithm": "aws:kms", "kms_master_key_id": args.key_arn},
                "bucket_key_enabled": True}],
            opts=_config_opts(self._ctx, self))
        self._versioning(f"{name}-files", files)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-files-lifecycle", bucket=files.bucket,
            rules=[{"id": "keep-previous-versions-for-retention", "status": "Enabled", "filter": {},
                    "noncurrent_version_expiration": {
                        "noncurrent_days": ctx.tenant.plan.database.backup_retention_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_MULTIPART_DAYS}}],
            opts=_config_opts(self._ctx, self))

        log_policy = pulumi.Output.all(logs.arn, files.arn, cluster.account_id).apply(
            lambda v: json.dumps(docs.access_log_bucket_policy(
                log_bucket=v[0], source_bucket=v[1], account_id=v[2])))
        logs_policy = aws.s3.BucketPolicy(f"{name}-logs-policy", bucket=logs.bucket, policy=log_policy,
                                          opts=_config_opts(self._ctx, self, depends_on=[logs_locked]))
        aws.s3.BucketLogging(
            f"{name}-files-logging", bucket=files.bucket, target_bucket=logs.bucket,
            target_prefix=docs.ACCESS_LOG_PREFIX,
            target_object_key_format={"partitioned_prefix": {"partition_date_source": "EventTime"}},
            opts=_config_opts(self._ctx, self, depends_on=[logs_policy]))
        files_policy = pulumi.Output.all(files.arn, args.key_arn, cluster.account_id,
                                         *args.tenant_role_arns).apply(
            lambda v: json.dumps(docs.files_bucket_policy(
                bucket=v[0], key_arn=v[1], tenant_role_arns=v[3:],
                deployer_role_arn=docs.platform_admin_role_arn(cluster.partition, v[2], ctx.environment),
                copier=copy_grant(ctx, cluster.partition))))
        aws.s3.BucketPolicy(f"{name}-files-policy", bucket=files.bucket, policy=files_policy,
                            opts=_config_opts(self._ctx, self, depends_on=[files_locked]))

        self.bucket_name = files.bucket
        self.bucket_arn = files.arn
        self.log_bucket_name = logs.bucket
        self.log_bucket_arn = logs.arn
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn,
                               "log_bucket_name": self.log_bucket_name,
                               "log_bucket_arn": self.log_bucket_arn})

    def _lock_down(self, prefix: str, bucket: aws.s3.Bucket) -> aws.s3.BucketPublicAccessBlock:
        """All four public-access blocks and ACLs disabled (bucket owner owns every object)."""
        aws.s3.BucketOwnershipControls(
            f"{prefix}-ownership", bucket=bucket.bucket, rule={"object_ownership": "BucketOwnerEnforced"},
            opts=_config_opts(self._ctx, self))
        return aws.s3.BucketPublicAccessBlock(
            f"{prefix}-public-access-block", bucket=bucket.bucket, block_public_acls=True,
            block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True,
            opts=_config_opts(self._ctx, self))

    def _versioning(self, prefix: str, bucket: aws.s3.Bucket) -> None:
        aws.s3.BucketVersioning(
            f"{prefix}-versioning", bucket=bucket.bucket,
            versioning_configuration={"status": "Enabled"}, opts=_config_opts(self._ctx, self))
