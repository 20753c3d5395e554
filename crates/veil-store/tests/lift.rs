//! Liftable masks at the store, on a real data directory: the default view
//! never holds `original`; originals open only through a lift grant made
//! from a recorded `mask.lift` entry; their stored keys do not open under
//! the root key alone (server-held: sealed to the lift key; escrow: sealed
//! to an offline recipient, checked with the `age` CLI too); grants expire;
//! retention destroys originals after their shorter default; rotation
//! re-seals the lift key; a lock keeps an original that still needs the
//! lift path.

mod common;

use std::str::FromStr;
use std::sync::Arc;

use common::SEC;
use veil_base::{CameraId, Clock, SimulatedClock, Time90k, UserId};
use veil_media::synthetic::SyntheticConfig;
use veil_store::crypto::{self, Key};
use veil_store::db::{AuditRow, NewProtection, ProtectionKind};
use veil_store::segment::{bucket_key_aad, index_aad, segment_key_aad, BUCKET_90K as HOUR};
use veil_store::{
    recorder, Error, LiftMode, NewSegment, Store, MAIN_RENDITION, ORIGINAL_RENDITION,
    PROTECTED_RENDITION,
};

/// The start of an hour in 2026.
const BASE: i64 = 1_795_000_000 * 90_000 / HOUR * HOUR;

struct Setup {
    dir: tempfile::TempDir,
    clock: SimulatedClock,
    s: Store,
    cam: CameraId,
    user: UserId,
}

fn setup(mode: LiftMode) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let clock = SimulatedClock::new(Time90k(BASE));
    let s = veil_store::testing::open_dir(dir.path(), Arc::new(clock.clone())).unwrap();
    s.set_lift_mode(mode);
    let cam =
        s.db.upsert_camera("door", "synthetic", "{}", Time90k(BASE))
            .unwrap();
    let user =
        s.db.insert_user("u-dpo", "dpo", "x", "", Time90k(BASE))
            .unwrap();
    Setup {
        dir,
        clock,
        s,
        cam,
        user,
    }
}

/// `seconds` of synthetic video from `start` as segments of 2 s.
fn segments(cam: CameraId, start: i64, seconds: i64) -> Vec<NewSegment> {
    let config = SyntheticConfig {
        width: 160,
        height: 120,
        fps: 25,
        gop_frames: 25,
        bitrate_bps: 100_000,
        seed: 1,
    };
    let frames = (seconds * 25 + 1) as u32;
    recorder::synthetic_segments(cam, config, Time90k(start), frames, 2 * SEC).unwrap()
}

/// Stores the segments under `rendition`; returns their media.
async fn store(s: &Store, segs: &[NewSegment], rendition: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for n in segs {
        let mut n = n.clone();
        n.rendition = rendition.into();
        out.push(n.media.clone());
        s.write_segment(n).await.unwrap();
    }
    out
}

/// A masked camera's hour: `protected` and `original` for the same frames.
async fn masked(s: &Store, cam: CameraId, start: i64, seconds: i64) -> Vec<Vec<u8>> {
    let segs = segments(cam, start, seconds);
    store(s, &segs, PROTECTED_RENDITION).await;
    store(s, &segs, ORIGINAL_RENDITION).await
}

/// Appends an access-record entry as the writer would; returns its number.
fn entry(s: &Store, actor: &str, action: &str, resource: &str, now: Time90k) -> i64 {
    s.db.append_audit_batch(|tail| {
        Ok(vec![AuditRow {
            seq: tail.map_or(1, |t| t.0 + 1),
            time_90k: now,
            actor: actor.into(),
            action: action.into(),
            resource: resource.into(),
            outcome: "ok".into(),
            detail: String::new(),
            client: String::new(),
            justification: "case 17".into(),
            prev_hash: Vec::new(),
            hash: Vec::new(),
        }])
    })
    .unwrap()[0]
}

fn root_key(dir: &std::path::Path) -> Key {
    let text = std::fs::read_to_string(dir.join("root.key")).unwrap();
    let raw: [u8; 32] = hex::decode(text.trim()).unwrap().try_into().unwrap();
    Key::from_bytes(raw)
}

/// For each stored row of `rendition`: what its bucket wrapping holds, opened
/// with the root key alone, and whether that opens the sealed index.
fn with_root_alone(t: &Setup, rendition: &str) -> Vec<(Vec<u8>, bool)> {
    let root = root_key(t.dir.path());
    let rows =
        t.s.db
            .segments(t.cam, rendition, Time90k(0), Time90k(i64::MAX / 2))
            .unwrap();
    assert!(!rows.is_empty());
    rows.iter()
        .map(|r| {
            let (_, wrapped) =
                t.s.db
                    .bucket_key(
                        t.cam,
                        rendition,
                        veil_store::segment::bucket_start(r.start_90k),
                    )
                    .unwrap()
                    .unwrap();
            let bucket = crypto::unwrap_key(
                &root,
                &bucket_key_aad(
                    t.cam,
                    rendition,
                    veil_store::segment::bucket_start(r.start_90k),
                ),
                &wrapped,
            )
            .unwrap();
            let material = crypto::open(&bucket, &segment_key_aad(&r.object_key), &r.wrapped_key)
                .unwrap()
                .to_vec();
            let opens = <[u8; 32]>::try_from(material.as_slice()).is_ok_and(|k| {
                crypto::open(
                    &Key::from_bytes(k),
                    &index_aad(t.cam, rendition, r.start_90k),
                    &r.sealed_index,
                )
                .is_ok()
            });
            (material, opens)
        })
        .collect()
}

fn lift_err<T>(r: Result<T, Error>) -> String {
    match r {
        Err(Error::Lift(m)) => m,
        Err(e) => panic!("expected a lift refusal, got {e}"),
        Ok(_) => panic!("expected a lift refusal, got success"),
    }
}

#[tokio::test]
async fn the_default_view_is_main_then_protected_and_never_original() {
    let t = setup(LiftMode::Server);
    // Before the first mask: main; after it: protected and original.
    store(&t.s, &segments(t.cam, BASE, 10), MAIN_RENDITION).await;
    masked(&t.s, t.cam, BASE + 20 * SEC, 10).await;
    let all = (Time90k(0), Time90k(i64::MAX / 2));
    let segs = t.s.default_segments(t.cam, all.0, all.1).unwrap();
    let renditions: Vec<&str> = segs.iter().map(|s| s.row.rendition.as_str()).collect();
    assert_eq!(renditions.len(), 10, "{renditions:?}");
    assert!(renditions[..5].iter().all(|r| *r == MAIN_RENDITION));
    assert!(renditions[5..].iter().all(|r| *r == PROTECTED_RENDITION));
    for seg in &segs {
        t.s.read_media(seg).await.unwrap();
    }
    let runs = t.s.default_runs(t.cam, all.0, all.1).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1].0, Time90k(BASE + 20 * SEC));
    // Originals are refused outside the lift path, listing and reading.
    lift_err(t.s.segments(t.cam, ORIGINAL_RENDITION, all.0, all.1));
    let rows =
        t.s.db
            .segments(t.cam, ORIGINAL_RENDITION, all.0, all.1)
            .unwrap();
    assert_eq!(rows.len(), 5);
    let mut fake = segs[5].clone();
    fake.row = rows[0].clone();
    lift_err(t.s.read_media(&fake).await);
}

#[tokio::test]
async fn a_server_held_original_opens_only_through_a_recorded_lift() {
    let t = setup(LiftMode::Server);
    let media = masked(&t.s, t.cam, BASE, 10).await;
    let (start, end) = (Time90k(BASE), Time90k(BASE + 10 * SEC));
    let now = t.clock.now();

    // The raw rows: the root key opens protected keys and indexes, and an
    // original's bucket wrapping, but what that holds is no key (an age
    // file sealed to the lift key) and opens no index.
    assert!(with_root_alone(&t, PROTECTED_RENDITION)
        .iter()
        .all(|(m, ok)| m.len() == 32 && *ok));
    for (material, opens) in with_root_alone(&t, ORIGINAL_RENDITION) {
        assert!(!opens);
        assert!(
            material.starts_with(b"age-encryption.org/v1\n"),
            "not an age file"
        );
    }
    let lift_key = t.s.db.lift_key().unwrap().unwrap();
    assert!(lift_key.recipient.starts_with("age1"));
    assert_eq!(
        t.s.lift_recipient().unwrap(),
        Some(lift_key.recipient.clone())
    );

    // No grant without its own mask.lift entry by that user on that camera.
    let res = format!("camera:{}", t.cam.0);
    let hour = 3600 * SEC;
    lift_err(t.s.lift(t.user, t.cam, start, end, 999, hour));
    let playback = entry(&t.s, "u-dpo", "playback", &res, now);
    lift_err(t.s.lift(t.user, t.cam, start, end, playback, hour));
    let other =
        t.s.db
            .insert_user("u-other", "other", "x", "", now)
            .unwrap();
    let theirs = entry(&t.s, "u-other", "mask.lift", &res, now);
    lift_err(t.s.lift(t.user, t.cam, start, end, theirs, hour));
    let elsewhere = entry(&t.s, "u-dpo", "mask.lift", "camera:99", now);
    lift_err(t.s.lift(t.user, t.cam, start, end, elsewhere, hour));
    let ok = entry(&t.s, "u-dpo", "mask.lift", &res, now);
    let grant = t.s.lift(t.user, t.cam, start, end, ok, hour).unwrap();
    // One entry, one grant.
    lift_err(t.s.lift(t.user, t.cam, start, end, ok, hour));
    assert!(t.s.lift_grant(other, t.cam, start, end).unwrap().is_none());

    let segs = t.s.original_segments(&grant, start, end).unwrap();
    assert_eq!(segs.len(), media.len());
    for (seg, m) in segs.iter().zip(&media) {
        assert_eq!(seg.row.rendition, ORIGINAL_RENDITION);
        assert_eq!(*t.s.read_original_media(&grant, seg).await.unwrap(), *m);
        // The grant is the only way in.
        lift_err(t.s.read_media(seg).await);
    }
    lift_err(t.s.original_segments(&grant, start, Time90k(end.0 + 3600 * SEC)));

    // A follow-up finds the grant while it lasts; then it is gone.
    t.clock.advance(59 * 60 * SEC);
    let again = t.s.lift_grant(t.user, t.cam, start, end).unwrap().unwrap();
    assert_eq!(again.row().id, grant.row().id);
    t.clock.advance(2 * 60 * SEC);
    assert!(t.s.lift_grant(t.user, t.cam, start, end).unwrap().is_none());
    let m = lift_err(t.s.read_original_media(&grant, &segs[0]).await);
    assert!(m.contains("expired"), "{m}");
}

#[tokio::test]
async fn escrowed_originals_need_the_identity_and_the_server_alone_opens_none() {
    let identity = age::x25519::Identity::generate();
    let t = setup(LiftMode::Escrow(identity.to_public()));
    let media = masked(&t.s, t.cam, BASE, 6).await;
    let (start, end) = (Time90k(BASE), Time90k(BASE + 6 * SEC));
    // No lift key is made: the server holds nothing that opens them.
    assert!(t.s.db.lift_key().unwrap().is_none());
    for (material, opens) in with_root_alone(&t, ORIGINAL_RENDITION) {
        assert!(!opens);
        // The recipient's identity opens the sealed key (so the test can fail).
        let key: [u8; 32] = age::decrypt(&identity, &material)
            .unwrap()
            .try_into()
            .unwrap();
        let _ = Key::from_bytes(key);
    }
    let seq = entry(
        &t.s,
        "u-dpo",
        "mask.lift",
        &format!("camera:{}", t.cam.0),
        t.clock.now(),
    );
    let grant =
        t.s.lift(t.user, t.cam, start, end, seq, 3600 * SEC)
            .unwrap();
    let m = lift_err(t.s.original_segments(&grant, start, end));
    assert!(m.contains("escrow"), "{m}");
    let wrong = grant_again(&t, start, end).with_identity(age::x25519::Identity::generate());
    let m = lift_err(t.s.original_segments(&wrong, start, end));
    assert!(m.contains("does not open"), "{m}");
    let right = grant_again(&t, start, end).with_identity(identity.clone());
    let segs = t.s.original_segments(&right, start, end).unwrap();
    assert_eq!(segs.len(), media.len());
    for (seg, m) in segs.iter().zip(&media) {
        assert_eq!(*t.s.read_original_media(&right, seg).await.unwrap(), *m);
    }
    // Protected video needs nothing of this.
    assert_eq!(
        t.s.default_segments(t.cam, start, end).unwrap().len(),
        media.len()
    );
}

/// The user's current grant, found again (as a follow-up request would).
fn grant_again(t: &Setup, start: Time90k, end: Time90k) -> veil_store::LiftGrant {
    t.s.lift_grant(t.user, t.cam, start, end).unwrap().unwrap()
}

#[tokio::test]
async fn escrow_with_a_key_pair_from_the_age_cli() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("dpo.key");
    let out = std::process::Command::new("age-keygen")
        .arg("-o")
        .arg(&key_file)
        .output()
        .expect("age-keygen (scripts/test installs age)");
    assert!(out.status.success());
    let text = std::fs::read_to_string(&key_file).unwrap();
    let secret = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap()
        .to_owned();
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_owned();
    let recipient = veil_store::lift::parse_recipient(&public).unwrap();
    let t = setup(LiftMode::Escrow(recipient));
    let media = masked(&t.s, t.cam, BASE, 4).await;
    let (start, end) = (Time90k(BASE), Time90k(BASE + 4 * SEC));

    // The CLI opens what the server sealed, and that key opens the index.
    let rows =
        t.s.db
            .segments(t.cam, ORIGINAL_RENDITION, start, end)
            .unwrap();
    for ((material, opens), row) in with_root_alone(&t, ORIGINAL_RENDITION).iter().zip(&rows) {
        assert!(!opens);
        let sealed = dir.path().join("sealed.age");
        std::fs::write(&sealed, material).unwrap();
        let out = std::process::Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(&key_file)
            .arg(&sealed)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key = Key::from_bytes(out.stdout.as_slice().try_into().unwrap());
        let index = crypto::open(
            &key,
            &index_aad(t.cam, ORIGINAL_RENDITION, row.start_90k),
            &row.sealed_index,
        );
        assert!(index.is_ok());
    }
    let seq = entry(
        &t.s,
        "u-dpo",
        "mask.lift",
        &format!("camera:{}", t.cam.0),
        t.clock.now(),
    );
    let identity = veil_store::lift::parse_identity(&secret).unwrap();
    assert_eq!(identity.to_public().to_string(), public);
    let grant =
        t.s.lift(t.user, t.cam, start, end, seq, 3600 * SEC)
            .unwrap()
            .with_identity(age::x25519::Identity::from_str(&secret).unwrap());
    let segs = t.s.original_segments(&grant, start, end).unwrap();
    assert_eq!(segs.len(), media.len());
    assert_eq!(
        *t.s.read_original_media(&grant, &segs[0]).await.unwrap(),
        media[0]
    );
}

#[tokio::test]
async fn retention_destroys_originals_after_their_shorter_default() {
    let t = setup(LiftMode::Server);
    masked(&t.s, t.cam, BASE, 10).await;
    let all = (Time90k(0), Time90k(i64::MAX / 2));
    let rules = t.s.db.retention_rules(168).unwrap();
    assert_eq!(rules.effective(t.cam, ORIGINAL_RENDITION).hours, 72);
    assert_eq!(rules.effective(t.cam, PROTECTED_RENDITION).hours, 168);
    let run = |now: Time90k| {
        let plan =
            t.s.retention_plan(now, rules.clone().keep_90k(), &[], 100)
                .unwrap();
        let s = t.s.clone();
        async move { s.apply_retention(&plan).await.unwrap() }
    };
    // 72 hours after the hour ended: not yet; an hour later: originals go.
    let report = run(Time90k(BASE + 72 * HOUR)).await;
    assert_eq!(report.keys_destroyed, 0);
    let report = run(Time90k(BASE + 73 * HOUR + SEC)).await;
    assert_eq!(report.keys_destroyed, 1);
    assert_eq!(report.segments_deleted, 5);
    assert!(t
        .s
        .db
        .segments(t.cam, ORIGINAL_RENDITION, all.0, all.1)
        .unwrap()
        .is_empty());
    assert!(t
        .s
        .db
        .bucket_key(t.cam, ORIGINAL_RENDITION, Time90k(BASE))
        .unwrap()
        .is_none());
    assert_eq!(t.s.default_segments(t.cam, all.0, all.1).unwrap().len(), 5);
    // The installation's rule still applies to the default view.
    run(Time90k(BASE + 169 * HOUR + SEC)).await;
    assert!(t
        .s
        .default_segments(t.cam, all.0, all.1)
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn masks_keep_the_cameras_own_rule_and_the_original_never_outlives_it() {
    let t = setup(LiftMode::Server);
    masked(&t.s, t.cam, BASE, 10).await;
    // The camera's DPIA says 24 hours, set before it had masks (as `main`).
    let day = veil_store::db::RetentionChange::Set {
        hours: 24,
        justification: String::new(),
    };
    t.s.db
        .set_camera_retention(t.cam, &[(MAIN_RENDITION.to_owned(), day)], Time90k(BASE))
        .unwrap();
    let rules = t.s.db.retention_rules(168).unwrap();
    assert_eq!(rules.effective(t.cam, PROTECTED_RENDITION).hours, 24);
    assert_eq!(rules.effective(t.cam, ORIGINAL_RENDITION).hours, 24);
    let plan =
        t.s.retention_plan(Time90k(BASE + 25 * HOUR + SEC), rules.keep_90k(), &[], 100)
            .unwrap();
    let report = t.s.apply_retention(&plan).await.unwrap();
    assert_eq!(
        report.keys_destroyed, 2,
        "protected and original, after 24 hours"
    );
    let all = (Time90k(0), Time90k(i64::MAX / 2));
    assert!(t
        .s
        .default_segments(t.cam, all.0, all.1)
        .unwrap()
        .is_empty());
    assert!(t
        .s
        .db
        .segments(t.cam, ORIGINAL_RENDITION, all.0, all.1)
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn rotation_reseals_the_lift_key_and_originals_still_lift() {
    let t = setup(LiftMode::Server);
    let media = masked(&t.s, t.cam, BASE, 4).await;
    let before = t.s.db.lift_key().unwrap().unwrap();
    assert_eq!(before.key_version, 1);
    let old_root = root_key(t.dir.path());
    let report = t.s.rotate_root(&mut |_| Ok(())).unwrap();
    assert_eq!(report.rewrapped.lift_keys, 1);
    assert_eq!(report.destroyed, vec![1]);
    let after = t.s.db.lift_key().unwrap().unwrap();
    assert_eq!(after.key_version, 2);
    assert_eq!(after.recipient, before.recipient);
    assert_ne!(after.sealed_identity, before.sealed_identity);
    // The old root opened the identity before and opens nothing now.
    let aad = veil_store::lift::LIFT_IDENTITY_AAD;
    assert!(crypto::open(&old_root, aad, &before.sealed_identity).is_ok());
    assert!(crypto::open(&old_root, aad, &after.sealed_identity).is_err());
    assert!(!t.dir.path().join("root.key").exists());
    let (start, end) = (Time90k(BASE), Time90k(BASE + 4 * SEC));
    let seq = entry(
        &t.s,
        "u-dpo",
        "mask.lift",
        &format!("camera:{}", t.cam.0),
        t.clock.now(),
    );
    let grant =
        t.s.lift(t.user, t.cam, start, end, seq, 3600 * SEC)
            .unwrap();
    let segs = t.s.original_segments(&grant, start, end).unwrap();
    assert_eq!(
        *t.s.read_original_media(&grant, &segs[0]).await.unwrap(),
        media[0]
    );
}

#[tokio::test]
async fn a_locked_original_outlives_its_bucket_and_still_needs_the_lift_path() {
    let t = setup(LiftMode::Server);
    let media = masked(&t.s, t.cam, BASE, 4).await;
    let (start, end) = (Time90k(BASE), Time90k(BASE + 4 * SEC));
    let now = t.clock.now();
    t.s.create_protection(NewProtection {
        kind: ProtectionKind::Lock,
        cameras: vec![t.cam],
        start,
        end,
        reason: "assault at the door, case 17".into(),
        owner: None,
        created: now,
        review: Some(Time90k(now.0 + 30 * 24 * HOUR)),
        release_on_review: true,
        key_version: 1,
    })
    .await
    .unwrap();
    // Every bucket key of the hour destroyed (retention of 1 hour).
    t.clock.advance(3 * HOUR);
    let protections = t.s.active_protections().unwrap();
    let plan =
        t.s.retention_plan(t.clock.now(), |_, _| HOUR, &protections, 100)
            .unwrap();
    let report = t.s.apply_retention(&plan).await.unwrap();
    assert_eq!(report.keys_destroyed, 2);
    assert!(t
        .s
        .db
        .bucket_key(t.cam, ORIGINAL_RENDITION, Time90k(BASE))
        .unwrap()
        .is_none());
    // Kept, read through the lock's key, and still only with a grant.
    lift_err(t.s.segments(t.cam, ORIGINAL_RENDITION, start, end));
    let seq = entry(
        &t.s,
        "u-dpo",
        "mask.lift",
        &format!("camera:{}", t.cam.0),
        t.clock.now(),
    );
    let grant =
        t.s.lift(t.user, t.cam, start, end, seq, 3600 * SEC)
            .unwrap();
    let segs = t.s.original_segments(&grant, start, end).unwrap();
    assert_eq!(segs.len(), media.len());
    assert_eq!(
        *t.s.read_original_media(&grant, &segs[1]).await.unwrap(),
        media[1]
    );
    lift_err(t.s.read_media(&segs[1]).await);
}

#[tokio::test]
async fn a_locked_escrowed_original_still_needs_the_identity() {
    let identity = age::x25519::Identity::generate();
    let t = setup(LiftMode::Escrow(identity.to_public()));
    let media = masked(&t.s, t.cam, BASE, 4).await;
    let (start, end) = (Time90k(BASE), Time90k(BASE + 4 * SEC));
    let now = t.clock.now();
    t.s.create_protection(NewProtection {
        kind: ProtectionKind::Hold,
        cameras: vec![t.cam],
        start,
        end,
        reason: "data subject contests accuracy".into(),
        owner: None,
        created: now,
        review: None,
        release_on_review: false,
        key_version: 1,
    })
    .await
    .unwrap();
    t.clock.advance(3 * HOUR);
    let protections = t.s.active_protections().unwrap();
    let plan =
        t.s.retention_plan(t.clock.now(), |_, _| HOUR, &protections, 100)
            .unwrap();
    t.s.apply_retention(&plan).await.unwrap();
    let seq = entry(
        &t.s,
        "u-dpo",
        "mask.lift",
        &format!("camera:{}", t.cam.0),
        t.clock.now(),
    );
    let grant =
        t.s.lift(t.user, t.cam, start, end, seq, 3600 * SEC)
            .unwrap();
    lift_err(t.s.original_segments(&grant, start, end));
    let grant = grant_again(&t, start, end).with_identity(identity);
    let segs = t.s.original_segments(&grant, start, end).unwrap();
    assert_eq!(
        *t.s.read_original_media(&grant, &segs[0]).await.unwrap(),
        media[0]
    );
}

#[tokio::test]
async fn veil_check_leaves_an_unreadable_original_for_the_lift_path() {
    let t = setup(LiftMode::Server);
    masked(&t.s, t.cam, BASE, 4).await;
    let all = (Time90k(0), Time90k(i64::MAX / 2));
    for r in [PROTECTED_RENDITION, ORIGINAL_RENDITION] {
        let row = t.s.db.segments(t.cam, r, all.0, all.1).unwrap()[0].clone();
        t.s.db.mark_segment(row.id, "missing").unwrap();
    }
    // The protected one is restored; the original stays, and the check
    // does not fail on it.
    assert_eq!(t.s.reverify().await.unwrap(), (1, 1));
}
