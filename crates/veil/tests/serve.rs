//! `veil serve` with a configuration file, end to end: the first account's
//! one-time password goes to a 0600 file (never to stdout), must be changed
//! and a second factor enrolled before anything else; an RTSP camera from the
//! file, whose password comes from `password_file` and which records on
//! motion, records the motion of a clip served by the GStreamer test server
//! (with authentication) and not its still scene, and the recording plays.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::Demo;
use serde_json::json;

/// The clip: still until 8 s, a white box moving until 12 s, still until 22 s.
const MOTION_START: f64 = 8.0;
const MOTION_END: f64 = 12.0;
const CLIP_END: u32 = 22;

fn motion_clip(dir: &Path) -> PathBuf {
    let out = dir.join("motion.mp4");
    let ok = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!(
            "color=c=0x505050:size=640x360:rate=25:duration={CLIP_END}"
        ))
        .args(["-f", "lavfi", "-i"])
        .arg(format!(
            "color=c=white:size=96x96:rate=25:duration={CLIP_END}"
        ))
        .arg("-filter_complex")
        .arg(format!(
            "[0][1]overlay=x='40+(t-{MOTION_START})*120':y=130\
             :enable='gte(t,{MOTION_START})*lt(t,{MOTION_END})'"
        ))
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "25"])
        .args(["-keyint_min", "25", "-sc_threshold", "0"])
        .arg(&out)
        .status()
        .expect("ffmpeg not found: install the Debian package ffmpeg")
        .success();
    assert!(ok, "ffmpeg could not make the motion clip");
    out
}

/// Recorded runs of camera 1: (start, end) in seconds, oldest first.
fn runs(data: &Path) -> Vec<(f64, f64)> {
    let Ok(db) = rusqlite::Connection::open_with_flags(
        data.join("veil.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    ) else {
        return Vec::new();
    };
    let Ok(mut st) = db.prepare(
        "SELECT MIN(start_90k), MAX(start_90k + duration_90k) FROM segment
         WHERE camera_id = 1 AND state = 'ok' GROUP BY run_start_90k ORDER BY 1",
    ) else {
        return Vec::new();
    };
    st.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)? as f64 / 90_000.0,
            r.get::<_, i64>(1)? as f64 / 90_000.0,
        ))
    })
    .map(|rows| rows.filter_map(Result::ok).collect())
    .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_first_account_and_a_motion_camera_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let secret_file = dir.path().join("camera-password");
    std::fs::write(&secret_file, "a-camera-password-7\n").unwrap();
    let clip = motion_clip(dir.path());
    let (_server, url) = common::rtsp_server(
        &clip,
        &["--user", "veil", "--password", "a-camera-password-7"],
    );
    let config = dir.path().join("veil.toml");
    let listen = format!("127.0.0.1:{}", common::free_port());
    std::fs::write(
        &config,
        format!(
            r#"data_dir = "{data}"
listen = "{listen}"
first_account = "first-administrator"

[[camera]]
name = "Yard"
source = {{ kind = "rtsp", url = "{url}", username = "veil", password_file = "{secret}", transport = "tcp", recording_mode = "motion", motion = {{ pre_seconds = 1, post_seconds = 2 }} }}
{purpose}{organisation}"#,
            data = data.display(),
            secret = secret_file.display(),
            purpose = common::PURPOSE,
            organisation = common::ORGANISATION,
        ),
    )
    .unwrap();
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let serve = Demo::serve(&config, &data);

    // The one-time password is in a 0600 file in the data directory, named
    // on stdout and never printed.
    assert_eq!(serve.password, None);
    let file = serve.password_file.clone().expect("a password file named");
    assert!(file.starts_with(&data), "{}", file.display());
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let first = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    assert!(!serve.output().contains(&first), "the password was printed");

    // First login: change the password, then enrol the second factor, before
    // anything else.
    let c = common::client();
    let r = c
        .post(serve.at("api/v1/session"))
        .json(&json!({"username": serve.user, "password": first}))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["must_change_password"], true, "{v}");
    let csrf = v["csrf"].as_str().unwrap().to_owned();
    let status = |path: &'static str| {
        let c = c.clone();
        let at = serve.at(path);
        async move { c.get(at).send().await.unwrap().status() }
    };
    assert_eq!(status("api/v1/cameras").await, 403);
    let r = c
        .post(serve.at("api/v1/session/password"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"current": first, "new": "the administrator's own passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        status("api/v1/cameras").await,
        403,
        "the second factor is still missing"
    );
    let t: serde_json::Value = c
        .post(serve.at("api/v1/session/totp"))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = veil_access::totp::TotpSecret::from_base32(t["secret"].as_str().unwrap()).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let code = format!("{:06}", veil_access::totp::code_at(&secret, now));
    let r = c
        .post(serve.at("api/v1/session/totp/confirm"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(status("api/v1/cameras").await, 200);

    // The camera from the file: motion mode with its settings.
    let cam: serde_json::Value = c
        .get(serve.at("api/v1/cameras/1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cam["recording_mode"], "motion", "{cam}");
    assert_eq!(cam["motion"]["pre_seconds"], 1, "{cam}");
    // It records the motion (with its buffers) and not the still scene.
    let deadline = Instant::now() + Duration::from_secs(45);
    let run = loop {
        let r = runs(&data);
        if let Some(&(s, e)) = r.first() {
            let st: serde_json::Value = c
                .get(serve.at("api/v1/cameras/1/status"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if st["state"] == "standby" {
                break (s, e);
            }
        }
        assert!(
            Instant::now() < deadline,
            "no motion recording ended; runs {r:?}; output:\n{}",
            serve.output()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let (start, end) = (run.0 - started, run.1 - started);
    let length = end - start;
    assert!(
        (4.0..=10.0).contains(&length),
        "a run of {length:.1} s ({start:.1}..{end:.1} s after start): motion is 4 s plus buffers"
    );
    assert!(
        start > 4.0,
        "the run starts {start:.1} s after start: the still scene was recorded"
    );
    // It plays.
    let at = |t: f64| {
        chrono::DateTime::from_timestamp_millis(((started + t) * 1000.0) as i64)
            .unwrap()
            .to_rfc3339()
    };
    let body = c
        .get(serve.at("api/v1/cameras/1/video.mp4"))
        .query(&[("start", at(start)), ("end", at(end))])
        .send()
        .await
        .unwrap();
    assert_eq!(body.status(), 200);
    let mp4 = dir.path().join("motion-run.mp4");
    std::fs::write(&mp4, body.bytes().await.unwrap()).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&mp4)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");

    // The changed password's file is deleted at the next start.
    drop(serve);
    let again = Demo::serve(&config, &data);
    assert_eq!(again.password_file, None);
    assert!(!file.exists(), "the used password file was kept");
}
