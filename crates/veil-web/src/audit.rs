//! Reading the access record over HTTP, and erasing users' names.
//!
//! `GET /api/v1/audit` (filtered, newest first, paged by sequence number),
//! `GET /api/v1/audit/report` (key indicators as JSON, CSV or HTML), the
//! server-rendered `/audit` page, and `POST /api/v1/users/{pseudonym}/erase`.
//! Every read is itself recorded (`audit.read`, `document.generate`) before
//! the answer is produced, with the filter in the detail and never a name.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;
use veil_access::{Action, Resource};
use veil_audit::{Action as Audited, Event, Outcome};
use veil_base::{Time90k, TIME_UNITS_PER_SEC};
use veil_store::db::{AuditFilter, AuditRow};

use crate::auth::Session;
use crate::error::ApiError;
use crate::shell::Shell;
use crate::{blocking, ui, AppState};

/// Entries per page when `limit` is not given.
pub const DEFAULT_LIMIT: i64 = 100;
/// Most entries per page.
pub const MAX_LIMIT: i64 = 1000;

/// The query parameters `GET /api/v1/audit` and `/audit` accept.
const PARAMS: [&str; 8] = [
    "actor", "camera", "action", "outcome", "from", "to", "before", "limit",
];

/// Actors that are not accounts.
const SYSTEM_ACTORS: [&str; 3] = ["anonymous", "cli", "system"];

/// A validated filter: what to read, and its canonical text for the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRequest {
    /// What the store matches.
    pub filter: AuditFilter,
    /// Page size.
    pub limit: i64,
}

impl ReadRequest {
    /// The filter as `key=value` pairs for the access record's detail. The
    /// actor is always a pseudonym here (names are resolved before), so the
    /// record never holds a name.
    pub fn detail(&self) -> String {
        let f = &self.filter;
        let mut parts = Vec::new();
        let mut push = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        };
        push("actor", f.actor.clone());
        push(
            "camera",
            f.resource
                .as_deref()
                .and_then(|r| r.strip_prefix("camera:"))
                .map(str::to_owned),
        );
        push("action", f.action.clone());
        push("outcome", f.outcome.clone());
        push("from", f.from.map(Time90k::to_rfc3339));
        push("to", f.to.map(Time90k::to_rfc3339));
        push("before", f.before_seq.map(|s| s.to_string()));
        push("limit", Some(self.limit.to_string()));
        parts.join(" ")
    }
}

/// A non-empty parameter.
fn param<'a>(q: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    q.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// How times in a query are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeSyntax {
    /// RFC 3339 only (the API).
    Rfc3339,
    /// RFC 3339, or a form's `YYYY-MM-DDTHH:MM[:SS]` read as UTC (the page).
    Rfc3339OrUtcLocal,
}

fn parse_time(name: &str, v: &str, syntax: TimeSyntax) -> Result<Time90k, ApiError> {
    if let Some(t) = Time90k::parse_rfc3339(v) {
        return Ok(t);
    }
    if syntax == TimeSyntax::Rfc3339OrUtcLocal {
        for fmt in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
            if let Ok(t) = chrono::NaiveDateTime::parse_from_str(v, fmt) {
                return Ok(Time90k::from_chrono(t.and_utc()));
            }
        }
    }
    Err(ApiError::bad_request(format!(
        "{name} must be an RFC 3339 time such as 2026-11-23T10:00:00Z, got {v:?}"
    )))
}

fn time_param(
    q: &HashMap<String, String>,
    name: &str,
    syntax: TimeSyntax,
) -> Result<Option<Time90k>, ApiError> {
    param(q, name)
        .map(|v| parse_time(name, v, syntax))
        .transpose()
}

/// Whether `s` looks like a pseudonym (`u-` and lower-case letters, digits or
/// dashes) or one of the actors that are not accounts.
fn is_pseudonym(s: &str) -> bool {
    SYSTEM_ACTORS.contains(&s)
        || s.strip_prefix("u-").is_some_and(|rest| {
            !rest.is_empty()
                && rest.len() <= 64
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// Validates every parameter except `actor` (which needs the user table):
/// unknown parameters, camera, action, outcome, times, cursor and limit.
pub fn parse_request(
    q: &HashMap<String, String>,
    syntax: TimeSyntax,
) -> Result<ReadRequest, ApiError> {
    if let Some(unknown) = q.keys().find(|k| !PARAMS.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "unknown parameter {unknown:?}; known: {}",
            PARAMS.join(", ")
        )));
    }
    let camera = param(q, "camera")
        .map(|v| {
            v.parse::<u32>()
                .map(|id| format!("camera:{id}"))
                .map_err(|_| {
                    ApiError::bad_request(format!(
                        "camera must be a camera id (a number), got {v:?}"
                    ))
                })
        })
        .transpose()?;
    let action = param(q, "action")
        .map(|v| {
            Audited::parse(v)
                .map(|a| a.as_str().to_owned())
                .ok_or_else(|| {
                    let valid: Vec<&str> = Audited::ALL.iter().map(|a| a.as_str()).collect();
                    ApiError::bad_request(format!(
                        "unknown action {v:?}; valid actions: {}",
                        valid.join(", ")
                    ))
                })
        })
        .transpose()?;
    let outcome = param(q, "outcome")
        .map(|v| match v {
            "ok" | "denied" => Ok(v.to_owned()),
            _ => Err(ApiError::bad_request(format!(
                "unknown outcome {v:?}; valid outcomes: ok, denied"
            ))),
        })
        .transpose()?;
    let from = time_param(q, "from", syntax)?;
    let to = time_param(q, "to", syntax)?;
    if let (Some(f), Some(t)) = (from, to) {
        if t <= f {
            return Err(ApiError::bad_request("to must be after from"));
        }
    }
    let before_seq = param(q, "before")
        .map(|v| {
            v.parse::<i64>().ok().filter(|s| *s > 0).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "before must be a sequence number (a positive integer), got {v:?}"
                ))
            })
        })
        .transpose()?;
    let limit = match param(q, "limit") {
        None => DEFAULT_LIMIT,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "limit must be a number from 1 to {MAX_LIMIT}, got {v:?}"
                ))
            })?,
    };
    Ok(ReadRequest {
        filter: AuditFilter {
            actor: None,
            resource: camera,
            action,
            outcome,
            from,
            to,
            before_seq,
        },
        limit,
    })
}

/// Resolves the `actor` parameter: a current user's name becomes that user's
/// pseudonym; otherwise it must be a pseudonym itself.
fn resolve_actor(db: &veil_store::Db, v: &str) -> Result<String, ApiError> {
    if let Some(u) = db.user_by_name(v)? {
        return Ok(u.pseudonym);
    }
    if is_pseudonym(v) {
        return Ok(v.to_owned());
    }
    Err(ApiError::bad_request(
        "actor: no current user has this name, and it is not a pseudonym (u-…, anonymous, cli, system)",
    ))
}

/// One entry of the access record as the API returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Item {
    /// Sequence number.
    seq: i64,
    /// RFC 3339, UTC.
    time: String,
    /// The actor's pseudonym (or `anonymous`, `cli`, `system`).
    actor: String,
    /// The account's current name; `null` once erased or for actors that
    /// are not accounts.
    actor_name: Option<String>,
    /// A stable action id, e.g. `playback`.
    action: String,
    /// On what, e.g. `camera:1`.
    resource: String,
    /// `ok` or `denied` (or `failed`).
    outcome: String,
    /// Why, where the action needs one (else empty).
    justification: String,
    /// Extra facts, no personal data.
    detail: String,
    /// The client's address (may be empty).
    client: String,
}

fn item(r: AuditRow, names: &HashMap<String, String>) -> Item {
    Item {
        seq: r.seq,
        time: r.time_90k.to_rfc3339(),
        actor_name: names.get(&r.actor).cloned(),
        actor: r.actor,
        action: r.action,
        resource: r.resource,
        outcome: r.outcome,
        justification: r.justification,
        detail: r.detail,
        client: r.client,
    }
}

/// A page of entries and the cursor to the next (older) page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page {
    /// Newest first.
    items: Vec<Item>,
    /// Pass as `before` for the next page; `None` on the last page.
    next: Option<i64>,
}

/// Authorises, validates, records `audit.read`, then reads one page.
async fn read_page(
    state: &AppState,
    s: &Session,
    peer: SocketAddr,
    q: HashMap<String, String>,
    syntax: TimeSyntax,
) -> Result<(ReadRequest, Page), ApiError> {
    state.authorize(s, Action::AuditRead, Resource::System)?;
    let mut req = parse_request(&q, syntax)?;
    if let Some(actor) = param(&q, "actor").map(str::to_owned) {
        let db = state.store.db.clone();
        req.filter.actor = Some(blocking(move || resolve_actor(&db, &actor)).await?);
    }
    state
        .record(
            Event::new(s.subject.pseudonym.clone(), Audited::AuditRead, "audit")
                .detail(req.detail())
                .client(peer.ip()),
        )
        .await?;
    let db = state.store.db.clone();
    let r = req.clone();
    let page = blocking(move || {
        let mut rows = db.audit_query(&r.filter, r.limit + 1)?;
        let next = if rows.len() as i64 > r.limit {
            rows.truncate(r.limit as usize);
            rows.last().map(|e| e.seq)
        } else {
            None
        };
        let names = veil_audit::read::current_names(&db)?;
        Ok(Page {
            items: rows.into_iter().map(|e| item(e, &names)).collect(),
            next,
        })
    })
    .await?;
    Ok((req, page))
}

/// `GET /api/v1/audit`: the access record, filtered, newest first.
pub async fn list(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Page>, ApiError> {
    let (_, page) = read_page(&state, &s, peer, q, TimeSyntax::Rfc3339).await?;
    Ok(Json(page))
}

/// Report output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Html,
}

/// `GET /api/v1/audit/report?from&to&format=json|csv|html`: the key
/// indicators of `[from, to)`, recorded as `document.generate` first.
pub async fn report(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    state.authorize(&s, Action::AuditRead, Resource::System)?;
    if let Some(unknown) = q
        .keys()
        .find(|k| !["from", "to", "format"].contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "unknown parameter {unknown:?}; known: from, to, format"
        )));
    }
    let syntax = TimeSyntax::Rfc3339;
    let (Some(from), Some(to)) = (
        time_param(&q, "from", syntax)?,
        time_param(&q, "to", syntax)?,
    ) else {
        return Err(ApiError::bad_request("from and to are required (RFC 3339)"));
    };
    if to <= from {
        return Err(ApiError::bad_request("to must be after from"));
    }
    let format = match param(&q, "format").unwrap_or("json") {
        "json" => Format::Json,
        "csv" => Format::Csv,
        "html" => Format::Html,
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown format {other:?}; valid formats: json, csv, html"
            )))
        }
    };
    let format_id = match format {
        Format::Json => "json",
        Format::Csv => "csv",
        Format::Html => "html",
    };
    state
        .record(
            Event::new(
                s.subject.pseudonym.clone(),
                Audited::DocumentGenerate,
                "audit_report",
            )
            .detail(format!(
                "from={} to={} format={format_id}",
                from.to_rfc3339(),
                to.to_rfc3339()
            ))
            .client(peer.ip()),
        )
        .await?;
    let db = state.store.db.clone();
    let report = blocking(move || {
        Ok(veil_audit::read::stored_report(
            &db,
            from,
            to,
            veil_audit::report::Shifts::new(),
        )?)
    })
    .await?;
    Ok(match format {
        Format::Json => Json(crate::model::AuditReport::from(report)).into_response(),
        Format::Html => Html(veil_audit::report::to_html(&report)).into_response(),
        Format::Csv => {
            let mut res = veil_audit::report::to_csv(&report).into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            h.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"veil-audit-report.csv\""),
            );
            res
        }
    })
}

/// `GET /audit`: the access record as a page, with the same filters as the
/// API (times may also be a form's local date-time, read as UTC). A bad
/// filter is shown on the page with status 400.
pub async fn page(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let now = state.now();
    let form = AuditForm::from_query(&q);
    let shell = Shell::new(&state, &s, &headers, "/audit").await?;
    match read_page(&state, &s, peer, q, TimeSyntax::Rfc3339OrUtcLocal).await {
        Ok((req, page)) => {
            let rows: Vec<AuditLine> = page
                .items
                .into_iter()
                .map(|i| AuditLine {
                    seq: i.seq,
                    time: i.time,
                    actor: i.actor,
                    actor_name: i.actor_name,
                    action: i.action,
                    resource: i.resource,
                    outcome: i.outcome,
                    justification: i.justification,
                    detail: i.detail,
                })
                .collect();
            let report = report_period(&req, now);
            Ok(audit_page(&shell, &form, &rows, page.next, Some(report), None).into_response())
        }
        Err(e) if e.status == StatusCode::BAD_REQUEST => Ok((
            StatusCode::BAD_REQUEST,
            audit_page(&shell, &form, &[], None, None, Some(&e.message)),
        )
            .into_response()),
        Err(e) => Err(e),
    }
}

/// The report period linked from the page: the filter's period, else the
/// last 7 days.
fn report_period(req: &ReadRequest, now: Time90k) -> (String, String) {
    let to = req.filter.to.unwrap_or(Time90k(now.0 + TIME_UNITS_PER_SEC));
    let from = req
        .filter
        .from
        .unwrap_or(Time90k(to.0 - 7 * 24 * 3600 * TIME_UNITS_PER_SEC));
    (from.to_rfc3339(), to.to_rfc3339())
}

/// An erased account.
#[derive(Serialize, ToSchema)]
pub struct Erased {
    /// Its pseudonym (it stays in the access record).
    pseudonym: String,
    /// Always `true`.
    erased: bool,
}

/// `POST /api/v1/users/{pseudonym}/erase`: erases a user's name, disables the
/// account and ends its sessions; the pseudonym stays in the record.
pub async fn erase_user(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(pseudonym): Path<String>,
) -> Result<Json<Erased>, ApiError> {
    state.authorize(&s, Action::UserAdmin, Resource::System)?;
    if pseudonym == s.subject.pseudonym {
        return Err(ApiError::bad_request(
            "you cannot erase your own account; ask another administrator",
        ));
    }
    let db = state.store.db.clone();
    let p = pseudonym.clone();
    let exists = blocking(move || Ok(db.user_by_pseudonym(&p)?.is_some())).await?;
    if !exists {
        return Err(ApiError::not_found(format!("no user {pseudonym:?}")));
    }
    state
        .record(
            Event::new(
                s.subject.pseudonym.clone(),
                Audited::UserErase,
                format!("user:{pseudonym}"),
            )
            .outcome(Outcome::Ok)
            .client(peer.ip()),
        )
        .await?;
    let db = state.store.db.clone();
    let p = pseudonym.clone();
    blocking(move || Ok(db.erase_user(&p, veil_access::password::ERASED_HASH)?)).await?;
    tracing::info!(actor = %s.subject.pseudonym, user = %pseudonym, "user name erased");
    Ok(Json(Erased {
        pseudonym,
        erased: true,
    }))
}

// --- the page ---

/// The filter form's values as the user typed them (to fill the form again).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditForm {
    actor: String,
    camera: String,
    action: String,
    outcome: String,
    from: String,
    to: String,
    limit: String,
}

impl AuditForm {
    /// The form's fields from a query (other parameters are ignored).
    pub fn from_query(q: &HashMap<String, String>) -> AuditForm {
        let get = |k: &str| q.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
        AuditForm {
            actor: get("actor"),
            camera: get("camera"),
            action: get("action"),
            outcome: get("outcome"),
            from: get("from"),
            to: get("to"),
            limit: get("limit"),
        }
    }

    /// The non-empty fields as `(name, value)` pairs.
    fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("actor", &self.actor),
            ("camera", &self.camera),
            ("action", &self.action),
            ("outcome", &self.outcome),
            ("from", &self.from),
            ("to", &self.to),
            ("limit", &self.limit),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.as_str()))
        .collect()
    }
}

/// One row of the page's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLine {
    seq: i64,
    time: String,
    actor: String,
    actor_name: Option<String>,
    action: String,
    resource: String,
    outcome: String,
    justification: String,
    detail: String,
}

/// Percent-encodes a query value (everything but unreserved characters).
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `path?k=v&…` with the values encoded.
fn link(path: &str, pairs: &[(&str, &str)]) -> String {
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", url_encode(v)))
        .collect();
    if q.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", q.join("&"))
    }
}

/// A UTC time (RFC 3339, already escaped) that `audit.js` shows in the
/// user's locale and time zone, with the UTC time on hover.
fn local_time(utc: &str) -> String {
    format!("<time datetime=\"{utc}\" title=\"{utc}\">{utc}</time>")
}

fn text_field(body: &mut String, name: &str, label: &str, value: &str, hint: &str) {
    let _ = write!(
        body,
        "<div class=\"field\"><label for=\"{name}\">{label}</label>\n\
<input id=\"{name}\" name=\"{name}\" type=\"text\" value=\"{value}\" placeholder=\"{hint}\"></div>\n",
        value = ui::escape(value),
    );
}

fn select_field(
    body: &mut String,
    name: &str,
    label: &str,
    any: &str,
    value: &str,
    options: &[&str],
) {
    let _ = write!(
        body,
        "<div class=\"field\"><label for=\"{name}\">{label}</label>\n<select id=\"{name}\" name=\"{name}\">\n<option value=\"\">{any}</option>\n"
    );
    for o in options {
        let selected = if *o == value { " selected" } else { "" };
        let _ = writeln!(body, "<option value=\"{o}\"{selected}>{o}</option>");
    }
    body.push_str("</select></div>\n");
}

fn filter_form(body: &mut String, sh: &Shell, f: &AuditForm) {
    body.push_str(
        "<form id=\"audit-filter\" class=\"range card\" method=\"get\" action=\"/audit\">\n",
    );
    let t = |k| sh.t(k);
    text_field(
        body,
        "actor",
        t("audit.actor"),
        &f.actor,
        t("audit.actor_hint"),
    );
    text_field(body, "camera", t("audit.camera"), &f.camera, "id");
    let actions: Vec<&str> = Audited::ALL.iter().map(|a| a.as_str()).collect();
    select_field(
        body,
        "action",
        t("audit.action"),
        t("audit.any"),
        &f.action,
        &actions,
    );
    select_field(
        body,
        "outcome",
        t("audit.outcome"),
        t("audit.any"),
        &f.outcome,
        &["ok", "denied"],
    );
    text_field(
        body,
        "from",
        t("audit.from"),
        &f.from,
        "2026-11-23T08:00:00Z",
    );
    text_field(body, "to", t("audit.to"), &f.to, "2026-11-23T18:00:00Z");
    text_field(body, "limit", t("audit.limit"), &f.limit, "100");
    let _ = writeln!(
        body,
        "<button type=\"submit\" id=\"filter-button\">{}</button>\n</form>",
        t("audit.show")
    );
}

fn entries_table(body: &mut String, sh: &Shell, rows: &[AuditLine]) {
    if rows.is_empty() {
        let _ = writeln!(body, "<p class=\"empty\">{}</p>", sh.t("audit.empty"));
        return;
    }
    // Wide tables scroll inside their own box, never the page (tablets).
    body.push_str(
        "<div class=\"table-scroll\" tabindex=\"0\" role=\"region\" aria-labelledby=\"audit-title\">\n\
<table id=\"audit-entries\" class=\"report\">\n<thead><tr>",
    );
    for key in [
        "audit.seq",
        "audit.time",
        "audit.actor",
        "audit.action",
        "audit.resource",
        "audit.outcome",
        "audit.justification",
        "audit.detail",
    ] {
        let _ = write!(body, "<th scope=\"col\">{}</th>", sh.t(key));
    }
    body.push_str("</tr></thead>\n<tbody>\n");
    for r in rows {
        let actor = match &r.actor_name {
            Some(n) => format!(
                "{} <span class=\"muted\">{}</span>",
                ui::escape(n),
                ui::escape(&r.actor)
            ),
            None => ui::escape(&r.actor),
        };
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{actor}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.seq,
            local_time(&ui::escape(&r.time)),
            ui::escape(&r.action),
            ui::escape(&r.resource),
            ui::escape(&r.outcome),
            ui::escape(&r.justification),
            ui::escape(&r.detail),
        );
    }
    body.push_str("</tbody>\n</table>\n</div>\n");
}

/// The `/audit` page: the filter form, the entries, paging links and links to
/// the report of `report` = `(from, to)`; `error` replaces the table.
pub fn audit_page(
    sh: &Shell,
    form: &AuditForm,
    rows: &[AuditLine],
    next: Option<i64>,
    report: Option<(String, String)>,
    error: Option<&str>,
) -> Html<String> {
    let mut body = format!(
        "<div id=\"audit\">\n<h1 id=\"audit-title\">{}</h1>\n",
        sh.t("audit.title")
    );
    filter_form(&mut body, sh, form);
    if let Some(e) = error {
        let _ = writeln!(
            body,
            "<p id=\"audit-error\" class=\"error\" role=\"alert\">{}</p>",
            ui::escape(e)
        );
    } else {
        entries_table(&mut body, sh, rows);
    }
    let _ = writeln!(
        body,
        "<nav class=\"paging\" aria-label=\"{}\">",
        sh.t("audit.pages")
    );
    let pairs = form.pairs();
    if let Some(n) = next {
        let mut older = pairs.clone();
        let n = n.to_string();
        older.push(("before", &n));
        let _ = writeln!(
            body,
            "<a id=\"older\" href=\"{}\">{}</a>",
            ui::escape(&link("/audit", &older)),
            sh.t("audit.older")
        );
    }
    let _ = writeln!(
        body,
        "<a id=\"newest\" href=\"{}\">{}</a>",
        ui::escape(&link("/audit", &pairs)),
        sh.t("audit.newest")
    );
    body.push_str("</nav>\n");
    if let Some((from, to)) = report {
        let _ = write!(
            body,
            "<p class=\"report-links\">{} ",
            sh.tr(
                "audit.report_period",
                &[
                    ("from", &local_time(&ui::escape(&from))),
                    ("to", &local_time(&ui::escape(&to)))
                ]
            )
        );
        for (id, format) in [
            ("report-html", "html"),
            ("report-csv", "csv"),
            ("report-json", "json"),
        ] {
            let href = link(
                "/api/v1/audit/report",
                &[("from", &from), ("to", &to), ("format", format)],
            );
            let _ = write!(
                body,
                "<a id=\"{id}\" href=\"{}\">{}</a> ",
                ui::escape(&href),
                format.to_uppercase()
            );
        }
        body.push_str("</p>\n");
    }
    body.push_str("</div>\n");
    sh.page(sh.t("audit.title"), "audit.js", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn err(pairs: &[(&str, &str)]) -> String {
        parse_request(&q(pairs), TimeSyntax::Rfc3339)
            .unwrap_err()
            .message
    }

    #[test]
    fn filters_are_validated_with_clear_messages() {
        let m = err(&[("action", "dance")]);
        assert!(m.contains("unknown action \"dance\""), "{m}");
        assert!(m.contains("playback") && m.contains("login.locked"), "{m}");
        assert!(err(&[("limit", "0")]).contains("1 to 1000"));
        assert!(err(&[("limit", "1001")]).contains("1 to 1000"));
        assert!(err(&[("camera", "door")]).contains("camera must be"));
        assert!(err(&[("outcome", "maybe")]).contains("ok, denied"));
        assert!(err(&[("from", "yesterday")]).contains("RFC 3339"));
        assert!(err(&[("before", "-3")]).contains("positive integer"));
        assert!(err(&[("acter", "x")]).contains("unknown parameter \"acter\""));
        let m = err(&[
            ("from", "2026-11-23T10:00:00Z"),
            ("to", "2026-11-23T09:00:00Z"),
        ]);
        assert!(m.contains("after"), "{m}");
    }

    #[test]
    fn a_valid_filter_becomes_a_store_filter_and_a_detail() {
        let mut r = parse_request(
            &q(&[
                ("camera", "3"),
                ("action", "playback"),
                ("outcome", "ok"),
                ("from", "2026-11-23T11:00:00+01:00"),
                ("before", "77"),
                ("limit", "5"),
                ("to", ""),
            ]),
            TimeSyntax::Rfc3339,
        )
        .unwrap();
        assert_eq!(r.filter.resource.as_deref(), Some("camera:3"));
        assert_eq!(r.filter.before_seq, Some(77));
        assert_eq!(r.filter.to, None);
        r.filter.actor = Some("u-0a".into());
        assert_eq!(
            r.detail(),
            "actor=u-0a camera=3 action=playback outcome=ok from=2026-11-23T10:00:00.000Z \
before=77 limit=5"
        );
        let d = parse_request(&q(&[]), TimeSyntax::Rfc3339).unwrap();
        assert_eq!(d.limit, DEFAULT_LIMIT);
        assert_eq!(d.detail(), "limit=100");
    }

    #[test]
    fn the_page_reads_form_times_as_utc() {
        let r = parse_request(
            &q(&[("from", "2026-11-23T10:00")]),
            TimeSyntax::Rfc3339OrUtcLocal,
        )
        .unwrap();
        assert_eq!(
            r.filter.from.unwrap().to_rfc3339(),
            "2026-11-23T10:00:00.000Z"
        );
        assert!(parse_request(&q(&[("from", "2026-11-23T10:00")]), TimeSyntax::Rfc3339).is_err());
    }

    #[test]
    fn pseudonyms_are_recognised() {
        for ok in ["u-0123456789abcdef", "anonymous", "cli", "system", "u-test"] {
            assert!(is_pseudonym(ok), "{ok}");
        }
        for bad in ["alice", "u-", "u-Alice", "u-a b", "", "U-1"] {
            assert!(!is_pseudonym(bad), "{bad}");
        }
    }

    fn line(name: Option<&str>) -> AuditLine {
        AuditLine {
            seq: 9,
            time: "2026-11-23T10:00:00.000Z".into(),
            actor: "u-1".into(),
            actor_name: name.map(str::to_owned),
            action: "playback".into(),
            resource: "camera:1".into(),
            outcome: "ok".into(),
            justification: "<b>why</b>".into(),
            detail: "rendition=main".into(),
        }
    }

    #[test]
    fn the_page_escapes_and_links_pages_and_reports() {
        let form = AuditForm::from_query(&q(&[("actor", "a&b"), ("camera", "1")]));
        let sh = Shell::preview(
            crate::i18n::Lang::En,
            "<i>me</i>",
            crate::shell::Permissions {
                audit: true,
                ..Default::default()
            },
            "/audit",
        );
        let page = audit_page(
            &sh,
            &form,
            &[line(Some("<script>x</script>")), line(None)],
            Some(9),
            Some((
                "2026-11-16T00:00:00.000Z".into(),
                "2026-11-23T00:00:00.000Z".into(),
            )),
            None,
        )
        .0;
        assert!(!page.contains("<script>x"), "{page}");
        assert!(page.contains("&lt;script&gt;x&lt;/script&gt; <span class=\"muted\">u-1</span>"));
        assert!(page.contains("&lt;b&gt;why&lt;/b&gt;"));
        assert!(
            page.contains("href=\"/audit?actor=a%26b&amp;camera=1&amp;before=9\""),
            "{page}"
        );
        assert!(page.contains("format=csv"));
        assert!(
            !page.contains("href=\"/cameras\""),
            "no camera link without the permission"
        );
        assert!(page.contains("<time datetime=\"2026-11-23T10:00:00.000Z\""));
        assert!(page.contains("value=\"a&amp;b\""));
        for (i, _) in page.match_indices("<script") {
            let tag = &page[i..page[i..].find('>').unwrap() + i];
            assert!(tag.contains("src=\"/static/audit.js\""), "{tag}");
        }
        assert!(!page.contains("style="));
        let bad = audit_page(&sh, &form, &[], None, None, Some("limit must be <1000>")).0;
        assert!(bad.contains("id=\"audit-error\""));
        assert!(bad.contains("limit must be &lt;1000&gt;"));
    }
}
