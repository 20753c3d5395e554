//! Bookmarks (V5) through the API: made, found, changed and deleted by whom
//! the policy allows, refused with a clear 400 when malformed (storing
//! nothing), recorded in the access record, and deleted once their own
//! retention period ends.

mod common;

use reqwest::StatusCode;
use serde_json::{json, Value};
use veil_base::{Clock, Time90k, TIME_UNITS_PER_SEC};
use veil_store::db::BookmarkFilter;

use common::*;

const DAY_90K: i64 = 86_400 * TIME_UNITS_PER_SEC;

async fn post(c: &reqwest::Client, s: &Server, csrf: &str, body: Value) -> reqwest::Response {
    post_json(c, csrf, format!("{}/api/v1/bookmarks", s.base), body).await
}

async fn created(c: &reqwest::Client, s: &Server, csrf: &str, body: Value) -> Value {
    let r = post(c, s, csrf, body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.unwrap()
}

async fn list(c: &reqwest::Client, s: &Server, query: &str) -> Vec<Value> {
    let r = get(c, s, &format!("/api/v1/bookmarks{query}")).await;
    assert_eq!(r.status(), StatusCode::OK, "GET bookmarks{query}");
    let v: Value = r.json().await.unwrap();
    v["bookmarks"].as_array().unwrap().clone()
}

fn notes(list: &[Value]) -> Vec<&str> {
    list.iter().map(|b| b["note"].as_str().unwrap()).collect()
}

async fn delete(c: &reqwest::Client, s: &Server, csrf: &str, id: i64) -> reqwest::Response {
    let url = format!("{}/api/v1/bookmarks/{id}", s.base);
    send(c, csrf, reqwest::Method::DELETE, url, None).await
}

fn bookmark_entries(s: &Server) -> Vec<veil_store::db::AuditRow> {
    audit_entries(s)
        .into_iter()
        .filter(|e| e.action.starts_with("bookmark."))
        .collect()
}

#[tokio::test]
async fn bookmarks_are_made_found_changed_and_deleted_as_allowed() {
    let s = start().await;
    let yard = add_camera(&s, "Yard");
    let (admin, csrf) = login(&s).await;
    let (op, op_csrf) = new_user(&s, &admin, &csrf, "olga.op", &["operator"]).await;

    let door = created(
        &op,
        &s,
        &op_csrf,
        json!({"camera_id": s.camera.0, "start": t(2.0), "end": null,
               "note": "  Van parked at the gate  "}),
    )
    .await;
    assert_eq!(door["note"], "Van parked at the gate", "trimmed");
    assert_eq!(door["camera_id"], s.camera.0);
    assert_eq!(door["camera"], "Door");
    assert_eq!(door["start"], t(2.0));
    assert_eq!(door["end"], Value::Null);
    assert_eq!(door["author"], "olga.op");
    assert_eq!(door["can_edit"], true);
    assert_eq!(door["can_delete"], true);
    let now = s.clock.now();
    assert_eq!(door["created"], now.to_rfc3339());
    assert_eq!(door["expires"], Time90k(now.0 + 30 * DAY_90K).to_rfc3339());
    let door_id = door["id"].as_i64().unwrap();
    // An interval, without `end` being null.
    let yard_bm = created(
        &op,
        &s,
        &op_csrf,
        json!({"camera_id": yard.0, "start": t(5.0), "end": t(20.0),
               "note": "Person at the yard door"}),
    )
    .await;
    assert_eq!(yard_bm["end"], t(20.0));
    assert_eq!(yard_bm["camera"], "Yard");

    // Newest first; searches by text, camera and period.
    let all = list(&op, &s, "").await;
    assert_eq!(
        notes(&all),
        ["Person at the yard door", "Van parked at the gate"]
    );
    assert_eq!(
        notes(&list(&op, &s, "?q=VAN").await),
        ["Van parked at the gate"]
    );
    assert_eq!(
        notes(&list(&op, &s, &format!("?camera={}", yard.0)).await),
        ["Person at the yard door"]
    );
    let period = |a: f64, b: f64| format!("?start={}&end={}", urlencode(&t(a)), urlencode(&t(b)));
    assert_eq!(
        notes(&list(&op, &s, &period(10.0, 30.0)).await),
        ["Person at the yard door"],
        "an interval counts where it overlaps"
    );
    assert!(list(&op, &s, &period(3.0, 4.0)).await.is_empty());
    assert_eq!(
        notes(&list(&op, &s, "?q=gate&camera=&start=&end=").await),
        ["Van parked at the gate"],
        "empty parameters count as absent"
    );

    // The administrator sees them but may not make or change one.
    let seen = list(&admin, &s, "").await;
    assert_eq!(seen.len(), 2);
    assert!(seen
        .iter()
        .all(|b| b["can_edit"] == false && b["can_delete"] == false));
    let r = post(
        &admin,
        &s,
        &csrf,
        json!({"camera_id": s.camera.0, "start": t(1.0), "note": "x"}),
    )
    .await;
    assert_eq!(error_code(r).await.0, StatusCode::FORBIDDEN);

    // The auditor sees none; a role limited to the yard sees only the yard.
    let (auditor, _) = login_as(&s, "ines.audit").await;
    let r = get(&auditor, &s, "/api/v1/bookmarks").await;
    assert_eq!(error_code(r).await.0, StatusCode::FORBIDDEN);
    let yard_only: &[i64] = &[yard.0];
    create_role(
        &s,
        &admin,
        &csrf,
        "yard-watch",
        &[
            ("playback", Some(yard_only)),
            ("bookmarks.view", Some(yard_only)),
        ],
    )
    .await;
    let (yw, _) = new_user(&s, &admin, &csrf, "yuri.yard", &["yard-watch"]).await;
    assert_eq!(notes(&list(&yw, &s, "").await), ["Person at the yard door"]);
    let r = get(&yw, &s, &format!("/api/v1/bookmarks?camera={}", s.camera.0)).await;
    assert_eq!(error_code(r).await.0, StatusCode::FORBIDDEN);
    // A role with bookmarks.view but without playback sees nothing.
    create_role(&s, &admin, &csrf, "notes-only", &[("bookmarks.view", None)]).await;
    let (no_play, _) = new_user(&s, &admin, &csrf, "nina.notes", &["notes-only"]).await;
    let r = get(&no_play, &s, "/api/v1/bookmarks").await;
    assert_eq!(error_code(r).await.0, StatusCode::FORBIDDEN);

    // Another operator may see but not change or delete Olga's bookmark.
    let (otto, otto_csrf) = new_user(&s, &admin, &csrf, "otto.op", &["operator"]).await;
    let theirs = list(&otto, &s, "?q=van").await;
    assert_eq!(theirs[0]["can_edit"], false);
    let url = format!("{}/api/v1/bookmarks/{door_id}", s.base);
    let r = put_json(&otto, &otto_csrf, url.clone(), json!({"note": "mine now"})).await;
    assert_eq!(error_code(r).await.0, StatusCode::FORBIDDEN);
    let r = delete(&otto, &s, &otto_csrf, door_id).await;
    assert_eq!(error_code(r).await.0, StatusCode::FORBIDDEN);

    // The author changes the note.
    let r = put_json(
        &op,
        &op_csrf,
        url.clone(),
        json!({"note": "White van at the gate"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["note"], "White van at the gate");
    assert_eq!(v["start"], t(2.0));
    let r = put_json(&op, &op_csrf, url.clone(), json!({"note": ""})).await;
    assert_eq!(error_code(r).await.0, StatusCode::BAD_REQUEST);

    // A holder of bookmarks.delete deletes it; then it is gone.
    create_role(
        &s,
        &admin,
        &csrf,
        "bookmark-keeper",
        &[
            ("playback", None),
            ("bookmarks.view", None),
            ("bookmarks.delete", None),
        ],
    )
    .await;
    let (keeper, keeper_csrf) =
        new_user(&s, &admin, &csrf, "kim.keeper", &["bookmark-keeper"]).await;
    let mine = list(&keeper, &s, "?q=white").await;
    assert_eq!(mine[0]["can_delete"], true);
    assert_eq!(mine[0]["can_edit"], false);
    let r = delete(&keeper, &s, &keeper_csrf, door_id).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(notes(&list(&op, &s, "").await), ["Person at the yard door"]);
    let r = put_json(&op, &op_csrf, url, json!({"note": "again"})).await;
    assert_eq!(error_code(r).await.0, StatusCode::NOT_FOUND);
    let r = delete(&keeper, &s, &keeper_csrf, door_id).await;
    assert_eq!(error_code(r).await.0, StatusCode::NOT_FOUND);
    let r = put_json(
        &op,
        &op_csrf,
        format!("{}/api/v1/bookmarks/abc", s.base),
        json!({"note": "x"}),
    )
    .await;
    assert_eq!(error_code(r).await.0, StatusCode::NOT_FOUND);
    // The author deletes their own.
    let r = delete(&op, &s, &op_csrf, yard_bm["id"].as_i64().unwrap()).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    // Everything is in the access record, without the notes.
    let entries = bookmark_entries(&s);
    let count = |action: &str, outcome: &str| {
        entries
            .iter()
            .filter(|e| e.action == action && e.outcome == outcome)
            .count()
    };
    assert_eq!(count("bookmark.create", "ok"), 2);
    assert_eq!(count("bookmark.update", "ok"), 1);
    assert_eq!(count("bookmark.delete", "ok"), 2);
    assert!(count("bookmark.list", "ok") >= 10);
    let create = entries
        .iter()
        .find(|e| e.action == "bookmark.create")
        .unwrap();
    assert_eq!(create.resource, format!("camera:{}", s.camera.0));
    assert!(
        create.actor.starts_with("u-"),
        "a pseudonym: {}",
        create.actor
    );
    assert!(
        create.detail.contains(&format!("start={}", t(2.0))),
        "{}",
        create.detail
    );
    let update = entries
        .iter()
        .find(|e| e.action == "bookmark.update")
        .unwrap();
    assert_eq!(update.detail, format!("bookmark={door_id}"));
    for e in &entries {
        let d = e.detail.to_lowercase();
        assert!(
            !d.contains("van") && !d.contains("yard door"),
            "a note in {d}"
        );
    }
}

fn urlencode(v: &str) -> String {
    v.replace(':', "%3A").replace('+', "%2B")
}

#[tokio::test]
async fn malformed_or_unauthorised_bookmarks_are_refused_and_store_nothing() {
    let s = start().await;
    let (admin, csrf) = login(&s).await;
    let (op, op_csrf) = new_user(&s, &admin, &csrf, "olga.op", &["operator"]).await;
    let cam = s.camera.0;
    let hours_ago = |h: i64| Time90k(s.clock.now().0 - h * 3600 * TIME_UNITS_PER_SEC).to_rfc3339();
    let bad = [
        json!({"camera_id": cam, "start": t(1.0), "note": ""}),
        json!({"camera_id": cam, "start": t(1.0), "note": "   "}),
        json!({"camera_id": cam, "start": t(1.0), "note": "x".repeat(501)}),
        json!({"camera_id": cam, "start": t(1.0), "note": "two\nlines"}),
        json!({"camera_id": cam, "start": t(1.0), "note": "bell\u{7}"}),
        json!({"camera_id": cam, "start": t(5.0), "end": t(5.0), "note": "x"}),
        json!({"camera_id": cam, "start": t(5.0), "end": t(1.0), "note": "x"}),
        json!({"camera_id": cam, "start": hours_ago(30), "end": t(0.0), "note": "x"}),
        json!({"camera_id": cam, "start": t(120.0), "note": "in the future"}),
        json!({"camera_id": cam, "start": "yesterday", "note": "x"}),
        json!({"camera_id": cam, "start": t(1.0), "end": "soon", "note": "x"}),
        json!({"camera_id": cam, "start": t(1.0), "note": "x", "colour": "red"}),
        json!({"camera_id": cam, "note": "x"}),
        json!({"camera_id": 999, "start": t(1.0), "note": "x"}),
        json!([1, 2]),
    ];
    for body in bad {
        let r = post(&op, &s, &op_csrf, body.clone()).await;
        let (status, code) = error_code(r).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{body}"
        );
    }
    // 500 characters (not bytes) are fine; a little clock skew is allowed.
    created(
        &op,
        &s,
        &op_csrf,
        json!({"camera_id": cam, "start": t(1.0), "note": "é".repeat(500)}),
    )
    .await;
    created(
        &op,
        &s,
        &op_csrf,
        json!({"camera_id": cam, "start": t(62.0), "note": "just now"}),
    )
    .await;
    // Outside the operator's 72-hour playback window: refused by policy.
    let r = post(
        &op,
        &s,
        &op_csrf,
        json!({"camera_id": cam, "start": hours_ago(100), "note": "old"}),
    )
    .await;
    let (status, _) = error_code(r).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // bookmarks.create on a camera the user may not play back.
    let yard = add_camera(&s, "Yard");
    let yard_only: &[i64] = &[yard.0];
    create_role(
        &s,
        &admin,
        &csrf,
        "yard-marker",
        &[
            ("bookmarks.create", None),
            ("bookmarks.view", None),
            ("playback", Some(yard_only)),
        ],
    )
    .await;
    let (ym, ym_csrf) = new_user(&s, &admin, &csrf, "yann.marker", &["yard-marker"]).await;
    let r = post(
        &ym,
        &s,
        &ym_csrf,
        json!({"camera_id": cam, "start": t(1.0), "note": "x"}),
    )
    .await;
    assert_eq!(error_code(r).await.0, StatusCode::FORBIDDEN);
    created(
        &ym,
        &s,
        &ym_csrf,
        json!({"camera_id": yard.0, "start": t(1.0), "note": "allowed here"}),
    )
    .await;
    let kept = s
        .store
        .db
        .bookmarks(&BookmarkFilter::default(), 100)
        .unwrap();
    assert_eq!(kept.len(), 3, "only the three valid ones: {kept:?}");
    assert_eq!(
        bookmark_entries(&s)
            .iter()
            .filter(|e| e.action == "bookmark.create")
            .count(),
        3,
        "refusals before the record change nothing"
    );

    // Bad list parameters.
    for q in [
        "?camera=door".to_string(),
        "?start=yesterday".into(),
        format!("?start={}&end={}", urlencode(&t(5.0)), urlencode(&t(5.0))),
        format!("?q={}", "x".repeat(201)),
    ] {
        let r = get(&op, &s, &format!("/api/v1/bookmarks{q}")).await;
        assert_eq!(error_code(r).await.0, StatusCode::BAD_REQUEST, "{q}");
    }
}

#[tokio::test]
async fn bookmarks_have_their_own_retention_and_expire() {
    let s = start().await;
    let (admin, csrf) = login(&s).await;
    let (op, op_csrf) = new_user(&s, &admin, &csrf, "olga.op", &["operator"]).await;
    let settings = format!("{}/api/v1/settings/bookmarks", s.base);
    let v: Value = get_json(&admin, &s, "/api/v1/settings/bookmarks").await;
    assert_eq!(v, json!({"retention_days": 30}));
    let b = created(
        &op,
        &s,
        &op_csrf,
        json!({"camera_id": s.camera.0, "start": t(1.0), "note": "kept a week"}),
    )
    .await;
    let made = Time90k::parse_rfc3339(b["created"].as_str().unwrap()).unwrap();

    for body in [
        json!({"retention_days": 0}),
        json!({"retention_days": 3651}),
        json!({"retention_days": -1}),
        json!({"retention_days": 7, "also": 1}),
        json!({}),
    ] {
        let r = put_json(&admin, &csrf, settings.clone(), body.clone()).await;
        assert_eq!(error_code(r).await.0, StatusCode::BAD_REQUEST, "{body}");
    }
    let r = put_json(
        &op,
        &op_csrf,
        settings.clone(),
        json!({"retention_days": 7}),
    )
    .await;
    assert_eq!(error_code(r).await.0, StatusCode::FORBIDDEN);
    let r = op.get(&settings).send().await.unwrap();
    assert_eq!(error_code(r).await.0, StatusCode::FORBIDDEN);
    let r = put_json(
        &admin,
        &csrf,
        settings.clone(),
        json!({"retention_days": 7}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let v: Value = get_json(&admin, &s, "/api/v1/settings/bookmarks").await;
    assert_eq!(v, json!({"retention_days": 7}));
    let changed = audit_entries(&s)
        .into_iter()
        .find(|e| e.action == "config.retention")
        .expect("the change is recorded");
    assert_eq!(changed.detail, "bookmark_retention_days=7");
    // The new period applies to the bookmark kept, and to new ones.
    let week = Time90k(made.0 + 7 * DAY_90K);
    assert_eq!(list(&op, &s, "").await[0]["expires"], week.to_rfc3339());
    let b2 = created(
        &op,
        &s,
        &op_csrf,
        json!({"camera_id": s.camera.0, "start": t(3.0), "note": "made later"}),
    )
    .await;
    assert_eq!(b2["expires"], week.to_rfc3339(), "same clock, same expiry");
    s.clock.advance(DAY_90K);
    // A day later (the session has ended: a new one).
    let (op, op_csrf) = login_as(&s, "olga.op").await;
    let b3 = created(
        &op,
        &s,
        &op_csrf,
        json!({"camera_id": s.camera.0, "start": t(4.0), "note": "a day later"}),
    )
    .await;
    let b3_expires = Time90k(week.0 + DAY_90K);
    assert_eq!(b3["expires"], b3_expires.to_rfc3339());

    // Expiry: nothing before its time, and nothing recorded then.
    let expire = |now: Time90k| veil_web::bookmarks::expire(&s.store.db, &s.audit, now).unwrap();
    let before = bookmark_entries(&s).len();
    assert_eq!(expire(Time90k(week.0 - 1)), 0);
    assert_eq!(bookmark_entries(&s).len(), before);
    s.clock.advance(week.0 - s.clock.now().0);
    assert_eq!(expire(s.clock.now()), 2);
    let left = s
        .store
        .db
        .bookmarks(&BookmarkFilter::default(), 100)
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].note, "a day later");
    let e = bookmark_entries(&s)
        .into_iter()
        .find(|e| e.action == "bookmark.expire")
        .expect("the purge is recorded");
    assert_eq!(e.actor, "system");
    assert_eq!(e.resource, "bookmarks");
    assert_eq!(e.detail, format!("count=2 before={}", week.to_rfc3339()));
    assert_eq!(expire(s.clock.now()), 0);
    assert_eq!(expire(b3_expires), 1);
    assert!(s
        .store
        .db
        .bookmarks(&BookmarkFilter::default(), 100)
        .unwrap()
        .is_empty());
    assert_eq!(
        bookmark_entries(&s)
            .iter()
            .filter(|e| e.action == "bookmark.expire")
            .count(),
        2
    );
}
