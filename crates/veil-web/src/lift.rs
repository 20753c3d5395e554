//! The lift path: `GET /api/v1/cameras/{id}/video.mp4?…&rendition=original`
//! (`docs/design/masks.md`, "Lifting a mask: keys and the lift path").
//!
//! Needs `masks.lift` on the camera, a justification and, when four-eyes
//! is configured for `masks.lift`, an approved request for `camera:ID`
//! (consumed once the lift is recorded). Every request, the browser's
//! follow-up range requests included, is recorded as `mask.lift` with its
//! justification before any byte is served. A first lift makes a grant
//! (user, camera, interval, expiry: `lift_grant_minutes`, default 60); a
//! request inside an unexpired grant of the same user needs no new
//! approval. In the escrow mode every request carries the DPO's identity
//! in [`IDENTITY_HEADER`], used for that request only.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use veil_access::Action;
use veil_audit::{Action as Audited, Event};
use veil_base::{Time90k, TIME_UNITS_PER_SEC};
use veil_store::db::CameraRow;
use veil_store::{LiftGrant, LiftMode, ORIGINAL_RENDITION};

use crate::api::recording_resource;
use crate::auth::Session;
use crate::error::ApiError;
use crate::{blocking, AppState};

/// The request header carrying the escrow identity (`AGE-SECRET-KEY-1…`).
pub const IDENTITY_HEADER: &str = "x-veil-lift-identity";
/// The `setting` row holding a lift grant's lifetime in minutes.
pub const GRANT_MINUTES_SETTING: &str = "lift_grant_minutes";
/// A lift grant's default lifetime: one hour.
pub const DEFAULT_GRANT_MINUTES: u32 = 60;
/// The longest justification accepted.
const MAX_JUSTIFICATION_CHARS: usize = 2000;

/// Which rendition a playback request asks for (`rendition=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rendition {
    /// The default view (`main` or `protected`): `default`, or absent.
    Default,
    /// The `original` rendition, through the lift path.
    Original,
}

/// Parses `rendition`; 400 naming it for an unknown value.
pub fn rendition(q: &HashMap<String, String>) -> Result<Rendition, ApiError> {
    match q.get("rendition").map(String::as_str) {
        None | Some("") | Some("default") => Ok(Rendition::Default),
        Some(ORIGINAL_RENDITION) => Ok(Rendition::Original),
        Some(other) => Err(ApiError::bad_request(format!(
            "rendition must be default or original, got {other:?}"
        ))),
    }
}

/// Checks, records and grants a lift of `cam` over `[start, end)` for `s`;
/// the caller plans and serves with the grant (with the request's identity
/// in the escrow mode). Refusals change nothing (an approval is consumed
/// only once the lift is recorded).
pub async fn lift(
    state: &AppState,
    s: &Session,
    peer: SocketAddr,
    cam: &CameraRow,
    (start, end): (Time90k, Time90k),
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Arc<LiftGrant>, ApiError> {
    state.authorize(s, Action::LiftMasks, recording_resource(cam, start))?;
    let justification = q.get("justification").map(|j| j.trim()).unwrap_or("");
    if justification.is_empty() {
        return Err(ApiError::bad_request(
            "justification is required to lift privacy masks: say why the original is needed",
        ));
    }
    if justification.chars().count() > MAX_JUSTIFICATION_CHARS
        || justification.chars().any(|c| c.is_control())
    {
        return Err(ApiError::bad_request(format!(
            "justification must be at most {MAX_JUSTIFICATION_CHARS} characters without \
             control characters"
        )));
    }
    // The escrow identity: for this request only, never stored, logged or
    // echoed.
    let identity = match state.store.lift_mode() {
        LiftMode::Server => None,
        LiftMode::Escrow(recipient) => {
            let raw = headers
                .get(IDENTITY_HEADER)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "the originals of this installation are escrowed: send the escrow \
                         identity (AGE-SECRET-KEY-1…) in the X-Veil-Lift-Identity header",
                    )
                })?;
            let id = veil_store::lift::parse_identity(raw).map_err(|_| {
                ApiError::bad_request(
                    "X-Veil-Lift-Identity must hold an age X25519 identity (AGE-SECRET-KEY-1…)",
                )
            })?;
            if id.to_public().to_string() != recipient.to_string() {
                return Err(refused(
                    "the identity in X-Veil-Lift-Identity is not the escrow recipient's: \
                     it cannot open these originals",
                ));
            }
            Some(id)
        }
    };
    crate::protections::refuse_held_by(state, &s.subject.pseudonym, cam.id, start, end).await?;
    let (store, camera, user) = (state.store.clone(), cam.id, s.subject.user);
    let (existing, any) = blocking(move || {
        let g = store.lift_grant(user, camera, start, end)?;
        let any = !store
            .db
            .segments(camera, ORIGINAL_RENDITION, start, end)?
            .is_empty();
        Ok((g, any))
    })
    .await?;
    if !any {
        return Err(ApiError::not_found(
            "no original recording in this interval",
        ));
    }
    let resource = format!("camera:{}", cam.id);
    let mut approval = None;
    if existing.is_none() {
        let db = state.store.db.clone();
        let needs = blocking(move || crate::admin::four_eyes(&db)).await?;
        if needs.iter().any(|x| x == Action::LiftMasks.id()) {
            let (db, now, r) = (state.store.db.clone(), state.now(), resource.clone());
            approval = Some(
                blocking(move || {
                    crate::admin::find_approval(&db, user, Action::LiftMasks, &r, now)
                })
                .await?,
            );
        }
    }
    let mut detail = format!(
        "rendition=original start={} end={}",
        start.to_rfc3339(),
        end.to_rfc3339()
    );
    match (&existing, &approval) {
        (Some(g), _) => detail.push_str(&format!(" grant={}", g.row().id)),
        (None, Some(a)) => detail.push_str(&format!(" approval={}", a.id)),
        (None, None) => {}
    }
    if matches!(state.store.lift_mode(), LiftMode::Escrow(_)) {
        detail.push_str(" key=escrow");
    }
    let seq = record(
        state,
        Event::new(s.subject.pseudonym.clone(), Audited::MaskLift, resource)
            .detail(detail)
            .justification(justification.to_owned())
            .client(peer.ip()),
    )
    .await?;
    let grant = match existing {
        Some(g) => g,
        None => {
            if let Some(a) = approval {
                let (db, now) = (state.store.db.clone(), state.now());
                blocking(move || crate::admin::consume_approval(&db, &a, now)).await?;
            }
            let minutes = grant_minutes(state).await?;
            let store = state.store.clone();
            let life = i64::from(minutes) * 60 * TIME_UNITS_PER_SEC;
            blocking(move || Ok(store.lift(user, camera, start, end, seq, life)?)).await?
        }
    };
    let grant = match identity {
        Some(id) => grant.with_identity(id),
        None => grant,
    };
    Ok(Arc::new(grant))
}

/// A 403 of the lift path.
pub fn refused(message: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::FORBIDDEN,
        code: "lift_refused",
        message: message.into(),
    }
}

/// A grant's lifetime in minutes (setting `lift_grant_minutes`, written at
/// start from `[masks] lift_grant_minutes`).
async fn grant_minutes(state: &AppState) -> Result<u32, ApiError> {
    let db = state.store.db.clone();
    let v = blocking(move || Ok(db.setting(GRANT_MINUTES_SETTING)?)).await?;
    Ok(v.and_then(|v| v.trim().parse().ok())
        .filter(|m| *m > 0)
        .unwrap_or(DEFAULT_GRANT_MINUTES))
}

/// [`AppState::record`], returning the entry's sequence number (the grant
/// names it).
async fn record(state: &AppState, e: Event) -> Result<i64, ApiError> {
    let audit = state.audit.clone();
    tokio::task::spawn_blocking(move || audit.append(e))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| match e {
            veil_audit::Error::JustificationRequired(_) => ApiError::bad_request(e.to_string()),
            veil_audit::Error::Unavailable(_) => {
                tracing::error!(error = %e, "access record append failed; refusing the lift");
                ApiError::audit_unavailable()
            }
        })
}
