//! Erasure of marked intervals on a real data directory: whole GOPs go in
//! every rendition, the neighbours still play and decode, the destroyed
//! segment keys are nowhere in the directory's bytes, the recording chain
//! says so and verifies, locked or held video stays.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::SEC;
use veil_base::{CameraId, SegmentId, SimulatedClock, Time90k};
use veil_media::synthetic::SyntheticConfig;
use veil_store::chain::{parse_removal_detail, LinkKind};
use veil_store::chain_store::{read_local_object, verify_chains};
use veil_store::db::{NewProtection, ProtectionKind};
use veil_store::erase::ErasedSpan;
use veil_store::segment::BUCKET_90K as HOUR;
use veil_store::{playback, recorder, Error, Store, MAIN_RENDITION};

/// The start of an hour in 2026.
const BASE: i64 = 1_795_000_000 * 90_000 / HOUR * HOUR;

fn t(seconds_tenths: i64) -> Time90k {
    Time90k(BASE + seconds_tenths * SEC / 10)
}

/// A data directory with camera "a" and its store.
fn setup() -> (tempfile::TempDir, Store, CameraId) {
    setup_on(None)
}

/// [`setup`] on SQLite whatever the backend of the run, for the reason
/// `sqlite_only` gives.
fn setup_on(sqlite_only: Option<&str>) -> (tempfile::TempDir, Store, CameraId) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SimulatedClock::new(Time90k(BASE)));
    let s = match sqlite_only {
        None => veil_store::testing::open_dir(dir.path(), clock),
        Some(why) => veil_store::testing::open_dir_sqlite_only(dir.path(), clock, why),
    }
    .unwrap();
    let a =
        s.db.upsert_camera("a", "synthetic", "{}", Time90k(BASE))
            .unwrap();
    (dir, s, a)
}

/// `seconds` of a small synthetic camera from `BASE` (25 fps, a keyframe a
/// second, segments of 6 s: six GOPs each), stored.
async fn record(s: &Store, camera: CameraId, seconds: i64) {
    let config = SyntheticConfig {
        width: 160,
        height: 120,
        fps: 25,
        gop_frames: 25,
        bitrate_bps: 100_000,
        seed: 1,
    };
    let frames = (seconds * 25 + 1) as u32;
    for n in recorder::synthetic_segments(camera, config, Time90k(BASE), frames, 6 * SEC).unwrap() {
        s.write_segment(n).await.unwrap();
    }
}

/// Segment ids of `main` overlapping `[start, end)`.
fn ids(s: &Store, camera: CameraId, start: Time90k, end: Time90k) -> Vec<SegmentId> {
    s.segments(camera, MAIN_RENDITION, start, end)
        .unwrap()
        .iter()
        .map(|x| x.row.id)
        .collect()
}

/// The MP4 of `[start, end)` as playback builds it (`None`: nothing there).
async fn mp4(s: &Store, camera: CameraId, start: Time90k, end: Time90k) -> Option<Vec<u8>> {
    let segs: Vec<Arc<veil_store::Segment>> = s
        .default_segments(camera, start, end)
        .unwrap()
        .into_iter()
        .map(Arc::new)
        .collect();
    let plan = playback::plan(&segs, start, end)?;
    let mut out = plan.header.clone();
    for p in &plan.parts {
        let media = s.read_media(&p.segment).await.unwrap();
        out.extend_from_slice(&media[p.media_from as usize..p.media_to as usize]);
    }
    assert_eq!(out.len() as u64, plan.len);
    Some(out)
}

/// Decodes the file with ffmpeg (no error allowed) and returns how many
/// frames ffprobe counts.
fn decoded_frames(file: &Path) -> u64 {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg not found: install the Debian package ffmpeg");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .expect("ffprobe not found: install the Debian package ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Every file under `dir`.
fn all_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The files under `dir` holding `needle`.
fn holding(dir: &Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    all_files(dir)
        .into_iter()
        .filter(|p| {
            std::fs::read(p)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle)
        })
        .collect()
}

fn span(start: Time90k, end: Time90k, segments: usize) -> ErasedSpan {
    ErasedSpan {
        rendition: MAIN_RENDITION.into(),
        start,
        end,
        segments,
    }
}

#[tokio::test]
async fn erased_gops_are_gone_the_neighbours_play_and_no_destroyed_key_is_left() {
    let (dir, s, a) = setup_on(Some(
        "searches the data directory's files, SQLite's database and WAL included, for destroyed keys",
    ));
    record(&s, a, 30).await;
    // Segments of 6 s at 0, 6, 12, 18 and 24 s, a GOP each second.
    assert_eq!(ids(&s, a, t(0), t(300)).len(), 5);
    let affected: Vec<SegmentId> = [ids(&s, a, t(25), t(32)), ids(&s, a, t(105), t(195))].concat();
    assert_eq!(affected.len(), 4);
    let keys: Vec<(Vec<u8>, Vec<u8>)> = affected
        .iter()
        .map(|id| s.test_only_segment_key_bytes(*id).unwrap())
        .collect();
    // The search can fail: every wrapped key is in the directory now.
    for (_, wrapped) in &keys {
        assert!(!holding(dir.path(), wrapped).is_empty());
    }

    // Inside one segment: its GOPs of 2–3 s and 3–4 s go, the rest of it is
    // rewritten into two segments.
    let plan = s.erasure_plan(a, t(25), t(32)).await.unwrap();
    assert!(!plan.is_empty());
    assert!(plan.blocked().is_empty());
    assert_eq!(plan.removes(), [span(t(20), t(40), 1)]);
    let done = s.erase(&plan, "request=12").await.unwrap();
    assert_eq!(done.removed, plan.removes());
    assert_eq!((done.segments_destroyed, done.segments_rewritten), (0, 1));

    // Across three segments: the end of one, a whole one, the start of the
    // next.
    let plan = s.erasure_plan(a, t(105), t(195)).await.unwrap();
    assert_eq!(plan.removes(), [span(t(100), t(200), 3)]);
    let done = s.erase(&plan, "request=12").await.unwrap();
    assert_eq!((done.segments_destroyed, done.segments_rewritten), (1, 2));

    // Nothing is left inside the removed spans; playback finds nothing there.
    for (a0, b0) in [(t(20), t(40)), (t(100), t(200))] {
        assert!(ids(&s, a, a0, b0).is_empty());
        assert!(mp4(&s, a, a0, b0).await.is_none());
    }
    // What is left: three runs, so players show the gaps.
    assert_eq!(
        s.runs(a, MAIN_RENDITION, t(0), t(400)).unwrap(),
        [(t(0), t(20)), (t(40), t(100)), (t(200), t(300))]
    );
    // Each neighbour plays and decodes cleanly, every frame of it.
    let work = tempfile::tempdir().unwrap();
    for (i, (a0, b0)) in [(t(0), t(20)), (t(40), t(100)), (t(200), t(300))]
        .into_iter()
        .enumerate()
    {
        let file = work.path().join(format!("n{i}.mp4"));
        std::fs::write(&file, mp4(&s, a, a0, b0).await.unwrap()).unwrap();
        let frames = ((b0.0 - a0.0) / SEC * 25) as u64;
        assert_eq!(decoded_frames(&file), frames, "{}", file.display());
    }

    // No destroyed segment key, raw or wrapped, anywhere in the directory.
    for (raw, wrapped) in &keys {
        assert_eq!(holding(dir.path(), raw), Vec::<std::path::PathBuf>::new());
        assert_eq!(
            holding(dir.path(), wrapped),
            Vec::<std::path::PathBuf>::new()
        );
    }

    // The chain verifies and shows the erasure.
    let objects = dir.path().join("objects");
    let report = verify_chains(&s.db, &mut |k| read_local_object(&objects, k)).unwrap();
    // Five segments: 0–2, 4–6 and 6–10 s, 20–24 and 24–30 s.
    assert_eq!(report.segments, 5);
    let head = s
        .chain_heads()
        .unwrap()
        .into_iter()
        .find(|h| h.camera == a && h.rendition == MAIN_RENDITION)
        .unwrap();
    let removals: Vec<_> = s
        .chain_links(a, MAIN_RENDITION, 1, head.seq)
        .unwrap()
        .into_iter()
        .filter(|l| l.kind == LinkKind::Removal)
        .collect();
    assert_eq!(removals.len(), 2);
    for l in &removals {
        assert!(
            l.detail.starts_with("reason=erasure request=12 segments="),
            "{}",
            l.detail
        );
        let (reason, _) = parse_removal_detail(&l.detail).unwrap();
        assert_eq!(reason, "erasure");
    }
    let (_, gone) = parse_removal_detail(&removals[1].detail).unwrap();
    assert_eq!(gone, affected[1..]);
    // The old objects went with their rows: nothing for recovery to do.
    let r = s.recover().await.unwrap();
    assert_eq!(r.orphan_objects_deleted, 0);
    let segs = all_files(&objects)
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .count();
    assert_eq!(segs as u64, s.db.segment_count().unwrap());
}

fn hold(camera: CameraId, start: Time90k, end: Time90k) -> NewProtection {
    NewProtection {
        kind: ProtectionKind::Hold,
        cameras: vec![camera],
        start,
        end,
        reason: "restriction asked for".into(),
        owner: None,
        created: Time90k(BASE),
        review: None,
        release_on_review: false,
        key_version: 0,
    }
}

#[tokio::test]
async fn held_segments_stay_and_the_plan_names_the_hold() {
    let (_dir, s, a) = setup();
    record(&s, a, 18).await;
    let (id, _) = s.create_protection(hold(a, t(70), t(80))).await.unwrap();
    let held = ids(&s, a, t(60), t(120));
    assert_eq!(held.len(), 1);
    let plan = s.erasure_plan(a, t(0), t(180)).await.unwrap();
    assert_eq!(plan.blocked().len(), 1);
    let b = &plan.blocked()[0];
    assert_eq!((b.protection, b.kind.as_str()), (id, "hold"));
    assert_eq!((b.start, b.end), (t(70), t(80)));
    assert_eq!(
        plan.removes(),
        [span(t(0), t(60), 1), span(t(120), t(180), 1)]
    );
    let done = s.erase(&plan, "").await.unwrap();
    assert_eq!(done.blocked, plan.blocked());
    assert_eq!((done.segments_destroyed, done.segments_rewritten), (2, 0));
    // The held segment is all that is left, and it still opens.
    assert_eq!(ids(&s, a, t(0), t(180)), held);
    let seg = s.segments(a, MAIN_RENDITION, t(60), t(120)).unwrap();
    s.read_media(&seg[0]).await.unwrap();
    // Planned again: only the hold.
    let again = s.erasure_plan(a, t(0), t(180)).await.unwrap();
    assert!(again.removes().is_empty());
    assert!(!again.is_empty());
}

#[tokio::test]
async fn nothing_recorded_is_empty_and_bad_input_is_refused() {
    let (_dir, s, a) = setup();
    record(&s, a, 6).await;
    let plan = s.erasure_plan(a, t(100), t(200)).await.unwrap();
    assert!(plan.is_empty());
    assert!(plan.removes().is_empty());
    let done = s.erase(&plan, "request=1").await.unwrap();
    assert_eq!((done.segments_destroyed, done.segments_rewritten), (0, 0));
    // Another camera's recordings are not this one's.
    let b =
        s.db.upsert_camera("b", "synthetic", "{}", Time90k(BASE))
            .unwrap();
    assert!(s.erasure_plan(b, t(0), t(60)).await.unwrap().is_empty());
    for (start, end) in [(t(30), t(30)), (t(40), t(30))] {
        match s.erasure_plan(a, start, end).await {
            Err(Error::Invalid(m)) => assert!(m.contains("start"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
    let plan = s.erasure_plan(a, t(0), t(60)).await.unwrap();
    for bad in ["request 12", "reason=x", "request=", "Request=1"] {
        match s.erase(&plan, bad).await {
            Err(Error::Invalid(m)) => assert!(m.contains("detail"), "{m}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert_eq!(ids(&s, a, t(0), t(60)).len(), 1, "nothing was erased");
}

#[tokio::test]
async fn a_plan_overtaken_by_new_recordings_or_a_hold_erases_nothing() {
    let (_dir, s, a) = setup();
    record(&s, a, 6).await;
    let plan = s.erasure_plan(a, t(0), t(60)).await.unwrap();
    s.create_protection(hold(a, t(10), t(20))).await.unwrap();
    match s.erase(&plan, "").await {
        Err(Error::Invalid(m)) => assert!(m.contains("plan it again"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(ids(&s, a, t(0), t(60)).len(), 1);
}

/// The child of [`a_crash_between_erasure_steps_converges`]: erases
/// 2.5–3.2 s of the camera in the directory it is given, under
/// `VEIL_CRASH_AT`, which kills it at the named step.
#[tokio::test]
#[ignore = "run by a_crash_between_erasure_steps_converges as its child process"]
async fn erasure_child() {
    let dir = std::env::var("VEIL_TEST_ERASURE_DIR").expect("run as a child");
    let camera: i64 = std::env::var("VEIL_TEST_ERASURE_CAMERA")
        .unwrap()
        .parse()
        .unwrap();
    let s = veil_store::testing::open_dir(
        Path::new(&dir),
        Arc::new(SimulatedClock::new(Time90k(BASE))),
    )
    .unwrap();
    let plan = s
        .erasure_plan(CameraId(camera), t(25), t(32))
        .await
        .unwrap();
    s.erase(&plan, "request=7").await.unwrap();
}

#[tokio::test]
async fn a_crash_between_erasure_steps_converges() {
    use std::os::unix::process::ExitStatusExt;
    for (point, erased) in [
        ("erasure.objects_written", false),
        ("erasure.rows_replaced", true),
        ("erasure.object_deleted", true),
    ] {
        let (dir, s, a) = setup();
        record(&s, a, 12).await;
        let old = ids(&s, a, t(25), t(32));
        let (_, wrapped) = s.test_only_segment_key_bytes(old[0]).unwrap();
        drop(s);
        let mut child = Command::new(std::env::current_exe().unwrap());
        child
            .args(["--ignored", "--exact", "erasure_child", "--nocapture"])
            .env(veil_store::CRASH_AT_ENV, point)
            .env("VEIL_TEST_ERASURE_DIR", dir.path())
            .env("VEIL_TEST_ERASURE_CAMERA", a.0.to_string());
        veil_store::testing::pass_database(&mut child, dir.path()).unwrap();
        let status = child.status().unwrap();
        // Killed by SIGKILL (9) at the crash point.
        assert_eq!(status.signal(), Some(9), "{point}: {status:?}");
        // Restarted later than a shared database's grace for objects
        // without a row (another node may be writing them), so that
        // recovery deletes them on either backend.
        let later = BASE + veil_store::SHARED_ORPHAN_MIN_AGE_90K + 60 * SEC;
        let s = veil_store::testing::open_dir(
            dir.path(),
            Arc::new(SimulatedClock::new(Time90k(later))),
        )
        .unwrap();
        let r = s.recover().await.unwrap();
        assert_eq!(
            r.rows_marked_missing, 0,
            "{point}: a row without its object"
        );
        // The new objects before the transaction, the old one after it;
        // none once the old object is deleted.
        assert_eq!(
            r.orphan_objects_deleted > 0,
            point != "erasure.object_deleted",
            "{point}"
        );
        let objects = dir.path().join("objects");
        let files = all_files(&objects)
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "seg"))
            .count();
        assert_eq!(files as u64, s.db.segment_count().unwrap(), "{point}");
        verify_chains(&s.db, &mut |k| read_local_object(&objects, k)).unwrap();
        let plan = s.erasure_plan(a, t(25), t(32)).await.unwrap();
        if erased {
            assert!(plan.is_empty(), "{point}");
            assert!(holding(dir.path(), &wrapped).is_empty(), "{point}");
        } else {
            // Nothing happened: the erasure runs again to the end.
            assert_eq!(ids(&s, a, t(25), t(32)), old, "{point}");
            s.erase(&plan, "request=7").await.unwrap();
            assert!(ids(&s, a, t(25), t(32)).is_empty());
        }
    }
}
