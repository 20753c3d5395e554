//! Retention on a real data directory: planning and destroying expired hours,
//! and converging after a stop between the steps.

mod common;

use common::record;

use std::sync::Arc;

use veil_base::{CameraId, Clock, SegmentId, SimulatedClock, Time90k};
use veil_store::segment::BUCKET_90K as HOUR;
use veil_store::{RetentionReport, Store, MAIN_RENDITION};

/// The start of an hour in 2026.
const BASE: i64 = 1_795_000_000 * 90_000 / HOUR * HOUR;
use common::SEC;

fn store(dir: &std::path::Path, clock: &SimulatedClock) -> Store {
    veil_store::testing::open_dir(dir, Arc::new(clock.clone())).unwrap()
}

/// Every file under `dir`.
fn all_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Segment objects in the data directory (not the object store's marker).
fn object_files(dir: &std::path::Path) -> usize {
    all_files(&dir.join("objects"))
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .count()
}

fn hours(n: i64) -> impl Fn(CameraId, &str) -> i64 {
    move |_, _| n * HOUR
}

/// No segment row without its key, no object without its row.
fn converged(s: &Store, dir: &std::path::Path) {
    assert!(s
        .db
        .keyless_segments_page(SegmentId(0), 10)
        .unwrap()
        .is_empty());
    assert_eq!(object_files(dir) as u64, s.db.segment_count().unwrap());
}

#[tokio::test]
async fn expired_hours_are_destroyed_and_newer_ones_stay_playable() {
    let dir = tempfile::tempdir().unwrap();
    let clock = SimulatedClock::new(Time90k(BASE));
    let s = store(dir.path(), &clock);
    let a =
        s.db.upsert_camera("a", "synthetic", "{}", Time90k(BASE))
            .unwrap();
    let b =
        s.db.upsert_camera("b", "synthetic", "{}", Time90k(BASE))
            .unwrap();
    for h in 0..3 {
        for cam in [a, b] {
            record(&s, cam, BASE + h * HOUR + 60 * SEC, 4).await;
        }
    }
    assert_eq!(s.db.segment_count().unwrap(), 12);
    let old_keys: Vec<i64> = [a, b]
        .iter()
        .flat_map(|&cam| {
            (0..2).map(move |h| (cam, h)).map(|(cam, h)| {
                s.db.bucket_key(cam, MAIN_RENDITION, Time90k(BASE + h * HOUR))
                    .unwrap()
                    .unwrap()
                    .0
            })
        })
        .collect();
    let wrapped: Vec<Vec<u8>> = old_keys
        .iter()
        .map(|&id| s.db.bucket_key_by_id(id).unwrap().unwrap())
        .collect();

    // Two hours' retention: nothing is due before the first hour's end + 2 h.
    clock.advance(3 * HOUR);
    let plan = s.retention_plan(clock.now(), hours(2), &[], 100).unwrap();
    assert_eq!(plan.destroy_keys.len(), 2, "hour 0 of both cameras");
    // Past the second hour's expiry, not the third's.
    clock.advance(HOUR + 10 * SEC);
    let now = clock.now();
    let first = s.retention_plan(now, hours(2), &[], 1).unwrap();
    assert_eq!(first.destroy_keys.len(), 1, "batches are bounded");
    assert_eq!(first.next_expiry, Some(now), "the rest is due at once");
    let plan = s.retention_plan(now, hours(2), &[], 100).unwrap();
    let mut planned = plan.destroy_keys.clone();
    planned.sort();
    let mut expected = old_keys.clone();
    expected.sort();
    assert_eq!(planned, expected);
    assert_eq!(plan.delete_segments.len(), 8);
    assert_eq!(plan.next_expiry, Some(Time90k(BASE + 5 * HOUR)));
    assert_eq!(plan.cameras.len(), 2);
    for c in &plan.cameras {
        assert_eq!((c.hours, c.segments), (2, 4));
        assert_eq!((c.start, c.end), (Time90k(BASE), Time90k(BASE + 2 * HOUR)));
    }
    assert_eq!(
        plan.time_range(),
        Some((Time90k(BASE), Time90k(BASE + 2 * HOUR)))
    );

    let report = s.apply_retention(&plan).await.unwrap();
    assert_eq!(
        (
            report.keys_destroyed,
            report.segments_deleted,
            report.objects_deleted
        ),
        (4, 8, 8)
    );
    assert!(report.bytes_freed > 8 * 1000, "{report:?}");
    for &id in &old_keys {
        assert_eq!(s.db.bucket_key_by_id(id).unwrap(), None);
    }
    assert_eq!(s.db.segment_count().unwrap(), 4);
    converged(&s, dir.path());
    for cam in [a, b] {
        assert!(s
            .segments(cam, MAIN_RENDITION, Time90k(0), Time90k(BASE + 2 * HOUR))
            .unwrap()
            .is_empty());
        let kept = s
            .segments(
                cam,
                MAIN_RENDITION,
                Time90k(BASE + 2 * HOUR),
                Time90k(BASE + 3 * HOUR),
            )
            .unwrap();
        assert_eq!(kept.len(), 2);
        for seg in &kept {
            assert_eq!(
                s.read_media(seg).await.unwrap().len() as u64,
                seg.index.media_bytes()
            );
        }
    }
    // Planning again: nothing until the third hour expires.
    let again = s.retention_plan(now, hours(2), &[], 100).unwrap();
    assert!(again.is_empty() && again.cameras.is_empty());
    assert_eq!(again.next_expiry, Some(Time90k(BASE + 5 * HOUR)));
    assert_eq!(
        s.apply_retention(&again).await.unwrap(),
        RetentionReport::default()
    );

    // The destroyed wrapped keys are nowhere in the directory's files.
    drop(s);
    for f in all_files(dir.path()) {
        let bytes = std::fs::read(&f).unwrap();
        for w in &wrapped {
            assert!(
                !bytes.windows(w.len()).any(|x| x == w.as_slice()),
                "a destroyed wrapped bucket key is still in {}",
                f.display()
            );
        }
    }
}

#[tokio::test]
async fn a_stop_between_the_steps_converges_at_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let clock = SimulatedClock::new(Time90k(BASE));
    let s = store(dir.path(), &clock);
    let cam =
        s.db.upsert_camera("a", "synthetic", "{}", Time90k(BASE))
            .unwrap();
    for h in 0..3 {
        record(&s, cam, BASE + h * HOUR, 4).await;
    }
    clock.advance(2 * HOUR + SEC);

    // Stopped after step 3: the key is destroyed, the rows and objects remain.
    let plan = s.retention_plan(clock.now(), hours(1), &[], 100).unwrap();
    assert_eq!(plan.destroy_keys.len(), 1);
    assert_eq!(s.keys().destroy_batch(&plan.destroy_keys).unwrap(), 1);
    drop(s);
    let s = store(dir.path(), &clock);
    assert_eq!(s.recover().await.unwrap(), Default::default());
    let keyless = s.db.keyless_segments_page(SegmentId(0), 10).unwrap();
    assert_eq!(keyless.len(), 2);
    // The next plan deletes the keyless rows and their objects.
    let plan = s.retention_plan(clock.now(), hours(1), &[], 100).unwrap();
    assert!(plan.destroy_keys.is_empty());
    let mut ids: Vec<SegmentId> = keyless.iter().map(|k| k.id).collect();
    ids.sort_by_key(|i| i.0);
    assert_eq!(plan.delete_segments, ids);
    assert_eq!(plan.cameras[0].segments, 2);
    let r = s.apply_retention(&plan).await.unwrap();
    assert_eq!(
        (r.keys_destroyed, r.segments_deleted, r.objects_deleted),
        (0, 2, 2)
    );
    converged(&s, dir.path());

    // Stopped after step 4: key and rows gone, the objects remain.
    clock.advance(HOUR);
    let plan = s.retention_plan(clock.now(), hours(1), &[], 100).unwrap();
    assert_eq!(
        (plan.destroy_keys.len(), plan.delete_segments.len()),
        (1, 2)
    );
    s.keys().destroy_batch(&plan.destroy_keys).unwrap();
    assert_eq!(
        s.db.delete_segments(&plan.delete_segments, "retention")
            .unwrap()
            .len(),
        2
    );
    drop(s);
    let s = store(dir.path(), &clock);
    assert_eq!(object_files(dir.path()), 4);
    let recovered = s.recover().await.unwrap();
    assert_eq!(recovered.orphan_objects_deleted, 2);
    let plan = s.retention_plan(clock.now(), hours(1), &[], 100).unwrap();
    assert!(plan.is_empty());
    converged(&s, dir.path());
    // The newest hour is still there and playable.
    let left = s
        .segments(cam, MAIN_RENDITION, Time90k(0), Time90k(i64::MAX / 2))
        .unwrap();
    assert_eq!(left.len(), 2);
    s.read_media(&left[0]).await.unwrap();
}
