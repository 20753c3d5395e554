//! Cameras' documented purposes (P8): `PUT` and `DELETE
//! /api/v1/cameras/{id}/purpose`, and the optional `purpose` of a camera
//! request. A camera without a documented purpose does not record
//! (`veil_store::purpose`); setting one lets it record from its next
//! segment, clearing it stops it, without restarting anything. Every
//! change is recorded first as `config.purpose` on `camera:ID`, with a
//! detail that names what changed and never quotes the texts.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use veil_access::{Action, Resource};
use veil_audit::{AccessRecord, Action as Audited, Event};
use veil_base::CameraId;
use veil_dpo::model::Purpose;
use veil_store::Store;

use crate::api::camera_resource;
use crate::auth::Session;
use crate::error::{json_body, ApiError};
use crate::{blocking, organisation, AppState};

/// Checks a purpose against the organisation's sites; the error names the
/// field (`purposes`, `purposes[1]`, `balancing_note`, `site`,
/// `retention_justification`), under `prefix` when one is given.
pub fn check(db: &veil_store::Db, p: &Purpose, prefix: Option<&str>) -> Result<(), ApiError> {
    let sites = organisation::load(db)?.sites;
    p.check(&sites).map_err(|e| {
        let e = match prefix {
            Some(prefix) => e.within(prefix),
            None => e,
        };
        ApiError::bad_request(e.to_string())
    })
}

/// A camera request's `purpose` (kept as JSON there, so that its errors can
/// be told without quoting the rest of the body): `purpose.legal_basis: …`.
pub fn parse_in_request(v: serde_json::Value) -> Result<Purpose, ApiError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        ApiError::bad_request(if path == "." {
            format!("purpose: {inner}")
        } else {
            format!("purpose.{path}: {inner}")
        })
    })
}

/// The access record's detail of a purpose: `legal_basis=f
/// detail=recognition site=shop purposes=2` (never the texts), or
/// `cleared`.
pub fn describe(p: Option<&Purpose>) -> String {
    match p {
        Some(p) => format!(
            "legal_basis={} detail={} site={} purposes={}",
            p.legal_basis.letter(),
            p.detail.id(),
            p.site,
            p.purposes.len()
        ),
        None => "cleared".into(),
    }
}

/// A camera's stored purpose (`None` when undocumented).
pub fn stored(db: &veil_store::Db, camera: CameraId) -> Result<Option<Purpose>, ApiError> {
    match db.camera_purpose(camera)? {
        Some(json) => Ok(Some(
            serde_json::from_str(&json).map_err(ApiError::internal)?,
        )),
        None => Ok(None),
    }
}

/// Records and stores a purpose change made outside a request (the
/// configuration file at start: `source=configuration`). Nothing is
/// recorded or written when the purpose is unchanged.
pub fn remember(
    store: &Store,
    audit: &AccessRecord,
    camera: CameraId,
    purpose: &Purpose,
) -> Result<(), String> {
    let old = stored(&store.db, camera).map_err(|e| e.message)?;
    if old.as_ref() == Some(purpose) {
        return Ok(());
    }
    audit
        .append(
            Event::new(
                "system",
                Audited::PurposeChange,
                format!("camera:{}", camera.0),
            )
            .detail(format!("{} source=configuration", describe(Some(purpose)))),
        )
        .map_err(|e| format!("the camera's purpose could not be recorded: {e}"))?;
    let json = serde_json::to_string(purpose).map_err(|e| e.to_string())?;
    store
        .set_camera_purpose(camera, Some(&json))
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Records (as `config.purpose`, first) and stores a change of `camera`'s
/// purpose made by `s`. Nothing happens when it is unchanged.
pub async fn apply(
    state: &AppState,
    s: &Session,
    peer: SocketAddr,
    camera: CameraId,
    purpose: Option<Purpose>,
) -> Result<(), ApiError> {
    let db = state.store.db.clone();
    let old = blocking(move || stored(&db, camera)).await?;
    if old == purpose {
        return Ok(());
    }
    state
        .record(
            crate::admin::event(
                s,
                Audited::PurposeChange,
                format!("camera:{}", camera.0),
                peer,
            )
            .detail(describe(purpose.as_ref())),
        )
        .await?;
    let json = purpose
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(ApiError::internal)?;
    let store = state.store.clone();
    let found = blocking(move || Ok(store.set_camera_purpose(camera, json.as_deref())?)).await?;
    if !found {
        return Err(ApiError::not_found(format!("no camera {}", camera.0)));
    }
    Ok(())
}

/// Who may document a camera's purpose: its administrator, or the DPO.
/// Authorised before "not found" is told, and before the body is read.
async fn authorized(state: &AppState, s: &Session, raw: &str) -> Result<CameraId, ApiError> {
    let id: i64 = raw
        .parse()
        .map_err(|_| ApiError::not_found(format!("no camera {raw:?}")))?;
    let db = state.store.db.clone();
    let cams = blocking(move || Ok(db.cameras()?)).await?;
    let cam = cams.into_iter().find(|c| c.id == CameraId(id));
    if !state.allowed(s, Action::DpoDocuments, Resource::System) {
        state.authorize(
            s,
            Action::CameraAdmin,
            camera_resource(CameraId(id), cam.as_ref()),
        )?;
    }
    cam.map(|c| c.id)
        .ok_or_else(|| ApiError::not_found(format!("no camera {id}")))
}

/// `PUT /api/v1/cameras/{id}/purpose`: documents (or replaces) a camera's
/// purpose; the camera records from its next segment. 400 naming the field.
pub async fn put(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    body: Result<Json<Purpose>, axum::extract::rejection::JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let camera = authorized(&state, &s, &id).await?;
    let purpose = json_body(body)?;
    {
        let (db, p) = (state.store.db.clone(), purpose.clone());
        blocking(move || check(&db, &p, None)).await?;
    }
    apply(&state, &s, peer, camera, Some(purpose)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/cameras/{id}/purpose`: removes a camera's documented
/// purpose; it stops recording at its next segment (live view goes on).
pub async fn delete(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let camera = authorized(&state, &s, &id).await?;
    apply(&state, &s, peer, camera, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_names_what_changed_and_never_the_texts() {
        let p: Purpose = serde_json::from_value(serde_json::json!({
            "purposes": ["Protection of staff against robbery", "Evidence of theft"],
            "legal_basis": "f",
            "balancing_note": "Staff and customers expect cameras at the till.",
            "detail": "recognition",
            "site": "shop",
            "retention_justification": "Incidents are reported within days."
        }))
        .unwrap();
        let d = describe(Some(&p));
        assert_eq!(d, "legal_basis=f detail=recognition site=shop purposes=2");
        assert!(!d.contains("robbery"));
        assert_eq!(describe(None), "cleared");
    }

    #[test]
    fn a_request_purpose_error_names_its_field() {
        let e = parse_in_request(serde_json::json!({
            "purposes": ["Protection of staff"],
            "legal_basis": "g",
            "detail": "recognition",
            "site": "shop",
            "retention_justification": "Incidents are reported within days."
        }))
        .unwrap_err();
        assert!(
            e.message.starts_with("purpose.legal_basis: "),
            "{}",
            e.message
        );
        let e = parse_in_request(serde_json::json!({"purposes": []})).unwrap_err();
        assert!(
            e.message.starts_with("purpose: missing field"),
            "{}",
            e.message
        );
    }
}
