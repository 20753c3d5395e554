//! Evidence export over HTTPS, checked without Veil where the world has a
//! checker: the `age` CLI decrypts (passphrase through a terminal, and an
//! identity file), `ssh-keygen -Y verify` checks the manifest's signature,
//! `sha256sum -c` every file, ffmpeg decodes every MP4 and ffprobe shows no
//! frame inside an excluded interval. Tampering is named by the verifier;
//! every export is one access-record entry and one register entry; a
//! refusal is recorded; the stored copy is destroyed at its expiry.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use veil_base::{Clock, Time90k, TIME_UNITS_PER_SEC};
use veil_export::verify::{verify, Decrypt};

/// A user `otto.exp` holding `export` and `playback` on every camera, with
/// a second factor (export is sensitive).
async fn exporter(s: &Server) -> (reqwest::Client, String) {
    exporter_with(s, &[("export", None), ("playback", None)]).await
}

/// `otto.exp` with a role granting `grants`, a second factor, and the DPO
/// `fatima.dpo` who approves.
async fn exporter_with(s: &Server, grants: &[(&str, Option<&[i64]>)]) -> (reqwest::Client, String) {
    let (admin, csrf) = login(s).await;
    create_role(s, &admin, &csrf, "exporter", grants).await;
    let (c, c_csrf) = new_user(s, &admin, &csrf, "otto.exp", &["exporter"]).await;
    enrol_totp(s, &c, &c_csrf).await;
    new_user(s, &admin, &csrf, "fatima.dpo", &["dpo"]).await;
    (c, c_csrf)
}

/// Four-eyes on export is on by default: Otto asks, the DPO approves; the
/// approval's id.
async fn approve_export(s: &Server, c: &reqwest::Client, csrf: &str) -> i64 {
    approved(
        s,
        c,
        csrf,
        "export",
        "camera:1",
        "police request for the break-in footage",
    )
    .await
}

/// A restriction hold on camera 1 over `[from, to)` seconds after T0; its id.
async fn hold(s: &Server, from: f64, to: f64, reason: &str) -> i64 {
    let at = |x: f64| Time90k::parse_rfc3339(&t(x)).unwrap();
    s.store
        .create_protection(veil_store::db::NewProtection {
            kind: veil_store::db::ProtectionKind::Hold,
            cameras: vec![s.camera],
            start: at(from),
            end: at(to),
            reason: reason.into(),
            owner: None,
            created: s.clock.now(),
            review: None,
            release_on_review: false,
            key_version: 0,
        })
        .await
        .unwrap()
        .0
}

fn request(extra: Value) -> Value {
    let mut v = json!({
        "cameras": [1],
        "start": t(0.0),
        "end": t(12.0),
        "requester": {"name": "Ana Costa", "title": "Inspector", "organisation": "PSP Lisboa", "country": "PT"},
        "reason": "Investigation of a break-in at the front door, case 2026/1234",
    });
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

/// Posts an export and waits until it is done; its id, package id and the
/// answer's passphrase (if generated).
async fn export(
    s: &Server,
    c: &reqwest::Client,
    csrf: &str,
    body: Value,
) -> (i64, String, Option<String>) {
    let approval = approve_export(s, c, csrf).await;
    let r = post_json(c, csrf, format!("{}/api/v1/exports", s.base), body.clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    let v: Value = r.json().await.unwrap();
    let id = v["id"].as_i64().unwrap();
    // The approval was named in the record and consumed: the same request
    // again needs a new one.
    let created = audit_entries(s)
        .into_iter()
        .rfind(|e| e.action == "export.create")
        .unwrap();
    assert!(
        created.detail.contains(&format!("approval={approval}")),
        "{}",
        created.detail
    );
    let r = post_json(c, csrf, format!("{}/api/v1/exports", s.base), body).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let mut last = Value::Null;
    for _ in 0..600 {
        last = get_json::<Value>(c, s, &format!("/api/v1/exports/{id}")).await;
        match last["state"].as_str().unwrap() {
            "done" => break,
            "failed" => panic!("export failed: {last}"),
            _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    assert_eq!(last["state"], "done", "{last}");
    assert_eq!(last["percent"], 100);
    assert_eq!(last["done_bytes"], last["total_bytes"]);
    (
        id,
        v["package_id"].as_str().unwrap().to_owned(),
        v["passphrase"].as_str().map(str::to_owned),
    )
}

async fn download(s: &Server, c: &reqwest::Client, id: i64, to: &Path) -> Vec<u8> {
    let r = get(c, s, &format!("/api/v1/exports/{id}/download")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.unwrap().to_vec();
    std::fs::write(to, &bytes).unwrap();
    bytes
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().expect("the tool runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `age` CLI reads a passphrase only from a terminal: `script` gives it
/// one and types the passphrase.
fn age_decrypt_with_passphrase(package: &Path, out: &Path, passphrase: &str) {
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c"])
        .arg(format!(
            "age -d -o '{}' '{}'",
            out.display(),
            package.display()
        ))
        .arg("/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        // age prompts once the terminal is up; the line waits in its buffer.
        std::thread::sleep(std::time::Duration::from_millis(300));
        writeln!(stdin, "{passphrase}").unwrap();
    }
    let out_ = child.wait_with_output().unwrap();
    assert!(
        out_.status.success(),
        "age -d failed: {}",
        String::from_utf8_lossy(&out_.stdout)
    );
    assert!(out.metadata().unwrap().len() > 0);
}

/// Unpacks `tar` into `dir`; the package folder.
fn untar(tar: &Path, dir: &Path, package_id: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let (ok, _, err) = run(Command::new("tar").arg("-xf").arg(tar).arg("-C").arg(dir));
    assert!(ok, "tar: {err}");
    dir.join(format!("veil-export-{package_id}"))
}

/// Checks the unpacked package with standard tools only; its manifest.
fn check_with_standard_tools(pkg: &Path) -> Value {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(pkg.join("manifest.json")).unwrap()).unwrap();
    let principal = manifest["signer_principal"].as_str().unwrap();
    let (ok, out, err) = run(Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f", "allowed_signers", "-I", principal])
        .args(["-n", "veil-export", "-s", "manifest.json.sig"])
        .current_dir(pkg)
        .stdin(std::fs::File::open(pkg.join("manifest.json")).unwrap()));
    assert!(ok, "ssh-keygen -Y verify: {out}{err}");
    assert!(out.contains("Good \"veil-export\" signature"), "{out}");
    let (ok, out, err) = run(Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(pkg));
    assert!(ok, "sha256sum -c: {out}{err}");
    let videos: Vec<&Value> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "video")
        .collect();
    assert!(!videos.is_empty());
    for f in &videos {
        let path = pkg.join(f["path"].as_str().unwrap());
        assert!(
            out.contains(&format!("{}: OK", f["path"].as_str().unwrap())),
            "{out}"
        );
        let (ok, _, err) = run(Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&path)
            .args(["-f", "null", "-"]));
        assert!(
            ok && err.trim().is_empty(),
            "ffmpeg decoding {}: {err}",
            path.display()
        );
    }
    assert!(std::fs::read_to_string(pkg.join("README.txt"))
        .unwrap()
        .contains("ssh-keygen -Y verify"));
    manifest
}

/// Frame start times (absolute, 90 kHz) of an MP4 whose first frame is at
/// `start`, from ffprobe.
fn frame_times(path: &Path, start: Time90k) -> Vec<i64> {
    let (ok, out, err) = run(Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["packet=pts", "-of", "csv=p=0"])
        .arg(path));
    assert!(ok, "ffprobe: {err}");
    // The file's timescale is 90 kHz (one tick per 90 kHz unit).
    let mut pts: Vec<i64> = out
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect();
    pts.sort_unstable();
    let first = pts[0];
    pts.into_iter().map(|p| start.0 + (p - first)).collect()
}

#[tokio::test]
async fn export_is_signed_encrypted_complete_and_checked_by_standard_tools() {
    let s = start().await;
    let (c, csrf) = exporter(&s).await;
    let before = audit_entries(&s).len();
    // 0–12 s recorded (GOP 1 s, segments of 4 s); 4.5–6.5 s excluded.
    let (id, package_id, passphrase) = export(
        &s,
        &c,
        &csrf,
        request(json!({"exclude": [{"start": t(4.5), "end": t(6.5)}]})),
    )
    .await;
    let passphrase = passphrase.expect("a passphrase is generated and answered once");
    assert!(passphrase.len() >= 40);
    // Exactly one access-record entry for the export, then one download.
    let created: Vec<_> = audit_entries(&s)[before..]
        .iter()
        .filter(|e| e.action == "export.create" && e.outcome == "ok")
        .cloned()
        .collect();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].outcome, "ok");
    assert!(created[0].detail.contains(&package_id));
    assert!(!created[0].detail.contains(&passphrase));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{package_id}.tar.age"));
    let bytes = download(&s, &c, id, &file).await;
    assert!(bytes.starts_with(b"age-encryption.org/v1\n"));
    let status: Value = get_json(&c, &s, &format!("/api/v1/exports/{id}")).await;
    assert_eq!(status["package_bytes"], bytes.len() as u64);
    let sha = hex::encode(ring::digest::digest(&ring::digest::SHA256, &bytes));
    assert_eq!(status["package_sha256"], sha);

    // The register: one copy entry with the package's id and hash, downloaded.
    let (auditor, _) = login_as(&s, "ines.audit").await;
    let reg: Value = get_json(&auditor, &s, "/api/v1/disclosures").await;
    let entries = reg["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{reg}");
    assert_eq!(entries[0]["kind"], "copy");
    assert_eq!(entries[0]["package_id"], package_id.as_str());
    assert_eq!(entries[0]["package_sha256"], sha.as_str());
    assert_eq!(entries[0]["status"], "downloaded");
    assert_eq!(entries[0]["requester"]["organisation"], "PSP Lisboa");
    // Authorised by the requester and the four-eyes approver (pseudonyms).
    let by = entries[0]["authorised_by"].as_str().unwrap();
    assert_eq!(by.split(',').count(), 2, "{by}");
    assert!(by.split(',').all(|p| p.starts_with("u-")), "{by}");

    // The age CLI with the passphrase, then standard tools only.
    let tar = dir.path().join("package.tar");
    age_decrypt_with_passphrase(&file, &tar, &passphrase);
    let pkg = untar(&tar, &dir.path().join("x"), &package_id);
    let manifest = check_with_standard_tools(&pkg);
    assert_eq!(manifest["rendition"], "protected");
    assert_eq!(manifest["cameras"][0]["name"], "Door");
    assert_eq!(manifest["excluded"].as_array().unwrap().len(), 1);
    assert!(!manifest["chains"].as_array().unwrap().is_empty());

    // No frame inside the excluded interval; the frames around it are there.
    let ex = (
        Time90k::parse_rfc3339(&t(4.5)).unwrap().0,
        Time90k::parse_rfc3339(&t(6.5)).unwrap().0,
    );
    let mut all = Vec::new();
    let videos: Vec<&Value> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "video")
        .collect();
    assert_eq!(
        videos.len(),
        2,
        "one file before and one after the exclusion"
    );
    for f in videos {
        let start = Time90k::parse_rfc3339(f["video"]["start"].as_str().unwrap()).unwrap();
        let times = frame_times(&pkg.join(f["path"].as_str().unwrap()), start);
        assert_eq!(times.len() as u64, f["video"]["frames"].as_u64().unwrap());
        all.extend(times);
    }
    let inside: Vec<_> = all.iter().filter(|x| **x >= ex.0 && **x < ex.1).collect();
    assert!(
        inside.is_empty(),
        "frames inside the excluded interval: {inside:?}"
    );
    // 12 s at 25 fps less the excluded 2 s (the second file starts at the
    // first keyframe after it, 7 s).
    assert!(all.len() >= 25 * 9, "{} frames", all.len());

    // Veil's own verifier agrees, from the encrypted file.
    let report = verify(
        std::fs::File::open(&file).unwrap(),
        Decrypt::Passphrase(passphrase.clone().into()),
        None,
    )
    .unwrap();
    assert_eq!(report.videos.len(), 2);
    assert!(report.to_string().contains("the package verifies"));
    let wrong = verify(
        std::fs::File::open(&file).unwrap(),
        Decrypt::Passphrase("not the passphrase at all".to_owned().into()),
        None,
    )
    .unwrap_err();
    assert!(wrong.0.contains("cannot decrypt"), "{wrong}");
}

/// Re-packs the unpacked folder `pkg` (after a change) as a plain tar.
fn repack(pkg: &Path, to: &Path) {
    let (ok, _, err) = run(Command::new("tar")
        .arg("-cf")
        .arg(to)
        .arg("-C")
        .arg(pkg.parent().unwrap())
        .arg(pkg.file_name().unwrap()));
    assert!(ok, "tar: {err}");
}

fn flip_byte(path: &Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    let at = at.min(b.len() - 1);
    b[at] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

fn verify_tar(tar: &Path, key: Option<ssh_key::PublicKey>) -> Result<String, String> {
    verify(std::fs::File::open(tar).unwrap(), Decrypt::None, key)
        .map(|r| r.to_string())
        .map_err(|e| e.0)
}

#[tokio::test]
async fn identity_file_recipients_and_tampering_is_named() {
    let s = start().await;
    let (c, csrf) = exporter(&s).await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.txt");
    let (ok, _, err) = run(Command::new("age-keygen").arg("-o").arg(&key));
    assert!(ok, "age-keygen: {err}");
    let text = std::fs::read_to_string(&key).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_owned();
    let (id, package_id, passphrase) =
        export(&s, &c, &csrf, request(json!({"recipients": [recipient]}))).await;
    assert!(passphrase.is_none());
    let file = dir.path().join("p.tar.age");
    download(&s, &c, id, &file).await;
    let tar = dir.path().join("p.tar");
    let (ok, _, err) = run(Command::new("age")
        .args(["-d", "-i"])
        .arg(&key)
        .arg("-o")
        .arg(&tar)
        .arg(&file));
    assert!(ok, "age -d -i: {err}");
    let pkg = untar(&tar, &dir.path().join("x"), &package_id);
    check_with_standard_tools(&pkg);
    let signer = veil_export::key::parse_public_key(
        &std::fs::read_to_string(pkg.join("export-key.pub")).unwrap(),
    )
    .unwrap();
    // Untouched, re-packed: verifies with the pinned key.
    let clean = dir.path().join("clean.tar");
    repack(&pkg, &clean);
    verify_tar(&clean, Some(signer.clone())).unwrap();

    // One flipped byte in any file is named.
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(pkg.join("manifest.json")).unwrap()).unwrap();
    let video = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "video")
        .unwrap()["path"]
        .as_str()
        .unwrap()
        .to_owned();
    for (name, at) in [
        (video.as_str(), 5000),
        ("README.txt", 10),
        ("manifest.json", 200),
        ("allowed_signers", 40),
    ] {
        let copy = dir.path().join(format!("t-{}", name.replace('/', "_")));
        let (ok, _, _) = run(Command::new("cp").arg("-r").arg(&pkg).arg(&copy));
        assert!(ok);
        let inner = copy.join(format!("veil-export-{package_id}"));
        let inner = if inner.exists() { inner } else { copy.clone() };
        flip_byte(&inner.join(name), at);
        // Keep the folder's name so the package id still matches.
        let staged = dir.path().join(format!("s-{}", name.replace('/', "_")));
        std::fs::create_dir_all(&staged).unwrap();
        let target = staged.join(format!("veil-export-{package_id}"));
        std::fs::rename(&inner, &target).unwrap();
        let t = dir.path().join(format!("{}.tar", name.replace('/', "_")));
        repack(&target, &t);
        let e = verify_tar(&t, Some(signer.clone())).unwrap_err();
        assert!(e.contains(name), "flipping {name}: {e}");
    }

    // A manifest re-signed with another key: refused with the pinned key,
    // and without it (the manifest names the original key).
    let other = veil_export::ExportKey::generate();
    let staged = dir.path().join("resigned");
    std::fs::create_dir_all(&staged).unwrap();
    let target = staged.join(format!("veil-export-{package_id}"));
    let (ok, _, _) = run(Command::new("cp").arg("-r").arg(&pkg).arg(&target));
    assert!(ok);
    let m = std::fs::read(target.join("manifest.json")).unwrap();
    std::fs::write(target.join("manifest.json.sig"), other.sign(&m).unwrap()).unwrap();
    std::fs::write(
        target.join("allowed_signers"),
        veil_export::key::allowed_signers_line("x@y", other.public_key()),
    )
    .unwrap();
    let t = dir.path().join("resigned.tar");
    repack(&target, &t);
    let e = verify_tar(&t, Some(signer)).unwrap_err();
    assert!(e.contains("manifest.json"), "{e}");
    let e = verify_tar(&t, None).unwrap_err();
    assert!(e.contains("manifest.json"), "{e}");
}

#[tokio::test]
async fn refusals_are_recorded_and_change_nothing() {
    let s = start().await;
    let (c, csrf) = exporter(&s).await;
    let url = format!("{}/api/v1/exports", s.base);
    // Bad fields: 400 naming the field, nothing recorded in the register.
    for (body, field) in [
        (request(json!({"cameras": []})), "cameras"),
        (request(json!({"end": t(-1.0)})), "end"),
        (
            request(
                json!({"requester": {"name": "A", "title": "B", "organisation": "C", "country": "XX"}}),
            ),
            "country",
        ),
        (request(json!({"rendition": "raw"})), "rendition"),
        (
            request(json!({"recipients": ["not-a-key"]})),
            "recipients[0]",
        ),
        (request(json!({"passphrase": "short"})), "passphrase"),
        (
            request(json!({"exclude": [{"start": t(5.0), "end": t(4.0)}]})),
            "exclude[0].end",
        ),
    ] {
        let r = post_json(&c, &csrf, url.clone(), body).await;
        let (status, code, message) = refusal(r).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {code} {message}");
        assert!(message.contains(field), "{field}: {message}");
    }
    // Unencrypted needs its own permission.
    let r = post_json(
        &c,
        &csrf,
        url.clone(),
        request(json!({"encryption": "none"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A restriction hold over the interval: 403 naming it, recorded.
    let first = hold(&s, 2.0, 3.0, "restriction requested by the data subject").await;
    let r = post_json(&c, &csrf, url.clone(), request(json!({}))).await;
    let (status, code, message) = refusal(r).await;
    assert_eq!((status, code.as_str()), (StatusCode::FORBIDDEN, "held"));
    assert!(message.contains(&first.to_string()), "{message}");
    let denied: Vec<_> = audit_entries(&s)
        .into_iter()
        .filter(|e| e.action == "export.create")
        .collect();
    assert_eq!(denied.len(), 2, "the unencrypted and the held refusals");
    assert!(denied.iter().all(|e| e.outcome == "denied"));
    assert!(denied[1].detail.contains("held"));
    // A hold just before the interval asked for, inside the GOP the export
    // would start with (keyframes every second): refused too.
    let early = hold(
        &s,
        3.1,
        3.2,
        "restriction requested by another data subject",
    )
    .await;
    // (Approved, so the refusal is the hold's, found once the files are
    // planned.)
    approve_export(&s, &c, &csrf).await;
    let r = post_json(&c, &csrf, url.clone(), request(json!({"start": t(3.5)}))).await;
    let (status, code, message) = refusal(r).await;
    assert_eq!((status, code.as_str()), (StatusCode::FORBIDDEN, "held"));
    assert!(message.contains(&early.to_string()), "{message}");
    let (auditor, _) = login_as(&s, "ines.audit").await;
    let reg: Value = get_json(&auditor, &s, "/api/v1/disclosures").await;
    assert!(reg["items"].as_array().unwrap().is_empty());
    let list: Value = get_json(&c, &s, "/api/v1/exports").await;
    assert!(list["exports"].as_array().unwrap().is_empty());
    // Someone else's export is not found; nobody without export permission
    // may ask.
    let (admin, admin_csrf) = login(&s).await;
    let r = post_json(&admin, &admin_csrf, url, request(json!({"start": t(8.0)}))).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_stored_copy_is_destroyed_at_expiry() {
    let s = start().await;
    let (c, csrf) = exporter(&s).await;
    let (id, package_id, _) = export(&s, &c, &csrf, request(json!({"expires_days": 1}))).await;
    let stored = s
        .dir
        .path()
        .join("data/exports")
        .join(format!("{package_id}.tar.age"));
    assert!(stored.exists());
    s.clock.advance((86_400 + 60) * TIME_UNITS_PER_SEC);
    // (Otto's session has ended by now: the row and the file tell.)
    let mut state = None;
    for _ in 0..100 {
        state = s.store.db.export(id).unwrap().map(|r| r.state);
        if state == Some(veil_store::db::ExportState::Expired) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(state, Some(veil_store::db::ExportState::Expired));
    assert!(!stored.exists(), "the stored copy is destroyed");
    let expired: Vec<_> = audit_entries(&s)
        .into_iter()
        .filter(|e| e.action == "export.expire")
        .collect();
    assert_eq!(expired.len(), 1);
    let (auditor, _) = login_as(&s, "ines.audit").await;
    let reg: Value = get_json(&auditor, &s, "/api/v1/disclosures").await;
    assert_eq!(reg["items"][0]["status"], "expired");
}

/// On a shared database a package's file is in the data directory of the
/// node that made it: another node neither hands it out nor destroys it.
#[tokio::test]
async fn another_nodes_package_is_neither_downloaded_nor_destroyed_here() {
    let s = start().await;
    let (c, csrf) = exporter(&s).await;
    let (id, package_id, _) = export(&s, &c, &csrf, request(json!({"expires_days": 1}))).await;
    // As if another web node of the installation had made it.
    let changed = s
        .store
        .db
        .tamper_for_tests(
            "UPDATE export_package SET node = 'web-2' WHERE id = ?1",
            &[veil_store::db::RawValue::Integer(id)],
        )
        .unwrap();
    assert_eq!(changed, 1);
    let r = get(&c, &s, &format!("/api/v1/exports/{id}/download")).await;
    let (status, code, message) = refusal(r).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "on_another_node")
    );
    assert!(message.contains("web-2"), "{message}");
    assert!(!audit_entries(&s)
        .iter()
        .any(|e| e.action == "export.download"));
    let stored = s
        .dir
        .path()
        .join("data/exports")
        .join(format!("{package_id}.tar.age"));
    s.clock.advance((86_400 + 60) * TIME_UNITS_PER_SEC);
    // The expiry job runs every 200 ms in these tests: give it many turns.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let row = s.store.db.export(id).unwrap().unwrap();
    assert_eq!(row.state, veil_store::db::ExportState::Done);
    assert!(stored.exists(), "another node's package is its to destroy");
    assert!(!audit_entries(&s)
        .iter()
        .any(|e| e.action == "export.expire"));
}

#[tokio::test]
async fn a_masked_camera_exports_its_protected_rendition() {
    let s = start().await;
    // Camera 1 masked from T0 + 20 s: `protected` and `original` segments of
    // the same 8 s (different pictures).
    let (protected, original) = masked_video(&s).await;
    s.clock.advance(30 * TIME_UNITS_PER_SEC);
    let (c, csrf) = exporter(&s).await;
    let (id, package_id, passphrase) = export(
        &s,
        &c,
        &csrf,
        request(json!({"start": t(0.0), "end": t(28.0)})),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.tar.age");
    download(&s, &c, id, &file).await;
    let passphrase_again = passphrase.clone().unwrap();
    let report = verify(
        std::fs::File::open(&file).unwrap(),
        Decrypt::Passphrase(passphrase.unwrap().into()),
        None,
    )
    .unwrap();
    assert_eq!(report.rendition, "protected");
    // main before the mask, protected after it; never original.
    let renditions: Vec<String> = report.chains.iter().map(|c| c.1.clone()).collect();
    assert!(
        renditions.contains(&"protected".to_owned()),
        "{renditions:?}"
    );
    assert!(
        !renditions.contains(&"original".to_owned()),
        "{renditions:?}"
    );
    // The gap between the unmasked and the masked recordings is declared.
    let gaps: Vec<_> = report.videos.iter().flat_map(|v| v.gaps.iter()).collect();
    assert!(gaps.iter().any(|g| g.2 == "not_recorded"), "{gaps:?}");
    // The MP4 carries the masked pictures' bytes, never the original's.
    let tar = dir.path().join("m.tar");
    let mut plain = Vec::new();
    {
        use std::io::Read;
        let id = age::scrypt::Identity::new(passphrase_again.clone().into());
        age::Decryptor::new(std::fs::File::open(&file).unwrap())
            .unwrap()
            .decrypt(std::iter::once(&id as &dyn age::Identity))
            .unwrap()
            .read_to_end(&mut plain)
            .unwrap();
    }
    std::fs::write(&tar, &plain).unwrap();
    let pkg = untar(&tar, &dir.path().join("x"), &package_id);
    let masked: Vec<u8> = std::fs::read_dir(pkg.join("video"))
        .unwrap()
        .flat_map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    let has = |needle: &[u8]| masked.windows(needle.len()).any(|w| w == needle);
    assert!(has(&protected[..4096]), "the protected rendition's bytes");
    assert!(!has(&original[..4096]), "never the original's");
    // Exporting the original needs masks.lift: refused and recorded.
    let r = post_json(
        &c,
        &csrf,
        format!("{}/api/v1/exports", s.base),
        request(
            json!({"start": t(20.0), "end": t(28.0), "rendition": "original",
                       "justification": "identify the intruder's face"}),
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn several_intervals_and_the_lifted_original() {
    let s = start().await;
    let (c, c_csrf) = exporter_with(
        &s,
        &[("export", None), ("playback", None), ("masks.lift", None)],
    )
    .await;
    // Two intervals of the one camera: two files, each inside its interval
    // (from the keyframe at or before its start).
    let mut body = request(json!({}));
    body.as_object_mut().unwrap().remove("start");
    body.as_object_mut().unwrap().remove("end");
    body["intervals"] =
        json!([{"start": t(1.0), "end": t(3.0)}, {"start": t(8.0), "end": t(10.0)}]);
    let (id, _, passphrase) = export(&s, &c, &c_csrf, body).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("i.tar.age");
    download(&s, &c, id, &file).await;
    let report = verify(
        std::fs::File::open(&file).unwrap(),
        Decrypt::Passphrase(passphrase.unwrap().into()),
        None,
    )
    .unwrap();
    assert_eq!(report.videos.len(), 2);
    let starts: Vec<&str> = report.videos.iter().map(|v| v.start.as_str()).collect();
    assert_eq!(starts, [t(1.0).as_str(), t(8.0).as_str()]);

    // The original of a masked interval, through the lift path: its
    // approval (masks.lift) and the export's (export), recorded as
    // mask.lift and export.create.
    masked_video(&s).await;
    s.clock.advance(30 * TIME_UNITS_PER_SEC);
    approved(
        &s,
        &c,
        &c_csrf,
        "masks.lift",
        "camera:1",
        "identify the intruder for the police",
    )
    .await;
    let (id, _, passphrase) = export(
        &s,
        &c,
        &c_csrf,
        request(
            json!({"start": t(20.0), "end": t(28.0), "rendition": "original",
                       "justification": "identify the intruder for the police"}),
        ),
    )
    .await;
    let file = dir.path().join("o.tar.age");
    download(&s, &c, id, &file).await;
    let report = verify(
        std::fs::File::open(&file).unwrap(),
        Decrypt::Passphrase(passphrase.unwrap().into()),
        None,
    )
    .unwrap();
    assert_eq!(report.rendition, "original");
    assert!(
        report.chains.iter().all(|c| c.1 == "original"),
        "{:?}",
        report.chains
    );
    let actions: Vec<String> = audit_entries(&s).into_iter().map(|e| e.action).collect();
    assert!(actions.contains(&"mask.lift".to_owned()));
}

#[tokio::test]
async fn an_unencrypted_export_needs_its_own_permission_and_says_so() {
    let s = start().await;
    let (c, c_csrf) = exporter_with(&s, &[("export", None), ("export.unencrypted", None)]).await;
    let (id, package_id, passphrase) =
        export(&s, &c, &c_csrf, request(json!({"encryption": "none"}))).await;
    assert!(passphrase.is_none());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("u.tar");
    let bytes = download(&s, &c, id, &file).await;
    assert_eq!(&bytes[257..262], b"ustar", "a plain tar archive");
    let pkg = untar(&file, &dir.path().join("x"), &package_id);
    check_with_standard_tools(&pkg);
    verify_tar(&file, None).unwrap();
    let created = audit_entries(&s)
        .into_iter()
        .find(|e| e.action == "export.create" && e.outcome == "ok")
        .unwrap();
    assert!(
        created.detail.contains("encryption=none"),
        "{}",
        created.detail
    );
    let v: Value = get_json(&c, &s, &format!("/api/v1/exports/{id}")).await;
    assert_eq!(v["encryption"], "none");
}
