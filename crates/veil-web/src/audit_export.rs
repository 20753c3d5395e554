//! `GET /api/v1/audit/export`: the offline export of the access record.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use veil_access::{Action, Resource};
use veil_audit::{Action as Audited, Event};
use veil_base::Time90k;
use veil_store::Db;

use crate::auth::Session;
use crate::error::ApiError;
use crate::{blocking, AppState};

/// Resolves a range bound: a sequence number, or an RFC 3339 time (`from`:
/// the first entry at or after it; `to`: the last entry before it).
fn bound(db: &Db, q: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ApiError> {
    let Some(v) = q.get(name).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if let Ok(seq) = v.parse::<i64>() {
        return Ok(Some(seq));
    }
    let t = Time90k::parse_rfc3339(v).ok_or_else(|| {
        ApiError::bad_request(format!(
            "{name} must be a sequence number or an RFC 3339 time (got {v:?})"
        ))
    })?;
    let seq = if name == "from" {
        db.first_audit_seq_at_or_after(t)?.or(Some(i64::MAX))
    } else {
        Some(db.last_audit_entry_before(t)?.map(|(s, _)| s).unwrap_or(0))
    };
    Ok(seq)
}

/// `GET /api/v1/audit/export?from&to`: JSON Lines with the covering signed
/// checkpoints and the public key (`docs/audit-format.md`). Needs audit read;
/// recorded before it is produced; a checkpoint is signed first so that the
/// newest entries are covered.
pub async fn export(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    state.authorize(&s, Action::AuditRead, Resource::System)?;
    let key = state
        .audit
        .public_key()
        .ok_or_else(|| ApiError::internal("the access record has no signing key"))?;
    let db = state.store.db.clone();
    let (from, to) = {
        let db = db.clone();
        blocking(move || Ok((bound(&db, &q, "from")?, bound(&db, &q, "to")?))).await?
    };
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(ApiError::bad_request("from must not be after to"));
        }
    }
    let range = format!(
        "from={} to={}",
        from.map_or("first".into(), |v| v.to_string()),
        to.map_or("last".into(), |v| v.to_string())
    );
    state
        .record(
            Event::new(s.subject.pseudonym.clone(), Audited::AuditExport, "audit")
                .detail(range)
                .client(peer.ip()),
        )
        .await?;
    let audit = state.audit.clone();
    let body = blocking(move || {
        audit.checkpoint().map_err(|e| {
            tracing::error!(error = %e, "could not sign a checkpoint for an export");
            ApiError::audit_unavailable()
        })?;
        let mut out = Vec::new();
        veil_audit::export::write(&db, &key, from, to, &mut out).map_err(ApiError::internal)?;
        Ok(out)
    })
    .await?;
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jsonl; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"veil-audit-export.jsonl\""),
    );
    Ok(res)
}
