//! A camera's retention on the cameras page in headless Chromium: 72 hours
//! saved without a justification; 1000 hours refused without one, the
//! server's message naming the field shown in the form; saved with one, and
//! the API then says 1000 hours from the camera's own rule. The page shows
//! each camera's area and offers the live-only mode, has no console errors
//! and does not scroll sideways at 768 px.
//!
//! Requires Debian's `chromium` and `chromium-driver` packages; the test
//! fails (it does not skip) when they are missing.

mod common;

use common::api::Api;
use common::browser::{
    check_console, run_in_chromium, sign_in, CSP, NOT_IN_CATALOGUE, STRICT, WAIT,
};
use common::webdriver::{wait_for, Driver, Res};
use common::Demo;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// The retention form's state: [hidden, message, message is an error, the
/// camera row's text].
const FORM: &str = "const e = document.getElementById('retention-form-error'); \
     const row = document.getElementById('camera-row-1'); \
     return [document.getElementById('retention-form').hidden, e.hidden ? '' : e.textContent, \
       e.classList.contains('error'), row ? row.textContent : ''];";

async fn set_hours(driver: &Driver, hours: &str, justification: &str) -> Res<()> {
    let h = driver.find("#ret-hours").await?;
    driver.clear(&h).await?;
    driver.send_keys(&h, hours).await?;
    let j = driver.find("#ret-justification").await?;
    driver.clear(&j).await?;
    if !justification.is_empty() {
        driver.send_keys(&j, justification).await?;
    }
    driver.click(&driver.find("#retention-save").await?).await
}

async fn retention(driver: &Driver, demo: &Demo) -> Res<()> {
    let password = sign_in(driver, demo).await?;
    driver.goto(&demo.at("admin/cameras")).await?;
    let row = wait_for(
        driver,
        "camera 1 with its retention",
        WAIT,
        "const b = document.getElementById('camera-retention-1'); \
         return b ? document.getElementById('camera-row-1').textContent : null;",
        |v| v.is_string(),
    )
    .await?;
    let row = row.as_str().unwrap_or_default();
    if !row.contains("private premises") || !row.contains("168 h (installation default)") {
        return Err(format!("the row lacks the area or the retention: {row}"));
    }
    let live_only = driver
        .exec(
            "return !!document.querySelector('#cam-mode option[value=live_only]') && \
             !!document.querySelector('#cam-area option[value=public_facing]');",
            json!([]),
        )
        .await?;
    if live_only != true {
        return Err("the camera form offers no live-only mode or no area".into());
    }
    check_console(driver, "/admin/cameras", STRICT).await?;

    driver
        .click(&driver.find("#camera-retention-1").await?)
        .await?;
    wait_for(
        driver,
        "the retention form",
        WAIT,
        "return document.getElementById('retention-form').hidden ? null : \
         [document.getElementById('ret-hours').value, \
          document.getElementById('retention-in-force').textContent];",
        |v| {
            v[0] == "168"
                && v[1]
                    .as_str()
                    .is_some_and(|s| s.contains("installation default"))
        },
    )
    .await?;
    fits_768(driver).await?;

    // 72 hours needs no justification.
    set_hours(driver, "72", "").await?;
    wait_for(driver, "72 hours saved", WAIT, FORM, |v| {
        v[1].as_str()
            .is_some_and(|m| m.contains("72 h (this camera's rule)"))
            && v[2] == false
            && v[3]
                .as_str()
                .is_some_and(|r| r.contains("72 h (this camera's rule)"))
    })
    .await?;

    // 1000 hours without a justification: refused, the field named.
    set_hours(driver, "1000", "").await?;
    let refused = wait_for(driver, "the refusal", WAIT, FORM, |v| v[2] == true).await?;
    let message = refused[1].as_str().unwrap_or_default();
    if !message.contains("renditions.main.justification") || !message.contains("30 days") {
        return Err(format!("the refusal does not name the field: {refused}"));
    }
    // The refused request is the browser's one logged error.
    check_console(
        driver,
        "/admin/cameras after the refusal",
        &[CSP, NOT_IN_CATALOGUE],
    )
    .await?;
    let admin = Api::login(demo, &demo.user, &password).await?;
    let v = admin
        .send(
            Method::GET,
            "/api/v1/cameras/1/retention",
            None,
            StatusCode::OK,
        )
        .await?;
    if v["renditions"]["main"]["hours"] != 72 {
        return Err(format!("a refused change changed the retention: {v}"));
    }

    // With a justification it is saved.
    set_hours(driver, "1000", "Thefts are reported weeks later").await?;
    wait_for(driver, "1000 hours saved", WAIT, FORM, |v| {
        v[2] == false
            && v[3]
                .as_str()
                .is_some_and(|r| r.contains("1000 h (this camera's rule)"))
    })
    .await?;
    let v = admin
        .send(
            Method::GET,
            "/api/v1/cameras/1/retention",
            None,
            StatusCode::OK,
        )
        .await?;
    let main = &v["renditions"]["main"];
    if main["hours"] != 1000
        || main["source"] != "camera"
        || main["justification"] != "Thefts are reported weeks later"
    {
        return Err(format!("the API shows {v}"));
    }
    check_console(driver, "/admin/cameras after saving", STRICT).await?;
    Ok(())
}

/// At 768 px wide the page does not scroll sideways.
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
    if v[0].as_u64() > v[1].as_u64() {
        let wide = driver
            .exec(
                "const w = document.documentElement.clientWidth; \
                 return Array.from(document.querySelectorAll('body *')) \
                   .filter((e) => !e.closest('.table-scroll') && e.getBoundingClientRect().right > w + 1) \
                   .slice(0, 8).map((e) => `${e.tagName}#${e.id}.${e.className} \
                     ${Math.round(e.getBoundingClientRect().width)}`);",
                json!([]),
            )
            .await?;
        driver.set_window_size(1280, 1000).await?;
        return Err(format!(
            "/admin/cameras scrolls sideways at 768 px: {v}; too wide: {wide}"
        ));
    }
    driver.set_window_size(1280, 1000).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cameras_retention_is_set_on_the_cameras_page() {
    run_in_chromium("camera-retention", 1, &[], retention).await;
}
