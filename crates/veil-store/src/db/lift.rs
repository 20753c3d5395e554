//! The lift key and lift grants (migration 14; `docs/design/masks.md`,
//! "Lifting a mask: keys and the lift path").

use crate::db::sql::{params, OptionalExtension};
use veil_base::{CameraId, Time90k, UserId};

use super::Db;
use crate::Error;

/// The installation's lift key as stored: its public half and its identity
/// sealed under root version `key_version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiftKeyRow {
    /// The X25519 recipient (`age1…`) original segment keys are sealed to.
    pub recipient: String,
    /// The identity, sealed under the root.
    pub sealed_identity: Vec<u8>,
    /// The root version it is sealed under.
    pub key_version: u32,
}

/// A lift grant: `user` may play the `original` rendition of `camera` over
/// `[start, end)` until `expires`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiftGrantRow {
    /// Its id.
    pub id: i64,
    /// Who lifted.
    pub user: UserId,
    /// The camera.
    pub camera: CameraId,
    /// The interval lifted.
    pub start: Time90k,
    /// Its end (exclusive).
    pub end: Time90k,
    /// When it was granted.
    pub created: Time90k,
    /// When it ends.
    pub expires: Time90k,
    /// The access-record entry (`mask.lift`) that recorded the lift.
    pub audit_seq: i64,
}

const GRANT_COLUMNS: &str =
    "id, user_id, camera_id, start_90k, end_90k, created_90k, expires_90k, audit_seq";

fn grant_row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<LiftGrantRow> {
    Ok(LiftGrantRow {
        id: r.get(0)?,
        user: UserId(r.get(1)?),
        camera: CameraId(r.get(2)?),
        start: Time90k(r.get(3)?),
        end: Time90k(r.get(4)?),
        created: Time90k(r.get(5)?),
        expires: Time90k(r.get(6)?),
        audit_seq: r.get(7)?,
    })
}

impl Db {
    /// The lift key, if one was made.
    pub fn lift_key(&self) -> Result<Option<LiftKeyRow>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT recipient, sealed_identity, key_version FROM lift_key WHERE id = 1",
                [],
                |r| {
                    Ok(LiftKeyRow {
                        recipient: r.get(0)?,
                        sealed_identity: r.get(1)?,
                        key_version: r.get(2)?,
                    })
                },
            )
            .optional()
        })
    }

    /// Stores the lift key unless one exists; returns the one stored (the
    /// first writer wins, so two writers never make two keys).
    pub fn insert_lift_key(&self, k: &LiftKeyRow, now: Time90k) -> Result<LiftKeyRow, Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO lift_key (id, recipient, sealed_identity, key_version, created_90k)
                 VALUES (1, ?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
                params![k.recipient, k.sealed_identity, k.key_version, now.0],
            )?;
            c.query_row(
                "SELECT recipient, sealed_identity, key_version FROM lift_key WHERE id = 1",
                [],
                |r| {
                    Ok(LiftKeyRow {
                        recipient: r.get(0)?,
                        sealed_identity: r.get(1)?,
                        key_version: r.get(2)?,
                    })
                },
            )
        })
    }

    /// Replaces the lift key's sealed identity if unchanged since read
    /// (root rotation).
    pub fn rewrap_lift_key(&self, old: &[u8], new: &[u8], version: u32) -> Result<bool, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE lift_key SET sealed_identity = ?2, key_version = ?3
                 WHERE id = 1 AND sealed_identity = ?1",
                params![old, new, version],
            )
            .map(|n| n == 1)
        })
    }

    /// Creates a lift grant for the access-record entry `audit_seq`, which
    /// must be a `mask.lift` entry on `camera:ID` by `user`'s pseudonym
    /// recorded at or after `recorded_after`, not yet used for a grant: the
    /// grant exists only because the lift was recorded. `None` otherwise.
    pub fn insert_lift_grant(
        &self,
        g: &LiftGrantRow,
        recorded_after: Time90k,
    ) -> Result<Option<LiftGrantRow>, Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            let recorded: bool = tx
                .query_row(
                    "SELECT 1 FROM audit a JOIN app_user u ON u.pseudonym = a.actor
                     WHERE a.seq = ?1 AND a.action = 'mask.lift' AND a.outcome = 'ok'
                       AND a.resource = ?2 AND u.id = ?3 AND a.time_90k >= ?4
                       AND NOT EXISTS (SELECT 1 FROM lift_grant WHERE audit_seq = ?1)",
                    params![
                        g.audit_seq,
                        format!("camera:{}", g.camera.0),
                        g.user.0,
                        recorded_after.0
                    ],
                    |_| Ok(true),
                )
                .optional()?
                .unwrap_or(false);
            if !recorded {
                return Ok(None);
            }
            let rowid: i64 = tx.query_row(
                "INSERT INTO lift_grant (user_id, camera_id, start_90k, end_90k, created_90k,
                     expires_90k, audit_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 RETURNING id",
                params![
                    g.user.0,
                    g.camera.0,
                    g.start.0,
                    g.end.0,
                    g.created.0,
                    g.expires.0,
                    g.audit_seq
                ],
                |r| r.get(0),
            )?;
            let id = rowid;
            tx.commit()?;
            Ok(Some(LiftGrantRow { id, ..g.clone() }))
        })
    }

    /// `user`'s newest unexpired grant on `camera` covering `[start, end)`
    /// at `now`.
    pub fn lift_grant_covering(
        &self,
        user: UserId,
        camera: CameraId,
        start: Time90k,
        end: Time90k,
        now: Time90k,
    ) -> Result<Option<LiftGrantRow>, Error> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "SELECT {GRANT_COLUMNS} FROM lift_grant
                     WHERE user_id = ?1 AND camera_id = ?2 AND expires_90k > ?5
                       AND start_90k <= ?3 AND end_90k >= ?4
                     ORDER BY expires_90k DESC LIMIT 1"
                ),
                params![user.0, camera.0, start.0, end.0, now.0],
                grant_row,
            )
            .optional()
        })
    }

    /// Deletes grants that ended before `now`; returns how many.
    pub fn delete_expired_lift_grants(&self, now: Time90k) -> Result<usize, Error> {
        self.with(|c| c.execute("DELETE FROM lift_grant WHERE expires_90k <= ?1", [now.0]))
    }
}

impl Db {
    /// Readable (`ok`) segments of a camera's default view overlapping
    /// `[start, end)`, oldest first: `main` (no masks) and `protected`
    /// (masked), which never overlap in time; never `original`.
    pub fn default_segments(
        &self,
        camera: CameraId,
        start: Time90k,
        end: Time90k,
    ) -> Result<Vec<super::SegmentRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {} FROM segment
                 WHERE camera_id = ?1 AND rendition IN (?5, ?6) AND state = 'ok'
                   AND start_90k < ?3 AND start_90k > CAST(?2 AS BIGINT) - ?4
                   AND start_90k + duration_90k > ?2
                 ORDER BY start_90k, id",
                super::SEGMENT_COLUMNS
            ))?;
            let rows = st.query_map(
                params![
                    camera.0,
                    start.0,
                    end.0,
                    crate::segment::MAX_SEGMENT_90K,
                    crate::MAIN_RENDITION,
                    crate::PROTECTED_RENDITION
                ],
                super::segment_row,
            )?;
            rows.collect()
        })
    }
}
