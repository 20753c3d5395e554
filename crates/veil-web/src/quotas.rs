//! Storage quotas (issue 12, "storage pressure"): one for the installation
//! and one per camera, set by `retention.admin` (`GET`/`PUT
//! /api/v1/quotas`, the page `/admin/quotas`), and [`enforce`], which the
//! retention job runs after retention (and a `PUT` runs at once): while a
//! quota is exceeded, the oldest video that is neither locked nor held is
//! destroyed first (recorded as `retention.destroy`, `reason=quota`, before
//! it happens); when only locked or held video is left over a quota, the
//! cameras it covers are blocked (their new video is refused and their
//! status says why) instead of destroying evidence.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Html;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use veil_access::{Action, Resource};
use veil_audit::{AccessRecord, Action as Audited, Event};
use veil_base::{CameraId, Time90k};
use veil_store::quota::QuotaScope;
use veil_store::{RetentionReport, Store};

use crate::auth::Session;
use crate::error::{json_body, ApiError};
use crate::{blocking, AppState};

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

/// The smallest quota (0 would refuse every recording: say so by disabling
/// the camera instead).
pub const MIN_QUOTA_BYTES: u64 = 1;
/// Bucket keys destroyed per quota batch.
const BATCH: usize = 8;
/// Batches one run destroys at most.
const MAX_BATCHES: usize = 10_000;

/// One camera's storage.
#[derive(Serialize, ToSchema)]
pub struct CameraStorage {
    /// The camera's id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its quota in bytes; `null` for none.
    pub quota_bytes: Option<u64>,
    /// What its recordings take, in bytes.
    pub used_bytes: u64,
    /// How many segments.
    pub segments: u64,
    /// `ok`, or `blocked`: a quota is reached with only locked or held video
    /// left, and its new video is refused.
    #[schema(value_type = String)]
    pub state: &'static str,
    /// Why it is blocked.
    pub blocked_reason: Option<String>,
}

/// The answer of `GET` and `PUT /api/v1/quotas`.
#[derive(Serialize, ToSchema)]
pub struct QuotaView {
    /// The installation's quota in bytes; `null` for none.
    pub installation_bytes: Option<u64>,
    /// What every recording takes, in bytes.
    pub used_bytes: u64,
    /// Free space on the data directory's file system, in bytes (`null`
    /// when unknown).
    pub free_bytes: Option<u64>,
    /// Every camera, by id.
    pub cameras: Vec<CameraStorage>,
}

/// The body of `PUT /api/v1/quotas`: the whole set of quotas.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaChange {
    /// The installation's quota in bytes (at least 1); `null` for none.
    pub installation_bytes: Option<u64>,
    /// Per camera id, its quota in bytes (at least 1); a camera not
    /// listed has none.
    #[serde(default)]
    pub cameras: BTreeMap<String, u64>,
}

/// What [`enforce`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct QuotaReport {
    /// What was destroyed to make room.
    pub destroyed: RetentionReport,
    /// Cameras whose new video is refused.
    pub blocked: Vec<CameraId>,
}

fn blocked_message(scope: QuotaScope, quota: u64) -> String {
    let (what, fix) = match scope {
        QuotaScope::Camera(_) => ("this camera's storage quota", "raise the camera's quota"),
        QuotaScope::Installation => ("the installation's storage quota", "raise the quota"),
    };
    format!(
        "{what} ({quota} bytes) is reached and only locked or held recordings are left, \
         so new video is not stored; release a lock or hold, or {fix}"
    )
}

fn record_batch(
    audit: &AccessRecord,
    actor: &str,
    scope: QuotaScope,
    plan: &veil_store::retention::Plan,
) -> Result<(), String> {
    let quota = match scope {
        QuotaScope::Camera(c) => format!("camera:{c}"),
        QuotaScope::Installation => "installation".to_owned(),
    };
    for c in &plan.cameras {
        audit
            .append(
                Event::new(
                    actor,
                    Audited::RetentionDestroy,
                    format!("camera:{}", c.camera),
                )
                .detail(format!(
                    "reason=quota quota={quota} hours={} segments={} from={} to={}",
                    c.hours,
                    c.segments,
                    c.start.to_rfc3339(),
                    c.end.to_rfc3339()
                )),
            )
            .map_err(|e| format!("refused: the destruction cannot be recorded: {e}"))?;
    }
    Ok(())
}

/// The first quota exceeded, not yet given up on: cameras first, then the
/// installation. With its quota.
fn first_over(
    store: &Store,
    skip: &HashSet<QuotaScope>,
) -> Result<Option<(QuotaScope, u64)>, veil_store::Error> {
    let usage = store.db.storage_usage()?;
    let used = |c: CameraId| usage.iter().find(|u| u.camera == c).map_or(0, |u| u.bytes);
    for (camera, quota) in store.db.camera_quotas()? {
        let scope = QuotaScope::Camera(camera);
        if used(camera) > quota && !skip.contains(&scope) {
            return Ok(Some((scope, quota)));
        }
    }
    if let Some(quota) = store.db.global_quota()? {
        let total: u64 = usage.iter().map(|u| u.bytes).sum();
        if total > quota && !skip.contains(&QuotaScope::Installation) {
            return Ok(Some((QuotaScope::Installation, quota)));
        }
    }
    Ok(None)
}

/// Destroys the oldest unprotected video while a quota is exceeded, then
/// blocks the cameras of quotas that only protected video exceeds (and
/// unblocks the rest). Each batch is recorded before it is destroyed.
pub async fn enforce(
    store: &Store,
    audit: &AccessRecord,
    actor: &str,
    now: Time90k,
) -> Result<QuotaReport, String> {
    let mut report = QuotaReport::default();
    let mut given_up: HashSet<QuotaScope> = HashSet::new();
    let mut blocks: HashMap<CameraId, String> = HashMap::new();
    let err = |e: veil_store::Error| e.to_string();
    for _ in 0..MAX_BATCHES {
        let (s, skip) = (store.clone(), given_up.clone());
        let over = tokio::task::spawn_blocking(move || first_over(&s, &skip))
            .await
            .map_err(|e| e.to_string())?
            .map_err(err)?;
        let Some((scope, quota)) = over else {
            break;
        };
        // No lock or hold is made or released between this plan and its
        // destruction.
        let _gate = store.destruction_gate().await;
        let s = store.clone();
        let plan = tokio::task::spawn_blocking(move || s.quota_plan(now, scope, BATCH))
            .await
            .map_err(|e| e.to_string())?
            .map_err(err)?;
        if plan.is_empty() {
            given_up.insert(scope);
            let cameras = match scope {
                QuotaScope::Camera(c) => vec![c],
                QuotaScope::Installation => {
                    let db = store.db.clone();
                    tokio::task::spawn_blocking(move || db.cameras())
                        .await
                        .map_err(|e| e.to_string())?
                        .map_err(err)?
                        .into_iter()
                        .map(|c| c.id)
                        .collect()
                }
            };
            for c in cameras {
                blocks
                    .entry(c)
                    .or_insert_with(|| blocked_message(scope, quota));
            }
            continue;
        }
        let (a, p, who) = (audit.clone(), plan.clone(), actor.to_owned());
        tokio::task::spawn_blocking(move || record_batch(&a, &who, scope, &p))
            .await
            .map_err(|e| e.to_string())??;
        let r = store.apply_retention(&plan).await.map_err(err)?;
        if r == RetentionReport::default() {
            given_up.insert(scope);
        }
        report.destroyed += r;
    }
    report.blocked = blocks.keys().copied().collect();
    report.blocked.sort_by_key(|c| c.0);
    store.set_quota_blocks(blocks);
    Ok(report)
}

async fn view(state: &AppState) -> Result<QuotaView, ApiError> {
    let store = state.store.clone();
    blocking(move || {
        let usage = store.db.storage_usage()?;
        let quotas = store.db.camera_quotas()?;
        let cameras = store
            .db
            .cameras()?
            .into_iter()
            .map(|c| {
                let u = usage.iter().find(|u| u.camera == c.id);
                let blocked = store.quota_block(c.id);
                CameraStorage {
                    id: c.id.0,
                    quota_bytes: quotas.iter().find(|q| q.0 == c.id).map(|q| q.1),
                    used_bytes: u.map_or(0, |u| u.bytes),
                    segments: u.map_or(0, |u| u.segments),
                    state: if blocked.is_some() { "blocked" } else { "ok" },
                    blocked_reason: blocked,
                    name: c.name,
                }
            })
            .collect();
        Ok(QuotaView {
            installation_bytes: store.db.global_quota()?,
            used_bytes: usage.iter().map(|u| u.bytes).sum(),
            free_bytes: store.free_space().ok().flatten(),
            cameras,
        })
    })
    .await
}

/// `GET /api/v1/quotas`.
pub async fn get_quotas(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<QuotaView>, ApiError> {
    state.authorize(&s, Action::RetentionAdmin, Resource::System)?;
    Ok(Json(view(&state).await?))
}

fn check_bytes(field: &str, bytes: u64) -> Result<(), ApiError> {
    if bytes < MIN_QUOTA_BYTES {
        return Err(ApiError::bad_request(format!(
            "{field} must be at least {MIN_QUOTA_BYTES} byte, got {bytes}"
        )));
    }
    Ok(())
}

/// `PUT /api/v1/quotas`: sets every quota (each change recorded first),
/// then enforces them at once; answers what is stored now.
pub async fn put_quotas(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body<QuotaChange>,
) -> Result<Json<QuotaView>, ApiError> {
    state.authorize(&s, Action::RetentionAdmin, Resource::System)?;
    let req = json_body(body)?;
    if let Some(b) = req.installation_bytes {
        check_bytes("installation_bytes", b)?;
    }
    let db = state.store.db.clone();
    let (cameras, old_quotas, old_global) =
        blocking(move || Ok((db.cameras()?, db.camera_quotas()?, db.global_quota()?))).await?;
    let mut wanted: HashMap<CameraId, u64> = HashMap::new();
    for (raw, bytes) in &req.cameras {
        let field = format!("cameras.{raw}");
        let id = raw
            .parse()
            .ok()
            .map(CameraId)
            .filter(|id| cameras.iter().any(|c| c.id == *id))
            .ok_or_else(|| ApiError::bad_request(format!("{field}: there is no camera {raw:?}")))?;
        check_bytes(&field, *bytes)?;
        wanted.insert(id, *bytes);
    }
    // Every change, recorded before anything is stored.
    let mut changes: Vec<(String, Option<u64>, Option<u64>)> = Vec::new();
    if req.installation_bytes != old_global {
        changes.push((
            "quota:installation".into(),
            old_global,
            req.installation_bytes,
        ));
    }
    for c in &cameras {
        let old = old_quotas.iter().find(|q| q.0 == c.id).map(|q| q.1);
        let new = wanted.get(&c.id).copied();
        if old != new {
            changes.push((format!("camera:{}", c.id), old, new));
        }
    }
    let show = |b: Option<u64>| b.map_or_else(|| "none".to_owned(), |b| b.to_string());
    for (resource, old, new) in &changes {
        let mut detail = format!("quota_bytes={}", show(*new));
        let _ = write!(detail, " previous={}", show(*old));
        state
            .record(
                Event::new(
                    s.subject.pseudonym.clone(),
                    Audited::RetentionChange,
                    resource,
                )
                .detail(detail)
                .client(peer.ip()),
            )
            .await?;
    }
    let db = state.store.db.clone();
    let global = req.installation_bytes;
    blocking(move || {
        db.set_global_quota(global)?;
        for c in &cameras {
            db.set_camera_quota(c.id, wanted.get(&c.id).copied())?;
        }
        Ok(())
    })
    .await?;
    enforce(&state.store, &state.audit, "system", state.now())
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(view(&state).await?))
}

/// `GET /admin/quotas`: the storage page.
pub async fn page(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    state.authorize(&s, Action::RetentionAdmin, Resource::System)?;
    let sh = crate::shell::Shell::new(&state, &s, &headers, "/admin/quotas").await?;
    let e = |k: &str| crate::ui::escape(sh.t(k));
    let content = format!(
        r#"<h1>{title}</h1><p class="lede">{intro}</p>
<form id="quota-form" class="stack">
<p>{used_label} <strong id="quota-used"></strong> · {free_label} <strong id="quota-free"></strong></p>
<label for="quota-installation">{installation}</label>
<input id="quota-installation" name="installation" type="number" step="any" inputmode="decimal">
<div class="table-scroll"><table id="quota-table"><thead><tr>
<th scope="col">{camera}</th><th scope="col">{used}</th><th scope="col">{quota}</th><th scope="col">{state}</th>
</tr></thead><tbody></tbody></table></div>
<button type="submit">{save}</button></form>
<p id="message" role="status" aria-live="polite"></p>"#,
        title = e("quotas.title"),
        intro = e("quotas.intro"),
        used_label = e("quotas.used_total"),
        free_label = e("quotas.free"),
        installation = e("quotas.installation"),
        camera = e("quotas.camera"),
        used = e("quotas.used"),
        quota = e("quotas.quota"),
        state = e("quotas.state"),
        save = e("quotas.save"),
    );
    Ok(sh.page(sh.t("quotas.title"), "quotas.js", &content))
}
