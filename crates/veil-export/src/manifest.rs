//! `manifest.json`: what a package holds and the proof that it is a
//! complete, unaltered run of what was recorded (`docs/design/export.md`).
//! Times are RFC 3339 for people and 90 kHz ticks (`*_90k`) where the
//! recording chain hashes them. Hashes are lower-case hex.

use serde::{Deserialize, Serialize};
use veil_base::{CameraId, SegmentId, Time90k};
use veil_store::chain::{ChainLink, LinkKind};
use veil_store::db::{AuditRow, CheckpointRow};

/// `format` of every manifest.
pub const FORMAT: &str = "veil-export";
/// `format_version` this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The whole manifest.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The package's id (also in the register).
    pub package_id: String,
    /// The installation that made it.
    pub system_id: String,
    /// When the package was made.
    pub created: String,
    /// Who asked for it: their pseudonym, never a name.
    pub creator: String,
    /// Who authorised it (pseudonyms: the creator, and a four-eyes approver).
    pub authorised_by: Vec<String>,
    /// When the stored copy is destroyed.
    pub expires: String,
    /// `protected` (what operators see: masked where masks apply) or
    /// `original` (masks lifted through the lift path).
    pub rendition: String,
    /// The cameras exported.
    pub cameras: Vec<CameraEntry>,
    /// The intervals asked for, per camera.
    pub intervals: Vec<Interval>,
    /// Intervals left out of every camera's video.
    pub excluded: Vec<Span>,
    /// Every file of the package but `manifest.json`, its signature and
    /// `SHA256SUMS`.
    pub files: Vec<FileEntry>,
    /// The recording chains that cover the exported segments.
    pub chains: Vec<ChainSection>,
    /// The access record's checkpoint key (hex Ed25519), which signs the
    /// chain anchors.
    pub audit_public_key: String,
    /// Its fingerprint.
    pub audit_key_fingerprint: String,
    /// The export key (`ssh-ed25519 …`) that signs this manifest.
    pub export_public_key: String,
    /// Its `SHA256:…` fingerprint.
    pub export_key_fingerprint: String,
    /// The principal named in `allowed_signers`.
    pub signer_principal: String,
}

/// A camera exported.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CameraEntry {
    /// Its id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its area kind (what retention's defaults follow).
    pub area: String,
    /// Its documented purposes.
    pub purposes: Vec<String>,
    /// The mask versions its exported video was recorded with (ids; none:
    /// no masks).
    pub mask_versions: Vec<i64>,
}

/// A requested interval of one camera.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Interval {
    /// The camera.
    pub camera: i64,
    /// RFC 3339.
    pub start: String,
    /// RFC 3339 (exclusive).
    pub end: String,
}

/// An interval of time.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Span {
    /// RFC 3339.
    pub start: String,
    /// RFC 3339 (exclusive).
    pub end: String,
}

impl Span {
    /// The span `[a, b)`.
    pub fn new(a: Time90k, b: Time90k) -> Span {
        Span {
            start: a.to_rfc3339(),
            end: b.to_rfc3339(),
        }
    }

    /// The span's ends, if both parse.
    pub fn times(&self) -> Option<(Time90k, Time90k)> {
        Some((
            Time90k::parse_rfc3339(&self.start)?,
            Time90k::parse_rfc3339(&self.end)?,
        ))
    }
}

/// One file of the package.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    /// Path inside the package.
    pub path: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Its length.
    pub bytes: u64,
    /// `video`, `readme`, `public_key` or `allowed_signers`.
    pub kind: String,
    /// Video: what it shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoEntry>,
}

/// What a video file shows.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct VideoEntry {
    /// The camera.
    pub camera: i64,
    /// First frame (the keyframe it starts at).
    pub start: String,
    /// End of the last frame.
    pub end: String,
    /// The part of the request this file answers.
    pub requested: Span,
    /// Frames in the file.
    pub frames: u64,
    /// The stored segments it was cut from, in order.
    pub segments: Vec<SegmentRef>,
    /// Segments recorded in its span that could not be read (ids).
    #[serde(default)]
    pub segments_missing: Vec<i64>,
    /// Times inside `[start, end)` that the file does not show, and why.
    pub gaps: Vec<Gap>,
    /// Present when bystanders were redacted: the file is a re-encoding of
    /// the segments above with these boxes painted in, not a byte copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted: Option<Redacted>,
}

/// How a video file was redacted.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Redacted {
    /// How it was re-encoded (`H.264 Constrained Baseline, OpenH264`).
    pub encoding: String,
    /// Frames of the stored segments that went in.
    pub source_frames: u64,
    /// Bytes of the stored segments' video that went in.
    pub source_bytes: u64,
    /// The boxes painted (normalised coordinates, RFC 3339 times), as in
    /// the export request.
    pub boxes: Vec<veil_media::redaction::RedactionBox>,
}

/// A time a video file does not show.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Gap {
    /// RFC 3339.
    pub start: String,
    /// RFC 3339 (exclusive).
    pub end: String,
    /// `not_recorded` (no link covers it), `unreadable` (a segment's key or
    /// index did not open: its link is in `segments_missing`), or the detail
    /// of a removal link (`reason=retention segments=…`).
    pub reason: String,
}

/// A stored segment a video file was cut from.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SegmentRef {
    /// Segment id.
    pub id: i64,
    /// Its rendition.
    pub rendition: String,
    /// Its link in the rendition's recording chain.
    pub seq: i64,
    /// Start, 90 kHz.
    pub start_90k: i64,
    /// End, 90 kHz.
    pub end_90k: i64,
    /// Its mask version, if any.
    #[serde(default)]
    pub mask_version: Option<i64>,
}

/// A recording chain's links covering exported segments, and the signed
/// access-record entry that names its head.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ChainSection {
    /// The camera.
    pub camera: i64,
    /// The rendition.
    pub rendition: String,
    /// Consecutive links, from the first exported segment's to the anchored
    /// head.
    pub links: Vec<LinkJson>,
    /// The anchor.
    pub anchor: Anchor,
}

/// A recording-chain link.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LinkJson {
    /// Position in its chain.
    pub seq: i64,
    /// `segment` or `removal`.
    pub kind: LinkKind,
    /// The segment (none for a removal).
    pub segment: Option<i64>,
    /// Start, 90 kHz.
    pub start_90k: i64,
    /// End, 90 kHz.
    pub end_90k: i64,
    /// SHA-256 of the sealed object (zeros for a removal).
    pub object_sha256: String,
    /// A removal's reason and segments.
    pub detail: String,
    /// The link before.
    pub prev_hash: String,
    /// This link's hash.
    pub hash: String,
}

impl LinkJson {
    /// The JSON form of `l`.
    pub fn from_link(l: &ChainLink) -> LinkJson {
        LinkJson {
            seq: l.seq,
            kind: l.kind,
            segment: l.segment.map(|s| s.0),
            start_90k: l.start_90k.0,
            end_90k: l.end_90k.0,
            object_sha256: hex::encode(l.object_sha256),
            detail: l.detail.clone(),
            prev_hash: hex::encode(l.prev_hash),
            hash: hex::encode(l.hash),
        }
    }

    /// The link of chain (`camera`, `rendition`) this describes.
    pub fn to_link(&self, camera: i64, rendition: &str) -> Result<ChainLink, String> {
        let at = |what: &str| format!("chain link {} of camera {camera}: bad {what}", self.seq);
        Ok(ChainLink {
            camera: CameraId(camera),
            rendition: rendition.to_owned(),
            seq: self.seq,
            kind: self.kind,
            segment: self.segment.map(SegmentId),
            start_90k: Time90k(self.start_90k),
            end_90k: Time90k(self.end_90k),
            object_sha256: hash32(&self.object_sha256).ok_or_else(|| at("object_sha256"))?,
            detail: self.detail.clone(),
            prev_hash: hash32(&self.prev_hash).ok_or_else(|| at("prev_hash"))?,
            hash: hash32(&self.hash).ok_or_else(|| at("hash"))?,
        })
    }
}

/// The access-record entry that names a chain's head, and the checkpoint
/// that signs exactly that entry.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Anchor {
    /// The `recording.chain` entry.
    pub entry: EntryJson,
    /// The checkpoint at the entry's sequence number.
    pub checkpoint: CheckpointJson,
}

/// An access-record entry with its chain hashes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EntryJson {
    /// Sequence number.
    pub seq: i64,
    /// 90 kHz time.
    pub time_90k: i64,
    /// Actor.
    pub actor: String,
    /// Action id.
    pub action: String,
    /// Resource.
    pub resource: String,
    /// Outcome.
    pub outcome: String,
    /// Justification.
    pub justification: String,
    /// Detail: the chain heads.
    pub detail: String,
    /// Client.
    pub client: String,
    /// Hash of the entry before.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

impl EntryJson {
    /// The JSON form of `r`.
    pub fn from_row(r: &AuditRow) -> EntryJson {
        EntryJson {
            seq: r.seq,
            time_90k: r.time_90k.0,
            actor: r.actor.clone(),
            action: r.action.clone(),
            resource: r.resource.clone(),
            outcome: r.outcome.clone(),
            justification: r.justification.clone(),
            detail: r.detail.clone(),
            client: r.client.clone(),
            prev_hash: hex::encode(&r.prev_hash),
            hash: hex::encode(&r.hash),
        }
    }

    /// Recomputes the entry's chain hash from its fields and `prev_hash`.
    pub fn recompute(&self) -> Option<[u8; 32]> {
        let prev = hash32(&self.prev_hash)?;
        let e = veil_audit::chain::Entry {
            seq: u64::try_from(self.seq).ok()?,
            time_90k: self.time_90k,
            actor: self.actor.clone(),
            action: self.action.clone(),
            resource: self.resource.clone(),
            outcome: self.outcome.clone(),
            justification: self.justification.clone(),
            detail: self.detail.clone(),
            client: self.client.clone(),
        };
        Some(veil_audit::chain::link(&prev, &e))
    }
}

/// A signed checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CheckpointJson {
    /// Sequence number signed.
    pub seq: i64,
    /// When it was signed, 90 kHz.
    pub time_90k: i64,
    /// The chain hash at `seq`.
    pub hash: String,
    /// Ed25519 signature (hex) of the checkpoint message
    /// (`docs/audit-format.md`).
    pub signature: String,
}

impl CheckpointJson {
    /// The JSON form of `c`.
    pub fn from_row(c: &CheckpointRow) -> CheckpointJson {
        CheckpointJson {
            seq: c.seq,
            time_90k: c.time_90k.0,
            hash: hex::encode(&c.hash),
            signature: hex::encode(&c.signature),
        }
    }

    /// The row this describes, signed by `public_key`.
    pub fn to_row(&self, public_key: &[u8; 32]) -> Option<CheckpointRow> {
        Some(CheckpointRow {
            kind: "checkpoint".into(),
            seq: self.seq,
            time_90k: Time90k(self.time_90k),
            hash: hex::decode(&self.hash).ok()?,
            public_key: public_key.to_vec(),
            signature: hex::decode(&self.signature).ok()?,
        })
    }
}

/// 32 bytes from 64 hex digits.
pub fn hash32(s: &str) -> Option<[u8; 32]> {
    hex::decode(s).ok()?.try_into().ok()
}
