//! A small W3C WebDriver client for the browser tests: chromedriver with
//! Debian's headless Chromium. The tests fail (they do not skip) when the
//! browser or the driver is missing.

use std::io::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The W3C element reference key.
pub const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub type Res<T> = Result<T, String>;

/// A chromedriver process; killed (with its browser session) on drop.
pub struct Driver {
    child: Child,
    pub port: u16,
    session: Option<String>,
    http: reqwest::Client,
    profile: tempfile::TempDir,
}

impl Driver {
    pub async fn start() -> Driver {
        for bin in [CHROMEDRIVER, CHROMIUM] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: install it with `apt-get install -y chromium chromium-driver`"
            );
        }
        let port = super::free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver");
        let profile = tempfile::tempdir().expect("tempdir for the browser profile");
        let mut driver = Driver {
            child,
            port,
            session: None,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(90))
                .build()
                .expect("reqwest client"),
            profile,
        };

        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = driver
                .http
                .get(driver.endpoint("/status"))
                .send()
                .await
                .ok()
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ready {
                break;
            }
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!("chromedriver exited with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let profile_arg = format!("--user-data-dir={}", driver.profile.path().display());
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "acceptInsecureCerts": true,
                    "goog:loggingPrefs": { "browser": "ALL" },
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": [
                            "--headless=new",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-dev-shm-usage",
                            "--ignore-certificate-errors",
                            "--disable-background-networking",
                            "--disable-component-update",
                            "--disable-sync",
                            "--no-first-run",
                            "--autoplay-policy=no-user-gesture-required",
                            "--window-size=1280,900",
                            profile_arg,
                        ],
                    },
                }
            }
        });
        let value = driver
            .call(reqwest::Method::POST, "/session", Some(caps))
            .await
            .expect("create a WebDriver session");
        let id = value["sessionId"]
            .as_str()
            .expect("sessionId in the new session reply")
            .to_string();
        driver.session = Some(id);
        driver
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn session_path(&self, rest: &str) -> String {
        format!(
            "/session/{}{}",
            self.session.as_deref().expect("session"),
            rest
        )
    }

    /// Sends one WebDriver command and returns its `value`.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Res<Value> {
        let mut req = self.http.request(method.clone(), self.endpoint(path));
        if let Some(body) = body {
            req = req.json(&body);
        } else if method == reqwest::Method::POST {
            req = req.json(&json!({}));
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = resp.status();
        let body: Value = resp
            .json()
            .await
            .map_err(|e| format!("{method} {path}: bad JSON: {e}"))?;
        if !status.is_success() {
            return Err(format!("{method} {path}: {status}: {body}"));
        }
        Ok(body.get("value").cloned().unwrap_or(Value::Null))
    }

    /// Sends a POST command under the session (`rest`, e.g. `/url`),
    /// discarding its value.
    async fn post(&self, rest: &str, body: Value) -> Res<()> {
        self.call(reqwest::Method::POST, &self.session_path(rest), Some(body))
            .await
            .map(|_| ())
    }

    pub async fn goto(&self, url: &str) -> Res<()> {
        self.post("/url", json!({ "url": url })).await
    }

    pub async fn current_url(&self) -> Res<String> {
        let v = self
            .call(reqwest::Method::GET, &self.session_path("/url"), None)
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    pub async fn find(&self, css: &str) -> Res<String> {
        let v = self
            .call(
                reqwest::Method::POST,
                &self.session_path("/element"),
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await
            .map_err(|e| format!("find {css:?}: {e}"))?;
        v[ELEMENT_KEY]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("find {css:?}: no element reference in {v}"))
    }

    pub async fn send_keys(&self, element: &str, text: &str) -> Res<()> {
        self.post(
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        )
        .await
    }

    /// Accepts the open `window.confirm` or `alert`.
    pub async fn accept_alert(&self) -> Res<()> {
        self.post("/alert/accept", json!({})).await
    }

    pub async fn clear(&self, element: &str) -> Res<()> {
        self.post(&format!("/element/{element}/clear"), json!({}))
            .await
    }

    pub async fn click(&self, element: &str) -> Res<()> {
        self.post(&format!("/element/{element}/click"), json!({}))
            .await
    }

    /// Finds the element `css` and clicks it.
    pub async fn click_on(&self, css: &str) -> Res<()> {
        let element = self.find(css).await?;
        self.click(&element).await
    }

    /// Clicks the left mouse button `clicks` times at (`x`, `y`) CSS pixels
    /// from the centre of `element`, with W3C pointer actions: the events a
    /// person's clicks make (a double click with 2), which the element click
    /// command does not.
    pub async fn mouse_click(&self, element: &str, x: i64, y: i64, clicks: usize) -> Res<()> {
        let mut actions = vec![
            json!({ "type": "pointerMove", "duration": 0, "x": x, "y": y,
            "origin": { ELEMENT_KEY: element } }),
        ];
        for _ in 0..clicks {
            actions.push(json!({ "type": "pointerDown", "button": 0 }));
            actions.push(json!({ "type": "pointerUp", "button": 0 }));
        }
        self.post(
            "/actions",
            json!({ "actions": [{ "type": "pointer", "id": "mouse",
                "parameters": { "pointerType": "mouse" }, "actions": actions }] }),
        )
        .await
    }

    /// Runs a script in the page; returns what it returns.
    pub async fn exec(&self, script: &str, args: Value) -> Res<Value> {
        self.execute("/execute/sync", script, args).await
    }

    /// Runs `script` with `args` by the command `path` (`/execute/sync` or
    /// `/execute/async`).
    async fn execute(&self, path: &str, script: &str, args: Value) -> Res<Value> {
        self.call(
            reqwest::Method::POST,
            &self.session_path(path),
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// The browser console log (chromedriver extension), best effort.
    pub async fn console_log(&self) -> String {
        match self
            .call(
                reqwest::Method::POST,
                &self.session_path("/se/log"),
                Some(json!({ "type": "browser" })),
            )
            .await
        {
            Ok(Value::Array(entries)) => entries
                .iter()
                .map(|e| {
                    format!(
                        "[{}] {}",
                        e["level"].as_str().unwrap_or("?"),
                        e["message"].as_str().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Ok(other) => other.to_string(),
            Err(e) => format!("(no console log: {e})"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // End the session so chromedriver closes the browser, then kill it.
        if let Some(session) = self.session.take() {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let request = format!(
                    "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
                     Content-Length: 0\r\nConnection: close\r\n\r\n",
                    self.port
                );
                if stream.write_all(request.as_bytes()).is_ok() {
                    let mut sink = Vec::new();
                    let _ = std::io::Read::read_to_end(&mut stream, &mut sink);
                }
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Decodes standard base64 (as used by the WebDriver screenshot command).
pub fn base64_decode(text: &str) -> Res<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in text.as_bytes() {
        if c == b'=' || c.is_ascii_whitespace() {
            continue;
        }
        let v = value(c).ok_or_else(|| format!("bad base64 byte {c}"))?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// Polls `script` (which returns JSON) until `done` accepts it.
pub async fn wait_for(
    driver: &Driver,
    what: &str,
    timeout: Duration,
    script: &str,
    done: impl Fn(&Value) -> bool,
) -> Res<Value> {
    let deadline = Instant::now() + timeout;
    let mut last = Value::Null;
    while Instant::now() < deadline {
        match driver.exec(script, json!([])).await {
            Ok(v) if done(&v) => return Ok(v),
            Ok(v) => last = v,
            Err(e) => last = Value::String(e),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(format!(
        "timed out after {timeout:?} waiting for {what}; last: {last}"
    ))
}

impl Driver {
    /// Runs an asynchronous script (its last argument is the callback).
    pub async fn exec_async(&self, script: &str, args: Value) -> Res<Value> {
        self.execute("/execute/async", script, args).await
    }

    /// Resizes the browser window (outer size, CSS pixels).
    pub async fn set_window_size(&self, width: u32, height: u32) -> Res<()> {
        self.post("/window/rect", json!({ "width": width, "height": height }))
            .await
    }

    /// Saves a PNG screenshot of the page at `path`.
    pub async fn screenshot_to(&self, path: &Path) -> Res<()> {
        let v = self
            .call(
                reqwest::Method::GET,
                &self.session_path("/screenshot"),
                None,
            )
            .await?;
        let png = base64_decode(v.as_str().ok_or("screenshot is not a string")?)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Presses keys, one after the other, into whatever has focus (W3C
    /// key actions; "\u{E004}" is Tab, "\u{E007}" Enter, "\u{E00C}" Escape).
    pub async fn press_keys(&self, keys: &[&str]) -> Res<()> {
        let mut actions = Vec::new();
        for k in keys {
            actions.push(json!({ "type": "keyDown", "value": k }));
            actions.push(json!({ "type": "keyUp", "value": k }));
        }
        self.post(
            "/actions",
            json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] }),
        )
        .await
    }
}

/// Where browser tests keep their artefacts (screenshots): `VEIL_ARTEFACTS`
/// if set, else `target/test-artefacts` of the workspace.
pub fn artefacts_dir() -> PathBuf {
    std::env::var_os("VEIL_ARTEFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artefacts")
        })
}
