//! The set of running camera ingests: start, stop and restart them while the
//! server runs (cameras added, changed or removed over the API).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use veil_base::CameraId;
use veil_store::db::CameraDetail;
use veil_store::leases::Fence;
use veil_store::recorder::{LiveHub, StopSignal};
use veil_store::Store;

use crate::status::{IngestState, StatusBoard};
use crate::{managed, spawn_rtsp, RtspSource};

/// A running ingest: how to stop it and how to wait for it.
struct Running {
    stop: StopSignal,
    task: tokio::task::JoinHandle<()>,
}

/// Starts and stops per-camera ingest tasks. Cheap to clone.
#[derive(Clone)]
pub struct Supervisor {
    store: Store,
    live: LiveHub,
    board: StatusBoard,
    default_segment_90k: i64,
    running: Arc<Mutex<HashMap<CameraId, Running>>>,
    /// Scale-out: only cameras whose lease the fence holds are started.
    fence: Option<Fence>,
}

/// How long [`Supervisor::stop`] waits for a camera to write its open segment.
const STOP_WAIT: Duration = Duration::from_secs(30);

impl Supervisor {
    /// A supervisor recording into `store`, publishing to `live` and `board`;
    /// cameras without their own segment length use `default_segment_90k`.
    pub fn new(
        store: Store,
        live: LiveHub,
        board: StatusBoard,
        default_segment_90k: i64,
    ) -> Supervisor {
        Supervisor {
            store,
            live,
            board,
            default_segment_90k,
            running: Arc::default(),
            fence: None,
        }
    }

    /// Scale-out: starts only the cameras whose lease `fence` holds (the
    /// node's lease keeper starts them when it takes them); a web node's
    /// fence holds none, so it records nothing.
    pub fn with_fence(mut self, fence: Fence) -> Supervisor {
        self.fence = Some(fence);
        self
    }

    /// Brings a stored (API-managed) camera's ingest in line with its settings:
    /// started or restarted when enabled, stopped when disabled, stopped with
    /// an explanatory `error` status when it cannot record.
    pub async fn apply(&self, d: &CameraDetail) {
        match managed::plan(self.store.keys(), d, self.default_segment_90k) {
            managed::Plan::Record(src) => self.start(*src).await,
            managed::Plan::Idle => {
                self.stop(d.id).await;
                self.board.update(d.id, |s| s.state = IngestState::Stopped);
            }
            managed::Plan::Refuse(message) => {
                self.stop(d.id).await;
                tracing::warn!(camera = d.id.0, error = %message, "camera not recording");
                self.failed(d.id, message);
            }
        }
    }

    /// The status board.
    pub fn board(&self) -> &StatusBoard {
        &self.board
    }

    /// Starts (or restarts, with new settings) a camera's ingest.
    pub async fn start(&self, src: RtspSource) {
        let camera = src.camera;
        // Scale-out: the pipeline writes only under the lease token the
        // camera is held under now (`Store::for_lease`): should it outlive
        // a loss of the lease, it cannot write beside its successor.
        let store = match &self.fence {
            Some(f) => match f.token(camera) {
                Some(token) => self.store.for_lease(camera, token),
                // Another node's camera, or nobody's yet: its holder records it.
                None => return,
            },
            None => self.store.clone(),
        };
        self.stop(camera).await;
        let stop = StopSignal::default();
        let task = spawn_rtsp(
            store,
            self.live.clone(),
            self.board.clone(),
            src,
            stop.clone(),
        );
        self.lock().insert(camera, Running { stop, task });
    }

    /// Records that a camera could not be started (e.g. its password cannot be
    /// read): status `error` with `message`.
    pub fn failed(&self, camera: CameraId, message: String) {
        self.board.update(camera, |s| {
            s.state = IngestState::Error;
            s.last_error = Some(message);
        });
    }

    /// Stops a camera's ingest, waiting until its open segment is written.
    pub async fn stop(&self, camera: CameraId) {
        let running = self.lock().remove(&camera);
        if let Some(r) = running {
            r.stop.stop();
            if tokio::time::timeout(STOP_WAIT, r.task).await.is_err() {
                tracing::warn!(camera = camera.0, "camera did not stop in time");
            }
        }
    }

    /// Stops every camera (shutdown), each writing its open segment.
    pub async fn stop_all(&self) {
        let all: Vec<CameraId> = self.lock().keys().copied().collect();
        futures::future::join_all(all.into_iter().map(|c| self.stop(c))).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CameraId, Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}
