"""The dynamic provider's methods, called directly against a real PostgreSQL 16."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import dill
import psycopg
import pulumi
import pytest
from psycopg import sql
from pulumi.dynamic.dynamic import serialize_provider

from components import db_bootstrap, db_provider
from components.db_bootstrap import RoleLimits, TenantDbNames
from components.db_provider import AdminSecretUnreadable, DatabaseUnreachable, TenantDatabaseBootstrapProvider
from tests.components.pg_support import (
    ADMIN,
    ADMIN_PASSWORD,
    PgServer,
    catalog_snapshot,
    password_for,
    pg_server,
)

ADMIN_SECRET_ARN = "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:rds!db-0123-AbCdEf"


class FakeSecretsManager:
    """The RDS-managed master secret as Secrets Manager serves it: ``password`` is its
    *current* value (rotation changes it). Records every read."""

    def __init__(self, password: str = ADMIN_PASSWORD, fail: Exception | None = None) -> None:
        self.password, self.fail = password, fail
        self.reads: list[tuple[str, str]] = []
        #: Other secrets (a tenant's login secret), by ARN, and what was written to them.
        self.others: dict[str, dict[str, Any]] = {}
        self.writes: list[tuple[str, dict[str, Any]]] = []

    def client(self, region: str) -> FakeSecretsManager.Client:
        return FakeSecretsManager.Client(self, region)

    class Client:
        def __init__(self, store: FakeSecretsManager, region: str) -> None:
            self.store, self.region = store, region

        def get_secret_value(self, *, SecretId: str) -> dict[str, Any]:  # noqa: N803 - boto3's spelling
            self.store.reads.append((self.region, SecretId))
            if self.store.fail is not None:
                raise self.store.fail
            if SecretId in self.store.others:
                return {"ARN": SecretId, "SecretString": json.dumps(self.store.others[SecretId])}
            return {"ARN": SecretId, "SecretString": json.dumps({"username": ADMIN,
                                                                 "password": self.store.password})}

        def put_secret_value(self, *, SecretId: str, SecretString: str) -> dict[str, Any]:  # noqa: N803
            self.store.writes.append((SecretId, json.loads(SecretString)))
            self.store.others[SecretId] = json.loads(SecretString)
            return {"ARN": SecretId}


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> FakeSecretsManager:
    fake = FakeSecretsManager()
    monkeypatch.setattr(db_provider, "secrets_client_factory", fake.client)
    return fake


@pytest.fixture(scope="module")
def pg() -> PgServer:
    return pg_server()


def props(pg: PgServer, db: str, tenant: str, **overrides: Any) -> dict[str, Any]:
    names = TenantDbNames.of(tenant)
    base = {"tenant_id": tenant, "host": pg.socket_dir, "port": 5432, "dbname": db,
            "admin_user": ADMIN, "admin_secret_arn": ADMIN_SECRET_ARN,
            "login_password": password_for(tenant), "sslmode": "disable", "sslrootcert": None,
            "grant_rds_iam": False, "limits": RoleLimits(connection_limit=20).as_dict(),
            "role": names.login_role, "schema": names.schema, "owner_role": names.owner_role,
            "database": db, "__provider": "[pickled]"}
    return {**base, **overrides}


def login(pg: PgServer, db: str, tenant: str, password: str | None = None) -> str:
    dsn = pg.dsn(db, TenantDbNames.of(tenant).login_role, password or password_for(tenant))
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT current_user").fetchone()
        assert row is not None
        return str(row[0])


# --- check ----------------------------------------------------------------------------------
def test_check_accepts_valid_and_unknown_inputs(pg: PgServer) -> None:
    # Numbers reach a dynamic provider as floats.
    news = props(pg, "app", "checker", admin_secret_arn=pulumi.UNKNOWN, host=pulumi.UNKNOWN,
                 port=5432.0, limits={**RoleLimits().as_dict(), "connection_limit": 50.0})
    result = TenantDatabaseBootstrapProvider().check({}, news)
    assert result.failures == [] and result.inputs is news


@pytest.mark.parametrize(("overrides", "prop"), [
    ({"tenant_id": "x'; DROP SCHEMA t_beta; --"}, "tenant_id"),
    ({"tenant_id": "public"}, "tenant_id"),
    ({"role": TenantDbNames.of("other").login_role}, "role"),
    ({"schema": "public"}, "schema"),
    ({"sslmode": "prefer"}, "sslmode"),
    ({"limits": {"connection_limit": 0}}, "limits"),
    ({"limits": {"connection_limit": 2.5}}, "limits"),
    ({"limits": {"statement_timeout": 0}}, "limits"),
    ({"limits": {"statement_timeout": True}}, "limits"),
    ({"limits": {"no_such_limit": 1}}, "limits"),
    ({"limits": 5}, "limits"),
    ({"login_password": "short"}, "login_password"),
    ({"admin_secret_arn": "rds!db-0123"}, "admin_secret_arn"),
], ids=["injection", "reserved", "role-mismatch", "schema-mismatch", "weak-tls", "limit", "fraction",
        "no-statement-timeout", "boolean", "unknown-limit", "not-a-mapping", "password", "secret-arn"])
def test_check_rejects_bad_inputs(pg: PgServer, overrides: dict[str, Any], prop: str) -> None:
    failures = TenantDatabaseBootstrapProvider().check({}, props(pg, "app", "checker", **overrides)).failures
    assert [f.property for f in failures] == [prop]


# --- diff -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("change", "changes", "replaces"), [
    ({}, False, []),
    ({"__provider": "[other pickle]"}, False, []),
    ({"admin_password": "legacy-state-0123456789"}, False, []),  # read at connect time, never diffed
    ({"admin_secret_arn": ADMIN_SECRET_ARN.replace("AbCdEf", "XyZxYz")}, True, []),
    ({"host": "other.cluster.rds.amazonaws.com"}, True, []),
    ({"login_password": "new-Passw0rd-0123456789"}, False, []),  # create-only: rotation owns it
    ({"limits": RoleLimits(connection_limit=99).as_dict()}, True, []),
    ({"tenant_id": "someone-else"}, True, ["tenant_id"]),
], ids=["same", "provider-pickle-only", "legacy-admin-password", "master-secret-replaced", "endpoint-moved",
        "login-password", "limit", "other-tenant"])
def test_diff(pg: PgServer, change: dict[str, Any], changes: bool, replaces: list[str]) -> None:
    olds = props(pg, "app", "differ")
    result = TenantDatabaseBootstrapProvider().diff("app/t_differ_app", olds, {**olds, **change})
    assert (result.changes, result.replaces, result.delete_before_replace) == (changes, replaces, False)


# --- create / update / delete against PostgreSQL ---------------------------------------------
def test_create_bootstraps_and_returns_secret_free_identity(pg: PgServer,
                                                             secrets: FakeSecretsManager) -> None:
    db = pg.new_database()
    names = TenantDbNames.of("creator")
    result = TenantDatabaseBootstrapProvider().create(props(pg, db, "creator"))
    assert result.id == f"{db}/{names.login_role}"
    assert result.outs is not None
    assert {k: result.outs[k] for k in db_provider.RESULT_KEYS} == {
        "role": names.login_role, "schema": names.schema, "owner_role": names.owner_role, "database": db}
    assert "__provider" not in result.outs  # the engine adds it back
    assert login(pg, db, "creator") == names.login_role
    # The admin's password was read from the master secret (in its region) and stored nowhere.
    assert secrets.reads == [("ap-northeast-1", ADMIN_SECRET_ARN)]
    assert ADMIN_PASSWORD not in json.dumps(result.outs) and "admin_password" not in result.outs


def test_create_sets_the_plan_limits_on_the_role(pg: PgServer, secrets: FakeSecretsManager) -> None:
    db = pg.new_database()
    limits = RoleLimits(connection_limit=3, statement_timeout=1500, work_mem=2048)
    TenantDatabaseBootstrapProvider().create(props(pg, db, "limiter", limits=limits.as_dict()))
    with psycopg.connect(pg.dsn(db, TenantDbNames.of("limiter").login_role, password_for("limiter"))) as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("1500ms",)
        assert conn.execute("SHOW work_mem").fetchone() == ("2MB",)
        assert conn.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user"
                            ).fetchone() == (3,)


def test_update_with_same_inputs_is_a_no_op_and_never_resets_the_password(
        pg: PgServer, secrets: FakeSecretsManager) -> None:
    db = pg.new_database()
    provider = TenantDatabaseBootstrapProvider()
    olds = props(pg, db, "updater")
    provider.create(olds)
    before = catalog_snapshot(pg, db)
    provider.update(f"{db}/{olds['role']}", olds, olds)
    assert catalog_snapshot(pg, db) == before
    provider.update(f"{db}/{olds['role']}", olds, {**olds, "login_password": "another-Passw0rd-0123456789"})
    assert login(pg, db, "updater") == olds["role"]
    with pytest.raises(psycopg.OperationalError):
        login(pg, db, "updater", "another-Passw0rd-0123456789")


def test_single_user_rotation_works_and_survives_the_next_update(
        pg: PgServer, secrets: FakeSecretsManager) -> None:
    """What AWS's single-user rotation function does: sign in as the login, change its own
    password, check the new one. A later ``pulumi up`` (update) must leave it in place."""
    db = pg.new_database()
    provider = TenantDatabaseBootstrapProvider()
    olds = props(pg, db, "rotator", limits=RoleLimits(connection_limit=5).as_dict())
    role = olds["role"]
    provider.create(olds)
    rotated = "Rotated-by-secrets-manager-0123456789"
    with psycopg.connect(pg.dsn(db, role, password_for("rotator")), autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER USER {} WITH PASSWORD {}").format(sql.Identifier(role),
                                                                     sql.Literal(rotated)))
    assert login(pg, db, "rotator", rotated) == role
    provider.update(f"{db}/{role}", olds, {**olds, "limits": RoleLimits(connection_limit=7).as_dict()})
    assert login(pg, db, "rotator", rotated) == role
    with pytest.raises(psycopg.OperationalError):
        login(pg, db, "rotator")
    with pg.superuser(db) as conn:
        assert conn.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = %s",
                            (role,)).fetchone() == (7,)


def test_delete_offboards_and_keeps_data(pg: PgServer, secrets: FakeSecretsManager) -> None:
    db = pg.new_database()
    provider = TenantDatabaseBootstrapProvider()
    state = provider.create(props(pg, db, "deleter")).outs
    assert state is not None
    schema = TenantDbNames.of("deleter").schema
    with psycopg.connect(pg.dsn(db, state["role"], password_for("deleter")), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE {}.docs AS SELECT 'kept' AS body").format(sql.Identifier(schema)))
    provider.delete(f"{db}/{state['role']}", state)
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        login(pg, db, "deleter")
    with pg.superuser(db) as conn:
        assert conn.execute(sql.SQL("SELECT body FROM {}.docs").format(sql.Identifier(schema))
                            ).fetchall() == [("kept",)]


ERASED = "erased-tenant"


def test_delete_after_destroy_data_was_recorded_drops_the_schema(pg: PgServer,
                                                                  secrets: FakeSecretsManager) -> None:
    """``offboard --destroy-data`` phase 1 sets ``drop_data_on_delete``; phase 2's delete drops.

    Roles are server-wide: the tenant id is used by no other test, whose objects in another
    database would keep its login role from being dropped.
    """
    db = pg.new_database()
    provider = TenantDatabaseBootstrapProvider()
    state = provider.create(props(pg, db, ERASED)).outs
    assert state is not None
    schema = TenantDbNames.of(ERASED).schema
    with psycopg.connect(pg.dsn(db, state["role"], password_for(ERASED)), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE {}.docs AS SELECT 'gone' AS body").format(sql.Identifier(schema)))
    released = {**state, "active": False, "drop_data_on_delete": True}
    provider.update(f"{db}/{state['role']}", state, released)  # phase 1: data still there
    with pg.superuser(db) as conn:
        assert conn.execute(sql.SQL("SELECT body FROM {}.docs").format(sql.Identifier(schema))
                            ).fetchall() == [("gone",)]
    provider.delete(f"{db}/{state['role']}", released)  # phase 2
    with pg.superuser(db) as conn:
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,)
                            ).fetchone() == (0,)


@pytest.fixture
def rotated_admin(pg: PgServer) -> Iterator[str]:
    """RDS rotated the master password after the last ``pulumi up``: the admin's password
    is now another one (restored afterwards for the other tests)."""
    rotated = "Rotated-master-Passw0rd-by-RDS-0123"
    with pg.superuser() as conn:
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(ADMIN), sql.Literal(rotated)))
    yield rotated
    with pg.superuser() as conn:
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(ADMIN),
                                                                 sql.Literal(ADMIN_PASSWORD)))


def test_delete_weeks_later_signs_in_with_the_rotated_master_password(
        pg: PgServer, secrets: FakeSecretsManager, request: pytest.FixtureRequest) -> None:
    """Issue 12.7: the state holds no admin password, so the delete reads the secret's
    current value; with the value of the last update it could not sign in."""
    db = pg.new_database()
    provider = TenantDatabaseBootstrapProvider()
    state = provider.create(props(pg, db, "latecomer")).outs
    assert state is not None and "admin_password" not in state
    rotated = request.getfixturevalue("rotated_admin")
    with pytest.raises(DatabaseUnreachable):  # the secret still says the old value: refused
        provider.delete(f"{db}/{state['role']}", state)
    secrets.password = rotated  # Secrets Manager now holds the rotated value
    secrets.reads.clear()
    provider.delete(f"{db}/{state['role']}", state)
    assert secrets.reads == [("ap-northeast-1", ADMIN_SECRET_ARN)]
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        login(pg, db, "latecomer")


def test_update_reads_the_current_master_password_too(pg: PgServer, secrets: FakeSecretsManager,
                                                      request: pytest.FixtureRequest) -> None:
    db = pg.new_database()
    provider = TenantDatabaseBootstrapProvider()
    olds = props(pg, db, "updated-late")
    provider.create(olds)
    secrets.password = request.getfixturevalue("rotated_admin")
    news = {**olds, "limits": RoleLimits(connection_limit=4).as_dict()}
    outs = provider.update(f"{db}/{olds['role']}", olds, news).outs
    assert outs is not None and "admin_password" not in outs
    with pg.superuser(db) as conn:
        assert conn.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = %s",
                            (olds["role"],)).fetchone() == (4,)


def test_a_state_from_before_still_deletes_with_its_stored_password(pg: PgServer,
                                                                    secrets: FakeSecretsManager) -> None:
    """A state written by the old provider has ``admin_password`` and no secret ARN."""
    db = pg.new_database()
    provider = TenantDatabaseBootstrapProvider()
    state = provider.create(props(pg, db, "oldtimer")).outs
    assert state is not None
    legacy = {**{k: v for k, v in state.items() if k not in ("admin_secret_arn", "limits")},
              "admin_password": ADMIN_PASSWORD, "connection_limit": 20}
    secrets.fail = AssertionError("a legacy state has no secret ARN to read")
    provider.delete(f"{db}/{state['role']}", legacy)
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        login(pg, db, "oldtimer")


LOGIN_SECRET_ARN = "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:tp/prod/old-tenant/db-AbCdEf"


def test_update_renames_a_readable_login_and_points_its_secret_at_the_new_name(
        pg: PgServer, secrets: FakeSecretsManager, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tenant onboarded under ``t_<id>`` names: the next ``pulumi up`` renames its schema
    and roles in place, and rewrites the ``username`` of its login secret (password kept),
    which the proxy and the rotation function sign in with."""
    db = pg.new_database()
    legacy = TenantDbNames("old-tenant", "t_old_tenant", "t_old_tenant_app", "t_old_tenant_owner")
    provider = TenantDatabaseBootstrapProvider()
    olds = props(pg, db, "old-tenant", login_secret_arn=LOGIN_SECRET_ARN)
    with monkeypatch.context() as patched:
        patched.setattr(db_bootstrap.TenantDbNames, "of", classmethod(lambda cls, t: legacy))
        provider.create(olds)
    secrets.others[LOGIN_SECRET_ARN] = {"engine": "postgres", "host": "h", "port": 5432, "dbname": db,
                                        "username": legacy.login_role, "password": password_for("old-tenant")}
    provider.update(f"{db}/{legacy.login_role}", olds, olds)
    new = TenantDbNames.of("old-tenant")
    (written,) = secrets.writes
    assert written == (LOGIN_SECRET_ARN, {**secrets.others[LOGIN_SECRET_ARN], "username": new.login_role})
    assert written[1]["password"] == password_for("old-tenant")
    assert login(pg, db, "old-tenant") == new.login_role  # the secret's password still signs in
    provider.update(f"{db}/{new.login_role}", olds, olds)
    assert len(secrets.writes) == 1  # nothing renamed again, nothing written again


@pytest.mark.parametrize("operation", ["create", "delete"])
def test_unreadable_master_secret_fails_clearly(pg: PgServer, secrets: FakeSecretsManager,
                                                operation: str) -> None:
    secrets.fail = PermissionError("AccessDeniedException: not authorized to perform GetSecretValue")
    provider = TenantDatabaseBootstrapProvider()
    inputs = props(pg, "app", "lockedout")
    call = provider.create if operation == "create" else lambda p: provider.delete("app/x", p)
    with pytest.raises(AdminSecretUnreadable) as caught:
        call(inputs)
    message = str(caught.value)
    assert ADMIN_SECRET_ARN in message and "'lockedout'" in message and "PermissionError" in message
    assert "secretsmanager:GetSecretValue" in message and caught.value.__cause__ is None


def test_admin_credentials_come_from_the_secret() -> None:
    fake = FakeSecretsManager(password="current-Passw0rd-0123456789")
    original = db_provider.secrets_client_factory
    db_provider.secrets_client_factory = fake.client
    try:
        creds = db_provider.admin_credentials({"admin_secret_arn": ADMIN_SECRET_ARN.replace(
            "ap-northeast-1", "us-west-2"), "admin_user": "ignored", "tenant_id": "x"})
    finally:
        db_provider.secrets_client_factory = original
    assert creds == (ADMIN, "current-Passw0rd-0123456789")
    assert fake.reads[0][0] == "us-west-2"  # the client is the secret's region's


@pytest.mark.parametrize("operation", ["create", "delete"])
def test_unreachable_endpoint_fails_clearly(pg: PgServer, secrets: FakeSecretsManager,
                                            operation: str) -> None:
    provider = TenantDatabaseBootstrapProvider()
    inputs = props(pg, "app", "nowhere", host="/nonexistent-socket-dir")
    call = provider.create if operation == "create" else lambda p: provider.delete("app/x", p)
    with pytest.raises(DatabaseUnreachable) as caught:
        call(inputs)
    message = str(caught.value)
    assert message.startswith("cannot connect to /nonexistent-socket-dir:")
    assert "tenant 'nowhere'" in message and "deploy runner" in message and "deploy_runners" in message
    assert isinstance(caught.value.__cause__, psycopg.OperationalError)
    assert ADMIN_PASSWORD not in message


# --- what Pulumi stores -----------------------------------------------------------------------
def test_provider_holds_no_state_and_pickles_by_reference() -> None:
    provider = TenantDatabaseBootstrapProvider()
    assert vars(provider) == {}
    blob = base64.b64decode(serialize_provider(provider))  # exactly what Pulumi stores
    assert b"components.db_provider" in blob and b"TenantDatabaseBootstrapProvider" in blob
    assert b"psycopg" not in blob  # code is imported where pulumi runs, not embedded
    assert type(dill.loads(blob)) is TenantDatabaseBootstrapProvider  # noqa: S301 - our own blob


def test_admin_dsn_defaults_to_verified_tls() -> None:
    dsn = db_provider.admin_dsn({"host": "db.example", "port": 5432, "dbname": "app",
                                 "sslrootcert": "/etc/ssl/rds.pem"}, "tpadmin", "pw")
    assert "sslmode=verify-full" in dsn and "sslrootcert=/etc/ssl/rds.pem" in dsn
