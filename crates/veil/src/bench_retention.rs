//! `veil bench retention`: destroying N expired segments through the real
//! path (`Store::retention_plan`, then the bucket-key destruction and row
//! deletion of `Store::apply_retention`, in batches as the server's job runs
//! them), next to deleting the same rows without keys from a database of the
//! same size, in the same run. The rows and bucket keys are loaded directly
//! (`Db::insert_segments` in large transactions; bucket keys made and
//! wrapped by the keyring); there are no objects, so the figure excludes
//! object deletion, which the server does after the rows (in any order, and
//! a crash leaves only ciphertext under destroyed keys).
//!
//! Meanwhile a recorder thread inserts a segment row (with its bucket key)
//! every 10 ms, as a camera does, and the longest wait of those inserts is
//! reported: destruction must not stall recording.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use veil_base::{CameraId, Clock as _, SystemClock, Time90k, TIME_UNITS_PER_SEC};
use veil_store::db::SegmentRow;
use veil_store::{Store, MAIN_RENDITION};

/// Segments per hour (10 s segments).
const PER_HOUR: u64 = 360;
const HOUR_90K: i64 = 3600 * TIME_UNITS_PER_SEC;
const SEGMENT_90K: i64 = 10 * TIME_UNITS_PER_SEC;
/// Rows per loading transaction.
const LOAD_BATCH: usize = 20_000;

#[derive(clap::Args)]
pub struct RetentionArgs {
    /// Expired segments to destroy (10 s each, 360 per camera-hour).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(360..=100_000_000))]
    segments: u64,
    /// Cameras the segments are spread over.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    cameras: u32,
    /// Bytes of each row's sealed sample index (a 10 s segment at 25 fps
    /// has about 2 kB).
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(0..=65536))]
    index_bytes: u32,
    /// Bucket keys destroyed per batch.
    #[arg(long, default_value_t = crate::retention_cli::BATCH)]
    batch: usize,
    /// Work in a fresh subdirectory of DIR (removed afterwards) instead of a
    /// temporary directory, e.g. to measure a chosen disk.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

/// Fills `store` with `a.segments` segments ending a year ago, spread over
/// `a.cameras` cameras, hour by hour.
fn load(store: &Store, a: &RetentionArgs, base: Time90k) -> anyhow::Result<()> {
    let hours = a.segments.div_ceil(PER_HOUR);
    let cameras: Vec<CameraId> = (0..a.cameras)
        .map(|i| {
            store
                .db
                .upsert_camera(&format!("bench {i}"), "synthetic", "{}", base)
        })
        .collect::<Result<_, _>>()?;
    let index = vec![0xa5u8; a.index_bytes as usize];
    let mut rows = Vec::with_capacity(LOAD_BATCH);
    let mut made = 0u64;
    for h in 0..hours {
        let camera = cameras[(h % u64::from(a.cameras)) as usize];
        let hour = Time90k(base.0 + (h / u64::from(a.cameras)) as i64 * HOUR_90K);
        let (bucket, _) = store
            .keys()
            .bucket_for_write(camera, MAIN_RENDITION, hour)?;
        for k in 0..PER_HOUR.min(a.segments - made) {
            {
                let start = Time90k(hour.0 + k as i64 * SEGMENT_90K);
                rows.push(SegmentRow {
                    id: veil_base::SegmentId(0),
                    camera_id: camera,
                    rendition: MAIN_RENDITION.into(),
                    run_start_90k: hour,
                    start_90k: start,
                    duration_90k: SEGMENT_90K,
                    frames: 250,
                    media_bytes: 5_000_000,
                    object_key: veil_store::segment::object_key(
                        camera,
                        MAIN_RENDITION,
                        start,
                        made,
                    ),
                    object_bytes: 5_000_100,
                    bucket_key_id: Some(bucket),
                    wrapped_key: vec![0x5a; 60],
                    sealed_index: index.clone(),
                    mask_version_id: None,
                    object_sha256: None,
                });
                made += 1;
                if rows.len() == LOAD_BATCH {
                    store.db.insert_segments(&rows)?;
                    rows.clear();
                }
            }
        }
    }
    store.db.insert_segments(&rows)?;
    Ok(())
}

/// A camera recording during the measurement: a bucket key and a segment
/// row every 10 ms; returns the longest insert (key lookup included) and the
/// number of inserts when `stop` is set.
fn recorder(store: Store, stop: Arc<AtomicBool>) -> anyhow::Result<(Duration, u64)> {
    let camera = store
        .db
        .upsert_camera("recording now", "synthetic", "{}", store.clock().now())?;
    let mut longest = Duration::ZERO;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let now = store.clock().now();
        let t = Instant::now();
        let (bucket, _) = store.keys().bucket_for_write(camera, MAIN_RENDITION, now)?;
        store.db.insert_segment(&SegmentRow {
            id: veil_base::SegmentId(0),
            camera_id: camera,
            rendition: MAIN_RENDITION.into(),
            run_start_90k: now,
            start_90k: now,
            duration_90k: SEGMENT_90K,
            frames: 250,
            media_bytes: 5_000_000,
            object_key: veil_store::segment::object_key(camera, MAIN_RENDITION, now, n),
            object_bytes: 5_000_100,
            bucket_key_id: Some(bucket),
            wrapped_key: vec![0x5a; 60],
            sealed_index: vec![0xa5; 512],
            mask_version_id: None,
            object_sha256: None,
        })?;
        longest = longest.max(t.elapsed());
        n += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok((longest, n))
}

/// Runs `f` while the recorder thread inserts; returns `f`'s result, its
/// time, the longest insert and the inserts made.
async fn with_recorder<T>(
    store: &Store,
    f: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<(T, Duration, Duration, u64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let rec = {
        let (s, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || recorder(s, stop))
    };
    let t = Instant::now();
    let r = f.await;
    let took = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (longest, n) = rec
        .join()
        .map_err(|_| anyhow::anyhow!("the recorder thread panicked"))??;
    Ok((r?, took, longest, n))
}

pub async fn retention_bench(a: RetentionArgs) -> anyhow::Result<()> {
    let work = crate::bench::work_dir(a.data.as_deref())?;
    let clock = Arc::new(SystemClock);
    let now = clock.now();
    // A year ago, on an hour: every segment is long expired.
    let base = Time90k((now.0 - 365 * 24 * HOUR_90K) / HOUR_90K * HOUR_90K);
    let keep = crate::retention_cli::rule(7 * 24);
    println!(
        "retention: {} expired segments of 10 s on {} cameras ({} bucket keys), sealed index {} B, \
         batches of {} bucket keys; no objects (their deletion follows the rows, in the background)",
        a.segments,
        a.cameras,
        a.segments.div_ceil(PER_HOUR),
        a.index_bytes,
        a.batch
    );

    // The real path.
    let real = Store::open_dir(&work.path().join("real"), clock.clone())?;
    let t = Instant::now();
    tokio::task::block_in_place(|| load(&real, &a, base))?;
    println!("loaded in {:.1} s", t.elapsed().as_secs_f64());
    let mut plan_time = Duration::ZERO;
    let mut destroy_time = Duration::ZERO;
    let (segments, took, longest, inserts) = with_recorder(&real, async {
        let mut segments = 0usize;
        loop {
            let t = Instant::now();
            let (s, k) = (real.clone(), keep.clone());
            let batch = a.batch;
            let plan =
                tokio::task::spawn_blocking(move || s.retention_plan(now, k, &[], batch)).await??;
            plan_time += t.elapsed();
            if plan.is_empty() {
                break;
            }
            let t = Instant::now();
            let (r, _objects) = real.destroy_keys_and_rows(&plan).await?;
            segments += r.segments_deleted;
            destroy_time += t.elapsed();
        }
        Ok(segments)
    })
    .await?;
    anyhow::ensure!(
        segments as u64 == a.segments,
        "destroyed {segments} segments, expected {}",
        a.segments
    );
    drop(real);

    // The baseline: the same rows, deleted without keys, in batches of the
    // same size.
    let plain = Store::open_dir(&work.path().join("plain"), clock.clone())?;
    tokio::task::block_in_place(|| load(&plain, &a, base))?;
    let per_batch = a.batch * PER_HOUR as usize;
    let (_, plain_took, plain_longest, _) = with_recorder(&plain, async {
        let mut next = 1i64;
        let total = a.segments as i64;
        while next <= total {
            let ids: Vec<_> = (next..(next + per_batch as i64).min(total + 1))
                .map(veil_base::SegmentId)
                .collect();
            next += per_batch as i64;
            let db = plain.db.clone();
            tokio::task::spawn_blocking(move || db.delete_segments(&ids, "retention")).await??;
        }
        Ok(())
    })
    .await?;

    println!(
        "destroy (plan + keys + rows): {:>8.2} s  ({:.0} segments/s; planning {:.2} s, keys and rows {:.2} s)",
        took.as_secs_f64(),
        a.segments as f64 / took.as_secs_f64(),
        plan_time.as_secs_f64(),
        destroy_time.as_secs_f64()
    );
    println!(
        "plain row deletion:           {:>8.2} s  ({:.0} segments/s)",
        plain_took.as_secs_f64(),
        a.segments as f64 / plain_took.as_secs_f64()
    );
    println!(
        "ratio: {:.2}x; a recorder inserting every 10 ms waited at most {:.1} ms ({} inserts) during \
         destruction, {:.1} ms during plain deletion",
        took.as_secs_f64() / plain_took.as_secs_f64(),
        longest.as_secs_f64() * 1e3,
        inserts,
        plain_longest.as_secs_f64() * 1e3
    );
    work.close().context("cannot remove the work directory")?;
    Ok(())
}
