//! `veil serve` on an S3-compatible object store (a real moto server), as a
//! user runs it:
//!
//! - two synthetic cameras with 2 s segments record: their objects are in the
//!   bucket (listed through the S3 API, not through Veil), their rows in the
//!   database, and a stretch plays through the HTTPS API (ffprobe reads it);
//! - the object store unreachable for 20 s (a TCP proxy in the test between
//!   Veil and moto refuses and resets connections): the cameras' status
//!   shows an error, recording resumes afterwards, every segment stored
//!   before still plays, and the gap is about the outage; `veil check`
//!   afterwards finds nothing missing and no orphan;
//! - `veil audit verify --config` and `veil retention plan --config` work on
//!   the bucket;
//! - `veil check --config` reconciles both ways on S3: an object deleted
//!   behind Veil's back is marked missing, an unknown object is deleted, the
//!   object put back restores the row;
//! - start-up errors: an endpoint on a closed port, a bucket that does not
//!   exist: `veil serve` exits within seconds naming the object store, the
//!   address and the failing operation, never the secret;
//! - `veil bench ingest --s3-config` measures the local directory and the
//!   bucket side by side (a small run: the output's lines, the objects).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::api::Api;
use common::nodes::{bucket_client, bucket_keys, moto};
use common::{eventually, urlencode, Demo};
use reqwest::{Method, StatusCode};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Target segment length of the cameras.
const SEGMENT_S: f64 = 2.0;
/// How long the object store is unreachable.
const OUTAGE: Duration = Duration::from_secs(20);

/// A TCP proxy on a loopback port in front of `upstream`; [`Proxy::cut`]
/// closes its listening socket (new connections are refused) and drops
/// every live connection, [`Proxy::restore`] listens again on the same port.
struct Proxy {
    port: u16,
    upstream: u16,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Proxy {
    fn start(upstream: u16) -> Proxy {
        let p = Proxy {
            port: moto::free_port(),
            upstream,
            task: Mutex::new(None),
        };
        p.restore();
        p
    }

    fn listen(&self) -> TcpListener {
        let s = TcpSocket::new_v4().unwrap();
        s.set_reuseaddr(true).unwrap();
        s.bind(([127, 0, 0, 1], self.port).into())
            .unwrap_or_else(|e| panic!("proxy cannot listen on {}: {e}", self.port));
        s.listen(128).unwrap()
    }

    fn restore(&self) {
        let listener = self.listen();
        let upstream = self.upstream;
        let task = tokio::spawn(async move {
            // Dropped with the task: aborting it resets every connection.
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((mut client, _)) = accepted else { continue };
                        conns.spawn(async move {
                            let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                                return;
                            };
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut up).await;
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        *self.task.lock().unwrap() = Some(task);
    }

    async fn cut(&self) {
        let task = self.task.lock().unwrap().take();
        if let Some(t) = task {
            t.abort();
            let _ = t.await;
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// One stored segment row.
#[derive(Clone, Debug)]
struct Seg {
    id: i64,
    camera: i64,
    start: f64,
    end: f64,
    key: String,
    state: String,
}

fn segments(data: &Path) -> Vec<Seg> {
    let Ok(db) = rusqlite::Connection::open_with_flags(
        data.join("veil.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    ) else {
        return Vec::new();
    };
    let Ok(mut st) = db.prepare(
        "SELECT id, camera_id, start_90k, start_90k + duration_90k, object_key, state
         FROM segment ORDER BY camera_id, start_90k",
    ) else {
        return Vec::new();
    };
    st.query_map([], |r| {
        Ok(Seg {
            id: r.get(0)?,
            camera: r.get(1)?,
            start: r.get::<_, i64>(2)? as f64 / 90_000.0,
            end: r.get::<_, i64>(3)? as f64 / 90_000.0,
            key: r.get(4)?,
            state: r.get(5)?,
        })
    })
    .map(|rows| rows.filter_map(Result::ok).collect())
    .unwrap_or_default()
}

fn ok_count(data: &Path, camera: i64) -> usize {
    segments(data)
        .iter()
        .filter(|s| s.camera == camera && s.state == "ok")
        .count()
}

fn rfc3339(t: f64) -> String {
    chrono::DateTime::from_timestamp_millis((t * 1000.0) as i64)
        .unwrap()
        .to_rfc3339()
}

/// Plays `camera` from `start` to `end` (seconds since the epoch) through
/// the API and returns the MP4's duration as ffprobe reads it.
async fn play(api: &Api, dir: &Path, camera: i64, start: f64, end: f64) -> f64 {
    let (status, body) = api
        .bytes(&format!(
            "api/v1/cameras/{camera}/video.mp4?start={}&end={}",
            urlencode(&rfc3339(start)),
            urlencode(&rfc3339(end))
        ))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let file = dir.join(format!("play-{camera}-{start}.mp4"));
    std::fs::write(&file, body).unwrap();
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration", "-of"])
        .args(["default=noprint_wrappers=1:nokey=1"])
        .arg(&file)
        .output()
        .expect("ffprobe not found: install the Debian package ffmpeg");
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("ffprobe: {}", String::from_utf8_lossy(&out.stdout)))
}

fn config(dir: &Path, data: &Path, objects: &str) -> PathBuf {
    let config = dir.join("veil.toml");
    let camera = |name: &str| {
        format!(
            "[[camera]]\nname = \"{name}\"\nsource = {{ kind = \"synthetic\", width = 160, \
             height = 120 }}\n{}",
            common::PURPOSE
        )
    };
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nlisten = \"127.0.0.1:{}\"\nfirst_account = \"first-administrator\"\n\n\
             [recording]\nsegment_seconds = {}\n\n{objects}\n{}\n{}{}",
            data.display(),
            common::free_port(),
            SEGMENT_S as u32,
            camera("Gate"),
            camera("Yard"),
            common::ORGANISATION,
        ),
    )
    .unwrap();
    config
}

fn s3_table(endpoint: &str, bucket: &str, credentials: &Path) -> String {
    format!(
        "[objects]\ns3 = {{ endpoint = \"{endpoint}\", bucket = \"{bucket}\", region = \
         \"us-east-1\", credentials_file = \"{}\" }}\n",
        credentials.display()
    )
}

/// Signs the first account in (one-time password, new password, second
/// factor).
async fn sign_in(serve: &Demo) -> Api {
    let file = serve.password_file.clone().expect("a password file named");
    let first = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    let api = Api::first_login(
        serve,
        &serve.user,
        &first,
        "the administrator's own passphrase",
    )
    .await
    .unwrap();
    api.enrol_totp().await.unwrap();
    api
}

async fn camera_status(api: &Api, camera: i64) -> serde_json::Value {
    api.send(
        Method::GET,
        &format!("api/v1/cameras/{camera}/status"),
        None,
        StatusCode::OK,
    )
    .await
    .unwrap()
}

/// `veil check --config` (off the runtime's threads: the proxy runs there).
async fn veil_check(data: &Path, config: &Path) -> String {
    let (data, config) = (data.to_owned(), config.to_owned());
    let (ok, out) = tokio::task::spawn_blocking(move || {
        common::run_veil(&[
            "check",
            "--data",
            data.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ])
    })
    .await
    .unwrap();
    assert!(ok, "veil check: {out}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_s3_survives_an_unreachable_object_store_and_check_reconciles() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s3 = moto::MotoServer::start();
    let bucket = s3.fresh_bucket();
    let proxy = Proxy::start(s3.port());
    let credentials = s3.credentials_file(dir.path());
    let config = config(
        dir.path(),
        &data,
        &s3_table(&proxy.endpoint(), &bucket, &credentials),
    );
    let bucket_s3 = bucket_client(&s3, &bucket);
    let mut serve = Demo::serve(&config, &data);
    let api = sign_in(&serve).await;

    // Recording: rows in the database, objects in the bucket.
    eventually(
        "3 segments of each camera",
        Duration::from_secs(60),
        || async { ok_count(&data, 1) >= 3 && ok_count(&data, 2) >= 3 },
    )
    .await;
    let keys = bucket_keys(&bucket_s3).await;
    for s in segments(&data) {
        assert!(keys.contains(&s.key), "{} is not in the bucket", s.key);
    }
    assert!(
        !data.join("objects").join("v1").exists(),
        "segments were written to the local directory"
    );
    let first: Vec<Seg> = segments(&data)
        .into_iter()
        .filter(|s| s.camera == 1)
        .collect();
    let took = play(&api, dir.path(), 1, first[0].start, first[2].end).await;
    assert!(took >= 2.0 * SEGMENT_S - 1.0, "played {took} s");
    for camera in [1, 2] {
        let st = camera_status(&api, camera).await;
        assert_eq!(st["state"], "recording", "{st}");
    }

    // The object store unreachable for 20 s.
    let before: Vec<Seg> = segments(&data)
        .into_iter()
        .filter(|s| s.state == "ok")
        .collect();
    let cut_at = Instant::now();
    proxy.cut().await;
    let mut saw_error = [false, false];
    while cut_at.elapsed() < OUTAGE {
        for camera in [1i64, 2] {
            let st = camera_status(&api, camera).await;
            if st["state"] == "error" {
                let m = st["last_error"].as_str().unwrap_or("");
                assert!(
                    m.contains("segments cannot be stored") && m.contains("object store"),
                    "{st}"
                );
                assert!(!m.contains(moto::SECRET_ACCESS_KEY), "{st}");
                saw_error[camera as usize - 1] = true;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        saw_error,
        [true, true],
        "the outage was not shown in the cameras' status"
    );
    let during = segments(&data).len();
    proxy.restore();

    // Recording resumes, the status clears.
    eventually(
        "recording again with new segments",
        Duration::from_secs(45),
        || async {
            let mut all = true;
            for camera in [1i64, 2] {
                let st = camera_status(&api, camera).await;
                let newer = segments(&data)
                    .iter()
                    .filter(|s| s.camera == camera && s.state == "ok")
                    .count()
                    > before.iter().filter(|s| s.camera == camera).count() + 2;
                all &= st["state"] == "recording" && newer;
            }
            all
        },
    )
    .await;
    assert!(
        segments(&data).len() > during,
        "no segment stored after the outage"
    );

    // The gap is about the outage: at least most of it (the cut was real),
    // at most the outage, three segments and the store's retry timeout.
    let bound = OUTAGE.as_secs_f64() + 3.0 * SEGMENT_S + 10.0;
    for camera in [1i64, 2] {
        let rows: Vec<Seg> = segments(&data)
            .into_iter()
            .filter(|s| s.camera == camera && s.state == "ok")
            .collect();
        let gap = rows
            .windows(2)
            .map(|w| w[1].start - w[0].end)
            .fold(0.0, f64::max);
        eprintln!("camera {camera}: the longest gap is {gap:.1} s");
        assert!(
            (OUTAGE.as_secs_f64() - 5.0..=bound).contains(&gap),
            "camera {camera}: a gap of {gap:.1} s for an outage of {OUTAGE:?} (bound {bound} s)"
        );
    }

    // Everything stored before the outage is still there and plays.
    let now: Vec<Seg> = segments(&data);
    let keys = bucket_keys(&bucket_s3).await;
    for b in &before {
        let s = now.iter().find(|s| s.id == b.id).expect("a row was lost");
        assert_eq!(s.state, "ok", "{s:?}");
        assert!(keys.contains(&b.key), "{} left the bucket", b.key);
    }
    for camera in [1i64, 2] {
        let mine: Vec<&Seg> = before.iter().filter(|s| s.camera == camera).collect();
        let (start, end) = (mine[0].start, mine[mine.len() - 1].end);
        let took = play(&api, dir.path(), camera, start, end).await;
        assert!(
            took >= end - start - SEGMENT_S,
            "camera {camera}: {took:.1} s of {:.1} s played",
            end - start
        );
    }

    // A clean stop; `veil check` on the bucket: nothing missing, no orphan.
    let stopped = Command::new("kill")
        .args(["-TERM", &serve.child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let exit = tokio::task::block_in_place(|| serve.child.wait()).unwrap();
    assert!(
        exit.success(),
        "veil exited with {exit}: {}",
        serve.output()
    );
    assert!(
        !serve.output().contains(moto::SECRET_ACCESS_KEY),
        "the secret was printed"
    );
    let check = veil_check(&data, &config).await;
    for line in [
        "integrity: ok",
        "orphan objects deleted: 0",
        "rows marked missing: 0",
        "segments still unreadable: 0",
    ] {
        assert!(check.contains(line), "{check}");
    }
    let rows: BTreeSet<String> = segments(&data).into_iter().map(|s| s.key).collect();
    assert_eq!(
        bucket_keys(&bucket_s3).await,
        rows,
        "the bucket and the database differ"
    );

    // The commands that open the data directory take the same --config:
    // the access record and the recording chains verify against the bucket,
    // retention plans on it; without the file they are refused (the local
    // objects directory has no marker) rather than finding thousands of
    // segments missing.
    let veil = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::block_in_place(|| {
            common::run_veil(&args.iter().map(String::as_str).collect::<Vec<_>>())
        })
    };
    let (d, c) = (data.to_str().unwrap(), config.to_str().unwrap());
    let (ok, out) = veil(&["audit", "verify", "--data", d, "--config", c]);
    assert!(ok, "veil audit verify --config: {out}");
    let hashed: usize = out
        .split(" objects hashed")
        .next()
        .and_then(|t| t.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(hashed, segments(&data).len(), "{out}");
    let (ok, out) = veil(&["retention", "plan", "--data", d, "--config", c]);
    assert!(ok, "veil retention plan --config: {out}");
    let (ok, out) = veil(&["retention", "plan", "--data", d]);
    assert!(!ok, "veil retention plan without the configuration: {out}");

    // Reconciliation both ways, behind Veil's back (straight to moto).
    let victim = segments(&data)[1].clone();
    use object_store::ObjectStore as _;
    let path = |key: &str| object_store::path::Path::from(key);
    let saved = bucket_s3
        .get(&path(&victim.key))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(!saved.is_empty(), "{victim:?}");
    bucket_s3.delete(&path(&victim.key)).await.unwrap();
    let stray = "v1/cam1/main/2020010100/0000000000000000-00000000000000aa.seg";
    bucket_s3
        .put(&path(stray), b"not Veil's".to_vec().into())
        .await
        .unwrap();
    let check = veil_check(&data, &config).await;
    for line in ["orphan objects deleted: 1", "rows marked missing: 1"] {
        assert!(check.contains(line), "{check}");
    }
    let keys = bucket_keys(&bucket_s3).await;
    assert!(!keys.contains(stray), "the unknown object was kept");
    let row = |id: i64| segments(&data).into_iter().find(|s| s.id == id).unwrap();
    assert_eq!(row(victim.id).state, "missing");
    // Put back (e.g. from a backup): the next check restores the row.
    bucket_s3
        .put(&path(&victim.key), saved.into())
        .await
        .unwrap();
    let check = veil_check(&data, &config).await;
    for line in [
        "segments restored: 1",
        "rows marked missing: 0",
        "segments still unreadable: 0",
    ] {
        assert!(check.contains(line), "{check}");
    }
    assert_eq!(row(victim.id).state, "ok");
    assert!(!check.contains(moto::SECRET_ACCESS_KEY));
}

/// `veil serve` with `config`: it must exit non-zero within `limit`; its
/// stdout and stderr.
fn serve_fails(config: &Path, limit: Duration) -> String {
    let started = Instant::now();
    let (ok, out) = common::run_veil(&["serve", "--config", config.to_str().unwrap()]);
    let took = started.elapsed();
    assert!(!ok, "veil serve started: {out}");
    assert!(took < limit, "veil serve took {took:?} to fail: {out}");
    assert!(
        !out.contains(moto::SECRET_ACCESS_KEY),
        "the secret was printed: {out}"
    );
    out
}

#[test]
fn serve_refuses_an_unreachable_object_store_and_a_missing_bucket_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = moto::MotoServer::start();
    let credentials = s3.credentials_file(dir.path());

    // Nobody listens on the endpoint's port.
    let closed = format!("http://127.0.0.1:{}", moto::free_port());
    let data = dir.path().join("unreachable");
    let c = config(
        dir.path(),
        &data,
        &s3_table(&closed, "veil-bucket", &credentials),
    );
    let out = serve_fails(&c, Duration::from_secs(20));
    assert!(
        out.contains("object store") && out.contains(&closed),
        "the error names neither the object store nor its address: {out}"
    );
    assert!(
        out.contains("cannot reach the endpoint"),
        "the cause is not said: {out}"
    );

    // A bucket that does not exist: the failing operation is named.
    let data = dir.path().join("no-bucket");
    let c = config(
        dir.path(),
        &data,
        &s3_table(&s3.endpoint(), "no-such-bucket", &credentials),
    );
    let out = serve_fails(&c, Duration::from_secs(20));
    assert!(
        out.contains("object store") && out.contains("no-such-bucket"),
        "{out}"
    );
    assert!(
        out.contains("bucket does not exist") && out.contains("failed"),
        "the failing operation is not named: {out}"
    );
    assert!(
        out.contains("writing the marker")
            || out.contains("reading the marker")
            || out.contains("probe object"),
        "the failing operation is not named: {out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_ingest_measures_the_local_directory_and_s3_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = moto::MotoServer::start();
    let bucket = s3.fresh_bucket();
    let config = dir.path().join("veil.toml");
    std::fs::write(&config, s3.objects_toml(&bucket, dir.path())).unwrap();
    let scratch = dir.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let args = [
        "bench",
        "ingest",
        "--streams",
        "2",
        "--seconds",
        "2",
        "--runs",
        "1",
        "--allow-tmpfs",
        "--data",
        scratch.to_str().unwrap(),
        "--s3-config",
        config.to_str().unwrap(),
    ];
    let (ok, out) = tokio::task::block_in_place(|| common::run_veil(&args));
    assert!(ok, "{out}");
    for mode in ["SQLite + local directory: ", "SQLite + S3 (object store s3"] {
        let line = out
            .lines()
            .find(|l| l.contains(mode))
            .unwrap_or_else(|| panic!("no {mode:?} line: {out}"));
        for figure in [
            "segments/s",
            "MB/s",
            "per 4 Mbit/s stream",
            "by throughput",
            "per core by CPU",
        ] {
            assert!(line.contains(figure), "{line}");
        }
    }
    assert!(out.contains("PostgreSQL"), "{out}");
    assert!(!out.contains(moto::SECRET_ACCESS_KEY), "{out}");
    // The S3 side wrote its segments into the bucket: 2 streams, 1 segment each.
    let keys = bucket_keys(&bucket_client(&s3, &bucket)).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
}

/// `veil audit report`, `veil audit export` and `veil admin erase-user` take
/// `--config` and work on an S3 installation; without it the store-opening
/// ones are refused (the data directory's own objects directory has no
/// marker while the database lists segments).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_report_export_and_erase_user_take_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s3 = moto::MotoServer::start();
    let bucket = s3.fresh_bucket();
    let credentials = s3.credentials_file(dir.path());
    let config = config(
        dir.path(),
        &data,
        &s3_table(&s3.endpoint(), &bucket, &credentials),
    );
    let serve = Demo::serve(&config, &data);
    let user = serve.user.clone();
    eventually("a segment", Duration::from_secs(60), || async {
        ok_count(&data, 1) >= 1
    })
    .await;
    drop(serve);
    let veil = |args: &[&str]| tokio::task::block_in_place(|| common::run_veil(args));
    let (d, c) = (data.to_str().unwrap(), config.to_str().unwrap());
    let period = [
        "--from",
        "2000-01-01T00:00:00Z",
        "--to",
        "2100-01-01T00:00:00Z",
    ];

    let report = |with: bool| {
        let mut args = vec!["audit", "report", "--data", d];
        args.extend(period);
        if with {
            args.extend(["--config", c]);
        }
        veil(&args)
    };
    let (ok, out) = report(false);
    assert!(!ok && out.contains("has no VEIL-OBJECTS file"), "{out}");
    let (ok, out) = report(true);
    assert!(
        ok && out.trim_start().starts_with('{'),
        "veil audit report --config: {out}"
    );

    let export = dir.path().join("audit.jsonl");
    let e = export.to_str().unwrap();
    let (ok, out) = veil(&["audit", "export", "--data", d, "--config", c, "--out", e]);
    assert!(ok, "veil audit export --config: {out}");
    let text = std::fs::read_to_string(&export).unwrap();
    assert!(text.contains("document.generate"), "{text}");

    let (ok, out) = veil(&["admin", "erase-user", &user, "--data", d]);
    assert!(!ok && out.contains("has no VEIL-OBJECTS file"), "{out}");
    let (ok, out) = veil(&["admin", "erase-user", &user, "--data", d, "--config", c]);
    assert!(
        ok && out.contains("erased: "),
        "veil admin erase-user --config: {out}"
    );
    let (ok, out) = veil(&["audit", "verify", "--data", d, "--config", c]);
    assert!(ok, "veil audit verify --config: {out}");
    assert!(!out.contains(moto::SECRET_ACCESS_KEY));
}
