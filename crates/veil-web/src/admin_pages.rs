//! The administration pages (users, roles, the usage policy, API tokens) and
//! the approvals inbox. Each is a page on the shell whose content is a
//! skeleton of labelled forms and empty tables; its script fills them from
//! the JSON API and makes every change through it, so the API's rules
//! (separation of duties, the last user administrator, justifications) hold
//! whatever the page does.

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

/// A table with a caption (for screen readers), these column headings and
/// an empty body with id `body_id`, filled by the page's script.
fn table(sh: &Shell, id: &str, caption: &str, columns: &[&str], body_id: &str) -> String {
    let mut out = format!(
        "<div class=\"table-scroll\"><table class=\"admin-table\" id=\"{id}\">\
<caption class=\"visually-hidden\">{}</caption>\n<thead><tr>",
        escape(sh.t(caption))
    );
    for c in columns {
        out.push_str(&format!("<th scope=\"col\">{}</th>", escape(sh.t(c))));
    }
    out.push_str(&format!(
        "</tr></thead>\n<tbody id=\"{body_id}\" aria-live=\"polite\"></tbody>\n</table></div>\n"
    ));
    out
}

/// `GET /admin/users`: accounts, creation with the one-time password shown
/// once, roles, disabling, sessions, second-factor reset, training date.
pub async fn users(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    state.authorize(&s, Action::UserAdmin, Resource::System)?;
    let sh = Shell::new(&state, &s, &headers, "/admin/users").await?;
    let t = |k| escape(sh.t(k));
    let mut c = format!(
        "<h1>{title}</h1>\n\
<section class=\"card\" aria-labelledby=\"user-create-title\">\n\
<h2 id=\"user-create-title\">{create}</h2>\n\
<form id=\"user-create\" novalidate>\n\
<label for=\"new-user-name\">{name}</label>\n\
<input id=\"new-user-name\" name=\"name\" required maxlength=\"64\" autocomplete=\"off\" \
aria-describedby=\"new-user-name-hint\">\n\
<p class=\"hint\" id=\"new-user-name-hint\">{name_hint}</p>\n\
<fieldset id=\"new-user-roles\" class=\"role-choice\"><legend>{roles}</legend></fieldset>\n\
<p><button type=\"submit\" id=\"user-create-button\">{create_button}</button></p>\n\
<p id=\"user-create-error\" class=\"error\" role=\"alert\" hidden></p>\n\
</form>\n\
<div id=\"user-created\" class=\"one-time\" role=\"status\" hidden>\n\
<p id=\"user-created-text\"></p>\n\
<p>{otp}: <code id=\"user-created-password\"></code></p>\n\
<p class=\"hint\">{shown_once}</p>\n\
<p><button type=\"button\" class=\"secondary\" id=\"user-created-done\">{done}</button></p>\n\
</div>\n</section>\n\
<p id=\"users-message\" role=\"status\" hidden></p>\n",
        title = t("users.title"),
        create = t("users.create"),
        name = t("users.name"),
        name_hint = t("users.name_hint"),
        roles = t("users.roles"),
        create_button = t("users.create_button"),
        otp = t("users.one_time_password"),
        shown_once = t("users.shown_once"),
        done = t("users.created_done"),
    );
    c.push_str(&table(
        &sh,
        "users-table",
        "users.title",
        &[
            "users.name",
            "users.roles",
            "users.state",
            "users.second_factor",
            "users.training",
            "users.policy",
            "common.actions",
        ],
        "user-rows",
    ));
    c.push_str(&format!(
        "<section id=\"user-edit\" class=\"card\" aria-labelledby=\"user-edit-title\" hidden>\n\
<h2 id=\"user-edit-title\" tabindex=\"-1\"></h2>\n\
<form id=\"user-edit-form\" novalidate>\n\
<fieldset id=\"edit-user-roles\" class=\"role-choice\"><legend>{roles}</legend></fieldset>\n\
<label for=\"edit-training\">{training}</label>\n\
<input id=\"edit-training\" type=\"date\" aria-describedby=\"edit-training-hint\">\n\
<p class=\"hint\" id=\"edit-training-hint\">{training_hint}</p>\n\
<p class=\"buttons\"><button type=\"submit\" id=\"user-save\">{save}</button> \
<button type=\"button\" class=\"secondary\" id=\"user-edit-close\">{close}</button></p>\n\
</form>\n\
<h3>{account}</h3>\n\
<p class=\"buttons\"><button type=\"button\" class=\"secondary\" id=\"user-toggle-disabled\"></button> \
<button type=\"button\" class=\"secondary\" id=\"user-end-sessions\">{end_sessions}</button></p>\n\
<form id=\"user-reset-form\" novalidate>\n\
<label for=\"reset-justification\">{reset_label}</label>\n\
<textarea id=\"reset-justification\" rows=\"2\" required maxlength=\"1000\" \
aria-describedby=\"reset-hint\"></textarea>\n\
<p class=\"hint\" id=\"reset-hint\">{reset_hint}</p>\n\
<p><button type=\"submit\" class=\"secondary\" id=\"user-reset-2fa\">{reset}</button></p>\n\
</form>\n\
<p id=\"user-edit-message\" role=\"status\" hidden></p>\n\
</section>\n",
        roles = t("users.roles"),
        training = t("users.training_date"),
        training_hint = t("users.training_hint"),
        save = t("common.save"),
        close = t("users.close"),
        account = t("users.account_actions"),
        end_sessions = t("users.end_sessions"),
        reset_label = t("users.reset_justification"),
        reset_hint = t("users.reset_hint"),
        reset = t("users.reset_second_factor"),
    ));
    Ok(sh.page(sh.t("users.title"), "admin-users.js", &c))
}

/// `GET /admin/roles`: the roles and an editor over the permission
/// catalogue with scopes, playback window, weekly hours and the second
/// factor.
pub async fn roles(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    state.authorize(&s, Action::UserAdmin, Resource::System)?;
    let sh = Shell::new(&state, &s, &headers, "/admin/roles").await?;
    let t = |k| escape(sh.t(k));
    let mut c = format!(
        "<h1>{title}</h1>\n<p>{intro}</p>\n<p id=\"roles-message\" role=\"status\" hidden></p>\n",
        title = t("roles.title"),
        intro = t("roles.intro"),
    );
    c.push_str(&table(
        &sh,
        "roles-table",
        "roles.title",
        &[
            "roles.name",
            "roles.permissions",
            "roles.window",
            "roles.hours",
            "roles.second_factor",
            "common.actions",
        ],
        "role-rows",
    ));
    c.push_str(&format!(
        "<p><button type=\"button\" id=\"role-new\">{new}</button></p>\n\
<form id=\"role-form\" class=\"card\" novalidate hidden aria-labelledby=\"role-form-title\">\n\
<h2 id=\"role-form-title\" tabindex=\"-1\"></h2>\n\
<label for=\"role-name\">{name}</label>\n\
<input id=\"role-name\" required maxlength=\"64\" aria-describedby=\"role-name-hint\">\n\
<p class=\"hint\" id=\"role-name-hint\">{name_hint}</p>\n\
<label for=\"role-description\">{description}</label>\n\
<input id=\"role-description\" maxlength=\"200\">\n\
<fieldset><legend>{permissions}</legend>\n\
<p class=\"hint\">{scope_hint}</p>\n\
<div class=\"table-scroll\"><table class=\"admin-table permission-editor\">\
<caption class=\"visually-hidden\">{permissions}</caption>\n\
<thead><tr><th scope=\"col\">{granted}</th><th scope=\"col\">{permission}</th>\
<th scope=\"col\">{scope}</th><th scope=\"col\">{scope_value}</th></tr></thead>\n\
<tbody id=\"permission-rows\"></tbody></table></div>\n</fieldset>\n\
<label for=\"role-window\">{window}</label>\n\
<input id=\"role-window\" type=\"number\" min=\"1\" step=\"1\" aria-describedby=\"role-window-hint\">\n\
<p class=\"hint\" id=\"role-window-hint\">{window_hint}</p>\n\
<p class=\"check\"><input type=\"checkbox\" id=\"role-second-factor\"> \
<label for=\"role-second-factor\">{second_factor}</label></p>\n\
<fieldset><legend>{hours}</legend>\n\
<p class=\"check\"><input type=\"checkbox\" id=\"role-hours-limited\"> \
<label for=\"role-hours-limited\">{hours_limited}</label></p>\n\
<div id=\"role-hours\" hidden>\n\
<label for=\"role-time-zone\">{time_zone}</label>\n\
<input id=\"role-time-zone\" placeholder=\"Europe/Lisbon\" autocomplete=\"off\">\n\
<p class=\"hint\">{hours_hint}</p>\n\
<ul id=\"role-intervals\" class=\"intervals\"></ul>\n\
<p><button type=\"button\" class=\"secondary\" id=\"role-add-interval\">{add_interval}</button></p>\n\
</div>\n</fieldset>\n\
<p class=\"buttons\"><button type=\"submit\" id=\"role-save\">{save}</button> \
<button type=\"button\" class=\"secondary\" id=\"role-cancel\">{cancel}</button></p>\n\
<p id=\"role-error\" class=\"error\" role=\"alert\" hidden></p>\n\
</form>\n",
        new = t("roles.new"),
        name = t("roles.name"),
        name_hint = t("roles.name_hint"),
        description = t("roles.description"),
        permissions = t("roles.permissions"),
        scope_hint = t("roles.scope_hint"),
        granted = t("roles.granted"),
        permission = t("roles.permission"),
        scope = t("roles.scope"),
        scope_value = t("roles.scope_value"),
        window = t("roles.window_label"),
        window_hint = t("roles.window_hint"),
        second_factor = t("roles.second_factor_label"),
        hours = t("roles.hours"),
        hours_limited = t("roles.hours_limited"),
        time_zone = t("roles.time_zone"),
        hours_hint = t("roles.hours_hint"),
        add_interval = t("roles.add_interval"),
        save = t("common.save"),
        cancel = t("common.cancel"),
    ));
    Ok(sh.page(sh.t("roles.title"), "admin-roles.js", &c))
}

/// `GET /admin/policy`: the current usage policy, who has not acknowledged
/// it, and publishing a new version.
pub async fn policy(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    state.authorize(&s, Action::UserAdmin, Resource::System)?;
    let sh = Shell::new(&state, &s, &headers, "/admin/policy").await?;
    let t = |k| escape(sh.t(k));
    let c = format!(
        "<h1>{title}</h1>\n\
<section class=\"card\" aria-labelledby=\"policy-current-title\">\n\
<h2 id=\"policy-current-title\">{current}</h2>\n\
<p id=\"policy-version\"></p>\n<div id=\"policy-text\" class=\"policy\"></div>\n</section>\n\
<section class=\"card\" aria-labelledby=\"policy-pending-title\">\n\
<h2 id=\"policy-pending-title\">{pending}</h2>\n\
<p id=\"policy-pending-summary\" role=\"status\"></p>\n<ul id=\"policy-pending\"></ul>\n</section>\n\
<form id=\"policy-form\" class=\"card\" novalidate aria-labelledby=\"policy-publish-title\">\n\
<h2 id=\"policy-publish-title\">{publish}</h2>\n\
<label for=\"policy-new-text\">{text}</label>\n\
<textarea id=\"policy-new-text\" rows=\"12\" required minlength=\"20\" \
aria-describedby=\"policy-publish-hint\"></textarea>\n\
<p class=\"hint\" id=\"policy-publish-hint\">{hint}</p>\n\
<p><button type=\"submit\" id=\"policy-publish\">{publish_button}</button></p>\n\
<p id=\"policy-message\" role=\"status\" hidden></p>\n</form>\n",
        title = t("policy.title"),
        current = t("policy.current"),
        pending = t("policy.pending_title"),
        publish = t("policy.publish"),
        text = t("policy.text"),
        hint = t("policy.publish_hint"),
        publish_button = t("policy.publish_button"),
    );
    Ok(sh.page(sh.t("policy.title"), "admin-policy.js", &c))
}

/// `GET /admin/tokens`: every account's API tokens, with revocation.
pub async fn tokens(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    state.authorize(&s, Action::UserAdmin, Resource::System)?;
    let sh = Shell::new(&state, &s, &headers, "/admin/tokens").await?;
    let mut c = format!(
        "<h1>{}</h1>\n<p>{}</p>\n<p id=\"tokens-message\" role=\"status\" hidden></p>\n",
        escape(sh.t("tokens.title")),
        escape(sh.t("tokens.intro")),
    );
    c.push_str(&table(
        &sh,
        "tokens-table",
        "tokens.title",
        &[
            "tokens.owner",
            "tokens.name",
            "tokens.roles",
            "tokens.created",
            "tokens.expires",
            "tokens.state",
            "common.actions",
        ],
        "token-rows",
    ));
    c.push_str(&format!(
        "<p id=\"tokens-empty\" hidden>{}</p>\n",
        escape(sh.t("tokens.none"))
    ));
    Ok(sh.page(sh.t("tokens.title"), "admin-tokens.js", &c))
}

/// `GET /approvals`: for approvers, the requests waiting for their decision
/// (approve or refuse with a note) and the decided ones; for everyone who
/// can ask, their own requests and what became of them.
pub async fn approvals(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    // Approvers decide; anyone a role grants something may ask (as
    // `POST /api/v1/approvals` allows) and follows their requests here.
    let approver = state.allowed(&s, Action::Approve, Resource::System);
    if !approver
        && !Action::PERMISSIONS
            .iter()
            .any(|a| state.allowed(&s, *a, Resource::System))
    {
        state.authorize(&s, Action::Approve, Resource::System)?;
    }
    let sh = Shell::new(&state, &s, &headers, "/approvals").await?;
    let t = |k| escape(sh.t(k));
    let mut c = format!(
        "<h1>{}</h1>\n<p id=\"approvals-message\" role=\"status\" hidden></p>\n",
        t("approvals.title")
    );
    if approver {
        c.push_str(&format!(
            "<section aria-labelledby=\"approvals-pending-title\">\n\
<h2 id=\"approvals-pending-title\">{}</h2>\n<p class=\"hint\">{}</p>\n",
            t("approvals.pending"),
            t("approvals.pending_hint"),
        ));
        c.push_str(&table(
            &sh,
            "approvals-pending",
            "approvals.pending",
            &[
                "approvals.requester",
                "approvals.permission",
                "approvals.resource",
                "approvals.justification",
                "approvals.created",
                "approvals.expires",
                "approvals.decision",
            ],
            "pending-rows",
        ));
        c.push_str(&format!(
            "<p id=\"pending-empty\" hidden>{}</p>\n</section>\n",
            t("approvals.none_pending")
        ));
    }
    c.push_str(&format!(
        "<section aria-labelledby=\"approvals-mine-title\">\n\
<h2 id=\"approvals-mine-title\">{}</h2>\n",
        t("approvals.mine")
    ));
    c.push_str(&table(
        &sh,
        "approvals-mine",
        "approvals.mine",
        &[
            "approvals.permission",
            "approvals.resource",
            "approvals.justification",
            "approvals.state",
            "approvals.created",
            "approvals.expires",
            "approvals.decided_by",
            "approvals.note",
        ],
        "mine-rows",
    ));
    c.push_str(&format!(
        "<p id=\"mine-empty\" hidden>{}</p>\n</section>\n",
        t("approvals.none_mine")
    ));
    if approver {
        c.push_str(&format!(
            "<section aria-labelledby=\"approvals-history-title\">\n\
<h2 id=\"approvals-history-title\">{}</h2>\n",
            t("approvals.history")
        ));
        c.push_str(&table(
            &sh,
            "approvals-history",
            "approvals.history",
            &[
                "approvals.requester",
                "approvals.permission",
                "approvals.resource",
                "approvals.justification",
                "approvals.state",
                "approvals.decided_by",
                "approvals.note",
                "approvals.created",
            ],
            "history-rows",
        ));
        c.push_str(&format!(
            "<p id=\"history-empty\" hidden>{}</p>\n</section>\n",
            t("approvals.none_history")
        ));
    }
    Ok(sh.page(sh.t("approvals.title"), "approvals.js", &c))
}
