//! Rows of erasure (`crate::erase`): the segments of a camera overlapping an
//! interval in every rendition and state, and the one transaction that
//! replaces erased segments by their rewritten remainders.

use crate::db::sql::{params, OptionalExtension};
use veil_base::{CameraId, SegmentId, Time90k};

use super::{chain, insert_segment_row, segment_row, Db, SegmentRow, SEGMENT_COLUMNS};
use crate::Error;

/// A segment row with its state (`ok`, `missing`, `corrupt`).
pub type StatedSegment = (SegmentRow, String);

/// Where a removed stretch ended inside a recording run: the remaining
/// segments of that run from `after` on start a new run, so players show
/// the gap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunCut {
    /// The rendition.
    pub rendition: String,
    /// The run the removed stretch was part of.
    pub run_start: Time90k,
    /// The end of the removed stretch.
    pub after: Time90k,
}

/// What [`Db::replace_erased_segments`] did.
#[derive(Clone, Debug, Default)]
pub struct Replaced {
    /// The deleted rows' objects: (id, object key, size).
    pub gone: Vec<super::destroy::DeletedSegment>,
    /// The ids of the inserted rows, in the order given.
    pub inserted: Vec<SegmentId>,
}

impl Db {
    /// Every segment row of `camera` (any rendition, any state) overlapping
    /// `[start, end)`, by rendition then time. A row of no duration counts
    /// as one tick long, as protections count it.
    pub fn erasure_segments(
        &self,
        camera: CameraId,
        start: Time90k,
        end: Time90k,
    ) -> Result<Vec<StatedSegment>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {SEGMENT_COLUMNS}, state FROM segment
                 WHERE camera_id = ?1 AND start_90k < ?3 AND start_90k > CAST(?2 AS BIGINT) - ?4
                   AND start_90k + CASE WHEN duration_90k > 1 THEN duration_90k ELSE 1 END > ?2
                 ORDER BY rendition, start_90k, id"
            ))?;
            let rows = st.query_map(
                params![camera.0, start.0, end.0, crate::segment::MAX_SEGMENT_90K],
                |r| Ok((segment_row(r)?, r.get::<_, String>(15)?)),
            )?;
            rows.collect()
        })
    }

    /// A segment row by id, in any state.
    pub fn segment_row_by_id(&self, id: SegmentId) -> Result<Option<SegmentRow>, Error> {
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {SEGMENT_COLUMNS} FROM segment WHERE id = ?1"
            ))?
            .query_row([id.0], segment_row)
            .optional()
        })
    }

    /// Erasure's one transaction: inserts `new` rows (their objects already
    /// durable) with their segment links, deletes the rows `old` and appends
    /// a removal link saying `detail` to each chain they leave, and starts
    /// a new run after each of `cuts`. Every row of `old` must still exist
    /// (else nothing changes and the error names it). Returns what went and
    /// the new ids.
    pub fn replace_erased_segments(
        &self,
        old: &[SegmentId],
        new: &[SegmentRow],
        cuts: &[RunCut],
        camera: CameraId,
        detail_reason: &str,
        detail_extra: &str,
    ) -> Result<Replaced, Error> {
        let out = self.with(|c| {
            let tx = c.transaction()?;
            let mut out = Replaced::default();
            let mut removed: Vec<chain::RemovedSegment> = Vec::with_capacity(old.len());
            {
                // RETURNING: SQLite 3.35 and PostgreSQL alike.
                let mut del = tx.prepare_cached(
                    "DELETE FROM segment WHERE id = ?1 AND camera_id = ?2
                     RETURNING object_key, object_bytes, rendition, start_90k,
                         start_90k + duration_90k",
                )?;
                for id in old {
                    let mut rows = del.query(params![id.0, camera.0])?;
                    let Some(r) = rows.next()? else {
                        return Ok(Err(*id));
                    };
                    let bytes: i64 = r.get(1)?;
                    out.gone.push((*id, r.get(0)?, bytes.max(0) as u64));
                    removed.push((
                        camera,
                        r.get(2)?,
                        *id,
                        Time90k(r.get(3)?),
                        Time90k(r.get(4)?),
                    ));
                }
            }
            for s in new {
                out.inserted.push(insert_segment_row(&tx, s)?);
            }
            {
                // Latest cut first: an earlier cut's run no longer holds the
                // rows a later cut moved.
                let mut cuts: Vec<&RunCut> = cuts.iter().collect();
                cuts.sort_by_key(|c| std::cmp::Reverse(c.after));
                let mut mv = tx.prepare_cached(
                    "UPDATE segment SET run_start_90k = (
                         SELECT MIN(s2.start_90k) FROM segment s2
                         WHERE s2.camera_id = ?1 AND s2.rendition = ?2
                           AND s2.run_start_90k = ?3 AND s2.start_90k >= ?4)
                     WHERE camera_id = ?1 AND rendition = ?2
                       AND run_start_90k = ?3 AND start_90k >= ?4",
                )?;
                for cut in cuts {
                    mv.execute(params![
                        camera.0,
                        cut.rendition,
                        cut.run_start.0,
                        cut.after.0
                    ])?;
                }
            }
            chain::append_removals_with(&tx, detail_reason, detail_extra, &removed)?;
            tx.commit()?;
            Ok(Ok(out))
        })?;
        out.map_err(|id| {
            Error::Invalid(format!(
                "segment {} is gone since the erasure was planned; nothing was erased",
                id.0
            ))
        })
    }
}
