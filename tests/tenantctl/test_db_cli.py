"""``tenantctl db bootstrap|offboard`` against a real PostgreSQL 16."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from components import db_bootstrap
from tenantctl.db import add_db_parser
from tenants.loader import load_registry
from tests.components.pg_support import PgServer, password_for, pg_server, q


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_db(*argv: str) -> Result:
    parser = argparse.ArgumentParser(prog="tenantctl")
    add_db_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["db", *argv])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = args.func(args)
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def pg() -> PgServer:
    return pg_server()


@pytest.fixture(scope="module")
def db(pg: PgServer) -> str:
    return pg.new_database()


def one_error_line(result: Result) -> str:
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    return lines[0]


def test_bootstrap_prints_role_and_schema_and_is_repeatable(pg: PgServer, db: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLI_TENANT_PASSWORD", password_for("cli-one"))
    argv = ("bootstrap", "--dsn", pg.admin_dsn(db), "--tenant", "cli-one",
            "--login-password-env", "CLI_TENANT_PASSWORD")
    first, second = run_db(*argv), run_db(*argv)
    for result in (first, second):
        assert (result.code, result.err) == (0, "")
        assert result.out.count("\n") == 1
        assert json.loads(result.out) == {"role": q("{cli_one_app}"), "schema": q("{cli_one}")}
    with psycopg.connect(pg.dsn(db, q("{cli_one_app}"), password_for("cli-one"))) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (q("{cli_one_app}"),)


def test_bootstrap_accepts_a_tenant_of_the_registry(pg: PgServer, db: str) -> None:
    result = run_db("bootstrap", "--dsn", pg.admin_dsn(db), "--tenant", "anvil",
                    "--registry", "tests/fixtures/fleet")
    assert result.code == 0 and json.loads(result.out)["schema"] == q("{anvil}")


def test_bootstrap_with_a_registry_sets_the_plans_limits(pg: PgServer, db: str) -> None:
    fleet = "tests/fixtures/fleet"
    limits = load_registry(Path(fleet)).tenant("alpha").plan.database.limits
    result = run_db("bootstrap", "--dsn", pg.admin_dsn(db), "--tenant", "alpha", "--registry", fleet)
    assert result.code == 0, result.err
    with pg.superuser(db) as conn:
        assert conn.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = %s",
                            (q("{alpha_app}"),)).fetchone() == (limits.connection_limit,)
        (config,) = conn.execute("SELECT setconfig FROM pg_db_role_setting WHERE setrole = %s::regrole",
                                 (q("{alpha_app}"),)).fetchone() or (None,)
    assert f"statement_timeout={limits.statement_timeout_seconds * 1000}" in config


@pytest.mark.parametrize(("argv", "message"), [
    (("--tenant", "x'; DROP SCHEMA t_beta CASCADE; --"), "tenant id"),
    (("--tenant", "postgres"), "reserved"),
    (("--tenant", "not-registered", "--registry", "tenants/registry"), "not in the registry"),
    (("--tenant", "cli-two", "--registry", "/nonexistent/registry"),
     "registry /nonexistent/registry is invalid"),
    (("--tenant", "cli-two", "--login-password-env", "UNSET_VARIABLE_FOR_TEST"), "is not set"),
    (("--tenant", "cli-two", "--login-password-env", "WEAK_PASSWORD_FOR_TEST"), "printable ASCII"),
], ids=["injection", "reserved", "unregistered", "bad-registry", "unset-password-env", "weak-password"])
def test_bootstrap_bad_input_exits_2_before_any_connection(argv: tuple[str, ...], message: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEAK_PASSWORD_FOR_TEST", "short")
    monkeypatch.delenv("UNSET_VARIABLE_FOR_TEST", raising=False)

    def no_connect(*_a: Any, **_k: Any) -> None:
        raise AssertionError("connected despite bad input")

    monkeypatch.setattr(psycopg, "connect", no_connect)
    result = run_db("bootstrap", "--dsn", "host=/nonexistent dbname=app", *argv)
    assert result.code == 2
    assert message in one_error_line(result)


@pytest.mark.parametrize(("dsn", "message"), [
    ("host=/nonexistent-socket-dir dbname=app user=tpadmin password=hunter2-secret",
     "cannot connect to tpadmin@"),
    ("postgresql://tpadmin:hunter2-secret@127.0.0.1:1/app?connect_timeout=2",
     "cannot connect to tpadmin@127.0.0.1:1/app"),
    ("this is not = a dsn 'hunter2-secret", "not a valid PostgreSQL connection string"),
], ids=["no-server-socket", "closed-port", "malformed"])
@pytest.mark.parametrize("command", ["bootstrap", "offboard"])
def test_unreachable_or_malformed_dsn_exits_2_with_one_line(command: str, dsn: str, message: str) -> None:
    result = run_db(command, "--dsn", dsn, "--tenant", "cli-two")
    assert result.code == 2
    line = one_error_line(result)
    assert message in line and "hunter2" not in line


def test_database_refusal_exits_3_with_one_line(pg: PgServer, db: str) -> None:
    run_db("bootstrap", "--dsn", pg.admin_dsn(db), "--tenant", "cli-tainted")
    with pg.superuser(db) as conn:
        conn.execute(q("ALTER ROLE {cli_tainted_app} BYPASSRLS"))
    try:
        result = run_db("bootstrap", "--dsn", pg.admin_dsn(db), "--tenant", "cli-tainted")
    finally:
        with pg.superuser(db) as conn:
            conn.execute(q("ALTER ROLE {cli_tainted_app} NOBYPASSRLS"))
    assert result.code == 3
    assert q("{cli_tainted_app} has BYPASSRLS") in one_error_line(result)


def test_offboard_keeps_data_unless_drop_data(pg: PgServer, db: str) -> None:
    db_bootstrap.bootstrap(pg.admin_dsn(db), "cli-leaver", password=password_for("cli-leaver"))
    leaver = pg.dsn(db, q("{cli_leaver_app}"), password_for("cli-leaver"))
    with psycopg.connect(leaver, autocommit=True) as conn:
        conn.execute(q("CREATE TABLE {cli_leaver}.docs AS SELECT 1 AS id"))
    kept = run_db("offboard", "--dsn", pg.admin_dsn(db), "--tenant", "cli-leaver")
    assert (kept.code, kept.err) == (0, "")
    assert json.loads(kept.out) == {"role": q("{cli_leaver_app}"), "schema": q("{cli_leaver}"),
                                    "login": "disabled",
                                    "sessions_terminated": 0, "data": "kept"}
    with pg.superuser(db) as conn:
        assert conn.execute(q("SELECT count(*) FROM {cli_leaver}.docs")).fetchone() == (1,)

    dropped = run_db("offboard", "--dsn", pg.admin_dsn(db), "--tenant", "cli-leaver", "--drop-data")
    assert dropped.code == 0 and json.loads(dropped.out)["data"] == "dropped"
    assert q("dropping schema {cli_leaver}") in one_error_line(Result(0, "", dropped.err))
    with pg.superuser(db) as conn:
        assert conn.execute(q("SELECT to_regnamespace('{cli_leaver}')")).fetchone() == (None,)


def test_offboard_invalid_tenant_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(psycopg, "connect", lambda *a, **k: pytest.fail("connected"))
    result = run_db("offboard", "--dsn", "host=/nonexistent", "--tenant", "Robert'); DROP TABLE students;--",
                    "--drop-data")
    assert result.code == 2 and "tenant id" in one_error_line(result)
