//! The motion detector of one camera session, on its own thread: keyframes
//! go in through a queue of one (a keyframe that finds the queue full is
//! skipped, so a slow detector never holds up ingest), verdicts come back
//! tagged with their keyframe's presentation time.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use bytes::Bytes;
use veil_base::{CameraId, Time90k};
use veil_media::motion::{MotionConfig, MotionDetector};
use veil_media::VideoParams;

/// A keyframe to look at.
struct Job {
    pts: Time90k,
    params: Arc<VideoParams>,
    data: Bytes,
}

/// A running detector thread; it ends when this is dropped.
pub(crate) struct Detector {
    jobs: SyncSender<Job>,
    verdicts: Receiver<(Time90k, bool)>,
    /// Keyframes not looked at because the detector was busy.
    pub(crate) skipped: u64,
}

impl Detector {
    /// Starts the thread.
    pub(crate) fn spawn(camera: CameraId, config: MotionConfig) -> Detector {
        let (jobs, job_rx) = mpsc::sync_channel::<Job>(1);
        let (verdict_tx, verdicts) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name(format!("motion-{}", camera.0))
            .spawn(move || run(camera, config, job_rx, verdict_tx));
        if let Err(e) = spawned {
            tracing::error!(camera = camera.0, error = %e, "cannot start the motion detector");
        }
        Detector {
            jobs,
            verdicts,
            skipped: 0,
        }
    }

    /// Queues a keyframe unless the detector is busy.
    pub(crate) fn submit(&mut self, pts: Time90k, params: Arc<VideoParams>, data: Bytes) {
        match self.jobs.try_send(Job { pts, params, data }) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => self.skipped += 1,
        }
    }

    /// Verdicts that have arrived: (keyframe time, motion).
    pub(crate) fn verdicts(&self) -> impl Iterator<Item = (Time90k, bool)> + '_ {
        self.verdicts.try_iter()
    }
}

fn run(
    camera: CameraId,
    config: MotionConfig,
    jobs: Receiver<Job>,
    verdicts: mpsc::Sender<(Time90k, bool)>,
) {
    let mut detector = match MotionDetector::new(config) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(camera = camera.0, error = %e, "cannot start the motion detector");
            return;
        }
    };
    let mut params: Option<Arc<VideoParams>> = None;
    while let Ok(job) = jobs.recv() {
        if params.as_ref() != Some(&job.params) {
            detector.reset();
            params = Some(job.params.clone());
        }
        let motion = match detector.keyframe(&job.params, &job.data) {
            Ok(score) => score.motion,
            Err(e) => {
                tracing::debug!(camera = camera.0, error = %e, "keyframe not analysed");
                detector.reset();
                false
            }
        };
        if verdicts.send((job.pts, motion)).is_err() {
            return;
        }
    }
}
