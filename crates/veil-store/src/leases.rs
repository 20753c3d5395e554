//! Sharing cameras between recorder processes (scale-out): the [`Fence`] a
//! [`Store`](crate::Store) inserts its segments through, and the
//! [`LeaseKeeper`] that takes, renews and gives up the leases (the SQL is in
//! `db/leases.rs`; the design in `docs/design/scale-out.md`, "Leases and
//! fencing").
//!
//! The keeper is a plain struct driven by [`LeaseKeeper::tick`] with the
//! time of the caller's clock, every [`POLL_PERIOD_90K`] (it heartbeats and
//! renews only every [`RENEW_PERIOD_90K`]); it says which
//! cameras were lost (the caller stops recording them) and which were gained
//! with their tokens (the caller starts them). The store's fence, shared
//! with the keeper, holds the token of every camera the node holds; a store
//! with a fence inserts a segment only under its camera's current token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use veil_base::{CameraId, Time90k};

use crate::{Db, Error};

/// How often a keeper heartbeats and renews its leases: 5 s.
pub const RENEW_PERIOD_90K: i64 = 5 * 90_000;
/// How often a keeper ticks: 1 s. A tick between renewals only looks for
/// leases to take or give up (the database's time, the live recorders and
/// the lease rows: three reads), so a dead recorder's cameras are taken
/// within about a second of their leases' expiry, not up to a renewal
/// period later.
pub const POLL_PERIOD_90K: i64 = 90_000;
/// How long a lease lasts from its take or renewal: 15 s, three renewal
/// periods, so two renewals may fail before the lease is lost.
pub const LEASE_EXPIRY_90K: i64 = 15 * 90_000;
/// The role recorders register under in the node registry.
pub const RECORDER_ROLE: &str = "recorder";

/// The leases one node holds, as its store sees them: the node's id and the
/// fencing token of each camera it holds. Cheap to clone; clones share.
#[derive(Clone, Debug)]
pub struct Fence {
    node: Arc<str>,
    tokens: Arc<Mutex<HashMap<CameraId, i64>>>,
}

impl Fence {
    /// A fence of node `node`, holding no camera yet.
    pub fn new(node: &str) -> Fence {
        Fence {
            node: node.into(),
            tokens: Arc::default(),
        }
    }

    /// The node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The token under which `camera` is held, if it is.
    pub fn token(&self, camera: CameraId) -> Option<i64> {
        self.lock().get(&camera).copied()
    }

    /// Every `(camera, token)` held, by camera.
    pub fn held(&self) -> Vec<(CameraId, i64)> {
        let mut v: Vec<_> = self.lock().iter().map(|(c, t)| (*c, *t)).collect();
        v.sort();
        v
    }

    /// Notes that `camera` is held under `token`.
    pub fn hold(&self, camera: CameraId, token: i64) {
        self.lock().insert(camera, token);
    }

    /// Notes that `camera` is no longer held.
    pub fn drop_camera(&self, camera: CameraId) {
        self.lock().remove(&camera);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CameraId, i64>> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What one [`LeaseKeeper::tick`] changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseChanges {
    /// Cameras no longer held (taken by another node, expired, or released
    /// to make room for another recorder): stop recording them. Already
    /// out of the fence.
    pub lost: Vec<CameraId>,
    /// Cameras taken, with their tokens: start recording them. Already in
    /// the fence. A camera whose lease expired unrenewed may be in both
    /// lists: its recording restarts under the new token.
    pub gained: Vec<(CameraId, i64)>,
}

/// One recorder node's side of the leases. Each tick: heartbeat; renew the
/// leases held (those not renewed are lost); compute this node's share of
/// the recordable cameras among the live recorders; take free or expired
/// leases up to the share; release those above it.
///
/// The share: with `n` live recorders (heartbeat within the lease expiry)
/// and `c` recordable cameras, the recorders sorted by id get
/// `c / n` cameras each and the first `c % n` of them one more, so the
/// shares add up to `c` exactly and a new recorder gets its part as soon as
/// the others have ticked once (they release their excess) and it ticks
/// again.
pub struct LeaseKeeper {
    db: Db,
    fence: Fence,
    address: String,
    renew_90k: i64,
    expiry_90k: i64,
    poll_90k: i64,
    /// The caller's time at the latest tick that renewed the leases held
    /// (the leases then last at least until this plus the expiry).
    renewed: Option<Time90k>,
    /// Changes made to the fence that the caller has not been told of yet
    /// (a tick failed after them): handed out with the next successful
    /// tick, so the caller's view and the fence never diverge.
    unreported: LeaseChanges,
    /// Whose clock lease and heartbeat times are on.
    database_clock: bool,
    /// Test hook: `(step, n)` fails the step's database call after `n`
    /// successful calls of it.
    fail: Option<(&'static str, usize)>,
}

impl LeaseKeeper {
    /// A keeper for node `fence.node()` (an id stable for the node's
    /// configuration), reachable by other nodes at `address` (`''`: not
    /// given), with the default periods.
    pub fn new(db: Db, fence: Fence, address: &str) -> LeaseKeeper {
        let database_clock = db.is_postgres();
        LeaseKeeper {
            db,
            fence,
            address: address.to_owned(),
            renew_90k: RENEW_PERIOD_90K,
            expiry_90k: LEASE_EXPIRY_90K,
            poll_90k: POLL_PERIOD_90K,
            renewed: None,
            unreported: LeaseChanges::default(),
            database_clock,
            fail: None,
        }
    }

    /// Lease and heartbeat times on the caller's clock (the `now` given to
    /// [`LeaseKeeper::tick`]) even on PostgreSQL, where they are otherwise
    /// the database's: for tests driven by a simulated clock.
    pub fn with_caller_clock(mut self) -> LeaseKeeper {
        self.database_clock = false;
        self
    }

    /// Test hook: the keeper's `step` database call (`"heartbeat"`,
    /// `"renew"`, `"live_nodes"`, `"leases"`, `"release"` or `"take"`)
    /// fails once after `after` successful calls of it, as a database that
    /// stops answering partway through a tick.
    #[doc(hidden)]
    pub fn fail_for_tests(&mut self, step: &'static str, after: usize) {
        self.fail = Some((step, after));
    }

    fn step(&mut self, name: &str) -> Result<(), Error> {
        match &mut self.fail {
            Some((step, 0)) if *step == name => {
                self.fail = None;
                Err(Error::Database(format!(
                    "injected failure of the lease keeper's {name}"
                )))
            }
            Some((step, n)) if *step == name => {
                *n -= 1;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Other periods (tests): renew every `renew_90k`, leases last
    /// `expiry_90k` (more than one renewal period); ticks no further apart
    /// than the renewal period.
    pub fn with_periods(mut self, renew_90k: i64, expiry_90k: i64) -> LeaseKeeper {
        self.renew_90k = renew_90k;
        self.expiry_90k = expiry_90k.max(renew_90k + 1);
        self.poll_90k = self.poll_90k.min(renew_90k);
        self
    }

    /// How often [`LeaseKeeper::tick`] should run: every tick looks for
    /// leases to take or give up; one at least [`LeaseKeeper::renew_period_90k`]
    /// after the latest renewal also heartbeats and renews.
    pub fn poll_period_90k(&self) -> i64 {
        self.poll_90k
    }

    /// How long a lease lasts from its take or renewal.
    pub fn expiry_90k(&self) -> i64 {
        self.expiry_90k
    }

    /// How often the leases held are renewed (and the node heartbeats).
    pub fn renew_period_90k(&self) -> i64 {
        self.renew_90k
    }

    /// The fence this keeper keeps up to date.
    pub fn fence(&self) -> &Fence {
        &self.fence
    }

    /// One round at time `now` (the caller's clock): a heartbeat and the
    /// renewal of the leases held when the latest successful renewal is a
    /// renewal period old or more (or in the caller's future: its clock
    /// went back), then the share, releases and takes. Blocks on the
    /// database. On PostgreSQL (a shared database) lease and heartbeat
    /// times are the database's clock ([`Db::database_time`]), so nodes'
    /// clocks need not agree; on SQLite, `now`.
    ///
    /// Returns the changes to the fence since the last successful tick: a
    /// tick that fails partway keeps what it changed (cameras already out
    /// of the fence, or already in it with a new token) and the next
    /// successful one reports it, with its own. On an error the fence keeps
    /// what was last known; leases not renewed before they expire are
    /// reported lost by a later tick or by [`LeaseKeeper::expire_unrenewed`].
    pub fn tick(&mut self, now: Time90k) -> Result<LeaseChanges, Error> {
        self.tick_inner(now)?;
        Ok(std::mem::take(&mut self.unreported))
    }

    fn tick_inner(&mut self, caller_now: Time90k) -> Result<(), Error> {
        let node = self.fence.node().to_owned();
        self.step("heartbeat")?;
        let now = match self.database_clock {
            true => self.db.database_time()?.unwrap_or(caller_now),
            false => caller_now,
        };
        let until = Time90k(now.0 + self.expiry_90k);
        let renew_due = !matches!(
            self.renewed,
            Some(r) if (0..self.renew_90k).contains(&(caller_now.0 - r.0))
        );
        if renew_due {
            self.db
                .heartbeat_node(&node, RECORDER_ROLE, &self.address, now)?;
            self.db.ensure_lease_rows()?;
            self.step("renew")?;
            // Out of the fence before anything else: no insert under a lease
            // that may be another's now.
            for camera in self
                .db
                .renew_leases(&node, &self.fence.held(), now, until)?
            {
                self.fence.drop_camera(camera);
                self.unreported.lost.push(camera);
            }
            self.renewed = Some(caller_now);
        }

        self.step("live_nodes")?;
        let live = self
            .db
            .live_nodes(RECORDER_ROLE, Time90k(now.0 - self.expiry_90k))?;
        self.step("leases")?;
        let rows = self.db.leases()?;
        let recordable = rows.iter().filter(|r| r.recordable).count();
        let n = live.len().max(1);
        let rank = live.iter().position(|l| l.id == node).unwrap_or(n - 1);
        let share = recordable / n + usize::from(rank < recordable % n);

        // Cameras no longer recorded are given up first, then the excess
        // (the highest camera ids).
        let mut held = self.fence.held();
        let unrecordable: Vec<CameraId> = rows
            .iter()
            .filter(|r| !r.recordable)
            .map(|r| r.camera_id)
            .collect();
        let mut release: Vec<(CameraId, i64)> = Vec::new();
        held.retain(|h| {
            let keep = !unrecordable.contains(&h.0);
            if !keep {
                release.push(*h);
            }
            keep
        });
        while held.len() > share {
            release.push(held.pop().expect("longer than the share"));
        }
        for (camera, token) in release {
            // Out of the fence and noted before the call: whether or not
            // the release reaches the database, the camera is given up
            // (an unreleased lease expires).
            self.fence.drop_camera(camera);
            self.unreported.lost.push(camera);
            self.step("release")?;
            self.db.release_lease(camera, &node, token)?;
        }

        let mut want = share.saturating_sub(held.len());
        for r in &rows {
            if want == 0 {
                break;
            }
            if !r.recordable || r.expires_90k >= now || self.fence.token(r.camera_id).is_some() {
                continue;
            }
            self.step("take")?;
            // Another node may take it first: then `None`, and on to the next.
            if let Some(token) = self.db.take_lease(r.camera_id, &node, now, until)? {
                self.fence.hold(r.camera_id, token);
                self.unreported.gained.push((r.camera_id, token));
                want -= 1;
            }
        }
        Ok(())
    }

    /// Self-fencing, after a failed [`LeaseKeeper::tick`] (the database
    /// does not answer): once `now` is past the expiry of the latest
    /// successful renewal, every camera leaves the fence and is returned
    /// (the caller stops recording them), since another node may take them
    /// from then on. Before that, nothing changes and nothing is returned:
    /// the node records on while its leases are live by its own clock.
    ///
    /// Cameras a failed tick took out of the fence are returned at once too
    /// (they leave the caller's recording now, not at the next successful
    /// tick). Cameras a failed tick gained and that leave the fence here are
    /// never reported gained.
    pub fn expire_unrenewed(&mut self, now: Time90k) -> Vec<CameraId> {
        let mut lost = std::mem::take(&mut self.unreported.lost);
        let live = self.renewed.is_some_and(|r| now.0 < r.0 + self.expiry_90k);
        if live {
            return lost;
        }
        self.unreported.gained.clear();
        for (camera, _) in self.fence.held() {
            self.fence.drop_camera(camera);
            if !lost.contains(&camera) {
                lost.push(camera);
            }
        }
        lost
    }

    /// Gives up every lease held (an orderly stop): the other recorders
    /// take the cameras at their next tick instead of after the expiry.
    pub fn release_all(&mut self) -> Result<Vec<CameraId>, Error> {
        let node = self.fence.node().to_owned();
        let mut out = Vec::new();
        for (camera, token) in self.fence.held() {
            self.fence.drop_camera(camera);
            self.db.release_lease(camera, &node, token)?;
            out.push(camera);
        }
        Ok(out)
    }
}

/// The job lease under which one node at a time runs the installation's
/// maintenance jobs (retention and destruction, the breach register's
/// scans, the access record's pruning, the data-retention rules, root-key
/// rotation) over a shared database.
pub const MAINTENANCE_JOB: &str = "maintenance";

/// One node's side of a job lease (`db/jobs.rs`): taken or renewed at each
/// [`JobLease::tick`] (every [`RENEW_PERIOD_90K`]); the node runs the job
/// while it holds the lease. Like [`LeaseKeeper`], the lease's times are the
/// database server's clock on PostgreSQL ([`Db::database_time`]), and it
/// fences itself: when the database does not answer, the node keeps the
/// lease only until the expiry of its latest renewal by its own clock. The
/// token of the latest take is kept in the lease's [`JobGuard`], which the
/// jobs check before they destroy anything.
pub struct JobLease {
    db: Db,
    expiry_90k: i64,
    /// When the lease was last taken or renewed by this node (its own
    /// clock, for self-fencing).
    renewed: Option<Time90k>,
    /// Whose clock lease times are on.
    database_clock: bool,
    guard: JobGuard,
}

impl JobLease {
    /// Job lease `name` for node `node`, lasting [`LEASE_EXPIRY_90K`].
    pub fn new(db: Db, name: &str, node: &str) -> JobLease {
        let database_clock = db.is_postgres();
        JobLease {
            guard: JobGuard {
                held: Some(Arc::new(GuardInner {
                    db: db.clone(),
                    name: name.to_owned(),
                    node: node.to_owned(),
                    token: Mutex::new(None),
                })),
            },
            db,
            expiry_90k: LEASE_EXPIRY_90K,
            renewed: None,
            database_clock,
        }
    }

    /// Another expiry (tests).
    pub fn with_expiry(mut self, expiry_90k: i64) -> JobLease {
        self.expiry_90k = expiry_90k;
        self
    }

    /// Lease times on the caller's clock (the `now` given to
    /// [`JobLease::tick`]) even on PostgreSQL (tests with a simulated clock).
    pub fn with_caller_clock(mut self) -> JobLease {
        self.database_clock = false;
        self
    }

    /// The guard the jobs check before each destructive step: it says
    /// whether this node still holds the lease under the token of its
    /// latest take.
    pub fn guard(&self) -> JobGuard {
        self.guard.clone()
    }

    /// Takes or renews the lease at `now` (the caller's clock; on
    /// PostgreSQL the database's time is used instead); returns whether
    /// this node holds it (and runs the job). On an error,
    /// [`JobLease::holds`] says whether the node still may.
    pub fn tick(&mut self, now: Time90k) -> Result<bool, Error> {
        let at = match self.database_clock {
            true => self.db.database_time()?.unwrap_or(now),
            false => now,
        };
        let inner = self.guard.held.as_ref().expect("a lease's guard");
        let until = Time90k(at.0 + self.expiry_90k);
        let token = self
            .db
            .take_job_lease(&inner.name, &inner.node, at, until)?;
        *inner.lock() = token;
        self.renewed = token.map(|_| now);
        Ok(token.is_some())
    }

    /// The token of this node's latest take, while it holds the lease.
    pub fn token(&self) -> Option<i64> {
        self.guard.held.as_ref().and_then(|g| *g.lock())
    }

    /// Whether this node holds the lease at `now` by its own clock: taken or
    /// renewed less than the expiry ago.
    pub fn holds(&self, now: Time90k) -> bool {
        self.renewed.is_some_and(|r| now.0 < r.0 + self.expiry_90k)
    }

    /// Gives the lease up (an orderly stop): another node takes it at its
    /// next tick.
    pub fn release(&mut self) -> Result<(), Error> {
        let inner = self.guard.held.as_ref().expect("a lease's guard");
        *inner.lock() = None;
        if self.renewed.take().is_some() {
            self.db.release_job_lease(&inner.name, &inner.node)?;
        }
        Ok(())
    }
}

struct GuardInner {
    db: Db,
    name: String,
    node: String,
    token: Mutex<Option<i64>>,
}

impl GuardInner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<i64>> {
        self.token.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What a maintenance job checks immediately before it destroys anything:
/// that its node still holds the job lease under the token of its latest
/// take ([`Db::holds_job_lease`]). A node that lost the lease (another took
/// it, even while this one was paused) stops before destroying. Without a
/// lease (the embedded database, one process) every check passes. Cheap
/// to clone; clones share.
#[derive(Clone, Default)]
pub struct JobGuard {
    held: Option<Arc<GuardInner>>,
}

impl JobGuard {
    /// The guard of a single process (the embedded database): always holds.
    pub fn unleased() -> JobGuard {
        JobGuard::default()
    }

    /// `Ok` when the job may destroy: no lease, or the lease is still this
    /// node's under its token; else [`Error::LeaseLost`].
    pub fn check(&self) -> Result<(), Error> {
        let Some(g) = &self.held else {
            return Ok(());
        };
        let token = *g.lock();
        let held = match token {
            Some(t) => g.db.holds_job_lease(&g.name, &g.node, t)?,
            None => false,
        };
        if held {
            Ok(())
        } else {
            Err(Error::LeaseLost(format!(
                "this node no longer holds the {} job lease",
                g.name
            )))
        }
    }
}
