//! `veil audit …`: verify, export, and show the audit public key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use veil_audit::checkpoint::{self, fingerprint, AuditKey};
use veil_audit::report::{self, Shifts};
use veil_audit::{AccessRecord, Action, ClientAddressPolicy, Event, VerifyOptions, VerifyReport};
use veil_base::Time90k;
use veil_store::{DataDir, Db};

use crate::open::Access;
use crate::DEFAULT_DATA;

/// Actor recorded for commands run on the data directory.
pub const CLI_ACTOR: &str = "cli";

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain and every signed checkpoint; exits non-zero naming
    /// the first bad sequence number.
    Verify {
        /// The data directory.
        #[arg(long, default_value = DEFAULT_DATA)]
        data: PathBuf,
        /// First sequence number to check (default: the first kept).
        #[arg(long)]
        from: Option<i64>,
        /// Last sequence number to check (default: the last).
        #[arg(long)]
        to: Option<i64>,
        /// The audit public key (64 hex digits, or a PEM file). Default: the
        /// one of the data directory's audit key.
        #[arg(long)]
        public_key: Option<String>,
        /// Also check the checkpoint copies in this external sink file.
        #[arg(long)]
        checkpoints: Option<PathBuf>,
        /// Verify an export file instead, with no database.
        #[arg(long, conflicts_with_all = ["from", "to", "checkpoints"])]
        file: Option<PathBuf>,
        /// The server's configuration file, for its `[objects]` and
        /// `[database]` sections: the recordings' objects are read where it
        /// keeps them (an S3 bucket), the access record from its PostgreSQL
        /// database. Default: `objects/` and `veil.db` in the data directory.
        #[arg(long, conflicts_with = "file")]
        config: Option<PathBuf>,
    },
    /// Write entries as JSON Lines with their signed checkpoints and the public
    /// key, for verification elsewhere (recorded as an audit export).
    Export {
        /// The data directory.
        #[arg(long, default_value = DEFAULT_DATA)]
        data: PathBuf,
        /// First sequence number (default: the first kept).
        #[arg(long)]
        from: Option<i64>,
        /// Last sequence number (default: the last; extended to the next
        /// checkpoint).
        #[arg(long)]
        to: Option<i64>,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The server's configuration file, for its `[database]` section (the
        /// access record in PostgreSQL). Default: `veil.db` in the data directory.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Key indicators per user, camera and day over [--from, --to), on stdout.
    /// Recorded as `document.generate`; needs the server stopped.
    Report {
        /// The data directory.
        #[arg(long, default_value = DEFAULT_DATA)]
        data: PathBuf,
        /// Start of the period, RFC 3339 (included).
        #[arg(long)]
        from: String,
        /// End of the period, RFC 3339 (excluded).
        #[arg(long)]
        to: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "json")]
        format: ReportFormat,
        /// Working times, JSON: {"u-…": {"utc_offset_minutes": 60,
        /// "weekly": ["mon 08:00-16:00", …]}}; accesses outside them are counted.
        #[arg(long)]
        shifts: Option<PathBuf>,
        /// The server's configuration file, for its `[root_key]`, `[objects]`
        /// and `[database]` sections. Default: the files in the data directory.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print the audit public key (PEM) and its fingerprint.
    Key {
        /// The data directory.
        #[arg(long, default_value = DEFAULT_DATA)]
        data: PathBuf,
    },
}

/// Runs an audit subcommand.
pub fn run(cmd: AuditCommand) -> anyhow::Result<()> {
    match cmd {
        AuditCommand::Verify {
            data,
            from,
            to,
            public_key,
            checkpoints,
            file,
            config,
        } => {
            let pinned = public_key.as_deref().map(read_public_key).transpose()?;
            let report = match file {
                Some(f) => {
                    let text = std::fs::read_to_string(&f)
                        .with_context(|| format!("cannot read {}", f.display()))?;
                    veil_audit::verify::verify_export(&text, pinned)?
                }
                None => {
                    let db = crate::open::database(&data, config.as_deref(), Access::Read, false)?;
                    let external = match checkpoints {
                        Some(p) => checkpoint::read_sink_file(&p)
                            .map_err(|e| anyhow::anyhow!("checkpoint file {e}"))?,
                        None => Vec::new(),
                    };
                    let trusted_key = match pinned {
                        Some(k) => Some(k),
                        None => data_dir_public_key(&data)?,
                    };
                    let opts = VerifyOptions {
                        from,
                        to,
                        trusted_key,
                        external,
                    };
                    let report = veil_audit::verify_stored(&db, &opts)?;
                    print_report(&report);
                    return verify_recordings(&db, &data, config.as_deref());
                }
            };
            print_report(&report);
            Ok(())
        }
        AuditCommand::Export {
            data,
            from,
            to,
            out,
            config,
        } => export(&data, config.as_deref(), from, to, out.as_deref()),
        AuditCommand::Report {
            data,
            from,
            to,
            format,
            shifts,
            config,
        } => audit_report(
            &data,
            config.as_deref(),
            &from,
            &to,
            format,
            shifts.as_deref(),
        ),
        AuditCommand::Key { data } => {
            let key = data_dir_public_key(&data)?
                .ok_or_else(|| anyhow::anyhow!("{} has no audit key yet", data.display()))?;
            print!("{}", checkpoint::public_key_pem(&key));
            println!("fingerprint: {}", fingerprint(&key));
            Ok(())
        }
    }
}

pub(crate) fn print_report(r: &VerifyReport) {
    println!(
        "ok: {} access-record entries verified (sequence {} to {})",
        r.entries, r.first_seq, r.last_seq
    );
    if let Some(k) = &r.key {
        println!(
            "{} signatures checked against audit key {k}; signed up to sequence {}",
            r.checkpoints, r.signed_up_to
        );
    }
    if let Some(p) = r.pruned_up_to {
        println!("entries up to sequence {p} were pruned behind a signed anchor");
    }
    if r.last_seq > r.signed_up_to {
        println!(
            "entries after sequence {} are not yet covered by a signed checkpoint",
            r.signed_up_to
        );
    }
}

/// The recording integrity chains of a data directory: links, rows,
/// objects (each read and hashed) and the signed heads.
pub(crate) fn verify_recordings(db: &Db, data: &Path, config: Option<&Path>) -> anyhow::Result<()> {
    let s3 = match config {
        Some(c) => crate::config::objects_of(c)?.s3,
        None => None,
    };
    let r = match s3 {
        None => {
            let objects = DataDir {
                root: data.to_owned(),
            }
            .objects();
            veil_store::chain_store::verify_chains(db, &mut |key| {
                veil_store::chain_store::read_local_object(&objects, key)
            })
        }
        Some(s3) => {
            // The objects in the bucket, read one at a time (the check is
            // sequential, like the local one).
            use veil_store::ObjectStore as _;
            let objects = veil_store::S3Objects::open(&s3, &s3.credentials()?)?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            veil_store::chain_store::verify_chains(db, &mut |key| match rt
                .block_on(objects.get(key))
            {
                Ok(b) => Ok(Some(b)),
                Err(veil_store::Error::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
            })
        }
    }
    .map_err(|e| anyhow::anyhow!("recording chain broken: {e}"))?;
    let signed = veil_audit::verify_recording_heads(db)
        .map_err(|e| anyhow::anyhow!("recording chain broken: {e}"))?;
    println!(
        "ok: {} recording chains verified: {} links, {} segment rows, {} objects hashed; \
         {signed} chains' heads signed in the access record",
        r.chains, r.links, r.segments, r.objects
    );
    for (reason, (links, segments)) in &r.removals {
        println!("removals ({reason}): {links} links removing {segments} segments");
    }
    for e in &r.erasures {
        println!("erasure: {e}");
    }
    if r.unchained > 0 {
        println!(
            "{} segment rows are not in a chain yet (stored before it; chained at the next start)",
            r.unchained
        );
    }
    if r.unreadable > 0 {
        println!(
            "{} segment rows are marked missing or corrupt and have no object (see `veil check`)",
            r.unreadable
        );
    }
    Ok(())
}

/// The public half of the data directory's audit key, if it has one.
pub(crate) fn data_dir_public_key(data: &Path) -> anyhow::Result<Option<[u8; 32]>> {
    let path = DataDir {
        root: data.to_owned(),
    }
    .audit_key();
    if !path.exists() {
        return Ok(None);
    }
    let text = veil_store::keys::read_secret_file(&path, "audit key")?;
    Ok(Some(AuditKey::from_pem(&text)?.public_key()))
}

fn read_public_key(arg: &str) -> anyhow::Result<[u8; 32]> {
    if let Some(k) = checkpoint::parse_public_key(arg) {
        return Ok(k);
    }
    let text = std::fs::read_to_string(arg).with_context(|| {
        format!("--public-key is neither 64 hex digits nor a readable PEM file: {arg}")
    })?;
    checkpoint::parse_public_key(&text)
        .ok_or_else(|| anyhow::anyhow!("{arg} does not hold an Ed25519 PEM public key"))
}

/// Records the export, signs a checkpoint covering the tail, then writes.
fn export(
    data: &Path,
    config: Option<&Path>,
    from: Option<i64>,
    to: Option<i64>,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let dir = DataDir {
        root: data.to_owned(),
    };
    // The database first: a directory without one gets no audit key.
    let db = crate::open::database(data, config, Access::Write, false)?;
    let key = Arc::new(AuditKey::load_or_create(&dir.audit_key())?);
    let record = AccessRecord::open(
        db.clone(),
        Arc::new(veil_base::SystemClock),
        ClientAddressPolicy::None,
        Some(veil_audit::Checkpointing {
            key: key.clone(),
            every_entries: u64::MAX,
            every: std::time::Duration::from_secs(3600),
            sink: None,
        }),
    )?;
    let range = format!(
        "from={} to={}",
        from.map_or("first".into(), |v| v.to_string()),
        to.map_or("last".into(), |v| v.to_string())
    );
    record.append(Event::new(CLI_ACTOR, Action::AuditExport, "audit").detail(range))?;
    record.checkpoint()?;
    record.shutdown();
    let summary = match out {
        Some(p) => {
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(p)
                    .with_context(|| format!("cannot create {}", p.display()))?,
            );
            veil_audit::export::write(&db, &key.public_key(), from, to, &mut f)
        }
        None => veil_audit::export::write(
            &db,
            &key.public_key(),
            from,
            to,
            &mut std::io::stdout().lock(),
        ),
    }
    .map_err(|e| anyhow::anyhow!("export failed: {e}"))?;
    eprintln!(
        "exported {} entries (sequence {} to {}) and {} signed checkpoints; key {}",
        summary.entries,
        summary.first_seq,
        summary.last_seq,
        summary.checkpoints,
        fingerprint(&key.public_key())
    );
    Ok(())
}

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

fn parse_time(flag: &str, v: &str) -> anyhow::Result<Time90k> {
    Time90k::parse_rfc3339(v).with_context(|| {
        format!("{flag} must be an RFC 3339 time such as 2026-11-23T00:00:00Z, got {v:?}")
    })
}

/// `veil audit report`: key indicators of `[from, to)` on stdout.
pub fn audit_report(
    data: &Path,
    config: Option<&Path>,
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
    let (store, record) = crate::open::installation_blocking(data, config)?;
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
