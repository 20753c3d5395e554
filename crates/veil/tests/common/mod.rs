//! Helpers shared by the integration tests of the `veil` binary.
#![allow(dead_code)]

pub mod api;
pub mod browser;
pub mod nodes;
pub mod webdriver;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// An `[organisation]` with the site `test`, for configuration files whose
/// cameras document their purpose (put it after the `[[camera]]` tables).
pub const ORGANISATION: &str = "\n[organisation]\ncontroller = { name = \"Test controller\" }\n\
    [[organisation.sites]]\nid = \"test\"\nname = \"Test site\"\n";

/// The purpose keys of a `[[camera]]` at the site of [`ORGANISATION`]: a
/// camera without them does not record.
pub const PURPOSE: &str = "purposes = [\"Protection of the premises against theft\"]\n\
    legal_basis = \"c\"\ndetail = \"recognition\"\nsite = \"test\"\n\
    retention_justification = \"Thefts are noticed within a week\"\n";

/// How long to wait for the demo server to print its login line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Keep at most this many bytes of the child's output for diagnostics.
const MAX_LOG: usize = 256 * 1024;

/// A running `veil demo` child process.
pub struct Demo {
    pub child: Child,
    /// Base URL, e.g. `https://127.0.0.1:PORT/`.
    pub url: String,
    pub user: String,
    /// Printed only on the first start of a data directory (by `veil demo`).
    pub password: Option<String>,
    /// Named only on the first start of `veil serve`: the file holding the
    /// first account's one-time password.
    pub password_file: Option<PathBuf>,
    pub data_dir: PathBuf,
    log: Arc<Mutex<String>>,
}

/// Returns a TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

fn append_log(log: &Mutex<String>, line: &str) {
    let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
    if log.len() > MAX_LOG {
        let cut = log.len() - MAX_LOG / 2;
        let cut = (cut..log.len())
            .find(|&i| log.is_char_boundary(i))
            .unwrap_or(0);
        log.drain(..cut);
    }
    log.push_str(line);
    log.push('\n');
}

/// What a login line says: URL, user, password (demo) or password file
/// (serve).
type LoginLine = (String, String, Option<String>, Option<PathBuf>);

/// Parses `login: <url> user: <name>[ password: <password>| password-file: <path>]`.
fn parse_login_line(line: &str) -> Option<LoginLine> {
    let rest = line.trim().strip_prefix("login: ")?;
    let (url, rest) = rest.split_once(" user: ")?;
    let (user, password, file) = if let Some((user, p)) = rest.split_once(" password: ") {
        (user, Some(p.to_string()), None)
    } else if let Some((user, f)) = rest.split_once(" password-file: ") {
        (user, None, Some(PathBuf::from(f)))
    } else {
        (rest, None, None)
    };
    if url.is_empty() || user.is_empty() {
        return None;
    }
    Some((url.to_string(), user.to_string(), password, file))
}

impl Demo {
    /// Starts `veil demo` on a free port and waits for its login line.
    pub fn start(data_dir: &Path, cameras: u32, extra_args: &[&str]) -> Demo {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut args = vec![
            "demo".to_owned(),
            "--data".to_owned(),
            data_dir.display().to_string(),
            "--listen".to_owned(),
            listen,
            "--cameras".to_owned(),
            cameras.to_string(),
        ];
        args.extend(extra_args.iter().map(|a| a.to_string()));
        Demo::spawn(&args, data_dir)
    }

    /// Starts `veil serve --config <config>` (whose data directory is
    /// `data_dir`) and waits for its login line.
    pub fn serve(config: &Path, data_dir: &Path) -> Demo {
        let args = [
            "serve".to_owned(),
            "--config".to_owned(),
            config.display().to_string(),
        ];
        Demo::spawn(&args, data_dir)
    }

    /// Starts `veil serve --role <role> --config <config>` (a node serving
    /// the web: `web` or `all`) and waits for its login line.
    pub fn serve_role(config: &Path, data_dir: &Path, role: &str) -> Demo {
        let args = [
            "serve".to_owned(),
            "--role".to_owned(),
            role.to_owned(),
            "--config".to_owned(),
            config.display().to_string(),
        ];
        Demo::spawn(&args, data_dir)
    }

    fn spawn(args: &[String], data_dir: &Path) -> Demo {
        let mut child = Command::new(env!("CARGO_BIN_EXE_veil"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn veil");

        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let stdout = child.stdout.take().expect("stdout");
        let stdout_log = Arc::clone(&log);
        thread::spawn(move || {
            // Keep draining so the child never blocks on a full pipe.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                append_log(&stdout_log, &line);
                let _ = tx.send(line);
            }
        });
        let stderr = child.stderr.take().expect("stderr");
        let stderr_log = Arc::clone(&log);
        thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf);
                        append_log(&stderr_log, line.trim_end());
                    }
                }
            }
        });

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut demo = Demo {
            child,
            url: String::new(),
            user: String::new(),
            password: None,
            password_file: None,
            data_dir: data_dir.to_path_buf(),
            log,
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                demo.kill();
                panic!(
                    "veil demo printed no login line within {STARTUP_TIMEOUT:?}; output:\n{}",
                    demo.output()
                );
            }
            match rx.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok(line) => {
                    if let Some((url, user, password, file)) = parse_login_line(&line) {
                        demo.url = if url.ends_with('/') {
                            url
                        } else {
                            format!("{url}/")
                        };
                        demo.user = user;
                        demo.password = password;
                        demo.password_file = file;
                        return demo;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = demo.child.try_wait() {
                        // Give the reader threads a moment to collect output.
                        thread::sleep(Duration::from_millis(200));
                        panic!(
                            "veil demo exited with {status} before printing a login line; output:\n{}",
                            demo.output()
                        );
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = demo.child.wait().ok();
                    thread::sleep(Duration::from_millis(200));
                    panic!(
                        "veil demo closed stdout (status {status:?}) before printing a login line; output:\n{}",
                        demo.output()
                    );
                }
            }
        }
    }

    /// Everything the child printed so far (stdout and stderr, interleaved).
    pub fn output(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `url` joined with a path relative to the root (no leading slash needed).
    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path.trim_start_matches('/'))
    }

    /// Kills the child (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A child process killed (and reaped) when dropped.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Serves `clip` over RTSP with the ingest tests' GStreamer server (with
/// `extra` arguments, e.g. `--user`/`--password`); returns the process and
/// the URL.
pub fn rtsp_server(clip: &Path, extra: &[&str]) -> (ChildGuard, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../veil-ingest/tests/rtsp_server.py");
    let port = free_port();
    let mut child = Command::new("/usr/bin/python3")
        .arg(script)
        .args(["--port", &port.to_string(), "--clip"])
        .arg(clip)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the RTSP test server (needs python3-gi and GStreamer's RTSP server)");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line)
        .expect("read the server's first line");
    assert!(
        line.starts_with("ready"),
        "RTSP server did not start: {line:?}"
    );
    // Keep reading so the server never blocks on a full pipe.
    thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (ChildGuard(child), format!("rtsp://127.0.0.1:{port}/stream"))
}

/// Runs `veil ARGS` to its end (killed after 60 s): (success, stdout and
/// stderr).
pub fn run_veil(args: &[&str]) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn veil");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait for veil").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("veil's output");
    (out.status.success(), output_text(&out))
}

/// A finished process's stdout then stderr, as text.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `s` percent-encoded for a URL's query (all but unreserved characters).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Polls `f` every 300 ms until it holds, for at most `limit`.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !f().await {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// An HTTP client that accepts the demo's self-signed certificate and keeps
/// cookies.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .cookie_store(true)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("build reqwest client")
}

#[cfg(test)]
mod tests {
    use super::parse_login_line;

    #[test]
    fn parses_login_lines() {
        assert_eq!(
            parse_login_line("login: https://127.0.0.1:1234/ user: admin password: s3cret"),
            Some((
                "https://127.0.0.1:1234/".into(),
                "admin".into(),
                Some("s3cret".into()),
                None
            ))
        );
        assert_eq!(
            parse_login_line("login: https://127.0.0.1:1234/ user: admin password-file: /d/f"),
            Some((
                "https://127.0.0.1:1234/".into(),
                "admin".into(),
                None,
                Some("/d/f".into())
            ))
        );
        assert_eq!(
            parse_login_line("login: https://127.0.0.1:1234/ user: admin"),
            Some(("https://127.0.0.1:1234/".into(), "admin".into(), None, None))
        );
        assert_eq!(parse_login_line("listening on 127.0.0.1"), None);
    }
}
