//! Planning an MP4 for a time range from stored segments, without re-encoding.
//!
//! A plan is the file's layout: the header bytes (ftyp + moov + mdat header) and,
//! after them, byte ranges of segments' media in order. Serving any byte range of
//! the file reads only the segments that range touches. The plan is pure; reading
//! segments is [`crate::Store::read_media`].

use std::sync::Arc;

use veil_base::Time90k;
use veil_media::mp4::{self, Chunk, ExtraTrack, Sample, TrackCodec};
use veil_media::VideoParams;

use crate::Segment;

/// One segment's contribution to the file.
#[derive(Clone, Debug)]
pub struct Part {
    /// The segment.
    pub segment: Arc<Segment>,
    /// Byte range `[from, to)` of the segment's media used.
    pub media_from: u64,
    /// End of that range.
    pub media_to: u64,
    /// Where the range starts in the file.
    pub file_offset: u64,
}

/// The layout of one MP4 file.
#[derive(Clone, Debug)]
pub struct Mp4Plan {
    /// ftyp + moov + mdat header.
    pub header: Vec<u8>,
    /// Media parts, in file order, right after the header.
    pub parts: Vec<Part>,
    /// Total file length.
    pub len: u64,
    /// Strong validator: changes whenever the bytes could change.
    pub etag: String,
    /// Wall-clock time of the first frame.
    pub start_90k: Time90k,
    /// Total duration of the frames included.
    pub duration_90k: i64,
}

/// The presentation times of the keyframes of `segs`, in order (the times
/// a file or a stream can start at).
pub fn keyframe_times(segs: &[Arc<Segment>]) -> Vec<Time90k> {
    let mut out = Vec::new();
    for s in segs {
        let mut t = s.row.start_90k.0;
        for x in &s.index.samples {
            if x.is_key {
                out.push(Time90k(t));
            }
            t += i64::from(x.duration_90k);
        }
    }
    out
}

/// Plans the MP4 for `[start, end)`: it begins at the keyframe at or before
/// `start` and ends with the last frame starting before `end`. `segments` must be
/// in time order. `None` if no frame falls in the range.
///
/// Segments recorded with audio or ONVIF metadata give the file an `mp4a` or a
/// timed metadata track: each segment's samples that fall in the video frames
/// taken from it (all of them for a whole segment) follow its video in `mdat`.
/// The first segment with a track sets that track's configuration; a segment
/// whose audio configuration differs (the camera was reconfigured) contributes
/// no audio. Like video, track samples are laid end to end; an edit list
/// delays a track whose first sample starts after the first frame.
pub fn plan(segments: &[Arc<Segment>], start: Time90k, end: Time90k) -> Option<Mp4Plan> {
    let mut params: Vec<VideoParams> = Vec::new();
    let mut picks: Vec<(Arc<Segment>, usize, usize, usize)> = Vec::new(); // seg, params, from, to
    for seg in segments {
        let samples = &seg.index.samples;
        let mut t = seg.row.start_90k.0;
        let mut from = None;
        let mut to = 0;
        for (i, s) in samples.iter().enumerate() {
            if t >= end.0 {
                break;
            }
            if s.is_key && (t <= start.0 || from.is_none()) {
                from = Some(i);
            }
            t += i64::from(s.duration_90k);
            to = i + 1;
        }
        // Only frames that end after `start` matter, but the keyframe before them
        // must be kept: drop whole leading GOPs that end before `start`.
        let Some(from) = from else { continue };
        if to <= from || seg.end_90k().0 <= start.0 {
            continue;
        }
        let p = match params.iter().position(|p| *p == seg.index.params) {
            Some(p) => p,
            None => {
                params.push(seg.index.params.clone());
                params.len() - 1
            }
        };
        picks.push((seg.clone(), p, from, to));
    }
    let first = picks.first()?;
    let start_90k = {
        let s = &first.0;
        Time90k(
            s.row.start_90k.0
                + s.index.samples[..first.2]
                    .iter()
                    .map(|x| i64::from(x.duration_90k))
                    .sum::<i64>(),
        )
    };
    let chunk_samples: Vec<&[Sample]> = picks
        .iter()
        .map(|(s, _, from, to)| &s.index.samples[*from..*to])
        .collect();
    let chunks: Vec<Chunk<'_>> = picks
        .iter()
        .zip(&chunk_samples)
        .map(|((_, p, _, _), samples)| Chunk {
            params: *p,
            samples,
        })
        .collect();

    // Extra tracks: the file has one per kind (audio, metadata) that any
    // picked segment carries, configured by the first such segment.
    let mut file_tracks: Vec<FileTrack> = Vec::new();
    for (seg, _, _, _) in &picks {
        for t in &seg.index.tracks {
            let kind = std::mem::discriminant(&t.codec);
            if !file_tracks
                .iter()
                .any(|f| std::mem::discriminant(&f.codec) == kind)
            {
                file_tracks.push(FileTrack {
                    codec: t.codec.clone(),
                    timescale: t.timescale,
                    picks: Vec::new(),
                    first_time_90k: None,
                });
            }
        }
    }
    for (seg, _, from, to) in &picks {
        let times = |n: usize| -> i64 {
            seg.index.samples[..n]
                .iter()
                .map(|x| i64::from(x.duration_90k))
                .sum::<i64>()
        };
        let (v_from, v_to) = (times(*from), times(*to));
        let whole_start = *from == 0;
        let whole_end = *to == seg.index.samples.len();
        for f in &mut file_tracks {
            let found = seg
                .index
                .tracks
                .iter()
                .enumerate()
                .find(|(_, t)| t.codec == f.codec && t.timescale == f.timescale);
            let Some((ti, t)) = found else {
                f.picks.push(None);
                continue;
            };
            // Sample i starts at start_offset + the durations before it.
            let mut at = 0u64;
            let (mut a, mut b) = (None, 0);
            let mut first_time = None;
            for (i, s) in t.samples.iter().enumerate() {
                let time = t.start_offset_90k + ticks_to_90k(at, t.timescale);
                at += u64::from(s.duration);
                let after_start = whole_start || time >= v_from;
                let before_end = whole_end || time < v_to;
                if after_start && before_end {
                    if a.is_none() {
                        a = Some(i);
                        first_time = Some(time);
                    }
                    b = i + 1;
                }
            }
            match a {
                Some(a) => {
                    if f.first_time_90k.is_none() {
                        f.first_time_90k = first_time.map(|x| seg.row.start_90k.0 + x);
                    }
                    f.picks.push(Some((ti, a, b)));
                }
                None => f.picks.push(None),
            }
        }
    }
    let extra: Vec<ExtraTrack<'_>> = file_tracks
        .iter()
        .map(|f| ExtraTrack {
            codec: &f.codec,
            timescale: f.timescale,
            delay_90k: f
                .first_time_90k
                .map(|t| (t - start_90k.0).max(0) as u64)
                .unwrap_or(0),
            chunks: picks
                .iter()
                .zip(&f.picks)
                .map(|((seg, _, _, _), p)| match p {
                    Some((ti, a, b)) => &seg.index.tracks[*ti].samples[*a..*b],
                    None => &[][..],
                })
                .collect(),
        })
        .collect();
    let header = mp4::progressive_header_with_tracks(&params, &chunks, &extra);
    let mut offset = header.len() as u64;
    let mut parts = Vec::with_capacity(picks.len() * (1 + extra.len()));
    let mut duration_90k = 0i64;
    let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
    hasher.update(&header);
    for (i, ((seg, _, from, to), samples)) in picks.iter().zip(&chunk_samples).enumerate() {
        let skip: u64 = seg.index.samples[..*from]
            .iter()
            .map(|s| u64::from(s.size))
            .sum();
        let take: u64 = samples.iter().map(|s| u64::from(s.size)).sum();
        duration_90k += samples
            .iter()
            .map(|s| i64::from(s.duration_90k))
            .sum::<i64>();
        hasher.update(&seg.row.id.0.to_be_bytes());
        hasher.update(&(*from as u64).to_be_bytes());
        hasher.update(&(*to as u64).to_be_bytes());
        parts.push(Part {
            segment: seg.clone(),
            media_from: skip,
            media_to: skip + take,
            file_offset: offset,
        });
        offset += take;
        for f in &file_tracks {
            let Some((ti, a, b)) = f.picks[i] else {
                continue;
            };
            let t = &seg.index.tracks[ti];
            let base = seg.index.track_offset(ti);
            let skip: u64 = t.samples[..a].iter().map(|s| u64::from(s.size)).sum();
            let take: u64 = t.samples[a..b].iter().map(|s| u64::from(s.size)).sum();
            hasher.update(&(ti as u64).to_be_bytes());
            hasher.update(&(a as u64).to_be_bytes());
            hasher.update(&(b as u64).to_be_bytes());
            parts.push(Part {
                segment: seg.clone(),
                media_from: base + skip,
                media_to: base + skip + take,
                file_offset: offset,
            });
            offset += take;
        }
    }
    let etag = format!("\"{}\"", hex::encode(&hasher.finish().as_ref()[..16]));
    Some(Mp4Plan {
        header,
        parts,
        len: offset,
        etag,
        start_90k,
        duration_90k,
    })
}

/// One extra track of the planned file.
struct FileTrack {
    codec: TrackCodec,
    timescale: u32,
    /// Per pick: (track index in the segment, first sample, end sample).
    picks: Vec<Option<(usize, usize, usize)>>,
    /// Wall-clock time of its first sample.
    first_time_90k: Option<i64>,
}

/// `ticks` of `timescale` in 90 kHz units.
fn ticks_to_90k(ticks: u64, timescale: u32) -> i64 {
    (u128::from(ticks) * u128::from(veil_base::TIME_UNITS_PER_SEC as u64)
        / u128::from(timescale.max(1))) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::SegmentRow;
    use crate::segment::SegmentIndex;
    use veil_base::{CameraId, SegmentId};

    fn seg(id: i64, start: i64, n: usize, gop: usize) -> Arc<Segment> {
        let samples: Vec<Sample> = (0..n)
            .map(|i| Sample::new(100 + i as u32, 3600, i % gop == 0))
            .collect();
        Arc::new(Segment {
            row: SegmentRow {
                id: SegmentId(id),
                camera_id: CameraId(1),
                rendition: "main".into(),
                run_start_90k: Time90k(0),
                start_90k: Time90k(start),
                duration_90k: n as i64 * 3600,
                frames: n as u32,
                media_bytes: samples.iter().map(|s| u64::from(s.size)).sum(),
                object_key: String::new(),
                object_bytes: 0,
                bucket_key_id: Some(1),
                wrapped_key: vec![],
                sealed_index: vec![],
                mask_version_id: None,
                object_sha256: None,
            },
            index: SegmentIndex {
                params: VideoParams {
                    width: 640,
                    height: 360,
                    sps: vec![0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0x80],
                    pps: vec![0x68, 0xce, 0x3c, 0x80],
                },
                samples,
                tracks: vec![],
            },
        })
    }

    /// (first frame time, duration, per-part (from, to) media ranges)
    type Expected = Option<(i64, i64, Vec<(u64, u64)>)>;

    fn check(segs: &[Arc<Segment>], start: i64, end: i64, expected: Expected) {
        let got = plan(segs, Time90k(start), Time90k(end)).map(|p| {
            let mut off = p.header.len() as u64;
            for part in &p.parts {
                assert_eq!(part.file_offset, off);
                off += part.media_to - part.media_from;
            }
            assert_eq!(off, p.len);
            (
                p.start_90k.0,
                p.duration_90k,
                p.parts.iter().map(|x| (x.media_from, x.media_to)).collect(),
            )
        });
        assert_eq!(got, expected);
    }

    #[test]
    fn starts_at_keyframe_at_or_before_start() {
        // 2 segments of 10 frames, GOP 5, 3600 ticks per frame.
        let segs = [seg(1, 0, 10, 5), seg(2, 36_000, 10, 5)];
        // Whole range.
        check(
            &segs,
            0,
            72_000,
            Some((0, 72_000, vec![(0, 1045), (0, 1045)])),
        );
        // Start at frame 7 (inside 2nd GOP of seg 1) -> from frame 5.
        check(
            &segs,
            7 * 3600,
            72_000,
            Some((18_000, 54_000, vec![(510, 1045), (0, 1045)])),
        );
        // End before frame 3 of seg 2 -> frames 0..3 of it.
        check(
            &segs,
            36_000,
            36_000 + 3 * 3600 - 1,
            Some((36_000, 10_800, vec![(0, 303)])),
        );
        // Nothing in range.
        check(&segs, 80_000, 90_000, None);
    }

    /// A segment as `seg` builds it, with an AAC track of `n` 1024-sample
    /// frames at 48 kHz (10 bytes each) starting `offset` after the video.
    fn seg_with_audio(id: i64, start: i64, frames: usize, n: usize, offset: i64) -> Arc<Segment> {
        let mut s = (*seg(id, start, frames, 5)).clone();
        s.index.tracks.push(crate::segment::TrackIndex {
            codec: TrackCodec::Aac {
                channels: 1,
                config: vec![0x11, 0x88],
            },
            timescale: 48_000,
            start_offset_90k: offset,
            samples: vec![
                veil_media::mp4::TrackSample {
                    size: 10,
                    duration: 1024
                };
                n
            ],
        });
        Arc::new(s)
    }

    #[test]
    fn audio_follows_each_segments_video() {
        // 10 frames (0.4 s) and 19 audio frames (1920 ticks each) per segment.
        let segs = [
            seg_with_audio(1, 0, 10, 19, 0),
            seg_with_audio(2, 36_000, 10, 19, 0),
        ];
        let p = plan(&segs, Time90k(0), Time90k(72_000)).unwrap();
        let ranges: Vec<(u64, u64)> = p.parts.iter().map(|x| (x.media_from, x.media_to)).collect();
        // Video, then its audio, per segment.
        assert_eq!(
            ranges,
            vec![(0, 1045), (1045, 1235), (0, 1045), (1045, 1235)]
        );
        let mut off = p.header.len() as u64;
        for part in &p.parts {
            assert_eq!(part.file_offset, off);
            off += part.media_to - part.media_from;
        }
        assert_eq!(off, p.len);
        let h = hex::encode(&p.header);
        for fourcc in [b"mp4a", b"esds", b"smhd", b"soun"] {
            assert!(h.contains(&hex::encode(fourcc)), "{fourcc:?}");
        }
        // From frame 7: the GOP at frame 5 (0.2 s); audio from 0.2 s on
        // (frame 10 at 19_200 ticks, the first at or after 18_000).
        let p = plan(&segs[..1], Time90k(7 * 3600), Time90k(36_000)).unwrap();
        let ranges: Vec<(u64, u64)> = p.parts.iter().map(|x| (x.media_from, x.media_to)).collect();
        assert_eq!(ranges, vec![(510, 1045), (1045 + 100, 1235)]);
        // Audio starting late is delayed by an edit list.
        let late = [seg_with_audio(1, 0, 10, 10, 9000)];
        let p = plan(&late, Time90k(0), Time90k(36_000)).unwrap();
        assert!(hex::encode(&p.header).contains(&hex::encode(b"elst")));
    }

    #[test]
    fn etag_depends_on_range() {
        let segs = [seg(1, 0, 10, 5)];
        let a = plan(&segs, Time90k(0), Time90k(36_000)).unwrap();
        let b = plan(&segs, Time90k(0), Time90k(20_000)).unwrap();
        let a2 = plan(&segs, Time90k(0), Time90k(36_000)).unwrap();
        assert_eq!(a.etag, a2.etag);
        assert_ne!(a.etag, b.etag);
    }
}
