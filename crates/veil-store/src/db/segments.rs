//! Segments: the recorded pieces of video, their objects and states.

use crate::db::sql::{params, OptionalExtension};
use veil_base::{CameraId, SegmentId, Time90k};

use super::{chain, Db};
use crate::Error;

/// What a segment row stores.
#[derive(Clone, Debug)]
pub struct SegmentRow {
    /// Its id (`SegmentId(0)` before insertion).
    pub id: SegmentId,
    /// The camera.
    pub camera_id: CameraId,
    /// Rendition name (`main` for the foundation).
    pub rendition: String,
    /// Start of the recording run this segment belongs to.
    pub run_start_90k: Time90k,
    /// Wall-clock time of the first frame.
    pub start_90k: Time90k,
    /// Sum of the frame durations.
    pub duration_90k: i64,
    /// Number of frames.
    pub frames: u32,
    /// Plaintext media bytes (the sample data).
    pub media_bytes: u64,
    /// The object holding the sealed media.
    pub object_key: String,
    /// Size of that object.
    pub object_bytes: u64,
    /// The bucket key that wraps the segment key; `None` once destroyed.
    pub bucket_key_id: Option<i64>,
    /// The segment key wrapped by the bucket key.
    pub wrapped_key: Vec<u8>,
    /// The sample index sealed under the segment key.
    pub sealed_index: Vec<u8>,
    /// The mask version it was made with (`None`: no masks).
    pub mask_version_id: Option<i64>,
    /// SHA-256 of the sealed object (`None`: stored before the recording
    /// chain, not yet chained). A row inserted with one gets its segment
    /// link in the same transaction.
    pub object_sha256: Option<[u8; 32]>,
}

/// The columns [`segment_row`] reads, in its order.
pub(super) const SEGMENT_COLUMNS: &str =
    "id, camera_id, rendition, run_start_90k, start_90k, duration_90k,
     frames, media_bytes, object_key, object_bytes, bucket_key_id, wrapped_key, sealed_index,
     mask_version_id, object_sha256";

pub(super) fn segment_row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<SegmentRow> {
    Ok(SegmentRow {
        id: SegmentId(r.get(0)?),
        camera_id: CameraId(r.get(1)?),
        rendition: r.get(2)?,
        run_start_90k: Time90k(r.get(3)?),
        start_90k: Time90k(r.get(4)?),
        duration_90k: r.get(5)?,
        frames: r.get(6)?,
        media_bytes: r.get::<_, i64>(7)? as u64,
        object_key: r.get(8)?,
        object_bytes: r.get::<_, i64>(9)? as u64,
        bucket_key_id: r.get(10)?,
        wrapped_key: r.get(11)?,
        sealed_index: r.get(12)?,
        mask_version_id: r.get(13)?,
        object_sha256: r
            .get::<_, Option<Vec<u8>>>(14)?
            .and_then(|v| <[u8; 32]>::try_from(v).ok()),
    })
}

/// Inserts a segment row and, when it has an object hash, its segment link,
/// inside the caller's transaction (as [`Db::insert_segment`] does).
pub(super) fn insert_segment_row(
    tx: &crate::db::sql::Connection,
    s: &SegmentRow,
) -> crate::db::sql::Result<SegmentId> {
    let id = tx
        .prepare_cached(
            "INSERT INTO segment (camera_id, rendition, run_start_90k, start_90k,
             duration_90k, frames, media_bytes, object_key, object_bytes,
             bucket_key_id, wrapped_key, sealed_index, mask_version_id, object_sha256)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
         RETURNING id",
        )?
        .query_row(
            params![
                s.camera_id.0,
                s.rendition,
                s.run_start_90k.0,
                s.start_90k.0,
                s.duration_90k,
                s.frames,
                s.media_bytes as i64,
                s.object_key,
                s.object_bytes as i64,
                s.bucket_key_id,
                s.wrapped_key,
                s.sealed_index,
                s.mask_version_id,
                s.object_sha256.as_ref().map(|h| &h[..]),
            ],
            |r| r.get(0).map(SegmentId),
        )?;
    if let Some(sha) = s.object_sha256 {
        chain::append_segment_link(tx, s, id, sha)?;
    }
    Ok(id)
}

impl Db {
    /// Deletes a batch of segment rows in one transaction and returns the
    /// object key and size of each row that existed (ids already gone are
    /// skipped), for the caller to delete the objects afterwards. Each
    /// recording chain it touches gets a removal link saying `reason`
    /// (`retention`, `decommission`, …) in the same transaction.
    pub fn delete_segments(
        &self,
        ids: &[SegmentId],
        reason: &str,
    ) -> Result<Vec<(String, u64)>, Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.with(|c| {
            let tx = c.transaction()?;
            let mut out = Vec::with_capacity(ids.len());
            let mut removed = Vec::with_capacity(ids.len());
            {
                let mut get = tx.prepare_cached(
                    "SELECT object_key, object_bytes, camera_id, rendition, start_90k,
                         start_90k + duration_90k
                     FROM segment WHERE id = ?1",
                )?;
                let mut del = tx.prepare_cached("DELETE FROM segment WHERE id = ?1")?;
                for id in ids {
                    let found: Option<(String, i64, i64, String, i64, i64)> = get
                        .query_row([id.0], |r| {
                            Ok((
                                r.get(0)?,
                                r.get(1)?,
                                r.get(2)?,
                                r.get(3)?,
                                r.get(4)?,
                                r.get(5)?,
                            ))
                        })
                        .optional()?;
                    if let Some((key, bytes, camera, rendition, start, end)) = found {
                        del.execute([id.0])?;
                        out.push((key, bytes.max(0) as u64));
                        removed.push((
                            CameraId(camera),
                            rendition,
                            *id,
                            Time90k(start),
                            Time90k(end),
                        ));
                    }
                }
            }
            chain::append_removals(&tx, reason, &removed)?;
            tx.commit()?;
            Ok(out)
        })
    }

    /// Inserts a segment row (after its object is durable) and, when it has
    /// an object hash, its segment link in the same transaction.
    pub fn insert_segment(&self, s: &SegmentRow) -> Result<SegmentId, Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            let id = insert_segment_row(&tx, s)?;
            tx.commit()?;
            Ok(id)
        })
    }

    /// Readable (`ok`) segments of a camera and rendition overlapping
    /// `[start, end)`, oldest first.
    pub fn segments(
        &self,
        camera: CameraId,
        rendition: &str,
        start: Time90k,
        end: Time90k,
    ) -> Result<Vec<SegmentRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {SEGMENT_COLUMNS} FROM segment
                 WHERE camera_id = ?1 AND rendition = ?2 AND state = 'ok'
                   AND start_90k < ?4 AND start_90k > CAST(?3 AS BIGINT) - ?5
                   AND start_90k + duration_90k > ?3
                 ORDER BY start_90k"
            ))?;
            let rows = st.query_map(
                params![
                    camera.0,
                    rendition,
                    start.0,
                    end.0,
                    crate::segment::MAX_SEGMENT_90K
                ],
                segment_row,
            )?;
            rows.collect()
        })
    }

    /// Segments marked `missing` or `corrupt`, oldest first (for `veil check`).
    pub fn unreadable_segments(&self) -> Result<Vec<SegmentRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {SEGMENT_COLUMNS} FROM segment WHERE state <> 'ok' ORDER BY id"
            ))?;
            let rows = st.query_map([], segment_row)?;
            rows.collect()
        })
    }

    /// Number of segment rows in any state.
    pub fn segment_count(&self) -> Result<u64, Error> {
        self.with(|c| {
            c.query_row("SELECT COUNT(*) FROM segment", [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        })
    }

    /// Bytes of every segment object the database lists (what recordings
    /// take in the object store).
    pub fn segment_object_bytes(&self) -> Result<u64, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT COALESCE(SUM(object_bytes), 0) FROM segment",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
        })
    }

    /// The id of the segment row whose object is `object_key`, if any: after
    /// an insert whose outcome is unknown (a connection lost around the
    /// commit), whether it was stored.
    pub fn segment_id_by_object_key(&self, object_key: &str) -> Result<Option<SegmentId>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT id FROM segment WHERE object_key = ?1",
                [object_key],
                |r| Ok(SegmentId(r.get(0)?)),
            )
            .optional()
        })
    }

    /// `(id, object key, object size, state)` of every segment row.
    pub fn segment_objects(&self) -> Result<Vec<(SegmentId, String, u64, String)>, Error> {
        self.with(|c| {
            let mut st =
                c.prepare("SELECT id, object_key, object_bytes, state FROM segment ORDER BY id")?;
            let rows = st.query_map([], |r| {
                Ok((
                    SegmentId(r.get(0)?),
                    r.get(1)?,
                    r.get::<_, i64>(2)? as u64,
                    r.get(3)?,
                ))
            })?;
            rows.collect()
        })
    }

    /// Marks a segment `missing` or `corrupt` (never served again), or `ok`
    /// again once `veil check` finds it opens.
    pub fn mark_segment(&self, id: SegmentId, state: &str) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE segment SET state = ?2 WHERE id = ?1",
                params![id.0, state],
            )
            .map(|_| ())
        })
    }
}
