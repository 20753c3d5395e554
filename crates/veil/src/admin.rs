//! Data-directory commands that change or read people's data: erasing a
//! user's name (`veil admin erase-user`) and the access-record report
//! (`veil audit report`). Both take the data directory's lock (the server must
//! be stopped) and record what they do with actor `cli` before doing it.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use veil_audit::report::{self, Shifts};
use veil_audit::{AccessRecord, Action, ClientAddressPolicy, Event};
use veil_base::{SystemClock, Time90k};
use veil_store::Store;

/// The actor recorded for commands run on the command line.
const CLI_ACTOR: &str = "cli";

/// Output formats of `veil audit report`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// The report as JSON.
    Json,
    /// One CSV table (RFC 4180).
    Csv,
    /// A standalone HTML page.
    Html,
}

/// Opens an existing data directory (never creates one) and its access record.
fn open(data: &Path) -> anyhow::Result<(Store, AccessRecord)> {
    if !data.join("veil.db").exists() {
        anyhow::bail!(
            "{} is not a Veil data directory (no veil.db)",
            data.display()
        );
    }
    let clock = Arc::new(SystemClock);
    let store = Store::open_dir(data, clock.clone())
        .with_context(|| format!("cannot open data directory {}", data.display()))?;
    let record = AccessRecord::new(store.db.clone(), clock, ClientAddressPolicy::None);
    Ok((store, record))
}

/// `veil admin erase-user`: `who` is a login name or a pseudonym. Prints the
/// pseudonym that stays in the record.
pub fn erase_user(data: &Path, who: &str) -> anyhow::Result<()> {
    let (store, record) = open(data)?;
    let user = match store.db.user_by_name(who)? {
        Some(u) => u,
        None => store
            .db
            .user_by_pseudonym(who)?
            .context("no user has this name or pseudonym")?,
    };
    let pseudonym = user.pseudonym;
    record
        .append(Event::new(
            CLI_ACTOR,
            Action::UserErase,
            format!("user:{pseudonym}"),
        ))
        .context("the erasure could not be recorded, so it was not done")?;
    store
        .db
        .erase_user(&pseudonym, veil_access::password::ERASED_HASH)?;
    println!("erased: {pseudonym} (name removed, account disabled, sessions ended)");
    Ok(())
}

fn parse_time(flag: &str, v: &str) -> anyhow::Result<Time90k> {
    Time90k::parse_rfc3339(v).with_context(|| {
        format!("{flag} must be an RFC 3339 time such as 2026-11-23T00:00:00Z, got {v:?}")
    })
}

/// `veil audit report`: key indicators of `[from, to)` on stdout.
pub fn audit_report(
    data: &Path,
    from: &str,
    to: &str,
    format: ReportFormat,
    shifts: Option<&Path>,
) -> anyhow::Result<()> {
    let (from, to) = (parse_time("--from", from)?, parse_time("--to", to)?);
    if to <= from {
        anyhow::bail!("--to must be after --from");
    }
    let shifts: Shifts = match shifts {
        None => Shifts::new(),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            report::parse_shifts(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
        }
    };
    let (store, record) = open(data)?;
    let format_id = match format {
        ReportFormat::Json => "json",
        ReportFormat::Csv => "csv",
        ReportFormat::Html => "html",
    };
    record
        .append(
            Event::new(CLI_ACTOR, Action::DocumentGenerate, "audit_report").detail(format!(
                "from={} to={} format={format_id}",
                from.to_rfc3339(),
                to.to_rfc3339()
            )),
        )
        .context("the report could not be recorded, so it was not produced")?;
    let r = veil_audit::read::stored_report(&store.db, from, to, shifts)?;
    let out = match format {
        ReportFormat::Json => serde_json::to_string_pretty(&r)? + "\n",
        ReportFormat::Csv => report::to_csv(&r),
        ReportFormat::Html => report::to_html(&r),
    };
    print!("{out}");
    Ok(())
}
