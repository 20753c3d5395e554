//! Bucket keys: one wrapped key per camera, rendition and hour, and the
//! segments each key encrypts (crypto-shredding destroys the key).

use crate::db::sql::{params, OptionalExtension};
use veil_base::{CameraId, SegmentId, Time90k};

use super::Db;
use crate::Error;

/// A wrapped bucket key with its scope: camera, rendition, hour, wrapped key.
pub type ScopedBucketKey = (CameraId, String, Time90k, Vec<u8>);

/// The columns [`stored_segment`] reads, in its order.
const RETENTION_SEGMENT_COLUMNS: &str =
    "id, camera_id, rendition, bucket_key_id, start_90k, start_90k + duration_90k";

fn stored_segment(
    r: &crate::db::sql::Row<'_>,
) -> crate::db::sql::Result<crate::retention::StoredSegment> {
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
            let rowid: i64 = c.query_row(
                "INSERT INTO bucket_key (camera_id, rendition, bucket_start_90k, wrapped)
                 VALUES (?1, ?2, ?3, ?4)
                 RETURNING id",
                params![camera.0, rendition, bucket_start.0, wrapped],
                |r| r.get(0),
            )?;
            Ok(rowid)
        })
    }

    /// Destroys a bucket key: the row is deleted (secure_delete overwrites the
    /// page) and the WAL is checkpointed and truncated so no copy of the wrapped
    /// key stays in the log. Every segment it wrapped becomes unreadable.
    pub fn destroy_bucket_key(&self, id: i64) -> Result<(), Error> {
        self.with(|c| {
            c.execute("DELETE FROM bucket_key WHERE id = ?1", [id])?;
            if c.is_postgres() {
                // No log of Veil's to truncate: see `Db::truncate_wal`.
                return Ok(true);
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    use crate::db::{SegmentRow, MIGRATIONS, SCHEMA_VERSION};

    /// Ids of destroyed bucket keys are never handed out again, and
    /// migration 9 keeps every id and every segment's reference.
    #[test]
    fn bucket_key_ids_are_never_reused_and_migration_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v8.db");
        {
            let mut c = Connection::open(&path).unwrap();
            let tx = c.transaction().unwrap();
            for m in &MIGRATIONS[..8] {
                tx.execute_batch(m).unwrap();
            }
            tx.execute_batch(
                "PRAGMA user_version = 8;
                 INSERT INTO camera (id, name, source_kind, source_config, created_90k)
                     VALUES (1, 'c', 'synthetic', '{}', 0);
                 INSERT INTO bucket_key (id, camera_id, rendition, bucket_start_90k, wrapped)
                     VALUES (1, 1, 'main', 0, x'00'), (2, 1, 'main', 1, x'00');
                 INSERT INTO segment (camera_id, rendition, run_start_90k, start_90k,
                     duration_90k, frames, media_bytes, object_key, object_bytes,
                     bucket_key_id, wrapped_key, sealed_index)
                     VALUES (1, 'main', 0, 0, 1, 1, 1, 'k', 1, 2, x'00', x'00');",
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let db = Db::open(&path).unwrap();
        assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION as i64);
        let refs: Option<i64> = db
            .with(|c| c.query_row("SELECT bucket_key_id FROM segment", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(refs, Some(2), "the segment keeps its bucket key");
        db.destroy_bucket_key(2).unwrap();
        let refs: Option<i64> = db
            .with(|c| c.query_row("SELECT bucket_key_id FROM segment", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(refs, None, "foreign keys are on again after migrating");
        let cam = CameraId(1);
        let next = db.insert_bucket_key(cam, "main", Time90k(1), b"w").unwrap();
        assert_eq!(next, 3, "id 2 was destroyed and is not reused");
        db.destroy_bucket_key(next).unwrap();
        assert_eq!(
            db.insert_bucket_key(cam, "main", Time90k(1), b"w").unwrap(),
            4
        );
    }

    fn segment_in(
        db: &Db,
        camera: CameraId,
        bucket: Option<i64>,
        start: i64,
        key: &str,
    ) -> SegmentId {
        db.insert_segment(&SegmentRow {
            id: SegmentId(0),
            camera_id: camera,
            rendition: "main".into(),
            run_start_90k: Time90k(start),
            start_90k: Time90k(start),
            duration_90k: 900,
            frames: 9,
            media_bytes: 10,
            object_key: key.into(),
            object_bytes: 40,
            bucket_key_id: bucket,
            wrapped_key: vec![0],
            sealed_index: vec![0],
            mask_version_id: None,
            object_sha256: None,
        })
        .unwrap()
    }

    #[test]
    fn retention_reads_pages_and_destroys_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("veil.db")).unwrap();
        let a = db
            .upsert_camera("a", "synthetic", "{}", Time90k(0))
            .unwrap();
        let b = db
            .upsert_camera("b", "synthetic", "{}", Time90k(0))
            .unwrap();
        let hour = crate::segment::BUCKET_90K;
        let keys: Vec<i64> = (0..4)
            .map(|h| {
                db.insert_bucket_key(a, "main", Time90k(h * hour), &[h as u8; 8])
                    .unwrap()
            })
            .collect();
        let kb = db
            .insert_bucket_key(b, "main", Time90k(0), &[9; 8])
            .unwrap();
        let s0 = segment_in(&db, a, Some(keys[0]), 10, "a/0");
        let s1 = segment_in(&db, a, Some(keys[0]), 5, "a/1");
        let s2 = segment_in(&db, a, Some(keys[1]), hour + 5, "a/2");
        segment_in(&db, b, Some(kb), 7, "b/0");

        assert_eq!(
            db.bucket_key_scopes().unwrap(),
            [(a, "main".to_owned()), (b, "main".to_owned())]
        );
        // Bounded pages, oldest first, within (after, until].
        let page = db
            .bucket_keys_page(a, "main", Time90k(i64::MIN), Time90k(2 * hour), 2)
            .unwrap();
        assert_eq!(page.iter().map(|b| b.id).collect::<Vec<_>>(), keys[..2]);
        assert_eq!(page[1].start, Time90k(hour));
        let next = db
            .bucket_keys_page(a, "main", Time90k(hour), Time90k(i64::MAX), 10)
            .unwrap();
        assert_eq!(next.iter().map(|b| b.id).collect::<Vec<_>>(), keys[2..]);
        let segs = db.bucket_segments(keys[0]).unwrap();
        assert_eq!(segs.iter().map(|s| s.id).collect::<Vec<_>>(), [s1, s0]);
        assert_eq!((segs[0].start, segs[0].end), (Time90k(5), Time90k(905)));
        assert_eq!(segs[0].bucket, Some(keys[0]));
        assert!(db
            .keyless_segments_page(SegmentId(0), 10)
            .unwrap()
            .is_empty());

        // One batch: both keys gone, an unknown id skipped, their segments keyless.
        assert_eq!(db.destroy_bucket_keys(&[keys[0], keys[1], 999]).unwrap(), 2);
        assert_eq!(db.bucket_key_by_id(keys[0]).unwrap(), None);
        assert!(db.bucket_key_by_id(keys[2]).unwrap().is_some());
        let keyless = db.keyless_segments_page(SegmentId(0), 2).unwrap();
        assert_eq!(keyless.iter().map(|s| s.id).collect::<Vec<_>>(), [s0, s1]);
        assert!(keyless.iter().all(|s| s.bucket.is_none()));
        let rest = db.keyless_segments_page(s1, 2).unwrap();
        assert_eq!(rest.iter().map(|s| s.id).collect::<Vec<_>>(), [s2]);
        // The WAL was truncated once the batch was committed.
        let wal = dir.path().join("veil.db-wal");
        assert_eq!(std::fs::metadata(&wal).map_or(0, |m| m.len()), 0);

        // Rows deleted in one transaction; their objects returned.
        let gone = db
            .delete_segments(&[s0, s2, SegmentId(999)], "retention")
            .unwrap();
        assert_eq!(gone, [("a/0".to_owned(), 40), ("a/2".to_owned(), 40)]);
        assert_eq!(db.segment_count().unwrap(), 2);
        assert!(db.delete_segments(&[], "retention").unwrap().is_empty());
        assert_eq!(db.destroy_bucket_keys(&[]).unwrap(), 0);
        // The single-key destroy still works for its callers.
        db.destroy_bucket_key(kb).unwrap();
        assert_eq!(db.bucket_key_by_id(kb).unwrap(), None);
    }
}
