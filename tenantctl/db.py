"""``tenantctl db``: a tenant's in-database setup, for operators and tests.

- ``tenantctl db bootstrap --dsn DSN --tenant ID [--registry DIR] [--login-password-env VAR]``
  applies the tenant's setup (idempotent) and prints ``{"role": ..., "schema": ...}``.
  With ``--registry`` the role gets the limits of the tenant's plan (``database.limits``
  in tenants/plans.yaml), as ``pulumi up`` sets them; without, the table's defaults.
- ``tenantctl db offboard --dsn DSN --tenant ID [--drop-data]`` disables the tenant's login
  and keeps its schema and data; only ``--drop-data`` destroys them.

The DSN is any libpq connection string; prefer leaving the password out of it (a command
line is visible to other users of the machine) and setting ``PGPASSWORD`` or a
``.pgpass`` file, which libpq reads. The login password option exists for local testing:
in production the platform sets it from the tenant's secret and workloads sign in with
IAM through RDS Proxy.

Exit codes: 0 done; 2 bad input (invalid tenant id, tenant not in the registry, unusable
password, a DSN that is malformed or cannot be reached); 3 the database refused a step.
Errors are one line on stderr, never a traceback, and never echo a password.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from components import db_bootstrap
from tenants.loader import load_registry
from tenants.naming import NameError_
from tenants.problems import RegistryInvalid

EXIT_OK = 0
EXIT_INVALID = 2
EXIT_FAILED = 3


class _BadInput(Exception):
    """Input that is wrong before the database is involved (exit 2)."""


def _err(message: str) -> None:
    print(f"tenantctl db: {message}", file=sys.stderr)


def _where(dsn: str) -> str:
    """Where a DSN points, for messages: host, port, database and user; never the password."""
    params = conninfo_to_dict(dsn)
    host = params.get("host") or os.environ.get("PGHOST") or "localhost"
    port = params.get("port") or os.environ.get("PGPORT") or "5432"
    return f"{params.get('user') or '(default user)'}@{host}:{port}/{params.get('dbname') or '(default db)'}"


def _connect(dsn: str) -> psycopg.Connection[Any]:
    try:
        where = _where(dsn)
    except psycopg.Error as exc:
        raise _BadInput("--dsn is not a valid PostgreSQL connection string") from exc
    try:
        return db_bootstrap.connect(dsn)
    except psycopg.Error as exc:
        raise _BadInput(f"cannot connect to {where}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _plan_limits(directory: str, tenant_id: str) -> db_bootstrap.RoleLimits:
    """The limits of the tenant's plan; refuses a tenant that is not in the registry."""
    try:
        registry = load_registry(Path(directory))
    except RegistryInvalid as exc:
        raise _BadInput(f"registry {directory} is invalid ({len(exc.problems)} problem(s)); "
                        "run `tenantctl validate`") from exc
    try:
        tenant = registry.tenant(tenant_id)
    except KeyError as exc:
        raise _BadInput(f"tenant {tenant_id!r} is not in the registry {directory}") from exc
    return db_bootstrap.RoleLimits.from_plan(tenant.plan.database.limits)


def _login_password(var: str | None) -> str | None:
    if var is None:
        return None
    value = os.environ.get(var)
    if value is None:
        raise _BadInput(f"--login-password-env: environment variable {var} is not set")
    try:
        return db_bootstrap.validate_password(value)
    except ValueError as exc:
        raise _BadInput(f"--login-password-env {var}: {exc}") from exc


def _run(action: Any) -> int:
    try:
        summary = action()
    except (_BadInput, NameError_, ValueError) as exc:
        _err(str(exc))
        return EXIT_INVALID
    except db_bootstrap.BootstrapError as exc:
        _err(str(exc))
        return EXIT_FAILED
    print(json.dumps(summary, sort_keys=True))
    return EXIT_OK


def cmd_bootstrap(args: argparse.Namespace) -> int:
    """Apply one tenant's in-database setup."""
    def action() -> dict[str, Any]:
        db_bootstrap.TenantDbNames.of(args.tenant)  # before the registry, the network, any SQL
        limits = _plan_limits(args.registry, args.tenant) if args.registry is not None else None
        password = _login_password(args.login_password_env)
        with _connect(args.dsn) as conn:
            return db_bootstrap.bootstrap_tenant(conn, args.tenant, password=password,
                                                 limits=limits).summary()
    return _run(action)


def cmd_offboard(args: argparse.Namespace) -> int:
    """Disable one tenant's login (and with --drop-data, destroy its schema and roles)."""
    def action() -> dict[str, Any]:
        names = db_bootstrap.TenantDbNames.of(args.tenant)
        with _connect(args.dsn) as conn:
            if args.drop_data:
                _err(f"--drop-data: dropping schema {names.schema} with all its data and roles "
                     f"{names.login_role}, {names.owner_role} of tenant {names.tenant_id}")
            return db_bootstrap.offboard_tenant(conn, args.tenant, drop_data=args.drop_data).summary()
    return _run(action)


def add_db_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``db`` (with ``bootstrap`` and ``offboard``) on tenantctl's subparsers."""
    db = subparsers.add_parser("db", help="a tenant's in-database setup (schema, roles, grants)")
    actions = db.add_subparsers(dest="db_command", required=True)

    p = actions.add_parser("bootstrap", help="apply a tenant's in-database setup (idempotent)")
    p.add_argument("--dsn", required=True, help="libpq connection string of the admin connection")
    p.add_argument("--tenant", required=True, help="tenant id")
    p.add_argument("--registry", default=None,
                   help="refuse tenants that are not in this registry directory, and set the "
                        "limits of the tenant's plan")
    p.add_argument("--login-password-env", default=None, metavar="VAR",
                   help="set the login role's password from this environment variable "
                        "(local databases only: a deployed tenant's password belongs to its "
                        "rotated secret; reset it with aws secretsmanager rotate-secret)")
    p.set_defaults(func=cmd_bootstrap)

    p = actions.add_parser("offboard", help="disable a tenant's login; keep its data")
    p.add_argument("--dsn", required=True, help="libpq connection string of the admin connection")
    p.add_argument("--tenant", required=True, help="tenant id")
    p.add_argument("--drop-data", action="store_true",
                   help="also DROP the tenant's schema, data and roles (irreversible)")
    p.set_defaults(func=cmd_offboard)
    return db
