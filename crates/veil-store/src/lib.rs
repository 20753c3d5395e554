//! Veil's storage: segments sealed under a key hierarchy, in an object store, with
//! their metadata in a SQL database; crash recovery; playback planning; recording.
//!
//! This crate is the only one that touches SQL and files. It knows nothing about
//! HTTP or the permission model.

pub mod chain;
pub mod chain_store;
pub mod crypto;
pub mod db;
pub mod erase;
pub mod exports;
pub mod keys;
pub mod leases;
pub mod lift;
pub mod mask_stage;
pub mod migrate;
pub mod objects;
pub mod objects_s3;
pub mod playback;
pub mod protect;
pub mod purpose;
pub mod quota;
pub mod recorder;
pub mod retention;
pub mod retention_rule;
pub mod root;
pub mod rotation;
pub mod segment;
#[doc(hidden)]
pub mod testing;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use veil_base::{CameraId, SegmentId, SharedClock, Time90k};
use veil_media::mp4::Sample;
use veil_media::VideoParams;

pub use db::Db;

/// Log filter directives every Veil process adds to its own, whatever the
/// level asked for: the PostgreSQL client logs each statement with its
/// parameters (personal data, secrets) at debug level and below.
pub const LOG_DIRECTIVES: &[&str] = &["tokio_postgres=info", "postgres=info"];
pub use keys::Keyring;
pub use lift::{LiftGrant, LiftMode};
pub use objects::{LocalDir, ObjectStore};
pub use objects_s3::{S3Config, S3Credentials, S3Objects};
use segment::SegmentIndex;
use zeroize::Zeroizing;

/// The storage error kinds. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Stored data failed to authenticate or parse.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// An object or row does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A caller passed something unusable.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The metadata database failed.
    #[error("database error: {0}")]
    Database(String),
    /// The key needed to read this data has been destroyed.
    #[error("key destroyed: the data can no longer be decrypted")]
    KeyDestroyed,
    /// A storage part is not in place (an unmounted object volume): a
    /// transient state, never a reason to mark data missing.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// File-system or object-store I/O failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A storage quota is reached and only locked or held video is left to
    /// make room: the camera's new video is not stored (the message says
    /// what to do).
    #[error("storage quota reached: {0}")]
    QuotaExceeded(String),
    /// The `original` rendition was asked for outside the lift path, or the
    /// lift's grant or identity does not open it (the message never holds
    /// an identity).
    #[error("lift refused: {0}")]
    Lift(String),
    /// This recorder no longer holds the camera's lease (another took it,
    /// or it never held it): the segment is not stored ([`leases`]).
    #[error("lease lost: {0}")]
    LeaseLost(String),
}

/// The environment variable naming a crash point ([`crash_point`]).
pub const CRASH_AT_ENV: &str = "VEIL_CRASH_AT";

/// A point between two steps of a multi-step change (retention's
/// destruction): when the environment variable [`CRASH_AT_ENV`] names it, the
/// process kills itself with SIGKILL there, as a power cut or `kill -9`
/// would, so tests can prove that every step leaves a state the next run
/// converges from. Unset, it costs one environment lookup.
pub fn crash_point(name: &str) {
    if std::env::var_os(CRASH_AT_ENV).is_some_and(|v| v == name) {
        // SAFETY: kill(2) on our own pid with a valid signal number.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

/// The rendition of a camera without masks: exactly what the camera sent.
pub const MAIN_RENDITION: &str = "main";
/// The rendition of a masked camera that everyone sees: every mask of
/// recording scope applied. At any time a camera has `main` or `protected`,
/// never both.
pub const PROTECTED_RENDITION: &str = "protected";
/// A masked camera's second rendition while it has liftable masks of
/// recording scope: only the permanent masks applied. Opened only through
/// the lift path.
pub const ORIGINAL_RENDITION: &str = "original";

/// A segment ready to be sealed and stored.
#[derive(Clone, Debug)]
pub struct NewSegment {
    /// The camera.
    pub camera: CameraId,
    /// Rendition name.
    pub rendition: String,
    /// Start of the run (a continuous recording) it belongs to.
    pub run_start_90k: Time90k,
    /// Wall-clock time of its first frame.
    pub start_90k: Time90k,
    /// Codec parameters.
    pub params: VideoParams,
    /// Per-frame sizes, durations and key flags.
    pub samples: Vec<Sample>,
    /// Tracks recorded with the video (audio, metadata); empty for video only.
    pub tracks: Vec<segment::TrackIndex>,
    /// The frames' bytes, concatenated, then each track's samples in order.
    pub media: Vec<u8>,
    /// The mask version it was made with (`None`: no masks, passthrough).
    pub mask_version: Option<i64>,
}

/// A stored segment with its index unsealed (in memory only).
#[derive(Clone, Debug)]
pub struct Segment {
    /// The row.
    pub row: db::SegmentRow,
    /// The unsealed sample index.
    pub index: SegmentIndex,
}

impl Segment {
    /// Wall-clock end of the segment.
    pub fn end_90k(&self) -> Time90k {
        Time90k(self.row.start_90k.0 + self.row.duration_90k)
    }
}

/// What recovery found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Objects with no row (a crash between object and row), deleted.
    pub orphan_objects_deleted: usize,
    /// Leftovers of interrupted object writes, deleted.
    pub partial_writes_deleted: usize,
    /// Rows whose object is absent or has the wrong size, marked `missing`.
    pub rows_marked_missing: usize,
    /// Motion events left open by a crash, ended at their camera's last
    /// recorded frame.
    pub motion_events_closed: usize,
    /// Rows stored before the recording integrity chain, hashed and
    /// chained now ([`Store::chain_unlinked_segments`]).
    pub segments_chained: usize,
    /// On a shared database: objects without a row (or partial writes)
    /// younger than [`SHARED_ORPHAN_MIN_AGE_90K`], kept, since another
    /// recorder may be about to insert their rows.
    pub young_objects_kept: usize,
}

/// On a shared database, [`Store::recover`] deletes an object without a row
/// only when the segment start its key holds is older than this (one
/// hour): another recorder writes each object just before its row, and a
/// segment lasts at most [`segment::MAX_SEGMENT_90K`] (15 minutes), so an
/// object this old without a row is a crash's leftover, never a write in
/// progress.
pub const SHARED_ORPHAN_MIN_AGE_90K: i64 = 3600 * veil_base::TIME_UNITS_PER_SEC;

/// What applying a retention plan did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Bucket keys destroyed.
    pub keys_destroyed: usize,
    /// Segment rows deleted.
    pub segments_deleted: usize,
    /// Objects deleted (an object already gone counts: it no longer exists).
    pub objects_deleted: usize,
    /// Object bytes freed (from the deleted rows' sizes).
    pub bytes_freed: u64,
}

impl std::ops::AddAssign for RetentionReport {
    fn add_assign(&mut self, r: RetentionReport) {
        self.keys_destroyed += r.keys_destroyed;
        self.segments_deleted += r.segments_deleted;
        self.objects_deleted += r.objects_deleted;
        self.bytes_freed += r.bytes_freed;
    }
}

/// How many keyless segments one retention plan reads at most; more are
/// left for the next plan, which is then due at once.
const KEYLESS_PAGE: usize = 4096;

/// Storage for one installation.
#[derive(Clone)]
pub struct Store {
    /// The metadata repository.
    pub db: Db,
    objects: Arc<dyn ObjectStore>,
    keys: Keyring,
    clock: SharedClock,
    /// Held for the store's lifetime: one process per data directory.
    _lock: Option<Arc<std::fs::File>>,
    /// Where the root key versions are kept, when opened from a directory.
    root_source: Option<Arc<dyn root::RootKeySource>>,
    /// The data directory, when opened from one (for its free space).
    dir: Option<Arc<PathBuf>>,
    /// Cameras whose last segment could not be stored, and why.
    faults: Arc<std::sync::Mutex<std::collections::HashMap<CameraId, WriteFault>>>,
    /// Objects being put now: by write, its camera and when the put began
    /// ([`PENDING_PUT_FAULT_90K`]).
    pending_puts: Arc<PendingPuts>,
    /// Cameras whose new video is refused because a quota is reached and
    /// only protected video is left (set by the quota job), and why.
    quota_blocks: Arc<std::sync::Mutex<std::collections::HashMap<CameraId, String>>>,
    /// Serialises creating and releasing locks and holds with destruction
    /// batches (retention, quotas): a protection created while a batch is
    /// planned and destroyed could otherwise lose the video it was made to
    /// keep ([`Store::destruction_gate`]).
    protections_gate: Arc<tokio::sync::Mutex<()>>,
    metrics: Arc<StoreMetrics>,
    /// Who can open the `original` rendition ([`lift`]).
    lift_mode: Arc<std::sync::RwLock<LiftMode>>,
    /// Every camera's current masks ([`mask_stage`]).
    masks: mask_stage::MaskBoard,
    /// The cameras with a documented purpose, which may record ([`purpose`]).
    purposes: purpose::PurposeSet,
    /// For `veil bench ingest --without-chain` only
    /// ([`Store::benchmark_without_chain`]): segments are stored without
    /// object hash or chain link. No configuration reaches it.
    without_chain: bool,
    /// Scale-out: the leases this recorder holds; each segment is inserted
    /// only under its camera's current token ([`Store::set_fence`]).
    fence: Option<leases::Fence>,
    /// A recording pipeline's store: the camera and the lease token it was
    /// started under ([`Store::for_lease`]); its writes go in only under
    /// that token.
    lease: Option<(CameraId, i64)>,
}

/// What the store counts as it works (for `/metrics`).
#[derive(Debug)]
pub struct StoreMetrics {
    /// [`Store::write_segment`] end to end (seal, object, row), seconds,
    /// successful or not.
    pub segment_write_seconds: veil_base::metrics::Histogram,
    /// Segments that could not be stored.
    pub segment_write_failures: veil_base::metrics::Counter,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        StoreMetrics {
            segment_write_seconds: veil_base::metrics::Histogram::latency(),
            segment_write_failures: Default::default(),
        }
    }
}

/// Why a camera's segments are not being stored: set when a write fails,
/// cleared by the next write that succeeds (recording resumes by itself, for
/// instance once disk space is freed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteFault {
    /// For people: what is wrong and what it means.
    pub message: String,
    /// When the first failing write happened.
    pub since: Time90k,
    /// Segments lost since then.
    pub lost: u64,
    /// The file system is full.
    pub disk_full: bool,
}

/// A segment's object put unanswered for longer than this (5 s) shows as
/// its camera's write fault ([`Store::write_fault`]) while it stays
/// pending: a segment of 2 to 10 s stores in well under a second, and an
/// object store that hangs (paused, partitioned) fails a put only at its
/// request timeout (30 s for S3), during which nothing is stored.
pub const PENDING_PUT_FAULT_90K: i64 = 5 * veil_base::TIME_UNITS_PER_SEC;

/// The object puts in flight, by write: the camera and the store clock's
/// time the put began.
#[derive(Debug, Default)]
struct PendingPuts {
    next: std::sync::atomic::AtomicU64,
    puts: std::sync::Mutex<std::collections::HashMap<u64, (CameraId, Time90k)>>,
}

impl PendingPuts {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<u64, (CameraId, Time90k)>> {
        self.puts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// When the oldest put of `camera` still pending began.
    fn oldest(&self, camera: CameraId) -> Option<Time90k> {
        self.lock()
            .values()
            .filter(|(c, _)| *c == camera)
            .map(|(_, t)| *t)
            .min()
    }
}

/// One pending put, noted until dropped (completed, failed or cancelled).
struct PendingPut<'a> {
    puts: &'a PendingPuts,
    id: u64,
}

impl<'a> PendingPut<'a> {
    fn begin(puts: &'a PendingPuts, camera: CameraId, now: Time90k) -> PendingPut<'a> {
        let id = puts.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        puts.lock().insert(id, (camera, now));
        PendingPut { puts, id }
    }
}

impl Drop for PendingPut<'_> {
    fn drop(&mut self) {
        self.puts.lock().remove(&self.id);
    }
}

/// Whether `e` says the disk (or the database's file) is full.
fn is_disk_full(e: &Error) -> bool {
    match e {
        Error::Io(io) => {
            io.raw_os_error() == Some(libc::ENOSPC)
                || io.raw_os_error() == Some(libc::EDQUOT)
                || io.kind() == std::io::ErrorKind::StorageFull
        }
        // SQLite's words for SQLITE_FULL.
        Error::Database(m) => m.contains("database or disk is full"),
        _ => false,
    }
}

/// Refuses a path that group or others may access, naming the `chmod` that
/// mends it.
fn refuse_shared(path: &Path, what: &str, mode: &str) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let m = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if m & 0o077 != 0 {
        return Err(Error::Invalid(format!(
            "the {what} {} has permissions {m:o}: group or others could read recordings' \
             metadata and keys. Make it private to its owner: chmod {mode} {}",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

/// Locks the data directory for this process. One process at a time:
/// recovery deletes objects that have no row yet, which would destroy a
/// running recorder's in-flight segments.
fn lock_dir(dir: &Path) -> Result<std::fs::File, Error> {
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(DataDir::new(dir).lock_file())?;
    if lock.try_lock().is_err() {
        return Err(Error::Invalid(format!(
            "the data directory {} is in use by another Veil process",
            dir.display()
        )));
    }
    Ok(lock)
}

/// What [`Store::open_dir_parts`] opens before the object store.
struct DirParts {
    db: Db,
    roots: root::Roots,
    source: Arc<dyn root::RootKeySource>,
    lock: std::fs::File,
}

/// File names inside a data directory.
pub struct DataDir {
    /// The directory.
    pub root: PathBuf,
}

impl DataDir {
    /// The layout under `root`.
    pub fn new(root: &Path) -> DataDir {
        DataDir {
            root: root.to_path_buf(),
        }
    }
    /// The root key file (0600).
    pub fn root_key(&self) -> PathBuf {
        self.root.join("root.key")
    }
    /// The access record's Ed25519 signing key (0600, PKCS#8 PEM), apart from
    /// the root key.
    pub fn audit_key(&self) -> PathBuf {
        self.root.join("audit.key")
    }
    /// The SQLite database.
    pub fn database(&self) -> PathBuf {
        self.root.join("veil.db")
    }
    /// The local object store.
    pub fn objects(&self) -> PathBuf {
        self.root.join("objects")
    }
    /// Locked while a process uses the directory.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("veil.lock")
    }
    /// TLS certificate and key.
    pub fn tls_dir(&self) -> PathBuf {
        self.root.join("tls")
    }
}

impl Store {
    /// Opens the default layout: SQLite and a local object directory under `dir`,
    /// creating the root key on first use.
    pub fn open_dir(dir: &Path, clock: SharedClock) -> Result<Store, Error> {
        Store::open_dir_with(dir, clock, None)
    }

    /// Opens the default layout with the root key versions kept by `source`
    /// (`None`: files beside the data, [`root::FileSource`] over `dir`).
    pub fn open_dir_with(
        dir: &Path,
        clock: SharedClock,
        source: Option<Arc<dyn root::RootKeySource>>,
    ) -> Result<Store, Error> {
        Store::open_dir_database(dir, clock, source, None)
    }

    /// [`Store::open_dir_with`] with the metadata in the PostgreSQL database
    /// at `database` (`postgres://user@host:port/db`) instead of the data
    /// directory's `veil.db`; `None` is SQLite. The data directory keeps the
    /// node's own files (lock, TLS, a file root key) and the local objects.
    pub fn open_dir_database(
        dir: &Path,
        clock: SharedClock,
        source: Option<Arc<dyn root::RootKeySource>>,
        database: Option<&str>,
    ) -> Result<Store, Error> {
        let parts = Store::open_dir_parts(dir, clock.now(), source, database)?;
        let objects = LocalDir::open(&DataDir::new(dir).objects())?;
        objects.ensure_marker(&parts.db.installation_id()?, || parts.db.segment_count())?;
        Ok(Store::from_parts(parts, Arc::new(objects), dir, clock))
    }

    /// Opens the data directory `dir` (database, root key, lock) with its
    /// objects in an S3-compatible bucket instead of `dir/objects`: builds
    /// the client, runs the start-up check ([`S3Objects::check`]: probe
    /// put, head, get, list, delete, each named when it fails) and checks
    /// the bucket's marker ([`S3Objects::ensure_marker`]). `s3 = None` is
    /// [`Store::open_dir_with`].
    pub async fn open_dir_objects(
        dir: &Path,
        clock: SharedClock,
        source: Option<Arc<dyn root::RootKeySource>>,
        s3: Option<&S3Config>,
    ) -> Result<Store, Error> {
        Store::open_configured(dir, clock, source, s3, None).await
    }

    /// Opens a store as a configuration describes it: the data directory
    /// `dir`, the root key versions of `source`, the objects in `s3` (or
    /// `dir/objects`) and the metadata in the PostgreSQL database at
    /// `database` (or `dir/veil.db`). `veil serve`, `veil check` and the
    /// commands taking `--config` open their store through this.
    pub async fn open_configured(
        dir: &Path,
        clock: SharedClock,
        source: Option<Arc<dyn root::RootKeySource>>,
        s3: Option<&S3Config>,
        database: Option<&str>,
    ) -> Result<Store, Error> {
        let Some(s3) = s3 else {
            return Store::open_dir_database(dir, clock, source, database);
        };
        // Credentials and syntax first: nothing is created for a
        // configuration that cannot work.
        s3.check()?;
        let objects = S3Objects::open(s3, &s3.credentials()?)?;
        // Before the data directory: a new installation whose bucket is
        // unusable creates no root key.
        objects.check().await?;
        let parts = Store::open_dir_parts(dir, clock.now(), source, database)?;
        let db = parts.db.clone();
        let (installation, segments) =
            blocking(move || Ok((db.installation_id()?, db.segment_count()?))).await?;
        objects.ensure_marker(&installation, segments).await?;
        Ok(Store::from_parts(parts, Arc::new(objects), dir, clock))
    }

    fn from_parts(
        parts: DirParts,
        objects: Arc<dyn ObjectStore>,
        dir: &Path,
        clock: SharedClock,
    ) -> Store {
        let mut store = Store::new(parts.db, objects, crypto::Key::generate(), clock);
        store.keys = Keyring::with_roots(store.db.clone(), parts.roots);
        store.root_source = Some(parts.source);
        store._lock = Some(Arc::new(parts.lock));
        store.dir = Some(Arc::new(dir.to_path_buf()));
        store
    }

    /// The data directory's database (or the PostgreSQL database at
    /// `database`), root key versions and lock.
    fn open_dir_parts(
        dir: &Path,
        now: Time90k,
        source: Option<Arc<dyn root::RootKeySource>>,
        database: Option<&str>,
    ) -> Result<DirParts, Error> {
        use std::os::unix::fs::DirBuilderExt;
        if !dir.exists() {
            // Owner only: the directory holds the root key and the database.
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        if let Some(url) = database {
            return Store::open_postgres_parts(dir, now, source, url);
        }
        let d = DataDir {
            root: dir.to_path_buf(),
        };
        let database = d.database();
        let mut wal = database.clone().into_os_string();
        wal.push("-wal");
        let existing =
            std::fs::metadata(&database).is_ok_and(|m| m.len() > 0) || Path::new(&wal).exists();
        if existing {
            // An installation's directory that others can read is the
            // operator's to mend: refused, with the command.
            refuse_shared(dir, "data directory", "700")?;
            refuse_shared(&database, "database", "600")?;
        } else {
            // A new installation: an empty directory is made private here; one
            // that already holds files (a restored key, say) is the
            // operator's, so it is refused rather than changed.
            use std::os::unix::fs::PermissionsExt;
            if std::fs::read_dir(dir)?.next().is_none() {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            } else {
                refuse_shared(dir, "data directory", "700")?;
            }
            // Made here with mode 0600 whatever the umask: SQLite gives its
            // log files the database file's mode.
            use std::os::unix::fs::OpenOptionsExt;
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&database)
            {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o600))?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let lock = lock_dir(dir)?;
        // A root key is created only for a new installation; an existing
        // database without its key (or with another key) is refused.
        let source: Arc<dyn root::RootKeySource> =
            source.unwrap_or_else(|| Arc::new(root::FileSource::new(dir)));
        let db = Db::open(&d.database())?;
        let roots = root::open_roots(&db, source.as_ref(), !existing, now)?;
        Ok(DirParts {
            db,
            roots,
            source,
            lock,
        })
    }

    /// [`Store::open_dir_parts`] on PostgreSQL: the data directory holds
    /// the node's own files (lock, TLS, a file root key) and no database;
    /// a new installation is an empty database, not a missing file.
    fn open_postgres_parts(
        dir: &Path,
        now: Time90k,
        source: Option<Arc<dyn root::RootKeySource>>,
        url: &str,
    ) -> Result<DirParts, Error> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        // The same rule as SQLite's: an empty directory is made private,
        // one that holds files must already be.
        if std::fs::read_dir(dir)?.next().is_none() {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        } else {
            refuse_shared(dir, "data directory", "700")?;
        }
        let lock = lock_dir(dir)?;
        let source: Arc<dyn root::RootKeySource> =
            source.unwrap_or_else(|| Arc::new(root::FileSource::new(dir)));
        let db = Db::open_postgres(url)?;
        let new = !db.holds_installation()?;
        let roots = match root::open_roots(&db, source.as_ref(), new, now) {
            // Another node created the installation meanwhile: opened as an
            // existing one (its key must be this node's).
            Err(_) if new && db.holds_installation()? => {
                root::open_roots(&db, source.as_ref(), false, now)?
            }
            r => r?,
        };
        Ok(DirParts {
            db,
            roots,
            source,
            lock,
        })
    }

    /// Assembles a store from its parts.
    pub fn new(
        db: Db,
        objects: Arc<dyn ObjectStore>,
        root: crypto::Key,
        clock: SharedClock,
    ) -> Store {
        let keys = Keyring::new(db.clone(), root);
        Store {
            db,
            objects,
            keys,
            clock,
            _lock: None,
            root_source: None,
            dir: None,
            faults: Arc::default(),
            pending_puts: Arc::default(),
            quota_blocks: Arc::default(),
            protections_gate: Arc::default(),
            metrics: Arc::default(),
            lift_mode: Arc::default(),
            masks: mask_stage::MaskBoard::default(),
            purposes: Arc::default(),
            without_chain: false,
            fence: None,
            lease: None,
        }
    }

    /// Scale-out: this store's segments are inserted only under the leases
    /// `fence` holds ([`leases`]; `db/leases.rs`): a camera without a lease
    /// is refused before anything is written, and an insert whose token
    /// another recorder has superseded is refused and its object deleted
    /// ([`Error::LeaseLost`]). Without a fence (the embedded default) every
    /// camera is written.
    pub fn set_fence(&mut self, fence: leases::Fence) {
        self.fence = Some(fence);
    }

    /// The node's fence: set on a scale-out node (a shared database),
    /// `None` for a store that records on its own.
    pub fn fence(&self) -> Option<&leases::Fence> {
        self.fence.as_ref()
    }

    /// The store one recording pipeline of `camera` writes through, bound
    /// to the lease `token` the pipeline was started under: a segment of
    /// another camera, or written when the fence no longer holds `camera`
    /// under `token` (lost, or lost and taken again under a newer token),
    /// is refused with [`Error::LeaseLost`] before anything is stored, and
    /// the insert is fenced by `token`, never by a newer one. So a pipeline
    /// that was never stopped cannot write beside its successor. Without a
    /// fence the binding changes nothing.
    pub fn for_lease(&self, camera: CameraId, token: i64) -> Store {
        let mut s = self.clone();
        s.lease = Some((camera, token));
        s
    }

    /// The store a pipeline of `camera` starts with: bound to the token the
    /// fence holds it under now ([`Store::for_lease`]); `None` when a fenced
    /// store does not hold the camera. Without a fence, this store.
    pub fn for_current_lease(&self, camera: CameraId) -> Option<Store> {
        match &self.fence {
            None => Some(self.clone()),
            Some(f) => f.token(camera).map(|t| self.for_lease(camera, t)),
        }
    }

    /// Benchmark only (`veil bench ingest --without-chain`, which measures
    /// what the recording chain costs): this store's segments are written
    /// without object hash or chain link, as before the chain existed.
    /// Nothing else calls it; no configuration key reaches it; a store
    /// opened afterwards chains such rows at [`Store::recover`].
    pub fn benchmark_without_chain(&mut self) {
        self.without_chain = true;
    }

    /// What this store has counted.
    pub fn metrics(&self) -> &StoreMetrics {
        &self.metrics
    }

    /// What in the data directory group or others may access, checked as
    /// at open (the directory, 0700; the database, 0600) and also every key
    /// file in it (`root*`, `*.key`, 0600): `(what, permission bits)`, for
    /// the breach register's periodic check. Empty for a store not opened
    /// from a directory; a file that cannot be read is skipped.
    pub fn permission_problems(&self) -> Vec<(String, u32)> {
        use std::os::unix::fs::PermissionsExt;
        let Some(dir) = &self.dir else {
            return Vec::new();
        };
        let mode = |p: &Path| {
            std::fs::metadata(p)
                .ok()
                .map(|m| m.permissions().mode() & 0o777)
        };
        let mut out = Vec::new();
        if let Some(m) = mode(dir).filter(|m| m & 0o077 != 0) {
            out.push(("data directory".to_string(), m));
        }
        let d = DataDir {
            root: dir.to_path_buf(),
        };
        if let Some(m) = mode(&d.database()).filter(|m| m & 0o077 != 0) {
            out.push(("database".to_string(), m));
        }
        let mut keys: Vec<String> = std::fs::read_dir(dir.as_path())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.starts_with("root") || n.ends_with(".key"))
            .collect();
        keys.sort();
        for name in keys {
            if let Some(m) = mode(&dir.join(&name)).filter(|m| m & 0o077 != 0) {
                out.push((format!("key file {name}"), m));
            }
        }
        out
    }

    /// Bytes free for Veil in the data directory's file system (`None` for
    /// a store not opened from a directory).
    pub fn free_space(&self) -> Result<Option<u64>, Error> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::Invalid("the data directory's path holds a NUL byte".into()))?;
        // SAFETY: `path` is NUL-terminated and `st` is written by the call
        // before it is read.
        let st = unsafe {
            let mut st: libc::statvfs = std::mem::zeroed();
            if libc::statvfs(path.as_ptr(), &mut st) != 0 {
                return Err(std::io::Error::last_os_error().into());
            }
            st
        };
        #[allow(clippy::useless_conversion)] // the field types differ between targets
        let (avail, size) = (u64::from(st.f_bavail), u64::from(st.f_frsize));
        Ok(Some(avail.saturating_mul(size)))
    }

    /// The clock this store uses.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The key hierarchy.
    pub fn keys(&self) -> &Keyring {
        &self.keys
    }

    /// Why `camera`'s segments are not being stored now, if they are not:
    /// the last write failed, or a segment's object put has been pending
    /// for longer than [`PENDING_PUT_FAULT_90K`] (the object store does not
    /// answer; cleared when the put completes).
    pub fn write_fault(&self, camera: CameraId) -> Option<WriteFault> {
        let fault = self
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&camera)
            .cloned();
        if fault.is_some() {
            return fault;
        }
        let since = self.pending_puts.oldest(camera)?;
        let waited = self.clock.now().0 - since.0;
        if waited <= PENDING_PUT_FAULT_90K {
            return None;
        }
        Some(WriteFault {
            message: format!(
                "segments are not being stored: the object store has not answered for {} s",
                waited / veil_base::TIME_UNITS_PER_SEC
            ),
            since,
            lost: 0,
            disk_full: false,
        })
    }

    /// Notes the outcome of storing a segment of `camera`.
    fn note_write(&self, camera: CameraId, r: &Result<SegmentId, Error>) {
        let mut faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let e = match r {
            Ok(_) => {
                if faults.remove(&camera).is_some() {
                    tracing::info!(camera = camera.0, "segments are stored again");
                }
                return;
            }
            Err(e) => e,
        };
        let disk_full = is_disk_full(e);
        let f = faults.entry(camera).or_insert_with(|| WriteFault {
            message: String::new(),
            since: self.clock.now(),
            lost: 0,
            disk_full,
        });
        f.lost += 1;
        f.disk_full = disk_full;
        let lost = format!(
            "{} segment{} lost since {}",
            f.lost,
            if f.lost == 1 { "" } else { "s" },
            f.since.to_rfc3339()
        );
        f.message = if disk_full {
            format!(
                "the disk is full: this camera's video is not being stored ({lost}); \
                 recording resumes by itself once space is freed"
            )
        } else if matches!(e, Error::LeaseLost(_)) {
            format!(
                "this recorder no longer holds the camera: another recorder records it \
                 ({lost} here)"
            )
        } else {
            format!("segments cannot be stored ({lost}): {e}")
        };
    }

    /// Seals and stores a segment. The object is durable before the row is
    /// inserted (see `docs/design/storage.md`), so a crash leaves at worst an
    /// orphan object, which [`Store::recover`] deletes. A failure to store
    /// (not a malformed segment) is remembered for the camera
    /// ([`Store::write_fault`]) until a later write succeeds.
    pub async fn write_segment(&self, mut s: NewSegment) -> Result<SegmentId, Error> {
        let index = SegmentIndex {
            params: s.params.clone(),
            samples: std::mem::take(&mut s.samples),
            tracks: std::mem::take(&mut s.tracks),
        };
        if index.media_bytes() != s.media.len() as u64 {
            return Err(Error::Invalid(
                "segment media length differs from its sample sizes".into(),
            ));
        }
        if index.duration_90k() > segment::MAX_SEGMENT_90K {
            return Err(Error::Invalid(
                "a segment may last at most 15 minutes".into(),
            ));
        }
        if index.samples.first().map(|x| x.is_key) != Some(true) {
            return Err(Error::Invalid(
                "a segment must start with a keyframe".into(),
            ));
        }
        let camera = s.camera;
        if let Some(why) = self.quota_block(camera) {
            let r = Err(Error::QuotaExceeded(why.clone()));
            self.note_write(camera, &r);
            self.metrics.segment_write_failures.inc();
            return Err(Error::QuotaExceeded(why));
        }
        let started = std::time::Instant::now();
        let r = self.seal_and_store(s, index).await;
        self.metrics
            .segment_write_seconds
            .observe_duration(started.elapsed());
        if r.is_err() {
            self.metrics.segment_write_failures.inc();
        }
        self.note_write(camera, &r);
        r
    }

    /// The store part of [`Store::write_segment`]: `s` with its samples and
    /// tracks moved into `index`.
    async fn seal_and_store(&self, s: NewSegment, index: SegmentIndex) -> Result<SegmentId, Error> {
        // With a fence, a camera this recorder holds no lease of is refused
        // before anything is sealed or put.
        // A pipeline's store ([`Store::for_lease`]) writes only under the
        // token it was started with, and only while the fence still holds
        // the camera under it.
        let fenced = match &self.fence {
            Some(f) => match (f.token(s.camera), self.lease) {
                (None, _) => {
                    return Err(Error::LeaseLost(format!(
                        "camera {}: this recorder holds no lease of it",
                        s.camera.0
                    )))
                }
                (Some(current), Some((camera, token)))
                    if camera != s.camera || token != current =>
                {
                    return Err(Error::LeaseLost(format!(
                        "camera {}: this pipeline's lease (token {token}) is no longer held",
                        s.camera.0
                    )))
                }
                (Some(current), _) => Some((f.node().to_owned(), current)),
            },
            None => None,
        };
        let row = self.seal_and_put(s, index).await?;
        let object_key = row.object_key.clone();
        let db = self.db.clone();
        let inserted = tokio::task::spawn_blocking(move || match fenced {
            Some((node, token)) => db.insert_segment_fenced(&row, &node, token),
            None => db.insert_segment(&row),
        })
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
        let Err(error) = inserted else {
            return inserted;
        };
        if refused_for_certain(&error) {
            // No row will ever point at it: give its space back now
            // (recovery would delete it at the next start).
            if let Err(e) = self.objects.delete(&object_key).await {
                tracing::warn!(error = %e, "could not delete the object of a segment whose row failed");
            }
            return Err(error);
        }
        // The outcome is unknown (on PostgreSQL a connection can drop after
        // the server received the COMMIT): the row may exist now or land
        // later, so the object is never deleted here. Found, the write
        // succeeded; otherwise the object stays for recovery's orphan sweep
        // (which on a shared database deletes only objects older than an
        // hour), never a row without its object.
        let db = self.db.clone();
        let key = object_key;
        let found = blocking(move || db.segment_id_by_object_key(&key)).await;
        match found {
            Ok(Some(id)) => Ok(id),
            _ => Err(error),
        }
    }

    /// Seals a segment under a fresh segment key (wrapped by its hour's
    /// bucket key) and makes its object durable; returns the row to insert.
    /// [`Store::write_segment`] and erasure's rewrite ([`erase`]) share it.
    pub(crate) async fn seal_and_put(
        &self,
        s: NewSegment,
        index: SegmentIndex,
    ) -> Result<db::SegmentRow, Error> {
        let this = self.clone();
        let rendition = s.rendition.clone();
        let (bucket_id, kek, recipient) = tokio::task::spawn_blocking(move || {
            // An original's key is sealed to the lift key or the escrow
            // recipient inside its bucket wrapping (`lift`).
            let recipient = if rendition == ORIGINAL_RENDITION {
                Some(this.original_recipient()?)
            } else {
                None
            };
            let (id, kek) = this
                .keys
                .bucket_for_write(s.camera, &rendition, s.start_90k)?;
            Ok::<_, Error>((id, kek, recipient))
        })
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))??;
        let object_key = segment::object_key(s.camera, &s.rendition, s.start_90k, rand::random());
        let seg_key = crypto::Key::generate();
        let key_aad = segment::segment_key_aad(&object_key);
        let wrapped_key = match &recipient {
            Some(r) => crypto::seal(&kek, &key_aad, &lift::seal_original_key(r, &seg_key)?),
            None => crypto::wrap_key(&kek, &key_aad, &seg_key),
        };
        let mut object = segment::OBJECT_MAGIC_V1.to_vec();
        object.extend_from_slice(&crypto::seal(
            &seg_key,
            &segment::media_aad(s.camera, &s.rendition, s.start_90k),
            &s.media,
        ));
        let row = db::SegmentRow {
            id: SegmentId(0),
            camera_id: s.camera,
            rendition: s.rendition.clone(),
            run_start_90k: s.run_start_90k,
            start_90k: s.start_90k,
            duration_90k: index.duration_90k(),
            frames: index.samples.len() as u32,
            media_bytes: s.media.len() as u64,
            object_key: object_key.clone(),
            object_bytes: object.len() as u64,
            bucket_key_id: Some(bucket_id),
            wrapped_key,
            sealed_index: crypto::seal(
                &seg_key,
                &segment::index_aad(s.camera, &s.rendition, s.start_90k),
                &index.encode(),
            ),
            mask_version_id: s.mask_version,
            object_sha256: (!self.without_chain).then(|| chain::object_sha256(&object)),
        };
        let _pending = PendingPut::begin(&self.pending_puts, s.camera, self.clock.now());
        self.objects.put(&object_key, object).await?;
        Ok(row)
    }

    /// A segment's own key: for an `original` segment only through the
    /// lift path (`lift`: its grant).
    fn segment_key(
        &self,
        row: &db::SegmentRow,
        lift: Option<&LiftGrant>,
    ) -> Result<crypto::Key, Error> {
        let material = self.key_material(row)?;
        if row.rendition == ORIGINAL_RENDITION {
            let grant = lift.ok_or_else(|| {
                Error::Lift("the original rendition opens only through the lift path".into())
            })?;
            return self.lifted_key(grant, row, &material);
        }
        if !lift::is_plain_key(&material) {
            return Err(Error::Corrupt(
                "a wrapped segment key has the wrong length".into(),
            ));
        }
        let mut arr = [0u8; 32];
        arr.copy_from_slice(&material);
        let key = crypto::Key::from_bytes(arr);
        zeroize::Zeroize::zeroize(&mut arr);
        Ok(key)
    }

    /// What a segment's bucket key (or a lock's or hold's key) wraps: the
    /// segment key, or for an `original` segment that key sealed to the
    /// lift key or escrow recipient. Locks re-wrap this as it is.
    pub(crate) fn key_material(&self, row: &db::SegmentRow) -> Result<Zeroizing<Vec<u8>>, Error> {
        let (kek, aad, wrapped) = self.key_wrapping(row)?;
        crypto::open(&kek, &aad, &wrapped)
    }

    /// What a segment's own key is wrapped under: its bucket key while that
    /// exists, else the key of a lock or hold that re-wrapped it
    /// ([`Error::KeyDestroyed`] when neither exists): the key-encryption key,
    /// the associated data and the wrapped segment key.
    fn key_wrapping(&self, row: &db::SegmentRow) -> Result<(crypto::Key, Vec<u8>, Vec<u8>), Error> {
        if let Some(bucket) = row.bucket_key_id {
            match self
                .keys
                .bucket_by_id(bucket, row.camera_id, &row.rendition, row.start_90k)
            {
                Ok(kek) => {
                    return Ok((
                        kek,
                        segment::segment_key_aad(&row.object_key),
                        row.wrapped_key.clone(),
                    ))
                }
                Err(Error::KeyDestroyed) => {}
                Err(e) => return Err(e),
            }
        }
        let protected = self.db.protected_keys(row.id)?;
        let p = protected.into_iter().next().ok_or(Error::KeyDestroyed)?;
        let kek = self
            .keys
            .unwrap_protection_key(p.protection, &p.protection_key)?;
        Ok((
            kek,
            protect::protected_segment_aad(p.protection, &row.object_key),
            p.segment_key,
        ))
    }

    /// Readable segments overlapping `[start, end)` with their indexes unsealed.
    /// Segments whose bucket key has been destroyed are skipped; a segment
    /// whose own key or index fails to authenticate is skipped with a
    /// warning (and left for `veil check`). Anything else (the database, a
    /// bucket key that does not open under the root key) is an error for the
    /// caller: a transient fault never changes a segment's state.
    /// The `original` rendition is refused ([`Error::Lift`]): it opens only
    /// through [`Store::original_segments`].
    pub fn segments(
        &self,
        camera: CameraId,
        rendition: &str,
        start: Time90k,
        end: Time90k,
    ) -> Result<Vec<Segment>, Error> {
        if rendition == ORIGINAL_RENDITION {
            return Err(Error::Lift(
                "the original rendition opens only through the lift path".into(),
            ));
        }
        self.segments_with(camera, rendition, start, end, None)
    }

    /// The segments of a camera's default view (`main` or `protected`,
    /// whichever was recorded at each time; never `original`) overlapping
    /// `[start, end)`, as [`Store::segments`] reads them. Playback and the
    /// timeline read these.
    pub fn default_segments(
        &self,
        camera: CameraId,
        start: Time90k,
        end: Time90k,
    ) -> Result<Vec<Segment>, Error> {
        let rows = self.db.default_segments(camera, start, end)?;
        self.open_rows(rows, None)
    }

    /// [`Store::segments`], with a lift grant for the `original` rendition.
    pub(crate) fn segments_with(
        &self,
        camera: CameraId,
        rendition: &str,
        start: Time90k,
        end: Time90k,
        lift: Option<&LiftGrant>,
    ) -> Result<Vec<Segment>, Error> {
        let rows = self.db.segments(camera, rendition, start, end)?;
        self.open_rows(rows, lift)
    }

    /// Opens the indexes of `rows` (see [`Store::segments`]).
    fn open_rows(
        &self,
        rows: Vec<db::SegmentRow>,
        lift: Option<&LiftGrant>,
    ) -> Result<Vec<Segment>, Error> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            match self.open_index(&row, lift) {
                Ok((_, index)) => out.push(Segment { row, index }),
                Err(Opened::KeyDestroyed) => {}
                Err(Opened::OwnDataCorrupt(e)) => {
                    tracing::warn!(segment = row.id.0, error = %e, "segment index does not open; skipped");
                }
                Err(Opened::Fault(e)) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Unwraps a row's segment key and opens its index (returning both),
    /// telling apart the segment's own data failing (permanent) from
    /// everything else.
    fn open_index(
        &self,
        row: &db::SegmentRow,
        lift: Option<&LiftGrant>,
    ) -> Result<(crypto::Key, SegmentIndex), Opened> {
        let (kek, key_aad, wrapped) = match self.key_wrapping(row) {
            Ok(k) => k,
            Err(Error::KeyDestroyed) => return Err(Opened::KeyDestroyed),
            Err(e) => return Err(Opened::Fault(e)),
        };
        let own = |e: Error| match e {
            Error::Corrupt(_) => Opened::OwnDataCorrupt(e),
            e => Opened::Fault(e),
        };
        let material = crypto::open(&kek, &key_aad, &wrapped).map_err(own)?;
        let key = if row.rendition == ORIGINAL_RENDITION {
            let grant = lift.ok_or_else(|| {
                Opened::Fault(Error::Lift(
                    "the original rendition opens only through the lift path".into(),
                ))
            })?;
            self.lifted_key(grant, row, &material).map_err(own)?
        } else {
            let arr: [u8; 32] = material.as_slice().try_into().map_err(|_| {
                Opened::OwnDataCorrupt(Error::Corrupt(
                    "a wrapped segment key has the wrong length".into(),
                ))
            })?;
            crypto::Key::from_bytes(arr)
        };
        let aad = segment::index_aad(row.camera_id, &row.rendition, row.start_90k);
        let index = crypto::open(&key, &aad, &row.sealed_index)
            .and_then(|b| SegmentIndex::decode(&b))
            .map_err(own)?;
        Ok((key, index))
    }

    /// Reads and decrypts a segment's media; the plaintext is zeroed when
    /// dropped. A segment whose object fails to authenticate is marked
    /// `corrupt`, one whose object is absent from a store in place `missing`;
    /// either way it is not served again until `veil check` restores it. Any
    /// other failure (the key, the database, an unmounted store) is returned
    /// and changes nothing.
    /// An `original` segment is refused: see [`Store::read_original_media`].
    pub async fn read_media(&self, seg: &Segment) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.read_media_with(seg, None).await
    }

    /// [`Store::read_media`], with a lift grant for an `original` segment.
    pub async fn read_media_with(
        &self,
        seg: &Segment,
        lift: Option<&LiftGrant>,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let key = self.segment_key(&seg.row, lift)?;
        let object = match self.objects.get(&seg.row.object_key).await {
            Ok(o) => o,
            Err(Error::NotFound(_)) => {
                self.mark(seg.row.id, "missing").await;
                return Err(Error::NotFound(format!("segment {}", seg.row.id)));
            }
            Err(e) => return Err(e),
        };
        let opened = open_object(&key, &seg.row, &object).and_then(|m| {
            if m.len() as u64 == seg.index.media_bytes() {
                Ok(m)
            } else {
                Err(Error::Corrupt("media length differs from its index".into()))
            }
        });
        if let Err(e) = &opened {
            tracing::warn!(segment = seg.row.id.0, error = %e, "segment does not open; marked corrupt");
            self.mark(seg.row.id, "corrupt").await;
        }
        opened
    }

    /// Re-verifies every segment marked `missing` or `corrupt` (`veil
    /// check`): one whose object is present, authenticates and matches its
    /// index is restored to `ok`. Returns (restored, still unreadable).
    pub async fn reverify(&self) -> Result<(usize, usize), Error> {
        let db = self.db.clone();
        let rows = tokio::task::spawn_blocking(move || db.unreadable_segments())
            .await
            .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))??;
        let (mut restored, mut still) = (0, 0);
        for row in rows {
            // An original opens only through the lift path: `veil check`
            // cannot re-verify it (it stays unreadable until then).
            if row.rendition == ORIGINAL_RENDITION {
                still += 1;
                continue;
            }
            let (key, index) = match self.open_index(&row, None) {
                Ok(opened) => opened,
                Err(Opened::Fault(e)) => return Err(e),
                Err(_) => {
                    still += 1;
                    continue;
                }
            };
            let object = match self.objects.get(&row.object_key).await {
                Ok(o) => o,
                Err(Error::NotFound(_)) => {
                    still += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            match open_object(&key, &row, &object) {
                Ok(m) if m.len() as u64 == index.media_bytes() => {
                    self.db.mark_segment(row.id, "ok")?;
                    tracing::info!(segment = row.id.0, "segment opens again; restored");
                    restored += 1;
                }
                _ => still += 1,
            }
        }
        Ok((restored, still))
    }

    async fn mark(&self, id: SegmentId, state: &'static str) {
        let db = self.db.clone();
        let r = tokio::task::spawn_blocking(move || db.mark_segment(id, state)).await;
        if !matches!(r, Ok(Ok(()))) {
            tracing::error!(segment = id.0, "could not mark segment {state}");
        }
    }

    /// Reconciles objects and rows after a crash: deletes objects without a row
    /// and leftovers of interrupted writes; marks rows without a (complete) object
    /// `missing`; ends motion events a crash left open; chains rows stored
    /// before the recording integrity chain. Run before recording or
    /// serving starts.
    ///
    /// On a shared database (PostgreSQL: other recorders write the same
    /// objects) an object without a row is deleted only when older than
    /// [`SHARED_ORPHAN_MIN_AGE_90K`] by the segment start its key holds,
    /// since another recorder's object comes a moment before its row; see
    /// [`Store::recover_keeping_young`].
    pub async fn recover(&self) -> Result<RecoveryReport, Error> {
        let min_age = self.db.is_postgres().then_some(SHARED_ORPHAN_MIN_AGE_90K);
        self.recover_keeping_young(min_age).await
    }

    /// [`Store::recover`], with the rule for objects without a row given:
    /// `None` deletes them all (one process owns the store); `Some(age)`
    /// deletes only those whose key's segment start is older than `age`
    /// by the store's clock (the others are counted in
    /// [`RecoveryReport::young_objects_kept`]).
    pub async fn recover_keeping_young(
        &self,
        min_age_90k: Option<i64>,
    ) -> Result<RecoveryReport, Error> {
        let mut report = RecoveryReport::default();
        let now = self.clock.now();
        // Whether an object without a row may be deleted.
        let old_enough = |key: &str| match min_age_90k {
            None => true,
            Some(age) => segment::object_key_start(key).is_some_and(|t| t.0 < now.0 - age),
        };
        let db = self.db.clone();
        let rows = tokio::task::spawn_blocking(move || db.segment_objects())
            .await
            .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))??;
        let known: std::collections::HashMap<&str, (SegmentId, u64, &str)> = rows
            .iter()
            .map(|(id, k, size, state)| (k.as_str(), (*id, *size, state.as_str())))
            .collect();
        let listed = self.objects.list().await?;
        for key in &listed {
            // Only keys of exactly the shape Veil writes (and their
            // temporary form) are deleted: anything else under the root or
            // prefix (another installation's, an operator's note) is not
            // Veil's and is left alone.
            let written = key.strip_suffix(objects::TEMP_SUFFIX).unwrap_or(key);
            if !segment::is_object_key(written) {
                continue;
            }
            let orphan = key.ends_with(objects::TEMP_SUFFIX) || !known.contains_key(key.as_str());
            if orphan && !old_enough(key) {
                report.young_objects_kept += 1;
            } else if key.ends_with(objects::TEMP_SUFFIX) {
                self.objects.delete(key).await?;
                report.partial_writes_deleted += 1;
            } else if !known.contains_key(key.as_str()) {
                self.objects.delete(key).await?;
                report.orphan_objects_deleted += 1;
            }
        }
        for (id, key, size, state) in &rows {
            if state != "ok" {
                continue;
            }
            if self.objects.size(key).await? != Some(*size) {
                self.db.mark_segment(*id, "missing")?;
                report.rows_marked_missing += 1;
            }
        }
        report.motion_events_closed = self.db.close_interrupted_motion_events()?;
        report.segments_chained = self.chain_unlinked_segments().await?;
        // A crash between a destruction's transaction and its log
        // truncation (retention, erasure) left copies of the deleted rows,
        // wrapped keys included, in the write-ahead log.
        let db = self.db.clone();
        if let Err(e) = blocking(move || db.truncate_wal_after_destruction()).await {
            tracing::warn!(error = %e, "could not truncate the write-ahead log at recovery");
        }
        Ok(report)
    }

    /// Recorded runs (continuous stretches) of a camera overlapping
    /// `[start, end)`: `(start, end)` pairs, oldest first. Adjacent segments of
    /// the same run with no gap merge; a missing segment splits a run.
    pub fn runs(
        &self,
        camera: CameraId,
        rendition: &str,
        start: Time90k,
        end: Time90k,
    ) -> Result<Vec<(Time90k, Time90k)>, Error> {
        Ok(runs_of(self.db.segments(camera, rendition, start, end)?))
    }

    /// The recorded runs of a camera's default view (`main` or
    /// `protected`), as [`Store::runs`] gives them: the timeline's.
    pub fn default_runs(
        &self,
        camera: CameraId,
        start: Time90k,
        end: Time90k,
    ) -> Result<Vec<(Time90k, Time90k)>, Error> {
        Ok(runs_of(self.db.default_segments(camera, start, end)?))
    }
}

/// Merges rows (time order) into runs: adjacent segments of the same run
/// with no gap merge; a missing segment splits a run.
fn runs_of(rows: Vec<db::SegmentRow>) -> Vec<(Time90k, Time90k)> {
    let mut out: Vec<(Time90k, Time90k, Time90k)> = Vec::new();
    for r in rows {
        let (s, e) = (r.start_90k, Time90k(r.start_90k.0 + r.duration_90k));
        match out.last_mut() {
            Some(last) if last.2 == r.run_start_90k && (s.0 - last.1 .0).abs() <= 1 => last.1 = e,
            _ => out.push((s, e, r.run_start_90k)),
        }
    }
    out.into_iter().map(|(s, e, _)| (s, e)).collect()
}

impl Store {
    /// Plans retention at `now` (see [`retention::plan`]): reads, in bounded
    /// pages, each camera's and rendition's bucket keys due by
    /// `retention_90k(camera, rendition)` (at most `limit + 1` of each, and
    /// the first not yet due, for the next expiry), their segments and the
    /// keyless segments, and plans at most `limit` bucket keys. Reads only;
    /// blocks on the database.
    pub fn retention_plan(
        &self,
        now: Time90k,
        retention_90k: impl Fn(CameraId, &str) -> i64,
        protections: &[retention::Protection],
        limit: usize,
    ) -> Result<retention::Plan, Error> {
        let mut due_buckets = Vec::new();
        let mut buckets = Vec::new();
        for (camera, rendition) in self.db.bucket_key_scopes()? {
            let keep = retention_90k(camera, &rendition).max(0);
            // A bucket starting after this cannot have expired.
            let cutoff = Time90k(
                now.0
                    .saturating_sub(keep)
                    .saturating_sub(segment::BUCKET_90K),
            );
            let due = self.db.bucket_keys_page(
                camera,
                &rendition,
                Time90k(i64::MIN),
                cutoff,
                limit.saturating_add(1),
            )?;
            let next =
                self.db
                    .bucket_keys_page(camera, &rendition, cutoff, Time90k(i64::MAX), 1)?;
            due_buckets.extend(due);
            buckets.extend(next);
        }
        // Only the oldest `limit + 1` due buckets of all scopes can make this
        // batch (the planner takes the oldest first): their segments are all
        // that is read, not those of every scope's first page.
        due_buckets.sort_by_key(|b| (b.start, b.id));
        let more_due = due_buckets.len() > limit.saturating_add(1);
        due_buckets.truncate(limit.saturating_add(1));
        buckets.extend(due_buckets);
        let mut segments = Vec::new();
        for b in &buckets {
            segments.extend(self.db.bucket_segments(b.id)?);
        }
        let keyless = self.db.keyless_segments_page(SegmentId(0), KEYLESS_PAGE)?;
        let more_keyless = keyless.len() == KEYLESS_PAGE;
        segments.extend(keyless);
        let mut plan = retention::plan(&buckets, &segments, retention_90k, protections, now, limit);
        if more_keyless || more_due {
            plan.next_expiry = Some(now);
        }
        Ok(plan)
    }

    /// Applies a retention plan, in the order of `docs/design/retention.md`
    /// (the caller has recorded it in the access record first): destroys the
    /// bucket keys (one transaction, one WAL truncation; the keyring forgets
    /// them), deletes the segment rows (one transaction), then their objects
    /// (one already gone is fine). A crash between steps leaves what the next
    /// plan, or [`Store::recover`], finishes. Segments the plan keeps past
    /// their bucket (locked or held) are first checked to be readable
    /// through their lock's or hold's key (re-wrapped if recorded after it
    /// was created); if one is not, nothing is destroyed.
    pub async fn apply_retention(&self, plan: &retention::Plan) -> Result<RetentionReport, Error> {
        // Steps 3 and 4, then 5: the objects.
        let (mut report, gone) = self.destroy_keys_and_rows(plan).await?;
        crash_point("retention.keys_and_rows_destroyed");
        for (key, bytes) in gone {
            self.objects.delete(&key).await?;
            report.objects_deleted += 1;
            report.bytes_freed += bytes;
            crash_point("retention.object_deleted");
        }
        Ok(report)
    }
}

impl Store {
    /// Steps 3 and 4 of [`Store::apply_retention`] (after the protected
    /// segments are re-wrapped): destroys the plan's bucket keys, then
    /// deletes its segment rows; returns the report so far and the objects
    /// (key, size) left to delete. `veil bench retention` times this.
    pub async fn destroy_keys_and_rows(
        &self,
        plan: &retention::Plan,
    ) -> Result<(RetentionReport, Vec<(String, u64)>), Error> {
        let kept: Vec<SegmentId> = plan.protected.iter().map(|(s, _)| *s).collect();
        self.ensure_protected(&kept).await?;
        let mut report = RetentionReport::default();
        let (this, keys, ids) = (
            self.clone(),
            plan.destroy_keys.clone(),
            plan.delete_segments.clone(),
        );
        // Whole buckets go in one statement each only when the plan keeps
        // nothing of them and no row can have been added since it was made
        // (a quota plan may take the hour being recorded).
        let whole = plan.protected.is_empty() && plan.closed_buckets;
        let reason = match plan.reason {
            "" => "retention",
            r => r,
        };
        let (destroyed, gone) =
            blocking(move || this.keys.destroy_buckets(&keys, &ids, whole, reason)).await?;
        report.keys_destroyed = destroyed;
        report.segments_deleted = gone.len();
        Ok((report, gone))
    }
}

/// Whether a failed segment insert certainly stored no row: a lost lease
/// or a constraint the database refused. Any other failure (a dropped
/// connection, a timeout) may have come after the commit.
fn refused_for_certain(e: &Error) -> bool {
    match e {
        Error::LeaseLost(_) => true,
        Error::Database(m) => m.to_ascii_lowercase().contains("constraint"),
        _ => false,
    }
}

#[cfg(test)]
#[test]
fn only_a_certain_refusal_deletes_the_object_at_once() {
    assert!(refused_for_certain(&Error::LeaseLost("camera 1".into())));
    assert!(refused_for_certain(&Error::Database(
        "UNIQUE constraint failed: segment.object_key".into()
    )));
    assert!(refused_for_certain(&Error::Database(
        "db error: ERROR: duplicate key value violates unique constraint \"segment_object_key\""
            .into()
    )));
    for unknown in [
        Error::Database("connection closed".into()),
        Error::Database("error communicating with the server: broken pipe".into()),
        Error::Unavailable("timed out".into()),
        Error::Io(std::io::Error::other("join")),
    ] {
        assert!(!refused_for_certain(&unknown), "{unknown}");
    }
}

/// Runs blocking work (the database) off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?
}

/// Why a segment's index did not open.
enum Opened {
    /// Its bucket key has been destroyed (retention): not an error.
    KeyDestroyed,
    /// Its own wrapped key or index fails to authenticate.
    OwnDataCorrupt(Error),
    /// Anything else: the database, the bucket key, the root key.
    Fault(Error),
}

/// Opens a segment object's media under its segment key.
fn open_object(
    key: &crypto::Key,
    row: &db::SegmentRow,
    object: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let body = object
        .strip_prefix(segment::OBJECT_MAGIC_V1.as_slice())
        .ok_or_else(|| Error::Corrupt("not a version 1 segment object".into()))?;
    crypto::open(
        key,
        &segment::media_aad(row.camera_id, &row.rendition, row.start_90k),
        body,
    )
}
