//! `GET /metrics` of `veil demo`, read with an API token whose role carries
//! only `metrics.read`, parsed by an independent parser (Python's
//! `prometheus_client`): every camera's frame counter rises between two
//! reads, segments are being written, and no label value holds the account
//! name.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use common::{client, Demo};

/// Parses `text` with `prometheus_client.parser.text_string_to_metric_families`
/// and returns every sample as `{"name", "labels", "value", "family",
/// "type"}`.
fn parse(text: &str) -> Vec<Value> {
    const SCRIPT: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for fam in text_string_to_metric_families(sys.stdin.read()):
    if not fam.documentation:
        raise SystemExit("family %s has no HELP" % fam.name)
    for s in fam.samples:
        out.append({"family": fam.name, "type": fam.type, "name": s.name,
                    "labels": s.labels, "value": s.value})
json.dump(out, sys.stdout)
"#;
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 must be installed (with the pip package prometheus-client)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'prometheus_client'"),
        "the pip package prometheus-client must be installed (scripts/test installs it)"
    );
    assert!(
        out.status.success(),
        "prometheus_client refused the text: {stderr}\n{text}"
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn sample<'a>(samples: &'a [Value], name: &str, labels: &[(&str, &str)]) -> &'a Value {
    samples
        .iter()
        .find(|s| s["name"] == name && labels.iter().all(|(k, v)| s["labels"][*k] == *v))
        .unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
}

fn value(samples: &[Value], name: &str, labels: &[(&str, &str)]) -> f64 {
    sample(samples, name, labels)["value"].as_f64().unwrap()
}

#[tokio::test]
async fn metrics_parse_and_frame_counters_rise() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Demo::start(&dir.path().join("data"), 2, &[]);
    let c = client();
    let r = c
        .post(demo.at("api/v1/session"))
        .json(&json!({"username": demo.user, "password": demo.password.as_deref().unwrap()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "login");
    let csrf = r.json::<Value>().await.unwrap()["csrf"]
        .as_str()
        .unwrap()
        .to_owned();

    // A role that may read the figures and nothing else, held by the demo
    // account, and a token carrying only that role.
    let r = c
        .put(demo.at("api/v1/roles/metrics-reader"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"grants": [{"permission": "metrics.read", "scope": {"kind": "all"}}]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "role: {}", r.text().await.unwrap());
    let users: Value = c
        .get(demo.at("api/v1/users"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let me = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == demo.user.as_str())
        .expect("the demo account is listed")
        .clone();
    let mut roles: Vec<Value> = me["roles"].as_array().unwrap().clone();
    roles.push(json!("metrics-reader"));
    let r = c
        .put(demo.at(&format!("api/v1/users/{}", me["id"].as_str().unwrap())))
        .header("x-csrf-token", &csrf)
        .json(&json!({"roles": roles}))
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "roles: {}",
        r.text().await.unwrap()
    );
    let r = c
        .post(demo.at("api/v1/tokens"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "scraper", "roles": ["metrics-reader"], "expires_in_days": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "token");
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let scraper = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let read = || async {
        let r = scraper
            .get(demo.at("metrics"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        r.text().await.unwrap()
    };
    // The token's role carries nothing else.
    let r = scraper
        .get(demo.at("api/v1/cameras"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let cameras: Vec<String> = c
        .get(demo.at("api/v1/cameras"))
        .send()
        .await
        .unwrap()
        .json::<Vec<Value>>()
        .await
        .unwrap()
        .iter()
        .map(|cam| cam["id"].to_string())
        .collect();
    assert_eq!(cameras.len(), 2);

    let first_text = read().await;
    let first = parse(&first_text);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let second_text = read().await;
    let second = parse(&second_text);
    for cam in &cameras {
        let labels = [("camera", cam.as_str())];
        let a = value(&first, "veil_camera_frames_total", &labels);
        let b = value(&second, "veil_camera_frames_total", &labels);
        assert!(b > a, "camera {cam}: frames did not rise ({a} then {b})");
        assert!(value(&second, "veil_camera_bytes_total", &labels) > 0.0);
        assert!(value(&second, "veil_camera_frames_per_second", &labels) > 0.0);
        assert_eq!(
            value(
                &second,
                "veil_camera_state",
                &[("camera", cam.as_str()), ("state", "recording")]
            ),
            1.0
        );
        assert_eq!(
            sample(&second, "veil_camera_frames_total", &labels)["type"],
            "counter"
        );
    }
    assert!(value(&second, "veil_data_dir_free_bytes", &[]) > 0.0);
    assert_eq!(
        sample(
            &second,
            "veil_segment_write_duration_seconds_bucket",
            &[("le", "+Inf")]
        )["type"],
        "histogram"
    );
    assert!(
        value(
            &second,
            "veil_access_record_append_duration_seconds_count",
            &[]
        ) > 0.0
    );
    assert_eq!(value(&second, "veil_access_record_up", &[]), 1.0);
    for reason in ["password", "second_factor", "locked"] {
        value(&second, "veil_login_failures_total", &[("reason", reason)]);
    }
    // No label value names the account.
    for s in first.iter().chain(&second) {
        for (k, v) in s["labels"].as_object().unwrap() {
            assert!(
                !v.as_str().unwrap().contains(demo.user.as_str()),
                "label {k} of {} holds the account name",
                s["name"]
            );
        }
    }
    assert!(!second_text.contains(demo.user.as_str()));
}
