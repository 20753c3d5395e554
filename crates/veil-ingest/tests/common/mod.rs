//! Test helpers: a real RTSP server (GStreamer, driven by `rtsp_server.py`),
//! clips made by ffmpeg/libx264, a real store, and MP4s checked with ffprobe.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use veil_base::{CameraId, SharedClock, SystemClock, Time90k};
use veil_ingest::{CameraStatus, IngestTiming, RtspSource, RtspTransport, StatusBoard};
use veil_store::recorder::{LiveHub, StopSignal};
use veil_store::{playback, Store, MAIN_RENDITION};

/// Debian's own Python, which sees python3-gi.
const PYTHON: &str = "/usr/bin/python3";

/// A GStreamer RTSP server child process; killed on drop.
pub struct RtspServer {
    child: Child,
    pub port: u16,
    /// Arrival time of every `client-connected` line.
    pub connections: Arc<Mutex<Vec<Instant>>>,
    /// The URI of every stream a client set up (`setup URI` lines).
    pub setups: Arc<Mutex<Vec<String>>>,
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl RtspServer {
    /// Starts the server with `args` (after `--port`) and waits until it listens.
    pub fn start(port: u16, args: &[&str]) -> RtspServer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rtsp_server.py");
        let mut child = Command::new(PYTHON)
            .arg(script)
            .arg("--port")
            .arg(port.to_string())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect(
                "cannot run /usr/bin/python3: install the Debian packages python3-gi \
                 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-plugins-base \
                 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad (scripts/test does)",
            );
        let connections = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let conns = connections.clone();
        let setups = Arc::new(Mutex::new(Vec::new()));
        let setups_seen = setups.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if line.starts_with("ready") {
                    let _ = ready_tx.send(());
                } else if line == "client-connected" {
                    conns.lock().unwrap().push(Instant::now());
                } else if let Some(uri) = line.strip_prefix("setup ") {
                    setups_seen.lock().unwrap().push(uri.to_owned());
                }
            }
        });
        ready_rx.recv_timeout(Duration::from_secs(30)).expect(
            "the GStreamer RTSP server did not start: needs gir1.2-gst-rtsp-server-1.0 \
             gstreamer1.0-rtsp python3-gi gstreamer1.0-plugins-{base,good,bad}",
        );
        RtspServer {
            child,
            port,
            connections,
            setups,
        }
    }

    /// The stream's URL.
    pub fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}/stream", self.port)
    }

    /// Kills the server at once (SIGKILL), as a crashed camera would vanish.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The streams set up so far.
    pub fn setup_uris(&self) -> Vec<String> {
        self.setups.lock().unwrap().clone()
    }

    /// Connections so far.
    pub fn connection_times(&self) -> Vec<Instant> {
        self.connections.lock().unwrap().clone()
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Makes a 25 fps 320x240 clip with ffmpeg/libx264 (`x264_args` choose the
/// profile).
pub fn make_clip(dir: &Path, name: &str, seconds: u32, x264_args: &[&str]) -> PathBuf {
    test_pattern(dir, name, "320x240", seconds, x264_args)
}

/// ffmpeg's moving test pattern at `size`, 25 fps, encoded by libx264 with a
/// keyframe a second; `args` add encoder or container options.
fn test_pattern(dir: &Path, name: &str, size: &str, seconds: u32, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let status = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!("testsrc2=size={size}:rate=25"))
        .arg("-t")
        .arg(seconds.to_string())
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "25"])
        .args(args)
        .arg(&out)
        .status()
        .expect("ffmpeg not found: install the Debian package ffmpeg");
    assert!(status.success(), "ffmpeg could not make {name}");
    out
}

/// A documented purpose (the JSON of a `veil_dpo::model::Purpose`): a
/// camera without one does not record.
pub const PURPOSE: &str = r#"{"purposes":["Protection of the premises against theft"],"legal_basis":"c","balancing_note":"","detail":"recognition","site":"test","retention_justification":"Thefts are noticed within a week"}"#;

/// A store in a temporary directory with one camera row, with a
/// documented purpose (so it records).
pub fn store(dir: &Path) -> (Store, CameraId) {
    let (store, id) = store_without_purpose(dir);
    assert!(store.set_camera_purpose(id, Some(PURPOSE)).unwrap());
    (store, id)
}

/// A store in a temporary directory with one camera row without a
/// documented purpose.
pub fn store_without_purpose(dir: &Path) -> (Store, CameraId) {
    let clock: SharedClock = Arc::new(SystemClock);
    let store = Store::open_dir(&dir.join("data"), clock.clone()).unwrap();
    let id = store
        .db
        .upsert_camera("cam", "rtsp", "{}", clock.now())
        .unwrap();
    (store, id)
}

/// Ingest settings for tests: short timeouts.
pub fn source(camera: CameraId, url: &str, transport: RtspTransport) -> RtspSource {
    RtspSource {
        camera,
        url: url.to_owned(),
        credentials: None,
        transport,
        tls_fingerprint: None,
        segment_90k: 2 * 90_000,
        timing: IngestTiming {
            connect_timeout: Duration::from_secs(20),
            stall_timeout: Duration::from_secs(3),
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
        },
        recording: veil_ingest::RecordingMode::Continuous,
        extra: Default::default(),
    }
}

/// A running ingest.
pub struct Ingest {
    pub board: StatusBoard,
    /// The camera's live frames (subscribe before frames arrive).
    pub live: LiveHub,
    pub stop: StopSignal,
    pub task: tokio::task::JoinHandle<()>,
    pub camera: CameraId,
}

impl Ingest {
    pub fn start(store: &Store, src: RtspSource) -> Ingest {
        Ingest::start_with_live(store, src, LiveHub::default())
    }

    /// As [`Ingest::start`], publishing live frames to `live`.
    pub fn start_with_live(store: &Store, src: RtspSource, live: LiveHub) -> Ingest {
        let board = StatusBoard::default();
        let stop = StopSignal::default();
        let camera = src.camera;
        let task = veil_ingest::spawn_rtsp(
            store.clone(),
            live.clone(),
            board.clone(),
            src,
            stop.clone(),
        );
        Ingest {
            board,
            live,
            stop,
            task,
            camera,
        }
    }

    pub fn status(&self) -> CameraStatus {
        self.board.get(self.camera).unwrap_or_default()
    }

    /// Polls until `f` holds for the status (panics after `secs`).
    pub async fn wait_for(&self, secs: u64, what: &str, f: impl Fn(&CameraStatus) -> bool) {
        let until = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.status();
            if f(&s) {
                return;
            }
            assert!(
                Instant::now() < until,
                "timed out waiting for {what}: {s:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops and waits until every segment is written.
    pub async fn stop(self) {
        self.stop.stop();
        tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .expect("ingest did not stop")
            .unwrap();
    }
}

/// Recorded runs of the camera (what `/recordings` lists).
pub fn runs(store: &Store, camera: CameraId) -> Vec<(Time90k, Time90k)> {
    runs_of(store, camera, MAIN_RENDITION)
}

/// Recorded runs of one rendition of the camera.
pub fn runs_of(store: &Store, camera: CameraId, rendition: &str) -> Vec<(Time90k, Time90k)> {
    store
        .runs(camera, rendition, Time90k(0), Time90k(i64::MAX / 2))
        .unwrap()
}

/// The MP4 of `[start, end)` as playback serves it.
pub async fn mp4(store: &Store, camera: CameraId, start: Time90k, end: Time90k) -> Vec<u8> {
    mp4_of(store, camera, MAIN_RENDITION, start, end).await
}

/// The MP4 of `[start, end)` of one rendition.
pub async fn mp4_of(
    store: &Store,
    camera: CameraId,
    rendition: &str,
    start: Time90k,
    end: Time90k,
) -> Vec<u8> {
    let segs: Vec<Arc<veil_store::Segment>> = store
        .segments(camera, rendition, start, end)
        .unwrap()
        .into_iter()
        .map(Arc::new)
        .collect();
    let plan = playback::plan(&segs, start, end).expect("nothing recorded");
    let mut out = plan.header.clone();
    for p in &plan.parts {
        let media = store.read_media(&p.segment).await.unwrap();
        out.extend_from_slice(&media[p.media_from as usize..p.media_to as usize]);
    }
    assert_eq!(out.len() as u64, plan.len);
    out
}

/// Runs ffprobe; returns stdout (panics on failure).
pub fn ffprobe(file: &Path, args: &[&str]) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .arg(file)
        .output()
        .expect("ffprobe not found: install the Debian package ffmpeg");
    assert!(
        out.status.success(),
        "ffprobe failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Packets in decode order: (pts in seconds, keyframe).
pub fn packets(file: &Path) -> Vec<(f64, bool)> {
    ffprobe(
        file,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts_time,flags",
            "-of",
            "csv=p=0",
        ],
    )
    .lines()
    .filter(|l| !l.is_empty())
    .map(|l| {
        let mut it = l.split(',');
        let pts: f64 = it.next().unwrap().parse().unwrap();
        (pts, it.next().unwrap_or("").starts_with('K'))
    })
    .collect()
}

/// Picture types of the decoded frames, in display order.
pub fn picture_types(file: &Path) -> String {
    ffprobe(
        file,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=pict_type",
            "-of",
            "csv=p=0",
        ],
    )
    .lines()
    .map(|l| l.trim())
    .collect()
}

/// Decodes the whole file with ffmpeg; panics on any decoder message.
pub fn decodes_cleanly(file: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg not found: install the Debian package ffmpeg");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "{}: {stderr}",
        file.display()
    );
}

/// Encodes `seconds` of 25 fps video at `size` as raw H.264 with parameter
/// sets before every keyframe (as cameras send them).
pub fn raw_h264(dir: &Path, name: &str, size: &str, seconds: u32) -> PathBuf {
    let args = ["-bf", "0", "-x264-params", "repeat-headers=1", "-f", "h264"];
    test_pattern(dir, name, size, seconds, &args)
}

/// 3 s at 320x240, then 3 s at 480x272, in one Matroska file (real
/// timestamps): the new SPS arrives in-band mid-stream.
pub fn two_resolutions(d: &Path) -> PathBuf {
    let mut both = std::fs::read(raw_h264(d, "a.h264", "320x240", 3)).unwrap();
    both.extend(std::fs::read(raw_h264(d, "b.h264", "480x272", 3)).unwrap());
    std::fs::write(d.join("both.h264"), both).unwrap();
    let clip = d.join("both.mkv");
    let ok = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-r", "25", "-i"])
        .arg(d.join("both.h264"))
        .args(["-c", "copy"])
        .arg(&clip)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    clip
}

/// A live viewer of the camera: the fragmented MP4 the WebSocket handler
/// would send (minus the socket), until no frame came for 5 s.
pub fn watch_live(ingest: &Ingest) -> tokio::task::JoinHandle<Vec<u8>> {
    let mut rx = ingest.live.subscribe(ingest.camera);
    tokio::spawn(async move {
        let mut muxer: Option<veil_media::live::LiveMuxer> = None;
        let mut out = Vec::new();
        while let Ok(Ok(f)) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            let m = muxer.get_or_insert_with(|| {
                assert!(f.is_key, "the first live frame of the clip is its IDR");
                let m = veil_media::live::LiveMuxer::start(&f.params, f.pts_90k.0, f.duration_90k);
                out.extend_from_slice(&m.init_segment());
                m
            });
            out.extend(m.fragment(f.pts_90k.0, f.duration_90k, f.is_key, &f.data));
        }
        out
    })
}
