//! JSON API handlers: health, session, cameras, recordings, MP4 playback.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use veil_access::{Action, Resource};
use veil_audit::{Action as Audited, Event, Outcome};
use veil_base::{CameraId, Time90k, TIME_UNITS_PER_SEC};
use veil_store::playback::{self, Mp4Plan};

use crate::auth::{self, Session, CSRF_COOKIE, SESSION_COOKIE};
use crate::error::ApiError;
use crate::range::{self, RangeRequest};
use crate::{blocking, AppState};

/// Longest range one playback request may cover.
pub const MAX_PLAYBACK_SPAN_90K: i64 = 24 * 3600 * TIME_UNITS_PER_SEC;

/// The answer of `GET /api/v1/health`, with 200 and with 503.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` (200), or `unavailable` (503) when a part fails.
    #[schema(value_type = String, pattern = "^(ok|unavailable)$")]
    pub status: &'static str,
    /// The failing parts: `database`, `access_record`, `disk`.
    #[schema(value_type = Vec<String>)]
    pub failing: Vec<&'static str>,
    /// Each part's state.
    pub checks: HealthChecks,
}

/// The parts health checks.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthChecks {
    /// `ok` or `not answering`.
    #[schema(value_type = String)]
    pub database: &'static str,
    /// `ok` or `appends are failing`.
    #[schema(value_type = String)]
    pub access_record: &'static str,
    /// The data directory's free space, or `unreadable`.
    pub disk: DiskCheck,
}

/// The disk check: figures, or the string `unreadable`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum DiskCheck {
    /// Free space measured.
    Measured(DiskSpace),
    /// The free space cannot be read: `unreadable`.
    #[schema(value_type = String)]
    Unreadable(&'static str),
}

/// The data directory's free space.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiskSpace {
    /// `ok` or `almost full`.
    #[schema(value_type = String)]
    pub status: &'static str,
    /// Bytes free; `null` where the store cannot tell.
    pub free_bytes: Option<u64>,
    /// Below this, the disk counts as failing.
    pub min_free_bytes: u64,
}

/// `GET /api/v1/health`: public health probe. Checks that the database
/// answers, that the access record can append (so video can be served: no
/// entry, no access) and that the data directory has [`MIN_FREE_BYTES`]
/// free; 503 naming each failing part, without internal details (those go
/// to the log).
pub async fn health(State(state): State<AppState>) -> Response {
    let mut failing = Vec::new();
    let db = state.store.db.clone();
    let database = tokio::task::spawn_blocking(move || db.schema_version()).await;
    let ok = matches!(database, Ok(Ok(_)));
    if !ok {
        tracing::error!(result = ?database, "health: the database does not answer");
        failing.push("database");
    }
    let database = if ok { "ok" } else { "not answering" };
    let audit = state.audit.clone();
    let record =
        tokio::task::spawn_blocking(move || audit.health(std::time::Duration::from_secs(2))).await;
    let ok = matches!(record, Ok(Ok(())));
    if !ok {
        tracing::error!(result = ?record, "health: the access record cannot append");
        failing.push("access_record");
    }
    let access_record = if ok { "ok" } else { "appends are failing" };
    let disk = match state.store.free_space() {
        Ok(free) => {
            let low = free.is_some_and(|f| f < MIN_FREE_BYTES);
            if low {
                failing.push("disk");
            }
            DiskCheck::Measured(DiskSpace {
                status: if low { "almost full" } else { "ok" },
                free_bytes: free,
                min_free_bytes: MIN_FREE_BYTES,
            })
        }
        Err(e) => {
            tracing::error!(error = %e, "health: cannot read the data directory's free space");
            failing.push("disk");
            DiskCheck::Unreadable("unreadable")
        }
    };
    let (status, code) = if failing.is_empty() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    let mut res = Json(Health {
        status: code,
        failing,
        checks: HealthChecks {
            database,
            access_record,
            disk,
        },
    })
    .into_response();
    *res.status_mut() = status;
    res
}

/// Below this much free space in the data directory, health reports the
/// disk as failing (about a minute of a dozen 4 Mbit/s cameras).
pub const MIN_FREE_BYTES: u64 = 64 * 1024 * 1024;

/// Fallback: unknown routes.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

/// A rejected JSON body as a clear error that names no internal type.
fn json_error(e: axum::extract::rejection::JsonRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::too_large();
    }
    ApiError::bad_request(
        "expected a JSON object {\"username\": \"...\", \"password\": \"...\"} with Content-Type: application/json",
    )
}

/// The body of `POST /api/v1/session`. Unknown fields are ignored.
#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    /// The login name (at most 256 bytes).
    username: String,
    /// At most 1024 bytes.
    password: String,
    /// The authenticator's current code, for accounts with a second factor.
    #[serde(default)]
    code: Option<String>,
    /// Or one of the one-time recovery codes.
    #[serde(default)]
    recovery_code: Option<String>,
}

/// The answer of a successful login (the cookies come with it).
#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// The login name.
    user: String,
    /// The CSRF token to send as `X-CSRF-Token` (also in the `veil_csrf` cookie).
    csrf: String,
    /// The password was set by an administrator: change it first.
    must_change_password: bool,
}

/// `POST /api/v1/session`: logs in; sets the session and CSRF cookies.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<LoginRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(json_error)?;
    if req.username.len() > 256 || req.password.len() > 1024 {
        return Err(ApiError::bad_request("username or password too long"));
    }
    let db = state.store.db.clone();
    let name = req.username.clone();
    let user = blocking(move || Ok(db.user_by_name(&name)?)).await?;
    let actor = user
        .as_ref()
        .map(|u| u.pseudonym.clone())
        .unwrap_or_else(|| "anonymous".into());
    let addr = peer.ip().to_string();
    let now = state.now();
    let login_event = |outcome: Outcome, detail: &str| {
        Event::new(actor.clone(), Audited::Login, "session")
            .outcome(outcome)
            .detail(detail)
            .client(peer.ip())
    };
    // Counted before the password is even checked, so parallel guesses
    // cannot all pass the throttle first.
    let known = user.as_ref().map(|u| u.id);
    if let Err(wait) = state.throttles.attempt(known, &addr, now) {
        state
            .record(
                Event::new(actor.clone(), Audited::LoginLocked, "session")
                    .outcome(Outcome::Denied)
                    .detail(format!("wait_s={}", wait.as_secs()))
                    .client(peer.ip()),
            )
            .await?;
        state
            .throttles
            .count_failure(crate::authn::LoginFailure::Locked);
        tracing::info!(actor = %actor, "login refused: locked out");
        return Err(crate::authn::locked_error(wait));
    }
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| veil_access::password::dummy_hash().to_owned());
    let disabled = user.as_ref().is_some_and(|u| u.disabled);
    let ok =
        state.throttles.verify_password(req.password, hash).await? && !disabled && user.is_some();
    let bad_credentials = || ApiError {
        status: StatusCode::UNAUTHORIZED,
        code: "bad_credentials",
        message: "wrong username or password".into(),
    };
    let Some(user) = user.filter(|_| ok) else {
        // An attempt on a disabled account is said so (the breach
        // register's signal), whatever the password was.
        let why = if disabled { "disabled" } else { "" };
        state.record(login_event(Outcome::Denied, why)).await?;
        state
            .throttles
            .count_failure(crate::authn::LoginFailure::Password);
        tracing::info!(actor = %actor, "login failed");
        return Err(bad_credentials());
    };
    if user.expired(now) {
        // The right password of a time-limited (maintenance) account
        // whose time is up: say so, so that its holder asks for an
        // extension rather than guessing again.
        state
            .record(login_event(Outcome::Denied, "expired"))
            .await?;
        tracing::info!(actor = %actor, "login refused: account expired");
        return Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "account_expired",
            message: "this account's time limit has passed; an administrator can extend it \
                      with a second person's approval"
                .into(),
        });
    }
    let store = state.store.clone();
    let (u2, code, rc) = (user.clone(), req.code, req.recovery_code);
    let step = blocking(move || {
        crate::authn::check_second_factor(&store, &u2, code.as_deref(), rc.as_deref(), now)
    })
    .await?;
    match step {
        crate::authn::SecondStep::Passed => {}
        crate::authn::SecondStep::Missing => {
            // The password was right: the next request brings the code.
            state.throttles.refund(user.id, &addr);
            state
                .record(login_event(Outcome::Denied, "second_factor=missing"))
                .await?;
            return Ok(crate::authn::second_factor_needed());
        }
        crate::authn::SecondStep::Wrong => {
            state
                .record(login_event(Outcome::Denied, "second_factor=wrong"))
                .await?;
            state
                .throttles
                .count_failure(crate::authn::LoginFailure::SecondFactor);
            tracing::info!(actor = %actor, "login failed: second factor");
            return Err(ApiError {
                status: StatusCode::UNAUTHORIZED,
                code: "bad_second_factor",
                message: "wrong or already used code".into(),
            });
        }
    }
    state.record(login_event(Outcome::Ok, "")).await?;
    state.throttles.succeeded(user.id, &addr);
    let token = auth::new_token();
    let csrf = auth::new_token();
    let db = state.store.db.clone();
    let (hash, csrf2, expires) = (
        auth::token_hash(&token),
        csrf.clone(),
        Time90k(now.0 + state.sessions.absolute_90k),
    );
    let uid = user.id;
    blocking(move || Ok(db.insert_session(&hash, uid, &csrf2, now, expires)?)).await?;
    tracing::info!(actor = %user.pseudonym, "login ok");
    let max_age = state.sessions.absolute_90k / TIME_UNITS_PER_SEC;
    let mut res = Json(LoginResponse {
        user: user.name.unwrap_or_default(),
        csrf: csrf.clone(),
        must_change_password: user.must_change_password,
    })
    .into_response();
    let h = res.headers_mut();
    h.append(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!(
            "{SESSION_COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict"
        ))
        .map_err(ApiError::internal)?,
    );
    h.append(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!(
            "{CSRF_COOKIE}={csrf}; Path=/; Max-Age={max_age}; Secure; SameSite=Strict"
        ))
        .map_err(ApiError::internal)?,
    );
    Ok(res)
}

/// Who the caller is.
#[derive(Serialize, ToSchema)]
pub struct Me {
    /// The login name.
    user: String,
    /// The pseudonym.
    id: String,
}

/// `GET /api/v1/session`: who am I.
pub async fn me(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<Me>, ApiError> {
    state.authorize(&s, Action::OwnSession, Resource::System)?;
    Ok(Json(Me {
        user: s.display_name,
        id: s.subject.pseudonym,
    }))
}

/// `DELETE /api/v1/session`: logs out.
pub async fn logout(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Result<Response, ApiError> {
    state.authorize(&s, Action::OwnSession, Resource::System)?;
    state
        .record(
            Event::new(s.subject.pseudonym.clone(), Audited::Logout, "session").client(peer.ip()),
        )
        .await?;
    let db = state.store.db.clone();
    let h = s.token_hash.clone();
    blocking(move || Ok(db.delete_session(&h)?)).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    for c in [SESSION_COOKIE, CSRF_COOKIE] {
        res.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_str(&format!("{c}=; Path=/; Max-Age=0; Secure; SameSite=Strict"))
                .map_err(ApiError::internal)?,
        );
    }
    Ok(res)
}

/// A camera in the list; the picture's size and codec are `null` until it
/// has produced a frame since the server started.
#[derive(Serialize, ToSchema)]
pub struct CameraSummary {
    /// Its id.
    id: i64,
    /// Its name.
    name: String,
    /// Picture width.
    width: Option<u16>,
    /// Picture height.
    height: Option<u16>,
    /// RFC 6381 codec, e.g. `avc1.42c01e`.
    codec: Option<String>,
}

/// Parses a camera id from the path, authorises `action` on it, then checks
/// that the camera exists (in that order, so a caller without the permission
/// cannot tell which ids exist).
pub(crate) async fn authorized_camera(
    state: &AppState,
    s: &Session,
    action: Action,
    raw: &str,
) -> Result<veil_store::db::CameraRow, ApiError> {
    let id: i64 = raw
        .parse()
        .map_err(|_| ApiError::not_found(format!("no camera {raw:?}")))?;
    let db = state.store.db.clone();
    let cams = blocking(move || Ok(db.cameras()?)).await?;
    let cam = cams.into_iter().find(|c| c.id == CameraId(id));
    // Authorised before "not found" is told, so ids cannot be probed.
    state.authorize(s, action, camera_resource(CameraId(id), cam.as_ref()))?;
    cam.ok_or_else(|| ApiError::not_found(format!("no camera {id}")))
}

/// The policy engine's view of a camera.
pub(crate) fn camera_resource(id: CameraId, cam: Option<&veil_store::db::CameraRow>) -> Resource {
    Resource::Camera {
        id,
        group: cam.and_then(|c| c.group.clone()),
    }
}

/// The policy engine's view of recorded video of `cam` from `start`.
pub(crate) fn recording_resource(cam: &veil_store::db::CameraRow, start: Time90k) -> Resource {
    Resource::Recording {
        camera: cam.id,
        group: cam.group.clone(),
        start,
    }
}

/// `GET /api/v1/cameras`.
pub async fn cameras(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<Vec<CameraSummary>>, ApiError> {
    state.authorize(&s, Action::ListCameras, Resource::System)?;
    let db = state.store.db.clone();
    let cams = blocking(move || Ok(db.cameras()?)).await?;
    let mut out = Vec::new();
    for c in cams {
        if !state.allowed(&s, Action::ListCameras, camera_resource(c.id, Some(&c))) {
            continue;
        }
        let live = state.live.latest_params(c.id);
        out.push(CameraSummary {
            id: c.id.0,
            name: c.name,
            width: live.as_ref().map(|p| p.width),
            height: live.as_ref().map(|p| p.height),
            codec: live.as_ref().map(|p| p.rfc6381_codec()),
        });
    }
    Ok(Json(out))
}

fn time_param(q: &HashMap<String, String>, name: &str) -> Result<Option<Time90k>, ApiError> {
    match q.get(name) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => Time90k::parse_rfc3339(v).map(Some).ok_or_else(|| {
            ApiError::bad_request(format!(
                "{name} must be an RFC 3339 time such as 2026-11-23T10:00:00Z, got {v:?}"
            ))
        }),
    }
}

pub(crate) fn interval(
    q: &HashMap<String, String>,
    now: Time90k,
    required: bool,
) -> Result<(Time90k, Time90k), ApiError> {
    let start = time_param(q, "start")?;
    let end = time_param(q, "end")?;
    if required && (start.is_none() || end.is_none()) {
        return Err(ApiError::bad_request(
            "start and end are required (RFC 3339)",
        ));
    }
    let end = end.unwrap_or(Time90k(now.0 + TIME_UNITS_PER_SEC));
    let start = start.unwrap_or(Time90k(end.0 - 24 * 3600 * TIME_UNITS_PER_SEC));
    if end <= start {
        return Err(ApiError::bad_request("end must be after start"));
    }
    Ok((start, end))
}

/// A run: consecutive segments of one continuous recording.
#[derive(Serialize, ToSchema)]
pub struct Run {
    /// RFC 3339.
    start: String,
    /// RFC 3339 (exclusive).
    end: String,
}

impl Run {
    pub(crate) fn new(start: Time90k, end: Time90k) -> Run {
        Run {
            start: start.to_rfc3339(),
            end: end.to_rfc3339(),
        }
    }
}

/// The recorded runs of an interval, oldest first.
#[derive(Serialize, ToSchema)]
pub struct Recordings {
    /// The runs.
    recordings: Vec<Run>,
}

/// `GET /api/v1/cameras/{id}/recordings?start=&end=`: recorded runs.
pub async fn recordings(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Recordings>, ApiError> {
    let cam = authorized_camera(&state, &s, Action::Playback, &id).await?;
    let (start, end) = interval(&q, state.now(), false)?;
    state.authorize(&s, Action::Playback, recording_resource(&cam, start))?;
    let store = state.store.clone();
    let runs = blocking(move || Ok(store.default_runs(cam.id, start, end)?)).await?;
    let runs: Vec<Run> = runs
        .into_iter()
        .map(|(s, e)| Run {
            start: s.to_rfc3339(),
            end: e.to_rfc3339(),
        })
        .collect();
    Ok(Json(Recordings { recordings: runs }))
}

/// `GET /api/v1/cameras/{id}/video.mp4?start=&end=[&rendition=&justification=]`:
/// an MP4 built from the index, with `ETag` and single `Range` support, of
/// the camera's default view (`main` or `protected`), or with
/// `rendition=original` of its original through the lift path
/// ([`crate::lift`]). The access is recorded before any byte is sent.
pub async fn video(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // The request's player: bound to a data-subject request's scope.
    if let Some(r) = q.get("request") {
        return crate::requests::play(&state, &s, peer, &id, r, &q, &headers).await;
    }
    let rendition = crate::lift::rendition(&q)?;
    let action = match rendition {
        crate::lift::Rendition::Default => Action::Playback,
        crate::lift::Rendition::Original => Action::LiftMasks,
    };
    let cam = authorized_camera(&state, &s, action, &id).await?;
    let (start, end) = interval(&q, state.now(), true)?;
    state.authorize(&s, action, recording_resource(&cam, start))?;
    if end.0 - start.0 > MAX_PLAYBACK_SPAN_90K {
        return Err(ApiError::bad_request(
            "a playback request may cover at most 24 hours",
        ));
    }
    if rendition == crate::lift::Rendition::Original {
        let grant = crate::lift::lift(&state, &s, peer, &cam, (start, end), &q, &headers).await?;
        let (store, g) = (state.store.clone(), grant.clone());
        let segs = blocking(move || Ok(store.original_segments(&g, start, end)?)).await?;
        let segs: Vec<Arc<veil_store::Segment>> = segs.into_iter().map(Arc::new).collect();
        let plan = playback::plan(&segs, start, end)
            .ok_or_else(|| ApiError::not_found("no original recording in this interval"))?;
        let served_end = Time90k(plan.start_90k.0 + plan.duration_90k);
        state.authorize(&s, action, recording_resource(&cam, plan.start_90k))?;
        crate::protections::refuse_held_by(
            &state,
            &s.subject.pseudonym,
            cam.id,
            plan.start_90k,
            served_end,
        )
        .await?;
        return serve(&state, plan, &headers, Some(grant));
    }
    let store = state.store.clone();
    let segs = blocking(move || Ok(store.default_segments(cam.id, start, end)?)).await?;
    let segs: Vec<Arc<veil_store::Segment>> = segs.into_iter().map(Arc::new).collect();
    let plan = playback::plan(&segs, start, end)
        .ok_or_else(|| ApiError::not_found("no recording in this interval"))?;
    // What is served starts at the keyframe at or before `start`: that
    // interval is the one authorised (the playback window) and recorded.
    let served_start = plan.start_90k;
    let served_end = Time90k(plan.start_90k.0 + plan.duration_90k);
    state.authorize(&s, Action::Playback, recording_resource(&cam, served_start))?;
    crate::protections::refuse_held_by(
        &state,
        &s.subject.pseudonym,
        cam.id,
        served_start,
        served_end,
    )
    .await?;
    state
        .record(
            Event::new(
                s.subject.pseudonym.clone(),
                Audited::Playback,
                format!("camera:{}", cam.id),
            )
            .detail(format!(
                "rendition={} start={} end={} requested_start={} requested_end={}",
                segs_rendition(&plan),
                served_start.to_rfc3339(),
                served_end.to_rfc3339(),
                start.to_rfc3339(),
                end.to_rfc3339()
            ))
            .client(peer.ip()),
        )
        .await?;
    serve(&state, plan, &headers, None)
}

/// The renditions a plan serves (`main`, `protected`, or both across the
/// camera's first mask), for the access record.
fn segs_rendition(plan: &Mp4Plan) -> String {
    let mut names: Vec<&str> = Vec::new();
    for p in &plan.parts {
        let r = p.segment.row.rendition.as_str();
        if !names.contains(&r) {
            names.push(r);
        }
    }
    names.join(",")
}

/// Answers a planned MP4 (whole or one range), reading `original` segments
/// with `lift`'s grant. The caller has recorded the access.
pub(crate) fn serve(
    state: &AppState,
    plan: Mp4Plan,
    headers: &HeaderMap,
    lift: Option<Arc<veil_store::LiftGrant>>,
) -> Result<Response, ApiError> {
    let range = range::parse(
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
        plan.len,
    );
    let plan = Arc::new(plan);
    let (status, from, to) = match range {
        RangeRequest::Full => (StatusCode::OK, 0, plan.len),
        RangeRequest::Partial(a, b) => (StatusCode::PARTIAL_CONTENT, a, b),
        RangeRequest::Unsatisfiable => {
            let mut r = ApiError {
                status: StatusCode::RANGE_NOT_SATISFIABLE,
                code: "bad_range",
                message: format!(
                    "the requested range cannot be satisfied for the {} bytes of the file",
                    plan.len
                ),
            }
            .into_response();
            r.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{}", plan.len))
                    .map_err(ApiError::internal)?,
            );
            return Ok(r);
        }
    };
    let mut res = Response::new(Body::from_stream(body_stream(
        state.store.clone(),
        plan.clone(),
        from,
        to,
        lift,
    )));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(to - from));
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&plan.etag).map_err(ApiError::internal)?,
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {}-{}/{}", from, to - 1, plan.len))
                .map_err(ApiError::internal)?,
        );
    }
    Ok(res)
}

/// The bytes `[from, to)` of the planned file, produced lazily: the header at
/// once, then each touched segment decrypted in turn. A segment that fails to
/// read ends the response early (it is marked and skipped by later requests).
pub fn body_stream(
    store: veil_store::Store,
    plan: Arc<Mp4Plan>,
    from: u64,
    to: u64,
    lift: Option<Arc<veil_store::LiftGrant>>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    // Step 0 is the header; step i >= 1 is part i - 1. The last segment read
    // is kept: with audio or metadata a segment is several parts in a row.
    type Cached = Option<(veil_base::SegmentId, Arc<zeroize::Zeroizing<Vec<u8>>>)>;
    futures::stream::try_unfold((0usize, Cached::None), move |(step, cached)| {
        let store = store.clone();
        let plan = plan.clone();
        let lift = lift.clone();
        async move {
            let mut step = step;
            let mut cached: Cached = cached;
            loop {
                if step == 0 {
                    step = 1;
                    let hl = plan.header.len() as u64;
                    if from < hl {
                        let chunk = Bytes::copy_from_slice(
                            &plan.header[from as usize..to.min(hl) as usize],
                        );
                        return Ok(Some((chunk, (step, cached))));
                    }
                    continue;
                }
                let Some(part) = plan.parts.get(step - 1) else {
                    return Ok(None);
                };
                step += 1;
                let p_from = part.file_offset;
                let p_to = p_from + (part.media_to - part.media_from);
                if p_to <= from || p_from >= to {
                    if p_from >= to {
                        return Ok(None);
                    }
                    continue;
                }
                let id = part.segment.row.id;
                let media = match cached.take() {
                    Some((c, m)) if c == id => m,
                    _ => Arc::new(
                        store
                            .read_media_with(&part.segment, lift.as_deref())
                            .await
                            .map_err(|e| std::io::Error::other(e.to_string()))?,
                    ),
                };
                let a = from.max(p_from) - p_from + part.media_from;
                let b = to.min(p_to) - p_from + part.media_from;
                let chunk = Bytes::copy_from_slice(&media[a as usize..b as usize]);
                return Ok(Some((chunk, (step, Some((id, media))))));
            }
        }
    })
}
