//! The footage workspace of a data-subject request in headless Chromium.
//!
//! A handler of data-subject requests (the `dpo` template, with a second
//! factor and the usage policy acknowledged as the other browser tests;
//! the package's four-eyes approval, `dsr.handle` on the request, asked for
//! over the API and given by a second data-protection officer)
//! has an `access` request, registered, verified and put in `searching`
//! over the API with camera 1 and the last minutes of the demo's recording
//! as its scope. In the browser they open `/dpo/requests/{id}`, load the
//! request's player, play, mark an interval of a few seconds (Mark start,
//! Forward, Mark end, Add), go to its start and draw a box by dragging on
//! the picture, go to its end and drag the box to the other side of the
//! picture (a second keyframe: a moving box), choose the solid fill and
//! export with a generated passphrase. The progress reaches `done`, the
//! passphrase is shown once and the download link appears. The package,
//! downloaded with the session's cookie, is decrypted with the `age` crate
//! and that passphrase and unpacked with `tar`; `ffprobe` finds H.264 in
//! an MP4, and `ffmpeg` decodes it to grey frames in each of which the
//! box's interpolated region (6 pixels in) is flat. The access record has
//! a `playback` entry with `request=ID` and the register a
//! `subject_access` entry. No console error, no CSP violation, no message
//! missing from the catalogue, no sideways scrolling at 768 px.
//!
//! Needs Debian's `chromium`, `chromium-driver`, `tar` and `ffmpeg`; fails,
//! not skips, when they are missing.

mod common;

use std::process::Command;
use std::time::Duration;

use common::api::Api;
use common::browser::{adopt, check_console, run_in_chromium, STRICT, WAIT};
use common::webdriver::{wait_for, Driver, Res, ELEMENT_KEY};
use common::Demo;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use veil_base::Time90k;
use veil_media::redaction::{check, RedactionBox};

const HANDLER: &str = "hana.dpo";
const APPROVER: &str = "dora.dpo";
const PASSWORD: &str = "a long data protection password 7";
/// How long a recorded run must be before the scenario starts, in seconds.
const RUN_SECONDS: i64 = 20;
/// Where the box is drawn (at the interval's start) and where it is
/// dragged to (at its end), in fractions of the picture: from one corner
/// to the other, and the point grabbed and dropped.
const DRAW: ([f64; 2], [f64; 2]) = ([0.1, 0.15], [0.4, 0.5]);
const MOVE: ([f64; 2], [f64; 2]) = ([0.25, 0.325], [0.75, 0.7]);
/// The most the luma inside the box (6 pixels in) may spread in a frame
/// (the export's own test measures at most 8 there; a moving edge passes
/// through motion-compensated blocks).
const FLAT: u8 = 16;

async fn account(demo: &Demo, name: &str, roles: &[&str]) -> Res<Api> {
    let admin = Api::login_demo(demo).await?;
    let first = admin.create_user(name, roles).await?;
    let s = Api::first_login(demo, name, &first, PASSWORD).await?;
    s.enrol_totp().await?;
    s.acknowledge_policy().await?;
    Ok(s)
}

fn rfc(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Waits until camera 1's latest run is [`RUN_SECONDS`] long; the scope:
/// the last ten minutes up to now, in whole seconds.
async fn scope(s: &Api) -> Res<(String, String)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let now = chrono::Utc::now();
        let path = format!(
            "api/v1/cameras/1/recordings?start={}&end={}",
            rfc(now - chrono::Duration::minutes(10)),
            rfc(now)
        );
        let v = s.send(Method::GET, &path, None, StatusCode::OK).await?;
        let long = v["recordings"].as_array().is_some_and(|runs| {
            runs.iter().any(|r| {
                let t = |k: &str| {
                    r[k].as_str()
                        .and_then(|x| chrono::DateTime::parse_from_rfc3339(x).ok())
                };
                matches!((t("start"), t("end")), (Some(a), Some(b)) if (b - a).num_seconds() >= RUN_SECONDS)
            })
        });
        if long {
            return Ok((rfc(now - chrono::Duration::minutes(10)), rfc(now)));
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("no recorded run of {RUN_SECONDS} s: {v}"));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// An access request in `searching` over camera 1 and `[start, end)`.
async fn access_request(s: &Api, start: &str, end: &str) -> Res<i64> {
    let received = rfc(chrono::Utc::now() - chrono::Duration::minutes(1));
    let r = s
        .send(
            Method::POST,
            "api/v1/requests",
            Some(json!({
                "kind": "access", "received": received, "subject": "Rui Sousa",
                "contact": "rui.sousa@example.org",
                "description": "Walked through the car park's entrance in a red coat",
            })),
            StatusCode::CREATED,
        )
        .await?;
    let id = r["id"].as_i64().ok_or(format!("no id in {r}"))?;
    s.send(
        Method::POST,
        &format!("api/v1/requests/{id}/verify"),
        Some(json!({ "method": "Citizen card shown at the front desk" })),
        StatusCode::OK,
    )
    .await?;
    let v = s
        .send(
            Method::POST,
            &format!("api/v1/requests/{id}/search"),
            Some(json!({ "cameras": [1], "start": start, "end": end })),
            StatusCode::OK,
        )
        .await?;
    if v["status"] != "searching" {
        return Err(format!("the request is not searching: {v}"));
    }
    Ok(id)
}

/// The player's time (ms since the epoch), once it has one.
async fn player_time(driver: &Driver) -> Res<i64> {
    let v = wait_for(
        driver,
        "the player's time",
        WAIT,
        "const v = document.getElementById('footage-video'); \
         const t = document.getElementById('footage-time').dataset.t; \
         return v.seeking || !t ? null : Number(t);",
        |v| v.is_number(),
    )
    .await?;
    v.as_i64().ok_or(format!("time {v}"))
}

/// Drags with the mouse on the overlay from `from` to `to` (fractions of
/// the picture), with W3C pointer actions.
async fn drag(driver: &Driver, from: [f64; 2], to: [f64; 2]) -> Res<()> {
    let size = driver
        .exec(
            "const r = document.getElementById('footage-overlay').getBoundingClientRect(); \
             return [r.width, r.height];",
            json!([]),
        )
        .await?;
    let (w, h) = (
        size[0].as_f64().unwrap_or(0.0),
        size[1].as_f64().unwrap_or(0.0),
    );
    if w < 100.0 || h < 50.0 {
        return Err(format!("the overlay is {w}×{h}"));
    }
    let overlay = driver.find("#footage-overlay").await?;
    let at = |[x, y]: [f64; 2]| {
        (
            ((x - 0.5) * w).round() as i64,
            ((y - 0.5) * h).round() as i64,
        )
    };
    let (x0, y0) = at(from);
    let (x1, y1) = at(to);
    let origin = json!({ ELEMENT_KEY: overlay });
    let actions = json!([
        { "type": "pointerMove", "duration": 0, "x": x0, "y": y0, "origin": origin },
        { "type": "pointerDown", "button": 0 },
        { "type": "pointerMove", "duration": 150, "x": (x0 + x1) / 2, "y": (y0 + y1) / 2, "origin": origin },
        { "type": "pointerMove", "duration": 150, "x": x1, "y": y1, "origin": origin },
        { "type": "pointerUp", "button": 0 },
    ]);
    driver
        .call(
            Method::POST,
            &driver.session_path("/actions"),
            Some(json!({ "actions": [{ "type": "pointer", "id": "mouse",
                "parameters": { "pointerType": "mouse" }, "actions": actions }] })),
        )
        .await
        .map(|_| ())
}

/// Seeks with an interval's button (`start` or `end`) and waits until the
/// player shows that time.
async fn go(driver: &Driver, which: &str, iid: i64, want: i64) -> Res<()> {
    driver
        .click_on(&format!("#footage-go-{which}-{iid}"))
        .await?;
    wait_for(
        driver,
        &format!("the player at the interval's {which}"),
        WAIT,
        "const v = document.getElementById('footage-video'); \
         return v.seeking ? null : Number(document.getElementById('footage-time').dataset.t);",
        |v| v.as_i64() == Some(want),
    )
    .await
    .map(|_| ())
}

fn ms(rfc3339: &str) -> Res<i64> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("{rfc3339}: {e}"))
}

async fn scenario(driver: &Driver, demo: &Demo) -> Res<()> {
    let handler = account(demo, HANDLER, &["dpo"]).await?;
    // The demo's administrator finds the recorded minutes (the handler
    // holds no ordinary playback: only the request's player).
    let (start, end) = scope(&Api::login_demo(demo).await?).await?;
    let id = access_request(&handler, &start, &end).await?;
    // Export is four-eyes in the demo: asked for by the handler, approved
    // by a second data-protection officer.
    let asked = handler
        .send(
            Method::POST,
            "api/v1/approvals",
            Some(
                json!({ "permission": "dsr.handle", "resource": format!("request:{id}"),
                         "justification": "Copy for the data subject's access request" }),
            ),
            StatusCode::CREATED,
        )
        .await?;
    let approver = account(demo, APPROVER, &["dpo"]).await?;
    approver
        .send(
            Method::POST,
            &format!("api/v1/approvals/{}/decision", asked["id"]),
            Some(json!({ "approve": true, "note": "The request is verified" })),
            StatusCode::OK,
        )
        .await?;

    adopt(driver, demo, &handler).await?;
    driver.set_window_size(1280, 1000).await?;
    driver.goto(&demo.at(&format!("dpo/requests/{id}"))).await?;
    wait_for(
        driver,
        "the footage workspace with camera 1 and a window",
        WAIT,
        "const w = document.getElementById('footage-workspace'); \
         return [!!w && !w.hidden, document.getElementById('footage-camera')?.value, \
                 document.getElementById('footage-end')?.value];",
        |v| v[0] == true && v[1] == "1" && v[2].as_str().is_some_and(|s| !s.is_empty()),
    )
    .await?;
    driver.click_on("#footage-load").await?;
    wait_for(
        driver,
        "the request's player to load",
        WAIT,
        "const v = document.getElementById('footage-video'); \
         return [v.readyState, document.getElementById('footage-stage').dataset.mediaStart || null, \
                 v.duration];",
        |v| v[0].as_u64() >= Some(2) && v[1].is_string() && v[2].as_f64() >= Some(8.0),
    )
    .await?;

    // Play; pause after a second and a half; mark from here to 4 s later.
    let before = player_time(driver).await?;
    driver.click_on("#footage-play").await?;
    wait_for(
        driver,
        "the video to play",
        WAIT,
        "return Number(document.getElementById('footage-time').dataset.t);",
        |v| v.as_i64().is_some_and(|t| t >= before + 1500),
    )
    .await?;
    driver.click_on("#footage-play").await?;
    wait_for(
        driver,
        "the video to pause",
        WAIT,
        "return document.getElementById('footage-video').paused;",
        |v| v == true,
    )
    .await?;
    let played = player_time(driver).await?;
    if played < before + 1500 {
        return Err(format!("the player went from {before} to {played}"));
    }
    driver.click_on("#footage-mark-start").await?;
    for _ in 0..4 {
        driver.click_on("#footage-forward").await?;
    }
    player_time(driver).await?;
    driver.click_on("#footage-mark-end").await?;
    driver.click_on("#footage-add").await?;
    let row = wait_for(
        driver,
        "the marked interval",
        WAIT,
        "const r = document.querySelector('#footage-intervals tr'); \
         const e = document.getElementById('footage-error'); \
         return r ? Number(r.dataset.id) : (e.hidden ? null : e.textContent);",
        |v| !v.is_null(),
    )
    .await?;
    let iid = row.as_i64().ok_or(format!("no interval marked: {row}"))?;
    let request = handler
        .send(
            Method::GET,
            &format!("api/v1/requests/{id}"),
            None,
            StatusCode::OK,
        )
        .await?;
    let interval = &request["intervals"][0];
    let (a, b) = (
        ms(interval["start"].as_str().unwrap_or(""))?,
        ms(interval["end"].as_str().unwrap_or(""))?,
    );
    if interval["id"] != iid || interval["camera"] != 1 || !(4000..=6000).contains(&(b - a)) {
        return Err(format!("marked {interval}"));
    }

    // A box drawn at the interval's start, moved at its end.
    go(driver, "start", iid, a).await?;
    drag(driver, DRAW.0, DRAW.1).await?;
    go(driver, "end", iid, b).await?;
    drag(driver, MOVE.0, MOVE.1).await?;
    let ok = driver
        .exec(
            "const s = document.getElementById('footage-fill-0'); s.value = 'solid'; \
             s.dispatchEvent(new Event('change', { bubbles: true })); \
             return [document.getElementById('footage-overlay').dataset.boxes, \
                     document.querySelectorAll('#footage-box-0 ul.keyframes li').length, \
                     document.querySelector('#footage-overlay rect.redaction').getAttribute('class')];",
            json!([]),
        )
        .await?;
    if ok[0] != "1" || ok[1] != 2 || !ok[2].as_str().is_some_and(|c| c.contains("fill-solid")) {
        return Err(format!("not one solid box with two keyframes: {ok}"));
    }

    // No sideways scrolling at 768 px.
    driver.set_window_size(768, 1000).await?;
    let fits = driver
        .exec(
            "return document.documentElement.scrollWidth <= window.innerWidth;",
            json!([]),
        )
        .await?;
    driver.set_window_size(1280, 1000).await?;
    if fits != true {
        return Err("the request page scrolls sideways at 768 px".into());
    }

    // Export with a generated passphrase.
    let country = driver.find("#footage-country").await?;
    driver.send_keys(&country, "PT").await?;
    driver.click_on("#footage-export-submit").await?;
    let done = wait_for(
        driver,
        "the export to finish",
        Duration::from_secs(180),
        "const s = document.getElementById('footage-state'); \
         const a = document.getElementById('footage-download'); \
         const e = document.getElementById('footage-export-error'); \
         return { state: s.dataset.state || '', text: s.textContent, \
                  value: document.getElementById('footage-progress').getAttribute('value'), \
                  error: e.hidden ? null : e.textContent, \
                  download: a.hidden ? null : a.getAttribute('href'), \
                  passphrase: document.getElementById('footage-passphrase-box').hidden ? null : \
                    document.getElementById('footage-generated-passphrase').textContent };",
        |v| v["state"] == "done" || v["state"] == "failed" || v["error"].is_string(),
    )
    .await?;
    let passphrase = done["passphrase"]
        .as_str()
        .filter(|p| p.len() >= 12)
        .ok_or(format!("no generated passphrase shown: {done}"))?
        .to_string();
    let download = done["download"]
        .as_str()
        .filter(|_| done["state"] == "done" && done["value"] == "100")
        .ok_or(format!("the export ended as {done}"))?
        .to_string();
    check_console(driver, &format!("/dpo/requests/{id}"), STRICT).await?;

    // The package, checked without Veil.
    let (status, package) = handler.bytes(&download).await?;
    if status != StatusCode::OK || package.is_empty() {
        return Err(format!("download: {status}, {} bytes", package.len()));
    }
    check_package(&package, &passphrase)?;

    // The player's accesses are recorded against the request, and the
    // package is entered in the register as a subject access.
    let played = handler
        .send(
            Method::GET,
            "api/v1/audit?action=playback&limit=1000",
            None,
            StatusCode::OK,
        )
        .await?;
    let against = played["items"].as_array().is_some_and(|items| {
        items.iter().any(|e| {
            e["resource"] == "camera:1"
                && e["detail"]
                    .as_str()
                    .is_some_and(|d| d.split(' ').any(|x| x == format!("request={id}")))
        })
    });
    if !against {
        return Err(format!("no playback entry with request={id}: {played}"));
    }
    let register = handler
        .send(Method::GET, "api/v1/disclosures", None, StatusCode::OK)
        .await?;
    let entry = register["items"]
        .as_array()
        .and_then(|items| items.iter().find(|e| e["kind"] == "subject_access"))
        .ok_or(format!("no subject_access entry: {register}"))?;
    if entry["requester"]["name"] != "Rui Sousa" {
        return Err(format!("the entry names {}", entry["requester"]));
    }
    Ok(())
}

fn tool(cmd: &mut Command, what: &str) -> Res<Vec<u8>> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{what}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(out.stdout)
}

/// Decrypts and unpacks the package; ffprobe finds H.264 in an MP4, and in
/// every frame the manifest's box covers, its region is flat.
fn check_package(package: &[u8], passphrase: &str) -> Res<()> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut identity =
        age::scrypt::Identity::new(age::secrecy::SecretString::from(passphrase.to_owned()));
    identity.set_max_work_factor(22);
    let tar = age::decrypt(&identity, package).map_err(|e| format!("decrypting: {e}"))?;
    let tar_path = dir.path().join("package.tar");
    std::fs::write(&tar_path, &tar).map_err(|e| e.to_string())?;
    tool(
        Command::new("tar")
            .arg("-xf")
            .arg(&tar_path)
            .arg("-C")
            .arg(dir.path()),
        "tar -xf",
    )?;
    let pkg = std::fs::read_dir(dir.path())
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .ok_or("no folder in the package")?;
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(pkg.join("manifest.json")).map_err(|e| format!("manifest: {e}"))?,
    )
    .map_err(|e| e.to_string())?;
    let videos: Vec<&Value> = manifest["files"]
        .as_array()
        .map(|f| f.iter().filter(|f| f["kind"] == "video").collect())
        .unwrap_or_default();
    let [f] = videos[..] else {
        return Err(format!("not one video in {manifest}"));
    };
    let redacted = &f["video"]["redacted"];
    let boxes: Vec<RedactionBox> = serde_json::from_value(redacted["boxes"].clone())
        .map_err(|e| format!("the manifest's boxes {redacted}: {e}"))?;
    let checked = check(&boxes).map_err(|e| format!("{}: {}", e.field, e.message))?;
    let [b] = &checked[..] else {
        return Err(format!("not one box: {redacted}"));
    };
    if boxes[0].fill != "solid" || b.keyframes.len() != 2 {
        return Err(format!("not a solid box with two keyframes: {redacted}"));
    }
    let (k0, k1) = (&b.keyframes[0].rect, &b.keyframes[1].rect);
    let near = |a: f64, b: f64| (a - b).abs() < 0.02;
    let moved = MOVE.1[0] - MOVE.0[0];
    if !near(k0.x, DRAW.0[0])
        || !near(k0.y, DRAW.0[1])
        || !near(k0.w, DRAW.1[0] - DRAW.0[0])
        || !near(k1.x, DRAW.0[0] + moved)
        || !near(k1.w, k0.w)
    {
        return Err(format!(
            "the box is not where it was drawn and moved: {redacted}"
        ));
    }
    let path = pkg.join(f["path"].as_str().unwrap_or(""));
    let probe = String::from_utf8(tool(
        Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0"])
            .args([
                "-show_entries",
                "stream=codec_name,width,height:format=format_name",
                "-of",
                "default=noprint_wrappers=1",
            ])
            .arg(&path),
        "ffprobe",
    )?)
    .map_err(|e| e.to_string())?;
    if !probe.contains("codec_name=h264") || !probe.contains("format_name=mov,mp4") {
        return Err(format!("ffprobe: {probe}"));
    }
    let dim = |k: &str| {
        probe
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .ok_or(format!("no {k} in {probe}"))
    };
    let (w, h) = (dim("width")?, dim("height")?);
    let grey = tool(
        Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(&path)
            .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"]),
        "ffmpeg",
    )?;
    let frames: Vec<&[u8]> = grey.chunks(w * h).collect();
    let pts = String::from_utf8(tool(
        Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
            .args(["frame=pts", "-of", "csv=p=0"])
            .arg(&path),
        "ffprobe frames",
    )?)
    .map_err(|e| e.to_string())?;
    let mut times: Vec<i64> = pts
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect();
    times.sort_unstable();
    if times.len() != frames.len() || frames.is_empty() {
        return Err(format!("{} frames, {} times", frames.len(), times.len()));
    }
    let start = f["video"]["start"]
        .as_str()
        .and_then(Time90k::parse_rfc3339)
        .ok_or(format!("no start in {f}"))?;
    let first = times[0];
    let (mut covered, mut worst) = (0usize, 0u8);
    for (i, &p) in times.iter().enumerate() {
        let at = start.0 + (p - first);
        let d = times.get(i + 1).map_or(3600, |n| n - p);
        let Some(r) = b.on_picture(Time90k(at), d) else {
            continue;
        };
        let (x0, y0, x1, y1) = r.pixels(w, h);
        worst = worst.max(range(frames[i], w, (x0 + 6, y0 + 6, x1 - 6, y1 - 6)));
        covered += 1;
    }
    // The file starts at the first keyframe inside the interval (a keyframe
    // every 2 s), so the box's span in the file is 3–5 s: every frame that
    // starts inside it carries the box, at about the camera's 25 fps.
    let (from, to) = (b.keyframes[0].at.0, b.keyframes[1].at.0);
    let inside = times
        .iter()
        .filter(|&&p| (from..=to).contains(&(start.0 + (p - first))))
        .count();
    let file_end = start.0 + (times[times.len() - 1] - first);
    let span_s = (to.min(file_end) - from.max(start.0)) as f64 / 90_000.0;
    if covered < inside || span_s < 2.5 || (covered as f64) < span_s * 20.0 {
        return Err(format!(
            "the box is on {covered} frames ({inside} start inside its span) over {span_s} s of the file"
        ));
    }
    if worst > FLAT {
        return Err(format!("luma inside the box spreads by {worst}"));
    }
    Ok(())
}

/// Luma range (max − min) of `[x0, x1) × [y0, y1)` in a grey frame `w` wide.
fn range(frame: &[u8], w: usize, (x0, y0, x1, y1): (usize, usize, usize, usize)) -> u8 {
    let mut lo = 255u8;
    let mut hi = 0u8;
    for y in y0..y1 {
        for &v in &frame[y * w + x0..y * w + x1] {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    hi.saturating_sub(lo)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_marks_redacts_and_exports_a_moving_box_in_chromium() {
    run_in_chromium("requests", 1, &["--segment-seconds", "2"], scenario).await;
}
