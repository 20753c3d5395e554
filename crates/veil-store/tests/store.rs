//! Store behaviour end to end on a real data directory: sealing, reading,
//! crypto-shredding, recovery, corruption handling.

use std::sync::Arc;

use veil_base::{CameraId, SimulatedClock, Time90k};
use veil_media::synthetic::SyntheticConfig;
use veil_store::db::RawValue;
use veil_store::recorder;
use veil_store::{Error, NewSegment, Store, MAIN_RENDITION};

const T0: i64 = 1_795_000_000 * 90_000; // a fixed instant in 2026

fn store(dir: &std::path::Path) -> Store {
    veil_store::testing::open_dir(dir, Arc::new(SimulatedClock::new(Time90k(T0)))).unwrap()
}

/// [`store`] on SQLite whatever the backend of the run, for the reason `why`.
fn sqlite_store(dir: &std::path::Path, why: &str) -> Store {
    veil_store::testing::open_dir_sqlite_only(dir, Arc::new(SimulatedClock::new(Time90k(T0))), why)
        .unwrap()
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

/// Every file under `dir` but the object directory's marker.
fn all_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else if p.file_name() != Some(std::ffi::OsStr::new(veil_store::objects::MARKER)) {
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
        assert_eq!(*s.read_media(r).await.unwrap(), n.media);
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
    let orphan = objects.join("v1/cam1/main/2026010100/0000000000000000-00000000000000aa.seg");
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"sealed bytes").unwrap();
    // A crash in the middle of an object write.
    let partial =
        objects.join("v1/cam1/main/2026010100/0000000000000000-00000000000000bb.seg.partial");
    std::fs::write(&partial, b"half").unwrap();
    // Not of the shape Veil writes: left alone.
    let foreign = objects.join("v1/cam1/main/notes.txt");
    std::fs::write(&foreign, b"an operator's note").unwrap();
    // An object lost (row without object) and one truncated.
    std::fs::remove_file(&files[0]).unwrap();
    let t = std::fs::read(&files[1]).unwrap();
    std::fs::write(&files[1], &t[..t.len() / 2]).unwrap();

    let report = s.recover().await.unwrap();
    assert_eq!(report.orphan_objects_deleted, 1);
    assert_eq!(report.partial_writes_deleted, 1);
    assert_eq!(report.rows_marked_missing, 2);
    assert!(!orphan.exists() && !partial.exists());
    assert!(foreign.exists());
    let left = s
        .segments(cam, MAIN_RENDITION, Time90k(0), Time90k(i64::MAX / 2))
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(*s.read_media(&left[0]).await.unwrap(), segs[2].media);
    // Idempotent.
    assert_eq!(s.recover().await.unwrap(), Default::default());
    assert_eq!(s.db.integrity_check().unwrap(), "ok");
}

/// A new database pointed at another installation's object directory is
/// refused before recovery could delete that installation's objects.
#[tokio::test]
async fn another_installations_object_directory_is_refused() {
    let a = tempfile::tempdir().unwrap();
    recorded(a.path(), 4).await;
    let b = tempfile::tempdir().unwrap();
    let b = b.path().join("data");
    // B's data directory on A's objects (e.g. a shared volume).
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(0o700).create(&b).unwrap();
    std::os::unix::fs::symlink(a.path().join("objects"), b.join("objects")).unwrap();
    let before = all_files(&a.path().join("objects"));
    let e = reopen_err(&b);
    assert!(e.contains("another Veil installation"), "{e}");
    assert_eq!(all_files(&a.path().join("objects")), before);
    // A itself still opens and recovers nothing.
    let s = store(a.path());
    assert_eq!(s.recover().await.unwrap(), Default::default());
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

/// A data directory with camera 1 ("c") recorded for `seconds` from T0,
/// closed again; returns the camera.
async fn recorded(dir: &std::path::Path, seconds: u32) -> CameraId {
    let s = store(dir);
    let cam =
        s.db.upsert_camera("c", "synthetic", "{}", Time90k(T0))
            .unwrap();
    for n in segments(cam, T0, seconds) {
        s.write_segment(n).await.unwrap();
    }
    cam
}

/// The error of opening the data directory again.
fn reopen_err(dir: &std::path::Path) -> String {
    reopen_err_on(dir, None)
}

/// [`reopen_err`] on SQLite whatever the backend of the run, for the reason
/// `sqlite_only` gives.
fn reopen_err_on(dir: &std::path::Path, sqlite_only: Option<&str>) -> String {
    let clock = Arc::new(SimulatedClock::new(Time90k(T0)));
    let opened = match sqlite_only {
        None => veil_store::testing::open_dir(dir, clock),
        Some(why) => veil_store::testing::open_dir_sqlite_only(dir, clock, why),
    };
    match opened {
        Ok(_) => panic!("the data directory opened"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn a_missing_or_wrong_root_key_is_refused_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("root.key");
    recorded(dir.path(), 2).await;
    let original = std::fs::read(&key_file).unwrap();
    // Lost: refused, naming the file, and no new key is made.
    std::fs::remove_file(&key_file).unwrap();
    let e = reopen_err(dir.path());
    assert!(e.contains(&key_file.display().to_string()), "{e}");
    assert!(e.contains("Restore root.key"), "{e}");
    assert!(!key_file.exists(), "a new root key was created");
    // Another key: refused by the check value.
    let other = format!("{}\n", "ab".repeat(32));
    veil_store::keys::create_secret_file(&key_file, other.as_bytes()).unwrap();
    let e = reopen_err(dir.path());
    assert!(e.contains("is not the key of this database"), "{e}");
    // The right key opens, and every segment still plays.
    std::fs::remove_file(&key_file).unwrap();
    veil_store::keys::create_secret_file(&key_file, &original).unwrap();
    let s = store(dir.path());
    let segs = s
        .segments(
            CameraId(1),
            MAIN_RENDITION,
            Time90k(0),
            Time90k(i64::MAX / 2),
        )
        .unwrap();
    assert_eq!(segs.len(), 1);
    s.read_media(&segs[0]).await.unwrap();
}

#[tokio::test]
async fn a_database_without_check_value_is_checked_against_its_bucket_keys() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("root.key");
    recorded(dir.path(), 2).await;
    // As written by a version before check values (or copied from one).
    let s = store(dir.path());
    assert_eq!(
        s.db.tamper_for_tests("DELETE FROM setting WHERE key = 'root_key_check'", &[])
            .unwrap(),
        1
    );
    drop(s);
    std::fs::remove_file(&key_file).unwrap();
    veil_store::keys::create_secret_file(&key_file, format!("{}\n", "cd".repeat(32)).as_bytes())
        .unwrap();
    let e = reopen_err(dir.path());
    assert!(e.contains("is not the key of this database"), "{e}");
}

#[tokio::test]
async fn a_shared_data_directory_or_database_is_refused_with_the_chmod() {
    use std::os::unix::fs::PermissionsExt;
    const WHY: &str = "checks the modes of SQLite's database file";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    drop(sqlite_store(&data, WHY));
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data.join("veil.db")), 0o600);
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let e = reopen_err_on(&data, Some(WHY));
    assert!(e.contains(&format!("chmod 700 {}", data.display())), "{e}");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let db = data.join("veil.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o640)).unwrap();
    let e = reopen_err_on(&data, Some(WHY));
    assert!(e.contains(&format!("chmod 600 {}", db.display())), "{e}");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    drop(sqlite_store(&data, WHY));
    // A new installation: an empty shared directory is made private; one
    // already holding someone's files is refused, not changed.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o755)).unwrap();
    drop(sqlite_store(&empty, WHY));
    assert_eq!(mode(&empty), 0o700);
    let used = dir.path().join("used");
    std::fs::create_dir(&used).unwrap();
    std::fs::write(used.join("notes.txt"), b"x").unwrap();
    std::fs::set_permissions(&used, std::fs::Permissions::from_mode(0o755)).unwrap();
    let e = reopen_err_on(&used, Some(WHY));
    assert!(e.contains("chmod 700"), "{e}");
    assert_eq!(mode(&used), 0o755);
}

/// An unmounted (empty) object directory stops the start instead of
/// marking every segment missing; a transient fault changes no state; and
/// `reverify` restores segments whose objects come back.
#[tokio::test]
async fn transient_faults_never_become_permanent_states() {
    let dir = tempfile::tempdir().unwrap();
    let objects = dir.path().join("objects");
    let cam = recorded(dir.path(), 6).await;
    // The volume is "unmounted": the directory is there and empty.
    let aside = dir.path().join("objects-aside");
    std::fs::rename(&objects, &aside).unwrap();
    std::fs::create_dir(&objects).unwrap();
    let e = reopen_err(dir.path());
    assert!(e.contains("mounted"), "{e}");
    std::fs::remove_dir(&objects).unwrap();
    std::fs::rename(&aside, &objects).unwrap();

    let s = store(dir.path());
    let all = |s: &Store| {
        s.segments(cam, MAIN_RENDITION, Time90k(0), Time90k(i64::MAX / 2))
            .unwrap()
    };
    let segs = all(&s);
    assert_eq!(segs.len(), 3);
    // Unmounted while running: reads fail, nothing is marked.
    std::fs::rename(&objects, &aside).unwrap();
    std::fs::create_dir(&objects).unwrap();
    let e = s.read_media(&segs[0]).await.unwrap_err();
    assert!(matches!(e, Error::Unavailable(_)), "{e}");
    assert!(matches!(s.recover().await, Err(Error::Unavailable(_))));
    std::fs::remove_dir(&objects).unwrap();
    std::fs::rename(&aside, &objects).unwrap();
    assert_eq!(all(&s).len(), 3, "a transient fault marked segments");

    // A bucket key that does not open (altered, or a root-key fault) is an
    // error for the caller and marks nothing.
    let rows =
        s.db.raw_query_for_tests("SELECT wrapped FROM bucket_key", &[])
            .unwrap();
    let [row] = &rows[..] else {
        panic!("one bucket key: {rows:?}")
    };
    let [RawValue::Blob(wrapped)] = &row[..] else {
        panic!("{row:?}")
    };
    let wrapped = wrapped.clone();
    s.db.tamper_for_tests(
        "UPDATE bucket_key SET wrapped = ?1",
        &[RawValue::Blob(vec![0u8; wrapped.len()])],
    )
    .unwrap();
    let e = s
        .segments(cam, MAIN_RENDITION, Time90k(0), Time90k(i64::MAX / 2))
        .unwrap_err();
    assert!(matches!(e, Error::Corrupt(_)), "{e}");
    s.db.tamper_for_tests(
        "UPDATE bucket_key SET wrapped = ?1",
        &[RawValue::Blob(wrapped)],
    )
    .unwrap();
    assert_eq!(all(&s).len(), 3, "a bucket-key fault marked segments");

    // Really absent and really altered objects are marked; check restores
    // them once they are back.
    let path0 = objects.join(&segs[0].row.object_key);
    let path1 = objects.join(&segs[1].row.object_key);
    let (saved0, saved1) = (
        std::fs::read(&path0).unwrap(),
        std::fs::read(&path1).unwrap(),
    );
    std::fs::remove_file(&path0).unwrap();
    assert!(matches!(
        s.read_media(&segs[0]).await,
        Err(Error::NotFound(_))
    ));
    let mut bad = saved1.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    std::fs::write(&path1, &bad).unwrap();
    assert!(matches!(
        s.read_media(&segs[1]).await,
        Err(Error::Corrupt(_))
    ));
    assert_eq!(all(&s).len(), 1);
    assert_eq!(s.reverify().await.unwrap(), (0, 2));
    std::fs::write(&path0, &saved0).unwrap();
    std::fs::write(&path1, &saved1).unwrap();
    assert_eq!(s.reverify().await.unwrap(), (2, 0));
    let back = all(&s);
    assert_eq!(back.len(), 3);
    s.read_media(&back[0]).await.unwrap();
}

#[tokio::test]
async fn an_insert_of_unknown_outcome_keeps_the_object_and_a_refused_one_deletes_it() {
    let dir = tempfile::tempdir().unwrap();
    // A trigger stands in for a failure the database reports.
    let s = sqlite_store(dir.path(), "a trigger makes the insert fail");
    let cam =
        s.db.upsert_camera("c", "synthetic", "{}", Time90k(T0))
            .unwrap();
    let segs = segments(cam, T0, 4);
    let objects = dir.path().join("objects");
    let rows = |s: &Store| {
        s.segments(cam, MAIN_RENDITION, Time90k(0), Time90k(i64::MAX / 2))
            .unwrap()
            .len()
    };

    // Not a certain refusal (it could be a connection lost after the
    // commit): the row may still land, so the object stays for recovery.
    s.db.raw_query_for_tests(
        "CREATE TRIGGER fail_insert BEFORE INSERT ON segment \
         BEGIN SELECT RAISE(ABORT, 'connection lost'); END",
        &[],
    )
    .unwrap();
    let e = s.write_segment(segs[0].clone()).await.unwrap_err();
    assert!(e.to_string().contains("connection lost"), "{e}");
    assert_eq!(rows(&s), 0);
    assert_eq!(all_files(&objects).len(), 1, "the object is kept");

    // A constraint the database refused: no row can exist, the object goes.
    s.db.raw_query_for_tests("DROP TRIGGER fail_insert", &[])
        .unwrap();
    s.db.raw_query_for_tests(
        "CREATE TRIGGER refuse_insert BEFORE INSERT ON segment \
         BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: test'); END",
        &[],
    )
    .unwrap();
    let e = s.write_segment(segs[1].clone()).await.unwrap_err();
    assert!(e.to_string().contains("constraint"), "{e}");
    assert_eq!(rows(&s), 0);
    assert_eq!(
        all_files(&objects).len(),
        1,
        "only the first object is left"
    );
}
