//! Opening an existing installation for a command: from `--data DIR` and an
//! optional `--config FILE`, the metadata where `[database] url` keeps it
//! (or `DIR/veil.db`), the objects where `[objects]` keeps them (or
//! `DIR/objects`) and the root key where `[root_key]` keeps it (or beside
//! the data), exactly as `veil serve` opens them. Without a file, the data
//! directory alone. Nothing here creates an installation.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use veil_audit::{AccessRecord, ClientAddressPolicy};
use veil_base::Clock;
use veil_store::{DataDir, Db, Store};

use crate::config::{self, Objects, RootKey};
use crate::DEFAULT_DATA;

/// Where a command finds the installation: `--data DIR` and `--config FILE`.
#[derive(clap::Args)]
pub struct At {
    /// The data directory.
    #[arg(long, default_value = DEFAULT_DATA)]
    pub data: PathBuf,
    /// The server's configuration file, for its `[database]`, `[objects]`
    /// and `[root_key]` sections (a PostgreSQL database, an S3 bucket, the
    /// root key's place). Default: the files in the data directory.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// What `--config` says about where an installation is.
struct Places {
    database: Option<String>,
    root_key: RootKey,
    objects: Objects,
}

impl Places {
    fn of(config: Option<&Path>) -> anyhow::Result<Places> {
        let database = config::database_url_of(config)?;
        Ok(match config {
            None => Places {
                database,
                root_key: RootKey::default(),
                objects: Objects::default(),
            },
            Some(c) => Places {
                database,
                root_key: config::root_key_of(c)?,
                objects: config::objects_of(c)?,
            },
        })
    }
}

/// Opens the installation's store as `veil serve` does, holding the data
/// directory's lock. Refused when the metadata is in the data directory and
/// it has no `veil.db`.
pub(crate) async fn store(data: &Path, config: Option<&Path>) -> anyhow::Result<Store> {
    let places = Places::of(config)?;
    if places.database.is_none() && !DataDir::new(data).database().exists() {
        anyhow::bail!(
            "{} is not a Veil data directory (no veil.db)",
            data.display()
        );
    }
    Store::open_configured(
        data,
        Arc::new(veil_base::SystemClock),
        Some(places.root_key.source(data)?),
        places.objects.s3.as_ref(),
        places.database.as_deref(),
    )
    .await
    .with_context(|| format!("cannot open data directory {}", data.display()))
}

/// [`store`] and its access record (entries as actor `cli`).
pub(crate) async fn installation(
    data: &Path,
    config: Option<&Path>,
) -> anyhow::Result<(Store, AccessRecord)> {
    let store = store(data, config).await?;
    let record = AccessRecord::new(
        store.db.clone(),
        store.clock().clone(),
        ClientAddressPolicy::None,
    )?;
    Ok((store, record))
}

/// [`installation`] for a command that is not async. The S3 client is
/// async: inside the command's runtime (`veil decommission`) it is opened
/// on that runtime, which its later requests use; outside one (`veil keys`,
/// `veil admin`) on a runtime of its own.
pub(crate) fn installation_blocking(
    data: &Path,
    config: Option<&Path>,
) -> anyhow::Result<(Store, AccessRecord)> {
    let open = installation(data, config);
    match tokio::runtime::Handle::try_current() {
        Ok(h) => tokio::task::block_in_place(|| h.block_on(open)),
        Err(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(open),
    }
}

/// How [`database`] opens an embedded database.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Read-only (`veil audit verify`).
    Read,
    /// Read and write, beside a running server (no lock).
    Write,
}

/// The installation's metadata alone, for commands that touch no object
/// and may run beside the server (no lock is taken): the PostgreSQL
/// database of `[database] url`, or the data directory's `veil.db`.
/// `check_root_key`: the root key where `[root_key]` keeps it must open
/// the installation's key versions, so that a directory whose key is lost
/// or wrong is refused before anything is changed.
pub(crate) fn database(
    data: &Path,
    config: Option<&Path>,
    access: Access,
    check_root_key: bool,
) -> anyhow::Result<Db> {
    let places = Places::of(config)?;
    let db = match &places.database {
        Some(url) => Db::open_postgres(url)?,
        None => {
            let file = DataDir::new(data).database();
            // Read-only opening names the file's own error.
            if access == Access::Write && !file.exists() {
                anyhow::bail!("{} has no database (start veil once first)", data.display());
            }
            match access {
                Access::Read => Db::open_read_only(&file)
                    .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", data.display()))?,
                Access::Write => Db::open(&file)?,
            }
        }
    };
    if check_root_key {
        // Every live root version (after a rotation, root.key is gone).
        let source = places.root_key.source(data)?;
        veil_store::root::open_roots(&db, source.as_ref(), false, veil_base::SystemClock.now())?;
    }
    Ok(db)
}
