//! The export wizard in headless Chromium: an investigator (with a second
//! factor) opens `/exports` from the navigation, picks the synthetic
//! camera and an interval it recorded, adds an excluded interval (and
//! removes a second one), names the requesting party, and keeps the
//! generated passphrase. A country code that does not exist (`XX`) is
//! refused with the API's message shown above the form, the country field
//! marked and nothing exported; with `PT` the export is refused until a
//! second person has approved it (export is four-eyes in the demo), then
//! it runs: its progress bar is visible and reaches its maximum, the state
//! is `done`, the generated passphrase is shown once and the download link
//! appears. The package, downloaded with the session's cookie, is
//! decrypted with the `age` crate and that passphrase, listed with
//! `tar -tf`, and every MP4 in it decodes with `ffmpeg` without an error.
//! No console error, no CSP violation, no message missing from the
//! catalogue, no sideways scrolling at 768 px.
//!
//! A second test: a user whose role holds `export` alone is offered
//! neither the original rendition nor a package in the clear; the
//! investigator (whose template holds `masks.lift`, not
//! `export.unencrypted`) only the original; a user whose role holds
//! `export`, `export.unencrypted` and `masks.lift` both. Ticking the
//! original reveals its justification, which step 1 then requires; the user
//! leaves it unticked, chooses "No encryption" (the passphrase and key
//! fields hidden, the warning shown), and after the four-eyes approval the
//! export runs with no passphrase shown. The download is a plain tar
//! (`ustar` at byte 257, the export's SHA-256, `encryption: none`) that
//! `tar -tf` lists and whose MP4s `ffmpeg` decodes.
//!
//! Needs Debian's `chromium`, `chromium-driver`, `tar` and `ffmpeg`; fails,
//! not skips, when they are missing.

mod common;

use std::process::Command;
use std::time::Duration;

use common::api::Api;
use common::browser::{
    adopt, check_console, console_lines, read_console, run_in_chromium, STRICT, WAIT,
};
use common::webdriver::{wait_for, Driver, Res};
use common::Demo;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const INVESTIGATOR: &str = "ines.investigator";
const DPO: &str = "dora.dpo";
const PASSWORD: &str = "a long investigator password 9";

/// How long the recorded run to export must be, in seconds.
const RUN_SECONDS: i64 = 8;

/// An investigator account signed in through the API: own password, a
/// second factor (the role requires one for export) and the usage policy
/// acknowledged.
async fn investigator(demo: &Demo) -> Res<Api> {
    let admin = Api::login_demo(demo).await?;
    let first = admin.create_user(INVESTIGATOR, &["investigator"]).await?;
    let s = Api::first_login(demo, INVESTIGATOR, &first, PASSWORD).await?;
    s.enrol_totp().await?;
    s.acknowledge_policy().await?;
    Ok(s)
}

/// `inv` asks for the four-eyes approval of an export of camera 1, and a
/// data-protection officer (with a second factor) gives it.
async fn approve(demo: &Demo, inv: &Api) -> Res<()> {
    let asked = inv
        .send(
            Method::POST,
            "api/v1/approvals",
            Some(json!({ "permission": "export", "resource": "camera:1",
                         "justification": "Police request 2026/118 for the car park" })),
            StatusCode::CREATED,
        )
        .await?;
    let admin = Api::login_demo(demo).await?;
    let first = admin.create_user(DPO, &["dpo"]).await?;
    let dpo = Api::first_login(demo, DPO, &first, PASSWORD).await?;
    dpo.enrol_totp().await?;
    dpo.acknowledge_policy().await?;
    dpo.send(
        Method::POST,
        &format!("api/v1/approvals/{}/decision", asked["id"]),
        Some(json!({ "approve": true, "note": "The police request is on file" })),
        StatusCode::OK,
    )
    .await
    .map(|_| ())
}

/// Waits until camera 1 has a recorded run of at least [`RUN_SECONDS`];
/// returns its start and end (RFC 3339 as the API gives them).
async fn recorded_run(s: &Api) -> Res<(String, String)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let now = chrono::Utc::now();
        let path = format!(
            "api/v1/cameras/1/recordings?start={}&end={}",
            (now - chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        let v = s.send(Method::GET, &path, None, StatusCode::OK).await?;
        let run = v["recordings"].as_array().and_then(|runs| {
            runs.iter().find_map(|r| {
                let start = chrono::DateTime::parse_from_rfc3339(r["start"].as_str()?).ok()?;
                let end = chrono::DateTime::parse_from_rfc3339(r["end"].as_str()?).ok()?;
                ((end - start).num_seconds() >= RUN_SECONDS).then_some((start, end))
            })
        });
        if let Some((start, end)) = run {
            // Whole seconds inside the run (the inputs take seconds).
            let start = start + chrono::Duration::seconds(1);
            let fmt = |t: chrono::DateTime<chrono::FixedOffset>| {
                t.with_timezone(&chrono::Utc)
                    .format("%Y-%m-%dT%H:%M:%S")
                    .to_string()
            };
            return Ok((fmt(start), fmt(end)));
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("no recorded run of {RUN_SECONDS} s: {v}"));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `t` (a `datetime-local` value in UTC) moved by `seconds`.
fn shift(t: &str, seconds: i64) -> Res<String> {
    let at = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S")
        .map_err(|e| format!("{t}: {e}"))?;
    Ok((at + chrono::Duration::seconds(seconds))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string())
}

/// Sets the input `css` to `value` as a user's typing would (an `input`
/// event follows). A `datetime-local` input drops zero seconds (`…T16:06`
/// for `…T16:06:00`), the same time.
async fn set_value(driver: &Driver, css: &str, value: &str) -> Res<()> {
    let ok = driver
        .exec(
            "const el = document.querySelector(arguments[0]); if (!el) return false; \
             el.value = arguments[1]; el.dispatchEvent(new Event('input', { bubbles: true })); \
             return el.value === arguments[1] || `${el.value}:00` === arguments[1];",
            json!([css, value]),
        )
        .await?;
    if ok != true {
        return Err(format!("{css} did not take {value:?}"));
    }
    Ok(())
}

/// Which wizard step is shown (the `data-step` of the one visible).
const STEP: &str =
    "const s = Array.from(document.querySelectorAll('.export-step')).filter((e) => !e.hidden); \
    return s.map((e) => e.dataset.step).join(',');";

async fn wait_step(driver: &Driver, step: &str) -> Res<()> {
    wait_for(driver, &format!("step {step}"), WAIT, STEP, |v| v == step)
        .await
        .map(|_| ())
}

/// Fills steps 1 and 2 (the interval `start`..`end` with one excluded
/// interval, the requester in `country`) and goes to step 3.
async fn fill(driver: &Driver, start: &str, end: &str, country: &str) -> Res<()> {
    wait_step(driver, "1").await?;
    driver.click_on("#export-camera-1").await?;
    set_value(driver, "#export-start", start).await?;
    set_value(driver, "#export-end", end).await?;
    // Two excluded rows added, the second removed again.
    driver.click_on("#export-add-exclude").await?;
    driver.click_on("#export-add-exclude").await?;
    driver
        .click_on("#export-excludes li:nth-child(2) button")
        .await?;
    let left = driver
        .exec(
            "return document.querySelectorAll('#export-excludes li').length;",
            json!([]),
        )
        .await?;
    if left != 1 {
        return Err(format!("{left} excluded rows after removing one of two"));
    }
    set_value(driver, "#export-excludes .exclude-start", &shift(start, 2)?).await?;
    set_value(driver, "#export-excludes .exclude-end", &shift(start, 4)?).await?;
    driver.click_on("#export-next-1").await?;
    wait_step(driver, "2").await?;
    for (css, text) in [
        ("#export-name", "Ana Silva"),
        ("#export-title", "Chief inspector"),
        ("#export-organisation", "Polícia de Segurança Pública"),
        (
            "#export-reason",
            "Investigation of a theft in the car park, case 2026/118",
        ),
        (
            "#export-content",
            "The car park's entrance around the theft",
        ),
    ] {
        let el = driver.find(css).await?;
        driver.send_keys(&el, text).await?;
    }
    let c = driver.find("#export-country").await?;
    driver.clear(&c).await?;
    driver.send_keys(&c, country).await?;
    driver.click_on("#export-next-2").await?;
    wait_step(driver, "3").await
}

async fn scenario(driver: &Driver, demo: &Demo) -> Res<()> {
    let inv = investigator(demo).await?;
    let (start, end) = recorded_run(&inv).await?;
    adopt(driver, demo, &inv).await?;
    driver.set_window_size(1280, 900).await?;

    // The navigation leads to the wizard.
    driver.goto(&demo.at("cameras")).await?;
    wait_for(
        driver,
        "the Export link",
        WAIT,
        "return !!document.querySelector('#main-nav a[href=\"/exports\"]');",
        |v| v == true,
    )
    .await?;
    driver.click_on("#main-nav a[href=\"/exports\"]").await?;
    wait_for(
        driver,
        "the wizard and the empty list",
        WAIT,
        "return [location.pathname, document.querySelectorAll('#export-rows tr').length];",
        |v| v[0] == "/exports" && v[1] == 1,
    )
    .await?;

    // A country that does not exist: the API's message, the field marked,
    // the wizard back at step 2, nothing exported.
    fill(driver, &start, &end, "XX").await?;
    let transfer = driver
        .exec(
            "return !document.getElementById('export-transfer').hidden;",
            json!([]),
        )
        .await?;
    if transfer != true {
        return Err("the transfer fields are hidden for a country outside the EEA".into());
    }
    driver.click_on("#export-submit").await?;
    let refused = wait_for(
        driver,
        "the refusal of country XX",
        WAIT,
        "const e = document.getElementById('export-error'); \
         return [e.hidden ? '' : e.textContent, \
                 document.getElementById('export-country').getAttribute('aria-invalid'), \
                 document.activeElement ? document.activeElement.id : ''];",
        |v| v[0] != "",
    )
    .await?;
    if !refused[0]
        .as_str()
        .is_some_and(|m| m.contains("requester.country"))
        || refused[1] != "true"
        || refused[2] != "export-country"
    {
        return Err(format!(
            "the refusal is not shown at the country: {refused}"
        ));
    }
    wait_step(driver, "2").await?;
    let listed = inv
        .send(Method::GET, "api/v1/exports", None, StatusCode::OK)
        .await?;
    if listed["exports"].as_array().is_none_or(|a| !a.is_empty()) {
        return Err(format!("a refused export was made: {listed}"));
    }

    // Portugal, in the EEA: no transfer fields; on to the export.
    let c = driver.find("#export-country").await?;
    driver.clear(&c).await?;
    driver.send_keys(&c, "pt").await?;
    let transfer = driver
        .exec(
            "return !document.getElementById('export-transfer').hidden;",
            json!([]),
        )
        .await?;
    if transfer != false {
        return Err("the transfer fields are shown for Portugal".into());
    }
    driver.click_on("#export-next-2").await?;
    wait_step(driver, "3").await?;
    let generated = driver
        .exec(
            "return document.getElementById('export-protection-generated').checked;",
            json!([]),
        )
        .await?;
    if generated != true {
        return Err("a generated passphrase is not the default".into());
    }
    // The stored copy is kept a week, not the default 30 days.
    let days = driver.find("#export-expires-days").await?;
    driver.clear(&days).await?;
    driver.send_keys(&days, "7").await?;
    // Export is four-eyes in the demo: refused until a second person has
    // approved, the refusal shown above the form at the same step.
    driver.click_on("#export-submit").await?;
    let refused = wait_for(
        driver,
        "the four-eyes refusal",
        WAIT,
        "const e = document.getElementById('export-error'); return e.hidden ? '' : e.textContent;",
        |v| v != "",
    )
    .await?;
    if !refused.as_str().is_some_and(|m| m.contains("approval")) {
        return Err(format!("not the four-eyes refusal: {refused}"));
    }
    wait_step(driver, "3").await?;
    // The two refusals are the console's only errors so far.
    let console = read_console(driver).await?;
    for line in console_lines(&console, STRICT) {
        if !(line.contains("/api/v1/exports") && (line.contains("400") || line.contains("403"))) {
            return Err(format!("the console shows {line}"));
        }
    }
    approve(demo, &inv).await?;
    driver.click_on("#export-submit").await?;

    // The progress bar is shown while the export runs and ends full.
    let shown = wait_for(
        driver,
        "the progress bar",
        WAIT,
        "const p = document.getElementById('export-progress'); const r = p.getBoundingClientRect(); \
         const e = document.getElementById('export-error'); \
         return [r.width > 0 && r.height > 0, p.getAttribute('max'), e.hidden ? '' : e.textContent];",
        |v| v[0] == true || v[2] != "",
    )
    .await?;
    if shown[2] != "" || shown[1] != "100" {
        return Err(format!("the export did not start: {shown}"));
    }
    wait_step(driver, "4").await?;
    let done = wait_for(
        driver,
        "the export to finish",
        Duration::from_secs(120),
        "const p = document.getElementById('export-progress'); \
         const s = document.getElementById('export-state'); \
         const a = document.getElementById('export-download'); \
         return { value: p.getAttribute('value'), max: p.getAttribute('max'), \
                  visible: p.getBoundingClientRect().width > 0, state: s.dataset.state || '', \
                  text: s.textContent, download: a.hidden ? null : a.getAttribute('href'), \
                  passphrase: document.getElementById('export-passphrase-box').hidden ? null : \
                    document.getElementById('export-generated-passphrase').textContent };",
        |v| v["state"] == "done" || v["state"] == "failed",
    )
    .await?;
    if done["state"] != "done"
        || done["value"] != "100"
        || done["max"] != "100"
        || done["visible"] != true
    {
        return Err(format!("the export did not finish with a full bar: {done}"));
    }
    let passphrase = done["passphrase"]
        .as_str()
        .filter(|p| p.len() >= 12)
        .ok_or(format!("no generated passphrase shown: {done}"))?
        .to_string();
    let listed = inv
        .send(Method::GET, "api/v1/exports", None, StatusCode::OK)
        .await?;
    let x = listed["exports"]
        .as_array()
        .and_then(|a| (a.len() == 1).then(|| a[0].clone()))
        .ok_or(format!("not one export listed: {listed}"))?;
    let download = format!("/api/v1/exports/{}/download", x["id"]);
    if done["download"] != download.as_str() || x["state"] != "done" {
        return Err(format!("download link {}, export {x}", done["download"]));
    }
    let time = |k: &str| {
        x[k].as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .ok_or(format!("no {k} in {x}"))
    };
    let kept = time("expires")? - time("created")?;
    if (kept - chrono::Duration::days(7)).num_seconds().abs() > 60 {
        return Err(format!("the copy is kept {kept}, not 7 days: {x}"));
    }

    // The table lists it, with its hash.
    let row = wait_for(
        driver,
        "the export in the table",
        WAIT,
        "const r = document.querySelector('#export-rows tr[data-state=done]'); \
         return r ? Array.from(r.cells).map((c) => c.textContent) : null;",
        |v| v.is_array(),
    )
    .await?;
    if row[0] != x["package_id"] || row[3] != x["package_sha256"] {
        return Err(format!("row {row} for {x}"));
    }

    // No sideways scrolling at 768 px; a clean console.
    driver.set_window_size(768, 900).await?;
    let fits = driver
        .exec(
            "return document.documentElement.scrollWidth <= window.innerWidth;",
            json!([]),
        )
        .await?;
    if fits != true {
        return Err("the export page scrolls sideways at 768 px".into());
    }
    driver.set_window_size(1280, 900).await?;
    check_console(driver, "/exports", STRICT).await?;

    // The package, downloaded with the session's cookie, checked without Veil.
    let (status, package) = inv.bytes(&download).await?;
    if status != StatusCode::OK || package.is_empty() {
        return Err(format!("download: {status}, {} bytes", package.len()));
    }
    check_package(&package, Some(&passphrase), &x)
}

/// Decrypts `package` with `passphrase` (`None`: it is a plain tar), lists
/// its tar entries and decodes every MP4 in it.
fn check_package(package: &[u8], passphrase: Option<&str>, x: &Value) -> Res<()> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let enc = dir.path().join("package.tar.age");
    std::fs::write(&enc, package).map_err(|e| e.to_string())?;
    let sum = Command::new("sha256sum")
        .arg(&enc)
        .output()
        .map_err(|e| format!("sha256sum: {e}"))?;
    let sum = String::from_utf8_lossy(&sum.stdout);
    if x["package_sha256"].as_str() != sum.split_whitespace().next() {
        return Err(format!("SHA-256 {sum} is not the export's {x}"));
    }
    let tar = match passphrase {
        Some(passphrase) => {
            let mut identity =
                age::scrypt::Identity::new(age::secrecy::SecretString::from(passphrase.to_owned()));
            identity.set_max_work_factor(22);
            age::decrypt(&identity, package).map_err(|e| format!("decrypting: {e}"))?
        }
        None => {
            // A POSIX tar header's magic, not an age header.
            if package.get(257..262) != Some(b"ustar".as_slice()) {
                return Err(format!(
                    "the unencrypted package is not a plain tar: it starts {:?}",
                    String::from_utf8_lossy(&package[..package.len().min(40)])
                ));
            }
            package.to_vec()
        }
    };
    let tar_path = dir.path().join("package.tar");
    std::fs::write(&tar_path, &tar).map_err(|e| e.to_string())?;
    let list = Command::new("tar")
        .arg("-tf")
        .arg(&tar_path)
        .output()
        .map_err(|e| format!("tar: {e}"))?;
    let names = String::from_utf8_lossy(&list.stdout).to_string();
    if !list.status.success() {
        return Err(format!(
            "tar -tf: {}",
            String::from_utf8_lossy(&list.stderr)
        ));
    }
    let mp4s: Vec<&str> = names.lines().filter(|n| n.ends_with(".mp4")).collect();
    if mp4s.is_empty() || !names.lines().any(|n| n.ends_with("manifest.json")) {
        return Err(format!("the package holds {names}"));
    }
    let out = dir.path().join("out");
    std::fs::create_dir(&out).map_err(|e| e.to_string())?;
    let unpacked = Command::new("tar")
        .arg("-xf")
        .arg(&tar_path)
        .arg("-C")
        .arg(&out)
        .status()
        .map_err(|e| format!("tar: {e}"))?;
    if !unpacked.success() {
        return Err("tar -xf failed".into());
    }
    for name in mp4s {
        let decoded = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(out.join(name))
            .args(["-f", "null", "-"])
            .output()
            .map_err(|e| format!("ffmpeg: {e}"))?;
        let errors = String::from_utf8_lossy(&decoded.stderr);
        if !decoded.status.success() || !errors.trim().is_empty() {
            return Err(format!("ffmpeg on {name}: {errors}"));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_wizard_makes_a_package_that_opens_without_veil_in_chromium() {
    run_in_chromium("export", 1, &["--segment-seconds", "2"], scenario).await;
}

/// Whether the element `css` exists and is shown (not hidden, laid out).
async fn shown(driver: &Driver, css: &str) -> Res<bool> {
    let v = driver
        .exec(
            "const el = document.querySelector(arguments[0]); \
             return !!el && !el.closest('[hidden]') && el.getClientRects().length > 0;",
            json!([css]),
        )
        .await?;
    Ok(v == true)
}

/// An account `name` with `roles`, a second factor and the usage policy
/// acknowledged, signed in through the API.
async fn account(demo: &Demo, name: &str, roles: &[&str]) -> Res<Api> {
    let admin = Api::login_demo(demo).await?;
    let first = admin.create_user(name, roles).await?;
    let s = Api::first_login(demo, name, &first, PASSWORD).await?;
    s.enrol_totp().await?;
    s.acknowledge_policy().await?;
    Ok(s)
}

async fn choices_scenario(driver: &Driver, demo: &Demo) -> Res<()> {
    let inv = investigator(demo).await?;
    let (start, end) = recorded_run(&inv).await?;
    driver.set_window_size(1280, 900).await?;

    // Who is offered what: the investigator template holds `masks.lift`
    // but not `export.unencrypted`; a role with `export` alone holds
    // neither; the evidence officer's holds both.
    let admin = Api::login_demo(demo).await?;
    for (role, permissions) in [
        ("exporter", &["export"][..]),
        (
            "evidence-officer",
            &["export", "export.unencrypted", "masks.lift"][..],
        ),
    ] {
        let grants: Vec<_> = permissions
            .iter()
            .map(|p| json!({"permission": p, "scope": {"kind": "all"}}))
            .collect();
        admin
            .send(
                Method::PUT,
                &format!("api/v1/roles/{role}"),
                Some(json!({ "grants": grants })),
                StatusCode::CREATED,
            )
            .await?;
    }
    let exporter = account(demo, "emil.exporter", &["exporter"]).await?;
    for (who, s, wanted) in [
        (
            INVESTIGATOR,
            &inv,
            json!(["#export-original", "#export-justification"]),
        ),
        ("emil.exporter", &exporter, json!([])),
    ] {
        adopt(driver, demo, s).await?;
        driver.goto(&demo.at("exports")).await?;
        wait_step(driver, "1").await?;
        let offered = driver
            .exec(
                "return ['#export-original', '#export-justification', '#export-protection-none', \
                         '#export-none-hint'].filter((c) => document.querySelector(c));",
                json!([]),
            )
            .await?;
        if offered != wanted {
            return Err(format!("{who} is offered {offered}, not {wanted}"));
        }
    }

    let officer = account(demo, "eva.officer", &["evidence-officer"]).await?;
    adopt(driver, demo, &officer).await?;
    driver.goto(&demo.at("exports")).await?;
    wait_step(driver, "1").await?;
    if !shown(driver, "#export-original").await? || shown(driver, "#export-justification").await? {
        return Err(
            "the original's box is not offered, or its justification shows unticked".into(),
        );
    }
    // Ticked, the original needs its justification before step 2.
    driver.click_on("#export-original").await?;
    if !shown(driver, "#export-justification").await? {
        return Err("ticking the original does not reveal the justification".into());
    }
    driver.click_on("#export-camera-1").await?;
    driver.click_on("#export-next-1").await?;
    let refused = driver
        .exec(
            "const e = document.getElementById('export-error'); \
             return [e.hidden ? '' : e.textContent, \
                     document.getElementById('export-justification').getAttribute('aria-invalid')];",
            json!([]),
        )
        .await?;
    if !refused[0]
        .as_str()
        .is_some_and(|m| m.contains("Why the original is needed"))
        || refused[1] != "true"
    {
        return Err(format!(
            "an original without justification went on: {refused}"
        ));
    }
    wait_step(driver, "1").await?;
    // The protected rendition after all (`fill` ticks the camera again).
    driver.click_on("#export-original").await?;
    driver.click_on("#export-camera-1").await?;
    if shown(driver, "#export-justification").await? {
        return Err("the justification stays after unticking the original".into());
    }
    fill(driver, &start, &end, "PT").await?;

    // Step 3: no encryption hides the passphrase and keys, shows the warning.
    if !shown(driver, "#export-protection-none").await?
        || !shown(driver, "#export-none-hint").await?
    {
        return Err("no encryption is not offered with its warning".into());
    }
    driver.click_on("#export-protection-recipients").await?;
    driver.click_on("#export-protection-none").await?;
    if shown(driver, "#export-recipients").await? || shown(driver, "#export-passphrase").await? {
        return Err("a passphrase or key field shows for no encryption".into());
    }
    // The longer step 3 still fits 768 px.
    driver.set_window_size(768, 900).await?;
    let fits = driver
        .exec(
            "return document.documentElement.scrollWidth <= window.innerWidth;",
            json!([]),
        )
        .await?;
    driver.set_window_size(1280, 900).await?;
    if fits != true {
        return Err("step 3 with no encryption scrolls sideways at 768 px".into());
    }
    driver.click_on("#export-submit").await?;
    let refused = wait_for(
        driver,
        "the four-eyes refusal",
        WAIT,
        "const e = document.getElementById('export-error'); return e.hidden ? '' : e.textContent;",
        |v| v != "",
    )
    .await?;
    if !refused.as_str().is_some_and(|m| m.contains("approval")) {
        return Err(format!("not the four-eyes refusal: {refused}"));
    }
    // The four-eyes refusal is the console's only error so far.
    let console = read_console(driver).await?;
    for line in console_lines(&console, STRICT) {
        if !(line.contains("/api/v1/exports") && line.contains("403")) {
            return Err(format!("the console shows {line}"));
        }
    }
    approve(demo, &officer).await?;
    driver.click_on("#export-submit").await?;
    wait_step(driver, "4").await?;
    let done = wait_for(
        driver,
        "the unencrypted export to finish",
        Duration::from_secs(120),
        "const s = document.getElementById('export-state'); \
         const a = document.getElementById('export-download'); \
         return { state: s.dataset.state || '', text: s.textContent, \
                  download: a.hidden ? null : a.getAttribute('href'), \
                  name: a.getAttribute('download'), \
                  passphrase: !document.getElementById('export-passphrase-box').hidden };",
        |v| v["state"] == "done" || v["state"] == "failed",
    )
    .await?;
    let listed = officer
        .send(Method::GET, "api/v1/exports", None, StatusCode::OK)
        .await?;
    let x = listed["exports"]
        .as_array()
        .and_then(|a| (a.len() == 1).then(|| a[0].clone()))
        .ok_or(format!("not one export listed: {listed}"))?;
    let download = format!("/api/v1/exports/{}/download", x["id"]);
    if done["state"] != "done"
        || done["passphrase"] != false
        || done["download"] != download.as_str()
        || done["name"] != format!("{}.tar", x["package_id"].as_str().unwrap_or("?")).as_str()
    {
        return Err(format!("the unencrypted export ended as {done} ({x})"));
    }
    if x["encryption"] != "none" || x["rendition"] != "protected" {
        return Err(format!("not an unencrypted protected export: {x}"));
    }
    check_console(driver, "/exports", STRICT).await?;
    let (status, package) = officer.bytes(&download).await?;
    if status != StatusCode::OK || package.is_empty() {
        return Err(format!("download: {status}, {} bytes", package.len()));
    }
    check_package(&package, None, &x)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_and_no_encryption_are_offered_only_with_their_permissions_in_chromium() {
    run_in_chromium(
        "export-choices",
        1,
        &["--segment-seconds", "2"],
        choices_scenario,
    )
    .await;
}
