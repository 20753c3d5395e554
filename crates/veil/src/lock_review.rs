//! Evidence locks at their review date (R3). A lock is never indefinite: at
//! its review date without an extension, a lock set to `release` is released
//! by the system (recorded as `evidence_lock.release`, reason "review date
//! reached") and its recordings fall back to normal retention, destroyed by
//! the same run if they are past it; a lock set to `notify` stays, shows
//! `review_due`, and is recorded once as `evidence_lock.change`
//! (`review_due`) for its owner to extend or release.

use anyhow::Context;
use veil_audit::{AccessRecord, Action, Event};
use veil_base::Time90k;
use veil_store::db::ProtectionKind;
use veil_store::Store;

/// Releases or flags the locks whose review date is at or before `now`.
/// Returns how many were released and how many flagged.
pub async fn review_due(
    store: &Store,
    audit: &AccessRecord,
    actor: &str,
    now: Time90k,
) -> anyhow::Result<(usize, usize)> {
    let db = store.db.clone();
    let due: Vec<_> = tokio::task::spawn_blocking(move || db.protections(true))
        .await??
        .into_iter()
        .filter(|p| p.kind == ProtectionKind::Lock && p.review.is_some_and(|r| r <= now))
        .collect();
    let (mut released, mut flagged) = (0, 0);
    for p in due {
        let review = p.review.map_or_else(String::new, |r| r.to_rfc3339());
        let resource = format!("lock:{}", p.id);
        if p.release_on_review {
            let e = Event::new(actor, Action::EvidenceLockRelease, resource)
                .detail(format!(
                    "reason=review_date review={review} segments={}",
                    p.segments
                ))
                .justification("the review date was reached without an extension");
            let a = audit.clone();
            tokio::task::spawn_blocking(move || a.append(e))
                .await?
                .context("refused: the lock's release cannot be recorded")?;
            // Not if it was extended (or released) since it was read.
            if store.release_protection_at_review(p.id).await?.is_some() {
                released += 1;
            }
        } else if p.review_notified.is_none() {
            let e = Event::new(actor, Action::EvidenceLockChange, resource)
                .detail(format!("review_due review={review}"))
                .justification("the review date was reached: extend or release the lock");
            let a = audit.clone();
            tokio::task::spawn_blocking(move || a.append(e))
                .await?
                .context("the lock's review cannot be recorded")?;
            let db = store.db.clone();
            let id = p.id;
            tokio::task::spawn_blocking(move || db.note_review_notified(id, now)).await??;
            flagged += 1;
        }
    }
    Ok((released, flagged))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use veil_audit::ClientAddressPolicy;
    use veil_base::{CameraId, Clock, SimulatedClock};
    use veil_store::db::NewProtection;
    use veil_store::segment::BUCKET_90K as HOUR;

    use super::*;

    fn lock(camera: CameraId, now: Time90k, release: bool) -> NewProtection {
        NewProtection {
            kind: ProtectionKind::Lock,
            cameras: vec![camera],
            start: Time90k(now.0 - HOUR),
            end: now,
            reason: "a test incident".into(),
            owner: None,
            created: now,
            review: Some(Time90k(now.0 + HOUR)),
            release_on_review: release,
            key_version: 1,
        }
    }

    #[tokio::test]
    async fn locks_past_their_review_are_released_or_flagged_once() {
        let dir = tempfile::tempdir().unwrap();
        let clock = SimulatedClock::new(Time90k(1_795_000_000 * 90_000));
        let store = Store::open_dir(dir.path(), Arc::new(clock.clone())).unwrap();
        let audit = AccessRecord::open(
            store.db.clone(),
            Arc::new(clock.clone()),
            ClientAddressPolicy::None,
            None,
        )
        .unwrap();
        let cam = store
            .db
            .upsert_camera("a", "synthetic", "{}", clock.now())
            .unwrap();
        let (released, _) = store
            .create_protection(lock(cam, clock.now(), true))
            .await
            .unwrap();
        let (flagged, _) = store
            .create_protection(lock(cam, clock.now(), false))
            .await
            .unwrap();
        // Not before the review date.
        assert_eq!(
            review_due(&store, &audit, "system", clock.now())
                .await
                .unwrap(),
            (0, 0)
        );
        clock.advance(2 * HOUR);
        assert_eq!(
            review_due(&store, &audit, "system", clock.now())
                .await
                .unwrap(),
            (1, 1)
        );
        let r = store.db.protection(released).unwrap().unwrap();
        assert!(!r.is_active());
        assert!(r.wrapped_key.is_none());
        let f = store.db.protection(flagged).unwrap().unwrap();
        assert!(f.is_active(), "notify keeps the lock");
        assert_eq!(f.review_notified, Some(clock.now()));
        // Flagged once only.
        assert_eq!(
            review_due(&store, &audit, "system", clock.now())
                .await
                .unwrap(),
            (0, 0)
        );
        let entries: Vec<(String, String, String)> = store
            .db
            .audit_entries(0, 100)
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.resource, e.detail))
            .collect();
        assert_eq!(entries.len(), 2, "{entries:?}");
        let release = entries
            .iter()
            .find(|e| e.0 == "evidence_lock.release")
            .expect("the release is recorded");
        assert_eq!(release.1, format!("lock:{released}"));
        assert!(release.2.starts_with("reason=review_date"));
        let change = entries
            .iter()
            .find(|e| e.0 == "evidence_lock.change")
            .expect("the review is recorded");
        assert_eq!(change.1, format!("lock:{flagged}"));
        assert!(change.2.starts_with("review_due"));
    }
}
