"""A shared database tells a tenant nothing and cannot be slowed by others (issue 11.7), on a
real PostgreSQL 16 set up like RDS.

Two tenants share one database: ``alpha`` (the attacker) and ``zq-rival``, a customer whose
very presence is confidential. The rival has a schema, tables, a function, a large
object, usage rows, statistics, and live sessions (one idle in a transaction whose query
text names it). Signed in as alpha, every relation of ``pg_catalog`` and
``information_schema`` alpha may read is dumped, and the rival's id must not appear in it
in any spelling. Then the per-role limits: set on alpha's role from the plan, in effect in
its sessions, the hard ones out of its reach, and the soft ones enforced by the watchdog
even after alpha lifts them in its own session.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql

from components import db_bootstrap
from components.db_bootstrap import RoleLimits, TenantDbNames
from tests.components.pg_support import ADMIN, PgServer, connected, password_for, pg_server

RIVAL = "zq-rival"
#: Every way the rival's id could be spelt in a name, a value or a query text.
RIVAL_FORMS = (RIVAL, RIVAL.replace("-", "_"), RIVAL.replace("-", ""), RIVAL.upper(), "zq rival")
ALPHA, RIVAL_NAMES = TenantDbNames.of("alpha"), TenantDbNames.of(RIVAL)
#: Small limits, so the tests hit them quickly.
LIMITS = RoleLimits(connection_limit=4, statement_timeout=1000, idle_in_transaction_session_timeout=1000,
                    idle_session_timeout=600_000, lock_timeout=500, work_mem=64, maintenance_work_mem=1024,
                    temp_file_limit=1024)


@dataclass(frozen=True)
class Shared:
    pg: PgServer
    db: str

    def dsn(self, tenant: str) -> str:
        return self.pg.dsn(self.db, TenantDbNames.of(tenant).login_role, password_for(tenant))


@pytest.fixture(scope="module")
def shared() -> Iterator[Shared]:
    pg = pg_server()
    db = pg.new_database()
    # RDS's admin may set temp_file_limit only if granted (PostgreSQL 15+: GRANT SET ON
    # PARAMETER); granted here for the bootstrap, revoked at once (it is server-wide).
    with pg.superuser() as conn:
        conn.execute(sql.SQL("GRANT SET ON PARAMETER temp_file_limit TO {}").format(sql.Identifier(ADMIN)))
    try:
        results = [db_bootstrap.bootstrap(pg.admin_dsn(db), t, password=password_for(t), limits=LIMITS)
                   for t in ("alpha", RIVAL)]
    finally:
        with pg.superuser() as conn:
            conn.execute(sql.SQL("REVOKE SET ON PARAMETER temp_file_limit FROM {}").format(
                sql.Identifier(ADMIN)))
    assert all(r.temp_file_limit_on_role for r in results)
    cell = Shared(pg, db)
    schema = sql.Identifier(RIVAL_NAMES.schema)
    with connected(cell.dsn(RIVAL)) as rival:
        rival.execute(sql.SQL("CREATE TABLE {}.customers (id int PRIMARY KEY, name text)").format(schema))
        rival.execute(sql.SQL("INSERT INTO {}.customers SELECT i, 'zq-rival customer ' || i "
                              "FROM generate_series(1, 100) i").format(schema))
        rival.execute(sql.SQL("CREATE FUNCTION {}.total() RETURNS bigint LANGUAGE sql "
                              "AS $$ SELECT 1::bigint $$").format(schema))
        rival.execute(sql.SQL("ANALYZE {}.customers").format(schema))
        rival.execute("SELECT lo_from_bytea(0, 'zq-rival contract')")
        rival.execute("INSERT INTO platform.usage_events (metric, quantity) VALUES ('tokens', 5)")
    # Live sessions: one idle, one idle in a transaction whose last query names the rival.
    idle = psycopg.connect(cell.dsn(RIVAL), autocommit=True)
    busy = psycopg.connect(cell.dsn(RIVAL), autocommit=False)
    busy.execute("SET idle_in_transaction_session_timeout = 0")
    busy.execute("SELECT 'zq-rival quarterly numbers' AS marker")
    yield cell
    idle.close()
    busy.close()


def as_alpha(cell: Shared, statements: list[str]) -> list[Any]:
    with connected(cell.dsn("alpha")) as conn:
        rows: list[Any] = []
        for statement in statements:
            cur = conn.execute(statement)
            rows = cur.fetchall() if cur.description else []
        return rows


def readable_catalog_relations(conn: psycopg.Connection[Any]) -> list[str]:
    """Every table and view of pg_catalog and information_schema the role may SELECT."""
    return [str(r[0]) for r in conn.execute("""
        SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('pg_catalog', 'information_schema') AND c.relkind IN ('r', 'v', 'm')
          AND has_table_privilege(c.oid, 'SELECT') ORDER BY 1""")]


def dump_catalogs(cell: Shared) -> dict[str, str]:
    """As alpha: relation -> all its rows as text (relations that error for alpha are left out)."""
    dumped: dict[str, str] = {}
    with connected(cell.dsn("alpha")) as conn:
        for relation in readable_catalog_relations(conn):
            try:
                rows = conn.execute(sql.SQL("SELECT t::text FROM {} t").format(
                    sql.SQL(relation))).fetchall()
            except psycopg.Error:
                continue
            dumped[relation] = "\n".join(str(r[0]) for r in rows)
    return dumped


# --- nothing names the rival -------------------------------------------------------------------
#: The views a hostile tenant reaches for first; the dump must have covered each of them.
HOSTILE_VIEWS = ("pg_namespace", "pg_roles", "pg_user", "pg_group", "pg_auth_members", "pg_database",
                 "pg_stat_activity", "pg_stat_user_tables", "pg_stat_all_tables", "pg_statio_user_tables",
                 "pg_class", "pg_tables", "pg_views", "pg_proc", "pg_description", "pg_shdescription",
                 "pg_settings", "pg_db_role_setting", "pg_largeobject_metadata", "pg_locks", "pg_policies",
                 "pg_stats", "pg_stat_database", "pg_seclabels", "pg_shseclabel", "pg_default_acl",
                 "pg_init_privs", "pg_prepared_xacts", "pg_cursors", "pg_publication",
                 "pg_replication_origin", "information_schema.schemata", "information_schema.tables",
                 "information_schema.applicable_roles", "information_schema.enabled_roles",
                 "information_schema.role_table_grants", "information_schema.usage_privileges")


@pytest.fixture(scope="module")
def dump(shared: Shared) -> dict[str, str]:
    return dump_catalogs(shared)


def test_the_dump_covers_every_hostile_view_and_sees_the_rival(dump: dict[str, str]) -> None:
    missing = [v for v in HOSTILE_VIEWS if v not in dump]
    # Some are simply unreadable for a tenant (pg_authid, pg_shadow...): those are not
    # listed above. The ones listed must have been read.
    assert missing == []
    # The rival is there (schema, roles, sessions): only its id is not.
    assert RIVAL_NAMES.schema in dump["pg_namespace"]
    assert RIVAL_NAMES.login_role in dump["pg_roles"] and RIVAL_NAMES.login_role in dump["pg_stat_activity"]
    assert len(dump) > 100


@pytest.mark.parametrize("form", RIVAL_FORMS)
def test_no_catalog_alpha_can_read_spells_the_rivals_id_in_any_form(dump: dict[str, str], form: str) -> None:
    hits = {relation for relation, text in dump.items() if form.lower() in text.lower()}
    assert hits == set(), f"{form!r} appears in {sorted(hits)}"


@pytest.mark.parametrize(("statement", "where"), [
    ("COMMENT ON SCHEMA {schema} IS 'zq-rival'", "pg_description"),
    ("COMMENT ON ROLE {role} IS 'customer zq_rival'", "pg_shdescription"),
    ("ALTER ROLE {role} SET application_name = 'zqrival-app'", "pg_db_role_setting"),
], ids=["schema-comment", "role-comment", "role-setting"])
def test_the_dump_would_catch_a_platform_object_naming_the_rival(shared: Shared, statement: str,
                                                                 where: str) -> None:
    """Control: what the platform could write about a tenant does show up in the dump."""
    undo = {"pg_description": "COMMENT ON SCHEMA {schema} IS NULL",
            "pg_shdescription": "COMMENT ON ROLE {role} IS NULL",
            "pg_db_role_setting": "ALTER ROLE {role} RESET application_name"}[where]
    names = {"schema": RIVAL_NAMES.schema, "role": RIVAL_NAMES.login_role}
    with shared.pg.superuser(shared.db) as conn:
        conn.execute(statement.format(**names))
    try:
        leaked = dump_catalogs(shared)
    finally:
        with shared.pg.superuser(shared.db) as conn:
            conn.execute(undo.format(**names))
    assert any(form.lower() in leaked[where].lower() for form in RIVAL_FORMS)


@pytest.mark.parametrize("query", [
    "SELECT rolname FROM pg_authid",
    "SELECT usename, passwd FROM pg_shadow",
    "SELECT * FROM pg_statistic",
    "SELECT * FROM platform.tenants",
    "SELECT * FROM platform.tenant_limits",
    "SELECT * FROM pg_largeobject",
    "SELECT pg_read_file('pg_hba.conf')",
    "SELECT * FROM pg_ls_dir('.')",
    "SELECT * FROM pg_stat_file('postgresql.conf')",
    "SELECT * FROM pg_hba_file_rules",
    "SELECT * FROM pg_ls_logdir()",
    "SELECT * FROM pg_backend_memory_contexts",
    "SELECT * FROM pg_file_settings",
], ids=["pg_authid", "pg_shadow", "pg_statistic", "tenant-directory", "tenant-limits",
        "large-objects", "read-file", "ls-dir", "stat-file", "hba-rules", "log-dir", "memory-contexts",
        "file-settings"])
def test_what_would_name_tenants_is_refused(shared: Shared, query: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        as_alpha(shared, [query])


def test_other_sessions_show_no_query_and_no_client_detail(shared: Shared) -> None:
    rows = as_alpha(shared, [sql.SQL(
        "SELECT query, state, client_addr::text, backend_type FROM pg_stat_activity WHERE usename = {}"
    ).format(sql.Literal(RIVAL_NAMES.login_role)).as_string()])
    assert rows and all(r == ("<insufficient privilege>", None, None, None) for r in rows)


@pytest.mark.parametrize("statement", [
    "COMMENT ON ROLE {rival} IS 'x'",
    "COMMENT ON DATABASE {db} IS 'alpha was here'",
    "COMMENT ON SCHEMA {rival_schema} IS 'x'",
    "ALTER ROLE {rival} SET application_name = 'x'",
    "ALTER ROLE {alpha} RENAME TO visible_name",
], ids=["comment-rival-role", "comment-database", "comment-rival-schema", "rival-setting",
        "rename-self"])
def test_alpha_cannot_write_names_or_comments_where_others_read(shared: Shared, statement: str) -> None:
    with pytest.raises((errors.InsufficientPrivilege, errors.FeatureNotSupported)):
        as_alpha(shared, [statement.format(rival=RIVAL_NAMES.login_role, rival_schema=RIVAL_NAMES.schema,
                                           alpha=ALPHA.login_role, db=shared.db)])


# --- the plan's limits, in effect -------------------------------------------------------------
def test_alpha_sessions_run_with_the_plans_limits(shared: Shared) -> None:
    wanted = ", ".join(f"'{name}'" for name in LIMITS.settings())
    shown = as_alpha(shared, [f"SELECT name, setting FROM pg_settings WHERE name IN ({wanted})"])
    assert dict(shown) == {k: str(v) for k, v in LIMITS.settings().items()}
    assert as_alpha(shared, ["SHOW statement_timeout"]) == [("1s",)]
    assert as_alpha(shared, ["SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user"]) == [(4,)]


def test_a_statement_beyond_the_timeout_is_cancelled(shared: Shared) -> None:
    with pytest.raises(errors.QueryCanceled, match="statement timeout"):
        as_alpha(shared, ["SELECT pg_sleep(3)"])


def test_temporary_files_beyond_the_limit_fail(shared: Shared) -> None:
    # work_mem is 64 kB: sorting 200k rows spills to disk, past the 1 MB temp_file_limit.
    with pytest.raises(errors.ConfigurationLimitExceeded, match="temp_file_limit"):
        as_alpha(shared, ["SELECT count(*) FROM (SELECT g FROM generate_series(1, 200000) g "
                          "ORDER BY md5(g::text)) s"])


@pytest.mark.parametrize("statement", [
    "SET temp_file_limit = -1",
    "SELECT set_config('temp_file_limit', '-1', false)",
    "ALTER ROLE {alpha} SET temp_file_limit = -1",
    "ALTER ROLE {alpha} CONNECTION LIMIT 1000",
    "UPDATE platform.tenant_limits SET statement_timeout_ms = 2147483647",
    "SELECT platform.enforce_limits()",
], ids=["set-temp-file-limit", "set-config", "role-temp-file-limit", "connection-limit", "watchdog-limits",
        "run-watchdog"])
def test_the_hard_limits_are_out_of_alphas_reach(shared: Shared, statement: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        as_alpha(shared, [statement.format(alpha=ALPHA.login_role)])


def test_connection_limit_caps_alphas_sessions(shared: Shared) -> None:
    held = [psycopg.connect(shared.dsn("alpha")) for _ in range(LIMITS.connection_limit)]
    try:
        with pytest.raises(psycopg.OperationalError, match="too many connections"):
            psycopg.connect(shared.dsn("alpha")).close()
    finally:
        for conn in held:
            conn.close()


def test_watchdog_cancels_a_statement_whose_session_lifted_its_timeout(shared: Shared) -> None:
    """``SET statement_timeout = 0`` is every role's right; the watchdog still cancels."""
    failure: list[BaseException] = []
    conn = psycopg.connect(shared.dsn("alpha"), autocommit=True)
    conn.execute("SET statement_timeout = 0")
    pid = conn.info.backend_pid

    def sleep() -> None:
        try:
            conn.execute("SELECT pg_sleep(30)")
        except BaseException as exc:  # noqa: BLE001 - asserted below
            failure.append(exc)

    thread = threading.Thread(target=sleep)
    thread.start()
    try:
        time.sleep(1.5)
        with connected(shared.pg.admin_dsn(shared.db)) as admin:
            hits = db_bootstrap.enforce_limits(admin)
        thread.join(10)
        assert (pid, ALPHA.login_role, "cancelled") in hits
        assert not thread.is_alive() and failure and isinstance(failure[0], errors.QueryCanceled)
        assert all(role != RIVAL_NAMES.login_role or action != "cancelled" for _pid, role, action in hits)
    finally:
        conn.close()


def test_watchdog_ends_a_transaction_left_idle_past_its_limit(shared: Shared) -> None:
    conn = psycopg.connect(shared.dsn("alpha"), autocommit=False)
    conn.execute("SET idle_in_transaction_session_timeout = 0")  # lifted by the session
    conn.execute("SELECT 1")
    pid = conn.info.backend_pid
    time.sleep(1.5)
    with connected(shared.pg.admin_dsn(shared.db)) as admin:
        hits = db_bootstrap.enforce_limits(admin)
    assert (pid, ALPHA.login_role, "terminated") in hits
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")
    conn.close()


def test_watchdog_leaves_sessions_within_their_limits_alone(shared: Shared) -> None:
    with connected(shared.dsn("alpha")) as quick:
        quick.execute("SELECT 1")
        with connected(shared.pg.admin_dsn(shared.db)) as admin:
            hits = db_bootstrap.enforce_limits(admin)
        assert quick.info.backend_pid not in {pid for pid, _role, _action in hits}
        assert quick.execute("SELECT 1").fetchone() == (1,)
