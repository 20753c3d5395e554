//! The mask editor in headless Chromium: an administrator opens
//! `/cameras/1/masks` from the cameras page, draws a polygon with mouse
//! clicks on the live picture (a double click closes it), names it, gives a
//! reason and saves; the API then returns that polygon, each point within
//! 0.02 of where it was clicked. Without the mouse, a rectangle is added,
//! moved with the arrow buttons and deleted. The page has no console error or CSP
//! violation and does not scroll sideways at 768 px. The video recorded
//! after the save is masked: every frame of the segments recorded after it,
//! fetched as MP4 and decoded with `ffmpeg`, has the solid fill's luma
//! inside the polygon (minus a 2-pixel border).
//!
//! Requires Debian's `chromium` and `chromium-driver` packages; the test
//! fails (it does not skip) when they are missing.

mod common;

use common::api::Api;
use std::process::Command;
use std::time::{Duration, Instant};

use common::browser::{check_console, run_in_chromium, sign_in, STRICT, WAIT};
use common::webdriver::{wait_for, Driver, Res};
use common::Demo;
use reqwest::{Method, StatusCode};
use serde_json::json;
use veil_base::{Time90k, TIME_UNITS_PER_SEC};

/// Where the polygon's corners are clicked, in fractions of the picture.
const CORNERS: [[f64; 2]; 4] = [[0.2, 0.25], [0.55, 0.25], [0.55, 0.7], [0.2, 0.7]];

/// How far a decoded pixel inside a solid mask may be from the fill's luma:
/// 4 pixels or more inside, codec noise; 2 to 4 pixels inside, the
/// deblocking filter blends in the edge (as the RTSP masking tests allow;
/// docs/design/masks.md, "Codec tolerance, measured"). The picture's own
/// values span 0 to 255.
const FILL_NOISE: i32 = 16;
const EDGE_NOISE: i32 = 48;

/// A mask saved through the editor: its camera, its polygon as the API
/// returns it, and when the version was saved.
struct Saved {
    camera: i64,
    polygon: Vec<[f64; 2]>,
    created: Time90k,
}

/// Opens the editor of camera 1, draws [`CORNERS`] with the mouse, fills in
/// name and reason, saves; checks the API has the polygon where it was
/// clicked and returns it.
async fn draw_and_save(driver: &Driver, demo: &Demo, admin: &Api) -> Res<Saved> {
    let camera = 1;
    driver.goto(&demo.at("admin/cameras")).await?;
    let link = wait_for(
        driver,
        "the masks link of camera 1",
        WAIT,
        "const a = document.getElementById('camera-masks-1'); return a ? a.getAttribute('href') : null;",
        |v| v.is_string(),
    )
    .await?;
    if link != "/cameras/1/masks" {
        return Err(format!("the masks link goes to {link}"));
    }
    driver.click_on("#camera-masks-1").await?;
    // The live picture plays under the overlay, and no mask is saved yet.
    wait_for(
        driver,
        "the live picture and the empty list",
        WAIT,
        "const v = document.querySelector('#mask-stage video'); \
         return [v.dataset.state, v.readyState, document.getElementById('mask-version').textContent];",
        |v| v[0] == "live" && v[1].as_u64() >= Some(2) && v[2].as_str().is_some_and(|s| !s.is_empty()),
    )
    .await?;
    check_console(driver, "/cameras/1/masks", STRICT).await?;

    driver.click_on("#mask-new").await?;
    let size = driver
        .exec(
            "const r = document.getElementById('mask-overlay').getBoundingClientRect(); \
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
    let overlay = driver.find("#mask-overlay").await?;
    for (i, [x, y]) in CORNERS.iter().enumerate() {
        // Offsets from the overlay's centre; the last corner is double-clicked,
        // which closes the polygon.
        let dx = ((x - 0.5) * w).round() as i64;
        let dy = ((y - 0.5) * h).round() as i64;
        let clicks = if i == CORNERS.len() - 1 { 2 } else { 1 };
        driver.mouse_click(&overlay, dx, dy, clicks).await?;
    }
    wait_for(
        driver,
        "the closed polygon in the overlay and the table",
        WAIT,
        "return [document.getElementById('mask-overlay').dataset.masks, \
                 document.querySelectorAll('#mask-rows tr').length];",
        |v| v[0] == "1" && v[1] == 1,
    )
    .await?;

    let name = driver.find("#mask-name-0").await?;
    driver.clear(&name).await?;
    driver.send_keys(&name, "Neighbour's window").await?;
    let reason = driver.find("#mask-reason-0").await?;
    driver
        .send_keys(&reason, "A home across the street is in view")
        .await?;
    driver.click_on("#mask-save").await?;
    let saved = wait_for(
        driver,
        "the saved version",
        WAIT,
        "const v = document.getElementById('mask-version'); \
         const e = document.getElementById('mask-error'); \
         return [v.dataset.version || '', v.textContent, e.hidden ? '' : e.textContent];",
        |v| v[0] != "" || v[2] != "",
    )
    .await?;
    if saved[2] != "" {
        return Err(format!("saving was refused: {saved}"));
    }

    let v = admin
        .send(
            Method::GET,
            &format!("/api/v1/cameras/{camera}/masks"),
            None,
            StatusCode::OK,
        )
        .await?;
    if Some(v["version"].to_string().as_str()) != saved[0].as_str() {
        return Err(format!("the page shows version {}, the API {v}", saved[0]));
    }
    let mask = &v["masks"][0];
    if v["masks"].as_array().map(Vec::len) != Some(1)
        || mask["name"] != "Neighbour's window"
        || mask["kind"] != "permanent"
        || mask["fill"] != "solid"
    {
        return Err(format!("the API shows {v}"));
    }
    let polygon: Vec<[f64; 2]> = serde_json::from_value(mask["polygon"].clone())
        .map_err(|e| format!("polygon {mask}: {e}"))?;
    let near = polygon.len() == CORNERS.len()
        && polygon
            .iter()
            .zip(CORNERS)
            .all(|(p, c)| (p[0] - c[0]).abs() <= 0.02 && (p[1] - c[1]).abs() <= 0.02);
    if !near {
        return Err(format!("clicked {CORNERS:?}, saved {polygon:?}"));
    }
    let created = v["created"]
        .as_str()
        .and_then(Time90k::parse_rfc3339)
        .ok_or_else(|| format!("no creation time: {v}"))?;
    Ok(Saved {
        camera,
        polygon,
        created,
    })
}

/// Whether pixel (`x`, `y`) of a `w`×`h` picture lies inside `polygon` at
/// least `border` pixels from its edges.
fn inside(polygon: &[[f64; 2]], w: usize, h: usize, x: usize, y: usize, border: f64) -> bool {
    let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
    let pts: Vec<(f64, f64)> = polygon
        .iter()
        .map(|p| (p[0] * w as f64, p[1] * h as f64))
        .collect();
    let mut crossings = false;
    for i in 0..pts.len() {
        let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
        if (a.1 > py) != (b.1 > py) && px < a.0 + (py - a.1) * (b.0 - a.0) / (b.1 - a.1) {
            crossings = !crossings;
        }
        // Distance from the pixel's centre to the edge a-b.
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = dx * dx + dy * dy;
        let t = if len2 == 0.0 {
            0.0
        } else {
            (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0)
        };
        let (cx, cy) = (a.0 + t * dx, a.1 + t * dy);
        if ((px - cx).powi(2) + (py - cy).powi(2)).sqrt() < border {
            return false;
        }
    }
    crossings
}

/// Waits for the segments recorded from 3 s after the save (the masks apply
/// from the next keyframe; the demo's GOP is 2 s) over 4 s, fetches them as
/// MP4, decodes every frame to luma with `ffmpeg` and checks that inside
/// the polygon, minus a 2-pixel border, every pixel of every frame is the
/// solid fill.
async fn recorded_frames_are_masked(admin: &Api, saved: &Saved) -> Res<()> {
    let start = Time90k(saved.created.0 + 3 * TIME_UNITS_PER_SEC);
    let end = Time90k(start.0 + 4 * TIME_UNITS_PER_SEC);
    let cam = saved.camera;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = admin
            .send(
                Method::GET,
                &format!(
                    "/api/v1/cameras/{cam}/recordings?start={}",
                    saved.created.to_rfc3339()
                ),
                None,
                StatusCode::OK,
            )
            .await?;
        let covered = v["recordings"].as_array().is_some_and(|runs| {
            runs.iter().any(|r| {
                r["end"]
                    .as_str()
                    .and_then(Time90k::parse_rfc3339)
                    .is_some_and(|e| e >= end)
            })
        });
        if covered {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("nothing recorded up to {}: {v}", end.to_rfc3339()));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (status, mp4) = admin
        .bytes(&format!(
            "/api/v1/cameras/{cam}/video.mp4?start={}&end={}",
            start.to_rfc3339(),
            end.to_rfc3339()
        ))
        .await?;
    if status != StatusCode::OK {
        return Err(format!("video.mp4: {status}"));
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("masked.mp4");
    std::fs::write(&path, &mp4).map_err(|e| e.to_string())?;
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=width,height", "-of", "csv=p=0"])
        .arg(&path)
        .output()
        .map_err(|e| format!("ffprobe (Debian package ffmpeg): {e}"))?;
    let text = String::from_utf8_lossy(&probe.stdout);
    let (w, h) = text
        .trim()
        .split_once(',')
        .and_then(|(w, h)| Some((w.parse::<usize>().ok()?, h.parse::<usize>().ok()?)))
        .ok_or_else(|| format!("ffprobe said {text:?}"))?;
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .map_err(|e| format!("ffmpeg (Debian package ffmpeg): {e}"))?;
    if !out.status.success() {
        return Err(format!("ffmpeg: {}", String::from_utf8_lossy(&out.stderr)));
    }
    // (pixel, tolerance): 2 pixels in at least; 4 pixels in, the tighter one.
    let pixels: Vec<(usize, i32)> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| inside(&saved.polygon, w, h, x, y, 2.0))
        .map(|(x, y)| {
            let deep = inside(&saved.polygon, w, h, x, y, 4.0);
            (y * w + x, if deep { FILL_NOISE } else { EDGE_NOISE })
        })
        .collect();
    if pixels.len() < 1000 {
        return Err(format!("only {} pixels inside the polygon", pixels.len()));
    }
    let frames: Vec<&[u8]> = out.stdout.chunks_exact(w * h).collect();
    // 4 s at 25 fps, give or take the ends.
    if frames.len() < 75 {
        return Err(format!("{} frames decoded for 4 s", frames.len()));
    }
    let fill = i32::from(veil_media::masking::SOLID_FILL[0]);
    for (i, f) in frames.iter().enumerate() {
        if let Some(&(p, tolerance)) = pixels
            .iter()
            .find(|&&(p, tolerance)| (i32::from(f[p]) - fill).abs() > tolerance)
        {
            return Err(format!(
                "frame {i} of {}: the pixel at {},{} inside the mask is {} luma levels off \
                 the fill (at most {tolerance} there)",
                frames.len(),
                p % w,
                p / w,
                (i32::from(f[p]) - fill).abs()
            ));
        }
    }
    Ok(())
}

/// Without the mouse: "Add a rectangle" adds a mask, the arrow buttons move
/// the selected one (5 steps of 1 % to the right), its Delete button removes
/// it; nothing is saved.
async fn keyboard_actions(driver: &Driver) -> Res<()> {
    const STATE: &str =
        "const p = document.querySelector('#mask-overlay polygon[data-index=\"1\"]'); \
         const w = document.getElementById('mask-overlay').getBoundingClientRect().width; \
         return [document.querySelectorAll('#mask-rows tr').length, \
                 p ? Number(p.getAttribute('points').split(',')[0]) / w : null];";
    driver.click_on("#mask-rectangle").await?;
    wait_for(driver, "the rectangle added", WAIT, STATE, |v| {
        v[0] == 2 && v[1].as_f64().is_some_and(|x| (x - 0.4).abs() < 0.005)
    })
    .await?;
    let right = driver.find("#mask-move button[data-move=\"1,0\"]").await?;
    for _ in 0..5 {
        driver.click(&right).await?;
    }
    wait_for(
        driver,
        "the rectangle moved right by 5 %",
        WAIT,
        STATE,
        |v| v[1].as_f64().is_some_and(|x| (x - 0.45).abs() < 0.005),
    )
    .await?;
    driver.click_on("#mask-delete-1").await?;
    wait_for(driver, "the rectangle deleted", WAIT, STATE, |v| {
        v[0] == 1 && v[1].is_null()
    })
    .await?;
    Ok(())
}

/// At 768 px wide the editor does not scroll sideways.
async fn fits_768(driver: &Driver) -> Res<()> {
    driver.set_window_size(768, 1000).await?;
    let v = wait_for(
        driver,
        "the layout at 768 px",
        WAIT,
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];",
        |v| v[1].as_u64().is_some_and(|w| w <= 768),
    )
    .await?;
    driver.set_window_size(1280, 1000).await?;
    if v[0].as_u64() > v[1].as_u64() {
        return Err(format!("/cameras/1/masks scrolls sideways at 768 px: {v}"));
    }
    Ok(())
}

async fn editor(driver: &Driver, demo: &Demo) -> Res<()> {
    let password = sign_in(driver, demo).await?;
    let admin = Api::login(demo, &demo.user, &password).await?;
    let saved = draw_and_save(driver, demo, &admin).await?;
    fits_768(driver).await?;
    keyboard_actions(driver).await?;
    check_console(driver, "/cameras/1/masks after saving", STRICT).await?;

    // The frames recorded after the save are masked.
    recorded_frames_are_masked(&admin, &saved).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polygon_drawn_in_the_editor_is_saved() {
    // Segments of 2 s: the recording after the save is ready sooner.
    run_in_chromium("mask-editor", 1, &["--segment-seconds", "2"], editor).await;
}
