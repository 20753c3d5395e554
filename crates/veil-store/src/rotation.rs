//! Root key rotation and decommissioning on the store
//! (`docs/design/retention.md`, "Rotation" and "Certified decommissioning").
//!
//! Rotation: create version N+1 at the source, record it and its check value,
//! make it current (new values are wrapped under it from then on), re-wrap
//! every value still wrapped under an older version in short transactions,
//! and when no row names an older version, mark each older version destroyed
//! and destroy it at its source. Every step is durable before the next, so a
//! crash anywhere leaves a directory that opens (every live version is still
//! at its source) and the next run finishes the rotation.

use std::sync::{Arc, Mutex};

use veil_base::{CameraId, SegmentId};

use crate::db::WrappedCounts;
use crate::keys::{camera_secret_aad, protection_key_aad, user_secret_aad};
use crate::root::{check_setting, write_check, RootKeySource};
use crate::segment::bucket_key_aad;
use crate::{blocking, Error, Store};

/// Bucket keys re-wrapped per transaction.
pub const REWRAP_BATCH: usize = 256;
/// Bucket keys destroyed per transaction when decommissioning.
const DESTROY_BATCH: usize = 64;
/// Segment rows deleted per transaction when decommissioning.
const DELETE_PAGE: usize = 1000;

/// One rotation at a time per process.
static ROTATION: Mutex<()> = Mutex::new(());

/// What a rotation is about to do, handed to the caller to record in the
/// access record before it takes effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootEvent {
    /// Rotating from the live versions `from` to `to` (`resumed`: `to`
    /// exists from an earlier run that stopped); `pending` counts the
    /// values still wrapped under an older version.
    Rotate {
        /// The older live versions.
        from: Vec<u32>,
        /// The new version.
        to: u32,
        /// Values to re-wrap.
        pending: WrappedCounts,
        /// Whether this finishes an earlier run.
        resumed: bool,
    },
    /// Destroying a root version at its source.
    Destroy {
        /// The version.
        version: u32,
    },
}

/// Where a rotation stops early, for tests of a crash at each step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RotationStep {
    /// The new version exists at the source, nothing in the database.
    SourceCreated,
    /// The new version is recorded and current; nothing re-wrapped.
    Installed,
    /// One batch of bucket keys re-wrapped.
    FirstBatch,
    /// Everything re-wrapped; the old versions still live.
    Rewrapped,
    /// The old versions marked destroyed; still at their source.
    Marked,
}

/// What a rotation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// The older versions it rotated from.
    pub from: Vec<u32>,
    /// The version now current.
    pub to: u32,
    /// Values re-wrapped under `to`.
    pub rewrapped: WrappedCounts,
    /// Versions destroyed at their source.
    pub destroyed: Vec<u32>,
    /// Whether it finished an earlier run.
    pub resumed: bool,
}

/// What a decommissioning destroyed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErasureReport {
    /// The ids of the bucket keys destroyed.
    pub bucket_keys: Vec<i64>,
    /// Segment rows deleted.
    pub segments: usize,
    /// Objects deleted.
    pub objects: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Values sealed under the root that were erased (credentials, seeds,
    /// lock and hold keys).
    pub secrets: WrappedCounts,
    /// Root versions destroyed at their source.
    pub root_versions: Vec<u32>,
    /// Stored export packages deleted (installation only).
    pub export_packages: usize,
}

impl Store {
    /// Where this store's root versions are kept (`None` for a store not
    /// opened from a directory).
    pub fn root_source(&self) -> Option<Arc<dyn RootKeySource>> {
        self.root_source.clone()
    }

    fn source(&self) -> Result<Arc<dyn RootKeySource>, Error> {
        self.root_source
            .clone()
            .ok_or_else(|| Error::Invalid("this store has no root key source".into()))
    }

    /// Whether a rotation is due at the store's clock: the current root is
    /// at least `every_90k` old, or an earlier rotation did not finish.
    pub fn rotation_due(&self, every_90k: i64) -> Result<bool, Error> {
        let versions = self.db.root_key_versions()?;
        let live: Vec<_> = versions.iter().filter(|v| v.destroyed.is_none()).collect();
        if live.len() > 1 {
            return Ok(true);
        }
        Ok(live
            .last()
            .is_some_and(|v| self.clock.now().0 - v.created.0 >= every_90k))
    }

    /// Rotates the root key (blocking; see the module's documentation).
    /// `record` is called before each step that changes keys and must
    /// succeed for the step to happen.
    pub fn rotate_root(
        &self,
        record: &mut dyn FnMut(&RootEvent) -> Result<(), Error>,
    ) -> Result<RotationReport, Error> {
        self.rotate_root_until(None, record)
    }

    /// [`Store::rotate_root`], stopping after `stop` as a crash there would.
    #[doc(hidden)]
    pub fn rotate_root_until(
        &self,
        stop: Option<RotationStep>,
        record: &mut dyn FnMut(&RootEvent) -> Result<(), Error>,
    ) -> Result<RotationReport, Error> {
        let _one = ROTATION.lock().unwrap_or_else(|p| p.into_inner());
        let source = self.source()?;
        let versions = self.db.root_key_versions()?;
        let live: Vec<u32> = versions
            .iter()
            .filter(|v| v.destroyed.is_none())
            .map(|v| v.version)
            .collect();
        let resumed = live.len() > 1;
        let to = if resumed {
            self.keys.root_version()
        } else {
            versions.iter().map(|v| v.version).max().unwrap_or(0) + 1
        };
        let from: Vec<u32> = live.iter().copied().filter(|v| *v != to).collect();
        let mut report = RotationReport {
            from: from.clone(),
            to,
            resumed,
            ..Default::default()
        };
        record(&RootEvent::Rotate {
            from: from.clone(),
            to,
            pending: self.db.rows_not_at_version(to)?,
            resumed,
        })?;
        if !resumed {
            let key = source.create(to)?;
            if stop == Some(RotationStep::SourceCreated) {
                return Ok(report);
            }
            write_check(&self.db, to, &key)?;
            self.db.insert_root_key_version(to, self.clock.now())?;
            self.keys.install_root(to, key);
            if stop == Some(RotationStep::Installed) {
                return Ok(report);
            }
        }
        // Values written meanwhile by code that does not label them, or
        // sealed under the old root just before the switch and stored after
        // their row was passed, are caught by a further pass: the passes end
        // with one that finds every value opening under `to`, labelled so.
        let mut verified = false;
        for _ in 0..4 {
            let before = report.rewrapped;
            let stopped = self.rewrap_all(to, stop, &mut report.rewrapped)?;
            if stopped {
                return Ok(report);
            }
            let changed = report.rewrapped.cameras
                + report.rewrapped.users
                + report.rewrapped.protections
                + report.rewrapped.lift_keys
                - (before.cameras + before.users + before.protections + before.lift_keys);
            if changed == 0 && self.db.rows_not_at_version(to)?.total() == 0 {
                verified = true;
                break;
            }
        }
        self.db.checkpoint_wal()?;
        let left = self.db.rows_not_at_version(to)?;
        if left.total() > 0 || !verified {
            return Err(Error::Invalid(format!(
                "values are still being written under an older root version ({} by their \
                 label); the rotation to version {to} is kept and finishes at the next run",
                left.total()
            )));
        }
        if stop == Some(RotationStep::Rewrapped) {
            return Ok(report);
        }
        for v in from {
            record(&RootEvent::Destroy { version: v })?;
            self.db
                .mark_root_key_destroyed(v, &check_setting(v), self.clock.now())?;
            if stop == Some(RotationStep::Marked) {
                return Ok(report);
            }
            source.destroy(v)?;
            self.keys.forget_root(v);
            report.destroyed.push(v);
        }
        self.destroy_marked_versions(source.as_ref())?;
        Ok(report)
    }

    /// Destroys at their source the versions marked destroyed (a run that
    /// stopped between marking and destroying; nothing to do otherwise).
    fn destroy_marked_versions(&self, source: &dyn RootKeySource) -> Result<(), Error> {
        for v in self.db.root_key_versions()? {
            if v.destroyed.is_some() {
                source.destroy(v.version)?;
            }
        }
        Ok(())
    }

    /// One pass re-wrapping every value not labelled `to`; true if it
    /// stopped early for a test.
    fn rewrap_all(
        &self,
        to: u32,
        stop: Option<RotationStep>,
        n: &mut WrappedCounts,
    ) -> Result<bool, Error> {
        let mut after = 0;
        loop {
            let page = self.db.bucket_keys_not_at(to, after, REWRAP_BATCH)?;
            let Some(last) = page.last() else { break };
            after = last.0;
            let mut batch = Vec::with_capacity(page.len());
            for (id, camera, rendition, start, wrapped) in page {
                let aad = bucket_key_aad(camera, &rendition, start);
                let new = self.keys.rewrap(&aad, &wrapped, to)?;
                batch.push((id, wrapped.clone(), new.unwrap_or(wrapped)));
            }
            n.bucket_keys += self.db.rewrap_bucket_keys(&batch, to)? as u64;
            if stop == Some(RotationStep::FirstBatch) {
                return Ok(true);
            }
        }
        for (camera, sealed, v) in self.db.camera_secrets()? {
            let new = self.keys.reseal(&camera_secret_aad(camera), &sealed, to)?;
            if new.is_some() || v != to {
                let new = new.unwrap_or_else(|| sealed.clone());
                if self.db.rewrap_camera_secret(camera, &sealed, &new, to)? {
                    n.cameras += 1;
                }
            }
        }
        for row in self.db.user_secrets()? {
            let aad = user_secret_aad(row.0);
            let reseal = |v: &Option<Vec<u8>>| -> Result<Option<Vec<u8>>, Error> {
                v.as_ref()
                    .map(|s| Ok(self.keys.reseal(&aad, s, to)?.unwrap_or_else(|| s.clone())))
                    .transpose()
            };
            let (totp, pending) = (reseal(&row.1)?, reseal(&row.2)?);
            let changed = totp != row.1 || pending != row.2 || row.3 != to;
            if changed
                && self
                    .db
                    .rewrap_user_secrets(&row, totp.as_deref(), pending.as_deref(), to)?
            {
                n.users += 1;
            }
        }
        if let Some(k) = self.db.lift_key()? {
            let aad = crate::lift::LIFT_IDENTITY_AAD;
            let new = self.keys.reseal(aad, &k.sealed_identity, to)?;
            if new.is_some() || k.key_version != to {
                let new = new.unwrap_or_else(|| k.sealed_identity.clone());
                if self.db.rewrap_lift_key(&k.sealed_identity, &new, to)? {
                    n.lift_keys += 1;
                }
            }
        }
        for (id, wrapped, v) in self.db.protection_keys()? {
            let new = self.keys.rewrap(&protection_key_aad(id), &wrapped, to)?;
            if new.is_some() || v != to {
                let new = new.unwrap_or_else(|| wrapped.clone());
                if self.db.rewrap_protection_key(id, &wrapped, &new, to)? {
                    n.protections += 1;
                }
            }
        }
        Ok(false)
    }

    /// Destroys every bucket key of `camera`, deletes its segment rows and
    /// objects, erases its sealed credentials and marks it deleted. The
    /// caller has recorded it in the access record first. A crash leaves
    /// what running it again finishes.
    pub async fn decommission_camera(&self, camera: CameraId) -> Result<ErasureReport, Error> {
        let mut report = self.erase_recordings(Some(camera)).await?;
        let db = self.db.clone();
        let now = self.clock.now();
        let had_secret = self
            .db
            .camera_secrets()?
            .iter()
            .any(|(c, _, _)| *c == camera);
        blocking(move || {
            db.decommission_camera(camera, now)?;
            db.checkpoint_wal()
        })
        .await?;
        report.secrets.cameras = u64::from(had_secret);
        Ok(report)
    }

    /// Destroys every bucket key, deletes every segment row and object,
    /// erases every value sealed under the root, and destroys every root
    /// version at its source: nothing in the directory opens afterwards. The
    /// caller has recorded it in the access record first.
    pub async fn decommission_installation(&self) -> Result<ErasureReport, Error> {
        let mut report = self.erase_recordings(None).await?;
        // The stored copies of export packages (encrypted to their
        // recipients, but copies of the video all the same) and the export
        // signing key.
        let this = self.clone();
        report.export_packages = blocking(move || this.remove_all_export_files()).await?;
        let this = self.clone();
        let (secrets, versions) = blocking(move || {
            let secrets = this.db.erase_root_wrapped_secrets()?;
            let source = this.source()?;
            let mut destroyed = Vec::new();
            for v in this.db.root_key_versions()? {
                if v.destroyed.is_none() {
                    this.db.mark_root_key_destroyed(
                        v.version,
                        &check_setting(v.version),
                        this.clock.now(),
                    )?;
                    destroyed.push(v.version);
                }
            }
            // Every version, also those destroyed before (in case a run
            // stopped between marking and destroying).
            for v in this.db.root_key_versions()? {
                source.destroy(v.version)?;
            }
            this.db.checkpoint_wal()?;
            Ok((secrets, destroyed))
        })
        .await?;
        report.secrets = secrets;
        report.root_versions = versions;
        Ok(report)
    }

    /// Destroys the bucket keys, then deletes the rows and objects, of one
    /// camera or of all.
    async fn erase_recordings(&self, camera: Option<CameraId>) -> Result<ErasureReport, Error> {
        let mut report = ErasureReport::default();
        loop {
            let db = self.db.clone();
            let ids = blocking(move || db.bucket_key_ids(camera, 0, DESTROY_BATCH)).await?;
            if ids.is_empty() {
                break;
            }
            let keys = self.keys.clone();
            let batch = ids.clone();
            blocking(move || keys.destroy_batch(&batch)).await?;
            report.bucket_keys.extend(ids);
        }
        loop {
            let db = self.db.clone();
            let gone = blocking(move || {
                let ids = db.segment_ids(camera, SegmentId(0), DELETE_PAGE)?;
                db.delete_segments(&ids, "decommission")
            })
            .await?;
            if gone.is_empty() {
                break;
            }
            report.segments += gone.len();
            for (key, bytes) in gone {
                self.objects.delete(&key).await?;
                report.objects += 1;
                report.bytes += bytes;
            }
        }
        Ok(report)
    }
}
