//! H.264 bitstream helpers: Annex B splitting, SPS parsing and conversion of
//! access units to the length-prefixed AVC form used inside MP4.

use crate::Error;

/// NAL unit type of a coded slice of a non-IDR picture.
pub const NAL_SLICE: u8 = 1;
/// NAL unit type of a coded slice of an IDR picture.
pub const NAL_IDR: u8 = 5;
/// NAL unit type of supplemental enhancement information.
pub const NAL_SEI: u8 = 6;
/// NAL unit type of a sequence parameter set.
pub const NAL_SPS: u8 = 7;
/// NAL unit type of a picture parameter set.
pub const NAL_PPS: u8 = 8;
/// NAL unit type of an access unit delimiter.
pub const NAL_AUD: u8 = 9;

/// Reordering depth assumed when the SPS does not state one.
pub const DEFAULT_REORDER_DEPTH: u32 = 2;

/// Codec parameters of one H.264 stream. sps/pps are NAL units WITHOUT start codes
/// (include the NAL header byte).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoParams {
    /// Displayed width in pixels (after frame cropping).
    pub width: u16,
    /// Displayed height in pixels (after frame cropping).
    pub height: u16,
    /// The sequence parameter set NAL unit, header byte included.
    pub sps: Vec<u8>,
    /// The picture parameter set NAL unit, header byte included.
    pub pps: Vec<u8>,
}

impl VideoParams {
    /// Builds parameters from SPS and PPS NAL units (without start codes), parsing the
    /// SPS for the displayed width and height.
    pub fn from_sps_pps(sps: &[u8], pps: &[u8]) -> Result<Self, Error> {
        let info = parse_sps(sps)?;
        match nal_unit_type(pps) {
            Some(NAL_PPS) if pps.len() >= 2 => {}
            Some(t) if t == NAL_PPS => return Err(Error::Malformed("PPS is truncated".into())),
            Some(t) => {
                return Err(Error::Malformed(format!(
                    "expected a PPS (NAL type 8), got NAL type {t}"
                )))
            }
            None => return Err(Error::Malformed("PPS is empty".into())),
        }
        Ok(VideoParams {
            width: info.width,
            height: info.height,
            sps: sps.to_vec(),
            pps: pps.to_vec(),
        })
    }

    /// How many frames deep the stream reorders: 0 when display order is decode
    /// order (Baseline, or no B-frames), else the SPS's `max_num_reorder_frames`.
    /// When the SPS does not say, [`DEFAULT_REORDER_DEPTH`] (enough for the
    /// IBBP and pyramid-B patterns of real encoders); a stream that reorders
    /// deeper still plays, with some frames decoded after their display time.
    pub fn reorder_depth(&self) -> u32 {
        parse_sps(&self.sps)
            .ok()
            .and_then(|i| i.reorder_frames)
            .unwrap_or(DEFAULT_REORDER_DEPTH)
    }

    /// The RFC 6381 codec string, e.g. `avc1.42c01e` (profile, constraint flags and
    /// level taken from SPS bytes 1..4).
    pub fn rfc6381_codec(&self) -> String {
        let b = |i: usize| self.sps.get(i).copied().unwrap_or(0);
        format!("avc1.{:02x}{:02x}{:02x}", b(1), b(2), b(3))
    }

    /// The `avcC` box payload (AVCDecoderConfigurationRecord, ISO/IEC 14496-15) with
    /// `lengthSizeMinusOne = 3`, one SPS and one PPS.
    pub fn avc_decoder_config(&self) -> Vec<u8> {
        let b = |i: usize| self.sps.get(i).copied().unwrap_or(0);
        let mut out = Vec::with_capacity(16 + self.sps.len() + self.pps.len());
        out.push(1); // configurationVersion
        out.push(b(1)); // AVCProfileIndication
        out.push(b(2)); // profile_compatibility
        out.push(b(3)); // AVCLevelIndication
        out.push(0xfc | 3); // reserved + lengthSizeMinusOne
        out.push(0xe0 | 1); // reserved + numOfSequenceParameterSets
        out.extend_from_slice(&(self.sps.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.sps);
        out.push(1); // numOfPictureParameterSets
        out.extend_from_slice(&(self.pps.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.pps);
        if matches!(b(1), 100 | 110 | 122 | 144) {
            // High profiles carry chroma format and bit depths as well.
            if let Ok(info) = parse_sps(&self.sps) {
                out.push(0xfc | (info.chroma_format_idc & 3));
                out.push(0xf8 | (info.bit_depth_luma_minus8 & 7));
                out.push(0xf8 | (info.bit_depth_chroma_minus8 & 7));
                out.push(0); // numOfSequenceParameterSetExt
            }
        }
        out
    }
}

/// The fields of an SPS this crate cares about.
struct SpsInfo {
    width: u16,
    height: u16,
    chroma_format_idc: u8,
    bit_depth_luma_minus8: u8,
    bit_depth_chroma_minus8: u8,
    /// How many frames may precede a frame in decode order and follow it in
    /// display order, as far as the SPS says (see [`VideoParams::reorder_depth`]).
    reorder_frames: Option<u32>,
}

/// Removes emulation prevention bytes (`00 00 03` → `00 00`) from a NAL payload.
fn unescape_rbsp(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut zeros = 0usize;
    for &b in data {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        if b == 0 {
            zeros += 1;
        } else {
            zeros = 0;
        }
        out.push(b);
    }
    out
}

/// An MSB-first bit reader over RBSP bytes.
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

fn eof() -> Error {
    Error::Malformed("SPS ends unexpectedly".into())
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    fn bit(&mut self) -> Result<u32, Error> {
        let byte = *self.data.get(self.pos / 8).ok_or_else(eof)?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1;
        self.pos += 1;
        Ok(u32::from(bit))
    }

    fn bits(&mut self, n: u32) -> Result<u32, Error> {
        let mut v = 0u32;
        for _ in 0..n {
            v = (v << 1) | self.bit()?;
        }
        Ok(v)
    }

    fn flag(&mut self) -> Result<bool, Error> {
        Ok(self.bit()? == 1)
    }

    /// Unsigned Exp-Golomb code.
    fn ue(&mut self) -> Result<u32, Error> {
        let mut zeros = 0u32;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return Err(Error::Malformed("Exp-Golomb code too long".into()));
            }
        }
        let rest = self.bits(zeros)?;
        Ok(((1u64 << zeros) - 1 + u64::from(rest)) as u32)
    }

    /// Signed Exp-Golomb code (wide enough that no value overflows).
    fn se(&mut self) -> Result<i64, Error> {
        let k = self.ue()?;
        let mag = i64::from(k.div_ceil(2));
        Ok(if k % 2 == 1 { mag } else { -mag })
    }
}

fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Result<(), Error> {
    let mut last = 8i32;
    let mut next = 8i32;
    for _ in 0..size {
        if next != 0 {
            let delta = r.se()?;
            if !(-128..=127).contains(&delta) {
                return Err(Error::Malformed(format!(
                    "scaling list delta {delta} is outside -128..127"
                )));
            }
            next = (last + delta as i32).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Ok(())
}

fn parse_sps(sps: &[u8]) -> Result<SpsInfo, Error> {
    match nal_unit_type(sps) {
        Some(NAL_SPS) => {}
        Some(t) => {
            return Err(Error::Malformed(format!(
                "expected an SPS (NAL type 7), got NAL type {t}"
            )))
        }
        None => return Err(Error::Malformed("SPS is empty".into())),
    }
    let rbsp = unescape_rbsp(&sps[1..]);
    let mut r = BitReader::new(&rbsp);
    let profile_idc = r.bits(8)?;
    let _constraints = r.bits(8)?;
    let _level = r.bits(8)?;
    let _sps_id = r.ue()?;
    let mut chroma_format_idc = 1u32;
    let mut separate_colour_plane = false;
    let mut bit_depth_luma_minus8 = 0;
    let mut bit_depth_chroma_minus8 = 0;
    if matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc > 3 {
            return Err(Error::Malformed(format!(
                "chroma_format_idc {chroma_format_idc} out of range"
            )));
        }
        if chroma_format_idc == 3 {
            separate_colour_plane = r.flag()?;
        }
        bit_depth_luma_minus8 = r.ue()?;
        bit_depth_chroma_minus8 = r.ue()?;
        if bit_depth_luma_minus8 > 6 || bit_depth_chroma_minus8 > 6 {
            return Err(Error::Malformed("bit depth out of range".into()));
        }
        let _qpprime_y_zero_transform_bypass = r.flag()?;
        if r.flag()? {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.flag()? {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    let _log2_max_frame_num_minus4 = r.ue()?;
    let poc_type = r.ue()?;
    match poc_type {
        0 => {
            let _log2_max_poc_lsb_minus4 = r.ue()?;
        }
        1 => {
            let _delta_pic_order_always_zero = r.flag()?;
            let _offset_for_non_ref_pic = r.se()?;
            let _offset_for_top_to_bottom_field = r.se()?;
            let n = r.ue()?;
            if n > 255 {
                return Err(Error::Malformed(
                    "num_ref_frames_in_pic_order_cnt_cycle out of range".into(),
                ));
            }
            for _ in 0..n {
                let _offset_for_ref_frame = r.se()?;
            }
        }
        2 => {}
        other => {
            return Err(Error::Malformed(format!(
                "pic_order_cnt_type {other} out of range"
            )))
        }
    }
    let _max_num_ref_frames = r.ue()?;
    let _gaps_in_frame_num_allowed = r.flag()?;
    let width_mbs = u64::from(r.ue()?) + 1;
    let height_map_units = u64::from(r.ue()?) + 1;
    let frame_mbs_only = r.flag()?;
    if !frame_mbs_only {
        let _mb_adaptive_frame_field = r.flag()?;
    }
    let _direct_8x8_inference = r.flag()?;
    let (mut crop_l, mut crop_r, mut crop_t, mut crop_b) = (0u64, 0u64, 0u64, 0u64);
    if r.flag()? {
        crop_l = r.ue()?.into();
        crop_r = r.ue()?.into();
        crop_t = r.ue()?.into();
        crop_b = r.ue()?.into();
    }
    // Baseline has no B-frames; picture order type 2 means display order is
    // decode order. Otherwise the VUI may say how deep the reordering goes (a
    // VUI this parser cannot follow leaves it unknown rather than failing).
    let reorder_frames = if profile_idc == 66 || poc_type == 2 {
        Some(0)
    } else if r.flag().unwrap_or(false) {
        vui_reorder_frames(&mut r).ok().flatten()
    } else {
        None
    };
    let field_factor: u64 = if frame_mbs_only { 1 } else { 2 };
    let chroma_array_type = if separate_colour_plane {
        0
    } else {
        chroma_format_idc
    };
    let (crop_unit_x, crop_unit_y) = match chroma_array_type {
        0 => (1, field_factor),
        1 => (2, 2 * field_factor),
        2 => (2, field_factor),
        _ => (1, field_factor),
    };
    let coded_w = width_mbs * 16;
    let coded_h = height_map_units * 16 * field_factor;
    let width = coded_w
        .checked_sub(crop_unit_x * (crop_l + crop_r))
        .filter(|w| *w > 0)
        .ok_or_else(|| Error::Malformed("horizontal frame cropping exceeds width".into()))?;
    let height = coded_h
        .checked_sub(crop_unit_y * (crop_t + crop_b))
        .filter(|h| *h > 0)
        .ok_or_else(|| Error::Malformed("vertical frame cropping exceeds height".into()))?;
    let width =
        u16::try_from(width).map_err(|_| Error::Unsupported(format!("width {width} too large")))?;
    let height = u16::try_from(height)
        .map_err(|_| Error::Unsupported(format!("height {height} too large")))?;
    Ok(SpsInfo {
        width,
        height,
        chroma_format_idc: chroma_format_idc as u8,
        bit_depth_luma_minus8: bit_depth_luma_minus8 as u8,
        bit_depth_chroma_minus8: bit_depth_chroma_minus8 as u8,
        reorder_frames,
    })
}

/// Reads a VUI (H.264 Annex E.1.1) up to its bitstream restriction and returns
/// `max_num_reorder_frames`, or `None` when the VUI does not carry it.
fn vui_reorder_frames(r: &mut BitReader<'_>) -> Result<Option<u32>, Error> {
    if r.flag()? {
        // aspect_ratio_idc; 255 = extended SAR (width and height follow).
        if r.bits(8)? == 255 {
            r.bits(32)?;
        }
    }
    if r.flag()? {
        r.flag()?; // overscan_appropriate_flag
    }
    if r.flag()? {
        r.bits(4)?; // video_format, video_full_range_flag
        if r.flag()? {
            r.bits(24)?; // colour primaries, transfer, matrix
        }
    }
    if r.flag()? {
        r.ue()?; // chroma sample locations, top and bottom field
        r.ue()?;
    }
    if r.flag()? {
        r.bits(32)?; // num_units_in_tick
        r.bits(32)?; // time_scale
        r.flag()?; // fixed_frame_rate_flag
    }
    let nal_hrd = r.flag()?;
    if nal_hrd {
        skip_hrd_parameters(r)?;
    }
    let vcl_hrd = r.flag()?;
    if vcl_hrd {
        skip_hrd_parameters(r)?;
    }
    if nal_hrd || vcl_hrd {
        r.flag()?; // low_delay_hrd_flag
    }
    r.flag()?; // pic_struct_present_flag
    if !r.flag()? {
        return Ok(None); // no bitstream restriction
    }
    r.flag()?; // motion_vectors_over_pic_boundaries_flag
    for _ in 0..4 {
        r.ue()?; // max bytes per picture, bits per MB, log2 MV lengths
    }
    let reorder = r.ue()?;
    let max_dec_frame_buffering = r.ue()?;
    if reorder > max_dec_frame_buffering || reorder > 16 {
        return Err(Error::Malformed(format!(
            "max_num_reorder_frames {reorder} exceeds the decoded picture buffer"
        )));
    }
    Ok(Some(reorder))
}

/// Skips `hrd_parameters()` (H.264 E.1.2).
fn skip_hrd_parameters(r: &mut BitReader<'_>) -> Result<(), Error> {
    let cpb_cnt = r.ue()? + 1;
    if cpb_cnt > 32 {
        return Err(Error::Malformed(format!("cpb_cnt {cpb_cnt} exceeds 32")));
    }
    r.bits(8)?; // bit_rate_scale, cpb_size_scale
    for _ in 0..cpb_cnt {
        r.ue()?; // bit_rate_value_minus1
        r.ue()?; // cpb_size_value_minus1
        r.flag()?; // cbr_flag
    }
    r.bits(20)?; // four delay and offset lengths of 5 bits
    Ok(())
}

/// The `nal_unit_type` (low 5 bits of the header byte) of a NAL unit, or `None` if empty.
pub fn nal_unit_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|b| b & 0x1f)
}

/// Position of the next `00 00 01` start code at or after `from`.
fn find_start_code(data: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 3 <= data.len() {
        // Skip quickly: a start code needs data[i + 2] == 1 and two zeros before it.
        let c = data[i + 2];
        if c > 1 {
            i += 3;
        } else if c == 0 {
            i += 1;
        } else if data[i] == 0 && data[i + 1] == 0 {
            return Some(i);
        } else {
            i += 3;
        }
    }
    None
}

/// Iterator over the NAL units of an Annex B byte stream; see [`annexb_nals`].
#[derive(Clone, Debug)]
pub struct AnnexBNals<'a> {
    data: &'a [u8],
    /// Start of the next NAL's payload, or `None` when exhausted.
    next: Option<usize>,
}

impl<'a> Iterator for AnnexBNals<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            let start = self.next?;
            let (end, following) = match find_start_code(self.data, start) {
                Some(sc) => (sc, Some(sc + 3)),
                None => (self.data.len(), None),
            };
            self.next = following;
            let mut nal = &self.data[start..end];
            while let [rest @ .., 0] = nal {
                nal = rest;
            }
            if !nal.is_empty() {
                return Some(nal);
            }
        }
    }
}

/// Splits an Annex B byte stream (00 00 01 / 00 00 00 01 start codes) into NAL units
/// (without start codes, trailing zero bytes trimmed). Bytes before the first start
/// code are ignored; empty NAL units are skipped. Never panics on garbage.
pub fn annexb_nals(data: &[u8]) -> AnnexBNals<'_> {
    AnnexBNals {
        data,
        next: find_start_code(data, 0).map(|i| i + 3),
    }
}

/// One access unit converted to AVC form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvcFrame {
    /// The SPS NAL unit found in the access unit, if any.
    pub sps: Option<Vec<u8>>,
    /// The PPS NAL unit found in the access unit, if any.
    pub pps: Option<Vec<u8>>,
    /// Whether the access unit contains an IDR slice (NAL type 5).
    pub is_key: bool,
    /// 4-byte big-endian length-prefixed NAL units, excluding SPS (7), PPS (8) and AUD (9).
    pub data: Vec<u8>,
}

/// Converts one access unit in AVC form (4-byte length prefixes, as
/// recorded) to Annex B for a decoder, appending it to `out`; with `params`,
/// their SPS and PPS go first (a keyframe decoded on its own, or the first
/// after a change). Fails on a length prefix that does not fit.
pub fn avc_to_annexb(
    params: Option<&VideoParams>,
    frame: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    if let Some(p) = params {
        for nal in [&p.sps[..], &p.pps[..]] {
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(nal);
        }
    }
    let mut rest = frame;
    while !rest.is_empty() {
        let len = rest
            .get(..4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .filter(|&l| l > 0 && l <= rest.len() - 4)
            .ok_or_else(|| Error::Malformed("bad NAL length prefix".into()))?;
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(&rest[4..4 + len]);
        rest = &rest[4 + len..];
    }
    Ok(())
}

/// Converts one Annex B access unit to AVC form. Fails if it holds no slice NAL unit.
pub fn annexb_to_avc(access_unit: &[u8]) -> Result<AvcFrame, Error> {
    let mut frame = AvcFrame {
        sps: None,
        pps: None,
        is_key: false,
        data: Vec::with_capacity(access_unit.len() + 16),
    };
    let mut slices = 0usize;
    for nal in annexb_nals(access_unit) {
        let t = nal[0] & 0x1f;
        match t {
            NAL_SPS => {
                frame.sps.get_or_insert_with(|| nal.to_vec());
                continue;
            }
            NAL_PPS => {
                frame.pps.get_or_insert_with(|| nal.to_vec());
                continue;
            }
            NAL_AUD => continue,
            NAL_SLICE..=NAL_IDR => {
                slices += 1;
                frame.is_key |= t == NAL_IDR;
            }
            _ => {}
        }
        let len = u32::try_from(nal.len())
            .map_err(|_| Error::Malformed("NAL unit larger than 4 GiB".into()))?;
        frame.data.extend_from_slice(&len.to_be_bytes());
        frame.data.extend_from_slice(nal);
    }
    if slices == 0 {
        return Err(Error::Malformed(
            "access unit contains no coded slice NAL unit".into(),
        ));
    }
    Ok(frame)
}

/// Parses an `avcC` payload (AVCDecoderConfigurationRecord, ISO/IEC 14496-15,
/// as RTSP clients derive it from the SDP or in-band parameter sets) into
/// [`VideoParams`], using its first SPS and first PPS. Only 4-byte NAL length
/// prefixes are accepted, the form every stored sample uses.
pub fn params_from_avc_decoder_config(avcc: &[u8]) -> Result<VideoParams, Error> {
    let short = || Error::Malformed("avcC record is truncated".into());
    let mut r = avcc;
    let mut take = |n: usize| -> Result<&[u8], Error> {
        if r.len() < n {
            return Err(short());
        }
        let (a, b) = r.split_at(n);
        r = b;
        Ok(a)
    };
    let head = take(6)?;
    if head[0] != 1 {
        return Err(Error::Unsupported(format!(
            "avcC configuration version {}",
            head[0]
        )));
    }
    if head[4] & 3 != 3 {
        return Err(Error::Unsupported(format!(
            "NAL length size {} (only 4 is supported)",
            (head[4] & 3) + 1
        )));
    }
    let sps_count = head[5] & 0x1f;
    let mut sps = None;
    for _ in 0..sps_count {
        let n = u16::from_be_bytes(take(2)?.try_into().expect("two bytes")) as usize;
        let nal = take(n)?;
        sps.get_or_insert(nal);
    }
    let pps_count = take(1)?[0];
    let mut pps = None;
    for _ in 0..pps_count {
        let n = u16::from_be_bytes(take(2)?.try_into().expect("two bytes")) as usize;
        let nal = take(n)?;
        pps.get_or_insert(nal);
    }
    let sps = sps.ok_or_else(|| Error::Malformed("avcC record has no SPS".into()))?;
    let pps = pps.ok_or_else(|| Error::Malformed("avcC record has no PPS".into()))?;
    VideoParams::from_sps_pps(sps, pps)
}

/// Checks that `sample` is well-formed AVC sample data: one or more NAL units,
/// each a non-zero 4-byte big-endian length followed by that many bytes, with
/// nothing left over. Returns the number of NAL units.
pub fn check_avc_sample(sample: &[u8]) -> Result<usize, Error> {
    let mut rest = sample;
    let mut count = 0;
    while !rest.is_empty() {
        if rest.len() < 4 {
            return Err(Error::Malformed("NAL length prefix is truncated".into()));
        }
        let n = u32::from_be_bytes(rest[..4].try_into().expect("four bytes")) as usize;
        if n == 0 || rest.len() - 4 < n {
            return Err(Error::Malformed(format!(
                "NAL length {n} does not fit the {} bytes left",
                rest.len() - 4
            )));
        }
        if rest[4] & 0x80 != 0 {
            return Err(Error::Malformed("NAL forbidden_zero_bit is set".into()));
        }
        rest = &rest[4 + n..];
        count += 1;
    }
    if count == 0 {
        return Err(Error::Malformed("empty sample".into()));
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_three_and_four_byte_start_codes() {
        let data = [
            0xff, 0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 4, 0, 0,
        ];
        let nals: Vec<&[u8]> = annexb_nals(&data).collect();
        assert_eq!(
            nals,
            vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 4][..]]
        );
        assert_eq!(annexb_nals(&[1, 2, 3]).count(), 0);
        assert_eq!(annexb_nals(&[0, 0, 1]).count(), 0);
        assert_eq!(
            annexb_nals(&[0, 0, 1, 0, 0, 1, 9]).collect::<Vec<_>>(),
            vec![&[9u8][..]]
        );
    }

    #[test]
    fn converts_access_unit() {
        let au = [
            0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xce, 0, 0, 1, 0x06, 5,
            0, 0, 1, 0x65, 0x88, 0x84,
        ];
        let f = annexb_to_avc(&au).unwrap();
        assert!(f.is_key);
        assert_eq!(f.sps.as_deref(), Some(&[0x67, 0x42][..]));
        assert_eq!(f.pps.as_deref(), Some(&[0x68, 0xce][..]));
        assert_eq!(
            f.data,
            vec![0, 0, 0, 2, 0x06, 5, 0, 0, 0, 3, 0x65, 0x88, 0x84]
        );
        let p = annexb_to_avc(&[0, 0, 1, 0x41, 0x9a]).unwrap();
        assert!(!p.is_key);
        assert_eq!(p.sps, None);
        assert_eq!(p.data, vec![0, 0, 0, 2, 0x41, 0x9a]);
        assert!(matches!(
            annexb_to_avc(&[0, 0, 1, 0x67, 0x42]),
            Err(Error::Malformed(_))
        ));
        assert!(annexb_to_avc(&[]).is_err());
    }

    #[test]
    fn avc_config_of_the_synthetic_encoder_parses() {
        let sps = [
            0x67, 0x42, 0xc0, 0x14, 0x8c, 0x68, 0x14, 0x1f, 0x20, 0x1e, 0x11, 0x08, 0xd4,
        ];
        let p = VideoParams::from_sps_pps(&sps, &[0x68, 0xce, 0x3c, 0x80]).unwrap();
        let avcc = p.avc_decoder_config();
        assert_eq!(params_from_avc_decoder_config(&avcc).unwrap(), p);
        assert!(params_from_avc_decoder_config(&avcc[..avcc.len() - 1]).is_err());
        let mut two_byte = avcc.clone();
        two_byte[4] = 0xfd;
        assert!(matches!(
            params_from_avc_decoder_config(&two_byte),
            Err(Error::Unsupported(_))
        ));
        assert!(params_from_avc_decoder_config(&[]).is_err());
    }

    #[test]
    fn avc_sample_framing_is_checked() {
        assert_eq!(
            check_avc_sample(&[0, 0, 0, 2, 0x65, 1, 0, 0, 0, 1, 0x41]).unwrap(),
            2
        );
        assert!(check_avc_sample(&[]).is_err());
        assert!(check_avc_sample(&[0, 0, 0, 3, 0x65, 1]).is_err());
        assert!(check_avc_sample(&[0, 0, 0, 0]).is_err());
        assert!(check_avc_sample(&[0, 0, 0, 1, 0x85]).is_err());
        assert!(check_avc_sample(&[0, 0, 0, 1, 0x65, 0]).is_err());
    }

    #[test]
    fn unescapes_emulation_prevention() {
        assert_eq!(
            unescape_rbsp(&[0, 0, 3, 1, 0, 0, 3, 0, 3]),
            vec![0, 0, 1, 0, 0, 0, 3]
        );
    }

    #[test]
    fn exp_golomb() {
        // 1 | 010 | 011 | 00100 | 00101 => ue 0, 1, 2, 3 ; se(4) = -2
        let data = [0b1010_0110, 0b0100_0010, 0b1000_0000];
        let mut r = BitReader::new(&data);
        assert_eq!(r.ue().unwrap(), 0);
        assert_eq!(r.ue().unwrap(), 1);
        assert_eq!(r.ue().unwrap(), 2);
        assert_eq!(r.ue().unwrap(), 3);
        assert_eq!(r.se().unwrap(), -2);
        assert!(r.ue().is_err());
    }

    fn check(sps: &[u8], width: u16, height: u16, codec: &str) {
        let p = VideoParams::from_sps_pps(sps, &[0x68, 0xce, 0x3c, 0x80]).unwrap();
        assert_eq!((p.width, p.height), (width, height));
        assert_eq!(p.rfc6381_codec(), codec);
    }

    #[test]
    fn parses_hand_written_sps() {
        // Baseline 3.0, 640x360: 40 MBs wide, 23 MB rows high, cropped by 4 rows * 2.
        // Bits: sps_id ue(0)=1, log2_max_frame_num_minus4 ue(0)=1, poc_type ue(2)=011,
        // max_num_ref_frames ue(1)=010, gaps 0, width_mbs-1 ue(39), height-1 ue(22),
        // frame_mbs_only 1, direct_8x8 1, cropping 1, ue(0) ue(0) ue(0) ue(4), stop bit.
        let mut bits = String::new();
        let ue = |v: u32| {
            let x = v + 1;
            let n = 32 - x.leading_zeros();
            format!(
                "{}{:0width$b}",
                "0".repeat(n as usize - 1),
                x,
                width = n as usize
            )
        };
        bits += &ue(0);
        bits += &ue(0);
        bits += &ue(2);
        bits += &ue(1);
        bits += "0";
        bits += &ue(39);
        bits += &ue(22);
        bits += "111";
        bits += &ue(0);
        bits += &ue(0);
        bits += &ue(0);
        bits += &ue(4);
        bits += "1";
        while !bits.len().is_multiple_of(8) {
            bits.push('0');
        }
        let mut sps = vec![0x67, 0x42, 0xc0, 0x1e];
        for chunk in bits.as_bytes().chunks(8) {
            sps.push(u8::from_str_radix(std::str::from_utf8(chunk).unwrap(), 2).unwrap());
        }
        check(&sps, 640, 360, "avc1.42c01e");
        let p = VideoParams::from_sps_pps(&sps, &[0x68, 0xce]).unwrap();
        let avcc = p.avc_decoder_config();
        assert_eq!(&avcc[..6], &[1, 0x42, 0xc0, 0x1e, 0xff, 0xe1]);
        assert_eq!(avcc.len(), 6 + 2 + sps.len() + 1 + 2 + 2);
    }

    #[test]
    fn reorder_depth_from_the_vui() {
        let ue = |v: u32| {
            let x = v + 1;
            let n = 32 - x.leading_zeros();
            format!(
                "{}{:0width$b}",
                "0".repeat(n as usize - 1),
                x,
                width = n as usize
            )
        };
        // Main profile, 640x360, picture order type 0 (B-frames possible).
        let sps = |vui: &str| {
            let mut bits = [ue(0), ue(0), ue(0), ue(2), ue(2)].concat();
            bits += "0";
            bits += &[ue(39), ue(22)].concat();
            bits += "111";
            bits += &[ue(0), ue(0), ue(0), ue(4)].concat();
            bits += vui;
            bits += "1"; // stop bit
            while !bits.len().is_multiple_of(8) {
                bits.push('0');
            }
            let mut out = vec![0x67, 0x4d, 0x40, 0x1e];
            for chunk in bits.as_bytes().chunks(8) {
                out.push(u8::from_str_radix(std::str::from_utf8(chunk).unwrap(), 2).unwrap());
            }
            VideoParams::from_sps_pps(&out, &[0x68, 0xce, 0x3c, 0x80]).unwrap()
        };
        // No VUI: the SPS does not say, the default applies.
        let p = sps("0");
        assert_eq!((p.width, p.height), (640, 360));
        assert_eq!(p.reorder_depth(), DEFAULT_REORDER_DEPTH);
        // A VUI with timing, NAL HRD and a bitstream restriction of 1 frame.
        let mut vui = String::from("1"); // vui_parameters_present_flag
        vui += "0000"; // aspect ratio, overscan, video signal, chroma location
        vui += "1";
        vui += &format!("{:032b}{:032b}1", 1, 50); // timing info
        vui += "1"; // NAL HRD
        vui += &[ue(0), "00000000".into(), ue(1000), ue(2000), "0".into()].concat();
        vui += &"0".repeat(20);
        vui += "0"; // no VCL HRD
        vui += "0"; // low_delay_hrd_flag
        vui += "0"; // pic_struct_present_flag
        vui += "1"; // bitstream_restriction_flag
        vui += "1";
        vui += &[ue(0), ue(0), ue(16), ue(16), ue(1), ue(3)].concat();
        let p = sps(&vui);
        assert_eq!((p.width, p.height), (640, 360));
        assert_eq!(p.reorder_depth(), 1);
        // A VUI that ends early is not an error: the depth is unknown.
        let p = sps(&vui[..40]);
        assert_eq!(p.reorder_depth(), DEFAULT_REORDER_DEPTH);
    }

    #[test]
    fn rejects_non_sps() {
        assert!(VideoParams::from_sps_pps(&[], &[0x68, 1]).is_err());
        assert!(VideoParams::from_sps_pps(&[0x68, 1, 2], &[0x68, 1]).is_err());
        assert!(VideoParams::from_sps_pps(&[0x67, 0x42], &[0x68, 1]).is_err());
    }

    /// Bytes that never form `00 00 0x` (x <= 3) sequences nor end with a zero.
    fn nal_strategy() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 1..64).prop_map(|mut v| {
            v[0] = (v[0] & 0x7f) | 0x01; // forbidden_zero_bit clear, non-zero header
            for i in 2..v.len() {
                if v[i - 2] == 0 && v[i - 1] == 0 && v[i] <= 3 {
                    v[i] = 0x04;
                }
            }
            if let Some(last) = v.last_mut() {
                if *last == 0 {
                    *last = 0x80;
                }
            }
            v
        })
    }

    proptest! {
        #[test]
        fn never_panics_on_garbage(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = annexb_nals(&data).count();
            let _ = annexb_to_avc(&data);
            if !data.is_empty() {
                let mut sps = data.clone();
                sps[0] = 0x67;
                let _ = VideoParams::from_sps_pps(&sps, &data);
                let _ = parse_sps(&sps);
            }
            let _ = VideoParams::from_sps_pps(&data, &data);
            let _ = params_from_avc_decoder_config(&data);
            let _ = check_avc_sample(&data);
        }

        #[test]
        fn avc_config_round_trips(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            // Any params that parse survive avcC encoding and parsing unchanged.
            let mut sps = vec![0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5];
            sps.extend_from_slice(&data);
            if let Ok(p) = VideoParams::from_sps_pps(&sps, &[0x68, 0xce, 0x3c, 0x80]) {
                prop_assert_eq!(params_from_avc_decoder_config(&p.avc_decoder_config()).unwrap(), p);
            }
        }

        #[test]
        fn avc_samples_check(nals in proptest::collection::vec(proptest::collection::vec(0u8..0x80, 1..40), 1..8), cut in 0usize..8) {
            let mut sample = Vec::new();
            for n in &nals {
                sample.extend_from_slice(&(n.len() as u32).to_be_bytes());
                sample.extend_from_slice(n);
            }
            prop_assert_eq!(check_avc_sample(&sample).unwrap(), nals.len());
            // A truncated sample is refused unless the cut falls exactly between
            // NAL units, which leaves fewer of them.
            let cut = cut.min(sample.len() - 1) + 1;
            if let Ok(n) = check_avc_sample(&sample[..sample.len() - cut]) {
                prop_assert!(n < nals.len());
            }
        }

        #[test]
        fn split_join_round_trip(
            nals in proptest::collection::vec(nal_strategy(), 0..8),
            long_codes in proptest::collection::vec(any::<bool>(), 8),
        ) {
            let mut stream = Vec::new();
            for (i, nal) in nals.iter().enumerate() {
                if long_codes[i] {
                    stream.push(0);
                }
                stream.extend_from_slice(&[0, 0, 1]);
                stream.extend_from_slice(nal);
            }
            let split: Vec<Vec<u8>> = annexb_nals(&stream).map(|n| n.to_vec()).collect();
            prop_assert_eq!(&split, &nals);
        }
    }
}
