//! Server-rendered HTML pages and the embedded static assets of the web UI.
//!
//! Every page works under a strict Content-Security-Policy: there are no
//! inline scripts, styles or event handlers. Scripts are ES modules served
//! from `/static/`, and every dynamic string is HTML-escaped.

use std::fmt::Write as _;

/// What the UI needs to know about a camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraView {
    pub id: i64,
    pub name: String,
}

const CSS: &str = include_str!("../assets/veil.css");
const COMMON_JS: &str = include_str!("../assets/common.js");
const LOGIN_JS: &str = include_str!("../assets/login.js");
const LIVE_JS: &str = include_str!("../assets/live.js");
const PLAYBACK_JS: &str = include_str!("../assets/playback.js");
const AUDIT_JS: &str = include_str!("../assets/audit.js");
const ACCOUNT_JS: &str = include_str!("../assets/account.js");
const CAMERA_ADMIN_JS: &str = include_str!("../assets/camera-admin.js");
const FOUR_EYES_JS: &str = include_str!("../assets/four-eyes.js");

const JS_TYPE: &str = "text/javascript; charset=utf-8";

/// Returns `(content type, body)` of a static asset, or `None` if unknown.
pub fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "veil.css" => Some(("text/css; charset=utf-8", CSS)),
        "common.js" => Some((JS_TYPE, COMMON_JS)),
        "login.js" => Some((JS_TYPE, LOGIN_JS)),
        "live.js" => Some((JS_TYPE, LIVE_JS)),
        "playback.js" => Some((JS_TYPE, PLAYBACK_JS)),
        "audit.js" => Some((JS_TYPE, AUDIT_JS)),
        "account.js" => Some((JS_TYPE, ACCOUNT_JS)),
        "camera-admin.js" => Some((JS_TYPE, CAMERA_ADMIN_JS)),
        "four-eyes.js" => Some((JS_TYPE, FOUR_EYES_JS)),
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

/// Escapes text for use in HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Wraps a body in the common document skeleton. `title` and `body` must
/// already be escaped where needed; `script` is a static asset name.
pub(crate) fn document(title: &str, script: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n\
<html lang=\"en\">\n\
<head>\n\
<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>{title} · Veil</title>\n\
<link rel=\"stylesheet\" href=\"/static/veil.css\">\n\
<link rel=\"icon\" href=\"data:,\">\n\
<script type=\"module\" src=\"/static/{script}\"></script>\n\
</head>\n\
<body>\n{body}</body>\n</html>\n"
    )
}

pub(crate) fn header(user: &str, nav: &str) -> String {
    format!(
        "<header class=\"top\">\n\
<a class=\"brand\" href=\"/cameras\">Veil</a>\n\
<nav aria-label=\"Main\">{nav}</nav>\n\
<div class=\"who\"><span class=\"user\" id=\"current-user\">{user}</span>\n\
<button type=\"button\" id=\"logout-button\" class=\"secondary\">Log out</button></div>\n\
</header>\n",
        user = escape(user),
    )
}

/// Which main pages the navigation links to: the page shown (`current`, e.g.
/// `/cameras`) is marked; the access record is linked only for users who may
/// read it.
pub fn nav_links(current: &str, cameras: bool, audit: bool, camera_admin: bool) -> String {
    let mut nav = String::new();
    for (href, label, shown) in [
        ("/cameras", "Cameras", cameras),
        ("/admin/cameras", "Camera settings", camera_admin),
        ("/audit", "Access record", audit),
        ("/account", "My account", true),
    ] {
        if !shown {
            continue;
        }
        let mark = if href == current {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(nav, "<a href=\"{href}\"{mark}>{label}</a>");
    }
    nav
}

/// The account page: usage policy, password, second factor, sessions.
pub fn account_page(user: &str) -> String {
    let mut body = header(user, &nav_links("/account", true, false, false));
    body.push_str(
        "<main>\n<h1>My account</h1>\n\
<p id=\"account-message\" class=\"error\" role=\"alert\" hidden></p>\n\
<section class=\"card\" id=\"policy-section\">\n<h2>Video-surveillance policy</h2>\n\
<div id=\"policy-text\" class=\"policy\"></div>\n\
<button type=\"button\" id=\"policy-ack\" hidden>I have read and accept this policy</button>\n\
<p id=\"policy-state\"></p>\n</section>\n\
<section class=\"card\">\n<h2>Password</h2>\n\
<form id=\"password-form\">\n\
<label for=\"current-password\">Current password</label>\n\
<input id=\"current-password\" type=\"password\" autocomplete=\"current-password\" required>\n\
<label for=\"new-password\">New password (at least 12 characters, not a common one)</label>\n\
<input id=\"new-password\" type=\"password\" autocomplete=\"new-password\" required>\n\
<p>Changing the password ends your other sessions.</p>\n\
<label><input type=\"checkbox\" id=\"revoke-tokens\"> Also revoke my API tokens</label>\n\
<button type=\"submit\">Change password</button>\n</form>\n</section>\n\
<section class=\"card\">\n<h2>Second factor</h2>\n\
<p>Use an authenticator app (TOTP). Roles that can export, lift masks, delete or administer require one.</p>\n\
<button type=\"button\" id=\"totp-start\">Set up an authenticator</button>\n\
<div id=\"totp-enrol\" hidden>\n\
<p>Scan this code with the app, or enter the key by hand.</p>\n\
<div id=\"totp-qr\" class=\"qr\"></div>\n\
<p>Key: <code id=\"totp-secret\"></code></p>\n\
<label for=\"totp-code\">Code shown by the app</label>\n\
<input id=\"totp-code\" inputmode=\"numeric\" autocomplete=\"one-time-code\">\n\
<button type=\"button\" id=\"totp-confirm\">Confirm</button>\n</div>\n\
<div id=\"totp-recovery\" hidden>\n\
<p>Recovery codes — each works once if you lose the device. They are shown only now; keep them safe.</p>\n\
<ul id=\"totp-codes\"></ul>\n</div>\n</section>\n\
<section class=\"card\">\n<h2>My sessions</h2>\n\
<table class=\"report\"><thead><tr><th>Signed in</th><th>Last seen</th><th></th></tr></thead>\n\
<tbody id=\"session-rows\"></tbody></table>\n</section>\n</main>\n",
    );
    document("My account", "account.js", &body)
}

/// The login page.
pub fn login_page() -> String {
    let body = "<main class=\"login\">\n\
<h1>Veil</h1>\n\
<form id=\"login-form\" class=\"card\" novalidate>\n\
<h2>Sign in</h2>\n\
<label for=\"username\">Username</label>\n\
<input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" required autofocus>\n\
<label for=\"password\">Password</label>\n\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\n\
<div id=\"code-step\" hidden>\n\
<label for=\"code\">Code from your authenticator app, or a recovery code</label>\n\
<input id=\"code\" name=\"code\" type=\"text\" inputmode=\"numeric\" autocomplete=\"one-time-code\">\n\
</div>\n\
<div id=\"new-password-step\" hidden>\n\
<p>Your password was set by an administrator. Choose your own (at least 12 characters, not a common one).</p>\n\
<label for=\"new-password\">New password</label>\n\
<input id=\"new-password\" name=\"new-password\" type=\"password\" autocomplete=\"new-password\">\n\
</div>\n\
<button type=\"submit\" id=\"login-button\">Sign in</button>\n\
<p id=\"login-error\" class=\"error\" role=\"alert\" aria-live=\"assertive\" hidden></p>\n\
</form>\n\
</main>\n";
    document("Sign in", "login.js", body)
}

/// The camera overview: one live tile per camera.
/// `audit`: whether to link the access record.
/// `camera_admin`: whether to link the camera settings.
pub fn cameras_page(user: &str, cameras: &[CameraView], audit: bool, camera_admin: bool) -> String {
    let mut body = header(user, &nav_links("/cameras", true, audit, camera_admin));
    body.push_str("<main>\n<h1>Cameras</h1>\n");
    if cameras.is_empty() {
        body.push_str("<p class=\"empty\">No cameras are available to you.</p>\n");
    } else {
        body.push_str("<ul class=\"grid\" id=\"camera-grid\">\n");
        for cam in cameras {
            let id = cam.id;
            let name = escape(&cam.name);
            let _ = write!(
                body,
                "<li class=\"tile\" id=\"camera-{id}\">\n\
<figure>\n\
<video class=\"live\" data-camera-id=\"{id}\" muted autoplay playsinline aria-label=\"Live view of {name}\"></video>\n\
<figcaption><span class=\"name\">{name}</span>\n\
<span class=\"status\" data-status-for=\"{id}\" aria-live=\"polite\">connecting…</span>\n\
<a href=\"/cameras/{id}/playback\">Recordings</a></figcaption>\n\
</figure>\n\
</li>\n"
            );
        }
        body.push_str("</ul>\n");
    }
    body.push_str("</main>\n");
    document("Cameras", "live.js", &body)
}

/// The four-eyes settings page (user administrators): a checkbox per
/// permission that can need a second person's approval (`approvable`, id and
/// description), whether a route enforces it today (filled by
/// `four-eyes.js`), and Save.
pub fn four_eyes_page(user: &str, approvable: &[(&str, &str)]) -> String {
    let mut body = header(user, &nav_links("/admin/four-eyes", true, false, false));
    body.push_str(
        "<main>\n<h1>Four-eyes approval</h1>\n\
<p>Actions checked here need a second person's approval, asked for and given in the \
approvals, before they can be done; each approval allows one action.</p>\n\
<form id=\"four-eyes-form\" class=\"card\">\n<table>\n\
<thead><tr><th>Needs approval</th><th>Permission</th><th>Enforced today</th></tr></thead>\n<tbody>\n",
    );
    for (id, description) in approvable {
        let id = escape(id);
        let _ = writeln!(
            body,
            "<tr><td><input type=\"checkbox\" id=\"four-eyes-{id}\" name=\"permission\" value=\"{id}\"></td>\
<td><label for=\"four-eyes-{id}\"><code>{id}</code>: {}</label></td>\
<td id=\"four-eyes-enforced-{id}\"></td></tr>",
            escape(description)
        );
    }
    body.push_str(
        "</tbody>\n</table>\n<p><button type=\"submit\" id=\"four-eyes-save\">Save</button></p>\n\
<p id=\"four-eyes-message\" role=\"status\" hidden></p>\n</form>\n</main>\n",
    );
    document("Four-eyes approval", "four-eyes.js", &body)
}

/// The camera settings page (administrators): the camera table with status,
/// filled by `camera-admin.js`, and the form that adds an RTSP camera or, after
/// "Edit" in a row, changes one.
pub fn camera_admin_page(user: &str) -> String {
    let mut body = header(user, &nav_links("/admin/cameras", true, false, true));
    body.push_str(
        "<main>\n<h1>Camera settings</h1>\n\
<table class=\"cameras\">\n<thead><tr><th>Name</th><th>Source</th><th>Group</th><th>Recording</th>\
<th>Audio and metadata</th><th>Status</th><th></th></tr></thead>\n<tbody id=\"camera-rows\" aria-live=\"polite\"></tbody>\n</table>\n\
<form id=\"camera-form\" class=\"card\" novalidate>\n<h2 id=\"camera-form-title\">Add an RTSP camera</h2>\n\
<label for=\"cam-name\">Name</label>\n<input id=\"cam-name\" name=\"name\" required maxlength=\"100\">\n\
<label for=\"cam-url\">RTSP URL (without user name or password)</label>\n\
<input id=\"cam-url\" name=\"url\" required placeholder=\"rtsp://192.0.2.10:554/stream1\">\n\
<label for=\"cam-username\">User name (when changing a camera, leave both empty to keep the stored credentials)</label>\n<input id=\"cam-username\" name=\"username\" autocomplete=\"off\">\n\
<label for=\"cam-password\">Password</label>\n\
<input id=\"cam-password\" name=\"password\" type=\"password\" autocomplete=\"new-password\">\n\
<label for=\"cam-transport\">Transport</label>\n<select id=\"cam-transport\" name=\"transport\">\
<option value=\"tcp\">TCP (interleaved)</option><option value=\"udp\">UDP</option></select>\n\
<label for=\"cam-mode\">Recording</label>\n<select id=\"cam-mode\" name=\"recording_mode\">\
<option value=\"continuous\">continuous</option>\
<option value=\"scheduled\">scheduled (weekly hours)</option>\
<option value=\"motion\">motion (with seconds before and after)</option></select>\n\
<label for=\"cam-schedule\">Schedule, for scheduled recording (JSON: time zone and weekly intervals)</label>\n\
<textarea id=\"cam-schedule\" name=\"schedule\" rows=\"3\" \
placeholder=\"{&quot;time_zone&quot;: &quot;Europe/Paris&quot;, &quot;intervals&quot;: [{&quot;day&quot;: &quot;mon&quot;, \
&quot;start&quot;: &quot;08:00&quot;, &quot;end&quot;: &quot;18:00&quot;}]}\"></textarea>\n\
<label for=\"cam-pre\">Motion: seconds recorded before (0 to 30, default 5)</label>\n\
<input id=\"cam-pre\" name=\"pre_seconds\" type=\"number\" min=\"0\" max=\"30\">\n\
<label for=\"cam-post\">Motion: seconds recorded after (1 to 300, default 10)</label>\n\
<input id=\"cam-post\" name=\"post_seconds\" type=\"number\" min=\"1\" max=\"300\">\n\
<label for=\"cam-group\">Group</label>\n<input id=\"cam-group\" name=\"group\" maxlength=\"100\">\n\
<fieldset>\n<legend>Audio and ONVIF metadata (off by default)</legend>\n\
<p>Recording sound is more intrusive than video: enable it only with its own documented purpose \
(at least 10 characters; the records of processing quote it).</p>\n\
<label><input type=\"checkbox\" id=\"cam-audio\" name=\"audio_enabled\"> Record audio (AAC)</label>\n\
<label for=\"cam-audio-purpose\">Purpose of recording audio</label>\n\
<textarea id=\"cam-audio-purpose\" name=\"audio_purpose\" maxlength=\"1000\" rows=\"2\"></textarea>\n\
<label><input type=\"checkbox\" id=\"cam-metadata\" name=\"metadata_enabled\"> Record ONVIF metadata</label>\n\
<label for=\"cam-metadata-purpose\">Purpose of recording metadata</label>\n\
<textarea id=\"cam-metadata-purpose\" name=\"metadata_purpose\" maxlength=\"1000\" rows=\"2\"></textarea>\n\
</fieldset>\n\
<p><button type=\"submit\" id=\"camera-add-button\">Add camera</button> \
<button type=\"button\" id=\"camera-cancel-edit\" class=\"secondary\" hidden>Cancel</button></p>\n\
<p id=\"camera-form-error\" class=\"error\" role=\"alert\" hidden></p>\n</form>\n</main>\n",
    );
    document("Camera settings", "camera-admin.js", &body)
}

/// The playback page of one camera.
/// `audit`: whether to link the access record.
pub fn playback_page(user: &str, camera: &CameraView, audit: bool) -> String {
    let id = camera.id;
    let name = escape(&camera.name);
    let mut body = header(user, &nav_links("", true, audit, false));
    let _ = write!(
        body,
        "<main id=\"playback\" data-camera-id=\"{id}\">\n\
<h1>{name} <span class=\"sub\">recordings</span></h1>\n\
<form id=\"range-form\" class=\"range card\" novalidate>\n\
<div class=\"field\"><label for=\"start\">From</label>\n\
<input id=\"start\" name=\"start\" type=\"datetime-local\" step=\"1\" required></div>\n\
<div class=\"field\"><label for=\"end\">To</label>\n\
<input id=\"end\" name=\"end\" type=\"datetime-local\" step=\"1\" required></div>\n\
<button type=\"submit\" id=\"play-button\">Play</button>\n\
<button type=\"button\" id=\"refresh-button\" class=\"secondary\">Show recordings</button>\n\
</form>\n\
<section aria-labelledby=\"timeline-title\">\n\
<h2 id=\"timeline-title\">Recorded periods</h2>\n\
<div id=\"timeline\" class=\"timeline\" role=\"list\" aria-label=\"Recorded periods in the chosen range\"></div>\n\
<div class=\"axis\"><span id=\"axis-start\"></span><span id=\"axis-end\"></span></div>\n\
<p id=\"timeline-status\" class=\"muted\" aria-live=\"polite\"></p>\n\
</section>\n\
<video id=\"playback-video\" controls playsinline preload=\"metadata\" aria-label=\"Recording of {name}\"></video>\n\
<p id=\"playback-error\" class=\"error\" role=\"alert\" hidden></p>\n\
</main>\n"
    );
    document(&format!("{name} recordings"), "playback.js", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_handles_markup() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn pages_escape_untrusted_names() {
        let cam = CameraView {
            id: 7,
            name: "<script>alert(1)</script>".into(),
        };
        for page in [
            cameras_page("<b>eve</b>", std::slice::from_ref(&cam), false, false),
            playback_page("<b>eve</b>", &cam, false),
        ] {
            assert!(!page.contains("<script>alert"), "{page}");
            assert!(!page.contains("<b>eve"), "{page}");
            assert!(page.contains("&lt;b&gt;eve&lt;/b&gt;"));
        }
    }

    #[test]
    fn pages_have_no_inline_script_or_style() {
        let cam = CameraView {
            id: 1,
            name: "Cam".into(),
        };
        for page in [
            login_page(),
            cameras_page("u", std::slice::from_ref(&cam), true, true),
            playback_page("u", &cam, true),
            camera_admin_page("<b>eve</b>"),
        ] {
            assert!(!page.contains("<b>eve"));
            assert!(!page.contains("<style"));
            assert!(!page.contains("style="));
            for handler in ["onclick=", "onsubmit=", "onload=", "onerror="] {
                assert!(!page.contains(handler), "{handler}");
            }
            for (i, _) in page.match_indices("<script") {
                let tag = &page[i..page[i..].find('>').unwrap() + i];
                assert!(tag.contains("src=\"/static/"), "{tag}");
            }
        }
    }

    #[test]
    fn required_ids_present() {
        let login = login_page();
        for id in ["username", "password", "login-button", "login-error"] {
            assert!(login.contains(&format!("id=\"{id}\"")), "{id}");
        }
        let cam = CameraView {
            id: 3,
            name: "Yard".into(),
        };
        let cams = cameras_page("u", std::slice::from_ref(&cam), false, false);
        assert!(!cams.contains("href=\"/audit\""));
        assert!(
            cameras_page("u", &[], true, false).contains("<a href=\"/audit\">Access record</a>")
        );
        assert!(cams.contains("class=\"live\" data-camera-id=\"3\""));
        assert!(cams.contains("id=\"logout-button\""));
        assert!(cams.contains("href=\"/cameras/3/playback\""));
        let pb = playback_page("u", &cam, false);
        for id in ["start", "end", "play-button", "timeline", "playback-video"] {
            assert!(pb.contains(&format!("id=\"{id}\"")), "{id}");
        }
    }

    #[test]
    fn assets_resolve() {
        for name in [
            "veil.css",
            "login.js",
            "live.js",
            "playback.js",
            "common.js",
            "audit.js",
            "account.js",
            "camera-admin.js",
            "four-eyes.js",
        ] {
            let (ct, body) = asset(name).expect(name);
            assert!(!body.is_empty());
            assert!(ct.starts_with("text/"));
        }
        assert!(asset("../ui.rs").is_none());
        assert!(asset("nope.js").is_none());
    }
}
