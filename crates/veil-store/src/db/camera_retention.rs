//! Per-camera, per-rendition retention (`camera_retention`) and the camera's
//! area: what `retention_rule` computes the effective retention from.

use std::collections::HashMap;

use crate::db::sql::{params, OptionalExtension};
use veil_base::{CameraId, Time90k};

use super::Db;
use crate::retention_rule::{CameraRetention, Rules};
use crate::Error;

/// A change of one rendition's rule: set it, or remove it (back to the
/// default of the camera's area or the installation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetentionChange {
    /// Keep this rendition's recordings this many hours, for this reason
    /// (empty when none was needed).
    Set {
        /// Hours.
        hours: u32,
        /// Why (trimmed, may be empty).
        justification: String,
    },
    /// Remove the camera's own rule.
    Default,
}

impl Db {
    /// A camera's area, deleted cameras included; `None` if no such camera.
    pub fn camera_area(&self, id: CameraId) -> Result<Option<String>, Error> {
        self.with(|c| {
            c.query_row("SELECT area FROM camera WHERE id = ?1", [id.0], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    /// Sets a camera's area (checked by the caller; for cameras from the
    /// configuration file, whose other settings are not stored here).
    pub fn set_camera_area(&self, id: CameraId, area: &str) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE camera SET area = ?2 WHERE id = ?1",
                params![id.0, area],
            )
            .map(|_| ())
        })
    }

    /// A camera's own retention rules, by rendition (deleted cameras too).
    pub fn camera_retention(&self, id: CameraId) -> Result<Vec<CameraRetention>, Error> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT rendition, hours, justification, updated_90k FROM camera_retention
                 WHERE camera_id = ?1 ORDER BY rendition",
            )?;
            let rows = st.query_map([id.0], |r| {
                Ok(CameraRetention {
                    rendition: r.get(0)?,
                    hours: r.get(1)?,
                    justification: r.get(2)?,
                    updated_90k: Time90k(r.get(3)?),
                })
            })?;
            rows.collect()
        })
    }

    /// Applies a camera's rule changes in one transaction: all or nothing.
    pub fn set_camera_retention(
        &self,
        id: CameraId,
        changes: &[(String, RetentionChange)],
        now: Time90k,
    ) -> Result<(), Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            for (rendition, change) in changes {
                match change {
                    RetentionChange::Set {
                        hours,
                        justification,
                    } => {
                        tx.execute(
                            "INSERT INTO camera_retention
                                (camera_id, rendition, hours, justification, updated_90k)
                             VALUES (?1, ?2, ?3, ?4, ?5)
                             ON CONFLICT (camera_id, rendition) DO UPDATE SET
                                hours = excluded.hours,
                                justification = excluded.justification,
                                updated_90k = excluded.updated_90k",
                            params![id.0, rendition, hours, justification, now.0],
                        )?;
                    }
                    RetentionChange::Default => {
                        tx.execute(
                            "DELETE FROM camera_retention WHERE camera_id = ?1 AND rendition = ?2",
                            params![id.0, rendition],
                        )?;
                    }
                }
            }
            tx.commit()
        })
    }

    /// Every camera's area and own rules (deleted cameras included: their
    /// recordings keep their retention), read once, with the installation's
    /// retention: what one retention plan runs with.
    pub fn retention_rules(&self, installation_hours: u32) -> Result<Rules, Error> {
        self.with(|c| {
            let mut areas = HashMap::new();
            let mut st = c.prepare("SELECT id, area FROM camera")?;
            for row in st.query_map([], |r| Ok((CameraId(r.get(0)?), r.get::<_, String>(1)?)))? {
                let (id, area) = row?;
                areas.insert(id, area);
            }
            let mut own = HashMap::new();
            let mut st = c.prepare("SELECT camera_id, rendition, hours FROM camera_retention")?;
            for row in st.query_map([], |r| {
                Ok((CameraId(r.get(0)?), r.get::<_, String>(1)?, r.get(2)?))
            })? {
                let (id, rendition, hours) = row?;
                own.insert((id, rendition), hours);
            }
            let original_hours = c
                .query_row(
                    "SELECT value FROM setting WHERE key = ?1",
                    [crate::retention_rule::ORIGINAL_SETTING],
                    |r| r.get::<_, String>(0),
                )
                .optional()?
                .and_then(|v| v.trim().parse().ok());
            Ok(Rules {
                installation_hours,
                areas,
                own,
                original_hours,
            })
        })
    }
}
