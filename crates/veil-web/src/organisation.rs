//! The organisation profile (issue 15 item 1): the controller and its
//! contact, the DPO's contact, the sites, the supervisory authority, and
//! where the data is stored. `GET`/`PUT /api/v1/organisation`; the
//! configuration file's `[organisation]` is written at start
//! ([`remember`]). Kept as JSON in the `setting` row `organisation`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use veil_access::{Action, Resource};
use veil_audit::{AccessRecord, Action as Audited, Event};
use veil_dpo::model::{Organisation, Purpose};
use veil_store::db::ORGANISATION_SETTING;
use veil_store::Db;

use crate::auth::Session;
use crate::error::{json_body, ApiError};
use crate::{blocking, AppState};

/// The stored profile (empty when none was set).
pub fn load(db: &Db) -> Result<Organisation, ApiError> {
    match db.setting(ORGANISATION_SETTING)? {
        Some(json) => serde_json::from_str(&json).map_err(ApiError::internal),
        None => Ok(Organisation::default()),
    }
}

/// The top-level fields that differ, for the access record (names only:
/// the profile holds the DPO's contact details).
fn changed_fields(old: &Organisation, new: &Organisation) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |name, differs: bool| {
        if differs {
            out.push(name);
        }
    };
    check("controller", old.controller != new.controller);
    check("dpo", old.dpo != new.dpo);
    check("authority", old.authority != new.authority);
    check("sites", old.sites != new.sites);
    check("storage", old.storage != new.storage);
    check("information_at", old.information_at != new.information_at);
    out
}

/// Cameras whose documented purpose names a site the profile no longer
/// has: `(camera name, site)`; cameras named in `replaced` (whose
/// purposes are about to be replaced) are left out.
fn orphaned_sites(
    db: &Db,
    new: &Organisation,
    replaced: &[String],
) -> Result<Vec<(String, String)>, ApiError> {
    let names: std::collections::HashMap<_, _> =
        db.cameras()?.into_iter().map(|c| (c.id, c.name)).collect();
    let mut out = Vec::new();
    for c in db.camera_dpo()? {
        let name = names.get(&c.camera).cloned().unwrap_or_default();
        if replaced.contains(&name) {
            continue;
        }
        let Some(p) = c.purpose else { continue };
        let p: Purpose = serde_json::from_str(&p).map_err(ApiError::internal)?;
        if new.site(&p.site).is_none() {
            out.push((name, p.site));
        }
    }
    Ok(out)
}

/// Writes the configuration file's profile at start when it differs from
/// the stored one, recording the change (`config.organisation`, source
/// `configuration`) first. Refused when it is invalid or drops a site the
/// stored purpose of a camera names, except the cameras (by name) in
/// `replaced`, whose purposes the configuration file sets next.
pub fn remember(
    db: &Db,
    audit: &AccessRecord,
    org: &Organisation,
    replaced: &[String],
) -> Result<(), String> {
    org.check().map_err(|e| format!("[organisation] {e}"))?;
    let old = load(db).map_err(|e| e.message)?;
    let fields = changed_fields(&old, org);
    if fields.is_empty() {
        return Ok(());
    }
    if let Some((camera, site)) = orphaned_sites(db, org, replaced)
        .map_err(|e| e.message)?
        .first()
    {
        return Err(format!(
            "[organisation] sites: camera {camera:?}'s purpose names site {site:?}, which the \
             profile no longer has"
        ));
    }
    audit
        .append(
            Event::new("system", Audited::OrganisationChange, "organisation")
                .detail(format!("fields={} source=configuration", fields.join(","))),
        )
        .map_err(|e| format!("the organisation profile could not be recorded: {e}"))?;
    let json = serde_json::to_string(org).map_err(|e| e.to_string())?;
    db.set_setting(ORGANISATION_SETTING, &json)
        .map_err(|e| e.to_string())
}

/// Reading the profile: the DPO, or an administrator of users.
fn may_read(state: &AppState, s: &Session) -> Result<(), ApiError> {
    if state.allowed(s, Action::UserAdmin, Resource::System) {
        return Ok(());
    }
    state.authorize(s, Action::DpoDocuments, Resource::System)
}

/// `GET /api/v1/organisation`: the profile (empty fields when not set).
pub async fn get(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<Organisation>, ApiError> {
    may_read(&state, &s)?;
    let db = state.store.db.clone();
    Ok(Json(blocking(move || load(&db)).await?))
}

/// `PUT /api/v1/organisation`: replaces the profile. 400 naming the field
/// (`controller.email`, `sites[1].id`, `storage.backups[0].country`, …);
/// 409 when a site still named by a camera's purpose would go.
pub async fn put(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<Organisation>, axum::extract::rejection::JsonRejection>,
) -> Result<StatusCode, ApiError> {
    state.authorize(&s, Action::DpoDocuments, Resource::System)?;
    let org = json_body(body)?;
    org.check()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let db = state.store.db.clone();
    let (old, orphans) = {
        let org = org.clone();
        blocking(move || Ok((load(&db)?, orphaned_sites(&db, &org, &[])?))).await?
    };
    if let Some((camera, site)) = orphans.first() {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            code: "site_in_use",
            message: format!(
                "sites: camera {camera:?}'s purpose names site {site:?}; change its purpose first"
            ),
        });
    }
    let fields = changed_fields(&old, &org);
    if fields.is_empty() {
        return Ok(StatusCode::NO_CONTENT);
    }
    state
        .record(
            crate::admin::event(&s, Audited::OrganisationChange, "organisation", peer)
                .detail(format!("fields={}", fields.join(","))),
        )
        .await?;
    let db = state.store.db.clone();
    let json = serde_json::to_string(&org).map_err(ApiError::internal)?;
    blocking(move || Ok(db.set_setting(ORGANISATION_SETTING, &json)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}
