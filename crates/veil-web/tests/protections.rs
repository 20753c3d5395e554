//! Evidence locks and restriction holds through the API: bad requests are
//! refused naming the field and create nothing; a lock keeps its video past
//! retention until it is released (with four-eyes), then retention destroys
//! it; a hold blocks playback and live, naming itself, and only the DPO
//! manages holds. Every step is in the access record.

mod common;

use reqwest::StatusCode;
use serde_json::{json, Value};
use veil_base::{Clock, Time90k, TIME_UNITS_PER_SEC};
use veil_store::segment::BUCKET_90K as HOUR;

use common::*;

const DAY_90K: i64 = 86_400 * TIME_UNITS_PER_SEC;
const REASON: &str = "Break-in at the door, police case 2026-117";

fn in_days(s: &Server, days: i64) -> String {
    Time90k(s.clock.now().0 + days * DAY_90K).to_rfc3339()
}

/// Status, error code and message of an error answer.
async fn post(
    c: &reqwest::Client,
    s: &Server,
    csrf: &str,
    path: &str,
    body: Value,
) -> reqwest::Response {
    post_json(c, csrf, format!("{}{path}", s.base), body).await
}

fn entries(s: &Server, prefix: &str) -> Vec<veil_store::db::AuditRow> {
    audit_entries(s)
        .into_iter()
        .filter(|e| e.action.starts_with(prefix))
        .collect()
}

/// Runs retention as the server's job does, with every rule at one hour.
async fn run_retention(s: &Server) -> veil_store::RetentionReport {
    let protections = s.store.active_protections().unwrap();
    let plan = s
        .store
        .retention_plan(s.clock.now(), |_, _| HOUR, &protections, 1000)
        .unwrap();
    s.store.apply_retention(&plan).await.unwrap()
}

async fn video_status(c: &reqwest::Client, s: &Server, from: f64, to: f64) -> StatusCode {
    let path = format!(
        "/api/v1/cameras/{}/video.mp4?start={}&end={}",
        s.camera.0,
        t(from),
        t(to)
    );
    status_of(c, s, &path).await
}

#[tokio::test]
async fn bad_lock_requests_name_the_field_and_create_nothing() {
    let s = start().await;
    let (admin, csrf) = login(&s).await;
    let (inv, inv_csrf) = new_user(&s, &admin, &csrf, "eve.investigates", &["investigator"]).await;
    enrol_totp(&s, &inv, &inv_csrf).await;
    let good = json!({"cameras": [s.camera.0], "start": t(0.0), "end": t(6.0),
                      "reason": REASON, "review": in_days(&s, 30)});
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let without = |k: &str| {
        let mut b = good.clone();
        b.as_object_mut().unwrap().remove(k);
        b
    };
    for (body, field) in [
        (without("reason"), "reason"),
        (with("reason", json!("   ")), "reason"),
        (without("review"), "review"),
        (with("review", json!(in_days(&s, -1))), "review"),
        (with("review", json!(in_days(&s, 366))), "review"),
        (with("review", json!("next week")), "review"),
        (with("cameras", json!([])), "cameras"),
        (with("cameras", json!([999])), "cameras"),
        (with("cameras", json!([s.camera.0, s.camera.0])), "cameras"),
        (with("start", json!(in_days(&s, 1))), "start"),
        (with("end", json!(t(0.0))), "end"),
        (with("on_review", json!("forget")), "on_review"),
    ] {
        let (status, _, message) =
            refusal(post(&inv, &s, &inv_csrf, "/api/v1/locks", body.clone()).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(message.contains(field), "{field}: {message}");
    }
    let list: Value = get_json(&inv, &s, "/api/v1/locks").await;
    assert_eq!(list["items"], json!([]));
    assert_eq!(list["max_review_days"], 365);
    assert!(entries(&s, "evidence_lock.").is_empty());
    // Holds: the same checks, and only for holds.manage.
    let hold = json!({"cameras": [s.camera.0], "start": t(0.0), "end": t(6.0), "reason": REASON});
    let (status, _, _) = refusal(post(&inv, &s, &inv_csrf, "/api/v1/holds", hold).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (dpo, dpo_csrf) = new_user(&s, &admin, &csrf, "fatima.dpo", &["dpo"]).await;
    let (status, _, message) = refusal(
        post(
            &dpo,
            &s,
            &dpo_csrf,
            "/api/v1/holds",
            json!({"cameras": [77], "start": t(0.0), "end": t(6.0), "reason": REASON}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("cameras"), "{message}");
    assert!(entries(&s, "hold.").is_empty());
    assert_eq!(s.store.db.protections(false).unwrap().len(), 0);
}

#[tokio::test]
async fn a_lock_outlives_retention_until_released_with_four_eyes_then_goes() {
    let s = start().await;
    let (admin, csrf) = login(&s).await;
    let (inv, inv_csrf) = new_user(&s, &admin, &csrf, "eve.investigates", &["investigator"]).await;
    enrol_totp(&s, &inv, &inv_csrf).await;
    new_user(&s, &admin, &csrf, "fatima.dpo", &["dpo"]).await;
    new_user(&s, &admin, &csrf, "gil.dpo", &["dpo"]).await;

    let r = post(
        &inv,
        &s,
        &inv_csrf,
        "/api/v1/locks",
        json!({"cameras": [s.camera.0], "start": t(0.0), "end": t(6.0),
               "reason": format!("  {REASON}  "), "review": in_days(&s, 30)}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let lock: Value = r.json().await.unwrap();
    let id = lock["id"].as_i64().unwrap();
    assert_eq!(lock["kind"], "lock");
    assert_eq!(lock["state"], "active");
    assert_eq!(lock["reason"], REASON, "trimmed");
    assert_eq!(lock["owner"], "eve.investigates");
    assert_eq!(lock["on_review"], "release");
    assert_eq!(lock["cameras"], json!([{"id": s.camera.0, "name": "Door"}]));
    assert_eq!(
        lock["segments"], 2,
        "the two 4 s segments overlapping [0 s, 6 s)"
    );
    let created = entries(&s, "evidence_lock.create");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].justification, REASON);
    assert!(
        created[0].detail.contains("cameras=1"),
        "{}",
        created[0].detail
    );

    // Extending needs a later date and a new reason.
    let ext = format!("/api/v1/locks/{id}/extend");
    let (status, _, message) = refusal(
        post(
            &inv,
            &s,
            &inv_csrf,
            &ext,
            json!({"review": in_days(&s, 60), "reason": ""}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, message.contains("reason")),
        (StatusCode::BAD_REQUEST, true)
    );
    let (status, _, message) = refusal(
        post(
            &inv,
            &s,
            &inv_csrf,
            &ext,
            json!({"review": in_days(&s, 10), "reason": "The court hearing moved"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, message.contains("review")),
        (StatusCode::BAD_REQUEST, true)
    );
    let r = post(
        &inv,
        &s,
        &inv_csrf,
        &ext,
        json!({"review": in_days(&s, 90), "reason": "The court hearing moved to March"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let lock: Value = r.json().await.unwrap();
    assert_eq!(lock["review"], in_days(&s, 90));
    assert_eq!(
        lock["extended"]["reason"],
        "The court hearing moved to March"
    );
    assert_eq!(entries(&s, "evidence_lock.change").len(), 1);

    // Not the investigator (no locks.release).
    let rel = format!("/api/v1/locks/{id}/release");
    let body = json!({"reason": "Case closed by the prosecutor"});
    let (status, _, _) = refusal(post(&inv, &s, &inv_csrf, &rel, body.clone()).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Past retention: the unlocked segment goes, the locked ones still play
    // (sessions have expired meanwhile: sign in again).
    s.clock.advance(3 * HOUR);
    let (admin, _) = login(&s).await;
    let (dpo, dpo_csrf) = login_as(&s, "fatima.dpo").await;
    let (dpo2, dpo2_csrf) = login_as(&s, "gil.dpo").await;
    let report = run_retention(&s).await;
    assert_eq!(report.keys_destroyed, 1);
    assert_eq!(report.segments_deleted, 1);
    assert_eq!(video_status(&admin, &s, 0.0, 8.0).await, StatusCode::OK);
    assert_eq!(
        video_status(&admin, &s, 8.0, 12.0).await,
        StatusCode::NOT_FOUND
    );

    // Release: the DPO only, with another's approval.
    let (status, _, message) = refusal(post(&dpo, &s, &dpo_csrf, &rel, body.clone()).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message.contains("approval"), "{message}");
    assert!(entries(&s, "evidence_lock.release").is_empty());
    let r = post(
        &dpo,
        &s,
        &dpo_csrf,
        "/api/v1/approvals",
        json!({"permission": "locks.release", "resource": format!("lock:{id}"),
               "justification": "The prosecutor closed case 2026-117"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let approval = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = post(
        &dpo2,
        &s,
        &dpo2_csrf,
        &format!("/api/v1/approvals/{approval}/decision"),
        json!({"approve": true, "note": "checked the letter"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = post(&dpo, &s, &dpo_csrf, &rel, body.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let lock: Value = r.json().await.unwrap();
    assert_eq!(lock["state"], "released");
    assert_eq!(lock["released"]["by"], "fatima.dpo");
    assert_eq!(lock["segments"], 0);
    let released = entries(&s, "evidence_lock.release");
    assert_eq!(released.len(), 1);
    assert!(
        released[0].detail.contains(&format!("approval={approval}")),
        "{}",
        released[0].detail
    );
    let (status, _, _) = refusal(post(&dpo, &s, &dpo_csrf, &rel, body).await).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Released: what it kept is past retention and goes at the next run.
    assert_eq!(
        video_status(&admin, &s, 0.0, 8.0).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(run_retention(&s).await.segments_deleted, 2);
    assert_eq!(s.store.db.segment_count().unwrap(), 0);
}

#[tokio::test]
async fn a_hold_blocks_playback_and_live_naming_itself_until_released() {
    let s = start().await;
    let (admin, csrf) = login(&s).await;
    let (dpo, dpo_csrf) = new_user(&s, &admin, &csrf, "fatima.dpo", &["dpo"]).await;
    assert_eq!(video_status(&admin, &s, 1.0, 3.0).await, StatusCode::OK);
    let r = post(
        &dpo,
        &s,
        &dpo_csrf,
        "/api/v1/holds",
        json!({"cameras": [s.camera.0], "start": t(0.0), "end": t(6.0),
               "reason": "Restriction requested by a data subject, request 12"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let hold: Value = r.json().await.unwrap();
    let id = hold["id"].as_i64().unwrap();
    assert_eq!(hold["kind"], "hold");
    assert_eq!(hold["review"], Value::Null);
    assert_eq!(hold["segments"], 2);

    let played = entries(&s, "playback").len();
    let path = format!(
        "/api/v1/cameras/{}/video.mp4?start={}&end={}",
        s.camera.0,
        t(1.0),
        t(3.0)
    );
    let (status, code, message) = refusal(get(&admin, &s, &path).await).await;
    assert_eq!((status, code.as_str()), (StatusCode::FORBIDDEN, "held"));
    assert!(
        message.contains(&format!("restriction hold {id}")),
        "{message}"
    );
    assert_eq!(entries(&s, "playback").len(), played, "nothing was served");
    // The served interval counts: from 5 s, playback starts at the keyframe
    // at 4 s (GOP 1 s: at 5 s), outside... the hold ends at 6 s, so 5–7 s is held.
    assert_eq!(
        video_status(&admin, &s, 5.0, 7.0).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(video_status(&admin, &s, 8.0, 12.0).await, StatusCode::OK);

    // Live: a hold reaching now refuses it too.
    let live = format!("/api/v1/cameras/{}/live", s.camera.0);
    assert_ne!(status_of(&admin, &s, &live).await, StatusCode::FORBIDDEN);
    let r = post(
        &dpo,
        &s,
        &dpo_csrf,
        "/api/v1/holds",
        json!({"cameras": [s.camera.0], "start": t(0.0), "end": in_days(&s, 7),
               "reason": "Restriction of everything this camera records, request 13"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let all = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let (status, code, message) = refusal(get(&admin, &s, &live).await).await;
    assert_eq!((status, code.as_str()), (StatusCode::FORBIDDEN, "held"));
    assert!(message.contains(&all.to_string()), "{message}");

    // Only holds.manage sees and releases holds.
    assert_eq!(
        status_of(&admin, &s, "/api/v1/holds").await,
        StatusCode::FORBIDDEN
    );
    let list: Value = get_json(&dpo, &s, "/api/v1/holds").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    for h in [id, all] {
        let r = post(
            &dpo,
            &s,
            &dpo_csrf,
            &format!("/api/v1/holds/{h}/release"),
            json!({"reason": "The data subject withdrew the request"}),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert_eq!(video_status(&admin, &s, 1.0, 3.0).await, StatusCode::OK);
    assert_ne!(status_of(&admin, &s, &live).await, StatusCode::FORBIDDEN);
    let changes = entries(&s, "hold.change");
    assert_eq!(changes.len(), 4, "two creations, two releases");
    assert!(changes.iter().all(|e| !e.justification.is_empty()));
}
