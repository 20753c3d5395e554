//! Privacy masks on real RTSP streams (GStreamer serving ffmpeg/libx264
//! clips in Baseline, Main and High with B-frames): the stored video is
//! decrypted, played back and decoded by ffmpeg; inside a permanent mask
//! every pixel of every frame is the fill, outside it the picture matches
//! the camera's; frames, times and keyframes are the camera's.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use veil_base::CameraId;
use veil_ingest::{IngestState, RtspTransport};
use veil_media::mask::rasterise;
use veil_media::masking::SOLID_FILL;
use veil_store::{Store, MAIN_RENDITION, ORIGINAL_RENDITION, PROTECTED_RENDITION};

const W: usize = 320;
const H: usize = 240;
const WINDOW: [[f64; 2]; 4] = [[0.25, 0.25], [0.6, 0.25], [0.6, 0.7], [0.25, 0.7]];
const DOOR: [[f64; 2]; 3] = [[0.7, 0.1], [0.95, 0.1], [0.8, 0.6]];
/// How far a pixel 4 pixels inside a mask may be from the fill: codec noise
/// (measured: 7 to 12 at this size and rate); the pictures' own values span
/// 0 to 255. 2 to 4 pixels inside, the deblocking filter blends in the edge:
/// up to 48 (measured: 15 to 34).
const FILL_NOISE: u8 = 16;

fn mask_json(kind: &str, fill: &str, polygon: &[[f64; 2]]) -> serde_json::Value {
    serde_json::json!({"kind": kind, "fill": fill, "name": "Window",
        "reason": "a neighbour's window in view", "polygon": polygon, "scope": "all"})
}

fn set_masks(store: &Store, camera: CameraId, masks: &[serde_json::Value]) -> i64 {
    let json = serde_json::to_string(masks).unwrap();
    let id = store
        .db
        .insert_mask_version(camera, &json, None, store.clock().now())
        .unwrap();
    store.publish_masks(camera).unwrap();
    id
}

/// Luma of every frame, display order.
fn gray_frames(file: &Path) -> Vec<Vec<u8>> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .expect("ffmpeg not found: install the Debian package ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.chunks(W * H).map(<[u8]>::to_vec).collect()
}

/// Pixels covered by the polygon grown (`grow` > 0) or shrunk (< 0) by
/// `grow` pixels.
fn region(polygon: &[[f64; 2]], grow: isize) -> Vec<bool> {
    let inside = rasterise(polygon, W, H);
    let r = grow.abs();
    (0..W * H)
        .map(|i| {
            let (x, y) = ((i % W) as isize, (i / W) as isize);
            let mut any = false;
            let mut all = true;
            for dy in -r..=r {
                for dx in -r..=r {
                    let (nx, ny) = (x + dx, y + dy);
                    let v = nx >= 0
                        && ny >= 0
                        && nx < W as isize
                        && ny < H as isize
                        && inside[ny as usize * W + nx as usize];
                    any |= v;
                    all &= v;
                }
            }
            if grow >= 0 {
                any
            } else {
                all
            }
        })
        .collect()
}

/// PSNR in dB of `a` against `b` over the pixels where `keep` holds.
fn psnr(a: &[u8], b: &[u8], keep: &[bool]) -> f64 {
    let (mut sum, mut n) = (0.0f64, 0usize);
    for i in 0..a.len() {
        if keep[i] {
            let d = f64::from(a[i]) - f64::from(b[i]);
            sum += d * d;
            n += 1;
        }
    }
    10.0 * (255.0f64 * 255.0 / (sum / n as f64).max(1e-9)).log10()
}

/// A clip served over RTSP to a camera whose `masks` are set before it
/// connects; one session (the clip ends, no reconnect).
struct Served {
    _server: RtspServer,
    store: Store,
    camera: CameraId,
    ingest: Ingest,
}

fn serve_masked(dir: &Path, name: &str, clip: &Path, masks: &[serde_json::Value]) -> Served {
    let server = RtspServer::start(free_port(), &["--clip", clip.to_str().unwrap()]);
    let (store, camera) = store(&dir.join(name));
    set_masks(&store, camera, masks);
    let mut src = source(camera, &server.url(), RtspTransport::Tcp);
    src.timing.backoff_base = Duration::from_secs(120);
    src.timing.backoff_max = Duration::from_secs(120);
    let ingest = Ingest::start(&store, src);
    Served {
        _server: server,
        store,
        camera,
        ingest,
    }
}

impl Served {
    /// Waits for the end of the clip (not a masking failure) and stops.
    async fn until_clip_ends(self, name: &str) -> (Store, CameraId) {
        self.ingest
            .wait_for(60, "end of the clip", |s| s.state == IngestState::Error)
            .await;
        let error = self.ingest.status().last_error.unwrap_or_default();
        assert!(
            error.contains("ended the stream") || error.contains("stalled"),
            "{name}: {error}"
        );
        self.ingest.stop().await;
        (self.store, self.camera)
    }
}

/// Records an 8 s libx264 clip with `masks`; returns the store, the camera
/// and the clip.
async fn record(
    dir: &Path,
    name: &str,
    x264: &[&str],
    masks: &[serde_json::Value],
) -> (Store, CameraId, std::path::PathBuf) {
    let clip = make_clip(dir, &format!("{name}.mp4"), 8, x264);
    let (store, camera) = serve_masked(dir, name, &clip, masks)
        .until_clip_ends(name)
        .await;
    (store, camera, clip)
}

async fn save(store: &Store, camera: CameraId, rendition: &str, file: &Path) {
    let runs = runs_of(store, camera, rendition);
    assert_eq!(runs.len(), 1, "{rendition}: one session, one run: {runs:?}");
    let (start, end) = runs[0];
    std::fs::write(file, mp4_of(store, camera, rendition, start, end).await).unwrap();
}

/// Presentation times (relative to the first, in frames) of all packets and
/// of the keyframes.
fn times(file: &Path) -> (Vec<i64>, Vec<i64>) {
    let p = packets(file);
    let first = p.iter().map(|x| x.0).fold(f64::MAX, f64::min);
    let frame = |t: f64| ((t - first) * 25.0).round() as i64;
    let mut all: Vec<i64> = p.iter().map(|x| frame(x.0)).collect();
    all.sort_unstable();
    let keys = p.iter().filter(|x| x.1).map(|x| frame(x.0)).collect();
    (all, keys)
}

async fn permanent_mask_on(dir: &Path, name: &str, x264: &[&str]) {
    let (store, camera, clip) =
        record(dir, name, x264, &[mask_json("permanent", "solid", &WINDOW)]).await;
    assert!(
        runs_of(&store, camera, MAIN_RENDITION).is_empty()
            && runs_of(&store, camera, ORIGINAL_RENDITION).is_empty(),
        "{name}: only the masked picture is stored"
    );
    let file = dir.join(format!("{name}-protected.mp4"));
    save(&store, camera, PROTECTED_RENDITION, &file).await;
    decodes_cleanly(&file);

    // Frames, times and keyframes are the camera's.
    let (got, got_keys) = times(&file);
    let (want, want_keys) = times(&clip);
    assert_eq!(got, want, "{name}: every frame at its time");
    assert_eq!(
        got_keys, want_keys,
        "{name}: keyframes where the camera put them"
    );

    // Every stored frame: the fill inside, the camera's picture outside.
    let ours = gray_frames(&file);
    let reference = gray_frames(&clip);
    assert_eq!(ours.len(), reference.len(), "{name}: decoded frame count");
    // The encoder only ever saw the fill inside the polygon, so nothing of
    // the hidden picture can be in the stream; what the codec adds is noise
    // from the edge: the deblocking filter blends up to 3 pixels across a
    // block edge, more at low rates; quantisation and motion compensation
    // add a few levels of noise everywhere (this clip's rate, 340 kbit/s at
    // 320x240, is low for OpenH264).
    let (edge, deep) = (region(&WINDOW, -2), region(&WINDOW, -4));
    let outside: Vec<bool> = region(&WINDOW, 2).iter().map(|c| !c).collect();
    let (mut worst_edge, mut worst_deep, mut worst_psnr) = (0u8, 0u8, f64::MAX);
    for (a, b) in ours.iter().zip(&reference) {
        for i in 0..W * H {
            let off = a[i].abs_diff(SOLID_FILL[0]);
            if deep[i] {
                worst_deep = worst_deep.max(off);
            } else if edge[i] {
                worst_edge = worst_edge.max(off);
            }
        }
        worst_psnr = worst_psnr.min(psnr(a, b, &outside));
    }
    eprintln!(
        "{name}: fill off by at most {worst_deep} (4 px in), {worst_edge} (2-4 px in); \
         PSNR outside at least {worst_psnr:.1} dB"
    );
    assert!(
        worst_deep <= FILL_NOISE,
        "{name}: a pixel 4 px inside the mask is {worst_deep} off the fill"
    );
    assert!(
        worst_edge <= 48,
        "{name}: a pixel 2 px inside the mask is {worst_edge} off the fill"
    );
    assert!(
        worst_psnr >= 30.0,
        "{name}: PSNR outside the mask {worst_psnr:.1} dB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn permanent_masks_on_baseline_main_and_high_with_b_frames() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tokio::join!(
        permanent_mask_on(d, "baseline", &["-profile:v", "baseline"]),
        permanent_mask_on(d, "main-b", &["-profile:v", "main", "-bf", "2"]),
        permanent_mask_on(d, "high-b", &["-profile:v", "high", "-bf", "2"]),
    );
    // The sources really have B-frames (so the checks above mean something).
    for clip in ["main-b.mp4", "high-b.mp4"] {
        let types = picture_types(&d.join(clip));
        assert!(types.contains('B'), "no B-frames in {clip}: {types}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_liftable_mask_stores_a_second_rendition_of_the_same_frames() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let masks = [
        mask_json("permanent", "solid", &WINDOW),
        mask_json("liftable", "solid", &DOOR),
    ];
    let high_b = ["-profile:v", "high", "-bf", "2"];
    let (store, camera, clip) = record(d, "lift", &high_b, &masks).await;
    let all = veil_base::Time90k(i64::MAX / 2);
    let rows = |r| {
        store
            .db
            .segments(camera, r, veil_base::Time90k(0), all)
            .unwrap()
    };
    let (protected, original) = (rows(PROTECTED_RENDITION), rows(ORIGINAL_RENDITION));
    assert!(rows(MAIN_RENDITION).is_empty());
    assert!(!protected.is_empty());
    let shape = |v: &[veil_store::db::SegmentRow]| {
        v.iter()
            .map(|s| (s.start_90k, s.duration_90k, s.frames, s.mask_version_id))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        shape(&protected),
        shape(&original),
        "the same frames, cut alike"
    );
    let frames: u32 = protected.iter().map(|s| s.frames).sum();
    assert_eq!(
        frames as usize,
        packets(&clip).len(),
        "every frame of the camera"
    );
    // What everyone sees has both masks.
    let file = d.join("protected.mp4");
    save(&store, camera, PROTECTED_RENDITION, &file).await;
    let door = region(&DOOR, -4);
    let worst = gray_frames(&file)
        .iter()
        .flat_map(|f| {
            (0..W * H)
                .filter(|&i| door[i])
                .map(|i| f[i].abs_diff(SOLID_FILL[0]))
        })
        .max()
        .unwrap();
    assert!(
        worst <= FILL_NOISE,
        "the liftable mask is in protected: {worst} off the fill"
    );
    // The original opens only through the lift path.
    assert!(store
        .segments(camera, ORIGINAL_RENDITION, veil_base::Time90k(0), all)
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn masks_change_at_the_next_keyframe_and_segments_name_their_version() {
    let dir = tempfile::tempdir().unwrap();
    let server = RtspServer::start(free_port(), &["--live", "320x240", "--bitrate", "500000"]);
    let (store, camera) = store(dir.path());
    let ingest = Ingest::start(&store, source(camera, &server.url(), RtspTransport::Tcp));
    ingest
        .wait_for(60, "recording", |s| s.state == IngestState::Recording)
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let version = set_masks(&store, camera, &[mask_json("permanent", "solid", &WINDOW)]);
    tokio::time::sleep(Duration::from_secs(6)).await;
    ingest.stop().await;
    let all = store
        .db
        .segments(
            camera,
            MAIN_RENDITION,
            veil_base::Time90k(0),
            veil_base::Time90k(i64::MAX / 2),
        )
        .unwrap();
    assert!(!all.is_empty(), "recorded unmasked before the change");
    assert!(all.iter().all(|s| s.mask_version_id.is_none()));
    let masked = store
        .db
        .segments(
            camera,
            PROTECTED_RENDITION,
            veil_base::Time90k(0),
            veil_base::Time90k(i64::MAX / 2),
        )
        .unwrap();
    assert!(!masked.is_empty(), "recorded masked after the change");
    assert!(masked.iter().all(|s| s.mask_version_id == Some(version)));
    let last_plain = all
        .iter()
        .map(|s| s.start_90k.0 + s.duration_90k)
        .max()
        .unwrap();
    let first_masked = masked.iter().map(|s| s.start_90k.0).min().unwrap();
    assert!(last_plain <= first_masked, "no time is recorded both ways");
    assert!(
        first_masked - last_plain <= 90_000 / 10,
        "masking began at the next keyframe, without a gap: {} ticks",
        first_masked - last_plain
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_stream_into_the_decoder_is_an_error_and_stores_nothing_unmasked() {
    let dir = tempfile::tempdir().unwrap();
    // Slices whose bytes are scrambled after the clip was made: valid RTP,
    // valid NAL framing, undecodable pictures.
    let clip = make_clip(dir.path(), "clip.mp4", 4, &["-profile:v", "high"]);
    let broken = dir.path().join("broken.mp4");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&clip)
        .args(["-c", "copy", "-bsf:v", "noise=amount=20", "-f", "mp4"])
        .arg(&broken)
        .status()
        .unwrap();
    assert!(status.success());
    let server = RtspServer::start(free_port(), &["--clip", broken.to_str().unwrap()]);
    let (store, camera) = store(dir.path());
    set_masks(&store, camera, &[mask_json("permanent", "solid", &WINDOW)]);
    let ingest = Ingest::start(&store, source(camera, &server.url(), RtspTransport::Tcp));
    let viewer = watch_live(&ingest);
    ingest
        .wait_for(60, "the error", |s| s.state == IngestState::Error)
        .await;
    let error = ingest.status().last_error.unwrap_or_default();
    assert!(
        error.starts_with("cannot mask the camera's video"),
        "{error}"
    );
    ingest.stop().await;
    assert!(
        runs_of(&store, camera, MAIN_RENDITION).is_empty(),
        "never an unmasked frame stored"
    );
    // Whatever was recorded or shown before the error is masked.
    let live = viewer.await.unwrap();
    if !live.is_empty() {
        let file = dir.path().join("live.mp4");
        std::fs::write(&file, live).unwrap();
        assert!(filled_in_every_frame(&file, &WINDOW));
    }
    for (i, (start, end)) in runs_of(&store, camera, PROTECTED_RENDITION)
        .into_iter()
        .enumerate()
    {
        let file = dir.path().join(format!("run{i}.mp4"));
        std::fs::write(
            &file,
            mp4_of(&store, camera, PROTECTED_RENDITION, start, end).await,
        )
        .unwrap();
        assert!(filled_in_every_frame(&file, &WINDOW));
    }
}

/// Whether the polygon's interior (4 pixels in) is the fill in every frame.
fn filled_in_every_frame(file: &Path, polygon: &[[f64; 2]]) -> bool {
    let inside = region(polygon, -4);
    let frames = gray_frames(file);
    assert!(!frames.is_empty(), "{}: no frames", file.display());
    frames
        .iter()
        .all(|f| (0..W * H).all(|i| !inside[i] || f[i].abs_diff(SOLID_FILL[0]) <= FILL_NOISE))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_view_gets_the_masks_of_live_scope() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let clip = make_clip(d, "live.mp4", 6, &["-profile:v", "high", "-bf", "2"]);
    let mut watch_only = mask_json("liftable", "solid", &DOOR);
    watch_only["scope"] = "live_only".into();
    let masks = [mask_json("permanent", "solid", &WINDOW), watch_only];
    let served = serve_masked(d, "store", &clip, &masks);
    let viewer = watch_live(&served.ingest);
    let (store, camera) = served.until_clip_ends("live").await;
    let live = d.join("live-view.mp4");
    std::fs::write(&live, viewer.await.unwrap()).unwrap();
    let recorded = d.join("recorded.mp4");
    save(&store, camera, PROTECTED_RENDITION, &recorded).await;
    // Live view: both masks. The recording: only the one of recording scope.
    assert!(filled_in_every_frame(&live, &WINDOW));
    assert!(filled_in_every_frame(&live, &DOOR));
    assert!(filled_in_every_frame(&recorded, &WINDOW));
    assert!(
        !filled_in_every_frame(&recorded, &DOOR),
        "a live-only mask is not stored"
    );
    assert!(runs_of(&store, camera, ORIGINAL_RENDITION).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resolution_change_mid_stream_stays_masked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let clip = two_resolutions(d);
    let masks = [mask_json("permanent", "solid", &WINDOW)];
    let (store, camera) = serve_masked(d, "data", &clip, &masks)
        .until_clip_ends("resolution")
        .await;
    let runs = runs_of(&store, camera, PROTECTED_RENDITION);
    assert_eq!(runs.len(), 2, "one run per resolution: {runs:?}");
    let mut total = 0;
    for (i, (start, end)) in runs.iter().enumerate() {
        let file = d.join(format!("run{i}.mp4"));
        std::fs::write(
            &file,
            mp4_of(&store, camera, PROTECTED_RENDITION, *start, *end).await,
        )
        .unwrap();
        decodes_cleanly(&file);
        let (w, h) = [(320usize, 240usize), (480, 272)][i];
        let inside = rasterise(&WINDOW, w, h);
        // 4 pixels in: the polygon eroded on the frame's own grid.
        let deep: Vec<bool> = (0..w * h)
            .map(|p| {
                let (x, y) = ((p % w) as isize, (p / w) as isize);
                (-4..=4isize).all(|dy| {
                    (-4..=4isize).all(|dx| {
                        let (nx, ny) = (x + dx, y + dy);
                        nx >= 0
                            && ny >= 0
                            && (nx as usize) < w
                            && (ny as usize) < h
                            && inside[ny as usize * w + nx as usize]
                    })
                })
            })
            .collect();
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&file)
            .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])
            .output()
            .unwrap();
        let frames: Vec<&[u8]> = out.stdout.chunks(w * h).collect();
        assert!(frames
            .iter()
            .all(|f| (0..w * h).all(|p| !deep[p] || f[p].abs_diff(SOLID_FILL[0]) <= FILL_NOISE)));
        total += frames.len();
    }
    assert_eq!(total, 150, "every frame of both sequences");
}
