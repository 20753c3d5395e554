//! A full disk, for real: the data directory lives on a small tmpfs, which
//! the test fills. Recording of the camera stops with status `error` and a
//! message saying the disk is full, health names the disk, nothing already
//! recorded is lost, the database and the access record stay intact, and
//! recording resumes by itself once space is freed.
//!
//! The test runs itself again inside a private user and mount namespace
//! (`unshare`, from util-linux), where it may mount a tmpfs whether or not it
//! runs as root.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{eventually, Demo};

/// Set in the copy of the test that runs inside the namespace.
const INSIDE: &str = "VEIL_TEST_INSIDE_MOUNT_NAMESPACE";
const NAME: &str = "a_full_disk_stops_recording_keeps_everything_and_recovers";

#[test]
fn a_full_disk_stops_recording_keeps_everything_and_recovers() {
    if std::env::var_os(INSIDE).is_none() {
        let status = Command::new("unshare")
            .args([
                "--user",
                "--map-root-user",
                "--mount",
                "--propagation",
                "private",
            ])
            .arg(std::env::current_exe().unwrap())
            .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
            .env(INSIDE, "1")
            .status()
            .expect("unshare must be installed (Debian package util-linux)");
        assert!(status.success(), "the test failed inside its namespace");
        return;
    }
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(inside_the_namespace());
}

fn ok_segments(data: &Path) -> i64 {
    let db = rusqlite::Connection::open_with_flags(
        data.join("veil.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    db.query_row("SELECT COUNT(*) FROM segment WHERE state = 'ok'", [], |r| {
        r.get(0)
    })
    .unwrap()
}

async fn inside_the_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small-disk");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=160m", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(mounted.success(), "cannot mount a tmpfs in the namespace");
    let data = mnt.join("data");
    let mut demo = Demo::start(&data, 1, &["--segment-seconds", "1"]);
    let c = common::client();
    let r = c
        .post(demo.at("api/v1/session"))
        .json(
            &serde_json::json!({"username": demo.user, "password": demo.password.clone().unwrap()}),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let status = || async {
        c.get(demo.at("api/v1/cameras/1/status"))
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    eventually("a few segments stored", Duration::from_secs(30), || async {
        ok_segments(&data) >= 3
    })
    .await;

    // Fill the disk.
    let filler = mnt.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0x5au8; 1 << 20];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
    let before = ok_segments(&data);
    eventually(
        "status error, disk full",
        Duration::from_secs(20),
        || async {
            let s = status().await;
            s["state"] == "error"
                && s["disk_full"] == true
                && s["last_error"]
                    .as_str()
                    .is_some_and(|m| m.contains("the disk is full"))
        },
    )
    .await;
    let health = c.get(demo.at("api/v1/health")).send().await.unwrap();
    assert_eq!(health.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let health: serde_json::Value = health.json().await.unwrap();
    assert!(
        health["failing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "disk"),
        "{health}"
    );

    // Space returns: recording resumes by itself.
    std::fs::remove_file(&filler).unwrap();
    eventually("recording again", Duration::from_secs(20), || async {
        status().await["state"] == "recording"
    })
    .await;
    eventually("new segments stored", Duration::from_secs(20), || async {
        ok_segments(&data) > before + 2
    })
    .await;
    let r = c.get(demo.at("api/v1/health")).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);

    // A clean stop; the database, the record and the recordings are intact.
    let stopped = Command::new("kill")
        .args(["-TERM", &demo.child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let exit = demo.child.wait().unwrap();
    assert!(exit.success(), "veil exited with {exit}: {}", demo.output());
    let d = data.to_str().unwrap();
    let veil = |args: &[&str]| {
        let args: Vec<&str> = args.iter().copied().chain(["--data", d]).collect();
        let (ok, text) = common::run_veil(&args);
        assert!(ok, "veil {args:?}: {text}");
        text
    };
    veil(&["audit", "verify"]);
    let check = veil(&["check"]);
    for line in [
        "integrity: ok",
        "rows marked missing: 0",
        "segments still unreadable: 0",
    ] {
        assert!(check.contains(line), "{check}");
    }
    assert!(ok_segments(&data) > before + 2);
    let _ = Command::new("umount").arg(&mnt).status();
}
