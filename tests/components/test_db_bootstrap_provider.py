"""The dynamic provider's methods, called directly against a real PostgreSQL 16."""

from __future__ import annotations

import base64
from typing import Any

import dill
import psycopg
import pulumi
import pytest
from psycopg import sql
from pulumi.dynamic.dynamic import serialize_provider

from components import db_provider
from components.db_provider import DatabaseUnreachable, TenantDatabaseBootstrapProvider
from tests.components.pg_support import (
    ADMIN,
    ADMIN_PASSWORD,
    PgServer,
    catalog_snapshot,
    password_for,
    pg_server,
)


@pytest.fixture(scope="module")
def pg() -> PgServer:
    return pg_server()


def props(pg: PgServer, db: str, tenant: str, **overrides: Any) -> dict[str, Any]:
    base = {"tenant_id": tenant, "host": pg.socket_dir, "port": 5432, "dbname": db,
            "admin_user": ADMIN, "admin_password": ADMIN_PASSWORD,
            "login_password": password_for(tenant), "sslmode": "disable", "sslrootcert": None,
            "grant_rds_iam": False, "connection_limit": 20,
            "role": f"t_{tenant}_app", "schema": f"t_{tenant}", "owner_role": f"t_{tenant}_owner",
            "database": db, "__provider": "[pickled]"}
    return {**base, **overrides}


def login(pg: PgServer, db: str, tenant: str, password: str | None = None) -> str:
    with psycopg.connect(pg.dsn(db, f"t_{tenant}_app", password or password_for(tenant))) as conn:
        row = conn.execute("SELECT current_user").fetchone()
        assert row is not None
        return str(row[0])


# --- check ----------------------------------------------------------------------------------
def test_check_accepts_valid_and_unknown_inputs(pg: PgServer) -> None:
    # Numbers reach a dynamic provider as floats.
    news = props(pg, "app", "checker", admin_password=pulumi.UNKNOWN, host=pulumi.UNKNOWN,
                 port=5432.0, connection_limit=50.0)
    result = TenantDatabaseBootstrapProvider().check({}, news)
    assert result.failures == [] and result.inputs is news


@pytest.mark.parametrize(("overrides", "prop"), [
    ({"tenant_id": "x'; DROP SCHEMA t_beta; --"}, "tenant_id"),
    ({"tenant_id": "public"}, "tenant_id"),
    ({"role": "t_other_app"}, "role"),
    ({"schema": "public"}, "schema"),
    ({"sslmode": "prefer"}, "sslmode"),
    ({"connection_limit": 0}, "connection_limit"),
    ({"connection_limit": 2.5}, "connection_limit"),
    ({"login_password": "short"}, "login_password"),
], ids=["injection", "reserved", "role-mismatch", "schema-mismatch", "weak-tls", "limit", "fraction",
        "password"])
def test_check_rejects_bad_inputs(pg: PgServer, overrides: dict[str, Any], prop: str) -> None:
    failures = TenantDatabaseBootstrapProvider().check({}, props(pg, "app", "checker", **overrides)).failures
    assert [f.property for f in failures] == [prop]


# --- diff -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("change", "changes", "replaces"), [
    ({}, False, []),
    ({"__provider": "[other pickle]"}, False, []),
    ({"admin_password": "rotated-by-rds-0123456789"}, True, []),
    ({"host": "other.cluster.rds.amazonaws.com"}, True, []),
    ({"login_password": "new-Passw0rd-0123456789"}, False, []),  # create-only: rotation owns it
    ({"connection_limit": 99}, True, []),
    ({"tenant_id": "someone-else"}, True, ["tenant_id"]),
], ids=["same", "provider-pickle-only", "admin-password-rotated", "endpoint-moved", "login-password",
        "limit", "other-tenant"])
def test_diff(pg: PgServer, change: dict[str, Any], changes: bool, replaces: list[str]) -> None:
    olds = props(pg, "app", "differ")
    result = TenantDatabaseBootstrapProvider().diff("app/t_differ_app", olds, {**olds, **change})
    assert (result.changes, result.replaces, result.delete_before_replace) == (changes, replaces, False)


# --- create / update / delete against PostgreSQL ---------------------------------------------
def test_create_bootstraps_and_returns_secret_free_identity(pg: PgServer) -> None:
    db = pg.new_database()
    result = TenantDatabaseBootstrapProvider().create(props(pg, db, "creator"))
    assert result.id == f"{db}/t_creator_app"
    assert result.outs is not None
    assert {k: result.outs[k] for k in db_provider.RESULT_KEYS} == {
        "role": "t_creator_app", "schema": "t_creator", "owner_role": "t_creator_owner", "database": db}
    assert "__provider" not in result.outs  # the engine adds it back
    assert login(pg, db, "creator") == "t_creator_app"


def test_update_with_same_inputs_is_a_no_op_and_never_resets_the_password(pg: PgServer) -> None:
    db = pg.new_database()
    provider = TenantDatabaseBootstrapProvider()
    olds = props(pg, db, "updater")
    provider.create(olds)
    before = catalog_snapshot(pg, db)
    provider.update(f"{db}/t_updater_app", olds, olds)
    assert catalog_snapshot(pg, db) == before
    provider.update(f"{db}/t_updater_app", olds, {**olds, "login_password": "another-Passw0rd-0123456789"})
    assert login(pg, db, "updater") == "t_updater_app"
    with pytest.raises(psycopg.OperationalError):
        login(pg, db, "updater", "another-Passw0rd-0123456789")


def test_single_user_rotation_works_and_survives_the_next_update(pg: PgServer) -> None:
    """What AWS's single-user rotation function does: sign in as the login, change its own
    password, check the new one. A later ``pulumi up`` (update) must leave it in place."""
    db = pg.new_database()
    provider = TenantDatabaseBootstrapProvider()
    olds = props(pg, db, "rotator", connection_limit=5)
    provider.create(olds)
    rotated = "Rotated-by-secrets-manager-0123456789"
    with psycopg.connect(pg.dsn(db, "t_rotator_app", password_for("rotator")), autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER USER {} WITH PASSWORD {}").format(
            sql.Identifier("t_rotator_app"), sql.Literal(rotated)))
    assert login(pg, db, "rotator", rotated) == "t_rotator_app"
    provider.update(f"{db}/t_rotator_app", olds, {**olds, "connection_limit": 7})
    assert login(pg, db, "rotator", rotated) == "t_rotator_app"
    with pytest.raises(psycopg.OperationalError):
        login(pg, db, "rotator")
    with pg.superuser(db) as conn:
        assert conn.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = 't_rotator_app'"
                            ).fetchone() == (7,)


def test_delete_offboards_and_keeps_data(pg: PgServer) -> None:
    db = pg.new_database()
    provider = TenantDatabaseBootstrapProvider()
    state = provider.create(props(pg, db, "deleter")).outs
    assert state is not None
    with psycopg.connect(pg.dsn(db, "t_deleter_app", password_for("deleter")), autocommit=True) as conn:
        conn.execute("CREATE TABLE t_deleter.docs AS SELECT 'kept' AS body")
    provider.delete(f"{db}/t_deleter_app", state)
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        login(pg, db, "deleter")
    with pg.superuser(db) as conn:
        assert conn.execute("SELECT body FROM t_deleter.docs").fetchall() == [("kept",)]


@pytest.mark.parametrize("operation", ["create", "delete"])
def test_unreachable_endpoint_fails_clearly(pg: PgServer, operation: str) -> None:
    provider = TenantDatabaseBootstrapProvider()
    inputs = props(pg, "app", "nowhere", host="/nonexistent-socket-dir")
    call = provider.create if operation == "create" else lambda p: provider.delete("app/t_nowhere_app", p)
    with pytest.raises(DatabaseUnreachable) as caught:
        call(inputs)
    message = str(caught.value)
    assert message.startswith("cannot connect to /nonexistent-socket-dir:")
    assert "tenant 'nowhere'" in message and "deploy runner" in message and "deploy_runners" in message
    assert isinstance(caught.value.__cause__, psycopg.OperationalError)
    assert inputs["admin_password"] not in message


# --- what Pulumi stores -----------------------------------------------------------------------
def test_provider_holds_no_state_and_pickles_by_reference() -> None:
    provider = TenantDatabaseBootstrapProvider()
    assert vars(provider) == {}
    blob = base64.b64decode(serialize_provider(provider))  # exactly what Pulumi stores
    assert b"components.db_provider" in blob and b"TenantDatabaseBootstrapProvider" in blob
    assert b"psycopg" not in blob  # code is imported where pulumi runs, not embedded
    assert type(dill.loads(blob)) is TenantDatabaseBootstrapProvider  # noqa: S301 - our own blob


def test_admin_dsn_defaults_to_verified_tls() -> None:
    dsn = db_provider.admin_dsn({"host": "db.example", "port": 5432, "dbname": "app", "admin_user": "tpadmin",
                                 "admin_password": "pw", "sslrootcert": "/etc/ssl/rds.pem"})
    assert "sslmode=verify-full" in dsn and "sslrootcert=/etc/ssl/rds.pem" in dsn
