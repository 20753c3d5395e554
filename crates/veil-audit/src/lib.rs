//! The access record: who did what to which resource, appended durably *before*
//! the action takes effect; if the append fails, the action is refused.
//!
//! [`AccessRecord::append`] is the one function every caller uses; the
//! tamper-evident hash chain will replace its body without touching callers.
//! Actors are pseudonymous ids, never names.

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
}

impl Action {
    /// Stable id stored in the record.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::Logout => "logout",
            Action::LiveView => "live_view",
            Action::Playback => "playback",
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

/// The append-only access record.
#[derive(Clone)]
pub struct AccessRecord {
    db: Db,
    clock: SharedClock,
    client_policy: ClientAddressPolicy,
    #[cfg(any(test, feature = "fault-injection"))]
    fail: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl AccessRecord {
    /// A record stored in `db`.
    pub fn new(db: Db, clock: SharedClock, client_policy: ClientAddressPolicy) -> AccessRecord {
        AccessRecord {
            db,
            clock,
            client_policy,
            #[cfg(any(test, feature = "fault-injection"))]
            fail: Default::default(),
        }
    }

    /// Makes every later append fail (tests of the fail-closed rule).
    #[cfg(any(test, feature = "fault-injection"))]
    pub fn inject_failure(&self, on: bool) {
        self.fail.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Appends `e` durably and returns its sequence number. Blocks on the
    /// database; async callers use a blocking thread.
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
        };
        self.db.append_audit(&row).map_err(|e| Error(e.to_string()))
    }
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
}
