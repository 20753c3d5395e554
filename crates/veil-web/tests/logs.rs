//! Requirement L5: the server's logs carry no personal data or secrets. Every
//! log line (trace level, all crates: the most an operator can ask for with
//! `VEIL_LOG`) is captured while a user logs in, plays back video, is denied
//! and fails a login; then neither the login name, the passwords, the session
//! token nor the CSRF token may appear.
//!
//! One test per file: the log subscriber is global to the test process.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use veil_audit::{AccessRecord, ClientAddressPolicy};
use veil_base::{SimulatedClock, Time90k};
use veil_media::synthetic::SyntheticConfig;
use veil_store::recorder::synthetic_segments;

const T0: i64 = 1_795_000_000 * 90_000;
const NAME: &str = "margarida.lopes";
const PASSWORD: &str = "correct horse battery 77";
const WRONG_PASSWORD: &str = "wrong horse battery 78";

/// Everything logged, as one buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

/// A server with 8 s of video on camera 1 and one administrator account.
async fn start(dir: &std::path::Path) -> String {
    let clock = SimulatedClock::new(Time90k(T0 + 60 * 90_000));
    let store = veil_store::testing::open_dir(&dir.join("data"), Arc::new(clock.clone())).unwrap();
    let camera = store
        .db
        .upsert_camera("Door", "synthetic", "{}", Time90k(T0))
        .unwrap();
    let config = SyntheticConfig {
        width: 160,
        height: 120,
        fps: 10,
        gop_frames: 10,
        bitrate_bps: 100_000,
        seed: 5,
    };
    for seg in synthetic_segments(camera, config, Time90k(T0), 8 * 10 + 1, 4 * 90_000).unwrap() {
        store.write_segment(seg).await.unwrap();
    }
    veil_web::roles::setup_roles(&store.db, Time90k(T0)).unwrap();
    let id = store
        .db
        .insert_user(
            "u-5f0e",
            NAME,
            &veil_access::password::hash(PASSWORD),
            veil_access::ADMINISTRATOR,
            Time90k(T0),
        )
        .unwrap();
    // Not about the second factor (tests/authn.rs is).
    store.db.exempt_from_second_factor(id).unwrap();
    let audit = AccessRecord::new(
        store.db.clone(),
        Arc::new(clock.clone()),
        ClientAddressPolicy::Full,
    )
    .unwrap();
    common::serve(&store, &audit, Arc::new(clock), &dir.join("tls"))
}

fn t(secs: i64) -> String {
    Time90k(T0 + secs * 90_000).to_rfc3339()
}

#[tokio::test]
async fn logs_name_no_person_and_no_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter(veil_store::LOG_DIRECTIVES.iter().fold(
            // Every level, with the directives the server adds.
            tracing_subscriber::EnvFilter::new("trace"),
            |f, d| f.add_directive(d.parse().unwrap()),
        ))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let dir = tempfile::tempdir().unwrap();
    let base = start(dir.path()).await;
    let c = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .cookie_store(true)
        .build()
        .unwrap();

    let r = c
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({"username": NAME, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let token = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("veil_session="))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned();
    let csrf = r.json::<serde_json::Value>().await.unwrap()["csrf"]
        .as_str()
        .unwrap()
        .to_owned();
    let video = c
        .get(format!(
            "{base}/api/v1/cameras/1/video.mp4?start={}&end={}",
            t(0),
            t(6)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(video.status(), StatusCode::OK);
    assert!(video.bytes().await.unwrap().len() > 1000);
    // Denied by policy (an administrator may not read the access record).
    let r = c.get(format!("{base}/api/v1/audit")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({"username": NAME, "password": WRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let logs = captured.text();
    // The capture works: the events above were logged, by pseudonym.
    for expected in ["login ok", "login failed", "denied", "u-5f0e"] {
        assert!(logs.contains(expected), "{expected:?} not logged:\n{logs}");
    }
    for secret in [
        NAME,
        PASSWORD,
        WRONG_PASSWORD,
        token.as_str(),
        csrf.as_str(),
    ] {
        assert!(
            !logs.contains(secret),
            "the logs contain {secret:?}:\n{logs}"
        );
    }
}
