//! The DPO's desk in the browser (issue 15): `/dpo` (the desk),
//! `/dpo/compliance` (every finding of the lint), `/dpo/access-review`
//! (accounts' roles confirmed or revoked), `/dpo/organisation` (the
//! organisation profile) and `/dpo/processors` (the register of
//! processors).
//!
//! Each page is a server-rendered skeleton in the shell with one script
//! (`assets/dpo*.js`) that reads and writes through the API
//! ([`crate::dpo`], [`crate::organisation`], [`crate::processors`]), so the
//! API's rules hold whatever a page does. A page is shown to whoever may
//! read what it shows (`dpo.documents` or `users.admin`, as the API);
//! what only the DPO may do (mark a document reviewed, change the profile
//! or the register) is offered only to holders of `dpo.documents`
//! (`data-can-edit` on the page's root element).

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Html;
use axum::Extension;
use veil_access::{Action, Resource};

use crate::auth::Session;
use crate::error::ApiError;
use crate::shell::Shell;
use crate::ui::escape;
use crate::AppState;

/// Whether `s` may read the desk: `users.admin`, else `dpo.documents`
/// (refused and logged as any other refusal).
fn may_read(state: &AppState, s: &Session) -> Result<(), ApiError> {
    if state.allowed(s, Action::UserAdmin, Resource::System) {
        return Ok(());
    }
    state.authorize(s, Action::DpoDocuments, Resource::System)
}

/// Whether `s` may write what only the DPO writes.
fn may_edit(state: &AppState, s: &Session) -> bool {
    state.allowed(s, Action::DpoDocuments, Resource::System)
}

/// The desk's pages, in the order of the sub-navigation: path and message id.
const PAGES: &[(&str, &str)] = &[
    ("/dpo", "dpo.nav.desk"),
    ("/dpo/compliance", "dpo.nav.compliance"),
    ("/dpo/access-review", "dpo.nav.access_review"),
    ("/dpo/organisation", "dpo.nav.organisation"),
    ("/dpo/processors", "dpo.nav.processors"),
    ("/dpo/requests", "dpo.nav.requests"),
    ("/dpo/breaches", "dpo.nav.breaches"),
];

/// The sub-navigation between the desk's pages, `current` marked.
fn subnav(shell: &Shell, current: &str) -> String {
    let mut out = format!(
        "<nav class=\"subnav\" aria-label=\"{}\"><ul>",
        escape(shell.t("dpo.nav.label"))
    );
    for &(href, key) in PAGES {
        let mark = if href == current {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<li><a href=\"{href}\"{mark}>{}</a></li>",
            escape(shell.t(key))
        );
    }
    out.push_str("</ul></nav>\n");
    out.push_str(&breach_banner(shell));
    out
}

/// The 72-hour clock of every open breach, on every page of the desk
/// (empty when there is none, or for those who may not read breaches).
fn breach_banner(shell: &Shell) -> String {
    if shell.breach_clocks.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "<div class=\"breach-clock\" id=\"breach-clock\" role=\"status\"><strong>{}</strong><ul>",
        escape(shell.t("dpo.breach_clock.title"))
    );
    for &(id, hours, late) in &shell.breach_clocks {
        let (key, h) = if late || hours < 0 {
            ("dpo.breach_clock.late", (-hours).max(0))
        } else {
            ("dpo.breach_clock.left", hours)
        };
        let _ = write!(
            out,
            "<li data-breach=\"{id}\" data-hours-left=\"{hours}\"><a href=\"/dpo/breaches#breach-{id}\">{}</a></li>",
            escape(&shell.tr(key, &[("id", &id.to_string()), ("hours", &h.to_string())]))
        );
    }
    out.push_str("</ul></div>\n");
    out
}

/// A page of the desk: the sub-navigation, the title, the lede, the page's
/// root element (`id`, with `data-can-edit` and any `extra` attributes)
/// holding `body`, and a status line for the script's messages.
pub(crate) fn desk_page(
    shell: &Shell,
    path: &str,
    key: &str,
    script: &str,
    root: (&str, bool, &str),
    body: &str,
) -> Html<String> {
    let (id, can_edit, extra) = root;
    let t = |k: &str| escape(shell.t(k));
    let html = format!(
        "{nav}<h1>{title}</h1><p class=\"lede\">{intro}</p>\n\
<div id=\"{id}\" data-can-edit=\"{can_edit}\"{extra}>\n{body}</div>\n\
<p id=\"message\" role=\"status\" aria-live=\"polite\" hidden></p>\n",
        nav = subnav(shell, path),
        title = t(&format!("{key}.title")),
        intro = t(&format!("{key}.intro")),
    );
    shell.page(shell.t(&format!("{key}.title")), script, &html)
}

/// `GET /dpo`: the desk.
pub async fn desk(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    may_read(&state, &s)?;
    let shell = Shell::new(&state, &s, &headers, "/dpo").await?;
    Ok(desk_page(
        &shell,
        "/dpo",
        "dpo.desk",
        "dpo.js",
        ("dpo-desk", may_edit(&state, &s), ""),
        &desk_content(&shell),
    ))
}

fn desk_content(shell: &Shell) -> String {
    let t = |k: &str| escape(shell.t(k));
    format!(
        r#"<p id="dpo-version" class="muted"></p>
<section aria-labelledby="docs-h"><h2 id="docs-h">{docs}</h2>
<div id="dpo-documents" class="doc-cards"></div></section>
<section aria-labelledby="compliance-h" class="card"><h2 id="compliance-h">{compliance}</h2>
<p id="dpo-compliance-summary"></p>
<ul id="dpo-errors"></ul>
<p><a href="/dpo/compliance">{all_findings}</a></p></section>
<section aria-labelledby="reviews-h" class="card"><h2 id="reviews-h">{reviews}</h2>
<ul id="dpo-overdue"></ul>
<p><a href="/dpo/access-review">{review_link}</a></p></section>
<section aria-labelledby="dpia-h" class="card"><h2 id="dpia-h">{dpia}</h2>
<p id="dpo-dpia"></p>
<ul id="dpo-dpia-reasons"></ul></section>
<section aria-labelledby="purpose-h" class="card"><h2 id="purpose-h">{purpose}</h2>
<p class="hint">{purpose_hint}</p>
<ul id="dpo-no-purpose"></ul></section>
"#,
        docs = t("dpo.desk.documents"),
        compliance = t("dpo.desk.compliance"),
        all_findings = t("dpo.desk.all_findings"),
        reviews = t("dpo.desk.overdue"),
        review_link = t("dpo.desk.review_link"),
        dpia = t("dpo.desk.dpia"),
        purpose = t("dpo.desk.no_purpose"),
        purpose_hint = t("dpo.desk.no_purpose_hint"),
    )
}

/// `GET /dpo/compliance`: every finding, filtered by severity.
pub async fn compliance(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    may_read(&state, &s)?;
    let shell = Shell::new(&state, &s, &headers, "/dpo/compliance").await?;
    let t = |k: &str| escape(shell.t(k));
    let body = format!(
        r#"<p id="compliance-summary"></p>
<form id="compliance-filter" class="filters">
<label for="compliance-severity">{severity}</label>
<select id="compliance-severity" name="severity">
<option value="">{all}</option><option value="error">{error}</option>
<option value="warning">{warning}</option><option value="info">{info}</option></select>
</form>
<div class="table-scroll"><table class="report" id="compliance-table"><thead><tr>
<th scope="col">{severity}</th><th scope="col">{rule}</th><th scope="col">{object}</th>
<th scope="col">{msg}</th><th scope="col">{fix}</th><th scope="col">{citation}</th>
</tr></thead><tbody></tbody></table></div>
"#,
        severity = t("dpo.compliance.severity"),
        all = t("dpo.compliance.all"),
        error = t("dpo.severity.error"),
        warning = t("dpo.severity.warning"),
        info = t("dpo.severity.info"),
        rule = t("dpo.compliance.rule"),
        object = t("dpo.compliance.object"),
        msg = t("dpo.compliance.message"),
        fix = t("dpo.compliance.fix"),
        citation = t("dpo.compliance.citation"),
    );
    Ok(desk_page(
        &shell,
        "/dpo/compliance",
        "dpo.compliance",
        "dpo-compliance.js",
        ("dpo-compliance", may_edit(&state, &s), ""),
        &body,
    ))
}

/// `GET /dpo/access-review`: enabled accounts, overdue first, with their
/// Confirm and Revoke buttons (not on one's own account).
pub async fn access_review(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    may_read(&state, &s)?;
    let shell = Shell::new(&state, &s, &headers, "/dpo/access-review").await?;
    let t = |k: &str| escape(shell.t(k));
    let body = format!(
        r#"<p id="access-months" class="muted"></p>
<div class="table-scroll"><table class="report" id="access-table"><thead><tr>
<th scope="col">{login}</th><th scope="col">{roles}</th><th scope="col">{last}</th>
<th scope="col">{due}</th><th scope="col">{state}</th><th scope="col">{actions}</th>
</tr></thead><tbody></tbody></table></div>
"#,
        login = t("dpo.access.login"),
        roles = t("dpo.access.roles"),
        last = t("dpo.access.last_review"),
        due = t("dpo.access.due"),
        state = t("dpo.access.state"),
        actions = t("dpo.access.actions"),
    );
    Ok(desk_page(
        &shell,
        "/dpo/access-review",
        "dpo.access",
        "dpo-access.js",
        (
            "dpo-access",
            true,
            &format!(" data-self=\"{}\"", s.subject.user.0),
        ),
        &body,
    ))
}

/// One text input of the organisation form, named by the API's field.
fn field(t: &dyn Fn(&str) -> String, field: &str, key: &str, kind: &str, max: u32) -> String {
    let id = format!("org-{}", field.replace('.', "-"));
    format!(
        "<label for=\"{id}\">{label}</label><input id=\"{id}\" type=\"{kind}\" \
data-field=\"{field}\" maxlength=\"{max}\">\n",
        label = t(key),
    )
}

/// `GET /dpo/organisation`: the organisation profile's form (read-only
/// without `dpo.documents`).
pub async fn organisation(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    may_read(&state, &s)?;
    let shell = Shell::new(&state, &s, &headers, "/dpo/organisation").await?;
    let can_edit = may_edit(&state, &s);
    let t = |k: &str| escape(shell.t(k));
    let party = |who: &str| {
        let mut out = format!(
            "<fieldset><legend>{}</legend>\n",
            t(&format!("dpo.org.{who}"))
        );
        for (f, key, kind, max) in [
            ("name", "dpo.org.name", "text", 200),
            ("address", "dpo.org.address", "text", 500),
            ("email", "dpo.org.email", "email", 200),
            ("phone", "dpo.org.phone", "tel", 50),
        ] {
            out.push_str(&field(&t, &format!("{who}.{f}"), key, kind, max));
        }
        out.push_str("</fieldset>\n");
        out
    };
    let body = format!(
        r#"<p id="org-error" class="error" role="alert" hidden></p>
<form id="org-form" class="stack" novalidate><fieldset id="org-fields"{disabled}>
{controller}{dpo}<fieldset><legend>{authority}</legend>
{authority_name}{authority_contact}</fieldset>
<fieldset><legend>{sites}</legend><p class="hint">{sites_hint}</p>
<ul id="org-sites" class="rows"></ul>
<button type="button" id="org-add-site" class="secondary">{add_site}</button></fieldset>
<fieldset><legend>{storage}</legend>
{data_country}{object_country}
<h3>{backups}</h3><ul id="org-backups" class="rows"></ul>
<button type="button" id="org-add-backup" class="secondary">{add_backup}</button>
<label for="org-storage-transfer_basis">{transfer}</label>
<textarea id="org-storage-transfer_basis" data-field="storage.transfer_basis" maxlength="2000"></textarea>
<p class="hint">{transfer_hint}</p></fieldset>
{information_at}
{save}</fieldset></form>
"#,
        disabled = if can_edit { "" } else { " disabled" },
        controller = party("controller"),
        dpo = party("dpo"),
        authority = t("dpo.org.authority"),
        authority_name = field(&t, "authority.name", "dpo.org.name", "text", 200),
        authority_contact = field(&t, "authority.contact", "dpo.org.contact", "text", 500),
        sites = t("dpo.org.sites"),
        sites_hint = t("dpo.org.sites_hint"),
        add_site = t("dpo.org.add_site"),
        storage = t("dpo.org.storage"),
        data_country = field(
            &t,
            "storage.data_country",
            "dpo.org.data_country",
            "text",
            2
        ),
        object_country = field(
            &t,
            "storage.object_store_country",
            "dpo.org.object_store_country",
            "text",
            2
        ),
        backups = t("dpo.org.backups"),
        add_backup = t("dpo.org.add_backup"),
        transfer = t("dpo.org.transfer_basis"),
        transfer_hint = t("dpo.org.transfer_hint"),
        information_at = field(&t, "information_at", "dpo.org.information_at", "text", 500),
        save = if can_edit {
            format!(
                "<button type=\"submit\" id=\"org-save\">{}</button>",
                t("dpo.org.save")
            )
        } else {
            format!("<p class=\"hint\">{}</p>", t("dpo.read_only"))
        },
    );
    Ok(desk_page(
        &shell,
        "/dpo/organisation",
        "dpo.org",
        "dpo-organisation.js",
        ("dpo-organisation", can_edit, ""),
        &body,
    ))
}

/// `GET /dpo/processors`: the register of processors, with the form that
/// adds or edits an entry for holders of `dpo.documents`.
pub async fn processors(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    may_read(&state, &s)?;
    let shell = Shell::new(&state, &s, &headers, "/dpo/processors").await?;
    let can_edit = may_edit(&state, &s);
    let t = |k: &str| escape(shell.t(k));
    let mut body = format!(
        r#"<label class="check"><input type="checkbox" id="proc-removed"> {show_removed}</label>
<div class="table-scroll"><table class="report" id="proc-table"><thead><tr>
<th scope="col">{name}</th><th scope="col">{kind}</th><th scope="col">{date}</th>
<th scope="col">{scope}</th><th scope="col">{country}</th><th scope="col">{transfer}</th>
<th scope="col">{accounts}</th><th scope="col">{actions}</th>
</tr></thead><tbody></tbody></table></div>
"#,
        show_removed = t("dpo.proc.show_removed"),
        name = t("dpo.proc.name"),
        kind = t("dpo.proc.kind"),
        date = t("dpo.proc.agreement_date"),
        scope = t("dpo.proc.scope"),
        country = t("dpo.proc.country"),
        transfer = t("dpo.proc.transfer_basis"),
        accounts = t("dpo.proc.accounts"),
        actions = t("dpo.proc.actions"),
    );
    if can_edit {
        let mut kinds = String::new();
        for k in ["integrator", "maintenance", "cloud_storage", "other"] {
            let _ = write!(
                kinds,
                "<option value=\"{k}\">{}</option>",
                t(&format!("dpo.proc.kind.{k}"))
            );
        }
        let _ = write!(
            body,
            r#"<section aria-labelledby="proc-form-h" class="card"><h2 id="proc-form-h">{new}</h2>
<p id="proc-error" class="error" role="alert" hidden></p>
<form id="proc-form" class="stack" novalidate>
<label for="proc-name">{name}</label><input id="proc-name" data-field="name" maxlength="200" required>
<label for="proc-kind">{kind}</label><select id="proc-kind" data-field="kind">{kinds}</select>
<label for="proc-date">{date}</label><input id="proc-date" type="date" data-field="agreement_date" required>
<label for="proc-scope">{scope}</label><textarea id="proc-scope" data-field="scope" maxlength="2000" required></textarea>
<label for="proc-country">{country}</label><input id="proc-country" data-field="country" maxlength="2" size="3" required>
<label for="proc-transfer">{transfer}</label><input id="proc-transfer" data-field="transfer_basis" maxlength="2000">
<p class="hint">{transfer_hint}</p>
<div class="buttons"><button type="submit" id="proc-save">{save}</button>
<button type="button" id="proc-cancel" class="secondary" hidden>{cancel}</button></div>
</form></section>
"#,
            new = t("dpo.proc.new"),
            name = t("dpo.proc.name"),
            kind = t("dpo.proc.kind"),
            date = t("dpo.proc.agreement_date"),
            scope = t("dpo.proc.scope"),
            country = t("dpo.proc.country"),
            transfer = t("dpo.proc.transfer_basis"),
            transfer_hint = t("dpo.org.transfer_hint"),
            save = t("dpo.proc.save"),
            cancel = t("dpo.proc.cancel"),
        );
    }
    Ok(desk_page(
        &shell,
        "/dpo/processors",
        "dpo.proc",
        "dpo-processors.js",
        ("dpo-processors", can_edit, ""),
        &body,
    ))
}

/// `GET /dpo/breaches`: the breach register: candidates with their
/// evidence (links to the access record), dismiss and promote; breaches
/// with the 72-hour clock, the assessment form, the decisions and the
/// notification links. Only for holders of `dpo.documents`.
pub async fn breaches(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    state.authorize(&s, Action::DpoDocuments, Resource::System)?;
    let shell = Shell::new(&state, &s, &headers, "/dpo/breaches").await?;
    let t = |k: &str| escape(shell.t(k));
    let body = format!(
        r#"<section aria-labelledby="cand-h" class="card"><h2 id="cand-h">{cand}</h2>
<form id="cand-filter" class="filters"><label for="cand-status">{status}</label>
<select id="cand-status" name="status"><option value="open">{open}</option>
<option value="dismissed">{dismissed}</option><option value="promoted">{promoted}</option>
<option value="">{all}</option></select></form>
<div class="table-scroll"><table class="report" id="cand-table"><thead><tr>
<th scope="col">{raised}</th><th scope="col">{signal}</th><th scope="col">{summary}</th>
<th scope="col">{evidence}</th><th scope="col">{state}</th><th scope="col">{actions}</th>
</tr></thead><tbody></tbody></table></div>
<p id="cand-empty" class="muted" hidden>{none}</p></section>
<section aria-labelledby="breach-h" class="card"><h2 id="breach-h">{breaches}</h2>
<div id="breach-list"></div>
<p id="breach-empty" class="muted" hidden>{no_breaches}</p>
<p><button type="button" id="breach-new">{new}</button></p></section>
"#,
        cand = t("breaches.candidates"),
        status = t("breaches.status"),
        open = t("breaches.status.open"),
        dismissed = t("breaches.status.dismissed"),
        promoted = t("breaches.status.promoted"),
        all = t("breaches.status.all"),
        raised = t("breaches.raised"),
        signal = t("breaches.signal"),
        summary = t("breaches.summary"),
        evidence = t("breaches.evidence"),
        state = t("breaches.state"),
        actions = t("breaches.actions"),
        none = t("breaches.no_candidates"),
        breaches = t("breaches.breaches"),
        no_breaches = t("breaches.no_breaches"),
        new = t("breaches.new"),
    );
    Ok(desk_page(
        &shell,
        "/dpo/breaches",
        "dpo.breaches",
        "dpo-breaches.js",
        ("dpo-breaches", true, ""),
        &body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;
    use crate::shell::Permissions;

    #[test]
    fn the_sub_navigation_marks_the_current_page_in_both_languages() {
        for lang in Lang::ALL {
            let sh = Shell::preview(lang, "dora", Permissions::default(), "/dpo/compliance");
            let nav = subnav(&sh, "/dpo/compliance");
            assert!(nav.contains("<a href=\"/dpo/compliance\" aria-current=\"page\">"));
            assert_eq!(nav.matches("aria-current").count(), 1, "{nav}");
            for (href, key) in PAGES {
                assert!(nav.contains(&format!("href=\"{href}\"")), "{href}");
                assert!(nav.contains(&escape(crate::i18n::t(lang, key))), "{key}");
            }
        }
    }

    #[test]
    fn the_desk_page_has_its_sections_and_no_inline_script() {
        let sh = Shell::preview(Lang::Pt, "dora", Permissions::default(), "/dpo");
        let page = desk_page(
            &sh,
            "/dpo",
            "dpo.desk",
            "dpo.js",
            ("dpo-desk", false, ""),
            &desk_content(&sh),
        )
        .0;
        for id in [
            "dpo-documents",
            "dpo-errors",
            "dpo-overdue",
            "dpo-dpia",
            "dpo-no-purpose",
            "message",
        ] {
            assert!(page.contains(&format!("id=\"{id}\"")), "{id}");
        }
        assert!(page.contains("data-can-edit=\"false\""));
        assert!(page.contains(crate::i18n::t(Lang::Pt, "dpo.desk.title")));
        assert!(!page.contains("style="));
        assert!(page.contains("src=\"/static/dpo.js\""));
    }
}
