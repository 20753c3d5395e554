//! Retention's destruction of a batch in short transactions (`Keyring::
//! destroy_buckets`): a chunk of bucket keys with their planned segment rows
//! per transaction, so that a camera inserting its next segment waits at most
//! one chunk, never a whole batch; the write-ahead log is truncated once per
//! batch, never per key.
//!
//! Within a chunk's transaction the planned rows are deleted first and the
//! keys last: a crash leaves both or neither (the order of steps 3 and 4 of
//! `docs/design/retention.md` holds, atomically), and the rows no longer
//! need `ON DELETE SET NULL` to be rewritten before being deleted, which was
//! half the cost. Rows a chunk does not plan to delete (locked or held ones)
//! keep their row, made keyless by `ON DELETE SET NULL`.

use std::collections::HashSet;

use crate::db::sql::params;
use veil_base::{CameraId, SegmentId, Time90k};

use super::Db;
use crate::Error;

/// Bucket keys per transaction: 4 hours of a camera, about 1,440 rows of
/// 10 s segments.
pub const DESTROY_CHUNK: usize = 4;

/// A deleted segment row: its id, object key and object size.
pub type DeletedSegment = (SegmentId, String, u64);

/// What one chunk's transaction did.
#[derive(Debug, Default)]
pub struct DestroyedChunk {
    /// How many of its bucket keys existed and were destroyed.
    pub keys: usize,
    /// The rows deleted.
    pub gone: Vec<DeletedSegment>,
    /// Rows of its keys kept because an active lock or hold covers them
    /// (now keyless, readable through the protection).
    pub protected: Vec<SegmentId>,
}

impl Db {
    /// Deletes, in one transaction, the rows of `planned` that belong to the
    /// bucket keys `keys` (with `whole`, every row of those keys: nothing in
    /// them is kept, one statement per key), then those keys, and appends a
    /// removal link saying `reason` to each recording chain it touches.
    /// Returns how many keys existed and each deleted row's (id, object
    /// key, object size).
    pub fn destroy_bucket_chunk(
        &self,
        keys: &[i64],
        planned: &HashSet<SegmentId>,
        whole: bool,
        reason: &str,
    ) -> Result<DestroyedChunk, Error> {
        let out = self.with(|c| {
            let tx = c.transaction()?;
            let mut gone = Vec::new();
            let mut removed = Vec::new();
            let mut protected = Vec::new();
            let mut n = 0;
            {
                // Rows of the key that an active lock or hold covers now
                // (whatever the plan said: one may have been made since),
                // and whether each is readable through a protection's key.
                let mut covered = tx.prepare_cached(
                    "SELECT s.id, EXISTS (
                         SELECT 1 FROM protected_segment ps
                         JOIN protection q ON q.id = ps.protection_id
                         WHERE ps.segment_id = s.id AND q.released_90k IS NULL
                           AND q.wrapped_key IS NOT NULL)
                     FROM segment s
                     WHERE s.bucket_key_id = ?1 AND EXISTS (
                         SELECT 1 FROM protection p
                         JOIN protection_camera pc ON pc.protection_id = p.id
                         WHERE pc.camera_id = s.camera_id AND p.released_90k IS NULL
                           AND s.start_90k < p.end_90k
                           AND p.start_90k < s.start_90k
                               + CASE WHEN s.duration_90k > 1 THEN s.duration_90k ELSE 1 END)",
                )?;
                let mut find =
                    tx.prepare_cached("SELECT id FROM segment WHERE bucket_key_id = ?1")?;
                // RETURNING: SQLite 3.35 and PostgreSQL alike.
                let mut del = tx.prepare_cached(
                    "DELETE FROM segment WHERE id = ?1
                     RETURNING object_key, object_bytes, camera_id, rendition, start_90k,
                         start_90k + duration_90k",
                )?;
                let mut bucket = tx.prepare_cached(
                    "DELETE FROM segment WHERE bucket_key_id = ?1
                     RETURNING id, object_key, object_bytes, camera_id, rendition, start_90k,
                         start_90k + duration_90k",
                )?;
                let mut key = tx.prepare_cached("DELETE FROM bucket_key WHERE id = ?1")?;
                for &k in keys {
                    let kept: Vec<(i64, bool)> = covered
                        .query_map([k], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<Result<_, _>>()?;
                    if let Some((id, _)) = kept.iter().find(|(_, wrapped)| !wrapped) {
                        // Destroying the key would lose a protected segment:
                        // nothing of this chunk happens (the transaction is
                        // dropped, so rolled back).
                        return Ok(Err(*id));
                    }
                    protected.extend(kept.iter().map(|(id, _)| SegmentId(*id)));
                    if whole && kept.is_empty() {
                        let mut rows = bucket.query([k])?;
                        while let Some(r) = rows.next()? {
                            let bytes: i64 = r.get(2)?;
                            let id = SegmentId(r.get(0)?);
                            gone.push((id, r.get(1)?, bytes.max(0) as u64));
                            removed.push((
                                CameraId(r.get(3)?),
                                r.get(4)?,
                                id,
                                Time90k(r.get(5)?),
                                Time90k(r.get(6)?),
                            ));
                        }
                        n += key.execute([k])?;
                        continue;
                    }
                    let ids: Vec<i64> = find
                        .query_map([k], |r| r.get(0))?
                        .collect::<Result<_, _>>()?;
                    for id in ids {
                        let protected = kept.iter().any(|(p, _)| *p == id);
                        if protected || !(whole || planned.contains(&SegmentId(id))) {
                            continue;
                        }
                        let mut rows = del.query(params![id])?;
                        if let Some(r) = rows.next()? {
                            let bytes: i64 = r.get(1)?;
                            gone.push((SegmentId(id), r.get(0)?, bytes.max(0) as u64));
                            removed.push((
                                CameraId(r.get(2)?),
                                r.get(3)?,
                                SegmentId(id),
                                Time90k(r.get(4)?),
                                Time90k(r.get(5)?),
                            ));
                        }
                    }
                    n += key.execute([k])?;
                }
            }
            super::chain::append_removals(&tx, reason, &removed)?;
            tx.commit()?;
            Ok(Ok(DestroyedChunk {
                keys: n,
                gone,
                protected,
            }))
        })?;
        out.map_err(|id| {
            Error::Invalid(format!(
                "segment {id} is covered by a lock or hold but readable through no \
                 protection's key; its bucket key was not destroyed"
            ))
        })
    }

    /// The write-ahead log truncation after a batch's destruction, so the
    /// main file holds the zeroed pages and the log no copy of the keys.
    pub fn truncate_wal_after_destruction(&self) -> Result<(), Error> {
        self.truncate_wal()
    }
}
