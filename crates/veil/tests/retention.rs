//! `veil retention plan|run` on a data directory recorded by `veil demo`.

mod common;

use std::time::{Duration, Instant};

use common::{run_veil, Demo};

/// Segment objects under the data directory.
fn segment_files(dir: &std::path::Path) -> usize {
    fn walk(p: &std::path::Path, n: &mut usize) {
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

fn now_90k() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    secs * 90_000
}

#[test]
fn retention_destroys_only_what_is_due_and_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let mut demo = Demo::start(
        &data,
        1,
        &["--segment-seconds", "1", "--retention-hours", "1"],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while segment_files(&data) < 3 {
        assert!(
            Instant::now() < deadline,
            "no segments recorded:\n{}",
            demo.output()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    demo.kill();
    let recorded = segment_files(&data);

    // Nothing is due yet: a one-hour retention keeps this hour until its end
    // plus an hour.
    let (ok, out) = run_veil(&["retention", "plan", "--data", d]);
    assert!(ok, "{out}");
    assert!(out.contains("retention: 1 hours"), "{out}");
    assert!(
        out.contains("nothing is due") && out.contains("next expiry: 20"),
        "{out}"
    );
    let (ok, out) = run_veil(&["retention", "run", "--data", d]);
    assert!(ok, "{out}");
    assert!(
        out.contains("destroyed: 0 bucket keys, 0 segments"),
        "{out}"
    );
    assert!(segment_files(&data) >= recorded);

    // Three hours later everything recorded is due, and destroyed.
    let later = veil_base::Time90k(now_90k() + 3 * 3600 * 90_000).to_rfc3339();
    let (ok, out) = run_veil(&["retention", "plan", "--data", d, "--now", &later]);
    assert!(ok, "{out}");
    assert!(
        out.contains("\"Synthetic 1\": 1 hour") || out.contains("\"Synthetic 1\": 2 hours"),
        "{out}"
    );
    let (ok, out) = run_veil(&["retention", "run", "--data", d, "--now", &later]);
    assert!(ok, "{out}");
    assert!(!out.contains("destroyed: 0 bucket keys"), "{out}");
    assert_eq!(segment_files(&data), 0, "{out}");
    let (ok, out) = run_veil(&["retention", "plan", "--data", d, "--now", &later]);
    assert!(ok && out.contains("nothing is due"), "{out}");
    assert!(out.contains("next expiry: none"), "{out}");

    // The access record has the setting and the destruction, and verifies.
    let (ok, out) = run_veil(&["audit", "export", "--data", d]);
    assert!(ok, "{out}");
    assert!(out.contains("config.retention"), "{out}");
    let destroy = out
        .lines()
        .find(|l| l.contains("retention.destroy"))
        .unwrap_or_else(|| panic!("no retention.destroy entry:\n{out}"));
    assert!(
        destroy.contains("\"cli\"") && destroy.contains("camera:1"),
        "{destroy}"
    );
    let (ok, out) = run_veil(&["audit", "verify", "--data", d]);
    assert!(ok, "{out}");
}
