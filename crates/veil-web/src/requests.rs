//! The register of data-subject requests over HTTP (D1–D4, Art. 12, 15–21):
//! `docs/design/dpo-desk.md`, "Data-subject requests".
//!
//! A request moves received → verified → searching → decided → completed,
//! or to refused (with a reason) from any open status; each step is its own
//! `POST`, checked against that order (409 naming the current status). The
//! due date is one calendar month from receipt ([`due_date`]), extended once
//! by at most two further months (Art. 12(3)). Every step is recorded first
//! as `dsr.step` on `request:ID` with `step=… kind=…` and ids: never the
//! subject, the contact, the description or a free-text reason (those live
//! in the request, under its own retention). Only `dsr.handle` holders use
//! these routes; the request's player ([`play`]) and an export naming the
//! request (`exports.rs`) are bound to the request's scope and intervals.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use veil_access::{Action, Resource};
use veil_audit::{Action as Audited, Event};
use veil_base::{CameraId, Time90k, TIME_UNITS_PER_SEC};
use veil_store::db::{
    DisclosureFilter, NewSubjectRequest, RequestInterval, RequestKind, RequestRecipient,
    RequestStatus, SubjectRequestRow,
};

use crate::auth::Session;
use crate::bookmarks::parse_time;
use crate::disclosures::text;
use crate::error::{json_body, ApiError};
use crate::ui::escape;
use crate::{blocking, AppState};

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

const DAY_90K: i64 = 86_400 * TIME_UNITS_PER_SEC;
/// The longest subject reference and contact, in characters.
pub const NAME_CHARS: std::ops::RangeInclusive<usize> = 1..=200;
/// The longest description, in characters.
pub const DESCRIPTION_CHARS: std::ops::RangeInclusive<usize> = 1..=5000;
/// The shortest and longest reason or note, in characters.
pub const REASON_CHARS: std::ops::RangeInclusive<usize> = 10..=2000;
/// The most cameras of a search scope.
pub const MAX_CAMERAS: usize = 64;
/// The most intervals marked on one request.
pub const MAX_INTERVALS: usize = 200;

/// The due date of a request received at `received`: one calendar month
/// later (UTC), clamped to the month's end (31 January → 28 or 29
/// February). Art. 12(3).
pub fn due_date(received: Time90k) -> Time90k {
    add_months(received, 1)
}

/// The latest date an extension may reach: two further months after the
/// original due date (Art. 12(3)).
pub fn latest_extension(due: Time90k) -> Time90k {
    add_months(due, 2)
}

fn add_months(t: Time90k, months: u32) -> Time90k {
    let c = t.to_chrono();
    Time90k::from_chrono(
        c.checked_add_months(chrono::Months::new(months))
            .unwrap_or(c),
    )
}

/// Whole days from `now` to `due` (negative once overdue), rounded down.
pub fn days_left(due: Time90k, now: Time90k) -> i64 {
    (due.0 - now.0).div_euclid(DAY_90K)
}

fn conflict(message: String) -> ApiError {
    ApiError {
        status: StatusCode::CONFLICT,
        code: "conflict",
        message,
    }
}

/// The marked interval as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct MarkedIntervalJson {
    /// Its id.
    pub id: i64,
    /// The camera.
    pub camera: i64,
    /// Start (RFC 3339).
    pub start: String,
    /// End (RFC 3339, exclusive).
    pub end: String,
    /// When it was marked (RFC 3339).
    pub marked: String,
    /// The restriction hold created over it.
    pub hold: Option<i64>,
    /// When it was erased (RFC 3339).
    pub erased_at: Option<String>,
    /// What the erasure removed, per rendition: `[{rendition, start, end,
    /// segments}]`.
    #[schema(value_type = Option<Object>)]
    pub erased: Option<Value>,
    /// What the erasure could not remove: `[{protection, kind, start, end,
    /// who_decides}]`.
    #[schema(value_type = Option<Object>)]
    pub erasure_blocked: Option<Value>,
}

/// A recipient told (or not).
#[derive(Serialize, ToSchema)]
pub struct RecipientRecordJson {
    /// The disclosure-register entry.
    pub disclosure: i64,
    /// Whether the recipient was informed.
    pub informed: bool,
    /// How, or why not.
    pub note: String,
    /// When it was recorded (RFC 3339).
    pub recorded: String,
}

/// A package made for the request.
#[derive(Serialize, ToSchema)]
pub struct PackageJson {
    /// The export's id.
    pub id: i64,
    /// The package id of its manifest.
    pub package_id: String,
    /// The export's state.
    pub state: String,
}

/// The search scope.
#[derive(Serialize, ToSchema)]
pub struct ScopeJson {
    /// Camera ids.
    pub cameras: Vec<i64>,
    /// Start (RFC 3339).
    pub start: String,
    /// End (RFC 3339, exclusive).
    pub end: String,
}

/// A request as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct RequestJson {
    /// Its id.
    pub id: i64,
    /// `access`, `erasure`, `restriction`, `objection`, `rectification` or
    /// `portability`.
    pub kind: String,
    /// `received`, `verified`, `searching`, `decided`, `completed` or
    /// `refused`.
    pub status: String,
    /// When it was received (RFC 3339).
    pub received: String,
    /// The original due date (RFC 3339).
    pub due: String,
    /// The extended due date (RFC 3339), once extended.
    pub extended_due: Option<String>,
    /// Why it was extended.
    pub extension_reason: Option<String>,
    /// Whole days to the due date in force (negative once overdue); `null`
    /// once closed.
    pub days_left: Option<i64>,
    /// Open and past the due date in force.
    pub overdue: bool,
    /// How the controller refers to the person.
    pub subject: String,
    /// How to reach them.
    pub contact: String,
    /// Their own description; `null` once removed (30 days after closing).
    pub description: Option<String>,
    /// How the identity was checked.
    pub verification_method: Option<String>,
    /// The search scope.
    pub scope: Option<ScopeJson>,
    /// `upheld` or `rejected`.
    pub decision: Option<String>,
    /// Why.
    pub decision_reason: Option<String>,
    /// The access-record entry (sequence number) of the change made.
    pub linked_change: Option<i64>,
    /// Why it was refused.
    pub refusal_reason: Option<String>,
    /// When it was closed (RFC 3339).
    pub closed: Option<String>,
    /// The steps the workflow allows now.
    pub next: Vec<&'static str>,
    /// The marked intervals (only on `GET /api/v1/requests/{id}`).
    pub intervals: Vec<MarkedIntervalJson>,
    /// The recipients told (only on `GET /api/v1/requests/{id}`).
    pub recipients: Vec<RecipientRecordJson>,
    /// The packages made for it (only on `GET /api/v1/requests/{id}`).
    pub packages: Vec<PackageJson>,
}

/// `GET /api/v1/requests`.
#[derive(Serialize, ToSchema)]
pub struct RequestList {
    /// Open requests by due date (overdue first), then closed ones.
    pub items: Vec<RequestJson>,
}

fn told_kind(kind: RequestKind) -> bool {
    matches!(
        kind,
        RequestKind::Erasure | RequestKind::Restriction | RequestKind::Rectification
    )
}

/// The steps allowed now.
fn next_steps(r: &SubjectRequestRow) -> Vec<&'static str> {
    let mut out = Vec::new();
    match r.status {
        RequestStatus::Received => out.push("verify"),
        RequestStatus::Verified => out.extend(["search", "decide"]),
        RequestStatus::Searching => out.extend(["search", "intervals", "decide"]),
        RequestStatus::Decided => {
            out.push("complete");
            if r.kind == RequestKind::Erasure && r.decision.as_deref() == Some("upheld") {
                out.push("erase");
            }
        }
        _ => {}
    }
    if r.kind == RequestKind::Restriction
        && matches!(r.status, RequestStatus::Searching | RequestStatus::Decided)
        && r.decision.as_deref() != Some("rejected")
    {
        out.push("restrict");
    }
    if !r.status.is_closed() {
        if r.extended.is_none() {
            out.push("extend");
        }
        out.push("refuse");
    }
    out
}

fn to_json(r: &SubjectRequestRow, now: Time90k) -> RequestJson {
    let due = r.due_in_force();
    let open = !r.status.is_closed();
    let parse = |s: &Option<String>| s.as_deref().and_then(|x| serde_json::from_str(x).ok());
    RequestJson {
        id: r.id,
        kind: r.kind.as_str().into(),
        status: r.status.as_str().into(),
        received: r.received.to_rfc3339(),
        due: r.due.to_rfc3339(),
        extended_due: r.extended.as_ref().map(|(t, _)| t.to_rfc3339()),
        extension_reason: r.extended.as_ref().map(|(_, x)| x.clone()),
        days_left: open.then(|| days_left(due, now)),
        overdue: open && due < now,
        subject: r.subject.clone(),
        contact: r.contact.clone(),
        description: r.description.clone(),
        verification_method: r.verified.as_ref().map(|(m, _, _)| m.clone()),
        scope: r.scope.as_ref().map(|(c, a, b)| ScopeJson {
            cameras: c.iter().map(|x| x.0).collect(),
            start: a.to_rfc3339(),
            end: b.to_rfc3339(),
        }),
        decision: r.decision.clone(),
        decision_reason: r.decision_reason.clone(),
        linked_change: r.linked_change,
        refusal_reason: r.refusal_reason.clone(),
        closed: r.closed.map(Time90k::to_rfc3339),
        next: next_steps(r),
        intervals: r
            .intervals
            .iter()
            .map(|i| MarkedIntervalJson {
                id: i.id,
                camera: i.camera.0,
                start: i.start.to_rfc3339(),
                end: i.end.to_rfc3339(),
                marked: i.marked.to_rfc3339(),
                hold: i.hold,
                erased_at: i.erased_at.map(Time90k::to_rfc3339),
                erased: parse(&i.erased),
                erasure_blocked: parse(&i.erasure_blocked),
            })
            .collect(),
        recipients: r
            .recipients
            .iter()
            .map(|x| RecipientRecordJson {
                disclosure: x.disclosure,
                informed: x.informed,
                note: x.note.clone(),
                recorded: x.recorded.to_rfc3339(),
            })
            .collect(),
        packages: r
            .packages
            .iter()
            .map(|(id, p, s)| PackageJson {
                id: *id,
                package_id: p.clone(),
                state: s.clone(),
            })
            .collect(),
    }
}

fn authorize(state: &AppState, s: &Session) -> Result<(), ApiError> {
    state.authorize(s, Action::SubjectRequests, Resource::System)
}

/// The request `raw` (after authorisation, so ids cannot be probed).
pub(crate) async fn load(state: &AppState, raw: &str) -> Result<SubjectRequestRow, ApiError> {
    let id: i64 = raw
        .parse()
        .map_err(|_| ApiError::not_found(format!("no request {raw:?}")))?;
    let db = state.store.db.clone();
    blocking(move || Ok(db.subject_request(id)?))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no request {id}")))
}

/// 409 unless `r` is in one of `allowed`, naming its status.
fn require(r: &SubjectRequestRow, step: &str, allowed: &[RequestStatus]) -> Result<(), ApiError> {
    if allowed.contains(&r.status) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
    Err(conflict(format!(
        "request {} is {}: {step} needs it to be {}",
        r.id,
        r.status.as_str(),
        names.join(" or ")
    )))
}

/// Records step `step` of request `r` (`dsr.step` on `request:ID`), with
/// `extra` facts (ids and times only).
async fn record_step(
    state: &AppState,
    s: &Session,
    peer: SocketAddr,
    id: i64,
    kind: RequestKind,
    step: &str,
    extra: &str,
) -> Result<i64, ApiError> {
    let mut detail = format!("step={step} kind={}", kind.as_str());
    if !extra.is_empty() {
        detail.push(' ');
        detail.push_str(extra);
    }
    state
        .record_seq(
            Event::new(
                s.subject.pseudonym.clone(),
                Audited::SubjectRequest,
                format!("request:{id}"),
            )
            .detail(detail)
            .client(peer.ip()),
        )
        .await
}

async fn answer(state: &AppState, id: i64) -> Result<Json<RequestJson>, ApiError> {
    let r = load(state, &id.to_string()).await?;
    Ok(Json(to_json(&r, state.now())))
}

/// A status change the store refused because another step came first.
fn raced(id: i64) -> ApiError {
    conflict(format!("request {id} changed meanwhile; reload it"))
}

/// `GET /api/v1/requests[?status=]`.
pub async fn list(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<RequestList>, ApiError> {
    authorize(&state, &s)?;
    let status = match q.get("status").map(String::as_str) {
        None | Some("") => None,
        Some(x) => Some(RequestStatus::parse(x).ok_or_else(|| {
            ApiError::bad_request(format!(
                "status must be received, verified, searching, decided, completed or refused, \
                 got {x:?}"
            ))
        })?),
    };
    let db = state.store.db.clone();
    let rows = blocking(move || Ok(db.subject_requests(status)?)).await?;
    let now = state.now();
    Ok(Json(RequestList {
        items: rows.iter().map(|r| to_json(r, now)).collect(),
    }))
}

/// `GET /api/v1/requests/{id}`.
pub async fn get_one(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RequestJson>, ApiError> {
    authorize(&state, &s)?;
    let r = load(&state, &id).await?;
    Ok(Json(to_json(&r, state.now())))
}

/// The body of `POST /api/v1/requests`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequestBody {
    /// `access`, `erasure`, `restriction`, `objection`, `rectification` or
    /// `portability`.
    pub kind: String,
    /// When it was received (RFC 3339), not in the future.
    #[schema(format = DateTime)]
    pub received: String,
    /// How the controller refers to the person (1 to 200 characters).
    pub subject: String,
    /// How to reach them (1 to 200 characters).
    pub contact: String,
    /// The person's own description: time, place, appearance (1 to 5000
    /// characters, line breaks allowed).
    pub description: String,
    /// An earlier due date (RFC 3339): not in the past, not later than one
    /// month from receipt.
    #[serde(default)]
    #[schema(format = DateTime)]
    pub due: Option<String>,
}

/// `POST /api/v1/requests`: registers a request. The row is written, then
/// the step recorded on its id; if the entry cannot be written the row is
/// removed again and the registration refused.
pub async fn create(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body<NewRequestBody>,
) -> Result<(StatusCode, Json<RequestJson>), ApiError> {
    authorize(&state, &s)?;
    let req = json_body(body)?;
    let kind = RequestKind::parse(req.kind.trim()).ok_or_else(|| {
        ApiError::bad_request(
            "kind must be access, erasure, restriction, objection, rectification or portability",
        )
    })?;
    let now = state.now();
    let received = parse_time("received", &req.received)?;
    if received > Time90k(now.0 + 60 * TIME_UNITS_PER_SEC) {
        return Err(ApiError::bad_request("received must not be in the future"));
    }
    let legal = due_date(received);
    let due = match req.due.as_deref() {
        None | Some("") => legal,
        Some(d) => {
            let d = parse_time("due", d)?;
            if d < now {
                return Err(ApiError::bad_request("due must not be in the past"));
            }
            if d > legal {
                return Err(ApiError::bad_request(format!(
                    "due must not be later than one month from receipt ({})",
                    legal.to_rfc3339()
                )));
            }
            d
        }
    };
    let new = NewSubjectRequest {
        kind,
        received,
        due,
        subject: text("subject", &req.subject, &NAME_CHARS, false)?,
        contact: text("contact", &req.contact, &NAME_CHARS, false)?,
        description: text("description", &req.description, &DESCRIPTION_CHARS, true)?,
        created_by: Some(s.subject.user),
        created: now,
    };
    let db = state.store.db.clone();
    let id = blocking(move || Ok(db.insert_subject_request(&new)?)).await?;
    let extra = format!(
        "received={} due={}",
        received.to_rfc3339(),
        due.to_rfc3339()
    );
    if let Err(e) = record_step(&state, &s, peer, id, kind, "create", &extra).await {
        let db = state.store.db.clone();
        let _ = blocking(move || Ok(db.delete_subject_request(id)?)).await;
        return Err(e);
    }
    let Json(r) = answer(&state, id).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// The body of `POST /api/v1/requests/{id}/verify`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    /// How the identity was checked (3 to 200 characters), e.g. "ID card
    /// shown at the front desk". Any other field (a file, an image, a
    /// document number) is refused: no copy of an identity document is kept.
    pub method: String,
}

/// `POST /api/v1/requests/{id}/verify`: `{method}` (how the identity was
/// checked; the caller is who checked). No copy of an identity document is
/// kept: any other field is refused.
pub async fn verify(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    body: Body<Value>,
) -> Result<Json<RequestJson>, ApiError> {
    authorize(&state, &s)?;
    let r = load(&state, &id).await?;
    let v = json_body(body)?;
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::bad_request("the body must be a JSON object {\"method\": …}"))?;
    if let Some(other) = obj.keys().find(|k| k.as_str() != "method") {
        return Err(ApiError::bad_request(format!(
            "{other}: only the method is recorded; no copy of an identity document (file, \
             image or number) is kept"
        )));
    }
    let method = obj
        .get("method")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("method is required: how the identity was checked"))?;
    let method = text("method", method, &(3..=200), false)?;
    require(&r, "verify", &[RequestStatus::Received])?;
    record_step(&state, &s, peer, r.id, r.kind, "verify", "").await?;
    let (db, user, now) = (state.store.db.clone(), s.subject.user, state.now());
    if !blocking(move || Ok(db.verify_subject_request(r.id, &method, user, now)?)).await? {
        return Err(raced(r.id));
    }
    answer(&state, r.id).await
}

/// The body of `POST /api/v1/requests/{id}/extend`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestExtendBody {
    /// The new due date (RFC 3339): after the original one, at most two
    /// months after it.
    #[schema(format = DateTime)]
    pub until: String,
    /// Why (10 to 2000 characters; told to the person).
    pub reason: String,
}

/// `POST /api/v1/requests/{id}/extend`: once, Art. 12(3).
pub async fn extend(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    body: Body<RequestExtendBody>,
) -> Result<Json<RequestJson>, ApiError> {
    authorize(&state, &s)?;
    let r = load(&state, &id).await?;
    let req = json_body(body)?;
    let until = parse_time("until", &req.until)?;
    let reason = text("reason", &req.reason, &REASON_CHARS, true)?;
    if until <= r.due {
        return Err(ApiError::bad_request(
            "until must be after the original due date",
        ));
    }
    let latest = latest_extension(r.due);
    if until > latest {
        return Err(ApiError::bad_request(format!(
            "until must be at most two months after the original due date ({})",
            latest.to_rfc3339()
        )));
    }
    if r.status.is_closed() {
        return Err(conflict(format!(
            "request {} is {}: extend needs it open",
            r.id,
            r.status.as_str()
        )));
    }
    if r.extended.is_some() {
        return Err(conflict(format!(
            "request {} was already extended; an extension is granted once",
            r.id
        )));
    }
    record_step(
        &state,
        &s,
        peer,
        r.id,
        r.kind,
        "extend",
        &format!("until={}", until.to_rfc3339()),
    )
    .await?;
    let (db, now) = (state.store.db.clone(), state.now());
    if !blocking(move || Ok(db.extend_subject_request(r.id, until, &reason, now)?)).await? {
        return Err(raced(r.id));
    }
    answer(&state, r.id).await
}

/// The body of `POST /api/v1/requests/{id}/search`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchBody {
    /// The cameras to search (1 to 64 ids).
    pub cameras: Vec<i64>,
    /// Start of the window (RFC 3339).
    #[schema(format = DateTime)]
    pub start: String,
    /// End of the window (RFC 3339), after `start`.
    #[schema(format = DateTime)]
    pub end: String,
}

/// `POST /api/v1/requests/{id}/search`: sets (or changes) the search scope.
pub async fn search(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    body: Body<SearchBody>,
) -> Result<Json<RequestJson>, ApiError> {
    authorize(&state, &s)?;
    let r = load(&state, &id).await?;
    let req = json_body(body)?;
    if req.cameras.is_empty() || req.cameras.len() > MAX_CAMERAS {
        return Err(ApiError::bad_request(format!(
            "cameras must list 1 to {MAX_CAMERAS} camera ids"
        )));
    }
    let start = parse_time("start", &req.start)?;
    let end = parse_time("end", &req.end)?;
    if end <= start {
        return Err(ApiError::bad_request("end must be after start"));
    }
    let db = state.store.db.clone();
    let all = blocking(move || Ok(db.cameras()?)).await?;
    let mut cams: Vec<CameraId> = Vec::new();
    for &c in &req.cameras {
        if !all.iter().any(|x| x.id.0 == c) {
            return Err(ApiError::bad_request(format!(
                "cameras: there is no camera {c}"
            )));
        }
        if cams.contains(&CameraId(c)) {
            return Err(ApiError::bad_request(format!(
                "cameras: camera {c} is listed twice"
            )));
        }
        cams.push(CameraId(c));
    }
    require(
        &r,
        "search",
        &[RequestStatus::Verified, RequestStatus::Searching],
    )?;
    let list: Vec<String> = cams.iter().map(|c| c.0.to_string()).collect();
    record_step(
        &state,
        &s,
        peer,
        r.id,
        r.kind,
        "search",
        &format!(
            "cameras={} start={} end={}",
            list.join(","),
            start.to_rfc3339(),
            end.to_rfc3339()
        ),
    )
    .await?;
    let (db, now) = (state.store.db.clone(), state.now());
    if !blocking(move || Ok(db.search_subject_request(r.id, &cams, start, end, now)?)).await? {
        return Err(raced(r.id));
    }
    answer(&state, r.id).await
}

/// The body of `POST /api/v1/requests/{id}/intervals`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntervalBody {
    /// A camera of the search scope.
    pub camera: i64,
    /// Start (RFC 3339), within the scope's window.
    #[schema(format = DateTime)]
    pub start: String,
    /// End (RFC 3339), after `start`, within the window.
    #[schema(format = DateTime)]
    pub end: String,
}

/// Whether camera `camera` over `[start, end)` lies in `r`'s search scope.
/// How many protections kept part of an interval at its last erasure.
fn blocked_parts(i: &RequestInterval) -> usize {
    i.erasure_blocked
        .as_deref()
        .and_then(|b| serde_json::from_str::<Vec<Value>>(b).ok())
        .map_or(0, |b| b.len())
}

fn in_scope(r: &SubjectRequestRow, camera: CameraId, start: Time90k, end: Time90k) -> bool {
    match &r.scope {
        Some((cams, a, b)) => cams.contains(&camera) && start >= *a && end <= *b,
        None => false,
    }
}

/// `POST /api/v1/requests/{id}/intervals`: marks an interval that shows
/// the person (while searching).
pub async fn add_interval(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    body: Body<IntervalBody>,
) -> Result<(StatusCode, Json<RequestJson>), ApiError> {
    authorize(&state, &s)?;
    let r = load(&state, &id).await?;
    let req = json_body(body)?;
    let start = parse_time("start", &req.start)?;
    let end = parse_time("end", &req.end)?;
    if end <= start {
        return Err(ApiError::bad_request("end must be after start"));
    }
    require(&r, "marking an interval", &[RequestStatus::Searching])?;
    let camera = CameraId(req.camera);
    if !in_scope(&r, camera, start, end) {
        return Err(ApiError::bad_request(
            "camera, start and end must lie within the request's search scope",
        ));
    }
    if r.intervals.len() >= MAX_INTERVALS {
        return Err(ApiError::bad_request(format!(
            "a request marks at most {MAX_INTERVALS} intervals"
        )));
    }
    // An interval shows the person only where something was recorded (so
    // an erasure that later finds nothing knows the video went since).
    if state
        .store
        .erasure_plan(camera, start, end)
        .await?
        .is_empty()
    {
        return Err(ApiError::bad_request(format!(
            "start: camera {} has no recording from {} to {}",
            camera.0,
            start.to_rfc3339(),
            end.to_rfc3339()
        )));
    }
    record_step(
        &state,
        &s,
        peer,
        r.id,
        r.kind,
        "mark",
        &format!(
            "camera={} start={} end={}",
            camera.0,
            start.to_rfc3339(),
            end.to_rfc3339()
        ),
    )
    .await?;
    let (db, user, now) = (state.store.db.clone(), s.subject.user, state.now());
    blocking(move || Ok(db.add_request_interval(r.id, camera, start, end, user, now)?))
        .await?
        .ok_or_else(|| raced(r.id))?;
    let Json(j) = answer(&state, r.id).await?;
    Ok((StatusCode::CREATED, Json(j)))
}

/// `DELETE /api/v1/requests/{id}/intervals/{iid}` (while searching; not
/// once held or erased).
pub async fn delete_interval(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((id, iid)): Path<(String, String)>,
) -> Result<Json<RequestJson>, ApiError> {
    authorize(&state, &s)?;
    let r = load(&state, &id).await?;
    let iid: i64 = iid
        .parse()
        .map_err(|_| ApiError::not_found(format!("no interval {iid:?}")))?;
    let Some(i) = r.intervals.iter().find(|i| i.id == iid) else {
        return Err(ApiError::not_found(format!(
            "request {} has no interval {iid}",
            r.id
        )));
    };
    require(&r, "unmarking an interval", &[RequestStatus::Searching])?;
    if i.hold.is_some() || i.erased_at.is_some() {
        return Err(conflict(format!(
            "interval {iid} is held or erased and stays on the request"
        )));
    }
    record_step(
        &state,
        &s,
        peer,
        r.id,
        r.kind,
        "unmark",
        &format!("interval={iid}"),
    )
    .await?;
    let db = state.store.db.clone();
    if !blocking(move || Ok(db.delete_request_interval(r.id, iid)?)).await? {
        return Err(raced(r.id));
    }
    answer(&state, r.id).await
}

/// The body of `POST /api/v1/requests/{id}/decide`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideBody {
    /// `upheld` or `rejected`.
    pub decision: String,
    /// Why (10 to 2000 characters).
    pub reason: String,
    /// The access-record entry (sequence number) of the change made, e.g.
    /// a `config.mask` or `config.purpose` entry: required for an upheld
    /// objection, a configuration change.
    #[serde(default)]
    pub linked_change: Option<i64>,
}

/// Whether an access-record action is a change of configuration (what an
/// upheld objection links to).
pub fn is_config_change(action: &str) -> bool {
    action.starts_with("config.")
        || matches!(
            action,
            "camera.update" | "camera.delete" | "hold.change" | "role.change"
        )
}

/// `POST /api/v1/requests/{id}/decide`.
pub async fn decide(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    body: Body<DecideBody>,
) -> Result<Json<RequestJson>, ApiError> {
    authorize(&state, &s)?;
    let r = load(&state, &id).await?;
    let req = json_body(body)?;
    let decision = match req.decision.as_str() {
        d @ ("upheld" | "rejected") => d.to_owned(),
        _ => return Err(ApiError::bad_request("decision must be upheld or rejected")),
    };
    let reason = text("reason", &req.reason, &REASON_CHARS, true)?;
    if r.kind == RequestKind::Objection && decision == "upheld" && req.linked_change.is_none() {
        return Err(ApiError::bad_request(
            "linked_change is required for an upheld objection: the access-record entry of the \
             change made",
        ));
    }
    if let Some(seq) = req.linked_change {
        let db = state.store.db.clone();
        let entry = blocking(move || Ok(db.audit_range(seq, seq, 1)?)).await?;
        match entry.first() {
            Some(e) if e.seq == seq && is_config_change(&e.action) => {}
            Some(e) if e.seq == seq => {
                return Err(ApiError::bad_request(format!(
                    "linked_change: entry {seq} is {}, not a configuration change",
                    e.action
                )))
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                    "linked_change: the access record has no entry {seq}"
                )))
            }
        }
    }
    require(
        &r,
        "decide",
        &[RequestStatus::Verified, RequestStatus::Searching],
    )?;
    let mut extra = format!("decision={decision}");
    if let Some(seq) = req.linked_change {
        let _ = write!(extra, " linked_change={seq}");
    }
    record_step(&state, &s, peer, r.id, r.kind, "decide", &extra).await?;
    let (db, user, now, linked) = (
        state.store.db.clone(),
        s.subject.user,
        state.now(),
        req.linked_change,
    );
    if !blocking(
        move || Ok(db.decide_subject_request(r.id, &decision, &reason, linked, user, now)?),
    )
    .await?
    {
        return Err(raced(r.id));
    }
    answer(&state, r.id).await
}

/// The body of `POST /api/v1/requests/{id}/refuse`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefuseBody {
    /// Why (10 to 2000 characters; told to the person).
    pub reason: String,
}

/// `POST /api/v1/requests/{id}/refuse`.
pub async fn refuse(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    body: Body<RefuseBody>,
) -> Result<Json<RequestJson>, ApiError> {
    authorize(&state, &s)?;
    let r = load(&state, &id).await?;
    let req = json_body(body)?;
    let reason = text("reason", &req.reason, &REASON_CHARS, true)?;
    require(
        &r,
        "refuse",
        &[
            RequestStatus::Received,
            RequestStatus::Verified,
            RequestStatus::Searching,
            RequestStatus::Decided,
        ],
    )?;
    record_step(&state, &s, peer, r.id, r.kind, "refuse", "").await?;
    let (db, now) = (state.store.db.clone(), state.now());
    if !blocking(move || Ok(db.refuse_subject_request(r.id, &reason, now)?)).await? {
        return Err(raced(r.id));
    }
    answer(&state, r.id).await
}

/// The register entries whose intervals overlap `r`'s marked intervals.
async fn covering_disclosures(
    state: &AppState,
    r: &SubjectRequestRow,
) -> Result<Vec<veil_store::db::DisclosureRow>, ApiError> {
    if r.intervals.is_empty() {
        return Ok(Vec::new());
    }
    let marked: Vec<RequestInterval> = r.intervals.clone();
    // Per marked interval and camera, unlimited: every entry that may
    // cover it (a marked interval is short; none may be missed).
    let (db, wanted) = (state.store.db.clone(), marked.clone());
    let rows = blocking(move || {
        let mut all: Vec<veil_store::db::DisclosureRow> = Vec::new();
        for m in &wanted {
            for d in db.disclosures(&DisclosureFilter {
                from: Some(m.start),
                to: Some(m.end),
                camera: Some(m.camera),
                limit: usize::MAX,
                ..DisclosureFilter::default()
            })? {
                if !all.iter().any(|x| x.id == d.id) {
                    all.push(d);
                }
            }
        }
        Ok(all)
    })
    .await?;
    let overlaps = |d: &veil_store::db::DisclosureRow| {
        let e = &d.entry;
        marked.iter().any(|m| {
            if e.intervals.is_empty() {
                e.cameras.contains(&m.camera) && e.start < m.end && m.start < e.end
            } else {
                e.intervals
                    .iter()
                    .any(|(c, a, b)| *c == m.camera && *a < m.end && m.start < *b)
            }
        })
    };
    let mut out: Vec<_> = rows.into_iter().filter(overlaps).collect();
    out.sort_by_key(|d| d.id);
    Ok(out)
}

/// One register entry to tell, with what was recorded about it.
#[derive(Serialize, ToSchema)]
pub struct RecipientJson {
    /// The disclosure-register entry.
    pub disclosure: i64,
    /// `copy`, `shown`, `verbal` or `subject_access`.
    pub kind: String,
    /// The recipient's organisation.
    pub organisation: String,
    /// When it was registered (RFC 3339).
    pub created: String,
    /// What was recorded: informed or not, and the note; `null` until then.
    pub record: Option<RecipientRecordJson>,
}

/// `GET /api/v1/requests/{id}/recipients`.
#[derive(Serialize, ToSchema)]
pub struct RecipientList {
    /// Every register entry covering the marked intervals.
    pub items: Vec<RecipientJson>,
    /// How many still have no record.
    pub outstanding: usize,
}

async fn recipient_list(
    state: &AppState,
    r: &SubjectRequestRow,
) -> Result<RecipientList, ApiError> {
    if !told_kind(r.kind) {
        return Ok(RecipientList {
            items: Vec::new(),
            outstanding: 0,
        });
    }
    let rows = covering_disclosures(state, r).await?;
    let items: Vec<RecipientJson> = rows
        .iter()
        .map(|d| RecipientJson {
            disclosure: d.id,
            kind: d.entry.kind.as_str().into(),
            organisation: d.entry.requester.organisation.clone(),
            created: d.entry.created.to_rfc3339(),
            record: r.recipients.iter().find(|x| x.disclosure == d.id).map(|x| {
                RecipientRecordJson {
                    disclosure: x.disclosure,
                    informed: x.informed,
                    note: x.note.clone(),
                    recorded: x.recorded.to_rfc3339(),
                }
            }),
        })
        .collect();
    let outstanding = items.iter().filter(|i| i.record.is_none()).count();
    Ok(RecipientList { items, outstanding })
}

/// `GET /api/v1/requests/{id}/recipients`: for erasure, restriction and
/// rectification, every disclosure-register entry whose intervals overlap
/// the marked intervals (Art. 19); empty for other kinds.
pub async fn recipients(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RecipientList>, ApiError> {
    authorize(&state, &s)?;
    let r = load(&state, &id).await?;
    Ok(Json(recipient_list(&state, &r).await?))
}

/// The body of `POST /api/v1/requests/{id}/recipients`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipientBody {
    /// A register entry listed by `GET …/recipients`.
    pub disclosure: i64,
    /// Whether its recipient was informed.
    pub informed: bool,
    /// How, or why not (e.g. impossible or disproportionate effort), 10 to
    /// 2000 characters.
    pub note: String,
}

/// `POST /api/v1/requests/{id}/recipients`: records that an entry's
/// recipient was informed (or why not).
pub async fn record_recipient(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    body: Body<RecipientBody>,
) -> Result<Json<RecipientList>, ApiError> {
    authorize(&state, &s)?;
    let r = load(&state, &id).await?;
    let req = json_body(body)?;
    let note = text("note", &req.note, &REASON_CHARS, true)?;
    if !told_kind(r.kind) {
        return Err(ApiError::bad_request(
            "recipients are told for erasure, restriction and rectification requests only",
        ));
    }
    let list = recipient_list(&state, &r).await?;
    if !list.items.iter().any(|i| i.disclosure == req.disclosure) {
        return Err(ApiError::bad_request(format!(
            "disclosure: entry {} does not cover the marked intervals",
            req.disclosure
        )));
    }
    if r.status.is_closed() {
        return Err(conflict(format!(
            "request {} is {}: recipients are recorded while it is open",
            r.id,
            r.status.as_str()
        )));
    }
    record_step(
        &state,
        &s,
        peer,
        r.id,
        r.kind,
        "recipient",
        &format!("disclosure={} informed={}", req.disclosure, req.informed),
    )
    .await?;
    let rec = RequestRecipient {
        disclosure: req.disclosure,
        informed: req.informed,
        note,
        recorded_by: Some(s.subject.user),
        recorded: state.now(),
    };
    let db = state.store.db.clone();
    blocking(move || Ok(db.record_request_recipient(r.id, &rec)?)).await?;
    let r = load(&state, &id).await?;
    Ok(Json(recipient_list(&state, &r).await?))
}

/// `POST /api/v1/requests/{id}/complete`: `decided` → `completed`; for
/// erasure, restriction and rectification only once every covering
/// register entry has a record.
pub async fn complete(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<RequestJson>, ApiError> {
    authorize(&state, &s)?;
    let r = load(&state, &id).await?;
    let kept_reason = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let v: CompleteBody = serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("the body: {e}")))?;
        v.kept_reason
            .filter(|k| !k.trim().is_empty())
            .map(|k| text("kept_reason", &k, &(10..=2000), false))
            .transpose()?
    };
    require(&r, "complete", &[RequestStatus::Decided])?;
    let mut kept = 0;
    if r.kind == RequestKind::Erasure && r.decision.as_deref() == Some("upheld") {
        if let Some(i) = r.intervals.iter().position(|i| i.erased_at.is_none()) {
            return Err(conflict(format!(
                "request {}: intervals[{i}] is not erased yet; erase the marked intervals \
                 before completing an upheld erasure",
                r.id
            )));
        }
        kept = r.intervals.iter().filter(|i| blocked_parts(i) > 0).count();
        let first_kept = r.intervals.iter().position(|i| blocked_parts(i) > 0);
        if let (Some(i), None) = (first_kept, &kept_reason) {
            return Err(conflict(format!(
                "request {}: a lock or hold keeps part of intervals[{i}] (holders of \
                 locks.release or holds.manage decide on it); erase again once it is \
                 released, or complete with kept_reason saying why it is kept (Art. 17(3))",
                r.id
            )));
        }
    }
    let list = recipient_list(&state, &r).await?;
    if list.outstanding > 0 {
        return Err(conflict(format!(
            "request {}: {} recipient(s) of the disclosure register are not yet recorded as \
             informed or not (Art. 19)",
            r.id, list.outstanding
        )));
    }
    let detail = if kept > 0 {
        format!("kept={kept}")
    } else {
        String::new()
    };
    record_step(&state, &s, peer, r.id, r.kind, "complete", &detail).await?;
    let (db, now) = (state.store.db.clone(), state.now());
    let kept_reason = kept_reason.filter(|_| kept > 0);
    if !blocking(move || Ok(db.complete_subject_request(r.id, now, kept_reason.as_deref())?))
        .await?
    {
        return Err(raced(r.id));
    }
    answer(&state, r.id).await
}

/// `POST /api/v1/requests/{id}/complete` (optional body).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    /// Why video a lock or hold keeps is not erased (Art. 17(3)); needed
    /// only to complete an upheld erasure of which a part is kept.
    pub kept_reason: Option<String>,
}

/// `POST /api/v1/requests/{id}/restrict`: for a restriction request
/// (searching, or decided and upheld), a restriction hold over each marked
/// interval not yet held, through the same path as `POST /api/v1/holds`.
pub async fn restrict(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
) -> Result<Json<RequestJson>, ApiError> {
    authorize(&state, &s)?;
    let r = load(&state, &id).await?;
    if r.kind != RequestKind::Restriction {
        return Err(ApiError::bad_request(
            "kind: only a restriction request creates holds",
        ));
    }
    require(
        &r,
        "restrict",
        &[RequestStatus::Searching, RequestStatus::Decided],
    )?;
    if r.decision.as_deref() == Some("rejected") {
        return Err(conflict(format!("request {} was rejected", r.id)));
    }
    let todo: Vec<&RequestInterval> = r.intervals.iter().filter(|i| i.hold.is_none()).collect();
    if todo.is_empty() {
        return Err(ApiError::bad_request(
            "intervals: mark the intervals to restrict first",
        ));
    }
    for i in todo {
        record_step(
            &state,
            &s,
            peer,
            r.id,
            r.kind,
            "restrict",
            &format!(
                "interval={} camera={} start={} end={}",
                i.id,
                i.camera.0,
                i.start.to_rfc3339(),
                i.end.to_rfc3339()
            ),
        )
        .await?;
        let hold = crate::protections::hold_for_request(
            &state,
            &s,
            peer,
            i.camera,
            i.start,
            i.end,
            format!("Restriction of processing, data-subject request {}", r.id),
        )
        .await?;
        let (db, iid) = (state.store.db.clone(), i.id);
        blocking(move || Ok(db.set_interval_hold(iid, hold)?)).await?;
    }
    answer(&state, r.id).await
}

/// `POST /api/v1/requests/{id}/erase`: for an erasure request decided
/// `upheld`, erases each marked interval not yet erased (every GOP that
/// overlaps it, in every rendition: `veil_store::erase`). All intervals are
/// planned first: one with no recording is a 400 naming `intervals[i]` and
/// nothing is erased. Each erasure is recorded first (`step=erase` with the
/// camera and interval); the interval keeps exactly what was removed, per
/// rendition, and what a lock or hold kept, with the permission that
/// decides on it.
pub async fn erase(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
) -> Result<Json<RequestJson>, ApiError> {
    authorize(&state, &s)?;
    let r = load(&state, &id).await?;
    if r.kind != RequestKind::Erasure {
        return Err(ApiError::bad_request(
            "kind: only an erasure request erases video",
        ));
    }
    require(&r, "erase", &[RequestStatus::Decided])?;
    if r.decision.as_deref() != Some("upheld") {
        return Err(conflict(format!(
            "request {} was not upheld: nothing is erased",
            r.id
        )));
    }
    // Left to erase: never erased, or kept in part by a lock or hold (which
    // may have been released since).
    let pending = |i: &RequestInterval| i.erased_at.is_none() || blocked_parts(i) > 0;
    if !r.intervals.iter().any(pending) {
        return Err(ApiError::bad_request(
            "intervals: no marked interval is left to erase",
        ));
    }
    let now = state.now();
    let mut plans = Vec::new();
    for (i, m) in r.intervals.iter().enumerate() {
        if !pending(m) {
            continue;
        }
        // The segment being recorded (at most MAX_SEGMENT_90K long) may still
        // hold part of a recent interval: erasing now would miss it.
        let settled = Time90k(m.end.0 + veil_store::segment::MAX_SEGMENT_90K);
        if settled > now {
            return Err(ApiError::bad_request(format!(
                "intervals[{i}]: ends less than {} minutes ago and the segment being \
                 recorded may still hold part of it; erase it after {}",
                veil_store::segment::MAX_SEGMENT_90K / 90_000 / 60,
                settled.to_rfc3339()
            )));
        }
        let plan = state.store.erasure_plan(m.camera, m.start, m.end).await?;
        plans.push((m.clone(), plan));
    }
    for (m, plan) in plans {
        let removes = plan.removes();
        let segments: usize = removes.iter().map(|x| x.segments).sum();
        record_step(
            &state,
            &s,
            peer,
            r.id,
            r.kind,
            "erase",
            &format!(
                "interval={} camera={} start={} end={} segments={segments} blocked={}",
                m.id,
                m.camera.0,
                m.start.to_rfc3339(),
                m.end.to_rfc3339(),
                plan.blocked().len()
            ),
        )
        .await?;
        let done = state
            .store
            .erase(&plan, &format!("request={}", r.id))
            .await?;
        let removed: Vec<Value> = done
            .removed
            .iter()
            .map(|x| {
                serde_json::json!({
                    "rendition": x.rendition,
                    "start": x.start.to_rfc3339(),
                    "end": x.end.to_rfc3339(),
                    "segments": x.segments,
                })
            })
            .collect();
        let blocked: Vec<Value> = done
            .blocked
            .iter()
            .map(|b| {
                serde_json::json!({
                    "protection": b.protection,
                    "kind": b.kind,
                    "start": b.start.to_rfc3339(),
                    "end": b.end.to_rfc3339(),
                    "who_decides": if b.kind == "lock" { "locks.release" } else { "holds.manage" },
                })
            })
            .collect();
        // What an earlier run (kept in part by a lock or hold) removed stays
        // listed.
        let mut all: Vec<Value> = m
            .erased
            .as_deref()
            .and_then(|e| serde_json::from_str::<Vec<Value>>(e).ok())
            .unwrap_or_default();
        all.extend(removed);
        let (db, now) = (state.store.db.clone(), state.now());
        let (removed, blocked) = (
            Value::Array(all).to_string(),
            Value::Array(blocked).to_string(),
        );
        blocking(move || Ok(db.set_interval_erasure(m.id, now, &removed, &blocked)?)).await?;
    }
    answer(&state, r.id).await
}

/// One camera's recordings in the request's scope.
#[derive(Serialize, ToSchema)]
pub struct FootageCamera {
    /// Its id.
    pub id: i64,
    /// Its name (`null` once deleted).
    pub name: Option<String>,
    /// The recorded runs, oldest first.
    pub recordings: Vec<crate::api::Run>,
}

/// `GET /api/v1/requests/{id}/footage`.
#[derive(Serialize, ToSchema)]
pub struct Footage {
    /// Per scope camera.
    pub cameras: Vec<FootageCamera>,
}

/// `GET /api/v1/requests/{id}/footage`: the recordings (runs) of each
/// camera of the search scope in its window.
pub async fn footage(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Footage>, ApiError> {
    authorize(&state, &s)?;
    let r = load(&state, &id).await?;
    let Some((cams, start, end)) = r.scope.clone() else {
        return Err(conflict(format!(
            "request {} has no search scope yet",
            r.id
        )));
    };
    let store = state.store.clone();
    let out = blocking(move || {
        let all = store.db.cameras()?;
        let mut out = Vec::new();
        for c in cams {
            let runs = store.default_runs(c, start, end)?;
            out.push(FootageCamera {
                id: c.0,
                name: all.iter().find(|x| x.id == c).map(|x| x.name.clone()),
                recordings: runs
                    .into_iter()
                    .map(|(a, b)| crate::api::Run::new(a, b))
                    .collect(),
            });
        }
        Ok(out)
    })
    .await?;
    Ok(Json(Footage { cameras: out }))
}

/// `GET /api/v1/cameras/{id}/video.mp4?start=&end=&request=ID`: the
/// request's player. For a `dsr.handle` holder, while the request is
/// searching or decided and the camera and time lie in its scope;
/// recorded as `playback` with `request=ID` in the detail. Held video stays
/// unplayable.
pub async fn play(
    state: &AppState,
    s: &Session,
    peer: SocketAddr,
    camera: &str,
    request: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    authorize(state, s)?;
    let r = load(state, request).await?;
    let (start, end) = crate::api::interval(q, state.now(), true)?;
    let cam: i64 = camera
        .parse()
        .map_err(|_| ApiError::not_found(format!("no camera {camera:?}")))?;
    let cam = CameraId(cam);
    require(
        &r,
        "playing its footage",
        &[RequestStatus::Searching, RequestStatus::Decided],
    )?;
    if !in_scope(&r, cam, start, end) {
        return Err(ApiError::forbidden(format!(
            "camera {} from {} to {} is outside request {}'s search scope",
            cam.0,
            start.to_rfc3339(),
            end.to_rfc3339(),
            r.id
        )));
    }
    let store = state.store.clone();
    let segs = blocking(move || Ok(store.default_segments(cam, start, end)?)).await?;
    let segs: Vec<Arc<veil_store::Segment>> = segs.into_iter().map(Arc::new).collect();
    // The player starts at a keyframe: the one before `start` unless that
    // lies before the scope, then the first after the scope's start (the
    // handler sees nothing outside the scope).
    let from = match r.scope.as_ref().map(|(_, a, _)| *a) {
        Some(scope) => {
            let kfs = veil_store::playback::keyframe_times(&segs);
            let before = kfs.iter().rev().find(|k| **k <= start).copied();
            match before {
                Some(k) if k >= scope => start,
                _ => kfs
                    .into_iter()
                    .find(|k| *k >= start.max(scope) && *k < end)
                    .ok_or_else(|| ApiError::not_found("no recording in this interval"))?,
            }
        }
        None => start,
    };
    let plan = veil_store::playback::plan(&segs, from, end)
        .ok_or_else(|| ApiError::not_found("no recording in this interval"))?;
    let served_start = plan.start_90k;
    let served_end = Time90k(plan.start_90k.0 + plan.duration_90k);
    crate::protections::refuse_held_by(state, &s.subject.pseudonym, cam, served_start, served_end)
        .await?;
    state
        .record(
            Event::new(
                s.subject.pseudonym.clone(),
                Audited::Playback,
                format!("camera:{}", cam),
            )
            .detail(format!(
                "request={} start={} end={} requested_start={} requested_end={}",
                r.id,
                served_start.to_rfc3339(),
                served_end.to_rfc3339(),
                start.to_rfc3339(),
                end.to_rfc3339()
            ))
            .client(peer.ip()),
        )
        .await?;
    crate::api::serve(state, plan, headers, None)
}

/// Checks an export naming request `raw` (`subject_request`): the caller
/// holds `dsr.handle`, the request is `access` or `portability` and
/// searching or decided, and every exported interval of every camera lies
/// within one of its marked intervals. The request, for the register entry.
pub(crate) async fn check_export(
    state: &AppState,
    s: &Session,
    raw: i64,
    cameras: &[i64],
    intervals: &[(Time90k, Time90k)],
) -> Result<SubjectRequestRow, ApiError> {
    authorize(state, s)?;
    let r = load(state, &raw.to_string()).await.map_err(|_| {
        ApiError::bad_request(format!("subject_request: there is no request {raw}"))
    })?;
    if !matches!(r.kind, RequestKind::Access | RequestKind::Portability) {
        return Err(ApiError::bad_request(format!(
            "subject_request: request {} is a {} request; only access and portability requests \
             get a package",
            r.id,
            r.kind.as_str()
        )));
    }
    require(
        &r,
        "an export",
        &[RequestStatus::Searching, RequestStatus::Decided],
    )?;
    for &c in cameras {
        for (i, (a, b)) in intervals.iter().enumerate() {
            let inside = r
                .intervals
                .iter()
                .any(|m| m.camera.0 == c && m.start <= *a && *b <= m.end);
            if !inside {
                return Err(ApiError::bad_request(format!(
                    "intervals[{i}]: camera {c} from {} to {} is not within an interval marked \
                     on request {}",
                    a.to_rfc3339(),
                    b.to_rfc3339(),
                    r.id
                )));
            }
        }
    }
    Ok(r)
}

/// Notes the package made for a request (after the export is queued).
pub(crate) async fn link_export(
    state: &AppState,
    export: i64,
    request: i64,
) -> Result<(), ApiError> {
    let db = state.store.db.clone();
    blocking(move || Ok(db.link_export_to_request(export, request)?)).await
}

/// `GET /dpo/requests`: the open requests by due date (overdue first) and
/// the form for a new one.
pub async fn page(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    authorize(&state, &s)?;
    let shell = crate::shell::Shell::new(&state, &s, &headers, "/dpo/requests").await?;
    let t = |k: &str| escape(shell.t(k));
    let mut kinds = String::new();
    for k in RequestKind::ALL {
        let _ = write!(
            kinds,
            "<option value=\"{v}\">{label}</option>",
            v = k.as_str(),
            label = t(&format!("dsr.kind.{}", k.as_str()))
        );
    }
    let body = format!(
        r#"<section aria-labelledby="dsr-list-h"><h2 id="dsr-list-h">{open}</h2>
<p><label for="dsr-status">{status}</label> <select id="dsr-status">
<option value="">{all}</option><option value="received">{received}</option>
<option value="verified">{verified}</option><option value="searching">{searching}</option>
<option value="decided">{decided}</option><option value="completed">{completed}</option>
<option value="refused">{refused}</option></select></p>
<div class="table-scroll"><table id="dsr-table"><thead><tr>
<th scope="col">{id}</th><th scope="col">{kind}</th><th scope="col">{status}</th>
<th scope="col">{received_h}</th><th scope="col">{due}</th><th scope="col">{days_left}</th>
</tr></thead><tbody></tbody></table></div></section>
<section aria-labelledby="dsr-new-h"><h2 id="dsr-new-h">{new}</h2>
<p id="dsr-error" class="error" role="alert" hidden></p>
<form id="dsr-form" class="stack" novalidate>
<label for="dsr-kind">{kind}</label><select id="dsr-kind" data-field="kind">{kinds}</select>
<label for="dsr-received">{received_h}</label><input id="dsr-received" type="datetime-local" data-field="received" required>
<label for="dsr-subject">{subject}</label><input id="dsr-subject" data-field="subject" maxlength="200" required>
<label for="dsr-contact">{contact}</label><input id="dsr-contact" data-field="contact" maxlength="200" required>
<label for="dsr-description">{description}</label><textarea id="dsr-description" data-field="description" maxlength="5000" required></textarea>
<p class="hint">{description_hint}</p>
<button type="submit">{register}</button></form></section>
"#,
        open = t("dsr.list"),
        status = t("dsr.status"),
        all = t("dsr.all"),
        received = t("dsr.status.received"),
        verified = t("dsr.status.verified"),
        searching = t("dsr.status.searching"),
        decided = t("dsr.status.decided"),
        completed = t("dsr.status.completed"),
        refused = t("dsr.status.refused"),
        id = t("dsr.id"),
        kind = t("dsr.kind"),
        received_h = t("dsr.received"),
        due = t("dsr.due"),
        days_left = t("dsr.days_left"),
        new = t("dsr.new"),
        subject = t("dsr.subject"),
        contact = t("dsr.contact"),
        description = t("dsr.description"),
        description_hint = t("dsr.description_hint"),
        register = t("dsr.register"),
    );
    Ok(crate::dpo_pages::desk_page(
        &shell,
        "/dpo/requests",
        "dsr",
        "dpo-requests.js",
        ("dpo-requests", true, ""),
        &body,
    ))
}

/// `GET /dpo/requests/{id}`: one request, its steps, intervals, recipients,
/// packages and erasure results. `<section id="request-footage">` loads
/// `request-footage.js`: the request's player, the marking of intervals,
/// the redaction editor and the export against the request.
pub async fn request_page(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    authorize(&state, &s)?;
    let r = load(&state, &id).await?;
    let shell = crate::shell::Shell::new(&state, &s, &headers, "/dpo/requests").await?;
    let t = |k: &str| escape(shell.t(k));
    let body = format!(
        r#"<section aria-labelledby="dsr-facts-h"><h2 id="dsr-facts-h">{facts}</h2>
<dl id="dsr-facts" class="facts"></dl></section>
<section aria-labelledby="dsr-steps-h"><h2 id="dsr-steps-h">{steps}</h2>
<p id="dsr-error" class="error" role="alert" hidden></p>
<div id="dsr-steps" class="stack"></div></section>
<section id="request-footage" aria-labelledby="dsr-footage-h"><h2 id="dsr-footage-h">{footage}</h2>
<div class="table-scroll"><table id="dsr-footage"><thead><tr><th scope="col">{camera}</th>
<th scope="col">{recordings}</th></tr></thead><tbody></tbody></table></div>
<script type="module" src="/static/request-footage.js"></script></section>
<section aria-labelledby="dsr-intervals-h"><h2 id="dsr-intervals-h">{intervals}</h2>
<div class="table-scroll"><table id="dsr-intervals"><thead><tr><th scope="col">{camera}</th>
<th scope="col">{start}</th><th scope="col">{end}</th><th scope="col">{result}</th>
<th scope="col">{actions}</th></tr></thead><tbody></tbody></table></div></section>
<section aria-labelledby="dsr-recipients-h"><h2 id="dsr-recipients-h">{recipients}</h2>
<div class="table-scroll"><table id="dsr-recipients"><thead><tr><th scope="col">{entry}</th>
<th scope="col">{organisation}</th><th scope="col">{told}</th><th scope="col">{actions}</th>
</tr></thead><tbody></tbody></table></div></section>
<section aria-labelledby="dsr-packages-h"><h2 id="dsr-packages-h">{packages}</h2>
<ul id="dsr-packages"></ul></section>
"#,
        facts = t("dsr.facts"),
        steps = t("dsr.steps"),
        footage = t("dsr.footage"),
        camera = t("dsr.camera"),
        recordings = t("dsr.recordings"),
        intervals = t("dsr.intervals"),
        start = t("dsr.start"),
        end = t("dsr.end"),
        result = t("dsr.result"),
        actions = t("dsr.actions"),
        recipients = t("dsr.recipients"),
        entry = t("dsr.entry"),
        organisation = t("dsr.organisation"),
        told = t("dsr.told"),
        packages = t("dsr.packages"),
    );
    Ok(crate::dpo_pages::desk_page(
        &shell,
        "/dpo/requests",
        "dsr.one",
        "dpo-request.js",
        ("dpo-request", true, &format!(" data-id=\"{}\"", r.id)),
        &body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Time90k {
        Time90k::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn due_is_one_calendar_month_clamped_to_the_months_end() {
        assert_eq!(
            due_date(at("2026-01-31T10:00:00Z")),
            at("2026-02-28T10:00:00Z")
        );
        assert_eq!(
            due_date(at("2028-01-31T10:00:00Z")),
            at("2028-02-29T10:00:00Z"),
            "leap year"
        );
        assert_eq!(
            due_date(at("2026-03-15T08:30:00Z")),
            at("2026-04-15T08:30:00Z")
        );
        assert_eq!(
            due_date(at("2026-12-31T23:00:00Z")),
            at("2027-01-31T23:00:00Z")
        );
        assert_eq!(
            latest_extension(at("2026-02-28T10:00:00Z")),
            at("2026-04-28T10:00:00Z")
        );
        assert_eq!(
            latest_extension(at("2026-12-31T10:00:00Z")),
            at("2027-02-28T10:00:00Z")
        );
    }

    #[test]
    fn days_left_round_down_and_go_negative_when_overdue() {
        let due = at("2026-02-28T10:00:00Z");
        assert_eq!(days_left(due, at("2026-02-26T09:00:00Z")), 2);
        assert_eq!(days_left(due, at("2026-02-28T09:00:00Z")), 0);
        assert_eq!(days_left(due, at("2026-02-28T11:00:00Z")), -1);
    }

    #[test]
    fn only_configuration_changes_can_be_linked() {
        assert!(is_config_change("config.mask"));
        assert!(is_config_change("config.purpose"));
        assert!(!is_config_change("playback"));
        assert!(!is_config_change("dsr.step"));
    }
}
