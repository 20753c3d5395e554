//! The TOML configuration of `veil serve` (see `veil.example.toml`).

use std::path::PathBuf;

use serde::Deserialize;

/// The whole file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the root key, database, objects and TLS files live.
    pub data_dir: PathBuf,
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Reverse proxies (addresses or CIDR networks) whose `X-Forwarded-For`
    /// and `Forwarded` headers name the client; from anyone else those
    /// headers are ignored. Empty by default.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// HTTPS settings.
    #[serde(default)]
    pub tls: Tls,
    /// Recording settings.
    #[serde(default)]
    pub recording: Recording,
    /// Access-record settings.
    #[serde(default)]
    pub audit: Audit,
    /// Cameras.
    #[serde(default, rename = "camera")]
    pub cameras: Vec<Camera>,
    /// Login name of the administrator account created on first start (its
    /// random password is printed once).
    #[serde(default = "default_first_account")]
    pub first_account: String,
    /// Roles of that first account (`administrator`, `auditor`). The default
    /// is the administrator alone: reading the access record is a separate
    /// duty.
    #[serde(default = "default_first_account_roles")]
    pub first_account_roles: Vec<String>,
    /// How long recordings are kept, in hours (every camera; per-camera rules
    /// come later). Default 168 (7 days); at least 1, at most 720 (30 days)
    /// unless `retention_justification` says why longer is needed.
    #[serde(default = "default_retention_hours")]
    pub retention_hours: u32,
    /// Why recordings must be kept longer than 30 days (at least 10
    /// characters); required for such a retention, recorded with it.
    #[serde(default)]
    pub retention_justification: Option<String>,
    /// How long the other personal data sets are kept: `[data_retention]`
    /// with `sessions_days`, `approvals_days`, `api_tokens_days` and
    /// `disabled_accounts_days` (each with a default and bounds).
    #[serde(default)]
    pub data_retention: veil_web::data_retention::Rules,
    /// The longest retention anyone may set, for the installation or for a
    /// camera, in hours. Default 8760 (one year).
    #[serde(default = "default_max_retention_hours")]
    pub max_retention_hours: u32,
    /// Where the root key is kept (`[root_key]`, `kind = "file" | "env" |
    /// "credential" | "command"`); by default a file beside the data.
    #[serde(default)]
    pub root_key: RootKey,
    /// How often the root key rotates, in days (1 to 366). Default 30.
    #[serde(default = "default_root_key_rotation_days")]
    pub root_key_rotation_days: u32,
    /// Evidence locks: `[locks] max_review_days` (1 to 3650, default 365),
    /// the longest time a lock may run before its review date.
    #[serde(default)]
    pub locks: Locks,
    /// Privacy masks: `[masks]` with `lift_key` (`server`, the default, or
    /// `escrow`), `escrow_recipient` (`age1…`, required for escrow),
    /// `original_retention_hours` (default 72) and `lift_grant_minutes`
    /// (default 60).
    #[serde(default)]
    pub masks: Masks,
    /// The DPO's desk: `[dpo]` with `access_review_months` (1 to 24,
    /// default 6: how often accounts' roles are confirmed) and
    /// `max_administrators` (default 3: more is a compliance finding).
    #[serde(default)]
    pub dpo: Dpo,
    /// The organisation profile (`[organisation]`: `controller`, `dpo`,
    /// `authority`, `[[organisation.sites]]`, `storage`, `information_at`),
    /// written at start when it differs from the stored one. Cameras'
    /// purposes name its sites. Absent: the profile set over the API stays.
    #[serde(default)]
    pub organisation: Option<veil_dpo::model::Organisation>,
    /// Where the video objects are kept: `[objects] s3 = { endpoint, bucket,
    /// region, prefix, credentials_file }` for an S3-compatible bucket
    /// (`docs/design/storage.md`); absent, the default: `objects/` in the
    /// data directory.
    #[serde(default)]
    pub objects: Objects,
    /// `[database] url = "postgres://…"`: the PostgreSQL database that holds
    /// the metadata instead of the data directory's `veil.db` (`veil
    /// migrate-db` copies an embedded installation into one). Checked for
    /// syntax; its password is never printed.
    #[serde(default)]
    pub database: Database,
    /// `[node] id, internal_address`: this process's identity among the
    /// nodes sharing one database (scale-out; `docs/design/scale-out.md`).
    #[serde(default)]
    pub node: Node,
    /// Set by `veil demo` only: the first account is exempt from its roles'
    /// second-factor requirement. Not a configuration key.
    #[serde(skip)]
    pub demo: bool,
    /// Set by `veil demo --backfill-minutes` only: this many minutes of
    /// synthetic video recorded in the past (ending a minute ago, so a gap
    /// separates it from live recording), for trying and testing playback.
    #[serde(skip)]
    pub backfill_minutes: u32,
}

/// A parse error of `veil.toml` without the file's text: toml's errors
/// quote the offending line, which may hold a secret (a database URL with
/// its password, a key written into the configuration by mistake), so only
/// the line number, the key's name (`section.key`, from the text before
/// `=` and the last table header, never a value) and the message are kept,
/// for every line.
fn quiet_secrets(text: &str, e: toml::de::Error) -> anyhow::Error {
    let Some(span) = e.span() else {
        return anyhow::anyhow!("{}", e.message());
    };
    let start = span.start.min(text.len());
    let line_no = text[..start].matches('\n').count() + 1;
    let name = |s: &str| {
        let s = s.trim();
        (!s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)))
        .then(|| s.to_owned())
    };
    let lines: Vec<&str> = text.lines().take(line_no).collect();
    let key = lines
        .last()
        .and_then(|l| l.split_once('='))
        .and_then(|(k, _)| name(k));
    let section = lines
        .iter()
        .rev()
        .find_map(|l| l.trim().strip_prefix('['))
        .and_then(|h| name(h.trim_start_matches('[').trim_end_matches(']')));
    match (section, key) {
        (Some(s), Some(k)) => anyhow::anyhow!("line {line_no}, {s}.{k}: {}", e.message()),
        (None, Some(k)) => anyhow::anyhow!("line {line_no}, {k}: {}", e.message()),
        _ => anyhow::anyhow!("line {line_no}: {}", e.message()),
    }
}

/// `[database]` (see [`Config::database`]).
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// `postgres://user@host:port/database`; absent, the embedded SQLite.
    #[serde(default)]
    pub url: Option<String>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field(
                "url",
                &self.url.as_deref().map(veil_store::db::redact_postgres_url),
            )
            .finish()
    }
}

impl Database {
    fn check(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.url {
            veil_store::migrate::check_postgres_url(url).map_err(|e| match e {
                veil_store::Error::Invalid(m) => anyhow::anyhow!("[database] url: {m}"),
                e => anyhow::anyhow!("[database] url: {e}"),
            })?;
        }
        Ok(())
    }
}

/// `[node]` (see [`Config::node`]).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// The node's stable id (1 to 64 letters, digits, `-` and `_`); absent,
    /// a random id generated once and kept in the data directory's
    /// `node-id`.
    #[serde(default)]
    pub id: Option<String>,
    /// Where other nodes reach this one (recorded in the node registry);
    /// by default the `internal_listen` address.
    #[serde(default)]
    pub internal_address: String,
    /// `HOST:PORT` where a recorder on a shared database serves the
    /// internal channel (live frames to web nodes, mutual TLS from the
    /// root key); required for roles `recorder` and `all` on PostgreSQL.
    #[serde(default)]
    pub internal_listen: Option<String>,
}

/// Whether `id` is a valid node id: 1 to 64 ASCII letters, digits, `-`
/// and `_`.
pub fn node_id_ok(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Node {
    fn check(&self) -> anyhow::Result<()> {
        if let Some(id) = &self.id {
            if !node_id_ok(id) {
                anyhow::bail!("[node] id must be 1 to 64 letters, digits, '-' or '_'");
            }
        }
        Ok(())
    }
}

/// `[objects]` (see [`Config::objects`]).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Objects {
    /// An S3-compatible bucket instead of the data directory's `objects/`.
    #[serde(default)]
    pub s3: Option<veil_store::S3Config>,
}

impl Objects {
    fn check(&self) -> anyhow::Result<()> {
        if let Some(s3) = &self.s3 {
            s3.check().map_err(|e| match e {
                veil_store::Error::Invalid(m) => anyhow::anyhow!(m),
                e => anyhow::anyhow!(e),
            })?;
        }
        Ok(())
    }
}

/// One table of a configuration file alone (its default when the file has
/// none), for the commands that read a section without the rest: other
/// sections are not checked. The errors never quote a secret of the file.
fn section_of<T: Default + serde::de::DeserializeOwned>(
    path: &std::path::Path,
    name: &str,
) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "invalid configuration {}: {}",
            path.display(),
            quiet_secrets(&text, e)
        )
    })?;
    match table.get(name) {
        None => Ok(T::default()),
        Some(v) => v
            .clone()
            .try_into()
            // The value's error never quotes the file.
            .map_err(|e: toml::de::Error| {
                anyhow::anyhow!("invalid {name} in {}: {}", path.display(), e.message())
            }),
    }
}

/// The `[objects]` section of a configuration file alone, for the commands
/// that work on a stopped server's data directory (`veil check`, `veil
/// keys`, …): other sections are not checked.
pub fn objects_of(path: &std::path::Path) -> anyhow::Result<Objects> {
    let objects: Objects = section_of(path, "objects")?;
    objects
        .check()
        .map_err(|e| anyhow::anyhow!("invalid configuration {}: {e}", path.display()))?;
    Ok(objects)
}

/// The `[database]` section of a configuration file alone, for the
/// commands that work on a data directory with `--config` (`veil check`,
/// `veil audit verify`, …): its PostgreSQL URL, `None` for the data
/// directory's SQLite (also without a configuration file). Other sections
/// are not checked; the password is never printed.
pub fn database_url_of(path: Option<&std::path::Path>) -> anyhow::Result<Option<String>> {
    let Some(path) = path else {
        return Ok(None);
    };
    let database: Database = section_of(path, "database")?;
    database
        .check()
        .map_err(|e| anyhow::anyhow!("invalid configuration {}: {e}", path.display()))?;
    Ok(database.url)
}

/// The DPO's desk settings (see [`Config::dpo`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dpo {
    /// Accounts' roles are reviewed every this many months.
    #[serde(default = "default_access_review_months")]
    pub access_review_months: u32,
    /// The most administrators the installation should have.
    #[serde(default = "default_max_administrators")]
    pub max_administrators: u32,
}

impl Default for Dpo {
    fn default() -> Self {
        Dpo {
            access_review_months: default_access_review_months(),
            max_administrators: default_max_administrators(),
        }
    }
}

fn default_access_review_months() -> u32 {
    veil_web::dpo::DEFAULT_ACCESS_REVIEW_MONTHS
}

fn default_max_administrators() -> u32 {
    veil_web::dpo::DEFAULT_MAX_ADMINISTRATORS
}

/// Evidence-lock settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Locks {
    /// The longest time from now to a lock's review date, in days.
    #[serde(default = "default_lock_max_review_days")]
    pub max_review_days: u32,
}

impl Default for Locks {
    fn default() -> Self {
        Locks {
            max_review_days: default_lock_max_review_days(),
        }
    }
}

fn default_lock_max_review_days() -> u32 {
    veil_web::protections::DEFAULT_MAX_REVIEW_DAYS
}

/// Privacy-mask settings: who can open the `original` rendition of a
/// camera with liftable masks, how long it is kept and how long a lift
/// lasts (`docs/design/masks.md`, "Lifting a mask: keys and the lift path").
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Masks {
    /// `server` (the installation's lift key, sealed under the root) or
    /// `escrow` (an offline recipient: the server cannot open originals).
    #[serde(default = "default_lift_key")]
    pub lift_key: String,
    /// The escrow recipient, an age X25519 public key (`age1…`); required
    /// with `lift_key = "escrow"`, refused otherwise.
    #[serde(default)]
    pub escrow_recipient: Option<String>,
    /// The default retention of the `original` rendition, in hours (1 to
    /// `max_retention_hours`, default 72); a camera's own rule for
    /// `original` overrides it, and it never lengthens the camera's other
    /// retention.
    #[serde(default = "default_original_retention_hours")]
    pub original_retention_hours: u32,
    /// How long a lift grant lasts, in minutes (1 to 1440, default 60).
    #[serde(default = "default_lift_grant_minutes")]
    pub lift_grant_minutes: u32,
}

impl Default for Masks {
    fn default() -> Self {
        Masks {
            lift_key: default_lift_key(),
            escrow_recipient: None,
            original_retention_hours: default_original_retention_hours(),
            lift_grant_minutes: default_lift_grant_minutes(),
        }
    }
}

fn default_lift_key() -> String {
    "server".into()
}

fn default_original_retention_hours() -> u32 {
    veil_store::retention_rule::DEFAULT_ORIGINAL_HOURS
}

fn default_lift_grant_minutes() -> u32 {
    veil_web::lift::DEFAULT_GRANT_MINUTES
}

impl Masks {
    /// The key mode as the store takes it; errors name the key.
    pub fn mode(&self) -> anyhow::Result<veil_store::LiftMode> {
        match (self.lift_key.as_str(), &self.escrow_recipient) {
            ("server", None) => Ok(veil_store::LiftMode::Server),
            ("server", Some(_)) => anyhow::bail!(
                "masks.escrow_recipient is only used with masks.lift_key = \"escrow\""
            ),
            ("escrow", Some(r)) => veil_store::lift::parse_recipient(r)
                .map(veil_store::LiftMode::Escrow)
                .map_err(|_| {
                    // Never echo the value: a secret key pasted here by
                    // mistake must not reach a log.
                    if r.trim().to_ascii_uppercase().starts_with("AGE-SECRET-KEY-") {
                        anyhow::anyhow!(
                            "masks.escrow_recipient holds a secret key (an age identity): \
                             give its public key instead (age-keygen -y prints it), keep the \
                             identity offline, and replace this one, which this file has exposed"
                        )
                    } else {
                        anyhow::anyhow!(
                            "masks.escrow_recipient must be an age X25519 public key (age1…, \
                             as printed by age-keygen)"
                        )
                    }
                }),
            ("escrow", None) => anyhow::bail!(
                "masks.lift_key = \"escrow\" needs masks.escrow_recipient, the DPO's age \
                 public key (age1…)"
            ),
            (other, _) => {
                anyhow::bail!("masks.lift_key must be \"server\" or \"escrow\", got {other:?}")
            }
        }
    }
}

/// Where the root key versions are kept (`docs/design/retention.md`, "Root
/// key sources").
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RootKey {
    /// Files in the data directory (`root.key`, then `root.N.key`): the
    /// demo default. An image of the data disk holds the root.
    #[default]
    DataDir,
    /// Files in another directory (another medium: a USB key, a separate
    /// volume).
    File {
        /// The directory.
        dir: PathBuf,
    },
    /// A key-encryption key (64 hex digits) in an environment variable; the
    /// root versions are kept sealed under it beside the data.
    Env {
        /// The variable's name.
        variable: String,
    },
    /// A key-encryption key in a systemd credential
    /// (`$CREDENTIALS_DIRECTORY/NAME`, e.g. `LoadCredentialEncrypted=`); the
    /// root versions are kept sealed under it beside the data.
    Credential {
        /// The credential's name.
        name: String,
    },
    /// An external program (a key-management service's client) called as
    /// `COMMAND… load|create|destroy VERSION`.
    Command {
        /// The program and its first arguments.
        command: Vec<String>,
    },
}

impl RootKey {
    /// The source over `data_dir`.
    pub fn source(
        &self,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<std::sync::Arc<dyn veil_store::root::RootKeySource>> {
        use veil_store::root::{CommandSource, FileSource, KekSource};
        Ok(match self {
            RootKey::DataDir => std::sync::Arc::new(FileSource::new(data_dir)),
            RootKey::File { dir } => {
                if !dir.is_dir() {
                    anyhow::bail!(
                        "root_key.dir {} is not a directory (is its medium mounted?)",
                        dir.display()
                    );
                }
                std::sync::Arc::new(FileSource::new(dir))
            }
            RootKey::Env { variable } => {
                std::sync::Arc::new(KekSource::from_env(variable, data_dir)?)
            }
            RootKey::Credential { name } => {
                std::sync::Arc::new(KekSource::from_credential(name, data_dir)?)
            }
            RootKey::Command { command } => {
                std::sync::Arc::new(CommandSource::new(command.clone())?)
            }
        })
    }
}

/// The default root key rotation: 30 days.
pub const DEFAULT_ROOT_KEY_ROTATION_DAYS: u32 = 30;

fn default_root_key_rotation_days() -> u32 {
    DEFAULT_ROOT_KEY_ROTATION_DAYS
}

/// The root section of a configuration file alone, for the commands that
/// work on a stopped server's data directory (`veil keys`, `veil
/// decommission`): other sections are not checked.
pub fn root_key_of(path: &std::path::Path) -> anyhow::Result<RootKey> {
    section_of(path, "root_key")
}

/// The default retention: 7 days.
pub const DEFAULT_RETENTION_HOURS: u32 = 7 * 24;
/// The longest retention without a written justification: 30 days.
pub const MAX_UNJUSTIFIED_RETENTION_HOURS: u32 = 30 * 24;

fn default_retention_hours() -> u32 {
    DEFAULT_RETENTION_HOURS
}

fn default_max_retention_hours() -> u32 {
    veil_store::retention_rule::DEFAULT_MAX_HOURS
}

/// Checks a retention: at least one hour, and over 30 days only with a
/// justification of at least 10 characters.
pub fn check_retention(hours: u32, justification: Option<&str>) -> anyhow::Result<()> {
    if hours == 0 {
        anyhow::bail!("retention_hours must be at least 1");
    }
    if hours > MAX_UNJUSTIFIED_RETENTION_HOURS
        && justification.map_or(0, |j| j.trim().chars().count()) < 10
    {
        anyhow::bail!(
            "retention_hours = {hours} is longer than 30 days ({MAX_UNJUSTIFIED_RETENTION_HOURS} \
             hours): keeping video that long needs a reason. Give it in \
             retention_justification (at least 10 characters), or shorten retention_hours"
        );
    }
    Ok(())
}

fn default_first_account_roles() -> Vec<String> {
    vec![veil_access::ADMINISTRATOR.into()]
}

fn default_first_account() -> String {
    "first-administrator".into()
}

fn default_listen() -> String {
    "127.0.0.1:8443".into()
}

/// HTTPS settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Tls {
    /// A self-signed certificate generated on first start (default).
    SelfSigned {
        /// Extra host names or addresses for the certificate.
        #[serde(default)]
        names: Vec<String>,
    },
    /// A certificate you provide (PEM).
    Files {
        /// Certificate chain.
        cert: PathBuf,
        /// Private key.
        key: PathBuf,
    },
    /// Plain HTTP, only behind a reverse proxy that terminates TLS.
    PlainBehindProxy,
}

impl Default for Tls {
    fn default() -> Self {
        Tls::SelfSigned { names: Vec::new() }
    }
}

/// Recording settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    /// Target segment duration; segments are cut at the first keyframe after it.
    #[serde(default = "default_segment_seconds")]
    pub segment_seconds: u32,
}

fn default_segment_seconds() -> u32 {
    10
}

impl Default for Recording {
    fn default() -> Self {
        Recording {
            segment_seconds: default_segment_seconds(),
        }
    }
}

/// Access-record settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audit {
    /// How much of a client's address to keep: `full`, `truncated` or `none`.
    #[serde(default)]
    pub client_address: ClientAddress,
    /// A signed checkpoint after this many entries.
    #[serde(default = "default_checkpoint_entries")]
    pub checkpoint_every_entries: u64,
    /// A signed checkpoint at least this often while entries arrive.
    #[serde(default = "default_checkpoint_minutes")]
    pub checkpoint_every_minutes: u64,
    /// A copy of every checkpoint outside the database.
    #[serde(default)]
    pub checkpoint_sink: Option<CheckpointSink>,
    /// Entries older than this are pruned behind a signed anchor.
    #[serde(default = "default_audit_retention_days")]
    pub retention_days: u32,
}

fn default_checkpoint_entries() -> u64 {
    1000
}

fn default_checkpoint_minutes() -> u64 {
    5
}

fn default_audit_retention_days() -> u32 {
    365
}

impl Default for Audit {
    fn default() -> Self {
        Audit {
            client_address: ClientAddress::default(),
            checkpoint_every_entries: default_checkpoint_entries(),
            checkpoint_every_minutes: default_checkpoint_minutes(),
            checkpoint_sink: None,
            retention_days: default_audit_retention_days(),
        }
    }
}

/// Where copies of checkpoints go.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum CheckpointSink {
    /// One JSON line per checkpoint appended to a file (put it on other
    /// storage, or a file system with append-only attributes).
    File {
        /// The file.
        path: PathBuf,
    },
    /// One message per checkpoint to the local syslog socket (facility
    /// log-audit), from where syslog can forward it to another machine.
    Syslog {
        /// The socket; `/dev/log` by default.
        #[serde(default = "default_syslog_socket")]
        socket: PathBuf,
    },
}

fn default_syslog_socket() -> PathBuf {
    "/dev/log".into()
}

/// See [`Audit::client_address`].
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientAddress {
    /// Whole address.
    #[default]
    Full,
    /// /24 or /48.
    Truncated,
    /// Nothing.
    None,
}

/// One camera.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Camera {
    /// Unique display name.
    pub name: String,
    /// Where its video comes from.
    pub source: Source,
    /// Record the camera's audio (RTSP cameras, AAC only). Off unless enabled
    /// with a documented purpose.
    #[serde(default)]
    pub audio: TrackConfig,
    /// Record the camera's ONVIF metadata stream (RTSP cameras). Off unless
    /// enabled with a documented purpose.
    #[serde(default)]
    pub metadata: TrackConfig,
    /// What the camera looks at: `private` (default), `workplace`,
    /// `public_facing` (kept 48 hours unless the camera has its own
    /// retention) or `residential_adjacent`.
    #[serde(default = "default_area")]
    pub area: String,
    /// The camera can pan, tilt or zoom (default `false`).
    #[serde(default)]
    pub ptz_capable: bool,
    /// PTZ control is enabled (default `false`); needs `ptz_capable`, and
    /// the server refuses to start while the camera also has privacy masks,
    /// which are fixed to the picture.
    #[serde(default)]
    pub ptz_control: bool,
    /// Its documented purposes (P8): why it exists, one or more. With
    /// `legal_basis`, `detail`, `site` and `retention_justification` (and
    /// `balancing_note` for legitimate interests) it documents the camera,
    /// which records only then. All absent: the purpose set over the API
    /// stays.
    #[serde(default)]
    pub purposes: Option<Vec<String>>,
    /// Art. 6(1) GDPR: `a` to `f`.
    #[serde(default)]
    pub legal_basis: Option<String>,
    /// For `f`: why the controller's interest is not overridden by those
    /// filmed.
    #[serde(default)]
    pub balancing_note: Option<String>,
    /// `detection`, `recognition` or `identification`.
    #[serde(default)]
    pub detail: Option<String>,
    /// The id of one of `[[organisation.sites]]`.
    #[serde(default)]
    pub site: Option<String>,
    /// Why its video is kept as long as it is.
    #[serde(default)]
    pub retention_justification: Option<String>,
}

impl Camera {
    /// The documented purpose its keys give, unchecked against the sites
    /// (`None` when it has none of them). The error names the key.
    pub fn purpose(&self) -> Result<Option<veil_dpo::model::Purpose>, String> {
        let Some(purposes) = &self.purposes else {
            for (key, set) in [
                ("legal_basis", self.legal_basis.is_some()),
                ("balancing_note", self.balancing_note.is_some()),
                ("detail", self.detail.is_some()),
                ("site", self.site.is_some()),
                (
                    "retention_justification",
                    self.retention_justification.is_some(),
                ),
            ] {
                if set {
                    return Err(format!(
                        "{key} is part of a documented purpose: give purposes, legal_basis, \
                         detail, site and retention_justification together"
                    ));
                }
            }
            return Ok(None);
        };
        let need = |key: &str, v: &Option<String>| {
            v.clone().ok_or_else(|| {
                format!(
                    "{key} is missing: a documented purpose needs purposes, legal_basis, \
                     detail, site and retention_justification"
                )
            })
        };
        let legal_basis =
            veil_dpo::model::LegalBasis::parse(&need("legal_basis", &self.legal_basis)?)
                .map_err(|e| e.to_string())?;
        let detail = veil_dpo::model::Detail::parse(&need("detail", &self.detail)?)
            .map_err(|e| e.to_string())?;
        Ok(Some(veil_dpo::model::Purpose {
            purposes: purposes.clone(),
            legal_basis,
            balancing_note: self.balancing_note.clone().unwrap_or_default(),
            detail,
            site: need("site", &self.site)?,
            retention_justification: need(
                "retention_justification",
                &self.retention_justification,
            )?,
        }))
    }

    /// The PTZ flags as the store keeps them.
    pub fn ptz(&self) -> veil_store::db::Ptz {
        veil_store::db::Ptz {
            capable: self.ptz_capable,
            control: self.ptz_control,
        }
    }
}

fn default_area() -> String {
    veil_store::retention_rule::PRIVATE.into()
}

/// `audio = { enabled = true, purpose = "…" }`: a stream recorded besides
/// video, with the purpose the records of processing quote.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackConfig {
    /// Whether the stream is recorded.
    #[serde(default)]
    pub enabled: bool,
    /// Why it is recorded (required to enable it).
    #[serde(default)]
    pub purpose: String,
}

impl TrackConfig {
    /// The checked setting as the store keeps it.
    pub fn consent(&self, field: &str) -> Result<veil_store::db::TrackConsent, String> {
        Ok(veil_store::db::TrackConsent {
            enabled: self.enabled,
            purpose: veil_ingest::managed::check_purpose(field, self.enabled, &self.purpose)?,
        })
    }
}

/// A camera's source.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Source {
    /// The built-in synthetic camera.
    Synthetic {
        /// Width in pixels (even, at most 1920).
        #[serde(default = "default_width")]
        width: u32,
        /// Height in pixels (even, at most 1080).
        #[serde(default = "default_height")]
        height: u32,
        /// Frames per second.
        #[serde(default = "default_fps")]
        fps: u32,
        /// Encoder bitrate.
        #[serde(default = "default_bitrate_kbps")]
        bitrate_kbps: u32,
        /// `continuous` (default) or `live_only` (live view, nothing stored).
        #[serde(default = "default_recording_mode")]
        recording_mode: String,
    },
    /// An IP camera sending H.264 over RTSP.
    Rtsp {
        /// `rtsp://host[:port]/path`, without user name or password.
        url: String,
        /// User name, if the camera asks for a login.
        #[serde(default)]
        username: Option<String>,
        /// A file holding the password (its first line). Never logged.
        #[serde(default)]
        password_file: Option<PathBuf>,
        /// The name of an environment variable holding the password.
        #[serde(default)]
        password_env: Option<String>,
        /// RTP transport: `tcp` (default, interleaved) or `udp`.
        #[serde(default)]
        transport: RtspTransport,
        /// For `rtsps://` cameras with a self-signed certificate: its SHA-256
        /// fingerprint (hex, colons allowed). Without it the certificate is
        /// verified against the public roots.
        #[serde(default)]
        tls_fingerprint: Option<String>,
        /// `continuous` (default), `scheduled`, `motion` or `live_only`.
        #[serde(default = "default_recording_mode")]
        recording_mode: String,
        /// For `scheduled`: `{ time_zone = "Europe/Paris", intervals = [{ day = "mon",
        /// start = "08:00", end = "18:00" }] }`.
        #[serde(default)]
        schedule: Option<veil_base::schedule::TimeProfile>,
        /// For `motion`: `{ pre_seconds, post_seconds, threshold, min_area_percent }`.
        #[serde(default)]
        motion: Option<veil_ingest::MotionSettings>,
    },
}

fn default_recording_mode() -> String {
    veil_ingest::managed::CONTINUOUS.into()
}

/// See [`Source::Rtsp`].
#[derive(Clone, Copy, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RtspTransport {
    /// Interleaved in the RTSP connection.
    #[default]
    Tcp,
    /// Separate UDP ports.
    Udp,
}

impl Source {
    /// The kind stored in the camera row.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Synthetic { .. } => "synthetic",
            Source::Rtsp { .. } => "rtsp",
        }
    }

    /// An RTSP source's recording mode with its settings, checked.
    pub fn recording(&self) -> Result<veil_ingest::RecordingMode, String> {
        match self {
            Source::Synthetic { recording_mode, .. } => match recording_mode.as_str() {
                veil_ingest::managed::CONTINUOUS => Ok(veil_ingest::RecordingMode::Continuous),
                veil_ingest::managed::LIVE_ONLY => Ok(veil_ingest::RecordingMode::LiveOnly),
                other => Err(format!(
                    "a synthetic camera's recording_mode is \"continuous\" or \"live_only\", \
                     got {other:?}"
                )),
            },
            Source::Rtsp {
                recording_mode,
                schedule,
                motion,
                ..
            } => veil_ingest::managed::recording_mode(
                recording_mode,
                &veil_ingest::managed::StoredRecording {
                    schedule: schedule.clone(),
                    motion: motion.clone(),
                },
            ),
        }
    }

    /// Checks an RTSP source: a plain `rtsp://` URL without credentials in it,
    /// at most one password source, and a user name whenever a password is set.
    fn check(&self, camera: &str) -> anyhow::Result<()> {
        self.recording()
            .map_err(|e| anyhow::anyhow!("camera {camera:?}: {e}"))?;
        let Source::Rtsp {
            url,
            username,
            password_file,
            password_env,
            transport,
            tls_fingerprint,
            ..
        } = self
        else {
            return Ok(());
        };
        let (clean, creds) = veil_ingest::split_url_credentials(url)
            .map_err(|e| anyhow::anyhow!("camera {camera:?}: {e}"))?;
        if creds.is_some() {
            anyhow::bail!(
                "camera {camera:?}: put the user name in `username` and the password in                  `password_file` or `password_env`, not in the URL ({clean})"
            );
        }
        let secure = clean.starts_with("rtsps://");
        if secure && *transport == RtspTransport::Udp {
            anyhow::bail!("camera {camera:?}: rtsps:// needs transport = \"tcp\"");
        }
        if let Some(f) = tls_fingerprint {
            if !secure {
                anyhow::bail!("camera {camera:?}: tls_fingerprint is only for rtsps:// URLs");
            }
            veil_ingest::tls::parse_fingerprint(f)
                .map_err(|e| anyhow::anyhow!("camera {camera:?}: {e}"))?;
        }
        if password_file.is_some() && password_env.is_some() {
            anyhow::bail!("camera {camera:?}: give either password_file or password_env, not both");
        }
        if (password_file.is_some() || password_env.is_some()) && username.is_none() {
            anyhow::bail!("camera {camera:?}: a password needs a username");
        }
        Ok(())
    }
}

fn default_width() -> u32 {
    640
}
fn default_height() -> u32 {
    360
}
fn default_fps() -> u32 {
    25
}
fn default_bitrate_kbps() -> u32 {
    1000
}

/// The site of `veil demo`'s cameras.
pub const DEMO_SITE: &str = "demo";

/// `veil demo`'s organisation profile: a demo controller and DPO address,
/// one site. Where its data is stored is left undeclared: the demo runs on
/// whatever machine it is started on.
pub fn demo_organisation() -> veil_dpo::model::Organisation {
    use veil_dpo::model::{Organisation, Party, Site};
    Organisation {
        controller: Party {
            name: "Veil demo".into(),
            email: "privacy@demo.invalid".into(),
            ..Party::default()
        },
        dpo: Party {
            name: "Demo data-protection officer".into(),
            email: "dpo@demo.invalid".into(),
            ..Party::default()
        },
        sites: vec![Site {
            id: DEMO_SITE.into(),
            name: "Demo site".into(),
            address: String::new(),
        }],
        information_at: "the demo's documents page".into(),
        ..Organisation::default()
    }
}

impl Camera {
    /// `veil demo`'s documented purpose, so that its cameras record.
    pub fn with_demo_purpose(mut self) -> Camera {
        self.purposes = Some(vec!["Demonstration of the video management system".into()]);
        self.legal_basis = Some("a".into());
        self.detail = Some("detection".into());
        self.site = Some(DEMO_SITE.into());
        self.retention_justification =
            Some("Synthetic pictures of no one, kept as long as the demo runs".into());
        self
    }
}

impl Config {
    /// Parses and checks a configuration file's text.
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let c: Config = toml::from_str(text).map_err(|e| quiet_secrets(text, e))?;
        let name_ok = |n: &str| {
            (3..=64).contains(&n.len())
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        };
        veil_web::proxy::TrustedProxies::parse(&c.trusted_proxies).map_err(anyhow::Error::msg)?;
        if !name_ok(&c.first_account) {
            anyhow::bail!(
                "first_account must be 3 to 64 letters, digits, '.', '_' or '-' (got {:?})",
                c.first_account
            );
        }
        let known: Vec<String> = veil_access::role::templates()
            .into_iter()
            .map(|r| r.name)
            .collect();
        for r in &c.first_account_roles {
            if !known.contains(r) {
                anyhow::bail!(
                    "first_account_roles: unknown role {r:?} (known: {})",
                    known.join(", ")
                );
            }
        }
        if c.first_account_roles.is_empty() {
            anyhow::bail!("first_account_roles must name at least one role");
        }
        if c.audit.checkpoint_every_entries == 0 || c.audit.checkpoint_every_minutes == 0 {
            anyhow::bail!("audit.checkpoint_every_entries and audit.checkpoint_every_minutes must be at least 1");
        }
        if c.audit.retention_days == 0 {
            anyhow::bail!("audit.retention_days must be at least 1");
        }
        if !(1..=366).contains(&c.root_key_rotation_days) {
            anyhow::bail!(
                "root_key_rotation_days = {} must be between 1 and 366",
                c.root_key_rotation_days
            );
        }
        if let RootKey::Command { command } = &c.root_key {
            if command.first().is_none_or(|p| p.is_empty()) {
                anyhow::bail!("root_key.command must name a program");
            }
        }
        c.data_retention.check().map_err(anyhow::Error::msg)?;
        c.objects.check()?;
        c.database.check()?;
        c.node.check()?;
        if !(1..=3650).contains(&c.locks.max_review_days) {
            anyhow::bail!(
                "locks.max_review_days must be 1 to 3650, got {}",
                c.locks.max_review_days
            );
        }
        if !(1..=24).contains(&c.dpo.access_review_months) {
            anyhow::bail!(
                "dpo.access_review_months must be 1 to 24, got {}",
                c.dpo.access_review_months
            );
        }
        if !(1..=1000).contains(&c.dpo.max_administrators) {
            anyhow::bail!(
                "dpo.max_administrators must be 1 to 1000, got {}",
                c.dpo.max_administrators
            );
        }
        if let Some(o) = &c.organisation {
            o.check()
                .map_err(|e| anyhow::anyhow!("[organisation] {e}"))?;
        }
        c.masks.mode()?;
        if !(1..=1440).contains(&c.masks.lift_grant_minutes) {
            anyhow::bail!(
                "masks.lift_grant_minutes must be 1 to 1440, got {}",
                c.masks.lift_grant_minutes
            );
        }
        if c.masks.original_retention_hours == 0
            || c.masks.original_retention_hours > c.max_retention_hours
        {
            anyhow::bail!(
                "masks.original_retention_hours must be 1 to max_retention_hours ({}), got {}",
                c.max_retention_hours,
                c.masks.original_retention_hours
            );
        }
        check_retention(c.retention_hours, c.retention_justification.as_deref())?;
        if c.max_retention_hours == 0 {
            anyhow::bail!("max_retention_hours must be at least 1");
        }
        if c.retention_hours > c.max_retention_hours {
            anyhow::bail!(
                "retention_hours = {} is above max_retention_hours = {}",
                c.retention_hours,
                c.max_retention_hours
            );
        }
        if c.recording.segment_seconds == 0 || c.recording.segment_seconds > 600 {
            anyhow::bail!("recording.segment_seconds must be between 1 and 600");
        }
        let mut names = std::collections::HashSet::new();
        for cam in &c.cameras {
            for (field, t) in [("audio", &cam.audio), ("metadata", &cam.metadata)] {
                t.consent(field)
                    .map_err(|e| anyhow::anyhow!("camera {:?}: {e}", cam.name))?;
                if t.enabled && cam.source.kind() != "rtsp" {
                    anyhow::bail!(
                        "camera {:?}: {field} can only be recorded from RTSP cameras",
                        cam.name
                    );
                }
            }
            if cam.name.trim().is_empty() || !names.insert(cam.name.as_str()) {
                anyhow::bail!("camera names must be non-empty and unique ({:?})", cam.name);
            }
            cam.source.check(&cam.name)?;
            if let Some(p) = cam
                .purpose()
                .map_err(|e| anyhow::anyhow!("camera {:?}: {e}", cam.name))?
            {
                let sites = c.organisation.as_ref().map_or(&[][..], |o| &o.sites[..]);
                p.check(sites)
                    .map_err(|e| anyhow::anyhow!("camera {:?}: {e}", cam.name))?;
            }
            veil_store::retention_rule::check_area(&cam.area)
                .map_err(|e| anyhow::anyhow!("camera {:?}: {e}", cam.name))?;
            if cam.ptz_control && !cam.ptz_capable {
                anyhow::bail!(
                    "camera {:?}: ptz_control needs ptz_capable = true",
                    cam.name
                );
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_key_sources_and_rotation_parse_and_are_checked() {
        let c = Config::parse("data_dir = '/x'").unwrap();
        assert_eq!(c.root_key, RootKey::DataDir);
        assert_eq!(c.root_key_rotation_days, 30);
        for (text, want) in [
            (
                "[root_key]\nkind = 'file'\ndir = '/k'",
                RootKey::File { dir: "/k".into() },
            ),
            (
                "[root_key]\nkind = 'env'\nvariable = 'K'",
                RootKey::Env {
                    variable: "K".into(),
                },
            ),
            (
                "[root_key]\nkind = 'credential'\nname = 'k'",
                RootKey::Credential { name: "k".into() },
            ),
            (
                "[root_key]\nkind = 'command'\ncommand = ['/bin/kms', 'x']",
                RootKey::Command {
                    command: vec!["/bin/kms".into(), "x".into()],
                },
            ),
        ] {
            let c = Config::parse(&format!("data_dir = '/x'\n{text}")).unwrap();
            assert_eq!(c.root_key, want, "{text}");
        }
        for (text, key) in [
            ("root_key_rotation_days = 0", "root_key_rotation_days"),
            ("root_key_rotation_days = 400", "root_key_rotation_days"),
            (
                "[root_key]\nkind = 'command'\ncommand = []",
                "root_key.command",
            ),
            ("[root_key]\nkind = 'file'", "dir"),
            ("[root_key]\nkind = 'tpm'", "tpm"),
        ] {
            let e = Config::parse(&format!("data_dir = '/x'\n{text}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
        // The commands on a stopped server read the section alone.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("veil.toml");
        std::fs::write(
            &f,
            "data_dir = '/x'\n[root_key]\nkind = 'env'\nvariable = 'K'\n",
        )
        .unwrap();
        assert_eq!(
            root_key_of(&f).unwrap(),
            RootKey::Env {
                variable: "K".into()
            }
        );
        std::fs::write(&f, "data_dir = '/x'\n").unwrap();
        assert_eq!(root_key_of(&f).unwrap(), RootKey::DataDir);
        // A missing variable is named, never its value.
        let e = RootKey::Env {
            variable: "VEIL_TEST_SURELY_UNSET".into(),
        }
        .source(dir.path())
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("VEIL_TEST_SURELY_UNSET"), "{e}");
    }

    #[test]
    fn example_config_parses() {
        let c = Config::parse(include_str!("../../../veil.example.toml")).unwrap();
        assert_eq!(c.cameras.len(), 3);
        assert!(matches!(
            &c.cameras[2].source,
            Source::Rtsp {
                transport: RtspTransport::Tcp,
                password_env: Some(_),
                ..
            }
        ));
        assert_eq!(c.recording.segment_seconds, 10);
        assert!(matches!(c.tls, Tls::SelfSigned { .. }));
    }

    #[test]
    fn bad_config_is_explained() {
        let e = Config::parse("data_dir = '/x'\nlisten = 5")
            .unwrap_err()
            .to_string();
        assert!(e.contains("listen"), "{e}");
        let e = Config::parse("data_dir = '/x'\nbogus = 1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus"), "{e}");
        let e = Config::parse("data_dir = '/x'\n[recording]\nsegment_seconds = 0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("segment_seconds"), "{e}");
        let e = Config::parse("data_dir = '/x'\n[[camera]]\nname = 'a'\nsource = { kind = 'ftp' }")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ftp") || e.contains("variant"), "{e}");
    }

    #[test]
    fn objects_s3_is_parsed_and_checked() {
        assert_eq!(
            Config::parse("data_dir = '/x'").unwrap().objects,
            Objects::default()
        );
        let c = Config::parse(
            "data_dir = '/x'\n[objects]\ns3 = { endpoint = 'http://127.0.0.1:9000', bucket = 'veil', \
             prefix = 'site-a/', credentials_file = '/etc/veil/s3.toml' }",
        )
        .unwrap();
        let s3 = c.objects.s3.as_ref().unwrap();
        assert_eq!(s3.region, "us-east-1");
        assert_eq!(s3.prefix.as_deref(), Some("site-a/"));
        // The configuration holds a path, never a secret: a secret written
        // into it by mistake is refused as an unknown key, unquoted.
        let e = Config::parse(
            "data_dir = '/x'\n[objects]\ns3 = { endpoint = 'http://h:9000', bucket = 'veil', \
             secret_access_key = 'do-not-print-me' }",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("secret_access_key"), "{e}");
        assert!(!e.contains("do-not-print-me"), "{e}");
        assert!(!format!("{c:?}").contains("do-not-print-me"));
        for (bad, field) in [
            (
                "s3 = { endpoint = 'ftp://h', bucket = 'veil' }",
                "objects.s3.endpoint",
            ),
            (
                "s3 = { endpoint = 'http://h', bucket = 'A_B' }",
                "objects.s3.bucket",
            ),
            ("s3 = { endpoint = 'http://h' }", "bucket"),
            ("local = true", "local"),
        ] {
            let e = Config::parse(&format!("data_dir = '/x'\n[objects]\n{bad}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(field), "{bad}: {e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("veil.toml");
        std::fs::write(
            &f,
            "data_dir = '/x'\nbogus_elsewhere = 1\n[objects]\ns3 = { endpoint = 'https://s3.example', bucket = 'veil' }",
        )
        .unwrap();
        assert_eq!(
            objects_of(&f).unwrap().s3.unwrap().endpoint,
            "https://s3.example"
        );
    }

    /// A malformed `[objects]`, `[root_key]` or `[database]` table holding a
    /// secret: every way of reading `veil.toml` names the line and the
    /// error, never the line's text.
    #[test]
    fn parse_errors_never_quote_the_file() {
        let secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYzzSECRET";
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("veil.toml");
        let cases = [
            format!("data_dir = '/x'\n[objects]\ns3 = {{ endpoint = \"http://h\", secret_access_key = {secret} }}\n"),
            format!("data_dir = '/x'\n[root_key]\nsource = \"file\"\npassphrase = {secret}\n"),
            format!("data_dir = '/x'\n[database]\nurl = \"postgres://veil:{secret}@db:5432/veil\n"),
            format!("data_dir = '/x'\n[database]\nurl = postgres://veil:{secret}@db:5432/veil\n"),
        ];
        for text in &cases {
            std::fs::write(&f, text).unwrap();
            let errors = [
                Config::parse(text).unwrap_err().to_string(),
                objects_of(&f).unwrap_err().to_string(),
                root_key_of(&f).unwrap_err().to_string(),
                database_url_of(Some(&f)).unwrap_err().to_string(),
            ];
            let line = text.lines().position(|l| l.contains(secret)).unwrap() + 1;
            for e in errors {
                assert!(!e.contains(secret), "{text}: {e}");
                assert!(e.contains(&format!("line {line}")), "{text}: {e}");
            }
        }
    }

    #[test]
    fn database_url_is_parsed_checked_and_never_shown_with_its_password() {
        assert_eq!(
            Config::parse("data_dir = '/x'").unwrap().database,
            Database::default()
        );
        let c = Config::parse(
            "data_dir = '/x'\n[database]\nurl = 'postgres://veil:do-not-print-me@db.example:5432/veil'",
        )
        .unwrap();
        assert_eq!(
            c.database.url.as_deref(),
            Some("postgres://veil:do-not-print-me@db.example:5432/veil")
        );
        let shown = format!("{c:?}");
        assert!(!shown.contains("do-not-print-me"), "{shown}");
        assert!(shown.contains("db.example:5432"), "{shown}");
        for bad in [
            "url = 'mysql://veil:do-not-print-me@h/veil'",
            "url = 'postgres://veil:do-not-print-me@h:notaport/veil'",
            "url = 'postgres://veil:do-not-print-me@h/veil?sslmode=sometimes'",
            "url = 42 # postgres://veil:do-not-print-me@h",
            "host = 'postgres://veil:do-not-print-me@h'",
        ] {
            let e = Config::parse(&format!("data_dir = '/x'\n[database]\n{bad}"))
                .unwrap_err()
                .to_string();
            assert!(!e.contains("do-not-print-me"), "{bad}: {e}");
            assert!(e.contains("url") || e.contains("host"), "{bad}: {e}");
        }
    }

    #[test]
    fn ptz_control_needs_a_ptz_capable_camera() {
        let c = Config::parse(
            "data_dir = '/x'\n[[camera]]\nname = 'a'\n[camera.source]\nkind = 'synthetic'\n\
             [[camera]]\nname = 'b'\nptz_capable = true\nptz_control = true\n\
             [camera.source]\nkind = 'synthetic'\n",
        )
        .unwrap();
        assert_eq!(c.cameras[0].ptz(), veil_store::db::Ptz::default());
        assert!(c.cameras[1].ptz().capable && c.cameras[1].ptz().control);
        let e = Config::parse(
            "data_dir = '/x'\n[[camera]]\nname = 'a'\nptz_control = true\n\
             [camera.source]\nkind = 'synthetic'\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("ptz_control needs ptz_capable"), "{e}");
    }

    #[test]
    fn cameras_have_an_area_and_may_be_live_only() {
        let c = Config::parse(
            "data_dir = '/x'\n[[camera]]\nname = 'a'\nsource = { kind = 'synthetic' }\n\
             [[camera]]\nname = 'b'\narea = 'public_facing'\n\
             source = { kind = 'synthetic', recording_mode = 'live_only' }\n\
             [[camera]]\nname = 'c'\n\
             source = { kind = 'rtsp', url = 'rtsp://h/s', recording_mode = 'live_only' }",
        )
        .unwrap();
        assert_eq!(c.cameras[0].area, "private");
        assert_eq!(c.cameras[1].area, "public_facing");
        assert_eq!(
            c.cameras[0].source.recording(),
            Ok(veil_ingest::RecordingMode::Continuous)
        );
        assert_eq!(
            c.cameras[1].source.recording(),
            Ok(veil_ingest::RecordingMode::LiveOnly)
        );
        assert_eq!(
            c.cameras[2].source.recording(),
            Ok(veil_ingest::RecordingMode::LiveOnly)
        );
        assert_eq!(c.max_retention_hours, 8760);
        let e = Config::parse(
            "data_dir = '/x'\n[[camera]]\nname = 'a'\narea = 'street'\n\
             source = { kind = 'synthetic' }",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("area must be one of"), "{e}");
        let e = Config::parse(
            "data_dir = '/x'\n[[camera]]\nname = 'a'\n\
             source = { kind = 'synthetic', recording_mode = 'motion' }",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("recording_mode"), "{e}");
        let e = Config::parse("data_dir = '/x'\nretention_hours = 100\nmax_retention_hours = 50")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_retention_hours"), "{e}");
    }

    #[test]
    fn retention_is_bounded_unless_justified() {
        let c = Config::parse("data_dir = '/x'").unwrap();
        assert_eq!(c.retention_hours, 168);
        let e = Config::parse("data_dir = '/x'\nretention_hours = 0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("retention_hours"), "{e}");
        Config::parse("data_dir = '/x'\nretention_hours = 720").unwrap();
        let e = Config::parse("data_dir = '/x'\nretention_hours = 721")
            .unwrap_err()
            .to_string();
        assert!(e.contains("retention_justification"), "{e}");
        let e = Config::parse(
            "data_dir = '/x'\nretention_hours = 2000\nretention_justification = ' short  '",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("retention_justification"), "{e}");
        let c = Config::parse(
            "data_dir = '/x'\nretention_hours = 2000\n\
             retention_justification = 'Thefts are reported weeks later'",
        )
        .unwrap();
        assert_eq!(c.retention_hours, 2000);
    }

    #[test]
    fn data_retention_rules_have_defaults_and_bounds() {
        let c = Config::parse("data_dir = '/x'").unwrap();
        assert_eq!(c.data_retention, veil_web::data_retention::Rules::default());
        assert_eq!(c.data_retention.disabled_accounts_days, 60);
        let c = Config::parse("data_dir = '/x'\n[data_retention]\napprovals_days = 10").unwrap();
        assert_eq!(c.data_retention.approvals_days, 10);
        assert_eq!(c.data_retention.api_tokens_days, 30);
        for (text, key) in [
            (
                "disabled_accounts_days = 0",
                "data_retention.disabled_accounts_days",
            ),
            (
                "disabled_accounts_days = 366",
                "data_retention.disabled_accounts_days",
            ),
            ("sessions_days = 31", "data_retention.sessions_days"),
            ("api_tokens_days = 1000", "data_retention.api_tokens_days"),
            ("bookmark_days = 3", "bookmark_days"),
            ("approvals_days = -1", "approvals_days"),
        ] {
            let e = Config::parse(&format!("data_dir = '/x'\n[data_retention]\n{text}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn audio_and_metadata_need_a_purpose() {
        let cam = |extra: &str| {
            Config::parse(&format!(
                "data_dir = '/x'\n[[camera]]\nname = 'door'\n\
                 source = {{ kind = 'rtsp', url = 'rtsp://h/s' }}\n{extra}"
            ))
        };
        let c = cam("").unwrap();
        assert!(!c.cameras[0].audio.enabled && !c.cameras[0].metadata.enabled);
        let e = cam("audio = { enabled = true }").unwrap_err().to_string();
        assert!(e.contains("audio.purpose") && e.contains("GDPR"), "{e}");
        let e = cam("metadata = { enabled = true, purpose = '   short   ' }")
            .unwrap_err()
            .to_string();
        assert!(e.contains("metadata.purpose"), "{e}");
        let c = cam("audio = { enabled = true, purpose = ' Evidence of threats at the till ' }")
            .unwrap();
        let consent = c.cameras[0].audio.consent("audio").unwrap();
        assert_eq!(consent.purpose, "Evidence of threats at the till");
    }

    #[test]
    fn cameras_purposes_are_checked_against_the_organisations_sites() {
        const ORG: &str = "[organisation]\ncontroller = { name = 'Shop Lda' }\n\
                           [[organisation.sites]]\nid = 'shop'\nname = 'Shop'\n";
        const PURPOSE: &str = "purposes = ['Protection of staff against robbery']\n\
                               legal_basis = 'f'\n\
                               balancing_note = 'Staff asked for it; customers see the notice.'\n\
                               detail = 'recognition'\nsite = 'shop'\n\
                               retention_justification = 'Robberies are reported within days'\n";
        let cam = |keys: &str, org: &str| {
            Config::parse(&format!(
                "data_dir = '/x'\n[[camera]]\nname = 'Door'\n\
                 source = {{ kind = 'synthetic' }}\n{keys}\n{org}"
            ))
        };
        let c = cam(PURPOSE, ORG).unwrap();
        let p = c.cameras[0].purpose().unwrap().unwrap();
        assert_eq!(p.site, "shop");
        assert_eq!(
            p.legal_basis,
            veil_dpo::model::LegalBasis::LegitimateInterests
        );
        assert_eq!(c.organisation.unwrap().sites[0].id, "shop");
        // No purpose keys: none (the API's purpose stays).
        assert!(cam("", ORG).unwrap().cameras[0]
            .purpose()
            .unwrap()
            .is_none());
        // A site the organisation does not have, or no organisation.
        for (keys, org) in [
            (PURPOSE.replace("site = 'shop'", "site = 'depot'"), ORG),
            (PURPOSE.to_owned(), ""),
        ] {
            let e = cam(&keys, org).unwrap_err().to_string();
            assert!(e.starts_with("camera \"Door\": site: unknown site"), "{e}");
        }
        for (from, to, field) in [
            ("legal_basis = 'f'", "legal_basis = 'g'", "legal_basis"),
            ("detail = 'recognition'", "detail = 'faces'", "detail"),
            (
                "purposes = ['Protection of staff against robbery']",
                "purposes = []",
                "purposes",
            ),
            (
                "balancing_note = 'Staff asked for it; customers see the notice.'",
                "",
                "balancing_note",
            ),
            (
                "retention_justification = 'Robberies are reported within days'",
                "",
                "retention_justification",
            ),
            ("site = 'shop'", "", "site"),
        ] {
            let e = cam(&PURPOSE.replace(from, to), ORG)
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with(&format!("camera \"Door\": {field}")),
                "{field}: {e}"
            );
        }
        // Part of a purpose without its purposes.
        let e = cam("site = 'shop'", ORG).unwrap_err().to_string();
        assert!(e.contains("site is part of a documented purpose"), "{e}");
        // The organisation itself is checked.
        let e = cam(
            "",
            "[organisation]\n[[organisation.sites]]\nid = 'Shop!'\nname = 'x'\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("[organisation] sites[0].id"), "{e}");
    }

    #[test]
    fn rtsp_sources_are_checked() {
        let cam = |src: &str| {
            Config::parse(&format!(
                "data_dir = '/x'\n[[camera]]\nname = 'door'\nsource = {src}"
            ))
        };
        cam("{ kind = 'rtsp', url = 'rtsp://10.0.0.5/s', username = 'u', password_env = 'DOOR_PW', transport = 'udp' }").unwrap();
        cam("{ kind = 'rtsp', url = 'rtsp://10.0.0.5/s' }").unwrap();
        let e = cam("{ kind = 'rtsp', url = 'rtsp://u:hunter2@10.0.0.5/s' }")
            .unwrap_err()
            .to_string();
        assert!(e.contains("password_file") && !e.contains("hunter2"), "{e}");
        let e = cam("{ kind = 'rtsp', url = 'http://10.0.0.5/s' }")
            .unwrap_err()
            .to_string();
        assert!(e.contains("rtsp://"), "{e}");
        let e = cam("{ kind = 'rtsp', url = 'rtsp://h/s', password_env = 'X' }")
            .unwrap_err()
            .to_string();
        assert!(e.contains("username"), "{e}");
        let e = cam("{ kind = 'rtsp', url = 'rtsp://h/s', username = 'u', password_env = 'X', password_file = '/p' }").unwrap_err().to_string();
        assert!(e.contains("not both"), "{e}");
        cam(&format!(
            "{{ kind = 'rtsp', url = 'rtsps://h/s', tls_fingerprint = '{}' }}",
            "AB:".repeat(31) + "AB"
        ))
        .unwrap();
        let e = cam("{ kind = 'rtsp', url = 'rtsps://h/s', transport = 'udp' }")
            .unwrap_err()
            .to_string();
        assert!(e.contains("tcp"), "{e}");
        let e = cam("{ kind = 'rtsp', url = 'rtsp://h/s', tls_fingerprint = 'ab' }")
            .unwrap_err()
            .to_string();
        assert!(e.contains("rtsps"), "{e}");
        let e = cam("{ kind = 'rtsp', url = 'rtsps://h/s', tls_fingerprint = 'ab' }")
            .unwrap_err()
            .to_string();
        assert!(e.contains("SHA-256"), "{e}");
        let c = cam("{ kind = 'rtsp', url = 'rtsp://h/s', recording_mode = 'scheduled', schedule = { time_zone = 'Europe/Paris', intervals = [{ day = 'mon', start = '08:00', end = '18:00' }] } }").unwrap();
        assert!(matches!(
            c.cameras[0].source.recording(),
            Ok(veil_ingest::RecordingMode::Scheduled(_))
        ));
        let e = cam("{ kind = 'rtsp', url = 'rtsp://h/s', recording_mode = 'scheduled' }")
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs a \"schedule\""), "{e}");
        let c = cam("{ kind = 'rtsp', url = 'rtsp://h/s', recording_mode = 'motion', motion = { pre_seconds = 2 } }").unwrap();
        assert!(matches!(
            c.cameras[0].source.recording(),
            Ok(veil_ingest::RecordingMode::Motion(m)) if m.pre_seconds == 2 && m.post_seconds == 10
        ));
        let e = cam("{ kind = 'rtsp', url = 'rtsp://h/s', recording_mode = 'motion', motion = { post_seconds = 0 } }")
            .unwrap_err()
            .to_string();
        assert!(e.contains("post_seconds"), "{e}");
        let e = cam("{ kind = 'rtsp', url = 'rtsp://h/s', password = 'x' }")
            .unwrap_err()
            .to_string();
        assert!(e.contains("password"), "{e}");
    }

    #[test]
    fn masks_settings_have_defaults_and_bad_values_are_named() {
        let base = "data_dir = '/tmp/veil'\n";
        let c = Config::parse(base).unwrap();
        assert!(matches!(
            c.masks.mode().unwrap(),
            veil_store::LiftMode::Server
        ));
        assert_eq!(c.masks.original_retention_hours, 72);
        assert_eq!(c.masks.lift_grant_minutes, 60);
        let id = age::x25519::Identity::generate();
        let ok = format!(
            "{base}[masks]\nlift_key = 'escrow'\nescrow_recipient = '{}'\noriginal_retention_hours = 24\nlift_grant_minutes = 5\n",
            id.to_public()
        );
        let c = Config::parse(&ok).unwrap();
        assert!(matches!(
            c.masks.mode().unwrap(),
            veil_store::LiftMode::Escrow(_)
        ));
        assert_eq!(c.masks.original_retention_hours, 24);
        for (text, named) in [
            ("lift_key = 'dpo'", "masks.lift_key"),
            ("lift_key = 'escrow'", "masks.escrow_recipient"),
            (
                "lift_key = 'escrow'\nescrow_recipient = 'age1bad'",
                "masks.escrow_recipient",
            ),
            ("escrow_recipient = 'age1x'", "masks.escrow_recipient"),
            ("lift_grant_minutes = 0", "masks.lift_grant_minutes"),
            (
                "original_retention_hours = 0",
                "masks.original_retention_hours",
            ),
            (
                "original_retention_hours = 9000",
                "masks.original_retention_hours",
            ),
            ("lift_keys = 'server'", "lift_keys"),
        ] {
            let e = Config::parse(&format!("{base}[masks]\n{text}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(named), "{text}: {e}");
        }
        // The DPO's secret key pasted as the recipient: refused, never echoed.
        let secret = age::secrecy::ExposeSecret::expose_secret(&id.to_string()).to_owned();
        let c = Config::parse(&format!(
            "{base}[masks]\nlift_key = 'escrow'\nescrow_recipient = '{secret}'\n"
        ));
        let e = match c {
            Ok(c) => c.masks.mode().unwrap_err().to_string(),
            Err(e) => e.to_string(),
        };
        assert!(
            e.contains("secret key") && e.contains("age-keygen -y"),
            "{e}"
        );
        assert!(!e.contains(&secret[15..]), "the secret is not echoed");
    }
}
