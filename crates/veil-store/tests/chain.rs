//! The recording integrity chain on a real data directory: links written
//! with segments, removal links when rows leave, the heads, chaining rows
//! stored before the chain, and verification against rows and objects.

mod common;

use common::{record, SEC};

use std::path::Path;
use std::sync::Arc;

use veil_base::{CameraId, Clock, SegmentId, SimulatedClock, Time90k};
use veil_store::chain::{self, check_links, LinkKind};
use veil_store::chain_store::{read_local_object, verify_chains};
use veil_store::db::RawValue;
use veil_store::segment::BUCKET_90K as HOUR;
use veil_store::{Store, MAIN_RENDITION};

/// The start of an hour in 2026.
const BASE: i64 = 1_795_000_000 * 90_000 / HOUR * HOUR;

fn store(dir: &Path, clock: &SimulatedClock) -> Store {
    veil_store::testing::open_dir(dir, Arc::new(clock.clone())).unwrap()
}

fn verify(s: &Store, dir: &Path) -> Result<veil_store::chain_store::ChainReport, String> {
    let objects = dir.join("objects");
    verify_chains(&s.db, &mut |k| read_local_object(&objects, k))
}

fn ids(s: &Store, cam: CameraId) -> Vec<SegmentId> {
    s.db.segments(cam, MAIN_RENDITION, Time90k(0), Time90k(i64::MAX))
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect()
}

#[tokio::test]
async fn every_segment_is_linked_in_the_same_write_and_the_heads_follow() {
    let dir = tempfile::tempdir().unwrap();
    let clock = SimulatedClock::new(Time90k(BASE));
    let s = store(dir.path(), &clock);
    let a =
        s.db.upsert_camera("a", "synthetic", "{}", Time90k(BASE))
            .unwrap();
    let b =
        s.db.upsert_camera("b", "synthetic", "{}", Time90k(BASE))
            .unwrap();
    record(&s, a, BASE + 60 * SEC, 6).await;
    record(&s, b, BASE + 60 * SEC, 4).await;
    let rows =
        s.db.segments(a, MAIN_RENDITION, Time90k(0), Time90k(i64::MAX))
            .unwrap();
    assert_eq!(rows.len(), 3);
    let links = s.chain_links(a, MAIN_RENDITION, 1, 100).unwrap();
    assert_eq!(links.len(), 3);
    check_links(&links).unwrap();
    assert_eq!(links[0].prev_hash, chain::GENESIS);
    for (l, r) in links.iter().zip(&rows) {
        assert_eq!(l.kind, LinkKind::Segment);
        assert_eq!(l.segment, Some(r.id));
        assert_eq!(l.start_90k, r.start_90k);
        assert_eq!(l.end_90k.0, r.start_90k.0 + r.duration_90k);
        assert_eq!(Some(l.object_sha256), r.object_sha256);
        let object = std::fs::read(dir.path().join("objects").join(&r.object_key)).unwrap();
        assert_eq!(chain::object_sha256(&object), l.object_sha256);
        assert_eq!(s.segment_link(r.id).unwrap().as_ref(), Some(l));
    }
    assert_eq!(s.chain_links(a, MAIN_RENDITION, 2, 2).unwrap(), links[1..2]);
    let heads = s.chain_heads().unwrap();
    assert_eq!(heads.len(), 2);
    assert_eq!((heads[0].camera, heads[0].seq), (a, 3));
    assert_eq!(heads[0], links[2]);
    assert_eq!((heads[1].camera, heads[1].seq), (b, 2));
    let r = verify(&s, dir.path()).unwrap();
    assert_eq!((r.chains, r.links, r.segments, r.objects), (2, 5, 5, 5));
    // Links are append-only.
    assert!(s
        .db
        .tamper_for_tests("UPDATE recording_link SET start_90k = 0", &[])
        .is_err());
    assert!(s
        .db
        .tamper_for_tests("DELETE FROM recording_link", &[])
        .is_err());
    assert_eq!(s.chain_links(a, MAIN_RENDITION, 1, 100).unwrap().len(), 3);
}

#[tokio::test]
async fn retention_appends_a_removal_link_naming_the_segments_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let clock = SimulatedClock::new(Time90k(BASE));
    let s = store(dir.path(), &clock);
    let a =
        s.db.upsert_camera("a", "synthetic", "{}", Time90k(BASE))
            .unwrap();
    record(&s, a, BASE + 60 * SEC, 4).await;
    record(&s, a, BASE + HOUR + 60 * SEC, 4).await;
    let before = ids(&s, a);
    assert_eq!(before.len(), 4);
    clock.advance(3 * HOUR + 10 * SEC);
    let plan = s
        .retention_plan(clock.now(), |_, _| 2 * HOUR, &[], 100)
        .unwrap();
    assert_eq!(plan.delete_segments.len(), 2);
    s.apply_retention(&plan).await.unwrap();
    let links = s.chain_links(a, MAIN_RENDITION, 1, i64::MAX).unwrap();
    assert_eq!(links.len(), 5);
    check_links(&links).unwrap();
    let removal = &links[4];
    assert_eq!(removal.kind, LinkKind::Removal);
    assert_eq!(removal.segment, None);
    assert_eq!(removal.object_sha256, [0; 32]);
    assert_eq!(
        removal.detail,
        format!("reason=retention segments={},{}", before[0].0, before[1].0)
    );
    assert_eq!(removal.start_90k, links[0].start_90k);
    assert_eq!(removal.end_90k, links[1].end_90k);
    assert_eq!(s.chain_heads().unwrap()[0], *removal);
    verify(&s, dir.path()).unwrap();

    // A quota's destruction says so.
    let plan = s
        .quota_plan(clock.now(), veil_store::quota::QuotaScope::Camera(a), 100)
        .unwrap();
    s.apply_retention(&plan).await.unwrap();
    let head = s.chain_heads().unwrap().remove(0);
    assert_eq!(head.seq, 6);
    assert!(
        head.detail.starts_with("reason=quota segments="),
        "{}",
        head.detail
    );
    verify(&s, dir.path()).unwrap();
}

#[tokio::test]
async fn a_row_deleted_or_an_object_swapped_behind_the_store_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let clock = SimulatedClock::new(Time90k(BASE));
    let s = store(dir.path(), &clock);
    let a =
        s.db.upsert_camera("a", "synthetic", "{}", Time90k(BASE))
            .unwrap();
    record(&s, a, BASE + 60 * SEC, 8).await;
    let rows =
        s.db.segments(a, MAIN_RENDITION, Time90k(0), Time90k(i64::MAX))
            .unwrap();
    verify(&s, dir.path()).unwrap();
    let objects = dir.path().join("objects");
    let (p1, p2) = (
        objects.join(&rows[1].object_key),
        objects.join(&rows[2].object_key),
    );
    let (o1, o2) = (std::fs::read(&p1).unwrap(), std::fs::read(&p2).unwrap());
    std::fs::write(&p1, &o2).unwrap();
    std::fs::write(&p2, &o1).unwrap();
    let e = verify(&s, dir.path()).unwrap_err();
    assert!(
        e.contains("link 2") && e.contains(&format!("segment {}", rows[1].id.0)),
        "{e}"
    );
    std::fs::write(&p1, &o1).unwrap();
    std::fs::write(&p2, &o2).unwrap();
    verify(&s, dir.path()).unwrap();
    s.db.tamper_for_tests(
        "DELETE FROM segment WHERE id = ?1",
        &[RawValue::Integer(rows[2].id.0)],
    )
    .unwrap();
    let e = verify(&s, dir.path()).unwrap_err();
    assert!(
        e.contains(&format!("camera {} rendition main link 3", a.0))
            && e.contains(&format!("segment {}", rows[2].id.0))
            && e.contains("no removal link"),
        "{e}"
    );
}

#[tokio::test]
async fn rows_stored_before_the_chain_are_chained_at_start_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let clock = SimulatedClock::new(Time90k(BASE));
    let a;
    {
        let mut s = store(dir.path(), &clock);
        s.benchmark_without_chain();
        a =
            s.db.upsert_camera("a", "synthetic", "{}", Time90k(BASE))
                .unwrap();
        record(&s, a, BASE + 600 * SEC, 4).await;
        record(&s, a, BASE + 60 * SEC, 4).await;
        assert!(s.chain_heads().unwrap().is_empty());
        let r = verify(&s, dir.path()).unwrap();
        assert_eq!(r.unchained, 4);
    }
    let s = store(dir.path(), &clock);
    let report = s.recover().await.unwrap();
    assert_eq!(report.segments_chained, 4);
    let links = s.chain_links(a, MAIN_RENDITION, 1, 10).unwrap();
    assert_eq!(links.len(), 4);
    check_links(&links).unwrap();
    assert!(links.windows(2).all(|w| w[0].start_90k < w[1].start_90k));
    let r = verify(&s, dir.path()).unwrap();
    assert_eq!((r.unchained, r.objects), (0, 4));
    assert_eq!(s.recover().await.unwrap().segments_chained, 0);
    // New segments go on the same chain.
    record(&s, a, BASE + 900 * SEC, 2).await;
    assert_eq!(s.chain_heads().unwrap()[0].seq, 5);
    verify(&s, dir.path()).unwrap();
}
