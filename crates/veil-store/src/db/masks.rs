//! Privacy mask versions: every change of a camera's masks is kept, so the
//! masks of any recording time can be found again.

use crate::db::sql::{params, OptionalExtension};
use veil_base::{CameraId, Time90k, UserId};

use super::Db;
use crate::Error;

/// One version of a camera's masks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaskVersionRow {
    /// Its id (what segments name).
    pub id: i64,
    /// The camera.
    pub camera: CameraId,
    /// The masks, as checked JSON (an array; empty when masks were removed).
    pub masks: String,
    /// Who saved it (`None` for the configuration file, or once erased).
    pub author: Option<UserId>,
    /// When.
    pub created: Time90k,
}

fn row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<MaskVersionRow> {
    Ok(MaskVersionRow {
        id: r.get(0)?,
        camera: CameraId(r.get(1)?),
        masks: r.get(2)?,
        author: r.get::<_, Option<i64>>(3)?.map(UserId),
        created: Time90k(r.get(4)?),
    })
}

const COLUMNS: &str = "id, camera_id, masks, author_id, created_90k";

impl Db {
    /// Stores a new version of a camera's masks; returns its id.
    pub fn insert_mask_version(
        &self,
        camera: CameraId,
        masks_json: &str,
        author: Option<UserId>,
        now: Time90k,
    ) -> Result<i64, Error> {
        self.with(|c| {
            let rowid: i64 = c.query_row(
                "INSERT INTO mask_version (camera_id, masks, author_id, created_90k)
                 VALUES (?1, ?2, ?3, ?4)
                 RETURNING id",
                params![camera.0, masks_json, author.map(|u| u.0), now.0],
                |r| r.get(0),
            )?;
            Ok(rowid)
        })
    }

    /// A camera's current masks (its latest version), if it ever had any.
    pub fn current_masks(&self, camera: CameraId) -> Result<Option<MaskVersionRow>, Error> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "SELECT {COLUMNS} FROM mask_version WHERE camera_id = ?1
                     ORDER BY id DESC LIMIT 1"
                ),
                [camera.0],
                row,
            )
            .optional()
        })
    }

    /// One mask version.
    pub fn mask_version(&self, id: i64) -> Result<Option<MaskVersionRow>, Error> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM mask_version WHERE id = ?1"),
                [id],
                row,
            )
            .optional()
        })
    }

    /// How many versions a camera's masks have had.
    pub fn mask_version_count(&self, camera: CameraId) -> Result<i64, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM mask_version WHERE camera_id = ?1",
                [camera.0],
                |r| r.get(0),
            )
        })
    }
}
