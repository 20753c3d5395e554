//! Certified decommissioning: `veil decommission camera|installation`
//! (`docs/design/retention.md`, "Certified decommissioning"). Recorded in the
//! access record first, then every key destroyed, the objects deleted, and a
//! signed erasure certificate written: `certificate.json` (the exact bytes
//! signed), `certificate.sig` (a detached Ed25519 signature, 64 raw bytes)
//! and `cert.pub.pem`, so that
//! `openssl pkeyutl -verify -pubin -inkey cert.pub.pem -rawin -in
//! certificate.json -sigfile certificate.sig` verifies it.
//!
//! The signing key is the installation's erasure key (`erasure.key` in the
//! data directory, PKCS#8 hex, mode 0600), separate from the audit signing
//! key; decommissioning the installation shreds it after the last
//! certificate.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use ring::signature::{Ed25519KeyPair, KeyPair};
use veil_audit::{AccessRecord, Action, Event};
use veil_base::CameraId;
use veil_store::rotation::ErasureReport;
use veil_store::Store;

use crate::audit_cli::CLI_ACTOR;
use crate::DEFAULT_DATA;

/// The certificate's format name.
pub const FORMAT: &str = "veil-erasure-certificate/v1";

#[derive(Subcommand)]
pub enum DecommissionCommand {
    /// Destroy a camera's keys, recordings and credentials, mark it deleted,
    /// and write a signed erasure certificate (in DATA/certificates, and in
    /// --certificate if given). Needs the server stopped.
    Camera {
        /// The camera's id.
        id: i64,
        /// The data directory.
        #[arg(long, default_value = DEFAULT_DATA)]
        data: PathBuf,
        /// Who performs it (named in the certificate and the access record).
        #[arg(long)]
        operator: String,
        /// Also write the certificate here.
        #[arg(long)]
        certificate: Option<PathBuf>,
        /// The server's configuration file, for its `[database]`, `[objects]`
        /// and `[root_key]` sections.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Destroy every key (every root version too), recording and secret of
    /// the installation, and write a signed erasure certificate outside the
    /// data directory. Nothing in the data directory opens afterwards.
    /// Needs the server stopped.
    Installation {
        /// The data directory.
        #[arg(long, default_value = DEFAULT_DATA)]
        data: PathBuf,
        /// Where the certificate goes: a directory outside the data
        /// directory (it must survive it).
        #[arg(long)]
        certificate: PathBuf,
        /// Who performs it (named in the certificate and the access record).
        #[arg(long)]
        operator: String,
        /// Confirms that everything is to be destroyed, for good.
        #[arg(long)]
        yes_destroy_everything: bool,
        /// The server's configuration file, for its `[database]`, `[objects]`
        /// and `[root_key]` sections.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// The erasure signing key, created on first use.
fn erasure_key(data: &Path) -> anyhow::Result<Ed25519KeyPair> {
    let path = data.join("erasure.key");
    let rng = ring::rand::SystemRandom::new();
    let doc = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| anyhow::anyhow!("cannot generate the erasure signing key"))?;
    let text = zeroize::Zeroizing::new(format!("{}\n", hex_encode(doc.as_ref())));
    if !veil_store::keys::create_secret_file(&path, text.as_bytes())? {
        let stored =
            zeroize::Zeroizing::new(veil_store::keys::read_secret_file(&path, "erasure key")?);
        let der = zeroize::Zeroizing::new(
            hex_decode(stored.trim()).with_context(|| format!("{} is not hex", path.display()))?,
        );
        return Ed25519KeyPair::from_pkcs8(&der)
            .map_err(|_| anyhow::anyhow!("{} is not an Ed25519 key", path.display()));
    }
    Ed25519KeyPair::from_pkcs8(doc.as_ref())
        .map_err(|_| anyhow::anyhow!("cannot read back the erasure signing key"))
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Writes `certificate.json`, `certificate.sig` and `cert.pub.pem` into
/// `dir` (created, mode 0700), each made durable.
fn write_certificate(dir: &Path, json: &[u8], key: &Ed25519KeyPair) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let public: [u8; 32] = key
        .public_key()
        .as_ref()
        .try_into()
        .expect("Ed25519 public keys are 32 bytes");
    let sig = key.sign(json);
    for (name, bytes) in [
        ("certificate.json", json.to_vec()),
        ("certificate.sig", sig.as_ref().to_vec()),
        (
            "cert.pub.pem",
            veil_audit::checkpoint::public_key_pem(&public).into_bytes(),
        ),
    ] {
        let path = dir.join(name);
        if !veil_store::keys::create_secret_file(&path, &bytes)? {
            anyhow::bail!(
                "{} exists: a certificate is never overwritten",
                path.display()
            );
        }
    }
    Ok(())
}

/// The certificate's JSON (pretty, one trailing newline): the exact bytes
/// signed.
#[allow(clippy::too_many_arguments)]
fn certificate(
    scope: &str,
    subject: serde_json::Value,
    operator: &str,
    system: &str,
    store: &Store,
    report: &ErasureReport,
    leftovers: usize,
    record_seq: i64,
    key: &Ed25519KeyPair,
) -> Vec<u8> {
    let fingerprint = veil_audit::checkpoint::fingerprint(key.public_key().as_ref());
    let v = serde_json::json!({
        "format": FORMAT,
        "scope": scope,
        "subject": subject,
        "performed_at": store.clock().now().to_rfc3339(),
        "operator": operator,
        "system_id": system,
        "bucket_keys_destroyed": report.bucket_keys,
        "counts": {
            "bucket_keys": report.bucket_keys.len(),
            "segments": report.segments,
            "objects": report.objects,
            "bytes": report.bytes,
            "leftover_objects": leftovers,
            "camera_credentials": report.secrets.cameras,
            "second_factor_seeds": report.secrets.users,
            "protection_keys": report.secrets.protections,
            "export_packages": report.export_packages,
        },
        "root_versions_destroyed": report.root_versions,
        "access_record_entry": record_seq,
        "signing_key": fingerprint,
    });
    let mut out = serde_json::to_vec_pretty(&v).expect("JSON values serialise");
    out.push(b'\n');
    out
}

fn check_operator(operator: &str) -> anyhow::Result<String> {
    let o = operator.trim();
    if o.is_empty() || o.chars().count() > 200 || o.chars().any(char::is_control) {
        anyhow::bail!("--operator must name who performs it (1 to 200 printable characters)");
    }
    Ok(o.to_owned())
}

fn record(
    audit: &AccessRecord,
    action: Action,
    resource: String,
    detail: String,
) -> anyhow::Result<i64> {
    audit
        .append(Event::new(CLI_ACTOR, action, resource).detail(detail))
        .context("refused: the decommissioning cannot be recorded")
}

/// Refuses while an active lock or hold keeps recordings of `camera` (of
/// any camera, for the installation): decommissioning must not destroy
/// evidence or restricted video behind its protector's back.
fn refuse_protected(store: &Store, camera: Option<CameraId>) -> anyhow::Result<()> {
    let covering: Vec<String> = store
        .db
        .protections(true)?
        .iter()
        .filter(|p| camera.is_none_or(|c| p.cameras.contains(&c)))
        .map(|p| format!("{} {}", p.kind.as_str(), p.id))
        .collect();
    if !covering.is_empty() {
        anyhow::bail!(
            "refused: {} keep{} recordings of this {}; release {} first (a lock with \
             locks.release, a hold with holds.manage). Nothing was destroyed",
            covering.join(", "),
            if covering.len() == 1 { "s" } else { "" },
            if camera.is_some() {
                "camera"
            } else {
                "installation"
            },
            if covering.len() == 1 { "it" } else { "them" },
        );
    }
    Ok(())
}

/// Deletes the objects a crash left without a row, and interrupted
/// writes; returns how many.
async fn leftovers(store: &Store) -> anyhow::Result<usize> {
    let r = store.recover().await.context("recovery failed")?;
    Ok(r.orphan_objects_deleted + r.partial_writes_deleted)
}

/// `veil decommission …`.
pub async fn run(which: DecommissionCommand) -> anyhow::Result<()> {
    match which {
        DecommissionCommand::Camera {
            id,
            data,
            operator,
            certificate: extra,
            config,
        } => {
            let operator = check_operator(&operator)?;
            let (store, audit) = crate::open::installation_blocking(&data, config.as_deref())?;
            let camera = CameraId(id);
            let Some((name, _)) = store.db.camera_name(camera)? else {
                anyhow::bail!("no camera has id {id}");
            };
            refuse_protected(&store, Some(camera))?;
            let system = store.system_id()?;
            let key = erasure_key(&data)?;
            let seq = record(
                &audit,
                Action::DecommissionCamera,
                format!("camera:{id}"),
                format!("operator={operator:?}"),
            )?;
            // Objects a crash left without a row go first (`veil check`).
            let leftovers = leftovers(&store).await?;
            let report = store.decommission_camera(camera).await?;
            let json = certificate(
                "camera",
                serde_json::json!({ "camera_id": id, "camera_name": name }),
                &operator,
                &system,
                &store,
                &report,
                leftovers,
                seq,
                &key,
            );
            let stamp = store.clock().now().0;
            let beside = data
                .join("certificates")
                .join(format!("camera-{id}-{stamp}"));
            write_certificate(&beside, &json, &key)?;
            println!("certificate: {}", beside.display());
            if let Some(extra) = extra {
                write_certificate(&extra, &json, &key)?;
                println!("certificate: {}", extra.display());
            }
            println!(
                "camera {id} decommissioned: {} bucket keys destroyed, {} segments and {} objects deleted",
                report.bucket_keys.len(),
                report.segments,
                report.objects
            );
            Ok(())
        }
        DecommissionCommand::Installation {
            data,
            certificate: out,
            operator,
            yes_destroy_everything,
            config,
        } => {
            let operator = check_operator(&operator)?;
            if !yes_destroy_everything {
                anyhow::bail!(
                    "this destroys every recording, key and secret of the installation in {}, \
                     for good; confirm with --yes-destroy-everything",
                    data.display()
                );
            }
            let data_abs = std::fs::canonicalize(&data)
                .with_context(|| format!("cannot find {}", data.display()))?;
            let out_abs = absolute_lexical(&out)?;
            if out_abs.starts_with(&data_abs) {
                anyhow::bail!(
                    "--certificate {} is inside the data directory: the certificate must \
                     survive it; choose a directory elsewhere",
                    out.display()
                );
            }
            if out.exists() {
                anyhow::bail!(
                    "{} exists: a certificate is never overwritten",
                    out.display()
                );
            }
            let (store, audit) = crate::open::installation_blocking(&data, config.as_deref())?;
            refuse_protected(&store, None)?;
            let system = store.system_id()?;
            let key = erasure_key(&data)?;
            let cameras: Vec<serde_json::Value> = store
                .db
                .cameras()?
                .iter()
                .map(|c| serde_json::json!({ "camera_id": c.id.0, "camera_name": c.name }))
                .collect();
            let seq = record(
                &audit,
                Action::DecommissionInstallation,
                "installation".into(),
                format!("operator={operator:?}"),
            )?;
            let leftovers = leftovers(&store).await?;
            let report = store.decommission_installation().await?;
            let json = certificate(
                "installation",
                serde_json::json!({ "cameras": cameras }),
                &operator,
                &system,
                &store,
                &report,
                leftovers,
                seq,
                &key,
            );
            write_certificate(&out, &json, &key)?;
            veil_store::root::shred_file(&data.join("erasure.key"))?;
            println!("certificate: {}", out.display());
            println!(
                "installation decommissioned: {} bucket keys destroyed, {} segments and {} \
                 objects deleted, root versions destroyed: {:?}",
                report.bucket_keys.len(),
                report.segments,
                report.objects,
                report.root_versions
            );
            Ok(())
        }
    }
}

/// `path` made absolute (the current directory prepended) with `.` and
/// `..` resolved by their names, for a path that does not exist yet.
fn absolute_lexical(path: &Path) -> anyhow::Result<PathBuf> {
    let base = if path.is_absolute() {
        PathBuf::new()
    } else {
        std::env::current_dir()?
    };
    let mut out = PathBuf::new();
    for c in base.join(path).components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    // Resolve links in the part that exists.
    let mut existing = out.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match existing.file_name() {
            Some(n) => rest.push(n.to_owned()),
            None => break,
        }
        existing.pop();
    }
    let mut resolved = std::fs::canonicalize(&existing).unwrap_or(existing);
    for n in rest.into_iter().rev() {
        resolved.push(n);
    }
    Ok(resolved)
}
