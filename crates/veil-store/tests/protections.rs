//! Evidence locks and restriction holds on a real data directory: protected
//! segments outlive their bucket keys, stay readable through the
//! protection's key, and fall back to retention when released.

mod common;

use common::record;

use std::sync::Arc;

use veil_base::{CameraId, Clock, SimulatedClock, Time90k};
use veil_store::db::{NewProtection, ProtectionKind};
use veil_store::segment::BUCKET_90K as HOUR;
use veil_store::{Store, MAIN_RENDITION};

/// The start of an hour in 2026.
const BASE: i64 = 1_795_000_000 * 90_000 / HOUR * HOUR;
use common::SEC;

/// A data directory with camera "a", its store and a simulated clock at
/// `BASE`.
fn setup() -> (tempfile::TempDir, SimulatedClock, Store, CameraId) {
    let dir = tempfile::tempdir().unwrap();
    let clock = SimulatedClock::new(Time90k(BASE));
    let s = veil_store::testing::open_dir(dir.path(), Arc::new(clock.clone())).unwrap();
    let a =
        s.db.upsert_camera("a", "synthetic", "{}", Time90k(BASE))
            .unwrap();
    (dir, clock, s, a)
}

fn two_hours(_: CameraId, _: &str) -> i64 {
    2 * HOUR
}

/// Runs retention once as the server does: plan with the active
/// protections, then apply.
async fn run_retention(s: &Store, clock: &SimulatedClock) -> veil_store::RetentionReport {
    let protections = s.active_protections().unwrap();
    let plan = s
        .retention_plan(clock.now(), two_hours, &protections, 1000)
        .unwrap();
    s.apply_retention(&plan).await.unwrap()
}

/// Segments of `camera` in `[start, end)` that open, and the bytes of each.
async fn readable(s: &Store, camera: CameraId, start: i64, end: i64) -> Vec<usize> {
    let mut out = Vec::new();
    for seg in s
        .segments(camera, MAIN_RENDITION, Time90k(start), Time90k(end))
        .unwrap()
    {
        out.push(s.read_media(&seg).await.unwrap().len());
    }
    out
}

fn lock(cameras: Vec<CameraId>, start: i64, end: i64, now: Time90k) -> NewProtection {
    NewProtection {
        kind: ProtectionKind::Lock,
        cameras,
        start: Time90k(start),
        end: Time90k(end),
        reason: "theft on the loading bay, case 17".into(),
        owner: None,
        created: now,
        review: Some(Time90k(now.0 + 30 * 24 * HOUR)),
        release_on_review: true,
        key_version: 1,
    }
}

#[tokio::test]
async fn a_lock_keeps_its_segments_readable_past_their_bucket_until_released() {
    let (_dir, clock, s, a) = setup();
    let b =
        s.db.upsert_camera("b", "synthetic", "{}", Time90k(BASE))
            .unwrap();
    for h in 0..3 {
        for cam in [a, b] {
            record(&s, cam, BASE + h * HOUR + 60 * SEC, 4).await;
        }
    }
    let before = readable(&s, a, BASE + HOUR, BASE + 2 * HOUR).await;
    assert_eq!(before.len(), 2);

    // Lock the first 3 seconds of hour 1 of camera a: its first two segments
    // (the second starts at 62 s, inside the lock).
    let (id, rewrapped) = s
        .create_protection(lock(
            vec![a],
            BASE + HOUR + 60 * SEC,
            BASE + HOUR + 63 * SEC,
            clock.now(),
        ))
        .await
        .unwrap();
    assert_eq!(rewrapped, 2, "both segments of the locked interval");
    let row = s.db.protection(id).unwrap().unwrap();
    assert_eq!(row.segments, 2);
    assert_eq!(row.cameras, vec![a]);

    // Past every hour's retention: every bucket key goes, the locked
    // segments stay and still open.
    clock.advance(6 * HOUR);
    let report = run_retention(&s, &clock).await;
    assert_eq!(report.keys_destroyed, 6, "3 hours of 2 cameras");
    assert_eq!(report.segments_deleted, 10);
    assert_eq!(s.db.segment_count().unwrap(), 2);
    assert!(s
        .db
        .bucket_key(a, MAIN_RENDITION, Time90k(BASE + HOUR))
        .unwrap()
        .is_none());
    assert_eq!(
        readable(&s, a, BASE + HOUR, BASE + 2 * HOUR).await,
        before,
        "the locked segments play through the lock's key"
    );
    assert!(readable(&s, b, BASE, BASE + 3 * HOUR).await.is_empty());
    // Running again changes nothing.
    assert_eq!(run_retention(&s, &clock).await.segments_deleted, 0);

    // Released: the segments fall back to retention, which is long over.
    let held = s
        .release_protection(id, None, "case closed".into())
        .await
        .unwrap();
    assert_eq!(held, Some(2));
    assert!(readable(&s, a, BASE + HOUR, BASE + 2 * HOUR)
        .await
        .is_empty());
    let row = s.db.protection(id).unwrap().unwrap();
    assert!(row.wrapped_key.is_none(), "the lock's key is destroyed");
    assert_eq!(row.segments, 0);
    assert_eq!(run_retention(&s, &clock).await.segments_deleted, 2);
    assert_eq!(s.db.segment_count().unwrap(), 0);
    assert_eq!(
        s.release_protection(id, None, "again".into())
            .await
            .unwrap(),
        None,
        "a released lock cannot be released twice"
    );
}

#[tokio::test]
async fn segments_recorded_after_a_hold_began_are_protected_before_their_bucket_goes() {
    let (_dir, clock, s, a) = setup();
    // A hold over the whole first hour, created before anything is recorded.
    let mut hold = lock(vec![a], BASE, BASE + HOUR, clock.now());
    hold.kind = ProtectionKind::Hold;
    hold.review = None;
    let (id, rewrapped) = s.create_protection(hold).await.unwrap();
    assert_eq!(rewrapped, 0);
    record(&s, a, BASE + 60 * SEC, 4).await;
    record(&s, a, BASE + HOUR + 60 * SEC, 4).await;
    assert_eq!(
        s.db.holds_overlapping(a, Time90k(BASE + 61 * SEC), Time90k(BASE + 62 * SEC))
            .unwrap(),
        vec![id]
    );
    assert!(s
        .db
        .holds_overlapping(a, Time90k(BASE + HOUR), Time90k(BASE + 2 * HOUR))
        .unwrap()
        .is_empty());

    clock.advance(5 * HOUR);
    let report = run_retention(&s, &clock).await;
    assert_eq!(report.keys_destroyed, 2);
    assert_eq!(report.segments_deleted, 2, "the unheld hour");
    assert_eq!(s.db.protection(id).unwrap().unwrap().segments, 2);
    assert_eq!(readable(&s, a, BASE, BASE + HOUR).await.len(), 2);
}

/// A lock made over video that only a hold still keeps (its bucket key is
/// gone) takes it under its own key, so releasing the hold loses nothing;
/// rows an active protection keeps are not in the keyless pages retention
/// reads.
#[tokio::test]
async fn a_second_protection_over_kept_video_keeps_it_when_the_first_is_released() {
    let (_dir, clock, s, a) = setup();
    record(&s, a, BASE + 60 * SEC, 4).await;
    let mut hold = lock(vec![a], BASE, BASE + HOUR, clock.now());
    hold.kind = ProtectionKind::Hold;
    hold.review = None;
    let (hold, _) = s.create_protection(hold).await.unwrap();
    clock.advance(5 * HOUR);
    assert_eq!(run_retention(&s, &clock).await.keys_destroyed, 1);
    assert!(
        s.db.keyless_segments_page(veil_base::SegmentId(0), 10)
            .unwrap()
            .is_empty(),
        "kept rows are not offered to retention"
    );

    let (lock_id, rewrapped) = s
        .create_protection(lock(vec![a], BASE, BASE + HOUR, clock.now()))
        .await
        .unwrap();
    assert_eq!(rewrapped, 2, "taken from the hold's key");
    s.release_protection(hold, None, "restriction lifted".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run_retention(&s, &clock).await.segments_deleted, 0);
    assert_eq!(
        readable(&s, a, BASE, BASE + HOUR).await.len(),
        2,
        "the lock still opens its video"
    );
    s.release_protection(lock_id, None, "case closed".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s.db.keyless_segments_page(veil_base::SegmentId(0), 10)
            .unwrap()
            .len(),
        2
    );
    assert_eq!(run_retention(&s, &clock).await.segments_deleted, 2);
}

/// A lock made after a retention batch was planned, before it is applied:
/// the destruction checks the protections again in its transaction, so the
/// locked segments survive (readable through the lock) and the rest goes.
#[tokio::test]
async fn a_lock_made_between_plan_and_destruction_keeps_its_video() {
    let (_dir, clock, s, a) = setup();
    record(&s, a, BASE + 60 * SEC, 4).await;
    clock.advance(5 * HOUR);
    let plan = s
        .retention_plan(
            clock.now(),
            two_hours,
            &s.active_protections().unwrap(),
            100,
        )
        .unwrap();
    assert_eq!(plan.delete_segments.len(), 2, "planned with no protection");
    s.create_protection(lock(vec![a], BASE + 60 * SEC, BASE + 61 * SEC, clock.now()))
        .await
        .unwrap();
    let report = s.apply_retention(&plan).await.unwrap();
    assert_eq!(report.keys_destroyed, 1);
    assert_eq!(report.segments_deleted, 1, "only the unlocked segment");
    assert_eq!(readable(&s, a, BASE, BASE + HOUR).await.len(), 1);
}

/// The system's release at a review date does not undo an extension made
/// after the lock was read.
#[tokio::test]
async fn a_review_release_skips_a_lock_extended_meanwhile() {
    let (_dir, clock, s, a) = setup();
    let mut l = lock(vec![a], BASE - HOUR, BASE, clock.now());
    l.review = Some(Time90k(BASE + HOUR));
    let (id, _) = s.create_protection(l).await.unwrap();
    clock.advance(2 * HOUR);
    // The job read it as due; the owner extends it before the release.
    s.db.extend_protection(id, Time90k(BASE + 30 * HOUR), "hearing moved", clock.now())
        .unwrap();
    assert_eq!(s.release_protection_at_review(id).await.unwrap(), None);
    assert!(s.db.protection(id).unwrap().unwrap().is_active());
    clock.advance(40 * HOUR);
    assert_eq!(s.release_protection_at_review(id).await.unwrap(), Some(0));
}
