"""Every physical name the platform derives from a tenant id, cell or environment.

Names are identity: a bucket, role or schema that changes name is a new resource. So they
are computed in exactly one place, by pure functions, and checked against the limits of
the system that holds them (DNS-1123 for Kubernetes, IAM/S3 limits for AWS, 63 bytes for
PostgreSQL identifiers). Components never format a physical name inline.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal, get_args

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
#: On platform-owned objects that act for one tenant but live outside its namespace (the
#: ingress gateway's per-tenant rate limit): they must not carry ``tenant``, which marks
#: objects that live in the tenant's namespace.
LABEL_FOR_TENANT = "tenant-platform.io/for-tenant"
#: The one PriorityClass tenant pods may name (created in every cluster by
#: :mod:`components.admission`, which also refuses every other class in tenant namespaces).
TENANT_PRIORITY_CLASS = "tenant-default"
#: AWS tag on a tenant's database secret naming the database server (its ``db_identifier``)
#: whose RDS Proxy signs in with it: the proxy role's one policy grants secrets by this tag.
TAG_DB_SERVER = "tenant-platform.io/db-server"
#: Tag of a files bucket and key whose policy grants the migration's copier its side of a move
#: (``source`` or ``target``), only while the tenant moves; the policy pack (ISO-DATA-05/06)
#: refuses a copier grant on a bucket or key without it.
TAG_MIGRATION_COPY = "tenant-platform.io/migration-copy"

# Platform namespaces in every cluster.
ISTIO_NAMESPACE = "istio-system"
INGRESS_NAMESPACE = "istio-ingress"
MONITORING_NAMESPACE = "monitoring"
CERT_MANAGER_NAMESPACE = "cert-manager"
EXTERNAL_DNS_NAMESPACE = "external-dns"
#: Pod labels of the cell's shared ingress gateway (the ``istio/gateway`` chart's ``istio``
#: label): per-tenant gateway configuration selects the gateway by them.
INGRESS_GATEWAY_LABELS = {"istio": "ingressgateway"}
#: cert-manager ClusterIssuer that signs tenants' public certificates (DNS-01), installed
#: with cert-manager by the cluster's add-ons.
TLS_CLUSTER_ISSUER = "letsencrypt-dns01"
#: StorageClass of encrypted EBS volumes (gp3, KMS) that tenant volume claims use.
ENCRYPTED_STORAGE_CLASS = "gp3-encrypted"
#: ECR repository names: lowercase, digits and ``-_./``, at most 256 characters.
#: Bedrock inference profile names: at most 64 characters.
_INFERENCE_PROFILE_MAX = 64
ECR_REPOSITORY_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")

#: Workloads a tenant can run; each gets its own ServiceAccount and IAM role.
Workload = Literal["fileserver", "chatbot"]
WORKLOADS: tuple[Workload, ...] = get_args(Workload)


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


#: Kubernetes groups of a tenant's people: ``tenant:<id>:<role>`` (admins, viewers...).
#: EKS access entries map a tenant's IAM principals to them; RoleBindings in the tenant's
#: namespaces grant them the tenant Roles. The policy pack recognises tenant subjects by
#: :func:`tenant_of_group`, never by a pattern of its own.
TENANT_GROUP_PREFIX = "tenant:"
#: How Kubernetes names ServiceAccounts as users and their namespaces as groups.
SERVICE_ACCOUNT_USER_PREFIX = "system:serviceaccount:"
SERVICE_ACCOUNTS_GROUP_PREFIX = "system:serviceaccounts:"
_GROUP_ROLE_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


def tenant_group(tenant_id: str, role: str) -> str:
    """The Kubernetes group of one role of a tenant's people (``tenant:<id>:<role>``)."""
    _check(role, 63, "group role", _GROUP_ROLE_RE)
    return f"{TENANT_GROUP_PREFIX}{validate_tenant_id(tenant_id)}:{role}"


def tenant_of_group(group: str) -> str | None:
    """The tenant whose people a group holds (``acme`` for ``tenant:acme:admins``), else None.

    Anything that starts with ``tenant:`` counts as the tenant it names, however the rest
    is spelt (``tenant:acme:``, ``tenant:acme:x:y``, even an id no registry could hold,
    ``tenant:Acme:admins``): a group that looks like a tenant's must never be read as a
    platform group. Only reserved ids are no tenant (``tenant:platform:ops`` is the
    platform's).
    """
    if not isinstance(group, str) or not group.startswith(TENANT_GROUP_PREFIX):
        return None
    tenant_id = group[len(TENANT_GROUP_PREFIX):].split(":", 1)[0]
    return tenant_id if tenant_id and tenant_id.lower() not in RESERVED_TENANT_IDS else None


def tenant_of_namespace(namespace: str | None) -> str | None:
    """The tenant whose namespace this is (``acme`` for ``tenant-acme``), else None."""
    if not namespace or not namespace.startswith("tenant-"):
        return None
    try:
        tenant_id = validate_tenant_id(namespace[len("tenant-"):])
    except NameError_:
        return None
    return tenant_id if tenant_namespace(tenant_id) == namespace else None


def shared_stack_name(cell: str) -> str:
    """Pulumi stack of a cell of shared-tier tenants."""
    return f"shared-{cell}"


def dedicated_stack_name(tenant_id: str) -> str:
    """Pulumi stack of one ``cluster``-tier tenant."""
    return f"tenant-{validate_tenant_id(tenant_id)}"


def tenant_namespace(tenant_id: str) -> str:
    """The Kubernetes namespace that holds a tenant's workloads (host namespace for vcluster)."""
    return _check(f"tenant-{validate_tenant_id(tenant_id)}", 63, "namespace", DNS1123_LABEL_RE)


#: The application database in every RDS instance (a cell's shared one, a dedicated one).
DB_NAME = "app"
#: RDS master user; its password is managed by RDS in Secrets Manager.
DB_ADMIN_USER = "tpadmin"
#: Schema holding database-wide extensions (pgvector): tenants may use, never create, in it.
DB_EXTENSIONS_SCHEMA = "extensions"
#: Schema of platform tables shared by tenants under row-level security (usage metering).
DB_PLATFORM_SCHEMA = "platform"
_PG_IDENTIFIER_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


#: Hex characters of a tenant's database token (80 bits: no collision among any number of
#: tenants a platform will ever have, and short enough for PostgreSQL's 63-byte names).
DB_TOKEN_CHARS = 20
DB_TOKEN_RE = re.compile(rf"^t[0-9a-f]{{{DB_TOKEN_CHARS}}}$")


def db_token(tenant_id: str) -> str:
    """The opaque stem of a tenant's PostgreSQL names: ``t`` + 20 hex of a SHA-256 of its id.

    A shared instance's catalogs (``pg_namespace``, ``pg_roles``, ``pg_stat_activity``...)
    are readable by every role, and RDS's admin cannot revoke that. So the names in them
    must not say which customers share the instance: they derive from the tenant id by a
    one-way hash, domain-separated so the digest means nothing elsewhere. The id alone
    decides it (not the environment or cell): the names are identities, and a tenant
    keeps them through a cell move or a re-bootstrap. Unkeyed on purpose: every consumer
    (plan, policy pack, ``tenantctl db --tenant``, IAM ``dbuser`` ARNs) derives them
    offline, and a key would be one more irreplaceable secret whose loss renames every
    role. The residual is confirmation of a guess: a tenant who guesses another customer's
    exact id can hash it and look for the name (docs/database.md, "What a tenant can see").
    """
    digest = hashlib.sha256(f"tenant-platform/db-name/v1/{validate_tenant_id(tenant_id)}".encode())
    return "t" + digest.hexdigest()[:DB_TOKEN_CHARS]


def _pg_name(tenant_id: str, suffix: str, what: str) -> str:
    return _check(db_token(tenant_id) + suffix, 63, what, _PG_IDENTIFIER_RE)


def db_schema_name(tenant_id: str) -> str:
    """PostgreSQL schema of a tenant (``t<token>``; :func:`db_token`)."""
    return _pg_name(tenant_id, "", "PostgreSQL schema")


def db_login_role(tenant_id: str) -> str:
    """PostgreSQL login role of a tenant (``t<token>_app``); also its IAM database user name."""
    return _pg_name(tenant_id, "_app", "PostgreSQL role")


def db_owner_role(tenant_id: str) -> str:
    """PostgreSQL NOLOGIN role owning a tenant's schema (``t<token>_owner``; nobody logs in as it)."""
    return _pg_name(tenant_id, "_owner", "PostgreSQL role")


@dataclass(frozen=True)
class DbServerNames:
    """Names of one database server's AWS resources (RDS instance, proxy and around them).

    ``identifier`` is a cell's or a dedicated tenant's ``db_identifier``; every other name
    derives from it so that two servers never collide in an account.
    """

    identifier: str

    def __post_init__(self) -> None:
        _check(self.identifier, 50, "RDS identifier", DNS1123_LABEL_RE)

    @property
    def instance(self) -> str:
        """RDS instance identifier."""
        return self.identifier

    @property
    def proxy(self) -> str:
        """RDS Proxy name."""
        return self.identifier

    @property
    def subnet_group(self) -> str:
        """DB subnet group (private subnets only)."""
        return self.identifier

    @property
    def parameter_group(self) -> str:
        """DB parameter group (TLS forced, SCRAM passwords)."""
        return f"{self.identifier}-pg16"

    @property
    def instance_security_group(self) -> str:
        """Security group of the instance: reached from the proxy and the deploy runner only."""
        return f"{self.identifier}-instance"

    @property
    def proxy_security_group(self) -> str:
        """Security group of the proxy: reached from the cluster's nodes/pods only."""
        return f"{self.identifier}-proxy"

    @property
    def rotation_security_group(self) -> str:
        """Security group of the secret rotation functions: to the instance and Secrets Manager."""
        return f"{self.identifier}-rotation"

    @property
    def proxy_role(self) -> str:
        """IAM role the proxy assumes to read tenants' database secrets."""
        return _check(f"{self.identifier}-proxy", 64, "IAM role name")

    @property
    def proxy_secrets_policy(self) -> str:
        """The proxy role's one inline policy: its tenants' secrets, granted by tag."""
        return _check(f"{self.identifier}-tenant-secrets", 128, "IAM policy name")

    @property
    def final_snapshot(self) -> str:
        """Snapshot RDS takes when the instance is deleted."""
        return f"{self.identifier}-final"


def cell_cluster_name(environment: str, cell: str) -> str:
    """EKS cluster name of a cell's host cluster."""
    return _check(f"tp-{environment}-cell-{cell}", 100, "EKS cluster name")


def dedicated_cluster_name(environment: str, tenant_id: str) -> str:
    """EKS cluster name of a dedicated tenant's cluster."""
    return _check(f"tp-{environment}-{validate_tenant_id(tenant_id)}", 100, "EKS cluster name")


def node_group_name(tenant_id: str) -> str:
    """Managed node group dedicated to one ``node``-tier tenant."""
    return _check(f"tenant-{validate_tenant_id(tenant_id)}", 63, "node group name")


def db_secret_pattern(environment: str) -> str:
    """IAM pattern of every tenant's database secret name in an environment.

    The names are :attr:`TenantNames.db_secret`; the random suffix Secrets Manager appends
    to an ARN is not part of the pattern.
    """
    if not ENVIRONMENT_RE.match(environment):
        raise NameError_(f"environment {environment!r} must match {ENVIRONMENT_RE.pattern}")
    return f"tp/{environment}/*/db"


#: The naming generation of a tenant that never moved between stacks: today's names.
FIRST_GENERATION = 1


def generation_suffix(generation: int) -> str:
    """``""`` for the first generation, ``-g<n>`` after it (S3 bucket names end with it)."""
    if not isinstance(generation, int) or generation < FIRST_GENERATION:
        raise NameError_(f"naming generation {generation!r} must be a whole number >= {FIRST_GENERATION}")
    return "" if generation == FIRST_GENERATION else f"-g{generation}"


def generation_segment(generation: int) -> str:
    """``""`` for the first generation, ``/g<n>`` after it (a path segment after the tenant id)."""
    suffix = generation_suffix(generation)
    return suffix.replace("-", "/", 1) if suffix else ""


@dataclass(frozen=True)
class TenantNames:
    """All physical names of one tenant in one environment, in one naming generation.

    ``generation`` changes when a tier migration moves the tenant to another stack
    (:mod:`tenants.migration`): the new stack's data-bearing resources whose names are not
    scoped to the stack's own account or cluster (S3 buckets, whose names are global) or
    that hold the tenant's data keys and credentials (KMS aliases, the database secret) get
    names the old stack never declared, so that two stacks never own one name and the old
    stack's kept data is never the new one's. Generation 1 is the names every tenant had
    before generations existed: they never change. The generation sits where no tenant id
    can: after ``-files``/``-logs`` in bucket names (a tenant id's bucket always ends in
    ``-files``), and as a ``/g<n>`` path segment after the id (ids have no ``/``), so that
    a generation's name is never another tenant's, and every name still starts with the
    tenant's own prefix for the policy pack and IAM patterns.
    """

    tenant_id: str
    environment: str
    generation: int = FIRST_GENERATION

    def __post_init__(self) -> None:
        validate_tenant_id(self.tenant_id)
        if not ENVIRONMENT_RE.match(self.environment):
            raise NameError_(f"environment {self.environment!r} must match {ENVIRONMENT_RE.pattern}")
        generation_suffix(self.generation)

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
        return _check(f"{self.prefix}-files{generation_suffix(self.generation)}", 63, "S3 bucket name",
                      DNS1123_LABEL_RE)

    @property
    def access_log_bucket(self) -> str:
        """S3 bucket receiving the files bucket's access logs."""
        return _check(f"{self.prefix}-logs{generation_suffix(self.generation)}", 63, "S3 bucket name",
                      DNS1123_LABEL_RE)

    def iam_role(self, workload: str) -> str:
        """IAM role (IRSA) of one of the tenant's workloads."""
        return _check(f"{self.prefix}-{workload}", 64, "IAM role name")

    def service_account(self, workload: str) -> str:
        """Kubernetes ServiceAccount of one workload: never ``default``."""
        return _check(workload, 63, "service account", DNS1123_LABEL_RE)

    def kms_alias(self, purpose: str) -> str:
        """Alias of the tenant's KMS key for one purpose (files, db, secrets, eks...)."""
        return _check(f"{self._alias_root}/{purpose}", 256, "KMS alias")

    @property
    def _alias_root(self) -> str:
        return f"alias/tp/{self.environment}/{self.tenant_id}{generation_segment(self.generation)}"

    @property
    def image_repository_path(self) -> str:
        """Repository path (in the account's registry) under which all the tenant's images live."""
        return f"{self.prefix}/"

    def ecr_repository(self, workload: str) -> str:
        """ECR repository the tenant's pods pull one workload's image from."""
        return _check(f"{self.image_repository_path}{workload}", 256, "ECR repository", ECR_REPOSITORY_RE)

    def image_repository_prefix(self, registry: str) -> str:
        """The one prefix every image a tenant pod runs must start with (``<registry>/<path>/``).

        The platform's workloads build their image references from it and the cluster's
        admission policy refuses any other image in the tenant's namespace
        (:mod:`components.admission`): change the image design here, and both follow.
        """
        return f"{registry.rstrip('/')}/{self.image_repository_path}"

    @property
    def ingress_gateway(self) -> str:
        """Istio Gateway (and its Certificate) for the tenant's host, in the ingress namespace."""
        return _check(f"tenant-{self.tenant_id}", 63, "gateway name", DNS1123_LABEL_RE)

    @property
    def tls_secret(self) -> str:
        """Secret holding the tenant host's certificate, in the ingress namespace."""
        return _check(f"tenant-{self.tenant_id}-tls", 63, "secret name", DNS1123_LABEL_RE)

    @property
    def db_schema(self) -> str:
        """PostgreSQL schema of the tenant (opaque: :func:`db_token`)."""
        return db_schema_name(self.tenant_id)

    @property
    def db_role(self) -> str:
        """PostgreSQL login role of the tenant; also its IAM database user name."""
        return db_login_role(self.tenant_id)

    @property
    def db_owner_role(self) -> str:
        """PostgreSQL NOLOGIN role that owns the tenant's schema."""
        return db_owner_role(self.tenant_id)

    @property
    def db_connect_policy(self) -> str:
        """IAM policy letting the tenant's workload roles connect to its database user."""
        return _check(f"{self.prefix}-db-connect", 128, "IAM policy name")

    @property
    def db_secret(self) -> str:
        """Secrets Manager secret holding the tenant's database credentials."""
        return f"tp/{self.environment}/{self.tenant_id}{generation_segment(self.generation)}/db"

    @property
    def db_rotation(self) -> str:
        """Lambda function (and its CloudFormation stack) rotating the tenant's database login."""
        return _check(f"{self.prefix}-db-rotation", 64, "Lambda function name")

    @property
    def db_identifier(self) -> str:
        """RDS identifier of a dedicated tenant's own instance and proxy."""
        return _check(f"{self.prefix}-db", 63, "RDS identifier", DNS1123_LABEL_RE)

    @property
    def node_group(self) -> str:
        """Dedicated managed node group (``node`` tier)."""
        return node_group_name(self.tenant_id)

    @property
    def node_role(self) -> str:
        """IAM role of the instances of the tenant's dedicated node group."""
        return _check(f"{self.prefix}-node", 64, "IAM role name")

    @property
    def node_launch_template(self) -> str:
        """EC2 launch template of the tenant's dedicated node group (unique per account)."""
        return _check(f"{self.prefix}-node", 128, "launch template name")

    @property
    def admin_group(self) -> str:
        """Kubernetes group whose members administer the tenant's namespace."""
        return tenant_group(self.tenant_id, "admins")

    @property
    def viewer_group(self) -> str:
        """Kubernetes group whose members may read the tenant's namespace."""
        return tenant_group(self.tenant_id, "viewers")

    @property
    def vcluster_release(self) -> str:
        """Helm release of the tenant's vCluster in its host namespace.

        Short on purpose: it is part of the host name of every object the vCluster syncs.
        """
        return "vcluster"

    def inference_profile(self, model_id: str) -> str:
        """Bedrock application inference profile metering one model for the tenant's chatbot.

        ``<prefix>-<model id, punctuation as '-'>``: Bedrock allows ``([0-9a-zA-Z][ _-]?)+``
        up to 64 characters, so a name that would be longer keeps its start and ends in a
        hash of the model id, and stays unique per model.
        """
        name = re.sub(r"[^0-9a-zA-Z]+", "-", f"{self.prefix}-{model_id}").strip("-")
        if len(name) > _INFERENCE_PROFILE_MAX:
            digest = hashlib.sha256(model_id.encode()).hexdigest()[:8]
            name = f"{name[:_INFERENCE_PROFILE_MAX - 9].rstrip('-')}-{digest}"
        return name

    @property
    def budget_guard_function(self) -> str:
        """Lambda function that stops the tenant's chatbot when its token budget is spent."""
        return _check(f"{self.prefix}-token-budget-guard", 64, "Lambda function name")

    @property
    def budget_guard_role(self) -> str:
        """IAM role of the token-budget guard (it may edit only the chatbot role's deny policy)."""
        return _check(f"{self.prefix}-budget-guard", 64, "IAM role name")

    @property
    def budget_alarm(self) -> str:
        """CloudWatch alarm on the chatbot's tokens of the day (it invokes the guard)."""
        return _check(f"{self.prefix}-chatbot-token-budget", 255, "CloudWatch alarm name")

    @property
    def budget_reconcile_rule(self) -> str:
        """EventBridge rule running the guard on a schedule, in case an alarm action was lost."""
        return _check(f"{self.prefix}-token-budget-reconcile", 64, "EventBridge rule name")

    @property
    def cluster(self) -> str:
        """EKS cluster name when the tenant has its own cluster."""
        return dedicated_cluster_name(self.environment, self.tenant_id)

    @property
    def cluster_names(self) -> ClusterNames:
        """Names of the AWS resources of the tenant's own cluster (``cluster`` tier)."""
        return ClusterNames(self.cluster, self.prefix, self._alias_root)


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

    @property
    def cluster_names(self) -> ClusterNames:
        """Names of the AWS resources of the cell's host cluster."""
        return ClusterNames(self.cluster, self.prefix, f"alias/tp/{self.environment}/cell-{self.cell}")


def deploy_role(environment: str) -> str:
    """IAM role every stack's AWS provider assumes in the stack's account to deploy it.

    Created by each account's bootstrap (like :func:`platform_admin_role`), trusted by the
    deploy runner's role only; the cross-account step of a dedicated tenant's stack.
    """
    return _check(f"tp-{environment}-deploy", 64, "IAM role name")


def platform_admin_role(environment: str) -> str:
    """IAM role of the platform's operators and deployments: the one cluster-admin principal.

    It exists before any stack (account bootstrap); clusters grant it an access entry and
    the Kubernetes provider authenticates as it.
    """
    return _check(f"tp-{environment}-platform-admin", 64, "IAM role name")


def platform_admin_username_prefix(partition: str, account_id: str, environment: str) -> str:
    """Kubernetes user name prefix of the platform admin role's sessions in a cluster.

    The cluster's access entry for the role sets no user name, so EKS uses its default for
    an IAM role, ``arn:<partition>:sts::<account>:assumed-role/<role>/{{SessionName}}``;
    every session of the role, and nobody else, has a user name starting with this.
    """
    return f"arn:{partition}:sts::{account_id}:assumed-role/{platform_admin_role(environment)}/"


def ecr_registry(account_id: str, region: str, partition: str = "aws") -> str:
    """Host name of an account's private ECR registry in a region."""
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"{account_id}.dkr.ecr.{region}.{suffix}"


def is_deploy_role(role_name: str) -> bool:
    """Whether an IAM role name is :func:`deploy_role` of some environment (the copier's role)."""
    suffix = "-deploy"
    if not role_name.startswith("tp-") or not role_name.endswith(suffix):
        return False
    return bool(ENVIRONMENT_RE.match(role_name[len("tp-"):-len(suffix)]))


def is_platform_admin_role(role_name: str) -> bool:
    """Whether an IAM role name is :func:`platform_admin_role` of some environment."""
    suffix = "-platform-admin"
    if not role_name.startswith("tp-") or not role_name.endswith(suffix):
        return False
    return bool(ENVIRONMENT_RE.match(role_name[len("tp-"):-len(suffix)]))


@dataclass(frozen=True)
class ClusterNames:
    """Physical names of one EKS cluster's own AWS resources (a cell's or a dedicated tenant's).

    ``prefix`` is the owner's AWS name prefix, so IAM roles and launch templates (unique per
    account) of two clusters never collide; KMS aliases hang under the owner's alias root.
    """

    cluster: str
    prefix: str
    alias_root: str

    def role(self, purpose: str) -> str:
        """IAM role of the cluster for one purpose (control plane, nodes, an add-on...)."""
        return _check(f"{self.prefix}-{purpose}", 64, "IAM role name")

    def launch_template(self, group: str) -> str:
        """EC2 launch template of one of the cluster's node groups."""
        return _check(f"{self.prefix}-{group}", 128, "launch template name")

    def kms_alias(self, purpose: str) -> str:
        """Alias of one of the cluster's KMS keys (secrets, volumes, logs)."""
        return _check(f"{self.alias_root}/{purpose}", 256, "KMS alias")

    @property
    def api_security_group(self) -> str:
        """Extra security group of the control plane's network interfaces (API access)."""
        return _check(f"{self.cluster}-api", 255, "security group name")

    @property
    def control_plane_log_group(self) -> str:
        """CloudWatch log group of the control-plane logs (the name EKS writes to)."""
        return f"/aws/eks/{self.cluster}/cluster"

    @property
    def flow_log_group(self) -> str:
        """CloudWatch log group of the VPC's flow logs."""
        return f"/tp/vpc-flow-logs/{self.cluster}"
