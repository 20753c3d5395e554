//! The recording gate of documented purposes (P8) in the synthetic
//! recorder: without a purpose a camera streams live and stores nothing; a
//! purpose set while it runs starts recording at the next keyframe, and
//! clearing it stops recording; each stretch with a purpose is its own run,
//! even when the purpose is cleared and set again between two keyframes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use veil_base::{SharedClock, SystemClock, Time90k};
use veil_media::synthetic::SyntheticConfig;
use veil_store::recorder::{self, LiveHub, StopSignal, SyntheticRecording};
use veil_store::MAIN_RENDITION;

/// The store treats a purpose as opaque JSON (the web layer checks it).
const PURPOSE: &str = r#"{"purposes":["Protection of the premises against theft"]}"#;

async fn wait_until(what: &str, f: impl Fn() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synthetic_camera_records_only_while_it_has_a_documented_purpose() {
    let dir = tempfile::tempdir().unwrap();
    let clock: SharedClock = Arc::new(SystemClock);
    let store = veil_store::testing::open_dir(dir.path(), clock).unwrap();
    let camera = store
        .db
        .upsert_camera("lobby", "synthetic", "{}", Time90k(0))
        .unwrap();
    assert!(!store.may_record(camera));
    let live = LiveHub::default();
    let mut rx = live.subscribe(camera);
    let stop = StopSignal::default();
    let writer = recorder::spawn_synthetic(
        store.clone(),
        live,
        SyntheticRecording {
            camera,
            config: SyntheticConfig {
                width: 160,
                height: 120,
                fps: 25,
                gop_frames: 5,
                bitrate_bps: 100_000,
                seed: 1,
            },
            segment_90k: 18_000,
            live_only: false,
        },
        stop.clone(),
    )
    .unwrap();
    // Live view works without a purpose; nothing is stored.
    for _ in 0..25 {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("no live frame")
            .unwrap();
    }
    let count = || store.db.segment_count().unwrap();
    assert_eq!(count(), 0);
    assert!(store.db.any_bucket_key().unwrap().is_none());

    // Documented while it runs: it records, without a restart.
    assert!(store.set_camera_purpose(camera, Some(PURPOSE)).unwrap());
    assert!(store.may_record(camera));
    wait_until("segments once documented", || count() >= 3).await;

    // Cleared: it stops at the next keyframe.
    assert!(store.set_camera_purpose(camera, None).unwrap());
    assert!(!store.may_record(camera));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopped = count();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(count(), stopped, "nothing stored once the purpose is gone");

    // Documented again: a second run, apart from the first.
    assert!(store.set_camera_purpose(camera, Some(PURPOSE)).unwrap());
    wait_until("segments once documented again", || count() >= stopped + 3).await;

    // Cleared and set again at once, between two keyframes: the recorder
    // still ends its run (a segment cut meanwhile may have been dropped, so
    // the run could not claim to be continuous) and goes on in a third.
    assert!(store.set_camera_purpose(camera, None).unwrap());
    assert!(store.set_camera_purpose(camera, Some(PURPOSE)).unwrap());
    let again = count();
    wait_until("segments after a quick clear and set", || {
        count() >= again + 3
    })
    .await;
    stop.stop();
    tokio::time::timeout(Duration::from_secs(10), writer)
        .await
        .expect("the camera did not stop")
        .unwrap();
    let runs = store
        .runs(camera, MAIN_RENDITION, Time90k(0), Time90k(i64::MAX / 2))
        .unwrap();
    assert_eq!(runs.len(), 3, "one run per documented stretch: {runs:?}");
    // An unknown camera has no purpose to set.
    assert!(!store
        .set_camera_purpose(veil_base::CameraId(999), Some(PURPOSE))
        .unwrap());
}

#[tokio::test]
async fn purposes_are_read_from_the_database_at_first_use() {
    let dir = tempfile::tempdir().unwrap();
    let clock: SharedClock = Arc::new(SystemClock);
    let camera = {
        let store = veil_store::testing::open_dir(dir.path(), clock.clone()).unwrap();
        let camera = store
            .db
            .upsert_camera("lobby", "synthetic", "{}", Time90k(0))
            .unwrap();
        assert!(store.set_camera_purpose(camera, Some(PURPOSE)).unwrap());
        camera
    };
    let store = veil_store::testing::open_dir(dir.path(), clock).unwrap();
    assert!(store.may_record(camera));
    assert!(!store.may_record(veil_base::CameraId(camera.0 + 1)));
}
