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

use rusqlite::params;
use veil_base::SegmentId;

use super::Db;
use crate::Error;

/// Bucket keys per transaction: 4 hours of a camera, about 1,440 rows of
/// 10 s segments.
pub const DESTROY_CHUNK: usize = 4;

/// A deleted segment row: its id, object key and object size.
pub type DeletedSegment = (SegmentId, String, u64);

impl Db {
    /// Deletes, in one transaction, the rows of `planned` that belong to the
    /// bucket keys `keys` (with `whole`, every row of those keys: nothing in
    /// them is kept, one statement per key), then those keys. Returns how
    /// many keys existed and each deleted row's (id, object key, object
    /// size).
    pub fn destroy_bucket_chunk(
        &self,
        keys: &[i64],
        planned: &HashSet<SegmentId>,
        whole: bool,
    ) -> Result<(usize, Vec<DeletedSegment>), Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            let mut gone = Vec::new();
            let mut n = 0;
            {
                let mut find =
                    tx.prepare_cached("SELECT id FROM segment WHERE bucket_key_id = ?1")?;
                // RETURNING: SQLite 3.35 and PostgreSQL alike.
                let mut del = tx.prepare_cached(
                    "DELETE FROM segment WHERE id = ?1 RETURNING object_key, object_bytes",
                )?;
                let mut bucket = tx.prepare_cached(
                    "DELETE FROM segment WHERE bucket_key_id = ?1
                     RETURNING id, object_key, object_bytes",
                )?;
                let mut key = tx.prepare_cached("DELETE FROM bucket_key WHERE id = ?1")?;
                for &k in keys {
                    if whole {
                        let mut rows = bucket.query([k])?;
                        while let Some(r) = rows.next()? {
                            let bytes: i64 = r.get(2)?;
                            gone.push((SegmentId(r.get(0)?), r.get(1)?, bytes.max(0) as u64));
                        }
                        n += key.execute([k])?;
                        continue;
                    }
                    let ids: Vec<i64> = find
                        .query_map([k], |r| r.get(0))?
                        .collect::<Result<_, _>>()?;
                    for id in ids {
                        if !planned.contains(&SegmentId(id)) {
                            continue;
                        }
                        let mut rows = del.query(params![id])?;
                        if let Some(r) = rows.next()? {
                            let bytes: i64 = r.get(1)?;
                            gone.push((SegmentId(id), r.get(0)?, bytes.max(0) as u64));
                        }
                    }
                    n += key.execute([k])?;
                }
            }
            tx.commit()?;
            Ok((n, gone))
        })
    }

    /// The write-ahead log truncation after a batch's destruction, so the
    /// main file holds the zeroed pages and the log no copy of the keys.
    pub fn truncate_wal_after_destruction(&self) -> Result<(), Error> {
        self.truncate_wal()
    }
}
