//! Server-rendered HTML pages and the embedded static assets of the web UI.
//!
//! Every page works under a strict Content-Security-Policy: there are no
//! inline scripts, styles or event handlers. Scripts are ES modules served
//! from `/static/`, and every dynamic string is HTML-escaped.

use std::fmt::Write as _;

use axum::response::Html;

use crate::i18n::Lang;
use crate::shell::{document, Shell};

/// What the UI needs to know about a camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraView {
    pub id: i64,
    pub name: String,
    /// Its camera group, if any.
    pub group: Option<String>,
}

const CSS: &str = include_str!("../assets/veil.css");
const COMMON_JS: &str = include_str!("../assets/common.js");
const LOGIN_JS: &str = include_str!("../assets/login.js");
const LIVE_JS: &str = include_str!("../assets/live.js");
const AUDIT_JS: &str = include_str!("../assets/audit.js");
const ACCOUNT_JS: &str = include_str!("../assets/account.js");
const CAMERA_ADMIN_JS: &str = include_str!("../assets/camera-admin.js");
const FOUR_EYES_JS: &str = include_str!("../assets/four-eyes.js");
const ADMIN_USERS_JS: &str = include_str!("../assets/admin-users.js");
const ADMIN_ROLES_JS: &str = include_str!("../assets/admin-roles.js");
const ADMIN_POLICY_JS: &str = include_str!("../assets/admin-policy.js");
const ADMIN_TOKENS_JS: &str = include_str!("../assets/admin-tokens.js");
const APPROVALS_JS: &str = include_str!("../assets/approvals.js");
const TIMELINE_JS: &str = include_str!("../assets/timeline.js");
const BOOKMARKS_JS: &str = include_str!("../assets/bookmarks.js");
const SYSTEM_JS: &str = include_str!("../assets/system.js");
const RETENTION_JS: &str = include_str!("../assets/retention.js");
const PROTECTIONS_JS: &str = include_str!("../assets/protections.js");
const QUOTAS_JS: &str = include_str!("../assets/quotas.js");
const MASKS_JS: &str = include_str!("../assets/masks.js");
const EXPORTS_JS: &str = include_str!("../assets/exports.js");
const DISCLOSURES_JS: &str = include_str!("../assets/disclosures.js");
const DPO_JS: &str = include_str!("../assets/dpo.js");
const DPO_COMPLIANCE_JS: &str = include_str!("../assets/dpo-compliance.js");
const DPO_ACCESS_JS: &str = include_str!("../assets/dpo-access.js");
const DPO_ORGANISATION_JS: &str = include_str!("../assets/dpo-organisation.js");
const DPO_PROCESSORS_JS: &str = include_str!("../assets/dpo-processors.js");
const DPO_BREACHES_JS: &str = include_str!("../assets/dpo-breaches.js");
const DPO_REQUESTS_JS: &str = include_str!("../assets/dpo-requests.js");
const DPO_REQUEST_JS: &str = include_str!("../assets/dpo-request.js");
const REQUEST_FOOTAGE_JS: &str = include_str!("../assets/request-footage.js");

const JS_TYPE: &str = "text/javascript; charset=utf-8";

/// Returns `(content type, body)` of a static asset, or `None` if unknown.
pub fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "veil.css" => Some(("text/css; charset=utf-8", CSS)),
        "common.js" => Some((JS_TYPE, COMMON_JS)),
        "login.js" => Some((JS_TYPE, LOGIN_JS)),
        "live.js" => Some((JS_TYPE, LIVE_JS)),
        "audit.js" => Some((JS_TYPE, AUDIT_JS)),
        "account.js" => Some((JS_TYPE, ACCOUNT_JS)),
        "camera-admin.js" => Some((JS_TYPE, CAMERA_ADMIN_JS)),
        "four-eyes.js" => Some((JS_TYPE, FOUR_EYES_JS)),
        "admin-users.js" => Some((JS_TYPE, ADMIN_USERS_JS)),
        "admin-roles.js" => Some((JS_TYPE, ADMIN_ROLES_JS)),
        "admin-policy.js" => Some((JS_TYPE, ADMIN_POLICY_JS)),
        "admin-tokens.js" => Some((JS_TYPE, ADMIN_TOKENS_JS)),
        "approvals.js" => Some((JS_TYPE, APPROVALS_JS)),
        "timeline.js" => Some((JS_TYPE, TIMELINE_JS)),
        "bookmarks.js" => Some((JS_TYPE, BOOKMARKS_JS)),
        "system.js" => Some((JS_TYPE, SYSTEM_JS)),
        "retention.js" => Some((JS_TYPE, RETENTION_JS)),
        "protections.js" => Some((JS_TYPE, PROTECTIONS_JS)),
        "quotas.js" => Some((JS_TYPE, QUOTAS_JS)),
        "masks.js" => Some((JS_TYPE, MASKS_JS)),
        "exports.js" => Some((JS_TYPE, EXPORTS_JS)),
        "disclosures.js" => Some((JS_TYPE, DISCLOSURES_JS)),
        "dpo.js" => Some((JS_TYPE, DPO_JS)),
        "dpo-compliance.js" => Some((JS_TYPE, DPO_COMPLIANCE_JS)),
        "dpo-access.js" => Some((JS_TYPE, DPO_ACCESS_JS)),
        "dpo-organisation.js" => Some((JS_TYPE, DPO_ORGANISATION_JS)),
        "dpo-processors.js" => Some((JS_TYPE, DPO_PROCESSORS_JS)),
        "dpo-breaches.js" => Some((JS_TYPE, DPO_BREACHES_JS)),
        "dpo-requests.js" => Some((JS_TYPE, DPO_REQUESTS_JS)),
        "dpo-request.js" => Some((JS_TYPE, DPO_REQUEST_JS)),
        "request-footage.js" => Some((JS_TYPE, REQUEST_FOOTAGE_JS)),
        _ => {
            let lang = name.strip_prefix("i18n-")?.strip_suffix(".json")?;
            let lang = crate::i18n::Lang::ALL
                .into_iter()
                .find(|l| l.tag() == lang)?;
            Some((
                "application/json; charset=utf-8",
                crate::i18n::catalogue_json(lang),
            ))
        }
    }
}

pub use veil_base::escape_html as escape;

/// The account page: usage policy, password, second factor, sessions.
pub fn account_page(sh: &Shell, roles: &[String]) -> Html<String> {
    let t = |k| sh.t(k);
    let mut role_boxes = String::new();
    for r in roles {
        let r = escape(r);
        let _ = write!(
            role_boxes,
            "<label><input type=\"checkbox\" name=\"token-role\" value=\"{r}\"> {r}</label>"
        );
    }
    let tokens = format!(
        "<section class=\"card\" id=\"tokens\" aria-labelledby=\"tokens-title\" tabindex=\"-1\">\n\
<h2 id=\"tokens-title\">{title}</h2>\n<p>{hint}</p>\n\
<div class=\"table-scroll\"><table class=\"report\"><thead><tr><th scope=\"col\">{name}</th><th scope=\"col\">{roles_h}</th>\
<th scope=\"col\">{created}</th><th scope=\"col\">{expires}</th><th scope=\"col\"><span class=\"visually-hidden\">{actions}</span></th></tr></thead>\n\
<tbody id=\"token-rows\"></tbody></table></div>\n\
<form id=\"token-form\" novalidate>\n<h3>{new_title}</h3>\n\
<label for=\"token-name\">{name}</label>\n<input id=\"token-name\" maxlength=\"100\" required>\n\
<fieldset><legend>{roles_h}</legend>{role_boxes}</fieldset>\n\
<label for=\"token-days\">{days}</label>\n<input id=\"token-days\" type=\"number\" min=\"1\" max=\"365\" value=\"30\">\n\
<p><button type=\"submit\" id=\"token-create\">{create}</button></p>\n</form>\n\
<div id=\"token-created\" class=\"notice-box\" hidden>\n<p>{once}</p>\n<p><code id=\"token-value\"></code></p>\n</div>\n</section>\n",
        title = t("account.tokens"),
        hint = t("account.tokens_hint"),
        name = t("account.token_name"),
        roles_h = t("account.token_roles"),
        created = t("account.token_created"),
        expires = t("account.token_expires"),
        actions = t("common.actions"),
        new_title = t("account.token_new"),
        days = t("account.token_days"),
        create = t("account.token_create"),
        once = t("account.token_once"),
    );
    let content = format!(
        "<h1>{title}</h1>\n\
<p id=\"account-message\" class=\"error\" role=\"alert\" hidden></p>\n\
<section class=\"card\" id=\"policy-section\" aria-labelledby=\"policy-title\">\n<h2 id=\"policy-title\">{policy}</h2>\n\
<div id=\"policy-text\" class=\"policy\"></div>\n\
<button type=\"button\" id=\"policy-ack\" hidden>{ack}</button>\n\
<p id=\"policy-state\"></p>\n</section>\n\
<section class=\"card\" id=\"preferences\" aria-labelledby=\"preferences-title\">\n<h2 id=\"preferences-title\">{prefs}</h2>\n\
<p>{prefs_hint}</p>\n</section>\n\
<section class=\"card\" aria-labelledby=\"password-title\">\n<h2 id=\"password-title\">{password}</h2>\n\
<form id=\"password-form\">\n\
<label for=\"current-password\">{current}</label>\n\
<input id=\"current-password\" type=\"password\" autocomplete=\"current-password\" required>\n\
<label for=\"new-password\">{new}</label>\n\
<input id=\"new-password\" type=\"password\" autocomplete=\"new-password\" required>\n\
<p>{ends}</p>\n\
<label><input type=\"checkbox\" id=\"revoke-tokens\"> {revoke}</label>\n\
<button type=\"submit\">{change}</button>\n</form>\n</section>\n\
<section class=\"card\" aria-labelledby=\"totp-title\">\n<h2 id=\"totp-title\">{second}</h2>\n\
<p>{second_hint}</p>\n\
<button type=\"button\" id=\"totp-start\">{setup}</button>\n\
<div id=\"totp-enrol\" hidden>\n\
<p>{scan}</p>\n\
<div id=\"totp-qr\" class=\"qr\"></div>\n\
<p>{key} <code id=\"totp-secret\"></code></p>\n\
<label for=\"totp-code\">{code}</label>\n\
<input id=\"totp-code\" inputmode=\"numeric\" autocomplete=\"one-time-code\">\n\
<button type=\"button\" id=\"totp-confirm\">{confirm}</button>\n</div>\n\
<div id=\"totp-recovery\" hidden>\n\
<p>{recovery}</p>\n\
<ul id=\"totp-codes\"></ul>\n</div>\n</section>\n\
<section class=\"card\" id=\"sessions\" aria-labelledby=\"sessions-title\" tabindex=\"-1\">\n<h2 id=\"sessions-title\">{sessions}</h2>\n\
<table class=\"report\"><thead><tr><th scope=\"col\">{signed_in}</th><th scope=\"col\">{last_seen}</th><th scope=\"col\"><span class=\"visually-hidden\">{actions}</span></th></tr></thead>\n\
<tbody id=\"session-rows\"></tbody></table>\n</section>\n{tokens}",
        title = t("account.title"),
        policy = t("account.policy"),
        ack = t("account.policy_ack"),
        prefs = t("account.preferences"),
        prefs_hint = t("account.preferences_hint"),
        password = t("account.password"),
        current = t("account.current_password"),
        new = t("account.new_password"),
        ends = t("account.password_ends_sessions"),
        revoke = t("account.revoke_tokens"),
        change = t("account.change_password"),
        second = t("account.second_factor"),
        second_hint = t("account.second_factor_hint"),
        setup = t("account.totp_setup"),
        scan = t("account.totp_scan"),
        key = t("account.totp_key"),
        code = t("account.totp_code"),
        confirm = t("account.totp_confirm"),
        recovery = t("account.recovery_codes"),
        sessions = t("account.sessions"),
        signed_in = t("account.session_signed_in"),
        last_seen = t("account.session_last_seen"),
        actions = t("common.actions"),
    );
    sh.page(t("account.title"), "account.js", &content)
}

/// The login page (no shell: nobody is signed in).
pub fn login_page(lang: Lang, theme: Option<&str>) -> Html<String> {
    let t = |k| crate::i18n::t(lang, k);
    let body = format!(
        "<main class=\"login\" id=\"main\">\n\
<h1>Veil</h1>\n\
<form id=\"login-form\" class=\"card\" novalidate>\n\
<h2>{sign_in}</h2>\n\
<label for=\"username\">{username}</label>\n\
<input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" required autofocus>\n\
<label for=\"password\">{password}</label>\n\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\n\
<div id=\"code-step\" hidden>\n\
<label for=\"code\">{code}</label>\n\
<input id=\"code\" name=\"code\" type=\"text\" inputmode=\"numeric\" autocomplete=\"one-time-code\">\n\
</div>\n\
<div id=\"new-password-step\" hidden>\n\
<p>{set_by_admin}</p>\n\
<label for=\"new-password\">{new_password}</label>\n\
<input id=\"new-password\" name=\"new-password\" type=\"password\" autocomplete=\"new-password\">\n\
</div>\n\
<button type=\"submit\" id=\"login-button\">{sign_in}</button>\n\
<p id=\"login-error\" class=\"error\" role=\"alert\" aria-live=\"assertive\" hidden></p>\n\
</form>\n\
</main>\n",
        sign_in = t("login.sign_in"),
        username = t("login.username"),
        password = t("login.password"),
        code = t("login.code"),
        set_by_admin = t("login.set_by_admin"),
        new_password = t("login.new_password"),
    );
    Html(document(lang, theme, t("login.sign_in"), "login.js", &body))
}

/// The live grid: a tile per camera the user may watch, with layouts of 1,
/// 2×2, 3×3 and 4×4 tiles, a camera-group filter and pages (all applied by
/// `live.js`, which keeps them in the URL).
pub fn cameras_page(sh: &Shell, cameras: &[CameraView]) -> Html<String> {
    let t = |k| sh.t(k);
    let mut content = format!("<h1 class=\"visually-hidden\">{}</h1>\n", t("live.title"));
    if cameras.is_empty() {
        let _ = writeln!(content, "<p class=\"empty\">{}</p>", t("live.no_cameras"));
        return sh.page(t("live.title"), "live.js", &content);
    }
    let mut groups: Vec<&str> = cameras.iter().filter_map(|c| c.group.as_deref()).collect();
    groups.sort_unstable();
    groups.dedup();
    let _ = write!(
        content,
        "<div class=\"toolbar\" id=\"live-toolbar\">\n\
<div class=\"layouts\" role=\"group\" aria-label=\"{layout}\">",
        layout = t("live.layout")
    );
    for n in [1, 2, 3, 4] {
        let label = if n == 1 {
            t("live.layout_single").to_string()
        } else {
            sh.tr("live.layout_grid", &[("n", &n.to_string())])
        };
        let _ = write!(
            content,
            "<button type=\"button\" class=\"secondary layout\" data-layout=\"{n}\" aria-pressed=\"false\" title=\"{label}\">\
<span aria-hidden=\"true\">{n}×{n}</span><span class=\"visually-hidden\">{label}</span></button>"
        );
    }
    content.push_str("</div>\n");
    let _ = write!(
        content,
        "<label for=\"group-filter\">{group}</label>\n<select id=\"group-filter\">\
<option value=\"\">{all}</option>",
        group = t("live.group"),
        all = t("live.group_all")
    );
    for g in &groups {
        let g = escape(g);
        let _ = write!(content, "<option value=\"{g}\">{g}</option>");
    }
    let _ = write!(
        content,
        "</select>\n<div class=\"pager\"><button type=\"button\" class=\"secondary\" id=\"page-prev\">{prev}</button>\
<span id=\"page-label\" aria-live=\"polite\"></span>\
<button type=\"button\" class=\"secondary\" id=\"page-next\">{next}</button></div>\n</div>\n\
<p class=\"muted hint\">{hint}</p>\n\
<ul class=\"grid\" id=\"camera-grid\" data-layout=\"2\">\n",
        prev = t("live.page_prev"),
        next = t("live.page_next"),
        hint = t("live.hint"),
    );
    for cam in cameras {
        let id = cam.id;
        let name = escape(&cam.name);
        let group = escape(cam.group.as_deref().unwrap_or(""));
        let _ = write!(
            content,
            "<li class=\"tile\" id=\"camera-{id}\" data-camera-id=\"{id}\" data-group=\"{group}\">\n\
<figure>\n\
<video class=\"live\" data-camera-id=\"{id}\" muted autoplay playsinline aria-label=\"{video_label}\"></video>\n\
<figcaption><span class=\"name\">{name}</span>\n\
<span class=\"status\" data-status-for=\"{id}\" aria-live=\"polite\"></span>\n\
<span class=\"recording\" data-recording-for=\"{id}\"></span>\n\
<a class=\"replay\" href=\"/playback?cameras={id}\" data-camera-id=\"{id}\">{replay}</a>\n\
<button type=\"button\" class=\"secondary fullscreen\" data-camera-id=\"{id}\">{full}</button></figcaption>\n\
</figure>\n\
</li>\n",
            video_label = escape(&sh.tr("live.video_label", &[("name", &cam.name)])),
            replay = t("live.replay_30s"),
            full = t("live.fullscreen"),
        );
    }
    content.push_str("</ul>\n");
    sh.page(t("live.title"), "live.js", &content)
}

/// The four-eyes settings page (user administrators): a checkbox per
/// permission that can need a second person's approval (`approvable`, id and
/// description), whether a route enforces it today (filled by
/// `four-eyes.js`), and Save.
pub fn four_eyes_page(sh: &Shell, approvable: &[&str]) -> Html<String> {
    let t = |k| sh.t(k);
    let mut content = format!(
        "<h1>{title}</h1>\n<p>{intro}</p>\n\
<form id=\"four-eyes-form\" class=\"card\">\n<table>\n\
<thead><tr><th scope=\"col\">{needs}</th><th scope=\"col\">{permission}</th><th scope=\"col\">{enforced}</th></tr></thead>\n<tbody>\n",
        title = t("four_eyes.title"),
        intro = t("four_eyes.intro"),
        needs = t("four_eyes.needs_approval"),
        permission = t("four_eyes.permission"),
        enforced = t("four_eyes.enforced_today"),
    );
    for id in approvable {
        let id = escape(id);
        let _ = writeln!(
            content,
            "<tr><td><input type=\"checkbox\" id=\"four-eyes-{id}\" name=\"permission\" value=\"{id}\"></td>\
<td><label for=\"four-eyes-{id}\"><code>{id}</code>: {}</label></td>\
<td id=\"four-eyes-enforced-{id}\"></td></tr>",
            escape(sh.t(&format!("permission.{id}")))
        );
    }
    let _ = write!(
        content,
        "</tbody>\n</table>\n<p><button type=\"submit\" id=\"four-eyes-save\">{save}</button></p>\n\
<p id=\"four-eyes-message\" role=\"status\" hidden></p>\n</form>\n",
        save = t("common.save"),
    );
    sh.page(t("four_eyes.title"), "four-eyes.js", &content)
}

/// The camera settings page (administrators): the camera table with status,
/// filled by `camera-admin.js`, and the form that adds an RTSP camera or, after
/// "Edit" in a row, changes one.
pub fn camera_admin_page(sh: &Shell) -> Html<String> {
    let t = |k| sh.t(k);
    let content = format!(
        "<h1>{title}</h1>\n\
<div class=\"table-scroll\">\
<table class=\"cameras\">\n<thead><tr><th scope=\"col\">{name}</th><th scope=\"col\">{source}</th><th scope=\"col\">{group}</th>\
<th scope=\"col\">{area}</th>\
<th scope=\"col\">{recording}</th><th scope=\"col\">{retention}</th><th scope=\"col\">{tracks}</th><th scope=\"col\">{status}</th>\
<th scope=\"col\"><span class=\"visually-hidden\">{actions}</span></th></tr></thead>\n\
<tbody id=\"camera-rows\" aria-live=\"polite\"></tbody>\n</table></div>\n\
<form id=\"retention-form\" class=\"card\" novalidate hidden>\n<h2 id=\"retention-form-title\">{retention}</h2>\n\
<p id=\"retention-in-force\"></p>\n\
<label for=\"ret-hours\">{retention_hours}</label>\n\
<input id=\"ret-hours\" name=\"hours\" type=\"number\" min=\"1\" step=\"1\" required>\n\
<label for=\"ret-justification\">{retention_justification}</label>\n\
<textarea id=\"ret-justification\" name=\"justification\" maxlength=\"2000\" rows=\"2\"></textarea>\n\
<p><button type=\"submit\" id=\"retention-save\">{retention_save}</button> \
<button type=\"button\" id=\"retention-default\" class=\"secondary\">{retention_default}</button> \
<button type=\"button\" id=\"retention-cancel\" class=\"secondary\">{cancel}</button></p>\n\
<p id=\"retention-form-error\" class=\"error\" role=\"alert\" hidden></p>\n</form>\n\
<form id=\"camera-form\" class=\"card\" novalidate>\n<h2 id=\"camera-form-title\">{add_title}</h2>\n\
<label for=\"cam-name\">{name}</label>\n<input id=\"cam-name\" name=\"name\" required maxlength=\"100\">\n\
<label for=\"cam-url\">{url}</label>\n\
<input id=\"cam-url\" name=\"url\" required placeholder=\"rtsp://192.0.2.10:554/stream1\">\n\
<label for=\"cam-username\">{username}</label>\n<input id=\"cam-username\" name=\"username\" autocomplete=\"off\">\n\
<label for=\"cam-password\">{password}</label>\n\
<input id=\"cam-password\" name=\"password\" type=\"password\" autocomplete=\"new-password\">\n\
<label for=\"cam-transport\">{transport}</label>\n<select id=\"cam-transport\" name=\"transport\">\
<option value=\"tcp\">{tcp}</option><option value=\"udp\">UDP</option></select>\n\
<label for=\"cam-mode\">{recording}</label>\n<select id=\"cam-mode\" name=\"recording_mode\">\
<option value=\"continuous\">{continuous}</option>\
<option value=\"scheduled\">{scheduled}</option>\
<option value=\"motion\">{motion}</option>\
<option value=\"live_only\">{live_only}</option></select>\n\
<label for=\"cam-area\">{area}</label>\n<select id=\"cam-area\" name=\"area\">\
<option value=\"private\">{area_private}</option>\
<option value=\"workplace\">{area_workplace}</option>\
<option value=\"public_facing\">{area_public_facing}</option>\
<option value=\"residential_adjacent\">{area_residential_adjacent}</option></select>\n\
<label for=\"cam-schedule\">{schedule}</label>\n\
<textarea id=\"cam-schedule\" name=\"schedule\" rows=\"3\" \
placeholder=\"{{&quot;time_zone&quot;: &quot;Europe/Paris&quot;, &quot;intervals&quot;: [{{&quot;day&quot;: &quot;mon&quot;, \
&quot;start&quot;: &quot;08:00&quot;, &quot;end&quot;: &quot;18:00&quot;}}]}}\"></textarea>\n\
<label for=\"cam-pre\">{pre}</label>\n\
<input id=\"cam-pre\" name=\"pre_seconds\" type=\"number\" min=\"0\" max=\"30\">\n\
<label for=\"cam-post\">{post}</label>\n\
<input id=\"cam-post\" name=\"post_seconds\" type=\"number\" min=\"1\" max=\"300\">\n\
<label for=\"cam-group\">{group}</label>\n<input id=\"cam-group\" name=\"group\" maxlength=\"100\">\n\
<fieldset>\n<legend>{tracks_legend}</legend>\n\
<p>{tracks_hint}</p>\n\
<label><input type=\"checkbox\" id=\"cam-audio\" name=\"audio_enabled\"> {audio}</label>\n\
<label for=\"cam-audio-purpose\">{audio_purpose}</label>\n\
<textarea id=\"cam-audio-purpose\" name=\"audio_purpose\" maxlength=\"1000\" rows=\"2\"></textarea>\n\
<label><input type=\"checkbox\" id=\"cam-metadata\" name=\"metadata_enabled\"> {metadata}</label>\n\
<label for=\"cam-metadata-purpose\">{metadata_purpose}</label>\n\
<textarea id=\"cam-metadata-purpose\" name=\"metadata_purpose\" maxlength=\"1000\" rows=\"2\"></textarea>\n\
</fieldset>\n\
<fieldset>\n<legend>{ptz_legend}</legend>\n<p>{ptz_hint}</p>\n\
<label><input type=\"checkbox\" id=\"cam-ptz-capable\" name=\"ptz_capable\"> {ptz_capable}</label>\n\
<label><input type=\"checkbox\" id=\"cam-ptz-control\" name=\"ptz_control\"> {ptz_control}</label>\n\
</fieldset>\n\
<p><button type=\"submit\" id=\"camera-add-button\">{add}</button> \
<button type=\"button\" id=\"camera-cancel-edit\" class=\"secondary\" hidden>{cancel}</button></p>\n\
<p id=\"camera-form-error\" class=\"error\" role=\"alert\" hidden></p>\n</form>\n",
        title = t("cameras_admin.title"),
        name = t("cameras_admin.name"),
        source = t("cameras_admin.source"),
        group = t("cameras_admin.group"),
        recording = t("cameras_admin.recording"),
        tracks = t("cameras_admin.tracks"),
        status = t("cameras_admin.status"),
        actions = t("common.actions"),
        add_title = t("cameras_admin.add_title"),
        url = t("cameras_admin.url"),
        username = t("cameras_admin.username"),
        password = t("cameras_admin.password"),
        transport = t("cameras_admin.transport"),
        tcp = t("cameras_admin.tcp"),
        continuous = t("cameras_admin.mode_continuous"),
        scheduled = t("cameras_admin.mode_scheduled"),
        motion = t("cameras_admin.mode_motion"),
        live_only = t("cameras_admin.mode_live_only"),
        area = t("cameras_admin.area"),
        area_private = t("cameras_admin.area_private"),
        area_workplace = t("cameras_admin.area_workplace"),
        area_public_facing = t("cameras_admin.area_public_facing"),
        area_residential_adjacent = t("cameras_admin.area_residential_adjacent"),
        retention = t("cameras_admin.retention"),
        retention_hours = t("cameras_admin.retention_hours"),
        retention_justification = t("cameras_admin.retention_justification"),
        retention_save = t("cameras_admin.retention_save"),
        retention_default = t("cameras_admin.retention_default"),
        schedule = t("cameras_admin.schedule"),
        pre = t("cameras_admin.pre"),
        post = t("cameras_admin.post"),
        tracks_legend = t("cameras_admin.tracks_legend"),
        tracks_hint = t("cameras_admin.tracks_hint"),
        audio = t("cameras_admin.audio"),
        audio_purpose = t("cameras_admin.audio_purpose"),
        metadata = t("cameras_admin.metadata"),
        metadata_purpose = t("cameras_admin.metadata_purpose"),
        ptz_legend = t("cameras_admin.ptz_legend"),
        ptz_hint = t("cameras_admin.ptz_hint"),
        ptz_capable = t("cameras_admin.ptz_capable"),
        ptz_control = t("cameras_admin.ptz_control"),
        add = t("cameras_admin.add"),
        cancel = t("common.cancel"),
    );
    sh.page(t("cameras_admin.title"), "camera-admin.js", &content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::Permissions;

    fn shell(lang: Lang) -> Shell {
        Shell::preview(
            lang,
            "<b>eve</b>",
            Permissions {
                live: true,
                playback: true,
                audit: true,
                camera_admin: true,
                user_admin: true,
                ..Default::default()
            },
            "/cameras",
        )
    }

    fn cam(id: i64, name: &str) -> CameraView {
        CameraView {
            id,
            name: name.into(),
            group: Some("<i>Lobby</i>".into()),
        }
    }

    #[test]
    fn escape_handles_markup() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("plain"), "plain");
    }

    fn all_pages(lang: Lang) -> Vec<String> {
        let sh = shell(lang);
        let c = cam(7, "<script>alert(1)</script>");
        vec![
            login_page(lang, Some("dark")).0,
            cameras_page(&sh, std::slice::from_ref(&c)).0,
            cameras_page(&sh, &[]).0,
            camera_admin_page(&sh).0,
            account_page(&sh, &["<b>ops</b>".to_string()]).0,
            four_eyes_page(&sh, &["export", "masks.lift"]).0,
        ]
    }

    #[test]
    fn pages_escape_untrusted_names() {
        for page in all_pages(Lang::En) {
            assert!(!page.contains("<script>alert"), "{page}");
            assert!(!page.contains("<b>eve"), "{page}");
            assert!(!page.contains("<i>Lobby"), "{page}");
        }
    }

    #[test]
    fn pages_have_no_inline_script_or_style() {
        for lang in Lang::ALL {
            for page in all_pages(lang) {
                assert!(!page.contains("<style"));
                assert!(!page.contains("style="));
                for handler in ["onclick=", "onsubmit=", "onload=", "onerror="] {
                    assert!(!page.contains(handler), "{handler}");
                }
                for (i, _) in page.match_indices("<script") {
                    let tag = &page[i..page[i..].find('>').unwrap() + i];
                    assert!(tag.contains("src=\"/static/"), "{tag}");
                }
                assert!(page.contains(&format!("<html lang=\"{}\"", lang.tag())));
            }
        }
    }

    #[test]
    fn portuguese_pages_use_the_portuguese_catalogue() {
        let en = all_pages(Lang::En).join("\n");
        let pt = all_pages(Lang::Pt).join("\n");
        for key in [
            "account.title",
            "live.layout",
            "cameras_admin.add",
            "login.sign_in",
        ] {
            assert!(en.contains(crate::i18n::t(Lang::En, key)), "{key}");
            assert!(pt.contains(crate::i18n::t(Lang::Pt, key)), "{key}");
            assert_ne!(crate::i18n::t(Lang::En, key), crate::i18n::t(Lang::Pt, key));
        }
    }

    #[test]
    fn required_ids_present() {
        let login = login_page(Lang::En, None).0;
        for id in ["username", "password", "login-button", "login-error"] {
            assert!(login.contains(&format!("id=\"{id}\"")), "{id}");
        }
        let sh = shell(Lang::En);
        let cams = cameras_page(&sh, &[cam(3, "Yard")]).0;
        assert!(cams.contains("class=\"live\" data-camera-id=\"3\""));
        assert!(cams.contains("id=\"logout-button\""));
        assert!(cams.contains("href=\"/playback?cameras=3\""));
        for layout in 1..=4 {
            assert!(cams.contains(&format!("data-layout=\"{layout}\"")));
        }
        assert!(cams.contains("<option value=\"&lt;i&gt;Lobby&lt;/i&gt;\">"));
    }

    #[test]
    fn assets_resolve() {
        for name in [
            "veil.css",
            "login.js",
            "live.js",
            "common.js",
            "audit.js",
            "account.js",
            "camera-admin.js",
            "four-eyes.js",
            "admin-users.js",
            "admin-roles.js",
            "admin-policy.js",
            "admin-tokens.js",
            "approvals.js",
            "timeline.js",
            "bookmarks.js",
            "system.js",
            "retention.js",
            "protections.js",
            "quotas.js",
            "masks.js",
            "exports.js",
            "disclosures.js",
            "dpo.js",
            "dpo-compliance.js",
            "dpo-access.js",
            "dpo-organisation.js",
            "dpo-processors.js",
            "dpo-breaches.js",
            "dpo-requests.js",
            "dpo-request.js",
            "request-footage.js",
            "i18n-en.json",
            "i18n-pt.json",
        ] {
            let (ct, body) = asset(name).expect(name);
            assert!(!body.is_empty());
            assert!(ct.starts_with("text/") || ct.starts_with("application/json"));
        }
        assert!(asset("../ui.rs").is_none());
        assert!(asset("nope.js").is_none());
        assert!(asset("i18n-xx.json").is_none());
    }
}
