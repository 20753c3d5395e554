//! Access control over the API: users and roles administration, first-login
//! password change, scopes, the playback window, weekly hours, the usage
//! policy and training, and four-eyes approvals — each change recorded.

mod common;

use reqwest::StatusCode;
use serde_json::json;

use common::*;

fn video(s: &Server, from: f64, to: f64) -> String {
    format!(
        "{}/api/v1/cameras/1/video.mp4?start={}&end={}",
        s.base,
        t(from),
        t(to)
    )
}

#[tokio::test]
async fn users_roles_and_scopes_through_the_api() {
    let s = start().await;
    let (admin, csrf) = login(&s).await;
    // The catalogue is public to signed-in users; roles and users need
    // user administration.
    let perms: Vec<serde_json::Value> = get_json(&admin, &s, "/api/v1/permissions").await;
    assert_eq!(perms.len(), 32);
    let roles: Vec<serde_json::Value> = get_json(&admin, &s, "/api/v1/roles").await;
    let names: Vec<&str> = roles.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "administrator",
            "auditor",
            "dpo",
            "investigator",
            "operator"
        ]
    );

    // A role limited to camera 2 sees nothing of camera 1.
    let door_cameras: &[i64] = &[2];
    create_role(
        &s,
        &admin,
        &csrf,
        "door-watch",
        &[
            ("live.view", Some(door_cameras)),
            ("playback", Some(door_cameras)),
        ],
    )
    .await;
    let bad = put_json(
        &admin,
        &csrf,
        format!("{}/api/v1/roles/x", s.base),
        json!({"grants": [{"permission": "teleport", "scope": {"kind": "all"}}]}),
    )
    .await;
    let (status, _) = error_code(bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (door, door_csrf) = new_user(&s, &admin, &csrf, "bob.door", &["door-watch"]).await;
    let cams: Vec<serde_json::Value> = get_json(&door, &s, "/api/v1/cameras").await;
    assert!(cams.is_empty(), "{cams:?}");
    assert_eq!(
        status_of(&door, &s, "/api/v1/cameras/1/recordings").await,
        StatusCode::FORBIDDEN
    );
    // Widening the scope lets them in.
    let r = put_json(
        &admin,
        &csrf,
        format!("{}/api/v1/roles/door-watch", s.base),
        json!({"grants": [{"permission": "playback", "scope": {"kind": "all"}}]}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        status_of(&door, &s, "/api/v1/cameras/1/recordings").await,
        StatusCode::OK
    );
    // The user list names roles and warns about generic names.
    let (_, _) = new_user(&s, &admin, &csrf, "security2", &["operator"]).await;
    let sec = user_entry(&s, &admin, "name", "security2").await;
    assert_eq!(sec["roles"], json!(["operator"]));
    assert!(
        sec["warnings"][0].as_str().unwrap().contains("generic"),
        "{sec}"
    );
    // Non-administrators cannot administer.
    assert_eq!(
        status_of(&door, &s, "/api/v1/users").await,
        StatusCode::FORBIDDEN
    );
    let r = put_json(
        &door,
        &door_csrf,
        format!("{}/api/v1/roles/door-watch", s.base),
        json!({"grants": []}),
    )
    .await;
    assert_eq!(
        error_code(r).await,
        (StatusCode::FORBIDDEN, "forbidden".into())
    );
    // Every change was recorded, by pseudonym.
    let actions: Vec<String> = audit_actions(&s).into_iter().map(|(_, a, _)| a).collect();
    for want in ["role.change", "user.change", "user.password"] {
        assert!(
            actions.iter().any(|a| a == want),
            "{want} missing from {actions:?}"
        );
    }
    // Disabling ends the user's sessions at once.
    let id = user_id(&s, &admin, "bob.door").await;
    let r = put_json(
        &admin,
        &csrf,
        format!("{}/api/v1/users/{id}", s.base),
        json!({"disabled": true}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        status_of(&door, &s, "/api/v1/session").await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn playback_window_hours_policy_and_training() {
    let s = start().await;
    let (admin, csrf) = login(&s).await;
    let (op, _) = new_user(&s, &admin, &csrf, "carla.ops", &["operator"]).await;
    // The video is from T0; the clock stands at T0 + 60 s. The operator's
    // window is 72 h: fine now, refused (not clipped) 73 h later.
    assert_eq!(
        op.get(video(&s, 0.0, 4.0)).send().await.unwrap().status(),
        StatusCode::OK
    );
    const HOUR: i64 = 3600 * 90_000;
    s.clock.advance(73 * HOUR);
    // (Sessions have expired meanwhile: sign in again.)
    let (op, _) = login_as(&s, "carla.ops").await;
    let (admin, csrf) = login(&s).await;
    let r = op.get(video(&s, 0.0, 4.0)).send().await.unwrap();
    let status = r.status();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("only the last 72 hours"),
        "{v}"
    );
    // Live view is unaffected by the window.
    assert_ne!(
        status_of(&op, &s, "/api/v1/cameras").await,
        StatusCode::FORBIDDEN
    );

    // Weekly hours: the clock stands on a Saturday (T0 is a Wednesday, plus
    // 73 h); a Monday-only role grants nothing now, and everything on Monday.
    let r = put_json(
        &admin,
        &csrf,
        format!("{}/api/v1/roles/weekdays", s.base),
        json!({"grants": [{"permission": "live.view", "scope": {"kind": "all"}}],
               "time_profile": {"time_zone": "Europe/Paris", "intervals": [
                   {"day": "mon", "start": "00:00", "end": "24:00"}]}}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let (wk, _) = new_user(&s, &admin, &csrf, "dan.week", &["weekdays"]).await;
    let r = get(&wk, &s, "/api/v1/cameras").await;
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("outside its hours"),
        "{v}"
    );
    s.clock.advance(48 * HOUR);
    let (wk, _) = login_as(&s, "dan.week").await;
    let listed: Vec<serde_json::Value> = get_json(&wk, &s, "/api/v1/cameras").await;
    assert_eq!(listed.len(), 1, "active on Monday");
    s.clock.advance(-(73 + 48) * HOUR);
    let (op, op_csrf) = login_as(&s, "carla.ops").await;
    let (admin, csrf) = login(&s).await;

    // A published policy blocks video until acknowledged.
    let r = post_json(
        &admin,
        &csrf,
        format!("{}/api/v1/policy", s.base),
        json!({"text": "Video is for safety only; never share it."}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = op.get(video(&s, 0.0, 4.0)).send().await.unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("acknowledge"),
        "{v}"
    );
    let r = post_json(
        &op,
        &op_csrf,
        format!("{}/api/v1/policy/ack", s.base),
        json!({"version": 2}),
    )
    .await;
    assert_eq!(error_code(r).await.0, StatusCode::BAD_REQUEST);
    let r = post_json(
        &op,
        &op_csrf,
        format!("{}/api/v1/policy/ack", s.base),
        json!({"version": 1}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        op.get(video(&s, 0.0, 4.0)).send().await.unwrap().status(),
        StatusCode::OK
    );

    // Training that has lapsed blocks video too.
    let id = user_id(&s, &admin, "carla.ops").await;
    let r = put_json(
        &admin,
        &csrf,
        format!("{}/api/v1/users/{id}", s.base),
        json!({"training_valid_until": t(30.0)}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = op.get(video(&s, 0.0, 4.0)).send().await.unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("training expired"),
        "{v}"
    );
    let actions: Vec<String> = audit_actions(&s).into_iter().map(|(_, a, _)| a).collect();
    for want in ["policy.publish", "policy.acknowledge"] {
        assert!(actions.iter().any(|a| a == want), "{want} missing");
    }
}

/// The playback window and the access record apply to what is served: the
/// file starts at the keyframe at or before the requested start.
#[tokio::test]
async fn the_window_and_the_record_use_the_served_interval() {
    let s = start().await;
    let (admin, csrf) = login(&s).await;
    new_user(&s, &admin, &csrf, "carla.ops", &["operator"]).await;
    // Keyframes every second from T0. The operator's 72-hour window begins
    // at T0 + 0.5 s.
    const HOUR: i64 = 3600 * 90_000;
    s.clock.advance(72 * HOUR - 60 * 90_000 + 90_000 / 2);
    let (op, _) = login_as(&s, "carla.ops").await;
    // Asked from T0 + 0.7 s (inside), served from T0 (outside): refused.
    let r = op.get(video(&s, 0.7, 3.0)).send().await.unwrap();
    let (status, _) = error_code(r).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Asked from T0 + 1.5 s: served, and recorded, from T0 + 1 s.
    let r = op.get(video(&s, 1.5, 3.0)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let entry = audit_entries(&s)
        .into_iter()
        .rfind(|e| e.action == "playback")
        .unwrap();
    assert!(
        entry.detail.contains(&format!("start={} ", t(1.0))),
        "{}",
        entry.detail
    );
    assert!(
        entry
            .detail
            .contains(&format!("requested_start={}", t(1.5))),
        "{}",
        entry.detail
    );
}

/// Four-eyes can only be set on actions that consume an approval, and the
/// settings say which of those a route enforces today.
#[tokio::test]
async fn four_eyes_settings_say_what_they_enforce() {
    let s = start().await;
    let (admin, csrf) = login(&s).await;
    let url = format!("{}/api/v1/settings/four-eyes", s.base);
    let r = put_json(
        &admin,
        &csrf,
        url.clone(),
        json!({"permissions": ["playback"]}),
    )
    .await;
    let status = r.status();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("\"playback\" cannot need four-eyes"),
        "{message}"
    );
    let r = put_json(
        &admin,
        &csrf,
        url.clone(),
        json!({"permissions": ["export"]}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let v: serde_json::Value = admin.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["permissions"], json!(["export"]));
    assert_eq!(v["status"][0]["permission"], "export");
    // POST /api/v1/exports consumes an approval for each camera.
    assert_eq!(v["status"][0]["enforced"], true, "{v}");
    assert!(v["status"][0]["note"]
        .as_str()
        .unwrap()
        .contains("consumes an approval"));
}

#[tokio::test]
async fn four_eyes_needs_another_person_with_approve() {
    let s = start().await;
    let (admin, csrf) = login(&s).await;
    let (inv, inv_csrf) = new_user(&s, &admin, &csrf, "eve.investigates", &["investigator"]).await;
    // Export makes the investigator role require a second factor.
    let (status, _) = error_code(get(&inv, &s, "/api/v1/cameras").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    enrol_totp(&s, &inv, &inv_csrf).await;
    let (dpo, dpo_csrf) = new_user(&s, &admin, &csrf, "fatima.dpo", &["dpo"]).await;
    // Export needs approval by default; a justification is required.
    let ask = |j: &'static str| {
        post_json(
            &inv,
            &inv_csrf,
            format!("{}/api/v1/approvals", s.base),
            json!({"permission": "export", "resource": "camera:1", "justification": j}),
        )
    };
    assert_eq!(error_code(ask("  ").await).await.0, StatusCode::BAD_REQUEST);
    let r = ask("Theft reported at the door on Monday, police case 2026-117").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let url = format!("{}/api/v1/approvals/{id}/decision", s.base);
    let decide = |c: &reqwest::Client, csrf: &str, approve: bool| {
        c.post(&url)
            .header("x-csrf-token", csrf)
            .json(&json!({"approve": approve, "note": "checked the police reference"}))
            .send()
    };
    // Not the requester, and not someone without approve.
    let (status, _) = error_code(decide(&inv, &inv_csrf, true).await.unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = error_code(decide(&admin, &csrf, true).await.unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The DPO sees it and approves; a second decision conflicts.
    let list: serde_json::Value = get_json(&dpo, &s, "/api/v1/approvals").await;
    assert_eq!(list["approvals"][0]["state"], "pending");
    let r = decide(&dpo, &dpo_csrf, true).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        error_code(decide(&dpo, &dpo_csrf, false).await.unwrap())
            .await
            .0,
        StatusCode::CONFLICT
    );
    // The approval is used once, then gone.
    let requester = s
        .store
        .db
        .user_by_name("eve.investigates")
        .unwrap()
        .unwrap()
        .id;
    let now = veil_base::Clock::now(&s.clock);
    veil_web::admin::use_approval(
        &s.store.db,
        requester,
        veil_access::Action::Export,
        "camera:1",
        now,
    )
    .unwrap();
    assert!(veil_web::admin::use_approval(
        &s.store.db,
        requester,
        veil_access::Action::Export,
        "camera:1",
        now
    )
    .is_err());
    // Approvals expire.
    let r = ask("A second incident, same door, police case 2026-118").await;
    let id2 = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    s.clock.advance(25 * 3600 * 90_000);
    let (dpo, dpo_csrf) = login_as(&s, "fatima.dpo").await;
    let r = post_json(
        &dpo,
        &dpo_csrf,
        format!("{}/api/v1/approvals/{id2}/decision", s.base),
        json!({"approve": true, "note": "late"}),
    )
    .await;
    assert_eq!(error_code(r).await.0, StatusCode::CONFLICT);
    // Both steps are in the access record, with their justifications.
    let entries = audit_entries(&s);
    let req = entries
        .iter()
        .find(|e| e.action == "approval.request")
        .unwrap();
    assert!(req.justification.contains("police case 2026-117"));
    let dec = entries
        .iter()
        .find(|e| e.action == "approval.decide")
        .unwrap();
    assert!(
        dec.detail.contains("decision=approved") && dec.justification.contains("police reference")
    );
}
