//! Camera leases with fencing tokens, in one process: several simulated
//! recorders (a `LeaseKeeper` and a `Store` with its fence each, each with
//! its own database connection) over one database and one object store,
//! driven by a simulated clock. On PostgreSQL where `VEIL_TEST_POSTGRES`
//! names a server (a fresh database per test), else one SQLite file.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::SEC;
use veil_base::{CameraId, SimulatedClock, Time90k};
use veil_media::synthetic::SyntheticConfig;
use veil_store::crypto::Key;
use veil_store::leases::{Fence, LeaseKeeper, LEASE_EXPIRY_90K, POLL_PERIOD_90K, RENEW_PERIOD_90K};
use veil_store::objects::MARKER;
use veil_store::{recorder, Db, Error, LocalDir, NewSegment, ObjectStore, Store};

const T0: i64 = 1_795_000_000 * SEC;
const ROOT: [u8; 32] = [7; 32];

struct Cluster {
    db: Db,
    /// The PostgreSQL database's URL; `None`: the SQLite file `veil.db`.
    url: Option<String>,
    objects: Arc<LocalDir>,
    clock: SimulatedClock,
    cameras: Vec<CameraId>,
    template: NewSegment,
    _dir: tempfile::TempDir,
}

/// One simulated recorder process.
struct Node {
    keeper: LeaseKeeper,
    store: Store,
}

impl Cluster {
    fn new(cameras: usize) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let url = veil_store::testing::postgres_server()
            .map(|server| Db::create_test_database(&server).unwrap());
        let db = match &url {
            Some(url) => Db::open_postgres(url).unwrap(),
            None => Db::open(&dir.path().join("veil.db")).unwrap(),
        };
        let objects = LocalDir::open(&dir.path().join("objects")).unwrap();
        objects
            .ensure_marker(&db.installation_id().unwrap(), || Ok(0))
            .unwrap();
        let cameras: Vec<CameraId> = (0..cameras)
            .map(|i| {
                db.upsert_camera(&format!("cam{i:02}"), "synthetic", "{}", Time90k(T0))
                    .unwrap()
            })
            .collect();
        let config = SyntheticConfig {
            width: 160,
            height: 120,
            fps: 25,
            gop_frames: 25,
            bitrate_bps: 100_000,
            seed: 1,
        };
        // One segment of 2 s, re-addressed to each camera and time.
        let template = recorder::synthetic_segments(CameraId(1), config, Time90k(T0), 51, 2 * SEC)
            .unwrap()
            .remove(0);
        Cluster {
            db,
            url,
            objects: Arc::new(objects),
            clock: SimulatedClock::new(Time90k(T0)),
            cameras,
            template,
            _dir: dir,
        }
    }

    /// A recorder with node id `id`: its own store (same root key, database
    /// and objects as the others) fenced by its keeper's leases.
    fn node(&self, id: &str) -> Node {
        let db = self.connect();
        let fence = Fence::new(id);
        let mut store = Store::new(
            db.clone(),
            self.objects.clone(),
            Key::from_bytes(ROOT),
            Arc::new(self.clock.clone()),
        );
        store.set_fence(fence.clone());
        Node {
            keeper: LeaseKeeper::new(db, fence, "").with_caller_clock(),
            store,
        }
    }

    /// A new connection to the cluster's database, as a node process has.
    fn connect(&self) -> Db {
        match &self.url {
            Some(url) => Db::open_postgres(url).unwrap(),
            None => Db::open(&self._dir.path().join("veil.db")).unwrap(),
        }
    }

    fn now(&self) -> Time90k {
        veil_base::Clock::now(&self.clock)
    }

    fn segment(&self, camera: CameraId, start: Time90k) -> NewSegment {
        let mut s = self.template.clone();
        s.camera = camera;
        s.run_start_90k = start;
        s.start_90k = start;
        s
    }

    /// How many live leases each node holds, from the database.
    fn holders(&self) -> BTreeMap<String, usize> {
        let now = self.now();
        let mut out = BTreeMap::new();
        for l in self.db.leases().unwrap() {
            if l.expires_90k >= now {
                *out.entry(l.holder).or_insert(0) += 1;
            }
        }
        out
    }

    /// The holder of `camera`'s live lease.
    fn holder(&self, camera: CameraId) -> Option<(String, i64)> {
        let now = self.now();
        self.db
            .leases()
            .unwrap()
            .into_iter()
            .find(|l| l.camera_id == camera && l.expires_90k >= now)
            .map(|l| (l.holder, l.token))
    }

    /// Every object but the marker.
    async fn object_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .objects
            .list()
            .await
            .unwrap()
            .into_iter()
            .filter(|k| k != MARKER)
            .collect();
        keys.sort();
        keys
    }

    /// `(camera, start)` of every segment row, asserting none is there twice.
    fn segment_times(&self) -> Vec<(CameraId, Time90k)> {
        let mut all = Vec::new();
        for &c in &self.cameras {
            for s in self
                .db
                .segments(c, "main", Time90k(0), Time90k(i64::MAX / 2))
                .unwrap()
            {
                all.push((s.camera_id, s.start_90k));
            }
        }
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "a segment was stored twice");
        all
    }

    fn advance(&self, d: i64) {
        self.clock.advance(d);
    }
}

fn tick(c: &Cluster, nodes: &mut [&mut Node]) {
    let now = c.now();
    for n in nodes.iter_mut() {
        n.keeper.tick(now).unwrap();
    }
}

#[tokio::test]
async fn three_recorders_share_thirty_cameras_evenly() {
    let c = Cluster::new(30);
    let (mut a, mut b, mut r) = (c.node("a"), c.node("b"), c.node("c"));
    // Each recorder registers at its first tick; until then a recorder
    // counts only those it has seen, so the first round may be uneven.
    tick(&c, &mut [&mut a, &mut b, &mut r]);
    c.advance(RENEW_PERIOD_90K);
    tick(&c, &mut [&mut a, &mut b, &mut r]);
    c.advance(RENEW_PERIOD_90K);
    tick(&c, &mut [&mut a, &mut b, &mut r]);
    let holders = c.holders();
    assert_eq!(
        holders,
        BTreeMap::from([("a".into(), 10), ("b".into(), 10), ("c".into(), 10)])
    );
    // Every camera exactly once, and each fence matches the database.
    let mut seen: Vec<CameraId> = Vec::new();
    for n in [&a, &b, &r] {
        for (cam, token) in n.keeper.fence().held() {
            assert_eq!(
                c.holder(cam),
                Some((n.keeper.fence().node().to_owned(), token))
            );
            seen.push(cam);
        }
    }
    seen.sort();
    assert_eq!(seen, c.cameras);
    // Stable: further rounds change nothing.
    c.advance(RENEW_PERIOD_90K);
    let now = c.now();
    for n in [&mut a, &mut b, &mut r] {
        assert_eq!(n.keeper.tick(now).unwrap(), Default::default());
    }
}

#[tokio::test]
async fn three_recorders_ticking_once_each_hold_ten_cameras_each() {
    let c = Cluster::new(30);
    let (mut a, mut b, mut r) = (c.node("a"), c.node("b"), c.node("c"));
    // All three have registered (a heartbeat) before the first round of takes.
    let now = c.now();
    for id in ["a", "b", "c"] {
        c.db.heartbeat_node(id, "recorder", "", now).unwrap();
    }
    tick(&c, &mut [&mut a, &mut b, &mut r]);
    assert_eq!(
        c.holders(),
        BTreeMap::from([("a".into(), 10), ("b".into(), 10), ("c".into(), 10)])
    );
    assert_eq!(c.db.leases().unwrap().len(), 30);
}

#[tokio::test]
async fn a_dead_recorders_cameras_are_taken_within_one_period_and_written_with_new_tokens() {
    let c = Cluster::new(30);
    let (mut a, mut b, mut r) = (c.node("a"), c.node("b"), c.node("c"));
    for _ in 0..3 {
        tick(&c, &mut [&mut a, &mut b, &mut r]);
        c.advance(RENEW_PERIOD_90K);
    }
    let dead: Vec<(CameraId, i64)> = r.keeper.fence().held();
    assert_eq!(dead.len(), 10);
    // `r` stops ticking at `last`; its leases expire at `last + expiry`.
    let last = c.now();
    tick(&c, &mut [&mut a, &mut b, &mut r]);
    let mut taken_at = None;
    for _ in 0..6 {
        c.advance(RENEW_PERIOD_90K);
        let now = c.now();
        let ga = a.keeper.tick(now).unwrap();
        let gb = b.keeper.tick(now).unwrap();
        assert!(ga.lost.is_empty() && gb.lost.is_empty());
        if !ga.gained.is_empty() || !gb.gained.is_empty() {
            assert_eq!(ga.gained.len() + gb.gained.len(), 10);
            taken_at.get_or_insert(now);
        }
    }
    let taken_at = taken_at.expect("the dead recorder's cameras were taken");
    // Taken at the first tick after the expiry: within one period of it.
    assert!(taken_at.0 > last.0 + LEASE_EXPIRY_90K);
    assert!(taken_at.0 <= last.0 + LEASE_EXPIRY_90K + RENEW_PERIOD_90K);
    assert_eq!(
        c.holders(),
        BTreeMap::from([("a".into(), 15), ("b".into(), 15)])
    );
    // Each of the dead recorder's cameras is written by its new holder under
    // a token one more than the dead one's.
    let t = c.now();
    for (cam, old) in dead {
        let (holder, token) = c.holder(cam).unwrap();
        assert_eq!(token, old + 1);
        let n = if holder == "a" { &a } else { &b };
        assert_eq!(n.keeper.fence().token(cam), Some(token));
        n.store.write_segment(c.segment(cam, t)).await.unwrap();
    }
    assert_eq!(c.segment_times().len(), 10);
    assert_eq!(c.object_keys().await.len(), 10);
}

#[tokio::test]
async fn a_paused_recorders_late_write_is_refused_and_it_gives_the_camera_up() {
    let c = Cluster::new(2);
    let (mut a, mut b) = (c.node("a"), c.node("b"));
    let cam = c.cameras[0];
    for _ in 0..2 {
        tick(&c, &mut [&mut a, &mut b]);
        c.advance(RENEW_PERIOD_90K);
    }
    // Whichever holds the first camera plays `a`, the paused one.
    if a.keeper.fence().token(cam).is_none() {
        std::mem::swap(&mut a, &mut b);
    }
    let old = a.keeper.fence().token(cam).unwrap();
    let t1 = c.now();
    a.store.write_segment(c.segment(cam, t1)).await.unwrap();
    // `a` is paused (SIGSTOP): it stops ticking, past its lease's expiry;
    // `b` goes on and takes both cameras.
    let mut b_gained = Vec::new();
    for _ in 0..5 {
        c.advance(RENEW_PERIOD_90K);
        b_gained.extend(b.keeper.tick(c.now()).unwrap().gained);
    }
    let (holder, token) = c.holder(cam).unwrap();
    assert_eq!((holder.as_str(), token), ("b", old + 1));
    assert!(b_gained.contains(&(cam, old + 1)));
    let objects_before = c.object_keys().await;
    let rows_before = c.segment_times();

    // `a` wakes (SIGCONT) and writes what it had buffered, for a time `b`
    // records too, under its old token: refused, no row, no object.
    let t2 = Time90k(c.now().0 - 2 * SEC);
    let e = a.store.write_segment(c.segment(cam, t2)).await.unwrap_err();
    assert!(matches!(e, Error::LeaseLost(_)), "{e}");
    assert_eq!(c.segment_times(), rows_before);
    assert_eq!(c.object_keys().await, objects_before);
    let fault = a.store.write_fault(cam).unwrap();
    assert!(
        fault
            .message
            .contains("this recorder no longer holds the camera"),
        "{}",
        fault.message
    );
    // `b` writes the same time: stored once.
    b.store.write_segment(c.segment(cam, t2)).await.unwrap();

    // `a`'s next tick reports the camera lost and does not take it back
    // while `b` renews; its store then refuses before writing anything.
    let changes = a.keeper.tick(c.now()).unwrap();
    assert!(changes.lost.contains(&cam), "{changes:?}");
    assert!(changes.gained.iter().all(|(g, _)| *g != cam), "{changes:?}");
    assert_eq!(a.keeper.fence().token(cam), None);
    for _ in 0..4 {
        c.advance(RENEW_PERIOD_90K);
        let now = c.now();
        let cb = b.keeper.tick(now).unwrap();
        assert!(!cb.lost.contains(&cam), "{cb:?}");
        let ca = a.keeper.tick(now).unwrap();
        assert!(ca.gained.iter().all(|(g, _)| *g != cam), "{ca:?}");
    }
    assert_eq!(c.holder(cam).unwrap(), ("b".to_owned(), old + 1));
    let e = a
        .store
        .write_segment(c.segment(cam, c.now()))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::LeaseLost(_)), "{e}");
    // One row per (camera, time) (asserted by `segment_times`), and as many
    // objects as rows.
    let rows = c.segment_times();
    assert_eq!(rows, vec![(cam, t1), (cam, t2)]);
    assert_eq!(c.object_keys().await.len(), rows.len());
    // The two recorders now share the two cameras.
    assert_eq!(
        c.holders(),
        BTreeMap::from([("a".into(), 1), ("b".into(), 1)])
    );
}

#[tokio::test]
async fn a_new_recorder_gets_its_share_within_one_period() {
    let c = Cluster::new(30);
    let (mut a, mut b, mut r) = (c.node("a"), c.node("b"), c.node("c"));
    for _ in 0..3 {
        tick(&c, &mut [&mut a, &mut b, &mut r]);
        c.advance(RENEW_PERIOD_90K);
    }
    let mut d = c.node("d");
    // `d` joins: nothing is free yet; the others release their excess at
    // their tick; `d` takes it at its next, one period later.
    let joined = c.now();
    let first = d.keeper.tick(joined).unwrap();
    assert!(first.gained.is_empty());
    let mut released = 0;
    for n in [&mut a, &mut b, &mut r] {
        let ch = n.keeper.tick(joined).unwrap();
        assert!(ch.gained.is_empty());
        released += ch.lost.len();
    }
    c.advance(RENEW_PERIOD_90K);
    let next = d.keeper.tick(c.now()).unwrap();
    assert_eq!(next.gained.len(), released);
    tick(&c, &mut [&mut a, &mut b, &mut r]);
    let holders = c.holders();
    assert_eq!(holders.values().sum::<usize>(), 30);
    assert_eq!(holders.len(), 4);
    assert!(holders.values().all(|&n| n == 7 || n == 8), "{holders:?}");
    // The new recorder writes one of its cameras; a camera it released to
    // no one is not another's, and vice versa.
    let (cam, _) = d.keeper.fence().held()[0];
    d.store
        .write_segment(c.segment(cam, c.now()))
        .await
        .unwrap();
    let e = a
        .store
        .write_segment(c.segment(cam, c.now()))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::LeaseLost(_)), "{e}");
    assert_eq!(c.object_keys().await.len(), 1);
}

#[tokio::test]
async fn without_a_fence_the_store_writes_as_before_and_with_one_refuses_unheld_cameras() {
    let c = Cluster::new(2);
    let plain = Store::new(
        c.db.clone(),
        c.objects.clone(),
        Key::from_bytes(ROOT),
        Arc::new(c.clock.clone()),
    );
    // No lease rows at all: the embedded default writes.
    plain
        .write_segment(c.segment(c.cameras[0], c.now()))
        .await
        .unwrap();
    assert!(c.db.leases().unwrap().is_empty());
    assert_eq!(c.object_keys().await.len(), 1);

    // A fenced store holding nothing refuses before sealing or putting.
    let n = c.node("a");
    let e = n
        .store
        .write_segment(c.segment(c.cameras[1], c.now()))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::LeaseLost(_)), "{e}");
    assert_eq!(c.object_keys().await.len(), 1);
    assert_eq!(c.db.segment_count().unwrap(), 1);
    assert!(n
        .store
        .write_fault(c.cameras[1])
        .unwrap()
        .message
        .contains("this recorder no longer holds the camera"));

    // A fence naming a token the database does not have is refused at the
    // insert, and the object it had put is deleted.
    c.db.ensure_lease_rows().unwrap();
    n.keeper.fence().hold(c.cameras[1], 41);
    let e = n
        .store
        .write_segment(c.segment(c.cameras[1], c.now()))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::LeaseLost(_)), "{e}");
    assert_eq!(c.object_keys().await.len(), 1);
    assert_eq!(c.db.segment_count().unwrap(), 1);
}

#[test]
fn a_disabled_camera_is_released_and_not_shared() {
    let c = Cluster::new(3);
    let mut settings = veil_store::db::CameraSettings {
        name: "gate".into(),
        source_kind: "rtsp".into(),
        source_config: "{}".into(),
        enabled: true,
        recording_mode: "continuous".into(),
        group: String::new(),
        segment_seconds: None,
        recording_config: None,
        audio: Default::default(),
        metadata: Default::default(),
        area: "private".into(),
        ptz: Default::default(),
    };
    let cam = c.db.insert_managed_camera(&settings, c.now()).unwrap();
    let mut a = c.node("a");
    a.keeper.tick(c.now()).unwrap();
    assert_eq!(a.keeper.fence().held().len(), 4);
    settings.enabled = false;
    assert!(c.db.update_managed_camera(cam, &settings).unwrap());
    c.advance(RENEW_PERIOD_90K);
    let ch = a.keeper.tick(c.now()).unwrap();
    assert_eq!(ch.lost, vec![cam]);
    assert!(ch.gained.is_empty());
    assert_eq!(a.keeper.fence().token(cam), None);
    assert_eq!(c.holders(), BTreeMap::from([("a".into(), 3)]));
    // Deleted, it stays out.
    assert!(c.db.delete_managed_camera(cam, c.now()).unwrap());
    c.advance(RENEW_PERIOD_90K);
    assert_eq!(a.keeper.tick(c.now()).unwrap(), Default::default());
}

#[test]
fn recorders_taking_at_the_same_time_never_share_a_camera() {
    let c = Cluster::new(30);
    let now = c.now();
    let ids = ["a", "b", "c"];
    for id in ids {
        c.db.heartbeat_node(id, "recorder", "", now).unwrap();
    }
    let held: Vec<Vec<(CameraId, i64)>> = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .map(|id| {
                let mut n = c.node(id);
                s.spawn(move || {
                    let ch = n.keeper.tick(now).unwrap();
                    assert_eq!(ch.gained, n.keeper.fence().held());
                    ch.gained
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<CameraId> = held.iter().flatten().map(|(cam, _)| *cam).collect();
    all.sort();
    assert_eq!(all, c.cameras, "every camera taken exactly once");
    assert!(held.iter().all(|h| h.len() == 10), "{held:?}");
    assert!(held.iter().flatten().all(|(_, token)| *token == 1));
}

#[test]
fn a_tick_failing_partway_reports_its_changes_with_the_next() {
    let c = Cluster::new(10);
    let mut a = c.node("a");
    // The database stops answering after three takes: those three are in
    // the fence, and the next successful tick reports them with the rest.
    a.keeper.fail_for_tests("take", 3);
    assert!(a.keeper.tick(c.now()).is_err());
    assert_eq!(a.keeper.fence().held().len(), 3);
    c.advance(RENEW_PERIOD_90K);
    let ch = a.keeper.tick(c.now()).unwrap();
    assert!(ch.lost.is_empty(), "{ch:?}");
    assert_eq!(ch.gained, a.keeper.fence().held());
    assert_eq!(ch.gained.len(), 10);

    // `b` joins; `a`'s release of its excess fails after the first camera
    // left the fence: that camera is reported lost (here by
    // `expire_unrenewed`, at once) and never again.
    let mut b = c.node("b");
    b.keeper.tick(c.now()).unwrap();
    a.keeper.fail_for_tests("release", 0);
    assert!(a.keeper.tick(c.now()).is_err());
    assert_eq!(a.keeper.fence().held().len(), 9);
    let first = a.keeper.expire_unrenewed(c.now());
    assert_eq!(first.len(), 1);
    assert_eq!(a.keeper.fence().token(first[0]), None);
    let ch = a.keeper.tick(c.now()).unwrap();
    assert!(ch.gained.is_empty(), "{ch:?}");
    assert_eq!(ch.lost.len(), 4, "{ch:?}");
    assert!(!ch.lost.contains(&first[0]));
    assert_eq!(a.keeper.fence().held().len(), 5);

    // A release failing with no `expire_unrenewed`: the next tick reports
    // the camera it had taken out of the fence.
    let mut r = c.node("c");
    r.keeper.tick(c.now()).unwrap();
    b.keeper.tick(c.now()).unwrap();
    a.keeper.fail_for_tests("release", 0);
    assert!(a.keeper.tick(c.now()).is_err());
    assert_eq!(a.keeper.fence().held().len(), 4);
    let ch = a.keeper.tick(c.now()).unwrap();
    assert_eq!(ch.lost.len(), 5 - a.keeper.fence().held().len(), "{ch:?}");
    assert!(ch.lost.iter().all(|l| a.keeper.fence().token(*l).is_none()));
    // Every camera the keeper ever reported gained and not lost is exactly
    // what its fence holds.
    for cam in &c.cameras {
        if let Some(t) = a.keeper.fence().token(*cam) {
            assert_eq!(c.holder(*cam), Some(("a".to_owned(), t)));
        }
    }
}

#[test]
fn a_take_failing_after_an_expiry_reports_no_gain_of_cameras_it_gives_up() {
    let c = Cluster::new(4);
    let mut a = c.node("a");
    a.keeper.fail_for_tests("take", 2);
    assert!(a.keeper.tick(c.now()).is_err());
    assert_eq!(a.keeper.fence().held().len(), 2);
    // The database stays away past the expiry: the two cameras taken but
    // never reported leave the fence, and are not reported gained later.
    c.advance(LEASE_EXPIRY_90K + 1);
    let lost = a.keeper.expire_unrenewed(c.now());
    assert_eq!(lost.len(), 2);
    assert!(a.keeper.fence().held().is_empty());
    let ch = a.keeper.tick(c.now()).unwrap();
    assert!(ch.lost.is_empty(), "{ch:?}");
    assert_eq!(ch.gained, a.keeper.fence().held());
    assert_eq!(ch.gained.len(), 4);
}

#[tokio::test]
async fn a_pipeline_writes_only_under_the_token_it_was_started_with() {
    let c = Cluster::new(1);
    let cam = c.cameras[0];
    let mut a = c.node("a");
    let ch = a.keeper.tick(c.now()).unwrap();
    let old = ch.gained[0].1;
    let first = a.store.for_lease(cam, old);
    first.write_segment(c.segment(cam, c.now())).await.unwrap();
    // The database does not answer past the expiry: the camera leaves the
    // fence, but its pipeline is never stopped. The node takes the camera
    // again under a new token and starts a second pipeline.
    c.advance(LEASE_EXPIRY_90K + 1);
    assert_eq!(a.keeper.expire_unrenewed(c.now()), vec![cam]);
    let ch = a.keeper.tick(c.now()).unwrap();
    assert_eq!(ch.gained, vec![(cam, old + 1)]);
    let second = a.store.for_current_lease(cam).unwrap();
    // Both write the same times: only the second is stored.
    let t = c.now();
    let e = first.write_segment(c.segment(cam, t)).await.unwrap_err();
    assert!(matches!(e, Error::LeaseLost(_)), "{e}");
    second.write_segment(c.segment(cam, t)).await.unwrap();
    let e = first
        .write_segment(c.segment(cam, Time90k(t.0 + 2 * SEC)))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::LeaseLost(_)), "{e}");
    assert_eq!(c.segment_times().len(), 2);
    assert_eq!(c.object_keys().await.len(), 2);
    // A pipeline's store writes its own camera only.
    let other = a.store.for_lease(CameraId(cam.0 + 1000), old + 1);
    assert!(other.write_segment(c.segment(cam, t)).await.is_err());
    assert_eq!(c.segment_times().len(), 2);
}

#[tokio::test]
async fn a_fenced_insert_held_open_and_a_take_never_both_succeed_concurrently() {
    let c = Cluster::new(1);
    let cam = c.cameras[0];
    let (mut a, b) = (c.node("a"), c.node("b"));
    let token = a.keeper.tick(c.now()).unwrap().gained[0].1;
    a.store
        .for_lease(cam, token)
        .write_segment(c.segment(cam, c.now()))
        .await
        .unwrap();
    let mut row =
        c.db.segments(cam, "main", Time90k(0), Time90k(i64::MAX / 2))
            .unwrap()
            .remove(0);
    row.start_90k = Time90k(row.start_90k.0 + 2 * SEC);
    row.object_key.push_str("-race");
    // `a`'s lease has expired (it stopped renewing); `b` takes it while
    // `a`'s insert holds its transaction open after the lease check.
    c.advance(LEASE_EXPIRY_90K + 1);
    let now = c.now();
    let (a_db, b_db) = (a.store.db.clone(), b.store.db.clone());
    let (checked_tx, checked_rx) = std::sync::mpsc::channel();
    let (inserted, taken) = std::thread::scope(|s| {
        let insert = s.spawn(move || {
            let mut released = None;
            let r = a_db.insert_segment_fenced_pausing(&row, "a", token, || {
                checked_tx.send(()).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(1500));
                released = Some(std::time::Instant::now());
            });
            (r, released)
        });
        let take = s.spawn(move || {
            checked_rx.recv().unwrap();
            let r = b_db.take_lease(cam, "b", now, Time90k(now.0 + LEASE_EXPIRY_90K));
            (r, std::time::Instant::now())
        });
        (insert.join().unwrap(), take.join().unwrap())
    });
    let ((insert, released), (take, took_at)) = (inserted, taken);
    assert_eq!(take.unwrap(), Some(token + 1));
    match insert {
        // The insert went in: the take waited for its commit.
        Ok(_) => assert!(took_at >= released.unwrap(), "the take did not wait"),
        Err(e) => assert!(matches!(e, Error::LeaseLost(_)), "{e}"),
    }
    // After the take, `a`'s token is refused.
    let e = a
        .store
        .for_lease(cam, token)
        .write_segment(c.segment(cam, Time90k(now.0 + 10 * SEC)))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::LeaseLost(_)), "{e}");
}

#[test]
fn on_postgresql_leases_are_on_the_databases_clock_whatever_the_nodes_clocks_say() {
    let c = Cluster::new(2);
    if c.url.is_none() {
        // SQLite: one process, one clock.
        return;
    }
    let node = |id: &str| LeaseKeeper::new(c.connect(), Fence::new(id), "");
    let (mut a, mut b) = (node("a"), node("b"));
    // `a`'s clock is right; `b`'s a minute ahead, then a minute behind.
    let right = Time90k(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            * SEC,
    );
    assert_eq!(a.tick(right).unwrap().gained.len(), 2);
    // Ahead: `a`'s live leases are not expired for `b`.
    let ch = b.tick(Time90k(right.0 + 60 * SEC)).unwrap();
    assert!(ch.gained.is_empty(), "{ch:?}");
    // `a` gives `b` its share; `b` takes it; behind, `b` is not dead for
    // `a`, which keeps its one camera and takes nothing of `b`'s.
    let ch = a.tick(right).unwrap();
    assert_eq!(ch.lost.len(), 1, "{ch:?}");
    let ch = b.tick(Time90k(right.0 - 60 * SEC)).unwrap();
    assert_eq!(ch.gained.len(), 1, "{ch:?}");
    for _ in 0..3 {
        assert_eq!(a.tick(right).unwrap(), Default::default());
        assert_eq!(
            b.tick(Time90k(right.0 - 60 * SEC)).unwrap(),
            Default::default()
        );
    }
    let holders: Vec<String> =
        c.db.leases()
            .unwrap()
            .into_iter()
            .map(|l| l.holder)
            .collect();
    assert_eq!(holders.len(), 2);
    assert!(holders.contains(&"a".to_owned()) && holders.contains(&"b".to_owned()));
}

#[tokio::test]
async fn ticking_every_poll_period_takes_a_dead_recorders_cameras_within_one_poll_of_the_expiry() {
    let c = Cluster::new(30);
    let (mut a, mut b, mut r) = (c.node("a"), c.node("b"), c.node("c"));
    for _ in 0..3 {
        tick(&c, &mut [&mut a, &mut b, &mut r]);
        c.advance(RENEW_PERIOD_90K);
    }
    let dead = r.keeper.fence().held();
    assert_eq!(dead.len(), 10);
    let expiry_of = |cam: CameraId| {
        c.db.leases()
            .unwrap()
            .into_iter()
            .find(|l| l.camera_id == cam)
            .unwrap()
            .expires_90k
    };
    // `r` renews for the last time at `last` and dies.
    tick(&c, &mut [&mut a, &mut b, &mut r]);
    let last = c.now();
    let (a_cam, _) = a.keeper.fence().held()[0];
    let a_expiry = expiry_of(a_cam);
    // The survivors tick every poll period; they renew only every renewal
    // period (a tick between renewals leaves their leases' expiry as it is).
    assert_eq!(a.keeper.poll_period_90k(), POLL_PERIOD_90K);
    let mut taken_at = None;
    while taken_at.is_none() {
        c.advance(POLL_PERIOD_90K);
        let now = c.now();
        assert!(
            now.0 <= last.0 + LEASE_EXPIRY_90K + RENEW_PERIOD_90K,
            "not taken"
        );
        let ga = a.keeper.tick(now).unwrap();
        let gb = b.keeper.tick(now).unwrap();
        assert!(ga.lost.is_empty() && gb.lost.is_empty());
        if now.0 - last.0 < RENEW_PERIOD_90K {
            assert_eq!(expiry_of(a_cam), a_expiry, "renewed between renewals");
        }
        if !ga.gained.is_empty() || !gb.gained.is_empty() {
            assert_eq!(ga.gained.len() + gb.gained.len(), 10);
            taken_at = Some(now);
        }
    }
    // Taken at the first poll after the expiry, not at the next renewal.
    let taken_at = taken_at.unwrap();
    assert!(taken_at.0 > last.0 + LEASE_EXPIRY_90K);
    assert!(taken_at.0 <= last.0 + LEASE_EXPIRY_90K + POLL_PERIOD_90K);
    assert_eq!(
        c.holders(),
        BTreeMap::from([("a".into(), 15), ("b".into(), 15)])
    );
    for (cam, old) in dead {
        assert_eq!(c.holder(cam).unwrap().1, old + 1);
    }
}
