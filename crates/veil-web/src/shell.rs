//! The one page shell: header, navigation and user menu of every signed-in
//! page, built from the permissions the user holds now.
//!
//! A page handler makes a [`Shell`] with [`Shell::new`] and renders its
//! content through [`Shell::page`]. A link appears only for what the user may
//! do; the current page is marked (`aria-current="page"`); approvers see a
//! badge with the requests waiting for them. New pages add one line to
//! [`NAV`]. The language ([`Lang::choose`]) and the theme (cookie
//! `veil_theme`, else the system preference) are decided here too.

use std::fmt::Write as _;

use axum::http::HeaderMap;
use axum::response::Html;
use veil_access::{Action, Resource};

use crate::auth::{cookie, Session};
use crate::error::ApiError;
use crate::i18n::{t, tr, Lang};
use crate::ui::escape;
use crate::{blocking, AppState};

/// The cookie that keeps the theme a user picked (`light` or `dark`; absent:
/// follow the system).
pub const THEME_COOKIE: &str = "veil_theme";

/// What the user may do, as far as the navigation is concerned.
#[derive(Clone, Copy, Debug, Default)]
pub struct Permissions {
    /// Live view of at least one camera (the camera list).
    pub live: bool,
    /// Playback of at least one camera (playback, bookmarks).
    pub playback: bool,
    /// Read the access record.
    pub audit: bool,
    /// Decide four-eyes requests.
    pub approve: bool,
    /// Manage cameras.
    pub camera_admin: bool,
    /// Manage users, roles, tokens, the usage policy, four-eyes settings.
    pub user_admin: bool,
    /// Read the operating figures.
    pub metrics: bool,
    /// See retention (`retention.admin`).
    pub retention: bool,
    /// See evidence locks.
    pub locks: bool,
    /// Manage restriction holds.
    pub holds: bool,
    /// Read the register of transfers and disclosures (`dpo.documents` or
    /// `audit.read`).
    pub disclosures: bool,
    /// Export video of at least one camera (the export wizard).
    pub export: bool,
    /// Read the DPO's desk (`dpo.documents` or `users.admin`).
    pub dpo: bool,
}

/// Where a link sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Main,
    Admin,
}

/// One navigation link: its path, message id, section and who sees it.
struct NavEntry {
    href: &'static str,
    key: &'static str,
    section: Section,
    shown: fn(&Permissions) -> bool,
}

/// Every page the navigation can link to, in order.
const NAV: &[NavEntry] = &[
    NavEntry {
        href: "/cameras",
        key: "nav.live",
        section: Section::Main,
        shown: |p| p.live,
    },
    NavEntry {
        href: "/playback",
        key: "nav.playback",
        section: Section::Main,
        shown: |p| p.playback,
    },
    NavEntry {
        href: "/bookmarks",
        key: "nav.bookmarks",
        section: Section::Main,
        shown: |p| p.playback,
    },
    NavEntry {
        href: "/locks",
        key: "nav.locks",
        section: Section::Main,
        shown: |p| p.locks,
    },
    NavEntry {
        href: "/holds",
        key: "nav.holds",
        section: Section::Main,
        shown: |p| p.holds,
    },
    NavEntry {
        href: "/exports",
        key: "nav.exports",
        section: Section::Main,
        shown: |p| p.export,
    },
    NavEntry {
        href: "/disclosures",
        key: "nav.disclosures",
        section: Section::Main,
        shown: |p| p.disclosures,
    },
    NavEntry {
        href: "/dpo",
        key: "nav.dpo",
        section: Section::Main,
        shown: |p| p.dpo,
    },
    NavEntry {
        href: "/approvals",
        key: "nav.approvals",
        section: Section::Main,
        shown: |p| p.approve,
    },
    NavEntry {
        href: "/audit",
        key: "nav.audit",
        section: Section::Main,
        shown: |p| p.audit,
    },
    NavEntry {
        href: "/admin/cameras",
        key: "nav.admin.cameras",
        section: Section::Admin,
        shown: |p| p.camera_admin,
    },
    NavEntry {
        href: "/admin/users",
        key: "nav.admin.users",
        section: Section::Admin,
        shown: |p| p.user_admin,
    },
    NavEntry {
        href: "/admin/roles",
        key: "nav.admin.roles",
        section: Section::Admin,
        shown: |p| p.user_admin,
    },
    NavEntry {
        href: "/admin/four-eyes",
        key: "nav.admin.four_eyes",
        section: Section::Admin,
        shown: |p| p.user_admin,
    },
    NavEntry {
        href: "/admin/policy",
        key: "nav.admin.policy",
        section: Section::Admin,
        shown: |p| p.user_admin,
    },
    NavEntry {
        href: "/admin/tokens",
        key: "nav.admin.tokens",
        section: Section::Admin,
        shown: |p| p.user_admin,
    },
    NavEntry {
        href: "/admin/retention",
        key: "nav.admin.retention",
        section: Section::Admin,
        shown: |p| p.retention,
    },
    NavEntry {
        href: "/admin/quotas",
        key: "nav.admin.quotas",
        section: Section::Admin,
        shown: |p| p.retention,
    },
    NavEntry {
        href: "/system",
        key: "nav.system",
        section: Section::Admin,
        shown: |p| p.metrics,
    },
];

/// The header of a signed-in page.
#[derive(Clone, Debug)]
pub struct Shell {
    /// The page's language.
    pub lang: Lang,
    /// What the user may do.
    pub perms: Permissions,
    theme: Option<&'static str>,
    user: String,
    current: String,
    pending_approvals: usize,
    /// On the DPO's desk (`/dpo…`), for holders of `dpo.documents`: each
    /// open breach's (id, hours left, late), soonest first.
    pub breach_clocks: Vec<(i64, i64, bool)>,
}

impl Shell {
    /// The shell of page `current` (its path) for session `s`.
    pub async fn new(
        state: &AppState,
        s: &Session,
        headers: &HeaderMap,
        current: &str,
    ) -> Result<Shell, ApiError> {
        let db = state.store.db.clone();
        let (cameras, approvals) =
            blocking(move || Ok((db.cameras()?, db.approvals(None)?))).await?;
        let mut perms = Permissions {
            audit: state.allowed(s, Action::AuditRead, Resource::System),
            approve: state.allowed(s, Action::Approve, Resource::System),
            camera_admin: state.allowed(s, Action::CameraAdmin, Resource::System),
            user_admin: state.allowed(s, Action::UserAdmin, Resource::System),
            metrics: state.allowed(s, Action::MetricsRead, Resource::System),
            retention: state.allowed(s, Action::RetentionAdmin, Resource::System),
            locks: state.allowed(s, Action::LockView, Resource::System),
            holds: state.allowed(s, Action::HoldManage, Resource::System),
            disclosures: crate::disclosures::may_read(state, s),
            dpo: state.allowed(s, Action::DpoDocuments, Resource::System)
                || state.allowed(s, Action::UserAdmin, Resource::System),
            ..Permissions::default()
        };
        if state.allowed(s, Action::ListCameras, Resource::System) {
            for c in &cameras {
                let r = || crate::api::camera_resource(c.id, Some(c));
                perms.live |= state.allowed(s, Action::LiveView, r());
                perms.playback |= state.allowed(s, Action::Playback, r());
                perms.export |= state.allowed(s, Action::Export, r());
            }
        }
        let now = state.now();
        let pending_approvals = if perms.approve {
            approvals
                .iter()
                .filter(|a| a.state == "pending" && now < a.expires_90k)
                .filter(|a| a.requester_id != s.subject.user)
                .filter(|a| {
                    crate::admin::parse_resource(&a.resource)
                        .is_ok_and(|r| state.allowed(s, Action::Approve, r))
                })
                .count()
        } else {
            0
        };
        let breach_clocks = if current.starts_with("/dpo")
            && state.allowed(s, Action::DpoDocuments, Resource::System)
        {
            let db = state.store.db.clone();
            blocking(move || Ok(crate::breaches::open_clocks(&db, now)?)).await?
        } else {
            Vec::new()
        };
        Ok(Shell {
            lang: Lang::choose(s.language.as_deref(), headers),
            perms,
            theme: theme_from(headers),
            user: s.display_name.clone(),
            current: current.to_string(),
            pending_approvals,
            breach_clocks,
        })
    }

    /// A shell with the given language and permissions, without a request
    /// (page previews and tests).
    pub fn preview(lang: Lang, user: &str, perms: Permissions, current: &str) -> Shell {
        Shell {
            lang,
            perms,
            theme: None,
            user: user.to_string(),
            current: current.to_string(),
            pending_approvals: 0,
            breach_clocks: Vec::new(),
        }
    }

    /// The message `key` in the page's language.
    pub fn t(&self, key: &str) -> &'static str {
        t(self.lang, key)
    }

    /// The message `key` with placeholders filled.
    pub fn tr(&self, key: &str, args: &[(&str, &str)]) -> String {
        tr(self.lang, key, args)
    }

    /// A whole page: `title` (plain text, escaped here), the page's script
    /// (a static asset name) and its `content` (HTML, already escaped),
    /// placed in `<main>` under the shell's header.
    pub fn page(&self, title: &str, script: &str, content: &str) -> Html<String> {
        let mut body = String::new();
        let _ = writeln!(
            body,
            "<a class=\"skip\" href=\"#main\">{}</a>",
            self.t("shell.skip")
        );
        body.push_str(&self.header());
        let _ = write!(
            body,
            "<main id=\"main\" tabindex=\"-1\">\n{content}</main>\n"
        );
        Html(document(
            self.lang,
            self.theme,
            &escape(title),
            script,
            &body,
        ))
    }

    fn link(&self, out: &mut String, e: &NavEntry) {
        let mark = if e.href == self.current {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(out, "<li><a href=\"{}\"{mark}>{}", e.href, self.t(e.key));
        if e.href == "/approvals" && self.pending_approvals > 0 {
            let n = self.pending_approvals.to_string();
            let _ = write!(
                out,
                " <span class=\"badge\" id=\"approvals-badge\" title=\"{label}\">{n}\
<span class=\"visually-hidden\"> {label}</span></span>",
                label = escape(&self.tr("shell.pending_approvals", &[("count", &n)])),
            );
        }
        out.push_str("</a></li>");
    }

    fn header(&self) -> String {
        let mut main = String::new();
        let mut admin = String::new();
        let mut admin_current = false;
        for e in NAV.iter().filter(|e| (e.shown)(&self.perms)) {
            match e.section {
                Section::Main => self.link(&mut main, e),
                Section::Admin => {
                    admin_current |= e.href == self.current;
                    self.link(&mut admin, e)
                }
            }
        }
        let home = if self.perms.live {
            "/cameras"
        } else {
            "/account"
        };
        let mut h = String::new();
        let _ = write!(
            h,
            "<header class=\"top\">\n<a class=\"brand\" href=\"{home}\">Veil</a>\n\
<nav aria-label=\"{}\" id=\"main-nav\"><ul class=\"nav\">{main}",
            self.t("shell.nav_label")
        );
        if !admin.is_empty() {
            let _ = write!(
                h,
                "<li><details class=\"menu\" id=\"admin-menu\"><summary{}>{}</summary>\
<ul class=\"menu-items\">{admin}</ul></details></li>",
                if admin_current {
                    " class=\"current\""
                } else {
                    ""
                },
                self.t("nav.admin")
            );
        }
        h.push_str("</ul></nav>\n");
        let theme = self.theme.unwrap_or("system");
        let lang = self.lang.tag();
        let option = |value: &str, key: &str, selected: bool| {
            format!(
                "<option value=\"{value}\"{}>{}</option>",
                if selected { " selected" } else { "" },
                self.t(key)
            )
        };
        let _ = write!(
            h,
            "<details class=\"menu user-menu\" id=\"user-menu\"><summary>\
<span class=\"visually-hidden\">{signed_in} </span><span id=\"current-user\">{user}</span></summary>\n\
<div class=\"menu-items\">\n<ul>\
<li><a href=\"/account\"{acct}>{account}</a></li>\
<li><a href=\"/account#sessions\">{sessions}</a></li>\
<li><a href=\"/account#tokens\">{tokens}</a></li>\
</ul>\n\
<label for=\"theme-select\">{theme_label}</label>\
<select id=\"theme-select\">{o1}{o2}{o3}</select>\n\
<label for=\"language-select\">{lang_label}</label>\
<select id=\"language-select\">{l1}{l2}</select>\n\
<button type=\"button\" id=\"logout-button\" class=\"secondary\">{logout}</button>\n\
</div></details>\n</header>\n",
            signed_in = self.t("shell.signed_in_as"),
            user = escape(&self.user),
            acct = if self.current == "/account" {
                " aria-current=\"page\""
            } else {
                ""
            },
            account = self.t("shell.account"),
            sessions = self.t("shell.sessions"),
            tokens = self.t("shell.tokens"),
            theme_label = self.t("shell.theme"),
            o1 = option("system", "theme.system", theme == "system"),
            o2 = option("light", "theme.light", theme == "light"),
            o3 = option("dark", "theme.dark", theme == "dark"),
            lang_label = self.t("shell.language"),
            l1 = option("en", "lang.en", lang == "en"),
            l2 = option("pt", "lang.pt", lang == "pt"),
            logout = self.t("shell.logout"),
        );
        h
    }
}

/// The theme a user picked, from the `veil_theme` cookie.
pub fn theme_from(headers: &HeaderMap) -> Option<&'static str> {
    match cookie(headers, THEME_COOKIE) {
        Some("dark") => Some("dark"),
        Some("light") => Some("light"),
        _ => None,
    }
}

/// The document skeleton of every page, signed in or not. `title` and
/// `body` must already be escaped; `script` is a static asset name.
pub fn document(lang: Lang, theme: Option<&str>, title: &str, script: &str, body: &str) -> String {
    let theme_attr = theme
        .map(|t| format!(" data-theme=\"{t}\""))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n\
<html lang=\"{lang}\"{theme_attr}>\n\
<head>\n\
<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"color-scheme\" content=\"light dark\">\n\
<title>{title} · Veil</title>\n\
<link rel=\"stylesheet\" href=\"/static/veil.css\">\n\
<link rel=\"icon\" href=\"data:,\">\n\
<script type=\"module\" src=\"/static/{script}\"></script>\n\
</head>\n\
<body>\n{body}</body>\n</html>\n",
        lang = lang.tag(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(perms: Permissions, current: &str, pending: usize) -> Shell {
        Shell {
            lang: Lang::En,
            perms,
            theme: None,
            user: "<b>eve</b>".into(),
            current: current.into(),
            pending_approvals: pending,
            breach_clocks: Vec::new(),
        }
    }

    #[test]
    fn links_follow_permissions_and_mark_the_current_page() {
        let operator = Permissions {
            live: true,
            playback: true,
            ..Default::default()
        };
        let h = shell(operator, "/playback", 0).header();
        assert!(h.contains("href=\"/cameras\""));
        assert!(h.contains("<a href=\"/playback\" aria-current=\"page\">"));
        for admin in ["/admin/", "/audit", "/approvals", "/system"] {
            assert!(!h.contains(&format!("href=\"{admin}")), "{admin} in {h}");
        }
        assert!(!h.contains("admin-menu"));
        assert!(h.contains("&lt;b&gt;eve&lt;/b&gt;"));
        assert!(h.contains("id=\"logout-button\""));

        let admin = Permissions {
            live: true,
            camera_admin: true,
            user_admin: true,
            ..Default::default()
        };
        let h = shell(admin, "/admin/users", 0).header();
        assert!(h.contains("<a href=\"/admin/users\" aria-current=\"page\">"));
        assert!(h.contains("<summary class=\"current\">"));
        assert!(!h.contains("href=\"/audit\""));

        let approver = Permissions {
            approve: true,
            audit: true,
            ..Default::default()
        };
        let h = shell(approver, "/audit", 3).header();
        assert!(h.contains("id=\"approvals-badge\""));
        assert!(h.contains(">3<"));
        assert!(h.contains("href=\"/account\">"), "home is the account: {h}");
        assert!(!h.contains("href=\"/cameras\""));
    }

    #[test]
    fn page_has_one_main_and_no_inline_script() {
        let p = shell(Permissions::default(), "/account", 0)
            .page("A <title>", "account.js", "<h1>x</h1>\n")
            .0;
        assert_eq!(p.matches("<main").count(), 1);
        assert!(p.contains("<title>A &lt;title&gt; · Veil</title>"));
        assert!(p.contains("<html lang=\"en\">"));
        assert!(!p.contains("style="));
    }
}
