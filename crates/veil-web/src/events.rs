//! Events on a camera's timeline: `GET /api/v1/cameras/{id}/events`, the
//! recording gate's motion events (start, and end once the gate ended the
//! motion run).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;
use veil_access::Action;

use crate::api::{authorized_camera, interval, recording_resource};
use crate::auth::Session;
use crate::error::ApiError;
use crate::{blocking, AppState};

/// The most events one answer holds (the oldest first).
pub const MAX_EVENTS: i64 = 10_000;

/// One event on the timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// What happened: `motion`.
    #[schema(value_type = String, pattern = "^motion$")]
    pub kind: &'static str,
    /// RFC 3339: the keyframe where motion was first seen.
    pub start: String,
    /// RFC 3339: where the recording of the motion ended; `null` while the
    /// motion lasts.
    pub end: Option<String>,
}

/// The events of an interval, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct Events {
    /// At most 10,000 events overlapping the interval.
    pub events: Vec<EventView>,
}

/// `GET /api/v1/cameras/{id}/events?start=&end=`: the motion events that
/// overlap the interval (default: the 24 hours before now). Needs playback
/// of the camera from `start`, like its recordings.
pub async fn events(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Events>, ApiError> {
    let cam = authorized_camera(&state, &s, Action::Playback, &id).await?;
    let (start, end) = interval(&q, state.now(), false)?;
    state.authorize(&s, Action::Playback, recording_resource(&cam, start))?;
    let db = state.store.db.clone();
    let rows = blocking(move || Ok(db.motion_events(cam.id, start, end, MAX_EVENTS)?)).await?;
    Ok(Json(Events {
        events: rows
            .into_iter()
            .map(|r| EventView {
                kind: "motion",
                start: r.start_90k.to_rfc3339(),
                end: r.end_90k.map(|e| e.to_rfc3339()),
            })
            .collect(),
    }))
}
