//! Administration and the approvals inbox in headless Chromium: an account
//! created on the users page signs in with its one-time password, replaces it
//! and reaches the live grid; an approver approves a request in the inbox;
//! the role editor saves a scope and a playback window (and the server
//! refuses an administrator giving themselves masks.lift); the usage policy
//! page publishes a version and lists who has not acknowledged it. Every page
//! is checked for console errors and Content-Security-Policy violations.
//!
//! Requires Debian's `chromium` and `chromium-driver` packages; the tests
//! fail (they do not skip) when they are missing.

mod common;

use common::api::Api;
use common::browser::{
    check_console, replace_one_time_password, run_in_chromium, sign_in, sign_in_as, wait_for_path,
    STRICT, WAIT,
};
use common::webdriver::{artefacts_dir, wait_for, Driver, Res};
use common::Demo;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// At 768 px wide (a tablet), the page does not scroll sideways: wide
/// tables scroll in their own region. Screenshots at 1280 and 768 px go to
/// the test artefacts.
async fn fits_768(driver: &Driver, page: &str) -> Res<()> {
    let stem: String = page
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let shot = |w: u32| artefacts_dir().join(format!("admin{stem}-{w}.png"));
    driver.screenshot_to(&shot(1280)).await?;
    driver.set_window_size(768, 1000).await?;
    let v = wait_for(
        driver,
        "the layout at 768 px",
        WAIT,
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];",
        |v| v[1].as_u64().is_some_and(|w| w <= 768),
    )
    .await?;
    driver.screenshot_to(&shot(768)).await?;
    driver.set_window_size(1280, 1000).await?;
    if v[0].as_u64() > v[1].as_u64() {
        return Err(format!("{page} scrolls sideways at 768 px: {v}"));
    }
    Ok(())
}

/// (a) The users page creates an operator; the one-time password is shown
/// once; the person signs in with it, chooses their own and lands on the live
/// grid.
async fn new_user(driver: &Driver, demo: &Demo) -> Res<()> {
    sign_in(driver, demo).await?;
    driver.goto(&demo.at("admin/users")).await?;
    wait_for(
        driver,
        "the role checkboxes and the account list",
        WAIT,
        "return [!!document.getElementById('new-role-operator'), \
         document.querySelectorAll('#user-rows tr').length];",
        |v| v[0] == true && v[1].as_u64().unwrap_or(0) >= 1,
    )
    .await?;
    check_console(driver, "/admin/users", STRICT).await?;
    fits_768(driver, "/admin/users").await?;
    let name = driver.find("#new-user-name").await?;
    driver.send_keys(&name, "olga.operator").await?;
    driver
        .click(&driver.find("#new-role-operator").await?)
        .await?;
    driver
        .click(&driver.find("#user-create-button").await?)
        .await?;
    let shown = wait_for(
        driver,
        "the one-time password",
        WAIT,
        "const box = document.getElementById('user-created'); \
         return box.hidden ? null : { password: document.getElementById('user-created-password').textContent, \
           text: box.textContent, \
           row: Array.from(document.querySelectorAll('#user-rows tr')).map((r) => r.textContent) \
             .find((t) => t.includes('olga.operator')) || null };",
        |v| v["password"].as_str().is_some_and(|p| p.len() >= 12) && v["row"].is_string(),
    )
    .await?;
    let one_time = shown["password"].as_str().unwrap_or_default().to_owned();
    let text = shown["text"].as_str().unwrap_or_default();
    if !text.contains("will not be shown again") {
        return Err(format!("no once-only note next to the password: {text}"));
    }
    if !shown["row"]
        .as_str()
        .unwrap_or_default()
        .contains("operator")
    {
        return Err(format!("the new row lacks the role: {shown}"));
    }
    // Done: the password leaves the page.
    driver
        .click(&driver.find("#user-created-done").await?)
        .await?;
    let gone = driver
        .exec(
            "return document.getElementById('user-created-password').textContent;",
            json!([]),
        )
        .await?;
    if gone != "" {
        return Err(format!("the password is still on the page: {gone}"));
    }
    check_console(driver, "/admin/users after creating", STRICT).await?;
    // The account's settings open from its row.
    driver
        .click(&driver.find("#user-rows tr:last-child button").await?)
        .await?;
    wait_for(
        driver,
        "the account's settings",
        WAIT,
        "return document.getElementById('user-edit').hidden ? null : \
         [document.getElementById('user-edit-title').textContent, \
          document.getElementById('edit-role-operator').checked];",
        |v| v.is_array(),
    )
    .await
    .and_then(|v| {
        if v == json!(["Manage olga.operator", true]) {
            Ok(())
        } else {
            Err(format!("the settings show {v}"))
        }
    })?;
    fits_768(driver, "/admin/users with the settings open").await?;

    // The new person signs in.
    driver
        .exec(
            "document.getElementById('logout-button').click(); return null;",
            json!([]),
        )
        .await?;
    wait_for_path(driver, "/login").await?;
    replace_one_time_password(
        driver,
        "olga.operator",
        &one_time,
        "Olga's own long passphrase 5",
    )
    .await?;
    wait_for(
        driver,
        "the live grid",
        WAIT,
        "return location.pathname + ' ' + document.querySelectorAll('video.live').length;",
        |v| v == "/cameras 1",
    )
    .await?;
    check_console(driver, "/cameras of the new operator", STRICT).await?;
    // The one-time password no longer works; the new one does.
    if Api::login(demo, "olga.operator", &one_time).await.is_ok() {
        return Err("the one-time password still signs in".into());
    }
    Api::login(demo, "olga.operator", "Olga's own long passphrase 5").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_created_in_the_browser_signs_in_and_reaches_the_live_grid() {
    run_in_chromium("new-user", 1, &[], new_user).await;
}

/// (b) Rui asks for a four-eyes approval; Dora approves it in her inbox with
/// a note; the request is approved (asked over the API as Rui).
async fn approval(driver: &Driver, demo: &Demo) -> Res<()> {
    let admin = Api::login_demo(demo).await?;
    let dora_otp = admin.create_user("dora.dpo", &["dpo"]).await?;
    let rui_otp = admin.create_user("rui.dpo", &["dpo"]).await?;
    let dora_pw = "Dora's own long passphrase 3";
    Api::first_login(demo, "dora.dpo", &dora_otp, dora_pw).await?;
    let rui = Api::first_login(demo, "rui.dpo", &rui_otp, "Rui's own long passphrase 8").await?;
    let why = "Release the lock on the car-park incident: case closed by the police";
    let v = rui
        .send(
            Method::POST,
            "api/v1/approvals",
            Some(
                json!({"permission": "locks.release", "resource": "system", "justification": why}),
            ),
            StatusCode::CREATED,
        )
        .await
        .map_err(|e| format!("the request: {e}"))?;
    let id = v["id"].as_i64().ok_or("no id")?;

    sign_in_as(driver, demo, "dora.dpo", dora_pw).await?;
    // The shell's badge counts the request.
    let badge = wait_for(
        driver,
        "the approvals badge",
        WAIT,
        "const b = document.getElementById('approvals-badge'); return b ? b.firstChild.textContent : null;",
        |v| v.is_string(),
    )
    .await?;
    if badge != "1" {
        return Err(format!("the badge says {badge}"));
    }
    driver
        .click(&driver.find("nav a[href='/approvals']").await?)
        .await?;
    let row = wait_for(
        driver,
        "the request in the inbox",
        WAIT,
        &format!(
            "const r = document.getElementById('request-{id}'); \
             return r ? Array.from(r.cells).slice(0, 4).map((c) => c.textContent) : null;"
        ),
        |v| v.is_array(),
    )
    .await?;
    let cells: Vec<&str> = row
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if cells.first() != Some(&"rui.dpo")
        || !cells.get(1).is_some_and(|c| c.contains("locks.release"))
        || cells.get(3) != Some(&why)
    {
        return Err(format!("the row shows {row}"));
    }
    check_console(driver, "/approvals", STRICT).await?;
    fits_768(driver, "/approvals").await?;
    // A note is required.
    driver
        .click(&driver.find(&format!("#approve-{id}")).await?)
        .await?;
    wait_for(
        driver,
        "the missing-note message",
        WAIT,
        &format!("return document.getElementById('decision-error-{id}').hidden;"),
        |v| v == &json!(false),
    )
    .await?;
    let note = driver.find(&format!("#note-{id}")).await?;
    driver
        .send_keys(&note, "Checked with the police report; release once")
        .await?;
    driver
        .click(&driver.find(&format!("#approve-{id}")).await?)
        .await?;
    let history = wait_for(
        driver,
        "the request in the history",
        WAIT,
        &format!(
            "const r = document.getElementById('history-{id}'); \
             return r && !document.getElementById('request-{id}') \
               ? Array.from(r.cells).map((c) => c.textContent) : null;"
        ),
        |v| v.is_array(),
    )
    .await?;
    if history[4] != "approved" || history[5] != "dora.dpo" {
        return Err(format!("the history row shows {history}"));
    }
    let badge = driver
        .exec(
            "return document.getElementById('approvals-badge') === null;",
            json!([]),
        )
        .await?;
    if badge != json!(true) {
        return Err("the badge still counts the decided request".into());
    }
    check_console(driver, "/approvals after deciding", STRICT).await?;
    // The server holds the decision.
    let (_, v) = rui.call(Method::GET, "api/v1/approvals", None).await?;
    let mine = v["approvals"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["id"] == id))
        .ok_or(format!("request {id} not listed: {v}"))?;
    if mine["state"] != "approved"
        || mine["decided_by_name"] != "dora.dpo"
        || mine["note"] != "Checked with the police report; release once"
    {
        return Err(format!("the request is {mine}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_approves_a_request_in_the_inbox() {
    run_in_chromium("approval", 1, &[], approval).await;
}

/// Clicks the option `value` of the select `id`.
async fn choose(driver: &Driver, id: &str, value: &str) -> Res<()> {
    let option = driver
        .find(&format!("[id='{id}'] option[value='{value}']"))
        .await?;
    driver.click(&option).await
}

/// (c) The role editor creates a role with a scoped grant, a playback window
/// and weekly hours; the API returns them. The server's refusal of a
/// self-granted masks.lift is shown in the form.
async fn role_editor(driver: &Driver, demo: &Demo) -> Res<()> {
    sign_in(driver, demo).await?;
    driver.goto(&demo.at("admin/roles")).await?;
    wait_for(
        driver,
        "the role list",
        WAIT,
        "return document.querySelectorAll('#role-rows tr').length;",
        |v| v.as_u64().unwrap_or(0) >= 5,
    )
    .await?;
    check_console(driver, "/admin/roles", STRICT).await?;
    driver.click(&driver.find("#role-new").await?).await?;
    wait_for(
        driver,
        "the permission editor",
        WAIT,
        "return document.querySelectorAll('#permission-rows tr').length;",
        |v| v.as_u64().unwrap_or(0) >= 30,
    )
    .await?;
    fits_768(driver, "/admin/roles with the editor open").await?;
    let name = driver.find("#role-name").await?;
    driver.send_keys(&name, "night watch").await?;
    let description = driver.find("#role-description").await?;
    driver
        .send_keys(&description, "Night guards: the car park only")
        .await?;
    driver
        .click(&driver.find("[id='grant-live.view']").await?)
        .await?;
    driver
        .click(&driver.find("[id='grant-playback']").await?)
        .await?;
    choose(driver, "scope-playback", "cameras").await?;
    let ids = driver.find("[id='scope-value-playback']").await?;
    driver.send_keys(&ids, "1").await?;
    choose(driver, "scope-live.view", "group").await?;
    let group = driver.find("[id='scope-value-live.view']").await?;
    driver.send_keys(&group, "car park").await?;
    let window = driver.find("#role-window").await?;
    driver.send_keys(&window, "24").await?;
    driver
        .click(&driver.find("#role-hours-limited").await?)
        .await?;
    let tz = driver.find("#role-time-zone").await?;
    driver.clear(&tz).await?;
    driver.send_keys(&tz, "Europe/Lisbon").await?;
    driver.click(&driver.find("#role-save").await?).await?;
    wait_for(
        driver,
        "the saved role in the list",
        WAIT,
        "const r = document.getElementById('role-night watch'); \
         return r && document.getElementById('role-form').hidden ? r.textContent : null;",
        |v| v.is_string(),
    )
    .await?;
    check_console(driver, "/admin/roles after saving", STRICT).await?;
    fits_768(driver, "/admin/roles").await?;
    let roles = driver
        .exec(
            "const r = await fetch('/api/v1/roles'); return await r.json();",
            json!([]),
        )
        .await?;
    let role = roles
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == "night watch"))
        .ok_or(format!("the API has no such role: {roles}"))?;
    let want = json!({
        "name": "night watch",
        "description": "Night guards: the car park only",
        "grants": [
            {"permission": "live.view", "scope": {"kind": "group", "group": "car park"}},
            {"permission": "playback", "scope": {"kind": "cameras", "ids": [1]}}
        ],
        "playback_window_hours": 24,
        "time_profile": {"time_zone": "Europe/Lisbon",
            "intervals": [{"day": "mon", "start": "08:00", "end": "18:00"}]},
        "require_second_factor": false
    });
    if role != &want {
        return Err(format!("the API shows {role}, expected {want}"));
    }

    // Editing the role shows what was saved.
    driver
        .click(&driver.find("[id='role-edit-night watch']").await?)
        .await?;
    let form = driver
        .exec(
            "return [document.getElementById('scope-playback').value, \
             document.getElementById('scope-value-playback').value, \
             document.getElementById('role-window').value, \
             document.getElementById('role-name').readOnly];",
            json!([]),
        )
        .await?;
    if form != json!(["cameras", "1", "24", true]) {
        return Err(format!("the editor shows {form}"));
    }
    driver.click(&driver.find("#role-cancel").await?).await?;

    // The administrator cannot give their own role masks.lift: the server
    // refuses, and the form says why. (The demo's account also reads the
    // access record, through the auditor role, so audit.read would not be a
    // new right for it.)
    driver
        .click(&driver.find("#role-edit-administrator").await?)
        .await?;
    driver
        .click(&driver.find("[id='grant-masks.lift']").await?)
        .await?;
    driver.click(&driver.find("#role-save").await?).await?;
    let refusal = wait_for(
        driver,
        "the refusal",
        WAIT,
        "const e = document.getElementById('role-error'); return e.hidden ? null : e.textContent;",
        |v| v.is_string(),
    )
    .await?;
    if !refusal
        .as_str()
        .unwrap_or_default()
        .contains("separation of duties")
    {
        return Err(format!("the form says {refusal}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_role_editor_saves_a_scope_and_a_playback_window() {
    run_in_chromium("role-editor", 1, &[], role_editor).await;
}

const PENDING: &str =
    "return Array.from(document.querySelectorAll('#policy-pending li')).map((l) => l.textContent);";

/// (d) The policy page publishes a version and lists the accounts that have
/// not acknowledged it; one that acknowledges leaves the list. Then the token
/// page lists a token with its owner and revokes it.
async fn policy(driver: &Driver, demo: &Demo) -> Res<()> {
    let password = sign_in(driver, demo).await?;
    let admin = Api::login(demo, &demo.user, &password).await?;
    let otp = admin.create_user("paula.viewer", &["operator"]).await?;
    let paula =
        Api::first_login(demo, "paula.viewer", &otp, "Paula's own long passphrase 4").await?;
    driver.goto(&demo.at("admin/policy")).await?;
    wait_for(
        driver,
        "no policy yet",
        WAIT,
        "return document.getElementById('policy-version').textContent;",
        |v| v.as_str().is_some_and(|s| s.contains("No policy")),
    )
    .await?;
    check_console(driver, "/admin/policy", STRICT).await?;
    let text = driver.find("#policy-new-text").await?;
    driver
        .send_keys(
            &text,
            "Video is watched only for the safety of people and property.",
        )
        .await?;
    driver.click(&driver.find("#policy-publish").await?).await?;
    let listed = wait_for(
        driver,
        "the accounts that have not acknowledged version 1",
        WAIT,
        &format!(
            "return [document.getElementById('policy-message').textContent, \
             document.getElementById('policy-version').textContent, {}];",
            PENDING.trim_start_matches("return ").trim_end_matches(';')
        ),
        |v| v[0] == "Version 1 published." && v[2].as_array().is_some_and(|a| !a.is_empty()),
    )
    .await?;
    let names: Vec<&str> = listed[2]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !names.contains(&"paula.viewer") || !names.contains(&demo.user.as_str()) {
        return Err(format!("the list shows {listed}"));
    }
    if !listed[1].as_str().unwrap_or_default().contains("Version 1") {
        return Err(format!("the current version shows {listed}"));
    }
    check_console(driver, "/admin/policy after publishing", STRICT).await?;
    fits_768(driver, "/admin/policy").await?;
    // Paula acknowledges; she leaves the list, the administrator stays.
    paula
        .send(
            Method::POST,
            "api/v1/policy/ack",
            Some(json!({"version": 1})),
            StatusCode::NO_CONTENT,
        )
        .await
        .map_err(|e| format!("acknowledging: {e}"))?;
    driver.goto(&demo.at("admin/policy")).await?;
    let user = demo.user.clone();
    wait_for(
        driver,
        "only the administrator still to acknowledge",
        WAIT,
        PENDING,
        move |v| v == &json!([user]),
    )
    .await?;
    check_console(driver, "/admin/policy after the acknowledgement", STRICT).await?;

    // The token page lists every account's tokens and revokes one.
    let v = admin
        .send(
            Method::POST,
            "api/v1/tokens",
            Some(
                json!({"name": "nightly export", "roles": ["administrator"], "expires_in_days": 7}),
            ),
            StatusCode::CREATED,
        )
        .await
        .map_err(|e| format!("creating a token: {e}"))?;
    let id = v["id"].as_i64().ok_or("no token id")?;
    driver.goto(&demo.at("admin/tokens")).await?;
    let row = wait_for(
        driver,
        "the token's row",
        WAIT,
        &format!(
            "const r = document.getElementById('token-{id}'); \
             return r ? Array.from(r.cells).map((c) => c.textContent) : null;"
        ),
        |v| v.is_array(),
    )
    .await?;
    if row[0] != demo.user.as_str()
        || row[1] != "nightly export"
        || row[2] != "administrator"
        || row[5] != "active"
    {
        return Err(format!("the token row shows {row}"));
    }
    check_console(driver, "/admin/tokens", STRICT).await?;
    fits_768(driver, "/admin/tokens").await?;
    driver
        .click(&driver.find(&format!("#revoke-{id}")).await?)
        .await?;
    driver.accept_alert().await?;
    wait_for(
        driver,
        "the token revoked",
        WAIT,
        &format!(
            "const r = document.getElementById('token-{id}'); \
             return r ? r.cells[5].textContent : null;"
        ),
        |v| v == "revoked",
    )
    .await?;
    let (_, v) = admin.call(Method::GET, "api/v1/tokens", None).await?;
    if v["tokens"][0]["revoked"] != json!(true) {
        return Err(format!("the server's tokens: {v}"));
    }
    check_console(driver, "/admin/tokens after revoking", STRICT).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_page_publishes_and_lists_who_has_not_acknowledged() {
    run_in_chromium("policy", 1, &[], policy).await;
}
