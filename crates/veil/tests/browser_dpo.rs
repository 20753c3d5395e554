//! The DPO's desk in headless Chromium. A data-protection officer (the
//! `dpo` template, with a second factor) opens `/dpo` from the navigation
//! and:
//!
//! - fills the organisation profile on `/dpo/organisation`, adding a site
//!   whose id is not allowed (`Loja Centro`): the API's error, naming
//!   `sites[N].id`, is shown above the form, that field is marked invalid
//!   and focused, and nothing is saved; with `loja-centro` the profile is
//!   saved (read back through the API);
//! - sees the record of processing needing review on the desk, marks it
//!   reviewed with a note and sees it no longer needs review (the other
//!   documents still do);
//! - opens the record's HTML (a link to a new tab) and finds the
//!   controller's name in the printable page;
//! - on `/dpo/access-review` finds their own account's buttons disabled,
//!   confirms the demo administrator's roles and sees its last review set
//!   (the demo's clock is the wall clock, so no review is overdue yet);
//! - on `/dpo/compliance` sees findings with their rule id and citation,
//!   and the severity filter keeps only the chosen severity;
//! - enters a processor in the register on `/dpo/processors` and sees it
//!   listed.
//!
//! No page of the desk scrolls sideways at 768 px; no console error beyond
//! the one refusal, no CSP violation (the printable record's own
//! stylesheet applies), no message missing from the catalogue.
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

const DPO: &str = "dora.dpo";
const PASSWORD: &str = "a long officer password 9";
const CONTROLLER: &str = "Pastelaria Exemplo, Lda.";

/// The DPO, with a second factor and the usage policy acknowledged, signed
/// in through the API.
async fn officer(demo: &Demo) -> Res<Api> {
    let admin = Api::login_demo(demo).await?;
    let first = admin.create_user(DPO, &["dpo"]).await?;
    let s = Api::first_login(demo, DPO, &first, PASSWORD).await?;
    s.enrol_totp().await?;
    s.acknowledge_policy().await?;
    Ok(s)
}

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

/// Opens `path` through the desk's sub-navigation and waits for its data.
async fn open(driver: &Driver, path: &str, root: &str) -> Res<()> {
    driver
        .click_on(&format!("nav.subnav a[href=\"{path}\"]"))
        .await?;
    wait_for(
        driver,
        &format!("the page {path}"),
        WAIT,
        "return location.pathname;",
        |v| v == path,
    )
    .await?;
    loaded(driver, root).await
}

/// Types `text` into the (empty) field `css`.
async fn type_into(driver: &Driver, css: &str, text: &str) -> Res<()> {
    let el = driver.find(css).await?;
    driver.clear(&el).await?;
    driver.send_keys(&el, text).await
}

/// Fails if the page scrolls sideways at 768 px.
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

/// The RoPA card's `data-needs-review`.
const ROPA_STATE: &str = "const c = document.querySelector('.doc-card[data-kind=ropa]'); \
    return c ? c.dataset.needsReview : null;";

async fn organisation(driver: &Driver, dpo: &Api) -> Res<()> {
    open(driver, "/dpo/organisation", "dpo-organisation").await?;
    for (css, text) in [
        ("#org-controller-name", CONTROLLER),
        ("#org-controller-address", "Rua Augusta 1, 1100-048 Lisboa"),
        ("#org-controller-email", "geral@exemplo.pt"),
        ("#org-dpo-name", "Dora Duarte"),
        ("#org-dpo-email", "epd@exemplo.pt"),
        (
            "#org-authority-name",
            "Comissão Nacional de Proteção de Dados",
        ),
        ("#org-authority-contact", "https://www.cnpd.pt"),
        ("#org-storage-data_country", "pt"),
        ("#org-information_at", "At the shop's counter"),
    ] {
        type_into(driver, css, text).await?;
    }
    let before = driver
        .exec(
            "return document.querySelectorAll('#org-sites li').length;",
            json!([]),
        )
        .await?
        .as_u64()
        .ok_or("no site rows")?;
    driver.click_on("#org-add-site").await?;
    let row = format!("#org-sites li:nth-child({})", before + 1);
    type_into(driver, &format!("{row} input[data-part=id]"), "Loja Centro").await?;
    type_into(
        driver,
        &format!("{row} input[data-part=name]"),
        "Loja do Centro",
    )
    .await?;
    type_into(
        driver,
        &format!("{row} input[data-part=address]"),
        "Rua do Ouro 10, Lisboa",
    )
    .await?;
    // A backup row added and removed again.
    driver.click_on("#org-add-backup").await?;
    driver
        .click_on("#org-backups li:last-child button.remove")
        .await?;

    // The bad site id: the API's error beside the form, the field marked.
    driver.click_on("#org-save").await?;
    let field = format!("sites[{before}].id");
    let refused = wait_for(
        driver,
        "the refusal of the site id",
        WAIT,
        "const e = document.getElementById('org-error'); \
         const a = document.activeElement; \
         return [e.hidden ? '' : e.textContent, a ? a.dataset.field || '' : '', \
                 a ? a.getAttribute('aria-invalid') : null];",
        |v| v[0] != "",
    )
    .await?;
    if !refused[0].as_str().is_some_and(|m| m.starts_with(&field))
        || refused[1] != field.as_str()
        || refused[2] != "true"
    {
        return Err(format!("the refusal is not shown at {field}: {refused}"));
    }
    let stored = dpo
        .send(Method::GET, "api/v1/organisation", None, StatusCode::OK)
        .await?;
    if stored["controller"]["name"] == CONTROLLER {
        return Err(format!("a refused profile was saved: {stored}"));
    }

    // Fixed, it is saved.
    type_into(driver, &format!("{row} input[data-part=id]"), "loja-centro").await?;
    driver.click_on("#org-save").await?;
    let saved = wait_for(
        driver,
        "the profile to be saved",
        WAIT,
        "const m = document.getElementById('message'); \
         const e = document.getElementById('org-error'); \
         return [m.hidden ? '' : m.textContent, e.hidden ? '' : e.textContent, \
                 document.querySelectorAll('#org-form [aria-invalid]').length];",
        |v| v[0] != "" || v[1] != "",
    )
    .await?;
    if saved[1] != "" || saved[2] != 0 {
        return Err(format!("the profile was not saved: {saved}"));
    }
    let stored = dpo
        .send(Method::GET, "api/v1/organisation", None, StatusCode::OK)
        .await?;
    let site = stored["sites"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == "loja-centro"));
    if stored["controller"]["name"] != CONTROLLER
        || stored["storage"]["data_country"] != "PT"
        || site.is_none_or(|s| s["name"] != "Loja do Centro")
        || stored["storage"]["backups"]
            .as_array()
            .is_none_or(|b| !b.is_empty())
    {
        return Err(format!("the stored profile is {stored}"));
    }
    fits_768(driver, "/dpo/organisation").await
}

async fn documents(driver: &Driver, demo: &Demo) -> Res<()> {
    open(driver, "/dpo", "dpo-desk").await?;
    let state = driver.exec(ROPA_STATE, json!([])).await?;
    if state != "true" {
        return Err(format!("the RoPA does not need review: {state}"));
    }
    type_into(driver, "#review-note-ropa", "Checked against the new site").await?;
    driver.click_on("#review-ropa").await?;
    wait_for(driver, "the RoPA to be reviewed", WAIT, ROPA_STATE, |v| {
        v == "false"
    })
    .await?;
    let others = driver
        .exec(
            "return Array.from(document.querySelectorAll('.doc-card')) \
               .map((c) => [c.dataset.kind, c.dataset.needsReview]);",
            json!([]),
        )
        .await?;
    if others
        != json!([
            ["ropa", "false"],
            ["policy", "true"],
            ["notice", "true"],
            ["dpia", "true"]
        ])
    {
        return Err(format!("the documents' states: {others}"));
    }
    for id in ["dpo-compliance-summary", "dpo-dpia"] {
        let text = driver
            .exec(
                "return document.getElementById(arguments[0]).textContent;",
                json!([id]),
            )
            .await?;
        if text.as_str().is_none_or(str::is_empty) {
            return Err(format!("#{id} is empty"));
        }
    }
    fits_768(driver, "/dpo").await?;

    // The printable record, from its link (a new tab), names the controller.
    let link = driver
        .exec(
            "const a = document.querySelector('.doc-card[data-kind=ropa] a[href$=\"format=html\"]'); \
             return a ? [a.getAttribute('href'), a.target, a.rel] : null;",
            json!([]),
        )
        .await?;
    if link[1] != "_blank" || link[2] != "noopener" {
        return Err(format!("the HTML link does not open a new tab: {link}"));
    }
    let href = link[0].as_str().ok_or("no HTML link")?;
    driver.goto(&demo.at(href.trim_start_matches('/'))).await?;
    let text = wait_for(
        driver,
        "the printable record",
        WAIT,
        "return document.body ? document.body.innerText : '';",
        |v| v.as_str().is_some_and(|t| !t.is_empty()),
    )
    .await?;
    if !text.as_str().is_some_and(|t| t.contains(CONTROLLER)) {
        return Err(format!("the record does not name {CONTROLLER}: {text}"));
    }
    // Its own stylesheet applies (the route allows it by its hash): the
    // A4 page's body is 174 mm wide at most.
    let width = driver
        .exec(
            "return getComputedStyle(document.body).maxWidth;",
            json!([]),
        )
        .await?;
    if width.as_str().is_none_or(|w| w == "none") {
        return Err(format!(
            "the printable record is unstyled (max-width {width})"
        ));
    }
    let console = read_console(driver).await?;
    for line in console_lines(&console, STRICT) {
        let refusal = line.contains("/api/v1/organisation") && line.contains("400");
        if !refusal {
            return Err(format!("the console shows {line}"));
        }
    }
    driver.goto(&demo.at("dpo")).await?;
    loaded(driver, "dpo-desk").await
}

async fn access_review(driver: &Driver, demo: &Demo, dpo: &Api) -> Res<()> {
    open(driver, "/dpo/access-review", "dpo-access").await?;
    let rows = driver
        .exec(
            "return Array.from(document.querySelectorAll('#access-table tbody tr')).map((r) => ({ \
               login: r.cells[0].textContent, id: r.dataset.userId, overdue: r.dataset.overdue, \
               last: r.cells[2].textContent, confirm: r.querySelector('button.confirm')?.disabled, \
               revoke: r.querySelector('button.revoke')?.disabled }));",
            json!([]),
        )
        .await?;
    let row = |login: &str| {
        rows.as_array()
            .and_then(|r| r.iter().find(|r| r["login"] == login).cloned())
            .ok_or(format!("no row of {login}: {rows}"))
    };
    let own = row(DPO)?;
    if own["confirm"] != true || own["revoke"] != true {
        return Err(format!("the DPO may review their own account: {own}"));
    }
    let admin = row(&demo.user)?;
    if admin["confirm"] != false || admin["overdue"] != "false" {
        return Err(format!("the administrator's row: {admin}"));
    }
    let id = admin["id"].as_str().ok_or("no user id")?.to_string();
    driver
        .click_on(&format!(
            "#access-table tr[data-user-id=\"{id}\"] button.confirm"
        ))
        .await?;
    let last = wait_for(
        driver,
        "the administrator's last review",
        WAIT,
        &format!(
            "const r = document.querySelector('#access-table tr[data-user-id=\"{id}\"]'); \
             const t = r ? r.cells[2].querySelector('time') : null; \
             return t ? t.getAttribute('datetime') : null;"
        ),
        |v| v.is_string(),
    )
    .await?;
    let listed = dpo
        .send(Method::GET, "api/v1/access-reviews", None, StatusCode::OK)
        .await?;
    let item = listed["items"]
        .as_array()
        .and_then(|i| {
            i.iter().find(|i| {
                i["user_id"].as_i64().map(|n| n.to_string()).as_deref() == Some(id.as_str())
            })
        })
        .ok_or(format!("no item {id}: {listed}"))?;
    let reviewed = item["last_review_at"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .ok_or(format!("no last review: {item}"))?;
    let shown = last
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .ok_or(format!("the page's time {last}"))?;
    if (reviewed - shown).num_seconds().abs() > 1
        || (chrono::Utc::now() - reviewed.with_timezone(&chrono::Utc)).num_minutes() > 5
    {
        return Err(format!("last review {reviewed}, shown {shown}"));
    }
    fits_768(driver, "/dpo/access-review").await
}

async fn compliance(driver: &Driver) -> Res<()> {
    open(driver, "/dpo/compliance", "dpo-compliance").await?;
    const ROWS: &str =
        "return Array.from(document.querySelectorAll('#compliance-table tbody tr[data-rule]')) \
        .map((r) => [r.dataset.severity, r.cells[1].textContent, r.cells[5].textContent]);";
    let rows = driver.exec(ROWS, json!([])).await?;
    let all = rows.as_array().cloned().unwrap_or_default();
    let first = all.first().ok_or("no findings listed")?;
    if all.iter().any(|r| {
        r[1].as_str().is_none_or(|s| !s.contains('.')) || r[2].as_str().is_none_or(str::is_empty)
    }) {
        return Err(format!("a finding without rule id or citation: {rows}"));
    }
    let severity = first[0].as_str().unwrap_or_default().to_string();
    driver
        .exec(
            "const s = document.getElementById('compliance-severity'); s.value = arguments[0]; \
             s.dispatchEvent(new Event('change')); return null;",
            json!([severity]),
        )
        .await?;
    let filtered = driver.exec(ROWS, json!([])).await?;
    let kept = filtered.as_array().cloned().unwrap_or_default();
    let expected = all.iter().filter(|r| r[0] == severity.as_str()).count();
    if kept.len() != expected || kept.iter().any(|r| r[0] != severity.as_str()) {
        return Err(format!("filtered by {severity}: {filtered} of {rows}"));
    }
    fits_768(driver, "/dpo/compliance").await
}

async fn processors(driver: &Driver, dpo: &Api) -> Res<()> {
    open(driver, "/dpo/processors", "dpo-processors").await?;
    type_into(driver, "#proc-name", "Segurança Total, S.A.").await?;
    type_into(
        driver,
        "#proc-scope",
        "Maintenance of the cameras and the recorder",
    )
    .await?;
    type_into(driver, "#proc-country", "pt").await?;
    driver
        .exec(
            "const d = document.getElementById('proc-date'); d.value = '2026-01-15'; \
             d.dispatchEvent(new Event('input', { bubbles: true })); return null;",
            json!([]),
        )
        .await?;
    driver.click_on("#proc-save").await?;
    let listed = wait_for(
        driver,
        "the processor in the table",
        WAIT,
        "const e = document.getElementById('proc-error'); \
         const r = document.querySelector('#proc-table tbody tr[data-id]'); \
         return [e.hidden ? '' : e.textContent, r ? Array.from(r.cells).map((c) => c.textContent) : null];",
        |v| v[0] != "" || v[1].is_array(),
    )
    .await?;
    if listed[1][0] != "Segurança Total, S.A." || listed[1][2] != "2026-01-15" {
        return Err(format!("the register shows {listed}"));
    }
    let stored = dpo
        .send(Method::GET, "api/v1/processors", None, StatusCode::OK)
        .await?;
    if stored["items"][0]["country"] != "PT" || stored["items"][0]["kind"] != "maintenance" {
        return Err(format!("the register holds {stored}"));
    }
    fits_768(driver, "/dpo/processors").await
}

async fn scenario(driver: &Driver, demo: &Demo) -> Res<()> {
    let dpo = officer(demo).await?;
    adopt(driver, demo, &dpo).await?;
    driver.set_window_size(1280, 900).await?;
    driver.goto(&demo.at("account")).await?;
    wait_for(
        driver,
        "the DPO desk link",
        WAIT,
        "return !!document.querySelector('#main-nav a[href=\"/dpo\"]');",
        |v| v == true,
    )
    .await?;
    driver.click_on("#main-nav a[href=\"/dpo\"]").await?;
    loaded(driver, "dpo-desk").await?;

    organisation(driver, &dpo).await?;
    documents(driver, demo).await?;
    access_review(driver, demo, &dpo).await?;
    compliance(driver).await?;
    processors(driver, &dpo).await?;

    // No error since the printable record.
    let console = read_console(driver).await?;
    if let Some(line) = console_lines(&console, STRICT).first() {
        return Err(format!("the console shows {line}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dpo_desk_profile_reviews_and_findings_in_chromium() {
    run_in_chromium("dpo", 1, &[], scenario).await;
}

/// An operator is refused the desk's pages (the link is not shown either).
async fn refused_scenario(driver: &Driver, demo: &Demo) -> Res<()> {
    let admin = Api::login_demo(demo).await?;
    let first = admin.create_user("olga.operator", &["operator"]).await?;
    let op = Api::first_login(demo, "olga.operator", &first, PASSWORD).await?;
    op.acknowledge_policy().await?;
    for path in [
        "dpo",
        "dpo/compliance",
        "dpo/access-review",
        "dpo/organisation",
        "dpo/processors",
    ] {
        let (status, _) = op.call(Method::GET, path, None).await?;
        if status != StatusCode::FORBIDDEN {
            return Err(format!("an operator gets {status} for /{path}"));
        }
    }
    adopt(driver, demo, &op).await?;
    driver.goto(&demo.at("cameras")).await?;
    let link: Value = driver
        .exec(
            "return !!document.querySelector('#main-nav a[href=\"/dpo\"]');",
            json!([]),
        )
        .await?;
    if link != false {
        return Err("an operator is shown the DPO desk link".into());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_is_refused_the_dpo_desk_in_chromium() {
    run_in_chromium("dpo-refused", 1, &[], refused_scenario).await;
}
