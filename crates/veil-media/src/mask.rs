//! Privacy masks (P1, P2): the model, its checks, and the pixels a mask
//! covers.
//!
//! A mask is a simple polygon in normalised picture coordinates (0 to 1 on
//! both axes, origin top left), so it stays on the same part of the scene
//! whatever the resolution. `permanent` masks are applied before anything is
//! stored; `liftable` ones only to the `protected` rendition. Pure: no
//! decoding here.

use serde::{Deserialize, Serialize};

/// The most masks one camera has.
pub const MAX_MASKS: usize = 32;
/// The most points one polygon has.
pub const MAX_POINTS: usize = 64;
/// Name length, in characters (after trimming).
pub const NAME_CHARS: std::ops::RangeInclusive<usize> = 1..=100;
/// Reason length, in characters (after trimming).
pub const REASON_CHARS: std::ops::RangeInclusive<usize> = 10..=500;
/// The smallest polygon area, as a fraction of the picture: a degenerate
/// polygon (all points on a line) covers nothing and is refused.
pub const MIN_AREA: f64 = 1e-6;

/// Whether a mask can ever be lifted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskKind {
    /// Its pixels are never stored, in any rendition.
    Permanent,
    /// Applied to the `protected` rendition; the `original` keeps the
    /// pixels, opened only through the lift path.
    Liftable,
}

/// How the covered pixels are replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fill {
    /// One flat colour.
    Solid,
    /// Large blocks of the mean colour.
    Pixelate,
    /// A strong blur.
    Blur,
}

/// Where a mask applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskScope {
    /// Live view and recordings (the default; the only scope of a permanent
    /// mask).
    #[default]
    All,
    /// Only live view: watching is allowed, storing is not masked (liftable
    /// masks only).
    LiveOnly,
    /// Only recordings (liftable masks only).
    RecordingOnly,
}

/// One privacy mask.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mask {
    /// `permanent` or `liftable`.
    pub kind: MaskKind,
    /// `solid`, `pixelate` or `blur`.
    pub fill: Fill,
    /// What it hides, for people ("Neighbour's kitchen window").
    pub name: String,
    /// Why it is there.
    pub reason: String,
    /// At least 3 points `[x, y]`, each 0 to 1; a simple polygon (its edges
    /// do not cross).
    pub polygon: Vec<[f64; 2]>,
    /// Where it applies.
    #[serde(default)]
    pub scope: MaskScope,
}

/// Why a set of masks is refused: the field (e.g. `masks[2].polygon`) and
/// what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaskError {
    /// The JSON path of the offending field.
    pub field: String,
    /// What is wrong, for people.
    pub message: String,
}

impl std::fmt::Display for MaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for MaskError {}

fn err(field: String, message: impl Into<String>) -> MaskError {
    MaskError {
        field,
        message: message.into(),
    }
}

/// Twice the signed area of a polygon (shoelace).
fn doubled_area(p: &[[f64; 2]]) -> f64 {
    (0..p.len())
        .map(|i| {
            let (a, b) = (p[i], p[(i + 1) % p.len()]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum()
}

/// The orientation of the turn a → b → c: positive, negative or 0.
fn orient(a: [f64; 2], b: [f64; 2], c: [f64; 2]) -> f64 {
    (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
}

fn on_segment(a: [f64; 2], b: [f64; 2], p: [f64; 2]) -> bool {
    p[0] >= a[0].min(b[0])
        && p[0] <= a[0].max(b[0])
        && p[1] >= a[1].min(b[1])
        && p[1] <= a[1].max(b[1])
}

/// Whether the closed segments a–b and c–d share a point.
fn segments_meet(a: [f64; 2], b: [f64; 2], c: [f64; 2], d: [f64; 2]) -> bool {
    let (d1, d2) = (orient(c, d, a), orient(c, d, b));
    let (d3, d4) = (orient(a, b, c), orient(a, b, d));
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    {
        return true;
    }
    (d1 == 0.0 && on_segment(c, d, a))
        || (d2 == 0.0 && on_segment(c, d, b))
        || (d3 == 0.0 && on_segment(a, b, c))
        || (d4 == 0.0 && on_segment(a, b, d))
}

/// Whether a closed polygon's edges cross or touch anywhere but where
/// neighbouring edges share their corner.
pub fn self_intersects(p: &[[f64; 2]]) -> bool {
    let n = p.len();
    for i in 0..n {
        let (a, b) = (p[i], p[(i + 1) % n]);
        for j in i + 1..n {
            // Neighbours share a corner by construction.
            if j == i + 1 || (i == 0 && j == n - 1) {
                continue;
            }
            let (c, d) = (p[j], p[(j + 1) % n]);
            if segments_meet(a, b, c, d) {
                return true;
            }
        }
    }
    false
}

/// Checks a camera's masks and returns them with names and reasons
/// trimmed; the error names the first field that is wrong.
pub fn check(masks: &[Mask]) -> Result<Vec<Mask>, MaskError> {
    if masks.len() > MAX_MASKS {
        return Err(err(
            "masks".into(),
            format!("at most {MAX_MASKS} masks per camera, got {}", masks.len()),
        ));
    }
    let mut out = Vec::with_capacity(masks.len());
    for (i, m) in masks.iter().enumerate() {
        let field = |f: &str| format!("masks[{i}].{f}");
        let name = m.name.trim();
        if !NAME_CHARS.contains(&name.chars().count()) || name.chars().any(char::is_control) {
            return Err(err(
                field("name"),
                format!(
                    "must be {} to {} printable characters",
                    NAME_CHARS.start(),
                    NAME_CHARS.end()
                ),
            ));
        }
        let reason = m.reason.trim();
        if !REASON_CHARS.contains(&reason.chars().count()) || reason.chars().any(char::is_control) {
            return Err(err(
                field("reason"),
                format!(
                    "is required: {} to {} printable characters saying why",
                    REASON_CHARS.start(),
                    REASON_CHARS.end()
                ),
            ));
        }
        if m.kind == MaskKind::Permanent && m.scope != MaskScope::All {
            return Err(err(
                field("scope"),
                "a permanent mask applies to live view and recordings alike (scope \"all\")",
            ));
        }
        let p = &m.polygon;
        if p.len() < 3 || p.len() > MAX_POINTS {
            return Err(err(
                field("polygon"),
                format!("needs 3 to {MAX_POINTS} points, got {}", p.len()),
            ));
        }
        if let Some(k) = p
            .iter()
            .position(|q| !q.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)))
        {
            return Err(err(
                format!("masks[{i}].polygon[{k}]"),
                "coordinates are fractions of the picture, 0 to 1",
            ));
        }
        if doubled_area(p).abs() / 2.0 < MIN_AREA {
            return Err(err(
                field("polygon"),
                "covers no area (its points are on a line)",
            ));
        }
        if self_intersects(p) {
            return Err(err(
                field("polygon"),
                "its edges cross: draw a simple polygon (split it in two if needed)",
            ));
        }
        out.push(Mask {
            name: name.to_owned(),
            reason: reason.to_owned(),
            ..m.clone()
        });
    }
    Ok(out)
}

/// Whether the point (x, y) in normalised coordinates is inside the
/// polygon (even-odd rule).
pub fn contains(p: &[[f64; 2]], x: f64, y: f64) -> bool {
    let mut inside = false;
    let n = p.len();
    let mut j = n - 1;
    for i in 0..n {
        let (a, b) = (p[i], p[j]);
        if (a[1] > y) != (b[1] > y) && x < (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]) + a[0] {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// The pixels of a `width` × `height` picture a polygon covers (by pixel
/// centre), row by row: `true` where covered.
pub fn rasterise(p: &[[f64; 2]], width: usize, height: usize) -> Vec<bool> {
    let mut out = vec![false; width * height];
    for y in 0..height {
        let cy = (y as f64 + 0.5) / height as f64;
        for x in 0..width {
            let cx = (x as f64 + 0.5) / width as f64;
            out[y * width + x] = contains(p, cx, cy);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mask(polygon: Vec<[f64; 2]>) -> Mask {
        Mask {
            kind: MaskKind::Permanent,
            fill: Fill::Solid,
            name: "Neighbour's window".into(),
            reason: "a home in view (regulator's guidance)".into(),
            polygon,
            scope: MaskScope::All,
        }
    }

    const SQUARE: [[f64; 2]; 4] = [[0.1, 0.1], [0.4, 0.1], [0.4, 0.4], [0.1, 0.4]];

    #[test]
    fn good_masks_pass_trimmed() {
        let mut m = mask(SQUARE.to_vec());
        m.name = "  Window  ".into();
        let out = check(&[m]).unwrap();
        assert_eq!(out[0].name, "Window");
    }

    #[test]
    fn bad_masks_name_the_field() {
        let field = |m: Mask| check(&[mask(SQUARE.to_vec()), m]).unwrap_err().field;
        assert_eq!(
            field(mask(vec![[0.1, 0.1], [0.2, 0.2]])),
            "masks[1].polygon"
        );
        assert_eq!(
            field(mask(vec![[0.1, 0.1], [1.2, 0.2], [0.3, 0.5]])),
            "masks[1].polygon[1]"
        );
        assert_eq!(
            field(mask(vec![[0.1, 0.1], [f64::NAN, 0.2], [0.3, 0.5]])),
            "masks[1].polygon[1]"
        );
        // A bow tie crosses itself.
        assert_eq!(
            field(mask(vec![[0.1, 0.1], [0.4, 0.4], [0.4, 0.1], [0.1, 0.4]])),
            "masks[1].polygon"
        );
        // Collinear points cover nothing.
        assert_eq!(
            field(mask(vec![[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]])),
            "masks[1].polygon"
        );
        let mut m = mask(SQUARE.to_vec());
        m.reason = "short".into();
        assert_eq!(field(m), "masks[1].reason");
        let mut m = mask(SQUARE.to_vec());
        m.name = " ".into();
        assert_eq!(field(m), "masks[1].name");
        let mut m = mask(SQUARE.to_vec());
        m.scope = MaskScope::LiveOnly;
        assert_eq!(field(m.clone()), "masks[1].scope");
        m.kind = MaskKind::Liftable;
        assert!(check(&[m]).is_ok(), "a liftable mask may be live-only");
        let many = vec![mask(SQUARE.to_vec()); MAX_MASKS + 1];
        assert_eq!(check(&many).unwrap_err().field, "masks");
    }

    #[test]
    fn unknown_kinds_and_fills_do_not_parse() {
        let j = r#"{"kind": "temporary", "fill": "solid", "name": "a", "reason": "0123456789",
                    "polygon": [[0,0],[1,0],[1,1]]}"#;
        let e = serde_json::from_str::<Mask>(j).unwrap_err().to_string();
        assert!(e.contains("temporary"), "{e}");
        let j = j
            .replace("temporary", "permanent")
            .replace("solid", "smudge");
        let e = serde_json::from_str::<Mask>(&j).unwrap_err().to_string();
        assert!(e.contains("smudge"), "{e}");
    }

    #[test]
    fn a_rectangle_covers_its_pixels_by_centre() {
        // 0.25..0.75 of an 8 x 4 picture: columns 2..6, rows 1..3.
        let p = [[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]];
        let r = rasterise(&p, 8, 4);
        for y in 0..4 {
            for x in 0..8 {
                let want = (2..6).contains(&x) && (1..3).contains(&y);
                assert_eq!(r[y * 8 + x], want, "({x}, {y})");
            }
        }
    }

    proptest! {
        /// Convex polygons (points on a circle, in order) never self-intersect
        /// and cover about their area.
        #[test]
        fn convex_polygons_are_simple_and_cover_their_area(
            n in 3usize..12, cx in 0.3f64..0.7, cy in 0.3f64..0.7, r in 0.05f64..0.25,
        ) {
            let p: Vec<[f64; 2]> = (0..n)
                .map(|k| {
                    let a = k as f64 / n as f64 * std::f64::consts::TAU;
                    [cx + r * a.cos(), cy + r * a.sin()]
                })
                .collect();
            prop_assert!(!self_intersects(&p));
            prop_assert!(check(&[mask(p.clone())]).is_ok());
            let (w, h) = (200, 200);
            let covered = rasterise(&p, w, h).iter().filter(|b| **b).count() as f64;
            let area = doubled_area(&p).abs() / 2.0 * (w * h) as f64;
            prop_assert!((covered - area).abs() <= 0.05 * area + 2.0 * (w as f64) * r,
                "covered {covered}, area {area}");
        }
    }
}
