//! `veil_store::migrate` at volume: a few hundred thousand rows copied into a
//! real PostgreSQL server in seconds, and the identities moved past SQLite's
//! `sqlite_sequence` (ids of deleted rows are never handed out again).

#[path = "common/postgres.rs"]
mod postgres_server;

use std::time::Instant;

use veil_base::Time90k;
use veil_store::db::Db;
use veil_store::migrate::migrate_to_postgres;

const ROWS: i64 = 300_000;

#[test]
fn three_hundred_thousand_rows_copy_in_seconds_and_deleted_ids_stay_unused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("veil.db")).unwrap();
    let cam = db
        .upsert_camera("door", "synthetic", "{}", Time90k(1))
        .unwrap();
    drop(db);
    // Bulk rows straight into the file: an hour's bucket key per row (an
    // integer key, integers, text and an 80-byte blob), then the last ten
    // deleted as retention would.
    let mut c = rusqlite::Connection::open(dir.path().join("veil.db")).unwrap();
    let tx = c.transaction().unwrap();
    {
        let mut ins = tx
            .prepare(
                "INSERT INTO bucket_key (camera_id, rendition, bucket_start_90k, wrapped) \
                 VALUES (?1, 'main', ?2, ?3)",
            )
            .unwrap();
        for i in 0..ROWS {
            let wrapped: Vec<u8> = (0..80).map(|b| (i as u8).wrapping_add(b)).collect();
            ins.execute(rusqlite::params![cam.0, i * 324_000_000, wrapped])
                .unwrap();
        }
    }
    tx.commit().unwrap();
    c.execute("DELETE FROM bucket_key WHERE id > ?1", [ROWS - 10])
        .unwrap();
    drop(c);

    let pg = postgres_server::PgServer::start();
    let url = pg.fresh_database();
    let mut tables = Vec::new();
    let t0 = Instant::now();
    let report =
        migrate_to_postgres(dir.path(), &url, &mut |t| tables.push(t.table.clone())).unwrap();
    let took = t0.elapsed();
    eprintln!(
        "migrate: {} rows in {} tables in {:.2} s ({:.0} rows/s)",
        report.rows(),
        report.tables.len(),
        took.as_secs_f64(),
        report.rows() as f64 / took.as_secs_f64()
    );
    let keys = report
        .tables
        .iter()
        .find(|t| t.table == "bucket_key")
        .unwrap();
    assert_eq!(keys.rows, (ROWS - 10) as u64);
    assert!(
        tables.iter().position(|t| t == "camera") < tables.iter().position(|t| t == "bucket_key")
    );
    // Seconds, not minutes, even on a loaded 2-core machine in a debug build.
    assert!(took.as_secs() < 120, "{took:?}");

    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let n: i64 = c
        .query_one("SELECT COUNT(*) FROM bucket_key", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, ROWS - 10);
    // The next key goes past the deleted ones, as AUTOINCREMENT promised.
    let id: i64 = c
        .query_one(
            "INSERT INTO bucket_key (camera_id, rendition, bucket_start_90k, wrapped) \
             VALUES ($1, 'main', -1, '\\x00') RETURNING id",
            &[&cam.0],
        )
        .unwrap()
        .get(0);
    assert_eq!(id, ROWS + 1);
    // An empty table's identity starts at 1.
    let id: i64 = c
        .query_one(
            "INSERT INTO motion_event (camera_id, start_90k, end_90k) VALUES ($1, 1, 2) \
             RETURNING id",
            &[&cam.0],
        )
        .unwrap()
        .get(0);
    assert_eq!(id, 1);
}

#[test]
fn a_target_holding_data_is_refused_before_its_schema_changes() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("veil.db")).unwrap();
    db.upsert_camera("door", "synthetic", "{}", Time90k(1))
        .unwrap();
    drop(db);
    let pg = postgres_server::PgServer::start();
    let url = pg.fresh_database();
    // An older installation's database, with data: its migrations would
    // run were it not refused first.
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute(
        "CREATE TABLE schema_version (id BIGINT PRIMARY KEY, version BIGINT NOT NULL);
         INSERT INTO schema_version (id, version) VALUES (1, 3);
         CREATE TABLE notes (id BIGINT PRIMARY KEY);
         INSERT INTO notes (id) VALUES (7);",
    )
    .unwrap();
    let e = migrate_to_postgres(dir.path(), &url, &mut |_| {}).unwrap_err();
    assert!(
        e.to_string().contains("already holds data (table notes)"),
        "{e}"
    );
    let version: i64 = c
        .query_one("SELECT version FROM schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, 3, "the refused target's schema is unchanged");
    let tables: i64 = c
        .query_one(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 2);
}
