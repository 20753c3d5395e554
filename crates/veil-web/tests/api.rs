//! The HTTP API over real HTTPS on 127.0.0.1, against a store filled with
//! synthetic segments; MP4s are checked with ffprobe/ffmpeg.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;

use reqwest::StatusCode;
use veil_audit::{AccessRecord, ClientAddressPolicy};
use veil_base::{CameraId, SimulatedClock, Time90k};
use veil_media::synthetic::SyntheticConfig;
use veil_store::recorder::{synthetic_segments, LiveHub};
use veil_store::{Store, MAIN_RENDITION};
use veil_web::{AppState, SessionPolicy, Transport};

const T0: i64 = 1_795_000_000 * 90_000;
const PASSWORD: &str = "a long test password 42";

struct Server {
    base: String,
    audit: AccessRecord,
    store: Store,
    dir: tempfile::TempDir,
    camera: CameraId,
}

fn t(secs_after_t0: f64) -> String {
    Time90k(T0 + (secs_after_t0 * 90_000.0) as i64).to_rfc3339()
}

/// 12 s of 320x240 video (GOP 1 s, segments of 4 s) on camera 1 from T0.
async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let clock = SimulatedClock::new(Time90k(T0 + 60 * 90_000));
    let store = Store::open_dir(&dir.path().join("data"), Arc::new(clock.clone())).unwrap();
    let camera = store
        .db
        .upsert_camera("Door", "synthetic", "{}", Time90k(T0))
        .unwrap();
    let config = SyntheticConfig {
        width: 320,
        height: 240,
        fps: 25,
        gop_frames: 25,
        bitrate_bps: 300_000,
        seed: 3,
    };
    for seg in synthetic_segments(camera, config, Time90k(T0), 12 * 25 + 1, 4 * 90_000).unwrap() {
        store.write_segment(seg).await.unwrap();
    }
    store
        .db
        .insert_user(
            "u-test",
            "alice.martin",
            &veil_access::password::hash(PASSWORD),
            veil_access::ADMINISTRATOR,
            Time90k(T0),
        )
        .unwrap();
    let audit = AccessRecord::new(
        store.db.clone(),
        Arc::new(clock.clone()),
        ClientAddressPolicy::Full,
    );
    let live = LiveHub::default();
    let state = AppState {
        store: store.clone(),
        live: live.clone(),
        audit: audit.clone(),
        clock: Arc::new(clock),
        sessions: SessionPolicy::default(),
        ingest: veil_ingest::Supervisor::new(
            store.clone(),
            live,
            veil_ingest::StatusBoard::default(),
            2 * 90_000,
        ),
    };
    let (cert, key) = veil_web::tls::ensure_self_signed(&dir.path().join("tls"), &[]).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(veil_web::serve(
        listener,
        Transport::Tls { cert, key },
        veil_web::router(state),
    ));
    Server {
        base: format!("https://{addr}"),
        audit,
        store,
        dir,
        camera,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn login(s: &Server) -> (reqwest::Client, String) {
    let c = client();
    let r = c
        .post(format!("{}/api/v1/session", s.base))
        .json(&serde_json::json!({"username": "alice.martin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: serde_json::Value = r.json().await.unwrap();
    (c, v["csrf"].as_str().unwrap().to_owned())
}

async fn status_of(c: &reqwest::Client, s: &Server, path: &str) -> StatusCode {
    c.get(format!("{}{path}", s.base))
        .send()
        .await
        .unwrap()
        .status()
}

async fn error_code(r: reqwest::Response) -> (StatusCode, String) {
    let status = r.status();
    let v: serde_json::Value = r.json().await.expect("JSON error body");
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    assert!(!msg.is_empty(), "error without message: {v}");
    (status, v["error"]["code"].as_str().unwrap().to_owned())
}

fn audit_actions(s: &Server) -> Vec<(String, String, String)> {
    s.store
        .db
        .audit_entries(0, 1000)
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.action, e.outcome))
        .collect()
}

#[tokio::test]
async fn anonymous_callers_get_401_except_public_routes() {
    let s = start().await;
    let c = client();
    for path in [
        "/api/v1/cameras",
        "/api/v1/session",
        "/api/v1/cameras/1/recordings",
        "/api/v1/cameras/1/video.mp4?start=2026-11-23T10:00:00Z&end=2026-11-23T10:01:00Z",
        "/api/v1/cameras/1/live",
        "/api/v1/nonexistent",
    ] {
        let r = c.get(format!("{}{path}", s.base)).send().await.unwrap();
        assert_eq!(
            error_code(r).await,
            (StatusCode::UNAUTHORIZED, "unauthenticated".into()),
            "{path}"
        );
    }
    let r = c
        .delete(format!("{}/api/v1/session", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    for page in ["/cameras", "/cameras/1/playback", "/"] {
        let r = c.get(format!("{}{page}", s.base)).send().await.unwrap();
        assert!(r.status().is_redirection(), "{page}");
        assert_eq!(r.headers()["location"], "/login", "{page}");
    }
    for public in ["/api/v1/health", "/login", "/static/veil.css"] {
        let r = c.get(format!("{}{public}", s.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{public}");
        assert!(r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'"));
    }
}

#[tokio::test]
async fn login_sets_safe_cookies_and_records_attempts() {
    let s = start().await;
    let c = client();
    let bad = c
        .post(format!("{}/api/v1/session", s.base))
        .json(&serde_json::json!({"username": "alice.martin", "password": "wrong password!"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(bad).await,
        (StatusCode::UNAUTHORIZED, "bad_credentials".into())
    );
    let unknown = c
        .post(format!("{}/api/v1/session", s.base))
        .json(&serde_json::json!({"username": "nobody", "password": "whatever it is"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let malformed = c
        .post(format!("{}/api/v1/session", s.base))
        .body("username=alice")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(malformed).await.0, StatusCode::BAD_REQUEST);

    let r = c
        .post(format!("{}/api/v1/session", s.base))
        .json(&serde_json::json!({"username": "alice.martin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("veil_session="))
        .unwrap();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(session.contains(attr), "{session}");
    }
    let token = session
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("veil_session=");
    // Only the token's hash is stored.
    let db = rusqlite::Connection::open(s.dir.path().join("data/veil.db")).unwrap();
    let stored: Vec<u8> = db
        .query_row("SELECT token_hash FROM user_session", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored.len(), 32);
    assert!(!stored
        .windows(token.len().min(32))
        .any(|w| w == &token.as_bytes()[..token.len().min(32)]));

    assert_eq!(
        audit_actions(&s),
        vec![
            ("u-test".into(), "login".into(), "denied".into()),
            ("anonymous".into(), "login".into(), "denied".into()),
            ("u-test".into(), "login".into(), "ok".into()),
        ]
    );
    // The name is never in the access record.
    let all = format!("{:?}", s.store.db.audit_entries(0, 100).unwrap());
    assert!(!all.contains("alice") && !all.contains("nobody"));
}

#[tokio::test]
async fn logout_needs_the_csrf_token() {
    let s = start().await;
    let (c, csrf) = login(&s).await;
    let r = c
        .delete(format!("{}/api/v1/session", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (StatusCode::FORBIDDEN, "csrf".into()));
    let r = c
        .delete(format!("{}/api/v1/session", s.base))
        .header("x-csrf-token", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(status_of(&c, &s, "/api/v1/cameras").await, StatusCode::OK);
    let r = c
        .delete(format!("{}/api/v1/session", s.base))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        status_of(&c, &s, "/api/v1/cameras").await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn cameras_and_recordings() {
    let s = start().await;
    let (c, _) = login(&s).await;
    let v: serde_json::Value = c
        .get(format!("{}/api/v1/cameras", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v[0]["id"], s.camera.0);
    assert_eq!(v[0]["name"], "Door");
    let v: serde_json::Value = c
        .get(format!(
            "{}/api/v1/cameras/1/recordings?start={}&end={}",
            s.base,
            t(-100.0),
            t(100.0)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["recordings"],
        serde_json::json!([{"start": t(0.0), "end": t(12.0)}])
    );
    // Default interval (the last 24 hours before the simulated now).
    let v: serde_json::Value = c
        .get(format!("{}/api/v1/cameras/1/recordings", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["recordings"].as_array().unwrap().len(), 1);
}

fn ffprobe_duration(path: &std::path::Path) -> f64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe must be installed (Debian package ffmpeg)");
    assert!(
        out.status.success(),
        "ffprobe rejected the file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn ffmpeg_errors(path: &std::path::Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg must be installed (Debian package ffmpeg)");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn playback_mp4_is_valid_and_spans_the_request() {
    let s = start().await;
    let (c, _) = login(&s).await;
    // (start, end) in seconds after T0, and the expected duration: from the
    // keyframe at or before start (GOP = 1 s) to end.
    for (a, b) in [
        (0.0, 12.0),
        (2.5, 9.3),
        (3.9, 4.6),
        (-5.0, 30.0),
        (11.0, 11.5),
    ] {
        let r = c
            .get(format!(
                "{}/api/v1/cameras/1/video.mp4?start={}&end={}",
                s.base,
                t(a),
                t(b)
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "video/mp4");
        assert_eq!(r.headers()["accept-ranges"], "bytes");
        assert!(r.headers().contains_key("etag"));
        let len: usize = r.headers()["content-length"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let body = r.bytes().await.unwrap();
        assert_eq!(body.len(), len);
        let path = s.dir.path().join(format!("v-{a}-{b}.mp4"));
        std::fs::write(&path, &body).unwrap();
        let want = b.min(12.0) - a.max(0.0);
        let got = ffprobe_duration(&path);
        assert!(
            got >= want - 0.05 && got <= want + 1.0 + 0.05,
            "[{a}, {b}): duration {got}, wanted {want} + at most one GOP"
        );
        assert_eq!(ffmpeg_errors(&path), "", "[{a}, {b})");
    }
}

#[tokio::test]
async fn ranges_are_slices_of_the_whole_body() {
    let s = start().await;
    let (c, _) = login(&s).await;
    let url = format!(
        "{}/api/v1/cameras/1/video.mp4?start={}&end={}",
        s.base,
        t(0.0),
        t(12.0)
    );
    let full = c.get(&url).send().await.unwrap();
    let etag = full.headers()["etag"].clone();
    let full = full.bytes().await.unwrap();
    let n = full.len() as u64;
    let get = |range: String| {
        let c = c.clone();
        let url = url.clone();
        async move { c.get(&url).header("range", range).send().await.unwrap() }
    };
    // A range that crosses two segment boundaries (segments are 4 s each, so
    // the middle of the file holds the second one).
    let (a, b) = (n / 4, 3 * n / 4);
    let r = get(format!("bytes={a}-{b}")).await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["etag"], etag);
    assert_eq!(
        r.headers()["content-range"].to_str().unwrap(),
        format!("bytes {a}-{b}/{n}")
    );
    assert_eq!(
        &r.bytes().await.unwrap()[..],
        &full[a as usize..=b as usize]
    );
    // Suffix and open-ended forms.
    assert_eq!(
        &get("bytes=-100".into()).await.bytes().await.unwrap()[..],
        &full[n as usize - 100..]
    );
    assert_eq!(
        &get(format!("bytes={}-", n - 7))
            .await
            .bytes()
            .await
            .unwrap()[..],
        &full[n as usize - 7..]
    );
    // Malformed ranges are ignored (RFC 9110): the whole body.
    for ignored in ["bytes=x-y", "pages=1-2"] {
        let r = get(ignored.into()).await;
        assert_eq!(r.status(), StatusCode::OK, "{ignored}");
        assert_eq!(r.bytes().await.unwrap(), full, "{ignored}");
    }
    // Unsatisfiable ranges: 416.
    for bad in [
        format!("bytes={n}-"),
        "bytes=9-3".into(),
        format!("bytes={}-{}", n + 5, n + 9),
    ] {
        let r = get(bad.clone()).await;
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{bad}");
        assert_eq!(
            r.headers()["content-range"].to_str().unwrap(),
            format!("bytes */{n}")
        );
    }
    // Property: any byte range equals the same slice of the full body.
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 40,
        ..Default::default()
    });
    let strategy = (0..n, 0..n);
    let cases = std::sync::Mutex::new(Vec::new());
    runner
        .run(&strategy, |(x, y)| {
            cases.lock().unwrap().push((x.min(y), x.max(y)));
            Ok(())
        })
        .unwrap();
    for (a, b) in cases.into_inner().unwrap() {
        let r = get(format!("bytes={a}-{b}")).await;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        let body = r.bytes().await.unwrap();
        prop_assert_eq_sync(&body[..], &full[a as usize..=b as usize], a, b);
    }
}

fn prop_assert_eq_sync(got: &[u8], want: &[u8], a: u64, b: u64) {
    assert!(
        got == want,
        "bytes={a}-{b}: {} bytes differ from the full body's slice",
        got.len()
    );
}

#[tokio::test]
async fn bad_requests_get_clear_json_errors() {
    let s = start().await;
    let (c, _) = login(&s).await;
    let cases = [
        (
            "/api/v1/cameras/1/video.mp4?start=yesterday&end=now",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/cameras/1/video.mp4",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            &*format!(
                "/api/v1/cameras/1/video.mp4?start={}&end={}",
                t(5.0),
                t(1.0)
            ),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            &*format!(
                "/api/v1/cameras/1/video.mp4?start={}&end={}",
                t(0.0),
                t(90_000.0)
            ),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            &*format!(
                "/api/v1/cameras/1/video.mp4?start={}&end={}",
                t(100.0),
                t(200.0)
            ),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            &*format!(
                "/api/v1/cameras/99/video.mp4?start={}&end={}",
                t(0.0),
                t(2.0)
            ),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/api/v1/cameras/abc/recordings",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/api/v1/cameras/1/recordings?start=2026-13-45T00:00:00Z",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        ("/api/v1/no/such/route", StatusCode::NOT_FOUND, "not_found"),
    ];
    for (path, status, code) in cases {
        let r = c.get(format!("{}{path}", s.base)).send().await.unwrap();
        let (st, co) = error_code(r).await;
        assert_eq!((st, co.as_str()), (status, code), "{path}");
    }
    // Oversized and malformed bodies (HTTP/1.1 so the early answer is read).
    let h1 = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .http1_only()
        .build()
        .unwrap();
    let r = h1
        .post(format!("{}/api/v1/session", s.base))
        .header("content-type", "application/json")
        .body(vec![b' '; 200 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(r).await,
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large".into())
    );
    for body in ["[]", "{\"username\": 5}", "not json"] {
        let r = h1
            .post(format!("{}/api/v1/session", s.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            !text.contains("LoginRequest") && !text.contains("deserialize"),
            "{text}"
        );
    }
    let r = c
        .get(format!("{}/static/..%2f..%2fetc%2fpasswd", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await.0, StatusCode::NOT_FOUND);
    // No body ever leaks internals.
    let r = c
        .get(format!(
            "{}/api/v1/cameras/1/video.mp4?start=x&end=y",
            s.base
        ))
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    for leak in ["veil.db", "objects/", "SELECT", "/tmp"] {
        assert!(!text.contains(leak), "{text}");
    }
}

#[tokio::test]
async fn playback_is_recorded_before_and_refused_without_the_record() {
    let s = start().await;
    let (c, _) = login(&s).await;
    let url = format!(
        "{}/api/v1/cameras/1/video.mp4?start={}&end={}",
        s.base,
        t(0.0),
        t(4.0)
    );
    assert_eq!(c.get(&url).send().await.unwrap().status(), StatusCode::OK);
    let last = s.store.db.audit_entries(0, 100).unwrap().pop().unwrap();
    assert_eq!(
        (
            last.actor.as_str(),
            last.action.as_str(),
            last.resource.as_str()
        ),
        ("u-test", "playback", "camera:1")
    );
    assert!(last.detail.contains(&t(0.0)), "{}", last.detail);
    let before = s.store.db.audit_entries(0, 100).unwrap().len();
    s.audit.inject_failure(true);
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(
        error_code(r).await,
        (StatusCode::SERVICE_UNAVAILABLE, "audit_unavailable".into())
    );
    // Login is refused too when it cannot be recorded.
    let r = client()
        .post(format!("{}/api/v1/session", s.base))
        .json(&serde_json::json!({"username": "alice.martin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    s.audit.inject_failure(false);
    assert_eq!(s.store.db.audit_entries(0, 100).unwrap().len(), before);
}

#[tokio::test]
async fn a_corrupt_segment_is_skipped_and_others_play() {
    let s = start().await;
    let (c, _) = login(&s).await;
    let segs = s
        .store
        .segments(s.camera, MAIN_RENDITION, Time90k(0), Time90k(i64::MAX / 2))
        .unwrap();
    assert_eq!(segs.len(), 3);
    // Truncate the middle segment's object.
    let p = s
        .dir
        .path()
        .join("data/objects")
        .join(&segs[1].row.object_key);
    let b = std::fs::read(&p).unwrap();
    std::fs::write(&p, &b[..b.len() / 3]).unwrap();
    let url = format!(
        "{}/api/v1/cameras/1/video.mp4?start={}&end={}",
        s.base,
        t(0.0),
        t(12.0)
    );
    // The first request notices (the body ends early); the segment is marked.
    let _ = c.get(&url).send().await.unwrap().bytes().await;
    let body = c.get(&url).send().await.unwrap().bytes().await.unwrap();
    let path = s.dir.path().join("skip.mp4");
    std::fs::write(&path, &body).unwrap();
    let d = ffprobe_duration(&path);
    assert!((d - 8.0).abs() < 0.1, "duration {d}");
    assert_eq!(ffmpeg_errors(&path), "");
    let v: serde_json::Value = c
        .get(format!(
            "{}/api/v1/cameras/1/recordings?start={}&end={}",
            s.base,
            t(-1.0),
            t(20.0)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["recordings"].as_array().unwrap().len(), 2, "{v}");
}
