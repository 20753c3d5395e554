//! `veil bench audit|ingest --database-url URL`: the benchmarks measure
//! PostgreSQL next to SQLite in the same run (and PostgreSQL + S3 next to
//! SQLite + S3 for ingest), in databases of their own that they drop
//! afterwards. Small runs against a real PostgreSQL server and moto: the
//! output's lines, the objects in the bucket, no database left behind.

mod common;

use common::nodes::postgres_server::PgServer;
use common::nodes::{bucket_client, bucket_keys, moto};

/// The names of the server's databases made by the benchmarks.
fn bench_databases(pg: &PgServer) -> Vec<String> {
    let mut c = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    c.query(
        "SELECT datname FROM pg_database WHERE datname LIKE 'veil_bench_%'",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// The line of `out` containing `what`.
fn line<'a>(out: &'a str, what: &str) -> &'a str {
    out.lines()
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no {what:?} line: {out}"))
}

#[test]
fn bench_audit_measures_sqlite_and_postgresql_side_by_side() {
    let pg = PgServer::start();
    let scratch = tempfile::tempdir().unwrap();
    let url = pg.url();
    let args = [
        "bench",
        "audit",
        "--writers",
        "4",
        "--appends",
        "50",
        "--verify-entries",
        "1000",
        "--data",
        scratch.path().to_str().unwrap(),
        "--database-url",
        &url,
    ];
    let (ok, out) = common::run_veil(&args);
    assert!(ok, "{out}");
    assert!(
        line(&out, "audit append: ").contains("one commit per entry"),
        "{out}"
    );
    let pg_line = line(&out, "audit append on PostgreSQL (");
    assert!(
        pg_line.contains("durable appends/s with 4 writers")
            && pg_line.contains("one commit per entry"),
        "{pg_line}"
    );
    // Two nodes on one chain: the 200 entries verify as one chain.
    assert!(
        line(&out, "2 nodes").contains("the chain of 200 entries verifies"),
        "{out}"
    );
    let side = line(&out, "audit side by side: ");
    assert!(
        side.contains("SQLite") && side.contains("PostgreSQL"),
        "{side}"
    );
    let verify = line(&out, "audit verify stored: ");
    assert!(
        verify.contains("SQLite 200 entries") && verify.contains("PostgreSQL 200 entries"),
        "{verify}"
    );
    assert!(
        line(&out, "audit verify: 1000 entries").contains("raw SHA-256"),
        "{out}"
    );
    assert_eq!(bench_databases(&pg), Vec::<String>::new(), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_ingest_measures_postgresql_and_s3_next_to_sqlite() {
    let pg = PgServer::start();
    let s3 = moto::MotoServer::start();
    let bucket = s3.fresh_bucket();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("veil.toml");
    std::fs::write(&config, s3.objects_toml(&bucket, dir.path())).unwrap();
    let scratch = dir.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let url = pg.url();
    let args = [
        "bench",
        "ingest",
        "--streams",
        "2",
        "--seconds",
        "2",
        "--runs",
        "1",
        "--allow-tmpfs",
        "--data",
        scratch.to_str().unwrap(),
        "--s3-config",
        config.to_str().unwrap(),
        "--database-url",
        &url,
    ];
    let (ok, out) = tokio::task::block_in_place(|| common::run_veil(&args));
    assert!(ok, "{out}");
    for mode in [
        "SQLite + local directory: ",
        "SQLite + S3 (object store s3",
        ") + local directory: ",
        ") + S3 (object store s3",
    ] {
        let l = line(&out, mode);
        assert!(
            l.starts_with("ingest side by side: ")
                && (mode.starts_with("SQLite") || l.contains("PostgreSQL (postgres://")),
            "{l}"
        );
        for figure in [
            "segments/s",
            "MB/s",
            "per 4 Mbit/s stream",
            "by throughput",
            "per core by CPU",
        ] {
            assert!(l.contains(figure), "{l}");
        }
    }
    assert!(!out.contains("not measured"), "{out}");
    assert!(!out.contains(moto::SECRET_ACCESS_KEY), "{out}");
    // Both S3 modes wrote their segments (2 streams, 1 segment each): the
    // PostgreSQL one under a prefix of its own, named after its database.
    let keys = bucket_keys(&bucket_client(&s3, &bucket)).await;
    let (pg_keys, sqlite_keys): (Vec<_>, Vec<_>) =
        keys.iter().partition(|k| k.starts_with("veil_bench_"));
    assert_eq!(sqlite_keys.len(), 2, "{keys:?}");
    assert_eq!(pg_keys.len(), 2, "{keys:?}");
    let left = tokio::task::block_in_place(|| bench_databases(&pg));
    assert_eq!(left, Vec::<String>::new(), "{out}");
}
