//! Wiring: opens the store, recovers, bootstraps the first account, starts the
//! recorders and the HTTPS server.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use veil_audit::{AccessRecord, ClientAddressPolicy};
use veil_base::{SharedClock, SystemClock, TIME_UNITS_PER_SEC};
use veil_media::synthetic::SyntheticConfig;
use veil_store::recorder::{self, LiveHub, SyntheticRecording};
use veil_store::{DataDir, Store};
use veil_web::{AppState, SessionPolicy, Transport};

use crate::config::{self, Config};

pub use crate::node::Role;

/// Runs the server (role `all`) until the process is stopped.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    run_as(cfg, Role::All).await
}

/// Runs the server in `role` until the process is stopped
/// (`docs/design/scale-out.md`, "Roles, singleton jobs and status").
pub async fn run_as(cfg: Config, role: Role) -> anyhow::Result<()> {
    // One process owns an embedded database: it does everything.
    if cfg.database.url.is_none() && role != Role::All {
        anyhow::bail!(crate::node::ROLES_NEED_POSTGRES);
    }
    let clock: SharedClock = Arc::new(SystemClock);
    let source = cfg.root_key.source(&cfg.data_dir)?;
    let mut store = Store::open_configured(
        &cfg.data_dir,
        clock.clone(),
        Some(source),
        cfg.objects.s3.as_ref(),
        cfg.database.url.as_deref(),
    )
    .await
    .with_context(|| format!("cannot open data directory {}", cfg.data_dir.display()))?;
    // Scale-out: on a shared database every node has an id and a fence;
    // a recorder's holds the cameras its lease keeper takes, a web node's
    // none (it records nothing).
    let shared = store.db.is_postgres();
    let node_id = crate::node::node_id(cfg.node.id.as_deref(), &cfg.data_dir)?;
    let fence = shared.then(|| veil_store::leases::Fence::new(&node_id));
    if let Some(f) = &fence {
        store.set_fence(f.clone());
    }
    tracing::info!("node {node_id} role {}", role.as_str());
    // Who can open the `original` rendition of masked cameras.
    store.set_lift_mode(cfg.masks.mode()?);
    let report = store.recover().await.context("recovery failed")?;
    tracing::info!(?report, "recovery done");

    // A recorder serves no web (the internal live channel to web nodes
    // will listen on [node] internal_address).
    let listener = if role.serves() {
        let l = std::net::TcpListener::bind(&cfg.listen)
            .with_context(|| format!("cannot listen on {}", cfg.listen))?;
        l.set_nonblocking(true)?;
        Some(l)
    } else {
        None
    };
    let addr = match &listener {
        Some(l) => l.local_addr()?.to_string(),
        None => String::new(),
    };
    // A recorder on a shared database serves its cameras' live frames to
    // the web nodes over the internal channel (mutual TLS from the root
    // key; "The internal channel" in docs/design/scale-out.md).
    let internal_listener = if role.records() && shared {
        let Some(a) = cfg.node.internal_listen.as_deref() else {
            anyhow::bail!(
                "[node] internal_listen = \"HOST:PORT\" is required for a recorder on a shared \
                 database: web nodes fetch its cameras' live view there"
            );
        };
        let l = std::net::TcpListener::bind(a)
            .with_context(|| format!("cannot listen on [node] internal_listen {a}"))?;
        l.set_nonblocking(true)?;
        Some(l)
    } else {
        None
    };
    let internal_address = match &internal_listener {
        Some(l) if cfg.node.internal_address.is_empty() => l.local_addr()?.to_string(),
        _ => cfg.node.internal_address.clone(),
    };
    let internal_tls = if shared {
        let seed = store.keys().derive_from_root(veil_web::internal::CA_LABEL);
        Some(veil_web::internal::InternalTls::new(&seed, &node_id).map_err(anyhow::Error::msg)?)
    } else {
        None
    };

    // The first account: a random strong password. The port is bound first,
    // so a start that cannot serve never creates an account whose password
    // nobody saw. The demo prints it; a real deployment writes it to a
    // 0600 file in the data directory (stdout names the file), so it never
    // lands in the service journal, and the account must change it and
    // enrol a second factor at first login.
    let db = store.db.clone();
    let now = clock.now();
    let first_account = cfg.first_account.clone();
    let first_roles = cfg.first_account_roles.join(",");
    let demo = cfg.demo;
    let password_file = first_password_file(&cfg.data_dir);
    let serves = role.serves();
    let (user, password) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        veil_web::roles::setup_roles(&db, now)?;
        if !serves {
            // The first account is a web node's to create and show.
            return Ok((String::new(), None));
        }
        if let Some(u) = db.first_user()? {
            if demo {
                db.exempt_from_second_factor(u.id)?;
            }
            return Ok((u.name.unwrap_or_default(), None));
        }
        let password = veil_access::password::generate();
        let pseudonym = format!("u-{:016x}", rand::random::<u64>());
        db.insert_user(
            &pseudonym,
            &first_account,
            &veil_access::password::hash(&password),
            &first_roles,
            now,
        )?;
        let id = db.first_user()?.map(|u| u.id).expect("just created");
        if demo {
            // The demo runs on this machine for a look around; a real
            // deployment's first account enrols a second factor at first
            // login, as its administrator role requires.
            db.exempt_from_second_factor(id)?;
        } else {
            db.require_password_change(id)?;
        }
        Ok((first_account, Some(password)))
    })
    .await??;
    let shown = match password {
        Some(p) if !demo => {
            veil_store::keys::create_secret_file(&password_file, format!("{p}\n").as_bytes())?;
            Some(format!(" password-file: {}", password_file.display()))
        }
        Some(p) => Some(format!(" password: {p}")),
        None => {
            forget_first_password(&store, &password_file).await;
            None
        }
    };
    // Opened before the cameras start: their documented purposes (which
    // let them record) are recorded as they are written.
    let audit = open_access_record(&cfg, &store, &clock)?;
    if let Some(org) = cfg.organisation.clone() {
        let (db, audit) = (store.db.clone(), audit.clone());
        // The cameras whose purposes the file sets next may move to new sites.
        let mut replaced = Vec::new();
        for cam in &cfg.cameras {
            if cam.purpose().map_err(anyhow::Error::msg)?.is_some() {
                replaced.push(cam.name.clone());
            }
        }
        tokio::task::spawn_blocking(move || {
            veil_web::organisation::remember(&db, &audit, &org, &replaced)
        })
        .await?
        .map_err(anyhow::Error::msg)?;
    }
    let live = LiveHub::default();
    if let (Some(tls), true) = (&internal_tls, role.serves()) {
        // Cameras this node does not record are relayed from their holder.
        veil_web::internal::Relay::install(
            store.db.clone(),
            live.clone(),
            &node_id,
            tls,
            clock.clone(),
        );
    }
    let mut starters = std::collections::HashMap::new();
    let segment_90k = i64::from(cfg.recording.segment_seconds) * TIME_UNITS_PER_SEC;
    let mut ingest = veil_ingest::Supervisor::new(
        store.clone(),
        live.clone(),
        veil_ingest::StatusBoard::default(),
        segment_90k,
    );
    if let Some(f) = &fence {
        ingest = ingest.with_fence(f.clone());
    }
    let managed_names: std::collections::HashSet<String> = store
        .db
        .camera_details()?
        .into_iter()
        .filter(|d| d.managed)
        .map(|d| d.settings.name)
        .collect();
    let mut config_areas = Vec::new();
    for (i, cam) in cfg.cameras.iter().enumerate() {
        // The stored source names where a password comes from, never the password.
        let source = serde_json::to_string(&cam.source)?;
        if managed_names.contains(&cam.name) {
            anyhow::bail!(
                "camera {:?} in the configuration has the name of a camera added over the API; rename one",
                cam.name
            );
        }
        let id = store
            .db
            .upsert_camera(&cam.name, cam.source.kind(), &source, clock.now())?;
        // Set (and recorded) once the access record is open.
        config_areas.push((id, cam.area.clone()));
        // Shown by the camera API; checked when the configuration was loaded.
        store.db.set_camera_tracks(
            id,
            &cam.audio.consent("audio").map_err(anyhow::Error::msg)?,
            &cam.metadata
                .consent("metadata")
                .map_err(anyhow::Error::msg)?,
        )?;
        // Static privacy masks are fixed to the picture: a camera with masks
        // must not move (the API refuses the same with 409 masks_fixed).
        if cam.ptz_control
            && store.db.current_masks(id)?.is_some_and(|m| {
                serde_json::from_str::<Vec<serde_json::Value>>(&m.masks)
                    .map_or(true, |v| !v.is_empty())
            })
        {
            anyhow::bail!(
                "camera {:?} has privacy masks, which are fixed to the picture: remove them \
                 before setting ptz_control = true",
                cam.name
            );
        }
        store.db.set_camera_ptz(id, cam.ptz())?;
        // Its documented purpose (checked when the configuration was
        // loaded), written and recorded before it starts: without one it
        // does not record. No purpose keys: the API's purpose stays.
        if let Some(purpose) = cam.purpose().map_err(anyhow::Error::msg)? {
            let (store, audit) = (store.clone(), audit.clone());
            tokio::task::spawn_blocking(move || {
                veil_web::camera_purpose::remember(&store, &audit, id, &purpose)
            })
            .await?
            .map_err(|e| anyhow::anyhow!("camera {:?}: {e}", cam.name))?;
        }
        match &cam.source {
            config::Source::Synthetic {
                width,
                height,
                fps,
                bitrate_kbps,
                recording_mode,
            } => {
                let (width, height, fps, bitrate_kbps) = (*width, *height, *fps, *bitrate_kbps);
                starters.insert(
                    id,
                    crate::node::Starter::Synthetic(SyntheticRecording {
                        camera: id,
                        config: SyntheticConfig {
                            width,
                            height,
                            fps,
                            gop_frames: fps * 2,
                            bitrate_bps: bitrate_kbps.saturating_mul(1000),
                            seed: i as u32,
                        },
                        segment_90k,
                        live_only: recording_mode == veil_ingest::managed::LIVE_ONLY,
                    }),
                );
                if role.records() && cfg.backfill_minutes > 0 {
                    backfill(
                        store.clone(),
                        id,
                        SyntheticConfig {
                            width,
                            height,
                            fps,
                            gop_frames: fps * 2,
                            bitrate_bps: bitrate_kbps.saturating_mul(1000),
                            seed: i as u32,
                        },
                        cfg.backfill_minutes,
                        segment_90k,
                    )?;
                }
            }
            config::Source::Rtsp {
                url,
                username,
                password_file,
                password_env,
                transport,
                tls_fingerprint,
                ..
            } => {
                let password =
                    match read_password(password_file.as_deref(), password_env.as_deref()) {
                        Ok(p) => p,
                        Err(message) => {
                            // One misconfigured camera does not stop the others.
                            tracing::error!(camera = id.0, error = %message, "camera not started");
                            starters.insert(id, crate::node::Starter::Failed(message));
                            continue;
                        }
                    };
                let credentials = username.clone().map(|username| veil_ingest::Credentials {
                    username,
                    password: password.unwrap_or_default(),
                });
                // What the password is (a factory default, the same as
                // another camera's) is checked as it is set; never stored.
                veil_web::camera_passwords::record(
                    &store.db,
                    id,
                    credentials
                        .as_ref()
                        .map(|c| (c.username.as_str(), c.password.as_str())),
                )
                .with_context(|| format!("camera {:?}: password check", cam.name))?;
                starters.insert(
                    id,
                    crate::node::Starter::Rtsp(veil_ingest::RtspSource {
                        camera: id,
                        url: url.clone(),
                        credentials,
                        transport: match transport {
                            config::RtspTransport::Tcp => veil_ingest::RtspTransport::Tcp,
                            config::RtspTransport::Udp => veil_ingest::RtspTransport::Udp,
                        },
                        tls_fingerprint: tls_fingerprint
                            .as_deref()
                            .map(veil_ingest::tls::parse_fingerprint)
                            .transpose()
                            .map_err(|e| anyhow::anyhow!("camera {:?}: {e}", cam.name))?,
                        segment_90k,
                        timing: veil_ingest::IngestTiming::default(),
                        recording: cam
                            .source
                            .recording()
                            .map_err(|e| anyhow::anyhow!("camera {:?}: {e}", cam.name))?,
                        extra: veil_ingest::ExtraStreams {
                            audio: cam.audio.enabled,
                            metadata: cam.metadata.enabled,
                        },
                    }),
                );
            }
        }
    }
    let recorders =
        crate::node::Recorders::new(store.clone(), live.clone(), ingest.clone(), starters);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut lease_task = None;
    if role.records() && shared {
        // Cameras start and stop as this node's leases come and go.
        let keeper = veil_store::leases::LeaseKeeper::new(
            store.db.clone(),
            fence.clone().expect("shared"),
            &internal_address,
        );
        if let (Some(l), Some(tls)) = (internal_listener, internal_tls.clone()) {
            let st = veil_web::internal::InternalState {
                live: live.clone(),
                fence: fence.clone().expect("shared"),
            };
            tokio::spawn(async move { veil_web::internal::serve(l, &tls, st).await });
        }
        lease_task = Some(tokio::spawn(crate::node::record_through_leases(
            keeper,
            recorders.clone(),
            clock.clone(),
            role,
            stop_rx.clone(),
        )));
    } else if role.records() {
        for id in recorders.configured() {
            recorders
                .start(id, None)
                .await
                .with_context(|| format!("camera {}", id.0))?;
        }
        // Cameras added over the API.
        for d in store.db.camera_details()? {
            if d.managed {
                ingest.apply(&d).await;
            }
        }
    }

    let (transport, scheme) = match &cfg.tls {
        config::Tls::SelfSigned { names } => {
            let d = DataDir {
                root: cfg.data_dir.clone(),
            };
            let (cert, key) = veil_web::tls::ensure_self_signed(&d.tls_dir(), names)?;
            (Transport::Tls { cert, key }, "https")
        }
        config::Tls::Files { cert, key } => (
            Transport::Tls {
                cert: cert.clone(),
                key: key.clone(),
            },
            "https",
        ),
        config::Tls::PlainBehindProxy => (Transport::PlainBehindProxy, "http"),
    };
    // The configuration file's settings are written to the database at
    // start: on a shared database only by the web nodes (`web`, `all`),
    // which must all have the same sections (docs/design/scale-out.md); a
    // recorder uses what the database holds.
    let applies_config = !shared || role.serves();
    if !applies_config {
        tracing::info!("recorder on a shared database: the configuration file's retention, masks, areas and data-retention rules are left to the web nodes");
    }
    if applies_config {
        let (db, audit) = (store.db.clone(), audit.clone());
        let (rules, days) = (cfg.data_retention, cfg.audit.retention_days);
        tokio::task::spawn_blocking(move || {
            veil_web::data_retention::remember(&db, &audit, &rules, days)
        })
        .await?
        .map_err(anyhow::Error::msg)?;
    }
    if applies_config {
        let (store, audit, hours) = (store.clone(), audit.clone(), cfg.retention_hours);
        let justification = cfg.retention_justification.clone();
        tokio::task::spawn_blocking(move || {
            crate::retention_cli::remember_retention(
                &store,
                &audit,
                hours,
                justification.as_deref(),
            )
        })
        .await??;
    }
    if applies_config {
        let (store, audit, max) = (store.clone(), audit.clone(), cfg.max_retention_hours);
        let areas = config_areas;
        let lock_review_days = cfg.locks.max_review_days;
        let masks = cfg.masks.clone();
        let installation = crate::dpo_cli::installation(&cfg);
        tokio::task::spawn_blocking(move || {
            veil_web::dpo::remember_installation(&store.db, &installation)?;
            crate::retention_cli::remember_max_retention(&store, max)?;
            crate::retention_cli::remember_masks(&store, &audit, &masks)?;
            store.db.set_setting(
                veil_web::protections::MAX_REVIEW_SETTING,
                &lock_review_days.to_string(),
            )?;
            crate::retention_cli::remember_areas(&store, &audit, &areas)
        })
        .await??;
    }
    // The maintenance jobs: on a shared database one node at a time runs
    // them (crate::node::run_jobs).
    let mut jobs: Vec<crate::node::Job> = Vec::new();
    {
        let (store, audit, clock) = (store.clone(), audit.clone(), clock.clone());
        jobs.push(Box::new(move |guard| {
            tokio::spawn(crate::retention_cli::run_periodically(
                store.clone(),
                audit.clone(),
                clock.clone(),
                guard,
            ))
        }));
    }
    if shared {
        // Every node keeps the root key versions in memory: a rotation by
        // one node while others run loses data (docs/design/scale-out.md).
        tracing::warn!(
            "root key rotation does not run automatically on a shared database: rotate with \
             `veil keys rotate` while the other nodes are stopped"
        );
    } else {
        // The root key rotates every root_key_rotation_days.
        let (store, audit, days) = (store.clone(), audit.clone(), cfg.root_key_rotation_days);
        jobs.push(Box::new(move |_| {
            tokio::spawn(crate::keys_cli::run_periodically(
                store.clone(),
                audit.clone(),
                days,
            ))
        }));
    }
    {
        // Sessions, approvals, tokens, disabled accounts, bookmarks, motion
        // events and the access record, each by its own rule.
        let (store, audit, clock) = (store.clone(), audit.clone(), clock.clone());
        jobs.push(Box::new(move |guard| {
            tokio::spawn(veil_web::data_retention::run_periodically(
                store.clone(),
                audit.clone(),
                clock.clone(),
                SessionPolicy::default(),
                guard,
            ))
        }));
    }
    let state = AppState {
        store,
        live,
        audit: audit.clone(),
        clock,
        sessions: SessionPolicy::default(),
        throttles: Default::default(),
        ingest: ingest.clone(),
        proxies: veil_web::proxy::TrustedProxies::parse(&cfg.trusted_proxies)
            .map_err(anyhow::Error::msg)?,
        exports: veil_web::exports::Exports::new(
            veil_export::ExportKey::load_or_create(
                &veil_store::DataDir {
                    root: cfg.data_dir.clone(),
                }
                .export_key(),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        ),
    };
    // Exports a restart interrupted never resume: they fail, and their
    // partial files go (on a shared database only this node's). Expired
    // packages are destroyed every minute, each node its own.
    let n = veil_web::exports::fail_interrupted(&state)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    if n > 0 {
        tracing::warn!(
            exports = n,
            "exports interrupted by the restart were failed"
        );
    }
    // Every node destroys its own expired packages (their files are in its
    // data directory), not only the maintenance holder.
    tokio::spawn(veil_web::exports::run_periodically(
        state.clone(),
        std::time::Duration::from_secs(60),
    ));
    // The breach register's signals: new access-record entries, the data
    // directory's permissions every minute, the whole record verified hourly.
    {
        let state = state.clone();
        jobs.push(Box::new(move |_| {
            tokio::spawn(veil_web::breaches::run_periodically(
                state.clone(),
                std::time::Duration::from_secs(60),
            ))
        }));
    }
    let job_lease = shared.then(|| {
        veil_store::leases::JobLease::new(
            state.store.db.clone(),
            veil_store::leases::MAINTENANCE_JOB,
            &node_id,
        )
    });
    let jobs_task = tokio::spawn(crate::node::run_jobs(
        jobs,
        job_lease,
        node_id.clone(),
        state.clock.clone(),
        stop_rx.clone(),
    ));
    // The one line a person needs; the password (or its file) appears only
    // on first start.
    let mut line = format!("login: {scheme}://{addr}/ user: {user}");
    if !role.serves() {
        line = format!("node {node_id} role {}: recording, no web", role.as_str());
    }
    match shown {
        Some(s) => line.push_str(&s),
        None if role.serves() => {
            tracing::info!("resuming: the first account's password was shown on first start")
        }
        None => {}
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    let server: futures::future::BoxFuture<'static, std::io::Result<()>> = match listener {
        Some(l) => Box::pin(veil_web::serve(l, transport, veil_web::router(state))),
        None => Box::pin(std::future::pending()),
    };
    tokio::select! {
        r = server => r.context("server failed")?,
        () = shutdown_requested() => {
            // Clean stop: every camera closes and writes its open segment;
            // then the leases are given up, for the other recorders.
            tracing::info!("stopping: writing open segments");
            let _ = stop_tx.send(true);
            if let Some(t) = lease_task {
                let _ = t.await;
            }
            recorders.stop_all().await;
            let _ = jobs_task.await;
        }
    }
    // A last signed checkpoint covers everything recorded.
    tokio::task::spawn_blocking(move || audit.shutdown()).await?;
    Ok(())
}

/// Where `veil serve` writes the first account's one-time password.
fn first_password_file(data: &Path) -> std::path::PathBuf {
    data.join("first-account-password")
}

/// Deletes the first account's password file once that password has been
/// changed: it opens nothing any more.
async fn forget_first_password(store: &Store, file: &Path) {
    if !file.exists() {
        return;
    }
    let db = store.db.clone();
    let changed = tokio::task::spawn_blocking(move || db.first_user())
        .await
        .ok()
        .and_then(|r| r.ok())
        .flatten()
        .is_some_and(|u| !u.must_change_password);
    if changed {
        match std::fs::remove_file(file) {
            Ok(()) => tracing::info!("deleted the first account's password file: it was changed"),
            Err(e) => tracing::warn!(error = %e, "cannot delete the first account's password file"),
        }
    }
}

/// The access record, signing checkpoints with the data directory's audit
/// key (created on first start, apart from the root key).
fn open_access_record(
    cfg: &Config,
    store: &veil_store::Store,
    clock: &veil_base::SharedClock,
) -> anyhow::Result<AccessRecord> {
    let dir = veil_store::DataDir {
        root: cfg.data_dir.clone(),
    };
    let key = veil_audit::AuditKey::load_or_create(&dir.audit_key())?;
    let sink = cfg.audit.checkpoint_sink.as_ref().map(|s| match s {
        config::CheckpointSink::File { path } => veil_audit::Sink::File(path.clone()),
        config::CheckpointSink::Syslog { socket } => veil_audit::Sink::Syslog(socket.clone()),
    });
    Ok(AccessRecord::open(
        store.db.clone(),
        clock.clone(),
        match cfg.audit.client_address {
            config::ClientAddress::Full => ClientAddressPolicy::Full,
            config::ClientAddress::Truncated => ClientAddressPolicy::Truncated,
            config::ClientAddress::None => ClientAddressPolicy::None,
        },
        Some(veil_audit::Checkpointing {
            key: std::sync::Arc::new(key),
            every_entries: cfg.audit.checkpoint_every_entries,
            every: std::time::Duration::from_secs(cfg.audit.checkpoint_every_minutes * 60),
            sink,
        }),
    )?)
}

/// A camera password from a file (its first line) or an environment variable.
/// Errors name the file or variable, never its content.
fn read_password(file: Option<&Path>, env: Option<&str>) -> Result<Option<String>, String> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read password_file {}: {e}", file.display()))?;
        return Ok(Some(text.lines().next().unwrap_or("").to_owned()));
    }
    if let Some(name) = env {
        return std::env::var(name)
            .map(Some)
            .map_err(|_| format!("environment variable {name} (password_env) is not set"));
    }
    Ok(None)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_requested() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// `veil check`: recovery, re-verification of unreadable segments, and the
/// database's own integrity check.
pub async fn check(data: &Path, config: Option<&Path>) -> anyhow::Result<()> {
    // As `veil serve` opens it: the reconciliation runs against the objects
    // and the database the server uses.
    let store = crate::open::store(data, config).await?;
    let report = store.recover().await?;
    // Segments marked missing or corrupt are tried again: an object restored
    // from a backup, or a fault that has passed, brings them back.
    let (restored, unreadable) = store.reverify().await?;
    let integrity = store.db.integrity_check()?;
    println!(
        "integrity: {integrity}\norphan objects deleted: {}\npartial writes deleted: {}\nrows marked missing: {}\nsegments restored: {restored}\nsegments still unreadable: {unreadable}",
        report.orphan_objects_deleted, report.partial_writes_deleted, report.rows_marked_missing
    );
    if integrity != "ok" {
        anyhow::bail!("database integrity check failed");
    }
    Ok(())
}

/// `veil demo --backfill-minutes`: records `minutes` of synthetic video of
/// `camera` as one run ending a minute before now, in the background (an
/// encoder thread hands segments to a writer task as they close), so
/// playback of long recordings can be tried and tested at once.
fn backfill(
    store: Store,
    camera: veil_base::CameraId,
    config: SyntheticConfig,
    minutes: u32,
    segment_90k: i64,
) -> anyhow::Result<()> {
    let now = store.clock().now();
    let start = veil_base::Time90k(now.0 - (i64::from(minutes) + 1) * 60 * TIME_UNITS_PER_SEC);
    let frames = minutes * 60 * config.fps + 1;
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    std::thread::Builder::new()
        .name(format!("backfill-{}", camera.0))
        .spawn(move || {
            let r = recorder::synthetic_segments_into(
                camera,
                config,
                start,
                frames,
                segment_90k,
                |s| tx.blocking_send(s).is_ok(),
            );
            if let Err(e) = r {
                tracing::error!(camera = camera.0, error = %e, "back-fill stopped");
            }
        })
        .context("cannot start the back-fill thread")?;
    tokio::spawn(async move {
        let mut written = 0u32;
        while let Some(seg) = rx.recv().await {
            match store.write_segment(seg).await {
                Ok(_) => written += 1,
                Err(e) => tracing::error!(camera = camera.0, error = %e, "could not store segment"),
            }
        }
        tracing::info!(camera = camera.0, segments = written, "back-fill done");
    });
    Ok(())
}
