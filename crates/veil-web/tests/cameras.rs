//! Camera management over real HTTPS, recording from a real RTSP server
//! (GStreamer, with a Basic-auth login): authorisation, the access record,
//! credentials sealed and never returned, status through reconnects.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use veil_audit::{AccessRecord, ClientAddressPolicy};
use veil_base::{SystemClock, Time90k};
use veil_store::{Store, MAIN_RENDITION};

const ADMIN_PASSWORD: &str = "a long test password 42";
const CAMERA_PASSWORD: &str = "cam-Secret-7781";

/// A documented purpose at the site `test` of the tests' organisation: a
/// camera without one does not record.
fn purpose() -> serde_json::Value {
    serde_json::json!({
        "purposes": ["Protection of the premises against theft"],
        "legal_basis": "f",
        "balancing_note": "Visitors are told at the gate and the camera sees only the gate.",
        "detail": "recognition",
        "site": "test",
        "retention_justification": "Thefts are noticed within a week"
    })
}

struct Server {
    base: String,
    store: Store,
    _dir: tempfile::TempDir,
}

/// The server with an administrator and a user whose role grants nothing.
async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SystemClock);
    let store = veil_store::testing::open_dir(&dir.path().join("data"), clock.clone()).unwrap();
    veil_web::roles::setup_roles(&store.db, Time90k(0)).unwrap();
    for (pseudonym, name, role) in [
        ("u-admin", "admin.one", veil_access::ADMINISTRATOR),
        ("u-none", "no.role", ""),
    ] {
        let id = store
            .db
            .insert_user(
                pseudonym,
                name,
                &veil_access::password::hash(ADMIN_PASSWORD),
                role,
                Time90k(0),
            )
            .unwrap();
        // Not about the second factor (tests/authn.rs is).
        store.db.exempt_from_second_factor(id).unwrap();
    }
    let audit =
        AccessRecord::new(store.db.clone(), clock.clone(), ClientAddressPolicy::Full).unwrap();
    // One site, which cameras' purposes name.
    store
        .db
        .set_setting(
            veil_store::db::ORGANISATION_SETTING,
            r#"{"controller": {"name": "Test controller"}, "sites": [{"id": "test", "name": "Test site"}]}"#,
        )
        .unwrap();
    let base = common::serve(&store, &audit, clock, &dir.path().join("tls"));
    Server {
        base,
        store,
        _dir: dir,
    }
}

/// A GStreamer RTSP server with a login (the ingest tests' script).
struct Camera(Child, u16);

impl Camera {
    fn start() -> Camera {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../veil-ingest/tests/rtsp_server.py"
        );
        let mut child = Command::new("/usr/bin/python3")
            .args([
                script,
                "--port",
                &port.to_string(),
                "--live",
                "320x240",
                "--bitrate",
                "400000",
            ])
            .args(["--user", "viewer", "--password", CAMERA_PASSWORD])
            .stdout(Stdio::piped())
            .spawn()
            .expect("needs /usr/bin/python3 with python3-gi and gir1.2-gst-rtsp-server-1.0");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        // Keep draining: the server prints a line per client.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        assert!(line.starts_with("ready"), "RTSP server did not start: {line:?} (needs gstreamer1.0-rtsp, gstreamer1.0-plugins-bad)");
        Camera(child, port)
    }
    fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}/stream", self.1)
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn login(s: &Server, user: &str) -> (reqwest::Client, String) {
    let c = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .cookie_store(true)
        .build()
        .unwrap();
    let r = c
        .post(format!("{}/api/v1/session", s.base))
        .json(&serde_json::json!({"username": user, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: serde_json::Value = r.json().await.unwrap();
    (c, v["csrf"].as_str().unwrap().to_owned())
}

/// Sends a JSON request; returns the status and the body text.
async fn send(
    c: &reqwest::Client,
    csrf: &str,
    method: reqwest::Method,
    url: String,
    body: Option<serde_json::Value>,
) -> (StatusCode, String) {
    let mut r = c.request(method, url).header("X-CSRF-Token", csrf);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn wait_status(
    c: &reqwest::Client,
    s: &Server,
    id: i64,
    what: &str,
    f: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let v: serde_json::Value = c
            .get(format!("{}/api/v1/cameras/{id}/status", s.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if f(&v) {
            return v;
        }
        assert!(Instant::now() < until, "timed out waiting for {what}: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn audit_actions(s: &Server) -> Vec<(String, String, String)> {
    s.store
        .db
        .audit_entries(0, 1000)
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.action, e.resource))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cameras_are_managed_recorded_and_never_leak_credentials() {
    let s = start().await;
    let cam = Camera::start();
    let (c, csrf) = login(&s, "admin.one").await;
    let url = |p: &str| format!("{}{p}", s.base);
    use reqwest::Method;

    // Bad input: clear errors that never echo the password.
    let with_creds = format!("rtsp://viewer:{CAMERA_PASSWORD}@127.0.0.1:{}/stream", cam.1);
    let (st, body) = send(
        &c,
        &csrf,
        Method::POST,
        url("/api/v1/cameras"),
        Some(serde_json::json!({"name": "x", "url": with_creds})),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(!body.contains(CAMERA_PASSWORD), "{body}");
    let (st, body) = send(&c, &csrf, Method::POST, url("/api/v1/cameras"), Some(serde_json::json!({"name": "x", "url": cam.url(), "password": CAMERA_PASSWORD, "bogus": 1}))).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(!body.contains(CAMERA_PASSWORD), "{body}");
    let (st, _) = send(
        &c,
        &csrf,
        Method::POST,
        url("/api/v1/cameras"),
        Some(serde_json::json!({"name": "x", "url": cam.url(), "recording_mode": "sometimes"})),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    // The settings page is for administrators only.
    let (st, body) = send(&c, &csrf, Method::GET, url("/admin/cameras"), None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(body.contains("id=\"camera-form\""), "{body}");
    // A user without a role may not add cameras (default deny), and nothing is stored.
    let (c2, csrf2) = login(&s, "no.role").await;
    let (st, _) = send(&c2, &csrf2, Method::GET, url("/admin/cameras"), None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = send(
        &c2,
        &csrf2,
        Method::POST,
        url("/api/v1/cameras"),
        Some(serde_json::json!({"name": "Gate", "url": cam.url()})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(s.store.db.camera_details().unwrap().is_empty());

    // Create: 201, recording starts, the access record has it first.
    let (st, body) = send(
        &c,
        &csrf,
        Method::POST,
        url("/api/v1/cameras"),
        Some(serde_json::json!({
            "name": "Gate", "url": cam.url(), "username": "viewer", "password": CAMERA_PASSWORD,
            "group": "outside", "segment_seconds": 2, "purpose": purpose()
        })),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    assert!(
        !body.contains(CAMERA_PASSWORD) && !body.contains("viewer"),
        "{body}"
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = v["id"].as_i64().unwrap();
    assert_eq!(v["has_credentials"], true);
    assert_eq!(v["group"], "outside");
    assert!(audit_actions(&s).contains(&(
        "u-admin".into(),
        "camera.create".into(),
        "camera".into()
    )));
    let status = wait_status(&c, &s, id, "recording", |v| v["state"] == "recording").await;
    assert!(status["last_error"].is_null(), "{status}");
    let (st, body) = send(
        &c,
        &csrf,
        Method::GET,
        url(&format!("/api/v1/cameras/{id}")),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(!body.contains(CAMERA_PASSWORD), "{body}");
    let (st, _) = send(
        &c2,
        &csrf2,
        Method::GET,
        url(&format!("/api/v1/cameras/{id}")),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // The password is sealed: not in the database file in the clear.
    let db_bytes =
        veil_store::testing::database_bytes(&s._dir.path().join("data"), &s.store.db).unwrap();
    assert!(
        !db_bytes
            .windows(CAMERA_PASSWORD.len())
            .any(|w| w == CAMERA_PASSWORD.as_bytes()),
        "password in the database in the clear"
    );

    // A wrong password: the status says why; the access record has the update.
    let (st, body) = send(&c, &csrf, Method::PUT, url(&format!("/api/v1/cameras/{id}")), Some(serde_json::json!({
        "name": "Gate", "url": cam.url(), "username": "viewer", "password": "not-it", "segment_seconds": 2
    }))).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let status = wait_status(&c, &s, id, "authentication error", |v| {
        v["state"] == "error"
    })
    .await;
    assert!(
        status["last_error"]
            .as_str()
            .unwrap()
            .contains("authentication"),
        "{status}"
    );
    assert!(audit_actions(&s).contains(&(
        "u-admin".into(),
        "camera.update".into(),
        format!("camera:{id}")
    )));

    // Keep the name and URL, restore the password; then disable: stopped.
    let (st, _) = send(&c, &csrf, Method::PUT, url(&format!("/api/v1/cameras/{id}")), Some(serde_json::json!({
        "name": "Gate", "url": cam.url(), "username": "viewer", "password": CAMERA_PASSWORD, "segment_seconds": 2
    }))).await;
    assert_eq!(st, StatusCode::OK);
    wait_status(&c, &s, id, "recording again", |v| v["state"] == "recording").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (st, _) = send(
        &c,
        &csrf,
        Method::PUT,
        url(&format!("/api/v1/cameras/{id}")),
        Some(serde_json::json!({
            "name": "Gate", "url": cam.url(), "enabled": false
        })),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    wait_status(&c, &s, id, "stopped", |v| v["state"] == "stopped").await;
    let d = s
        .store
        .db
        .camera_detail(veil_base::CameraId(id))
        .unwrap()
        .unwrap();
    assert!(
        d.sealed_credentials.is_some(),
        "credentials kept when not given"
    );
    let runs = s
        .store
        .runs(d.id, MAIN_RENDITION, Time90k(0), Time90k(i64::MAX / 2))
        .unwrap();
    assert!(!runs.is_empty(), "something was recorded");

    // Delete: 204, gone from the API, recordings kept, access recorded.
    let (st, _) = send(
        &c,
        &csrf,
        Method::DELETE,
        url(&format!("/api/v1/cameras/{id}")),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = send(
        &c,
        &csrf,
        Method::GET,
        url(&format!("/api/v1/cameras/{id}")),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let list: serde_json::Value = c
        .get(url("/api/v1/cameras"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 0, "{list}");
    assert!(audit_actions(&s).contains(&(
        "u-admin".into(),
        "camera.delete".into(),
        format!("camera:{id}")
    )));
    assert!(!s
        .store
        .runs(d.id, MAIN_RENDITION, Time90k(0), Time90k(i64::MAX / 2))
        .unwrap()
        .is_empty());
    // The name is free again.
    let (st, _) = send(
        &c,
        &csrf,
        Method::POST,
        url("/api/v1/cameras"),
        Some(serde_json::json!({"name": "Gate", "url": cam.url(), "enabled": false})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, _) = send(
        &c,
        &csrf,
        Method::POST,
        url("/api/v1/cameras"),
        Some(serde_json::json!({"name": "Gate", "url": cam.url(), "enabled": false})),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
}

/// A schedule in UTC covering the whole of the given weekdays (0 = Monday).
fn whole_days(days: &[usize]) -> serde_json::Value {
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let intervals: Vec<serde_json::Value> = days
        .iter()
        .map(|&d| serde_json::json!({"day": NAMES[d], "start": "00:00", "end": "24:00"}))
        .collect();
    serde_json::json!({"time_zone": "UTC", "intervals": intervals})
}

/// Today's weekday in UTC, 0 = Monday (1970-01-01 was a Thursday).
fn today_utc() -> usize {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    ((days + 3) % 7) as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scheduled_and_motion_settings_are_checked_and_a_schedule_gates_recording() {
    let s = start().await;
    let cam = Camera::start();
    let (c, csrf) = login(&s, "admin.one").await;
    let url = |p: &str| format!("{}{p}", s.base);
    use reqwest::Method;
    let base = |extra: serde_json::Value| {
        let mut v = serde_json::json!({"name": "sched", "url": cam.url(),
            "username": "viewer", "password": CAMERA_PASSWORD, "segment_seconds": 1,
            "purpose": purpose()});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };

    // Bad settings: 400 with a message that says what is wrong.
    for (extra, message) in [
        (
            serde_json::json!({"recording_mode": "scheduled"}),
            "recording_mode \\\"scheduled\\\" needs a \\\"schedule\\\"",
        ),
        (
            serde_json::json!({"recording_mode": "scheduled",
                "schedule": {"time_zone": "Mars/Olympus", "intervals": [{"day": "mon", "start": "08:00", "end": "18:00"}]}}),
            "schedule: unknown time zone",
        ),
        (
            serde_json::json!({"recording_mode": "scheduled",
                "schedule": {"time_zone": "UTC", "intervals": [{"day": "mon", "start": "18:00", "end": "08:00"}]}}),
            "the end must be after the start",
        ),
        (
            serde_json::json!({"recording_mode": "continuous", "schedule": whole_days(&[0])}),
            "takes neither",
        ),
        (
            serde_json::json!({"recording_mode": "motion", "schedule": whole_days(&[0])}),
            "\\\"schedule\\\" is only for recording_mode \\\"scheduled\\\"",
        ),
        (
            serde_json::json!({"recording_mode": "scheduled", "schedule": whole_days(&[0]), "motion": {}}),
            "\\\"motion\\\" is only for recording_mode \\\"motion\\\"",
        ),
        (
            serde_json::json!({"recording_mode": "motion", "motion": {"pre_seconds": 31}}),
            "motion.pre_seconds must be between 0 and 30",
        ),
        (
            serde_json::json!({"recording_mode": "motion", "motion": {"post_seconds": 301}}),
            "motion.post_seconds must be between 1 and 300",
        ),
        (
            serde_json::json!({"recording_mode": "motion", "motion": {"threshold": 0}}),
            "motion.threshold must be between 1 and 254",
        ),
    ] {
        let (st, body) = send(
            &c,
            &csrf,
            Method::POST,
            url("/api/v1/cameras"),
            Some(base(extra.clone())),
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{extra}: {body}");
        assert!(body.contains(message), "{extra}: {body}");
    }

    // A motion camera shows its settings with the defaults filled in.
    let (st, body) = send(
        &c,
        &csrf,
        Method::POST,
        url("/api/v1/cameras"),
        Some(base(serde_json::json!({"name": "motion", "enabled": false,
            "recording_mode": "motion", "motion": {"pre_seconds": 2}}))),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["motion"],
        serde_json::json!({"pre_seconds": 2, "post_seconds": 10, "threshold": 20, "min_area_percent": 2.0})
    );
    assert!(v["schedule"].is_null());

    // A schedule that excludes now (only tomorrow): connected, live, not recording.
    let tomorrow = (today_utc() + 1) % 7;
    let (st, body) = send(
        &c,
        &csrf,
        Method::POST,
        url("/api/v1/cameras"),
        Some(base(serde_json::json!({"recording_mode": "scheduled",
            "schedule": whole_days(&[tomorrow])}))),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = v["id"].as_i64().unwrap();
    assert_eq!(v["schedule"], whole_days(&[tomorrow]));
    let status = wait_status(&c, &s, id, "standby", |v| v["state"] == "standby").await;
    assert_eq!(status["standby_reason"], "outside the recording schedule");
    // Frames arrive (live view works) for a few keyframes, and nothing is stored.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let status = wait_status(&c, &s, id, "standby", |v| v["state"] == "standby").await;
    assert!(status["last_frame_at"].is_string(), "{status}");
    assert!(status["fps"].as_f64().unwrap() > 20.0, "{status}");
    let camera = veil_base::CameraId(id);
    let recorded = |s: &Server| {
        s.store
            .runs(camera, MAIN_RENDITION, Time90k(0), Time90k(i64::MAX / 2))
            .unwrap()
    };
    assert_eq!(recorded(&s), [], "nothing recorded outside the schedule");

    // Changed over the API to include now: it records.
    let (st, body) = send(
        &c,
        &csrf,
        Method::PUT,
        url(&format!("/api/v1/cameras/{id}")),
        Some(base(serde_json::json!({"recording_mode": "scheduled",
            "schedule": whole_days(&[0, 1, 2, 3, 4, 5, 6])}))),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let status = wait_status(&c, &s, id, "recording", |v| v["state"] == "recording").await;
    assert!(status["standby_reason"].is_null(), "{status}");
    let until = Instant::now() + Duration::from_secs(30);
    while recorded(&s).is_empty() {
        assert!(
            Instant::now() < until,
            "nothing recorded inside the schedule"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The access record's details of one action, in order.
fn audit_details(s: &Server, action: &str) -> Vec<String> {
    s.store
        .db
        .audit_entries(0, 1000)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action)
        .map(|e| e.detail)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_and_metadata_are_off_by_default_and_need_a_purpose() {
    let s = start().await;
    let (c, csrf) = login(&s, "admin.one").await;
    let url = |p: &str| format!("{}{p}", s.base);
    use reqwest::Method;
    // Disabled cameras: nothing connects, only the settings matter here.
    let camera = |extra: serde_json::Value| {
        let mut v = serde_json::json!({
            "name": "Till", "url": "rtsp://127.0.0.1:9/stream", "enabled": false
        });
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };

    // Enabling audio without a purpose (or with a blank or too short one) is
    // refused, naming the field and saying why; nothing is stored.
    for audio in [
        serde_json::json!({"enabled": true}),
        serde_json::json!({"enabled": true, "purpose": "      "}),
        serde_json::json!({"enabled": true, "purpose": " because  "}),
    ] {
        let (st, body) = send(
            &c,
            &csrf,
            Method::POST,
            url("/api/v1/cameras"),
            Some(camera(serde_json::json!({ "audio": audio }))),
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body.contains("audio.purpose") && body.contains("GDPR") && body.contains("sound"),
            "{body}"
        );
    }
    let (st, body) = send(
        &c,
        &csrf,
        Method::POST,
        url("/api/v1/cameras"),
        Some(camera(serde_json::json!({"metadata": {"enabled": true}}))),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("metadata.purpose"), "{body}");
    assert!(s.store.db.camera_details().unwrap().is_empty());

    // The default: both off with empty purposes; the record says so.
    let (st, body) = send(
        &c,
        &csrf,
        Method::POST,
        url("/api/v1/cameras"),
        Some(camera(serde_json::json!({}))),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = v["id"].as_i64().unwrap();
    assert_eq!(
        v["audio"],
        serde_json::json!({"enabled": false, "purpose": ""})
    );
    assert_eq!(
        v["metadata"],
        serde_json::json!({"enabled": false, "purpose": ""})
    );
    let created = audit_details(&s, "camera.create");
    assert!(
        created[0].contains("audio=disabled") && created[0].contains("metadata=disabled"),
        "{created:?}"
    );

    // Enable audio with a purpose: stored (trimmed), returned, recorded.
    let purpose = "Evidence of verbal threats against staff at the till";
    let (st, body) = send(
        &c,
        &csrf,
        Method::PUT,
        url(&format!("/api/v1/cameras/{id}")),
        Some(camera(serde_json::json!({
            "audio": {"enabled": true, "purpose": format!("  {purpose}  ")}
        }))),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (st, body) = send(
        &c,
        &csrf,
        Method::GET,
        url(&format!("/api/v1/cameras/{id}")),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["audio"],
        serde_json::json!({"enabled": true, "purpose": purpose})
    );
    assert_eq!(v["metadata"]["enabled"], false);
    let d = s.store.db.camera_details().unwrap();
    assert!(d[0].settings.audio.enabled && d[0].settings.audio.purpose == purpose);
    let updated = audit_details(&s, "camera.update");
    assert_eq!(updated.len(), 1, "{updated:?}");
    assert!(
        updated[0].contains("audio=enabled")
            && updated[0].contains(purpose)
            && updated[0].contains("metadata=unchanged(disabled)"),
        "{updated:?}"
    );

    // Disable it again: the record says so; the purpose text is kept.
    let (st, body) = send(
        &c,
        &csrf,
        Method::PUT,
        url(&format!("/api/v1/cameras/{id}")),
        Some(camera(serde_json::json!({
            "audio": {"enabled": false, "purpose": purpose},
            "metadata": {"enabled": true, "purpose": "Door events for the incident log"}
        }))),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let updated = audit_details(&s, "camera.update");
    assert!(
        updated[1].contains("audio=disabled") && updated[1].contains("metadata=enabled"),
        "{updated:?}"
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["audio"]["enabled"], false);
    assert_eq!(v["audio"]["purpose"], purpose);

    // The settings page has the fields and explains why.
    let (st, body) = send(&c, &csrf, Method::GET, url("/admin/cameras"), None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        body.contains("id=\"cam-audio-purpose\"") && body.contains("more intrusive"),
        "{body}"
    );
}

/// P8 over the API: a camera without a documented purpose streams but
/// records nothing and says why; each bad field of a purpose is a 400
/// naming it that changes and records nothing; a purpose set over the API
/// starts recording without a restart, and removing it stops recording.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_camera_records_only_with_a_documented_purpose() {
    let s = start().await;
    let cam = Camera::start();
    let (c, csrf) = login(&s, "admin.one").await;
    let url = |p: &str| format!("{}{p}", s.base);
    use reqwest::Method;
    let (st, body) = send(
        &c,
        &csrf,
        Method::POST,
        url("/api/v1/cameras"),
        Some(
            serde_json::json!({"name": "Yard", "url": cam.url(), "username": "viewer",
            "password": CAMERA_PASSWORD, "segment_seconds": 1}),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = v["id"].as_i64().unwrap();
    assert!(v["purpose"].is_null(), "{v}");
    let status = wait_status(&c, &s, id, "standby", |v| v["state"] == "standby").await;
    assert_eq!(
        status["standby_reason"], "no documented purpose",
        "{status}"
    );
    assert!(status["last_frame_at"].is_string(), "it streams: {status}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let segments = || s.store.db.segment_count().unwrap();
    assert_eq!(segments(), 0, "nothing recorded without a purpose");

    // Each bad field: 400 naming it; nothing recorded or changed.
    let purposes = || {
        audit_actions(&s)
            .into_iter()
            .filter(|a| a.1 == "config.purpose")
            .count()
    };
    let with = |field: &str, value: serde_json::Value| {
        let mut p = purpose();
        if value.is_null() {
            p.as_object_mut().unwrap().remove(field);
        } else {
            p[field] = value;
        }
        p
    };
    for (body, field) in [
        (with("purposes", serde_json::json!([])), "purposes"),
        (
            with("purposes", serde_json::json!(["Theft", "x"])),
            "purposes[1]",
        ),
        (with("legal_basis", serde_json::json!("g")), "legal_basis"),
        (
            with("balancing_note", serde_json::Value::Null),
            "balancing_note",
        ),
        (with("detail", serde_json::json!("faces")), "detail"),
        (with("site", serde_json::json!("depot")), "site"),
        (
            with("retention_justification", serde_json::json!("short")),
            "retention_justification",
        ),
        (with("colour", serde_json::json!("red")), "colour"),
    ] {
        let (st, text) = send(
            &c,
            &csrf,
            Method::PUT,
            url(&format!("/api/v1/cameras/{id}/purpose")),
            Some(body.clone()),
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{field}: {text}");
        let message = serde_json::from_str::<serde_json::Value>(&text).unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains(field), "{field}: {message}");
        // In a camera request, the same error under `purpose.`.
        if field != "colour" {
            let (st, text) = send(
                &c,
                &csrf,
                Method::PUT,
                url(&format!("/api/v1/cameras/{id}")),
                Some(
                    serde_json::json!({"name": "Yard", "url": cam.url(), "segment_seconds": 1,
                    "purpose": body}),
                ),
            )
            .await;
            assert_eq!(st, StatusCode::BAD_REQUEST, "{field}: {text}");
            assert!(
                text.contains(&format!("purpose.{field}")),
                "{field}: {text}"
            );
        }
    }
    assert_eq!(purposes(), 0, "refusals change nothing");
    let (_, body) = send(
        &c,
        &csrf,
        Method::GET,
        url(&format!("/api/v1/cameras/{id}")),
        None,
    )
    .await;
    assert!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["purpose"].is_null());

    // Unknown camera: 404; no permission: 403 before the body is read.
    let (st, _) = send(
        &c,
        &csrf,
        Method::PUT,
        url("/api/v1/cameras/999/purpose"),
        Some(purpose()),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (nobody, nobody_csrf) = login(&s, "no.role").await;
    let (st, _) = send(
        &nobody,
        &nobody_csrf,
        Method::PUT,
        url(&format!("/api/v1/cameras/{id}/purpose")),
        Some(serde_json::json!("not even a purpose")),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // Documented: recording starts within a segment, without a restart.
    let (st, text) = send(
        &c,
        &csrf,
        Method::PUT,
        url(&format!("/api/v1/cameras/{id}/purpose")),
        Some(purpose()),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{text}");
    let details: Vec<String> = s
        .store
        .db
        .audit_entries(0, 1000)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "config.purpose")
        .map(|e| format!("{} {}", e.resource, e.detail))
        .collect();
    assert_eq!(
        details,
        [format!(
            "camera:{id} legal_basis=f detail=recognition site=test purposes=1"
        )]
    );
    let (_, body) = send(
        &c,
        &csrf,
        Method::GET,
        url(&format!("/api/v1/cameras/{id}")),
        None,
    )
    .await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["purpose"],
        purpose()
    );
    wait_status(&c, &s, id, "recording", |v| v["state"] == "recording").await;
    let until = Instant::now() + Duration::from_secs(10);
    while segments() < 2 {
        assert!(
            Instant::now() < until,
            "no segments within 10 s of the purpose"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Removed: it stops recording, and says why.
    let (st, _) = send(
        &c,
        &csrf,
        Method::DELETE,
        url(&format!("/api/v1/cameras/{id}/purpose")),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(purposes(), 2);
    let status = wait_status(&c, &s, id, "standby", |v| v["state"] == "standby").await;
    assert_eq!(
        status["standby_reason"], "no documented purpose",
        "{status}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stopped = segments();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        segments(),
        stopped,
        "nothing recorded once the purpose is gone"
    );
}
