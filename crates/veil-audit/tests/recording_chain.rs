//! The recording chains' heads in the access record: written just before a
//! checkpoint, which signs exactly that entry, and found as an export's
//! anchor.

use std::sync::Arc;
use std::time::Duration;

use veil_audit::{
    parse_chain_heads, recording_anchor, AccessRecord, Action, AuditKey, Checkpointing,
    ClientAddressPolicy, Event,
};
use veil_base::{CameraId, SegmentId, SimulatedClock, Time90k};
use veil_store::db::SegmentRow;
use veil_store::Db;

fn segment(db: &Db, camera: CameraId, n: i64) -> SegmentId {
    db.insert_segment(&SegmentRow {
        id: SegmentId(0),
        camera_id: camera,
        rendition: "main".into(),
        run_start_90k: Time90k(0),
        start_90k: Time90k(n * 180_000),
        duration_90k: 180_000,
        frames: 50,
        media_bytes: 10,
        object_key: format!("o/{}/{n}.seg", camera.0),
        object_bytes: 20,
        bucket_key_id: None,
        wrapped_key: vec![1],
        sealed_index: vec![2],
        mask_version_id: None,
        object_sha256: Some([n as u8; 32]),
    })
    .unwrap()
}

fn record(db: &Db) -> AccessRecord {
    AccessRecord::open(
        db.clone(),
        Arc::new(SimulatedClock::new(Time90k(1_000))),
        ClientAddressPolicy::None,
        Some(Checkpointing {
            key: Arc::new(AuditKey::generate().0),
            every_entries: 1_000_000,
            every: Duration::from_secs(3600),
            sink: None,
        }),
    )
    .unwrap()
}

#[test]
fn changed_heads_are_written_just_before_the_checkpoint_that_signs_them() {
    let db = Db::open_for_tests().unwrap();
    let a = db
        .upsert_camera("a", "synthetic", "{}", Time90k(0))
        .unwrap();
    let b = db
        .upsert_camera("b", "synthetic", "{}", Time90k(0))
        .unwrap();
    for n in 1..=3 {
        segment(&db, a, n);
    }
    segment(&db, b, 1);
    let r = record(&db);
    r.append(Event::new("u1", Action::Login, "session"))
        .unwrap();
    let k = r.checkpoint().unwrap().unwrap();
    let tail = db.audit_entries(k.seq - 1, 10).unwrap();
    assert_eq!(tail.len(), 1, "the checkpoint signs the chain entry itself");
    let e = &tail[0];
    assert_eq!(e.seq, k.seq);
    assert_eq!(
        (e.actor.as_str(), e.action.as_str(), e.resource.as_str()),
        ("system", "recording.chain", "recordings")
    );
    let heads = db.chain_heads().unwrap();
    let parsed = parse_chain_heads(&e.detail).unwrap();
    assert_eq!(
        parsed,
        heads
            .iter()
            .map(|h| (h.camera, h.rendition.clone(), h.seq, h.hash))
            .collect::<Vec<_>>()
    );
    assert_eq!(parsed[0].2, 3);

    // Nothing changed: no new entry, the same checkpoint.
    assert_eq!(r.checkpoint().unwrap().unwrap(), k);

    // Only the chain that moved is named next time.
    segment(&db, b, 2);
    let k2 = r.checkpoint().unwrap().unwrap();
    let e2 = &db.audit_entries(k2.seq - 1, 10).unwrap()[0];
    assert_eq!(e2.seq, k2.seq);
    let p2 = parse_chain_heads(&e2.detail).unwrap();
    assert_eq!(p2.len(), 1);
    assert_eq!((p2[0].0, p2[0].2), (b, 2));
    veil_audit::verify_stored(
        &db,
        &veil_audit::VerifyOptions {
            trusted_key: r.public_key(),
            ..Default::default()
        },
    )
    .unwrap();
}

#[test]
fn an_export_finds_the_earliest_signed_entry_covering_its_links() {
    let db = Db::open_for_tests().unwrap();
    let a = db
        .upsert_camera("a", "synthetic", "{}", Time90k(0))
        .unwrap();
    let r = record(&db);
    segment(&db, a, 1);
    segment(&db, a, 2);
    assert_eq!(recording_anchor(&db, a, "main", 1).unwrap(), None);
    let k1 = r.checkpoint().unwrap().unwrap();
    segment(&db, a, 3);
    // Link 3 is not anchored until the next checkpoint.
    assert_eq!(recording_anchor(&db, a, "main", 3).unwrap(), None);
    let first = recording_anchor(&db, a, "main", 1).unwrap().unwrap();
    assert_eq!(
        (first.entry.seq, first.checkpoint.seq, first.head_seq),
        (k1.seq, k1.seq, 2)
    );
    assert_eq!(first.checkpoint, k1);
    let k2 = r.checkpoint().unwrap().unwrap();
    let third = recording_anchor(&db, a, "main", 3).unwrap().unwrap();
    assert_eq!((third.entry.seq, third.head_seq), (k2.seq, 3));
    let link3 = db.chain_links(a, "main", 3, 3).unwrap().remove(0);
    assert_eq!(third.head_hash, link3.hash);
    // The earliest that covers link 2 is still the first.
    assert_eq!(
        recording_anchor(&db, a, "main", 2)
            .unwrap()
            .unwrap()
            .entry
            .seq,
        k1.seq
    );
    assert_eq!(recording_anchor(&db, a, "main", 4).unwrap(), None);
    assert_eq!(
        recording_anchor(&db, CameraId(99), "main", 1).unwrap(),
        None
    );
}
