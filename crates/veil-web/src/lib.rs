//! Veil's HTTP(S) face: the JSON API, sessions and CSRF, live view over
//! WebSocket, MP4 playback with ranges, and the server-rendered UI.
//!
//! It knows HTTP and JSON; it never runs SQL or touches codecs' internals: it asks
//! the store, the access record and the policy engine.

pub mod admin;
pub mod admin_pages;
pub mod api;
pub mod audit;
pub mod audit_export;
pub mod auth;
pub mod authn;
pub mod bookmarks;
pub mod breaches;
pub mod camera_passwords;
pub mod camera_purpose;
pub mod camera_retention;
pub mod cameras;
pub mod data_retention;
pub mod disclosures;
pub mod dpo;
pub mod dpo_pages;
pub mod error;
pub mod events;
pub mod export_page;
pub mod exports;
pub mod i18n;
pub mod internal;
pub mod lift;
pub mod live;
pub mod mask_editor;
pub mod masks;
pub mod model;
pub mod openapi;
pub mod organisation;
pub mod pages;
pub mod playback_page;
pub mod processors;
pub mod protections;
pub mod proxy;
pub mod quotas;
pub mod range;
pub mod refusal;
pub mod requests;
pub mod roles;
pub mod shell;
pub mod system;
pub mod tls;
pub mod ui;

use std::net::SocketAddr;

use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::http::{header, HeaderValue};
use axum::routing::{delete, get, post, put, MethodRouter};
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
    /// Failed-login throttles.
    pub throttles: authn::Throttles,
    /// Camera ingest: start/stop on camera changes, status.
    pub ingest: veil_ingest::Supervisor,
    /// Reverse proxies whose forwarding headers name the client.
    pub proxies: proxy::TrustedProxies,
    /// Evidence export: the signing key and the job gate.
    pub exports: exports::Exports,
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
        self.session_by_hash(auth::token_hash(token), true).await
    }

    /// Loads `s` again as it stands now (roles, scopes, gates, expiry,
    /// revocation, a disabled or erased account), without counting as
    /// activity: for long-running responses such as live view, which must end
    /// when the session or its rights do. `None` once the session is gone.
    pub async fn reload_session(&self, s: &Session) -> Result<Option<Session>, ApiError> {
        if s.bearer {
            let store = self.store.clone();
            let (hash, now) = (s.token_hash.clone(), self.clock.now());
            blocking(move || authn::token_session_by_hash(&store, hash, now)).await
        } else {
            self.session_by_hash(s.token_hash.clone(), false).await
        }
    }

    /// A cookie session by its token's hash; `touch` counts the request as
    /// activity (the idle timer starts again).
    async fn session_by_hash(
        &self,
        hash: Vec<u8>,
        touch: bool,
    ) -> Result<Option<Session>, ApiError> {
        let db = self.store.db.clone();
        let now = self.clock.now();
        let policy = self.sessions;
        let audit = self.audit.clone();
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
            // A maintenance account past its time limit ends here, at the
            // session's next request; the use is recorded for the breach
            // register (`access.denied`).
            if user.disabled || user.expired(now) {
                let reason = if user.disabled {
                    "account_disabled"
                } else {
                    "account_expired"
                };
                let e = veil_audit::Event::new(
                    user.pseudonym.clone(),
                    veil_audit::Action::AccessDenied,
                    "session",
                )
                .outcome(veil_audit::Outcome::Denied)
                .detail(format!("reason={reason} credential=session"));
                if let Err(e) = audit.append(e) {
                    tracing::error!(error = %e, "could not record a refusal");
                }
                // Recorded once: the session ends here, so a stale cookie
                // cannot fill the record with refusals.
                db.delete_session(&hash)?;
                return Ok(None);
            }
            if touch {
                // A session that cannot be marked active (a full disk) is
                // still valid; it only idles out sooner, the safe side.
                if let Err(e) = db.touch_session(&hash, now) {
                    tracing::warn!(error = %e, "could not mark a session active");
                }
            }
            Ok(Some(Session {
                subject: roles::subject_for(&db, &user)?,
                display_name: user.name.clone().unwrap_or_default(),
                token_hash: hash,
                bearer: false,
                language: user.language,
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
        self.record_seq(e).await.map(|_| ())
    }

    /// [`AppState::record`], giving the entry's sequence number (for rows
    /// that name the entry that recorded them).
    pub async fn record_seq(&self, e: veil_audit::Event) -> Result<i64, ApiError> {
        let audit = self.audit.clone();
        tokio::task::spawn_blocking(move || audit.append(e))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| match e {
                veil_audit::Error::JustificationRequired(_) => ApiError {
                    status: axum::http::StatusCode::BAD_REQUEST,
                    code: "justification_required",
                    message: e.to_string(),
                },
                veil_audit::Error::Unavailable(_) => {
                    tracing::error!(error = %e, "access record append failed; refusing");
                    ApiError::audit_unavailable()
                }
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

/// Who may call a route, before the policy engine is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guard {
    /// Anyone (login, health, the login page, static assets).
    Public,
    /// Any signed-in user, for their own session and settings.
    Session,
    /// Only users a role grants a permission: default deny.
    Permission,
}

/// One route: its path, the methods it answers, who may call it, and the
/// handlers.
pub struct Route {
    /// The path template.
    pub path: &'static str,
    /// The methods it answers (HEAD follows GET).
    pub methods: &'static [Method],
    /// Who may call it.
    pub guard: Guard,
    handler: MethodRouter<AppState>,
}

fn route(
    path: &'static str,
    methods: &'static [Method],
    guard: Guard,
    handler: MethodRouter<AppState>,
) -> Route {
    Route {
        path,
        methods,
        guard,
        handler,
    }
}

/// Every route the server answers. [`router`] is built from this table, so
/// the router-walk test that checks each entry's guard covers every route.
/// (A path answering methods with different guards is listed once per
/// guard; the handler goes with the first.)
pub fn routes() -> Vec<Route> {
    use Guard::*;
    const GET: &[Method] = &[Method::GET];
    const POST: &[Method] = &[Method::POST];
    const PUT: &[Method] = &[Method::PUT];
    vec![
        route("/api/v1/health", GET, Public, get(api::health)),
        route(
            "/api/v1/session",
            POST,
            Public,
            post(api::login).delete(api::logout).get(api::me),
        ),
        route(
            "/api/v1/session",
            &[Method::GET, Method::DELETE],
            Session,
            MethodRouter::new(),
        ),
        route(
            "/api/v1/session/password",
            POST,
            Session,
            post(admin::change_password),
        ),
        route(
            "/api/v1/session/totp",
            &[Method::POST, Method::DELETE],
            Session,
            post(authn::totp_begin).delete(authn::totp_remove),
        ),
        route(
            "/api/v1/session/totp/confirm",
            POST,
            Session,
            post(authn::totp_confirm),
        ),
        route(
            "/api/v1/session/language",
            PUT,
            Session,
            put(authn::set_language),
        ),
        route("/api/v1/sessions", GET, Session, get(authn::list_sessions)),
        route(
            "/api/v1/sessions/{id}",
            &[Method::DELETE],
            Session,
            delete(authn::revoke_session),
        ),
        route(
            "/api/v1/tokens",
            &[Method::GET, Method::POST],
            Session,
            get(authn::list_tokens).post(authn::create_token),
        ),
        route(
            "/api/v1/tokens/{id}",
            &[Method::DELETE],
            Session,
            delete(authn::revoke_token),
        ),
        route(
            "/api/v1/users/{id}/sessions",
            &[Method::DELETE],
            Permission,
            delete(authn::revoke_user_sessions),
        ),
        route(
            "/api/v1/users/{id}/second-factor/reset",
            POST,
            Permission,
            post(authn::reset_second_factor),
        ),
        route("/api/v1/permissions", GET, Session, get(admin::permissions)),
        route(
            "/api/v1/openapi.json",
            GET,
            Session,
            get(openapi::openapi_json),
        ),
        route("/api/v1/roles", GET, Permission, get(admin::list_roles)),
        route(
            "/api/v1/roles/{name}",
            &[Method::PUT, Method::DELETE],
            Permission,
            put(admin::put_role).delete(admin::delete_role),
        ),
        route(
            "/api/v1/users",
            &[Method::GET, Method::POST],
            Permission,
            get(admin::list_users).post(admin::create_user),
        ),
        route(
            "/api/v1/users/{id}",
            PUT,
            Permission,
            put(admin::update_user),
        ),
        route(
            "/api/v1/policy",
            GET,
            Session,
            get(admin::get_policy).post(admin::publish_policy),
        ),
        route("/api/v1/policy", POST, Permission, MethodRouter::new()),
        route(
            "/api/v1/policy/ack",
            POST,
            Session,
            post(admin::acknowledge_policy),
        ),
        route(
            "/api/v1/settings/four-eyes",
            &[Method::GET, Method::PUT],
            Permission,
            get(admin::get_four_eyes).put(admin::put_four_eyes),
        ),
        route(
            "/api/v1/approvals",
            GET,
            Session,
            get(admin::list_approvals).post(admin::request_approval),
        ),
        route("/api/v1/approvals", POST, Permission, MethodRouter::new()),
        route(
            "/api/v1/approvals/{id}/decision",
            POST,
            Permission,
            post(admin::decide_approval),
        ),
        route("/api/v1/audit", GET, Permission, get(audit::list)),
        route("/api/v1/audit/report", GET, Permission, get(audit::report)),
        route(
            "/api/v1/audit/export",
            GET,
            Permission,
            get(audit_export::export),
        ),
        route(
            "/api/v1/users/{id}/erase",
            POST,
            Permission,
            post(audit::erase_user),
        ),
        route("/audit", GET, Permission, get(audit::page)),
        route(
            "/api/v1/bookmarks",
            &[Method::GET, Method::POST],
            Permission,
            get(bookmarks::list).post(bookmarks::create),
        ),
        route(
            "/api/v1/bookmarks/{id}",
            &[Method::PUT, Method::DELETE],
            Permission,
            put(bookmarks::update).delete(bookmarks::delete),
        ),
        route(
            "/api/v1/settings/bookmarks",
            &[Method::GET, Method::PUT],
            Permission,
            get(bookmarks::get_settings).put(bookmarks::put_settings),
        ),
        route("/bookmarks", GET, Permission, get(bookmarks::page)),
        route(
            "/api/v1/locks",
            &[Method::GET, Method::POST],
            Permission,
            get(protections::list_locks).post(protections::create_lock),
        ),
        route(
            "/api/v1/locks/{id}",
            GET,
            Permission,
            get(protections::get_lock),
        ),
        route(
            "/api/v1/locks/{id}/extend",
            POST,
            Permission,
            post(protections::extend_lock),
        ),
        route(
            "/api/v1/locks/{id}/release",
            POST,
            Permission,
            post(protections::release_lock),
        ),
        route(
            "/api/v1/requests",
            &[Method::GET, Method::POST],
            Permission,
            get(requests::list).post(requests::create),
        ),
        route(
            "/api/v1/requests/{id}",
            GET,
            Permission,
            get(requests::get_one),
        ),
        route(
            "/api/v1/requests/{id}/verify",
            POST,
            Permission,
            post(requests::verify),
        ),
        route(
            "/api/v1/requests/{id}/extend",
            POST,
            Permission,
            post(requests::extend),
        ),
        route(
            "/api/v1/requests/{id}/search",
            POST,
            Permission,
            post(requests::search),
        ),
        route(
            "/api/v1/requests/{id}/intervals",
            POST,
            Permission,
            post(requests::add_interval),
        ),
        route(
            "/api/v1/requests/{id}/intervals/{iid}",
            &[Method::DELETE],
            Permission,
            delete(requests::delete_interval),
        ),
        route(
            "/api/v1/requests/{id}/decide",
            POST,
            Permission,
            post(requests::decide),
        ),
        route(
            "/api/v1/requests/{id}/complete",
            POST,
            Permission,
            post(requests::complete),
        ),
        route(
            "/api/v1/requests/{id}/refuse",
            POST,
            Permission,
            post(requests::refuse),
        ),
        route(
            "/api/v1/requests/{id}/erase",
            POST,
            Permission,
            post(requests::erase),
        ),
        route(
            "/api/v1/requests/{id}/restrict",
            POST,
            Permission,
            post(requests::restrict),
        ),
        route(
            "/api/v1/requests/{id}/recipients",
            &[Method::GET, Method::POST],
            Permission,
            get(requests::recipients).post(requests::record_recipient),
        ),
        route(
            "/api/v1/requests/{id}/footage",
            GET,
            Permission,
            get(requests::footage),
        ),
        route("/dpo/requests", GET, Permission, get(requests::page)),
        route(
            "/dpo/requests/{id}",
            GET,
            Permission,
            get(requests::request_page),
        ),
        route(
            "/api/v1/holds",
            &[Method::GET, Method::POST],
            Permission,
            get(protections::list_holds).post(protections::create_hold),
        ),
        route(
            "/api/v1/holds/{id}",
            GET,
            Permission,
            get(protections::get_hold),
        ),
        route(
            "/api/v1/holds/{id}/release",
            POST,
            Permission,
            post(protections::release_hold),
        ),
        route("/locks", GET, Permission, get(protections::locks_page)),
        route(
            "/api/v1/quotas",
            &[Method::GET, Method::PUT],
            Permission,
            get(quotas::get_quotas).put(quotas::put_quotas),
        ),
        route("/admin/quotas", GET, Permission, get(quotas::page)),
        route("/holds", GET, Permission, get(protections::holds_page)),
        route("/exports", GET, Permission, get(export_page::page)),
        route(
            "/api/v1/disclosures",
            &[Method::GET, Method::POST],
            Permission,
            get(disclosures::list).post(disclosures::create),
        ),
        route(
            "/api/v1/disclosures.csv",
            GET,
            Permission,
            get(disclosures::list_csv),
        ),
        route(
            "/api/v1/disclosures/{id}/destruction",
            POST,
            Permission,
            post(disclosures::confirm_destruction),
        ),
        route("/disclosures", GET, Permission, get(disclosures::page)),
        route("/dpo", GET, Permission, get(dpo_pages::desk)),
        route(
            "/dpo/compliance",
            GET,
            Permission,
            get(dpo_pages::compliance),
        ),
        route(
            "/dpo/access-review",
            GET,
            Permission,
            get(dpo_pages::access_review),
        ),
        route(
            "/dpo/organisation",
            GET,
            Permission,
            get(dpo_pages::organisation),
        ),
        route(
            "/dpo/processors",
            GET,
            Permission,
            get(dpo_pages::processors),
        ),
        route("/dpo/breaches", GET, Permission, get(dpo_pages::breaches)),
        route(
            "/api/v1/breach-candidates",
            GET,
            Permission,
            get(breaches::candidates),
        ),
        route(
            "/api/v1/breach-candidates/{id}/dismiss",
            POST,
            Permission,
            post(breaches::dismiss),
        ),
        route(
            "/api/v1/breach-candidates/{id}/promote",
            POST,
            Permission,
            post(breaches::promote),
        ),
        route(
            "/api/v1/breaches",
            &[Method::GET, Method::POST],
            Permission,
            get(breaches::list).post(breaches::create),
        ),
        route(
            "/api/v1/breaches/{id}",
            &[Method::GET, Method::PUT],
            Permission,
            get(breaches::get_one).put(breaches::update),
        ),
        route(
            "/api/v1/breaches/{id}/decision",
            POST,
            Permission,
            post(breaches::decide),
        ),
        route(
            "/api/v1/breaches/{id}/notified",
            POST,
            Permission,
            post(breaches::notified),
        ),
        route(
            "/api/v1/breaches/{id}/notification",
            GET,
            Permission,
            get(breaches::notification),
        ),
        route(
            "/api/v1/organisation",
            &[Method::GET, Method::PUT],
            Permission,
            get(organisation::get).put(organisation::put),
        ),
        route("/api/v1/dpo", GET, Permission, get(dpo::desk)),
        route("/api/v1/compliance", GET, Permission, get(dpo::compliance)),
        route(
            "/api/v1/documents/{kind}",
            GET,
            Permission,
            get(dpo::document),
        ),
        route(
            "/api/v1/documents/{kind}/review",
            POST,
            Permission,
            post(dpo::review_document),
        ),
        route(
            "/api/v1/access-reviews",
            &[Method::GET, Method::POST],
            Permission,
            get(dpo::access_reviews).post(dpo::review_access),
        ),
        route(
            "/api/v1/processors",
            &[Method::GET, Method::POST],
            Permission,
            get(processors::list).post(processors::create),
        ),
        route(
            "/api/v1/processors/{id}",
            &[Method::PUT, Method::DELETE],
            Permission,
            put(processors::update).delete(processors::remove),
        ),
        route(
            "/api/v1/processors/{id}/accounts",
            POST,
            Permission,
            post(processors::create_account),
        ),
        route(
            "/api/v1/processors/{id}/accounts/{user}",
            PUT,
            Permission,
            put(processors::extend_account),
        ),
        route(
            "/api/v1/exports",
            &[Method::GET, Method::POST],
            Permission,
            get(exports::list).post(exports::create),
        ),
        route(
            "/api/v1/exports/{id}",
            GET,
            Permission,
            get(exports::get_one),
        ),
        route(
            "/api/v1/exports/{id}/download",
            GET,
            Permission,
            get(exports::download),
        ),
        route(
            "/api/v1/retention",
            GET,
            Permission,
            get(data_retention::get_list),
        ),
        route(
            "/admin/retention",
            GET,
            Permission,
            get(data_retention::page),
        ),
        route(
            "/api/v1/cameras",
            &[Method::GET, Method::POST],
            Permission,
            get(api::cameras).post(cameras::create),
        ),
        route(
            "/api/v1/cameras/{id}",
            &[Method::GET, Method::PUT, Method::DELETE],
            Permission,
            get(cameras::get_one)
                .put(cameras::update)
                .delete(cameras::delete),
        ),
        route(
            "/api/v1/cameras/{id}/status",
            GET,
            Permission,
            get(cameras::status),
        ),
        route(
            "/api/v1/cameras/{id}/purpose",
            &[Method::PUT, Method::DELETE],
            Permission,
            put(camera_purpose::put).delete(camera_purpose::delete),
        ),
        route(
            "/api/v1/cameras/{id}/retention",
            &[Method::GET, Method::PUT],
            Permission,
            get(camera_retention::get).put(camera_retention::put),
        ),
        route(
            "/api/v1/cameras/{id}/recordings",
            GET,
            Permission,
            get(api::recordings),
        ),
        route(
            "/api/v1/cameras/{id}/masks",
            &[Method::GET, Method::PUT],
            Permission,
            get(masks::get_masks).put(masks::put_masks),
        ),
        route(
            "/api/v1/cameras/{id}/events",
            GET,
            Permission,
            get(events::events),
        ),
        route(
            "/api/v1/cameras/{id}/video.mp4",
            GET,
            Permission,
            get(api::video),
        ),
        route(
            "/api/v1/cameras/{id}/live",
            GET,
            Permission,
            get(live::live),
        ),
        route("/", GET, Session, get(pages::index)),
        route("/login", GET, Public, get(pages::login)),
        route("/cameras", GET, Permission, get(pages::cameras)),
        route(
            "/cameras/{id}/playback",
            GET,
            Permission,
            get(playback_page::redirect_one),
        ),
        route("/playback", GET, Permission, get(playback_page::page)),
        route("/admin/cameras", GET, Permission, get(pages::camera_admin)),
        route(
            "/cameras/{id}/masks",
            GET,
            Permission,
            get(mask_editor::page),
        ),
        route(
            "/admin/four-eyes",
            GET,
            Permission,
            get(pages::four_eyes_admin),
        ),
        route("/api/v1/system", GET, Permission, get(system::figures)),
        route("/metrics", GET, Permission, get(system::metrics)),
        route("/system", GET, Permission, get(system::page)),
        route("/admin/users", GET, Permission, get(admin_pages::users)),
        route("/admin/roles", GET, Permission, get(admin_pages::roles)),
        route("/admin/policy", GET, Permission, get(admin_pages::policy)),
        route("/admin/tokens", GET, Permission, get(admin_pages::tokens)),
        route("/approvals", GET, Permission, get(admin_pages::approvals)),
        route("/account", GET, Session, get(pages::account)),
        route("/static/{name}", GET, Public, get(pages::asset)),
    ]
}

/// The whole application: API, live, pages, static assets, behind the session
/// middleware and security headers.
pub fn router(state: AppState) -> Router {
    let mut r = Router::new();
    let mut seen = std::collections::HashSet::new();
    for route in routes() {
        if seen.insert(route.path) {
            r = r.route(route.path, route.handler);
        }
    }
    r.fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_session,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            proxy::client_address,
        ))
        .layer(axum::middleware::from_fn(security_headers))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(refusal::readable_refusals))
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
