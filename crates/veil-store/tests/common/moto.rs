//! A throw-away S3-compatible server (moto) for integration tests, in any
//! crate:
//!
//! ```ignore
//! #[path = "../../veil-store/tests/common/moto.rs"]
//! mod moto;
//! let s3 = moto::MotoServer::start();
//! let bucket = s3.fresh_bucket(); // "veil-test-1", created
//! let endpoint = s3.endpoint(); // "http://127.0.0.1:PORT"
//! let creds = s3.credentials_file(dir.path()); // a 0600 TOML file
//! s3.pause(); /* SIGSTOP: requests hang, as in an outage */ s3.resume();
//! ```
//!
//! moto keeps its buckets in memory, so it runs on a free loopback port per
//! test and is killed on drop. `pause`/`resume` stop and continue the
//! process (SIGSTOP/SIGCONT): an outage that keeps the stored objects. The
//! server is `VEIL_MOTO_SERVER` (set by `scripts/test`, which installs a
//! pinned moto in a virtual environment), else `moto_server` on `PATH`;
//! without either the test fails, never skips. moto accepts any
//! credentials. Only the standard library is used, so a crate needs no new
//! dependency to start one.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The access key id of [`MotoServer::credentials_file`].
pub const ACCESS_KEY_ID: &str = "AKIAVEILTEST";
/// The secret of [`MotoServer::credentials_file`]: tests check it is never
/// printed.
pub const SECRET_ACCESS_KEY: &str = "veil-test-secret-5f1c2e9a7b";

/// A running moto server.
pub struct MotoServer {
    child: Child,
    port: u16,
    buckets: AtomicU32,
}

fn program() -> PathBuf {
    if let Some(p) = std::env::var_os("VEIL_MOTO_SERVER") {
        let p = PathBuf::from(p);
        assert!(
            p.exists(),
            "VEIL_MOTO_SERVER={} does not exist: run scripts/test (it installs moto)",
            p.display()
        );
        return p;
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("moto_server"))
            .find(|p| p.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "the S3-compatible test server moto_server was not found: run scripts/test (it \
             installs moto into target/moto/venv and sets VEIL_MOTO_SERVER) or put \
             moto_server on PATH"
        )
    })
}

/// A loopback port nobody listens on (for "unreachable" tests too).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// One plain HTTP/1.1 request; the status code and the body.
fn request(port: u16, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, out))
}

impl MotoServer {
    /// Starts moto on a free loopback port and waits until it answers.
    pub fn start() -> MotoServer {
        let program = program();
        let port = free_port();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let mut server = MotoServer {
            child,
            port,
            buckets: AtomicU32::new(0),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = request(port, "GET", "/") {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("moto_server exited at start ({status}); is port {port} free?");
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on port {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates a bucket (a plain PUT).
    pub fn create_bucket(&self, name: &str) {
        let (status, body) = request(self.port, "PUT", &format!("/{name}"))
            .unwrap_or_else(|e| panic!("cannot create bucket {name}: {e}"));
        assert_eq!(status, 200, "cannot create bucket {name}: {body}");
    }

    /// A new, empty bucket: `veil-test-N`.
    pub fn fresh_bucket(&self) -> String {
        let n = self.buckets.fetch_add(1, Ordering::Relaxed) + 1;
        let name = format!("veil-test-{n}");
        self.create_bucket(&name);
        name
    }

    /// Writes `dir/s3-credentials.toml` (mode 0600) with
    /// [`ACCESS_KEY_ID`] and [`SECRET_ACCESS_KEY`] and returns its path.
    pub fn credentials_file(&self, dir: &Path) -> PathBuf {
        use std::os::unix::fs::OpenOptionsExt;
        let path = dir.join("s3-credentials.toml");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .expect("credentials file");
        write!(
            f,
            "access_key_id = \"{ACCESS_KEY_ID}\"\nsecret_access_key = \"{SECRET_ACCESS_KEY}\"\n"
        )
        .unwrap();
        path
    }

    /// The `[objects]` section of a `veil.toml` for `bucket`, with the
    /// credentials file written into `dir`.
    pub fn objects_toml(&self, bucket: &str, dir: &Path) -> String {
        format!(
            "[objects]\ns3 = {{ endpoint = \"{}\", bucket = \"{bucket}\", region = \"us-east-1\", credentials_file = \"{}\" }}\n",
            self.endpoint(),
            self.credentials_file(dir).display()
        )
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} moto_server failed");
    }

    /// Stops the server (SIGSTOP): connections are accepted by the kernel
    /// but never answered, as in an outage; the objects stay.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Continues a paused server (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // A stopped process must be continued to die of SIGTERM; SIGKILL
        // ends it either way.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
