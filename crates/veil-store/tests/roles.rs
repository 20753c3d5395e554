//! Scale-out roles in one process over one database and object store:
//! the maintenance job lease (one node runs the jobs, another takes over
//! after the expiry), a recorder's self-fencing when the database does not
//! answer, and start-up recovery's age rule for objects without a row.

mod common;

use std::sync::Arc;

use common::SEC;
use veil_base::{CameraId, SimulatedClock, Time90k};
use veil_store::crypto::Key;
use veil_store::leases::{
    Fence, JobGuard, JobLease, LeaseKeeper, LEASE_EXPIRY_90K, MAINTENANCE_JOB, RENEW_PERIOD_90K,
};
use veil_store::{segment, Db, LocalDir, ObjectStore, Store, SHARED_ORPHAN_MIN_AGE_90K};

const T0: i64 = 1_795_000_000 * SEC;

fn open() -> (tempfile::TempDir, Db, Arc<LocalDir>) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("veil.db")).unwrap();
    let objects = LocalDir::open(&dir.path().join("objects")).unwrap();
    objects
        .ensure_marker(&db.installation_id().unwrap(), || Ok(0))
        .unwrap();
    (dir, db, Arc::new(objects))
}

#[test]
fn one_node_runs_the_maintenance_jobs_and_another_takes_over_after_the_expiry() {
    let (_dir, db, _) = open();
    let mut a = JobLease::new(db.clone(), MAINTENANCE_JOB, "a");
    let mut b = JobLease::new(db.clone(), MAINTENANCE_JOB, "b");
    let mut now = T0;
    assert!(a.tick(Time90k(now)).unwrap());
    assert!(!b.tick(Time90k(now)).unwrap());
    // a renews every period: b never gets it.
    for _ in 0..10 {
        now += RENEW_PERIOD_90K;
        assert!(a.tick(Time90k(now)).unwrap());
        assert!(!b.tick(Time90k(now)).unwrap());
        assert!(a.holds(Time90k(now)) && !b.holds(Time90k(now)));
    }
    // a dies: b takes over at its first tick after the expiry, not before.
    let last = now;
    while now <= last + LEASE_EXPIRY_90K {
        now += RENEW_PERIOD_90K;
        let taken = b.tick(Time90k(now)).unwrap();
        assert_eq!(taken, now > last + LEASE_EXPIRY_90K, "at {}", now - last);
    }
    assert_eq!(db.job_lease(MAINTENANCE_JOB).unwrap().unwrap().0, "b");
    // a comes back: it no longer holds the lease, and gets nothing.
    assert!(!a.tick(Time90k(now)).unwrap());
    assert!(!a.holds(Time90k(now)));
    // b stops in order: a takes it at its next tick, without waiting.
    b.release().unwrap();
    assert!(!b.holds(Time90k(now)));
    now += RENEW_PERIOD_90K;
    assert!(a.tick(Time90k(now)).unwrap());
}

#[test]
fn a_node_that_lost_the_job_lease_is_refused_by_its_guard_before_destroying() {
    let (_dir, db, _) = open();
    let mut a = JobLease::new(db.clone(), MAINTENANCE_JOB, "a");
    let mut b = JobLease::new(db.clone(), MAINTENANCE_JOB, "b");
    let (ga, gb) = (a.guard(), b.guard());
    // Before any take neither may destroy; the embedded guard always may.
    assert!(ga.check().is_err() && gb.check().is_err());
    assert!(JobGuard::unleased().check().is_ok());
    assert!(a.tick(Time90k(T0)).unwrap());
    assert_eq!(a.token(), Some(1));
    assert!(ga.check().is_ok());
    // a pauses past its expiry (no tick); b takes the lease: a's guard,
    // which still has token 1, refuses, whatever a's clock says.
    let later = Time90k(T0 + LEASE_EXPIRY_90K + 1);
    assert!(b.tick(later).unwrap());
    assert_eq!(b.token(), Some(2));
    assert!(matches!(ga.check(), Err(veil_store::Error::LeaseLost(_))));
    assert!(gb.check().is_ok());
    // a comes back: it holds nothing, and its guard still refuses.
    assert!(!a.tick(later).unwrap());
    assert_eq!(a.token(), None);
    assert!(ga.check().is_err());
    // b stops in order: its guard refuses from then on.
    b.release().unwrap();
    assert!(gb.check().is_err());
}

#[test]
fn a_node_whose_database_fails_holds_its_job_lease_only_until_the_expiry() {
    let (_dir, db, _) = open();
    let mut a = JobLease::new(db.clone(), MAINTENANCE_JOB, "a");
    assert!(a.tick(Time90k(T0)).unwrap());
    sql(&_dir, "ALTER TABLE job_lease RENAME TO job_lease_away");
    let t = Time90k(T0 + RENEW_PERIOD_90K);
    assert!(a.tick(t).is_err());
    assert!(a.holds(t));
    assert!(!a.holds(Time90k(T0 + LEASE_EXPIRY_90K)));
}

/// Runs `text` on the database file through a connection of its own (a
/// fault injected from outside the store).
fn sql(dir: &tempfile::TempDir, text: &str) {
    rusqlite::Connection::open(dir.path().join("veil.db"))
        .unwrap()
        .execute_batch(text)
        .unwrap();
}

/// Makes the node registry unreachable (every keeper tick fails) or
/// reachable again.
fn break_registry(dir: &tempfile::TempDir, broken: bool) {
    sql(
        dir,
        if broken {
            "ALTER TABLE recorder_node RENAME TO recorder_node_away"
        } else {
            "ALTER TABLE recorder_node_away RENAME TO recorder_node"
        },
    );
}

#[test]
fn a_recorder_that_cannot_reach_the_database_stops_its_cameras_at_its_lease_expiry() {
    let (_dir, db, _) = open();
    let cams: Vec<CameraId> = (0..3)
        .map(|i| {
            db.upsert_camera(&format!("c{i}"), "synthetic", "{}", Time90k(T0))
                .unwrap()
        })
        .collect();
    let fence = Fence::new("r1");
    let mut keeper = LeaseKeeper::new(db.clone(), fence.clone(), "");
    let gained = keeper.tick(Time90k(T0)).unwrap().gained;
    assert_eq!(gained.len(), 3);
    let renewed = T0 + RENEW_PERIOD_90K;
    keeper.tick(Time90k(renewed)).unwrap();

    break_registry(&_dir, true);
    // Ticks fail; the cameras stay in the fence (recording goes on) while
    // the leases are live by the node's clock...
    let mut now = renewed;
    loop {
        now += RENEW_PERIOD_90K;
        assert!(keeper.tick(Time90k(now)).is_err());
        let lost = keeper.expire_unrenewed(Time90k(now));
        if now < renewed + LEASE_EXPIRY_90K {
            assert!(lost.is_empty(), "at {}", now - renewed);
            assert_eq!(fence.held().len(), 3);
        } else {
            // ...and at the expiry every camera is reported lost and leaves
            // the fence: no segment is stored under its token any more.
            assert_eq!(lost, cams);
            assert!(fence.held().is_empty());
            break;
        }
    }
    assert!(keeper.expire_unrenewed(Time90k(now)).is_empty());

    // The database answers again: the node takes its cameras back (its
    // leases expired, nobody took them) under new tokens.
    break_registry(&_dir, false);
    now += RENEW_PERIOD_90K;
    let changes = keeper.tick(Time90k(now)).unwrap();
    assert_eq!(changes.gained.iter().map(|g| g.0).collect::<Vec<_>>(), cams);
    assert!(changes.gained.iter().all(|g| g.1 == 2));
}

#[tokio::test]
async fn on_a_shared_database_recovery_keeps_young_objects_without_rows() {
    let (_dir, db, objects) = open();
    let clock = SimulatedClock::new(Time90k(T0));
    let store = Store::new(
        db.clone(),
        objects.clone(),
        Key::from_bytes([7; 32]),
        Arc::new(clock.clone()),
    );
    let cam = db
        .upsert_camera("c", "synthetic", "{}", Time90k(T0))
        .unwrap();
    // One segment with its row, recorded 2 h ago.
    common::record(&store, cam, T0 - 7200 * SEC, 2).await;
    let with_row = objects.list().await.unwrap();
    // Objects without rows: one of a segment that started 2 h ago (a
    // crash's leftover), one that started 10 s ago (another recorder's,
    // its row a moment away), and a partial write of each age.
    let old = segment::object_key(cam, "main", Time90k(T0 - 7200 * SEC), 1);
    let young = segment::object_key(cam, "main", Time90k(T0 - 10 * SEC), 2);
    for k in [&old, &young] {
        objects.put(k, vec![1, 2, 3]).await.unwrap();
    }
    let old_partial = segment::object_key(cam, "main", Time90k(T0 - 7200 * SEC), 3) + ".partial";
    let young_partial = segment::object_key(cam, "main", Time90k(T0 - 5 * SEC), 4) + ".partial";
    for k in [&old_partial, &young_partial] {
        let p = _dir.path().join("objects").join(k);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    let report = store
        .recover_keeping_young(Some(SHARED_ORPHAN_MIN_AGE_90K))
        .await
        .unwrap();
    assert_eq!(report.orphan_objects_deleted, 1);
    assert_eq!(report.partial_writes_deleted, 1);
    assert_eq!(report.young_objects_kept, 2);
    assert_eq!(report.rows_marked_missing, 0);
    let mut left = objects.list().await.unwrap();
    left.sort();
    let mut want = with_row.clone();
    want.push(young.clone());
    want.push(young_partial.clone());
    want.sort();
    assert_eq!(left, want);

    // One process owning the store (SQLite) deletes every object without a
    // row, as before.
    let report = store.recover().await.unwrap();
    assert!(!db.is_postgres());
    assert_eq!(report.orphan_objects_deleted, 1);
    assert_eq!(report.partial_writes_deleted, 1);
    assert_eq!(report.young_objects_kept, 0);
    let mut left = objects.list().await.unwrap();
    left.sort();
    let mut want = with_row;
    want.sort();
    assert_eq!(left, want);
}
