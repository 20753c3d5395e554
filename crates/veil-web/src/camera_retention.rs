//! A camera's retention per rendition: `GET` and `PUT
//! /api/v1/cameras/{id}/retention` (permission `retention.admin`).
//!
//! The effective retention of a rendition is the camera's own rule if it has
//! one, else 48 hours for a public-facing camera, else the installation's
//! (`veil_store::retention_rule`). A change is checked whole (at least 1
//! hour, at most the installation's maximum, over 30 days only with a
//! justification of at least 10 characters; a 400 names the field and
//! changes nothing), recorded in the access record (`config.retention`,
//! resource `camera:ID`, old and new hours), and only then stored, in one
//! transaction.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use veil_access::{Action, Resource};
use veil_audit::{Action as Audited, Event};
use veil_base::CameraId;
use veil_store::db::RetentionChange;
use veil_store::retention_rule::{self as rule, CameraRetention};
use veil_store::{MAIN_RENDITION, ORIGINAL_RENDITION, PROTECTED_RENDITION};

use crate::auth::Session;
use crate::error::{json_body, ApiError};
use crate::{blocking, AppState};

/// The renditions a rule is set for (any other is refused): `main`, what
/// everyone sees (recorded as `main`, or as `protected` once the camera has
/// masks: masks never change how long video is kept), and `original`, the
/// picture under a masked camera's liftable masks, never kept longer than
/// `main`.
pub const RENDITIONS: [&str; 2] = [MAIN_RENDITION, ORIGINAL_RENDITION];
/// The installation's retention when the server never stored one: 7 days.
pub(crate) const DEFAULT_INSTALLATION_HOURS: u32 = 7 * 24;

/// A camera's retention, per rendition.
#[derive(Serialize, ToSchema)]
pub struct CameraRetentionView {
    /// The camera's id.
    camera: i64,
    /// The camera's area (`public_facing` shortens the default to 48 hours).
    area: String,
    /// The installation's retention in hours (`retention_hours`).
    installation_hours: u32,
    /// The longest retention that may be set, in hours.
    max_hours: u32,
    /// Above this many hours a justification is required (30 days).
    max_unjustified_hours: u32,
    /// Per rendition: `main` (what everyone sees, masked or not) and
    /// `original`.
    renditions: BTreeMap<String, RenditionRetention>,
}

/// The retention of one rendition.
#[derive(Serialize, ToSchema)]
pub struct RenditionRetention {
    /// The retention in force, in hours.
    hours: u32,
    /// Where it comes from: `camera` (its own rule), `area` (public-facing:
    /// 48 hours), `installation`, or for `original` `masks` (its shorter
    /// default, `[masks] original_retention_hours`).
    #[schema(pattern = "^(camera|area|installation|masks)$")]
    source: String,
    /// Why the camera's own rule is that long; `null` when none was given.
    justification: Option<String>,
    /// When the camera's own rule was set, RFC 3339; `null` without one.
    updated_at: Option<String>,
}

/// The body of `PUT /api/v1/cameras/{id}/retention`: per rendition, the
/// camera's own rule, or `null` to remove it (back to the area's or the
/// installation's). Renditions left out are unchanged.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionRequest {
    /// `{"main": {"hours": 72, "justification": null}}`; `{"main": null}`
    /// removes the camera's own rule.
    #[schema(value_type = BTreeMap<String, RuleRequest>)]
    renditions: BTreeMap<String, Option<RuleRequest>>,
}

/// One rendition's rule.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleRequest {
    /// At least 1, at most the installation's maximum (`max_hours`).
    #[schema(minimum = 1)]
    hours: i64,
    /// Required (at least 10 characters) above 720 hours.
    #[serde(default)]
    justification: Option<String>,
}

/// The installation's retention and maximum, as the server stored them.
fn installation(state: &AppState) -> Result<(u32, u32), ApiError> {
    let read = |key: &str, default: u32| -> Result<u32, ApiError> {
        Ok(state
            .store
            .db
            .setting(key)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(default))
    };
    Ok((
        read(rule::INSTALLATION_SETTING, DEFAULT_INSTALLATION_HOURS)?,
        read(rule::MAX_SETTING, rule::DEFAULT_MAX_HOURS)?,
    ))
}

/// The view of a camera's retention, read in one go.
fn view(state: &AppState, camera: CameraId) -> Result<CameraRetentionView, ApiError> {
    let (installation_hours, max_hours) = installation(state)?;
    let area = state
        .store
        .db
        .camera_area(camera)?
        .ok_or_else(|| ApiError::not_found(format!("no camera {}", camera.0)))?;
    let own: Vec<CameraRetention> = state.store.db.camera_retention(camera)?;
    // The rules retention runs with (the original's shorter default too).
    let rules = state.store.db.retention_rules(installation_hours)?;
    let renditions = RENDITIONS
        .iter()
        .map(|r| {
            let row = own.iter().find(|o| o.rendition == *r);
            let e = rules.effective(camera, r);
            (
                (*r).to_owned(),
                RenditionRetention {
                    hours: e.hours,
                    source: e.source.as_str().into(),
                    justification: row
                        .filter(|o| !o.justification.is_empty())
                        .map(|o| o.justification.clone()),
                    updated_at: row.map(|o| o.updated_90k.to_rfc3339()),
                },
            )
        })
        .collect();
    Ok(CameraRetentionView {
        camera: camera.0,
        area,
        installation_hours,
        max_hours,
        max_unjustified_hours: rule::MAX_UNJUSTIFIED_HOURS,
        renditions,
    })
}

/// Authorises `retention.admin`, then finds the camera (not deleted).
async fn camera(state: &AppState, s: &Session, raw: &str) -> Result<CameraId, ApiError> {
    state.authorize(s, Action::RetentionAdmin, Resource::System)?;
    let id: i64 = raw
        .parse()
        .map_err(|_| ApiError::not_found(format!("no camera {raw:?}")))?;
    let db = state.store.db.clone();
    let cams = blocking(move || Ok(db.cameras()?)).await?;
    cams.into_iter()
        .find(|c| c.id == CameraId(id))
        .map(|c| c.id)
        .ok_or_else(|| ApiError::not_found(format!("no camera {id}")))
}

/// `GET /api/v1/cameras/{id}/retention`: the retention of each rendition,
/// where it comes from, and the justification.
pub async fn get(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CameraRetentionView>, ApiError> {
    let id = camera(&state, &s, &id).await?;
    let st = state.clone();
    Ok(Json(blocking(move || view(&st, id)).await?))
}

/// Checks a request whole: the changes to store, or a 400 naming the field.
fn validate(
    req: RetentionRequest,
    max_hours: u32,
) -> Result<Vec<(String, RetentionChange)>, ApiError> {
    if req.renditions.is_empty() {
        return Err(ApiError::bad_request(
            "renditions must name at least one rendition, e.g. {\"main\": {\"hours\": 72}}",
        ));
    }
    let mut changes = Vec::new();
    for (rendition, r) in req.renditions {
        if rendition == PROTECTED_RENDITION {
            return Err(ApiError::bad_request(
                "renditions.protected: set `main`: it is the rule of what everyone sees, \
                 masked (`protected`) or not",
            ));
        }
        if !RENDITIONS.contains(&rendition.as_str()) {
            return Err(ApiError::bad_request(format!(
                "renditions.{rendition}: no such rendition (cameras record {RENDITIONS:?})"
            )));
        }
        let change = match r {
            None => RetentionChange::Default,
            Some(r) => {
                let justification = rule::check(r.hours, r.justification.as_deref(), max_hours)
                    .map_err(|e| {
                        ApiError::bad_request(format!(
                            "renditions.{rendition}.{}: {}",
                            e.field, e.message
                        ))
                    })?;
                RetentionChange::Set {
                    hours: r.hours as u32,
                    justification,
                }
            }
        };
        changes.push((rendition, change));
    }
    Ok(changes)
}

/// `PUT /api/v1/cameras/{id}/retention`: sets or removes the camera's own
/// rules. Each change is recorded before it is stored; all or nothing.
pub async fn put(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    req: Result<Json<RetentionRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<CameraRetentionView>, ApiError> {
    let id = camera(&state, &s, &id).await?;
    let req = json_body(req)?;
    let st = state.clone();
    let before = blocking(move || view(&st, id)).await?;
    let changes = validate(req, before.max_hours)?;
    // The original is never kept longer than what everyone sees.
    let change_of = |r: &str| changes.iter().find(|(n, _)| n == r).map(|(_, c)| c);
    let view_hours = match change_of(MAIN_RENDITION) {
        Some(RetentionChange::Set { hours, .. }) => *hours,
        Some(RetentionChange::Default) => {
            rule::effective(before.installation_hours, &before.area, None).hours
        }
        None => before.renditions[MAIN_RENDITION].hours,
    };
    if let Some(RetentionChange::Set { hours, .. }) = change_of(ORIGINAL_RENDITION) {
        if *hours > view_hours {
            return Err(ApiError::bad_request(format!(
                "renditions.original.hours: at most {view_hours}: the unmasked original is \
                 never kept longer than what everyone sees (main)"
            )));
        }
    }
    for (rendition, change) in &changes {
        let old = &before.renditions[rendition];
        let (hours, source, justification) = match change {
            RetentionChange::Set {
                hours,
                justification,
            } => (*hours, "camera", justification.as_str()),
            RetentionChange::Default => {
                let e = rule::effective(before.installation_hours, &before.area, None);
                (e.hours, e.source.as_str(), "")
            }
        };
        if old.source == source
            && old.hours == hours
            && old.justification.as_deref().unwrap_or("") == justification
        {
            continue;
        }
        let mut detail = format!(
            "rendition={rendition} hours={hours} source={source} previous={} previous_source={}",
            old.hours, old.source
        );
        if !justification.is_empty() {
            detail.push_str(&format!(" justification={justification:?}"));
        }
        state
            .record(
                Event::new(
                    s.subject.pseudonym.clone(),
                    Audited::RetentionChange,
                    format!("camera:{}", id.0),
                )
                .detail(detail)
                .client(peer.ip()),
            )
            .await?;
    }
    let (st, now) = (state.clone(), state.now());
    let after = blocking(move || {
        st.store.db.set_camera_retention(id, &changes, now)?;
        view(&st, id)
    })
    .await?;
    tracing::info!(actor = %s.subject.pseudonym, camera = id.0, "camera retention changed");
    Ok(Json(after))
}
