//! The breach register (D8): candidates raised from the system's own
//! signals ([`veil_audit::signals`]), dismissed with a reason or promoted;
//! breaches with their assessment, the 72-hour clock, the decisions to
//! notify the authority and the data subjects, and the Art. 33(3)
//! notification text (`docs/design/dpo-desk.md`, "Breach register").
//!
//! Everything here needs `dpo.documents`. Every step is recorded first
//! (`breach.*`), naming ids and the fields that changed, never the texts.
//! [`scan`] reads the access-record entries written since the last scan
//! (and [`signals::LOOKBACK_MIN`] before them), checks the data
//! directory's permissions and, when asked, verifies the whole record; it
//! runs every minute ([`run_periodically`]) and at every
//! `GET /api/v1/breach-candidates` (which verifies the whole record at most
//! every ten minutes).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use veil_access::{Action, Resource};
use veil_audit::signals::{self, Facts};
use veil_audit::{Action as Audited, Event};
use veil_base::{Time90k, TIME_UNITS_PER_SEC};
use veil_dpo::documents::breach::{self as doc, Assessment};
use veil_dpo::documents::Format;
use veil_store::db::{BreachAbout, BreachRow, CandidateRow, CandidateStatus, NewCandidate};
use veil_store::Db;

use crate::admin::event;
use crate::auth::Session;
use crate::error::{json_body, ApiError};
use crate::{blocking, AppState};

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

/// The setting holding the last access-record sequence number scanned.
const CURSOR_SETTING: &str = "breach_scan_seq";
/// Entries read per page while scanning.
const PAGE: i64 = 10_000;
/// Reasons: 10 to 2000 characters.
const REASON_CHARS: std::ops::RangeInclusive<usize> = 10..=2000;
/// A full verification of the access record every this many periodic scans
/// (at one a minute: hourly); a `GET` of the candidates verifies too when
/// no read has for [`VERIFY_AT_READ_MINUTES`].
const VERIFY_EVERY_SCANS: u64 = 60;

/// A read of the candidates verifies the whole access record when the last
/// read that did is this many minutes old.
const VERIFY_AT_READ_MINUTES: i64 = 10;
/// The setting holding when a read last verified the whole record (90 kHz).
const READ_VERIFY_SETTING: &str = "breach_read_verify_90k";

/// One scan at a time: a key is checked, recorded, then stored.
static SCANNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A path's id: anything but a number is "not found" (a JSON 404, as for
/// every other id in the API), never the router's plain-text 400.
fn path_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::not_found(format!("no breach or candidate {raw:?}")))
}

fn guard(state: &AppState, s: &Session) -> Result<(), ApiError> {
    state.authorize(s, Action::DpoDocuments, Resource::System)
}

// --- the scan ---

/// Reads what is new in the access record and the facts, and stores (after
/// recording each as `breach.candidate`) the candidates not raised before.
/// Returns how many were raised.
pub async fn scan(state: &AppState, verify: bool) -> Result<usize, ApiError> {
    let _one = SCANNING.lock().await;
    let (store, public_key) = (state.store.clone(), state.audit.public_key());
    let (found, cursor) = blocking(move || {
        let db = &store.db;
        let mut facts = Facts {
            permission_problems: store.permission_problems(),
            ..Default::default()
        };
        if verify {
            let opts = veil_audit::VerifyOptions {
                trusted_key: public_key,
                ..Default::default()
            };
            match veil_audit::verify_stored(db, &opts) {
                Ok(_) | Err(veil_audit::VerifyError::NoKey) => {}
                Err(veil_audit::VerifyError::Broken(b)) => {
                    facts.verify_failure = Some((b.seq as i64, b.reason.clone()))
                }
                Err(veil_audit::VerifyError::Read(e)) => {
                    tracing::warn!(error = %e, "breach scan: could not read the access record")
                }
            }
        }
        let cursor: i64 = db
            .setting(CURSOR_SETTING)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let entries = match db.audit_time_after(cursor)? {
            None => Vec::new(),
            Some((_, first)) => read_from(
                db,
                Time90k(first.0 - signals::LOOKBACK_MIN * 60 * TIME_UNITS_PER_SEC),
            )?,
        };
        let last = entries.last().map_or(cursor, |e| e.seq.max(cursor));
        let mut found = signals::detect(&entries, &facts);
        found.retain(|c| !db.breach_candidate_raised(&c.key).unwrap_or(true));
        Ok((found, last))
    })
    .await?;
    let mut raised = 0;
    for c in &found {
        state
            .record(
                Event::new("system", Audited::BreachCandidate, "breaches").detail(format!(
                    "signal={} key={}",
                    c.signal.id(),
                    c.key
                )),
            )
            .await?;
        let (db, now, c2) = (state.store.db.clone(), state.now(), c.clone());
        let id = blocking(move || {
            Ok(db.insert_breach_candidate(
                &NewCandidate {
                    signal: c2.signal.id(),
                    key: &c2.key,
                    summary: &c2.summary,
                    evidence: &c2.evidence,
                },
                now,
            )?)
        })
        .await?;
        if id.is_some() {
            raised += 1;
        }
    }
    let db = state.store.db.clone();
    blocking(move || Ok(db.set_setting(CURSOR_SETTING, &cursor.to_string())?)).await?;
    if raised > 0 {
        tracing::warn!(candidates = raised, "breach candidates raised");
    }
    Ok(raised)
}

fn read_from(db: &Db, from: Time90k) -> Result<Vec<veil_store::db::AuditRow>, ApiError> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let rows = db.audit_in_period(from, Time90k(i64::MAX), after, PAGE)?;
        let full = rows.len() as i64 == PAGE;
        after = rows.last().map_or(after, |r| r.seq);
        out.extend(rows);
        if !full {
            return Ok(out);
        }
    }
}

/// Scans every `every` while the server runs, verifying the whole access
/// record every [`VERIFY_EVERY_SCANS`] scans (the first included).
pub async fn run_periodically(state: AppState, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        if let Err(e) = scan(&state, n.is_multiple_of(VERIFY_EVERY_SCANS)).await {
            tracing::error!(error = %e.message, "breach scan failed");
        }
        n += 1;
    }
}

// --- candidates ---

/// An access-record range that is a candidate's evidence.
#[derive(Serialize, ToSchema)]
pub struct EvidenceJson {
    /// First sequence number.
    first: i64,
    /// Last sequence number (inclusive).
    last: i64,
    /// The access-record page showing these entries.
    href: String,
}

/// A breach candidate.
#[derive(Serialize, ToSchema)]
pub struct CandidateJson {
    /// Its id.
    id: i64,
    /// What raised it: `audit_verify`, `login_burst_account`,
    /// `login_burst_installation`, `mass_playback`, `mass_export`,
    /// `outside_hours`, `held_video`, `disabled_account`, `permissions`.
    signal: String,
    /// One line (pseudonyms, never names).
    summary: String,
    /// RFC 3339.
    raised_at: String,
    /// The access-record entries that show it.
    evidence: Vec<EvidenceJson>,
    /// `open`, `dismissed` or `promoted`.
    status: String,
    /// RFC 3339, when dismissed or promoted.
    decided_at: Option<String>,
    /// Why it was dismissed.
    reason: Option<String>,
    /// The breach it was promoted to.
    breach_id: Option<i64>,
}

/// The candidates.
#[derive(Serialize, ToSchema)]
pub struct CandidateList {
    /// Newest first.
    items: Vec<CandidateJson>,
}

/// The access-record page that shows entries `first..=last` (newest first,
/// at most one page of 1000).
pub fn evidence_href(first: i64, last: i64) -> String {
    let limit = (last - first + 1).clamp(1, crate::audit::MAX_LIMIT);
    format!("/audit?before={}&limit={limit}", last + 1)
}

fn candidate_json(c: &CandidateRow) -> CandidateJson {
    CandidateJson {
        id: c.id,
        signal: c.signal.clone(),
        summary: c.summary.clone(),
        raised_at: c.raised_90k.to_rfc3339(),
        evidence: c
            .evidence
            .iter()
            .map(|&(first, last)| EvidenceJson {
                first,
                last,
                href: evidence_href(first, last),
            })
            .collect(),
        status: c.status.as_str().to_string(),
        decided_at: c.decided_90k.map(|t| t.to_rfc3339()),
        reason: c.reason.clone(),
        breach_id: c.breach_id,
    }
}

/// The query of `GET /api/v1/breach-candidates`.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CandidateQuery {
    /// `open`, `dismissed` or `promoted`; all when absent.
    status: Option<String>,
}

/// `GET /api/v1/breach-candidates[?status=…]`: scans first (verifying the
/// whole access record), then lists.
pub async fn candidates(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    query: Result<Query<CandidateQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CandidateList>, ApiError> {
    guard(&state, &s)?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let status = q
        .status
        .as_deref()
        .map(|v| {
            CandidateStatus::parse(v).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "status: {v:?} is not one of open, dismissed, promoted"
                ))
            })
        })
        .transpose()?;
    // New entries are scanned at every read; the whole record is verified
    // at most every VERIFY_AT_READ_MINUTES (its cost grows with the record).
    let (db, now) = (state.store.db.clone(), state.now().0);
    let verify = blocking(move || {
        let last: i64 = db
            .setting(READ_VERIFY_SETTING)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(i64::MIN);
        let due = now.saturating_sub(last) >= VERIFY_AT_READ_MINUTES * 60 * TIME_UNITS_PER_SEC;
        if due {
            db.set_setting(READ_VERIFY_SETTING, &now.to_string())?;
        }
        Ok(due)
    })
    .await?;
    scan(&state, verify).await?;
    let db = state.store.db.clone();
    let rows = blocking(move || Ok(db.breach_candidates(status)?)).await?;
    Ok(Json(CandidateList {
        items: rows.iter().map(candidate_json).collect(),
    }))
}

/// The body of `POST /api/v1/breach-candidates/{id}/dismiss`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DismissBody {
    /// Why it is not a breach (10 to 2000 characters).
    #[schema(min_length = 10, max_length = 2000)]
    reason: String,
}

fn check_reason(name: &str, r: &str) -> Result<String, ApiError> {
    let r = r.trim();
    let n = r.chars().count();
    if !REASON_CHARS.contains(&n) {
        return Err(ApiError::bad_request(format!(
            "{name}: {} to {} characters, got {n}",
            REASON_CHARS.start(),
            REASON_CHARS.end()
        )));
    }
    if r.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::bad_request(format!(
            "{name}: control characters other than line breaks"
        )));
    }
    Ok(r.to_string())
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::CONFLICT,
        code: "conflict",
        message: message.into(),
    }
}

async fn open_candidate(state: &AppState, id: i64) -> Result<CandidateRow, ApiError> {
    let db = state.store.db.clone();
    let c = blocking(move || Ok(db.breach_candidate(id)?))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no breach candidate {id}")))?;
    if c.status != CandidateStatus::Open {
        return Err(conflict(format!(
            "breach candidate {id} is {} already",
            c.status.as_str()
        )));
    }
    Ok(c)
}

/// `POST /api/v1/breach-candidates/{id}/dismiss`: recorded as
/// `breach.dismiss` first; the reason is kept with the candidate.
pub async fn dismiss(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(raw): Path<String>,
    body: Body<DismissBody>,
) -> Result<Json<CandidateJson>, ApiError> {
    guard(&state, &s)?;
    let id = path_id(&raw)?;
    let b = json_body(body)?;
    let reason = check_reason("reason", &b.reason)?;
    let c = open_candidate(&state, id).await?;
    state
        .record(
            event(
                &s,
                Audited::BreachDismiss,
                format!("breach_candidate:{id}"),
                peer,
            )
            .detail(format!("signal={}", c.signal)),
        )
        .await?;
    let (db, now, user) = (state.store.db.clone(), state.now(), s.subject.user);
    let row = blocking(move || {
        if !db.dismiss_breach_candidate(id, user, &reason, now)? {
            return Err(conflict(format!("breach candidate {id} is not open")));
        }
        Ok(db.breach_candidate(id)?)
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no breach candidate {id}")))?;
    Ok(Json(candidate_json(&row)))
}

/// `POST /api/v1/breach-candidates/{id}/promote`: a breach detected when
/// the candidate was raised, its summary as the first description;
/// recorded as `breach.promote` first. 201 with the breach.
pub async fn promote(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(raw): Path<String>,
) -> Result<(StatusCode, Json<BreachJson>), ApiError> {
    guard(&state, &s)?;
    let id = path_id(&raw)?;
    let c = open_candidate(&state, id).await?;
    state
        .record(
            event(
                &s,
                Audited::BreachPromote,
                format!("breach_candidate:{id}"),
                peer,
            )
            .detail(format!("signal={}", c.signal)),
        )
        .await?;
    let a = Assessment {
        description: format!("Raised by the system ({}): {}", c.signal, c.summary),
        ..Default::default()
    };
    let json = serde_json::to_string(&a).map_err(ApiError::internal)?;
    let (db, now, user) = (state.store.db.clone(), state.now(), s.subject.user);
    let row = blocking(move || {
        let Some(b) = db.promote_breach_candidate(id, user, &json, now)? else {
            return Err(conflict(format!("breach candidate {id} is not open")));
        };
        Ok(db.breach(b)?)
    })
    .await?
    .ok_or_else(|| ApiError::internal("the new breach is gone"))?;
    let candidates = vec![id];
    Ok((
        StatusCode::CREATED,
        Json(breach_json(&row, &candidates, state.now())?),
    ))
}

// --- breaches ---

/// A decision to notify (or not) the authority or the data subjects.
#[derive(Serialize, ToSchema)]
pub struct DecisionJson {
    /// Whether to notify (`null`: not decided yet).
    notify: Option<bool>,
    /// Why.
    reason: Option<String>,
    /// RFC 3339: when it was done.
    notified_at: Option<String>,
}

/// A breach in the register.
#[derive(Serialize, ToSchema)]
pub struct BreachJson {
    /// Its id.
    id: i64,
    /// RFC 3339: when it was detected (the 72-hour clock starts here).
    detected_at: String,
    /// RFC 3339: detection + 72 hours.
    deadline: String,
    /// Whole hours left until the deadline (negative when it has passed).
    hours_left: i64,
    /// The authority was notified after the deadline, or is not notified
    /// and the deadline has passed.
    late: bool,
    /// The clock still runs: the authority is neither notified nor decided
    /// against.
    open: bool,
    /// The assessment.
    #[serde(flatten)]
    assessment: Assessment,
    /// The authority (Art. 33).
    authority: DecisionJson,
    /// Why the authority was notified after 72 hours (Art. 33(1)).
    late_reason: Option<String>,
    /// The data subjects (Art. 34).
    subjects: DecisionJson,
    /// The candidates promoted to it.
    candidates: Vec<i64>,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    updated_at: String,
}

/// The register.
#[derive(Serialize, ToSchema)]
pub struct BreachList {
    /// Newest detection first.
    items: Vec<BreachJson>,
}

fn assessment_of(b: &BreachRow) -> Result<Assessment, ApiError> {
    serde_json::from_str(&b.assessment).map_err(ApiError::internal)
}

fn breach_json(b: &BreachRow, candidates: &[i64], now: Time90k) -> Result<BreachJson, ApiError> {
    let d = doc::deadline(
        b.detected_90k,
        b.notify_authority,
        b.authority_notified_90k,
        now,
    );
    Ok(BreachJson {
        id: b.id,
        detected_at: b.detected_90k.to_rfc3339(),
        deadline: d.deadline.to_rfc3339(),
        hours_left: d.hours_left,
        late: d.late,
        open: d.running,
        assessment: assessment_of(b)?,
        authority: DecisionJson {
            notify: b.notify_authority,
            reason: b.authority_reason.clone(),
            notified_at: b.authority_notified_90k.map(|t| t.to_rfc3339()),
        },
        late_reason: b.authority_late_reason.clone(),
        subjects: DecisionJson {
            notify: b.notify_subjects,
            reason: b.subjects_reason.clone(),
            notified_at: b.subjects_notified_90k.map(|t| t.to_rfc3339()),
        },
        candidates: candidates.to_vec(),
        created_at: b.created_90k.to_rfc3339(),
        updated_at: b.updated_90k.to_rfc3339(),
    })
}

fn promoted_to(cands: &[CandidateRow], breach: i64) -> Vec<i64> {
    let mut v: Vec<i64> = cands
        .iter()
        .filter(|c| c.breach_id == Some(breach))
        .map(|c| c.id)
        .collect();
    v.sort_unstable();
    v
}

/// The open breaches' clocks, soonest deadline first: (id, hours left,
/// late), for the desk's banner.
pub fn open_clocks(db: &Db, now: Time90k) -> Result<Vec<(i64, i64, bool)>, veil_store::Error> {
    let mut v: Vec<(i64, i64, bool)> = db
        .breaches()?
        .iter()
        .filter_map(|b| {
            let d = doc::deadline(
                b.detected_90k,
                b.notify_authority,
                b.authority_notified_90k,
                now,
            );
            d.running.then_some((b.id, d.hours_left, d.late))
        })
        .collect();
    v.sort_by_key(|&(id, h, _)| (h, id));
    Ok(v)
}

/// `GET /api/v1/breaches`.
pub async fn list(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<BreachList>, ApiError> {
    guard(&state, &s)?;
    let db = state.store.db.clone();
    let (rows, cands) = blocking(move || Ok((db.breaches()?, db.breach_candidates(None)?))).await?;
    let now = state.now();
    let items = rows
        .iter()
        .map(|b| breach_json(b, &promoted_to(&cands, b.id), now))
        .collect::<Result<_, _>>()?;
    Ok(Json(BreachList { items }))
}

async fn load(state: &AppState, id: i64) -> Result<(BreachRow, Vec<i64>), ApiError> {
    let db = state.store.db.clone();
    let (row, cands) = blocking(move || Ok((db.breach(id)?, db.breach_candidates(None)?))).await?;
    let row = row.ok_or_else(|| ApiError::not_found(format!("no breach {id}")))?;
    let c = promoted_to(&cands, id);
    Ok((row, c))
}

/// `GET /api/v1/breaches/{id}`.
pub async fn get_one(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<BreachJson>, ApiError> {
    guard(&state, &s)?;
    let id = path_id(&raw)?;
    let (row, c) = load(&state, id).await?;
    Ok(Json(breach_json(&row, &c, state.now())?))
}

/// The body of `POST /api/v1/breaches` and `PUT /api/v1/breaches/{id}`:
/// the detection time and the assessment (every field but `detected_at`
/// may be left out while the facts are gathered).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreachBody {
    /// RFC 3339: when the breach was detected (not in the future).
    #[schema(format = DateTime)]
    detected_at: String,
    /// What happened.
    #[serde(default)]
    description: String,
    /// What data is affected.
    #[serde(default)]
    data_affected: String,
    /// The cameras whose recordings are affected (ids).
    #[serde(default)]
    cameras: Vec<i64>,
    /// About how many hours of recordings (camera-hours) are affected.
    #[serde(default)]
    hours_affected: Option<u32>,
    /// Categories of people affected (e.g. "employees", "customers").
    #[serde(default)]
    categories: Vec<String>,
    /// About how many people are affected.
    #[serde(default)]
    approx_people: Option<u64>,
    /// About how many records are affected.
    #[serde(default)]
    approx_records: Option<u64>,
    /// Likely consequences for the people.
    #[serde(default)]
    consequences: String,
    /// Measures taken.
    #[serde(default)]
    measures_taken: String,
    /// Measures proposed.
    #[serde(default)]
    measures_proposed: String,
}

impl BreachBody {
    fn assessment(&self) -> Assessment {
        Assessment {
            description: self.description.clone(),
            data_affected: self.data_affected.clone(),
            cameras: self.cameras.clone(),
            hours_affected: self.hours_affected,
            categories: self
                .categories
                .iter()
                .map(|c| c.trim().to_string())
                .collect(),
            approx_people: self.approx_people,
            approx_records: self.approx_records,
            consequences: self.consequences.clone(),
            measures_taken: self.measures_taken.clone(),
            measures_proposed: self.measures_proposed.clone(),
        }
    }
}

async fn check_body(state: &AppState, b: &BreachBody) -> Result<Time90k, ApiError> {
    let detected = Time90k::parse_rfc3339(&b.detected_at).ok_or_else(|| {
        ApiError::bad_request(format!(
            "detected_at: {:?} is not an RFC 3339 time",
            b.detected_at
        ))
    })?;
    if detected > state.now() {
        return Err(ApiError::bad_request("detected_at: in the future"));
    }
    b.assessment().check().map_err(ApiError::bad_request)?;
    let db = state.store.db.clone();
    let cams = b.cameras.clone();
    let known = blocking(move || Ok(db.cameras()?)).await?;
    if let Some(bad) = cams.iter().find(|id| !known.iter().any(|c| c.id.0 == **id)) {
        return Err(ApiError::bad_request(format!("cameras: no camera {bad}")));
    }
    Ok(detected)
}

/// `POST /api/v1/breaches`: a breach entered by hand; recorded as
/// `breach.create` first. 201 with the breach.
pub async fn create(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body<BreachBody>,
) -> Result<(StatusCode, Json<BreachJson>), ApiError> {
    guard(&state, &s)?;
    let b = json_body(body)?;
    let detected = check_body(&state, &b).await?;
    state
        .record(
            event(&s, Audited::BreachCreate, "breaches", peer)
                .detail(format!("detected={}", detected.to_rfc3339())),
        )
        .await?;
    let json = serde_json::to_string(&b.assessment()).map_err(ApiError::internal)?;
    let (db, now, user) = (state.store.db.clone(), state.now(), s.subject.user);
    let row = blocking(move || {
        let id = db.insert_breach(detected, user, &json, now)?;
        Ok(db.breach(id)?)
    })
    .await?
    .ok_or_else(|| ApiError::internal("the new breach is gone"))?;
    Ok((
        StatusCode::CREATED,
        Json(breach_json(&row, &[], state.now())?),
    ))
}

/// `PUT /api/v1/breaches/{id}`: replaces the detection time and the
/// assessment; recorded as `breach.update` first with the names of the
/// fields that changed.
pub async fn update(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(raw): Path<String>,
    body: Body<BreachBody>,
) -> Result<Json<BreachJson>, ApiError> {
    guard(&state, &s)?;
    let id = path_id(&raw)?;
    let b = json_body(body)?;
    let (old, cands) = load(&state, id).await?;
    let detected = check_body(&state, &b).await?;
    let mut changed = b.assessment().changed_fields(&assessment_of(&old)?);
    if detected != old.detected_90k {
        changed.insert(0, "detected_at");
    }
    state
        .record(
            event(&s, Audited::BreachUpdate, format!("breach:{id}"), peer).detail(format!(
                "fields={}",
                if changed.is_empty() {
                    "none".to_string()
                } else {
                    changed.join(",")
                }
            )),
        )
        .await?;
    let json = serde_json::to_string(&b.assessment()).map_err(ApiError::internal)?;
    let (db, now) = (state.store.db.clone(), state.now());
    let row = blocking(move || {
        db.update_breach(id, detected, &json, now)?;
        Ok(db.breach(id)?)
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no breach {id}")))?;
    Ok(Json(breach_json(&row, &cands, state.now())?))
}

fn about_of(v: &str) -> Result<BreachAbout, ApiError> {
    BreachAbout::parse(v).ok_or_else(|| {
        ApiError::bad_request(format!("about: {v:?} is not one of authority, subjects"))
    })
}

/// The body of `POST /api/v1/breaches/{id}/decision`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreachDecisionBody {
    /// `authority` (Art. 33) or `subjects` (Art. 34).
    #[schema(example = "authority")]
    about: String,
    /// Whether to notify.
    notify: bool,
    /// Why (10 to 2000 characters).
    #[schema(min_length = 10, max_length = 2000)]
    reason: String,
}

/// `POST /api/v1/breaches/{id}/decision`: recorded as `breach.decision`
/// first (about and notify; the reason is kept with the breach).
pub async fn decide(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(raw): Path<String>,
    body: Body<BreachDecisionBody>,
) -> Result<Json<BreachJson>, ApiError> {
    guard(&state, &s)?;
    let id = path_id(&raw)?;
    let b = json_body(body)?;
    let about = about_of(&b.about)?;
    let reason = check_reason("reason", &b.reason)?;
    let (old, cands) = load(&state, id).await?;
    let notified = match about {
        BreachAbout::Authority => old.authority_notified_90k,
        BreachAbout::Subjects => old.subjects_notified_90k,
    };
    if notified.is_some() && !b.notify {
        return Err(conflict(format!(
            "the {} were notified already",
            if about == BreachAbout::Authority {
                "authority"
            } else {
                "data subjects"
            }
        )));
    }
    state
        .record(
            event(&s, Audited::BreachDecision, format!("breach:{id}"), peer).detail(format!(
                "about={} notify={}",
                about.as_str(),
                b.notify
            )),
        )
        .await?;
    let (db, now) = (state.store.db.clone(), state.now());
    let row = blocking(move || {
        db.set_breach_decision(id, about, b.notify, &reason, now)?;
        Ok(db.breach(id)?)
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no breach {id}")))?;
    Ok(Json(breach_json(&row, &cands, state.now())?))
}

/// The body of `POST /api/v1/breaches/{id}/notified`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifiedBody {
    /// `authority` or `subjects`.
    #[schema(example = "authority")]
    about: String,
    /// RFC 3339: when it was done (default now; not in the future, not
    /// before detection).
    #[serde(default)]
    #[schema(format = DateTime)]
    at: Option<String>,
    /// Required for the authority after the 72 hours: the reasons for the
    /// delay (Art. 33(1)), 10 to 2000 characters.
    #[serde(default)]
    late_reason: Option<String>,
}

/// `POST /api/v1/breaches/{id}/notified`: records when the authority or
/// the data subjects were notified (the decision to notify must be yes);
/// recorded as `breach.notified` first.
pub async fn notified(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(raw): Path<String>,
    body: Body<NotifiedBody>,
) -> Result<Json<BreachJson>, ApiError> {
    guard(&state, &s)?;
    let id = path_id(&raw)?;
    let b = json_body(body)?;
    let about = about_of(&b.about)?;
    let now = state.now();
    let at = match &b.at {
        None => now,
        Some(v) => Time90k::parse_rfc3339(v)
            .ok_or_else(|| ApiError::bad_request(format!("at: {v:?} is not an RFC 3339 time")))?,
    };
    if at > now {
        return Err(ApiError::bad_request("at: in the future"));
    }
    let (old, cands) = load(&state, id).await?;
    if at < old.detected_90k {
        return Err(ApiError::bad_request("at: before the breach was detected"));
    }
    let decided = match about {
        BreachAbout::Authority => old.notify_authority,
        BreachAbout::Subjects => old.notify_subjects,
    };
    if decided != Some(true) {
        return Err(conflict(format!(
            "decide to notify the {} first (POST /api/v1/breaches/{id}/decision)",
            about.as_str()
        )));
    }
    let late = doc::deadline(old.detected_90k, Some(true), Some(at), now).late;
    let late_reason = match (&b.late_reason, about, late) {
        (Some(r), BreachAbout::Authority, true) => Some(check_reason("late_reason", r)?),
        (None, BreachAbout::Authority, true) => {
            return Err(ApiError::bad_request(
                "late_reason: required when the authority is notified after 72 hours \
                 (Art. 33(1))",
            ))
        }
        (Some(_), _, _) => {
            return Err(ApiError::bad_request(
                "late_reason: only for the authority notified after 72 hours",
            ))
        }
        (None, _, _) => None,
    };
    state
        .record(
            event(&s, Audited::BreachNotified, format!("breach:{id}"), peer).detail(format!(
                "about={} at={} late={late}",
                about.as_str(),
                at.to_rfc3339()
            )),
        )
        .await?;
    let db = state.store.db.clone();
    let row = blocking(move || {
        db.set_breach_notified(id, about, at, late_reason.as_deref(), now)?;
        Ok(db.breach(id)?)
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no breach {id}")))?;
    Ok(Json(breach_json(&row, &cands, state.now())?))
}

/// The query of `GET /api/v1/breaches/{id}/notification`.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NotificationQuery {
    /// `md` (default) or `html`.
    format: Option<String>,
}

/// `GET /api/v1/breaches/{id}/notification?format=md|html`: the
/// notification to the authority with the Art. 33(3) items, the DPO's
/// contact from the organisation profile; recorded as
/// `breach.notification` first. The HTML page is self-contained, under the
/// documents' `Content-Security-Policy`.
pub async fn notification(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(raw): Path<String>,
    query: Result<Query<NotificationQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    guard(&state, &s)?;
    let id = path_id(&raw)?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let format = match q.format.as_deref() {
        None | Some("md") => Format::Markdown,
        Some("html") => Format::Html,
        Some(f) => {
            return Err(ApiError::bad_request(format!(
                "format: {f:?} is not one of md, html"
            )))
        }
    };
    let (row, _) = load(&state, id).await?;
    let a = assessment_of(&row)?;
    let db = state.store.db.clone();
    let (org, cams) =
        blocking(move || Ok((crate::organisation::load(&db)?, db.cameras()?))).await?;
    let names = a
        .cameras
        .iter()
        .map(|id| {
            cams.iter()
                .find(|c| c.id.0 == *id)
                .map_or_else(|| format!("camera {id}"), |c| c.name.clone())
        })
        .collect();
    state
        .record(
            event(
                &s,
                Audited::BreachNotification,
                format!("breach:{id}"),
                peer,
            )
            .detail(format!("format={}", format.id())),
        )
        .await?;
    let facts = doc::BreachFacts {
        id,
        detected: row.detected_90k,
        assessment: &a,
        camera_names: names,
        notified: row.authority_notified_90k,
        late_reason: row.authority_late_reason.as_deref(),
    };
    let text = doc::notification(&facts, &org, state.now()).render(format);
    let disposition = format!("inline; filename=\"breach-{id}.{}\"", format.id());
    let mut res = (
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        text,
    )
        .into_response();
    if format == Format::Html {
        let policy =
            HeaderValue::from_str(&crate::dpo::document_policy()).map_err(ApiError::internal)?;
        res.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    Ok(res)
}
