//! Retention of the personal data sets (R2, R5) with a simulated clock:
//! `GET /api/v1/retention` counts each data set's items, its oldest and its
//! next destruction right; once the clock passes a rule, the job destroys
//! the items and the access record says so first (nothing is destroyed when
//! it cannot); a disabled account is anonymised 60 days after disabling and
//! not before, and enabling it again stops the count.

mod common;

use reqwest::StatusCode;
use serde_json::{json, Value};
use veil_base::{Time90k, UserId};
use veil_store::db::ApprovalRow;
use veil_web::data_retention::run_once;
use veil_web::SessionPolicy;

use common::*;

const MIN: i64 = 60 * 90_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

fn now(s: &Server) -> Time90k {
    use veil_base::Clock;
    s.clock.now()
}

fn rfc(t: i64) -> String {
    Time90k(t).to_rfc3339()
}

/// The data set `name` (for recordings: camera 1's `main`) from the listing.
fn set<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["data_sets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["data_set"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

async fn listing(s: &Server, c: &reqwest::Client) -> Value {
    let r = get(c, s, "/api/v1/retention").await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// Runs the job at the clock's time.
async fn run_job(s: &Server) -> Vec<(&'static str, u64)> {
    let (store, audit, t) = (s.store.clone(), s.audit.clone(), now(s));
    tokio::task::spawn_blocking(move || run_once(&store, &audit, SessionPolicy::default(), t))
        .await
        .unwrap()
        .unwrap()
}

/// The `retention.destroy` entries of data sets: (resource, detail).
fn destroy_entries(s: &Server) -> Vec<(String, String)> {
    audit_entries(s)
        .into_iter()
        .filter(|e| e.action == "retention.destroy" && e.resource.starts_with("data:"))
        .map(|e| {
            assert_eq!(e.actor, "system");
            (e.resource, e.detail)
        })
        .collect()
}

/// An operator account `name` with the pseudonym `pseudonym`.
fn user(s: &Server, name: &str, pseudonym: &str) -> UserId {
    s.store
        .db
        .insert_user(
            pseudonym,
            name,
            &veil_access::password::hash(PASSWORD),
            veil_access::OPERATOR,
            Time90k(T0),
        )
        .unwrap()
}

async fn set_disabled(s: &Server, c: &reqwest::Client, csrf: &str, pseudonym: &str, on: bool) {
    let r = put_json(
        c,
        csrf,
        format!("{}/api/v1/users/{pseudonym}", s.base),
        json!({ "disabled": on }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn every_data_set_is_counted_then_destroyed_by_its_rule_and_recorded() {
    let s = start().await;
    let t0 = now(&s).0;
    let (c, csrf) = login(&s).await;

    // One item of each data set, made at t0.
    let wrong = post_session(&client(), &s, "alice.martin", "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let alice = s.store.db.user_by_name("alice.martin").unwrap().unwrap().id;
    s.store
        .db
        .insert_approval(&ApprovalRow {
            id: 0,
            requester_id: alice,
            permission: "export".into(),
            resource: "camera:1".into(),
            justification: "a police request".into(),
            state: "pending".into(),
            created_90k: Time90k(t0),
            expires_90k: Time90k(t0 + HOUR),
            decided_by: None,
            note: String::new(),
        })
        .unwrap();
    let token = create_token(&s, &c, &csrf, "scraper", &[veil_access::ADMINISTRATOR]).await;
    s.clock.advance(MIN);
    let revoked_at = t0 + MIN;
    let r = send(
        &c,
        &csrf,
        reqwest::Method::DELETE,
        format!("{}/api/v1/tokens/{}", s.base, token["id"]),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Its expiry as `POST /api/v1/bookmarks` sets it (30 days by default).
    s.store
        .db
        .insert_bookmark(&veil_store::db::BookmarkRow {
            id: 0,
            camera_id: s.camera,
            start_90k: Time90k(T0 + 2 * 90_000),
            end_90k: None,
            note: "a parcel left".into(),
            author_id: Some(alice),
            author_name: None,
            created_90k: Time90k(revoked_at),
            expires_90k: Time90k(revoked_at + 30 * DAY),
        })
        .unwrap();
    let motion = s
        .store
        .db
        .insert_motion_event(s.camera, Time90k(T0 + 90_000))
        .unwrap();
    s.store
        .db
        .end_motion_event(motion, Time90k(T0 + 5 * 90_000))
        .unwrap();
    let bob = user(&s, "bob.leaver", "u-7f3a01");
    let bob_p = s.store.db.user(bob).unwrap().unwrap().pseudonym;
    set_disabled(&s, &c, &csrf, &bob_p, true).await;
    let disabled_at = t0 + MIN;

    let list = listing(&s, &c).await;
    let check = |name: &str, items: u64, oldest: Option<i64>, next: Option<i64>| {
        let d = set(&list, name);
        assert_eq!(d["items"], items, "{name}: {d}");
        assert_eq!(
            d["oldest"],
            oldest.map_or(Value::Null, |t| rfc(t).into()),
            "{name}: {d}"
        );
        assert_eq!(
            d["next_destruction"],
            next.map_or(Value::Null, |t| rfc(t).into()),
            "{name}: {d}"
        );
        assert!(!d["description"].as_str().unwrap().is_empty());
        d.clone()
    };
    // Alice's session ends at its idle timeout (30 minutes after her last
    // request, this one), kept 0 days.
    let d = check("sessions", 1, Some(t0), Some(t0 + 31 * MIN));
    assert_eq!(d["rule"], json!({"kind": "after_end", "days": 0}));
    let d = check("approvals", 1, Some(t0), Some(t0 + HOUR + 90 * DAY));
    assert_eq!(d["rule"], json!({"kind": "after_end", "days": 90}));
    let d = check("api_tokens", 1, Some(t0), Some(revoked_at + 30 * DAY));
    assert_eq!(d["rule"], json!({"kind": "after_end", "days": 30}));
    let d = check(
        "bookmarks",
        1,
        Some(revoked_at),
        Some(revoked_at + 30 * DAY),
    );
    assert_eq!(d["rule"], json!({"kind": "after_creation", "days": 30}));
    let d = check(
        "motion_events",
        1,
        Some(T0 + 90_000),
        Some(T0 + 5 * 90_000 + 168 * HOUR),
    );
    assert_eq!(d["rule"], json!({"kind": "with_recordings"}));
    let d = check(
        "disabled_accounts",
        1,
        Some(T0),
        Some(disabled_at + 60 * DAY),
    );
    assert_eq!(
        d["rule"],
        json!({"kind": "anonymised_after_disabling", "days": 60})
    );
    // Recordings: 12 s from T0 on camera 1, destroyed 168 hours after their
    // UTC hour ends.
    let hour_end = (T0 / HOUR + 1) * HOUR;
    let d = check("recordings", 3, Some(T0), Some(hour_end + 168 * HOUR));
    assert_eq!(d["camera"], s.camera.0);
    assert_eq!(d["camera_name"], "Door");
    assert_eq!(d["rendition"], "main");
    assert_eq!(
        d["rule"],
        json!({"kind": "after_recording", "hours": 168, "source": "installation"})
    );
    // Failed logins: counted in memory (the account and the address).
    let d = set(&list, "login_attempts");
    assert_eq!(d["items"], 2, "{d}");
    assert_eq!(d["rule"], json!({"kind": "in_memory", "minutes": 60}));
    assert!(d["oldest"].is_null() && d["next_destruction"].is_null());
    let entries = audit_entries(&s);
    let d = set(&list, "access_record");
    assert_eq!(d["items"], entries.len() as u64, "{d}");
    assert_eq!(d["oldest"], entries[0].time_90k.to_rfc3339());
    // Pruned at the first whole hour 365 days after the oldest entry.
    let first = entries[0].time_90k.0;
    assert_eq!(
        d["next_destruction"],
        rfc((first / HOUR + 1) * HOUR + 365 * DAY)
    );
    assert_eq!(d["rule"], json!({"kind": "after_creation", "days": 365}));

    // Nothing is due yet: the job destroys nothing and records nothing.
    assert_eq!(run_job(&s).await, vec![]);
    assert!(destroy_entries(&s).is_empty());

    // 31 minutes on, the idle session has ended: it goes, recorded first.
    s.clock.advance(30 * MIN);
    assert_eq!(run_job(&s).await, vec![("sessions", 1)]);
    let destroyed = destroy_entries(&s);
    assert_eq!(destroyed.len(), 1);
    assert_eq!(destroyed[0].0, "data:sessions");
    assert!(
        destroyed[0]
            .1
            .starts_with("reason=retention count=1 ended_before="),
        "{destroyed:?}"
    );
    assert_eq!(
        status_of(&c, &s, "/api/v1/retention").await,
        StatusCode::UNAUTHORIZED
    );

    // 8 days: motion events follow the camera's 168 hours.
    s.clock.advance(8 * DAY);
    assert_eq!(run_job(&s).await, vec![("motion_events", 1)]);
    // 31 days: the revoked token and the bookmark.
    s.clock.advance(23 * DAY);
    assert_eq!(run_job(&s).await, vec![("api_tokens", 1), ("bookmarks", 1)]);
    // 61 days: the disabled account is anonymised.
    s.clock.advance(30 * DAY);
    assert_eq!(run_job(&s).await, vec![("disabled_accounts", 1)]);
    let b = s.store.db.user(bob).unwrap().unwrap();
    assert!(b.name.is_none() && b.disabled, "{b:?}");
    // 91 days: the expired four-eyes request.
    s.clock.advance(30 * DAY);
    assert_eq!(run_job(&s).await, vec![("approvals", 1)]);
    assert_eq!(run_job(&s).await, vec![]);

    let destroyed = destroy_entries(&s);
    let resources: Vec<&str> = destroyed.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(
        resources,
        [
            "data:sessions",
            "data:motion_events",
            "data:api_tokens",
            "data:disabled_accounts",
            "data:approvals"
        ]
    );
    let accounts = &destroyed[3].1;
    assert!(
        accounts.contains("count=1") && accounts.contains(&bob_p) && !accounts.contains("bob"),
        "{accounts}"
    );
    assert!(audit_entries(&s)
        .iter()
        .any(|e| e.action == "bookmark.expire" && e.detail.starts_with("count=1")));

    // The listing agrees: each data set is empty (but the new session).
    let (c, _) = login(&s).await;
    let list = listing(&s, &c).await;
    for name in [
        "approvals",
        "api_tokens",
        "bookmarks",
        "motion_events",
        "disabled_accounts",
    ] {
        let d = set(&list, name);
        assert_eq!(d["items"], 0, "{name}: {d}");
        assert!(
            d["oldest"].is_null() && d["next_destruction"].is_null(),
            "{d}"
        );
    }
    assert_eq!(set(&list, "sessions")["items"], 1);
    // 366 days: the access record is pruned behind an anchor.
    s.clock.advance(280 * DAY);
    run_job(&s).await;
    assert!(audit_entries(&s).iter().all(|e| e.time_90k.0 >= t0 + DAY));
}

#[tokio::test]
async fn nothing_is_destroyed_when_the_access_record_refuses() {
    let s = start().await;
    let (c, csrf) = login(&s).await;
    let bob = user(&s, "bob.leaver", "u-7f3a01");
    let bob_p = s.store.db.user(bob).unwrap().unwrap().pseudonym;
    set_disabled(&s, &c, &csrf, &bob_p, true).await;
    s.clock.advance(61 * DAY);
    s.audit.inject_failure(true);
    let (store, audit, t) = (s.store.clone(), s.audit.clone(), now(&s));
    let e =
        tokio::task::spawn_blocking(move || run_once(&store, &audit, SessionPolicy::default(), t))
            .await
            .unwrap()
            .unwrap_err();
    assert!(
        e.contains("sessions") && e.contains("disabled_accounts"),
        "{e}"
    );
    assert_eq!(s.store.db.session_stats(0).unwrap().items, 1);
    assert_eq!(
        s.store.db.user(bob).unwrap().unwrap().name.as_deref(),
        Some("bob.leaver")
    );
    s.audit.inject_failure(false);
    assert_eq!(
        run_job(&s).await,
        vec![("sessions", 1), ("disabled_accounts", 1)]
    );
}

#[tokio::test]
async fn a_disabled_account_is_anonymised_60_days_after_disabling_and_enabling_stops_the_count() {
    let s = start().await;
    let (c, csrf) = login(&s).await;
    let bob = user(&s, "bob.leaver", "u-7f3a01");
    let carol = user(&s, "carol.back", "u-7f3a02");
    let db = s.store.db.clone();
    let pseudonym = |u| db.user(u).unwrap().unwrap().pseudonym;
    let (bob_p, carol_p) = (pseudonym(bob), pseudonym(carol));
    let name = |u| s.store.db.user(u).unwrap().unwrap().name;
    set_disabled(&s, &c, &csrf, &bob_p, true).await;
    set_disabled(&s, &c, &csrf, &carol_p, true).await;
    let disabled_at = now(&s);

    // Day 30: Carol is enabled again; disabling Bob a second time keeps
    // his count.
    s.clock.advance(30 * DAY);
    let (c, csrf) = login(&s).await;
    set_disabled(&s, &c, &csrf, &carol_p, false).await;
    set_disabled(&s, &c, &csrf, &bob_p, true).await;
    let list = listing(&s, &c).await;
    let d = set(&list, "disabled_accounts");
    assert_eq!(d["items"], 1, "{d}");
    assert_eq!(d["next_destruction"], rfc(disabled_at.0 + 60 * DAY));

    // Day 45: Carol is disabled again; her count starts afresh.
    s.clock.advance(15 * DAY);
    let (c, csrf) = login(&s).await;
    set_disabled(&s, &c, &csrf, &carol_p, true).await;
    let carol_disabled = now(&s);

    // One minute before 60 days: nobody is anonymised.
    s.clock.advance(disabled_at.0 + 60 * DAY - MIN - now(&s).0);
    let done = run_job(&s).await;
    assert!(!done.iter().any(|d| d.0 == "disabled_accounts"), "{done:?}");
    assert_eq!(name(bob).as_deref(), Some("bob.leaver"));

    // At 60 days Bob is anonymised: no name, an unusable password, no
    // sessions; his pseudonym stays.
    s.clock.advance(MIN);
    let done = run_job(&s).await;
    assert!(done.contains(&("disabled_accounts", 1)), "{done:?}");
    let b = s.store.db.user(bob).unwrap().unwrap();
    assert_eq!(
        (b.name, b.pseudonym.as_str(), b.disabled),
        (None, bob_p.as_str(), true)
    );
    assert_eq!(
        post_session(&client(), &s, "bob.leaver", PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(name(carol).as_deref(), Some("carol.back"));

    // Carol goes 60 days after her second disabling, not her first.
    s.clock
        .advance(carol_disabled.0 + 60 * DAY - MIN - now(&s).0);
    run_job(&s).await;
    assert_eq!(name(carol).as_deref(), Some("carol.back"));
    s.clock.advance(MIN);
    run_job(&s).await;
    assert_eq!(name(carol), None);
    // An anonymised account is not counted again.
    let (c, _) = login(&s).await;
    let d = set(&listing(&s, &c).await, "disabled_accounts").clone();
    assert_eq!(d["items"], 0, "{d}");
    let anonymised: Vec<_> = destroy_entries(&s)
        .into_iter()
        .filter(|e| e.0 == "data:disabled_accounts")
        .collect();
    assert_eq!(anonymised.len(), 2, "{anonymised:?}");
    assert!(anonymised[0].1.contains(&bob_p) && anonymised[1].1.contains(&carol_p));
}

#[tokio::test]
async fn the_listing_needs_retention_admin() {
    let s = start().await;
    let (c, _) = login_as(&s, "ines.audit").await;
    let (status, _) = error_code(get(&c, &s, "/api/v1/retention").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        status_of(&c, &s, "/admin/retention").await,
        StatusCode::FORBIDDEN
    );
    let (c, _) = login(&s).await;
    let page = get(&c, &s, "/admin/retention").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("id=\"retention-table\"") && html.contains("retention.js"));
    assert!(html.contains("href=\"/admin/retention\" aria-current=\"page\""));
}
