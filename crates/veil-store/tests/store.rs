//! Store behaviour end to end on a real data directory: sealing, reading,
//! crypto-shredding, recovery, corruption handling.

use std::sync::Arc;

use veil_base::{CameraId, SimulatedClock, Time90k};
use veil_media::synthetic::SyntheticConfig;
use veil_store::recorder;
use veil_store::{Error, NewSegment, Store, MAIN_RENDITION};

const T0: i64 = 1_795_000_000 * 90_000; // a fixed instant in 2026

fn store(dir: &std::path::Path) -> Store {
    Store::open_dir(dir, Arc::new(SimulatedClock::new(Time90k(T0)))).unwrap()
}

/// `seconds` of a small synthetic camera (GOP 1 s) in segments of 2 s from `start`.
fn segments(camera: CameraId, start: i64, seconds: u32) -> Vec<NewSegment> {
    let config = SyntheticConfig {
        width: 320,
        height: 240,
        fps: 25,
        gop_frames: 25,
        bitrate_bps: 300_000,
        seed: 1,
    };
    recorder::synthetic_segments(camera, config, Time90k(start), seconds * 25 + 1, 2 * 90_000)
        .unwrap()
}

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

#[tokio::test]
async fn segments_round_trip_and_nothing_plain_touches_disk() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let cam =
        s.db.upsert_camera("c", "synthetic", "{}", Time90k(T0))
            .unwrap();
    let segs = segments(cam, T0, 6);
    assert_eq!(segs.len(), 3);
    for n in &segs {
        s.write_segment(n.clone()).await.unwrap();
    }
    let read = s
        .segments(cam, MAIN_RENDITION, Time90k(T0), Time90k(T0 + 10 * 90_000))
        .unwrap();
    assert_eq!(read.len(), 3);
    for (n, r) in segs.iter().zip(&read) {
        assert_eq!(r.index.samples, n.samples);
        assert_eq!(r.index.params, n.params);
        assert_eq!(s.read_media(r).await.unwrap(), n.media);
    }
    assert_eq!(
        s.runs(cam, MAIN_RENDITION, Time90k(0), Time90k(i64::MAX / 2))
            .unwrap(),
        vec![(Time90k(T0), Time90k(T0 + 6 * 90_000))]
    );
    // No file in the data directory holds any 32-byte window of plaintext media,
    // nor the SPS in the clear (the index is sealed too).
    drop(s);
    let media = &segs[1].media;
    let needles: Vec<&[u8]> = (0..8).map(|k| &media[k * 97..k * 97 + 32]).collect();
    let sps = &segs[0].params.sps;
    for f in all_files(dir.path()) {
        let bytes = std::fs::read(&f).unwrap();
        for n in &needles {
            assert!(
                !bytes.windows(32).any(|w| w == *n),
                "plaintext media in {f:?}"
            );
        }
        assert!(
            !bytes.windows(sps.len()).any(|w| w == sps.as_slice()),
            "plaintext SPS in {f:?}"
        );
    }
}

#[tokio::test]
async fn destroying_a_bucket_key_makes_old_copies_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let cam =
        s.db.upsert_camera("c", "synthetic", "{}", Time90k(T0))
            .unwrap();
    let segs = segments(cam, T0, 2);
    s.write_segment(segs[0].clone()).await.unwrap();
    let seg = s
        .segments(cam, MAIN_RENDITION, Time90k(T0), Time90k(T0 + 90_000))
        .unwrap()
        .remove(0);
    let bucket = seg.row.bucket_key_id.unwrap();
    let wrapped_kek = s.db.bucket_key_by_id(bucket).unwrap().unwrap();
    // A copy of the objects taken before destruction.
    let objects = dir.path().join("objects");
    let copies: Vec<(std::path::PathBuf, Vec<u8>)> = all_files(&objects)
        .into_iter()
        .map(|f| {
            let b = std::fs::read(&f).unwrap();
            (f, b)
        })
        .collect();
    s.keys().destroy(bucket).unwrap();
    // Put the old objects back, as if recovered from free disk blocks.
    for (f, b) in &copies {
        std::fs::write(f, b).unwrap();
    }
    assert!(matches!(s.read_media(&seg).await, Err(Error::KeyDestroyed)));
    assert!(s
        .segments(cam, MAIN_RENDITION, Time90k(T0), Time90k(T0 + 90_000))
        .unwrap()
        .is_empty());
    // The wrapped bucket key is gone from the database file and its WAL
    // (secure_delete overwrote it; the WAL was checkpointed and truncated).
    drop(s);
    for name in ["veil.db", "veil.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(name)) {
            assert!(
                !bytes
                    .windows(wrapped_kek.len())
                    .any(|w| w == wrapped_kek.as_slice()),
                "wrapped bucket key still in {name}"
            );
        }
    }
    // A fresh process with the same root key cannot read it either.
    let s = store(dir.path());
    let rows =
        s.db.segments(cam, MAIN_RENDITION, Time90k(T0), Time90k(T0 + 90_000))
            .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].bucket_key_id, None);
}

#[tokio::test]
async fn recovery_reconciles_objects_and_rows() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let cam =
        s.db.upsert_camera("c", "synthetic", "{}", Time90k(T0))
            .unwrap();
    let segs = segments(cam, T0, 6);
    for n in &segs {
        s.write_segment(n.clone()).await.unwrap();
    }
    let objects = dir.path().join("objects");
    let mut files = all_files(&objects);
    files.sort();
    // A crash after the object but before the row: an orphan.
    let orphan = objects.join("v1/cam1/main/orphan.seg");
    std::fs::write(&orphan, b"sealed bytes").unwrap();
    // A crash in the middle of an object write.
    let partial = objects.join("v1/cam1/main/x.seg.partial");
    std::fs::write(&partial, b"half").unwrap();
    // An object lost (row without object) and one truncated.
    std::fs::remove_file(&files[0]).unwrap();
    let t = std::fs::read(&files[1]).unwrap();
    std::fs::write(&files[1], &t[..t.len() / 2]).unwrap();

    let report = s.recover().await.unwrap();
    assert_eq!(report.orphan_objects_deleted, 1);
    assert_eq!(report.partial_writes_deleted, 1);
    assert_eq!(report.rows_marked_missing, 2);
    assert!(!orphan.exists() && !partial.exists());
    let left = s
        .segments(cam, MAIN_RENDITION, Time90k(0), Time90k(i64::MAX / 2))
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(s.read_media(&left[0]).await.unwrap(), segs[2].media);
    // Idempotent.
    assert_eq!(s.recover().await.unwrap(), Default::default());
    assert_eq!(s.db.integrity_check().unwrap(), "ok");
}

#[tokio::test]
async fn a_corrupt_object_is_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let cam =
        s.db.upsert_camera("c", "synthetic", "{}", Time90k(T0))
            .unwrap();
    for n in segments(cam, T0, 4) {
        s.write_segment(n).await.unwrap();
    }
    let segs = s
        .segments(cam, MAIN_RENDITION, Time90k(0), Time90k(i64::MAX / 2))
        .unwrap();
    let path = dir.path().join("objects").join(&segs[0].row.object_key);
    let mut b = std::fs::read(&path).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0x55;
    std::fs::write(&path, b).unwrap();
    let e = s.read_media(&segs[0]).await.unwrap_err();
    assert!(e.to_string().contains("authentication failed"), "{e}");
    // The other segment still reads, and the corrupt one is no longer listed.
    s.read_media(&segs[1]).await.unwrap();
    let now = s
        .segments(cam, MAIN_RENDITION, Time90k(0), Time90k(i64::MAX / 2))
        .unwrap();
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].row.id, segs[1].row.id);
}

#[tokio::test]
async fn write_rejects_inconsistent_segments() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let cam =
        s.db.upsert_camera("c", "synthetic", "{}", Time90k(T0))
            .unwrap();
    let mut n = segments(cam, T0, 2).remove(0);
    n.media.pop();
    assert!(matches!(s.write_segment(n).await, Err(Error::Invalid(_))));
    let mut n = segments(cam, T0, 2).remove(0);
    n.samples[0].is_key = false;
    assert!(matches!(s.write_segment(n).await, Err(Error::Invalid(_))));
    assert!(all_files(&dir.path().join("objects")).is_empty());
}
