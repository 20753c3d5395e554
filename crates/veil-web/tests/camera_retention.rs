//! A camera's retention per rendition and its area over real HTTPS: the
//! effective rule and where it comes from, bounds and justifications (a 400
//! names the field and changes nothing), permission, and the access record.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn url(s: &Server, id: i64) -> String {
    format!("{}/api/v1/cameras/{id}/retention", s.base)
}

/// The entries `config.retention` on `camera:ID`.
fn retention_entries(s: &Server, id: i64) -> Vec<String> {
    audit_entries(s)
        .into_iter()
        .filter(|e| e.action == "config.retention" && e.resource == format!("camera:{id}"))
        .map(|e| e.detail)
        .collect()
}

async fn message(r: reqwest::Response) -> (StatusCode, String) {
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    (status, v["error"]["message"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_cameras_retention_is_its_own_rule_else_its_areas_else_the_installations() {
    let s = start().await;
    let (c, csrf) = login(&s).await;
    let id = s.camera.0;
    s.store.db.set_setting("retention_hours", "100").unwrap();
    s.store
        .db
        .set_setting("max_retention_hours", "2000")
        .unwrap();

    let v: Value = get_json(&c, &s, &format!("/api/v1/cameras/{id}/retention")).await;
    assert_eq!(v["camera"], id);
    assert_eq!(v["area"], "private");
    assert_eq!(v["installation_hours"], 100);
    assert_eq!(v["max_hours"], 2000);
    assert_eq!(v["max_unjustified_hours"], 720);
    assert_eq!(
        v["renditions"]["main"],
        json!({"hours": 100, "source": "installation", "justification": null, "updated_at": null})
    );

    // A public-facing camera is kept 48 hours by default.
    s.store
        .db
        .set_camera_area(s.camera, "public_facing")
        .unwrap();
    let v: Value = get_json(&c, &s, &format!("/api/v1/cameras/{id}/retention")).await;
    assert_eq!(v["renditions"]["main"]["hours"], 48);
    assert_eq!(v["renditions"]["main"]["source"], "area");

    // Its own rule wins, and is recorded with the old and new hours.
    let r = put_json(
        &c,
        &csrf,
        url(&s, id),
        json!({"renditions": {"main": {"hours": 72}}}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["renditions"]["main"]["hours"], 72);
    assert_eq!(v["renditions"]["main"]["source"], "camera");
    assert_eq!(v["renditions"]["main"]["justification"], Value::Null);
    assert!(v["renditions"]["main"]["updated_at"].is_string());
    let entries = retention_entries(&s, id);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(
        entries[0]
            .contains("rendition=main hours=72 source=camera previous=48 previous_source=area"),
        "{}",
        entries[0]
    );
    // The same rule again changes nothing and records nothing.
    let r = put_json(
        &c,
        &csrf,
        url(&s, id),
        json!({"renditions": {"main": {"hours": 72}}}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(retention_entries(&s, id).len(), 1);

    // Over 30 days with a justification.
    let r = put_json(
        &c,
        &csrf,
        url(&s, id),
        json!({"renditions": {"main": {"hours": 1000, "justification": "  Thefts are reported weeks later "}}}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["renditions"]["main"]["hours"], 1000);
    assert_eq!(
        v["renditions"]["main"]["justification"],
        "Thefts are reported weeks later"
    );
    let entries = retention_entries(&s, id);
    assert!(
        entries[1].contains("hours=1000")
            && entries[1].contains("previous=72")
            && entries[1].contains("justification=\"Thefts are reported weeks later\""),
        "{entries:?}"
    );
    // The store's rules (what retention runs with) agree.
    let rules = s.store.db.retention_rules(100).unwrap();
    assert_eq!(rules.effective(s.camera, "main").hours, 1000);

    // null removes the camera's rule: back to the area's 48 hours.
    let r = put_json(
        &c,
        &csrf,
        url(&s, id),
        json!({"renditions": {"main": null}}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["renditions"]["main"]["hours"], 48);
    assert_eq!(v["renditions"]["main"]["source"], "area");
    let entries = retention_entries(&s, id);
    assert!(
        entries[2].contains("hours=48 source=area previous=1000 previous_source=camera"),
        "{entries:?}"
    );
}

#[tokio::test]
async fn bad_rules_are_refused_naming_the_field_and_change_nothing() {
    let s = start().await;
    let (c, csrf) = login(&s).await;
    let id = s.camera.0;
    s.store
        .db
        .set_setting("max_retention_hours", "2000")
        .unwrap();
    let r = put_json(
        &c,
        &csrf,
        url(&s, id),
        json!({"renditions": {"main": {"hours": 24}}}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let before = s.store.db.camera_retention(s.camera).unwrap();
    let entries = audit_entries(&s).len();

    for (body, field) in [
        (
            json!({"renditions": {"main": {"hours": 0}}}),
            "renditions.main.hours",
        ),
        (
            json!({"renditions": {"main": {"hours": -3}}}),
            "renditions.main.hours",
        ),
        (
            json!({"renditions": {"main": {"hours": 2001, "justification": "Thefts are reported weeks later"}}}),
            "renditions.main.hours",
        ),
        (
            json!({"renditions": {"main": {"hours": 1000}}}),
            "renditions.main.justification",
        ),
        (
            json!({"renditions": {"main": {"hours": 1000, "justification": "too short"}}}),
            "renditions.main.justification",
        ),
        (
            json!({"renditions": {"sub": {"hours": 24}}}),
            "renditions.sub",
        ),
        // Nothing is stored when one rendition of several is refused.
        (
            json!({"renditions": {"main": {"hours": 30}, "sub": {"hours": 24}}}),
            "renditions.sub",
        ),
        (json!({"renditions": {}}), "renditions"),
        (json!({"renditions": {"main": {"hours": "many"}}}), "hours"),
        (json!({"hours": 24}), "hours"),
    ] {
        let (status, msg) = message(put_json(&c, &csrf, url(&s, id), body.clone()).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {msg}");
        assert!(msg.contains(field), "{body}: {msg:?} should name {field}");
    }
    assert_eq!(s.store.db.camera_retention(s.camera).unwrap(), before);
    assert_eq!(
        audit_entries(&s).len(),
        entries,
        "a refused change is not recorded"
    );

    // An unknown camera is a 404, for GET and PUT.
    let (status, msg) = message(
        put_json(
            &c,
            &csrf,
            url(&s, 999),
            json!({"renditions": {"main": {"hours": 24}}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(msg.contains("camera"), "{msg}");
    assert_eq!(
        status_of(&c, &s, "/api/v1/cameras/999/retention").await,
        StatusCode::NOT_FOUND
    );

    // Without retention.admin: 403, nothing changes.
    let (auditor, auditor_csrf) = login_as(&s, "ines.audit").await;
    assert_eq!(
        status_of(&auditor, &s, &format!("/api/v1/cameras/{id}/retention")).await,
        StatusCode::FORBIDDEN
    );
    let r = put_json(
        &auditor,
        &auditor_csrf,
        url(&s, id),
        json!({"renditions": {"main": {"hours": 1}}}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(s.store.db.camera_retention(s.camera).unwrap(), before);
}

#[tokio::test]
async fn cameras_have_an_area_and_a_live_only_mode() {
    let s = start().await;
    let (c, csrf) = login(&s).await;
    let body = |area: &str, mode: &str| {
        json!({
            "name": "Street",
            "url": "rtsp://192.0.2.10:554/stream1",
            "enabled": false,
            "recording_mode": mode,
            "area": area,
        })
    };
    let cameras = format!("{}/api/v1/cameras", s.base);
    let (status, msg) =
        message(post_json(&c, &csrf, cameras.clone(), body("street", "continuous")).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(msg.starts_with("area must be one of"), "{msg}");
    let r = post_json(
        &c,
        &csrf,
        cameras.clone(),
        body("public_facing", "live_only"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["area"], "public_facing");
    assert_eq!(v["recording_mode"], "live_only");
    let id = v["id"].as_i64().unwrap();
    let create = audit_entries(&s)
        .into_iter()
        .find(|e| e.action == "camera.create")
        .unwrap();
    assert!(
        create.detail.contains("area=public_facing mode=live_only"),
        "{}",
        create.detail
    );
    let v: Value = get_json(&c, &s, &format!("/api/v1/cameras/{id}/retention")).await;
    assert_eq!(v["renditions"]["main"]["source"], "area");

    let one = format!("{cameras}/{id}");
    let (status, msg) =
        message(put_json(&c, &csrf, one.clone(), body("garden", "live_only")).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(msg.contains("area"), "{msg}");
    let v: Value = get_json(&c, &s, &format!("/api/v1/cameras/{id}")).await;
    assert_eq!(
        v["area"], "public_facing",
        "a refused change changes nothing"
    );
    let r = put_json(&c, &csrf, one.clone(), body("workplace", "continuous")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["area"].as_str(), v["recording_mode"].as_str()),
        (Some("workplace"), Some("continuous"))
    );
    let update = audit_entries(&s)
        .into_iter()
        .find(|e| e.action == "camera.update")
        .unwrap();
    assert!(
        update
            .detail
            .contains("area=workplace previous_area=public_facing")
            && update
                .detail
                .contains("mode=continuous previous_mode=live_only"),
        "{}",
        update.detail
    );
    // Settings of another mode are refused with live_only.
    let mut b = body("private", "live_only");
    b["motion"] = json!({"pre_seconds": 2});
    let (status, msg) = message(put_json(&c, &csrf, one, b).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(msg.contains("live_only"), "{msg}");

    // A live-only synthetic camera from the configuration file says so.
    let cam = s
        .store
        .db
        .upsert_camera(
            "Lobby",
            "synthetic",
            r#"{"kind": "synthetic", "recording_mode": "live_only"}"#,
            veil_base::Time90k(T0),
        )
        .unwrap();
    let v: Value = get_json(&c, &s, &format!("/api/v1/cameras/{}/status", cam.0)).await;
    assert_eq!(v["state"], "standby");
    assert_eq!(v["standby_reason"], "live only: nothing is recorded");
}
