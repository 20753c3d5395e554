//! Retention of the personal data sets other than recordings: what each holds
//! (count, oldest item, when its first item's retention starts counting) and
//! the deletion of the items whose retention is over (`docs/design/
//! retention.md`, "Other data sets"). The rules themselves (how many days)
//! are decided above the store; every statement here takes the cut-off time.
//!
//! Each data set has an "end" per item, the time its retention starts:
//! a session's end is its absolute expiry or its idle timeout, whichever
//! comes first; an approval's its decision when rejected or used, else its
//! expiry; an API token's its revocation, else its expiry; a disabled
//! account's its disabling; a motion event's its end. Portable SQL: `CASE`
//! rather than SQLite's two-argument `MIN`.

use crate::db::sql::{params, OptionalExtension, Transaction};
use veil_base::{CameraId, Time90k};

use super::Db;
use crate::Error;

/// What a data set holds now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DataSetStats {
    /// How many items.
    pub items: u64,
    /// When the oldest item was made.
    pub oldest: Option<Time90k>,
    /// The earliest end (see the module documentation) among the items: the
    /// next destruction is this plus the data set's retention.
    pub first_end: Option<Time90k>,
}

/// A session's end; `?1` is the idle timeout in 90 kHz units.
const SESSION_END: &str = "CASE WHEN expires_90k < last_seen_90k + ?1 \
     THEN expires_90k ELSE last_seen_90k + ?1 END";
/// An approval's end.
const APPROVAL_END: &str = "CASE WHEN state IN ('rejected', 'used') AND decided_90k IS NOT NULL \
     AND decided_90k < expires_90k THEN decided_90k ELSE expires_90k END";
/// An API token's end.
const TOKEN_END: &str = "CASE WHEN revoked = 1 AND revoked_90k IS NOT NULL \
     AND revoked_90k < expires_90k THEN revoked_90k ELSE expires_90k END";
/// Accounts awaiting anonymisation: disabled, still named.
const DISABLED_ACCOUNT: &str = "disabled = 1 AND name IS NOT NULL AND anonymised_90k IS NULL";

fn stats_row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<DataSetStats> {
    Ok(DataSetStats {
        items: r.get::<_, i64>(0)? as u64,
        oldest: r.get::<_, Option<i64>>(1)?.map(Time90k),
        first_end: r.get::<_, Option<i64>>(2)?.map(Time90k),
    })
}

impl Db {
    fn stats(&self, sql: &str, args: impl crate::db::sql::Params) -> Result<DataSetStats, Error> {
        self.with(|c| c.query_row(sql, args, stats_row))
    }

    fn count(&self, sql: &str, args: impl crate::db::sql::Params) -> Result<u64, Error> {
        self.with(|c| {
            c.query_row(sql, args, |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        })
    }

    fn change(&self, sql: &str, args: impl crate::db::sql::Params) -> Result<u64, Error> {
        self.with(|c| c.execute(sql, args).map(|n| n as u64))
    }

    // --- sessions ---

    /// Sessions: count, oldest login, first end (`idle_90k`: the idle
    /// timeout).
    pub fn session_stats(&self, idle_90k: i64) -> Result<DataSetStats, Error> {
        self.stats(
            &format!("SELECT COUNT(*), MIN(created_90k), MIN({SESSION_END}) FROM user_session"),
            [idle_90k],
        )
    }

    /// How many sessions ended at or before `before`.
    pub fn ended_session_count(&self, before: Time90k, idle_90k: i64) -> Result<u64, Error> {
        self.count(
            &format!("SELECT COUNT(*) FROM user_session WHERE {SESSION_END} <= ?2"),
            params![idle_90k, before.0],
        )
    }

    /// Deletes the sessions that ended at or before `before`; returns how
    /// many.
    pub fn delete_ended_sessions(&self, before: Time90k, idle_90k: i64) -> Result<u64, Error> {
        self.change(
            &format!("DELETE FROM user_session WHERE {SESSION_END} <= ?2"),
            params![idle_90k, before.0],
        )
    }

    // --- four-eyes approvals ---

    /// Four-eyes requests: count, oldest request, first end.
    pub fn approval_stats(&self) -> Result<DataSetStats, Error> {
        self.stats(
            &format!("SELECT COUNT(*), MIN(created_90k), MIN({APPROVAL_END}) FROM approval"),
            [],
        )
    }

    /// How many requests ended at or before `before`.
    pub fn ended_approval_count(&self, before: Time90k) -> Result<u64, Error> {
        self.count(
            &format!("SELECT COUNT(*) FROM approval WHERE {APPROVAL_END} <= ?1"),
            [before.0],
        )
    }

    /// Deletes the requests that ended at or before `before`.
    pub fn delete_ended_approvals(&self, before: Time90k) -> Result<u64, Error> {
        self.change(
            &format!("DELETE FROM approval WHERE {APPROVAL_END} <= ?1"),
            [before.0],
        )
    }

    // --- API tokens ---

    /// API tokens: count, oldest, first end (expiry or revocation).
    pub fn token_stats(&self) -> Result<DataSetStats, Error> {
        self.stats(
            &format!("SELECT COUNT(*), MIN(created_90k), MIN({TOKEN_END}) FROM api_token"),
            [],
        )
    }

    /// How many tokens expired or were revoked at or before `before`.
    pub fn ended_token_count(&self, before: Time90k) -> Result<u64, Error> {
        self.count(
            &format!("SELECT COUNT(*) FROM api_token WHERE {TOKEN_END} <= ?1"),
            [before.0],
        )
    }

    /// Deletes the tokens that expired or were revoked at or before `before`.
    pub fn delete_ended_tokens(&self, before: Time90k) -> Result<u64, Error> {
        self.change(
            &format!("DELETE FROM api_token WHERE {TOKEN_END} <= ?1"),
            [before.0],
        )
    }

    // --- disabled accounts ---

    /// Disabled accounts still named: count, oldest creation, first
    /// disabling.
    pub fn disabled_account_stats(&self) -> Result<DataSetStats, Error> {
        self.stats(
            &format!(
                "SELECT COUNT(*), MIN(created_90k), MIN(disabled_90k) FROM app_user
                 WHERE {DISABLED_ACCOUNT}"
            ),
            [],
        )
    }

    /// Starts the countdown of disabled accounts that have none (disabled
    /// before disabling times were kept): they count as disabled at `now`.
    pub fn start_disabled_countdowns(&self, now: Time90k) -> Result<u64, Error> {
        self.change(
            &format!(
                "UPDATE app_user SET disabled_90k = ?1 WHERE {DISABLED_ACCOUNT}
                 AND disabled_90k IS NULL"
            ),
            [now.0],
        )
    }

    /// The pseudonyms of the accounts disabled at or before `before` and not
    /// yet anonymised.
    pub fn disabled_accounts_due(&self, before: Time90k) -> Result<Vec<String>, Error> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT pseudonym FROM app_user WHERE {DISABLED_ACCOUNT}
                 AND disabled_90k <= ?1 ORDER BY id"
            ))?;
            let rows = st.query_map([before.0], |r| r.get(0))?;
            rows.collect()
        })
    }

    /// Anonymises the accounts `pseudonyms` that are still disabled since at
    /// or before `before` (one re-enabled meanwhile is left alone), through
    /// the erasure of [`Db::erase_user`] (name NULL, unusable password, no
    /// sessions), marking them anonymised at `now`: one transaction, then one
    /// write-ahead-log truncation. Returns how many were anonymised.
    pub fn anonymise_disabled_accounts(
        &self,
        pseudonyms: &[String],
        before: Time90k,
        unusable_hash: &str,
        now: Time90k,
    ) -> Result<u64, Error> {
        let n = self.with(|c| {
            let tx = c.transaction()?;
            let mut n = 0;
            for p in pseudonyms {
                let id: Option<i64> = tx
                    .query_row(
                        &format!(
                            "SELECT id FROM app_user WHERE pseudonym = ?1 AND {DISABLED_ACCOUNT}
                             AND disabled_90k <= ?2"
                        ),
                        params![p, before.0],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(id) = id {
                    anonymise(&tx, id, unusable_hash, now)?;
                    n += 1;
                }
            }
            tx.commit()?;
            Ok(n)
        })?;
        if n > 0 {
            self.truncate_wal()?;
        }
        Ok(n)
    }

    // --- bookmarks ---

    /// Bookmarks: count, oldest, first expiry (a bookmark's expiry is its
    /// destruction: its retention is counted from its creation).
    pub fn bookmark_stats(&self) -> Result<DataSetStats, Error> {
        self.stats(
            "SELECT COUNT(*), MIN(created_90k), MIN(expires_90k) FROM bookmark",
            [],
        )
    }

    // --- motion events ---

    /// Motion events per camera: count, oldest start, first end (open
    /// events have none yet).
    pub fn motion_event_stats(&self) -> Result<Vec<(CameraId, DataSetStats)>, Error> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT COUNT(*), MIN(start_90k), MIN(end_90k), camera_id FROM motion_event
                 GROUP BY camera_id ORDER BY camera_id",
            )?;
            let rows = st.query_map([], |r| Ok((CameraId(r.get(3)?), stats_row(r)?)))?;
            rows.collect()
        })
    }

    /// How many of `camera`'s motion events ended at or before `before`
    /// (those inside an active lock or hold stay with the video they describe).
    pub fn ended_motion_event_count(
        &self,
        camera: CameraId,
        before: Time90k,
    ) -> Result<u64, Error> {
        self.count(
            "SELECT COUNT(*) FROM motion_event WHERE camera_id = ?1 AND end_90k <= ?2
                   AND NOT EXISTS (
                       SELECT 1 FROM protection p
                       JOIN protection_camera pc ON pc.protection_id = p.id
                       WHERE pc.camera_id = motion_event.camera_id AND p.released_90k IS NULL
                         AND motion_event.start_90k < p.end_90k
                         AND p.start_90k < motion_event.end_90k)",
            params![camera.0, before.0],
        )
    }

    /// Deletes `camera`'s motion events that ended at or before `before`,
    /// except those inside an active lock or hold.
    pub fn delete_ended_motion_events(
        &self,
        camera: CameraId,
        before: Time90k,
    ) -> Result<u64, Error> {
        self.change(
            "DELETE FROM motion_event WHERE camera_id = ?1 AND end_90k <= ?2
                   AND NOT EXISTS (
                       SELECT 1 FROM protection p
                       JOIN protection_camera pc ON pc.protection_id = p.id
                       WHERE pc.camera_id = motion_event.camera_id AND p.released_90k IS NULL
                         AND motion_event.start_90k < p.end_90k
                         AND p.start_90k < motion_event.end_90k)",
            params![camera.0, before.0],
        )
    }

    // --- the access record and recordings (counted only: they are
    // destroyed by the access record's pruning and by `Store::apply_retention`) ---

    /// Access-record entries: count and oldest (no end: an entry's retention
    /// counts from its time).
    pub fn audit_stats(&self) -> Result<DataSetStats, Error> {
        self.stats("SELECT COUNT(*), MIN(time_90k), NULL FROM audit", [])
    }

    /// Segments per camera and rendition: count and oldest start (the next
    /// destruction is the oldest bucket's expiry, which the store computes).
    pub fn segment_stats(&self) -> Result<Vec<(CameraId, String, DataSetStats)>, Error> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT COUNT(*), MIN(start_90k), NULL, camera_id, rendition FROM segment
                 GROUP BY camera_id, rendition ORDER BY camera_id, rendition",
            )?;
            let rows = st.query_map([], |r| Ok((CameraId(r.get(3)?), r.get(4)?, stats_row(r)?)))?;
            rows.collect()
        })
    }
}

/// The erasure of one account (shared with [`Db::erase_user`]) plus the time
/// it was anonymised.
fn anonymise(
    tx: &Transaction<'_>,
    id: i64,
    unusable_hash: &str,
    now: Time90k,
) -> crate::db::sql::Result<()> {
    super::erase_account(tx, id, unusable_hash)?;
    tx.execute(
        "UPDATE app_user SET anonymised_90k = ?2 WHERE id = ?1",
        params![id, now.0],
    )?;
    Ok(())
}
