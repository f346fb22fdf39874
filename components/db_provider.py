"""A Pulumi dynamic provider that runs a tenant's in-database bootstrap during ``pulumi up``.

``TenantDatabaseBootstrap`` is one resource per tenant. Its provider connects to the RDS
instance endpoint as the admin and runs :func:`components.db_bootstrap.bootstrap_tenant`;
on delete it *offboards* (login disabled, sessions ended) and keeps the schema and its
data: destroying data is ``tenantctl db offboard --drop-data``, an explicit human step.

Why a dynamic provider and not a job in the cluster: the bootstrap must finish before the
workloads that use the role start, and Pulumi's dependency graph then orders it for us;
its inputs (endpoint, admin credentials from the RDS-managed secret) are already Pulumi
outputs. The price is a network path from the machine running ``pulumi up`` to the
instance's private endpoint (docs/database.md: the deploy runner runs inside the VPC).

Pulumi pickles the provider object into the state (by reference: this module must be
importable where ``pulumi up`` runs). It holds no connection and no configuration; every
method opens its own connection from its inputs. The login password arrives as a secret
input and is kept secret in the outputs (``additional_secret_outputs``).

The admin password is *not* an input and never enters the state. RDS rotates the
managed master password (every 7 days by default), so a password saved at the last
``pulumi up`` is stale weeks later, when a tenant is removed and its delete must sign
in. Every method reads the current value from the RDS-managed master secret
(``admin_secret_arn``) at the moment it connects (:func:`admin_credentials`). A state
written before this change still holds ``admin_password``; it is used only when the
inputs carry no secret ARN.

Diff: a change of ``tenant_id`` replaces (a different tenant); any other change updates,
which reruns the idempotent bootstrap.

The login password is an *initial* value: create sets it; updates never do, and a
change of it alone is no change. After creation Secrets Manager rotates it
(:mod:`components.db_rotation`), and re-setting the first password on a later update
would lock the proxy out with a password the secret no longer holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import pulumi
import pulumi.dynamic as dynamic
from psycopg.conninfo import make_conninfo

from components import db_bootstrap
from tenants import naming

#: libpq TLS modes the provider accepts: encrypted always; ``verify-full`` checks the RDS
#: certificate and host name (the default), ``disable`` only for local test servers.
SSL_MODES = ("verify-full", "verify-ca", "require", "disable")
SECRET_OUTPUTS = ["login_password"]
#: What the provider returns on top of its inputs (computed by the database).
RESULT_KEYS = ("role", "schema", "owner_role", "database")
#: Inputs used on create only (see the module docstring).
CREATE_ONLY_KEYS = ("login_password",)
CONNECT_TIMEOUT_SECONDS = 15
#: ``arn:<partition>:secretsmanager:<region>:<account>:secret:<name>``: the region picks the endpoint.
SECRET_ARN_RE = re.compile(r"^arn:aws[a-z-]*:secretsmanager:(?P<region>[a-z0-9-]+):\d{12}:secret:.+$")
#: Inputs of a state written before the admin password was read at connect time.
LEGACY_ADMIN_PASSWORD = "admin_password"  # noqa: S105 - a property name, not a password


class AdminSecretUnreadable(RuntimeError):
    """The RDS-managed master secret could not be read (permissions, network, deleted)."""


def _boto3_secrets_client(region: str) -> Any:
    import boto3  # only where pulumi up really runs; tests pass a fake client

    return boto3.client("secretsmanager", region_name=region)


#: Makes the Secrets Manager client for a region. Module-level, not provider state (the
#: provider is pickled into the state): tests replace it with a fake client.
secrets_client_factory: Callable[[str], Any] = _boto3_secrets_client


def admin_credentials(props: dict[str, Any]) -> tuple[str, str]:
    """(user, password) of the admin, read *now* from the RDS-managed master secret.

    RDS writes ``{"username": ..., "password": ...}`` into the secret and rotates it;
    reading it at connect time is what lets a delete weeks after the last update sign in.
    """
    arn = props.get("admin_secret_arn")
    if not arn:
        if props.get(LEGACY_ADMIN_PASSWORD):
            return str(props["admin_user"]), str(props[LEGACY_ADMIN_PASSWORD])
        raise AdminSecretUnreadable(f"tenant {props.get('tenant_id')!r}: no admin_secret_arn to read "
                                    "the admin password from")
    match = SECRET_ARN_RE.match(str(arn))
    if match is None:
        raise AdminSecretUnreadable(f"{arn!r} is not a Secrets Manager secret ARN")
    try:
        response = secrets_client_factory(match["region"]).get_secret_value(SecretId=str(arn))
        value = json.loads(response["SecretString"])
        return str(value.get("username") or props["admin_user"]), str(value["password"])
    except Exception as exc:  # boto3 raises many types; all mean "cannot sign in"
        raise AdminSecretUnreadable(
            f"cannot read the admin password of tenant {props.get('tenant_id')!r}'s database from "
            f"{arn}: {type(exc).__name__}. The deploy runner's role needs secretsmanager:GetSecretValue "
            "on the instance's master secret and kms:Decrypt on its key (docs/database.md)") from None


def _is_known(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and value != pulumi.UNKNOWN


def check_inputs(news: dict[str, Any]) -> list[dynamic.CheckFailure]:
    """Plain checks of the inputs, before anything connects (unknown values pass)."""
    failures: list[dynamic.CheckFailure] = []
    tenant_id = news.get("tenant_id")
    try:
        names = db_bootstrap.TenantDbNames.of(tenant_id)  # type: ignore[arg-type]
    except naming.NameError_ as exc:
        return [dynamic.CheckFailure("tenant_id", str(exc))]
    expected = {"role": names.login_role, "schema": names.schema, "owner_role": names.owner_role}
    for key, value in expected.items():
        if key in news and news[key] is not None and _is_known(news[key]) and news[key] != value:
            failures.append(dynamic.CheckFailure(key, f"must be {value!r} for tenant {tenant_id!r}"))
    sslmode = news.get("sslmode")
    if _is_known(sslmode) and sslmode not in SSL_MODES:
        failures.append(dynamic.CheckFailure("sslmode", f"must be one of {', '.join(SSL_MODES)}"))
    limits = news.get("limits")  # numbers reach providers as floats
    if isinstance(limits, dict) and all(_is_known(v) for v in limits.values()):
        try:
            db_bootstrap.RoleLimits.from_dict(limits)
        except (TypeError, ValueError) as exc:
            failures.append(dynamic.CheckFailure("limits", str(exc)))
    elif limits is not None and limits != pulumi.UNKNOWN and not isinstance(limits, dict):
        failures.append(dynamic.CheckFailure("limits", "must be a mapping of limit to integer"))
    password = news.get("login_password")
    if _is_known(password):
        try:
            db_bootstrap.validate_password(str(password))
        except ValueError as exc:
            failures.append(dynamic.CheckFailure("login_password", str(exc)))
    arn = news.get("admin_secret_arn")
    if _is_known(arn) and not SECRET_ARN_RE.match(str(arn)):
        failures.append(dynamic.CheckFailure("admin_secret_arn", "must be a Secrets Manager secret ARN"))
    return failures


def admin_dsn(props: dict[str, Any], user: str, password: str) -> str:
    """The admin connection string to the instance endpoint."""
    params: dict[str, Any] = {
        "host": props["host"], "port": int(props["port"]), "dbname": props["dbname"],
        "user": user, "password": password,
        "sslmode": props.get("sslmode") or "verify-full",
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "application_name": "tenant-platform-bootstrap",
    }
    if props.get("sslrootcert"):
        params["sslrootcert"] = props["sslrootcert"]
    return make_conninfo(**params)


class DatabaseUnreachable(ConnectionError):
    """The bootstrap could not open its admin connection (network path, TLS or credentials)."""


@contextmanager
def _admin_connection(props: dict[str, Any]) -> Iterator[psycopg.Connection[Any]]:
    """The admin connection, or :class:`DatabaseUnreachable` saying where it must run from.

    The instance is private: the usual cause is ``pulumi up`` running on a machine
    without the deploy runner's path into the VPC.
    """
    user, password = admin_credentials(props)
    try:
        conn = db_bootstrap.connect(admin_dsn(props, user, password), connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except psycopg.OperationalError as exc:
        raise DatabaseUnreachable(
            f"cannot connect to {props['host']}:{int(props['port'])} as {user} "
            f"for tenant {props['tenant_id']!r}: {str(exc).strip()}. The instance is private: run "
            "pulumi up on the region's deploy runner (deploy_runners in _platform.yaml; "
            "docs/database.md, 'Network paths'), with the RDS CA bundle at "
            f"{props.get('sslrootcert') or '(sslrootcert)'}") from exc
    with conn:
        yield conn


def _limits(props: dict[str, Any]) -> db_bootstrap.RoleLimits:
    """The role's limits from the inputs (a state from before limits: the defaults)."""
    return db_bootstrap.RoleLimits.from_dict(dict(props.get("limits") or {}))


def follow_renamed_login(props: dict[str, Any], role: str) -> bool:
    """Point the tenant's login secret at its renamed role (same password, new ``username``).

    The secret's value belongs to rotation (Pulumi ignores it after the first write), and
    the proxy and the rotation function sign in with its ``username``: after the
    bootstrap renamed a tenant's login (a tenant onboarded under the readable names of
    before, :func:`components.db_bootstrap._rename_recorded_names`), the secret must say
    so. Returns whether the secret was changed.
    """
    arn = props.get("login_secret_arn")
    match = SECRET_ARN_RE.match(str(arn or ""))
    if match is None:
        raise AdminSecretUnreadable(f"tenant {props.get('tenant_id')!r}: its login was renamed to {role}, "
                                    "but no login_secret_arn says which secret to update")
    client = secrets_client_factory(match["region"])
    value = json.loads(client.get_secret_value(SecretId=str(arn))["SecretString"])
    if value.get("username") == role:
        return False
    client.put_secret_value(SecretId=str(arn), SecretString=json.dumps({**value, "username": role}))
    return True


def _apply(props: dict[str, Any], *, set_password: bool) -> dict[str, Any]:
    """Bootstrap an active tenant; for a retired one (``active`` false), disable its login.

    Retiring keeps the schema and data (``offboard_tenant(drop_data=False)``); the names
    are the same either way, so the outputs do not change.
    """
    outs = {k: v for k, v in props.items() if k not in ("__provider", LEGACY_ADMIN_PASSWORD)}
    with _admin_connection(props) as conn:
        if props.get("active", True) is False:
            db_bootstrap.offboard_tenant(conn, props["tenant_id"], drop_data=False)
            names = db_bootstrap.TenantDbNames.of(props["tenant_id"])
            outs.update(role=names.login_role, schema=names.schema, owner_role=names.owner_role,
                        database=props["dbname"])
            return outs
        result = db_bootstrap.bootstrap_tenant(
            conn, props["tenant_id"], password=password_of(props, set_password),
            grant_rds_iam=bool(props.get("grant_rds_iam", False)), limits=_limits(props))
    if result.renamed_from is not None:
        follow_renamed_login(props, result.role)
    outs.update(role=result.role, schema=result.schema, owner_role=result.owner_role,
                database=result.database)
    return outs


def password_of(props: dict[str, Any], set_password: bool) -> str | None:
    """The login password to set: on create only (afterwards rotation owns it)."""
    return (props.get("login_password") or None) if set_password else None


class TenantDatabaseBootstrapProvider(dynamic.ResourceProvider):
    """Create/update: bootstrap (idempotent). Delete: offboard, keeping the data."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        """Reject bad inputs before any connection."""
        return dynamic.CheckResult(news, check_inputs(news))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        """Replace for another tenant; update (rerun the bootstrap) for anything else."""
        keys = (set(olds) | set(news)) - {"__provider", LEGACY_ADMIN_PASSWORD, *RESULT_KEYS,
                                          *CREATE_ONLY_KEYS}
        changed = sorted(k for k in keys if olds.get(k) != news.get(k))
        replaces = [k for k in changed if k == "tenant_id"]
        return dynamic.DiffResult(changes=bool(changed), replaces=replaces,
                                  stables=["tenant_id"] if not replaces else None,
                                  delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        """Bootstrap the tenant; the id names the database and role."""
        outs = _apply(props, set_password=True)
        return dynamic.CreateResult(f"{outs['database']}/{outs['role']}", outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        """Rerun the bootstrap with the new inputs (it converges); the password stays as is."""
        return dynamic.UpdateResult(_apply(news, set_password=False))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Offboard: disable the login and end its sessions; schema and data stay.

        Unless ``drop_data_on_delete`` (recorded by ``tenantctl offboard --destroy-data``
        in the update before): then the schema and everything in it go too.
        """
        with _admin_connection(props) as conn:
            db_bootstrap.offboard_tenant(conn, props["tenant_id"],
                                         drop_data=props.get("drop_data_on_delete") is True)


@dataclass(frozen=True, kw_only=True)
class TenantDatabaseBootstrapArgs:
    """Inputs of :class:`TenantDatabaseBootstrap`.

    ``host``/``port``/``dbname``: the RDS *instance* endpoint (the proxy requires IAM auth,
    which the admin does not use). ``admin_secret_arn``: the instance's RDS-managed master
    secret, read at each connect (never its value: RDS rotates it). ``login_password`` is
    a secret. ``login_secret_arn``: the tenant's login secret, rewritten only when the
    bootstrap renames the login (:func:`follow_renamed_login`).
    ``sslrootcert``: path of the RDS CA bundle on the deploy runner (``verify-full``).
    """

    tenant_id: str
    host: pulumi.Input[str]
    port: pulumi.Input[int]
    dbname: pulumi.Input[str]
    admin_user: pulumi.Input[str]
    admin_secret_arn: pulumi.Input[str]
    login_password: pulumi.Input[str]
    sslmode: str = "verify-full"
    sslrootcert: str | None = None
    grant_rds_iam: bool = False
    limits: db_bootstrap.RoleLimits = db_bootstrap.RoleLimits()
    login_secret_arn: pulumi.Input[str] | None = None
    #: False for an offboarded tenant: its login is disabled, its schema and data stay.
    active: bool = True
    #: True once ``tenantctl offboard --destroy-data`` recorded it: deleting the resource
    #: (the next update) drops the tenant's schema and data.
    drop_data_on_delete: bool = False


class TenantDatabaseBootstrap(dynamic.Resource, module="tenant-platform", name="TenantDatabaseBootstrap"):
    """One tenant's in-database setup, applied by ``pulumi up`` (see the module docstring)."""

    tenant_id: pulumi.Output[str]
    role: pulumi.Output[str]
    schema: pulumi.Output[str]
    owner_role: pulumi.Output[str]
    database: pulumi.Output[str]

    def __init__(self, name: str, args: TenantDatabaseBootstrapArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        names = db_bootstrap.TenantDbNames.of(args.tenant_id)
        props: dict[str, Any] = {
            "tenant_id": args.tenant_id, "host": args.host, "port": args.port, "dbname": args.dbname,
            "admin_user": args.admin_user, "admin_secret_arn": args.admin_secret_arn,
            "login_password": pulumi.Output.secret(args.login_password),
            "sslmode": args.sslmode, "sslrootcert": args.sslrootcert,
            "grant_rds_iam": args.grant_rds_iam, "limits": args.limits.as_dict(),
            "login_secret_arn": args.login_secret_arn,
            # Known up front (derived from the id); the provider returns what the database has.
            "role": names.login_role, "schema": names.schema, "owner_role": names.owner_role,
            "database": args.dbname,
        }
        if not args.active:
            # Only when retired: an active tenant's inputs stay as they were (no update).
            props["active"] = False
        if args.drop_data_on_delete:
            props["drop_data_on_delete"] = True
        secret_opts = pulumi.ResourceOptions(additional_secret_outputs=SECRET_OUTPUTS)
        super().__init__(TenantDatabaseBootstrapProvider(), name, props,
                         pulumi.ResourceOptions.merge(opts, secret_opts))
