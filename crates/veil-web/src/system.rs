//! The server's operating figures: `GET /metrics` (Prometheus text format),
//! `GET /api/v1/system` (JSON) and the `/system` page, all behind
//! `metrics.read` on the system.
//!
//! The figures are counted where events happen (the live hub counts frames,
//! the store times segment writes, the access record times appends, the
//! login throttles count failures by reason) and only read here. Labels are
//! camera ids and fixed words: never a name, an address or a camera URL.

use std::fmt::Write as _;

use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use veil_access::{Action, Resource};
use veil_base::metrics::{Kind, TextEncoder, CONTENT_TYPE};
use veil_base::{CameraId, Time90k};
use veil_ingest::IngestState;

use crate::auth::Session;
use crate::error::ApiError;
use crate::{blocking, AppState};

/// The server's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Every state a camera can be in, for the per-state gauge.
const STATES: [&str; 5] = ["connecting", "recording", "standby", "error", "stopped"];

/// One camera's figures.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CameraFigures {
    /// Camera id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// `connecting`, `recording`, `standby`, `error` or `stopped`.
    pub state: &'static str,
    /// `standby`: why nothing is recorded.
    pub standby_reason: Option<&'static str>,
    /// Frames per second now (two decimals).
    pub fps: f64,
    /// Video bits per second now.
    pub bitrate_bps: u64,
    /// Frames received since the server started.
    pub frames_total: u64,
    /// Video bytes received since the server started.
    pub bytes_total: u64,
    /// Connection attempts that failed or ended since the server started.
    pub reconnects_total: u64,
    /// The last error (kept after recovery).
    pub last_error: Option<String>,
    /// When it happened, RFC 3339.
    pub last_error_at: Option<String>,
}

/// The data directory's space.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DiskFigures {
    /// Bytes free for Veil in the data directory's file system (`null` when
    /// the store is not a directory).
    pub free_bytes: Option<u64>,
    /// Bytes of the stored segment objects.
    pub used_bytes: u64,
    /// What recording cameras write now: the sum of their current video
    /// bitrates, in bytes per second.
    pub write_bytes_per_second: u64,
    /// How many days of recording the free space holds at that rate
    /// (`null` when nothing is being recorded or the free space is unknown).
    pub days_left: Option<f64>,
}

/// The access record's writer.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AccessRecordFigures {
    /// `ok`, or `failing` when appends cannot be made durable.
    pub state: &'static str,
    /// What is wrong, when failing.
    pub message: Option<String>,
    /// Appends waiting for the writer.
    pub queue: u64,
    /// Sequence number covered by the latest signed checkpoint.
    pub last_checkpoint_seq: Option<i64>,
    /// When it was signed, RFC 3339.
    pub last_checkpoint_at: Option<String>,
}

/// `GET /api/v1/system`: what the system page shows.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SystemFigures {
    /// The server's version.
    pub version: &'static str,
    /// Every camera, by id.
    pub cameras: Vec<CameraFigures>,
    /// The data directory.
    pub disk: DiskFigures,
    /// The access record.
    pub access_record: AccessRecordFigures,
}

/// The figures as they stand now.
async fn collect(state: &AppState) -> Result<SystemFigures, ApiError> {
    let db = state.store.db.clone();
    let (cameras, used_bytes) =
        blocking(move || Ok((db.cameras()?, db.segment_object_bytes()?))).await?;
    let mut out = Vec::with_capacity(cameras.len());
    for c in cameras {
        out.push(camera_figures(state, c.id, c.name, &c.source_kind));
    }
    let write_bytes_per_second: u64 = out
        .iter()
        .filter(|c| c.state == "recording")
        .map(|c| c.bitrate_bps / 8)
        .sum();
    let free_bytes = state.store.free_space().map_err(ApiError::internal)?;
    let days_left = match free_bytes {
        Some(free) if write_bytes_per_second > 0 => {
            Some(free as f64 / write_bytes_per_second as f64 / 86_400.0)
        }
        _ => None,
    };
    let audit = state.audit.clone();
    let (health, checkpoint) = tokio::task::spawn_blocking(move || {
        (
            audit.health(std::time::Duration::from_secs(2)),
            audit.latest_checkpoint(),
        )
    })
    .await
    .map_err(ApiError::internal)?;
    let checkpoint = checkpoint.unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot read the latest access-record checkpoint");
        None
    });
    Ok(SystemFigures {
        version: VERSION,
        cameras: out,
        disk: DiskFigures {
            free_bytes,
            used_bytes,
            write_bytes_per_second,
            days_left,
        },
        access_record: AccessRecordFigures {
            state: if health.is_ok() { "ok" } else { "failing" },
            message: health.err().map(|e| e.to_string()),
            queue: state.audit.metrics().queue.get().max(0.0) as u64,
            last_checkpoint_seq: checkpoint.as_ref().map(|c| c.seq),
            last_checkpoint_at: checkpoint.map(|c| c.time_90k.to_rfc3339()),
        },
    })
}

/// A camera's figures: the ingest status board for cameras the supervisor
/// runs, the live hub's wall-clock rates for the others (synthetic cameras),
/// and a storage fault over either.
fn camera_figures(state: &AppState, id: CameraId, name: String, kind: &str) -> CameraFigures {
    let feed = state.live.feed(id);
    let (feed_fps, feed_bps) = feed.as_ref().map_or((0.0, 0), |f| f.rate());
    let mut c = CameraFigures {
        id: id.0,
        name,
        state: if kind == "synthetic" && feed_fps > 0.0 {
            "recording"
        } else {
            "stopped"
        },
        standby_reason: None,
        fps: feed_fps,
        bitrate_bps: feed_bps,
        frames_total: feed.as_ref().map_or(0, |f| f.frames.get()),
        bytes_total: feed.as_ref().map_or(0, |f| f.bytes.get()),
        reconnects_total: 0,
        last_error: None,
        last_error_at: None,
    };
    if let Some(st) = state.ingest.board().get(id) {
        c.state = st.state.as_str();
        c.standby_reason = (st.state == IngestState::Standby)
            .then_some(st.standby_reason)
            .flatten();
        c.fps = st.fps;
        c.bitrate_bps = st.bitrate_bps;
        c.reconnects_total = st.reconnects;
        c.last_error = st.last_error;
        c.last_error_at = st.last_error_90k.map(Time90k::to_rfc3339);
    }
    if let Some(f) = state.store.write_fault(id) {
        c.state = "error";
        c.last_error = Some(f.message);
        c.last_error_at = Some(f.since.to_rfc3339());
    }
    c.fps = (c.fps * 100.0).round() / 100.0;
    c
}

/// `GET /api/v1/system`: the figures of the system page.
pub async fn figures(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<SystemFigures>, ApiError> {
    state.authorize(&s, Action::MetricsRead, Resource::System)?;
    Ok(Json(collect(&state).await?))
}

/// `GET /metrics`: the figures in the Prometheus text format.
pub async fn metrics(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    state.authorize(&s, Action::MetricsRead, Resource::System)?;
    let f = collect(&state).await?;
    let text = render(&state, &f);
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response())
}

/// A per-camera family: name, type, help and how to read its value.
type PerCamera = (&'static str, Kind, &'static str, fn(&CameraFigures) -> f64);

/// Writes every family.
fn render(state: &AppState, f: &SystemFigures) -> String {
    let mut e = TextEncoder::default();
    e.family(
        "veil_build_info",
        Kind::Gauge,
        "The server's version (always 1).",
    );
    e.sample("veil_build_info", &[("version", f.version)], 1.0);

    let ids: Vec<String> = f.cameras.iter().map(|c| c.id.to_string()).collect();
    e.family(
        "veil_camera_state",
        Kind::Gauge,
        "1 for the state each camera is in, 0 for the others.",
    );
    for (c, id) in f.cameras.iter().zip(&ids) {
        for s in STATES {
            let v = if c.state == s { 1.0 } else { 0.0 };
            e.sample("veil_camera_state", &[("camera", id), ("state", s)], v);
        }
    }
    let per_camera: [PerCamera; 5] = [
        (
            "veil_camera_frames_total",
            Kind::Counter,
            "Video frames received from the camera since the server started.",
            |c| c.frames_total as f64,
        ),
        (
            "veil_camera_bytes_total",
            Kind::Counter,
            "Video bytes received from the camera since the server started.",
            |c| c.bytes_total as f64,
        ),
        (
            "veil_camera_reconnects_total",
            Kind::Counter,
            "Camera connections that failed or ended since the server started.",
            |c| c.reconnects_total as f64,
        ),
        (
            "veil_camera_frames_per_second",
            Kind::Gauge,
            "Frame rate over the last measurement window.",
            |c| c.fps,
        ),
        (
            "veil_camera_bitrate_bits_per_second",
            Kind::Gauge,
            "Video bitrate over the last measurement window.",
            |c| c.bitrate_bps as f64,
        ),
    ];
    for (name, kind, help, value) in per_camera {
        e.family(name, kind, help);
        for (c, id) in f.cameras.iter().zip(&ids) {
            e.sample(name, &[("camera", id)], value(c));
        }
    }

    let store = state.store.metrics();
    e.family(
        "veil_segment_write_duration_seconds",
        Kind::Histogram,
        "Storing one segment end to end: sealing, the durable object, the database row.",
    );
    e.histogram(
        "veil_segment_write_duration_seconds",
        &[],
        &store.segment_write_seconds.snapshot(),
    );
    e.family(
        "veil_segment_write_failures_total",
        Kind::Counter,
        "Segments that could not be stored (lost).",
    );
    e.sample(
        "veil_segment_write_failures_total",
        &[],
        store.segment_write_failures.get() as f64,
    );

    if let Some(free) = f.disk.free_bytes {
        e.family(
            "veil_data_dir_free_bytes",
            Kind::Gauge,
            "Bytes free for Veil in the data directory's file system.",
        );
        e.sample("veil_data_dir_free_bytes", &[], free as f64);
    }
    e.family(
        "veil_data_dir_segment_bytes",
        Kind::Gauge,
        "Bytes of stored segment objects.",
    );
    e.sample("veil_data_dir_segment_bytes", &[], f.disk.used_bytes as f64);
    e.family(
        "veil_recording_write_bytes_per_second",
        Kind::Gauge,
        "Sum of the current video bitrates of recording cameras, in bytes per second.",
    );
    e.sample(
        "veil_recording_write_bytes_per_second",
        &[],
        f.disk.write_bytes_per_second as f64,
    );

    let audit = state.audit.metrics();
    e.family(
        "veil_access_record_append_duration_seconds",
        Kind::Histogram,
        "Appending an access-record entry until it is durable.",
    );
    e.histogram(
        "veil_access_record_append_duration_seconds",
        &[],
        &audit.append_seconds.snapshot(),
    );
    e.family(
        "veil_access_record_append_failures_total",
        Kind::Counter,
        "Access-record appends that failed (their actions were refused).",
    );
    e.sample(
        "veil_access_record_append_failures_total",
        &[],
        audit.append_failures.get() as f64,
    );
    e.family(
        "veil_access_record_queue_length",
        Kind::Gauge,
        "Access-record appends waiting for the writer.",
    );
    e.sample(
        "veil_access_record_queue_length",
        &[],
        f.access_record.queue as f64,
    );
    e.family(
        "veil_access_record_up",
        Kind::Gauge,
        "1 while access-record appends can be made durable, else 0.",
    );
    e.sample(
        "veil_access_record_up",
        &[],
        if f.access_record.state == "ok" {
            1.0
        } else {
            0.0
        },
    );
    if let Some(at) = &f.access_record.last_checkpoint_at {
        if let Some(t) = Time90k::parse_rfc3339(at) {
            e.family(
                "veil_access_record_last_checkpoint_timestamp_seconds",
                Kind::Gauge,
                "When the latest access-record checkpoint was signed (Unix time).",
            );
            e.sample(
                "veil_access_record_last_checkpoint_timestamp_seconds",
                &[],
                t.0 as f64 / veil_base::TIME_UNITS_PER_SEC as f64,
            );
        }
    }

    e.family(
        "veil_login_failures_total",
        Kind::Counter,
        "Failed logins since the server started, by reason (password, second_factor, locked).",
    );
    for (reason, n) in state.throttles.failures() {
        e.sample(
            "veil_login_failures_total",
            &[("reason", reason.as_str())],
            n as f64,
        );
    }
    e.finish()
}

/// `GET /system`: the system status page; its script fills it from
/// `GET /api/v1/system`.
pub async fn page(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    state.authorize(&s, Action::MetricsRead, Resource::System)?;
    let shell = crate::shell::Shell::new(&state, &s, &headers, "/system").await?;
    let t = |k| crate::ui::escape(shell.t(k));
    let mut c = String::new();
    let _ = write!(
        c,
        "<h1>{title}</h1>\n\
         <p id=\"system-message\" class=\"message\" role=\"status\" hidden></p>\n\
         <section class=\"system-section\" aria-labelledby=\"system-cameras-h\">\n\
         <h2 id=\"system-cameras-h\">{cameras}</h2>\n\
         <table class=\"system-cameras\"><thead><tr>\
         <th scope=\"col\">{camera}</th><th scope=\"col\">{state}</th>\
         <th scope=\"col\" class=\"num\">{fps}</th><th scope=\"col\" class=\"num\">{bitrate}</th>\
         <th scope=\"col\" class=\"num\">{reconnects}</th><th scope=\"col\">{last_error}</th>\
         </tr></thead><tbody id=\"system-camera-rows\"></tbody></table>\n\
         </section>\n\
         <section class=\"system-section\" aria-labelledby=\"system-disk-h\">\n\
         <h2 id=\"system-disk-h\">{disk}</h2>\n\
         <dl class=\"system-figures\">\
         <dt>{used}</dt><dd id=\"system-disk-used\"></dd>\
         <dt>{free}</dt><dd id=\"system-disk-free\"></dd>\
         <dt>{rate}</dt><dd id=\"system-disk-rate\"></dd>\
         <dt>{days}</dt><dd id=\"system-disk-days\"></dd>\
         </dl>\n<p class=\"muted\">{days_how}</p>\n\
         </section>\n\
         <section class=\"system-section\" aria-labelledby=\"system-audit-h\">\n\
         <h2 id=\"system-audit-h\">{audit}</h2>\n\
         <dl class=\"system-figures\">\
         <dt>{writer}</dt><dd id=\"system-audit-state\"></dd>\
         <dt>{queue}</dt><dd id=\"system-audit-queue\"></dd>\
         <dt>{checkpoint}</dt><dd id=\"system-audit-checkpoint\"></dd>\
         </dl>\n\
         </section>\n\
         <p class=\"system-version\">{version_label} <span id=\"system-version\">{version}</span></p>\n\
         <p class=\"muted\" id=\"system-updated\" aria-live=\"off\"></p>\n",
        title = t("system.title"),
        cameras = t("system.cameras"),
        camera = t("system.camera"),
        state = t("system.state"),
        fps = t("system.fps"),
        bitrate = t("system.bitrate"),
        reconnects = t("system.reconnects"),
        last_error = t("system.last_error"),
        disk = t("system.disk"),
        used = t("system.disk_used"),
        free = t("system.disk_free"),
        rate = t("system.write_rate"),
        days = t("system.days_left"),
        days_how = t("system.days_how"),
        audit = t("system.access_record"),
        writer = t("system.writer_state"),
        queue = t("system.queue"),
        checkpoint = t("system.last_checkpoint"),
        version_label = t("system.version"),
        version = crate::ui::escape(VERSION),
    );
    Ok(shell.page(shell.t("system.title"), "system.js", &c))
}
