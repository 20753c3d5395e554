//! `veil audit …`: verify, export, and show the audit public key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use veil_audit::checkpoint::{self, fingerprint, AuditKey};
use veil_audit::{AccessRecord, Action, ClientAddressPolicy, Event, VerifyOptions, VerifyReport};
use veil_store::{DataDir, Db};

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
        } => {
            let pinned = public_key.as_deref().map(read_public_key).transpose()?;
            let report = match file {
                Some(f) => {
                    let text = std::fs::read_to_string(&f)
                        .with_context(|| format!("cannot read {}", f.display()))?;
                    veil_audit::verify::verify_export(&text, pinned)?
                }
                None => {
                    let db = open_read_only(&data)?;
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
                    veil_audit::verify_stored(&db, &opts)?
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
        } => export(&data, from, to, out.as_deref()),
        AuditCommand::Key { data } => {
            let key = data_dir_public_key(&data)?
                .ok_or_else(|| anyhow::anyhow!("{} has no audit key yet", data.display()))?;
            print!("{}", checkpoint::public_key_pem(&key));
            println!("fingerprint: {}", fingerprint(&key));
            Ok(())
        }
    }
}

fn print_report(r: &VerifyReport) {
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

fn open_read_only(data: &Path) -> anyhow::Result<Db> {
    let dir = DataDir {
        root: data.to_owned(),
    };
    Db::open_read_only(&dir.database())
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", data.display()))
}

/// The public half of the data directory's audit key, if it has one.
fn data_dir_public_key(data: &Path) -> anyhow::Result<Option<[u8; 32]>> {
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
    from: Option<i64>,
    to: Option<i64>,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let dir = DataDir {
        root: data.to_owned(),
    };
    if !dir.database().exists() {
        anyhow::bail!("{} has no database", data.display());
    }
    let key = Arc::new(AuditKey::load_or_create(&dir.audit_key())?);
    let db = Db::open(&dir.database())?;
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
    );
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
