//! `veil bench …`: benchmarks that print each figure next to a baseline measured
//! in the same run on the same disk, so what they report is a ratio that means
//! something on any machine.
//!
//! * `ingest`: N concurrent synthetic 1080p streams through the full recording
//!   path (segmenter, sealing under the key hierarchy, durable object write,
//!   database row), against plain file writes with the same fsyncs, and against
//!   raw AES-256-GCM on one core; and the same path without the recording
//!   integrity chain (a second store switched off with the benchmark-only
//!   `Store::benchmark_without_chain`), so the chain's cost is a ratio too.
//!   With `--s3-config FILE` the same run also records into the S3 bucket of
//!   that file's `[objects] s3`, and prints both modes side by side
//!   (segments/s, MB/s, CPU per stream from `getrusage`, and the 4 Mbit/s
//!   streams that throughput and CPU allow); `scripts/bench-s3` runs it
//!   against a throw-away moto server. With `--database-url URL` (a
//!   PostgreSQL server) it adds PostgreSQL + local directory and, with
//!   `--s3-config`, PostgreSQL + S3, each in a database of its own
//!   (`veil_bench_<random>`, dropped afterwards); `scripts/bench-scale-out`
//!   starts PostgreSQL (fsync on) and moto and runs it.
//! * `audit`: the access record's durable appends with concurrent writers
//!   (group commit) next to one commit per entry, and the stored chain's
//!   verification; with `--database-url URL` the same on PostgreSQL (the
//!   append transaction takes the chain's advisory lock), and two nodes
//!   appending to one chain there.
//! * `motion` (in `bench_motion`): the motion detector per keyframe against
//!   ffmpeg decoding only the keyframes.
//! * `export` (in `bench_export`): an evidence-export package of a long
//!   recording against reading, hashing and age-encrypting the same objects.
//! * `playback`: a long recording served as one MP4 by the real HTTPS handler
//!   (a new TLS connection, the session check, the access-record append):
//!   time to first byte and full-body throughput, against reading the same
//!   objects without decrypting; the in-process path is shown as a breakdown.
//!
//! The video is one short loop encoded once by the synthetic camera and repeated
//! with advancing timestamps, so the benchmarks measure storage, not the encoder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt as _;
use veil_base::{CameraId, Clock as _, SystemClock, Time90k, TIME_UNITS_PER_SEC};
use veil_media::synthetic::{SyntheticCamera, SyntheticConfig};
use veil_media::VideoParams;
use veil_store::recorder::{ClosedSegment, Segmenter};
use veil_store::{playback, Store, MAIN_RENDITION};

/// Frames per second of the synthetic video.
pub(crate) const FPS: u32 = 25;
/// Keyframe distance of the synthetic video (2 s).
pub(crate) const GOP_FRAMES: u32 = 50;
/// Duration of one frame.
pub(crate) const FRAME_90K: i64 = TIME_UNITS_PER_SEC / FPS as i64;
/// Target segment duration, as the recorder is configured by default.
const SEGMENT_90K: i64 = 10 * TIME_UNITS_PER_SEC;
/// Target bitrate asked of the encoder.
const TARGET_BPS: u32 = 4_000_000;
/// One megabyte, as throughput is reported (10^6 bytes).
pub(crate) const MB: f64 = 1e6;

#[derive(clap::Subcommand)]
pub enum Bench {
    /// Recording throughput: N concurrent 1080p streams through the full write
    /// path, next to plain write+fsync of the same bytes and raw AES-256-GCM.
    Ingest(IngestArgs),
    /// Playback of a long recording as one MP4: time to first byte and body
    /// throughput, next to reading the same objects without decrypting them.
    Playback(PlaybackArgs),
    /// The access record: durable appends with concurrent writers (group
    /// commit) next to one-commit-per-entry, and chain verification next to raw
    /// SHA-256 of the same bytes.
    Audit(AuditArgs),
    /// The policy engine: decisions per second on one core for a user with
    /// several roles (scopes, a playback window, weekly hours), next to a
    /// hash-set lookup of the same (user, permission, camera) triples.
    Decide(DecideArgs),
    /// The motion detector: decode + downscale + compare per keyframe at 720p
    /// and 1080p, next to ffmpeg decoding only the keyframes of the same clip.
    Motion(crate::bench_motion::MotionArgs),
    /// Privacy masking: decode + mask + encode fps on one thread at 720p and
    /// 1080p, next to ffmpeg (libavcodec + drawbox + x264 ultrafast) doing
    /// the same on one thread; where the time goes; output bitrate.
    Mask(crate::bench_mask::MaskArgs),
    /// Retention: destroying N expired segments (plan, bucket keys, rows) in
    /// batches, next to deleting the same rows without keys; the longest
    /// wait of a recorder inserting meanwhile.
    Retention(crate::bench_retention::RetentionArgs),
    /// Evidence export: one camera's hour at ~4 Mbit/s as a signed package
    /// encrypted to an age recipient, next to reading, hashing and
    /// age-encrypting the same objects; peak memory; verification.
    Export(crate::bench_export::ExportArgs),
    /// Bystander redaction of an export: decode + paint a moving box +
    /// encode + mux in frames per second on one thread at 320x240, 720p and
    /// 1080p, next to the byte copy of the same frames.
    Redact(crate::bench_redact::RedactArgs),
}

#[derive(clap::Args)]
pub struct DecideArgs {
    /// Decisions to make.
    #[arg(long, default_value_t = 2_000_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    decisions: u64,
}

#[derive(clap::Args)]
pub struct AuditArgs {
    /// Concurrent writers.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1024))]
    writers: u32,
    /// Appends per writer.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    appends: u32,
    /// Entries in the chain to verify.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    verify_entries: u64,
    /// Work in a fresh subdirectory of DIR (removed afterwards) instead of a
    /// temporary directory, e.g. to measure a chosen disk.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Also measure on the PostgreSQL server at URL
    /// (`postgres://user@host:port/db`, a role that may create databases)
    /// in the same run. The benchmark creates its own databases
    /// `veil_bench_<random>` there and drops them afterwards: it never
    /// touches any other database.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

#[derive(clap::Args)]
pub struct IngestArgs {
    /// Number of concurrent streams (one camera each).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    streams: u32,
    /// Seconds of video per stream (40 s = 4 segments each: short runs are noisy).
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..=3600))]
    seconds: u32,
    /// Measurements of each kind; the median is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=50))]
    runs: u32,
    /// Work in a fresh subdirectory of DIR (removed afterwards) instead of a
    /// temporary directory, e.g. to measure a chosen disk.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Measure even on tmpfs (memory), where fsync costs nothing and the
    /// ratio says nothing about a disk.
    #[arg(long)]
    allow_tmpfs: bool,
    /// Also measure SQLite + an S3-compatible bucket in the same run: the
    /// `[objects] s3 = { … }` table of this configuration file (its other
    /// sections are ignored), with its credentials file or the
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` environment variables.
    /// The bucket must exist and should be empty (a throw-away one: the
    /// benchmark's objects are left in it).
    #[arg(long, value_name = "FILE")]
    s3_config: Option<PathBuf>,
    /// Also measure PostgreSQL + local directory, and with `--s3-config`
    /// PostgreSQL + S3 (under a prefix of its own in that bucket), in the
    /// same run: the PostgreSQL server at URL
    /// (`postgres://user@host:port/db`, a role that may create databases).
    /// The benchmark creates its own databases `veil_bench_<random>` there
    /// (cameras, bucket keys, segments) and drops them afterwards.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

#[derive(clap::Args)]
pub struct PlaybackArgs {
    /// Minutes of video recorded, then requested as one MP4.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=24 * 60))]
    minutes: u32,
    /// Measurements of each kind; the median is reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=50))]
    runs: u32,
    /// Work in a fresh subdirectory of DIR (removed afterwards) instead of a
    /// temporary directory, e.g. to measure a chosen disk.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

pub async fn run(b: Bench) -> anyhow::Result<()> {
    match b {
        Bench::Ingest(a) => ingest(a).await,
        Bench::Playback(a) => playback_bench(a).await,
        Bench::Audit(a) => audit_bench(a),
        Bench::Decide(a) => decide_bench(a),
        Bench::Motion(a) => crate::bench_motion::motion_bench(a),
        Bench::Mask(a) => crate::bench_mask::mask_bench(a),
        Bench::Retention(a) => crate::bench_retention::retention_bench(a).await,
        Bench::Export(a) => crate::bench_export::export_bench(a).await,
        Bench::Redact(a) => crate::bench_redact::redact_bench(a),
    }
}

// --- decide ---

fn decide_bench(a: DecideArgs) -> anyhow::Result<()> {
    use veil_access::{role, Action, Resource, Scope, Subject};
    let templates = role::templates();
    let pick = |n: &str| templates.iter().find(|r| r.name == n).cloned().unwrap();
    let mut night = pick(role::OPERATOR);
    night.name = "night shift, car park".into();
    for g in &mut night.grants {
        g.scope = Scope::Cameras {
            ids: (1..=20).collect(),
        };
    }
    night.time_profile = Some(veil_access::TimeProfile {
        time_zone: "Europe/Paris".into(),
        intervals: [
            role::Day::Mon,
            role::Day::Tue,
            role::Day::Wed,
            role::Day::Thu,
            role::Day::Fri,
        ]
        .into_iter()
        .map(|day| role::Interval {
            day,
            start: "18:00".into(),
            end: "24:00".into(),
        })
        .collect(),
    });
    let subject = Subject {
        user: veil_base::UserId(7),
        pseudonym: "u-bench".into(),
        roles: vec![night, pick(role::INVESTIGATOR), pick(role::AUDITOR)],
        disabled: false,
        policy_acknowledged: true,
        training_valid_until: None,
        must_change_password: false,
        second_factor_missing: false,
    };
    let actions = [
        Action::LiveView,
        Action::Playback,
        Action::Export,
        Action::CameraAdmin,
        Action::AuditRead,
    ];
    let now = veil_base::Time90k(1_795_000_000 * TIME_UNITS_PER_SEC);
    let resource = |i: u64| match i % 3 {
        0 => Resource::System,
        1 => Resource::Camera {
            id: CameraId((i % 50) as i64),
            group: None,
        },
        _ => Resource::Recording {
            camera: CameraId((i % 50) as i64),
            group: None,
            start: veil_base::Time90k(now.0 - ((i % 200) as i64) * 3600 * TIME_UNITS_PER_SEC),
        },
    };
    let resources: Vec<Resource> = (0..1024).map(resource).collect();
    let t = Instant::now();
    let mut allowed = 0u64;
    for i in 0..a.decisions {
        let d = veil_access::decide(
            &subject,
            actions[(i % 5) as usize],
            &resources[(i % 1024) as usize],
            now,
        );
        allowed += u64::from(std::hint::black_box(d).allowed);
    }
    let secs = t.elapsed().as_secs_f64();
    // Baseline: the cheapest possible check, a precomputed set of allowed
    // (user, permission, camera) triples.
    let set: std::collections::HashSet<(u64, &str, i64)> = (0..50)
        .flat_map(|c| actions.iter().map(move |a| (7u64, a.id(), c)))
        .collect();
    let t = Instant::now();
    let mut hits = 0u64;
    for i in 0..a.decisions {
        let key = (7u64, actions[(i % 5) as usize].id(), (i % 50) as i64);
        hits += u64::from(std::hint::black_box(set.contains(&key)));
    }
    let base = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        allowed > 0 && allowed < a.decisions && hits == a.decisions,
        "the mix allows some and denies some"
    );
    println!(
        "decide: {:.2} M decisions/s on one core (target >= 1 M/s; {:.0} % allowed) | hash-set lookup: {:.1} M/s | ratio {:.1}x slower",
        a.decisions as f64 / secs / 1e6,
        100.0 * allowed as f64 / a.decisions as f64,
        a.decisions as f64 / base / 1e6,
        secs / base
    );
    Ok(())
}

// --- audit ---

/// What [`audit_appends`] measured on one backend.
struct AuditFigures {
    /// Durable appends per second, all writers together.
    grouped: f64,
    /// One writer, one commit per entry, per second.
    one_by_one: f64,
    /// Entries of the stored chain verified, and how long that took.
    verified: u64,
    verify_secs: f64,
}

/// `writers` threads appending `appends` entries each through the access
/// records on `nodes` (writer `w` on node `w % nodes`: one node is one
/// process's record, several are nodes sharing one chain), each append
/// durable before it returns; then the stored chain verified (signatures
/// included) and timed; then, on `single`, one writer committing each
/// entry for a fixed 2 s (the baseline without grouping).
fn audit_appends(
    nodes: &[veil_store::Db],
    single: veil_store::Db,
    a: &AuditArgs,
    clock: &veil_base::SharedClock,
) -> anyhow::Result<AuditFigures> {
    let key = Arc::new(veil_audit::AuditKey::generate().0);
    let records = nodes
        .iter()
        .map(|db| {
            veil_audit::AccessRecord::open(
                db.clone(),
                clock.clone(),
                veil_audit::ClientAddressPolicy::Full,
                Some(veil_audit::Checkpointing {
                    key: key.clone(),
                    every_entries: 1000,
                    every: Duration::from_secs(300),
                    sink: None,
                }),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let total = u64::from(a.writers) * u64::from(a.appends);
    let t = Instant::now();
    std::thread::scope(|s| -> anyhow::Result<()> {
        let handles: Vec<_> = (0..a.writers)
            .map(|w| {
                let record = records[w as usize % records.len()].clone();
                s.spawn(move || -> anyhow::Result<()> {
                    for i in 0..a.appends {
                        record.append(audit_event(u64::from(w) * 1_000_000 + u64::from(i)))?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| anyhow::anyhow!("writer panicked"))??;
        }
        Ok(())
    })?;
    let grouped = total as f64 / t.elapsed().as_secs_f64();
    for r in &records {
        r.shutdown();
    }
    let opts = veil_audit::VerifyOptions {
        trusted_key: Some(key.public_key()),
        ..Default::default()
    };
    let t = Instant::now();
    let report = veil_audit::verify_stored(&nodes[0], &opts)?;
    let verify_secs = t.elapsed().as_secs_f64();
    // Several nodes each sign their own checkpoints: the chain is whole,
    // the signed prefix is whichever node signed last.
    anyhow::ensure!(
        report.entries == total && (nodes.len() > 1 || report.signed_up_to == total as i64),
        "verified {} of {total} entries, signed up to {}",
        report.entries,
        report.signed_up_to
    );

    let single = veil_audit::AccessRecord::new(
        single,
        clock.clone(),
        veil_audit::ClientAddressPolicy::Full,
    )?;
    let t = Instant::now();
    let mut n = 0u64;
    while t.elapsed() < Duration::from_secs(2) {
        single.append(audit_event(n))?;
        n += 1;
    }
    let one_by_one = n as f64 / t.elapsed().as_secs_f64();
    Ok(AuditFigures {
        grouped,
        one_by_one,
        verified: report.entries,
        verify_secs,
    })
}

/// A database of the benchmark's own on a PostgreSQL server
/// (`veil_bench_<random>`), dropped when this is dropped.
struct ScratchDatabase {
    server: String,
    url: String,
    name: String,
}

impl ScratchDatabase {
    fn create(server: &str) -> anyhow::Result<ScratchDatabase> {
        veil_store::migrate::check_postgres_url(server)
            .map_err(|e| anyhow::anyhow!("--database-url: {e}"))?;
        let url = veil_store::Db::create_scratch_database(server, "veil_bench")?;
        let name = url
            .split('?')
            .next()
            .and_then(|b| b.rsplit_once('/'))
            .map(|(_, n)| n.to_owned())
            .context("the new database's URL has no name")?;
        Ok(ScratchDatabase {
            server: server.to_owned(),
            url,
            name,
        })
    }

    /// A new connection to it (migrated: Veil's schema).
    fn open(&self) -> anyhow::Result<veil_store::Db> {
        Ok(veil_store::Db::open_postgres(&self.url)?)
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if let Err(e) = veil_store::Db::drop_scratch_database(&self.server, &self.name) {
            eprintln!(
                "bench: could not drop the benchmark's database {}: {e}",
                self.name
            );
        }
    }
}

fn audit_event(i: u64) -> veil_audit::Event {
    veil_audit::Event::new(
        format!("u-{:016x}", i % 97),
        veil_audit::Action::Playback,
        format!("camera:{}", i % 50),
    )
    .detail("rendition=main start=2026-11-23T10:00:00.000Z end=2026-11-23T10:05:00.000Z")
    .client(std::net::IpAddr::from([192, 0, 2, (i % 250) as u8]))
}

fn audit_bench(a: AuditArgs) -> anyhow::Result<()> {
    let dir = work_dir(a.data.as_deref())?;
    let clock: veil_base::SharedClock = Arc::new(SystemClock);

    // Veil: concurrent writers, each append durable before it returns, with
    // a signed checkpoint every 1000 entries (the default); one commit per
    // entry as the baseline; the stored chain verified.
    let sqlite = audit_appends(
        &[veil_store::Db::open(&dir.path().join("grouped.db"))?],
        veil_store::Db::open(&dir.path().join("single.db"))?,
        &a,
        &clock,
    )?;
    println!(
        "audit append: {:.0} durable appends/s with {} writers, signed checkpoint every 1000 (target >= 10000) | one commit per entry: {:.0}/s | ratio {:.1}x",
        sqlite.grouped,
        a.writers,
        sqlite.one_by_one,
        sqlite.grouped / sqlite.one_by_one
    );

    if let Some(server) = &a.database_url {
        let shown = veil_store::db::redact_postgres_url(server);
        // Databases of its own on that server, dropped at the end.
        let grouped = ScratchDatabase::create(server)?;
        let single = ScratchDatabase::create(server)?;
        let two_nodes = ScratchDatabase::create(server)?;
        let pg = audit_appends(&[grouped.open()?], single.open()?, &a, &clock)?;
        println!(
            "audit append on PostgreSQL ({shown}): {:.0} durable appends/s with {} writers, signed checkpoint every 1000 | one commit per entry: {:.0}/s | ratio {:.1}x",
            pg.grouped,
            a.writers,
            pg.one_by_one,
            pg.grouped / pg.one_by_one
        );
        // Two nodes: two connections, each with its own access record
        // (group commit each), half the writers each, one chain ordered by
        // the advisory lock each append transaction takes.
        let nodes = audit_appends(
            &[two_nodes.open()?, two_nodes.open()?],
            single.open()?,
            &a,
            &clock,
        )?;
        println!(
            "audit append on PostgreSQL, 2 nodes (2 connections, {} writers each, one chain under the advisory lock): {:.0} durable appends/s; the chain of {} entries verifies",
            a.writers.div_ceil(2),
            nodes.grouped,
            nodes.verified
        );
        println!(
            "audit side by side: SQLite {:.0} appends/s | PostgreSQL {:.0}/s ({:.2}x SQLite), 2 nodes {:.0}/s | one commit per entry: SQLite {:.0}/s, PostgreSQL {:.0}/s",
            sqlite.grouped,
            pg.grouped,
            pg.grouped / sqlite.grouped,
            nodes.grouped,
            sqlite.one_by_one,
            pg.one_by_one
        );
        println!(
            "audit verify stored: SQLite {} entries in {:.3} s ({:.0} entries/s) | PostgreSQL {} entries in {:.3} s ({:.0} entries/s)",
            sqlite.verified,
            sqlite.verify_secs,
            sqlite.verified as f64 / sqlite.verify_secs,
            pg.verified,
            pg.verify_secs,
            pg.verified as f64 / pg.verify_secs
        );
        drop((grouped, single, two_nodes));
    } else {
        println!(
            "audit verify stored: SQLite {} entries in {:.3} s ({:.0} entries/s) | PostgreSQL: not measured (--database-url URL)",
            sqlite.verified,
            sqlite.verify_secs,
            sqlite.verified as f64 / sqlite.verify_secs
        );
    }

    // Verification: a chain of N entries, checked on one core, next to raw
    // SHA-256 over exactly the bytes the chain hashes.
    let mut prev = veil_audit::chain::GENESIS;
    let mut rows = Vec::with_capacity(a.verify_entries as usize);
    for seq in 1..=a.verify_entries {
        let e = audit_event(seq);
        let entry = veil_audit::chain::Entry {
            seq,
            time_90k: 1_795_000_000 * TIME_UNITS_PER_SEC + seq as i64,
            actor: e.actor,
            action: e.action.as_str().into(),
            resource: e.resource,
            outcome: "ok".into(),
            justification: String::new(),
            detail: e.detail,
            client: e.client.map(|c| c.to_string()).unwrap_or_default(),
        };
        let h = veil_audit::chain::link(&prev, &entry);
        rows.push((entry, prev, h));
        prev = h;
    }
    let t = Instant::now();
    let last = veil_audit::chain::verify(
        1,
        veil_audit::chain::GENESIS,
        rows.iter().map(|(e, p, h)| (e, p.as_slice(), h.as_slice())),
    )?;
    let verify_secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(last == prev, "verification ended on another hash");
    let bytes: Vec<Vec<u8>> = rows
        .iter()
        .map(|(e, p, _)| {
            let mut b = veil_audit::chain::DOMAIN.to_vec();
            b.extend_from_slice(p);
            b.extend_from_slice(&veil_audit::chain::encode(e));
            b
        })
        .collect();
    let total_bytes: usize = bytes.iter().map(Vec::len).sum();
    let t = Instant::now();
    for b in &bytes {
        std::hint::black_box(ring::digest::digest(&ring::digest::SHA256, b));
    }
    let sha_secs = t.elapsed().as_secs_f64();
    println!(
        "audit verify: {} entries in {:.2} s on one core (target < 2 s for 1 M) | raw SHA-256 of the same {:.0} MB: {:.2} s ({:.0} MB/s) | ratio {:.1}x",
        a.verify_entries,
        verify_secs,
        total_bytes as f64 / MB,
        sha_secs,
        total_bytes as f64 / MB / sha_secs,
        verify_secs / sha_secs
    );
    Ok(())
}

// --- shared pieces ---

/// One encoded frame of the loop.
struct LoopFrame {
    is_key: bool,
    data: Vec<u8>,
}

/// A short stretch of 1080p video, encoded once and repeated.
pub(crate) struct VideoLoop {
    params: VideoParams,
    frames: Vec<LoopFrame>,
}

impl VideoLoop {
    /// Encodes `n` frames (a whole number of GOPs, so the loop repeats cleanly).
    pub(crate) fn encode(n: u32) -> anyhow::Result<(VideoLoop, Duration)> {
        let t = Instant::now();
        let mut cam = SyntheticCamera::new(SyntheticConfig {
            width: 1920,
            height: 1080,
            fps: FPS,
            gop_frames: GOP_FRAMES,
            bitrate_bps: TARGET_BPS,
            seed: 0,
        })?;
        let params = cam.params().clone();
        let mut frames = Vec::with_capacity(n as usize);
        for i in 0..n {
            let f = cam.next_frame(&format!("veil bench #{i:06}"))?;
            anyhow::ensure!(
                f.is_key == i.is_multiple_of(GOP_FRAMES),
                "the encoder put a keyframe where none was expected (frame {i})"
            );
            frames.push(LoopFrame {
                is_key: f.is_key,
                data: f.data,
            });
        }
        Ok((VideoLoop { params, frames }, t.elapsed()))
    }

    fn bytes(&self) -> u64 {
        self.frames.iter().map(|f| f.data.len() as u64).sum()
    }

    fn seconds(&self) -> f64 {
        self.frames.len() as f64 / f64::from(FPS)
    }

    /// The measured bitrate of one stream, in bytes per second.
    fn bytes_per_sec(&self) -> f64 {
        self.bytes() as f64 / self.seconds()
    }

    pub(crate) fn describe(&self, took: Duration) -> String {
        format!(
            "loop: {} frames of 1920x1080 at {FPS} fps ({:.1} s, GOP {GOP_FRAMES}), {:.2} MB, \
             measured {:.2} Mbit/s (asked {:.2}), encoded once in {:.1} s",
            self.frames.len(),
            self.seconds(),
            self.bytes() as f64 / MB,
            self.bytes_per_sec() * 8.0 / 1e6,
            f64::from(TARGET_BPS) / 1e6,
            took.as_secs_f64()
        )
    }
}

/// Frames of a [`VideoLoop`] with advancing timestamps, cut by a [`Segmenter`].
pub(crate) struct Feeder<'a> {
    lp: &'a VideoLoop,
    seg: Option<Segmenter>,
    base: Time90k,
    next: u64,
    frames: u64,
    /// Media bytes fed so far.
    pub(crate) bytes: u64,
}

impl<'a> Feeder<'a> {
    /// `frames` frames from `base`.
    pub(crate) fn new(lp: &'a VideoLoop, base: Time90k, frames: u64) -> Self {
        Feeder {
            lp,
            seg: Some(Segmenter::new(SEGMENT_90K)),
            base,
            next: 0,
            frames,
            bytes: 0,
        }
    }

    /// Feeds frames until a segment closes; the last one is closed at the end.
    pub(crate) fn next_segment(&mut self) -> Option<ClosedSegment> {
        let n = self.lp.frames.len() as u64;
        while self.next < self.frames {
            let f = &self.lp.frames[(self.next % n) as usize];
            let pts = Time90k(self.base.0 + self.next as i64 * FRAME_90K);
            self.next += 1;
            self.bytes += f.data.len() as u64;
            let seg = self.seg.as_mut()?;
            if let Some(c) = seg.push(&self.lp.params, pts, f.is_key, &f.data) {
                return Some(c);
            }
        }
        // End of the stream: close the open segment.
        self.seg.take()?.finish()
    }
}

/// The directory a benchmark works in: deleted when dropped.
pub(crate) fn work_dir(data: Option<&Path>) -> anyhow::Result<tempfile::TempDir> {
    let mut b = tempfile::Builder::new();
    b.prefix("veil-bench-");
    Ok(match data {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            b.tempdir_in(d)
                .with_context(|| format!("cannot create a directory in {}", d.display()))?
        }
        None => b.tempdir().context("cannot create a temporary directory")?,
    })
}

/// The file-system type of the mount holding `path` (from
/// `/proc/self/mountinfo`: the longest mount point that contains it).
fn filesystem_type(path: &Path) -> anyhow::Result<String> {
    let path = path
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", path.display()))?;
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .context("cannot read /proc/self/mountinfo")?;
    let mut best: Option<(usize, String)> = None;
    for line in info.lines() {
        // ID PARENT MAJ:MIN ROOT MOUNT-POINT OPTIONS [OPTIONAL...] - TYPE SOURCE ...
        let (left, right) = line.split_once(" - ").unwrap_or((line, ""));
        let Some(mount) = left.split(' ').nth(4) else {
            continue;
        };
        // Spaces and the like are octal escapes in mountinfo.
        let mount = mount.replace("\\040", " ");
        let fstype = right.split(' ').next().unwrap_or("?").to_owned();
        if path.starts_with(&mount) && best.as_ref().is_none_or(|(n, _)| mount.len() >= *n) {
            best = Some((mount.len(), fstype));
        }
    }
    best.map(|(_, t)| t)
        .context("no mount holds the working directory")
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

pub(crate) fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / MB / d.as_secs_f64().max(1e-9)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f).await?
}

/// Encrypts every buffer in place with AES-256-GCM (ring), on this thread only,
/// for at least ~0.3 s; MB/s of plaintext.
/// SHA-256 (`ring`, what the recording chain hashes each object with) over
/// the buffers on one core, MB/s.
fn raw_sha256_mbps(buffers: &[Vec<u8>]) -> f64 {
    let mut bytes = 0u64;
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(300) || bytes == 0 {
        for b in buffers {
            let _ = std::hint::black_box(veil_store::chain::object_sha256(b));
            bytes += b.len() as u64;
        }
    }
    mbps(bytes, t.elapsed())
}

fn raw_aes_mbps(buffers: &[Vec<u8>]) -> anyhow::Result<f64> {
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
    let key_bytes: [u8; 32] = rand::random();
    let key = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, &key_bytes).map_err(|_| anyhow::anyhow!("AES key"))?,
    );
    let mut work: Vec<Vec<u8>> = buffers.to_vec();
    let mut counter = 0u64;
    let mut bytes = 0u64;
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(300) || bytes == 0 {
        for b in &mut work {
            counter += 1;
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&counter.to_be_bytes());
            let tag = key
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(b"veil bench"),
                    b,
                )
                .map_err(|_| anyhow::anyhow!("AES-GCM seal failed"))?;
            let _ = std::hint::black_box(tag);
            bytes += b.len() as u64;
        }
    }
    Ok(mbps(bytes, t.elapsed()))
}

// --- ingest ---

async fn ingest(a: IngestArgs) -> anyhow::Result<()> {
    let frames_per_stream = u64::from(a.seconds) * u64::from(FPS);
    // Two GOPs (4 s) of video; one is enough when a stream is that short
    // (keeps the smoke test quick: 1080p encoding is the slow part).
    let loop_frames = if frames_per_stream <= u64::from(GOP_FRAMES) {
        GOP_FRAMES
    } else {
        2 * GOP_FRAMES
    };
    let (lp, took) = VideoLoop::encode(loop_frames)?;
    println!("{}", lp.describe(took));
    let lp = Arc::new(lp);

    // The segments one stream produces (identical for every stream): the raw
    // baselines write and seal exactly these buffers.
    let mut buffers: Vec<Vec<u8>> = Vec::new();
    let mut feeder = Feeder::new(&lp, Time90k(0), frames_per_stream);
    while let Some(c) = feeder.next_segment() {
        buffers.push(c.media);
    }
    let buffers = Arc::new(buffers);
    let per_stream_bytes: u64 = buffers.iter().map(|b| b.len() as u64).sum();
    let total_bytes = per_stream_bytes * u64::from(a.streams);
    println!(
        "ingest setup: {} streams x {} s, {} segment(s) of ~{:.2} MB per stream, {:.1} MB per run, \
         {} run(s) each, medians reported",
        a.streams,
        a.seconds,
        buffers.len(),
        per_stream_bytes as f64 / buffers.len().max(1) as f64 / MB,
        total_bytes as f64 / MB,
        a.runs
    );

    let tmp = work_dir(a.data.as_deref())?;
    let fstype = filesystem_type(tmp.path())?;
    println!(
        "ingest: working directory on a {fstype} file system{}",
        if a.data.is_none() {
            " (the temporary directory; --data DIR measures another disk)"
        } else {
            ""
        }
    );
    if matches!(fstype.as_str(), "tmpfs" | "ramfs") && !a.allow_tmpfs {
        anyhow::bail!(
            "the working directory is on {fstype}, in memory: fsync costs nothing there, so \
             the figures would say nothing about a disk. Give --data DIR on a real disk, or \
             --allow-tmpfs to measure anyway"
        );
    }
    let store = Store::open_dir(&tmp.path().join("veil"), Arc::new(SystemClock))?;
    let now = SystemClock.now();
    let mut cameras = Vec::with_capacity(a.streams as usize);
    for i in 0..a.streams {
        cameras.push(
            store
                .db
                .upsert_camera(&format!("bench {i}"), "synthetic", "{}", now)?,
        );
    }

    // The same path without the recording chain (no object hash, no link):
    // a second store in its own directory, with the same cameras.
    let mut unchained = Store::open_dir(
        &tmp.path().join("veil-without-chain"),
        Arc::new(SystemClock),
    )?;
    unchained.benchmark_without_chain();
    let mut unchained_cameras = Vec::with_capacity(a.streams as usize);
    for i in 0..a.streams {
        unchained_cameras.push(unchained.db.upsert_camera(
            &format!("bench {i}"),
            "synthetic",
            "{}",
            now,
        )?);
    }

    let mut veil_rates = Vec::new();
    let mut unchained_rates = Vec::new();
    let mut raw_rates = Vec::new();
    let mut write_lat = Vec::new();
    let mut veil_cpu = Vec::new();
    let mut veil_segs = Vec::new();
    let segments_per_stream = buffers.len();
    for r in 0..a.runs {
        // Rotate the order so no side always runs on a fresher disk.
        let mut order = [0u32, 1, 2];
        order.rotate_left((r % 3) as usize);
        for side in order {
            if side == 1 {
                let base = Time90k(
                    now.0 + i64::from(r) * (i64::from(a.seconds) + 60) * TIME_UNITS_PER_SEC,
                );
                let (bytes, took, _) =
                    ingest_veil(&unchained, &lp, &unchained_cameras, base, frames_per_stream)
                        .await?;
                anyhow::ensure!(
                    bytes == total_bytes,
                    "ingest wrote {bytes} bytes, expected {total_bytes}"
                );
                unchained_rates.push(mbps(bytes, took));
            } else if side == 0 {
                // Each run records a later stretch of time.
                let base = Time90k(
                    now.0 + i64::from(r) * (i64::from(a.seconds) + 60) * TIME_UNITS_PER_SEC,
                );
                let cpu0 = cpu_time();
                let (bytes, took, lat) =
                    ingest_veil(&store, &lp, &cameras, base, frames_per_stream).await?;
                veil_cpu.push(cpu_per_stream(cpu0, a.streams, took, total_bytes));
                anyhow::ensure!(
                    bytes == total_bytes,
                    "ingest wrote {bytes} bytes, expected {total_bytes}"
                );
                veil_rates.push(mbps(bytes, took));
                veil_segs
                    .push(segments_per_stream as f64 * f64::from(a.streams) / took.as_secs_f64());
                write_lat.extend(lat);
            } else {
                let dir = tmp.path().join(format!("raw-{r}"));
                let took = ingest_raw(&dir, &buffers, a.streams).await?;
                raw_rates.push(mbps(total_bytes, took));
                blocking(move || Ok(std::fs::remove_dir_all(&dir)?)).await?;
            }
        }
    }
    let aes = {
        let b = buffers.clone();
        blocking(move || raw_aes_mbps(&b)).await?
    };
    let veil = median(&veil_rates);
    let without_chain = median(&unchained_rates);
    let raw = median(&raw_rates);
    let per_stream = lp.bytes_per_sec() / MB;
    let ratio = veil / raw * 100.0;
    println!(
        "ingest: {veil:.1} MB/s (= {:.0} streams of {per_stream:.2} MB/s) | raw write+fsync: {raw:.1} MB/s \
         | ratio {ratio:.0} % (target >= 50 %) | raw AES-256-GCM: {aes:.0} MB/s | on {fstype}",
        veil / per_stream
    );
    println!(
        "ingest: runs veil [{}] MB/s, raw [{}] MB/s; write_segment latency median {:.1} ms, max {:.1} ms",
        fmt_list(&veil_rates),
        fmt_list(&raw_rates),
        median(&write_lat),
        write_lat.iter().copied().fold(0.0, f64::max)
    );
    println!(
        "ingest: {}: Veil records at {ratio:.0} % of the speed of plain write+fsync of the same bytes \
         (target >= 50 %)",
        if ratio >= 50.0 { "TARGET MET" } else { "TARGET MISSED" }
    );
    let sha = {
        let b = buffers.clone();
        blocking(move || Ok(raw_sha256_mbps(&b))).await?
    };
    // Runs swing with the disk's write-back (both sides alike), so the cost
    // is the median of each run's own with/without ratio (the two sides of
    // a run are measured one after the other).
    let paired: Vec<f64> = veil_rates
        .iter()
        .zip(&unchained_rates)
        .map(|(w, wo)| w / wo)
        .collect();
    let chain_cost = (1.0 - median(&paired)) * 100.0;
    println!(
        "ingest: recording chain: with {veil:.1} MB/s, without {without_chain:.1} MB/s \
         (runs [{}]) | with/without per run [{}] % | cost {chain_cost:.1} % (median of the runs' \
         ratios; target <= 2 %): {}",
        fmt_list(&unchained_rates),
        fmt_list(&paired.iter().map(|r| r * 100.0).collect::<Vec<_>>()),
        if chain_cost <= 2.0 {
            "TARGET MET"
        } else {
            "TARGET MISSED"
        }
    );
    // The chain's CPU: one SHA-256 pass over each object (the row and link
    // are one transaction as before, one insert more).
    println!(
        "ingest: recording chain CPU: SHA-256 {sha:.0} MB/s on one core = {:.1} % of one core \
         at the measured {veil:.1} MB/s",
        veil / sha * 100.0
    );
    let local = Mode {
        mbps: veil,
        segs: median(&veil_segs),
        cpu: median(&veil_cpu.iter().map(|c| c.0).collect::<Vec<_>>()),
        cpu_4mbit: median(&veil_cpu.iter().map(|c| c.1).collect::<Vec<_>>()),
    };
    println!(
        "ingest side by side: SQLite + local directory: {}",
        local.describe()
    );
    let shape = RunShape {
        lp: &lp,
        a: &a,
        now,
        frames_per_stream,
        total_bytes,
        segments_per_stream,
    };
    let s3 = match &a.s3_config {
        Some(config) => {
            let objects = crate::config::objects_of(config)?;
            Some(objects.s3.with_context(|| {
                format!(
                    "{} has no [objects] s3 table: nothing to measure",
                    config.display()
                )
            })?)
        }
        None => None,
    };
    if let Some(s3) = &s3 {
        let address = s3.address();
        let store = Store::open_dir_objects(
            &tmp.path().join("veil-s3"),
            Arc::new(SystemClock),
            None,
            Some(s3),
        )
        .await
        .with_context(|| format!("cannot open the S3 store ({address})"))?;
        let mode = ingest_mode(&store, &shape, "S3").await?;
        println!(
            "ingest side by side: SQLite + S3 ({address}): {}",
            mode.describe()
        );
    } else {
        println!(
            "ingest side by side: SQLite + S3: not measured (--s3-config FILE with an \
             [objects] s3 table; scripts/bench-s3 starts a throw-away S3 server and runs it)"
        );
    }
    if let Some(server) = &a.database_url {
        let shown = veil_store::db::redact_postgres_url(server);
        // PostgreSQL + local directory: a database of its own, the objects
        // in a directory of its own on the same disk as the SQLite side.
        let database = ScratchDatabase::create(server)?;
        let store = Store::open_dir_database(
            &tmp.path().join("veil-pg"),
            Arc::new(SystemClock),
            None,
            Some(&database.url),
        )
        .with_context(|| format!("cannot open the store on PostgreSQL ({shown})"))?;
        let mode = ingest_mode(&store, &shape, "PostgreSQL + local").await?;
        println!(
            "ingest side by side: PostgreSQL ({shown}) + local directory: {}",
            mode.describe()
        );
        drop(store);
        drop(database);
        if let Some(s3) = &s3 {
            // Another installation: a prefix of its own in the bucket (a
            // bucket's prefix belongs to one installation).
            let database = ScratchDatabase::create(server)?;
            let mut s3 = s3.clone();
            s3.prefix = Some(format!(
                "{}{}/",
                s3.prefix
                    .as_deref()
                    .map_or(String::new(), |p| format!("{}/", p.trim_end_matches('/'))),
                database.name
            ));
            let address = s3.address();
            let store = Store::open_configured(
                &tmp.path().join("veil-pg-s3"),
                Arc::new(SystemClock),
                None,
                Some(&s3),
                Some(&database.url),
            )
            .await
            .with_context(|| {
                format!("cannot open the store on PostgreSQL ({shown}) and S3 ({address})")
            })?;
            let mode = ingest_mode(&store, &shape, "PostgreSQL + S3").await?;
            println!(
                "ingest side by side: PostgreSQL ({shown}) + S3 ({address}): {}",
                mode.describe()
            );
            drop(store);
            drop(database);
        } else {
            println!("ingest side by side: PostgreSQL + S3: not measured (--s3-config FILE)");
        }
    } else {
        println!(
            "ingest side by side: PostgreSQL + local directory / S3: not measured \
             (--database-url URL of a PostgreSQL server; scripts/bench-scale-out starts one)"
        );
    }
    drop(store);
    drop(unchained);
    tmp.close()?;
    Ok(())
}

/// What one storage mode sustained: MB/s and segments per second of the
/// whole run, and the process's CPU per stream in % of one core.
struct Mode {
    mbps: f64,
    segs: f64,
    /// Per stream, in % of one core over the run (streams flat out).
    cpu: f64,
    /// Per real-time 4 Mbit/s stream, in % of one core.
    cpu_4mbit: f64,
}

impl Mode {
    /// The figures and what they mean for 4 Mbit/s cameras (0.5 MB/s each):
    /// streams by throughput and by CPU per core.
    fn describe(&self) -> String {
        const STREAM_MBPS: f64 = 0.5;
        let by_cpu = if self.cpu_4mbit > 0.0 {
            format!("{:.0}", 100.0 / self.cpu_4mbit)
        } else {
            "unbounded".into()
        };
        format!(
            "{:.1} segments/s, {:.1} MB/s, CPU {:.2} % of one core per stream over the run \
             (streams flat out), {:.3} % per 4 Mbit/s stream | 4 Mbit/s streams (0.5 MB/s) \
             sustained: {:.0} by throughput, {by_cpu} per core by CPU",
            self.segs,
            self.mbps,
            self.cpu,
            self.cpu_4mbit,
            self.mbps / STREAM_MBPS
        )
    }
}

/// The process's user + system CPU time so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    if rc != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// CPU used since `before` over a run of `wall` that stored `bytes`:
/// (per stream in % of one core over the run, per 4 Mbit/s stream in % of
/// one core).
fn cpu_per_stream(before: Duration, streams: u32, wall: Duration, bytes: u64) -> (f64, f64) {
    let used = cpu_time().saturating_sub(before).as_secs_f64();
    let over_run = used / f64::from(streams) / wall.as_secs_f64().max(1e-9) * 100.0;
    // The streams run flat out, far above 0.5 MB/s each: the CPU one
    // real-time 4 Mbit/s stream needs is the CPU per byte times 0.5 MB/s.
    let per_4mbit = used / (bytes as f64 / MB).max(1e-9) * 0.5 * 100.0;
    (over_run, per_4mbit)
}

/// The shape of every mode's runs: the same streams, video and runs.
struct RunShape<'a> {
    lp: &'a Arc<VideoLoop>,
    a: &'a IngestArgs,
    now: Time90k,
    frames_per_stream: u64,
    total_bytes: u64,
    segments_per_stream: usize,
}

/// The streams and runs of the local store on another `store` (another
/// object store, another database): its own cameras, created first; returns
/// the medians. `label` names the mode in the runs' line.
async fn ingest_mode(store: &Store, r: &RunShape<'_>, label: &str) -> anyhow::Result<Mode> {
    let a = r.a;
    let mut cameras = Vec::with_capacity(a.streams as usize);
    for i in 0..a.streams {
        let db = store.db.clone();
        let now = r.now;
        cameras.push(
            blocking(move || {
                Ok(db.upsert_camera(&format!("bench {i}"), "synthetic", "{}", now)?)
            })
            .await?,
        );
    }
    let (mut rates, mut segs, mut cpu, mut lat_all) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..a.runs {
        let base =
            Time90k(r.now.0 + i64::from(run) * (i64::from(a.seconds) + 60) * TIME_UNITS_PER_SEC);
        let cpu0 = cpu_time();
        let (bytes, took, lat) =
            ingest_veil(store, r.lp, &cameras, base, r.frames_per_stream).await?;
        cpu.push(cpu_per_stream(cpu0, a.streams, took, r.total_bytes));
        anyhow::ensure!(
            bytes == r.total_bytes,
            "ingest on {label} wrote {bytes} bytes, expected {}",
            r.total_bytes
        );
        rates.push(mbps(bytes, took));
        segs.push(r.segments_per_stream as f64 * f64::from(a.streams) / took.as_secs_f64());
        lat_all.extend(lat);
    }
    println!(
        "ingest {label}: runs [{}] MB/s; write_segment latency median {:.1} ms, max {:.1} ms",
        fmt_list(&rates),
        median(&lat_all),
        lat_all.iter().copied().fold(0.0, f64::max)
    );
    Ok(Mode {
        mbps: median(&rates),
        segs: median(&segs),
        cpu: median(&cpu.iter().map(|c| c.0).collect::<Vec<_>>()),
        cpu_4mbit: median(&cpu.iter().map(|c| c.1).collect::<Vec<_>>()),
    })
}

pub(crate) fn fmt_list(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.1}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The full recording path: one task per stream, segmenter then
/// `write_segment`. Returns media bytes, wall time, per-write latencies (ms).
async fn ingest_veil(
    store: &Store,
    lp: &Arc<VideoLoop>,
    cameras: &[CameraId],
    base: Time90k,
    frames: u64,
) -> anyhow::Result<(u64, Duration, Vec<f64>)> {
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for &camera in cameras {
        let store = store.clone();
        let lp = lp.clone();
        tasks.spawn(async move {
            let mut lat = Vec::new();
            let mut feeder = Feeder::new(&lp, base, frames);
            while let Some(c) = feeder.next_segment() {
                let t = Instant::now();
                store
                    .write_segment(c.into_new_segment(camera, base))
                    .await?;
                lat.push(ms(t.elapsed()));
            }
            anyhow::Ok((feeder.bytes, lat))
        });
    }
    let mut bytes = 0;
    let mut lat = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (b, l) = r??;
        bytes += b;
        lat.extend(l);
    }
    Ok((bytes, t.elapsed(), lat))
}

/// The baseline: the same buffers as plain files, each fsynced and its directory
/// fsynced, one task per stream (one directory each), same concurrency.
async fn ingest_raw(
    dir: &Path,
    buffers: &Arc<Vec<Vec<u8>>>,
    streams: u32,
) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for s in 0..streams {
        let buffers = buffers.clone();
        let dir = dir.join(format!("s{s}"));
        tasks.spawn(async move {
            for i in 0..buffers.len() {
                let buffers = buffers.clone();
                let dir = dir.clone();
                blocking(move || {
                    use std::io::Write as _;
                    std::fs::create_dir_all(&dir)?;
                    let mut f = std::fs::File::create(dir.join(format!("{i}.seg")))?;
                    f.write_all(&buffers[i])?;
                    f.sync_all()?;
                    std::fs::File::open(&dir)?.sync_all()?;
                    Ok(())
                })
                .await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(t.elapsed())
}

// --- playback ---

async fn playback_bench(a: PlaybackArgs) -> anyhow::Result<()> {
    let (lp, took) = VideoLoop::encode(2 * GOP_FRAMES)?;
    println!("{}", lp.describe(took));

    let tmp = work_dir(a.data.as_deref())?;
    let root = tmp.path().join("veil");
    let store = Store::open_dir(&root, Arc::new(SystemClock))?;
    let now = SystemClock.now();
    let camera = store.db.upsert_camera("bench", "synthetic", "{}", now)?;
    let frames = u64::from(a.minutes) * 60 * u64::from(FPS);
    let start = Time90k(now.0 - frames as i64 * FRAME_90K - 60 * TIME_UNITS_PER_SEC);
    let end = Time90k(start.0 + frames as i64 * FRAME_90K);

    // Record: segments written straight away (no real-time wait), a few at once.
    let t = Instant::now();
    let mut writes = tokio::task::JoinSet::new();
    let mut written = 0usize;
    let mut feeder = Feeder::new(&lp, start, frames);
    while let Some(c) = feeder.next_segment() {
        while writes.len() >= 4 {
            if let Some(r) = writes.join_next().await {
                r??;
            }
        }
        let (store, s) = (store.clone(), c.into_new_segment(camera, start));
        writes.spawn(async move { store.write_segment(s).await });
        written += 1;
    }
    let media = feeder.bytes;
    while let Some(r) = writes.join_next().await {
        r??;
    }
    println!(
        "playback setup: {} min recorded as {written} segments, {:.1} MB of media, written in {:.1} s; \
         {} run(s) each, medians reported (files are in the page cache, as after recording)",
        a.minutes,
        media as f64 / MB,
        t.elapsed().as_secs_f64(),
        a.runs
    );

    let server = HttpsServer::start(&store, tmp.path()).await?;
    let url = format!(
        "{}/api/v1/cameras/{}/video.mp4?start={}&end={}",
        server.base,
        camera.0,
        start.to_rfc3339(),
        end.to_rfc3339()
    );
    let mut ttfb = Vec::new();
    let mut ttfb_inproc = Vec::new();
    let mut t_segments = Vec::new();
    let mut t_plan = Vec::new();
    let mut body = Vec::new();
    let mut raw = Vec::new();
    let mut raw_first = Vec::new();
    let mut file_len = 0u64;
    let mut parts = 0usize;
    for r in 0..a.runs {
        for veil_first in [r % 2 == 0, r % 2 != 0] {
            if veil_first {
                let (first, bytes, total) = server.get(&url).await?;
                ttfb.push(ms(first));
                body.push(mbps(bytes, total));
                let m = playback_veil(&store, camera, start, end).await?;
                anyhow::ensure!(
                    m.bytes == bytes,
                    "HTTPS served {bytes} bytes, the plan has {}",
                    m.bytes
                );
                ttfb_inproc.push(ms(m.ttfb));
                t_segments.push(ms(m.segments));
                t_plan.push(ms(m.plan));
                file_len = m.bytes;
                parts = m.parts;
            } else {
                let (bytes, took, first) = playback_raw(&store, &root, camera, start, end).await?;
                raw.push(mbps(bytes, took));
                raw_first.push(ms(first));
            }
        }
    }
    let appended = store
        .db
        .audit_entries(0, i64::MAX)?
        .iter()
        .filter(|e| e.action == "playback")
        .count();
    anyhow::ensure!(
        appended == a.runs as usize,
        "{appended} playback entries in the access record for {} requests",
        a.runs
    );
    // Decryption bounds the body: GCM costs the same both ways, so sealing
    // segment-sized buffers on one core shows the ceiling.
    let aes = {
        let b: Vec<Vec<u8>> = (0..4).map(|i| vec![i as u8; 5_000_000]).collect();
        blocking(move || raw_aes_mbps(&b)).await?
    };
    let (body_m, raw_m, ttfb_m) = (median(&body), median(&raw), median(&ttfb));
    println!(
        "playback: TTFB {ttfb_m:.1} ms over HTTPS (new TLS connection, session check, access-record \
         append; target < 50 ms) | raw read of the first object: {:.2} ms | body {body_m:.1} MB/s \
         | raw read: {raw_m:.1} MB/s | ratio {:.0} % | raw AES-256-GCM: {aes:.0} MB/s",
        median(&raw_first),
        body_m / raw_m * 100.0
    );
    println!(
        "playback: one {:.1} MB MP4 of {parts} parts; in process (no HTTP) the first byte takes {:.1} ms = \
         load+unseal segment indexes {:.1} ms + plan {:.1} ms + header; first HTTPS request {:.1} ms; \
         runs TTFB [{}] ms, body [{}] MB/s, raw [{}] MB/s",
        file_len as f64 / MB,
        median(&ttfb_inproc),
        median(&t_segments),
        median(&t_plan),
        ttfb.first().copied().unwrap_or(f64::NAN),
        fmt_list(&ttfb),
        fmt_list(&body),
        fmt_list(&raw)
    );
    println!(
        "playback: {}: time to first byte {ttfb_m:.1} ms for {} min (target < 50 ms); body at {:.0} % of raw read",
        if ttfb_m < 50.0 { "TARGET MET" } else { "TARGET MISSED" },
        a.minutes,
        body_m / raw_m * 100.0
    );
    drop(server);
    drop(store);
    tmp.close()?;
    Ok(())
}

/// Veil's HTTPS server in this process, as `veil serve` runs it (TLS,
/// sessions, the access record), with one signed-in account.
struct HttpsServer {
    base: String,
    cookie: String,
    audit: veil_audit::AccessRecord,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl HttpsServer {
    async fn start(store: &Store, dir: &Path) -> anyhow::Result<HttpsServer> {
        let clock: veil_base::SharedClock = Arc::new(SystemClock);
        let now = clock.now();
        veil_web::roles::setup_roles(&store.db, now)?;
        let password = veil_access::password::generate();
        let user = store.db.insert_user(
            "u-bench",
            "bench.viewer",
            &veil_access::password::hash(&password),
            veil_access::ADMINISTRATOR,
            now,
        )?;
        store.db.exempt_from_second_factor(user)?;
        let audit = veil_audit::AccessRecord::new(
            store.db.clone(),
            clock.clone(),
            veil_audit::ClientAddressPolicy::Full,
        )?;
        let live = veil_store::recorder::LiveHub::default();
        let state = veil_web::AppState {
            store: store.clone(),
            live: live.clone(),
            audit: audit.clone(),
            clock,
            sessions: veil_web::SessionPolicy::default(),
            throttles: Default::default(),
            ingest: veil_ingest::Supervisor::new(
                store.clone(),
                live,
                veil_ingest::StatusBoard::default(),
                SEGMENT_90K,
            ),
            proxies: Default::default(),
            exports: veil_web::exports::Exports::new(veil_export::ExportKey::generate()),
        };
        let (cert, key) = veil_web::tls::ensure_self_signed(&dir.join("tls"), &[])?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let base = format!("https://{}", listener.local_addr()?);
        let server = tokio::spawn(veil_web::serve(
            listener,
            veil_web::Transport::Tls { cert, key },
            veil_web::router(state),
        ));
        let login = Self::client()?
            .post(format!("{base}/api/v1/session"))
            .json(&serde_json::json!({"username": "bench.viewer", "password": password}))
            .send()
            .await?;
        anyhow::ensure!(login.status().is_success(), "login: {}", login.status());
        let cookie = login
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("veil_session="))
            .and_then(|v| v.split(';').next())
            .context("no session cookie")?
            .to_owned();
        Ok(HttpsServer {
            base,
            cookie,
            audit,
            server,
        })
    }

    /// A client with no connection pooled: every request opens TLS anew.
    fn client() -> anyhow::Result<reqwest::Client> {
        Ok(reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .pool_max_idle_per_host(0)
            .build()?)
    }

    /// GETs `url` on a new connection: (time to the first body byte, body
    /// bytes, time to the last).
    async fn get(&self, url: &str) -> anyhow::Result<(Duration, u64, Duration)> {
        let c = Self::client()?;
        let t = Instant::now();
        let r = c
            .get(url)
            .header(reqwest::header::COOKIE, &self.cookie)
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "playback: {}", r.status());
        let mut r = r;
        let first = r.chunk().await?.context("empty body")?;
        let ttfb = t.elapsed();
        let mut bytes = first.len() as u64;
        while let Some(chunk) = r.chunk().await? {
            bytes += chunk.len() as u64;
        }
        Ok((ttfb, bytes, t.elapsed()))
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        self.server.abort();
        self.audit.shutdown();
    }
}

struct PlaybackRun {
    segments: Duration,
    plan: Duration,
    ttfb: Duration,
    bytes: u64,
    parts: usize,
}

/// What the HTTP layer does for `GET` of the whole range: load and unseal the
/// segment indexes, plan the file, then stream it with the HTTP layer's own
/// `veil_web::api::body_stream` (header first, then each part decrypted).
async fn playback_veil(
    store: &Store,
    camera: CameraId,
    start: Time90k,
    end: Time90k,
) -> anyhow::Result<PlaybackRun> {
    let t = Instant::now();
    let s = store.clone();
    let segs = blocking(move || Ok(s.segments(camera, MAIN_RENDITION, start, end)?)).await?;
    let segments = t.elapsed();
    let segs: Vec<Arc<veil_store::Segment>> = segs.into_iter().map(Arc::new).collect();
    let plan = playback::plan(&segs, start, end).context("nothing recorded in the range")?;
    let plan_done = t.elapsed();
    let plan = Arc::new(plan);
    let mut body = std::pin::pin!(veil_web::api::body_stream(
        store.clone(),
        plan.clone(),
        0,
        plan.len,
        None
    ));
    let first = body.next().await.context("empty body")??;
    let ttfb = t.elapsed();
    let mut bytes = first.len() as u64;
    while let Some(chunk) = body.next().await {
        bytes += chunk?.len() as u64;
    }
    anyhow::ensure!(
        bytes == plan.len,
        "body is {bytes} bytes, plan says {}",
        plan.len
    );
    Ok(PlaybackRun {
        segments,
        plan: plan_done - segments,
        ttfb,
        bytes,
        parts: plan.parts.len(),
    })
}

/// The baseline: the same objects read whole from disk, not decrypted.
/// Returns (bytes, time for all, time for the first object).
async fn playback_raw(
    store: &Store,
    root: &Path,
    camera: CameraId,
    start: Time90k,
    end: Time90k,
) -> anyhow::Result<(u64, Duration, Duration)> {
    let paths: Vec<PathBuf> = store
        .db
        .segments(camera, MAIN_RENDITION, start, end)?
        .into_iter()
        .map(|r| root.join("objects").join(r.object_key))
        .collect();
    let t = Instant::now();
    let (bytes, first) = blocking(move || {
        let mut n = 0u64;
        let mut first = None;
        for p in &paths {
            n += std::fs::read(p)?.len() as u64;
            first.get_or_insert_with(|| t.elapsed());
        }
        Ok((n, first.unwrap_or_default()))
    })
    .await?;
    Ok((bytes, t.elapsed(), first))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mount table names file systems; the longest mount point wins.
    #[test]
    fn filesystem_type_reads_the_mount_holding_a_path() {
        assert_eq!(filesystem_type(Path::new("/proc/self")).unwrap(), "proc");
        assert_eq!(filesystem_type(Path::new("/sys")).unwrap(), "sysfs");
        assert!(filesystem_type(Path::new("/no/such/path")).is_err());
    }
}
