//! The retention planner (pure): given what is stored, each camera's
//! retention, the protected intervals (evidence locks and restriction holds)
//! and the time, which bucket keys to destroy and which segments to delete.
//!
//! Retention is enforced per bucket, the unit of crypto-shredding (one key per
//! camera, rendition and UTC hour): a bucket expires when its hour is over
//! and its last segment has been kept for the camera's retention, so video is
//! destroyed at most one hour after its own expiry, and never before.
//!
//! - A bucket key is destroyed only when the whole bucket has expired.
//! - Every unprotected segment of a destroyed bucket is deleted (object, then
//!   row); a protected one (overlapping a lock or hold of its camera) is kept,
//!   and listed so the caller can check that its key no longer depends on the
//!   bucket key (re-wrapped under the lock's or hold's own key) before
//!   destroying it.
//! - A segment whose bucket key is already gone (a crash between destroying
//!   the key and deleting the rows) cannot be read by anyone: it is deleted
//!   unless protected.
//!
//! Nothing here reads a clock or the database: the caller passes `now` and
//! the rows, so tests move time freely.

use std::collections::HashMap;

use veil_base::{CameraId, SegmentId, Time90k};

use crate::segment::BUCKET_90K;

/// A bucket key as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBucket {
    /// Its id (`bucket_key.id`).
    pub id: i64,
    /// The camera.
    pub camera: CameraId,
    /// The rendition.
    pub rendition: String,
    /// Start of its UTC hour.
    pub start: Time90k,
}

/// A segment as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSegment {
    /// Its id.
    pub id: SegmentId,
    /// The camera.
    pub camera: CameraId,
    /// The rendition.
    pub rendition: String,
    /// The bucket key wrapping its key; `None` once destroyed.
    pub bucket: Option<i64>,
    /// Its first frame.
    pub start: Time90k,
    /// The end of its last frame.
    pub end: Time90k,
}

/// What keeps video past its retention.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protector {
    /// An evidence lock, by id.
    Lock(i64),
    /// A restriction hold, by id.
    Hold(i64),
}

/// A protected interval of one camera (every rendition).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Protection {
    /// The camera.
    pub camera: CameraId,
    /// Start (inclusive).
    pub start: Time90k,
    /// End (exclusive).
    pub end: Time90k,
    /// The lock or hold.
    pub by: Protector,
}

impl Protection {
    fn covers(&self, s: &StoredSegment) -> bool {
        self.camera == s.camera
            && s.start < self.end
            && self.start < s.end.max(Time90k(s.start.0 + 1))
    }
}

/// What to destroy now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Bucket keys to destroy, oldest bucket first.
    pub destroy_keys: Vec<i64>,
    /// Segments to delete (object, then row), oldest first.
    pub delete_segments: Vec<SegmentId>,
    /// Segments of destroyed buckets kept by a lock or hold: their keys must
    /// no longer depend on the bucket key when it is destroyed.
    pub protected: Vec<(SegmentId, Protector)>,
    /// The earliest time a bucket not destroyed now expires (when to plan
    /// again), if any.
    pub next_expiry: Option<Time90k>,
    /// What this plan destroys, per camera, by camera id: what the access
    /// record's entry and the command line say.
    pub cameras: Vec<CameraSummary>,
    /// Whether every bucket it destroys was over (its hour ended) when it
    /// was planned, so no segment can be added to it since: set by
    /// [`plan`] when `now` is the real time, cleared for plans that reach
    /// into the hour being recorded (quotas).
    pub closed_buckets: bool,
    /// Why it destroys, the word of the recording chains' removal links:
    /// `quota` for [`crate::Store::quota_plan`]'s plans; empty (retention)
    /// otherwise.
    pub reason: &'static str,
}

/// What a plan destroys of one camera (every rendition).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraSummary {
    /// The camera.
    pub camera: CameraId,
    /// Bucket keys destroyed (hours of one rendition each).
    pub hours: usize,
    /// Segments deleted (of destroyed buckets, or keyless).
    pub segments: usize,
    /// Start of the earliest hour or segment destroyed.
    pub start: Time90k,
    /// End of the latest hour or segment destroyed.
    pub end: Time90k,
}

impl CameraSummary {
    fn widen(&mut self, start: Time90k, end: Time90k) {
        self.start = self.start.min(start);
        self.end = self.end.max(end);
    }
}

impl Plan {
    /// Whether the plan destroys nothing.
    pub fn is_empty(&self) -> bool {
        self.destroy_keys.is_empty() && self.delete_segments.is_empty()
    }

    /// The time range the plan destroys, over every camera.
    pub fn time_range(&self) -> Option<(Time90k, Time90k)> {
        let start = self.cameras.iter().map(|c| c.start).min()?;
        let end = self.cameras.iter().map(|c| c.end).max()?;
        Some((start, end))
    }
}

/// When the bucket starting at `start` expires, given its segments' ends and
/// the retention (90 kHz units): its hour must be over and its last segment
/// kept for the whole retention.
pub fn bucket_expiry(start: Time90k, last_end: Option<Time90k>, retention_90k: i64) -> Time90k {
    let hour_end = start.0 + BUCKET_90K;
    let last = last_end.map_or(hour_end, |e| e.0.max(hour_end));
    Time90k(last.saturating_add(retention_90k))
}

/// Plans retention at `now`. `retention_90k(camera, rendition)` is the
/// retention of that camera's rendition in 90 kHz units; `limit` bounds how
/// many bucket keys one plan destroys (batches).
pub fn plan(
    buckets: &[StoredBucket],
    segments: &[StoredSegment],
    retention_90k: impl Fn(CameraId, &str) -> i64,
    protections: &[Protection],
    now: Time90k,
    limit: usize,
) -> Plan {
    let mut by_bucket: HashMap<i64, Vec<&StoredSegment>> = HashMap::new();
    let mut keyless = Vec::new();
    for s in segments {
        match s.bucket {
            Some(b) => by_bucket.entry(b).or_default().push(s),
            None => keyless.push(s),
        }
    }
    let protector = |s: &StoredSegment| protections.iter().find(|p| p.covers(s)).map(|p| p.by);

    let mut expired: Vec<(Time90k, &StoredBucket)> = Vec::new();
    let mut next_expiry: Option<Time90k> = None;
    for b in buckets {
        let segs = by_bucket.get(&b.id).map(Vec::as_slice).unwrap_or_default();
        let last_end = segs.iter().map(|s| s.end).max();
        let at = bucket_expiry(b.start, last_end, retention_90k(b.camera, &b.rendition));
        if at <= now {
            expired.push((b.start, b));
        } else {
            next_expiry = Some(next_expiry.map_or(at, |n| n.min(at)));
        }
    }
    expired.sort_by_key(|(start, b)| (*start, b.id));
    if expired.len() > limit {
        // The rest is due already: plan again at once.
        next_expiry = Some(now);
        expired.truncate(limit);
    }

    let mut out = Plan {
        next_expiry,
        closed_buckets: !expired.is_empty()
            && expired
                .iter()
                .all(|(start, _)| start.0 + BUCKET_90K <= now.0),
        ..Plan::default()
    };
    let mut doomed: Vec<&StoredSegment> = Vec::new();
    for (_, b) in &expired {
        out.destroy_keys.push(b.id);
        for s in by_bucket.get(&b.id).map(Vec::as_slice).unwrap_or_default() {
            match protector(s) {
                Some(p) => out.protected.push((s.id, p)),
                None => doomed.push(s),
            }
        }
    }
    doomed.extend(keyless.into_iter().filter(|s| protector(s).is_none()));
    doomed.sort_by_key(|s| (s.start, s.id.0));

    let mut cameras: HashMap<CameraId, CameraSummary> = HashMap::new();
    let mut summary = |camera: CameraId, start: Time90k, end: Time90k, hours, segments| {
        let c = cameras.entry(camera).or_insert(CameraSummary {
            camera,
            hours: 0,
            segments: 0,
            start,
            end,
        });
        c.widen(start, end);
        c.hours += hours;
        c.segments += segments;
    };
    for (_, b) in &expired {
        summary(b.camera, b.start, Time90k(b.start.0 + BUCKET_90K), 1, 0);
    }
    for s in &doomed {
        summary(s.camera, s.start, s.end.max(s.start), 0, 1);
    }
    out.cameras = cameras.into_values().collect();
    out.cameras.sort_by_key(|c| c.camera.0);
    out.delete_segments = doomed.into_iter().map(|s| s.id).collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use veil_base::TIME_UNITS_PER_SEC;

    const HOUR: i64 = BUCKET_90K;
    const DAY: i64 = 24 * HOUR;

    fn seg(id: i64, camera: i64, bucket: Option<i64>, start: i64, len: i64) -> StoredSegment {
        StoredSegment {
            id: SegmentId(id),
            camera: CameraId(camera),
            rendition: "main".into(),
            bucket,
            start: Time90k(start),
            end: Time90k(start + len),
        }
    }

    fn bucket(id: i64, camera: i64, start: i64) -> StoredBucket {
        StoredBucket {
            id,
            camera: CameraId(camera),
            rendition: "main".into(),
            start: Time90k(start - start.rem_euclid(HOUR)),
        }
    }

    #[test]
    fn a_bucket_expires_after_its_hour_and_its_last_segment_kept_for_the_retention() {
        assert_eq!(bucket_expiry(Time90k(0), None, DAY), Time90k(HOUR + DAY));
        // A segment crossing into the next hour keeps its bucket longer.
        assert_eq!(
            bucket_expiry(Time90k(0), Some(Time90k(HOUR + 10)), DAY),
            Time90k(HOUR + 10 + DAY)
        );
        let buckets = [bucket(1, 1, 0), bucket(2, 1, HOUR)];
        let segments = [
            seg(10, 1, Some(1), 0, 10 * TIME_UNITS_PER_SEC),
            seg(11, 1, Some(1), HOUR - 5, 10 * TIME_UNITS_PER_SEC),
            seg(12, 1, Some(2), HOUR + 20 * TIME_UNITS_PER_SEC, 10),
        ];
        let week = |_: CameraId, _: &str| 7 * DAY;
        // One tick before the first bucket's expiry: nothing.
        let first = bucket_expiry(
            Time90k(0),
            Some(Time90k(HOUR - 5 + 10 * TIME_UNITS_PER_SEC)),
            7 * DAY,
        );
        let p = plan(&buckets, &segments, week, &[], Time90k(first.0 - 1), 100);
        assert_eq!(
            p,
            Plan {
                next_expiry: Some(first),
                ..Plan::default()
            }
        );
        // At it: the first bucket, both its segments.
        let p = plan(&buckets, &segments, week, &[], first, 100);
        assert_eq!(p.destroy_keys, [1]);
        assert_eq!(p.delete_segments, [SegmentId(10), SegmentId(11)]);
        assert_eq!(p.next_expiry, Some(Time90k(2 * HOUR + 7 * DAY)));
        assert_eq!(
            p.cameras,
            [CameraSummary {
                camera: CameraId(1),
                hours: 1,
                segments: 2,
                start: Time90k(0),
                end: Time90k(HOUR - 5 + 10 * TIME_UNITS_PER_SEC),
            }]
        );
        assert_eq!(
            p.time_range(),
            Some((Time90k(0), Time90k(HOUR - 5 + 10 * TIME_UNITS_PER_SEC)))
        );
        assert!(!p.is_empty());
    }

    #[test]
    fn protected_segments_survive_their_bucket_and_keyless_ones_go() {
        let buckets = [bucket(1, 1, 0)];
        let segments = [
            seg(10, 1, Some(1), 0, 100),
            seg(11, 1, Some(1), 1000, 100),
            seg(12, 1, None, 5000, 100),
            seg(13, 1, None, 9000, 100),
            seg(14, 2, None, 1000, 100),
        ];
        let locks = [
            Protection {
                camera: CameraId(1),
                start: Time90k(1050),
                end: Time90k(2000),
                by: Protector::Lock(7),
            },
            Protection {
                camera: CameraId(1),
                start: Time90k(9000),
                end: Time90k(9001),
                by: Protector::Hold(3),
            },
        ];
        let p = plan(
            &buckets,
            &segments,
            |_, _| HOUR,
            &locks,
            Time90k(2 * HOUR),
            100,
        );
        assert_eq!(p.destroy_keys, [1]);
        assert_eq!(
            p.delete_segments,
            [SegmentId(10), SegmentId(14), SegmentId(12)]
        );
        assert_eq!(
            p.protected,
            [(SegmentId(11), Protector::Lock(7))],
            "the hold keeps segment 13, whose key is already off the bucket"
        );
    }

    #[test]
    fn batches_destroy_the_oldest_first_and_ask_to_run_again() {
        let buckets: Vec<_> = (0..5).rev().map(|i| bucket(i + 1, 1, i * HOUR)).collect();
        let p = plan(&buckets, &[], |_, _| HOUR, &[], Time90k(100 * HOUR), 2);
        assert_eq!(p.destroy_keys, [1, 2]);
        assert_eq!(p.next_expiry, Some(Time90k(100 * HOUR)));
    }

    #[derive(Clone, Debug)]
    struct World {
        buckets: Vec<StoredBucket>,
        segments: Vec<StoredSegment>,
        retention_hours: [i64; 3],
        protections: Vec<Protection>,
        now: Time90k,
    }

    /// Three cameras, up to 40 hours of segments each (some in buckets whose
    /// key is already gone), up to four locks or holds, any time in 10 days.
    fn world() -> impl Strategy<Value = World> {
        let segs = proptest::collection::vec(
            (
                0i64..3,
                0i64..40 * 3600,
                1i64..600,
                proptest::bool::weighted(0.1),
            ),
            0..60,
        );
        let prots =
            proptest::collection::vec((0i64..3, 0i64..40 * 3600, 1i64..7200, any::<bool>()), 0..4);
        (segs, prots, [1i64..48, 1i64..48, 1i64..48], 0i64..240).prop_map(
            |(segs, prots, retention_hours, now_h)| {
                let mut buckets: Vec<StoredBucket> = Vec::new();
                let mut segments = Vec::new();
                for (i, (cam, start_s, len_s, keyless)) in segs.into_iter().enumerate() {
                    let start = start_s * TIME_UNITS_PER_SEC;
                    let hour = start - start.rem_euclid(HOUR);
                    let id = match buckets
                        .iter()
                        .find(|b| b.camera == CameraId(cam) && b.start == Time90k(hour))
                    {
                        Some(b) => b.id,
                        None => {
                            let id = buckets.len() as i64 + 1;
                            buckets.push(bucket(id, cam, hour));
                            id
                        }
                    };
                    segments.push(seg(
                        i as i64 + 1,
                        cam,
                        (!keyless).then_some(id),
                        start,
                        len_s * TIME_UNITS_PER_SEC,
                    ));
                }
                let protections = prots
                    .into_iter()
                    .enumerate()
                    .map(|(i, (cam, start_s, len_s, lock))| Protection {
                        camera: CameraId(cam),
                        start: Time90k(start_s * TIME_UNITS_PER_SEC),
                        end: Time90k((start_s + len_s) * TIME_UNITS_PER_SEC),
                        by: if lock {
                            Protector::Lock(i as i64)
                        } else {
                            Protector::Hold(i as i64)
                        },
                    })
                    .collect();
                World {
                    buckets,
                    segments,
                    retention_hours,
                    protections,
                    now: Time90k(now_h * HOUR),
                }
            },
        )
    }

    proptest! {
        #[test]
        fn the_plan_keeps_what_it_must_and_destroys_what_it_must(w in world()) {
            let retention = |c: CameraId, _: &str| w.retention_hours[c.0 as usize] * HOUR;
            let p = plan(&w.buckets, &w.segments, retention, &w.protections, w.now, usize::MAX);
            let protected = |s: &StoredSegment| w.protections.iter().any(|p| p.covers(s));
            let bucket_expired = |id: i64| {
                let b = w.buckets.iter().find(|b| b.id == id).unwrap();
                let last = w.segments.iter().filter(|s| s.bucket == Some(id)).map(|s| s.end).max();
                bucket_expiry(b.start, last, retention(b.camera, &b.rendition)) <= w.now
            };
            for s in &w.segments {
                let deleted = p.delete_segments.contains(&s.id);
                // Never selects locked or held data.
                if protected(s) {
                    prop_assert!(!deleted, "protected segment {:?} deleted", s.id);
                }
                // A keyed segment goes only with its wholly expired bucket.
                if let Some(b) = s.bucket {
                    if deleted {
                        prop_assert!(bucket_expired(b));
                        prop_assert!(p.destroy_keys.contains(&b));
                        // Its own retention has passed too.
                        prop_assert!(s.end.0 + retention(s.camera, &s.rendition) <= w.now.0);
                    }
                    // Always selects expired unprotected data.
                    if bucket_expired(b) && !protected(s) {
                        prop_assert!(deleted, "expired segment {:?} kept", s.id);
                    }
                    if bucket_expired(b) && protected(s) {
                        prop_assert!(p.protected.iter().any(|(id, _)| *id == s.id));
                    }
                } else {
                    // A keyless segment is unreadable: deleted unless protected.
                    prop_assert_eq!(deleted, !protected(s));
                }
            }
            // A bucket only when wholly expired; every expired one.
            for b in &w.buckets {
                prop_assert_eq!(p.destroy_keys.contains(&b.id), bucket_expired(b.id));
            }
            // Planning again after carrying the plan out changes nothing.
            let left_buckets: Vec<_> = w.buckets.iter().filter(|b| !p.destroy_keys.contains(&b.id)).cloned().collect();
            let left_segments: Vec<_> = w.segments.iter()
                .filter(|s| !p.delete_segments.contains(&s.id))
                .map(|s| StoredSegment {
                    bucket: s.bucket.filter(|b| !p.destroy_keys.contains(b)),
                    ..s.clone()
                })
                .collect();
            let again = plan(&left_buckets, &left_segments, retention, &w.protections, w.now, usize::MAX);
            prop_assert!(again.destroy_keys.is_empty());
            prop_assert!(again.delete_segments.is_empty());
        }
    }
}
