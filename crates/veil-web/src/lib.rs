//! Veil's HTTP(S) face: the JSON API, sessions and CSRF, live view over
//! WebSocket, MP4 playback with ranges, and the server-rendered UI.
//!
//! It knows HTTP and JSON; it never runs SQL or touches codecs' internals: it asks
//! the store, the access record and the policy engine.

pub mod api;
pub mod auth;
pub mod cameras;
pub mod error;
pub mod live;
pub mod pages;
pub mod range;
pub mod tls;
pub mod ui;

use std::net::SocketAddr;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use veil_audit::AccessRecord;
use veil_base::{SharedClock, Time90k, TIME_UNITS_PER_SEC};
use veil_store::recorder::LiveHub;
use veil_store::Store;

use crate::auth::Session;
use crate::error::ApiError;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Everything a request handler may use.
#[derive(Clone)]
pub struct AppState {
    /// Storage.
    pub store: Store,
    /// Live frames.
    pub live: LiveHub,
    /// The access record.
    pub audit: AccessRecord,
    /// The clock.
    pub clock: SharedClock,
    /// Session lifetimes.
    pub sessions: SessionPolicy,
    /// Camera ingest: start/stop on camera changes, status.
    pub ingest: veil_ingest::Supervisor,
}

/// How long sessions last.
#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    /// Ends a session with no request for this long.
    pub idle_90k: i64,
    /// Ends any session this long after login.
    pub absolute_90k: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle_90k: 30 * 60 * TIME_UNITS_PER_SEC,
            absolute_90k: 12 * 3600 * TIME_UNITS_PER_SEC,
        }
    }
}

/// Runs a blocking closure (database work) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

impl AppState {
    /// Looks a session token up; expired sessions are deleted and yield `None`.
    pub async fn load_session(&self, token: &str) -> Result<Option<Session>, ApiError> {
        let hash = auth::token_hash(token);
        let db = self.store.db.clone();
        let now = self.clock.now();
        let policy = self.sessions;
        blocking(move || {
            let Some(row) = db.session(&hash)? else {
                return Ok(None);
            };
            if now >= row.expires_90k || now.0 - row.last_seen_90k.0 > policy.idle_90k {
                db.delete_session(&hash)?;
                return Ok(None);
            }
            let Some(user) = db.user(row.user_id)? else {
                return Ok(None);
            };
            if user.disabled {
                return Ok(None);
            }
            db.touch_session(&hash, now)?;
            Ok(Some(Session {
                subject: veil_access::Subject {
                    user: user.id,
                    pseudonym: user.pseudonym,
                    roles: vec![user.role],
                    disabled: user.disabled,
                },
                display_name: user.name.unwrap_or_default(),
                token_hash: hash,
            }))
        })
        .await
    }

    /// The CSRF token bound to a session.
    pub async fn csrf_for(&self, token_hash: &[u8]) -> Option<String> {
        let db = self.store.db.clone();
        let h = token_hash.to_vec();
        blocking(move || Ok(db.session(&h)?.map(|s| s.csrf_token)))
            .await
            .ok()
            .flatten()
    }

    /// Appends to the access record on a blocking thread; any failure refuses
    /// the action with 503.
    pub async fn record(&self, e: veil_audit::Event) -> Result<(), ApiError> {
        let audit = self.audit.clone();
        tokio::task::spawn_blocking(move || audit.append(e))
            .await
            .map_err(ApiError::internal)?
            .map(|_| ())
            .map_err(|e| {
                tracing::error!(error = %e, "access record append failed; refusing");
                ApiError::audit_unavailable()
            })
    }

    /// Now.
    pub fn now(&self) -> Time90k {
        self.clock.now()
    }
}

async fn security_headers(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: header::HeaderName, v: &'static str| {
        h.entry(k).or_insert(HeaderValue::from_static(v));
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; media-src 'self' blob:; connect-src 'self'; img-src 'self' data:; \
         style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    set(h, header::CACHE_CONTROL, "no-store");
    res
}

/// The whole application: API, live, pages, static assets, behind the session
/// middleware and security headers.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/health", get(api::health))
        .route(
            "/api/v1/session",
            post(api::login).delete(api::logout).get(api::me),
        )
        .route("/api/v1/cameras", get(api::cameras).post(cameras::create))
        .route(
            "/api/v1/cameras/{id}",
            get(cameras::get_one)
                .put(cameras::update)
                .delete(cameras::delete),
        )
        .route("/api/v1/cameras/{id}/status", get(cameras::status))
        .route("/api/v1/cameras/{id}/recordings", get(api::recordings))
        .route("/api/v1/cameras/{id}/video.mp4", get(api::video))
        .route("/api/v1/cameras/{id}/live", get(live::live))
        .route("/", get(pages::index))
        .route("/login", get(pages::login))
        .route("/cameras", get(pages::cameras))
        .route("/cameras/{id}/playback", get(pages::playback))
        .route("/admin/cameras", get(pages::camera_admin))
        .route("/static/{name}", get(pages::asset))
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_session,
        ))
        .layer(axum::middleware::from_fn(security_headers))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// How the server speaks to clients.
#[derive(Clone, Debug)]
pub enum Transport {
    /// HTTPS with the certificate and key in these PEM files.
    Tls {
        /// Certificate chain.
        cert: std::path::PathBuf,
        /// Private key.
        key: std::path::PathBuf,
    },
    /// Plain HTTP, only for running behind a TLS-terminating reverse proxy.
    PlainBehindProxy,
}

/// Serves `router` on an already-bound listener until the process ends.
pub async fn serve(
    listener: std::net::TcpListener,
    transport: Transport,
    app: Router,
) -> std::io::Result<()> {
    let make = app.into_make_service_with_connect_info::<SocketAddr>();
    match transport {
        Transport::Tls { cert, key } => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await?;
            axum_server::from_tcp_rustls(listener, config)
                .serve(make)
                .await
        }
        Transport::PlainBehindProxy => axum_server::from_tcp(listener).serve(make).await,
    }
}
