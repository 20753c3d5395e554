//! The register of processors (D10) and their maintenance accounts (seed
//! 001 §39, seed 003).
//!
//! The DPO keeps the register (`dpo.documents`); user administrators
//! (`users.admin`) read it. Removing a processor keeps its entry (the
//! record and old documents name it) and disables its accounts. A
//! processor's maintenance account is made by a user administrator with a
//! second person's approval for `users.admin` on `processor:ID`, always
//! (whatever the four-eyes settings say), consumed by the action; it works
//! for 1 to 30 days, then can no longer sign in and its sessions and
//! tokens stop; an extension needs a fresh approval.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use veil_access::{Action, Resource};
use veil_audit::Action as Audited;
use veil_base::{Time90k, TIME_UNITS_PER_SEC};
use veil_store::db::ProcessorRow;

use crate::admin::{event, CreatedUser};
use crate::auth::Session;
use crate::error::{json_body, ApiError};
use crate::{blocking, AppState};

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

/// The longest a maintenance account works before it must be extended.
pub const MAX_ACCOUNT_DAYS: u32 = 30;

/// A processor's register entry, as written.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessorBody {
    /// The company.
    name: String,
    /// `integrator`, `maintenance`, `cloud_storage` or `other`.
    #[schema(example = "maintenance")]
    kind: String,
    /// Date of the processing agreement (Art. 28), `YYYY-MM-DD`.
    #[schema(example = "2026-01-15")]
    agreement_date: String,
    /// What the agreement lets it do.
    scope: String,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "PT")]
    country: String,
    /// Required outside the EEA (e.g. an adequacy decision or standard
    /// contractual clauses).
    #[serde(default)]
    transfer_basis: String,
}

/// One of a processor's enabled maintenance accounts.
#[derive(Serialize, ToSchema)]
pub struct AccountJson {
    /// The account's pseudonym.
    id: String,
    /// RFC 3339: when it stops working (`null`: never, which only an
    /// account tied outside this API can be).
    expires_at: Option<String>,
    /// Its time limit has passed.
    expired: bool,
}

/// A processor's register entry.
#[derive(Serialize, ToSchema)]
pub struct ProcessorJson {
    /// Its id.
    id: i64,
    /// The company.
    name: String,
    /// `integrator`, `maintenance`, `cloud_storage` or `other`.
    kind: String,
    /// `YYYY-MM-DD`.
    agreement_date: String,
    /// What the agreement lets it do.
    scope: String,
    /// ISO 3166-1 alpha-2.
    country: String,
    /// The transfer basis ("" inside the EEA).
    transfer_basis: String,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339; `null` while it is in the register.
    removed_at: Option<String>,
    /// Its enabled maintenance accounts (no login names: user
    /// administrators find those in `GET /api/v1/users`).
    accounts: Vec<AccountJson>,
}

/// The register.
#[derive(Serialize, ToSchema)]
pub struct ProcessorList {
    /// By id.
    items: Vec<ProcessorJson>,
}

/// The query of `GET /api/v1/processors`.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Include processors removed from the register.
    #[serde(default)]
    removed: bool,
}

/// Reading the register: `dpo.documents` or `users.admin`.
fn may_read(state: &AppState, s: &Session) -> Result<(), ApiError> {
    if state.allowed(s, Action::DpoDocuments, Resource::System) {
        return Ok(());
    }
    state.authorize(s, Action::UserAdmin, Resource::System)
}

fn processor_json(
    p: &ProcessorRow,
    users: &[veil_store::db::UserRow],
    now: Time90k,
) -> ProcessorJson {
    ProcessorJson {
        id: p.id,
        name: p.name.clone(),
        kind: p.kind.clone(),
        agreement_date: p.agreement_date.clone(),
        scope: p.scope.clone(),
        country: p.country.clone(),
        transfer_basis: p.transfer_basis.clone(),
        created_at: p.created.to_rfc3339(),
        removed_at: p.removed.map(|t| t.to_rfc3339()),
        accounts: users
            .iter()
            .filter(|u| u.processor == Some(p.id) && !u.disabled && u.name.is_some())
            .map(|u| AccountJson {
                id: u.pseudonym.clone(),
                expires_at: u.expires.map(|t| t.to_rfc3339()),
                expired: u.expired(now),
            })
            .collect(),
    }
}

/// `GET /api/v1/processors[?removed=true]`: the register.
pub async fn list(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ProcessorList>, ApiError> {
    may_read(&state, &s)?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let (db, now) = (state.store.db.clone(), state.now());
    let items = blocking(move || {
        let users = db.users()?;
        Ok(db
            .processors()?
            .iter()
            .filter(|p| q.removed || p.removed.is_none())
            .map(|p| processor_json(p, &users, now))
            .collect())
    })
    .await?;
    Ok(Json(ProcessorList { items }))
}

/// Checks a body with the model's checks; a 400 names the field.
fn checked(b: ProcessorBody) -> Result<ProcessorRow, ApiError> {
    let m = veil_dpo::model::Processor {
        name: b.name.trim().to_owned(),
        kind: b.kind,
        agreement_date: b.agreement_date,
        scope: b.scope.trim().to_owned(),
        country: b.country,
        transfer_basis: b.transfer_basis.trim().to_owned(),
        ..Default::default()
    };
    m.check()
        .map_err(|e| ApiError::bad_request(format!("{}: {}", e.field, e.message)))?;
    Ok(ProcessorRow {
        id: 0,
        name: m.name,
        kind: m.kind,
        agreement_date: m.agreement_date,
        scope: m.scope,
        country: m.country,
        transfer_basis: m.transfer_basis,
        created: Time90k(0),
        removed: None,
    })
}

fn detail(p: &ProcessorRow) -> String {
    format!(
        "name={:?} kind={} agreement_date={} country={}",
        p.name, p.kind, p.agreement_date, p.country
    )
}

/// The processor `raw` names: 404 when there is none, 409 when it was
/// removed from the register.
async fn current(state: &AppState, raw: &str) -> Result<ProcessorRow, ApiError> {
    let not_found = || ApiError::not_found(format!("no processor {raw:?}"));
    let id: i64 = raw.parse().map_err(|_| not_found())?;
    let db = state.store.db.clone();
    let p = blocking(move || Ok(db.processors()?.into_iter().find(|p| p.id == id)))
        .await?
        .ok_or_else(not_found)?;
    if p.removed.is_some() {
        return Err(conflict(format!(
            "processor {} was removed from the register",
            p.id
        )));
    }
    Ok(p)
}

fn conflict(message: String) -> ApiError {
    ApiError {
        status: StatusCode::CONFLICT,
        code: "conflict",
        message,
    }
}

async fn get_one(state: &AppState, id: i64) -> Result<ProcessorJson, ApiError> {
    let (db, now) = (state.store.db.clone(), state.now());
    blocking(move || {
        let users = db.users()?;
        db.processors()?
            .iter()
            .find(|p| p.id == id)
            .map(|p| processor_json(p, &users, now))
            .ok_or_else(|| ApiError::not_found(format!("no processor {id}")))
    })
    .await
}

/// `POST /api/v1/processors`: enters a processor in the register.
pub async fn create(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body<ProcessorBody>,
) -> Result<(StatusCode, Json<ProcessorJson>), ApiError> {
    state.authorize(&s, Action::DpoDocuments, Resource::System)?;
    let mut row = checked(json_body(body)?)?;
    state
        .record(event(&s, Audited::ProcessorCreate, "processor", peer).detail(detail(&row)))
        .await?;
    row.created = state.now();
    let db = state.store.db.clone();
    let id = blocking(move || Ok(db.insert_processor(&row)?)).await?;
    Ok((StatusCode::CREATED, Json(get_one(&state, id).await?)))
}

/// `PUT /api/v1/processors/{id}`: replaces a current entry.
pub async fn update(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(raw): Path<String>,
    body: Body<ProcessorBody>,
) -> Result<Json<ProcessorJson>, ApiError> {
    state.authorize(&s, Action::DpoDocuments, Resource::System)?;
    let mut row = checked(json_body(body)?)?;
    let p = current(&state, &raw).await?;
    row.id = p.id;
    state
        .record(
            event(
                &s,
                Audited::ProcessorUpdate,
                format!("processor:{}", p.id),
                peer,
            )
            .detail(detail(&row)),
        )
        .await?;
    let db = state.store.db.clone();
    if !blocking(move || Ok(db.update_processor(&row)?)).await? {
        return Err(conflict(format!(
            "processor {} was removed meanwhile",
            p.id
        )));
    }
    Ok(Json(get_one(&state, p.id).await?))
}

/// `DELETE /api/v1/processors/{id}`: removes it from the register (the
/// entry stays, marked removed) and disables its accounts.
pub async fn remove(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.authorize(&s, Action::DpoDocuments, Resource::System)?;
    let p = current(&state, &raw).await?;
    let db = state.store.db.clone();
    let id = p.id;
    let accounts: Vec<String> = blocking(move || {
        Ok(db
            .users()?
            .into_iter()
            .filter(|u| u.processor == Some(id) && !u.disabled)
            .map(|u| u.pseudonym)
            .collect())
    })
    .await?;
    state
        .record(
            event(
                &s,
                Audited::ProcessorRemove,
                format!("processor:{id}"),
                peer,
            )
            .detail(format!("disabled_accounts={}", accounts.join(","))),
        )
        .await?;
    let (db, now) = (state.store.db.clone(), state.now());
    if !blocking(move || Ok(db.remove_processor(id, now)?)).await? {
        return Err(conflict(format!("processor {id} was removed meanwhile")));
    }
    Ok(StatusCode::NO_CONTENT)
}

// --- maintenance accounts ---

/// The body of `POST /api/v1/processors/{id}/accounts`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccountBody {
    /// The login name: 3 to 64 letters, digits, `.`, `_`, `-` or `@`; one
    /// person of the processor.
    #[schema(pattern = "^[A-Za-z0-9._@-]{3,64}$", example = "joao.tech@acme")]
    login: String,
    /// Existing role names.
    roles: Vec<String>,
    /// How many days it works: 1 to 30.
    #[schema(minimum = 1, maximum = 30)]
    days: u32,
}

/// The body of `PUT /api/v1/processors/{id}/accounts/{user}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendBody {
    /// How many days from now it works: 1 to 30.
    #[schema(minimum = 1, maximum = 30)]
    days: u32,
}

/// A maintenance account made: the account and when it stops working.
#[derive(Serialize, ToSchema)]
pub struct CreatedAccount {
    /// The account, with its one-time password.
    #[serde(flatten)]
    account: CreatedUser,
    /// The processor.
    processor_id: i64,
    /// RFC 3339.
    expires_at: String,
}

/// A maintenance account's new time limit.
#[derive(Serialize, ToSchema)]
pub struct ExtendedAccount {
    /// The account's pseudonym.
    id: String,
    /// The processor.
    processor_id: i64,
    /// RFC 3339.
    expires_at: String,
}

fn check_days(days: u32) -> Result<(), ApiError> {
    if (1..=MAX_ACCOUNT_DAYS).contains(&days) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "days: a maintenance account works 1 to {MAX_ACCOUNT_DAYS} days (got {days})"
        )))
    }
}

/// The caller's approval for `users.admin` on `processor:ID`, found (not
/// yet used): a second person's, whatever the four-eyes settings say.
async fn approval(
    state: &AppState,
    s: &Session,
    processor: i64,
) -> Result<veil_store::db::ApprovalRow, ApiError> {
    let (db, user, now) = (state.store.db.clone(), s.subject.user, state.now());
    let r = format!("processor:{processor}");
    blocking(move || crate::admin::find_approval(&db, user, Action::UserAdmin, &r, now)).await
}

/// Permissions a maintenance account may not hold: making or changing
/// accounts (it could make its holder a permanent account, past its time
/// limit) and approving others' four-eyes requests.
const NOT_FOR_MAINTENANCE: [Action; 2] = [Action::UserAdmin, Action::Approve];

/// Refuses (400 naming `roles`) roles granting a permission of
/// [`NOT_FOR_MAINTENANCE`].
fn refuse_account_powers(db: &veil_store::Db, names: &[String]) -> Result<(), ApiError> {
    for row in db.roles()?.iter().filter(|r| names.contains(&r.name)) {
        let Some(role) = crate::roles::parse_role(row) else {
            continue;
        };
        if let Some(a) = NOT_FOR_MAINTENANCE.iter().find(|a| role.holds(**a)) {
            return Err(ApiError::bad_request(format!(
                "roles: {:?} grants {}, which a processor's maintenance account may not hold",
                row.name,
                a.id()
            )));
        }
    }
    Ok(())
}

fn until(now: Time90k, days: u32) -> Time90k {
    Time90k(now.0 + i64::from(days) * 86_400 * TIME_UNITS_PER_SEC)
}

/// `POST /api/v1/processors/{id}/accounts`: a maintenance account of the
/// processor, working `days` days; its random password answered once.
pub async fn create_account(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(raw): Path<String>,
    body: Body<NewAccountBody>,
) -> Result<(StatusCode, Json<CreatedAccount>), ApiError> {
    state.authorize(&s, Action::UserAdmin, Resource::System)?;
    let req = json_body(body)?;
    check_days(req.days)?;
    {
        let (db, names) = (state.store.db.clone(), req.roles.clone());
        blocking(move || refuse_account_powers(&db, &names)).await?;
    }
    let p = current(&state, &raw).await?;
    let account = crate::admin::check_new_account(&state, req.login, req.roles, None).await?;
    let a = approval(&state, &s, p.id).await?;
    let expires = until(state.now(), req.days);
    state
        .record(
            event(
                &s,
                Audited::ProcessorAccount,
                format!("processor:{}", p.id),
                peer,
            )
            .detail(format!(
                "create user={} days={} expires={} approval={}",
                account.pseudonym(),
                req.days,
                expires.to_rfc3339(),
                a.id
            )),
        )
        .await?;
    let (db, now) = (state.store.db.clone(), state.now());
    blocking(move || crate::admin::consume_approval(&db, &a, now)).await?;
    let created =
        crate::admin::insert_account(&state, &s, peer, account, Some((p.id, expires))).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedAccount {
            account: created,
            processor_id: p.id,
            expires_at: expires.to_rfc3339(),
        }),
    ))
}

/// `PUT /api/v1/processors/{id}/accounts/{user}`: the account works `days`
/// more days from now (a fresh approval each time).
pub async fn extend_account(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((raw, user)): Path<(String, String)>,
    body: Body<ExtendBody>,
) -> Result<Json<ExtendedAccount>, ApiError> {
    state.authorize(&s, Action::UserAdmin, Resource::System)?;
    let req = json_body(body)?;
    check_days(req.days)?;
    let p = current(&state, &raw).await?;
    let db = state.store.db.clone();
    let pseudonym = user.clone();
    let u = blocking(move || Ok(db.user_by_pseudonym(&pseudonym)?))
        .await?
        .filter(|u| u.processor == Some(p.id) && u.name.is_some())
        .ok_or_else(|| {
            ApiError::not_found(format!("processor {} has no account {user:?}", p.id))
        })?;
    if u.disabled {
        return Err(conflict(
            "the account is disabled; enable it first (PUT /api/v1/users/{id})".into(),
        ));
    }
    let a = approval(&state, &s, p.id).await?;
    let expires = until(state.now(), req.days);
    state
        .record(
            event(
                &s,
                Audited::ProcessorAccount,
                format!("processor:{}", p.id),
                peer,
            )
            .detail(format!(
                "extend user={} days={} expires={} approval={}",
                u.pseudonym,
                req.days,
                expires.to_rfc3339(),
                a.id
            )),
        )
        .await?;
    let (db, now) = (state.store.db.clone(), state.now());
    let id = u.id;
    blocking(move || {
        crate::admin::consume_approval(&db, &a, now)?;
        Ok(db.set_user_processor(id, Some(p.id), Some(expires))?)
    })
    .await?;
    Ok(Json(ExtendedAccount {
        id: u.pseudonym,
        processor_id: p.id,
        expires_at: expires.to_rfc3339(),
    }))
}
