//! Evidence locks, restriction holds and storage quotas in headless
//! Chromium, on a running demo: an operator locks the last seconds of a
//! camera on `/locks` (a review date too far ahead is refused with the
//! server's message), extends it, and cannot release it; the DPO holds the
//! camera on `/holds`, playback of the held interval is refused naming the
//! hold, and the DPO releases it; the administrator sets a quota on
//! `/admin/quotas` that only the locked video exceeds, the camera shows as
//! blocked, and lifting the quota lets it record again. No console error,
//! no CSP violation, no message missing from the catalogue, no sideways
//! scrolling at 768 px.
//!
//! Needs Debian's `chromium` and `chromium-driver`; fails, not skips, when
//! they are missing.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::api::Api;
use common::browser::{check_console, run_in_chromium, sign_in, sign_in_as, STRICT};
use common::webdriver::{wait_for, Driver, Res};
use common::Demo;
use reqwest::{Method, StatusCode};
use serde_json::json;
use veil_base::{Time90k, TIME_UNITS_PER_SEC};

const PASSWORD: &str = "a long tester password 31";
const WAIT: Duration = Duration::from_secs(20);

/// An account with `role`, its password set and the usage policy
/// acknowledged, signed in through the API.
async fn account(demo: &Demo, name: &str, role: &str) -> Res<Api> {
    let admin = Api::login_demo(demo).await?;
    let first = admin.create_user(name, &[role]).await?;
    Api::first_login(demo, name, &first, PASSWORD).await?;
    let api = Api::login(demo, name, PASSWORD).await?;
    api.acknowledge_policy().await?;
    Ok(api)
}

fn now_secs() -> Res<i64> {
    Ok(SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs() as i64)
}

fn rfc(secs: i64) -> String {
    Time90k(secs * TIME_UNITS_PER_SEC).to_rfc3339()
}

async fn sign_out(driver: &Driver) -> Res<()> {
    driver
        .call(Method::DELETE, &driver.session_path("/cookie"), None)
        .await
        .map(|_| ())
}

/// Sets a `datetime-local` input to the RFC 3339 time `t` in the browser's
/// zone.
async fn set_time(driver: &Driver, css: &str, t: &str) -> Res<()> {
    driver
        .exec(
            "const d = new Date(arguments[1]); const p = (n) => String(n).padStart(2, '0'); \
             document.querySelector(arguments[0]).value = \
               `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;",
            json!([css, t]),
        )
        .await
        .map(|_| ())
}

async fn type_into(driver: &Driver, css: &str, text: &str) -> Res<()> {
    let e = driver.find(css).await?;
    driver.clear(&e).await?;
    driver.send_keys(&e, text).await
}

/// Opens `page` (`locks` or `holds`) and fills its form: the one camera,
/// the interval and the reason.
async fn fill_form(
    driver: &Driver,
    demo: &Demo,
    page: &str,
    start: i64,
    end: i64,
    reason: &str,
) -> Res<()> {
    driver.goto(&demo.at(page)).await?;
    wait_for(
        driver,
        "the camera choice",
        WAIT,
        "return document.querySelectorAll('#p-cameras input').length;",
        |v| v == 1,
    )
    .await?;
    driver.click_on("#p-cameras input").await?;
    set_time(driver, "#p-start", &rfc(start)).await?;
    set_time(driver, "#p-end", &rfc(end)).await?;
    type_into(driver, "#p-reason", reason).await
}

const ROWS: &str = "return Array.from(document.querySelectorAll('#protection-table tbody tr[data-id]')).map((r) => \
    ({ id: Number(r.dataset.id), cells: Array.from(r.cells).map((c) => c.textContent) }));";
const MESSAGE: &str = "return document.getElementById('message').textContent;";

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
    // A role that may lock and extend, not release (no second factor needed).
    let admin = Api::login_demo(demo).await?;
    let grants: Vec<_> = ["locks.create", "locks.view", "locks.extend", "playback"]
        .iter()
        .map(|p| json!({"permission": p, "scope": {"kind": "all"}}))
        .collect();
    admin
        .send(
            Method::PUT,
            "api/v1/roles/lock-keeper",
            Some(json!({ "grants": grants })),
            StatusCode::CREATED,
        )
        .await?;
    let op = account(demo, "olga.keeper", "lock-keeper").await?;
    let dpo = account(demo, "fatima.dpo", "dpo").await?;
    let cams = op
        .send(Method::GET, "api/v1/cameras", None, StatusCode::OK)
        .await?;
    let cam = cams[0]["id"].as_i64().ok_or("no camera")?;
    // Some recording to lock.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let now = now_secs()?;

    // The operator locks the last seconds on /locks.
    sign_in_as(driver, demo, "olga.keeper", PASSWORD).await?;
    fill_form(
        driver,
        demo,
        "locks",
        now - 6,
        now - 1,
        "Shoplifting at the entrance, store report 88",
    )
    .await?;
    set_time(driver, "#p-review", &rfc(now + 2 * 365 * 86_400)).await?;
    driver
        .click_on("#protection-form button[type=submit]")
        .await?;
    wait_for(driver, "the review date refused", WAIT, MESSAGE, |v| {
        v.as_str()
            .is_some_and(|m| m.contains("review must be at most 365 days"))
    })
    .await?;
    set_time(driver, "#p-review", &rfc(now + 14 * 86_400)).await?;
    driver
        .click_on("#protection-form button[type=submit]")
        .await?;
    let rows = wait_for(driver, "the new lock listed", WAIT, ROWS, |v| {
        v.as_array().is_some_and(|r| r.len() == 1)
    })
    .await?;
    let lock = rows[0]["id"].as_i64().ok_or("no lock id")?;
    let shown = &rows[0]["cells"];
    if shown[1] != "Active" || shown[4] != "Shoplifting at the entrance, store report 88" {
        return Err(format!("lock row: {shown}"));
    }
    let l = op
        .send(
            Method::GET,
            &format!("api/v1/locks/{lock}"),
            None,
            StatusCode::OK,
        )
        .await?;
    if l["segments"].as_i64().unwrap_or(0) < 1 || l["cameras"][0]["id"] != cam {
        return Err(format!("the lock keeps nothing: {l}"));
    }

    // Extended in place with a new reason.
    driver
        .click_on(&format!(
            "#protection-table tr[data-id='{lock}'] button.extend"
        ))
        .await?;
    set_time(driver, "#inline-review", &rfc(now + 60 * 86_400)).await?;
    type_into(
        driver,
        "#inline-reason",
        "The store's lawyer asked for more time",
    )
    .await?;
    driver
        .click_on("tr.inline-form button[type=submit]")
        .await?;
    wait_for(
        driver,
        "the extension",
        WAIT,
        "return document.querySelector('tr.inline-form') === null;",
        |v| v == true,
    )
    .await?;
    let l = op
        .send(
            Method::GET,
            &format!("api/v1/locks/{lock}"),
            None,
            StatusCode::OK,
        )
        .await?;
    if l["extended"]["reason"] != "The store's lawyer asked for more time" {
        return Err(format!("not extended: {l}"));
    }
    let kept = l["segments"].clone();
    // Releasing needs locks.release: no button for this role.
    let release = driver
        .exec(
            "return document.querySelectorAll('#protection-table button.release').length;",
            json!([]),
        )
        .await?;
    if release != 0 || l["can_release"] != false || l["can_extend"] != true {
        return Err(format!("release offered without locks.release: {l}"));
    }
    fits_768(driver, "/locks").await?;
    check_console(driver, "/locks", &[common::browser::CSP]).await?;
    sign_out(driver).await?;

    // The DPO holds the camera's recent video on /holds.
    sign_in_as(driver, demo, "fatima.dpo", PASSWORD).await?;
    fill_form(
        driver,
        demo,
        "holds",
        now - 6,
        now - 2,
        "Restriction requested by a data subject, request 4",
    )
    .await?;
    driver
        .click_on("#protection-form button[type=submit]")
        .await?;
    let rows = wait_for(driver, "the new hold listed", WAIT, ROWS, |v| {
        v.as_array().is_some_and(|r| r.len() == 1)
    })
    .await?;
    let hold = rows[0]["id"].as_i64().ok_or("no hold id")?;
    let video = format!(
        "api/v1/cameras/{cam}/video.mp4?start={}&end={}",
        rfc(now - 5),
        rfc(now - 3)
    );
    let (status, body) = admin.call(Method::GET, &video, None).await?;
    if status != StatusCode::FORBIDDEN {
        return Err(format!("held video answered {status}: {body}"));
    }
    let said = body["error"]["message"].as_str().unwrap_or_default();
    if body["error"]["code"] != "held" || !said.contains(&format!("restriction hold {hold}")) {
        return Err(format!("held video: {body}"));
    }
    driver
        .click_on(&format!("#protection-table tr[data-id='{hold}'] button"))
        .await?;
    type_into(
        driver,
        "#inline-reason",
        "The data subject withdrew the request",
    )
    .await?;
    driver
        .click_on("tr.inline-form button[type=submit]")
        .await?;
    wait_for(driver, "the hold released", WAIT, ROWS, |v| {
        v[0]["cells"][1] == "Released"
    })
    .await?;
    fits_768(driver, "/holds").await?;
    check_console(driver, "/holds", STRICT).await?;
    sign_out(driver).await?;
    let _ = dpo;

    // The administrator's quota: only the locked seconds are left over it,
    // so the camera is blocked; lifting it lets it record again.
    sign_in(driver, demo).await?;
    driver.goto(&demo.at("admin/quotas")).await?;
    wait_for(
        driver,
        "the camera row",
        WAIT,
        "return document.querySelectorAll('#quota-table tbody tr').length;",
        |v| v == 1,
    )
    .await?;
    type_into(driver, &format!("input[name='camera-{cam}']"), "0.000001").await?;
    driver.click_on("#quota-form button[type=submit]").await?;
    let state = wait_for(
        driver,
        "the camera blocked",
        WAIT,
        "return document.querySelector('#quota-table tbody tr').cells[3].textContent;",
        |v| v.as_str().is_some_and(|s| s.starts_with("Blocked")),
    )
    .await?;
    if !state
        .as_str()
        .unwrap_or_default()
        .contains("release a lock")
    {
        return Err(format!("blocked state says: {state}"));
    }
    let l = admin
        .send(
            Method::GET,
            &format!("api/v1/cameras/{cam}/status"),
            None,
            StatusCode::OK,
        )
        .await?;
    let deadline = std::time::Instant::now() + WAIT;
    let mut status = l;
    while !status.to_string().contains("storage quota reached") {
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "the camera's status does not say it is blocked: {status}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        status = admin
            .send(
                Method::GET,
                &format!("api/v1/cameras/{cam}/status"),
                None,
                StatusCode::OK,
            )
            .await?;
    }
    let locked = admin
        .send(
            Method::GET,
            &format!("api/v1/locks/{lock}"),
            None,
            StatusCode::OK,
        )
        .await?;
    if locked["segments"] != kept {
        return Err(format!("locked video changed: {locked}"));
    }
    type_into(driver, &format!("input[name='camera-{cam}']"), "").await?;
    driver.click_on("#quota-form button[type=submit]").await?;
    wait_for(
        driver,
        "the camera recording again",
        WAIT,
        "return document.querySelector('#quota-table tbody tr').cells[3].textContent;",
        |v| v == "Recording",
    )
    .await?;
    fits_768(driver, "/admin/quotas").await?;
    check_console(driver, "/admin/quotas", STRICT)
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_holds_and_quotas_in_chromium() {
    run_in_chromium("protections", 1, &[], scenario).await;
}
