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
//! // Enforcing IAM: users allowed only the listed actions on the bucket.
//! let (s3, users) = moto::MotoServer::start_with_iam("veil-perm", &[("reader", &["s3:GetObject"])]);
//! ```
//!
//! moto keeps its buckets in memory, so it runs on a free loopback port per
//! test and is killed on drop. `pause`/`resume` stop and continue the
//! process (SIGSTOP/SIGCONT): an outage that keeps the stored objects. The
//! server is `VEIL_MOTO_SERVER` (set by `scripts/test`, which installs a
//! pinned moto in a virtual environment), else `moto_server` on `PATH`;
//! without either the test fails, never skips. [`MotoServer::start`] accepts
//! any credentials; [`MotoServer::start_with_iam`] enforces IAM users'
//! keys and policies. Only the standard library is used, so a crate needs no new
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

/// A user made by [`MotoServer::start_with_iam`]: its access key.
#[derive(Clone, Debug)]
pub struct IamUser {
    pub name: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl IamUser {
    /// Writes `dir/NAME-credentials.toml` (mode 0600) with this user's key
    /// and returns its path.
    pub fn credentials_file(&self, dir: &Path) -> PathBuf {
        write_credentials(
            &dir.join(format!("{}-credentials.toml", self.name)),
            &self.access_key_id,
            &self.secret_access_key,
        )
    }
}

/// moto's server with one fix for its IAM enforcement: moto checks a
/// request's signature against the query string as Werkzeug decoded it
/// (`prefix=a/` where the client signed `prefix=a%2F`, as SigV4 requires),
/// so every list with a `/` in its prefix is refused as
/// `SignatureDoesNotMatch`. This runs moto with the signature computed over
/// the query as it was sent (`RAW_URI`); the policy evaluation is moto's.
const IAM_SERVER: &str = r#"
import sys
import moto.core.authorization as authz
import moto.core.responses as responses
from moto.server import main

_setup = responses.BaseResponse.setup_class
def setup_class(self, request, full_url, headers, use_raw_body=False):
    _setup(self, request, full_url, headers, use_raw_body)
    self._raw_uri = (getattr(request, "environ", None) or {}).get("RAW_URI")
responses.BaseResponse.setup_class = setup_class

_auth = authz.ActionAuthenticatorMixin._authenticate_and_authorize_action
def authenticate(self, iam_request_cls, resource="*"):
    raw = getattr(self, "_raw_uri", None)
    if not raw:
        return _auth(self, iam_request_cls, resource)
    decoded, self.uri = self.uri, raw
    try:
        return _auth(self, iam_request_cls, resource)
    finally:
        self.uri = decoded
authz.ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate
main(sys.argv[1:])
"#;

/// Requests moto serves without authentication before it enforces IAM:
/// the three that make the administrator ([`IAM_SETUP`]).
const IAM_OPEN_REQUESTS: u32 = 3;

/// Makes an administrator (the unauthenticated requests), then, signed as
/// it, the bucket and one user per argument `NAME=ACTION,ACTION…` with an
/// inline policy allowing those actions on the bucket and its objects.
/// Prints `NAME ACCESS_KEY_ID SECRET` per user.
const IAM_SETUP: &str = r#"
import json, sys
import boto3
endpoint, bucket = sys.argv[1], sys.argv[2]
def client(service, key_id="AKIAVEILSETUP", secret="unused"):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key_id, aws_secret_access_key=secret)
def user(iam, name, actions, resources):
    iam.create_user(UserName=name)
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": resources}]}
    iam.put_user_policy(UserName=name, PolicyName="veil-test",
                        PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]
admin = user(client("iam"), "veil-admin", ["*"], ["*"])
iam = client("iam", *admin)
client("s3", *admin).create_bucket(Bucket=bucket)
for arg in sys.argv[3:]:
    name, _, actions = arg.partition("=")
    key_id, secret = user(iam, name, actions.split(","),
                          [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"])
    print(name, key_id, secret)
"#;

/// The Python interpreter moto is installed in: the `#!` line of its
/// `moto_server` script.
fn python(program: &Path) -> PathBuf {
    let text = std::fs::read_to_string(program).unwrap_or_default();
    let first = text.lines().next().unwrap_or_default();
    match first.strip_prefix("#!") {
        Some(i) if !i.trim().is_empty() && !i.contains(' ') => PathBuf::from(i.trim()),
        _ => program.with_file_name("python3"),
    }
}

fn write_credentials(path: &Path, id: &str, secret: &str) -> PathBuf {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .expect("credentials file");
    write!(
        f,
        "access_key_id = \"{id}\"\nsecret_access_key = \"{secret}\"\n"
    )
    .unwrap();
    path.to_owned()
}

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

    /// Starts moto enforcing IAM (authentication and policies), with the
    /// bucket `bucket` and one user per `(name, actions)`, allowed exactly
    /// those S3 actions on the bucket and its objects. Every request after
    /// the set-up must be signed by a key moto issued, and is checked
    /// against its user's policy. The server's [`MotoServer::create_bucket`]
    /// and [`MotoServer::credentials_file`] do not work on it.
    pub fn start_with_iam(bucket: &str, users: &[(&str, &[&str])]) -> (MotoServer, Vec<IamUser>) {
        let program = program();
        let python = python(&program);
        let port = free_port();
        let child = Command::new(&python)
            .args(["-c", IAM_SERVER, "-H", "127.0.0.1", "-p", &port.to_string()])
            .env(
                "INITIAL_NO_AUTH_ACTION_COUNT",
                IAM_OPEN_REQUESTS.to_string(),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start moto with {}: {e}", python.display()));
        let mut server = MotoServer {
            child,
            port,
            buckets: AtomicU32::new(0),
        };
        // Ready once it accepts a connection: an HTTP probe would use up
        // one of the unauthenticated requests.
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("moto exited at start ({status}); is port {port} free?");
            }
            assert!(
                Instant::now() < deadline,
                "moto did not listen on port {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut setup = Command::new(&python);
        setup.args(["-c", IAM_SETUP, &server.endpoint(), bucket]);
        for (name, actions) in users {
            setup.arg(format!("{name}={}", actions.join(",")));
        }
        let out = setup
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
        assert!(
            out.status.success(),
            "setting up moto's users failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let made: Vec<IamUser> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                assert_eq!(f.len(), 3, "unexpected set-up output {l:?}");
                IamUser {
                    name: f[0].into(),
                    access_key_id: f[1].into(),
                    secret_access_key: f[2].into(),
                }
            })
            .collect();
        assert_eq!(made.len(), users.len());
        (server, made)
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
        write_credentials(
            &dir.join("s3-credentials.toml"),
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
        )
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
