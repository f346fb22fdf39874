"""A real PostgreSQL 16 (pgserver, with pgvector) for the database tests, set up like RDS.

One server per test session (about a second to start), one fresh database per test
module; :func:`second_pg_server` starts an independent second one where data must move
between servers. The server is configured the way an RDS instance behaves for our code:

- password (SCRAM) authentication for every role but the bootstrap superuser, so a
  tenant really cannot sign in as another without its password;
- an admin that is *not* a superuser (``platform_admin``: CREATEROLE, owner of the
  database, member of ``pg_signal_backend`` and ``pg_read_all_stats``), like RDS's master
  user in ``rds_superuser``; bootstraps in the tests run as this admin;
- pgvector pre-installed in ``extensions`` by the superuser, as RDS lets its master user
  create allow-listed extensions (pgvector is not a trusted extension on plain
  PostgreSQL). One test bootstraps as the superuser to cover ``CREATE EXTENSION``.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from components.db_bootstrap import TenantDbNames

with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR in containers
    warnings.simplefilter("ignore")
    import pgserver

ADMIN = "platform_admin"
ADMIN_PASSWORD = "admin-Passw0rd-for-tests-only"
PASSWORDS = {"alpha": "alpha-Passw0rd-0123456789", "beta": "beta-Passw0rd-9876543210"}
_DATABASES = itertools.count()


class _DbNames(dict[str, str]):
    """``{acme}``, ``{acme_app}``, ``{acme_owner}``: a tenant's schema, login and owner role
    (``kobe_design`` stands for the id ``kobe-design``); see :func:`q`."""

    def __missing__(self, key: str) -> str:
        for suffix, attribute in (("_app", "login_role"), ("_owner", "owner_role"), ("", "schema")):
            if key.endswith(suffix):
                names = TenantDbNames.of(key.removesuffix(suffix).replace("_", "-") if suffix
                                         else key.replace("_", "-"))
                return str(getattr(names, attribute))
        raise KeyError(key)


def q(text: str, **values: Any) -> str:
    """``text`` with tenants' PostgreSQL names filled in (they are opaque hashes of the id:
    tenants.naming.db_token), plus ``values`` (``{db}``, ...)."""
    names = _DbNames(values)
    return text.format_map(names)


def password_for(tenant: str) -> str:
    """The test password of a tenant's login role (roles are server-wide: one per tenant id)."""
    return PASSWORDS.get(tenant) or f"{tenant}-Passw0rd-0123456789"


@dataclass(frozen=True)
class PgServer:
    """A running server reached over its Unix socket."""

    socket_dir: str

    def dsn(self, dbname: str = "postgres", user: str = "postgres", password: str | None = None) -> str:
        params: dict[str, Any] = {"host": self.socket_dir, "dbname": dbname, "user": user,
                                  "connect_timeout": 5}
        if password is not None:
            params["password"] = password
        return make_conninfo(**params)

    def superuser(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(self.dsn(dbname), autocommit=True)

    def admin_dsn(self, dbname: str) -> str:
        return self.dsn(dbname, ADMIN, ADMIN_PASSWORD)

    def new_database(self, *, preinstall_vector: bool = True) -> str:
        """A fresh database owned by the non-superuser admin, like an RDS ``db_name``."""
        name = f"app_{next(_DATABASES)}"
        with self.superuser() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(ADMIN)))
        if preinstall_vector:
            with self.superuser(name) as conn:
                conn.execute(sql.SQL("CREATE SCHEMA extensions AUTHORIZATION {}").format(
                    sql.Identifier(ADMIN)))
                conn.execute("CREATE EXTENSION vector WITH SCHEMA extensions")
        return name


@functools.cache
def pg_server() -> PgServer:
    """Start (once per session) the test server."""
    return _start_server()


@functools.cache
def second_pg_server() -> PgServer:
    """A second, independent server (its own data directory, roles and socket), set up like
    :func:`pg_server`: for what moves data between two database servers (tier migration)."""
    return _start_server()


def _start_server() -> PgServer:
    root = Path(tempfile.mkdtemp(prefix="tp-pg-"))
    # Registered first, so it runs last at exit: after pgserver has stopped the server.
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # cleanup_mode="delete": stopped and removed when the test process exits.
        server = pgserver.get_server(root / "data", cleanup_mode="delete")
    socket_dir = server.get_postmaster_info().socket_dir
    pg = PgServer(str(socket_dir) if socket_dir else str(root / "data"))
    hba = root / "data" / "pg_hba.conf"
    hba.write_text("local all postgres trust\nlocal all all scram-sha-256\n")
    with pg.superuser() as conn:
        conn.execute("SET password_encryption = 'scram-sha-256'")
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD {}").format(
            sql.Identifier(ADMIN), sql.Literal(ADMIN_PASSWORD)))
        # rds_superuser sees every session in pg_stat_activity and may cancel or end any
        # (AWS: "Understanding the rds_superuser role"): the watchdog relies on both.
        conn.execute(sql.SQL("GRANT pg_signal_backend, pg_read_all_stats TO {}").format(
            sql.Identifier(ADMIN)))
        conn.execute("SELECT pg_reload_conf()")
    return pg


@contextmanager
def connected(dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection that is closed afterwards."""
    conn = psycopg.connect(dsn, autocommit=True)
    try:
        yield conn
    finally:
        conn.close()


def catalog_snapshot(pg: PgServer, db: str) -> dict[str, list[Any]]:
    """Everything the bootstrap can change, read as the superuser (password hashes included)."""
    # Roles, memberships and role settings are cluster-wide: keep those of this database's
    # tenants (the test server holds many databases).
    mine = """SELECT login_role FROM platform.tenants UNION SELECT owner_role FROM platform.tenants"""
    queries = {
        "roles": f"""SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
                            rolreplication, rolbypassrls, rolconnlimit, rolpassword
                     FROM pg_authid WHERE rolname IN ({mine}) ORDER BY 1""",
        "members": f"""SELECT roleid::regrole::text, member::regrole::text, admin_option, inherit_option,
                              set_option FROM pg_auth_members
                       WHERE roleid::regrole::text IN ({mine}) OR member::regrole::text IN ({mine})
                          OR roleid::regrole::text = 'rds_iam' ORDER BY 1, 2""",
        "settings": f"""SELECT setrole::regrole::text, setconfig FROM pg_db_role_setting
                        WHERE setrole::regrole::text IN ({mine}) ORDER BY 1""",
        "schemas": "SELECT nspname, nspowner::regrole::text, nspacl::text FROM pg_namespace ORDER BY 1",
        "database": "SELECT datname, datacl::text FROM pg_database ORDER BY 1",
        "tables": """SELECT oid::regclass::text, relacl::text, relrowsecurity, relforcerowsecurity
                     FROM pg_class WHERE relnamespace::regnamespace::text = 'platform' ORDER BY 1""",
        "columns": """SELECT attrelid::regclass::text, attname, attacl::text FROM pg_attribute
                      WHERE attacl IS NOT NULL ORDER BY 1, 2""",
        "policies": "SELECT polname, pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid) "
                    "FROM pg_policy ORDER BY 1",
        "default_acl": "SELECT defaclrole::regrole::text, defaclobjtype, defaclacl::text FROM pg_default_acl "
                       "ORDER BY 1, 2",
        "extensions": "SELECT extname, extnamespace::regnamespace::text FROM pg_extension ORDER BY 1",
        "registry": "SELECT tenant_id, login_role, owner_role, schema_name, onboarded_at, offboarded_at "
                    "FROM platform.tenants ORDER BY 1",
    }
    with pg.superuser(db) as conn:
        return {name: conn.execute(q).fetchall() for name, q in queries.items()}
