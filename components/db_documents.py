"""Policy documents and pure decisions of the tenant databases (no Pulumi, no AWS).

The one that is easy to get wrong is the ``rds-db:connect`` resource. Through RDS Proxy
it names the *proxy's resource id* (``prx-0123456789abcdef0``, the last part of the
proxy's ARN), not the proxy's name, not the instance's ``db-...`` resource id, and not
``*``; after it comes the database user, here the tenant's login role::

    arn:aws:rds-db:<region>:<account>:dbuser:prx-0123456789abcdef0/te135aba4e6eb211de420_app

So a tenant's workload role can open connections as its own database user (opaque:
:func:`tenants.naming.db_login_role`), through its cell's (or its own) proxy, and as
nothing else. The proxy's role has one policy whatever the number of tenants
(:func:`proxy_secrets_policy`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from components import iam_documents as iam
from tenants import naming
from tenants.plans import DatabaseLimits, DatabaseSize

#: ``arn:<partition>:rds:<region>:<account>:db-proxy:prx-<id>``.
PROXY_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):rds:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"db-proxy:(?P<resource_id>prx-[0-9a-z]+)$")
#: PostgreSQL role names the platform creates (see tenants.naming).
DB_USER_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: What RDS needs from a key that encrypts an instance's storage, Performance Insights
#: and the RDS-managed master secret (RDS uses grants for the instance's lifetime).
KMS_USE_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
                   "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey")
KMS_GRANT_ACTIONS = ("kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant")
#: Services through which a database key may be used.
DB_KEY_SERVICES = ("rds", "secretsmanager")
#: Largest RDS gp3 storage (GiB) and how far storage autoscaling may grow an instance.
MAX_STORAGE_GIB = 65536
STORAGE_AUTOSCALING_FACTOR = 4


def proxy_resource_id(proxy_arn: str) -> str:
    """The ``prx-...`` resource id of an RDS Proxy, from its ARN (ValueError otherwise)."""
    match = PROXY_ARN_RE.match(proxy_arn)
    if match is None:
        raise ValueError(f"{proxy_arn!r} is not an RDS Proxy ARN (…:db-proxy:prx-<id>)")
    return match["resource_id"]


def rds_db_connect_arn(proxy_arn: str, db_user: str) -> str:
    """The ``rds-db:connect`` resource for connecting as ``db_user`` through a proxy."""
    if not DB_USER_RE.match(db_user):
        raise ValueError(f"{db_user!r} is not a database user name the platform creates")
    match = PROXY_ARN_RE.match(proxy_arn)
    if match is None:
        raise ValueError(f"{proxy_arn!r} is not an RDS Proxy ARN (…:db-proxy:prx-<id>)")
    return (f"arn:{match['partition']}:rds-db:{match['region']}:{match['account']}:dbuser:"
            f"{match['resource_id']}/{db_user}")


def _document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": iam.VERSION, "Statement": list(statements)}


def connect_policy(*, proxy_arn: str, db_user: str) -> dict[str, Any]:
    """Identity policy of a tenant's workload roles: connect as its user, through its proxy."""
    return _document({
        "Sid": "ConnectAsTenantUserThroughProxy",
        "Effect": "Allow",
        "Action": "rds-db:connect",
        "Resource": rds_db_connect_arn(proxy_arn, db_user),
    })


def proxy_assume_role_policy(*, account_id: str) -> dict[str, Any]:
    """Trust policy of a proxy's role: the RDS service, for this account only."""
    return _document({
        "Sid": "RdsProxyAssumesRole",
        "Effect": "Allow",
        "Principal": {"Service": "rds.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    })


def proxy_secrets_policy(*, partition: str, account_id: str, region: str, environment: str,
                         server_identifier: str) -> dict[str, Any]:
    """The one inline policy of a proxy's role: read the secrets of *this server's* tenants.

    It is the same size for 1 tenant or a full cell (IAM allows a role 10,240 characters
    of inline policy in all, :data:`tenants.aws_limits.IAM_ROLE_INLINE_POLICY_MAX_CHARS`;
    one statement pair per tenant hit that at about the 19th tenant). Instead of naming
    each secret, it grants tenant database secrets (``tp/<env>/<id>/db``, ARN suffix
    included) that carry the server's tag (:data:`tenants.naming.TAG_DB_SERVER` =
    ``server_identifier``), which only the deployment sets: a secret of another cell or of
    a dedicated tenant carries another value and stays unreadable. Decryption is only
    through Secrets Manager, for a tenant database secret of this environment (the
    ``SecretARN`` encryption context Secrets Manager always sends). Each secret's own
    resource policy still admits only this proxy role and denies other tenants.
    """
    secrets = (f"arn:{partition}:secretsmanager:{region}:{account_id}:secret:"
               f"{naming.db_secret_pattern(environment)}-??????")
    return _document(
        {
            "Sid": "ReadTenantDatabaseSecretsOfThisServer",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": secrets,
            "Condition": {"StringEquals": {f"aws:ResourceTag/{naming.TAG_DB_SERVER}": server_identifier}},
        },
        {
            "Sid": "DecryptTenantDatabaseSecretsThroughSecretsManager",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": f"arn:{partition}:kms:{region}:{account_id}:key/*",
            "Condition": {"StringEquals": {"kms:ViaService": iam.via_service("secretsmanager", region)},
                          "StringLike": {"kms:EncryptionContext:SecretARN": secrets}},
        },
    )


def database_key_policy(*, partition: str, account_id: str, region: str, admin_role_arn: str,
                        services: Sequence[str] = DB_KEY_SERVICES) -> dict[str, Any]:
    """Key policy of a database key (a cell's, or a tenant's for its secret and dedicated RDS).

    The platform admin role administers the key (``iam_documents.key_administration``),
    and principals of this account may use it only through the listed services in this
    region (``kms:ViaService`` with ``kms:CallerAccount``), as their IAM policies allow:
    the proxy's role reads a tenant's secret with it, the deployment writes it, the
    rotation function (whose role its SAR template names) rotates it, RDS encrypts storage
    and snapshots with it (grants only for AWS resources). The account root appears only
    under that service fence and for key *use*, never for administration. Tenant
    workloads get no KMS permission at all: they sign in with IAM tokens and never read
    the secret. No wildcard principal; lockout check stays on.
    """
    unknown = sorted(set(services) - set(DB_KEY_SERVICES))
    if unknown or not services:
        raise ValueError(f"database keys are used through {', '.join(DB_KEY_SERVICES)}, not {unknown}")
    root = iam.account_root_arn(partition, account_id)
    via = sorted(iam.via_service(s, region) for s in set(services))
    return _document(
        iam.key_administration(admin_role_arn),
        {
            "Sid": "AccountUsesKeyThroughDatabaseServices",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": list(KMS_USE_ACTIONS),
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": via, "kms:CallerAccount": account_id}},
        },
        {
            "Sid": "DatabaseServicesHoldGrantsForTheirResources",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": list(KMS_GRANT_ACTIONS),
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": via, "kms:CallerAccount": account_id},
                          "Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
    )


def tenant_secret_policy(*, tenant_id: str, proxy_role_arn: str) -> dict[str, Any]:
    """Resource policy of a tenant's database secret.

    Principals tagged with *another* tenant are denied everything on it, whatever their
    IAM policies say (``tenant`` is the tag every tenant role carries); the proxy's role
    may read it. ``"*"`` as a resource in a resource policy means "this secret".
    """
    return _document(
        {
            "Sid": "DenyOtherTenants",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "secretsmanager:*",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:PrincipalTag/tenant": tenant_id},
                          "Null": {"aws:PrincipalTag/tenant": "false"}},
        },
        {
            "Sid": "ProxyReadsSecret",
            "Effect": "Allow",
            "Principal": {"AWS": proxy_role_arn},
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*",
        },
    )


def login_secret(*, username: str, password: str, host: str, port: int) -> dict[str, Any]:
    """The value of a tenant's database secret.

    RDS Proxy reads ``username`` and ``password``; the rotation function also needs the
    engine and where to sign in (the *instance*, since the proxy accepts only IAM tokens).
    """
    return {"engine": "postgres", "host": host, "port": port, "dbname": naming.DB_NAME,
            "username": username, "password": password}


def proxy_auth(*, secret_arn: str, description: str) -> dict[str, str]:
    """One ``auth`` entry of a proxy: clients must use IAM; the proxy signs in with the secret."""
    return {"auth_scheme": "SECRETS", "iam_auth": "REQUIRED", "secret_arn": secret_arn,
            "client_password_auth_type": "POSTGRES_SCRAM_SHA_256", "description": description}


def cell_database_size(sizes: Sequence[DatabaseSize], default: DatabaseSize) -> DatabaseSize:
    """Size of a cell's shared instance from its tenants' plans.

    Backups keep the longest retention any tenant's plan promises; the instance class
    and starting storage are those of the largest plan (by storage) in the cell, and
    storage autoscaling (:func:`max_allocated_storage`) absorbs growth; ``limits`` holds
    the instance-wide ``temp_file_limit`` (the largest of the cell's plans). An empty cell
    gets ``default``.
    """
    if not sizes:
        return default
    largest = max(sizes, key=lambda s: s.allocated_storage_gib)
    # The instance-wide temp_file_limit is the largest any tenant's plan allows (each
    # tenant's own is set on its role where the admin may).
    temp_files = max(s.limits.temp_file_limit_mib for s in sizes)
    return DatabaseSize(instance_class=largest.instance_class,
                        allocated_storage_gib=largest.allocated_storage_gib,
                        backup_retention_days=max(s.backup_retention_days for s in sizes),
                        limits=DatabaseLimits(temp_file_limit_mib=temp_files))


def max_allocated_storage(allocated_gib: int) -> int:
    """Upper bound of storage autoscaling for an instance that starts at ``allocated_gib``."""
    return min(MAX_STORAGE_GIB, allocated_gib * STORAGE_AUTOSCALING_FACTOR)
