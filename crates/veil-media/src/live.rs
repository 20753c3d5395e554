//! Live view muxing: turns a camera's frames, as they arrive, into a fragmented
//! MP4 stream (one fragment per frame) that a browser plays through Media
//! Source Extensions.
//!
//! RTP carries presentation times only. A stream with B-frames sends frames in
//! decode order with presentation times that go back and forth, and MSE needs
//! an increasing decode time for each frame. [`DecodeTimes`] derives one
//! without waiting for later frames: with a reordering depth `d` (from the
//! SPS), a frame's decode time is the `(d+1)`-th largest presentation time seen
//! so far, which never exceeds its own presentation time when the stream
//! reorders at most `d` frames deep. The difference goes into the fragment as a
//! composition offset.

use crate::mp4::{fmp4_fragment, fmp4_init, Sample};
use crate::VideoParams;

/// Decode times for frames that arrive in decode order with presentation
/// times only.
#[derive(Clone, Debug)]
pub struct DecodeTimes {
    depth: usize,
    /// The largest presentation times seen since the last (re)start, ascending,
    /// at most `depth + 1` of them.
    largest: Vec<i64>,
    last: Option<i64>,
}

impl DecodeTimes {
    /// A clock for a stream that reorders at most `depth` frames deep.
    pub fn new(depth: u32) -> DecodeTimes {
        let depth = depth.min(16) as usize;
        DecodeTimes {
            depth,
            largest: Vec::with_capacity(depth + 1),
            last: None,
        }
    }

    /// Starts over at a keyframe (after frames were skipped): the next frame's
    /// decode time is derived from it alone, still after every earlier one.
    pub fn restart(&mut self) {
        self.largest.clear();
    }

    /// The decode time of the next frame, given its presentation time and its
    /// nominal duration (used before `depth` frames have been seen: the first
    /// frame decodes `depth` frame durations before it is shown). Strictly
    /// increasing; equal to or before `pts` unless the stream reorders deeper
    /// than `depth`.
    pub fn next(&mut self, pts: i64, duration_90k: u32) -> i64 {
        if self.largest.is_empty() {
            let d = i64::from(duration_90k.max(1));
            self.largest.extend(
                (1..=self.depth as i64)
                    .rev()
                    .map(|k| pts.saturating_sub(k * d)),
            );
        }
        let at = self.largest.partition_point(|&t| t < pts);
        self.largest.insert(at, pts);
        if self.largest.len() > self.depth + 1 {
            self.largest.remove(0);
        }
        let candidate = self.largest[0];
        let dts = match self.last {
            Some(last) if candidate <= last => last.saturating_add(1),
            _ => candidate,
        };
        self.last = Some(dts);
        dts
    }
}

/// One viewer's fragmented MP4 stream, started at a keyframe.
pub struct LiveMuxer {
    params: VideoParams,
    times: DecodeTimes,
    /// Decode time of the first frame: decode time 0 of the stream.
    base_90k: i64,
    sequence: u32,
    /// The first frame's decode time, computed at the start and used by the
    /// first call to [`LiveMuxer::fragment`].
    pending_first: Option<i64>,
}

impl LiveMuxer {
    /// Starts a stream with the keyframe whose presentation time is `key_pts`.
    pub fn start(params: &VideoParams, key_pts: i64, duration_90k: u32) -> LiveMuxer {
        let mut times = DecodeTimes::new(params.reorder_depth());
        let first = times.next(key_pts, duration_90k);
        LiveMuxer {
            params: params.clone(),
            times,
            base_90k: first,
            sequence: 0,
            pending_first: Some(first),
        }
    }

    /// The codec parameters the init segment describes.
    pub fn params(&self) -> &VideoParams {
        &self.params
    }

    /// The time (90 kHz, same clock as the frames) of decode time 0.
    pub fn start_90k(&self) -> i64 {
        self.base_90k
    }

    /// The init segment (ftyp + moov).
    pub fn init_segment(&self) -> Vec<u8> {
        fmp4_init(&self.params)
    }

    /// Frames were skipped: the next frame given is a keyframe and the decode
    /// clock starts over from it (keeping the same time base, so the player
    /// sees a gap and jumps it).
    pub fn skipped(&mut self) {
        self.times.restart();
    }

    /// The fragment (moof + mdat) of the next frame, in decode order. The first
    /// call must be the keyframe given to [`LiveMuxer::start`].
    pub fn fragment(&mut self, pts: i64, duration_90k: u32, is_key: bool, data: &[u8]) -> Vec<u8> {
        let dts = match self.pending_first.take() {
            Some(first) => first,
            None => self.times.next(pts, duration_90k),
        };
        let offset = (pts - dts).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        self.sequence = self.sequence.wrapping_add(1);
        let sample = Sample {
            composition_offset_90k: offset,
            ..Sample::new(data.len() as u32, duration_90k, is_key)
        };
        fmp4_fragment(
            self.sequence,
            (dts - self.base_90k).max(0) as u64,
            &[sample],
            data,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decode times of frames whose presentation times (in frames) come in
    /// `order`, at one tick per frame.
    fn dts(depth: u32, order: &[i64]) -> Vec<i64> {
        let mut t = DecodeTimes::new(depth);
        order.iter().map(|&p| t.next(p, 1)).collect()
    }

    fn check(depth: u32, order: &[i64]) -> Vec<i64> {
        let d = dts(depth, order);
        assert!(d.windows(2).all(|w| w[0] < w[1]), "increasing: {d:?}");
        for (p, t) in order.iter().zip(&d) {
            assert!(t <= p, "decode {t} after display {p} in {order:?} -> {d:?}");
        }
        d
    }

    #[test]
    fn no_reordering() {
        assert_eq!(check(0, &[0, 1, 2, 3]), [0, 1, 2, 3]);
        // A generous depth only shifts decode times earlier.
        assert_eq!(check(2, &[0, 1, 2, 3]), [-2, -1, 0, 1]);
    }

    #[test]
    fn ibbp() {
        // I0 P3 B1 B2 P6 B4 B5
        assert_eq!(check(1, &[0, 3, 1, 2, 6, 4, 5]), [-1, 0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn pyramid_b() {
        // I0 P4 B2 b1 b3 P8 B6 b5 b7 needs depth 2.
        assert_eq!(
            check(2, &[0, 4, 2, 1, 3, 8, 6, 5, 7]),
            [-2, -1, 0, 1, 2, 3, 4, 5, 6]
        );
    }

    #[test]
    fn too_shallow_still_increases() {
        // Depth 0 on a B-frame stream: decode times stay increasing; some
        // frames are late (negative composition offsets), none is lost.
        let d = dts(0, &[0, 3, 1, 2, 6]);
        assert!(d.windows(2).all(|w| w[0] < w[1]), "{d:?}");
    }

    #[test]
    fn restart_after_skipping_keeps_increasing() {
        let mut t = DecodeTimes::new(1);
        let a: Vec<i64> = [0, 3, 1, 2].iter().map(|&p| t.next(p, 1)).collect();
        t.restart();
        let b: Vec<i64> = [100, 103, 101, 102].iter().map(|&p| t.next(p, 1)).collect();
        assert_eq!(a, [-1, 0, 1, 2]);
        assert_eq!(b, [99, 100, 101, 102]);
        // A restart whose seed would go back in time is pushed forward.
        t.restart();
        assert_eq!(t.next(50, 1), 103);
    }

    #[test]
    fn garbage_times_do_not_panic() {
        let mut t = DecodeTimes::new(16);
        let mut last = i64::MIN;
        for p in [i64::MAX, i64::MIN, 0, i64::MAX, -5, i64::MIN / 2] {
            let d = t.next(p, u32::MAX);
            assert!(d > last || d == i64::MAX);
            last = d;
        }
    }
}
