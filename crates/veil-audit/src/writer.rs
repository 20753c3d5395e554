//! The one thread that writes the access record: group commit of appends,
//! signed checkpoints (every N entries, every T, on request, at shutdown) and
//! pruning behind signed anchors, in one order. Before each checkpoint it
//! writes the recording chains' heads that changed since its last such
//! entry (`recording.chain`), so the checkpoint signs them; with a signing
//! key it wakes every T to do so even when nothing else was appended.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::time::Instant;

use veil_base::{SharedClock, Time90k};
use veil_store::db::{AuditRow, CheckpointRow};
use veil_store::Db;

use crate::checkpoint::Kind;
use crate::{chain, Checkpointing, Error};

/// Most entries committed in one transaction.
const MAX_BATCH: usize = 4096;

/// One append waiting for the writer.
pub(crate) struct Job {
    pub(crate) row: AuditRow,
    pub(crate) reply: SyncSender<Result<i64, Error>>,
}

/// What the writer is asked to do. Nearly every message is an append, so the
/// enum is sized for it rather than boxing each append.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Msg {
    Append(Job),
    Checkpoint(SyncSender<Result<Option<CheckpointRow>, Error>>),
    Prune(Time90k, SyncSender<Result<usize, Error>>),
    /// Answers with the outcome of the last batch.
    Health(SyncSender<Result<(), Error>>),
    Shutdown(SyncSender<()>),
}

/// Starts the writer thread; it ends when every sender is gone or on
/// [`Msg::Shutdown`], signing a last checkpoint either way.
pub(crate) fn spawn(db: Db, clock: SharedClock, signing: Option<Checkpointing>) -> Sender<Msg> {
    let (tx, rx) = std::sync::mpsc::channel();
    let last_signed = db
        .latest_audit_checkpoint()
        .ok()
        .flatten()
        .map(|c| c.seq)
        .unwrap_or(0);
    let tail = db.audit_tail().ok().flatten().map(|t| t.0).unwrap_or(0);
    let w = Writer {
        db,
        clock,
        signing,
        last_signed,
        tail,
        last_signed_at: Instant::now(),
        last_failure: None,
        anchored: HashMap::new(),
    };
    std::thread::Builder::new()
        .name("access-record".into())
        .spawn(move || w.run(rx))
        .expect("cannot start the access-record writer thread");
    tx
}

struct Writer {
    db: Db,
    clock: SharedClock,
    signing: Option<Checkpointing>,
    /// Sequence number of the latest checkpoint.
    last_signed: i64,
    /// Sequence number of the last entry.
    tail: i64,
    last_signed_at: Instant,
    /// Why the last batch failed; `None` once one commits.
    last_failure: Option<String>,
    /// The recording chains' heads this writer last wrote into the record
    /// (empty at start: its first checkpoint writes every head).
    anchored: HashMap<(i64, String), (i64, [u8; 32])>,
}

impl Writer {
    fn run(mut self, rx: Receiver<Msg>) {
        let mut held: Option<Msg> = None;
        loop {
            let msg = match held.take() {
                Some(m) => m,
                None => match self.next(&rx) {
                    Ok(m) => m,
                    Err(RecvTimeoutError::Timeout) => {
                        self.checkpoint_logged();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                },
            };
            match msg {
                Msg::Append(first) => held = self.append_batch(first, &rx),
                Msg::Checkpoint(reply) => {
                    let _ = reply.send(self.checkpoint());
                }
                Msg::Prune(before, reply) => {
                    let _ = reply.send(self.prune(before));
                }
                Msg::Health(reply) => {
                    let _ = reply.send(match &self.last_failure {
                        None => Ok(()),
                        Some(e) => Err(Error::Unavailable(format!("the last append failed: {e}"))),
                    });
                }
                Msg::Shutdown(reply) => {
                    self.checkpoint_logged();
                    let _ = reply.send(());
                    return;
                }
            }
        }
        self.checkpoint_logged();
    }

    /// The next message; times out when a timed checkpoint is due.
    fn next(&self, rx: &Receiver<Msg>) -> Result<Msg, RecvTimeoutError> {
        // With a key, a timed checkpoint also anchors the recording chains'
        // heads when nothing else was appended.
        match &self.signing {
            Some(s) => {
                let wait = s.every.saturating_sub(self.last_signed_at.elapsed());
                rx.recv_timeout(wait)
            }
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        }
    }

    /// Commits `first` and whatever appends are waiting; returns a non-append
    /// message it had to take off the queue.
    fn append_batch(&mut self, first: Job, rx: &Receiver<Msg>) -> Option<Msg> {
        let mut batch = vec![first];
        let mut held = None;
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Msg::Append(j)) => batch.push(j),
                Ok(other) => {
                    held = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        let rows: Vec<AuditRow> = batch.iter().map(|j| j.row.clone()).collect();
        let result = self.commit(rows);
        match result {
            Ok(seqs) => {
                self.last_failure = None;
                self.tail = seqs.last().copied().unwrap_or(self.tail);
                for (j, s) in batch.into_iter().zip(seqs) {
                    let _ = j.reply.send(Ok(s));
                }
                let due = self
                    .signing
                    .as_ref()
                    .is_some_and(|s| (self.tail - self.last_signed) as u64 >= s.every_entries);
                if due {
                    self.checkpoint_logged();
                }
            }
            Err(e) => {
                self.last_failure = Some(e.to_string());
                for j in batch {
                    let _ = j.reply.send(Err(Error::Unavailable(e.to_string())));
                }
            }
        }
        held
    }

    /// Chains `rows` after the tail and commits them in one transaction;
    /// returns their sequence numbers.
    fn commit(&self, mut rows: Vec<AuditRow>) -> Result<Vec<i64>, veil_store::Error> {
        self.db.append_audit_batch(|tail| {
            let (mut seq, mut prev) = match tail {
                Some((s, h)) => (
                    s,
                    crate::chain_tail_hash(s, &h)
                        .map_err(|e| veil_store::Error::Corrupt(e.to_string()))?,
                ),
                None => (0, chain::GENESIS),
            };
            for r in rows.iter_mut() {
                seq += 1;
                r.seq = seq;
                r.prev_hash = prev.to_vec();
                prev = chain::link(&prev, &crate::to_entry(r));
                r.hash = prev.to_vec();
            }
            Ok(rows)
        })
    }

    /// Appends a `recording.chain` entry with the recording chains' heads
    /// that changed since this writer's last one, if any did. A failure
    /// fails the checkpoint (nothing is signed without them).
    fn record_chain_heads(&mut self) -> Result<(), Error> {
        let unavailable = |e: veil_store::Error| Error::Unavailable(e.to_string());
        let heads = self.db.chain_heads().map_err(unavailable)?;
        let changed: Vec<_> = heads
            .into_iter()
            .filter(|h| {
                self.anchored.get(&(h.camera.0, h.rendition.clone())) != Some(&(h.seq, h.hash))
            })
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        let detail = crate::recording::format_chain_heads(
            changed
                .iter()
                .map(|h| (h.camera, h.rendition.as_str(), h.seq, h.hash)),
        );
        let row = AuditRow {
            seq: 0,
            time_90k: self.clock.now(),
            actor: "system".into(),
            action: crate::Action::RecordingChain.as_str().into(),
            resource: "recordings".into(),
            outcome: crate::Outcome::Ok.as_str().into(),
            detail,
            client: String::new(),
            justification: String::new(),
            prev_hash: Vec::new(),
            hash: Vec::new(),
        };
        let seqs = self.commit(vec![row]).map_err(|e| {
            self.last_failure = Some(e.to_string());
            unavailable(e)
        })?;
        self.last_failure = None;
        self.tail = seqs.last().copied().unwrap_or(self.tail);
        for h in changed {
            self.anchored
                .insert((h.camera.0, h.rendition), (h.seq, h.hash));
        }
        Ok(())
    }

    fn checkpoint_logged(&mut self) {
        if self.signing.is_none() {
            return;
        }
        if let Err(e) = self.checkpoint() {
            tracing::error!(error = %e, "could not sign an access-record checkpoint");
        }
    }

    /// Signs the current tail unless the latest checkpoint covers it.
    fn checkpoint(&mut self) -> Result<Option<CheckpointRow>, Error> {
        let unavailable = |e: veil_store::Error| Error::Unavailable(e.to_string());
        let Some(s) = self.signing.clone() else {
            return Err(Error::Unavailable(
                "no audit key is configured, so no checkpoint can be signed".into(),
            ));
        };
        self.last_signed_at = Instant::now();
        // The changed heads first, so that the checkpoint signs them.
        self.record_chain_heads()?;
        let latest = self.db.latest_audit_checkpoint().map_err(unavailable)?;
        let Some((seq, hash)) = self.db.audit_tail().map_err(unavailable)? else {
            return Ok(None);
        };
        self.tail = seq;
        if let Some(c) = latest.filter(|c| c.seq >= seq) {
            self.last_signed = c.seq;
            return Ok(Some(c));
        }
        let hash: [u8; 32] = hash
            .try_into()
            .map_err(|_| Error::Unavailable("the last entry has no hash".into()))?;
        let c = s
            .key
            .sign(Kind::Checkpoint, seq as u64, self.clock.now(), &hash);
        self.db.insert_audit_checkpoint(&c).map_err(unavailable)?;
        self.last_signed = seq;
        copy_to_sink(&s, &c);
        tracing::debug!(seq, "signed an access-record checkpoint");
        Ok(Some(c))
    }

    /// Prunes entries written before `before` behind a signed anchor.
    fn prune(&mut self, before: Time90k) -> Result<usize, Error> {
        let unavailable = |e: veil_store::Error| Error::Unavailable(e.to_string());
        let Some(s) = &self.signing else {
            return Err(Error::Unavailable(
                "no audit key is configured, so no anchor can be signed".into(),
            ));
        };
        let Some((seq, hash)) = self
            .db
            .last_audit_entry_before(before)
            .map_err(unavailable)?
        else {
            return Ok(0);
        };
        let hash: [u8; 32] = hash
            .try_into()
            .map_err(|_| Error::Unavailable("the entry has no hash".into()))?;
        let anchor = s
            .key
            .sign(Kind::Anchor, seq as u64, self.clock.now(), &hash);
        let n = self.db.prune_audit(&anchor).map_err(unavailable)?;
        copy_to_sink(s, &anchor);
        tracing::info!(
            entries = n,
            up_to = seq,
            "pruned the access record behind a signed anchor"
        );
        Ok(n)
    }
}

fn copy_to_sink(s: &Checkpointing, c: &CheckpointRow) {
    if let Some(sink) = &s.sink {
        if let Err(e) = sink.write(c) {
            tracing::error!(error = %e, seq = c.seq, "could not copy a checkpoint to the external sink");
        }
    }
}
