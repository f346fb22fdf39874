"""Schema copy between two real PostgreSQL 16 servers (tier migration): a tenant's schema moves
from its cell's database to its own and is verified; failures resume; foreign data is refused."""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg
import pytest

from components import db_bootstrap
from components.db_bootstrap import TenantDbNames
from tenantctl import schema_copy
from tenantctl.schema_copy import (
    CopyFailed,
    SourceSchemaMissing,
    TargetNotEmpty,
    TargetNotReady,
    UnsupportedObjects,
    copy_schema,
    verify_schema,
)
from tests.components.pg_support import PgServer, connected, password_for, pg_server, second_pg_server

ALPHA = TenantDbNames.of("alpha")
BETA = TenantDbNames.of("beta")

#: What a tenant's own migrations create (run as its login role, search_path = schema, extensions).
ALPHA_SQL = r"""
CREATE TABLE customers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE,
    name text COLLATE "C",
    profile jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    balance numeric(12, 2) DEFAULT 0 CHECK (balance >= 0));
CREATE TABLE documents (
    id serial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    title text,
    body text,
    blob bytea,
    embedding vector(3),
    score double precision,
    title_len integer GENERATED ALWAYS AS (length(title)) STORED);
CREATE INDEX documents_embedding_hnsw ON documents USING hnsw (embedding vector_cosine_ops);
CREATE INDEX documents_customer ON documents (customer_id) WHERE title IS NOT NULL;
CREATE TABLE tags (document_id integer REFERENCES documents (id), tag text, note text,
                   PRIMARY KEY (document_id, tag));
CREATE TABLE nodes (id integer PRIMARY KEY, parent integer REFERENCES nodes (id));
CREATE SEQUENCE invoice_no START 1000;
CREATE VIEW customer_documents AS
    SELECT c.email, count(d.id) AS documents FROM customers c
    LEFT JOIN documents d ON d.customer_id = c.id GROUP BY c.email;
INSERT INTO customers (email, name, profile, balance)
    SELECT 'c' || i || '@example.com',
           CASE WHEN i % 7 = 0 THEN NULL ELSE 'Ñame ' || i || E'\t«tab»\nline two' END,
           CASE WHEN i % 11 = 0 THEN NULL
                ELSE jsonb_build_object('i', i, 'tags', jsonb_build_array('a', i)) END,
           i / 7.0
    FROM generate_series(1, 500) i;
INSERT INTO documents (customer_id, title, body, blob, embedding, score)
    SELECT 1 + i % 500, CASE WHEN i % 5 = 0 THEN NULL ELSE 'doc ' || i END,
           repeat('ü€😀' || E'\t', i % 20) || E'\n\\ end',
           CASE WHEN i % 13 = 0 THEN NULL ELSE decode(md5(i::text), 'hex') END,
           CASE WHEN i % 9 = 0 THEN NULL
                ELSE ('[' || (i % 17) / 17.0 || ',' || (i % 5) / 5.0 || ',' || (i % 3) + 0.5 || ']')::vector
           END,
           i / 3.0
    FROM generate_series(1, 3000) i;
DELETE FROM documents WHERE id % 100 = 0;
INSERT INTO tags SELECT id, 'tag' || (id % 4), CASE WHEN id % 2 = 0 THEN 'n' END
    FROM documents WHERE id % 3 = 0;
INSERT INTO nodes SELECT i, CASE WHEN i > 1 THEN i / 2 END FROM generate_series(1, 1000) i;
SELECT nextval('invoice_no') FROM generate_series(1, 5);
ALTER TABLE nodes ADD CONSTRAINT nodes_few CHECK (id < 500) NOT VALID;  -- half the rows violate it
"""
BETA_SQL = """
CREATE TABLE secrets (id integer PRIMARY KEY, value text);
INSERT INTO secrets SELECT i, 'beta secret ' || i FROM generate_series(1, 50) i;
"""
TABLES = {"customers": 500, "documents": 2970, "nodes": 1000, "tags": 990}


@dataclass(frozen=True)
class Pair:
    """A cell database (source, on one server) and a dedicated one (target, on another)."""

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

    def tenant(self, server: PgServer, db: str, tenant: str) -> psycopg.Connection[object]:
        return psycopg.connect(server.dsn(db, TenantDbNames.of(tenant).login_role, password_for(tenant)),
                               autocommit=True)


def bootstrap(pg: PgServer, db: str, tenant: str) -> None:
    db_bootstrap.bootstrap(pg.admin_dsn(db), tenant, password=password_for(tenant))


@pytest.fixture
def pair() -> Pair:
    """Fresh databases: alpha (with data) and beta on the source, alpha bootstrapped on the target."""
    src, dst = pg_server(), second_pg_server()
    assert src.socket_dir != dst.socket_dir
    p = Pair(src, src.new_database(), dst, dst.new_database())
    for tenant in ("alpha", "beta"):
        bootstrap(src, p.src_db, tenant)
    bootstrap(dst, p.dst_db, "alpha")
    with p.tenant(src, p.src_db, "alpha") as conn:
        conn.execute(ALPHA_SQL)
        # A grant between the tenant's own roles is copied; one to another tenant's role is not.
        conn.execute(f'GRANT SELECT ON nodes TO "{ALPHA.owner_role}", "{BETA.login_role}"')
    with p.tenant(src, p.src_db, "beta") as conn:
        conn.execute(BETA_SQL)
    return p


def counts(server: PgServer, db: str, schema: str) -> dict[str, int]:
    with connected(server.dsn(db)) as conn:
        return {t: conn.execute(f'SELECT count(*) FROM "{schema}"."{t}"').fetchone()[0]  # type: ignore[index]
                for t in TABLES}


def kill_copy_sessions(server: PgServer, db: str) -> int:
    with connected(server.dsn()) as conn:
        return int(conn.execute("""
            SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE application_name = %s AND datname = %s) k""",
                                (schema_copy.APPLICATION_NAME, db)).fetchone()[0])  # type: ignore[index]


# --- the copy -------------------------------------------------------------------------------
def test_copy_moves_definitions_rows_and_sequences_verified(pair: Pair) -> None:
    messages: list[str] = []
    report = copy_schema(pair.source, pair.target, ALPHA.schema, progress=messages.append)
    assert report.ok, report.summary()
    assert {t.table: (t.rows_source, t.rows_target) for t in report.tables} == {
        t: (n, n) for t, n in TABLES.items()}
    assert all(t.checksum_source == t.checksum_target for t in report.tables)
    assert sorted(report.copied) == sorted(TABLES) and report.skipped == ()
    seqs = {s.sequence: (s.next_source, s.next_target) for s in report.sequences}
    assert seqs == {"customers_id_seq": (501, 501), "documents_id_seq": (3001, 3001),
                    "invoice_no": (1005, 1005)}
    assert counts(pair.dst, pair.dst_db, ALPHA.schema) == TABLES
    # Dependency order: referenced tables first.
    order = [m.split()[1].rstrip(":") for m in messages if m.endswith("rows copied and verified")]
    assert order.index("customers") < order.index("documents") < order.index("tags")

    with connected(pair.dst.dsn(pair.dst_db)) as conn:
        owners = dict(conn.execute("""SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c
            WHERE c.relnamespace = %s::regnamespace AND c.relkind IN ('r', 'v', 'S')""", (ALPHA.schema,)))
        indexes = dict(conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s",
                                    (ALPHA.schema,)))
        fks = conn.execute("""SELECT conname FROM pg_constraint WHERE contype = 'f'
            AND connamespace = %s::regnamespace ORDER BY 1""", (ALPHA.schema,)).fetchall()
        not_valid = conn.execute("""SELECT conname FROM pg_constraint WHERE NOT convalidated
            AND connamespace = %s::regnamespace""", (ALPHA.schema,)).fetchall()
        nodes_acl = conn.execute("SELECT relacl::text FROM pg_class WHERE oid = %s::regclass",
                                 (f'"{ALPHA.schema}".nodes',)).fetchone()[0]  # type: ignore[index]
        # The same rows, value for value (not only the same checksum), in a few spot checks.
        row = conn.execute(f"""SELECT name, profile, body, blob, embedding::text, title_len
            FROM "{ALPHA.schema}".documents d JOIN "{ALPHA.schema}".customers c ON c.id = d.customer_id
            WHERE d.id = 7""").fetchone()
    # Created by the tenant's login role on the source, owned by it on the target.
    assert set(owners.values()) == {ALPHA.login_role} and len(owners) == 8
    assert "USING hnsw (embedding extensions.vector_cosine_ops)" in indexes["documents_embedding_hnsw"]
    assert "WHERE (title IS NOT NULL)" in indexes["documents_customer"]
    app, owner = ALPHA.login_role, ALPHA.owner_role
    assert nodes_acl == f"{{{app}=arwdDxt/{app},{owner}=r/{app}}}"
    assert not_valid == [("nodes_few",)]
    assert [f[0] for f in fks] == ["documents_customer_id_fkey", "nodes_parent_fkey", "tags_document_id_fkey"]
    assert row is not None and row[0] == "Ñame 8\t«tab»\nline two" and row[1] == {"i": 8, "tags": ["a", 8]}
    assert row[2] == "ü€😀\t" * 7 + "\n\\ end" and row[3] is not None and row[5] == 5

    # The tenant's login role uses its data on the target: reads, vector search, new rows.
    with pair.tenant(pair.dst, pair.dst_db, "alpha") as conn:
        assert conn.execute("SELECT documents FROM customer_documents WHERE email = 'c2@example.com'"
                            ).fetchone() == (6,)
        near = conn.execute("SELECT id FROM documents ORDER BY embedding <=> '[0.1,0.2,0.5]' LIMIT 3"
                            ).fetchall()
        assert len(near) == 3
        new = conn.execute("INSERT INTO customers (email) VALUES ('new@example.com') RETURNING id").fetchone()
        assert new == (501,)  # the identity continues where the source stopped: no collision
        assert conn.execute("INSERT INTO documents (customer_id) VALUES (501) RETURNING id"
                            ).fetchone() == (3001,)
        assert conn.execute("SELECT nextval('invoice_no')").fetchone() == (1005,)
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute("INSERT INTO documents (customer_id) VALUES (99999)")


def test_other_tenant_on_the_source_is_neither_read_nor_copied(pair: Pair) -> None:
    def beta_stats() -> tuple[object, ...] | None:
        """Scans and writes of beta's table, once every other session has ended (and so
        flushed its statistics)."""
        deadline = time.monotonic() + 10
        with connected(pair.src.dsn(pair.src_db)) as conn:
            while conn.execute("""SELECT count(*) FROM pg_stat_activity WHERE datname = %s
                    AND pid <> pg_backend_pid() AND backend_type = 'client backend'""",
                               (pair.src_db,)).fetchone() != (0,) and time.monotonic() < deadline:
                time.sleep(0.05)
            return conn.execute("""SELECT seq_scan, idx_scan, n_tup_ins, n_tup_upd, n_tup_del
                FROM pg_stat_user_tables WHERE schemaname = %s AND relname = 'secrets'""",
                                (BETA.schema,)).fetchone()

    def beta_data() -> object:
        with connected(pair.src.dsn(pair.src_db)) as conn:
            return conn.execute("SELECT md5(string_agg(s::text, ',' ORDER BY id)) "
                                f'FROM "{BETA.schema}".secrets s').fetchone()

    data_before = beta_data()
    stats_before = beta_stats()
    assert stats_before is not None and stats_before[2] == 50
    assert copy_schema(pair.source, pair.target, ALPHA.schema).ok
    assert beta_stats() == stats_before  # not a single scan of beta's table by the copy
    assert beta_data() == data_before
    with connected(pair.dst.dsn(pair.dst_db)) as conn:
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relname = 'secrets'").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s",
                            (BETA.schema,)).fetchone() == (0,)
    # And copying beta's schema into alpha's is refused: the target schema is alpha's, with data.
    with pytest.raises(TargetNotEmpty):
        copy_schema(pair.source, pair.target, BETA.schema, target_schema=ALPHA.schema)


def test_copy_into_a_schema_of_another_name_maps_ownership_to_its_roles(pair: Pair) -> None:
    gamma = TenantDbNames.of("gamma")
    bootstrap(pair.dst, pair.dst_db, "gamma")
    report = copy_schema(pair.source, pair.target, ALPHA.schema, target_schema=gamma.schema)
    assert report.ok and report.target_schema == gamma.schema
    with pair.tenant(pair.dst, pair.dst_db, "gamma") as conn:
        assert conn.execute("SELECT count(*) FROM documents").fetchone() == (TABLES["documents"],)
        assert conn.execute("SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class "
                            "WHERE relnamespace = %s::regnamespace", (gamma.schema,)).fetchall() == [
            (gamma.login_role,)]


def test_copies_cycles_unlogged_tables_exclusion_constraints_and_view_options(pair: Pair) -> None:
    with pair.tenant(pair.src, pair.src_db, "alpha") as conn:
        conn.execute("""
            CREATE TABLE ping (id integer PRIMARY KEY, pong integer);
            CREATE TABLE pong (id integer PRIMARY KEY, ping integer REFERENCES ping (id));
            INSERT INTO ping SELECT i, i FROM generate_series(1, 20) i;
            INSERT INTO pong SELECT i, 21 - i FROM generate_series(1, 20) i;
            ALTER TABLE ping ADD FOREIGN KEY (pong) REFERENCES pong (id);
            CREATE UNLOGGED TABLE cache (id bigint GENERATED BY DEFAULT AS IDENTITY (START 7 INCREMENT 3),
                                         area circle, EXCLUDE USING gist (area WITH &&));
            INSERT INTO cache (area) SELECT circle(point(i * 10, 0), 1) FROM generate_series(1, 30) i;
            INSERT INTO cache (id, area) VALUES (1000, '<(0,50),1>');
            CREATE VIEW small_pings WITH (security_barrier = true) AS
                SELECT id FROM ping WHERE id < 5 WITH LOCAL CHECK OPTION;""")
    report = copy_schema(pair.source, pair.target, ALPHA.schema)
    assert report.ok, report.summary()
    rows = {t.table: t.rows_target for t in report.tables}
    assert (rows["ping"], rows["pong"], rows["cache"]) == (20, 20, 31)
    assert {s.sequence: s.next_target for s in report.sequences}["cache_id_seq"] == 7 + 30 * 3
    with connected(pair.dst.dsn(pair.dst_db)) as conn:
        kinds = dict(conn.execute("""
            SELECT relname, relpersistence::text || coalesce(array_to_string(reloptions, ','), '')
            FROM pg_class WHERE relnamespace = %s::regnamespace AND relname IN ('cache', 'small_pings')""",
                                  (ALPHA.schema,)).fetchall())
        assert kinds == {"cache": "u", "small_pings": "psecurity_barrier=true,check_option=local"}
    with pair.tenant(pair.dst, pair.dst_db, "alpha") as conn:
        with pytest.raises(psycopg.errors.ExclusionViolation):
            conn.execute("INSERT INTO cache (area) VALUES ('<(10,0),1>')")
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute("UPDATE ping SET pong = 99 WHERE id = 1")


def test_rerun_of_a_finished_copy_changes_nothing(pair: Pair) -> None:
    assert copy_schema(pair.source, pair.target, ALPHA.schema).ok
    again = copy_schema(pair.source, pair.target, ALPHA.schema)
    assert again.ok and again.copied == ()
    assert counts(pair.dst, pair.dst_db, ALPHA.schema) == TABLES


# --- failures and resumption ----------------------------------------------------------------
def test_killed_connection_stops_the_copy_and_a_rerun_resumes_without_duplicates(pair: Pair) -> None:
    def kill_at_documents(message: str) -> None:
        if message.startswith("table documents: copying"):
            assert kill_copy_sessions(pair.dst, pair.dst_db) == 1

    with pytest.raises(CopyFailed, match="copying table documents"):
        copy_schema(pair.source, pair.target, ALPHA.schema, progress=kill_at_documents)
    # What committed is whole and verified; the rest is empty, never half-visible.
    assert counts(pair.dst, pair.dst_db, ALPHA.schema) == {"customers": 500, "nodes": 1000,
                                                          "documents": 0, "tags": 0}
    assert not verify_schema(pair.source, pair.target, ALPHA.schema).ok
    # The tenant wrote on the source meanwhile: the table that changed is copied again.
    with pair.tenant(pair.src, pair.src_db, "alpha") as conn:
        conn.execute("INSERT INTO nodes VALUES (0, 1)")
    messages: list[str] = []
    report = copy_schema(pair.source, pair.target, ALPHA.schema, progress=messages.append)
    assert report.ok, report.summary()
    assert report.skipped == ("customers",)
    assert sorted(report.copied) == ["documents", "nodes", "tags"]
    assert "resuming the unfinished copy into " + ALPHA.schema in messages
    assert counts(pair.dst, pair.dst_db, ALPHA.schema) == {**TABLES, "nodes": 1001}


def test_a_table_failing_mid_stream_is_rolled_back_whole_and_recopied(pair: Pair) -> None:
    def reject_a_row(message: str) -> None:
        if message.startswith("table documents: copying"):  # half of the rows go through first
            with connected(pair.dst.dsn(pair.dst_db)) as conn:
                conn.execute(f'ALTER TABLE "{ALPHA.schema}".documents ADD CONSTRAINT injected '
                             "CHECK (id <> 1501) NOT VALID")

    with pytest.raises(CopyFailed, match="injected"):
        copy_schema(pair.source, pair.target, ALPHA.schema, progress=reject_a_row)
    assert counts(pair.dst, pair.dst_db, ALPHA.schema)["documents"] == 0
    # The injected constraint makes the target's definition differ: resuming is refused...
    with pytest.raises(TargetNotEmpty, match="documents has foreign keys or checks the source does not"):
        copy_schema(pair.source, pair.target, ALPHA.schema)
    with connected(pair.dst.dsn(pair.dst_db)) as conn:
        conn.execute(f'ALTER TABLE "{ALPHA.schema}".documents DROP CONSTRAINT injected')
    # ...and once it is gone the copy resumes.
    report = copy_schema(pair.source, pair.target, ALPHA.schema)
    assert report.ok and "customers" in report.skipped and "documents" in report.copied
    assert counts(pair.dst, pair.dst_db, ALPHA.schema) == TABLES


def test_a_second_copy_into_the_same_schema_is_refused_while_one_runs(pair: Pair) -> None:
    refused: list[str] = []

    def start_another(message: str) -> None:
        if message.startswith("table documents: copying"):
            with pytest.raises(CopyFailed, match="another copy into .* is running") as caught:
                copy_schema(pair.source, pair.target, ALPHA.schema)
            refused.append(str(caught.value))

    assert copy_schema(pair.source, pair.target, ALPHA.schema, progress=start_another).ok
    assert len(refused) == 1


# --- refusals -------------------------------------------------------------------------------
def test_refuses_a_target_schema_holding_data_not_from_this_copy(pair: Pair) -> None:
    with pair.tenant(pair.dst, pair.dst_db, "alpha") as conn:
        conn.execute("CREATE TABLE customers (id integer PRIMARY KEY); INSERT INTO customers VALUES (1)")
    with pytest.raises(TargetNotEmpty, match="not from a copy of this source"):
        copy_schema(pair.source, pair.target, ALPHA.schema)
    with connected(pair.dst.dsn(pair.dst_db)) as conn:  # untouched
        assert conn.execute(f'SELECT id FROM "{ALPHA.schema}".customers').fetchall() == [(1,)]
    # Told explicitly, the copy replaces it.
    report = copy_schema(pair.source, pair.target, ALPHA.schema, overwrite=True)
    assert report.ok and counts(pair.dst, pair.dst_db, ALPHA.schema) == TABLES


def test_refuses_a_missing_source_schema_and_an_unbootstrapped_target(pair: Pair) -> None:
    with pytest.raises(SourceSchemaMissing):
        copy_schema(pair.source, pair.target, TenantDbNames.of("nobody").schema)
    with pytest.raises(TargetNotReady, match="bootstrap the tenant on the target first"):
        copy_schema(pair.source, pair.target, BETA.schema)
    with pytest.raises(schema_copy.SchemaCopyError, match="not a tenant schema name"):
        copy_schema(pair.source, pair.target, "platform")


def test_refuses_objects_it_cannot_copy_before_writing_anything(pair: Pair) -> None:
    with pair.tenant(pair.src, pair.src_db, "alpha") as conn:
        conn.execute("CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;"
                     "CREATE TRIGGER touch BEFORE UPDATE ON nodes FOR EACH ROW EXECUTE FUNCTION touch()")
    with pytest.raises(UnsupportedObjects) as caught:
        copy_schema(pair.source, pair.target, ALPHA.schema)
    assert caught.value.objects == ["function touch", "trigger touch on nodes"]
    with connected(pair.dst.dsn(pair.dst_db)) as conn:
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relnamespace = %s::regnamespace",
                            (ALPHA.schema,)).fetchone() == (0,)


# --- verification ---------------------------------------------------------------------------
def test_verification_detects_a_tampered_row_and_sequence(pair: Pair) -> None:
    assert copy_schema(pair.source, pair.target, ALPHA.schema).ok
    assert verify_schema(pair.source, pair.target, ALPHA.schema).ok
    with connected(pair.dst.dsn(pair.dst_db)) as conn:
        conn.execute(f"UPDATE \"{ALPHA.schema}\".documents SET body = body || ' ' WHERE id = 42")
        conn.execute(f"SELECT setval('\"{ALPHA.schema}\".invoice_no', 2000)")
    report = verify_schema(pair.source, pair.target, ALPHA.schema)
    assert not report.ok
    bad = {t.table: t for t in report.tables if not t.ok}
    assert list(bad) == ["documents"] and bad["documents"].rows_source == bad["documents"].rows_target
    assert [s.sequence for s in report.sequences if not s.ok] == ["invoice_no"]
    # A finished copy whose target changed (the tenant may be live there) is not overwritten...
    with pytest.raises(TargetNotEmpty, match="has changed since"):
        copy_schema(pair.source, pair.target, ALPHA.schema)
    # ...unless told explicitly.
    assert copy_schema(pair.source, pair.target, ALPHA.schema, overwrite=True).ok
    assert verify_schema(pair.source, pair.target, ALPHA.schema).ok


def test_objects_the_tenant_created_never_run_as_the_admin(pair: Pair) -> None:
    # An operator on (name, name) in the tenant's schema is a better match than pg_catalog's
    # text || text for `'literal' || relname`: were the catalog reads run as the admin with
    # the tenant's schema on the path, this function would run as the admin.
    with pair.tenant(pair.src, pair.src_db, "alpha") as conn:
        conn.execute("""
            CREATE FUNCTION glue(a name, b name) RETURNS text LANGUAGE sql AS
                $$ SELECT CASE WHEN session_user = current_user THEN 'CAPTURED'
                        ELSE a::text || b::text END $$;
            GRANT EXECUTE ON FUNCTION glue(name, name) TO PUBLIC;
            CREATE OPERATOR || (LEFTARG = name, RIGHTARG = name, FUNCTION = glue)""")
    with pytest.raises(UnsupportedObjects) as caught:
        copy_schema(pair.source, pair.target, ALPHA.schema)
    assert "CAPTURED" not in str(caught.value)
    assert {"function glue", "operator ||"} <= set(caught.value.objects)
