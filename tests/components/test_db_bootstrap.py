"""The in-database bootstrap on a real PostgreSQL 16: what it sets up, that it is
idempotent and convergent, offboarding, and the gate in front of every SQL statement."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from psycopg import sql

from components import db_bootstrap
from components.db_bootstrap import BootstrapError, TenantDbNames
from tenants import naming
from tenants.naming import NameError_
from tests.components.pg_support import (
    ADMIN,
    PASSWORDS,
    PgServer,
    catalog_snapshot,
    connected,
    password_for,
    pg_server,
    q,
)

A = TenantDbNames.of("alpha")


@pytest.fixture(scope="module")
def pg() -> PgServer:
    return pg_server()


def tenant_dsn(pg: PgServer, db: str, tenant: str) -> str:
    return pg.dsn(db, TenantDbNames.of(tenant).login_role, password_for(tenant))


def setup(pg: PgServer, db: str, tenant: str, **kwargs: Any) -> db_bootstrap.BootstrapResult:
    """Bootstrap a tenant as the (non-superuser) admin, with its test password."""
    return db_bootstrap.bootstrap(pg.admin_dsn(db), tenant, password=password_for(tenant), **kwargs)


# --- what it sets up -------------------------------------------------------------------------
def test_bootstrap_sets_up_roles_schema_and_grants_exactly(pg: PgServer) -> None:
    db = pg.new_database()
    result = db_bootstrap.bootstrap(pg.admin_dsn(db), "alpha", password=PASSWORDS["alpha"])
    app, owner, schema = A.login_role, A.owner_role, A.schema
    assert result.summary() == {"role": app, "schema": schema}
    assert (result.database, result.owner_role) == (db, owner)
    snap = catalog_snapshot(pg, db)
    roles = {r[0]: r[1:9] for r in snap["roles"]}
    # rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls, limit
    assert roles == {app: (False, False, False, False, True, False, False,
                           db_bootstrap.DEFAULT_CONNECTION_LIMIT),
                     owner: (False, False, False, False, False, False, False, -1)}
    # The tenant's roles are members of nothing; only the admin is a member of them.
    assert [m for m in snap["members"] if m[1] in (app, owner)] == []
    # (role, member, admin, inherit, set): PostgreSQL 16 records the creator's ADMIN option
    # (no inherit, no set); the bootstrap adds SET on the login role (to set its default
    # privileges) and INHERIT+SET on the owner role (to manage the schema it owns).
    assert {m[:5] for m in snap["members"] if m[0] in (app, owner)} == {
        (app, ADMIN, True, False, False), (app, ADMIN, False, False, True),
        (owner, ADMIN, True, False, False), (owner, ADMIN, False, True, True)}
    schemas = {s[0]: s[1:] for s in snap["schemas"]}
    assert schemas[schema] == (owner, f"{{{owner}=UC/{owner},{app}=UC/{owner}}}")
    assert schemas["public"][1] == "{pg_database_owner=UC/pg_database_owner}"
    assert schemas["extensions"] == (ADMIN, f"{{{ADMIN}=UC/{ADMIN},{app}=U/{ADMIN}}}")
    assert schemas["platform"][1] == f"{{{ADMIN}=UC/{ADMIN},{app}=U/{ADMIN}}}"
    datacl = dict(snap["database"])[db]
    assert datacl == f"{{{ADMIN}=CTc/{ADMIN},{app}=c/{ADMIN}}}"  # no PUBLIC entry at all
    limits = db_bootstrap.RoleLimits()
    # The plan's limits on the role; temp_file_limit only where the admin may set it (not here).
    assert snap["settings"] == [(app, [f"search_path={schema}, extensions", *(
        f"{k}={v}" for k, v in limits.settings().items() if k != "temp_file_limit")])]
    assert snap["extensions"] == [("plpgsql", "pg_catalog"), ("vector", "extensions")]
    tables = {t[0]: t[1:] for t in snap["tables"]}
    assert tables["platform.usage_events"] == (
        f"{{{ADMIN}=arwdDxt/{ADMIN},{app}=r/{ADMIN}}}", True, True)
    assert tables["platform.tenants"] == (f"{{{ADMIN}=arwdDxt/{ADMIN}}}", False, False)
    assert {(c[1], c[2]) for c in snap["columns"] if c[0] == "platform.usage_events"} == {
        ("metric", f"{{{app}=a/{ADMIN}}}"), ("quantity", f"{{{app}=a/{ADMIN}}}")}
    assert snap["policies"] == [("usage_events_own_rows_v1", "(tenant_role = CURRENT_USER)",
                                 "(tenant_role = CURRENT_USER)")]
    assert {(d[0], d[1], d[2]) for d in snap["default_acl"]} == {
        (app, "f", f"{{{app}=X/{app}}}"), (app, "T", f"{{{app}=U/{app}}}")}
    assert [r[:4] for r in snap["registry"]] == [("alpha", app, owner, schema)]
    assert tables["platform.tenant_limits"] == (f"{{{ADMIN}=arwdDxt/{ADMIN}}}", False, False)


def test_login_role_password_is_stored_as_scram_verifier_computed_client_side(pg: PgServer) -> None:
    db = pg.new_database()
    db_bootstrap.bootstrap(pg.admin_dsn(db), "alpha", password=PASSWORDS["alpha"])
    stored = dict((r[0], r[9]) for r in catalog_snapshot(pg, db)["roles"])[A.login_role]
    assert stored == db_bootstrap.scram_sha256_verifier(PASSWORDS["alpha"], A.login_role)
    with connected(tenant_dsn(pg, db, "alpha")) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (A.login_role,)


def test_scram_verifier_is_stable_per_role_and_differs_between_roles() -> None:
    a1 = db_bootstrap.scram_sha256_verifier("same-Password-123456", "t_a_app")
    assert a1 == db_bootstrap.scram_sha256_verifier("same-Password-123456", "t_a_app")
    assert a1 != db_bootstrap.scram_sha256_verifier("same-Password-123456", "t_b_app")
    assert a1.startswith("SCRAM-SHA-256$4096:")


@pytest.mark.parametrize("password", ["short", "has space in it 12345", "tab\there-0123456789",
                                      "ünïcode-password-123", "x" * 129],
                         ids=["short", "space", "tab", "non-ascii", "too-long"])
def test_unusable_passwords_are_rejected(password: str) -> None:
    with pytest.raises(ValueError, match="16-128 printable ASCII"):
        db_bootstrap.validate_password(password)


# --- idempotence and convergence ---------------------------------------------------------------
def test_bootstrap_twice_is_a_no_op(pg: PgServer) -> None:
    db = pg.new_database()
    for tenant in ("alpha", "beta"):
        db_bootstrap.bootstrap(pg.admin_dsn(db), tenant, password=PASSWORDS[tenant])
    first = catalog_snapshot(pg, db)
    for tenant in ("alpha", "beta"):
        db_bootstrap.bootstrap(pg.admin_dsn(db), tenant, password=PASSWORDS[tenant])
    assert catalog_snapshot(pg, db) == first
    db_bootstrap.bootstrap(pg.admin_dsn(db), "alpha")  # no password: the current one stays
    assert catalog_snapshot(pg, db) == first


@pytest.mark.parametrize("drift", [
    "GRANT ALL ON DATABASE {db} TO PUBLIC",
    "GRANT CREATE ON SCHEMA public TO PUBLIC",
    "GRANT USAGE ON SCHEMA {drifter} TO PUBLIC",
    "ALTER ROLE {drifter_app} SET search_path = public",
    "ALTER ROLE {drifter_app} NOLOGIN CONNECTION LIMIT 500",
    "ALTER ROLE {drifter_app} INHERIT",
    "ALTER SCHEMA {drifter} OWNER TO platform_admin",
    "ALTER ROLE {drifter_app} SET statement_timeout = 0",
    "ALTER ROLE {drifter_app} SET work_mem = '1GB'",
    "ALTER ROLE {drifter_app} RESET idle_in_transaction_session_timeout",
    "ALTER ROLE {drifter_app} SET row_security = off",
    "ALTER ROLE {drifter_app} IN DATABASE {db} SET statement_timeout = 0",
    "ALTER TABLE platform.usage_events NO FORCE ROW LEVEL SECURITY",
    "DROP POLICY usage_events_own_rows_v1 ON platform.usage_events",
    "CREATE POLICY open_all ON platform.usage_events USING (true)",
], ids=["database-to-public", "public-schema-create", "tenant-schema-to-public", "search-path",
        "login-and-limit", "inherit", "schema-owner", "statement-timeout-off", "work-mem-raised",
        "idle-timeout-reset", "extra-role-setting", "in-database-override", "rls-force", "policy-dropped",
        "extra-policy"])
def test_rerun_converges_drift(pg: PgServer, drift: str) -> None:
    db = pg.new_database()
    db_bootstrap.bootstrap(pg.admin_dsn(db), "drifter", password=password_for("drifter"))
    expected = catalog_snapshot(pg, db)
    with pg.superuser(db) as conn:
        conn.execute(q(drift, db=db))
    assert catalog_snapshot(pg, db) != expected
    db_bootstrap.bootstrap(pg.admin_dsn(db), "drifter", password=password_for("drifter"))
    assert catalog_snapshot(pg, db) == expected


def test_schema_taken_over_by_the_tenant_stops_the_bootstrap(pg: PgServer) -> None:
    """Only a superuser can hand a tenant its schema; the bootstrap refuses to paper over it."""
    db = pg.new_database()
    setup(pg, db, "usurper")
    with pg.superuser(db) as conn:
        conn.execute(q("ALTER SCHEMA {usurper} OWNER TO {usurper_app}"))
    with pytest.raises(BootstrapError, match=q("must be owner of schema {usurper}")):
        setup(pg, db, "usurper")


@pytest.mark.parametrize("attribute", ["BYPASSRLS", "SUPERUSER", "REPLICATION", "CREATEDB"])
def test_bootstrap_refuses_a_tenant_role_with_a_dangerous_attribute(pg: PgServer, attribute: str) -> None:
    db = pg.new_database()
    db_bootstrap.bootstrap(pg.admin_dsn(db), "tainted", password=password_for("tainted"))
    with pg.superuser(db) as conn:
        conn.execute(sql.SQL(q("ALTER ROLE {tainted_app} ") + "{}").format(sql.SQL(attribute)))
    try:
        with pytest.raises(BootstrapError, match=q("{tainted_app} has ") + attribute):
            db_bootstrap.bootstrap(pg.admin_dsn(db), "tainted")
    finally:
        with pg.superuser(db) as conn:
            conn.execute(sql.SQL(q("ALTER ROLE {tainted_app} NO") + "{}").format(sql.SQL(attribute)))


def test_concurrent_bootstraps_of_a_cell_serialise(pg: PgServer) -> None:
    db = pg.new_database()
    tenants = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    errors: list[BaseException] = []

    def run(tenant: str) -> None:
        try:
            db_bootstrap.bootstrap(pg.admin_dsn(db), tenant, password=f"{tenant}-Passw0rd-0123456789")
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in tenants]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(catalog_snapshot(pg, db)["registry"]) == len(tenants)


def test_connection_limit_is_enforced(pg: PgServer) -> None:
    db = pg.new_database()
    db_bootstrap.bootstrap(pg.admin_dsn(db), "limited", password=password_for("limited"), connection_limit=2)
    with connected(tenant_dsn(pg, db, "limited")), connected(tenant_dsn(pg, db, "limited")):
        with pytest.raises(psycopg.OperationalError, match="too many connections"):
            psycopg.connect(tenant_dsn(pg, db, "limited")).close()


# --- the extension path as a superuser (on RDS: the rds_superuser admin) -----------------------
def test_bootstrap_creates_pgvector_in_extensions_schema(pg: PgServer) -> None:
    db = pg.new_database(preinstall_vector=False)
    db_bootstrap.bootstrap(pg.dsn(db), "vecmaker", password=password_for("vecmaker"))
    assert ("vector", "extensions") in catalog_snapshot(pg, db)["extensions"]


def test_bootstrap_moves_pgvector_out_of_public(pg: PgServer) -> None:
    db = pg.new_database(preinstall_vector=False)
    with pg.superuser(db) as conn:
        conn.execute("CREATE EXTENSION vector WITH SCHEMA public")
    db_bootstrap.bootstrap(pg.dsn(db), "vecmover", password=password_for("vecmover"))
    assert ("vector", "extensions") in catalog_snapshot(pg, db)["extensions"]


# --- rds_iam: conditional, and off by default -------------------------------------------------
def test_rds_iam_membership_only_when_asked_and_the_role_exists(pg: PgServer) -> None:
    db = pg.new_database()
    db_bootstrap.bootstrap(pg.admin_dsn(db), "iamuser", grant_rds_iam=True)  # no rds_iam here: skipped
    with pg.superuser() as conn:
        conn.execute("CREATE ROLE rds_iam NOLOGIN")
        conn.execute(sql.SQL("GRANT rds_iam TO {} WITH ADMIN OPTION").format(sql.Identifier(ADMIN)))
    try:
        def members() -> set[str]:
            return {m[1] for m in catalog_snapshot(pg, db)["members"] if m[0] == "rds_iam"}

        db_bootstrap.bootstrap(pg.admin_dsn(db), "iamuser")
        login = q("{iamuser_app}")
        assert login not in members()
        db_bootstrap.bootstrap(pg.admin_dsn(db), "iamuser", grant_rds_iam=True)
        assert login in members()
        db_bootstrap.bootstrap(pg.admin_dsn(db), "iamuser")  # the proxy path: membership revoked
        assert login not in members()
    finally:
        with pg.superuser() as conn:
            conn.execute("DROP ROLE rds_iam")


# --- offboarding -------------------------------------------------------------------------------
def test_offboard_disables_login_ends_sessions_and_keeps_data(pg: PgServer) -> None:
    db = pg.new_database()
    db_bootstrap.bootstrap(pg.admin_dsn(db), "leaver", password=password_for("leaver"))
    live = psycopg.connect(tenant_dsn(pg, db, "leaver"), autocommit=True)
    live.execute(q("CREATE TABLE {leaver}.docs AS SELECT 1 AS id"))
    result = db_bootstrap.offboard(pg.admin_dsn(db), "leaver")
    assert result.summary() == {"role": q("{leaver_app}"), "schema": q("{leaver}"), "login": "disabled",
                                "sessions_terminated": 1, "data": "kept"}
    with pytest.raises(psycopg.OperationalError):
        live.execute("SELECT 1")
    live.close()
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        psycopg.connect(tenant_dsn(pg, db, "leaver")).close()
    with pg.superuser(db) as conn:
        assert conn.execute(q("SELECT count(*) FROM {leaver}.docs")).fetchone() == (1,)
        assert conn.execute("SELECT offboarded_at IS NOT NULL FROM platform.tenants").fetchone() == (True,)
    # Onboarding again brings the same data back.
    db_bootstrap.bootstrap(pg.admin_dsn(db), "leaver")
    with connected(tenant_dsn(pg, db, "leaver")) as conn:
        assert conn.execute(q("SELECT count(*) FROM {leaver}.docs")).fetchone() == (1,)


def test_offboard_of_unknown_tenant_changes_nothing(pg: PgServer) -> None:
    db = pg.new_database()
    db_bootstrap.bootstrap(pg.admin_dsn(db), "quiet")
    before = catalog_snapshot(pg, db)
    result = db_bootstrap.offboard(pg.admin_dsn(db), "nobody")
    assert (result.existed, result.data_dropped) == (False, False)
    assert catalog_snapshot(pg, db) == before


def test_offboard_with_drop_data_removes_schema_and_roles_but_keeps_billing(pg: PgServer) -> None:
    db = pg.new_database()
    for tenant in ("dropper", "stayer"):
        setup(pg, db, tenant)
    with connected(tenant_dsn(pg, db, "dropper")) as conn:
        conn.execute(q("CREATE TABLE {dropper}.docs AS SELECT 1 AS id"))
        conn.execute("SELECT lo_from_bytea(0, 'x')")
        conn.execute("INSERT INTO platform.usage_events (metric, quantity) VALUES ('tokens', 3)")
    result = db_bootstrap.offboard(pg.admin_dsn(db), "dropper", drop_data=True)
    assert result.summary()["data"] == "dropped"
    snap = catalog_snapshot(pg, db)
    assert sorted(r[0] for r in snap["roles"]) == sorted([q("{stayer_app}"), q("{stayer_owner}")])
    assert q("{dropper}") not in {s[0] for s in snap["schemas"]}
    with pg.superuser(db) as conn:
        assert conn.execute("SELECT tenant_role, quantity FROM platform.usage_events").fetchall() == [
            (q("{dropper_app}"), 3)]
        assert conn.execute("SELECT data_dropped_at IS NOT NULL FROM platform.tenants "
                            "WHERE tenant_id = 'dropper'").fetchone() == (True,)
    with connected(tenant_dsn(pg, db, "stayer")) as conn:  # the neighbour is untouched
        assert conn.execute("SELECT current_user").fetchone() == (q("{stayer_app}"),)


# --- the gate: no SQL for a bad tenant id -----------------------------------------------------
INJECTIONS = [
    "dropper'; DROP SCHEMA t_stayer CASCADE; --",
    'dropper"; DROP ROLE postgres; --',
    "dropper$$; SELECT pg_sleep(10); $$",
    "Alpha",
    "al",
    "dropper\x00",
    "dropper_stayer",
    "dropper--stayer",
    "public",
    "postgres",
    "t_stayer; GRANT t_stayer_app TO t_dropper_app",
    "a" * 31,
    "",
]


class NoSqlConnection:
    """A connection that fails the test if anything is done with it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"connection used ({name}) before the tenant id was validated")


@pytest.mark.parametrize("tenant_id", INJECTIONS, ids=[f"case{i}" for i in range(len(INJECTIONS))])
def test_bad_tenant_ids_are_rejected_before_any_sql(tenant_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_connect(*_a: Any, **_k: Any) -> None:
        raise AssertionError("connected before the tenant id was validated")

    monkeypatch.setattr(psycopg, "connect", no_connect)
    conn: Any = NoSqlConnection()
    with pytest.raises(NameError_):
        db_bootstrap.bootstrap("host=/nonexistent", tenant_id)
    with pytest.raises(NameError_):
        db_bootstrap.offboard("host=/nonexistent", tenant_id, drop_data=True)
    with pytest.raises(NameError_):
        db_bootstrap.bootstrap_tenant(conn, tenant_id)
    with pytest.raises(NameError_):
        db_bootstrap.offboard_tenant(conn, tenant_id)


def test_bad_tenant_id_leaves_a_real_database_untouched(pg: PgServer) -> None:
    db = pg.new_database()
    db_bootstrap.bootstrap(pg.admin_dsn(db), "beta")
    before = catalog_snapshot(pg, db)
    with psycopg.connect(pg.admin_dsn(db), autocommit=True) as conn:
        for tenant_id in INJECTIONS:
            with pytest.raises(NameError_):
                db_bootstrap.bootstrap_tenant(conn, tenant_id)
    assert catalog_snapshot(pg, db) == before


@pytest.mark.parametrize("tenant_id", ["acme", "kobe-design", "a" * 30])
def test_names_derive_from_the_id_and_do_not_contain_it(tenant_id: str) -> None:
    names = TenantDbNames.of(tenant_id)
    token = naming.db_token(tenant_id)
    assert names == TenantDbNames(tenant_id, token, f"{token}_app", f"{token}_owner")
    assert naming.DB_TOKEN_RE.match(token) and all(len(n.encode()) <= 63 for n in (token, names.login_role,
                                                                                  names.owner_role))
    for form in (tenant_id, tenant_id.replace("-", "_"), tenant_id.replace("-", "")):
        assert form not in names.schema + names.login_role + names.owner_role


def test_names_are_pinned_identities() -> None:
    """Names are identities: a change of the derivation would orphan every tenant's schema.
    These values must never change (bump the ``v1`` domain only with a migration)."""
    assert (naming.db_schema_name("acme"), naming.db_login_role("kobe-design")) == (
        "te135aba4e6eb211de420", "td3150ac34a3a4a1204c7_app")


def test_names_of_different_tenants_differ() -> None:
    ids = [f"tenant-{i:05d}" for i in range(5000)]
    assert len({naming.db_token(i) for i in ids}) == len(ids)


# --- tenants onboarded under the readable names move to the opaque ones --------------------------
def _legacy(tenant_id: str) -> TenantDbNames:
    base = "t_" + tenant_id.replace("-", "_")
    return TenantDbNames(tenant_id, base, f"{base}_app", f"{base}_owner")


def test_a_tenant_bootstrapped_under_readable_names_is_renamed_with_its_data_and_password(
        pg: PgServer, monkeypatch: pytest.MonkeyPatch) -> None:
    db = pg.new_database()
    old = _legacy("old-co")
    with monkeypatch.context() as patched:  # what the previous naming created
        patched.setattr(db_bootstrap.TenantDbNames, "of", classmethod(lambda cls, t: _legacy(t)))
        setup(pg, db, "old-co")
    with connected(pg.dsn(db, old.login_role, password_for("old-co"))) as conn:
        conn.execute(sql.SQL("CREATE TABLE {}.docs AS SELECT 'kept' AS body").format(
            sql.Identifier(old.schema)))
    db_bootstrap.bootstrap(pg.admin_dsn(db), "old-co")  # today's names; no password given
    new = TenantDbNames.of("old-co")
    snap = catalog_snapshot(pg, db)
    assert sorted(r[0] for r in snap["roles"]) == sorted([new.login_role, new.owner_role])
    schemas = {s[0] for s in snap["schemas"]}
    assert new.schema in schemas and old.schema not in schemas
    with pg.superuser(db) as conn:  # the old roles are gone, not just unregistered
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)",
                            ([old.login_role, old.owner_role],)).fetchone() == (0,)
    assert [r[:4] for r in snap["registry"]] == [("old-co", new.login_role, new.owner_role, new.schema)]
    with connected(pg.dsn(db, new.login_role, password_for("old-co"))) as conn:  # same password
        assert conn.execute("SELECT body FROM docs").fetchall() == [("kept",)]  # search_path follows
        assert conn.execute("SHOW search_path").fetchone() == (f"{new.schema}, extensions",)
    with pg.superuser(db) as conn:
        assert conn.execute("SELECT login_role FROM platform.tenant_limits").fetchall() == [(new.login_role,)]
    db_bootstrap.bootstrap(pg.admin_dsn(db), "old-co")
    assert catalog_snapshot(pg, db) == snap  # and from then on a rerun changes nothing


def test_old_and_new_names_both_present_stop_the_bootstrap(pg: PgServer,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    db = pg.new_database()
    with monkeypatch.context() as patched:
        patched.setattr(db_bootstrap.TenantDbNames, "of", classmethod(lambda cls, t: _legacy(t)))
        setup(pg, db, "twice-co")
    new = TenantDbNames.of("twice-co")
    with pg.superuser(db) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(new.owner_role)))
    try:
        with pytest.raises(BootstrapError, match="has both"):
            db_bootstrap.bootstrap(pg.admin_dsn(db), "twice-co")
    finally:
        with pg.superuser(db) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(new.owner_role)))
