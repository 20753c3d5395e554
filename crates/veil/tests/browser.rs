//! End-to-end test of the web UI in headless Chromium, driven through
//! chromedriver with the W3C WebDriver protocol: login, live view, playback.
//!
//! Requires Debian's `chromium` and `chromium-driver` packages; the test
//! fails (it does not skip) when they are missing.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::api::{add_user_cli, demo_password, Api};
use common::browser::{
    check_console, replace_one_time_password, run_in_chromium, sign_in, submit_login,
    wait_for_path, wait_past_login, CSP,
};
use common::webdriver::{wait_for, Driver, Res};
use common::Demo;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const LIVE_STATE: &str = "const v = document.querySelector('video.live[data-camera-id]'); \
    if (!v) return null; \
    return { t: v.currentTime, state: v.dataset.state || '', ready: v.readyState, \
      error: v.error ? v.error.code + ' ' + v.error.message : null, \
      latency: v.dataset.liveStart ? Date.now() / 1000 - (parseFloat(v.dataset.liveStart) + v.currentTime) : null, \
      buffered: v.buffered.length ? [v.buffered.start(0), v.buffered.end(v.buffered.length - 1)] : [] };";

const PLAYBACK_STATE: &str = "const v = document.querySelector('video.playback-video'); \
    return { t: v.currentTime, src: v.src, ready: v.readyState, paused: v.paused, \
      error: v.error ? v.error.code + ' ' + v.error.message : null, \
      message: document.getElementById('playback-error').textContent, \
      timeline: document.getElementById('timeline-status').textContent, \
      runs: document.querySelectorAll('#timeline .run').length };";

const AUDIT_ROWS: &str = "const t = document.getElementById('audit-entries'); \
    if (!t) return null; \
    return Array.from(t.querySelectorAll('tbody tr')).map((r) => Array.from(r.cells).map((c) => c.textContent));";

/// The access record (the demo account is also an auditor): reached from the
/// navigation, it lists the playback by the user's name; the filter form
/// narrows it; the report opens; then back to the record.
async fn access_record(driver: &Driver, demo: &Demo) -> Res<()> {
    let link = driver.find("nav a[href='/audit']").await?;
    driver.click(&link).await?;
    let has_playback = |v: &Value, all: bool| {
        let rows = v.as_array().map(Vec::as_slice).unwrap_or_default();
        let is_playback =
            |r: &Value| r[3] == "playback" && r[2].as_str().is_some_and(|a| a.contains(&demo.user));
        !rows.is_empty()
            && if all {
                rows.iter().all(is_playback)
            } else {
                rows.iter().any(is_playback)
            }
    };
    wait_for(
        driver,
        "the access record to list the playback",
        Duration::from_secs(10),
        AUDIT_ROWS,
        |v| has_playback(v, false),
    )
    .await?;
    driver
        .exec(
            "document.getElementById('action').value = 'playback'; \
             document.getElementById('audit-filter').submit(); return null;",
            json!([]),
        )
        .await?;
    wait_for(
        driver,
        "only playback entries after filtering",
        Duration::from_secs(10),
        AUDIT_ROWS,
        |v| has_playback(v, true),
    )
    .await?;
    let report = driver.find("#report-html").await?;
    driver.click(&report).await?;
    wait_for(
        driver,
        "the report page",
        Duration::from_secs(10),
        "return Array.from(document.querySelectorAll('caption')).map((c) => c.textContent);",
        |v| {
            v.as_array()
                .is_some_and(|c| c.iter().any(|c| c == "Per user"))
        },
    )
    .await?;
    driver.goto(&demo.at("audit")).await?;
    Ok(())
}

/// Signs the demo's account in from the login page and waits for the live
/// grid.
async fn sign_in_to_cameras(driver: &Driver, demo: &Demo) -> Res<()> {
    sign_in(driver, demo).await?;
    wait_for_path(driver, "/cameras").await
}

async fn scenario(driver: &Driver, demo: &Demo, started: Instant) -> Res<()> {
    // Login.
    driver.goto(&demo.at("login")).await?;
    let password = demo_password(demo)?;
    // A wrong password shows an error and stays on the login page.
    let button = submit_login(driver, &demo.user, "definitely-not-the-password").await?;
    wait_for(
        driver,
        "the login error to show",
        Duration::from_secs(10),
        "const e = document.getElementById('login-error'); \
         return e && !e.hidden ? e.textContent : '';",
        |v| !v.as_str().unwrap_or_default().is_empty(),
    )
    .await?;
    // The script clears the password field after a failure.
    let pass = driver.find("#password").await?;
    driver.send_keys(&pass, &password).await?;
    driver.click(&button).await?;
    wait_past_login(driver).await?;
    wait_for_path(driver, "/cameras").await?;
    driver.find("video.live[data-camera-id]").await?;
    driver.find("#logout-button").await?;
    let camera_id = driver
        .exec(
            "return document.querySelector('video.live[data-camera-id]').dataset.cameraId;",
            json!([]),
        )
        .await?;
    let camera_id = camera_id
        .as_str()
        .ok_or("data-camera-id is not a string")?
        .to_string();

    // Live view: playing and advancing.
    let first = wait_for(
        driver,
        "the live video to start playing",
        Duration::from_secs(20),
        LIVE_STATE,
        |v| v["t"].as_f64().unwrap_or(0.0) > 0.0,
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let second = driver.exec(LIVE_STATE, json!([])).await?;
    let (t1, t2) = (
        first["t"].as_f64().unwrap_or(0.0),
        second["t"].as_f64().unwrap_or(0.0),
    );
    if t2 <= t1 {
        return Err(format!(
            "live video is not advancing: {first} then, 1 s later, {second}"
        ));
    }
    // Latency: wall clock now minus the wall-clock time of the frame shown.
    let latency = second["latency"]
        .as_f64()
        .ok_or_else(|| format!("the live player did not expose its start time: {second}"))?;
    eprintln!("live latency {latency:.3} s; {first} -> {second}");
    if !(0.0..3.0).contains(&latency) {
        return Err(format!(
            "live latency {latency:.3} s is not under 3 s: {second}"
        ));
    }

    // Playback of what was recorded since the demo started.
    let recorded = started.elapsed();
    if recorded < Duration::from_secs(6) {
        tokio::time::sleep(Duration::from_secs(6) - recorded).await;
    }
    // The old per-camera address leads to the playback page; from there the
    // next recording's start plays.
    driver
        .goto(&demo.at(&format!("cameras/{camera_id}/playback")))
        .await?;
    wait_for(
        driver,
        "the playback page with the camera's recording on its timeline",
        Duration::from_secs(15),
        "return location.search + ' ' + document.querySelectorAll('#timeline .run').length;",
        |v| {
            v.as_str().is_some_and(|s| {
                s.starts_with(&format!("?cameras={camera_id}")) && !s.ends_with(" 0")
            })
        },
    )
    .await?;
    for id in [
        "#play-pause",
        "#next-recording",
        "#timeline",
        "video.playback-video",
    ] {
        driver.find(id).await?;
    }
    // The playhead opens five minutes ago, before the demo recorded anything.
    let next = driver.find("#next-recording").await?;
    driver.click(&next).await?;
    let play = driver.find("#play-pause").await?;
    driver.click(&play).await?;
    let state = wait_for(
        driver,
        "the recording to play past 0.5 s",
        Duration::from_secs(20),
        PLAYBACK_STATE,
        |v| v["t"].as_f64().unwrap_or(0.0) > 0.5,
    )
    .await?;
    eprintln!("playback: {state}");

    access_record(driver, demo).await?;

    // Nothing on the pages may violate the Content-Security-Policy.
    let console = check_console(driver, "live, playback and the access record", &[CSP]).await?;
    eprintln!("browser console:\n{console}");

    // Logout (a CSRF-protected DELETE, here from the access-record page)
    // returns to the login page, and the
    // session is gone: /cameras redirects to /login again.
    // The button is in the user menu: open it first.
    let menu = driver.find("#user-menu summary").await?;
    driver.click(&menu).await?;
    let logout = driver.find("#logout-button").await?;
    driver.click(&logout).await?;
    wait_for_path(driver, "/login")
        .await
        .map_err(|e| format!("logout did not return to /login: {e}"))?;
    driver.goto(&demo.at("cameras")).await?;
    let url = driver.current_url().await?;
    if !url.contains("/login") {
        return Err(format!(
            "after logout /cameras did not redirect to /login: {url}"
        ));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_live_and_playback_in_chromium() {
    let started = Instant::now();
    run_in_chromium(
        "login-live-playback",
        1,
        &["--segment-seconds", "2"],
        async |driver, demo| scenario(driver, demo, started).await,
    )
    .await;
}

/// A new account in Chromium: the one-time password is replaced on the login
/// page, the missing second factor sends the user to their account page, the
/// server-drawn QR code and key are shown, a code from the key confirms it,
/// the ten recovery codes appear once, and the cameras are then reachable.
async fn new_account(driver: &Driver, demo: &Demo) -> Res<()> {
    let first = add_user_cli(demo, "rita.nurse", "investigator")?;
    driver.goto(&demo.at("login")).await?;
    replace_one_time_password(driver, "rita.nurse", &first, "Rita's own long passphrase 7").await?;
    // A second factor is required: the account page.
    wait_for_path(driver, "/account").await?;
    let start = driver.find("#totp-start").await?;
    driver.click(&start).await?;
    let shown = wait_for(
        driver,
        "the QR code and key",
        Duration::from_secs(10),
        "const s = document.querySelector('#totp-qr svg'); \
         return s ? document.getElementById('totp-secret').textContent : '';",
        |v| !v.as_str().unwrap_or_default().is_empty(),
    )
    .await?;
    let secret = veil_access::totp::TotpSecret::from_base32(shown.as_str().unwrap_or_default())
        .ok_or("the shown key is not base32")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs() as i64;
    let code = driver.find("#totp-code").await?;
    driver
        .send_keys(
            &code,
            &format!("{:06}", veil_access::totp::code_at(&secret, now)),
        )
        .await?;
    let confirm = driver.find("#totp-confirm").await?;
    driver.click(&confirm).await?;
    wait_for(
        driver,
        "ten recovery codes",
        Duration::from_secs(10),
        "return document.querySelectorAll('#totp-codes li').length;",
        |v| v == &json!(10),
    )
    .await?;
    driver.goto(&demo.at("cameras")).await?;
    wait_for(
        driver,
        "the cameras page",
        Duration::from_secs(10),
        "return location.pathname + ' ' + document.querySelectorAll('video.live').length;",
        |v| v == "/cameras 1",
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_account_sets_its_password_and_second_factor_in_chromium() {
    run_in_chromium("new-account", 1, &[], new_account).await;
}

/// A camera whose stream has B-frames (High profile, frames sent in decode
/// order) plays live in Chromium's Media Source Extensions: it advances, shows
/// no media error and Chromium decodes the frames it receives.
async fn b_frame_live(driver: &Driver, demo: &Demo, rtsp_url: &str) -> Res<()> {
    // Add the camera over the API.
    let body = Api::login_demo(demo)
        .await?
        .send(
            Method::POST,
            "api/v1/cameras",
            Some(json!({"name": "Loading bay (B-frames)", "url": rtsp_url})),
            StatusCode::CREATED,
        )
        .await
        .map_err(|e| format!("camera not created: {e}"))?;
    let id = body["id"].as_i64().ok_or(format!("no id in {body}"))?;

    sign_in_to_cameras(driver, demo).await?;
    let state = format!(
        "const v = document.querySelector('video.live[data-camera-id=\"{id}\"]'); \
         if (!v) return null; const q = v.getVideoPlaybackQuality(); \
         return {{ t: v.currentTime, error: v.error ? v.error.code + ' ' + v.error.message : null, \
           frames: q.totalVideoFrames, dropped: q.droppedVideoFrames, \
           corrupted: q.corruptedVideoFrames || 0 }};"
    );
    let first = wait_for(
        driver,
        "the B-frame camera to play live",
        Duration::from_secs(30),
        &state,
        |v| v["t"].as_f64().unwrap_or(0.0) > 2.0 || !v["error"].is_null(),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let second = driver.exec(&state, json!([])).await?;
    let (t1, t2) = (
        first["t"].as_f64().unwrap_or(0.0),
        second["t"].as_f64().unwrap_or(0.0),
    );
    let frames = second["frames"].as_f64().unwrap_or(0.0);
    if !second["error"].is_null() || t2 < t1 + 1.0 || frames < 25.0 * t2 * 0.8 {
        return Err(format!(
            "the B-frame camera does not play cleanly: {first}, then 2 s later {second}"
        ));
    }
    if second["corrupted"].as_f64().unwrap_or(0.0) > 0.0 {
        return Err(format!("Chromium reports corrupted frames: {second}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_view_of_a_b_frame_camera_in_chromium() {
    let data = tempfile::tempdir().expect("tempdir");
    let clip = data.path().join("b-frames.mp4");
    let made = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25",
            "-t",
            "40",
        ])
        .args([
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-profile:v",
            "high",
            "-g",
            "25",
        ])
        .args(["-bf", "3", "-b_strategy", "0"])
        .arg(&clip)
        .status()
        .expect("ffmpeg (Debian package ffmpeg) is needed");
    assert!(made.success(), "ffmpeg could not make the clip");
    let (_server, url) = common::rtsp_server(&clip, &[]);
    run_in_chromium("b-frame-live", 1, &[], async |driver, demo| {
        b_frame_live(driver, demo, &url).await
    })
    .await;
}

/// The rows of the camera settings table: `[name, source, group, recording,
/// audio and metadata, status]` and the row's id.
const CAMERA_ROWS: &str =
    "return Array.from(document.querySelectorAll('#camera-rows tr')).map((r) => \
    ({ id: r.id, cells: Array.from(r.cells).slice(0, 6).map((c) => c.textContent) }));";

/// The camera settings page's script, as an administrator uses it: adding a
/// camera with a mistake shows the server's 400 message in the form, adding it
/// right lists it, "Edit" fills the form and saving changes it, "Delete"
/// (confirmed) removes it.
async fn camera_settings(driver: &Driver, demo: &Demo) -> Res<()> {
    sign_in_to_cameras(driver, demo).await?;
    driver.goto(&demo.at("admin/cameras")).await?;
    wait_for(
        driver,
        "the configuration file's camera listed",
        Duration::from_secs(15),
        CAMERA_ROWS,
        |v| v.as_array().is_some_and(|rows| rows.len() == 1),
    )
    .await?;
    let type_into = |id: &'static str, text: &'static str| async move {
        let e = driver.find(id).await?;
        driver.clear(&e).await?;
        driver.send_keys(&e, text).await
    };
    type_into("#cam-name", "Gate").await?;
    type_into("#cam-url", "rtsp://127.0.0.1:9/gate").await?;
    // Audio without a purpose: the server's 400 is shown in the form.
    driver.click(&driver.find("#cam-audio").await?).await?;
    driver
        .click(&driver.find("#camera-add-button").await?)
        .await?;
    let shown = wait_for(
        driver,
        "the 400 message in the form",
        Duration::from_secs(10),
        "const e = document.getElementById('camera-form-error'); return e.hidden ? '' : e.textContent;",
        |v| !v.as_str().unwrap_or_default().is_empty(),
    )
    .await?;
    if !shown.as_str().unwrap_or_default().contains("audio.purpose") {
        return Err(format!(
            "the form shows {shown}, not the audio purpose error"
        ));
    }
    driver.click(&driver.find("#cam-audio").await?).await?;
    driver
        .click(&driver.find("#camera-add-button").await?)
        .await?;
    let rows = wait_for(
        driver,
        "the new camera listed",
        Duration::from_secs(15),
        CAMERA_ROWS,
        |v| v.to_string().contains("\"Gate\""),
    )
    .await?;
    let row = rows
        .as_array()
        .and_then(|r| r.iter().find(|r| r["cells"][0] == "Gate"))
        .ok_or("no Gate row")?;
    let id = row["id"]
        .as_str()
        .and_then(|i| i.strip_prefix("camera-row-"))
        .ok_or("row without id")?
        .to_owned();
    // Edit: the form takes the camera's settings; saving changes it.
    driver
        .click(&driver.find(&format!("#camera-edit-{id}")).await?)
        .await?;
    let title = driver
        .exec(
            "return document.getElementById('camera-form-title').textContent;",
            json!([]),
        )
        .await?;
    if title != "Change camera Gate" {
        return Err(format!("edit form title: {title}"));
    }
    let url = driver
        .exec(
            "return document.getElementById('cam-url').value;",
            json!([]),
        )
        .await?;
    if url != "rtsp://127.0.0.1:9/gate" {
        return Err(format!("the edit form holds url {url}"));
    }
    type_into("#cam-group", "yard").await?;
    driver
        .click(&driver.find("#camera-add-button").await?)
        .await?;
    wait_for(
        driver,
        "the changed group listed",
        Duration::from_secs(15),
        CAMERA_ROWS,
        |v| {
            v.as_array().is_some_and(|rows| {
                rows.iter()
                    .any(|r| r["cells"][0] == "Gate" && r["cells"][2] == "yard")
            })
        },
    )
    .await?;
    let title = driver
        .exec(
            "return document.getElementById('camera-form-title').textContent;",
            json!([]),
        )
        .await?;
    if title != "Add an RTSP camera" {
        return Err(format!("after saving the form title is {title}"));
    }
    // Delete, confirmed in the browser's dialog.
    driver
        .click(&driver.find(&format!("#camera-delete-{id}")).await?)
        .await?;
    driver.accept_alert().await?;
    wait_for(
        driver,
        "the camera gone from the list",
        Duration::from_secs(15),
        CAMERA_ROWS,
        |v| v.as_array().is_some_and(|rows| rows.len() == 1),
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_settings_add_edit_and_delete_in_chromium() {
    run_in_chromium("camera-settings", 1, &[], camera_settings).await;
}

/// The four-eyes settings page: each approvable permission with whether a
/// route enforces it today; unchecking one and saving changes the setting.
async fn four_eyes_settings(driver: &Driver, demo: &Demo) -> Res<()> {
    sign_in_to_cameras(driver, demo).await?;
    driver.goto(&demo.at("admin/four-eyes")).await?;
    let state =
        "return ['export', 'masks.lift', 'recordings.delete', 'locks.release'].map((p) => ({ \
        p, checked: document.getElementById('four-eyes-' + p).checked, \
        enforced: document.getElementById('four-eyes-enforced-' + p).textContent }));";
    let shown = wait_for(
        driver,
        "the four permissions with their enforcement",
        Duration::from_secs(10),
        state,
        |v| {
            // Releasing a lock, lifting masks and export consume their
            // approval at their routes; deleting recordings has no route yet.
            v.as_array().is_some_and(|rows| {
                rows.iter().all(|r| {
                    let enforced = r["enforced"].as_str().unwrap_or("");
                    r["checked"] == true
                        && if r["p"] == "locks.release"
                            || r["p"] == "masks.lift"
                            || r["p"] == "export"
                        {
                            enforced == "enforced"
                        } else {
                            enforced.starts_with("not enforced yet")
                        }
                })
            })
        },
    )
    .await?;
    eprintln!("four-eyes page: {shown}");
    driver
        .click(&driver.find("#four-eyes-export").await?)
        .await?;
    driver.click(&driver.find("#four-eyes-save").await?).await?;
    wait_for(
        driver,
        "export no longer needing approval",
        Duration::from_secs(10),
        state,
        |v| {
            v[0]["checked"] == false
                && v[0]["enforced"] == "not required"
                && v[1]["checked"] == true
        },
    )
    .await?;
    // The server holds the change, not only the page.
    let set = driver
        .exec(
            "const r = await fetch('/api/v1/settings/four-eyes'); return (await r.json()).permissions;",
            json!([]),
        )
        .await?;
    if set != json!(["masks.lift", "recordings.delete", "locks.release"]) {
        return Err(format!("the server's set is {set}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_eyes_settings_in_chromium() {
    run_in_chromium("four-eyes-settings", 1, &[], four_eyes_settings).await;
}
