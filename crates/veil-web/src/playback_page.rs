//! The playback page: `GET /playback?cameras=1,2&t=<RFC 3339>&span=<s>`.
//!
//! Up to [`MAX_CAMERAS`] cameras side by side on one timeline (recorded
//! runs, gaps, motion events, bookmarks), driven by one clock in
//! `timeline.js`. The query is the page's state, kept up to date by the
//! script, so a link opens the same cameras, time and zoom for anyone with
//! the same rights. Without `cameras` the page offers the cameras the user
//! may play back.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, Redirect};
use axum::Extension;
use veil_access::{Action, Resource};
use veil_base::Time90k;

use crate::api::{authorized_camera, camera_resource};
use crate::auth::Session;
use crate::error::ApiError;
use crate::shell::Shell;
use crate::ui::escape;
use crate::{blocking, AppState};

/// The most cameras played side by side.
pub const MAX_CAMERAS: usize = 4;
/// The narrowest timeline, in seconds (one hour).
pub const MIN_SPAN_S: i64 = 3600;
/// The widest timeline, in seconds (seven days).
pub const MAX_SPAN_S: i64 = 7 * 24 * 3600;

/// What the query asks for, checked.
#[derive(Debug, PartialEq, Eq)]
struct PageQuery {
    cameras: Vec<String>,
    t: Option<Time90k>,
    span_s: Option<i64>,
}

fn parse_query(q: &HashMap<String, String>) -> Result<PageQuery, ApiError> {
    let mut cameras: Vec<String> = Vec::new();
    if let Some(list) = q.get("cameras").filter(|v| !v.is_empty()) {
        for id in list.split(',') {
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) || id.len() > 18 {
                return Err(ApiError::bad_request(format!(
                    "cameras must be camera ids separated by commas, such as cameras=1,2; got {list:?}"
                )));
            }
            if cameras.iter().any(|c| c == id) {
                return Err(ApiError::bad_request(format!(
                    "camera {id} is listed twice"
                )));
            }
            cameras.push(id.to_string());
        }
    }
    if cameras.len() > MAX_CAMERAS {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_CAMERAS} cameras play side by side"
        )));
    }
    let t = match q.get("t").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(Time90k::parse_rfc3339(v).ok_or_else(|| {
            ApiError::bad_request(format!(
                "t must be an RFC 3339 time such as 2026-11-23T10:00:00Z, got {v:?}"
            ))
        })?),
    };
    let span_s = match q.get("span").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(s) if (MIN_SPAN_S..=MAX_SPAN_S).contains(&s) => Some(s),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "span must be a number of seconds from {MIN_SPAN_S} to {MAX_SPAN_S}, got {v:?}"
                )))
            }
        },
    };
    Ok(PageQuery { cameras, t, span_s })
}

/// `GET /cameras/{id}/playback`: the old address of one camera's playback,
/// sent on to `/playback?cameras={id}` (authorised like the page).
pub async fn redirect_one(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Redirect, ApiError> {
    let cam = authorized_camera(&state, &s, Action::Playback, &id).await?;
    Ok(Redirect::to(&format!("/playback?cameras={}", cam.id.0)))
}

/// `GET /playback`: the page. Every camera named needs playback (403 or 404
/// like the API, before anything is shown); without cameras, the picker
/// lists those the user may play back (403 when there are none).
pub async fn page(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    let query = parse_query(&q)?;
    let mut chosen = Vec::new();
    for id in &query.cameras {
        chosen.push(authorized_camera(&state, &s, Action::Playback, id).await?);
    }
    let db = state.store.db.clone();
    let all = blocking(move || Ok(db.cameras()?)).await?;
    let playable: Vec<_> = if state.allowed(&s, Action::ListCameras, Resource::System) {
        all.into_iter()
            .filter(|c| state.allowed(&s, Action::Playback, camera_resource(c.id, Some(c))))
            .collect()
    } else {
        Vec::new()
    };
    if chosen.is_empty() && playable.is_empty() {
        return Err(ApiError::forbidden(
            "no camera may be played back with your roles",
        ));
    }
    let shell = Shell::new(&state, &s, &headers, "/playback").await?;
    // Bookmarks: seen on a lane, and made, only where the roles allow.
    let may = |a: Action, c: &veil_store::db::CameraRow| {
        state.allowed(&s, a, camera_resource(c.id, Some(c)))
    };
    let creatable: Vec<_> = chosen
        .iter()
        .filter(|c| may(Action::BookmarkCreate, c))
        .collect();
    let ids: Vec<String> = chosen.iter().map(|c| c.id.0.to_string()).collect();
    let mut h = String::new();
    let _ = write!(
        h,
        "<div id=\"playback\" class=\"playback-page\" data-cameras=\"{}\" data-t=\"{}\" \
data-span=\"{}\" data-min-span=\"{MIN_SPAN_S}\" data-max-span=\"{MAX_SPAN_S}\" \
data-max-cameras=\"{MAX_CAMERAS}\">\n<h1>{}</h1>\n",
        ids.join(","),
        query.t.map(|t| t.to_rfc3339()).unwrap_or_default(),
        query.span_s.map(|s| s.to_string()).unwrap_or_default(),
        shell.t("playback.title"),
    );
    // The camera picker: open when no camera is chosen yet.
    let _ = write!(
        h,
        "<details class=\"camera-picker\" id=\"camera-picker\"{}>\n<summary>{}</summary>\n\
<form id=\"camera-form\"><fieldset><legend>{}</legend>\n<ul class=\"picker-list\">",
        if chosen.is_empty() { " open" } else { "" },
        shell.t("playback.cameras"),
        escape(&shell.tr(
            "playback.pick_cameras",
            &[("max", &MAX_CAMERAS.to_string())]
        )),
    );
    for c in &playable {
        let checked = if chosen.iter().any(|x| x.id == c.id) {
            " checked"
        } else {
            ""
        };
        let _ = write!(
            h,
            "<li><label><input type=\"checkbox\" name=\"camera\" value=\"{id}\"{checked}> {name}</label></li>",
            id = c.id.0,
            name = escape(&c.name),
        );
    }
    let _ = write!(
        h,
        "</ul>\n<button type=\"submit\" id=\"camera-apply\">{}</button>\n\
<p class=\"error\" id=\"camera-error\" role=\"alert\" hidden></p>\n</fieldset></form>\n</details>\n",
        shell.t("playback.show_cameras"),
    );
    if chosen.is_empty() {
        h.push_str("</div>\n");
        return Ok(shell.page(shell.t("playback.title"), "timeline.js", &h));
    }
    // Players, one per camera.
    let _ = writeln!(
        h,
        "<div class=\"players players-{}\" id=\"players\">",
        chosen.len()
    );
    for c in &chosen {
        let name = escape(&c.name);
        let _ = writeln!(
            h,
            "<figure class=\"player\" data-camera-id=\"{id}\" data-name=\"{name}\">\
<div class=\"player-frame\"><video class=\"playback-video\" muted playsinline preload=\"auto\" \
aria-label=\"{label}\"></video>\
<p class=\"no-recording\" hidden>{none}</p></div>\
<figcaption>{name} <span class=\"player-state\" aria-live=\"polite\"></span></figcaption></figure>",
            id = c.id.0,
            label = escape(&shell.tr("playback.video_label", &[("name", &c.name)])),
            none = shell.t("playback.no_recording"),
        );
    }
    h.push_str("</div>\n");
    // Controls.
    let button = |h: &mut String, id: &str, key: &str, text: &str| {
        let _ = write!(
            h,
            "<button type=\"button\" id=\"{id}\" class=\"secondary\" title=\"{title}\" \
aria-label=\"{title}\">{text}</button>",
            title = escape(shell.t(key)),
        );
    };
    h.push_str("<div class=\"playback-controls\" role=\"toolbar\" aria-label=\"");
    h.push_str(&escape(shell.t("playback.controls")));
    h.push_str("\">\n");
    button(&mut h, "prev-recording", "playback.prev_recording", "|◀◀");
    button(&mut h, "step-back", "playback.step_back", "◀|");
    let _ = write!(
        h,
        "<button type=\"button\" id=\"play-pause\" aria-pressed=\"false\">{}</button>",
        shell.t("playback.play")
    );
    button(&mut h, "step-forward", "playback.step_forward", "|▶");
    button(&mut h, "next-recording", "playback.next_recording", "▶▶|");
    let _ = write!(
        h,
        "<label for=\"speed\">{}</label><select id=\"speed\">",
        shell.t("playback.speed")
    );
    for (v, label) in [
        ("0.25", "0.25×"),
        ("0.5", "0.5×"),
        ("1", "1×"),
        ("2", "2×"),
        ("4", "4×"),
        ("8", "8×"),
    ] {
        let sel = if v == "1" { " selected" } else { "" };
        let _ = write!(h, "<option value=\"{v}\"{sel}>{label}</option>");
    }
    h.push_str("</select>\n");
    h.push_str(
        "<output id=\"playhead-time\" class=\"playhead-time\" aria-live=\"off\"></output>\n",
    );
    button(&mut h, "zoom-in", "playback.zoom_in", "+");
    button(&mut h, "zoom-out", "playback.zoom_out", "−");
    h.push_str("<span id=\"span-label\" class=\"muted\"></span>\n");
    if !creatable.is_empty() {
        let _ = writeln!(
            h,
            "<button type=\"button\" id=\"bookmark-button\" class=\"secondary\">{}</button>",
            shell.t("playback.bookmark")
        );
    }
    h.push_str("</div>\n");
    // The bookmark form.
    let _ = write!(
        h,
        "<form id=\"bookmark-form\" class=\"bookmark-form\" hidden>\n\
<p id=\"bookmark-range\"></p>\n\
<label for=\"bookmark-camera\">{cam}</label><select id=\"bookmark-camera\">",
        cam = shell.t("playback.bookmark_camera"),
    );
    for c in &creatable {
        let _ = write!(
            h,
            "<option value=\"{}\">{}</option>",
            c.id.0,
            escape(&c.name)
        );
    }
    let _ = write!(
        h,
        "</select>\n<label for=\"bookmark-note\">{note}</label>\
<input id=\"bookmark-note\" maxlength=\"500\" required>\n\
<button type=\"button\" id=\"bookmark-end\" class=\"secondary\">{end}</button>\n\
<button type=\"submit\" id=\"bookmark-save\">{save}</button>\n\
<button type=\"button\" id=\"bookmark-cancel\" class=\"secondary\">{cancel}</button>\n\
</form>\n",
        note = shell.t("playback.bookmark_note"),
        end = shell.t("playback.bookmark_end_here"),
        save = shell.t("playback.bookmark_save"),
        cancel = shell.t("playback.bookmark_cancel"),
    );
    let _ = write!(
        h,
        "<p class=\"error\" id=\"playback-error\" role=\"alert\" hidden></p>\n\
<p class=\"muted\" id=\"timeline-hint\">{}</p>\n\
<div class=\"timeline\" id=\"timeline\">\n\
<div class=\"timeline-axis\" id=\"timeline-axis\" aria-hidden=\"true\"></div>\n",
        shell.t("playback.timeline_hint"),
    );
    for c in &chosen {
        let _ = writeln!(
            h,
            "<div class=\"lane\" data-camera-id=\"{id}\" data-bookmarks=\"{bm}\">\
<span class=\"lane-label\">{name}</span>\
<div class=\"lane-track\" tabindex=\"0\" role=\"slider\" aria-label=\"{label}\" \
aria-valuemin=\"0\" aria-valuemax=\"100\" aria-valuenow=\"50\"></div></div>",
            id = c.id.0,
            bm = if may(Action::BookmarkView, c) {
                "1"
            } else {
                ""
            },
            name = escape(&c.name),
            label = escape(&shell.tr("playback.lane_label", &[("name", &c.name)])),
        );
    }
    let _ = write!(
        h,
        "<p class=\"muted timeline-status\" id=\"timeline-status\" aria-live=\"polite\"></p>\n\
</div>\n<ul class=\"timeline-legend\" aria-label=\"{legend}\">\
<li><span class=\"swatch run\"></span>{rec}</li>\
<li><span class=\"swatch gap\"></span>{gap}</li>\
<li><span class=\"swatch motion\"></span>{motion}</li>\
<li><span class=\"swatch bookmark\"></span>{bm}</li></ul>\n</div>\n",
        legend = escape(shell.t("playback.legend")),
        rec = shell.t("playback.legend_recorded"),
        gap = shell.t("playback.legend_gap"),
        motion = shell.t("playback.legend_motion"),
        bm = shell.t("playback.legend_bookmark"),
    );
    Ok(shell.page(shell.t("playback.title"), "timeline.js", &h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_query_is_checked() {
        let ok = parse_query(&q(&[
            ("cameras", "1,22"),
            ("t", "2026-11-23T10:00:00.5Z"),
            ("span", "3600"),
        ]))
        .unwrap();
        assert_eq!(ok.cameras, ["1", "22"]);
        assert_eq!(
            ok.t.unwrap().to_rfc3339(),
            Time90k::parse_rfc3339("2026-11-23T10:00:00.5Z")
                .unwrap()
                .to_rfc3339()
        );
        assert_eq!(ok.span_s, Some(3600));
        assert_eq!(parse_query(&q(&[])).unwrap().cameras.len(), 0);
        for bad in [
            ("cameras", "1,,2"),
            ("cameras", "1,x"),
            ("cameras", "-1"),
            ("cameras", "1,1"),
            ("cameras", "1,2,3,4,5"),
            ("t", "yesterday"),
            ("span", "3599"),
            ("span", "604801"),
            ("span", "1h"),
        ] {
            let e = parse_query(&q(&[bad])).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{bad:?}");
        }
        assert!(parse_query(&q(&[("span", "604800")])).is_ok());
    }
}
