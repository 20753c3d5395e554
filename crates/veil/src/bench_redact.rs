//! `veil bench redact`: bystander redaction of an export (decode, paint a
//! moving box, encode again, mux the MP4; `veil_media::redaction`) in
//! frames per second on one thread, next to the byte copy an unredacted
//! export makes of the same frames (MP4 header and the samples' bytes
//! concatenated) in the same run. The video is the synthetic camera's, at
//! the test server's 320x240 and at 720p and 1080p, 25 fps, a keyframe a
//! second, at about 0.1 bit per pixel per frame.

use std::time::Instant;

use veil_base::Time90k;
use veil_media::mp4::{progressive_header, Chunk, Sample};
use veil_media::redaction::{
    check, settings_like, BoxKeyframe, RedactionBox, Redactor, SourceFrame,
};
use veil_media::synthetic::{SyntheticCamera, SyntheticConfig};

#[derive(clap::Args)]
pub struct RedactArgs {
    /// Seconds of video per resolution.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(2..=600))]
    seconds: u32,
}

const T0: i64 = 1_700_000_000 * 90_000;
const FRAME_90K: u32 = 3600;

pub fn redact_bench(a: RedactArgs) -> anyhow::Result<()> {
    println!(
        "redaction: one moving solid box, {} s at 25 fps per size, one thread",
        a.seconds
    );
    println!("size       frames  redact fps  copy fps  out/in kbit/s");
    for (w, h) in [(320u32, 240u32), (1280, 720), (1920, 1080)] {
        let bitrate = (u64::from(w) * u64::from(h) * 25 / 10) as u32;
        let mut cam = SyntheticCamera::new(SyntheticConfig {
            width: w,
            height: h,
            fps: 25,
            gop_frames: 25,
            bitrate_bps: bitrate,
            seed: 3,
        })?;
        let params = cam.params().clone();
        let n = a.seconds * 25;
        let mut frames = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let f = cam.next_frame("BENCH")?;
            frames.push((f.is_key, f.data));
        }
        let bytes: u64 = frames.iter().map(|f| f.1.len() as u64).sum();
        let duration = i64::from(n) * i64::from(FRAME_90K);
        let at = |s: f64| Time90k(T0 + (s * 90_000.0) as i64).to_rfc3339();
        let boxes = check(&[RedactionBox {
            camera: 1,
            fill: "solid".into(),
            keyframes: vec![
                BoxKeyframe {
                    at: at(0.0),
                    x: 0.05,
                    y: 0.1,
                    w: 0.3,
                    h: 0.35,
                },
                BoxKeyframe {
                    at: at(f64::from(a.seconds)),
                    x: 0.65,
                    y: 0.5,
                    w: 0.3,
                    h: 0.35,
                },
            ],
        }])
        .map_err(|e| anyhow::anyhow!("{e}"))?;

        let started = Instant::now();
        let mut r = Redactor::new(boxes, settings_like(bytes, u64::from(n), duration))?;
        for (i, (key, data)) in frames.iter().enumerate() {
            r.push(SourceFrame {
                params: &params,
                pts: T0 + i as i64 * i64::from(FRAME_90K),
                duration_90k: FRAME_90K,
                is_key: *key,
                data,
            })?;
        }
        let video = r.finish()?;
        let redact = started.elapsed().as_secs_f64();
        anyhow::ensure!(video.frames == u64::from(n), "frames lost");

        let started = Instant::now();
        let samples: Vec<Sample> = frames
            .iter()
            .map(|(k, d)| Sample::new(d.len() as u32, FRAME_90K, *k))
            .collect();
        let mut copy = progressive_header(
            std::slice::from_ref(&params),
            &[Chunk {
                params: 0,
                samples: &samples,
            }],
        );
        for (_, d) in &frames {
            copy.extend_from_slice(d);
        }
        let copied = started.elapsed().as_secs_f64().max(1e-9);
        std::hint::black_box(&copy);
        println!(
            "{:<10} {:>6}  {:>10.1}  {:>8.0}  {:.0}/{:.0}",
            format!("{w}x{h}"),
            n,
            f64::from(n) / redact,
            f64::from(n) / copied,
            video.mp4.len() as f64 * 8.0 / f64::from(a.seconds) / 1000.0,
            bytes as f64 * 8.0 / f64::from(a.seconds) / 1000.0,
        );
    }
    Ok(())
}
