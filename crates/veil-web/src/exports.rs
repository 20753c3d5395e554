//! Evidence export (E1–E5, `docs/design/export.md`): `POST /api/v1/exports`
//! checks and records the request, enters it in the register of
//! disclosures and queues the package; one job at a time writes it
//! (`veil_export::package`) into the exports directory, encrypted with
//! `age` unless the requester holds `export.unencrypted` and asked for
//! none; `GET /api/v1/exports/{id}` tells its state and progress, and
//! `…/download` hands out the stored copy until it expires
//! ([`expire_due`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body as HttpBody;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use veil_access::{Action, Resource};
use veil_audit::{Action as Audited, Event, Outcome};
use veil_base::{CameraId, Time90k, TIME_UNITS_PER_SEC};
use veil_export::package::{self, CameraRequest, Encryption};
use veil_export::ExportKey;
use veil_store::db::{DisclosureKind, ExportRow, ExportState, NewDisclosure, NewExport};

use crate::api::{authorized_camera, recording_resource};
use crate::auth::Session;
use crate::bookmarks::parse_time;
use crate::disclosures::{check_register, RegisterFields};
use crate::error::{json_body, ApiError};
use crate::{blocking, AppState};

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

const DAY_90K: i64 = 86_400 * TIME_UNITS_PER_SEC;
/// The most cameras one export covers.
pub const MAX_CAMERAS: usize = 64;
/// The most intervals one export covers.
pub const MAX_INTERVALS: usize = 64;
/// The longest interval one export covers.
pub const MAX_SPAN_DAYS: i64 = 31;
/// Days a stored package is kept unless the request says otherwise.
pub const DEFAULT_EXPIRES_DAYS: i64 = 30;
/// The longest a stored package may be kept.
pub const MAX_EXPIRES_DAYS: i64 = 90;

/// The export machinery a server holds: the signing key and the job gate
/// (one package is written at a time; others wait `queued`).
#[derive(Clone)]
pub struct Exports {
    key: Arc<ExportKey>,
    gate: Arc<tokio::sync::Semaphore>,
}

impl Exports {
    /// Exports signed with `key`.
    pub fn new(key: ExportKey) -> Exports {
        Exports {
            key: Arc::new(key),
            gate: Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }

    /// The signing key.
    pub fn key(&self) -> &ExportKey {
        &self.key
    }
}

/// An interval of time.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpanBody {
    /// RFC 3339.
    pub start: String,
    /// RFC 3339 (exclusive).
    pub end: String,
}

/// One keyframe of a redaction box: when, and where in normalised picture
/// coordinates (0 to 1, origin top left).
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedactionKeyframeBody {
    /// RFC 3339 (UTC), within an exported interval.
    pub at: String,
    /// Left edge, 0 to 1.
    pub x: f64,
    /// Top edge, 0 to 1.
    pub y: f64,
    /// Width, more than 0; `x + w` at most 1.
    pub w: f64,
    /// Height, more than 0; `y + h` at most 1.
    pub h: f64,
}

/// A bystander redaction box: painted into the exported video of its
/// camera from its first keyframe to its last (inclusive), moving linearly
/// between keyframes. The file is re-encoded; stored video is untouched.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedactionBody {
    /// A camera of the export.
    pub camera: i64,
    /// `solid` (mid grey) or `blur`.
    pub fill: String,
    /// 1 to 500 keyframes in strictly increasing time.
    pub keyframes: Vec<RedactionKeyframeBody>,
}

impl RedactionBody {
    fn to_media(&self) -> veil_media::redaction::RedactionBox {
        veil_media::redaction::RedactionBox {
            camera: self.camera,
            fill: self.fill.clone(),
            keyframes: self
                .keyframes
                .iter()
                .map(|k| veil_media::redaction::BoxKeyframe {
                    at: k.at.clone(),
                    x: k.x,
                    y: k.y,
                    w: k.w,
                    h: k.h,
                })
                .collect(),
        }
    }
}

/// `POST /api/v1/exports`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequestBody {
    /// Camera ids.
    pub cameras: Vec<i64>,
    /// Start of the interval (RFC 3339); or give `intervals`.
    #[serde(default)]
    pub start: Option<String>,
    /// End of the interval (RFC 3339, exclusive).
    #[serde(default)]
    pub end: Option<String>,
    /// Several intervals (not overlapping), each exported from every camera,
    /// instead of `start` and `end`.
    #[serde(default)]
    pub intervals: Option<Vec<SpanBody>>,
    /// Intervals left out of every camera's video.
    #[serde(default)]
    pub exclude: Vec<SpanBody>,
    /// Bystander redaction boxes (at most 100), painted into the exported
    /// video of their camera, which is then re-encoded.
    #[serde(default)]
    pub redactions: Vec<RedactionBody>,
    /// `protected` (default: what operators see, masked where masks apply)
    /// or `original` (masks lifted: needs `masks.lift` and a justification).
    #[serde(default)]
    pub rendition: Option<String>,
    /// Why the original is needed (rendition `original` only).
    #[serde(default)]
    pub justification: Option<String>,
    /// Encrypt to these age (`age1…`) or SSH (`ssh-ed25519 …`) public keys.
    #[serde(default)]
    pub recipients: Option<Vec<String>>,
    /// Encrypt to this passphrase (at least 12 characters). Without
    /// `recipients` or `passphrase` one is generated and answered once.
    #[serde(default)]
    pub passphrase: Option<String>,
    /// `none` for an unencrypted package (permission `export.unencrypted`).
    #[serde(default)]
    pub encryption: Option<String>,
    /// Days until the stored copy is destroyed (1 to 90, default 30).
    #[serde(default)]
    pub expires_days: Option<i64>,
    /// The requesting party (name, title, organisation, country).
    pub requester: crate::disclosures::RequesterBody,
    /// Why it was requested (10 to 2000 characters).
    pub reason: String,
    /// Why it was granted (10 to 2000 characters; default: the reason).
    #[serde(default)]
    pub grant_reason: Option<String>,
    /// A short description of the content.
    #[serde(default)]
    pub content: Option<String>,
    /// The legal basis of a transfer outside the EEA (required there).
    #[serde(default)]
    pub legal_basis: Option<String>,
    /// The safeguards of a transfer outside the EEA (required there).
    #[serde(default)]
    pub safeguards: Option<String>,
    /// A data-subject request (access or portability, searching or
    /// decided) the package answers: then `dsr.handle` is needed instead
    /// of `export` on each camera, every interval must lie within the
    /// request's marked intervals, and the register entry is
    /// `subject_access` with the data subject as the requesting party.
    #[serde(default)]
    pub subject_request: Option<i64>,
}

impl ExportRequestBody {
    /// The register's fields of the request.
    fn register(&self) -> RegisterFields {
        RegisterFields {
            requester: self.requester.clone(),
            reason: self.reason.clone(),
            grant_reason: self.grant_reason.clone(),
            content: self.content.clone(),
            legal_basis: self.legal_basis.clone(),
            safeguards: self.safeguards.clone(),
        }
    }
}

/// The answer to `POST /api/v1/exports`.
#[derive(Serialize, ToSchema)]
pub struct ExportCreated {
    /// The export's id.
    pub id: i64,
    /// The package's id (in the register and the manifest).
    pub package_id: String,
    /// The generated passphrase, shown this once and never stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
}

/// An export's state.
#[derive(Serialize, ToSchema)]
pub struct ExportJson {
    /// Its id.
    pub id: i64,
    /// The package's id.
    pub package_id: String,
    /// `queued`, `running`, `done`, `failed` or `expired`.
    pub state: String,
    /// Video bytes written.
    pub done_bytes: u64,
    /// Video bytes to write.
    pub total_bytes: u64,
    /// 0 to 100.
    pub percent: u32,
    /// Why it failed.
    pub error: Option<String>,
    /// `passphrase`, `recipients` or `none`.
    pub encryption: String,
    /// `protected` or `original`.
    pub rendition: String,
    /// The stored package's size.
    pub package_bytes: Option<u64>,
    /// The stored package's SHA-256.
    pub package_sha256: Option<String>,
    /// The manifest's SHA-256.
    pub manifest_sha256: Option<String>,
    /// When it was asked for (RFC 3339).
    pub created: String,
    /// When the stored copy is (or was) destroyed (RFC 3339).
    pub expires: String,
    /// Where to download it (while `done`).
    pub download: Option<String>,
}

/// `GET /api/v1/exports`.
#[derive(Serialize, ToSchema)]
pub struct ExportList {
    /// The caller's exports, newest first.
    pub exports: Vec<ExportJson>,
}

fn json(r: &ExportRow) -> ExportJson {
    let percent = match r.state {
        ExportState::Done | ExportState::Expired => 100,
        _ if r.total_bytes == 0 => 0,
        _ => ((r.done_bytes.min(r.total_bytes) * 100) / r.total_bytes) as u32,
    };
    ExportJson {
        id: r.id,
        package_id: r.package_id.clone(),
        state: r.state.as_str().into(),
        done_bytes: r.done_bytes,
        total_bytes: r.total_bytes,
        percent,
        error: r.error.clone(),
        encryption: r.encryption.clone(),
        rendition: r.rendition.clone(),
        package_bytes: r.package_bytes,
        package_sha256: r.package_sha256.clone(),
        manifest_sha256: r.manifest_sha256.clone(),
        created: r.created.to_rfc3339(),
        expires: r.expires.to_rfc3339(),
        download: (r.state == ExportState::Done)
            .then(|| format!("/api/v1/exports/{}/download", r.id)),
    }
}

fn event(s: &Session, action: Audited, resource: impl Into<String>, peer: SocketAddr) -> Event {
    Event::new(s.subject.pseudonym.clone(), action, resource).client(peer.ip())
}

/// The package file's name in the exports directory.
fn file_name(package_id: &str, encrypted: bool) -> String {
    if encrypted {
        format!("{package_id}.tar.age")
    } else {
        format!("{package_id}.tar")
    }
}

/// A checked request, ready to record and run.
struct Checked {
    cameras: Vec<veil_store::db::CameraRow>,
    /// The intervals, in order, not overlapping.
    intervals: Vec<(Time90k, Time90k)>,
    /// The first interval's start and the last one's end.
    start: Time90k,
    end: Time90k,
    excluded: Vec<(Time90k, Time90k)>,
    original: bool,
    encryption: Encryption,
    generated: Option<String>,
    expires_days: i64,
    redactions: Vec<veil_media::redaction::Redaction>,
}

/// `POST /api/v1/exports`: checks, records (one access-record entry and
/// one register entry per export; a refusal is recorded too) and queues.
pub async fn create(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body<ExportRequestBody>,
) -> Result<(StatusCode, Json<ExportCreated>), ApiError> {
    let cams = body
        .as_ref()
        .map(|Json(b)| b.cameras.clone())
        .unwrap_or_default();
    let result = async {
        // Nobody who may export no camera learns what the body must hold.
        // A data-subject request's handler exports against the request.
        if !state.allowed(&s, Action::SubjectRequests, Resource::System) {
            may_export_some(&state, &s).await?;
        }
        let req = json_body(body)?;
        create_checked(&state, &s, peer, &headers, req).await
    }
    .await;
    match result {
        Ok(r) => Ok(r),
        Err(e) if e.status == StatusCode::FORBIDDEN || e.status == StatusCode::NOT_FOUND => {
            let list: Vec<String> = cams.iter().map(i64::to_string).collect();
            let refusal = event(&s, Audited::ExportCreate, "export", peer)
                .outcome(Outcome::Denied)
                .detail(format!("cameras={} refused={}", list.join(","), e.code));
            // The refusal stands whether or not it could be recorded.
            if let Err(r) = state.record(refusal).await {
                tracing::error!(code = r.code, "could not record a refused export");
            }
            Err(e)
        }
        Err(e) => Err(e),
    }
}

async fn check(
    state: &AppState,
    s: &Session,
    req: &ExportRequestBody,
) -> Result<Checked, ApiError> {
    if req.cameras.is_empty() || req.cameras.len() > MAX_CAMERAS {
        return Err(ApiError::bad_request(format!(
            "cameras must name 1 to {MAX_CAMERAS} cameras"
        )));
    }
    let mut intervals = Vec::new();
    match (&req.start, &req.end, &req.intervals) {
        (Some(a), Some(b), None) => {
            intervals.push((parse_time("start", a)?, parse_time("end", b)?));
        }
        (None, None, Some(list)) if !list.is_empty() && list.len() <= MAX_INTERVALS => {
            for (i, x) in list.iter().enumerate() {
                intervals.push((
                    parse_time(&format!("intervals[{i}].start"), &x.start)?,
                    parse_time(&format!("intervals[{i}].end"), &x.end)?,
                ));
            }
        }
        (None, None, Some(_)) => {
            return Err(ApiError::bad_request(format!(
                "intervals must hold 1 to {MAX_INTERVALS} intervals"
            )))
        }
        _ => {
            return Err(ApiError::bad_request(
                "give start and end, or intervals (not both)",
            ))
        }
    }
    let one = intervals.len() == 1 && req.intervals.is_none();
    let name = |i: usize, f: &str| {
        if one {
            f.to_owned()
        } else {
            format!("intervals[{i}].{f}")
        }
    };
    for (i, (a, b)) in intervals.iter().enumerate() {
        if b <= a {
            return Err(ApiError::bad_request(format!(
                "{} must be after {}",
                name(i, "end"),
                name(i, "start")
            )));
        }
        if b.0 - a.0 > MAX_SPAN_DAYS * DAY_90K {
            return Err(ApiError::bad_request(format!(
                "{}: an export may cover at most {MAX_SPAN_DAYS} days",
                name(i, "end")
            )));
        }
        if *b > Time90k(state.now().0 + 60 * TIME_UNITS_PER_SEC) {
            return Err(ApiError::bad_request(format!(
                "{} must not be in the future",
                name(i, "end")
            )));
        }
    }
    intervals.sort();
    if intervals.windows(2).any(|w| w[1].0 < w[0].1) {
        return Err(ApiError::bad_request("intervals must not overlap"));
    }
    let (start, end) = (intervals[0].0, intervals[intervals.len() - 1].1);
    if end.0 - start.0 > MAX_SPAN_DAYS * DAY_90K {
        return Err(ApiError::bad_request(format!(
            "an export may cover at most {MAX_SPAN_DAYS} days from its first start to its last end"
        )));
    }
    let mut excluded = Vec::new();
    for (i, x) in req.exclude.iter().enumerate() {
        let a = parse_time(&format!("exclude[{i}].start"), &x.start)?;
        let b = parse_time(&format!("exclude[{i}].end"), &x.end)?;
        if b <= a {
            return Err(ApiError::bad_request(format!(
                "exclude[{i}].end must be after exclude[{i}].start"
            )));
        }
        excluded.push((a, b));
    }
    let original = match req.rendition.as_deref() {
        None | Some("protected") => false,
        Some("original") => true,
        Some(o) => {
            return Err(ApiError::bad_request(format!(
                "rendition must be protected or original, got {o:?}"
            )))
        }
    };
    let expires_days = req.expires_days.unwrap_or(DEFAULT_EXPIRES_DAYS);
    if !(1..=MAX_EXPIRES_DAYS).contains(&expires_days) {
        return Err(ApiError::bad_request(format!(
            "expires_days must be 1 to {MAX_EXPIRES_DAYS}"
        )));
    }
    let mut generated = None;
    let encryption = match (req.encryption.as_deref(), &req.recipients, &req.passphrase) {
        (Some("none"), None, None) => {
            state.authorize(s, Action::ExportUnencrypted, Resource::System)?;
            Encryption::None
        }
        (Some("none"), _, _) => {
            return Err(ApiError::bad_request(
                "encryption none takes neither recipients nor passphrase",
            ))
        }
        (Some(o), _, _) if o != "age" => {
            return Err(ApiError::bad_request(format!(
                "encryption must be age (the default) or none, got {o:?}"
            )))
        }
        (_, Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give recipients or passphrase, not both",
            ))
        }
        (_, Some(list), None) => {
            Encryption::Recipients(package::parse_recipients(list).map_err(ApiError::bad_request)?)
        }
        (_, None, Some(p)) => {
            if p.chars().count() < 12 || p.chars().count() > 1024 {
                return Err(ApiError::bad_request(
                    "passphrase must be 12 to 1024 characters",
                ));
            }
            Encryption::Passphrase(p.clone().into())
        }
        (_, None, None) => {
            let p = format!(
                "{}-{}",
                veil_access::password::generate(),
                veil_access::password::generate()
            );
            generated = Some(p.clone());
            Encryption::Passphrase(p.into())
        }
    };
    let mut cameras = Vec::new();
    for id in &req.cameras {
        if cameras
            .iter()
            .any(|c: &veil_store::db::CameraRow| c.id.0 == *id)
        {
            return Err(ApiError::bad_request(format!(
                "cameras: camera {id} is named twice"
            )));
        }
        let cam = if req.subject_request.is_some() {
            // Bound to the request's marked intervals instead (checked by
            // `requests::check_export`).
            authorized_camera(state, s, Action::SubjectRequests, &id.to_string()).await?
        } else {
            let cam = authorized_camera(state, s, Action::Export, &id.to_string()).await?;
            for (a, _) in &intervals {
                state.authorize(s, Action::Export, recording_resource(&cam, *a))?;
            }
            cam
        };
        cameras.push(cam);
    }
    let redactions = check_redactions(req, &cameras, &intervals)?;
    Ok(Checked {
        cameras,
        intervals,
        start,
        end,
        excluded,
        original,
        encryption,
        generated,
        expires_days,
        redactions,
    })
}

/// Checks the redaction boxes: their shape (`veil_media::redaction::check`),
/// each box's camera among the export's, each keyframe inside an exported
/// interval; a 400 names the field.
fn check_redactions(
    req: &ExportRequestBody,
    cameras: &[veil_store::db::CameraRow],
    intervals: &[(Time90k, Time90k)],
) -> Result<Vec<veil_media::redaction::Redaction>, ApiError> {
    let boxes: Vec<_> = req.redactions.iter().map(RedactionBody::to_media).collect();
    let checked = veil_media::redaction::check(&boxes)
        .map_err(|e| ApiError::bad_request(format!("{}: {}", e.field, e.message)))?;
    for (i, b) in checked.iter().enumerate() {
        if !cameras.iter().any(|c| c.id.0 == b.camera) {
            return Err(ApiError::bad_request(format!(
                "redactions[{i}].camera: camera {} is not in this export",
                b.camera
            )));
        }
        for (k, kf) in b.keyframes.iter().enumerate() {
            if !intervals.iter().any(|(a, z)| *a <= kf.at && kf.at <= *z) {
                return Err(ApiError::bad_request(format!(
                    "redactions[{i}].keyframes[{k}].at: outside the exported interval"
                )));
            }
        }
    }
    Ok(checked)
}

async fn create_checked(
    state: &AppState,
    s: &Session,
    peer: SocketAddr,
    headers: &HeaderMap,
    req: ExportRequestBody,
) -> Result<(StatusCode, Json<ExportCreated>), ApiError> {
    let c = check(state, s, &req).await?;
    let mut register = check_register(&req.register(), false)?;
    let subject = match req.subject_request {
        Some(id) => {
            Some(crate::requests::check_export(state, s, id, &req.cameras, &c.intervals).await?)
        }
        None => None,
    };
    if let Some(r) = &subject {
        // The data subject is the requesting party.
        register.requester.name = r.subject.clone();
        register.requester.title = "data subject".into();
    }
    for cam in &c.cameras {
        for (a, b) in &c.intervals {
            crate::protections::refuse_held_by(state, &s.subject.pseudonym, cam.id, *a, *b).await?;
        }
    }
    // Four-eyes, when configured for export: one approval per camera (a
    // data subject's package: one for `dsr.handle` on its request), found
    // first, named in the record, consumed once recorded.
    let db = state.store.db.clone();
    let needs = blocking(move || crate::admin::four_eyes(&db)).await?;
    let mut approvals = Vec::new();
    if let Some(r) = subject
        .as_ref()
        .filter(|_| needs.iter().any(|x| x == Action::Export.id()))
    {
        let (db, user, now, res) = (
            state.store.db.clone(),
            s.subject.user,
            state.now(),
            format!("request:{}", r.id),
        );
        approvals.push(
            blocking(move || {
                crate::admin::find_approval(&db, user, Action::SubjectRequests, &res, now)
            })
            .await?,
        );
    } else if needs.iter().any(|x| x == Action::Export.id()) {
        for cam in &c.cameras {
            let (db, user, now, r) = (
                state.store.db.clone(),
                s.subject.user,
                state.now(),
                format!("camera:{}", cam.id),
            );
            approvals.push(
                blocking(move || crate::admin::find_approval(&db, user, Action::Export, &r, now))
                    .await?,
            );
        }
    }
    // The lift path for the original (recorded as `mask.lift` by it).
    let mut lift = HashMap::new();
    if c.original {
        let q: HashMap<String, String> = req
            .justification
            .iter()
            .map(|j| ("justification".to_owned(), j.clone()))
            .collect();
        for cam in &c.cameras {
            let grant =
                crate::lift::lift(state, s, peer, cam, (c.start, c.end), &q, headers).await?;
            lift.insert(cam.id, grant);
        }
    }
    let system_id = {
        let store = state.store.clone();
        blocking(move || Ok(store.system_id()?)).await?
    };
    let now = state.now();
    let package_id = format!("{:032x}", rand::random::<u128>());
    // Who authorised it: the requester, and each four-eyes approver.
    let mut authorised_by = vec![s.subject.pseudonym.clone()];
    for a in &approvals {
        let (db, by) = (state.store.db.clone(), a.decided_by);
        let approver = blocking(move || {
            Ok(match by {
                Some(u) => db.user(u)?.map(|u| u.pseudonym),
                None => None,
            })
        })
        .await?;
        let name = approver.unwrap_or_else(|| format!("approval:{}", a.id));
        if !authorised_by.contains(&name) {
            authorised_by.push(name);
        }
    }
    let pkg = package::Request {
        package_id: package_id.clone(),
        system_id,
        created: now,
        creator: s.subject.pseudonym.clone(),
        authorised_by: authorised_by.clone(),
        expires: Time90k(now.0 + c.expires_days * DAY_90K),
        cameras: c
            .cameras
            .iter()
            .map(|cam| CameraRequest {
                id: cam.id,
                name: cam.name.clone(),
                area: String::new(),
                purposes: Vec::new(),
                intervals: c.intervals.clone(),
            })
            .collect(),
        excluded: c.excluded.clone(),
        lift,
        redactions: c.redactions.clone(),
        within_intervals: subject.is_some(),
    };
    let pkg = with_areas(state, pkg).await?;
    // Plan before recording, so an empty interval is a 404 that changes
    // nothing.
    let plan = {
        let (store, pkg) = (state.store.clone(), pkg.clone());
        blocking(move || match package::plan(&store, &pkg) {
            Ok(p) => Ok(p),
            Err(veil_export::ExportError::Empty) => Err(ApiError::not_found(
                "no recording in the intervals asked for",
            )),
            Err(e) => Err(ApiError::internal(e)),
        })
        .await?
    };
    // What is exported starts at the keyframe at or before each interval's
    // start: that span is what no hold may cover (as for playback).
    for f in &plan.files {
        let end = Time90k(f.mp4.start_90k.0 + f.mp4.duration_90k);
        crate::protections::refuse_held_by(
            state,
            &s.subject.pseudonym,
            f.camera,
            f.mp4.start_90k,
            end,
        )
        .await?;
    }
    let cams: Vec<String> = c.cameras.iter().map(|x| x.id.to_string()).collect();
    let mut detail = format!(
        "package={package_id} cameras={} start={} end={} intervals={} excluded={} rendition={} encryption={} files={} redactions={}",
        cams.join(","),
        c.start.to_rfc3339(),
        c.end.to_rfc3339(),
        c.intervals.len(),
        c.excluded.len(),
        pkg.rendition(),
        c.encryption.as_str(),
        plan.files.len(),
        c.redactions.len()
    );
    for a in &approvals {
        detail.push_str(&format!(" approval={}", a.id));
    }
    if let Some(r) = &subject {
        detail.push_str(&format!(" request={}", r.id));
    }
    let seq = state
        .record_seq(
            event(
                s,
                Audited::ExportCreate,
                format!("export:{package_id}"),
                peer,
            )
            .detail(detail)
            .justification(register.request_reason.clone()),
        )
        .await?;
    for a in approvals {
        let (db, now) = (state.store.db.clone(), state.now());
        blocking(move || crate::admin::consume_approval(&db, &a, now)).await?;
    }
    let request_json = json!({
        "cameras": req.cameras,
        "intervals": c
            .intervals
            .iter()
            .map(|(a, b)| json!({"start": a.to_rfc3339(), "end": b.to_rfc3339()}))
            .collect::<Vec<_>>(),
        "exclude": req.exclude,
        "redactions": c
            .redactions
            .iter()
            .map(veil_media::redaction::Redaction::to_json)
            .collect::<Vec<_>>(),
        "rendition": pkg.rendition(),
        "expires_days": c.expires_days,
        "subject_request": req.subject_request,
    })
    .to_string();
    let new = NewExport {
        package_id: package_id.clone(),
        // The node that runs it (this one), on a shared database.
        node: this_node(&state.store),
        requested_by: Some(s.subject.user),
        created: now,
        request: request_json,
        rendition: pkg.rendition().into(),
        encryption: c.encryption.as_str().into(),
        total_bytes: plan.video_bytes(),
        expires: pkg.expires,
        audit_seq: seq,
    };
    let disclosure = NewDisclosure {
        kind: if subject.is_some() {
            DisclosureKind::SubjectAccess
        } else {
            DisclosureKind::Copy
        },
        created: now,
        recorded_by: Some(s.subject.user),
        start: c.start,
        end: c.end,
        cameras: c.cameras.iter().map(|x| x.id).collect(),
        intervals: c
            .cameras
            .iter()
            .flat_map(|x| c.intervals.iter().map(|(a, b)| (x.id, *a, *b)))
            .collect(),
        requester: register.requester.clone(),
        authorised_by: authorised_by.join(","),
        content: register.content.clone().unwrap_or_else(|| {
            format!(
                "video of {} camera(s), {} rendition",
                c.cameras.len(),
                pkg.rendition()
            )
        }),
        request_reason: register.request_reason.clone(),
        grant_reason: register.grant_reason.clone(),
        legal_basis: register.legal_basis.clone(),
        safeguards: register.safeguards.clone(),
        export_id: None,
        package_id: Some(package_id.clone()),
        package_sha256: None,
        expires: Some(pkg.expires),
        audit_seq: seq,
    };
    let id = {
        let db = state.store.db.clone();
        blocking(move || Ok(db.insert_export(&new, &disclosure)?)).await?
    };
    if let Some(r) = &subject {
        crate::requests::link_export(state, id, r.id).await?;
    }
    spawn_job(state.clone(), id, pkg, plan, c.encryption);
    Ok((
        StatusCode::CREATED,
        Json(ExportCreated {
            id,
            package_id,
            passphrase: c.generated,
        }),
    ))
}

/// Fills in each camera's area.
async fn with_areas(
    state: &AppState,
    mut pkg: package::Request,
) -> Result<package::Request, ApiError> {
    let db = state.store.db.clone();
    let ids: Vec<CameraId> = pkg.cameras.iter().map(|c| c.id).collect();
    let areas = blocking(move || {
        ids.iter()
            .map(|id| Ok(db.camera_area(*id)?.unwrap_or_default()))
            .collect::<Result<Vec<String>, ApiError>>()
    })
    .await?;
    for (c, a) in pkg.cameras.iter_mut().zip(areas) {
        c.area = a;
    }
    Ok(pkg)
}

/// Writes the package in the background, one export at a time.
fn spawn_job(
    state: AppState,
    id: i64,
    pkg: package::Request,
    plan: package::Plan,
    encryption: Encryption,
) {
    tokio::spawn(async move {
        let Ok(_permit) = state.exports.gate.clone().acquire_owned().await else {
            return;
        };
        let handle = tokio::runtime::Handle::current();
        let st = state.clone();
        let r =
            tokio::task::spawn_blocking(move || run_job(&st, &handle, id, &pkg, &plan, encryption))
                .await;
        let error = match r {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e,
            Err(e) => e.to_string(),
        };
        tracing::error!(export = id, error = %error, "an export failed");
        let (db, now) = (state.store.db.clone(), state.now());
        let _ = tokio::task::spawn_blocking(move || db.fail_export(id, &error, now)).await;
    });
}

fn run_job(
    state: &AppState,
    handle: &tokio::runtime::Handle,
    id: i64,
    pkg: &package::Request,
    plan: &package::Plan,
    encryption: Encryption,
) -> Result<(), String> {
    let audit_key = state.audit.public_key().ok_or(
        "the access record signs no checkpoints (no audit key), so nothing can anchor the export",
    )?;
    // A checkpoint now, so the chain links of segments stored a moment ago
    // are signed into the access record before the package cites them.
    state
        .audit
        .checkpoint()
        .map_err(|e| format!("could not sign an access-record checkpoint: {e}"))?;
    let name = file_name(&pkg.package_id, !matches!(encryption, Encryption::None));
    let db = &state.store.db;
    db.start_export(id, &name).map_err(|e| e.to_string())?;
    let file = state
        .store
        .create_export_file(&name)
        .map_err(|e| e.to_string())?;
    let total = plan.video_bytes();
    let mut done = 0u64;
    let mut last = std::time::Instant::now();
    let mut progress = |n: u64| {
        done += n;
        if last.elapsed() >= std::time::Duration::from_millis(250) {
            last = std::time::Instant::now();
            let _ = db.export_progress(id, done, total);
        }
    };
    let cx = package::Env {
        store: &state.store,
        handle,
        key: &state.exports.key,
        audit_public_key: audit_key,
    };
    let written = package::write(&cx, pkg, plan, encryption, file, &mut progress);
    let (file, w) = match written {
        Ok(x) => x,
        Err(e) => {
            let _ = state.store.remove_export_file(&name);
            return Err(e.to_string());
        }
    };
    if let Err(e) = file.commit() {
        let _ = state.store.remove_export_file(&name);
        return Err(e.to_string());
    }
    db.finish_export(
        id,
        w.package_bytes,
        &w.package_sha256,
        &w.manifest_sha256,
        state.now(),
    )
    .map_err(|e| e.to_string())
}

/// Refuses a caller who may export no camera at all (the same refusal as
/// any other action refused).
async fn may_export_some(state: &AppState, s: &Session) -> Result<(), ApiError> {
    let db = state.store.db.clone();
    let cams = blocking(move || Ok(db.cameras()?)).await?;
    let any = cams.iter().any(|c| {
        state.allowed(
            s,
            Action::Export,
            crate::api::camera_resource(c.id, Some(c)),
        )
    });
    if any {
        Ok(())
    } else {
        state.authorize(s, Action::Export, Resource::System)?;
        Err(ApiError::forbidden("export needs at least one camera"))
    }
}

/// 403 unless the caller may export some camera or handles data-subject
/// requests (whose packages are exports too).
async fn may_export_or_handle_requests(state: &AppState, s: &Session) -> Result<(), ApiError> {
    if state.allowed(s, Action::SubjectRequests, Resource::System) {
        return Ok(());
    }
    may_export_some(state, s).await
}

/// One of the caller's own exports (anyone else's is "not found"); a data
/// subject's package needs `dsr.handle`, any other export the right to
/// export some camera.
async fn own(state: &AppState, s: &Session, raw: &str) -> Result<ExportRow, ApiError> {
    may_export_or_handle_requests(state, s).await?;
    let id: i64 = raw
        .parse()
        .map_err(|_| ApiError::not_found(format!("no export {raw:?}")))?;
    let db = state.store.db.clone();
    let row = blocking(move || Ok(db.export(id)?)).await?;
    match row {
        Some(r) if r.requested_by == Some(s.subject.user) => {
            if request_subject(&r).is_some() {
                state.authorize(s, Action::SubjectRequests, Resource::System)?;
            } else {
                may_export_some(state, s).await?;
            }
            Ok(r)
        }
        _ => Err(ApiError::not_found(format!("no export {id}"))),
    }
}

/// The data-subject request an export's stored request names, if any.
fn request_subject(r: &ExportRow) -> Option<i64> {
    serde_json::from_str::<serde_json::Value>(&r.request)
        .ok()?
        .get("subject_request")?
        .as_i64()
}

/// The cameras an export's stored request names.
fn request_cameras(r: &ExportRow) -> Vec<CameraId> {
    serde_json::from_str::<serde_json::Value>(&r.request)
        .ok()
        .and_then(|v| {
            v.get("cameras")?
                .as_array()?
                .iter()
                .map(|c| c.as_i64().map(CameraId))
                .collect()
        })
        .unwrap_or_default()
}

/// `GET /api/v1/exports/{id}`: state and progress of one's own export.
pub async fn get_one(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ExportJson>, ApiError> {
    Ok(Json(json(&own(&state, &s, &id).await?)))
}

/// `GET /api/v1/exports`: one's own exports, newest first.
pub async fn list(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<ExportList>, ApiError> {
    may_export_or_handle_requests(&state, &s).await?;
    let db = state.store.db.clone();
    let user = s.subject.user;
    let rows = blocking(move || Ok(db.exports_of(user, 200)?)).await?;
    Ok(Json(ExportList {
        exports: rows.iter().map(json).collect(),
    }))
}

/// `GET /api/v1/exports/{id}/download`: the stored package, recorded
/// before a byte is sent; the register shows the first download.
pub async fn download(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let r = own(&state, &s, &id).await?;
    // Still allowed to export every camera in it (rights can be revoked
    // between the request and the download); a data subject's package: to
    // handle requests on them.
    let right = if request_subject(&r).is_some() {
        Action::SubjectRequests
    } else {
        Action::Export
    };
    for cam in request_cameras(&r) {
        authorized_camera(&state, &s, right, &cam.0.to_string()).await?;
    }
    if r.state != ExportState::Done {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            code: "not_ready",
            message: format!("export {} is {}, not done", r.id, r.state.as_str()),
        });
    }
    let node = this_node(&state.store);
    if !r.node.is_empty() && r.node != node {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            code: "on_another_node",
            message: format!(
                "export {} was made on node {}: its package is downloaded from that node",
                r.id, r.node
            ),
        });
    }
    let name = r
        .object_name
        .clone()
        .ok_or_else(|| ApiError::internal("a finished export names no file"))?;
    let file = {
        let (store, n) = (state.store.clone(), name.clone());
        blocking(move || Ok(store.open_export_file(&n)?)).await?
    };
    state
        .record(
            event(
                &s,
                Audited::ExportDownload,
                format!("export:{}", r.package_id),
                peer,
            )
            .detail(format!(
                "bytes={} sha256={}",
                r.package_bytes.unwrap_or(0),
                r.package_sha256.clone().unwrap_or_default()
            )),
        )
        .await?;
    let (db, now, eid) = (state.store.db.clone(), state.now(), r.id);
    blocking(move || Ok(db.mark_disclosure_downloaded(eid, now)?)).await?;
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    let mut res = Response::new(HttpBody::from_stream(stream));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Some(n) = r.package_bytes {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
            .map_err(ApiError::internal)?,
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(res.into_response())
}

/// Destroys the stored copies of packages past their expiry (recorded
/// first, `export.expire`), and fails exports a restart interrupted.
/// The server calls it every minute; it returns how many expired.
pub async fn expire_due(state: &AppState) -> Result<usize, ApiError> {
    let (db, now) = (state.store.db.clone(), state.now());
    let node = this_node(&state.store);
    // A package's file lives in the data directory of the node that made it
    // (its id on the row): each node destroys its own.
    let due: Vec<_> = blocking(move || Ok(db.exports_due(now)?))
        .await?
        .into_iter()
        .filter(|r| r.node == node || r.node.is_empty())
        .collect();
    let n = due.len();
    for r in due {
        state
            .record(
                Event::new(
                    "system",
                    Audited::ExportExpire,
                    format!("export:{}", r.package_id),
                )
                .detail(format!("expires={}", r.expires.to_rfc3339())),
            )
            .await?;
        let (store, now) = (state.store.clone(), state.now());
        blocking(move || {
            if let Some(name) = &r.object_name {
                store.remove_export_file(name)?;
            }
            Ok(store.db.expire_export(r.id, now)?)
        })
        .await?;
    }
    Ok(n)
}

/// Runs [`expire_due`] every `every` (the server: a minute).
pub async fn run_periodically(state: AppState, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = expire_due(&state).await {
            tracing::error!(error = %e.message, "could not destroy expired exports");
        }
    }
}

/// The node id exports are recorded under: the fence's on a shared
/// database (scale-out), `''` on the embedded one.
fn this_node(store: &veil_store::Store) -> String {
    store
        .fence()
        .map_or_else(String::new, |f| f.node().to_owned())
}

/// At start: exports a restart interrupted are failed and their partial
/// files removed (nothing half-written is ever handed out). On a shared
/// database only those this node runs (its id on the row) and those
/// without a node: another web node's running exports are its own.
pub async fn fail_interrupted(state: &AppState) -> Result<usize, ApiError> {
    let store = state.store.clone();
    let now = state.now();
    blocking(move || {
        let mut n = 0;
        let node = this_node(&store);
        for st in [ExportState::Queued, ExportState::Running] {
            for r in store.db.exports_in(st)? {
                // `''`: made before the node was recorded (an older
                // version, every node since restarted), or embedded.
                if r.node != node && !r.node.is_empty() {
                    continue;
                }
                if let Some(name) = &r.object_name {
                    store.remove_export_file(name)?;
                }
                store
                    .db
                    .fail_export(r.id, "interrupted by a restart; request it again", now)?;
                n += 1;
            }
        }
        Ok(n)
    })
    .await
}
