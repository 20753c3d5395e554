//! `veil docs` and `veil lint`: the DPO's documents and the compliance lint
//! on the command line, from the same live configuration the server's desk
//! reads (the database, and the configuration file's facts the server
//! stored at its last start). Generating a document is recorded as actor
//! `cli`; both need the server stopped, like the other commands that write
//! the access record (`GET /api/v1/documents/{kind}` and
//! `GET /api/v1/compliance` while it runs).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use veil_audit::{Action, Event};
use veil_dpo::documents::{self, Format, Kind};
use veil_dpo::lint;
use veil_web::dpo::Installation;

use crate::audit_cli::CLI_ACTOR;
use crate::config::{self, Config, Tls};
use crate::DEFAULT_DATA;

/// What `veil docs` generates.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum DocKind {
    /// The record of processing activities (GDPR Art. 30(1)).
    Ropa,
    /// The video surveillance policy.
    Policy,
    /// The on-the-spot notice, one page per site.
    Notice,
    /// The DPIA screening and a DPIA draft.
    Dpia,
}

impl DocKind {
    fn kind(self) -> Kind {
        match self {
            DocKind::Ropa => Kind::Ropa,
            DocKind::Policy => Kind::Policy,
            DocKind::Notice => Kind::Notice,
            DocKind::Dpia => Kind::Dpia,
        }
    }
}

/// How `veil docs` writes it.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum DocFormat {
    /// Markdown.
    #[default]
    Md,
    /// Printable HTML (A4).
    Html,
    /// JSON.
    Json,
}

/// `veil docs`.
#[derive(clap::Args)]
pub struct DocsArgs {
    /// Which document.
    #[arg(value_enum)]
    kind: DocKind,
    /// Its format.
    #[arg(long, value_enum, default_value_t = DocFormat::Md)]
    format: DocFormat,
    /// For the notice: one site's page only (its id).
    #[arg(long)]
    site: Option<String>,
    /// Write it to this file instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The data directory.
    #[arg(long, default_value = DEFAULT_DATA)]
    data: PathBuf,
    /// The server's configuration file, for its `[database]`, `[objects]`
    /// and `[root_key]` sections.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// `veil lint`.
#[derive(clap::Args)]
pub struct LintArgs {
    /// Print the findings as JSON.
    #[arg(long)]
    json: bool,
    /// The data directory.
    #[arg(long, default_value = DEFAULT_DATA)]
    data: PathBuf,
    /// The server's configuration file, for its `[database]`, `[objects]`
    /// and `[root_key]` sections.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// What the documents and the lint need from the configuration file; the
/// server stores it at start ([`veil_web::dpo::remember_installation`]).
pub fn installation(cfg: &Config) -> Installation {
    Installation {
        tls: match cfg.tls {
            Tls::SelfSigned { .. } => "self_signed",
            Tls::Files { .. } => "files",
            Tls::PlainBehindProxy => "plain_behind_proxy",
        }
        .into(),
        trusted_proxies: cfg.trusted_proxies.len() as u32,
        root_key_source: match cfg.root_key {
            config::RootKey::DataDir | config::RootKey::File { .. } => "file",
            config::RootKey::Env { .. } => "env",
            config::RootKey::Credential { .. } => "credential",
            config::RootKey::Command { .. } => "command",
        }
        .into(),
        root_key_rotation_days: cfg.root_key_rotation_days,
        audit_retention_days: cfg.audit.retention_days,
        audit_checkpoint_copy: cfg.audit.checkpoint_sink.is_some(),
        client_address: match cfg.audit.client_address {
            config::ClientAddress::Full => "full",
            config::ClientAddress::Truncated => "truncated",
            config::ClientAddress::None => "none",
        }
        .into(),
        lift_key: cfg.masks.lift_key.clone(),
        retention_justification: cfg.retention_justification.clone().unwrap_or_default(),
        access_review_months: cfg.dpo.access_review_months,
        max_administrators: cfg.dpo.max_administrators,
    }
}

/// `veil docs KIND`: generates the document from the data directory's live
/// configuration, recording it first.
pub fn docs(a: DocsArgs) -> anyhow::Result<()> {
    let (kind, format) = (
        a.kind.kind(),
        match a.format {
            DocFormat::Md => Format::Markdown,
            DocFormat::Html => Format::Html,
            DocFormat::Json => Format::Json,
        },
    );
    if a.site.is_some() && kind != Kind::Notice {
        anyhow::bail!("--site: only the notice is per site");
    }
    let (store, record) = crate::open::installation_blocking(&a.data, a.config.as_deref())?;
    let now = store.clock().now();
    let (g, v) = veil_web::dpo::current(&store.db, now).map_err(|e| anyhow::anyhow!(e.message))?;
    let stamp = veil_web::dpo::stamp(&v, now);
    let doc = match &a.site {
        Some(site) => {
            if g.snapshot.organisation.site(site).is_none() {
                anyhow::bail!("--site: no site {site:?} in the organisation profile");
            }
            documents::notice_for_site(&g.snapshot, stamp, site)
                .with_context(|| format!("--site: site {site:?} has no cameras"))?
        }
        None => documents::generate(kind, &g.snapshot, stamp),
    };
    let mut detail = format!("kind={} format={} version={}", kind.id(), format.id(), v.id);
    if let Some(site) = &a.site {
        detail.push_str(&format!(" site={site}"));
    }
    record
        .append(Event::new(CLI_ACTOR, Action::DocumentGenerate, "documents").detail(detail))
        .context("the document's generation could not be recorded, so it is not generated")?;
    let text = doc.render(format);
    match &a.out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print_all(&text)?,
    }
    Ok(())
}

/// Writes `text` to standard output; a reader that stopped early (`| head`)
/// is not an error.
fn print_all(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// `veil lint`: prints the findings; fails (exit status 1) when any is an
/// error, so a deployment script can stop on it.
pub fn lint(a: LintArgs) -> anyhow::Result<bool> {
    let (store, _) = crate::open::installation_blocking(&a.data, a.config.as_deref())?;
    let now = store.clock().now();
    let (g, v) = veil_web::dpo::current(&store.db, now).map_err(|e| anyhow::anyhow!(e.message))?;
    let findings = lint::lint(&g.snapshot, &g.accounts, now);
    let summary = lint::summary(&findings);
    let mut out = String::new();
    if a.json {
        let json = serde_json::json!({
            "version": v.id,
            "summary": summary,
            "findings": findings,
        });
        out = serde_json::to_string_pretty(&json)? + "\n";
    } else {
        use std::fmt::Write as _;
        for f in &findings {
            let _ = writeln!(
                out,
                "{}[{}] {}: {}\n    fix: {}\n    see: {}",
                f.severity.id(),
                f.rule,
                f.object,
                f.message,
                f.fix,
                f.citation
            );
        }
        let _ = writeln!(
            out,
            "configuration version {}: {} error(s), {} warning(s), {} note(s)",
            v.id, summary.errors, summary.warnings, summary.infos
        );
    }
    print_all(&out)?;
    Ok(summary.errors == 0)
}
