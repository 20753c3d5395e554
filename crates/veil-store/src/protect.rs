//! Evidence locks and restriction holds at the store (R3, R4).
//!
//! A protection has its own key, wrapped under the root. Creating one
//! re-wraps the key of every segment it covers under that key (a
//! `protected_segment` row each), so the segments' bucket keys can be
//! destroyed on time while the protected segments stay readable through the
//! protection. Segments recorded later inside a protection's interval are
//! re-wrapped by [`Store::sync_protections`], which retention runs before it
//! destroys anything. Releasing a protection deletes its key and the
//! re-wrapped segment keys: its segments fall back to normal retention (and
//! are already unreadable if their bucket key is gone).

use veil_base::{SegmentId, UserId};

use crate::crypto::{self, Key};
use crate::db::{NewProtection, ProtectionRow};
use crate::retention::Protection;
use crate::{blocking, Error, Store};

/// Segment keys re-wrapped per transaction.
const REWRAP_BATCH: usize = 512;

/// AAD of a segment's key re-wrapped under protection `protection`'s key.
pub fn protected_segment_aad(protection: i64, object_key: &str) -> Vec<u8> {
    let mut v = b"veil/protected-segment-key/v1".to_vec();
    v.extend_from_slice(&protection.to_be_bytes());
    v.extend_from_slice(object_key.as_bytes());
    v
}

impl Store {
    /// Creates a lock or hold and re-wraps the keys of the segments it
    /// covers under its own new key. Returns its id and how many segment keys
    /// were re-wrapped. The caller has checked the request and recorded it.
    pub async fn create_protection(&self, mut p: NewProtection) -> Result<(i64, usize), Error> {
        // No destruction batch runs between the rows and the re-wrap.
        let _gate = self.protections_gate.lock().await;
        p.key_version = i64::from(self.keys.root_version());
        let key = Key::generate();
        let this = self.clone();
        let k = key.clone();
        let id = blocking(move || {
            this.db
                .insert_protection(&p, |id| this.keys.wrap_protection_key(id, &k))
        })
        .await?;
        let n = self.rewrap(id, key).await?;
        Ok((id, n))
    }

    /// Re-wraps, for every active protection, the keys of covered segments
    /// not yet re-wrapped (recorded after it was created). Returns how many.
    pub async fn sync_protections(&self) -> Result<usize, Error> {
        let db = self.db.clone();
        let active = blocking(move || db.protections(true)).await?;
        let mut n = 0;
        for p in active {
            let Some(wrapped) = &p.wrapped_key else {
                continue;
            };
            let key = self.keys.unwrap_protection_key(p.id, wrapped)?;
            n += self.rewrap(p.id, key).await?;
        }
        Ok(n)
    }

    async fn rewrap(&self, id: i64, key: Key) -> Result<usize, Error> {
        let this = self.clone();
        blocking(move || {
            let mut total = 0;
            loop {
                let rows = this.db.unprotected_covered_segments(id, REWRAP_BATCH)?;
                let mut batch = Vec::with_capacity(rows.len());
                for row in &rows {
                    // A bucket destroyed meanwhile: nothing left to protect.
                    // What the bucket key wraps, as it is: an original's
                    // key stays sealed to its lift key or escrow recipient.
                    let material = match this.key_material(row) {
                        Ok(k) => k,
                        Err(Error::KeyDestroyed) => continue,
                        Err(e) => return Err(e),
                    };
                    let aad = protected_segment_aad(id, &row.object_key);
                    batch.push((row.id, crypto::seal(&key, &aad, &material)));
                }
                let stored = this.db.insert_protected_segments(id, &batch)?;
                total += stored;
                if rows.len() < REWRAP_BATCH || stored == 0 {
                    return Ok(total);
                }
            }
        })
        .await
    }

    /// Releases a lock or hold (its key and re-wrapped segment keys are
    /// deleted); its segments fall back to normal retention. Returns how many
    /// segment keys it held, or `None` if no active protection has this id.
    pub async fn release_protection(
        &self,
        id: i64,
        by: Option<UserId>,
        reason: String,
    ) -> Result<Option<usize>, Error> {
        let _gate = self.protections_gate.lock().await;
        // Other protections over the same video take it under their own
        // keys first, while this one still holds a key path to it.
        self.sync_protections().await?;
        let db = self.db.clone();
        let now = self.clock.now();
        blocking(move || db.release_protection(id, by, &reason, now)).await
    }

    /// Releases a lock at its review date (the system's release), unless it
    /// was extended or released meanwhile (`None`).
    pub async fn release_protection_at_review(&self, id: i64) -> Result<Option<usize>, Error> {
        let _gate = self.protections_gate.lock().await;
        self.sync_protections().await?;
        let db = self.db.clone();
        let now = self.clock.now();
        blocking(move || db.release_protection_at_review(id, now)).await
    }

    /// Held by a destruction batch (retention, quotas) from its plan to the
    /// end of its destruction, so no lock or hold is created or released in
    /// between.
    pub async fn destruction_gate(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.protections_gate.clone().lock_owned().await
    }

    /// The active protections, as the retention planner sees them.
    pub fn active_protections(&self) -> Result<Vec<Protection>, Error> {
        let rows: Vec<ProtectionRow> = self.db.protections(true)?;
        Ok(rows.iter().flat_map(ProtectionRow::protections).collect())
    }

    /// Checks that every segment a plan keeps past its bucket is readable
    /// through a protection's key (re-wrapping first what is missing), so
    /// destroying the bucket keys loses nothing protected.
    pub(crate) async fn ensure_protected(&self, segments: &[SegmentId]) -> Result<(), Error> {
        if segments.is_empty() {
            return Ok(());
        }
        self.sync_protections().await?;
        let db = self.db.clone();
        let ids = segments.to_vec();
        let missing = blocking(move || {
            let mut missing = Vec::new();
            for s in ids {
                if db.protected_keys(s)?.is_empty() {
                    missing.push(s);
                }
            }
            Ok(missing)
        })
        .await?;
        match missing.first() {
            None => Ok(()),
            Some(s) => Err(Error::Invalid(format!(
                "segment {} is protected but its key is not re-wrapped under its lock or hold; \
                 nothing was destroyed",
                s.0
            ))),
        }
    }
}
