//! The test harness shared by the API tests: a real HTTPS server on
//! 127.0.0.1 over a store with 12 s of synthetic video on camera 1, an
//! administrator (`alice.martin`) and an auditor (`ines.audit`).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use veil_audit::{AccessRecord, ClientAddressPolicy};
use veil_base::{CameraId, SharedClock, SimulatedClock, Time90k};
use veil_media::synthetic::SyntheticConfig;
use veil_store::recorder::{synthetic_segments, LiveHub};
use veil_store::Store;
use veil_web::{AppState, SessionPolicy, Transport};

pub const T0: i64 = 1_795_000_000 * 90_000;
pub const PASSWORD: &str = "a long test password 42";

pub struct Server {
    pub base: String,
    pub audit: AccessRecord,
    pub store: Store,
    pub dir: tempfile::TempDir,
    pub camera: CameraId,
    pub clock: SimulatedClock,
}

pub fn t(secs_after_t0: f64) -> String {
    Time90k(T0 + (secs_after_t0 * 90_000.0) as i64).to_rfc3339()
}

/// 12 s of 320x240 video (GOP 1 s, segments of 4 s) on camera 1 from T0.
pub async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let clock = SimulatedClock::new(Time90k(T0 + 60 * 90_000));
    let store =
        veil_store::testing::open_dir(&dir.path().join("data"), Arc::new(clock.clone())).unwrap();
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
    veil_web::roles::setup_roles(&store.db, Time90k(T0)).unwrap();
    let alice = store
        .db
        .insert_user(
            "u-test",
            "alice.martin",
            &veil_access::password::hash(PASSWORD),
            veil_access::ADMINISTRATOR,
            Time90k(T0),
        )
        .unwrap();
    // The administrator role requires a second factor; these tests are about
    // other things (tests/authn.rs enrols one), so Alice is exempt like the
    // demo's account.
    store.db.exempt_from_second_factor(alice).unwrap();
    store
        .db
        .insert_user(
            "u-auditor",
            "ines.audit",
            &veil_access::password::hash(PASSWORD),
            veil_access::AUDITOR,
            Time90k(T0),
        )
        .unwrap();
    let audit = AccessRecord::open(
        store.db.clone(),
        Arc::new(clock.clone()),
        ClientAddressPolicy::Full,
        Some(veil_audit::Checkpointing {
            key: Arc::new(veil_audit::AuditKey::generate().0),
            every_entries: 1000,
            every: std::time::Duration::from_secs(3600),
            sink: None,
        }),
    )
    .unwrap();
    let base = serve(
        &store,
        &audit,
        Arc::new(clock.clone()),
        &dir.path().join("tls"),
    );
    Server {
        base,
        audit,
        store,
        dir,
        camera,
        clock,
    }
}

/// Serves `store` with `audit` and `clock` over HTTPS on 127.0.0.1 (a
/// self-signed certificate in `tls_dir`); returns the base URL.
pub fn serve(store: &Store, audit: &AccessRecord, clock: SharedClock, tls_dir: &Path) -> String {
    serve_with(store, audit, clock, tls_dir, Default::default())
}

/// [`serve`] believing the forwarding headers of `proxies`.
pub fn serve_with(
    store: &Store,
    audit: &AccessRecord,
    clock: SharedClock,
    tls_dir: &Path,
    proxies: veil_web::proxy::TrustedProxies,
) -> String {
    let live = LiveHub::default();
    let state = AppState {
        store: store.clone(),
        live: live.clone(),
        audit: audit.clone(),
        clock,
        sessions: SessionPolicy::default(),
        throttles: Default::default(),
        ingest: veil_ingest::Supervisor::new(
            store.clone(),
            live,
            veil_ingest::StatusBoard::default(),
            2 * 90_000,
        ),
        proxies,
        exports: veil_web::exports::Exports::new(veil_export::ExportKey::generate()),
    };
    // Expired export packages are destroyed at once in tests (the server
    // looks every minute).
    tokio::spawn(veil_web::exports::run_periodically(
        state.clone(),
        std::time::Duration::from_millis(200),
    ));
    let (cert, key) = veil_web::tls::ensure_self_signed(tls_dir, &[]).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(veil_web::serve(
        listener,
        Transport::Tls { cert, key },
        veil_web::router(state),
    ));
    format!("https://{addr}")
}

/// Everything the server's database holds, as bytes to search for a secret
/// (the SQLite file and WAL, or every value on PostgreSQL).
pub fn stored_bytes(s: &Server) -> Vec<u8> {
    veil_store::testing::database_bytes(&s.dir.path().join("data"), &s.store.db).unwrap()
}

pub fn client() -> reqwest::Client {
    // HTTP/1.1: the live-view tests upgrade the connection to a WebSocket,
    // which browsers and Veil do over HTTP/1.1 only; reqwest would otherwise
    // negotiate HTTP/2 (its `http2` feature comes with the S3 client).
    reqwest::Client::builder()
        .http1_only()
        .danger_accept_invalid_certs(true)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub async fn login(s: &Server) -> (reqwest::Client, String) {
    login_as(s, "alice.martin").await
}

pub async fn login_as(s: &Server, name: &str) -> (reqwest::Client, String) {
    let c = client();
    let r = post_session(&c, s, name, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    (c, v["csrf"].as_str().unwrap().to_owned())
}

/// `POST /api/v1/session` as `c` with `name` and `password`: a login
/// attempt, whatever its outcome.
pub async fn post_session(
    c: &reqwest::Client,
    s: &Server,
    name: &str,
    password: &str,
) -> reqwest::Response {
    c.post(format!("{}/api/v1/session", s.base))
        .json(&json!({"username": name, "password": password}))
        .send()
        .await
        .unwrap()
}

/// `GET {base}{path}` as `c`.
pub async fn get(c: &reqwest::Client, s: &Server, path: &str) -> reqwest::Response {
    c.get(format!("{}{path}", s.base)).send().await.unwrap()
}

/// `GET {base}{path}` with the API token `token` (as `Authorization:
/// Bearer`) from `c`.
pub async fn get_with_token(
    c: &reqwest::Client,
    s: &Server,
    path: &str,
    token: &str,
) -> reqwest::Response {
    c.get(format!("{}{path}", s.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// `GET {base}{path}` as `c`, its answer read as JSON whatever the status.
pub async fn get_json<T: serde::de::DeserializeOwned>(
    c: &reqwest::Client,
    s: &Server,
    path: &str,
) -> T {
    get(c, s, path).await.json().await.unwrap()
}

pub async fn status_of(c: &reqwest::Client, s: &Server, path: &str) -> StatusCode {
    get(c, s, path).await.status()
}

/// Sends `method url` as `c` with its CSRF token `csrf`, and `body` as
/// JSON if there is one.
pub async fn send(
    c: &reqwest::Client,
    csrf: &str,
    method: Method,
    url: String,
    body: Option<Value>,
) -> reqwest::Response {
    let mut r = c.request(method, url).header("x-csrf-token", csrf);
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

/// [`send`] a `PUT` with `body`.
pub async fn put_json(
    c: &reqwest::Client,
    csrf: &str,
    url: String,
    body: Value,
) -> reqwest::Response {
    send(c, csrf, Method::PUT, url, Some(body)).await
}

/// [`send`] a `POST` with `body`.
pub async fn post_json(
    c: &reqwest::Client,
    csrf: &str,
    url: String,
    body: Value,
) -> reqwest::Response {
    send(c, csrf, Method::POST, url, Some(body)).await
}

pub async fn error_code(r: reqwest::Response) -> (StatusCode, String) {
    let (status, code, message) = refusal(r).await;
    assert!(!message.is_empty(), "error {code:?} without a message");
    assert!(!code.is_empty(), "error without a code: {message}");
    (status, code)
}

/// An error answer's status, `error.code` and `error.message` (empty when
/// absent).
pub async fn refusal(r: reqwest::Response) -> (StatusCode, String, String) {
    let status = r.status();
    let v: serde_json::Value = r.json().await.expect("JSON error body");
    let field = |f: &str| v["error"][f].as_str().unwrap_or_default().to_owned();
    (status, field("code"), field("message"))
}

/// Every entry of the access record (the first 10,000), oldest first.
pub fn audit_entries(s: &Server) -> Vec<veil_store::db::AuditRow> {
    s.store.db.audit_entries(0, 10_000).unwrap()
}

pub fn audit_actions(s: &Server) -> Vec<(String, String, String)> {
    audit_entries(s)
        .into_iter()
        .map(|e| (e.actor, e.action, e.outcome))
        .collect()
}

/// Enrols a TOTP second factor for the signed-in user of `c`; returns the
/// seed and the recovery codes.
pub async fn enrol_totp(
    s: &Server,
    c: &reqwest::Client,
    csrf: &str,
) -> (veil_access::totp::TotpSecret, Vec<String>) {
    let r = c
        .post(format!("{}/api/v1/session/totp", s.base))
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: serde_json::Value = r.json().await.unwrap();
    let secret = veil_access::totp::TotpSecret::from_base32(v["secret"].as_str().unwrap()).unwrap();
    assert!(v["otpauth_uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/Veil:"));
    assert!(v["qr_svg"].as_str().unwrap().contains("</svg>"));
    let code = totp_now(s, &secret);
    let r = c
        .post(format!("{}/api/v1/session/totp/confirm", s.base))
        .header("x-csrf-token", csrf)
        .json(&serde_json::json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: serde_json::Value = r.json().await.unwrap();
    let codes: Vec<String> = serde_json::from_value(v["recovery_codes"].clone()).unwrap();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

/// The authenticator's code at the server's (simulated) time.
pub fn totp_now(s: &Server, secret: &veil_access::totp::TotpSecret) -> String {
    let now = veil_base::Clock::now(&s.clock).0 / 90_000;
    format!("{:06}", veil_access::totp::code_at(secret, now))
}

/// Creates `name` with `roles` through the API (as the administrator) and
/// signs them in, changing the one-time password first.
pub async fn new_user(
    s: &Server,
    admin: &reqwest::Client,
    csrf: &str,
    name: &str,
    roles: &[&str],
) -> (reqwest::Client, String) {
    let r = post_json(
        admin,
        csrf,
        format!("{}/api/v1/users", s.base),
        json!({"name": name, "roles": roles}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    let first = v["password"].as_str().unwrap().to_owned();
    assert_eq!(v["must_change_password"], true);
    let c = client();
    let v: Value = post_session(&c, s, name, &first)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["must_change_password"], true, "{v}");
    let csrf = v["csrf"].as_str().unwrap().to_owned();
    // Nothing but the own session until the password is changed.
    let (status, _) = error_code(get(&c, s, "/api/v1/cameras").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let password = format!("{}/api/v1/session/password", s.base);
    let r = post_json(
        &c,
        &csrf,
        password.clone(),
        json!({"current": first, "new": "short"}),
    )
    .await;
    assert_eq!(error_code(r).await.0, StatusCode::BAD_REQUEST);
    let r = post_json(
        &c,
        &csrf,
        password,
        json!({"current": first, "new": PASSWORD}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    (c, csrf)
}

/// The account whose `field` (e.g. `name` or `id`) is `value`, as
/// `GET /api/v1/users` lists it to the administrator `admin`.
pub async fn user_entry(s: &Server, admin: &reqwest::Client, field: &str, value: &str) -> Value {
    let users: Value = get_json(admin, s, "/api/v1/users").await;
    users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u[field] == value)
        .unwrap_or_else(|| panic!("no account with {field} {value}: {users}"))
        .clone()
}

/// The account id (pseudonym) of `name`, as `GET /api/v1/users` lists it to
/// the administrator `admin`.
pub async fn user_id(s: &Server, admin: &reqwest::Client, name: &str) -> String {
    user_entry(s, admin, "name", name).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Creates the role `name` (as the administrator `admin`) with `grants`:
/// a permission each, on the cameras listed or, with `None`, on all.
pub async fn create_role(
    s: &Server,
    admin: &reqwest::Client,
    csrf: &str,
    name: &str,
    grants: &[(&str, Option<&[i64]>)],
) {
    let grants: Vec<Value> = grants
        .iter()
        .map(|(p, ids)| match ids {
            None => json!({"permission": p, "scope": {"kind": "all"}}),
            Some(ids) => json!({"permission": p, "scope": {"kind": "cameras", "ids": ids}}),
        })
        .collect();
    let r = put_json(
        admin,
        csrf,
        format!("{}/api/v1/roles/{name}", s.base),
        json!({ "grants": grants }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

/// Creates an API token `name` with `roles`, valid 30 days, for the
/// signed-in user of `c`; returns the answer (its `id` and `token`).
pub async fn create_token(
    s: &Server,
    c: &reqwest::Client,
    csrf: &str,
    name: &str,
    roles: &[&str],
) -> Value {
    let r = post_json(
        c,
        csrf,
        format!("{}/api/v1/tokens", s.base),
        json!({"name": name, "roles": roles, "expires_in_days": 30}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.unwrap()
}

/// Adds a second synthetic camera `name` (with no recording).
pub fn add_camera(s: &Server, name: &str) -> CameraId {
    s.store
        .db
        .upsert_camera(name, "synthetic", "{}", Time90k(T0))
        .unwrap()
}

/// Adds `gina.inv` (pseudonym `u-inv`) with the investigator role, whose
/// role requires a second factor she has not enrolled yet; returns her id.
pub fn investigator(s: &Server) -> veil_base::UserId {
    s.store
        .db
        .insert_user(
            "u-inv",
            "gina.inv",
            &veil_access::password::hash(PASSWORD),
            "investigator",
            Time90k(T0),
        )
        .unwrap()
}

/// Camera 1 is masked from T0 + 20 s for 8 s: `protected` and `original`
/// segments of the same times (different pictures, so their bytes differ).
/// Returns the first segment's media of each.
pub async fn masked_video(s: &Server) -> (Vec<u8>, Vec<u8>) {
    let mut first = Vec::new();
    for (rendition, seed) in [
        (veil_store::PROTECTED_RENDITION, 5),
        (veil_store::ORIGINAL_RENDITION, 6),
    ] {
        let config = SyntheticConfig {
            width: 320,
            height: 240,
            fps: 25,
            gop_frames: 25,
            bitrate_bps: 300_000,
            seed,
        };
        let segs = synthetic_segments(
            s.camera,
            config,
            Time90k(T0 + 20 * veil_base::TIME_UNITS_PER_SEC),
            8 * 25 + 1,
            4 * veil_base::TIME_UNITS_PER_SEC,
        )
        .unwrap();
        first.push(segs[0].media.clone());
        for mut seg in segs {
            seg.rendition = rendition.into();
            s.store.write_segment(seg).await.unwrap();
        }
    }
    (first.remove(0), first.remove(0))
}

/// `c` asks for four-eyes approval of `permission` on `resource` and
/// `fatima.dpo` (who must exist, with the dpo role) approves; the
/// approval's id.
pub async fn approved(
    s: &Server,
    c: &reqwest::Client,
    csrf: &str,
    permission: &str,
    resource: &str,
    why: &str,
) -> i64 {
    let r = post_json(
        c,
        csrf,
        format!("{}/api/v1/approvals", s.base),
        serde_json::json!({"permission": permission, "resource": resource, "justification": why}),
    )
    .await;
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);
    let approval = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let (dpo, dpo_csrf) = login_as(s, "fatima.dpo").await;
    let r = post_json(
        &dpo,
        &dpo_csrf,
        format!("{}/api/v1/approvals/{approval}/decision", s.base),
        serde_json::json!({"approve": true, "note": "checked the request"}),
    )
    .await;
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    approval
}
