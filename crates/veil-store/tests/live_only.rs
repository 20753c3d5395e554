//! A live-only synthetic camera: its frames reach live view in real time,
//! and nothing is stored (no segment, no bucket key), also when it stops.

use std::sync::Arc;
use std::time::Duration;

use veil_base::{SharedClock, SystemClock, Time90k};
use veil_media::synthetic::SyntheticConfig;
use veil_store::recorder::{self, LiveHub, StopSignal, SyntheticRecording};

async fn frames_then_stored(live_only: bool) -> (usize, u64) {
    let dir = tempfile::tempdir().unwrap();
    let clock: SharedClock = Arc::new(SystemClock);
    let store = veil_store::testing::open_dir(dir.path(), clock).unwrap();
    let camera = store
        .db
        .upsert_camera("lobby", "synthetic", "{}", Time90k(0))
        .unwrap();
    // Documented (a camera without a purpose records nothing either way).
    assert!(store.set_camera_purpose(camera, Some("{}")).unwrap());
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
            // Segments of 0.2 s: a recording camera stores several.
            segment_90k: 18_000,
            live_only,
        },
        stop.clone(),
    )
    .unwrap();
    let mut keyframes = 0;
    for _ in 0..30 {
        let f = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("no live frame")
            .unwrap();
        keyframes += usize::from(f.is_key);
    }
    stop.stop();
    tokio::time::timeout(Duration::from_secs(10), writer)
        .await
        .expect("the camera did not stop")
        .unwrap();
    let stored = store.db.segment_count().unwrap();
    if live_only {
        assert!(store.db.any_bucket_key().unwrap().is_none());
    }
    (keyframes, stored)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_only_synthetic_camera_streams_live_and_stores_nothing() {
    let (keyframes, stored) = frames_then_stored(true).await;
    assert!(keyframes >= 5, "{keyframes} keyframes");
    assert_eq!(stored, 0);
    // The same camera recording: the comparison shows the test can fail.
    let (_, stored) = frames_then_stored(false).await;
    assert!(stored >= 3, "{stored} segments");
}
