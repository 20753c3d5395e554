//! Live view across nodes (issue 17, item 5; `docs/design/scale-out.md`,
//! "The internal channel"): a recorder on a shared database must name where
//! it serves the internal channel.
//!
//! The channel itself (mutual TLS from the root key, refusing peers of
//! another root key or without a certificate; the stream's messages) is
//! tested in `veil-web`'s `internal` unit tests.

mod common;

#[path = "../../veil-store/tests/common/postgres.rs"]
mod postgres_server;

use common::{free_port, run_veil};
use postgres_server::PgServer;

#[test]
fn a_recorder_on_a_shared_database_without_internal_listen_is_refused() {
    let pg = PgServer::start();
    let url = pg.fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let file = dir.path().join("veil.toml");
    std::fs::write(
        &file,
        format!(
            "data_dir = \"{}\"\nlisten = \"127.0.0.1:{}\"\n\n[database]\nurl = \"{url}\"\n\n\
             [node]\nid = \"rec-1\"\n",
            data.display(),
            free_port()
        ),
    )
    .unwrap();
    let (ok, out) = run_veil(&[
        "serve",
        "--config",
        file.to_str().unwrap(),
        "--role",
        "recorder",
    ]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("[node] internal_listen = \"HOST:PORT\" is required"),
        "{out}"
    );
}
