//! Root key versions, the re-wrapping of everything wrapped under the root
//! when it rotates, and the lists decommissioning destroys
//! (`docs/design/retention.md`, "Rotation" and "Certified decommissioning").

use crate::db::sql::{params, OptionalExtension};
use veil_base::{CameraId, SegmentId, Time90k, UserId};

use super::Db;
use crate::Error;

/// A row of `root_key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootVersion {
    /// The version number.
    pub version: u32,
    /// When it was created.
    pub created: Time90k,
    /// When it was destroyed, if it was.
    pub destroyed: Option<Time90k>,
}

/// A bucket key to re-wrap: id, scope and wrapped bytes.
pub type BucketKeyToRewrap = (i64, CameraId, String, Time90k, Vec<u8>);

/// A user's sealed second-factor seeds: id, `totp_sealed`,
/// `totp_pending_sealed`, key version.
pub type UserSecrets = (UserId, Option<Vec<u8>>, Option<Vec<u8>>, u32);

/// How many rows name a root version, per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WrappedCounts {
    /// Bucket keys.
    pub bucket_keys: u64,
    /// Cameras with sealed credentials.
    pub cameras: u64,
    /// Accounts with sealed second-factor seeds.
    pub users: u64,
    /// Locks and holds with their own key.
    pub protections: u64,
    /// The lift key's sealed identity (0 or 1).
    pub lift_keys: u64,
}

impl WrappedCounts {
    /// All of them.
    pub fn total(&self) -> u64 {
        self.bucket_keys + self.cameras + self.users + self.protections + self.lift_keys
    }
}

impl Db {
    /// Every root key version, oldest first.
    pub fn root_key_versions(&self) -> Result<Vec<RootVersion>, Error> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT version, created_90k, destroyed_90k FROM root_key ORDER BY version",
            )?;
            let rows = st.query_map([], |r| {
                Ok(RootVersion {
                    version: r.get(0)?,
                    created: Time90k(r.get(1)?),
                    destroyed: r.get::<_, Option<i64>>(2)?.map(Time90k),
                })
            })?;
            rows.collect()
        })
    }

    /// Records a root version as created (nothing if it is already listed).
    pub fn insert_root_key_version(&self, version: u32, now: Time90k) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO root_key (version, created_90k) VALUES (?1, ?2)
                 ON CONFLICT (version) DO NOTHING",
                params![version, now.0],
            )
            .map(|_| ())
        })
    }

    /// Whether this database already holds an installation: a root key
    /// version, a setting or an access-record entry. A shared (PostgreSQL)
    /// database has no file whose absence says "new": an empty one is new.
    pub fn holds_installation(&self) -> Result<bool, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT EXISTS (SELECT 1 FROM root_key) OR EXISTS (SELECT 1 FROM setting) \
                 OR EXISTS (SELECT 1 FROM audit)",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
        .map(|n| n != 0)
    }

    /// Records a root version as destroyed, and deletes its check value.
    pub fn mark_root_key_destroyed(
        &self,
        version: u32,
        check_setting: &str,
        now: Time90k,
    ) -> Result<(), Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "UPDATE root_key SET destroyed_90k = ?2
                 WHERE version = ?1 AND destroyed_90k IS NULL",
                params![version, now.0],
            )?;
            tx.execute("DELETE FROM setting WHERE key = ?1", [check_setting])?;
            tx.commit()
        })
    }

    /// Stores a new bucket key wrapped under root version `version`, once
    /// per (camera, rendition, bucket): gives its id and `None`, or, where
    /// another writer (another node on a shared database) stored this
    /// bucket's key first, the winner's id and wrapped key, which the caller
    /// uses instead of its own. The unique constraint decides; no lock is
    /// needed (PostgreSQL makes the loser's insert wait for the winner's
    /// commit, then do nothing, and the read that follows sees the row).
    pub fn insert_bucket_key_at(
        &self,
        camera: CameraId,
        rendition: &str,
        bucket_start: Time90k,
        wrapped: &[u8],
        version: u32,
    ) -> Result<(i64, Option<Vec<u8>>), Error> {
        self.with(|c| {
            let inserted: Option<i64> = c
                .query_row(
                    "INSERT INTO bucket_key (camera_id, rendition, bucket_start_90k, wrapped, key_version)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (camera_id, rendition, bucket_start_90k) DO NOTHING
                     RETURNING id",
                    params![camera.0, rendition, bucket_start.0, wrapped, version],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = inserted {
                return Ok((id, None));
            }
            let (id, winner): (i64, Vec<u8>) = c.query_row(
                "SELECT id, wrapped FROM bucket_key
                 WHERE camera_id = ?1 AND rendition = ?2 AND bucket_start_90k = ?3",
                params![camera.0, rendition, bucket_start.0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok((id, Some(winner)))
        })
    }

    /// A page of bucket keys not wrapped under `version`, by id after `after`.
    pub fn bucket_keys_not_at(
        &self,
        version: u32,
        after: i64,
        limit: usize,
    ) -> Result<Vec<BucketKeyToRewrap>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, camera_id, rendition, bucket_start_90k, wrapped FROM bucket_key
                 WHERE key_version <> ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            )?;
            let rows = st.query_map(params![version, after, limit as i64], |r| {
                Ok((
                    r.get(0)?,
                    CameraId(r.get(1)?),
                    r.get(2)?,
                    Time90k(r.get(3)?),
                    r.get(4)?,
                ))
            })?;
            rows.collect()
        })
    }

    /// Replaces wrapped bucket keys in one transaction, each only if it
    /// still holds the bytes it was read with (one destroyed meanwhile is
    /// skipped). Returns how many were replaced.
    pub fn rewrap_bucket_keys(
        &self,
        batch: &[(i64, Vec<u8>, Vec<u8>)],
        version: u32,
    ) -> Result<usize, Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            let mut n = 0;
            {
                let mut st = tx.prepare_cached(
                    "UPDATE bucket_key SET wrapped = ?3, key_version = ?4
                     WHERE id = ?1 AND wrapped = ?2",
                )?;
                for (id, old, new) in batch {
                    n += st.execute(params![id, old, new, version])?;
                }
            }
            tx.commit()?;
            Ok(n)
        })
    }

    /// Every camera's sealed credentials with their key version.
    pub fn camera_secrets(&self) -> Result<Vec<(CameraId, Vec<u8>, u32)>, Error> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, sealed_credentials, key_version FROM camera
                 WHERE sealed_credentials IS NOT NULL ORDER BY id",
            )?;
            let rows = st.query_map([], |r| Ok((CameraId(r.get(0)?), r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })
    }

    /// Replaces a camera's sealed credentials if unchanged since read.
    pub fn rewrap_camera_secret(
        &self,
        camera: CameraId,
        old: &[u8],
        new: &[u8],
        version: u32,
    ) -> Result<bool, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE camera SET sealed_credentials = ?3, key_version = ?4
                 WHERE id = ?1 AND sealed_credentials = ?2",
                params![camera.0, old, new, version],
            )
            .map(|n| n == 1)
        })
    }

    /// Every account's sealed second-factor seeds with their key version.
    pub fn user_secrets(&self) -> Result<Vec<UserSecrets>, Error> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, totp_sealed, totp_pending_sealed, key_version FROM app_user
                 WHERE totp_sealed IS NOT NULL OR totp_pending_sealed IS NOT NULL ORDER BY id",
            )?;
            let rows = st.query_map([], |r| {
                Ok((UserId(r.get(0)?), r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            rows.collect()
        })
    }

    /// Replaces an account's sealed seeds if unchanged since read.
    pub fn rewrap_user_secrets(
        &self,
        old: &UserSecrets,
        new_totp: Option<&[u8]>,
        new_pending: Option<&[u8]>,
        version: u32,
    ) -> Result<bool, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE app_user SET totp_sealed = ?4, totp_pending_sealed = ?5, key_version = ?6
                 WHERE id = ?1 AND totp_sealed IS NOT DISTINCT FROM ?2
                   AND totp_pending_sealed IS NOT DISTINCT FROM ?3",
                params![old.0 .0, old.1, old.2, new_totp, new_pending, version],
            )
            .map(|n| n == 1)
        })
    }

    /// Every lock's or hold's own wrapped key with its key version.
    pub fn protection_keys(&self) -> Result<Vec<(i64, Vec<u8>, u32)>, Error> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, wrapped_key, key_version FROM protection
                 WHERE wrapped_key IS NOT NULL ORDER BY id",
            )?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })
    }

    /// Replaces a protection's wrapped key if unchanged since read.
    pub fn rewrap_protection_key(
        &self,
        id: i64,
        old: &[u8],
        new: &[u8],
        version: u32,
    ) -> Result<bool, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE protection SET wrapped_key = ?3, key_version = ?4
                 WHERE id = ?1 AND wrapped_key = ?2",
                params![id, old, new, version],
            )
            .map(|n| n == 1)
        })
    }

    /// How many rows still name root version `version`.
    pub fn rows_at_version(&self, version: u32) -> Result<WrappedCounts, Error> {
        self.rows_by_version(version, "=")
    }

    /// Rows wrapped under any root version other than `version`.
    pub fn rows_not_at_version(&self, version: u32) -> Result<WrappedCounts, Error> {
        self.rows_by_version(version, "<>")
    }

    /// Rows whose `key_version` compares to `version` by `op` (`=` or `<>`).
    fn rows_by_version(&self, version: u32, op: &'static str) -> Result<WrappedCounts, Error> {
        self.with(|c| {
            let count = |table_and_filter: &str| -> crate::db::sql::Result<u64> {
                c.query_row(
                    &format!("SELECT COUNT(*) FROM {table_and_filter} AND key_version {op} ?1"),
                    [version],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n.max(0) as u64)
            };
            Ok(WrappedCounts {
                bucket_keys: count("bucket_key WHERE 1 = 1")?,
                cameras: count("camera WHERE sealed_credentials IS NOT NULL")?,
                users: count(
                    "app_user WHERE (totp_sealed IS NOT NULL OR totp_pending_sealed IS NOT NULL)",
                )?,
                protections: count("protection WHERE wrapped_key IS NOT NULL")?,
                lift_keys: count("lift_key WHERE 1 = 1")?,
            })
        })
    }

    /// A page of bucket key ids (of one camera, or of every camera), by id
    /// after `after`.
    pub fn bucket_key_ids(
        &self,
        camera: Option<CameraId>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<i64>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id FROM bucket_key WHERE (CAST(?1 AS BIGINT) IS NULL OR camera_id = ?1) AND id > ?2
                 ORDER BY id LIMIT ?3",
            )?;
            let rows = st.query_map(params![camera.map(|c| c.0), after, limit as i64], |r| {
                r.get(0)
            })?;
            rows.collect()
        })
    }

    /// A page of segment ids (of one camera, or of every camera), by id
    /// after `after`.
    pub fn segment_ids(
        &self,
        camera: Option<CameraId>,
        after: SegmentId,
        limit: usize,
    ) -> Result<Vec<SegmentId>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id FROM segment WHERE (CAST(?1 AS BIGINT) IS NULL OR camera_id = ?1) AND id > ?2
                 ORDER BY id LIMIT ?3",
            )?;
            let rows = st.query_map(params![camera.map(|c| c.0), after.0, limit as i64], |r| {
                Ok(SegmentId(r.get(0)?))
            })?;
            rows.collect()
        })
    }

    /// A camera's name and whether it is deleted, if it exists.
    pub fn camera_name(&self, camera: CameraId) -> Result<Option<(String, bool)>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT name, deleted_90k IS NOT NULL FROM camera WHERE id = ?1",
                [camera.0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
    }

    /// Marks a camera decommissioned: deleted (any camera, managed or from
    /// the configuration file), disabled, its sealed credentials erased, its
    /// name freed. The row stays for the access record's references.
    pub fn decommission_camera(&self, camera: CameraId, now: Time90k) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE camera SET deleted_90k = COALESCE(deleted_90k, ?2), enabled = 0,
                    sealed_credentials = NULL,
                    name = CASE WHEN deleted_90k IS NULL
                        THEN name || ' [decommissioned ' || id || ']' ELSE name END
                 WHERE id = ?1",
                params![camera.0, now.0],
            )
            .map(|_| ())
        })
    }

    /// Erases every sealed value wrapped under the root (camera credentials,
    /// second-factor seeds, lock and hold keys): decommissioning the
    /// installation.
    pub fn erase_root_wrapped_secrets(&self) -> Result<WrappedCounts, Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            let counts = WrappedCounts {
                bucket_keys: 0,
                cameras: tx.execute(
                    "UPDATE camera SET sealed_credentials = NULL WHERE sealed_credentials IS NOT NULL",
                    [],
                )? as u64,
                users: tx.execute(
                    "UPDATE app_user SET totp_sealed = NULL, totp_pending_sealed = NULL
                     WHERE totp_sealed IS NOT NULL OR totp_pending_sealed IS NOT NULL",
                    [],
                )? as u64,
                protections: tx.execute(
                    "UPDATE protection SET wrapped_key = NULL WHERE wrapped_key IS NOT NULL",
                    [],
                )? as u64,
                lift_keys: tx.execute("DELETE FROM lift_key", [])? as u64,
            };
            tx.commit()?;
            Ok(counts)
        })
    }

    /// Checkpoints and truncates the write-ahead log (after a destruction).
    pub fn checkpoint_wal(&self) -> Result<(), Error> {
        self.truncate_wal()
    }
}
