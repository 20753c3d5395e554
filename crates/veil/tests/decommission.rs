//! `veil keys rotate` and `veil decommission camera|installation` on data
//! directories recorded by `veil demo`: the keys, rows and objects are gone,
//! the access record says so, and the signed erasure certificate verifies
//! with `openssl` (and fails with one byte changed).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{run_veil, Demo};

fn segment_files(dir: &Path) -> usize {
    fn walk(p: &Path, n: &mut usize) {
        for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, n);
            } else if p.extension().is_some_and(|e| e == "seg") {
                *n += 1;
            }
        }
    }
    let mut n = 0;
    walk(&dir.join("objects"), &mut n);
    n
}

fn db(data: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(data.join("veil.db")).unwrap()
}

fn count(data: &Path, sql: &str) -> i64 {
    db(data).query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Records until every camera has segments in two rows at least, then stops.
fn record(data: &Path, cameras: u32) {
    let mut demo = Demo::start(data, cameras, &["--segment-seconds", "1"]);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let ok = data.join("veil.db").exists()
            && count(
                data,
                "SELECT COUNT(*) FROM (SELECT camera_id FROM segment GROUP BY camera_id
                 HAVING COUNT(*) >= 2)",
            ) == i64::from(cameras);
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "no segments:\n{}", demo.output());
        std::thread::sleep(Duration::from_millis(200));
    }
    demo.kill();
}

/// `openssl pkeyutl -verify` on a certificate directory's three files.
fn openssl_verifies(dir: &Path) -> bool {
    let out = std::process::Command::new("openssl")
        .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
        .arg(dir.join("cert.pub.pem"))
        .arg("-rawin")
        .arg("-in")
        .arg(dir.join("certificate.json"))
        .arg("-sigfile")
        .arg(dir.join("certificate.sig"))
        .output()
        .expect("openssl runs");
    out.status.success()
}

/// Verifies, then fails with one byte of the certificate changed.
fn check_signature(dir: &Path) -> serde_json::Value {
    assert!(openssl_verifies(dir), "the certificate does not verify");
    let path = dir.join("certificate.json");
    let original = std::fs::read(&path).unwrap();
    let mut changed = original.clone();
    let at = changed.iter().position(|&b| b == b'1').unwrap_or(10);
    changed[at] ^= 0x01;
    std::fs::write(&path, &changed).unwrap();
    assert!(!openssl_verifies(dir), "a changed certificate verified");
    std::fs::write(&path, &original).unwrap();
    assert!(openssl_verifies(dir));
    serde_json::from_slice(&original).unwrap()
}

fn certificate_dir(out: &str) -> PathBuf {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("certificate: "))
        .unwrap_or_else(|| panic!("no certificate line:\n{out}"));
    PathBuf::from(line)
}

#[test]
fn decommissioning_a_camera_destroys_its_keys_and_recordings_and_signs_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    record(&data, 2);
    let keys_of_1 = count(&data, "SELECT COUNT(*) FROM bucket_key WHERE camera_id = 1");
    let segs_of_1 = count(&data, "SELECT COUNT(*) FROM segment WHERE camera_id = 1");
    let segs_of_2 = count(&data, "SELECT COUNT(*) FROM segment WHERE camera_id = 2");
    assert!(keys_of_1 >= 1 && segs_of_1 >= 2 && segs_of_2 >= 2);
    let files_before = segment_files(&data);

    // Without an operator, or for an unknown camera: refused, nothing changed.
    let (ok, _) = run_veil(&["decommission", "camera", "1", "--data", d]);
    assert!(!ok);
    let (ok, out) = run_veil(&[
        "decommission",
        "camera",
        "99",
        "--data",
        d,
        "--operator",
        "Ana Lima",
    ]);
    assert!(!ok && out.contains("no camera has id 99"), "{out}");
    assert_eq!(segment_files(&data), files_before);

    let extra = dir.path().join("handed-to-the-controller");
    let (ok, out) = run_veil(&[
        "decommission",
        "camera",
        "1",
        "--data",
        d,
        "--operator",
        "Ana Lima",
        "--certificate",
        extra.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    assert_eq!(
        count(&data, "SELECT COUNT(*) FROM bucket_key WHERE camera_id = 1"),
        0
    );
    assert_eq!(
        count(&data, "SELECT COUNT(*) FROM segment WHERE camera_id = 1"),
        0
    );
    assert_eq!(
        count(&data, "SELECT COUNT(*) FROM segment WHERE camera_id = 2"),
        segs_of_2
    );
    assert_eq!(
        count(
            &data,
            "SELECT COUNT(*) FROM camera WHERE id = 1 AND deleted_90k IS NOT NULL
             AND sealed_credentials IS NULL"
        ),
        1
    );
    assert_eq!(segment_files(&data) as i64, segs_of_2);
    // Recorded first, by the command line, naming the operator.
    let (action, detail): (String, String) = db(&data)
        .query_row(
            "SELECT action, detail FROM audit WHERE resource = 'camera:1'
             ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(action, "decommission.camera");
    assert!(detail.contains("Ana Lima"), "{detail}");

    // The certificate beside the data and the copy both verify.
    let beside = certificate_dir(&out);
    assert!(beside.starts_with(&data), "{}", beside.display());
    for c in [beside, extra] {
        let cert = check_signature(&c);
        assert_eq!(cert["format"], "veil-erasure-certificate/v1");
        assert_eq!(cert["scope"], "camera");
        assert_eq!(cert["subject"]["camera_id"], 1);
        assert_eq!(cert["operator"], "Ana Lima");
        assert!(cert["system_id"].as_str().unwrap().starts_with("veil-"));
        assert_eq!(
            cert["bucket_keys_destroyed"].as_array().unwrap().len() as i64,
            keys_of_1
        );
        assert_eq!(cert["counts"]["segments"], segs_of_1);
        assert_eq!(cert["root_versions_destroyed"], serde_json::json!([]));
    }
    // The directory still opens; the access record verifies.
    let (ok, out) = run_veil(&["check", "--data", d]);
    assert!(ok, "{out}");
    let (ok, out) = run_veil(&["audit", "verify", "--data", d]);
    assert!(ok, "{out}");
}

#[test]
fn rotating_then_decommissioning_the_installation_destroys_every_root_version() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    record(&data, 1);
    let keys = count(&data, "SELECT COUNT(*) FROM bucket_key");

    // A rotation on demand: version 2, root.key shredded, still opens.
    let (ok, out) = run_veil(&["keys", "rotate", "--data", d]);
    assert!(ok, "{out}");
    assert!(out.contains("from version 1 to 2"), "{out}");
    assert!(
        out.contains(&format!("re-wrapped: {keys} bucket keys")),
        "{out}"
    );
    assert!(!data.join("root.key").exists() && data.join("root.2.key").exists());
    let (ok, out) = run_veil(&["keys", "status", "--data", d]);
    assert!(ok, "{out}");
    assert!(
        out.contains("version 1 created") && out.contains("destroyed"),
        "{out}"
    );
    assert!(
        out.contains("version 2 created") && out.contains("live"),
        "{out}"
    );
    let (ok, out) = run_veil(&["check", "--data", d]);
    assert!(ok && out.contains("segments still unreadable: 0"), "{out}");
    let rotations = count(
        &data,
        "SELECT COUNT(*) FROM audit WHERE action IN ('keys.rotate', 'keys.root_destroy')",
    );
    assert_eq!(rotations, 2);

    // Without the confirmation, or with the certificate inside the data
    // directory: refused, nothing changed.
    let out_dir = dir.path().join("certificate");
    let o = out_dir.to_str().unwrap();
    let (ok, out) = run_veil(&[
        "decommission",
        "installation",
        "--data",
        d,
        "--certificate",
        o,
        "--operator",
        "Rui",
    ]);
    assert!(!ok && out.contains("--yes-destroy-everything"), "{out}");
    let inside = data.join("cert");
    let (ok, out) = run_veil(&[
        "decommission",
        "installation",
        "--data",
        d,
        "--certificate",
        inside.to_str().unwrap(),
        "--operator",
        "Rui",
        "--yes-destroy-everything",
    ]);
    assert!(!ok && out.contains("inside the data directory"), "{out}");
    assert!(data.join("root.2.key").exists() && segment_files(&data) > 0);
    // A stored export package and the export key go too.
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(data.join("exports"))
            .unwrap();
        // (The server made the export key at its first start.)
        assert!(data.join("export.key").exists());
        use std::io::Write;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(data.join("exports/0123abcd.tar.age"))
            .unwrap()
            .write_all(b"a stored copy")
            .unwrap();
    }
    // An object a crash left without its row is deleted too.
    db(&data)
        .execute(
            "DELETE FROM segment WHERE id = (SELECT MAX(id) FROM segment)",
            [],
        )
        .unwrap();

    let (ok, out) = run_veil(&[
        "decommission",
        "installation",
        "--data",
        d,
        "--certificate",
        o,
        "--operator",
        "Rui",
        "--yes-destroy-everything",
    ]);
    assert!(ok, "{out}");
    assert_eq!(segment_files(&data), 0);
    assert_eq!(count(&data, "SELECT COUNT(*) FROM bucket_key"), 0);
    assert_eq!(count(&data, "SELECT COUNT(*) FROM segment"), 0);
    for f in [
        "root.key",
        "root.2.key",
        "erasure.key",
        "export.key",
        "exports/0123abcd.tar.age",
    ] {
        assert!(!data.join(f).exists(), "{f} survived");
    }
    let cert = check_signature(&out_dir);
    assert_eq!(cert["scope"], "installation");
    assert_eq!(cert["operator"], "Rui");
    assert_eq!(cert["root_versions_destroyed"], serde_json::json!([2]));
    assert_eq!(cert["counts"]["leftover_objects"], 1);
    assert_eq!(cert["counts"]["export_packages"], 1);
    assert_eq!(
        cert["bucket_keys_destroyed"].as_array().unwrap().len() as i64,
        keys
    );
    assert_eq!(cert["subject"]["cameras"][0]["camera_name"], "Synthetic 1");
    // Nothing opens any more, and no key is created for it.
    let (ok, out) = run_veil(&["check", "--data", d]);
    assert!(!ok && out.contains("decommissioned"), "{out}");
    assert!(!data.join("root.key").exists() && !data.join("root.3.key").exists());
}

/// `veil serve` with the root key held by a key-management command (a small
/// script standing in for a KMS client): nothing of the root beside the
/// data; `veil keys rotate --config` rotates at the command; without the
/// configuration the directory is refused and no key is created; the server
/// starts again on the new version.
#[test]
fn a_root_key_held_by_a_command_rotates_from_the_command_line() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let kms = dir.path().join("kms");
    std::fs::create_dir(&kms).unwrap();
    let script = dir.path().join("kms.sh");
    std::fs::write(
        &script,
        format!(
            // `slow-create` / `slow-destroy` in the store make the next such
            // call stop for 30 s (after storing, before deleting), noting
            // `in-…` and its pid: a window to kill veil in.
            "#!/bin/sh\nset -e\nd={}\nf=\"$d/$2\"\n\
             slow() {{ if [ -f \"$d/slow-$1\" ]; then rm -f \"$d/slow-$1\"; \
             echo $$ > \"$d/pid\"; touch \"$d/in-$1\"; sleep 30; fi; }}\n\
             case \"$1\" in\n\
             load) [ -f \"$f\" ] || exit 2; cat \"$f\" ;;\n\
             create) umask 077; cat > \"$f\"; slow create ;;\n\
             destroy) slow destroy; rm -f \"$f\" ;;\n\
             *) exit 1 ;;\nesac\n",
            kms.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    let config = dir.path().join("veil.toml");
    std::fs::write(
        &config,
        format!(
            r#"data_dir = "{d}"
listen = "127.0.0.1:{port}"

[recording]
segment_seconds = 1

[root_key]
kind = "command"
command = ["{script}"]

[[camera]]
name = "Hall"
source = {{ kind = "synthetic", width = 160, height = 120 }}
{purpose}{organisation}"#,
            port = common::free_port(),
            script = script.display(),
            purpose = common::PURPOSE,
            organisation = common::ORGANISATION,
        ),
    )
    .unwrap();
    {
        let mut serve = Demo::serve(&config, &data);
        let deadline = Instant::now() + Duration::from_secs(60);
        while segment_files(&data) < 2 {
            assert!(
                Instant::now() < deadline,
                "no segments:\n{}",
                serve.output()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        serve.kill();
    }
    assert!(kms.join("1").exists());
    assert!(!data.join("root.key").exists());

    // Without the configuration: refused, naming the missing file; nothing
    // created.
    let (ok, out) = run_veil(&["keys", "rotate", "--data", d]);
    assert!(
        !ok && out.contains("root.key") && out.contains("missing"),
        "{out}"
    );
    assert!(!data.join("root.key").exists());

    let c = config.to_str().unwrap();
    let (ok, out) = run_veil(&["keys", "rotate", "--data", d, "--config", c]);
    assert!(ok && out.contains("from version 1 to 2"), "{out}");
    assert!(!kms.join("1").exists() && kms.join("2").exists());
    let (ok, out) = run_veil(&["keys", "status", "--data", d, "--config", c]);
    assert!(
        ok && out.contains("version 2") && out.contains("live"),
        "{out}"
    );
    // SIGKILL in the middle of a rotation: after the new version is created
    // at the command, then after the old one is marked destroyed but before
    // the command destroyed it. Each time the directory opens, and the next
    // run converges.
    let kill_during = |what: &str| {
        std::fs::write(kms.join(format!("slow-{what}")), "").unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_veil"))
            .args(["keys", "rotate", "--data", d, "--config", c])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !kms.join(format!("in-{what}")).exists() {
            assert!(Instant::now() < deadline, "the command never ran {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let pid = std::fs::read_to_string(kms.join("pid")).unwrap();
        let _ = std::process::Command::new("kill")
            .args(["-9", pid.trim()])
            .status();
        std::fs::remove_file(kms.join(format!("in-{what}"))).unwrap();
    };
    let status = || {
        let (ok, out) = run_veil(&["keys", "status", "--data", d, "--config", c]);
        assert!(ok, "the directory does not open after a kill:\n{out}");
        out
    };
    kill_during("create");
    assert!(kms.join("3").exists(), "created at the command");
    let out = status();
    assert!(!out.contains("version 3"), "{out}");
    kill_during("destroy");
    let out = status();
    assert!(
        out.contains("version 2 created") && out.contains("version 3 created"),
        "{out}"
    );
    assert!(
        kms.join("2").exists(),
        "killed before the command destroyed it"
    );
    let (ok, out) = run_veil(&["keys", "rotate", "--data", d, "--config", c]);
    assert!(ok && out.contains("to 4"), "{out}");
    let left: Vec<String> = std::fs::read_dir(&kms)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.parse::<u32>().is_ok())
        .collect();
    assert_eq!(left, ["4"], "every older version destroyed at the command");
    // `veil check` without the configuration looks beside the data: refused,
    // nothing created; with it, it opens.
    let (ok, out) = run_veil(&["check", "--data", d]);
    assert!(!ok && out.contains("missing"), "{out}");
    let (ok, out) = run_veil(&["check", "--data", d, "--config", c]);
    assert!(ok && out.contains("integrity: ok"), "{out}");

    // The server starts on the current version.
    let mut serve = Demo::serve(&config, &data);
    serve.kill();
    assert!(!data.join("root.key").exists() && !kms.join("5").exists());
}

/// A lock or hold on a camera refuses its decommissioning, and the
/// installation's, naming it; nothing is destroyed until it is released.
#[test]
fn locked_or_held_recordings_refuse_decommissioning() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    record(&data, 1);
    let files = segment_files(&data);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hold = rt.block_on(async {
        let clock: veil_base::SharedClock = std::sync::Arc::new(veil_base::SystemClock);
        let store = veil_store::Store::open_dir(&data, clock.clone()).unwrap();
        let now = clock.now();
        let (id, kept) = store
            .create_protection(veil_store::db::NewProtection {
                kind: veil_store::db::ProtectionKind::Hold,
                cameras: vec![veil_base::CameraId(1)],
                start: veil_base::Time90k(0),
                end: now,
                reason: "restriction request 3".into(),
                owner: None,
                created: now,
                review: None,
                release_on_review: false,
                key_version: 1,
            })
            .await
            .unwrap();
        assert!(kept >= 2);
        id
    });
    let (ok, out) = run_veil(&[
        "decommission",
        "camera",
        "1",
        "--data",
        d,
        "--operator",
        "Ana Lima",
    ]);
    assert!(
        !ok && out.contains(&format!("hold {hold} keeps recordings")),
        "{out}"
    );
    let certificate = dir.path().join("certificate");
    let (ok, out) = run_veil(&[
        "decommission",
        "installation",
        "--data",
        d,
        "--operator",
        "Ana Lima",
        "--certificate",
        certificate.to_str().unwrap(),
        "--yes-destroy-everything",
    ]);
    assert!(!ok && out.contains(&format!("hold {hold}")), "{out}");
    assert!(!certificate.exists());
    assert_eq!(segment_files(&data), files, "nothing was destroyed");
    let audit = count(
        &data,
        "SELECT COUNT(*) FROM audit WHERE action LIKE 'decommission.%'",
    );
    assert_eq!(
        audit, 0,
        "a refused decommissioning is not recorded as done"
    );
}
