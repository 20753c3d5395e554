//! Authentication beyond the password: login throttling, the TOTP second
//! factor with recovery codes, a user's own sessions, and API tokens for
//! machine clients. Every change is recorded before it is made.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use veil_access::lockout::Throttle;
use veil_access::totp::{self, TotpSecret};
use veil_access::{recovery, Action, Resource};
use veil_audit::{Action as Audited, Event};
use veil_base::{Time90k, UserId, TIME_UNITS_PER_SEC};
use veil_store::db::{SecondFactorRow, TokenRow, UserRow};
use veil_store::Store;

use crate::auth::{self, Session};
use crate::error::{json_body, ApiError};
use crate::{blocking, AppState};

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

/// Issuer shown in authenticator apps.
pub const TOTP_ISSUER: &str = "Veil";

/// Most argon2 checks running at once. Each holds
/// [`veil_access::password::MEMORY_KIB`] (19 MiB), so an unauthenticated flood
/// of logins costs at most 4 × 19 MiB = 76 MiB of hashing memory and two
/// cores' worth of time; the rest wait for a permit.
pub const MAX_CONCURRENT_PASSWORD_CHECKS: usize = 4;
/// How long a password check waits for a permit before the request is
/// refused with 503.
const PASSWORD_CHECK_WAIT: Duration = Duration::from_secs(10);

/// Throttles of secret checks, kept in memory: one per existing account (by
/// id, never by the typed name) and one per client address, and the bound on
/// concurrent argon2 runs.
#[derive(Clone)]
pub struct Throttles {
    accounts: Arc<Mutex<Throttle>>,
    addresses: Arc<Mutex<Throttle>>,
    password_checks: Arc<tokio::sync::Semaphore>,
    failures: Arc<[veil_base::metrics::Counter; LoginFailure::ALL.len()]>,
}

impl Default for Throttles {
    fn default() -> Self {
        Throttles {
            accounts: Arc::default(),
            addresses: Arc::default(),
            password_checks: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_PASSWORD_CHECKS)),
            failures: Arc::default(),
        }
    }
}

/// Why a login failed, for the failure counters: a fixed set, never who.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginFailure {
    /// Wrong or unknown account name or password, or a disabled account.
    Password,
    /// A wrong or reused second-factor code.
    SecondFactor,
    /// Refused while the account or address is locked out.
    Locked,
}

impl LoginFailure {
    /// Every reason, in the order they are reported.
    pub const ALL: [LoginFailure; 3] = [
        LoginFailure::Password,
        LoginFailure::SecondFactor,
        LoginFailure::Locked,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginFailure::Password => "password",
            LoginFailure::SecondFactor => "second_factor",
            LoginFailure::Locked => "locked",
        }
    }
}

fn lock(t: &Mutex<Throttle>) -> std::sync::MutexGuard<'_, Throttle> {
    t.lock().unwrap_or_else(|p| p.into_inner())
}

impl Throttles {
    /// Counts an attempt to check a secret of `user` (when the account
    /// exists) from `addr`, before the check runs: `Err(wait)` while either
    /// is locked out. Checked and counted under the locks, so 50 parallel
    /// guesses get at most the free attempts through. The attempt stays a
    /// failure unless [`Throttles::succeeded`] or [`Throttles::refund`] follows.
    pub fn attempt(&self, user: Option<UserId>, addr: &str, now: Time90k) -> Result<(), Duration> {
        let mut addresses = lock(&self.addresses);
        let mut accounts = lock(&self.accounts);
        let a = addresses.check(addr, now).err();
        let u = user.and_then(|u| accounts.check(&u.0.to_string(), now).err());
        if let Some(wait) = a.max(u) {
            return Err(wait);
        }
        addresses.failure(addr, now);
        if let Some(u) = user {
            accounts.failure(&u.0.to_string(), now);
        }
        Ok(())
    }

    /// Takes back an attempt that was not a failure (a correct password
    /// whose login continues with its second step).
    pub fn refund(&self, user: UserId, addr: &str) {
        lock(&self.addresses).refund(addr);
        lock(&self.accounts).refund(&user.0.to_string());
    }

    /// A successful check: the account's failures are forgotten, and the
    /// address's attempt is taken back.
    pub fn succeeded(&self, user: UserId, addr: &str) {
        lock(&self.addresses).refund(addr);
        lock(&self.accounts).success(&user.0.to_string());
    }

    /// Counts a failed login.
    pub fn count_failure(&self, why: LoginFailure) {
        self.failures[why as usize].inc();
    }

    /// How many accounts and client addresses have failed logins counted
    /// now (the login attempts data set, in memory only).
    pub fn tracked(&self) -> usize {
        lock(&self.accounts).tracked_keys() + lock(&self.addresses).tracked_keys()
    }

    /// Failed logins since the server started, per reason.
    pub fn failures(&self) -> Vec<(LoginFailure, u64)> {
        LoginFailure::ALL
            .iter()
            .map(|r| (*r, self.failures[*r as usize].get()))
            .collect()
    }

    /// Runs an argon2 computation on a blocking thread, at most
    /// [`MAX_CONCURRENT_PASSWORD_CHECKS`] at a time; 503 after waiting
    /// [`PASSWORD_CHECK_WAIT`] for a turn.
    async fn argon2<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = tokio::time::timeout(
            PASSWORD_CHECK_WAIT,
            self.password_checks.clone().acquire_owned(),
        )
        .await
        .map_err(|_| ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "busy",
            message: "too many password checks at once; try again shortly".into(),
        })?
        .map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(ApiError::internal)
    }

    /// Checks `password` against the argon2 `hash`, at most
    /// [`MAX_CONCURRENT_PASSWORD_CHECKS`] at a time.
    pub async fn verify_password(&self, password: String, hash: String) -> Result<bool, ApiError> {
        let password = zeroize::Zeroizing::new(password);
        self.argon2(move || veil_access::password::verify(&password, &hash))
            .await
    }

    /// Hashes a new password, at most [`MAX_CONCURRENT_PASSWORD_CHECKS`]
    /// argon2 runs at a time.
    pub async fn hash_password(&self, password: String) -> Result<String, ApiError> {
        let password = zeroize::Zeroizing::new(password);
        self.argon2(move || veil_access::password::hash(&password))
            .await
    }
}

/// A 429 that says how long to wait.
pub fn locked_error(wait: Duration) -> ApiError {
    ApiError {
        status: StatusCode::TOO_MANY_REQUESTS,
        code: "locked",
        message: format!(
            "too many failed attempts; try again in {} s",
            wait.as_secs().max(1)
        ),
    }
}

/// What the second step of a login found.
pub enum SecondStep {
    /// Nothing needed, or a valid code.
    Passed,
    /// The account has a second factor and no code was sent.
    Missing,
    /// A code was sent and is wrong (or replayed).
    Wrong,
}

/// Checks the second factor of `user` at login: a TOTP code (replays
/// refused) or a one-time recovery code (used up). Blocking.
pub fn check_second_factor(
    store: &Store,
    user: &UserRow,
    code: Option<&str>,
    recovery_code: Option<&str>,
    now: Time90k,
) -> Result<SecondStep, ApiError> {
    let db = &store.db;
    let f = db.second_factor(user.id)?;
    let Some(sealed) = &f.totp_sealed else {
        return Ok(SecondStep::Passed);
    };
    // A code is used up by one conditional update; only the caller whose
    // update changed the row passes, so a code raced by two logins (or
    // replayed) lets exactly one in.
    if let Some(rc) = recovery_code {
        let mut hashes: Vec<String> =
            serde_json::from_str(&f.recovery_hashes).map_err(ApiError::internal)?;
        return Ok(match recovery::verify_recovery_code(rc, &hashes) {
            Some(i) => {
                hashes.remove(i);
                let left = serde_json::to_string(&hashes).map_err(ApiError::internal)?;
                if db.consume_recovery_code(user.id, &f.recovery_hashes, &left)? {
                    SecondStep::Passed
                } else {
                    SecondStep::Wrong
                }
            }
            None => SecondStep::Wrong,
        });
    }
    let Some(code) = code else {
        return Ok(SecondStep::Missing);
    };
    let secret = open_secret(store, user.id, sealed)?;
    let unix = now.0.div_euclid(TIME_UNITS_PER_SEC);
    Ok(match totp::verify(&secret, code, unix, f.totp_last_step) {
        Some(step) if db.consume_totp_step(user.id, step)? => SecondStep::Passed,
        _ => SecondStep::Wrong,
    })
}

fn open_secret(store: &Store, user: UserId, sealed: &[u8]) -> Result<TotpSecret, ApiError> {
    let text = store
        .keys()
        .open_user_secret(user, sealed)
        .map_err(ApiError::internal)?;
    let text = std::str::from_utf8(&text).map_err(ApiError::internal)?;
    TotpSecret::from_base32(text)
        .ok_or_else(|| ApiError::internal("stored TOTP seed is unreadable"))
}

fn event(s: &Session, action: Audited, resource: impl Into<String>, peer: SocketAddr) -> Event {
    Event::new(s.subject.pseudonym.clone(), action, resource).client(peer.ip())
}

fn own(s: &Session) -> String {
    format!("user:{}", s.subject.pseudonym)
}

// --- TOTP ---

/// A pending TOTP enrolment.
#[derive(Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// The seed, base32.
    secret: String,
    /// `otpauth://totp/…` for authenticator apps.
    otpauth_uri: String,
    /// The URI as a QR code (SVG).
    qr_svg: String,
}

/// `POST /api/v1/session/totp`: starts enrolment. Returns the seed, the
/// `otpauth://` URI and its QR code (SVG, drawn here); nothing changes until
/// a first code confirms it.
pub async fn totp_begin(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<TotpEnrolment>, ApiError> {
    state.authorize(&s, Action::OwnSession, Resource::System)?;
    if s.bearer {
        return Err(ApiError::forbidden(
            "API tokens cannot manage second factors",
        ));
    }
    let secret = TotpSecret::generate();
    let b32 = secret.to_base32();
    let uri = totp::otpauth_uri(&secret, TOTP_ISSUER, &s.display_name);
    let svg = totp::qr_svg(&uri).map_err(ApiError::internal)?;
    let store = state.store.clone();
    let uid = s.subject.user;
    let sealed = store.keys().seal_user_secret(uid, b32.as_bytes());
    blocking(move || {
        let mut f = store.db.second_factor(uid)?;
        if f.totp_sealed.is_some() {
            return Err(ApiError {
                status: StatusCode::CONFLICT,
                code: "conflict",
                message: "a second factor is enrolled already; remove it first".into(),
            });
        }
        f.totp_pending_sealed = Some(sealed);
        store.db.set_second_factor(uid, &f)?;
        Ok(())
    })
    .await?;
    Ok(Json(TotpEnrolment {
        secret: b32,
        otpauth_uri: uri,
        qr_svg: svg,
    }))
}

/// A code from the authenticator.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Code {
    /// The authenticator's current 6-digit code.
    #[schema(example = "123456")]
    code: String,
}

/// One-time recovery codes, shown once.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten codes, `xxxx-xxxx-xxxx-xxxx`.
    recovery_codes: Vec<String>,
}

/// `POST /api/v1/session/totp/confirm`: activates the enrolment with a first
/// code and returns ten one-time recovery codes, shown this once.
pub async fn totp_confirm(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body<Code>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    state.authorize(&s, Action::OwnSession, Resource::System)?;
    if s.bearer {
        return Err(ApiError::forbidden(
            "API tokens cannot manage second factors",
        ));
    }
    let req = json_body(body)?;
    let store = state.store.clone();
    let uid = s.subject.user;
    let now = state.now();
    let (mut f, step) = blocking(move || {
        let f = store.db.second_factor(uid)?;
        let pending = f
            .totp_pending_sealed
            .clone()
            .ok_or_else(|| ApiError::bad_request("start with POST /api/v1/session/totp"))?;
        let secret = open_secret(&store, uid, &pending)?;
        let step = totp::verify(
            &secret,
            &req.code,
            now.0.div_euclid(TIME_UNITS_PER_SEC),
            None,
        )
        .ok_or_else(|| {
            ApiError::bad_request(
                "the code does not match; check the device's clock and try the next code",
            )
        })?;
        Ok((f, step))
    })
    .await?;
    state
        .record(event(&s, Audited::UserChange, own(&s), peer).detail("second_factor=enrolled"))
        .await?;
    let codes = recovery::generate_recovery_codes(recovery::DEFAULT_COUNT);
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| recovery::hash_recovery_code(c))
        .collect();
    f.totp_sealed = f.totp_pending_sealed.take();
    f.totp_last_step = Some(step);
    f.recovery_hashes = serde_json::to_string(&hashes).map_err(ApiError::internal)?;
    let db = state.store.db.clone();
    blocking(move || Ok(db.set_second_factor(uid, &f)?)).await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// `DELETE /api/v1/session/totp`: removes one's second factor (with a
/// current code), unless a role requires one.
pub async fn totp_remove(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body<Code>,
) -> Result<StatusCode, ApiError> {
    state.authorize(&s, Action::OwnSession, Resource::System)?;
    if s.bearer {
        return Err(ApiError::forbidden(
            "API tokens cannot manage second factors",
        ));
    }
    if s.subject.roles.iter().any(|r| r.require_second_factor) {
        return Err(ApiError::forbidden(
            "a role you hold requires a second factor",
        ));
    }
    let req = json_body(body)?;
    let store = state.store.clone();
    let uid = s.subject.user;
    let now = state.now();
    let user = blocking({
        let store = store.clone();
        move || {
            store
                .db
                .user(uid)?
                .ok_or_else(|| ApiError::not_found("no such user"))
        }
    })
    .await?;
    // A stolen session cannot guess the code unthrottled.
    let addr = peer.ip().to_string();
    if let Err(wait) = state.throttles.attempt(Some(uid), &addr, now) {
        return Err(locked_error(wait));
    }
    let ok =
        blocking(move || check_second_factor(&store, &user, Some(&req.code), None, now)).await?;
    if !matches!(ok, SecondStep::Passed) {
        return Err(ApiError::bad_request("the code does not match"));
    }
    state.throttles.succeeded(uid, &addr);
    state
        .record(event(&s, Audited::UserChange, own(&s), peer).detail("second_factor=removed"))
        .await?;
    let db = state.store.db.clone();
    blocking(move || Ok(db.set_second_factor(uid, &SecondFactorRow::default())?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- sessions ---

/// One of the caller's sessions (never its token).
#[derive(Serialize, ToSchema)]
pub struct SessionInfo {
    /// The first 16 hex digits of the SHA-256 of the session token.
    id: String,
    /// RFC 3339.
    created: String,
    /// RFC 3339.
    last_seen: String,
    /// The absolute end, RFC 3339 (the idle limit applies too).
    expires: String,
    /// The session making the request.
    current: bool,
}

/// The caller's sessions, newest first.
#[derive(Serialize, ToSchema)]
pub struct SessionList {
    /// The sessions.
    sessions: Vec<SessionInfo>,
}

/// `GET /api/v1/sessions`: my sessions (ids, never tokens).
pub async fn list_sessions(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<SessionList>, ApiError> {
    state.authorize(&s, Action::OwnSession, Resource::System)?;
    let db = state.store.db.clone();
    let uid = s.subject.user;
    let rows = blocking(move || Ok(db.sessions_of(uid)?)).await?;
    let current: String = s
        .token_hash
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let sessions = rows
        .into_iter()
        .map(|r| SessionInfo {
            current: r.id == current,
            id: r.id,
            created: r.created_90k.to_rfc3339(),
            last_seen: r.last_seen_90k.to_rfc3339(),
            expires: r.expires_90k.to_rfc3339(),
        })
        .collect();
    Ok(Json(SessionList { sessions }))
}

/// `DELETE /api/v1/sessions/{id}`: ends one of my sessions.
pub async fn revoke_session(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.authorize(&s, Action::OwnSession, Resource::System)?;
    state
        .record(event(&s, Audited::Logout, "session", peer).detail(format!("revoked={id}")))
        .await?;
    let db = state.store.db.clone();
    let uid = s.subject.user;
    if blocking(move || Ok(db.delete_session_by_id(uid, &id)?)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no such session"))
    }
}

/// How many sessions ended.
#[derive(Serialize, ToSchema)]
pub struct Revoked {
    /// Sessions ended.
    revoked: u64,
}

/// `DELETE /api/v1/users/{id}/sessions`: an administrator ends every session
/// of a user.
pub async fn revoke_user_sessions(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    state.authorize(&s, Action::UserAdmin, Resource::System)?;
    let user = user_by_pseudonym(&state, &id).await?;
    state
        .record(
            event(&s, Audited::UserChange, format!("user:{id}"), peer).detail("sessions=revoked"),
        )
        .await?;
    let db = state.store.db.clone();
    let n = blocking(move || Ok(db.delete_sessions_of(user.id)?)).await?;
    Ok(Json(Revoked { revoked: n as u64 }))
}

/// The account with pseudonym `id`, or 404.
async fn user_by_pseudonym(state: &AppState, id: &str) -> Result<UserRow, ApiError> {
    let db = state.store.db.clone();
    let pid = id.to_owned();
    blocking(move || {
        db.user_by_pseudonym(&pid)?
            .ok_or_else(|| ApiError::not_found("no such user"))
    })
    .await
}

/// The body of `POST /api/v1/users/{id}/second-factor/reset`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetSecondFactor {
    /// Why (required, 1 to 1000 characters): e.g. the phone was lost and the
    /// person was identified in person.
    justification: String,
}

/// Longest justification of a second-factor reset.
const MAX_JUSTIFICATION: usize = 1000;

/// `POST /api/v1/users/{id}/second-factor/reset`: an administrator removes
/// another account's second factor (seed, pending enrolment, recovery codes)
/// with a justification, recorded in the access record first, and ends the
/// account's sessions. A role that requires a second factor then makes the
/// person enrol again before anything else.
pub async fn reset_second_factor(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    body: Body<ResetSecondFactor>,
) -> Result<StatusCode, ApiError> {
    state.authorize(&s, Action::UserAdmin, Resource::System)?;
    let req = json_body(body)?;
    let justification = req.justification.trim().to_owned();
    if justification.is_empty() {
        return Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "justification_required",
            message: "say why the second factor is reset".into(),
        });
    }
    if justification.chars().count() > MAX_JUSTIFICATION {
        return Err(ApiError::bad_request(format!(
            "the justification must be at most {MAX_JUSTIFICATION} characters"
        )));
    }
    let user = user_by_pseudonym(&state, &id).await?;
    if user.id == s.subject.user {
        return Err(ApiError::bad_request(
            "you cannot reset your own second factor here; remove it on your account page \
             with a current code",
        ));
    }
    state
        .record(
            event(&s, Audited::UserChange, format!("user:{id}"), peer)
                .detail("second_factor=reset sessions=ended")
                .justification(justification),
        )
        .await?;
    let db = state.store.db.clone();
    blocking(move || {
        db.set_second_factor(user.id, &SecondFactorRow::default())?;
        db.delete_sessions_of(user.id)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

// --- API tokens ---

/// The body of `POST /api/v1/tokens`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// 1 to 100 characters, not blank.
    name: String,
    /// At least one, each held by the caller.
    roles: Vec<String>,
    /// 1 to 365.
    #[schema(minimum = 1, maximum = 365)]
    expires_in_days: u32,
}

/// A created token, shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    /// Its id.
    id: i64,
    /// `veil_` and 43 base64url characters; send as `Authorization: Bearer`.
    token: String,
    /// RFC 3339.
    expires: String,
}

/// An API token (never its value).
#[derive(Serialize, ToSchema)]
pub struct TokenInfo {
    /// Its id.
    id: i64,
    /// The owner's pseudonym (only in the administrators' listing,
    /// `?all=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    owner: Option<String>,
    /// The owner's login name (only with `?all=true`; absent once erased).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    owner_name: Option<String>,
    /// Its name.
    name: String,
    /// The roles it carries.
    roles: Vec<String>,
    /// RFC 3339.
    created: String,
    /// RFC 3339.
    expires: String,
    /// Revoked tokens stay listed.
    revoked: bool,
}

/// API tokens: the caller's, or every account's (`?all=true`).
#[derive(Serialize, ToSchema)]
pub struct TokenList {
    /// The tokens.
    tokens: Vec<TokenInfo>,
}

/// Longest token lifetime.
pub const MAX_TOKEN_DAYS: u32 = 365;

/// `POST /api/v1/tokens`: a token for a machine client carrying a subset of
/// my roles, shown this once (only its hash is stored).
pub async fn create_token(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    state.authorize(&s, Action::OwnSession, Resource::System)?;
    if s.bearer {
        return Err(ApiError::forbidden("API tokens cannot create tokens"));
    }
    // A token must not be a way around the first-login steps: it would
    // carry the account's rights without them.
    if s.subject.must_change_password {
        return Err(ApiError::forbidden(
            "change your password before creating an API token",
        ));
    }
    if s.subject.second_factor_missing {
        return Err(ApiError::forbidden(
            "enrol a second factor before creating an API token",
        ));
    }
    let req = json_body(body)?;
    if req.name.trim().is_empty() || req.name.len() > 100 {
        return Err(ApiError::bad_request("name must be 1 to 100 characters"));
    }
    if req.expires_in_days == 0 || req.expires_in_days > MAX_TOKEN_DAYS {
        return Err(ApiError::bad_request(format!(
            "expires_in_days must be 1 to {MAX_TOKEN_DAYS}"
        )));
    }
    if req.roles.is_empty() {
        return Err(ApiError::bad_request("a token needs at least one role"));
    }
    for r in &req.roles {
        if !s.subject.roles.iter().any(|h| &h.name == r) {
            return Err(ApiError::forbidden(format!(
                "you do not hold role {r:?}; a token carries a subset of your roles"
            )));
        }
    }
    let roles = req.roles.join(",");
    state
        .record(
            event(&s, Audited::TokenChange, own(&s), peer)
                .detail(format!("create roles={roles} days={}", req.expires_in_days)),
        )
        .await?;
    let token = format!("veil_{}", auth::new_token());
    let hash = auth::token_hash(&token);
    let now = state.now();
    let row = TokenRow {
        id: 0,
        user_id: s.subject.user,
        name: req.name,
        roles,
        created_90k: now,
        expires_90k: Time90k(now.0 + i64::from(req.expires_in_days) * 86_400 * TIME_UNITS_PER_SEC),
        revoked: false,
    };
    let expires = row.expires_90k;
    let db = state.store.db.clone();
    let id = blocking(move || Ok(db.insert_token(&row, &hash)?)).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            id,
            token,
            expires: expires.to_rfc3339(),
        }),
    ))
}

/// `GET /api/v1/tokens`: my tokens (never their values); with `?all=true`,
/// every account's, with their owners (user administrators only).
pub async fn list_tokens(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<TokenList>, ApiError> {
    state.authorize(&s, Action::OwnSession, Resource::System)?;
    if let Some(k) = q.keys().find(|k| k.as_str() != "all") {
        return Err(ApiError::bad_request(format!("unknown parameter {k:?}")));
    }
    let all = match q.get("all").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "all must be true or false (got {v:?})"
            )))
        }
    };
    if all {
        state.authorize(&s, Action::UserAdmin, Resource::System)?;
    }
    let db = state.store.db.clone();
    let uid = s.subject.user;
    let rows = blocking(move || {
        if !all {
            let rows = db.tokens_of(uid)?;
            return Ok(rows.into_iter().map(|t| (t, None)).collect::<Vec<_>>());
        }
        let users: HashMap<UserId, UserRow> = db.users()?.into_iter().map(|u| (u.id, u)).collect();
        Ok(db
            .all_tokens()?
            .into_iter()
            .map(|t| {
                let owner = users.get(&t.user_id).cloned();
                (t, owner)
            })
            .collect())
    })
    .await?;
    let tokens = rows
        .into_iter()
        .map(|(t, owner)| TokenInfo {
            id: t.id,
            owner: owner.as_ref().map(|u| u.pseudonym.clone()),
            owner_name: owner.and_then(|u| u.name),
            roles: t.roles.split(',').map(str::to_owned).collect(),
            name: t.name,
            created: t.created_90k.to_rfc3339(),
            expires: t.expires_90k.to_rfc3339(),
            revoked: t.revoked,
        })
        .collect();
    Ok(Json(TokenList { tokens }))
}

/// `DELETE /api/v1/tokens/{id}`: revokes one of my tokens, or, for a user
/// administrator, anyone's.
pub async fn revoke_token(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.authorize(&s, Action::OwnSession, Resource::System)?;
    // Ids are integers; anything else names no token.
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::not_found("no such token"))?;
    let db = state.store.db.clone();
    let found = blocking(move || {
        let Some(t) = db.token(id)? else {
            return Ok(None);
        };
        Ok(db.user(t.user_id)?.map(|u| (t.user_id, u.pseudonym)))
    })
    .await?;
    let uid = s.subject.user;
    let owner = match found {
        Some((owner, _)) if owner == uid => owner,
        // Someone else's token: only a user administrator learns it exists.
        Some((owner, pseudonym)) if state.allowed(&s, Action::UserAdmin, Resource::System) => {
            state
                .record(
                    event(&s, Audited::TokenChange, format!("user:{pseudonym}"), peer)
                        .detail(format!("revoke id={id}")),
                )
                .await?;
            let (db, now) = (state.store.db.clone(), state.now());
            blocking(move || Ok(db.revoke_token(owner, id, now)?)).await?;
            return Ok(StatusCode::NO_CONTENT);
        }
        _ => uid,
    };
    state
        .record(event(&s, Audited::TokenChange, own(&s), peer).detail(format!("revoke id={id}")))
        .await?;
    let (db, now) = (state.store.db.clone(), state.now());
    if blocking(move || Ok(db.revoke_token(owner, id, now)?)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no such token"))
    }
}

/// The session an API token stands for: its user with the token's roles
/// (those the user still holds), or `None` if it is unknown, revoked,
/// expired or its user is disabled or past its time limit. Blocking.
pub fn token_session(
    store: &Store,
    token: &str,
    now: Time90k,
) -> Result<Option<Session>, ApiError> {
    token_session_by_hash(store, auth::token_hash(token), now)
}

/// The pseudonym and refusal reason (`account_disabled`,
/// `account_expired`) when `token` is a live token of a disabled or
/// expired account: the use the breach register watches. Such a token is
/// revoked here, so it is refused (and recorded) once.
pub fn refused_token_account(
    store: &Store,
    token: &str,
    now: Time90k,
) -> Result<Option<(String, &'static str)>, ApiError> {
    let db = &store.db;
    let Some(t) = db.token_by_hash(&auth::token_hash(token))? else {
        return Ok(None);
    };
    if t.revoked || now >= t.expires_90k {
        return Ok(None);
    }
    let Some(user) = db.user(t.user_id)? else {
        return Ok(None);
    };
    let refused = if user.disabled {
        Some((user.pseudonym, "account_disabled"))
    } else if user.expired(now) {
        Some((user.pseudonym, "account_expired"))
    } else {
        None
    };
    if refused.is_some() {
        // The token ends at this use (recorded once by the caller), so a
        // leftover token cannot fill the record with refusals.
        db.revoke_token(t.user_id, t.id, now)?;
    }
    Ok(refused)
}

/// [`token_session`] by the token's hash.
pub fn token_session_by_hash(
    store: &Store,
    hash: Vec<u8>,
    now: Time90k,
) -> Result<Option<Session>, ApiError> {
    let db = &store.db;
    let Some(t) = db.token_by_hash(&hash)? else {
        return Ok(None);
    };
    if t.revoked || now >= t.expires_90k {
        return Ok(None);
    }
    let Some(user) = db.user(t.user_id)? else {
        return Ok(None);
    };
    if user.disabled || user.expired(now) {
        return Ok(None);
    }
    let mut subject = crate::roles::subject_for(db, &user)?;
    let carried: Vec<&str> = t.roles.split(',').collect();
    // Only the roles the token carries. The account's pending first-login
    // steps (password change, second factor) still apply: a token never
    // clears them.
    subject.roles.retain(|r| carried.contains(&r.name.as_str()));
    Ok(Some(Session {
        subject,
        display_name: user.name.clone().unwrap_or_default(),
        token_hash: hash,
        bearer: true,
        language: user.language,
    }))
}

/// `Response` for a failed second step.
pub fn second_factor_needed() -> Response {
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        code: "second_factor_required",
        message: "enter the code from your authenticator app (or a recovery code)".into(),
    }
    .into_response()
}

/// The body of `PUT /api/v1/session/language`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LanguageChoice {
    /// `en` or `pt`; `null` to follow the browser's `Accept-Language`.
    language: Option<String>,
}

/// `PUT /api/v1/session/language`: the language of my web client.
pub async fn set_language(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    body: Body<LanguageChoice>,
) -> Result<StatusCode, ApiError> {
    state.authorize(&s, Action::OwnSession, Resource::System)?;
    let req = json_body(body)?;
    let lang = match req.language.as_deref() {
        None => None,
        Some(tag) => Some(crate::i18n::Lang::parse(tag).ok_or_else(|| {
            ApiError::bad_request(format!(
                "unsupported language {tag:?}: use one of {}",
                crate::i18n::Lang::ALL.map(|l| l.tag()).join(", ")
            ))
        })?),
    };
    let db = state.store.db.clone();
    let uid = s.subject.user;
    blocking(move || Ok(db.set_user_language(uid, lang.map(|l| l.tag()))?)).await?;
    Ok(StatusCode::NO_CONTENT)
}
