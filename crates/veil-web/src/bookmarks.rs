//! Bookmarks (V5): an operator marks a moment or an interval of a camera with
//! a short note. Seeing a bookmark needs `bookmarks.view` and playback of its
//! camera at its time (the role's playback window included); making one needs
//! `bookmarks.create` as well; changing its note `bookmarks.edit` (or being
//! its author with `bookmarks.create`); deleting it `bookmarks.delete` (or
//! being its author with `bookmarks.create`). Every listing and change is
//! recorded in the access record before it happens. Bookmarks have their own
//! retention period (default [`DEFAULT_RETENTION_DAYS`], setting
//! [`RETENTION_SETTING`]); [`expire`] deletes those past it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Html;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use veil_access::{Action, Resource};
use veil_audit::{AccessRecord, Action as Audited, Event};
use veil_base::{CameraId, Time90k, TIME_UNITS_PER_SEC};
use veil_store::db::{BookmarkFilter, BookmarkRow, CameraRow};
use veil_store::Db;

use crate::auth::Session;
use crate::error::{json_body, ApiError};
use crate::ui::escape;
use crate::{blocking, AppState};

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

/// Settings key of the bookmark retention period, in days.
pub const RETENTION_SETTING: &str = "bookmark_retention_days";
/// How long bookmarks are kept unless a holder of `retention.admin` says
/// otherwise.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// The longest retention period that may be set.
pub const MAX_RETENTION_DAYS: u32 = 3650;
/// The longest note, in characters (after trimming).
pub const MAX_NOTE_CHARS: usize = 500;
/// The longest search text, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;
/// The longest interval a bookmark may mark.
pub const MAX_SPAN_90K: i64 = 24 * 3600 * TIME_UNITS_PER_SEC;
/// How far in the future a bookmark may start (clocks differ a little).
pub const CLOCK_SKEW_90K: i64 = 5 * TIME_UNITS_PER_SEC;
/// The most bookmarks one listing returns.
pub const PAGE_SIZE: usize = 500;

/// A bookmark as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct BookmarkJson {
    /// Its id.
    pub id: i64,
    /// The camera's id.
    pub camera_id: i64,
    /// The camera's name.
    pub camera: String,
    /// The moment, or the interval's start (RFC 3339).
    #[schema(format = DateTime)]
    pub start: String,
    /// The interval's end (RFC 3339, exclusive); `null` for a moment.
    #[schema(format = DateTime)]
    pub end: Option<String>,
    /// The note.
    pub note: String,
    /// The author's login name; `null` once the account is erased.
    pub author: Option<String>,
    /// When it was made (RFC 3339).
    #[schema(format = DateTime)]
    pub created: String,
    /// When retention deletes it (RFC 3339).
    #[schema(format = DateTime)]
    pub expires: String,
    /// Whether the caller may change its note.
    pub can_edit: bool,
    /// Whether the caller may delete it.
    pub can_delete: bool,
}

/// The answer of `GET /api/v1/bookmarks`.
#[derive(Serialize, ToSchema)]
pub struct BookmarkList {
    /// Newest (latest start) first, at most 500.
    pub bookmarks: Vec<BookmarkJson>,
}

/// The body of `POST /api/v1/bookmarks`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBookmark {
    /// The camera.
    camera_id: i64,
    /// The moment, or the interval's start (RFC 3339); not in the future.
    #[schema(format = DateTime)]
    start: String,
    /// The interval's end (RFC 3339), after `start` and at most 24 h later;
    /// `null` or absent for a moment.
    #[serde(default)]
    #[schema(format = DateTime)]
    end: Option<String>,
    /// 1 to 500 characters after trimming, no control characters.
    #[schema(min_length = 1, max_length = 500)]
    note: String,
}

/// The body of `PUT /api/v1/bookmarks/{id}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteChange {
    /// 1 to 500 characters after trimming, no control characters.
    #[schema(min_length = 1, max_length = 500)]
    note: String,
}

/// The bookmark retention period (`GET` and `PUT /api/v1/settings/bookmarks`).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookmarkRetention {
    /// Days a bookmark is kept after it is made: 1 to 3650.
    #[schema(minimum = 1, maximum = 3650)]
    pub retention_days: u32,
}

fn event(s: &Session, action: Audited, resource: impl Into<String>, peer: SocketAddr) -> Event {
    Event::new(s.subject.pseudonym.clone(), action, resource).client(peer.ip())
}

/// The policy engine's view of recorded video of `cam` at `start`.
fn recording(cam: &CameraRow, start: Time90k) -> Resource {
    Resource::Recording {
        camera: cam.id,
        group: cam.group.clone(),
        start,
    }
}

fn camera(cam: &CameraRow) -> Resource {
    crate::api::camera_resource(cam.id, Some(cam))
}

/// Whether `s` may see `b` (on camera `cam`).
fn visible(state: &AppState, s: &Session, cam: &CameraRow, b: &BookmarkRow) -> bool {
    state.allowed(s, Action::BookmarkView, camera(cam))
        && state.allowed(s, Action::Playback, recording(cam, b.start_90k))
}

fn is_author(s: &Session, b: &BookmarkRow) -> bool {
    b.author_id == Some(s.subject.user)
}

fn may_edit(state: &AppState, s: &Session, cam: &CameraRow, b: &BookmarkRow) -> bool {
    state.allowed(s, Action::BookmarkEdit, camera(cam))
        || (is_author(s, b) && state.allowed(s, Action::BookmarkCreate, camera(cam)))
}

fn may_delete(state: &AppState, s: &Session, cam: &CameraRow, b: &BookmarkRow) -> bool {
    state.allowed(s, Action::BookmarkDelete, camera(cam))
        || (is_author(s, b) && state.allowed(s, Action::BookmarkCreate, camera(cam)))
}

fn to_json(state: &AppState, s: &Session, cam: &CameraRow, b: BookmarkRow) -> BookmarkJson {
    BookmarkJson {
        id: b.id,
        camera_id: cam.id.0,
        camera: cam.name.clone(),
        start: b.start_90k.to_rfc3339(),
        end: b.end_90k.map(|t| t.to_rfc3339()),
        can_edit: may_edit(state, s, cam, &b),
        can_delete: may_delete(state, s, cam, &b),
        note: b.note,
        author: b.author_name,
        created: b.created_90k.to_rfc3339(),
        expires: b.expires_90k.to_rfc3339(),
    }
}

/// A note trimmed, or why it is refused.
fn check_note(note: &str) -> Result<String, ApiError> {
    let note = note.trim();
    if note.is_empty() {
        return Err(ApiError::bad_request("note must not be empty"));
    }
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::bad_request(format!(
            "note must be at most {MAX_NOTE_CHARS} characters"
        )));
    }
    if note.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "note must not contain control characters (line breaks, tabs, …)",
        ));
    }
    Ok(note.to_owned())
}

/// An RFC 3339 time from field `name`, or a 400 naming it.
pub(crate) fn parse_time(name: &str, v: &str) -> Result<Time90k, ApiError> {
    Time90k::parse_rfc3339(v).ok_or_else(|| {
        ApiError::bad_request(format!(
            "{name} must be an RFC 3339 time such as 2026-11-23T10:00:00Z, got {v:?}"
        ))
    })
}

fn query_time(q: &HashMap<String, String>, name: &str) -> Result<Option<Time90k>, ApiError> {
    match q.get(name).map(String::as_str) {
        None | Some("") => Ok(None),
        Some(v) => parse_time(name, v).map(Some),
    }
}

/// The bookmark retention period in days.
pub fn retention_days(db: &Db) -> Result<u32, ApiError> {
    Ok(match db.setting(RETENTION_SETTING)? {
        Some(v) => v
            .parse()
            .ok()
            .filter(|d| (1..=MAX_RETENTION_DAYS).contains(d))
            .ok_or_else(|| ApiError::internal("stored bookmark retention is not a day count"))?,
        None => DEFAULT_RETENTION_DAYS,
    })
}

fn days_90k(days: u32) -> i64 {
    i64::from(days) * 86_400 * TIME_UNITS_PER_SEC
}

async fn cameras(state: &AppState) -> Result<Vec<CameraRow>, ApiError> {
    let db = state.store.db.clone();
    blocking(move || Ok(db.cameras()?)).await
}

/// `GET /api/v1/bookmarks?camera=&start=&end=&q=`: the bookmarks the caller
/// may see, newest first, at most [`PAGE_SIZE`]; `start`/`end` keep those
/// whose moment or interval overlaps `[start, end)`, `q` those whose note
/// contains the text (case-insensitive for ASCII letters).
pub async fn list(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<BookmarkList>, ApiError> {
    state.authorize(&s, Action::BookmarkView, Resource::System)?;
    state.authorize(&s, Action::Playback, Resource::System)?;
    let camera_filter = match q.get("camera").map(String::as_str) {
        None | Some("") => None,
        Some(v) => Some(CameraId(v.parse().map_err(|_| {
            ApiError::bad_request(format!("camera must be a camera id, got {v:?}"))
        })?)),
    };
    let from = query_time(&q, "start")?;
    let to = query_time(&q, "end")?;
    if let (Some(a), Some(b)) = (from, to) {
        if b <= a {
            return Err(ApiError::bad_request("end must be after start"));
        }
    }
    let text = match q.get("q").map(|t| t.trim()) {
        None | Some("") => None,
        Some(t) if t.chars().count() > MAX_SEARCH_CHARS => {
            return Err(ApiError::bad_request(format!(
                "q must be at most {MAX_SEARCH_CHARS} characters"
            )))
        }
        Some(t) => Some(t.to_owned()),
    };
    let cams: HashMap<CameraId, CameraRow> = cameras(&state)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    if let Some(id) = camera_filter {
        let r = crate::api::camera_resource(id, cams.get(&id));
        state.authorize(&s, Action::BookmarkView, r.clone())?;
        state.authorize(&s, Action::Playback, r)?;
    }
    // Page through the matches, keeping those the caller may see, until a
    // page is full or none are left.
    let mut filter = BookmarkFilter {
        camera: camera_filter,
        from,
        to,
        text,
        before: None,
    };
    let mut out = Vec::new();
    loop {
        let db = state.store.db.clone();
        let f = filter.clone();
        let rows = blocking(move || Ok(db.bookmarks(&f, PAGE_SIZE as i64)?)).await?;
        let last = rows.last().map(|b| (b.start_90k, b.id));
        let full = rows.len() == PAGE_SIZE;
        for b in rows {
            let Some(cam) = cams.get(&b.camera_id) else {
                continue; // a removed camera
            };
            if visible(&state, &s, cam, &b) && out.len() < PAGE_SIZE {
                out.push(to_json(&state, &s, cam, b));
            }
        }
        if !full || out.len() >= PAGE_SIZE {
            break;
        }
        filter.before = last;
    }
    let mut detail = format!("results={}", out.len());
    if let Some(a) = from {
        let _ = write!(detail, " start={}", a.to_rfc3339());
    }
    if let Some(b) = to {
        let _ = write!(detail, " end={}", b.to_rfc3339());
    }
    if filter.text.is_some() {
        detail.push_str(" search=yes");
    }
    let resource = camera_filter.map_or_else(|| "bookmarks".to_owned(), |c| format!("camera:{c}"));
    state
        .record(event(&s, Audited::BookmarkList, resource, peer).detail(detail))
        .await?;
    Ok(Json(BookmarkList { bookmarks: out }))
}

/// `POST /api/v1/bookmarks`: marks a moment or an interval; 201 with the
/// bookmark.
pub async fn create(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body<NewBookmark>,
) -> Result<(StatusCode, Json<BookmarkJson>), ApiError> {
    state.authorize(&s, Action::BookmarkCreate, Resource::System)?;
    let req = json_body(body)?;
    let note = check_note(&req.note)?;
    let start = parse_time("start", &req.start)?;
    let end = match req.end.as_deref() {
        None => None,
        Some(v) => Some(parse_time("end", v)?),
    };
    let now = state.now();
    if start.0 > now.0 + CLOCK_SKEW_90K {
        return Err(ApiError::bad_request("start must not be in the future"));
    }
    if let Some(end) = end {
        if end <= start {
            return Err(ApiError::bad_request("end must be after start"));
        }
        if end.0 - start.0 > MAX_SPAN_90K {
            return Err(ApiError::bad_request(
                "a bookmark may mark at most 24 hours",
            ));
        }
    }
    let id = CameraId(req.camera_id);
    let cam = cameras(&state).await?.into_iter().find(|c| c.id == id);
    // Authorised before "no such camera" is told, so ids cannot be probed.
    state.authorize(
        &s,
        Action::BookmarkCreate,
        crate::api::camera_resource(id, cam.as_ref()),
    )?;
    let cam = cam.ok_or_else(|| ApiError::bad_request(format!("no camera {id}")))?;
    state.authorize(&s, Action::Playback, recording(&cam, start))?;
    let db = state.store.db.clone();
    let days = blocking(move || retention_days(&db)).await?;
    let mut detail = format!("start={}", start.to_rfc3339());
    if let Some(end) = end {
        let _ = write!(detail, " end={}", end.to_rfc3339());
    }
    state
        .record(event(&s, Audited::BookmarkCreate, format!("camera:{id}"), peer).detail(detail))
        .await?;
    let row = BookmarkRow {
        id: 0,
        camera_id: id,
        start_90k: start,
        end_90k: end,
        note,
        author_id: Some(s.subject.user),
        author_name: None,
        created_90k: now,
        expires_90k: Time90k(now.0 + days_90k(days)),
    };
    let db = state.store.db.clone();
    let stored = blocking(move || {
        let id = db.insert_bookmark(&row)?;
        db.bookmark(id)?
            .ok_or_else(|| ApiError::internal("a new bookmark is not there"))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(to_json(&state, &s, &cam, stored))))
}

/// The bookmark `raw` and its camera, if the caller may see it.
async fn visible_bookmark(
    state: &AppState,
    s: &Session,
    raw: &str,
) -> Result<(BookmarkRow, CameraRow), ApiError> {
    let not_found = || ApiError::not_found(format!("no bookmark {raw:?}"));
    let id: i64 = raw.parse().map_err(|_| not_found())?;
    let db = state.store.db.clone();
    let b = blocking(move || Ok(db.bookmark(id)?))
        .await?
        .ok_or_else(not_found)?;
    let cam = cameras(state)
        .await?
        .into_iter()
        .find(|c| c.id == b.camera_id)
        .ok_or_else(not_found)?;
    state.authorize(s, Action::BookmarkView, camera(&cam))?;
    state.authorize(s, Action::Playback, recording(&cam, b.start_90k))?;
    Ok((b, cam))
}

/// `PUT /api/v1/bookmarks/{id}`: changes the note; answers the bookmark.
pub async fn update(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(raw): Path<String>,
    body: Body<NoteChange>,
) -> Result<Json<BookmarkJson>, ApiError> {
    if !state.allowed(&s, Action::BookmarkEdit, Resource::System) {
        state.authorize(&s, Action::BookmarkCreate, Resource::System)?;
    }
    let (b, cam) = visible_bookmark(&state, &s, &raw).await?;
    let note = check_note(&json_body(body)?.note)?;
    if !may_edit(&state, &s, &cam, &b) {
        return Err(ApiError::forbidden(
            "only the author (with bookmarks.create) or a holder of bookmarks.edit may change a bookmark",
        ));
    }
    state
        .record(
            event(
                &s,
                Audited::BookmarkUpdate,
                format!("camera:{}", cam.id),
                peer,
            )
            .detail(format!("bookmark={}", b.id)),
        )
        .await?;
    let db = state.store.db.clone();
    let id = b.id;
    let stored = blocking(move || {
        db.update_bookmark_note(id, &note)?;
        db.bookmark(id)?
            .ok_or_else(|| ApiError::not_found(format!("no bookmark {id}")))
    })
    .await?;
    Ok(Json(to_json(&state, &s, &cam, stored)))
}

/// `DELETE /api/v1/bookmarks/{id}`.
pub async fn delete(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state.allowed(&s, Action::BookmarkDelete, Resource::System) {
        state.authorize(&s, Action::BookmarkCreate, Resource::System)?;
    }
    let (b, cam) = visible_bookmark(&state, &s, &raw).await?;
    if !may_delete(&state, &s, &cam, &b) {
        return Err(ApiError::forbidden(
            "only the author (with bookmarks.create) or a holder of bookmarks.delete may delete a bookmark",
        ));
    }
    state
        .record(
            event(
                &s,
                Audited::BookmarkDelete,
                format!("camera:{}", cam.id),
                peer,
            )
            .detail(format!("bookmark={}", b.id)),
        )
        .await?;
    let db = state.store.db.clone();
    let id = b.id;
    if !blocking(move || Ok(db.delete_bookmark(id)?)).await? {
        return Err(ApiError::not_found(format!("no bookmark {id}")));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/settings/bookmarks`: the retention period.
pub async fn get_settings(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<BookmarkRetention>, ApiError> {
    state.authorize(&s, Action::RetentionAdmin, Resource::System)?;
    let db = state.store.db.clone();
    let retention_days = blocking(move || retention_days(&db)).await?;
    Ok(Json(BookmarkRetention { retention_days }))
}

/// `PUT /api/v1/settings/bookmarks`: sets the retention period, for the
/// bookmarks kept so far too (expiry = creation + the period).
pub async fn put_settings(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body<BookmarkRetention>,
) -> Result<StatusCode, ApiError> {
    state.authorize(&s, Action::RetentionAdmin, Resource::System)?;
    let days = json_body(body)?.retention_days;
    if !(1..=MAX_RETENTION_DAYS).contains(&days) {
        return Err(ApiError::bad_request(format!(
            "retention_days must be 1 to {MAX_RETENTION_DAYS}"
        )));
    }
    state
        .record(
            event(&s, Audited::RetentionChange, "settings", peer)
                .detail(format!("bookmark_retention_days={days}")),
        )
        .await?;
    let db = state.store.db.clone();
    blocking(move || {
        db.set_setting(RETENTION_SETTING, &days.to_string())?;
        db.set_bookmark_retention(days_90k(days))?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the bookmarks whose retention has ended at `now`, recording how
/// many first (actor `system`); returns how many were deleted. Run with the
/// other data sets by `crate::data_retention::run_once`. Nothing is
/// recorded when none has expired; nothing is deleted when the record cannot
/// be written (the next run tries again).
pub fn expire(db: &Db, audit: &AccessRecord, now: Time90k) -> Result<u64, String> {
    let n = db.expired_bookmark_count(now).map_err(|e| e.to_string())?;
    if n == 0 {
        return Ok(0);
    }
    audit
        .append(
            Event::new("system", Audited::BookmarkExpire, "bookmarks")
                .detail(format!("count={n} before={}", now.to_rfc3339())),
        )
        .map_err(|e| e.to_string())?;
    db.delete_expired_bookmarks(now).map_err(|e| e.to_string())
}

/// `GET /bookmarks`: the searchable list of bookmarks.
pub async fn page(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    state.authorize(&s, Action::BookmarkView, Resource::System)?;
    state.authorize(&s, Action::Playback, Resource::System)?;
    let shell = crate::shell::Shell::new(&state, &s, &headers, "/bookmarks").await?;
    let cams: Vec<CameraRow> = cameras(&state)
        .await?
        .into_iter()
        .filter(|c| {
            state.allowed(&s, Action::BookmarkView, camera(c))
                && state.allowed(&s, Action::Playback, camera(c))
        })
        .collect();
    if cams.is_empty() {
        return Err(ApiError::forbidden(
            "bookmarks need playback of at least one camera",
        ));
    }
    let t = |k| escape(shell.t(k));
    let mut options = format!("<option value=\"\">{}</option>", t("bookmarks.all_cameras"));
    for c in &cams {
        let _ = write!(
            options,
            "<option value=\"{}\">{}</option>",
            c.id.0,
            escape(&c.name)
        );
    }
    let content = format!(
        "<h1>{title}</h1>\n\
<form id=\"bookmark-search\" class=\"bookmark-search\" role=\"search\">\n\
<div class=\"field\"><label for=\"bookmark-q\">{search}</label>\
<input id=\"bookmark-q\" name=\"q\" type=\"search\" maxlength=\"{max_q}\"></div>\n\
<div class=\"field\"><label for=\"bookmark-camera\">{camera}</label>\
<select id=\"bookmark-camera\" name=\"camera\">{options}</select></div>\n\
<div class=\"field\"><label for=\"bookmark-from\">{from}</label>\
<input id=\"bookmark-from\" name=\"from\" type=\"datetime-local\" step=\"1\"></div>\n\
<div class=\"field\"><label for=\"bookmark-to\">{to}</label>\
<input id=\"bookmark-to\" name=\"to\" type=\"datetime-local\" step=\"1\"></div>\n\
<button type=\"submit\" id=\"bookmark-search-button\">{go}</button>\n\
</form>\n\
<p id=\"bookmark-error\" class=\"error\" role=\"alert\" hidden></p>\n\
<p id=\"bookmark-status\" class=\"muted\" role=\"status\" aria-live=\"polite\"></p>\n\
<table class=\"bookmarks\" id=\"bookmark-table\">\n\
<caption class=\"visually-hidden\">{title}</caption>\n\
<thead><tr><th scope=\"col\">{camera}</th><th scope=\"col\">{time}</th>\
<th scope=\"col\">{note}</th><th scope=\"col\">{author}</th>\
<th scope=\"col\">{expires}</th><th scope=\"col\">{actions}</th></tr></thead>\n\
<tbody id=\"bookmark-rows\"></tbody>\n\
</table>\n",
        title = t("bookmarks.title"),
        search = t("bookmarks.search"),
        max_q = MAX_SEARCH_CHARS,
        camera = t("bookmarks.camera"),
        from = t("bookmarks.from"),
        to = t("bookmarks.to"),
        go = t("bookmarks.search_button"),
        time = t("bookmarks.time"),
        note = t("bookmarks.note"),
        author = t("bookmarks.author"),
        expires = t("bookmarks.expires"),
        actions = t("bookmarks.actions"),
    );
    Ok(shell.page(shell.t("bookmarks.title"), "bookmarks.js", &content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_trimmed_and_bounded() {
        assert_eq!(
            check_note("  gate left open \u{a0}").unwrap(),
            "gate left open"
        );
        assert!(check_note("   ").is_err());
        assert!(check_note("a\nb").is_err());
        assert!(check_note("a\u{7}b").is_err());
        assert!(check_note(&"é".repeat(MAX_NOTE_CHARS)).is_ok());
        assert!(check_note(&"é".repeat(MAX_NOTE_CHARS + 1)).is_err());
    }
}
