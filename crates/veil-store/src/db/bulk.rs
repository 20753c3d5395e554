//! Bulk loading for benchmarks and tests: many segment rows in one
//! transaction. Not used on the recording path, which inserts one row after
//! each durable object (`Db::insert_segment`).

use crate::db::sql::params;

use super::{Db, SegmentRow};
use crate::Error;

impl Db {
    /// Inserts `rows` in one transaction (their `id` is ignored).
    pub fn insert_segments(&self, rows: &[SegmentRow]) -> Result<(), Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(
                    "INSERT INTO segment (camera_id, rendition, run_start_90k, start_90k,
                         duration_90k, frames, media_bytes, object_key, object_bytes,
                         bucket_key_id, wrapped_key, sealed_index)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )?;
                for s in rows {
                    st.execute(params![
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
                    ])?;
                }
            }
            tx.commit()
        })
    }
}
