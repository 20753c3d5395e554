//! Evidence locks (R3) and restriction holds (R4) over HTTP.
//!
//! A lock keeps recordings of some cameras over an interval past their
//! retention, for a reason, until a review date (required, at most
//! [`MAX_REVIEW_SETTING`] days ahead, default one year); `locks.create`,
//! `locks.view`, `locks.extend` (a new review date needs a new reason) and
//! `locks.release` (four-eyes when configured: the release consumes an
//! approval for `lock:ID`) on every camera it covers. A hold keeps video the
//! same way and, besides, nobody may view, export or delete it: playback and
//! live of a held interval answer 403 naming the hold. Only `holds.manage`
//! (the data-protection officer) creates, sees and releases holds. Every step
//! is recorded in the access record before it takes effect; the keys are
//! handled by the store (`veil_store::protect`).

use std::fmt::Write as _;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Html;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use veil_access::{Action, Resource};
use veil_audit::{Action as Audited, Event};
use veil_base::{CameraId, Time90k, TIME_UNITS_PER_SEC};
use veil_store::db::{CameraRow, NewProtection, ProtectionKind, ProtectionRow};

use crate::auth::Session;
use crate::bookmarks::parse_time;
use crate::error::{json_body, ApiError};
use crate::{blocking, AppState};

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

/// Settings key of the longest time a lock may run before its review, in
/// days (written by the server from its configuration).
pub const MAX_REVIEW_SETTING: &str = "lock_max_review_days";
/// The default longest time to a lock's review: one year.
pub const DEFAULT_MAX_REVIEW_DAYS: u32 = 365;
/// The shortest and longest reason, in characters (after trimming).
pub const REASON_CHARS: std::ops::RangeInclusive<usize> = 10..=500;
/// The most cameras one lock or hold covers.
pub const MAX_CAMERAS: usize = 64;

const DAY_90K: i64 = 86_400 * TIME_UNITS_PER_SEC;

/// A camera a lock or hold covers.
#[derive(Serialize, ToSchema)]
pub struct CoveredCamera {
    /// Its id.
    pub id: i64,
    /// Its name (`null` for a camera removed since).
    pub name: Option<String>,
}

/// When and why a lock was last extended.
#[derive(Serialize, ToSchema)]
pub struct LockExtended {
    /// When (RFC 3339).
    #[schema(format = DateTime)]
    pub time: String,
    /// Why.
    pub reason: String,
}

/// When, by whom and why a lock or hold was released.
#[derive(Serialize, ToSchema)]
pub struct Release {
    /// When (RFC 3339).
    #[schema(format = DateTime)]
    pub time: String,
    /// The login name of who released it; `null` for the system (a review
    /// date reached) or an erased account.
    pub by: Option<String>,
    /// Why.
    pub reason: String,
}

/// A lock or hold as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct ProtectionJson {
    /// Its id.
    pub id: i64,
    /// `lock` or `hold`.
    #[schema(value_type = String)]
    pub kind: &'static str,
    /// `active`, `review_due` (a lock past its review date, kept because it
    /// only notifies) or `released`.
    #[schema(value_type = String)]
    pub state: &'static str,
    /// The cameras covered.
    pub cameras: Vec<CoveredCamera>,
    /// Start of the covered interval (RFC 3339).
    #[schema(format = DateTime)]
    pub start: String,
    /// End of the covered interval (RFC 3339, exclusive).
    #[schema(format = DateTime)]
    pub end: String,
    /// Why it was created.
    pub reason: String,
    /// The owner's login name (`null` once erased).
    pub owner: Option<String>,
    /// When it was created (RFC 3339).
    #[schema(format = DateTime)]
    pub created: String,
    /// Locks: the review date (RFC 3339).
    #[schema(format = DateTime)]
    pub review: Option<String>,
    /// Locks: what happens at the review date without extension: `release`
    /// or `notify`.
    #[schema(value_type = Option<String>)]
    pub on_review: Option<&'static str>,
    /// Locks: the last extension.
    pub extended: Option<LockExtended>,
    /// The release, once released.
    pub released: Option<Release>,
    /// How many recorded segments it keeps.
    pub segments: i64,
    /// Whether the caller may extend it (active locks, `locks.extend`).
    pub can_extend: bool,
    /// Whether the caller may release it (active; `locks.release` or
    /// `holds.manage`).
    pub can_release: bool,
}

/// The answer of `GET /api/v1/locks` and `GET /api/v1/holds`.
#[derive(Serialize, ToSchema)]
pub struct ProtectionList {
    /// Active first, then released; newest first.
    pub items: Vec<ProtectionJson>,
    /// The longest time to a lock's review, in days.
    pub max_review_days: u32,
    /// The cameras the caller may cover with a new one (`locks.create`, or
    /// `holds.manage`: every camera).
    pub choices: Vec<CoveredCamera>,
}

/// The body of `POST /api/v1/locks`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLock {
    /// The cameras (1 to 64 ids).
    pub cameras: Vec<i64>,
    /// Start of the interval (RFC 3339).
    #[schema(format = DateTime)]
    pub start: String,
    /// End of the interval (RFC 3339), after `start`.
    #[schema(format = DateTime)]
    pub end: String,
    /// Why (10 to 500 characters).
    #[schema(min_length = 10, max_length = 500)]
    pub reason: String,
    /// The review date (RFC 3339): in the future, at most the configured
    /// maximum ahead (one year by default). Required: a lock is never
    /// indefinite.
    #[schema(format = DateTime)]
    pub review: Option<String>,
    /// At the review date without extension: `release` (default) or
    /// `notify`.
    #[serde(default)]
    pub on_review: Option<String>,
}

/// The body of `POST /api/v1/holds`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHold {
    /// The cameras (1 to 64 ids).
    pub cameras: Vec<i64>,
    /// Start of the interval (RFC 3339).
    #[schema(format = DateTime)]
    pub start: String,
    /// End of the interval (RFC 3339), after `start`.
    #[schema(format = DateTime)]
    pub end: String,
    /// Why: the restriction request or decision it serves (10 to 500
    /// characters).
    #[schema(min_length = 10, max_length = 500)]
    pub reason: String,
}

/// The body of `POST /api/v1/locks/{id}/extend`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LockExtension {
    /// The new review date (RFC 3339), later than the current one and at most
    /// the configured maximum from now.
    #[schema(format = DateTime)]
    pub review: String,
    /// Why it is extended (10 to 500 characters); required.
    #[schema(min_length = 10, max_length = 500)]
    pub reason: String,
}

/// The body of `POST /api/v1/locks/{id}/release` and
/// A restriction hold over one camera and interval for a data-subject
/// request (`crate::requests::restrict`): the same checks, record and
/// creation as `POST /api/v1/holds`; its id.
pub(crate) async fn hold_for_request(
    state: &AppState,
    s: &Session,
    peer: SocketAddr,
    camera: CameraId,
    start: Time90k,
    end: Time90k,
    reason: String,
) -> Result<i64, ApiError> {
    state.authorize(s, Action::HoldManage, Resource::System)?;
    let now = state.now();
    let (start, end) = interval(&start.to_rfc3339(), &end.to_rfc3339(), now)?;
    let reason = check_reason("reason", &reason)?;
    let cams = requested_cameras(state, s, Action::HoldManage, &[camera.0]).await?;
    let p = NewProtection {
        kind: ProtectionKind::Hold,
        cameras: cams.iter().map(|c| c.id).collect(),
        start,
        end,
        reason,
        owner: Some(s.subject.user),
        created: now,
        review: None,
        release_on_review: false,
        key_version: 1,
    };
    let (_, Json(j)) = create(state, s, peer, p, cams, Audited::HoldChange).await?;
    Ok(j.id)
}

/// `POST /api/v1/holds/{id}/release`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// Why (10 to 500 characters).
    #[schema(min_length = 10, max_length = 500)]
    pub reason: String,
}

/// 403 for video under restriction holds, naming them.
pub fn held(ids: &[i64]) -> ApiError {
    let list = ids
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    ApiError {
        status: StatusCode::FORBIDDEN,
        code: "held",
        message: format!(
            "restriction hold {list} covers this video: nobody may view, export or delete it \
             until the hold is released"
        ),
    }
}

/// Refuses access to `camera` over `[start, end)` when a restriction hold
/// covers any of it.
pub async fn refuse_held(
    state: &AppState,
    camera: CameraId,
    start: Time90k,
    end: Time90k,
) -> Result<(), ApiError> {
    let db = state.store.db.clone();
    let end = Time90k(end.0.max(start.0 + 1));
    let ids = blocking(move || Ok(db.holds_overlapping(camera, start, end)?)).await?;
    if ids.is_empty() {
        Ok(())
    } else {
        Err(held(&ids))
    }
}

/// [`refuse_held`] for a person's request: a refusal is also recorded as
/// `access.denied` (`reason=held`, the holds and the interval) for `actor`,
/// the breach register's signal of attempts on held video.
pub async fn refuse_held_by(
    state: &AppState,
    actor: &str,
    camera: CameraId,
    start: Time90k,
    end: Time90k,
) -> Result<(), ApiError> {
    let db = state.store.db.clone();
    let end = Time90k(end.0.max(start.0 + 1));
    let ids = blocking(move || Ok(db.holds_overlapping(camera, start, end)?)).await?;
    if ids.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    state.record_refusal(
        actor,
        format!("camera:{camera}"),
        format!(
            "reason=held holds={} start={} end={}",
            list.join(","),
            start.to_rfc3339(),
            end.to_rfc3339()
        ),
    );
    Err(held(&ids))
}

fn kind_path(kind: ProtectionKind) -> &'static str {
    match kind {
        ProtectionKind::Lock => "lock",
        ProtectionKind::Hold => "hold",
    }
}

fn check_reason(name: &str, reason: &str) -> Result<String, ApiError> {
    let r = reason.trim();
    let n = r.chars().count();
    if !REASON_CHARS.contains(&n) {
        return Err(ApiError::bad_request(format!(
            "{name} is required: {} to {} characters saying why, got {n}",
            REASON_CHARS.start(),
            REASON_CHARS.end()
        )));
    }
    if r.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "{name} must not contain control characters (line breaks, tabs, …)"
        )));
    }
    Ok(r.to_owned())
}

/// The longest time to a lock's review, in days.
pub fn max_review_days(db: &veil_store::Db) -> Result<u32, ApiError> {
    Ok(match db.setting(MAX_REVIEW_SETTING)? {
        Some(v) => {
            v.parse().ok().filter(|d| *d >= 1).ok_or_else(|| {
                ApiError::internal("stored lock review maximum is not a day count")
            })?
        }
        None => DEFAULT_MAX_REVIEW_DAYS,
    })
}

async fn all_cameras(state: &AppState) -> Result<Vec<CameraRow>, ApiError> {
    let db = state.store.db.clone();
    blocking(move || Ok(db.cameras()?)).await
}

/// The cameras of a request: 1 to [`MAX_CAMERAS`] distinct, existing ids,
/// each allowed `action`; unknown ones are named (after authorisation, so
/// ids cannot be probed).
async fn requested_cameras(
    state: &AppState,
    s: &Session,
    action: Action,
    ids: &[i64],
) -> Result<Vec<CameraRow>, ApiError> {
    if ids.is_empty() || ids.len() > MAX_CAMERAS {
        return Err(ApiError::bad_request(format!(
            "cameras must list 1 to {MAX_CAMERAS} camera ids"
        )));
    }
    let all = all_cameras(state).await?;
    let mut out: Vec<CameraRow> = Vec::with_capacity(ids.len());
    for &raw in ids {
        let id = CameraId(raw);
        let cam = all.iter().find(|c| c.id == id);
        state.authorize(s, action, crate::api::camera_resource(id, cam))?;
        let cam =
            cam.ok_or_else(|| ApiError::bad_request(format!("cameras: there is no camera {raw}")))?;
        if out.iter().any(|c| c.id == id) {
            return Err(ApiError::bad_request(format!(
                "cameras: camera {raw} is listed twice"
            )));
        }
        out.push(cam.clone());
    }
    Ok(out)
}

fn interval(start: &str, end: &str, now: Time90k) -> Result<(Time90k, Time90k), ApiError> {
    let start = parse_time("start", start)?;
    let end = parse_time("end", end)?;
    if end <= start {
        return Err(ApiError::bad_request("end must be after start"));
    }
    if start > now {
        return Err(ApiError::bad_request(
            "start must not be in the future: only recorded video can be kept",
        ));
    }
    Ok((start, end))
}

fn state_of(p: &ProtectionRow, now: Time90k) -> &'static str {
    if !p.is_active() {
        "released"
    } else if p.review.is_some_and(|r| r <= now) {
        "review_due"
    } else {
        "active"
    }
}

async fn user_name(state: &AppState, id: Option<veil_base::UserId>) -> Option<String> {
    let id = id?;
    let db = state.store.db.clone();
    blocking(move || Ok(db.user(id)?))
        .await
        .ok()
        .flatten()
        .and_then(|u| u.name)
}

async fn to_json(
    state: &AppState,
    s: &Session,
    cams: &[CameraRow],
    p: ProtectionRow,
) -> ProtectionJson {
    let now = state.now();
    let active = p.is_active();
    let (extend, release) = match p.kind {
        ProtectionKind::Lock => (Some(Action::LockExtend), Action::LockRelease),
        ProtectionKind::Hold => (None, Action::HoldManage),
    };
    let can_extend = active && extend.is_some_and(|a| allowed_on_all(state, s, a, cams, &p));
    let can_release = active && allowed_on_all(state, s, release, cams, &p);
    let released = match &p.released {
        Some((t, by, reason)) => Some(Release {
            time: t.to_rfc3339(),
            by: user_name(state, *by).await,
            reason: reason.clone(),
        }),
        None => None,
    };
    ProtectionJson {
        id: p.id,
        kind: kind_path(p.kind),
        state: state_of(&p, now),
        cameras: p
            .cameras
            .iter()
            .map(|id| CoveredCamera {
                id: id.0,
                name: cams.iter().find(|c| c.id == *id).map(|c| c.name.clone()),
            })
            .collect(),
        start: p.start.to_rfc3339(),
        end: p.end.to_rfc3339(),
        owner: user_name(state, p.owner).await,
        created: p.created.to_rfc3339(),
        review: p.review.map(|t| t.to_rfc3339()),
        on_review: (p.kind == ProtectionKind::Lock).then_some(if p.release_on_review {
            "release"
        } else {
            "notify"
        }),
        extended: p.extended.as_ref().map(|(t, r)| LockExtended {
            time: t.to_rfc3339(),
            reason: r.clone(),
        }),
        released,
        segments: p.segments,
        can_extend,
        can_release,
        reason: p.reason,
    }
}

fn camera_list(cams: &[CameraRow]) -> String {
    cams.iter()
        .map(|c| c.id.0.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether `s` may `action` on every camera `p` covers.
fn allowed_on_all(
    state: &AppState,
    s: &Session,
    action: Action,
    cams: &[CameraRow],
    p: &ProtectionRow,
) -> bool {
    p.cameras.iter().all(|id| {
        state.allowed(
            s,
            action,
            crate::api::camera_resource(*id, cams.iter().find(|c| c.id == *id)),
        )
    })
}

async fn list(
    state: &AppState,
    s: &Session,
    kind: ProtectionKind,
    view: Action,
) -> Result<ProtectionList, ApiError> {
    state.authorize(s, view, Resource::System)?;
    let db = state.store.db.clone();
    let rows = blocking(move || Ok(db.protections(false)?)).await?;
    let cams = all_cameras(state).await?;
    let mut items = Vec::new();
    for p in rows {
        if p.kind == kind && allowed_on_all(state, s, view, &cams, &p) {
            items.push(to_json(state, s, &cams, p).await);
        }
    }
    let create = match kind {
        ProtectionKind::Lock => Action::LockCreate,
        ProtectionKind::Hold => Action::HoldManage,
    };
    let choices = cams
        .iter()
        .filter(|c| state.allowed(s, create, crate::api::camera_resource(c.id, Some(c))))
        .map(|c| CoveredCamera {
            id: c.id.0,
            name: Some(c.name.clone()),
        })
        .collect();
    let db = state.store.db.clone();
    let max_review_days = blocking(move || max_review_days(&db)).await?;
    Ok(ProtectionList {
        items,
        max_review_days,
        choices,
    })
}

/// The protection `raw` of `kind`, if `s` may `action` on all its cameras.
async fn one(
    state: &AppState,
    s: &Session,
    kind: ProtectionKind,
    action: Action,
    raw: &str,
) -> Result<(ProtectionRow, Vec<CameraRow>), ApiError> {
    state.authorize(s, action, Resource::System)?;
    let not_found = || ApiError::not_found(format!("no {} {raw:?}", kind_path(kind)));
    let id: i64 = raw.parse().map_err(|_| not_found())?;
    let db = state.store.db.clone();
    let p = blocking(move || Ok(db.protection(id)?))
        .await?
        .filter(|p| p.kind == kind)
        .ok_or_else(not_found)?;
    let cams = all_cameras(state).await?;
    for id in &p.cameras {
        state.authorize(
            s,
            action,
            crate::api::camera_resource(*id, cams.iter().find(|c| c.id == *id)),
        )?;
    }
    Ok((p, cams))
}

fn event(s: &Session, action: Audited, resource: String, peer: SocketAddr) -> Event {
    Event::new(s.subject.pseudonym.clone(), action, resource).client(peer.ip())
}

async fn create(
    state: &AppState,
    s: &Session,
    peer: SocketAddr,
    p: NewProtection,
    cams: Vec<CameraRow>,
    audited: Audited,
) -> Result<(StatusCode, Json<ProtectionJson>), ApiError> {
    let mut detail = format!(
        "kind={} cameras={} start={} end={}",
        p.kind.as_str(),
        camera_list(&cams),
        p.start.to_rfc3339(),
        p.end.to_rfc3339()
    );
    if let Some(r) = p.review {
        let _ = write!(
            detail,
            " review={} on_review={}",
            r.to_rfc3339(),
            if p.release_on_review {
                "release"
            } else {
                "notify"
            }
        );
    }
    // The reason is recorded as the entry's justification.
    state
        .record(
            event(s, audited, format!("{}:new", p.kind.as_str()), peer)
                .detail(detail)
                .justification(p.reason.clone()),
        )
        .await?;
    let (id, _) = state.store.create_protection(p).await?;
    let db = state.store.db.clone();
    let row = blocking(move || Ok(db.protection(id)?))
        .await?
        .ok_or_else(|| ApiError::internal("a new protection is not there"))?;
    Ok((
        StatusCode::CREATED,
        Json(to_json(state, s, &cams, row).await),
    ))
}

/// `GET /api/v1/locks`: the evidence locks on cameras the caller may see
/// locks of.
pub async fn list_locks(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<ProtectionList>, ApiError> {
    Ok(Json(
        list(&state, &s, ProtectionKind::Lock, Action::LockView).await?,
    ))
}

/// `GET /api/v1/locks/{id}`.
pub async fn get_lock(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ProtectionJson>, ApiError> {
    let (p, cams) = one(&state, &s, ProtectionKind::Lock, Action::LockView, &id).await?;
    Ok(Json(to_json(&state, &s, &cams, p).await))
}

/// `POST /api/v1/locks`: locks the recordings of cameras over an interval;
/// 201 with the lock.
pub async fn create_lock(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body<NewLock>,
) -> Result<(StatusCode, Json<ProtectionJson>), ApiError> {
    state.authorize(&s, Action::LockCreate, Resource::System)?;
    let req = json_body(body)?;
    let now = state.now();
    let (start, end) = interval(&req.start, &req.end, now)?;
    let reason = check_reason("reason", &req.reason)?;
    let review = req
        .review
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("review is required: a lock is never indefinite"))?;
    let review = parse_time("review", review)?;
    let db = state.store.db.clone();
    let max = blocking(move || max_review_days(&db)).await?;
    check_review(review, now, max)?;
    let release_on_review = match req.on_review.as_deref() {
        None | Some("release") => true,
        Some("notify") => false,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "on_review must be \"release\" or \"notify\", got {other:?}"
            )))
        }
    };
    let cams = requested_cameras(&state, &s, Action::LockCreate, &req.cameras).await?;
    let p = NewProtection {
        kind: ProtectionKind::Lock,
        cameras: cams.iter().map(|c| c.id).collect(),
        start,
        end,
        reason,
        owner: Some(s.subject.user),
        created: now,
        review: Some(review),
        release_on_review,
        key_version: 1,
    };
    create(&state, &s, peer, p, cams, Audited::EvidenceLockCreate).await
}

fn check_review(review: Time90k, now: Time90k, max_days: u32) -> Result<(), ApiError> {
    if review <= now {
        return Err(ApiError::bad_request("review must be in the future"));
    }
    if review.0 - now.0 > i64::from(max_days) * DAY_90K {
        return Err(ApiError::bad_request(format!(
            "review must be at most {max_days} days from now"
        )));
    }
    Ok(())
}

/// `POST /api/v1/locks/{id}/extend`: moves the review date, with a new
/// reason.
pub async fn extend_lock(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    body: Body<LockExtension>,
) -> Result<Json<ProtectionJson>, ApiError> {
    let (p, cams) = one(&state, &s, ProtectionKind::Lock, Action::LockExtend, &id).await?;
    let req = json_body(body)?;
    let reason = check_reason("reason", &req.reason)?;
    let review = parse_time("review", &req.review)?;
    let now = state.now();
    let db = state.store.db.clone();
    let max = blocking(move || max_review_days(&db)).await?;
    check_review(review, now, max)?;
    if !p.is_active() {
        return Err(conflict(format!("lock {} is released", p.id)));
    }
    if p.review.is_some_and(|r| review <= r) {
        return Err(ApiError::bad_request(
            "review must be later than the lock's current review date",
        ));
    }
    state
        .record(
            event(
                &s,
                Audited::EvidenceLockChange,
                format!("lock:{}", p.id),
                peer,
            )
            .detail(format!(
                "review={} previous_review={}",
                review.to_rfc3339(),
                p.review.map_or_else(String::new, |r| r.to_rfc3339())
            ))
            .justification(reason.clone()),
        )
        .await?;
    let db = state.store.db.clone();
    let pid = p.id;
    let row = blocking(move || {
        if !db.extend_protection(pid, review, &reason, now)? {
            return Err(conflict(format!("lock {pid} was released meanwhile")));
        }
        db.protection(pid)?
            .ok_or_else(|| ApiError::internal("an extended lock is not there"))
    })
    .await?;
    Ok(Json(to_json(&state, &s, &cams, row).await))
}

fn conflict(message: String) -> ApiError {
    ApiError {
        status: StatusCode::CONFLICT,
        code: "conflict",
        message,
    }
}

async fn release(
    state: &AppState,
    s: &Session,
    peer: SocketAddr,
    p: ProtectionRow,
    cams: Vec<CameraRow>,
    reason: String,
    audited: Audited,
) -> Result<Json<ProtectionJson>, ApiError> {
    if !p.is_active() {
        return Err(conflict(format!(
            "{} {} is released already",
            kind_path(p.kind),
            p.id
        )));
    }
    let resource = format!("{}:{}", kind_path(p.kind), p.id);
    let mut detail = format!("segments={}", p.segments);
    // Four-eyes: the approval is found first, named in the record, and
    // consumed only once the release is recorded.
    let mut approval = None;
    if p.kind == ProtectionKind::Lock {
        let db = state.store.db.clone();
        let needs = blocking(move || crate::admin::four_eyes(&db)).await?;
        if needs.iter().any(|x| x == Action::LockRelease.id()) {
            let (db, user, now, r) = (
                state.store.db.clone(),
                s.subject.user,
                state.now(),
                resource.clone(),
            );
            let a = blocking(move || {
                crate::admin::find_approval(&db, user, Action::LockRelease, &r, now)
            })
            .await?;
            let _ = write!(detail, " approval={}", a.id);
            approval = Some(a);
        }
    }
    state
        .record(
            event(s, audited, resource, peer)
                .detail(detail)
                .justification(reason.clone()),
        )
        .await?;
    if let Some(a) = approval {
        let (db, now) = (state.store.db.clone(), state.now());
        blocking(move || crate::admin::consume_approval(&db, &a, now)).await?;
    }
    let id = p.id;
    state
        .store
        .release_protection(id, Some(s.subject.user), reason)
        .await?
        .ok_or_else(|| conflict(format!("{} {id} was released meanwhile", kind_path(p.kind))))?;
    let db = state.store.db.clone();
    let row = blocking(move || Ok(db.protection(id)?))
        .await?
        .ok_or_else(|| ApiError::internal("a released protection is not there"))?;
    Ok(Json(to_json(state, s, &cams, row).await))
}

/// `POST /api/v1/locks/{id}/release`: hands the lock's recordings back to
/// normal retention (those past it are destroyed at the next run).
pub async fn release_lock(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    body: Body<ReleaseRequest>,
) -> Result<Json<ProtectionJson>, ApiError> {
    let (p, cams) = one(&state, &s, ProtectionKind::Lock, Action::LockRelease, &id).await?;
    let req = json_body(body)?;
    let reason = check_reason("reason", &req.reason)?;
    release(
        &state,
        &s,
        peer,
        p,
        cams,
        reason,
        Audited::EvidenceLockRelease,
    )
    .await
}

/// `GET /api/v1/holds`.
pub async fn list_holds(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<ProtectionList>, ApiError> {
    Ok(Json(
        list(&state, &s, ProtectionKind::Hold, Action::HoldManage).await?,
    ))
}

/// `GET /api/v1/holds/{id}`.
pub async fn get_hold(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ProtectionJson>, ApiError> {
    let (p, cams) = one(&state, &s, ProtectionKind::Hold, Action::HoldManage, &id).await?;
    Ok(Json(to_json(&state, &s, &cams, p).await))
}

/// `POST /api/v1/holds`: restricts the recordings of cameras over an
/// interval; 201 with the hold.
pub async fn create_hold(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body<NewHold>,
) -> Result<(StatusCode, Json<ProtectionJson>), ApiError> {
    state.authorize(&s, Action::HoldManage, Resource::System)?;
    let req = json_body(body)?;
    let now = state.now();
    let (start, end) = interval(&req.start, &req.end, now)?;
    let reason = check_reason("reason", &req.reason)?;
    let cams = requested_cameras(&state, &s, Action::HoldManage, &req.cameras).await?;
    let p = NewProtection {
        kind: ProtectionKind::Hold,
        cameras: cams.iter().map(|c| c.id).collect(),
        start,
        end,
        reason,
        owner: Some(s.subject.user),
        created: now,
        review: None,
        release_on_review: false,
        key_version: 1,
    };
    create(&state, &s, peer, p, cams, Audited::HoldChange).await
}

/// `POST /api/v1/holds/{id}/release`.
pub async fn release_hold(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    body: Body<ReleaseRequest>,
) -> Result<Json<ProtectionJson>, ApiError> {
    let (p, cams) = one(&state, &s, ProtectionKind::Hold, Action::HoldManage, &id).await?;
    let req = json_body(body)?;
    let reason = check_reason("reason", &req.reason)?;
    release(&state, &s, peer, p, cams, reason, Audited::HoldChange).await
}

/// `GET /locks`: the evidence locks page.
pub async fn locks_page(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    state.authorize(&s, Action::LockView, Resource::System)?;
    let shell = crate::shell::Shell::new(&state, &s, &headers, "/locks").await?;
    let may_create = state.allowed(&s, Action::LockCreate, Resource::System);
    let content = page_content(&shell, ProtectionKind::Lock, may_create);
    Ok(shell.page(shell.t("locks.title"), "protections.js", &content))
}

/// `GET /holds`: the restriction holds page.
pub async fn holds_page(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    state.authorize(&s, Action::HoldManage, Resource::System)?;
    let shell = crate::shell::Shell::new(&state, &s, &headers, "/holds").await?;
    let content = page_content(&shell, ProtectionKind::Hold, true);
    Ok(shell.page(shell.t("holds.title"), "protections.js", &content))
}

fn page_content(shell: &crate::shell::Shell, kind: ProtectionKind, may_create: bool) -> String {
    let k = kind_path(kind);
    let t = |key: &str| crate::ui::escape(shell.t(&format!("{k}s.{key}")));
    let c = |key: &str| crate::ui::escape(shell.t(&format!("protections.{key}")));
    let mut html = format!(
        r#"<h1>{title}</h1><p class="lede">{intro}</p>
<div id="protections" data-kind="{k}"></div>
<section aria-labelledby="list-h"><h2 id="list-h">{list}</h2>
<div class="table-scroll"><table id="protection-table"><thead><tr>
<th scope="col">{id}</th><th scope="col">{state}</th><th scope="col">{cameras}</th>
<th scope="col">{interval}</th><th scope="col">{reason}</th><th scope="col">{review}</th>
<th scope="col">{segments}</th><th scope="col">{actions}</th></tr></thead>
<tbody></tbody></table></div></section>"#,
        title = t("title"),
        intro = t("intro"),
        list = t("list"),
        id = c("id"),
        state = c("state"),
        cameras = c("cameras"),
        interval = c("interval"),
        reason = c("reason"),
        review = c("review"),
        segments = c("segments"),
        actions = c("actions"),
    );
    if may_create {
        let review = if kind == ProtectionKind::Lock {
            format!(
                r#"<label for="p-review">{review}</label><input id="p-review" name="review" type="datetime-local" step="1" required>
<label for="p-on-review">{on_review}</label><select id="p-on-review" name="on_review">
<option value="release">{release}</option><option value="notify">{notify}</option></select>"#,
                review = c("review"),
                on_review = c("on_review"),
                release = c("on_review.release"),
                notify = c("on_review.notify"),
            )
        } else {
            String::new()
        };
        let _ = write!(
            html,
            r#"<section aria-labelledby="new-h"><h2 id="new-h">{new}</h2>
<form id="protection-form" class="stack">
<fieldset><legend>{cameras}</legend><div id="p-cameras"></div></fieldset>
<label for="p-start">{start}</label><input id="p-start" name="start" type="datetime-local" step="1" required>
<label for="p-end">{end}</label><input id="p-end" name="end" type="datetime-local" step="1" required>
<label for="p-reason">{reason}</label><textarea id="p-reason" name="reason" minlength="10" maxlength="500" required></textarea>
{review}
<button type="submit">{create}</button></form></section>"#,
            new = t("new"),
            cameras = c("cameras"),
            start = c("start"),
            end = c("end"),
            reason = c("reason"),
            create = t("create"),
        );
    }
    html.push_str(r#"<p id="message" role="status" aria-live="polite"></p>"#);
    html
}
