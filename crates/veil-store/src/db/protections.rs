//! Evidence locks and restriction holds ("protections"): their rows, the
//! cameras they cover, and the segment keys re-wrapped under their own keys
//! (`docs/design/retention.md`, "Exceptions: locks and holds").

use crate::db::sql::{params, OptionalExtension};
use veil_base::{CameraId, SegmentId, Time90k, UserId};

use super::{segment_row, Db, SegmentRow, SEGMENT_COLUMNS};
use crate::retention::{Protection, Protector};
use crate::Error;

/// Which kind of protection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProtectionKind {
    /// An evidence lock (R3): kept past retention, still viewable.
    Lock,
    /// A restriction hold (R4): kept past retention, nobody may view,
    /// export or delete it.
    Hold,
}

impl ProtectionKind {
    /// The stored name: `lock` or `hold`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtectionKind::Lock => "lock",
            ProtectionKind::Hold => "hold",
        }
    }

    fn parse(s: &str) -> crate::db::sql::Result<ProtectionKind> {
        match s {
            "lock" => Ok(ProtectionKind::Lock),
            "hold" => Ok(ProtectionKind::Hold),
            other => Err(crate::db::sql::Error::FromSqlConversionFailure(
                0,
                crate::db::sql::types::Type::Text,
                format!("unknown protection kind {other:?}").into(),
            )),
        }
    }
}

/// A protection to create.
#[derive(Clone, Debug)]
pub struct NewProtection {
    /// Lock or hold.
    pub kind: ProtectionKind,
    /// The cameras covered (at least one).
    pub cameras: Vec<CameraId>,
    /// Start of the covered interval (inclusive).
    pub start: Time90k,
    /// End of the covered interval (exclusive).
    pub end: Time90k,
    /// Why.
    pub reason: String,
    /// Who owns it.
    pub owner: Option<UserId>,
    /// When it was created.
    pub created: Time90k,
    /// Locks: when it must be reviewed.
    pub review: Option<Time90k>,
    /// Locks: at the review date without extension, release (`true`) or only
    /// notify (`false`).
    pub release_on_review: bool,
    /// The root key version its key is wrapped under (set by
    /// `Store::create_protection` to the current one).
    pub key_version: i64,
}

/// A protection as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtectionRow {
    /// Its id.
    pub id: i64,
    /// Lock or hold.
    pub kind: ProtectionKind,
    /// The cameras covered, by id.
    pub cameras: Vec<CameraId>,
    /// Start of the covered interval.
    pub start: Time90k,
    /// End of the covered interval.
    pub end: Time90k,
    /// Why it was created.
    pub reason: String,
    /// Who owns it.
    pub owner: Option<UserId>,
    /// When it was created.
    pub created: Time90k,
    /// Locks: the review date.
    pub review: Option<Time90k>,
    /// Locks: released at the review date (`true`) or only notified.
    pub release_on_review: bool,
    /// When an owner was told the review date passed (notify mode).
    pub review_notified: Option<Time90k>,
    /// When it was last extended, and why.
    pub extended: Option<(Time90k, String)>,
    /// Its own key wrapped under the root; `None` once released.
    pub wrapped_key: Option<Vec<u8>>,
    /// The root key version `wrapped_key` is wrapped under.
    pub key_version: i64,
    /// When it was released, by whom and why.
    pub released: Option<(Time90k, Option<UserId>, String)>,
    /// How many segment keys are re-wrapped under it.
    pub segments: i64,
}

impl ProtectionRow {
    /// Whether it still protects video.
    pub fn is_active(&self) -> bool {
        self.released.is_none()
    }

    /// The planner's view: one protection per camera.
    pub fn protections(&self) -> impl Iterator<Item = Protection> + '_ {
        let by = match self.kind {
            ProtectionKind::Lock => Protector::Lock(self.id),
            ProtectionKind::Hold => Protector::Hold(self.id),
        };
        self.cameras.iter().map(move |&camera| Protection {
            camera,
            start: self.start,
            end: self.end,
            by,
        })
    }
}

const PROTECTION_COLUMNS: &str = "p.id, p.kind, p.start_90k, p.end_90k, p.reason, p.owner_id,
     p.created_90k, p.review_90k, p.on_review, p.review_notified_90k, p.extended_90k,
     p.extension_reason, p.wrapped_key, p.key_version, p.released_90k, p.released_by,
     p.release_reason,
     (SELECT COUNT(*) FROM protected_segment s WHERE s.protection_id = p.id)";

fn protection_row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<ProtectionRow> {
    let extended: Option<i64> = r.get(10)?;
    let released: Option<i64> = r.get(14)?;
    Ok(ProtectionRow {
        id: r.get(0)?,
        kind: ProtectionKind::parse(&r.get::<_, String>(1)?)?,
        cameras: Vec::new(),
        start: Time90k(r.get(2)?),
        end: Time90k(r.get(3)?),
        reason: r.get(4)?,
        owner: r.get::<_, Option<i64>>(5)?.map(UserId),
        created: Time90k(r.get(6)?),
        review: r.get::<_, Option<i64>>(7)?.map(Time90k),
        release_on_review: r.get::<_, String>(8)? == "release",
        review_notified: r.get::<_, Option<i64>>(9)?.map(Time90k),
        extended: match extended {
            Some(t) => Some((
                Time90k(t),
                r.get::<_, Option<String>>(11)?.unwrap_or_default(),
            )),
            None => None,
        },
        wrapped_key: r.get(12)?,
        key_version: r.get(13)?,
        released: match released {
            Some(t) => Some((
                Time90k(t),
                r.get::<_, Option<i64>>(15)?.map(UserId),
                r.get::<_, Option<String>>(16)?.unwrap_or_default(),
            )),
            None => None,
        },
        segments: r.get(17)?,
    })
}

/// A segment key re-wrapped under a protection's key, with that key.
#[derive(Clone, Debug)]
pub struct ProtectedKey {
    /// The protection.
    pub protection: i64,
    /// The protection's own key, wrapped under the root.
    pub protection_key: Vec<u8>,
    /// The root key version of `protection_key`.
    pub key_version: i64,
    /// The segment's key wrapped under the protection's key.
    pub segment_key: Vec<u8>,
}

impl Db {
    /// Creates a protection and the cameras it covers in one transaction;
    /// `wrap(id)` wraps its new key under the root, bound to its id.
    pub fn insert_protection(
        &self,
        p: &NewProtection,
        wrap: impl FnOnce(i64) -> Vec<u8>,
    ) -> Result<i64, Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            let rowid: i64 = tx.query_row(
                "INSERT INTO protection (kind, start_90k, end_90k, reason, owner_id,
                     created_90k, review_90k, on_review, key_version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 RETURNING id",
                params![
                    p.kind.as_str(),
                    p.start.0,
                    p.end.0,
                    p.reason,
                    p.owner.map(|u| u.0),
                    p.created.0,
                    p.review.map(|t| t.0),
                    if p.release_on_review {
                        "release"
                    } else {
                        "notify"
                    },
                    p.key_version,
                ],
                |r| r.get(0),
            )?;
            let id = rowid;
            tx.execute(
                "UPDATE protection SET wrapped_key = ?2 WHERE id = ?1",
                params![id, wrap(id)],
            )?;
            {
                let mut st = tx.prepare_cached(
                    "INSERT INTO protection_camera (protection_id, camera_id) VALUES (?1, ?2)",
                )?;
                for cam in &p.cameras {
                    st.execute(params![id, cam.0])?;
                }
            }
            tx.commit()?;
            Ok(id)
        })
    }

    /// Every protection (active first, then released, newest first), or only
    /// the active ones.
    pub fn protections(&self, active_only: bool) -> Result<Vec<ProtectionRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {PROTECTION_COLUMNS} FROM protection p
                 WHERE (?1 = 0 OR p.released_90k IS NULL)
                 ORDER BY p.released_90k IS NOT NULL, p.id DESC"
            ))?;
            let mut rows = st
                .query_map([active_only as i64], protection_row)?
                .collect::<crate::db::sql::Result<Vec<_>>>()?;
            let mut cams =
                c.prepare_cached("SELECT protection_id, camera_id FROM protection_camera")?;
            let all = cams.query_map([], |r| Ok((r.get::<_, i64>(0)?, CameraId(r.get(1)?))))?;
            let mut by_id = std::collections::HashMap::<i64, Vec<CameraId>>::new();
            for x in all {
                let (p, cam) = x?;
                by_id.entry(p).or_default().push(cam);
            }
            for row in &mut rows {
                row.cameras = by_id.remove(&row.id).unwrap_or_default();
                row.cameras.sort_by_key(|c| c.0);
            }
            Ok(rows)
        })
    }

    /// One protection.
    pub fn protection(&self, id: i64) -> Result<Option<ProtectionRow>, Error> {
        self.with(|c| {
            let row = c
                .query_row(
                    &format!("SELECT {PROTECTION_COLUMNS} FROM protection p WHERE p.id = ?1"),
                    [id],
                    protection_row,
                )
                .optional()?;
            let Some(mut row) = row else {
                return Ok(None);
            };
            let mut st = c.prepare_cached(
                "SELECT camera_id FROM protection_camera WHERE protection_id = ?1
                 ORDER BY camera_id",
            )?;
            row.cameras = st
                .query_map([id], |r| Ok(CameraId(r.get(0)?)))?
                .collect::<crate::db::sql::Result<_>>()?;
            Ok(Some(row))
        })
    }

    /// Segments covered by protection `id` whose keys are not yet re-wrapped
    /// under it and still can be (their bucket key exists, or another active
    /// protection holds their key), oldest first, at most `limit`.
    pub fn unprotected_covered_segments(
        &self,
        id: i64,
        limit: usize,
    ) -> Result<Vec<SegmentRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {SEGMENT_COLUMNS} FROM segment
                 WHERE camera_id IN (SELECT camera_id FROM protection_camera
                                     WHERE protection_id = ?1)
                   AND (bucket_key_id IS NOT NULL OR EXISTS (
                        SELECT 1 FROM protected_segment other
                        JOIN protection q ON q.id = other.protection_id
                        WHERE other.segment_id = segment.id AND q.released_90k IS NULL
                          AND q.wrapped_key IS NOT NULL))
                   AND start_90k < (SELECT end_90k FROM protection WHERE id = ?1)
                   AND start_90k + CASE WHEN duration_90k > 1 THEN duration_90k ELSE 1 END
                       > (SELECT start_90k FROM protection WHERE id = ?1)
                   AND NOT EXISTS (SELECT 1 FROM protected_segment ps
                                   WHERE ps.protection_id = ?1 AND ps.segment_id = segment.id)
                 ORDER BY start_90k, id LIMIT ?2"
            ))?;
            let rows = st.query_map(params![id, limit as i64], segment_row)?;
            rows.collect()
        })
    }

    /// Stores segment keys re-wrapped under protection `id`, in one
    /// transaction; a protection released meanwhile stores nothing.
    pub fn insert_protected_segments(
        &self,
        id: i64,
        keys: &[(SegmentId, Vec<u8>)],
    ) -> Result<usize, Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            let active: bool = tx
                .query_row(
                    "SELECT released_90k IS NULL FROM protection WHERE id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(false);
            let mut n = 0;
            if active {
                let mut st = tx.prepare_cached(
                    "INSERT INTO protected_segment (protection_id, segment_id, wrapped_key)
                     VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                )?;
                for (seg, wrapped) in keys {
                    n += st.execute(params![id, seg.0, wrapped])?;
                }
            }
            tx.commit()?;
            Ok(n)
        })
    }

    /// The keys under which active protections hold a segment's key.
    pub fn protected_keys(&self, segment: SegmentId) -> Result<Vec<ProtectedKey>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT p.id, p.wrapped_key, p.key_version, ps.wrapped_key
                 FROM protected_segment ps JOIN protection p ON p.id = ps.protection_id
                 WHERE ps.segment_id = ?1 AND p.released_90k IS NULL
                   AND p.wrapped_key IS NOT NULL
                 ORDER BY p.id",
            )?;
            let rows = st.query_map([segment.0], |r| {
                Ok(ProtectedKey {
                    protection: r.get(0)?,
                    protection_key: r.get(1)?,
                    key_version: r.get(2)?,
                    segment_key: r.get(3)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Which of `segments` have their key re-wrapped under protection `id`.
    pub fn protected_segment_ids(
        &self,
        id: i64,
        segments: &[SegmentId],
    ) -> Result<Vec<SegmentId>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT 1 FROM protected_segment WHERE protection_id = ?1 AND segment_id = ?2",
            )?;
            let mut out = Vec::new();
            for s in segments {
                if st.exists(params![id, s.0])? {
                    out.push(*s);
                }
            }
            Ok(out)
        })
    }

    /// Moves an active lock's review date, with the reason for the
    /// extension. Returns whether an active lock was changed.
    pub fn extend_protection(
        &self,
        id: i64,
        review: Time90k,
        reason: &str,
        now: Time90k,
    ) -> Result<bool, Error> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE protection SET review_90k = ?2, extension_reason = ?3, extended_90k = ?4,
                     review_notified_90k = NULL
                 WHERE id = ?1 AND released_90k IS NULL",
                params![id, review.0, reason, now.0],
            )?;
            Ok(n == 1)
        })
    }

    /// Notes that a lock's owner was told its review date passed.
    pub fn note_review_notified(&self, id: i64, now: Time90k) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE protection SET review_notified_90k = ?2 WHERE id = ?1",
                params![id, now.0],
            )
            .map(drop)
        })
    }

    /// Releases a protection: its re-wrapped segment keys and its own key are
    /// deleted (secure_delete overwrites them) in one transaction, then the
    /// WAL is truncated. Its covered segments fall back to normal retention.
    /// Returns how many segment keys it held, or `None` if no active
    /// protection has this id.
    pub fn release_protection(
        &self,
        id: i64,
        by: Option<UserId>,
        reason: &str,
        now: Time90k,
    ) -> Result<Option<usize>, Error> {
        let n = self.with(|c| {
            let tx = c.transaction()?;
            let changed = tx.execute(
                "UPDATE protection SET wrapped_key = NULL, released_90k = ?2, released_by = ?3,
                     release_reason = ?4
                 WHERE id = ?1 AND released_90k IS NULL",
                params![id, now.0, by.map(|u| u.0), reason],
            )?;
            if changed == 0 {
                return Ok(None);
            }
            let n = tx.execute(
                "DELETE FROM protected_segment WHERE protection_id = ?1",
                [id],
            )?;
            tx.commit()?;
            Ok(Some(n))
        })?;
        if n.is_some() {
            self.truncate_wal()?;
        }
        Ok(n)
    }

    /// Releases a lock whose review date has passed and that says
    /// `release`, as [`Db::release_protection`] does, unless it was extended
    /// or released meanwhile (then `None`).
    pub fn release_protection_at_review(
        &self,
        id: i64,
        now: Time90k,
    ) -> Result<Option<usize>, Error> {
        let n = self.with(|c| {
            let tx = c.transaction()?;
            let changed = tx.execute(
                "UPDATE protection SET wrapped_key = NULL, released_90k = ?2,
                     release_reason = 'review date reached'
                 WHERE id = ?1 AND released_90k IS NULL AND kind = 'lock'
                   AND on_review = 'release' AND review_90k <= ?2",
                params![id, now.0],
            )?;
            if changed == 0 {
                return Ok(None);
            }
            let n = tx.execute(
                "DELETE FROM protected_segment WHERE protection_id = ?1",
                [id],
            )?;
            tx.commit()?;
            Ok(Some(n))
        })?;
        if n.is_some() {
            self.truncate_wal()?;
        }
        Ok(n)
    }

    /// Active holds on `camera` overlapping `[start, end)`, by id.
    pub fn holds_overlapping(
        &self,
        camera: CameraId,
        start: Time90k,
        end: Time90k,
    ) -> Result<Vec<i64>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT p.id FROM protection p
                 JOIN protection_camera pc ON pc.protection_id = p.id
                 WHERE p.kind = 'hold' AND p.released_90k IS NULL AND pc.camera_id = ?1
                   AND p.start_90k < ?3 AND ?2 < p.end_90k
                 ORDER BY p.id",
            )?;
            let rows = st.query_map(params![camera.0, start.0, end.0], |r| r.get(0))?;
            rows.collect()
        })
    }
}
