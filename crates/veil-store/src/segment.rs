//! Byte formats of a stored segment: the sealed media object and the sealed sample
//! index. Both are versioned; `docs/design/storage.md` documents them and golden
//! tests below pin them.
//!
//! Segment object, version 1:
//! `b"VEILSEG" || 0x01 || nonce (12) || AES-256-GCM(segment key, media) || tag (16)`
//! where media is the samples' bytes (4-byte length-prefixed NAL units) in order.
//!
//! Sample index, version 1 (sealed under the segment key, stored in the row):
//! `0x01 || width u16 || height u16 || sps_len u16 || sps || pps_len u16 || pps ||
//!  count u32 || count × (size u32 || duration_90k u32 || flags u8)`, big-endian,
//! flags bit 0 = keyframe.
//!
//! Sample index, version 2: as version 1 but starting `0x02` and with a signed
//! `composition_offset_90k i32` after each sample's flags (streams with
//! B-frames). Version 1 is still written whenever every offset is zero, so
//! segments without reordering keep the version 1 bytes.
//!
//! Sample index, version 3: version 2 (starting `0x03`) followed by the
//! segment's extra tracks (recorded audio, ONVIF metadata):
//! `track_count u8 || track_count × (codec u8 || timescale u32 || channels u16 ||
//!  start_offset_90k i64 || config_len u16 || config || count u32 ||
//!  count × (size u32 || duration u32))`. Codec 1 is AAC (config = the
//! AudioSpecificConfig), 2 is ONVIF metadata XML (no config). Their bytes
//! follow the video's in the media, track by track. Written only when a
//! segment has extra tracks, so video-only segments keep their bytes.

use veil_base::{CameraId, Time90k};
use veil_media::mp4::{Sample, TrackCodec, TrackSample};
use veil_media::VideoParams;

use crate::Error;

/// Magic and version that start every segment object.
pub const OBJECT_MAGIC_V1: &[u8; 8] = b"VEILSEG\x01";
/// Version byte of the sample index without composition offsets.
pub const INDEX_VERSION: u8 = 1;
/// Version byte of the sample index with per-sample composition offsets.
pub const INDEX_VERSION_OFFSETS: u8 = 2;
/// Version byte of the sample index with extra tracks (audio, metadata).
pub const INDEX_VERSION_TRACKS: u8 = 3;

/// Codec byte of an AAC track in the version 3 index.
const CODEC_AAC: u8 = 1;
/// Codec byte of an ONVIF metadata track in the version 3 index.
const CODEC_ONVIF: u8 = 2;

/// What one segment holds, in the clear (only ever in memory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentIndex {
    /// The codec parameters of every sample in the segment.
    pub params: VideoParams,
    /// One entry per frame, in decode order; offsets are implicit (cumulative).
    pub samples: Vec<Sample>,
    /// Tracks recorded with the video (audio, metadata), in media order.
    pub tracks: Vec<TrackIndex>,
}

/// An extra track of a segment: its samples follow the video's (and those of
/// the tracks before it) in the segment's media.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackIndex {
    /// The codec and its configuration.
    pub codec: TrackCodec,
    /// Units per second of the sample durations (the sampling rate for audio,
    /// 90 kHz for metadata).
    pub timescale: u32,
    /// Time of the first sample minus the segment's start (the first video
    /// frame), in 90 kHz units; may be negative.
    pub start_offset_90k: i64,
    /// Samples, in time order.
    pub samples: Vec<TrackSample>,
}

impl TrackIndex {
    /// Bytes of the track's samples.
    pub fn media_bytes(&self) -> u64 {
        self.samples.iter().map(|s| u64::from(s.size)).sum()
    }
}

impl SegmentIndex {
    /// Total media bytes: the video's and every extra track's.
    pub fn media_bytes(&self) -> u64 {
        self.video_bytes() + self.tracks.iter().map(TrackIndex::media_bytes).sum::<u64>()
    }

    /// Bytes of the video samples (the start of the media).
    pub fn video_bytes(&self) -> u64 {
        self.samples.iter().map(|s| u64::from(s.size)).sum()
    }

    /// Where track `t`'s bytes start in the media.
    pub fn track_offset(&self, t: usize) -> u64 {
        self.video_bytes()
            + self.tracks[..t]
                .iter()
                .map(TrackIndex::media_bytes)
                .sum::<u64>()
    }

    /// Total duration.
    pub fn duration_90k(&self) -> i64 {
        self.samples.iter().map(|s| i64::from(s.duration_90k)).sum()
    }

    /// Serialises: version 3 with extra tracks, else version 1 when no sample
    /// is reordered, else version 2.
    pub fn encode(&self) -> Vec<u8> {
        let p = &self.params;
        let with_tracks = !self.tracks.is_empty();
        let offsets = with_tracks || self.samples.iter().any(|s| s.composition_offset_90k != 0);
        let mut out = Vec::with_capacity(16 + p.sps.len() + p.pps.len() + self.samples.len() * 13);
        out.push(if with_tracks {
            INDEX_VERSION_TRACKS
        } else if offsets {
            INDEX_VERSION_OFFSETS
        } else {
            INDEX_VERSION
        });
        out.extend_from_slice(&p.width.to_be_bytes());
        out.extend_from_slice(&p.height.to_be_bytes());
        out.extend_from_slice(&(p.sps.len() as u16).to_be_bytes());
        out.extend_from_slice(&p.sps);
        out.extend_from_slice(&(p.pps.len() as u16).to_be_bytes());
        out.extend_from_slice(&p.pps);
        out.extend_from_slice(&(self.samples.len() as u32).to_be_bytes());
        for s in &self.samples {
            out.extend_from_slice(&s.size.to_be_bytes());
            out.extend_from_slice(&s.duration_90k.to_be_bytes());
            out.push(u8::from(s.is_key));
            if offsets {
                out.extend_from_slice(&s.composition_offset_90k.to_be_bytes());
            }
        }
        if with_tracks {
            assert!(self.tracks.len() <= 255, "at most 255 extra tracks");
            out.push(self.tracks.len() as u8);
            for t in &self.tracks {
                let (codec, channels, config): (u8, u16, &[u8]) = match &t.codec {
                    TrackCodec::Aac { channels, config } => (CODEC_AAC, *channels, config),
                    TrackCodec::OnvifMetadata => (CODEC_ONVIF, 0, &[]),
                };
                out.push(codec);
                out.extend_from_slice(&t.timescale.to_be_bytes());
                out.extend_from_slice(&channels.to_be_bytes());
                out.extend_from_slice(&t.start_offset_90k.to_be_bytes());
                out.extend_from_slice(&(config.len() as u16).to_be_bytes());
                out.extend_from_slice(config);
                out.extend_from_slice(&(t.samples.len() as u32).to_be_bytes());
                for s in &t.samples {
                    out.extend_from_slice(&s.size.to_be_bytes());
                    out.extend_from_slice(&s.duration.to_be_bytes());
                }
            }
        }
        out
    }

    /// Parses; rejects unknown versions and truncated or trailing bytes.
    pub fn decode(b: &[u8]) -> Result<SegmentIndex, Error> {
        let mut r = Reader(b);
        let v = r.u8()?;
        let entry_len = match v {
            INDEX_VERSION => 9,
            INDEX_VERSION_OFFSETS | INDEX_VERSION_TRACKS => 13,
            _ => return Err(Error::Corrupt(format!("unknown sample index version {v}"))),
        };
        let width = r.u16()?;
        let height = r.u16()?;
        let n = r.u16()? as usize;
        let sps = r.take(n)?.to_vec();
        let n = r.u16()? as usize;
        let pps = r.take(n)?.to_vec();
        let count = r.u32()? as usize;
        let video_len = count.saturating_mul(entry_len);
        let fits = if v == INDEX_VERSION_TRACKS {
            video_len < r.0.len()
        } else {
            video_len == r.0.len()
        };
        if !fits {
            return Err(Error::Corrupt("sample index length mismatch".into()));
        }
        let mut samples = Vec::with_capacity(count);
        for _ in 0..count {
            let mut s = Sample::new(r.u32()?, r.u32()?, r.u8()? & 1 != 0);
            if entry_len == 13 {
                s.composition_offset_90k = r.u32()? as i32;
            }
            samples.push(s);
        }
        let mut tracks = Vec::new();
        if v == INDEX_VERSION_TRACKS {
            let n = r.u8()?;
            if n == 0 {
                return Err(Error::Corrupt("version 3 index without tracks".into()));
            }
            for _ in 0..n {
                let codec = r.u8()?;
                let timescale = r.u32()?;
                let channels = r.u16()?;
                let start_offset_90k = r.u64()? as i64;
                let len = r.u16()? as usize;
                let config = r.take(len)?.to_vec();
                let codec = match codec {
                    CODEC_AAC => TrackCodec::Aac { channels, config },
                    CODEC_ONVIF if config.is_empty() => TrackCodec::OnvifMetadata,
                    _ => return Err(Error::Corrupt(format!("unknown track codec {codec}"))),
                };
                if timescale == 0 {
                    return Err(Error::Corrupt("track timescale 0".into()));
                }
                let count = r.u32()? as usize;
                if count.saturating_mul(8) > r.0.len() {
                    return Err(Error::Corrupt("sample index is truncated".into()));
                }
                let mut samples = Vec::with_capacity(count);
                for _ in 0..count {
                    samples.push(TrackSample {
                        size: r.u32()?,
                        duration: r.u32()?,
                    });
                }
                tracks.push(TrackIndex {
                    codec,
                    timescale,
                    start_offset_90k,
                    samples,
                });
            }
            if !r.0.is_empty() {
                return Err(Error::Corrupt("sample index length mismatch".into()));
            }
        }
        Ok(SegmentIndex {
            params: VideoParams {
                width,
                height,
                sps,
                pps,
            },
            samples,
            tracks,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.0.len() < n {
            return Err(Error::Corrupt("sample index is truncated".into()));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().unwrap()))
    }
}

fn scope(label: &[u8], camera: CameraId, rendition: &str, t: Time90k) -> Vec<u8> {
    let mut v = label.to_vec();
    v.extend_from_slice(&camera.0.to_be_bytes());
    v.extend_from_slice(rendition.as_bytes());
    v.push(0);
    v.extend_from_slice(&t.0.to_be_bytes());
    v
}

/// AAD of a segment's media.
pub fn media_aad(camera: CameraId, rendition: &str, start: Time90k) -> Vec<u8> {
    scope(b"veil/segment-media/v1", camera, rendition, start)
}

/// AAD of a segment's sample index.
pub fn index_aad(camera: CameraId, rendition: &str, start: Time90k) -> Vec<u8> {
    scope(b"veil/segment-index/v1", camera, rendition, start)
}

/// AAD of a segment key wrapped by its bucket key.
pub fn segment_key_aad(object_key: &str) -> Vec<u8> {
    let mut v = b"veil/segment-key/v1".to_vec();
    v.extend_from_slice(object_key.as_bytes());
    v
}

/// AAD of a bucket key wrapped by the root key.
pub fn bucket_key_aad(camera: CameraId, rendition: &str, bucket_start: Time90k) -> Vec<u8> {
    scope(b"veil/bucket-key/v1", camera, rendition, bucket_start)
}

/// The longest segment the store accepts (a camera whose keyframes are further
/// apart than this cannot be recorded). Bounds time-range queries.
pub const MAX_SEGMENT_90K: i64 = 15 * 60 * veil_base::TIME_UNITS_PER_SEC;

/// Length of one key-encryption bucket: one hour.
pub const BUCKET_90K: i64 = 3600 * veil_base::TIME_UNITS_PER_SEC;

/// The start of the bucket holding `t`.
pub fn bucket_start(t: Time90k) -> Time90k {
    Time90k(t.0.div_euclid(BUCKET_90K) * BUCKET_90K)
}

/// The object key of a segment: versioned prefix, camera, rendition, the hour,
/// then the start time and a random suffix so keys never collide.
pub fn object_key(camera: CameraId, rendition: &str, start: Time90k, nonce: u64) -> String {
    let t = start.to_chrono();
    format!(
        "v1/cam{}/{}/{}/{:016x}-{:016x}.seg",
        camera.0,
        rendition,
        t.format("%Y%m%d%H"),
        start.0,
        nonce
    )
}

/// Whether `key` has exactly the shape [`object_key`] produces
/// (`v1/cam<id>/<rendition>/<YYYYMMDDHH>/<16 hex>-<16 hex>.seg`). Recovery
/// deletes only such keys (and their temporary form): anything else under
/// the store's root or prefix is not Veil's and is left alone.
pub fn is_object_key(key: &str) -> bool {
    let hex16 =
        |s: &str| s.len() == 16 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let parts: Vec<&str> = key.split('/').collect();
    let [v, cam, rendition, hour, file] = parts.as_slice() else {
        return false;
    };
    let camera_ok = cam
        .strip_prefix("cam")
        .is_some_and(|n| !n.is_empty() && n.len() <= 19 && n.bytes().all(|b| b.is_ascii_digit()));
    let rendition_ok = !rendition.is_empty()
        && rendition
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    let hour_ok = hour.len() == 10 && hour.bytes().all(|b| b.is_ascii_digit());
    let file_ok = file
        .strip_suffix(".seg")
        .and_then(|f| f.split_once('-'))
        .is_some_and(|(a, b)| hex16(a) && hex16(b));
    *v == "v1" && camera_ok && rendition_ok && hour_ok && file_ok
}

/// The segment start an object key made by [`object_key`] holds (a
/// partial write's suffix ignored); `None` for any other key.
pub fn object_key_start(key: &str) -> Option<Time90k> {
    let name = key.strip_prefix("v1/")?.rsplit('/').next()?;
    let (start, rest) = name.split_once('-')?;
    if start.len() != 16 || !rest.starts_with(|c: char| c.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(start, 16)
        .ok()
        .map(|v| Time90k(v as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_object_key_gives_back_its_start() {
        let t = Time90k(1_795_000_000 * 90_000 + 123);
        let key = object_key(CameraId(7), "main", t, 0xdead_beef);
        assert_eq!(object_key_start(&key), Some(t));
        assert_eq!(object_key_start(&format!("{key}.partial")), Some(t));
        assert_eq!(object_key_start("veil-objects"), None);
        assert_eq!(object_key_start("v1/cam1/main/2026/zz-00.seg"), None);
    }

    fn sample_index() -> SegmentIndex {
        SegmentIndex {
            params: VideoParams {
                width: 640,
                height: 360,
                sps: vec![0x67, 0x42, 0xc0, 0x1e],
                pps: vec![0x68, 0xce, 0x3c, 0x80],
            },
            samples: vec![Sample::new(1000, 3600, true), Sample::new(20, 3600, false)],
            tracks: vec![],
        }
    }

    #[test]
    fn index_v3_golden() {
        let mut idx = sample_index();
        idx.tracks = vec![
            TrackIndex {
                codec: TrackCodec::Aac {
                    channels: 1,
                    config: vec![0x14, 0x08],
                },
                timescale: 16_000,
                start_offset_90k: -90,
                samples: vec![
                    TrackSample {
                        size: 7,
                        duration: 1024,
                    },
                    TrackSample {
                        size: 9,
                        duration: 1024,
                    },
                ],
            },
            TrackIndex {
                codec: TrackCodec::OnvifMetadata,
                timescale: 90_000,
                start_offset_90k: 3600,
                samples: vec![TrackSample {
                    size: 300,
                    duration: 3600,
                }],
            },
        ];
        let enc = idx.encode();
        assert_eq!(
            hex::encode(&enc),
            concat!(
                "03",
                "0280",
                "0168", // version, width, height
                "0004",
                "6742c01e",
                "0004",
                "68ce3c80", // sps, pps
                "00000002", // count
                "000003e8",
                "00000e10",
                "01",
                "00000000", // size, duration, key, offset
                "00000014",
                "00000e10",
                "00",
                "00000000",
                "02", // two tracks
                "01",
                "00003e80",
                "0001",
                "ffffffffffffffa6", // AAC, 16 kHz, mono, offset -90
                "0002",
                "1408", // AudioSpecificConfig
                "00000002",
                "00000007",
                "00000400",
                "00000009",
                "00000400",
                "02",
                "00015f90",
                "0000",
                "0000000000000e10",
                "0000", // ONVIF, 90 kHz
                "00000001",
                "0000012c",
                "00000e10",
            )
        );
        assert_eq!(SegmentIndex::decode(&enc).unwrap(), idx);
        assert_eq!(idx.media_bytes(), 1020 + 16 + 300);
        assert_eq!(idx.track_offset(1), 1036);
        // Truncation and trailing bytes are refused.
        assert!(SegmentIndex::decode(&enc[..enc.len() - 1]).is_err());
        let mut extra = enc;
        extra.push(0);
        assert!(SegmentIndex::decode(&extra).is_err());
    }

    #[test]
    fn index_v1_golden() {
        let enc = sample_index().encode();
        assert_eq!(
            hex::encode(&enc),
            concat!(
                "01", "0280", "0168", // version, width, height
                "0004", "6742c01e", "0004", "68ce3c80", // sps, pps
                "00000002", // count
                "000003e8", "00000e10", "01", // size, duration, key
                "00000014", "00000e10", "00",
            )
        );
        assert_eq!(SegmentIndex::decode(&enc).unwrap(), sample_index());
    }

    #[test]
    fn index_v2_golden() {
        let mut idx = sample_index();
        idx.samples[1].composition_offset_90k = -3600;
        let enc = idx.encode();
        assert_eq!(
            hex::encode(&enc),
            concat!(
                "02", "0280", "0168", // version, width, height
                "0004", "6742c01e", "0004", "68ce3c80", // sps, pps
                "00000002", // count
                "000003e8", "00000e10", "01", "00000000", // size, duration, key, offset
                "00000014", "00000e10", "00", "fffff1f0",
            )
        );
        assert_eq!(SegmentIndex::decode(&enc).unwrap(), idx);
    }

    #[test]
    fn index_rejects_bad_input() {
        let enc = sample_index().encode();
        assert!(SegmentIndex::decode(&enc[..enc.len() - 1]).is_err());
        let mut v4 = enc.clone();
        v4[0] = 4;
        assert!(SegmentIndex::decode(&v4).is_err());
        let mut v3 = enc.clone();
        v3[0] = 3; // a version 3 header over version 1 entries, no tracks
        assert!(SegmentIndex::decode(&v3).is_err());
        let mut v2 = enc.clone();
        v2[0] = 2; // a version 2 header over version 1 entries: lengths disagree
        assert!(SegmentIndex::decode(&v2).is_err());
        let mut extra = enc;
        extra.push(0);
        assert!(SegmentIndex::decode(&extra).is_err());
    }

    #[test]
    fn object_keys_are_valid() {
        let k = object_key(CameraId(3), "main", Time90k(1_700_000_000 * 90_000), 7);
        crate::objects::validate_key(&k).unwrap();
        assert!(k.starts_with("v1/cam3/main/2023111422/"), "{k}");
    }

    #[test]
    fn only_object_keys_have_their_shape() {
        let k = object_key(
            CameraId(12),
            "original",
            Time90k(1_700_000_000 * 90_000),
            0xab,
        );
        assert!(is_object_key(&k), "{k}");
        for other in [
            "notes/readme.txt",
            "VEIL-OBJECTS",
            "VEIL-PROBE/0000000000000001",
            "v1/cam1/main/orphan.seg",
            "v2/cam1/main/2023111422/0000000000000000-00000000000000aa.seg",
            "v1/camx/main/2023111422/0000000000000000-00000000000000aa.seg",
            "v1/cam1/Main/2023111422/0000000000000000-00000000000000aa.seg",
            "v1/cam1/main/20231114/0000000000000000-00000000000000aa.seg",
            "v1/cam1/main/2023111422/0000000000000000-00000000000000aA.seg",
            "v1/cam1/main/2023111422/0000000000000000-00000000000000aa.mp4",
            "v1/cam1/main/2023111422/0000000000000000-00000000000000aa.seg.partial",
            "site-b/v1/cam1/main/2023111422/0000000000000000-00000000000000aa.seg",
        ] {
            assert!(!is_object_key(other), "{other}");
        }
    }

    proptest! {
        #[test]
        fn index_round_trips(sizes in proptest::collection::vec((1u32..1_000_000, 1u32..90_000, any::<bool>(), prop_oneof![Just(0i32), any::<i32>()]), 0..200)) {
            let mut idx = sample_index();
            idx.samples = sizes.into_iter().map(|(size, duration_90k, is_key, off)| Sample { composition_offset_90k: off, ..Sample::new(size, duration_90k, is_key) }).collect();
            prop_assert_eq!(SegmentIndex::decode(&idx.encode()).unwrap(), idx);
        }

        #[test]
        fn index_decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = SegmentIndex::decode(&b);
        }
    }
}
