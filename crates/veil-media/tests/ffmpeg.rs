//! Checks against ffmpeg/ffprobe. These tests fail (never skip) if the tools are missing.

mod common;

use std::io::Write;

use common::{assert_decodes_cleanly, encode, ffprobe, get, run_tool};
use veil_media::h264::{annexb_nals, annexb_to_avc, nal_unit_type};
use veil_media::mp4::{fmp4_fragment, fmp4_init, progressive_header, Chunk, Sample};
use veil_media::synthetic::{SyntheticCamera, SyntheticConfig};
use veil_media::VideoParams;

fn check(sps: &[u8], pps: &[u8], width: u16, height: u16, codec: &str) -> VideoParams {
    let p = VideoParams::from_sps_pps(sps, pps).unwrap();
    assert_eq!((p.width, p.height), (width, height), "size parsed from SPS");
    assert_eq!(p.rfc6381_codec(), codec);
    p
}

/// Runs ffmpeg/libx264 to make a raw H.264 clip and returns its SPS and PPS.
fn x264_params(size: &str, extra: &[&str]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.h264");
    let src = format!("testsrc=size={size}:rate=25");
    let mut args = vec![
        "-v",
        "error",
        "-f",
        "lavfi",
        "-i",
        &src,
        "-frames:v",
        "5",
        "-c:v",
        "libx264",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-f", "h264", "-y", out.to_str().unwrap()]);
    let (ok, _, stderr) = run_tool("ffmpeg", &args);
    assert!(ok, "ffmpeg/libx264 failed: {stderr}");
    let data = std::fs::read(&out).unwrap();
    let find = |t: u8| {
        annexb_nals(&data)
            .find(|n| nal_unit_type(n) == Some(t))
            .unwrap_or_else(|| panic!("no NAL of type {t}"))
            .to_vec()
    };
    (find(7), find(8), data)
}

#[test]
fn sps_of_libx264_high_profile_1080p_with_cropping() {
    let (sps, pps, data) = x264_params("1920x1080", &["-profile:v", "high", "-pix_fmt", "yuv420p"]);
    assert_eq!(sps[1], 100, "high profile");
    let p = check(&sps, &pps, 1920, 1080, "avc1.640028");
    let avcc = p.avc_decoder_config();
    assert_eq!(&avcc[..5], &[1, 0x64, 0x00, 0x28, 0xff]);
    // High profile records end with chroma format 4:2:0 and 8-bit depths.
    assert_eq!(&avcc[avcc.len() - 4..], &[0xfd, 0xf8, 0xf8, 0]);
    // The first access unit converts; it is an IDR.
    let first_au_end = annexb_nals(&data)
        .position(|n| nal_unit_type(n) == Some(5))
        .unwrap();
    assert!(first_au_end < 10);
    let f = annexb_to_avc(&data).unwrap();
    assert!(f.is_key);
    assert_eq!(f.sps.as_deref(), Some(&sps[..]));
}

#[test]
fn sps_of_libx264_odd_crops_and_scaling_lists() {
    // 4:2:0 with odd sizes needs cropping on both axes (coded 368x208).
    let (sps, pps, _) = x264_params(
        "358x202",
        &[
            "-profile:v",
            "high",
            "-pix_fmt",
            "yuv420p",
            "-x264-params",
            "cqm=jvt",
        ],
    );
    check(&sps, &pps, 358, 202, "avc1.64000d");
    // 4:4:4 (High 4:4:4 Predictive, chroma_format_idc 3) with custom-ish settings.
    let (sps, pps, _) = x264_params("642x362", &["-pix_fmt", "yuv444p"]);
    assert_eq!(sps[1], 244);
    check(&sps, &pps, 642, 362, "avc1.f4001e");
    // Interlaced coding: frame_mbs_only_flag = 0.
    let (sps, pps, _) = x264_params("720x576", &["-pix_fmt", "yuv420p", "-flags", "+ilme+ildct"]);
    check(&sps, &pps, 720, 576, "avc1.64001e");
}

#[test]
fn reorder_depth_from_libx264_sps() {
    let depth = |extra: &[&str]| {
        let (sps, pps, _) = x264_params("320x240", extra);
        VideoParams::from_sps_pps(&sps, &pps)
            .unwrap()
            .reorder_depth()
    };
    let high = ["-profile:v", "high", "-pix_fmt", "yuv420p"];
    assert_eq!(
        depth(&[&high[..], &["-bf", "0"]].concat()),
        0,
        "no B-frames"
    );
    assert_eq!(
        depth(&[&high[..], &["-bf", "2", "-x264-params", "b-pyramid=none"]].concat()),
        1,
        "IBBP"
    );
    assert_eq!(
        depth(&[&high[..], &["-bf", "3", "-x264-params", "b-pyramid=normal"]].concat()),
        2,
        "pyramid B"
    );
    let cam = SyntheticCamera::new(SyntheticConfig::default()).unwrap();
    assert_eq!(cam.params().reorder_depth(), 0, "Baseline never reorders");
}

#[test]
fn sps_of_synthetic_encoder() {
    let cam = SyntheticCamera::new(SyntheticConfig::default()).unwrap();
    let p = cam.params();
    check(&p.sps, &p.pps, 640, 360, "avc1.42c01e");
    let cam = SyntheticCamera::new(SyntheticConfig {
        width: 1920,
        height: 1080,
        bitrate_bps: 4_000_000,
        ..SyntheticConfig::default()
    })
    .unwrap();
    let p = cam.params();
    check(&p.sps, &p.pps, 1920, 1080, "avc1.42c028");
}

#[test]
fn progressive_mp4_plays_in_ffmpeg() {
    let cfg = SyntheticConfig {
        gop_frames: 25,
        ..SyntheticConfig::default()
    };
    let (p640, frames_a) = encode(cfg.clone(), 50);
    let (p320, frames_b) = encode(
        SyntheticConfig {
            width: 320,
            height: 240,
            seed: 7,
            ..cfg
        },
        25,
    );
    let samples_a: Vec<Sample> = frames_a.iter().map(|(s, _)| *s).collect();
    let samples_b: Vec<Sample> = frames_b.iter().map(|(s, _)| *s).collect();
    let params = [p640, p320];
    let chunks = [
        Chunk {
            params: 0,
            samples: &samples_a[..25],
        },
        Chunk {
            params: 0,
            samples: &samples_a[25..],
        },
        Chunk {
            params: 1,
            samples: &samples_b,
        },
    ];
    let header = progressive_header(&params, &chunks);
    assert_eq!(
        header,
        progressive_header(&params, &chunks),
        "deterministic"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.mp4");
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(&header).unwrap();
    let mut total = header.len();
    for (_, data) in frames_a.iter().chain(frames_b.iter()) {
        file.write_all(data).unwrap();
        total += data.len();
    }
    drop(file);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), total as u64);

    let kv = ffprobe(
        &path,
        &[
            "-show_entries",
            "format=duration",
            "-show_entries",
            "stream=nb_frames,width,height,codec_name",
        ],
    );
    assert_eq!(get(&kv, "codec_name"), "h264");
    assert_eq!(get(&kv, "width"), "640");
    assert_eq!(get(&kv, "height"), "360");
    assert_eq!(get(&kv, "nb_frames"), "75");
    let duration: f64 = get(&kv, "duration").parse().unwrap();
    assert!((duration - 3.0).abs() <= 0.04, "duration {duration}");
    assert_decodes_cleanly(&path);

    // Every frame decodes, including those using the second sample description.
    let kv = ffprobe(
        &path,
        &["-count_frames", "-show_entries", "stream=nb_read_frames"],
    );
    assert_eq!(get(&kv, "nb_read_frames"), "75");
}

#[test]
fn fragmented_mp4_plays_in_ffmpeg() {
    let cfg = SyntheticConfig {
        gop_frames: 10,
        ..SyntheticConfig::default()
    };
    let (params, frames) = encode(cfg, 40);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.mp4");
    let mut out = fmp4_init(&params);
    let mut decode_time = 0u64;
    // Live view sends small fragments: alternate one-frame and three-frame fragments.
    let mut i = 0;
    let mut seq = 1;
    while i < frames.len() {
        let n = if seq % 2 == 0 { 3 } else { 1 }.min(frames.len() - i);
        let samples: Vec<Sample> = frames[i..i + n].iter().map(|(s, _)| *s).collect();
        let data: Vec<u8> = frames[i..i + n]
            .iter()
            .flat_map(|(_, d)| d.iter().copied())
            .collect();
        out.extend_from_slice(&fmp4_fragment(seq, decode_time, &samples, &data));
        decode_time += samples
            .iter()
            .map(|s| u64::from(s.duration_90k))
            .sum::<u64>();
        i += n;
        seq += 1;
    }
    std::fs::write(&path, &out).unwrap();
    assert_decodes_cleanly(&path);
    let kv = ffprobe(
        &path,
        &[
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames,width,height",
            "-show_entries",
            "format=duration",
        ],
    );
    assert_eq!(get(&kv, "nb_read_frames"), "40");
    assert_eq!(get(&kv, "width"), "640");
    assert_eq!(get(&kv, "height"), "360");
    let duration: f64 = get(&kv, "duration").parse().unwrap();
    assert!((duration - 1.6).abs() <= 0.04, "duration {duration}");
}
