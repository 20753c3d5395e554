//! Sessions, CSRF and the one authorisation function.
//!
//! A session token is 32 random bytes sent only in an HttpOnly, Secure,
//! SameSite=Strict cookie; the database keeps only its SHA-256. Every
//! state-changing request must echo the session's CSRF token in `X-CSRF-Token`.
//! [`require_session`] runs before every route except the public ones listed in
//! [`is_public`]; handlers then call [`AppState::authorize`], which asks the
//! policy engine.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use rand::RngCore;
use veil_access::{Action, Resource, Subject};

use crate::error::ApiError;
use crate::AppState;

/// Session cookie name.
pub const SESSION_COOKIE: &str = "veil_session";
/// CSRF cookie name (readable by the page's script).
pub const CSRF_COOKIE: &str = "veil_csrf";
/// The header that must carry the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The signed-in caller, put into request extensions by [`require_session`].
#[derive(Clone, Debug)]
pub struct Session {
    /// Who.
    pub subject: Subject,
    /// Login name (for display only; never logged or recorded).
    pub display_name: String,
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// Authenticated by an API token (`Authorization: Bearer`), not a cookie:
    /// no CSRF check, and no managing of credentials.
    pub bearer: bool,
    /// The language the user chose for the web client, if any.
    pub language: Option<String>,
}

/// Routes anyone may call: login, health, static assets and the login page.
pub fn is_public(method: &Method, path: &str) -> bool {
    matches!(
        (method, path),
        (&Method::POST, "/api/v1/session")
            | (&Method::GET | &Method::HEAD, "/api/v1/health")
            | (&Method::GET, "/login")
    ) || (method == Method::GET && path.starts_with("/static/"))
}

/// A fresh random token, base64url.
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// SHA-256 of a token: what the database stores.
pub fn token_hash(token: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
        .as_ref()
        .to_vec()
}

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether a refused request to `path` gets a JSON 401 (the API and the
/// metrics a scraper reads) rather than a redirect to the login page.
fn answers_json(path: &str) -> bool {
    path.starts_with("/api/") || path == "/metrics"
}

/// Middleware: resolves the session, refuses anonymous callers of non-public
/// routes (401 for the API and `/metrics`, a redirect to the login page for
/// pages), and checks the CSRF token on state-changing requests.
pub async fn require_session(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let session = match (bearer, cookie(req.headers(), SESSION_COOKIE)) {
        (Some(token), _) => {
            let store = state.store.clone();
            let now = state.now();
            let (store2, token2) = (store.clone(), token.clone());
            match crate::blocking(move || crate::authn::token_session(&store, &token, now)).await {
                Ok(None) if answers_json(&path) => {
                    if let Ok(Some((actor, reason))) = crate::blocking(move || {
                        crate::authn::refused_token_account(&store2, &token2, now)
                    })
                    .await
                    {
                        state.record_refusal(
                            &actor,
                            "session".into(),
                            format!("reason={reason} credential=token"),
                        );
                    }
                    return ApiError {
                        status: StatusCode::UNAUTHORIZED,
                        code: "bad_token",
                        message: "the API token is unknown, revoked or expired".into(),
                    }
                    .into_response();
                }
                Ok(s) => s,
                Err(e) => return e.into_response(),
            }
        }
        (None, Some(token)) => match state.load_session(token).await {
            Ok(s) => s,
            Err(e) => return e.into_response(),
        },
        (None, None) => None,
    };
    match session {
        Some(s) => {
            let safe = matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
            if !safe && !s.bearer && !is_public(&method, &path) {
                let sent = req
                    .headers()
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let want = state.csrf_for(&s.token_hash).await.unwrap_or_default();
                if want.is_empty() || !constant_time_eq(sent.as_bytes(), want.as_bytes()) {
                    return ApiError {
                        status: StatusCode::FORBIDDEN,
                        code: "csrf",
                        message: "missing or wrong X-CSRF-Token header".into(),
                    }
                    .into_response();
                }
            }
            req.extensions_mut().insert(s);
            next.run(req).await
        }
        None if is_public(&method, &path) => next.run(req).await,
        None if answers_json(&path) => ApiError::unauthenticated().into_response(),
        None => Redirect::to("/login").into_response(),
    }
}

impl AppState {
    /// The one authorisation function: asks the policy engine and turns a denial
    /// into 403 with its reason.
    pub fn authorize(
        &self,
        s: &Session,
        action: Action,
        resource: Resource,
    ) -> Result<(), ApiError> {
        let named = resource_id(&resource);
        let d = self.decide(s, action, resource);
        if d.allowed {
            Ok(())
        } else {
            tracing::info!(actor = %s.subject.pseudonym, ?action, reason = %d.reason, "denied");
            if d.outside_hours {
                self.record_refusal(
                    &s.subject.pseudonym,
                    named,
                    format!("reason=outside_hours permission={}", action.id()),
                );
            }
            Err(ApiError::forbidden(d.reason))
        }
    }

    /// Whether `s` may do `action` on `resource` now, for filtering lists
    /// (the same policy call as [`AppState::authorize`], without the error).
    pub fn allowed(&self, s: &Session, action: Action, resource: Resource) -> bool {
        self.decide(s, action, resource).allowed
    }

    fn decide(&self, s: &Session, action: Action, resource: Resource) -> veil_access::Decision {
        veil_access::decide(&s.subject, action, &resource, self.clock.now())
    }

    /// Records a refusal the breach register watches (`access.denied`,
    /// `veil_audit::signals`) without holding up the answer: the request is
    /// refused whether or not the entry can be written (a failure is
    /// logged).
    pub fn record_refusal(&self, actor: &str, resource: String, detail: String) {
        let e = veil_audit::Event::new(actor, veil_audit::Action::AccessDenied, resource)
            .outcome(veil_audit::Outcome::Denied)
            .detail(detail);
        let audit = self.audit.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn_blocking(move || {
                if let Err(e) = audit.append(e) {
                    tracing::error!(error = %e, "could not record a refusal");
                }
            });
        }
    }
}

/// A resource as the access record names it (`system`, `camera:ID`).
pub fn resource_id(r: &Resource) -> String {
    match r {
        Resource::System => "system".into(),
        Resource::Camera { id, .. } | Resource::Recording { camera: id, .. } => {
            format!("camera:{id}")
        }
    }
}
