//! `veil migrate-db --to postgres://…`: an embedded installation made by
//! `veil demo` (cameras recording, accounts, the access record with signed
//! checkpoints, settings) is copied into a real PostgreSQL server and
//! verified there; a target that holds data, a copy that does not match, an
//! unreachable server, a running server's directory and an old schema are
//! refused with nothing committed.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::nodes::postgres_server::PgServer;
use common::{run_veil, Demo};

/// A data directory with a few dozen segments of two cameras, a signed-in
/// session (access-record entries), stopped cleanly.
async fn installation(dir: &Path) {
    let mut demo = Demo::start(
        dir,
        2,
        &[
            "--segment-seconds",
            "1",
            "--width",
            "160",
            "--height",
            "120",
            "--backfill-minutes",
            "1",
        ],
    );
    let api = common::api::Api::login_demo(&demo).await.unwrap();
    let (status, _) = api
        .call(reqwest::Method::GET, "api/v1/cameras", None)
        .await
        .unwrap();
    assert!(status.is_success(), "{status}");
    let db = dir.join("veil.db");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let n: i64 =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .and_then(|c| c.query_row("SELECT COUNT(*) FROM recording_link", [], |r| r.get(0)))
                .unwrap_or(0);
        if n >= 40 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {n} recording links after 90 s:\n{}",
            demo.output()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // While the server runs, its directory is refused: the lock is held.
    let pg = PgServer::start();
    let url = pg.fresh_database();
    let (ok, out) = run_veil(&["migrate-db", "--to", &url, "--data", dir.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(out.contains("in use by another Veil process"), "{out}");
    assert_eq!(rows_in(&url), 0, "nothing may be written: {out}");
    // A clean stop (SIGTERM) so the access record's tail is signed.
    let pid = demo.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while demo.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "veil demo did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Rows in all Veil tables of the database at `url` (0 when it has none).
fn rows_in(url: &str) -> i64 {
    // The synchronous client may not run on a runtime's thread.
    let url = url.to_owned();
    std::thread::spawn(move || rows_in_now(&url))
        .join()
        .unwrap()
}

fn rows_in_now(url: &str) -> i64 {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let tables: Vec<String> = c
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             AND table_name <> 'schema_version'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    tables
        .iter()
        .map(|t| {
            c.query_one(&format!("SELECT COUNT(*) FROM \"{t}\""), &[])
                .unwrap()
                .get::<_, i64>(0)
        })
        .sum()
}

/// Every table's rows rendered as text in primary-key (else all-column)
/// order: read independently of the copy's own digests.
fn sqlite_dump(db: &Path) -> BTreeMap<String, Vec<String>> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = BTreeMap::new();
    for t in tables {
        let (_, names, key) = columns(&c, &t, "");
        let order: Vec<String> = if key.is_empty() { names.clone() } else { key };
        let mut stmt = c
            .prepare(&format!(
                "SELECT {} FROM \"{t}\" ORDER BY {}",
                names.join(", "),
                order.join(", ")
            ))
            .unwrap();
        let mut rows = stmt.query([]).unwrap();
        let mut lines = Vec::new();
        while let Some(r) = rows.next().unwrap() {
            let mut line = Vec::new();
            for i in 0..names.len() {
                line.push(match r.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Null => "null".to_owned(),
                    rusqlite::types::ValueRef::Integer(v) => format!("i{v}"),
                    rusqlite::types::ValueRef::Real(v) => format!("r{v}"),
                    rusqlite::types::ValueRef::Text(v) => {
                        format!("t{}", String::from_utf8_lossy(v))
                    }
                    rusqlite::types::ValueRef::Blob(v) => format!("b{v:?}"),
                });
            }
            lines.push(line.join("|"));
        }
        out.insert(t, lines);
    }
    out
}

/// A SQLite table's columns by name (name, position in the primary key or
/// 0), their quoted names, and its primary key's columns in key order,
/// quoted and followed by `key_suffix`.
fn columns(
    c: &rusqlite::Connection,
    t: &str,
    key_suffix: &str,
) -> (Vec<(String, i64)>, Vec<String>, Vec<String>) {
    let cols: Vec<(String, i64)> = c
        .prepare("SELECT name, pk FROM pragma_table_info(?1) ORDER BY name")
        .unwrap()
        .query_map([t], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let names: Vec<String> = cols.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    let mut key: Vec<(i64, String)> = cols
        .iter()
        .filter(|(_, pk)| *pk > 0)
        .map(|(n, pk)| (*pk, format!("\"{n}\"{key_suffix}")))
        .collect();
    key.sort();
    let key = key.into_iter().map(|(_, n)| n).collect();
    (cols, names, key)
}

fn pg_dump(
    url: &str,
    like: &BTreeMap<String, Vec<String>>,
    db: &Path,
) -> BTreeMap<String, Vec<String>> {
    let s = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let mut out = BTreeMap::new();
    for t in like.keys() {
        let (cols, names, key) = columns(&s, t, " COLLATE \"C\"");
        // COLLATE applies to text only: cast every key to text is wrong for
        // numbers, so use the plain name where the column is not text.
        let types: BTreeMap<String, String> = c
            .query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1",
                &[t],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let plain = |n: &str| {
            let bare = n.split('"').nth(1).unwrap();
            if types[bare] == "text" {
                n.to_owned()
            } else {
                format!("\"{bare}\"")
            }
        };
        let order: Vec<String> = if key.is_empty() {
            names
                .iter()
                .map(|n| plain(&format!("{n} COLLATE \"C\"")))
                .collect()
        } else {
            key.iter().map(|n| plain(n)).collect()
        };
        let rows = c
            .query(
                &format!(
                    "SELECT {} FROM \"{t}\" ORDER BY {}",
                    names.join(", "),
                    order.join(", ")
                ),
                &[],
            )
            .unwrap();
        let mut lines = Vec::new();
        for r in rows {
            let mut line = Vec::new();
            for (i, (name, _)) in cols.iter().enumerate() {
                line.push(match types[name].as_str() {
                    "bigint" => r
                        .get::<_, Option<i64>>(i)
                        .map_or("null".to_owned(), |v| format!("i{v}")),
                    "bytea" => r
                        .get::<_, Option<Vec<u8>>>(i)
                        .map_or("null".to_owned(), |v| format!("b{v:?}")),
                    "text" => r
                        .get::<_, Option<String>>(i)
                        .map_or("null".to_owned(), |v| format!("t{v}")),
                    other => panic!("{t}.{name}: type {other}"),
                });
            }
            lines.push(line.join("|"));
        }
        out.insert(t.clone(), lines);
    }
    out
}

#[test]
fn an_embedded_installation_is_copied_verified_and_usable_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(installation(&data));
    let data_s = data.to_str().unwrap();
    let pg = PgServer::start();
    let url = pg.fresh_database();

    let (ok, out) = run_veil(&["migrate-db", "--to", &url, "--data", data_s]);
    assert!(ok, "{out}");
    // The command's report, for the test's log.
    eprintln!("{out}");
    assert!(out.contains("copied and verified"), "{out}");
    assert!(out.contains("access-record entries verified"), "{out}");
    assert!(out.contains("recording chains verified"), "{out}");
    assert!(out.contains("[database]"), "{out}");
    for t in [
        "camera",
        "segment",
        "recording_link",
        "audit",
        "app_user",
        "bucket_key",
    ] {
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with(&format!("{t} "))),
            "{t}: {out}"
        );
    }

    // Every table, every row, every value, in key order: equal.
    let db = data.join("veil.db");
    let before = sqlite_dump(&db);
    let after = pg_dump(&url, &before, &db);
    let mut filled = 0;
    for (t, rows) in &before {
        assert_eq!(rows.len(), after[t].len(), "row count of {t}");
        assert_eq!(rows, &after[t], "rows of {t}");
        if !rows.is_empty() {
            filled += 1;
        }
    }
    assert!(
        filled >= 10,
        "only {filled} tables hold rows: {:?}",
        before.keys()
    );
    assert!(before["segment"].len() >= 40 && !before["audit"].is_empty());

    // The copy works as an installation: the access record verifies through
    // the repository layer on PostgreSQL, and a new row gets a fresh id.
    let url2 = url.clone();
    let data2 = data.clone();
    std::thread::spawn(move || {
        let pdb = veil_store::Db::open_postgres(&url2).unwrap();
        let key = std::fs::read_to_string(data2.join("audit.key")).unwrap();
        let key = veil_audit::AuditKey::from_pem(&key).unwrap().public_key();
        let r = veil_audit::verify_stored(
            &pdb,
            &veil_audit::VerifyOptions {
                from: None,
                to: None,
                trusted_key: Some(key),
                external: Vec::new(),
            },
        )
        .unwrap();
        assert!(r.entries > 0 && r.checkpoints > 0, "{r:?}");
        let max = pdb.cameras().unwrap().iter().map(|c| c.id.0).max().unwrap();
        let id = pdb
            .upsert_camera("after the move", "synthetic", "{}", veil_base::Time90k(1))
            .unwrap();
        assert!(id.0 > max, "new id {} after {max}", id.0);
    })
    .join()
    .unwrap();

    // A playback on the copy: the store opened on PostgreSQL (the same
    // root key and objects) decrypts every recorded segment.
    let played = rt.block_on(async {
        let store = veil_store::Store::open_configured(
            &data,
            std::sync::Arc::new(veil_base::SystemClock),
            None,
            None,
            Some(&url),
        )
        .await
        .unwrap();
        let mut played = 0;
        for cam in store.db.cameras().unwrap() {
            let segs = store
                .default_segments(cam.id, veil_base::Time90k(0), veil_base::Time90k(i64::MAX))
                .unwrap();
            for seg in segs {
                let media = store.read_media(&seg).await.unwrap();
                assert!(!media.is_empty());
                played += 1;
            }
        }
        played
    });
    assert_eq!(played, before["segment"].len());

    // Again into the same database: refused, it holds data; nothing added.
    let rows = rows_in(&url);
    let (ok, out) = run_veil(&["migrate-db", "--to", &url, "--data", data_s]);
    assert!(!ok, "{out}");
    assert!(out.contains("already holds data"), "{out}");
    assert_eq!(rows_in(&url), rows);

    // A copy that does not read back the same (a trigger alters a value on
    // the way in) is rolled back, naming the table.
    let url3 = pg.fresh_database();
    let u = url3.clone();
    std::thread::spawn(move || {
        drop(veil_store::Db::open_postgres(&u).unwrap());
        let mut c = postgres::Client::connect(&u, postgres::NoTls).unwrap();
        c.batch_execute(
            "CREATE FUNCTION tamper() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN NEW.source_config := NEW.source_config || ' '; RETURN NEW; END; $$; \
             CREATE TRIGGER tamper BEFORE INSERT ON camera FOR EACH ROW EXECUTE FUNCTION tamper();",
        )
        .unwrap();
    })
    .join()
    .unwrap();
    let (ok, out) = run_veil(&["migrate-db", "--to", &url3, "--data", data_s]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("table camera") && out.contains("nothing was committed"),
        "{out}"
    );
    assert_eq!(rows_in(&url3), 0, "{out}");
}

#[test]
fn bad_targets_and_old_schemas_are_refused_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // An installation's directory (the store creates the database).
    drop(veil_store::Store::open_dir(&data, std::sync::Arc::new(veil_base::SystemClock)).unwrap());
    let data_s = data.to_str().unwrap();

    // A closed port: the address is named, the password is not.
    let port = common::free_port();
    let url = format!("postgres://veil:s3cret-pw@127.0.0.1:{port}/veil?connect_timeout=3");
    let (ok, out) = run_veil(&["migrate-db", "--to", &url, "--data", data_s]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("127.0.0.1:{port}/veil")) && out.contains("database"),
        "{out}"
    );
    assert!(!out.contains("s3cret-pw"), "{out}");

    // A server that answers but refuses the database: the same.
    let pg = PgServer::start();
    let url = format!(
        "postgres://veil:s3cret-pw@127.0.0.1:{}/no_such_database",
        pg.port()
    );
    let (ok, out) = run_veil(&["migrate-db", "--to", &url, "--data", data_s]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("127.0.0.1:{}/no_such_database", pg.port())),
        "{out}"
    );
    assert!(!out.contains("s3cret-pw"), "{out}");

    // Not a PostgreSQL URL: refused before anything is opened, unquoted.
    let (ok, out) = run_veil(&[
        "migrate-db",
        "--to",
        "mysql://veil:s3cret-pw@h/veil",
        "--data",
        data_s,
    ]);
    assert!(
        !ok && out.contains("--to") && !out.contains("s3cret-pw"),
        "{out}"
    );

    // A database older than this build: the operator is told to start the
    // server once.
    let c = rusqlite::Connection::open(data.join("veil.db")).unwrap();
    c.execute_batch("PRAGMA user_version = 5").unwrap();
    drop(c);
    let url = pg.fresh_database();
    let (ok, out) = run_veil(&["migrate-db", "--to", &url, "--data", data_s]);
    assert!(!ok, "{out}");
    assert!(out.contains("start the server once"), "{out}");
    assert_eq!(rows_in(&url), 0);
}
