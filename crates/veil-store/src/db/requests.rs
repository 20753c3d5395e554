//! The register of data-subject requests (D1–D4): the request, its status
//! workflow, its search scope, the intervals marked as showing the person
//! (with an erasure's result and a restriction's hold), the recipients told
//! (Art. 19), the packages made for it, and the request's own retention
//! (`docs/design/dpo-desk.md`, "Data-subject requests"). Tables
//! `subject_request`, `subject_request_interval`,
//! `subject_request_recipient`, schema 19.
//!
//! Status changes are `UPDATE … WHERE status IN (…)`: the caller checks the
//! workflow first (to name the current status) and the guard keeps two
//! concurrent steps from both passing. Portable SQL; the search cameras are a
//! comma-separated list of ids as in the disclosure register.

use crate::db::sql::{params, OptionalExtension};
use veil_base::{CameraId, Time90k, UserId};

use super::data_sets::DataSetStats;
use super::Db;
use crate::Error;

/// The kind of request (the right exercised).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// Art. 15.
    Access,
    /// Art. 17.
    Erasure,
    /// Art. 18.
    Restriction,
    /// Art. 21.
    Objection,
    /// Art. 16.
    Rectification,
    /// Art. 20.
    Portability,
}

impl RequestKind {
    /// Every kind.
    pub const ALL: [RequestKind; 6] = [
        RequestKind::Access,
        RequestKind::Erasure,
        RequestKind::Restriction,
        RequestKind::Objection,
        RequestKind::Rectification,
        RequestKind::Portability,
    ];

    /// The stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Access => "access",
            RequestKind::Erasure => "erasure",
            RequestKind::Restriction => "restriction",
            RequestKind::Objection => "objection",
            RequestKind::Rectification => "rectification",
            RequestKind::Portability => "portability",
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<RequestKind> {
        RequestKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestStatus {
    /// Registered, identity not yet checked.
    Received,
    /// Identity checked.
    Verified,
    /// Footage is being searched (the scope is set).
    Searching,
    /// Decided (upheld or rejected).
    Decided,
    /// Closed: done.
    Completed,
    /// Closed: refused, with a reason.
    Refused,
}

impl RequestStatus {
    /// Every status, in workflow order.
    pub const ALL: [RequestStatus; 6] = [
        RequestStatus::Received,
        RequestStatus::Verified,
        RequestStatus::Searching,
        RequestStatus::Decided,
        RequestStatus::Completed,
        RequestStatus::Refused,
    ];

    /// The stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Received => "received",
            RequestStatus::Verified => "verified",
            RequestStatus::Searching => "searching",
            RequestStatus::Decided => "decided",
            RequestStatus::Completed => "completed",
            RequestStatus::Refused => "refused",
        }
    }

    /// The status named `s`.
    pub fn parse(s: &str) -> Option<RequestStatus> {
        RequestStatus::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the request is closed (completed or refused).
    pub fn is_closed(self) -> bool {
        matches!(self, RequestStatus::Completed | RequestStatus::Refused)
    }
}

/// A request to register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSubjectRequest {
    /// The right exercised.
    pub kind: RequestKind,
    /// When the controller received it.
    pub received: Time90k,
    /// When it is due.
    pub due: Time90k,
    /// How the controller refers to the person.
    pub subject: String,
    /// How to reach them.
    pub contact: String,
    /// Their own description (time, place, appearance).
    pub description: String,
    /// Who registered it.
    pub created_by: Option<UserId>,
    /// When.
    pub created: Time90k,
}

/// An interval marked as showing the person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestInterval {
    /// Its id.
    pub id: i64,
    /// The camera.
    pub camera: CameraId,
    /// Start.
    pub start: Time90k,
    /// End (exclusive).
    pub end: Time90k,
    /// Who marked it.
    pub marked_by: Option<UserId>,
    /// When.
    pub marked: Time90k,
    /// The restriction hold created over it.
    pub hold: Option<i64>,
    /// When it was erased.
    pub erased_at: Option<Time90k>,
    /// What the erasure removed (JSON, written by the web layer).
    pub erased: Option<String>,
    /// What the erasure could not remove and why (JSON).
    pub erasure_blocked: Option<String>,
}

/// A disclosure-register entry's recipient told (or not) of the request's
/// outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecipient {
    /// The register entry.
    pub disclosure: i64,
    /// Whether the recipient was informed.
    pub informed: bool,
    /// How, or why not.
    pub note: String,
    /// Who recorded it.
    pub recorded_by: Option<UserId>,
    /// When.
    pub recorded: Time90k,
}

/// A request as stored, with its intervals, recipients and packages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectRequestRow {
    /// Its id.
    pub id: i64,
    /// The right exercised.
    pub kind: RequestKind,
    /// Where it stands.
    pub status: RequestStatus,
    /// When received.
    pub received: Time90k,
    /// The due date (one month from receipt unless given earlier).
    pub due: Time90k,
    /// The extended due date and why (Art. 12(3)).
    pub extended: Option<(Time90k, String)>,
    /// How the controller refers to the person.
    pub subject: String,
    /// How to reach them.
    pub contact: String,
    /// Their description; `None` once removed.
    pub description: Option<String>,
    /// When the description was removed.
    pub description_removed: Option<Time90k>,
    /// How the identity was checked, by whom, when.
    pub verified: Option<(String, Option<UserId>, Time90k)>,
    /// The search scope: cameras, start, end.
    pub scope: Option<(Vec<CameraId>, Time90k, Time90k)>,
    /// `upheld` or `rejected`.
    pub decision: Option<String>,
    /// Why.
    pub decision_reason: Option<String>,
    /// The access-record entry of the change made (objection).
    pub linked_change: Option<i64>,
    /// Who decided, when.
    pub decided: Option<(Option<UserId>, Time90k)>,
    /// Why it was refused.
    pub refusal_reason: Option<String>,
    /// Who registered it.
    pub created_by: Option<UserId>,
    /// When.
    pub created: Time90k,
    /// Last change.
    pub updated: Time90k,
    /// When it was completed or refused.
    pub closed: Option<Time90k>,
    /// The marked intervals, oldest first.
    pub intervals: Vec<RequestInterval>,
    /// The recipients told.
    pub recipients: Vec<RequestRecipient>,
    /// The export packages made for it: (export id, package id, state).
    pub packages: Vec<(i64, String, String)>,
}

impl SubjectRequestRow {
    /// The due date in force: the extended one if extended.
    pub fn due_in_force(&self) -> Time90k {
        self.extended.as_ref().map_or(self.due, |(t, _)| *t)
    }
}

const COLUMNS: &str = "id, kind, status, received_90k, due_90k, extended_due_90k,
     extension_reason, subject, contact, description, description_removed_90k,
     verification_method, verified_by, verified_90k, search_cameras, search_start_90k,
     search_end_90k, decision, decision_reason, linked_change_seq, decided_by, decided_90k,
     refusal_reason, created_by, created_90k, updated_90k, closed_90k";

fn conversion(msg: String) -> crate::db::sql::Error {
    crate::db::sql::Error::FromSqlConversionFailure(
        0,
        crate::db::sql::types::Type::Text,
        msg.into(),
    )
}

fn row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<SubjectRequestRow> {
    let kind: String = r.get(1)?;
    let status: String = r.get(2)?;
    let t = |i: usize| -> crate::db::sql::Result<Option<Time90k>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(Time90k))
    };
    let user = |i: usize| -> crate::db::sql::Result<Option<UserId>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(UserId))
    };
    let scope = match (r.get::<_, Option<String>>(14)?, t(15)?, t(16)?) {
        (Some(cams), Some(a), Some(b)) => Some((
            cams.split(',')
                .filter(|x| !x.is_empty())
                .map(|x| {
                    x.parse()
                        .map(CameraId)
                        .map_err(|_| conversion(format!("bad camera list {cams:?}")))
                })
                .collect::<crate::db::sql::Result<Vec<_>>>()?,
            a,
            b,
        )),
        _ => None,
    };
    Ok(SubjectRequestRow {
        id: r.get(0)?,
        kind: RequestKind::parse(&kind)
            .ok_or_else(|| conversion(format!("unknown request kind {kind:?}")))?,
        status: RequestStatus::parse(&status)
            .ok_or_else(|| conversion(format!("unknown request status {status:?}")))?,
        received: Time90k(r.get(3)?),
        due: Time90k(r.get(4)?),
        extended: match t(5)? {
            Some(t) => Some((t, r.get::<_, Option<String>>(6)?.unwrap_or_default())),
            None => None,
        },
        subject: r.get(7)?,
        contact: r.get(8)?,
        description: r.get(9)?,
        description_removed: t(10)?,
        verified: match (r.get::<_, Option<String>>(11)?, t(13)?) {
            (Some(m), Some(at)) => Some((m, user(12)?, at)),
            _ => None,
        },
        scope,
        decision: r.get(17)?,
        decision_reason: r.get(18)?,
        linked_change: r.get(19)?,
        decided: t(21)?.map(|at| (user(20).ok().flatten(), at)),
        refusal_reason: r.get(22)?,
        created_by: user(23)?,
        created: Time90k(r.get(24)?),
        updated: Time90k(r.get(25)?),
        closed: t(26)?,
        intervals: Vec::new(),
        recipients: Vec::new(),
        packages: Vec::new(),
    })
}

fn interval_row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<RequestInterval> {
    Ok(RequestInterval {
        id: r.get(0)?,
        camera: CameraId(r.get(1)?),
        start: Time90k(r.get(2)?),
        end: Time90k(r.get(3)?),
        marked_by: r.get::<_, Option<i64>>(4)?.map(UserId),
        marked: Time90k(r.get(5)?),
        hold: r.get(6)?,
        erased_at: r.get::<_, Option<i64>>(7)?.map(Time90k),
        erased: r.get(8)?,
        erasure_blocked: r.get(9)?,
    })
}

fn statuses(list: &[RequestStatus]) -> String {
    list.iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A closed request's description is due for removal, or the request
/// itself for deletion, when it closed before the cut-off.
const CLOSED_BEFORE: &str = "status IN ('completed', 'refused') AND closed_90k < ?1";

impl Db {
    /// Registers a request; its id.
    pub fn insert_subject_request(&self, n: &NewSubjectRequest) -> Result<i64, Error> {
        self.with(|c| {
            let rowid: i64 = c.query_row(
                "INSERT INTO subject_request (kind, status, received_90k, due_90k, subject,
                     contact, description, created_by, created_90k, updated_90k)
                 VALUES (?1, 'received', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
                 RETURNING id",
                params![
                    n.kind.as_str(),
                    n.received.0,
                    n.due.0,
                    n.subject,
                    n.contact,
                    n.description,
                    n.created_by.map(|u| u.0),
                    n.created.0,
                ],
                |r| r.get(0),
            )?;
            Ok(rowid)
        })
    }

    /// The requests (of `status` when given): open ones by the due date in
    /// force (so overdue ones first), then closed ones, latest closed first.
    /// Without intervals, recipients or packages.
    pub fn subject_requests(
        &self,
        status: Option<RequestStatus>,
    ) -> Result<Vec<SubjectRequestRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM subject_request
                 WHERE (CAST(?1 AS TEXT) IS NULL OR status = ?1)
                 ORDER BY CASE WHEN status IN ('completed', 'refused') THEN 1 ELSE 0 END,
                          CASE WHEN status IN ('completed', 'refused') THEN 0
                               ELSE COALESCE(extended_due_90k, due_90k) END,
                          closed_90k DESC, id"
            ))?;
            let rows = st
                .query_map([status.map(RequestStatus::as_str)], row)?
                .collect::<crate::db::sql::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// One request with its intervals, recipients and packages.
    pub fn subject_request(&self, id: i64) -> Result<Option<SubjectRequestRow>, Error> {
        self.with(|c| {
            let Some(mut r) = c
                .query_row(
                    &format!("SELECT {COLUMNS} FROM subject_request WHERE id = ?1"),
                    [id],
                    row,
                )
                .optional()?
            else {
                return Ok(None);
            };
            let mut st = c.prepare_cached(
                "SELECT id, camera_id, start_90k, end_90k, marked_by, marked_90k, hold_id,
                        erased_90k, erased, erasure_blocked
                 FROM subject_request_interval WHERE request_id = ?1
                 ORDER BY start_90k, camera_id, id",
            )?;
            r.intervals = st
                .query_map([id], interval_row)?
                .collect::<crate::db::sql::Result<_>>()?;
            let mut st = c.prepare_cached(
                "SELECT disclosure_id, informed, note, recorded_by, recorded_90k
                 FROM subject_request_recipient WHERE request_id = ?1 ORDER BY disclosure_id",
            )?;
            r.recipients = st
                .query_map([id], |x| {
                    Ok(RequestRecipient {
                        disclosure: x.get(0)?,
                        informed: x.get::<_, i64>(1)? != 0,
                        note: x.get(2)?,
                        recorded_by: x.get::<_, Option<i64>>(3)?.map(UserId),
                        recorded: Time90k(x.get(4)?),
                    })
                })?
                .collect::<crate::db::sql::Result<_>>()?;
            let mut st = c.prepare_cached(
                "SELECT id, package_id, state FROM export_package
                 WHERE subject_request_id = ?1 ORDER BY id",
            )?;
            r.packages = st
                .query_map([id], |x| Ok((x.get(0)?, x.get(1)?, x.get(2)?)))?
                .collect::<crate::db::sql::Result<_>>()?;
            Ok(Some(r))
        })
    }

    /// Runs `sql` (an `UPDATE subject_request SET … WHERE id = ?1`, to
    /// which the status guard is appended) if the request is in one of
    /// `from`; whether it was.
    fn guarded(
        &self,
        id: i64,
        from: &[RequestStatus],
        set: &str,
        args: &[&dyn crate::db::sql::ToSql],
    ) -> Result<bool, Error> {
        let sql = format!(
            "UPDATE subject_request SET {set} WHERE id = ?1 AND status IN ({})",
            statuses(from)
        );
        self.with(|c| {
            let mut all: Vec<&dyn crate::db::sql::ToSql> = vec![&id];
            all.extend_from_slice(args);
            Ok(c.execute(&sql, all.as_slice())? == 1)
        })
    }

    /// Records the identity check: `received` → `verified`.
    pub fn verify_subject_request(
        &self,
        id: i64,
        method: &str,
        by: UserId,
        at: Time90k,
    ) -> Result<bool, Error> {
        self.guarded(
            id,
            &[RequestStatus::Received],
            "status = 'verified', verification_method = ?2, verified_by = ?3,
             verified_90k = ?4, updated_90k = ?4",
            &[&method, &by.0, &at.0],
        )
    }

    /// Extends the due date once (while open and not yet extended).
    pub fn extend_subject_request(
        &self,
        id: i64,
        until: Time90k,
        reason: &str,
        at: Time90k,
    ) -> Result<bool, Error> {
        self.with(|c| {
            Ok(c.execute(
                "UPDATE subject_request SET extended_due_90k = ?2, extension_reason = ?3,
                     updated_90k = ?4
                 WHERE id = ?1 AND extended_due_90k IS NULL
                   AND status NOT IN ('completed', 'refused')",
                params![id, until.0, reason, at.0],
            )? == 1)
        })
    }

    /// Sets the search scope: `verified` or `searching` → `searching`.
    pub fn search_subject_request(
        &self,
        id: i64,
        cameras: &[CameraId],
        start: Time90k,
        end: Time90k,
        at: Time90k,
    ) -> Result<bool, Error> {
        let cams = cameras
            .iter()
            .map(|c| c.0.to_string())
            .collect::<Vec<_>>()
            .join(",");
        self.guarded(
            id,
            &[RequestStatus::Verified, RequestStatus::Searching],
            "status = 'searching', search_cameras = ?2, search_start_90k = ?3,
             search_end_90k = ?4, updated_90k = ?5",
            &[&cams, &start.0, &end.0, &at.0],
        )
    }

    /// Records the decision: `verified` or `searching` → `decided`.
    pub fn decide_subject_request(
        &self,
        id: i64,
        decision: &str,
        reason: &str,
        linked_change: Option<i64>,
        by: UserId,
        at: Time90k,
    ) -> Result<bool, Error> {
        self.guarded(
            id,
            &[RequestStatus::Verified, RequestStatus::Searching],
            "status = 'decided', decision = ?2, decision_reason = ?3, linked_change_seq = ?4,
             decided_by = ?5, decided_90k = ?6, updated_90k = ?6",
            &[&decision, &reason, &linked_change, &by.0, &at.0],
        )
    }

    /// Closes it: `decided` → `completed`.
    /// `kept_reason`: why part of an upheld erasure is kept (stored as the
    /// request's refusal reason for that part).
    pub fn complete_subject_request(
        &self,
        id: i64,
        at: Time90k,
        kept_reason: Option<&str>,
    ) -> Result<bool, Error> {
        self.guarded(
            id,
            &[RequestStatus::Decided],
            "status = 'completed', closed_90k = ?2, updated_90k = ?2, refusal_reason = ?3",
            &[&at.0, &kept_reason],
        )
    }

    /// Refuses it with a reason (from any open status).
    pub fn refuse_subject_request(
        &self,
        id: i64,
        reason: &str,
        at: Time90k,
    ) -> Result<bool, Error> {
        self.guarded(
            id,
            &[
                RequestStatus::Received,
                RequestStatus::Verified,
                RequestStatus::Searching,
                RequestStatus::Decided,
            ],
            "status = 'refused', refusal_reason = ?2, closed_90k = ?3, updated_90k = ?3",
            &[&reason, &at.0],
        )
    }

    /// Marks an interval (while `searching`); its id, `None` when the
    /// request is not searching.
    pub fn add_request_interval(
        &self,
        id: i64,
        camera: CameraId,
        start: Time90k,
        end: Time90k,
        by: UserId,
        at: Time90k,
    ) -> Result<Option<i64>, Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            let new: Option<i64> = tx
                .query_row(
                    "INSERT INTO subject_request_interval (request_id, camera_id, start_90k,
                         end_90k, marked_by, marked_90k)
                     SELECT id, ?2, ?3, ?4, ?5, ?6 FROM subject_request
                     WHERE id = ?1 AND status = 'searching'
                     RETURNING id",
                    params![id, camera.0, start.0, end.0, by.0, at.0],
                    |r| r.get(0),
                )
                .optional()?;
            tx.execute(
                "UPDATE subject_request SET updated_90k = ?2 WHERE id = ?1",
                params![id, at.0],
            )?;
            tx.commit()?;
            Ok(new)
        })
    }

    /// Removes a marked interval that is neither erased nor held (while
    /// `searching`); whether it did.
    pub fn delete_request_interval(&self, id: i64, interval: i64) -> Result<bool, Error> {
        self.with(|c| {
            Ok(c.execute(
                "DELETE FROM subject_request_interval
                 WHERE id = ?2 AND request_id = ?1 AND erased_90k IS NULL AND hold_id IS NULL
                   AND request_id IN (SELECT id FROM subject_request WHERE status = 'searching')",
                params![id, interval],
            )? == 1)
        })
    }

    /// Notes the restriction hold created over an interval.
    pub fn set_interval_hold(&self, interval: i64, hold: i64) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE subject_request_interval SET hold_id = ?2 WHERE id = ?1",
                params![interval, hold],
            )?;
            Ok(())
        })
    }

    /// Notes what an erasure removed and what it could not (JSON).
    pub fn set_interval_erasure(
        &self,
        interval: i64,
        at: Time90k,
        erased: &str,
        blocked: &str,
    ) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE subject_request_interval SET erased_90k = ?2, erased = ?3,
                     erasure_blocked = ?4 WHERE id = ?1",
                params![interval, at.0, erased, blocked],
            )?;
            Ok(())
        })
    }

    /// Records (or replaces) whether a register entry's recipient was told.
    pub fn record_request_recipient(&self, id: i64, r: &RequestRecipient) -> Result<(), Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "DELETE FROM subject_request_recipient WHERE request_id = ?1 AND disclosure_id = ?2",
                params![id, r.disclosure],
            )?;
            tx.execute(
                "INSERT INTO subject_request_recipient (request_id, disclosure_id, informed, note,
                     recorded_by, recorded_90k)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    id,
                    r.disclosure,
                    r.informed as i64,
                    r.note,
                    r.recorded_by.map(|u| u.0),
                    r.recorded.0
                ],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Names the request an export package was made for.
    pub fn link_export_to_request(&self, export: i64, request: i64) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE export_package SET subject_request_id = ?2 WHERE id = ?1",
                params![export, request],
            )?;
            Ok(())
        })
    }

    /// Every request: how many, the oldest registration, and the earliest
    /// closing among closed ones (the requests' retention counts from it).
    pub fn subject_request_stats(&self) -> Result<DataSetStats, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*), MIN(created_90k),
                        MIN(CASE WHEN status IN ('completed', 'refused') THEN closed_90k END)
                 FROM subject_request",
                [],
                |r| {
                    Ok(DataSetStats {
                        items: r.get::<_, i64>(0)? as u64,
                        oldest: r.get::<_, Option<i64>>(1)?.map(Time90k),
                        first_end: r.get::<_, Option<i64>>(2)?.map(Time90k),
                    })
                },
            )
        })
    }

    /// Descriptions still held by requests closed before `before`: how
    /// many, and the earliest closing among requests still holding one.
    pub fn request_descriptions_due(
        &self,
        before: Time90k,
    ) -> Result<(u64, Option<Time90k>), Error> {
        self.with(|c| {
            let n: i64 = c.query_row(
                &format!(
                    "SELECT COUNT(*) FROM subject_request
                     WHERE description IS NOT NULL AND {CLOSED_BEFORE}"
                ),
                [before.0],
                |r| r.get(0),
            )?;
            let first: Option<i64> = c.query_row(
                "SELECT MIN(closed_90k) FROM subject_request
                 WHERE description IS NOT NULL AND status IN ('completed', 'refused')",
                [],
                |r| r.get(0),
            )?;
            Ok((n as u64, first.map(Time90k)))
        })
    }

    /// Removes the descriptions of requests closed before `before`; how
    /// many.
    /// (`secure_delete` overwrites the old text in the database; the write-
    /// ahead log is truncated so no copy stays there either.)
    pub fn remove_request_descriptions(&self, before: Time90k, now: Time90k) -> Result<u64, Error> {
        let n = self.with(|c| {
            Ok(c.execute(
                &format!(
                    "UPDATE subject_request SET description = NULL, description_removed_90k = ?2
                     WHERE description IS NOT NULL AND {CLOSED_BEFORE}"
                ),
                params![before.0, now.0],
            )? as u64)
        })?;
        if n > 0 {
            self.truncate_wal()?;
        }
        Ok(n)
    }

    /// How many requests closed before `before`.
    pub fn closed_request_count(&self, before: Time90k) -> Result<u64, Error> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT COUNT(*) FROM subject_request WHERE {CLOSED_BEFORE}"),
                [before.0],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
        })
    }

    /// Deletes the requests closed before `before` with their intervals and
    /// recipients; their packages forget them. How many.
    pub fn delete_closed_requests(&self, before: Time90k) -> Result<u64, Error> {
        let n = self.with(|c| {
            let tx = c.transaction()?;
            let sub = format!("SELECT id FROM subject_request WHERE {CLOSED_BEFORE}");
            tx.execute(
                &format!(
                    "UPDATE export_package SET subject_request_id = NULL
                     WHERE subject_request_id IN ({sub})"
                ),
                [before.0],
            )?;
            tx.execute(
                &format!("DELETE FROM subject_request_interval WHERE request_id IN ({sub})"),
                [before.0],
            )?;
            tx.execute(
                &format!("DELETE FROM subject_request_recipient WHERE request_id IN ({sub})"),
                [before.0],
            )?;
            let n = tx.execute(
                &format!("DELETE FROM subject_request WHERE {CLOSED_BEFORE}"),
                [before.0],
            )?;
            tx.commit()?;
            Ok(n as u64)
        })?;
        if n > 0 {
            self.truncate_wal()?;
        }
        Ok(n)
    }

    /// Deletes request `id` (a registration whose recording failed).
    pub fn delete_subject_request(&self, id: i64) -> Result<(), Error> {
        self.with(|c| {
            c.execute("DELETE FROM subject_request WHERE id = ?1", [id])?;
            Ok(())
        })
    }
}
