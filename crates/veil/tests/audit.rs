//! `veil audit verify` against an access record tampered with directly in the
//! database with the `sqlite3` CLI, bypassing Veil.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use veil_audit::{AccessRecord, Action, ClientAddressPolicy, Event};
use veil_base::{SimulatedClock, Time90k};

/// A data directory whose access record holds 20 entries.
fn recorded(dir: &Path) {
    let store =
        veil_store::Store::open_dir(dir, Arc::new(SimulatedClock::new(Time90k(0)))).unwrap();
    let clock = Arc::new(SimulatedClock::new(Time90k(1_795_000_000 * 90_000)));
    let record = AccessRecord::new(store.db.clone(), clock.clone(), ClientAddressPolicy::Full);
    for i in 0..20 {
        clock.advance(90_000);
        record
            .append(
                Event::new(
                    format!("u-{:04}", i % 3),
                    if i % 2 == 0 {
                        Action::Playback
                    } else {
                        Action::LiveView
                    },
                    format!("camera:{}", i % 4 + 1),
                )
                .client("192.0.2.7".parse().unwrap()),
            )
            .unwrap();
    }
}

fn sqlite(dir: &Path, sql: &str) {
    // The writer's connection may still be closing (and checkpointing the
    // WAL) when the test reaches here; wait for its lock instead of failing.
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

fn verify(dir: &Path, extra: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(["audit", "verify", "--data"])
        .arg(dir)
        .args(extra)
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

#[test]
fn an_intact_record_verifies() {
    let dir = tempfile::tempdir().unwrap();
    recorded(dir.path());
    let (ok, text) = verify(dir.path(), &[]);
    assert!(ok, "{text}");
    assert!(text.contains("20 access-record entries verified"), "{text}");
    let (ok, text) = verify(dir.path(), &["--from", "5", "--to", "9"]);
    assert!(ok && text.contains("5 access-record entries"), "{text}");
}

#[test]
fn every_kind_of_tampering_is_detected_at_its_sequence_number() {
    let cases: [(&str, &str, u64); 5] = [
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
    ];
    for (what, sql, seq) in cases {
        let dir = tempfile::tempdir().unwrap();
        recorded(dir.path());
        sqlite(dir.path(), sql);
        let (ok, text) = verify(dir.path(), &[]);
        assert!(!ok, "{what}: tampering not detected: {text}");
        assert!(
            text.contains(&format!("broken at sequence {seq}:")),
            "{what}: wrong or missing sequence number: {text}"
        );
    }
}

#[test]
fn verify_explains_a_missing_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, text) = verify(&dir.path().join("nothing"), &[]);
    assert!(!ok);
    assert!(text.contains("no database"), "{text}");
}
