//! The metadata repository: every SQL statement Veil runs lives in this module
//! and its children. It is the one repository layer: callers see only `Db`'s
//! methods, never SQL, so the backends to come (PostgreSQL) implement the same
//! methods beside these.
//!
//! SQLite is the embedded default (WAL, `synchronous=FULL`, `secure_delete=ON`);
//! the SQL itself is SQLite's dialect (numbered `?N` parameters,
//! `AUTOINCREMENT`, triggers with `RAISE`). Schema changes are numbered
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

use rusqlite::Connection;

use crate::Error;

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
mod lift;
mod masks;
mod migrations_pg;
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

/// A handle to the metadata database. Cheap to clone; calls block, so async
/// callers run them on a blocking thread.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
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

    /// Copies the write-ahead log into the main file and truncates it, retrying
    /// briefly while a reader keeps the checkpoint from finishing.
    fn truncate_wal(&self) -> Result<(), Error> {
        let done = self.with(|c| {
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

#[cfg(test)]
mod tests {
    use super::*;
    use veil_base::{CameraId, Time90k};

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

    /// Ids of destroyed bucket keys are never handed out again, and
    /// migration 9 keeps every id and every segment's reference.
    #[test]
    fn bucket_key_ids_are_never_reused_and_migration_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v8.db");
        {
            let mut c = Connection::open(&path).unwrap();
            let tx = c.transaction().unwrap();
            for m in &MIGRATIONS[..8] {
                tx.execute_batch(m).unwrap();
            }
            tx.execute_batch(
                "PRAGMA user_version = 8;
                 INSERT INTO camera (id, name, source_kind, source_config, created_90k)
                     VALUES (1, 'c', 'synthetic', '{}', 0);
                 INSERT INTO bucket_key (id, camera_id, rendition, bucket_start_90k, wrapped)
                     VALUES (1, 1, 'main', 0, x'00'), (2, 1, 'main', 1, x'00');
                 INSERT INTO segment (camera_id, rendition, run_start_90k, start_90k,
                     duration_90k, frames, media_bytes, object_key, object_bytes,
                     bucket_key_id, wrapped_key, sealed_index)
                     VALUES (1, 'main', 0, 0, 1, 1, 1, 'k', 1, 2, x'00', x'00');",
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let db = Db::open(&path).unwrap();
        assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION as i64);
        let refs: Option<i64> = db
            .with(|c| c.query_row("SELECT bucket_key_id FROM segment", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(refs, Some(2), "the segment keeps its bucket key");
        db.destroy_bucket_key(2).unwrap();
        let refs: Option<i64> = db
            .with(|c| c.query_row("SELECT bucket_key_id FROM segment", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(refs, None, "foreign keys are on again after migrating");
        let cam = CameraId(1);
        let next = db.insert_bucket_key(cam, "main", Time90k(1), b"w").unwrap();
        assert_eq!(next, 3, "id 2 was destroyed and is not reused");
        db.destroy_bucket_key(next).unwrap();
        assert_eq!(
            db.insert_bucket_key(cam, "main", Time90k(1), b"w").unwrap(),
            4
        );
    }

    /// A TOTP step or a recovery code is used up by the one update that
    /// changes the row: a second use of the same step, an older step, or a
    /// code list that changed meanwhile changes nothing and is refused.
    #[test]
    fn second_factor_codes_are_consumed_once() {
        let db = Db::open_in_memory().unwrap();
        let u = db
            .insert_user("u-1", "gina", "hash", "", Time90k(0))
            .unwrap();
        assert!(!db.consume_totp_step(u, 100).unwrap(), "no TOTP enrolled");
        db.set_second_factor(
            u,
            &SecondFactorRow {
                totp_sealed: Some(vec![1]),
                recovery_hashes: "[\"a\",\"b\"]".into(),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(db.consume_totp_step(u, 100).unwrap());
        assert!(
            !db.consume_totp_step(u, 100).unwrap(),
            "the same step twice"
        );
        assert!(!db.consume_totp_step(u, 99).unwrap(), "an older step");
        assert!(db.consume_totp_step(u, 101).unwrap());
        let (old, left) = ("[\"a\",\"b\"]", "[\"b\"]");
        assert!(db.consume_recovery_code(u, old, left).unwrap());
        assert!(
            !db.consume_recovery_code(u, old, left).unwrap(),
            "the same code from the same old list"
        );
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

#[cfg(test)]
mod reading_tests {
    use super::*;
    use veil_base::{CameraId, SegmentId, Time90k};

    fn row(seq: i64, t: i64, actor: &str, action: &str, resource: &str, outcome: &str) -> AuditRow {
        AuditRow {
            seq,
            time_90k: Time90k(t),
            actor: actor.into(),
            action: action.into(),
            resource: resource.into(),
            outcome: outcome.into(),
            detail: String::new(),
            client: String::new(),
            justification: String::new(),
            prev_hash: vec![0; 32],
            hash: vec![seq as u8; 32],
        }
    }

    fn filled() -> Db {
        let db = Db::open_in_memory().unwrap();
        db.append_audit_batch(|_| {
            Ok(vec![
                row(1, 10, "u-a", "login", "session", "ok"),
                row(2, 20, "u-a", "playback", "camera:1", "ok"),
                row(3, 30, "u-b", "login", "session", "denied"),
                row(4, 40, "u-b", "live_view", "camera:2", "ok"),
                row(5, 50, "u-a", "playback", "camera:2", "ok"),
            ])
        })
        .unwrap();
        db
    }

    fn seqs(db: &Db, f: AuditFilter, limit: i64) -> Vec<i64> {
        db.audit_query(&f, limit)
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect()
    }

    #[test]
    fn query_filters_newest_first_and_pages() {
        let db = filled();
        assert_eq!(seqs(&db, AuditFilter::default(), 100), [5, 4, 3, 2, 1]);
        assert_eq!(seqs(&db, AuditFilter::default(), 2), [5, 4]);
        let page2 = AuditFilter {
            before_seq: Some(4),
            ..Default::default()
        };
        assert_eq!(seqs(&db, page2, 2), [3, 2]);
        let actor = AuditFilter {
            actor: Some("u-a".into()),
            ..Default::default()
        };
        assert_eq!(seqs(&db, actor, 100), [5, 2, 1]);
        let cam = AuditFilter {
            resource: Some("camera:2".into()),
            action: Some("playback".into()),
            ..Default::default()
        };
        assert_eq!(seqs(&db, cam, 100), [5]);
        let denied = AuditFilter {
            outcome: Some("denied".into()),
            ..Default::default()
        };
        assert_eq!(seqs(&db, denied, 100), [3]);
        let period = AuditFilter {
            from: Some(Time90k(20)),
            to: Some(Time90k(40)),
            ..Default::default()
        };
        assert_eq!(seqs(&db, period, 100), [3, 2]);
        let in_period = db.audit_in_period(Time90k(20), Time90k(50), 2, 10).unwrap();
        assert_eq!(in_period.iter().map(|r| r.seq).collect::<Vec<_>>(), [3, 4]);
    }

    #[test]
    fn motion_events_open_end_once_and_overlap_queries() {
        let db = Db::open_in_memory().unwrap();
        let a = db
            .upsert_camera("a", "synthetic", "{}", Time90k(0))
            .unwrap();
        let b = db
            .upsert_camera("b", "synthetic", "{}", Time90k(0))
            .unwrap();
        let e1 = db.insert_motion_event(a, Time90k(100)).unwrap();
        let e2 = db.insert_motion_event(a, Time90k(500)).unwrap();
        let other = db.insert_motion_event(b, Time90k(100)).unwrap();
        db.end_motion_event(e1, Time90k(200)).unwrap();
        // An ended event keeps its first end.
        db.end_motion_event(e1, Time90k(900)).unwrap();
        let all = db
            .motion_events(a, Time90k(0), Time90k(10_000), 100)
            .unwrap();
        assert_eq!(
            all,
            vec![
                MotionEventRow {
                    id: e1,
                    camera_id: a,
                    start_90k: Time90k(100),
                    end_90k: Some(Time90k(200)),
                },
                MotionEventRow {
                    id: e2,
                    camera_id: a,
                    start_90k: Time90k(500),
                    end_90k: None,
                },
            ]
        );
        // Overlap: [150, 160) touches the first; the open one from 500 on.
        let ids = |s, e| -> Vec<i64> {
            db.motion_events(a, Time90k(s), Time90k(e), 100)
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect()
        };
        assert_eq!(ids(150, 160), [e1]);
        assert_eq!(ids(200, 500), Vec::<i64>::new(), "end and start exclusive");
        assert_eq!(ids(5000, 6000), [e2], "an open event lasts");
        assert_eq!(ids(0, 100), Vec::<i64>::new());
        assert_eq!(
            db.motion_events(a, Time90k(0), Time90k(10_000), 1)
                .unwrap()
                .len(),
            1
        );
        // Open events are closed after a disconnection, never before they began.
        assert_eq!(db.end_open_motion_events(a, Time90k(400)).unwrap(), 1);
        let closed = db
            .motion_events(a, Time90k(0), Time90k(10_000), 100)
            .unwrap();
        assert_eq!(closed[1].end_90k, Some(Time90k(500)));
        let b_events = db
            .motion_events(b, Time90k(0), Time90k(10_000), 100)
            .unwrap();
        assert_eq!(b_events[0].id, other);
        assert_eq!(b_events[0].end_90k, None, "other cameras are untouched");
    }

    #[test]
    fn motion_events_left_open_by_a_crash_end_at_the_last_recorded_frame() {
        let db = Db::open_in_memory().unwrap();
        let a = db
            .upsert_camera("a", "synthetic", "{}", Time90k(0))
            .unwrap();
        let b = db
            .upsert_camera("b", "synthetic", "{}", Time90k(0))
            .unwrap();
        db.insert_segment(&SegmentRow {
            id: SegmentId(0),
            camera_id: a,
            rendition: "main".into(),
            run_start_90k: Time90k(100),
            start_90k: Time90k(100),
            duration_90k: 1000,
            frames: 25,
            media_bytes: 1,
            object_key: "a/1".into(),
            object_bytes: 1,
            bucket_key_id: None,
            wrapped_key: vec![0],
            sealed_index: vec![0],
            mask_version_id: None,
            object_sha256: None,
        })
        .unwrap();
        let ended = db.insert_motion_event(a, Time90k(150)).unwrap();
        db.end_motion_event(ended, Time90k(300)).unwrap();
        let open = db.insert_motion_event(a, Time90k(500)).unwrap();
        let unrecorded = db.insert_motion_event(b, Time90k(700)).unwrap();
        assert_eq!(db.close_interrupted_motion_events().unwrap(), 2);
        let end_of = |camera, id| {
            db.motion_events(camera, Time90k(0), Time90k(10_000), 10)
                .unwrap()
                .into_iter()
                .find(|e| e.id == id)
                .unwrap()
                .end_90k
        };
        assert_eq!(end_of(a, open), Some(Time90k(1100)), "the last frame's end");
        assert_eq!(
            end_of(a, ended),
            Some(Time90k(300)),
            "an ended event keeps its end"
        );
        assert_eq!(
            end_of(b, unrecorded),
            Some(Time90k(700)),
            "nothing recorded: its start"
        );
        assert_eq!(db.close_interrupted_motion_events().unwrap(), 0);
    }

    #[test]
    fn erasing_a_user_keeps_the_pseudonym_only() {
        let db = Db::open_in_memory().unwrap();
        let id = db
            .insert_user("u-1", "eve.example", "$argon2id$x", "", Time90k(0))
            .unwrap();
        db.insert_session(b"tok", id, "csrf", Time90k(0), Time90k(100))
            .unwrap();
        db.erase_user("u-1", "!erased").unwrap();
        let u = db.user_by_pseudonym("u-1").unwrap().unwrap();
        assert_eq!(u.name, None);
        assert!(u.disabled);
        assert_eq!(u.password_hash, "!erased");
        assert!(db.session(b"tok").unwrap().is_none());
        assert!(db.user_by_name("eve.example").unwrap().is_none());
        assert_eq!(
            db.user_names().unwrap(),
            vec![UserName {
                pseudonym: "u-1".into(),
                name: None
            }]
        );
        assert!(matches!(
            db.erase_user("u-nobody", "!"),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn bookmarks_filter_page_and_expire() {
        let db = Db::open_in_memory().unwrap();
        let a = db
            .upsert_camera("A", "synthetic", "{}", Time90k(0))
            .unwrap();
        let b = db
            .upsert_camera("B", "synthetic", "{}", Time90k(0))
            .unwrap();
        let eve = db
            .insert_user("u-1", "eve.example", "$argon2id$x", "", Time90k(0))
            .unwrap();
        let mut ids = Vec::new();
        for (cam, start, end, note, expires) in [
            (a, 100, None, "Red van at the gate", 1000),
            (a, 200, Some(400), "100% sure: a_b", 2000),
            (b, 300, None, "red bicycle", 3000),
        ] {
            ids.push(
                db.insert_bookmark(&BookmarkRow {
                    id: 0,
                    camera_id: cam,
                    start_90k: Time90k(start),
                    end_90k: end.map(Time90k),
                    note: note.into(),
                    author_id: Some(eve),
                    author_name: None,
                    created_90k: Time90k(50),
                    expires_90k: Time90k(expires),
                })
                .unwrap(),
            );
        }
        let found = |f: BookmarkFilter, limit| -> Vec<i64> {
            db.bookmarks(&f, limit)
                .unwrap()
                .into_iter()
                .map(|r| r.id)
                .collect()
        };
        assert_eq!(
            found(BookmarkFilter::default(), 10),
            [ids[2], ids[1], ids[0]]
        );
        let one = db.bookmark(ids[1]).unwrap().unwrap();
        assert_eq!(one.author_name.as_deref(), Some("eve.example"));
        assert_eq!(one.end_90k, Some(Time90k(400)));
        let by = |camera, from: Option<i64>, to: Option<i64>, text: Option<&str>| BookmarkFilter {
            camera,
            from: from.map(Time90k),
            to: to.map(Time90k),
            text: text.map(str::to_owned),
            before: None,
        };
        assert_eq!(found(by(Some(a), None, None, None), 10), [ids[1], ids[0]]);
        assert_eq!(
            found(by(None, None, None, Some("RED")), 10),
            [ids[2], ids[0]]
        );
        // Pattern characters are literal text.
        assert_eq!(found(by(None, None, None, Some("100%")), 10), [ids[1]]);
        assert_eq!(found(by(None, None, None, Some("a_b")), 10), [ids[1]]);
        assert_eq!(found(by(None, None, None, Some("%")), 10), [ids[1]]);
        // An interval counts where it overlaps; a moment where it lies.
        assert_eq!(found(by(None, Some(350), Some(1000), None), 10), [ids[1]]);
        assert_eq!(found(by(None, Some(100), Some(101), None), 10), [ids[0]]);
        assert!(found(by(None, Some(401), Some(1000), None), 10).is_empty());
        // Paging: the next page starts after the cursor.
        let first = db.bookmarks(&BookmarkFilter::default(), 2).unwrap();
        let next = BookmarkFilter {
            before: Some((first[1].start_90k, first[1].id)),
            ..Default::default()
        };
        assert_eq!(found(next, 2), [ids[0]]);

        assert!(db.update_bookmark_note(ids[0], "white van").unwrap());
        assert!(!db.update_bookmark_note(999, "x").unwrap());
        assert_eq!(db.bookmark(ids[0]).unwrap().unwrap().note, "white van");

        assert_eq!(db.expired_bookmark_count(Time90k(999)).unwrap(), 0);
        assert_eq!(db.expired_bookmark_count(Time90k(2000)).unwrap(), 2);
        assert_eq!(db.delete_expired_bookmarks(Time90k(2000)).unwrap(), 2);
        assert_eq!(found(BookmarkFilter::default(), 10), [ids[2]]);
        // A new retention period applies to the bookmarks kept.
        db.set_bookmark_retention(10).unwrap();
        assert_eq!(
            db.bookmark(ids[2]).unwrap().unwrap().expires_90k,
            Time90k(60)
        );
        assert!(db.delete_bookmark(ids[2]).unwrap());
        assert!(!db.delete_bookmark(ids[2]).unwrap());
    }

    fn segment_in(
        db: &Db,
        camera: CameraId,
        bucket: Option<i64>,
        start: i64,
        key: &str,
    ) -> SegmentId {
        db.insert_segment(&SegmentRow {
            id: SegmentId(0),
            camera_id: camera,
            rendition: "main".into(),
            run_start_90k: Time90k(start),
            start_90k: Time90k(start),
            duration_90k: 900,
            frames: 9,
            media_bytes: 10,
            object_key: key.into(),
            object_bytes: 40,
            bucket_key_id: bucket,
            wrapped_key: vec![0],
            sealed_index: vec![0],
            mask_version_id: None,
            object_sha256: None,
        })
        .unwrap()
    }

    #[test]
    fn retention_reads_pages_and_destroys_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("veil.db")).unwrap();
        let a = db
            .upsert_camera("a", "synthetic", "{}", Time90k(0))
            .unwrap();
        let b = db
            .upsert_camera("b", "synthetic", "{}", Time90k(0))
            .unwrap();
        let hour = crate::segment::BUCKET_90K;
        let keys: Vec<i64> = (0..4)
            .map(|h| {
                db.insert_bucket_key(a, "main", Time90k(h * hour), &[h as u8; 8])
                    .unwrap()
            })
            .collect();
        let kb = db
            .insert_bucket_key(b, "main", Time90k(0), &[9; 8])
            .unwrap();
        let s0 = segment_in(&db, a, Some(keys[0]), 10, "a/0");
        let s1 = segment_in(&db, a, Some(keys[0]), 5, "a/1");
        let s2 = segment_in(&db, a, Some(keys[1]), hour + 5, "a/2");
        segment_in(&db, b, Some(kb), 7, "b/0");

        assert_eq!(
            db.bucket_key_scopes().unwrap(),
            [(a, "main".to_owned()), (b, "main".to_owned())]
        );
        // Bounded pages, oldest first, within (after, until].
        let page = db
            .bucket_keys_page(a, "main", Time90k(i64::MIN), Time90k(2 * hour), 2)
            .unwrap();
        assert_eq!(page.iter().map(|b| b.id).collect::<Vec<_>>(), keys[..2]);
        assert_eq!(page[1].start, Time90k(hour));
        let next = db
            .bucket_keys_page(a, "main", Time90k(hour), Time90k(i64::MAX), 10)
            .unwrap();
        assert_eq!(next.iter().map(|b| b.id).collect::<Vec<_>>(), keys[2..]);
        let segs = db.bucket_segments(keys[0]).unwrap();
        assert_eq!(segs.iter().map(|s| s.id).collect::<Vec<_>>(), [s1, s0]);
        assert_eq!((segs[0].start, segs[0].end), (Time90k(5), Time90k(905)));
        assert_eq!(segs[0].bucket, Some(keys[0]));
        assert!(db
            .keyless_segments_page(SegmentId(0), 10)
            .unwrap()
            .is_empty());

        // One batch: both keys gone, an unknown id skipped, their segments keyless.
        assert_eq!(db.destroy_bucket_keys(&[keys[0], keys[1], 999]).unwrap(), 2);
        assert_eq!(db.bucket_key_by_id(keys[0]).unwrap(), None);
        assert!(db.bucket_key_by_id(keys[2]).unwrap().is_some());
        let keyless = db.keyless_segments_page(SegmentId(0), 2).unwrap();
        assert_eq!(keyless.iter().map(|s| s.id).collect::<Vec<_>>(), [s0, s1]);
        assert!(keyless.iter().all(|s| s.bucket.is_none()));
        let rest = db.keyless_segments_page(s1, 2).unwrap();
        assert_eq!(rest.iter().map(|s| s.id).collect::<Vec<_>>(), [s2]);
        // The WAL was truncated once the batch was committed.
        let wal = dir.path().join("veil.db-wal");
        assert_eq!(std::fs::metadata(&wal).map_or(0, |m| m.len()), 0);

        // Rows deleted in one transaction; their objects returned.
        let gone = db
            .delete_segments(&[s0, s2, SegmentId(999)], "retention")
            .unwrap();
        assert_eq!(gone, [("a/0".to_owned(), 40), ("a/2".to_owned(), 40)]);
        assert_eq!(db.segment_count().unwrap(), 2);
        assert!(db.delete_segments(&[], "retention").unwrap().is_empty());
        assert_eq!(db.destroy_bucket_keys(&[]).unwrap(), 0);
        // The single-key destroy still works for its callers.
        db.destroy_bucket_key(kb).unwrap();
        assert_eq!(db.bucket_key_by_id(kb).unwrap(), None);
    }
}
