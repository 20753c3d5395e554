//! Verification of the access record, stored or exported: the hash chain,
//! every checkpoint's and anchor's signature, that each checkpoint matches
//! the chain, and that no entry a checkpoint covers is missing.

use std::collections::HashMap;

use veil_store::db::{AuditRow, CheckpointRow};
use veil_store::Db;

use crate::chain::{self, Broken};
use crate::checkpoint::{self, fingerprint};
use crate::export;

/// What to check.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// First sequence number (default: the first after the latest anchor).
    pub from: Option<i64>,
    /// Last sequence number (default: the last entry).
    pub to: Option<i64>,
    /// The public key checkpoints must be signed with. Without it, a record
    /// that has checkpoints does not verify.
    pub trusted_key: Option<[u8; 32]>,
    /// Copies of checkpoints kept outside the database (an external sink
    /// file), checked against the chain like the stored ones.
    pub external: Vec<CheckpointRow>,
}

/// What was checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries whose hashes were recomputed.
    pub entries: u64,
    /// First and last sequence numbers checked.
    pub first_seq: i64,
    /// Last sequence number checked.
    pub last_seq: i64,
    /// Checkpoints (and anchors) whose signatures were checked.
    pub checkpoints: u64,
    /// The highest sequence number a signed checkpoint covers.
    pub signed_up_to: i64,
    /// Entries up to this sequence number were pruned behind a signed anchor.
    pub pruned_up_to: Option<i64>,
    /// Fingerprint of the key the signatures were checked against.
    pub key: Option<String>,
}

/// Why verification failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The chain or a checkpoint is broken; `seq` is the first bad sequence
    /// number.
    #[error(transparent)]
    Broken(Broken),
    /// The record has signed checkpoints but no key to check them against.
    #[error("no audit public key to check the signed checkpoints against (pass --public-key)")]
    NoKey,
    /// The record could not be read.
    #[error("cannot read the access record: {0}")]
    Read(String),
}

fn broken(seq: i64, reason: impl Into<String>) -> Broken {
    Broken {
        seq: seq.max(0) as u64,
        reason: reason.into(),
    }
}

/// Walks a chain page by page, remembering the stored hash at the sequence
/// numbers checkpoints name.
struct Walk {
    wanted: std::collections::HashSet<i64>,
    hashes: HashMap<i64, Vec<u8>>,
    next_seq: i64,
    prev: [u8; 32],
    entries: u64,
    error: Option<Broken>,
}

impl Walk {
    fn new(first_seq: i64, start_prev: [u8; 32], checkpoints: &[CheckpointRow]) -> Walk {
        Walk {
            wanted: checkpoints.iter().map(|c| c.seq).collect(),
            hashes: HashMap::new(),
            next_seq: first_seq,
            prev: start_prev,
            entries: 0,
            error: None,
        }
    }

    /// Checks the next rows; returns false once the chain is broken.
    fn page(&mut self, rows: &[AuditRow]) -> bool {
        let entries: Vec<chain::Entry> = rows.iter().map(crate::to_entry).collect();
        let checked = chain::verify(
            self.next_seq as u64,
            self.prev,
            entries
                .iter()
                .zip(rows)
                .map(|(e, r)| (e, r.prev_hash.as_slice(), r.hash.as_slice())),
        );
        match checked {
            Ok(last) => {
                for r in rows {
                    if self.wanted.contains(&r.seq) {
                        self.hashes.insert(r.seq, r.hash.clone());
                    }
                }
                self.entries += rows.len() as u64;
                self.next_seq += rows.len() as i64;
                self.prev = last;
                true
            }
            Err(b) => {
                self.error = Some(b);
                false
            }
        }
    }

    /// Checks every checkpoint against the chain walked and the key, and
    /// returns the first problem by sequence number.
    fn finish(
        self,
        checkpoints: &[CheckpointRow],
        key: Option<&[u8; 32]>,
        report: &mut VerifyReport,
    ) -> Result<(), VerifyError> {
        let last_seq = self.next_seq - 1;
        let mut problems: Vec<Broken> = self.error.clone().into_iter().collect();
        for c in checkpoints {
            let key = key.ok_or(VerifyError::NoKey)?;
            if let Err(e) = checkpoint::check_signature(c, key) {
                problems.push(broken(c.seq, e.to_string()));
                continue;
            }
            report.checkpoints += 1;
            match self.hashes.get(&c.seq) {
                Some(h) if *h == c.hash => report.signed_up_to = report.signed_up_to.max(c.seq),
                Some(_) => problems.push(broken(
                    c.seq,
                    "the entry does not match its signed checkpoint (the chain was rewritten)",
                )),
                None if self.error.is_none() && c.seq > last_seq => problems.push(broken(
                    last_seq + 1,
                    format!(
                        "entries from here on are missing: a signed checkpoint covers sequence {}",
                        c.seq
                    ),
                )),
                None => {} // behind an earlier break, which is reported
            }
        }
        report.entries = self.entries;
        report.last_seq = last_seq;
        match problems.into_iter().min_by_key(|b| b.seq) {
            Some(b) => Err(VerifyError::Broken(b)),
            None => Ok(()),
        }
    }
}

/// Verifies the stored record (see [`VerifyOptions`]).
pub fn verify_stored(db: &Db, opts: &VerifyOptions) -> Result<VerifyReport, VerifyError> {
    let read = |e: veil_store::Error| VerifyError::Read(e.to_string());
    let mut report = VerifyReport {
        key: opts.trusted_key.map(|k| fingerprint(&k)),
        ..Default::default()
    };
    let anchor = db.latest_audit_anchor().map_err(read)?;
    let floor = anchor.as_ref().map(|a| a.seq + 1).unwrap_or(1);
    if let Some(a) = &anchor {
        let key = opts.trusted_key.as_ref().ok_or(VerifyError::NoKey)?;
        checkpoint::check_signature(a, key)
            .map_err(|e| VerifyError::Broken(broken(a.seq, e.to_string())))?;
        report.checkpoints += 1;
        report.pruned_up_to = Some(a.seq);
    }
    let from = opts.from.unwrap_or(floor).max(floor);
    let to = opts.to.unwrap_or(i64::MAX);
    let start_prev: [u8; 32] =
        if from == floor {
            match &anchor {
                Some(a) => a.hash.as_slice().try_into().unwrap_or(chain::GENESIS),
                None => chain::GENESIS,
            }
        } else {
            let first = db.audit_range(from, from, 1).map_err(read)?;
            match first.first() {
                Some(r) => r.prev_hash.as_slice().try_into().map_err(|_| {
                    VerifyError::Broken(broken(from, "its previous-hash is missing"))
                })?,
                None => chain::GENESIS,
            }
        };
    let mut checkpoints: Vec<CheckpointRow> = db
        .audit_checkpoints(from, to)
        .map_err(read)?
        .into_iter()
        .filter(|c| c.kind == checkpoint::Kind::Checkpoint.as_str())
        .collect();
    checkpoints.extend(
        opts.external
            .iter()
            .filter(|c| c.kind == checkpoint::Kind::Checkpoint.as_str())
            .filter(|c| (from..=to).contains(&c.seq))
            .cloned(),
    );
    let mut walk = Walk::new(from, start_prev, &checkpoints);
    let mut next = from;
    const PAGE: i64 = 10_000;
    loop {
        let rows = db.audit_range(next, to, PAGE).map_err(read)?;
        if rows.is_empty() || !walk.page(&rows) {
            break;
        }
        next = rows.last().map(|r| r.seq + 1).unwrap_or(next);
        if (rows.len() as i64) < PAGE {
            break;
        }
    }
    report.first_seq = from;
    walk.finish(&checkpoints, opts.trusted_key.as_ref(), &mut report)?;
    Ok(report)
}

/// Verifies an export ([`export`]) with no database. `pinned`, when given,
/// is the only key accepted; otherwise the key named in the file is used
/// (compare its fingerprint with the one you know).
pub fn verify_export(text: &str, pinned: Option<[u8; 32]>) -> Result<VerifyReport, VerifyError> {
    let bad =
        |line: usize, why: String| VerifyError::Read(format!("line {line} of the export: {why}"));
    let parsed = export::parse(text).map_err(|(line, why)| bad(line, why))?;
    let named = parsed.public_key;
    if let Some(p) = pinned {
        if p != named {
            return Err(VerifyError::Broken(broken(
                parsed.first_seq,
                format!(
                    "the export is signed by key {}, not by the expected key {}",
                    fingerprint(&named),
                    fingerprint(&p)
                ),
            )));
        }
    }
    let key = pinned.unwrap_or(named);
    let mut report = VerifyReport {
        key: Some(fingerprint(&key)),
        first_seq: parsed.first_seq,
        ..Default::default()
    };
    let mut start_prev = parsed.start_prev_hash;
    if let Some(a) = &parsed.anchor {
        checkpoint::check_signature(a, &key)
            .map_err(|e| VerifyError::Broken(broken(a.seq, e.to_string())))?;
        if a.seq + 1 == parsed.first_seq {
            start_prev = a.hash.as_slice().try_into().unwrap_or(chain::GENESIS);
            report.pruned_up_to = Some(a.seq);
        }
        report.checkpoints += 1;
    } else if parsed.first_seq == 1 {
        start_prev = chain::GENESIS;
    }
    let mut walk = Walk::new(parsed.first_seq, start_prev, &parsed.checkpoints);
    walk.page(&parsed.entries);
    walk.finish(&parsed.checkpoints, Some(&key), &mut report)?;
    if report.last_seq > report.signed_up_to {
        return Err(VerifyError::Broken(broken(
            report.signed_up_to.max(report.first_seq - 1) + 1,
            "no signed checkpoint in the export covers the entries from here on",
        )));
    }
    Ok(report)
}
