//! An object store that stops answering (paused, partitioned): a put hangs
//! until its request timeout, so no write fails while nothing is stored.
//! The camera's write fault shows it once the put has been pending for
//! longer than `PENDING_PUT_FAULT_90K`, and clears when the put completes.

mod common;

use std::sync::Arc;

use common::SEC;
use futures::future::BoxFuture;
use veil_base::{CameraId, SimulatedClock, Time90k};
use veil_media::synthetic::SyntheticConfig;
use veil_store::crypto::Key;
use veil_store::{recorder, Db, Error, LocalDir, ObjectStore, Store, PENDING_PUT_FAULT_90K};

const T0: i64 = 1_795_000_000 * SEC;

/// A local directory whose puts wait, while held, until released.
struct Hanging {
    inner: LocalDir,
    /// `true` while puts hang.
    held: tokio::sync::watch::Sender<bool>,
    /// Puts that have begun (and may be waiting).
    started: tokio::sync::watch::Sender<usize>,
}

impl ObjectStore for Hanging {
    fn put(&self, key: &str, data: Vec<u8>) -> BoxFuture<'_, Result<(), Error>> {
        let key = key.to_owned();
        Box::pin(async move {
            self.started.send_modify(|n| *n += 1);
            let mut held = self.held.subscribe();
            held.wait_for(|h| !*h).await.expect("sender alive");
            self.inner.put(&key, data).await
        })
    }
    fn get(&self, key: &str) -> BoxFuture<'_, Result<Vec<u8>, Error>> {
        self.inner.get(key)
    }
    fn size(&self, key: &str) -> BoxFuture<'_, Result<Option<u64>, Error>> {
        self.inner.size(key)
    }
    fn delete(&self, key: &str) -> BoxFuture<'_, Result<(), Error>> {
        self.inner.delete(key)
    }
    fn list(&self) -> BoxFuture<'_, Result<Vec<String>, Error>> {
        self.inner.list()
    }
}

#[tokio::test]
async fn a_put_pending_past_the_threshold_shows_as_the_cameras_fault_until_it_completes() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("veil.db")).unwrap();
    let inner = LocalDir::open(&dir.path().join("objects")).unwrap();
    inner
        .ensure_marker(&db.installation_id().unwrap(), || Ok(0))
        .unwrap();
    let objects = Arc::new(Hanging {
        inner,
        held: tokio::sync::watch::Sender::new(true),
        started: tokio::sync::watch::Sender::new(0),
    });
    let clock = SimulatedClock::new(Time90k(T0));
    let store = Store::new(
        db.clone(),
        objects.clone(),
        Key::from_bytes([3; 32]),
        Arc::new(clock.clone()),
    );
    let cam = db
        .upsert_camera("a", "synthetic", "{}", Time90k(T0))
        .unwrap();
    let other = db
        .upsert_camera("b", "synthetic", "{}", Time90k(T0))
        .unwrap();
    let config = SyntheticConfig {
        width: 160,
        height: 120,
        fps: 25,
        gop_frames: 25,
        bitrate_bps: 100_000,
        seed: 1,
    };
    let segment = recorder::synthetic_segments(cam, config, Time90k(T0), 51, 2 * SEC)
        .unwrap()
        .remove(0);

    let s = store.clone();
    let write = tokio::spawn(async move { s.write_segment(segment).await });
    let mut started = objects.started.subscribe();
    started.wait_for(|n| *n == 1).await.unwrap();

    // Pending, but not yet for longer than the threshold: no fault.
    assert_eq!(store.write_fault(cam), None);
    clock.advance(PENDING_PUT_FAULT_90K);
    assert_eq!(store.write_fault(cam), None);

    // Past it: the camera's fault says the object store does not answer,
    // since when; the other camera has none.
    clock.advance(2 * SEC);
    let f = store.write_fault(cam).expect("a fault while the put hangs");
    assert_eq!(f.since, Time90k(T0));
    assert!(!f.disk_full);
    assert_eq!(
        f.message,
        "segments are not being stored: the object store has not answered for 7 s"
    );
    assert_eq!(store.write_fault(other), None);
    assert!(!write.is_finished());

    // The put completes: the segment is stored and the fault is gone.
    objects.held.send_replace(false);
    let id = write.await.unwrap().unwrap();
    assert_eq!(store.write_fault(cam), None);
    let rows = db
        .segments(
            cam,
            veil_store::MAIN_RENDITION,
            Time90k(0),
            Time90k(i64::MAX),
        )
        .unwrap();
    assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), vec![id]);
    assert!(store.write_fault(CameraId(cam.0)).is_none());
}
