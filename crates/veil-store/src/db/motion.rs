//! Motion events: when motion started and ended on a camera.

use rusqlite::params;
use veil_base::{CameraId, Time90k};

use super::Db;
use crate::Error;

/// A motion event of the recording gate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MotionEventRow {
    /// Its id.
    pub id: i64,
    /// The camera.
    pub camera_id: CameraId,
    /// The keyframe where motion was first seen.
    pub start_90k: Time90k,
    /// Where the gate ended the motion run; `None` while it lasts.
    pub end_90k: Option<Time90k>,
}

impl Db {
    /// Records that motion started on `camera` at `start`; returns the
    /// event's id, to end it with [`Db::end_motion_event`].
    pub fn insert_motion_event(&self, camera: CameraId, start: Time90k) -> Result<i64, Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO motion_event (camera_id, start_90k) VALUES (?1, ?2)",
                params![camera.0, start.0],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// Sets the end of motion event `id` (once: an ended event keeps its end).
    pub fn end_motion_event(&self, id: i64, end: Time90k) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE motion_event SET end_90k = ?2 WHERE id = ?1 AND end_90k IS NULL",
                params![id, end.0],
            )
            .map(|_| ())
        })
    }

    /// Ends every motion event of `camera` still open, at `end` (or at its
    /// start, if later): after a disconnection or a restart.
    pub fn end_open_motion_events(&self, camera: CameraId, end: Time90k) -> Result<usize, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE motion_event SET end_90k = CASE WHEN start_90k > ?2 THEN start_90k ELSE ?2 END
                 WHERE camera_id = ?1 AND end_90k IS NULL",
                params![camera.0, end.0],
            )
        })
    }

    /// Ends every open motion event (none is open before ingest starts, so
    /// these were left by a crash) at its camera's last recorded frame, or at
    /// its own start if nothing was recorded after it. Returns how many.
    pub fn close_interrupted_motion_events(&self) -> Result<usize, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE motion_event SET end_90k = (
                     SELECT CASE WHEN MAX(s.start_90k + s.duration_90k) > motion_event.start_90k
                                 THEN MAX(s.start_90k + s.duration_90k)
                                 ELSE motion_event.start_90k END
                     FROM segment s WHERE s.camera_id = motion_event.camera_id)
                 WHERE end_90k IS NULL",
                [],
            )
        })
    }

    /// Motion events of `camera` overlapping `[start, end)` (an open event
    /// overlaps everything after its start), oldest first, at most `limit`.
    pub fn motion_events(
        &self,
        camera: CameraId,
        start: Time90k,
        end: Time90k,
        limit: i64,
    ) -> Result<Vec<MotionEventRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, camera_id, start_90k, end_90k FROM motion_event
                 WHERE camera_id = ?1 AND start_90k < ?3
                   AND (end_90k IS NULL OR end_90k > ?2)
                 ORDER BY start_90k, id LIMIT ?4",
            )?;
            let rows = st.query_map(params![camera.0, start.0, end.0, limit], |r| {
                Ok(MotionEventRow {
                    id: r.get(0)?,
                    camera_id: CameraId(r.get(1)?),
                    start_90k: Time90k(r.get(2)?),
                    end_90k: r.get::<_, Option<i64>>(3)?.map(Time90k),
                })
            })?;
            rows.collect()
        })
    }
}
