"""`tenantctl migrate` with the real schema copier between two real PostgreSQL 16 servers.

The walk of test_migrate.py (Pulumi through FakePulumi, files through FakeS3), but
``copy-data`` and ``verify`` run tenantctl/schema_copy.py against a cell database (source,
alpha and bravo bootstrapped as the platform does) and a dedicated one on another server
(target). The target's tenant schema comes from the target-up step's database bootstrap:
the fake ``up`` of the target stack runs it, as its TenantDatabaseBootstrap resource does.
The tables and checksums the tests compare are read as the superuser, not by schema_copy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from components import db_bootstrap
from components.db_bootstrap import TenantDbNames
from tenantctl import cli, schema_copy
from tenants import naming
from tests.components.pg_support import PgServer, connected, password_for, pg_server, second_pg_server
from tests.tenantctl.fake_pulumi import FakePulumi
from tests.tenantctl.migrate_support import CLUSTER_ACCOUNT, FakeS3, verbs, walk_registry

ALPHA, BRAVO = TenantDbNames.of("alpha"), TenantDbNames.of("bravo")
TARGET_STACK = "tenant-alpha"
#: What alpha's own migrations created on the source (as its login role).
ALPHA_SQL = """
CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE documents (id serial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers (id),
                        title text, embedding vector(3));
CREATE SEQUENCE invoice_no START 1000;
INSERT INTO customers (email) SELECT 'c' || i || '@example.com' FROM generate_series(1, 40) i;
INSERT INTO documents (customer_id, title, embedding)
    SELECT 1 + i % 40, 'doc ' || i, ('[' || i || ',0.5,1]')::vector FROM generate_series(1, 120) i;
SELECT nextval('invoice_no') FROM generate_series(1, 3);
"""
TABLES = {"customers": 40, "documents": 120}
BRAVO_SQL = """
CREATE TABLE secrets (id integer PRIMARY KEY, value text);
INSERT INTO secrets SELECT i, 'bravo secret ' || i FROM generate_series(1, 25) i;
"""


@dataclass
class Servers:
    """The source cell database and the target dedicated one, on two servers."""

    src: PgServer
    src_db: str
    dst: PgServer
    dst_db: str

    @property
    def source(self) -> str:
        return self.src.admin_dsn(self.src_db)

    @property
    def target(self) -> str:
        return self.dst.admin_dsn(self.dst_db)

    def as_alpha_on_target(self, statement: str) -> None:
        """Run a statement as alpha's login role on the target (a tenant changing its data)."""
        with connected(self.dst.dsn(self.dst_db, ALPHA.login_role, password_for("alpha"))) as conn:
            conn.execute(statement)

    def as_alpha_on_source(self, statement: str) -> None:
        """Run a statement as alpha's login role on the source (a write the move must not lose)."""
        with connected(self.src.dsn(self.src_db, ALPHA.login_role, password_for("alpha"))) as conn:
            conn.execute(statement)


def bootstrap(server: PgServer, db: str, tenant: str) -> None:
    db_bootstrap.bootstrap(server.admin_dsn(db), tenant, password=password_for(tenant))


@pytest.fixture
def servers() -> Servers:
    """Alpha (with data) and bravo bootstrapped on the source; the target database empty."""
    src, dst = pg_server(), second_pg_server()
    s = Servers(src, src.new_database(), dst, dst.new_database())
    for tenant, statements in (("alpha", ALPHA_SQL), ("bravo", BRAVO_SQL)):
        bootstrap(src, s.src_db, tenant)
        with connected(src.dsn(s.src_db, TenantDbNames.of(tenant).login_role, password_for(tenant))) as conn:
            conn.execute(statements)
    return s


def contents(server: PgServer, db: str, schema: str) -> dict[str, tuple[int, str]]:
    """Each table's row count and an md5 of its sorted rows, read as the superuser."""
    with connected(server.dsn(db)) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (schema,))]
        out = {}
        for table in tables:
            row = conn.execute(sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM {} x"
            ).format(sql.Identifier(schema, table))).fetchone()
            assert row is not None
            out[table] = (int(row[0]), str(row[1]))
        return out


def has_schema(server: PgServer, db: str, schema: str) -> bool:
    with connected(server.dsn(db)) as conn:
        found = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
        return found == (1,)


def pulumi_that_bootstraps(servers: Servers) -> FakePulumi:
    """A Pulumi whose ``up`` of the target stack bootstraps alpha on the target (its db bootstrap)."""
    def up(args: list[str]) -> None:
        if args[0] == "up" and args[args.index("--stack") + 1] == TARGET_STACK:
            bootstrap(servers.dst, servers.dst_db, "alpha")
    return FakePulumi(up)  # type: ignore[arg-type]  # returns None: every call succeeds


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    return walk_registry(tmp_path / "registry")


def migrate(registry: Path, tmp: Path, servers: Servers, fake: FakePulumi, *extra: str,
            copier: Callable[..., Any] | None = None) -> int:
    """``tenantctl migrate alpha --to cluster --apply`` with the real schema copier and verifier
    (unless ``copier`` wraps it); the same state file every time, so a rerun resumes."""
    argv = ["migrate", "alpha", "--to", "cluster", "--account", CLUSTER_ACCOUNT, "--registry", str(registry),
            "--apply", "--state", str(tmp / "m.json"), "--work-dir", str(tmp / "w"),
            "--source-dsn", servers.source, "--target-dsn", servers.target, "--today", "2026-12-02", *extra]
    args = cli.build_parser().parse_args(argv)
    s3 = FakeS3({naming.TenantNames("alpha", "prod").files_bucket: {"a.txt": b"hello"}})
    args.pulumi_command, args.copy_objects, args.copy_schema = fake, s3.copier, copier
    return int(args.lifecycle(args, registry))


def state(tmp: Path) -> dict[str, Any]:
    return json.loads((tmp / "m.json").read_text())["steps"]


def step_lines(err: str) -> list[str]:
    """The steps a run started (``[4/7] verify: ...`` -> ``verify``)."""
    return [line.split("] ", 1)[1].split(":", 1)[0] for line in err.splitlines() if line.startswith("[")]


def test_copy_data_and_verify_move_the_schema_and_a_tampered_target_fails_verify(
        registry, tmp_path, servers, capsys):
    bravo_before = contents(servers.src, servers.src_db, BRAVO.schema)
    alpha_before = contents(servers.src, servers.src_db, ALPHA.schema)
    copies = []

    def copy_then_tamper(*args: Any, **kwargs: Any) -> schema_copy.CopyReport:
        """The real copy; then a row changes on the target before verify reads it again."""
        copies.append(args)
        report = schema_copy.copy_schema(*args, **kwargs)
        servers.as_alpha_on_target("UPDATE documents SET title = 'tampered' WHERE id = 7")
        return report

    assert migrate(registry, tmp_path, servers, pulumi_that_bootstraps(servers), copier=copy_then_tamper) == 3
    err = capsys.readouterr().err
    steps = state(tmp_path)
    assert [steps[s]["status"] for s in ("copy-data", "verify", "switch")] == ["done", "failed", "pending"]
    error = steps["verify"]["error"]
    assert f"schema {ALPHA.schema}: table documents: checksums differ" in error
    assert "customers" not in error and "\n" not in error and "Traceback" not in err
    assert f"FAILED: {error}" in err
    # The copy's own report, as the state file records it: every table equal when it finished.
    copied = steps["copy-data"]["detail"]["schema"]
    assert copied["ok"] and copied["target_schema"] == ALPHA.schema
    assert {t["table"]: (t["rows_source"], t["rows_target"]) for t in copied["tables"]} == {
        t: (n, n) for t, n in TABLES.items()}
    assert all(t["checksum_source"] == t["checksum_target"] for t in copied["tables"])
    assert {q["sequence"]: (q["next_source"], q["next_target"]) for q in copied["sequences"]} == {
        "customers_id_seq": (41, 41), "documents_id_seq": (121, 121), "invoice_no": (1003, 1003)}

    # Fixed on the target: the rerun resumes at verify (no second copy) and finishes.
    servers.as_alpha_on_target("UPDATE documents SET title = 'doc 7' WHERE id = 7")
    assert migrate(registry, tmp_path, servers, pulumi_that_bootstraps(servers), copier=copy_then_tamper) == 4
    assert step_lines(capsys.readouterr().err) == ["verify", "switch", "delegate"]  # waits for the NS change
    assert migrate(registry, tmp_path, servers, pulumi_that_bootstraps(servers), "--delegated",
                   copier=copy_then_tamper) == 0
    assert step_lines(capsys.readouterr().err) == ["delegate", "retire-source", "finish"]
    assert len(copies) == 1
    steps = state(tmp_path)
    assert all(s["status"] == "done" for s in steps.values())
    verified = steps["verify"]["detail"]["schema"]
    assert verified["ok"] and {t["table"] for t in verified["tables"]} == set(TABLES)

    # Read as the superuser on both servers: alpha's rows equal; bravo untouched and not copied.
    target = contents(servers.dst, servers.dst_db, ALPHA.schema)
    assert target == contents(servers.src, servers.src_db, ALPHA.schema) == alpha_before
    assert {t: n for t, (n, _) in target.items()} == TABLES
    assert contents(servers.src, servers.src_db, BRAVO.schema) == bravo_before
    assert not has_schema(servers.dst, servers.dst_db, BRAVO.schema)


def test_a_target_without_the_bootstrap_fails_copy_data_in_one_line_and_resumes_there(
        registry, tmp_path, servers, capsys):
    assert migrate(registry, tmp_path, servers, FakePulumi()) == 3  # the up ran no bootstrap
    err = capsys.readouterr().err
    steps = state(tmp_path)
    assert steps["target-up"]["status"] == "done" and steps["copy-data"]["status"] == "failed"
    error = steps["copy-data"]["error"]
    assert error.startswith(f"the target is not ready: the target has no tenant schema {ALPHA.schema}")
    assert f"database bootstrap (stack {TARGET_STACK})" in error and "--target-dsn" in error
    assert "\n" not in error and "Traceback" not in err and "TypeError" not in err
    assert not has_schema(servers.dst, servers.dst_db, ALPHA.schema)

    bootstrap(servers.dst, servers.dst_db, "alpha")  # the operator's fix
    assert migrate(registry, tmp_path, servers, FakePulumi()) == 4  # copied, verified, switched: the wait
    assert step_lines(capsys.readouterr().err)[:2] == ["copy-data", "verify"]
    assert contents(servers.dst, servers.dst_db, ALPHA.schema) == contents(
        servers.src, servers.src_db, ALPHA.schema)


def test_redoing_the_copy_over_a_changed_target_needs_overwrite_target(registry, tmp_path, servers, capsys):
    def copy_then_lose_rows(*args: Any, **kwargs: Any) -> schema_copy.CopyReport:
        report = schema_copy.copy_schema(*args, **kwargs)
        if not kwargs.get("overwrite"):
            servers.as_alpha_on_target("DELETE FROM documents WHERE id > 100")
        return report

    fake = pulumi_that_bootstraps(servers)
    assert migrate(registry, tmp_path, servers, fake, copier=copy_then_lose_rows) == 3
    assert "table documents: rows 120 != 100, checksums differ" in state(tmp_path)["verify"]["error"]
    assert migrate(registry, tmp_path, servers, fake, "--redo", "copy-data", copier=copy_then_lose_rows) == 3
    error = state(tmp_path)["copy-data"]["error"]
    assert f"target schema {ALPHA.schema} was copied and has changed since" in error
    assert "--redo copy-data --overwrite-target" in error and "overwrite=True" not in error
    assert contents(servers.dst, servers.dst_db, ALPHA.schema)["documents"][0] == 100  # left as it was

    capsys.readouterr()
    assert migrate(registry, tmp_path, servers, fake, "--redo", "copy-data", "--overwrite-target",
                   copier=copy_then_lose_rows) == 4  # through the switch, then the wait for the delegation
    assert step_lines(capsys.readouterr().err)[:2] == ["copy-data", "verify"]
    assert contents(servers.dst, servers.dst_db, ALPHA.schema) == contents(
        servers.src, servers.src_db, ALPHA.schema)


def test_a_write_to_the_source_after_verify_is_found_at_retire_source_not_lost(
        registry, tmp_path, servers, capsys):
    """The source still serves resolvers until the delegation: a write it takes then is not in
    the target. retire-source reads the source again after its up and fails naming it."""
    fake = pulumi_that_bootstraps(servers)
    assert migrate(registry, tmp_path, servers, fake) == 4  # switched; waiting for the delegation
    servers.as_alpha_on_source("INSERT INTO documents (customer_id, title) VALUES (1, 'late write')")
    capsys.readouterr()
    assert migrate(registry, tmp_path, servers, fake, "--delegated") == 3
    steps = state(tmp_path)
    error = steps["retire-source"]["error"]
    assert steps["delegate"]["status"] == "done" and steps["retire-source"]["status"] == "failed"
    assert "writes reached the source after verify" in error
    assert "table documents: rows 120 -> 121, checksum changed" in error
    assert "sequence documents_id_seq: next value 121 -> 122" in error
    assert "customers" not in error and "--source-writes-carried" in error
    assert ("up", "shared-f1") in verbs(fake.calls)  # retired first: nothing writes to it any more
    assert contents(servers.src, servers.src_db, ALPHA.schema)["documents"][0] == 121  # kept there

    assert migrate(registry, tmp_path, servers, fake) == 3  # a rerun alone finds them again
    # The operator carries the row into the target, and says so:
    servers.as_alpha_on_target("INSERT INTO documents (customer_id, title) VALUES (1, 'late write')")
    assert migrate(registry, tmp_path, servers, fake, "--source-writes-carried") == 0
    steps = state(tmp_path)
    assert steps["retire-source"]["detail"]["sourceWritesAfterVerify"][0].startswith("table documents")
    assert all(s["status"] == "done" for s in steps.values())


def test_source_writes_carried_is_refused_unless_retire_source_found_writes(
        registry, tmp_path, servers, capsys):
    fake = pulumi_that_bootstraps(servers)
    assert migrate(registry, tmp_path, servers, fake, "--source-writes-carried") == 2
    assert "has no such failure" in capsys.readouterr().err and fake.calls == []
    assert migrate(registry, tmp_path, servers, fake) == 4
    assert migrate(registry, tmp_path, servers, fake, "--delegated") == 0
    assert state(tmp_path)["retire-source"]["detail"]["sourceWritesAfterVerify"] == []
