//! The system status page in headless Chromium: every demo camera recording
//! with a non-zero frame rate, the data directory's figures, the access
//! record's writer and the version, with no console error and no CSP
//! violation.
//!
//! Needs Debian's `chromium` and `chromium-driver`; the test fails (it does
//! not skip) when they are missing.

mod common;

use std::time::Duration;

use common::browser::{check_console, run_in_chromium, sign_in, ERRORS};
use common::webdriver::{wait_for, Driver, Res};
use common::Demo;

const CAMERA_ROWS: &str =
    "return Array.from(document.querySelectorAll('#system-camera-rows tr[data-camera]')) \
    .map((r) => ({ name: r.cells[0].textContent, state: r.cells[1].dataset.state, \
      fps: parseFloat(r.cells[2].textContent.replace(/\\s/g, '').replace(',', '.')) }));";

const FIGURES: &str = "const text = (id) => document.getElementById(id).textContent.trim(); \
    return { used: text('system-disk-used'), free: text('system-disk-free'), \
      rate: text('system-disk-rate'), days: text('system-disk-days'), \
      writer: text('system-audit-state'), version: text('system-version'), \
      message: document.getElementById('system-message').hidden };";

async fn system_page(driver: &Driver, demo: &Demo) -> Res<()> {
    sign_in(driver, demo).await?;
    // The navigation offers the page (in its administration menu).
    driver.find("nav a[href='/system']").await?;
    driver.goto(&demo.at("system")).await?;
    let rows = wait_for(
        driver,
        "both cameras recording with a frame rate",
        Duration::from_secs(20),
        CAMERA_ROWS,
        |v| {
            v.as_array().is_some_and(|rows| {
                rows.len() == 2
                    && rows
                        .iter()
                        .all(|r| r["state"] == "recording" && r["fps"].as_f64() > Some(0.0))
            })
        },
    )
    .await?;
    eprintln!("cameras: {rows}");
    let figures = wait_for(
        driver,
        "the disk and access-record figures",
        Duration::from_secs(10),
        FIGURES,
        |v| {
            ["used", "free", "rate", "days", "writer"]
                .iter()
                .all(|k| v[*k].as_str().is_some_and(|s| !s.is_empty()))
        },
    )
    .await?;
    eprintln!("figures: {figures}");
    if figures["version"] != env!("CARGO_PKG_VERSION") {
        return Err(format!("wrong version shown: {figures}"));
    }
    if figures["message"] != true {
        return Err(format!("the page shows an error: {figures}"));
    }
    // Free space is known, and the cameras write, so the days are a number.
    let days = figures["days"].as_str().unwrap_or_default();
    if !days.chars().any(|c| c.is_ascii_digit()) {
        return Err(format!("no days of recording shown: {figures}"));
    }
    let free = figures["free"].as_str().unwrap_or_default();
    if !free.chars().any(|c| c.is_ascii_digit()) {
        return Err(format!("no free space shown: {figures}"));
    }

    // Nothing may go to the console as an error or violate the CSP.
    let console = check_console(driver, "/system", ERRORS).await?;
    eprintln!("browser console:\n{console}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_page_shows_cameras_disk_and_record_in_chromium() {
    run_in_chromium("system-page", 2, &[], system_page).await;
}
