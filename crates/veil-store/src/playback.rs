//! Planning an MP4 for a time range from stored segments, without re-encoding.
//!
//! A plan is the file's layout: the header bytes (ftyp + moov + mdat header) and,
//! after them, byte ranges of segments' media in order. Serving any byte range of
//! the file reads only the segments that range touches. The plan is pure; reading
//! segments is [`crate::Store::read_media`].

use std::sync::Arc;

use veil_base::Time90k;
use veil_media::mp4::{self, Chunk, Sample};
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

/// Plans the MP4 for `[start, end)`: it begins at the keyframe at or before
/// `start` and ends with the last frame starting before `end`. `segments` must be
/// in time order. `None` if no frame falls in the range.
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
    let header = mp4::progressive_header(&params, &chunks);
    let mut offset = header.len() as u64;
    let mut parts = Vec::with_capacity(picks.len());
    let mut duration_90k = 0i64;
    let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
    hasher.update(&header);
    for ((seg, _, from, to), samples) in picks.iter().zip(&chunk_samples) {
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
            },
            index: SegmentIndex {
                params: VideoParams {
                    width: 640,
                    height: 360,
                    sps: vec![0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0x80],
                    pps: vec![0x68, 0xce, 0x3c, 0x80],
                },
                samples,
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
