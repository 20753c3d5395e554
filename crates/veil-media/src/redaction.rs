//! Bystander redaction in exports (D2): boxes keyframed over time, filled
//! solid or blurred, painted into a re-encoded copy of exported video.
//! Stored video is never touched.
//!
//! A box belongs to one camera and has 1 to [`MAX_KEYFRAMES`] keyframes in
//! strictly increasing time, each a rectangle in normalised picture
//! coordinates (0 to 1, origin top left). It exists from its first to its
//! last keyframe (inclusive) and moves linearly between keyframes.
//! [`check`] turns the JSON form ([`RedactionBox`]) into [`Redaction`]s,
//! naming the first bad field (`redactions[0].keyframes[1].x`);
//! [`Redactor`] decodes a piece of stored video, paints each picture's boxes
//! by its presentation time with the mask painting of [`crate::masking`],
//! encodes it with OpenH264 (keyframes where the source had them) and muxes
//! a progressive MP4.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use veil_base::Time90k;

use crate::mask::{Fill, MaskError};
use crate::masking::{paint_polygon, EncodeSettings, MaskPipeline, MaskPlan, MaskedFrame};
use crate::mp4::{progressive_header, Chunk, Sample};
use crate::{Error, VideoParams};

/// The most boxes one export carries.
pub const MAX_BOXES: usize = 100;
/// The most keyframes one box has.
pub const MAX_KEYFRAMES: usize = 500;

/// One keyframe of a box, as JSON: when, and where (normalised).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoxKeyframe {
    /// RFC 3339 (UTC).
    pub at: String,
    /// Left edge, 0 to 1.
    pub x: f64,
    /// Top edge, 0 to 1.
    pub y: f64,
    /// Width, more than 0; `x + w` at most 1.
    pub w: f64,
    /// Height, more than 0; `y + h` at most 1.
    pub h: f64,
}

/// One redaction box, as JSON (the export request's `redactions` and the
/// manifest's `redacted`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactionBox {
    /// The camera whose video it covers.
    pub camera: i64,
    /// `solid` (mid grey) or `blur`.
    pub fill: String,
    /// 1 to 500 keyframes in strictly increasing time.
    pub keyframes: Vec<BoxKeyframe>,
}

/// A rectangle in normalised picture coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Rect {
    /// Its corners, clockwise from the top left.
    pub fn polygon(&self) -> [[f64; 2]; 4] {
        let (x1, y1) = (self.x + self.w, self.y + self.h);
        [[self.x, self.y], [x1, self.y], [x1, y1], [self.x, y1]]
    }

    /// The pixels `[x0, x1) × [y0, y1)` whose centres it covers in a
    /// `width` × `height` picture (as the painting does).
    pub fn pixels(&self, width: usize, height: usize) -> (usize, usize, usize, usize) {
        let px = |v: f64, n: usize| ((v * n as f64 - 0.5).ceil().max(0.0) as usize).min(n);
        (
            px(self.x, width),
            px(self.y, height),
            px(self.x + self.w, width),
            px(self.y + self.h, height),
        )
    }
}

/// A checked keyframe.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Keyframe {
    /// When.
    pub at: Time90k,
    /// Where.
    pub rect: Rect,
}

/// A checked box.
#[derive(Clone, Debug, PartialEq)]
pub struct Redaction {
    /// The camera.
    pub camera: i64,
    /// [`Fill::Solid`] or [`Fill::Blur`].
    pub fill: Fill,
    /// Keyframes, strictly increasing in time (at least one).
    pub keyframes: Vec<Keyframe>,
}

impl Redaction {
    /// From its first keyframe to its last (inclusive).
    pub fn span(&self) -> (Time90k, Time90k) {
        (
            self.keyframes[0].at,
            self.keyframes[self.keyframes.len() - 1].at,
        )
    }

    /// The rectangle at `t`: linear between the keyframes around it; `None`
    /// before the first keyframe or after the last.
    pub fn at(&self, t: Time90k) -> Option<Rect> {
        let (first, last) = self.span();
        if t < first || t > last {
            return None;
        }
        let i = self.keyframes.partition_point(|k| k.at <= t);
        let a = self.keyframes[i - 1];
        let Some(b) = self.keyframes.get(i) else {
            return Some(a.rect);
        };
        let f = (t.0 - a.at.0) as f64 / (b.at.0 - a.at.0) as f64;
        let mix = |p: f64, q: f64| p + (q - p) * f;
        Some(Rect {
            x: mix(a.rect.x, b.rect.x),
            y: mix(a.rect.y, b.rect.y),
            w: mix(a.rect.w, b.rect.w),
            h: mix(a.rect.h, b.rect.h),
        })
    }

    /// The rectangle painted on a picture shown over `[pts, pts + duration)`:
    /// the box at `pts`, or, for a picture on screen when the box begins or
    /// ends between two pictures' times, the box at that keyframe (a box is
    /// never missed between frames).
    pub fn on_picture(&self, pts: Time90k, duration_90k: i64) -> Option<Rect> {
        let (first, last) = self.span();
        let end = pts.0 + duration_90k.max(1);
        if last < pts || first.0 >= end {
            return None;
        }
        self.at(Time90k(pts.0.clamp(first.0, last.0)))
    }

    /// The JSON form (times as RFC 3339, UTC).
    pub fn to_json(&self) -> RedactionBox {
        RedactionBox {
            camera: self.camera,
            fill: match self.fill {
                Fill::Blur => "blur",
                _ => "solid",
            }
            .into(),
            keyframes: self
                .keyframes
                .iter()
                .map(|k| BoxKeyframe {
                    at: k.at.to_rfc3339(),
                    x: k.rect.x,
                    y: k.rect.y,
                    w: k.rect.w,
                    h: k.rect.h,
                })
                .collect(),
        }
    }
}

fn err(field: String, message: impl Into<String>) -> MaskError {
    MaskError {
        field,
        message: message.into(),
    }
}

/// Checks boxes given as JSON; the error names the first bad field
/// (`redactions[2].fill`, `redactions[0].keyframes[1].x`). Cameras and the
/// export's interval are the caller's to check.
pub fn check(boxes: &[RedactionBox]) -> Result<Vec<Redaction>, MaskError> {
    if boxes.len() > MAX_BOXES {
        return Err(err(
            "redactions".into(),
            format!("at most {MAX_BOXES} boxes, got {}", boxes.len()),
        ));
    }
    let mut out = Vec::with_capacity(boxes.len());
    for (i, b) in boxes.iter().enumerate() {
        let fill = match b.fill.as_str() {
            "solid" => Fill::Solid,
            "blur" => Fill::Blur,
            other => {
                return Err(err(
                    format!("redactions[{i}].fill"),
                    format!("must be solid or blur, got {other:?}"),
                ))
            }
        };
        if b.keyframes.is_empty() || b.keyframes.len() > MAX_KEYFRAMES {
            return Err(err(
                format!("redactions[{i}].keyframes"),
                format!(
                    "needs 1 to {MAX_KEYFRAMES} keyframes, got {}",
                    b.keyframes.len()
                ),
            ));
        }
        let mut keyframes: Vec<Keyframe> = Vec::with_capacity(b.keyframes.len());
        for (k, kf) in b.keyframes.iter().enumerate() {
            let field = |f: &str| format!("redactions[{i}].keyframes[{k}].{f}");
            let at = Time90k::parse_rfc3339(&kf.at)
                .ok_or_else(|| err(field("at"), "must be an RFC 3339 time"))?;
            if keyframes.last().is_some_and(|p| p.at >= at) {
                return Err(err(
                    field("at"),
                    "keyframes must be in strictly increasing time",
                ));
            }
            for (name, v) in [("x", kf.x), ("y", kf.y)] {
                if !v.is_finite() || !(0.0..=1.0).contains(&v) {
                    return Err(err(
                        field(name),
                        "coordinates are fractions of the picture, 0 to 1",
                    ));
                }
            }
            for (name, v, from, axis) in [("w", kf.w, kf.x, "x"), ("h", kf.h, kf.y, "y")] {
                if !v.is_finite() || v <= 0.0 {
                    return Err(err(field(name), "must be more than 0"));
                }
                // A little slack for decimal fractions that sum to 1.
                if from + v > 1.0 + 1e-9 {
                    return Err(err(
                        field(name),
                        format!("the box leaves the picture: {axis} + {name} must be at most 1"),
                    ));
                }
            }
            keyframes.push(Keyframe {
                at,
                rect: Rect {
                    x: kf.x,
                    y: kf.y,
                    w: kf.w.min(1.0 - kf.x),
                    h: kf.h.min(1.0 - kf.y),
                },
            });
        }
        out.push(Redaction {
            camera: b.camera,
            fill,
            keyframes,
        });
    }
    Ok(out)
}

/// Paints every box of `boxes` shown on the picture at `pts` (on screen for
/// `duration_90k`) on a packed I420 picture of `w` × `h`.
pub fn paint(
    boxes: &[Redaction],
    pts: Time90k,
    duration_90k: i64,
    w: usize,
    h: usize,
    picture: &mut [u8],
    scratch: &mut Vec<u32>,
) {
    for b in boxes {
        if let Some(r) = b.on_picture(pts, duration_90k) {
            paint_polygon(picture, w, h, &r.polygon(), b.fill, scratch);
        }
    }
}

/// Encoder settings like a source's: its mean bitrate and frame rate over
/// `frames` frames of `bytes` bytes lasting `duration_90k`.
pub fn settings_like(bytes: u64, frames: u64, duration_90k: i64) -> EncodeSettings {
    let secs = (duration_90k.max(1) as f64) / f64::from(veil_base::TIME_UNITS_PER_SEC as u32);
    let bps = (bytes as f64 * 8.0 / secs).clamp(100_000.0, 50_000_000.0);
    let fps = (frames.max(1) as f64 / secs).clamp(1.0, 120.0);
    EncodeSettings {
        bitrate_bps: bps as u32,
        fps: fps as f32,
    }
}

/// One access unit of the source, in decode order.
pub struct SourceFrame<'a> {
    /// Its parameter sets.
    pub params: &'a VideoParams,
    /// Presentation time (absolute, 90 kHz).
    pub pts: i64,
    /// How long it is shown.
    pub duration_90k: u32,
    /// Whether it is a keyframe.
    pub is_key: bool,
    /// AVC form (4-byte length prefixes).
    pub data: &'a [u8],
}

/// A redacted piece of video.
pub struct RedactedVideo {
    /// The progressive MP4 (video only).
    pub mp4: Vec<u8>,
    /// Frames in it.
    pub frames: u64,
    /// Presentation time of the first frame.
    pub start_90k: i64,
    /// Total duration.
    pub duration_90k: i64,
    /// Source frames the decoder never returned.
    pub lost: u64,
}

/// Decode → paint boxes → encode → MP4, for one piece of one camera.
pub struct Redactor {
    pipeline: MaskPipeline,
    durations: Arc<Mutex<BTreeMap<i64, u32>>>,
    out: Vec<MaskedFrame>,
}

impl Redactor {
    /// A redactor painting `boxes` (those of the piece's camera), encoding
    /// with `settings` (see [`settings_like`]).
    pub fn new(boxes: Vec<Redaction>, settings: EncodeSettings) -> Result<Redactor, Error> {
        let durations: Arc<Mutex<BTreeMap<i64, u32>>> = Arc::default();
        let shown = durations.clone();
        let mut scratch = Vec::new();
        let overlay = Box::new(move |pts: i64, w: usize, h: usize, picture: &mut [u8]| {
            let d = shown
                .lock()
                .map(|m| m.get(&pts).copied().unwrap_or(0))
                .unwrap_or(0);
            paint(
                &boxes,
                Time90k(pts),
                i64::from(d),
                w,
                h,
                picture,
                &mut scratch,
            );
        });
        let pipeline = MaskPipeline::new(&MaskPlan::new(&[]), settings)?.with_overlay(overlay);
        Ok(Redactor {
            pipeline,
            durations,
            out: Vec::new(),
        })
    }

    /// Feeds one source access unit (decode order).
    pub fn push(&mut self, f: SourceFrame<'_>) -> Result<(), Error> {
        if let Ok(mut m) = self.durations.lock() {
            m.insert(f.pts, f.duration_90k);
        }
        let ready = self.pipeline.push(f.params, f.pts, f.is_key, f.data)?;
        self.out.extend(ready);
        Ok(())
    }

    /// Drains the decoder and muxes the MP4.
    pub fn finish(mut self) -> Result<RedactedVideo, Error> {
        let rest = self.pipeline.finish()?;
        self.out.extend(rest);
        let lost = self.pipeline.times().lost;
        let durations = self.durations.lock().map(|m| m.clone()).unwrap_or_default();
        let frames = std::mem::take(&mut self.out);
        let Some(first) = frames.first() else {
            return Err(Error::Codec("no picture came out of the redaction".into()));
        };
        let start_90k = first.pts;
        let mut params: Vec<VideoParams> = Vec::new();
        let mut runs: Vec<(usize, Vec<Sample>)> = Vec::new();
        let mut data = Vec::new();
        let mut duration_90k = 0i64;
        for (i, f) in frames.iter().enumerate() {
            let d = match frames.get(i + 1) {
                Some(n) => n.pts - f.pts,
                None => i64::from(durations.get(&f.pts).copied().unwrap_or(0)),
            }
            .clamp(1, i64::from(u32::MAX)) as u32;
            duration_90k += i64::from(d);
            let p = &*f.protected.params;
            let pi = match params.iter().position(|x| x == p) {
                Some(pi) => pi,
                None => {
                    params.push(p.clone());
                    params.len() - 1
                }
            };
            let sample = Sample::new(f.protected.data.len() as u32, d, f.is_key);
            match runs.last_mut() {
                Some((q, s)) if *q == pi => s.push(sample),
                _ => runs.push((pi, vec![sample])),
            }
            data.extend_from_slice(&f.protected.data);
        }
        let chunks: Vec<Chunk<'_>> = runs
            .iter()
            .map(|(p, s)| Chunk {
                params: *p,
                samples: s,
            })
            .collect();
        let mut mp4 = progressive_header(&params, &chunks);
        mp4.extend_from_slice(&data);
        Ok(RedactedVideo {
            mp4,
            frames: frames.len() as u64,
            start_90k,
            duration_90k,
            lost,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000 * 90_000;

    fn at(secs: f64) -> String {
        Time90k(T0 + (secs * 90_000.0) as i64).to_rfc3339()
    }

    fn kf(secs: f64, x: f64, y: f64, w: f64, h: f64) -> BoxKeyframe {
        BoxKeyframe {
            at: at(secs),
            x,
            y,
            w,
            h,
        }
    }

    fn moving() -> RedactionBox {
        RedactionBox {
            camera: 1,
            fill: "solid".into(),
            keyframes: vec![kf(0.0, 0.0, 0.1, 0.2, 0.2), kf(2.0, 0.8, 0.5, 0.2, 0.4)],
        }
    }

    #[test]
    fn boxes_move_linearly_between_keyframes_and_exist_only_between_them() {
        let b = &check(&[moving()]).unwrap()[0];
        let t = |s: f64| Time90k(T0 + (s * 90_000.0) as i64);
        assert_eq!(b.at(t(-0.01)), None);
        assert_eq!(b.at(t(2.01)), None);
        assert_eq!(b.at(t(0.0)).unwrap().x, 0.0);
        let mid = b.at(t(1.0)).unwrap();
        assert!((mid.x - 0.4).abs() < 1e-9 && (mid.y - 0.3).abs() < 1e-9);
        assert!((mid.h - 0.3).abs() < 1e-9 && (mid.w - 0.2).abs() < 1e-9);
        let end = b.at(t(2.0)).unwrap();
        assert!((end.x - 0.8).abs() < 1e-9);
        // A picture on screen when the box begins shows it at its first
        // keyframe; one that ends before it shows nothing.
        assert_eq!(
            b.on_picture(t(-0.02), 3600).map(|r| r.x),
            Some(0.0),
            "on screen across the first keyframe"
        );
        assert_eq!(b.on_picture(t(-0.05), 3600), None);
        // One keyframe: the picture on screen at that moment.
        let one = RedactionBox {
            keyframes: vec![kf(1.01, 0.1, 0.1, 0.1, 0.1)],
            ..moving()
        };
        let one = &check(&[one]).unwrap()[0];
        assert!(one.on_picture(t(1.0), 3600).is_some());
        assert!(one.on_picture(t(1.04), 3600).is_none());
        // Three keyframes: the segment around t.
        let three = RedactionBox {
            keyframes: vec![
                kf(0.0, 0.0, 0.0, 0.1, 0.1),
                kf(1.0, 0.5, 0.0, 0.1, 0.1),
                kf(3.0, 0.5, 0.8, 0.1, 0.1),
            ],
            ..moving()
        };
        let three = &check(&[three]).unwrap()[0];
        let r = three.at(t(2.0)).unwrap();
        assert!((r.x - 0.5).abs() < 1e-9 && (r.y - 0.4).abs() < 1e-9);
    }

    #[test]
    fn bad_boxes_name_the_field() {
        let field = |b: RedactionBox| check(&[moving(), moving(), b]).unwrap_err().field;
        let with = |k: BoxKeyframe| RedactionBox {
            keyframes: vec![kf(0.0, 0.1, 0.1, 0.1, 0.1), k],
            ..moving()
        };
        assert_eq!(
            field(RedactionBox {
                fill: "pixelate".into(),
                ..moving()
            }),
            "redactions[2].fill"
        );
        assert_eq!(
            field(RedactionBox {
                keyframes: vec![],
                ..moving()
            }),
            "redactions[2].keyframes"
        );
        assert_eq!(
            field(with(kf(1.0, -0.1, 0.1, 0.1, 0.1))),
            "redactions[2].keyframes[1].x"
        );
        assert_eq!(
            field(with(kf(1.0, 0.1, f64::NAN, 0.1, 0.1))),
            "redactions[2].keyframes[1].y"
        );
        // Outside the frame on the right and at the bottom.
        assert_eq!(
            field(with(kf(1.0, 0.9, 0.1, 0.2, 0.1))),
            "redactions[2].keyframes[1].w"
        );
        assert_eq!(
            field(with(kf(1.0, 0.1, 0.5, 0.1, 0.6))),
            "redactions[2].keyframes[1].h"
        );
        assert_eq!(
            field(with(kf(1.0, 0.1, 0.1, 0.0, 0.1))),
            "redactions[2].keyframes[1].w"
        );
        // Out of order, and the same time twice.
        assert_eq!(
            field(with(kf(-1.0, 0.1, 0.1, 0.1, 0.1))),
            "redactions[2].keyframes[1].at"
        );
        assert_eq!(
            field(with(kf(0.0, 0.1, 0.1, 0.1, 0.1))),
            "redactions[2].keyframes[1].at"
        );
        let mut bad_time = with(kf(1.0, 0.1, 0.1, 0.1, 0.1));
        bad_time.keyframes[1].at = "yesterday".into();
        assert_eq!(field(bad_time), "redactions[2].keyframes[1].at");
        let too_many = RedactionBox {
            keyframes: (0..=MAX_KEYFRAMES)
                .map(|i| kf(i as f64, 0.1, 0.1, 0.1, 0.1))
                .collect(),
            ..moving()
        };
        assert_eq!(field(too_many), "redactions[2].keyframes");
        assert_eq!(
            check(&vec![moving(); MAX_BOXES + 1]).unwrap_err().field,
            "redactions"
        );
        // Exactly to the edge is inside.
        assert!(check(&[with(kf(1.0, 0.7, 0.4, 0.3, 0.6))]).is_ok());
    }

    #[test]
    fn the_json_form_round_trips() {
        let b = check(&[moving()]).unwrap();
        let again = check(&[b[0].to_json()]).unwrap();
        assert_eq!(b, again);
        let j = serde_json::to_value(b[0].to_json()).unwrap();
        assert_eq!(j["fill"], "solid");
        assert_eq!(j["keyframes"][1]["x"], 0.8);
    }

    #[test]
    fn a_solid_box_makes_its_region_constant_and_leaves_the_rest() {
        let (w, h) = (64, 48);
        let mut pic: Vec<u8> = (0..w * h + 2 * (w / 2) * (h / 2))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let before = pic.clone();
        let b = check(&[moving()]).unwrap();
        paint(
            &b,
            Time90k(T0 + 90_000),
            3600,
            w,
            h,
            &mut pic,
            &mut Vec::new(),
        );
        let r = b[0].at(Time90k(T0 + 90_000)).unwrap();
        let (x0, y0, x1, y1) = r.pixels(w, h);
        assert!(x1 > x0 + 5 && y1 > y0 + 5);
        for y in 0..h {
            for x in 0..w {
                let inside = (x0..x1).contains(&x) && (y0..y1).contains(&y);
                if inside {
                    assert_eq!(pic[y * w + x], 128, "({x}, {y})");
                } else {
                    assert_eq!(pic[y * w + x], before[y * w + x], "({x}, {y})");
                }
            }
        }
        // Before the box begins nothing is painted.
        let mut untouched = before.clone();
        paint(
            &b,
            Time90k(T0 - 90_000),
            3600,
            w,
            h,
            &mut untouched,
            &mut Vec::new(),
        );
        assert_eq!(untouched, before);
    }
}
