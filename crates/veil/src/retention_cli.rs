//! Retention of recordings: the job the server runs every few minutes and
//! `veil retention plan|run`. Each batch is recorded in the access record
//! (`retention.destroy`, one entry per camera) before anything is destroyed;
//! the store then destroys the bucket keys, deletes the rows, then the
//! objects (`docs/design/retention.md`, "Order of steps").

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use veil_audit::{AccessRecord, Action, Event};
use veil_base::{CameraId, SharedClock, Time90k};
use veil_store::retention::Plan;
use veil_store::retention_rule::{Rules, Source};
use veil_store::{RetentionReport, Store, MAIN_RENDITION};

use crate::audit_cli::CLI_ACTOR;
use crate::DEFAULT_DATA;

/// Bucket keys destroyed per batch (one transaction, one WAL truncation).
pub const BATCH: usize = 64;
/// How often the server runs retention.
pub const INTERVAL: std::time::Duration = std::time::Duration::from_secs(5 * 60);
/// The `setting` row holding the retention the server runs with, in hours,
/// so the command line applies the same rule.
pub const RETENTION_SETTING: &str = veil_store::retention_rule::INSTALLATION_SETTING;
/// The `setting` row holding the longest retention anyone may set, in hours
/// (read by the camera retention API).
pub const MAX_RETENTION_SETTING: &str = veil_store::retention_rule::MAX_SETTING;
/// Batches one run destroys at most before it yields to the next run.
const MAX_BATCHES: usize = 10_000;

#[derive(Subcommand)]
pub enum RetentionCommand {
    /// Print what retention would destroy next and why: per camera, the hours
    /// and segments due, and the next expiry. Needs the server stopped.
    Plan {
        /// The data directory.
        #[arg(long, default_value = DEFAULT_DATA)]
        data: PathBuf,
        /// Plan as of this time (RFC 3339) instead of now: for tests and for
        /// audits of what a plan would do.
        #[arg(long, hide = true)]
        now: Option<String>,
        /// The server's configuration file, for its `[database]`, `[objects]`
        /// and `[root_key]` sections (as `veil check --config`).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Destroy what retention has due now (recorded as actor `cli`). Needs the
    /// server stopped.
    Run {
        /// The data directory.
        #[arg(long, default_value = DEFAULT_DATA)]
        data: PathBuf,
        /// Run as of this time (RFC 3339) instead of now: for tests and for
        /// audits of a plan.
        #[arg(long, hide = true)]
        now: Option<String>,
        /// The server's configuration file, for its `[database]`, `[objects]`
        /// and `[root_key]` sections (as `veil check --config`).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// One retention for every camera and rendition, in 90 kHz units (for
/// benchmarks and tests; the server and the command line use
/// [`current_rules`]).
pub fn rule(hours: u32) -> impl Fn(CameraId, &str) -> i64 + Send + Sync + Clone + 'static {
    let keep = i64::from(hours) * 3600 * veil_base::TIME_UNITS_PER_SEC;
    move |_, _| keep
}

/// Every camera's effective retention as of now (its own rule, else its
/// area's, else the installation's stored retention): read once per run.
pub fn current_rules(store: &Store) -> anyhow::Result<Rules> {
    Ok(store.db.retention_rules(stored_retention(store)?)?)
}

/// Stores the longest retention anyone may set (`max_retention_hours`), so
/// the camera retention API applies it.
pub fn remember_max_retention(store: &Store, hours: u32) -> anyhow::Result<()> {
    store
        .db
        .set_setting(MAX_RETENTION_SETTING, &hours.to_string())?;
    Ok(())
}

/// Stores the `[masks]` settings the web layer and retention read (the
/// `original` rendition's default retention, a lift grant's lifetime),
/// recording a change of either as `config.retention` first.
pub fn remember_masks(
    store: &Store,
    audit: &AccessRecord,
    masks: &crate::config::Masks,
) -> anyhow::Result<()> {
    for (key, value, resource) in [
        (
            veil_store::retention_rule::ORIGINAL_SETTING,
            masks.original_retention_hours,
            "recordings",
        ),
        (
            veil_web::lift::GRANT_MINUTES_SETTING,
            masks.lift_grant_minutes,
            "masks",
        ),
    ] {
        let old = store.db.setting(key)?;
        if old.as_deref() == Some(value.to_string().as_str()) {
            continue;
        }
        audit
            .append(
                Event::new("system", Action::RetentionChange, resource).detail(format!(
                    "{key}={value} previous={} source=configuration",
                    old.as_deref().unwrap_or("unset")
                )),
            )
            .context("the [masks] settings could not be recorded")?;
        store.db.set_setting(key, &value.to_string())?;
    }
    Ok(())
}

/// Sets the areas of the cameras from the configuration file, recording
/// each change as `camera.update` first.
pub fn remember_areas(
    store: &Store,
    audit: &AccessRecord,
    areas: &[(CameraId, String)],
) -> anyhow::Result<()> {
    for (id, area) in areas {
        let old = store.db.camera_area(*id)?;
        if old.as_deref() == Some(area.as_str()) {
            continue;
        }
        audit
            .append(
                Event::new("system", Action::CameraUpdate, format!("camera:{}", id.0)).detail(
                    format!(
                        "area={area} previous_area={} source=configuration",
                        old.as_deref().unwrap_or("unset")
                    ),
                ),
            )
            .context("the camera's area could not be recorded")?;
        store.db.set_camera_area(*id, area)?;
    }
    Ok(())
}

/// Stores the retention the server runs with, recording a change as
/// `config.retention` first.
pub fn remember_retention(
    store: &Store,
    audit: &AccessRecord,
    hours: u32,
    justification: Option<&str>,
) -> anyhow::Result<()> {
    let old = store.db.setting(RETENTION_SETTING)?;
    if old.as_deref() == Some(hours.to_string().as_str()) {
        return Ok(());
    }
    let mut detail = format!(
        "hours={hours} previous={}",
        old.as_deref().unwrap_or("unset")
    );
    if let Some(j) = justification {
        let _ = write!(detail, " justification={:?}", j.trim());
    }
    audit
        .append(Event::new("system", Action::RetentionChange, "recordings").detail(detail))
        .context("the retention setting could not be recorded")?;
    store
        .db
        .set_setting(RETENTION_SETTING, &hours.to_string())?;
    Ok(())
}

/// The retention stored by the server (the default if it never ran).
fn stored_retention(store: &Store) -> anyhow::Result<u32> {
    Ok(match store.db.setting(RETENTION_SETTING)? {
        Some(v) => v
            .parse()
            .with_context(|| format!("the stored retention {v:?} is not a number of hours"))?,
        None => crate::config::DEFAULT_RETENTION_HOURS,
    })
}

/// Records a plan's batch: one `retention.destroy` entry per camera, with
/// counts and the time range, and no personal data.
fn record_batch(audit: &AccessRecord, actor: &str, plan: &Plan) -> anyhow::Result<()> {
    for c in &plan.cameras {
        audit
            .append(
                Event::new(
                    actor,
                    Action::RetentionDestroy,
                    format!("camera:{}", c.camera.0),
                )
                .detail(format!(
                    "reason=retention hours={} segments={} from={} to={}",
                    c.hours,
                    c.segments,
                    c.start.to_rfc3339(),
                    c.end.to_rfc3339()
                )),
            )
            .context("refused: the destruction cannot be recorded")?;
    }
    Ok(())
}

/// Plans and applies retention at `now` in batches until nothing more is
/// due, recording each batch before destroying it. Returns the totals.
pub async fn run_due(
    store: &Store,
    audit: &AccessRecord,
    actor: &str,
    now: Time90k,
    retention: impl Fn(CameraId, &str) -> i64 + Send + Sync + Clone + 'static,
) -> anyhow::Result<RetentionReport> {
    let mut total = RetentionReport::default();
    for _ in 0..MAX_BATCHES {
        // No lock or hold is made or released between this plan and its
        // destruction.
        let _gate = store.destruction_gate().await;
        let (s, r) = (store.clone(), retention.clone());
        let plan = tokio::task::spawn_blocking(move || {
            s.retention_plan(now, r, &s.active_protections()?, BATCH)
        })
        .await??;
        if plan.is_empty() {
            break;
        }
        let (a, p, who) = (audit.clone(), plan.clone(), actor.to_owned());
        tokio::task::spawn_blocking(move || record_batch(&a, &who, &p)).await??;
        veil_store::crash_point("retention.recorded");
        let r = store.apply_retention(&plan).await?;
        total += r;
        let full = plan.next_expiry.is_some_and(|t| t <= now);
        if !full || r == RetentionReport::default() {
            break;
        }
    }
    Ok(total)
}

/// Reads the rules, then plans and applies retention at `now` (see
/// [`run_due`]).
pub async fn run_now(
    store: &Store,
    audit: &AccessRecord,
    actor: &str,
    now: Time90k,
) -> anyhow::Result<RetentionReport> {
    crate::lock_review::review_due(store, audit, actor, now).await?;
    let s = store.clone();
    let rules = tokio::task::spawn_blocking(move || current_rules(&s)).await??;
    let mut total = run_due(store, audit, actor, now, rules.keep_90k()).await?;
    // Then the storage quotas, with what retention left.
    let q = veil_web::quotas::enforce(store, audit, actor, now)
        .await
        .map_err(anyhow::Error::msg)?;
    total += q.destroyed;
    Ok(total)
}

/// The server's retention job: at start, then every [`INTERVAL`], with the
/// server's clock and the rules in force at each run. Logs counts only.
pub async fn run_periodically(
    store: Store,
    audit: AccessRecord,
    clock: SharedClock,
    guard: veil_store::leases::JobGuard,
) {
    let mut tick = tokio::time::interval(INTERVAL);
    loop {
        tick.tick().await;
        // On a shared database: only while this node still holds the job
        // lease under its token (checked just before the pass).
        let g = guard.clone();
        match tokio::task::spawn_blocking(move || g.check()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "retention not run");
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "retention not run");
                continue;
            }
        }
        match run_now(&store, &audit, "system", clock.now()).await {
            Ok(r) if r == RetentionReport::default() => {}
            Ok(r) => tracing::info!(
                keys = r.keys_destroyed,
                segments = r.segments_deleted,
                objects = r.objects_deleted,
                bytes = r.bytes_freed,
                "retention destroyed expired recordings"
            ),
            Err(e) => tracing::error!(error = %e, "retention failed; it runs again later"),
        }
    }
}

/// What `veil retention plan` prints: the installation's retention and
/// every camera's that differs, then per camera what is due and its time
/// range, then the next expiry.
pub fn format_plan(
    plan: &Plan,
    names: &HashMap<CameraId, String>,
    rules: &Rules,
    now: Time90k,
) -> String {
    let mut out = format!(
        "retention: {} hours (plan as of {})\n",
        rules.installation_hours,
        now.to_rfc3339()
    );
    let name = |c: CameraId| {
        names
            .get(&c)
            .map_or_else(|| format!("camera {}", c.0), |n| format!("{n:?}"))
    };
    let mut ids: Vec<CameraId> = names.keys().copied().collect();
    ids.sort();
    for c in ids {
        let e = rules.effective(c, MAIN_RENDITION);
        if e.source != Source::Installation {
            let _ = writeln!(
                out,
                "{}: {} hours ({} rule)",
                name(c),
                e.hours,
                e.source.as_str()
            );
        }
    }
    if plan.is_empty() {
        out.push_str("nothing is due\n");
    }
    for c in &plan.cameras {
        let hours = rules.effective(c.camera, MAIN_RENDITION).hours;
        let _ = writeln!(
            out,
            "{}: {} hour{} and {} segment{} due, recorded {} to {} (kept {hours} hours after the end of their hour)",
            name(c.camera),
            c.hours,
            if c.hours == 1 { "" } else { "s" },
            c.segments,
            if c.segments == 1 { "" } else { "s" },
            c.start.to_rfc3339(),
            c.end.to_rfc3339(),
        );
    }
    match plan.next_expiry {
        Some(t) if t <= now && !plan.is_empty() => out.push_str("more is due after this batch\n"),
        Some(t) => {
            let _ = writeln!(out, "next expiry: {}", t.to_rfc3339());
        }
        None => out.push_str("next expiry: none (no recordings)\n"),
    }
    out
}

fn parse_now(now: Option<&str>) -> anyhow::Result<Option<Time90k>> {
    now.map(|s| {
        Time90k::parse_rfc3339(s).with_context(|| format!("--now {s:?} is not an RFC 3339 time"))
    })
    .transpose()
}

async fn open(
    data: &Path,
    now: Option<&str>,
    config: Option<&Path>,
) -> anyhow::Result<(Store, AccessRecord, Time90k)> {
    let now = parse_now(now)?;
    let (store, record) = crate::open::installation(data, config).await?;
    let now = now.unwrap_or_else(|| store.clock().now());
    Ok((store, record, now))
}

/// Runs a `veil retention` subcommand.
pub async fn run(cmd: RetentionCommand) -> anyhow::Result<()> {
    match cmd {
        RetentionCommand::Plan { data, now, config } => {
            let (store, _, now) = open(&data, now.as_deref(), config.as_deref()).await?;
            let rules = current_rules(&store)?;
            let (s, keep) = (store.clone(), rules.clone().keep_90k());
            let plan = tokio::task::spawn_blocking(move || {
                s.retention_plan(now, keep, &s.active_protections()?, BATCH)
            })
            .await??;
            let names = store
                .db
                .cameras()?
                .into_iter()
                .map(|c| (c.id, c.name))
                .collect();
            print!("{}", format_plan(&plan, &names, &rules, now));
        }
        RetentionCommand::Run { data, now, config } => {
            let (store, record, now) = open(&data, now.as_deref(), config.as_deref()).await?;
            let r = run_now(&store, &record, CLI_ACTOR, now).await?;
            println!(
                "destroyed: {} bucket keys, {} segments, {} objects, {} bytes freed",
                r.keys_destroyed, r.segments_deleted, r.objects_deleted, r.bytes_freed
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use veil_base::TIME_UNITS_PER_SEC;
    use veil_store::retention::CameraSummary;

    const HOUR: i64 = 3600 * TIME_UNITS_PER_SEC;

    #[test]
    fn configuration_areas_and_the_maximum_are_stored_and_changes_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let clock: SharedClock = std::sync::Arc::new(veil_base::SimulatedClock::new(Time90k(
            1_795_000_000 * TIME_UNITS_PER_SEC,
        )));
        let store = Store::open_dir(dir.path(), clock.clone()).unwrap();
        let audit = AccessRecord::new(
            store.db.clone(),
            clock.clone(),
            veil_audit::ClientAddressPolicy::None,
        )
        .unwrap();
        let a = store
            .db
            .upsert_camera("a", "synthetic", "{}", clock.now())
            .unwrap();
        let b = store
            .db
            .upsert_camera("b", "synthetic", "{}", clock.now())
            .unwrap();
        let areas = [(a, "public_facing".to_owned()), (b, "private".to_owned())];
        remember_areas(&store, &audit, &areas).unwrap();
        remember_max_retention(&store, 2000).unwrap();
        assert_eq!(
            store.db.camera_area(a).unwrap().as_deref(),
            Some("public_facing")
        );
        assert_eq!(
            store.db.setting(MAX_RETENTION_SETTING).unwrap().as_deref(),
            Some("2000")
        );
        let entries = store.db.audit_entries(0, 100).unwrap();
        assert_eq!(entries.len(), 1, "an unchanged area is not recorded");
        assert_eq!(
            (entries[0].action.as_str(), entries[0].resource.as_str()),
            ("camera.update", format!("camera:{}", a.0).as_str())
        );
        assert_eq!(
            entries[0].detail,
            "area=public_facing previous_area=private source=configuration"
        );
        // The same configuration again records nothing.
        remember_areas(&store, &audit, &areas).unwrap();
        assert_eq!(store.db.audit_entries(0, 100).unwrap().len(), 1);
        // The rules retention runs with see the area.
        let rules = current_rules(&store).unwrap();
        assert_eq!(rules.effective(a, MAIN_RENDITION).hours, 48);
        assert_eq!(rules.effective(b, MAIN_RENDITION).hours, 168);
    }

    #[test]
    fn the_plan_printer_says_what_is_due_per_camera_and_when_next() {
        let t0 = Time90k::parse_rfc3339("2026-03-01T10:00:00.000Z").unwrap();
        let now = Time90k(t0.0 + 30 * HOUR);
        let plan = Plan {
            destroy_keys: vec![1, 2, 3],
            delete_segments: (1..=7).map(veil_base::SegmentId).collect(),
            protected: Vec::new(),
            closed_buckets: true,
            reason: "",
            next_expiry: Some(Time90k(now.0 + HOUR)),
            cameras: vec![
                CameraSummary {
                    camera: CameraId(1),
                    hours: 2,
                    segments: 6,
                    start: t0,
                    end: Time90k(t0.0 + 2 * HOUR),
                },
                CameraSummary {
                    camera: CameraId(7),
                    hours: 1,
                    segments: 1,
                    start: t0,
                    end: Time90k(t0.0 + HOUR),
                },
            ],
        };
        let names = HashMap::from([(CameraId(1), "Entrance".to_owned())]);
        let rules = Rules {
            installation_hours: 24,
            ..Rules::default()
        };
        let text = format_plan(&plan, &names, &rules, now);
        assert_eq!(
            text,
            "retention: 24 hours (plan as of 2026-03-02T16:00:00.000Z)\n\
             \"Entrance\": 2 hours and 6 segments due, recorded 2026-03-01T10:00:00.000Z to \
             2026-03-01T12:00:00.000Z (kept 24 hours after the end of their hour)\n\
             camera 7: 1 hour and 1 segment due, recorded 2026-03-01T10:00:00.000Z to \
             2026-03-01T11:00:00.000Z (kept 24 hours after the end of their hour)\n\
             next expiry: 2026-03-02T17:00:00.000Z\n"
        );
        let full = Plan {
            next_expiry: Some(now),
            ..plan.clone()
        };
        assert!(format_plan(&full, &names, &rules, now).ends_with("more is due after this batch\n"));
        let empty = Plan {
            next_expiry: Some(Time90k(now.0 + HOUR)),
            ..Plan::default()
        };
        assert_eq!(
            format_plan(&empty, &names, &rules, now),
            "retention: 24 hours (plan as of 2026-03-02T16:00:00.000Z)\nnothing is due\n\
             next expiry: 2026-03-02T17:00:00.000Z\n"
        );
        assert!(format_plan(&Plan::default(), &names, &rules, now).contains("none (no recordings)"));
        // A camera with its own rule, or a public-facing one, is named with
        // its retention, and its due hours say how long they were kept.
        let rules = Rules {
            installation_hours: 168,
            areas: HashMap::from([(CameraId(7), "public_facing".to_owned())]),
            own: HashMap::from([((CameraId(1), "main".to_owned()), 2)]),
            original_hours: None,
        };
        let names = HashMap::from([
            (CameraId(1), "Entrance".to_owned()),
            (CameraId(7), "Street".to_owned()),
        ]);
        let text = format_plan(&plan, &names, &rules, now);
        assert!(
            text.starts_with(
                "retention: 168 hours (plan as of 2026-03-02T16:00:00.000Z)\n\
                 \"Entrance\": 2 hours (camera rule)\n\
                 \"Street\": 48 hours (area rule)\n"
            ),
            "{text}"
        );
        assert!(text.contains("(kept 2 hours after"), "{text}");
        assert!(text.contains("(kept 48 hours after"), "{text}");
    }
}
