//! Administration over the API: the permission catalogue, roles, users, the
//! usage policy and its acknowledgement, and four-eyes approvals. Every
//! change is authorised by the policy engine and recorded before it is made.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use veil_access::{Action, Resource};
use veil_audit::{Action as Audited, Event};
use veil_base::{CameraId, Time90k, UserId, TIME_UNITS_PER_SEC};
use veil_store::db::{ApprovalRow, UserRow};
use veil_store::Db;

use crate::auth::Session;
use crate::error::{json_body, ApiError};
use crate::model::{RoleDefinition, RoleView};
use crate::{blocking, roles, AppState};

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

/// Settings key of the permissions that need four-eyes approval.
pub const FOUR_EYES_SETTING: &str = "four_eyes";
/// How long an approval request stays valid.
pub const APPROVAL_HOURS: i64 = 24;

/// The four-eyes permissions by default (A5).
pub fn default_four_eyes() -> Vec<String> {
    [
        Action::Export,
        Action::LiftMasks,
        Action::DeleteRecordings,
        Action::LockRelease,
    ]
    .iter()
    .map(|a| a.id().to_owned())
    .collect()
}

/// The permissions whose action consumes an approval ([`use_approval`]) at
/// its route once that route exists; only these can be made four-eyes. A
/// permission such as `playback` has no step that could wait for a second
/// person, so listing it would promise a control that is not there.
pub const APPROVABLE: &[Action] = &[
    Action::Export,
    Action::LiftMasks,
    Action::DeleteRecordings,
    Action::LockRelease,
];

/// The approvable actions whose route consumes an approval today. Each
/// joins this list in the change that adds its route (export, mask lift,
/// deletion, lock release).
pub const ENFORCED_TODAY: &[Action] = &[Action::LockRelease, Action::LiftMasks, Action::Export];

/// Whether four-eyes on a permission is enforced by a route today.
#[derive(Serialize, ToSchema)]
pub struct Enforcement {
    /// The permission id.
    permission: String,
    /// Whether a route consumes an approval for it today.
    enforced: bool,
    /// Why (not).
    #[schema(value_type = String)]
    note: &'static str,
}

/// Whether four-eyes on `p` is enforced by a route today, and why not.
fn enforcement(p: &str) -> Enforcement {
    let enforced = ENFORCED_TODAY.iter().any(|a| a.id() == p);
    Enforcement {
        permission: p.to_owned(),
        enforced,
        note: if enforced {
            "its route consumes an approval for each action"
        } else {
            "no route performs this action yet, so nothing can be done without an approval; \
             the approval is required as soon as the route exists"
        },
    }
}

/// The permissions that currently need four-eyes approval.
pub fn four_eyes(db: &Db) -> Result<Vec<String>, ApiError> {
    Ok(match db.setting(FOUR_EYES_SETTING)? {
        Some(v) => serde_json::from_str(&v).map_err(ApiError::internal)?,
        None => default_four_eyes(),
    })
}

pub(crate) fn event(
    s: &Session,
    action: Audited,
    resource: impl Into<String>,
    peer: SocketAddr,
) -> Event {
    Event::new(s.subject.pseudonym.clone(), action, resource).client(peer.ip())
}

// --- separation of duties and lock-out ---

/// Permissions a user administrator can never give themselves through the
/// administration API (separation of duties): reading the access record that
/// records their own actions, and seeing video without its privacy masks.
/// Someone else must grant them.
pub const NOT_SELF_GRANTED: &[Action] = &[Action::AuditRead, Action::LiftMasks];

/// Serialises role changes and role assignments in this process, so the
/// check of [`check_role_change`] and the write it allows cannot interleave
/// with another change (two administrators each removing the other's
/// `users.admin` at the same moment would otherwise both pass the check).
/// Several server processes on one database (scale-out) will need a
/// database lock instead.
static ROLE_CHANGES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A change to roles or role assignments, checked before it is made.
enum RoleChange<'a> {
    /// A role is created or replaced by this definition.
    Put(&'a veil_access::Role),
    /// The role with this name is deleted.
    Delete(&'a str),
    /// The account's roles become these names.
    Assign(UserId, &'a [String]),
}

fn parsed(rows: &[veil_store::db::RoleRow]) -> Vec<veil_access::Role> {
    rows.iter().filter_map(roles::parse_role).collect()
}

/// The roles `user` holds once `change` is made.
fn roles_after(
    db: &Db,
    all: &[veil_store::db::RoleRow],
    user: UserId,
    change: &RoleChange<'_>,
) -> Result<Vec<veil_access::Role>, ApiError> {
    let mut held = match change {
        RoleChange::Assign(u, names) if *u == user => parsed(
            &all.iter()
                .filter(|r| names.contains(&r.name))
                .cloned()
                .collect::<Vec<_>>(),
        ),
        _ => parsed(&db.user_roles(user)?),
    };
    match change {
        RoleChange::Put(new) => {
            for r in held.iter_mut().filter(|r| r.name == new.name) {
                *r = (*new).clone();
            }
        }
        RoleChange::Delete(name) => held.retain(|r| r.name != *name),
        RoleChange::Assign(..) => {}
    }
    Ok(held)
}

/// Refuses a change that would give `caller` a permission of
/// [`NOT_SELF_GRANTED`] they do not hold yet (403), or leave no enabled
/// account holding `users.admin` (409: nobody could manage accounts any
/// more). Blocking.
fn check_role_change(
    db: &Db,
    caller: UserId,
    now: Time90k,
    change: &RoleChange<'_>,
) -> Result<(), ApiError> {
    let all = db.roles()?;
    let mut administrators = 0;
    for u in db.users()? {
        let after = roles_after(db, &all, u.id, change)?;
        if u.id == caller {
            let before = parsed(&db.user_roles(u.id)?);
            for a in NOT_SELF_GRANTED {
                if after.iter().any(|r| r.holds(*a)) && !before.iter().any(|r| r.holds(*a)) {
                    return Err(ApiError {
                        status: StatusCode::FORBIDDEN,
                        code: "separation_of_duties",
                        message: format!(
                            "you cannot give yourself {}: another administrator must grant it \
                             (separation of duties)",
                            a.id()
                        ),
                    });
                }
            }
        }
        let enabled = !u.disabled && !u.expired(now) && u.name.is_some();
        if enabled && after.iter().any(|r| r.holds(Action::UserAdmin)) {
            administrators += 1;
        }
    }
    if administrators == 0 {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            code: "last_user_admin",
            message: "this would leave no enabled account holding users.admin, so nobody could \
                      manage accounts and roles any more; give the permission to another \
                      account first"
                .into(),
        });
    }
    Ok(())
}

// --- the catalogue ---

/// A grantable permission.
#[derive(Serialize, ToSchema)]
pub struct PermissionJson {
    /// Its id, used in grants.
    #[schema(value_type = String)]
    id: &'static str,
    /// What it allows.
    #[schema(value_type = String)]
    description: &'static str,
    /// It applies to cameras, so a grant's scope limits it.
    camera_scoped: bool,
    /// A role holding it should require a second factor.
    needs_second_factor_by_default: bool,
}

/// `GET /api/v1/permissions`: the catalogue (any signed-in user).
pub async fn permissions(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<Vec<PermissionJson>>, ApiError> {
    state.authorize(&s, Action::OwnSession, Resource::System)?;
    Ok(Json(
        Action::PERMISSIONS
            .iter()
            .map(|a| PermissionJson {
                id: a.id(),
                description: a.describe(),
                camera_scoped: a.camera_scoped(),
                needs_second_factor_by_default: a.sensitive(),
            })
            .collect(),
    ))
}

// --- roles ---

/// `GET /api/v1/roles`.
pub async fn list_roles(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<Vec<RoleView>>, ApiError> {
    state.authorize(&s, Action::UserAdmin, Resource::System)?;
    let db = state.store.db.clone();
    let rows = blocking(move || Ok(db.roles()?)).await?;
    Ok(Json(
        rows.iter()
            .filter_map(roles::parse_role)
            .map(RoleView::from)
            .collect(),
    ))
}

/// `PUT /api/v1/roles/{name}`: creates or replaces a role.
pub async fn put_role(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    body: Body<RoleDefinition>,
) -> Result<Response, ApiError> {
    state.authorize(&s, Action::UserAdmin, Resource::System)?;
    let role = json_body(body)?.into_role(name);
    role.validate().map_err(ApiError::bad_request)?;
    let _serialised = ROLE_CHANGES.lock().await;
    let db = state.store.db.clone();
    let (checked, caller) = (role.clone(), s.subject.user);
    let now = state.now();
    blocking(move || check_role_change(&db, caller, now, &RoleChange::Put(&checked))).await?;
    let grants: Vec<&str> = role.grants.iter().map(|g| g.permission.as_str()).collect();
    state
        .record(
            event(&s, Audited::RoleChange, format!("role:{}", role.name), peer).detail(format!(
                "put grants={} window_hours={} hours={} second_factor={}",
                grants.join(","),
                role.playback_window_hours
                    .map_or("none".into(), |h| h.to_string()),
                role.time_profile.is_some(),
                role.require_second_factor
            )),
        )
        .await?;
    let db = state.store.db.clone();
    let now = state.now();
    let json = serde_json::to_string(&role).map_err(ApiError::internal)?;
    let created = blocking(move || Ok(db.upsert_role(&role.name, &json, now)?)).await?;
    Ok(if created {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    }
    .into_response())
}

/// `DELETE /api/v1/roles/{name}`: its holders lose it.
pub async fn delete_role(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.authorize(&s, Action::UserAdmin, Resource::System)?;
    let _serialised = ROLE_CHANGES.lock().await;
    let db = state.store.db.clone();
    let (checked, caller) = (name.clone(), s.subject.user);
    let now = state.now();
    blocking(move || check_role_change(&db, caller, now, &RoleChange::Delete(&checked))).await?;
    state
        .record(event(&s, Audited::RoleChange, format!("role:{name}"), peer).detail("delete"))
        .await?;
    let db = state.store.db.clone();
    let gone = blocking(move || Ok(db.delete_role(&name)?)).await?;
    if gone {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no such role"))
    }
}

// --- users ---

/// An account.
#[derive(Serialize, ToSchema)]
pub struct UserJson {
    /// The pseudonym.
    id: String,
    /// The login name; `null` once erased.
    name: Option<String>,
    /// Its roles.
    roles: Vec<String>,
    /// Disabled accounts cannot sign in; their tokens stop.
    disabled: bool,
    /// The password was set by someone else and must be changed.
    must_change_password: bool,
    /// RFC 3339; `null`: no training date recorded.
    training_valid_until: Option<String>,
    /// The usage policy version last acknowledged (0: none).
    policy_acknowledged_version: i64,
    /// A TOTP second factor is enrolled.
    second_factor_enrolled: bool,
    /// E.g. a generic, shared-looking name.
    warnings: Vec<String>,
    /// The processor a maintenance account belongs to (register of
    /// processors); `null` for the controller's own accounts.
    processor_id: Option<i64>,
    /// RFC 3339: when a time-limited account stops working; `null`: never.
    expires_at: Option<String>,
}

/// The accounts.
#[derive(Serialize, ToSchema)]
pub struct UserList {
    /// Every account.
    users: Vec<UserJson>,
}

/// Warnings about an account name: generic names are not personal
/// accounts (seed 001 §34).
pub fn name_warnings(name: &str) -> Vec<String> {
    if veil_access::password::generic_account_name(name) {
        vec![format!(
            "{name:?} looks like a shared, generic account; give every person their own account"
        )]
    } else {
        Vec::new()
    }
}

fn user_json(db: &Db, u: &UserRow) -> Result<UserJson, ApiError> {
    let roles = db.user_roles(u.id)?.into_iter().map(|r| r.name).collect();
    Ok(UserJson {
        id: u.pseudonym.clone(),
        name: u.name.clone(),
        roles,
        disabled: u.disabled,
        must_change_password: u.must_change_password,
        training_valid_until: u.training_valid_until.map(|t| t.to_rfc3339()),
        policy_acknowledged_version: u.policy_ack_version,
        second_factor_enrolled: db.second_factor(u.id)?.totp_sealed.is_some(),
        warnings: u.name.as_deref().map(name_warnings).unwrap_or_default(),
        processor_id: u.processor,
        expires_at: u.expires.map(|t| t.to_rfc3339()),
    })
}

/// `GET /api/v1/users`.
pub async fn list_users(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<UserList>, ApiError> {
    state.authorize(&s, Action::UserAdmin, Resource::System)?;
    let db = state.store.db.clone();
    let users = blocking(move || {
        db.users()?
            .iter()
            .map(|u| user_json(&db, u))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(Json(UserList { users }))
}

/// The body of `POST /api/v1/users`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// 3 to 64 letters, digits, `.`, `_`, `-` or `@`.
    #[schema(pattern = "^[A-Za-z0-9._@-]{3,64}$", example = "alice.martin")]
    name: String,
    /// Existing role names.
    roles: Vec<String>,
    /// Optional: a random one is generated and shown once otherwise.
    #[serde(default)]
    password: Option<String>,
}

/// `POST /api/v1/users`: a personal account; the password (given, or
/// generated and returned once) must be changed at first login.
pub async fn create_user(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body<NewUser>,
) -> Result<Response, ApiError> {
    state.authorize(&s, Action::UserAdmin, Resource::System)?;
    let req = json_body(body)?;
    let account = check_new_account(&state, req.name, req.roles, req.password).await?;
    let body = insert_account(&state, &s, peer, account, None).await?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// A new account, checked and not yet stored ([`check_new_account`]).
pub(crate) struct NewAccount {
    name: String,
    roles: Vec<String>,
    password: String,
    shown: Option<String>,
    pseudonym: String,
}

impl NewAccount {
    /// The pseudonym the account will have.
    pub(crate) fn pseudonym(&self) -> &str {
        &self.pseudonym
    }
}

/// Checks a new account's name, roles and password (generating one when
/// none is given) and that the name is free; changes nothing. Every
/// account, personal or a processor's, is made through this and
/// [`insert_account`].
pub(crate) async fn check_new_account(
    state: &AppState,
    name: String,
    roles: Vec<String>,
    password: Option<String>,
) -> Result<NewAccount, ApiError> {
    let ok_name = (3..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
    if !ok_name {
        return Err(ApiError::bad_request(
            "name must be 3 to 64 letters, digits, '.', '_', '-' or '@'",
        ));
    }
    let (password, shown) = match password {
        Some(p) => {
            veil_access::password::check_new_password(&p, &name)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            (p, None)
        }
        None => {
            let p = veil_access::password::generate();
            (p.clone(), Some(p))
        }
    };
    let db = state.store.db.clone();
    let (n, r) = (name.clone(), roles.clone());
    blocking(move || {
        if let Some(missing) = {
            let known = db.roles()?;
            r.into_iter().find(|x| !known.iter().any(|k| &k.name == x))
        } {
            return Err(ApiError::bad_request(format!(
                "roles: no role is named {missing:?}"
            )));
        }
        if db.user_by_name(&n)?.is_some() {
            return Err(name_taken());
        }
        Ok(())
    })
    .await?;
    Ok(NewAccount {
        name,
        roles,
        password,
        shown,
        pseudonym: format!("u-{:016x}", rand::random::<u64>()),
    })
}

fn name_taken() -> ApiError {
    ApiError {
        status: StatusCode::CONFLICT,
        code: "conflict",
        message: "an account with this name exists".into(),
    }
}

/// Records (`user.change`, `create`) and stores an account checked by
/// [`check_new_account`]; with `processor`, a maintenance account of that
/// processor that stops working at the time given.
pub(crate) async fn insert_account(
    state: &AppState,
    s: &Session,
    peer: SocketAddr,
    account: NewAccount,
    processor: Option<(i64, Time90k)>,
) -> Result<CreatedUser, ApiError> {
    let roles = account.roles.join(",");
    let mut detail = format!("create roles={roles}");
    if let Some((p, until)) = processor {
        detail.push_str(&format!(" processor={p} expires={}", until.to_rfc3339()));
    }
    state
        .record(
            event(
                s,
                Audited::UserChange,
                format!("user:{}", account.pseudonym),
                peer,
            )
            .detail(detail),
        )
        .await?;
    let db = state.store.db.clone();
    let now = state.now();
    let (name, p2, password) = (
        account.name.clone(),
        account.pseudonym.clone(),
        account.password,
    );
    blocking(move || {
        if db.user_by_name(&name)?.is_some() {
            return Err(name_taken());
        }
        let hash = veil_access::password::hash(&password);
        let id = db
            .insert_user(&p2, &name, &hash, &roles, now)
            .map_err(|e| match e {
                veil_store::Error::Invalid(m) => ApiError::bad_request(m),
                e => ApiError::from(e),
            })?;
        if let Some((p, until)) = processor {
            // A processor's account never exists without its time limit:
            // if the limit cannot be stored, the account is disabled.
            if let Err(e) = db.set_user_processor(id, Some(p), Some(until)) {
                let _ = db.update_user(id, true, None, now);
                return Err(e.into());
            }
        }
        db.require_password_change(id)?;
        Ok(())
    })
    .await?;
    Ok(CreatedUser {
        id: account.pseudonym,
        warnings: name_warnings(&account.name),
        name: account.name,
        must_change_password: true,
        password: account.shown,
    })
}

/// A created account.
#[derive(Serialize, ToSchema)]
pub struct CreatedUser {
    /// The pseudonym.
    id: String,
    /// The login name.
    name: String,
    /// Always `true`: the password must be changed at first login.
    must_change_password: bool,
    /// E.g. a generic, shared-looking name.
    warnings: Vec<String>,
    /// The generated password, shown this once; absent when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    password: Option<String>,
}

/// The body of `PUT /api/v1/users/{id}`; absent fields are unchanged.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    /// Replaces the account's roles.
    #[serde(default)]
    #[schema(nullable = false)]
    roles: Option<Vec<String>>,
    /// Disables (ending its sessions) or enables the account.
    #[serde(default)]
    #[schema(nullable = false)]
    disabled: Option<bool>,
    /// RFC 3339, or `null` to clear.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    training_valid_until: Option<Option<String>>,
}

mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Ok(Some(Option::deserialize(d)?))
    }
}

async fn user_by_id(state: &AppState, id: &str) -> Result<UserRow, ApiError> {
    let db = state.store.db.clone();
    let id = id.to_owned();
    blocking(move || {
        db.user_by_pseudonym(&id)?
            .ok_or_else(|| ApiError::not_found("no such user"))
    })
    .await
}

/// `PUT /api/v1/users/{id}`: roles, disabled, training date.
pub async fn update_user(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    body: Body<UserChange>,
) -> Result<StatusCode, ApiError> {
    state.authorize(&s, Action::UserAdmin, Resource::System)?;
    let req = json_body(body)?;
    let user = user_by_id(&state, &id).await?;
    let training = match &req.training_valid_until {
        None => user.training_valid_until,
        Some(None) => None,
        Some(Some(t)) => Some(Time90k::parse_rfc3339(t).ok_or_else(|| {
            ApiError::bad_request(format!("training_valid_until must be RFC 3339 (got {t:?})"))
        })?),
    };
    let disabled = req.disabled.unwrap_or(user.disabled);
    if user.id == s.subject.user && disabled {
        return Err(ApiError::bad_request("you cannot disable your own account"));
    }
    let _serialised = ROLE_CHANGES.lock().await;
    if let Some(r) = &req.roles {
        let db = state.store.db.clone();
        let (names, target, caller, now) = (r.clone(), user.id, s.subject.user, state.now());
        blocking(move || check_role_change(&db, caller, now, &RoleChange::Assign(target, &names)))
            .await?;
    }
    let mut detail = vec![format!("disabled={disabled}")];
    detail.push(format!(
        "training_valid_until={}",
        training.map_or("none".into(), |t| t.to_rfc3339())
    ));
    if let Some(r) = &req.roles {
        detail.push(format!("roles={}", r.join(",")));
    }
    let action = if req.roles.is_some() {
        Audited::PermissionChange
    } else {
        Audited::UserChange
    };
    state
        .record(event(&s, action, format!("user:{id}"), peer).detail(detail.join(" ")))
        .await?;
    let db = state.store.db.clone();
    let now = state.now();
    blocking(move || {
        if let Some(r) = req.roles {
            db.set_user_roles(user.id, &r.join(","))
                .map_err(|e| match e {
                    veil_store::Error::Invalid(m) => ApiError::bad_request(m),
                    e => ApiError::from(e),
                })?;
        }
        db.update_user(user.id, disabled, training, now)?;
        if disabled {
            db.delete_sessions_of(user.id)?;
        }
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Replaces `user`'s roles with `roles` outside `PUT /api/v1/users/{id}`
/// (an access review's revocation): serialised with every other role
/// change and checked like them (never leaving no enabled account with
/// `users.admin`), recorded first as `permission.change` with `source`.
pub(crate) async fn set_roles_checked(
    state: &AppState,
    s: &Session,
    peer: SocketAddr,
    user: &UserRow,
    roles: Vec<String>,
    source: &str,
) -> Result<(), ApiError> {
    let _serialised = ROLE_CHANGES.lock().await;
    {
        let db = state.store.db.clone();
        let (names, target, caller, now) = (roles.clone(), user.id, s.subject.user, state.now());
        blocking(move || check_role_change(&db, caller, now, &RoleChange::Assign(target, &names)))
            .await?;
    }
    state
        .record(
            event(
                s,
                Audited::PermissionChange,
                format!("user:{}", user.pseudonym),
                peer,
            )
            .detail(format!("roles={} source={source}", roles.join(","))),
        )
        .await?;
    let (db, id) = (state.store.db.clone(), user.id);
    blocking(move || {
        db.set_user_roles(id, &roles.join(","))
            .map_err(|e| match e {
                veil_store::Error::Invalid(m) => ApiError::bad_request(m),
                e => ApiError::from(e),
            })
    })
    .await
}

/// The body of `POST /api/v1/session/password`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The current password.
    current: String,
    /// At least 12 characters, at most 1024 bytes, not common, without the
    /// login name, different from the current one.
    new: String,
    /// Also revoke every API token of the account (default: keep them).
    #[serde(default)]
    revoke_tokens: bool,
}

/// `POST /api/v1/session/password`: changes one's own password (required
/// at first login for accounts an administrator created). The account's
/// other sessions end in the same transaction; its API tokens are revoked
/// too when asked. The current password is throttled like a login.
pub async fn change_password(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    state.authorize(&s, Action::OwnSession, Resource::System)?;
    if s.bearer {
        return Err(ApiError::forbidden("API tokens cannot change passwords"));
    }
    let req = json_body(body)?;
    let db = state.store.db.clone();
    let uid = s.subject.user;
    let user = blocking(move || {
        db.user(uid)?
            .ok_or_else(|| ApiError::not_found("no such user"))
    })
    .await?;
    let name = user.name.clone().unwrap_or_default();
    let same = req.current == req.new;
    let addr = peer.ip().to_string();
    if let Err(wait) = state.throttles.attempt(Some(uid), &addr, state.now()) {
        return Err(crate::authn::locked_error(wait));
    }
    let ok = state
        .throttles
        .verify_password(req.current, user.password_hash.clone())
        .await?;
    if !ok {
        return Err(ApiError::forbidden("the current password is wrong"));
    }
    state.throttles.succeeded(uid, &addr);
    if same {
        return Err(ApiError::bad_request(
            "the new password must differ from the current one",
        ));
    }
    veil_access::password::check_new_password(&req.new, &name)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let revoke_tokens = req.revoke_tokens;
    state
        .record(
            event(
                &s,
                Audited::PasswordChange,
                format!("user:{}", s.subject.pseudonym),
                peer,
            )
            .detail(format!(
                "other_sessions=ended tokens={}",
                if revoke_tokens { "revoked" } else { "kept" }
            )),
        )
        .await?;
    let hash = state.throttles.hash_password(req.new).await?;
    let db = state.store.db.clone();
    let keep = s.token_hash.clone();
    let now = state.now();
    blocking(move || {
        db.change_password(uid, &hash, &keep, revoke_tokens, now)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

// --- usage policy ---

/// The current usage policy and whether the caller acknowledged it.
#[derive(Serialize, ToSchema)]
pub struct PolicyView {
    /// The current version; 0 when none is published.
    version: i64,
    /// Its text; `null` when none is published.
    text: Option<String>,
    /// When it was published (RFC 3339); absent when none is.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    published: Option<String>,
    /// Whether the caller acknowledged it (`true` when none is published).
    acknowledged: bool,
}

/// `GET /api/v1/policy`: the current usage policy and whether I acknowledged it.
pub async fn get_policy(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<PolicyView>, ApiError> {
    state.authorize(&s, Action::OwnSession, Resource::System)?;
    let db = state.store.db.clone();
    let p = blocking(move || Ok(db.current_policy()?)).await?;
    Ok(Json(match p {
        None => PolicyView {
            version: 0,
            text: None,
            published: None,
            acknowledged: true,
        },
        Some(p) => PolicyView {
            version: p.version,
            text: Some(p.text),
            published: Some(p.published_90k.to_rfc3339()),
            acknowledged: s.subject.policy_acknowledged,
        },
    }))
}

/// The body of `POST /api/v1/policy`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPolicy {
    /// At least 20 characters after trimming.
    text: String,
}

/// A published policy version.
#[derive(Serialize, ToSchema)]
pub struct PolicyVersion {
    /// The new version.
    version: i64,
}

/// `POST /api/v1/policy`: publishes a new version; everyone must
/// acknowledge it before their next video access.
pub async fn publish_policy(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body<NewPolicy>,
) -> Result<(StatusCode, Json<PolicyVersion>), ApiError> {
    state.authorize(&s, Action::UserAdmin, Resource::System)?;
    let req = json_body(body)?;
    if req.text.trim().len() < 20 {
        return Err(ApiError::bad_request(
            "the policy text must say something (at least 20 characters)",
        ));
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, req.text.as_bytes());
    let sha: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    state
        .record(event(&s, Audited::PolicyPublish, "policy", peer).detail(format!("sha256={sha}")))
        .await?;
    let db = state.store.db.clone();
    let by = s.subject.pseudonym.clone();
    let now = state.now();
    let version = blocking(move || Ok(db.publish_policy(&req.text, &by, now)?)).await?;
    Ok((StatusCode::CREATED, Json(PolicyVersion { version })))
}

/// The body of `POST /api/v1/policy/ack`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ack {
    /// The current version (so nobody acknowledges a text they have not seen).
    #[schema(minimum = 1)]
    version: i64,
}

/// `POST /api/v1/policy/ack`: acknowledges the current version (naming it,
/// so nobody acknowledges a text they have not seen).
pub async fn acknowledge_policy(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body<Ack>,
) -> Result<StatusCode, ApiError> {
    state.authorize(&s, Action::OwnSession, Resource::System)?;
    let req = json_body(body)?;
    let db = state.store.db.clone();
    let current = blocking(move || Ok(db.current_policy_version()?)).await?;
    if current == 0 || req.version != current {
        return Err(ApiError::bad_request(format!(
            "the current policy version is {current}; acknowledge that one"
        )));
    }
    state
        .record(
            event(&s, Audited::PolicyAcknowledge, "policy", peer)
                .detail(format!("version={current}")),
        )
        .await?;
    let db = state.store.db.clone();
    let uid = s.subject.user;
    blocking(move || Ok(db.acknowledge_policy(uid, current)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- four-eyes ---

/// Reads `camera:N` or `system`.
pub(crate) fn parse_resource(r: &str) -> Result<Resource, ApiError> {
    if r == "system" {
        return Ok(Resource::System);
    }
    // An evidence lock's release (`locks.release`): decided installation-wide;
    // the route checks the lock's cameras itself.
    if r.strip_prefix("lock:")
        .is_some_and(|n| n.parse::<i64>().is_ok_and(|n| n > 0))
    {
        return Ok(Resource::System);
    }
    // A processor's maintenance account (`users.admin`): installation-wide.
    if processor_resource(r).is_some() {
        return Ok(Resource::System);
    }
    // A data-subject request's package (`dsr.handle`): installation-wide.
    if request_resource(r).is_some() {
        return Ok(Resource::System);
    }
    r.strip_prefix("camera:")
        .and_then(|n| n.parse().ok())
        .map(|id| Resource::Camera {
            id: CameraId(id),
            group: None,
        })
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "resource must be \"system\", \"camera:N\", \"lock:N\", \"processor:N\" or \
                 \"request:N\" (got {r:?})"
            ))
        })
}

/// The data-subject request id of a `request:N` resource.
pub(crate) fn request_resource(r: &str) -> Option<i64> {
    r.strip_prefix("request:")
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n > 0)
}

/// Whether `permission` on `resource` needs approval because another
/// permission's four-eyes covers it: a data-subject access package
/// (`dsr.handle` on `request:N`) needs a second person wherever an export
/// does (`needed` holds `export`), approved once per request's package
/// instead of per camera.
pub fn four_eyes_through_export(permission: Action, resource: &str, needed: &[String]) -> bool {
    permission == Action::SubjectRequests
        && request_resource(resource).is_some()
        && needed.iter().any(|p| p == Action::Export.id())
}

/// The processor id of a `processor:N` resource.
pub(crate) fn processor_resource(r: &str) -> Option<i64> {
    r.strip_prefix("processor:")
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n > 0)
}

/// Actions that need a second person's approval whatever the four-eyes
/// settings say: an account for a processor's maintenance access
/// (`users.admin` on `processor:N`, seed 001 §39).
pub fn always_four_eyes(permission: Action, resource: &str) -> bool {
    permission == Action::UserAdmin && processor_resource(resource).is_some()
}

/// The body of `PUT /api/v1/settings/four-eyes`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FourEyes {
    /// Permission ids: `export`, `masks.lift`, `recordings.delete`,
    /// `locks.release`.
    permissions: Vec<String>,
}

/// The permissions that need a second person's approval, and whether a
/// route enforces each today.
#[derive(Serialize, ToSchema)]
pub struct FourEyesView {
    /// Permission ids.
    permissions: Vec<String>,
    /// For each, whether it is enforced.
    status: Vec<Enforcement>,
}

/// `GET /api/v1/settings/four-eyes`.
pub async fn get_four_eyes(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<FourEyesView>, ApiError> {
    state.authorize(&s, Action::UserAdmin, Resource::System)?;
    let db = state.store.db.clone();
    let p = blocking(move || four_eyes(&db)).await?;
    let status = p.iter().map(|p| enforcement(p)).collect();
    Ok(Json(FourEyesView {
        permissions: p,
        status,
    }))
}

/// `PUT /api/v1/settings/four-eyes`: which permissions need a second
/// person's approval.
pub async fn put_four_eyes(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body<FourEyes>,
) -> Result<StatusCode, ApiError> {
    state.authorize(&s, Action::UserAdmin, Resource::System)?;
    let req = json_body(body)?;
    for p in &req.permissions {
        let Some(action) = Action::parse(p) else {
            return Err(ApiError::bad_request(format!("unknown permission {p:?}")));
        };
        if !APPROVABLE.contains(&action) {
            return Err(ApiError::bad_request(format!(
                "{p:?} cannot need four-eyes approval: its action has no step that waits for \
                 one (approvable: {})",
                APPROVABLE
                    .iter()
                    .map(|a| a.id())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    state
        .record(
            event(&s, Audited::FourEyesChange, "settings", peer)
                .detail(format!("permissions={}", req.permissions.join(","))),
        )
        .await?;
    let db = state.store.db.clone();
    let json = serde_json::to_string(&req.permissions).map_err(ApiError::internal)?;
    blocking(move || Ok(db.set_setting(FOUR_EYES_SETTING, &json)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A four-eyes approval request.
#[derive(Serialize, ToSchema)]
pub struct ApprovalJson {
    /// Its id.
    id: i64,
    /// The requester's pseudonym.
    requester: String,
    /// The requester's login name (`null` once erased), so that the
    /// decider knows who asks.
    requester_name: Option<String>,
    /// The permission asked for.
    permission: String,
    /// `system` or `camera:N`.
    resource: String,
    /// Why it is asked for.
    justification: String,
    /// `pending`, `approved`, `rejected`, `used` or `expired`.
    state: String,
    /// RFC 3339.
    created: String,
    /// RFC 3339.
    expires: String,
    /// The decider's pseudonym, once decided.
    decided_by: Option<String>,
    /// The decider's login name, once decided (`null` once erased).
    decided_by_name: Option<String>,
    /// The decider's note.
    note: String,
}

/// Approval requests.
#[derive(Serialize, ToSchema)]
pub struct ApprovalList {
    /// The caller's own requests and those the caller may decide.
    approvals: Vec<ApprovalJson>,
}

/// An approval request's id and state after a change.
#[derive(Serialize, ToSchema)]
pub struct ApprovalState {
    /// Its id.
    id: i64,
    /// `pending`, `approved` or `rejected`.
    #[schema(value_type = String)]
    state: &'static str,
}

fn approval_json(db: &Db, a: &ApprovalRow, now: Time90k) -> Result<ApprovalJson, ApiError> {
    let who = |u: UserId| -> Result<(String, Option<String>), ApiError> {
        Ok(db
            .user(u)?
            .map(|u| (u.pseudonym, u.name))
            .unwrap_or_default())
    };
    let (requester, requester_name) = who(a.requester_id)?;
    let (decided_by, decided_by_name) = match a.decided_by {
        Some(u) => {
            let (p, n) = who(u)?;
            (Some(p), n)
        }
        None => (None, None),
    };
    let state = if matches!(a.state.as_str(), "pending" | "approved") && now >= a.expires_90k {
        "expired".to_owned()
    } else {
        a.state.clone()
    };
    Ok(ApprovalJson {
        id: a.id,
        requester,
        requester_name,
        permission: a.permission.clone(),
        resource: a.resource.clone(),
        justification: a.justification.clone(),
        state,
        created: a.created_90k.to_rfc3339(),
        expires: a.expires_90k.to_rfc3339(),
        decided_by,
        decided_by_name,
        note: a.note.clone(),
    })
}

/// The body of `POST /api/v1/approvals`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    /// A permission in the four-eyes set.
    permission: String,
    /// `system` or `camera:N`.
    resource: String,
    /// Why (required, not empty).
    justification: String,
}

/// `POST /api/v1/approvals`: asks a second person to approve a four-eyes
/// action. The requester must hold the permission there themselves.
pub async fn request_approval(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body<ApprovalRequest>,
) -> Result<(StatusCode, Json<ApprovalState>), ApiError> {
    if !Action::PERMISSIONS
        .iter()
        .any(|a| state.allowed(&s, *a, Resource::System))
    {
        return Err(ApiError::forbidden(
            "no role grants you anything to ask approval for",
        ));
    }
    let req = json_body(body)?;
    let action = Action::parse(&req.permission)
        .ok_or_else(|| ApiError::bad_request(format!("unknown permission {:?}", req.permission)))?;
    let resource = parse_resource(&req.resource)?;
    state.authorize(&s, action, resource)?;
    let db = state.store.db.clone();
    let needed = blocking(move || four_eyes(&db)).await?;
    if !needed.contains(&req.permission)
        && !always_four_eyes(action, &req.resource)
        && !four_eyes_through_export(action, &req.resource, &needed)
    {
        return Err(ApiError::bad_request(format!(
            "{} does not need approval here",
            req.permission
        )));
    }
    state
        .record(
            event(&s, Audited::ApprovalRequest, req.resource.clone(), peer)
                .detail(format!("permission={}", req.permission))
                .justification(req.justification.clone()),
        )
        .await?;
    let now = state.now();
    let row = ApprovalRow {
        id: 0,
        requester_id: s.subject.user,
        permission: req.permission,
        resource: req.resource,
        justification: req.justification,
        state: "pending".into(),
        created_90k: now,
        expires_90k: Time90k(now.0 + APPROVAL_HOURS * 3600 * TIME_UNITS_PER_SEC),
        decided_by: None,
        note: String::new(),
    };
    let db = state.store.db.clone();
    let id = blocking(move || Ok(db.insert_approval(&row)?)).await?;
    Ok((
        StatusCode::CREATED,
        Json(ApprovalState {
            id,
            state: "pending",
        }),
    ))
}

/// `GET /api/v1/approvals`: my own requests, and those I may decide.
pub async fn list_approvals(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<ApprovalList>, ApiError> {
    state.authorize(&s, Action::OwnSession, Resource::System)?;
    let db = state.store.db.clone();
    let now = state.now();
    let rows = blocking(move || Ok(db.approvals(None)?)).await?;
    let mine_or_decidable: Vec<ApprovalRow> = rows
        .into_iter()
        .filter(|a| {
            a.requester_id == s.subject.user
                || parse_resource(&a.resource).is_ok_and(|r| state.allowed(&s, Action::Approve, r))
        })
        .collect();
    let db = state.store.db.clone();
    let out = blocking(move || {
        mine_or_decidable
            .iter()
            .map(|a| approval_json(&db, a, now))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(Json(ApprovalList { approvals: out }))
}

/// The body of a decision.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// Approve (`true`) or reject.
    approve: bool,
    /// Why (required).
    note: String,
}

/// `POST /api/v1/approvals/{id}/decision`: approves or rejects; the decider
/// must be someone else holding `approve` for the resource.
pub async fn decide_approval(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    body: Body<DecisionBody>,
) -> Result<Json<ApprovalState>, ApiError> {
    state.authorize(&s, Action::Approve, Resource::System)?;
    // Ids are integers; anything else names no request.
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::not_found("no such request"))?;
    let req = json_body(body)?;
    let db = state.store.db.clone();
    let a = blocking(move || {
        db.approval(id)?
            .ok_or_else(|| ApiError::not_found("no such request"))
    })
    .await?;
    state.authorize(&s, Action::Approve, parse_resource(&a.resource)?)?;
    if a.requester_id == s.subject.user {
        return Err(ApiError::forbidden(
            "four-eyes: a request must be decided by someone other than its requester",
        ));
    }
    let now = state.now();
    if a.state != "pending" || now >= a.expires_90k {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            code: "conflict",
            message: "the request is no longer pending (decided or expired)".into(),
        });
    }
    let to = if req.approve { "approved" } else { "rejected" };
    state
        .record(
            event(&s, Audited::ApprovalDecision, a.resource.clone(), peer)
                .detail(format!(
                    "request={id} permission={} decision={to}",
                    a.permission
                ))
                .justification(req.note.clone()),
        )
        .await?;
    let db = state.store.db.clone();
    let by = s.subject.user;
    let changed = blocking(move || {
        Ok(db.transition_approval(id, "pending", to, Some(by), &req.note, now)?)
    })
    .await?;
    if !changed {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            code: "conflict",
            message: "someone else decided the request first".into(),
        });
    }
    Ok(Json(ApprovalState { id, state: to }))
}

/// For an action that needs four-eyes approval: takes the requester's
/// approved, unexpired request for `permission` on `resource` and marks it
/// used (each approval allows one action). Errors say what is missing.
pub fn use_approval(
    db: &Db,
    requester: UserId,
    permission: Action,
    resource: &str,
    now: Time90k,
) -> Result<ApprovalRow, ApiError> {
    let a = find_approval(db, requester, permission, resource, now)?;
    consume_approval(db, &a, now)?;
    Ok(a)
}

/// Marks an approval found by [`find_approval`] used (each allows one
/// action); 403 if someone used it meanwhile.
pub fn consume_approval(db: &Db, a: &ApprovalRow, now: Time90k) -> Result<(), ApiError> {
    if !db.transition_approval(a.id, "approved", "used", None, "", now)? {
        return Err(ApiError::forbidden("the approval was used already"));
    }
    Ok(())
}

/// The requester's approved, unexpired request for `permission` on
/// `resource`, not yet used (nor marked used here); errors say what is
/// missing.
pub fn find_approval(
    db: &Db,
    requester: UserId,
    permission: Action,
    resource: &str,
    now: Time90k,
) -> Result<ApprovalRow, ApiError> {
    let found = db.approvals(Some("approved"))?.into_iter().find(|a| {
        a.requester_id == requester
            && a.permission == permission.id()
            && a.resource == resource
            && now < a.expires_90k
    });
    found.ok_or_else(|| {
        ApiError::forbidden(format!(
            "{} on {resource} needs a second person's approval: POST /api/v1/approvals first",
            permission.id()
        ))
    })
}
