//! Ingest against a real RTSP server (GStreamer) serving clips made by
//! ffmpeg/libx264: the recordings are checked with ffprobe and ffmpeg.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use veil_base::Time90k;
use veil_ingest::{IngestState, RtspTransport};

/// Records one clip served over RTSP and compares the recording with the
/// source: same packets in the same (decode) order, timestamps within one
/// frame, same picture types in display order, clean decode.
async fn record_clip_and_compare(dir: &Path, name: &str, x264: &[&str], transport: RtspTransport) {
    record_clip_with(dir, name, x264, transport, &[]).await
}

/// As [`record_clip_and_compare`], with extra server arguments.
async fn record_clip_with(
    dir: &Path,
    name: &str,
    x264: &[&str],
    transport: RtspTransport,
    server_args: &[&str],
) {
    let clip = make_clip(dir, &format!("{name}.mp4"), 8, x264);
    let mut args = vec!["--clip", clip.to_str().unwrap()];
    args.extend_from_slice(server_args);
    let server = RtspServer::start(free_port(), &args);
    let (store, camera) = store(&dir.join(name));
    let mut src = source(camera, &server.url(), transport);
    // One session only: the clip ends, and no reconnect replays it.
    src.timing.backoff_base = Duration::from_secs(120);
    src.timing.backoff_max = Duration::from_secs(120);
    let ingest = Ingest::start(&store, src);
    ingest
        .wait_for(60, "recording", |s| s.state == IngestState::Recording)
        .await;
    ingest
        .wait_for(60, "end of the clip", |s| s.state == IngestState::Error)
        .await;
    ingest.stop().await;

    let runs = runs(&store, camera);
    assert_eq!(runs.len(), 1, "{name}: one session, one run: {runs:?}");
    let (start, end) = runs[0];
    let file = dir.join(format!("{name}-recorded.mp4"));
    std::fs::write(&file, mp4(&store, camera, start, end).await).unwrap();

    let want = packets(&clip);
    let got = packets(&file);
    assert!(
        got.len().abs_diff(want.len()) <= 1,
        "{name}: recorded {} frames, the clip has {}",
        got.len(),
        want.len()
    );
    let frame = 1.0 / 25.0;
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let (g0, w0) = (got[0].0, want[0].0);
        assert!(
            ((g.0 - g0) - (w.0 - w0)).abs() < frame,
            "{name}: packet {i} at {} s, the clip's at {} s",
            g.0 - g0,
            w.0 - w0
        );
        assert_eq!(g.1, w.1, "{name}: keyframe flag of packet {i}");
    }
    let (pt_got, pt_want) = (picture_types(&file), picture_types(&clip));
    assert_eq!(pt_got, pt_want, "{name}: picture types in display order");
    decodes_cleanly(&file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn records_baseline_main_and_high_with_b_frames() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let baseline = ["-profile:v", "baseline"];
    let main = ["-profile:v", "main", "-bf", "0"];
    let high_b = ["-profile:v", "high", "-bf", "3", "-b_strategy", "0"];
    tokio::join!(
        record_clip_and_compare(d, "baseline", &baseline, RtspTransport::Tcp),
        record_clip_and_compare(d, "main", &main, RtspTransport::Tcp),
        record_clip_and_compare(d, "high-bframes", &high_b, RtspTransport::Tcp),
    );
    // The B-frame clip really has B-frames (so the check above means something).
    let types = picture_types(&d.join("high-bframes-recorded.mp4"));
    assert!(types.contains('B'), "no B-frames in {types}");
}

/// Live view of a B-frame camera: the frames a viewer receives, muxed into
/// the fragmented MP4 the WebSocket sends, carry strictly increasing decode
/// times (what Media Source Extensions require) and the clip's presentation
/// times, and decode in display order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_view_of_a_b_frame_stream_has_increasing_decode_times() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let high_b = ["-profile:v", "high", "-bf", "3", "-b_strategy", "0"];
    let clip = make_clip(d, "live-b.mp4", 6, &high_b);
    let server = RtspServer::start(free_port(), &["--clip", clip.to_str().unwrap()]);
    let (store, camera) = store(&d.join("store"));
    let mut src = source(camera, &server.url(), RtspTransport::Tcp);
    src.timing.backoff_base = Duration::from_secs(120);
    src.timing.backoff_max = Duration::from_secs(120);
    let ingest = Ingest::start(&store, src);
    let viewer = watch_live(&ingest);
    ingest
        .wait_for(60, "end of the clip", |s| s.state == IngestState::Error)
        .await;
    let file = d.join("live.mp4");
    std::fs::write(&file, viewer.await.unwrap()).unwrap();
    ingest.stop().await;

    let timing = ffprobe(
        &file,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts_time,dts_time",
            "-of",
            "csv=p=0",
        ],
    );
    let times: Vec<(f64, f64)> = timing
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            // ffprobe prints N/A for a time it cannot place: NaN fails below.
            let (p, d) = l.split_once(',').unwrap();
            (p.parse().unwrap_or(f64::NAN), d.parse().unwrap_or(f64::NAN))
        })
        .collect();
    assert!(
        times.windows(2).all(|w| w[0].1 < w[1].1),
        "decode times must increase: {timing}"
    );
    assert!(
        times.iter().all(|(p, d)| d <= p),
        "no frame decodes after it is shown: {timing}"
    );
    let want = packets(&clip);
    let got = packets(&file);
    assert_eq!(
        got.len(),
        want.len(),
        "every frame of the clip reached the viewer"
    );
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            ((g.0 - got[0].0) - (w.0 - want[0].0)).abs() < 0.001,
            "packet {i}: shown at {} s, the clip at {} s",
            g.0 - got[0].0,
            w.0 - want[0].0
        );
    }
    let types = picture_types(&file);
    assert!(types.contains('B'), "no B-frames in {types}");
    assert_eq!(
        types,
        picture_types(&clip),
        "picture types in display order"
    );
    decodes_cleanly(&file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rtp_timestamps_wrapping_past_32_bits_keep_the_timeline() {
    // The first RTP timestamp is 3 s before 2^32: the clock wraps mid-clip.
    let dir = tempfile::tempdir().unwrap();
    let offset = (u64::from(u32::MAX) + 1 - 3 * 90_000).to_string();
    let high_b = ["-profile:v", "high", "-bf", "2"];
    record_clip_with(
        dir.path(),
        "wrap",
        &high_b,
        RtspTransport::Tcp,
        &["--timestamp-offset", &offset],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resolution_change_mid_stream_starts_a_new_run_that_plays() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let clip = two_resolutions(d);
    let server = RtspServer::start(free_port(), &["--clip", clip.to_str().unwrap()]);
    let (store, camera) = store(&d.join("data"));
    let mut src = source(camera, &server.url(), RtspTransport::Tcp);
    src.timing.backoff_base = Duration::from_secs(120);
    src.timing.backoff_max = Duration::from_secs(120);
    let ingest = Ingest::start(&store, src);
    ingest
        .wait_for(60, "the second resolution", |s| s.width == 480)
        .await;
    ingest
        .wait_for(60, "end of the clip", |s| s.state == IngestState::Error)
        .await;
    ingest.stop().await;

    let runs = runs(&store, camera);
    assert_eq!(runs.len(), 2, "one run per resolution: {runs:?}");
    let mut total = 0;
    for (i, (start, end)) in runs.iter().enumerate() {
        let file = d.join(format!("run{i}.mp4"));
        std::fs::write(&file, mp4(&store, camera, *start, *end).await).unwrap();
        decodes_cleanly(&file);
        let size = ffprobe(
            &file,
            &[
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=width,height",
                "-of",
                "csv=p=0",
            ],
        );
        assert_eq!(size.trim(), ["320,240", "480,272"][i], "run {i}");
        total += packets(&file).len();
    }
    assert!(total.abs_diff(150) <= 2, "{total} frames of 150");
    // One file across both runs: two sample entries, every frame decodes.
    let file = d.join("across.mp4");
    std::fs::write(&file, mp4(&store, camera, runs[0].0, runs[1].1).await).unwrap();
    let decoded = ffprobe(
        &file,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=width",
            "-of",
            "csv=p=0",
        ],
    );
    let widths: Vec<&str> = decoded
        .lines()
        .map(|l| l.trim().trim_end_matches(','))
        .filter(|l| !l.is_empty())
        .collect();
    let n320 = widths.iter().filter(|w| **w == "320").count();
    let n480 = widths.iter().filter(|w| **w == "480").count();
    assert_eq!(
        (widths.len(), n320 + n480),
        (total, total),
        "320: {n320}, 480: {n480}"
    );
    assert!(
        widths.contains(&"320") && widths.contains(&"480"),
        "{decoded}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn records_over_udp() {
    let dir = tempfile::tempdir().unwrap();
    let high_b = ["-profile:v", "high", "-bf", "2"];
    record_clip_and_compare(dir.path(), "udp", &high_b, RtspTransport::Udp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reconnects_after_the_server_dies_and_records_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = RtspServer::start(port, &["--live", "320x240", "--bitrate", "500000"]);
    let (store, camera) = store(dir.path());
    let ingest = Ingest::start(&store, source(camera, &server.url(), RtspTransport::Tcp));
    ingest
        .wait_for(60, "recording", |s| s.state == IngestState::Recording)
        .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    server.kill();
    ingest
        .wait_for(60, "error after the kill", |s| {
            s.state == IngestState::Error
        })
        .await;
    assert!(ingest.status().last_error.is_some());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _server = RtspServer::start(port, &["--live", "320x240", "--bitrate", "500000"]);
    ingest
        .wait_for(60, "recording again", |s| s.state == IngestState::Recording)
        .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let status = ingest.status();
    assert!(status.reconnects >= 1, "{status:?}");
    assert_eq!((status.width, status.height), (320, 240));
    assert!(status.fps > 20.0 && status.fps < 30.0, "{status:?}");
    assert!(status.bitrate_bps > 0, "{status:?}");
    ingest.stop().await;

    let runs = runs(&store, camera);
    assert_eq!(runs.len(), 2, "two runs around the gap: {runs:?}");
    let gap_90k = runs[1].0 .0 - runs[0].1 .0;
    assert!(gap_90k > 90_000, "the gap is at least a second: {runs:?}");
    for (i, (start, end)) in runs.iter().enumerate() {
        assert!(end.0 - start.0 > 2 * 90_000, "run {i} too short: {runs:?}");
        let file = dir.path().join(format!("run{i}.mp4"));
        std::fs::write(&file, mp4(&store, camera, *start, *end).await).unwrap();
        decodes_cleanly(&file);
        assert!(packets(&file).len() > 40, "run {i} has too few frames");
    }
    // A range across the gap plays as well (both sides, one file).
    let file = dir.path().join("across.mp4");
    std::fs::write(
        &file,
        mp4(&store, camera, runs[0].0, Time90k(runs[1].1 .0)).await,
    )
    .unwrap();
    decodes_cleanly(&file);
}

/// A "camera" that answers every connection with an endless flood of garbage.
async fn garbage_camera() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = l.accept().await {
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let junk: Vec<u8> = (0..64 * 1024u32)
                    .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                    .collect();
                while sock.write_all(&junk).await.is_ok() {}
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misbehaving_camera_does_not_affect_another() {
    let dir = tempfile::tempdir().unwrap();
    let good = RtspServer::start(free_port(), &["--live", "320x240", "--bitrate", "500000"]);
    let mut frozen = RtspServer::start(free_port(), &["--live", "320x240", "--bitrate", "500000"]);
    let flood_port = garbage_camera().await;
    let (store, good_id) = store(dir.path());
    let now = store.clock().now();
    let frozen_id = store.db.upsert_camera("frozen", "rtsp", "{}", now).unwrap();
    let flood_id = store.db.upsert_camera("flood", "rtsp", "{}", now).unwrap();
    for id in [frozen_id, flood_id] {
        assert!(store.set_camera_purpose(id, Some(PURPOSE)).unwrap());
    }

    let good_ingest = Ingest::start(&store, source(good_id, &good.url(), RtspTransport::Tcp));
    let frozen_ingest = Ingest::start(&store, source(frozen_id, &frozen.url(), RtspTransport::Tcp));
    let flood_url = format!("rtsp://127.0.0.1:{flood_port}/stream");
    let flood_ingest = Ingest::start(&store, source(flood_id, &flood_url, RtspTransport::Tcp));
    for i in [&good_ingest, &frozen_ingest] {
        i.wait_for(60, "recording", |s| s.state == IngestState::Recording)
            .await;
    }
    // Freeze one camera mid-stream (SIGSTOP): connected but silent.
    let status = Command::new("kill")
        .args(["-STOP", &frozen.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    frozen_ingest
        .wait_for(30, "the watchdog", |s| {
            s.state == IngestState::Error
                && s.last_error.as_deref().unwrap_or("").contains("stalled")
        })
        .await;
    flood_ingest
        .wait_for(30, "the flood refused", |s| {
            s.state == IngestState::Error && s.reconnects >= 2
        })
        .await;
    // Meanwhile the good camera kept recording at full rate, in one run.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let s = good_ingest.status();
    assert_eq!(s.state, IngestState::Recording, "{s:?}");
    assert!(s.fps > 20.0, "{s:?}");
    assert_eq!(s.frames_dropped, 0, "{s:?}");
    good_ingest.stop().await;
    frozen_ingest.stop().await;
    flood_ingest.stop().await;
    let _ = Command::new("kill")
        .args(["-CONT", &frozen.pid().to_string()])
        .status();
    frozen.kill();

    let good_runs = runs(&store, good_id);
    assert_eq!(
        good_runs.len(),
        1,
        "the good camera never lost its stream: {good_runs:?}"
    );
    let file = dir.path().join("good.mp4");
    std::fs::write(
        &file,
        mp4(&store, good_id, good_runs[0].0, good_runs[0].1).await,
    )
    .unwrap();
    decodes_cleanly(&file);
    let seconds = (good_runs[0].1 .0 - good_runs[0].0 .0) as f64 / 90_000.0;
    let frames = packets(&file).len() as f64;
    assert!(
        (frames / seconds - 25.0).abs() < 1.5,
        "{frames} frames in {seconds} s"
    );
    assert!(runs(&store, flood_id).is_empty());
}

/// P8: a camera without a documented purpose streams live but stores
/// nothing, and its status says why; a purpose set while it runs starts
/// recording at the next keyframe, clearing it stops recording, and each
/// stretch with a purpose is its own run (never one run across the time
/// without).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_camera_without_a_documented_purpose_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = RtspServer::start(free_port(), &["--live", "320x240", "--bitrate", "500000"]);
    let (store, camera) = store_without_purpose(dir.path());
    let ingest = Ingest::start(&store, source(camera, &server.url(), RtspTransport::Tcp));
    let mut live = ingest.live.subscribe(camera);
    ingest
        .wait_for(60, "standby without a purpose", |s| {
            s.state == IngestState::Standby
        })
        .await;
    assert_eq!(
        ingest.status().standby_reason,
        Some(veil_ingest::gate::NO_PURPOSE)
    );
    // Live view works: it is not recording.
    let frame = tokio::time::timeout(Duration::from_secs(10), live.recv())
        .await
        .expect("a live frame")
        .unwrap();
    assert!(!frame.data.is_empty());
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(store.db.segment_count().unwrap(), 0, "nothing stored");

    // Documented while it runs: recording starts without a restart.
    assert!(store.set_camera_purpose(camera, Some(PURPOSE)).unwrap());
    ingest
        .wait_for(10, "recording once documented", |s| {
            s.state == IngestState::Recording
        })
        .await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(store.db.segment_count().unwrap() >= 2, "segments stored");

    // Cleared: it stops at the next keyframe and stores nothing more.
    assert!(store.set_camera_purpose(camera, None).unwrap());
    ingest
        .wait_for(10, "standby once cleared", |s| {
            s.state == IngestState::Standby
                && s.standby_reason == Some(veil_ingest::gate::NO_PURPOSE)
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stopped = store.db.segment_count().unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        store.db.segment_count().unwrap(),
        stopped,
        "nothing more stored"
    );

    // Documented again: a new run, with the time without a purpose a gap.
    assert!(store.set_camera_purpose(camera, Some(PURPOSE)).unwrap());
    ingest
        .wait_for(10, "recording again", |s| s.state == IngestState::Recording)
        .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    ingest.stop().await;
    let runs = runs(&store, camera);
    assert_eq!(runs.len(), 2, "one run per documented stretch: {runs:?}");
    let gap_90k = runs[1].0 .0 - runs[0].1 .0;
    assert!(
        gap_90k > 5 * 90_000,
        "the undocumented time is a gap: {runs:?}"
    );
    for (i, (start, end)) in runs.iter().enumerate() {
        let file = dir.path().join(format!("run{i}.mp4"));
        std::fs::write(&file, mp4(&store, camera, *start, *end).await).unwrap();
        decodes_cleanly(&file);
    }
}
