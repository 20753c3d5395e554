//! The binary's hardening: the files it writes are its owner's only, the
//! server dumps no core, and a lost or wrong root key stops every command that
//! opens the data directory instead of being replaced.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::Demo;

/// Every file and directory under `dir`, `dir` included.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(tree(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Waits until a segment is stored (its object, then its row) under `data`.
fn wait_for_a_segment(data: &Path, demo: &Demo) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let rows = || {
        let db = rusqlite::Connection::open_with_flags(
            data.join("veil.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .ok()?;
        db.query_row("SELECT COUNT(*) FROM segment", [], |r| r.get::<_, i64>(0))
            .ok()
    };
    while rows().unwrap_or(0) == 0 {
        assert!(
            Instant::now() < deadline,
            "no segment stored; output:\n{}",
            demo.output()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_server_keeps_its_files_private_and_dumps_no_core() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let demo = Demo::start(&data, 1, &["--segment-seconds", "1"]);
    wait_for_a_segment(&data, &demo);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", demo.child.id())).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .expect("a core limit line");
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&fields[4..6], ["0", "0"], "{core}");
    // Every file and directory the server made is its owner's only (umask
    // 077), whatever the umask it was started with.
    for p in tree(&data) {
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} has mode {mode:o}", p.display());
    }
}

#[test]
fn a_lost_or_wrong_root_key_stops_every_command_and_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    {
        let mut demo = Demo::start(&data, 1, &["--segment-seconds", "1"]);
        wait_for_a_segment(&data, &demo);
        demo.kill();
    }
    let key = data.join("root.key");
    let original = std::fs::read(&key).unwrap();
    std::fs::remove_file(&key).unwrap();
    let port = common::free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    for args in [
        vec!["demo", "--data", d, "--listen", &listen],
        vec!["check", "--data", d],
        vec!["admin", "users", "--data", d],
    ] {
        let (ok, out) = common::run_veil(&args);
        assert!(!ok, "{args:?} ran without its root key:\n{out}");
        assert!(out.contains(&key.display().to_string()), "{args:?}: {out}");
        assert!(out.contains("Restore root.key"), "{args:?}: {out}");
        assert!(!key.exists(), "{args:?} created a new root key");
    }
    // A wrong key is refused too.
    let mut f = std::fs::OpenOptions::new();
    std::os::unix::fs::OpenOptionsExt::mode(f.write(true).create_new(true), 0o600);
    std::io::Write::write_all(
        &mut f.open(&key).unwrap(),
        format!("{}\n", "5a".repeat(32)).as_bytes(),
    )
    .unwrap();
    let (ok, out) = common::run_veil(&["check", "--data", d]);
    assert!(
        !ok && out.contains("is not the key of this database"),
        "{out}"
    );
    // The right key: `veil check` runs and restores a segment that a
    // transient fault had marked.
    std::fs::write(&key, &original).unwrap();
    let db = rusqlite::Connection::open(data.join("veil.db")).unwrap();
    db.execute(
        "UPDATE segment SET state = 'corrupt' WHERE id = (SELECT MIN(id) FROM segment)",
        [],
    )
    .unwrap();
    drop(db);
    let (ok, out) = common::run_veil(&["check", "--data", d]);
    assert!(ok, "{out}");
    assert!(out.contains("segments restored: 1"), "{out}");
    assert!(out.contains("segments still unreadable: 0"), "{out}");
    // A data directory others can read is refused, with the command.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (ok, out) = common::run_veil(&["check", "--data", d]);
    assert!(!ok && out.contains(&format!("chmod 700 {d}")), "{out}");
}
