//! Storage pressure: a quota per camera and one for the installation.
//!
//! When a quota is exceeded, the oldest video that is neither locked nor
//! held is destroyed first, through the retention path (bucket keys, then
//! rows, then objects; [`Store::quota_plan`] plans it with the same pure
//! planner, so a protected segment is never selected). When only protected
//! video is left over the quota, the camera (or, for the installation's
//! quota, every camera) is blocked: its new video is refused with
//! [`Error::QuotaExceeded`], which its status shows, instead of destroying
//! evidence. The job that decides this runs above the store (it records
//! each destruction first); blocks are replaced whole at each run, so a
//! released lock or a raised quota lets recording resume.

use std::collections::HashMap;

use veil_base::{CameraId, Time90k};

use crate::retention::Plan;
use crate::segment::BUCKET_90K;
use crate::{Error, Store};

/// What a quota covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuotaScope {
    /// One camera's quota.
    Camera(CameraId),
    /// The installation's quota: every camera.
    Installation,
}

impl Store {
    /// Why `camera`'s new video is refused, if it is.
    pub fn quota_block(&self, camera: CameraId) -> Option<String> {
        self.quota_blocks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&camera)
            .cloned()
    }

    /// Replaces the set of blocked cameras (and why each is blocked).
    pub fn set_quota_blocks(&self, blocks: HashMap<CameraId, String>) {
        let mut b = self.quota_blocks.lock().unwrap_or_else(|p| p.into_inner());
        for cam in blocks.keys().filter(|c| !b.contains_key(c)) {
            tracing::warn!(
                camera = cam.0,
                "storage quota reached with only protected video left: new video is refused"
            );
        }
        for cam in b.keys().filter(|c| !blocks.contains_key(c)) {
            tracing::info!(
                camera = cam.0,
                "below the storage quota again: recording resumes"
            );
        }
        *b = blocks;
    }

    /// The next batch (at most `limit` bucket keys) that makes room under
    /// `scope`'s quota: its oldest unprotected video, the hour being
    /// recorded included. Empty when only protected video is left. Reads
    /// only.
    pub fn quota_plan(&self, now: Time90k, scope: QuotaScope, limit: usize) -> Result<Plan, Error> {
        let protections = self.active_protections()?;
        // Retention 0 for what the quota covers (every hour that has begun
        // is due), "never" for the rest.
        let keep = move |camera: CameraId, _: &str| match scope {
            QuotaScope::Installation => 0,
            QuotaScope::Camera(c) if c == camera => 0,
            QuotaScope::Camera(_) => i64::MAX / 4,
        };
        // (Segments whose key is already gone are planned too, whichever
        // camera: the retention run just before leaves none behind.)
        let mut plan = self.retention_plan(
            Time90k(now.0.saturating_add(BUCKET_90K)),
            keep,
            &protections,
            limit,
        )?;
        // It may take the hour being recorded: rows added after planning
        // are left keyless for the next run, not deleted unrecorded.
        plan.closed_buckets = false;
        plan.reason = "quota";
        Ok(plan)
    }
}
