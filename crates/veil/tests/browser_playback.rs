//! The playback page in headless Chromium against `veil demo` with
//! synthetic cameras and back-filled recording. With one camera and twelve
//! minutes: a click ten minutes into a run shows the frame whose burned-in
//! clock is that time; the page's URL opens the same cameras, time and zoom
//! in a fresh page; a bookmark made on the page shows on the timeline and
//! jumps playback to its time. With two cameras and two minutes (a test
//! that runs alone, its assertion being about timing): the cameras played
//! together stay within half a second of each other.
//!
//! Requires Debian's `chromium` and `chromium-driver` packages; the tests
//! fail (they do not skip) when they are missing.

mod common;

use std::time::Duration;

use common::api::Api;
use common::browser::{check_console, run_in_chromium, sign_in, ERRORS};
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

/// Waits until the one player shows video at `at` (ms since the epoch, by
/// its own time, within a second); returns the players.
async fn wait_for_player_at(driver: &Driver, what: &str, at: f64) -> Res<Value> {
    wait_for(driver, what, Duration::from_secs(30), PLAYERS, |v| {
        all_showing_video(v, 1)
            && v[0]["wall"]
                .as_f64()
                .is_some_and(|w| (w - at).abs() < 1000.0)
    })
    .await
}

/// The back-filled run of `camera` (ms), once it is at least `min_ms`
/// long.
async fn long_run(driver: &Driver, camera: u32, min_ms: f64) -> Res<(f64, f64)> {
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
                (e - s >= min_ms).then_some((s, e))
            })
        });
        if let Some(run) = long {
            return Ok(run);
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "no back-filled run of {} s on camera {camera}: {v}",
                min_ms / 1000.0
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
    driver.mouse_click(&track, x, 0, 1).await
}

/// (a) A click ten minutes into the run, (d) the URL round trip and (c) a
/// bookmark made on the page, with one camera.
async fn seek_link_and_bookmark(driver: &Driver, demo: &Demo) -> Res<()> {
    sign_in(driver, demo).await?;
    let (run_start, run_end) = long_run(driver, 1, 11.0 * 60_000.0).await?;
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
    let players =
        wait_for_player_at(driver, "the player to show the clicked time", playhead).await?;
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

    // (c) A bookmark made here shows on the timeline and jumps back to its
    // time. The demo's administrator does not make bookmarks; as an
    // operator too, the page offers it.
    Api::login_demo(demo)
        .await?
        .set_roles(&demo.user, &["administrator", "auditor", "operator"])
        .await
        .map_err(|e| format!("could not add the operator role: {e}"))?;
    driver.goto(&driver.current_url().await?).await?;
    wait_for(
        driver,
        "the player to show video again",
        Duration::from_secs(30),
        PLAYERS,
        |v| all_showing_video(v, 1),
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
    let back = wait_for_player_at(driver, "the player at the bookmark's time", marked).await?;
    let burned = burned_in(&back[0])?;
    if (burned - marked).abs() > GOP_S * 1000.0 {
        return Err(format!(
            "after the bookmark the picture shows {}, the bookmark is at {}",
            iso(burned),
            iso(marked)
        ));
    }

    // Nothing on the page violated the Content-Security-Policy or failed.
    check_console(driver, "/playback", ERRORS).await.map(|_| ())
}

/// How far into the two-minute back-filled run the cameras are played
/// together (ms): well inside it, with 20 s of playing to follow.
const IN_STEP_FROM: f64 = 30_000.0;

/// (b) Two cameras played together stay within 0.5 s of each other.
async fn two_cameras_in_step(driver: &Driver, demo: &Demo) -> Res<()> {
    sign_in(driver, demo).await?;
    // The whole run (two minutes, ending a minute before the demo started),
    // so that nothing is encoding in the background meanwhile.
    let (run_start, run_end) = long_run(driver, 1, 115_000.0).await?;
    long_run(driver, 2, 115_000.0).await?;
    eprintln!("back-filled run {} to {}", iso(run_start), iso(run_end));

    // (b) Two cameras played together stay within 0.5 s of each other, by
    // their pictures' clocks, over 20 s.
    let start = run_start + IN_STEP_FROM;
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

    // Nothing on the page violated the Content-Security-Policy or failed.
    check_console(driver, "/playback with two cameras", ERRORS)
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeline_seek_bookmark_and_shared_link_in_chromium() {
    run_in_chromium(
        "timeline-seek-bookmark-link",
        1,
        &["--segment-seconds", "10", "--backfill-minutes", "12"],
        seek_link_and_bookmark,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_cameras_play_in_step_in_chromium() {
    run_in_chromium(
        "two-cameras-in-step",
        2,
        &["--segment-seconds", "10", "--backfill-minutes", "2"],
        two_cameras_in_step,
    )
    .await;
}
