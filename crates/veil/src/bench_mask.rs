//! `veil bench mask`: the masking pipeline (decode, paint, encode again) on
//! one thread at 720p and 1080p, next to ffmpeg doing the same job on one
//! thread in the same run: `ffmpeg -threads 1 -i clip.mp4 -vf
//! drawbox=…:t=fill -c:v libx264 -preset ultrafast -threads 1 -f null -`
//! (libavcodec decodes, x264 encodes). The clip is High profile with
//! B-frames, made by ffmpeg/libx264 from its test pattern, as cameras send
//! it. Both paint the same rectangle; Veil encodes at the clip's own
//! bitrate and keyframes. Veil's row is given for each decoder the build
//! has (OpenH264, and libavcodec with the cargo feature `libav`), or only
//! for the one `--decoder` names.

use anyhow::Context as _;
use veil_media::mask::{Fill, Mask, MaskKind, MaskScope};
use veil_media::masking::{self, EncodeSettings, MaskPipeline, MaskPlan, StageTimes};

use crate::bench_motion::{access_units, ffmpeg_cpu, make_clip};

#[derive(clap::Args)]
pub struct MaskArgs {
    /// Seconds of video per resolution (25 fps, a keyframe per second).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(2..=600))]
    seconds: u32,
    /// Passes over the clip; the fastest is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=50))]
    runs: u32,
    /// The pipeline's decoder: `openh264`, or `libav` when built with the
    /// feature of that name. Without it, every decoder the build has, the
    /// pipeline's default first.
    #[arg(long, value_parser = ["openh264", "libav"])]
    decoder: Option<String>,
}

/// The painted rectangle, as fractions of the picture: x, y, width, height.
const BOX: [f64; 4] = [0.25, 0.25, 0.25, 0.35];

/// CPU seconds of this thread.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

pub fn mask_bench(a: MaskArgs) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("veil-bench-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let decoders: Vec<&str> = match &a.decoder {
        Some(d) => {
            anyhow::ensure!(
                masking::DECODERS.contains(&d.as_str()),
                "--decoder {d}: this build has only {} (build with --features libav)",
                masking::DECODERS.join(", ")
            );
            vec![d.as_str()]
        }
        None => masking::DECODERS.to_vec(),
    };
    println!(
        "masking: {} s clips (libx264 High, B-frames, 4 Mbit/s, a keyframe per second), \
         one solid rectangle, one thread",
        a.seconds
    );
    println!(
        "{:>6} {:>8} {:>7} {:>9} {:>11} {:>7} {:>22} {:>15} {:>9} {:>9}",
        "size",
        "decoder",
        "frames",
        "veil fps",
        "ffmpeg fps",
        "ratio",
        "decode/mask/encode ms",
        "out/in kbit/s",
        "cores/cam",
        "cameras"
    );
    let mask = Mask {
        kind: MaskKind::Permanent,
        fill: Fill::Solid,
        name: "Window".into(),
        reason: "a neighbour's window in view".into(),
        polygon: vec![
            [BOX[0], BOX[1]],
            [BOX[0] + BOX[2], BOX[1]],
            [BOX[0] + BOX[2], BOX[1] + BOX[3]],
            [BOX[0], BOX[1] + BOX[3]],
        ],
        scope: MaskScope::All,
    };
    let plan = MaskPlan::new(&[mask]);
    for (w, h) in [(1280u32, 720u32), (1920, 1080)] {
        let clip = make_clip(dir.path(), w, h, a.seconds)?;
        let (params, units) = access_units(&clip)?;
        let pts = presentation_times(&clip)?;
        anyhow::ensure!(
            pts.len() == units.len(),
            "{} frames but {} times",
            units.len(),
            pts.len()
        );
        let n = units.len() as f64;
        let in_bytes: usize = units.iter().map(|u| u.data.len()).sum();
        let seconds = f64::from(a.seconds);
        let settings = EncodeSettings {
            bitrate_bps: (in_bytes as f64 * 8.0 / seconds) as u32,
            fps: 25.0,
        };

        // Per decoder: the fastest run's CPU seconds, stage times, bytes out.
        let mut rows: Vec<(&str, f64, StageTimes, usize)> = Vec::new();
        for &name in &decoders {
            let (mut best, mut times, mut out_bytes) = (f64::INFINITY, None, 0usize);
            for _ in 0..a.runs {
                let mut p = MaskPipeline::with_decoder(&plan, settings, masking::decoder(name)?);
                let c0 = thread_cpu();
                let mut bytes = 0usize;
                let mut frames = 0usize;
                for (u, &t) in units.iter().zip(&pts) {
                    for f in p.push(&params, t, u.is_key, &u.data)? {
                        bytes += f.protected.data.len();
                        frames += 1;
                    }
                }
                for f in p.finish()? {
                    bytes += f.protected.data.len();
                    frames += 1;
                }
                let cpu = thread_cpu() - c0;
                anyhow::ensure!(
                    frames == units.len(),
                    "{name}: {frames} of {} frames came out",
                    units.len()
                );
                if cpu < best {
                    best = cpu;
                    times = Some(p.times());
                    out_bytes = bytes;
                }
            }
            rows.push((name, best, times.expect("at least one run"), out_bytes));
        }

        // ffmpeg's start-up and probing are taken out: the whole clip minus
        // its first second.
        let (bx, by) = (
            (BOX[0] * f64::from(w)) as u32,
            (BOX[1] * f64::from(h)) as u32,
        );
        let (bw, bh) = (
            (BOX[2] * f64::from(w)) as u32,
            (BOX[3] * f64::from(h)) as u32,
        );
        let filter = format!("drawbox=x={bx}:y={by}:w={bw}:h={bh}:color=gray:t=fill");
        let output = [
            "-vf",
            &filter,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-threads",
            "1",
            "-f",
            "null",
            "-",
        ];
        let (mut all_s, mut one_s) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..a.runs {
            all_s = all_s.min(ffmpeg_cpu(&["-threads", "1"], &clip, None, &output)?);
            one_s = one_s.min(ffmpeg_cpu(&["-threads", "1"], &clip, Some(1), &output)?);
        }
        let ffmpeg_s = (all_s - one_s).max(1e-6) * n / (n - 25.0);
        let ffmpeg_fps = n / ffmpeg_s;
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3 / n;
        for (name, best, t, out_bytes) in rows {
            let fps = n / best;
            let per_camera = 25.0 / fps;
            println!(
                "{:>6} {:>8} {:>7} {:>9.1} {:>11.1} {:>7.2} {:>22} {:>15} {:>9.2} {:>9.1}",
                format!("{h}p"),
                name,
                units.len(),
                fps,
                ffmpeg_fps,
                fps / ffmpeg_fps,
                format!("{:.1}/{:.1}/{:.1}", ms(t.decode), ms(t.mask), ms(t.encode)),
                format!(
                    "{:.0}/{:.0}",
                    out_bytes as f64 * 8.0 / seconds / 1e3,
                    in_bytes as f64 * 8.0 / seconds / 1e3
                ),
                per_camera,
                cores as f64 / per_camera,
            );
        }
    }
    println!(
        "ratio: Veil fps / ffmpeg fps, both CPU time on one thread (ffmpeg's start-up \
         subtracted); cores/cam: one core's share a 25 fps camera takes; cameras: masked \
         25 fps cameras this machine's {cores} cores sustain"
    );
    Ok(())
}

/// Presentation times (90 kHz) of the clip's packets, in decode order.
fn presentation_times(clip: &std::path::Path) -> anyhow::Result<Vec<i64>> {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0"])
        .args(["-show_entries", "packet=pts_time", "-of", "csv=p=0"])
        .arg(clip)
        .output()
        .context("cannot run ffprobe (install the Debian package ffmpeg)")?;
    anyhow::ensure!(out.status.success(), "ffprobe failed on the clip");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let s: f64 = l.trim().trim_end_matches(',').parse()?;
            Ok((s * 90_000.0).round() as i64)
        })
        .collect()
}
