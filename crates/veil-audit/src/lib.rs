//! The access record: who did what to which resource, appended durably *before*
//! the action takes effect; if the append fails, the action is refused.
//!
//! [`AccessRecord::append`] is the one function every caller uses. Entries form
//! a hash chain ([`chain`]) that [`verify_stored`] checks; group commit keeps
//! concurrent appends durable and fast. Actors are pseudonymous ids, never names.

pub mod chain;
pub mod checkpoint;
pub mod export;
pub mod read;
pub mod recording;
pub mod report;
pub mod signals;
pub mod verify;
mod writer;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use veil_base::{SharedClock, Time90k};
use veil_store::db::{AuditRow, CheckpointRow};
use veil_store::Db;

pub use checkpoint::{AuditKey, Sink};
pub use recording::{parse_chain_heads, recording_anchor, verify_recording_heads, RecordingAnchor};
pub use verify::{verify_stored, VerifyError, VerifyOptions, VerifyReport};

/// Why an append failed. Callers must refuse the action.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The entry could not be made durable (disk, database); the action must
    /// be refused (fail closed).
    #[error("the access record could not be written: {0}")]
    Unavailable(String),
    /// The action needs a justification and none was given.
    #[error("{0} requires a justification")]
    JustificationRequired(&'static str),
}

/// What happened. Each action has a stable id ([`Action::as_str`]) that is
/// stored in the record and hashed, so ids never change once released.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// A login attempt (`ok`, or `denied` for bad credentials).
    Login,
    /// A login refused because the account or the client address is locked out.
    LoginLocked,
    /// A logout.
    Logout,
    /// A live view started.
    LiveView,
    /// A live view ended.
    LiveViewStop,
    /// Recorded video was requested (camera, interval and rendition in the detail).
    Playback,
    /// An export was requested.
    ExportRequest,
    /// An export file was produced.
    ExportCreate,
    /// An export file was downloaded.
    ExportDownload,
    /// An export package's stored copy was destroyed at its expiry.
    ExportExpire,
    /// A privacy mask was lifted for a viewing.
    MaskLift,
    /// An evidence lock was placed.
    EvidenceLockCreate,
    /// An evidence lock was extended or changed.
    EvidenceLockChange,
    /// An evidence lock was released.
    EvidenceLockRelease,
    /// A legal hold was placed, changed or lifted.
    HoldChange,
    /// Recordings were deleted by a person.
    RecordingDelete,
    /// Retention destroyed recordings (key shredding).
    RetentionDestroy,
    /// A privacy mask was added, changed or removed.
    MaskChange,
    /// A retention setting changed.
    RetentionChange,
    /// A processing purpose was added or changed.
    PurposeChange,
    /// A user account was created, changed or disabled.
    UserChange,
    /// A user's name was erased (the pseudonym stays).
    UserErase,
    /// A role was created, changed or removed.
    RoleChange,
    /// Permissions granted to a role or user changed.
    PermissionChange,
    /// An API token was created or revoked.
    TokenChange,
    /// A four-eyes request was made.
    ApprovalRequest,
    /// A four-eyes request was approved or rejected.
    ApprovalDecision,
    /// The access record was read.
    AuditRead,
    /// The access record was exported.
    AuditExport,
    /// Old access-record entries were pruned behind a signed anchor.
    AuditPrune,
    /// A document (records of processing, DPIA, report) was generated.
    DocumentGenerate,
    /// A step of a data-subject request.
    SubjectRequest,
    /// A new version of the video-surveillance usage policy was published.
    PolicyPublish,
    /// A user acknowledged the usage policy.
    PolicyAcknowledge,
    /// A user changed their password (or an administrator reset it).
    PasswordChange,
    /// The set of permissions needing four-eyes approval changed.
    FourEyesChange,
    /// A camera was added.
    CameraCreate,
    /// A camera's settings changed.
    CameraUpdate,
    /// A camera was removed.
    CameraDelete,
    /// A bookmark was created (camera, time and bookmark in the detail).
    BookmarkCreate,
    /// A bookmark's note was changed.
    BookmarkUpdate,
    /// A bookmark was deleted by a person.
    BookmarkDelete,
    /// Bookmarks were listed or searched.
    BookmarkList,
    /// Bookmarks past their retention were deleted (the count in the detail).
    BookmarkExpire,
    /// The root key rotated (versions and counts of re-wrapped values in the
    /// detail, never key material).
    KeysRotate,
    /// A root key version was destroyed at its source.
    KeysRootDestroy,
    /// A camera was decommissioned: its keys, recordings and credentials
    /// destroyed, an erasure certificate written.
    DecommissionCamera,
    /// The installation was decommissioned: every key, recording and root
    /// version destroyed, an erasure certificate written.
    DecommissionInstallation,
    /// A showing or telling of recordings to a third party was entered in
    /// the register of transfers and disclosures.
    DisclosureRecord,
    /// The register of transfers and disclosures was read (the filter in
    /// the detail, never the entries).
    DisclosureRead,
    /// A recipient's confirmation that they destroyed their copy was
    /// entered in the register.
    DisclosureDestruction,
    /// The heads of the recording integrity chains that changed since the
    /// last such entry (`camera:rendition:seq:hexhash` tokens), written by
    /// the writer just before it signs a checkpoint, which covers it.
    RecordingChain,
    /// The organisation profile (controller, DPO, sites, authority, where
    /// data is stored) was changed.
    OrganisationChange,
    /// The DPO marked a document reviewed at a configuration version.
    DocumentReview,
    /// An account's roles were confirmed or revoked in an access review.
    AccessReview,
    /// A processor was entered in the register of processors.
    ProcessorCreate,
    /// A processor's register entry was changed.
    ProcessorUpdate,
    /// A processor was removed from the register; its accounts disabled.
    ProcessorRemove,
    /// A processor's time-limited maintenance account was created or
    /// extended (detail `create` or `extend`, the expiry and the approval).
    ProcessorAccount,
    /// A request was refused in a way the breach register watches (detail
    /// `reason=outside_hours|held|account_disabled|account_expired` and the
    /// facts, never a name): a role used outside its hours, video under a
    /// restriction hold, a disabled or expired account's credential.
    AccessDenied,
    /// The breach detector raised a candidate (signal, candidate id).
    BreachCandidate,
    /// A breach candidate was dismissed (its id; the reason is kept with it).
    BreachDismiss,
    /// A breach candidate was promoted to a breach (both ids).
    BreachPromote,
    /// A breach was entered in the register by hand.
    BreachCreate,
    /// A breach's assessment was changed (the fields that changed, named).
    BreachUpdate,
    /// A decision to notify (or not) the authority or the data subjects.
    BreachDecision,
    /// The authority or the data subjects were notified (when).
    BreachNotified,
    /// A breach's notification text was generated (format).
    BreachNotification,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 68] = [
        Action::Login,
        Action::LoginLocked,
        Action::Logout,
        Action::LiveView,
        Action::LiveViewStop,
        Action::Playback,
        Action::ExportRequest,
        Action::ExportCreate,
        Action::ExportDownload,
        Action::ExportExpire,
        Action::MaskLift,
        Action::EvidenceLockCreate,
        Action::EvidenceLockChange,
        Action::EvidenceLockRelease,
        Action::HoldChange,
        Action::RecordingDelete,
        Action::RetentionDestroy,
        Action::MaskChange,
        Action::RetentionChange,
        Action::PurposeChange,
        Action::UserChange,
        Action::UserErase,
        Action::RoleChange,
        Action::PermissionChange,
        Action::TokenChange,
        Action::ApprovalRequest,
        Action::ApprovalDecision,
        Action::AuditRead,
        Action::AuditExport,
        Action::AuditPrune,
        Action::DocumentGenerate,
        Action::SubjectRequest,
        Action::PolicyPublish,
        Action::PolicyAcknowledge,
        Action::PasswordChange,
        Action::FourEyesChange,
        Action::CameraCreate,
        Action::CameraUpdate,
        Action::CameraDelete,
        Action::BookmarkCreate,
        Action::BookmarkUpdate,
        Action::BookmarkDelete,
        Action::BookmarkList,
        Action::BookmarkExpire,
        Action::KeysRotate,
        Action::KeysRootDestroy,
        Action::DecommissionCamera,
        Action::DecommissionInstallation,
        Action::DisclosureRecord,
        Action::DisclosureRead,
        Action::DisclosureDestruction,
        Action::OrganisationChange,
        Action::DocumentReview,
        Action::AccessReview,
        Action::ProcessorCreate,
        Action::ProcessorUpdate,
        Action::ProcessorRemove,
        Action::ProcessorAccount,
        Action::RecordingChain,
        Action::AccessDenied,
        Action::BreachCandidate,
        Action::BreachDismiss,
        Action::BreachPromote,
        Action::BreachCreate,
        Action::BreachUpdate,
        Action::BreachDecision,
        Action::BreachNotified,
        Action::BreachNotification,
    ];

    /// Stable id stored in the record.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::LoginLocked => "login.locked",
            Action::Logout => "logout",
            Action::LiveView => "live_view",
            Action::LiveViewStop => "live_view.stop",
            Action::Playback => "playback",
            Action::ExportRequest => "export.request",
            Action::ExportCreate => "export.create",
            Action::ExportDownload => "export.download",
            Action::ExportExpire => "export.expire",
            Action::MaskLift => "mask.lift",
            Action::EvidenceLockCreate => "evidence_lock.create",
            Action::EvidenceLockChange => "evidence_lock.change",
            Action::EvidenceLockRelease => "evidence_lock.release",
            Action::HoldChange => "hold.change",
            Action::RecordingDelete => "recording.delete",
            Action::RetentionDestroy => "retention.destroy",
            Action::MaskChange => "config.mask",
            Action::RetentionChange => "config.retention",
            Action::PurposeChange => "config.purpose",
            Action::UserChange => "user.change",
            Action::UserErase => "user.erase",
            Action::RoleChange => "role.change",
            Action::PermissionChange => "permission.change",
            Action::TokenChange => "token.change",
            Action::ApprovalRequest => "approval.request",
            Action::ApprovalDecision => "approval.decide",
            Action::AuditRead => "audit.read",
            Action::AuditExport => "audit.export",
            Action::AuditPrune => "audit.prune",
            Action::DocumentGenerate => "document.generate",
            Action::SubjectRequest => "dsr.step",
            Action::PolicyPublish => "policy.publish",
            Action::PolicyAcknowledge => "policy.acknowledge",
            Action::PasswordChange => "user.password",
            Action::FourEyesChange => "config.four_eyes",
            Action::CameraCreate => "camera.create",
            Action::CameraUpdate => "camera.update",
            Action::CameraDelete => "camera.delete",
            Action::BookmarkCreate => "bookmark.create",
            Action::BookmarkUpdate => "bookmark.update",
            Action::BookmarkDelete => "bookmark.delete",
            Action::BookmarkList => "bookmark.list",
            Action::BookmarkExpire => "bookmark.expire",
            Action::KeysRotate => "keys.rotate",
            Action::KeysRootDestroy => "keys.root_destroy",
            Action::DecommissionCamera => "decommission.camera",
            Action::DecommissionInstallation => "decommission.installation",
            Action::DisclosureRecord => "disclosure.record",
            Action::DisclosureRead => "disclosure.read",
            Action::DisclosureDestruction => "disclosure.destruction",
            Action::OrganisationChange => "config.organisation",
            Action::DocumentReview => "document.review",
            Action::AccessReview => "access.review",
            Action::ProcessorCreate => "processor.create",
            Action::ProcessorUpdate => "processor.update",
            Action::ProcessorRemove => "processor.remove",
            Action::ProcessorAccount => "processor.account",
            Action::RecordingChain => "recording.chain",
            Action::AccessDenied => "access.denied",
            Action::BreachCandidate => "breach.candidate",
            Action::BreachDismiss => "breach.dismiss",
            Action::BreachPromote => "breach.promote",
            Action::BreachCreate => "breach.create",
            Action::BreachUpdate => "breach.update",
            Action::BreachDecision => "breach.decision",
            Action::BreachNotified => "breach.notified",
            Action::BreachNotification => "breach.notification",
        }
    }

    /// The action with id `s`.
    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Whether an entry for this action must carry a justification: the
    /// privileged steps a person has to explain (seed 001 §35–37).
    pub fn requires_justification(self) -> bool {
        matches!(
            self,
            Action::ExportRequest
                | Action::MaskLift
                | Action::RecordingDelete
                | Action::EvidenceLockRelease
                | Action::HoldChange
                | Action::ApprovalRequest
                | Action::ApprovalDecision
        )
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

impl Outcome {
    /// Stable id stored in the record.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
        }
    }
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
    /// Why, in the person's words; required by some actions
    /// ([`Action::requires_justification`]).
    pub justification: String,
    /// Extra facts without personal data (e.g. the requested interval).
    pub detail: String,
    /// The client's address; kept only as configured.
    pub client: Option<IpAddr>,
}

impl Event {
    /// A successful `action` by `actor` on `resource`, with no detail.
    pub fn new(actor: impl Into<String>, action: Action, resource: impl Into<String>) -> Event {
        Event {
            actor: actor.into(),
            action,
            resource: resource.into(),
            outcome: Outcome::Ok,
            justification: String::new(),
            detail: String::new(),
            client: None,
        }
    }

    /// With this outcome.
    pub fn outcome(mut self, o: Outcome) -> Event {
        self.outcome = o;
        self
    }

    /// With this detail.
    pub fn detail(mut self, d: impl Into<String>) -> Event {
        self.detail = d.into();
        self
    }

    /// With this justification.
    pub fn justification(mut self, j: impl Into<String>) -> Event {
        self.justification = j.into();
        self
    }

    /// From this client address.
    pub fn client(mut self, a: IpAddr) -> Event {
        self.client = Some(a);
        self
    }
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

/// How the access record signs checkpoints.
#[derive(Clone)]
pub struct Checkpointing {
    /// The audit signing key.
    pub key: Arc<AuditKey>,
    /// A checkpoint after this many new entries.
    pub every_entries: u64,
    /// A checkpoint at least this often while there are new entries or a
    /// recording chain moved (`recording.chain`).
    pub every: Duration,
    /// A copy of each checkpoint and anchor goes here too.
    pub sink: Option<Sink>,
}

/// The append-only access record, a hash chain with signed checkpoints.
///
/// Appends go to one writer thread that commits whatever is waiting in one
/// transaction (group commit): concurrent callers share one fsync, and each
/// caller returns only once its entry is durable. The same thread signs
/// checkpoints (every N entries, every T, on request and at shutdown) and
/// prunes behind signed anchors, so all of them see one order.
#[derive(Clone)]
pub struct AccessRecord {
    db: Db,
    public_key: Option<[u8; 32]>,
    clock: SharedClock,
    client_policy: ClientAddressPolicy,
    jobs: std::sync::mpsc::Sender<writer::Msg>,
    metrics: Arc<AuditMetrics>,
    #[cfg(any(test, feature = "fault-injection"))]
    fail: Arc<std::sync::atomic::AtomicBool>,
}

/// What the access record counts (for `/metrics`).
#[derive(Debug)]
pub struct AuditMetrics {
    /// [`AccessRecord::append`] from the call until the entry is durable (or
    /// refused by the writer), seconds.
    pub append_seconds: veil_base::metrics::Histogram,
    /// Appends handed to the writer and not yet answered.
    pub queue: veil_base::metrics::Gauge,
    /// Appends that failed (the caller refused its action).
    pub append_failures: veil_base::metrics::Counter,
}

impl Default for AuditMetrics {
    fn default() -> Self {
        AuditMetrics {
            append_seconds: veil_base::metrics::Histogram::latency(),
            queue: Default::default(),
            append_failures: Default::default(),
        }
    }
}

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

/// The hash the next entry chains from: the stored tail's, which must be a
/// whole SHA-256. A malformed one is refused, never replaced by the genesis
/// hash.
pub(crate) fn chain_tail_hash(seq: i64, hash: &[u8]) -> Result<[u8; 32], Error> {
    hash.try_into().map_err(|_| {
        Error::Unavailable(format!(
            "the last access-record entry (sequence {seq}) has a malformed hash ({} bytes); \
             the chain is not continued from genesis. Run `veil audit verify` and restore the \
             database from a backup",
            hash.len()
        ))
    })
}

fn stopped() -> Error {
    Error::Unavailable("the writer has stopped".into())
}

impl AccessRecord {
    /// A record stored in `db` that signs no checkpoints (tests, benchmarks).
    pub fn new(
        db: Db,
        clock: SharedClock,
        client_policy: ClientAddressPolicy,
    ) -> Result<AccessRecord, Error> {
        AccessRecord::open(db, clock, client_policy, None)
    }

    /// A record stored in `db`, signing checkpoints as `signing` says. Entries
    /// written before the chain existed are chained first. Refuses to start
    /// when the record cannot be read or its last entry's hash is malformed:
    /// continuing from the genesis hash would hide whatever happened to it.
    pub fn open(
        db: Db,
        clock: SharedClock,
        client_policy: ClientAddressPolicy,
        signing: Option<Checkpointing>,
    ) -> Result<AccessRecord, Error> {
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
        let tail = db
            .audit_tail()
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        if let Some((seq, hash)) = &tail {
            chain_tail_hash(*seq, hash)?;
        }
        let public_key = signing.as_ref().map(|s| s.key.public_key());
        let jobs = writer::spawn(db.clone(), clock.clone(), signing);
        Ok(AccessRecord {
            db,
            public_key,
            clock,
            client_policy,
            jobs,
            metrics: Arc::default(),
            #[cfg(any(test, feature = "fault-injection"))]
            fail: Default::default(),
        })
    }

    /// The public key checkpoints are signed with, if they are.
    pub fn public_key(&self) -> Option<[u8; 32]> {
        self.public_key
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
            return Err(Error::Unavailable("injected failure".into()));
        }
        if e.action.requires_justification() && e.justification.trim().is_empty() {
            return Err(Error::JustificationRequired(e.action.as_str()));
        }
        let row = AuditRow {
            seq: 0,
            time_90k: self.clock.now(),
            actor: e.actor,
            action: e.action.as_str().to_owned(),
            resource: e.resource,
            outcome: e.outcome.as_str().to_owned(),
            detail: e.detail,
            client: self.client_policy.render(e.client),
            justification: e.justification,
            prev_hash: Vec::new(),
            hash: Vec::new(),
        };
        let started = std::time::Instant::now();
        self.metrics.queue.add(1.0);
        let r = self
            .ask(|reply| writer::Msg::Append(writer::Job { row, reply }))
            .and_then(|r| r);
        self.metrics.queue.add(-1.0);
        self.metrics
            .append_seconds
            .observe_duration(started.elapsed());
        if r.is_err() {
            self.metrics.append_failures.inc();
        }
        r
    }

    /// What this record has counted.
    pub fn metrics(&self) -> &AuditMetrics {
        &self.metrics
    }

    /// The latest signed checkpoint or anchor, if any.
    pub fn latest_checkpoint(&self) -> Result<Option<CheckpointRow>, Error> {
        self.db
            .latest_audit_checkpoint()
            .map_err(|e| Error::Unavailable(e.to_string()))
    }

    /// Signs a checkpoint of the current tail now, unless the latest one
    /// already covers it. Returns the checkpoint that covers the tail (`None`
    /// when the record is empty). Fails without a signing key.
    pub fn checkpoint(&self) -> Result<Option<CheckpointRow>, Error> {
        self.ask(writer::Msg::Checkpoint)?
    }

    /// Prunes every entry written before `before` behind a signed anchor;
    /// `actor` is recorded as having pruned. Returns how many entries went
    /// (nothing is recorded when there is nothing to prune).
    pub fn prune(&self, actor: &str, before: Time90k) -> Result<usize, Error> {
        let old = self
            .db
            .last_audit_entry_before(before)
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        if old.is_none() {
            return Ok(0);
        }
        self.append(
            Event::new(actor, Action::AuditPrune, "audit")
                .detail(format!("before={}", before.to_rfc3339())),
        )?;
        self.ask(|reply| writer::Msg::Prune(before, reply))?
    }

    /// Whether appends can be made durable now: the writer answers within
    /// `wait` and its last batch was committed. The error says what is
    /// wrong (for `/api/v1/health`).
    pub fn health(&self, wait: std::time::Duration) -> Result<(), Error> {
        #[cfg(any(test, feature = "fault-injection"))]
        if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::Unavailable("injected failure".into()));
        }
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        self.jobs
            .send(writer::Msg::Health(reply))
            .map_err(|_| stopped())?;
        match answer.recv_timeout(wait) {
            Ok(r) => r,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(Error::Unavailable(format!(
                "the writer did not answer within {} ms",
                wait.as_millis()
            ))),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(stopped()),
        }
    }

    /// Signs a final checkpoint and stops the writer; later appends fail.
    /// Other clones stop too.
    pub fn shutdown(&self) {
        let _ = self.ask(writer::Msg::Shutdown);
    }

    fn ask<T>(
        &self,
        msg: impl FnOnce(std::sync::mpsc::SyncSender<T>) -> writer::Msg,
    ) -> Result<T, Error> {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        self.jobs.send(msg(reply)).map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use veil_base::{Clock, SimulatedClock};

    fn record(p: ClientAddressPolicy) -> (AccessRecord, Db) {
        let db = Db::open_for_tests().unwrap();
        let clock = Arc::new(SimulatedClock::new(Time90k(42)));
        (AccessRecord::new(db.clone(), clock, p).unwrap(), db)
    }

    fn ev(client: &str) -> Event {
        Event::new("u-abc", Action::Playback, "camera:1")
            .detail("start=..")
            .client(client.parse().unwrap())
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
        // Both appends were timed and none is waiting any more.
        assert_eq!(r.metrics().append_seconds.snapshot().count, 2);
        assert_eq!(r.metrics().queue.get(), 0.0);
        assert_eq!(r.metrics().append_failures.get(), 0);
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
        assert_eq!(
            verify_stored(&db, &VerifyOptions::default())
                .unwrap()
                .entries,
            1600
        );
        assert_eq!(
            verify_stored(
                &db,
                &VerifyOptions {
                    from: Some(700),
                    to: Some(900),
                    ..Default::default()
                }
            )
            .unwrap()
            .entries,
            201
        );
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
        assert!(verify_stored(&db, &VerifyOptions::default()).is_err());
        let clock = Arc::new(SimulatedClock::new(Time90k(5)));
        let r = AccessRecord::new(db.clone(), clock, ClientAddressPolicy::Full).unwrap();
        assert_eq!(r.append(ev("127.0.0.1")).unwrap(), 4);
        assert_eq!(
            verify_stored(&db, &VerifyOptions::default())
                .unwrap()
                .entries,
            4
        );
        // Chained rows are immutable again.
        assert!(raw
            .execute("UPDATE audit SET outcome = 'x' WHERE seq = 2", [])
            .is_err());
    }

    /// A tail whose hash is malformed stops the record (at open, and in a
    /// running writer) instead of restarting the chain at genesis.
    #[test]
    fn a_malformed_tail_hash_is_refused_not_restarted_at_genesis() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("veil.db");
        let db = Db::open(&path).unwrap();
        let clock = Arc::new(SimulatedClock::new(Time90k(5)));
        let r = AccessRecord::new(db.clone(), clock.clone(), ClientAddressPolicy::Full).unwrap();
        assert_eq!(r.append(ev("127.0.0.1")).unwrap(), 1);
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute(
            "INSERT INTO audit (seq, time_90k, actor, action, resource, outcome, detail, client,
                 prev_hash, hash)
             VALUES (2, 1, 'u-1', 'login', 'session', 'ok', '', '', x'00', x'0102')",
            [],
        )
        .unwrap();
        let e = r.append(ev("127.0.0.1")).unwrap_err();
        assert!(e.to_string().contains("malformed hash"), "{e}");
        let e = AccessRecord::new(db.clone(), clock, ClientAddressPolicy::Full)
            .err()
            .expect("the record opened on a malformed tail");
        assert!(e.to_string().contains("sequence 2"), "{e}");
        let n: i64 = raw
            .query_row("SELECT COUNT(*) FROM audit", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2, "nothing was chained from genesis");
    }

    struct Signed {
        r: AccessRecord,
        db: Db,
        key: Arc<AuditKey>,
        clock: Arc<SimulatedClock>,
        dir: tempfile::TempDir,
    }

    fn signed(every_entries: u64, every: Duration, sink: Option<Sink>) -> Signed {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("veil.db")).unwrap();
        let clock = Arc::new(SimulatedClock::new(Time90k(1_795_000_000 * 90_000)));
        let key = Arc::new(AuditKey::generate().0);
        let r = AccessRecord::open(
            db.clone(),
            clock.clone(),
            ClientAddressPolicy::Full,
            Some(Checkpointing {
                key: key.clone(),
                every_entries,
                every,
                sink,
            }),
        )
        .unwrap();
        Signed {
            r,
            db,
            key,
            clock,
            dir,
        }
    }

    fn trusted(key: &AuditKey) -> VerifyOptions {
        VerifyOptions {
            trusted_key: Some(key.public_key()),
            ..Default::default()
        }
    }

    #[test]
    fn checkpoints_every_n_entries_and_at_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let sink = dir.path().join("checkpoints.jsonl");
        let Signed { r, db, key, .. } = signed(
            10,
            Duration::from_secs(3600),
            Some(Sink::File(sink.clone())),
        );
        for _ in 0..25 {
            r.append(ev("127.0.0.1")).unwrap();
        }
        let seqs = |db: &Db| {
            db.audit_checkpoints(0, i64::MAX)
                .unwrap()
                .iter()
                .map(|c| c.seq)
                .collect::<Vec<_>>()
        };
        assert_eq!(seqs(&db), vec![10, 20]);
        r.shutdown();
        assert_eq!(seqs(&db), vec![10, 20, 25]);
        assert!(
            r.append(ev("127.0.0.1")).is_err(),
            "a stopped record refuses appends"
        );
        let report = verify_stored(&db, &trusted(&key)).unwrap();
        assert_eq!(
            (report.entries, report.checkpoints, report.signed_up_to),
            (25, 3, 25)
        );
        // The external copy holds the same checkpoints, and verifies too.
        let external = checkpoint::read_sink_file(&sink).unwrap();
        assert_eq!(external, db.audit_checkpoints(0, i64::MAX).unwrap());
        let opts = VerifyOptions {
            external,
            ..trusted(&key)
        };
        assert_eq!(verify_stored(&db, &opts).unwrap().checkpoints, 6);
        // Without the key, a signed record does not verify.
        assert!(matches!(
            verify_stored(&db, &VerifyOptions::default()),
            Err(VerifyError::NoKey)
        ));
    }

    #[test]
    fn checkpoints_after_a_quiet_interval() {
        let Signed { r, db, .. } = signed(1000, Duration::from_millis(100), None);
        r.append(ev("127.0.0.1")).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while db.latest_audit_checkpoint().unwrap().is_none() {
            assert!(std::time::Instant::now() < deadline, "no timed checkpoint");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(db.latest_audit_checkpoint().unwrap().unwrap().seq, 1);
    }

    #[test]
    fn pruning_leaves_a_signed_anchor_the_chain_verifies_from() {
        let Signed {
            r,
            db,
            key,
            clock,
            dir,
        } = signed(5, Duration::from_secs(3600), None);
        for _ in 0..12 {
            clock.advance(90_000 * 86_400);
            r.append(ev("127.0.0.1")).unwrap();
        }
        // Entries 1..=7 are older than the cut.
        let cut = Time90k(db.audit_range(8, 8, 1).unwrap()[0].time_90k.0);
        assert_eq!(r.prune("system", cut).unwrap(), 7);
        assert!(db.audit_range(1, 7, 10).unwrap().is_empty());
        let report = verify_stored(&db, &trusted(&key)).unwrap();
        assert_eq!(report.pruned_up_to, Some(7));
        assert_eq!(report.entries, 6, "entries 8..=13 (13 records the pruning)");
        // New entries continue the numbering after pruning.
        assert_eq!(r.append(ev("127.0.0.1")).unwrap(), 14);
        // An anchor cannot be removed, and entries after it cannot be deleted.
        let raw = rusqlite::Connection::open(dir.path().join("veil.db")).unwrap();
        assert!(raw
            .execute("DELETE FROM audit_checkpoint WHERE kind = 'anchor'", [])
            .is_err());
        assert!(raw.execute("DELETE FROM audit WHERE seq = 9", []).is_err());
        // A second pruning moves the anchor on; the rest still verifies.
        clock.advance(90_000);
        assert_eq!(r.prune("system", clock.now()).unwrap(), 7, "8..=14");
        assert_eq!(r.append(ev("127.0.0.1")).unwrap(), 16);
        verify_stored(&db, &trusted(&key)).unwrap();
    }

    #[test]
    fn export_round_trips_and_detects_tampering() {
        let Signed { r, db, key, .. } = signed(4, Duration::from_secs(3600), None);
        for _ in 0..10 {
            r.append(ev("127.0.0.1")).unwrap();
        }
        r.checkpoint().unwrap();
        let mut out = Vec::new();
        let s = export::write(&db, &key.public_key(), Some(3), Some(6), &mut out).unwrap();
        assert_eq!(
            (s.first_seq, s.last_seq, s.entries, s.checkpoints),
            (3, 8, 6, 2)
        );
        let text = String::from_utf8(out).unwrap();
        let report = verify::verify_export(&text, Some(key.public_key())).unwrap();
        assert_eq!(
            (report.first_seq, report.last_seq, report.signed_up_to),
            (3, 8, 8)
        );
        let edited = text.replace("\"outcome\":\"ok\"", "\"outcome\":\"denied\"");
        assert!(verify::verify_export(&edited, None).is_err());
        let other = AuditKey::generate().0;
        let e = verify::verify_export(&text, Some(other.public_key())).unwrap_err();
        assert!(e.to_string().contains("not by the expected key"), "{e}");
        // Dropping the covering checkpoint (the last line) leaves entries unsigned.
        let lines: Vec<&str> = text.lines().collect();
        let trimmed = lines[..lines.len() - 1].join("\n");
        let e = verify::verify_export(&trimmed, None).unwrap_err();
        assert!(e.to_string().contains("sequence 5"), "{e}");
    }
}
