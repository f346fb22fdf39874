"""In-database setup of tenants: schema, roles, grants, row-level security and pgvector.

Plain Python and SQL over psycopg 3, so the exact code that ``pulumi up`` runs (through
the dynamic provider in :mod:`components.db_provider`) and that operators run
(``tenantctl db``) is the code the tests run against a real PostgreSQL 16.

The security model (docs/database.md has the full reasoning):

- Every identifier is composed with :class:`psycopg.sql.Identifier`; values are bound
  parameters or :class:`psycopg.sql.Literal`. The tenant id is validated by
  :func:`tenants.naming.validate_tenant_id` before any connection is opened, so nothing a
  caller passes can reach the server as SQL text.
- Per tenant there are two roles. ``t_<id>_owner`` (NOLOGIN) owns the schema ``t_<id>``;
  nobody logs in as it. ``t_<id>_app`` (LOGIN) has USAGE and CREATE on that schema only:
  it can run its own migrations and owns the tables it creates, but it cannot grant
  anything on the schema itself, so whatever it grants on its tables is unreachable for
  any other role (no USAGE on the schema). Both roles are NOSUPERUSER NOCREATEDB
  NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT and members of nothing.
- PUBLIC loses everything: on the database (CONNECT, TEMP, CREATE) and on the ``public``
  schema; CONNECT is granted to tenant login roles one by one.
- pgvector is a database-wide object, so it lives in the platform's ``extensions``
  schema (USAGE for tenants, CREATE for nobody): a tenant can use the ``vector`` type and
  operators in its own tables but cannot create, replace, move or drop anything there.
  Tenant roles search ``t_<id>, extensions`` only, never a schema another role can write.
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
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from tenants import naming

#: ``pg_advisory_xact_lock`` key shared by every bootstrap and offboard ("tpdb").
ADVISORY_LOCK_KEY = 0x74706462
#: Connections a tenant's login role may hold at once: one tenant cannot exhaust a shared
#: instance's ``max_connections`` (the proxy multiplexes client connections below it).
DEFAULT_CONNECTION_LIMIT = 50
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
class BootstrapResult:
    """What a bootstrap set up."""

    tenant_id: str
    database: str
    role: str
    schema: str
    owner_role: str

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
                      grant_rds_iam: bool, connection_limit: int) -> BootstrapResult:
    database = prepare_database(cur)
    schema, login, owner = (sql.Identifier(names.schema), sql.Identifier(names.login_role),
                            sql.Identifier(names.owner_role))
    _converge_role(cur, names.owner_role, login=False)
    # The admin manages the owner role's schema through membership (on RDS the admin is
    # not a superuser); the tenant's login role is a member of nothing.
    cur.execute(sql.SQL("GRANT {} TO CURRENT_USER WITH INHERIT TRUE, SET TRUE").format(owner))
    _converge_role(cur, names.login_role, login=True, connection_limit=connection_limit)
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
    cur.execute(sql.SQL("ALTER ROLE {} SET search_path TO {}, {}").format(
        login, schema, sql.Identifier(naming.DB_EXTENSIONS_SCHEMA)))

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
        INSERT INTO {} AS t (tenant_id, login_role, owner_role, schema_name)
        VALUES (%s, %s, %s, %s)
        ON CONFLICT (tenant_id) DO UPDATE SET offboarded_at = NULL, data_dropped_at = NULL
        WHERE t.offboarded_at IS NOT NULL OR t.data_dropped_at IS NOT NULL""").format(
        _table(naming.DB_PLATFORM_SCHEMA, "tenants")),
        (names.tenant_id, names.login_role, names.owner_role, names.schema))
    return BootstrapResult(tenant_id=names.tenant_id, database=database, role=names.login_role,
                           schema=names.schema, owner_role=names.owner_role)


def bootstrap_tenant(conn: psycopg.Connection[Any], tenant_id: str, *, password: str | None = None,
                     grant_rds_iam: bool = False,
                     connection_limit: int = DEFAULT_CONNECTION_LIMIT) -> BootstrapResult:
    """Create or converge one tenant's in-database setup, in one transaction.

    ``password``: the login role's password (the one the RDS Proxy reads from the
    tenant's secret); ``None`` leaves the current password alone. ``grant_rds_iam``: make
    the login role authenticate with IAM tokens directly at the instance (not through the
    proxy's secret); see :func:`_converge_rds_iam`.
    """
    names = TenantDbNames.of(tenant_id)  # before any SQL
    verifier = None if password is None else scram_sha256_verifier(password, names.login_role)
    if not 1 <= connection_limit <= 10_000:
        raise ValueError(f"connection limit {connection_limit} must be between 1 and 10000")
    try:
        with conn.transaction(), conn.cursor() as cur:
            _guard(cur)
            return _bootstrap_tenant(cur, names, verifier=verifier, grant_rds_iam=grant_rds_iam,
                                     connection_limit=connection_limit)
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
              connection_limit: int = DEFAULT_CONNECTION_LIMIT) -> BootstrapResult:
    """Validate, connect to ``dsn`` and bootstrap one tenant."""
    TenantDbNames.of(tenant_id)
    if password is not None:
        validate_password(password)
    with connect(dsn) as conn:
        return bootstrap_tenant(conn, tenant_id, password=password, grant_rds_iam=grant_rds_iam,
                                connection_limit=connection_limit)


def offboard(dsn: str, tenant_id: str, *, drop_data: bool = False) -> OffboardResult:
    """Validate, connect to ``dsn`` and offboard one tenant."""
    TenantDbNames.of(tenant_id)
    with connect(dsn) as conn:
        return offboard_tenant(conn, tenant_id, drop_data=drop_data)
