//! Measures the CPU cost of one synthetic camera (render + H.264 encode).
//!
//! Usage: `cargo run --release -p veil-media --example synthetic_cost [FRAMES]`

use veil_media::synthetic::{measure_cpu_cost, SyntheticConfig};

fn main() {
    let frames: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(250);
    let cases = [
        (640, 360, 1_000_000),
        (1280, 720, 2_000_000),
        (1920, 1080, 4_000_000),
    ];
    for (width, height, bitrate_bps) in cases {
        let cfg = SyntheticConfig {
            width,
            height,
            bitrate_bps,
            ..SyntheticConfig::default()
        };
        let fps = cfg.fps;
        match measure_cpu_cost(cfg, frames) {
            Ok(spf) => println!(
                "{width}x{height} @ {bitrate_bps} bit/s: {:.2} ms/frame, {:.1} encode fps, {:.1}% of one core at {fps} fps",
                spf * 1e3,
                1.0 / spf,
                spf * f64::from(fps) * 100.0
            ),
            Err(e) => {
                eprintln!("{width}x{height}: {e}");
                std::process::exit(1);
            }
        }
    }
}
