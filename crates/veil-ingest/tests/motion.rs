//! Motion-triggered recording against a real RTSP server (GStreamer) serving
//! a clip made by ffmpeg/libx264: 8 s of a still scene, 4 s of a moving box,
//! 10 s still again. The recording must hold the motion with its pre- and
//! post-buffer and nothing else, and play in ffprobe.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use veil_base::{Time90k, TIME_UNITS_PER_SEC};
use veil_ingest::{IngestState, MotionSettings, RecordingMode, RtspTransport};
use veil_store::recorder::LiveHub;

/// Seconds of the clip: still until `MOTION_START`, a white box moving until
/// `MOTION_END`, still until `CLIP_END`. A keyframe every second.
const MOTION_START: f64 = 8.0;
const MOTION_END: f64 = 12.0;
const CLIP_END: u32 = 22;

fn motion_clip(dir: &Path) -> PathBuf {
    let out = dir.join("motion.mp4");
    let ok = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i"])
        .arg(format!(
            "color=c=0x505050:size=640x360:rate=25:duration={CLIP_END}"
        ))
        .args(["-f", "lavfi", "-i"])
        .arg(format!(
            "color=c=white:size=96x96:rate=25:duration={CLIP_END}"
        ))
        .arg("-filter_complex")
        .arg(format!(
            "[0][1]overlay=x='40+(t-{MOTION_START})*120':y=130\
             :enable='gte(t,{MOTION_START})*lt(t,{MOTION_END})'"
        ))
        .args([
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-profile:v",
            "high",
        ])
        .args([
            "-g",
            "25",
            "-keyint_min",
            "25",
            "-sc_threshold",
            "0",
            "-bf",
            "2",
        ])
        .arg(&out)
        .status()
        .expect("ffmpeg not found: install the Debian package ffmpeg")
        .success();
    assert!(ok, "ffmpeg could not make the motion clip");
    out
}

fn secs(t: i64) -> f64 {
    t as f64 / TIME_UNITS_PER_SEC as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn motion_records_the_event_with_its_pre_and_post_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let clip = motion_clip(dir.path());
    let server = RtspServer::start(free_port(), &["--clip", clip.to_str().unwrap()]);
    let (store, camera) = store(dir.path());
    let mut src = source(camera, &server.url(), RtspTransport::Tcp);
    src.segment_90k = TIME_UNITS_PER_SEC;
    src.timing.backoff_base = Duration::from_secs(120);
    src.timing.backoff_max = Duration::from_secs(120);
    src.recording = RecordingMode::Motion(MotionSettings {
        pre_seconds: 2,
        post_seconds: 3,
        ..MotionSettings::default()
    });
    let live = LiveHub::default();
    let mut live_rx = live.subscribe(camera);
    let ingest = Ingest::start_with_live(&store, src, live);

    // Every state the status goes through, and the first frame's arrival.
    let states = Arc::new(Mutex::new(Vec::<IngestState>::new()));
    let first_frame = Arc::new(Mutex::new(None::<Time90k>));
    let watcher = {
        let (states, first_frame, board) =
            (states.clone(), first_frame.clone(), ingest.board.clone());
        tokio::spawn(async move {
            loop {
                let s = board.get(camera).unwrap_or_default();
                {
                    let mut v = states.lock().unwrap();
                    if v.last() != Some(&s.state) {
                        v.push(s.state);
                    }
                    let mut f = first_frame.lock().unwrap();
                    if f.is_none() {
                        *f = s.last_frame_90k;
                    }
                }
                if s.state == IngestState::Error {
                    return s;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    // Live view gets frames while nothing is recorded.
    let frame = tokio::time::timeout(Duration::from_secs(30), live_rx.recv())
        .await
        .expect("no live frame")
        .unwrap();
    assert!(frame.is_key);
    ingest
        .wait_for(30, "standby", |s| s.state == IngestState::Standby)
        .await;
    assert_eq!(ingest.status().standby_reason, Some("waiting for motion"));
    let last = tokio::time::timeout(Duration::from_secs(60), watcher)
        .await
        .expect("the clip did not end")
        .unwrap();
    ingest.stop().await;

    let states = states.lock().unwrap().clone();
    let t0 = first_frame.lock().unwrap().expect("no frame arrived").0;
    let last_motion = secs(last.last_motion_90k.expect("no motion seen").0 - t0);
    assert!(
        (MOTION_START - 0.5..MOTION_END + 1.5).contains(&last_motion),
        "last motion at {last_motion} s"
    );
    let pos = |want: IngestState, from: usize| {
        states[from..]
            .iter()
            .position(|s| *s == want)
            .map(|p| p + from)
    };
    let standby = pos(IngestState::Standby, 0).expect("never in standby");
    let recording = pos(IngestState::Recording, standby).expect("never recording");
    pos(IngestState::Standby, recording).expect("no standby after the event");
    assert_eq!(
        states
            .iter()
            .filter(|s| **s == IngestState::Recording)
            .count(),
        1,
        "one event: {states:?}"
    );

    // One run: from up to 2 s (one GOP more for the delay) before the motion
    // started, to no more than 3 s + one GOP after it ended.
    let runs = runs(&store, camera);
    assert_eq!(runs.len(), 1, "one motion event, one run: {runs:?}");
    let (start, end) = runs[0];
    let (from, to) = (secs(start.0 - t0), secs(end.0 - t0));
    let gop = 1.0;
    let slack = 0.3; // the first frame's arrival is polled
    assert!(
        from <= MOTION_START - 1.0 + slack && from >= MOTION_START - 2.0 - gop - slack,
        "recording starts at {from} s; motion starts at {MOTION_START} s"
    );
    assert!(
        to >= MOTION_END - slack && to <= MOTION_END + 3.0 + gop + slack,
        "recording ends at {to} s; motion ends at {MOTION_END} s"
    );

    // The gate's motion event is stored: it starts at the motion keyframe
    // (inside the run, after its pre-buffer) and ends where the run ends.
    let events = store
        .db
        .motion_events(camera, Time90k(0), Time90k(i64::MAX), 10)
        .unwrap();
    assert_eq!(events.len(), 1, "one motion event: {events:?}");
    let ev = &events[0];
    let ev_start = secs(ev.start_90k.0 - t0);
    assert!(
        ev.start_90k >= start && (MOTION_START - 0.5..MOTION_END).contains(&ev_start),
        "motion event starts at {ev_start} s; the run at {from} s, motion at {MOTION_START} s"
    );
    let ev_end = ev.end_90k.expect("the motion event was ended");
    assert!(
        (ev_end.0 - end.0).abs() <= TIME_UNITS_PER_SEC,
        "motion event ends at {} s, the run at {to} s",
        secs(ev_end.0 - t0)
    );

    // It plays, with as many frames as its span (within a GOP).
    let file = dir.path().join("recorded.mp4");
    std::fs::write(&file, mp4(&store, camera, start, end).await).unwrap();
    let frames = packets(&file).len() as f64;
    let span_frames = (to - from) * 25.0;
    assert!(
        (frames - span_frames).abs() <= 25.0,
        "{frames} frames recorded over {} s",
        to - from
    );
    eprintln!(
        "recorded {from:.2} s to {to:.2} s of the clip, {frames} frames, \
         last motion at {last_motion:.2} s; states {states:?}"
    );
    // From the pre-buffer to the post-buffer: 6 s to 15 s of the clip.
    assert!((frames - 225.0).abs() <= 25.0, "{frames} frames");
    decodes_cleanly(&file);
}
