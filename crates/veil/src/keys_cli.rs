//! The root key: `veil keys rotate|status` and the server's rotation job
//! (`docs/design/retention.md`, "Rotation"). Each rotation is recorded in the
//! access record (`keys.rotate`, then `keys.root_destroy` per old version)
//! before it takes effect; the details hold versions and counts, never key
//! material.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use veil_audit::{AccessRecord, Action, Event};
use veil_base::{Time90k, TIME_UNITS_PER_SEC};
use veil_store::rotation::{RootEvent, RotationReport};
use veil_store::{Db, Store};

use crate::audit_cli::CLI_ACTOR;
use crate::DEFAULT_DATA;

/// How often the server checks whether a rotation is due.
pub const CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Rotate the root key now: a new version, every wrapped value re-wrapped
    /// under it, the old version destroyed at its source (recorded as actor
    /// `cli`). Finishes a rotation that an earlier run left unfinished.
    /// Needs the server stopped.
    Rotate {
        /// The data directory.
        #[arg(long, default_value = DEFAULT_DATA)]
        data: PathBuf,
        /// The server's configuration file, for its `[database]`, `[objects]`
        /// and `[root_key]` sections (without it, the root key files are
        /// beside the data).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// List the root key versions: created, destroyed, and how many values
    /// each still wraps. Needs the server stopped.
    Status {
        /// The data directory.
        #[arg(long, default_value = DEFAULT_DATA)]
        data: PathBuf,
        /// The server's configuration file, for its `[database]`, `[objects]`
        /// and `[root_key]` sections.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Rotates the root key, recording each step first as `actor`.
pub fn rotate(store: &Store, audit: &AccessRecord, actor: &str) -> anyhow::Result<RotationReport> {
    let mut record = |e: &RootEvent| -> Result<(), veil_store::Error> {
        let (action, detail) = match e {
            RootEvent::Rotate {
                from,
                to,
                pending,
                resumed,
            } => (
                Action::KeysRotate,
                format!(
                    "from={} to={to} resumed={resumed} bucket_keys={} camera_credentials={} \
                     second_factor_seeds={} protection_keys={}",
                    versions(from),
                    pending.bucket_keys,
                    pending.cameras,
                    pending.users,
                    pending.protections
                ),
            ),
            RootEvent::Destroy { version } => {
                (Action::KeysRootDestroy, format!("version={version}"))
            }
        };
        audit
            .append(Event::new(actor, action, "root_key").detail(detail))
            .map(|_| ())
            .map_err(|e| {
                veil_store::Error::Unavailable(format!(
                    "refused: the rotation cannot be recorded ({e})"
                ))
            })
    };
    Ok(store.rotate_root(&mut record)?)
}

fn versions(v: &[u32]) -> String {
    if v.is_empty() {
        return "none".into();
    }
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// `veil keys …`.
pub fn run(which: KeysCommand) -> anyhow::Result<()> {
    match which {
        KeysCommand::Rotate { data, config } => {
            let (store, audit) = crate::open::installation_blocking(&data, config.as_deref())?;
            let me = own_node_id(&data, config.as_deref())?;
            refuse_while_others_live(&store.db, me.as_deref())?;
            let r = rotate(&store, &audit, CLI_ACTOR)?;
            println!(
                "rotated the root key from version {} to {}{}\nre-wrapped: {} bucket keys, {} \
                 camera credentials, {} second-factor seeds, {} lock and hold keys\ndestroyed \
                 versions: {}",
                versions(&r.from),
                r.to,
                if r.resumed {
                    " (finishing an earlier run)"
                } else {
                    ""
                },
                r.rewrapped.bucket_keys,
                r.rewrapped.cameras,
                r.rewrapped.users,
                r.rewrapped.protections,
                versions(&r.destroyed)
            );
            Ok(())
        }
        KeysCommand::Status { data, config } => {
            let (store, _) = crate::open::installation_blocking(&data, config.as_deref())?;
            for v in store.db.root_key_versions()? {
                let wraps = store.db.rows_at_version(v.version)?;
                println!(
                    "version {} created {} {} wraps {}",
                    v.version,
                    v.created.to_rfc3339(),
                    v.destroyed.map_or("live".to_owned(), |d| format!(
                        "destroyed {}",
                        d.to_rfc3339()
                    )),
                    if v.destroyed.is_some() {
                        0
                    } else {
                        wraps.total()
                    }
                );
            }
            Ok(())
        }
    }
}

/// This installation's node id, to leave out of the live nodes: `[node]
/// id` of the configuration file, else the data directory's `node-id`
/// file; `None` when neither is there.
fn own_node_id(data: &Path, config: Option<&Path>) -> anyhow::Result<Option<String>> {
    if let Some(path) = config {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        // A file that does not parse was refused when the installation
        // opened; here only the node's id is looked for.
        let id = toml::from_str::<toml::Table>(&text)
            .ok()
            .and_then(|t| t.get("node")?.get("id")?.as_str().map(str::to_owned));
        if id.is_some() {
            return Ok(id);
        }
    }
    Ok(
        std::fs::read_to_string(data.join(crate::node::NODE_ID_FILE))
            .ok()
            .map(|t| t.trim().to_owned()),
    )
}

/// The nodes other than `me` alive on a shared database: those whose
/// latest heartbeat (the database's clock) is within the lease expiry.
/// None on the embedded database (one process owns it).
pub fn other_live_nodes(db: &Db, me: Option<&str>) -> anyhow::Result<Vec<String>> {
    let Some(now) = db.database_time()? else {
        return Ok(Vec::new());
    };
    let since = Time90k(now.0 - veil_store::leases::LEASE_EXPIRY_90K);
    Ok(db
        .live_node_ids(since)?
        .into_iter()
        .filter(|id| Some(id.as_str()) != me)
        .collect())
}

/// Refuses a command that installs or destroys root key versions while
/// another node is live on the shared database: every node keeps the root
/// key versions in memory, so a rotation under a running node leaves it
/// unable to open what was re-wrapped, and a bucket key it seals under a
/// destroyed version is lost for good.
pub fn refuse_while_others_live(db: &Db, me: Option<&str>) -> anyhow::Result<()> {
    let live = other_live_nodes(db, me)?;
    if !live.is_empty() {
        anyhow::bail!(
            "refused: nodes {} are running on this database; stop every other node, then \
             rotate the root key",
            live.join(", ")
        );
    }
    Ok(())
}

/// The server's job: every hour, rotates the root key when the current
/// version is `days` old (or an earlier rotation did not finish), recorded
/// as actor `system`.
pub async fn run_periodically(store: Store, audit: AccessRecord, days: u32) {
    let every = i64::from(days) * 86_400 * TIME_UNITS_PER_SEC;
    let mut tick = tokio::time::interval(CHECK_INTERVAL);
    loop {
        tick.tick().await;
        let (store, audit) = (store.clone(), audit.clone());
        let done = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            if !store.rotation_due(every)? {
                return Ok(None);
            }
            rotate(&store, &audit, "system").map(Some)
        })
        .await;
        match done {
            Ok(Ok(None)) => {}
            Ok(Ok(Some(r))) => tracing::info!(
                from = %versions(&r.from),
                to = r.to,
                rewrapped = r.rewrapped.total(),
                destroyed = %versions(&r.destroyed),
                "rotated the root key"
            ),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "root key rotation failed; retried in an hour")
            }
            Err(e) => tracing::error!(error = %e, "root key rotation task failed"),
        }
    }
}
