//! The breach register (D8), schema 20: candidates raised from the
//! system's own signals (`veil_audit::signals`), each raised once by its
//! key, dismissed with a reason or promoted; and breaches with their
//! assessment (checked JSON kept as text), the decisions to notify the
//! authority and the data subjects, and when each was notified.
//!
//! Evidence is stored as a JSON array of inclusive `[first, last]`
//! access-record sequence ranges. Portable SQL: `ON CONFLICT … DO NOTHING`
//! is SQLite's and PostgreSQL's alike.

use crate::db::sql::{params, OptionalExtension, Row};
use veil_base::{Time90k, UserId};

use super::Db;
use crate::Error;

/// Where a candidate stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CandidateStatus {
    /// Raised, not yet looked at.
    Open,
    /// Judged not to be a breach, with a reason.
    Dismissed,
    /// Made a breach.
    Promoted,
}

impl CandidateStatus {
    /// Every status.
    pub const ALL: [CandidateStatus; 3] = [
        CandidateStatus::Open,
        CandidateStatus::Dismissed,
        CandidateStatus::Promoted,
    ];

    /// The stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateStatus::Open => "open",
            CandidateStatus::Dismissed => "dismissed",
            CandidateStatus::Promoted => "promoted",
        }
    }

    /// The status named `s`.
    pub fn parse(s: &str) -> Option<CandidateStatus> {
        CandidateStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A candidate to store.
#[derive(Clone, Debug)]
pub struct NewCandidate<'a> {
    /// The signal's id.
    pub signal: &'a str,
    /// Raises it once.
    pub key: &'a str,
    /// One line, pseudonyms only.
    pub summary: &'a str,
    /// Inclusive access-record sequence ranges.
    pub evidence: &'a [(i64, i64)],
}

/// A stored candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CandidateRow {
    /// Its id.
    pub id: i64,
    /// The signal's id.
    pub signal: String,
    /// The key that raised it once.
    pub key: String,
    /// When it was raised (the detection time of a breach promoted from it).
    pub raised_90k: Time90k,
    /// One line.
    pub summary: String,
    /// Inclusive access-record sequence ranges.
    pub evidence: Vec<(i64, i64)>,
    /// Where it stands.
    pub status: CandidateStatus,
    /// Who dismissed or promoted it.
    pub decided_by: Option<UserId>,
    /// When.
    pub decided_90k: Option<Time90k>,
    /// Why it was dismissed.
    pub reason: Option<String>,
    /// The breach it became.
    pub breach_id: Option<i64>,
}

/// Which notification a decision is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BreachAbout {
    /// The supervisory authority (Art. 33).
    Authority,
    /// The data subjects (Art. 34).
    Subjects,
}

impl BreachAbout {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            BreachAbout::Authority => "authority",
            BreachAbout::Subjects => "subjects",
        }
    }

    /// The one named `s`.
    pub fn parse(s: &str) -> Option<BreachAbout> {
        [BreachAbout::Authority, BreachAbout::Subjects]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// A stored breach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreachRow {
    /// Its id.
    pub id: i64,
    /// When it was detected: the 72-hour clock starts here.
    pub detected_90k: Time90k,
    /// Who entered it.
    pub created_by: Option<UserId>,
    /// When it was entered.
    pub created_90k: Time90k,
    /// When it last changed.
    pub updated_90k: Time90k,
    /// The assessment, as JSON the web layer checks.
    pub assessment: String,
    /// Whether the authority is to be notified (`None`: not decided).
    pub notify_authority: Option<bool>,
    /// Why.
    pub authority_reason: Option<String>,
    /// When the authority was notified.
    pub authority_notified_90k: Option<Time90k>,
    /// Why the authority was notified after 72 hours (Art. 33(1)).
    pub authority_late_reason: Option<String>,
    /// Whether the data subjects are to be notified.
    pub notify_subjects: Option<bool>,
    /// Why.
    pub subjects_reason: Option<String>,
    /// When they were notified.
    pub subjects_notified_90k: Option<Time90k>,
}

fn evidence_json(e: &[(i64, i64)]) -> String {
    let parts: Vec<String> = e.iter().map(|(a, b)| format!("[{a},{b}]")).collect();
    format!("[{}]", parts.join(","))
}

fn parse_evidence(s: &str) -> Vec<(i64, i64)> {
    // Written only by `evidence_json`: `[[a,b],[c,d]]`.
    s.split(['[', ']'])
        .map(|p| p.trim_matches(','))
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (a, b) = p.split_once(',')?;
            Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
        })
        .collect()
}

const CANDIDATE_COLUMNS: &str = "id, signal, dedupe_key, raised_90k, summary, evidence, status, \
     decided_by, decided_90k, reason, breach_id";

fn candidate_row(r: &Row) -> crate::db::sql::Result<CandidateRow> {
    let status: String = r.get(6)?;
    Ok(CandidateRow {
        id: r.get(0)?,
        signal: r.get(1)?,
        key: r.get(2)?,
        raised_90k: Time90k(r.get(3)?),
        summary: r.get(4)?,
        evidence: parse_evidence(&r.get::<_, String>(5)?),
        status: CandidateStatus::parse(&status).unwrap_or(CandidateStatus::Open),
        decided_by: r.get::<_, Option<i64>>(7)?.map(UserId),
        decided_90k: r.get::<_, Option<i64>>(8)?.map(Time90k),
        reason: r.get(9)?,
        breach_id: r.get(10)?,
    })
}

const BREACH_COLUMNS: &str = "id, detected_90k, created_by, created_90k, updated_90k, assessment, \
     notify_authority, authority_reason, authority_notified_90k, authority_late_reason, \
     notify_subjects, subjects_reason, subjects_notified_90k";

fn breach_row(r: &Row) -> crate::db::sql::Result<BreachRow> {
    Ok(BreachRow {
        id: r.get(0)?,
        detected_90k: Time90k(r.get(1)?),
        created_by: r.get::<_, Option<i64>>(2)?.map(UserId),
        created_90k: Time90k(r.get(3)?),
        updated_90k: Time90k(r.get(4)?),
        assessment: r.get(5)?,
        notify_authority: r.get::<_, Option<i64>>(6)?.map(|v| v != 0),
        authority_reason: r.get(7)?,
        authority_notified_90k: r.get::<_, Option<i64>>(8)?.map(Time90k),
        authority_late_reason: r.get(9)?,
        notify_subjects: r.get::<_, Option<i64>>(10)?.map(|v| v != 0),
        subjects_reason: r.get(11)?,
        subjects_notified_90k: r.get::<_, Option<i64>>(12)?.map(Time90k),
    })
}

impl Db {
    /// Whether a candidate with this key was ever raised.
    pub fn breach_candidate_raised(&self, key: &str) -> Result<bool, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT 1 FROM breach_candidate WHERE dedupe_key = ?1",
                [key],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
        })
    }

    /// Stores a candidate raised at `now`; `None` when its key was raised
    /// before (nothing changes).
    pub fn insert_breach_candidate(
        &self,
        n: &NewCandidate,
        now: Time90k,
    ) -> Result<Option<i64>, Error> {
        self.with(|c| {
            // No row comes back when the key exists.
            c.query_row(
                "INSERT INTO breach_candidate (signal, dedupe_key, raised_90k, summary, evidence)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (dedupe_key) DO NOTHING
                 RETURNING id",
                params![n.signal, n.key, now.0, n.summary, evidence_json(n.evidence)],
                |r| r.get(0),
            )
            .optional()
        })
    }

    /// Candidates, newest first, optionally of one status.
    pub fn breach_candidates(
        &self,
        status: Option<CandidateStatus>,
    ) -> Result<Vec<CandidateRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {CANDIDATE_COLUMNS} FROM breach_candidate
                 WHERE CAST(?1 AS TEXT) IS NULL OR status = ?1
                 ORDER BY raised_90k DESC, id DESC"
            ))?;
            let rows = st.query_map([status.map(|s| s.as_str())], candidate_row)?;
            rows.collect()
        })
    }

    /// One candidate.
    pub fn breach_candidate(&self, id: i64) -> Result<Option<CandidateRow>, Error> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {CANDIDATE_COLUMNS} FROM breach_candidate WHERE id = ?1"),
                [id],
                candidate_row,
            )
            .optional()
        })
    }

    /// Dismisses an open candidate; false when it is not open (or absent).
    pub fn dismiss_breach_candidate(
        &self,
        id: i64,
        by: UserId,
        reason: &str,
        now: Time90k,
    ) -> Result<bool, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE breach_candidate SET status = 'dismissed', decided_by = ?2,
                 decided_90k = ?3, reason = ?4 WHERE id = ?1 AND status = 'open'",
                params![id, by.0, now.0, reason],
            )
            .map(|n| n == 1)
        })
    }

    /// Promotes an open candidate to a breach detected when the candidate
    /// was raised, in one transaction; the new breach's id, or `None` when
    /// the candidate is not open (or absent).
    pub fn promote_breach_candidate(
        &self,
        id: i64,
        by: UserId,
        assessment: &str,
        now: Time90k,
    ) -> Result<Option<i64>, Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            let raised: Option<i64> = tx
                .query_row(
                    "SELECT raised_90k FROM breach_candidate WHERE id = ?1 AND status = 'open'",
                    [id],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(raised) = raised else {
                return Ok(None);
            };
            let breach: i64 = tx.query_row(
                "INSERT INTO breach (detected_90k, created_by, created_90k, updated_90k, assessment)
                 VALUES (?1, ?2, ?3, ?3, ?4)
                 RETURNING id",
                params![raised, by.0, now.0, assessment],
                |r| r.get(0),
            )?;
            tx.execute(
                "UPDATE breach_candidate SET status = 'promoted', decided_by = ?2,
                 decided_90k = ?3, breach_id = ?4 WHERE id = ?1",
                params![id, by.0, now.0, breach],
            )?;
            tx.commit()?;
            Ok(Some(breach))
        })
    }

    /// Enters a breach by hand; its id.
    pub fn insert_breach(
        &self,
        detected: Time90k,
        by: UserId,
        assessment: &str,
        now: Time90k,
    ) -> Result<i64, Error> {
        self.with(|c| {
            c.query_row(
                "INSERT INTO breach (detected_90k, created_by, created_90k, updated_90k, assessment)
                 VALUES (?1, ?2, ?3, ?3, ?4)
                 RETURNING id",
                params![detected.0, by.0, now.0, assessment],
                |r| r.get(0),
            )
        })
    }

    /// Every breach, newest detection first.
    pub fn breaches(&self) -> Result<Vec<BreachRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {BREACH_COLUMNS} FROM breach ORDER BY detected_90k DESC, id DESC"
            ))?;
            let rows = st.query_map([], breach_row)?;
            rows.collect()
        })
    }

    /// One breach.
    pub fn breach(&self, id: i64) -> Result<Option<BreachRow>, Error> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {BREACH_COLUMNS} FROM breach WHERE id = ?1"),
                [id],
                breach_row,
            )
            .optional()
        })
    }

    /// Replaces a breach's detection time and assessment; false when absent.
    pub fn update_breach(
        &self,
        id: i64,
        detected: Time90k,
        assessment: &str,
        now: Time90k,
    ) -> Result<bool, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE breach SET detected_90k = ?2, assessment = ?3, updated_90k = ?4
                 WHERE id = ?1",
                params![id, detected.0, assessment, now.0],
            )
            .map(|n| n == 1)
        })
    }

    /// Records the decision to notify (or not) `about`; false when absent.
    pub fn set_breach_decision(
        &self,
        id: i64,
        about: BreachAbout,
        notify: bool,
        reason: &str,
        now: Time90k,
    ) -> Result<bool, Error> {
        let sql = match about {
            BreachAbout::Authority => {
                "UPDATE breach SET notify_authority = ?2, authority_reason = ?3, updated_90k = ?4
                 WHERE id = ?1"
            }
            BreachAbout::Subjects => {
                "UPDATE breach SET notify_subjects = ?2, subjects_reason = ?3, updated_90k = ?4
                 WHERE id = ?1"
            }
        };
        self.with(|c| {
            c.execute(sql, params![id, i64::from(notify), reason, now.0])
                .map(|n| n == 1)
        })
    }

    /// Records that `about` was notified at `at` (with the reasons for a
    /// late notification of the authority); false when absent.
    pub fn set_breach_notified(
        &self,
        id: i64,
        about: BreachAbout,
        at: Time90k,
        late_reason: Option<&str>,
        now: Time90k,
    ) -> Result<bool, Error> {
        self.with(|c| {
            let n = match about {
                BreachAbout::Authority => c.execute(
                    "UPDATE breach SET authority_notified_90k = ?2, authority_late_reason = ?3,
                     updated_90k = ?4 WHERE id = ?1",
                    params![id, at.0, late_reason, now.0],
                )?,
                BreachAbout::Subjects => c.execute(
                    "UPDATE breach SET subjects_notified_90k = ?2, updated_90k = ?3 WHERE id = ?1",
                    params![id, at.0, now.0],
                )?,
            };
            Ok(n == 1)
        })
    }

    /// The time of the first access-record entry after `seq`, if any (where
    /// the breach scan starts reading).
    pub fn audit_time_after(&self, seq: i64) -> Result<Option<(i64, Time90k)>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT seq, time_90k FROM audit WHERE seq > ?1 ORDER BY seq LIMIT 1",
                [seq],
                |r| Ok((r.get(0)?, Time90k(r.get(1)?))),
            )
            .optional()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_candidate_is_raised_once_and_promoted_once() {
        let db = Db::open_for_tests().unwrap();
        let u = db
            .insert_user("u-1", "dpo", "hash", "", Time90k(0))
            .unwrap();
        let n = NewCandidate {
            signal: "held_video",
            key: "held_video:u-1:7",
            summary: "s",
            evidence: &[(7, 9), (12, 12)],
        };
        let id = db
            .insert_breach_candidate(&n, Time90k(100))
            .unwrap()
            .unwrap();
        assert_eq!(db.insert_breach_candidate(&n, Time90k(200)).unwrap(), None);
        assert!(db.breach_candidate_raised("held_video:u-1:7").unwrap());
        let c = db.breach_candidate(id).unwrap().unwrap();
        assert_eq!(c.evidence, vec![(7, 9), (12, 12)]);
        assert_eq!(c.raised_90k, Time90k(100));
        assert_eq!(
            db.breach_candidates(Some(CandidateStatus::Open))
                .unwrap()
                .len(),
            1
        );
        let b = db
            .promote_breach_candidate(id, u, "{}", Time90k(500))
            .unwrap()
            .unwrap();
        assert_eq!(
            db.promote_breach_candidate(id, u, "{}", Time90k(600))
                .unwrap(),
            None
        );
        assert!(!db
            .dismiss_breach_candidate(id, u, "r", Time90k(600))
            .unwrap());
        let row = db.breach(b).unwrap().unwrap();
        assert_eq!(row.detected_90k, Time90k(100), "detected when raised");
        assert!(db
            .breach_candidates(Some(CandidateStatus::Open))
            .unwrap()
            .is_empty());
        assert!(db
            .set_breach_decision(b, BreachAbout::Authority, true, "risk", Time90k(700))
            .unwrap());
        assert!(db
            .set_breach_notified(
                b,
                BreachAbout::Authority,
                Time90k(800),
                Some("late"),
                Time90k(800)
            )
            .unwrap());
        let row = db.breach(b).unwrap().unwrap();
        assert_eq!(row.notify_authority, Some(true));
        assert_eq!(row.authority_notified_90k, Some(Time90k(800)));
        assert_eq!(row.authority_late_reason.as_deref(), Some("late"));
        assert_eq!(row.notify_subjects, None);
    }
}
