//! Fuzz target bodies: one function per parser Veil owns on the path from a
//! camera (or from its own stored bytes) to a recording. Each takes arbitrary
//! bytes and must never panic, whatever they hold; where a round trip or a
//! property exists, it asserts it.
//!
//! `fuzz/` (cargo-fuzz, nightly) calls these from its targets; the proptest
//! suite below runs them on random and mutated inputs in every `cargo test`,
//! so the parsers are exercised even where nightly is unavailable.

#![warn(missing_docs)]

use veil_base::Time90k;
use veil_media::h264;
use veil_media::mask::{Fill, Mask, MaskKind, MaskScope};
use veil_media::masking::{EncodeSettings, MaskPipeline, MaskPlan};
use veil_media::motion::{MotionConfig, MotionDetector};
use veil_media::synthetic::{SyntheticCamera, SyntheticConfig};
use veil_media::VideoParams;
use veil_store::recorder::Segmenter;
use veil_store::segment::SegmentIndex;

/// A fuzz target body.
pub type Target = fn(&[u8]);

/// Every target, by name (for the runners).
pub const TARGETS: [(&str, Target); 8] = [
    ("sps_pps", sps_pps),
    ("avc_config", avc_config),
    ("avc_sample", avc_sample),
    ("annexb", annexb),
    ("segmenter", segmenter),
    ("sample_index", sample_index),
    ("motion_keyframe", motion_keyframe),
    ("mask_stream", mask_stream),
];

/// SPS/PPS parsing: the input is split into an SPS and a PPS; whatever parses
/// survives an avcC round trip unchanged.
pub fn sps_pps(data: &[u8]) {
    let cut = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let (sps, pps) = data.split_at(cut);
    if let Ok(p) = VideoParams::from_sps_pps(sps, pps) {
        let back = h264::params_from_avc_decoder_config(&p.avc_decoder_config())
            .expect("our own avcC parses");
        assert_eq!(back, p);
        let _ = p.rfc6381_codec();
    }
}

/// The avcC record a camera's SDP or in-band parameter sets produce.
pub fn avc_config(data: &[u8]) {
    if let Ok(p) = h264::params_from_avc_decoder_config(data) {
        assert!(p.sps.len() <= data.len() && p.pps.len() <= data.len());
    }
}

/// Length-prefixed NAL framing of a frame from the camera.
pub fn avc_sample(data: &[u8]) {
    if let Ok(n) = h264::check_avc_sample(data) {
        assert!(n >= 1 && n * 5 <= data.len());
    }
}

/// Annex B splitting and conversion.
pub fn annexb(data: &[u8]) {
    let total: usize = h264::annexb_nals(data).map(|n| n.len()).sum();
    assert!(total <= data.len());
    if let Ok(f) = h264::annexb_to_avc(data) {
        // The length prefixes cover the data exactly. (The conversion does not
        // check NAL header bits: it serves Veil's own encoder.)
        let mut rest = f.data.as_slice();
        while !rest.is_empty() {
            let n = u32::from_be_bytes(rest[..4].try_into().expect("a length prefix")) as usize;
            assert!(n >= 1 && rest.len() >= 4 + n, "bad length prefix");
            rest = &rest[4 + n..];
        }
    }
}

/// The segmenter fed with camera-controlled timestamps, keyframe flags,
/// parameter changes and sizes: segments are well formed, nothing panics.
pub fn segmenter(data: &[u8]) {
    let params = |w: u8| VideoParams {
        width: u16::from(w) + 1,
        height: 240,
        sps: vec![0x67],
        pps: vec![0x68],
    };
    let mut s = Segmenter::new(90_000);
    let check = |c: veil_store::recorder::ClosedSegment| {
        assert!(c.samples.first().is_some_and(|x| x.is_key));
        assert!(c.samples.iter().all(|x| x.duration_90k >= 1));
        let bytes: u64 = c.samples.iter().map(|x| u64::from(x.size)).sum();
        assert_eq!(bytes, c.media.len() as u64);
    };
    for chunk in data.chunks(6) {
        let mut b = [0u8; 6];
        b[..chunk.len()].copy_from_slice(chunk);
        let pts = i64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let frame = vec![0u8; usize::from(b[5] & 0x3f)];
        if let Some(c) = s.push(&params(b[4] >> 6), Time90k(pts), b[4] & 1 == 1, &frame) {
            check(c);
        }
    }
    if let Some(c) = s.finish() {
        check(c);
    }
}

/// The stored sample index (versions 1 and 2): decoding never panics and
/// whatever decodes re-encodes to an index that decodes to the same value.
pub fn sample_index(data: &[u8]) {
    if let Ok(idx) = SegmentIndex::decode(data) {
        assert_eq!(
            SegmentIndex::decode(&idx.encode()).expect("re-encoded"),
            idx
        );
    }
}

/// The parameters of the synthetic camera's stream (Baseline, 640x360): what
/// [`motion_keyframe`] decodes its inputs with.
fn synthetic_params() -> &'static VideoParams {
    static PARAMS: std::sync::OnceLock<VideoParams> = std::sync::OnceLock::new();
    PARAMS.get_or_init(|| {
        SyntheticCamera::new(SyntheticConfig::default())
            .expect("the synthetic camera starts")
            .params()
            .clone()
    })
}

/// The motion detector's keyframe decode (camera bytes into OpenH264, C code):
/// the input is the keyframe if it is a well-framed AVC sample (as ingest
/// passes them on), else the payload of one IDR NAL unit. Decoding twice also
/// runs the comparison. Errors are fine; a crash is not.
pub fn motion_keyframe(data: &[u8]) {
    let frame = if h264::check_avc_sample(data).is_ok() {
        data.to_vec()
    } else {
        let mut f = Vec::with_capacity(data.len() + 5);
        f.extend_from_slice(&(data.len() as u32 + 1).to_be_bytes());
        f.push(0x65);
        f.extend_from_slice(data);
        f
    };
    let mut detector = MotionDetector::new(MotionConfig::default()).expect("a decoder");
    for _ in 0..2 {
        if let Ok(score) = detector.keyframe(synthetic_params(), &frame) {
            assert!((0.0..=1.0).contains(&score.changed));
        }
    }
}

/// The masking pipeline fed a camera's stream (decoder in C, then masks and
/// encoders): the input is 4-byte length-prefixed NAL units; parameter sets
/// replace the synthetic camera's as they come (an SPS change mid-stream),
/// each slice ends a frame (IDR slices are keyframes). Errors are fine; a
/// crash is not, and every picture that comes out is a frame that went in,
/// masked.
pub fn mask_stream(data: &[u8]) {
    let masks = [Mask {
        kind: MaskKind::Permanent,
        fill: Fill::Solid,
        name: "Window".into(),
        reason: "a neighbour's window in view".into(),
        polygon: vec![[0.1, 0.1], [0.6, 0.1], [0.4, 0.7]],
        scope: MaskScope::All,
    }];
    let plan = MaskPlan::new(&masks);
    let settings = EncodeSettings::guess(640, 360);
    let Ok(mut pipeline) = MaskPipeline::new(&plan, settings) else {
        return;
    };
    let mut params = synthetic_params().clone();
    let mut sps = params.sps.clone();
    let (mut frame, mut times) = (Vec::new(), Vec::new());
    let mut rest = data;
    while rest.len() > 4 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let Some(nal) = rest.get(4..4 + len).filter(|n| !n.is_empty()) else {
            break;
        };
        rest = &rest[4 + len..];
        match nal[0] & 0x1f {
            7 => sps = nal.to_vec(),
            8 => {
                if let Ok(p) = VideoParams::from_sps_pps(&sps, nal) {
                    params = p;
                }
            }
            t @ (1 | 5) => {
                frame.extend_from_slice(&(len as u32).to_be_bytes());
                frame.extend_from_slice(nal);
                let pts = times.len() as i64 * 3600;
                times.push(pts);
                match pipeline.push(&params, pts, t == 5, &frame) {
                    Ok(out) => assert!(out.iter().all(|f| times.contains(&f.pts))),
                    Err(_) => return,
                }
                frame.clear();
            }
            _ => {}
        }
    }
    if let Ok(out) = pipeline.finish() {
        assert!(out.iter().all(|f| times.contains(&f.pts)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Real inputs the mutations start from.
    fn seeds() -> Vec<Vec<u8>> {
        let sps = [
            0x67, 0x42, 0xc0, 0x14, 0x8c, 0x68, 0x14, 0x1f, 0x20, 0x1e, 0x11, 0x08, 0xd4,
        ];
        let pps = [0x68, 0xce, 0x3c, 0x80];
        let p = VideoParams::from_sps_pps(&sps, &pps).unwrap();
        let mut sps_pps = vec![sps.len() as u8];
        sps_pps.extend_from_slice(&sps);
        sps_pps.extend_from_slice(&pps);
        vec![
            sps_pps,
            p.avc_decoder_config(),
            vec![0, 0, 0, 2, 0x65, 0x88, 0, 0, 0, 1, 0x41],
            vec![
                0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xce, 0, 0, 1, 0x65, 0x88,
            ],
            SegmentIndex {
                params: p,
                samples: vec![veil_media::mp4::Sample::new(3, 3600, true)],
                tracks: vec![],
            }
            .encode(),
            // A real keyframe (length-prefixed NAL units) of the synthetic camera.
            SyntheticCamera::new(SyntheticConfig::default())
                .unwrap()
                .next_frame("seed")
                .unwrap()
                .data,
        ]
    }

    /// Inputs the bounded cargo-fuzz runs found crashing, kept so they never
    /// come back.
    const FOUND: &[&[u8]] = &[
        // A scaling-list delta near i32::MAX overflowed the Exp-Golomb sum.
        &[
            0xe7, 0x76, 0xfa, 0x15, 0x1a, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xff, 0xff,
            0xf9, 0xfe, 0xe7, 0xff, 0xff, 0xff, 0xff, 0xff, 0x20, 0x00, 0xfb, 0xe6, 0x00, 0x00,
            0x02, 0x01, 0x01, 0xe5, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x1e, 0x01, 0x02,
            0xe7,
        ],
    ];

    #[test]
    fn inputs_fuzzing_found_do_not_crash() {
        for data in FOUND {
            for (_, t) in TARGETS {
                t(data);
            }
        }
    }

    #[test]
    fn seeds_run_through_every_target() {
        for s in seeds() {
            for (_, t) in TARGETS {
                t(&s);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn random_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            for (_, t) in TARGETS {
                t(&data);
            }
        }

        #[test]
        fn mutated_seeds(seed in 0usize..6, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
            let mut data = seeds()[seed].clone();
            for (at, v) in flips {
                let i = at % data.len();
                data[i] ^= v;
            }
            data.truncate(cut % (data.len() + 1) + 1);
            for (_, t) in TARGETS {
                t(&data);
            }
        }
    }
}
