//! Storage quotas through the API: bad values are refused naming the field
//! and change nothing; an exceeded quota destroys the oldest unprotected
//! hour first (recorded with `reason=quota`), and when only locked video is
//! left the camera is blocked, its status says why, and its new video is
//! refused until the quota is lifted.

mod common;

use reqwest::StatusCode;
use serde_json::{json, Value};
use veil_base::{CameraId, Clock, Time90k};
use veil_media::synthetic::SyntheticConfig;
use veil_store::db::{NewProtection, ProtectionKind};
use veil_store::recorder::synthetic_segments;
use veil_store::segment::BUCKET_90K as HOUR;

use common::*;

async fn put(c: &reqwest::Client, s: &Server, csrf: &str, body: Value) -> reqwest::Response {
    put_json(c, csrf, format!("{}/api/v1/quotas", s.base), body).await
}

fn camera(view: &Value, id: CameraId) -> &Value {
    view["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.0)
        .unwrap()
}

fn quota_entries(s: &Server) -> Vec<veil_store::db::AuditRow> {
    audit_entries(s)
        .into_iter()
        .filter(|e| e.detail.contains("quota"))
        .collect()
}

/// Eight seconds of camera `cam` from `start`.
async fn record(s: &Server, cam: CameraId, start: i64) {
    let config = SyntheticConfig {
        width: 320,
        height: 240,
        fps: 25,
        gop_frames: 25,
        bitrate_bps: 300_000,
        seed: 5,
    };
    for seg in synthetic_segments(cam, config, Time90k(start), 8 * 25 + 1, 4 * 90_000).unwrap() {
        s.store.write_segment(seg).await.unwrap();
    }
}

#[tokio::test]
async fn bad_quotas_are_refused_naming_the_field() {
    let s = start().await;
    let (admin, csrf) = login(&s).await;
    for (body, field) in [
        (json!({"installation_bytes": 0}), "installation_bytes"),
        (
            json!({"installation_bytes": null, "cameras": {"99": 5}}),
            "cameras.99",
        ),
        (
            json!({"installation_bytes": null, "cameras": {"door": 5}}),
            "cameras.door",
        ),
        (
            json!({"installation_bytes": null, "cameras": {"1": 0}}),
            "cameras.1",
        ),
    ] {
        let r = put(&admin, &s, &csrf, body.clone()).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        let v: Value = r.json().await.unwrap();
        let m = v["error"]["message"].as_str().unwrap();
        assert!(m.contains(field), "{field}: {m}");
    }
    let view: Value = get_json(&admin, &s, "/api/v1/quotas").await;
    assert_eq!(view["installation_bytes"], Value::Null);
    assert_eq!(camera(&view, s.camera)["quota_bytes"], Value::Null);
    assert!(quota_entries(&s).is_empty());
    // Only retention.admin.
    let (aud, _) = login_as(&s, "ines.audit").await;
    assert_eq!(
        status_of(&aud, &s, "/api/v1/quotas").await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_quota_destroys_the_oldest_then_stops_a_camera_whose_video_is_all_locked() {
    let s = start().await;
    // A second hour of the door camera, and a yard camera.
    let next_hour = (T0 / HOUR + 1) * HOUR;
    record(&s, s.camera, next_hour + 60 * 90_000).await;
    let yard = add_camera(&s, "Yard");
    record(&s, yard, T0).await;
    s.clock.advance(3 * HOUR);
    let (admin, csrf) = login(&s).await;

    let hour_bytes = |from: i64, to: i64| -> u64 {
        s.store
            .db
            .segments(s.camera, "main", Time90k(from), Time90k(to))
            .unwrap()
            .iter()
            .map(|r| r.object_bytes)
            .sum()
    };
    let first = hour_bytes(T0, next_hour);
    let second = hour_bytes(next_hour, next_hour + HOUR);
    assert!(first > 0 && second > 0);
    let view: Value = get_json(&admin, &s, "/api/v1/quotas").await;
    assert_eq!(camera(&view, s.camera)["used_bytes"], first + second);

    // The second hour is locked.
    let now = s.clock.now();
    s.store
        .create_protection(NewProtection {
            kind: ProtectionKind::Lock,
            cameras: vec![s.camera],
            start: Time90k(next_hour),
            end: Time90k(next_hour + HOUR),
            reason: "incident in the second hour".into(),
            owner: None,
            created: now,
            review: Some(Time90k(now.0 + 24 * HOUR)),
            release_on_review: true,
            key_version: 1,
        })
        .await
        .unwrap();

    // Over the quota by half the first hour: the first (oldest, unlocked)
    // hour goes, the camera keeps recording.
    let quota = second + first / 2;
    let r = put(
        &admin,
        &s,
        &csrf,
        json!({"installation_bytes": null,
        "cameras": {s.camera.0.to_string(): quota}}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let view: Value = r.json().await.unwrap();
    let door = camera(&view, s.camera);
    assert_eq!(door["quota_bytes"], quota);
    assert_eq!(door["used_bytes"], second, "the oldest hour was destroyed");
    assert_eq!(door["state"], "ok");
    assert!(
        camera(&view, yard)["used_bytes"].as_u64().unwrap() > 0,
        "other cameras keep theirs"
    );
    let entries = quota_entries(&s);
    assert_eq!(entries[0].action, "config.retention");
    assert_eq!(entries[0].resource, format!("camera:{}", s.camera.0));
    assert!(entries[0]
        .detail
        .contains(&format!("quota_bytes={quota} previous=none")));
    let destroyed: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "retention.destroy")
        .collect();
    assert_eq!(destroyed.len(), 1);
    assert!(
        destroyed[0].detail.starts_with("reason=quota"),
        "{}",
        destroyed[0].detail
    );
    assert!(destroyed[0].seq > entries[0].seq);

    // Below the locked hour: nothing unlocked is left, so the camera is
    // blocked instead of destroying evidence.
    let r = put(
        &admin,
        &s,
        &csrf,
        json!({"installation_bytes": null,
        "cameras": {s.camera.0.to_string(): second / 2}}),
    )
    .await;
    let view: Value = r.json().await.unwrap();
    let door = camera(&view, s.camera);
    assert_eq!(
        door["used_bytes"], second,
        "locked video is never destroyed"
    );
    assert_eq!(door["state"], "blocked");
    assert!(door["blocked_reason"]
        .as_str()
        .unwrap()
        .contains("release a lock"));
    assert_eq!(camera(&view, yard)["state"], "ok");
    let later = s.clock.now().0 - 30 * 90_000;
    let config = SyntheticConfig {
        width: 160,
        height: 120,
        fps: 25,
        gop_frames: 25,
        bitrate_bps: 100_000,
        seed: 9,
    };
    let seg = synthetic_segments(s.camera, config, Time90k(later), 2 * 25 + 1, 2 * 90_000)
        .unwrap()
        .remove(0);
    let e = s.store.write_segment(seg.clone()).await.unwrap_err();
    assert!(e.to_string().contains("quota"), "{e}");
    let status: Value = get_json(
        &admin,
        &s,
        &format!("/api/v1/cameras/{}/status", s.camera.0),
    )
    .await;
    assert!(
        status.to_string().contains("storage quota reached"),
        "{status}"
    );

    // The installation's quota blocks every camera the same way.
    let r = put(&admin, &s, &csrf, json!({"installation_bytes": 1})).await;
    let view: Value = r.json().await.unwrap();
    assert_eq!(
        camera(&view, yard)["used_bytes"],
        0,
        "the yard's unlocked video went first"
    );
    assert_eq!(camera(&view, yard)["state"], "blocked");
    assert_eq!(camera(&view, s.camera)["state"], "blocked");

    // No quota: recording resumes.
    let r = put(&admin, &s, &csrf, json!({"installation_bytes": null})).await;
    let view: Value = r.json().await.unwrap();
    assert_eq!(camera(&view, s.camera)["state"], "ok");
    assert_eq!(camera(&view, s.camera)["quota_bytes"], Value::Null);
    s.store.write_segment(seg).await.unwrap();
}
