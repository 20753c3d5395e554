//! Issue 16's bad input: "no request text appears in logs". Every log line
//! (trace level, all crates) is captured while a data-subject request is
//! registered, verified, searched, marked, refused bad input, decided and
//! completed; then neither the subject, the contact, the description, the
//! identity check's method nor a reason may appear.
//!
//! One test per file: the log subscriber is global to the test process.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::{json, Value};

use common::*;

const SUBJECT: &str = "Requester Omega-9931";
const CONTACT: &str = "omega9931@mail.example";
const DESCRIPTION: &str = "Green scarf, left the shop at the corner with a large parcel";
const METHOD: &str = "Passport number compared at the desk by hand";
const REASON: &str = "Footage handed over on a sealed medium";

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

#[tokio::test]
async fn no_request_text_is_logged() {
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
    let s = start().await;
    let admin = login(&s).await;
    let (dpo, csrf) = new_user(&s, &admin.0, &admin.1, "fatima.dpo", &["dpo"]).await;
    let post = |path: &str, body: Value| post_json(&dpo, &csrf, format!("{}{path}", s.base), body);
    let r = post(
        "/api/v1/requests",
        json!({"kind": "access", "received": t(0.0), "subject": SUBJECT, "contact": CONTACT,
               "description": DESCRIPTION}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    // Bad input carrying the text: refused, and not logged either.
    let r = post(
        "/api/v1/requests",
        json!({"kind": "complaint", "received": t(0.0), "subject": SUBJECT, "contact": CONTACT,
               "description": DESCRIPTION}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = post(
        &format!("/api/v1/requests/{id}/verify"),
        json!({"method": METHOD, "scan": DESCRIPTION}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    for (step, body) in [
        ("verify", json!({"method": METHOD})),
        (
            "search",
            json!({"cameras": [s.camera.0], "start": t(0.0), "end": t(12.0)}),
        ),
        (
            "intervals",
            json!({"camera": s.camera.0, "start": t(1.0), "end": t(3.0)}),
        ),
        ("decide", json!({"decision": "upheld", "reason": REASON})),
        ("complete", json!({})),
    ] {
        let r = post(&format!("/api/v1/requests/{id}/{step}"), body).await;
        assert!(r.status().is_success(), "{step}: {}", r.status());
    }
    // Out of order, with a reason: a 409, not logged with its text.
    let r = post(
        &format!("/api/v1/requests/{id}/refuse"),
        json!({"reason": REASON}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    // The capture works: the DPO's login was logged, by pseudonym.
    assert!(logs.contains("login ok"), "nothing was captured:\n{logs}");
    for text in [SUBJECT, CONTACT, DESCRIPTION, METHOD, REASON, "Omega"] {
        assert!(!logs.contains(text), "the logs contain {text:?}:\n{logs}");
    }
}
