//! Audio and ONVIF metadata against a real RTSP server (GStreamer) serving a
//! clip made by ffmpeg (libx264 + AAC sine tone) and an ONVIF metadata stream:
//! never set up unless enabled; when enabled, recorded into the video's
//! segments and played back as `mp4a` and timed metadata tracks, checked with
//! ffprobe and ffmpeg.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use veil_ingest::{ExtraStreams, IngestState, RtspTransport};
use veil_store::MAIN_RENDITION;

/// ONVIF documents the server sends (one every 0.5 s from 0.5 s on).
const DOCUMENTS: usize = 8;

/// An 8 s clip: 320x240 25 fps H.264 and a 1 kHz sine tone, AAC 48 kHz mono.
fn clip_with_audio(dir: &Path) -> PathBuf {
    let out = dir.join("av.mp4");
    let ok = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000"])
        .args([
            "-t", "8", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "25",
        ])
        .args(["-bf", "0", "-c:a", "aac", "-b:a", "64k"])
        .arg(&out)
        .status()
        .expect("ffmpeg not found: install the Debian package ffmpeg")
        .success();
    assert!(ok, "ffmpeg could not make the clip");
    out
}

/// Serves the clip with audio and metadata, records one session with
/// `extra`, and returns the server, the store and the recording's MP4.
async fn record(dir: &Path, extra: ExtraStreams) -> (RtspServer, veil_store::Store, PathBuf) {
    let clip = clip_with_audio(dir);
    let server = RtspServer::start(
        free_port(),
        &[
            "--clip",
            clip.to_str().unwrap(),
            "--audio",
            "--onvif",
            &DOCUMENTS.to_string(),
        ],
    );
    let (store, camera) = store(&dir.join("data"));
    let mut src = source(camera, &server.url(), RtspTransport::Tcp);
    src.extra = extra;
    // GStreamer's server now and then sends nothing after PLAY when a client
    // set up only some of a file's streams; Veil's stall watchdog then
    // reconnects (a fresh replay), so the wait below covers that too.
    src.timing.backoff_base = Duration::from_secs(1);
    src.timing.backoff_max = Duration::from_secs(2);
    src.timing.stall_timeout = Duration::from_secs(10);
    let ingest = Ingest::start(&store, src);
    ingest
        .wait_for(60, "recording", |s| s.state == IngestState::Recording)
        .await;
    let status = ingest.status();
    if extra.audio {
        assert!(
            status.tracks.iter().any(|t| t == "audio: recording AAC"),
            "{status:?}"
        );
    } else {
        assert!(status.tracks.is_empty(), "{status:?}");
    }
    ingest
        .wait_for(60, "end of the clip", |s| s.state == IngestState::Error)
        .await;
    ingest.stop().await;
    let runs = runs(&store, camera);
    assert_eq!(runs.len(), 1, "one session, one run: {runs:?}");
    let file = dir.join("recorded.mp4");
    std::fs::write(&file, mp4(&store, camera, runs[0].0, runs[0].1).await).unwrap();
    (server, store, file)
}

/// `(codec_type, codec_name, duration)` of every stream.
fn streams(file: &Path) -> Vec<(String, String, f64)> {
    ffprobe(
        file,
        &[
            "-show_entries",
            "stream=codec_type,codec_name,duration",
            "-of",
            "csv=p=0",
        ],
    )
    .lines()
    .filter(|l| !l.trim().is_empty())
    .map(|l| {
        let f: Vec<&str> = l.split(',').collect();
        // ffprobe prints the fields in its own order: name, type, duration.
        (
            f[1].to_owned(),
            f[0].to_owned(),
            f.get(2).and_then(|d| d.parse().ok()).unwrap_or(-1.0),
        )
    })
    .collect()
}

/// Runs ffmpeg with `args` on `file`; returns stdout (panics on failure).
fn ffmpeg_out(file: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-i"])
        .arg(file)
        .args(args)
        .output()
        .expect("ffmpeg not found: install the Debian package ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audio_and_metadata_are_never_set_up_unless_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _store, file) = record(dir.path(), ExtraStreams::default()).await;
    // The camera offered three streams; only the video was set up.
    let setups = server.setup_uris();
    assert!(!setups.is_empty(), "no SETUP at all");
    assert!(
        setups.iter().all(|u| u.ends_with("stream=0")),
        "only the video may be set up: {setups:?}"
    );
    let s = streams(&file);
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!((s[0].0.as_str(), s[0].1.as_str()), ("video", "h264"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn enabled_audio_and_metadata_are_recorded_and_play_back_in_sync() {
    let dir = tempfile::tempdir().unwrap();
    let extra = ExtraStreams {
        audio: true,
        metadata: true,
    };
    let (server, store, file) = record(dir.path(), extra).await;
    // Every session set up all three streams.
    let setups = server.setup_uris();
    for n in 0..3 {
        let suffix = format!("stream={n}");
        let count = setups.iter().filter(|u| u.ends_with(&suffix)).count();
        assert_eq!(count * 3, setups.len(), "{setups:?}");
    }

    // Video, AAC audio and a data stream, with matching durations.
    let s = streams(&file);
    assert_eq!(s.len(), 3, "{s:?}");
    assert_eq!(
        (s[0].0.as_str(), s[0].1.as_str()),
        ("video", "h264"),
        "{s:?}"
    );
    assert_eq!(
        (s[1].0.as_str(), s[1].1.as_str()),
        ("audio", "aac"),
        "{s:?}"
    );
    assert_eq!(s[2].0, "data", "{s:?}");
    let (video, audio) = (s[0].2, s[1].2);
    assert!(video > 6.0, "{s:?}");
    assert!(
        (video - audio).abs() <= 0.08,
        "audio {audio} s, video {video} s"
    );
    decodes_cleanly(&file);

    // The audio decodes to the 1 kHz tone: loud, about 2000 zero crossings/s.
    let pcm = ffmpeg_out(
        &file,
        &[
            "-map", "0:a", "-f", "s16le", "-ac", "1", "-ar", "48000", "-",
        ],
    );
    let samples: Vec<i16> = pcm
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let seconds = samples.len() as f64 / 48_000.0;
    assert!((seconds - audio).abs() < 0.1, "{seconds} s of PCM");
    let rms =
        (samples.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / samples.len() as f64).sqrt();
    assert!(rms > 1000.0, "the audio is silent (RMS {rms})");
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count() as f64;
    let hz = crossings / 2.0 / seconds;
    assert!((hz - 1000.0).abs() < 50.0, "tone at {hz} Hz");
    // The WAV path of the brief works too.
    let wav = ffmpeg_out(&file, &["-map", "0:a", "-f", "wav", "-"]);
    assert!(
        wav.starts_with(b"RIFF") && wav.len() > 100_000,
        "{}",
        wav.len()
    );

    // The metadata track holds the XML documents the camera sent, whole.
    let data = ffmpeg_out(&file, &["-map", "0:d", "-c", "copy", "-f", "data", "-"]);
    let text = String::from_utf8_lossy(&data);
    let found: Vec<usize> = (0..DOCUMENTS)
        .filter(|k| text.contains(&format!("\"veil-test-document-{k}\"")))
        .collect();
    assert_eq!(found, (0..DOCUMENTS).collect::<Vec<_>>(), "{text}");
    assert_eq!(text.matches("<?xml").count(), DOCUMENTS, "{text}");
    assert_eq!(
        text.matches("</tt:MetadataStream>").count(),
        DOCUMENTS,
        "{text}"
    );

    // Storage: audio and metadata are in the segments' sealed media.
    let camera = store.db.cameras().unwrap()[0].id;
    let segs = store
        .segments(
            camera,
            MAIN_RENDITION,
            veil_base::Time90k(0),
            veil_base::Time90k(i64::MAX / 2),
        )
        .unwrap();
    let video_bytes: u64 = segs.iter().map(|s| s.index.video_bytes()).sum();
    let total: u64 = segs.iter().map(|s| s.index.media_bytes()).sum();
    // Every segment has audio; the documents (0.5 to 4 s) are in the first two.
    let kinds: Vec<usize> = segs.iter().map(|s| s.index.tracks.len()).collect();
    assert!(kinds.iter().all(|&n| n >= 1), "{kinds:?}");
    assert_eq!(kinds[0], 2, "{kinds:?}");
    let mp4_len = std::fs::metadata(&file).unwrap().len();
    eprintln!(
        "segments: {} video bytes, {} audio+metadata bytes ({:.1} %), playback MP4 {} bytes",
        video_bytes,
        total - video_bytes,
        100.0 * (total - video_bytes) as f64 / video_bytes as f64,
        mp4_len
    );
}
