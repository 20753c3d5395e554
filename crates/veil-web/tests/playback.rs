//! The playback page and the timeline's events API over HTTPS: motion events
//! as the gate stored them, by overlap; who may see them; the page's query
//! checked, cameras authorised, the old per-camera address sent on.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use veil_base::Time90k;

fn at(secs: f64) -> Time90k {
    Time90k(T0 + (secs * 90_000.0) as i64)
}

#[tokio::test]
async fn motion_events_by_overlap_with_playback_rights() {
    let s = start().await;
    let db = &s.store.db;
    let first = db.insert_motion_event(s.camera, at(2.0)).unwrap();
    db.end_motion_event(first, at(5.0)).unwrap();
    db.insert_motion_event(s.camera, at(9.0)).unwrap(); // still going on
    let (c, _) = login(&s).await;
    let get = |q: String| {
        let c = c.clone();
        let base = s.base.clone();
        async move {
            c.get(format!("{base}/api/v1/cameras/1/events?{q}"))
                .send()
                .await
                .unwrap()
        }
    };
    let r = get(format!("start={}&end={}", t(0.0), t(12.0))).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"events": [
            {"kind": "motion", "start": t(2.0), "end": t(5.0)},
            {"kind": "motion", "start": t(9.0), "end": null},
        ]})
    );
    // Only what overlaps: [5, 9) touches neither; [4, 6) the first only.
    let v: Value = get(format!("start={}&end={}", t(5.0), t(9.0)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["events"], json!([]));
    let v: Value = get(format!("start={}&end={}", t(4.0), t(6.0)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["events"].as_array().unwrap().len(), 1);
    assert_eq!(v["events"][0]["start"], t(2.0));
    // Without times: the 24 hours before now hold both.
    let v: Value = get(String::new()).await.json().await.unwrap();
    assert_eq!(v["events"].as_array().unwrap().len(), 2, "{v}");

    // Bad input: 400 with a message; nothing else changes.
    let (status, code) = error_code(get("start=yesterday".into()).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
    let (status, _) = error_code(get(format!("start={}&end={}", t(9.0), t(1.0))).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let r = c
        .get(format!("{}/api/v1/cameras/77/events", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        db.motion_events(s.camera, at(0.0), at(99.0), 10)
            .unwrap()
            .len(),
        2
    );

    // An auditor may not play back, so sees no events (and cannot tell
    // which cameras exist).
    let (auditor, _) = login_as(&s, "ines.audit").await;
    for path in ["/api/v1/cameras/1/events", "/api/v1/cameras/77/events"] {
        let r = auditor
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(error_code(r).await.0, StatusCode::FORBIDDEN, "{path}");
    }
}

#[tokio::test]
async fn the_playback_page_checks_its_query_and_the_cameras() {
    let s = start().await;
    let (c, _) = login(&s).await;
    let get = |path: &str| {
        let c = c.clone();
        let url = format!("{}{path}", s.base);
        async move { c.get(url).send().await.unwrap() }
    };
    let r = get("/playback?cameras=1&t=2026-11-23T10:00:00Z&span=7200").await;
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let page = r.text().await.unwrap();
    for want in [
        "data-cameras=\"1\"",
        "data-t=\"2026-11-23T10:00:00.000Z\"",
        "data-span=\"7200\"",
        "src=\"/static/timeline.js\"",
        "class=\"lane\" data-camera-id=\"1\"",
        "<figure class=\"player\" data-camera-id=\"1\" data-name=\"Door\">",
        "aria-current=\"page\"",
    ] {
        assert!(page.contains(want), "{want} not in {page}");
    }
    assert!(!page.contains("<script>") && !page.contains("style=\""));
    // The administrator template sees bookmarks but does not make them.
    assert!(page.contains("data-bookmarks=\"1\""));
    assert!(!page.contains("id=\"bookmark-button\""));
    // Without cameras: the picker with the cameras one may play back.
    let page = get("/playback").await.text().await.unwrap();
    assert!(page.contains("<details class=\"camera-picker\" id=\"camera-picker\" open>"));
    assert!(page.contains("name=\"camera\" value=\"1\""));
    assert!(!page.contains("id=\"players\""));
    // Bad queries are 400 JSON errors; an unknown camera 404.
    for bad in [
        "/playback?cameras=1,1",
        "/playback?cameras=1,2,3,4,5",
        "/playback?cameras=one",
        "/playback?cameras=1&t=noon",
        "/playback?cameras=1&span=60",
    ] {
        assert_eq!(
            error_code(get(bad).await).await.0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    assert_eq!(
        error_code(get("/playback?cameras=1,9").await).await.0,
        StatusCode::NOT_FOUND
    );
    // The old address is sent on to the page.
    let r = get("/cameras/1/playback").await;
    assert!(r.status().is_redirection());
    assert_eq!(r.headers()["location"], "/playback?cameras=1");
    assert_eq!(
        error_code(get("/cameras/9/playback").await).await.0,
        StatusCode::NOT_FOUND
    );
    // Someone who may play nothing back gets 403, with or without cameras.
    let (auditor, _) = login_as(&s, "ines.audit").await;
    for path in ["/playback", "/playback?cameras=1", "/cameras/1/playback"] {
        let r = auditor
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(error_code(r).await.0, StatusCode::FORBIDDEN, "{path}");
    }
}
