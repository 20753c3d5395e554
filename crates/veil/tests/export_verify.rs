//! `veil export verify` as a recipient runs it, without a server: packages
//! built with `veil_export::package` from a store of a few seconds of
//! synthetic video, then checked by the binary. A good package exits 0 and
//! says it verifies (passphrase, age identity file, the sender's key given
//! with `--public-key`); another key, a wrong passphrase or one flipped byte
//! in a video or in `README.txt` exits 1 naming what failed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use veil_audit::{AccessRecord, AuditKey, Checkpointing, ClientAddressPolicy};
use veil_base::{SimulatedClock, Time90k, TIME_UNITS_PER_SEC};
use veil_export::package::{self, CameraRequest, Encryption};
use veil_export::ExportKey;
use veil_media::synthetic::SyntheticConfig;
use veil_store::{recorder, Store};

const START: i64 = 1_795_000_000 * 90_000;
/// 8 s of 25 fps video in 2 s segments (the last, open one is not stored).
const FRAMES: u32 = 200;
const SEGMENT_90K: i64 = 2 * TIME_UNITS_PER_SEC;

/// A data directory with a camera's recording, its chain's head signed in
/// the access record, and an export key; makes packages of it.
struct Recorded {
    _dir: tempfile::TempDir,
    path: PathBuf,
    rt: tokio::runtime::Runtime,
    store: Store,
    audit: AccessRecord,
    key: ExportKey,
    request: package::Request,
}

impl Recorded {
    fn new() -> Recorded {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let clock = Arc::new(SimulatedClock::new(Time90k(START)));
        let store = Store::open_dir(&path.join("data"), clock.clone()).unwrap();
        let cam = store
            .db
            .upsert_camera("door", "synthetic", "{}", Time90k(START))
            .unwrap();
        let config = SyntheticConfig {
            width: 160,
            height: 120,
            fps: 25,
            gop_frames: 25,
            bitrate_bps: 100_000,
            seed: 7,
        };
        let segments =
            recorder::synthetic_segments(cam, config, Time90k(START), FRAMES, SEGMENT_90K).unwrap();
        assert!(segments.len() >= 3, "{} segments", segments.len());
        for s in segments {
            rt.block_on(store.write_segment(s)).unwrap();
        }
        clock.advance(60 * TIME_UNITS_PER_SEC);
        let audit = AccessRecord::open(
            store.db.clone(),
            clock.clone(),
            ClientAddressPolicy::Full,
            Some(Checkpointing {
                key: Arc::new(AuditKey::generate().0),
                every_entries: 1000,
                every: Duration::from_secs(3600),
                sink: None,
            }),
        )
        .unwrap();
        audit.checkpoint().unwrap().unwrap();
        let now = Time90k(START + 60 * TIME_UNITS_PER_SEC);
        let request = package::Request {
            package_id: format!("{:032x}", 0x5eed_u128),
            system_id: store.system_id().unwrap(),
            created: now,
            creator: "u-test".into(),
            authorised_by: vec!["u-test".into()],
            expires: Time90k(now.0 + 86_400 * TIME_UNITS_PER_SEC),
            cameras: vec![CameraRequest {
                id: cam,
                name: "Door".into(),
                area: "private".into(),
                purposes: vec!["security".into()],
                intervals: vec![(Time90k(START), Time90k(START + 8 * TIME_UNITS_PER_SEC))],
            }],
            excluded: Vec::new(),
            lift: HashMap::new(),
            redactions: Vec::new(),
            within_intervals: false,
        };
        Recorded {
            _dir: dir,
            path,
            rt,
            store,
            audit,
            key: ExportKey::generate(),
            request,
        }
    }

    /// Writes the package to `name` in the test directory; returns its path
    /// and the path of its (one) video inside the package.
    fn package(&self, name: &str, encryption: Encryption) -> (PathBuf, String) {
        let plan = package::plan(&self.store, &self.request).unwrap();
        let cx = package::Env {
            store: &self.store,
            handle: self.rt.handle(),
            key: &self.key,
            audit_public_key: self.audit.public_key().unwrap(),
        };
        let file = std::fs::File::create(self.path.join(name)).unwrap();
        let (_, written) =
            package::write(&cx, &self.request, &plan, encryption, file, &mut |_| {}).unwrap();
        let videos: Vec<String> = written
            .manifest
            .files
            .iter()
            .filter(|f| f.kind == "video")
            .map(|f| f.path.clone())
            .collect();
        assert_eq!(videos.len(), 1, "{videos:?}");
        (self.path.join(name), videos[0].clone())
    }

    /// A file in the test directory holding `text`.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

/// Runs `veil export verify PACKAGE ARGS…`: (exit code, stdout and stderr).
fn verify(package: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(["export", "verify"])
        .arg(package)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

const VERIFIES: &str = "result: the package verifies";

#[test]
fn a_passphrase_package_verifies_with_its_passphrase_and_the_senders_key_only() {
    let r = Recorded::new();
    let passphrase = "correct horse battery staple";
    let (pkg, video) = r.package(
        "p.tar.age",
        Encryption::Passphrase(passphrase.to_owned().into()),
    );
    let good = r.file("pass.txt", &format!("{passphrase}\n"));
    let good = good.to_str().unwrap();

    let (code, text) = verify(&pkg, &["--passphrase-file", good]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(VERIFIES), "{text}");
    assert!(text.contains("encrypted: yes (age)"), "{text}");
    assert!(text.contains(&format!("  {video}: camera ")), "{text}");
    assert!(
        text.contains("the key inside the package: compare its fingerprint"),
        "{text}"
    );
    assert!(text.contains(&r.key.fingerprint()), "{text}");

    // The sender's key given by another channel: the export-key.pub line,
    // as text and as a file.
    let line = format!("{} export@{}", r.key.public_openssh(), r.request.system_id);
    let key_file = r.file("export-key.pub", &format!("{line}\n"));
    for key in [line.as_str(), key_file.to_str().unwrap()] {
        let (code, text) = verify(&pkg, &["--passphrase-file", good, "--public-key", key]);
        assert_eq!(code, 0, "{text}");
        assert!(text.contains(VERIFIES), "{text}");
        assert!(text.contains("(the key you gave)"), "{text}");
    }

    // Another key: the signature is named, nothing verifies.
    let other = ExportKey::generate().public_openssh();
    let (code, text) = verify(&pkg, &["--passphrase-file", good, "--public-key", &other]);
    assert_eq!(code, 1, "{text}");
    assert!(!text.contains(VERIFIES), "{text}");
    assert!(
        text.contains("FAILED: manifest.json:") && text.contains("signature"),
        "{text}"
    );
    assert!(text.contains("signed by another key"), "{text}");

    // A wrong passphrase cannot decrypt it.
    let wrong = r.file("wrong.txt", "incorrect horse\n");
    let (code, text) = verify(&pkg, &["--passphrase-file", wrong.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("cannot decrypt the package"), "{text}");
    assert!(!text.contains(VERIFIES), "{text}");

    // No way to decrypt given at all.
    let (code, text) = verify(&pkg, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("the package is encrypted"), "{text}");
}

/// Where `needle` first occurs in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn a_flipped_byte_in_an_unencrypted_package_names_its_file() {
    let r = Recorded::new();
    let (pkg, video) = r.package("u.tar", Encryption::None);
    let (code, text) = verify(&pkg, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(VERIFIES), "{text}");
    assert!(text.contains("encrypted: no"), "{text}");
    let original = std::fs::read(&pkg).unwrap();

    // A byte inside the MP4's data: a little after its `ftyp` box, and
    // still inside the entry (the MP4 is many kilobytes; the next tar
    // header is after it).
    let ftyp = find(&original, b"ftyp").expect("the package holds an MP4");
    let at = ftyp + 2000;
    let mut bytes = original.clone();
    bytes[at] ^= 0x01;
    let tampered = r.path.join("video-flipped.tar");
    std::fs::write(&tampered, &bytes).unwrap();
    let (code, text) = verify(&tampered, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!("FAILED: {video}: changed")),
        "{text}"
    );
    assert!(!text.contains(VERIFIES), "{text}");

    // README.txt is the first entry: its data follows the first 512-byte
    // header.
    let name_field = &original[..100];
    let name =
        String::from_utf8_lossy(&name_field[..find(name_field, b"\0").unwrap_or(100)]).into_owned();
    assert!(name.ends_with("/README.txt"), "first entry is {name}");
    let mut bytes = original.clone();
    bytes[512 + 10] ^= 0x20;
    let tampered = r.path.join("readme-flipped.tar");
    std::fs::write(&tampered, &bytes).unwrap();
    let (code, text) = verify(&tampered, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAILED: README.txt: changed"), "{text}");
}

#[test]
fn a_package_for_an_age_identity_verifies_with_the_identity_file() {
    let r = Recorded::new();
    let key = r.path.join("key.txt");
    let out = Command::new("age-keygen").arg("-o").arg(&key).output();
    let out = match out {
        Ok(o) => o,
        Err(e) => panic!("age-keygen (the age CLI, installed by scripts/test) cannot run: {e}"),
    };
    assert!(out.status.success(), "{out:?}");
    let public = Command::new("age-keygen")
        .arg("-y")
        .arg(&key)
        .output()
        .unwrap();
    assert!(public.status.success(), "{public:?}");
    let public = String::from_utf8(public.stdout).unwrap().trim().to_owned();
    assert!(public.starts_with("age1"), "{public}");
    let recipients = package::parse_recipients(&[public]).unwrap();
    let (pkg, video) = r.package("i.tar.age", Encryption::Recipients(recipients));

    let (code, text) = verify(&pkg, &["--identity", key.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(VERIFIES), "{text}");
    assert!(text.contains(&format!("  {video}: camera ")), "{text}");

    // Someone else's identity cannot decrypt it.
    let other = r.path.join("other.txt");
    assert!(Command::new("age-keygen")
        .arg("-o")
        .arg(&other)
        .output()
        .unwrap()
        .status
        .success());
    let (code, text) = verify(&pkg, &["--identity", other.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("cannot decrypt the package"), "{text}");
}

/// A data subject's package holds nothing before the marked interval: an
/// interval starting inside a GOP is cut at the next keyframe, where an
/// ordinary export starts at the keyframe before (to show its start).
#[test]
fn a_package_within_its_intervals_starts_at_the_next_keyframe() {
    let mut r = Recorded::new();
    // 1.5 s in: keyframes every second (25 frames at 25 fps).
    let (a, b) = (
        Time90k(START + 135_000),
        Time90k(START + 6 * TIME_UNITS_PER_SEC),
    );
    r.request.cameras[0].intervals = vec![(a, b)];
    let plan = package::plan(&r.store, &r.request).unwrap();
    assert_eq!(plan.files.len(), 1);
    assert_eq!(plan.files[0].mp4.start_90k, Time90k(START + 90_000));
    r.request.within_intervals = true;
    let plan = package::plan(&r.store, &r.request).unwrap();
    assert_eq!(plan.files.len(), 1);
    assert_eq!(plan.files[0].mp4.start_90k, Time90k(START + 180_000));
}
