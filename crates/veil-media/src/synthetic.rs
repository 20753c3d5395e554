//! The synthetic camera: deterministic moving shapes on a scrolling gradient plus a
//! text overlay, painted into YUV 4:2:0 planes and encoded to H.264 with OpenH264.
//! Used for demos and tests in place of a real camera.

use std::time::Instant;

use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, IntraFramePeriod, RateControlMode, UsageType,
};
use openh264::formats::YUVSlices;
use openh264::{OpenH264API, Timestamp};

use crate::h264::{annexb_to_avc, AvcFrame};
use crate::{Error, VideoParams};

/// Configuration of a [`SyntheticCamera`].
#[derive(Clone, Debug)]
pub struct SyntheticConfig {
    /// Picture width in pixels (even, 16..=1920).
    pub width: u32,
    /// Picture height in pixels (even, 16..=1080).
    pub height: u32,
    /// Frames per second (1..=120).
    pub fps: u32,
    /// Distance between IDR keyframes in frames (>= 1).
    pub gop_frames: u32,
    /// Target bitrate in bits per second (10_000..=100_000_000).
    pub bitrate_bps: u32,
    /// Varies the shapes' colours, sizes and motion between cameras.
    pub seed: u32,
}

impl Default for SyntheticConfig {
    /// 640x360, 25 fps, a keyframe every 50 frames (2 s), 1 Mbit/s, seed 0.
    fn default() -> Self {
        SyntheticConfig {
            width: 640,
            height: 360,
            fps: 25,
            gop_frames: 50,
            bitrate_bps: 1_000_000,
            seed: 0,
        }
    }
}

impl SyntheticConfig {
    /// Checks that every value is in its supported range.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        if !self.width.is_multiple_of(2) || !self.height.is_multiple_of(2) {
            return bad(format!(
                "synthetic camera size {}x{} must have even width and height",
                self.width, self.height
            ));
        }
        if self.width < 16 || self.height < 16 || self.width > 1920 || self.height > 1080 {
            return bad(format!(
                "synthetic camera size {}x{} must be between 16x16 and 1920x1080",
                self.width, self.height
            ));
        }
        if self.fps == 0 || self.fps > 120 {
            return bad(format!(
                "synthetic camera fps {} must be between 1 and 120",
                self.fps
            ));
        }
        if self.gop_frames == 0 {
            return bad("synthetic camera gop_frames must be at least 1".into());
        }
        if !(10_000..=100_000_000).contains(&self.bitrate_bps) {
            return bad(format!(
                "synthetic camera bitrate {} bit/s must be between 10000 and 100000000",
                self.bitrate_bps
            ));
        }
        Ok(())
    }
}

/// A synthetic H.264 camera producing one access unit per [`SyntheticCamera::next_frame`].
pub struct SyntheticCamera {
    cfg: SyntheticConfig,
    encoder: Encoder,
    params: VideoParams,
    index: u64,
    /// Y, U and V planes back to back.
    yuv: Vec<u8>,
    shapes: Vec<Shape>,
}

/// A coloured shape bouncing around the picture.
struct Shape {
    circle: bool,
    w: u32,
    h: u32,
    /// Speed in pixels per frame along x and y.
    vx: u32,
    vy: u32,
    /// Starting offsets along the bounce paths.
    px: u32,
    py: u32,
    yuv: [u8; 3],
}

/// A small integer hash (SplitMix-style finaliser) for deterministic variation.
fn mix(mut x: u32) -> u32 {
    x = x.wrapping_add(0x9e37_79b9);
    x = (x ^ (x >> 16)).wrapping_mul(0x85eb_ca6b);
    x = (x ^ (x >> 13)).wrapping_mul(0xc2b2_ae35);
    x ^ (x >> 16)
}

/// Position along a path bouncing between 0 and `span`.
fn bounce(t: u64, span: u32) -> u32 {
    if span == 0 {
        return 0;
    }
    let period = 2 * u64::from(span);
    let p = t % period;
    (if p <= u64::from(span) { p } else { period - p }) as u32
}

fn encoder_config(cfg: &SyntheticConfig) -> EncoderConfig {
    EncoderConfig::new()
        .bitrate(BitRate::from_bps(cfg.bitrate_bps))
        .max_frame_rate(FrameRate::from_hz(cfg.fps as f32))
        .rate_control_mode(RateControlMode::Bitrate)
        .skip_frames(false)
        .scene_change_detect(false)
        .intra_frame_period(IntraFramePeriod::from_num_frames(cfg.gop_frames))
        .usage_type(UsageType::CameraVideoRealTime)
        .num_threads(1)
}

fn codec_err(e: openh264::Error) -> Error {
    Error::Codec(format!("OpenH264 encoder: {e}"))
}

impl SyntheticCamera {
    /// Creates a camera; the codec parameters are known right away.
    pub fn new(cfg: SyntheticConfig) -> Result<Self, Error> {
        cfg.validate()?;
        let (w, h) = (cfg.width as usize, cfg.height as usize);
        let mut yuv = vec![128u8; w * h * 3 / 2];

        // Learn SPS/PPS from a throwaway encoder with the same configuration, so the
        // real encoder's rate control starts from a clean state at frame 0.
        let params = {
            let mut probe =
                Encoder::with_api_config(OpenH264API::from_source(), encoder_config(&cfg))
                    .map_err(codec_err)?;
            let src = yuv_slices(&yuv, w, h);
            let out = probe.encode(&src).map_err(codec_err)?.to_vec();
            let frame = annexb_to_avc(&out)?;
            match (frame.sps, frame.pps) {
                (Some(sps), Some(pps)) => VideoParams::from_sps_pps(&sps, &pps)?,
                _ => {
                    return Err(Error::Codec(
                        "encoder's first frame carries no SPS/PPS".into(),
                    ))
                }
            }
        };
        if u32::from(params.width) != cfg.width || u32::from(params.height) != cfg.height {
            return Err(Error::Codec(format!(
                "encoder SPS says {}x{}, expected {}x{}",
                params.width, params.height, cfg.width, cfg.height
            )));
        }
        yuv.fill(0);
        let encoder = Encoder::with_api_config(OpenH264API::from_source(), encoder_config(&cfg))
            .map_err(codec_err)?;
        let shapes = make_shapes(&cfg);
        Ok(SyntheticCamera {
            cfg,
            encoder,
            params,
            index: 0,
            yuv,
            shapes,
        })
    }

    /// The codec parameters of every frame this camera produces.
    pub fn params(&self) -> &VideoParams {
        &self.params
    }

    /// The configuration this camera was created with.
    pub fn config(&self) -> &SyntheticConfig {
        &self.cfg
    }

    /// Renders and encodes the next frame with `overlay` drawn as visible text
    /// (digits, A-Z, `:` `-` `.` `#` `/` `_` and space; lowercase is shown as
    /// uppercase, other characters as `?`). Frames at index % gop_frames == 0 are IDR
    /// keyframes and carry SPS/PPS.
    pub fn next_frame(&mut self, overlay: &str) -> Result<AvcFrame, Error> {
        let index = self.index;
        self.render(overlay);
        let (w, h) = (self.cfg.width as usize, self.cfg.height as usize);
        if index > 0 && index.is_multiple_of(u64::from(self.cfg.gop_frames)) {
            self.encoder.force_intra_frame();
        }
        let ts = Timestamp::from_millis(index * 1000 / u64::from(self.cfg.fps));
        let src = yuv_slices(&self.yuv, w, h);
        let out = self
            .encoder
            .encode_at(&src, ts)
            .map_err(codec_err)?
            .to_vec();
        let frame = annexb_to_avc(&out)
            .map_err(|e| Error::Codec(format!("frame {index}: unusable encoder output: {e}")))?;
        let want_key = index.is_multiple_of(u64::from(self.cfg.gop_frames));
        if frame.is_key != want_key {
            return Err(Error::Codec(format!(
                "frame {index}: encoder produced is_key={} but expected {want_key}",
                frame.is_key
            )));
        }
        if frame.sps.as_ref().is_some_and(|s| *s != self.params.sps)
            || frame.pps.as_ref().is_some_and(|p| *p != self.params.pps)
        {
            return Err(Error::Codec(format!(
                "frame {index}: encoder changed its SPS/PPS"
            )));
        }
        self.index += 1;
        Ok(frame)
    }

    /// The number of frames produced so far (the index of the next frame).
    pub fn frame_index(&self) -> u64 {
        self.index
    }

    fn render(&mut self, overlay: &str) {
        let (w, h) = (self.cfg.width as usize, self.cfg.height as usize);
        let t = self.index;
        let seed = self.cfg.seed;
        let (y_plane, uv) = self.yuv.split_at_mut(w * h);
        let (u_plane, v_plane) = uv.split_at_mut(w * h / 4);
        let (cw, ch) = (w / 2, h / 2);

        // Scrolling diagonal luma gradient; chroma varies slowly across the picture.
        let shift = (t as usize * 3 + seed as usize) % 512;
        for (y, row) in y_plane.chunks_exact_mut(w).enumerate() {
            for (x, px) in row.iter_mut().enumerate() {
                let p = (x + 2 * y + shift) % 512;
                let tri = if p < 256 { p } else { 511 - p };
                *px = 40 + (tri * 150 / 256) as u8;
            }
        }
        for y in 0..ch {
            let v = 108 + (y * 40 / ch) as u8;
            for x in 0..cw {
                u_plane[y * cw + x] = 108 + (x * 40 / cw) as u8;
                v_plane[y * cw + x] = v;
            }
        }

        for s in &self.shapes {
            let x0 = bounce(t * u64::from(s.vx) + u64::from(s.px), self.cfg.width - s.w) & !1;
            let y0 = bounce(t * u64::from(s.vy) + u64::from(s.py), self.cfg.height - s.h) & !1;
            let (x0, y0, sw, sh) = (x0 as usize, y0 as usize, s.w as usize, s.h as usize);
            let inside = |dx: usize, dy: usize| -> bool {
                if !s.circle {
                    return true;
                }
                let rx = sw as i64;
                let ry = sh as i64;
                let ex = 2 * dx as i64 + 1 - rx;
                let ey = 2 * dy as i64 + 1 - ry;
                ex * ex * ry * ry + ey * ey * rx * rx <= rx * rx * ry * ry
            };
            for dy in 0..sh {
                let row = &mut y_plane[(y0 + dy) * w..];
                for dx in 0..sw {
                    if inside(dx, dy) {
                        row[x0 + dx] = s.yuv[0];
                    }
                }
            }
            for dy in 0..sh / 2 {
                for dx in 0..sw / 2 {
                    if inside(2 * dx, 2 * dy) {
                        let i = (y0 / 2 + dy) * cw + x0 / 2 + dx;
                        u_plane[i] = s.yuv[1];
                        v_plane[i] = s.yuv[2];
                    }
                }
            }
        }

        draw_text(y_plane, u_plane, v_plane, w, h, overlay);
    }
}

fn yuv_slices(yuv: &[u8], w: usize, h: usize) -> YUVSlices<'_> {
    let (y, uv) = yuv.split_at(w * h);
    let (u, v) = uv.split_at(w * h / 4);
    YUVSlices::new((y, u, v), (w, h), (w, w / 2, w / 2))
}

fn make_shapes(cfg: &SyntheticConfig) -> Vec<Shape> {
    const COLOURS: [[u8; 3]; 5] = [
        [81, 90, 240],  // red
        [145, 54, 34],  // green
        [41, 240, 110], // blue
        [210, 16, 146], // yellow
        [170, 166, 16], // cyan
    ];
    let min_dim = cfg.width.min(cfg.height);
    (0..4u32)
        .map(|k| {
            let r = |n: u32| mix(cfg.seed.wrapping_mul(31).wrapping_add(k * 7 + n));
            let base = (min_dim / 5).max(4);
            let w = ((base + r(1) % base.max(1)) & !1)
                .min((cfg.width / 2) & !1)
                .max(2);
            let h = if k % 2 == 1 {
                w.min((cfg.height / 2) & !1).max(2)
            } else {
                ((base / 2 + r(2) % base.max(1)) & !1)
                    .min((cfg.height / 2) & !1)
                    .max(2)
            };
            let speed = (min_dim / 90).max(1);
            Shape {
                circle: k % 2 == 1,
                w,
                h,
                vx: speed + r(3) % (2 * speed),
                vy: speed + r(4) % (2 * speed),
                px: r(5) % (2 * cfg.width),
                py: r(6) % (2 * cfg.height),
                yuv: COLOURS[((k + cfg.seed) % COLOURS.len() as u32) as usize],
            }
        })
        .collect()
}

/// A 5x7 bitmap glyph: seven rows, bit 4 is the leftmost pixel.
fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        '0' => [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e],
        '1' => [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
        '2' => [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f],
        '3' => [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
        '4' => [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02],
        '5' => [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
        '6' => [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e],
        '7' => [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e],
        '9' => [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
        'A' => [0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
        'B' => [0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e],
        'C' => [0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e],
        'D' => [0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c],
        'E' => [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f],
        'F' => [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10],
        'G' => [0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f],
        'H' => [0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
        'I' => [0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f],
        'M' => [0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e],
        'P' => [0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10],
        'Q' => [0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d],
        'R' => [0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11],
        'S' => [0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e],
        'T' => [0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a],
        'X' => [0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04],
        'Z' => [0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f],
        ':' => [0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00],
        '-' => [0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c],
        '#' => [0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a],
        '/' => [0x01, 0x02, 0x02, 0x04, 0x08, 0x08, 0x10],
        '_' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f],
        ' ' => [0; 7],
        _ => [0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04], // '?'
    }
}

/// Draws `text` in white on a dark box at the top left, scaled to fit the width.
fn draw_text(y_plane: &mut [u8], u: &mut [u8], v: &mut [u8], w: usize, h: usize, text: &str) {
    let n = text.chars().count();
    if n == 0 {
        return;
    }
    // Each glyph cell is 6x9 font pixels (5x7 glyph plus spacing).
    let Some((scale, bx, by)) = text_layout(w, h, n) else {
        return;
    };
    let margin = 2 * scale;
    let box_w = ((6 * n + 1) * scale).min(w - margin);
    let box_h = (9 * scale).min(h - margin);
    for y in by..by + box_h {
        y_plane[y * w + bx..y * w + bx + box_w].fill(16);
    }
    let cw = w / 2;
    for y in by / 2..(by + box_h).div_ceil(2).min(h / 2) {
        let row = y * cw;
        u[row + bx / 2..row + ((bx + box_w).div_ceil(2)).min(cw)].fill(128);
        v[row + bx / 2..row + ((bx + box_w).div_ceil(2)).min(cw)].fill(128);
    }
    for (i, c) in text.chars().enumerate() {
        let g = glyph(c);
        let gx = bx + (1 + 6 * i) * scale;
        let gy = by + scale;
        for (ry, bits) in g.iter().enumerate() {
            for rx in 0..5 {
                if bits & (0x10 >> rx) == 0 {
                    continue;
                }
                for sy in 0..scale {
                    let y = gy + ry * scale + sy;
                    let x = gx + rx * scale;
                    if y < h && x + scale <= w {
                        y_plane[y * w + x..y * w + x + scale].fill(235);
                    }
                }
            }
        }
    }
}

/// Where [`draw_text`] puts `n` characters in a `w`×`h` picture: the scale
/// (picture pixels per font pixel) and the top-left corner of the box.
fn text_layout(w: usize, h: usize, n: usize) -> Option<(usize, usize, usize)> {
    let by_height = (h / 100).max(1);
    let by_width = w.saturating_sub(4) / (6 * n + 1);
    let scale = by_height.min(by_width);
    if scale == 0 || n == 0 {
        return None;
    }
    let margin = 2 * scale;
    Some((scale, margin & !1, margin & !1))
}

/// Reads back the `chars` characters of text a synthetic camera painted on
/// a picture, from its luma (`rows` full rows of a `w`×`h` picture, top
/// first; rows below the text may be left out): each font pixel's centre is
/// light or dark, and each character is the glyph that differs least. For
/// tests that check which frame a player shows (the burned-in clock).
/// `None` when the rows do not reach the text or a character matches no
/// glyph well (more than 4 of its 35 pixels wrong).
pub fn read_overlay(luma: &[u8], w: usize, h: usize, chars: usize) -> Option<String> {
    const ALPHABET: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ:-.#/_ ";
    let (scale, bx, by) = text_layout(w, h, chars)?;
    let mut out = String::with_capacity(chars);
    for i in 0..chars {
        let gx = bx + (1 + 6 * i) * scale;
        let gy = by + scale;
        let mut seen = [0u8; 7];
        for (ry, row) in seen.iter_mut().enumerate() {
            for rx in 0..5 {
                let x = gx + rx * scale + scale / 2;
                let y = gy + ry * scale + scale / 2;
                if *luma.get(y * w + x)? > 128 {
                    *row |= 0x10 >> rx;
                }
            }
        }
        let (best, wrong) = ALPHABET
            .chars()
            .map(|c| {
                let g = glyph(c);
                let d: u32 = g.iter().zip(&seen).map(|(a, b)| (a ^ b).count_ones()).sum();
                (c, d)
            })
            .min_by_key(|&(_, d)| d)?;
        if wrong > 4 {
            return None;
        }
        out.push(best);
    }
    Some(out)
}

/// Encodes `frames` frames with a fresh camera and returns the average wall-clock
/// seconds per frame (render + encode, single-threaded encoder), i.e. the CPU cost of
/// one synthetic camera per frame.
pub fn measure_cpu_cost(cfg: SyntheticConfig, frames: u32) -> Result<f64, Error> {
    let mut cam = SyntheticCamera::new(cfg)?;
    let frames = frames.max(1);
    let start = Instant::now();
    for i in 0..frames {
        cam.next_frame(&format!("2026-01-01 00:00:00.000 #{i:06}"))?;
    }
    Ok(start.elapsed().as_secs_f64() / f64::from(frames))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_painted_text_reads_back() {
        let text = "2026-11-29 05:37:08.120 #004711";
        for (w, h) in [(640, 360), (320, 180), (1280, 720)] {
            let mut cam = SyntheticCamera::new(SyntheticConfig {
                width: w,
                height: h,
                ..SyntheticConfig::default()
            })
            .unwrap();
            for _ in 0..3 {
                cam.render(text);
            }
            let (w, h) = (w as usize, h as usize);
            let luma = &cam.yuv[..w * h];
            let n = text.chars().count();
            assert_eq!(
                read_overlay(luma, w, h, n).as_deref(),
                Some(text),
                "{w}x{h}"
            );
            // Only the top rows are needed; too few is None, not a guess.
            assert_eq!(
                read_overlay(&luma[..w * (h / 6)], w, h, n).as_deref(),
                Some(text)
            );
            assert_eq!(read_overlay(&luma[..w * 4], w, h, n), None);
        }
        // A picture without the text reads as nothing.
        assert_eq!(read_overlay(&[200; 640 * 360], 640, 360, 31), None);
    }

    fn small() -> SyntheticConfig {
        SyntheticConfig {
            width: 160,
            height: 96,
            fps: 10,
            gop_frames: 5,
            bitrate_bps: 200_000,
            seed: 3,
        }
    }

    #[test]
    fn rejects_bad_configs() {
        for cfg in [
            SyntheticConfig {
                width: 641,
                ..Default::default()
            },
            SyntheticConfig {
                height: 361,
                ..Default::default()
            },
            SyntheticConfig {
                width: 3840,
                height: 2160,
                ..Default::default()
            },
            SyntheticConfig {
                fps: 0,
                ..Default::default()
            },
            SyntheticConfig {
                gop_frames: 0,
                ..Default::default()
            },
            SyntheticConfig {
                bitrate_bps: 0,
                ..Default::default()
            },
        ] {
            let err = SyntheticCamera::new(cfg.clone()).err().expect("must fail");
            assert!(matches!(err, Error::InvalidConfig(_)), "{cfg:?}: {err}");
            assert!(err.to_string().contains("synthetic camera"));
        }
    }

    #[test]
    fn deterministic_and_keyframes_at_gop() {
        let run = || {
            let mut cam = SyntheticCamera::new(small()).unwrap();
            let params = cam.params().clone();
            let frames: Vec<AvcFrame> = (0..11)
                .map(|i| cam.next_frame(&format!("TEST #{i:03}")).unwrap())
                .collect();
            assert_eq!(cam.frame_index(), 11);
            (params, frames)
        };
        let (pa, fa) = run();
        let (pb, fb) = run();
        assert_eq!(pa, pb);
        assert_eq!(fa, fb);
        assert_eq!((pa.width, pa.height), (160, 96));
        for (i, f) in fa.iter().enumerate() {
            assert_eq!(f.is_key, i % 5 == 0, "frame {i}");
            if f.is_key {
                assert_eq!(f.sps.as_ref(), Some(&pa.sps));
                assert_eq!(f.pps.as_ref(), Some(&pa.pps));
            }
        }
        // The overlay changes the picture.
        let mut cam = SyntheticCamera::new(small()).unwrap();
        let other = cam.next_frame("OTHER TEXT").unwrap();
        assert_ne!(other.data, fa[0].data);
        // A different seed changes the picture.
        let mut cam = SyntheticCamera::new(SyntheticConfig { seed: 4, ..small() }).unwrap();
        assert_ne!(cam.next_frame("TEST #000").unwrap().data, fa[0].data);
    }

    #[test]
    fn glyphs_cover_overlay_charset() {
        let unknown = glyph('\u{1}');
        for c in "0123456789:-.# ABCDEFGHIJKLMNOPQRSTUVWXYZ/_".chars() {
            assert_ne!(glyph(c), unknown, "{c:?}");
            assert!(glyph(c).iter().all(|r| *r < 0x20));
        }
    }

    #[test]
    fn tiny_picture_renders_without_panicking() {
        let mut cam = SyntheticCamera::new(SyntheticConfig {
            width: 16,
            height: 16,
            ..small()
        })
        .unwrap();
        cam.next_frame("A VERY LONG OVERLAY THAT CANNOT FIT 2026-11-23 10:00:00.040")
            .unwrap();
        cam.next_frame("").unwrap();
    }
}
