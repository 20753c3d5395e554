//! Retention of every personal data set besides the recordings themselves
//! (R2, R5): the rules ([`Rules`], `[data_retention]` in `veil.toml`,
//! remembered in the database so the API shows the rules the server runs
//! with), the job that destroys what is past them ([`run_once`], every
//! [`INTERVAL`] in the server), and `GET /api/v1/retention` with the
//! `/admin/retention` page, which list every data set, recordings included,
//! with its rule, its items, the oldest and the next destruction.
//!
//! Does not belong here: the recordings' destruction (`Store::retention_plan`
//! and `Store::apply_retention`, run by the binary's retention job) and the
//! rule of each camera (`veil_store::retention_rule`, read through
//! [`recording_rules`]).
//!
//! Every destruction is recorded first, one `retention.destroy` entry per
//! data set per run that destroys something (resource `data:{data set}`,
//! counts and the cut-off, no names; anonymised accounts by pseudonym), and
//! nothing is destroyed when the entry cannot be written. Bookmarks keep
//! their own entry (`bookmark.expire`), the access record its `audit.prune`.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Html;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use veil_access::{Action, Resource};
use veil_audit::{AccessRecord, Action as Audited, Event};
use veil_base::{CameraId, SharedClock, Time90k, TIME_UNITS_PER_SEC};
use veil_store::db::DataSetStats;
use veil_store::retention_rule;
use veil_store::{Db, Store};

use crate::auth::Session;
use crate::error::ApiError;
use crate::shell::Shell;
use crate::ui::escape;
use crate::{blocking, AppState, SessionPolicy};

/// How often the server runs [`run_once`].
pub const INTERVAL: std::time::Duration = std::time::Duration::from_secs(5 * 60);
/// The `setting` row holding the rules the server runs with (JSON).
pub const RULES_SETTING: &str = "data_retention";
/// The `setting` row holding the access record's retention in days.
pub const ACCESS_RECORD_SETTING: &str = "audit_retention_days";
/// The access record's retention when none was remembered (the default of
/// `audit.retention_days`).
pub const DEFAULT_ACCESS_RECORD_DAYS: u32 = 365;
/// The recordings' retention when the server never remembered one (the
/// default of `retention_hours`).
pub const DEFAULT_RECORDING_HOURS: u32 = 7 * 24;
/// Login failures are forgotten this long after the last one (in memory
/// only, `veil_access::lockout::WINDOW`).
pub const LOGIN_ATTEMPT_MINUTES: u32 = 60;

const DAY_90K: i64 = 86_400 * TIME_UNITS_PER_SEC;
const HOUR_90K: i64 = 3600 * TIME_UNITS_PER_SEC;

/// How long each data set is kept after its items end: the
/// `[data_retention]` table of `veil.toml`. Every key has a default and
/// bounds ([`Rules::check`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// Days a session is kept after it ended (expiry or idle timeout).
    /// Default 0, at most 30.
    pub sessions_days: u32,
    /// Days a four-eyes request is kept after it ended (refused, used or
    /// expired). Default 90, at most 730.
    pub approvals_days: u32,
    /// Days an API token is kept after it expired or was revoked. Default
    /// 30, at most 730.
    pub api_tokens_days: u32,
    /// Days after disabling when an account is anonymised (name erased,
    /// password unusable). Default 60 (seed 004: "within 60 days"), at
    /// least 1, at most 365.
    pub disabled_accounts_days: u32,
    /// Days a data-subject request is kept after it was completed or
    /// refused. Default 1095 (three years), at least 30, at most 3650.
    pub requests_days: u32,
    /// Days after a request was completed or refused when the person's own
    /// description (time, place, appearance) is removed from it. Default
    /// 30, at most 365.
    pub request_descriptions_days: u32,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            sessions_days: 0,
            approvals_days: 90,
            api_tokens_days: 30,
            disabled_accounts_days: 60,
            requests_days: 1095,
            request_descriptions_days: 30,
        }
    }
}

impl Rules {
    /// The keys, their bounds and their values.
    fn bounded(&self) -> [(&'static str, u32, u32, u32); 6] {
        [
            ("sessions_days", 0, 30, self.sessions_days),
            ("approvals_days", 0, 730, self.approvals_days),
            ("api_tokens_days", 0, 730, self.api_tokens_days),
            (
                "disabled_accounts_days",
                1,
                365,
                self.disabled_accounts_days,
            ),
            ("requests_days", 30, 3650, self.requests_days),
            (
                "request_descriptions_days",
                0,
                365,
                self.request_descriptions_days,
            ),
        ]
    }

    /// Checks every value against its bounds; the message names the key
    /// (`data_retention.sessions_days`).
    pub fn check(&self) -> Result<(), String> {
        for (key, min, max, v) in self.bounded() {
            if v < min || v > max {
                return Err(format!(
                    "data_retention.{key} must be between {min} and {max} days, got {v}"
                ));
            }
        }
        Ok(())
    }
}

/// The rules the server runs with, as remembered (the defaults if it never
/// ran), and the access record's retention in days.
pub fn stored_rules(db: &Db) -> Result<(Rules, u32), veil_store::Error> {
    let rules = match db.setting(RULES_SETTING)? {
        Some(v) => serde_json::from_str(&v).map_err(|e| {
            veil_store::Error::Invalid(format!("the stored data retention rules: {e}"))
        })?,
        None => Rules::default(),
    };
    let days = db
        .setting(ACCESS_RECORD_SETTING)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ACCESS_RECORD_DAYS);
    Ok((rules, days))
}

/// Remembers the rules the server runs with (and the access record's
/// retention), recording a change as `config.retention` (resource
/// `data_sets`) first. Nothing is recorded when nothing changed.
pub fn remember(
    db: &Db,
    audit: &AccessRecord,
    rules: &Rules,
    access_record_days: u32,
) -> Result<(), String> {
    let err = |e: veil_store::Error| e.to_string();
    let json = serde_json::to_string(rules).map_err(|e| e.to_string())?;
    let old_rules = db.setting(RULES_SETTING).map_err(err)?;
    let old_days = db.setting(ACCESS_RECORD_SETTING).map_err(err)?;
    let days = access_record_days.to_string();
    if old_rules.as_deref() == Some(json.as_str()) && old_days.as_deref() == Some(days.as_str()) {
        return Ok(());
    }
    let mut detail = String::new();
    for (key, _, _, v) in rules.bounded() {
        let _ = write!(detail, "{key}={v} ");
    }
    let _ = write!(detail, "access_record_days={access_record_days}");
    audit
        .append(Event::new("system", Audited::RetentionChange, "data_sets").detail(detail))
        .map_err(|e| format!("the data retention rules could not be recorded: {e}"))?;
    db.set_setting(RULES_SETTING, &json).map_err(err)?;
    db.set_setting(ACCESS_RECORD_SETTING, &days).map_err(err)
}

/// The recordings' rules: every camera's effective retention (its own, its
/// area's or the installation's, `veil_store::retention_rule`). The one
/// place this module reads them, for the listing and for motion events.
pub fn recording_rules(db: &Db) -> Result<retention_rule::Rules, veil_store::Error> {
    let installation = db
        .setting(retention_rule::INSTALLATION_SETTING)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_RECORDING_HOURS);
    db.retention_rules(installation)
}

/// What one run destroyed, per data set (only those with something
/// destroyed), in the order the job runs them.
pub type Destroyed = Vec<(&'static str, u64)>;

/// Records the destruction of `count` items of `data_set` (when there are
/// any), then destroys them with `destroy`; returns how many were destroyed.
fn destroy_recorded(
    audit: &AccessRecord,
    data_set: &'static str,
    count: u64,
    detail: String,
    destroy: impl FnOnce() -> Result<u64, veil_store::Error>,
) -> Result<u64, String> {
    if count == 0 {
        return Ok(0);
    }
    audit
        .append(
            Event::new(
                "system",
                Audited::RetentionDestroy,
                format!("data:{data_set}"),
            )
            .detail(format!("reason=retention count={count} {detail}")),
        )
        .map_err(|e| format!("{data_set}: refused, the destruction cannot be recorded: {e}"))?;
    destroy().map_err(|e| format!("{data_set}: {e}"))
}

/// Runs every data set's rule once at `now` (a blocking call): sessions,
/// four-eyes requests, API tokens, disabled accounts, bookmarks, motion
/// events, the access record. A data set that fails does not stop the
/// others; the error names each that failed (the next run tries again).
pub fn run_once(
    store: &Store,
    audit: &AccessRecord,
    sessions: SessionPolicy,
    now: Time90k,
) -> Result<Destroyed, String> {
    let db = &store.db;
    let (rules, audit_days) = stored_rules(db).map_err(|e| e.to_string())?;
    let before = |days: u32| Time90k(now.0 - i64::from(days) * DAY_90K);
    let mut done: Destroyed = Vec::new();
    let mut errors = Vec::new();
    let mut note = |name: &'static str, r: Result<u64, String>| match r {
        Ok(0) => {}
        Ok(n) => done.push((name, n)),
        Err(e) => errors.push(e),
    };
    let cut = |t: Time90k| format!("ended_before={}", t.to_rfc3339());

    let t = before(rules.sessions_days);
    let idle = sessions.idle_90k;
    note(
        "sessions",
        db.ended_session_count(t, idle)
            .map_err(|e| e.to_string())
            .and_then(|n| {
                destroy_recorded(audit, "sessions", n, cut(t), || {
                    db.delete_ended_sessions(t, idle)
                })
            }),
    );

    let t = before(rules.approvals_days);
    note(
        "approvals",
        db.ended_approval_count(t)
            .map_err(|e| e.to_string())
            .and_then(|n| {
                destroy_recorded(audit, "approvals", n, cut(t), || {
                    db.delete_ended_approvals(t)
                })
            }),
    );

    let t = before(rules.api_tokens_days);
    note(
        "api_tokens",
        db.ended_token_count(t)
            .map_err(|e| e.to_string())
            .and_then(|n| {
                destroy_recorded(audit, "api_tokens", n, cut(t), || db.delete_ended_tokens(t))
            }),
    );

    let t = before(rules.disabled_accounts_days);
    note(
        "disabled_accounts",
        db.start_disabled_countdowns(now)
            .and_then(|_| db.disabled_accounts_due(t))
            .map_err(|e| e.to_string())
            .and_then(|due| {
                let detail = format!("disabled_before={} users={}", t.to_rfc3339(), due.join(","));
                destroy_recorded(audit, "disabled_accounts", due.len() as u64, detail, || {
                    db.anonymise_disabled_accounts(&due, t, veil_access::password::ERASED_HASH, now)
                })
            }),
    );

    note("bookmarks", crate::bookmarks::expire(db, audit, now));

    // Data-subject requests: the description first (30 days after
    // closing by default), then the whole request (three years).
    let t = before(rules.request_descriptions_days);
    note(
        "request_descriptions",
        db.request_descriptions_due(t)
            .map_err(|e| e.to_string())
            .and_then(|(n, _)| {
                let detail = format!("part=description closed_before={}", t.to_rfc3339());
                destroy_recorded(audit, "requests", n, detail, || {
                    db.remove_request_descriptions(t, now)
                })
            }),
    );
    let t = before(rules.requests_days);
    note(
        "requests",
        db.closed_request_count(t)
            .map_err(|e| e.to_string())
            .and_then(|n| {
                let detail = format!("part=request closed_before={}", t.to_rfc3339());
                destroy_recorded(audit, "requests", n, detail, || {
                    db.delete_closed_requests(t)
                })
            }),
    );

    note("motion_events", motion_events(db, audit, now));

    // The cut-off moves by whole hours, so the record is pruned (and the
    // pruning recorded) at most once an hour, not at every run.
    let t = before(audit_days);
    let t = Time90k(t.0 - t.0.rem_euclid(HOUR_90K));
    note(
        "access_record",
        audit
            .prune("system", t)
            .map(|n| n as u64)
            .map_err(|e| format!("access_record: {e}")),
    );

    if errors.is_empty() {
        Ok(done)
    } else {
        Err(errors.join("; "))
    }
}

/// Motion events follow their camera's recordings: an event is deleted once
/// its end is older than the camera's retention (of its `main` rendition).
fn motion_events(db: &Db, audit: &AccessRecord, now: Time90k) -> Result<u64, String> {
    let err = |e: veil_store::Error| format!("motion_events: {e}");
    let rules = recording_rules(db).map_err(err)?;
    let mut due = Vec::new();
    for (camera, _) in db.motion_event_stats().map_err(err)? {
        let hours = rules.effective(camera, "main").hours;
        let t = Time90k(now.0 - i64::from(hours) * HOUR_90K);
        let n = db.ended_motion_event_count(camera, t).map_err(err)?;
        if n > 0 {
            due.push((camera, t, n));
        }
    }
    let total = due.iter().map(|d| d.2).sum();
    let detail = due
        .iter()
        .map(|(c, t, n)| format!("camera:{}:{n}:ended_before:{}", c.0, t.to_rfc3339()))
        .collect::<Vec<_>>()
        .join(",");
    destroy_recorded(
        audit,
        "motion_events",
        total,
        format!("cameras={detail}"),
        || {
            let mut n = 0;
            for (camera, t, _) in &due {
                n += db.delete_ended_motion_events(*camera, *t)?;
            }
            Ok(n)
        },
    )
}

/// Runs [`run_once`] at start and then every [`INTERVAL`] with the server's
/// clock, for ever. Logs counts only.
pub async fn run_periodically(
    store: Store,
    audit: AccessRecord,
    clock: SharedClock,
    sessions: SessionPolicy,
    guard: veil_store::leases::JobGuard,
) {
    let mut tick = tokio::time::interval(INTERVAL);
    loop {
        tick.tick().await;
        let (store, audit, now) = (store.clone(), audit.clone(), clock.now());
        let guard = guard.clone();
        // On a shared database: only while this node still holds the job
        // lease under its token (checked just before the pass).
        let pass = move || {
            guard.check().map_err(|e| e.to_string())?;
            run_once(&store, &audit, sessions, now)
        };
        match tokio::task::spawn_blocking(pass).await {
            Ok(Ok(d)) if d.is_empty() => {}
            Ok(Ok(d)) => {
                for (data_set, count) in d {
                    tracing::info!(data_set, count, "retention destroyed personal data");
                }
            }
            Ok(Err(e)) => tracing::error!(error = %e, "data retention failed; it runs again later"),
            Err(e) => tracing::error!(error = %e, "data retention task failed"),
        }
    }
}

// --- the listing ---

/// A rule, machine-readable: its kind and its length.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct RuleJson {
    /// `after_end` (kept `days` after the item ended), `after_creation`
    /// (kept `days` after it was made), `anonymised_after_disabling`
    /// (anonymised `days` after the account was disabled), `after_recording`
    /// (kept `hours` after its UTC hour ended), `with_recordings` (deleted
    /// with its camera's recordings of that time), `in_memory` (never
    /// written; forgotten `minutes` after the last event and at restart).
    pub kind: String,
    /// Days, for the kinds counted in days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    /// Hours, for recordings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hours: Option<u32>,
    /// Minutes, for login attempts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minutes: Option<u32>,
    /// Where a recording rule comes from: `camera`, `area` or
    /// `installation`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl RuleJson {
    fn days(kind: &str, days: u32) -> RuleJson {
        RuleJson {
            kind: kind.into(),
            days: Some(days),
            hours: None,
            minutes: None,
            source: None,
        }
    }
}

/// One data set (or one camera's recordings of one rendition).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DataSetJson {
    /// `recordings`, `motion_events`, `bookmarks`, `sessions`,
    /// `login_attempts`, `approvals`, `api_tokens`, `disabled_accounts`,
    /// `requests`, `request_descriptions` or `access_record`.
    pub data_set: String,
    /// For recordings: the camera's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub camera: Option<i64>,
    /// For recordings: the camera's name (absent once the camera is
    /// deleted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub camera_name: Option<String>,
    /// For recordings: the rendition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendition: Option<String>,
    /// The rule.
    pub rule: RuleJson,
    /// The rule in words (English; the page translates the rule itself).
    pub description: String,
    /// How many items the data set holds now.
    pub items: u64,
    /// When the oldest item was made (RFC 3339); absent when empty or not
    /// kept.
    pub oldest: Option<String>,
    /// When the next item is destroyed (RFC 3339; the next run of the job
    /// at the latest when it is already due); absent when nothing is due
    /// to end yet.
    pub next_destruction: Option<String>,
}

/// `GET /api/v1/retention`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RetentionList {
    /// As of this time (RFC 3339).
    pub now: String,
    /// Every data set: recordings per camera and rendition first.
    pub data_sets: Vec<DataSetJson>,
}

fn rfc(t: Option<Time90k>) -> Option<String> {
    t.map(Time90k::to_rfc3339)
}

/// The next destruction: the first end plus the retention, or `now` when
/// that has passed (the next run destroys it).
fn next(first_end: Option<Time90k>, keep_90k: i64, now: Time90k) -> Option<Time90k> {
    first_end.map(|e| Time90k(e.0.saturating_add(keep_90k).max(now.0)))
}

fn entry(
    data_set: &str,
    rule: RuleJson,
    description: String,
    stats: DataSetStats,
    next_destruction: Option<Time90k>,
) -> DataSetJson {
    DataSetJson {
        data_set: data_set.into(),
        camera: None,
        camera_name: None,
        rendition: None,
        rule,
        description,
        items: stats.items,
        oldest: rfc(stats.oldest),
        next_destruction: rfc(next_destruction),
    }
}

/// Every data set at `now` (a blocking call). `login_attempts` is how many
/// keys the in-memory login throttles track.
pub fn list(
    store: &Store,
    sessions: SessionPolicy,
    login_attempts: usize,
    now: Time90k,
) -> Result<RetentionList, veil_store::Error> {
    let db = &store.db;
    let (rules, audit_days) = stored_rules(db)?;
    let recording = recording_rules(db)?;
    let mut out = Vec::new();

    // Recordings: every camera (deleted ones while they have recordings),
    // per rendition recorded (`main` for a camera with none yet).
    let cameras = db.cameras()?;
    let mut seen = std::collections::HashSet::new();
    let mut scopes: Vec<(CameraId, String, DataSetStats)> = db.segment_stats()?;
    for (id, _, _) in &scopes {
        seen.insert(*id);
    }
    for c in &cameras {
        if !seen.contains(&c.id) {
            scopes.push((c.id, "main".into(), DataSetStats::default()));
        }
    }
    scopes.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    for (camera, rendition, stats) in scopes {
        let eff = recording.effective(camera, &rendition);
        let keep = i64::from(eff.hours) * HOUR_90K;
        let next_destruction = if stats.items == 0 {
            None
        } else {
            match db
                .bucket_keys_page(camera, &rendition, Time90k(i64::MIN), Time90k(i64::MAX), 1)?
                .first()
            {
                Some(b) => {
                    let last_end = db.bucket_segments(b.id)?.iter().map(|s| s.end).max();
                    let t = veil_store::retention::bucket_expiry(b.start, last_end, keep);
                    Some(Time90k(t.0.max(now.0)))
                }
                // Only keyless segments are left: the next run deletes them.
                None => Some(now),
            }
        };
        out.push(DataSetJson {
            data_set: "recordings".into(),
            camera: Some(camera.0),
            camera_name: cameras
                .iter()
                .find(|c| c.id == camera)
                .map(|c| c.name.clone()),
            rendition: Some(rendition),
            rule: RuleJson {
                kind: "after_recording".into(),
                days: None,
                hours: Some(eff.hours),
                minutes: None,
                source: Some(eff.source.as_str().into()),
            },
            description: format!(
                "Each hour of video is destroyed (its key first) {} hours after the hour ends \
                 ({} rule).",
                eff.hours,
                eff.source.as_str()
            ),
            items: stats.items,
            oldest: rfc(stats.oldest),
            next_destruction: rfc(next_destruction),
        });
    }

    // Motion events: with their camera's recordings.
    let mut motion = DataSetStats::default();
    let mut motion_next: Option<Time90k> = None;
    for (camera, s) in db.motion_event_stats()? {
        motion.items += s.items;
        motion.oldest = [motion.oldest, s.oldest].into_iter().flatten().min();
        let keep = i64::from(recording.effective(camera, "main").hours) * HOUR_90K;
        if let Some(t) = next(s.first_end, keep, now) {
            motion_next = Some(motion_next.map_or(t, |m| m.min(t)));
        }
    }
    out.push(entry(
        "motion_events",
        RuleJson {
            kind: "with_recordings".into(),
            days: None,
            hours: None,
            minutes: None,
            source: None,
        },
        "Deleted when their camera's retention has passed since the motion ended.".into(),
        motion,
        motion_next,
    ));

    let days =
        crate::bookmarks::retention_days(db).unwrap_or(crate::bookmarks::DEFAULT_RETENTION_DAYS);
    let s = db.bookmark_stats()?;
    out.push(entry(
        "bookmarks",
        RuleJson::days("after_creation", days),
        format!("Deleted {days} days after they were made."),
        s,
        next(s.first_end, 0, now),
    ));

    let d = rules.sessions_days;
    let s = db.session_stats(sessions.idle_90k)?;
    out.push(entry(
        "sessions",
        RuleJson::days("after_end", d),
        format!("Deleted {d} days after they end (expiry or idle timeout); logging out deletes at once."),
        s,
        next(s.first_end, i64::from(d) * DAY_90K, now),
    ));

    out.push(DataSetJson {
        oldest: None,
        next_destruction: None,
        ..entry(
            "login_attempts",
            RuleJson {
                kind: "in_memory".into(),
                days: None,
                hours: None,
                minutes: Some(LOGIN_ATTEMPT_MINUTES),
                source: None,
            },
            format!(
                "Failed logins are counted in memory only, forgotten {LOGIN_ATTEMPT_MINUTES} \
                 minutes after the last failure and at every restart; each attempt is also an \
                 entry of the access record, kept with it."
            ),
            DataSetStats {
                items: login_attempts as u64,
                ..DataSetStats::default()
            },
            None,
        )
    });

    let d = rules.approvals_days;
    let s = db.approval_stats()?;
    out.push(entry(
        "approvals",
        RuleJson::days("after_end", d),
        format!(
            "Four-eyes requests are deleted {d} days after they were refused, used or expired."
        ),
        s,
        next(s.first_end, i64::from(d) * DAY_90K, now),
    ));

    let d = rules.api_tokens_days;
    let s = db.token_stats()?;
    out.push(entry(
        "api_tokens",
        RuleJson::days("after_end", d),
        format!("Deleted {d} days after they expired or were revoked."),
        s,
        next(s.first_end, i64::from(d) * DAY_90K, now),
    ));

    let d = rules.disabled_accounts_days;
    let s = db.disabled_account_stats()?;
    out.push(entry(
        "disabled_accounts",
        RuleJson::days("anonymised_after_disabling", d),
        format!(
            "Anonymised {d} days after disabling: the name erased, the password unusable; the \
             pseudonym stays in the access record. Enabling the account again stops the count."
        ),
        s,
        // An account disabled before disabling times were kept starts its
        // count at the next run.
        match (s.items, s.first_end) {
            (0, _) => None,
            (_, Some(t)) => next(Some(t), i64::from(d) * DAY_90K, now),
            (_, None) => Some(Time90k(now.0 + i64::from(d) * DAY_90K)),
        },
    ));

    let d = rules.requests_days;
    let s = db.subject_request_stats()?;
    out.push(entry(
        "requests",
        RuleJson::days("after_closing", d),
        format!("Data-subject requests are deleted {d} days after they were completed or refused."),
        s,
        next(s.first_end, i64::from(d) * DAY_90K, now),
    ));
    let d = rules.request_descriptions_days;
    let (items, first) = db.request_descriptions_due(Time90k(i64::MAX))?;
    out.push(entry(
        "request_descriptions",
        RuleJson::days("after_closing", d),
        format!(
            "The person's own description (time, place, appearance) is removed from a request \
             {d} days after it was completed or refused."
        ),
        DataSetStats {
            items,
            oldest: None,
            first_end: first,
        },
        next(first, i64::from(d) * DAY_90K, now),
    ));

    let s = db.audit_stats()?;
    out.push(entry(
        "access_record",
        RuleJson::days("after_creation", audit_days),
        format!(
            "Entries are pruned {audit_days} days after they were written (at the next whole \
             hour), behind a signed anchor."
        ),
        s,
        next(
            s.oldest.map(|t| Time90k((t.0 / HOUR_90K + 1) * HOUR_90K)),
            i64::from(audit_days) * DAY_90K,
            now,
        ),
    ));

    Ok(RetentionList {
        now: now.to_rfc3339(),
        data_sets: out,
    })
}

/// `GET /api/v1/retention`: every data set with its rule, items, oldest
/// item and next destruction (`retention.admin`).
pub async fn get_list(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<RetentionList>, ApiError> {
    state.authorize(&s, Action::RetentionAdmin, Resource::System)?;
    let (store, sessions, now) = (state.store.clone(), state.sessions, state.now());
    let attempts = state.throttles.tracked();
    Ok(Json(
        blocking(move || Ok(list(&store, sessions, attempts, now)?)).await?,
    ))
}

/// `GET /admin/retention`: the table of data sets, filled by
/// `retention.js` from `GET /api/v1/retention`.
pub async fn page(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    state.authorize(&s, Action::RetentionAdmin, Resource::System)?;
    let sh = Shell::new(&state, &s, &headers, "/admin/retention").await?;
    let mut c = format!(
        "<h1>{}</h1>\n<p>{}</p>\n<p id=\"retention-message\" role=\"status\" hidden></p>\n\
<div class=\"table-scroll\">\n<table id=\"retention-table\">\n<caption>{}</caption>\n\
<thead><tr>",
        escape(sh.t("retention.title")),
        escape(sh.t("retention.intro")),
        escape(sh.t("retention.caption")),
    );
    for key in [
        "retention.data_set",
        "retention.rule",
        "retention.items",
        "retention.oldest",
        "retention.next",
    ] {
        let _ = write!(c, "<th scope=\"col\">{}</th>", escape(sh.t(key)));
    }
    c.push_str("</tr></thead>\n<tbody id=\"retention-rows\"></tbody>\n</table>\n</div>\n");
    Ok(sh.page(sh.t("retention.title"), "retention.js", &c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_have_defaults_and_bounds_named_by_key() {
        let r: Rules = toml_like("{}");
        assert_eq!(r, Rules::default());
        assert_eq!(r.disabled_accounts_days, 60);
        assert!(r.check().is_ok());
        let e = Rules {
            sessions_days: 31,
            ..Rules::default()
        }
        .check()
        .unwrap_err();
        assert!(e.contains("data_retention.sessions_days"), "{e}");
        let e = Rules {
            disabled_accounts_days: 0,
            ..Rules::default()
        }
        .check()
        .unwrap_err();
        assert!(e.contains("data_retention.disabled_accounts_days"), "{e}");
        assert!(Rules {
            approvals_days: 731,
            ..Rules::default()
        }
        .check()
        .unwrap_err()
        .contains("approvals_days"));
        assert!(serde_json::from_str::<Rules>(r#"{"session_days": 1}"#).is_err());
    }

    fn toml_like(json: &str) -> Rules {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_next_destruction_is_never_in_the_past() {
        let now = Time90k(1_000 * DAY_90K);
        assert_eq!(next(None, DAY_90K, now), None);
        assert_eq!(
            next(Some(Time90k(now.0 - 3 * DAY_90K)), DAY_90K, now),
            Some(now)
        );
        assert_eq!(
            next(Some(Time90k(now.0 - DAY_90K)), 3 * DAY_90K, now),
            Some(Time90k(now.0 + 2 * DAY_90K))
        );
    }
}
