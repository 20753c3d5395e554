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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};
    use veil_media::synthetic::{SyntheticCamera, SyntheticConfig};

    /// Keyframes offered faster than they decode are skipped and counted;
    /// every keyframe is either analysed (one verdict) or skipped, and
    /// offering never waits for the decoder.
    #[test]
    fn a_busy_detector_skips_keyframes_and_counts_them() {
        let mut cam = SyntheticCamera::new(SyntheticConfig::default()).unwrap();
        let params = Arc::new(cam.params().clone());
        let key = Bytes::from(cam.next_frame("key").unwrap().data);
        let mut d = Detector::spawn(CameraId(1), MotionConfig::default());
        const OFFERED: u64 = 50;
        for i in 0..OFFERED {
            d.submit(Time90k(i as i64 * 90_000), params.clone(), key.clone());
        }
        assert!(d.skipped > 0, "50 keyframes at once cannot all be queued");
        let mut analysed = 0u64;
        let until = Instant::now() + Duration::from_secs(30);
        while analysed + d.skipped < OFFERED && Instant::now() < until {
            analysed += d.verdicts().count() as u64;
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            analysed + d.skipped,
            OFFERED,
            "each keyframe analysed or skipped"
        );
        assert!(analysed >= 1, "the first keyframe is analysed");
    }
}
