//! The register of transfers and disclosures (E4, E5) over HTTP:
//! `docs/design/export.md`, "Register of transfers and disclosures".
//!
//! Every export (`copy`) and every showing (`shown`) or telling (`verbal`)
//! of recordings to a third party is an entry: the recordings' time span and
//! cameras, the requesting party (name, title, organisation, country), who
//! authorised it, a description of the content, why it was requested and
//! why granted, and for a recipient outside the EEA the legal basis and
//! safeguards of the transfer. Copies also carry their package id and hash
//! and their life: downloaded, expired, destruction confirmed.
//!
//! [`check_register_fields`] checks the register's fields of a request; the
//! export route uses it for the same fields.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use veil_access::{Action, Resource};
use veil_audit::report::csv_cell;
use veil_audit::{Action as Audited, Event};
use veil_base::{CameraId, Time90k, UserId};
use veil_store::db::{
    CameraRow, DisclosureFilter, DisclosureKind, DisclosureRow, NewDisclosure, Requester,
};

use crate::auth::Session;
use crate::bookmarks::parse_time;
use crate::error::{json_body, ApiError};
use crate::ui::escape;
use crate::{blocking, AppState};

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

/// The longest requester field, in characters (after trimming).
pub const REQUESTER_CHARS: std::ops::RangeInclusive<usize> = 1..=200;
/// The shortest and longest reason (request or grant), in characters.
pub const REASON_CHARS: std::ops::RangeInclusive<usize> = 10..=2000;
/// The shortest and longest content description, legal basis or
/// safeguards, in characters.
pub const TEXT_CHARS: std::ops::RangeInclusive<usize> = 1..=2000;

pub use veil_dpo::country::{in_eea, is_country};

/// The requesting party of a register entry.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequesterBody {
    /// Their name (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Their title or function (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// Their organisation (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub organisation: String,
    /// The organisation's country: an ISO 3166-1 alpha-2 code such as `PT`.
    #[schema(example = "PT", min_length = 2, max_length = 2)]
    pub country: String,
}

/// The register's fields of a request (a disclosure or an export).
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct RegisterFields {
    /// The requesting party.
    pub requester: RequesterBody,
    /// Why it was requested (10 to 2000 characters).
    #[schema(min_length = 10, max_length = 2000)]
    pub reason: String,
    /// Why it was granted (10 to 2000 characters). Required for showings
    /// and tellings; an export without it is granted for the reason it was
    /// requested.
    #[serde(default)]
    #[schema(min_length = 10, max_length = 2000)]
    pub grant_reason: Option<String>,
    /// A short description of the recordings' content (up to 2000
    /// characters).
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub content: Option<String>,
    /// The legal basis of a transfer to a recipient outside the EEA, e.g.
    /// "adequacy decision", "Art. 46 safeguards", "Art. 49 derogation".
    /// Required when the requester's country is outside the EEA.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub legal_basis: Option<String>,
    /// The safeguards of a transfer outside the EEA. Required when the
    /// requester's country is outside the EEA.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub safeguards: Option<String>,
}

/// The register's fields, checked and trimmed.
#[derive(Clone, Debug)]
pub struct CheckedRegister {
    /// The requesting party, the country in upper case.
    pub requester: Requester,
    /// Why it was requested.
    pub request_reason: String,
    /// Why it was granted (the request's reason when an export gives none).
    pub grant_reason: String,
    /// The content's description, if given.
    pub content: Option<String>,
    /// The legal basis, if given.
    pub legal_basis: Option<String>,
    /// The safeguards, if given.
    pub safeguards: Option<String>,
}

/// `v` trimmed, `chars` long, without control characters other than line
/// breaks and tabs (`multiline`) or without any; else a 400 naming `name`
/// (the free texts of the register and of data-subject requests).
pub(crate) fn text(
    name: &str,
    v: &str,
    chars: &std::ops::RangeInclusive<usize>,
    multiline: bool,
) -> Result<String, ApiError> {
    let v = v.trim();
    let n = v.chars().count();
    if !chars.contains(&n) {
        return Err(ApiError::bad_request(format!(
            "{name} must be {} to {} characters, got {n}",
            chars.start(),
            chars.end()
        )));
    }
    let bad = |c: char| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t'));
    if v.chars().any(bad) {
        return Err(ApiError::bad_request(if multiline {
            format!("{name} must not contain control characters other than line breaks and tabs")
        } else {
            format!("{name} must not contain control characters (line breaks, tabs, …)")
        }));
    }
    Ok(v.to_owned())
}

fn optional(name: &str, v: &Option<String>) -> Result<Option<String>, ApiError> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => text(name, v, &TEXT_CHARS, true).map(Some),
    }
}

/// Checks the register's fields; every 400 names the field.
pub fn check_register(
    f: &RegisterFields,
    grant_required: bool,
) -> Result<CheckedRegister, ApiError> {
    let r = &f.requester;
    let name = text("requester.name", &r.name, &REQUESTER_CHARS, false)?;
    let title = text("requester.title", &r.title, &REQUESTER_CHARS, false)?;
    let organisation = text(
        "requester.organisation",
        &r.organisation,
        &REQUESTER_CHARS,
        false,
    )?;
    let country = r.country.trim().to_ascii_uppercase();
    if !is_country(&country) {
        return Err(ApiError::bad_request(format!(
            "requester.country must be an ISO 3166-1 alpha-2 country code such as PT, got {:?}",
            r.country
        )));
    }
    let request_reason = text("reason", &f.reason, &REASON_CHARS, true)?;
    let grant_reason = match f.grant_reason.as_deref().map(str::trim) {
        Some(g) if !g.is_empty() => text("grant_reason", g, &REASON_CHARS, true)?,
        _ if grant_required => {
            return Err(ApiError::bad_request(format!(
                "grant_reason is required: {} to {} characters saying why it was granted",
                REASON_CHARS.start(),
                REASON_CHARS.end()
            )))
        }
        _ => request_reason.clone(),
    };
    let content = optional("content", &f.content)?;
    let legal_basis = optional("legal_basis", &f.legal_basis)?;
    let safeguards = optional("safeguards", &f.safeguards)?;
    if !in_eea(&country) {
        if legal_basis.is_none() {
            return Err(ApiError::bad_request(format!(
                "legal_basis is required for a recipient outside the EEA ({country}): e.g. \
                 \"adequacy decision\", \"Art. 46 safeguards\" or \"Art. 49 derogation\""
            )));
        }
        if safeguards.is_none() {
            return Err(ApiError::bad_request(format!(
                "safeguards is required for a recipient outside the EEA ({country})"
            )));
        }
    }
    Ok(CheckedRegister {
        requester: Requester {
            name,
            title,
            organisation,
            country,
        },
        request_reason,
        grant_reason,
        content,
        legal_basis,
        safeguards,
    })
}

/// Checks the register's fields of a request (every 400 names the field)
/// and gives the requesting party (country in upper case) and the reason it
/// was granted: `grant_reason`, required when `grant_required`, else the
/// request's `reason`. The other fields are checked too; callers store them
/// trimmed (or use [`check_register`], which trims them all).
pub fn check_register_fields(
    f: &RegisterFields,
    grant_required: bool,
) -> Result<(Requester, String), ApiError> {
    let c = check_register(f, grant_required)?;
    Ok((c.requester, c.grant_reason))
}

/// The most cameras one entry names.
pub const MAX_CAMERAS: usize = 64;
/// The most entries one listing gives (and the default).
pub const MAX_LIST: usize = 1000;
/// The longest destruction note, in characters.
pub const NOTE_CHARS: std::ops::RangeInclusive<usize> = 1..=2000;

/// Whether `s` may read the register: `dpo.documents` or `audit.read`.
pub fn may_read(state: &AppState, s: &Session) -> bool {
    state.allowed(s, Action::DpoDocuments, Resource::System)
        || state.allowed(s, Action::AuditRead, Resource::System)
}

fn authorize_read(state: &AppState, s: &Session) -> Result<(), ApiError> {
    if may_read(state, s) {
        return Ok(());
    }
    // Neither: the engine's refusal of the first names the reason.
    state.authorize(s, Action::DpoDocuments, Resource::System)?;
    Err(ApiError::forbidden(
        "reading the register needs dpo.documents or audit.read",
    ))
}

/// The requesting party as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct RequesterJson {
    /// Their name.
    pub name: String,
    /// Their title or function.
    pub title: String,
    /// Their organisation.
    pub organisation: String,
    /// The organisation's country (ISO 3166-1 alpha-2).
    pub country: String,
}

/// One camera's interval of an entry.
#[derive(Serialize, ToSchema)]
pub struct IntervalJson {
    /// The camera id.
    pub camera: i64,
    /// Start (RFC 3339).
    #[schema(format = DateTime)]
    pub start: String,
    /// End (RFC 3339, exclusive).
    #[schema(format = DateTime)]
    pub end: String,
}

/// A register entry as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct DisclosureJson {
    /// Its id.
    pub id: i64,
    /// `copy`, `shown`, `verbal` or `subject_access`.
    #[schema(value_type = String)]
    pub kind: &'static str,
    /// `created`, `downloaded`, `expired` or `destruction_confirmed` (the
    /// furthest stage reached; showings and tellings stay `created`).
    #[schema(value_type = String)]
    pub status: &'static str,
    /// When it was entered (RFC 3339).
    #[schema(format = DateTime)]
    pub created: String,
    /// The pseudonym of who entered it (`null` for the system).
    pub recorded_by: Option<String>,
    /// Start of the recordings' time span (RFC 3339).
    #[schema(format = DateTime)]
    pub start: String,
    /// End of the recordings' time span (RFC 3339, exclusive).
    #[schema(format = DateTime)]
    pub end: String,
    /// The cameras.
    pub cameras: Vec<i64>,
    /// The intervals per camera.
    pub intervals: Vec<IntervalJson>,
    /// The requesting party.
    pub requester: RequesterJson,
    /// Whether the requester's country is outside the EEA.
    pub outside_eea: bool,
    /// Who authorised it (pseudonyms, comma-separated).
    pub authorised_by: String,
    /// A description of the content.
    pub content: String,
    /// Why it was requested.
    pub reason: String,
    /// Why it was granted.
    pub grant_reason: String,
    /// The legal basis of a transfer outside the EEA.
    pub legal_basis: Option<String>,
    /// The safeguards of a transfer outside the EEA.
    pub safeguards: Option<String>,
    /// Copies: the export's id.
    pub export_id: Option<i64>,
    /// Copies: the package id of its manifest.
    pub package_id: Option<String>,
    /// Copies: the package's SHA-256 (hex).
    pub package_sha256: Option<String>,
    /// Copies: when the stored package expires (RFC 3339).
    #[schema(format = DateTime)]
    pub expires: Option<String>,
    /// Copies: the first download (RFC 3339).
    #[schema(format = DateTime)]
    pub downloaded: Option<String>,
    /// Copies: when the stored package was destroyed at its expiry.
    #[schema(format = DateTime)]
    pub expired: Option<String>,
    /// Copies: when a user entered the recipient's confirmation that they
    /// destroyed their copy.
    #[schema(format = DateTime)]
    pub destruction_confirmed: Option<String>,
    /// The pseudonym of who entered that confirmation.
    pub destruction_confirmed_by: Option<String>,
    /// The confirmation's note.
    pub destruction_note: Option<String>,
    /// The access-record entry that recorded it.
    pub audit_seq: i64,
    /// Whether the caller may enter a confirmed destruction now.
    pub can_confirm_destruction: bool,
}

/// The answer of `GET /api/v1/disclosures`.
#[derive(Serialize, ToSchema)]
pub struct DisclosureList {
    /// Newest first.
    pub items: Vec<DisclosureJson>,
}

/// The body of `POST /api/v1/disclosures`: a showing or telling.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDisclosureBody {
    /// `shown` (the recordings were shown on screen) or `verbal` (their
    /// content was told). Copies are entered by exports only.
    #[schema(example = "shown")]
    pub kind: String,
    /// The cameras (1 to 64 ids); the caller needs `playback` on each.
    pub cameras: Vec<i64>,
    /// Start of the recordings' time span (RFC 3339).
    #[schema(format = DateTime)]
    pub start: String,
    /// End of the recordings' time span (RFC 3339), after `start`.
    #[schema(format = DateTime)]
    pub end: String,
    /// The requesting party.
    pub requester: RequesterBody,
    /// Why it was requested (10 to 2000 characters).
    #[schema(min_length = 10, max_length = 2000)]
    pub reason: String,
    /// Why it was granted (10 to 2000 characters); required.
    #[schema(min_length = 10, max_length = 2000)]
    pub grant_reason: Option<String>,
    /// A short description of what was shown or told (1 to 2000
    /// characters); required.
    #[schema(min_length = 1, max_length = 2000)]
    pub content: Option<String>,
    /// The legal basis, required for a requester outside the EEA.
    #[serde(default)]
    pub legal_basis: Option<String>,
    /// The safeguards, required for a requester outside the EEA.
    #[serde(default)]
    pub safeguards: Option<String>,
}

/// The answer of `POST /api/v1/disclosures`.
#[derive(Serialize, ToSchema)]
pub struct CreatedDisclosure {
    /// The new entry's id.
    pub id: i64,
}

/// The body of `POST /api/v1/disclosures/{id}/destruction`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestructionConfirmation {
    /// How the recipient confirmed it (1 to 2000 characters), e.g. "letter
    /// of 3 December from the case officer".
    #[schema(min_length = 1, max_length = 2000)]
    pub note: String,
}

fn conflict(message: String) -> ApiError {
    ApiError {
        status: StatusCode::CONFLICT,
        code: "conflict",
        message,
    }
}

fn event(s: &Session, action: Audited, resource: String, peer: SocketAddr) -> Event {
    Event::new(s.subject.pseudonym.clone(), action, resource).client(peer.ip())
}

fn id_list(ids: &[CameraId]) -> String {
    ids.iter()
        .map(|c| c.0.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

async fn all_cameras(state: &AppState) -> Result<Vec<CameraRow>, ApiError> {
    let db = state.store.db.clone();
    blocking(move || Ok(db.cameras()?)).await
}

/// Whether `s` may enter a confirmed destruction of `d`'s copy:
/// `dpo.documents`, or `export` on every camera of the entry.
fn may_confirm(state: &AppState, s: &Session, cams: &[CameraRow], d: &DisclosureRow) -> bool {
    state.allowed(s, Action::DpoDocuments, Resource::System)
        || d.entry.cameras.iter().all(|id| {
            state.allowed(
                s,
                Action::Export,
                crate::api::camera_resource(*id, cams.iter().find(|c| c.id == *id)),
            )
        })
}

/// Pseudonyms of the users `rows` name.
async fn pseudonyms(
    state: &AppState,
    rows: &[DisclosureRow],
) -> Result<HashMap<UserId, String>, ApiError> {
    let mut ids: Vec<UserId> = rows
        .iter()
        .flat_map(|d| [d.entry.recorded_by, d.destruction_confirmed_by])
        .flatten()
        .collect();
    ids.sort_by_key(|u| u.0);
    ids.dedup();
    let db = state.store.db.clone();
    blocking(move || {
        let mut out = HashMap::new();
        for id in ids {
            if let Some(u) = db.user(id)? {
                out.insert(id, u.pseudonym);
            }
        }
        Ok(out)
    })
    .await
}

fn to_json(d: DisclosureRow, names: &HashMap<UserId, String>, can_confirm: bool) -> DisclosureJson {
    let name = |u: Option<UserId>| u.and_then(|u| names.get(&u).cloned());
    let time = |t: Option<Time90k>| t.map(|t| t.to_rfc3339());
    DisclosureJson {
        id: d.id,
        kind: d.entry.kind.as_str(),
        status: d.status(),
        created: d.entry.created.to_rfc3339(),
        recorded_by: name(d.entry.recorded_by),
        start: d.entry.start.to_rfc3339(),
        end: d.entry.end.to_rfc3339(),
        cameras: d.entry.cameras.iter().map(|c| c.0).collect(),
        intervals: d
            .entry
            .intervals
            .iter()
            .map(|(c, s, e)| IntervalJson {
                camera: c.0,
                start: s.to_rfc3339(),
                end: e.to_rfc3339(),
            })
            .collect(),
        outside_eea: !in_eea(&d.entry.requester.country),
        requester: RequesterJson {
            name: d.entry.requester.name,
            title: d.entry.requester.title,
            organisation: d.entry.requester.organisation,
            country: d.entry.requester.country,
        },
        authorised_by: d.entry.authorised_by,
        content: d.entry.content,
        reason: d.entry.request_reason,
        grant_reason: d.entry.grant_reason,
        legal_basis: d.entry.legal_basis,
        safeguards: d.entry.safeguards,
        export_id: d.entry.export_id,
        package_id: d.entry.package_id,
        package_sha256: d.entry.package_sha256,
        expires: time(d.entry.expires),
        downloaded: time(d.downloaded),
        expired: time(d.expired),
        can_confirm_destruction: can_confirm
            && d.entry.kind.is_copy()
            && d.destruction_confirmed.is_none(),
        destruction_confirmed: time(d.destruction_confirmed),
        destruction_confirmed_by: name(d.destruction_confirmed_by),
        destruction_note: d.destruction_note,
        audit_seq: d.entry.audit_seq,
    }
}

const FILTER_PARAMS: [&str; 7] = [
    "from",
    "to",
    "camera",
    "kind",
    "country",
    "organisation",
    "limit",
];

/// The listing's filter from the query (each 400 names its parameter) and
/// its description for the access record.
fn filter(q: &HashMap<String, String>) -> Result<(DisclosureFilter, String), ApiError> {
    if let Some(k) = q.keys().find(|k| !FILTER_PARAMS.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "unknown parameter {k:?}: the filters are {}",
            FILTER_PARAMS.join(", ")
        )));
    }
    let get = |name: &str| q.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let time = |name: &str| get(name).map(|v| parse_time(name, v)).transpose();
    let from = time("from")?;
    let to = time("to")?;
    if let (Some(a), Some(b)) = (from, to) {
        if b <= a {
            return Err(ApiError::bad_request("to must be after from"));
        }
    }
    let camera = get("camera")
        .map(|v| {
            v.parse().map(CameraId).map_err(|_| {
                ApiError::bad_request(format!("camera must be a camera id, got {v:?}"))
            })
        })
        .transpose()?;
    let kind = get("kind")
        .map(|v| {
            DisclosureKind::parse(v).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "kind must be copy, shown, verbal or subject_access, got {v:?}"
                ))
            })
        })
        .transpose()?;
    let country = get("country")
        .map(|v| {
            let c = v.to_ascii_uppercase();
            if is_country(&c) {
                Ok(c)
            } else {
                Err(ApiError::bad_request(format!(
                    "country must be an ISO 3166-1 alpha-2 code such as PT, got {v:?}"
                )))
            }
        })
        .transpose()?;
    let organisation = get("organisation")
        .map(|v| {
            if v.chars().count() > *REQUESTER_CHARS.end() || v.chars().any(char::is_control) {
                Err(ApiError::bad_request(format!(
                    "organisation must be at most {} characters of text",
                    REQUESTER_CHARS.end()
                )))
            } else {
                Ok(v.to_owned())
            }
        })
        .transpose()?;
    let limit = match get("limit") {
        None => MAX_LIST,
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=MAX_LIST).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("limit must be 1 to {MAX_LIST}, got {v:?}"))
            })?,
    };
    let mut detail = String::new();
    let mut add = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            let _ = write!(
                detail,
                "{}{k}={v}",
                if detail.is_empty() { "" } else { " " }
            );
        }
    };
    add("from", from.map(|t| t.to_rfc3339()));
    add("to", to.map(|t| t.to_rfc3339()));
    add("camera", camera.map(|c| c.0.to_string()));
    add("kind", kind.map(|k| k.as_str().to_owned()));
    add("country", country.clone());
    add(
        "organisation",
        organisation.as_ref().map(|o| format!("{o:?}")),
    );
    add("limit", Some(limit.to_string()));
    Ok((
        DisclosureFilter {
            from,
            to,
            camera,
            kind,
            country,
            organisation,
            limit,
        },
        detail,
    ))
}

/// Authorises, records the read with its filter, and reads the entries.
async fn read(
    state: &AppState,
    s: &Session,
    peer: SocketAddr,
    q: &HashMap<String, String>,
    format: &str,
) -> Result<Vec<DisclosureRow>, ApiError> {
    authorize_read(state, s)?;
    let (f, detail) = filter(q)?;
    state
        .record(
            event(s, Audited::DisclosureRead, "disclosures".into(), peer)
                .detail(format!("format={format} {detail}")),
        )
        .await?;
    let db = state.store.db.clone();
    blocking(move || Ok(db.disclosures(&f)?)).await
}

/// `GET /api/v1/disclosures`: the register, filtered, newest first.
pub async fn list(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<DisclosureList>, ApiError> {
    let rows = read(&state, &s, peer, &q, "json").await?;
    let names = pseudonyms(&state, &rows).await?;
    let cams = all_cameras(&state).await?;
    let items = rows
        .into_iter()
        .map(|d| {
            let can = may_confirm(&state, &s, &cams, &d);
            to_json(d, &names, can)
        })
        .collect();
    Ok(Json(DisclosureList { items }))
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 28] = [
    "id",
    "kind",
    "status",
    "created",
    "recorded_by",
    "start",
    "end",
    "cameras",
    "intervals",
    "requester_name",
    "requester_title",
    "requester_organisation",
    "requester_country",
    "outside_eea",
    "authorised_by",
    "content",
    "reason",
    "grant_reason",
    "legal_basis",
    "safeguards",
    "package_id",
    "package_sha256",
    "expires",
    "downloaded",
    "expired",
    "destruction_confirmed",
    "destruction_confirmed_by",
    "destruction_note",
];

/// The register as CSV (RFC 4180, CRLF, a header row; cells a spreadsheet
/// would read as formulas start with `'`).
pub fn to_csv(items: &[DisclosureJson]) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push_str("\r\n");
    for d in items {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let cells: [String; 28] = [
            d.id.to_string(),
            d.kind.to_owned(),
            d.status.to_owned(),
            d.created.clone(),
            opt(&d.recorded_by),
            d.start.clone(),
            d.end.clone(),
            d.cameras
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            d.intervals
                .iter()
                .map(|i| format!("{}:{}/{}", i.camera, i.start, i.end))
                .collect::<Vec<_>>()
                .join(" "),
            d.requester.name.clone(),
            d.requester.title.clone(),
            d.requester.organisation.clone(),
            d.requester.country.clone(),
            d.outside_eea.to_string(),
            d.authorised_by.clone(),
            d.content.clone(),
            d.reason.clone(),
            d.grant_reason.clone(),
            opt(&d.legal_basis),
            opt(&d.safeguards),
            opt(&d.package_id),
            opt(&d.package_sha256),
            opt(&d.expires),
            opt(&d.downloaded),
            opt(&d.expired),
            opt(&d.destruction_confirmed),
            opt(&d.destruction_confirmed_by),
            opt(&d.destruction_note),
        ];
        let row: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

/// `GET /api/v1/disclosures.csv`: the same listing as CSV.
pub async fn list_csv(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let rows = read(&state, &s, peer, &q, "csv").await?;
    let names = pseudonyms(&state, &rows).await?;
    let items: Vec<DisclosureJson> = rows
        .into_iter()
        .map(|d| to_json(d, &names, false))
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"disclosures.csv\"",
            ),
        ],
        to_csv(&items),
    )
        .into_response())
}

/// `POST /api/v1/disclosures`: enters a showing or telling of recordings
/// in the register; `{"id": N}`.
pub async fn create(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body<NewDisclosureBody>,
) -> Result<(StatusCode, Json<CreatedDisclosure>), ApiError> {
    // Showing video is playback.
    state.authorize(&s, Action::Playback, Resource::System)?;
    let req = json_body(body)?;
    let kind = match DisclosureKind::parse(&req.kind) {
        Some(k @ (DisclosureKind::Shown | DisclosureKind::Verbal)) => k,
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "kind {:?} is entered by exports only: record a showing (\"shown\") or a \
                 telling (\"verbal\") here",
                req.kind
            )))
        }
        None => {
            return Err(ApiError::bad_request(format!(
                "kind must be \"shown\" or \"verbal\", got {:?}",
                req.kind
            )))
        }
    };
    let start = parse_time("start", &req.start)?;
    let end = parse_time("end", &req.end)?;
    if end <= start {
        return Err(ApiError::bad_request("end must be after start"));
    }
    let now = state.now();
    if start > now {
        return Err(ApiError::bad_request(
            "start must not be in the future: only recorded video can be disclosed",
        ));
    }
    if req.cameras.is_empty() || req.cameras.len() > MAX_CAMERAS {
        return Err(ApiError::bad_request(format!(
            "cameras must list 1 to {MAX_CAMERAS} camera ids"
        )));
    }
    let fields = RegisterFields {
        requester: req.requester,
        reason: req.reason,
        grant_reason: req.grant_reason,
        content: req.content,
        legal_basis: req.legal_basis,
        safeguards: req.safeguards,
    };
    let c = check_register(&fields, true)?;
    let content = c.content.clone().ok_or_else(|| {
        ApiError::bad_request("content is required: a short description of what was disclosed")
    })?;
    // Every camera authorised (playback of its recordings from `start`)
    // before its existence is told.
    let all = all_cameras(&state).await?;
    let mut cams: Vec<CameraId> = Vec::with_capacity(req.cameras.len());
    for &raw in &req.cameras {
        let id = CameraId(raw);
        let cam = all.iter().find(|c| c.id == id);
        let resource = match cam {
            Some(c) => crate::api::recording_resource(c, start),
            None => crate::api::camera_resource(id, None),
        };
        state.authorize(&s, Action::Playback, resource)?;
        if cam.is_none() {
            return Err(ApiError::bad_request(format!(
                "cameras: there is no camera {raw}"
            )));
        }
        if cams.contains(&id) {
            return Err(ApiError::bad_request(format!(
                "cameras: camera {raw} is listed twice"
            )));
        }
        cams.push(id);
    }
    let outside = !in_eea(&c.requester.country);
    let seq = state
        .record_seq(
            event(&s, Audited::DisclosureRecord, "disclosure:new".into(), peer)
                .detail(format!(
                    "kind={} cameras={} start={} end={} country={} outside_eea={outside}",
                    kind.as_str(),
                    id_list(&cams),
                    start.to_rfc3339(),
                    end.to_rfc3339(),
                    c.requester.country,
                ))
                .justification(c.grant_reason.clone()),
        )
        .await?;
    let d = NewDisclosure {
        kind,
        created: now,
        recorded_by: Some(s.subject.user),
        start,
        end,
        intervals: cams.iter().map(|&c| (c, start, end)).collect(),
        cameras: cams,
        requester: c.requester,
        authorised_by: s.subject.pseudonym.clone(),
        content,
        request_reason: c.request_reason,
        grant_reason: c.grant_reason,
        legal_basis: c.legal_basis,
        safeguards: c.safeguards,
        export_id: None,
        package_id: None,
        package_sha256: None,
        expires: None,
        audit_seq: seq,
    };
    let db = state.store.db.clone();
    let id = blocking(move || Ok(db.insert_disclosure(&d)?)).await?;
    Ok((StatusCode::CREATED, Json(CreatedDisclosure { id })))
}

/// `POST /api/v1/disclosures/{id}/destruction`: enters the recipient's
/// confirmation that they destroyed their copy.
pub async fn confirm_destruction(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(raw): Path<String>,
    body: Body<DestructionConfirmation>,
) -> Result<Json<DisclosureJson>, ApiError> {
    if !state.allowed(&s, Action::DpoDocuments, Resource::System) {
        state.authorize(&s, Action::Export, Resource::System)?;
    }
    let not_found = || ApiError::not_found(format!("no register entry {raw:?}"));
    let id: i64 = raw.parse().map_err(|_| not_found())?;
    let db = state.store.db.clone();
    let d = blocking(move || Ok(db.disclosure(id)?))
        .await?
        .ok_or_else(not_found)?;
    let cams = all_cameras(&state).await?;
    if !may_confirm(&state, &s, &cams, &d) {
        return Err(ApiError::forbidden(
            "confirming a destruction needs dpo.documents, or export on every camera of the entry",
        ));
    }
    let req = json_body(body)?;
    let note = text("note", &req.note, &NOTE_CHARS, true)?;
    if !d.entry.kind.is_copy() {
        return Err(conflict(format!(
            "entry {id} is a {} disclosure: no copy was handed over",
            d.entry.kind.as_str()
        )));
    }
    if d.destruction_confirmed.is_some() {
        return Err(conflict(format!(
            "the destruction of entry {id}'s copy is confirmed already"
        )));
    }
    state
        .record(
            event(
                &s,
                Audited::DisclosureDestruction,
                format!("disclosure:{id}"),
                peer,
            )
            .detail(format!(
                "kind={} package_id={}",
                d.entry.kind.as_str(),
                d.entry.package_id.as_deref().unwrap_or("")
            ))
            .justification(note.clone()),
        )
        .await?;
    let (db, user, now) = (state.store.db.clone(), s.subject.user, state.now());
    let row = blocking(move || {
        match db.confirm_disclosure_destruction(id, user, &note, now) {
            Ok(()) => {}
            Err(veil_store::Error::Invalid(_)) => {
                return Err(conflict(format!(
                    "the destruction of entry {id}'s copy was confirmed meanwhile"
                )))
            }
            Err(e) => return Err(e.into()),
        }
        db.disclosure(id)?
            .ok_or_else(|| ApiError::internal("a confirmed entry is not there"))
    })
    .await?;
    let names = pseudonyms(&state, std::slice::from_ref(&row)).await?;
    Ok(Json(to_json(row, &names, false)))
}

/// `GET /disclosures`: the register's page.
pub async fn page(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    authorize_read(&state, &s)?;
    let shell = crate::shell::Shell::new(&state, &s, &headers, "/disclosures").await?;
    let cams = all_cameras(&state).await?;
    let t = |k: &str| escape(shell.t(k));
    let mut camera_options = format!("<option value=\"\">{}</option>", t("disclosures.all"));
    for c in &cams {
        let _ = write!(
            camera_options,
            "<option value=\"{}\">{}</option>",
            c.id.0,
            escape(&c.name)
        );
    }
    let mut kind_options = format!("<option value=\"\">{}</option>", t("disclosures.all"));
    for k in DisclosureKind::ALL.map(DisclosureKind::as_str) {
        let _ = write!(
            kind_options,
            "<option value=\"{k}\">{}</option>",
            t(&format!("disclosures.kind.{k}")),
        );
    }
    let mut html = format!(
        r#"<h1>{title}</h1><p class="lede">{intro}</p>
<section aria-labelledby="filter-h"><h2 id="filter-h">{filters}</h2>
<form id="disclosure-filter" class="filters">
<label for="f-from">{from}</label><input id="f-from" name="from" type="datetime-local" step="1">
<label for="f-to">{to}</label><input id="f-to" name="to" type="datetime-local" step="1">
<label for="f-camera">{camera}</label><select id="f-camera" name="camera">{camera_options}</select>
<label for="f-kind">{kind}</label><select id="f-kind" name="kind">{kind_options}</select>
<label for="f-country">{country}</label><input id="f-country" name="country" maxlength="2" size="3">
<label for="f-organisation">{organisation}</label><input id="f-organisation" name="organisation" maxlength="200">
<button type="submit">{apply}</button>
<a id="disclosure-csv" href="/api/v1/disclosures.csv" download="disclosures.csv">{csv}</a>
</form></section>
<section aria-labelledby="list-h"><h2 id="list-h">{list}</h2>
<div class="table-scroll"><table id="disclosure-table"><thead><tr>
<th scope="col">{id}</th><th scope="col">{kind}</th><th scope="col">{status}</th>
<th scope="col">{span}</th><th scope="col">{cameras}</th><th scope="col">{requester}</th>
<th scope="col">{authorised_by}</th><th scope="col">{content}</th><th scope="col">{reasons}</th>
<th scope="col">{transfer}</th><th scope="col">{package}</th><th scope="col">{actions}</th>
</tr></thead><tbody></tbody></table></div></section>"#,
        title = t("disclosures.title"),
        intro = t("disclosures.intro"),
        filters = t("disclosures.filters"),
        from = t("disclosures.from"),
        to = t("disclosures.to"),
        camera = t("disclosures.camera"),
        kind = t("disclosures.kind"),
        country = t("disclosures.country"),
        organisation = t("disclosures.organisation"),
        apply = t("disclosures.apply"),
        csv = t("disclosures.csv"),
        list = t("disclosures.list"),
        id = t("disclosures.id"),
        status = t("disclosures.status"),
        span = t("disclosures.span"),
        cameras = t("disclosures.cameras"),
        requester = t("disclosures.requester"),
        authorised_by = t("disclosures.authorised_by"),
        content = t("disclosures.content"),
        reasons = t("disclosures.reasons"),
        transfer = t("disclosures.transfer"),
        package = t("disclosures.package"),
        actions = t("disclosures.actions"),
    );
    let playable: Vec<&CameraRow> = cams
        .iter()
        .filter(|c| {
            state.allowed(
                &s,
                Action::Playback,
                crate::api::camera_resource(c.id, Some(c)),
            )
        })
        .collect();
    if !playable.is_empty() {
        let mut boxes = String::new();
        for c in playable {
            let _ = write!(
                boxes,
                r#"<label><input type="checkbox" name="cameras" value="{id}"> {name}</label>"#,
                id = c.id.0,
                name = escape(&c.name)
            );
        }
        let _ = write!(
            html,
            r#"<section aria-labelledby="new-h"><h2 id="new-h">{new}</h2>
<form id="disclosure-form" class="stack">
<label for="d-kind">{kind}</label><select id="d-kind" name="kind">
<option value="shown">{shown}</option><option value="verbal">{verbal}</option></select>
<fieldset><legend>{cameras}</legend><div id="d-cameras">{boxes}</div></fieldset>
<label for="d-start">{start}</label><input id="d-start" name="start" type="datetime-local" step="1" required>
<label for="d-end">{end}</label><input id="d-end" name="end" type="datetime-local" step="1" required>
<fieldset><legend>{requester}</legend>
<label for="d-name">{name}</label><input id="d-name" name="name" maxlength="200" required>
<label for="d-title">{rtitle}</label><input id="d-title" name="title" maxlength="200" required>
<label for="d-organisation">{organisation}</label><input id="d-organisation" name="organisation" maxlength="200" required>
<label for="d-country">{country}</label><input id="d-country" name="country" maxlength="2" size="3" required>
</fieldset>
<label for="d-content">{content}</label><textarea id="d-content" name="content" maxlength="2000" required></textarea>
<label for="d-reason">{reason}</label><textarea id="d-reason" name="reason" minlength="10" maxlength="2000" required></textarea>
<label for="d-grant">{grant}</label><textarea id="d-grant" name="grant_reason" minlength="10" maxlength="2000" required></textarea>
<label for="d-legal">{legal}</label><input id="d-legal" name="legal_basis" maxlength="2000">
<label for="d-safeguards">{safeguards}</label><textarea id="d-safeguards" name="safeguards" maxlength="2000"></textarea>
<p class="hint">{outside_hint}</p>
<button type="submit">{record}</button></form></section>"#,
            new = t("disclosures.new"),
            kind = t("disclosures.kind"),
            shown = t("disclosures.kind.shown"),
            verbal = t("disclosures.kind.verbal"),
            cameras = t("disclosures.cameras"),
            start = t("disclosures.start"),
            end = t("disclosures.end"),
            requester = t("disclosures.requester"),
            name = t("disclosures.requester.name"),
            rtitle = t("disclosures.requester.title"),
            organisation = t("disclosures.organisation"),
            country = t("disclosures.country"),
            content = t("disclosures.content"),
            reason = t("disclosures.reason"),
            grant = t("disclosures.grant_reason"),
            legal = t("disclosures.legal_basis"),
            safeguards = t("disclosures.safeguards"),
            outside_hint = t("disclosures.outside_hint"),
            record = t("disclosures.record"),
        );
    }
    html.push_str(r#"<p id="message" role="status" aria-live="polite"></p>"#);
    Ok(shell.page(shell.t("disclosures.title"), "disclosures.js", &html))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(country: &str) -> RegisterFields {
        RegisterFields {
            requester: RequesterBody {
                name: " Ana Silva ".into(),
                title: "Inspector".into(),
                organisation: "PSP".into(),
                country: country.into(),
            },
            reason: "a theft in the car park".into(),
            grant_reason: None,
            content: None,
            legal_basis: None,
            safeguards: None,
        }
    }

    fn message(r: Result<(Requester, String), ApiError>) -> String {
        let e = r.unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        e.message
    }

    #[test]
    fn checks_each_field() {
        let (r, grant) = check_register_fields(&fields("pt"), false).unwrap();
        assert_eq!(r.name, "Ana Silva");
        assert_eq!(r.country, "PT");
        assert_eq!(grant, "a theft in the car park", "the request's reason");
        assert!(message(check_register_fields(&fields("PT"), true)).starts_with("grant_reason"));
        assert!(
            message(check_register_fields(&fields("XX"), false)).starts_with("requester.country")
        );
        assert!(
            message(check_register_fields(&fields("PRT"), false)).starts_with("requester.country")
        );
        let mut f = fields("PT");
        f.requester.title = "  ".into();
        assert!(message(check_register_fields(&f, false)).starts_with("requester.title"));
        let mut f = fields("PT");
        f.requester.organisation = "x".repeat(201);
        assert!(message(check_register_fields(&f, false)).starts_with("requester.organisation"));
        let mut f = fields("PT");
        f.requester.name = "a\nb".into();
        assert!(message(check_register_fields(&f, false)).starts_with("requester.name"));
        let mut f = fields("PT");
        f.reason = "too short".into();
        assert!(message(check_register_fields(&f, false)).starts_with("reason"));
        let mut f = fields("PT");
        f.grant_reason = Some("short".into());
        assert!(message(check_register_fields(&f, false)).starts_with("grant_reason"));
        f.grant_reason = Some("police investigation\nof a theft".into());
        assert_eq!(
            check_register_fields(&f, true).unwrap().1,
            "police investigation\nof a theft"
        );
    }

    #[test]
    fn outside_the_eea_needs_a_legal_basis_and_safeguards() {
        for inside in ["NO", "IS", "LI", "GR", "DE"] {
            check_register_fields(&fields(inside), false).unwrap();
        }
        let mut f = fields("US");
        assert!(message(check_register_fields(&f, false)).starts_with("legal_basis"));
        f.legal_basis = Some("Art. 49 derogation".into());
        assert!(message(check_register_fields(&f, false)).starts_with("safeguards"));
        f.safeguards = Some(" ".into());
        assert!(message(check_register_fields(&f, false)).starts_with("safeguards"));
        f.safeguards = Some("encrypted package, destruction after the trial".into());
        let c = check_register(&f, false).unwrap();
        assert_eq!(c.legal_basis.as_deref(), Some("Art. 49 derogation"));
        assert_eq!(c.requester.country, "US");
        // The United Kingdom and Switzerland are outside the EEA.
        assert!(!in_eea("GB") && !in_eea("CH"));
    }
}
