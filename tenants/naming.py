"""Every physical name the platform derives from a tenant id, cell or environment.

Names are identity: a bucket, role or schema that changes name is a new resource. So they
are computed in exactly one place, by pure functions, and checked against the limits of
the system that holds them (DNS-1123 for Kubernetes, IAM/S3 limits for AWS, 63 bytes for
PostgreSQL identifiers). Components never format a physical name inline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: A tenant id: a DNS-1123 label short enough that every derived name fits its limit.
TENANT_ID_PATTERN = r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$"
TENANT_ID_RE = re.compile(TENANT_ID_PATTERN)
#: Cell names follow the same rule but are shorter: they appear inside cluster names.
CELL_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$")
DNS1123_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
ENVIRONMENT_RE = re.compile(r"^[a-z][a-z0-9]{0,7}$")

#: Ids that would collide with system namespaces or read as something they are not.
RESERVED_TENANT_IDS = frozenset(
    {"default", "kube-system", "kube-public", "kube-node-lease", "istio-system", "admin",
     "system", "platform", "monitoring", "ingress", "shared", "public", "postgres"}
)

# Label and tag keys shared by Kubernetes objects, node pools and AWS resources.
LABEL_TENANT = "tenant"
LABEL_TIER = "tier"
LABEL_PLAN = "plan"
LABEL_CELL = "cell"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "tenant-platform"

# Platform namespaces in every cluster.
ISTIO_NAMESPACE = "istio-system"
INGRESS_NAMESPACE = "istio-ingress"
MONITORING_NAMESPACE = "monitoring"

#: Workloads a tenant can run; each gets its own ServiceAccount and IAM role.
WORKLOADS = ("fileserver", "chatbot")


class NameError_(ValueError):
    """A derived name would break the limits of the system that holds it."""


def _check(name: str, limit: int, what: str, pattern: re.Pattern[str] | None = None) -> str:
    if len(name) > limit:
        raise NameError_(f"{what} {name!r} is {len(name)} characters; the limit is {limit}")
    if pattern is not None and not pattern.match(name):
        raise NameError_(f"{what} {name!r} does not match {pattern.pattern}")
    return name


def validate_tenant_id(tenant_id: str) -> str:
    """Return the id if it is a usable tenant id, else raise with what is allowed.

    This is the gate in front of every SQL statement and every physical name: an id that
    passes contains only ``[a-z0-9-]`` and so cannot inject SQL, paths or label syntax.
    """
    if not isinstance(tenant_id, str) or not TENANT_ID_RE.match(tenant_id):
        raise NameError_(
            f"tenant id {tenant_id!r} is not allowed: use 3-30 characters, lowercase letters, "
            "digits and '-', starting with a letter and ending with a letter or digit"
        )
    if "--" in tenant_id:
        raise NameError_(f"tenant id {tenant_id!r} is not allowed: no consecutive '-'")
    if tenant_id in RESERVED_TENANT_IDS:
        raise NameError_(f"tenant id {tenant_id!r} is reserved")
    return tenant_id


def shared_stack_name(cell: str) -> str:
    """Pulumi stack of a cell of shared-tier tenants."""
    return f"shared-{cell}"


def dedicated_stack_name(tenant_id: str) -> str:
    """Pulumi stack of one ``cluster``-tier tenant."""
    return f"tenant-{validate_tenant_id(tenant_id)}"


def tenant_namespace(tenant_id: str) -> str:
    """The Kubernetes namespace that holds a tenant's workloads (host namespace for vcluster)."""
    return _check(f"tenant-{validate_tenant_id(tenant_id)}", 63, "namespace", DNS1123_LABEL_RE)


def cell_cluster_name(environment: str, cell: str) -> str:
    """EKS cluster name of a cell's host cluster."""
    return _check(f"tp-{environment}-cell-{cell}", 100, "EKS cluster name")


def dedicated_cluster_name(environment: str, tenant_id: str) -> str:
    """EKS cluster name of a dedicated tenant's cluster."""
    return _check(f"tp-{environment}-{validate_tenant_id(tenant_id)}", 100, "EKS cluster name")


def node_group_name(tenant_id: str) -> str:
    """Managed node group dedicated to one ``node``-tier tenant."""
    return _check(f"tenant-{validate_tenant_id(tenant_id)}", 63, "node group name")


@dataclass(frozen=True)
class TenantNames:
    """All physical names of one tenant in one environment."""

    tenant_id: str
    environment: str

    def __post_init__(self) -> None:
        validate_tenant_id(self.tenant_id)
        if not ENVIRONMENT_RE.match(self.environment):
            raise NameError_(f"environment {self.environment!r} must match {ENVIRONMENT_RE.pattern}")

    @property
    def prefix(self) -> str:
        """Common prefix of AWS names: platform, environment, tenant."""
        return f"tp-{self.environment}-{self.tenant_id}"

    @property
    def namespace(self) -> str:
        """Kubernetes namespace of the tenant."""
        return tenant_namespace(self.tenant_id)

    @property
    def files_bucket(self) -> str:
        """S3 bucket with the tenant's files (globally unique names: prefix + id)."""
        return _check(f"{self.prefix}-files", 63, "S3 bucket name", DNS1123_LABEL_RE)

    @property
    def access_log_bucket(self) -> str:
        """S3 bucket receiving the files bucket's access logs."""
        return _check(f"{self.prefix}-logs", 63, "S3 bucket name", DNS1123_LABEL_RE)

    def iam_role(self, workload: str) -> str:
        """IAM role (IRSA) of one of the tenant's workloads."""
        return _check(f"{self.prefix}-{workload}", 64, "IAM role name")

    def service_account(self, workload: str) -> str:
        """Kubernetes ServiceAccount of one workload: never ``default``."""
        return _check(workload, 63, "service account", DNS1123_LABEL_RE)

    def kms_alias(self, purpose: str) -> str:
        """Alias of the tenant's KMS key for one purpose (files, db, secrets, eks...)."""
        return _check(f"alias/tp/{self.environment}/{self.tenant_id}/{purpose}", 256, "KMS alias")

    @property
    def db_schema(self) -> str:
        """PostgreSQL schema of the tenant (ids use '-', identifiers use '_')."""
        return _check("t_" + self.tenant_id.replace("-", "_"), 63, "PostgreSQL schema")

    @property
    def db_role(self) -> str:
        """PostgreSQL login role of the tenant; also its IAM database user name."""
        return _check("t_" + self.tenant_id.replace("-", "_") + "_app", 63, "PostgreSQL role")

    @property
    def db_secret(self) -> str:
        """Secrets Manager secret holding the tenant's database credentials."""
        return f"tp/{self.environment}/{self.tenant_id}/db"

    @property
    def db_identifier(self) -> str:
        """RDS identifier of a dedicated tenant's own instance and proxy."""
        return _check(f"{self.prefix}-db", 63, "RDS identifier", DNS1123_LABEL_RE)

    @property
    def node_group(self) -> str:
        """Dedicated managed node group (``node`` tier)."""
        return node_group_name(self.tenant_id)

    @property
    def cluster(self) -> str:
        """EKS cluster name when the tenant has its own cluster."""
        return dedicated_cluster_name(self.environment, self.tenant_id)


@dataclass(frozen=True)
class CellNames:
    """Physical names of a cell's shared resources."""

    cell: str
    environment: str

    @property
    def prefix(self) -> str:
        """Common prefix of the cell's AWS names."""
        return f"tp-{self.environment}-cell-{self.cell}"

    @property
    def cluster(self) -> str:
        """EKS cluster name of the cell's host cluster."""
        return cell_cluster_name(self.environment, self.cell)

    @property
    def db_identifier(self) -> str:
        """RDS identifier of the cell's shared instance and proxy."""
        return _check(f"{self.prefix}-db", 63, "RDS identifier", DNS1123_LABEL_RE)

    def kms_alias(self, purpose: str) -> str:
        """Alias of one of the cell's own KMS keys."""
        return f"alias/tp/{self.environment}/cell-{self.cell}/{purpose}"
