//! Several nodes on one PostgreSQL database, on a real server: bucket keys
//! raced by two nodes are created once and both use the winner's; a second
//! node's store opens the installation the first created (a new
//! installation is an empty database); an unreachable database fails the
//! start within seconds, naming the database without its password.

#[path = "common/postgres.rs"]
mod postgres_server;

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use postgres_server::PgServer;
use veil_base::{CameraId, SimulatedClock, Time90k};
use veil_store::crypto::Key;
use veil_store::db::Db;
use veil_store::keys::Keyring;
use veil_store::root::{KekSource, RootKeySource};
use veil_store::segment::BUCKET_90K as HOUR;
use veil_store::{Error, Store};

const BASE: i64 = 1_795_000_000 * 90_000 / HOUR * HOUR;

#[test]
fn two_nodes_racing_create_each_bucket_key_once() {
    let pg = PgServer::start();
    let url = pg.fresh_database();
    let a = Db::open_postgres(&url).unwrap();
    let b = Db::open_postgres(&url).unwrap();
    let camera: CameraId = a
        .upsert_camera("c", "synthetic", "{}", Time90k(BASE))
        .unwrap();
    let root = Key::generate();
    let keyrings = [
        Keyring::new(a.clone(), Key::from_bytes(*root.as_bytes())),
        Keyring::new(b.clone(), Key::from_bytes(*root.as_bytes())),
    ];
    const BUCKETS: i64 = 40;
    let barrier = Arc::new(Barrier::new(2));
    let got: Vec<Vec<(i64, [u8; 32])>> = std::thread::scope(|s| {
        let handles: Vec<_> = keyrings
            .iter()
            .map(|k| {
                let barrier = barrier.clone();
                s.spawn(move || {
                    (0..BUCKETS)
                        .map(|h| {
                            // Both nodes ask for the same new bucket at once.
                            barrier.wait();
                            let (id, key) = k
                                .bucket_for_write(camera, "main", Time90k(BASE + h * HOUR))
                                .unwrap();
                            (id, *key.as_bytes())
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(got[0], got[1], "both nodes use the same key per bucket");
    let ids: std::collections::BTreeSet<i64> = got[0].iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), BUCKETS as usize);
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let rows: i64 = client
        .query_one("SELECT COUNT(*) FROM bucket_key", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, BUCKETS, "one row per bucket");
    // Each key is the one stored (a third reader unwraps the same).
    let c = Keyring::new(Db::open_postgres(&url).unwrap(), root);
    for (h, (id, key)) in got[0].iter().enumerate() {
        let k = c
            .bucket_by_id(*id, camera, "main", Time90k(BASE + h as i64 * HOUR))
            .unwrap();
        assert_eq!(k.as_bytes(), key);
    }
}

fn kek_source(dir: &Path, kek: &Key) -> Arc<dyn RootKeySource> {
    Arc::new(KekSource::with_kek(
        Key::from_bytes(*kek.as_bytes()),
        "test key-encryption key",
        dir,
    ))
}

#[test]
fn a_second_node_opens_the_installation_the_first_created() {
    let pg = PgServer::start();
    let url = pg.fresh_database();
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(SimulatedClock::new(Time90k(BASE)));
    let kek = Key::generate();
    let one = tmp.path().join("one");
    let first = Store::open_dir_database(
        &one,
        clock.clone(),
        Some(kek_source(&one, &kek)),
        Some(&url),
    )
    .unwrap();
    assert!(!one.join("veil.db").exists(), "no SQLite beside PostgreSQL");
    let camera = first
        .db
        .upsert_camera("c", "synthetic", "{}", Time90k(BASE))
        .unwrap();
    let (id, key) = first
        .keys()
        .bucket_for_write(camera, "main", Time90k(BASE))
        .unwrap();

    // A node whose directory lacks the root key: the database is not empty,
    // so nothing is created, and the refusal names the missing key.
    let two = tmp.path().join("two");
    let e = Store::open_dir_database(
        &two,
        clock.clone(),
        Some(kek_source(&two, &kek)),
        Some(&url),
    )
    .err()
    .unwrap();
    assert!(
        matches!(&e, Error::Invalid(m) | Error::NotFound(m) if m.contains("root")),
        "{e}"
    );
    assert!(!two.join("root.1.sealed").exists());

    // With the key copied to it, the second node reads the first's keys.
    std::fs::copy(one.join("root.1.sealed"), two.join("root.1.sealed")).unwrap();
    let second = Store::open_dir_database(
        &two,
        clock.clone(),
        Some(kek_source(&two, &kek)),
        Some(&url),
    )
    .unwrap();
    let k = second
        .keys()
        .bucket_by_id(id, camera, "main", Time90k(BASE))
        .unwrap();
    assert_eq!(k.as_bytes(), key.as_bytes());
}

#[test]
fn an_unreachable_database_fails_within_seconds_without_the_password() {
    // A port nobody listens on, and an address that never answers.
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(SimulatedClock::new(Time90k(BASE)));
    for url in [
        "postgres://veil:s3cret-pw@127.0.0.1:1/veil",
        "postgres://veil:s3cret-pw@10.255.255.1:5432/veil",
    ] {
        let started = Instant::now();
        let e = Store::open_dir_database(&tmp.path().join("d"), clock.clone(), None, Some(url))
            .err()
            .unwrap()
            .to_string();
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{:?}",
            started.elapsed()
        );
        assert!(e.contains("database"), "{e}");
        assert!(e.contains(&url.replace("s3cret-pw", "***")), "{e}");
        assert!(!e.contains("s3cret-pw"), "{e}");
    }
}
