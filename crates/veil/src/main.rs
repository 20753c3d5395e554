//! `veil`: the one binary. Parses the command line and configuration, wires the
//! crates together, and runs the server, the demo or a benchmark.
//!
//! Only this crate reads argv, the environment and configuration files.

mod admin_cli;
mod audit_cli;
mod bench;
mod bench_export;
mod bench_mask;
mod bench_motion;
mod bench_redact;
mod bench_retention;
mod config;
mod decommission_cli;
mod dpo_cli;
mod export_cli;
mod keys_cli;
mod lock_review;
mod migrate_cli;
mod node;
mod open;
mod retention_cli;
mod server;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Default data directory (relative to the current directory), shared by every
/// subcommand that works on one.
const DEFAULT_DATA: &str = "veil-data";

#[derive(Parser)]
#[command(
    name = "veil",
    version,
    about = "Veil: video management that enforces privacy (GDPR)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a demo: synthetic cameras, embedded SQLite, local storage, HTTPS UI.
    Demo(DemoArgs),
    /// Run the server from a TOML configuration file.
    Serve {
        /// The configuration file (see veil.example.toml).
        #[arg(long)]
        config: PathBuf,
        /// What this process does: `recorder` (records the cameras it
        /// holds leases of, serves no web), `web` (the web and API, records
        /// nothing) or `all`. Roles other than `all` need a shared
        /// PostgreSQL database (`[database] url`).
        #[arg(long, value_enum, default_value_t = server::Role::All)]
        role: server::Role,
    },
    /// Check a data directory: reconcile objects and rows, check the database.
    Check(open::At),
    /// Copy an embedded installation's metadata into an empty PostgreSQL
    /// database, verified (row counts, digests, the access record, the
    /// recording chains); the server must be stopped.
    MigrateDb(migrate_cli::MigrateDbArgs),
    /// Users, roles and the usage policy (recorded as actor `cli`).
    Admin {
        #[command(subcommand)]
        which: admin_cli::AdminCommand,
    },
    /// The access record: verify, export, show the audit key.
    Audit {
        #[command(subcommand)]
        which: audit_cli::AuditCommand,
    },
    /// Retention of recordings: what is due and destroying it now.
    Retention {
        #[command(subcommand)]
        which: retention_cli::RetentionCommand,
    },
    /// The root key: rotate it now, list its versions.
    Keys {
        #[command(subcommand)]
        which: keys_cli::KeysCommand,
    },
    /// Certified decommissioning of a camera or of the whole installation:
    /// keys destroyed, recordings deleted, a signed erasure certificate.
    Decommission {
        #[command(subcommand)]
        which: decommission_cli::DecommissionCommand,
    },
    /// Evidence export packages: verify one without the database.
    Export {
        #[command(subcommand)]
        which: export_cli::ExportCommand,
    },
    /// The DPO's documents, generated from the live configuration: `ropa`,
    /// `policy`, `notice` or `dpia` (recorded as actor `cli`; needs the
    /// server stopped).
    Docs(dpo_cli::DocsArgs),
    /// The compliance lint of the live configuration; exit status 1 when a
    /// finding is an error.
    Lint(dpo_cli::LintArgs),
    /// Benchmarks that print their figure next to a baseline measured in the same run.
    Bench {
        #[command(subcommand)]
        which: bench::Bench,
    },
}

#[derive(clap::Args)]
struct DemoArgs {
    /// The data directory (created on first start, resumed after).
    #[arg(long, default_value = DEFAULT_DATA)]
    data: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: String,
    /// Number of synthetic cameras.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    cameras: u32,
    /// Target segment duration in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=600))]
    segment_seconds: u32,
    /// Synthetic picture width.
    #[arg(long, default_value_t = 640)]
    width: u32,
    /// Synthetic picture height.
    #[arg(long, default_value_t = 360)]
    height: u32,
    /// How long recordings are kept, in hours (1 to 720).
    #[arg(long, default_value_t = config::DEFAULT_RETENTION_HOURS, value_parser = clap::value_parser!(u32).range(1..=720))]
    retention_hours: u32,
    /// Records this many minutes of synthetic video in the past for each
    /// camera (in the background, after the server starts), so playback has
    /// long recordings at once. For tests and demonstrations.
    #[arg(long, default_value_t = 0, hide = true, value_parser = clap::value_parser!(u32).range(0..=1440))]
    backfill_minutes: u32,
}

fn init_logging() {
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("VEIL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    for d in veil_store::LOG_DIRECTIVES {
        filter = filter.add_directive(d.parse().expect("a valid directive"));
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Makes the process private: files it creates are its owner's only (umask
/// 077), and a server that holds keys and decoded pixels in memory never
/// writes a core dump (no core file size, not dumpable, which also keeps
/// other processes of the same user from attaching a debugger).
fn make_private(server: bool) -> anyhow::Result<()> {
    // SAFETY: umask, setrlimit and prctl only change this process's
    // attributes; none touches memory Rust manages.
    unsafe {
        libc::umask(0o077);
        if server {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::setrlimit(libc::RLIMIT_CORE, &none) != 0 {
                anyhow::bail!(
                    "cannot disable core dumps: {}",
                    std::io::Error::last_os_error()
                );
            }
            if libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 {
                anyhow::bail!(
                    "cannot mark the process not dumpable: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    make_private(matches!(
        cli.command,
        Command::Demo(_) | Command::Serve { .. }
    ))?;
    init_logging();
    let rt = tokio::runtime::Runtime::new()?;
    match cli.command {
        Command::Demo(a) => {
            let cfg = config::Config {
                data_dir: a.data,
                listen: a.listen,
                trusted_proxies: Vec::new(),
                tls: config::Tls::default(),
                recording: config::Recording {
                    segment_seconds: a.segment_seconds,
                },
                audit: config::Audit::default(),
                retention_hours: a.retention_hours,
                retention_justification: None,
                data_retention: Default::default(),
                root_key: config::RootKey::default(),
                root_key_rotation_days: config::DEFAULT_ROOT_KEY_ROTATION_DAYS,
                max_retention_hours: veil_store::retention_rule::DEFAULT_MAX_HOURS,
                locks: config::Locks::default(),
                masks: config::Masks::default(),
                dpo: config::Dpo::default(),
                // Documented, so that its cameras record (P8).
                organisation: Some(config::demo_organisation()),
                // The demo keeps its video in its data directory.
                objects: config::Objects::default(),
                database: config::Database::default(),
                node: config::Node::default(),
                first_account: "demo-administrator".into(),
                // The demo's one account may also read the access record.
                first_account_roles: vec![
                    veil_access::ADMINISTRATOR.into(),
                    veil_access::AUDITOR.into(),
                ],
                demo: true,
                backfill_minutes: a.backfill_minutes,
                cameras: (1..=a.cameras)
                    .map(|i| {
                        config::Camera {
                            name: format!("Synthetic {i}"),
                            source: config::Source::Synthetic {
                                width: a.width,
                                height: a.height,
                                fps: 25,
                                bitrate_kbps: 1000,
                                recording_mode: veil_ingest::managed::CONTINUOUS.into(),
                            },
                            audio: Default::default(),
                            metadata: Default::default(),
                            area: veil_store::retention_rule::PRIVATE.into(),
                            ptz_capable: false,
                            ptz_control: false,
                            purposes: None,
                            legal_basis: None,
                            balancing_note: None,
                            detail: None,
                            site: None,
                            retention_justification: None,
                        }
                        .with_demo_purpose()
                    })
                    .collect(),
            };
            rt.block_on(server::run(cfg))
        }
        Command::Serve { config, role } => {
            let text = std::fs::read_to_string(&config)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", config.display()))?;
            let cfg = config::Config::parse(&text)
                .map_err(|e| anyhow::anyhow!("invalid configuration {}: {e}", config.display()))?;
            rt.block_on(server::run_as(cfg, role))
        }
        Command::Check(at) => rt.block_on(server::check(&at.data, at.config.as_deref())),
        Command::MigrateDb(a) => migrate_cli::run(a),
        Command::Bench { which } => rt.block_on(bench::run(which)),
        Command::Docs(a) => dpo_cli::docs(a),
        Command::Lint(a) => {
            if !dpo_cli::lint(a)? {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Audit { which } => audit_cli::run(which),
        Command::Export { which } => export_cli::run(which),
        Command::Admin { which } => admin_cli::run(which),
        Command::Keys { which } => keys_cli::run(which),
        Command::Decommission { which } => rt.block_on(decommission_cli::run(which)),
        Command::Retention { which } => rt.block_on(retention_cli::run(which)),
    }
}
