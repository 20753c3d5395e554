//! What the store's integration tests share.

#![allow(dead_code)]

use veil_base::{CameraId, Time90k};
use veil_media::synthetic::SyntheticConfig;
use veil_store::{recorder, Store};

/// One second in 90 kHz units.
pub const SEC: i64 = 90_000;

/// `seconds` of a small synthetic camera (160 × 120, 25 fps, a keyframe a
/// second, segments of 2 s) from `start`, stored.
pub async fn record(s: &Store, camera: CameraId, start: i64, seconds: i64) {
    let config = SyntheticConfig {
        width: 160,
        height: 120,
        fps: 25,
        gop_frames: 25,
        bitrate_bps: 100_000,
        seed: 1,
    };
    let frames = (seconds * 25 + 1) as u32;
    for n in recorder::synthetic_segments(camera, config, Time90k(start), frames, 2 * SEC).unwrap()
    {
        s.write_segment(n).await.unwrap();
    }
}
