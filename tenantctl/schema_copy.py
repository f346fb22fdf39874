"""Copy one tenant's schema between two PostgreSQL servers, verified, resumable (tier migration).

A tenant moving between its cell's shared database and its own database (``namespace`` ->
``cluster`` and back) takes its schema with it: definitions, rows and sequence values.
:func:`copy_schema` does that from the source admin connection to the target's, and
:func:`verify_schema` compares both sides without writing (the check before a cutover).

Why catalog-driven DDL over psycopg, not pg_dump/pg_restore:

- Privileges. The admin is no superuser (RDS's master user); the bootstrap makes it a
  member of the tenant's roles with SET but, on the login role, without INHERIT, so it
  cannot read the tables the tenant created. pg_dump runs as one role (``--role``) for the
  whole dump; here every object is read *and* created as its own owner (``SET LOCAL
  ROLE``), so ownership comes out right without ``ALTER ... OWNER`` and every deparsed
  statement executes on the target with the tenant's own privileges only, never the
  admin's: whatever the tenant put in its definitions cannot act as the admin.
- Steps and resumption. Each table's rows move in their own target transaction, checked
  (count and checksum) before it commits; a rerun skips tables that already match. A
  pg_restore of one archive is all or nothing, or, without ``--single-transaction``,
  leaves half-loaded tables nobody checked.
- The target schema exists already (the target's bootstrap creates it with its owner and
  grants) and may be named differently: pg_dump would recreate the schema and qualify
  every name with the source's.
- No client binaries whose major version must match the server on the operator's machine.

The cost is coverage: the module copies what tenant schemas hold (tables with columns,
types including pgvector's, collations, defaults, identity and generated columns, NOT NULL,
check/primary/unique/exclusion/foreign keys, indexes including HNSW, sequences with their
values, views, unlogged tables, grants between the tenant's two roles) and *refuses*,
before writing anything, a schema holding anything else (functions, triggers, types,
policies or row-level security, rules, partitioned, inherited or foreign tables,
materialized views, extended statistics, objects owned by other roles): it never silently
drops part of a tenant. Comments and column storage settings are not copied.

The steps, each checked before the next: read the source (refusing what cannot be
copied) and the target; create every definition in one transaction (with the record of
the copy, below); per table in dependency order (referenced tables first), skip it when
count and checksum already match, else replace its rows in one transaction; build the
indexes and add the foreign keys and NOT VALID checks, in one transaction (after the rows,
as pg_restore does: one index build, and a cycle of foreign keys loads too); set the
sequences; verify everything and record the copy finished.

Ownership: an object belongs on the target to the tenant's role that owns it on the
source (``t<token>_app`` for what the tenant's migrations created, ``t<token>_owner``
for what the platform did), the roles read from each side's ``platform.tenants``; grants
between those two roles are copied, grants to anyone else are not (no other role can
reach the schema anyway). The login role keeps owning its tables, so it can use them and
run its migrations on the target exactly as on the source.

Safety:

- Only the one schema is read or written: every catalog query is keyed on its oid, and the
  source read runs in one REPEATABLE READ READ ONLY transaction (a consistent snapshot).
- The admin's own statements run with ``search_path = pg_catalog, pg_temp``. Whatever needs
  the tenant's schema on the path (deparsing its definitions, creating them) runs as one
  of the tenant's roles: an operator or function the tenant created that would out-match
  a built-in can only ever act with the tenant's privileges (a test proves it).
- The target's progress is recorded in the admin-only ``platform.schema_copies`` (created
  here; tenants cannot read it), in the same transaction that creates the definitions: a
  target schema with objects but no record of an unfinished copy from *this* source holds
  data that is not ours, and the copy stops (:class:`TargetNotEmpty`) unless called with
  ``overwrite=True``. A finished copy whose target has changed since (the tenant may be
  live there) is refused the same way: a rerun never overwrites newer data by accident.
- Rows are checksummed order-independently: the sum of each row's md5 (as two 64-bit
  halves) with the count, under pinned output settings, so both servers render rows alike;
  it streams (no per-table memory) and needs no primary key.
- Sequences are set after the rows (``setval``) and compared by the value ``nextval``
  returns next.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tenants import naming

#: Admin-only table on the target recording copies into it (one row per target schema).
STATE_TABLE = "schema_copies"
APPLICATION_NAME = "tenantctl-schema-copy"
LOCK_TIMEOUT = "15s"
#: Session advisory lock class ("tpsc") taken on the target for the whole copy, with the
#: target schema's name hashed as the second key: two copies into one schema never interleave.
ADVISORY_LOCK_CLASS = 0x74707363
#: Output settings pinned on both sides: a row's text (and so its checksum) must not depend
#: on a session default of either server.
_OUTPUT_SETTINGS = {"DateStyle": "ISO, YMD", "IntervalStyle": "postgres", "TimeZone": "UTC",
                    "extra_float_digits": "1", "bytea_output": "hex", "client_encoding": "UTF8"}
#: Schemas a tenant's column types may come from (pgvector lives in ``extensions``).
_TYPE_SCHEMAS = ("pg_catalog", naming.DB_EXTENSIONS_SCHEMA)
LOGIN, OWNER = "login", "owner"

Progress = Callable[[str], None]


# --- errors ---------------------------------------------------------------------------------
class SchemaCopyError(RuntimeError):
    """A copy could not be done or completed; the message says which step and why."""


class SourceSchemaMissing(SchemaCopyError):
    """The source has no such schema, or it is no bootstrapped tenant's."""


class TargetNotReady(SchemaCopyError):
    """The target schema is not bootstrapped (or the servers' encodings differ)."""


class TargetNotEmpty(SchemaCopyError):
    """The target schema holds objects or data that this copy did not put there."""


class UnsupportedObjects(SchemaCopyError):
    """The schema holds objects this module does not copy (it refuses rather than drop them)."""

    def __init__(self, side: str, objects: list[str]) -> None:
        self.objects = objects
        super().__init__(f"{side} schema holds objects schema copy does not support: "
                         + "; ".join(objects))


class CopyFailed(SchemaCopyError):
    """A step failed (connection lost, the database refused, a verification mismatch).

    Everything committed before it is verified; rerunning the copy resumes from that step.
    """


# --- the report -----------------------------------------------------------------------------
@dataclass(frozen=True)
class TableCheck:
    """One table's rows on both sides (``None``: the table is missing on the target)."""

    table: str
    rows_source: int
    rows_target: int | None
    checksum_source: str
    checksum_target: str | None

    @property
    def ok(self) -> bool:
        """Same count and checksum on both sides."""
        return (self.rows_source, self.checksum_source) == (self.rows_target, self.checksum_target)


@dataclass(frozen=True)
class SequenceCheck:
    """The value ``nextval`` returns next, on both sides (``None``: missing on the target)."""

    sequence: str
    next_source: int
    next_target: int | None

    @property
    def ok(self) -> bool:
        """Same next value on both sides."""
        return self.next_source == self.next_target


@dataclass(frozen=True)
class CopyReport:
    """What a copy (or a verification) found, table by table and sequence by sequence."""

    source_schema: str
    target_schema: str
    tables: tuple[TableCheck, ...]
    sequences: tuple[SequenceCheck, ...]
    #: Definitions that differ between the sides (missing, extra or changed objects).
    problems: tuple[str, ...] = ()
    #: Tables whose rows this run copied, and those it found already equal and skipped.
    copied: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Every table, sequence and definition matches."""
        return (not self.problems and all(t.ok for t in self.tables)
                and all(s.ok for s in self.sequences))

    def summary(self) -> dict[str, Any]:
        """Plain data (for ``--json`` output)."""
        return {"ok": self.ok, "source_schema": self.source_schema, "target_schema": self.target_schema,
                "tables": [t.__dict__ | {"ok": t.ok} for t in self.tables],
                "sequences": [s.__dict__ | {"ok": s.ok} for s in self.sequences],
                "problems": list(self.problems), "copied": list(self.copied),
                "skipped": list(self.skipped)}


# --- what a schema holds --------------------------------------------------------------------
@dataclass(frozen=True)
class _Column:
    name: str
    type: str
    collation: str | None
    default: str | None
    not_null: bool
    identity: str  # '' | 'a' (ALWAYS) | 'd' (BY DEFAULT)
    generated: str  # '' | 's' (STORED)


@dataclass(frozen=True)
class _Sequence:
    name: str
    owner: str  # LOGIN or OWNER
    type: str
    start: int
    increment: int
    minimum: int
    maximum: int
    cache: int
    cycle: bool
    owned_by: tuple[str, str] | None  # (table, column)
    identity: bool


@dataclass(frozen=True)
class _Table:
    oid: int = field(compare=False)
    name: str
    owner: str
    unlogged: bool
    columns: tuple[_Column, ...]
    constraints: tuple[tuple[str, str], ...]  # (name, definition), created with the table
    #: (name, definition, referenced table): foreign keys, and checks the tenant left NOT
    #: VALID (rows may violate them): added after the rows.
    foreign_keys: tuple[tuple[str, str, str | None], ...]
    #: (name, CREATE INDEX statement): built after the rows (one build, not per-row upkeep).
    indexes: tuple[tuple[str, str], ...]
    grants: tuple[tuple[str, str, bool], ...]  # (LOGIN/OWNER, privilege, grantable)

    def shape(self) -> tuple[Any, ...]:
        """All but :attr:`indexes` and :attr:`foreign_keys` (added after the rows: may be missing)."""
        return (self.name, self.owner, self.unlogged, self.columns, self.constraints, self.grants)

    @property
    def copied_columns(self) -> list[str]:
        return [c.name for c in self.columns if not c.generated]


@dataclass(frozen=True)
class _View:
    name: str
    owner: str
    definition: str
    options: tuple[str, ...]
    grants: tuple[tuple[str, str, bool], ...]


@dataclass(frozen=True)
class _Schema:
    name: str
    login_role: str
    owner_role: str
    tables: tuple[_Table, ...]
    sequences: tuple[_Sequence, ...]
    views: tuple[_View, ...]
    unsupported: tuple[str, ...]

    def role(self, kind: str) -> str:
        return self.login_role if kind == LOGIN else self.owner_role

    @property
    def empty(self) -> bool:
        return not (self.tables or self.sequences or self.views or self.unsupported)

    def table(self, name: str) -> _Table | None:
        return next((t for t in self.tables if t.name == name), None)


def _rows(cur: psycopg.Cursor[Any], query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    return cur.execute(query, params).fetchall()


_UNSUPPORTED_QUERY = """
    SELECT 'relation ' || c.relname || ' (relkind ' || c.relkind::text || ')' FROM pg_class c
    WHERE c.relnamespace = %(ns)s AND c.relkind NOT IN ('r', 'S', 'v', 'i')
    UNION ALL SELECT 'table ' || c.relname || ' has row-level security' FROM pg_class c
    WHERE c.relnamespace = %(ns)s AND (c.relrowsecurity OR c.relforcerowsecurity)
    UNION ALL SELECT 'typed table ' || c.relname FROM pg_class c
    WHERE c.relnamespace = %(ns)s AND c.reloftype <> 0
    UNION ALL SELECT 'function ' || p.proname FROM pg_proc p WHERE p.pronamespace = %(ns)s
    UNION ALL SELECT 'type ' || t.typname FROM pg_type t
    WHERE t.typnamespace = %(ns)s AND t.typrelid = 0 AND t.typcategory <> 'A'
    UNION ALL SELECT 'trigger ' || g.tgname || ' on ' || c.relname FROM pg_trigger g
    JOIN pg_class c ON c.oid = g.tgrelid WHERE c.relnamespace = %(ns)s AND NOT g.tgisinternal
    UNION ALL SELECT 'policy ' || p.polname || ' on ' || c.relname FROM pg_policy p
    JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = %(ns)s
    UNION ALL SELECT 'rule ' || r.rulename || ' on ' || c.relname FROM pg_rewrite r
    JOIN pg_class c ON c.oid = r.ev_class WHERE c.relnamespace = %(ns)s AND r.rulename <> '_RETURN'
    UNION ALL SELECT 'inheritance of ' || c.relname FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relnamespace = %(ns)s
    UNION ALL SELECT 'statistics ' || s.stxname FROM pg_statistic_ext s WHERE s.stxnamespace = %(ns)s
    UNION ALL SELECT 'collation ' || o.collname FROM pg_collation o WHERE o.collnamespace = %(ns)s
    UNION ALL SELECT 'operator ' || o.oprname FROM pg_operator o WHERE o.oprnamespace = %(ns)s
    UNION ALL SELECT 'relation ' || c.relname || ' owned by another role' FROM pg_class c
    WHERE c.relnamespace = %(ns)s AND c.relkind <> 'i'
      AND pg_get_userbyid(c.relowner) NOT IN (%(login)s, %(owner)s)
    UNION ALL SELECT 'column ' || c.relname || '.' || a.attname || ' of type '
                     || format_type(a.atttypid, NULL)
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_type t ON t.oid = a.atttypid
    WHERE c.relnamespace = %(ns)s AND c.relkind IN ('r', 'v') AND a.attnum > 0 AND NOT a.attisdropped
      AND t.typnamespace::regnamespace::text <> ALL (%(type_schemas)s)
    UNION ALL SELECT 'foreign key ' || k.conname || ' to another schema' FROM pg_constraint k
    JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid
    WHERE c.relnamespace = %(ns)s AND k.contype = 'f' AND r.relnamespace <> %(ns)s
    UNION ALL SELECT 'constraint trigger ' || k.conname FROM pg_constraint k
    JOIN pg_class c ON c.oid = k.conrelid WHERE c.relnamespace = %(ns)s AND k.contype = 't'
    UNION ALL SELECT 'sequence ' || c.relname || ' owned by a table of another schema' FROM pg_class c
    JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
     AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
    JOIN pg_class r ON r.oid = d.refobjid
    WHERE c.relnamespace = %(ns)s AND c.relkind = 'S' AND r.relnamespace <> %(ns)s
    ORDER BY 1"""


def _read_schema(cur: psycopg.Cursor[Any], schema: str, login_role: str, owner_role: str) -> _Schema:
    """Everything in ``schema`` (and nothing outside it), read as the tenant's owner role.

    The search_path is ``pg_catalog, <schema>, pg_temp`` meanwhile: the deparser then
    leaves the schema's own objects unqualified (so the text is valid in a target schema of
    another name) and qualifies everything else (``extensions.vector(3)``). With the
    tenant's schema on the path, the statements run as the tenant's role, never as the
    admin: nothing the tenant created can act with the admin's privileges.
    """
    with _acting(cur, owner_role, schema):
        return _read_schema_as_tenant(cur, schema, login_role, owner_role)


def _read_schema_as_tenant(cur: psycopg.Cursor[Any], schema: str, login_role: str,
                           owner_role: str) -> _Schema:
    ns = _rows(cur, "SELECT oid FROM pg_namespace WHERE nspname = %s", (schema,))[0][0]

    def kind(role: str) -> str:
        return LOGIN if role == login_role else OWNER

    def grants(oid: int) -> tuple[tuple[str, str, bool], ...]:
        rows = _rows(cur, """
            SELECT pg_get_userbyid(a.grantee), a.privilege_type, a.is_grantable
            FROM pg_class c, aclexplode(c.relacl) a
            WHERE c.oid = %s AND a.grantee <> c.relowner AND a.grantee <> 0
              AND pg_get_userbyid(a.grantee) IN (%s, %s) ORDER BY 1, 2""", (oid, login_role, owner_role))
        return tuple((kind(r), p, bool(g)) for r, p, g in rows)

    unsupported = tuple(r[0] for r in cur.execute(_UNSUPPORTED_QUERY, {
        "ns": ns, "login": login_role, "owner": owner_role, "type_schemas": list(_TYPE_SCHEMAS)}))
    tables = []
    for oid, name, owner, persistence in _rows(cur, """
            SELECT oid, relname, pg_get_userbyid(relowner), relpersistence FROM pg_class
            WHERE relnamespace = %s AND relkind = 'r' ORDER BY relname""", (ns,)):
        columns = tuple(_Column(*row) for row in _rows(cur, """
            SELECT a.attname, format_type(a.atttypid, a.atttypmod),
                   (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                    FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
                    WHERE co.oid = a.attcollation AND a.attcollation <> t.typcollation),
                   pg_get_expr(d.adbin, d.adrelid), a.attnotnull, a.attidentity::text, a.attgenerated::text
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""", (oid,)))
        constraints = _rows(cur, """
            SELECT k.conname, pg_get_constraintdef(k.oid, true), k.contype::text, r.relname,
                   k.convalidated
            FROM pg_constraint k LEFT JOIN pg_class r ON r.oid = k.confrelid
            WHERE k.conrelid = %s AND k.contype IN ('p', 'u', 'c', 'x', 'f') ORDER BY k.conname""", (oid,))
        indexes = _rows(cur, """
            SELECT i.relname, pg_get_indexdef(i.oid, 0, true) FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            WHERE x.indrelid = %s AND NOT EXISTS (
                SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid
                AND k.contype IN ('p', 'u', 'x'))
            ORDER BY i.relname""", (oid,))
        tables.append(_Table(
            oid=oid, name=name, owner=kind(owner), unlogged=persistence == "u", columns=columns,
            constraints=tuple((n, d) for n, d, t, _, valid in constraints if t != "f" and valid),
            foreign_keys=tuple((n, d, r) for n, d, t, r, valid in constraints if t == "f" or not valid),
            indexes=tuple((n, d) for n, d in indexes), grants=grants(oid)))
    sequences = tuple(
        _Sequence(name=name, owner=kind(owner), type=type_, start=start, increment=inc, minimum=mn,
                  maximum=mx, cache=cache, cycle=cycle,
                  owned_by=(table, column) if table is not None else None, identity=deptype == "i")
        for name, owner, type_, start, inc, mn, mx, cache, cycle, table, column, deptype in _rows(cur, """
            SELECT c.relname, pg_get_userbyid(c.relowner), format_type(s.seqtypid, NULL), s.seqstart,
                   s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle, r.relname, a.attname,
                   d.deptype::text
            FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid
            LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
                 AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
            LEFT JOIN pg_class r ON r.oid = d.refobjid AND r.relnamespace = c.relnamespace
            LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
            WHERE c.relnamespace = %s AND c.relkind = 'S' ORDER BY c.relname""", (ns,)))
    views = tuple(
        _View(name=name, owner=kind(owner), definition=definition, options=tuple(options or ()),
              grants=grants(oid))
        # Creation order (oid) is dependency order for views that were never replaced.
        for oid, name, owner, definition, options in _rows(cur, """
            SELECT oid, relname, pg_get_userbyid(relowner), pg_get_viewdef(oid, true), reloptions
            FROM pg_class WHERE relnamespace = %s AND relkind = 'v' ORDER BY oid""", (ns,)))
    return _Schema(name=schema, login_role=login_role, owner_role=owner_role, tables=tuple(tables),
                   sequences=sequences, views=views, unsupported=unsupported)


def _load_order(tables: Iterable[_Table]) -> list[_Table]:
    """Referenced tables before the tables referencing them (name order among equals).

    A cycle, which foreign keys added after the rows allow, is loaded in name order.
    """
    pending = {t.name: t for t in tables}
    ordered: list[_Table] = []
    while pending:
        ready = [t for n, t in sorted(pending.items())
                 if not any(ref in pending and ref != n for _, _, ref in t.foreign_keys)]
        for t in ready or [pending[min(pending)]]:
            ordered.append(pending.pop(t.name))
    return ordered


# --- DDL ------------------------------------------------------------------------------------
def _sequence_options(s: _Sequence) -> sql.Composed:
    return sql.SQL("INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {}").format(
        sql.Literal(s.increment), sql.Literal(s.minimum), sql.Literal(s.maximum), sql.Literal(s.start),
        sql.Literal(s.cache), sql.SQL("CYCLE" if s.cycle else "NO CYCLE"))


def _column_ddl(schema: str, table: _Table, c: _Column, sequences: Iterable[_Sequence]) -> sql.Composed:
    parts: list[sql.Composable] = [sql.Identifier(c.name), sql.SQL(c.type)]
    if c.collation:
        parts += [sql.SQL("COLLATE"), sql.SQL(c.collation)]
    if c.identity:
        seq = next(s for s in sequences if s.identity and s.owned_by == (table.name, c.name))
        parts.append(sql.SQL("GENERATED {} AS IDENTITY (SEQUENCE NAME {} {})").format(
            sql.SQL("ALWAYS" if c.identity == "a" else "BY DEFAULT"), sql.Identifier(schema, seq.name),
            _sequence_options(seq)))
    elif c.generated:
        parts.append(sql.SQL("GENERATED ALWAYS AS ({}) STORED").format(sql.SQL(c.default or "")))
    elif c.default is not None:
        parts += [sql.SQL("DEFAULT"), sql.SQL(c.default)]
    if c.not_null:
        parts.append(sql.SQL("NOT NULL"))
    return sql.SQL(" ").join(parts)


def _as(cur: psycopg.Cursor[Any], role: str, schema: str | None = None) -> None:
    """Act as one of the tenant's roles for the rest of the transaction.

    With ``schema``, that schema is on the path after pg_catalog (for deparsed definitions,
    which name its objects unqualified).
    """
    cur.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
    path = [sql.Identifier("pg_catalog"), *([sql.Identifier(schema)] if schema else []),
            sql.Identifier("pg_temp")]
    cur.execute(sql.SQL("SET LOCAL search_path = {}").format(sql.SQL(", ").join(path)))


def _as_admin(cur: psycopg.Cursor[Any]) -> None:
    """Back to the admin, with the safe path (nothing a tenant created on it)."""
    cur.execute("RESET ROLE")
    cur.execute("SET LOCAL search_path = pg_catalog, pg_temp")


@contextmanager
def _acting(cur: psycopg.Cursor[Any], role: str, schema: str | None = None) -> Iterator[None]:
    """:func:`_as` in a (sub)transaction, then back to the admin.

    ``SET LOCAL`` does nothing outside a transaction, and outlives a released savepoint:
    hence the explicit way back.
    """
    with cur.connection.transaction():
        _as(cur, role, schema)
        yield
        _as_admin(cur)


def _create_definitions(cur: psycopg.Cursor[Any], src: _Schema, dst: _Schema) -> None:
    """Sequences, tables (without indexes and foreign keys), grants and views, each as its owner."""
    schema = dst.name
    for s in src.sequences:
        if not s.identity:
            _as(cur, dst.role(s.owner), schema)
            cur.execute(sql.SQL("CREATE SEQUENCE {} AS {} {}").format(
                sql.Identifier(schema, s.name), sql.SQL(s.type), _sequence_options(s)))
    for t in src.tables:
        _as(cur, dst.role(t.owner), schema)
        items = [_column_ddl(schema, t, c, src.sequences) for c in t.columns]
        items += [sql.SQL("CONSTRAINT {} {}").format(sql.Identifier(n), sql.SQL(d)) for n, d in t.constraints]
        cur.execute(sql.SQL("CREATE {}TABLE {} ({})").format(
            sql.SQL("UNLOGGED " if t.unlogged else ""), sql.Identifier(schema, t.name),
            sql.SQL(", ").join(items)))
    for s in src.sequences:
        if s.owned_by is not None and not s.identity:
            _as(cur, dst.role(s.owner), schema)
            cur.execute(sql.SQL("ALTER SEQUENCE {} OWNED BY {}").format(
                sql.Identifier(schema, s.name), sql.Identifier(schema, *s.owned_by)))
    for v in src.views:
        _as(cur, dst.role(v.owner), schema)
        options: sql.Composable = sql.SQL("")
        if v.options:
            options = sql.SQL(" WITH ({})").format(sql.SQL(", ").join(map(sql.SQL, v.options)))
        cur.execute(sql.SQL("CREATE VIEW {}{} AS {}").format(
            sql.Identifier(schema, v.name), options, sql.SQL(v.definition.rstrip().rstrip(";"))))
    objects: list[_Table | _View] = [*src.tables, *src.views]
    for obj in objects:
        for grantee, privilege, grantable in obj.grants:
            _as(cur, dst.role(obj.owner))
            cur.execute(sql.SQL("GRANT {} ON {} TO {}{}").format(
                sql.SQL(privilege), sql.Identifier(schema, obj.name), sql.Identifier(dst.role(grantee)),
                sql.SQL(" WITH GRANT OPTION" if grantable else "")))
    _as_admin(cur)


def _drop_contents(cur: psycopg.Cursor[Any], dst: _Schema) -> None:
    """Drop every relation of the target schema (``overwrite=True``), each as its owner."""
    for kind, objects in (("VIEW", dst.views), ("TABLE", dst.tables),
                          ("SEQUENCE", [s for s in dst.sequences if s.owned_by is None])):
        for obj in objects:
            _as(cur, dst.role(obj.owner))
            cur.execute(sql.SQL("DROP {} IF EXISTS {} CASCADE").format(
                sql.SQL(kind), sql.Identifier(dst.name, obj.name)))
    _as_admin(cur)


def _definition_problems(src: _Schema, dst: _Schema) -> list[str]:
    """How the target's definitions differ from the source's (foreign keys may be missing)."""
    problems = []
    for kind, mine, theirs in (("table", src.tables, dst.tables), ("sequence", src.sequences, dst.sequences),
                               ("view", src.views, dst.views)):
        a: dict[str, Any] = {o.name: o for o in mine}
        b: dict[str, Any] = {o.name: o for o in theirs}
        problems += [f"{kind} {n} is missing on the target" for n in sorted(a.keys() - b.keys())]
        problems += [f"{kind} {n} is on the target only" for n in sorted(b.keys() - a.keys())]
        for n in sorted(a.keys() & b.keys()):
            same = a[n].shape() == b[n].shape() if kind == "table" else a[n] == b[n]
            if not same:
                problems.append(f"{kind} {n} differs")
            if kind == "table" and not set(b[n].foreign_keys) <= set(a[n].foreign_keys):
                problems.append(f"table {n} has foreign keys or checks the source does not")
            if kind == "table" and not set(b[n].indexes) <= set(a[n].indexes):
                problems.append(f"table {n} has indexes the source does not")
    return problems + [f"target: {u}" for u in dst.unsupported]


# --- rows and sequences ---------------------------------------------------------------------
_CHECKSUM = sql.SQL("""
    SELECT count(*), coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0),
           coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0)
    FROM (SELECT md5(t::text) AS h FROM {} t) rows""")


def _checksum(cur: psycopg.Cursor[Any], schema: str, table: _Table, role: str) -> tuple[int, str]:
    """(row count, checksum): order-independent, computed as the table's owner.

    In a (sub)transaction: ``SET LOCAL ROLE`` does nothing outside one.
    """
    with _acting(cur, role):
        count, high, low = cur.execute(_CHECKSUM.format(sql.Identifier(schema, table.name))).fetchone() \
            or (0, 0, 0)
    return int(count), hashlib.sha256(f"{count}:{high}:{low}".encode()).hexdigest()[:32]


def _sequence_state(cur: psycopg.Cursor[Any], schema: str, s: _Sequence, role: str) -> tuple[int, bool]:
    """(last_value, is_called), read as the sequence's owner."""
    with _acting(cur, role):
        last, called = cur.execute(sql.SQL("SELECT last_value, is_called FROM {}").format(
            sql.Identifier(schema, s.name))).fetchone() or (s.start, False)
    return int(last), bool(called)


def _sequence_next(cur: psycopg.Cursor[Any], schema: str, s: _Sequence, role: str) -> int:
    """The value ``nextval`` would return next (without calling it)."""
    last, called = _sequence_state(cur, schema, s, role)
    return last + s.increment if called else last


# --- connections ----------------------------------------------------------------------------
def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _connect(dsn: str, side: str) -> psycopg.Connection[Any]:
    try:
        conn = psycopg.connect(make_conninfo(dsn, application_name=APPLICATION_NAME), autocommit=True,
                               connect_timeout=10)
    except psycopg.Error as exc:
        raise CopyFailed(f"cannot connect to the {side}: {_first_line(exc)}") from exc
    settings = {**_OUTPUT_SETTINGS, "lock_timeout": LOCK_TIMEOUT, "statement_timeout": "0"}
    try:
        for name, value in settings.items():
            conn.execute(sql.SQL("SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
        conn.execute("SET search_path = pg_catalog, pg_temp")
    except psycopg.Error as exc:
        conn.close()
        raise CopyFailed(f"cannot set up the {side} session: {_first_line(exc)}") from exc
    return conn


def _tenant_roles(cur: psycopg.Cursor[Any], schema: str) -> tuple[str, str] | None:
    """(login role, owner role) the bootstrap recorded for ``schema``, if it is a tenant's."""
    if not _rows(cur, "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)):
        return None
    if _rows(cur, "SELECT to_regclass(%s)", (f"{naming.DB_PLATFORM_SCHEMA}.tenants",))[0][0] is None:
        return None
    rows = _rows(cur, sql.SQL("SELECT login_role, owner_role FROM {} WHERE schema_name = %s").format(
        sql.Identifier(naming.DB_PLATFORM_SCHEMA, "tenants")).as_string(cur), (schema,))
    return (str(rows[0][0]), str(rows[0][1])) if rows else None


def _server_identity(cur: psycopg.Cursor[Any]) -> str:
    """Which server and database this is, however it is reached (a proxy, an instance name)."""
    database = _rows(cur, "SELECT current_database()", ())[0][0]
    try:
        with cur.connection.transaction():
            system = _rows(cur, "SELECT system_identifier FROM pg_control_system()", ())[0][0]
    except psycopg.Error:
        system = "unknown"
    return f"{system}/{database}"


@contextmanager
def _step(what: str) -> Iterator[None]:
    """Turn a database error into :class:`CopyFailed` naming the step."""
    try:
        yield
    except psycopg.Error as exc:
        raise CopyFailed(f"{what} failed: {_first_line(exc)}; rerun to resume") from exc


def _state_table() -> sql.Identifier:
    return sql.Identifier(naming.DB_PLATFORM_SCHEMA, STATE_TABLE)


def _open_source(src: psycopg.Connection[Any], schema: str) -> _Schema:
    """Begin the source's snapshot and read the schema (refusing what cannot be copied)."""
    cur = src.cursor()
    cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    roles = _tenant_roles(cur, schema)
    if roles is None:
        raise SourceSchemaMissing(f"the source has no tenant schema {schema} "
                                  f"(absent, or not in {naming.DB_PLATFORM_SCHEMA}.tenants)")
    found = _read_schema(cur, schema, *roles)
    if found.unsupported:
        raise UnsupportedObjects("source", list(found.unsupported))
    return found


def _open_target(dst: psycopg.Connection[Any], src: psycopg.Connection[Any], schema: str) -> _Schema:
    cur = dst.cursor()
    encodings = [c.execute("SHOW server_encoding").fetchone() for c in (src.cursor(), cur)]
    if encodings[0] != encodings[1]:
        raise TargetNotReady(f"source and target encodings differ ({encodings[0]} vs {encodings[1]})")
    roles = _tenant_roles(cur, schema)
    if roles is None:
        raise TargetNotReady(f"the target has no tenant schema {schema}: bootstrap the tenant on the "
                             "target first (tenantctl db bootstrap)")
    return _read_schema(cur, schema, *roles)


# --- entry points ---------------------------------------------------------------------------
def copy_schema(source: str, target: str, schema: str, *, target_schema: str | None = None,
                progress: Progress | None = None, overwrite: bool = False) -> CopyReport:
    """Copy ``schema`` from ``source`` into ``target_schema`` (default: the same name) on ``target``.

    ``source`` and ``target`` are libpq connection strings of each server's admin. The
    target schema must exist (the tenant's bootstrap on the target). Resumes an unfinished
    copy from the same source; refuses (:class:`TargetNotEmpty`) a target schema holding
    anything else unless ``overwrite=True``, which drops its tables, views and sequences
    first. Raises :class:`CopyFailed` when a step fails (rerun to resume), else returns
    the report of the final verification (``.ok`` is False only if the source changed
    under the copy in a way its snapshot could not hide, e.g. sequence values).
    """
    say = progress or (lambda _message: None)
    dst_name = target_schema or schema
    for name in (schema, dst_name):
        if not naming.DB_TOKEN_RE.match(name):
            raise SchemaCopyError(f"{name!r} is not a tenant schema name (tenants.naming.db_schema_name)")
    src = _connect(source, "source")
    try:
        dst = _connect(target, "target")
        try:
            return _copy(src, dst, schema, dst_name, say, overwrite)
        finally:
            dst.close()
    finally:
        src.close()


def verify_schema(source: str, target: str, schema: str, *, target_schema: str | None = None) -> CopyReport:
    """Compare ``schema`` on ``source`` with ``target_schema`` on ``target``; writes nothing."""
    dst_name = target_schema or schema
    src = _connect(source, "source")
    try:
        dst = _connect(target, "target")
        try:
            with _step("verification"):
                src_schema = _open_source(src, schema)
                dst_schema = _open_target(dst, src, dst_name)
                return _verify(src, dst, src_schema, dst_schema, lambda _m: None)
        finally:
            dst.close()
    finally:
        src.close()


def _verify(src: psycopg.Connection[Any], dst: psycopg.Connection[Any], s: _Schema, d: _Schema,
            say: Progress, known: dict[str, TableCheck] | None = None) -> CopyReport:
    known = known or {}
    src_cur, dst_cur = src.cursor(), dst.cursor()
    tables = []
    for t in _load_order(s.tables):
        if t.name in known:
            tables.append(known[t.name])
            continue
        rows_s, sum_s = _checksum(src_cur, s.name, t, s.role(t.owner))
        theirs = d.table(t.name)
        rows_t, sum_t = (None, None) if theirs is None else _checksum(dst_cur, d.name, theirs,
                                                                      d.role(theirs.owner))
        tables.append(TableCheck(t.name, rows_s, rows_t, sum_s, sum_t))
    sequences = []
    target_sequences = {q.name: q for q in d.sequences}
    for q in s.sequences:
        other = target_sequences.get(q.name)
        sequences.append(SequenceCheck(q.name, _sequence_next(src_cur, s.name, q, s.role(q.owner)),
                                       None if other is None else _sequence_next(
                                           dst_cur, d.name, other, d.role(other.owner))))
    problems = _definition_problems(s, d)
    for t in s.tables:
        theirs = d.table(t.name)
        if theirs is not None:
            have = {k[0] for k in theirs.foreign_keys} | {i[0] for i in theirs.indexes}
            problems += [f"table {t.name} lacks {n}" for n, *_ in (*t.indexes, *t.foreign_keys)
                         if n not in have]
    report = CopyReport(s.name, d.name, tuple(tables), tuple(sequences), tuple(dict.fromkeys(problems)))
    say(f"verify: {'ok' if report.ok else 'MISMATCH'} ({len(tables)} tables, {len(sequences)} sequences)")
    return report


def _copy(src: psycopg.Connection[Any], dst: psycopg.Connection[Any], schema: str, dst_name: str,
          say: Progress, overwrite: bool) -> CopyReport:
    with _step("locking the target schema"):
        locked = dst.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                             (ADVISORY_LOCK_CLASS, dst_name)).fetchone()
    if not locked or not locked[0]:
        raise CopyFailed(f"another copy into {dst_name} is running on the target; try again when it ends")
    with _step("reading the source"):
        s = _open_source(src, schema)
        source_id = _server_identity(src.cursor())
    say(f"source {schema}: {len(s.tables)} tables, {len(s.sequences)} sequences, {len(s.views)} views")
    with _step("reading the target"):
        d = _open_target(dst, src, dst_name)
        if d.unsupported:
            raise UnsupportedObjects("target", list(d.unsupported))
        state = _state_table()
        cur = dst.cursor()
        with dst.transaction():
            cur.execute(sql.SQL("""CREATE TABLE IF NOT EXISTS {} (
                schema_name name PRIMARY KEY, source text NOT NULL,
                started_at timestamptz NOT NULL DEFAULT now(), completed_at timestamptz)""").format(state))
            cur.execute(sql.SQL("REVOKE ALL ON TABLE {} FROM PUBLIC").format(state))
        record = cur.execute(sql.SQL("SELECT source, completed_at FROM {} WHERE schema_name = %s").format(
            state), (dst_name,)).fetchone()

    fresh = d.empty
    if not fresh and not overwrite:
        ours = record is not None and record[0] == source_id
        if ours and record is not None and record[1] is not None:
            with _step("verifying the finished copy"):
                report = _verify(src, dst, s, d, say)
            if report.ok:
                say("target already holds a verified copy: nothing to do")
                return report
            raise TargetNotEmpty(f"target schema {dst_name} was copied and has changed since (it may "
                                 "be live there); refusing to overwrite it without overwrite=True")
        if not ours:
            raise TargetNotEmpty(f"target schema {dst_name} holds objects that are not from a copy of "
                                 f"this source ({len(d.tables)} tables, {len(d.views)} views, "
                                 f"{len(d.sequences)} sequences); refusing without overwrite=True")
        problems = _definition_problems(s, d)
        if problems:
            raise TargetNotEmpty(f"target schema {dst_name} no longer matches the source's definitions "
                                 f"({'; '.join(problems)}); refusing to resume without overwrite=True")
        say(f"resuming the unfinished copy into {dst_name}")
    if fresh or overwrite:
        with _step("creating the definitions"), dst.transaction():
            cur = dst.cursor()
            if overwrite and not fresh:
                say(f"overwrite: dropping {len(d.tables)} tables, {len(d.views)} views of {dst_name}")
                _drop_contents(cur, d)
            cur.execute(sql.SQL("""INSERT INTO {} (schema_name, source) VALUES (%s, %s)
                ON CONFLICT (schema_name) DO UPDATE SET source = excluded.source, started_at = now(),
                completed_at = NULL""").format(state), (dst_name, source_id))
            _create_definitions(cur, s, d)
            say(f"definitions created: {len(s.tables)} tables, {len(s.sequences)} sequences, "
                f"{len(s.views)} views")
        with _step("reading the target"):
            d = _read_schema(dst.cursor(), dst_name, d.login_role, d.owner_role)

    checks: dict[str, TableCheck] = {}
    copied, skipped = [], []
    for t in _load_order(s.tables):
        theirs = d.table(t.name)
        assert theirs is not None  # the definitions match (checked or just created)
        with _step(f"checking table {t.name}"):
            rows_s, sum_s = _checksum(src.cursor(), s.name, t, s.role(t.owner))
            rows_t, sum_t = _checksum(dst.cursor(), d.name, theirs, d.role(theirs.owner))
        if (rows_s, sum_s) == (rows_t, sum_t):
            say(f"table {t.name}: {rows_s} rows already verified, skipped")
            skipped.append(t.name)
            checks[t.name] = TableCheck(t.name, rows_s, rows_t, sum_s, sum_t)
            continue
        say(f"table {t.name}: copying {rows_s} rows")
        with _step(f"copying table {t.name}"):
            checks[t.name] = _copy_rows(src, dst, s, d, t, theirs, rows_s, sum_s)
        copied.append(t.name)
        say(f"table {t.name}: {rows_s} rows copied and verified")

    with _step("building indexes, adding foreign keys"), dst.transaction():
        cur = dst.cursor()
        d = _read_schema(cur, dst_name, d.login_role, d.owner_role)
        indexes = constraints = 0
        for t in s.tables:
            theirs = d.table(t.name)
            assert theirs is not None
            have = {n for n, *_ in (*theirs.indexes, *theirs.foreign_keys)}
            for name, statement in t.indexes:
                if name not in have:
                    _as(cur, d.role(theirs.owner), d.name)
                    cur.execute(sql.SQL(statement))
                    indexes += 1
        for t in s.tables:  # after every index: a foreign key's check may use one
            theirs = d.table(t.name)
            assert theirs is not None
            have = {n for n, *_ in theirs.foreign_keys}
            for name, definition, _ in t.foreign_keys:
                if name not in have:
                    _as(cur, d.role(theirs.owner), d.name)
                    cur.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                        sql.Identifier(d.name, t.name), sql.Identifier(name), sql.SQL(definition)))
                    constraints += 1
        _as_admin(cur)
    say(f"indexes: {indexes} built; constraints: {constraints} added")
    with _step("setting sequences"), dst.transaction():
        cur = dst.cursor()
        for q in s.sequences:
            last, called = _sequence_state(src.cursor(), s.name, q, s.role(q.owner))
            _as(cur, d.role(q.owner))
            cur.execute("SELECT setval(%s::regclass, %s, %s)",
                        (sql.Identifier(d.name, q.name).as_string(cur), last, called))
        _as_admin(cur)
    say(f"sequences: {len(s.sequences)} set")
    with _step("verifying"):
        d = _read_schema(dst.cursor(), dst_name, d.login_role, d.owner_role)
        report = _verify(src, dst, s, d, say, known=checks)
    report = CopyReport(report.source_schema, report.target_schema, report.tables, report.sequences,
                        report.problems, tuple(copied), tuple(skipped))
    if report.ok:
        with _step("recording the finished copy"):
            dst.execute(sql.SQL("UPDATE {} SET completed_at = now() WHERE schema_name = %s").format(state),
                        (dst_name,))
    return report


def _copy_rows(src: psycopg.Connection[Any], dst: psycopg.Connection[Any], s: _Schema, d: _Schema,
               t: _Table, theirs: _Table, rows_s: int, sum_s: str) -> TableCheck:
    """Replace the target table's rows with the source's, in one target transaction.

    Checked (count and checksum) before it commits: a failure leaves the table as it was.
    """
    columns = sql.SQL(", ").join(map(sql.Identifier, t.copied_columns))
    src_cur = src.cursor()
    with dst.transaction():
        cur = dst.cursor()
        # Foreign keys pointing at the table would refuse TRUNCATE; they come back (checked
        # against every row) in the foreign-key step.
        for child, constraint, owner in _rows(cur, """
                SELECT c.relname, k.conname, pg_get_userbyid(c.relowner) FROM pg_constraint k
                JOIN pg_class c ON c.oid = k.conrelid WHERE k.contype = 'f' AND k.confrelid = %s""",
                                              (theirs.oid,)):
            _as(cur, owner)
            cur.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(d.name, child), sql.Identifier(constraint)))
        role = d.role(theirs.owner)
        _as(cur, role)
        cur.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(d.name, t.name)))
        with _acting(src_cur, s.role(t.owner)):  # a savepoint in the source's snapshot
            with src_cur.copy(sql.SQL("COPY {} ({}) TO STDOUT").format(
                    sql.Identifier(s.name, t.name), columns)) as out, \
                    cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
                        sql.Identifier(d.name, t.name), columns)) as into:
                for chunk in out:
                    into.write(chunk)
        rows_t, sum_t = _checksum(cur, d.name, theirs, role)
        check = TableCheck(t.name, rows_s, rows_t, sum_s, sum_t)
        if not check.ok:
            raise CopyFailed(f"table {t.name}: the target has {rows_t} rows (checksum {sum_t}) after the "
                             f"copy, the source {rows_s} ({sum_s}); rolled back")
    return check
