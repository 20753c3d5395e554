//! Per-camera ingest status: what the API and the UI show.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use veil_base::{CameraId, Time90k, TIME_UNITS_PER_SEC};

/// Where a camera's ingest stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IngestState {
    /// Connecting (or reconnecting) to the camera.
    Connecting,
    /// Frames are arriving and being recorded.
    Recording,
    /// Connected and live view works, but nothing is recorded now (see
    /// `standby_reason`: outside the schedule, waiting for motion).
    Standby,
    /// The last attempt failed; a retry is scheduled (see `last_error`).
    Error,
    /// Not running (disabled or shut down).
    Stopped,
}

impl IngestState {
    /// The stable name used in the API and the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            IngestState::Connecting => "connecting",
            IngestState::Recording => "recording",
            IngestState::Standby => "standby",
            IngestState::Error => "error",
            IngestState::Stopped => "stopped",
        }
    }
}

/// A snapshot of one camera's ingest. Messages are credential-free.
#[derive(Clone, Debug, PartialEq)]
pub struct CameraStatus {
    /// Current state.
    pub state: IngestState,
    /// The last error, kept after recovery so people can see what happened.
    pub last_error: Option<String>,
    /// When the last error happened.
    pub last_error_90k: Option<Time90k>,
    /// Wall-clock time the last frame arrived.
    pub last_frame_90k: Option<Time90k>,
    /// Video bitrate over the last measurement window.
    pub bitrate_bps: u64,
    /// Frames per second over the last measurement window.
    pub fps: f64,
    /// Displayed size of the current stream.
    pub width: u16,
    /// Displayed height of the current stream.
    pub height: u16,
    /// Connection attempts that failed or ended since start.
    pub reconnects: u64,
    /// Frames dropped because they were malformed or could not be decoded
    /// (missing keyframe).
    pub frames_dropped: u64,
    /// Delay before the next attempt, while in `Error`.
    pub retry_in_ms: Option<u64>,
    /// Why nothing is recorded, while in `Standby`.
    pub standby_reason: Option<&'static str>,
    /// Motion cameras: the latest keyframe that showed motion.
    pub last_motion_90k: Option<Time90k>,
    /// Motion cameras: keyframes not analysed because the detector was busy.
    pub motion_skipped: u64,
    /// What happens to the streams besides video (audio, metadata): recorded,
    /// or why not. Empty when none is enabled.
    pub tracks: Vec<String>,
}

impl Default for CameraStatus {
    fn default() -> Self {
        CameraStatus {
            state: IngestState::Stopped,
            last_error: None,
            last_error_90k: None,
            last_frame_90k: None,
            bitrate_bps: 0,
            fps: 0.0,
            width: 0,
            height: 0,
            reconnects: 0,
            frames_dropped: 0,
            retry_in_ms: None,
            standby_reason: None,
            last_motion_90k: None,
            motion_skipped: 0,
            tracks: Vec::new(),
        }
    }
}

/// The status of every camera with an ingest task. Cheap to clone.
#[derive(Clone, Default)]
pub struct StatusBoard {
    inner: Arc<Mutex<HashMap<CameraId, CameraStatus>>>,
}

impl StatusBoard {
    /// A camera's current status, if it has an ingest task.
    pub fn get(&self, camera: CameraId) -> Option<CameraStatus> {
        self.lock().get(&camera).cloned()
    }

    /// Changes a camera's status in place.
    pub fn update(&self, camera: CameraId, f: impl FnOnce(&mut CameraStatus)) {
        f(self.lock().entry(camera).or_default());
    }

    /// Forgets a camera (it was deleted).
    pub fn remove(&self, camera: CameraId) {
        self.lock().remove(&camera);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CameraId, CameraStatus>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Measures frame rate and bitrate over windows of camera time (at least two
/// seconds), so the figures follow the stream's own clock.
#[derive(Clone, Debug, Default)]
pub struct RateMeter {
    window_start: Option<i64>,
    frames: u64,
    bytes: u64,
}

/// The shortest window a rate is computed over.
const WINDOW_90K: i64 = 2 * TIME_UNITS_PER_SEC;

impl RateMeter {
    /// Adds a frame; returns `(fps, bits per second)` when a window closed.
    pub fn frame(&mut self, pts_90k: i64, bytes: usize) -> Option<(f64, u64)> {
        let start = *self.window_start.get_or_insert(pts_90k);
        let elapsed = pts_90k - start;
        if elapsed >= WINDOW_90K {
            let secs = elapsed as f64 / TIME_UNITS_PER_SEC as f64;
            let rates = (
                self.frames as f64 / secs,
                (self.bytes as f64 * 8.0 / secs) as u64,
            );
            *self = RateMeter {
                window_start: Some(pts_90k),
                frames: 1,
                bytes: bytes as u64,
            };
            return Some(rates);
        }
        if elapsed < 0 {
            // Timestamps went backwards by more than reordering allows: restart.
            *self = RateMeter::default();
            return self.frame(pts_90k, bytes);
        }
        self.frames += 1;
        self.bytes += bytes as u64;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_follow_camera_time() {
        let mut m = RateMeter::default();
        let mut last = None;
        for i in 0..=50i64 {
            if let Some(r) = m.frame(i * 3600, 10_000) {
                last = Some(r);
            }
        }
        let (fps, bps) = last.unwrap();
        assert!((fps - 25.0).abs() < 0.01, "{fps}");
        assert_eq!(bps, 2_000_000);
    }

    #[test]
    fn board_updates_and_removes() {
        let b = StatusBoard::default();
        assert!(b.get(CameraId(1)).is_none());
        b.update(CameraId(1), |s| s.state = IngestState::Recording);
        assert_eq!(b.get(CameraId(1)).unwrap().state.as_str(), "recording");
        b.remove(CameraId(1));
        assert!(b.get(CameraId(1)).is_none());
    }
}
