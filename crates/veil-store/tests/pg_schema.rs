//! The PostgreSQL schema against SQLite's, on a real PostgreSQL server: the
//! same numbered versions, tables, columns (order, nullability, type
//! family), unique constraints and indexes, foreign keys (columns, the
//! referenced table and columns, ON DELETE), and append-only rules with the
//! same messages; migrating is idempotent and refuses a newer database.

#[path = "common/postgres.rs"]
mod postgres_server;

use std::collections::BTreeMap;

use postgres::{Client, NoTls};
use postgres_server::PgServer;
use rusqlite::Connection;
use veil_store::db::{migrate_postgres, Db, PG_SCHEMA_VERSION, SCHEMA_VERSION};

/// A column: name, type family, NOT NULL, default (as SQL text).
type Column = (String, &'static str, bool, Option<String>);
/// An index: table, unique, partial, columns in order.
type Index = (String, bool, bool, Vec<String>);

/// A migrated SQLite database (through `Db::open`) and a raw connection to it.
fn sqlite() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("veil.db");
    drop(Db::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    (dir, conn)
}

fn migrated_pg(pg: &PgServer) -> Client {
    let mut client = Client::connect(&pg.fresh_database(), NoTls).unwrap();
    assert_eq!(migrate_postgres(&mut client).unwrap(), PG_SCHEMA_VERSION);
    client
}

fn sqlite_family(declared: &str) -> &'static str {
    match declared.to_ascii_uppercase().as_str() {
        "INTEGER" => "integer",
        "TEXT" => "text",
        "BLOB" => "blob",
        "REAL" => "real",
        other => panic!("SQLite column type {other} has no family here"),
    }
}

fn pg_family(data_type: &str) -> &'static str {
    match data_type {
        "bigint" | "integer" | "smallint" => "integer",
        "text" => "text",
        "bytea" => "blob",
        "double precision" | "real" => "real",
        other => panic!("PostgreSQL column type {other} has no family here"),
    }
}

fn sqlite_tables(c: &Connection) -> Vec<String> {
    let mut st = c
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
             ORDER BY name",
        )
        .unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn sqlite_columns(c: &Connection) -> BTreeMap<String, Vec<Column>> {
    let mut out = BTreeMap::new();
    for table in sqlite_tables(c) {
        let mut st = c
            .prepare(&format!("PRAGMA table_info(\"{table}\")"))
            .unwrap();
        let cols = st
            .query_map([], |r| {
                let name: String = r.get(1)?;
                let declared: String = r.get(2)?;
                let notnull: bool = r.get(3)?;
                let default: Option<String> = r.get(4)?;
                let pk: i64 = r.get(5)?;
                // A primary key is NOT NULL in PostgreSQL. In SQLite an
                // `INTEGER PRIMARY KEY` can never be NULL though `notnull`
                // says 0, and other primary keys accept NULL only through a
                // legacy quirk that Veil never uses.
                Ok((name, sqlite_family(&declared), notnull || pk > 0, default))
            })
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        out.insert(table, cols);
    }
    out
}

fn pg_columns(c: &mut Client) -> BTreeMap<String, Vec<Column>> {
    let mut out: BTreeMap<String, Vec<Column>> = BTreeMap::new();
    for row in c
        .query(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text,
                    column_default::text
             FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name <> 'schema_version'
             ORDER BY table_name, ordinal_position",
            &[],
        )
        .unwrap()
    {
        let table: String = row.get(0);
        let nullable: String = row.get(3);
        // PostgreSQL shows a literal default with its type (`'ok'::text`).
        let default: Option<String> = row.get(4);
        let default = default.map(|d| match d.rsplit_once("::") {
            Some((literal, _)) => literal.to_string(),
            None => d,
        });
        out.entry(table).or_default().push((
            row.get(1),
            pg_family(row.get(2)),
            nullable == "NO",
            default,
        ));
    }
    out
}

/// Every index and unique constraint (primary keys included) by its columns.
fn sqlite_indexes(c: &Connection) -> Vec<Index> {
    let mut out = Vec::new();
    for table in sqlite_tables(c) {
        let mut st = c
            .prepare(&format!("PRAGMA index_list(\"{table}\")"))
            .unwrap();
        let list: Vec<(String, bool, bool)> = st
            .query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get(4)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut has_pk_index = false;
        for (name, unique, partial) in list {
            let origin: String = c
                .query_row(
                    &format!("SELECT origin FROM pragma_index_list(\"{table}\") WHERE name = ?1"),
                    [&name],
                    |r| r.get(0),
                )
                .unwrap();
            has_pk_index |= origin == "pk";
            let mut st = c
                .prepare(&format!("PRAGMA index_info(\"{name}\")"))
                .unwrap();
            let cols = st
                .query_map([], |r| {
                    Ok(r.get::<_, Option<String>>(2)?
                        .unwrap_or_else(|| "<expression>".into()))
                })
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            out.push((table.clone(), unique, partial, cols));
        }
        // An `INTEGER PRIMARY KEY` is the rowid: no index in the list.
        if !has_pk_index {
            let mut st = c
                .prepare(&format!(
                    "SELECT name FROM pragma_table_info(\"{table}\") WHERE pk > 0 ORDER BY pk"
                ))
                .unwrap();
            let pk: Vec<String> = st
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            if !pk.is_empty() {
                out.push((table.clone(), true, false, pk));
            }
        }
    }
    out.sort();
    out
}

fn pg_indexes(c: &mut Client) -> Vec<Index> {
    let mut out: Vec<Index> = c
        .query(
            "SELECT t.relname::text, ix.indisunique, ix.indpred IS NOT NULL,
                    ARRAY(SELECT COALESCE(a.attname::text, '<expression>')
                          FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, n)
                          LEFT JOIN pg_attribute a
                            ON a.attrelid = t.oid AND a.attnum = k.attnum AND k.attnum > 0
                          ORDER BY k.n)
             FROM pg_index ix
             JOIN pg_class t ON t.oid = ix.indrelid
             JOIN pg_namespace s ON s.oid = t.relnamespace
             WHERE s.nspname = 'public' AND t.relname <> 'schema_version'",
            &[],
        )
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    out.sort();
    out
}

/// (table, trigger) pairs.
fn sqlite_triggers(c: &Connection) -> Vec<(String, String)> {
    let mut st = c
        .prepare("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger' ORDER BY 1, 2")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn pg_triggers(c: &mut Client) -> Vec<(String, String)> {
    c.query(
        "SELECT t.relname::text, g.tgname::text FROM pg_trigger g
         JOIN pg_class t ON t.oid = g.tgrelid
         WHERE NOT g.tgisinternal ORDER BY 1, 2",
        &[],
    )
    .unwrap()
    .into_iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// Everything the parity compares, plus triggers and functions, as text.
fn pg_snapshot(c: &mut Client) -> String {
    let functions: Vec<String> = c
        .query(
            "SELECT p.proname::text || ':' || md5(p.prosrc) FROM pg_proc p
             JOIN pg_namespace s ON s.oid = p.pronamespace
             WHERE s.nspname = 'public' ORDER BY 1",
            &[],
        )
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let version: i64 = c
        .query_one("SELECT version FROM schema_version", &[])
        .unwrap()
        .get(0);
    format!(
        "{:?}\n{:?}\n{:?}\n{functions:?}\n{version}",
        pg_columns(c),
        pg_indexes(c),
        pg_triggers(c)
    )
}

#[test]
fn versions_are_numbered_alike_and_migrating_again_changes_nothing() {
    assert_eq!(PG_SCHEMA_VERSION, SCHEMA_VERSION);
    let pg = PgServer::start();
    let mut client = migrated_pg(&pg);
    let version: i64 = client
        .query_one("SELECT version FROM schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(version as usize, SCHEMA_VERSION);
    let rows: i64 = client
        .query_one("SELECT COUNT(*) FROM schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 1, "schema_version holds one row");
    let (_dir, sqlite) = sqlite();
    let sqlite_version: i64 = sqlite
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, sqlite_version);

    let before = pg_snapshot(&mut client);
    assert_eq!(migrate_postgres(&mut client).unwrap(), 0);
    assert_eq!(pg_snapshot(&mut client), before);
    // A second connection (another node starting) finds nothing to do.
    let mut other = Client::connect(&pg.url_of("veil_test_1"), NoTls).unwrap();
    assert_eq!(migrate_postgres(&mut other).unwrap(), 0);
    assert_eq!(pg_snapshot(&mut client), before);
}

#[test]
fn nodes_starting_together_migrate_once() {
    let pg = PgServer::start();
    let url = pg.fresh_database();
    let applied: Vec<usize> = std::thread::scope(|s| {
        let nodes: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let mut c = Client::connect(&url, NoTls).unwrap();
                    migrate_postgres(&mut c).unwrap()
                })
            })
            .collect();
        nodes.into_iter().map(|n| n.join().unwrap()).collect()
    });
    assert_eq!(
        applied.iter().sum::<usize>(),
        PG_SCHEMA_VERSION,
        "{applied:?}"
    );
    let mut c = Client::connect(&url, NoTls).unwrap();
    let version: i64 = c
        .query_one("SELECT version FROM schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(version as usize, PG_SCHEMA_VERSION);
}

#[test]
fn tables_columns_indexes_and_triggers_match_sqlite() {
    let pg = PgServer::start();
    let mut client = migrated_pg(&pg);
    let (_dir, sqlite) = sqlite();

    let (s_cols, p_cols) = (sqlite_columns(&sqlite), pg_columns(&mut client));
    assert!(s_cols.len() >= 30, "{} tables", s_cols.len());
    assert_eq!(
        s_cols.keys().collect::<Vec<_>>(),
        p_cols.keys().collect::<Vec<_>>(),
        "tables"
    );
    for (table, cols) in &s_cols {
        assert_eq!(cols, &p_cols[table], "columns of {table}");
    }

    let (s_idx, p_idx) = (sqlite_indexes(&sqlite), pg_indexes(&mut client));
    assert!(s_idx
        .iter()
        .any(|i| i.0 == "bucket_key" && i.1 && i.3.len() == 3));
    assert_eq!(s_idx, p_idx, "indexes and unique constraints");

    // Each SQLite trigger has its namesake; PostgreSQL adds a TRUNCATE
    // guard to each append-only table (SQLite has no TRUNCATE).
    let s_trig = sqlite_triggers(&sqlite);
    let p_trig = pg_triggers(&mut client);
    let (truncate, rest): (Vec<_>, Vec<_>) = p_trig
        .into_iter()
        .partition(|(_, n)| n.ends_with("_no_truncate"));
    assert_eq!(s_trig, rest, "triggers");
    let mut protected: Vec<String> = s_trig.iter().map(|(t, _)| t.clone()).collect();
    protected.dedup();
    assert_eq!(
        protected,
        vec!["audit", "audit_checkpoint", "recording_link"]
    );
    assert_eq!(
        truncate.into_iter().map(|(t, _)| t).collect::<Vec<_>>(),
        protected
    );
}

/// Runs `sql` on both; both must fail with the same message, or both succeed.
fn both(sqlite: &Connection, pg: &mut Client, sql: &str) -> Result<(), String> {
    let s = match sqlite.execute_batch(sql) {
        Ok(()) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(_, Some(msg))) => Err(msg),
        Err(e) => panic!("{sql}: {e}"),
    };
    let p = match pg.batch_execute(sql) {
        Ok(()) => Ok(()),
        Err(e) => Err(e
            .as_db_error()
            .unwrap_or_else(|| panic!("{sql}: {e}"))
            .message()
            .to_string()),
    };
    assert_eq!(s, p, "{sql}");
    s
}

#[test]
fn append_only_rules_hold_with_sqlites_messages() {
    let pg = PgServer::start();
    let mut client = migrated_pg(&pg);
    let (_dir, sqlite) = sqlite();
    let c = &mut client;
    let audit = |seq: i64, hash: &str| {
        format!(
            "INSERT INTO audit (seq, time_90k, actor, action, resource, outcome, detail, client,
                                prev_hash, hash)
             VALUES ({seq}, 1, 'a', 'x', 'r', 'ok', '', 'c', {hash}, {hash})"
        )
    };
    // Entries 1-3 chained, 4 not yet chained. `''` is an empty BYTEA in
    // PostgreSQL and an empty (non-NULL) value in SQLite.
    for seq in 1..=3 {
        both(&sqlite, c, &audit(seq, "''")).unwrap();
    }
    both(&sqlite, c, &audit(4, "NULL")).unwrap();

    let e = both(&sqlite, c, "UPDATE audit SET actor = 'b' WHERE seq = 2").unwrap_err();
    assert_eq!(e, "audit is append-only");
    assert_eq!(
        both(&sqlite, c, "DELETE FROM audit WHERE seq = 2").unwrap_err(),
        "audit is append-only"
    );
    assert_eq!(
        both(&sqlite, c, "DELETE FROM audit").unwrap_err(),
        "audit is append-only"
    );
    // An entry not yet chained may be updated (chaining it).
    both(&sqlite, c, "UPDATE audit SET detail = 'd' WHERE seq = 4").unwrap();

    // Checkpoints: never updated; entries behind an anchor may be pruned,
    // the anchor itself and everything after it not.
    let checkpoint = |id: i64, kind: &str, seq: i64| {
        format!(
            "INSERT INTO audit_checkpoint (id, kind, seq, time_90k, hash, public_key, signature)
             VALUES ({id}, '{kind}', {seq}, 1, '', '', '')"
        )
    };
    both(&sqlite, c, &checkpoint(1, "checkpoint", 1)).unwrap();
    both(&sqlite, c, &checkpoint(2, "anchor", 2)).unwrap();
    both(&sqlite, c, &checkpoint(3, "checkpoint", 3)).unwrap();
    assert_eq!(
        both(
            &sqlite,
            c,
            "UPDATE audit_checkpoint SET seq = 9 WHERE id = 1"
        )
        .unwrap_err(),
        "checkpoints are append-only"
    );
    assert_eq!(
        both(&sqlite, c, "DELETE FROM audit_checkpoint WHERE id = 2").unwrap_err(),
        "checkpoints are append-only"
    );
    assert_eq!(
        both(&sqlite, c, "DELETE FROM audit_checkpoint WHERE id = 3").unwrap_err(),
        "checkpoints are append-only"
    );
    both(&sqlite, c, "DELETE FROM audit_checkpoint WHERE id = 1").unwrap();
    assert_eq!(
        both(&sqlite, c, "DELETE FROM audit WHERE seq = 3").unwrap_err(),
        "audit is append-only"
    );
    both(&sqlite, c, "DELETE FROM audit WHERE seq <= 2").unwrap();
    let left: i64 = c
        .query_one("SELECT COUNT(*) FROM audit", &[])
        .unwrap()
        .get(0);
    assert_eq!(left, 2);

    // Recording links: never updated or deleted.
    both(
        &sqlite,
        c,
        "INSERT INTO recording_link (id, camera_id, rendition, seq, kind, segment_id, start_90k,
                                     end_90k, object_sha256, detail, prev_hash, hash)
         VALUES (1, 1, 'main', 1, 1, 1, 0, 1, '', '', '', '')",
    )
    .unwrap();
    assert_eq!(
        both(&sqlite, c, "UPDATE recording_link SET detail = 'x'").unwrap_err(),
        "recording links are append-only"
    );
    assert_eq!(
        both(&sqlite, c, "DELETE FROM recording_link").unwrap_err(),
        "recording links are append-only"
    );

    // TRUNCATE, which skips row triggers, is refused too.
    for (table, message) in [
        ("audit", "audit is append-only"),
        ("audit_checkpoint", "checkpoints are append-only"),
        ("recording_link", "recording links are append-only"),
    ] {
        let e = c.batch_execute(&format!("TRUNCATE {table}")).unwrap_err();
        assert_eq!(e.as_db_error().unwrap().message(), message);
    }
    let left: i64 = c
        .query_one("SELECT COUNT(*) FROM recording_link", &[])
        .unwrap()
        .get(0);
    assert_eq!(left, 1);
}

#[test]
fn a_newer_database_is_refused_and_left_alone() {
    let pg = PgServer::start();
    let mut client = migrated_pg(&pg);
    let newer = PG_SCHEMA_VERSION as i64 + 1;
    client
        .execute("UPDATE schema_version SET version = $1", &[&newer])
        .unwrap();
    let e = migrate_postgres(&mut client).unwrap_err().to_string();
    assert!(e.contains("newer than this build"), "{e}");
    let version: i64 = client
        .query_one("SELECT version FROM schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, newer);

    // An otherwise empty database that claims a newer version gets no table.
    let mut empty = Client::connect(&pg.fresh_database(), NoTls).unwrap();
    empty
        .batch_execute(
            "CREATE TABLE schema_version (id BIGINT PRIMARY KEY CHECK (id = 1),
                                          version BIGINT NOT NULL);
             INSERT INTO schema_version VALUES (1, 999);",
        )
        .unwrap();
    assert!(migrate_postgres(&mut empty).is_err());
    let tables: i64 = empty
        .query_one(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 1);
    // The lock is released after a refusal: the first database still migrates
    // (refuses) without waiting.
    assert!(migrate_postgres(&mut client).is_err());
}

#[test]
fn the_server_restarts_on_the_same_port() {
    let mut pg = PgServer::start();
    let url = pg.fresh_database();
    let mut client = Client::connect(&url, NoTls).unwrap();
    migrate_postgres(&mut client).unwrap();
    let port = pg.port();
    pg.restart();
    assert_eq!(pg.port(), port);
    // The old connection is gone; a new one finds the schema kept.
    assert!(client.query_one("SELECT 1", &[]).is_err());
    let mut client = Client::connect(&url, NoTls).unwrap();
    assert_eq!(migrate_postgres(&mut client).unwrap(), 0);
}

/// A foreign key: table, columns, referenced table, referenced columns, ON
/// DELETE action.
type ForeignKey = (String, Vec<String>, String, Vec<String>, String);

fn sqlite_foreign_keys(c: &Connection) -> Vec<ForeignKey> {
    let mut out = Vec::new();
    for table in sqlite_tables(c) {
        let mut st = c
            .prepare(&format!(
                "SELECT id, \"table\", \"from\", \"to\", on_delete
                 FROM pragma_foreign_key_list(\"{table}\") ORDER BY id, seq"
            ))
            .unwrap();
        let rows: Vec<(i64, String, String, Option<String>, String)> = st
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let mut keys: BTreeMap<i64, ForeignKey> = BTreeMap::new();
        for (id, parent, from, to, on_delete) in rows {
            // No `to`: the parent's primary key.
            let to = to.unwrap_or_else(|| {
                c.query_row(
                    &format!("SELECT name FROM pragma_table_info(\"{parent}\") WHERE pk = 1"),
                    [],
                    |r| r.get(0),
                )
                .unwrap()
            });
            let k = keys.entry(id).or_insert_with(|| {
                (
                    table.clone(),
                    Vec::new(),
                    parent.clone(),
                    Vec::new(),
                    on_delete,
                )
            });
            k.1.push(from);
            k.3.push(to);
        }
        out.extend(keys.into_values());
    }
    out.sort();
    out
}

fn pg_foreign_keys(c: &mut Client) -> Vec<ForeignKey> {
    let rows = c
        .query(
            "SELECT cl.relname::text,
                    ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
                          JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
                          ORDER BY k.o),
                    fcl.relname::text,
                    ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, o)
                          JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n
                          ORDER BY k.o),
                    con.confdeltype::text
             FROM pg_constraint con
             JOIN pg_class cl ON cl.oid = con.conrelid
             JOIN pg_class fcl ON fcl.oid = con.confrelid
             JOIN pg_namespace n ON n.oid = cl.relnamespace
             WHERE con.contype = 'f' AND n.nspname = 'public'",
            &[],
        )
        .unwrap();
    let mut out: Vec<ForeignKey> = rows
        .iter()
        .map(|r| {
            let action = match r.get::<_, String>(4).as_str() {
                "a" => "NO ACTION",
                "r" => "RESTRICT",
                "c" => "CASCADE",
                "n" => "SET NULL",
                "d" => "SET DEFAULT",
                other => panic!("ON DELETE {other}"),
            };
            (r.get(0), r.get(1), r.get(2), r.get(3), action.to_owned())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn foreign_keys_match_sqlite() {
    let pg = PgServer::start();
    let mut client = migrated_pg(&pg);
    let (_dir, sqlite) = sqlite();
    let s_fk = sqlite_foreign_keys(&sqlite);
    assert!(s_fk
        .iter()
        .any(|k| k.0 == "camera_lease" && k.2 == "camera" && k.4 == "CASCADE"));
    let p_fk = pg_foreign_keys(&mut client);
    let only_sqlite: Vec<_> = s_fk.iter().filter(|k| !p_fk.contains(k)).collect();
    let only_pg: Vec<_> = p_fk.iter().filter(|k| !s_fk.contains(k)).collect();
    assert!(
        only_sqlite.is_empty() && only_pg.is_empty(),
        "foreign keys only in SQLite: {only_sqlite:#?}\nonly in PostgreSQL: {only_pg:#?}"
    );
}
