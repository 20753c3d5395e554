//! The metadata repository: every SQL statement Veil runs lives in this module.
//!
//! SQLite is the embedded default (WAL, `synchronous=FULL`, `secure_delete=ON`).
//! Callers see only `Db`'s methods, never SQL, so a PostgreSQL implementation of
//! the same methods can sit beside this one later; the SQL itself is SQLite's
//! dialect (numbered `?N` parameters, `AUTOINCREMENT`, triggers with `RAISE`). Schema changes are numbered migrations applied
//! in order inside a transaction; the applied version is kept in `user_version`.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};
use veil_base::{CameraId, SegmentId, Time90k, UserId};

use crate::Error;

/// Migrations, in order. Index + 1 is the schema version after applying it.
const MIGRATIONS: &[&str] = &[
    // 1: the foundation schema.
    r#"
    CREATE TABLE camera (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        source_kind TEXT NOT NULL,
        source_config TEXT NOT NULL,
        created_90k INTEGER NOT NULL
    );
    -- Key-encryption keys, one per (camera, rendition, hour). `wrapped` is the KEK
    -- sealed under the root key. Deleting the row is the crypto-shredding step.
    CREATE TABLE bucket_key (
        id INTEGER PRIMARY KEY,
        camera_id INTEGER NOT NULL REFERENCES camera (id),
        rendition TEXT NOT NULL,
        bucket_start_90k INTEGER NOT NULL,
        wrapped BLOB NOT NULL,
        UNIQUE (camera_id, rendition, bucket_start_90k)
    );
    CREATE TABLE segment (
        id INTEGER PRIMARY KEY,
        camera_id INTEGER NOT NULL REFERENCES camera (id),
        rendition TEXT NOT NULL,
        run_start_90k INTEGER NOT NULL,
        start_90k INTEGER NOT NULL,
        duration_90k INTEGER NOT NULL,
        frames INTEGER NOT NULL,
        media_bytes INTEGER NOT NULL,
        object_key TEXT NOT NULL UNIQUE,
        object_bytes INTEGER NOT NULL,
        bucket_key_id INTEGER REFERENCES bucket_key (id) ON DELETE SET NULL,
        wrapped_key BLOB NOT NULL,
        sealed_index BLOB NOT NULL,
        state TEXT NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'missing', 'corrupt'))
    );
    CREATE INDEX segment_by_time ON segment (camera_id, rendition, start_90k);
    CREATE TABLE app_user (
        id INTEGER PRIMARY KEY,
        pseudonym TEXT NOT NULL UNIQUE,
        name TEXT UNIQUE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_90k INTEGER NOT NULL
    );
    CREATE TABLE user_session (
        token_hash BLOB PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES app_user (id),
        csrf_token TEXT NOT NULL,
        created_90k INTEGER NOT NULL,
        last_seen_90k INTEGER NOT NULL,
        expires_90k INTEGER NOT NULL
    );
    -- The access record. Append-only: updates and deletes abort.
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        time_90k INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        resource TEXT NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL,
        client TEXT NOT NULL
    );
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
    CREATE TABLE setting (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    "#,
    // 2: the access record becomes a hash chain. Rows are immutable once
    // chained; rows written before this version are chained once, at open.
    r#"
    ALTER TABLE audit ADD COLUMN justification TEXT NOT NULL DEFAULT '';
    ALTER TABLE audit ADD COLUMN prev_hash BLOB;
    ALTER TABLE audit ADD COLUMN hash BLOB;
    DROP TRIGGER audit_no_update;
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit WHEN OLD.hash IS NOT NULL
        BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
    "#,
    // 3 (camera management): cameras created over the API (`managed`), their
    // settings, credentials sealed under the root key, and soft deletion (a
    // deleted camera's row stays while its recordings exist).
    r#"
    ALTER TABLE camera ADD COLUMN managed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE camera ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE camera ADD COLUMN recording_mode TEXT NOT NULL DEFAULT 'continuous';
    ALTER TABLE camera ADD COLUMN camera_group TEXT NOT NULL DEFAULT '';
    ALTER TABLE camera ADD COLUMN segment_seconds INTEGER;
    ALTER TABLE camera ADD COLUMN sealed_credentials BLOB;
    ALTER TABLE camera ADD COLUMN deleted_90k INTEGER;
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// A unique-name violation as a clear `Invalid` error.
fn unique_name(e: Error) -> Error {
    match e {
        Error::Database(m) if m.contains("UNIQUE") && m.contains("camera.name") => {
            Error::Invalid("a camera with this name exists".into())
        }
        e => e,
    }
}

/// A handle to the metadata database. Cheap to clone; calls block, so async
/// callers run them on a blocking thread.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

/// A camera row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraRow {
    /// Its id.
    pub id: CameraId,
    /// Display name.
    pub name: String,
    /// `synthetic` now; `rtsp` later.
    pub source_kind: String,
    /// The source's settings as JSON (never credentials in clear).
    pub source_config: String,
}

/// A camera's managed settings (cameras created over the API).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraSettings {
    /// Display name (unique among cameras that are not deleted).
    pub name: String,
    /// `rtsp`.
    pub source_kind: String,
    /// Source settings as JSON, without credentials.
    pub source_config: String,
    /// Whether it records.
    pub enabled: bool,
    /// `continuous`, `scheduled` or `motion`.
    pub recording_mode: String,
    /// Group name (empty for none).
    pub group: String,
    /// Target segment length, if not the server's default.
    pub segment_seconds: Option<u32>,
}

/// A camera with its settings, as camera management sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraDetail {
    /// Its id.
    pub id: CameraId,
    /// Whether it was created over the API (else from the configuration file).
    pub managed: bool,
    /// Its settings.
    pub settings: CameraSettings,
    /// Credentials sealed under the root key (see `Keyring::seal_camera_secret`).
    pub sealed_credentials: Option<Vec<u8>>,
}

/// What a segment row stores.
#[derive(Clone, Debug)]
pub struct SegmentRow {
    /// Its id (`SegmentId(0)` before insertion).
    pub id: SegmentId,
    /// The camera.
    pub camera_id: CameraId,
    /// Rendition name (`main` for the foundation).
    pub rendition: String,
    /// Start of the recording run this segment belongs to.
    pub run_start_90k: Time90k,
    /// Wall-clock time of the first frame.
    pub start_90k: Time90k,
    /// Sum of the frame durations.
    pub duration_90k: i64,
    /// Number of frames.
    pub frames: u32,
    /// Plaintext media bytes (the sample data).
    pub media_bytes: u64,
    /// The object holding the sealed media.
    pub object_key: String,
    /// Size of that object.
    pub object_bytes: u64,
    /// The bucket key that wraps the segment key; `None` once destroyed.
    pub bucket_key_id: Option<i64>,
    /// The segment key wrapped by the bucket key.
    pub wrapped_key: Vec<u8>,
    /// The sample index sealed under the segment key.
    pub sealed_index: Vec<u8>,
}

/// A user row.
#[derive(Clone, Debug)]
pub struct UserRow {
    /// Internal id.
    pub id: UserId,
    /// Stable random id used in the access record and logs.
    pub pseudonym: String,
    /// Login name (`None` once erased).
    pub name: Option<String>,
    /// PHC-format argon2id hash.
    pub password_hash: String,
    /// Role name.
    pub role: String,
    /// Disabled accounts cannot log in.
    pub disabled: bool,
}

/// A session row.
#[derive(Clone, Debug)]
pub struct SessionRow {
    /// The user.
    pub user_id: UserId,
    /// The CSRF token bound to this session.
    pub csrf_token: String,
    /// Absolute expiry.
    pub expires_90k: Time90k,
    /// Last request seen (for idle expiry).
    pub last_seen_90k: Time90k,
}

/// One access-record entry as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    /// Sequence number (assigned on append).
    pub seq: i64,
    /// When.
    pub time_90k: Time90k,
    /// Pseudonymous actor id (never a name).
    pub actor: String,
    /// What was done, e.g. `playback`.
    pub action: String,
    /// On what, e.g. `camera:1`.
    pub resource: String,
    /// `ok`, `denied`, `failed`.
    pub outcome: String,
    /// Extra facts (interval, rendition), no personal data.
    pub detail: String,
    /// Client address as configured (may be empty).
    pub client: String,
    /// Why, where the action requires a justification (else empty).
    pub justification: String,
    /// Hash of the entry before (empty until chained).
    pub prev_hash: Vec<u8>,
    /// This entry's chain hash (empty until chained).
    pub hash: Vec<u8>,
}

/// The last chained entry: `(seq, hash)`.
pub type AuditTail = Option<(i64, Vec<u8>)>;

const AUDIT_COLUMNS: &str = "seq, time_90k, actor, action, resource, outcome, detail, client, \
     justification, COALESCE(prev_hash, x''), COALESCE(hash, x'')";

fn audit_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        seq: r.get(0)?,
        time_90k: Time90k(r.get(1)?),
        actor: r.get(2)?,
        action: r.get(3)?,
        resource: r.get(4)?,
        outcome: r.get(5)?,
        detail: r.get(6)?,
        client: r.get(7)?,
        justification: r.get(8)?,
        prev_hash: r.get(9)?,
        hash: r.get(10)?,
    })
}

fn sql_err(e: rusqlite::Error) -> Error {
    Error::Database(e.to_string())
}

impl Db {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Db, Error> {
        let conn = Connection::open(path).map_err(sql_err)?;
        Self::init(conn)
    }

    /// Opens an existing database for reading only (verification while a server
    /// may be running). Refuses a schema other than this build's.
    pub fn open_read_only(path: &Path) -> Result<Db, Error> {
        if !path.exists() {
            return Err(Error::NotFound(format!("{} (no database)", path.display())));
        }
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
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
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// An in-memory database, for tests.
    pub fn open_in_memory() -> Result<Db, Error> {
        Self::init(Connection::open_in_memory().map_err(sql_err)?)
    }

    fn init(mut conn: Connection) -> Result<Db, Error> {
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA secure_delete = ON;
             PRAGMA foreign_keys = ON;",
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
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = conn.transaction().map_err(sql_err)?;
            tx.execute_batch(m).map_err(sql_err)?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                .map_err(sql_err)?;
            tx.commit().map_err(sql_err)?;
        }
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, Error> {
        let mut c = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c).map_err(sql_err)
    }

    /// `PRAGMA integrity_check`: `"ok"` when healthy.
    pub fn integrity_check(&self) -> Result<String, Error> {
        self.with(|c| c.query_row("PRAGMA integrity_check", [], |r| r.get(0)))
    }

    /// The schema version in the file.
    pub fn schema_version(&self) -> Result<i64, Error> {
        self.with(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
    }

    // --- cameras ---

    /// Inserts a camera, or updates its source if one with that name exists.
    pub fn upsert_camera(
        &self,
        name: &str,
        source_kind: &str,
        source_config: &str,
        now: Time90k,
    ) -> Result<CameraId, Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO camera (name, source_kind, source_config, created_90k)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET source_kind = ?2, source_config = ?3",
                params![name, source_kind, source_config, now.0],
            )?;
            c.query_row("SELECT id FROM camera WHERE name = ?1", [name], |r| {
                Ok(CameraId(r.get(0)?))
            })
        })
    }

    /// Creates a camera over the API; its credentials are set separately
    /// (sealing binds the id, known only now).
    pub fn insert_managed_camera(
        &self,
        s: &CameraSettings,
        now: Time90k,
    ) -> Result<CameraId, Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO camera (name, source_kind, source_config, created_90k, managed,
                    enabled, recording_mode, camera_group, segment_seconds)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?8)",
                params![
                    s.name,
                    s.source_kind,
                    s.source_config,
                    now.0,
                    s.enabled,
                    s.recording_mode,
                    s.group,
                    s.segment_seconds
                ],
            )?;
            Ok(CameraId(c.last_insert_rowid()))
        })
        .map_err(unique_name)
    }

    /// Replaces a managed camera's settings. False if no such live camera.
    pub fn update_managed_camera(&self, id: CameraId, s: &CameraSettings) -> Result<bool, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE camera SET name = ?2, source_kind = ?3, source_config = ?4, enabled = ?5,
                    recording_mode = ?6, camera_group = ?7, segment_seconds = ?8
                 WHERE id = ?1 AND managed = 1 AND deleted_90k IS NULL",
                params![
                    id.0,
                    s.name,
                    s.source_kind,
                    s.source_config,
                    s.enabled,
                    s.recording_mode,
                    s.group,
                    s.segment_seconds
                ],
            )
            .map(|n| n == 1)
        })
        .map_err(unique_name)
    }

    /// Sets (or clears) a camera's sealed credentials.
    pub fn set_camera_credentials(&self, id: CameraId, sealed: Option<&[u8]>) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE camera SET sealed_credentials = ?2 WHERE id = ?1",
                params![id.0, sealed],
            )
            .map(|_| ())
        })
    }

    /// Deletes a managed camera: it stops being listed and its name is freed;
    /// the row stays for its recordings (retention removes those). Its sealed
    /// credentials are erased. False if no such live managed camera.
    pub fn delete_managed_camera(&self, id: CameraId, now: Time90k) -> Result<bool, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE camera SET deleted_90k = ?2, enabled = 0, sealed_credentials = NULL,
                    name = name || ' [deleted ' || id || ']'
                 WHERE id = ?1 AND managed = 1 AND deleted_90k IS NULL",
                params![id.0, now.0],
            )
            .map(|n| n == 1)
        })
    }

    /// Every camera that is not deleted, with its settings, by id.
    pub fn camera_details(&self) -> Result<Vec<CameraDetail>, Error> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, managed, name, source_kind, source_config, enabled, recording_mode,
                    camera_group, segment_seconds, sealed_credentials
                 FROM camera WHERE deleted_90k IS NULL ORDER BY id",
            )?;
            let rows = st.query_map([], |r| {
                Ok(CameraDetail {
                    id: CameraId(r.get(0)?),
                    managed: r.get(1)?,
                    settings: CameraSettings {
                        name: r.get(2)?,
                        source_kind: r.get(3)?,
                        source_config: r.get(4)?,
                        enabled: r.get(5)?,
                        recording_mode: r.get(6)?,
                        group: r.get(7)?,
                        segment_seconds: r.get(8)?,
                    },
                    sealed_credentials: r.get(9)?,
                })
            })?;
            rows.collect()
        })
    }

    /// One camera that is not deleted, with its settings.
    pub fn camera_detail(&self, id: CameraId) -> Result<Option<CameraDetail>, Error> {
        Ok(self.camera_details()?.into_iter().find(|c| c.id == id))
    }

    /// All cameras that are not deleted, by id.
    pub fn cameras(&self) -> Result<Vec<CameraRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, name, source_kind, source_config FROM camera
                 WHERE deleted_90k IS NULL ORDER BY id",
            )?;
            let rows = st.query_map([], |r| {
                Ok(CameraRow {
                    id: CameraId(r.get(0)?),
                    name: r.get(1)?,
                    source_kind: r.get(2)?,
                    source_config: r.get(3)?,
                })
            })?;
            rows.collect()
        })
    }

    // --- keys ---

    /// The wrapped bucket key for a scope, if one exists.
    pub fn bucket_key(
        &self,
        camera: CameraId,
        rendition: &str,
        bucket_start: Time90k,
    ) -> Result<Option<(i64, Vec<u8>)>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT id, wrapped FROM bucket_key
                 WHERE camera_id = ?1 AND rendition = ?2 AND bucket_start_90k = ?3",
                params![camera.0, rendition, bucket_start.0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
    }

    /// The wrapped bucket key with this id, if not destroyed.
    pub fn bucket_key_by_id(&self, id: i64) -> Result<Option<Vec<u8>>, Error> {
        self.with(|c| {
            c.query_row("SELECT wrapped FROM bucket_key WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    /// Stores a new wrapped bucket key and returns its id.
    pub fn insert_bucket_key(
        &self,
        camera: CameraId,
        rendition: &str,
        bucket_start: Time90k,
        wrapped: &[u8],
    ) -> Result<i64, Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO bucket_key (camera_id, rendition, bucket_start_90k, wrapped)
                 VALUES (?1, ?2, ?3, ?4)",
                params![camera.0, rendition, bucket_start.0, wrapped],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// Destroys a bucket key: the row is deleted (secure_delete overwrites the
    /// page) and the WAL is checkpointed and truncated so no copy of the wrapped
    /// key stays in the log. Every segment it wrapped becomes unreadable.
    pub fn destroy_bucket_key(&self, id: i64) -> Result<(), Error> {
        self.with(|c| {
            c.execute("DELETE FROM bucket_key WHERE id = ?1", [id])?;
            // The checkpoint copies the overwritten page into the main file and
            // empties the log; "busy" means a reader kept it from finishing.
            for _ in 0..50 {
                let busy: i64 = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
                if busy == 0 {
                    return Ok(true);
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Ok(false)
        })
        .and_then(|done| {
            if done {
                Ok(())
            } else {
                Err(Error::Database(
                    "the key was deleted but the write-ahead log could not be truncated; retry"
                        .into(),
                ))
            }
        })
    }

    // --- segments ---

    /// Inserts a segment row (after its object is durable).
    pub fn insert_segment(&self, s: &SegmentRow) -> Result<SegmentId, Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO segment (camera_id, rendition, run_start_90k, start_90k,
                     duration_90k, frames, media_bytes, object_key, object_bytes,
                     bucket_key_id, wrapped_key, sealed_index)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    s.camera_id.0,
                    s.rendition,
                    s.run_start_90k.0,
                    s.start_90k.0,
                    s.duration_90k,
                    s.frames,
                    s.media_bytes as i64,
                    s.object_key,
                    s.object_bytes as i64,
                    s.bucket_key_id,
                    s.wrapped_key,
                    s.sealed_index,
                ],
            )?;
            Ok(SegmentId(c.last_insert_rowid()))
        })
    }

    /// Readable (`ok`) segments of a camera and rendition overlapping
    /// `[start, end)`, oldest first.
    pub fn segments(
        &self,
        camera: CameraId,
        rendition: &str,
        start: Time90k,
        end: Time90k,
    ) -> Result<Vec<SegmentRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, camera_id, rendition, run_start_90k, start_90k, duration_90k,
                        frames, media_bytes, object_key, object_bytes, bucket_key_id,
                        wrapped_key, sealed_index
                 FROM segment
                 WHERE camera_id = ?1 AND rendition = ?2 AND state = 'ok'
                   AND start_90k < ?4 AND start_90k > ?3 - ?5
                   AND start_90k + duration_90k > ?3
                 ORDER BY start_90k",
            )?;
            let rows = st.query_map(
                params![
                    camera.0,
                    rendition,
                    start.0,
                    end.0,
                    crate::segment::MAX_SEGMENT_90K
                ],
                |r| {
                    Ok(SegmentRow {
                        id: SegmentId(r.get(0)?),
                        camera_id: CameraId(r.get(1)?),
                        rendition: r.get(2)?,
                        run_start_90k: Time90k(r.get(3)?),
                        start_90k: Time90k(r.get(4)?),
                        duration_90k: r.get(5)?,
                        frames: r.get(6)?,
                        media_bytes: r.get::<_, i64>(7)? as u64,
                        object_key: r.get(8)?,
                        object_bytes: r.get::<_, i64>(9)? as u64,
                        bucket_key_id: r.get(10)?,
                        wrapped_key: r.get(11)?,
                        sealed_index: r.get(12)?,
                    })
                },
            )?;
            rows.collect()
        })
    }

    /// `(id, object key, object size, state)` of every segment row.
    pub fn segment_objects(&self) -> Result<Vec<(SegmentId, String, u64, String)>, Error> {
        self.with(|c| {
            let mut st =
                c.prepare("SELECT id, object_key, object_bytes, state FROM segment ORDER BY id")?;
            let rows = st.query_map([], |r| {
                Ok((
                    SegmentId(r.get(0)?),
                    r.get(1)?,
                    r.get::<_, i64>(2)? as u64,
                    r.get(3)?,
                ))
            })?;
            rows.collect()
        })
    }

    /// Marks a segment `missing` or `corrupt`: it is never served again.
    pub fn mark_segment(&self, id: SegmentId, state: &str) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE segment SET state = ?2 WHERE id = ?1",
                params![id.0, state],
            )
            .map(|_| ())
        })
    }

    // --- users and sessions ---

    /// Number of user accounts.
    pub fn user_count(&self) -> Result<i64, Error> {
        self.with(|c| c.query_row("SELECT COUNT(*) FROM app_user", [], |r| r.get(0)))
    }

    /// Creates a user.
    pub fn insert_user(
        &self,
        pseudonym: &str,
        name: &str,
        password_hash: &str,
        role: &str,
        now: Time90k,
    ) -> Result<UserId, Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO app_user (pseudonym, name, password_hash, role, created_90k)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![pseudonym, name, password_hash, role, now.0],
            )?;
            Ok(UserId(c.last_insert_rowid()))
        })
    }

    fn user_where(
        &self,
        clause: &str,
        arg: rusqlite::types::Value,
    ) -> Result<Option<UserRow>, Error> {
        let sql = format!(
            "SELECT id, pseudonym, name, password_hash, role, disabled FROM app_user WHERE {clause}"
        );
        self.with(|c| {
            c.query_row(&sql, [arg], |r| {
                Ok(UserRow {
                    id: UserId(r.get(0)?),
                    pseudonym: r.get(1)?,
                    name: r.get(2)?,
                    password_hash: r.get(3)?,
                    role: r.get(4)?,
                    disabled: r.get::<_, i64>(5)? != 0,
                })
            })
            .optional()
        })
    }

    /// The user with this login name.
    pub fn user_by_name(&self, name: &str) -> Result<Option<UserRow>, Error> {
        self.user_where("name = ?1", name.to_owned().into())
    }

    /// The user with this id.
    pub fn user(&self, id: UserId) -> Result<Option<UserRow>, Error> {
        self.user_where("id = ?1", id.0.into())
    }

    /// The oldest account (the one `veil demo` created).
    pub fn first_user(&self) -> Result<Option<UserRow>, Error> {
        self.user_where(
            "id = (SELECT MIN(id) FROM app_user) AND 1 = ?1",
            1i64.into(),
        )
    }

    /// Stores a session (by the hash of its token only).
    pub fn insert_session(
        &self,
        token_hash: &[u8],
        user: UserId,
        csrf_token: &str,
        now: Time90k,
        expires: Time90k,
    ) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO user_session (token_hash, user_id, csrf_token, created_90k,
                     last_seen_90k, expires_90k) VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
                params![token_hash, user.0, csrf_token, now.0, expires.0],
            )
            .map(|_| ())
        })
    }

    /// The session with this token hash.
    pub fn session(&self, token_hash: &[u8]) -> Result<Option<SessionRow>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT user_id, csrf_token, expires_90k, last_seen_90k
                 FROM user_session WHERE token_hash = ?1",
                [token_hash],
                |r| {
                    Ok(SessionRow {
                        user_id: UserId(r.get(0)?),
                        csrf_token: r.get(1)?,
                        expires_90k: Time90k(r.get(2)?),
                        last_seen_90k: Time90k(r.get(3)?),
                    })
                },
            )
            .optional()
        })
    }

    /// Records activity on a session.
    pub fn touch_session(&self, token_hash: &[u8], now: Time90k) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE user_session SET last_seen_90k = ?2 WHERE token_hash = ?1",
                params![token_hash, now.0],
            )
            .map(|_| ())
        })
    }

    /// Ends a session.
    pub fn delete_session(&self, token_hash: &[u8]) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "DELETE FROM user_session WHERE token_hash = ?1",
                [token_hash],
            )
            .map(|_| ())
        })
    }

    // --- access record ---

    /// Appends a batch of entries in one durable transaction (group commit: one
    /// fsync for the whole batch). `build` receives the chain's tail and returns
    /// the rows to insert, with `seq`, `prev_hash` and `hash` filled in.
    pub fn append_audit_batch(
        &self,
        build: impl FnOnce(AuditTail) -> Vec<AuditRow>,
    ) -> Result<Vec<i64>, Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            let tail = tx
                .query_row(
                    "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                    [],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<Vec<u8>>>(1)?)),
                )
                .optional()?
                .map(|(s, h)| (s, h.unwrap_or_default()));
            let rows = build(tail);
            let mut seqs = Vec::with_capacity(rows.len());
            {
                let mut st = tx.prepare_cached(
                    "INSERT INTO audit (seq, time_90k, actor, action, resource, outcome, detail,
                         client, justification, prev_hash, hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?;
                for e in &rows {
                    st.execute(params![
                        e.seq,
                        e.time_90k.0,
                        e.actor,
                        e.action,
                        e.resource,
                        e.outcome,
                        e.detail,
                        e.client,
                        e.justification,
                        e.prev_hash,
                        e.hash
                    ])?;
                    seqs.push(e.seq);
                }
            }
            tx.commit()?;
            Ok(seqs)
        })
    }

    /// Chains entries written before the chain existed (schema version 1), in
    /// one transaction: `hash_of(prev_hash, row)` computes each hash.
    pub fn chain_unchained_audit(
        &self,
        mut hash_of: impl FnMut(&[u8], &AuditRow) -> Vec<u8>,
    ) -> Result<usize, Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            let rows: Vec<AuditRow> = {
                let mut st = tx.prepare(&format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit WHERE hash IS NULL ORDER BY seq"
                ))?;
                let rows = st.query_map([], audit_row)?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            for r in &rows {
                let prev: Vec<u8> = tx
                    .query_row("SELECT hash FROM audit WHERE seq = ?1", [r.seq - 1], |x| {
                        x.get::<_, Option<Vec<u8>>>(0)
                    })
                    .optional()?
                    .flatten()
                    .unwrap_or_else(|| vec![0; 32]);
                let h = hash_of(&prev, r);
                tx.execute(
                    "UPDATE audit SET prev_hash = ?2, hash = ?3 WHERE seq = ?1",
                    params![r.seq, prev, h],
                )?;
            }
            tx.commit()?;
            Ok(rows.len())
        })
    }

    /// Entries with `from <= seq <= to`, oldest first, at most `limit`.
    pub fn audit_range(&self, from: i64, to: i64, limit: i64) -> Result<Vec<AuditRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3"
            ))?;
            let rows = st.query_map(params![from, to, limit], audit_row)?;
            rows.collect()
        })
    }

    /// Entries with `seq > after`, oldest first, at most `limit`.
    pub fn audit_entries(&self, after: i64, limit: i64) -> Result<Vec<AuditRow>, Error> {
        self.audit_range(after + 1, i64::MAX, limit)
    }

    // --- settings ---

    /// A stored setting.
    pub fn setting(&self, key: &str) -> Result<Option<String>, Error> {
        self.with(|c| {
            c.query_row("SELECT value FROM setting WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    /// Stores a setting.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO setting (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = ?2",
                params![key, value],
            )
            .map(|_| ())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_and_audit_is_append_only() {
        let db = Db::open_in_memory().unwrap();
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
                vec![e.clone()]
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
