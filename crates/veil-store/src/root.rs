//! Where the root key lives, its versions, and its rotation
//! (`docs/design/retention.md`, "Root key sources" and "Rotation").
//!
//! A [`RootKeySource`] loads, creates and destroys numbered versions of the
//! root key. Three sources exist:
//!
//! - [`FileSource`]: a file per version in a directory (the data directory
//!   by default, `root.key` for version 1, `root.N.key` after);
//! - [`KekSource`]: a key-encryption key the operator provides (an
//!   environment variable or a systemd credential) that Veil cannot create
//!   or destroy; the versioned roots are kept sealed under it in files
//!   `root.N.sealed` beside the data, and destroying a version destroys its
//!   sealed file;
//! - [`CommandSource`]: an external program (any key-management CLI behind a
//!   small script) called as `PROGRAM… load|create|destroy VERSION`.
//!
//! The database's `root_key` table lists the versions (created, destroyed);
//! each live version has a sealed check value (`setting` rows
//! `root_key_check` for version 1, `root_key_check.N` after), so a wrong key
//! is refused before anything is read or written.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

use crate::crypto::{self, Key};
use crate::db::Db;
use crate::keys::{create_secret_file, read_secret_file};
use crate::Error;
use veil_base::Time90k;

/// Where the versions of the root key are kept.
pub trait RootKeySource: Send + Sync {
    /// Where version `version` is expected, for messages (never key material).
    fn describe(&self, version: u32) -> String;
    /// Loads a version; `None` when the source does not have it.
    fn load(&self, version: u32) -> Result<Option<Key>, Error>;
    /// Creates a version and returns it. A version the source already holds
    /// (created by a run that stopped before recording it) is returned as it
    /// is, never replaced.
    fn create(&self, version: u32) -> Result<Key, Error>;
    /// Destroys a version at the source; one already gone is fine.
    fn destroy(&self, version: u32) -> Result<(), Error>;
    /// The error for a live version the source does not have.
    fn missing(&self, version: u32) -> Error {
        Error::Invalid(format!(
            "the root key (version {version}) expected at {} is missing, but this data directory \
             already has a database. Veil does not create a new key for an existing installation: \
             what was sealed under it could never be opened again. Restore it and start again",
            self.describe(version)
        ))
    }
}

/// Parses 64 hex digits (surrounding white space ignored) into a key.
fn parse_hex_key(text: &str, what: &dyn Fn() -> String) -> Result<Key, Error> {
    let raw = Zeroizing::new(
        hex::decode(text.trim())
            .ok()
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .ok_or_else(|| Error::Invalid(format!("{} does not hold 64 hex digits", what())))?,
    );
    Ok(Key::from_bytes(*raw))
}

/// Overwrites a secret file with zeros, makes that durable, unlinks it and
/// makes the unlink durable. Nothing to do when it is gone.
pub fn shred_file(path: &Path) -> Result<(), Error> {
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    {
        let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
        f.write_all(&vec![0u8; len as usize])?;
        f.sync_all()?;
    }
    std::fs::remove_file(path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// A file per version (64 hex digits, mode 0600) in a directory: the data
/// directory by default, or another medium.
pub struct FileSource {
    dir: PathBuf,
}

impl FileSource {
    /// Versions kept in `dir`.
    pub fn new(dir: &Path) -> FileSource {
        FileSource {
            dir: dir.to_path_buf(),
        }
    }

    /// The file of a version: `root.key` for version 1 (as before
    /// versions), `root.N.key` after.
    pub fn path(&self, version: u32) -> PathBuf {
        if version <= 1 {
            self.dir.join("root.key")
        } else {
            self.dir.join(format!("root.{version}.key"))
        }
    }
}

impl RootKeySource for FileSource {
    fn describe(&self, version: u32) -> String {
        self.path(version).display().to_string()
    }

    fn load(&self, version: u32) -> Result<Option<Key>, Error> {
        let path = self.path(version);
        if !path.exists() {
            return Ok(None);
        }
        let text = Zeroizing::new(read_secret_file(&path, "root key")?);
        parse_hex_key(&text, &|| format!("the root key file {}", path.display())).map(Some)
    }

    fn create(&self, version: u32) -> Result<Key, Error> {
        let k = Key::generate();
        let text = Zeroizing::new(format!("{}\n", hex::encode(k.as_bytes())));
        if create_secret_file(&self.path(version), text.as_bytes())? {
            return Ok(k);
        }
        self.load(version)?.ok_or_else(|| self.missing(version))
    }

    fn destroy(&self, version: u32) -> Result<(), Error> {
        shred_file(&self.path(version))
    }

    fn missing(&self, version: u32) -> Error {
        let path = self.path(version);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Error::Invalid(format!(
            "the root key file {} is missing, but this data directory already has a database. \
             Veil does not create a new key for an existing installation: recordings, camera \
             credentials and second-factor seeds sealed under the old key could never be opened \
             again. Restore {name} from your backup (mode 0600) and start again",
            path.display()
        ))
    }
}

/// A key-encryption key provided by the operator (environment variable or
/// systemd credential, 64 hex digits) that Veil can neither create nor
/// destroy. The root versions are random keys sealed under it, kept in files
/// `root.N.sealed` in `dir` (the data directory); rotating creates a new
/// sealed file and destroying a version shreds its file.
pub struct KekSource {
    kek: Key,
    /// Where the key-encryption key came from, for messages.
    origin: String,
    dir: PathBuf,
}

/// What a sealed root version binds in as associated data.
fn sealed_root_aad(version: u32) -> Vec<u8> {
    let mut v = b"veil/root-key-sealed/v1".to_vec();
    v.extend_from_slice(&version.to_be_bytes());
    v
}

impl KekSource {
    /// The key-encryption key in environment variable `variable`.
    pub fn from_env(variable: &str, dir: &Path) -> Result<KekSource, Error> {
        let text = Zeroizing::new(std::env::var(variable).map_err(|_| {
            Error::Invalid(format!(
                "the environment variable {variable} (root_key) is not set: it must hold the \
                 key-encryption key of the root key (64 hex digits)"
            ))
        })?);
        let origin = format!("environment variable {variable}");
        Ok(KekSource {
            kek: parse_hex_key(&text, &|| format!("the {origin}"))?,
            origin,
            dir: dir.to_path_buf(),
        })
    }

    /// The key-encryption key in systemd credential `name`
    /// (`$CREDENTIALS_DIRECTORY/name`).
    pub fn from_credential(name: &str, dir: &Path) -> Result<KekSource, Error> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(Error::Invalid(format!(
                "root_key.name {name:?} is not a credential name"
            )));
        }
        let base = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| {
            Error::Invalid(format!(
                "the systemd credential {name} (root_key) is not available: \
                 $CREDENTIALS_DIRECTORY is not set (LoadCredential= or LoadCredentialEncrypted= \
                 in the service unit provides it)"
            ))
        })?;
        let path = Path::new(&base).join(name);
        let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(|e| {
            Error::Invalid(format!(
                "cannot read the systemd credential {name} (root_key): {}",
                e.kind()
            ))
        })?);
        let origin = format!("systemd credential {name}");
        Ok(KekSource {
            kek: parse_hex_key(&text, &|| format!("the {origin}"))?,
            origin,
            dir: dir.to_path_buf(),
        })
    }

    /// A source over a key-encryption key given directly (tests).
    pub fn with_kek(kek: Key, origin: &str, dir: &Path) -> KekSource {
        KekSource {
            kek,
            origin: origin.into(),
            dir: dir.to_path_buf(),
        }
    }

    /// The sealed file of a version.
    pub fn path(&self, version: u32) -> PathBuf {
        self.dir.join(format!("root.{version}.sealed"))
    }
}

impl RootKeySource for KekSource {
    fn describe(&self, version: u32) -> String {
        format!(
            "{} (sealed under the {})",
            self.path(version).display(),
            self.origin
        )
    }

    fn load(&self, version: u32) -> Result<Option<Key>, Error> {
        let path = self.path(version);
        if !path.exists() {
            return Ok(None);
        }
        let text = read_secret_file(&path, "sealed root key")?;
        let sealed = hex::decode(text.trim()).map_err(|_| {
            Error::Invalid(format!("the sealed root key {} is not hex", path.display()))
        })?;
        let raw = crypto::open(&self.kek, &sealed_root_aad(version), &sealed).map_err(|_| {
            Error::Invalid(format!(
                "the {} does not open the sealed root key {}: it is not the key-encryption key \
                 of this installation. Nothing was changed",
                self.origin,
                path.display()
            ))
        })?;
        let raw: [u8; 32] = raw.as_slice().try_into().map_err(|_| {
            Error::Corrupt(format!(
                "the sealed root key {} is not 32 bytes",
                path.display()
            ))
        })?;
        Ok(Some(Key::from_bytes(raw)))
    }

    fn create(&self, version: u32) -> Result<Key, Error> {
        let k = Key::generate();
        let sealed = crypto::seal(&self.kek, &sealed_root_aad(version), k.as_bytes());
        if create_secret_file(
            &self.path(version),
            format!("{}\n", hex::encode(sealed)).as_bytes(),
        )? {
            return Ok(k);
        }
        self.load(version)?.ok_or_else(|| self.missing(version))
    }

    fn destroy(&self, version: u32) -> Result<(), Error> {
        shred_file(&self.path(version))
    }
}

/// An external program holding the versions, called as
/// `PROGRAM ARGS… load VERSION` (prints the key, 64 hex digits, on stdout;
/// exit status 2 when it has no such version), `create VERSION` (reads the
/// new key, 64 hex digits and a newline, on stdin and stores it) and
/// `destroy VERSION` (exit 0 also when already gone). Any other non-zero
/// exit is an error; what the program prints is never logged or shown.
pub struct CommandSource {
    argv: Vec<String>,
}

/// The exit status of [`CommandSource`]'s `load` for "no such version".
pub const COMMAND_NO_SUCH_VERSION: i32 = 2;

impl CommandSource {
    /// A source calling `argv` (program first).
    pub fn new(argv: Vec<String>) -> Result<CommandSource, Error> {
        if argv.first().is_none_or(|p| p.is_empty()) {
            return Err(Error::Invalid(
                "root_key.command must name a program".into(),
            ));
        }
        Ok(CommandSource { argv })
    }

    fn call(
        &self,
        verb: &str,
        version: u32,
        stdin: Option<&[u8]>,
    ) -> Result<(Option<i32>, Zeroizing<Vec<u8>>), Error> {
        let mut child = Command::new(&self.argv[0])
            .args(&self.argv[1..])
            .arg(verb)
            .arg(version.to_string())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                Error::Invalid(format!(
                    "cannot run the root key command {}: {}",
                    self.argv[0],
                    e.kind()
                ))
            })?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(input)?;
        }
        let mut out = Zeroizing::new(Vec::new());
        if let Some(mut pipe) = child.stdout.take() {
            pipe.read_to_end(&mut out)?;
        }
        let status = child.wait()?;
        Ok((status.code(), out))
    }

    fn failed(&self, verb: &str, version: u32, code: Option<i32>) -> Error {
        Error::Invalid(format!(
            "the root key command {} failed ({verb} {version}): exit status {}",
            self.argv[0],
            code.map_or("none (killed by a signal)".into(), |c| c.to_string())
        ))
    }
}

impl RootKeySource for CommandSource {
    fn describe(&self, version: u32) -> String {
        format!("the root key command {} (version {version})", self.argv[0])
    }

    fn load(&self, version: u32) -> Result<Option<Key>, Error> {
        match self.call("load", version, None)? {
            (Some(0), out) => {
                let text = Zeroizing::new(String::from_utf8_lossy(&out).into_owned());
                parse_hex_key(&text, &|| {
                    format!("what the root key command printed for version {version}")
                })
                .map(Some)
            }
            (Some(COMMAND_NO_SUCH_VERSION), _) => Ok(None),
            (code, _) => Err(self.failed("load", version, code)),
        }
    }

    fn create(&self, version: u32) -> Result<Key, Error> {
        if let Some(k) = self.load(version)? {
            return Ok(k);
        }
        let k = Key::generate();
        let text = Zeroizing::new(format!("{}\n", hex::encode(k.as_bytes())));
        match self.call("create", version, Some(text.as_bytes()))? {
            (Some(0), _) => Ok(k),
            (code, _) => Err(self.failed("create", version, code)),
        }
    }

    fn destroy(&self, version: u32) -> Result<(), Error> {
        match self.call("destroy", version, None)? {
            (Some(0), _) => Ok(()),
            (code, _) => Err(self.failed("destroy", version, code)),
        }
    }
}

/// The loaded root versions: the current one wraps everything new; older
/// live ones still open what a rotation has not re-wrapped yet.
#[derive(Clone)]
pub struct Roots {
    /// The version new values are wrapped under.
    pub current: u32,
    /// Every live version's key.
    pub keys: BTreeMap<u32, Key>,
}

impl Roots {
    /// One version.
    pub fn single(version: u32, key: Key) -> Roots {
        Roots {
            current: version,
            keys: BTreeMap::from([(version, key)]),
        }
    }

    /// The current key.
    pub fn current_key(&self) -> &Key {
        &self.keys[&self.current]
    }

    /// The keys to try, current first.
    pub fn in_order(&self) -> impl Iterator<Item = (u32, &Key)> {
        std::iter::once((self.current, self.current_key())).chain(
            self.keys
                .iter()
                .filter(|(v, _)| **v != self.current)
                .map(|(v, k)| (*v, k)),
        )
    }
}

/// The `setting` row holding a version's check value.
pub fn check_setting(version: u32) -> String {
    if version <= 1 {
        "root_key_check".into()
    } else {
        format!("root_key_check.{version}")
    }
}

fn check_aad(version: u32) -> Vec<u8> {
    if version <= 1 {
        b"veil/root-key-check/v1".to_vec()
    } else {
        let mut v = b"veil/root-key-check/v1".to_vec();
        v.extend_from_slice(&version.to_be_bytes());
        v
    }
}

/// Writes a version's check value.
pub fn write_check(db: &Db, version: u32, key: &Key) -> Result<(), Error> {
    let aad = check_aad(version);
    db.set_setting(
        &check_setting(version),
        &hex::encode(crypto::seal(key, &aad, &aad)),
    )
}

/// Verifies that `key` is version `version` of this database's root by its
/// check value (written now if the version has none: a database from before
/// check values, checked against a stored bucket key first).
pub fn verify_version(
    db: &Db,
    version: u32,
    key: &Key,
    source: &dyn RootKeySource,
) -> Result<(), Error> {
    let wrong = || {
        Error::Invalid(format!(
            "the root key in {} is not the key of this database (its check value does not open). \
             Nothing was changed. Restore the root key that belongs to this data directory",
            source.describe(version)
        ))
    };
    if let Some(check) = db.setting(&check_setting(version))? {
        let sealed = hex::decode(check.trim()).map_err(|_| {
            Error::Corrupt("the root key's check value in the database is not hex".into())
        })?;
        let aad = check_aad(version);
        return match crypto::open(key, &aad, &sealed) {
            Ok(_) => Ok(()),
            Err(Error::Corrupt(_)) => Err(wrong()),
            Err(e) => Err(e),
        };
    }
    if version <= 1 {
        if let Some((camera, rendition, start, wrapped)) = db.any_bucket_key()? {
            let aad = crate::segment::bucket_key_aad(camera, &rendition, start);
            if crypto::unwrap_key(key, &aad, &wrapped).is_err() {
                return Err(wrong());
            }
        }
    }
    write_check(db, version, key)
}

/// Loads (or, for a new data directory, creates) the live root versions and
/// checks each. An existing directory whose source lacks a live version, or
/// holds a wrong one, is refused naming where it is expected; nothing is
/// ever created for it.
pub fn open_roots(
    db: &Db,
    source: &dyn RootKeySource,
    new: bool,
    now: Time90k,
) -> Result<Roots, Error> {
    let versions = db.root_key_versions()?;
    if versions.is_empty() {
        // A new directory, or one from before root versions: version 1.
        let key = if new {
            source.create(1)?
        } else {
            source.load(1)?.ok_or_else(|| source.missing(1))?
        };
        verify_version(db, 1, &key, source)?;
        db.insert_root_key_version(1, now)?;
        return Ok(Roots::single(1, key));
    }
    let live: Vec<u32> = versions
        .iter()
        .filter(|v| v.destroyed.is_none())
        .map(|v| v.version)
        .collect();
    let Some(&current) = live.iter().max() else {
        return Err(Error::Invalid(
            "every root key version of this data directory has been destroyed (the installation \
             was decommissioned): nothing in it can be opened"
                .into(),
        ));
    };
    let mut keys = BTreeMap::new();
    for v in live {
        let key = source.load(v)?.ok_or_else(|| source.missing(v))?;
        verify_version(db, v, &key, source)?;
        keys.insert(v, key);
    }
    Ok(Roots { current, keys })
}
