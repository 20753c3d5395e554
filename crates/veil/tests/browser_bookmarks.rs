//! The bookmark list in headless Chromium: an operator's bookmarks made
//! through the API are found by a search on `/bookmarks`, the note is changed
//! in place, "Play" opens the playback page at the bookmark's camera and
//! time, and a bookmark is deleted after a confirmation; no console error, no
//! CSP violation, no message missing from the catalogue, no horizontal
//! scrolling at 768 px.
//!
//! Needs Debian's `chromium` and `chromium-driver`; fails, not skips, when
//! they are missing.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::api::Api;
use common::browser::{check_console, run_in_chromium, sign_in_as, CSP, STRICT};
use common::webdriver::{wait_for, Driver, Res};
use common::Demo;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use veil_base::{Time90k, TIME_UNITS_PER_SEC};

const OPERATOR: &str = "olga.operator";
const PASSWORD: &str = "a long operator password 7";

/// An operator account, signed in through the API with its own password
/// and the usage policy acknowledged.
async fn operator(demo: &Demo) -> Res<Api> {
    let admin = Api::login_demo(demo).await?;
    let first = admin.create_user(OPERATOR, &["operator"]).await?;
    Api::first_login(demo, OPERATOR, &first, PASSWORD).await?;
    let op = Api::login(demo, OPERATOR, PASSWORD).await?;
    op.acknowledge_policy().await?;
    Ok(op)
}

const ROWS: &str = "return Array.from(document.querySelectorAll('#bookmark-rows tr')).map((r) => \
    ({ id: r.dataset.id, cells: Array.from(r.cells).map((c) => c.textContent), \
       time: (r.querySelector('time') || {}).dateTime || null, \
       play: (r.querySelector('a.play') || {}).href || null }));";

async fn scenario(driver: &Driver, demo: &Demo) -> Res<()> {
    let op = operator(demo).await?;
    let cams = op
        .send(Method::GET, "api/v1/cameras", None, StatusCode::OK)
        .await?;
    let cam = cams[0]["id"].as_i64().ok_or("no camera")?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs() as i64;
    let start = Time90k((now - 5) * TIME_UNITS_PER_SEC).to_rfc3339();
    let van = op
        .send(
            Method::POST,
            "api/v1/bookmarks",
            Some(json!({ "camera_id": cam, "start": start, "note": "Delivery van at the loading bay" })),
            StatusCode::CREATED,
        )
        .await?;
    let van_id = van["id"].as_i64().ok_or("no id")?;
    op.send(
        Method::POST,
        "api/v1/bookmarks",
        Some(
            json!({ "camera_id": cam, "start": Time90k((now - 3) * TIME_UNITS_PER_SEC).to_rfc3339(),
                     "end": Time90k((now - 1) * TIME_UNITS_PER_SEC).to_rfc3339(),
                     "note": "Cyclist passing" }),
        ),
        StatusCode::CREATED,
    )
    .await?;

    // Sign in as the operator.
    sign_in_as(driver, demo, OPERATOR, PASSWORD).await?;

    // Both are listed, newest first; the search keeps the van.
    driver.goto(&demo.at("bookmarks")).await?;
    wait_for(
        driver,
        "two bookmarks listed",
        Duration::from_secs(15),
        ROWS,
        |v| v.as_array().is_some_and(|r| r.len() == 2),
    )
    .await?;
    let q = driver.find("#bookmark-q").await?;
    driver.send_keys(&q, "VAN").await?;
    driver.click_on("#bookmark-search-button").await?;
    let rows = wait_for(
        driver,
        "the search's one result",
        Duration::from_secs(15),
        ROWS,
        |v| v.as_array().is_some_and(|r| r.len() == 1),
    )
    .await?;
    let row = &rows[0];
    let cells: Vec<&str> = row["cells"]
        .as_array()
        .ok_or("no cells")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if cells.get(2) != Some(&"Delivery van at the loading bay") || cells.get(3) != Some(&OPERATOR) {
        return Err(format!("row: {row}"));
    }
    let shown = driver
        .exec(
            "return new Date(arguments[0]).getTime() === new Date(arguments[1]).getTime();",
            json!([row["time"], start]),
        )
        .await?;
    if shown != true {
        return Err(format!("time {} is not {start}", row["time"]));
    }
    let url = driver.current_url().await?;
    if !url.contains("q=VAN") {
        return Err(format!("the search is not in the address: {url}"));
    }

    // The note is changed in place.
    driver.click_on("#bookmark-rows button.edit").await?;
    let input = driver.find("#bookmark-rows input.note-input").await?;
    driver.clear(&input).await?;
    driver.send_keys(&input, "Delivery van, white").await?;
    driver.click_on("#bookmark-rows .note-edit button").await?;
    wait_for(
        driver,
        "the changed note",
        Duration::from_secs(15),
        ROWS,
        |v| v[0]["cells"][2] == "Delivery van, white",
    )
    .await?;
    let listed = op
        .send(
            Method::GET,
            "api/v1/bookmarks?q=white",
            None,
            StatusCode::OK,
        )
        .await?;
    if listed["bookmarks"][0]["id"] != van_id {
        return Err(format!("the server has not the new note: {listed}"));
    }

    // No horizontal scrolling at 768 px.
    driver.set_window_size(768, 900).await?;
    let fits = driver
        .exec(
            "return document.documentElement.scrollWidth <= window.innerWidth;",
            json!([]),
        )
        .await?;
    if fits != true {
        return Err("the bookmark list scrolls sideways at 768 px".into());
    }
    driver.set_window_size(1280, 900).await?;
    check_console(driver, "/bookmarks", STRICT).await?;

    // "Play" opens the playback page at the camera and the time.
    let href = driver
        .exec(
            "return document.querySelector('#bookmark-rows a.play').href;",
            json!([]),
        )
        .await?;
    let expected_query = driver
        .exec(
            "const u = new URL(arguments[0]); \
             return { path: u.pathname, cameras: u.searchParams.get('cameras'), t: u.searchParams.get('t') };",
            json!([href]),
        )
        .await?;
    if expected_query != json!({ "path": "/playback", "cameras": cam.to_string(), "t": start }) {
        return Err(format!("Play links to {href}"));
    }
    driver.click_on("#bookmark-rows a.play").await?;
    let landed = wait_for(
        driver,
        "the playback page",
        Duration::from_secs(15),
        "const n = performance.getEntriesByType('navigation')[0]; \
         const u = new URL(n ? n.name : location.href); \
         return { path: u.pathname, cameras: u.searchParams.get('cameras'), t: u.searchParams.get('t') };",
        |v| v["path"] == "/playback",
    )
    .await?;
    if landed != expected_query {
        return Err(format!("landed on {landed}, wanted {expected_query}"));
    }
    check_console(driver, "/playback from a bookmark", &[CSP]).await?;

    // Delete, after a confirmation.
    driver.goto(&demo.at("bookmarks?q=white")).await?;
    wait_for(
        driver,
        "the search from the address",
        Duration::from_secs(15),
        ROWS,
        |v| v.as_array().is_some_and(|r| r.len() == 1),
    )
    .await?;
    driver.click_on("#bookmark-rows button.delete").await?;
    driver.click_on("#bookmark-rows .confirm button").await?;
    wait_for(
        driver,
        "the row removed",
        Duration::from_secs(15),
        ROWS,
        |v| v.as_array().is_some_and(|r| r.is_empty()),
    )
    .await?;
    let left = op
        .send(Method::GET, "api/v1/bookmarks", None, StatusCode::OK)
        .await?;
    let notes: Vec<&str> = left["bookmarks"]
        .as_array()
        .ok_or("no list")?
        .iter()
        .filter_map(|b| b["note"].as_str())
        .collect();
    if notes != ["Cyclist passing"] {
        return Err(format!("left: {notes:?}"));
    }
    check_console(driver, "/bookmarks after deleting", STRICT)
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookmarks_are_searched_edited_played_and_deleted_in_chromium() {
    run_in_chromium("bookmarks", 1, &[], scenario).await;
}
