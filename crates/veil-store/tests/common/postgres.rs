//! A throw-away PostgreSQL server for integration tests, in any crate:
//!
//! ```ignore
//! #[path = "../../veil-store/tests/common/postgres.rs"]
//! mod postgres_server;
//! let pg = postgres_server::PgServer::start();
//! let url = pg.fresh_database(); // postgres://veil@127.0.0.1:PORT/veil_test_1
//! ```
//!
//! The server runs from a temporary directory on a free loopback port, with
//! trust authentication for the superuser `veil`, `fsync` off and the `C`
//! collation; it is stopped (`pg_ctl -m fast`) and its directory removed on
//! drop. The binaries are found through `VEIL_PG_BIN` or under
//! `/usr/lib/postgresql/*/bin` (Debian's `postgresql`, installed by
//! `scripts/test`); without them the test fails, never skips. `initdb`
//! refuses to run as root: as root the server runs as the `postgres` user
//! (`runuser`), in a directory that user owns. Only the standard library is
//! used, so a crate needs no new dependency to start one.

#![allow(dead_code)]

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// A running (or stopped, between `stop` and `start_again`) test server.
pub struct PgServer {
    bin: PathBuf,
    /// Holds `data/` (the cluster), the server's socket and `server.log`.
    base: PathBuf,
    port: u16,
    as_postgres_user: bool,
    running: bool,
    databases: AtomicU32,
    /// Extra server options (`-c ssl=on …`).
    options: String,
}

/// The directory of `initdb` and `pg_ctl`.
fn find_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("VEIL_PG_BIN") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("initdb").is_file(),
            "VEIL_PG_BIN={} holds no initdb: point it at PostgreSQL's bin directory or \
             run scripts/test (it installs Debian's postgresql)",
            dir.display()
        );
        return dir;
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL's server binaries (initdb, pg_ctl) were not found: run scripts/test \
             (it installs Debian's postgresql) or set VEIL_PG_BIN to their directory"
        ),
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn run(mut cmd: Command, what: &str) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl PgServer {
    /// Creates a cluster in a new temporary directory and starts it.
    pub fn start() -> PgServer {
        Self::start_with(None)
    }

    /// Like [`PgServer::start`], with TLS on (`-c ssl=on`): `cert` and `key`
    /// (PEM) are written into the server's directory, the key owned by the
    /// server's user with mode 0600 as the server demands.
    #[allow(dead_code)]
    pub fn start_tls(cert: &str, key: &str) -> PgServer {
        Self::start_with(Some((cert, key)))
    }

    fn start_with(tls: Option<(&str, &str)>) -> PgServer {
        static SERVERS: AtomicU32 = AtomicU32::new(0);
        let bin = find_bin();
        let as_postgres_user = is_root();
        let base = std::env::temp_dir().join(format!(
            "veil-pg-{}-{}",
            std::process::id(),
            SERVERS.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).expect("the server's directory");
        let mut server = PgServer {
            bin,
            base,
            port: 0,
            as_postgres_user,
            running: false,
            databases: AtomicU32::new(0),
            options: String::new(),
        };
        if let Some((cert, key)) = tls {
            use std::os::unix::fs::PermissionsExt;
            let (cert_file, key_file) = (
                server.base.join("server.crt"),
                server.base.join("server.key"),
            );
            std::fs::write(&cert_file, cert).unwrap();
            std::fs::write(&key_file, key).unwrap();
            std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
            server.options = format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                cert_file.display(),
                key_file.display()
            );
        }
        if as_postgres_user {
            let mut chown = Command::new("chown");
            chown.arg("-R").arg("postgres:postgres").arg(&server.base);
            run(chown, "chown postgres").unwrap();
        }
        let mut initdb = server.command("initdb");
        initdb
            .arg("-D")
            .arg(server.data())
            .args(["-A", "trust", "-U", "veil", "--no-sync"])
            .args(["-E", "UTF8", "--locale=C"]);
        run(initdb, "initdb").unwrap();
        // A port found free may be taken before the server binds it: retry.
        let mut last = String::new();
        for _ in 0..5 {
            server.port = free_port();
            match server.pg_ctl_start() {
                Ok(()) => {
                    server.running = true;
                    return server;
                }
                Err(e) => last = e,
            }
        }
        panic!("PostgreSQL did not start: {last}\n{}", server.log());
    }

    /// A command of the server's binaries, as the `postgres` user when root.
    fn command(&self, tool: &str) -> Command {
        let mut cmd = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(self.bin.join(tool));
            c
        } else {
            Command::new(self.bin.join(tool))
        };
        // The tools may change into the working directory, which the
        // `postgres` user may not be able to read.
        cmd.current_dir(&self.base);
        cmd
    }

    fn data(&self) -> PathBuf {
        self.base.join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.base.join("server.log")
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.log_path())
            .arg("-w")
            .arg("-o")
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off{}",
                self.port,
                self.base.display(),
                self.options
            ))
            .arg("start")
            .stdout(Stdio::null());
        run(cmd, "pg_ctl start")
    }

    /// The port the server listens on (127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://veil@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        self.url_of("postgres")
    }

    /// The URL of database `name` on this server.
    pub fn url_of(&self, name: &str) -> String {
        format!("postgres://veil@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates database `name` (owned by `veil`) and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        let mut cmd = Command::new(self.bin.join("createdb"));
        cmd.args(["-h", "127.0.0.1", "-U", "veil", "-p"])
            .arg(self.port.to_string())
            .arg(name)
            .current_dir(&self.base);
        run(cmd, "createdb").unwrap();
        self.url_of(name)
    }

    /// Creates a new, empty database with a name not used before on this
    /// server (`veil_test_N`) and returns its URL.
    pub fn fresh_database(&self) -> String {
        let n = self.databases.fetch_add(1, Ordering::Relaxed) + 1;
        self.create_database(&format!("veil_test_{n}"))
    }

    /// Stops the server (`pg_ctl -m fast`): connections are closed.
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null());
        run(cmd, "pg_ctl stop").unwrap();
        self.running = false;
    }

    /// Starts the stopped server again on the same port.
    pub fn start_again(&mut self) {
        if self.running {
            return;
        }
        if let Err(e) = self.pg_ctl_start() {
            panic!("PostgreSQL did not start again: {e}\n{}", self.log());
        }
        self.running = true;
    }

    /// Stops the server and starts it again on the same port, as a
    /// database restart seen by a running Veil.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Whether the server is running (between `start`/`start_again` and
    /// `stop`).
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// The directory of the PostgreSQL binaries in use (`psql` is there).
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if self.running {
            let mut cmd = self.command("pg_ctl");
            cmd.arg("-D")
                .arg(self.data())
                .args(["-m", "fast", "-w", "stop"])
                .stdout(Stdio::null());
            if let Err(e) = run(cmd, "pg_ctl stop") {
                eprintln!("{e}");
            }
        }
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// Whether this process runs as root (`id -u`, so no crate is needed).
fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}
