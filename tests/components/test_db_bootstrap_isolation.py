"""Two tenants bootstrapped into one real PostgreSQL 16: connected as one, the other's data
cannot be read, written, altered, enumerated or handed over, by any route we know of.

Tenant ``beta`` owns data of every kind (a table, a function, a large object, usage
rows, planner statistics, a live session); tenant ``alpha`` attacks it. Each case runs on
a fresh connection signed in with alpha's own password, so no state leaks between cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql

from components import db_bootstrap
from components.db_bootstrap import TenantDbNames
from tests.components.pg_support import PASSWORDS, PgServer, connected, pg_server

SECRET = "beta-confidential-4711"
ALPHA, BETA = TenantDbNames.of("alpha"), TenantDbNames.of("beta")
#: The tenants' PostgreSQL names (opaque: tenants.naming.db_token) for the SQL below.
N = {"A": ALPHA.login_role, "AS": ALPHA.schema, "AO": ALPHA.owner_role,
     "B": BETA.login_role, "BS": BETA.schema, "BO": BETA.owner_role}


def n(text: str) -> str:
    """``text`` with the tenants' names filled in."""
    return text.format(**N)


@dataclass(frozen=True)
class Cell:
    pg: PgServer
    db: str
    beta_lo: int
    beta_pid: int

    def dsn(self, tenant: str, password: str | None = None) -> str:
        return self.pg.dsn(self.db, TenantDbNames.of(tenant).login_role, password or PASSWORDS[tenant])


@pytest.fixture(scope="module")
def cell() -> Iterator[Cell]:
    pg = pg_server()
    db = pg.new_database()
    for tenant in ("alpha", "beta"):
        db_bootstrap.bootstrap(pg.admin_dsn(db), tenant, password=PASSWORDS[tenant])
    with connected(pg.dsn(db, BETA.login_role, PASSWORDS["beta"])) as beta:
        beta.execute(n("CREATE TABLE {BS}.secrets (id int PRIMARY KEY, body text, embedding vector(3))"))
        beta.execute(n("INSERT INTO {BS}.secrets SELECT i, %s, '[1,2,3]' FROM generate_series(1, 50) i"),
                     (SECRET,))
        beta.execute(n("CREATE FUNCTION {BS}.reveal() RETURNS text LANGUAGE sql "
                       "AS $$ SELECT body FROM {BS}.secrets LIMIT 1 $$"))
        beta.execute(n("ANALYZE {BS}.secrets"))
        beta.execute("INSERT INTO platform.usage_events (metric, quantity) VALUES ('tokens', 42)")
        beta_lo = beta.execute("SELECT lo_from_bytea(0, convert_to(%s, 'UTF8'))", (SECRET,)).fetchone()
        assert beta_lo is not None
    with connected(pg.dsn(db, ALPHA.login_role, PASSWORDS["alpha"])) as alpha:
        alpha.execute(n("CREATE TABLE {AS}.docs (id int, body text)"))
        alpha.execute(n("INSERT INTO {AS}.docs VALUES (1, 'alpha-own')"))
        alpha.execute("INSERT INTO platform.usage_events (metric, quantity) VALUES ('tokens', 7)")
    # A live beta session whose query text mentions the secret: pg_stat_activity shows it.
    live = psycopg.connect(pg.dsn(db, BETA.login_role, PASSWORDS["beta"]), autocommit=False)
    live.execute(sql.SQL("SELECT {} AS marker").format(sql.Literal(SECRET)))
    beta_pid = live.info.backend_pid
    yield Cell(pg, db, int(beta_lo[0]), beta_pid)
    live.close()


def run_as(cell: Cell, tenant: str, statements: list[str], notices: list[str] | None = None
           ) -> list[Any]:
    """Run statements on a fresh connection; return the last statement's rows."""
    with connected(cell.dsn(tenant)) as conn:
        if notices is not None:
            conn.add_notice_handler(lambda d: notices.append(str(d.message_primary)))
        rows: list[Any] = []
        for statement in statements:
            cur = conn.execute(statement.format(lo=cell.beta_lo, pid=cell.beta_pid, db=cell.db, **N))
            rows = cur.fetchall() if cur.description else []
        return rows


DENIED = errors.InsufficientPrivilege
#: (id, statements run as alpha, the error the last one must raise). Earlier statements
#: must succeed: they set the trick up.
ATTACKS: list[tuple[str, list[str], type[psycopg.Error] | tuple[type[psycopg.Error], ...]]] = [
    # read
    ("select-qualified", ["SELECT * FROM {BS}.secrets"], DENIED),
    ("select-function-of-other-tenant", ["SELECT {BS}.reveal()"], DENIED),
    ("copy-out", ["COPY {BS}.secrets TO STDOUT"], DENIED),
    ("view-over-other-tenant", ["CREATE VIEW {AS}.v AS SELECT * FROM {BS}.secrets"], DENIED),
    ("read-large-object", ["SELECT lo_get({lo})"], DENIED),
    ("open-large-object", ["BEGIN", "SELECT lo_open({lo}, 262144)"], DENIED),
    ("read-pg-largeobject", ["SELECT data FROM pg_largeobject"], DENIED),
    ("read-password-hashes", ["SELECT rolpassword FROM pg_authid"], DENIED),
    ("read-platform-tenant-directory", ["SELECT * FROM platform.tenants"], DENIED),
    ("read-server-file", ["SELECT pg_read_file('pg_hba.conf')"], DENIED),
    ("list-server-dir", ["SELECT pg_ls_dir('.')"], DENIED),
    ("server-side-lo-import", ["SELECT lo_import('/etc/passwd')"], DENIED),
    # search_path tricks
    ("search-path-session", ["SET search_path = {BS}, public", "SELECT * FROM secrets"],
     (errors.UndefinedTable, DENIED)),
    ("search-path-function", ["SET search_path = {BS}", "SELECT reveal()"],
     (errors.UndefinedFunction, DENIED)),
    # write
    ("insert", ["INSERT INTO {BS}.secrets VALUES (99, 'x')"], DENIED),
    ("update", ["UPDATE {BS}.secrets SET body = 'x'"], DENIED),
    ("delete", ["DELETE FROM {BS}.secrets"], DENIED),
    ("truncate", ["TRUNCATE {BS}.secrets"], DENIED),
    ("write-large-object", ["SELECT lo_put({lo}, 0, 'x')"], DENIED),
    ("unlink-large-object", ["SELECT lo_unlink({lo})"], DENIED),
    ("usage-insert-as-other-tenant",
     ["INSERT INTO platform.usage_events (tenant_role, metric, quantity) VALUES ('{B}', 'x', 1)"],
     DENIED),
    ("usage-update", ["UPDATE platform.usage_events SET quantity = 0"], DENIED),
    ("usage-delete", ["DELETE FROM platform.usage_events"], DENIED),
    # alter
    ("alter-table", ["ALTER TABLE {BS}.secrets ADD COLUMN x int"], DENIED),
    ("drop-table", ["DROP TABLE {BS}.secrets"], DENIED),
    ("drop-schema", ["DROP SCHEMA {BS} CASCADE"], DENIED),
    ("rename-schema", ["ALTER SCHEMA {BS} RENAME TO stolen"], DENIED),
    ("replace-function", ["CREATE OR REPLACE FUNCTION {BS}.reveal() RETURNS text LANGUAGE sql "
                          "AS $$ SELECT 'x' $$"], DENIED),
    ("lock-table", ["BEGIN", "LOCK TABLE {BS}.secrets"], DENIED),
    ("comment", ["COMMENT ON TABLE {BS}.secrets IS 'x'"], DENIED),
    ("vacuum", ["VACUUM {BS}.secrets"], DENIED),
    ("take-own-schema", ["ALTER SCHEMA {AS} OWNER TO {A}"], DENIED),
    ("disable-login-of-other", ["ALTER ROLE {B} NOLOGIN"], DENIED),
    ("change-password-of-other", ["ALTER ROLE {B} PASSWORD 'x-0123456789abcdef'"], DENIED),
    ("self-bypassrls", ["ALTER ROLE {A} BYPASSRLS"], DENIED),
    ("self-superuser", ["ALTER ROLE {A} SUPERUSER"], DENIED),
    ("self-createrole", ["ALTER ROLE {A} CREATEROLE"], DENIED),
    ("self-connection-limit", ["ALTER ROLE {A} CONNECTION LIMIT 1000"], DENIED),
    ("create-role", ["CREATE ROLE evil"], DENIED),
    ("create-database", ["CREATE DATABASE evil"], DENIED),
    ("rls-disable", ["ALTER TABLE platform.usage_events DISABLE ROW LEVEL SECURITY"], DENIED),
    ("rls-no-force", ["ALTER TABLE platform.usage_events NO FORCE ROW LEVEL SECURITY"], DENIED),
    ("rls-drop-policy", ["DROP POLICY usage_events_own_rows_v1 ON platform.usage_events"], DENIED),
    ("rls-add-policy", ["CREATE POLICY open ON platform.usage_events USING (true)"], DENIED),
    ("drop-extension", ["DROP EXTENSION vector"], DENIED),
    ("move-extension", ["ALTER EXTENSION vector SET SCHEMA {AS}"], DENIED),
    ("alter-extension-function", ["ALTER FUNCTION extensions.l2_distance(extensions.vector, "
                                  "extensions.vector) SECURITY DEFINER"], DENIED),
    ("default-privileges-of-other", ["ALTER DEFAULT PRIVILEGES FOR ROLE {B} "
                                     "GRANT SELECT ON TABLES TO {A}"], DENIED),
    # SET ROLE and friends
    ("set-role-other-tenant", ["SET ROLE {B}"], DENIED),
    ("set-role-other-owner", ["SET ROLE {BO}"], DENIED),
    ("set-role-own-owner", ["SET ROLE {AO}"], DENIED),
    ("set-role-admin", ["SET ROLE platform_admin"], DENIED),
    ("set-role-superuser", ["SET ROLE postgres"], DENIED),
    ("set-role-read-all-data", ["SET ROLE pg_read_all_data"], DENIED),
    ("set-config-role", ["SELECT set_config('role', '{B}', false)"], DENIED),
    ("session-authorization", ["SET SESSION AUTHORIZATION {B}"], DENIED),
    # objects in shared places
    ("create-table-in-public", ["CREATE TABLE public.trap (id int)"], DENIED),
    ("create-function-in-public", ["CREATE FUNCTION public.lower(text) RETURNS text "
                                   "LANGUAGE sql AS $$ SELECT 'pwned' $$"], DENIED),
    ("create-in-extensions", ["CREATE FUNCTION extensions.l2_distance(extensions.vector, "
                              "extensions.vector) RETURNS float8 LANGUAGE sql AS $$ SELECT 0 $$"],
     DENIED),
    ("create-in-platform", ["CREATE TABLE platform.trap (id int)"], DENIED),
    ("create-in-other-schema", ["CREATE TABLE {BS}.trap (id int)"], DENIED),
    ("create-schema", ["CREATE SCHEMA evil"], DENIED),
    ("create-temp-table", ["CREATE TEMP TABLE trap (id int)"], DENIED),
    # functions and languages
    ("security-definer-runs-as-creator",
     ["CREATE FUNCTION {AS}.steal() RETURNS SETOF text LANGUAGE sql SECURITY DEFINER "
      "AS $$ SELECT body FROM {BS}.secrets $$"], DENIED),
    ("untrusted-language-c", ["CREATE FUNCTION {AS}.f() RETURNS int LANGUAGE c AS 'x'"], DENIED),
    ("language-internal", ["CREATE FUNCTION {AS}.f() RETURNS int LANGUAGE internal AS 'int4in'"],
     DENIED),
    ("copy-from-program", ["COPY {AS}.docs FROM PROGRAM 'id'"], DENIED),
    ("event-trigger", ["CREATE FUNCTION {AS}.et() RETURNS event_trigger LANGUAGE plpgsql "
                       "AS $$ BEGIN END $$", "CREATE EVENT TRIGGER et ON ddl_command_start "
                       "EXECUTE FUNCTION {AS}.et()"], DENIED),
    ("terminate-other-tenant-session", ["SELECT pg_terminate_backend({pid})"], DENIED),
    ("cancel-other-tenant-query", ["SELECT pg_cancel_backend({pid})"], DENIED),
    # RLS against session settings
    ("rls-row-security-off", ["SET row_security = off", "SELECT * FROM platform.usage_events"], DENIED),
    # grants
    ("grant-schema-of-other", ["GRANT USAGE ON SCHEMA {BS} TO {A}"], DENIED),
    ("grant-membership-in-other", ["GRANT {B} TO {A}"], DENIED),
    ("grant-own-membership", ["GRANT {A} TO {B}"], DENIED),
    ("grant-own-owner-role", ["GRANT {AO} TO {A}"], DENIED),
    ("revoke-schema-of-other", ["REVOKE USAGE ON SCHEMA {BS} FROM {B}"], DENIED),
]


@pytest.mark.parametrize(("statements", "error"), [a[1:] for a in ATTACKS], ids=[a[0] for a in ATTACKS])
def test_attack_from_other_tenant_fails(cell: Cell, statements: list[str],
                                        error: type[psycopg.Error]) -> None:
    with pytest.raises(error):
        run_as(cell, "alpha", statements)


def test_attack_list_has_no_duplicate_ids() -> None:
    ids = [a[0] for a in ATTACKS]
    assert len(ids) == len(set(ids))


def test_beta_data_is_intact_after_every_attack(cell: Cell) -> None:
    rows = run_as(cell, "beta", ["SELECT count(*), min(body), max(body) FROM {BS}.secrets"])
    assert rows == [(50, SECRET, SECRET)]
    assert run_as(cell, "beta", ["SELECT {BS}.reveal()"]) == [(SECRET,)]


# --- enumeration: data and statistics stay hidden (catalog names do not; see docs) ------------
@pytest.mark.parametrize("query", [
    "SELECT table_name FROM information_schema.tables WHERE table_schema = '{BS}'",
    "SELECT column_name FROM information_schema.columns WHERE table_schema = '{BS}'",
    "SELECT routine_name FROM information_schema.routines WHERE routine_schema = '{BS}'",
    "SELECT most_common_vals::text FROM pg_stats WHERE schemaname = '{BS}'",
    "SELECT schema_name FROM information_schema.schemata WHERE schema_name = '{BS}'",
    "SELECT * FROM platform.usage_events WHERE tenant_role = '{B}'",
], ids=["tables", "columns", "routines", "planner-statistics", "schemata", "usage-rows"])
def test_enumerating_other_tenant_returns_nothing(cell: Cell, query: str) -> None:
    assert run_as(cell, "alpha", [query]) == []


def test_other_tenant_query_text_is_hidden_in_pg_stat_activity(cell: Cell) -> None:
    rows = run_as(cell, "alpha", ["SELECT query FROM pg_stat_activity WHERE usename = '{B}'"])
    assert rows, "beta's live session is listed"
    assert all(SECRET not in (q or "") for (q,) in rows)
    assert {q for (q,) in rows} == {"<insufficient privilege>"}


def test_password_hashes_are_masked_in_pg_roles(cell: Cell) -> None:
    rows = run_as(cell, "alpha", ["SELECT DISTINCT rolpassword FROM pg_roles "
                                  "WHERE rolname IN ('{A}', '{B}', '{AO}', '{BO}')"])
    assert rows == [("********",)]


def test_catalog_names_of_other_tenants_remain_visible(cell: Cell) -> None:
    """Known residual of schema mode: catalogs are world-readable in PostgreSQL.

    Names (schemas, tables, roles) are visible; rows, statistics and query text are not.
    docs/database.md says so; tenants that need more get the ``cluster`` tier's own RDS.
    """
    rows = run_as(cell, "alpha", ["SELECT relname FROM pg_class WHERE relnamespace = '{BS}'::regnamespace "
                                  "AND relkind = 'r'"])
    assert rows == [("secrets",)]
    # Function source is catalog data too: tenants must not put secrets in function bodies.
    assert run_as(cell, "alpha", ["SELECT prosrc LIKE '%{BS}.secrets%' FROM pg_proc "
                                  "WHERE proname = 'reveal'"]) == [(True,)]


# --- RLS: keyed on the authenticated role, not on anything the session sets ---------------
@pytest.mark.parametrize("setup", [
    [],
    ["SET app.tenant_id = 'beta'"],
    ["SET app.current_tenant = '{B}'"],
    ["SELECT set_config('request.jwt.claim.sub', '{B}', false)"],
    ["SET application_name = '{B}'"],
], ids=["plain", "app-tenant-id", "app-current-tenant", "jwt-claim", "application-name"])
def test_usage_rows_visible_are_only_own(cell: Cell, setup: list[str]) -> None:
    rows = run_as(cell, "alpha", [*setup, "SELECT tenant_role, quantity FROM platform.usage_events"])
    assert rows and {r[0] for r in rows} == {ALPHA.login_role}


def test_leaky_function_in_where_sees_no_other_tenant_rows(cell: Cell) -> None:
    notices: list[str] = []
    run_as(cell, "alpha", [
        "CREATE OR REPLACE FUNCTION {AS}.leak(r name, q numeric) RETURNS boolean "
        "LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'leak % %', r, q; RETURN true; END $$",
        "SELECT * FROM platform.usage_events WHERE {AS}.leak(tenant_role, quantity)"], notices)
    assert notices and all(BETA.login_role not in m and " 42" not in m for m in notices)


def test_rls_with_check_holds_even_if_column_privilege_were_granted(cell: Cell) -> None:
    """Defense in depth: the column grant stops spoofed rows; RLS would stop them too."""
    with connected(cell.pg.admin_dsn(cell.db)) as admin:
        admin.execute(n("GRANT INSERT (tenant_role) ON platform.usage_events TO {A}"))
    try:
        with pytest.raises(DENIED, match="row-level security"):
            run_as(cell, "alpha", ["INSERT INTO platform.usage_events (tenant_role, metric, quantity) "
                                   "VALUES ('{B}', 'tokens', 1)"])
    finally:
        with connected(cell.pg.admin_dsn(cell.db)) as admin:
            admin.execute(n("REVOKE INSERT (tenant_role) ON platform.usage_events FROM {A}"))


# --- grants that succeed but do not matter, and objects that do not capture ---------------
def test_tenant_granting_its_table_to_other_tenant_gives_nothing(cell: Cell) -> None:
    notices: list[str] = []
    run_as(cell, "alpha", ["GRANT SELECT ON {AS}.docs TO {B}",
                           "GRANT SELECT ON {AS}.docs TO PUBLIC",
                           "GRANT USAGE ON SCHEMA {AS} TO {B}"], notices)
    assert any("no privileges were granted" in n for n in notices), "schema grant is refused"
    with pytest.raises(DENIED):
        run_as(cell, "beta", ["SELECT * FROM {AS}.docs"])
    run_as(cell, "alpha", ["REVOKE ALL ON {AS}.docs FROM {B}, PUBLIC"])


def _acls(cell: Cell) -> list[Any]:
    with connected(cell.pg.admin_dsn(cell.db)) as admin:
        return admin.execute("""
            SELECT 'n:' || nspname, nspacl::text FROM pg_namespace
            UNION ALL SELECT 'c:' || oid::regclass::text, relacl::text FROM pg_class
              WHERE relnamespace::regnamespace::text IN ('platform', 'extensions', %s)
            UNION ALL SELECT 'd:' || datname, datacl::text FROM pg_database
            ORDER BY 1""", (BETA.schema,)).fetchall()


@pytest.mark.parametrize("statement", [
    "GRANT SELECT ON platform.usage_events TO {B}",
    "GRANT INSERT (tenant_role) ON platform.usage_events TO {A}",
    "GRANT CREATE ON SCHEMA extensions TO {A}",
    "GRANT USAGE ON SCHEMA platform TO PUBLIC",
    "GRANT CONNECT ON DATABASE {db} TO PUBLIC",
    "GRANT ALL ON SCHEMA {AS} TO {B}",
], ids=["usage-table-to-other", "spoofable-column-to-self", "extensions-create", "platform-to-public",
        "database-to-public", "own-schema-to-other"])
def test_grants_without_grant_option_change_nothing(cell: Cell, statement: str) -> None:
    before = _acls(cell)
    notices: list[str] = []
    run_as(cell, "alpha", [statement], notices)
    assert any("no privileges were granted" in n for n in notices)
    assert _acls(cell) == before


def test_revoking_other_tenant_connect_does_not_lock_it_out(cell: Cell) -> None:
    run_as(cell, "alpha", ["REVOKE CONNECT ON DATABASE {db} FROM {B}",
                           "REVOKE CONNECT ON DATABASE {db} FROM PUBLIC"])
    assert run_as(cell, "beta", ["SELECT current_user"]) == [(BETA.login_role,)]


def test_own_objects_do_not_capture_other_tenant_queries(cell: Cell) -> None:
    run_as(cell, "alpha", [
        "CREATE TABLE IF NOT EXISTS {AS}.secrets (id int, body text)",
        "CREATE OR REPLACE FUNCTION {AS}.lower(text) RETURNS text LANGUAGE sql AS $$ SELECT 'pwned' $$",
        "CREATE OR REPLACE FUNCTION {AS}.reveal() RETURNS text LANGUAGE sql AS $$ SELECT 'pwned' $$"])
    assert run_as(cell, "beta", ["SELECT lower('X'), reveal(), (SELECT count(*) FROM secrets)"]) == [
        ("x", SECRET, 50)]


def test_own_role_search_path_cannot_reach_other_schema(cell: Cell) -> None:
    run_as(cell, "alpha", ["ALTER ROLE {A} SET search_path = {BS}, public, extensions"])
    try:
        with pytest.raises((errors.UndefinedTable, DENIED)):
            run_as(cell, "alpha", ["SELECT * FROM secrets"])
    finally:
        db_bootstrap.bootstrap(cell.pg.admin_dsn(cell.db), "alpha")  # converges search_path back
    assert run_as(cell, "alpha", ["SHOW search_path"]) == [(n("{AS}, extensions"),)]


# --- identity ------------------------------------------------------------------------------
@pytest.mark.parametrize(("user", "password"), [
    (BETA.login_role, PASSWORDS["alpha"]),
    (BETA.owner_role, PASSWORDS["beta"]),
    (ALPHA.owner_role, PASSWORDS["alpha"]),
    ("platform_admin", PASSWORDS["alpha"]),
], ids=["other-tenant-with-own-password", "other-owner", "own-owner", "admin"])
def test_signing_in_as_another_role_fails(cell: Cell, user: str, password: str) -> None:
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(cell.pg.dsn(cell.db, user, password)).close()


def test_pgvector_works_in_own_schema(cell: Cell) -> None:
    rows = run_as(cell, "alpha", [
        "CREATE TABLE IF NOT EXISTS {AS}.chunks (id int, embedding vector(3))",
        "INSERT INTO {AS}.chunks VALUES (1, '[1,0,0]'), (2, '[0,1,0]')",
        "CREATE INDEX IF NOT EXISTS chunks_hnsw ON {AS}.chunks USING hnsw (embedding vector_l2_ops)",
        "SELECT id FROM {AS}.chunks ORDER BY embedding <-> '[0.9,0.1,0]' LIMIT 1"])
    assert rows == [(1,)]
