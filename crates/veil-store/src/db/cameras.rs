//! Cameras: the configured and managed cameras, their settings, sealed
//! credentials, tracks and PTZ.

use crate::db::sql::params;
use veil_base::{CameraId, Time90k};

use super::Db;
use crate::Error;

/// A unique-name violation as a clear `Invalid` error.
fn unique_name(e: Error) -> Error {
    match e {
        Error::Database(m) if m.contains("UNIQUE") && m.contains("camera.name") => {
            Error::Invalid("a camera with this name exists".into())
        }
        e => e,
    }
}

/// A camera row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraRow {
    /// Its id.
    pub id: CameraId,
    /// Display name.
    pub name: String,
    /// `synthetic` now; `rtsp` later.
    pub source_kind: String,
    /// The source's settings as JSON (never credentials in clear).
    pub source_config: String,
    /// Its group, for scoped grants (`None` when it has none).
    pub group: Option<String>,
}

/// A camera's managed settings (cameras created over the API).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraSettings {
    /// Display name (unique among cameras that are not deleted).
    pub name: String,
    /// `rtsp`.
    pub source_kind: String,
    /// Source settings as JSON, without credentials.
    pub source_config: String,
    /// Whether it records.
    pub enabled: bool,
    /// `continuous`, `scheduled` or `motion`.
    pub recording_mode: String,
    /// Group name (empty for none).
    pub group: String,
    /// Target segment length, if not the server's default.
    pub segment_seconds: Option<u32>,
    /// The recording mode's settings as JSON (schedule or motion), stored
    /// without being interpreted; `None` for continuous recording.
    pub recording_config: Option<String>,
    /// Whether the camera's audio track is recorded, and why.
    pub audio: TrackConsent,
    /// Whether the camera's ONVIF metadata track is recorded, and why.
    pub metadata: TrackConsent,
    /// What it looks at (`retention_rule::AREAS`), checked by the caller.
    pub area: String,
    /// Whether it can pan, tilt and zoom, and whether Veil may move it.
    pub ptz: Ptz,
}

/// A camera's pan-tilt-zoom flags (migration 15). Static privacy masks are
/// fixed to the picture, so the web layer refuses `control` while the
/// camera has masks, and masks while `control` is on; `control` needs
/// `capable`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ptz {
    /// The camera can pan, tilt or zoom.
    pub capable: bool,
    /// PTZ control is enabled (the picture may move).
    pub control: bool,
}

/// Whether an optional track (audio, ONVIF metadata) is recorded, with the
/// documented purpose. Off with an empty purpose by default; the web layer
/// refuses `enabled` without a purpose.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrackConsent {
    /// Whether the track is set up and recorded.
    pub enabled: bool,
    /// Why (the text the records of processing quote).
    pub purpose: String,
}

/// A camera's stored settings as SQL parameters ?1..?15, in the column order
/// that inserting and updating a managed camera both use.
fn camera_settings_params(s: &CameraSettings) -> Vec<&dyn crate::db::sql::ToSql> {
    vec![
        &s.name,
        &s.source_kind,
        &s.source_config,
        &s.enabled,
        &s.recording_mode,
        &s.group,
        &s.segment_seconds,
        &s.recording_config,
        &s.audio.enabled,
        &s.audio.purpose,
        &s.metadata.enabled,
        &s.metadata.purpose,
        &s.area,
        &s.ptz.capable,
        &s.ptz.control,
    ]
}

/// A camera with its settings, as camera management sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraDetail {
    /// Its id.
    pub id: CameraId,
    /// Whether it was created over the API (else from the configuration file).
    pub managed: bool,
    /// Its settings.
    pub settings: CameraSettings,
    /// Credentials sealed under the root key (see `Keyring::seal_camera_secret`).
    pub sealed_credentials: Option<Vec<u8>>,
}

impl Db {
    /// Inserts a camera, or updates its source if one with that name exists.
    pub fn upsert_camera(
        &self,
        name: &str,
        source_kind: &str,
        source_config: &str,
        now: Time90k,
    ) -> Result<CameraId, Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO camera (name, source_kind, source_config, created_90k)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET source_kind = ?2, source_config = ?3",
                params![name, source_kind, source_config, now.0],
            )?;
            c.query_row("SELECT id FROM camera WHERE name = ?1", [name], |r| {
                Ok(CameraId(r.get(0)?))
            })
        })
    }

    /// Creates a camera over the API; its credentials are set separately
    /// (sealing binds the id, known only now).
    pub fn insert_managed_camera(
        &self,
        s: &CameraSettings,
        now: Time90k,
    ) -> Result<CameraId, Error> {
        self.with(|c| {
            let rowid: i64 = c.query_row(
                "INSERT INTO camera (name, source_kind, source_config, enabled, recording_mode,
                    camera_group, segment_seconds, recording_config, audio_enabled,
                    audio_purpose, metadata_enabled, metadata_purpose, area, ptz_capable,
                    ptz_control, created_90k, managed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, 1)
                 RETURNING id",
                crate::db::sql::params_from_iter(
                    camera_settings_params(s).into_iter().chain([&now.0 as _]),
                ),
                |r| r.get(0),
            )?;
            Ok(CameraId(rowid))
        })
        .map_err(unique_name)
    }

    /// Replaces a managed camera's settings. False if no such live camera.
    pub fn update_managed_camera(&self, id: CameraId, s: &CameraSettings) -> Result<bool, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE camera SET name = ?1, source_kind = ?2, source_config = ?3, enabled = ?4,
                    recording_mode = ?5, camera_group = ?6, segment_seconds = ?7,
                    recording_config = ?8, audio_enabled = ?9, audio_purpose = ?10,
                    metadata_enabled = ?11, metadata_purpose = ?12, area = ?13,
                    ptz_capable = ?14, ptz_control = ?15
                 WHERE id = ?16 AND managed = 1 AND deleted_90k IS NULL",
                crate::db::sql::params_from_iter(
                    camera_settings_params(s).into_iter().chain([&id.0 as _]),
                ),
            )
            .map(|n| n == 1)
        })
        .map_err(unique_name)
    }

    /// Sets (or clears) a camera's sealed credentials.
    pub fn set_camera_credentials(&self, id: CameraId, sealed: Option<&[u8]>) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE camera SET sealed_credentials = ?2 WHERE id = ?1",
                params![id.0, sealed],
            )
            .map(|_| ())
        })
    }

    /// Sets a camera's audio and metadata recording settings (for cameras
    /// from the configuration file, whose other settings are not stored).
    pub fn set_camera_tracks(
        &self,
        id: CameraId,
        audio: &TrackConsent,
        metadata: &TrackConsent,
    ) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE camera SET audio_enabled = ?2, audio_purpose = ?3, metadata_enabled = ?4,
                    metadata_purpose = ?5
                 WHERE id = ?1",
                params![
                    id.0,
                    audio.enabled,
                    audio.purpose,
                    metadata.enabled,
                    metadata.purpose
                ],
            )
            .map(|_| ())
        })
    }

    /// Sets a camera's PTZ flags (for cameras from the configuration file,
    /// whose other settings are not stored here).
    pub fn set_camera_ptz(&self, id: CameraId, ptz: Ptz) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE camera SET ptz_capable = ?2, ptz_control = ?3 WHERE id = ?1",
                params![id.0, ptz.capable, ptz.control],
            )
            .map(|_| ())
        })
    }

    /// Deletes a managed camera: it stops being listed and its name is freed;
    /// the row stays for its recordings (retention removes those). Its sealed
    /// credentials are erased. False if no such live managed camera.
    pub fn delete_managed_camera(&self, id: CameraId, now: Time90k) -> Result<bool, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE camera SET deleted_90k = ?2, enabled = 0, sealed_credentials = NULL,
                    name = name || ' [deleted ' || id || ']'
                 WHERE id = ?1 AND managed = 1 AND deleted_90k IS NULL",
                params![id.0, now.0],
            )
            .map(|n| n == 1)
        })
    }

    /// Every camera that is not deleted, with its settings, by id.
    pub fn camera_details(&self) -> Result<Vec<CameraDetail>, Error> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, managed, name, source_kind, source_config, enabled, recording_mode,
                    camera_group, segment_seconds, sealed_credentials, recording_config,
                    audio_enabled, audio_purpose, metadata_enabled, metadata_purpose, area,
                    ptz_capable, ptz_control
                 FROM camera WHERE deleted_90k IS NULL ORDER BY id",
            )?;
            let rows = st.query_map([], |r| {
                Ok(CameraDetail {
                    id: CameraId(r.get(0)?),
                    managed: r.get(1)?,
                    settings: CameraSettings {
                        name: r.get(2)?,
                        source_kind: r.get(3)?,
                        source_config: r.get(4)?,
                        enabled: r.get(5)?,
                        recording_mode: r.get(6)?,
                        group: r.get(7)?,
                        segment_seconds: r.get(8)?,
                        recording_config: r.get(10)?,
                        audio: TrackConsent {
                            enabled: r.get(11)?,
                            purpose: r.get(12)?,
                        },
                        metadata: TrackConsent {
                            enabled: r.get(13)?,
                            purpose: r.get(14)?,
                        },
                        area: r.get(15)?,
                        ptz: Ptz {
                            capable: r.get(16)?,
                            control: r.get(17)?,
                        },
                    },
                    sealed_credentials: r.get(9)?,
                })
            })?;
            rows.collect()
        })
    }

    /// One camera that is not deleted, with its settings.
    pub fn camera_detail(&self, id: CameraId) -> Result<Option<CameraDetail>, Error> {
        Ok(self.camera_details()?.into_iter().find(|c| c.id == id))
    }

    /// All cameras that are not deleted, by id.
    pub fn cameras(&self) -> Result<Vec<CameraRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, name, source_kind, source_config, camera_group FROM camera
                 WHERE deleted_90k IS NULL ORDER BY id",
            )?;
            let rows = st.query_map([], |r| {
                let group: String = r.get(4)?;
                Ok(CameraRow {
                    id: CameraId(r.get(0)?),
                    name: r.get(1)?,
                    source_kind: r.get(2)?,
                    source_config: r.get(3)?,
                    group: (!group.is_empty()).then_some(group),
                })
            })?;
            rows.collect()
        })
    }
}
