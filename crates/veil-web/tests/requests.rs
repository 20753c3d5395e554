//! Data-subject requests through the API: due dates across month ends and
//! their extension, overdue ones first; the lifecycle of an access request
//! (verify, search, the request's player, marking, an export against the
//! request with its `subject_access` register entry), of an erasure, a
//! restriction (a hold) and an objection (a linked configuration change),
//! each step in the access record and no request text in it; recipients
//! told (Art. 19); the requests' retention; bad input named by field.

mod common;

use reqwest::StatusCode;
use serde_json::{json, Value};
use veil_base::{CameraId, Clock, Time90k, TIME_UNITS_PER_SEC};
use veil_store::db::{DisclosureKind, NewDisclosure, Requester};

use common::*;

const DAY_90K: i64 = 86_400 * TIME_UNITS_PER_SEC;
const SUBJECT: &str = "Requester Zeta-4417";
const CONTACT: &str = "zeta4417@mail.example";
const DESCRIPTION: &str = "Red coat, walked past the door around noon carrying a blue umbrella";
const REASON: &str = "Checked against the person's account and signature";

type Who = (reqwest::Client, String);

/// The server, Alice (administrator) and Fatima (DPO: `dsr.handle`).
async fn desk() -> (Server, Who, Who) {
    let s = start().await;
    let admin = login(&s).await;
    let dpo = new_user(&s, &admin.0, &admin.1, "fatima.dpo", &["dpo"]).await;
    (s, admin, dpo)
}

async fn post(s: &Server, who: &Who, path: &str, body: Value) -> reqwest::Response {
    post_json(&who.0, &who.1, format!("{}{path}", s.base), body).await
}

async fn ok(s: &Server, who: &Who, path: &str, body: Value) -> Value {
    let r = post(s, who, path, body).await;
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap()
}

async fn bad(s: &Server, who: &Who, path: &str, body: Value) -> (StatusCode, String) {
    let (status, _, message) = refusal(post(s, who, path, body).await).await;
    (status, message)
}

async fn new_request(s: &Server, dpo: &Who, kind: &str, received: &str) -> i64 {
    let v = ok(
        s,
        dpo,
        "/api/v1/requests",
        json!({"kind": kind, "received": received, "subject": SUBJECT, "contact": CONTACT,
               "description": DESCRIPTION}),
    )
    .await;
    assert_eq!(v["status"], "received");
    v["id"].as_i64().unwrap()
}

/// A request verified and searching camera 1 over its 12 s of video,
/// with `[from, to)` (seconds after T0) marked.
async fn searching(s: &Server, dpo: &Who, kind: &str, from: f64, to: f64) -> i64 {
    let id = new_request(s, dpo, kind, &t(0.0)).await;
    let p = |x: &str| format!("/api/v1/requests/{id}/{x}");
    ok(s, dpo, &p("verify"), json!({"method": REASON})).await;
    let v = ok(
        s,
        dpo,
        &p("search"),
        json!({"cameras": [s.camera.0], "start": t(0.0), "end": t(50.0)}),
    )
    .await;
    assert_eq!(v["status"], "searching");
    let r = post(
        s,
        dpo,
        &p("intervals"),
        json!({"camera": s.camera.0, "start": t(from), "end": t(to)}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    id
}

/// The `dsr.step` entries of request `id`: their `step=` values, in order.
fn steps(s: &Server, id: i64) -> Vec<String> {
    audit_entries(s)
        .into_iter()
        .filter(|e| e.action == "dsr.step" && e.resource == format!("request:{id}"))
        .map(|e| {
            e.detail
                .split(' ')
                .find_map(|x| x.strip_prefix("step="))
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// No entry of the access record holds the request's text.
fn no_request_text_recorded(s: &Server) {
    for e in audit_entries(s) {
        for text in [SUBJECT, CONTACT, DESCRIPTION, REASON, "Zeta"] {
            assert!(
                !e.detail.contains(text) && !e.justification.contains(text),
                "{e:?}"
            );
        }
    }
}

#[tokio::test]
async fn due_dates_cross_month_ends_extend_once_and_overdue_come_first() {
    let (s, _, dpo) = desk().await;
    let jan = new_request(&s, &dpo, "access", "2026-01-31T10:00:00Z").await;
    let v: Value = get_json(&dpo.0, &s, &format!("/api/v1/requests/{jan}")).await;
    assert_eq!(v["due"], "2026-02-28T10:00:00.000Z");
    assert_eq!(v["overdue"], true);
    let leap = new_request(&s, &dpo, "erasure", "2024-01-31T10:00:00Z").await;
    let v: Value = get_json(&dpo.0, &s, &format!("/api/v1/requests/{leap}")).await;
    assert_eq!(v["due"], "2024-02-29T10:00:00.000Z");
    let recent = new_request(&s, &dpo, "objection", &t(0.0)).await;
    let v: Value = get_json(&dpo.0, &s, &format!("/api/v1/requests/{recent}")).await;
    assert_eq!(v["overdue"], false);
    assert!(v["days_left"].as_i64().unwrap() >= 29, "{v}");

    // Open ones by due date, so the most overdue first.
    let list: Value = get_json(&dpo.0, &s, "/api/v1/requests").await;
    let ids: Vec<i64> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![leap, jan, recent]);

    // At most two further months after the original due date, once.
    let p = format!("/api/v1/requests/{jan}/extend");
    let reason = "Many cameras to search over a long window";
    let (status, m) = bad(
        &s,
        &dpo,
        &p,
        json!({"until": "2026-04-28T10:00:01Z", "reason": reason}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(m.starts_with("until"), "{m}");
    let v = ok(
        &s,
        &dpo,
        &p,
        json!({"until": "2026-04-28T10:00:00Z", "reason": reason}),
    )
    .await;
    assert_eq!(v["extended_due"], "2026-04-28T10:00:00.000Z");
    let (status, _) = bad(
        &s,
        &dpo,
        &p,
        json!({"until": "2026-04-01T10:00:00Z", "reason": reason}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // The extension moves it behind the leap-year one but not behind the
    // one due in a month.
    let list: Value = get_json(&dpo.0, &s, "/api/v1/requests?status=received").await;
    assert_eq!(list["items"][0]["id"].as_i64(), Some(leap));
    assert_eq!(steps(&s, jan), vec!["create", "extend"]);

    // Out of order: 409 naming the current status.
    let (status, m) = bad(
        &s,
        &dpo,
        &format!("/api/v1/requests/{jan}/complete"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(m.contains("is received"), "{m}");
}

#[tokio::test]
async fn bad_input_names_the_field_and_changes_nothing() {
    let (s, admin, dpo) = desk().await;
    let good = json!({"kind": "access", "received": t(0.0), "subject": SUBJECT,
                      "contact": CONTACT, "description": DESCRIPTION});
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("kind", json!("complaint")), "kind"),
        (with("due", json!("2026-01-01T00:00:00Z")), "due"),
        (with("received", json!(t(86_400.0))), "received"),
        (with("received", json!("yesterday")), "received"),
        (with("subject", json!("")), "subject"),
    ] {
        let (status, m) = bad(&s, &dpo, "/api/v1/requests", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}");
        assert!(m.starts_with(field), "{field}: {m}");
        assert!(!m.contains("Zeta") && !m.contains("umbrella"), "{m}");
    }
    let list: Value = get_json(&dpo.0, &s, "/api/v1/requests").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    // Nobody without dsr.handle.
    let (status, _) = bad(&s, &admin, "/api/v1/requests", good.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // No copy of an identity document.
    let id = new_request(&s, &dpo, "access", &t(0.0)).await;
    let (status, m) = bad(
        &s,
        &dpo,
        &format!("/api/v1/requests/{id}/verify"),
        json!({"method": REASON, "document": "data:image/png;base64,AAAA"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(m.starts_with("document"), "{m}");

    // Erasure of an interval with no recording (the video ends at 12 s):
    // refused when the interval is marked, naming its start.
    let id = new_request(&s, &dpo, "erasure", &t(0.0)).await;
    ok(
        &s,
        &dpo,
        &format!("/api/v1/requests/{id}/verify"),
        json!({"method": REASON}),
    )
    .await;
    ok(
        &s,
        &dpo,
        &format!("/api/v1/requests/{id}/search"),
        json!({"cameras": [s.camera.0], "start": t(0.0), "end": t(50.0)}),
    )
    .await;
    let (status, m) = bad(
        &s,
        &dpo,
        &format!("/api/v1/requests/{id}/intervals"),
        json!({"camera": s.camera.0, "start": t(20.0), "end": t(30.0)}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(m.starts_with("start: camera 1 has no recording"), "{m}");
    assert!(!steps(&s, id).contains(&"mark".to_string()));
    no_request_text_recorded(&s);
}

/// A lock or hold keeps its part of an erasure (shown, with who decides);
/// the request completes only with a reason for keeping it, or once the
/// hold is released and the rest erased; video that went since it was
/// marked counts as erased with nothing left to remove, so the request
/// never gets stuck.
#[tokio::test]
async fn a_held_part_is_erased_once_released_and_video_gone_since_counts_as_erased() {
    let (s, _admin, dpo) = desk().await;
    let id = searching(&s, &dpo, "erasure", 2.5, 6.5).await;
    let hold = ok(
        &s,
        &dpo,
        "/api/v1/holds",
        json!({"cameras": [s.camera.0], "start": t(6.0), "end": t(7.0),
               "reason": "Complaint 2026/9 about the door"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    ok(
        &s,
        &dpo,
        &format!("/api/v1/requests/{id}/decide"),
        json!({"decision": "upheld", "reason": "No overriding ground to keep it"}),
    )
    .await;
    // Too soon: the segment being recorded may still hold the interval.
    let (status, m) = bad(&s, &dpo, &format!("/api/v1/requests/{id}/erase"), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        m.starts_with("intervals[0]: ends less than 15 minutes ago"),
        "{m}"
    );
    s.clock.advance(15 * 60 * TIME_UNITS_PER_SEC);
    let v = ok(&s, &dpo, &format!("/api/v1/requests/{id}/erase"), json!({})).await;
    let i = &v["intervals"][0];
    assert_eq!(i["erasure_blocked"][0]["protection"], hold, "{v}");
    assert_eq!(i["erasure_blocked"][0]["who_decides"], "holds.manage");
    let first = i["erased"].as_array().unwrap().len();
    assert!(first > 0, "{v}");
    let (status, m) = bad(
        &s,
        &dpo,
        &format!("/api/v1/requests/{id}/complete"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(m.contains("kept_reason"), "{m}");
    // The hold is released; erasing again removes the rest.
    ok(
        &s,
        &dpo,
        &format!("/api/v1/holds/{hold}/release"),
        json!({"reason": "The complaint was settled"}),
    )
    .await;
    let v = ok(&s, &dpo, &format!("/api/v1/requests/{id}/erase"), json!({})).await;
    let i = &v["intervals"][0];
    assert_eq!(i["erasure_blocked"], json!([]), "{v}");
    assert!(i["erased"].as_array().unwrap().len() > first, "{v}");
    ok(
        &s,
        &dpo,
        &format!("/api/v1/requests/{id}/complete"),
        json!({}),
    )
    .await;

    // Video that went after it was marked (here through a direct erasure,
    // as retention would take it) counts as erased with nothing left.
    let third = new_request(&s, &dpo, "erasure", &t(0.0)).await;
    let p = |x: &str| format!("/api/v1/requests/{third}/{x}");
    ok(&s, &dpo, &p("verify"), json!({"method": REASON})).await;
    ok(
        &s,
        &dpo,
        &p("search"),
        json!({"cameras": [s.camera.0], "start": t(0.0), "end": t(50.0)}),
    )
    .await;
    let r = post(
        &s,
        &dpo,
        &p("intervals"),
        json!({"camera": s.camera.0, "start": t(0.5), "end": t(1.5)}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    ok(
        &s,
        &dpo,
        &p("decide"),
        json!({"decision": "upheld", "reason": "No overriding ground to keep it"}),
    )
    .await;
    // Retention (here: another erasure) takes the video before this one.
    let plan = s
        .store
        .erasure_plan(s.camera, Time90k(T0 + 45_000), Time90k(T0 + 135_000))
        .await
        .unwrap();
    s.store.erase(&plan, "").await.unwrap();
    let v = ok(&s, &dpo, &p("erase"), json!({})).await;
    let i = &v["intervals"][0];
    assert!(i["erased_at"].is_string(), "{v}");
    assert_eq!(i["erased"], json!([]), "{v}");
    ok(&s, &dpo, &p("complete"), json!({})).await;
}

#[tokio::test]
async fn an_access_request_plays_marks_and_exports_against_the_request() {
    let (s, admin, dpo) = desk().await;
    let id = searching(&s, &dpo, "access", 2.0, 6.0).await;
    let video = |from: f64, to: f64, req: i64| {
        format!(
            "/api/v1/cameras/{}/video.mp4?start={}&end={}&request={req}",
            s.camera.0,
            t(from),
            t(to)
        )
    };
    // The DPO has no playback permission: the request's player only.
    assert_eq!(
        status_of(
            &dpo.0,
            &s,
            &format!(
                "/api/v1/cameras/{}/video.mp4?start={}&end={}",
                s.camera.0,
                t(1.0),
                t(3.0)
            )
        )
        .await,
        StatusCode::FORBIDDEN
    );
    let r = get(&dpo.0, &s, &video(1.0, 3.0, id)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "video/mp4");
    assert!(!r.bytes().await.unwrap().is_empty());
    let played = audit_entries(&s)
        .into_iter()
        .rfind(|e| e.action == "playback")
        .unwrap();
    assert!(
        played.detail.contains(&format!("request={id}")),
        "{}",
        played.detail
    );
    // Outside the scope's window or camera: refused.
    assert_eq!(
        status_of(&dpo.0, &s, &video(40.0, 60.0, id)).await,
        StatusCode::FORBIDDEN
    );
    let footage: Value = get_json(&dpo.0, &s, &format!("/api/v1/requests/{id}/footage")).await;
    assert_eq!(footage["cameras"][0]["id"], s.camera.0);
    assert!(!footage["cameras"][0]["recordings"]
        .as_array()
        .unwrap()
        .is_empty());

    // An export against the request: only within the marked interval.
    let body = |from: f64, to: f64| {
        json!({
            "cameras": [s.camera.0], "start": t(from), "end": t(to),
            "subject_request": id,
            "requester": {"name": "x", "title": "x", "organisation": "Private individual",
                          "country": "PT"},
            "reason": "Right of access of the data subject, Art. 15",
            "passphrase": "a long package passphrase",
        })
    };
    let (status, m) = bad(&s, &dpo, "/api/v1/exports", body(1.0, 6.0)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(m.starts_with("intervals[0]"), "{m}");
    // Four-eyes for export stays in force, once per package: a second
    // handler (who holds no `export`) asks for `dsr.handle` on the request,
    // the DPO approves.
    let gil = new_user(&s, &admin.0, &admin.1, "gil.dpo", &["dpo"]).await;
    enrol_totp(&s, &gil.0, &gil.1).await;
    let (status, m) = bad(&s, &gil, "/api/v1/exports", body(2.0, 6.0)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        m.contains(&format!(
            "dsr.handle on request:{id} needs a second person's approval"
        )),
        "{m}"
    );
    approved(
        &s,
        &gil.0,
        &gil.1,
        "dsr.handle",
        &format!("request:{id}"),
        "copy for the data subject's access request",
    )
    .await;
    let r = post(&s, &gil, "/api/v1/exports", body(2.0, 6.0)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    // The handler (who holds no `export`) follows their package's progress.
    let job: Value = get_json(&gil.0, &s, &format!("/api/v1/exports/{}", created["id"])).await;
    assert_eq!(job["id"], created["id"], "{job}");
    let mine: Value = get_json(&gil.0, &s, "/api/v1/exports").await;
    assert_eq!(mine["exports"].as_array().map(Vec::len), Some(1), "{mine}");
    let v: Value = get_json(&dpo.0, &s, &format!("/api/v1/requests/{id}")).await;
    assert_eq!(v["packages"].as_array().unwrap().len(), 1, "{v}");
    let entries: Value = get_json(&dpo.0, &s, "/api/v1/disclosures").await;
    let entry = entries["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "subject_access")
        .cloned()
        .unwrap_or_else(|| panic!("{entries}"));
    assert_eq!(entry["requester"]["name"], SUBJECT);
    assert_eq!(entry["requester"]["title"], "data subject");
    // Without dsr.handle the request cannot be named.
    let (status, _) = bad(&s, &admin, "/api/v1/exports", body(2.0, 6.0)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    ok(
        &s,
        &dpo,
        &format!("/api/v1/requests/{id}/decide"),
        json!({"decision": "upheld", "reason": "Copy handed over to the person"}),
    )
    .await;
    let v = ok(
        &s,
        &dpo,
        &format!("/api/v1/requests/{id}/complete"),
        json!({}),
    )
    .await;
    assert_eq!(v["status"], "completed");
    assert_eq!(
        steps(&s, id),
        vec!["create", "verify", "search", "mark", "decide", "complete"]
    );
    no_request_text_recorded(&s);
}

/// The request's player shows nothing before its scope: a scope starting
/// inside a GOP plays from the next keyframe, not the one before.
#[tokio::test]
async fn the_requests_player_starts_inside_its_scope() {
    let (s, _admin, dpo) = desk().await;
    let id = new_request(&s, &dpo, "access", &t(0.0)).await;
    let p = |x: &str| format!("/api/v1/requests/{id}/{x}");
    ok(&s, &dpo, &p("verify"), json!({"method": REASON})).await;
    ok(
        &s,
        &dpo,
        &p("search"),
        json!({"cameras": [s.camera.0], "start": t(1.5), "end": t(50.0)}),
    )
    .await;
    let r = get(
        &dpo.0,
        &s,
        &format!(
            "/api/v1/cameras/{}/video.mp4?start={}&end={}&request={id}",
            s.camera.0,
            t(1.5),
            t(6.0)
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let played = audit_entries(&s)
        .into_iter()
        .rfind(|e| e.action == "playback")
        .unwrap();
    let served = played
        .detail
        .split(' ')
        .find_map(|p| p.strip_prefix("start="))
        .unwrap();
    let served = chrono::DateTime::parse_from_rfc3339(served).unwrap();
    let scope = chrono::DateTime::parse_from_rfc3339(&t(1.5)).unwrap();
    assert!(served >= scope, "{}", played.detail);
}

#[tokio::test]
async fn an_upheld_erasure_removes_the_marked_interval_and_says_what() {
    let (s, admin, dpo) = desk().await;
    let id = searching(&s, &dpo, "erasure", 4.5, 6.5).await;
    ok(
        &s,
        &dpo,
        &format!("/api/v1/requests/{id}/decide"),
        json!({"decision": "upheld", "reason": "No overriding ground to keep it"}),
    )
    .await;
    // An upheld erasure is not complete until its intervals are erased.
    let (status, m) = bad(
        &s,
        &dpo,
        &format!("/api/v1/requests/{id}/complete"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(m.contains("intervals[0] is not erased"), "{m}");
    s.clock.advance(15 * 60 * TIME_UNITS_PER_SEC);
    let v = ok(&s, &dpo, &format!("/api/v1/requests/{id}/erase"), json!({})).await;
    let i = &v["intervals"][0];
    assert!(i["erased_at"].is_string(), "{v}");
    let removed = i["erased"].as_array().unwrap();
    assert!(!removed.is_empty(), "{v}");
    assert_eq!(removed[0]["rendition"], "main");
    assert_eq!(i["erasure_blocked"], json!([]));
    // The interval no longer plays; video before it still does.
    let path = |a: f64, b: f64| {
        format!(
            "/api/v1/cameras/{}/video.mp4?start={}&end={}",
            s.camera.0,
            t(a),
            t(b)
        )
    };
    assert_eq!(
        status_of(&admin.0, &s, &path(5.0, 6.0)).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status_of(&admin.0, &s, &path(0.0, 2.0)).await,
        StatusCode::OK
    );
    let erase = audit_entries(&s)
        .into_iter()
        .find(|e| e.action == "dsr.step" && e.detail.contains("step=erase"))
        .unwrap();
    assert!(erase.detail.contains(&format!("camera={}", s.camera.0)));
    assert!(erase.detail.contains(&format!("start={}", t(4.5))));
    assert_eq!(
        steps(&s, id),
        vec!["create", "verify", "search", "mark", "decide", "erase"]
    );
    ok(
        &s,
        &dpo,
        &format!("/api/v1/requests/{id}/complete"),
        json!({}),
    )
    .await;
    no_request_text_recorded(&s);
}

#[tokio::test]
async fn a_restriction_holds_its_intervals_and_recipients_are_told_before_completion() {
    let (s, admin, dpo) = desk().await;
    // A copy handed out earlier covering the interval, and one that does not.
    let entry = |start: f64, end: f64| NewDisclosure {
        kind: DisclosureKind::Copy,
        created: s.clock.now(),
        recorded_by: None,
        start: Time90k::parse_rfc3339(&t(start)).unwrap(),
        end: Time90k::parse_rfc3339(&t(end)).unwrap(),
        cameras: vec![CameraId(s.camera.0)],
        intervals: Vec::new(),
        requester: Requester {
            name: "Ana Costa".into(),
            title: "Inspector".into(),
            organisation: "PSP Lisboa".into(),
            country: "PT".into(),
        },
        authorised_by: "u-test".into(),
        content: "video".into(),
        request_reason: "Investigation of a break-in".into(),
        grant_reason: "Investigation of a break-in".into(),
        legal_basis: None,
        safeguards: None,
        export_id: None,
        package_id: None,
        package_sha256: None,
        expires: None,
        audit_seq: 1,
    };
    let covering = s.store.db.insert_disclosure(&entry(0.0, 8.0)).unwrap();
    let other = s.store.db.insert_disclosure(&entry(9.0, 12.0)).unwrap();

    let id = searching(&s, &dpo, "restriction", 2.0, 5.0).await;
    let v = ok(
        &s,
        &dpo,
        &format!("/api/v1/requests/{id}/restrict"),
        json!({}),
    )
    .await;
    let hold = v["intervals"][0]["hold"].as_i64().unwrap();
    let holds: Value = get_json(&dpo.0, &s, &format!("/api/v1/holds/{hold}")).await;
    assert_eq!(holds["kind"], "hold");
    assert_eq!(holds["start"], t(2.0));
    // Held video no longer plays for anyone.
    let (status, code) = error_code(
        get(
            &admin.0,
            &s,
            &format!(
                "/api/v1/cameras/{}/video.mp4?start={}&end={}",
                s.camera.0,
                t(3.0),
                t(4.0)
            ),
        )
        .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (StatusCode::FORBIDDEN, "held"));

    let told: Value = get_json(&dpo.0, &s, &format!("/api/v1/requests/{id}/recipients")).await;
    let listed: Vec<i64> = told["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["disclosure"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, vec![covering]);
    assert!(!listed.contains(&other));
    ok(
        &s,
        &dpo,
        &format!("/api/v1/requests/{id}/decide"),
        json!({"decision": "upheld", "reason": "Accuracy contested, restricted meanwhile"}),
    )
    .await;
    let (status, m) = bad(
        &s,
        &dpo,
        &format!("/api/v1/requests/{id}/complete"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(m.contains("Art. 19"), "{m}");
    let (status, m) = bad(
        &s,
        &dpo,
        &format!("/api/v1/requests/{id}/recipients"),
        json!({"disclosure": other, "informed": true, "note": "Letter sent to the recipient"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(m.starts_with("disclosure"), "{m}");
    let v = ok(
        &s,
        &dpo,
        &format!("/api/v1/requests/{id}/recipients"),
        json!({"disclosure": covering, "informed": true, "note": "Letter sent to the recipient"}),
    )
    .await;
    assert_eq!(v["outstanding"], 0);
    ok(
        &s,
        &dpo,
        &format!("/api/v1/requests/{id}/complete"),
        json!({}),
    )
    .await;
    assert_eq!(
        steps(&s, id),
        vec![
            "create",
            "verify",
            "search",
            "mark",
            "restrict",
            "decide",
            "recipient",
            "complete"
        ]
    );
    assert!(audit_entries(&s)
        .iter()
        .any(|e| e.action == "hold.change" && e.resource == "hold:new"));
    no_request_text_recorded(&s);
}

#[tokio::test]
async fn an_upheld_objection_links_a_configuration_change() {
    let (s, _, dpo) = desk().await;
    let id = new_request(&s, &dpo, "objection", &t(0.0)).await;
    ok(
        &s,
        &dpo,
        &format!("/api/v1/requests/{id}/verify"),
        json!({"method": REASON}),
    )
    .await;
    let change = s
        .audit
        .append(
            veil_audit::Event::new("u-test", veil_audit::Action::MaskChange, "camera:1")
                .detail("masks=1"),
        )
        .unwrap();
    let login = audit_entries(&s)
        .into_iter()
        .find(|e| e.action == "login")
        .unwrap()
        .seq;
    let p = format!("/api/v1/requests/{id}/decide");
    let reason = "A privacy mask now covers the neighbour's window";
    for (body, field) in [
        (
            json!({"decision": "upheld", "reason": reason}),
            "linked_change",
        ),
        (
            json!({"decision": "upheld", "reason": reason, "linked_change": login}),
            "linked_change",
        ),
        (
            json!({"decision": "upheld", "reason": reason, "linked_change": 999_999}),
            "linked_change",
        ),
        (json!({"decision": "maybe", "reason": reason}), "decision"),
    ] {
        let (status, m) = bad(&s, &dpo, &p, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{m}");
        assert!(m.starts_with(field), "{m}");
    }
    let v = ok(
        &s,
        &dpo,
        &p,
        json!({"decision": "upheld", "reason": reason, "linked_change": change}),
    )
    .await;
    assert_eq!(v["linked_change"], change);
    let decided = audit_entries(&s)
        .into_iter()
        .rfind(|e| e.action == "dsr.step")
        .unwrap();
    assert!(decided.detail.contains(&format!("linked_change={change}")));
    assert_eq!(steps(&s, id), vec!["create", "verify", "decide"]);
    no_request_text_recorded(&s);
}

#[tokio::test]
async fn closed_requests_lose_their_description_then_go() {
    let (s, _, dpo) = desk().await;
    let id = new_request(&s, &dpo, "access", &t(0.0)).await;
    let open = new_request(&s, &dpo, "access", &t(0.0)).await;
    ok(
        &s,
        &dpo,
        &format!("/api/v1/requests/{id}/refuse"),
        json!({"reason": "The person withdrew the request"}),
    )
    .await;
    let run = |s: &Server| {
        veil_web::data_retention::run_once(
            &s.store,
            &s.audit,
            veil_web::SessionPolicy::default(),
            s.clock.now(),
        )
        .unwrap()
    };
    s.clock.advance(29 * DAY_90K);
    run(&s);
    let r = s.store.db.subject_request(id).unwrap().unwrap();
    assert_eq!(r.description.as_deref(), Some(DESCRIPTION));
    s.clock.advance(2 * DAY_90K);
    let done = run(&s);
    assert!(done.contains(&("request_descriptions", 1)), "{done:?}");
    let r = s.store.db.subject_request(id).unwrap().unwrap();
    assert_eq!(r.description, None);
    assert!(r.description_removed.is_some());
    // The open one keeps its description.
    let o = s.store.db.subject_request(open).unwrap().unwrap();
    assert_eq!(o.description.as_deref(), Some(DESCRIPTION));
    let described = |s: &Server| {
        audit_entries(s)
            .into_iter()
            .filter(|e| e.action == "retention.destroy" && e.resource == "data:requests")
            .map(|e| e.detail)
            .collect::<Vec<_>>()
    };
    let first = described(&s);
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(
        first[0].contains("part=description count=1")
            || first[0].contains("count=1 part=description"),
        "{first:?}"
    );
    s.clock.advance(1095 * DAY_90K);
    let done = run(&s);
    assert!(done.contains(&("requests", 1)), "{done:?}");
    assert!(s.store.db.subject_request(id).unwrap().is_none());
    assert!(s.store.db.subject_request(open).unwrap().is_some());
    // (The access record's own retention pruned the first entry by now.)
    let last = described(&s);
    assert!(
        last.last().unwrap().contains("count=1 part=request"),
        "{last:?}"
    );
    let list = veil_web::data_retention::list(
        &s.store,
        veil_web::SessionPolicy::default(),
        0,
        s.clock.now(),
    )
    .unwrap();
    let sets: Vec<&str> = list.data_sets.iter().map(|d| d.data_set.as_str()).collect();
    assert!(sets.contains(&"requests") && sets.contains(&"request_descriptions"));
    no_request_text_recorded(&s);
}

#[tokio::test]
async fn the_desk_pages_list_and_show_requests_for_their_handlers() {
    let (s, admin, dpo) = desk().await;
    let id = new_request(&s, &dpo, "access", &t(0.0)).await;
    let list = get(&dpo.0, &s, "/dpo/requests").await;
    assert_eq!(list.status(), StatusCode::OK);
    let html = list.text().await.unwrap();
    assert!(html.contains("dpo-requests.js") && html.contains("id=\"dsr-form\""));
    assert!(
        html.contains("href=\"/dpo/requests\""),
        "in the desk's sub-navigation"
    );
    let one = get(&dpo.0, &s, &format!("/dpo/requests/{id}")).await;
    assert_eq!(one.status(), StatusCode::OK);
    let html = one.text().await.unwrap();
    assert!(html.contains("<section id=\"request-footage\""));
    assert!(html.contains(&format!("data-id=\"{id}\"")));
    // The page carries no request text: the script reads it over the API.
    assert!(!html.contains(SUBJECT) && !html.contains(DESCRIPTION));
    assert_eq!(
        status_of(&admin.0, &s, "/dpo/requests").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status_of(&dpo.0, &s, "/dpo/requests/999").await,
        StatusCode::NOT_FOUND
    );
}
