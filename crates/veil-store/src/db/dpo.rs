//! The DPO's desk: cameras' documented purposes and password checks, the
//! organisation profile, configuration versions, reviews of documents and
//! of accounts' roles, and the register of processors. Values the web
//! layer validates are stored as JSON text (portable: a `TEXT` column on
//! SQLite and PostgreSQL alike).

use crate::db::sql::{params, OptionalExtension};
use veil_base::{CameraId, Time90k, UserId};

use super::Db;
use crate::Error;

/// The `setting` row holding the organisation profile (JSON).
pub const ORGANISATION_SETTING: &str = "organisation";

/// A camera's desk columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraDpo {
    /// The camera.
    pub camera: CameraId,
    /// Its documented purpose (JSON), `None` when undocumented.
    pub purpose: Option<String>,
    /// What was found about its password when it was set (JSON).
    pub credential_check: Option<String>,
}

/// One configuration version: a snapshot of the data-protection-relevant
/// configuration, numbered in the order it was first seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigVersion {
    /// The version number.
    pub id: i64,
    /// SHA-256 of `snapshot`.
    pub digest: Vec<u8>,
    /// The snapshot (JSON).
    pub snapshot: String,
    /// When it was first seen.
    pub since: Time90k,
}

/// A document marked reviewed by the DPO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentReview {
    /// Its id.
    pub id: i64,
    /// `ropa`, `policy`, `notice` or `dpia`.
    pub kind: String,
    /// The configuration version reviewed.
    pub version: i64,
    /// When.
    pub reviewed: Time90k,
    /// By whom.
    pub reviewer: UserId,
    /// The reviewer's note.
    pub note: String,
}

/// One account's access review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessReview {
    /// Its id.
    pub id: i64,
    /// The account reviewed.
    pub user: UserId,
    /// When.
    pub reviewed: Time90k,
    /// By whom.
    pub reviewer: UserId,
    /// `confirmed` or `revoked`.
    pub outcome: String,
    /// The role names confirmed, or revoked (JSON array).
    pub roles: String,
}

/// A processor's register entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessorRow {
    /// Its id (ignored on insert).
    pub id: i64,
    /// The company.
    pub name: String,
    /// `integrator`, `maintenance`, `cloud_storage` or `other`.
    pub kind: String,
    /// Date of the agreement, `YYYY-MM-DD`.
    pub agreement_date: String,
    /// What the agreement lets it do.
    pub scope: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// The transfer basis outside the EEA ("" otherwise).
    pub transfer_basis: String,
    /// When it was entered.
    pub created: Time90k,
    /// When it was removed from the register (`None`: current).
    pub removed: Option<Time90k>,
}

/// An account's processor and expiry (a maintenance account).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserProcessor {
    /// The account.
    pub user: UserId,
    /// The processor it belongs to.
    pub processor: Option<i64>,
    /// When it stops working.
    pub expires: Option<Time90k>,
}

impl Db {
    /// Sets (or clears) a camera's documented purpose. False when no such
    /// camera (deleted ones included: their purpose is kept).
    pub fn set_camera_purpose(
        &self,
        camera: CameraId,
        purpose: Option<&str>,
    ) -> Result<bool, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE camera SET purpose = ?2 WHERE id = ?1 AND deleted_90k IS NULL",
                params![camera.0, purpose],
            )
            .map(|n| n == 1)
        })
    }

    /// A camera's documented purpose (JSON), `None` when it has none or
    /// there is no such camera.
    pub fn camera_purpose(&self, camera: CameraId) -> Result<Option<String>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT purpose FROM camera WHERE id = ?1",
                params![camera.0],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map(Option::flatten)
        })
    }

    /// Sets what was found about a camera's password when it was set.
    pub fn set_camera_credential_check(
        &self,
        camera: CameraId,
        check: Option<&str>,
    ) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE camera SET credential_check = ?2 WHERE id = ?1",
                params![camera.0, check],
            )
            .map(|_| ())
        })
    }

    /// The desk columns of every camera that is not deleted, by id.
    pub fn camera_dpo(&self) -> Result<Vec<CameraDpo>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, purpose, credential_check FROM camera
                 WHERE deleted_90k IS NULL ORDER BY id",
            )?;
            let rows = st.query_map([], |r| {
                Ok(CameraDpo {
                    camera: CameraId(r.get(0)?),
                    purpose: r.get(1)?,
                    credential_check: r.get(2)?,
                })
            })?;
            rows.collect()
        })
    }

    /// The latest configuration version, if any.
    pub fn latest_config_version(&self) -> Result<Option<ConfigVersion>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT id, digest, snapshot, since_90k FROM config_version
                 ORDER BY id DESC LIMIT 1",
                [],
                config_version_row,
            )
            .optional()
        })
    }

    /// One configuration version.
    pub fn config_version(&self, id: i64) -> Result<Option<ConfigVersion>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT id, digest, snapshot, since_90k FROM config_version WHERE id = ?1",
                [id],
                config_version_row,
            )
            .optional()
        })
    }

    /// The current version for this snapshot: the latest when its digest
    /// is the same, else a new version first seen `now`. One transaction,
    /// so two callers never number one change twice.
    pub fn observe_config_version(
        &self,
        digest: &[u8],
        snapshot: &str,
        now: Time90k,
    ) -> Result<(ConfigVersion, bool), Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            let latest = tx
                .query_row(
                    "SELECT id, digest, snapshot, since_90k FROM config_version
                     ORDER BY id DESC LIMIT 1",
                    [],
                    config_version_row,
                )
                .optional()?;
            if let Some(v) = latest.filter(|v| v.digest == digest) {
                return Ok((v, false));
            }
            let rowid: i64 = tx.query_row(
                "INSERT INTO config_version (digest, snapshot, since_90k) VALUES (?1, ?2, ?3)
                 RETURNING id",
                params![digest, snapshot, now.0],
                |r| r.get(0),
            )?;
            let v = ConfigVersion {
                id: rowid,
                digest: digest.to_vec(),
                snapshot: snapshot.to_string(),
                since: now,
            };
            tx.commit()?;
            Ok((v, true))
        })
    }

    /// Marks a document reviewed at a configuration version.
    pub fn insert_document_review(
        &self,
        kind: &str,
        version: i64,
        reviewer: UserId,
        note: &str,
        now: Time90k,
    ) -> Result<i64, Error> {
        self.with(|c| {
            let rowid: i64 = c.query_row(
                "INSERT INTO document_review (kind, version, reviewed_90k, reviewer_id, note)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 RETURNING id",
                params![kind, version, now.0, reviewer.0, note],
                |r| r.get(0),
            )?;
            Ok(rowid)
        })
    }

    /// The latest review of each document kind, by kind.
    pub fn latest_document_reviews(&self) -> Result<Vec<DocumentReview>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT r.id, r.kind, r.version, r.reviewed_90k, r.reviewer_id, r.note
                 FROM document_review r
                 WHERE r.id = (SELECT MAX(id) FROM document_review x WHERE x.kind = r.kind)
                 ORDER BY r.kind",
            )?;
            let rows = st.query_map([], |r| {
                Ok(DocumentReview {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    version: r.get(2)?,
                    reviewed: Time90k(r.get(3)?),
                    reviewer: UserId(r.get(4)?),
                    note: r.get(5)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Records an account's access review.
    pub fn insert_access_review(
        &self,
        user: UserId,
        reviewer: UserId,
        outcome: &str,
        roles: &str,
        now: Time90k,
    ) -> Result<i64, Error> {
        self.with(|c| {
            let rowid: i64 = c.query_row(
                "INSERT INTO access_review (user_id, reviewed_90k, reviewer_id, outcome, roles)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 RETURNING id",
                params![user.0, now.0, reviewer.0, outcome, roles],
                |r| r.get(0),
            )?;
            Ok(rowid)
        })
    }

    /// Each account's latest access review, by account id.
    pub fn latest_access_reviews(&self) -> Result<Vec<AccessReview>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT a.id, a.user_id, a.reviewed_90k, a.reviewer_id, a.outcome, a.roles
                 FROM access_review a
                 WHERE a.id = (SELECT MAX(id) FROM access_review x WHERE x.user_id = a.user_id)
                 ORDER BY a.user_id",
            )?;
            let rows = st.query_map([], |r| {
                Ok(AccessReview {
                    id: r.get(0)?,
                    user: UserId(r.get(1)?),
                    reviewed: Time90k(r.get(2)?),
                    reviewer: UserId(r.get(3)?),
                    outcome: r.get(4)?,
                    roles: r.get(5)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Enters a processor in the register; its id.
    pub fn insert_processor(&self, p: &ProcessorRow) -> Result<i64, Error> {
        self.with(|c| {
            let rowid: i64 = c.query_row(
                "INSERT INTO processor (name, kind, agreement_date, scope, country,
                     transfer_basis, created_90k)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 RETURNING id",
                params![
                    p.name,
                    p.kind,
                    p.agreement_date,
                    p.scope,
                    p.country,
                    p.transfer_basis,
                    p.created.0
                ],
                |r| r.get(0),
            )?;
            Ok(rowid)
        })
    }

    /// Replaces a current processor's entry (all but id, created and
    /// removed). False when no such current processor.
    pub fn update_processor(&self, p: &ProcessorRow) -> Result<bool, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE processor SET name = ?2, kind = ?3, agreement_date = ?4, scope = ?5,
                     country = ?6, transfer_basis = ?7
                 WHERE id = ?1 AND removed_90k IS NULL",
                params![
                    p.id,
                    p.name,
                    p.kind,
                    p.agreement_date,
                    p.scope,
                    p.country,
                    p.transfer_basis
                ],
            )
            .map(|n| n == 1)
        })
    }

    /// Removes a processor from the register (the row stays for the
    /// accounts and the record that name it) and disables its accounts.
    /// False when no such current processor.
    pub fn remove_processor(&self, id: i64, now: Time90k) -> Result<bool, Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            let n = tx.execute(
                "UPDATE processor SET removed_90k = ?2 WHERE id = ?1 AND removed_90k IS NULL",
                params![id, now.0],
            )?;
            if n == 1 {
                tx.execute(
                    "UPDATE app_user SET disabled = 1 WHERE processor_id = ?1",
                    params![id],
                )?;
            }
            tx.commit()?;
            Ok(n == 1)
        })
    }

    /// Every processor, current ones and removed ones, by id.
    pub fn processors(&self) -> Result<Vec<ProcessorRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, name, kind, agreement_date, scope, country, transfer_basis,
                     created_90k, removed_90k
                 FROM processor ORDER BY id",
            )?;
            let rows = st.query_map([], |r| {
                Ok(ProcessorRow {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    kind: r.get(2)?,
                    agreement_date: r.get(3)?,
                    scope: r.get(4)?,
                    country: r.get(5)?,
                    transfer_basis: r.get(6)?,
                    created: Time90k(r.get(7)?),
                    removed: r.get::<_, Option<i64>>(8)?.map(Time90k),
                })
            })?;
            rows.collect()
        })
    }

    /// Ties an account to a processor with an expiry (a maintenance
    /// account), or unties it (`None`, `None`).
    pub fn set_user_processor(
        &self,
        user: UserId,
        processor: Option<i64>,
        expires: Option<Time90k>,
    ) -> Result<bool, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE app_user SET processor_id = ?2, expires_90k = ?3 WHERE id = ?1",
                params![user.0, processor, expires.map(|t| t.0)],
            )
            .map(|n| n == 1)
        })
    }

    /// When each account was created, by id.
    pub fn user_created(&self) -> Result<Vec<(UserId, Time90k)>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached("SELECT id, created_90k FROM app_user ORDER BY id")?;
            let rows = st.query_map([], |r| Ok((UserId(r.get(0)?), Time90k(r.get(1)?))))?;
            rows.collect()
        })
    }

    /// Every account's processor and expiry, for accounts that have either.
    pub fn user_processors(&self) -> Result<Vec<UserProcessor>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, processor_id, expires_90k FROM app_user
                 WHERE processor_id IS NOT NULL OR expires_90k IS NOT NULL ORDER BY id",
            )?;
            let rows = st.query_map([], |r| {
                Ok(UserProcessor {
                    user: UserId(r.get(0)?),
                    processor: r.get(1)?,
                    expires: r.get::<_, Option<i64>>(2)?.map(Time90k),
                })
            })?;
            rows.collect()
        })
    }
}

fn config_version_row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<ConfigVersion> {
    Ok(ConfigVersion {
        id: r.get(0)?,
        digest: r.get(1)?,
        snapshot: r.get(2)?,
        since: Time90k(r.get(3)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Db {
        Db::open_for_tests().unwrap()
    }

    #[test]
    fn a_config_version_is_new_only_when_the_digest_changes() {
        let db = db();
        assert!(db.latest_config_version().unwrap().is_none());
        let (a, new) = db
            .observe_config_version(b"one", "{}", Time90k(10))
            .unwrap();
        assert!(new);
        let (b, new) = db
            .observe_config_version(b"one", "{}", Time90k(20))
            .unwrap();
        assert!(!new);
        assert_eq!((b.id, b.since), (a.id, Time90k(10)));
        let (c, _) = db
            .observe_config_version(b"two", "{\"x\":1}", Time90k(30))
            .unwrap();
        let (d, new) = db
            .observe_config_version(b"one", "{}", Time90k(40))
            .unwrap();
        assert!(new, "back to an earlier configuration is a new version");
        assert_eq!((c.id, d.id), (a.id + 1, a.id + 2));
        assert_eq!(
            db.config_version(c.id).unwrap().unwrap().snapshot,
            "{\"x\":1}"
        );
        assert_eq!(db.latest_config_version().unwrap().unwrap(), d);
    }

    #[test]
    fn processors_are_removed_not_deleted() {
        let db = db();
        let mut p = ProcessorRow {
            id: 0,
            name: "Acme".into(),
            kind: "maintenance".into(),
            agreement_date: "2026-01-01".into(),
            scope: "repairs".into(),
            country: "PT".into(),
            transfer_basis: String::new(),
            created: Time90k(5),
            removed: None,
        };
        p.id = db.insert_processor(&p).unwrap();
        p.scope = "repairs and upgrades".into();
        assert!(db.update_processor(&p).unwrap());
        assert!(db.remove_processor(p.id, Time90k(9)).unwrap());
        assert!(!db.remove_processor(p.id, Time90k(10)).unwrap());
        assert!(!db.update_processor(&p).unwrap());
        let all = db.processors().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(
            (all[0].scope.as_str(), all[0].removed),
            ("repairs and upgrades", Some(Time90k(9)))
        );
    }
}
