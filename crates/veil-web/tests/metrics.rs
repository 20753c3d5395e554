//! The operating figures over HTTPS: `GET /metrics` and `GET /api/v1/system`
//! answer holders of `metrics.read` only, by session cookie or API token;
//! the text has HELP and TYPE for every family, counts login failures by
//! reason and carries no name in any label.

mod common;

use reqwest::StatusCode;

use common::*;

/// Every sample line's metric name has a `# TYPE` line before it, and every
/// family a `# HELP`; returns the sample lines.
fn checked_samples(text: &str) -> Vec<String> {
    let mut typed = std::collections::HashMap::new();
    let mut helped = std::collections::HashSet::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.insert(rest.split(' ').next().unwrap().to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            typed.insert(name.to_owned(), kind.to_owned());
        } else {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(name.starts_with("veil_"), "{line}");
            let family = typed
                .keys()
                .find(|f| {
                    name == f.as_str()
                        || (typed[*f] == "histogram"
                            && ["_bucket", "_sum", "_count"]
                                .iter()
                                .any(|s| name == format!("{f}{s}")))
                })
                .unwrap_or_else(|| panic!("no TYPE before {line}"));
            assert!(helped.contains(family), "no HELP for {family}");
            let value = line.rsplit(' ').next().unwrap();
            assert!(
                value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
                "{line}"
            );
            samples.push(line.to_owned());
        }
    }
    samples
}

fn value_of(text: &str, sample: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{sample} missing from\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn metrics_need_metrics_read_by_session_or_token() {
    let s = start().await;
    // A failed login, counted by reason and never by name.
    let r = post_session(&client(), &s, "alice.martin", "wrong password").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Anonymous scrapers get a JSON 401, not the login page.
    let anon = client();
    for path in ["/metrics", "/api/v1/system"] {
        let r = get(&anon, &s, path).await;
        assert_eq!(
            error_code(r).await,
            (StatusCode::UNAUTHORIZED, "unauthenticated".into())
        );
    }
    assert_eq!(status_of(&anon, &s, "/system").await, StatusCode::SEE_OTHER);
    let r = get_with_token(&anon, &s, "/metrics", "veil_nonsense").await;
    assert_eq!(
        error_code(r).await,
        (StatusCode::UNAUTHORIZED, "bad_token".into())
    );

    // The auditor holds no metrics.read: refused by session and by token.
    let (aud, aud_csrf) = login_as(&s, "ines.audit").await;
    for path in ["/metrics", "/api/v1/system", "/system"] {
        assert_eq!(
            status_of(&aud, &s, path).await,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let aud_token = create_token(&s, &aud, &aud_csrf, "scraper", &["auditor"]).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let bot = client();
    let r = get_with_token(&bot, &s, "/metrics", &aud_token).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The administrator holds it: allowed by session and by a token whose
    // role carries it.
    let (admin, csrf) = login(&s).await;
    let r = get(&admin, &s, "/metrics").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let token = create_token(&s, &admin, &csrf, "scraper", &["administrator"]).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = get_with_token(&bot, &s, "/metrics", &token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    let samples = checked_samples(&text);
    assert!(!text.contains("alice"), "a name in the metrics:\n{text}");
    assert!(!text.contains("ines"), "a name in the metrics:\n{text}");
    assert!(!text.contains("127.0.0.1"), "an address in the metrics");
    assert_eq!(
        value_of(&text, "veil_login_failures_total{reason=\"password\"}"),
        1.0
    );
    assert_eq!(
        value_of(&text, "veil_login_failures_total{reason=\"locked\"}"),
        0.0
    );
    // The harness stored three segments of 4 s before serving.
    assert_eq!(
        value_of(&text, "veil_segment_write_duration_seconds_count"),
        3.0
    );
    assert_eq!(
        value_of(
            &text,
            "veil_segment_write_duration_seconds_bucket{le=\"+Inf\"}"
        ),
        3.0
    );
    assert!(value_of(&text, "veil_data_dir_segment_bytes") > 0.0);
    assert!(value_of(&text, "veil_data_dir_free_bytes") > 0.0);
    assert!(value_of(&text, "veil_access_record_append_duration_seconds_count") >= 2.0);
    assert_eq!(value_of(&text, "veil_access_record_up"), 1.0);
    let cam = s.camera.0;
    // Camera 1 is synthetic with no live frames in this harness: stopped.
    assert_eq!(
        value_of(
            &text,
            &format!("veil_camera_state{{camera=\"{cam}\",state=\"stopped\"}}")
        ),
        1.0
    );
    assert_eq!(
        samples
            .iter()
            .filter(|l| l.starts_with("veil_camera_state{"))
            .count(),
        5
    );

    // The page's JSON, and the page itself.
    let v: serde_json::Value = get_with_token(&bot, &s, "/api/v1/system", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["cameras"][0]["id"], cam);
    assert_eq!(v["cameras"][0]["name"], "Door");
    assert!(v["disk"]["used_bytes"].as_u64().unwrap() > 0);
    assert_eq!(v["disk"]["days_left"], serde_json::Value::Null);
    assert_eq!(v["access_record"]["state"], "ok");
    let page = get(&admin, &s, "/system").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("/static/system.js"));
    assert!(html.contains("id=\"system-camera-rows\""));
}
