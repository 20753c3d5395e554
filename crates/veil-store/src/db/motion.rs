//! Motion events: when motion started and ended on a camera.

use crate::db::sql::params;
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
            let rowid: i64 = c.query_row(
                "INSERT INTO motion_event (camera_id, start_90k) VALUES (?1, ?2)
                 RETURNING id",
                params![camera.0, start.0],
                |r| r.get(0),
            )?;
            Ok(rowid)
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

#[cfg(test)]
mod tests {
    use super::*;
    use veil_base::SegmentId;

    use crate::db::SegmentRow;

    #[test]
    fn motion_events_open_end_once_and_overlap_queries() {
        let db = Db::open_for_tests().unwrap();
        let a = db
            .upsert_camera("a", "synthetic", "{}", Time90k(0))
            .unwrap();
        let b = db
            .upsert_camera("b", "synthetic", "{}", Time90k(0))
            .unwrap();
        let e1 = db.insert_motion_event(a, Time90k(100)).unwrap();
        let e2 = db.insert_motion_event(a, Time90k(500)).unwrap();
        let other = db.insert_motion_event(b, Time90k(100)).unwrap();
        db.end_motion_event(e1, Time90k(200)).unwrap();
        // An ended event keeps its first end.
        db.end_motion_event(e1, Time90k(900)).unwrap();
        let all = db
            .motion_events(a, Time90k(0), Time90k(10_000), 100)
            .unwrap();
        assert_eq!(
            all,
            vec![
                MotionEventRow {
                    id: e1,
                    camera_id: a,
                    start_90k: Time90k(100),
                    end_90k: Some(Time90k(200)),
                },
                MotionEventRow {
                    id: e2,
                    camera_id: a,
                    start_90k: Time90k(500),
                    end_90k: None,
                },
            ]
        );
        // Overlap: [150, 160) touches the first; the open one from 500 on.
        let ids = |s, e| -> Vec<i64> {
            db.motion_events(a, Time90k(s), Time90k(e), 100)
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect()
        };
        assert_eq!(ids(150, 160), [e1]);
        assert_eq!(ids(200, 500), Vec::<i64>::new(), "end and start exclusive");
        assert_eq!(ids(5000, 6000), [e2], "an open event lasts");
        assert_eq!(ids(0, 100), Vec::<i64>::new());
        assert_eq!(
            db.motion_events(a, Time90k(0), Time90k(10_000), 1)
                .unwrap()
                .len(),
            1
        );
        // Open events are closed after a disconnection, never before they began.
        assert_eq!(db.end_open_motion_events(a, Time90k(400)).unwrap(), 1);
        let closed = db
            .motion_events(a, Time90k(0), Time90k(10_000), 100)
            .unwrap();
        assert_eq!(closed[1].end_90k, Some(Time90k(500)));
        let b_events = db
            .motion_events(b, Time90k(0), Time90k(10_000), 100)
            .unwrap();
        assert_eq!(b_events[0].id, other);
        assert_eq!(b_events[0].end_90k, None, "other cameras are untouched");
    }

    #[test]
    fn motion_events_left_open_by_a_crash_end_at_the_last_recorded_frame() {
        let db = Db::open_for_tests().unwrap();
        let a = db
            .upsert_camera("a", "synthetic", "{}", Time90k(0))
            .unwrap();
        let b = db
            .upsert_camera("b", "synthetic", "{}", Time90k(0))
            .unwrap();
        db.insert_segment(&SegmentRow {
            id: SegmentId(0),
            camera_id: a,
            rendition: "main".into(),
            run_start_90k: Time90k(100),
            start_90k: Time90k(100),
            duration_90k: 1000,
            frames: 25,
            media_bytes: 1,
            object_key: "a/1".into(),
            object_bytes: 1,
            bucket_key_id: None,
            wrapped_key: vec![0],
            sealed_index: vec![0],
            mask_version_id: None,
            object_sha256: None,
        })
        .unwrap();
        let ended = db.insert_motion_event(a, Time90k(150)).unwrap();
        db.end_motion_event(ended, Time90k(300)).unwrap();
        let open = db.insert_motion_event(a, Time90k(500)).unwrap();
        let unrecorded = db.insert_motion_event(b, Time90k(700)).unwrap();
        assert_eq!(db.close_interrupted_motion_events().unwrap(), 2);
        let end_of = |camera, id| {
            db.motion_events(camera, Time90k(0), Time90k(10_000), 10)
                .unwrap()
                .into_iter()
                .find(|e| e.id == id)
                .unwrap()
                .end_90k
        };
        assert_eq!(end_of(a, open), Some(Time90k(1100)), "the last frame's end");
        assert_eq!(
            end_of(a, ended),
            Some(Time90k(300)),
            "an ended event keeps its end"
        );
        assert_eq!(
            end_of(b, unrecorded),
            Some(Time90k(700)),
            "nothing recorded: its start"
        );
        assert_eq!(db.close_interrupted_motion_events().unwrap(), 0);
    }
}
