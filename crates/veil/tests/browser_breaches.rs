//! The breach register in headless Chromium. Twenty failed logins under
//! unknown names raise a candidate; the data-protection officer opens
//! `/dpo/breaches` from the desk's sub-navigation, finds it with its
//! evidence linking to the access record, promotes it, and sees the breach
//! with its 72-hour clock; the desk's overview then shows the clock in its
//! banner. The page does not scroll sideways at 768 px; no console error,
//! no CSP violation, no message missing from the catalogue.
//!
//! Needs Debian's `chromium` and `chromium-driver`; fails, not skips, when
//! they are missing.

mod common;

use common::api::Api;
use common::browser::{adopt, console_lines, read_console, run_in_chromium, STRICT, WAIT};
use common::webdriver::{wait_for, Driver, Res};
use common::Demo;
use serde_json::json;

const DPO: &str = "dora.dpo";
const PASSWORD: &str = "a long officer password 9";

/// Waits until the page's root element `id` has loaded its data.
async fn loaded(driver: &Driver, id: &str) -> Res<()> {
    wait_for(
        driver,
        &format!("#{id} to load"),
        WAIT,
        &format!(
            "const e = document.getElementById('{id}'); \
             const m = document.getElementById('message'); \
             return [e ? e.dataset.loaded || '' : null, m && !m.hidden ? m.textContent : ''];"
        ),
        |v| v[0] == "true" || v[1] != "",
    )
    .await
    .and_then(|v| {
        if v[0] == "true" {
            Ok(())
        } else {
            Err(format!("#{id} did not load: {v}"))
        }
    })
}

async fn scenario(driver: &Driver, demo: &Demo) -> Res<()> {
    let admin = Api::login_demo(demo).await?;
    let first = admin.create_user(DPO, &["dpo"]).await?;
    let dpo = Api::first_login(demo, DPO, &first, PASSWORD).await?;
    dpo.enrol_totp().await?;
    dpo.acknowledge_policy().await?;
    for i in 0..20 {
        if Api::login(demo, &format!("nobody{i}"), "guess")
            .await
            .is_ok()
        {
            return Err("an unknown name signed in".into());
        }
    }
    adopt(driver, demo, &dpo).await?;
    driver.set_window_size(1280, 900).await?;
    driver.goto(&demo.at("dpo")).await?;
    driver
        .click_on("nav.subnav a[href=\"/dpo/breaches\"]")
        .await?;
    loaded(driver, "dpo-breaches").await?;
    let row = wait_for(
        driver,
        "the candidate",
        WAIT,
        "const r = document.querySelector('#cand-table tbody tr'); \
         if (!r) return null; \
         const a = r.querySelector('a[href^=\"/audit?before=\"]'); \
         return [r.cells[1].textContent, a ? a.getAttribute('href') : ''];",
        |v| !v.is_null(),
    )
    .await?;
    if row[0] != "Failed logins across the installation" || row[1] == "" {
        return Err(format!(
            "the candidate is not shown with its evidence: {row}"
        ));
    }
    driver
        .click_on("#cand-table tbody tr:first-child td.buttons button:not(.secondary)")
        .await?;
    let clock = wait_for(
        driver,
        "the breach and its clock",
        WAIT,
        "const b = document.querySelector('#breach-list article.breach'); \
         return b ? b.querySelector('p').textContent : null;",
        |v| !v.is_null(),
    )
    .await?;
    if !clock
        .as_str()
        .is_some_and(|c| c.contains("hours left to notify the authority"))
    {
        return Err(format!("no clock on the breach: {clock}"));
    }
    driver.set_window_size(768, 900).await?;
    let fits = driver
        .exec(
            "return document.documentElement.scrollWidth <= window.innerWidth;",
            json!([]),
        )
        .await?;
    driver.set_window_size(1280, 900).await?;
    if fits != true {
        return Err("/dpo/breaches scrolls sideways at 768 px".into());
    }
    driver.click_on("nav.subnav a[href=\"/dpo\"]").await?;
    loaded(driver, "dpo-desk").await?;
    let banner = driver
        .exec(
            "const l = document.querySelector('#breach-clock li[data-breach]'); \
             return l ? l.textContent : null;",
            json!([]),
        )
        .await?;
    if !banner.as_str().is_some_and(|b| b.contains("hours left")) {
        return Err(format!("no clock in the desk's banner: {banner}"));
    }
    let console = read_console(driver).await?;
    if let Some(line) = console_lines(&console, STRICT).first() {
        return Err(format!("the console shows {line}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_is_promoted_and_its_clock_shown_on_the_desk_in_chromium() {
    run_in_chromium("breaches", 1, &[], scenario).await;
}
