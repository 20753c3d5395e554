//! The playback page in headless Chromium against `veil demo` with two
//! synthetic cameras and twelve minutes of back-filled recording: a click
//! ten minutes into a run shows the frame whose burned-in clock is that
//! time; two cameras played together stay within half a second of each
//! other; a bookmark made on the page shows on the timeline and jumps
//! playback to its time; the page's URL opens the same cameras, time and
//! zoom in a fresh page.
//!
//! Requires Debian's `chromium` and `chromium-driver` packages; the test
//! fails (it does not skip) when they are missing.

mod common;

use std::time::Duration;

use common::webdriver::{wait_for, Driver, Res};
use common::Demo;
use serde_json::{json, Value};

/// The text each synthetic frame carries: `YYYY-MM-DD HH:MM:SS.mmm #NNNNNN`.
const OVERLAY_CHARS: usize = 31;
/// The synthetic cameras' GOP (a keyframe every 50 frames at 25 fps).
const GOP_S: f64 = 2.0;

/// Per player: state, the wall time it shows (ms) and the top rows of its
/// picture's luma (for the burned-in clock).
const PLAYERS: &str = "return Array.from(document.querySelectorAll('#players .player')).map((f) => { \
    const v = f.querySelector('video'); \
    const start = f.dataset.mediaStart ? Number(f.dataset.mediaStart) : null; \
    let luma = null; \
    if (v.readyState >= 2 && v.videoWidth > 0) { \
      const rows = Math.ceil(v.videoHeight / 6); \
      const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = rows; \
      const g = c.getContext('2d'); g.drawImage(v, 0, 0); \
      const d = g.getImageData(0, 0, c.width, rows).data; luma = new Array(d.length / 4); \
      for (let i = 0, j = 0; i < d.length; i += 4, j++) luma[j] = Math.round(0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2]); \
    } \
    return { id: f.dataset.cameraId, state: f.dataset.state || '', ready: v.readyState, \
      seeking: v.seeking, paused: v.paused, t: v.currentTime, \
      wall: start === null ? null : start + v.currentTime * 1000, \
      w: v.videoWidth, h: v.videoHeight, luma }; });";

const PLAYHEAD: &str = "const o = document.getElementById('playhead-time'); \
    return o && o.dataset.time ? Date.parse(o.dataset.time) : null;";

/// The burned-in clock of a player's picture, in ms since the epoch.
fn burned_in(p: &Value) -> Res<f64> {
    let (w, h) = (
        p["w"].as_u64().unwrap_or(0) as usize,
        p["h"].as_u64().unwrap_or(0) as usize,
    );
    let luma: Vec<u8> = p["luma"]
        .as_array()
        .ok_or_else(|| format!("no picture from player {}", p["id"]))?
        .iter()
        .map(|v| v.as_u64().unwrap_or(0).min(255) as u8)
        .collect();
    let text = veil_media::synthetic::read_overlay(&luma, w, h, OVERLAY_CHARS)
        .ok_or_else(|| format!("the burned-in clock of player {} is unreadable", p["id"]))?;
    let stamp = text
        .split(" #")
        .next()
        .ok_or_else(|| format!("odd overlay {text:?}"))?;
    let t = chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S%.3f")
        .map_err(|e| format!("overlay {text:?}: {e}"))?;
    Ok(t.and_utc().timestamp_millis() as f64)
}

fn all_showing_video(v: &Value, n: usize) -> bool {
    v.as_array().is_some_and(|ps| {
        ps.len() == n
            && ps.iter().all(|p| {
                p["state"] == "video"
                    && p["ready"].as_u64().unwrap_or(0) >= 2
                    && p["seeking"] == false
                    && !p["luma"].is_null()
            })
    })
}

async fn sign_in(driver: &Driver, demo: &Demo) -> Res<()> {
    driver.goto(&demo.at("login")).await?;
    let password = demo.password.clone().ok_or("no password printed")?;
    let user = driver.find("#username").await?;
    driver.send_keys(&user, &demo.user).await?;
    let pass = driver.find("#password").await?;
    driver.send_keys(&pass, &password).await?;
    let button = driver.find("#login-button").await?;
    driver.click(&button).await?;
    wait_for(
        driver,
        "the login to leave /login",
        Duration::from_secs(15),
        "return location.pathname;",
        |v| v.as_str().is_some_and(|p| p != "/login"),
    )
    .await
    .map(|_| ())
}

/// The back-filled run of `camera` (ms), once it is at least 11 minutes long.
async fn long_run(driver: &Driver, camera: u32) -> Res<(f64, f64)> {
    let script = format!(
        "const cb = arguments[arguments.length - 1]; \
         const q = new URLSearchParams({{ start: new Date(Date.now() - 3600e3).toISOString(), \
           end: new Date().toISOString() }}); \
         fetch('/api/v1/cameras/{camera}/recordings?' + q, {{ credentials: 'same-origin' }}) \
           .then((r) => r.json()).then((v) => cb(v.recordings.map((r) => [Date.parse(r.start), Date.parse(r.end)]))) \
           .catch((e) => cb(String(e)));"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    loop {
        let v = driver.exec_async(&script, json!([])).await?;
        let long = v.as_array().and_then(|runs| {
            runs.iter().find_map(|r| {
                let (s, e) = (r[0].as_f64()?, r[1].as_f64()?);
                (e - s >= 11.0 * 60_000.0).then_some((s, e))
            })
        });
        if let Some(run) = long {
            return Ok(run);
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "no back-filled run of 11 minutes on camera {camera}: {v}"
            ));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

fn iso(ms: f64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .expect("a time")
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Clicks the first lane's track at `fraction` of its width (a real mouse
/// click through WebDriver actions).
async fn click_lane(driver: &Driver, fraction: f64) -> Res<()> {
    let track = driver.find(".lane .lane-track").await?;
    let width = driver
        .exec(
            "return document.querySelector('.lane .lane-track').getBoundingClientRect().width;",
            json!([]),
        )
        .await?
        .as_f64()
        .ok_or("no lane width")?;
    let x = ((fraction - 0.5) * width).round() as i64;
    driver
        .call(
            reqwest::Method::POST,
            &driver.session_path("/actions"),
            Some(json!({"actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [
                {"type": "pointerMove", "duration": 0, "x": x, "y": 0,
                 "origin": {"element-6066-11e4-a52e-4f735466cecf": track}},
                {"type": "pointerDown", "button": 0},
                {"type": "pointerUp", "button": 0}
            ]}]})),
        )
        .await?;
    Ok(())
}

async fn scenario(driver: &Driver, demo: &Demo) -> Res<()> {
    sign_in(driver, demo).await?;
    let (run_start, run_end) = long_run(driver, 1).await?;
    long_run(driver, 2).await?;
    eprintln!("back-filled run {} to {}", iso(run_start), iso(run_end));

    // (a) A click ten minutes into the run: the player's time and the
    // picture's burned-in clock agree within one GOP.
    let first = run_start + 60_000.0;
    driver
        .goto(&demo.at(&format!("playback?cameras=1&t={}&span=3600", iso(first))))
        .await?;
    wait_for(
        driver,
        "the timeline to show the run",
        Duration::from_secs(20),
        "return document.querySelectorAll('.lane .run').length;",
        |v| v.as_u64().unwrap_or(0) >= 1,
    )
    .await?;
    let target = run_start + 600_000.0;
    // The view is centred on the first playhead and spans an hour.
    click_lane(driver, 0.5 + (target - first) / 3_600_000.0).await?;
    let playhead = driver
        .exec(PLAYHEAD, json!([]))
        .await?
        .as_f64()
        .ok_or("no playhead")?;
    if (playhead - target).abs() > 10_000.0 {
        return Err(format!(
            "the click put the playhead at {}, not near {}",
            iso(playhead),
            iso(target)
        ));
    }
    let players = wait_for(
        driver,
        "the player to show the clicked time",
        Duration::from_secs(30),
        PLAYERS,
        |v| {
            all_showing_video(v, 1)
                && v[0]["wall"]
                    .as_f64()
                    .is_some_and(|w| (w - playhead).abs() < 1000.0)
        },
    )
    .await?;
    let p = &players[0];
    let wall = p["wall"].as_f64().ok_or("no wall time")?;
    let burned = burned_in(p)?;
    eprintln!(
        "clicked {}: player at {} (currentTime {}), picture says {}",
        iso(playhead),
        iso(wall),
        p["t"],
        iso(burned)
    );
    if (burned - wall).abs() > GOP_S * 1000.0 {
        return Err(format!(
            "the picture's clock {burned} and the player's time {wall} differ by {} ms",
            burned - wall
        ));
    }

    // (d) The URL the page keeps opens the same cameras, time and span.
    let url = driver.current_url().await?;
    let query = url
        .split_once('?')
        .map(|(_, q)| q.to_string())
        .unwrap_or_default();
    if !query.contains("cameras=1") || !query.contains("span=3600") || !query.contains("t=") {
        return Err(format!("the page's URL does not hold its state: {url}"));
    }
    driver.goto("about:blank").await?;
    driver.goto(&url).await?;
    let state = wait_for(
        driver,
        "the shared link to open",
        Duration::from_secs(20),
        "const r = document.getElementById('playback'); const o = document.getElementById('playhead-time'); \
         return r && o && o.dataset.time ? { cameras: r.dataset.cameras, span: r.dataset.span, \
           t: Date.parse(o.dataset.time), url: location.href } : null;",
        |v| !v.is_null(),
    )
    .await?;
    if state["cameras"] != "1" || state["span"] != "3600" {
        return Err(format!("the shared link opened {state}"));
    }
    let reopened = state["t"].as_f64().unwrap_or(0.0);
    if (reopened - playhead).abs() > 1000.0 {
        return Err(format!(
            "the shared link opened at {}, the page was at {}",
            iso(reopened),
            iso(playhead)
        ));
    }

    // (b) Two cameras played together stay within 0.5 s of each other, by
    // their pictures' clocks, over 20 s.
    let start = run_start + 180_000.0;
    driver
        .goto(&demo.at(&format!("playback?cameras=1,2&t={}&span=3600", iso(start))))
        .await?;
    wait_for(
        driver,
        "both players to show video",
        Duration::from_secs(30),
        PLAYERS,
        |v| all_showing_video(v, 2),
    )
    .await?;
    let play = driver.find("#play-pause").await?;
    driver.click(&play).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut first_clock = None;
    let mut last_clock = 0.0;
    let mut worst = 0.0f64;
    for _ in 0..20 {
        let v = driver.exec(PLAYERS, json!([])).await?;
        let (a, b) = (burned_in(&v[0])?, burned_in(&v[1])?);
        worst = worst.max((a - b).abs());
        if (a - b).abs() > 500.0 {
            return Err(format!(
                "the cameras drifted apart: {} and {} ({} ms)",
                iso(a),
                iso(b),
                a - b
            ));
        }
        first_clock.get_or_insert(a);
        last_clock = a;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let advanced = last_clock - first_clock.unwrap_or(0.0);
    eprintln!("synchronised: worst difference {worst} ms, played {advanced} ms in 19 s");
    if advanced < 15_000.0 {
        return Err(format!("playback advanced only {advanced} ms in 19 s"));
    }
    driver.click(&play).await?;

    // (c) A bookmark made here shows on the timeline and jumps back to its
    // time. The demo's administrator does not make bookmarks; as an
    // operator too, the page offers it.
    let granted = driver
        .exec_async(
            "const cb = arguments[arguments.length - 1]; \
             const csrf = document.cookie.split('; ').find((c) => c.startsWith('veil_csrf=')).split('=')[1]; \
             const h = { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }; \
             fetch('/api/v1/users', { credentials: 'same-origin' }).then((r) => r.json()).then((v) => { \
               const me = v.users.find((u) => u.name === arguments[0]); \
               return fetch('/api/v1/users/' + me.id, { method: 'PUT', headers: h, credentials: 'same-origin', \
                 body: JSON.stringify({ roles: ['administrator', 'auditor', 'operator'] }) }); \
             }).then((r) => cb(r.status)).catch((e) => cb(String(e)));",
            json!([demo.user]),
        )
        .await?;
    if granted != json!(204) {
        return Err(format!("could not add the operator role: {granted}"));
    }
    driver.goto(&driver.current_url().await?).await?;
    wait_for(
        driver,
        "both players to show video again",
        Duration::from_secs(30),
        PLAYERS,
        |v| all_showing_video(v, 2),
    )
    .await?;
    let marked = driver
        .exec(PLAYHEAD, json!([]))
        .await?
        .as_f64()
        .ok_or("no playhead")?;
    let button = driver.find("#bookmark-button").await?;
    driver.click(&button).await?;
    let note = driver.find("#bookmark-note").await?;
    driver.send_keys(&note, "Van at the gate").await?;
    let save = driver.find("#bookmark-save").await?;
    driver.click(&save).await?;
    wait_for(
        driver,
        "the bookmark on the first camera's lane",
        Duration::from_secs(15),
        "return Array.from(document.querySelectorAll('.lane[data-camera-id=\"1\"] .bookmark-mark')).map((m) => m.title);",
        |v| {
            v.as_array()
                .is_some_and(|m| m.iter().any(|t| t.as_str().unwrap_or("").contains("Van at the gate")))
        },
    )
    .await?;
    // Move away, then click the mark.
    let next = driver.find("#prev-recording").await?;
    driver.click(&next).await?;
    let away = driver
        .exec(PLAYHEAD, json!([]))
        .await?
        .as_f64()
        .unwrap_or(marked);
    if (away - marked).abs() < 5_000.0 {
        return Err(format!(
            "the playhead did not move away from {}",
            iso(marked)
        ));
    }
    let mark = driver
        .find(".lane[data-camera-id=\"1\"] .bookmark-mark")
        .await?;
    driver.click(&mark).await?;
    let back = wait_for(
        driver,
        "the player at the bookmark's time",
        Duration::from_secs(30),
        PLAYERS,
        |v| {
            all_showing_video(v, 2)
                && v[0]["wall"]
                    .as_f64()
                    .is_some_and(|w| (w - marked).abs() < 1000.0)
        },
    )
    .await?;
    let burned = burned_in(&back[0])?;
    if (burned - marked).abs() > GOP_S * 1000.0 {
        return Err(format!(
            "after the bookmark the picture shows {}, the bookmark is at {}",
            iso(burned),
            iso(marked)
        ));
    }

    // Nothing on the page violated the Content-Security-Policy or failed.
    driver
        .exec(
            "console.warn('veil-console-marker'); return null;",
            json!([]),
        )
        .await?;
    let console = driver.console_log().await;
    if !console.contains("veil-console-marker") {
        return Err(format!("the browser log is not being read:\n{console}"));
    }
    if console.contains("Content Security Policy") || console.contains("[SEVERE]") {
        return Err(format!("errors in the console:\n{console}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeline_seek_sync_bookmark_and_shared_link_in_chromium() {
    let data = tempfile::tempdir().expect("tempdir");
    let demo = Demo::start(
        data.path(),
        2,
        &["--segment-seconds", "10", "--backfill-minutes", "12"],
    );
    let driver = Driver::start().await;
    if let Err(error) = scenario(&driver, &demo).await {
        let url = driver.current_url().await.unwrap_or_default();
        let console = driver.console_log().await;
        let screenshot = match driver.screenshot().await {
            Ok(path) => path.display().to_string(),
            Err(e) => format!("(no screenshot: {e})"),
        };
        panic!(
            "browser test failed: {error}\npage: {url}\nscreenshot: {screenshot}\n\
             --- browser console ---\n{console}\n--- veil demo output ---\n{}",
            demo.output()
        );
    }
}
