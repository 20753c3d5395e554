//! The mask editor page, `GET /cameras/{id}/masks` (`masks.admin` on that
//! camera): the camera's live picture (the live view's player over the live
//! WebSocket, so what it shows is what live view shows) under an SVG overlay
//! where an administrator draws, moves and deletes polygons, a table of the
//! masks with their name, reason, kind, fill and scope, and Save, which sends
//! the whole list to `PUT /api/v1/cameras/{id}/masks`. All of it is done by
//! `masks.js`; this renders the page.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Html;
use axum::Extension;
use veil_access::Action;

use crate::auth::Session;
use crate::error::ApiError;
use crate::shell::Shell;
use crate::ui::escape;
use crate::AppState;

/// `GET /cameras/{id}/masks`.
pub async fn page(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    let cam = crate::api::authorized_camera(&state, &s, Action::MaskAdmin, &id).await?;
    let shell = Shell::new(
        &state,
        &s,
        &headers,
        &format!("/cameras/{}/masks", cam.id.0),
    )
    .await?;
    Ok(render(&shell, cam.id.0, &cam.name))
}

/// The page of camera `id` called `name`.
pub fn render(sh: &Shell, id: i64, name: &str) -> Html<String> {
    let t = |k| sh.t(k);
    let title = sh.tr("masks_editor.title", &[("name", name)]);
    let option =
        |value: &str, key: &str| format!("<option value=\"{value}\">{}</option>", sh.t(key));
    let mut content = String::new();
    let _ = write!(
        content,
        "<h1>{title}</h1>\n<p>{intro}</p>\n\
<p id=\"mask-ptz\" class=\"notice-box\" hidden>{ptz}</p>\n\
<div class=\"mask-editor\" id=\"mask-editor\" data-camera-id=\"{id}\">\n\
<div class=\"mask-stage\" id=\"mask-stage\">\n\
<video class=\"live\" data-camera-id=\"{id}\" muted autoplay playsinline aria-label=\"{video}\"></video>\n\
<svg id=\"mask-overlay\" class=\"mask-overlay\" role=\"group\" aria-label=\"{overlay}\" \
xmlns=\"http://www.w3.org/2000/svg\"></svg>\n\
</div>\n\
<p class=\"muted\"><span class=\"status\" data-status-for=\"{id}\" aria-live=\"polite\"></span></p>\n\
<div class=\"toolbar\" role=\"group\" aria-label=\"{tools}\">\n\
<button type=\"button\" id=\"mask-new\">{new}</button>\n\
<button type=\"button\" id=\"mask-close\" class=\"secondary\" disabled>{close}</button>\n\
<button type=\"button\" id=\"mask-cancel\" class=\"secondary\" disabled>{cancel}</button>\n\
<button type=\"button\" id=\"mask-rectangle\" class=\"secondary\">{rectangle}</button>\n\
</div>\n\
<p id=\"mask-hint\" class=\"muted hint\" aria-live=\"polite\">{hint}</p>\n\
<div class=\"toolbar\" role=\"group\" aria-label=\"{move_label}\" id=\"mask-move\">\n\
<span id=\"mask-selected\" aria-live=\"polite\"></span>\n\
<button type=\"button\" class=\"secondary\" data-move=\"-1,0\" title=\"{left}\">\
<span aria-hidden=\"true\">←</span><span class=\"visually-hidden\">{left}</span></button>\n\
<button type=\"button\" class=\"secondary\" data-move=\"1,0\" title=\"{right}\">\
<span aria-hidden=\"true\">→</span><span class=\"visually-hidden\">{right}</span></button>\n\
<button type=\"button\" class=\"secondary\" data-move=\"0,-1\" title=\"{up}\">\
<span aria-hidden=\"true\">↑</span><span class=\"visually-hidden\">{up}</span></button>\n\
<button type=\"button\" class=\"secondary\" data-move=\"0,1\" title=\"{down}\">\
<span aria-hidden=\"true\">↓</span><span class=\"visually-hidden\">{down}</span></button>\n\
</div>\n</div>\n\
<form id=\"mask-form\" class=\"card\" novalidate>\n<h2>{list}</h2>\n\
<div class=\"table-scroll\"><table class=\"report masks\" id=\"mask-table\">\n\
<thead><tr><th scope=\"col\">#</th><th scope=\"col\">{name_h}</th><th scope=\"col\">{reason_h}</th>\
<th scope=\"col\">{kind_h}</th><th scope=\"col\">{fill_h}</th><th scope=\"col\">{scope_h}</th>\
<th scope=\"col\">{points_h}</th><th scope=\"col\"><span class=\"visually-hidden\">{actions}</span></th></tr></thead>\n\
<tbody id=\"mask-rows\"></tbody></table></div>\n\
<p id=\"mask-empty\" class=\"muted\">{empty}</p>\n\
<template id=\"mask-choices\">\
<select data-field=\"kind\">{k1}{k2}</select>\
<select data-field=\"fill\">{f1}{f2}{f3}</select>\
<select data-field=\"scope\">{s1}{s2}{s3}</select>\
</template>\n\
<p><button type=\"submit\" id=\"mask-save\">{save}</button> \
<button type=\"button\" id=\"mask-reload\" class=\"secondary\">{reload}</button></p>\n\
<p id=\"mask-error\" class=\"error\" role=\"alert\" hidden></p>\n\
<p id=\"mask-version\" role=\"status\"></p>\n\
</form>\n",
        title = escape(&title),
        intro = t("masks_editor.intro"),
        ptz = t("masks_editor.ptz"),
        video = escape(&sh.tr("live.video_label", &[("name", name)])),
        overlay = t("masks_editor.overlay"),
        tools = t("masks_editor.tools"),
        new = t("masks_editor.new"),
        close = t("masks_editor.close"),
        cancel = t("masks_editor.cancel"),
        rectangle = t("masks_editor.rectangle"),
        hint = t("masks_editor.hint"),
        move_label = t("masks_editor.move"),
        left = t("masks_editor.move_left"),
        right = t("masks_editor.move_right"),
        up = t("masks_editor.move_up"),
        down = t("masks_editor.move_down"),
        list = t("masks_editor.list"),
        name_h = t("masks_editor.name"),
        reason_h = t("masks_editor.reason"),
        kind_h = t("masks_editor.kind"),
        fill_h = t("masks_editor.fill"),
        scope_h = t("masks_editor.scope"),
        points_h = t("masks_editor.points"),
        actions = t("common.actions"),
        empty = t("masks_editor.empty"),
        k1 = option("permanent", "masks_editor.kind_permanent"),
        k2 = option("liftable", "masks_editor.kind_liftable"),
        f1 = option("solid", "masks_editor.fill_solid"),
        f2 = option("pixelate", "masks_editor.fill_pixelate"),
        f3 = option("blur", "masks_editor.fill_blur"),
        s1 = option("all", "masks_editor.scope_all"),
        s2 = option("live_only", "masks_editor.scope_live_only"),
        s3 = option("recording_only", "masks_editor.scope_recording_only"),
        save = t("masks_editor.save"),
        reload = t("masks_editor.reload"),
    );
    sh.page(&title, "masks.js", &content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;
    use crate::shell::Permissions;

    #[test]
    fn the_editor_escapes_the_name_and_has_no_inline_script_or_style() {
        for lang in Lang::ALL {
            let sh = Shell::preview(lang, "eve", Permissions::default(), "/cameras/3/masks");
            let p = render(&sh, 3, "<script>alert(1)</script>").0;
            assert!(!p.contains("<script>alert"), "{p}");
            assert!(!p.contains("style="));
            assert!(p.contains("src=\"/static/masks.js\""));
            for id in [
                "mask-overlay",
                "mask-new",
                "mask-close",
                "mask-rows",
                "mask-save",
                "mask-error",
                "mask-version",
            ] {
                assert!(p.contains(&format!("id=\"{id}\"")), "{id}");
            }
            assert!(p.contains("class=\"live\" data-camera-id=\"3\""));
            assert!(p.contains(crate::i18n::t(lang, "masks_editor.close")));
        }
    }
}
