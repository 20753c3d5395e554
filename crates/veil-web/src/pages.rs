//! Page routes: thin wrappers that render `ui` pages.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;
use veil_access::{Action, Resource};

use crate::auth::Session;
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::shell::{theme_from, Shell};
use crate::{blocking, ui, AppState};

/// `/` → the camera list.
pub async fn index() -> Redirect {
    Redirect::to("/cameras")
}

/// The login page (public), in the browser's language.
pub async fn login(headers: HeaderMap) -> Html<String> {
    ui::login_page(Lang::choose(None, &headers), theme_from(&headers))
}

/// The account page (any signed-in user).
pub async fn account(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    state.authorize(&s, Action::OwnSession, Resource::System)?;
    let shell = Shell::new(&state, &s, &headers, "/account").await?;
    let roles: Vec<String> = s.subject.roles.iter().map(|r| r.name.clone()).collect();
    Ok(ui::account_page(&shell, &roles))
}

/// The camera list with live tiles. Someone who may read the access record
/// but not list cameras (an auditor) is sent to `/audit` instead; someone who
/// must first set a password, enrol a second factor or acknowledge the usage
/// policy is sent to `/account`.
pub async fn cameras(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sub = &s.subject;
    if sub.must_change_password || sub.second_factor_missing || !sub.policy_acknowledged {
        return Ok(Redirect::to("/account").into_response());
    }
    let audit = state.allowed(&s, Action::AuditRead, Resource::System);
    if audit && !state.allowed(&s, Action::ListCameras, Resource::System) {
        return Ok(Redirect::to("/audit").into_response());
    }
    state.authorize(&s, Action::ListCameras, Resource::System)?;
    let db = state.store.db.clone();
    let cams = blocking(move || Ok(db.cameras()?)).await?;
    let views: Vec<ui::CameraView> = cams
        .into_iter()
        .filter(|c| {
            state.allowed(
                &s,
                Action::LiveView,
                crate::api::camera_resource(c.id, Some(c)),
            )
        })
        .map(|c| ui::CameraView {
            id: c.id.0,
            name: c.name,
            group: c.group,
        })
        .collect();
    let shell = Shell::new(&state, &s, &headers, "/cameras").await?;
    Ok(ui::cameras_page(&shell, &views).into_response())
}

/// Static assets (public).
pub async fn asset(Path(name): Path<String>) -> Response {
    match ui::asset(&name) {
        Some((ctype, body)) => ([(header::CONTENT_TYPE, ctype)], body).into_response(),
        None => ApiError::not_found("no such asset").into_response(),
    }
}

/// The four-eyes settings page (user administrators).
pub async fn four_eyes_admin(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    state.authorize(&s, Action::UserAdmin, Resource::System)?;
    let approvable: Vec<&str> = crate::admin::APPROVABLE.iter().map(|a| a.id()).collect();
    let shell = Shell::new(&state, &s, &headers, "/admin/four-eyes").await?;
    Ok(ui::four_eyes_page(&shell, &approvable))
}

/// The camera settings page (administrators).
pub async fn camera_admin(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    state.authorize(&s, Action::CameraAdmin, Resource::System)?;
    let shell = Shell::new(&state, &s, &headers, "/admin/cameras").await?;
    Ok(ui::camera_admin_page(&shell))
}
