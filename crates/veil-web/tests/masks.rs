//! Privacy masks through the API: versions with author and time, recorded in
//! the access record; bad masks refused naming the field, changing nothing.

mod common;

use reqwest::StatusCode;
use serde_json::{json, Value};

use common::*;

fn window() -> Value {
    json!({"kind": "permanent", "fill": "solid", "name": "  Neighbour's window ",
           "reason": "A home in view: the regulator wants windows masked",
           "polygon": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.4], [0.1, 0.4]]})
}

fn door() -> Value {
    json!({"kind": "liftable", "fill": "blur", "name": "Staff door",
           "reason": "Staff break area, lifted only for incidents",
           "polygon": [[0.6, 0.5], [0.9, 0.5], [0.75, 0.9]], "scope": "recording_only"})
}

#[tokio::test]
async fn masks_are_versioned_recorded_and_checked_field_by_field() {
    let s = start().await;
    let (admin, csrf) = login(&s).await;
    let path = format!("/api/v1/cameras/{}/masks", s.camera.0);
    let url = format!("{}{path}", s.base);
    let v: Value = get_json(&admin, &s, &path).await;
    assert_eq!(v["version"], Value::Null);
    assert_eq!(v["masks"], json!([]));
    assert_eq!(v["enforced"], true);
    assert_eq!(v["note"], Value::Null);

    let with = |k: &str, val: Value| {
        let mut m = window();
        m[k] = val;
        json!({"masks": [door(), m]})
    };
    for (body, field) in [
        (with("kind", json!("temporary")), "masks[1].kind"),
        (with("fill", json!("smudge")), "masks[1].fill"),
        (with("scope", json!("sometimes")), "masks[1].scope"),
        (
            with(
                "polygon",
                json!([[0.1, 0.1], [0.4, 0.4], [0.4, 0.1], [0.1, 0.4]]),
            ),
            "masks[1].polygon",
        ),
        (
            with("polygon", json!([[0.1, 0.1], [1.5, 0.1], [0.3, 0.4]])),
            "masks[1].polygon[1]",
        ),
        (
            with("polygon", json!([[0.1, 0.1], [0.3, 0.1]])),
            "masks[1].polygon",
        ),
        (with("reason", json!("")), "masks[1].reason"),
        (with("scope", json!("live_only")), "masks[1].scope"),
        (with("polygon", json!("everywhere")), "masks[1]"),
    ] {
        let r = put_json(&admin, &csrf, url.clone(), body.clone()).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        let e: Value = r.json().await.unwrap();
        let m = e["error"]["message"].as_str().unwrap();
        assert!(m.starts_with(field), "{field}: {m}");
    }
    let r = put_json(
        &admin,
        &csrf,
        format!("{}/api/v1/cameras/99/masks", s.base),
        json!({"masks": []}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(audit_entries(&s).iter().all(|e| e.action != "config.mask"));
    assert_eq!(s.store.db.mask_version_count(s.camera).unwrap(), 0);

    let r = put_json(
        &admin,
        &csrf,
        url.clone(),
        json!({"masks": [window(), door()]}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    let first = v["version"].as_i64().unwrap();
    assert_eq!(v["author"], "alice.martin");
    assert_eq!(v["masks"][0]["name"], "Neighbour's window", "trimmed");
    assert_eq!(v["masks"][0]["scope"], "all");
    assert_eq!(v["masks"][1]["scope"], "recording_only");
    assert_eq!(
        v["masks"][1]["polygon"],
        json!([[0.6, 0.5], [0.9, 0.5], [0.75, 0.9]])
    );
    let v2: Value = get_json(&admin, &s, &path).await;
    assert_eq!(v2["version"], first);

    // Removing them is a version too.
    let r = put_json(&admin, &csrf, url.clone(), json!({"masks": []})).await;
    let v: Value = r.json().await.unwrap();
    assert!(v["version"].as_i64().unwrap() > first);
    assert_eq!(v["masks"], json!([]));
    let changes: Vec<_> = audit_entries(&s)
        .into_iter()
        .filter(|e| e.action == "config.mask")
        .collect();
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0].resource, format!("camera:{}", s.camera.0));
    assert_eq!(
        changes[0].detail,
        "masks=2 permanent=1 liftable=1 previous_version=none"
    );
    assert_eq!(
        changes[1].detail,
        format!("masks=0 permanent=0 liftable=0 previous_version={first}")
    );

    // masks.admin only.
    let (aud, _) = login_as(&s, "ines.audit").await;
    assert_eq!(status_of(&aud, &s, &path).await, StatusCode::FORBIDDEN);
}
