//! PTZ cameras and static privacy masks (issue 13, item 7): masks are fixed
//! to the picture, so a camera with masks cannot enable PTZ control, and a
//! camera with PTZ control cannot get masks (409 `masks_fixed`, both ways,
//! nothing changed and nothing recorded); `ptz_control` needs `ptz_capable`
//! (400 naming the field); the flags are shown and recorded.

mod common;

use reqwest::StatusCode;
use serde_json::{json, Value};

use common::*;

fn camera(capable: bool, control: bool) -> Value {
    json!({"name": "Dome", "url": "rtsp://192.0.2.10:554/stream1", "enabled": false,
           "ptz_capable": capable, "ptz_control": control})
}

fn window() -> Value {
    json!({"masks": [{"kind": "permanent", "fill": "solid", "name": "Window",
           "reason": "A home across the street is in view",
           "polygon": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.4], [0.1, 0.4]]}]})
}

fn count(s: &Server, action: &str) -> usize {
    audit_entries(s)
        .iter()
        .filter(|e| e.action == action)
        .count()
}

#[tokio::test]
async fn masks_and_ptz_control_exclude_each_other() {
    let s = start().await;
    let (admin, csrf) = login(&s).await;
    let cameras = format!("{}/api/v1/cameras", s.base);

    // ptz_control needs ptz_capable: 400 naming the field, nothing created.
    let r = post_json(&admin, &csrf, cameras.clone(), camera(false, true)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e: Value = r.json().await.unwrap();
    let m = e["error"]["message"].as_str().unwrap();
    assert!(m.starts_with("ptz_control"), "{m}");
    assert_eq!(count(&s, "camera.create"), 0);

    let r = post_json(&admin, &csrf, cameras.clone(), camera(true, false)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["ptz_capable"].clone(), v["ptz_control"].clone()),
        (json!(true), json!(false))
    );
    let id = v["id"].as_i64().unwrap();
    let one = format!("{cameras}/{id}");
    let masks = format!("{one}/masks");
    let created = audit_entries(&s)
        .into_iter()
        .find(|e| e.action == "camera.create")
        .unwrap();
    assert!(
        created
            .detail
            .ends_with("ptz_capable=true ptz_control=false"),
        "{}",
        created.detail
    );

    // A camera with masks cannot enable PTZ control.
    let r = put_json(&admin, &csrf, masks.clone(), window()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let updates = count(&s, "camera.update");
    let r = put_json(&admin, &csrf, one.clone(), camera(true, true)).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "masks_fixed");
    let m = e["error"]["message"].as_str().unwrap();
    assert!(m.contains("fixed to the picture"), "{m}");
    let v: Value = get_json(&admin, &s, &format!("/api/v1/cameras/{id}")).await;
    assert_eq!(v["ptz_control"], false, "nothing changed");
    assert_eq!(count(&s, "camera.update"), updates, "nothing recorded");
    // Neither can the 400 be dodged: capable off with control on.
    let r = put_json(&admin, &csrf, one.clone(), camera(false, true)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("ptz_control"));

    // Without masks, it can; the change is recorded with the previous flags.
    let r = put_json(&admin, &csrf, masks.clone(), json!({"masks": []})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = put_json(&admin, &csrf, one.clone(), camera(true, true)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["ptz_control"], true);
    let update = audit_entries(&s)
        .into_iter()
        .rev()
        .find(|e| e.action == "camera.update")
        .unwrap();
    assert!(
        update.detail.contains(
            "ptz_capable=true ptz_control=true previous_ptz_capable=true previous_ptz_control=false"
        ),
        "{}",
        update.detail
    );

    // A camera with PTZ control cannot get masks; removing them stays allowed.
    let cam = veil_base::CameraId(id);
    let versions = s.store.db.mask_version_count(cam).unwrap();
    let mask_changes = count(&s, "config.mask");
    let r = put_json(&admin, &csrf, masks.clone(), window()).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "masks_fixed");
    assert_eq!(s.store.db.mask_version_count(cam).unwrap(), versions);
    assert_eq!(count(&s, "config.mask"), mask_changes);
    let r = put_json(&admin, &csrf, masks.clone(), json!({"masks": []})).await;
    assert_eq!(r.status(), StatusCode::OK);

    // Control off again: masks can be saved.
    let r = put_json(&admin, &csrf, one.clone(), camera(true, false)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = put_json(&admin, &csrf, masks, window()).await;
    assert_eq!(r.status(), StatusCode::OK);
}
