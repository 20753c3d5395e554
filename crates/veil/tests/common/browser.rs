//! What the Chromium tests share beyond the WebDriver client: a `veil demo`
//! and a browser for a scenario, signing in through the login page, waiting
//! for a page, the browser console's checks and the explanation of a
//! failure.

use std::time::Duration;

use serde_json::{json, Value};

use super::api::{demo_password, Api};
use super::webdriver::{artefacts_dir, wait_for, Driver, Res};
use super::Demo;

/// How long a page is given to get where a step expects it.
pub const WAIT: Duration = Duration::from_secs(15);

/// What a Content-Security-Policy violation writes to the console.
pub const CSP: &str = "Content Security Policy";
/// How the console log marks an error.
pub const SEVERE: &str = "[SEVERE]";
/// What the pages write for a message missing from their catalogue.
pub const NOT_IN_CATALOGUE: &str = "not in the catalogue";
/// No error and no CSP violation.
pub const ERRORS: &[&str] = &[SEVERE, CSP];
/// No error, no CSP violation and no message missing from the catalogue.
pub const STRICT: &[&str] = &[SEVERE, CSP, NOT_IN_CATALOGUE];

/// Starts `veil demo` with `cameras` synthetic cameras (and `args`) in a
/// fresh data directory, and Chromium; runs `scenario`; fails the test as
/// [`explain_failure`] does (its screenshot named after `name`) when the
/// scenario fails.
pub async fn run_in_chromium(
    name: &str,
    cameras: u32,
    args: &[&str],
    scenario: impl AsyncFnOnce(&Driver, &Demo) -> Res<()>,
) {
    let data = tempfile::tempdir().expect("tempdir");
    let demo = Demo::start(data.path(), cameras, args);
    let driver = Driver::start().await;
    if let Err(error) = scenario(&driver, &demo).await {
        explain_failure(&driver, &demo, name, error).await;
    }
    // The browser goes before the server.
    drop(driver);
}

/// Fails the test with `error`, the page's address, its visible text and
/// videos, a screenshot (saved as `screens/<name>-failure.png` among the
/// test artefacts), the browser console and the demo's output.
pub async fn explain_failure(driver: &Driver, demo: &Demo, name: &str, error: String) -> ! {
    let url = driver.current_url().await.unwrap_or_default();
    let state = driver
        .exec(
            "return { text: document.body ? document.body.innerText.slice(0, 2000) : null, \
               videos: Array.from(document.querySelectorAll('video')).map((v) => ({ \
                 id: v.id, camera: v.dataset.cameraId, t: v.currentTime, state: v.dataset.state, \
                 ready: v.readyState, error: v.error && v.error.code })) };",
            json!([]),
        )
        .await
        .unwrap_or(Value::Null);
    let shot = artefacts_dir().join(format!("screens/{name}-failure.png"));
    let screenshot = match driver.screenshot_to(&shot).await {
        Ok(()) => shot.display().to_string(),
        Err(e) => format!("(no screenshot: {e})"),
    };
    let console = driver.console_log().await;
    panic!(
        "browser test failed: {error}\n\
         page: {url}\nstate: {state}\nscreenshot: {screenshot}\n\
         --- browser console ---\n{console}\n\
         --- veil demo output ---\n{}",
        demo.output()
    );
}

/// Types `user` and `password` into the open login page and presses its
/// button; returns the button (the new-password step uses it again).
pub async fn submit_login(driver: &Driver, user: &str, password: &str) -> Res<String> {
    let u = driver.find("#username").await?;
    driver.send_keys(&u, user).await?;
    let p = driver.find("#password").await?;
    driver.send_keys(&p, password).await?;
    let button = driver.find("#login-button").await?;
    driver.click(&button).await?;
    Ok(button)
}

/// Waits until the browser has left the login page; if it does not, says
/// what the login page shows as its error.
pub async fn wait_past_login(driver: &Driver) -> Res<()> {
    let left = wait_for(
        driver,
        "the login to leave /login",
        WAIT,
        "return location.pathname;",
        |v| v.as_str().is_some_and(|p| p != "/login"),
    )
    .await;
    if let Err(e) = left {
        let error = driver
            .exec(
                "return document.getElementById('login-error')?.textContent ?? null;",
                json!([]),
            )
            .await
            .unwrap_or(Value::Null);
        return Err(format!("{e}; login error: {error}"));
    }
    Ok(())
}

/// Opens the login page, signs `user` in and waits until the browser has
/// left the page.
pub async fn sign_in_as(driver: &Driver, demo: &Demo, user: &str, password: &str) -> Res<()> {
    driver.goto(&demo.at("login")).await?;
    submit_login(driver, user, password).await?;
    wait_past_login(driver).await
}

/// [`sign_in_as`] the demo's own account; returns its password.
pub async fn sign_in(driver: &Driver, demo: &Demo) -> Res<String> {
    let password = demo_password(demo)?;
    sign_in_as(driver, demo, &demo.user, &password).await?;
    Ok(password)
}

/// On the open login page: signs `user` in with the one-time password
/// `one_time` and gives `new` in the new-password step that follows.
pub async fn replace_one_time_password(
    driver: &Driver,
    user: &str,
    one_time: &str,
    new: &str,
) -> Res<()> {
    let button = submit_login(driver, user, one_time).await?;
    wait_for(
        driver,
        "the new-password step",
        WAIT,
        "return !document.getElementById('new-password-step').hidden;",
        |v| v == &json!(true),
    )
    .await?;
    let field = driver.find("#new-password").await?;
    driver.send_keys(&field, new).await?;
    driver.click(&button).await
}

/// Waits until the page's path (without the query) is `path`.
pub async fn wait_for_path(driver: &Driver, path: &str) -> Res<()> {
    wait_for(
        driver,
        &format!("the page {path}"),
        WAIT,
        "return location.pathname;",
        |v| v == path,
    )
    .await
    .map(|_| ())
}

/// Writes a marker line to the browser console and reads the log since the
/// last read; fails if the marker is not in it (an empty log proves
/// nothing unless logging works).
pub async fn read_console(driver: &Driver) -> Res<String> {
    driver
        .exec(
            "console.warn('veil-console-marker'); return null;",
            json!([]),
        )
        .await?;
    let console = driver.console_log().await;
    if !console.contains("veil-console-marker") {
        return Err(format!(
            "the browser log is not being read (no marker line):\n{console}"
        ));
    }
    Ok(console)
}

/// The lines of `console` that hold any of `bad`.
pub fn console_lines(console: &str, bad: &[&str]) -> Vec<String> {
    console
        .lines()
        .filter(|l| bad.iter().any(|b| l.contains(b)))
        .map(str::to_string)
        .collect()
}

/// Reads the console since the last read ([`read_console`]) and fails,
/// naming `page`, if a line holds any of `bad` (e.g. [`ERRORS`]); returns
/// the log.
pub async fn check_console(driver: &Driver, page: &str, bad: &[&str]) -> Res<String> {
    let console = read_console(driver).await?;
    let found = console_lines(&console, bad);
    if !found.is_empty() {
        return Err(format!("{page}: the console shows {found:?}:\n{console}"));
    }
    Ok(console)
}

/// Hands an API session to the browser (its two cookies).
pub async fn adopt(driver: &Driver, demo: &Demo, s: &Api) -> Res<()> {
    driver.goto(&demo.at("login")).await?;
    driver
        .call(
            reqwest::Method::DELETE,
            &driver.session_path("/cookie"),
            None,
        )
        .await?;
    for (name, value, http_only) in [
        ("veil_session", &s.token, true),
        ("veil_csrf", &s.csrf, false),
    ] {
        driver
            .call(
                reqwest::Method::POST,
                &driver.session_path("/cookie"),
                Some(json!({ "cookie": {
                    "name": name, "value": value, "path": "/", "secure": true,
                    "httpOnly": http_only, "sameSite": "Strict" } })),
            )
            .await?;
    }
    Ok(())
}
