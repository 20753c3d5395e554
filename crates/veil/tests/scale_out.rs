//! Scale-out as an operator runs it (issue 17, "Tests that must exist"): one
//! real PostgreSQL server, one real S3-compatible server (moto), three
//! `veil serve --role recorder` processes and one `veil serve --role web`,
//! each with its own data directory and configuration (the same `[database]
//! url`, the same `[objects] s3` bucket, the same root key through
//! `[root_key] kind = "env"`, its own `[node] id`), and 30 synthetic cameras
//! of 2-s segments configured once for all.
//!
//! - a recorder killed with SIGKILL: its cameras record again on the others
//!   within 30 s, the gap per camera is bounded, every segment plays from the
//!   web node, `veil audit verify` passes;
//! - a recorder stopped (SIGSTOP) past its leases' expiry: the others take its
//!   cameras under new tokens; continued (SIGCONT), its late writes are
//!   refused by the fencing token, it gives the cameras up, and no segment is
//!   stored twice (no two rows of a camera overlap);
//! - PostgreSQL stopped and started again while recording: the cameras show
//!   `error` through the web node (or the recorders stop cleanly) and
//!   recording resumes by itself; every row has its object; the access
//!   record verifies;
//! - the object store unreachable for 20 s: the cameras show an error through
//!   the web node, recording resumes, everything stored before is still
//!   listed and readable.
//!
//! The recording state the API does not show (segments, their times, lease
//! holders and tokens) is read straight from PostgreSQL; the bucket is listed
//! straight from moto.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::nodes::{bucket_client, moto, tail, with_pg, Cluster, KEK, KEK_VAR, SEGMENT_S};
use common::{output_text, urlencode};
use reqwest::{Method, StatusCode};

/// Cameras of the installation.
const CAMERAS: usize = 30;
/// Recorder processes.
const RECORDERS: usize = 3;
/// The synthetic cameras' keyframe interval (`veil serve` gives them a
/// keyframe every two seconds of frames).
const KEYFRAME_S: f64 = 2.0;
/// A lease's expiry and how often the keeper looks for leases to take
/// (`veil_store::leases::{LEASE_EXPIRY_90K, POLL_PERIOD_90K}`).
const LEASE_EXPIRY_S: f64 = 15.0;
const POLL_PERIOD_S: f64 = 1.0;
/// The keeper's renewal (and heartbeat) period
/// (`veil_store::leases::RENEW_PERIOD_90K`).
const RENEW_PERIOD_S: f64 = 5.0;
/// The bound for a dead recorder's cameras to record again.
const TAKEOVER_S: f64 = 30.0;
const T90K: f64 = 90_000.0;

/// Seconds since the epoch, now.
fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// One segment row, times in seconds since the epoch.
#[derive(Clone, Debug)]
struct Seg {
    id: i64,
    camera: i64,
    rendition: String,
    start: f64,
    end: f64,
    key: String,
    state: String,
}

/// One camera lease row.
#[derive(Clone, Debug)]
struct Lease {
    holder: String,
    token: i64,
}

impl Cluster {
    /// Starts the installation with [`CAMERAS`] cameras and [`RECORDERS`]
    /// recorders.
    async fn start_all() -> Cluster {
        Cluster::start(CAMERAS, RECORDERS).await
    }

    fn segments(&self) -> Vec<Seg> {
        with_pg(&self.url, |c| {
            let rows = c.query(
                "SELECT id, camera_id, rendition, start_90k, duration_90k, object_key, state
                 FROM segment ORDER BY camera_id, rendition, start_90k",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| {
                    let start: i64 = r.get(3);
                    let dur: i64 = r.get(4);
                    Seg {
                        id: r.get(0),
                        camera: r.get(1),
                        rendition: r.get(2),
                        start: start as f64 / T90K,
                        end: (start + dur) as f64 / T90K,
                        key: r.get(5),
                        state: r.get(6),
                    }
                })
                .collect())
        })
        .unwrap_or_else(|e| panic!("reading segments: {e}"))
    }

    /// Lease rows by camera (empty while the database does not answer).
    fn leases(&self) -> BTreeMap<i64, Lease> {
        with_pg(&self.url, |c| {
            let rows = c.query("SELECT camera_id, holder, token FROM camera_lease", &[])?;
            Ok(rows
                .iter()
                .map(|r| {
                    (
                        r.get::<_, i64>(0),
                        Lease {
                            holder: r.get(1),
                            token: r.get(2),
                        },
                    )
                })
                .collect())
        })
        .unwrap_or_default()
    }

    /// Cameras by holder (live holders only: those in `recorders`).
    fn held_by(&self) -> BTreeMap<String, BTreeSet<i64>> {
        let mut m: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
        for (cam, l) in self.leases() {
            m.entry(l.holder).or_default().insert(cam);
        }
        m
    }

    /// Waits until the 30 cameras are spread evenly (10 per recorder) and
    /// each has `segments` stored segments.
    async fn wait_spread_and_recording(&self, segments: usize) {
        let limit = Duration::from_secs(90);
        let deadline = Instant::now() + limit;
        loop {
            let held = self.held_by();
            let counts: Vec<usize> = (1..=RECORDERS)
                .map(|i| held.get(&format!("rec-{i}")).map_or(0, |s| s.len()))
                .collect();
            let segs = self.segments();
            let per_camera = per_camera_ok(&segs);
            let recording =
                per_camera.len() == CAMERAS && per_camera.values().all(|v| v.len() >= segments);
            if counts.iter().all(|&n| n == CAMERAS / RECORDERS) && recording {
                eprintln!("spread {counts:?}, every camera has >= {segments} segments");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "within {limit:?}: cameras per recorder {counts:?} (want {} each), {} cameras \
                 recording with >= {segments} segments\n{}",
                CAMERAS / RECORDERS,
                per_camera.values().filter(|v| v.len() >= segments).count(),
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn status(&self, camera: i64) -> Result<serde_json::Value, String> {
        let (st, body) = self
            .api
            .call(
                Method::GET,
                &format!("api/v1/cameras/{camera}/status"),
                None,
            )
            .await?;
        if st == StatusCode::OK {
            Ok(body)
        } else {
            Err(format!("{st} {body}"))
        }
    }

    fn bucket_keys(&self) -> BTreeSet<String> {
        let client = bucket_client(&self.s3, &self.bucket);
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(common::nodes::bucket_keys(&client))
        })
    }

    /// `veil audit verify` with a node's `--config` (and its data directory).
    fn audit_verify(&self, data: &Path, config: &Path) -> String {
        let (ok, out) = tokio::task::block_in_place(|| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_veil"));
            cmd.args(["audit", "verify", "--data"])
                .arg(data)
                .arg("--config")
                .arg(config)
                .env(KEK_VAR, KEK);
            let out = cmd.output().expect("veil audit verify");
            (out.status.success(), output_text(&out))
        });
        assert!(ok, "veil audit verify failed:\n{out}");
        out
    }

    /// Every row's object is in the bucket.
    fn assert_every_row_has_its_object(&self) {
        let keys = self.bucket_keys();
        let rows = self.segments();
        let missing: Vec<&Seg> = rows.iter().filter(|s| !keys.contains(&s.key)).collect();
        assert!(
            missing.is_empty(),
            "{} of {} rows have no object in the bucket, e.g. {:?}",
            missing.len(),
            rows.len(),
            missing.first()
        );
    }
}

/// The `ok` main-rendition segments by camera, in time order.
fn per_camera_ok(segs: &[Seg]) -> BTreeMap<i64, Vec<Seg>> {
    let mut m: BTreeMap<i64, Vec<Seg>> = BTreeMap::new();
    for s in segs
        .iter()
        .filter(|s| s.state == "ok" && s.rendition == "main")
    {
        m.entry(s.camera).or_default().push(s.clone());
    }
    m
}

/// No two rows of one camera and rendition overlap in time (a segment
/// stored twice, or two recorders writing one camera, would).
fn assert_no_overlap(segs: &[Seg]) {
    let mut by: BTreeMap<(i64, String), Vec<&Seg>> = BTreeMap::new();
    for s in segs {
        by.entry((s.camera, s.rendition.clone()))
            .or_default()
            .push(s);
    }
    for ((camera, rendition), mut v) in by {
        v.sort_by(|a, b| a.start.total_cmp(&b.start));
        for w in v.windows(2) {
            assert!(
                w[1].start >= w[0].end - 1.0 / T90K,
                "camera {camera} ({rendition}): segments {} [{:.3}, {:.3}] and {} [{:.3}, {:.3}] \
                 overlap: written twice",
                w[0].id,
                w[0].start,
                w[0].end,
                w[1].id,
                w[1].start,
                w[1].end
            );
        }
    }
}

fn rfc3339(t: f64) -> String {
    chrono::DateTime::from_timestamp_millis((t * 1000.0).round() as i64)
        .unwrap()
        .to_rfc3339()
}

/// The camera's contiguous runs of segments (a gap over half a second
/// starts a new run): (first start, last end, segments).
fn runs(v: &[Seg]) -> Vec<(f64, f64, usize)> {
    let mut out: Vec<(f64, f64, usize)> = Vec::new();
    for s in v {
        match out.last_mut() {
            Some(r) if s.start - r.1 <= 0.5 => {
                r.1 = r.1.max(s.end);
                r.2 += 1;
            }
            _ => out.push((s.start, s.end, 1)),
        }
    }
    out
}

/// Plays `camera` from `start` to `end` through the web node: 200, an MP4
/// (an `ftyp` box first) that ffprobe reads; its duration.
async fn play(c: &Cluster, camera: i64, start: f64, end: f64) -> f64 {
    // Inside the span by a millisecond: the request's times are rounded.
    let (status, body) = c
        .api
        .bytes(&format!(
            "api/v1/cameras/{camera}/video.mp4?start={}&end={}",
            urlencode(&rfc3339(start + 0.001)),
            urlencode(&rfc3339(end - 0.001))
        ))
        .await
        .unwrap();
    assert_eq!(
        status,
        StatusCode::OK,
        "camera {camera} [{start:.3}, {end:.3}] from the web node: {}",
        String::from_utf8_lossy(&body)
    );
    assert!(
        body.len() > 8 && &body[4..8] == b"ftyp",
        "camera {camera}: not an MP4 ({} bytes)",
        body.len()
    );
    let file = c.dir.path().join(format!("play-{camera}-{start}.mp4"));
    std::fs::write(&file, body).unwrap();
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration", "-of"])
        .args(["default=noprint_wrappers=1:nokey=1"])
        .arg(&file)
        .output()
        .expect("ffprobe not found: install the Debian package ffmpeg");
    assert!(
        out.status.success(),
        "ffprobe on camera {camera}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_file(&file);
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("ffprobe: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Every stored segment of every camera plays from the web node: each
/// camera's contiguous runs are requested as MP4s and ffprobe reads them,
/// about as long as the run.
async fn assert_everything_plays(c: &Cluster) {
    let per_camera = per_camera_ok(&c.segments());
    assert_eq!(per_camera.len(), CAMERAS, "cameras with segments");
    let mut played = 0;
    for (camera, v) in &per_camera {
        for (start, end, n) in runs(v) {
            let took = play(c, *camera, start, end).await;
            assert!(
                took >= (end - start) - 1.0,
                "camera {camera}: {took:.2} s played of a run of {n} segments lasting {:.2} s",
                end - start
            );
            played += n;
        }
    }
    eprintln!("{played} segments played from the web node");
}

/// Polls `f` every 500 ms until it holds, for at most `limit`.
async fn eventually<F, Fut>(what: &str, limit: Duration, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    loop {
        match f().await {
            Ok(()) => return started.elapsed(),
            Err(e) => assert!(started.elapsed() < limit, "{what} within {limit:?}: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Bound on a killed recorder's cameras' gap, the issue's `lease expiry +
/// one segment` plus only what cannot be removed: the last stored segment
/// ends at most one segment before the kill (the open one is lost) and the
/// lease was renewed at or before that end, so it expires at most
/// `LEASE_EXPIRY_S` after it; a survivor looks at the next poll
/// (`POLL_PERIOD_S`) and the new recording's first segment starts at the
/// camera's first keyframe (`KEYFRAME_S`): 15 + 2 + 2 + 1 = 20 s.
const GAP_BOUND_S: f64 = LEASE_EXPIRY_S + SEGMENT_S + KEYFRAME_S + POLL_PERIOD_S;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_recorders_cameras_record_again_on_the_others_and_everything_plays() {
    let mut c = Cluster::start_all().await;
    c.wait_spread_and_recording(2).await;

    // SIGKILL rec-2.
    let victims: BTreeSet<i64> = c.held_by().remove("rec-2").unwrap_or_default();
    assert_eq!(victims.len(), CAMERAS / RECORDERS, "rec-2's cameras");
    let old_tokens = c.leases();
    let killed_at = now_s();
    let victim = c.recorders[1].take().unwrap();
    let (victim_data, victim_config) = (victim.data.clone(), victim.config.clone());
    drop(victim); // SIGKILL and reap
    eprintln!("rec-2 killed holding cameras {victims:?}");

    // Its cameras record again on the others: a new row each, starting
    // within 30 s of the kill, under a lease of another recorder.
    let took = eventually(
        "rec-2's cameras recording again on the others",
        Duration::from_secs_f64(TAKEOVER_S + SEGMENT_S + KEYFRAME_S + 5.0),
        || async {
            let segs = per_camera_ok(&c.segments());
            let leases = c.leases();
            let waiting: Vec<i64> = victims
                .iter()
                .copied()
                .filter(|cam| {
                    let taken = leases
                        .get(cam)
                        .is_some_and(|l| l.holder != "rec-2" && l.token > old_tokens[cam].token);
                    let new_row = segs
                        .get(cam)
                        .is_some_and(|v| v.iter().any(|s| s.start > killed_at));
                    !(taken && new_row)
                })
                .collect();
            if waiting.is_empty() {
                Ok(())
            } else {
                Err(format!("waiting for cameras {waiting:?}\n{}", c.logs()))
            }
        },
    )
    .await;
    eprintln!("taken over and recording again after {took:?}");

    let leases = c.leases();
    let segs = per_camera_ok(&c.segments());
    let mut worst = 0.0f64;
    for cam in &victims {
        let holder = &leases[cam].holder;
        assert!(
            holder == "rec-1" || holder == "rec-3",
            "camera {cam} held by {holder}"
        );
        let v = &segs[cam];
        let before = v
            .iter()
            .filter(|s| s.start < killed_at)
            .map(|s| s.end)
            .fold(f64::MIN, f64::max);
        let after = v
            .iter()
            .filter(|s| s.start > killed_at)
            .map(|s| s.start)
            .fold(f64::MAX, f64::min);
        assert!(
            after - killed_at <= TAKEOVER_S,
            "camera {cam}: recording again {:.1} s after the kill (bound {TAKEOVER_S} s)",
            after - killed_at
        );
        let gap = after - before;
        worst = worst.max(gap);
        assert!(
            gap <= GAP_BOUND_S,
            "camera {cam}: a gap of {gap:.1} s (bound {GAP_BOUND_S} s: lease expiry \
             {LEASE_EXPIRY_S} + segment {SEGMENT_S} + keyframe interval {KEYFRAME_S} + poll \
             {POLL_PERIOD_S})"
        );
    }
    eprintln!("the longest gap of rec-2's cameras: {worst:.1} s (bound {GAP_BOUND_S} s)");
    // The others' shares: 15 each.
    let held = c.held_by();
    for r in ["rec-1", "rec-3"] {
        assert_eq!(
            held.get(r).map_or(0, |s| s.len()),
            CAMERAS / 2,
            "{r}'s cameras: {held:?}"
        );
    }

    // Every segment plays from the web node; no segment written twice;
    // every row has its object.
    let all = c.segments();
    assert_no_overlap(&all);
    c.assert_every_row_has_its_object();
    assert_everything_plays(&c).await;

    // The access record and the recording chains verify, with the killed
    // node's configuration (its data directory is free).
    let out = c.audit_verify(&victim_data, &victim_config);
    eprintln!("{}", out.trim());
    let _ = &mut c;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_recorders_late_writes_are_fenced_and_it_gives_its_cameras_up() {
    let c = Cluster::start_all().await;
    c.wait_spread_and_recording(2).await;

    let victims: BTreeSet<i64> = c.held_by().remove("rec-1").unwrap_or_default();
    assert_eq!(victims.len(), CAMERAS / RECORDERS, "rec-1's cameras");
    let old = c.leases();
    let stopped_at = now_s();
    c.recorder("rec-1").signal("-STOP");

    // The others take its cameras under greater tokens.
    let took = eventually(
        "rec-1's cameras taken by the others",
        Duration::from_secs_f64(TAKEOVER_S),
        || async {
            let leases = c.leases();
            let left: Vec<i64> = victims
                .iter()
                .copied()
                .filter(|cam| {
                    !leases
                        .get(cam)
                        .is_some_and(|l| l.holder != "rec-1" && l.token > old[cam].token)
                })
                .collect();
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("not yet taken: {left:?}\n{}", c.logs()))
            }
        },
    )
    .await;
    eprintln!("rec-1's cameras taken {took:?} after SIGSTOP");
    // Let the new holders store a segment of each, then continue rec-1.
    tokio::time::sleep(Duration::from_secs_f64(SEGMENT_S + KEYFRAME_S + 1.0)).await;
    let taken = c.leases();
    let log_before = c.recorder("rec-1").output().len();
    let continued_at = now_s();
    c.recorder("rec-1").signal("-CONT");

    // It ticks: its leases are gone, it gives the cameras up.
    let holds_line = "node rec-1 role recorder holds cameras ";
    eventually(
        "rec-1 noticing its leases are lost",
        Duration::from_secs_f64(RENEW_PERIOD_S * 2.0 + 5.0),
        || async {
            let out = c.recorder("rec-1").output();
            if out[log_before..].contains(holds_line) {
                Ok(())
            } else {
                Err(format!(
                    "rec-1 printed nothing since SIGCONT:\n{}",
                    tail(&out)
                ))
            }
        },
    )
    .await;
    // Two more segments' time, for any late write to land.
    tokio::time::sleep(Duration::from_secs_f64(2.0 * SEGMENT_S + 1.0)).await;
    let out = c.recorder("rec-1").output();
    let since = &out[log_before..];
    let first_holds = since
        .lines()
        .find_map(|l| l.split(holds_line).nth(1))
        .unwrap()
        .trim()
        .to_owned();
    let held_after: BTreeSet<i64> = first_holds
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    assert!(
        held_after.is_disjoint(&victims),
        "rec-1 still held {:?} after SIGCONT ({first_holds})",
        held_after.intersection(&victims).collect::<Vec<_>>()
    );
    // A late write was attempted and refused by the fence.
    assert!(
        since.contains("lease lost"),
        "rec-1's log shows no refused late write after SIGCONT:\n{}",
        tail(since)
    );
    // The takers still hold the cameras under the tokens they took.
    let now = c.leases();
    for cam in &victims {
        assert!(
            now[cam].holder != "rec-1" || now[cam].token > taken[cam].token,
            "camera {cam}: back to rec-1 under the old token {:?}",
            now[cam]
        );
    }

    // No row of rec-1's cameras spans the pause (its open segment at the
    // pause was not stored after it), and no two rows of any camera
    // overlap: nothing was written twice.
    let all = c.segments();
    assert_no_overlap(&all);
    for s in all.iter().filter(|s| victims.contains(&s.camera)) {
        assert!(
            !(s.start < stopped_at - 0.5 && s.end > stopped_at + SEGMENT_S + 1.0),
            "camera {}: a segment [{:.3}, {:.3}] spans the pause [{stopped_at:.3}, \
             {continued_at:.3}]: the paused recorder's late write was stored",
            s.camera,
            s.start,
            s.end
        );
    }
    c.assert_every_row_has_its_object();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_survives_a_postgresql_restart() {
    let mut c = Cluster::start_all().await;
    c.wait_spread_and_recording(2).await;
    let before = c.segments();

    // PostgreSQL down for 10 s (below the leases' expiry), then up again.
    let outage = Duration::from_secs(10);
    c.pg.stop();
    let down_at = Instant::now();
    let down_s = now_s();
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    let mut saw_error = BTreeSet::new();
    while down_at.elapsed() < outage {
        for cam in [1i64, 11, 21] {
            match c.status(cam).await {
                Ok(st) => {
                    let s = st["state"].as_str().unwrap_or("").to_owned();
                    if s == "error" {
                        saw_error.insert(cam);
                    }
                    *states.entry(s).or_default() += 1;
                }
                Err(_) => *states.entry("api refused".into()).or_default() += 1,
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    c.pg.start_again();
    let up_s = now_s();
    eprintln!("during the outage: {states:?}");

    // Recording resumes by itself: every camera gets a new segment after
    // the restart; the status shows `error` until then or `recording`.
    let c = &c;
    let saw = Arc::new(Mutex::new(saw_error));
    eventually(
        "every camera recording again after the restart",
        Duration::from_secs(60),
        || {
            let saw = saw.clone();
            async move {
                let segs = per_camera_ok(&c.segments());
                let mut waiting = Vec::new();
                for cam in 1..=CAMERAS as i64 {
                    if let Ok(st) = c.status(cam).await {
                        if st["state"] == "error" {
                            saw.lock().unwrap().insert(cam);
                        }
                    }
                    if !segs
                        .get(&cam)
                        .is_some_and(|v| v.iter().any(|s| s.start > up_s))
                    {
                        waiting.push(cam);
                    }
                }
                if waiting.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "cameras without a new segment: {waiting:?}\n{}",
                        c.logs()
                    ))
                }
            }
        },
    )
    .await;
    let stopped_cleanly = c
        .recorders
        .iter()
        .flatten()
        .all(|r| r.output().contains("leases expired without renewal"));
    let saw = saw.lock().unwrap().clone();
    assert!(
        !saw.is_empty() || stopped_cleanly,
        "no camera showed `error` through the web node around the database outage, and the \
         recorders did not stop cleanly (states seen during it: {states:?})\n{}",
        c.logs()
    );
    eprintln!("cameras seen in `error`: {saw:?}");
    // The status the recorders write follows at their next tick.
    eventually(
        "every camera's status `recording` after the restart",
        Duration::from_secs_f64(3.0 * RENEW_PERIOD_S),
        || async {
            let mut not = Vec::new();
            for cam in 1..=CAMERAS as i64 {
                let st = c.status(cam).await?;
                if st["state"] != "recording" {
                    not.push(format!("camera {cam}: {st}"));
                }
            }
            if not.is_empty() {
                Ok(())
            } else {
                Err(not.join("\n"))
            }
        },
    )
    .await;

    // Nothing lost, no row without its object, nothing written twice.
    let now = c.segments();
    for b in &before {
        assert!(now.iter().any(|s| s.id == b.id), "row {} was lost", b.id);
    }
    assert!(
        now.iter().filter(|s| s.start > down_s).count() >= CAMERAS,
        "too few segments after the outage"
    );
    assert_no_overlap(&now);
    c.assert_every_row_has_its_object();
    // One valid chain, verified with a recorder's configuration (the
    // process holds its data directory: stop it first).
    let r = c.recorder("rec-3");
    let (data, config) = (r.data.clone(), r.config.clone());
    r.signal("-TERM");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let out = c.audit_verify(&data, &config);
    eprintln!("{}", out.trim());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_survives_the_object_store_unreachable_for_20_s() {
    let c = Cluster::start_all().await;
    c.wait_spread_and_recording(2).await;
    let before: Vec<Seg> = c.segments();
    let before_keys = c.bucket_keys();

    let outage = Duration::from_secs(20);
    c.s3.pause();
    let paused_at = Instant::now();
    let mut in_error = BTreeSet::new();
    while paused_at.elapsed() < outage {
        for cam in 1..=CAMERAS as i64 {
            if in_error.contains(&cam) {
                continue;
            }
            if let Ok(st) = c.status(cam).await {
                if st["state"] == "error" {
                    let m = st["last_error"].as_str().unwrap_or("");
                    assert!(!m.contains(moto::SECRET_ACCESS_KEY), "{st}");
                    in_error.insert(cam);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    c.s3.resume();
    let resumed_s = now_s();
    eprintln!(
        "cameras shown in error during the outage: {}",
        in_error.len()
    );
    assert_eq!(
        in_error.len(),
        CAMERAS,
        "cameras never shown in error through the web node during the 20 s outage (a hung \
         S3 request fails only at the store's 30 s request timeout, so a paused object \
         store shows as `recording` while nothing is stored): {:?}\n{}",
        (1..=CAMERAS as i64)
            .filter(|c| !in_error.contains(c))
            .collect::<Vec<_>>(),
        c.logs()
    );

    // Recording resumes.
    eventually(
        "every camera recording again after the outage",
        Duration::from_secs(60),
        || async {
            let segs = per_camera_ok(&c.segments());
            let mut waiting = Vec::new();
            for cam in 1..=CAMERAS as i64 {
                let newer = segs
                    .get(&cam)
                    .is_some_and(|v| v.iter().any(|s| s.start > resumed_s));
                let recording = c
                    .status(cam)
                    .await
                    .is_ok_and(|st| st["state"] == "recording");
                if !(newer && recording) {
                    waiting.push(cam);
                }
            }
            if waiting.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "cameras not recording again: {waiting:?}\n{}",
                    c.logs()
                ))
            }
        },
    )
    .await;

    // Everything stored before is still listed and readable.
    let now = c.segments();
    let keys = c.bucket_keys();
    for b in &before {
        let s = now
            .iter()
            .find(|s| s.id == b.id)
            .unwrap_or_else(|| panic!("row {} was lost", b.id));
        assert_eq!(s.state, "ok", "{s:?}");
        assert!(keys.contains(&b.key), "{} left the bucket", b.key);
        assert!(before_keys.contains(&b.key));
    }
    let per_camera = per_camera_ok(&before);
    for (cam, v) in &per_camera {
        for (start, end, n) in runs(v) {
            let took = play(&c, *cam, start, end).await;
            assert!(
                took >= (end - start) - 1.0,
                "camera {cam}: {took:.2} s of {n} segments stored before the outage played"
            );
        }
    }
    assert_no_overlap(&now);
    c.assert_every_row_has_its_object();
}
