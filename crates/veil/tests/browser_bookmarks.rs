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

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::webdriver::{wait_for, Driver, Res};
use common::Demo;
use serde_json::{json, Value};
use veil_base::{Time90k, TIME_UNITS_PER_SEC};

const OPERATOR: &str = "olga.operator";
const PASSWORD: &str = "a long operator password 7";

/// A signed-in API client and its CSRF token.
struct Api {
    http: reqwest::Client,
    csrf: String,
}

impl Api {
    async fn login(demo: &Demo, user: &str, password: &str) -> Res<Api> {
        let http = common::client();
        let r = http
            .post(demo.at("api/v1/session"))
            .json(&json!({ "username": user, "password": password }))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let v: Value = r.json().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("login of {user}: {status} {v}"));
        }
        let csrf = v["csrf"].as_str().ok_or("no csrf")?.to_owned();
        Ok(Api { http, csrf })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: String,
        body: Option<Value>,
        expect: u16,
    ) -> Res<Value> {
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header("x-csrf-token", &self.csrf);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        if status != expect {
            return Err(format!("{method} {url}: {status} (wanted {expect}) {text}"));
        }
        Ok(if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|e| e.to_string())?
        })
    }
}

/// An operator account, signed in through the API with its own password
/// and the usage policy acknowledged.
async fn operator(demo: &Demo) -> Res<Api> {
    let admin = Api::login(
        demo,
        &demo.user,
        demo.password.as_deref().ok_or("no password")?,
    )
    .await?;
    let created = admin
        .send(
            reqwest::Method::POST,
            demo.at("api/v1/users"),
            Some(json!({ "name": OPERATOR, "roles": ["operator"] })),
            201,
        )
        .await?;
    let first = created["password"].as_str().ok_or("no first password")?;
    let op = Api::login(demo, OPERATOR, first).await?;
    op.send(
        reqwest::Method::POST,
        demo.at("api/v1/session/password"),
        Some(json!({ "current": first, "new": PASSWORD })),
        204,
    )
    .await?;
    let op = Api::login(demo, OPERATOR, PASSWORD).await?;
    let policy = op
        .send(reqwest::Method::GET, demo.at("api/v1/policy"), None, 200)
        .await?;
    if policy["acknowledged"] != true {
        op.send(
            reqwest::Method::POST,
            demo.at("api/v1/policy/ack"),
            Some(json!({ "version": policy["version"] })),
            204,
        )
        .await?;
    }
    Ok(op)
}

const ROWS: &str = "return Array.from(document.querySelectorAll('#bookmark-rows tr')).map((r) => \
    ({ id: r.dataset.id, cells: Array.from(r.cells).map((c) => c.textContent), \
       time: (r.querySelector('time') || {}).dateTime || null, \
       play: (r.querySelector('a.play') || {}).href || null }));";

async fn click(driver: &Driver, css: &str) -> Res<()> {
    let e = driver.find(css).await?;
    driver.click(&e).await
}

/// Reads the console since the last read; fails on an error, a CSP
/// violation or a message missing from the catalogue (with `strict`), or
/// on a CSP violation only.
async fn check_console(driver: &Driver, strict: bool) -> Res<()> {
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
    if console.contains("Content Security Policy") {
        return Err(format!("CSP violation in the console:\n{console}"));
    }
    if strict && (console.contains("[SEVERE]") || console.contains("not in the catalogue")) {
        return Err(format!("errors in the console:\n{console}"));
    }
    Ok(())
}

async fn scenario(driver: &Driver, demo: &Demo) -> Res<()> {
    let op = operator(demo).await?;
    let cams = op
        .send(reqwest::Method::GET, demo.at("api/v1/cameras"), None, 200)
        .await?;
    let cam = cams[0]["id"].as_i64().ok_or("no camera")?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs() as i64;
    let start = Time90k((now - 5) * TIME_UNITS_PER_SEC).to_rfc3339();
    let van = op
        .send(
            reqwest::Method::POST,
            demo.at("api/v1/bookmarks"),
            Some(json!({ "camera_id": cam, "start": start, "note": "Delivery van at the loading bay" })),
            201,
        )
        .await?;
    let van_id = van["id"].as_i64().ok_or("no id")?;
    op.send(
        reqwest::Method::POST,
        demo.at("api/v1/bookmarks"),
        Some(
            json!({ "camera_id": cam, "start": Time90k((now - 3) * TIME_UNITS_PER_SEC).to_rfc3339(),
                     "end": Time90k((now - 1) * TIME_UNITS_PER_SEC).to_rfc3339(),
                     "note": "Cyclist passing" }),
        ),
        201,
    )
    .await?;

    // Sign in as the operator.
    driver.goto(&demo.at("login")).await?;
    let user = driver.find("#username").await?;
    driver.send_keys(&user, OPERATOR).await?;
    let pass = driver.find("#password").await?;
    driver.send_keys(&pass, PASSWORD).await?;
    click(driver, "#login-button").await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    while driver.current_url().await?.ends_with("/login") {
        if Instant::now() > deadline {
            return Err("login did not leave the login page".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

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
    click(driver, "#bookmark-search-button").await?;
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
    click(driver, "#bookmark-rows button.edit").await?;
    let input = driver.find("#bookmark-rows input.note-input").await?;
    driver.clear(&input).await?;
    driver.send_keys(&input, "Delivery van, white").await?;
    click(driver, "#bookmark-rows .note-edit button").await?;
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
            reqwest::Method::GET,
            demo.at("api/v1/bookmarks?q=white"),
            None,
            200,
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
    check_console(driver, true).await?;

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
    click(driver, "#bookmark-rows a.play").await?;
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
    check_console(driver, false).await?;

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
    click(driver, "#bookmark-rows button.delete").await?;
    click(driver, "#bookmark-rows .confirm button").await?;
    wait_for(
        driver,
        "the row removed",
        Duration::from_secs(15),
        ROWS,
        |v| v.as_array().is_some_and(|r| r.is_empty()),
    )
    .await?;
    let left = op
        .send(reqwest::Method::GET, demo.at("api/v1/bookmarks"), None, 200)
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
    check_console(driver, true).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookmarks_are_searched_edited_played_and_deleted_in_chromium() {
    let data = tempfile::tempdir().expect("tempdir");
    let demo = Demo::start(data.path(), 1, &[]);
    let driver = Driver::start().await;
    if let Err(error) = scenario(&driver, &demo).await {
        let url = driver.current_url().await.unwrap_or_default();
        let console = driver.console_log().await;
        panic!(
            "browser test failed: {error}\npage: {url}\n--- browser console ---\n{console}\n\
             --- veil demo output ---\n{}",
            demo.output()
        );
    }
}
