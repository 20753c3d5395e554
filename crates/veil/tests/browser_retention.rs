//! The retention page in headless Chromium: the table lists every data set
//! from `GET /api/v1/retention`, among them the sessions (with the signed-in
//! session counted) and each demo camera's recordings, each with its rule in
//! words; no console error, no CSP violation, no sideways scrolling at
//! 768 px.
//!
//! Needs Debian's `chromium` and `chromium-driver`; the test fails (it does
//! not skip) when they are missing.

mod common;

use std::time::Duration;

use common::browser::{check_console, run_in_chromium, sign_in, ERRORS};
use common::webdriver::{wait_for, Driver, Res};
use common::Demo;

/// The table's rows; the page is loaded again while a camera has no
/// segment written yet (the first closes after 2 s of video).
const ROWS: &str = "const rows = Array.from(document.querySelectorAll('#retention-rows tr')) \
    .map((r) => ({ set: r.dataset.dataSet, name: r.cells[0].textContent, \
      rule: r.cells[1].textContent, items: r.cells[2].textContent, \
      oldest: r.cells[3].textContent, next: r.cells[4].textContent })); \
    if (rows.some((r) => r.set === 'recordings' && r.items === '0')) { \
      setTimeout(() => location.reload(), 500); return null; } \
    return rows;";

const SIDEWAYS: &str =
    "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];";

async fn retention_page(driver: &Driver, demo: &Demo) -> Res<()> {
    sign_in(driver, demo).await?;
    driver.find("nav a[href='/admin/retention']").await?;
    driver.goto(&demo.at("admin/retention")).await?;
    let rows = wait_for(
        driver,
        "the data sets with sessions and both cameras' recordings",
        Duration::from_secs(40),
        ROWS,
        |v| {
            v.as_array().is_some_and(|rows| {
                rows.iter().filter(|r| r["set"] == "recordings").count() == 2
                    && rows.iter().any(|r| r["set"] == "sessions")
            })
        },
    )
    .await?;
    eprintln!("rows: {rows}");
    let rows = rows.as_array().cloned().unwrap_or_default();
    let row = |set: &str| rows.iter().find(|r| r["set"] == set).cloned();
    let sessions = row("sessions").ok_or("no sessions row")?;
    if sessions["name"] != "Sessions"
        || sessions["rule"] != "deleted 0 days after they end"
        || sessions["items"] != "1"
    {
        return Err(format!("sessions row wrong: {sessions}"));
    }
    for r in rows.iter().filter(|r| r["set"] == "recordings") {
        let name = r["name"].as_str().unwrap_or_default();
        let rule = r["rule"].as_str().unwrap_or_default();
        if !name.starts_with("Recordings: Synthetic ")
            || !rule.starts_with("destroyed 168 hours after each hour of video")
            || r["oldest"]
                .as_str()
                .is_none_or(|s| !s.chars().any(|c| c.is_ascii_digit()))
            || r["next"]
                .as_str()
                .is_none_or(|s| !s.chars().any(|c| c.is_ascii_digit()))
        {
            return Err(format!("recordings row wrong: {r}"));
        }
    }
    for set in [
        "motion_events",
        "bookmarks",
        "login_attempts",
        "approvals",
        "api_tokens",
        "disabled_accounts",
        "access_record",
    ] {
        row(set).ok_or_else(|| format!("no {set} row"))?;
    }
    let accounts = row("disabled_accounts").unwrap_or_default();
    if accounts["rule"] != "anonymised 60 days after disabling" {
        return Err(format!("disabled accounts row wrong: {accounts}"));
    }
    driver.set_window_size(768, 1000).await?;
    let v = wait_for(
        driver,
        "the layout at 768 px",
        Duration::from_secs(10),
        SIDEWAYS,
        |v| v[1].as_u64().is_some_and(|w| w <= 768),
    )
    .await?;
    if v[0].as_u64() > v[1].as_u64() {
        return Err(format!("the page scrolls sideways at 768 px: {v}"));
    }
    let console = check_console(driver, "/admin/retention", ERRORS).await?;
    eprintln!("browser console:\n{console}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_page_lists_sessions_and_recordings_with_their_rules_in_chromium() {
    run_in_chromium(
        "retention-page",
        2,
        &["--segment-seconds", "2"],
        retention_page,
    )
    .await;
}
