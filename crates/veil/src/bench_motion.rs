//! `veil bench motion`: the motion detector's cost per keyframe (decode alone
//! with OpenH264, reduce the luma plane to the grid, compare) at 720p and
//! 1080p, next to ffmpeg decoding only the keyframes of the same clip on one
//! thread (`-skip_frame nokey`), in the same run. The clip is High profile
//! with B-frames, made by ffmpeg/libx264 from its test pattern, as cameras
//! send it.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::Context as _;
use veil_media::h264::{annexb_nals, annexb_to_avc, nal_unit_type, AvcFrame};
use veil_media::motion::{LumaGrid, MotionConfig, MotionDetector};
use veil_media::VideoParams;

#[derive(clap::Args)]
pub struct MotionArgs {
    /// Seconds of video per resolution (one keyframe per second).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(2..=600))]
    seconds: u32,
    /// Passes over the keyframes; the fastest is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=50))]
    runs: u32,
}

pub fn motion_bench(a: MotionArgs) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("veil-bench-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    println!(
        "motion detector: {} s clips (libx264 High, B-frames, a keyframe per second), one core",
        a.seconds
    );
    println!(
        "{:>6} {:>10} {:>12} {:>12} {:>12} {:>8} {:>14}",
        "size", "keyframes", "detector ms", "grid+cmp ms", "ffmpeg ms", "ratio", "CPU/camera"
    );
    for (w, h) in [(1280u32, 720u32), (1920, 1080)] {
        let clip = make_clip(dir.path(), w, h, a.seconds)?;
        let (params, keyframes) = keyframes(&clip)?;
        anyhow::ensure!(!keyframes.is_empty(), "no keyframes in the clip");
        let n = keyframes.len() as f64;

        let mut detector_s = f64::INFINITY;
        for _ in 0..a.runs {
            let mut d = MotionDetector::new(MotionConfig::default())?;
            let t = Instant::now();
            let mut moving = 0;
            for k in &keyframes {
                moving += usize::from(d.keyframe(&params, k)?.motion);
            }
            detector_s = detector_s.min(t.elapsed().as_secs_f64());
            // The test pattern moves: most keyframes must show motion.
            anyhow::ensure!(moving * 2 > keyframes.len(), "no motion seen");
        }

        // The pure part alone, on a plane of the same size.
        let plane: Vec<u8> = (0..(w * h) as usize).map(|i| (i * 7 % 251) as u8).collect();
        let other: Vec<u8> = plane.iter().map(|v| v.wrapping_add(30)).collect();
        let mut grid_s = f64::INFINITY;
        for _ in 0..a.runs {
            let t = Instant::now();
            let mut changed = 0.0;
            for i in 0..keyframes.len() {
                let p = if i % 2 == 0 { &plane } else { &other };
                let g = LumaGrid::from_luma(p, w as usize, w as usize, h as usize);
                let prev = LumaGrid::from_luma(&other, w as usize, w as usize, h as usize);
                changed += g.changed_fraction(&prev, 20);
            }
            std::hint::black_box(changed);
            // Two grids per keyframe here, one in the detector.
            grid_s = grid_s.min(t.elapsed().as_secs_f64() / 2.0);
        }

        // ffmpeg's start-up and probing are taken out: the whole clip minus
        // its first second (one keyframe), over the other keyframes.
        let (mut all_s, mut one_s) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..a.runs {
            all_s = all_s.min(ffmpeg_keyframes_cpu(&clip, None)?);
            one_s = one_s.min(ffmpeg_keyframes_cpu(&clip, Some(1))?);
        }
        let ffmpeg_s = (all_s - one_s).max(1e-6) * n / (n - 1.0);
        let per = |s: f64| s / n * 1e3;
        println!(
            "{:>6} {:>10} {:>12.2} {:>12.2} {:>12.2} {:>8.2} {:>13.2}%",
            format!("{h}p"),
            keyframes.len(),
            per(detector_s),
            per(grid_s),
            per(ffmpeg_s),
            detector_s / ffmpeg_s,
            per(detector_s) / 1000.0 * 100.0,
        );
    }
    println!(
        "ratio: detector time / ffmpeg keyframe-only decode CPU time (user+system, one thread, \
         start-up subtracted); CPU/camera: share of one core at one keyframe per second"
    );
    Ok(())
}

pub(crate) fn make_clip(
    dir: &Path,
    w: u32,
    h: u32,
    seconds: u32,
) -> anyhow::Result<std::path::PathBuf> {
    let out = dir.join(format!("clip-{h}p.mp4"));
    let ok = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!("testsrc2=size={w}x{h}:rate=25"))
        .arg("-t")
        .arg(seconds.to_string())
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            "high",
        ])
        .args(["-pix_fmt", "yuv420p", "-g", "25", "-keyint_min", "25"])
        .args(["-sc_threshold", "0", "-bf", "2", "-b:v", "4M"])
        .arg(&out)
        .status()
        .context("cannot run ffmpeg (install the Debian package ffmpeg)")?
        .success();
    anyhow::ensure!(ok, "ffmpeg could not make the clip");
    Ok(out)
}

/// The clip's keyframes in AVC form (as ingest sees them) and its parameters.
fn keyframes(clip: &Path) -> anyhow::Result<(VideoParams, Vec<Vec<u8>>)> {
    let (params, units) = access_units(clip)?;
    let keys = units
        .into_iter()
        .filter(|f| f.is_key)
        .map(|f| f.data)
        .collect();
    Ok((params, keys))
}

/// Every access unit of the clip in AVC form, in decode order, and the
/// clip's parameters.
pub(crate) fn access_units(clip: &Path) -> anyhow::Result<(VideoParams, Vec<AvcFrame>)> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(clip)
        .args([
            "-c",
            "copy",
            "-bsf:v",
            "h264_mp4toannexb",
            "-f",
            "h264",
            "-",
        ])
        .output()
        .context("cannot run ffmpeg")?;
    anyhow::ensure!(out.status.success(), "ffmpeg could not extract the stream");
    // Access units: a new one starts at a parameter set, SEI or delimiter
    // after a slice, or at a slice whose first_mb_in_slice is 0.
    let mut units: Vec<Vec<u8>> = Vec::new();
    let mut cur = Vec::new();
    let mut has_slice = false;
    for nal in annexb_nals(&out.stdout) {
        let t = nal_unit_type(nal).unwrap_or(0);
        let slice = t == 1 || t == 5;
        let first_mb_zero = slice && nal.get(1).is_some_and(|b| b & 0x80 != 0);
        if has_slice && (matches!(t, 6..=9) || first_mb_zero) {
            units.push(std::mem::take(&mut cur));
            has_slice = false;
        }
        has_slice |= slice;
        cur.extend_from_slice(&[0, 0, 0, 1]);
        cur.extend_from_slice(nal);
    }
    units.push(cur);
    let mut params = None;
    let mut frames = Vec::new();
    for u in &units {
        let f = annexb_to_avc(u)?;
        if let (Some(sps), Some(pps)) = (&f.sps, &f.pps) {
            params.get_or_insert(VideoParams::from_sps_pps(sps, pps)?);
        }
        frames.push(f);
    }
    Ok((params.context("no SPS/PPS in the clip")?, frames))
}

/// CPU seconds (user + system) ffmpeg takes to decode only the keyframes on
/// one thread (of the first `seconds` only, if given).
fn ffmpeg_keyframes_cpu(clip: &Path, seconds: Option<u32>) -> anyhow::Result<f64> {
    ffmpeg_cpu(
        &["-threads", "1", "-skip_frame", "nokey"],
        clip,
        seconds,
        &["-f", "null", "-"],
    )
}

/// CPU seconds (user + system) of `ffmpeg -benchmark INPUT_ARGS [-t
/// seconds] -i clip OUTPUT_ARGS`.
pub(crate) fn ffmpeg_cpu(
    input_args: &[&str],
    clip: &Path,
    seconds: Option<u32>,
    output_args: &[&str],
) -> anyhow::Result<f64> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-benchmark"]).args(input_args);
    if let Some(s) = seconds {
        cmd.arg("-t").arg(s.to_string());
    }
    let out = cmd
        .arg("-i")
        .arg(clip)
        .args(output_args)
        .output()
        .context("cannot run ffmpeg")?;
    anyhow::ensure!(
        out.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("")
    );
    let text = String::from_utf8_lossy(&out.stderr);
    // "bench: utime=0.123s stime=0.010s rtime=0.140s"
    let field = |name: &str| -> Option<f64> {
        let line = text.lines().find(|l| l.starts_with("bench: utime"))?;
        let v = line.split_whitespace().find_map(|w| w.strip_prefix(name))?;
        v.trim_end_matches('s').parse().ok()
    };
    match (field("utime="), field("stime=")) {
        (Some(u), Some(s)) => Ok(u + s),
        _ => anyhow::bail!("ffmpeg -benchmark printed no times"),
    }
}
