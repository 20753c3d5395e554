//! SIGKILL at each step of retention's destruction (`docs/design/retention.md`,
//! "Order of steps"): `veil retention run` is killed right after recording the
//! batch, after the first chunk of keys and rows, after all of them, and after
//! the first object; at each point no segment the store serves lacks its
//! object, and a restart converges: nothing left of the expired hours, no
//! object without a row, `veil check` clean, the access record verifying.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{run_veil, Demo};
use veil_base::{CameraId, SharedClock, SystemClock, Time90k};
use veil_store::{Store, MAIN_RENDITION};

const POINTS: [&str; 4] = [
    "retention.recorded",
    "retention.chunk_destroyed",
    "retention.keys_and_rows_destroyed",
    "retention.object_deleted",
];

fn files_with(dir: &Path, ext: &str, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_with(&p, ext, out);
        } else if p.extension().is_some_and(|e| e == ext) {
            out.push(p);
        }
    }
}

fn segment_files(data: &Path) -> usize {
    let mut v = Vec::new();
    files_with(&data.join("objects"), "seg", &mut v);
    v.len()
}

/// Copies a data directory (owner-only, as Veil requires).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Every segment the store serves opens: its object is there.
async fn served_segments_open(data: &Path) -> usize {
    let clock: SharedClock = std::sync::Arc::new(SystemClock);
    let store = Store::open_dir(data, clock).unwrap();
    let segs = store
        .segments(
            CameraId(1),
            MAIN_RENDITION,
            Time90k(0),
            Time90k(i64::MAX / 2),
        )
        .unwrap();
    for s in &segs {
        store
            .read_media(s)
            .await
            .unwrap_or_else(|e| panic!("segment {} is served without its object: {e}", s.row.id.0));
    }
    segs.len()
}

#[tokio::test]
async fn a_kill_at_each_step_of_destruction_converges() {
    let dir = tempfile::tempdir().unwrap();
    let recorded = dir.path().join("recorded");
    let mut demo = Demo::start(
        &recorded,
        1,
        &["--segment-seconds", "1", "--retention-hours", "1"],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while segment_files(&recorded) < 4 {
        assert!(Instant::now() < deadline, "no segments:\n{}", demo.output());
        std::thread::sleep(Duration::from_millis(200));
    }
    demo.kill();
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let later = Time90k((secs + 3 * 3600) * 90_000).to_rfc3339();

    for point in POINTS {
        let data = dir.path().join(point);
        copy_dir(&recorded, &data);
        let d = data.to_str().unwrap();
        let before = segment_files(&data);
        assert!(before >= 4);
        let status = Command::new(env!("CARGO_BIN_EXE_veil"))
            .args(["retention", "run", "--data", d, "--now", &later])
            .env(veil_store::CRASH_AT_ENV, point)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.signal(), Some(9), "{point}: not killed ({status})");

        // Killed: whatever the store still serves plays.
        let served = served_segments_open(&data).await;
        match point {
            "retention.recorded" => assert!(served >= 4, "{point}: nothing destroyed yet"),
            _ => assert_eq!(served, 0, "{point}: the destroyed hours are not served"),
        }

        // Restarted: the run finishes what was planned.
        let (ok, out) = run_veil(&["retention", "run", "--data", d, "--now", &later]);
        assert!(ok, "{point}: {out}");
        let (ok, out) = run_veil(&["check", "--data", d]);
        assert!(ok, "{point}: {out}");
        assert_eq!(segment_files(&data), 0, "{point}: objects left");
        let (ok, out) = run_veil(&["retention", "plan", "--data", d, "--now", &later]);
        assert!(ok && out.contains("nothing is due"), "{point}: {out}");
        let (ok, out) = run_veil(&["audit", "export", "--data", d]);
        assert!(ok, "{point}: {out}");
        assert!(out.contains("retention.destroy"), "{point}: {out}");
        let (ok, out) = run_veil(&["audit", "verify", "--data", d]);
        assert!(ok, "{point}: {out}");
    }
}
