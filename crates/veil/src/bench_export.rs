//! `veil bench export`: an evidence-export package of one camera's long
//! recording (an hour at ~4 Mbit/s by default, ≈ 1.8 GB) made through the
//! real path (`veil_export::package::plan` then `package::write` into a
//! stored package file, encrypted to an age x25519 recipient, fsynced by
//! `ExportFile::commit`), next to the raw cost of the same bytes in the same
//! run: reading the sealed objects from disk, SHA-256 of each, and age
//! encryption to the same recipient into a file, fsynced too.
//!
//! The export decrypts each segment (AES-256-GCM), hashes every MP4 byte
//! and the whole package (two SHA-256 passes), builds the MP4 header and
//! the tar archive and encrypts with age; the baseline does one read, one
//! SHA-256 and age. The target is ≥ 50 % of the baseline's MB/s in one
//! streaming pass with bounded memory: the peak resident memory of the
//! export (the high-water mark reset just before it through
//! `/proc/self/clear_refs`) is printed next to the largest segment.
//! Finally the package is checked with `veil export verify`'s
//! `veil_export::verify::verify`.
//!
//! The page cache cannot be dropped between runs (that needs root): the
//! objects were just written, so every run reads them from memory, as an
//! export of recent video would.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use veil_audit::{AccessRecord, AuditKey, Checkpointing, ClientAddressPolicy};
use veil_base::{Clock as _, SystemClock, Time90k, TIME_UNITS_PER_SEC};
use veil_export::package::{self, CameraRequest, Encryption};
use veil_export::verify::{self, Decrypt};
use veil_export::ExportKey;
use veil_store::{Store, MAIN_RENDITION};

use crate::bench::{
    blocking, fmt_list, mbps, work_dir, Feeder, VideoLoop, FRAME_90K, GOP_FRAMES, MB,
};

/// The target: the export at ≥ 50 % of the raw pass's MB/s.
const TARGET_RATIO: f64 = 0.5;

#[derive(clap::Args)]
pub struct ExportArgs {
    /// Minutes of video recorded, then exported as one package.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=24 * 60))]
    minutes: u32,
    /// Measurements of each kind (export and raw pass, alternating which
    /// goes first); every run is printed, the mean is compared.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=20))]
    runs: u32,
    /// Work in a fresh subdirectory of DIR (removed afterwards) instead of a
    /// temporary directory, e.g. to measure a chosen disk.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

/// A field of `/proc/self/status` in KiB (`VmHWM`, `VmRSS`).
fn status_kib(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Resets the peak resident memory (`VmHWM`) to the current one, so the
/// next reading is the peak of what runs in between; returns the current
/// one (KiB). `None` where the kernel does not allow it.
fn reset_peak_rss() -> Option<u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    status_kib("VmRSS")
}

/// The peak resident memory since [`reset_peak_rss`] returned `base`
/// (KiB): (peak, growth over `base`).
fn peak_since(base: Option<u64>) -> Option<(u64, u64)> {
    let base = base?;
    let peak = status_kib("VmHWM")?;
    Some((peak, peak.saturating_sub(base)))
}

fn mib_peak(p: Option<(u64, u64)>) -> String {
    match p {
        Some((peak, growth)) => format!(
            "{} ({} above its start)",
            mib(Some(peak)),
            mib(Some(growth))
        ),
        None => "? (the peak cannot be reset on this kernel)".into(),
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

/// One timed pass: bytes, the time of the pass itself and with the fsync.
struct Pass {
    bytes: u64,
    pass: Duration,
    total: Duration,
    /// Peak resident memory during the pass and its growth (KiB).
    peak_kib: Option<(u64, u64)>,
}

impl Pass {
    fn mbps(&self) -> f64 {
        mbps(self.bytes, self.pass)
    }
    fn mbps_synced(&self) -> f64 {
        mbps(self.bytes, self.total)
    }
}

/// What the export needs besides the store.
struct Setup {
    store: Store,
    request: package::Request,
    key: ExportKey,
    audit_public_key: [u8; 32],
    recipient: age::x25519::Recipient,
}

/// `package::plan` + `package::write` into stored package file `name`, as
/// the server's export job does; the file is kept.
fn export_once(s: &Setup, handle: &tokio::runtime::Handle, name: &str) -> anyhow::Result<Pass> {
    let reset = reset_peak_rss();
    let t = Instant::now();
    let plan = package::plan(&s.store, &s.request)?;
    let file = s.store.create_export_file(name)?;
    let cx = package::Env {
        store: &s.store,
        handle,
        key: &s.key,
        audit_public_key: s.audit_public_key,
    };
    let recipients: Vec<Box<dyn age::Recipient + Send>> = vec![Box::new(s.recipient.clone())];
    let (file, written) = package::write(
        &cx,
        &s.request,
        &plan,
        Encryption::Recipients(recipients),
        file,
        &mut |_| {},
    )?;
    let pass = t.elapsed();
    file.commit()?;
    let total = t.elapsed();
    Ok(Pass {
        bytes: written.package_bytes,
        pass,
        total,
        peak_kib: peak_since(reset),
    })
}

/// The baseline: each object read whole from disk, its SHA-256, and the
/// bytes age-encrypted to the same recipient into `out`, fsynced; `out` is
/// removed afterwards.
fn raw_once(
    objects: &[PathBuf],
    recipient: &age::x25519::Recipient,
    out: &Path,
) -> anyhow::Result<Pass> {
    let reset = reset_peak_rss();
    let t = Instant::now();
    let file = std::fs::File::create(out).with_context(|| format!("{}", out.display()))?;
    let enc = age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))?;
    let mut w = enc.wrap_output(file)?;
    let mut bytes = 0u64;
    for p in objects {
        let b = std::fs::read(p).with_context(|| format!("{}", p.display()))?;
        let h = ring::digest::digest(&ring::digest::SHA256, &b);
        std::hint::black_box(h);
        w.write_all(&b)?;
        bytes += b.len() as u64;
    }
    let file = w.finish()?;
    let pass = t.elapsed();
    file.sync_all()?;
    let total = t.elapsed();
    let peak_kib = peak_since(reset);
    std::fs::remove_file(out)?;
    Ok(Pass {
        bytes,
        pass,
        total,
        peak_kib,
    })
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

pub async fn export_bench(a: ExportArgs) -> anyhow::Result<()> {
    let rss_start = status_kib("VmRSS");
    let (lp, took) = VideoLoop::encode(2 * GOP_FRAMES)?;
    println!("{}", lp.describe(took));

    let tmp = work_dir(a.data.as_deref())?;
    let root = tmp.path().join("veil");
    let clock = Arc::new(SystemClock);
    let store = Store::open_dir(&root, clock.clone())?;
    let now = clock.now();
    let camera = store.db.upsert_camera("bench", "synthetic", "{}", now)?;
    let frames = u64::from(a.minutes) * 60 * u64::from(crate::bench::FPS);
    let start = Time90k(now.0 - frames as i64 * FRAME_90K - 60 * TIME_UNITS_PER_SEC);
    let end = Time90k(start.0 + frames as i64 * FRAME_90K);

    // Record through the production write path (sealed, hashed, chained),
    // a few segments at once, no real-time wait.
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
    drop(lp);
    let objects: Vec<PathBuf> = store
        .db
        .segments(camera, MAIN_RENDITION, start, end)?
        .into_iter()
        .map(|r| root.join("objects").join(r.object_key))
        .collect();
    anyhow::ensure!(
        objects.len() == written,
        "{written} segments written, {} rows found",
        objects.len()
    );
    let mut object_bytes = 0u64;
    let mut largest = 0u64;
    for p in &objects {
        let n = std::fs::metadata(p)?.len();
        object_bytes += n;
        largest = largest.max(n);
    }
    println!(
        "export setup: {} min recorded as {written} segments of one camera, {:.1} MB of media \
         ({:.2} Mbit/s), {:.1} MB of sealed objects, largest object {largest} bytes, \
         written in {:.1} s",
        a.minutes,
        media as f64 / MB,
        media as f64 * 8.0 / (f64::from(a.minutes) * 60.0) / 1e6,
        object_bytes as f64 / MB,
        t.elapsed().as_secs_f64()
    );

    // The access record signs the chain heads, as the server's export job
    // makes it do before writing.
    let audit = AccessRecord::open(
        store.db.clone(),
        clock.clone(),
        ClientAddressPolicy::Full,
        Some(Checkpointing {
            key: Arc::new(AuditKey::generate().0),
            every_entries: 1000,
            every: Duration::from_secs(3600),
            sink: None,
        }),
    )?;
    audit
        .checkpoint()?
        .context("the access record signed no checkpoint")?;
    let audit_public_key = audit.public_key().context("no audit key")?;
    let identity = age::x25519::Identity::generate();
    let setup = Arc::new(Setup {
        request: package::Request {
            package_id: format!("{:032x}", rand::random::<u128>()),
            system_id: store.system_id()?,
            created: clock.now(),
            creator: "bench".into(),
            authorised_by: vec!["bench".into()],
            expires: Time90k(clock.now().0 + 86_400 * TIME_UNITS_PER_SEC),
            cameras: vec![CameraRequest {
                id: camera,
                name: "bench".into(),
                area: String::new(),
                purposes: Vec::new(),
                intervals: vec![(start, end)],
            }],
            excluded: Vec::new(),
            lift: HashMap::new(),
            redactions: Vec::new(),
            within_intervals: false,
        },
        store,
        key: ExportKey::generate(),
        audit_public_key,
        recipient: identity.to_public(),
    });
    let rss_setup = status_kib("VmHWM");

    let objects = Arc::new(objects);
    let raw_out = root.join("bench-raw.age");
    let mut exports: Vec<Pass> = Vec::new();
    let mut raws: Vec<Pass> = Vec::new();
    let mut kept: Option<String> = None;
    for r in 0..a.runs {
        for export_first in [r % 2 == 0, r % 2 != 0] {
            if export_first {
                // Only the last package is kept (for the verification).
                if let Some(old) = kept.take() {
                    setup.store.remove_export_file(&old)?;
                }
                let name = format!("bench-{r}.tar.age");
                let (s, n) = (setup.clone(), name.clone());
                let handle = tokio::runtime::Handle::current();
                exports.push(blocking(move || export_once(&s, &handle, &n)).await?);
                kept = Some(name);
            } else {
                let (o, rc, out) = (objects.clone(), setup.recipient.clone(), raw_out.clone());
                raws.push(blocking(move || raw_once(&o, &rc, &out)).await?);
            }
        }
    }
    let package_name = kept.context("no export ran")?;

    // `veil export verify` on the last package.
    let path = root.join("exports").join(&package_name);
    let pinned = setup.key.public_key().clone();
    let (report, verify_took, verify_peak) = blocking(move || {
        let reset = reset_peak_rss();
        let t = Instant::now();
        let file = std::fs::File::open(&path)?;
        let report = verify::verify(
            file,
            Decrypt::Identities(vec![Box::new(identity)]),
            Some(pinned),
        )
        .map_err(|e| anyhow::anyhow!("the package does not verify: {e}"))?;
        let took = t.elapsed();
        let peak = peak_since(reset);
        Ok((report, took, peak))
    })
    .await?;
    let package_bytes = exports.last().map_or(0, |p| p.bytes);

    for (i, p) in exports.iter().enumerate() {
        println!(
            "export run {}: {:.1} MB package in {:.2} s = {:.1} MB/s ({:.2} s and {:.1} MB/s with \
             the fsync); peak RSS during it {}",
            i + 1,
            p.bytes as f64 / MB,
            p.pass.as_secs_f64(),
            p.mbps(),
            p.total.as_secs_f64(),
            p.mbps_synced(),
            mib_peak(p.peak_kib)
        );
    }
    for (i, p) in raws.iter().enumerate() {
        println!(
            "raw run {}: read + SHA-256 + age of {:.1} MB in {:.2} s = {:.1} MB/s ({:.2} s and \
             {:.1} MB/s with the fsync); peak RSS during it {}",
            i + 1,
            p.bytes as f64 / MB,
            p.pass.as_secs_f64(),
            p.mbps(),
            p.total.as_secs_f64(),
            p.mbps_synced(),
            mib_peak(p.peak_kib)
        );
    }
    let e: Vec<f64> = exports.iter().map(Pass::mbps).collect();
    let r: Vec<f64> = raws.iter().map(Pass::mbps).collect();
    let es: Vec<f64> = exports.iter().map(Pass::mbps_synced).collect();
    let rs: Vec<f64> = raws.iter().map(Pass::mbps_synced).collect();
    let ratio = mean(&e) / mean(&r);
    let ratio_synced = mean(&es) / mean(&rs);
    let peak = exports.iter().filter_map(|p| p.peak_kib).max();
    println!(
        "export: {:.1} MB/s [{}] | raw read + SHA-256 + age: {:.1} MB/s [{}] | ratio {:.0} % \
         ({:.0} % with the fsyncs) | page cache warm (objects just written)",
        mean(&e),
        fmt_list(&e),
        mean(&r),
        fmt_list(&r),
        ratio * 100.0,
        ratio_synced * 100.0
    );
    println!(
        "export memory: peak RSS during an export {} (process at start {}, peak while recording {}) \
         for a {:.1} MB package; largest segment object {largest} bytes",
        mib_peak(peak),
        mib(rss_start),
        mib(rss_setup),
        package_bytes as f64 / MB
    );
    println!(
        "verify: {} files, {} video(s), {} chain(s) checked in {:.2} s = {:.1} MB/s; peak RSS {}",
        report.files.len(),
        report.videos.len(),
        report.chains.len(),
        verify_took.as_secs_f64(),
        mbps(package_bytes, verify_took),
        mib_peak(verify_peak)
    );
    println!(
        "export: {}: {:.0} % of the raw pass (target ≥ {:.0} %), one streaming pass",
        if ratio >= TARGET_RATIO {
            "TARGET MET"
        } else {
            "TARGET MISSED"
        },
        ratio * 100.0,
        TARGET_RATIO * 100.0
    );
    audit.shutdown();
    setup.store.remove_export_file(&package_name)?;
    drop(setup);
    tmp.close()?;
    Ok(())
}
