"""The AWS quotas the platform's design depends on, each with where it is documented.

One place, so that a check (``tenantctl validate``, the tests that plan a full cell) and
the component that would hit the quota cannot disagree. Values are the documented
defaults; a quota marked *adjustable* can be raised per account, but the platform is
designed to fit the default.
"""

from __future__ import annotations

#: Sum of the sizes of all inline policies of one IAM role, counted without whitespace.
#: Not adjustable. https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
#: ("Role policy size cannot exceed 10,240 characters"; "IAM doesn't count white space").
IAM_ROLE_INLINE_POLICY_MAX_CHARS = 10_240
#: Size of one customer-managed policy, counted without whitespace. Not adjustable.
#: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
IAM_MANAGED_POLICY_MAX_CHARS = 6_144
#: Customer-managed policies attached to one role. Adjustable (to 20); the design fits the
#: default. https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
IAM_ROLE_MANAGED_POLICIES_MAX = 10
#: Secrets Manager secrets (``auth`` entries) one RDS Proxy may have: "each proxy can have
#: up to 200 associated Secrets Manager secrets", so it signs in as at most 200 users.
#: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy.html#rds-proxy.limitations
RDS_PROXY_MAX_SECRETS = 200
#: RDS Proxies per account and region (adjustable). A cell has one; so does each
#: dedicated tenant: plan accounts and regions accordingly. Same page as above.
RDS_PROXIES_PER_ACCOUNT_REGION = 20
#: Tenants one cell can hold: each has one login (one proxy auth secret) in the cell's
#: shared RDS Proxy. Everything else a tenant adds to the cell's shared IAM roles is of
#: fixed size (the proxy role's one tag-scoped policy, components.db_documents).
MAX_CELL_CAPACITY = RDS_PROXY_MAX_SECRETS


def compact_policy_size(document: str) -> int:
    """The size IAM counts for a policy document: its characters without whitespace."""
    return sum(1 for char in document if not char.isspace())


# --- S3 object sizes and multipart copies ---------------------------------------------
#: Binary units, as the S3 documentation counts them ("5 GiB", "5 MiB").
MIB = 1024 ** 2
GIB = 1024 ** 3
TIB = 1024 ** 4
#: Largest object one ``CopyObject`` copies ("up to 5 GB in a single atomic operation";
#: larger ones take a multipart copy, ``UploadPartCopy``). Not adjustable.
#: https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
S3_COPY_OBJECT_MAX_BYTES = 5 * GIB
#: Part sizes of a multipart upload or copy: 5 MiB to 5 GiB (the last part may be smaller),
#: at most 10,000 parts, numbered 1..10,000. Not adjustable.
#: https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html
S3_PART_MIN_BYTES = 5 * MIB
S3_PART_MAX_BYTES = 5 * GIB
S3_MAX_PARTS = 10_000
#: Largest S3 object: the quick-facts page says 48.8 TiB (5 TiB before December 2025); a
#: multipart copy of it still fits 10,000 parts of at most 5 GiB (50 TiB).
S3_MAX_OBJECT_BYTES = int(48.8 * TIB)
#: Keys one ``ListObjectsV2`` page returns at most (the paginator follows the rest).
S3_LIST_PAGE_MAX_KEYS = 1_000
