//! The register of data-subject requests on the DPO's desk in headless
//! Chromium. A data-protection officer (the `dpo` template, with a second
//! factor) opens `/dpo/requests` from the desk's sub-navigation, registers
//! an erasure request received on 31 January 2026 with the form (the API
//! names a missing field first, shown above the form and marked), lands on
//! `/dpo/requests/{id}`, records the identity check with the step's form
//! and sees the next step offered; back on the list the request is shown
//! overdue (due 28 February). The API confirms the status. No console
//! error beyond the one refusal, no CSP violation, no message missing
//! from the catalogue, no sideways scrolling at 768 px.
//!
//! Needs Debian's `chromium` and `chromium-driver`; fails, not skips, when
//! they are missing.

mod common;

use common::api::Api;
use common::browser::{adopt, console_lines, read_console, run_in_chromium, STRICT, WAIT};
use common::webdriver::{wait_for, Driver, Res};
use common::Demo;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const DPO: &str = "dina.dpo";
const PASSWORD: &str = "a long officer password 9";

async fn officer(demo: &Demo) -> Res<Api> {
    let admin = Api::login_demo(demo).await?;
    let first = admin.create_user(DPO, &["dpo"]).await?;
    let s = Api::first_login(demo, DPO, &first, PASSWORD).await?;
    s.enrol_totp().await?;
    s.acknowledge_policy().await?;
    Ok(s)
}

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

async fn type_into(driver: &Driver, css: &str, text: &str) -> Res<()> {
    let el = driver.find(css).await?;
    driver.clear(&el).await?;
    driver.send_keys(&el, text).await
}

async fn fits_768(driver: &Driver, page: &str) -> Res<()> {
    driver.set_window_size(768, 900).await?;
    let fits = driver
        .exec(
            "return document.documentElement.scrollWidth <= window.innerWidth;",
            json!([]),
        )
        .await?;
    driver.set_window_size(1280, 900).await?;
    if fits != true {
        return Err(format!("{page} scrolls sideways at 768 px"));
    }
    Ok(())
}

async fn scenario(driver: &Driver, demo: &Demo) -> Res<()> {
    let dpo = officer(demo).await?;
    adopt(driver, demo, &dpo).await?;
    driver.goto(&demo.at("dpo")).await?;
    driver
        .click_on("nav.subnav a[href=\"/dpo/requests\"]")
        .await?;
    loaded(driver, "dpo-requests").await?;
    fits_768(driver, "/dpo/requests").await?;

    // The form: the received time set as the browser's picker would, the
    // subject left out first.
    driver
        .exec(
            "document.getElementById('dsr-kind').value = 'erasure'; \
             document.getElementById('dsr-received').value = '2026-01-31T10:00';",
            json!([]),
        )
        .await?;
    type_into(driver, "#dsr-contact", "letter to the shop").await?;
    type_into(
        driver,
        "#dsr-description",
        "Blue jacket, at the till around ten",
    )
    .await?;
    driver.click_on("#dsr-form button[type=submit]").await?;
    let refused = wait_for(
        driver,
        "the refusal of the missing subject",
        WAIT,
        "const e = document.getElementById('dsr-error'); \
         return [e.hidden ? '' : e.textContent, \
                 document.getElementById('dsr-subject').getAttribute('aria-invalid')];",
        |v| v[0] != "",
    )
    .await?;
    if !refused[0]
        .as_str()
        .is_some_and(|m| m.starts_with("subject"))
        || refused[1] != "true"
    {
        return Err(format!("the refusal is not shown at subject: {refused}"));
    }
    type_into(driver, "#dsr-subject", "Customer of 31 January").await?;
    driver.click_on("#dsr-form button[type=submit]").await?;
    let path = wait_for(
        driver,
        "the request's page",
        WAIT,
        "return location.pathname;",
        |v| v.as_str().is_some_and(|p| p.starts_with("/dpo/requests/")),
    )
    .await?;
    let id: i64 = path
        .as_str()
        .and_then(|p| p.rsplit('/').next())
        .and_then(|x| x.parse().ok())
        .ok_or(format!("no request id in {path}"))?;
    loaded(driver, "dpo-request").await?;
    fits_768(driver, "/dpo/requests/{id}").await?;
    let footage: Value = driver
        .exec(
            "return !!document.querySelector('section#request-footage');",
            json!([]),
        )
        .await?;
    if footage != true {
        return Err("no #request-footage section".into());
    }

    // The identity check with the step's form.
    type_into(
        driver,
        "#dsr-verify-method",
        "Signature compared with the letter",
    )
    .await?;
    driver
        .click_on("#dsr-steps form:first-child button[type=submit]")
        .await?;
    wait_for(
        driver,
        "the search step to be offered",
        WAIT,
        "return !!document.getElementById('dsr-search-start');",
        |v| v == true,
    )
    .await?;
    let r = dpo
        .send(
            Method::GET,
            &format!("api/v1/requests/{id}"),
            None,
            StatusCode::OK,
        )
        .await?;
    // The picker's value is local time (UTC in the test's browser): the
    // due date is a month later, at the month's end.
    if r["status"] != "verified"
        || r["kind"] != "erasure"
        || !r["due"]
            .as_str()
            .is_some_and(|d| d.starts_with("2026-02-28"))
    {
        return Err(format!("the request is not as entered: {r}"));
    }

    // Back on the list: overdue.
    driver
        .click_on("nav.subnav a[href=\"/dpo/requests\"]")
        .await?;
    loaded(driver, "dpo-requests").await?;
    let overdue: Value = driver
        .exec(
            "return !!document.querySelector('#dsr-table tbody tr.overdue');",
            json!([]),
        )
        .await?;
    if overdue != true {
        return Err("the request is not shown overdue".into());
    }
    // The one refusal (the missing subject) is the only error.
    let console = read_console(driver).await?;
    for line in console_lines(&console, STRICT) {
        let refusal = line.contains("/api/v1/requests ") && line.contains("400");
        if !refusal {
            return Err(format!("the console shows {line}"));
        }
    }
    Ok(())
}

#[tokio::test]
async fn the_register_of_requests_on_the_desk_in_chromium() {
    run_in_chromium("dsr-desk", 1, &[], scenario).await;
}
