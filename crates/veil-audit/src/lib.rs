//! The access record: who did what to which resource, appended durably *before*
//! the action takes effect; if the append fails, the action is refused.
//!
//! [`AccessRecord::append`] is the one function every caller uses. Entries form
//! a hash chain ([`chain`]) that [`verify_stored`] checks; group commit keeps
//! concurrent appends durable and fast. Actors are pseudonymous ids, never names.

pub mod chain;

use std::net::IpAddr;

use veil_base::SharedClock;
use veil_store::db::AuditRow;
use veil_store::Db;

/// Why an append failed. Callers must refuse the action.
#[derive(Debug, thiserror::Error)]
#[error("the access record could not be written: {0}")]
pub struct Error(String);

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// A login attempt.
    Login,
    /// A logout.
    Logout,
    /// A live view started.
    LiveView,
    /// Recorded video was requested.
    Playback,
    /// A camera was added.
    CameraCreate,
    /// A camera's settings or credentials were changed.
    CameraUpdate,
    /// A camera was deleted.
    CameraDelete,
}

impl Action {
    /// Stable id stored in the record.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::Logout => "logout",
            Action::LiveView => "live_view",
            Action::Playback => "playback",
            Action::CameraCreate => "camera.create",
            Action::CameraUpdate => "camera.update",
            Action::CameraDelete => "camera.delete",
        }
    }
}

/// How it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Allowed and carried out.
    Ok,
    /// Refused by policy or by bad credentials.
    Denied,
}

/// One entry to append.
#[derive(Clone, Debug)]
pub struct Event {
    /// Pseudonymous actor id (`anonymous` when unknown, e.g. a failed login for
    /// a name that does not exist; the name itself is never recorded).
    pub actor: String,
    /// What.
    pub action: Action,
    /// On what, e.g. `camera:1`.
    pub resource: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Extra facts without personal data (e.g. the requested interval).
    pub detail: String,
    /// The client's address; kept only as configured.
    pub client: Option<IpAddr>,
}

/// How much of a client address the record keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientAddressPolicy {
    /// The whole address.
    #[default]
    Full,
    /// IPv4 /24 or IPv6 /48.
    Truncated,
    /// Nothing.
    None,
}

impl ClientAddressPolicy {
    fn render(self, a: Option<IpAddr>) -> String {
        match (self, a) {
            (_, None) | (ClientAddressPolicy::None, _) => String::new(),
            (ClientAddressPolicy::Full, Some(a)) => a.to_string(),
            (ClientAddressPolicy::Truncated, Some(IpAddr::V4(v))) => {
                let o = v.octets();
                format!("{}.{}.{}.0/24", o[0], o[1], o[2])
            }
            (ClientAddressPolicy::Truncated, Some(IpAddr::V6(v))) => {
                let s = v.segments();
                format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
            }
        }
    }
}

/// One append waiting for the writer.
struct Job {
    row: AuditRow,
    reply: std::sync::mpsc::SyncSender<Result<i64, Error>>,
}

/// The append-only access record, a hash chain.
///
/// Appends go to one writer thread that commits whatever is waiting in one
/// transaction (group commit): concurrent callers share one fsync, and each
/// caller returns only once its entry is durable.
#[derive(Clone)]
pub struct AccessRecord {
    clock: SharedClock,
    client_policy: ClientAddressPolicy,
    jobs: std::sync::mpsc::Sender<Job>,
    #[cfg(any(test, feature = "fault-injection"))]
    fail: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Most entries committed in one transaction.
const MAX_BATCH: usize = 4096;

fn to_entry(r: &AuditRow) -> chain::Entry {
    chain::Entry {
        seq: r.seq as u64,
        time_90k: r.time_90k.0,
        actor: r.actor.clone(),
        action: r.action.clone(),
        resource: r.resource.clone(),
        outcome: r.outcome.clone(),
        justification: r.justification.clone(),
        detail: r.detail.clone(),
        client: r.client.clone(),
    }
}

fn writer(db: Db, jobs: std::sync::mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let mut rows: Vec<AuditRow> = batch.iter().map(|j| j.row.clone()).collect();
        let result = db.append_audit_batch(|tail| {
            let (mut seq, mut prev) = match tail {
                Some((s, h)) => (s, h.try_into().unwrap_or(chain::GENESIS)),
                None => (0, chain::GENESIS),
            };
            for r in rows.iter_mut() {
                seq += 1;
                r.seq = seq;
                r.prev_hash = prev.to_vec();
                prev = chain::link(&prev, &to_entry(r));
                r.hash = prev.to_vec();
            }
            rows
        });
        match result {
            Ok(seqs) => {
                for (j, s) in batch.into_iter().zip(seqs) {
                    let _ = j.reply.send(Ok(s));
                }
            }
            Err(e) => {
                for j in batch {
                    let _ = j.reply.send(Err(Error(e.to_string())));
                }
            }
        }
    }
}

impl AccessRecord {
    /// A record stored in `db`. Entries written before the chain existed are
    /// chained first.
    pub fn new(db: Db, clock: SharedClock, client_policy: ClientAddressPolicy) -> AccessRecord {
        let chained = db.chain_unchained_audit(|prev, r| {
            let prev: [u8; 32] = prev.try_into().unwrap_or(chain::GENESIS);
            chain::link(&prev, &to_entry(r)).to_vec()
        });
        match chained {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                entries = n,
                "chained entries written before the chain existed"
            ),
            Err(e) => tracing::error!(error = %e, "could not chain older entries"),
        }
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("access-record".into())
            .spawn(move || writer(db, rx))
            .expect("cannot start the access-record writer thread");
        AccessRecord {
            clock,
            client_policy,
            jobs: tx,
            #[cfg(any(test, feature = "fault-injection"))]
            fail: Default::default(),
        }
    }

    /// Makes every later append fail (tests of the fail-closed rule).
    #[cfg(any(test, feature = "fault-injection"))]
    pub fn inject_failure(&self, on: bool) {
        self.fail.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Appends `e` and returns its sequence number once it is durable. Blocks;
    /// async callers use a blocking thread.
    pub fn append(&self, e: Event) -> Result<i64, Error> {
        #[cfg(any(test, feature = "fault-injection"))]
        if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error("injected failure".into()));
        }
        let row = AuditRow {
            seq: 0,
            time_90k: self.clock.now(),
            actor: e.actor,
            action: e.action.as_str().to_owned(),
            resource: e.resource,
            outcome: match e.outcome {
                Outcome::Ok => "ok",
                Outcome::Denied => "denied",
            }
            .to_owned(),
            detail: e.detail,
            client: self.client_policy.render(e.client),
            justification: String::new(),
            prev_hash: Vec::new(),
            hash: Vec::new(),
        };
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        self.jobs
            .send(Job { row, reply })
            .map_err(|_| Error("the writer has stopped".into()))?;
        answer
            .recv()
            .map_err(|_| Error("the writer has stopped".into()))?
    }
}

/// Verifies the stored chain for `from <= seq <= to` (1 and the last entry by
/// default). Verification starts from the stored previous-hash of `from`
/// (genesis for 1). Returns the number of entries checked.
pub fn verify_stored(db: &Db, from: Option<i64>, to: Option<i64>) -> Result<u64, VerifyError> {
    let from = from.unwrap_or(1).max(1);
    let to = to.unwrap_or(i64::MAX);
    let mut checked = 0u64;
    let mut next = from;
    let mut prev: Option<[u8; 32]> = None;
    loop {
        let rows = db
            .audit_range(next, to, 10_000)
            .map_err(|e| VerifyError::Read(e.to_string()))?;
        let Some(first) = rows.first() else { break };
        let start_prev = match prev {
            Some(p) => p,
            None if from == 1 => chain::GENESIS,
            None => first.prev_hash.as_slice().try_into().map_err(|_| {
                VerifyError::Broken(chain::Broken {
                    seq: first.seq as u64,
                    reason: "its previous-hash is missing".into(),
                })
            })?,
        };
        let entries: Vec<chain::Entry> = rows.iter().map(to_entry).collect();
        let last = chain::verify(
            next as u64,
            start_prev,
            entries
                .iter()
                .zip(&rows)
                .map(|(e, r)| (e, r.prev_hash.as_slice(), r.hash.as_slice())),
        )
        .map_err(VerifyError::Broken)?;
        checked += rows.len() as u64;
        next = rows.last().map(|r| r.seq + 1).unwrap_or(next);
        prev = Some(last);
        if rows.len() < 10_000 {
            break;
        }
    }
    Ok(checked)
}

/// Why verification failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The chain is broken.
    #[error(transparent)]
    Broken(chain::Broken),
    /// The database could not be read.
    #[error("cannot read the access record: {0}")]
    Read(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use veil_base::{SimulatedClock, Time90k};

    fn record(p: ClientAddressPolicy) -> (AccessRecord, Db) {
        let db = Db::open_in_memory().unwrap();
        let clock = Arc::new(SimulatedClock::new(Time90k(42)));
        (AccessRecord::new(db.clone(), clock, p), db)
    }

    fn ev(client: &str) -> Event {
        Event {
            actor: "u-abc".into(),
            action: Action::Playback,
            resource: "camera:1".into(),
            outcome: Outcome::Ok,
            detail: "start=..".into(),
            client: Some(client.parse().unwrap()),
        }
    }

    #[test]
    fn appends_in_order_with_address_policy() {
        let (r, db) = record(ClientAddressPolicy::Truncated);
        assert_eq!(r.append(ev("192.168.7.9")).unwrap(), 1);
        assert_eq!(r.append(ev("2001:db8:1:2::5")).unwrap(), 2);
        let rows = db.audit_entries(0, 10).unwrap();
        assert_eq!(rows[0].client, "192.168.7.0/24");
        assert_eq!(rows[1].client, "2001:db8:1::/48");
        assert_eq!(rows[0].time_90k, Time90k(42));
        assert_eq!(rows[0].action, "playback");
        let (r, db) = record(ClientAddressPolicy::None);
        r.append(ev("10.0.0.1")).unwrap();
        assert_eq!(db.audit_entries(0, 1).unwrap()[0].client, "");
    }

    #[test]
    fn injected_failure_is_reported() {
        let (r, db) = record(ClientAddressPolicy::Full);
        r.inject_failure(true);
        assert!(r.append(ev("127.0.0.1")).is_err());
        assert!(db.audit_entries(0, 10).unwrap().is_empty());
    }

    #[test]
    fn concurrent_appends_form_one_verified_chain() {
        let (r, db) = record(ClientAddressPolicy::Full);
        let threads: Vec<_> = (0..32)
            .map(|_| {
                let r = r.clone();
                std::thread::spawn(move || {
                    (0..50)
                        .map(|_| r.append(ev("127.0.0.1")).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut seqs: Vec<i64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        seqs.sort();
        assert_eq!(seqs, (1..=1600).collect::<Vec<_>>());
        assert_eq!(verify_stored(&db, None, None).unwrap(), 1600);
        assert_eq!(verify_stored(&db, Some(700), Some(900)).unwrap(), 201);
    }

    #[test]
    fn entries_from_before_the_chain_are_chained_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("veil.db");
        let db = Db::open(&path).unwrap();
        let raw = rusqlite::Connection::open(&path).unwrap();
        for i in 1..=3 {
            raw.execute(
                "INSERT INTO audit (seq, time_90k, actor, action, resource, outcome, detail, client)
                 VALUES (?1, 1, 'u-1', 'login', 'session', 'ok', '', '')",
                [i],
            )
            .unwrap();
        }
        assert!(verify_stored(&db, None, None).is_err());
        let clock = Arc::new(SimulatedClock::new(Time90k(5)));
        let r = AccessRecord::new(db.clone(), clock, ClientAddressPolicy::Full);
        assert_eq!(r.append(ev("127.0.0.1")).unwrap(), 4);
        assert_eq!(verify_stored(&db, None, None).unwrap(), 4);
        // Chained rows are immutable again.
        assert!(raw
            .execute("UPDATE audit SET outcome = 'x' WHERE seq = 2", [])
            .is_err());
    }
}
