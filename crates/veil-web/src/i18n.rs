//! The message catalogue: every user-facing string of the pages and their
//! scripts, in English and Portuguese.
//!
//! The catalogue is one JSON object per language (`assets/i18n/en.json`,
//! `assets/i18n/pt.json`), keyed by stable message ids. Pages look strings
//! up with [`t`] / [`tr`]; scripts load the same file from
//! `/static/i18n-{lang}.json` (see `common.js`). Placeholders are written
//! `{name}`. Both languages must have exactly the same keys (tested).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::http::{header, HeaderMap};

/// A language of the web client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// English (the fallback).
    En,
    /// Portuguese.
    Pt,
}

impl Lang {
    /// Every supported language.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Pt];

    /// The BCP 47 tag used in `<html lang>`, settings and file names.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Pt => "pt",
        }
    }

    /// The language with this tag (`en`, `pt`, also `pt-PT`, `en-GB`).
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.trim().to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.tag() == primary)
    }

    /// The language for a request: the user's setting if any, else the
    /// best supported language of `Accept-Language`, else English.
    pub fn choose(setting: Option<&str>, headers: &HeaderMap) -> Lang {
        if let Some(l) = setting.and_then(Lang::parse) {
            return l;
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        from_accept_language(accept).unwrap_or(Lang::En)
    }
}

/// The supported language an `Accept-Language` value prefers most (highest
/// q, first listed on ties; `q=0` excluded).
fn from_accept_language(value: &str) -> Option<Lang> {
    let mut best: Option<(f32, Lang)> = None;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        if let Some(lang) = Lang::parse(tag) {
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
    }
    best.map(|(_, l)| l)
}

const EN_JSON: &str = include_str!("../assets/i18n/en.json");
const PT_JSON: &str = include_str!("../assets/i18n/pt.json");

/// The raw catalogue file of a language, as served to scripts.
pub fn catalogue_json(lang: Lang) -> &'static str {
    match lang {
        Lang::En => EN_JSON,
        Lang::Pt => PT_JSON,
    }
}

fn parse(json: &str, lang: &str) -> BTreeMap<String, String> {
    serde_json::from_str(json).unwrap_or_else(|e| {
        panic!("the {lang} message catalogue is not a JSON object of strings: {e}")
    })
}

static EN: LazyLock<BTreeMap<String, String>> = LazyLock::new(|| parse(EN_JSON, "en"));
static PT: LazyLock<BTreeMap<String, String>> = LazyLock::new(|| parse(PT_JSON, "pt"));

/// Every message of a language, by id.
pub fn messages(lang: Lang) -> &'static BTreeMap<String, String> {
    match lang {
        Lang::En => &EN,
        Lang::Pt => &PT,
    }
}

/// The message `key` in `lang`. A key missing from the catalogue is a
/// programming error the catalogue test catches; at run time it shows the
/// key itself rather than failing the page.
pub fn t(lang: Lang, key: &str) -> &'static str {
    match messages(lang).get(key) {
        Some(m) => m.as_str(),
        None => {
            debug_assert!(false, "message {key:?} is not in the catalogue");
            // Leaking is bounded: keys are compile-time literals.
            Box::leak(key.to_string().into_boxed_str())
        }
    }
}

/// The message `key` with `{name}` placeholders replaced by `args` (the
/// values are inserted as given: escape them first for HTML).
pub fn tr(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    let mut out = t(lang, key).to_string();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_keys_and_no_empty_message() {
        let en = messages(Lang::En);
        let pt = messages(Lang::Pt);
        let missing_pt: Vec<_> = en.keys().filter(|k| !pt.contains_key(*k)).collect();
        let missing_en: Vec<_> = pt.keys().filter(|k| !en.contains_key(*k)).collect();
        assert!(missing_pt.is_empty(), "missing in pt: {missing_pt:?}");
        assert!(missing_en.is_empty(), "missing in en: {missing_en:?}");
        for lang in Lang::ALL {
            for (k, v) in messages(lang) {
                assert!(!v.trim().is_empty(), "{}: {k} is empty", lang.tag());
            }
        }
    }

    #[test]
    fn placeholders_match_between_languages() {
        fn names(s: &str) -> Vec<&str> {
            let mut v: Vec<&str> = s
                .split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(n, _)| n))
                .collect();
            v.sort_unstable();
            v
        }
        for (k, v) in messages(Lang::En) {
            assert_eq!(
                names(v),
                names(&messages(Lang::Pt)[k]),
                "placeholders of {k}"
            );
        }
    }

    #[test]
    fn accept_language_picks_the_preferred_supported_language() {
        assert_eq!(
            from_accept_language("pt-PT,pt;q=0.9,en;q=0.8"),
            Some(Lang::Pt)
        );
        assert_eq!(
            from_accept_language("de-DE,en;q=0.5,pt;q=0.7"),
            Some(Lang::Pt)
        );
        assert_eq!(from_accept_language("fr, de"), None);
        assert_eq!(from_accept_language("pt;q=0, en;q=0.1"), Some(Lang::En));
        assert_eq!(from_accept_language(""), None);
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, "pt-BR".parse().unwrap());
        assert_eq!(Lang::choose(None, &h), Lang::Pt);
        assert_eq!(Lang::choose(Some("en"), &h), Lang::En);
        assert_eq!(Lang::choose(Some("xx"), &h), Lang::Pt);
        assert_eq!(Lang::choose(None, &HeaderMap::new()), Lang::En);
    }

    #[test]
    fn every_permission_has_a_description() {
        for lang in Lang::ALL {
            for p in veil_access::Action::PERMISSIONS {
                let key = format!("permission.{}", p.id());
                assert!(messages(lang).contains_key(&key), "{}: {key}", lang.tag());
            }
        }
    }

    /// Every literal key the pages (`src/*.rs`: `t("…")`, `tr("…"`) and
    /// scripts (`assets/*.js`: `t("…")`) look up is in the catalogue.
    #[test]
    fn every_key_used_by_pages_and_scripts_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut checked = 0;
        for dir in ["src", "assets"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
                if ext != "rs" && ext != "js" {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for pattern in ["t(\"", "tr(\""] {
                    for (i, _) in text.match_indices(pattern) {
                        let before = text[..i].chars().next_back().unwrap_or(' ');
                        if before.is_alphanumeric() || before == '_' {
                            continue;
                        }
                        let rest = &text[i + pattern.len()..];
                        let key = &rest[..rest.find('"').unwrap()];
                        if !key.contains('.') || key.contains(' ') {
                            continue;
                        }
                        checked += 1;
                        assert!(
                            messages(Lang::En).contains_key(key),
                            "{}: {key:?} is not in the catalogue",
                            path.display()
                        );
                    }
                }
            }
        }
        assert!(
            checked > 100,
            "only {checked} keys found: is the scan broken?"
        );
    }

    #[test]
    fn tr_fills_placeholders() {
        let s = tr(Lang::En, "shell.pending_approvals", &[("count", "3")]);
        assert!(s.contains('3'), "{s}");
        assert!(!s.contains("{count}"));
    }
}
