//! The recording gate of documented purposes (P8): a camera without a
//! documented purpose does not record. Recorders ask [`Store::may_record`]
//! before they store a segment (and at each keyframe, so a run stops and
//! starts at a GOP boundary); the answer comes from an in-memory set of the
//! cameras that have a purpose, loaded from the database on first use and
//! kept current by [`Store::set_camera_purpose`], the one way to change a
//! purpose while a store is open. [`Store::write_segment`] itself does not
//! check: the gate is the recorders' (live view is not recording and is
//! never gated).

use std::collections::{HashMap, HashSet};

use veil_base::CameraId;

use crate::{Error, Store};

/// The cameras with a documented purpose (`None` until read from the
/// database; a failed read is tried again at the next question), and how
/// many times each camera's purpose was set or cleared since the store was
/// opened.
#[derive(Default)]
pub(crate) struct Purposes {
    documented: Option<HashSet<CameraId>>,
    changes: HashMap<CameraId, u64>,
}

/// [`Purposes`], shared by the store's clones.
pub(crate) type PurposeSet = std::sync::Arc<std::sync::RwLock<Purposes>>;

impl Store {
    /// Whether `camera` has a documented purpose, so its video may be
    /// stored. Cheap (a set lookup) after the first call; false when the
    /// purposes cannot be read (fail closed).
    pub fn may_record(&self, camera: CameraId) -> bool {
        self.recording_permit(camera).0
    }

    /// [`Store::may_record`], with how many times the camera's purpose was
    /// set or cleared since the store was opened: a recorder that sees the
    /// count change ends its run, so a purpose cleared and set again
    /// between two of its checks still leaves a gap between two runs.
    pub fn recording_permit(&self, camera: CameraId) -> (bool, u64) {
        {
            let p = self.purposes.read().unwrap_or_else(|p| p.into_inner());
            if let Some(set) = &p.documented {
                return (
                    set.contains(&camera),
                    p.changes.get(&camera).copied().unwrap_or(0),
                );
            }
        }
        // Read under the write lock, so that a purpose set meanwhile is
        // never overwritten by an older read.
        let mut p = self.purposes.write().unwrap_or_else(|p| p.into_inner());
        let changes = p.changes.get(&camera).copied().unwrap_or(0);
        if let Some(set) = &p.documented {
            return (set.contains(&camera), changes);
        }
        match self.load_purposes() {
            Ok(set) => {
                let allowed = set.contains(&camera);
                p.documented = Some(set);
                (allowed, changes)
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read cameras' documented purposes: not recording");
                (false, changes)
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
            *guard.changes.entry(camera).or_default() += 1;
            if let Some(set) = guard.documented.as_mut() {
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
