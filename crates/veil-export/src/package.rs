//! Building a package in one streaming pass (`docs/design/export.md`).
//!
//! [`plan`] turns a request into files: per camera and interval, minus the
//! excluded intervals, one MP4 cut at keyframes (a piece that follows an
//! excluded interval starts at the first keyframe after it, so no frame of
//! an excluded interval is in any file). [`write()`] then streams a tar
//! archive through `age` into the output: `README.txt`, `allowed_signers`
//! and `export-key.pub` first, then each MP4 (segments decrypted one at a
//! time, hashed as they pass), then `manifest.json` (which holds every
//! file's SHA-256), its signature `manifest.json.sig` and `SHA256SUMS`.
//! Memory stays bounded by one segment whatever the package's size.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::sync::Arc;

use ring::digest::{Context, SHA256};
use veil_base::{CameraId, SegmentId, Time90k};
use veil_media::redaction::{self, RedactedVideo, Redaction, Redactor, SourceFrame};
use veil_store::chain::{ChainLink, LinkKind};
use veil_store::playback::{self, Mp4Plan};
use veil_store::{LiftGrant, Segment, Store};
use zeroize::Zeroizing;

use crate::key::{allowed_signers_line, ExportKey};
use crate::manifest::{
    Anchor, CameraEntry, ChainSection, CheckpointJson, EntryJson, FileEntry, Gap, Interval,
    LinkJson, Manifest, Redacted, SegmentRef, Span, VideoEntry, FORMAT, FORMAT_VERSION,
};
use crate::{readme, ExportError};

/// Names of the package's fixed files.
pub mod names {
    /// The manifest.
    pub const MANIFEST: &str = "manifest.json";
    /// Its SSHSIG signature.
    pub const SIGNATURE: &str = "manifest.json.sig";
    /// `ssh-keygen -Y verify -f allowed_signers`.
    pub const ALLOWED_SIGNERS: &str = "allowed_signers";
    /// The export public key, one OpenSSH line.
    pub const PUBLIC_KEY: &str = "export-key.pub";
    /// `sha256sum -c SHA256SUMS`.
    pub const SUMS: &str = "SHA256SUMS";
    /// Plain-words instructions.
    pub const README: &str = "README.txt";
}

/// A camera to export.
#[derive(Clone, Debug)]
pub struct CameraRequest {
    /// Its id.
    pub id: CameraId,
    /// Its name.
    pub name: String,
    /// Its area kind.
    pub area: String,
    /// Its documented purposes.
    pub purposes: Vec<String>,
    /// Intervals `[start, end)` to export.
    pub intervals: Vec<(Time90k, Time90k)>,
}

/// What to put in a package.
#[derive(Clone, Debug)]
pub struct Request {
    /// The package's id.
    pub package_id: String,
    /// The installation's id.
    pub system_id: String,
    /// When it is made.
    pub created: Time90k,
    /// The requesting user's pseudonym.
    pub creator: String,
    /// Pseudonyms of who authorised it.
    pub authorised_by: Vec<String>,
    /// When the stored copy expires.
    pub expires: Time90k,
    /// The cameras.
    pub cameras: Vec<CameraRequest>,
    /// Intervals left out of every camera.
    pub excluded: Vec<(Time90k, Time90k)>,
    /// Lift grants per camera: with them the `original` rendition is
    /// exported, else each camera's default view (`protected` where masks
    /// apply, else `main`).
    pub lift: HashMap<CameraId, Arc<LiftGrant>>,
    /// Bystander redaction: boxes painted into the exported video of their
    /// camera (a file with any is re-encoded; stored video is untouched).
    pub redactions: Vec<Redaction>,
    /// Files never start before their interval: the first keyframe at or
    /// after its start, not the one before (a data subject's package holds
    /// nothing beyond the intervals marked as showing them).
    pub within_intervals: bool,
}

impl Request {
    /// `original` when masks are lifted, else `protected`.
    pub fn rendition(&self) -> &'static str {
        if self.lift.is_empty() {
            "protected"
        } else {
            veil_store::ORIGINAL_RENDITION
        }
    }
}

/// One planned MP4.
#[derive(Clone, Debug)]
pub struct PlannedFile {
    /// Path inside the package.
    pub path: String,
    /// The camera.
    pub camera: CameraId,
    /// The part of the request it answers.
    pub requested: (Time90k, Time90k),
    /// The MP4's layout.
    pub mp4: Mp4Plan,
    /// Segments recorded in the span that could not be read.
    pub missing: Vec<veil_store::db::SegmentRow>,
}

/// The planned files.
#[derive(Clone, Debug)]
pub struct Plan {
    /// MP4s in package order.
    pub files: Vec<PlannedFile>,
}

impl Plan {
    /// Bytes of video to write.
    pub fn video_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.mp4.len).sum()
    }
}

/// `[start, end)` minus `excluded`, in order; each piece says whether it
/// begins where an excluded interval ends.
pub fn pieces(
    start: Time90k,
    end: Time90k,
    excluded: &[(Time90k, Time90k)],
) -> Vec<(Time90k, Time90k)> {
    let mut ex: Vec<(Time90k, Time90k)> = excluded
        .iter()
        .copied()
        .filter(|(a, b)| a < b && *b > start && *a < end)
        .collect();
    ex.sort();
    let mut out = Vec::new();
    let mut at = start;
    for (a, b) in ex {
        if a > at {
            out.push((at, a.min(end)));
        }
        if b > at {
            at = b;
        }
    }
    if at < end {
        out.push((at, end));
    }
    out
}

fn overlaps_any(a: Time90k, b: Time90k, spans: &[(Time90k, Time90k)]) -> bool {
    spans.iter().any(|(x, y)| *x < b && a < *y)
}

/// Where a piece's file starts: the keyframe at or before `start` (the GOP
/// that shows `start`), unless that GOP reaches back into an excluded
/// interval, then the first keyframe at or after `start`.
fn cut_start(
    segs: &[Arc<Segment>],
    start: Time90k,
    end: Time90k,
    excluded: &[(Time90k, Time90k)],
) -> Option<Time90k> {
    let kfs = playback::keyframe_times(segs);
    let before = kfs.iter().rev().find(|k| **k <= start).copied();
    if let Some(k) = before {
        if !overlaps_any(k, start, excluded) {
            return Some(k);
        }
    }
    kfs.into_iter().find(|k| *k >= start && *k < end)
}

fn file_name(camera: CameraId, start: Time90k, taken: &mut HashMap<String, u32>) -> String {
    let stamp: String = start
        .to_rfc3339()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let base = format!("video/camera-{}-{stamp}", camera.0);
    let n = taken.entry(base.clone()).or_insert(0);
    *n += 1;
    if *n == 1 {
        format!("{base}.mp4")
    } else {
        format!("{base}-{n}.mp4")
    }
}

/// Plans the MP4s of `req` (reads segment indexes: blocking).
pub fn plan(store: &Store, req: &Request) -> Result<Plan, ExportError> {
    let mut files = Vec::new();
    let mut taken = HashMap::new();
    for cam in &req.cameras {
        let grant = req.lift.get(&cam.id);
        for &(start, end) in &cam.intervals {
            for (a, b) in pieces(start, end, &req.excluded) {
                let (segs, rows) = match grant {
                    Some(g) => (
                        store.original_segments(g, a, b)?,
                        store
                            .db
                            .segments(cam.id, veil_store::ORIGINAL_RENDITION, a, b)?,
                    ),
                    None => (
                        store.default_segments(cam.id, a, b)?,
                        store.db.default_segments(cam.id, a, b)?,
                    ),
                };
                let segs: Vec<Arc<Segment>> = segs.into_iter().map(Arc::new).collect();
                let read: Vec<SegmentId> = segs.iter().map(|s| s.row.id).collect();
                let missing: Vec<_> = rows.into_iter().filter(|r| !read.contains(&r.id)).collect();
                let from = if req.within_intervals {
                    playback::keyframe_times(&segs)
                        .into_iter()
                        .find(|k| *k >= a && *k < b)
                } else {
                    cut_start(&segs, a, b, &req.excluded)
                };
                let Some(from) = from else {
                    continue;
                };
                let Some(mp4) = playback::plan(&segs, from, b) else {
                    continue;
                };
                files.push(PlannedFile {
                    path: file_name(cam.id, mp4.start_90k, &mut taken),
                    camera: cam.id,
                    requested: (a, b),
                    mp4,
                    missing,
                });
            }
        }
    }
    if files.is_empty() {
        return Err(ExportError::Empty);
    }
    Ok(Plan { files })
}

/// How the package is encrypted.
pub enum Encryption {
    /// To a passphrase (scrypt).
    Passphrase(age::secrecy::SecretString),
    /// To age (`age1…`) or SSH (`ssh-ed25519`, `ssh-rsa`) public keys.
    Recipients(Vec<Box<dyn age::Recipient + Send>>),
    /// Not encrypted (a separate permission, recorded).
    None,
}

impl Encryption {
    /// `passphrase`, `recipients` or `none`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Encryption::Passphrase(_) => "passphrase",
            Encryption::Recipients(_) => "recipients",
            Encryption::None => "none",
        }
    }
}

/// Parses recipients given as `age1…` or OpenSSH public-key lines.
pub fn parse_recipients(list: &[String]) -> Result<Vec<Box<dyn age::Recipient + Send>>, String> {
    let mut out: Vec<Box<dyn age::Recipient + Send>> = Vec::new();
    for (i, r) in list.iter().enumerate() {
        let r = r.trim();
        if r.starts_with("age1") {
            let k: age::x25519::Recipient = r
                .parse()
                .map_err(|e| format!("recipients[{i}] is not an age public key: {e}"))?;
            out.push(Box::new(k));
        } else if r.starts_with("ssh-") {
            let k: age::ssh::Recipient = r.parse().map_err(|e| {
                format!("recipients[{i}] is not a usable SSH public key (ssh-ed25519 or ssh-rsa): {e:?}")
            })?;
            out.push(Box::new(k));
        } else {
            return Err(format!(
                "recipients[{i}] must be an age public key (age1…) or an SSH public key (ssh-ed25519 …)"
            ));
        }
    }
    if out.is_empty() {
        return Err("recipients is empty".into());
    }
    Ok(out)
}

/// What [`write()`] made.
#[derive(Clone, Debug)]
pub struct Written {
    /// The manifest written (and signed).
    pub manifest: Manifest,
    /// SHA-256 of `manifest.json`.
    pub manifest_sha256: String,
    /// Bytes of the package as stored (encrypted).
    pub package_bytes: u64,
    /// SHA-256 of the package as stored.
    pub package_sha256: String,
}

/// Counts and hashes what passes through to `inner`.
struct Hashing<W> {
    inner: W,
    hash: Context,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn finish_hash(c: Context) -> String {
    hex::encode(c.finish().as_ref())
}

fn sha256(b: &[u8]) -> String {
    hex::encode(ring::digest::digest(&SHA256, b).as_ref())
}

/// Reads one planned MP4: the header, then each part's media, one segment
/// decrypted at a time (read from where it was decrypted, never copied),
/// hashing every byte.
struct Mp4Reader<'a> {
    store: &'a Store,
    handle: &'a tokio::runtime::Handle,
    lift: Option<&'a LiftGrant>,
    plan: &'a Mp4Plan,
    /// Whether the header has been started.
    started: bool,
    /// Whether `[at, until)` is of the header (else of `media`).
    in_header: bool,
    /// The next part.
    step: usize,
    /// The segment being read (or `None` while the header is).
    media: Option<(SegmentId, Arc<Zeroizing<Vec<u8>>>)>,
    /// What is left to hand out of the current step: `[at, until)` of the
    /// header or of `media`.
    at: usize,
    until: usize,
    hash: Context,
    progress: &'a mut dyn FnMut(u64),
}

impl Mp4Reader<'_> {
    /// Moves to the next step with bytes; false at the end.
    fn next_step(&mut self) -> std::io::Result<bool> {
        loop {
            let Some(part) = self.plan.parts.get(self.step) else {
                return Ok(false);
            };
            self.step += 1;
            let id = part.segment.row.id;
            let reuse = matches!(&self.media, Some((c, _)) if *c == id);
            if !reuse {
                // The previous segment's plaintext is dropped (and zeroed)
                // before the next is read: one segment in memory at a time.
                self.media = None;
                let m = self
                    .handle
                    .block_on(self.store.read_media_with(&part.segment, self.lift))
                    .map_err(|e| std::io::Error::other(format!("segment {}: {e}", id.0)))?;
                self.media = Some((id, Arc::new(m)));
            }
            let len = self.media.as_ref().map(|(_, m)| m.len()).unwrap_or(0);
            if part.media_to as usize > len {
                return Err(std::io::Error::other(format!(
                    "segment {} is shorter than its index",
                    id.0
                )));
            }
            self.in_header = false;
            self.at = part.media_from as usize;
            self.until = part.media_to as usize;
            if self.at < self.until {
                return Ok(true);
            }
        }
    }
}

impl Read for Mp4Reader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.until {
            if !self.started {
                self.started = true;
                self.in_header = true;
                self.at = 0;
                self.until = self.plan.header.len();
            } else if !self.next_step()? {
                return Ok(0);
            }
        }
        let src: &[u8] = match &self.media {
            Some((_, m)) if !self.in_header => m,
            _ => &self.plan.header,
        };
        let n = out.len().min(self.until - self.at);
        out[..n].copy_from_slice(&src[self.at..self.at + n]);
        self.at += n;
        self.hash.update(&out[..n]);
        (self.progress)(n as u64);
        Ok(n)
    }
}

fn header(path: &str, len: u64, mtime: u64) -> Result<tar::Header, ExportError> {
    let mut h = tar::Header::new_ustar();
    h.set_path(path)
        .map_err(|e| ExportError::Io(format!("{path}: {e}")))?;
    h.set_size(len);
    h.set_mode(0o644);
    h.set_mtime(mtime);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    Ok(h)
}

/// The package's top directory (every path in the archive starts with it).
pub fn top_dir(package_id: &str) -> String {
    format!("veil-export-{package_id}")
}

/// The principal of `allowed_signers`.
pub fn principal(system_id: &str) -> String {
    format!("export@{system_id}")
}

/// The anchored chain links that cover the planned files' segments.
pub fn chain_sections(store: &Store, plan: &Plan) -> Result<Vec<ChainSection>, ExportError> {
    // (camera, rendition) -> (lowest, highest) link seq of exported or
    // missing segments.
    let mut spans: BTreeMap<(i64, String), (i64, i64)> = BTreeMap::new();
    let mut note = |link: ChainLink| {
        let e = spans
            .entry((link.camera.0, link.rendition.clone()))
            .or_insert((link.seq, link.seq));
        e.0 = e.0.min(link.seq);
        e.1 = e.1.max(link.seq);
    };
    for f in plan.files.iter() {
        let ids = f
            .mp4
            .parts
            .iter()
            .map(|p| p.segment.row.id)
            .chain(f.missing.iter().map(|r| r.id));
        for id in ids {
            let link = store.segment_link(id)?.ok_or_else(|| {
                ExportError::Chain(format!("segment {} has no recording-chain link", id.0))
            })?;
            note(link);
        }
    }
    let mut out = Vec::new();
    for ((camera, rendition), (lo, hi)) in spans {
        let anchor = veil_audit::recording_anchor(&store.db, CameraId(camera), &rendition, hi)
            .map_err(|e| ExportError::Chain(e.to_string()))?
            .ok_or_else(|| {
                ExportError::Chain(format!(
                    "no signed checkpoint covers camera {camera}'s {rendition} chain up to link {hi} yet"
                ))
            })?;
        // One link before the first exported one shows where the chain
        // stood before the file's start.
        let from = (lo - 1).max(1);
        let links = store.chain_links(CameraId(camera), &rendition, from, anchor.head_seq)?;
        out.push(ChainSection {
            camera,
            rendition,
            links: links.iter().map(LinkJson::from_link).collect(),
            anchor: Anchor {
                entry: EntryJson::from_row(&anchor.entry),
                checkpoint: CheckpointJson::from_row(&anchor.checkpoint),
            },
        });
    }
    Ok(out)
}

/// What a file shows and does not, from its plan and its chains' links.
fn video_entry(f: &PlannedFile, sections: &[ChainSection]) -> VideoEntry {
    let start = f.mp4.start_90k;
    let end = Time90k(start.0 + f.mp4.duration_90k);
    let mut segments: Vec<SegmentRef> = Vec::new();
    for p in &f.mp4.parts {
        let r = &p.segment.row;
        if segments.last().map(|s| s.id) == Some(r.id.0) {
            continue;
        }
        let seq = sections
            .iter()
            .filter(|c| c.camera == r.camera_id.0 && c.rendition == r.rendition)
            .flat_map(|c| c.links.iter())
            .find(|l| l.segment == Some(r.id.0))
            .map(|l| l.seq)
            .unwrap_or(0);
        segments.push(SegmentRef {
            id: r.id.0,
            rendition: r.rendition.clone(),
            seq,
            start_90k: r.start_90k.0,
            end_90k: r.start_90k.0 + r.duration_90k,
            mask_version: r.mask_version_id,
        });
    }
    // Holes in [start, end) between the segments shown.
    let mut gaps = Vec::new();
    let mut at = start.0;
    let mut hole = |a: i64, b: i64| {
        if b <= a {
            return;
        }
        let missing = f
            .missing
            .iter()
            .any(|r| r.start_90k.0 < b && a < r.start_90k.0 + r.duration_90k);
        let removal = sections
            .iter()
            .filter(|c| c.camera == f.camera.0)
            .flat_map(|c| c.links.iter())
            .find(|l| l.kind == LinkKind::Removal && l.start_90k < b && a < l.end_90k);
        let reason = if missing {
            "unreadable".to_owned()
        } else if let Some(l) = removal {
            l.detail.clone()
        } else {
            "not_recorded".to_owned()
        };
        gaps.push(Gap {
            start: Time90k(a).to_rfc3339(),
            end: Time90k(b).to_rfc3339(),
            reason,
        });
    };
    for s in &segments {
        hole(at, s.start_90k.max(start.0));
        at = at.max(s.end_90k);
    }
    let frames = f
        .mp4
        .parts
        .iter()
        .map(|p| {
            let samples = &p.segment.index.samples;
            // Parts are byte ranges of video, then tracks; count the video
            // samples whose bytes fall in the range.
            let mut off = 0u64;
            samples
                .iter()
                .filter(|x| {
                    let here = off;
                    off += u64::from(x.size);
                    here >= p.media_from && here < p.media_to
                })
                .count() as u64
        })
        .sum();
    VideoEntry {
        camera: f.camera.0,
        start: start.to_rfc3339(),
        end: end.to_rfc3339(),
        requested: Span::new(f.requested.0, f.requested.1),
        frames,
        segments,
        segments_missing: f.missing.iter().map(|r| r.id.0).collect(),
        gaps,
        redacted: None,
    }
}

/// How a redacted file is encoded (the manifest's `redacted.encoding`).
pub const REDACTED_ENCODING: &str = "H.264 Constrained Baseline, OpenH264";

/// The boxes of `req` on `f`'s camera that exist during the file.
pub fn boxes_of(req: &Request, f: &PlannedFile) -> Vec<Redaction> {
    let (start, end) = (f.mp4.start_90k, f.mp4.start_90k.0 + f.mp4.duration_90k);
    req.redactions
        .iter()
        .filter(|b| b.camera == f.camera.0)
        .filter(|b| {
            let (a, z) = b.span();
            a.0 < end && z >= start
        })
        .cloned()
        .collect()
}

/// Per video sample: index in its segment, byte offset, decode time.
type VideoSamples = Vec<(usize, u64, i64)>;

/// The video samples of one part of a planned file: for each, its index
/// in the segment, its byte offset in the segment's media and its decode
/// time. Empty for a part of an audio or metadata track.
fn video_samples(p: &playback::Part) -> VideoSamples {
    let mut out = Vec::new();
    let (mut off, mut t) = (0u64, p.segment.row.start_90k.0);
    for (i, x) in p.segment.index.samples.iter().enumerate() {
        if off >= p.media_from && off < p.media_to {
            out.push((i, off, t));
        }
        off += u64::from(x.size);
        t += i64::from(x.duration_90k);
    }
    out
}

/// Decodes the planned file's video one segment at a time, paints `boxes`
/// and encodes it again (`veil_media::redaction`); the MP4 is held in
/// memory (about the stored piece's size). Also the source's frames and
/// bytes.
pub fn redact(
    cx: &Env<'_>,
    lift: Option<&LiftGrant>,
    f: &PlannedFile,
    boxes: Vec<Redaction>,
    progress: &mut dyn FnMut(u64),
) -> Result<(RedactedVideo, u64, u64), ExportError> {
    let fail = |e: veil_media::Error| ExportError::Redaction(e.to_string());
    let parts: Vec<(&playback::Part, VideoSamples)> = f
        .mp4
        .parts
        .iter()
        .map(|p| (p, video_samples(p)))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let (mut frames, mut bytes) = (0u64, 0u64);
    for (p, v) in &parts {
        frames += v.len() as u64;
        bytes += v
            .iter()
            .map(|(i, _, _)| u64::from(p.segment.index.samples[*i].size))
            .sum::<u64>();
    }
    let settings = redaction::settings_like(bytes, frames, f.mp4.duration_90k);
    let mut r = Redactor::new(boxes, settings).map_err(fail)?;
    let mut reported = 0u64;
    for (p, v) in &parts {
        let id = p.segment.row.id;
        let media = cx
            .handle
            .block_on(cx.store.read_media_with(&p.segment, lift))
            .map_err(|e| ExportError::Io(format!("segment {}: {e}", id.0)))?;
        for &(i, off, dts) in v {
            let x = &p.segment.index.samples[i];
            let end = off as usize + x.size as usize;
            let data = media.get(off as usize..end).ok_or_else(|| {
                ExportError::Io(format!("segment {} is shorter than its index", id.0))
            })?;
            r.push(SourceFrame {
                params: &p.segment.index.params,
                pts: dts + i64::from(x.composition_offset_90k),
                duration_90k: x.duration_90k,
                is_key: x.is_key,
                data,
            })
            .map_err(fail)?;
        }
        let n = p.media_to - p.media_from;
        reported += n;
        progress(n);
    }
    let video = r.finish().map_err(fail)?;
    // The planned length counts as written (the progress bar's total).
    progress(f.mp4.len.saturating_sub(reported));
    Ok((video, frames, bytes))
}

/// Everything [`write()`] needs besides the plan.
pub struct Env<'a> {
    /// The store to read segments from.
    pub store: &'a Store,
    /// A runtime handle (segments are read asynchronously).
    pub handle: &'a tokio::runtime::Handle,
    /// The export signing key.
    pub key: &'a ExportKey,
    /// The access record's checkpoint key.
    pub audit_public_key: [u8; 32],
}

/// Streams the package of `req`, planned as `plan`, into `out`, encrypted as
/// `encryption` says; `progress` is told the video bytes written so far.
/// Blocking (call from a blocking thread).
pub fn write<W: Write>(
    cx: &Env<'_>,
    req: &Request,
    plan: &Plan,
    encryption: Encryption,
    out: W,
    progress: &mut dyn FnMut(u64),
) -> Result<(W, Written), ExportError> {
    let sections = chain_sections(cx.store, plan)?;
    let outer = Hashing {
        inner: out,
        hash: Context::new(&SHA256),
        bytes: 0,
    };
    let io = |e: std::io::Error| ExportError::Io(e.to_string());
    let (outer, manifest, manifest_sha256) = match encryption {
        Encryption::None => {
            let (outer, m, h) = write_tar(cx, req, plan, &sections, outer, progress)?;
            (outer, m, h)
        }
        Encryption::Passphrase(p) => {
            let enc = age::Encryptor::with_user_passphrase(p);
            let w = enc.wrap_output(outer).map_err(io)?;
            let (w, m, h) = write_tar(cx, req, plan, &sections, w, progress)?;
            (w.finish().map_err(io)?, m, h)
        }
        Encryption::Recipients(rs) => {
            let enc = age::Encryptor::with_recipients(rs.iter().map(|r| r.as_ref() as _))
                .map_err(|e| ExportError::Io(format!("age: {e}")))?;
            let w = enc.wrap_output(outer).map_err(io)?;
            let (w, m, h) = write_tar(cx, req, plan, &sections, w, progress)?;
            (w.finish().map_err(io)?, m, h)
        }
    };
    let Hashing { inner, hash, bytes } = outer;
    Ok((
        inner,
        Written {
            manifest,
            manifest_sha256,
            package_bytes: bytes,
            package_sha256: finish_hash(hash),
        },
    ))
}

fn write_tar<W: Write>(
    cx: &Env<'_>,
    req: &Request,
    plan: &Plan,
    sections: &[ChainSection],
    out: W,
    progress: &mut dyn FnMut(u64),
) -> Result<(W, Manifest, String), ExportError> {
    let io = |e: std::io::Error| ExportError::Io(e.to_string());
    let top = top_dir(&req.package_id);
    let mtime = u64::try_from(req.created.0 / veil_base::TIME_UNITS_PER_SEC).unwrap_or(0);
    let mut tar = tar::Builder::new(out);
    let principal = principal(&req.system_id);
    let mut files: Vec<FileEntry> = Vec::new();
    let mut sums = String::new();
    let small = |tar: &mut tar::Builder<W>,
                 files: &mut Vec<FileEntry>,
                 sums: &mut String,
                 name: &str,
                 kind: Option<&str>,
                 body: &[u8]|
     -> Result<(), ExportError> {
        tar.append(
            &header(&format!("{top}/{name}"), body.len() as u64, mtime)?,
            body,
        )
        .map_err(io)?;
        let h = sha256(body);
        if name != names::SUMS && name != names::SIGNATURE {
            sums.push_str(&format!("{h}  {name}\n"));
        }
        if let Some(kind) = kind {
            files.push(FileEntry {
                path: name.to_owned(),
                sha256: h,
                bytes: body.len() as u64,
                kind: kind.to_owned(),
                video: None,
            });
        }
        Ok(())
    };
    let fingerprint = cx.key.fingerprint();
    let readme = readme::text(&req.package_id, &principal, &fingerprint);
    small(
        &mut tar,
        &mut files,
        &mut sums,
        names::README,
        Some("readme"),
        readme.as_bytes(),
    )?;
    let signers = allowed_signers_line(&principal, cx.key.public_key());
    small(
        &mut tar,
        &mut files,
        &mut sums,
        names::ALLOWED_SIGNERS,
        Some("allowed_signers"),
        signers.as_bytes(),
    )?;
    let public = format!("{} {principal}\n", cx.key.public_openssh());
    small(
        &mut tar,
        &mut files,
        &mut sums,
        names::PUBLIC_KEY,
        Some("public_key"),
        public.as_bytes(),
    )?;
    let lift = |c: CameraId| req.lift.get(&c).map(|g| g.as_ref());
    for f in &plan.files {
        let boxes = boxes_of(req, f);
        if !boxes.is_empty() {
            let (video, source_frames, source_bytes) =
                redact(cx, lift(f.camera), f, boxes.clone(), &mut *progress)?;
            let len = video.mp4.len() as u64;
            tar.append(
                &header(&format!("{top}/{}", f.path), len, mtime)?,
                &video.mp4[..],
            )
            .map_err(io)?;
            let h = sha256(&video.mp4);
            sums.push_str(&format!("{h}  {}\n", f.path));
            let mut entry = video_entry(f, sections);
            entry.frames = video.frames;
            entry.redacted = Some(Redacted {
                encoding: REDACTED_ENCODING.into(),
                source_frames,
                source_bytes,
                boxes: boxes.iter().map(Redaction::to_json).collect(),
            });
            files.push(FileEntry {
                path: f.path.clone(),
                sha256: h,
                bytes: len,
                kind: "video".into(),
                video: Some(entry),
            });
            continue;
        }
        let mut r = Mp4Reader {
            store: cx.store,
            handle: cx.handle,
            lift: lift(f.camera),
            plan: &f.mp4,
            started: false,
            in_header: false,
            step: 0,
            media: None,
            at: 0,
            until: 0,
            hash: Context::new(&SHA256),
            progress: &mut *progress,
        };
        tar.append(
            &header(&format!("{top}/{}", f.path), f.mp4.len, mtime)?,
            &mut r,
        )
        .map_err(io)?;
        let h = finish_hash(r.hash);
        sums.push_str(&format!("{h}  {}\n", f.path));
        files.push(FileEntry {
            path: f.path.clone(),
            sha256: h,
            bytes: f.mp4.len,
            kind: "video".into(),
            video: Some(video_entry(f, sections)),
        });
    }
    let manifest = manifest(cx, req, plan, sections, files, &principal, &fingerprint);
    let mut json =
        serde_json::to_vec_pretty(&manifest).map_err(|e| ExportError::Io(e.to_string()))?;
    json.push(b'\n');
    let signature = cx.key.sign(&json).map_err(|e| ExportError::Key(e.0))?;
    let mut ignored = Vec::new();
    small(
        &mut tar,
        &mut ignored,
        &mut sums,
        names::MANIFEST,
        None,
        &json,
    )?;
    small(
        &mut tar,
        &mut ignored,
        &mut sums,
        names::SIGNATURE,
        None,
        signature.as_bytes(),
    )?;
    let sums_body = sums.clone();
    small(
        &mut tar,
        &mut ignored,
        &mut sums,
        names::SUMS,
        None,
        sums_body.as_bytes(),
    )?;
    let out = tar.into_inner().map_err(io)?;
    Ok((out, manifest, sha256(&json)))
}

fn manifest(
    cx: &Env<'_>,
    req: &Request,
    plan: &Plan,
    sections: &[ChainSection],
    files: Vec<FileEntry>,
    principal: &str,
    fingerprint: &str,
) -> Manifest {
    let cameras = req
        .cameras
        .iter()
        .map(|c| {
            let mut versions: Vec<i64> = plan
                .files
                .iter()
                .filter(|f| f.camera == c.id)
                .flat_map(|f| f.mp4.parts.iter())
                .filter_map(|p| p.segment.row.mask_version_id)
                .collect();
            versions.sort_unstable();
            versions.dedup();
            CameraEntry {
                id: c.id.0,
                name: c.name.clone(),
                area: c.area.clone(),
                purposes: c.purposes.clone(),
                mask_versions: versions,
            }
        })
        .collect();
    let intervals = req
        .cameras
        .iter()
        .flat_map(|c| {
            c.intervals.iter().map(|(a, b)| Interval {
                camera: c.id.0,
                start: a.to_rfc3339(),
                end: b.to_rfc3339(),
            })
        })
        .collect();
    Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        package_id: req.package_id.clone(),
        system_id: req.system_id.clone(),
        created: req.created.to_rfc3339(),
        creator: req.creator.clone(),
        authorised_by: req.authorised_by.clone(),
        expires: req.expires.to_rfc3339(),
        rendition: req.rendition().into(),
        cameras,
        intervals,
        excluded: req
            .excluded
            .iter()
            .map(|(a, b)| Span::new(*a, *b))
            .collect(),
        files,
        chains: sections.to_vec(),
        audit_public_key: hex::encode(cx.audit_public_key),
        audit_key_fingerprint: veil_audit::checkpoint::fingerprint(&cx.audit_public_key),
        export_public_key: cx.key.public_openssh(),
        export_key_fingerprint: fingerprint.to_owned(),
        signer_principal: principal.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Time90k {
        Time90k(s * 90_000)
    }

    #[test]
    fn pieces_subtract_excluded_intervals() {
        assert_eq!(pieces(t(0), t(100), &[]), vec![(t(0), t(100))]);
        assert_eq!(
            pieces(t(0), t(100), &[(t(10), t(20)), (t(50), t(60))]),
            vec![(t(0), t(10)), (t(20), t(50)), (t(60), t(100))]
        );
        // Overlapping and out-of-range exclusions, one covering the start.
        assert_eq!(
            pieces(
                t(0),
                t(100),
                &[
                    (t(-5), t(5)),
                    (t(40), t(70)),
                    (t(60), t(80)),
                    (t(200), t(300))
                ]
            ),
            vec![(t(5), t(40)), (t(80), t(100))]
        );
        assert!(pieces(t(0), t(100), &[(t(0), t(100))]).is_empty());
    }
}
