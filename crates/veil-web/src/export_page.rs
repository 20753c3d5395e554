//! `GET /exports`: the export wizard (`docs/design/export.md`, "Export
//! wizard").
//!
//! One page in four steps: the cameras the user may export and the interval
//! (UTC) with excluded intervals, and, for a user with `masks.lift` on one
//! of them, the original rendition with its justification; the requesting
//! party and the reasons (the legal basis and safeguards appear for a
//! country outside the EEA); the protection of the package (a generated
//! passphrase, the user's own, recipients' public keys, or, with
//! `export.unencrypted`, none); then the export's progress, the generated
//! passphrase shown once and the download. Below, the user's own exports.
//! The page is server-rendered here; `assets/exports.js` drives the steps
//! and talks to `/api/v1/exports`.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Html;
use axum::Extension;
use veil_access::{Action, Resource};
use veil_store::db::CameraRow;

use crate::auth::Session;
use crate::error::ApiError;
use crate::ui::escape;
use crate::{blocking, AppState};

/// The ISO 3166-1 alpha-2 codes of the European Economic Area, as the
/// register's checker knows them ([`crate::disclosures::in_eea`]), for the
/// page to show the transfer fields when a country is outside it.
fn eea_codes() -> Vec<String> {
    let mut codes = Vec::new();
    for a in b'A'..=b'Z' {
        for b in b'A'..=b'Z' {
            let code = String::from_utf8(vec![a, b]).unwrap_or_default();
            if crate::disclosures::in_eea(&code) {
                codes.push(code);
            }
        }
    }
    codes
}

/// The cameras `s` may export, in the store's order.
fn exportable(state: &AppState, s: &Session, cams: Vec<CameraRow>) -> Vec<CameraRow> {
    cams.into_iter()
        .filter(|c| {
            state.allowed(
                s,
                Action::Export,
                crate::api::camera_resource(c.id, Some(c)),
            )
        })
        .collect()
}

/// The choices beyond the protected, encrypted export that the user's
/// permissions open on the page.
#[derive(Clone, Copy, Debug, Default)]
struct Choices {
    /// `masks.lift` on at least one exportable camera: the original
    /// rendition (the lift path) with its justification.
    original: bool,
    /// `export.unencrypted`: a package handed over in the clear.
    unencrypted: bool,
}

fn choices(state: &AppState, s: &Session, cams: &[CameraRow]) -> Choices {
    Choices {
        original: cams.iter().any(|c| {
            state.allowed(
                s,
                Action::LiftMasks,
                crate::api::camera_resource(c.id, Some(c)),
            )
        }),
        unencrypted: state.allowed(s, Action::ExportUnencrypted, Resource::System),
    }
}

/// `GET /exports`: the export wizard and the user's exports.
pub async fn page(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    let db = state.store.db.clone();
    let cams = exportable(&state, &s, blocking(move || Ok(db.cameras()?)).await?);
    if cams.is_empty() {
        // The same refusal (and its log line) as any other action refused.
        state.authorize(&s, Action::Export, Resource::System)?;
        return Err(ApiError::forbidden("export needs at least one camera"));
    }
    let choices = choices(&state, &s, &cams);
    let shell = crate::shell::Shell::new(&state, &s, &headers, "/exports").await?;
    Ok(shell.page(
        shell.t("exports.title"),
        "exports.js",
        &content(&shell, &cams, choices),
    ))
}

/// The page's content (escaped HTML) in the shell's language.
/// The original rendition and the unencrypted protection appear only for
/// the `choices` the user's permissions open.
fn content(shell: &crate::shell::Shell, cams: &[CameraRow], choices: Choices) -> String {
    let t = |k: &str| escape(shell.t(k));
    let mut boxes = String::new();
    for c in cams {
        let _ = write!(
            boxes,
            "<label class=\"check\"><input type=\"checkbox\" name=\"cameras\" value=\"{id}\" \
id=\"export-camera-{id}\"> {name}</label>",
            id = c.id.0,
            name = escape(&c.name)
        );
    }
    let step = |n: u8, key: &str| {
        format!(
            "<li data-step=\"{n}\"{current}>{label}</li>",
            current = if n == 1 { " aria-current=\"step\"" } else { "" },
            label = t(key)
        )
    };
    let original = if choices.original {
        format!(
            r#"<fieldset id="export-rendition"><legend>{legend}</legend>
<label class="check"><input type="checkbox" name="original" id="export-original" aria-describedby="export-original-hint"> {label}</label>
<p class="hint" id="export-original-hint">{hint}</p>
<div id="export-justification-box" hidden>
<label for="export-justification">{justification}</label><textarea id="export-justification" name="justification" maxlength="2000"></textarea>
</div></fieldset>
"#,
            legend = t("exports.rendition"),
            label = t("exports.original"),
            hint = t("exports.original_hint"),
            justification = t("exports.justification"),
        )
    } else {
        String::new()
    };
    let unencrypted = if choices.unencrypted {
        format!(
            r#"<label class="check"><input type="radio" name="protection" value="none" id="export-protection-none" aria-describedby="export-none-hint"> {label}</label>
<p class="hint" id="export-none-hint"><strong>{hint}</strong></p>
"#,
            label = t("exports.protection.none"),
            hint = t("exports.protection.none_hint"),
        )
    } else {
        String::new()
    };
    let steps = [
        step(1, "exports.step.recordings"),
        step(2, "exports.step.requester"),
        step(3, "exports.step.protection"),
        step(4, "exports.step.progress"),
    ]
    .concat();
    format!(
        r#"<h1>{title}</h1><p class="lede">{intro}</p>
<section aria-labelledby="wizard-h" class="export-wizard"><h2 id="wizard-h" class="visually-hidden">{title}</h2>
<ol class="steps" id="export-steps">{steps}</ol>
<form id="export-form" data-eea="{eea}" novalidate>
<p id="export-error" class="error" role="alert" hidden></p>
<fieldset class="export-step" id="export-step-1" data-step="1"><legend>{s1}</legend>
<fieldset><legend>{cameras}</legend><div id="export-cameras" class="checks">{boxes}</div></fieldset>
<p class="hint">{utc_hint}</p>
<div class="range">
<div class="field"><label for="export-start">{start}</label><input id="export-start" name="start" type="datetime-local" step="1" required></div>
<div class="field"><label for="export-end">{end}</label><input id="export-end" name="end" type="datetime-local" step="1" required></div>
</div>
<fieldset><legend>{excluded}</legend><p class="hint">{excluded_hint}</p>
<ol id="export-excludes" class="excludes"></ol>
<button type="button" class="secondary" id="export-add-exclude">{add_exclude}</button></fieldset>
{original}<div class="wizard-actions"><button type="button" id="export-next-1" data-next="2">{next}</button></div>
</fieldset>
<fieldset class="export-step" id="export-step-2" data-step="2" hidden><legend>{s2}</legend>
<label for="export-name">{name}</label><input id="export-name" name="name" maxlength="200" required>
<label for="export-title">{rtitle}</label><input id="export-title" name="title" maxlength="200" required>
<label for="export-organisation">{organisation}</label><input id="export-organisation" name="organisation" maxlength="200" required>
<label for="export-country">{country}</label><input id="export-country" name="country" maxlength="2" size="3" autocomplete="off" aria-describedby="export-country-hint" required>
<p class="hint" id="export-country-hint">{country_hint}</p>
<div id="export-transfer" hidden>
<p class="hint">{outside_hint}</p>
<label for="export-legal-basis">{legal}</label><input id="export-legal-basis" name="legal_basis" maxlength="2000">
<label for="export-safeguards">{safeguards}</label><textarea id="export-safeguards" name="safeguards" maxlength="2000"></textarea>
</div>
<label for="export-reason">{reason}</label><textarea id="export-reason" name="reason" minlength="10" maxlength="2000" required></textarea>
<label for="export-grant-reason">{grant}</label><textarea id="export-grant-reason" name="grant_reason" maxlength="2000"></textarea>
<label for="export-content">{content_label}</label><textarea id="export-content" name="content" maxlength="2000"></textarea>
<div class="wizard-actions"><button type="button" class="secondary" data-next="1">{back}</button>
<button type="button" id="export-next-2" data-next="3">{next}</button></div>
</fieldset>
<fieldset class="export-step" id="export-step-3" data-step="3" hidden><legend>{s3}</legend>
<fieldset><legend>{protection}</legend>
<label class="check"><input type="radio" name="protection" value="generated" id="export-protection-generated" checked> {generated}</label>
<label class="check"><input type="radio" name="protection" value="passphrase" id="export-protection-passphrase"> {own}</label>
<label class="check"><input type="radio" name="protection" value="recipients" id="export-protection-recipients"> {recipients}</label>
{unencrypted}</fieldset>
<div id="export-own-passphrase" hidden>
<label for="export-passphrase">{passphrase}</label><input id="export-passphrase" name="passphrase" type="password" autocomplete="new-password">
</div>
<div id="export-recipient-keys" hidden>
<label for="export-recipients">{keys}</label><textarea id="export-recipients" name="recipients" rows="4" aria-describedby="export-recipients-hint"></textarea>
<p class="hint" id="export-recipients-hint">{keys_hint}</p>
</div>
<label for="export-expires-days">{expires_days}</label><input id="export-expires-days" name="expires_days" type="number" min="1" max="90" value="30" required>
<div class="wizard-actions"><button type="button" class="secondary" data-next="2">{back}</button>
<button type="submit" id="export-submit">{submit}</button></div>
</fieldset>
</form>
<section class="export-step" id="export-step-4" data-step="4" aria-labelledby="progress-h" hidden>
<h3 id="progress-h">{s4}</h3>
<p><progress id="export-progress" max="100" value="0" aria-labelledby="progress-h"></progress>
<span id="export-percent">0 %</span></p>
<p id="export-state" role="status" aria-live="polite"></p>
<div id="export-passphrase-box" class="notice-box" hidden>
<p><strong>{shown_once}</strong></p>
<p><code id="export-generated-passphrase"></code></p>
</div>
<p><a id="export-download" hidden>{download}</a></p>
<button type="button" class="secondary" id="export-again">{again}</button>
</section>
</section>
<section aria-labelledby="list-h"><h2 id="list-h">{list}</h2>
<p id="export-list-error" class="error" role="alert" hidden></p>
<div class="table-scroll"><table id="export-table" class="report"><thead><tr>
<th scope="col">{package}</th><th scope="col">{state}</th><th scope="col">{size}</th>
<th scope="col">SHA-256</th><th scope="col">{expires}</th><th scope="col">{download_col}</th>
</tr></thead><tbody id="export-rows"></tbody></table></div></section>
"#,
        title = t("exports.title"),
        intro = t("exports.intro"),
        eea = eea_codes().join(" "),
        s1 = t("exports.step.recordings"),
        cameras = t("exports.cameras"),
        utc_hint = t("exports.utc_hint"),
        start = t("exports.start"),
        end = t("exports.end"),
        excluded = t("exports.excluded"),
        excluded_hint = t("exports.excluded_hint"),
        add_exclude = t("exports.add_exclude"),
        next = t("exports.next"),
        back = t("exports.back"),
        s2 = t("exports.step.requester"),
        name = t("exports.requester.name"),
        rtitle = t("exports.requester.title"),
        organisation = t("exports.requester.organisation"),
        country = t("exports.requester.country"),
        country_hint = t("exports.country_hint"),
        outside_hint = t("exports.outside_hint"),
        legal = t("exports.legal_basis"),
        safeguards = t("exports.safeguards"),
        reason = t("exports.reason"),
        grant = t("exports.grant_reason"),
        content_label = t("exports.content"),
        s3 = t("exports.step.protection"),
        protection = t("exports.protection"),
        generated = t("exports.protection.generated"),
        own = t("exports.protection.passphrase"),
        recipients = t("exports.protection.recipients"),
        passphrase = t("exports.passphrase"),
        keys = t("exports.recipients"),
        keys_hint = t("exports.recipients_hint"),
        submit = t("exports.submit"),
        expires_days = t("exports.expires_days"),
        s4 = t("exports.step.progress"),
        shown_once = t("exports.passphrase_once"),
        download = t("exports.download"),
        again = t("exports.again"),
        list = t("exports.list"),
        package = t("exports.package"),
        state = t("exports.state"),
        size = t("exports.size"),
        expires = t("exports.expires"),
        download_col = t("exports.download_col"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;
    use crate::shell::{Permissions, Shell};
    use veil_base::CameraId;

    #[test]
    fn eea_has_its_thirty_states() {
        let codes = eea_codes();
        assert_eq!(codes.len(), 30);
        for c in ["PT", "IS", "LI", "NO"] {
            assert!(codes.iter().any(|x| x == c), "{c}");
        }
        assert!(!codes.iter().any(|x| x == "GB" || x == "CH"));
    }

    #[test]
    fn the_page_lists_cameras_escaped_and_every_step() {
        let shell = Shell::preview(Lang::En, "ivo", Permissions::default(), "/exports");
        let cam = CameraRow {
            id: CameraId(7),
            name: "<Gate>".into(),
            source_kind: "synthetic".into(),
            source_config: "{}".into(),
            group: None,
        };
        let html = content(&shell, &[cam], Choices::default());
        assert!(html.contains("id=\"export-camera-7\""));
        assert!(html.contains("&lt;Gate&gt;"));
        for n in 1..=4 {
            assert!(html.contains(&format!("id=\"export-step-{n}\"")), "{n}");
        }
        assert!(html.contains("<progress id=\"export-progress\" max=\"100\""));
        assert!(html.contains("data-eea=\"AT BE"));
        assert!(!html.contains("style="));
        // Neither the original nor the unencrypted package without the
        // permissions that open them.
        assert!(!html.contains("export-original"));
        assert!(!html.contains("export-justification"));
        assert!(!html.contains("value=\"none\""));
    }

    #[test]
    fn the_original_and_no_encryption_appear_with_their_permissions() {
        let shell = Shell::preview(Lang::En, "ivo", Permissions::default(), "/exports");
        let cam = CameraRow {
            id: CameraId(1),
            name: "Gate".into(),
            source_kind: "synthetic".into(),
            source_config: "{}".into(),
            group: None,
        };
        let only = |original, unencrypted| {
            content(
                &shell,
                std::slice::from_ref(&cam),
                Choices {
                    original,
                    unencrypted,
                },
            )
        };
        let lift = only(true, false);
        assert!(lift.contains("id=\"export-original\""));
        assert!(lift.contains("<textarea id=\"export-justification\" name=\"justification\""));
        assert!(lift.contains("<div id=\"export-justification-box\" hidden>"));
        assert!(!lift.contains("id=\"export-protection-none\""));
        let clear = only(false, true);
        assert!(clear.contains(
            "<input type=\"radio\" name=\"protection\" value=\"none\" id=\"export-protection-none\""
        ));
        assert!(clear.contains("id=\"export-none-hint\""));
        assert!(!clear.contains("export-original"));
        // The original's choice sits in step 1, no encryption in step 3.
        let both = only(true, true);
        let step = |n: u8| both.find(&format!("id=\"export-step-{n}\"")).unwrap_or(0);
        let at = |id: &str| both.find(id).unwrap_or(0);
        assert!(step(1) < at("id=\"export-original\"") && at("id=\"export-original\"") < step(2));
        assert!(
            step(3) < at("id=\"export-protection-none\"")
                && at("id=\"export-protection-none\"") < step(4)
        );
    }
}
