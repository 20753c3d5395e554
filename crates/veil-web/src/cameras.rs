//! Camera management: `POST/GET/PUT/DELETE /api/v1/cameras[/{id}]` and
//! `GET /api/v1/cameras/{id}/status`.
//!
//! Every handler authorises first (`CameraAdmin`, or `ListCameras` for the
//! status), then validates, then appends to the access record, and only then
//! acts. Credentials go in (`username`, `password`) and never come out: the
//! response says only whether a camera has them. Cameras from the
//! configuration file are listed but cannot be changed here.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use veil_access::{Action, Resource};
use veil_audit::{Action as Audited, Event};
use veil_ingest::managed::{self, StoredRecording, StoredSource};
use veil_ingest::{Credentials, IngestState, RecordingMode};
use veil_store::db::{CameraDetail, CameraSettings, Ptz, TrackConsent};

use crate::api::authorized_camera;
use crate::auth::Session;
use crate::error::ApiError;
use crate::model::{Motion, WeeklyProfile};
use crate::{blocking, AppState};

/// The body of `POST /api/v1/cameras` and `PUT /api/v1/cameras/{id}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraRequest {
    /// 1 to 100 characters without control characters.
    name: String,
    /// `rtsp://host[:port]/path` or `rtsps://…`, without user-info.
    #[schema(example = "rtsp://192.0.2.10:554/stream1", pattern = "^rtsps?://")]
    url: String,
    /// The camera's login; an empty one removes stored credentials.
    #[serde(default)]
    username: Option<String>,
    /// On `PUT`, leaving out both `username` and `password` keeps the stored
    /// credentials; an empty `username` removes them.
    #[serde(default)]
    password: Option<String>,
    /// `tcp` (default) or `udp` (not for `rtsps://`).
    #[serde(default = "default_transport")]
    #[schema(default = "tcp", pattern = "^(tcp|udp)$")]
    transport: String,
    /// Record (and keep connected); default `true`.
    #[serde(default = "default_enabled")]
    #[schema(default = true)]
    enabled: bool,
    /// `continuous` (default), `scheduled`, `motion` or `live_only` (live
    /// view only: nothing is stored).
    #[serde(default = "default_mode")]
    #[schema(
        default = "continuous",
        pattern = "^(continuous|scheduled|motion|live_only)$"
    )]
    recording_mode: String,
    /// At most 100 characters; grants can be scoped to a group.
    #[serde(default)]
    group: String,
    /// 1 to 600; the server's default when absent.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 600)]
    segment_seconds: Option<u32>,
    /// For `rtsps://`: the camera certificate's SHA-256 fingerprint to trust.
    #[serde(default)]
    tls_fingerprint: Option<String>,
    /// `scheduled` (required there): when to record.
    #[serde(default)]
    schedule: Option<WeeklyProfile>,
    /// `motion` (optional there, defaults apply): buffers and sensitivity.
    #[serde(default)]
    motion: Option<Motion>,
    /// Record the camera's audio track (off unless enabled with a purpose).
    #[serde(default)]
    audio: TrackSetting,
    /// Record the camera's ONVIF metadata track (off unless enabled with a
    /// purpose).
    #[serde(default)]
    metadata: TrackSetting,
    /// What it looks at: `private` (default), `workplace`, `public_facing`
    /// (recordings kept 48 hours unless the camera has its own retention)
    /// or `residential_adjacent`.
    #[serde(default = "default_area")]
    #[schema(
        default = "private",
        pattern = "^(private|workplace|public_facing|residential_adjacent)$"
    )]
    area: String,
    /// The camera can pan, tilt or zoom (default `false`).
    #[serde(default)]
    ptz_capable: bool,
    /// Enable PTZ control (default `false`): needs `ptz_capable`, and is
    /// refused (409 `masks_fixed`) while the camera has privacy masks.
    #[serde(default)]
    ptz_control: bool,
    /// Its documented purpose (checked as `PUT …/purpose` checks it; errors
    /// name `purpose.<field>`). A camera without one does not record; on
    /// `PUT`, leaving it out keeps the stored one.
    #[serde(default)]
    #[schema(value_type = Option<veil_dpo::model::Purpose>)]
    purpose: Option<serde_json::Value>,
}

/// `{enabled, purpose}` of an optional track, in requests and responses.
#[derive(Clone, Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackSetting {
    /// Record it (off by default).
    #[serde(default)]
    enabled: bool,
    /// Why; 10 to 1000 characters after trimming, required to enable it.
    #[serde(default)]
    purpose: String,
}

/// Checks an optional track's setting. `field` is `audio` or `metadata`.
fn validate_track(field: &str, t: TrackSetting) -> Result<TrackConsent, ApiError> {
    let purpose =
        managed::check_purpose(field, t.enabled, &t.purpose).map_err(ApiError::bad_request)?;
    Ok(TrackConsent {
        enabled: t.enabled,
        purpose,
    })
}

fn default_transport() -> String {
    "tcp".into()
}
fn default_enabled() -> bool {
    true
}
fn default_mode() -> String {
    managed::CONTINUOUS.into()
}
fn default_area() -> String {
    veil_store::retention_rule::PRIVATE.into()
}

/// A camera as the API shows it: no credentials, only whether it has some.
#[derive(Serialize, ToSchema)]
pub struct CameraView {
    /// Its id.
    id: i64,
    /// Its name.
    name: String,
    /// The source kind: `rtsp` or `synthetic`.
    kind: String,
    /// Managed over the API (`false`: from the configuration file, read-only
    /// here).
    managed: bool,
    /// The RTSP URL; `null` for cameras from the configuration file.
    url: Option<String>,
    /// `tcp` or `udp`; `null` for cameras from the configuration file.
    transport: Option<String>,
    /// The trusted certificate fingerprint of an `rtsps://` camera.
    tls_fingerprint: Option<String>,
    /// Whether credentials are stored (they are never returned).
    has_credentials: bool,
    /// Recording (and connected).
    enabled: bool,
    /// `continuous`, `scheduled`, `motion` or `live_only`.
    recording_mode: String,
    /// Its group (may be empty).
    group: String,
    /// Segment length; `null`: the server's default.
    segment_seconds: Option<u32>,
    /// `scheduled`: when it records.
    schedule: Option<WeeklyProfile>,
    /// `motion`: the settings in force (defaults filled in).
    motion: Option<Motion>,
    /// The audio track's setting.
    audio: TrackSetting,
    /// The ONVIF metadata track's setting.
    metadata: TrackSetting,
    /// `private`, `workplace`, `public_facing` or `residential_adjacent`.
    area: String,
    /// The camera can pan, tilt or zoom.
    ptz_capable: bool,
    /// PTZ control is enabled (then the camera has no privacy masks).
    ptz_control: bool,
    /// Its documented purpose; `null` when it has none, and then it does
    /// not record.
    purpose: Option<veil_dpo::model::Purpose>,
}

impl TrackSetting {
    fn of(t: &TrackConsent) -> TrackSetting {
        TrackSetting {
            enabled: t.enabled,
            purpose: t.purpose.clone(),
        }
    }
}

impl CameraView {
    fn of(d: &CameraDetail, purpose: Option<veil_dpo::model::Purpose>) -> CameraView {
        let src: Option<StoredSource> = serde_json::from_str(&d.settings.source_config).ok();
        let (mode, recording) = if d.managed {
            let recording: StoredRecording = d
                .settings
                .recording_config
                .as_deref()
                .and_then(|j| serde_json::from_str(j).ok())
                .unwrap_or_default();
            (d.settings.recording_mode.clone(), recording)
        } else {
            config_recording(&d.settings.source_config)
        };
        let motion = (mode == managed::MOTION).then(|| recording.motion.unwrap_or_default());
        CameraView {
            id: d.id.0,
            name: d.settings.name.clone(),
            kind: d.settings.source_kind.clone(),
            managed: d.managed,
            url: src.as_ref().map(|s| s.url.clone()),
            tls_fingerprint: src.as_ref().and_then(|s| s.tls_fingerprint.clone()),
            transport: src.map(|s| s.transport),
            has_credentials: d.sealed_credentials.is_some(),
            enabled: d.settings.enabled,
            recording_mode: mode,
            group: d.settings.group.clone(),
            segment_seconds: d.settings.segment_seconds,
            schedule: recording.schedule.map(WeeklyProfile::from),
            motion: motion.map(Motion::from),
            audio: TrackSetting::of(&d.settings.audio),
            metadata: TrackSetting::of(&d.settings.metadata),
            area: d.settings.area.clone(),
            ptz_capable: d.settings.ptz.capable,
            ptz_control: d.settings.ptz.control,
            purpose,
        }
    }
}

/// A camera from the configuration file keeps its recording mode and settings
/// in its stored source (the file's `source` table).
pub(crate) fn config_recording(source_config: &str) -> (String, StoredRecording) {
    let v: serde_json::Value = serde_json::from_str(source_config).unwrap_or_default();
    let mode = v["recording_mode"]
        .as_str()
        .unwrap_or(managed::CONTINUOUS)
        .to_owned();
    let recording = StoredRecording {
        schedule: serde_json::from_value(v["schedule"].clone()).ok(),
        motion: serde_json::from_value(v["motion"].clone()).ok(),
    };
    (mode, recording)
}

/// A validated request: settings to store and the credentials change.
struct Validated {
    settings: CameraSettings,
    credentials: CredentialChange,
    /// The documented purpose given (its sites not yet checked).
    purpose: Option<veil_dpo::model::Purpose>,
}

enum CredentialChange {
    Keep,
    Clear,
    Set(Credentials),
}

/// Checks a request; every message is safe to return (no secret echoed).
fn validate(req: CameraRequest, creating: bool) -> Result<Validated, ApiError> {
    let name = req.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "name must be 1 to 100 characters without control characters",
        ));
    }
    let (url, in_url) =
        veil_ingest::split_url_credentials(&req.url).map_err(ApiError::bad_request)?;
    if in_url.is_some() {
        return Err(ApiError::bad_request(
            "put the login in \"username\" and \"password\", not in the URL",
        ));
    }
    let transport = managed::parse_transport(&req.transport).map_err(ApiError::bad_request)?;
    let secure = url.starts_with("rtsps://");
    if secure && transport == veil_ingest::RtspTransport::Udp {
        return Err(ApiError::bad_request("rtsps:// needs transport \"tcp\""));
    }
    if let Some(f) = &req.tls_fingerprint {
        if !secure {
            return Err(ApiError::bad_request(
                "tls_fingerprint is only for rtsps:// URLs",
            ));
        }
        veil_ingest::tls::parse_fingerprint(f).map_err(ApiError::bad_request)?;
    }
    let recording = StoredRecording {
        schedule: req.schedule.map(Into::into),
        motion: req.motion.map(Into::into),
    };
    let recording_config = match managed::recording_mode(&req.recording_mode, &recording)
        .map_err(ApiError::bad_request)?
    {
        RecordingMode::Continuous | RecordingMode::LiveOnly => None,
        // Motion settings are stored with their defaults filled in.
        RecordingMode::Motion(m) => StoredRecording {
            schedule: None,
            motion: Some(m),
        }
        .to_json(),
        RecordingMode::Scheduled(_) => recording.to_json(),
    };
    if req.group.chars().count() > 100 {
        return Err(ApiError::bad_request("group is at most 100 characters"));
    }
    if let Some(s) = req.segment_seconds {
        if !(1..=600).contains(&s) {
            return Err(ApiError::bad_request(
                "segment_seconds must be between 1 and 600",
            ));
        }
    }
    veil_store::retention_rule::check_area(&req.area).map_err(ApiError::bad_request)?;
    if req.ptz_control && !req.ptz_capable {
        return Err(ApiError::bad_request(
            "ptz_control: needs ptz_capable (only a PTZ-capable camera can have PTZ control)",
        ));
    }
    let audio = validate_track("audio", req.audio)?;
    let metadata = validate_track("metadata", req.metadata)?;
    let purpose = req
        .purpose
        .map(crate::camera_purpose::parse_in_request)
        .transpose()?;
    let credentials = match (req.username, req.password) {
        (None, None) if creating => CredentialChange::Clear,
        (None, None) => CredentialChange::Keep,
        (Some(u), _) if u.is_empty() => CredentialChange::Clear,
        (Some(username), Some(password)) if username.len() <= 256 && password.len() <= 1024 => {
            CredentialChange::Set(Credentials { username, password })
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request("username or password too long"));
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(ApiError::bad_request(
                "give both username and password (or neither to keep the stored ones)",
            ));
        }
    };
    let source_config = serde_json::to_string(&StoredSource {
        url,
        transport: req.transport,
        tls_fingerprint: req.tls_fingerprint,
    })
    .map_err(ApiError::internal)?;
    Ok(Validated {
        settings: CameraSettings {
            name,
            source_kind: "rtsp".into(),
            source_config,
            enabled: req.enabled,
            recording_mode: req.recording_mode,
            group: req.group.trim().to_owned(),
            segment_seconds: req.segment_seconds,
            recording_config,
            audio,
            metadata,
            area: req.area,
            ptz: Ptz {
                capable: req.ptz_capable,
                control: req.ptz_control,
            },
        },
        credentials,
        purpose,
    })
}

/// The audit detail of the audio and metadata settings: `audio=enabled
/// purpose="…"`, `audio=disabled`, or `unchanged` when a change keeps them.
fn track_changes(before: Option<&CameraSettings>, after: &CameraSettings) -> String {
    let one = |name: &str, old: Option<&TrackConsent>, new: &TrackConsent| {
        let state = if new.enabled { "enabled" } else { "disabled" };
        let changed = old.is_none_or(|o| o != new);
        match (changed, new.enabled) {
            (false, _) => format!("{name}=unchanged({state})"),
            (true, true) => format!("{name}=enabled purpose={:?}", new.purpose),
            (true, false) => format!("{name}=disabled"),
        }
    };
    format!(
        "{} {}",
        one("audio", before.map(|b| &b.audio), &after.audio),
        one("metadata", before.map(|b| &b.metadata), &after.metadata)
    )
}

fn body<T>(b: Result<Json<T>, axum::extract::rejection::JsonRejection>) -> Result<T, ApiError> {
    b.map(|Json(v)| v).map_err(|e| {
        // The rejection text can quote the body, which may hold a password.
        let _ = e;
        ApiError::bad_request(
            "expected a JSON camera object: name, url, optional username and password, \
             transport (tcp|udp), enabled, recording_mode (continuous|scheduled|motion|live_only), \
             schedule, motion, group, segment_seconds, audio and metadata ({enabled, purpose}), \
             area (private|workplace|public_facing|residential_adjacent), ptz_capable, ptz_control, \
             purpose",
        )
    })
}

/// The 409 of PTZ control and privacy masks together: enabling control on
/// a camera with masks, or saving masks on a camera with control enabled.
pub fn masks_fixed() -> ApiError {
    ApiError {
        status: StatusCode::CONFLICT,
        code: "masks_fixed",
        message: "privacy masks are fixed to the picture: a camera that pans, tilts or zooms \
                  would move the masked areas into view. Remove the camera's masks before \
                  enabling PTZ control, or disable PTZ control before adding masks"
            .into(),
    }
}

/// Taken by a camera change and a masks change from their check to their
/// write, so that PTZ control and masks cannot both be set by two requests
/// racing each other (one server process writes the database).
pub static PTZ_AND_MASKS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Whether a camera has privacy masks now (its current version is not empty).
pub async fn has_masks(state: &AppState, camera: veil_base::CameraId) -> Result<bool, ApiError> {
    let db = state.store.db.clone();
    let row = blocking(move || Ok(db.current_masks(camera)?)).await?;
    Ok(match row {
        Some(r) => {
            let v: serde_json::Value =
                serde_json::from_str(&r.masks).map_err(ApiError::internal)?;
            v.as_array().is_some_and(|a| !a.is_empty())
        }
        None => false,
    })
}

/// `ptz_capable=… ptz_control=…` for the access record, with the previous
/// values when they change.
fn ptz_detail(before: Option<Ptz>, after: Ptz) -> String {
    let mut s = format!(
        "ptz_capable={} ptz_control={}",
        after.capable, after.control
    );
    if let Some(b) = before.filter(|b| *b != after) {
        s.push_str(&format!(
            " previous_ptz_capable={} previous_ptz_control={}",
            b.capable, b.control
        ));
    }
    s
}

fn conflict(message: &str) -> ApiError {
    ApiError {
        status: StatusCode::CONFLICT,
        code: "conflict",
        message: message.into(),
    }
}

/// Maps the store's "name taken" to 409.
fn store_error(e: veil_store::Error) -> ApiError {
    match e {
        veil_store::Error::Invalid(m) if m.contains("name exists") => {
            conflict("a camera with this name exists")
        }
        e => e.into(),
    }
}

fn event(
    s: &Session,
    action: Audited,
    resource: String,
    detail: String,
    peer: SocketAddr,
) -> Event {
    Event::new(s.subject.pseudonym.clone(), action, resource)
        .detail(detail)
        .client(peer.ip())
}

/// Stores the credentials change for `camera`.
fn apply_credentials(
    state: &AppState,
    camera: veil_base::CameraId,
    change: &CredentialChange,
) -> Result<(), ApiError> {
    // What the password is (a factory default, the same as another
    // camera's) is found as it is set; the password is only stored sealed.
    match change {
        CredentialChange::Keep => Ok(()),
        CredentialChange::Clear => {
            state.store.db.set_camera_credentials(camera, None)?;
            Ok(crate::camera_passwords::record(
                &state.store.db,
                camera,
                None,
            )?)
        }
        CredentialChange::Set(c) => {
            let sealed = managed::seal_credentials(state.store.keys(), camera, c);
            state
                .store
                .db
                .set_camera_credentials(camera, Some(&sealed))?;
            Ok(crate::camera_passwords::record(
                &state.store.db,
                camera,
                Some((&c.username, &c.password)),
            )?)
        }
    }
}

/// Loads a camera's detail after the generic path check.
async fn detail(state: &AppState, id: veil_base::CameraId) -> Result<CameraDetail, ApiError> {
    let db = state.store.db.clone();
    blocking(move || Ok(db.camera_detail(id)?))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no camera {}", id.0)))
}

/// A camera as the API shows it, with its documented purpose.
async fn view(state: &AppState, d: &CameraDetail) -> Result<CameraView, ApiError> {
    let (db, id) = (state.store.db.clone(), d.id);
    let purpose = blocking(move || crate::camera_purpose::stored(&db, id)).await?;
    Ok(CameraView::of(d, purpose))
}

/// Checks a request's purpose against the organisation's sites.
async fn check_purpose(state: &AppState, v: &Validated) -> Result<(), ApiError> {
    if let Some(p) = v.purpose.clone() {
        let db = state.store.db.clone();
        blocking(move || crate::camera_purpose::check(&db, &p, Some("purpose"))).await?;
    }
    Ok(())
}

/// `POST /api/v1/cameras`: adds an RTSP camera and starts recording it.
pub async fn create(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Result<Json<CameraRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    state.authorize(&s, Action::CameraAdmin, Resource::System)?;
    let v = validate(body(req)?, true)?;
    check_purpose(&state, &v).await?;
    let detail_text = format!(
        "name={:?} area={} mode={} {} {}",
        v.settings.name,
        v.settings.area,
        v.settings.recording_mode,
        track_changes(None, &v.settings),
        ptz_detail(None, v.settings.ptz)
    );
    state
        .record(event(
            &s,
            Audited::CameraCreate,
            "camera".into(),
            detail_text,
            peer,
        ))
        .await?;
    let (now, st) = (state.now(), state.clone());
    let id = blocking(move || {
        let id = st
            .store
            .db
            .insert_managed_camera(&v.settings, now)
            .map_err(store_error)?;
        apply_credentials(&st, id, &v.credentials)?;
        Ok(id)
    })
    .await?;
    // Recorded as its own change once the camera has its id; before
    // recording starts.
    if let Some(p) = v.purpose {
        crate::camera_purpose::apply(&state, &s, peer, id, Some(p)).await?;
    }
    let d = detail(&state, id).await?;
    state.ingest.apply(&d).await;
    tracing::info!(actor = %s.subject.pseudonym, camera = id.0, "camera created");
    Ok((StatusCode::CREATED, Json(view(&state, &d).await?)).into_response())
}

/// `GET /api/v1/cameras/{id}`: a camera's settings (never its credentials).
pub async fn get_one(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CameraView>, ApiError> {
    let cam = authorized_camera(&state, &s, Action::CameraAdmin, &id).await?;
    let d = detail(&state, cam.id).await?;
    Ok(Json(view(&state, &d).await?))
}

/// `PUT /api/v1/cameras/{id}`: replaces a managed camera's settings and
/// restarts (or stops) its recording.
pub async fn update(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    req: Result<Json<CameraRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<CameraView>, ApiError> {
    let cam = authorized_camera(&state, &s, Action::CameraAdmin, &id).await?;
    let current = detail(&state, cam.id).await?;
    if !current.managed {
        return Err(conflict(
            "this camera is defined in the configuration file; change it there",
        ));
    }
    let v = validate(body(req)?, false)?;
    check_purpose(&state, &v).await?;
    // Static masks stay where they were drawn; a camera that moves would
    // uncover what they hide. Held until the change is stored.
    let ptz_lock = PTZ_AND_MASKS.lock().await;
    if v.settings.ptz.control && has_masks(&state, cam.id).await? {
        return Err(masks_fixed());
    }
    let detail_text = format!(
        "name={:?} area={}{} mode={}{} {} {} credentials={}",
        v.settings.name,
        v.settings.area,
        if current.settings.area == v.settings.area {
            String::new()
        } else {
            format!(" previous_area={}", current.settings.area)
        },
        v.settings.recording_mode,
        if current.settings.recording_mode == v.settings.recording_mode {
            String::new()
        } else {
            format!(" previous_mode={}", current.settings.recording_mode)
        },
        track_changes(Some(&current.settings), &v.settings),
        ptz_detail(Some(current.settings.ptz), v.settings.ptz),
        match v.credentials {
            CredentialChange::Keep => "kept",
            CredentialChange::Clear => "removed",
            CredentialChange::Set(_) => "changed",
        }
    );
    state
        .record(event(
            &s,
            Audited::CameraUpdate,
            format!("camera:{}", cam.id.0),
            detail_text,
            peer,
        ))
        .await?;
    let st = state.clone();
    let id = cam.id;
    blocking(move || {
        if !st
            .store
            .db
            .update_managed_camera(id, &v.settings)
            .map_err(store_error)?
        {
            return Err(ApiError::not_found(format!("no camera {}", id.0)));
        }
        apply_credentials(&st, id, &v.credentials)
    })
    .await?;
    drop(ptz_lock);
    if let Some(p) = v.purpose {
        crate::camera_purpose::apply(&state, &s, peer, id, Some(p)).await?;
    }
    let d = detail(&state, id).await?;
    state.ingest.apply(&d).await;
    Ok(Json(view(&state, &d).await?))
}

/// `DELETE /api/v1/cameras/{id}`: stops recording (the open segment is
/// written) and deletes the camera; its recordings stay until retention.
pub async fn delete(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let cam = authorized_camera(&state, &s, Action::CameraAdmin, &id).await?;
    let current = detail(&state, cam.id).await?;
    if !current.managed {
        return Err(conflict(
            "this camera is defined in the configuration file; remove it there",
        ));
    }
    state
        .record(event(
            &s,
            Audited::CameraDelete,
            format!("camera:{}", cam.id.0),
            String::new(),
            peer,
        ))
        .await?;
    state.ingest.stop(cam.id).await;
    let (db, now, id) = (state.store.db.clone(), state.now(), cam.id);
    blocking(move || Ok(db.delete_managed_camera(id, now)?)).await?;
    state.ingest.board().remove(id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A camera's ingest status. A camera the ingest supervisor does not run
/// (a synthetic one, or one not started) has only `state`, plus the
/// `last_error`, `last_error_at` and `disk_full` of a storage fault; the
/// other fields are present for cameras it runs.
#[derive(Default, Serialize, ToSchema)]
pub struct CameraStatusView {
    /// `connecting`, `recording`, `standby`, `error` or `stopped`.
    state: String,
    /// The last error, kept after recovery.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    last_error: Option<Option<String>>,
    /// When it happened, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    last_error_at: Option<Option<String>>,
    /// Wall-clock time the last frame arrived, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    last_frame_at: Option<Option<String>>,
    /// Video bitrate over the last measurement window.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    bitrate_bps: Option<u64>,
    /// Frames per second (two decimals).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    fps: Option<f64>,
    /// Picture width.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    width: Option<u16>,
    /// Picture height.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    height: Option<u16>,
    /// Connection attempts that failed or ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    reconnects: Option<u64>,
    /// Frames dropped (malformed, or no keyframe yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    frames_dropped: Option<u64>,
    /// `error`: milliseconds until the next attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u64>)]
    retry_in_ms: Option<Option<u64>>,
    /// `standby`: why nothing is recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    standby_reason: Option<Option<&'static str>>,
    /// Motion cameras: the latest keyframe with motion, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    last_motion_at: Option<Option<String>>,
    /// Motion cameras: keyframes not analysed because the detector was busy.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    motion_skipped: Option<u64>,
    /// One line per enabled extra stream (audio, metadata).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    tracks: Option<Vec<String>>,
    /// Present when the camera's segments cannot be stored; `true` when the
    /// disk is full.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    disk_full: Option<bool>,
}

/// `GET /api/v1/cameras/{id}/status`: the ingest status.
pub async fn status(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CameraStatusView>, ApiError> {
    let cam = authorized_camera(&state, &s, Action::ListCameras, &id).await?;
    if state.store.fence().is_some() {
        // Scale-out (a node on a shared database): the recorder holding the
        // camera may be another node; it writes the status into the shared
        // database. A store without a fence records on its own, whatever
        // its database.
        let (db, camera) = (state.store.db.clone(), cam.id);
        let row = blocking(move || Ok(db.camera_status(camera)?)).await?;
        return Ok(Json(shared_status(row, state.now())));
    }
    let st = state.ingest.board().get(cam.id);
    let mut view = match st {
        None if cam.source_kind == "synthetic"
            && config_recording(&cam.source_config).0 == managed::LIVE_ONLY =>
        {
            CameraStatusView {
                state: IngestState::Standby.as_str().into(),
                standby_reason: Some(Some(veil_ingest::gate::LIVE_ONLY)),
                ..Default::default()
            }
        }
        None if cam.source_kind == "synthetic" && !state.store.may_record(cam.id) => {
            CameraStatusView {
                state: IngestState::Standby.as_str().into(),
                standby_reason: Some(Some(veil_ingest::gate::NO_PURPOSE)),
                ..Default::default()
            }
        }
        None => CameraStatusView {
            state: if cam.source_kind == "synthetic" {
                "recording"
            } else {
                "stopped"
            }
            .into(),
            ..Default::default()
        },
        Some(st) => CameraStatusView {
            state: st.state.as_str().into(),
            last_error: Some(st.last_error),
            last_error_at: Some(st.last_error_90k.map(|t| t.to_rfc3339())),
            last_frame_at: Some(st.last_frame_90k.map(|t| t.to_rfc3339())),
            bitrate_bps: Some(st.bitrate_bps),
            fps: Some((st.fps * 100.0).round() / 100.0),
            width: Some(st.width),
            height: Some(st.height),
            reconnects: Some(st.reconnects),
            frames_dropped: Some(st.frames_dropped),
            retry_in_ms: Some(st.retry_in_ms),
            standby_reason: Some(
                (st.state == IngestState::Standby)
                    .then_some(st.standby_reason)
                    .flatten(),
            ),
            last_motion_at: Some(st.last_motion_90k.map(|t| t.to_rfc3339())),
            motion_skipped: Some(st.motion_skipped),
            tracks: Some(st.tracks),
            disk_full: None,
        },
    };
    // A purpose cleared since the last keyframe: nothing more is stored
    // (the recorder says so itself at that keyframe).
    if view.state == IngestState::Recording.as_str() && !state.store.may_record(cam.id) {
        view.state = IngestState::Standby.as_str().into();
        view.standby_reason = Some(Some(veil_ingest::gate::NO_PURPOSE));
    }
    // Frames arriving is not recording: when its segments cannot be stored
    // (a full disk), the camera is in error until a write succeeds again.
    if let Some(f) = state.store.write_fault(cam.id) {
        view.state = "error".into();
        view.last_error = Some(Some(f.message));
        view.last_error_at = Some(Some(f.since.to_rfc3339()));
        view.disk_full = Some(f.disk_full);
    }
    Ok(Json(view))
}

/// A status written longer ago than this (three lease renewal periods)
/// means no recorder holds the camera.
pub const SHARED_STATUS_FRESH_90K: i64 = 3 * veil_store::leases::RENEW_PERIOD_90K;

/// What no recorder holding a camera reads as.
pub const NO_RECORDER: &str = "no recorder holds this camera";

/// A camera's status from the shared database (`camera_status`, written by
/// the recorder holding it at each lease renewal and change): `unknown`
/// when none was written within [`SHARED_STATUS_FRESH_90K`] of `now`.
fn shared_status(
    row: Option<veil_store::db::CameraStatusRow>,
    now: veil_base::Time90k,
) -> CameraStatusView {
    match row {
        Some(r) if now.0 - r.updated_90k.0 <= SHARED_STATUS_FRESH_90K => {
            let standby = [
                veil_ingest::gate::LIVE_ONLY,
                veil_ingest::gate::NO_PURPOSE,
                veil_ingest::gate::OUTSIDE_SCHEDULE,
                veil_ingest::gate::WAITING_FOR_MOTION,
            ]
            .into_iter()
            .find(|s| *s == r.detail);
            CameraStatusView {
                standby_reason: (r.state == IngestState::Standby.as_str()).then_some(standby),
                last_error: (r.state == "error").then(|| Some(r.detail.clone())),
                state: r.state,
                ..Default::default()
            }
        }
        _ => CameraStatusView {
            state: "unknown".into(),
            last_error: Some(Some(NO_RECORDER.into())),
            ..Default::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_status_reads_as_unknown_once_stale() {
        let row = |state: &str, detail: &str, at: i64| {
            Some(veil_store::db::CameraStatusRow {
                camera_id: veil_base::CameraId(1),
                node: "r1".into(),
                state: state.into(),
                detail: detail.into(),
                updated_90k: veil_base::Time90k(at),
            })
        };
        let v = shared_status(
            row("recording", "", 100),
            veil_base::Time90k(100 + SHARED_STATUS_FRESH_90K),
        );
        assert_eq!(v.state, "recording");
        assert_eq!(v.last_error, None);
        let v = shared_status(row("error", "disk full", 0), veil_base::Time90k(10));
        assert_eq!(
            (v.state.as_str(), v.last_error),
            ("error", Some(Some("disk full".into())))
        );
        let v = shared_status(
            row("standby", veil_ingest::gate::NO_PURPOSE, 0),
            veil_base::Time90k(10),
        );
        assert_eq!(v.standby_reason, Some(Some(veil_ingest::gate::NO_PURPOSE)));
        for stale in [
            shared_status(
                row("recording", "", 0),
                veil_base::Time90k(SHARED_STATUS_FRESH_90K + 1),
            ),
            shared_status(None, veil_base::Time90k(0)),
        ] {
            assert_eq!(stale.state, "unknown");
            assert_eq!(stale.last_error, Some(Some(NO_RECORDER.into())));
        }
    }

    #[test]
    fn configuration_cameras_show_their_recording_mode() {
        let (mode, r) = config_recording(
            r#"{"kind": "rtsp", "url": "rtsp://h/s", "recording_mode": "motion", "schedule": null,
                "motion": {"pre_seconds": 2, "post_seconds": 3, "threshold": 20, "min_area_percent": 2.0}}"#,
        );
        assert_eq!(mode, "motion");
        assert_eq!(r.motion.unwrap().pre_seconds, 2);
        assert!(r.schedule.is_none());
        let (mode, r) = config_recording(r#"{"kind": "synthetic", "width": 640}"#);
        assert_eq!(mode, "continuous");
        assert_eq!(r, StoredRecording::default());
    }
}
