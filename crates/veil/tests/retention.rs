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

/// Whether `camera` has any recording left (after the store is reopened).
fn has_recordings(data: &std::path::Path, camera: i64) -> bool {
    let clock: veil_base::SharedClock = std::sync::Arc::new(veil_base::SystemClock);
    let store = veil_store::Store::open_dir(data, clock).unwrap();
    !store
        .runs(
            veil_base::CameraId(camera),
            veil_store::MAIN_RENDITION,
            veil_base::Time90k(0),
            veil_base::Time90k(i64::MAX / 2),
        )
        .unwrap()
        .is_empty()
}

#[test]
fn each_camera_is_destroyed_by_its_own_retention() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let mut demo = Demo::start(&data, 3, &["--segment-seconds", "1"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while segment_files(&data) < 9 {
        assert!(
            Instant::now() < deadline,
            "no segments recorded:\n{}",
            demo.output()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    demo.kill();
    // Camera 1 keeps its recordings one hour, camera 2 is public-facing (48
    // hours), camera 3 has the installation's 7 days.
    {
        let clock: veil_base::SharedClock = std::sync::Arc::new(veil_base::SystemClock);
        let store = veil_store::Store::open_dir(&data, clock).unwrap();
        store
            .db
            .set_camera_retention(
                veil_base::CameraId(1),
                &[(
                    "main".to_owned(),
                    veil_store::db::RetentionChange::Set {
                        hours: 1,
                        justification: String::new(),
                    },
                )],
                veil_base::Time90k(now_90k()),
            )
            .unwrap();
        store
            .db
            .set_camera_area(veil_base::CameraId(2), "public_facing")
            .unwrap();
    }
    let (ok, out) = run_veil(&["retention", "plan", "--data", d]);
    assert!(ok, "{out}");
    assert!(
        out.contains("retention: 168 hours")
            && out.contains("\"Synthetic 1\": 1 hours (camera rule)")
            && out.contains("\"Synthetic 2\": 48 hours (area rule)")
            && !out.contains("\"Synthetic 3\": "),
        "{out}"
    );

    let at = |hours: i64| veil_base::Time90k(now_90k() + hours * 3600 * 90_000).to_rfc3339();
    // Three hours later: camera 1's recordings are destroyed, the others kept.
    let (ok, out) = run_veil(&["retention", "run", "--data", d, "--now", &at(3)]);
    assert!(ok && !out.contains("destroyed: 0 bucket keys"), "{out}");
    assert!(!has_recordings(&data, 1));
    assert!(has_recordings(&data, 2) && has_recordings(&data, 3));
    // Three days later: the public-facing camera's too, not camera 3's.
    let (ok, out) = run_veil(&["retention", "run", "--data", d, "--now", &at(72)]);
    assert!(ok && !out.contains("destroyed: 0 bucket keys"), "{out}");
    assert!(!has_recordings(&data, 2));
    assert!(has_recordings(&data, 3));
    let (ok, out) = run_veil(&["retention", "run", "--data", d, "--now", &at(24 * 8)]);
    assert!(ok, "{out}");
    assert!(!has_recordings(&data, 3));
    assert_eq!(segment_files(&data), 0);
    let (ok, out) = run_veil(&["audit", "export", "--data", d]);
    assert!(ok, "{out}");
    let destroyed: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("retention.destroy"))
        .collect();
    for camera in ["camera:1", "camera:2", "camera:3"] {
        assert!(
            destroyed.iter().any(|l| l.contains(camera)),
            "{camera}: {destroyed:?}"
        );
    }
}
