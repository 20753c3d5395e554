//! Bucket keys: one wrapped key per camera, rendition and hour, and the
//! segments each key encrypts (crypto-shredding destroys the key).

use rusqlite::{params, OptionalExtension};
use veil_base::{CameraId, SegmentId, Time90k};

use super::Db;
use crate::Error;

/// A wrapped bucket key with its scope: camera, rendition, hour, wrapped key.
pub type ScopedBucketKey = (CameraId, String, Time90k, Vec<u8>);

/// The columns [`stored_segment`] reads, in its order.
const RETENTION_SEGMENT_COLUMNS: &str =
    "id, camera_id, rendition, bucket_key_id, start_90k, start_90k + duration_90k";

fn stored_segment(r: &rusqlite::Row<'_>) -> rusqlite::Result<crate::retention::StoredSegment> {
    Ok(crate::retention::StoredSegment {
        id: SegmentId(r.get(0)?),
        camera: CameraId(r.get(1)?),
        rendition: r.get(2)?,
        bucket: r.get(3)?,
        start: Time90k(r.get(4)?),
        end: Time90k(r.get(5)?),
    })
}

impl Db {
    /// The wrapped bucket key for a scope, if one exists.
    pub fn bucket_key(
        &self,
        camera: CameraId,
        rendition: &str,
        bucket_start: Time90k,
    ) -> Result<Option<(i64, Vec<u8>)>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT id, wrapped FROM bucket_key
                 WHERE camera_id = ?1 AND rendition = ?2 AND bucket_start_90k = ?3",
                params![camera.0, rendition, bucket_start.0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
    }

    /// The wrapped bucket key with this id, if not destroyed.
    pub fn bucket_key_by_id(&self, id: i64) -> Result<Option<Vec<u8>>, Error> {
        self.with(|c| {
            c.query_row("SELECT wrapped FROM bucket_key WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    /// Some stored bucket key with its scope (camera, rendition, hour), to
    /// check a root key against a database that has no check value yet.
    pub fn any_bucket_key(&self) -> Result<Option<ScopedBucketKey>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT camera_id, rendition, bucket_start_90k, wrapped FROM bucket_key
                 ORDER BY id LIMIT 1",
                [],
                |r| {
                    Ok((
                        CameraId(r.get(0)?),
                        r.get(1)?,
                        Time90k(r.get(2)?),
                        r.get(3)?,
                    ))
                },
            )
            .optional()
        })
    }

    /// Stores a new wrapped bucket key and returns its id.
    pub fn insert_bucket_key(
        &self,
        camera: CameraId,
        rendition: &str,
        bucket_start: Time90k,
        wrapped: &[u8],
    ) -> Result<i64, Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO bucket_key (camera_id, rendition, bucket_start_90k, wrapped)
                 VALUES (?1, ?2, ?3, ?4)",
                params![camera.0, rendition, bucket_start.0, wrapped],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// Destroys a bucket key: the row is deleted (secure_delete overwrites the
    /// page) and the WAL is checkpointed and truncated so no copy of the wrapped
    /// key stays in the log. Every segment it wrapped becomes unreadable.
    pub fn destroy_bucket_key(&self, id: i64) -> Result<(), Error> {
        self.with(|c| {
            c.execute("DELETE FROM bucket_key WHERE id = ?1", [id])?;
            // The checkpoint copies the overwritten page into the main file and
            // empties the log; "busy" means a reader kept it from finishing.
            for _ in 0..50 {
                let busy: i64 = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
                if busy == 0 {
                    return Ok(true);
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Ok(false)
        })
        .and_then(|done| {
            if done {
                Ok(())
            } else {
                Err(Error::Database(
                    "the key was deleted but the write-ahead log could not be truncated; retry"
                        .into(),
                ))
            }
        })
    }

    /// Destroys a batch of bucket keys (retention): the rows are deleted in one
    /// transaction (secure_delete overwrites the freed bytes; the segments'
    /// `bucket_key_id` become NULL), then the WAL is checkpointed and
    /// truncated once for the whole batch. Returns how many keys existed and
    /// were deleted (an id already gone is skipped).
    pub fn destroy_bucket_keys(&self, ids: &[i64]) -> Result<usize, Error> {
        if ids.is_empty() {
            return Ok(0);
        }
        let n = self.with(|c| {
            let tx = c.transaction()?;
            let mut n = 0;
            {
                let mut st = tx.prepare_cached("DELETE FROM bucket_key WHERE id = ?1")?;
                for id in ids {
                    n += st.execute([id])?;
                }
            }
            tx.commit()?;
            Ok(n)
        })?;
        self.truncate_wal()?;
        Ok(n)
    }

    /// The (camera, rendition) pairs that have bucket keys.
    pub fn bucket_key_scopes(&self) -> Result<Vec<(CameraId, String)>, Error> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT DISTINCT camera_id, rendition FROM bucket_key
                 ORDER BY camera_id, rendition",
            )?;
            let rows = st.query_map([], |r| Ok((CameraId(r.get(0)?), r.get(1)?)))?;
            rows.collect()
        })
    }

    /// A page of one scope's bucket keys whose hour starts in `(after, until]`,
    /// oldest first, at most `limit` (for retention).
    pub fn bucket_keys_page(
        &self,
        camera: CameraId,
        rendition: &str,
        after: Time90k,
        until: Time90k,
        limit: usize,
    ) -> Result<Vec<crate::retention::StoredBucket>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, camera_id, rendition, bucket_start_90k FROM bucket_key
                 WHERE camera_id = ?1 AND rendition = ?2
                   AND bucket_start_90k > ?3 AND bucket_start_90k <= ?4
                 ORDER BY bucket_start_90k LIMIT ?5",
            )?;
            let rows = st.query_map(
                params![camera.0, rendition, after.0, until.0, limit as i64],
                |r| {
                    Ok(crate::retention::StoredBucket {
                        id: r.get(0)?,
                        camera: CameraId(r.get(1)?),
                        rendition: r.get(2)?,
                        start: Time90k(r.get(3)?),
                    })
                },
            )?;
            rows.collect()
        })
    }

    /// The segments a bucket key wraps, oldest first (for retention).
    pub fn bucket_segments(
        &self,
        bucket: i64,
    ) -> Result<Vec<crate::retention::StoredSegment>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {RETENTION_SEGMENT_COLUMNS} FROM segment
                 WHERE bucket_key_id = ?1 ORDER BY start_90k, id"
            ))?;
            let rows = st.query_map([bucket], stored_segment)?;
            rows.collect()
        })
    }

    /// A page of segments whose bucket key is destroyed and that no active
    /// lock or hold keeps, by id after `after`, at most `limit` (for
    /// retention: rows kept by a long lock must not fill every page).
    pub fn keyless_segments_page(
        &self,
        after: SegmentId,
        limit: usize,
    ) -> Result<Vec<crate::retention::StoredSegment>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {RETENTION_SEGMENT_COLUMNS} FROM segment
                 WHERE bucket_key_id IS NULL AND id > ?1
                   AND NOT EXISTS (
                       SELECT 1 FROM protected_segment ps
                       JOIN protection p ON p.id = ps.protection_id
                       WHERE ps.segment_id = segment.id AND p.released_90k IS NULL)
                 ORDER BY id LIMIT ?2"
            ))?;
            let rows = st.query_map(params![after.0, limit as i64], stored_segment)?;
            rows.collect()
        })
    }
}
