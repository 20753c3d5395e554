//! A wrong password: the status says authentication failed, reconnects back
//! off (no retry storm), and the password appears in no log line or status,
//! neither as typed nor as the base64 `user:password` of Basic authentication.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use veil_ingest::{Credentials, IngestState, RtspTransport};

/// Collects everything logged, at every level, including the RTSP library's
/// own `log` records.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const PASSWORD: &str = "Wr0ng-Pa55word-xyzzy";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_reported_backs_off_and_never_logged() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let server = RtspServer::start(
        free_port(),
        &[
            "--live",
            "320x240",
            "--user",
            "viewer",
            "--password",
            "right-one",
        ],
    );
    let (store, camera) = store(dir.path());
    let mut src = source(camera, &server.url(), RtspTransport::Tcp);
    src.credentials = Some(Credentials {
        username: "viewer".into(),
        password: PASSWORD.into(),
    });
    src.timing.backoff_base = Duration::from_secs(1);
    src.timing.backoff_max = Duration::from_secs(60);
    let ingest = Ingest::start(&store, src);
    ingest
        .wait_for(60, "an authentication error", |s| {
            s.state == IngestState::Error
                && s.last_error
                    .as_deref()
                    .unwrap_or("")
                    .contains("authentication")
        })
        .await;
    // Watch the retries for a while: 1, 2, 4, 8 s nominal (each jittered to
    // between half and all of it) allow at most 5 attempts in 14 s.
    tokio::time::sleep(Duration::from_secs(14)).await;
    let status = ingest.status();
    ingest.stop().await;

    let times = server.connection_times();
    assert!(
        (2..=6).contains(&times.len()),
        "expected a few spaced attempts, saw {} ({status:?})",
        times.len()
    );
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps[0] >= Duration::from_millis(400),
        "first retry too early: {gaps:?}"
    );
    if gaps.len() >= 3 {
        assert!(gaps[2] > gaps[0], "delays do not grow: {gaps:?}");
    }
    assert_eq!(status.state, IngestState::Error);
    assert!(status.retry_in_ms.unwrap() >= 500, "{status:?}");
    let message = status.last_error.unwrap();
    assert!(message.contains("401"), "{message}");
    assert!(!message.contains(PASSWORD));

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("authentication failed"),
        "the failure is logged: {logs}"
    );
    assert!(
        !logs.contains(PASSWORD),
        "the password leaked into the logs"
    );
    // Nor in the form Basic authentication sends it.
    use base64::Engine;
    for form in [
        base64::engine::general_purpose::STANDARD.encode(format!("viewer:{PASSWORD}")),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("viewer:{PASSWORD}")),
    ] {
        assert!(
            !logs.contains(&form),
            "the credentials leaked into the logs as base64 ({form})"
        );
    }
    assert!(runs(&store, camera).is_empty(), "nothing recorded");
}
