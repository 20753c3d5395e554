//! The access record: appending, chaining, signed checkpoints and anchors,
//! pruning, and reading it back (filters, periods, account names).

use crate::db::sql::{params, Connection, OptionalExtension};
use veil_base::Time90k;

use super::Db;
use crate::Error;

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

/// A signed statement about the access record: "the entry with this sequence
/// number has this hash" (`kind = "checkpoint"`), or "every entry up to and
/// including this one was pruned; the chain goes on from this hash"
/// (`kind = "anchor"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointRow {
    /// `checkpoint` or `anchor`.
    pub kind: String,
    /// The sequence number it covers.
    pub seq: i64,
    /// When it was signed.
    pub time_90k: Time90k,
    /// The chain hash at `seq`.
    pub hash: Vec<u8>,
    /// The Ed25519 public key that signed it.
    pub public_key: Vec<u8>,
    /// The Ed25519 signature.
    pub signature: Vec<u8>,
}

const CHECKPOINT_COLUMNS: &str = "kind, seq, time_90k, hash, public_key, signature";

fn checkpoint_row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<CheckpointRow> {
    Ok(CheckpointRow {
        kind: r.get(0)?,
        seq: r.get(1)?,
        time_90k: Time90k(r.get(2)?),
        hash: r.get(3)?,
        public_key: r.get(4)?,
        signature: r.get(5)?,
    })
}

fn insert_checkpoint(c: &Connection, k: &CheckpointRow) -> crate::db::sql::Result<()> {
    c.execute(
        &format!(
            "INSERT INTO audit_checkpoint ({CHECKPOINT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (kind, seq) DO NOTHING"
        ),
        params![
            k.kind,
            k.seq,
            k.time_90k.0,
            k.hash,
            k.public_key,
            k.signature
        ],
    )
    .map(|_| ())
}

fn latest_anchor(c: &Connection) -> crate::db::sql::Result<Option<CheckpointRow>> {
    c.query_row(
        &format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoint WHERE kind = 'anchor'
             ORDER BY seq DESC LIMIT 1"
        ),
        [],
        checkpoint_row,
    )
    .optional()
}

const AUDIT_COLUMNS: &str = "seq, time_90k, actor, action, resource, outcome, detail, client, \
     justification, prev_hash, hash";

pub(super) fn audit_row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<AuditRow> {
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
        // NULL before the chain existed (read as empty).
        prev_hash: r.get::<_, Option<Vec<u8>>>(9)?.unwrap_or_default(),
        hash: r.get::<_, Option<Vec<u8>>>(10)?.unwrap_or_default(),
    })
}

fn audit_tail(c: &Connection) -> crate::db::sql::Result<AuditTail> {
    let last = c
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<Vec<u8>>>(1)?)),
        )
        .optional()?
        .map(|(s, h)| (s, h.unwrap_or_default()));
    match last {
        Some(t) => Ok(Some(t)),
        None => Ok(latest_anchor(c)?.map(|a| (a.seq, a.hash))),
    }
}

/// Which access-record entries to read ([`Db::audit_query`]). Every field that
/// is `Some` must match; `None` matches anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Exact actor (a pseudonym, `anonymous` or `cli`).
    pub actor: Option<String>,
    /// Exact resource, e.g. `camera:1`.
    pub resource: Option<String>,
    /// Exact action id, e.g. `playback`.
    pub action: Option<String>,
    /// Exact outcome, e.g. `denied`.
    pub outcome: Option<String>,
    /// Entries at or after this time.
    pub from: Option<Time90k>,
    /// Entries strictly before this time.
    pub to: Option<Time90k>,
    /// Entries with a sequence number below this one (paging cursor).
    pub before_seq: Option<i64>,
}

/// An account as the access record's readers see it: the pseudonym and the
/// current name (`None` once erased).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserName {
    /// Stable random id used in the access record.
    pub pseudonym: String,
    /// Current login name, if not erased.
    pub name: Option<String>,
}

/// The advisory lock (PostgreSQL) that orders the access record's appends
/// and pruning across nodes ("veil" "aud" in ASCII).
const AUDIT_LOCK: i64 = 0x7665_696c_0061_7564;

impl Db {
    /// Appends a batch of entries in one durable transaction (group commit: one
    /// fsync for the whole batch). `build` receives the chain's tail and returns
    /// the rows to insert, with `seq`, `prev_hash` and `hash` filled in.
    pub fn append_audit_batch(
        &self,
        build: impl FnOnce(AuditTail) -> Result<Vec<AuditRow>, Error>,
    ) -> Result<Vec<i64>, Error> {
        self.with(|c| {
            // Immediate: another process (a CLI export) may append too. On
            // PostgreSQL every node appends: the advisory lock makes appends
            // one at a time, so each reads the tail the previous one wrote and
            // the installation keeps one chain.
            let tx = c.transaction_with_behavior(crate::db::sql::TransactionBehavior::Immediate)?;
            tx.lock(AUDIT_LOCK)?;
            let tail = audit_tail(&tx)?;
            let rows = match build(tail) {
                Ok(rows) => rows,
                Err(e) => return Ok(Err(e)),
            };
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
            Ok(Ok(seqs))
        })?
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
                rows.collect::<crate::db::sql::Result<_>>()?
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

    /// The chain's tail: the last entry, or the latest anchor when every entry
    /// has been pruned.
    pub fn audit_tail(&self) -> Result<AuditTail, Error> {
        self.with(|c| audit_tail(c))
    }

    /// Stores a signed checkpoint.
    pub fn insert_audit_checkpoint(&self, k: &CheckpointRow) -> Result<(), Error> {
        self.with(|c| insert_checkpoint(c, k))
    }

    /// Checkpoints and anchors with `from <= seq <= to`, by sequence number.
    pub fn audit_checkpoints(&self, from: i64, to: i64) -> Result<Vec<CheckpointRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoint WHERE seq >= ?1 AND seq <= ?2
                 ORDER BY seq, kind"
            ))?;
            let rows = st.query_map(params![from, to], checkpoint_row)?;
            rows.collect()
        })
    }

    /// The latest checkpoint (not anchor), if any.
    pub fn latest_audit_checkpoint(&self) -> Result<Option<CheckpointRow>, Error> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoint WHERE kind = 'checkpoint'
                     ORDER BY seq DESC LIMIT 1"
                ),
                [],
                checkpoint_row,
            )
            .optional()
        })
    }

    /// The latest pruning anchor, if any: the chain starts after it.
    pub fn latest_audit_anchor(&self) -> Result<Option<CheckpointRow>, Error> {
        self.with(|c| latest_anchor(c))
    }

    /// The last entry written strictly before `time`, as `(seq, hash)`.
    pub fn last_audit_entry_before(&self, time: Time90k) -> Result<AuditTail, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT seq, hash FROM audit WHERE time_90k < ?1 ORDER BY seq DESC LIMIT 1",
                [time.0],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get::<_, Option<Vec<u8>>>(1)?.unwrap_or_default(),
                    ))
                },
            )
            .optional()
        })
    }

    /// The first entry written at or after `time`, by sequence number.
    pub fn first_audit_seq_at_or_after(&self, time: Time90k) -> Result<Option<i64>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT MIN(seq) FROM audit WHERE time_90k >= ?1",
                [time.0],
                |r| r.get(0),
            )
        })
    }

    /// Prunes behind `anchor` in one transaction: stores the anchor, then
    /// deletes every entry and checkpoint up to its sequence number (the
    /// triggers allow deletion only behind an anchor). Returns the number of
    /// entries deleted.
    pub fn prune_audit(&self, anchor: &CheckpointRow) -> Result<usize, Error> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(crate::db::sql::TransactionBehavior::Immediate)?;
            tx.lock(AUDIT_LOCK)?;
            insert_checkpoint(&tx, anchor)?;
            let n = tx.execute("DELETE FROM audit WHERE seq <= ?1", [anchor.seq])?;
            tx.execute(
                "DELETE FROM audit_checkpoint WHERE kind = 'checkpoint' AND seq <= ?1",
                [anchor.seq],
            )?;
            tx.commit()?;
            Ok(n)
        })
    }

    // --- reading the access record ---

    /// Entries matching `f`, newest first, at most `limit`.
    pub fn audit_query(&self, f: &AuditFilter, limit: i64) -> Result<Vec<AuditRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit
                 WHERE seq < ?1
                   AND (CAST(?2 AS TEXT) IS NULL OR actor = ?2)
                   AND (CAST(?3 AS TEXT) IS NULL OR resource = ?3)
                   AND (CAST(?4 AS TEXT) IS NULL OR action = ?4)
                   AND (CAST(?5 AS TEXT) IS NULL OR outcome = ?5)
                   AND time_90k >= ?6 AND time_90k < ?7
                 ORDER BY seq DESC LIMIT ?8"
            ))?;
            let rows = st.query_map(
                params![
                    f.before_seq.unwrap_or(i64::MAX),
                    f.actor,
                    f.resource,
                    f.action,
                    f.outcome,
                    f.from.map_or(i64::MIN, |t| t.0),
                    f.to.map_or(i64::MAX, |t| t.0),
                    limit
                ],
                audit_row,
            )?;
            rows.collect()
        })
    }

    /// Entries with `from <= time < to` and `seq > after_seq`, oldest first, at
    /// most `limit`: page through a period by passing the last `seq` seen.
    pub fn audit_in_period(
        &self,
        from: Time90k,
        to: Time90k,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit
                 WHERE seq > ?1 AND time_90k >= ?2 AND time_90k < ?3
                 ORDER BY seq LIMIT ?4"
            ))?;
            let rows = st.query_map(params![after_seq, from.0, to.0, limit], audit_row)?;
            rows.collect()
        })
    }

    /// Every account's pseudonym and current name.
    pub fn user_names(&self) -> Result<Vec<UserName>, Error> {
        self.with(|c| {
            let mut st = c.prepare("SELECT pseudonym, name FROM app_user ORDER BY id")?;
            let rows = st.query_map([], |r| {
                Ok(UserName {
                    pseudonym: r.get(0)?,
                    name: r.get(1)?,
                })
            })?;
            rows.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let db = Db::open_for_tests().unwrap();
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
}
