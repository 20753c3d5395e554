//! Rows of the recording integrity chain (`crate::chain`): table
//! `recording_link` (append-only) and `recording_chain`, each chain's head.
//! Links are appended inside the transaction that inserts or deletes the
//! segment rows they describe, so a row never exists without its link and
//! no row leaves without a removal link.

use std::collections::BTreeMap;

use crate::db::sql::{params, Connection, OptionalExtension};
use veil_base::{CameraId, SegmentId, Time90k};

use super::{Db, SegmentRow};
use crate::chain::{self, ChainLink, LinkKind};
use crate::Error;

/// A deleted segment as a removal link needs it: camera, rendition, id,
/// start and end.
pub(crate) type RemovedSegment = (CameraId, String, SegmentId, Time90k, Time90k);

const LINK_COLUMNS: &str = "camera_id, rendition, seq, kind, segment_id, start_90k, end_90k,
     object_sha256, detail, prev_hash, hash";

fn hash32(v: Vec<u8>, what: &str) -> crate::db::sql::Result<[u8; 32]> {
    v.try_into().map_err(|_| {
        crate::db::sql::Error::FromSqlConversionFailure(
            0,
            crate::db::sql::types::Type::Blob,
            format!("{what} is not 32 bytes").into(),
        )
    })
}

fn link_row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<ChainLink> {
    let kind: i64 = r.get(3)?;
    Ok(ChainLink {
        camera: CameraId(r.get(0)?),
        rendition: r.get(1)?,
        seq: r.get(2)?,
        kind: LinkKind::from_code(kind).ok_or_else(|| {
            crate::db::sql::Error::FromSqlConversionFailure(
                3,
                crate::db::sql::types::Type::Integer,
                format!("unknown link kind {kind}").into(),
            )
        })?,
        segment: r.get::<_, Option<i64>>(4)?.map(SegmentId),
        start_90k: Time90k(r.get(5)?),
        end_90k: Time90k(r.get(6)?),
        object_sha256: hash32(r.get(7)?, "an object hash")?,
        detail: r.get(8)?,
        prev_hash: hash32(r.get(9)?, "a previous hash")?,
        hash: hash32(r.get(10)?, "a link hash")?,
    })
}

/// Appends a link to its chain (after the chain's head) inside the caller's
/// transaction; returns it with its seq, previous hash and hash.
pub(crate) fn append_link(c: &Connection, mut l: ChainLink) -> crate::db::sql::Result<ChainLink> {
    let head: Option<(i64, Vec<u8>)> = c
        .prepare_cached(
            "SELECT head_seq, head_hash FROM recording_chain
             WHERE camera_id = ?1 AND rendition = ?2",
        )?
        .query_row(params![l.camera.0, l.rendition], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let (seq, prev) = match head {
        Some((s, h)) => (s + 1, hash32(h, "a chain head")?),
        None => (1, chain::GENESIS),
    };
    l.seq = seq;
    l.prev_hash = prev;
    l.hash = chain::link_hash(&l);
    c.prepare_cached(
        "INSERT INTO recording_link (camera_id, rendition, seq, kind, segment_id, start_90k,
             end_90k, object_sha256, detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        l.camera.0,
        l.rendition,
        l.seq,
        l.kind.code() as i64,
        l.segment.map(|s| s.0),
        l.start_90k.0,
        l.end_90k.0,
        &l.object_sha256[..],
        l.detail,
        &l.prev_hash[..],
        &l.hash[..],
    ])?;
    // An upsert: SQLite 3.24 and PostgreSQL alike.
    c.prepare_cached(
        "INSERT INTO recording_chain (camera_id, rendition, head_seq, head_hash)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (camera_id, rendition)
         DO UPDATE SET head_seq = excluded.head_seq, head_hash = excluded.head_hash",
    )?
    .execute(params![l.camera.0, l.rendition, l.seq, &l.hash[..]])?;
    Ok(l)
}

/// The segment link of a row just inserted as `id`.
pub(crate) fn append_segment_link(
    c: &Connection,
    s: &SegmentRow,
    id: SegmentId,
    sha: [u8; 32],
) -> crate::db::sql::Result<ChainLink> {
    append_link(
        c,
        ChainLink {
            camera: s.camera_id,
            rendition: s.rendition.clone(),
            seq: 0,
            kind: LinkKind::Segment,
            segment: Some(id),
            start_90k: s.start_90k,
            end_90k: Time90k(s.start_90k.0 + s.duration_90k),
            object_sha256: sha,
            detail: String::new(),
            prev_hash: chain::GENESIS,
            hash: [0; 32],
        },
    )
}

/// One removal link per chain that `gone` touches, inside the caller's
/// transaction that deleted them: the span of the removed segments and
/// `reason=<reason> segments=<ids>`.
pub(crate) fn append_removals(
    c: &Connection,
    reason: &str,
    gone: &[RemovedSegment],
) -> crate::db::sql::Result<()> {
    append_removals_with(c, reason, "", gone)
}

/// [`append_removals`] with the caller's `key=value` parts in the detail
/// (`chain::removal_detail_with`; checked by the caller).
pub(crate) fn append_removals_with(
    c: &Connection,
    reason: &str,
    extra: &str,
    gone: &[RemovedSegment],
) -> crate::db::sql::Result<()> {
    let mut by_chain: BTreeMap<(i64, &str), (Vec<SegmentId>, Time90k, Time90k)> = BTreeMap::new();
    for (camera, rendition, id, start, end) in gone {
        let e =
            by_chain
                .entry((camera.0, rendition.as_str()))
                .or_insert((Vec::new(), *start, *end));
        e.0.push(*id);
        e.1 = e.1.min(*start);
        e.2 = e.2.max(*end);
    }
    for ((camera, rendition), (ids, start, end)) in by_chain {
        append_link(
            c,
            ChainLink {
                camera: CameraId(camera),
                rendition: rendition.to_string(),
                seq: 0,
                kind: LinkKind::Removal,
                segment: None,
                start_90k: start,
                end_90k: end,
                object_sha256: [0; 32],
                detail: chain::removal_detail_with(reason, extra, &ids),
                prev_hash: chain::GENESIS,
                hash: [0; 32],
            },
        )?;
    }
    Ok(())
}

/// A segment row not yet in a chain (stored before the chain existed), for
/// [`crate::Store::chain_unlinked_segments`].
#[derive(Clone, Debug)]
pub struct UnlinkedSegment {
    /// The row's id.
    pub id: SegmentId,
    /// Its camera.
    pub camera: CameraId,
    /// Its rendition.
    pub rendition: String,
    /// Its start.
    pub start_90k: Time90k,
    /// Its end (start + duration).
    pub end_90k: Time90k,
    /// Its object.
    pub object_key: String,
}

/// A segment row as the chain's verification compares it with its link.
#[derive(Clone, Debug)]
pub struct ChainedSegment {
    /// The row's id.
    pub id: SegmentId,
    /// Its camera.
    pub camera: CameraId,
    /// Its rendition.
    pub rendition: String,
    /// Its start.
    pub start_90k: Time90k,
    /// Its end (start + duration).
    pub end_90k: Time90k,
    /// Its object.
    pub object_key: String,
    /// The object's SHA-256 the row holds (`None`: never hashed).
    pub object_sha256: Option<[u8; 32]>,
    /// `ok`, `missing` or `corrupt`.
    pub state: String,
}

impl Db {
    /// Links `from_seq..=to_seq` of a chain, in seq order.
    pub fn chain_links(
        &self,
        camera: CameraId,
        rendition: &str,
        from_seq: i64,
        to_seq: i64,
    ) -> Result<Vec<ChainLink>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {LINK_COLUMNS} FROM recording_link
                 WHERE camera_id = ?1 AND rendition = ?2 AND seq >= ?3 AND seq <= ?4
                 ORDER BY seq"
            ))?;
            let rows = st.query_map(params![camera.0, rendition, from_seq, to_seq], link_row)?;
            rows.collect()
        })
    }

    /// The segment link of a segment, if it has one.
    pub fn segment_link(&self, segment: SegmentId) -> Result<Option<ChainLink>, Error> {
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {LINK_COLUMNS} FROM recording_link WHERE segment_id = ?1 AND kind = 1"
            ))?
            .query_row([segment.0], link_row)
            .optional()
        })
    }

    /// The last link of every chain, by camera and rendition.
    pub fn chain_heads(&self) -> Result<Vec<ChainLink>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT l.camera_id, l.rendition, l.seq, l.kind, l.segment_id, l.start_90k,
                     l.end_90k, l.object_sha256, l.detail, l.prev_hash, l.hash
                 FROM recording_chain h
                 JOIN recording_link l ON l.camera_id = h.camera_id
                     AND l.rendition = h.rendition AND l.seq = h.head_seq
                 ORDER BY h.camera_id, h.rendition",
            )?;
            let rows = st.query_map([], link_row)?;
            rows.collect()
        })
    }

    /// A page of segment rows without an object hash (stored before the
    /// chain existed) that are `ok`, in time order after `(start, id)`.
    pub fn unlinked_segments(
        &self,
        after: (Time90k, SegmentId),
        limit: usize,
    ) -> Result<Vec<UnlinkedSegment>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, camera_id, rendition, start_90k, start_90k + duration_90k, object_key
                 FROM segment
                 WHERE object_sha256 IS NULL AND state = 'ok'
                   AND (start_90k > ?1 OR (start_90k = ?1 AND id > ?2))
                 ORDER BY start_90k, id LIMIT ?3",
            )?;
            let rows = st.query_map(params![after.0 .0, after.1 .0, limit as i64], |r| {
                Ok(UnlinkedSegment {
                    id: SegmentId(r.get(0)?),
                    camera: CameraId(r.get(1)?),
                    rendition: r.get(2)?,
                    start_90k: Time90k(r.get(3)?),
                    end_90k: Time90k(r.get(4)?),
                    object_key: r.get(5)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Gives rows stored before the chain existed their object hash and
    /// segment link, in one transaction, in the order given; a row gone or
    /// already hashed meanwhile is skipped. Returns how many were chained.
    pub fn link_segments(&self, rows: &[(UnlinkedSegment, [u8; 32])]) -> Result<usize, Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            let mut n = 0;
            for (s, sha) in rows {
                let changed = tx
                    .prepare_cached(
                        "UPDATE segment SET object_sha256 = ?2
                         WHERE id = ?1 AND object_sha256 IS NULL",
                    )?
                    .execute(params![s.id.0, &sha[..]])?;
                if changed == 0 {
                    continue;
                }
                append_link(
                    &tx,
                    ChainLink {
                        camera: s.camera,
                        rendition: s.rendition.clone(),
                        seq: 0,
                        kind: LinkKind::Segment,
                        segment: Some(s.id),
                        start_90k: s.start_90k,
                        end_90k: s.end_90k,
                        object_sha256: *sha,
                        detail: String::new(),
                        prev_hash: chain::GENESIS,
                        hash: [0; 32],
                    },
                )?;
                n += 1;
            }
            tx.commit()?;
            Ok(n)
        })
    }

    /// A page of segment rows by id after `after`, as verification compares
    /// them with their links.
    pub fn chained_segments(
        &self,
        after: SegmentId,
        limit: usize,
    ) -> Result<Vec<ChainedSegment>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, camera_id, rendition, start_90k, start_90k + duration_90k,
                     object_key, object_sha256, state
                 FROM segment WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?;
            let rows = st.query_map(params![after.0, limit as i64], |r| {
                Ok(ChainedSegment {
                    id: SegmentId(r.get(0)?),
                    camera: CameraId(r.get(1)?),
                    rendition: r.get(2)?,
                    start_90k: Time90k(r.get(3)?),
                    end_90k: Time90k(r.get(4)?),
                    object_key: r.get(5)?,
                    object_sha256: r
                        .get::<_, Option<Vec<u8>>>(6)?
                        .map(|v| hash32(v, "an object hash"))
                        .transpose()?,
                    state: r.get(7)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Whether a segment row exists.
    pub fn segment_exists(&self, id: SegmentId) -> Result<bool, Error> {
        self.with(|c| {
            c.prepare_cached("SELECT 1 FROM segment WHERE id = ?1")?
                .query_row([id.0], |_| Ok(()))
                .optional()
                .map(|o| o.is_some())
        })
    }
}

impl Db {
    /// Access-record entries of action `recording.chain` that a signed
    /// checkpoint covers exactly (the checkpoint's seq is the entry's),
    /// newest first, with seq below `before`, at most `limit`: where the
    /// recording chains' heads are anchored.
    pub fn recording_chain_anchors(
        &self,
        before: i64,
        limit: usize,
    ) -> Result<Vec<(super::AuditRow, super::CheckpointRow)>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT a.seq, a.time_90k, a.actor, a.action, a.resource, a.outcome, a.detail,
                     a.client, a.justification, a.prev_hash, a.hash,
                     k.kind, k.seq, k.time_90k, k.hash, k.public_key, k.signature
                 FROM audit_checkpoint k JOIN audit a ON a.seq = k.seq
                 WHERE k.kind = 'checkpoint' AND a.action = 'recording.chain' AND k.seq < ?1
                 ORDER BY k.seq DESC LIMIT ?2",
            )?;
            let rows = st.query_map(params![before, limit as i64], |r| {
                let a = super::audit_row(r)?;
                let k = super::CheckpointRow {
                    kind: r.get(11)?,
                    seq: r.get(12)?,
                    time_90k: Time90k(r.get(13)?),
                    hash: r.get(14)?,
                    public_key: r.get(15)?,
                    signature: r.get(16)?,
                };
                Ok((a, k))
            })?;
            rows.collect()
        })
    }
}
