//! MP4 muxing: progressive files (moov before mdat) for export and download, and
//! fragmented MP4 (init segment + moof/mdat fragments) for live view over MSE.
//!
//! All times are in 90 kHz units; movie and track timescale are 90000. Output is
//! deterministic: creation and modification times are always 0.

use crate::VideoParams;

/// The timescale of movie and track.
pub const TIMESCALE: u32 = 90_000;
/// The track id of the single video track.
pub const TRACK_ID: u32 = 1;

/// One video sample (access unit) in AVC form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Size of the sample's bytes (length-prefixed NAL units).
    pub size: u32,
    /// Duration until the next sample, in 90 kHz units.
    pub duration_90k: u32,
    /// Whether this is a sync sample (IDR).
    pub is_key: bool,
    /// Presentation time minus decode time, in 90 kHz units (non-zero only for
    /// streams with B-frames, whose decode order differs from display order).
    /// Written as a version 1 (signed) `ctts` box / `trun` entry.
    pub composition_offset_90k: i32,
}

impl Sample {
    /// A sample whose presentation time equals its decode time.
    pub fn new(size: u32, duration_90k: u32, is_key: bool) -> Sample {
        Sample {
            size,
            duration_90k,
            is_key,
            composition_offset_90k: 0,
        }
    }
}

/// One chunk = the samples of one stored segment, laid out contiguously in mdat, in
/// order. `params` indexes the `params` slice (one stsd sample entry per distinct
/// params; stsc maps chunk->sample_description_index).
#[derive(Clone, Copy, Debug)]
pub struct Chunk<'a> {
    /// Index into the `params` slice given to [`progressive_header`].
    pub params: usize,
    /// The chunk's samples, in decode order.
    pub samples: &'a [Sample],
}

/// The codec of a track recorded next to the video (see [`ExtraTrack`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackCodec {
    /// AAC audio (`mp4a` sample entry, `esds` built from the
    /// AudioSpecificConfig). The track's timescale is its sampling rate.
    Aac {
        /// Channel count.
        channels: u16,
        /// The AudioSpecificConfig (ISO/IEC 14496-3), as carried in the SDP.
        config: Vec<u8>,
    },
    /// ONVIF metadata: XML documents (`VideoAnalytics`, `Event`, `PTZ`), one per
    /// sample, as the camera sent them. A timed metadata track (`meta`
    /// handler, `mett` sample entry with the MIME type
    /// [`ONVIF_METADATA_MIME`]).
    OnvifMetadata,
}

/// The MIME type written in the `mett` sample entry of ONVIF metadata tracks.
pub const ONVIF_METADATA_MIME: &str = "application/vnd.onvif.metadata+xml";

/// One sample of an [`ExtraTrack`]: an audio frame or a metadata document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackSample {
    /// Size in bytes.
    pub size: u32,
    /// Duration in the track's timescale.
    pub duration: u32,
}

/// A track next to the video (audio, metadata) in a progressive MP4. Its
/// chunks pair with the video chunks: `chunks[i]` is laid out in `mdat` right
/// after video chunk `i` (and after the chunks `i` of the extra tracks before
/// it), so one stored segment stays one contiguous range of the file.
#[derive(Clone, Debug)]
pub struct ExtraTrack<'a> {
    /// The codec.
    pub codec: &'a TrackCodec,
    /// Units per second of the sample durations.
    pub timescale: u32,
    /// How long after the start of the video the first sample plays (an
    /// empty edit in `edts`), in 90 kHz units.
    pub delay_90k: u64,
    /// One slice per video chunk (empty where the track has nothing).
    pub chunks: Vec<&'a [TrackSample]>,
}

/// A byte buffer with helpers for writing ISO BMFF boxes.
struct BoxWriter {
    buf: Vec<u8>,
}

impl BoxWriter {
    fn new() -> Self {
        BoxWriter { buf: Vec::new() }
    }

    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    fn zeros(&mut self, n: usize) {
        self.buf.resize(self.buf.len() + n, 0);
    }

    /// Starts a box; returns its start position for [`BoxWriter::end`].
    fn start(&mut self, fourcc: &[u8; 4]) -> usize {
        let pos = self.buf.len();
        self.u32(0);
        self.bytes(fourcc);
        pos
    }

    /// Starts a full box with the given version and 24-bit flags.
    fn start_full(&mut self, fourcc: &[u8; 4], version: u8, flags: u32) -> usize {
        let pos = self.start(fourcc);
        self.u32((u32::from(version) << 24) | (flags & 0x00ff_ffff));
        pos
    }

    /// Ends the box started at `pos`, patching in its size.
    fn end(&mut self, pos: usize) {
        let size = u32::try_from(self.buf.len() - pos).expect("box larger than 4 GiB");
        self.buf[pos..pos + 4].copy_from_slice(&size.to_be_bytes());
    }

    fn matrix(&mut self) {
        for v in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
            self.u32(v);
        }
    }
}

fn write_ftyp(w: &mut BoxWriter, major: &[u8; 4], compatible: &[&[u8; 4]]) {
    let b = w.start(b"ftyp");
    w.bytes(major);
    w.u32(0x200);
    for c in compatible {
        w.bytes(*c);
    }
    w.end(b);
}

fn write_mvhd(w: &mut BoxWriter, duration: u64) {
    write_mvhd_next(w, duration, TRACK_ID + 1)
}

fn write_mvhd_next(w: &mut BoxWriter, duration: u64, next_track_id: u32) {
    if let Ok(d) = u32::try_from(duration) {
        let b = w.start_full(b"mvhd", 0, 0);
        w.u32(0); // creation_time
        w.u32(0); // modification_time
        w.u32(TIMESCALE);
        w.u32(d);
        write_mvhd_tail(w, next_track_id);
        w.end(b);
    } else {
        let b = w.start_full(b"mvhd", 1, 0);
        w.u64(0);
        w.u64(0);
        w.u32(TIMESCALE);
        w.u64(duration);
        write_mvhd_tail(w, next_track_id);
        w.end(b);
    }
}

fn write_mvhd_tail(w: &mut BoxWriter, next_track_id: u32) {
    w.u32(0x0001_0000); // rate 1.0
    w.u16(0x0100); // volume 1.0
    w.zeros(2 + 8); // reserved
    w.matrix();
    w.zeros(24); // pre_defined
    w.u32(next_track_id);
}

fn write_tkhd(w: &mut BoxWriter, duration: u64, width: u16, height: u16) {
    write_tkhd_track(w, TRACK_ID, duration, width, height, 0);
}

fn write_tkhd_track(
    w: &mut BoxWriter,
    track_id: u32,
    duration: u64,
    width: u16,
    height: u16,
    volume: u16,
) {
    let flags = 0x3; // track_enabled | track_in_movie
    let b;
    if let Ok(d) = u32::try_from(duration) {
        b = w.start_full(b"tkhd", 0, flags);
        w.u32(0);
        w.u32(0);
        w.u32(track_id);
        w.u32(0); // reserved
        w.u32(d);
    } else {
        b = w.start_full(b"tkhd", 1, flags);
        w.u64(0);
        w.u64(0);
        w.u32(track_id);
        w.u32(0);
        w.u64(duration);
    }
    w.zeros(8); // reserved
    w.u16(0); // layer
    w.u16(0); // alternate_group
    w.u16(volume);
    w.u16(0); // reserved
    w.matrix();
    w.u32(u32::from(width) << 16);
    w.u32(u32::from(height) << 16);
    w.end(b);
}

fn write_mdhd(w: &mut BoxWriter, duration: u64) {
    write_mdhd_scale(w, TIMESCALE, duration)
}

fn write_mdhd_scale(w: &mut BoxWriter, timescale: u32, duration: u64) {
    let b;
    if let Ok(d) = u32::try_from(duration) {
        b = w.start_full(b"mdhd", 0, 0);
        w.u32(0);
        w.u32(0);
        w.u32(timescale);
        w.u32(d);
    } else {
        b = w.start_full(b"mdhd", 1, 0);
        w.u64(0);
        w.u64(0);
        w.u32(timescale);
        w.u64(duration);
    }
    w.u16(0x55c4); // language "und"
    w.u16(0); // pre_defined
    w.end(b);
}

fn write_hdlr(w: &mut BoxWriter) {
    write_hdlr_kind(w, b"vide", b"VideoHandler\0");
}

fn write_hdlr_kind(w: &mut BoxWriter, handler: &[u8; 4], name: &[u8]) {
    let b = w.start_full(b"hdlr", 0, 0);
    w.u32(0); // pre_defined
    w.bytes(handler);
    w.zeros(12); // reserved
    w.bytes(name);
    w.end(b);
}

fn write_vmhd_dinf(w: &mut BoxWriter) {
    let b = w.start_full(b"vmhd", 0, 1);
    w.u16(0); // graphicsmode
    w.zeros(6); // opcolor
    w.end(b);
    write_dinf(w);
}

fn write_dinf(w: &mut BoxWriter) {
    let dinf = w.start(b"dinf");
    let dref = w.start_full(b"dref", 0, 0);
    w.u32(1);
    let url = w.start_full(b"url ", 0, 1); // media data is in this file
    w.end(url);
    w.end(dref);
    w.end(dinf);
}

fn write_avc1(w: &mut BoxWriter, p: &VideoParams) {
    let b = w.start(b"avc1");
    w.zeros(6); // reserved
    w.u16(1); // data_reference_index
    w.u16(0); // pre_defined
    w.u16(0); // reserved
    w.zeros(12); // pre_defined
    w.u16(p.width);
    w.u16(p.height);
    w.u32(0x0048_0000); // horizresolution 72 dpi
    w.u32(0x0048_0000); // vertresolution 72 dpi
    w.u32(0); // reserved
    w.u16(1); // frame_count
    w.zeros(32); // compressorname
    w.u16(0x0018); // depth
    w.u16(0xffff); // pre_defined = -1
    let avcc = w.start(b"avcC");
    w.bytes(&p.avc_decoder_config());
    w.end(avcc);
    w.end(b);
}

fn write_stsd(w: &mut BoxWriter, params: &[VideoParams]) {
    let b = w.start_full(b"stsd", 0, 0);
    w.u32(params.len() as u32);
    for p in params {
        write_avc1(w, p);
    }
    w.end(b);
}

/// The header of a progressive MP4: ftyp + moov (moov BEFORE mdat; stts, ctts when
/// any sample has a composition offset, stss, stsz,
/// stsc, co64 with absolute file offsets) + the 8- or 16-byte mdat box header (64-bit
/// largesize when the data exceeds u32). The caller appends the chunks' sample bytes
/// in order right after the returned bytes; the total file length is
/// `header.len() + sum(sample sizes)`. Deterministic (all box times are 0).
///
/// Chunks without samples are left out. Panics if a chunk's `params` index is out of
/// range of `params`.
pub fn progressive_header(params: &[VideoParams], chunks: &[Chunk<'_>]) -> Vec<u8> {
    progressive_header_with_tracks(params, chunks, &[])
}

/// As [`progressive_header`], with extra tracks (audio, metadata) after the
/// video track (track ids 2, 3, …). The `mdat` holds, for each video chunk `i`
/// in turn, video chunk `i` then chunk `i` of each extra track in order; the
/// caller appends the bytes in that order. With no extra tracks the bytes are
/// exactly those of [`progressive_header`].
pub fn progressive_header_with_tracks(
    params: &[VideoParams],
    chunks: &[Chunk<'_>],
    extra: &[ExtraTrack<'_>],
) -> Vec<u8> {
    for c in chunks {
        assert!(
            c.params < params.len(),
            "chunk params index {} out of range ({} params)",
            c.params,
            params.len()
        );
    }
    // File layout: offsets (relative to the start of mdat's data) of every
    // non-empty chunk, per track, in file order.
    let mut video_offsets: Vec<u64> = Vec::new();
    let mut extra_offsets: Vec<Vec<u64>> = vec![Vec::new(); extra.len()];
    let mut data_len = 0u64;
    for (i, c) in chunks.iter().enumerate() {
        if !c.samples.is_empty() {
            video_offsets.push(data_len);
            data_len += c.samples.iter().map(|s| u64::from(s.size)).sum::<u64>();
        }
        for (t, track) in extra.iter().enumerate() {
            let part = track.chunks.get(i).copied().unwrap_or(&[]);
            if !part.is_empty() {
                extra_offsets[t].push(data_len);
                data_len += part.iter().map(|s| u64::from(s.size)).sum::<u64>();
            }
        }
    }
    let chunks: Vec<&Chunk<'_>> = chunks.iter().filter(|c| !c.samples.is_empty()).collect();
    let samples = || chunks.iter().flat_map(|c| c.samples.iter());
    let duration: u64 = samples().map(|s| u64::from(s.duration_90k)).sum();
    let sample_count = samples().count();
    let (width, height) = chunks
        .first()
        .map(|c| (params[c.params].width, params[c.params].height))
        .or_else(|| params.first().map(|p| (p.width, p.height)))
        .unwrap_or((0, 0));
    // Each extra track's length in movie time, its delay included.
    let extra_movie_durations: Vec<u64> = extra
        .iter()
        .map(|t| t.delay_90k + to_movie_time(track_duration(t), t.timescale))
        .collect();
    let movie_duration = extra_movie_durations
        .iter()
        .copied()
        .fold(duration, u64::max);

    let mut w = BoxWriter::new();
    write_ftyp(&mut w, b"isom", &[b"isom", b"iso2", b"avc1", b"mp41"]);
    let moov = w.start(b"moov");
    write_mvhd_next(&mut w, movie_duration, TRACK_ID + 1 + extra.len() as u32);
    let trak = w.start(b"trak");
    write_tkhd(&mut w, duration, width, height);
    let mdia = w.start(b"mdia");
    write_mdhd(&mut w, duration);
    write_hdlr(&mut w);
    let minf = w.start(b"minf");
    write_vmhd_dinf(&mut w);
    let stbl = w.start(b"stbl");
    write_stsd(&mut w, params);

    write_stts(&mut w, samples().map(|s| s.duration_90k));

    // ctts (version 1, signed offsets): only when some sample is reordered, so
    // streams without B-frames keep their exact bytes.
    if samples().any(|s| s.composition_offset_90k != 0) {
        let mut runs: Vec<(u32, i32)> = Vec::new();
        for s in samples() {
            match runs.last_mut() {
                Some((count, off)) if *off == s.composition_offset_90k => *count += 1,
                _ => runs.push((1, s.composition_offset_90k)),
            }
        }
        let b = w.start_full(b"ctts", 1, 0);
        w.u32(runs.len() as u32);
        for (count, off) in runs {
            w.u32(count);
            w.u32(off as u32);
        }
        w.end(b);
    }

    // stss: 1-based numbers of sync samples.
    let b = w.start_full(b"stss", 0, 0);
    let keys: Vec<u32> = samples()
        .enumerate()
        .filter(|(_, s)| s.is_key)
        .map(|(i, _)| i as u32 + 1)
        .collect();
    w.u32(keys.len() as u32);
    for k in keys {
        w.u32(k);
    }
    w.end(b);

    write_stsz(&mut w, sample_count, samples().map(|s| s.size));
    write_stsc(
        &mut w,
        chunks
            .iter()
            .map(|c| (c.samples.len() as u32, c.params as u32 + 1)),
    );
    let mut patches = vec![write_co64(&mut w, video_offsets)];

    w.end(stbl);
    w.end(minf);
    w.end(mdia);
    w.end(trak);
    for (t, track) in extra.iter().enumerate() {
        let offsets = std::mem::take(&mut extra_offsets[t]);
        patches.push(write_extra_trak(
            &mut w,
            TRACK_ID + 1 + t as u32,
            track,
            extra_movie_durations[t],
            offsets,
        ));
    }
    w.end(moov);

    let large = data_len + 8 > u64::from(u32::MAX);
    let mdat_header_len: u64 = if large { 16 } else { 8 };
    let data_start = w.buf.len() as u64 + mdat_header_len;
    for (pos, offsets) in patches {
        for (i, off) in offsets.iter().enumerate() {
            let at = pos + 8 * i;
            w.buf[at..at + 8].copy_from_slice(&(data_start + off).to_be_bytes());
        }
    }
    if large {
        w.u32(1);
        w.bytes(b"mdat");
        w.u64(data_len + 16);
    } else {
        w.u32((data_len + 8) as u32);
        w.bytes(b"mdat");
    }
    w.buf
}

/// Sum of an extra track's sample durations (its timescale).
fn track_duration(t: &ExtraTrack<'_>) -> u64 {
    t.chunks
        .iter()
        .flat_map(|c| c.iter())
        .map(|s| u64::from(s.duration))
        .sum()
}

/// `d` units of `timescale` in the movie timescale (90 kHz), rounded.
fn to_movie_time(d: u64, timescale: u32) -> u64 {
    let ts = u128::from(timescale.max(1));
    ((u128::from(d) * u128::from(TIMESCALE) + ts / 2) / ts) as u64
}

/// stts: run-length coded durations.
fn write_stts(w: &mut BoxWriter, durations: impl Iterator<Item = u32>) {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for d in durations {
        match runs.last_mut() {
            Some((count, delta)) if *delta == d => *count += 1,
            _ => runs.push((1, d)),
        }
    }
    let b = w.start_full(b"stts", 0, 0);
    w.u32(runs.len() as u32);
    for (count, delta) in runs {
        w.u32(count);
        w.u32(delta);
    }
    w.end(b);
}

/// stsz: per-sample sizes.
fn write_stsz(w: &mut BoxWriter, count: usize, sizes: impl Iterator<Item = u32>) {
    let b = w.start_full(b"stsz", 0, 0);
    w.u32(0);
    w.u32(count as u32);
    for size in sizes {
        w.u32(size);
    }
    w.end(b);
}

/// stsc: runs of chunks with equal (sample count, sample description index).
fn write_stsc(w: &mut BoxWriter, chunks: impl Iterator<Item = (u32, u32)>) {
    let mut entries: Vec<(u32, u32, u32)> = Vec::new();
    for (i, (per_chunk, desc)) in chunks.enumerate() {
        match entries.last() {
            Some(&(_, n, d)) if n == per_chunk && d == desc => {}
            _ => entries.push((i as u32 + 1, per_chunk, desc)),
        }
    }
    let b = w.start_full(b"stsc", 0, 0);
    w.u32(entries.len() as u32);
    for (first, n, d) in entries {
        w.u32(first);
        w.u32(n);
        w.u32(d);
    }
    w.end(b);
}

/// co64 with zeroed offsets; returns where they start and the offsets
/// (relative to the mdat data) to patch in once the header length is known.
fn write_co64(w: &mut BoxWriter, offsets: Vec<u64>) -> (usize, Vec<u64>) {
    let b = w.start_full(b"co64", 0, 0);
    w.u32(offsets.len() as u32);
    let pos = w.buf.len();
    w.zeros(8 * offsets.len());
    w.end(b);
    (pos, offsets)
}

/// An expandable-size descriptor (ISO/IEC 14496-1) around `body`.
fn descriptor(w: &mut BoxWriter, tag: u8, body: &[u8]) {
    let len = u32::try_from(body.len()).expect("descriptor larger than 4 GiB");
    assert!(len < 1 << 28, "descriptor larger than 256 MiB");
    w.bytes(&[tag]);
    // Four bytes of 7 bits each, continuation bit on all but the last.
    for shift in [21, 14, 7] {
        w.bytes(&[0x80 | ((len >> shift) & 0x7f) as u8]);
    }
    w.bytes(&[(len & 0x7f) as u8]);
    w.bytes(body);
}

/// The `esds` box of an AAC track: an ES_Descriptor holding the
/// DecoderConfigDescriptor (MPEG-4 audio, audio stream) with the
/// AudioSpecificConfig as its DecoderSpecificInfo, and an SLConfigDescriptor.
fn write_esds(w: &mut BoxWriter, config: &[u8]) {
    let mut dsi = BoxWriter::new();
    descriptor(&mut dsi, 0x05, config); // DecoderSpecificInfo
    let mut dcd = BoxWriter::new();
    dcd.bytes(&[0x40]); // objectTypeIndication: MPEG-4 audio (ISO/IEC 14496-3)
    dcd.bytes(&[(0x05 << 2) | 1]); // streamType audio, upStream 0, reserved 1
    dcd.bytes(&[0, 0, 0]); // bufferSizeDB (unknown)
    dcd.u32(0); // maxBitrate (unknown)
    dcd.u32(0); // avgBitrate (unknown)
    dcd.bytes(&dsi.buf);
    let mut es = BoxWriter::new();
    es.u16(0); // ES_ID
    es.bytes(&[0]); // no dependency, URL or OCR stream; priority 0
    descriptor(&mut es, 0x04, &dcd.buf); // DecoderConfigDescriptor
    descriptor(&mut es, 0x06, &[0x02]); // SLConfigDescriptor: predefined MP4
    let b = w.start_full(b"esds", 0, 0);
    descriptor(w, 0x03, &es.buf); // ES_Descriptor
    w.end(b);
}

/// The sample entry of an extra track: `mp4a` + `esds`, or `mett`.
fn write_extra_stsd(w: &mut BoxWriter, codec: &TrackCodec, timescale: u32) {
    let b = w.start_full(b"stsd", 0, 0);
    w.u32(1);
    match codec {
        TrackCodec::Aac { channels, config } => {
            let e = w.start(b"mp4a");
            w.zeros(6); // reserved
            w.u16(1); // data_reference_index
            w.zeros(8); // reserved
            w.u16(*channels);
            w.u16(16); // samplesize
            w.u16(0); // pre_defined
            w.u16(0); // reserved
                      // samplerate as 16.16 fixed point (0 when it does not fit; the
                      // decoder takes the rate from the AudioSpecificConfig).
            w.u32(u32::from(u16::try_from(timescale).unwrap_or(0)) << 16);
            write_esds(w, config);
            w.end(e);
        }
        TrackCodec::OnvifMetadata => {
            let e = w.start(b"mett");
            w.zeros(6); // reserved
            w.u16(1); // data_reference_index
            w.bytes(b"\0"); // content_encoding: none
            w.bytes(ONVIF_METADATA_MIME.as_bytes());
            w.bytes(b"\0");
            w.end(e);
        }
    }
    w.end(b);
}

/// One extra track's `trak`; returns its co64 patch.
fn write_extra_trak(
    w: &mut BoxWriter,
    track_id: u32,
    t: &ExtraTrack<'_>,
    movie_duration: u64,
    offsets: Vec<u64>,
) -> (usize, Vec<u64>) {
    let audio = matches!(t.codec, TrackCodec::Aac { .. });
    let media_duration = track_duration(t);
    let trak = w.start(b"trak");
    write_tkhd_track(
        w,
        track_id,
        movie_duration,
        0,
        0,
        if audio { 0x0100 } else { 0 },
    );
    if t.delay_90k > 0 {
        // An empty edit for the delay, then the whole media.
        let edts = w.start(b"edts");
        let played = movie_duration - t.delay_90k;
        let wide = u32::try_from(movie_duration).is_err() || u32::try_from(media_duration).is_err();
        let b = w.start_full(b"elst", u8::from(wide), 0);
        w.u32(2);
        for (segment, media_time) in [(t.delay_90k, -1i64), (played, 0)] {
            if wide {
                w.u64(segment);
                w.u64(media_time as u64);
            } else {
                w.u32(segment as u32);
                w.u32(media_time as i32 as u32);
            }
            w.u16(1); // media_rate_integer
            w.u16(0); // media_rate_fraction
        }
        w.end(b);
        w.end(edts);
    }
    let mdia = w.start(b"mdia");
    write_mdhd_scale(w, t.timescale, media_duration);
    if audio {
        write_hdlr_kind(w, b"soun", b"SoundHandler\0");
    } else {
        write_hdlr_kind(w, b"meta", b"OnvifMetadataHandler\0");
    }
    let minf = w.start(b"minf");
    if audio {
        let b = w.start_full(b"smhd", 0, 0);
        w.u16(0); // balance
        w.u16(0); // reserved
        w.end(b);
    } else {
        let b = w.start_full(b"nmhd", 0, 0);
        w.end(b);
    }
    write_dinf(w);
    let stbl = w.start(b"stbl");
    write_extra_stsd(w, t.codec, t.timescale);
    let all = || t.chunks.iter().flat_map(|c| c.iter());
    write_stts(w, all().map(|s| s.duration));
    write_stsz(w, all().count(), all().map(|s| s.size));
    write_stsc(
        w,
        t.chunks
            .iter()
            .filter(|c| !c.is_empty())
            .map(|c| (c.len() as u32, 1)),
    );
    let patch = write_co64(w, offsets);
    w.end(stbl);
    w.end(minf);
    w.end(mdia);
    w.end(trak);
    patch
}

/// The fragmented-MP4 init segment for live view in a browser via Media Source
/// Extensions: ftyp (iso5/isom/avc1/mp41) + moov with mvex/trex, one video track
/// (id 1), timescale 90000.
pub fn fmp4_init(params: &VideoParams) -> Vec<u8> {
    let mut w = BoxWriter::new();
    write_ftyp(&mut w, b"iso5", &[b"iso5", b"isom", b"avc1", b"mp41"]);
    let moov = w.start(b"moov");
    write_mvhd(&mut w, 0);
    let trak = w.start(b"trak");
    write_tkhd(&mut w, 0, params.width, params.height);
    let mdia = w.start(b"mdia");
    write_mdhd(&mut w, 0);
    write_hdlr(&mut w);
    let minf = w.start(b"minf");
    write_vmhd_dinf(&mut w);
    let stbl = w.start(b"stbl");
    write_stsd(&mut w, std::slice::from_ref(params));
    for fourcc in [b"stts", b"stsc", b"stco"] {
        let b = w.start_full(fourcc, 0, 0);
        w.u32(0);
        w.end(b);
    }
    let b = w.start_full(b"stsz", 0, 0);
    w.u32(0);
    w.u32(0);
    w.end(b);
    w.end(stbl);
    w.end(minf);
    w.end(mdia);
    w.end(trak);
    let mvex = w.start(b"mvex");
    let trex = w.start_full(b"trex", 0, 0);
    w.u32(TRACK_ID);
    w.u32(1); // default_sample_description_index
    w.u32(0); // default_sample_duration
    w.u32(0); // default_sample_size
    w.u32(0); // default_sample_flags
    w.end(trex);
    w.end(mvex);
    w.end(moov);
    w.buf
}

/// Sample flags of a sync sample: sample_depends_on = 2 (depends on no other).
const FLAGS_KEY: u32 = 0x0200_0000;
/// Sample flags of a non-sync sample: sample_depends_on = 1, sample_is_non_sync_sample.
const FLAGS_NON_KEY: u32 = 0x0101_0000;

/// One media fragment: moof (mfhd with `sequence`, traf with tfhd
/// default-base-is-moof, tfdt version 1 with `base_decode_time_90k`, trun with data
/// offset and per-sample duration, size and flags) + mdat holding `data` (the
/// samples' bytes concatenated; the sum of sizes must equal `data.len()`).
pub fn fmp4_fragment(
    sequence: u32,
    base_decode_time_90k: u64,
    samples: &[Sample],
    data: &[u8],
) -> Vec<u8> {
    debug_assert_eq!(
        samples.iter().map(|s| u64::from(s.size)).sum::<u64>(),
        data.len() as u64,
        "sample sizes must add up to the data length"
    );
    let mut w = BoxWriter::new();
    w.buf.reserve(128 + 12 * samples.len() + data.len());
    let moof = w.start(b"moof");
    let mfhd = w.start_full(b"mfhd", 0, 0);
    w.u32(sequence);
    w.end(mfhd);
    let traf = w.start(b"traf");
    let tfhd = w.start_full(b"tfhd", 0, 0x02_0000); // default-base-is-moof
    w.u32(TRACK_ID);
    w.end(tfhd);
    let tfdt = w.start_full(b"tfdt", 1, 0);
    w.u64(base_decode_time_90k);
    w.end(tfdt);
    // data-offset, sample-duration, sample-size, sample-flags present; signed
    // composition offsets (trun version 1) only when some sample is reordered.
    let reordered = samples.iter().any(|s| s.composition_offset_90k != 0);
    let (version, cts_flag) = if reordered { (1, 0x000800) } else { (0, 0) };
    let trun = w.start_full(
        b"trun",
        version,
        0x000001 | 0x000100 | 0x000200 | 0x000400 | cts_flag,
    );
    w.u32(samples.len() as u32);
    let data_offset_pos = w.buf.len();
    w.u32(0);
    for s in samples {
        w.u32(s.duration_90k);
        w.u32(s.size);
        w.u32(if s.is_key { FLAGS_KEY } else { FLAGS_NON_KEY });
        if reordered {
            w.u32(s.composition_offset_90k as u32);
        }
    }
    w.end(trun);
    w.end(traf);
    w.end(moof);
    let large = data.len() as u64 + 8 > u64::from(u32::MAX);
    let mdat_header_len = if large { 16 } else { 8 };
    let data_offset = (w.buf.len() - moof + mdat_header_len) as u32;
    w.buf[data_offset_pos..data_offset_pos + 4].copy_from_slice(&data_offset.to_be_bytes());
    if large {
        w.u32(1);
        w.bytes(b"mdat");
        w.u64(data.len() as u64 + 16);
    } else {
        w.u32(data.len() as u32 + 8);
        w.bytes(b"mdat");
    }
    w.bytes(data);
    w.buf
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn params() -> VideoParams {
        VideoParams {
            width: 640,
            height: 360,
            sps: vec![0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0x80],
            pps: vec![0x68, 0xce, 0x3c, 0x80],
        }
    }

    /// The bytes of the first box `fourcc` in `b` (header included).
    fn find<'a>(b: &'a [u8], fourcc: &[u8; 4]) -> &'a [u8] {
        let at = b
            .windows(4)
            .position(|w| w == fourcc)
            .unwrap_or_else(|| panic!("no {fourcc:?}"))
            - 4;
        let size = u32::from_be_bytes(b[at..at + 4].try_into().unwrap()) as usize;
        &b[at..at + size]
    }

    #[test]
    fn esds_golden() {
        let mut w = BoxWriter::new();
        write_esds(&mut w, &[0x11, 0x90]);
        assert_eq!(
            hex(&w.buf),
            concat!(
                "00000033", "65736473", "00000000", // size, esds, version/flags
                "03808080", "22", "0000", "00", // ES_Descriptor, ES_ID, flags
                "04808080", "14", "40", "15", "000000", "00000000", "00000000", "05808080", "02",
                "1190", // DecoderSpecificInfo: the ASC
                "06808080", "01", "02", // SLConfigDescriptor
            )
        );
    }

    #[test]
    fn mett_entry_golden() {
        let mut w = BoxWriter::new();
        write_extra_stsd(&mut w, &TrackCodec::OnvifMetadata, 90_000);
        let mett = find(&w.buf, b"mett");
        // size, "mett", 6 reserved bytes, data_reference_index 1, an empty
        // content_encoding, the MIME type.
        let mut want = (mett.len() as u32).to_be_bytes().to_vec();
        want.extend_from_slice(b"mett\0\0\0\0\0\0\0\x01\0");
        want.extend_from_slice(b"application/vnd.onvif.metadata+xml\0");
        assert_eq!(mett, &want[..]);
    }

    #[test]
    fn extra_tracks_interleave_after_each_video_chunk() {
        let p = params();
        let v = [Sample::new(100, 3600, true), Sample::new(50, 3600, false)];
        let chunks = [
            Chunk {
                params: 0,
                samples: &v,
            },
            Chunk {
                params: 0,
                samples: &v,
            },
        ];
        let codec = TrackCodec::Aac {
            channels: 1,
            config: vec![0x11, 0x90],
        };
        let a = [TrackSample {
            size: 7,
            duration: 1024,
        }; 3];
        let meta = TrackCodec::OnvifMetadata;
        let m = [TrackSample {
            size: 20,
            duration: 7200,
        }];
        let extra = [
            ExtraTrack {
                codec: &codec,
                timescale: 48_000,
                delay_90k: 0,
                chunks: vec![&a, &a],
            },
            ExtraTrack {
                codec: &meta,
                timescale: 90_000,
                delay_90k: 900,
                chunks: vec![&m, &[]],
            },
        ];
        let h = progressive_header_with_tracks(std::slice::from_ref(&p), &chunks, &extra);
        // Without extra tracks: exactly the video-only bytes.
        assert_eq!(
            progressive_header_with_tracks(std::slice::from_ref(&p), &chunks, &[]),
            progressive_header(std::slice::from_ref(&p), &chunks)
        );
        // mdat = video 150, audio 21, metadata 20, video 150, audio 21.
        let mdat = h.len() - 8;
        assert_eq!(&h[mdat + 4..], b"mdat");
        assert_eq!(
            u32::from_be_bytes(h[mdat..mdat + 4].try_into().unwrap()),
            8 + 362
        );
        let d = h.len() as u64;
        let co64 = |n: usize| -> Vec<u64> {
            let mut at = 0;
            let mut found = Vec::new();
            for _ in 0..=n {
                let b = find(&h[at..], b"co64");
                found = b[16..]
                    .chunks(8)
                    .map(|c| u64::from_be_bytes(c.try_into().unwrap()))
                    .collect();
                at += h[at..].windows(4).position(|w| w == b"co64").unwrap() + 4;
            }
            found
        };
        assert_eq!(co64(0), vec![d, d + 191]);
        assert_eq!(co64(1), vec![d + 150, d + 341]);
        assert_eq!(co64(2), vec![d + 171]);
        // The metadata track starts 10 ms late: an empty edit, then its media.
        let elst = find(&h, b"elst");
        assert_eq!(
            hex(&elst[12..]),
            concat!(
                "00000002", "00000384", "ffffffff", "00010000", // 900 ticks empty
                "00001c20", "00000000", "00010000", // 7200 ticks of media from 0
            )
        );
        // Three tracks; next_track_ID = 4.
        let mvhd = find(&h, b"mvhd");
        assert_eq!(&mvhd[mvhd.len() - 4..], &4u32.to_be_bytes());
    }
}
