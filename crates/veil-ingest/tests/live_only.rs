//! A live-only camera against a real RTSP server (GStreamer): live view gets
//! its frames, its status says it is live only, and nothing is stored: no
//! segment and no bucket key, before or after the ingest stops.

mod common;

use std::time::Duration;

use common::*;
use veil_ingest::{IngestState, RecordingMode, RtspTransport};
use veil_store::recorder::LiveHub;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_live_only_camera_streams_live_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "clip.mp4", 10, &[]);
    let server = RtspServer::start(free_port(), &["--clip", clip.to_str().unwrap()]);
    let (store, camera) = store(dir.path());
    let mut src = source(camera, &server.url(), RtspTransport::Tcp);
    src.segment_90k = 90_000;
    src.recording = RecordingMode::LiveOnly;
    let live = LiveHub::default();
    let mut live_rx = live.subscribe(camera);
    let ingest = Ingest::start_with_live(&store, src, live);

    let mut frames = 0;
    let mut keyframes = 0;
    while frames < 100 {
        let f = tokio::time::timeout(Duration::from_secs(30), live_rx.recv())
            .await
            .expect("no live frame")
            .unwrap();
        frames += 1;
        keyframes += usize::from(f.is_key);
    }
    // 100 frames at 25 fps, a keyframe every second, segments of 1 s: a
    // recording camera would have stored several segments by now.
    assert!(keyframes >= 3, "{keyframes} keyframes");
    ingest
        .wait_for(10, "standby", |s| s.state == IngestState::Standby)
        .await;
    let status = ingest.status();
    assert_eq!(
        status.standby_reason,
        Some("live only: nothing is recorded")
    );
    assert!(status.fps > 0.0 && status.width == 320, "{status:?}");
    assert_eq!(store.db.segment_count().unwrap(), 0);
    ingest.stop().await;
    assert_eq!(store.db.segment_count().unwrap(), 0);
    assert!(store.db.bucket_key_scopes().unwrap().is_empty());
    assert!(store.db.any_bucket_key().unwrap().is_none());
}
