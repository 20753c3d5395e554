//! The masking pipeline (P1, P2): decode a camera's H.264, paint its privacy
//! masks on the YUV planes, and encode each output again at the camera's
//! own resolution, bitrate and GOP length.
//!
//! One [`MaskPipeline`] per camera and mask version. Frames go in as the
//! camera sends them (decode order, AVC form, with presentation times) and
//! come out in presentation order, one [`MaskedFrame`] per picture, each
//! carrying up to three encodings of the same picture:
//! - `protected`: every mask of recording scope: what is stored for
//!   everyone;
//! - `original`: only the permanent masks, when some liftable mask of
//!   recording scope exists (stored under the lift path's keys);
//! - `live`: the masks of live scope, only when they differ from
//!   `protected` (otherwise live view shows `protected`).
//!
//! The unmasked picture exists only in the decoder's memory and, for the
//! time it takes to paint a mask, in a working buffer zeroed on drop.
//! Presentation times are kept: the decoder returns pictures in display
//! order, so each takes the smallest time not yet handed out (a time left
//! behind by a picture the decoder dropped is skipped once more frames are
//! waiting than H.264 can reorder). A keyframe that comes in is a keyframe
//! that goes out (the GOP length is the camera's).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openh264::decoder::{DecodedYUV, Decoder, DecoderConfig, Flush};
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, IntraFramePeriod, RateControlMode,
    UsageType,
};
use openh264::formats::{YUVSlices, YUVSource};
use openh264::{OpenH264API, Timestamp};
use zeroize::Zeroize;

use crate::h264::{annexb_to_avc, avc_to_annexb, VideoParams};
use crate::mask::{Fill, Mask, MaskKind, MaskScope};
use crate::Error;

/// Frames waiting for their picture beyond which the oldest is taken as
/// lost: the 16 frames of H.264's largest decoded picture buffer, plus the
/// one being decoded.
const MAX_PENDING: usize = 17;

/// The luma and chroma value of a `solid` fill: neutral mid grey.
pub const SOLID_FILL: [u8; 3] = [128, 128, 128];

/// The sets of masks a camera's outputs get.
#[derive(Clone, Debug, PartialEq)]
pub struct MaskPlan {
    /// Masks of the stored `protected` rendition (permanent ones first).
    pub protected: Vec<Mask>,
    /// Masks of the stored `original` rendition (permanent only), when it
    /// differs from `protected`.
    pub original: Option<Vec<Mask>>,
    /// Masks of live view, when they differ from `protected`.
    pub live: Option<Vec<Mask>>,
}

impl MaskPlan {
    /// Which masks go where. Permanent masks apply everywhere; a liftable
    /// mask applies to `protected` unless it is live-only, and to live view
    /// unless it is recording-only.
    pub fn new(masks: &[Mask]) -> MaskPlan {
        let permanent: Vec<Mask> = masks
            .iter()
            .filter(|m| m.kind == MaskKind::Permanent)
            .cloned()
            .collect();
        let liftable = |scope_ok: fn(MaskScope) -> bool| -> Vec<Mask> {
            permanent
                .iter()
                .cloned()
                .chain(
                    masks
                        .iter()
                        .filter(|m| m.kind == MaskKind::Liftable && scope_ok(m.scope))
                        .cloned(),
                )
                .collect()
        };
        let protected = liftable(|s| s != MaskScope::LiveOnly);
        let live = liftable(|s| s != MaskScope::RecordingOnly);
        MaskPlan {
            original: (permanent.len() != protected.len()).then_some(permanent),
            live: (live != protected).then_some(live),
            protected,
        }
    }

    /// Whether there is anything to paint at all (a camera without masks is
    /// passed through, never decoded).
    pub fn is_empty(&self) -> bool {
        self.protected.is_empty() && self.live.as_ref().is_none_or(|l| l.is_empty())
    }
}

/// Encoder settings taken from the camera's own stream.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EncodeSettings {
    /// Target bitrate, bits per second.
    pub bitrate_bps: u32,
    /// Frame rate.
    pub fps: f32,
}

impl EncodeSettings {
    /// A first guess before the camera's rate is measured: about 0.1 bit
    /// per pixel per frame at 25 fps (5 Mbit/s at 1080p).
    pub fn guess(width: u16, height: u16) -> EncodeSettings {
        let bps = (u64::from(width) * u64::from(height) * 25 / 10).clamp(200_000, 20_000_000);
        EncodeSettings {
            bitrate_bps: bps as u32,
            fps: 25.0,
        }
    }

    /// Whether `other` is far enough from these settings to be worth a new
    /// encoder at the next keyframe (a quarter off in bitrate, or another
    /// frame rate).
    fn differs(&self, other: &EncodeSettings) -> bool {
        let (a, b) = (f64::from(self.bitrate_bps), f64::from(other.bitrate_bps));
        (a - b).abs() > 0.25 * a.max(b) || (self.fps - other.fps).abs() > 0.5
    }
}

/// One encoded picture.
#[derive(Clone, Debug)]
pub struct EncodedPicture {
    /// The encoder's parameter sets.
    pub params: Arc<VideoParams>,
    /// 4-byte length-prefixed NAL units (no SPS/PPS).
    pub data: Vec<u8>,
}

/// One picture out of the pipeline, in every output it has.
#[derive(Clone, Debug)]
pub struct MaskedFrame {
    /// Its presentation time, as it came in.
    pub pts: i64,
    /// Whether it is a keyframe (it was one in the camera's stream).
    pub is_key: bool,
    /// All recording masks applied.
    pub protected: EncodedPicture,
    /// Only permanent masks applied (see [`MaskPlan::original`]).
    pub original: Option<EncodedPicture>,
    /// Live masks applied (see [`MaskPlan::live`]).
    pub live: Option<EncodedPicture>,
}

/// Where the pipeline's time went, cumulative.
#[derive(Clone, Copy, Debug, Default)]
pub struct StageTimes {
    /// Decoding (and draining) the camera's stream.
    pub decode: Duration,
    /// Copying pictures and painting masks.
    pub mask: Duration,
    /// Encoding every output.
    pub encode: Duration,
    /// Pictures out.
    pub frames: u64,
    /// Pictures the decoder never returned (their times were skipped).
    pub lost: u64,
}

/// The runs of covered pixels of one mask at one resolution, per plane.
struct Raster {
    fill: Fill,
    /// `(row, first column, last column + 1)` of the luma plane.
    luma: Vec<(usize, usize, usize)>,
    /// The same for both chroma planes: a chroma sample is covered when any
    /// of its four luma samples is.
    chroma: Vec<(usize, usize, usize)>,
}

/// The covered runs of a polygon on a `w` × `h` grid, by pixel centre (the
/// even-odd rule, as [`crate::mask::rasterise`]).
pub fn spans(polygon: &[[f64; 2]], w: usize, h: usize) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    let mut xs = Vec::new();
    for y in 0..h {
        let cy = (y as f64 + 0.5) / h as f64;
        xs.clear();
        let n = polygon.len();
        for i in 0..n {
            let (a, b) = (polygon[i], polygon[(i + n - 1) % n]);
            if (a[1] > cy) != (b[1] > cy) {
                xs.push((b[0] - a[0]) * (cy - a[1]) / (b[1] - a[1]) + a[0]);
            }
        }
        xs.sort_by(f64::total_cmp);
        for pair in xs.chunks_exact(2) {
            // Pixel x is covered when a < (x + 0.5) / w < b... with the
            // boundary rule of `contains`: a <= centre < b.
            let first = (pair[0] * w as f64 - 0.5).ceil().max(0.0) as usize;
            let end = ((pair[1] * w as f64 - 0.5).ceil().max(0.0) as usize).min(w);
            if first < end {
                out.push((y, first, end));
            }
        }
    }
    out
}

impl Raster {
    fn new(mask: &Mask, w: usize, h: usize) -> Raster {
        Raster::from_polygon(&mask.polygon, mask.fill, w, h)
    }

    fn from_polygon(polygon: &[[f64; 2]], fill: Fill, w: usize, h: usize) -> Raster {
        let luma = spans(polygon, w, h);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let mut rows: Vec<Vec<(usize, usize)>> = vec![Vec::new(); ch];
        for &(y, a, b) in &luma {
            rows[y / 2].push((a / 2, b.div_ceil(2).min(cw)));
        }
        let mut chroma = Vec::new();
        for (y, mut runs) in rows.into_iter().enumerate() {
            runs.sort_unstable();
            let mut cur: Option<(usize, usize)> = None;
            for (a, b) in runs {
                cur = match cur {
                    Some((ca, cb)) if a <= cb => Some((ca, cb.max(b))),
                    Some((ca, cb)) => {
                        chroma.push((y, ca, cb));
                        Some((a, b))
                    }
                    None => Some((a, b)),
                };
            }
            if let Some((a, b)) = cur {
                chroma.push((y, a, b));
            }
        }
        Raster { fill, luma, chroma }
    }

    fn paint(&self, planes: &mut Planes<'_>, scratch: &mut Vec<u32>) {
        let (w, h) = (planes.w, planes.h);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        // Blocks of about a 48th of the width: nothing smaller than a face
        // survives at 1080p.
        let block = (w / 48).max(8);
        paint_plane(
            planes.y,
            w,
            h,
            &self.luma,
            self.fill,
            SOLID_FILL[0],
            block,
            scratch,
        );
        paint_plane(
            planes.u,
            cw,
            ch,
            &self.chroma,
            self.fill,
            SOLID_FILL[1],
            block / 2,
            scratch,
        );
        paint_plane(
            planes.v,
            cw,
            ch,
            &self.chroma,
            self.fill,
            SOLID_FILL[2],
            block / 2,
            scratch,
        );
    }
}

/// Paints `polygon` (normalised coordinates) with `fill` on a packed I420
/// picture of `w` × `h`, exactly as a mask is painted (the same spans,
/// chroma rule and fills); `scratch` is reused between calls.
pub fn paint_polygon(
    picture: &mut [u8],
    w: usize,
    h: usize,
    polygon: &[[f64; 2]],
    fill: Fill,
    scratch: &mut Vec<u32>,
) {
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    if picture.len() < w * h + 2 * cw * ch {
        return;
    }
    let raster = Raster::from_polygon(polygon, fill, w, h);
    let (y, uv) = picture.split_at_mut(w * h);
    let (u, v) = uv.split_at_mut(cw * ch);
    raster.paint(&mut Planes { w, h, y, u, v }, scratch);
}

/// What [`MaskPipeline::with_overlay`] paints on each picture after its
/// masks: called with the picture's presentation time, width, height and
/// packed I420 planes.
pub type Overlay = Box<dyn FnMut(i64, usize, usize, &mut [u8]) + Send>;

/// The planes of one picture, tightly packed.
struct Planes<'a> {
    w: usize,
    h: usize,
    y: &'a mut [u8],
    u: &'a mut [u8],
    v: &'a mut [u8],
}

/// Means of the `block` × `block` cells (from the top left) that the runs
/// touch, as a grid over the runs' bounding box: `(first cell column, first
/// cell row, columns, means)`.
fn block_means(
    plane: &[u8],
    w: usize,
    h: usize,
    runs: &[(usize, usize, usize)],
    block: usize,
    scratch: &mut Vec<u32>,
) -> (usize, usize, usize, Vec<u8>) {
    let (mut x0, mut x1) = (usize::MAX, 0);
    for &(_, a, b) in runs {
        x0 = x0.min(a);
        x1 = x1.max(b);
    }
    let (y0, y1) = (runs[0].0, runs[runs.len() - 1].0 + 1);
    // One cell of margin on every side, so blurring can interpolate.
    let (bx0, by0) = (
        (x0 / block).saturating_sub(1),
        (y0 / block).saturating_sub(1),
    );
    let bx1 = ((x1 - 1) / block + 2).min(w.div_ceil(block));
    let by1 = ((y1 - 1) / block + 2).min(h.div_ceil(block));
    let cols = bx1 - bx0;
    let cells = cols * (by1 - by0);
    scratch.clear();
    scratch.resize(cells * 2, 0);
    for y in by0 * block..(by1 * block).min(h) {
        let row = &plane[y * w..y * w + w];
        let cy = y / block - by0;
        for cx in 0..cols {
            let xa = (bx0 + cx) * block;
            let xb = (xa + block).min(w);
            let s: u32 = row[xa..xb].iter().map(|&p| u32::from(p)).sum();
            scratch[(cy * cols + cx) * 2] += s;
            scratch[(cy * cols + cx) * 2 + 1] += (xb - xa) as u32;
        }
    }
    let means = scratch
        .chunks_exact(2)
        .map(|c| (c[0] / c[1].max(1)) as u8)
        .collect();
    (bx0, by0, cols, means)
}

#[allow(clippy::too_many_arguments)]
fn paint_plane(
    plane: &mut [u8],
    w: usize,
    h: usize,
    runs: &[(usize, usize, usize)],
    fill: Fill,
    solid: u8,
    block: usize,
    scratch: &mut Vec<u32>,
) {
    if runs.is_empty() {
        return;
    }
    let block = block.max(2);
    match fill {
        Fill::Solid => {
            for &(y, a, b) in runs {
                plane[y * w + a..y * w + b].fill(solid);
            }
        }
        Fill::Pixelate => {
            let (bx0, by0, cols, means) = block_means(plane, w, h, runs, block, scratch);
            for &(y, a, b) in runs {
                let cy = y / block - by0;
                for x in a..b {
                    plane[y * w + x] = means[cy * cols + x / block - bx0];
                }
            }
        }
        Fill::Blur => {
            // Block means, then bilinear between block centres: a smooth
            // picture with nothing finer than a block left in it.
            let (bx0, by0, cols, means) = block_means(plane, w, h, runs, block, scratch);
            let rows = means.len() / cols;
            let at = |cx: isize, cy: isize| -> i32 {
                let cx = cx.clamp(0, cols as isize - 1) as usize;
                let cy = cy.clamp(0, rows as isize - 1) as usize;
                i32::from(means[cy * cols + cx])
            };
            let half = block as isize / 2;
            for &(y, a, b) in runs {
                let fy = y as isize - (by0 * block) as isize - half;
                let (cy, wy) = (fy.div_euclid(block as isize), fy.rem_euclid(block as isize));
                for x in a..b {
                    let fx = x as isize - (bx0 * block) as isize - half;
                    let (cx, wx) = (fx.div_euclid(block as isize), fx.rem_euclid(block as isize));
                    let (wx, wy, bs) = (wx as i32, wy as i32, block as i32);
                    let top = at(cx, cy) * (bs - wx) + at(cx + 1, cy) * wx;
                    let bottom = at(cx, cy + 1) * (bs - wx) + at(cx + 1, cy + 1) * wx;
                    let v = (top * (bs - wy) + bottom * wy) / (bs * bs);
                    plane[y * w + x] = v.clamp(0, 255) as u8;
                }
            }
        }
    }
}

/// A decoded picture as a decoder lends it: I420 planes with strides.
pub struct DecodedPlanes<'a> {
    /// Width and height in pixels (displayed size).
    pub size: (usize, usize),
    /// Luma, chroma blue, chroma red.
    pub planes: [&'a [u8]; 3],
    /// Bytes per row of each plane.
    pub strides: [usize; 3],
    /// The presentation time given with its access unit to
    /// [`PictureDecoder::decode_at`], when the decoder carries times
    /// through; `None` when it does not (the pipeline then takes the
    /// smallest time not yet handed out).
    pub pts: Option<i64>,
}

/// What decodes a camera's stream for the pipeline. Pictures come out in
/// display order; each is handed to `emit` while the decoder still owns it.
pub trait PictureDecoder: Send {
    /// Decodes one access unit (Annex B; parameter sets in front of
    /// keyframes).
    fn decode(
        &mut self,
        annexb: &[u8],
        emit: &mut dyn FnMut(DecodedPlanes<'_>),
    ) -> Result<(), Error>;
    /// Hands out the pictures still held back for reordering.
    fn flush(&mut self, emit: &mut dyn FnMut(DecodedPlanes<'_>)) -> Result<(), Error>;
    /// [`PictureDecoder::decode`] with the access unit's presentation time,
    /// for a decoder that can carry it to the picture (`DecodedPlanes::pts`).
    fn decode_at(
        &mut self,
        annexb: &[u8],
        _pts: i64,
        emit: &mut dyn FnMut(DecodedPlanes<'_>),
    ) -> Result<(), Error> {
        self.decode(annexb, emit)
    }
}

/// The default decoder: OpenH264, built from source with the crate.
pub struct OpenH264Decoder(Decoder);

impl OpenH264Decoder {
    /// A decoder that holds pictures back for B-frame reordering (the
    /// crate's default flushes after every frame and loses B-frames).
    pub fn new() -> Result<OpenH264Decoder, Error> {
        Decoder::with_api_config(
            OpenH264API::from_source(),
            DecoderConfig::new().flush_after_decode(Flush::NoFlush),
        )
        .map(OpenH264Decoder)
        .map_err(codec_err("OpenH264 decoder"))
    }
}

fn lend(yuv: &DecodedYUV<'_>, emit: &mut dyn FnMut(DecodedPlanes<'_>)) {
    let (sy, su, sv) = yuv.strides();
    emit(DecodedPlanes {
        size: yuv.dimensions(),
        planes: [yuv.y(), yuv.u(), yuv.v()],
        strides: [sy, su, sv],
        pts: None,
    });
}

impl PictureDecoder for OpenH264Decoder {
    fn decode(
        &mut self,
        annexb: &[u8],
        emit: &mut dyn FnMut(DecodedPlanes<'_>),
    ) -> Result<(), Error> {
        if let Some(yuv) = self
            .0
            .decode(annexb)
            .map_err(codec_err("cannot decode the camera's video"))?
        {
            lend(&yuv, emit);
        }
        Ok(())
    }

    fn flush(&mut self, emit: &mut dyn FnMut(DecodedPlanes<'_>)) -> Result<(), Error> {
        for yuv in &self
            .0
            .flush_remaining()
            .map_err(codec_err("cannot decode the camera's video"))?
        {
            lend(yuv, emit);
        }
        // OpenH264 does not go on decoding a B-frame stream after a drain
        // (it reports running out of memory): the next sequence gets a fresh
        // decoder, as after a reconnect.
        *self = OpenH264Decoder::new()?;
        Ok(())
    }
}

/// The decoders this build has, by name: `openh264` always, `libav` with
/// the cargo feature of that name.
pub const DECODERS: &[&str] = &[
    #[cfg(feature = "libav")]
    "libav",
    "openh264",
];

/// A decoder by its name in [`DECODERS`].
pub fn decoder(name: &str) -> Result<Box<dyn PictureDecoder>, Error> {
    match name {
        "openh264" => Ok(Box::new(OpenH264Decoder::new()?)),
        #[cfg(feature = "libav")]
        "libav" => Ok(Box::new(crate::libav::LibavDecoder::new()?)),
        other => Err(Error::Unsupported(format!(
            "no decoder {other:?} in this build (it has {})",
            DECODERS.join(", ")
        ))),
    }
}

/// The name of the decoder [`MaskPipeline::new`] uses: libavcodec's when
/// the build has it (feature `libav`), OpenH264's otherwise.
pub fn default_decoder_name() -> &'static str {
    DECODERS[0]
}

/// The decoder [`MaskPipeline::new`] uses (see [`default_decoder_name`]).
pub fn default_decoder() -> Result<Box<dyn PictureDecoder>, Error> {
    decoder(default_decoder_name())
}

/// One output: its masks, their rasters at the current size, its encoder.
struct Output {
    masks: Vec<Mask>,
    rasters: Vec<Raster>,
    encoder: Option<Encoder>,
    params: Option<Arc<VideoParams>>,
}

impl Output {
    fn new(masks: Vec<Mask>) -> Output {
        Output {
            masks,
            rasters: Vec::new(),
            encoder: None,
            params: None,
        }
    }
}

/// A picture out of the decoder: its size and, when the decoder carries
/// it, its presentation time.
type Ready = ((usize, usize), Option<i64>);

/// The pipeline of one camera and mask version.
pub struct MaskPipeline {
    decoder: Box<dyn PictureDecoder>,
    /// Pictures out of the decoder waiting to be masked, and spare buffers.
    ready: Vec<(Ready, Vec<u8>)>,
    spare: Vec<Vec<u8>>,
    /// `protected`, then `original` and `live` when the plan has them.
    outputs: Vec<Output>,
    has_original: bool,
    has_live: bool,
    /// Presentation times waiting for their picture, with their key flags.
    pending: BTreeMap<i64, bool>,
    settings: EncodeSettings,
    wanted: EncodeSettings,
    size: Option<(usize, usize)>,
    /// The sequence parameter set of the stream so far.
    sps: Option<Vec<u8>>,
    annexb: Vec<u8>,
    /// The decoded picture, painted in place when there is one output;
    /// zeroed on drop.
    work: Vec<u8>,
    /// A copy of it per output when there are several; zeroed on drop.
    canvas: Vec<u8>,
    scratch: Vec<u32>,
    times: StageTimes,
    /// Painted after the masks, by presentation time (export redaction).
    overlay: Option<Overlay>,
}

impl Drop for MaskPipeline {
    fn drop(&mut self) {
        self.work.zeroize();
        self.canvas.zeroize();
        for b in self
            .ready
            .iter_mut()
            .map(|r| &mut r.1)
            .chain(&mut self.spare)
        {
            b.zeroize();
        }
    }
}

fn encoder_config(s: &EncodeSettings) -> EncoderConfig {
    EncoderConfig::new()
        .bitrate(BitRate::from_bps(s.bitrate_bps))
        .max_frame_rate(FrameRate::from_hz(s.fps))
        .rate_control_mode(RateControlMode::Bitrate)
        .skip_frames(false)
        .scene_change_detect(false)
        // Speed over a few per cent of bitrate: one core per 1080p camera.
        .complexity(Complexity::Low)
        .adaptive_quantization(false)
        .background_detection(false)
        // Keyframes only where the camera put them.
        .intra_frame_period(IntraFramePeriod::from_num_frames(0))
        .usage_type(UsageType::CameraVideoRealTime)
        .num_threads(1)
}

fn codec_err(what: &str) -> impl Fn(openh264::Error) -> Error + '_ {
    move |e| Error::Codec(format!("{what}: {e}"))
}

impl MaskPipeline {
    /// A pipeline for `plan` with the default decoder, encoding with
    /// `settings` until told otherwise.
    pub fn new(plan: &MaskPlan, settings: EncodeSettings) -> Result<MaskPipeline, Error> {
        Ok(MaskPipeline::with_decoder(
            plan,
            settings,
            default_decoder()?,
        ))
    }

    /// A pipeline for `plan` decoding with `decoder`.
    pub fn with_decoder(
        plan: &MaskPlan,
        settings: EncodeSettings,
        decoder: Box<dyn PictureDecoder>,
    ) -> MaskPipeline {
        let mut outputs = vec![Output::new(plan.protected.clone())];
        if let Some(o) = &plan.original {
            outputs.push(Output::new(o.clone()));
        }
        if let Some(l) = &plan.live {
            outputs.push(Output::new(l.clone()));
        }
        MaskPipeline {
            decoder,
            ready: Vec::new(),
            spare: Vec::new(),
            outputs,
            has_original: plan.original.is_some(),
            has_live: plan.live.is_some(),
            pending: BTreeMap::new(),
            settings,
            wanted: settings,
            size: None,
            sps: None,
            annexb: Vec::new(),
            work: Vec::new(),
            canvas: Vec::new(),
            scratch: Vec::new(),
            times: StageTimes::default(),
            overlay: None,
        }
    }

    /// The same pipeline, painting `overlay` on every output's picture
    /// after its masks (boxes that move with time, for export redaction).
    pub fn with_overlay(mut self, overlay: Overlay) -> MaskPipeline {
        self.overlay = Some(overlay);
        self
    }

    /// New encoder settings (the camera's measured rate), taken at the next
    /// keyframe when they differ enough to matter.
    pub fn retune(&mut self, settings: EncodeSettings) {
        self.wanted = settings;
    }

    /// The settings the encoders use now.
    pub fn settings(&self) -> EncodeSettings {
        self.settings
    }

    /// Where the time went so far.
    pub fn times(&self) -> StageTimes {
        self.times
    }

    /// Feeds one access unit (AVC, 4-byte length prefixes, as recorded) in
    /// decode order with its presentation time; returns the pictures that
    /// became ready, in presentation order. An error means the stream cannot
    /// be decoded: nothing of it was returned unmasked, and the caller should
    /// treat the camera as failed (reconnect).
    pub fn push(
        &mut self,
        params: &VideoParams,
        pts: i64,
        is_key: bool,
        frame: &[u8],
    ) -> Result<Vec<MaskedFrame>, Error> {
        let mut out = Vec::new();
        if is_key && self.sps.as_ref().is_some_and(|s| *s != params.sps) {
            // A new sequence: the pictures of the old one first (a decoder
            // would drop them at the new size).
            self.drain(&mut out)?;
        }
        if is_key {
            self.sps = Some(params.sps.clone());
        }
        self.annexb.clear();
        avc_to_annexb(is_key.then_some(params), frame, &mut self.annexb)?;
        if self.pending.insert(pts, is_key).is_some() {
            return Err(Error::Malformed(format!(
                "two frames with the same presentation time {pts}"
            )));
        }
        // A picture the decoder dropped leaves its time behind: past the
        // deepest reordering H.264 allows, the oldest time is skipped rather
        // than given to a later picture.
        while self.pending.len() > MAX_PENDING {
            self.pending.pop_first();
            self.times.lost += 1;
        }
        let started = Instant::now();
        let Self {
            decoder,
            annexb,
            ready,
            spare,
            ..
        } = self;
        decoder.decode_at(annexb, pts, &mut |p| {
            let mut buf = spare.pop().unwrap_or_default();
            copy_picture(&p, &mut buf);
            ready.push(((p.size, p.pts), buf));
        })?;
        self.times.decode += started.elapsed();
        self.mask_ready(&mut out)?;
        Ok(out)
    }

    /// Masks and encodes the pictures the decoder handed out.
    fn mask_ready(&mut self, out: &mut Vec<MaskedFrame>) -> Result<(), Error> {
        let mut ready = std::mem::take(&mut self.ready).into_iter();
        while let Some((at, mut buf)) = ready.next() {
            std::mem::swap(&mut self.work, &mut buf);
            let r = self.picture(at, out);
            std::mem::swap(&mut self.work, &mut buf);
            self.spare.push(buf);
            if let Err(e) = r {
                // The pictures not masked yet are not kept.
                for (_, mut b) in ready {
                    b.zeroize();
                }
                self.work.zeroize();
                return Err(e);
            }
        }
        Ok(())
    }

    /// Drains the decoder at the end of a stream: the pictures it still holds.
    pub fn finish(&mut self) -> Result<Vec<MaskedFrame>, Error> {
        let mut out = Vec::new();
        self.drain(&mut out)?;
        Ok(out)
    }

    fn drain(&mut self, out: &mut Vec<MaskedFrame>) -> Result<(), Error> {
        let started = Instant::now();
        let Self {
            decoder,
            ready,
            spare,
            ..
        } = self;
        decoder.flush(&mut |p| {
            let mut buf = spare.pop().unwrap_or_default();
            copy_picture(&p, &mut buf);
            ready.push(((p.size, p.pts), buf));
        })?;
        self.times.decode += started.elapsed();
        self.mask_ready(out)?;
        // Times whose pictures never came: skipped, never shifted onto others.
        self.times.lost += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Masks and encodes the picture in `self.work` (`size` = its width and
    /// height) for every output.
    fn picture(&mut self, (size, carried): Ready, out: &mut Vec<MaskedFrame>) -> Result<(), Error> {
        if let Some(t) = carried.filter(|t| self.pending.contains_key(t)) {
            // The decoder says which frame this is: times before it whose
            // pictures never came are skipped.
            while self.pending.first_key_value().is_some_and(|(&p, _)| p < t) {
                self.pending.pop_first();
                self.times.lost += 1;
            }
        } else if self.size != Some(size) {
            // A picture of a new size is the keyframe that starts it (the
            // decoder drops pictures it still held at the old size): the
            // times before that keyframe's have no picture.
            while self.pending.first_key_value().is_some_and(|(_, &key)| !key)
                && self.pending.values().any(|&key| key)
            {
                self.pending.pop_first();
                self.times.lost += 1;
            }
        }
        let Some((pts, is_key)) = self.pending.pop_first() else {
            // A picture with no frame to its name: the stream is broken.
            return Err(Error::Malformed(
                "the decoder returned more pictures than frames went in".into(),
            ));
        };
        let (w, h) = size;
        if is_key && self.settings.differs(&self.wanted) {
            // New encoders from this keyframe on, at the camera's measured rate.
            self.settings = self.wanted;
            for o in &mut self.outputs {
                o.encoder = None;
            }
        }
        if self.size != Some(size) {
            // A new size (first picture, or the SPS changed): new rasters and
            // encoders; the picture must be a keyframe.
            self.size = Some(size);
            for o in &mut self.outputs {
                o.rasters = o.masks.iter().map(|m| Raster::new(m, w, h)).collect();
                o.encoder = None;
            }
        }
        let mut pictures: Vec<EncodedPicture> = Vec::with_capacity(self.outputs.len());
        // One output paints the decoded picture in place; several paint
        // copies of it (`canvas`), so each starts from the camera's picture.
        let several = self.outputs.len() > 1;
        let mut canvas = std::mem::take(&mut self.canvas);
        for o in &mut self.outputs {
            let started = Instant::now();
            let target = if several {
                canvas.clear();
                canvas.extend_from_slice(&self.work);
                &mut canvas
            } else {
                &mut self.work
            };
            {
                let (y, uv) = target.split_at_mut(w * h);
                let c = w.div_ceil(2) * h.div_ceil(2);
                let (u, v) = uv.split_at_mut(c);
                let mut planes = Planes { w, h, y, u, v };
                for r in &o.rasters {
                    r.paint(&mut planes, &mut self.scratch);
                }
            }
            if let Some(paint) = self.overlay.as_mut() {
                paint(pts, w, h, target);
            }
            self.times.mask += started.elapsed();
            let started = Instant::now();
            pictures.push(encode(o, &self.settings, target, w, h, pts, is_key)?);
            self.times.encode += started.elapsed();
        }
        self.canvas = canvas;
        if several {
            // The camera's own picture is not kept between frames.
            self.work.zeroize();
        }
        self.times.frames += 1;
        let mut pictures = pictures.into_iter();
        let protected = pictures.next().expect("protected is always encoded");
        let original = if self.has_original {
            pictures.next()
        } else {
            None
        };
        let live = if self.has_live { pictures.next() } else { None };
        out.push(MaskedFrame {
            pts,
            is_key,
            protected,
            original,
            live,
        });
        Ok(())
    }
}

/// Copies a decoded picture into `buf` as packed I420.
fn copy_picture(p: &DecodedPlanes<'_>, buf: &mut Vec<u8>) {
    let (w, h) = p.size;
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    buf.clear();
    buf.reserve(w * h + 2 * cw * ch);
    for (i, (pw, ph)) in [(w, h), (cw, ch), (cw, ch)].into_iter().enumerate() {
        let (plane, stride) = (p.planes[i], p.strides[i]);
        for r in 0..ph {
            buf.extend_from_slice(&plane[r * stride..r * stride + pw]);
        }
    }
}

fn encode(
    o: &mut Output,
    settings: &EncodeSettings,
    canvas: &[u8],
    w: usize,
    h: usize,
    pts: i64,
    is_key: bool,
) -> Result<EncodedPicture, Error> {
    let fresh = o.encoder.is_none();
    if fresh {
        if !is_key {
            return Err(Error::Malformed(
                "a picture before the stream's first keyframe".into(),
            ));
        }
        o.encoder = Some(
            Encoder::with_api_config(OpenH264API::from_source(), encoder_config(settings))
                .map_err(codec_err("OpenH264 encoder"))?,
        );
    }
    let encoder = o.encoder.as_mut().expect("created above");
    if is_key && !fresh {
        encoder.force_intra_frame();
    }
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let (y, uv) = canvas.split_at(w * h);
    let (u, v) = uv.split_at(cw * ch);
    let src = YUVSlices::new((y, u, v), (w, h), (w, cw, cw));
    let ts = Timestamp::from_millis(pts.max(0) as u64 / 90);
    let bytes = encoder
        .encode_at(&src, ts)
        .map_err(codec_err("OpenH264 encoder"))?
        .to_vec();
    let frame =
        annexb_to_avc(&bytes).map_err(|e| Error::Codec(format!("unusable encoder output: {e}")))?;
    if frame.is_key != is_key {
        return Err(Error::Codec(format!(
            "the encoder made is_key={} where the camera's stream has is_key={is_key}",
            frame.is_key
        )));
    }
    if let (Some(sps), Some(pps)) = (&frame.sps, &frame.pps) {
        if o.params
            .as_ref()
            .is_none_or(|p| p.sps != *sps || p.pps != *pps)
        {
            o.params = Some(Arc::new(VideoParams::from_sps_pps(sps, pps)?));
        }
    }
    let params = o
        .params
        .clone()
        .ok_or_else(|| Error::Codec("the encoder's first picture carries no SPS/PPS".into()))?;
    Ok(EncodedPicture {
        params,
        data: frame.data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::rasterise;
    use crate::synthetic::{SyntheticCamera, SyntheticConfig};
    use proptest::prelude::*;

    fn mask(kind: MaskKind, fill: Fill, scope: MaskScope, polygon: &[[f64; 2]]) -> Mask {
        Mask {
            kind,
            fill,
            name: "Window".into(),
            reason: "a neighbour's window in view".into(),
            polygon: polygon.to_vec(),
            scope,
        }
    }

    const SQUARE: [[f64; 2]; 4] = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.6], [0.1, 0.6]];
    const TRIANGLE: [[f64; 2]; 3] = [[0.6, 0.2], [0.95, 0.3], [0.7, 0.9]];

    #[test]
    fn plans_put_masks_where_their_kind_and_scope_say() {
        use MaskKind::*;
        use MaskScope::*;
        let p = mask(Permanent, Fill::Solid, All, &SQUARE);
        let all = mask(Liftable, Fill::Blur, All, &TRIANGLE);
        let live_only = mask(Liftable, Fill::Blur, LiveOnly, &TRIANGLE);
        let rec_only = mask(Liftable, Fill::Blur, RecordingOnly, &TRIANGLE);

        let only_permanent = MaskPlan::new(std::slice::from_ref(&p));
        assert_eq!(only_permanent.protected, std::slice::from_ref(&p));
        assert!(only_permanent.original.is_none() && only_permanent.live.is_none());

        let lift = MaskPlan::new(&[all.clone(), p.clone()]);
        assert_eq!(lift.protected, [p.clone(), all.clone()], "permanent first");
        assert_eq!(lift.original.as_deref(), Some(&[p.clone()][..]));
        assert!(lift.live.is_none());

        let watch_only = MaskPlan::new(std::slice::from_ref(&live_only));
        assert!(watch_only.protected.is_empty() && watch_only.original.is_none());
        assert_eq!(watch_only.live.as_deref(), Some(&[live_only][..]));
        assert!(!watch_only.is_empty());

        let store_only = MaskPlan::new(std::slice::from_ref(&rec_only));
        assert_eq!(store_only.protected, [rec_only]);
        assert!(store_only.original.as_ref().is_some_and(|o| o.is_empty()));
        assert_eq!(store_only.live.as_deref(), Some(&[][..]));
        assert!(MaskPlan::new(&[]).is_empty());
    }

    proptest! {
        #[test]
        fn spans_cover_exactly_the_rasterised_pixels(
            pts in proptest::collection::vec((0.0f64..1.0, 0.0f64..1.0), 3..8),
            w in 1usize..40, h in 1usize..40,
        ) {
            let poly: Vec<[f64; 2]> = pts.iter().map(|&(x, y)| [x, y]).collect();
            let mut from_spans = vec![false; w * h];
            for (y, a, b) in spans(&poly, w, h) {
                for x in a..b {
                    from_spans[y * w + x] = true;
                }
            }
            prop_assert_eq!(from_spans, rasterise(&poly, w, h));
        }
    }

    /// Frames as a camera sends them: presentation time, keyframe, data.
    type Frames = Vec<(i64, bool, Vec<u8>)>;

    fn camera(w: u32, h: u32, frames: u32) -> (VideoParams, Frames) {
        let mut cam = SyntheticCamera::new(SyntheticConfig {
            width: w,
            height: h,
            fps: 25,
            gop_frames: 10,
            bitrate_bps: 1_000_000,
            seed: 3,
        })
        .unwrap();
        let params = cam.params().clone();
        let frames = (0..frames)
            .map(|i| {
                let f = cam.next_frame("MASK").unwrap();
                (i64::from(i) * 3600, f.is_key, f.data)
            })
            .collect();
        (params, frames)
    }

    /// Decodes an output stream back to packed I420 pictures.
    fn decode_all(pictures: &[EncodedPicture]) -> Vec<Vec<u8>> {
        let mut d = OpenH264Decoder::new().unwrap();
        let mut out = Vec::new();
        for p in pictures {
            let mut annexb = Vec::new();
            avc_to_annexb(Some(&p.params), &p.data, &mut annexb).unwrap();
            d.decode(&annexb, &mut |p| {
                let mut buf = Vec::new();
                copy_picture(&p, &mut buf);
                out.push(buf);
            })
            .unwrap();
        }
        out
    }

    fn run(plan: &MaskPlan, frames: u32) -> (Vec<MaskedFrame>, Frames) {
        let (params, input) = camera(320, 240, frames);
        // The camera's own rate.
        let settings = EncodeSettings {
            bitrate_bps: 1_000_000,
            fps: 25.0,
        };
        let mut p = MaskPipeline::new(plan, settings).unwrap();
        let mut out = Vec::new();
        for (pts, key, data) in &input {
            out.extend(p.push(&params, *pts, *key, data).unwrap());
        }
        out.extend(p.finish().unwrap());
        assert_eq!(p.times().frames, u64::from(frames));
        assert_eq!(p.times().lost, 0);
        (out, input)
    }

    #[test]
    fn frames_keep_their_times_and_keyframes_and_the_fill_is_constant() {
        let m = mask(MaskKind::Permanent, Fill::Solid, MaskScope::All, &SQUARE);
        let (out, input) = run(&MaskPlan::new(&[m]), 30);
        assert_eq!(out.len(), input.len());
        for (o, (pts, key, _)) in out.iter().zip(&input) {
            assert_eq!((o.pts, o.is_key), (*pts, *key));
            assert!(o.original.is_none() && o.live.is_none());
        }
        let pics: Vec<EncodedPicture> = out.iter().map(|f| f.protected.clone()).collect();
        let decoded = decode_all(&pics);
        assert_eq!(decoded.len(), 30);
        // Inside the square, 2 pixels in from its edge: the fill, within the
        // codec's error at this small size and rate.
        let worst = decoded
            .iter()
            .flat_map(|pic| (26..142).flat_map(move |y| (34..158).map(move |x| pic[y * 320 + x])))
            .map(|v| v.abs_diff(SOLID_FILL[0]))
            .max()
            .unwrap();
        assert!(worst <= 4, "luma off the fill by {worst}");
    }

    #[test]
    fn liftable_masks_make_an_original_without_them() {
        let p = mask(MaskKind::Permanent, Fill::Solid, MaskScope::All, &SQUARE);
        let l = mask(
            MaskKind::Liftable,
            Fill::Pixelate,
            MaskScope::All,
            &TRIANGLE,
        );
        let (out, _) = run(&MaskPlan::new(&[p, l]), 12);
        let protected: Vec<EncodedPicture> = out.iter().map(|f| f.protected.clone()).collect();
        let original: Vec<EncodedPicture> =
            out.iter().map(|f| f.original.clone().unwrap()).collect();
        let (prot, orig) = (decode_all(&protected), decode_all(&original));
        // The permanent square is filled in both; the triangle only in protected.
        let covered = rasterise(&TRIANGLE, 320, 240);
        let differing = |a: &[u8], b: &[u8]| {
            (0..320 * 240)
                .filter(|&i| covered[i] && a[i].abs_diff(b[i]) > 12)
                .count()
        };
        for (a, b) in prot.iter().zip(&orig) {
            assert!(a[30 * 320 + 40].abs_diff(SOLID_FILL[0]) <= 3);
            assert!(b[30 * 320 + 40].abs_diff(SOLID_FILL[0]) <= 3);
            assert!(
                differing(a, b) > 100,
                "the triangle differs between renditions"
            );
        }
    }

    #[test]
    fn blur_and_pixelate_leave_no_detail_finer_than_a_block() {
        for fill in [Fill::Pixelate, Fill::Blur] {
            let mut work = vec![0u8; 96 * 64 + 2 * 48 * 32];
            for (i, px) in work.iter_mut().enumerate().take(96 * 64) {
                *px = if (i % 96 + i / 96) % 2 == 0 { 0 } else { 255 };
            }
            let m = mask(
                MaskKind::Permanent,
                fill,
                MaskScope::All,
                &[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]],
            );
            let r = Raster::new(&m, 96, 64);
            let (y, uv) = work.split_at_mut(96 * 64);
            let (u, v) = uv.split_at_mut(48 * 32);
            r.paint(
                &mut Planes {
                    w: 96,
                    h: 64,
                    y,
                    u,
                    v,
                },
                &mut Vec::new(),
            );
            // The checkerboard (a 255-step between neighbours) is gone.
            let max_step = (0..96 * 64 - 1)
                .filter(|i| (i + 1) % 96 != 0)
                .map(|i| work[i].abs_diff(work[i + 1]))
                .max()
                .unwrap();
            assert!(max_step <= 2, "{fill:?}: a step of {max_step} is left");
        }
    }

    /// A decoder that gives every frame a flat 64x48 picture carrying its
    /// time, except the frames at `drop`, which it loses.
    struct Lossy {
        drop: Vec<i64>,
        picture: Vec<u8>,
    }

    impl PictureDecoder for Lossy {
        fn decode(&mut self, _: &[u8], _: &mut dyn FnMut(DecodedPlanes<'_>)) -> Result<(), Error> {
            unreachable!("the pipeline passes times")
        }
        fn decode_at(
            &mut self,
            _: &[u8],
            pts: i64,
            emit: &mut dyn FnMut(DecodedPlanes<'_>),
        ) -> Result<(), Error> {
            if !self.drop.contains(&pts) {
                let (y, uv) = self.picture.split_at(64 * 48);
                let (u, v) = uv.split_at(32 * 24);
                emit(DecodedPlanes {
                    size: (64, 48),
                    planes: [y, u, v],
                    strides: [64, 32, 32],
                    pts: Some(pts),
                });
            }
            Ok(())
        }
        fn flush(&mut self, _: &mut dyn FnMut(DecodedPlanes<'_>)) -> Result<(), Error> {
            Ok(())
        }
    }

    #[test]
    fn a_picture_the_decoder_loses_shifts_no_other_time() {
        let m = mask(MaskKind::Permanent, Fill::Solid, MaskScope::All, &SQUARE);
        let decoder = Lossy {
            drop: vec![2 * 3600],
            picture: vec![100; 64 * 48 * 3 / 2],
        };
        let settings = EncodeSettings::guess(64, 48);
        let mut p = MaskPipeline::with_decoder(&MaskPlan::new(&[m]), settings, Box::new(decoder));
        let (params, _) = camera(64, 48, 1);
        let mut times = Vec::new();
        for i in 0..6i64 {
            for f in p
                .push(&params, i * 3600, i == 0, &[0, 0, 0, 1, 0x41])
                .unwrap()
            {
                times.push(f.pts);
            }
        }
        assert_eq!(times, [0, 3600, 3 * 3600, 4 * 3600, 5 * 3600]);
        assert_eq!(p.times().lost, 1);
    }

    #[test]
    fn garbage_is_an_error_never_a_picture() {
        let m = mask(MaskKind::Permanent, Fill::Solid, MaskScope::All, &SQUARE);
        let (params, input) = camera(320, 240, 3);
        let mut p =
            MaskPipeline::new(&MaskPlan::new(&[m]), EncodeSettings::guess(320, 240)).unwrap();
        assert!(p.push(&params, 0, true, &[0, 0, 0, 9, 1, 2]).is_err());
        let mut junk = input[1].2.clone();
        for b in junk.iter_mut().skip(6) {
            *b = b.wrapping_mul(31).wrapping_add(7);
        }
        let mut p =
            MaskPipeline::new(&MaskPlan::new(&[]), EncodeSettings::guess(320, 240)).unwrap();
        // Whatever the decoder makes of junk, it never panics.
        let _ = p.push(&params, 0, true, &junk);
        let _ = p.finish();
    }

    /// Every picture a decoder hands out, as packed I420, in order.
    fn decode_with(name: &str, units: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, Error> {
        let mut d = decoder(name)?;
        let mut out = Vec::new();
        let mut keep = |p: DecodedPlanes<'_>| {
            let mut buf = Vec::new();
            copy_picture(&p, &mut buf);
            out.push(buf);
        };
        for u in units {
            d.decode(u, &mut keep)?;
        }
        d.flush(&mut keep)?;
        Ok(out)
    }

    /// The synthetic camera's access units in Annex B, parameter sets in
    /// front of keyframes (as the pipeline feeds its decoder).
    fn annexb_units(params: &VideoParams, frames: &Frames) -> Vec<Vec<u8>> {
        frames
            .iter()
            .map(|(_, key, data)| {
                let mut u = Vec::new();
                avc_to_annexb(key.then_some(params), data, &mut u).unwrap();
                u
            })
            .collect()
    }

    /// The largest and the mean absolute difference of two pictures.
    fn difference(a: &[u8], b: &[u8]) -> (u8, f64) {
        assert_eq!(a.len(), b.len(), "pictures of different sizes");
        let max = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap();
        let sum: u64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| u64::from(x.abs_diff(*y)))
            .sum();
        (max, sum as f64 / a.len() as f64)
    }

    #[test]
    fn every_decoder_keeps_times_and_keyframes_and_sees_the_same_pictures() {
        assert_eq!(default_decoder_name(), DECODERS[0]);
        assert!(decoder("vp8").is_err(), "an unknown decoder is refused");
        let (params, input) = camera(320, 240, 30);
        let units = annexb_units(&params, &input);
        let mut seen: Vec<(&str, Vec<Vec<u8>>)> = Vec::new();
        for &name in DECODERS {
            let m = mask(MaskKind::Permanent, Fill::Solid, MaskScope::All, &SQUARE);
            let settings = EncodeSettings {
                bitrate_bps: 1_000_000,
                fps: 25.0,
            };
            let mut p =
                MaskPipeline::with_decoder(&MaskPlan::new(&[m]), settings, decoder(name).unwrap());
            let mut out = Vec::new();
            for (pts, key, data) in &input {
                out.extend(p.push(&params, *pts, *key, data).unwrap());
            }
            out.extend(p.finish().unwrap());
            assert_eq!((p.times().frames, p.times().lost), (30, 0), "{name}");
            let got: Vec<(i64, bool)> = out.iter().map(|f| (f.pts, f.is_key)).collect();
            let want: Vec<(i64, bool)> = input.iter().map(|(t, k, _)| (*t, *k)).collect();
            assert_eq!(got, want, "{name}: times and keyframes as they came in");
            let pics: Vec<EncodedPicture> = out.iter().map(|f| f.protected.clone()).collect();
            for pic in decode_all(&pics) {
                assert!(pic[30 * 320 + 40].abs_diff(SOLID_FILL[0]) <= 4, "{name}");
            }
            // The camera's pictures, straight out of the decoder.
            let pictures = decode_with(name, &units).unwrap();
            assert_eq!(pictures.len(), 30, "{name}");
            seen.push((name, pictures));
        }
        // The decoders agree (Constrained Baseline: bit-exact in principle;
        // a small tolerance for the decoders' own rounding).
        for (name, pictures) in &seen[1..] {
            for (i, (a, b)) in pictures.iter().zip(&seen[0].1).enumerate() {
                let (max, mean) = difference(a, b);
                assert!(
                    max <= 6 && mean < 0.05,
                    "{name} and {}: picture {i} differs (max {max}, mean {mean:.3})",
                    seen[0].0
                );
            }
        }
    }

    /// A High-profile stream with B-frames from ffmpeg/libx264 (as cameras
    /// send), split into access units, and ffmpeg's own decoding of it.
    fn x264_clip(frames: u32) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        use std::process::Command;
        let dir = tempfile::tempdir().unwrap();
        let clip = dir.path().join("clip.h264");
        let run = |args: &[&str]| {
            let out = Command::new("ffmpeg")
                .args(["-hide_banner", "-loglevel", "error", "-y"])
                .args(args)
                .output()
                .expect("ffmpeg (the Debian package) runs");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        let n = frames.to_string();
        run(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25",
            "-frames:v",
            &n,
            "-c:v",
            "libx264",
            "-profile:v",
            "high",
            "-pix_fmt",
            "yuv420p",
            "-bf",
            "3",
            "-g",
            "12",
            "-b:v",
            "600k",
            "-threads",
            "1",
            clip.to_str().unwrap(),
        ]);
        let reference = run(&[
            "-i",
            clip.to_str().unwrap(),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
            "-",
        ]);
        let bytes = std::fs::read(&clip).unwrap();
        let mut units: Vec<Vec<u8>> = Vec::new();
        let mut cur = Vec::new();
        let mut has_slice = false;
        for nal in crate::h264::annexb_nals(&bytes) {
            let t = crate::h264::nal_unit_type(nal).unwrap_or(0);
            let slice = t == 1 || t == 5;
            let first_mb_zero = slice && nal.get(1).is_some_and(|b| b & 0x80 != 0);
            if has_slice && (matches!(t, 6..=9) || first_mb_zero) {
                units.push(std::mem::take(&mut cur));
                has_slice = false;
            }
            has_slice |= slice;
            cur.extend_from_slice(&[0, 0, 0, 1]);
            cur.extend_from_slice(nal);
        }
        units.push(cur);
        let pictures = reference
            .chunks(320 * 240 * 3 / 2)
            .map(<[u8]>::to_vec)
            .collect();
        (units, pictures)
    }

    #[test]
    fn every_decoder_puts_b_frames_in_display_order() {
        let (units, reference) = x264_clip(40);
        assert_eq!((units.len(), reference.len()), (40, 40));
        for &name in DECODERS {
            let pictures = decode_with(name, &units).unwrap();
            assert_eq!(pictures.len(), 40, "{name}");
            for (i, (a, b)) in pictures.iter().zip(&reference).enumerate() {
                // testsrc2 moves every frame: a picture out of order differs
                // by far more than the decoders' rounding.
                let (max, mean) = difference(a, b);
                assert!(
                    max <= 8 && mean < 0.1,
                    "{name}: picture {i} is not ffmpeg's (max {max}, mean {mean:.3})"
                );
                if name == "libav" {
                    assert_eq!(max, 0, "libavcodec decodes as the ffmpeg command does");
                }
            }
            // Drained before the second keyframe (as before a new SPS), the
            // decoder goes on with the rest of the stream: none is lost.
            let idr = |u: &Vec<u8>| crate::h264::annexb_nals(u).any(|n| n[0] & 0x1f == 5);
            let second = (1..units.len()).find(|&i| idr(&units[i])).unwrap();
            let (first, rest) = units.split_at(second);
            // The parameter sets in front of it, as the pipeline puts them.
            let mut rest = rest.to_vec();
            let sets: Vec<u8> = crate::h264::annexb_nals(&units[0])
                .filter(|n| matches!(n[0] & 0x1f, 7 | 8))
                .flat_map(|n| [&[0u8, 0, 0, 1][..], n].concat())
                .collect();
            rest[0] = [sets, rest[0].clone()].concat();
            let mut both = decode_with(name, first).unwrap();
            both.extend(decode_with_after_flush(name, first, &rest));
            assert_eq!(both.len(), 40, "{name}");
            for (i, (a, b)) in both.iter().zip(&reference).enumerate() {
                let (max, mean) = difference(a, b);
                assert!(max <= 8 && mean < 0.1, "{name}: picture {i} after a drain");
            }
        }
    }

    /// The pictures of `rest` from a decoder drained after `first`.
    fn decode_with_after_flush(name: &str, first: &[Vec<u8>], rest: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut d = decoder(name).unwrap();
        let mut out = Vec::new();
        for u in first {
            d.decode(u, &mut |_| {}).unwrap();
        }
        d.flush(&mut |_| {}).unwrap();
        let mut keep = |p: DecodedPlanes<'_>| {
            let mut buf = Vec::new();
            copy_picture(&p, &mut buf);
            out.push(buf);
        };
        for u in rest {
            d.decode(u, &mut keep).unwrap();
        }
        d.flush(&mut keep).unwrap();
        out
    }

    #[test]
    fn every_decoder_survives_garbage() {
        let (params, input) = camera(320, 240, 6);
        let units = annexb_units(&params, &input);
        // Pseudo-random bytes, reproducibly.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut random = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect()
        };
        let mut cases: Vec<(&str, Vec<Vec<u8>>)> = Vec::new();
        cases.push((
            "random bytes",
            (0..8).map(|i| random(100 + 997 * i)).collect(),
        ));
        let mut with_start_codes = random(4000);
        for chunk in with_start_codes.chunks_mut(300) {
            chunk[..4].copy_from_slice(&[0, 0, 0, 1]);
        }
        cases.push(("random NAL units", vec![with_start_codes]));
        // Each access unit cut at a third of its length.
        cases.push((
            "truncated NAL units",
            units.iter().map(|u| u[..u.len() / 3].to_vec()).collect(),
        ));
        // The parameter sets and half of the keyframe, then the rest.
        let mut cut = units.clone();
        let half = cut[0].len() / 2;
        cut[0].truncate(half);
        cases.push(("a stream cut mid-frame", cut));
        // Only parameter sets and slice headers survive: bytes flipped.
        let flipped = units
            .iter()
            .map(|u| {
                let mut u = u.clone();
                for (i, b) in u.iter_mut().enumerate().skip(40) {
                    *b ^= (i as u8).wrapping_mul(37) | 1;
                }
                u
            })
            .collect();
        cases.push(("corrupted slices", flipped));
        for &name in DECODERS {
            let mut errors = 0;
            for (what, case) in &cases {
                // Never a panic; an error or pictures of the stream's size.
                match decode_with(name, case) {
                    Err(e) => {
                        errors += 1;
                        // A message that says what failed, with the
                        // decoder's own reason after it.
                        let text = e.to_string();
                        let reason = text.rsplit(": ").next().unwrap_or_default();
                        assert!(reason.len() > 3, "{name}, {what}: {text:?}");
                    }
                    Ok(pictures) => {
                        for p in pictures {
                            assert_eq!(p.len(), 320 * 240 * 3 / 2, "{name}, {what}");
                        }
                    }
                }
            }
            assert!(errors > 0, "{name} reports none of the damage as an error");
            // Through the pipeline: an error, or masked pictures only.
            let m = mask(MaskKind::Permanent, Fill::Solid, MaskScope::All, &SQUARE);
            let mut p = MaskPipeline::with_decoder(
                &MaskPlan::new(&[m]),
                EncodeSettings::guess(320, 240),
                decoder(name).unwrap(),
            );
            let mut junk = input.clone();
            for (_, _, data) in junk.iter_mut() {
                let end = data.len();
                for b in data[8..end].iter_mut() {
                    *b = b.wrapping_mul(31).wrapping_add(7);
                }
            }
            for (pts, key, data) in &junk {
                if p.push(&params, *pts, *key, data).is_err() {
                    break;
                }
            }
            let _ = p.finish();
        }
    }
}
