//! Export packages (schema 16, `docs/design/export.md`): the request
//! without its secrets, the job's state and progress, and the stored
//! encrypted copy until it expires. Each package is inserted together with
//! its entry in the register of disclosures, in one transaction.

use crate::db::sql::{params, OptionalExtension};
use veil_base::{Time90k, UserId};

use super::disclosures::{insert_disclosure_in, NewDisclosure};
use super::Db;
use crate::Error;

/// A package's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportState {
    /// Waiting for its turn.
    Queued,
    /// Being written.
    Running,
    /// Written; the stored copy can be downloaded until it expires.
    Done,
    /// Failed (the reason in `error`); nothing is stored.
    Failed,
    /// Expired: the stored copy was destroyed.
    Expired,
}

impl ExportState {
    /// The stored id.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportState::Queued => "queued",
            ExportState::Running => "running",
            ExportState::Done => "done",
            ExportState::Failed => "failed",
            ExportState::Expired => "expired",
        }
    }

    /// The state stored as `s`.
    pub fn parse(s: &str) -> Option<ExportState> {
        [
            ExportState::Queued,
            ExportState::Running,
            ExportState::Done,
            ExportState::Failed,
            ExportState::Expired,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// A new package.
#[derive(Clone, Debug)]
pub struct NewExport {
    /// Its public id.
    pub package_id: String,
    /// The node that runs it (`''` on the embedded database).
    pub node: String,
    /// Who asked.
    pub requested_by: Option<UserId>,
    /// When.
    pub created: Time90k,
    /// The request as JSON, without passphrase or keys.
    pub request: String,
    /// `protected` or `original`.
    pub rendition: String,
    /// `passphrase`, `recipients` or `none`.
    pub encryption: String,
    /// Bytes of video planned.
    pub total_bytes: u64,
    /// When the stored copy is destroyed.
    pub expires: Time90k,
    /// The access-record entry that recorded it.
    pub audit_seq: i64,
}

/// A stored package row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportRow {
    /// Row id.
    pub id: i64,
    /// Public id.
    pub package_id: String,
    /// Who asked.
    pub requested_by: Option<UserId>,
    /// When.
    pub created: Time90k,
    /// The request (JSON, no secrets).
    pub request: String,
    /// `protected` or `original`.
    pub rendition: String,
    /// `passphrase`, `recipients` or `none`.
    pub encryption: String,
    /// State.
    pub state: ExportState,
    /// Bytes of video planned.
    pub total_bytes: u64,
    /// Bytes of video written so far.
    pub done_bytes: u64,
    /// Why it failed.
    pub error: Option<String>,
    /// The stored file's name (in the exports directory).
    pub object_name: Option<String>,
    /// The stored file's size.
    pub package_bytes: Option<u64>,
    /// The stored file's SHA-256 (hex).
    pub package_sha256: Option<String>,
    /// The manifest's SHA-256 (hex).
    pub manifest_sha256: Option<String>,
    /// When it finished.
    pub finished: Option<Time90k>,
    /// When the stored copy expires.
    pub expires: Time90k,
    /// When the stored copy was destroyed.
    pub destroyed: Option<Time90k>,
    /// The access-record entry that recorded it.
    pub audit_seq: i64,
    /// The node that runs it (`''` on the embedded database).
    pub node: String,
}

const COLUMNS: &str = "id, package_id, requested_by, created_90k, request, rendition, encryption,
     state, total_bytes, done_bytes, error, object_name, package_bytes, package_sha256,
     manifest_sha256, finished_90k, expires_90k, destroyed_90k, audit_seq, node";

fn row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<ExportRow> {
    let state: String = r.get(7)?;
    Ok(ExportRow {
        id: r.get(0)?,
        package_id: r.get(1)?,
        requested_by: r.get::<_, Option<i64>>(2)?.map(UserId),
        created: Time90k(r.get(3)?),
        request: r.get(4)?,
        rendition: r.get(5)?,
        encryption: r.get(6)?,
        state: ExportState::parse(&state).unwrap_or(ExportState::Failed),
        total_bytes: r.get::<_, i64>(8)? as u64,
        done_bytes: r.get::<_, i64>(9)? as u64,
        error: r.get(10)?,
        object_name: r.get(11)?,
        package_bytes: r.get::<_, Option<i64>>(12)?.map(|n| n as u64),
        package_sha256: r.get(13)?,
        manifest_sha256: r.get(14)?,
        finished: r.get::<_, Option<i64>>(15)?.map(Time90k),
        expires: Time90k(r.get(16)?),
        destroyed: r.get::<_, Option<i64>>(17)?.map(Time90k),
        audit_seq: r.get(18)?,
        node: r.get(19)?,
    })
}

impl Db {
    /// Inserts a queued package and its register entry (`d.export_id` is
    /// set to the new row) in one transaction: its id.
    pub fn insert_export(&self, e: &NewExport, d: &NewDisclosure) -> Result<i64, Error> {
        if d.cameras.is_empty() {
            return Err(Error::Invalid(
                "a disclosure names at least one camera".into(),
            ));
        }
        self.with(|c| {
            let tx = c.transaction()?;
            let rowid: i64 = tx.query_row(
                "INSERT INTO export_package (package_id, requested_by, created_90k, request,
                     rendition, encryption, state, total_bytes, expires_90k, audit_seq, node)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?8, ?9, ?10)
                 RETURNING id",
                params![
                    e.package_id,
                    e.requested_by.map(|u| u.0),
                    e.created.0,
                    e.request,
                    e.rendition,
                    e.encryption,
                    e.total_bytes as i64,
                    e.expires.0,
                    e.audit_seq,
                    e.node,
                ],
                |r| r.get(0),
            )?;
            let id = rowid;
            let mut d = d.clone();
            d.export_id = Some(id);
            insert_disclosure_in(&tx, &d)?;
            tx.commit()?;
            Ok(id)
        })
    }

    /// One package.
    pub fn export(&self, id: i64) -> Result<Option<ExportRow>, Error> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM export_package WHERE id = ?1"),
                [id],
                row,
            )
            .optional()
        })
    }

    /// `user`'s packages, newest first, at most `limit`.
    pub fn exports_of(&self, user: UserId, limit: usize) -> Result<Vec<ExportRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {COLUMNS} FROM export_package WHERE requested_by = ?1
                 ORDER BY id DESC LIMIT ?2"
            ))?;
            let rows = st.query_map(params![user.0, limit as i64], row)?;
            rows.collect()
        })
    }

    /// Packages in `state`.
    pub fn exports_in(&self, state: ExportState) -> Result<Vec<ExportRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {COLUMNS} FROM export_package WHERE state = ?1 ORDER BY id"
            ))?;
            let rows = st.query_map([state.as_str()], row)?;
            rows.collect()
        })
    }

    /// Finished packages whose stored copy expires at or before `now`.
    pub fn exports_due(&self, now: Time90k) -> Result<Vec<ExportRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {COLUMNS} FROM export_package
                 WHERE state = 'done' AND expires_90k <= ?1 ORDER BY id"
            ))?;
            let rows = st.query_map([now.0], row)?;
            rows.collect()
        })
    }

    /// Marks a queued package running, writing `object_name`.
    pub fn start_export(&self, id: i64, object_name: &str) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE export_package SET state = 'running', object_name = ?2
                 WHERE id = ?1 AND state = 'queued'",
                params![id, object_name],
            )
            .map(|_| ())
        })
    }

    /// Records progress.
    pub fn export_progress(&self, id: i64, done: u64, total: u64) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE export_package SET done_bytes = ?2, total_bytes = ?3 WHERE id = ?1",
                params![id, done as i64, total as i64],
            )
            .map(|_| ())
        })
    }

    /// Marks a package done, with its size and hashes; the register entry
    /// gets the package's hash.
    pub fn finish_export(
        &self,
        id: i64,
        package_bytes: u64,
        package_sha256: &str,
        manifest_sha256: &str,
        at: Time90k,
    ) -> Result<(), Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "UPDATE export_package SET state = 'done', done_bytes = total_bytes,
                     package_bytes = ?2, package_sha256 = ?3, manifest_sha256 = ?4,
                     finished_90k = ?5
                 WHERE id = ?1",
                params![
                    id,
                    package_bytes as i64,
                    package_sha256,
                    manifest_sha256,
                    at.0
                ],
            )?;
            tx.execute(
                "UPDATE disclosure SET package_sha256 = ?2 WHERE export_id = ?1",
                params![id, package_sha256],
            )?;
            tx.commit()
        })
    }

    /// Marks a package failed with `error` (nothing is stored).
    pub fn fail_export(&self, id: i64, error: &str, at: Time90k) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE export_package SET state = 'failed', error = ?2, finished_90k = ?3,
                     object_name = NULL
                 WHERE id = ?1",
                params![id, error, at.0],
            )
            .map(|_| ())
        })
    }

    /// Marks a package expired (its stored copy destroyed) and its register
    /// entry expired, in one transaction.
    pub fn expire_export(&self, id: i64, at: Time90k) -> Result<(), Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "UPDATE export_package SET state = 'expired', destroyed_90k = ?2
                 WHERE id = ?1",
                params![id, at.0],
            )?;
            tx.execute(
                "UPDATE disclosure SET expired_90k = ?2
                 WHERE export_id = ?1 AND expired_90k IS NULL",
                params![id, at.0],
            )?;
            tx.commit()
        })
    }
}
