//! Recording: cutting frames into GOP-aligned segments, handing finished segments
//! to the store, and fanning frames out to live viewers.
//!
//! [`Segmenter`] is pure (frames in, closed segments out). [`spawn_synthetic`]
//! drives a synthetic camera in real time on its own thread; ingest from real
//! cameras will feed the same segmenter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{broadcast, mpsc};
use veil_base::metrics::Counter;
use veil_base::{CameraId, Time90k, TIME_UNITS_PER_SEC};
use veil_media::mp4::Sample;
use veil_media::synthetic::{SyntheticCamera, SyntheticConfig};
use veil_media::VideoParams;

use crate::mask_stage::{recorded_rendition, MaskStage, StagedFrame};
use crate::{NewSegment, Store, MAIN_RENDITION, ORIGINAL_RENDITION};

/// One frame as live viewers receive it.
#[derive(Clone, Debug)]
pub struct LiveFrame {
    /// Codec parameters in force for this frame.
    pub params: Arc<VideoParams>,
    /// Wall-clock time of the frame.
    pub pts_90k: Time90k,
    /// Its duration.
    pub duration_90k: u32,
    /// Whether it is a keyframe (a viewer can start here).
    pub is_key: bool,
    /// 4-byte length-prefixed NAL units.
    pub data: Bytes,
}

/// Per-camera broadcast channels for live view. Slow viewers lag and skip; they
/// never slow down recording.
#[derive(Clone, Default)]
pub struct LiveHub {
    channels: Arc<Mutex<HashMap<CameraId, broadcast::Sender<LiveFrame>>>>,
    params: Arc<Mutex<HashMap<CameraId, Arc<VideoParams>>>>,
    feeds: Arc<Mutex<HashMap<CameraId, Arc<FeedStats>>>>,
    demand: Arc<Mutex<Option<DemandHook>>>,
}

/// Called when a viewer wants a camera's frames ([`LiveHub::want`]): a web
/// node's relay starts fetching them from the recorder that holds it.
pub type DemandHook = Arc<dyn Fn(CameraId) + Send + Sync>;

/// Counts of one camera's frames as they are published (every frame of
/// every camera, recorded or not), and its rates over wall-clock windows.
#[derive(Debug, Default)]
pub struct FeedStats {
    /// Frames published since the server started.
    pub frames: Counter,
    /// Their bytes (video only).
    pub bytes: Counter,
    rate: Mutex<WallRate>,
}

#[derive(Debug, Default)]
struct WallRate {
    window_start: Option<Instant>,
    frames: u64,
    bytes: u64,
    last_frame: Option<Instant>,
    fps: f64,
    bitrate_bps: u64,
}

/// The shortest wall-clock window a feed's rates are computed over.
const RATE_WINDOW: Duration = Duration::from_secs(2);
/// A feed with no frame for this long has rates of zero.
const RATE_STALE: Duration = Duration::from_secs(5);

impl FeedStats {
    fn frame(&self, bytes: usize, now: Instant) {
        self.frames.inc();
        self.bytes.add(bytes as u64);
        let mut r = self.rate.lock().unwrap_or_else(|p| p.into_inner());
        if r.last_frame
            .is_some_and(|t| now.duration_since(t) > RATE_STALE)
        {
            r.window_start = None;
        }
        r.last_frame = Some(now);
        let start = *r.window_start.get_or_insert(now);
        let elapsed = now.duration_since(start);
        if elapsed >= RATE_WINDOW {
            let secs = elapsed.as_secs_f64();
            r.fps = r.frames as f64 / secs;
            r.bitrate_bps = (r.bytes as f64 * 8.0 / secs) as u64;
            r.window_start = Some(now);
            r.frames = 0;
            r.bytes = 0;
        }
        r.frames += 1;
        r.bytes += bytes as u64;
    }

    /// `(frames per second, bits per second)` over the last closed window;
    /// zero when no frame came for a few seconds.
    pub fn rate(&self) -> (f64, u64) {
        self.rate_at(Instant::now())
    }

    fn rate_at(&self, now: Instant) -> (f64, u64) {
        let r = self.rate.lock().unwrap_or_else(|p| p.into_inner());
        match r.last_frame {
            Some(t) if now.saturating_duration_since(t) <= RATE_STALE => (r.fps, r.bitrate_bps),
            _ => (0.0, 0),
        }
    }
}

impl LiveHub {
    fn sender(&self, camera: CameraId) -> broadcast::Sender<LiveFrame> {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(camera)
            .or_insert_with(|| broadcast::channel(256).0)
            .clone()
    }

    /// Subscribes to a camera's frames from now on.
    pub fn subscribe(&self, camera: CameraId) -> broadcast::Receiver<LiveFrame> {
        self.sender(camera).subscribe()
    }

    /// Says that a viewer subscribed to `camera` wants its frames: calls
    /// the hook set by [`LiveHub::set_demand_hook`], if any (on a node
    /// that does not record the camera, the relay fetches them).
    pub fn want(&self, camera: CameraId) {
        let hook = self
            .demand
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(h) = hook {
            h(camera);
        }
    }

    /// Sets the hook [`LiveHub::want`] calls.
    pub fn set_demand_hook(&self, hook: DemandHook) {
        *self.demand.lock().unwrap_or_else(|p| p.into_inner()) = Some(hook);
    }

    /// How many receivers the camera's channel has now (viewers, and the
    /// internal channel's streams).
    pub fn receivers(&self, camera: CameraId) -> usize {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&camera)
            .map_or(0, |c| c.receiver_count())
    }

    /// The codec parameters of the camera's latest frame, if it has sent one.
    pub fn latest_params(&self, camera: CameraId) -> Option<Arc<VideoParams>> {
        self.params
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&camera)
            .cloned()
    }

    /// The frame counts and rates of a camera that has published a frame.
    pub fn feed(&self, camera: CameraId) -> Option<Arc<FeedStats>> {
        self.feeds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&camera)
            .cloned()
    }

    /// Every camera that has published a frame, by id.
    pub fn feeds(&self) -> Vec<(CameraId, Arc<FeedStats>)> {
        let mut v: Vec<_> = self
            .feeds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        v.sort_by_key(|(k, _)| *k);
        v
    }

    /// Publishes a frame to current viewers (none is fine) and counts it.
    pub fn publish(&self, camera: CameraId, frame: LiveFrame) {
        let stats = self
            .feeds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(camera)
            .or_default()
            .clone();
        stats.frame(frame.data.len(), Instant::now());
        self.params
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(camera, frame.params.clone());
        let _ = self.sender(camera).send(frame);
    }
}

/// A segment closed by the [`Segmenter`].
#[derive(Clone, Debug)]
pub struct ClosedSegment {
    /// Codec parameters.
    pub params: VideoParams,
    /// Time of the first frame.
    pub start_90k: Time90k,
    /// Frames.
    pub samples: Vec<Sample>,
    /// Frame bytes, concatenated.
    pub media: Vec<u8>,
    /// Its rendition (`main` unless masked).
    pub rendition: &'static str,
    /// The mask version it was made with.
    pub mask_version: Option<i64>,
}

impl ClosedSegment {
    /// The store's input for this segment of `camera`.
    pub fn into_new_segment(self, camera: CameraId, run_start_90k: Time90k) -> NewSegment {
        NewSegment {
            camera,
            rendition: self.rendition.to_owned(),
            run_start_90k,
            start_90k: self.start_90k,
            params: self.params,
            samples: self.samples,
            tracks: Vec::new(),
            media: self.media,
            mask_version: self.mask_version,
        }
    }
}

/// Cuts a frame sequence into segments that start at a keyframe and last at
/// least the target duration (the next keyframe after it closes the segment).
///
/// Frames arrive in decode order with their presentation times. A segment's
/// decode times are its presentation times sorted (a segment starts at an IDR
/// picture, so no frame in it is shown before that picture's GOP begins); each
/// frame's duration is the gap to the next decode time, and its composition
/// offset is its presentation time minus its decode time (non-zero only with
/// B-frames). The last frame's duration is known when the next segment's first
/// frame arrives.
pub struct Segmenter {
    target_90k: i64,
    open: Option<OpenSegment>,
}

/// The segment being filled.
struct OpenSegment {
    params: VideoParams,
    /// Presentation time of each frame, in decode order.
    pts: Vec<i64>,
    sizes: Vec<(u32, bool)>,
    media: Vec<u8>,
}

/// An open segment larger than this is closed even without a keyframe (a camera
/// that never sends one must not grow memory without bound); frames up to the
/// next keyframe are then dropped.
pub const MAX_SEGMENT_BYTES: usize = 64 << 20;

/// Duration given to a frame whose real duration cannot be known (the last one
/// of a stream with a single frame): 1/25 s.
const FALLBACK_DURATION_90K: u32 = (TIME_UNITS_PER_SEC / 25) as u32;

impl OpenSegment {
    /// Closes the segment; `next_start` is the presentation time of the frame
    /// that follows it, when known.
    fn close(self, next_start: Option<i64>) -> ClosedSegment {
        let mut sorted = self.pts.clone();
        sorted.sort_unstable();
        let n = sorted.len();
        let mut samples = Vec::with_capacity(n);
        for (i, (&(size, is_key), &pts)) in self.sizes.iter().zip(&self.pts).enumerate() {
            let dts = sorted[i];
            let next = match (sorted.get(i + 1), next_start) {
                (Some(&t), _) => Some(t),
                (None, Some(t)) if t > dts => Some(t),
                (None, _) => None,
            };
            let duration_90k = match next {
                Some(t) => (t - dts).clamp(1, i64::from(u32::MAX)) as u32,
                None if i > 0 => (dts - sorted[i - 1]).clamp(1, i64::from(u32::MAX)) as u32,
                None => FALLBACK_DURATION_90K,
            };
            let offset = (pts - dts).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
            samples.push(Sample {
                composition_offset_90k: offset,
                ..Sample::new(size, duration_90k, is_key)
            });
        }
        ClosedSegment {
            params: self.params,
            start_90k: Time90k(sorted.first().copied().unwrap_or_default()),
            samples,
            media: self.media,
            rendition: MAIN_RENDITION,
            mask_version: None,
        }
    }
}

impl Segmenter {
    /// A segmenter cutting at `target_90k`.
    pub fn new(target_90k: i64) -> Segmenter {
        Segmenter {
            target_90k,
            open: None,
        }
    }

    /// Adds a frame (in decode order, with its presentation time); returns a
    /// segment when this frame closed one. Frames before the first keyframe are
    /// dropped (nothing can decode them). A change of codec parameters closes
    /// the segment at once.
    pub fn push(
        &mut self,
        params: &VideoParams,
        pts: Time90k,
        is_key: bool,
        data: &[u8],
    ) -> Option<ClosedSegment> {
        let cut = match &self.open {
            Some(open) => {
                (is_key && pts.0 - open.pts[0] >= self.target_90k)
                    || open.params != *params
                    || open.media.len() + data.len() > MAX_SEGMENT_BYTES
            }
            None => false,
        };
        let closed = if cut {
            self.open.take().map(|o| o.close(Some(pts.0)))
        } else {
            None
        };
        if self.open.is_none() {
            if !is_key {
                return closed;
            }
            self.open = Some(OpenSegment {
                params: params.clone(),
                pts: Vec::new(),
                sizes: Vec::new(),
                media: Vec::new(),
            });
        }
        let open = self.open.as_mut().expect("opened above");
        open.pts.push(pts.0);
        open.sizes.push((data.len() as u32, is_key));
        open.media.extend_from_slice(data);
        closed
    }

    /// Closes the open segment at the end of a stream (a clean shutdown or a
    /// lost connection). The last frame's duration is unknown, so it takes the
    /// previous frame's.
    pub fn finish(mut self) -> Option<ClosedSegment> {
        self.open.take().map(|o| o.close(None))
    }
}

/// The segmenters of one recorded run: the rendition everyone sees and,
/// while the camera has liftable masks, its `original`. Both get the same
/// frames, so they cut alike; a new mask version (always at a keyframe)
/// closes both, so every segment has one version.
pub struct RunSegmenters {
    target_90k: i64,
    version: Option<i64>,
    recorded: Segmenter,
    original: Option<Segmenter>,
}

impl RunSegmenters {
    /// Segmenters cutting at `target_90k`.
    pub fn new(target_90k: i64) -> RunSegmenters {
        RunSegmenters {
            target_90k,
            version: None,
            recorded: Segmenter::new(target_90k),
            original: None,
        }
    }

    /// Adds a frame from the mask stage at its recorded time `pts`; returns
    /// the segments it closed.
    pub fn push(&mut self, f: &StagedFrame, pts: Time90k) -> Vec<ClosedSegment> {
        let mut closed = Vec::new();
        if f.is_key
            && (f.mask_version != self.version || f.original.is_some() != self.original.is_some())
        {
            closed = self.take_all();
            self.version = f.mask_version;
            self.original = f.original.as_ref().map(|_| Segmenter::new(self.target_90k));
        }
        let version = self.version;
        let tag = move |mut c: ClosedSegment, rendition| {
            c.rendition = rendition;
            c.mask_version = version;
            c
        };
        let p = &f.recorded;
        if let Some(c) = self.recorded.push(&p.params, pts, f.is_key, &p.data) {
            closed.push(tag(c, f.rendition()));
        }
        if let (Some(seg), Some(p)) = (&mut self.original, &f.original) {
            if let Some(c) = seg.push(&p.params, pts, f.is_key, &p.data) {
                closed.push(tag(c, ORIGINAL_RENDITION));
            }
        }
        closed
    }

    fn take_all(&mut self) -> Vec<ClosedSegment> {
        let version = self.version;
        let recorded = std::mem::replace(&mut self.recorded, Segmenter::new(self.target_90k));
        let rendition = recorded_rendition(version);
        let mut out: Vec<ClosedSegment> = recorded
            .finish()
            .map(|c| (c, rendition))
            .into_iter()
            .chain(
                self.original
                    .take()
                    .and_then(Segmenter::finish)
                    .map(|c| (c, ORIGINAL_RENDITION)),
            )
            .map(|(mut c, r)| {
                c.rendition = r;
                c.mask_version = version;
                c
            })
            .collect();
        out.sort_by_key(|c| c.start_90k);
        out
    }

    /// Closes the open segments at the end of a run.
    pub fn finish(mut self) -> Vec<ClosedSegment> {
        self.take_all()
    }
}

/// The text the synthetic camera paints on a frame: its time and number.
fn overlay_text(pts: Time90k, index: i64) -> String {
    format!(
        "{} #{:06}",
        pts.to_chrono().format("%Y-%m-%d %H:%M:%S%.3f"),
        index
    )
}

/// Renders `frames` synthetic frames as fast as the encoder allows (not paced
/// by the clock) with timestamps from `run_start`, cut into segments of
/// `segment_90k` as the live recorder would cut them. For benchmarks, tests and
/// back-filling a demo. The trailing open segment is not returned.
pub fn synthetic_segments(
    camera: CameraId,
    config: SyntheticConfig,
    run_start: Time90k,
    frames: u32,
    segment_90k: i64,
) -> Result<Vec<NewSegment>, veil_media::Error> {
    let mut out = Vec::new();
    synthetic_segments_into(camera, config, run_start, frames, segment_90k, |s| {
        out.push(s);
        true
    })?;
    Ok(out)
}

/// Like [`synthetic_segments`], but hands each segment to `sink` as soon as
/// it closes (a long back-fill need not hold all of them); `sink` returns
/// false to stop early.
pub fn synthetic_segments_into(
    camera: CameraId,
    config: SyntheticConfig,
    run_start: Time90k,
    frames: u32,
    segment_90k: i64,
    mut sink: impl FnMut(NewSegment) -> bool,
) -> Result<(), veil_media::Error> {
    let frame_90k = TIME_UNITS_PER_SEC / i64::from(config.fps.max(1));
    let mut cam = SyntheticCamera::new(config)?;
    let params = cam.params().clone();
    let mut seg = Segmenter::new(segment_90k);
    for i in 0..i64::from(frames) {
        let pts = Time90k(run_start.0 + i * frame_90k);
        let f = cam.next_frame(&overlay_text(pts, i))?;
        if let Some(c) = seg.push(&params, pts, f.is_key, &f.data) {
            if !sink(c.into_new_segment(camera, run_start)) {
                break;
            }
        }
    }
    Ok(())
}

/// Settings of a synthetic recording.
#[derive(Clone, Debug)]
pub struct SyntheticRecording {
    /// The camera row.
    pub camera: CameraId,
    /// Encoder settings.
    pub config: SyntheticConfig,
    /// Target segment duration.
    pub segment_90k: i64,
    /// Live view only: frames are published, never segmented or stored.
    pub live_only: bool,
}

/// Asks recorders to stop cleanly: each closes its open segment and writes it.
#[derive(Clone, Default)]
pub struct StopSignal(Arc<std::sync::atomic::AtomicBool>);

impl StopSignal {
    /// Requests the stop.
    pub fn stop(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether the stop was requested.
    pub fn stopped(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Starts recording a synthetic camera in real time: a thread renders and encodes
/// frames paced by the wall clock, publishes them live and closes segments; a
/// task writes the segments. After `stop`, the thread closes its open segment
/// and the returned task ends once everything is written. A crash instead loses
/// the open segment (and any closed one not yet written), by design. Only
/// while the camera has a documented purpose ([`Store::may_record`], asked
/// at each keyframe and again before each write) are segments cut and
/// stored; each stretch with a purpose is its own run.
pub fn spawn_synthetic(
    store: Store,
    live: LiveHub,
    rec: SyntheticRecording,
    stop: StopSignal,
) -> Result<tokio::task::JoinHandle<()>, veil_media::Error> {
    let mut cam = SyntheticCamera::new(rec.config.clone())?;
    // Each closed segment with the start of its run.
    let (tx, mut rx) = mpsc::channel::<(Time90k, ClosedSegment)>(8);
    let clock = store.clock().clone();
    let gate = store.clone();
    let camera = rec.camera;
    let mut stage = MaskStage::new(&store, camera)
        .map_err(|e| veil_media::Error::Codec(format!("cannot read the camera's masks: {e}")))?;
    let fps = i64::from(rec.config.fps);
    let frame_90k = TIME_UNITS_PER_SEC / fps;
    std::thread::Builder::new()
        .name(format!("synthetic-{}", camera.0))
        .spawn(move || {
            let params = Arc::new(cam.params().clone());
            let run_start = clock.now();
            let wall_start = Instant::now();
            let mut seg = RunSegmenters::new(rec.segment_90k);
            // The run being recorded, by its start: none while the camera
            // has no documented purpose (checked at each keyframe, so runs
            // stop and start at GOP boundaries).
            let mut run: Option<Time90k> = None;
            // The count of purpose changes the run began under.
            let mut run_changes = 0;
            let send_all = |start: Option<Time90k>, closed: Vec<ClosedSegment>| {
                let Some(start) = start else { return true };
                closed.into_iter().all(|c| tx.blocking_send((start, c)).is_ok())
            };
            loop {
                if stop.stopped() {
                    let rest = stage.finish().unwrap_or_default();
                    let mut closed = Vec::new();
                    if run.is_some() {
                        for f in &rest {
                            closed.extend(seg.push(f, Time90k(f.pts)));
                        }
                    }
                    closed.extend(seg.finish());
                    send_all(run, closed);
                    return;
                }
                let i = cam.frame_index() as i64;
                let due = wall_start + Duration::from_micros((i * 1_000_000 / fps) as u64);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let pts = Time90k(run_start.0 + i * frame_90k);
                let frame = match cam.next_frame(&overlay_text(pts, i)) {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::error!(camera = camera.0, error = %e, "synthetic encoder failed; camera stopped");
                        return;
                    }
                };
                let staged = match stage.push(&params, pts.0, frame.is_key, Bytes::from(frame.data)) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!(camera = camera.0, error = %e, "masking failed; camera stopped");
                        // What was recorded so far (masked) is kept.
                        send_all(run, seg.finish());
                        return;
                    }
                };
                for f in staged {
                    let live_picture = f.live_picture();
                    live.publish(
                        camera,
                        LiveFrame {
                            params: live_picture.params.clone(),
                            pts_90k: Time90k(f.pts),
                            duration_90k: frame_90k as u32,
                            is_key: f.is_key,
                            data: live_picture.data.clone(),
                        },
                    );
                    if rec.live_only {
                        continue;
                    }
                    if f.is_key {
                        let (allowed, changes) = gate.recording_permit(camera);
                        if let Some(start) = run.filter(|_| !allowed || changes != run_changes) {
                            // The purpose was cleared (perhaps set again
                            // since): the run ends here.
                            let closed = std::mem::replace(
                                &mut seg,
                                RunSegmenters::new(rec.segment_90k),
                            )
                            .finish();
                            run = None;
                            if !send_all(Some(start), closed) {
                                return;
                            }
                        }
                        if run.is_none() && allowed {
                            run = Some(Time90k(f.pts));
                            run_changes = changes;
                        }
                    }
                    if run.is_none() {
                        continue;
                    }
                    if !send_all(run, seg.push(&f, Time90k(f.pts))) {
                        return; // the writer is gone: shutting down
                    }
                }
            }
        })
        .map_err(|e| veil_media::Error::Codec(format!("cannot start camera thread: {e}")))?;
    Ok(tokio::spawn(async move {
        let mut dropped_run = None;
        while let Some((run_start_90k, c)) = rx.recv().await {
            // A purpose cleared after the segment was cut: it is not
            // stored, nor is the rest of its run (it would claim video
            // that is not there).
            if dropped_run == Some(run_start_90k) || !store.may_record(camera) {
                dropped_run = Some(run_start_90k);
                continue;
            }
            let r = store
                .write_segment(c.into_new_segment(camera, run_start_90k))
                .await;
            if let Err(e) = r {
                // The segment is lost; recording goes on with the next one.
                tracing::error!(camera = camera.0, error = %e, "could not store segment");
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(w: u16) -> VideoParams {
        VideoParams {
            width: w,
            height: 360,
            sps: vec![0x67],
            pps: vec![0x68],
        }
    }

    #[test]
    fn feeds_count_frames_and_measure_rates() {
        let f = FeedStats::default();
        let t0 = Instant::now();
        for i in 0..=50u64 {
            f.frame(1000, t0 + Duration::from_millis(i * 40));
        }
        assert_eq!(f.frames.get(), 51);
        assert_eq!(f.bytes.get(), 51_000);
        let (fps, bps) = f.rate_at(t0 + Duration::from_secs(2));
        assert!((fps - 25.0).abs() < 0.01, "{fps}");
        assert_eq!(bps, 200_000);
        // Silent for longer than a few seconds: nothing is arriving.
        assert_eq!(f.rate_at(t0 + Duration::from_secs(10)), (0.0, 0));
        let hub = LiveHub::default();
        assert!(hub.feed(CameraId(7)).is_none());
        hub.publish(
            CameraId(7),
            LiveFrame {
                params: Arc::new(params(640)),
                pts_90k: Time90k(0),
                duration_90k: 3600,
                is_key: true,
                data: Bytes::from_static(b"abcd"),
            },
        );
        assert_eq!(hub.feed(CameraId(7)).unwrap().bytes.get(), 4);
        assert_eq!(hub.feeds().len(), 1);
    }

    #[test]
    fn segments_are_gop_aligned() {
        let p = params(640);
        let mut s = Segmenter::new(10 * 3600);
        let mut out = Vec::new();
        // A non-key frame first is dropped; GOP of 4 frames; 3600 ticks a frame.
        assert!(s.push(&p, Time90k(0), false, b"x").is_none());
        for i in 1..=30i64 {
            if let Some(c) = s.push(&p, Time90k(i * 3600), (i - 1) % 4 == 0, &[i as u8; 3]) {
                out.push(c);
            }
        }
        // Keyframes at 1,5,9,13,...; first cut at the first key >= 10 frames in: 13.
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].start_90k, Time90k(3600));
        assert_eq!(out[0].samples.len(), 12);
        assert!(out[0].samples[0].is_key);
        assert!(out[0].samples.iter().all(|x| x.duration_90k == 3600));
        assert_eq!(out[0].media.len(), 36);
        assert_eq!(out[1].start_90k, Time90k(13 * 3600));
    }

    #[test]
    fn finish_closes_the_open_segment() {
        let p = params(640);
        let mut s = Segmenter::new(1_000_000);
        assert!(s.push(&p, Time90k(0), true, b"a").is_none());
        assert!(s.push(&p, Time90k(3000), false, b"b").is_none());
        let c = s.finish().unwrap();
        assert_eq!(c.samples.len(), 2);
        assert_eq!(c.samples[1].duration_90k, 3000);
        assert!(Segmenter::new(1).finish().is_none());
    }

    #[test]
    fn b_frames_get_decode_times_and_offsets() {
        let p = params(640);
        let mut s = Segmenter::new(4 * 3600);
        // Decode order I0 P3 B1 B2 | I4 P7 B5 B6 | I8 (presentation times in frames).
        let order = [0i64, 3, 1, 2, 4, 7, 5, 6, 8];
        let mut out = Vec::new();
        for &f in &order {
            if let Some(c) = s.push(&p, Time90k(f * 3600), f % 4 == 0, &[f as u8]) {
                out.push(c);
            }
        }
        assert_eq!(out.len(), 2);
        for (i, c) in out.iter().enumerate() {
            assert_eq!(c.start_90k, Time90k(i as i64 * 4 * 3600));
            assert!(c.samples.iter().all(|x| x.duration_90k == 3600));
            let offsets: Vec<i32> = c.samples.iter().map(|x| x.composition_offset_90k).collect();
            assert_eq!(offsets, [0, 2 * 3600, -3600, -3600]);
        }
    }

    #[test]
    fn garbage_timestamps_do_not_panic() {
        let p = params(640);
        let mut s = Segmenter::new(3600);
        for (i, t) in [5i64, 5, 5, -7, i64::MAX / 2, 0, 0].into_iter().enumerate() {
            let _ = s.push(&p, Time90k(t), i % 2 == 0, b"x");
        }
        let c = s.finish().unwrap();
        assert!(c.samples.iter().all(|x| x.duration_90k >= 1));
    }

    #[test]
    fn params_change_cuts() {
        let mut s = Segmenter::new(1_000_000);
        assert!(s.push(&params(640), Time90k(0), true, b"a").is_none());
        assert!(s.push(&params(640), Time90k(3600), false, b"b").is_none());
        let c = s.push(&params(320), Time90k(7200), true, b"c").unwrap();
        assert_eq!(c.samples.len(), 2);
        assert_eq!(c.params.width, 640);
    }
}
