//! `veil serve --role`: roles other than `all` are refused on the embedded
//! database, a bad `[node] id` is refused, and a node's generated id is
//! kept in the data directory (0600) across restarts.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{free_port, run_veil, Demo};

fn config(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let data = dir.join("data");
    let file = dir.join("veil.toml");
    std::fs::write(
        &file,
        format!(
            "data_dir = \"{}\"\nlisten = \"127.0.0.1:{}\"\n{extra}",
            data.display(),
            free_port()
        ),
    )
    .unwrap();
    file
}

#[test]
fn roles_other_than_all_need_a_shared_database() {
    let dir = tempfile::tempdir().unwrap();
    let file = config(dir.path(), "");
    for role in ["recorder", "web"] {
        let (ok, out) = run_veil(&["serve", "--config", file.to_str().unwrap(), "--role", role]);
        assert!(!ok, "{out}");
        assert!(
            out.contains("roles need a shared PostgreSQL database ([database] url)"),
            "{out}"
        );
    }
    // Refused before anything is created.
    assert!(!dir.path().join("data").exists());
    let (ok, out) = run_veil(&[
        "serve",
        "--config",
        file.to_str().unwrap(),
        "--role",
        "nobody",
    ]);
    assert!(!ok && out.contains("--role"), "{out}");
}

#[test]
fn a_bad_node_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["", "a b", "x/y", &"n".repeat(65)] {
        let file = config(dir.path(), &format!("[node]\nid = \"{bad}\"\n"));
        let (ok, out) = run_veil(&["serve", "--config", file.to_str().unwrap()]);
        assert!(!ok, "{out}");
        assert!(out.contains("[node] id must be 1 to 64 letters"), "{out}");
    }
}

#[test]
fn a_generated_node_id_is_kept_in_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut demo = Demo::start(&data, 1, &[]);
    demo.kill();
    let file = data.join("node-id");
    let id = std::fs::read_to_string(&file).unwrap();
    let id = id.trim().to_owned();
    assert!(id.starts_with("node-") && id.len() == 21, "{id}");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The same id after a restart.
    let mut demo = Demo::start(&data, 1, &[]);
    demo.kill();
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), id);
}
