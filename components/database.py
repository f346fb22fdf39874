"""PostgreSQL for tenants: a cell's shared RDS instance and proxy, and each tenant's share.

- :class:`DatabaseServer`: one RDS for PostgreSQL instance (Multi-AZ, KMS-encrypted
  storage and Performance Insights, private subnets only, IAM database authentication,
  TLS forced, backups, deletion protection, final snapshot, RDS-managed master password)
  and its RDS Proxy (TLS and IAM auth required, debug logging off). Security groups: the
  proxy admits the cluster's nodes/pods only; the instance admits the proxy, the secret
  rotation functions and the deploy runner (the in-database bootstrap) only, and sends
  nothing anywhere.
- :class:`CellDatabase`: a cell's server, encrypted with the cell's own key. The proxy
  authenticates with one secret per tenant; those secrets belong to the tenants'
  components, which are declared after the cell's, so the proxy's ``auths`` is a
  deferred output (:class:`ProxyAuthCollector`) that resolves once every tenant of the
  cell has registered its secret. The proxy's role reads them through *one* policy, by
  the server tag each secret carries (:func:`db_documents.proxy_secrets_policy`), so it
  does not grow per tenant (IAM's inline-policy quota, tenants/aws_limits.py). Each
  server has a free-storage alarm, and its parameter group caps temporary files and
  preloads pg_cron for the tenant-limits watchdog.
- :class:`TenantDatabase`: a tenant's database in ``schema`` mode (its schema, roles and
  grants in the cell's database) or ``dedicated`` mode (its own ``DatabaseServer``,
  encrypted with its own key). Either way: its own KMS key, a Secrets Manager secret with
  its login role's password (read only by the proxy) rotated every 30 days by its own
  rotation function (:mod:`components.db_rotation`), the in-database bootstrap run by
  ``pulumi up`` (:mod:`components.db_provider`), and the ``rds-db:connect`` policy on its
  workload roles: connect as its own user, through its proxy, nothing else.

Data safety: instances, keys and secrets are ``protect`` + ``retain_on_delete``; the
instance keeps automated backups and takes a final snapshot if it is ever deleted;
removing a tenant from the registry deletes its bootstrap resource, whose delete only
disables the login. Dropping data is ``tenantctl db offboard --drop-data``, by a human, or
``tenantctl offboard --destroy-data``: its phase 1 declares the tenant's key, secret and
instance unprotected (RDS deletion protection off; the final snapshot kept unless the
lifecycle says otherwise, and then the key that encrypts it stays retained) and its
bootstrap to drop the schema when deleted; phase 2 declares none of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components import db_documents as docs
from components import iam_documents as iam_docs
from components import versions
from components.context import ClusterRef, TenantContext
from components.db_bootstrap import RoleLimits
from components.db_provider import TenantDatabaseBootstrap, TenantDatabaseBootstrapArgs
from components.db_rotation import rotate_secret
from tenants import naming
from tenants.naming import CellNames, DbServerNames
from tenants.plans import DatabaseSize

PORT = 5432
HTTPS = 443
#: Where the deploy runner keeps the RDS CA bundle (``verify-full`` for the bootstrap).
RDS_CA_BUNDLE_PATH = "/etc/ssl/certs/rds-global-bundle.pem"
KEY_DELETION_WINDOW_DAYS = 30
KEY_ROTATION_DAYS = 365
SECRET_RECOVERY_DAYS = 30
PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7
PROXY_IDLE_CLIENT_TIMEOUT_SECONDS = 1800
#: Share of the instance's max_connections the proxy may open, and may keep idle.
PROXY_MAX_CONNECTIONS_PERCENT = 90
PROXY_MAX_IDLE_CONNECTIONS_PERCENT = 50
PASSWORD_LENGTH = 40
#: Parameters of every instance: TLS only, TLS 1.2+, SCRAM passwords, connection audit.
PARAMETERS = {
    "rds.force_ssl": "1",
    "ssl_min_protocol_version": "TLSv1.2",
    "password_encryption": "scram-sha-256",
    "log_connections": "1",
    "log_disconnections": "1",
}
#: Static parameters (applied at the next reboot): pg_cron runs the tenant-limits watchdog
#: (components.db_bootstrap.WATCHDOG_FUNCTION) in the application database every minute.
#: pg_stat_statements is RDS's default preload and stays.
STATIC_PARAMETERS = {
    "shared_preload_libraries": "pg_stat_statements,pg_cron",
    "cron.database_name": naming.DB_NAME,
}
#: Storage alarm: free space below this share of the allocated storage for
#: ``STORAGE_ALARM_PERIODS`` x 5 minutes. Storage autoscaling grows an instance when free
#: space stays under 10% for 5 minutes, so a sustained low means autoscaling cannot help
#: (at its maximum, or in its 6-hour cool-down): one tenant filling a cell's disk would
#: stop every tenant's writes.
STORAGE_ALARM_FREE_FRACTION = 0.10
STORAGE_ALARM_PERIODS = 3
BACKUP_WINDOW = "17:00-18:00"
MAINTENANCE_WINDOW = "sun:18:30-sun:19:30"
DatabaseMode = Literal["schema", "dedicated"]
#: A cell's instance before its first tenant (then sized by its tenants' plans).
EMPTY_CELL_DATABASE_SIZE = DatabaseSize(instance_class="db.t4g.medium", allocated_storage_gib=20,
                                        backup_retention_days=7)


def _data_opts(parent: pulumi.Resource, *, protect: bool = True, retain: bool = True,
               **kwargs: Any) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent, protect=protect, retain_on_delete=retain, **kwargs)


def _database_key(name: str, parent: pulumi.Resource, *, cluster: ClusterRef, alias: str,
                  description: str, tags: Mapping[str, str], environment: str,
                  protect: bool = True, retain: bool = True) -> aws.kms.Key:
    """A customer-managed key for a database and its secrets (see db_documents).

    ``protect``/``retain`` false: ``offboard --destroy-data`` releases it; removed, it is
    scheduled for deletion (AWS's window, :data:`KEY_DELETION_WINDOW_DAYS`). A key that
    encrypts a final snapshot being kept stays retained: without it the snapshot is lost.
    """
    policy = pulumi.Output.from_input(cluster.account_id).apply(lambda account: json.dumps(
        docs.database_key_policy(partition=cluster.partition, account_id=account, region=cluster.region,
                                 admin_role_arn=iam_docs.platform_admin_role_arn(
                                     cluster.partition, account, environment))))
    key = aws.kms.Key(
        f"{name}-key", description=description, enable_key_rotation=True,
        rotation_period_in_days=KEY_ROTATION_DAYS, deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
        bypass_policy_lockout_safety_check=False, policy=policy,
        tags={**tags, "purpose": "database"}, opts=_data_opts(parent, protect=protect, retain=retain))
    aws.kms.Alias(f"{name}-key-alias", name=alias, target_key_id=key.key_id,
                  opts=pulumi.ResourceOptions(parent=parent))
    return key


def server_parameters(size: DatabaseSize) -> list[aws.rds.ParameterGroupParameterArgsDict]:
    """The parameter group's parameters.

    :data:`PARAMETERS`, the watchdog's pg_cron (:data:`STATIC_PARAMETERS`), and the
    instance-wide ``temp_file_limit`` in kB: the largest any tenant's plan allows, a hard
    cap for every session, and the only one where the admin may not set it per role.
    """
    dynamic = {**PARAMETERS, "temp_file_limit": str(size.limits.temp_file_limit_mib * 1024)}
    parameters: list[aws.rds.ParameterGroupParameterArgsDict] = [
        {"name": k, "value": v, "apply_method": "immediate"} for k, v in dynamic.items()]
    parameters += [{"name": k, "value": v, "apply_method": "pending-reboot"}
                   for k, v in STATIC_PARAMETERS.items()]
    return parameters


def storage_alarm(name: str, parent: pulumi.Resource, *, instance: aws.rds.Instance, size: DatabaseSize,
                  topic_arns: Sequence[pulumi.Input[str]],
                  tags: Mapping[str, str]) -> aws.cloudwatch.MetricAlarm:
    """Alarm on the instance's free storage (see :data:`STORAGE_ALARM_FREE_FRACTION`)."""
    threshold = STORAGE_ALARM_FREE_FRACTION * size.allocated_storage_gib * 1024 ** 3
    return aws.cloudwatch.MetricAlarm(
        name, namespace="AWS/RDS", metric_name="FreeStorageSpace", statistic="Minimum", period=300,
        evaluation_periods=STORAGE_ALARM_PERIODS, threshold=threshold,
        comparison_operator="LessThanThreshold",
        dimensions={"DBInstanceIdentifier": instance.identifier}, treat_missing_data="breaching",
        alarm_description="free storage stays low: storage autoscaling cannot keep up or is at its maximum",
        alarm_actions=list(topic_arns), ok_actions=list(topic_arns), tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent))


# --- one RDS instance + proxy ----------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class DatabaseServerArgs:
    """Inputs of :class:`DatabaseServer`.

    ``auths``: the proxy's auth entries (:func:`db_documents.proxy_auth`), possibly a
    deferred output. ``with_proxy``: False only for a cell without tenants (a proxy needs
    at least one auth). The deploy runner that runs the in-database bootstrap is the
    cluster's (``cluster.runner_security_group_ids``): its groups reach the instance on
    5432; nothing else does except the proxy.
    """

    names: DbServerNames
    environment: str
    cluster: ClusterRef
    key_arn: pulumi.Input[str]
    size: DatabaseSize
    tags: Mapping[str, str]
    auths: pulumi.Input[Sequence[Any]]
    with_proxy: bool = True
    alarm_topic_arns: Sequence[pulumi.Input[str]] = ()
    #: ``offboard --destroy-data`` phase 1 (a dedicated tenant's server): the instance is
    #: declared unprotected and without deletion protection, for the next update to delete.
    release: bool = False
    #: With ``release``: RDS takes its final snapshot (``names.final_snapshot``) on delete.
    final_snapshot: bool = True


class DatabaseServer(pulumi.ComponentResource):
    """An RDS for PostgreSQL instance and its RDS Proxy (see the module docstring)."""

    instance_address: pulumi.Output[str]
    instance_port: pulumi.Output[int]
    instance_arn: pulumi.Output[str]
    admin_secret_arn: pulumi.Output[str]
    proxy_arn: pulumi.Output[str]
    proxy_endpoint: pulumi.Output[str]
    proxy_role_arn: pulumi.Output[str]
    proxy_role_name: pulumi.Output[str]
    instance_security_group_id: pulumi.Output[str]
    proxy_security_group_id: pulumi.Output[str]
    rotation_security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: DatabaseServerArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-platform:index:DatabaseServer", name, None, opts)
        names, cluster, tags = args.names, args.cluster, dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)

        subnets = aws.rds.SubnetGroup(
            f"{name}-subnets", name=names.subnet_group, subnet_ids=cluster.private_subnet_ids,
            description=f"private subnets of {names.identifier}", tags=tags, opts=child)
        params = aws.rds.ParameterGroup(
            f"{name}-params", name=names.parameter_group, family=versions.POSTGRES_PARAMETER_FAMILY,
            description=f"TLS-only PostgreSQL of {names.identifier}",
            parameters=server_parameters(args.size), tags=tags, opts=child)
        instance_sg = aws.ec2.SecurityGroup(
            f"{name}-instance-sg", name=names.instance_security_group, vpc_id=cluster.vpc_id,
            description=f"RDS {names.identifier}: from its proxy and the deploy runner only",
            tags={**tags, "Name": names.instance_security_group}, opts=child)
        proxy_sg = aws.ec2.SecurityGroup(
            f"{name}-proxy-sg", name=names.proxy_security_group, vpc_id=cluster.vpc_id,
            description=f"RDS Proxy {names.proxy}: from the cluster's nodes and pods only",
            tags={**tags, "Name": names.proxy_security_group}, opts=child)
        rotation_sg = aws.ec2.SecurityGroup(
            f"{name}-rotation-sg", name=names.rotation_security_group, vpc_id=cluster.vpc_id,
            description=f"secret rotation of {names.identifier}: to the instance and Secrets Manager only",
            tags={**tags, "Name": names.rotation_security_group}, opts=child)

        def ingress(role: str, sg: aws.ec2.SecurityGroup, source: pulumi.Input[str],
                    why: str) -> aws.vpc.SecurityGroupIngressRule:
            return aws.vpc.SecurityGroupIngressRule(
                f"{name}-{role}", security_group_id=sg.id, referenced_security_group_id=source,
                ip_protocol="tcp", from_port=PORT, to_port=PORT, description=why, tags=tags, opts=child)

        admin_path = [ingress("instance-from-proxy", instance_sg, proxy_sg.id, "PostgreSQL from the proxy")]
        admin_path += [ingress(f"instance-from-admin-{i}", instance_sg, sg,
                               "PostgreSQL from the deploy runner (in-database bootstrap)")
                       for i, sg in enumerate(cluster.runner_security_group_ids)]
        if cluster.serving:  # a data-only stack has no nodes (and no proxy)
            ingress("proxy-from-nodes", proxy_sg, cluster.node_security_group_id,
                    "PostgreSQL from the cluster's nodes and pods")
        ingress("instance-from-rotation", instance_sg, rotation_sg.id,
                "PostgreSQL from the secret rotation functions")
        for sender, sg in (("proxy", proxy_sg), ("rotation", rotation_sg)):
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-{sender}-to-instance", security_group_id=sg.id,
                referenced_security_group_id=instance_sg.id, ip_protocol="tcp", from_port=PORT, to_port=PORT,
                description="PostgreSQL to its instance", tags=tags, opts=child)
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-rotation-to-secrets-manager", security_group_id=rotation_sg.id, cidr_ipv4="0.0.0.0/0",
            ip_protocol="tcp", from_port=HTTPS, to_port=HTTPS,
            description="Secrets Manager API (through the NAT gateway)", tags=tags, opts=child)

        size = args.size
        instance = aws.rds.Instance(
            f"{name}-instance", identifier=names.instance, engine="postgres",
            engine_version=versions.POSTGRES_ENGINE_VERSION, auto_minor_version_upgrade=False,
            instance_class=size.instance_class, allocated_storage=size.allocated_storage_gib,
            max_allocated_storage=docs.max_allocated_storage(size.allocated_storage_gib),
            storage_type="gp3", storage_encrypted=True, kms_key_id=args.key_arn, multi_az=True,
            publicly_accessible=False, db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[instance_sg.id], parameter_group_name=params.name, port=PORT,
            iam_database_authentication_enabled=True, db_name=naming.DB_NAME,
            username=naming.DB_ADMIN_USER, manage_master_user_password=True,
            master_user_secret_kms_key_id=args.key_arn,
            backup_retention_period=size.backup_retention_days, backup_window=BACKUP_WINDOW,
            maintenance_window=MAINTENANCE_WINDOW, copy_tags_to_snapshot=True,
            # Released (destroy-data phase 1): the final snapshot, unless declined, is the
            # one copy left; automated backups go with the instance.
            delete_automated_backups=args.release, deletion_protection=not args.release,
            skip_final_snapshot=args.release and not args.final_snapshot,
            final_snapshot_identifier=names.final_snapshot,
            performance_insights_enabled=True, performance_insights_kms_key_id=args.key_arn,
            performance_insights_retention_period=PERFORMANCE_INSIGHTS_RETENTION_DAYS,
            enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
            ca_cert_identifier=versions.RDS_CA_CERT_IDENTIFIER, apply_immediately=False, tags=tags,
            # Storage autoscaling grows allocated storage; never try to shrink it back.
            opts=_data_opts(self, protect=not args.release, retain=not args.release,
                            ignore_changes=["allocatedStorage"]))
        # The bootstrap reads the master password from this secret when it connects (RDS
        # rotates it): the password itself is never an input, an output or in the state.
        admin_secret_arn = instance.master_user_secrets.apply(lambda s: str(s[0].secret_arn))

        role = aws.iam.Role(
            f"{name}-proxy-role", name=names.proxy_role,
            assume_role_policy=pulumi.Output.from_input(cluster.account_id).apply(
                lambda account: json.dumps(docs.proxy_assume_role_policy(account_id=account))),
            description=f"RDS Proxy {names.proxy}: reads its tenants' database secrets", tags=tags,
            opts=child)
        # One fixed-size policy for every tenant of the server (secrets granted by tag), so
        # the role stays far below IAM's inline-policy quota at any cell capacity.
        aws.iam.RolePolicy(
            f"{name}-proxy-secrets", name=names.proxy_secrets_policy, role=role.name,
            policy=pulumi.Output.from_input(cluster.account_id).apply(lambda account: json.dumps(
                docs.proxy_secrets_policy(partition=cluster.partition, account_id=account,
                                          region=cluster.region, environment=args.environment,
                                          server_identifier=names.identifier))),
            opts=child)
        # A cell without tenants has no proxy: its proxy outputs are empty strings.
        proxy_arn: pulumi.Output[str] = pulumi.Output.from_input("")
        proxy_endpoint: pulumi.Output[str] = pulumi.Output.from_input("")
        if args.with_proxy:
            proxy = aws.rds.Proxy(
                f"{name}-proxy", name=names.proxy, engine_family="POSTGRESQL", require_tls=True,
                debug_logging=False, idle_client_timeout=PROXY_IDLE_CLIENT_TIMEOUT_SECONDS,
                role_arn=role.arn, vpc_subnet_ids=cluster.private_subnet_ids,
                vpc_security_group_ids=[proxy_sg.id], auths=args.auths, tags=tags, opts=child)
            targets = aws.rds.ProxyDefaultTargetGroup(
                f"{name}-proxy-targets", db_proxy_name=proxy.name,
                connection_pool_config={"max_connections_percent": PROXY_MAX_CONNECTIONS_PERCENT,
                                        "max_idle_connections_percent": PROXY_MAX_IDLE_CONNECTIONS_PERCENT},
                opts=child)
            aws.rds.ProxyTarget(f"{name}-proxy-target", db_proxy_name=proxy.name,
                                target_group_name=targets.name, db_instance_identifier=instance.identifier,
                                opts=child)
            proxy_arn, proxy_endpoint = proxy.arn, proxy.endpoint

        storage_alarm(f"{name}-free-storage", self, instance=instance, size=size,
                      topic_arns=args.alarm_topic_arns, tags=tags)
        self._admin_path: list[pulumi.Resource] = [instance, *admin_path, *cluster.runner_path]
        self.instance_address = instance.address
        self.instance_port = instance.port
        self.instance_arn = instance.arn
        self.admin_secret_arn = admin_secret_arn
        self.proxy_arn = proxy_arn
        self.proxy_endpoint = proxy_endpoint
        self.proxy_role_arn = role.arn
        self.proxy_role_name = role.name
        self.instance_security_group_id = instance_sg.id
        self.proxy_security_group_id = proxy_sg.id
        self.rotation_security_group_id = rotation_sg.id
        self.register_outputs({
            "instance_address": self.instance_address, "instance_port": self.instance_port,
            "instance_arn": self.instance_arn, "admin_secret_arn": self.admin_secret_arn,
            "proxy_arn": self.proxy_arn,
            "proxy_endpoint": self.proxy_endpoint, "proxy_role_arn": self.proxy_role_arn,
            "proxy_role_name": self.proxy_role_name,
            "instance_security_group_id": self.instance_security_group_id,
            "proxy_security_group_id": self.proxy_security_group_id,
            "rotation_security_group_id": self.rotation_security_group_id,
        })

    @property
    def admin_path(self) -> list[pulumi.Resource]:
        """What the bootstrap waits for: the instance, its ingress rules, the runner's routes."""
        return list(self._admin_path)


# --- the cell's shared server ----------------------------------------------------------------
#: Begins the stand-in for a value that belongs to a tenant the program does not declare
#: (an offline plan's slice of a cell, ``tenantctl.cell_slices``, which fills it in from the
#: slice that declares that tenant). A real deployment declares every tenant: never seen.
UNDECLARED = "[declared in another slice: "


def undeclared(tenant_id: str) -> str:
    """The stand-in for a value of tenant ``tenant_id`` in a slice that does not declare it."""
    return f"{UNDECLARED}{tenant_id}]"


class ProxyAuthCollector:
    """The proxy's ``auths``, filled in by the cell's tenants after the proxy is declared.

    ``output`` resolves once each expected tenant has called :meth:`add` (in the order of
    ``expected``, so the list is stable). A tenant outside the list, or added twice, is a
    programming error and raises at once. ``declared`` (an offline plan's slice of the
    cell): the tenants that will call :meth:`add`; the others' entries hold
    :func:`undeclared` secrets, so that the proxy is still declared.
    """

    def __init__(self, expected: Sequence[str], declared: Collection[str] | None = None) -> None:
        if len(set(expected)) != len(expected):
            raise ValueError(f"duplicate tenant ids in {list(expected)}")
        self.expected = tuple(expected)
        self._entries: dict[str, pulumi.Output[dict[str, str]]] = {}
        self.output: pulumi.Output[list[dict[str, str]]]
        self._resolve: Callable[[pulumi.Output[list[dict[str, str]]]], None]
        self.output, self._resolve = pulumi.deferred_output()
        for tenant_id in self.expected:
            if declared is not None and tenant_id not in declared:
                self._entry(tenant_id, undeclared(tenant_id))
        if self.complete:
            self._resolve_all()

    def add(self, tenant_id: str, secret_arn: pulumi.Input[str]) -> None:
        """Register a tenant's secret with the proxy."""
        if tenant_id not in self.expected:
            raise ValueError(f"tenant {tenant_id!r} is not one of this cell's tenants {list(self.expected)}")
        if tenant_id in self._entries:
            raise ValueError(f"tenant {tenant_id!r} registered its database secret twice")
        self._entry(tenant_id, secret_arn)
        if self.complete:
            self._resolve_all()

    def _entry(self, tenant_id: str, secret_arn: pulumi.Input[str]) -> None:
        self._entries[tenant_id] = pulumi.Output.from_input(secret_arn).apply(
            lambda arn: docs.proxy_auth(secret_arn=arn, description=f"tenant {tenant_id}"))

    def _resolve_all(self) -> None:
        self._resolve(pulumi.Output.all(*(self._entries[t] for t in self.expected)).apply(list)
                      if self.expected else pulumi.Output.from_input([]))

    @property
    def complete(self) -> bool:
        """Whether every expected tenant has registered."""
        return set(self._entries) == set(self.expected)


@dataclass(frozen=True)
class CellDatabaseRef:
    """What a tenant's ``schema``-mode database needs from its cell's server."""

    instance_address: pulumi.Input[str]
    instance_port: pulumi.Input[int]
    admin_secret_arn: pulumi.Input[str]
    server_identifier: str
    proxy_arn: pulumi.Input[str]
    proxy_endpoint: pulumi.Input[str]
    proxy_role_arn: pulumi.Input[str]
    proxy_role_name: pulumi.Input[str]
    rotation_security_group_id: pulumi.Input[str]
    auths: ProxyAuthCollector
    admin_path: Sequence[pulumi.Resource] = field(default_factory=tuple)


@dataclass(frozen=True, kw_only=True)
class CellDatabaseArgs:
    """Inputs of :class:`CellDatabase`.

    ``tenant_ids``: the cell's tenants, each of which builds a ``schema``-mode
    :class:`TenantDatabase` with :attr:`CellDatabase.ref`. ``size``: see
    :func:`db_documents.cell_database_size`.
    """

    names: CellNames
    cluster: ClusterRef
    size: DatabaseSize
    tenant_ids: Sequence[str]
    tags: Mapping[str, str] = field(default_factory=dict)
    #: The tenants the program declares, when not all (:class:`ProxyAuthCollector`).
    declared_tenants: Collection[str] | None = None


class CellDatabase(pulumi.ComponentResource):
    """A cell's shared PostgreSQL: its own KMS key, instance and proxy."""

    key_arn: pulumi.Output[str]
    instance_address: pulumi.Output[str]
    proxy_arn: pulumi.Output[str]
    proxy_endpoint: pulumi.Output[str]
    admin_secret_arn: pulumi.Output[str]

    def __init__(self, name: str, args: CellDatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-platform:index:CellDatabase", name, None, opts)
        tags = {**args.tags, naming.LABEL_CELL: args.names.cell, "environment": args.names.environment,
                "managed-by": naming.MANAGED_BY}
        key = _database_key(name, self, cluster=args.cluster, alias=args.names.kms_alias("db"),
                            description=f"database of cell {args.names.cell} ({args.names.environment})",
                            tags=tags, environment=args.names.environment)
        self._auths = ProxyAuthCollector(args.tenant_ids, args.declared_tenants)
        self.server = DatabaseServer(f"{name}-server", DatabaseServerArgs(
            names=DbServerNames(args.names.db_identifier), environment=args.names.environment,
            cluster=args.cluster, key_arn=key.arn,
            size=args.size, tags=tags, auths=self._auths.output,
            with_proxy=bool(args.tenant_ids)), opts=pulumi.ResourceOptions(parent=self))
        self.server_identifier = args.names.db_identifier
        self.key_arn = key.arn
        self.instance_address = self.server.instance_address
        self.proxy_arn = self.server.proxy_arn
        self.proxy_endpoint = self.server.proxy_endpoint
        self.admin_secret_arn = self.server.admin_secret_arn
        self.register_outputs({"key_arn": self.key_arn, "instance_address": self.instance_address,
                               "proxy_arn": self.proxy_arn, "proxy_endpoint": self.proxy_endpoint,
                               "admin_secret_arn": self.admin_secret_arn})

    @property
    def ref(self) -> CellDatabaseRef:
        """The reference tenants' ``schema``-mode databases take."""
        server = self.server
        return CellDatabaseRef(
            instance_address=server.instance_address, instance_port=server.instance_port,
            admin_secret_arn=server.admin_secret_arn, server_identifier=self.server_identifier,
            proxy_arn=server.proxy_arn, proxy_endpoint=server.proxy_endpoint,
            proxy_role_arn=server.proxy_role_arn, proxy_role_name=server.proxy_role_name,
            rotation_security_group_id=server.rotation_security_group_id, auths=self._auths,
            admin_path=tuple(server.admin_path))


# --- one tenant's database -------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class TenantDatabaseArgs:
    """Inputs of :class:`TenantDatabase`.

    ``mode``: ``schema`` (shared tiers; needs ``cell``) or ``dedicated`` (``cluster`` tier;
    its own instance and proxy sized by the tenant's plan). ``workload_role_names``: IAM
    roles of the tenant's workloads, each given the ``rds-db:connect`` policy (attachments
    are named by position: keep the order stable, e.g. ``naming.WORKLOADS``).
    ``kms_key_arn``: the tenant's key for its secret (and dedicated storage); by default
    the component creates one (``alias/tp/<env>/<tenant>/db``). ``bootstrap_sslrootcert``:
    path of the RDS CA bundle where ``pulumi up`` runs.
    """

    ctx: TenantContext
    cluster: ClusterRef
    mode: DatabaseMode
    workload_role_names: Sequence[pulumi.Input[str]] = ()
    cell: CellDatabaseRef | None = None
    kms_key_arn: pulumi.Input[str] | None = None
    bootstrap_sslrootcert: str = RDS_CA_BUNDLE_PATH


class TenantDatabase(pulumi.ComponentResource):
    """A tenant's PostgreSQL schema (or instance), secret, bootstrap and connect policy."""

    proxy_endpoint: pulumi.Output[str]
    port: pulumi.Output[int]
    database_name: pulumi.Output[str]
    user: pulumi.Output[str]
    schema: pulumi.Output[str]
    secret_arn: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]
    connect_policy: pulumi.Output[str]
    connect_policy_arn: pulumi.Output[str]

    def __init__(self, name: str, args: TenantDatabaseArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-platform:index:TenantDatabase", name, None, opts)
        ctx, cluster, names = args.ctx, args.cluster, args.ctx.names
        child = pulumi.ResourceOptions(parent=self)
        if args.mode == "schema" and args.cell is None:
            raise ValueError(f"the schema-mode database of {ctx.id!r} needs its cell's database (cell=)")
        if args.mode == "dedicated" and args.cell is not None:
            raise ValueError(f"the dedicated database of {ctx.id!r} has its own server; do not pass cell=")

        release = ctx.releasing_data
        # A kept final snapshot of the tenant's own instance is encrypted with this key.
        snapshot_key = args.mode == "dedicated" and ctx.keeps_final_snapshot
        key_arn: pulumi.Input[str]
        if args.kms_key_arn is not None:
            key_arn = args.kms_key_arn
        else:
            key_arn = _database_key(name, self, cluster=cluster, alias=names.kms_alias("db"),
                                    description=f"database of tenant {ctx.id} ({ctx.environment})",
                                    tags=ctx.tags, environment=ctx.environment, protect=not release,
                                    retain=not release or snapshot_key).arn

        server_identifier = args.cell.server_identifier if args.cell is not None else names.db_identifier
        # The server tag is what the proxy role's one policy grants by (docs.proxy_secrets_policy).
        secret = aws.secretsmanager.Secret(
            f"{name}-secret", name=names.db_secret, kms_key_id=key_arn,
            recovery_window_in_days=SECRET_RECOVERY_DAYS,
            description=f"database login of tenant {ctx.id}, read by its RDS Proxy only",
            tags={**ctx.tags, naming.TAG_DB_SERVER: server_identifier}, opts=ctx.data_options(self))

        if args.cell is not None:
            if not ctx.retired:  # an offboarded tenant's login is not offered by the proxy
                args.cell.auths.add(ctx.id, secret.arn)
            server: Any = args.cell
            admin_path: Sequence[pulumi.Resource] = args.cell.admin_path
        else:
            auth = secret.arn.apply(lambda arn: [docs.proxy_auth(secret_arn=arn,
                                                                 description=f"tenant {ctx.id}")])
            dedicated = DatabaseServer(f"{name}-server", DatabaseServerArgs(
                names=DbServerNames(names.db_identifier), environment=ctx.environment, cluster=cluster,
                key_arn=key_arn,
                size=ctx.tenant.plan.database, tags=ctx.tags, auths=auth,
                # A data-only stack (offboarded) has no cluster: no proxy, no login served.
                with_proxy=cluster.serving, release=release,
                final_snapshot=ctx.keeps_final_snapshot), opts=child)
            server = dedicated
            admin_path = dedicated.admin_path
        proxy_arn = pulumi.Output.from_input(server.proxy_arn).apply(str)

        aws.secretsmanager.SecretPolicy(
            f"{name}-secret-policy", secret_arn=secret.arn, block_public_policy=True,
            policy=pulumi.Output.from_input(server.proxy_role_arn).apply(lambda role: json.dumps(
                docs.tenant_secret_policy(tenant_id=ctx.id, proxy_role_arn=role))),
            opts=ctx.data_options(self, protect=False))

        password = random.RandomPassword(f"{name}-password", length=PASSWORD_LENGTH, special=False,
                                         min_lower=1, min_upper=1, min_numeric=1, opts=child)
        bootstrap = TenantDatabaseBootstrap(f"{name}-bootstrap", TenantDatabaseBootstrapArgs(
            tenant_id=ctx.id, host=server.instance_address, port=server.instance_port,
            dbname=naming.DB_NAME, admin_user=naming.DB_ADMIN_USER, admin_secret_arn=server.admin_secret_arn,
            login_password=password.result, sslmode="verify-full", sslrootcert=args.bootstrap_sslrootcert,
            limits=RoleLimits.from_plan(ctx.tenant.plan.database.limits), active=not ctx.retired,
            login_secret_arn=secret.arn, drop_data_on_delete=release,
        ), opts=pulumi.ResourceOptions(parent=self, depends_on=list(admin_path)))
        # Written once the role has that password: the proxy never holds one the database
        # lacks. Afterwards rotation owns the value (module docstring of db_rotation).
        value = aws.secretsmanager.SecretVersion(
            f"{name}-secret-value", secret_id=secret.id,
            # The password output is secret, and so is everything computed from it.
            secret_string=pulumi.Output.all(
                password.result, server.instance_address, server.instance_port).apply(
                lambda v: json.dumps(docs.login_secret(username=names.db_role, password=v[0], host=v[1],
                                                       port=int(v[2])))),
            opts=ctx.data_options(self, pulumi.ResourceOptions(
                depends_on=[bootstrap], ignore_changes=["secretString"]), protect=False))
        connect_document = proxy_arn.apply(
            # No proxy (a data-only stack): nothing to connect through, no policy document.
            lambda arn: json.dumps(docs.connect_policy(proxy_arn=arn, db_user=names.db_role)) if arn else "")
        if ctx.retired:
            # Offboarded: key, secret, schema and data stay; nothing rotates, connects or
            # may connect (the bootstrap disabled the login).
            self._outputs(server, bootstrap, secret, key_arn, connect_document, pulumi.Output.from_input(""))
            return
        rotate_secret(name, self, function_name=names.db_rotation, secret_id=secret.id, key_arn=key_arn,
                      region=cluster.region, partition=cluster.partition,
                      subnet_ids=cluster.private_subnet_ids,
                      security_group_id=server.rotation_security_group_id, tags=ctx.tags,
                      after=[value, bootstrap])

        policy = aws.iam.Policy(
            f"{name}-connect", name=names.db_connect_policy, policy=connect_document,
            description=f"connect to tenant {ctx.id}'s database as {names.db_role}, through its proxy",
            tags=ctx.tags, opts=child)
        for i, role_name in enumerate(args.workload_role_names):
            aws.iam.RolePolicyAttachment(f"{name}-connect-{i}", role=role_name, policy_arn=policy.arn,
                                         opts=child)
        self._outputs(server, bootstrap, secret, key_arn, connect_document, policy.arn)

    def _outputs(self, server: Any, bootstrap: TenantDatabaseBootstrap, secret: aws.secretsmanager.Secret,
                 key_arn: pulumi.Input[str], connect_document: pulumi.Output[str],
                 connect_policy_arn: pulumi.Output[str]) -> None:
        """Assign and register the component's outputs (the same for active and retired)."""
        self.proxy_endpoint = pulumi.Output.from_input(server.proxy_endpoint).apply(str)
        self.port = pulumi.Output.from_input(PORT)
        self.database_name = bootstrap.database
        self.user = bootstrap.role
        self.schema = bootstrap.schema
        self.secret_arn = secret.arn
        self.kms_key_arn = pulumi.Output.from_input(key_arn)
        self.connect_policy = connect_document
        self.connect_policy_arn = connect_policy_arn
        self.register_outputs({
            "proxy_endpoint": self.proxy_endpoint, "port": self.port, "database_name": self.database_name,
            "user": self.user, "schema": self.schema, "secret_arn": self.secret_arn,
            "kms_key_arn": self.kms_key_arn, "connect_policy": self.connect_policy,
            "connect_policy_arn": self.connect_policy_arn})
