//! The page shell in headless Chromium: every page for each role template
//! (navigation from permissions, no console error, no CSP violation, WCAG 2.1
//! AA by axe-core in both themes, screenshots at 1280 and 768 px), the theme
//! and language switches, and a keyboard-only walk from login to playback.
//!
//! Needs Debian's `chromium` and `chromium-driver`, and axe-core from npm
//! (`scripts/test` installs it under `target/axe`; `VEIL_AXE` may name
//! `axe.min.js` elsewhere). The tests fail, not skip, when one is missing.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use common::api::{add_user_cli, Api};
use common::browser::{
    adopt, check_console, console_lines, read_console, run_in_chromium, wait_for_path, ERRORS,
};
use common::webdriver::{artefacts_dir, wait_for, Driver, Res};
use common::Demo;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Where axe-core's browser build is.
fn axe_source() -> String {
    let path = std::env::var_os("VEIL_AXE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/axe/node_modules/axe-core/axe.min.js")
        });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is missing at {} ({e}): install it with \
             `npm install --prefix target/axe axe-core@4` (scripts/test does)",
            path.display()
        )
    })
}

/// Creates `name` with `role` through the CLI, then, as that user through
/// the API, replaces the one-time password, enrols a second factor and
/// acknowledges the usage policy if one is published: the account is ready.
async fn ready_account(demo: &Demo, name: &str, role: &str) -> Res<Api> {
    let first = add_user_cli(demo, name, role)?;
    let s = Api::first_login(demo, name, &first, "Correct horse battery staple 42").await?;
    // Every account enrols a second factor (required by some roles,
    // allowed to all), so each template is tested the same way.
    s.enrol_totp().await?;
    s.acknowledge_policy().await?;
    Ok(s)
}

/// The links of the shell's navigation, as paths.
async fn nav_links(driver: &Driver) -> Res<BTreeSet<String>> {
    let v = driver
        .exec(
            "return Array.from(document.querySelectorAll('#main-nav a')).map((a) => a.getAttribute('href'));",
            json!([]),
        )
        .await?;
    Ok(v.as_array()
        .ok_or("no navigation")?
        .iter()
        .filter_map(|h| h.as_str().map(str::to_string))
        .collect())
}

/// Loads `path` and waits until its document and scripts have settled.
async fn load(driver: &Driver, demo: &Demo, path: &str) -> Res<()> {
    driver.goto(&demo.at(path.trim_start_matches('/'))).await?;
    if let Err(e) = wait_for(
        driver,
        "the page to load",
        Duration::from_secs(15),
        "return document.readyState === 'complete' && !!document.querySelector('main');",
        |v| v == &json!(true),
    )
    .await
    {
        let text = driver
            .exec(
                "return document.body ? document.body.innerText.slice(0, 300) : '';",
                json!([]),
            )
            .await
            .unwrap_or_default();
        return Err(format!("{path}: {e}; the page shows {text}"));
    }
    // Let the page's module fetch its first data.
    tokio::time::sleep(Duration::from_millis(700)).await;
    Ok(())
}

/// Runs axe-core's WCAG 2.1 A and AA rules on the page; returns the
/// violations, described.
async fn axe(driver: &Driver, source: &str) -> Res<Vec<String>> {
    let loaded = driver
        .exec("return typeof window.axe === 'object';", json!([]))
        .await?;
    if loaded != json!(true) {
        driver
            .exec(&format!("{source}\nreturn true;"), json!([]))
            .await?;
    }
    let v = driver
        .exec_async(
            "const done = arguments[arguments.length - 1]; \
             axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, \
               resultTypes: ['violations'] }) \
               .then((r) => done(r.violations.map((v) => v.id + ' (' + v.impact + '): ' + \
                 v.nodes.slice(0, 3).map((n) => n.target.join(' ') + ' — ' + n.failureSummary).join(' | ')))) \
               .catch((e) => done(['axe failed: ' + e]));",
            json!([]),
        )
        .await?;
    Ok(v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default())
}

async fn set_theme(driver: &Driver, theme: &str) -> Res<()> {
    driver
        .exec(
            "const s = document.getElementById('theme-select'); s.value = arguments[0]; \
             s.dispatchEvent(new Event('change')); return document.documentElement.dataset.theme || 'system';",
            json!([theme]),
        )
        .await
        .map(|_| ())
}

const ROLE_TEMPLATES: [(&str, &[&str]); 5] = [
    (
        "operator",
        &["/cameras", "/playback", "/bookmarks", "/locks"],
    ),
    (
        "investigator",
        &["/cameras", "/playback", "/bookmarks", "/exports", "/locks"],
    ),
    (
        "administrator",
        &[
            "/cameras",
            "/playback",
            "/bookmarks",
            "/locks",
            "/dpo",
            "/admin/cameras",
            "/admin/users",
            "/admin/roles",
            "/admin/four-eyes",
            "/admin/policy",
            "/admin/tokens",
            "/admin/retention",
            "/admin/quotas",
            "/system",
        ],
    ),
    (
        "dpo",
        &[
            "/locks",
            "/holds",
            "/disclosures",
            "/dpo",
            "/approvals",
            "/audit",
        ],
    ),
    ("auditor", &["/disclosures", "/audit"]),
];

async fn every_page(driver: &Driver, demo: &Demo) -> Res<()> {
    let axe_js = axe_source();
    let shots = artefacts_dir().join("screens");
    let mut problems = Vec::new();
    // Export needs a second person's approval: the investigator asks, and the
    // DPO (an approver) sees a badge with one pending request.
    let admin = Api::login_demo(demo).await?;
    admin
        .send(
            Method::PUT,
            "api/v1/settings/four-eyes",
            Some(json!({ "permissions": ["export"] })),
            StatusCode::NO_CONTENT,
        )
        .await?;
    for (role, expected) in ROLE_TEMPLATES {
        let name = format!("{role}.tester");
        let s = ready_account(demo, &name, role).await?;
        if role == "investigator" {
            s.send(
                Method::POST,
                "api/v1/approvals",
                Some(json!({ "permission": "export", "resource": "system",
                             "justification": "Police request 2026/42 for the car park" })),
                StatusCode::CREATED,
            )
            .await?;
        }
        adopt(driver, demo, &s).await?;
        driver.set_window_size(1280, 900).await?;
        let mut pages: Vec<&str> = expected.to_vec();
        pages.push("/account");
        if expected.contains(&"/playback") {
            // The timeline with both demo cameras, not only the picker.
            pages.push("/playback?cameras=1,2");
        }
        for page in pages {
            if let Err(e) = load(driver, demo, page).await {
                problems.push(format!("{role}: {e}"));
                continue;
            }
            let url = driver.current_url().await?;
            let path = page.split('?').next().unwrap_or(page);
            if !url.contains(path) {
                problems.push(format!("{role}: {page} went to {url}"));
                continue;
            }
            let badge = driver
                .exec(
                    "return document.getElementById('approvals-badge')?.firstChild?.textContent ?? null;",
                    json!([]),
                )
                .await?;
            let want_badge = if role == "dpo" {
                json!("1")
            } else {
                Value::Null
            };
            if badge != want_badge {
                problems.push(format!(
                    "{role} on {page}: approvals badge {badge}, expected {want_badge}"
                ));
            }
            if page == "/audit" {
                // Times in the user's locale and zone, UTC on hover.
                let t = driver
                    .exec(
                        "const t = document.querySelector('#audit-entries time'); \
                         return t ? [t.dateTime, t.textContent, t.title] : null;",
                        json!([]),
                    )
                    .await?;
                let ok = t.as_array().is_some_and(|a| {
                    let (utc, shown, title) = (&a[0], &a[1], a[2].as_str().unwrap_or(""));
                    utc != shown
                        && title.ends_with(" UTC")
                        && title.starts_with(utc.as_str().unwrap_or("?"))
                });
                if !ok {
                    problems.push(format!(
                        "{role} on /audit: time not localised with UTC on hover: {t}"
                    ));
                }
            }
            let links = nav_links(driver).await?;
            let want: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
            if links != want {
                problems.push(format!(
                    "{role} on {page}: links {links:?}, expected {want:?}"
                ));
            }
            let current = driver
                .exec(
                    "return Array.from(document.querySelectorAll('[aria-current=page]')).map((a) => a.getAttribute('href'));",
                    json!([]),
                )
                .await?;
            if !current.to_string().contains(&format!("\"{path}\"")) {
                problems.push(format!("{role} on {page}: current page marked {current}"));
            }
            for theme in ["light", "dark"] {
                set_theme(driver, theme).await?;
                for violation in axe(driver, &axe_js).await? {
                    problems.push(format!("{role} on {page} ({theme}): {violation}"));
                }
                if role == "administrator"
                    || role == "dpo"
                    || page == "/account" && role == "operator"
                {
                    let file = page
                        .trim_start_matches('/')
                        .replace(['/', '?', '=', ','], "-");
                    for width in [1280, 768] {
                        driver.set_window_size(width, 900).await?;
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        driver
                            .screenshot_to(
                                &shots.join(format!("{role}-{file}-{width}-{theme}.png")),
                            )
                            .await?;
                        let overflow = driver
                            .exec(
                                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
                                json!([]),
                            )
                            .await?;
                        if overflow.as_i64().unwrap_or(0) > 0 {
                            problems.push(format!(
                                "{role} on {page} at {width} px ({theme}): scrolls sideways by {overflow} px"
                            ));
                        }
                    }
                    driver.set_window_size(1280, 900).await?;
                }
            }
            set_theme(driver, "system").await?;
            for e in console_lines(&read_console(driver).await?, ERRORS) {
                problems.push(format!("{role} on {page}: console: {e}"));
            }
        }
        // An operator may not open administration pages: refused, not shown.
        if role == "operator" {
            let (denied, _) = s.call(Method::GET, "admin/users", None).await?;
            if denied != 403 {
                problems.push(format!("operator on /admin/users: {denied}, expected 403"));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_for_each_role_template_in_chromium() {
    run_in_chromium("every-page", 2, &[], every_page).await;
}

/// The account's own API tokens; the theme follows the system until
/// picked, then the cookie; the language follows the browser until picked,
/// then the account.
async fn theme_and_language(driver: &Driver, demo: &Demo) -> Res<()> {
    let s = ready_account(demo, "theme.tester", "operator").await?;
    adopt(driver, demo, &s).await?;
    own_tokens(driver, demo).await?;
    load(driver, demo, "/cameras").await?;
    let background = "return getComputedStyle(document.body).backgroundColor + ' ' + \
        (document.documentElement.dataset.theme || 'system') + ' ' + document.documentElement.lang;";
    let light = driver.exec(background, json!([])).await?;
    set_theme(driver, "dark").await?;
    load(driver, demo, "/cameras").await?;
    let dark = driver.exec(background, json!([])).await?;
    if light == dark || !dark.as_str().unwrap_or("").contains(" dark ") {
        return Err(format!("theme did not change or persist: {light} → {dark}"));
    }
    // Dark means a dark background: every channel below 64.
    let rgb: Vec<u32> = dark
        .as_str()
        .unwrap_or("")
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .take(3)
        .collect();
    if rgb.len() != 3 || rgb.iter().any(|c| *c >= 64) {
        return Err(format!("the dark theme's background is not dark: {dark}"));
    }
    driver
        .exec(
            "const s = document.getElementById('language-select'); s.value = 'pt'; \
             s.dispatchEvent(new Event('change')); return null;",
            json!([]),
        )
        .await?;
    wait_for(
        driver,
        "the page in Portuguese",
        Duration::from_secs(10),
        "return document.documentElement.lang + ' ' + (document.querySelector('#main-nav a[href=\"/cameras\"]')?.textContent ?? '');",
        |v| v == "pt Em direto",
    )
    .await?;
    // The choice is the account's: another page, a new load, still Portuguese.
    load(driver, demo, "/account").await?;
    let title = driver
        .exec(
            "return document.querySelector('h1').textContent;",
            json!([]),
        )
        .await?;
    if title != "A minha conta" {
        return Err(format!(
            "account page title in Portuguese expected, got {title}"
        ));
    }
    // A script's message comes from the same catalogue.
    let state = wait_for(
        driver,
        "the sessions table",
        Duration::from_secs(10),
        "return Array.from(document.querySelectorAll('#session-rows td')).map((c) => c.textContent).join('|');",
        |v| v.as_str().unwrap_or("").contains("esta sessão"),
    )
    .await?;
    let _ = state;
    check_console(driver, "/account in Portuguese", ERRORS)
        .await
        .map(|_| ())
}

/// On the account page, a user makes an API token (shown once), a program
/// uses it, and the user revokes it: the program is refused from then on.
async fn own_tokens(driver: &Driver, demo: &Demo) -> Res<()> {
    load(driver, demo, "/account#tokens").await?;
    let name = driver.find("#token-name").await?;
    driver.send_keys(&name, "door report script").await?;
    let role = driver
        .find("input[name=token-role][value=operator]")
        .await?;
    driver.click(&role).await?;
    let create = driver.find("#token-create").await?;
    driver.click(&create).await?;
    let token = wait_for(
        driver,
        "the new token's value",
        Duration::from_secs(10),
        "return document.getElementById('token-created').hidden ? '' : document.getElementById('token-value').textContent;",
        |v| v.as_str().is_some_and(|t| t.starts_with("veil_")),
    )
    .await?;
    let token = token.as_str().unwrap_or_default().to_string();
    let http = common::client();
    let status = |t: String| {
        let http = http.clone();
        let url = demo.at("api/v1/cameras");
        async move {
            http.get(url)
                .bearer_auth(t)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .map_err(|e| e.to_string())
        }
    };
    if status(token.clone()).await? != 200 {
        return Err("the new token is refused".into());
    }
    let revoke = driver.find("#token-rows button").await?;
    driver.click(&revoke).await?;
    driver.accept_alert().await?;
    wait_for(
        driver,
        "the token listed as revoked",
        Duration::from_secs(10),
        "return document.querySelector('#token-rows tr td:last-child').textContent;",
        |v| v == "revoked",
    )
    .await?;
    let after = status(token).await?;
    if after != 401 {
        return Err(format!("a revoked token answered {after}, expected 401"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_tokens_theme_and_language_in_chromium() {
    run_in_chromium("theme-and-language", 1, &[], theme_and_language).await;
}

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

/// What has the keyboard focus, and whether a focus ring is drawn.
const FOCUSED: &str = "const a = document.activeElement; \
    const s = getComputedStyle(a); \
    return { tag: a.tagName.toLowerCase(), id: a.id, href: a.getAttribute('href'), \
      text: (a.textContent || '').trim().slice(0, 40), \
      ring: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 };";

/// Presses Tab until `matches` accepts the focused element (at most `max`
/// times); every element passed on the way must show a focus ring.
async fn tab_to(
    driver: &Driver,
    what: &str,
    max: usize,
    matches: impl Fn(&Value) -> bool,
) -> Res<Value> {
    let mut seen = Vec::new();
    for _ in 0..max {
        driver.press_keys(&[TAB]).await?;
        let f = driver.exec(FOCUSED, json!([])).await?;
        if f["ring"] != json!(true) && f["tag"] != "body" {
            return Err(format!("no visible focus on {f}"));
        }
        if matches(&f) {
            return Ok(f);
        }
        seen.push(f.to_string());
    }
    Err(format!(
        "{what} not reached by Tab; passed: {}",
        seen.join(", ")
    ))
}

async fn keyboard_walk(driver: &Driver, demo: &Demo) -> Res<()> {
    driver.goto(&demo.at("login")).await?;
    let password = demo.password.clone().ok_or("no password printed")?;
    // The user name field has the focus on arrival.
    let f = driver.exec(FOCUSED, json!([])).await?;
    if f["id"] != "username" {
        return Err(format!("login page: focus on {f}, expected the user name"));
    }
    let mut keys: Vec<String> = demo.user.chars().map(String::from).collect();
    keys.push(TAB.into());
    keys.extend(password.chars().map(String::from));
    keys.push(ENTER.into());
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    driver.press_keys(&refs).await?;
    // The live grid after a keyboard login.
    wait_for_path(driver, "/cameras").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // First stop: the skip link, shown when focused.
    let skip = tab_to(driver, "the skip link", 1, |f| f["href"] == "#main").await?;
    let _ = skip;
    // The layout buttons are reachable and work with Enter.
    tab_to(driver, "the 3×3 layout button", 30, |f| {
        f["tag"] == "button" && f["text"].as_str().unwrap_or("").starts_with("3×3")
    })
    .await?;
    driver.press_keys(&[ENTER]).await?;
    let layout = driver
        .exec(
            "return document.getElementById('camera-grid').dataset.layout;",
            json!([]),
        )
        .await?;
    if layout != "3" {
        return Err(format!("Enter on the 3×3 button gave layout {layout}"));
    }
    // Then to a tile's playback link, and Enter opens playback.
    tab_to(driver, "a tile's playback link", 40, |f| {
        f["href"]
            .as_str()
            .unwrap_or("")
            .starts_with("/playback?cameras=")
    })
    .await?;
    driver.press_keys(&[ENTER]).await?;
    wait_for(
        driver,
        "the playback page after Enter",
        Duration::from_secs(15),
        "return location.pathname + location.search;",
        |v| v.as_str().unwrap_or("").starts_with("/playback?cameras="),
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(800)).await;
    // On playback, the controls are reachable: some button of the page's
    // own content takes the focus with a ring.
    tab_to(driver, "a playback control", 40, |f| {
        f["tag"] == "button"
            && f["id"]
                .as_str()
                .is_some_and(|id| !id.is_empty() && id != "logout-button")
    })
    .await?;
    check_console(driver, "/playback after the keyboard walk", ERRORS)
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_only_login_live_and_playback_in_chromium() {
    run_in_chromium("keyboard-walk", 2, &[], keyboard_walk).await;
}

/// What the grid shows: the layout, the shown tiles' camera ids, the page
/// label and each shown player's state.
const GRID: &str = "const g = document.getElementById('camera-grid'); \
    const shown = Array.from(g.querySelectorAll('li.tile')).filter((t) => !t.hidden); \
    return { layout: g.dataset.layout, ids: shown.map((t) => t.dataset.cameraId), \
      page: document.getElementById('page-label').textContent, url: location.search, \
      states: shown.map((t) => t.querySelector('video').dataset.state), \
      recording: shown.map((t) => t.querySelector('.recording').dataset.state || '') };";

/// The live grid: layouts and pages, the camera-group filter (kept in the
/// URL), recording states, a double click to full screen, the "30 s ago"
/// link, and players that stop while the tab is hidden.
async fn live_grid(driver: &Driver, demo: &Demo) -> Res<()> {
    let admin = Api::login_demo(demo).await?;
    // Three cameras in a group, at an address where nothing answers.
    let port = common::free_port();
    for n in 1..=3 {
        admin
            .send(
                Method::POST,
                "api/v1/cameras",
                Some(json!({ "name": format!("Car park {n}"),
                             "url": format!("rtsp://127.0.0.1:{port}/cam{n}"),
                             "group": "Car park" })),
                StatusCode::CREATED,
            )
            .await?;
    }
    adopt(driver, demo, &admin).await?;
    load(driver, demo, "/cameras").await?;
    let grid = driver.exec(GRID, json!([])).await?;
    if grid["layout"] != "2" || grid["ids"].as_array().map(Vec::len) != Some(4) {
        return Err(format!("2×2 should show 4 of 5 cameras: {grid}"));
    }
    let next = driver.find("#page-next").await?;
    driver.click(&next).await?;
    let grid = driver.exec(GRID, json!([])).await?;
    if grid["ids"].as_array().map(Vec::len) != Some(1)
        || !grid["url"].as_str().unwrap_or("").contains("page=2")
    {
        return Err(format!(
            "page 2 of 2×2 should show the fifth camera: {grid}"
        ));
    }
    let three = driver.find("button.layout[data-layout='3']").await?;
    driver.click(&three).await?;
    let grid = driver.exec(GRID, json!([])).await?;
    if grid["layout"] != "3" || grid["ids"].as_array().map(Vec::len) != Some(5) {
        return Err(format!("3×3 should show all 5 cameras: {grid}"));
    }
    driver
        .exec(
            "const s = document.getElementById('group-filter'); s.value = 'Car park'; \
             s.dispatchEvent(new Event('change')); return null;",
            json!([]),
        )
        .await?;
    let grid = driver.exec(GRID, json!([])).await?;
    if grid["ids"].as_array().map(Vec::len) != Some(3)
        || !grid["url"]
            .as_str()
            .unwrap_or("")
            .contains("group=Car+park")
    {
        return Err(format!(
            "the group filter should show the 3 car-park cameras: {grid}"
        ));
    }
    // The view is in the URL: a reload keeps it.
    let url = driver.current_url().await?;
    driver.goto(&url).await?;
    let grid = wait_for(
        driver,
        "the same view after a reload, recording states shown",
        Duration::from_secs(20),
        GRID,
        |g| {
            g["layout"] == "3"
                && g["ids"].as_array().map(Vec::len) == Some(3)
                && g["recording"]
                    .as_array()
                    .is_some_and(|r| r.iter().all(|s| s == "connecting" || s == "error"))
        },
    )
    .await?;
    let _ = grid;
    // Back to all groups: the synthetic cameras record and play live.
    driver
        .exec(
            "const s = document.getElementById('group-filter'); s.value = ''; \
             s.dispatchEvent(new Event('change')); return null;",
            json!([]),
        )
        .await?;
    wait_for(
        driver,
        "the synthetic cameras live and recording",
        Duration::from_secs(20),
        GRID,
        |g| {
            let live = |i: usize| g["states"][i] == "live" && g["recording"][i] == "recording";
            g["ids"][0] == "1" && g["ids"][1] == "2" && live(0) && live(1)
        },
    )
    .await?;
    // A hidden tab stops every player; shown again, they come back.
    let hide = "Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => arguments[0] }); \
        document.dispatchEvent(new Event('visibilitychange')); return null;";
    driver.exec(hide, json!(["hidden"])).await?;
    let grid = driver.exec(GRID, json!([])).await?;
    if !grid["states"]
        .as_array()
        .is_some_and(|s| s.iter().all(|s| s == "hidden"))
    {
        return Err(format!(
            "players should stop while the tab is hidden: {grid}"
        ));
    }
    driver.exec(hide, json!(["visible"])).await?;
    wait_for(
        driver,
        "the players live again",
        Duration::from_secs(20),
        GRID,
        |g| g["states"][0] == "live" && g["states"][1] == "live",
    )
    .await?;
    // A double click shows the tile full screen.
    let video = driver.find("#camera-1 video").await?;
    driver.mouse_click(&video, 0, 0, 2).await?;
    wait_for(
        driver,
        "the tile full screen",
        Duration::from_secs(5),
        "return document.fullscreenElement ? document.fullscreenElement.closest('li').id : null;",
        |v| v == "camera-1",
    )
    .await?;
    driver
        .exec("document.exitFullscreen(); return null;", json!([]))
        .await?;
    // "Play from 30 s ago" opens playback at the click's time minus 30 s.
    let clicked = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let link = driver.find("#camera-1 a.replay").await?;
    driver.click(&link).await?;
    let url = wait_for(
        driver,
        "the playback page",
        Duration::from_secs(15),
        "return location.pathname === '/playback' ? new URLSearchParams(location.search).get('t') : null;",
        |v| v.is_string(),
    )
    .await?;
    let t = chrono::DateTime::parse_from_rfc3339(url.as_str().unwrap_or(""))
        .map_err(|e| format!("t={url}: {e}"))?;
    let ago = clicked - t.timestamp_millis() as f64 / 1000.0;
    if !(25.0..=40.0).contains(&ago) {
        return Err(format!(
            "the playback link points {ago:.1} s back, expected about 30"
        ));
    }
    check_console(driver, "/playback from the live grid", ERRORS)
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_grid_layouts_groups_full_screen_and_hidden_tabs_in_chromium() {
    run_in_chromium("live-grid", 2, &[], live_grid).await;
}
