//! Normal use of `veil demo` for ten minutes raises no breach candidate.
//!
//! The demo runs on the wall clock with its periodic breach scan (every
//! minute). An operator works the cameras: lists them, reads the recorded
//! runs and plays the latest 20 seconds every 20 seconds, and signs in
//! again every two minutes, mistyping the password once each time. An
//! investigator exports a clip once, after a data-protection officer
//! approved it (four-eyes), and downloads it. The officer reads the desk
//! and the breach candidates every minute; the administrator reads the
//! access record for the playbacks. At the end the register holds no
//! candidate, open or otherwise, and the access record holds the
//! playbacks, so the quiet is not for want of use.
//!
//! The thresholds this stays under are in `veil_audit::signals` and
//! `docs/design/dpo-desk.md`; `crates/veil-web/tests/breaches.rs` raises
//! each signal with a scripted scenario.

mod common;

use std::time::{Duration, Instant};

use common::api::Api;
use common::webdriver::Res;
use common::Demo;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// How long the demo is used.
const QUIET: Duration = Duration::from_secs(10 * 60);
/// One round of the operator's work.
const TICK: Duration = Duration::from_secs(20);

const OPERATOR: &str = "olga.operator";
const INVESTIGATOR: &str = "ivo.investigator";
const DPO: &str = "dario.dpo";
const PASSWORD: &str = "a long everyday password 7";

/// An account with `roles`, its own password, a second factor when its
/// roles need one, and the usage policy acknowledged.
async fn account(demo: &Demo, admin: &Api, name: &str, roles: &[&str], totp: bool) -> Res<Api> {
    let first = admin.create_user(name, roles).await?;
    let s = Api::first_login(demo, name, &first, PASSWORD).await?;
    if totp {
        s.enrol_totp().await?;
    }
    s.acknowledge_policy().await?;
    Ok(s)
}

fn rfc(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Camera 1's latest recorded run in the last 15 minutes: its start and
/// end.
async fn latest_run(
    s: &Api,
) -> Res<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> {
    let now = chrono::Utc::now();
    let v = s
        .send(
            Method::GET,
            &format!(
                "api/v1/cameras/1/recordings?start={}&end={}",
                rfc(now - chrono::Duration::minutes(15)),
                rfc(now)
            ),
            None,
            StatusCode::OK,
        )
        .await?;
    let run = v["recordings"].as_array().and_then(|runs| runs.last());
    let t = |k: &str| {
        run.and_then(|r| r[k].as_str())
            .and_then(|x| chrono::DateTime::parse_from_rfc3339(x).ok())
            .map(|x| x.with_timezone(&chrono::Utc))
    };
    match (t("start"), t("end")) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(format!("no recorded run: {v}")),
    }
}

/// The last 20 seconds camera 1 recorded (ending 5 s before its latest
/// run's end), as RFC 3339 start and end.
async fn latest_clip(s: &Api) -> Res<(String, String)> {
    let (_, end) = latest_run(s).await?;
    let end = end - chrono::Duration::seconds(5);
    Ok((rfc(end - chrono::Duration::seconds(20)), rfc(end)))
}

/// Ok once camera 1's latest run is at least `seconds` long.
async fn recorded_for(s: &Api, seconds: i64) -> Res<()> {
    let (start, end) = latest_run(s).await?;
    if (end - start).num_seconds() >= seconds {
        Ok(())
    } else {
        Err(format!("camera 1's latest run is shorter than {seconds} s"))
    }
}

/// The breach candidates (any status), through the officer's session.
async fn candidates(dpo: &Api) -> Res<Vec<Value>> {
    let v = dpo
        .send(
            Method::GET,
            "api/v1/breach-candidates",
            None,
            StatusCode::OK,
        )
        .await?;
    Ok(v["items"].as_array().cloned().unwrap_or_default())
}

/// One export of camera 1's latest clip: asked for, approved by the
/// officer, written and downloaded.
async fn export_once(inv: &Api, dpo: &Api) -> Res<()> {
    let asked = inv
        .send(
            Method::POST,
            "api/v1/approvals",
            Some(json!({ "permission": "export", "resource": "camera:1",
                         "justification": "Police request 2026/204 for the entrance" })),
            StatusCode::CREATED,
        )
        .await?;
    dpo.send(
        Method::POST,
        &format!("api/v1/approvals/{}/decision", asked["id"]),
        Some(json!({ "approve": true, "note": "The police request is on file" })),
        StatusCode::OK,
    )
    .await?;
    let (start, end) = latest_clip(inv).await?;
    let created = inv
        .send(
            Method::POST,
            "api/v1/exports",
            Some(json!({
                "cameras": [1], "start": start, "end": end,
                "requester": {"name": "Ana Silva", "title": "Chief inspector",
                              "organisation": "Polícia de Segurança Pública", "country": "PT"},
                "reason": "Investigation of a theft at the entrance, case 2026/204",
                "passphrase": "a long package passphrase for the police",
            })),
            StatusCode::CREATED,
        )
        .await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let job = inv
            .send(
                Method::GET,
                &format!("api/v1/exports/{}", created["id"]),
                None,
                StatusCode::OK,
            )
            .await?;
        match job["state"].as_str() {
            Some("done") => break,
            Some("failed") => return Err(format!("the export failed: {job}")),
            _ if Instant::now() > deadline => return Err(format!("export not done: {job}")),
            _ => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
    let (status, bytes) = inv
        .bytes(&format!("api/v1/exports/{}/download", created["id"]))
        .await?;
    if status != StatusCode::OK || bytes.is_empty() {
        return Err(format!("download: {status}, {} bytes", bytes.len()));
    }
    Ok(())
}

async fn scenario(demo: &Demo) -> Res<()> {
    let admin = Api::login_demo(demo).await?;
    let mut op = account(demo, &admin, OPERATOR, &["operator"], false).await?;
    let inv = account(demo, &admin, INVESTIGATOR, &["investigator"], true).await?;
    let dpo = account(demo, &admin, DPO, &["dpo"], true).await?;
    // The demo's camera records for half a minute before the day starts.
    let deadline = Instant::now() + Duration::from_secs(120);
    while let Err(e) = recorded_for(&admin, 30).await {
        if Instant::now() > deadline {
            return Err(e);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let started = Instant::now();
    let mut round = 0u32;
    let mut exported = false;
    let mut playbacks_seen = 0usize;
    while started.elapsed() < QUIET {
        round += 1;
        op.send(Method::GET, "api/v1/cameras", None, StatusCode::OK)
            .await?;
        let (start, end) = latest_clip(&op).await?;
        let (status, video) = op
            .bytes(&format!(
                "api/v1/cameras/1/video.mp4?start={start}&end={end}"
            ))
            .await?;
        if status != StatusCode::OK || video.is_empty() {
            return Err(format!("playback {start}..{end}: {status}"));
        }
        // Every two minutes: a new sign-in, the first attempt mistyped.
        if round.is_multiple_of(6) {
            let typo = Api::login(demo, OPERATOR, "a long everyday pasword 7").await;
            if typo.is_ok() {
                return Err("a mistyped password signed in".into());
            }
            // A person reads the message and types again (the throttle
            // makes a second attempt within a second wait).
            tokio::time::sleep(Duration::from_secs(3)).await;
            op = Api::login(demo, OPERATOR, PASSWORD).await?;
        }
        // Every minute: the officer reads the desk and the candidates.
        if round.is_multiple_of(3) {
            dpo.send(Method::GET, "api/v1/dpo", None, StatusCode::OK)
                .await?;
            let found = candidates(&dpo).await?;
            if !found.is_empty() {
                return Err(format!(
                    "normal use raised breach candidates after {:?}: {found:?}",
                    started.elapsed()
                ));
            }
        }
        if !exported && started.elapsed() > Duration::from_secs(180) {
            export_once(&inv, &dpo).await?;
            exported = true;
        }
        let read = admin
            .send(
                Method::GET,
                "api/v1/audit?action=playback&limit=500",
                None,
                StatusCode::OK,
            )
            .await?;
        playbacks_seen = playbacks_seen.max(read["items"].as_array().map_or(0, Vec::len));
        tokio::time::sleep(TICK).await;
    }
    if !exported {
        return Err("the export never ran".into());
    }
    if playbacks_seen == 0 {
        return Err("no playback reached the access record".into());
    }
    let found = candidates(&dpo).await?;
    if !found.is_empty() {
        return Err(format!("ten minutes of normal use raised: {found:?}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_minutes_of_normal_demo_use_raise_no_breach_candidate() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Demo::start(&dir.path().join("data"), 1, &[]);
    if let Err(e) = scenario(&demo).await {
        panic!("{e}\n--- veil demo output ---\n{}", demo.output());
    }
}
