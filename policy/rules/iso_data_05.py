"""ISO-DATA-05 (stack by design): buckets block public access, use the tenant's KMS key, and log.

With pulumi-aws 7 a bucket's public-access block, default encryption and logging are
separate resources, linked to the bucket by property dependencies, by dependencies, or
by naming the bucket. Access-log buckets are judged as such: S3 server access logging
cannot deliver into an SSE-KMS bucket, so they use SSE-S3 and do not log themselves.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policy import aws, iam, stackview, tenancy
from policy.props import as_list, as_map, get, is_true, text
from policy.rule import Finding, Resource, RuleConfig, StackRule
from tenants import naming

MSG_PUBLIC_ACCESS_BLOCK = ("Add a BucketPublicAccessBlock with blockPublicAcls, blockPublicPolicy, "
                           "ignorePublicAcls and restrictPublicBuckets all true.")
MSG_SSE_KMS = ("Encrypt the bucket with SSE-KMS under the tenant's customer-managed key "
               "(BucketServerSideEncryptionConfiguration, sseAlgorithm aws:kms, kmsMasterKeyId).")
MSG_FOREIGN_KEY = "Encrypt the bucket with its own tenant's KMS key, never another tenant's."
MSG_ACCESS_LOGGING = "Enable server access logging for the bucket (BucketLogging to the access-log bucket)."
MSG_OPEN_POLICY = ("Allow bucket access only to named principals: no '*', account root, account id "
                   "or NotPrincipal in an Allow unless fenced by aws:PrincipalArn (or aws:PrincipalTag/"
                   "tenant equal to the tenant); service principals need aws:SourceAccount/aws:SourceArn.")
MSG_COPY_GRANT = ("Grant the migration's copier (a deploy role) access to a tenant bucket only while the "
                  "tenant moves, on a bucket tagged tenant-platform.io/migration-copy source or target; "
                  "remove the grant once the move has switched.")
MSG_LOG_BUCKET_SSE = ("Encrypt the access-log bucket with SSE-S3 (AES256); S3 server access logs "
                      "cannot be delivered to an SSE-KMS bucket.")

BLOCKS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _defaults(configs: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``applyServerSideEncryptionByDefault`` of every rule of the given SSE configurations."""
    rules = [r for c in configs for r in as_list(c.get("rules")) + [c.get("rule")] if r]
    return [as_map(as_map(r).get("applyServerSideEncryptionByDefault")) for r in rules]


def _kms_with_cmk(default: Mapping[str, Any]) -> bool:
    key = text(default.get("kmsMasterKeyId"))
    return (str(default.get("sseAlgorithm")).startswith("aws:kms") and key is not None
            and "alias/aws/" not in key)


def _stray_copier(policy: Any, bucket: Resource | None) -> bool:
    """A copier grant on a bucket not tagged as one side of a move in progress."""
    if not iam.copier_statements(policy):
        return False
    side = text(aws.tags(bucket.props).get(naming.TAG_MIGRATION_COPY)) if bucket else None
    return side not in ("source", "target")


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    buckets = {r.urn: r for r in resources if r.type in aws.BUCKET_TYPES}
    names = {urn: aws.physical_names(b.props) for urn, b in buckets.items()}
    keys = {r.urn: text(aws.tags(r.props).get(tenancy.LABEL_TENANT)) for r in resources
            if r.type == aws.KMS_KEY}
    known = sorted({t for t in keys.values() if t})
    blocks: dict[str, list[Resource]] = {}
    encryption: dict[str, list[Resource]] = {}
    logged: set[str] = set()
    targets: set[str] = set()
    for res in resources:
        if res.type == aws.PUBLIC_ACCESS_BLOCK or res.type in aws.SSE_TYPES:
            linked = stackview.linked(res, "bucket", names)
            store = blocks if res.type == aws.PUBLIC_ACCESS_BLOCK else encryption
            if linked is not None:
                store.setdefault(linked, []).append(res)
        elif res.type == aws.BUCKET_POLICY:
            linked = stackview.linked(res, "bucket", names)
            owner = text(aws.tags(buckets[linked].props).get(tenancy.LABEL_TENANT)) if linked else None
            if cfg.applies(res) and iam.open_grants(res.props.get("policy"), tenant=owner):
                yield Finding(MSG_OPEN_POLICY, res.urn)
            if cfg.applies(res) and _stray_copier(res.props.get("policy"), buckets.get(linked or "")):
                yield Finding(MSG_COPY_GRANT, res.urn)
        elif res.type in aws.LOGGING_TYPES:
            source = stackview.linked(res, "bucket", names, sole_reference=False)
            target = stackview.linked(res, "targetBucket", names, sole_reference=False)
            logged |= {source} if source else set()
            targets |= {target} if target else set()
    for urn, bucket in buckets.items():
        if not cfg.applies(bucket):
            continue
        if urn not in targets and text(get(bucket.props, "logging", "targetBucket")):
            logged.add(urn)
        if iam.open_grants(bucket.props.get("policy"),
                           tenant=text(aws.tags(bucket.props).get(tenancy.LABEL_TENANT))):
            yield Finding(MSG_OPEN_POLICY, urn)
        if _stray_copier(bucket.props.get("policy"), bucket):
            yield Finding(MSG_COPY_GRANT, urn)
        if not any(all(is_true(b.props.get(k)) for k in BLOCKS) for b in blocks.get(urn, [])):
            yield Finding(MSG_PUBLIC_ACCESS_BLOCK, urn)
        configs = encryption.get(urn, [])
        inline = as_map(bucket.props.get("serverSideEncryptionConfiguration"))
        defaults = _defaults([c.props for c in configs] + ([inline] if inline else []))
        if urn in targets:
            if any(str(d.get("sseAlgorithm")).startswith("aws:kms") for d in defaults):
                yield Finding(MSG_LOG_BUCKET_SSE, urn)
            continue
        if not defaults or not all(_kms_with_cmk(d) for d in defaults):
            yield Finding(MSG_SSE_KMS, urn)
        owner = text(aws.tags(bucket.props).get(tenancy.LABEL_TENANT))
        used = {keys[d] for c in configs for d in c.dependencies if keys.get(d)}
        used |= {t for d in defaults
                 for t in tenancy.tenants_named_in(text(d.get("kmsMasterKeyId")) or "", known)}
        if owner and used - {owner}:
            yield Finding(MSG_FOREIGN_KEY, urn)
        if urn not in logged:
            yield Finding(MSG_ACCESS_LOGGING, urn)


RULE = StackRule(
    id="ISO-DATA-05",
    description=(
        "S3 buckets have all four public-access blocks on, SSE-KMS with the tenant's customer-"
        "managed key, server access logging, and bucket policies that grant nothing to '*' or "
        "an account unfenced."
    ),
    severity="critical", tiers="NPVD", scope="all", check=check,
    reads=lambda t: t in (*aws.BUCKET_TYPES, aws.PUBLIC_ACCESS_BLOCK, *aws.SSE_TYPES,
                             *aws.LOGGING_TYPES, aws.KMS_KEY, aws.BUCKET_POLICY))
