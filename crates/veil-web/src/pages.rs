//! Page routes: thin wrappers that render `ui` pages.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;
use veil_access::{Action, Resource};

use crate::auth::Session;
use crate::error::ApiError;
use crate::{blocking, ui, AppState};

/// `/` → the camera list.
pub async fn index() -> Redirect {
    Redirect::to("/cameras")
}

/// The login page (public).
pub async fn login() -> Html<String> {
    Html(ui::login_page())
}

/// The account page (any signed-in user).
pub async fn account(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Html<String>, ApiError> {
    state.authorize(&s, Action::OwnSession, Resource::System)?;
    Ok(Html(ui::account_page(&s.display_name)))
}

/// The camera list with live tiles. Someone who may read the access record
/// but not list cameras (an auditor) is sent to `/audit` instead; someone who
/// must first set a password, enrol a second factor or acknowledge the usage
/// policy is sent to `/account`.
pub async fn cameras(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
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
        })
        .collect();
    let camera_admin = state.allowed(&s, Action::CameraAdmin, Resource::System);
    Ok(Html(ui::cameras_page(
        &s.display_name,
        &views,
        audit,
        camera_admin,
    ))
    .into_response())
}

/// The playback page of one camera.
pub async fn playback(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Html<String>, ApiError> {
    let cam = crate::api::authorized_camera(&state, &s, Action::Playback, &id).await?;
    Ok(Html(ui::playback_page(
        &s.display_name,
        &ui::CameraView {
            id: cam.id.0,
            name: cam.name,
        },
        state.allowed(&s, Action::AuditRead, Resource::System),
    )))
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
) -> Result<Html<String>, ApiError> {
    state.authorize(&s, Action::UserAdmin, Resource::System)?;
    let approvable: Vec<(&str, &str)> = crate::admin::APPROVABLE
        .iter()
        .map(|a| (a.id(), a.describe()))
        .collect();
    Ok(Html(ui::four_eyes_page(&s.display_name, &approvable)))
}

/// The camera settings page (administrators).
pub async fn camera_admin(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Html<String>, ApiError> {
    state.authorize(&s, Action::CameraAdmin, Resource::System)?;
    Ok(Html(ui::camera_admin_page(&s.display_name)))
}
