//! The DPO's desk (issue 15): the installation's data-protection-relevant
//! configuration gathered into one [`Snapshot`] and numbered by version,
//! the documents generated from it, their reviews and what changed since,
//! the access review of accounts' roles, and the compliance lint.
//!
//! Routes: `GET /api/v1/documents/{kind}`, `POST
//! /api/v1/documents/{kind}/review`, `GET /api/v1/dpo` (the desk),
//! `GET /api/v1/compliance`, `GET`/`POST /api/v1/access-reviews`.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use veil_access::{Action, Resource};
use veil_audit::Action as Audited;
use veil_base::{CameraId, Time90k, UserId};
use veil_dpo::documents::{self, Format, Kind};
use veil_dpo::model::{self, Account, Snapshot, Stamp};
use veil_dpo::{diff, lint};
use veil_media::mask::{Mask, MaskKind};
use veil_store::db::ConfigVersion;
use veil_store::retention_rule as rule;
use veil_store::Db;

use crate::auth::Session;
use crate::error::{json_body, ApiError};
use crate::{blocking, AppState};

/// The `setting` row holding [`Installation`] (JSON), written by the
/// server at start from its configuration file.
pub const INSTALLATION_SETTING: &str = "installation";

/// What the documents and the lint need from the configuration file (the
/// rest of the snapshot is in the database). The defaults are the
/// configuration's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Installation {
    /// `self_signed`, `files` or `plain_behind_proxy`.
    pub tls: String,
    /// Number of `trusted_proxies` entries.
    pub trusted_proxies: u32,
    /// `file`, `env`, `credential` or `command`.
    pub root_key_source: String,
    /// `root_key_rotation_days`.
    pub root_key_rotation_days: u32,
    /// `[audit] retention_days`.
    pub audit_retention_days: u32,
    /// `[audit] checkpoint_sink` is set.
    pub audit_checkpoint_copy: bool,
    /// `[audit] client_address`: `full`, `truncated` or `none`.
    pub client_address: String,
    /// `[masks] lift_key`: `server` or `escrow`.
    pub lift_key: String,
    /// `retention_justification` ("" when none).
    pub retention_justification: String,
    /// `[dpo] access_review_months`.
    pub access_review_months: u32,
    /// `[dpo] max_administrators`.
    pub max_administrators: u32,
}

/// Accounts' roles are reviewed every this many months by default.
pub const DEFAULT_ACCESS_REVIEW_MONTHS: u32 = 6;
/// The most administrators an installation should have, by default.
pub const DEFAULT_MAX_ADMINISTRATORS: u32 = 3;

impl Default for Installation {
    fn default() -> Self {
        Installation {
            tls: "self_signed".into(),
            trusted_proxies: 0,
            root_key_source: "file".into(),
            root_key_rotation_days: 30,
            audit_retention_days: 365,
            audit_checkpoint_copy: false,
            client_address: "full".into(),
            lift_key: "server".into(),
            retention_justification: String::new(),
            access_review_months: DEFAULT_ACCESS_REVIEW_MONTHS,
            max_administrators: DEFAULT_MAX_ADMINISTRATORS,
        }
    }
}

/// Stores the facts of the configuration file (at start).
pub fn remember_installation(db: &Db, i: &Installation) -> Result<(), veil_store::Error> {
    let json = serde_json::to_string(i).expect("plain data");
    db.set_setting(INSTALLATION_SETTING, &json)
}

fn installation(db: &Db) -> Result<Installation, ApiError> {
    Ok(match db.setting(INSTALLATION_SETTING)? {
        Some(j) => serde_json::from_str(&j).map_err(ApiError::internal)?,
        None => Installation::default(),
    })
}

fn setting_u32(db: &Db, key: &str, default: u32) -> Result<u32, ApiError> {
    Ok(db
        .setting(key)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(default))
}

/// The snapshot and the accounts the lint reads, as of one read.
pub struct Gathered {
    /// The configuration.
    pub snapshot: Snapshot,
    /// Every account that is not erased.
    pub accounts: Vec<Account>,
}

/// Reads the data-protection-relevant configuration (blocking).
pub fn gather(db: &Db, now: Time90k) -> Result<Gathered, ApiError> {
    let inst = installation(db)?;
    let hours = setting_u32(
        db,
        rule::INSTALLATION_SETTING,
        crate::camera_retention::DEFAULT_INSTALLATION_HOURS,
    )?;
    let original_hours = setting_u32(db, rule::ORIGINAL_SETTING, rule::DEFAULT_ORIGINAL_HOURS)?;
    let rules = db.retention_rules(hours)?;
    let purposes: HashMap<CameraId, Option<String>> = db
        .camera_dpo()?
        .into_iter()
        .map(|c| (c.camera, c.purpose))
        .collect();
    let credentials = crate::camera_passwords::credential_checks(db)?;
    let mut cameras = Vec::new();
    for d in db.camera_details()? {
        let masks: Vec<Mask> = match db.current_masks(d.id)? {
            Some(m) => serde_json::from_str(&m.masks).map_err(ApiError::internal)?,
            None => Vec::new(),
        };
        let liftable = masks
            .iter()
            .filter(|m| m.kind == MaskKind::Liftable)
            .count() as u32;
        let own = db.camera_retention(d.id)?;
        let purpose = match purposes.get(&d.id).cloned().flatten() {
            Some(p) => Some(serde_json::from_str(&p).map_err(ApiError::internal)?),
            None => None,
        };
        let recording_mode = if d.managed {
            d.settings.recording_mode.clone()
        } else {
            crate::cameras::config_recording(&d.settings.source_config).0
        };
        let track = |t: &veil_store::db::TrackConsent| t.enabled.then(|| t.purpose.clone());
        let retention = rules.effective(d.id, veil_store::MAIN_RENDITION);
        cameras.push(model::Camera {
            id: d.id.0,
            name: d.settings.name.clone(),
            area: d.settings.area.clone(),
            purpose,
            enabled: d.settings.enabled,
            recording_mode,
            retention_hours: retention.hours,
            // The justification of the rule in force: the camera's own,
            // else the installation's when its retention applies.
            retention_rule_justification: match own
                .iter()
                .find(|r| r.rendition == veil_store::MAIN_RENDITION)
            {
                Some(r) => r.justification.clone(),
                None if retention.source == rule::Source::Installation => {
                    inst.retention_justification.clone()
                }
                None => String::new(),
            },
            original_retention_hours: (liftable > 0)
                .then(|| rules.effective(d.id, veil_store::ORIGINAL_RENDITION).hours),
            masks: masks.len() as u32,
            liftable_masks: liftable,
            ptz_control: d.settings.ptz.control,
            audio: track(&d.settings.audio),
            metadata: track(&d.settings.metadata),
            credentials: credentials.get(&d.id).cloned().unwrap_or_default(),
            analytics: Vec::new(),
        });
    }
    let users = db.users()?;
    let created: HashMap<UserId, Time90k> = db.user_created()?.into_iter().collect();
    let reviews: HashMap<UserId, Time90k> = db
        .latest_access_reviews()?
        .into_iter()
        .map(|r| (r.user, r.reviewed))
        .collect();
    let tied: HashMap<UserId, (Option<i64>, Option<Time90k>)> = db
        .user_processors()?
        .into_iter()
        .map(|u| (u.user, (u.processor, u.expires)))
        .collect();
    let mut accounts = Vec::new();
    for u in &users {
        let Some(login) = &u.name else { continue }; // erased
        let (processor, expires) = tied.get(&u.id).copied().unwrap_or_default();
        let mut roles: Vec<String> = db.user_roles(u.id)?.into_iter().map(|r| r.name).collect();
        roles.sort();
        accounts.push(Account {
            id: u.id.0,
            login: login.clone(),
            roles,
            disabled: u.disabled || expires.is_some_and(|e| e <= now),
            created: created.get(&u.id).copied().unwrap_or(now),
            policy_ack_version: u.policy_ack_version.max(0) as u32,
            training_valid_until: u.training_valid_until,
            last_access_review: reviews.get(&u.id).copied(),
            processor,
            expires,
            pseudonym: u.pseudonym.clone(),
        });
    }
    let mut roles = Vec::new();
    for r in db.roles()? {
        let role = veil_access::Role::from_json(&r.definition).map_err(ApiError::internal)?;
        let holders = accounts
            .iter()
            .filter(|a| !a.disabled && a.roles.contains(&r.name))
            .count() as u32;
        roles.push(model::Role {
            name: r.name.clone(),
            description: role.description.clone(),
            permissions: Action::PERMISSIONS
                .into_iter()
                .filter(|a| role.holds(*a))
                .map(|a| a.id().to_string())
                .collect(),
            all_cameras: role
                .grants
                .iter()
                .all(|g| g.scope == veil_access::Scope::All),
            playback_window_hours: role.playback_window_hours,
            limited_hours: role.time_profile.is_some(),
            require_second_factor: role.require_second_factor,
            holders,
        });
    }
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    let processors = db
        .processors()?
        .into_iter()
        .filter(|p| p.removed.is_none())
        .map(|p| model::Processor {
            active_accounts: accounts
                .iter()
                .filter(|a| !a.disabled && a.processor == Some(p.id))
                .count() as u32,
            id: p.id,
            name: p.name,
            kind: p.kind,
            agreement_date: p.agreement_date,
            scope: p.scope,
            country: p.country,
            transfer_basis: p.transfer_basis,
        })
        .collect();
    let snapshot = Snapshot {
        organisation: crate::organisation::load(db)?,
        cameras,
        roles,
        processors,
        security: model::Security {
            tls: inst.tls,
            trusted_proxies: inst.trusted_proxies,
            root_key_source: inst.root_key_source,
            root_key_rotation_days: inst.root_key_rotation_days,
            audit_retention_days: inst.audit_retention_days,
            audit_checkpoint_copy: inst.audit_checkpoint_copy,
            client_address: inst.client_address,
            four_eyes: crate::admin::four_eyes(db)?,
            lift_key: inst.lift_key,
            policy_version: db.current_policy_version()?.max(0) as u32,
            access_review_months: inst.access_review_months,
            max_administrators: inst.max_administrators,
        },
        retention: model::Retention {
            hours,
            justification: inst.retention_justification,
            original_hours,
        },
    };
    Ok(Gathered { snapshot, accounts })
}

/// The snapshot, the accounts and the configuration version they are
/// (numbered now when the configuration changed since the last version).
pub fn current(db: &Db, now: Time90k) -> Result<(Gathered, ConfigVersion), ApiError> {
    let g = gather(db, now)?;
    let json = serde_json::to_string(&g.snapshot).map_err(ApiError::internal)?;
    let digest = ring::digest::digest(&ring::digest::SHA256, json.as_bytes());
    let (v, _) = db.observe_config_version(digest.as_ref(), &json, now)?;
    Ok((g, v))
}

/// The stamp of a document generated now from version `v`.
pub fn stamp(v: &ConfigVersion, now: Time90k) -> Stamp {
    Stamp {
        version: v.id as u64,
        since: v.since,
        generated: now,
    }
}

/// The DPO keeps the documents; administrators of users may read the desk
/// (access review, lint) too.
fn may_read_desk(state: &AppState, s: &Session) -> Result<(), ApiError> {
    if state.allowed(s, Action::UserAdmin, Resource::System) {
        return Ok(());
    }
    state.authorize(s, Action::DpoDocuments, Resource::System)
}

fn kind_of(kind: &str) -> Result<Kind, ApiError> {
    Kind::parse(kind).ok_or_else(|| {
        ApiError::not_found(format!(
            "no document {kind:?}: one of {}",
            Kind::ALL.map(|k| k.id()).join(", ")
        ))
    })
}

/// The query of `GET /api/v1/documents/{kind}`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DocumentQuery {
    /// `md` (default), `html` or `json`.
    format: Option<String>,
    /// For `notice`: one site's page only (its id).
    site: Option<String>,
}

/// `GET /api/v1/documents/{kind}`: `ropa`, `policy`, `notice` or `dpia`,
/// generated now from the live configuration; recorded as
/// `document.generate` (kind, format, configuration version) first.
pub async fn document(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(kind): Path<String>,
    query: Result<Query<DocumentQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    state.authorize(&s, Action::DpoDocuments, Resource::System)?;
    let kind = kind_of(&kind)?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let format = match q.format.as_deref() {
        None => Format::Markdown,
        Some(f) => Format::parse(f).ok_or_else(|| {
            ApiError::bad_request(format!("format: {f:?} is not one of md, html, json"))
        })?,
    };
    if q.site.is_some() && kind != Kind::Notice {
        return Err(ApiError::bad_request("site: only the notice is per site"));
    }
    let (db, now) = (state.store.db.clone(), state.clock.now());
    let (g, v) = blocking(move || current(&db, now)).await?;
    let stamp = stamp(&v, now);
    let doc = match &q.site {
        Some(site) => {
            if g.snapshot.organisation.site(site).is_none() {
                return Err(ApiError::bad_request(format!("site: no site {site:?}")));
            }
            documents::notice_for_site(&g.snapshot, stamp, site).ok_or_else(|| {
                ApiError::bad_request(format!("site: site {site:?} has no cameras"))
            })?
        }
        None => documents::generate(kind, &g.snapshot, stamp),
    };
    let mut detail = format!("kind={} format={} version={}", kind.id(), format.id(), v.id);
    if let Some(site) = &q.site {
        detail.push_str(&format!(" site={site}"));
    }
    state
        .record(
            crate::admin::event(&s, Audited::DocumentGenerate, "documents", peer).detail(detail),
        )
        .await?;
    let disposition = format!(
        "inline; filename=\"{}-v{}.{}\"",
        kind.id(),
        v.id,
        format.id()
    );
    let mut res = (
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        doc.render(format),
    )
        .into_response();
    if format == Format::Html {
        // The printable page's own stylesheet, allowed by its hash; nothing
        // else (the server-wide policy would refuse the inline style).
        let policy = HeaderValue::from_str(&document_policy()).map_err(ApiError::internal)?;
        res.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    Ok(res)
}

/// The `Content-Security-Policy` of a document's HTML page: its one
/// `<style>` element by hash, the empty icon, nothing else.
pub(crate) fn document_policy() -> String {
    use base64::Engine;
    let hash = ring::digest::digest(&ring::digest::SHA256, documents::HTML_STYLE.as_bytes());
    format!(
        "default-src 'none'; style-src 'sha256-{}'; img-src data:; frame-ancestors 'none'; \
         base-uri 'none'; form-action 'none'",
        base64::engine::general_purpose::STANDARD.encode(hash.as_ref())
    )
}

/// The body of `POST /api/v1/documents/{kind}/review`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    /// The configuration version reviewed: the one the document states.
    version: i64,
    /// The reviewer's note (up to 2000 characters).
    #[serde(default)]
    note: String,
}

/// `POST /api/v1/documents/{kind}/review`: the DPO marks a document
/// reviewed at a configuration version (the current one or an earlier
/// one); recorded as `document.review` first. 201 with the review's id.
pub async fn review_document(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(kind): Path<String>,
    body: Result<Json<ReviewBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    state.authorize(&s, Action::DpoDocuments, Resource::System)?;
    let kind = kind_of(&kind)?;
    let b = json_body(body)?;
    model::text("note", &b.note, 0, model::MAX_TEXT_CHARS)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let db = state.store.db.clone();
    let version = b.version;
    let known = blocking(move || Ok(db.config_version(version)?.is_some())).await?;
    if !known {
        return Err(ApiError::bad_request(format!(
            "version: no configuration version {version}"
        )));
    }
    state
        .record(
            crate::admin::event(
                &s,
                Audited::DocumentReview,
                format!("document:{}", kind.id()),
                peer,
            )
            .detail(format!("version={version}")),
        )
        .await?;
    let (db, now, reviewer) = (state.store.db.clone(), state.clock.now(), s.subject.user);
    let id = blocking(move || {
        Ok(db.insert_document_review(kind.id(), version, reviewer, b.note.trim(), now)?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(Created { id })).into_response())
}

/// What a `POST` made.
#[derive(Serialize, ToSchema)]
pub struct Created {
    /// Its id.
    pub id: i64,
}

/// One document on the desk.
#[derive(Serialize, ToSchema)]
pub struct DocumentStatus {
    /// `ropa`, `policy`, `notice` or `dpia`.
    kind: &'static str,
    /// Its title.
    title: &'static str,
    /// The configuration version last reviewed (`null`: never).
    reviewed_version: Option<i64>,
    /// When (RFC 3339).
    reviewed_at: Option<String>,
    /// The reviewer's pseudonym.
    reviewed_by: Option<String>,
    /// The data-protection-relevant settings changed since that review
    /// (every setting when never reviewed: empty then, see
    /// `reviewed_version`).
    changes: Vec<ChangeView>,
    /// Whether it needs a review: never reviewed, or settings changed.
    needs_review: bool,
}

/// A data-protection-relevant setting changed since a review.
#[derive(Serialize, ToSchema)]
pub struct ChangeView {
    /// Where, e.g. `cameras[id=3].retention_hours`.
    setting: String,
    /// Its value at the review (JSON text; `null`: it did not exist).
    before: String,
    /// Its value now (JSON text; `null`: it no longer exists).
    after: String,
}

/// One finding of the compliance lint.
#[derive(Serialize, ToSchema)]
pub struct FindingView {
    /// The rule's stable id, e.g. `camera.no_purpose`.
    rule: &'static str,
    /// `error`, `warning` or `info`.
    severity: &'static str,
    /// What is wrong.
    message: String,
    /// What it concerns, e.g. `camera:3 "Entrance"`, `role:operator`.
    object: String,
    /// What to do.
    fix: String,
    /// The guidance behind the rule (seed and section, or GDPR article).
    citation: &'static str,
}

impl From<lint::Finding> for FindingView {
    fn from(f: lint::Finding) -> Self {
        FindingView {
            rule: f.rule,
            severity: f.severity.id(),
            message: f.message,
            object: f.object,
            fix: f.fix,
            citation: f.citation,
        }
    }
}

/// Findings by severity.
#[derive(Serialize, ToSchema)]
pub struct SummaryView {
    /// Findings of severity `error`.
    errors: usize,
    /// Of severity `warning`.
    warnings: usize,
    /// Of severity `info`.
    infos: usize,
}

impl From<lint::Summary> for SummaryView {
    fn from(s: lint::Summary) -> Self {
        SummaryView {
            errors: s.errors,
            warnings: s.warnings,
            infos: s.infos,
        }
    }
}

/// One account in the access review.
#[derive(Serialize, ToSchema)]
pub struct AccessReviewItem {
    /// The account's id.
    user_id: i64,
    /// Its pseudonym (its id in `/api/v1/users` and the access record).
    pseudonym: String,
    /// Its login name (the desk is for the DPO and administrators).
    login: String,
    /// Its roles.
    roles: Vec<String>,
    /// The processor it belongs to (a maintenance account).
    processor_id: Option<i64>,
    /// The last review (RFC 3339; `null`: never).
    last_review_at: Option<String>,
    /// When the next review is due (RFC 3339).
    due_at: String,
    /// The due date has passed.
    overdue: bool,
}

/// The access review as a list: enabled accounts, overdue first, then by
/// due date.
fn access_items(g: &Gathered, now: Time90k) -> Vec<AccessReviewItem> {
    let months = g.snapshot.security.access_review_months;
    let mut items: Vec<(Time90k, AccessReviewItem)> = g
        .accounts
        .iter()
        .filter(|a| !a.disabled)
        .map(|a| {
            let due = model::review_due(a.last_access_review.unwrap_or(a.created), months);
            (
                due,
                AccessReviewItem {
                    user_id: a.id,
                    pseudonym: a.pseudonym.clone(),
                    login: a.login.clone(),
                    roles: a.roles.clone(),
                    processor_id: a.processor,
                    last_review_at: a.last_access_review.map(Time90k::to_rfc3339),
                    due_at: due.to_rfc3339(),
                    overdue: due < now,
                },
            )
        })
        .collect();
    items.sort_by_key(|(due, i)| (*due, i.user_id));
    items.into_iter().map(|(_, i)| i).collect()
}

/// A camera, by id and name.
#[derive(Serialize, ToSchema)]
pub struct CameraRef {
    /// Its id.
    id: i64,
    /// Its name.
    name: String,
}

/// The desk: `GET /api/v1/dpo`.
#[derive(Serialize, ToSchema)]
pub struct Desk {
    /// The configuration version now.
    version: i64,
    /// Since when (RFC 3339).
    since: String,
    /// Each document's review state.
    documents: Vec<DocumentStatus>,
    /// The compliance lint's counts.
    compliance: SummaryView,
    /// The findings of severity `error`.
    errors: Vec<FindingView>,
    /// Accounts whose access review is overdue.
    access_reviews_overdue: Vec<AccessReviewItem>,
    /// Whether the DPIA screening says a DPIA is required, and why.
    dpia_required: bool,
    /// The screening's reasons.
    dpia_reasons: Vec<String>,
    /// Cameras without a documented purpose (they do not record).
    cameras_without_purpose: Vec<CameraRef>,
    /// Processors in the register.
    processors: usize,
}

/// `GET /api/v1/dpo`: what the DPO should look at.
pub async fn desk(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<Desk>, ApiError> {
    may_read_desk(&state, &s)?;
    let (db, now) = (state.store.db.clone(), state.clock.now());
    let desk = blocking(move || {
        let (g, v) = current(&db, now)?;
        let reviews = db.latest_document_reviews()?;
        let users: HashMap<UserId, String> = db
            .users()?
            .into_iter()
            .map(|u| (u.id, u.pseudonym))
            .collect();
        let now_json = serde_json::to_value(&g.snapshot).map_err(ApiError::internal)?;
        let mut docs = Vec::new();
        for k in Kind::ALL {
            let r = reviews.iter().find(|r| r.kind == k.id());
            let changes = match r {
                Some(r) if r.version != v.id => {
                    let old = db
                        .config_version(r.version)?
                        .ok_or_else(|| ApiError::internal("a reviewed version is missing"))?;
                    // Compared as stored: a snapshot written before the
                    // model changed still reads.
                    let old: serde_json::Value =
                        serde_json::from_str(&old.snapshot).map_err(ApiError::internal)?;
                    diff::changes_json(&old, &now_json)
                        .into_iter()
                        .map(|c| ChangeView {
                            setting: c.setting,
                            before: c.before,
                            after: c.after,
                        })
                        .collect()
                }
                _ => Vec::new(),
            };
            docs.push(DocumentStatus {
                kind: k.id(),
                title: k.title(),
                reviewed_version: r.map(|r| r.version),
                reviewed_at: r.map(|r| r.reviewed.to_rfc3339()),
                reviewed_by: r.and_then(|r| users.get(&r.reviewer).cloned()),
                needs_review: r.is_none() || !changes.is_empty(),
                changes,
            });
        }
        let findings = lint::lint(&g.snapshot, &g.accounts, now);
        let screening = documents::dpia_screening(&g.snapshot);
        Ok(Desk {
            version: v.id,
            since: v.since.to_rfc3339(),
            documents: docs,
            compliance: lint::summary(&findings).into(),
            errors: findings
                .into_iter()
                .filter(|f| f.severity == lint::Severity::Error)
                .map(FindingView::from)
                .collect(),
            access_reviews_overdue: access_items(&g, now)
                .into_iter()
                .filter(|i| i.overdue)
                .collect(),
            dpia_required: screening.required,
            dpia_reasons: screening.reasons,
            cameras_without_purpose: g
                .snapshot
                .cameras
                .iter()
                .filter(|c| c.purpose.is_none())
                .map(|c| CameraRef {
                    id: c.id,
                    name: c.name.clone(),
                })
                .collect(),
            processors: g.snapshot.processors.len(),
        })
    })
    .await?;
    Ok(Json(desk))
}

/// `GET /api/v1/compliance`.
#[derive(Serialize, ToSchema)]
pub struct Compliance {
    /// The configuration version checked.
    version: i64,
    /// The counts by severity.
    summary: SummaryView,
    /// Every finding: errors first, then by rule and object.
    findings: Vec<FindingView>,
}

/// `GET /api/v1/compliance`: the compliance lint of the live
/// configuration.
pub async fn compliance(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<Compliance>, ApiError> {
    may_read_desk(&state, &s)?;
    let (db, now) = (state.store.db.clone(), state.clock.now());
    let c = blocking(move || {
        let (g, v) = current(&db, now)?;
        let findings = lint::lint(&g.snapshot, &g.accounts, now);
        Ok(Compliance {
            version: v.id,
            summary: lint::summary(&findings).into(),
            findings: findings.into_iter().map(FindingView::from).collect(),
        })
    })
    .await?;
    Ok(Json(c))
}

/// `GET /api/v1/access-reviews`.
#[derive(Serialize, ToSchema)]
pub struct AccessReviews {
    /// Roles are reviewed every this many months.
    months: u32,
    /// Enabled accounts, by due date (overdue first).
    items: Vec<AccessReviewItem>,
}

/// `GET /api/v1/access-reviews`: every enabled account with its roles and
/// when its review is due.
pub async fn access_reviews(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<AccessReviews>, ApiError> {
    may_read_desk(&state, &s)?;
    let (db, now) = (state.store.db.clone(), state.clock.now());
    let (months, items) = blocking(move || {
        let g = gather(&db, now)?;
        Ok((
            g.snapshot.security.access_review_months,
            access_items(&g, now),
        ))
    })
    .await?;
    Ok(Json(AccessReviews { months, items }))
}

/// The body of `POST /api/v1/access-reviews`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessReviewBody {
    /// The account reviewed.
    user_id: i64,
    /// `confirmed` (its roles stay) or `revoked`.
    outcome: String,
    /// With `revoked`: the roles taken away (default: all of them).
    #[serde(default)]
    roles: Option<Vec<String>>,
}

/// `POST /api/v1/access-reviews`: the DPO or an administrator confirms an
/// account's roles, or revokes some or all; recorded as `access.review`
/// first. Nobody reviews their own account.
pub async fn review_access(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<AccessReviewBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    may_read_desk(&state, &s)?;
    let b = json_body(body)?;
    let user = UserId(b.user_id);
    if user == s.subject.user {
        return Err(ApiError::forbidden(
            "user_id: nobody reviews their own roles; ask the DPO or another administrator",
        ));
    }
    let revoke = match b.outcome.as_str() {
        "confirmed" if b.roles.is_some() => {
            return Err(ApiError::bad_request(
                "roles: only with outcome \"revoked\"",
            ))
        }
        "confirmed" => false,
        "revoked" => true,
        o => {
            return Err(ApiError::bad_request(format!(
                "outcome: {o:?} is not \"confirmed\" or \"revoked\""
            )))
        }
    };
    let db = state.store.db.clone();
    let (account, held) = blocking(move || match db.user(user)? {
        Some(u) if u.name.is_some() => {
            let held: Vec<String> = db.user_roles(user)?.into_iter().map(|r| r.name).collect();
            Ok(Some((u, held)))
        }
        _ => Ok(None),
    })
    .await?
    .ok_or_else(|| ApiError::bad_request(format!("user_id: no account {}", b.user_id)))?;
    let named = if revoke {
        let taken = b.roles.clone().unwrap_or_else(|| held.clone());
        if let Some(r) = taken.iter().find(|r| !held.contains(r)) {
            return Err(ApiError::bad_request(format!(
                "roles: the account does not hold {r:?}"
            )));
        }
        let keep = held
            .iter()
            .filter(|r| !taken.contains(r))
            .cloned()
            .collect();
        // Like any change of roles: serialised, checked (never the last
        // users.admin), recorded as permission.change first.
        crate::admin::set_roles_checked(&state, &s, peer, &account, keep, "access_review").await?;
        taken
    } else {
        held
    };
    state
        .record(
            crate::admin::event(
                &s,
                Audited::AccessReview,
                format!("user:{}", account.pseudonym),
                peer,
            )
            .detail(format!("outcome={} roles={}", b.outcome, named.join(","))),
        )
        .await?;
    let (db, now, reviewer) = (state.store.db.clone(), state.clock.now(), s.subject.user);
    let outcome = b.outcome.clone();
    let id = blocking(move || {
        let roles = serde_json::to_string(&named).map_err(ApiError::internal)?;
        Ok(db.insert_access_review(user, reviewer, &outcome, &roles, now)?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(Created { id })).into_response())
}
