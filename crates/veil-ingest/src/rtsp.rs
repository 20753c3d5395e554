//! One RTSP camera's ingest task: connect, describe, set up the H.264 video
//! stream (and audio or ONVIF metadata only when the camera is configured to
//! record them, see `tracks`; otherwise they are never set up), play,
//! and turn frames into segments, live frames and status. Every failure ends
//! the session; the supervisor waits (backoff with jitter) and reconnects. Each
//! session is a separate run, so the time without video is a gap.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use retina::client::{
    InitialTimestampPolicy, PlayOptions, SessionGroup, SessionOptions, SetupOptions,
    TcpTransportOptions, Transport, UdpTransportOptions,
};
use retina::codec::{CodecItem, FrameFormat, ParametersRef, VideoFrame};
use tokio::sync::mpsc;
use veil_base::{CameraId, Time90k, TIME_UNITS_PER_SEC};
use veil_media::h264::{check_avc_sample, params_from_avc_decoder_config};
use veil_media::VideoParams;
use veil_store::mask_stage::{MaskStage, StagedFrame};
use veil_store::recorder::{ClosedSegment, LiveFrame, LiveHub, RunSegmenters, StopSignal};
use veil_store::Store;

use crate::backoff::Backoff;
use crate::detect::Detector;
use crate::gate::{Gate, MotionEdge, Output};
use crate::redact::redact;
use crate::status::{IngestState, RateMeter, StatusBoard};
use crate::tracks::{self, Collector};
use crate::{RtspSource, RtspTransport};

/// A jump of the camera's clock larger than this (either way) ends the run.
const MAX_JUMP_90K: i64 = 10 * TIME_UNITS_PER_SEC;
/// How often a waiting task checks for a stop request.
const STOP_POLL: Duration = Duration::from_millis(200);

/// A closed segment and the start of the run it belongs to.
type RunSegment = (Time90k, ClosedSegment);

/// What a camera task shares.
struct Ctx {
    store: Store,
    live: LiveHub,
    board: StatusBoard,
    src: RtspSource,
    stop: StopSignal,
    group: Arc<SessionGroup>,
    /// Audio and metadata frames waiting for their segment.
    tracks: Collector,
}

impl Ctx {
    fn camera(&self) -> CameraId {
        self.src.camera
    }

    /// `message` without credentials, on one line.
    fn clean(&self, message: &str) -> String {
        let secret = self
            .src
            .credentials
            .as_ref()
            .map(|c| c.password.as_str())
            .unwrap_or("");
        redact(message, &[secret])
    }
}

/// Starts recording an RTSP camera: a supervisor task that connects, records
/// and reconnects with backoff until `stop`, and a writer task that stores the
/// segments. The returned task ends when both have finished (the open segment
/// written). One camera's task never blocks another's: each has its own
/// bounded queue (8 segments) and its own connection.
pub fn spawn_rtsp(
    store: Store,
    live: LiveHub,
    board: StatusBoard,
    src: RtspSource,
    stop: StopSignal,
) -> tokio::task::JoinHandle<()> {
    let (tx, rx) = mpsc::channel::<RunSegment>(8);
    let collector = Collector::default();
    let writer = tokio::spawn(write_segments(
        store.clone(),
        src.camera,
        rx,
        collector.clone(),
    ));
    let ctx = Ctx {
        store,
        live,
        board,
        src,
        stop,
        group: Arc::new(SessionGroup::default()),
        tracks: collector,
    };
    tokio::spawn(async move {
        supervise(&ctx, tx).await;
        let _ = writer.await;
        ctx.board
            .update(ctx.camera(), |s| s.state = IngestState::Stopped);
    })
}

/// Stores segments in order, each with the audio and metadata of its time;
/// a failed write loses that segment only.
async fn write_segments(
    store: Store,
    camera: CameraId,
    mut rx: mpsc::Receiver<RunSegment>,
    tracks: Collector,
) {
    let mut dropped_run = None;
    while let Some((run_start, seg)) = rx.recv().await {
        // The camera lost its documented purpose after this segment was
        // cut: neither it nor the rest of its run is stored (a run must
        // not claim video that is not there).
        if dropped_run == Some(run_start) || !store.may_record(camera) {
            dropped_run = Some(run_start);
            continue;
        }
        let mut seg = seg.into_new_segment(camera, run_start);
        tracks.attach(&mut seg).await;
        if let Err(e) = store.write_segment(seg).await {
            tracing::error!(camera = camera.0, error = %e, "could not store segment");
        }
    }
}

/// Connects, records, and reconnects after every failure until stopped.
async fn supervise(ctx: &Ctx, tx: mpsc::Sender<RunSegment>) {
    let t = &ctx.src.timing;
    let mut backoff = Backoff::new(t.backoff_base, t.backoff_max);
    let mut floor = Time90k(i64::MIN);
    while !ctx.stop.stopped() {
        ctx.board.update(ctx.camera(), |s| {
            s.state = IngestState::Connecting;
            s.retry_in_ms = None;
        });
        let mut session = SessionState::new(&ctx.src);
        let result = run_session(ctx, &tx, &mut session, &mut floor).await;
        drain_stage(ctx, &tx, &mut session, &mut floor).await;
        if let Some(run) = session.run.take() {
            run.finish(&tx, &mut floor).await;
        }
        if session.motion_event.is_some() {
            // The stream stopped during motion: the event ends with it.
            let end = session
                .timeline
                .as_ref()
                .map_or_else(|| ctx.store.clock().now(), |t| t.last_pts);
            session.motion_event = None;
            let (db, camera) = (ctx.store.db.clone(), ctx.camera());
            let r =
                tokio::task::spawn_blocking(move || db.end_open_motion_events(camera, end)).await;
            if !matches!(r, Ok(Ok(_))) {
                tracing::warn!(camera = camera.0, result = ?r, "could not end a motion event");
            }
        }
        let message = match result {
            Ok(End::Stopped) => break,
            Ok(End::WriterGone) => return,
            Err(message) => message,
        };
        if session.had_video {
            backoff.reset();
        }
        let delay = backoff.fail(rand::random());
        let now = ctx.store.clock().now();
        ctx.board.update(ctx.camera(), |s| {
            s.state = IngestState::Error;
            s.last_error = Some(message.clone());
            s.last_error_90k = Some(now);
            s.reconnects += 1;
            s.retry_in_ms = Some(delay.as_millis() as u64);
            s.fps = 0.0;
            s.bitrate_bps = 0;
        });
        tracing::warn!(
            camera = ctx.camera().0,
            error = %message,
            retry_in_ms = delay.as_millis() as u64,
            "camera ingest failed; reconnecting"
        );
        sleep_unless_stopped(&ctx.stop, delay).await;
    }
}

/// Sleeps for `d`, returning early when a stop is requested.
async fn sleep_unless_stopped(stop: &StopSignal, d: Duration) {
    let until = tokio::time::Instant::now() + d;
    while !stop.stopped() {
        let now = tokio::time::Instant::now();
        if now >= until {
            return;
        }
        tokio::time::sleep((until - now).min(STOP_POLL)).await;
    }
}

/// How a session ended without an error.
enum End {
    /// A stop was requested.
    Stopped,
    /// The writer task is gone (shutting down).
    WriterGone,
}

/// What a session leaves behind for the supervisor.
struct SessionState {
    /// Whether any frame was received (the backoff then starts over).
    had_video: bool,
    /// The run being recorded.
    run: Option<Run>,
    /// The stream's timeline (live view and the gate follow it).
    timeline: Option<Timeline>,
    /// Which frames are recorded.
    gate: Gate<GatedFrame>,
    /// Motion cameras: the keyframe detector.
    detector: Option<Detector>,
    /// Parameters in force, once known and valid.
    params: Option<Arc<VideoParams>>,
    /// Drop frames until the next keyframe (after a broken one).
    need_key: bool,
    rates: RateMeter,
    /// The motion event being recorded (its row id), if any.
    motion_event: Option<i64>,
    /// Masks between the camera and everything else (taken out while a
    /// frame is being masked on a blocking thread).
    stage: Option<MaskStage>,
    /// The camera had no documented purpose at the latest keyframe: its
    /// frames bypass the gate and nothing is recorded.
    no_purpose: bool,
    /// The count of the camera's purpose changes at that keyframe
    /// ([`Store::recording_permit`]): a change ends the run even when the
    /// purpose was cleared and set again in between.
    purpose_changes: u64,
}

impl SessionState {
    fn new(src: &RtspSource) -> SessionState {
        let gate = Gate::new(src.recording.clone());
        let detector = match &src.recording {
            crate::RecordingMode::Motion(m) => Some(Detector::spawn(src.camera, m.detector())),
            _ => None,
        };
        SessionState {
            had_video: false,
            run: None,
            timeline: None,
            gate,
            detector,
            params: None,
            need_key: false,
            rates: RateMeter::default(),
            motion_event: None,
            stage: None,
            no_purpose: false,
            purpose_changes: 0,
        }
    }
}

/// Frames with continuous timestamps and unchanged parameters, recorded or
/// not: presentation times are the timeline's start plus camera time.
struct Timeline {
    /// Wall-clock time of the first frame.
    start: Time90k,
    /// Camera time (90 kHz) of the first frame.
    first_camera_90k: i64,
    /// Presentation time of the latest frame.
    last_pts: Time90k,
    /// Duration between the last two frames (for live view).
    last_delta: u32,
    params: Arc<VideoParams>,
    /// The mask version of its frames.
    mask_version: Option<i64>,
}

/// A frame waiting at the recording gate.
struct GatedFrame {
    camera_90k: i64,
    timeline_pts: Time90k,
    frame: StagedFrame,
}

/// One run: recorded frames of one timeline, without a gap.
struct Run {
    /// Wall-clock time of the run's first frame.
    start: Time90k,
    /// Camera time (90 kHz) of the run's first frame.
    first_camera_90k: i64,
    /// Presentation time of the latest frame.
    last_pts: Time90k,
    /// Duration between the last two frames.
    last_delta: u32,
    segmenter: RunSegmenters,
}

impl Run {
    /// Closes the run's open segments and queues them.
    async fn finish(self, tx: &mpsc::Sender<RunSegment>, floor: &mut Time90k) {
        let start = self.start;
        for last in self.segmenter.finish() {
            let end = last.start_90k.0
                + last
                    .samples
                    .iter()
                    .map(|s| i64::from(s.duration_90k))
                    .sum::<i64>();
            *floor = (*floor).max(Time90k(end));
            let _ = tx.send((start, last)).await;
        }
        *floor = (*floor).max(Time90k(self.last_pts.0 + i64::from(self.last_delta)));
    }
}

/// One connection, from DESCRIBE to the first error or a stop.
async fn run_session(
    ctx: &Ctx,
    tx: &mpsc::Sender<RunSegment>,
    st: &mut SessionState,
    floor: &mut Time90k,
) -> Result<End, String> {
    let timing = &ctx.src.timing;
    if st.stage.is_none() {
        st.stage = Some(
            MaskStage::new(&ctx.store, ctx.camera())
                .map_err(|e| format!("cannot read the camera's masks: {e}"))?,
        );
    }
    let url = url::Url::parse(&ctx.src.url).map_err(|e| ctx.clean(&format!("bad URL: {e}")))?;
    let secure = url.scheme() == "rtsps";
    if secure && ctx.src.transport == RtspTransport::Udp {
        return Err("rtsps:// needs the tcp transport (RTP over UDP would leave TLS)".into());
    }
    let creds = ctx
        .src
        .credentials
        .as_ref()
        .map(|c| retina::client::Credentials {
            username: c.username.clone(),
            password: c.password.clone(),
        });
    let options = SessionOptions::default()
        .creds(creds)
        .user_agent(format!("Veil/{}", env!("CARGO_PKG_VERSION")))
        .session_group(ctx.group.clone());
    let connect = async {
        let url = if secure {
            crate::tls::bridge(&url, ctx.src.tls_fingerprint)
                .await
                .map_err(|e| ctx.clean(&e))?
        } else {
            url
        };
        let mut session = retina::client::Session::describe(url, options)
            .await
            .map_err(|e| describe_error(ctx, &e))?;
        let video = session
            .streams()
            .iter()
            .position(|s| s.media() == "video" && s.encoding_name() == "h264")
            .ok_or_else(|| "the camera offers no H.264 video stream".to_owned())?;
        let selection = tracks::select(session.streams(), ctx.src.extra);
        let transport = match ctx.src.transport {
            RtspTransport::Tcp => Transport::Tcp(TcpTransportOptions::default()),
            RtspTransport::Udp => Transport::Udp(UdpTransportOptions::default()),
        };
        session
            .setup(
                video,
                SetupOptions::default()
                    .transport(transport.clone())
                    .frame_format(FrameFormat::MP4),
            )
            .await
            .map_err(|e| describe_error(ctx, &e))?;
        // Only streams enabled for this camera (with a purpose) are set up.
        for extra in [selection.audio, selection.metadata].into_iter().flatten() {
            session
                .setup(extra, SetupOptions::default().transport(transport.clone()))
                .await
                .map_err(|e| describe_error(ctx, &e))?;
        }
        let playing = session
            .play(PlayOptions::default().initial_timestamp(InitialTimestampPolicy::Permissive))
            .await
            .map_err(|e| describe_error(ctx, &e))?;
        let demuxed = playing.demuxed().map_err(|e| describe_error(ctx, &e))?;
        Ok::<_, String>((video, selection, demuxed))
    };
    let (video, selection, mut demuxed) = tokio::time::timeout(timing.connect_timeout, connect)
        .await
        .map_err(|_| {
            format!(
                "no answer from the camera within {} s",
                timing.connect_timeout.as_secs()
            )
        })??;
    tracing::info!(camera = ctx.camera().0, "camera connected");
    let notes = selection.notes.clone();
    ctx.board.update(ctx.camera(), |s| s.tracks = notes);
    let mut last_item = Instant::now();
    loop {
        if ctx.stop.stopped() {
            return Ok(End::Stopped);
        }
        let item = match tokio::time::timeout(STOP_POLL, demuxed.next()).await {
            Err(_) => {
                // The watchdog: a camera that stays connected but sends nothing.
                if last_item.elapsed() > timing.stall_timeout {
                    return Err(format!(
                        "stream stalled: no video for {} s",
                        timing.stall_timeout.as_secs()
                    ));
                }
                continue;
            }
            Ok(None) => return Err("the camera ended the stream".into()),
            Ok(Some(Err(e))) => return Err(describe_error(ctx, &e)),
            Ok(Some(Ok(item))) => item,
        };
        let frame = match item {
            CodecItem::VideoFrame(frame) => frame,
            other => {
                let stream = match &other {
                    CodecItem::AudioFrame(f) => Some(f.stream_id()),
                    CodecItem::MessageFrame(m) => Some(m.stream_id()),
                    _ => None,
                };
                let params = stream.and_then(|i| demuxed.streams()[i].parameters());
                // The recorded run's clock, or (in standby, for a motion
                // pre-buffer) the timeline's: the same mapping unless a run
                // start was pushed past the end of the previous run.
                let anchor = st
                    .run
                    .as_ref()
                    .map(|r| (r.start, r.first_camera_90k))
                    .or_else(|| st.timeline.as_ref().map(|t| (t.start, t.first_camera_90k)));
                ctx.tracks.push(other, &selection, params, anchor);
                continue;
            }
        };
        if frame.stream_id() != video {
            continue;
        }
        last_item = Instant::now();
        if frame.has_new_parameters() || st.params.is_none() {
            let params = match demuxed.streams()[video].parameters() {
                Some(ParametersRef::Video(v)) => params_from_avc_decoder_config(v.extra_data())
                    .map_err(|e| ctx.clean(&format!("unusable H.264 parameters: {e}"))),
                _ => Err("the camera sent video before its parameters".to_owned()),
            };
            match params {
                Ok(p) => st.params = Some(Arc::new(p)),
                Err(message) => {
                    note_dropped(ctx, st, Some(message));
                    st.params = None;
                    continue;
                }
            }
        }
        if !admit_frame(ctx, tx, st, floor, frame).await? {
            return Ok(End::WriterGone);
        }
    }
}

/// Counts a dropped frame and, with a reason, records it as the last error
/// (without ending the session).
fn note_dropped(ctx: &Ctx, st: &mut SessionState, reason: Option<String>) {
    if let Some(reason) = &reason {
        tracing::warn!(camera = ctx.camera().0, error = %reason, "dropping frame");
    }
    let now = ctx.store.clock().now();
    ctx.board.update(ctx.camera(), |s| {
        s.frames_dropped += 1;
        if let Some(r) = reason {
            s.last_error = Some(r);
            s.last_error_90k = Some(now);
        }
    });
    st.need_key = true;
}

/// Checks one frame from the camera and passes it through the mask stage
/// to [`record_frame`]. False when the writer has gone away; an error when
/// the stream cannot be decoded for masking (the session ends and
/// reconnects; nothing unmasked went on).
async fn admit_frame(
    ctx: &Ctx,
    tx: &mpsc::Sender<RunSegment>,
    st: &mut SessionState,
    floor: &mut Time90k,
    frame: VideoFrame,
) -> Result<bool, String> {
    let Some(params) = st.params.clone() else {
        return Ok(true);
    };
    let is_key = frame.is_random_access_point();
    if let Err(e) = check_avc_sample(frame.data()) {
        note_dropped(ctx, st, Some(format!("malformed frame: {e}")));
        return Ok(true);
    }
    if st.need_key && !is_key {
        note_dropped(ctx, st, None);
        return Ok(true);
    }
    st.need_key = false;
    let ts = frame.timestamp();
    let camera_90k = (i128::from(ts.elapsed()) * i128::from(TIME_UNITS_PER_SEC)
        / i128::from(ts.clock_rate().get())) as i64;
    let data = Bytes::from(frame.into_data());
    let mut stage = st.stage.take().expect("a session has a mask stage");
    let staged = if stage.masking().is_some() || is_key {
        // Decoding and encoding take milliseconds: off the async threads.
        let (back, r) = tokio::task::spawn_blocking(move || {
            let r = stage.push(&params, camera_90k, is_key, data);
            (stage, r)
        })
        .await
        .map_err(|e| format!("the masking thread failed: {e}"))?;
        stage = back;
        r
    } else {
        stage.push(&params, camera_90k, is_key, data)
    };
    st.stage = Some(stage);
    let staged = staged.map_err(|e| format!("cannot mask the camera's video: {e}"))?;
    for f in staged {
        if !record_frame(ctx, tx, st, floor, f).await {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Records what the mask stage still holds at the end of a session.
async fn drain_stage(
    ctx: &Ctx,
    tx: &mpsc::Sender<RunSegment>,
    st: &mut SessionState,
    floor: &mut Time90k,
) {
    let Some(mut stage) = st.stage.take() else {
        return;
    };
    let rest = tokio::task::spawn_blocking(move || stage.finish())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    for f in rest {
        if !record_frame(ctx, tx, st, floor, f).await {
            return;
        }
    }
}

/// Records one frame out of the mask stage (segments, live view, status).
/// False when the writer has gone away.
async fn record_frame(
    ctx: &Ctx,
    tx: &mpsc::Sender<RunSegment>,
    st: &mut SessionState,
    floor: &mut Time90k,
    frame: StagedFrame,
) -> bool {
    let (camera_90k, is_key) = (frame.pts, frame.is_key);
    let params = frame.recorded.params.clone();
    let now = ctx.store.clock().now();

    // A new timeline (and run) on the first frame, a parameter change or a
    // clock jump.
    let continues = st.timeline.as_ref().is_some_and(|t| {
        let pts = t.start.0 + (camera_90k - t.first_camera_90k);
        t.params == params
            && t.mask_version == frame.mask_version
            && (pts - t.last_pts.0).abs() <= MAX_JUMP_90K
    });
    if !continues {
        st.timeline = None;
        st.gate.restart();
        save_motion_edges(ctx, st).await;
        if let Some(old) = st.run.take() {
            old.finish(tx, floor).await;
        }
        if !is_key {
            // Joined mid-GOP: wait for a keyframe (not counted as dropped).
            return true;
        }
        let start = Time90k(now.0.max(floor.0));
        st.timeline = Some(Timeline {
            start,
            first_camera_90k: camera_90k,
            last_pts: start,
            last_delta: (TIME_UNITS_PER_SEC / 25) as u32,
            params: params.clone(),
            mask_version: frame.mask_version,
        });
    }
    let tl = st.timeline.as_mut().expect("a timeline is open");
    let pts = Time90k(tl.start.0 + (camera_90k - tl.first_camera_90k));
    if pts.0 > tl.last_pts.0 {
        tl.last_delta = (pts.0 - tl.last_pts.0).min(i64::from(u32::MAX)) as u32;
        tl.last_pts = pts;
    }
    // Live view gets every frame, whatever the recording gate decides.
    let live = frame.live_picture();
    ctx.live.publish(
        ctx.camera(),
        LiveFrame {
            params: live.params.clone(),
            pts_90k: pts,
            duration_90k: tl.last_delta,
            is_key,
            data: live.data.clone(),
        },
    );
    st.had_video = true;
    let size = frame.recorded.data.len();
    let rates = st.rates.frame(camera_90k, size);

    // A camera without a documented purpose records nothing (checked at
    // keyframes, so runs stop and start at GOP boundaries): its run ends,
    // the gate forgets what it buffered, motion is not analysed, and
    // recording resumes in a new run at the first keyframe after a purpose
    // is set.
    if is_key {
        let (allowed, changes) = ctx.store.recording_permit(ctx.camera());
        let no_purpose = !allowed;
        let changed = st.run.is_some() && changes != st.purpose_changes;
        st.purpose_changes = changes;
        if (no_purpose || changed) && !st.no_purpose {
            st.gate.restart();
            save_motion_edges(ctx, st).await;
            if let Some(run) = st.run.take() {
                run.finish(tx, floor).await;
            }
        }
        st.no_purpose = no_purpose;
    }
    let mut out = Vec::new();
    if let (true, Some(d), false) = (is_key, st.detector.as_mut(), st.no_purpose) {
        d.submit(pts, params.clone(), frame.recorded.data.clone());
    }
    let gated = GatedFrame {
        camera_90k,
        timeline_pts: pts,
        frame,
    };
    if !st.no_purpose {
        st.gate.frame(pts, is_key, size, gated, &mut out);
    }
    if let Some(d) = &st.detector {
        for (key_pts, motion) in d.verdicts() {
            // Verdicts on keyframes from before the purpose was cleared
            // are dropped with them.
            if !st.no_purpose {
                st.gate.verdict(key_pts, motion, &mut out);
            }
        }
        save_motion_edges(ctx, st).await;
    }
    let (reason, last_motion) = (
        if st.no_purpose {
            Some(crate::gate::NO_PURPOSE)
        } else {
            st.gate.standby_reason()
        },
        st.gate.last_motion(),
    );
    let skipped = st.detector.as_ref().map_or(0, |d| d.skipped);
    ctx.board.update(ctx.camera(), |s| {
        s.state = match reason {
            Some(_) => IngestState::Standby,
            None => IngestState::Recording,
        };
        s.standby_reason = reason;
        s.last_motion_90k = last_motion;
        s.motion_skipped = skipped;
        s.last_frame_90k = Some(now);
        s.width = params.width;
        s.height = params.height;
        if let Some((fps, bps)) = rates {
            s.fps = fps;
            s.bitrate_bps = bps;
        }
    });
    for o in out {
        let closed = match o {
            Output::EndRun => {
                if let Some(run) = st.run.take() {
                    run.finish(tx, floor).await;
                }
                continue;
            }
            Output::Record(f) => record_gated(ctx, st, floor, f),
        };
        for c in closed {
            if tx.send(c).await.is_err() {
                return false;
            }
        }
    }
    true
}

/// Stores the motion events the gate began or ended: a row when motion
/// starts, its end when the gate ends the motion run. A database fault is
/// logged and loses the event, never the recording.
async fn save_motion_edges(ctx: &Ctx, st: &mut SessionState) {
    for edge in st.gate.take_motion_edges() {
        let (db, camera, open) = (ctx.store.db.clone(), ctx.camera(), st.motion_event);
        let r = tokio::task::spawn_blocking(move || -> Result<Option<i64>, veil_store::Error> {
            match edge {
                MotionEdge::Start(t) => {
                    if let Some(id) = open {
                        db.end_motion_event(id, t)?;
                    }
                    db.insert_motion_event(camera, t).map(Some)
                }
                MotionEdge::End(t) => {
                    if let Some(id) = open {
                        db.end_motion_event(id, t)?;
                    }
                    Ok(None)
                }
            }
        })
        .await;
        match r {
            Ok(Ok(id)) => st.motion_event = id,
            other => {
                tracing::warn!(camera = camera.0, result = ?other, "could not store a motion event");
                st.motion_event = None;
            }
        }
    }
}

/// Adds a frame the gate let through to the current run (opening one at
/// its time); returns a segment it closed.
fn record_gated(
    ctx: &Ctx,
    st: &mut SessionState,
    floor: &Time90k,
    f: GatedFrame,
) -> Vec<RunSegment> {
    if st.run.is_none() {
        if !f.frame.is_key {
            return Vec::new();
        }
        let start = Time90k(f.timeline_pts.0.max(floor.0));
        st.run = Some(Run {
            start,
            first_camera_90k: f.camera_90k,
            last_pts: start,
            last_delta: (TIME_UNITS_PER_SEC / 25) as u32,
            segmenter: RunSegmenters::new(ctx.src.segment_90k),
        });
    }
    let run = st.run.as_mut().expect("a run is open");
    let pts = Time90k(run.start.0 + (f.camera_90k - run.first_camera_90k));
    if pts.0 > run.last_pts.0 {
        run.last_delta = (pts.0 - run.last_pts.0).min(i64::from(u32::MAX)) as u32;
        run.last_pts = pts;
    }
    let start = run.start;
    run.segmenter
        .push(&f.frame, pts)
        .into_iter()
        .map(|c| (start, c))
        .collect()
}

/// A credential-free, one-line description of a client error; a 401 says
/// plainly that the login was refused.
fn describe_error(ctx: &Ctx, e: &retina::Error) -> String {
    match e.status_code() {
        Some(401) => {
            "authentication failed: the camera refused the username or password (401 Unauthorized)"
                .into()
        }
        Some(403) => "authentication failed: access forbidden (403 Forbidden)".into(),
        Some(404) => "the camera has no stream at this URL (404 Not Found)".into(),
        _ => ctx.clean(&e.to_string()),
    }
}
