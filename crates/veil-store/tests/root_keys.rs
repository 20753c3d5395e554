//! Root key sources and rotation on a real data directory: every wrapped
//! value survives a rotation, the old root is destroyed at its source, a
//! stop at any step leaves a directory that opens and converges at the next
//! run, and an image of the disk taken after deletion and rotation opens
//! nothing of the shredded hour.

mod common;

use common::record;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use veil_base::{CameraId, Clock, SimulatedClock, Time90k, UserId};
use veil_store::crypto::{self, Key};
use veil_store::db::SecondFactorRow;
use veil_store::root::{CommandSource, FileSource, KekSource, RootKeySource};
use veil_store::rotation::{RootEvent, RotationStep};
use veil_store::segment::{bucket_key_aad, BUCKET_90K as HOUR};
use veil_store::{Error, Store, MAIN_RENDITION};

const BASE: i64 = 1_795_000_000 * 90_000 / HOUR * HOUR;
use common::SEC;

fn open(dir: &Path, clock: &SimulatedClock, source: Option<Arc<dyn RootKeySource>>) -> Store {
    try_open(dir, clock, source).unwrap()
}

/// Opens, waiting out the directory lock a moment: a test of this binary
/// that runs a key command forks, and the forked child shares this
/// process's open files (the lock among them) until it executes the
/// command.
fn try_open(
    dir: &Path,
    clock: &SimulatedClock,
    source: Option<Arc<dyn RootKeySource>>,
) -> Result<Store, Error> {
    for _ in 0..100 {
        match veil_store::testing::open_dir_with(dir, Arc::new(clock.clone()), source.clone()) {
            Err(Error::Invalid(m)) if m.contains("in use by another Veil process") => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            r => return r,
        }
    }
    veil_store::testing::open_dir_with(dir, Arc::new(clock.clone()), source)
}

/// What a populated directory holds, to check after a rotation.
struct Fixture {
    camera: CameraId,
    user: UserId,
}

/// Two hours of a camera, sealed camera credentials and a sealed TOTP seed.
async fn populate(s: &Store) -> Fixture {
    let camera =
        s.db.upsert_camera("c", "synthetic", "{}", Time90k(BASE))
            .unwrap();
    for h in 0..2 {
        record(s, camera, BASE + h * HOUR + 60 * SEC, 2).await;
    }
    let sealed = s.keys().seal_camera_secret(camera, b"camera password");
    s.db.set_camera_credentials(camera, Some(&sealed)).unwrap();
    s.db.insert_user("u-1", "alice", "hash", "", Time90k(BASE))
        .unwrap();
    let user = s.db.user_by_name("alice").unwrap().unwrap().id;
    s.db.set_second_factor(
        user,
        &SecondFactorRow {
            totp_sealed: Some(s.keys().seal_user_secret(user, b"seed")),
            totp_pending_sealed: None,
            totp_last_step: None,
            recovery_hashes: "[]".into(),
            exempt: false,
        },
    )
    .unwrap();
    Fixture { camera, user }
}

/// Everything still opens: both hours' media, the credentials, the seed.
async fn readable(s: &Store, f: &Fixture) {
    let segs = s
        .segments(
            f.camera,
            MAIN_RENDITION,
            Time90k(0),
            Time90k(BASE + 3 * HOUR),
        )
        .unwrap();
    assert!(segs.len() >= 2, "{}", segs.len());
    for seg in &segs {
        assert_eq!(
            s.read_media(seg).await.unwrap().len() as u64,
            seg.index.media_bytes()
        );
    }
    let cam = s.db.camera_detail(f.camera).unwrap().unwrap();
    let sealed = cam.sealed_credentials.unwrap();
    assert_eq!(
        s.keys()
            .open_camera_secret(f.camera, &sealed)
            .unwrap()
            .as_slice(),
        b"camera password"
    );
    let sf = s.db.second_factor(f.user).unwrap();
    assert_eq!(
        s.keys()
            .open_user_secret(f.user, sf.totp_sealed.as_deref().unwrap())
            .unwrap()
            .as_slice(),
        b"seed"
    );
}

fn live_versions(s: &Store) -> Vec<u32> {
    s.db.root_key_versions()
        .unwrap()
        .into_iter()
        .filter(|v| v.destroyed.is_none())
        .map(|v| v.version)
        .collect()
}

fn rotate(s: &Store, stop: Option<RotationStep>) -> Vec<RootEvent> {
    let mut events = Vec::new();
    s.rotate_root_until(stop, &mut |e| {
        events.push(e.clone());
        Ok(())
    })
    .unwrap();
    events
}

#[tokio::test]
async fn a_rotation_rewraps_everything_and_destroys_the_old_root_file() {
    let dir = tempfile::tempdir().unwrap();
    let clock = SimulatedClock::new(Time90k(BASE));
    let s = open(dir.path(), &clock, None);
    let f = populate(&s).await;
    assert_eq!(live_versions(&s), [1]);
    let old_root = std::fs::read(dir.path().join("root.key")).unwrap();
    let wrapped_before: Vec<Vec<u8>> = (0..2)
        .map(|h| {
            s.db.bucket_key(f.camera, MAIN_RENDITION, Time90k(BASE + h * HOUR))
                .unwrap()
                .unwrap()
                .1
        })
        .collect();
    assert!(!s.rotation_due(30 * 86_400 * SEC).unwrap());
    clock.advance(30 * 86_400 * SEC);
    assert!(s.rotation_due(30 * 86_400 * SEC).unwrap());

    let mut events = Vec::new();
    let report = s
        .rotate_root(&mut |e| {
            events.push(e.clone());
            Ok(())
        })
        .unwrap();
    assert_eq!((report.from.clone(), report.to), (vec![1], 2));
    assert_eq!(report.destroyed, [1]);
    assert_eq!(
        (
            report.rewrapped.bucket_keys,
            report.rewrapped.cameras,
            report.rewrapped.users
        ),
        (2, 1, 1)
    );
    match &events[0] {
        RootEvent::Rotate {
            from, to, pending, ..
        } => {
            assert_eq!((from.as_slice(), *to), ([1].as_slice(), 2));
            assert_eq!(pending.total(), 4);
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(events[1], RootEvent::Destroy { version: 1 });
    assert!(!dir.path().join("root.key").exists(), "the old root file");
    assert!(dir.path().join("root.2.key").exists());
    assert_eq!(live_versions(&s), [2]);
    assert!(!s.rotation_due(30 * 86_400 * SEC).unwrap());
    readable(&s, &f).await;
    // New writes are wrapped under version 2.
    record(&s, f.camera, BASE + 2 * HOUR + 60 * SEC, 2).await;
    assert_eq!(s.db.rows_at_version(1).unwrap().total(), 0);
    // The re-wrapped keys no longer open under the old root.
    let old = Key::from_bytes(
        hex::decode(String::from_utf8(old_root).unwrap().trim())
            .unwrap()
            .try_into()
            .unwrap(),
    );
    for h in 0..2 {
        let (_, w) =
            s.db.bucket_key(f.camera, MAIN_RENDITION, Time90k(BASE + h * HOUR))
                .unwrap()
                .unwrap();
        assert_ne!(w, wrapped_before[h as usize]);
        let aad = bucket_key_aad(f.camera, MAIN_RENDITION, Time90k(BASE + h * HOUR));
        assert!(crypto::unwrap_key(&old, &aad, &w).is_err());
    }
    drop(s);
    // It reopens on version 2 alone, and a lost version 2 is refused.
    let s = open(dir.path(), &clock, None);
    readable(&s, &f).await;
    drop(s);
    let v2 = dir.path().join("root.2.key");
    let saved = std::fs::read(&v2).unwrap();
    std::fs::remove_file(&v2).unwrap();
    let e = try_open(dir.path(), &clock, None)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains(&v2.display().to_string()) && e.contains("Restore root.2.key"),
        "{e}"
    );
    assert!(!v2.exists() && !dir.path().join("root.key").exists());
    // A wrong version 2 is refused too.
    std::fs::write(&v2, format!("{}\n", "5a".repeat(32))).unwrap();
    std::fs::set_permissions(&v2, std::fs::Permissions::from_mode(0o600)).unwrap();
    let e = try_open(dir.path(), &clock, None)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("is not the key of this database"), "{e}");
    std::fs::write(&v2, saved).unwrap();
    readable(&open(dir.path(), &clock, None), &f).await;
}

#[tokio::test]
async fn a_stop_at_any_step_of_a_rotation_opens_and_converges() {
    for step in [
        RotationStep::SourceCreated,
        RotationStep::Installed,
        RotationStep::FirstBatch,
        RotationStep::Rewrapped,
        RotationStep::Marked,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let clock = SimulatedClock::new(Time90k(BASE));
        let s = open(dir.path(), &clock, None);
        let f = populate(&s).await;
        rotate(&s, Some(step));
        drop(s);
        // The directory opens and everything reads, whatever the step.
        let s = open(dir.path(), &clock, None);
        readable(&s, &f).await;
        assert!(
            s.rotation_due(30 * 86_400 * SEC).unwrap()
                == matches!(
                    step,
                    RotationStep::Installed | RotationStep::FirstBatch | RotationStep::Rewrapped
                ),
            "{step:?}: a rotation stopped after installing its root is due"
        );
        // The next run converges: one live version, old files gone.
        let events = rotate(&s, None);
        assert!(!events.is_empty(), "{step:?}");
        let live = live_versions(&s);
        assert_eq!(live.len(), 1, "{step:?}");
        assert_eq!(s.db.rows_not_at_version(live[0]).unwrap().total(), 0);
        assert!(!dir.path().join("root.key").exists(), "{step:?}");
        let files: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("root."))
            .collect();
        assert_eq!(files, [format!("root.{}.key", live[0])], "{step:?}");
        readable(&s, &f).await;
        drop(s);
        readable(&open(dir.path(), &clock, None), &f).await;
    }
}

#[tokio::test]
async fn a_sealed_root_under_an_operator_key_rotates_and_a_wrong_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let clock = SimulatedClock::new(Time90k(BASE));
    let kek = Key::generate();
    let source = || -> Arc<dyn RootKeySource> {
        Arc::new(KekSource::with_kek(kek.clone(), "test credential", &data))
    };
    let s = open(&data, &clock, Some(source()));
    let f = populate(&s).await;
    assert!(!data.join("root.key").exists());
    assert!(data.join("root.1.sealed").exists());
    rotate(&s, None);
    assert!(!data.join("root.1.sealed").exists());
    assert!(data.join("root.2.sealed").exists());
    readable(&s, &f).await;
    drop(s);
    readable(&open(&data, &clock, Some(source())), &f).await;
    let wrong: Arc<dyn RootKeySource> = Arc::new(KekSource::with_kek(
        Key::generate(),
        "test credential",
        &data,
    ));
    let e = try_open(&data, &clock, Some(wrong))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("test credential does not open"), "{e}");
    assert!(data.join("root.2.sealed").exists(), "nothing replaced");
}

/// A key-management stand-in: keeps each version in a file of its own
/// directory, as a KMS command-line wrapper would call the service.
fn kms_script(dir: &Path) -> std::path::PathBuf {
    let store = dir.join("kms");
    std::fs::create_dir(&store).unwrap();
    let script = dir.join("kms.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nset -e\nf={}/\"$2\"\ncase \"$1\" in\n\
             load) [ -f \"$f\" ] || exit 2; cat \"$f\" ;;\n\
             create) umask 077; cat > \"$f\" ;;\n\
             destroy) rm -f \"$f\" ;;\n\
             *) exit 1 ;;\nesac\n",
            store.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    script
}

#[tokio::test]
async fn a_key_management_command_holds_the_versions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let script = kms_script(dir.path());
    let clock = SimulatedClock::new(Time90k(BASE));
    let source = || -> Arc<dyn RootKeySource> {
        Arc::new(CommandSource::new(vec![script.display().to_string()]).unwrap())
    };
    let s = open(&data, &clock, Some(source()));
    let f = populate(&s).await;
    assert!(dir.path().join("kms/1").exists());
    assert!(!data.join("root.key").exists());
    rotate(&s, None);
    assert!(!dir.path().join("kms/1").exists(), "destroyed at the KMS");
    assert!(dir.path().join("kms/2").exists());
    readable(&s, &f).await;
    drop(s);
    readable(&open(&data, &clock, Some(source())), &f).await;
    // The KMS losing the live version: refused, naming the command.
    std::fs::remove_file(dir.path().join("kms/2")).unwrap();
    let e = try_open(&data, &clock, Some(source()))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("root key command") && e.contains("version 2"),
        "{e}"
    );
    // A failing command is an error, not a missing key.
    let broken: Arc<dyn RootKeySource> =
        Arc::new(CommandSource::new(vec!["/bin/false".into()]).unwrap());
    let e = try_open(&data, &clock, Some(broken)).err().unwrap();
    assert!(
        matches!(e, Error::Invalid(ref m) if m.contains("exit status 1")),
        "{e}"
    );
}

/// Every root key candidate on an image: each run of 64 hex digits in any
/// file (the form root keys are stored in), and every 32-byte window of the
/// small files.
fn root_candidates(files: &[Vec<u8>]) -> Vec<Key> {
    let mut out = Vec::new();
    for bytes in files {
        // Hex text of 64 digits anywhere (the key files).
        let text = String::from_utf8_lossy(bytes);
        for word in text.split(|c: char| !c.is_ascii_hexdigit()) {
            if word.len() == 64 {
                out.push(Key::from_bytes(
                    hex::decode(word).unwrap().try_into().unwrap(),
                ));
            }
        }
        if bytes.len() <= 4096 {
            for w in bytes.windows(32) {
                out.push(Key::from_bytes(w.try_into().unwrap()));
            }
        }
    }
    out
}

/// The disk-image test: record, save the WAL before deletion, destroy the
/// first hour by retention, rotate, then build an image of the directory
/// (every file, plus the saved pre-deletion WAL) and try every root
/// candidate on it against the destroyed hour's wrapped key: nothing opens.
/// The same check on an image taken before the rotation opens it, so the
/// test can fail.
#[tokio::test]
async fn an_image_after_deletion_and_rotation_opens_nothing_of_the_shredded_hour() {
    let dir = tempfile::tempdir().unwrap();
    let clock = SimulatedClock::new(Time90k(BASE));
    let s = open(dir.path(), &clock, None);
    let f = populate(&s).await;
    let (_, shredded) =
        s.db.bucket_key(f.camera, MAIN_RENDITION, Time90k(BASE))
            .unwrap()
            .unwrap();
    let aad = bucket_key_aad(f.camera, MAIN_RENDITION, Time90k(BASE));
    let wal = dir.path().join("veil.db-wal");
    let saved_wal = std::fs::read(&wal).unwrap_or_default();

    clock.advance(3 * HOUR);
    let plan = s
        .retention_plan(clock.now(), |_, _| 2 * HOUR, &[], 100)
        .unwrap();
    assert_eq!(plan.destroy_keys.len(), 1, "the first hour");
    s.apply_retention(&plan).await.unwrap();

    // The image: every file after deletion plus the saved WAL.
    let image = |dir: &Path| -> Vec<Vec<u8>> {
        let mut files: Vec<Vec<u8>> = walk(dir)
            .iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        files.push(saved_wal.clone());
        files
    };
    let opens = |files: &[Vec<u8>]| {
        root_candidates(files)
            .iter()
            .any(|k| crypto::unwrap_key(k, &aad, &shredded).is_ok())
    };
    let before = image(dir.path());
    assert!(!root_candidates(&before).is_empty());
    assert!(
        opens(&before),
        "before the rotation, the old root on the image opens the shredded hour"
    );

    rotate(&s, None);
    drop(s);
    let after = image(dir.path());
    let candidates = root_candidates(&after);
    assert!(!candidates.is_empty(), "the current root is on the image");
    assert!(
        !opens(&after),
        "after the rotation, no root candidate on the image opens the shredded hour"
    );
    // The surviving hour still opens with the current root.
    readable_hour(dir.path(), &clock, f.camera).await;
}

async fn readable_hour(dir: &Path, clock: &SimulatedClock, camera: CameraId) {
    let s = open(dir, clock, None);
    let segs = s
        .segments(camera, MAIN_RENDITION, Time90k(0), Time90k(BASE + 3 * HOUR))
        .unwrap();
    assert_eq!(segs.len(), 1);
    assert!(s.read_media(&segs[0]).await.is_ok());
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_file_source_on_another_medium_is_created_once_and_destroyed_by_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let src = FileSource::new(dir.path());
    assert!(src.load(3).unwrap().is_none());
    let a = src.create(3).unwrap();
    let path = dir.path().join("root.3.key");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Creating again returns the key there, never a new one.
    assert_eq!(src.create(3).unwrap().as_bytes(), a.as_bytes());
    assert_eq!(src.load(3).unwrap().unwrap().as_bytes(), a.as_bytes());
    src.destroy(3).unwrap();
    assert!(!path.exists());
    src.destroy(3).unwrap();
    assert!(src.load(3).unwrap().is_none());
}
