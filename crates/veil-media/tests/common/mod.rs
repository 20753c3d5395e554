//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use veil_media::mp4::Sample;
use veil_media::synthetic::{SyntheticCamera, SyntheticConfig};
use veil_media::VideoParams;

/// Runs an external tool; panics (fails the test) if it is missing or fails to start.
pub fn run_tool(tool: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{tool}` (is it installed and on PATH?): {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `ffprobe` `-show_entries` output as key=value pairs (first occurrence wins).
pub fn ffprobe(path: &Path, extra: &[&str]) -> Vec<(String, String)> {
    let p = path.to_str().unwrap();
    let mut args = vec!["-v", "error"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-of", "default=noprint_wrappers=1", p]);
    let (ok, stdout, stderr) = run_tool("ffprobe", &args);
    assert!(ok, "ffprobe failed: {stderr}");
    assert!(stderr.is_empty(), "ffprobe complained: {stderr}");
    stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Looks up one key of [`ffprobe`] output.
pub fn get<'a>(kv: &'a [(String, String)], key: &str) -> &'a str {
    kv.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("ffprobe output lacks {key}: {kv:?}"))
}

/// Decodes the whole file with ffmpeg; asserts it succeeds with nothing on stderr.
pub fn assert_decodes_cleanly(path: &Path) {
    let (ok, _, stderr) = run_tool(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            path.to_str().unwrap(),
            "-f",
            "null",
            "-",
        ],
    );
    assert!(ok, "ffmpeg failed: {stderr}");
    assert!(stderr.is_empty(), "ffmpeg reported errors: {stderr}");
}

/// Encodes `frames` frames; returns the params and per-frame samples with their bytes.
pub fn encode(cfg: SyntheticConfig, frames: u32) -> (VideoParams, Vec<(Sample, Vec<u8>)>) {
    let duration_90k = 90_000 / cfg.fps;
    let mut cam = SyntheticCamera::new(cfg).unwrap();
    let params = cam.params().clone();
    let out = (0..frames)
        .map(|i| {
            let f = cam
                .next_frame(&format!("2026-11-23 10:00:{:02}.000 #{i:06}", i / 25))
                .unwrap();
            let s = Sample::new(f.data.len() as u32, duration_90k, f.is_key);
            (s, f.data)
        })
        .collect();
    (params, out)
}
