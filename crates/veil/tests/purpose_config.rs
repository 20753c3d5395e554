//! Cameras' documented purposes in the configuration file (P8): `veil
//! serve` stores the `[organisation]` and each camera's purpose at start,
//! recorded as `config.purpose` with `source=configuration`; a camera
//! without purpose keys records nothing; a purpose naming a site the
//! organisation does not have stops the start, naming the camera.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{free_port, run_veil, Demo, ORGANISATION, PURPOSE};

fn config(dir: &Path, door_purpose: &str) -> std::path::PathBuf {
    let path = dir.join("veil.toml");
    std::fs::write(
        &path,
        format!(
            "data_dir = {:?}\nlisten = \"127.0.0.1:{}\"\n[recording]\nsegment_seconds = 1\n\
             [[camera]]\nname = \"Door\"\nsource = {{ kind = \"synthetic\", width = 160, height = 120 }}\n\
             {door_purpose}\n\
             [[camera]]\nname = \"Lobby\"\nsource = {{ kind = \"synthetic\", width = 160, height = 120 }}\n\
             {ORGANISATION}",
            dir.join("data"),
            free_port()
        ),
    )
    .unwrap();
    path
}

/// Segments stored per camera name.
fn segments(db: &rusqlite::Connection) -> Vec<(String, i64)> {
    let mut st = db
        .prepare(
            "SELECT c.name, (SELECT COUNT(*) FROM segment s WHERE s.camera_id = c.id)
             FROM camera c ORDER BY c.name",
        )
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn a_site_the_organisation_lacks_stops_the_start_naming_the_camera() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(
        dir.path(),
        &PURPOSE.replace("site = \"test\"", "site = \"depot\""),
    );
    let (ok, out) = run_veil(&["serve", "--config", path.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("camera \"Door\": site: unknown site \"depot\""),
        "{out}"
    );
    assert!(!dir.path().join("data").join("veil.db").exists());
}

#[test]
fn the_configurations_purposes_and_organisation_are_stored_and_only_documented_cameras_record() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = config(dir.path(), PURPOSE);
    let mut serve = Demo::serve(&path, &data);
    let db = rusqlite::Connection::open(data.join("veil.db")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = segments(&db);
        if s.iter().any(|(n, c)| n == "Door" && *c >= 2) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Door records nothing: {s:?}\n{}",
            serve.output()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    serve.kill();
    let s = segments(&db);
    assert!(
        s.contains(&("Lobby".to_owned(), 0)),
        "a camera without a purpose records nothing: {s:?}"
    );
    let purpose: String = db
        .query_row("SELECT purpose FROM camera WHERE name = 'Door'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let p: veil_dpo::model::Purpose = serde_json::from_str(&purpose).unwrap();
    assert_eq!((p.site.as_str(), p.legal_basis.letter()), ("test", "c"));
    let lobby: Option<String> = db
        .query_row("SELECT purpose FROM camera WHERE name = 'Lobby'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(lobby, None);
    let org: String = db
        .query_row(
            "SELECT value FROM setting WHERE key = 'organisation'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(org.contains("\"Test site\""), "{org}");
    let details: Vec<String> = db
        .prepare("SELECT detail FROM audit WHERE action = 'config.purpose'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        details,
        ["legal_basis=c detail=recognition site=test purposes=1 source=configuration"]
    );
}

#[test]
fn a_site_renamed_in_the_file_moves_the_cameras_the_file_documents() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = config(dir.path(), PURPOSE);
    Demo::serve(&path, &data).kill();
    // The site `test` becomes `hall`, with the file's camera moved to it.
    let renamed = |text: &str| text.replace("\"test\"", "\"hall\"");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, renamed(&text)).unwrap();
    Demo::serve(&path, &data).kill();
    let db = rusqlite::Connection::open(data.join("veil.db")).unwrap();
    let purpose: String = db
        .query_row("SELECT purpose FROM camera WHERE name = 'Door'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let p: veil_dpo::model::Purpose = serde_json::from_str(&purpose).unwrap();
    assert_eq!(p.site, "hall");

    // A purpose set outside the file (over the API) still names the old
    // site: dropping it stops the start, naming the camera.
    db.execute(
        "UPDATE camera SET purpose = ?1 WHERE name = 'Lobby'",
        [&purpose],
    )
    .unwrap();
    drop(db);
    std::fs::write(&path, text.replace("\"test\"", "\"yard\"")).unwrap();
    let (ok, out) = run_veil(&["serve", "--config", path.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("camera \"Lobby\"'s purpose names site \"hall\""),
        "{out}"
    );
}
