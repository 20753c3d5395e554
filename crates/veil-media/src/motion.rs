//! Motion detection by pixel difference on decoded keyframes.
//!
//! Each keyframe (IDR) is decoded alone with OpenH264, its luma plane reduced
//! to a small grid of block means ([`GRID_WIDTH`] × [`GRID_HEIGHT`]), and the
//! grid compared with the previous keyframe's: there is motion when more than
//! `min_area` of the cells changed their mean by more than `threshold` luma
//! levels. Only keyframes are decoded because they decode alone (no reference
//! frames, so no need to decode the whole stream): at one keyframe per second
//! the cost is a few milliseconds per camera per second. The price is latency
//! (motion is seen up to one GOP late) and blindness to motion that starts and
//! ends between two keyframes. Nothing here identifies anything: it compares
//! brightness of blocks. Pure apart from the decoder; no I/O, no clock.

use openh264::decoder::{Decoder, DecoderConfig, Flush};
use openh264::formats::YUVSource;
use openh264::OpenH264API;

use crate::h264::{avc_to_annexb, VideoParams};
use crate::Error;

/// Columns of the comparison grid.
pub const GRID_WIDTH: usize = 64;
/// Rows of the comparison grid.
pub const GRID_HEIGHT: usize = 36;

/// When a difference between two keyframes counts as motion.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MotionConfig {
    /// A cell changed when its mean luma moved by more than this many levels
    /// (0–255).
    pub threshold: u8,
    /// Motion when more than this fraction of the cells changed (0–1).
    pub min_area: f32,
}

impl Default for MotionConfig {
    fn default() -> Self {
        MotionConfig {
            threshold: 20,
            min_area: 0.02,
        }
    }
}

/// A luma plane reduced to [`GRID_WIDTH`] × [`GRID_HEIGHT`] block means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LumaGrid {
    cells: Vec<u8>,
}

impl LumaGrid {
    /// Block means of a `width` × `height` luma plane stored with `stride`
    /// bytes per row. Blocks split the picture as evenly as integers allow.
    pub fn from_luma(y: &[u8], stride: usize, width: usize, height: usize) -> LumaGrid {
        assert!(
            width >= GRID_WIDTH && height >= GRID_HEIGHT && stride >= width,
            "picture {width}x{height} (stride {stride}) is smaller than the grid"
        );
        assert!(
            y.len() >= stride * (height - 1) + width,
            "luma plane too short"
        );
        // Cell c spans columns [ceil(c·w/64), ceil((c+1)·w/64)): contiguous
        // slices whose sums vectorise.
        let edges: Vec<usize> = (0..=GRID_WIDTH)
            .map(|c| (c * width).div_ceil(GRID_WIDTH))
            .collect();
        let mut sums = vec![0u32; GRID_WIDTH * GRID_HEIGHT];
        for row in 0..height {
            let base = row * GRID_HEIGHT / height * GRID_WIDTH;
            let line = &y[row * stride..row * stride + width];
            let cells = &mut sums[base..base + GRID_WIDTH];
            for (c, cell) in cells.iter_mut().enumerate() {
                *cell += line[edges[c]..edges[c + 1]]
                    .iter()
                    .map(|&v| u32::from(v))
                    .sum::<u32>();
            }
        }
        let edge = |n: usize, cells: usize, i: usize| (i * n).div_ceil(cells);
        let cells = sums
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                let (cx, cy) = (i % GRID_WIDTH, i / GRID_WIDTH);
                let w = edge(width, GRID_WIDTH, cx + 1) - edge(width, GRID_WIDTH, cx);
                let h = edge(height, GRID_HEIGHT, cy + 1) - edge(height, GRID_HEIGHT, cy);
                (s / (w * h).max(1) as u32) as u8
            })
            .collect();
        LumaGrid { cells }
    }

    /// The fraction of cells (0–1) whose mean differs from `other`'s by more
    /// than `threshold`.
    pub fn changed_fraction(&self, other: &LumaGrid, threshold: u8) -> f32 {
        let changed = self
            .cells
            .iter()
            .zip(&other.cells)
            .filter(|(a, b)| a.abs_diff(**b) > threshold)
            .count();
        changed as f32 / self.cells.len() as f32
    }
}

/// What one keyframe showed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MotionScore {
    /// Fraction of cells that changed since the previous keyframe (0 for the
    /// first keyframe).
    pub changed: f32,
    /// Whether that is motion under the configuration.
    pub motion: bool,
}

/// Decodes keyframes and compares each with the one before.
pub struct MotionDetector {
    config: MotionConfig,
    decoder: Decoder,
    previous: Option<LumaGrid>,
    annexb: Vec<u8>,
}

impl MotionDetector {
    /// A detector with no previous keyframe.
    pub fn new(config: MotionConfig) -> Result<MotionDetector, Error> {
        let decoder = Decoder::with_api_config(
            OpenH264API::from_source(),
            DecoderConfig::new().flush_after_decode(Flush::NoFlush),
        )
        .map_err(codec_err)?;
        Ok(MotionDetector {
            config,
            decoder,
            previous: None,
            annexb: Vec::new(),
        })
    }

    /// Forgets the previous keyframe (after a gap or a parameter change).
    pub fn reset(&mut self) {
        self.previous = None;
    }

    /// Decodes one keyframe (AVC, 4-byte length-prefixed NAL units, as
    /// recorded) with its stream's parameters and reduces it to a grid.
    pub fn decode_grid(&mut self, params: &VideoParams, frame: &[u8]) -> Result<LumaGrid, Error> {
        // A keyframe decoded alone needs its parameter sets in front.
        self.annexb.clear();
        avc_to_annexb(Some(params), frame, &mut self.annexb)?;
        let grid = match self.decoder.decode(&self.annexb).map_err(codec_err)? {
            Some(yuv) => grid_of(&yuv)?,
            None => {
                // Held back for reordering: the stream says B-frames may follow.
                let frames = self.decoder.flush_remaining().map_err(codec_err)?;
                let yuv = frames
                    .last()
                    .ok_or_else(|| Error::Codec("the keyframe decoded to no picture".into()))?;
                grid_of(yuv)?
            }
        };
        Ok(grid)
    }

    /// Compares `grid` with the previous keyframe's and keeps it as the new
    /// previous one.
    pub fn compare(&mut self, grid: LumaGrid) -> MotionScore {
        let changed = self
            .previous
            .as_ref()
            .map_or(0.0, |p| grid.changed_fraction(p, self.config.threshold));
        self.previous = Some(grid);
        MotionScore {
            changed,
            motion: changed > self.config.min_area,
        }
    }

    /// Decodes a keyframe and compares it with the previous one.
    pub fn keyframe(&mut self, params: &VideoParams, frame: &[u8]) -> Result<MotionScore, Error> {
        let grid = self.decode_grid(params, frame)?;
        Ok(self.compare(grid))
    }
}

fn grid_of(yuv: &impl YUVSource) -> Result<LumaGrid, Error> {
    let (w, h) = yuv.dimensions();
    if w < GRID_WIDTH || h < GRID_HEIGHT {
        return Err(Error::Unsupported(format!(
            "pictures smaller than {GRID_WIDTH}x{GRID_HEIGHT} ({w}x{h})"
        )));
    }
    Ok(LumaGrid::from_luma(yuv.y(), yuv.strides().0, w, h))
}

fn codec_err(e: openh264::Error) -> Error {
    Error::Codec(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{SyntheticCamera, SyntheticConfig};

    /// A `w` × `h` plane of grey `base` with a `box_w` square of white at `x`.
    fn plane(w: usize, h: usize, base: u8, box_at: Option<(usize, usize, usize)>) -> Vec<u8> {
        let mut p = vec![base; w * h];
        if let Some((bx, by, side)) = box_at {
            for row in by..(by + side).min(h) {
                for col in bx..(bx + side).min(w) {
                    p[row * w + col] = 235;
                }
            }
        }
        p
    }

    fn check(a: &[u8], b: &[u8], threshold: u8, expected_changed: f32) {
        let (ga, gb) = (
            LumaGrid::from_luma(a, 640, 640, 360),
            LumaGrid::from_luma(b, 640, 640, 360),
        );
        let got = ga.changed_fraction(&gb, threshold);
        assert!(
            (got - expected_changed).abs() < 1e-4,
            "changed {got}, expected {expected_changed}"
        );
    }

    #[test]
    fn a_static_plane_has_no_motion() {
        let p = plane(640, 360, 80, None);
        check(&p, &p, 0, 0.0);
        let q = plane(640, 360, 80, Some((100, 100, 40)));
        check(&q, &q, 0, 0.0);
    }

    #[test]
    fn a_moving_box_changes_the_cells_it_leaves_and_enters() {
        // Cells are 10x10 pixels: a 40-pixel box aligned on cells covers 16.
        let a = plane(640, 360, 80, Some((100, 100, 40)));
        let b = plane(640, 360, 80, Some((300, 200, 40)));
        let total = (GRID_WIDTH * GRID_HEIGHT) as f32;
        check(&a, &b, 20, 32.0 / total);
        // The difference is 155 levels: a threshold above it sees nothing.
        check(&a, &b, 155, 0.0);
        check(&a, &b, 154, 32.0 / total);
    }

    #[test]
    fn noise_below_the_threshold_is_ignored() {
        let a = plane(640, 360, 80, None);
        let b: Vec<u8> = a
            .iter()
            .enumerate()
            .map(|(i, v)| v + (i % 7) as u8)
            .collect();
        check(&a, &b, 6, 0.0);
        let g = LumaGrid::from_luma(&b, 640, 640, 360);
        assert!(g
            .changed_fraction(&LumaGrid::from_luma(&a, 640, 640, 360), 2)
            .gt(&0.5));
    }

    #[test]
    fn strides_and_uneven_blocks_are_handled() {
        // 100x50 with a stride of 128: blocks of 1 or 2 pixels.
        let mut y = vec![0u8; 128 * 50];
        for row in 0..50 {
            for col in 0..100 {
                y[row * 128 + col] = 100;
            }
        }
        let g = LumaGrid::from_luma(&y, 128, 100, 50);
        assert!(g.cells.iter().all(|&c| c == 100), "{:?}", g.cells);
    }

    #[test]
    fn the_detector_sees_motion_only_between_different_keyframes() {
        let cfg = SyntheticConfig {
            width: 320,
            height: 240,
            gop_frames: 1,
            ..SyntheticConfig::default()
        };
        let mut cam = SyntheticCamera::new(cfg).unwrap();
        let params = cam.params().clone();
        let frames: Vec<Vec<u8>> = (0..40).map(|_| cam.next_frame("").unwrap().data).collect();
        let mut d = MotionDetector::new(MotionConfig::default()).unwrap();
        let first = d.keyframe(&params, &frames[0]).unwrap();
        assert!(!first.motion, "nothing to compare the first keyframe with");
        let same = d.keyframe(&params, &frames[0]).unwrap();
        assert_eq!(same.changed, 0.0, "the same keyframe twice");
        let moved = d.keyframe(&params, &frames[39]).unwrap();
        assert!(moved.motion, "1.6 s of moving shapes: {moved:?}");
        d.reset();
        assert!(!d.keyframe(&params, &frames[39]).unwrap().motion);
        assert!(d.keyframe(&params, &[0, 0, 0, 9, 1]).is_err());
    }
}
