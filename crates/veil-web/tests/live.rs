//! Live view over the WebSocket: a stream is authorised again every few
//! seconds, so each way of losing the right to watch closes an open stream
//! within 5 s (one test per cause); and a page of another origin cannot open
//! one.

mod common;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::AsyncReadExt;

use common::*;

/// Within this an open stream must close once its right is gone.
const LIMIT: Duration = Duration::from_secs(5);
const MINUTE: i64 = 60 * 90_000;

/// Asks for camera 1's live WebSocket as `c`, with `origin` if given.
async fn upgrade(s: &Server, c: &reqwest::Client, origin: Option<&str>) -> reqwest::Response {
    let mut r = c
        .get(format!("{}/api/v1/cameras/1/live", s.base))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    if let Some(o) = origin {
        r = r.header("origin", o);
    }
    r.send().await.unwrap()
}

/// An open live stream of camera 1 for `c`, from a page of the server's own
/// origin.
async fn open_live(s: &Server, c: &reqwest::Client) -> reqwest::Upgraded {
    let r = upgrade(s, c, Some(&s.base)).await;
    assert_eq!(r.status(), StatusCode::SWITCHING_PROTOCOLS);
    r.upgrade().await.unwrap()
}

/// Whether the server closes the stream within `limit` (a close frame or
/// the end of the connection; no frames are published in these tests).
async fn closes_within(ws: &mut reqwest::Upgraded, limit: Duration) -> bool {
    let mut buf = [0u8; 256];
    match tokio::time::timeout(limit, ws.read(&mut buf)).await {
        Err(_) => false,
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) => buf[0] == 0x88,
    }
}

/// A viewer with `roles`, signed in, watching camera 1: (admin, admin's
/// CSRF token, viewer, viewer's CSRF token, viewer's account id, stream).
async fn watching(
    s: &Server,
    roles: &[&str],
) -> (
    reqwest::Client,
    String,
    reqwest::Client,
    String,
    String,
    reqwest::Upgraded,
) {
    let (admin, csrf) = login(s).await;
    let (viewer, viewer_csrf) = new_user(s, &admin, &csrf, "vera.view", roles).await;
    let id = user_id(s, &admin, "vera.view").await;
    let mut ws = open_live(s, &viewer).await;
    assert!(
        !closes_within(&mut ws, Duration::from_millis(2500)).await,
        "the stream closed before anything changed"
    );
    (admin, csrf, viewer, viewer_csrf, id, ws)
}

async fn send(r: reqwest::RequestBuilder, csrf: &str, body: serde_json::Value) -> StatusCode {
    r.header("x-csrf-token", csrf)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn logout_closes_the_stream() {
    let s = start().await;
    let (_, _, viewer, csrf, _, mut ws) = watching(&s, &["operator"]).await;
    let r = viewer
        .delete(format!("{}/api/v1/session", s.base))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(closes_within(&mut ws, LIMIT).await);
}

#[tokio::test]
async fn revoking_the_sessions_closes_the_stream() {
    let s = start().await;
    let (admin, csrf, _, _, id, mut ws) = watching(&s, &["operator"]).await;
    let r = admin
        .delete(format!("{}/api/v1/users/{id}/sessions", s.base))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert!(closes_within(&mut ws, LIMIT).await);
}

#[tokio::test]
async fn disabling_the_account_closes_the_stream() {
    let s = start().await;
    let (admin, csrf, _, _, id, mut ws) = watching(&s, &["operator"]).await;
    let url = format!("{}/api/v1/users/{id}", s.base);
    let status = send(admin.put(url), &csrf, json!({"disabled": true})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(closes_within(&mut ws, LIMIT).await);
}

#[tokio::test]
async fn erasing_the_account_closes_the_stream() {
    let s = start().await;
    let (admin, csrf, _, _, id, mut ws) = watching(&s, &["operator"]).await;
    let url = format!("{}/api/v1/users/{id}/erase", s.base);
    let status = send(admin.post(url), &csrf, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(closes_within(&mut ws, LIMIT).await);
}

#[tokio::test]
async fn a_restriction_hold_over_now_closes_the_stream() {
    let s = start().await;
    let (admin, csrf, _, _, _, mut ws) = watching(&s, &["operator"]).await;
    let (dpo, dpo_csrf) = new_user(&s, &admin, &csrf, "fatima.dpo", &["dpo"]).await;
    let now = veil_base::Clock::now(&s.clock).0;
    let status = send(
        dpo.post(format!("{}/api/v1/holds", s.base)),
        &dpo_csrf,
        json!({"cameras": [1], "start": veil_base::Time90k(now - MINUTE).to_rfc3339(),
               "end": veil_base::Time90k(now + 60 * MINUTE).to_rfc3339(),
               "reason": "Restriction of this camera requested, request 7"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(closes_within(&mut ws, LIMIT).await);
}

#[tokio::test]
async fn losing_the_role_closes_the_stream() {
    let s = start().await;
    let (admin, csrf, _, _, id, mut ws) = watching(&s, &["operator"]).await;
    let url = format!("{}/api/v1/users/{id}", s.base);
    let status = send(admin.put(url), &csrf, json!({"roles": ["auditor"]})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(closes_within(&mut ws, LIMIT).await);
}

#[tokio::test]
async fn losing_the_camera_from_the_scope_closes_the_stream() {
    let s = start().await;
    let (admin, csrf) = login(&s).await;
    let role = |cameras: &[i64]| {
        json!({"grants": [{"permission": "live.view",
                           "scope": {"kind": "cameras", "ids": cameras}}]})
    };
    let url = format!("{}/api/v1/roles/door-watch", s.base);
    let status = send(admin.put(&url), &csrf, role(&[1])).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, _, _, _, _, mut ws) = watching(&s, &["door-watch"]).await;
    let status = send(admin.put(&url), &csrf, role(&[2])).await;
    assert!(status.is_success(), "{status}");
    assert!(closes_within(&mut ws, LIMIT).await);
}

#[tokio::test]
async fn the_end_of_the_roles_hours_closes_the_stream() {
    let s = start().await;
    let (admin, csrf) = login(&s).await;
    // The clock stands at 12:07:40 in Paris on a Wednesday; the role's hours
    // end at 12:10.
    let url = format!("{}/api/v1/roles/noon", s.base);
    let body = json!({"grants": [{"permission": "live.view", "scope": {"kind": "all"}}],
                      "time_profile": {"time_zone": "Europe/Paris", "intervals": [
                          {"day": "wed", "start": "12:00", "end": "12:10"}]}});
    assert_eq!(
        send(admin.put(&url), &csrf, body).await,
        StatusCode::CREATED
    );
    let (_, _, _, _, _, mut ws) = watching(&s, &["noon"]).await;
    s.clock.advance(3 * MINUTE);
    assert!(closes_within(&mut ws, LIMIT).await);
}

#[tokio::test]
async fn idle_expiry_closes_the_stream() {
    let s = start().await;
    let (_, _, _, _, _, mut ws) = watching(&s, &["operator"]).await;
    // Watching is not activity: 31 minutes without a request end the session.
    s.clock.advance(31 * MINUTE);
    assert!(closes_within(&mut ws, LIMIT).await);
}

#[tokio::test]
async fn absolute_expiry_closes_the_stream() {
    let s = start().await;
    let (_, _, viewer, _, _, mut ws) = watching(&s, &["operator"]).await;
    // Active every 20 minutes for 11 h 40 min, so only the 12-hour limit
    // can end it, 25 minutes later.
    for _ in 0..35 {
        s.clock.advance(20 * MINUTE);
        assert_eq!(
            status_of(&viewer, &s, "/api/v1/session").await,
            StatusCode::OK
        );
    }
    assert!(
        !closes_within(&mut ws, Duration::from_millis(2500)).await,
        "closed while the session was valid"
    );
    s.clock.advance(25 * MINUTE);
    assert!(closes_within(&mut ws, LIMIT).await);
}

#[tokio::test]
async fn a_new_usage_policy_closes_the_stream_until_acknowledged() {
    let s = start().await;
    let (admin, csrf, _, _, _, mut ws) = watching(&s, &["operator"]).await;
    let url = format!("{}/api/v1/policy", s.base);
    let status = send(
        admin.post(url),
        &csrf,
        json!({"text": "Video is for safety only."}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(closes_within(&mut ws, LIMIT).await);
}

#[tokio::test]
async fn lapsed_training_closes_the_stream() {
    let s = start().await;
    let (admin, csrf, _, _, id, mut ws) = watching(&s, &["operator"]).await;
    let url = format!("{}/api/v1/users/{id}", s.base);
    let status = send(
        admin.put(url),
        &csrf,
        json!({"training_valid_until": t(30.0)}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(closes_within(&mut ws, LIMIT).await);
}

#[tokio::test]
async fn the_websocket_refuses_other_origins() {
    let s = start().await;
    let (c, _) = login(&s).await;
    for origin in ["https://evil.example", "null", "https://127.0.0.1:1"] {
        let r = upgrade(&s, &c, Some(origin)).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{origin}");
    }
    assert_eq!(
        upgrade(&s, &c, Some(&s.base)).await.status(),
        StatusCode::SWITCHING_PROTOCOLS
    );
    // A client that is not a browser sends no Origin and carries no
    // ambient cookie of someone else's.
    assert_eq!(
        upgrade(&s, &c, None).await.status(),
        StatusCode::SWITCHING_PROTOCOLS
    );
}
