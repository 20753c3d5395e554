//! The metadata repository: every SQL statement Veil runs lives in this module
//! and its children. It is the one repository layer: callers see only `Db`'s
//! methods, never SQL. Every statement runs through the facade in `db/sql.rs`
//! on SQLite or PostgreSQL (`Db::open_postgres`), one SQL text for both
//! (numbered `?N` parameters, portable SQL; see scale-out.md, "Backend").
//!
//! SQLite is the embedded default (WAL, `synchronous=FULL`, `secure_delete=ON`).
//! Schema changes are numbered
//! migrations (`db/migrations.rs`) applied in order inside a transaction; the
//! applied version is kept in `user_version`.
//!
//! This file holds the `Db` handle, opening, migrating and the connection
//! helper; every row type is re-exported here, so its path is `db::…`
//! whichever file defines it. Each domain's methods and rows live in `db/`:
//! `cameras.rs`; `keys.rs` (bucket keys and the segments each encrypts);
//! `segments.rs`; `motion.rs` (motion events); `accounts.rs` (users, sessions,
//! API tokens, second factors, erasure of a name); `roles.rs` (roles, the
//! usage policy, four-eyes approvals); `audit.rs` (the access record: append,
//! chain, checkpoints and anchors, prune, reading); `settings.rs`;
//! `bookmarks.rs`; and `camera_retention.rs`, `chain.rs`, `masks.rs`,
//! `protections.rs`, `requests.rs`, `breaches.rs` and the other files named
//! by their `mod` lines below.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection as SqliteConnection;
use sql::Connection;

use crate::Error;

pub(crate) mod sql;
/// A value of [`Db::tamper_for_tests`] and [`Db::raw_query_for_tests`].
#[doc(hidden)]
pub use sql::Value as RawValue;

mod breaches;
mod bulk;
mod camera_retention;
mod chain;
pub use chain::{ChainedSegment, UnlinkedSegment};
mod data_sets;
mod destroy;
mod erase;
pub use erase::{Replaced, RunCut, StatedSegment};
mod export_packages;
pub use destroy::{DestroyedChunk, DESTROY_CHUNK};
mod disclosures;
mod dpo;
pub use disclosures::{DisclosureFilter, DisclosureKind, DisclosureRow, NewDisclosure, Requester};
pub use dpo::{
    AccessReview, CameraDpo, ConfigVersion, DocumentReview, ProcessorRow, UserProcessor,
    ORGANISATION_SETTING,
};
pub use export_packages::{ExportRow, ExportState, NewExport};
mod jobs;
pub use jobs::CameraStatusRow;
mod leases;
pub use leases::{LeaseRow, NodeRow};
mod lift;
mod masks;
mod migrations_pg;
pub mod pg_tls;
pub use migrations_pg::{migrate_postgres, PG_SCHEMA_VERSION};
mod protections;
mod quotas;
mod requests;
mod root_keys;
pub use breaches::{BreachAbout, BreachRow, CandidateRow, CandidateStatus, NewCandidate};
pub use camera_retention::RetentionChange;
pub use data_sets::DataSetStats;
pub use lift::{LiftGrantRow, LiftKeyRow};
pub use masks::MaskVersionRow;
pub use protections::{NewProtection, ProtectedKey, ProtectionKind, ProtectionRow};
pub use quotas::{CameraUsage, GLOBAL_QUOTA_SETTING};
pub use requests::{
    NewSubjectRequest, RequestInterval, RequestKind, RequestRecipient, RequestStatus,
    SubjectRequestRow,
};
pub use root_keys::{BucketKeyToRewrap, RootVersion, UserSecrets, WrappedCounts};

mod accounts;
mod audit;
mod bookmarks;
mod cameras;
mod keys;
mod migrations;
mod motion;
mod roles;
mod segments;
mod settings;
mod tampering;
use accounts::erase_account;
pub use accounts::{SecondFactorRow, SessionInfo, SessionRow, TokenRow, UserRow};
use audit::audit_row;
pub use audit::{AuditFilter, AuditRow, AuditTail, CheckpointRow, UserName};
pub use bookmarks::{BookmarkFilter, BookmarkRow};
pub use cameras::{CameraDetail, CameraRow, CameraSettings, Ptz, TrackConsent};
pub use keys::ScopedBucketKey;
pub(crate) use migrations::MIGRATIONS;
pub use motion::MotionEventRow;
pub use roles::{ApprovalRow, PolicyRow, RoleRow};
pub use segments::SegmentRow;
use segments::{insert_segment_row, segment_row, SEGMENT_COLUMNS};

/// The schema version this build writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// How long [`Db::open_postgres`] waits for a server that does not answer.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A handle to the metadata database. Cheap to clone; calls block, so async
/// callers run them on a blocking thread.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

fn sql_err(e: impl Into<sql::Error>) -> Error {
    Error::Database(e.into().to_string())
}

impl Db {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Db, Error> {
        let conn = SqliteConnection::open(path).map_err(sql_err)?;
        Self::init(conn)
    }

    /// Opens an existing database for reading only (verification while a server
    /// may be running). Refuses a schema other than this build's.
    pub fn open_read_only(path: &Path) -> Result<Db, Error> {
        if !path.exists() {
            return Err(Error::NotFound(format!("{} (no database)", path.display())));
        }
        let conn =
            SqliteConnection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(sql_err)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql_err)?;
        if version != SCHEMA_VERSION as i64 {
            return Err(Error::Invalid(format!(
                "database schema version {version}, this build reads {SCHEMA_VERSION}; start the server once to migrate"
            )));
        }
        Ok(Db {
            conn: Arc::new(Mutex::new(Connection::sqlite(conn))),
        })
    }

    /// Connects to the PostgreSQL database at `url` (`postgres://user@host:port/db`)
    /// and migrates it (`migrate_postgres`); a schema newer than this build is
    /// refused. Errors name the database and its address, never the password.
    pub fn open_postgres(url: &str) -> Result<Db, Error> {
        let shown = redact_postgres_url(url);
        // A server that does not answer fails the start within seconds
        // (unless the URL sets its own `connect_timeout`).
        // TLS as the URL's sslmode says (pg_tls: the one place that decides).
        let pg_tls::Target {
            mut config, tls, ..
        } = pg_tls::target(url).map_err(|e| match e {
            Error::Invalid(m) => Error::Invalid(format!("PostgreSQL database {shown}: {m}")),
            e => e,
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let connect = || config.connect(tls.clone());
        let mut client = sql::off_runtime(connect).map_err(|e| {
            Error::Database(format!(
                "PostgreSQL database {shown}: cannot connect: {}",
                redact_message(&pg_tls::error_chain(&e), url)
            ))
        })?;
        sql::off_runtime(|| migrate_postgres(&mut client)).map_err(|e| match e {
            Error::Invalid(m) => Error::Invalid(format!("PostgreSQL database {shown}: {m}")),
            e => Error::Database(format!("PostgreSQL database {shown}: {e}")),
        })?;
        // A restarted server closes the connection: the next statement
        // outside a transaction opens a new one.
        let reconnect: sql::Reconnect = Box::new(move || config.connect(tls.clone()));
        Ok(Db {
            conn: Arc::new(Mutex::new(Connection::postgres_reconnecting(
                client, reconnect,
            ))),
        })
    }

    /// A fresh database for tests: SQLite in memory, or, where
    /// `VEIL_TEST_POSTGRES` holds a server's URL, a new database
    /// (`t_<random>`) created on that server.
    #[doc(hidden)]
    pub fn open_for_tests() -> Result<Db, Error> {
        let Ok(url) = std::env::var("VEIL_TEST_POSTGRES") else {
            return Self::open_in_memory();
        };
        Self::open_postgres(&Self::create_test_database(&url)?)
    }

    /// Creates a fresh database (`t_<random>`, collation `C`) on the
    /// PostgreSQL server at `url` and gives its URL: for tests.
    #[doc(hidden)]
    pub fn create_test_database(url: &str) -> Result<String, Error> {
        Self::create_scratch_database(url, "t")
    }

    /// Creates a fresh, empty database `<prefix>_<random>` (collation `C`)
    /// on the PostgreSQL server at `url` and gives its URL: for tests and
    /// `veil bench`, which never touch a real installation's database.
    /// `prefix` is lower-case ASCII letters, digits and `_`.
    pub fn create_scratch_database(url: &str, prefix: &str) -> Result<String, Error> {
        if prefix.is_empty()
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(Error::Invalid(format!(
                "database name prefix {prefix:?}: lower-case letters, digits and _ only"
            )));
        }
        let url = url.to_string();
        let name = format!("{prefix}_{}", hex::encode(rand::random::<[u8; 8]>()));
        let shown = redact_postgres_url(&url);
        sql::off_runtime(|| {
            let mut admin = pg_tls::connect(&url)?;
            admin
                .batch_execute(&format!(
                    "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
                ))
                .map_err(|e| Error::Database(server_message(&e)))
        })
        .map_err(|e| named_error(e, &shown))?;
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (url.as_str(), String::new()),
        };
        let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
        Ok(format!("{base}/{name}{query}"))
    }

    /// Drops the database `name` on the PostgreSQL server at `url` (a
    /// database made by [`Db::create_scratch_database`]), closing its
    /// connections first (`WITH (FORCE)`, PostgreSQL 13 or later).
    pub fn drop_scratch_database(url: &str, name: &str) -> Result<(), Error> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(Error::Invalid(format!(
                "database name {name:?}: lower-case letters, digits and _ only"
            )));
        }
        let url = url.to_string();
        let shown = redact_postgres_url(&url);
        sql::off_runtime(|| {
            let mut admin = pg_tls::connect(&url)?;
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .map_err(|e| Error::Database(server_message(&e)))
        })
        .map_err(|e| named_error(e, &shown))
    }

    /// Whether this is the PostgreSQL backend.
    pub fn is_postgres(&self) -> bool {
        self.conn
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_postgres()
    }

    /// An in-memory database, for tests.
    pub fn open_in_memory() -> Result<Db, Error> {
        Self::init(SqliteConnection::open_in_memory().map_err(sql_err)?)
    }

    fn init(mut conn: SqliteConnection) -> Result<Db, Error> {
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA secure_delete = ON;",
        )
        .map_err(sql_err)?;
        let version: usize = conn
            .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .map_err(sql_err)? as usize;
        if version > SCHEMA_VERSION {
            return Err(Error::Invalid(format!(
                "database schema version {version} is newer than this build ({SCHEMA_VERSION}); upgrade Veil"
            )));
        }
        // Foreign keys are off while migrations run (a rebuilt table must not
        // cascade into the rows that reference it) and checked before each
        // commit.
        conn.execute_batch("PRAGMA foreign_keys = OFF")
            .map_err(sql_err)?;
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = conn.transaction().map_err(sql_err)?;
            tx.execute_batch(m).map_err(sql_err)?;
            let broken: i64 = tx
                .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                    r.get(0)
                })
                .map_err(sql_err)?;
            if broken != 0 {
                return Err(Error::Database(format!(
                    "migration {} would leave {broken} rows with a broken reference; nothing was changed",
                    i + 1
                )));
            }
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                .map_err(sql_err)?;
            tx.commit().map_err(sql_err)?;
        }
        conn.execute_batch("PRAGMA foreign_keys = ON")
            .map_err(sql_err)?;
        Ok(Db {
            conn: Arc::new(Mutex::new(Connection::sqlite(conn))),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> sql::Result<T>) -> Result<T, Error> {
        let mut c = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c).map_err(sql_err)
    }

    /// `PRAGMA integrity_check`: `"ok"` when healthy. PostgreSQL has no such
    /// check to run from a client (it verifies page checksums as it reads,
    /// and `amcheck` is the operator's tool): there it is `"ok"` once a
    /// query over the schema's version row succeeds.
    pub fn integrity_check(&self) -> Result<String, Error> {
        self.with(|c| {
            if c.is_postgres() {
                c.query_row(
                    "SELECT version FROM schema_version WHERE id = 1",
                    [],
                    |_| Ok("ok".to_owned()),
                )
            } else {
                c.query_row("PRAGMA integrity_check", [], |r| r.get(0))
            }
        })
    }

    /// The schema version in the file (PostgreSQL: the `schema_version` row).
    pub fn schema_version(&self) -> Result<i64, Error> {
        self.with(|c| {
            if c.is_postgres() {
                c.query_row("SELECT version FROM schema_version WHERE id = 1", [], |r| {
                    r.get(0)
                })
            } else {
                c.query_row("PRAGMA user_version", [], |r| r.get(0))
            }
        })
    }

    /// Copies the write-ahead log into the main file and truncates it, retrying
    /// briefly while a reader keeps the checkpoint from finishing.
    ///
    /// On PostgreSQL there is nothing of Veil's to do: the server's WAL is
    /// its own, recycled at checkpoints and needed for crash recovery and
    /// replicas, and a deleted row stays in its heap page until `VACUUM`
    /// reuses the space (there is no `secure_delete`). A destroyed bucket
    /// key's wrapped bytes may therefore linger in the server's files for a
    /// while; they are sealed under the root key, which is never stored in
    /// the database, so the destruction holds as long as the root key is
    /// not in the same hands as the database's files (see scale-out.md).
    fn truncate_wal(&self) -> Result<(), Error> {
        let done = self.with(|c| {
            if c.is_postgres() {
                return Ok(true);
            }
            for _ in 0..50 {
                let busy: i64 = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
                if busy == 0 {
                    return Ok(true);
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Ok(false)
        })?;
        if done {
            Ok(())
        } else {
            Err(Error::Database(
                "the change was committed but the write-ahead log could not be truncated; retry"
                    .into(),
            ))
        }
    }
}

/// The server's own message of a statement's error ("db error" alone says
/// nothing).
fn server_message(e: &postgres::Error) -> String {
    e.as_db_error()
        .map_or_else(|| e.to_string(), |d| d.to_string())
}

/// `e` naming the database `shown` (once).
fn named_error(e: Error, shown: &str) -> Error {
    match e {
        Error::Database(m) if !m.starts_with("PostgreSQL database") => {
            Error::Database(format!("PostgreSQL database {shown}: {m}"))
        }
        e => e,
    }
}

/// `url` with its password (in the user part or a `password=` option)
/// replaced by `***`, for messages.
pub fn redact_postgres_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme) = out.find("://") {
        let rest = scheme + 3;
        let end = out[rest..].find(['/', '?']).map_or(out.len(), |e| rest + e);
        if let Some(at) = out[rest..end].rfind('@') {
            let user = &out[rest..rest + at];
            if let Some(colon) = user.find(':') {
                out.replace_range(rest + colon + 1..rest + at, "***");
            }
        }
    }
    let mut from = 0;
    while let Some(p) = out[from..].to_ascii_lowercase().find("password=") {
        let start = from + p + "password=".len();
        let end = out[start..]
            .find(['&', ' '])
            .map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "***");
        from = start + 3;
    }
    out
}

/// `message` with any occurrence of `url`'s password removed.
pub(crate) fn redact_message(message: &str, url: &str) -> String {
    let redacted = redact_postgres_url(url);
    let mut out = message.replace(url, &redacted);
    // The password itself, where the URL has one in its user part.
    if let Some(rest) = url.split_once("://").map(|(_, r)| r) {
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        if let Some((user, _)) = authority.rsplit_once('@') {
            if let Some((_, password)) = user.split_once(':') {
                if !password.is_empty() {
                    out = out.replace(password, "***");
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use veil_base::Time90k;

    #[test]
    fn migrates_and_audit_is_append_only() {
        let db = Db::open_for_tests().unwrap();
        assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION as i64);
        let e = AuditRow {
            seq: 1,
            time_90k: Time90k(1),
            actor: "u-1".into(),
            action: "login".into(),
            resource: "session".into(),
            outcome: "ok".into(),
            detail: String::new(),
            client: String::new(),
            justification: String::new(),
            prev_hash: vec![0; 32],
            hash: vec![7; 32],
        };
        let seqs = db
            .append_audit_batch(|tail| {
                assert_eq!(tail, None);
                Ok(vec![e.clone()])
            })
            .unwrap();
        assert_eq!(seqs, vec![1]);
        let err = db
            .with(|c| c.execute("UPDATE audit SET outcome = 'x'", []))
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        assert!(db.with(|c| c.execute("DELETE FROM audit", [])).is_err());
        assert_eq!(db.audit_entries(0, 10).unwrap(), vec![e]);
    }

    #[test]
    fn postgres_urls_are_shown_without_their_password() {
        assert_eq!(
            redact_postgres_url("postgres://veil:s3cret@db.example:5432/veil"),
            "postgres://veil:***@db.example:5432/veil"
        );
        assert_eq!(
            redact_postgres_url("postgres://veil@h/veil?sslmode=disable&password=s3cret"),
            "postgres://veil@h/veil?sslmode=disable&password=***"
        );
        assert_eq!(
            redact_postgres_url("host=h user=veil password=s3cret dbname=veil"),
            "host=h user=veil password=*** dbname=veil"
        );
        assert_eq!(
            redact_postgres_url("postgres://h/veil"),
            "postgres://h/veil"
        );
    }

    #[test]
    fn an_unreachable_postgres_is_named_without_its_password() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("postgres://veil:s3cret@127.0.0.1:{port}/veil?connect_timeout=2");
        let err = Db::open_postgres(&url).err().unwrap().to_string();
        assert!(err.contains(&format!("127.0.0.1:{port}/veil")), "{err}");
        assert!(err.contains("cannot connect"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn reopening_keeps_version() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("veil.db");
        Db::open(&p)
            .unwrap()
            .upsert_camera("a", "synthetic", "{}", Time90k(0))
            .unwrap();
        let db = Db::open(&p).unwrap();
        assert_eq!(db.cameras().unwrap().len(), 1);
        let mode: String = db
            .with(|c| c.query_row("PRAGMA journal_mode", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(mode, "wal");
        let sd: i64 = db
            .with(|c| c.query_row("PRAGMA secure_delete", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(sd, 1);
    }
}
