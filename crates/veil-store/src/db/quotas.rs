//! Storage quotas: what each camera's recordings take, and the quotas set.

use crate::db::sql::params;
use veil_base::CameraId;

use super::Db;
use crate::Error;

/// The `setting` row holding the installation's storage quota, in bytes.
pub const GLOBAL_QUOTA_SETTING: &str = "storage_quota_bytes";

/// What one camera's recordings take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CameraUsage {
    /// The camera.
    pub camera: CameraId,
    /// Bytes of its stored objects.
    pub bytes: u64,
    /// How many segments.
    pub segments: u64,
}

impl Db {
    /// What each camera with recordings takes, by camera id.
    pub fn storage_usage(&self) -> Result<Vec<CameraUsage>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT camera_id, SUM(object_bytes), COUNT(*) FROM segment
                 GROUP BY camera_id ORDER BY camera_id",
            )?;
            let rows = st.query_map([], |r| {
                Ok(CameraUsage {
                    camera: CameraId(r.get(0)?),
                    bytes: r.get::<_, i64>(1)?.max(0) as u64,
                    segments: r.get::<_, i64>(2)?.max(0) as u64,
                })
            })?;
            rows.collect()
        })
    }

    /// The cameras that have a storage quota, and it, in bytes.
    pub fn camera_quotas(&self) -> Result<Vec<(CameraId, u64)>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, quota_bytes FROM camera WHERE quota_bytes IS NOT NULL ORDER BY id",
            )?;
            let rows = st.query_map([], |r| {
                Ok((CameraId(r.get(0)?), r.get::<_, i64>(1)?.max(0) as u64))
            })?;
            rows.collect()
        })
    }

    /// Sets (or, with `None`, removes) a camera's storage quota. Returns
    /// whether the camera exists.
    pub fn set_camera_quota(&self, camera: CameraId, bytes: Option<u64>) -> Result<bool, Error> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE camera SET quota_bytes = ?2 WHERE id = ?1",
                params![camera.0, bytes.map(|b| b.min(i64::MAX as u64) as i64)],
            )?;
            Ok(n == 1)
        })
    }

    /// The installation's storage quota, in bytes, if one is set.
    pub fn global_quota(&self) -> Result<Option<u64>, Error> {
        match self.setting(GLOBAL_QUOTA_SETTING)? {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                Error::Corrupt(format!(
                    "the stored storage quota {v:?} is not a byte count"
                ))
            }),
        }
    }

    /// Sets (or, with `None`, removes) the installation's storage quota.
    pub fn set_global_quota(&self, bytes: Option<u64>) -> Result<(), Error> {
        match bytes {
            Some(b) => self.set_setting(GLOBAL_QUOTA_SETTING, &b.to_string()),
            None => self.with(|c| {
                c.execute("DELETE FROM setting WHERE key = ?1", [GLOBAL_QUOTA_SETTING])
                    .map(drop)
            }),
        }
    }
}
