//! Per-camera retention on a real data directory with a simulated clock: the
//! effective rule (the camera's own, else its area's, else the
//! installation's) as the store reads it once per plan, and a deleted
//! camera's recordings destroyed by its own rule.

mod common;

use common::record;

use std::sync::Arc;

use veil_base::{CameraId, Clock, SimulatedClock, Time90k};
use veil_store::db::{CameraSettings, RetentionChange, TrackConsent};
use veil_store::retention_rule::Source;
use veil_store::segment::BUCKET_90K as HOUR;
use veil_store::MAIN_RENDITION;

/// The start of an hour in 2026.
const BASE: i64 = 1_795_000_000 * 90_000 / HOUR * HOUR;
use common::SEC;

fn managed(name: &str, area: &str) -> CameraSettings {
    CameraSettings {
        name: name.into(),
        source_kind: "rtsp".into(),
        source_config: r#"{"url": "rtsp://192.0.2.1/s", "transport": "tcp"}"#.into(),
        enabled: false,
        recording_mode: "continuous".into(),
        group: String::new(),
        segment_seconds: None,
        recording_config: None,
        audio: TrackConsent::default(),
        metadata: TrackConsent::default(),
        area: area.into(),
        ptz: Default::default(),
    }
}

fn set(hours: u32) -> RetentionChange {
    RetentionChange::Set {
        hours,
        justification: String::new(),
    }
}

fn cameras_planned(plan: &veil_store::retention::Plan) -> Vec<CameraId> {
    let mut c: Vec<CameraId> = plan.cameras.iter().map(|c| c.camera).collect();
    c.sort();
    c
}

#[tokio::test]
async fn each_camera_is_destroyed_by_its_own_rule_also_once_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let clock = SimulatedClock::new(Time90k(BASE));
    let s = veil_store::testing::open_dir(dir.path(), Arc::new(clock.clone())).unwrap();
    let now = Time90k(BASE);
    let own =
        s.db.insert_managed_camera(&managed("own", "private"), now)
            .unwrap();
    let street =
        s.db.insert_managed_camera(&managed("street", "public_facing"), now)
            .unwrap();
    let plain = s.db.upsert_camera("plain", "synthetic", "{}", now).unwrap();
    assert_eq!(s.db.camera_area(plain).unwrap().as_deref(), Some("private"));
    assert_eq!(s.db.camera_area(CameraId(99)).unwrap(), None);
    s.db.set_camera_retention(own, &[(MAIN_RENDITION.into(), set(2))], now)
        .unwrap();
    for cam in [own, street, plain] {
        record(&s, cam, BASE + 60 * SEC, 4).await;
    }
    // The camera with its own rule is deleted: its recordings keep it.
    assert!(s.db.delete_managed_camera(own, now).unwrap());

    let rules = s.db.retention_rules(100).unwrap();
    assert_eq!(rules.effective(own, MAIN_RENDITION).hours, 2);
    assert_eq!(rules.effective(own, MAIN_RENDITION).source, Source::Camera);
    assert_eq!(rules.effective(street, MAIN_RENDITION).hours, 48);
    assert_eq!(rules.effective(street, MAIN_RENDITION).source, Source::Area);
    assert_eq!(rules.effective(plain, MAIN_RENDITION).hours, 100);
    assert_eq!(rules.effective(plain, "sub").source, Source::Installation);

    // The hour's end plus two hours: only the deleted camera's hour is due.
    clock.advance(3 * HOUR + SEC);
    let plan = s
        .retention_plan(clock.now(), rules.clone().keep_90k(), &[], 100)
        .unwrap();
    assert_eq!(cameras_planned(&plan), [own]);
    s.apply_retention(&plan).await.unwrap();
    assert!(s
        .db
        .bucket_key(own, MAIN_RENDITION, Time90k(BASE))
        .unwrap()
        .is_none());
    assert!(s
        .db
        .bucket_key(street, MAIN_RENDITION, Time90k(BASE))
        .unwrap()
        .is_some());

    // Two days later the public-facing camera's; the installation's later.
    clock.advance(47 * HOUR);
    let plan = s
        .retention_plan(clock.now(), rules.clone().keep_90k(), &[], 100)
        .unwrap();
    assert_eq!(cameras_planned(&plan), [street]);
    s.apply_retention(&plan).await.unwrap();
    clock.advance(51 * HOUR);
    let plan = s
        .retention_plan(clock.now(), rules.keep_90k(), &[], 100)
        .unwrap();
    assert_eq!(cameras_planned(&plan), [plain]);
}

#[test]
fn rules_are_set_and_removed_per_rendition_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clock = SimulatedClock::new(Time90k(BASE));
    let s = veil_store::testing::open_dir(dir.path(), Arc::new(clock.clone())).unwrap();
    let now = Time90k(BASE);
    let cam = s.db.upsert_camera("c", "synthetic", "{}", now).unwrap();
    s.db.set_camera_retention(
        cam,
        &[(
            MAIN_RENDITION.into(),
            RetentionChange::Set {
                hours: 1000,
                justification: "Thefts are reported weeks later".into(),
            },
        )],
        now,
    )
    .unwrap();
    let rows = s.db.camera_retention(cam).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (
            rows[0].hours,
            rows[0].justification.as_str(),
            rows[0].updated_90k
        ),
        (1000, "Thefts are reported weeks later", now)
    );
    // A batch with an invalid row (0 hours breaks the table's CHECK) leaves
    // everything as it was.
    let later = Time90k(BASE + HOUR);
    assert!(s
        .db
        .set_camera_retention(
            cam,
            &[(MAIN_RENDITION.into(), set(5)), ("sub".into(), set(0))],
            later,
        )
        .is_err());
    assert_eq!(s.db.camera_retention(cam).unwrap(), rows);
    s.db.set_camera_retention(cam, &[(MAIN_RENDITION.into(), set(5))], later)
        .unwrap();
    assert_eq!(s.db.camera_retention(cam).unwrap()[0].hours, 5);
    assert_eq!(s.db.camera_retention(cam).unwrap()[0].justification, "");
    s.db.set_camera_retention(
        cam,
        &[(MAIN_RENDITION.into(), RetentionChange::Default)],
        later,
    )
    .unwrap();
    assert!(s.db.camera_retention(cam).unwrap().is_empty());
    s.db.set_camera_area(cam, "workplace").unwrap();
    assert_eq!(s.db.camera_area(cam).unwrap().as_deref(), Some("workplace"));
}
