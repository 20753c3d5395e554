//! The recording gate of documented purposes (P8): a camera without a
//! documented purpose does not record. Recorders ask [`Store::may_record`]
//! before they store a segment (and at each keyframe, so a run stops and
//! starts at a GOP boundary); the answer comes from an in-memory set of the
//! cameras that have a purpose, loaded from the database on first use and
//! kept current by [`Store::set_camera_purpose`], the one way to change a
//! purpose while a store is open. [`Store::write_segment`] itself does not
//! check: the gate is the recorders' (live view is not recording and is
//! never gated).

use std::collections::HashSet;

use veil_base::CameraId;

use crate::{Error, Store};

/// The cameras with a documented purpose; `None` until read from the
/// database (a failed read is tried again at the next question).
pub(crate) type PurposeSet = std::sync::Arc<std::sync::RwLock<Option<HashSet<CameraId>>>>;

impl Store {
    /// Whether `camera` has a documented purpose, so its video may be
    /// stored. Cheap (a set lookup) after the first call; false when the
    /// purposes cannot be read (fail closed).
    pub fn may_record(&self, camera: CameraId) -> bool {
        if let Some(set) = &*self.purposes.read().unwrap_or_else(|p| p.into_inner()) {
            return set.contains(&camera);
        }
        match self.load_purposes() {
            Ok(set) => {
                let allowed = set.contains(&camera);
                *self.purposes.write().unwrap_or_else(|p| p.into_inner()) = Some(set);
                allowed
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read cameras' documented purposes: not recording");
                false
            }
        }
    }

    fn load_purposes(&self) -> Result<HashSet<CameraId>, Error> {
        Ok(self
            .db
            .camera_dpo()?
            .into_iter()
            .filter(|c| c.purpose.is_some())
            .map(|c| c.camera)
            .collect())
    }

    /// Sets (or, with `None`, clears) `camera`'s documented purpose (the
    /// JSON of a `veil_dpo::model::Purpose`) and lets its recorders start
    /// or stop at their next segment. False when there is no such camera.
    pub fn set_camera_purpose(
        &self,
        camera: CameraId,
        purpose: Option<&str>,
    ) -> Result<bool, Error> {
        let mut guard = self.purposes.write().unwrap_or_else(|p| p.into_inner());
        let found = self.db.set_camera_purpose(camera, purpose)?;
        if found {
            if let Some(set) = guard.as_mut() {
                if purpose.is_some() {
                    set.insert(camera);
                } else {
                    set.remove(&camera);
                }
            }
        }
        Ok(found)
    }
}
