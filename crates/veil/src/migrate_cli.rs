//! `veil migrate-db --to postgres://…`: copies an embedded installation's
//! metadata into PostgreSQL (`veil_store::migrate`), then verifies the
//! access record and the recording chains there with the code `veil audit
//! verify` runs.

use std::path::{Path, PathBuf};

use veil_audit::VerifyOptions;
use veil_store::db::redact_postgres_url;
use veil_store::{DataDir, Db};

use crate::DEFAULT_DATA;

#[derive(clap::Args)]
pub struct MigrateDbArgs {
    /// The PostgreSQL database to copy into: `postgres://user@host:port/db`.
    /// It must hold no Veil data yet; its schema is created.
    #[arg(long)]
    to: String,
    /// The data directory of the embedded installation (the server must be
    /// stopped).
    #[arg(long, default_value = DEFAULT_DATA)]
    data: PathBuf,
    /// The server's configuration file, for its `[objects]` section: the
    /// recordings' objects are read where it keeps them to verify the
    /// chains. Default: `objects/` in the data directory.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// Runs `veil migrate-db`.
pub fn run(a: MigrateDbArgs) -> anyhow::Result<()> {
    veil_store::migrate::check_postgres_url(&a.to).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    let shown = redact_postgres_url(&a.to);
    let s3 = match &a.config {
        Some(c) => crate::config::objects_of(c)?.s3,
        None => None,
    };
    // Held until the end: no server starts on the directory meanwhile.
    let _lock = veil_store::migrate::lock_data_dir(&a.data)?;
    // The source first, with the code `veil audit verify` runs: a broken
    // record is not copied.
    let source = Db::open_read_only(&DataDir::new(&a.data).database()).map_err(|e| {
        anyhow::anyhow!(
            "cannot open {}: {e}",
            DataDir::new(&a.data).database().display()
        )
    })?;
    let trusted_key = crate::audit_cli::data_dir_public_key(&a.data)?;
    let opts = VerifyOptions {
        from: None,
        to: None,
        trusted_key,
        external: Vec::new(),
    };
    veil_audit::verify_stored(&source, &opts).map_err(|e| {
        anyhow::anyhow!("the embedded access record does not verify, nothing was copied: {e}")
    })?;
    drop(source);
    println!(
        "copying {} to PostgreSQL database {shown} (one transaction)",
        a.data.display()
    );
    let report = veil_store::migrate::copy_to_postgres(&a.data, &a.to, &mut |t| {
        println!("  {:<32} {:>10} rows", t.table, t.rows);
    })?;
    println!(
        "copied and verified: {} tables, {} rows, schema version {}, in {:.1} s \
         (row counts and SHA-256 digests equal on both sides); committed",
        report.tables.len(),
        report.rows(),
        report.schema_version,
        report.elapsed.as_secs_f64()
    );
    // The copy as a PostgreSQL installation reads it, through the
    // repository layer.
    let verify = || -> anyhow::Result<()> {
        let db = Db::open_postgres(&a.to)?;
        let r = veil_audit::verify_stored(&db, &opts)?;
        crate::audit_cli::print_report(&r);
        crate::audit_cli::verify_recordings(&db, &a.data, a.config.as_deref())
    };
    verify().map_err(|e| {
        anyhow::anyhow!(
            "the copy in PostgreSQL database {shown} was committed but does not verify: {e}; \
             drop and re-create that database before trying again"
        )
    })?;
    print_next_steps(&shown, s3.is_some(), &a.data);
    Ok(())
}

fn print_next_steps(shown: &str, s3: bool, data: &Path) {
    println!("\nThe video objects were not copied. The installation on PostgreSQL must reach");
    if s3 {
        println!("the same S3 bucket: keep the same [objects] section in its veil.toml.");
    } else {
        println!(
            "the same object directory, {}: keep data_dir pointing at it (or move it whole).",
            DataDir::new(data).objects().display()
        );
    }
    println!(
        "It also needs the same root key and audit key as this data directory.\n\
         Then set, in veil.toml:\n\n[database]\nurl = \"{shown}\"\n\n\
         (with the password, where the URL needs one: it is not shown here)."
    );
}
