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
