//! `veil audit verify` against an access record tampered with directly in the
//! database (the `sqlite3` CLI and `rusqlite`, bypassing Veil), the offline
//! export, and the standard-tools procedure of `docs/audit-format.md`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use veil_audit::checkpoint::Kind;
use veil_audit::{AccessRecord, Action, AuditKey, Checkpointing, ClientAddressPolicy, Event, Sink};
use veil_base::{SimulatedClock, Time90k};

/// A data directory whose access record holds 20 entries, with signed
/// checkpoints at 5, 10, 15 and 20 (and copies in `checkpoints.jsonl`).
fn recorded(dir: &Path) {
    let store =
        veil_store::Store::open_dir(dir, Arc::new(SimulatedClock::new(Time90k(0)))).unwrap();
    let key = AuditKey::load_or_create(&dir.join("audit.key")).unwrap();
    let clock = Arc::new(SimulatedClock::new(Time90k(1_795_000_000 * 90_000)));
    let record = AccessRecord::open(
        store.db.clone(),
        clock.clone(),
        ClientAddressPolicy::Full,
        Some(Checkpointing {
            key: Arc::new(key),
            every_entries: 5,
            every: Duration::from_secs(3600),
            sink: Some(Sink::File(dir.join("checkpoints.jsonl"))),
        }),
    )
    .unwrap();
    for i in 0..20 {
        clock.advance(90_000);
        let action = if i % 2 == 0 {
            Action::Playback
        } else {
            Action::LiveView
        };
        record
            .append(
                Event::new(
                    format!("u-{:04}", i % 3),
                    action,
                    format!("camera:{}", i % 4 + 1),
                )
                .client("192.0.2.7".parse().unwrap()),
            )
            .unwrap();
    }
    record.shutdown();
}

fn sqlite(dir: &Path, sql: &str) {
    // Wait for a lock rather than fail, should a connection still be closing.
    let out = Command::new("sqlite3")
        .args(["-cmd", ".timeout 10000"])
        .arg(dir.join("veil.db"))
        .arg(sql)
        .output()
        .expect("sqlite3 must be installed (Debian package sqlite3)");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn veil(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn verify(dir: &Path, extra: &[&str]) -> (bool, String) {
    let d = dir.to_str().unwrap();
    let mut args = vec!["audit", "verify", "--data", d];
    args.extend_from_slice(extra);
    veil(&args)
}

fn assert_broken_at(dir: &Path, extra: &[&str], seq: u64, what: &str) -> String {
    let (ok, text) = verify(dir, extra);
    assert!(!ok, "{what}: tampering not detected: {text}");
    assert!(
        text.contains(&format!("broken at sequence {seq}:")),
        "{what}: wrong or missing sequence number: {text}"
    );
    text
}

#[test]
fn an_intact_record_verifies() {
    let dir = tempfile::tempdir().unwrap();
    recorded(dir.path());
    let (ok, text) = verify(dir.path(), &[]);
    assert!(ok, "{text}");
    assert!(text.contains("20 access-record entries verified"), "{text}");
    assert!(text.contains("4 signatures checked"), "{text}");
    assert!(text.contains("signed up to sequence 20"), "{text}");
    let (ok, text) = verify(dir.path(), &["--from", "5", "--to", "9"]);
    assert!(ok && text.contains("5 access-record entries"), "{text}");
    let sink = dir.path().join("checkpoints.jsonl");
    let (ok, text) = verify(dir.path(), &["--checkpoints", sink.to_str().unwrap()]);
    assert!(ok && text.contains("8 signatures checked"), "{text}");
}

#[test]
fn every_kind_of_tampering_is_detected_at_its_sequence_number() {
    let cases: [(&str, &str, u64); 6] = [
        (
            "edit a field",
            "DROP TRIGGER audit_no_update; UPDATE audit SET outcome = 'denied' WHERE seq = 7;",
            7,
        ),
        (
            "change an actor",
            "DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'u-9999' WHERE seq = 12;",
            12,
        ),
        ("delete a row", "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 4;", 4),
        (
            "swap two rows",
            "DROP TRIGGER audit_no_update;
             UPDATE audit SET seq = -1 WHERE seq = 9;
             UPDATE audit SET seq = 9 WHERE seq = 10;
             UPDATE audit SET seq = 10 WHERE seq = -1;",
            9,
        ),
        (
            "insert a forged row with a copied hash",
            "DROP TRIGGER audit_no_update;
             UPDATE audit SET seq = seq + 100 WHERE seq >= 15;
             UPDATE audit SET seq = seq - 99 WHERE seq >= 115;
             INSERT INTO audit (seq, time_90k, actor, action, resource, outcome, detail, client, justification, prev_hash, hash)
               SELECT 15, time_90k, 'u-0000', 'playback', 'camera:1', 'ok', '', '', '', prev_hash, hash FROM audit WHERE seq = 16;",
            15,
        ),
        (
            "truncate the tail behind the last checkpoint",
            "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq >= 13;",
            13,
        ),
    ];
    for (what, sql, seq) in cases {
        let dir = tempfile::tempdir().unwrap();
        recorded(dir.path());
        sqlite(dir.path(), sql);
        assert_broken_at(dir.path(), &[], seq, what);
    }
}

/// Rewrites entries 18..=20 consistently (recomputed hashes) and replaces
/// the checkpoint at 20 with one signed by `signer`, claiming `claimed_key`.
fn rewrite_tail(dir: &Path, signer: &AuditKey, claimed_key: [u8; 32]) {
    let db = veil_store::Db::open_read_only(&dir.join("veil.db")).unwrap();
    let mut rows = db.audit_range(17, 20, 10).unwrap();
    drop(db);
    let raw = rusqlite::Connection::open(dir.join("veil.db")).unwrap();
    raw.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_checkpoint_no_update;")
        .unwrap();
    let mut prev: [u8; 32] = rows[0].hash.as_slice().try_into().unwrap();
    for r in rows.iter_mut().skip(1) {
        r.outcome = "denied".into();
        let e = veil_audit::chain::Entry {
            seq: r.seq as u64,
            time_90k: r.time_90k.0,
            actor: r.actor.clone(),
            action: r.action.clone(),
            resource: r.resource.clone(),
            outcome: r.outcome.clone(),
            justification: r.justification.clone(),
            detail: r.detail.clone(),
            client: r.client.clone(),
        };
        let h = veil_audit::chain::link(&prev, &e);
        raw.execute(
            "UPDATE audit SET outcome = ?2, prev_hash = ?3, hash = ?4 WHERE seq = ?1",
            rusqlite::params![r.seq, r.outcome, prev.to_vec(), h.to_vec()],
        )
        .unwrap();
        prev = h;
    }
    let mut forged = signer.sign(Kind::Checkpoint, 20, Time90k(1_795_000_000 * 90_000), &prev);
    forged.public_key = claimed_key.to_vec();
    raw.execute(
        "UPDATE audit_checkpoint SET hash = ?2, public_key = ?3, signature = ?4, time_90k = ?5
         WHERE kind = 'checkpoint' AND seq = ?1",
        rusqlite::params![
            20,
            forged.hash,
            forged.public_key,
            forged.signature,
            forged.time_90k.0
        ],
    )
    .unwrap();
}

#[test]
fn a_rewritten_chain_re_signed_with_another_key_is_detected() {
    let other = AuditKey::generate().0;
    // Signed with another key, naming it.
    let dir = tempfile::tempdir().unwrap();
    recorded(dir.path());
    rewrite_tail(dir.path(), &other, other.public_key());
    let text = assert_broken_at(dir.path(), &[], 20, "re-signed with a wrong key");
    assert!(text.contains("unknown key"), "{text}");
    // Signed with another key, claiming the right one.
    let dir = tempfile::tempdir().unwrap();
    recorded(dir.path());
    let right = AuditKey::load_or_create(&dir.path().join("audit.key")).unwrap();
    rewrite_tail(dir.path(), &other, right.public_key());
    let text = assert_broken_at(dir.path(), &[], 20, "forged signature");
    assert!(text.contains("bad signature"), "{text}");
    // A pinned key catches a replaced audit key file too.
    let pinned = veil_audit::checkpoint::public_key_pem(&right.public_key());
    let pem = dir.path().join("pinned.pem");
    std::fs::write(&pem, pinned).unwrap();
    assert_broken_at(
        dir.path(),
        &["--public-key", pem.to_str().unwrap()],
        20,
        "pinned",
    );
}

#[test]
fn the_external_copy_catches_deleted_checkpoints_and_tail() {
    let dir = tempfile::tempdir().unwrap();
    recorded(dir.path());
    // Someone with database access removes the tail and the checkpoints that
    // covered it; the database alone can no longer tell.
    sqlite(
        dir.path(),
        "DROP TRIGGER audit_no_delete; DROP TRIGGER audit_checkpoint_no_delete;
         DELETE FROM audit WHERE seq >= 12; DELETE FROM audit_checkpoint WHERE seq >= 10;",
    );
    let (ok, text) = verify(dir.path(), &[]);
    assert!(ok, "{text}");
    let sink = dir.path().join("checkpoints.jsonl");
    let text = assert_broken_at(
        dir.path(),
        &["--checkpoints", sink.to_str().unwrap()],
        12,
        "external copy",
    );
    assert!(text.contains("missing"), "{text}");
}

#[test]
fn export_verifies_offline_and_tampering_in_the_file_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    recorded(dir.path());
    let d = dir.path().to_str().unwrap();
    let file = dir.path().join("export.jsonl");
    let (ok, text) = veil(&[
        "audit",
        "export",
        "--data",
        d,
        "--from",
        "3",
        "--to",
        "12",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    assert!(
        text.contains("exported 13 entries (sequence 3 to 15)"),
        "{text}"
    );
    let f = file.to_str().unwrap();
    // No database needed: a directory that does not exist is never read.
    let (ok, text) = veil(&["audit", "verify", "--data", "/nonexistent", "--file", f]);
    assert!(ok, "{text}");
    assert!(
        text.contains("13 access-record entries verified (sequence 3 to 15)"),
        "{text}"
    );
    // The export itself was recorded (entry 21) and signed (checkpoint 21).
    let (ok, text) = verify(dir.path(), &[]);
    assert!(
        ok && text.contains("21 access-record entries")
            && text.contains("signed up to sequence 21"),
        "{text}"
    );
    let exported = std::fs::read_to_string(&file).unwrap();
    let tampered = exported.replacen("\"outcome\":\"ok\"", "\"outcome\":\"denied\"", 1);
    std::fs::write(&file, tampered).unwrap();
    let (ok, text) = veil(&["audit", "verify", "--file", f]);
    assert!(!ok && text.contains("broken at sequence 3:"), "{text}");
}

/// Follows `docs/audit-format.md` with standard tools only: its Python script
/// (standard library) checks the chain and writes each signed statement,
/// then `openssl pkeyutl` checks every signature.
#[test]
fn the_documented_standard_tools_procedure_works() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/audit-format.md"
    ))
    .unwrap();
    let script = doc
        .split("```python\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("docs/audit-format.md has a python block");
    let dir = tempfile::tempdir().unwrap();
    recorded(dir.path());
    let d = dir.path().to_str().unwrap();
    let export = dir.path().join("export.jsonl");
    let (ok, text) = veil(&[
        "audit",
        "export",
        "--data",
        d,
        "--out",
        export.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let py = dir.path().join("verify_export.py");
    std::fs::write(&py, script).unwrap();
    let out_dir = dir.path().join("statements");
    let run = |file: &Path| {
        Command::new("python3")
            .arg(&py)
            .arg(file)
            .arg(&out_dir)
            .output()
            .expect("python3 must be installed")
    };
    let out = run(&export);
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("chain ok: 21 entries"), "{said}");
    let mut checked = 0;
    for e in std::fs::read_dir(&out_dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "msg") {
            let sig = p.with_extension("sig");
            let o = Command::new("openssl")
                .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
                .arg(out_dir.join("public.pem"))
                .arg("-rawin")
                .arg("-in")
                .arg(&p)
                .arg("-sigfile")
                .arg(&sig)
                .output()
                .expect("openssl must be installed (Debian package openssl)");
            let said = String::from_utf8_lossy(&o.stdout);
            assert!(
                o.status.success() && said.contains("Signature Verified Successfully"),
                "{}: {said}",
                p.display()
            );
            // A flipped byte in the statement fails.
            let mut bad = std::fs::read(&p).unwrap();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            let badp = dir.path().join("bad.msg");
            std::fs::write(&badp, bad).unwrap();
            let o = Command::new("openssl")
                .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
                .arg(out_dir.join("public.pem"))
                .args(["-rawin", "-in"])
                .arg(&badp)
                .arg("-sigfile")
                .arg(&sig)
                .output()
                .unwrap();
            assert!(!o.status.success(), "openssl accepted an altered statement");
            checked += 1;
        }
    }
    assert_eq!(checked, 5, "checkpoints at 5, 10, 15, 20 and 21");
    // The script refuses an edited entry.
    let text = std::fs::read_to_string(&export).unwrap();
    let edited = dir.path().join("edited.jsonl");
    std::fs::write(
        &edited,
        text.replacen("\"actor\":\"u-0001\"", "\"actor\":\"u-0002\"", 1),
    )
    .unwrap();
    let out = run(&edited);
    assert!(!out.status.success(), "the script accepted an edited entry");
}

#[test]
fn verify_explains_a_missing_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, text) = verify(&dir.path().join("nothing"), &[]);
    assert!(!ok);
    assert!(text.contains("no database"), "{text}");
}
