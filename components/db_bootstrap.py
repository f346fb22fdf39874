"""In-database setup of tenants: schema, roles, grants, row-level security and pgvector.

Plain Python and SQL over psycopg 3, so the exact code that ``pulumi up`` runs (through
the dynamic provider in :mod:`components.db_provider`) and that operators run
(``tenantctl db``) is the code the tests run against a real PostgreSQL 16.

The security model (docs/database.md has the full reasoning):

- Every identifier is composed with :class:`psycopg.sql.Identifier`; values are bound
  parameters or :class:`psycopg.sql.Literal`. The tenant id is validated by
  :func:`tenants.naming.validate_tenant_id` before any connection is opened, so nothing a
  caller passes can reach the server as SQL text.
- Names are opaque (``t<token>``, :func:`tenants.naming.db_token`): the catalogs every role
  can read must not say which customers share the instance.
- Per tenant there are two roles. ``t<token>_owner`` (NOLOGIN) owns the schema ``t<token>``;
  nobody logs in as it. ``t<token>_app`` (LOGIN) has USAGE and CREATE on that schema only:
  it can run its own migrations and owns the tables it creates, but it cannot grant
  anything on the schema itself, so whatever it grants on its tables is unreachable for
  any other role (no USAGE on the schema). Both roles are NOSUPERUSER NOCREATEDB
  NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT and members of nothing.
- PUBLIC loses everything: on the database (CONNECT, TEMP, CREATE) and on the ``public``
  schema; CONNECT is granted to tenant login roles one by one.
- pgvector is a database-wide object, so it lives in the platform's ``extensions``
  schema (USAGE for tenants, CREATE for nobody): a tenant can use the ``vector`` type and
  operators in its own tables but cannot create, replace, move or drop anything there.
  Tenant roles search ``t<token>, extensions`` only, never a schema another role can write.
- The login role carries its plan's limits (:class:`RoleLimits`); ``platform.enforce_limits``
  (the watchdog) enforces the statement and idle-in-transaction timeouts even when a
  session lifts them.
- Shared tables (``platform.usage_events``) have row-level security ENABLEd and FORCEd,
  keyed on ``current_user``, the authenticated role, never on a setting the session can
  change; tenants may insert only the ``metric`` and ``quantity`` columns.
- Every transaction pins ``search_path`` to ``pg_catalog, pg_temp`` (objects a tenant
  created can never capture the admin's statements), bounds lock waits, and holds one
  advisory lock, so concurrent bootstraps of a cell's tenants serialise instead of
  failing with "tuple concurrently updated" on the shared grants.
- Passwords are sent as SCRAM-SHA-256 verifiers computed here, never in clear text (a
  statement log cannot leak them). The salt derives from the role and the password, so
  setting the same password twice stores the same verifier: a rerun changes nothing.

Idempotent: every step checks or converges, and running a bootstrap twice leaves the
catalogs byte-for-byte as they were (the tests compare snapshots).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import asdict, dataclass, fields
from typing import Any

import psycopg
from psycopg import sql

from tenants import naming
from tenants.plans import DatabaseLimits

#: ``pg_advisory_xact_lock`` key shared by every bootstrap and offboard ("tpdb").
ADVISORY_LOCK_KEY = 0x74706462
#: Connections a tenant's login role may hold at once: one tenant cannot exhaust a shared
#: instance's ``max_connections`` (the proxy multiplexes client connections below it).
#: Deployed tenants take theirs from the plan (:class:`RoleLimits`).
DEFAULT_CONNECTION_LIMIT = DatabaseLimits().connection_limit
#: Settings the bootstrap owns on a tenant's login role; any other role-level setting (one
#: the tenant added to itself) is reset. ``temp_file_limit`` is superuser-only (SUSET).
SUSET_SETTINGS = ("temp_file_limit",)
LOCK_TIMEOUT = "15s"
STATEMENT_TIMEOUT = "120s"
#: Printable ASCII without spaces: SCRAM's SASLprep leaves such passwords unchanged, so
#: the verifier computed here is the one the server checks.
PASSWORD_RE = re.compile(r"^[\x21-\x7e]{16,128}$")
SCRAM_ITERATIONS = 4096
#: RDS's role that switches a login role to IAM authentication. Absent outside RDS.
RDS_IAM_ROLE = "rds_iam"
#: Row-level security policies of the shared usage table, by name (versioned: a changed
#: policy gets a new name, and the old one is dropped).
USAGE_TABLE = "usage_events"
USAGE_POLICIES = {
    "usage_events_own_rows_v1": sql.SQL(
        "CREATE POLICY {policy} ON {table} AS PERMISSIVE FOR ALL TO PUBLIC "
        "USING (tenant_role = current_user) WITH CHECK (tenant_role = current_user)"),
}
#: Per-tenant limits the watchdog enforces (admin only: a tenant cannot relax its own).
LIMITS_TABLE = "tenant_limits"
#: ``platform.enforce_limits()``: cancels tenant statements running longer than their
#: statement timeout and ends sessions idle in a transaction longer than allowed, whatever
#: the session set for itself (``SET statement_timeout = 0`` is any role's right). Runs as
#: the admin (``pg_signal_backend``, which RDS's master user holds); scheduled every
#: minute by pg_cron where the server has it (:func:`_schedule_watchdog`).
WATCHDOG_FUNCTION = "enforce_limits"
WATCHDOG_SQL = sql.SQL("""
    CREATE OR REPLACE FUNCTION {function}()
    RETURNS TABLE (pid integer, login_role name, action text)
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $fn$
        WITH overrunning AS MATERIALIZED (  -- chosen first: only these are ever signalled
            SELECT a.pid, a.usename, a.state
            FROM pg_stat_activity a JOIN {limits} l ON l.login_role = a.usename
            WHERE a.pid <> pg_backend_pid()
              AND ((a.state = 'active'
                    AND a.query_start < now() - l.statement_timeout_ms * interval '1 millisecond')
                OR (a.state IN ('idle in transaction', 'idle in transaction (aborted)')
                    AND a.state_change < now()
                        - l.idle_in_transaction_timeout_ms * interval '1 millisecond')))
        SELECT o.pid, o.usename, CASE WHEN o.state = 'active' THEN 'cancelled' ELSE 'terminated' END
        FROM overrunning o
        WHERE CASE WHEN o.state = 'active' THEN pg_cancel_backend(o.pid)
                   ELSE pg_terminate_backend(o.pid) END
    $fn$""")
#: pg_cron job running the watchdog (where pg_cron is installed: RDS with the parameter
#: group's ``shared_preload_libraries``).
WATCHDOG_JOB = "tenant-platform-enforce-limits"
WATCHDOG_SCHEDULE = "* * * * *"
_ROLE_ATTRIBUTES = sql.SQL(
    "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT")


class BootstrapError(RuntimeError):
    """The database refused a step of the bootstrap (the message says which)."""


@dataclass(frozen=True)
class TenantDbNames:
    """A tenant's database names, derived from its validated id."""

    tenant_id: str
    schema: str
    login_role: str
    owner_role: str

    @classmethod
    def of(cls, tenant_id: str) -> TenantDbNames:
        """Validate the id (the SQL gate), then derive the names."""
        naming.validate_tenant_id(tenant_id)
        return cls(tenant_id=tenant_id, schema=naming.db_schema_name(tenant_id),
                   login_role=naming.db_login_role(tenant_id),
                   owner_role=naming.db_owner_role(tenant_id))


@dataclass(frozen=True)
class RoleLimits:
    """What a tenant's login may use of the server, in PostgreSQL's own units (ms, kB).

    From the plan's ``database.limits`` (:meth:`from_plan`). ``connection_limit`` is a role
    attribute and ``temp_file_limit`` a superuser-only setting: the tenant can change
    neither. The timeouts and memory settings are the role's session defaults, which any
    role may override in its own session; :data:`WATCHDOG_FUNCTION` enforces the
    statement and idle-in-transaction timeouts from ``platform.tenant_limits``, which the
    tenant cannot touch.
    """

    connection_limit: int = DEFAULT_CONNECTION_LIMIT
    statement_timeout: int = DatabaseLimits().statement_timeout_seconds * 1000
    idle_in_transaction_session_timeout: int = DatabaseLimits().idle_in_transaction_timeout_seconds * 1000
    idle_session_timeout: int = DatabaseLimits().idle_session_timeout_seconds * 1000
    lock_timeout: int = DatabaseLimits().lock_timeout_seconds * 1000
    work_mem: int = DatabaseLimits().work_mem_mib * 1024
    maintenance_work_mem: int = DatabaseLimits().maintenance_work_mem_mib * 1024
    temp_file_limit: int = DatabaseLimits().temp_file_limit_mib * 1024

    def __post_init__(self) -> None:
        if not 1 <= self.connection_limit <= 10_000:
            raise ValueError(f"connection limit {self.connection_limit} must be between 1 and 10000")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{f.name} must be a positive integer, not {value!r}")

    @classmethod
    def from_plan(cls, limits: DatabaseLimits) -> RoleLimits:
        """The plan table's limits (seconds, MiB) in PostgreSQL's units."""
        return cls(connection_limit=limits.connection_limit,
                   statement_timeout=limits.statement_timeout_seconds * 1000,
                   idle_in_transaction_session_timeout=limits.idle_in_transaction_timeout_seconds * 1000,
                   idle_session_timeout=limits.idle_session_timeout_seconds * 1000,
                   lock_timeout=limits.lock_timeout_seconds * 1000,
                   work_mem=limits.work_mem_mib * 1024,
                   maintenance_work_mem=limits.maintenance_work_mem_mib * 1024,
                   temp_file_limit=limits.temp_file_limit_mib * 1024)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RoleLimits:
        """From :meth:`as_dict` (numbers may arrive as floats from a dynamic provider)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown database limits {unknown}")
        converted: dict[str, int] = {}
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not float(value).is_integer():
                raise ValueError(f"{key} must be an integer, not {value!r}")
            converted[key] = int(value)
        return cls(**converted)

    def as_dict(self) -> dict[str, int]:
        """Plain values (for a dynamic provider's inputs)."""
        return asdict(self)

    def settings(self) -> dict[str, int]:
        """The role-level settings, by PostgreSQL parameter name."""
        return {k: v for k, v in asdict(self).items() if k != "connection_limit"}


@dataclass(frozen=True)
class BootstrapResult:
    """What a bootstrap set up."""

    tenant_id: str
    database: str
    role: str
    schema: str
    owner_role: str
    #: False where the admin may not set the superuser-only ``temp_file_limit`` on a role
    #: (then the server's parameter group caps every session: components.database).
    temp_file_limit_on_role: bool = True
    #: The login role this run renamed to :attr:`role` (a tenant onboarded under older names).
    renamed_from: str | None = None

    def summary(self) -> dict[str, str]:
        """The one-line JSON ``tenantctl db bootstrap`` prints."""
        return {"role": self.role, "schema": self.schema}


@dataclass(frozen=True)
class OffboardResult:
    """What an offboard did."""

    tenant_id: str
    role: str
    schema: str
    existed: bool
    sessions_terminated: int
    data_dropped: bool

    def summary(self) -> dict[str, Any]:
        """The one-line JSON ``tenantctl db offboard`` prints."""
        return {"role": self.role, "schema": self.schema, "login": "disabled",
                "sessions_terminated": self.sessions_terminated,
                "data": "dropped" if self.data_dropped else "kept"}


# --- passwords ----------------------------------------------------------------------------
def validate_password(password: str) -> str:
    """Return the password if the platform accepts it (16-128 printable ASCII, no spaces)."""
    if not isinstance(password, str) or not PASSWORD_RE.match(password):
        raise ValueError("a database password must be 16-128 printable ASCII characters "
                         "without spaces")
    return password


def scram_sha256_verifier(password: str, role: str, iterations: int = SCRAM_ITERATIONS) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (RFC 5802/7677).

    The salt is an HMAC of the role under the password: unique per role, stable for the
    same (role, password), so re-setting a password is a no-op and two roles with the
    same password still get different verifiers.
    """
    secret = validate_password(password).encode()
    salt = hmac.new(secret, f"tenant-platform/{role}".encode(), hashlib.sha256).digest()[:16]
    salted = hashlib.pbkdf2_hmac("sha256", secret, salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


# --- connections --------------------------------------------------------------------------
def connect(dsn: str, *, connect_timeout: int = 10) -> psycopg.Connection[Any]:
    """Open an admin connection; every change below runs in an explicit transaction block."""
    return psycopg.connect(dsn, connect_timeout=connect_timeout, autocommit=True)


def _guard(cur: psycopg.Cursor[Any]) -> None:
    """Start-of-transaction guards: safe search_path, bounded waits, the bootstrap lock."""
    cur.execute("SET LOCAL search_path = pg_catalog, pg_temp")
    cur.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
    cur.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(STATEMENT_TIMEOUT)))
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))


def _one(cur: psycopg.Cursor[Any], query: str, params: tuple[Any, ...] = ()) -> Any:
    row = cur.execute(query, params).fetchone()
    return None if row is None else row[0]


def _role_exists(cur: psycopg.Cursor[Any], role: str) -> bool:
    return bool(_one(cur, "SELECT count(*) FROM pg_roles WHERE rolname = %s", (role,)))


def _schema_owner(cur: psycopg.Cursor[Any], schema: str) -> str | None:
    owner = _one(cur, "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = %s",
                 (schema,))
    return None if owner is None else str(owner)


def _is_member(cur: psycopg.Cursor[Any], member: str, role: str) -> bool:
    return bool(_one(cur, """
        SELECT count(*) FROM pg_auth_members m
        JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
        WHERE r.rolname = %s AND u.rolname = %s""", (role, member)))


def _table(schema: str, table: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))


# --- the database-wide part ---------------------------------------------------------------
def prepare_database(cur: psycopg.Cursor[Any]) -> str:
    """Lock the database down and create the shared parts; returns the database name.

    Runs inside a guarded transaction, as part of every tenant bootstrap (it converges in
    a few catalog reads when nothing needs doing).
    """
    database = str(_one(cur, "SELECT current_database()"))
    ext = sql.Identifier(naming.DB_EXTENSIONS_SCHEMA)
    platform = sql.Identifier(naming.DB_PLATFORM_SCHEMA)
    cur.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))
    if _schema_owner(cur, "public") is not None:
        cur.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")

    cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ext))
    cur.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(ext))
    vector_schema = _one(cur, """
        SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'vector'""")
    if vector_schema is None:
        cur.execute(sql.SQL("CREATE EXTENSION vector WITH SCHEMA {}").format(ext))
    elif vector_schema != naming.DB_EXTENSIONS_SCHEMA:
        cur.execute(sql.SQL("ALTER EXTENSION vector SET SCHEMA {}").format(ext))

    cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(platform))
    cur.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(platform))
    tenants = _table(naming.DB_PLATFORM_SCHEMA, "tenants")
    cur.execute(sql.SQL("""
        CREATE TABLE IF NOT EXISTS {} (
            tenant_id text PRIMARY KEY,
            login_role name NOT NULL UNIQUE,
            owner_role name NOT NULL UNIQUE,
            schema_name name NOT NULL UNIQUE,
            onboarded_at timestamptz NOT NULL DEFAULT now(),
            offboarded_at timestamptz,
            data_dropped_at timestamptz)""").format(tenants))
    cur.execute(sql.SQL("REVOKE ALL ON TABLE {} FROM PUBLIC").format(tenants))

    usage = _table(naming.DB_PLATFORM_SCHEMA, USAGE_TABLE)
    cur.execute(sql.SQL("""
        CREATE TABLE IF NOT EXISTS {} (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            tenant_role name NOT NULL DEFAULT current_user,
            metric text NOT NULL CHECK (metric ~ '^[a-z][a-z0-9_.]{{0,62}}$'),
            quantity numeric NOT NULL CHECK (quantity >= 0),
            recorded_at timestamptz NOT NULL DEFAULT now())""").format(usage))
    cur.execute(sql.SQL("REVOKE ALL ON TABLE {} FROM PUBLIC").format(usage))
    limits = _table(naming.DB_PLATFORM_SCHEMA, LIMITS_TABLE)
    cur.execute(sql.SQL("""
        CREATE TABLE IF NOT EXISTS {} (
            login_role name PRIMARY KEY,
            statement_timeout_ms integer NOT NULL CHECK (statement_timeout_ms > 0),
            idle_in_transaction_timeout_ms integer NOT NULL CHECK (idle_in_transaction_timeout_ms > 0))"""
                        ).format(limits))
    cur.execute(sql.SQL("REVOKE ALL ON TABLE {} FROM PUBLIC").format(limits))
    cur.execute(WATCHDOG_SQL.format(function=_table(naming.DB_PLATFORM_SCHEMA, WATCHDOG_FUNCTION),
                                    limits=limits))
    cur.execute(sql.SQL("REVOKE ALL ON FUNCTION {}() FROM PUBLIC").format(
        _table(naming.DB_PLATFORM_SCHEMA, WATCHDOG_FUNCTION)))
    enabled, forced = cur.execute("""
        SELECT c.relrowsecurity, c.relforcerowsecurity FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s""",
                                  (naming.DB_PLATFORM_SCHEMA, USAGE_TABLE)).fetchone() or (False, False)
    if not enabled:
        cur.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(usage))
    if not forced:
        cur.execute(sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(usage))
    existing = {row[0] for row in cur.execute(
        "SELECT policyname FROM pg_policies WHERE schemaname = %s AND tablename = %s",
        (naming.DB_PLATFORM_SCHEMA, USAGE_TABLE))}
    for stale in sorted(existing - USAGE_POLICIES.keys()):
        cur.execute(sql.SQL("DROP POLICY {} ON {}").format(sql.Identifier(stale), usage))
    for policy, statement in USAGE_POLICIES.items():
        if policy not in existing:
            cur.execute(statement.format(policy=sql.Identifier(policy), table=usage))
    return database


# --- one tenant ---------------------------------------------------------------------------
def _converge_role(cur: psycopg.Cursor[Any], role: str, *, login: bool,
                   connection_limit: int = -1) -> None:
    """Create the role, or converge what an admin may change; refuse a tainted role.

    PostgreSQL lets only a role holding SUPERUSER, REPLICATION, BYPASSRLS or CREATEDB
    change that attribute on another role (even to turn it off), and RDS's admin holds
    none of the first three. So ALTER converges login, inheritance, CREATEROLE and the
    connection limit, and the other attributes are checked instead: a tenant role that
    somehow gained one is an incident for a human, and the bootstrap stops.
    """
    login_sql = sql.SQL("LOGIN" if login else "NOLOGIN")
    limit = sql.SQL("CONNECTION LIMIT {}").format(sql.Literal(connection_limit))
    if not _role_exists(cur, role):
        cur.execute(sql.SQL("CREATE ROLE {} {} {} {}").format(
            sql.Identifier(role), login_sql, _ROLE_ATTRIBUTES, limit))
        return
    row = cur.execute("""
        SELECT rolsuper, rolcreatedb, rolreplication, rolbypassrls FROM pg_roles
        WHERE rolname = %s""", (role,)).fetchone()
    tainted = [attr for attr, on in zip(("SUPERUSER", "CREATEDB", "REPLICATION", "BYPASSRLS"),
                                        row or (), strict=True) if on]
    if tainted:
        raise BootstrapError(f"role {role} has {', '.join(tainted)}; a tenant role must not. "
                             "Refusing to continue: remove the attribute as a superuser first")
    cur.execute(sql.SQL("ALTER ROLE {} {} NOINHERIT NOCREATEROLE {}").format(
        sql.Identifier(role), login_sql, limit))


def _converge_rds_iam(cur: psycopg.Cursor[Any], login_role: str, grant: bool) -> None:
    """IAM authentication at the instance: membership in ``rds_iam``, only where it exists.

    Through RDS Proxy (the platform's path) the proxy signs in with the password from the
    tenant's secret, and RDS refuses password logins of ``rds_iam`` members: so the
    default is *not* a member, and a stale membership is revoked.
    """
    if not _role_exists(cur, RDS_IAM_ROLE):
        return
    member = _is_member(cur, login_role, RDS_IAM_ROLE)
    if grant and not member:
        cur.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(RDS_IAM_ROLE),
                                                   sql.Identifier(login_role)))
    elif member and not grant:
        cur.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(RDS_IAM_ROLE),
                                                      sql.Identifier(login_role)))


def _bootstrap_tenant(cur: psycopg.Cursor[Any], names: TenantDbNames, *, verifier: str | None,
                      grant_rds_iam: bool, limits: RoleLimits) -> BootstrapResult:
    database = prepare_database(cur)
    schema, login, owner = (sql.Identifier(names.schema), sql.Identifier(names.login_role),
                            sql.Identifier(names.owner_role))
    renamed_from = _rename_recorded_names(cur, names)
    _converge_role(cur, names.owner_role, login=False)
    # The admin manages the owner role's schema through membership (on RDS the admin is
    # not a superuser); the tenant's login role is a member of nothing.
    cur.execute(sql.SQL("GRANT {} TO CURRENT_USER WITH INHERIT TRUE, SET TRUE").format(owner))
    _converge_role(cur, names.login_role, login=True, connection_limit=limits.connection_limit)
    # SET (not INHERIT) membership: the admin can act as the tenant for the tenant's own
    # default privileges below, without holding the tenant's privileges in its own session.
    cur.execute(sql.SQL("GRANT {} TO CURRENT_USER WITH INHERIT FALSE, SET TRUE").format(login))
    cur.execute(sql.SQL("SET LOCAL ROLE {}").format(login))
    # Functions and types the tenant creates are not usable by PUBLIC (only by itself):
    # other tenants could not reach them anyway (no USAGE on the schema), but then they
    # do not even show in information_schema.
    cur.execute("ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC")
    cur.execute("ALTER DEFAULT PRIVILEGES REVOKE USAGE ON TYPES FROM PUBLIC")
    cur.execute("RESET ROLE")
    if verifier is not None:
        cur.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(login, sql.Literal(verifier)))
    temp_file_limit_on_role = _converge_settings(cur, names, limits, database)

    current_owner = _schema_owner(cur, names.schema)
    if current_owner is None:
        cur.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(schema, owner))
    elif current_owner != names.owner_role:
        cur.execute(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(schema, owner))
    cur.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(schema))
    cur.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(schema, login))
    cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), login))
    for shared in (naming.DB_EXTENSIONS_SCHEMA, naming.DB_PLATFORM_SCHEMA):
        cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(shared), login))
    usage = _table(naming.DB_PLATFORM_SCHEMA, USAGE_TABLE)
    cur.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(usage, login))
    cur.execute(sql.SQL("GRANT INSERT (metric, quantity) ON {} TO {}").format(usage, login))
    _converge_rds_iam(cur, names.login_role, grant_rds_iam)
    cur.execute(sql.SQL("""
        INSERT INTO {} AS l (login_role, statement_timeout_ms, idle_in_transaction_timeout_ms)
        VALUES (%s, %s, %s) ON CONFLICT (login_role) DO UPDATE
        SET statement_timeout_ms = excluded.statement_timeout_ms,
            idle_in_transaction_timeout_ms = excluded.idle_in_transaction_timeout_ms
        WHERE (l.statement_timeout_ms, l.idle_in_transaction_timeout_ms)
              IS DISTINCT FROM (excluded.statement_timeout_ms, excluded.idle_in_transaction_timeout_ms)"""
                        ).format(_table(naming.DB_PLATFORM_SCHEMA, LIMITS_TABLE)),
                (names.login_role, limits.statement_timeout, limits.idle_in_transaction_session_timeout))
    _schedule_watchdog(cur)

    cur.execute(sql.SQL("""
        INSERT INTO {} AS t (tenant_id, login_role, owner_role, schema_name)
        VALUES (%s, %s, %s, %s)
        ON CONFLICT (tenant_id) DO UPDATE SET offboarded_at = NULL, data_dropped_at = NULL
        WHERE t.offboarded_at IS NOT NULL OR t.data_dropped_at IS NOT NULL""").format(
        _table(naming.DB_PLATFORM_SCHEMA, "tenants")),
        (names.tenant_id, names.login_role, names.owner_role, names.schema))
    return BootstrapResult(tenant_id=names.tenant_id, database=database, role=names.login_role,
                           schema=names.schema, owner_role=names.owner_role,
                           temp_file_limit_on_role=temp_file_limit_on_role, renamed_from=renamed_from)


def _rename_recorded_names(cur: psycopg.Cursor[Any], names: TenantDbNames) -> str | None:
    """Move a tenant onboarded under other names (the readable ``t_<id>`` ones) to its names.

    ``platform.tenants`` records the names each tenant was bootstrapped with. Where they
    differ from today's, the schema and both roles are *renamed*: same objects, data,
    grants, ownership and (SCRAM) password, so nothing is copied and nothing orphaned.
    Both an old and a new object existing at once is left to a human. Returns the login
    role's old name when it was renamed (its secret's ``username`` must follow).
    """
    row = cur.execute(sql.SQL("SELECT login_role, owner_role, schema_name FROM {} WHERE tenant_id = %s")
                      .format(_table(naming.DB_PLATFORM_SCHEMA, "tenants")), (names.tenant_id,)).fetchone()
    wanted = (names.login_role, names.owner_role, names.schema)
    if row is None or tuple(row) == wanted:
        return None
    renamed_login = None
    for (old, new), kind in zip(zip(row, wanted, strict=True), ("ROLE", "ROLE", "SCHEMA"), strict=True):
        if old == new:
            continue
        exists = _role_exists if kind == "ROLE" else (lambda c, n: _schema_owner(c, n) is not None)
        if exists(cur, old) and exists(cur, new):
            raise BootstrapError(f"tenant {names.tenant_id!r} has both {old} and {new}; refusing to "
                                 "merge them: a human must decide which one holds its data")
        if exists(cur, old):
            cur.execute(sql.SQL("ALTER {} {} RENAME TO {}").format(sql.SQL(kind), sql.Identifier(old),
                                                                 sql.Identifier(new)))
            renamed_login = renamed_login or (old if new == names.login_role else None)
    cur.execute(sql.SQL("DELETE FROM {} WHERE login_role = %s").format(
        _table(naming.DB_PLATFORM_SCHEMA, LIMITS_TABLE)), (row[0],))
    cur.execute(sql.SQL("UPDATE {} SET login_role = %s, owner_role = %s, schema_name = %s "
                        "WHERE tenant_id = %s").format(_table(naming.DB_PLATFORM_SCHEMA, "tenants")),
                (*wanted, names.tenant_id))
    return renamed_login


def _converge_settings(cur: psycopg.Cursor[Any], names: TenantDbNames, limits: RoleLimits,
                       database: str) -> bool:
    """The login role's settings: search_path and the plan's limits, in that order, nothing else.

    Whatever else is set on the role (a tenant may ``ALTER ROLE`` itself ``SET`` or
    ``RESET``, in this database too) goes: the role's settings are reset and written
    again in one fixed order, so a rerun stores exactly the same array. Returns whether
    ``temp_file_limit`` could be set on the role: it is superuser-only, and a
    non-superuser admin (RDS's) needs ``GRANT SET ON PARAMETER`` (PostgreSQL 15+) for it;
    without it the parameter group's instance-wide value is the cap. ``RESET ALL`` by a
    non-superuser keeps settings it may not set, so it never fails on those.
    """
    login = sql.Identifier(names.login_role)
    in_database = _one(cur, """
        SELECT count(*) FROM pg_db_role_setting WHERE setrole = %s::regrole
        AND setdatabase = (SELECT oid FROM pg_database WHERE datname = %s)""", (names.login_role, database))
    if in_database:
        cur.execute(sql.SQL("ALTER ROLE {} IN DATABASE {} RESET ALL").format(login, sql.Identifier(database)))
    cur.execute(sql.SQL("ALTER ROLE {} RESET ALL").format(login))
    cur.execute(sql.SQL("ALTER ROLE {} SET search_path TO {}, {}").format(
        login, sql.Identifier(names.schema), sql.Identifier(naming.DB_EXTENSIONS_SCHEMA)))
    allowed = {name: bool(_one(cur, "SELECT has_parameter_privilege(%s, 'SET')", (name,)))
               for name in SUSET_SETTINGS}
    for name, value in limits.settings().items():
        if allowed.get(name, True):
            cur.execute(sql.SQL("ALTER ROLE {} SET {} TO {}").format(login, sql.Identifier(name),
                                                                    sql.Literal(value)))
    return all(allowed.values())


def _schedule_watchdog(cur: psycopg.Cursor[Any]) -> bool:
    """Schedule :data:`WATCHDOG_FUNCTION` every minute with pg_cron, where it is installed.

    On RDS the parameter group preloads pg_cron for the application database
    (components.database) and the admin may create the extension; before the reboot that
    applies the preload, and on plain PostgreSQL without pg_cron (the tests), there is no
    schedule, and the function is still there to run. Returns whether a job is scheduled.
    """
    if not _one(cur, "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_cron'"):
        return False
    if _one(cur, "SELECT to_regnamespace('cron')") is None:
        try:
            with cur.connection.transaction():  # a savepoint: a refusal leaves the bootstrap intact
                cur.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
        except psycopg.Error:
            return False  # not preloaded yet (the parameter group applies at the next reboot)
    command = sql.SQL("SELECT {}()").format(
        _table(naming.DB_PLATFORM_SCHEMA, WATCHDOG_FUNCTION)).as_string(cur)
    cur.execute("SELECT cron.schedule(%s, %s, %s)", (WATCHDOG_JOB, WATCHDOG_SCHEDULE, command))
    return True


def enforce_limits(conn: psycopg.Connection[Any]) -> list[tuple[int, str, str]]:
    """Run the watchdog once (what pg_cron runs every minute): (pid, role, action) per hit."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET LOCAL search_path = pg_catalog, pg_temp")
        rows = cur.execute(sql.SQL("SELECT pid, login_role, action FROM {}()").format(
            _table(naming.DB_PLATFORM_SCHEMA, WATCHDOG_FUNCTION))).fetchall()
    return [(int(pid), str(role), str(action)) for pid, role, action in rows]


def bootstrap_tenant(conn: psycopg.Connection[Any], tenant_id: str, *, password: str | None = None,
                     grant_rds_iam: bool = False, limits: RoleLimits | None = None,
                     connection_limit: int | None = None) -> BootstrapResult:
    """Create or converge one tenant's in-database setup, in one transaction.

    ``password``: the login role's password (the one the RDS Proxy reads from the
    tenant's secret); ``None`` leaves the current password alone. ``grant_rds_iam``: make
    the login role authenticate with IAM tokens directly at the instance (not through the
    proxy's secret); see :func:`_converge_rds_iam`. ``limits``: the plan's
    (:meth:`RoleLimits.from_plan`), by default :class:`RoleLimits`'s; ``connection_limit``
    overrides just that one.
    """
    names = TenantDbNames.of(tenant_id)  # before any SQL
    verifier = None if password is None else scram_sha256_verifier(password, names.login_role)
    limits = limits or RoleLimits()
    if connection_limit is not None:
        limits = RoleLimits(**{**limits.as_dict(), "connection_limit": connection_limit})
    try:
        with conn.transaction(), conn.cursor() as cur:
            _guard(cur)
            return _bootstrap_tenant(cur, names, verifier=verifier, grant_rds_iam=grant_rds_iam,
                                     limits=limits)
    except psycopg.Error as exc:
        raise BootstrapError(f"bootstrap of tenant {tenant_id!r} failed: {_first_line(exc)}") from exc


def offboard_tenant(conn: psycopg.Connection[Any], tenant_id: str, *,
                    drop_data: bool = False) -> OffboardResult:
    """Disable the tenant's login and end its sessions; keep its schema and data.

    Only ``drop_data=True`` destroys anything: the schema with every object in it, then
    both roles. The shared usage records stay (they are the platform's billing history).
    """
    names = TenantDbNames.of(tenant_id)  # before any SQL
    login = sql.Identifier(names.login_role)
    tenants = _table(naming.DB_PLATFORM_SCHEMA, "tenants")
    try:
        with conn.transaction(), conn.cursor() as cur:
            _guard(cur)
            database = str(_one(cur, "SELECT current_database()"))
            existed = _role_exists(cur, names.login_role)
            if existed:
                cur.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(login))
                cur.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM {}").format(
                    sql.Identifier(database), login))
            registry = _one(cur, "SELECT to_regclass(%s)", (f"{naming.DB_PLATFORM_SCHEMA}.tenants",))
            if registry is not None:
                cur.execute(sql.SQL("UPDATE {} SET offboarded_at = now() "
                                    "WHERE tenant_id = %s AND offboarded_at IS NULL").format(tenants),
                            (names.tenant_id,))
        # After the commit: a session ended earlier could sign in again before NOLOGIN lands.
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SET LOCAL search_path = pg_catalog, pg_temp")
            terminated = int(_one(cur, """
                SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE usename = %s AND pid <> pg_backend_pid()) t""", (names.login_role,)))
        if drop_data:
            with conn.transaction(), conn.cursor() as cur:
                _guard(cur)
                _drop_tenant_data(cur, names)
                if registry is not None:
                    cur.execute(sql.SQL("UPDATE {} SET data_dropped_at = now() WHERE tenant_id = %s")
                                .format(tenants), (names.tenant_id,))
    except psycopg.Error as exc:
        raise BootstrapError(f"offboarding tenant {tenant_id!r} failed: {_first_line(exc)}") from exc
    return OffboardResult(tenant_id=names.tenant_id, role=names.login_role, schema=names.schema,
                          existed=existed, sessions_terminated=terminated, data_dropped=drop_data)


def _drop_tenant_data(cur: psycopg.Cursor[Any], names: TenantDbNames) -> None:
    roles = [r for r in (names.login_role, names.owner_role) if _role_exists(cur, r)]
    for role in roles:  # DROP OWNED needs the roles' privileges (the admin is no superuser on RDS)
        cur.execute(sql.SQL("GRANT {} TO CURRENT_USER WITH INHERIT TRUE, SET TRUE").format(
            sql.Identifier(role)))
    cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(names.schema)))
    if roles:
        cur.execute(sql.SQL("DROP OWNED BY {}").format(sql.SQL(", ").join(map(sql.Identifier, roles))))
    for role in roles:
        cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --- DSN entry points ---------------------------------------------------------------------
def bootstrap(dsn: str, tenant_id: str, *, password: str | None = None, grant_rds_iam: bool = False,
              limits: RoleLimits | None = None, connection_limit: int | None = None) -> BootstrapResult:
    """Validate, connect to ``dsn`` and bootstrap one tenant."""
    TenantDbNames.of(tenant_id)
    if password is not None:
        validate_password(password)
    with connect(dsn) as conn:
        return bootstrap_tenant(conn, tenant_id, password=password, grant_rds_iam=grant_rds_iam,
                                limits=limits, connection_limit=connection_limit)


def offboard(dsn: str, tenant_id: str, *, drop_data: bool = False) -> OffboardResult:
    """Validate, connect to ``dsn`` and offboard one tenant."""
    TenantDbNames.of(tenant_id)
    with connect(dsn) as conn:
        return offboard_tenant(conn, tenant_id, drop_data=drop_data)
