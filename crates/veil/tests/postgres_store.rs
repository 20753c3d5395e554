//! `[database] url` in veil.toml: `veil check` creates an installation in an
//! empty PostgreSQL database (no `veil.db` in the data directory) and `veil
//! audit verify` reads its access record from there; `veil admin` account
//! commands and `veil retention plan` with `--config` work on it; `veil serve`, `veil
//! check` and `veil audit verify` refuse an unreachable database within
//! seconds, naming the database and its address without the password.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::nodes::postgres_server::PgServer;

fn config(dir: &Path, data: &Path, url: &str) -> PathBuf {
    let config = dir.join("veil.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nlisten = \"127.0.0.1:{}\"\n\n[database]\nurl = \"{url}\"\n{}",
            data.display(),
            common::free_port(),
            common::ORGANISATION,
        ),
    )
    .unwrap();
    config
}

/// An installation on a fresh PostgreSQL database, created by `veil check`
/// (which must pass): its server (kept running), directory, data directory,
/// configuration file, and the check's output.
fn installation() -> (PgServer, tempfile::TempDir, PathBuf, PathBuf, String) {
    let pg = PgServer::start();
    let url = pg.fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let c = config(dir.path(), &data, &url);
    let (ok, out) = common::run_veil(&[
        "check",
        "--data",
        data.to_str().unwrap(),
        "--config",
        c.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    (pg, dir, data, c, out)
}

#[test]
fn check_and_audit_verify_run_on_a_postgresql_database() {
    let (_pg, _dir, data, c, out) = installation();
    let (c, d) = (c.to_str().unwrap(), data.to_str().unwrap());
    assert!(out.contains("integrity: ok"), "{out}");
    assert!(
        !data.join("veil.db").exists(),
        "no SQLite beside PostgreSQL"
    );
    assert!(
        data.join("root.key").exists(),
        "the file root key is the node's"
    );
    // Again: the installation exists now (the same root key opens it).
    let (ok, out) = common::run_veil(&["check", "--data", d, "--config", c]);
    assert!(ok, "{out}");
    let (ok, out) = common::run_veil(&["audit", "verify", "--data", d, "--config", c]);
    assert!(ok, "{out}");
    // Another key in the directory: refused, the database is not new.
    std::fs::remove_file(data.join("root.key")).unwrap();
    let (ok, out) = common::run_veil(&["check", "--data", d, "--config", c]);
    assert!(!ok, "{out}");
    assert!(out.contains("root key"), "{out}");
}

#[test]
fn admin_and_retention_commands_take_the_configuration_of_a_postgresql_installation() {
    let (_pg, _dir, data, c, _) = installation();
    let (c, d) = (c.to_str().unwrap(), data.to_str().unwrap());
    // Without the file the commands look for the data directory's veil.db
    // (as before), which a PostgreSQL installation does not have.
    let (ok, out) = common::run_veil(&["admin", "users", "--data", d]);
    assert!(!ok && out.contains("has no database"), "{out}");
    let (ok, out) = common::run_veil(&[
        "admin",
        "add-user",
        "maria.lopez",
        "--roles",
        "operator",
        "--data",
        d,
        "--config",
        c,
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("user: maria.lopez password: "), "{out}");
    let (ok, out) = common::run_veil(&[
        "admin",
        "set-roles",
        "maria.lopez",
        "--roles",
        "operator,auditor",
        "--data",
        d,
        "--config",
        c,
    ]);
    assert!(ok, "{out}");
    let (ok, out) = common::run_veil(&[
        "admin",
        "disable",
        "maria.lopez",
        "--data",
        d,
        "--config",
        c,
    ]);
    assert!(ok, "{out}");
    let (ok, out) = common::run_veil(&["admin", "users", "--data", d, "--config", c]);
    assert!(ok, "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("\tmaria.lopez\t"))
        .unwrap_or_else(|| panic!("no account listed: {out}"));
    assert!(
        line.contains("auditor,operator") && line.contains("disabled"),
        "{line}"
    );
    let (ok, out) = common::run_veil(&["admin", "roles", "--data", d, "--config", c]);
    assert!(ok && out.contains("\"operator\""), "{out}");
    // Each change is in the installation's access record, which still verifies.
    let (ok, out) = common::run_veil(&["audit", "verify", "--data", d, "--config", c]);
    assert!(ok, "{out}");
    let (ok, out) = common::run_veil(&["retention", "plan", "--data", d, "--config", c]);
    assert!(ok, "{out}");
    assert!(out.contains("next expiry"), "{out}");
    let (ok, out) = common::run_veil(&["check", "--data", d, "--config", c]);
    assert!(ok && out.contains("integrity: ok"), "{out}");
    assert!(
        !data.join("veil.db").exists(),
        "no SQLite beside PostgreSQL"
    );
    // Another root key: the account commands are refused too.
    std::fs::remove_file(data.join("root.key")).unwrap();
    let (ok, out) = common::run_veil(&["admin", "users", "--data", d, "--config", c]);
    assert!(!ok && out.contains("root key"), "{out}");
}

#[test]
fn an_unreachable_database_is_refused_at_start_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = common::free_port();
    let url = format!("postgres://veil:pg-s3cret@127.0.0.1:{port}/veil");
    let shown = format!("postgres://veil:***@127.0.0.1:{port}/veil");
    let c = config(dir.path(), &data, &url);
    let (c, d) = (c.to_str().unwrap(), data.to_str().unwrap());
    for args in [
        vec!["serve", "--config", c],
        vec!["check", "--data", d, "--config", c],
        vec!["audit", "verify", "--data", d, "--config", c],
    ] {
        let started = Instant::now();
        let (ok, out) = common::run_veil(&args);
        let took = started.elapsed();
        assert!(!ok, "{args:?} succeeded: {out}");
        assert!(
            took < Duration::from_secs(15),
            "{args:?} took {took:?}: {out}"
        );
        assert!(
            out.contains("database") && out.contains(&shown),
            "{args:?}: {out}"
        );
        assert!(
            !out.contains("pg-s3cret"),
            "{args:?} printed the password: {out}"
        );
    }
    assert!(!data.join("veil.db").exists());
}

#[test]
fn keys_rotate_is_refused_while_another_node_is_live_on_the_database() {
    let pg = PgServer::start();
    let url = pg.fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let c = config(dir.path(), &data, &url);
    let (c, d) = (c.to_str().unwrap(), data.to_str().unwrap());
    let (ok, out) = common::run_veil(&["check", "--data", d, "--config", c]);
    assert!(ok, "{out}");
    // Another node's heartbeat, on the database's clock: live.
    let db = veil_store::Db::open_postgres(&url).unwrap();
    let now = db.database_time().unwrap().unwrap();
    db.heartbeat_node("rec-7", "recorder", "", now).unwrap();
    let before = db.root_key_versions().unwrap();
    let (ok, out) = common::run_veil(&["keys", "rotate", "--data", d, "--config", c]);
    assert!(!ok, "{out}");
    assert!(out.contains("rec-7"), "{out}");
    assert!(out.contains("stop every other node"), "{out}");
    assert_eq!(db.root_key_versions().unwrap(), before, "nothing changed");
    // Its heartbeat older than the lease expiry: it is stopped, and the
    // rotation runs.
    db.heartbeat_node(
        "rec-7",
        "recorder",
        "",
        veil_base::Time90k(now.0 - 16 * 90_000),
    )
    .unwrap();
    let (ok, out) = common::run_veil(&["keys", "rotate", "--data", d, "--config", c]);
    assert!(ok, "{out}");
    assert_eq!(db.root_key_versions().unwrap().len(), before.len() + 1);
}
