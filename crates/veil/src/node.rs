//! Scale-out roles of a `veil serve` process (`--role recorder|web|all`),
//! the node's id, recording through camera leases, the maintenance jobs
//! under a job lease, and the cameras' status written for every node
//! (`docs/design/scale-out.md`, "Roles, singleton jobs and status").
//!
//! With SQLite one process owns the data directory: it records every
//! camera and runs every job, as before; only `all` is accepted.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use veil_base::{CameraId, SharedClock, Time90k};
use veil_store::leases::{JobGuard, JobLease, LeaseKeeper, MAINTENANCE_JOB};
use veil_store::recorder::{self, LiveHub, StopSignal, SyntheticRecording};
use veil_store::Store;

/// What a `veil serve` process does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Records the cameras it holds leases of; serves no web.
    Recorder,
    /// Serves the web and the API; records nothing.
    Web,
    /// Both (the default).
    All,
}

impl Role {
    /// Whether the process records.
    pub fn records(self) -> bool {
        self != Role::Web
    }

    /// Whether the process serves the web and the API.
    pub fn serves(self) -> bool {
        self != Role::Recorder
    }

    /// Its name on the command line and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Recorder => "recorder",
            Role::Web => "web",
            Role::All => "all",
        }
    }
}

/// The refusal of a role other than `all` on the embedded database.
pub const ROLES_NEED_POSTGRES: &str = "roles need a shared PostgreSQL database ([database] url)";

/// The file in the data directory keeping a generated node id.
pub const NODE_ID_FILE: &str = "node-id";

/// The node's id: `[node] id` when given, else the one kept in the data
/// directory's `node-id` (0600), generated at the first start.
pub fn node_id(configured: Option<&str>, data: &Path) -> anyhow::Result<String> {
    if let Some(id) = configured {
        return Ok(id.to_owned());
    }
    let file = data.join(NODE_ID_FILE);
    match std::fs::read_to_string(&file) {
        Ok(text) => {
            let id = text.trim();
            if !crate::config::node_id_ok(id) {
                anyhow::bail!("{} does not hold a valid node id", file.display());
            }
            Ok(id.to_owned())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = format!("node-{:016x}", rand::random::<u64>());
            veil_store::keys::create_secret_file(&file, format!("{id}\n").as_bytes())
                .with_context(|| format!("cannot write {}", file.display()))?;
            Ok(id)
        }
        Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", file.display())),
    }
}

/// How a camera of the configuration file starts recording.
pub enum Starter {
    /// A synthetic camera.
    Synthetic(SyntheticRecording),
    /// An RTSP camera.
    Rtsp(veil_ingest::RtspSource),
    /// One that cannot start: the message its status shows.
    Failed(String),
}

/// The running synthetic cameras: each one's stop signal and task.
type SyntheticTasks = HashMap<CameraId, (StopSignal, tokio::task::JoinHandle<()>)>;

/// The node's recording: the cameras of the configuration file (by their
/// starters) and those added over the API (through the ingest supervisor),
/// started and stopped one by one. Cheap to clone.
#[derive(Clone)]
pub struct Recorders {
    store: Store,
    live: LiveHub,
    ingest: veil_ingest::Supervisor,
    starters: Arc<HashMap<CameraId, Starter>>,
    synthetic: Arc<Mutex<SyntheticTasks>>,
}

impl Recorders {
    /// Recording into `store` for the configuration's `starters`.
    pub fn new(
        store: Store,
        live: LiveHub,
        ingest: veil_ingest::Supervisor,
        starters: HashMap<CameraId, Starter>,
    ) -> Recorders {
        Recorders {
            store,
            live,
            ingest,
            starters: Arc::new(starters),
            synthetic: Arc::default(),
        }
    }

    /// Every camera this node could record: the configuration's, then
    /// those added over the API, by id.
    pub fn configured(&self) -> Vec<CameraId> {
        let mut v: Vec<CameraId> = self.starters.keys().copied().collect();
        v.sort();
        v
    }

    /// Starts recording `camera`; on a shared database, gained under lease
    /// `token`: the pipeline writes only under that token
    /// (`Store::for_lease`; the ingest supervisor binds its pipelines to
    /// the fence's token the same way). `None`: no leases (SQLite).
    pub async fn start(&self, camera: CameraId, token: Option<i64>) -> anyhow::Result<()> {
        match self.starters.get(&camera) {
            Some(Starter::Synthetic(rec)) => {
                self.stop(camera).await;
                let stop = StopSignal::default();
                let task = recorder::spawn_synthetic(
                    match token {
                        Some(t) => self.store.for_lease(camera, t),
                        None => self.store.clone(),
                    },
                    self.live.clone(),
                    rec.clone(),
                    stop.clone(),
                )?;
                self.lock().insert(camera, (stop, task));
            }
            Some(Starter::Rtsp(src)) => self.ingest.start(src.clone()).await,
            Some(Starter::Failed(message)) => self.ingest.failed(camera, message.clone()),
            None => {
                let db = self.store.db.clone();
                let details = tokio::task::spawn_blocking(move || db.camera_details()).await??;
                if let Some(d) = details.iter().find(|d| d.id == camera && d.managed) {
                    self.ingest.apply(d).await;
                }
            }
        }
        Ok(())
    }

    /// Stops recording `camera`, its open segment written (refused when
    /// its lease is already another's).
    pub async fn stop(&self, camera: CameraId) {
        let synthetic = self.lock().remove(&camera);
        if let Some((stop, task)) = synthetic {
            stop.stop();
            if tokio::time::timeout(std::time::Duration::from_secs(30), task)
                .await
                .is_err()
            {
                tracing::warn!(camera = camera.0, "camera did not stop in time");
            }
        }
        self.ingest.stop(camera).await;
    }

    /// Stops every camera (shutdown), each writing its open segment.
    pub async fn stop_all(&self) {
        let synthetic: Vec<CameraId> = self.lock().keys().copied().collect();
        let all = futures::future::join(
            futures::future::join_all(synthetic.into_iter().map(|c| self.stop(c))),
            self.ingest.stop_all(),
        );
        if tokio::time::timeout(std::time::Duration::from_secs(30), all)
            .await
            .is_err()
        {
            tracing::warn!("open segments not written within 30 s; stopping anyway");
        }
    }

    /// `camera`'s status on this node, as the camera API shows it: its
    /// state and the write fault, the last error or the standby reason.
    pub fn local_status(&self, camera: CameraId) -> (String, String) {
        if let Some(f) = self.store.write_fault(camera) {
            return ("error".into(), f.message);
        }
        if let Some(st) = self.ingest.board().get(camera) {
            let detail = match st.state {
                veil_ingest::status::IngestState::Standby => {
                    st.standby_reason.unwrap_or_default().to_owned()
                }
                veil_ingest::status::IngestState::Error => st.last_error.unwrap_or_default(),
                _ => String::new(),
            };
            return (st.state.as_str().into(), detail);
        }
        match self.starters.get(&camera) {
            Some(Starter::Synthetic(rec)) if rec.live_only => {
                ("standby".into(), veil_ingest::gate::LIVE_ONLY.into())
            }
            Some(Starter::Synthetic(_)) if !self.store.may_record(camera) => {
                ("standby".into(), veil_ingest::gate::NO_PURPOSE.into())
            }
            Some(Starter::Synthetic(_)) if self.lock().contains_key(&camera) => {
                ("recording".into(), String::new())
            }
            _ => ("stopped".into(), String::new()),
        }
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<CameraId, (StopSignal, tokio::task::JoinHandle<()>)>>
    {
        self.synthetic.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn ids(cameras: &[CameraId]) -> String {
    let v: Vec<String> = cameras.iter().map(|c| c.0.to_string()).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(",")
    }
}

/// Records through leases until `stop` fires: every poll period (1 s) the
/// keeper ticks (renewing every renewal period, looking for leases to take
/// at every tick); cameras lost stop at once, cameras gained start; the
/// status of every camera held is written for the other nodes (each
/// renewal period, and at once when it changes). A tick that
/// fails (the database does not answer) keeps the cameras until the
/// leases' expiry by this node's clock, then stops them all. At the stop:
/// the cameras stop (their open segments written), then every lease is
/// given up, so the other recorders take them at their next tick.
pub async fn record_through_leases(
    keeper: LeaseKeeper,
    recorders: Recorders,
    clock: SharedClock,
    role: Role,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let node = keeper.fence().node().to_owned();
    let period = std::time::Duration::from_millis((keeper.poll_period_90k() / 90) as u64);
    let renew_90k = keeper.renew_period_90k();
    let keeper = Arc::new(Mutex::new(keeper));
    let mut stop = stop;
    // The statuses last written, and when all of them were.
    let mut written: HashMap<CameraId, (String, String)> = HashMap::new();
    let mut all_written: Option<Time90k> = None;
    loop {
        let now = clock.now();
        let k = keeper.clone();
        let ticked = tokio::task::spawn_blocking(move || {
            let mut k = k.lock().unwrap_or_else(|p| p.into_inner());
            match k.tick(now) {
                Ok(c) => Ok(c),
                Err(e) => Err((e.to_string(), k.expire_unrenewed(now))),
            }
        })
        .await;
        let (lost, gained) = match ticked {
            Ok(Ok(c)) => (c.lost, c.gained),
            Ok(Err((e, lost))) => {
                tracing::warn!(node = %node, error = %e, "lease renewal failed");
                if !lost.is_empty() {
                    tracing::warn!(
                        node = %node,
                        "leases expired without renewal: cameras {} stopped",
                        ids(&lost)
                    );
                }
                (lost, Vec::new())
            }
            Err(e) => {
                tracing::error!(error = %e, "lease keeper failed");
                (Vec::new(), Vec::new())
            }
        };
        for c in &lost {
            recorders.stop(*c).await;
        }
        for (c, token) in &gained {
            if let Err(e) = recorders.start(*c, Some(*token)).await {
                tracing::error!(camera = c.0, error = %e, "camera not started");
            }
        }
        let held: Vec<CameraId> = {
            let k = keeper.lock().unwrap_or_else(|p| p.into_inner());
            k.fence().held().into_iter().map(|h| h.0).collect()
        };
        if !lost.is_empty() || !gained.is_empty() {
            // Observable start-up and takeover (tests and operators).
            tracing::info!(
                "node {node} role {} holds cameras {}",
                role.as_str(),
                ids(&held)
            );
        }
        let all = !matches!(all_written, Some(t) if (0..renew_90k).contains(&(now.0 - t.0)));
        if write_status(&recorders, &node, &held, now, all, &mut written).await && all {
            all_written = Some(now);
        }
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = stop.changed() => break,
        }
    }
    let held: Vec<CameraId> = {
        let k = keeper.lock().unwrap_or_else(|p| p.into_inner());
        k.fence().held().into_iter().map(|h| h.0).collect()
    };
    for c in &held {
        recorders.stop(*c).await;
    }
    let k = keeper.clone();
    match tokio::task::spawn_blocking(move || {
        k.lock().unwrap_or_else(|p| p.into_inner()).release_all()
    })
    .await
    {
        Ok(Ok(released)) => tracing::info!(
            "node {node} role {} released cameras {}",
            role.as_str(),
            ids(&released)
        ),
        Ok(Err(e)) => tracing::warn!(node = %node, error = %e, "leases not released"),
        Err(e) => tracing::warn!(node = %node, error = %e, "leases not released"),
    }
}

/// Writes the status of the cameras held for the other nodes: of every
/// one when `all`, else of those whose status differs from the one last
/// written (`written`, kept up to date). Whether the writes succeeded.
async fn write_status(
    recorders: &Recorders,
    node: &str,
    held: &[CameraId],
    now: Time90k,
    all: bool,
    written: &mut HashMap<CameraId, (String, String)>,
) -> bool {
    written.retain(|c, _| held.contains(c));
    let rows: Vec<(CameraId, String, String)> = held
        .iter()
        .map(|c| {
            let (s, d) = recorders.local_status(*c);
            (*c, s, d)
        })
        .filter(|(c, s, d)| all || written.get(c).is_none_or(|w| (&w.0, &w.1) != (s, d)))
        .collect();
    if rows.is_empty() {
        return true;
    }
    let db = recorders.store.db.clone();
    let node = node.to_owned();
    let r = tokio::task::spawn_blocking(move || {
        for (c, s, d) in &rows {
            db.set_camera_status(*c, &node, s, d, now)?;
        }
        Ok::<_, veil_store::Error>(rows)
    })
    .await;
    match r {
        Ok(Ok(rows)) => {
            for (c, s, d) in rows {
                written.insert(c, (s, d));
            }
            true
        }
        _ => {
            tracing::warn!("camera status not written");
            false
        }
    }
}

/// A maintenance job: started when this node may run the jobs, with the
/// guard it checks immediately before each destructive step (on a shared
/// database, that the node still holds the job lease under its token).
pub type Job = Box<dyn Fn(JobGuard) -> tokio::task::JoinHandle<()> + Send + Sync>;

/// Runs the maintenance jobs: at once and for good on the embedded
/// database (`lease` `None`); on a shared one only while this node holds
/// the job lease [`MAINTENANCE_JOB`] (taken or renewed every renewal
/// period; lost, the jobs are aborted; given up at `stop`).
pub async fn run_jobs(
    jobs: Vec<Job>,
    lease: Option<JobLease>,
    node: String,
    clock: SharedClock,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let Some(lease) = lease else {
        for j in &jobs {
            j(JobGuard::unleased());
        }
        return;
    };
    let guard = lease.guard();
    let lease = Arc::new(Mutex::new(lease));
    let mut running: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    let mut stop = stop;
    let period =
        std::time::Duration::from_millis((veil_store::leases::RENEW_PERIOD_90K / 90) as u64);
    loop {
        let now = clock.now();
        let l = lease.clone();
        let holds = tokio::task::spawn_blocking(move || {
            let mut l = l.lock().unwrap_or_else(|p| p.into_inner());
            match l.tick(now) {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(error = %e, "job lease renewal failed");
                    l.holds(now)
                }
            }
        })
        .await
        .unwrap_or(false);
        if holds && running.is_empty() {
            tracing::info!("node {node} runs the {MAINTENANCE_JOB} jobs");
            running = jobs.iter().map(|j| j(guard.clone())).collect();
        } else if !holds && !running.is_empty() {
            tracing::info!("node {node} no longer runs the {MAINTENANCE_JOB} jobs");
            for r in running.drain(..) {
                r.abort();
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = stop.changed() => break,
        }
    }
    for r in running.drain(..) {
        r.abort();
    }
    let l = lease.clone();
    let _ =
        tokio::task::spawn_blocking(move || l.lock().unwrap_or_else(|p| p.into_inner()).release())
            .await;
}
