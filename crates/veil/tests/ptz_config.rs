//! A camera from the configuration file with `ptz_control = true` and privacy
//! masks: `veil serve` refuses to start, naming the camera and why (masks
//! are fixed to the picture), and the stored flags do not change.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{free_port, run_veil};
use veil_base::{SystemClock, Time90k};
use veil_store::Store;

const SOURCE: &str = "{ kind = \"synthetic\", width = 320, height = 240 }";

fn config(dir: &Path, control: bool) -> std::path::PathBuf {
    let path = dir.join("veil.toml");
    std::fs::write(
        &path,
        format!(
            "data_dir = {:?}\nlisten = \"127.0.0.1:{}\"\n\
             [[camera]]\nname = \"Dome\"\nptz_capable = true\nptz_control = {control}\n\
             source = {SOURCE}\n",
            dir.join("data"),
            free_port()
        ),
    )
    .unwrap();
    path
}

/// The stored (capable, control) flags of the camera.
fn stored(data: &Path) -> (bool, bool) {
    let db = rusqlite::Connection::open(data.join("veil.db")).unwrap();
    db.query_row(
        "SELECT ptz_capable, ptz_control FROM camera WHERE name = 'Dome'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

#[test]
fn a_configured_camera_with_masks_cannot_enable_ptz_control() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let store = Store::open_dir(&data, Arc::new(SystemClock)).unwrap();
        let id = store
            .db
            .upsert_camera("Dome", "synthetic", "{\"kind\": \"synthetic\"}", Time90k(0))
            .unwrap();
        let masks = r#"[{"kind": "permanent", "fill": "solid", "name": "Window",
            "reason": "A home across the street is in view", "scope": "all",
            "polygon": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.4]]}]"#;
        store
            .db
            .insert_mask_version(id, masks, None, Time90k(0))
            .unwrap();
    }
    let (ok, out) = run_veil(&[
        "serve",
        "--config",
        config(dir.path(), true).to_str().unwrap(),
    ]);
    assert!(!ok, "started with masks and PTZ control: {out}");
    assert!(
        out.contains("\"Dome\" has privacy masks") && out.contains("fixed to the picture"),
        "{out}"
    );
    assert_eq!(stored(&data), (false, false), "nothing stored");
}
