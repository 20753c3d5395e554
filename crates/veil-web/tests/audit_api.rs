//! Reading the access record over real HTTPS: filters, paging, names,
//! permissions, the report, the `/audit` page, and user erasure.

mod common;

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;
use veil_audit::{AccessRecord, Action, ClientAddressPolicy, Event, Outcome};
use veil_base::{SimulatedClock, Time90k};
use veil_store::Store;

/// 2026-11-23T00:00:00Z, a Monday.
const T0: i64 = 1_795_392_000 * 90_000;
const MIN: i64 = 60 * 90_000;
const PASSWORD: &str = "a long test password 42";
/// A name that must vanish from the database file after erasure.
const ZOE: &str = "zoe.erasable-4411";

struct Server {
    base: String,
    audit: AccessRecord,
    store: Store,
    clock: SimulatedClock,
    dir: tempfile::TempDir,
}

fn at(minutes: i64) -> String {
    Time90k(T0 + minutes * MIN).to_rfc3339()
}

/// Accounts: an administrator (no audit read), an auditor, and Zoe (an
/// administrator whose name is erased in one test). The clock stands at T0 + 3 h.
async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let clock = SimulatedClock::new(Time90k(T0 + 180 * MIN));
    let store =
        veil_store::testing::open_dir(&dir.path().join("data"), Arc::new(clock.clone())).unwrap();
    let hash = veil_access::password::hash(PASSWORD);
    veil_web::roles::setup_roles(&store.db, Time90k(T0)).unwrap();
    for (pseudonym, name, role) in [
        ("u-admin", "alice.martin", veil_access::ADMINISTRATOR),
        ("u-auditor", "ines.auditor", veil_access::AUDITOR),
        ("u-zoe", ZOE, veil_access::ADMINISTRATOR),
    ] {
        let id = store
            .db
            .insert_user(pseudonym, name, &hash, role, Time90k(T0))
            .unwrap();
        // Not about the second factor (tests/authn.rs is).
        store.db.exempt_from_second_factor(id).unwrap();
    }
    let audit = AccessRecord::new(
        store.db.clone(),
        Arc::new(clock.clone()),
        ClientAddressPolicy::Full,
    )
    .unwrap();
    let base = common::serve(
        &store,
        &audit,
        Arc::new(clock.clone()),
        &dir.path().join("tls"),
    );
    Server {
        base,
        audit,
        store,
        clock,
        dir,
    }
}

/// Appends `e` at `T0 + minutes`, then puts the clock back.
fn append_at(s: &Server, minutes: i64, e: Event) -> i64 {
    let now = veil_base::Clock::now(&s.clock).0;
    let then = T0 + minutes * MIN;
    s.clock.advance(then - now);
    let seq = s.audit.append(e).unwrap();
    s.clock.advance(now - then);
    seq
}

fn playback(actor: &str, cam: i64, start_min: i64, minutes: i64) -> Event {
    Event::new(actor, Action::Playback, format!("camera:{cam}")).detail(format!(
        "rendition=main start={} end={}",
        at(start_min),
        at(start_min + minutes)
    ))
}

/// A known history: Zoe plays back camera 1 twice for 30 min and watches
/// camera 2 live; a failed login by Zoe, one for an unknown name; a lockout.
fn history(s: &Server) {
    append_at(s, 10, playback("u-zoe", 1, -120, 30));
    append_at(s, 20, playback("u-zoe", 1, -60, 30));
    append_at(
        s,
        30,
        Event::new("u-zoe", Action::LiveView, "camera:2").client("192.0.2.1".parse().unwrap()),
    );
    append_at(
        s,
        40,
        Event::new("u-zoe", Action::Login, "session").outcome(Outcome::Denied),
    );
    append_at(
        s,
        50,
        Event::new("anonymous", Action::Login, "session").outcome(Outcome::Denied),
    );
    append_at(
        s,
        60,
        Event::new("u-zoe", Action::LoginLocked, "session").outcome(Outcome::Denied),
    );
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn login(s: &Server, name: &str) -> (reqwest::Client, String) {
    let c = client();
    let r = c
        .post(format!("{}/api/v1/session", s.base))
        .json(&serde_json::json!({"username": name, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "login of {name}");
    let v: Value = r.json().await.unwrap();
    (c, v["csrf"].as_str().unwrap().to_owned())
}

async fn get(c: &reqwest::Client, s: &Server, path: &str) -> (StatusCode, Value) {
    let r = c.get(format!("{}{path}", s.base)).send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn last_entry(s: &Server) -> veil_store::db::AuditRow {
    s.store
        .db
        .audit_query(&Default::default(), 1)
        .unwrap()
        .remove(0)
}

#[tokio::test]
async fn an_administrator_without_audit_read_gets_403_and_no_link() {
    let s = start().await;
    let (c, _) = login(&s, "alice.martin").await;
    for path in [
        "/api/v1/audit",
        "/api/v1/audit?action=nonsense",
        "/api/v1/audit/report?from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z",
        "/audit",
    ] {
        let (status, body) = get(&c, &s, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(body["error"]["code"], "forbidden", "{path}");
    }
    let (status, page) = get(&c, &s, "/cameras").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.as_str().unwrap().contains("href=\"/audit\""));
    // Nothing was read, so nothing was recorded as read.
    assert_eq!(last_entry(&s).action, "login");

    let (c, _) = login(&s, "ines.auditor").await;
    let (_, page) = get(&c, &s, "/audit").await;
    assert!(page
        .as_str()
        .unwrap()
        .contains("<a href=\"/audit\" aria-current=\"page\">Access record</a>"));
    // An auditor cannot list cameras: the camera page sends them to /audit.
    let r = c.get(format!("{}/cameras", s.base)).send().await.unwrap();
    assert!(r.status().is_redirection());
    assert_eq!(r.headers()["location"], "/audit");
}

#[tokio::test]
async fn filters_paging_and_names() {
    let s = start().await;
    history(&s);
    let (c, _) = login(&s, "ines.auditor").await;

    // Unfiltered: newest first, and the newest is this very read, recorded
    // before the answer was produced.
    let (status, v) = get(&c, &s, "/api/v1/audit").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 8, "6 appended, the auditor's login, this read");
    assert_eq!(items[0]["action"], "audit.read");
    assert_eq!(items[0]["actor"], "u-auditor");
    assert_eq!(items[0]["actor_name"], "ines.auditor");
    assert_eq!(items[0]["detail"], "limit=100");
    assert_eq!(items[0]["resource"], "audit");
    assert_eq!(items[1]["action"], "login");
    let seqs: Vec<i64> = items.iter().map(|i| i["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");
    assert_eq!(v["next"], Value::Null);
    let live = items.iter().find(|i| i["action"] == "live_view").unwrap();
    assert_eq!(
        live,
        &serde_json::json!({
            "seq": 3, "time": at(30), "actor": "u-zoe", "actor_name": ZOE,
            "action": "live_view", "resource": "camera:2", "outcome": "ok",
            "justification": "", "detail": "", "client": "192.0.2.1"
        })
    );
    let anon = items.iter().find(|i| i["actor"] == "anonymous").unwrap();
    assert_eq!(anon["actor_name"], Value::Null);

    // A name is resolved to the pseudonym, and only the pseudonym is recorded.
    let (_, v) = get(&c, &s, &format!("/api/v1/audit?actor={ZOE}&limit=2")).await;
    let page1: Vec<i64> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["seq"].as_i64().unwrap())
        .collect();
    // Zoe's entries are 1-4 and 6 (5 is the unknown name's failed login).
    assert_eq!(page1, [6, 4]);
    assert_eq!(v["next"], 4);
    let read = last_entry(&s);
    assert_eq!(read.action, "audit.read");
    assert_eq!(read.detail, "actor=u-zoe limit=2");
    let (_, v) = get(&c, &s, "/api/v1/audit?actor=u-zoe&limit=2&before=4").await;
    let page2: Vec<i64> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(page2, [3, 2]);
    let (_, v) = get(&c, &s, "/api/v1/audit?actor=u-zoe&limit=2&before=2").await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert_eq!(v["next"], Value::Null);

    // Camera, action, outcome and period.
    let count = |v: &Value| v["items"].as_array().unwrap().len();
    let (_, v) = get(&c, &s, "/api/v1/audit?camera=1").await;
    assert_eq!(count(&v), 2);
    let (_, v) = get(&c, &s, "/api/v1/audit?camera=1&action=live_view").await;
    assert_eq!(count(&v), 0);
    let (_, v) = get(&c, &s, "/api/v1/audit?outcome=denied").await;
    assert_eq!(count(&v), 3);
    let (_, v) = get(&c, &s, "/api/v1/audit?action=login.locked").await;
    assert_eq!(count(&v), 1);
    let path = format!("/api/v1/audit?from={}&to={}", at(20), at(50));
    let (_, v) = get(&c, &s, &path).await;
    let seqs: Vec<i64> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [4, 3, 2]);
    assert_eq!(
        last_entry(&s).detail,
        format!("from={} to={} limit=100", at(20), at(50))
    );
}

#[tokio::test]
async fn bad_filters_are_400_with_a_clear_message_and_not_recorded() {
    let s = start().await;
    let (c, _) = login(&s, "ines.auditor").await;
    let before = last_entry(&s).seq;
    for (query, needle) in [
        ("action=dance", "valid actions: login, login.locked"),
        ("limit=1001", "from 1 to 1000"),
        ("limit=abc", "from 1 to 1000"),
        ("camera=door", "camera must be"),
        ("from=yesterday", "RFC 3339"),
        ("outcome=maybe", "ok, denied"),
        ("actor=Somebody%20Unknown", "not a pseudonym"),
        ("who=me", "unknown parameter"),
    ] {
        let (status, v) = get(&c, &s, &format!("/api/v1/audit?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(v["error"]["code"], "bad_request");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{query}: {msg}");
    }
    assert_eq!(last_entry(&s).seq, before);
    // The page shows the same message with 400.
    let r = c
        .get(format!("{}/audit?action=dance", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"audit-error\""), "{page}");
    assert!(page.contains("unknown action &quot;dance&quot;"), "{page}");
}

#[tokio::test]
async fn the_report_gives_exact_figures_in_three_formats() {
    let s = start().await;
    history(&s);
    let (c, _) = login(&s, "ines.auditor").await;
    let period = format!("from={}&to={}", at(0), at(24 * 60));
    let (status, v) = get(&c, &s, &format!("/api/v1/audit/report?{period}")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let recorded = last_entry(&s);
    assert_eq!(
        (recorded.actor.as_str(), recorded.action.as_str()),
        ("u-auditor", "document.generate")
    );
    assert_eq!(
        recorded.detail,
        format!("from={} to={} format=json", at(0), at(24 * 60))
    );
    assert_eq!(v["total"]["playback_hours"], 1.0);
    assert_eq!(v["total"]["live_views"], 1);
    assert_eq!(v["total"]["failed_logins"], 3);
    let zoe = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["pseudonym"] == "u-zoe")
        .unwrap();
    assert_eq!(zoe["name"], ZOE);
    assert_eq!(zoe["playback_hours"], 1.0);
    assert_eq!(zoe["failed_logins"], 2);
    assert_eq!(v["cameras"][0]["camera"], 1);
    assert_eq!(v["cameras"][0]["playback_hours"], 1.0);
    assert_eq!(v["days"][0]["day"], "2026-11-23");

    let r = c
        .get(format!(
            "{}/api/v1/audit/report?{period}&format=csv",
            s.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.text().await.unwrap();
    assert!(
        csv.contains(&format!("\r\nuser,u-zoe,{ZOE},1,1.00,0,0,0,0,2,0,0\r\n")),
        "{csv}"
    );
    let r = c
        .get(format!(
            "{}/api/v1/audit/report?{period}&format=html",
            s.base
        ))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("<caption>Per camera</caption>"));

    for (query, needle) in [
        (format!("from={}", at(0)), "from and to are required"),
        (format!("{period}&format=pdf"), "json, csv, html"),
        (format!("from={}&to={}", at(10), at(0)), "after"),
    ] {
        let (status, v) = get(&c, &s, &format!("/api/v1/audit/report?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(needle),
            "{query}: {v}"
        );
    }
    // The page links the report.
    let (_, page) = get(&c, &s, "/audit").await;
    let page = page.as_str().unwrap().to_owned();
    assert!(page.contains("id=\"report-html\""), "{page}");
    assert!(page.contains("/api/v1/audit/report?from="), "{page}");
}

fn database_bytes(s: &Server) -> Vec<u8> {
    veil_store::testing::database_bytes(&s.dir.path().join("data"), &s.store.db).unwrap()
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn erasure_keeps_the_pseudonym_and_removes_the_name_everywhere() {
    let s = start().await;
    history(&s);
    let (zoe, _) = login(&s, ZOE).await;
    let (auditor, _) = login(&s, "ines.auditor").await;
    let (admin, csrf) = login(&s, "alice.martin").await;
    let (_, v) = get(&auditor, &s, "/api/v1/audit?actor=u-zoe").await;
    assert_eq!(v["items"][0]["actor_name"], ZOE);
    assert!(
        contains(&database_bytes(&s), ZOE),
        "the name is stored before"
    );

    // Only a user administrator may erase, with the CSRF token, not themself.
    let url = format!("{}/api/v1/users/u-zoe/erase", s.base);
    let r = auditor.post(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = admin.post(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "no CSRF token");
    let r = admin
        .post(format!("{}/api/v1/users/u-admin/erase", s.base))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = admin
        .post(format!("{}/api/v1/users/u-nobody/erase", s.base))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = admin
        .post(&url)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let erased = last_entry(&s);
    assert_eq!(
        (
            erased.actor.as_str(),
            erased.action.as_str(),
            erased.resource.as_str()
        ),
        ("u-admin", "user.erase", "user:u-zoe")
    );

    // Zoe's session is gone and her password no longer works.
    let (status, _) = get(&zoe, &s, "/api/v1/session").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let r = client()
        .post(format!("{}/api/v1/session", s.base))
        .json(&serde_json::json!({"username": ZOE, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Readers now see the pseudonym where the name was.
    let (_, v) = get(&auditor, &s, "/api/v1/audit?actor=u-zoe").await;
    let items = v["items"].as_array().unwrap();
    assert!(items.len() >= 6);
    assert!(items.iter().all(|i| i["actor_name"].is_null()), "{v}");
    let (_, v) = get(
        &auditor,
        &s,
        &format!("/api/v1/audit/report?from={}&to={}", at(0), at(24 * 60)),
    )
    .await;
    let row = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["pseudonym"] == "u-zoe")
        .unwrap();
    assert_eq!(row["name"], "u-zoe");
    assert_eq!(row["playback_hours"], 1.0);
    // The name can no longer be used as a filter.
    let (status, _) = get(&auditor, &s, &format!("/api/v1/audit?actor={ZOE}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The chain still verifies, and the name is in neither file.
    veil_audit::verify_stored(&s.store.db, &Default::default()).unwrap();
    assert!(
        !contains(&database_bytes(&s), ZOE),
        "the name is still on disk"
    );
}
