//! Privacy masks over HTTP: `GET` and `PUT /api/v1/cameras/{id}/masks`
//! (`masks.admin`). A `PUT` replaces the camera's masks with a new version
//! (author, time), recorded in the access record first. The checks are
//! `veil_media::mask::check`; a 400 names the field (`masks[2].polygon`).
//!
//! After the new version is stored it is published to the camera's recorder
//! (`Store::publish_masks`), which applies it from the camera's next
//! keyframe: decode, mask, encode before the live hub, the motion detector
//! and the store (`veil_store::mask_stage`).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use veil_access::Action;
use veil_audit::{Action as Audited, Event};
use veil_media::mask::{self, Mask, MaskKind};

use crate::auth::Session;
use crate::error::{json_body, ApiError};
use crate::{blocking, AppState};

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

/// A camera's masks as the API shows them.
#[derive(Serialize, ToSchema)]
pub struct MaskSet {
    /// The camera's id.
    pub camera_id: i64,
    /// The version (`null` when the camera never had masks).
    pub version: Option<i64>,
    /// Who saved it (login name; `null` for none or an erased account).
    pub author: Option<String>,
    /// When it was saved (RFC 3339).
    #[schema(format = DateTime)]
    pub created: Option<String>,
    /// The masks: `kind` (`permanent`, `liftable`), `fill` (`solid`,
    /// `pixelate`, `blur`), `name`, `reason`, `polygon` (`[[x, y], …]`, 0 to
    /// 1), `scope` (`all`, `live_only`, `recording_only`).
    #[schema(value_type = Vec<Object>)]
    pub masks: Value,
    /// Whether video is masked with them today.
    pub enforced: bool,
    /// Why not, when not.
    #[schema(value_type = Option<String>)]
    pub note: Option<&'static str>,
}

/// The body of `PUT /api/v1/cameras/{id}/masks`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaskChange {
    /// Every mask of the camera (an empty list removes them): each with
    /// `kind`, `fill`, `name` (1 to 100 characters), `reason` (10 to 500),
    /// `polygon` (3 to 64 points `[x, y]`, 0 to 1, edges not crossing) and
    /// optional `scope` (`all`; `live_only` or `recording_only` for
    /// liftable masks).
    #[schema(value_type = Vec<Object>)]
    pub masks: Vec<Value>,
}

fn bad(field: String, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("{field}: {message}"))
}

/// Parses one mask, naming the field of an unknown `kind`, `fill` or `scope`.
fn parse(i: usize, v: &Value) -> Result<Mask, ApiError> {
    let field = |f: &str| format!("masks[{i}].{f}");
    for (f, allowed) in [
        ("kind", &["permanent", "liftable"][..]),
        ("fill", &["solid", "pixelate", "blur"][..]),
        ("scope", &["all", "live_only", "recording_only"][..]),
    ] {
        match v.get(f) {
            None if f == "scope" => {}
            Some(Value::String(s)) if allowed.contains(&s.as_str()) => {}
            other => {
                return Err(bad(
                    field(f),
                    format!(
                        "must be one of {}, got {}",
                        allowed.join(", "),
                        other.map_or("nothing".into(), Value::to_string)
                    ),
                ))
            }
        }
    }
    serde_json::from_value(v.clone()).map_err(|e| bad(format!("masks[{i}]"), e))
}

async fn view(state: &AppState, camera: veil_base::CameraId) -> Result<MaskSet, ApiError> {
    let db = state.store.db.clone();
    blocking(move || {
        let row = db.current_masks(camera)?;
        let author = match row.as_ref().and_then(|r| r.author) {
            Some(u) => db.user(u)?.and_then(|u| u.name),
            None => None,
        };
        let masks = match &row {
            Some(r) => serde_json::from_str(&r.masks).map_err(ApiError::internal)?,
            None => Value::Array(Vec::new()),
        };
        Ok(MaskSet {
            camera_id: camera.0,
            version: row.as_ref().map(|r| r.id),
            author,
            created: row.as_ref().map(|r| r.created.to_rfc3339()),
            masks,
            enforced: true,
            note: None,
        })
    })
    .await
}

/// `GET /api/v1/cameras/{id}/masks`.
pub async fn get_masks(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<MaskSet>, ApiError> {
    let cam = crate::api::authorized_camera(&state, &s, Action::MaskAdmin, &id).await?;
    Ok(Json(view(&state, cam.id).await?))
}

/// Whether PTZ control is enabled on the camera.
async fn ptz_control(state: &AppState, camera: veil_base::CameraId) -> Result<bool, ApiError> {
    let db = state.store.db.clone();
    let d = blocking(move || Ok(db.camera_detail(camera)?)).await?;
    Ok(d.is_some_and(|d| d.settings.ptz.control))
}

/// `PUT /api/v1/cameras/{id}/masks`: a new version of the camera's masks.
pub async fn put_masks(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    body: Body<MaskChange>,
) -> Result<Json<MaskSet>, ApiError> {
    let cam = crate::api::authorized_camera(&state, &s, Action::MaskAdmin, &id).await?;
    let req = json_body(body)?;
    // Static masks are fixed to the picture: none on a camera that moves
    // (checked and stored under the lock a PTZ change takes too).
    let _ptz = crate::cameras::PTZ_AND_MASKS.lock().await;
    if !req.masks.is_empty() && ptz_control(&state, cam.id).await? {
        return Err(crate::cameras::masks_fixed());
    }
    if req.masks.len() > mask::MAX_MASKS {
        return Err(bad(
            "masks".into(),
            format!("at most {} masks per camera", mask::MAX_MASKS),
        ));
    }
    let parsed = req
        .masks
        .iter()
        .enumerate()
        .map(|(i, v)| parse(i, v))
        .collect::<Result<Vec<_>, _>>()?;
    let masks = mask::check(&parsed).map_err(|e| bad(e.field, e.message))?;
    let json = serde_json::to_string(&masks).map_err(ApiError::internal)?;
    let db = state.store.db.clone();
    let camera = cam.id;
    let previous = blocking(move || Ok(db.current_masks(camera)?)).await?;
    let permanent = masks
        .iter()
        .filter(|m| m.kind == MaskKind::Permanent)
        .count();
    state
        .record(
            Event::new(
                s.subject.pseudonym.clone(),
                Audited::MaskChange,
                format!("camera:{}", cam.id),
            )
            .detail(format!(
                "masks={} permanent={permanent} liftable={} previous_version={}",
                masks.len(),
                masks.len() - permanent,
                previous.map_or_else(|| "none".to_owned(), |p| p.id.to_string())
            ))
            .client(peer.ip()),
        )
        .await?;
    let (db, now, user) = (state.store.db.clone(), state.now(), s.subject.user);
    let store = state.store.clone();
    blocking(move || {
        db.insert_mask_version(camera, &json, Some(user), now)?;
        // The recorder takes it at the next keyframe.
        Ok(store.publish_masks(camera)?)
    })
    .await?;
    Ok(Json(view(&state, cam.id).await?))
}
