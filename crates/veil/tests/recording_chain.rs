//! `veil audit verify` checks the recording integrity chains against the
//! rows and the objects: a segment row deleted in SQL or two segments'
//! objects swapped on disk are named by camera, rendition, link and segment.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use veil_audit::{AccessRecord, AuditKey, Checkpointing, ClientAddressPolicy};
use veil_base::{CameraId, SimulatedClock, Time90k};
use veil_media::synthetic::SyntheticConfig;
use veil_store::{recorder, Store, MAIN_RENDITION};

const START: i64 = 1_795_000_000 * 90_000;

/// A data directory with 5 segments of one camera, its chain's head signed
/// in the access record. Returns the camera and the segments' (id, object
/// key).
async fn recorded(dir: &Path) -> (CameraId, Vec<(i64, String)>) {
    let clock = Arc::new(SimulatedClock::new(Time90k(START)));
    let store = Store::open_dir(dir, clock.clone()).unwrap();
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
        seed: 1,
    };
    for n in recorder::synthetic_segments(cam, config, Time90k(START), 251, 180_000).unwrap() {
        store.write_segment(n).await.unwrap();
    }
    let record = AccessRecord::open(
        store.db.clone(),
        clock,
        ClientAddressPolicy::Full,
        Some(Checkpointing {
            key: Arc::new(AuditKey::load_or_create(&dir.join("audit.key")).unwrap()),
            every_entries: 100,
            every: Duration::from_secs(3600),
            sink: None,
        }),
    )
    .unwrap();
    record.checkpoint().unwrap().unwrap();
    record.shutdown();
    let rows = store
        .db
        .segments(cam, MAIN_RENDITION, Time90k(0), Time90k(i64::MAX))
        .unwrap()
        .into_iter()
        .map(|r| (r.id.0, r.object_key))
        .collect();
    (cam, rows)
}

fn verify(dir: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(["audit", "verify", "--data", dir.to_str().unwrap()])
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

#[tokio::test]
async fn a_deleted_row_or_swapped_objects_break_the_recording_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (cam, rows) = recorded(dir.path()).await;
    assert_eq!(rows.len(), 5);
    let (ok, text) = verify(dir.path());
    assert!(ok, "{text}");
    assert!(
        text.contains("1 recording chains verified: 5 links, 5 segment rows, 5 objects hashed; 1 chains' heads signed"),
        "{text}"
    );

    let objects = dir.path().join("objects");
    let (p1, p3) = (objects.join(&rows[1].1), objects.join(&rows[3].1));
    let (o1, o3) = (std::fs::read(&p1).unwrap(), std::fs::read(&p3).unwrap());
    std::fs::write(&p1, &o3).unwrap();
    std::fs::write(&p3, &o1).unwrap();
    let (ok, text) = verify(dir.path());
    assert!(!ok, "swapped objects not detected: {text}");
    assert!(
        text.contains(&format!(
            "recording chain broken: camera {} rendition main link 2: segment {}'s object",
            cam.0, rows[1].0
        )),
        "{text}"
    );
    std::fs::write(&p1, &o1).unwrap();
    std::fs::write(&p3, &o3).unwrap();
    assert!(verify(dir.path()).0);

    let c = rusqlite::Connection::open(dir.path().join("veil.db")).unwrap();
    c.execute("DELETE FROM segment WHERE id = ?1", [rows[2].0])
        .unwrap();
    drop(c);
    let (ok, text) = verify(dir.path());
    assert!(!ok, "deleted row not detected: {text}");
    assert!(
        text.contains(&format!(
            "recording chain broken: camera {} rendition main link 3: segment {}'s row is gone and no removal link lists it",
            cam.0, rows[2].0
        )),
        "{text}"
    );
}

/// Erasure of a marked interval (a data-subject request) shows in the
/// recording chain: `veil audit verify` passes afterwards and names the
/// erasure's removal link with the request, the time it covers and the
/// segments it removed, next to the count per reason.
#[tokio::test]
async fn an_erasure_verifies_and_shows_in_the_recording_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (cam, rows) = recorded(dir.path()).await;
    assert_eq!(rows.len(), 5);
    let clock = Arc::new(SimulatedClock::new(Time90k(START + 3600 * 90_000)));
    let store = Store::open_dir(dir.path(), clock.clone()).unwrap();
    // 3.5 s to 4.5 s: inside the second segment (2 s to 4 s) and the third.
    let plan = store
        .erasure_plan(cam, Time90k(START + 315_000), Time90k(START + 405_000))
        .await
        .unwrap();
    assert!(!plan.is_empty());
    let done = store.erase(&plan, "request=7").await.unwrap();
    assert!(
        done.segments_destroyed + done.segments_rewritten >= 2,
        "{done:?}"
    );
    // The server signs the moved heads at its next checkpoint.
    let record = AccessRecord::open(
        store.db.clone(),
        clock,
        ClientAddressPolicy::Full,
        Some(Checkpointing {
            key: Arc::new(AuditKey::load_or_create(&dir.path().join("audit.key")).unwrap()),
            every_entries: 100,
            every: Duration::from_secs(3600),
            sink: None,
        }),
    )
    .unwrap();
    record.checkpoint().unwrap().unwrap();
    record.shutdown();
    drop(store);

    let (ok, text) = verify(dir.path());
    assert!(ok, "{text}");
    assert!(
        text.contains("removals (erasure): 1 links removing 2 segments"),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("erasure: "))
        .unwrap_or_else(|| panic!("no erasure line: {text}"));
    assert!(
        line.starts_with(&format!("erasure: camera {} rendition main link ", cam.0)),
        "{line}"
    );
    assert!(
        line.contains("reason=erasure request=7 segments="),
        "{line}"
    );
    assert!(
        line.contains(&format!("{}", rows[1].0)) && line.contains(&format!("{}", rows[2].0)),
        "{line}"
    );
}
