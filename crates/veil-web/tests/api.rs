//! The HTTP API over real HTTPS on 127.0.0.1, against a store filled with
//! synthetic segments; MP4s are checked with ffprobe/ffmpeg.

mod common;

use std::process::Command;

use reqwest::StatusCode;
use veil_base::Time90k;
use veil_store::MAIN_RENDITION;

use common::*;

#[tokio::test]
async fn anonymous_callers_get_401_except_public_routes() {
    let s = start().await;
    let c = client();
    for path in [
        "/api/v1/cameras",
        "/api/v1/session",
        "/api/v1/cameras/1/recordings",
        "/api/v1/cameras/1/video.mp4?start=2026-11-23T10:00:00Z&end=2026-11-23T10:01:00Z",
        "/api/v1/cameras/1/live",
        "/api/v1/nonexistent",
    ] {
        let r = get(&c, &s, path).await;
        assert_eq!(
            error_code(r).await,
            (StatusCode::UNAUTHORIZED, "unauthenticated".into()),
            "{path}"
        );
    }
    let r = c
        .delete(format!("{}/api/v1/session", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    for page in ["/cameras", "/cameras/1/playback", "/"] {
        let r = get(&c, &s, page).await;
        assert!(r.status().is_redirection(), "{page}");
        assert_eq!(r.headers()["location"], "/login", "{page}");
    }
    for public in ["/api/v1/health", "/login", "/static/veil.css"] {
        let r = get(&c, &s, public).await;
        assert_eq!(r.status(), StatusCode::OK, "{public}");
        assert!(r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'"));
    }
}

#[tokio::test]
async fn login_sets_safe_cookies_and_records_attempts() {
    let s = start().await;
    let c = client();
    let bad = post_session(&c, &s, "alice.martin", "wrong password!").await;
    assert_eq!(
        error_code(bad).await,
        (StatusCode::UNAUTHORIZED, "bad_credentials".into())
    );
    let unknown = post_session(&c, &s, "nobody", "whatever it is").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let malformed = c
        .post(format!("{}/api/v1/session", s.base))
        .body("username=alice")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(malformed).await.0, StatusCode::BAD_REQUEST);

    let r = post_session(&c, &s, "alice.martin", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("veil_session="))
        .unwrap();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(session.contains(attr), "{session}");
    }
    let token = session
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("veil_session=");
    // Only the token's hash is stored.
    let rows = s
        .store
        .db
        .raw_query_for_tests("SELECT token_hash FROM user_session", &[])
        .unwrap();
    let [row] = &rows[..] else {
        panic!("one session: {rows:?}")
    };
    let [veil_store::db::RawValue::Blob(stored)] = &row[..] else {
        panic!("{row:?}")
    };
    assert_eq!(stored.len(), 32);
    assert!(!stored
        .windows(token.len().min(32))
        .any(|w| w == &token.as_bytes()[..token.len().min(32)]));

    assert_eq!(
        audit_actions(&s),
        vec![
            ("u-test".into(), "login".into(), "denied".into()),
            ("anonymous".into(), "login".into(), "denied".into()),
            ("u-test".into(), "login".into(), "ok".into()),
        ]
    );
    // The name is never in the access record.
    let all = format!("{:?}", s.store.db.audit_entries(0, 100).unwrap());
    assert!(!all.contains("alice") && !all.contains("nobody"));
}

#[tokio::test]
async fn logout_needs_the_csrf_token() {
    let s = start().await;
    let (c, csrf) = login(&s).await;
    let r = c
        .delete(format!("{}/api/v1/session", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (StatusCode::FORBIDDEN, "csrf".into()));
    let r = c
        .delete(format!("{}/api/v1/session", s.base))
        .header("x-csrf-token", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(status_of(&c, &s, "/api/v1/cameras").await, StatusCode::OK);
    let r = c
        .delete(format!("{}/api/v1/session", s.base))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        status_of(&c, &s, "/api/v1/cameras").await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn cameras_and_recordings() {
    let s = start().await;
    let (c, _) = login(&s).await;
    let v: serde_json::Value = get_json(&c, &s, "/api/v1/cameras").await;
    assert_eq!(v[0]["id"], s.camera.0);
    assert_eq!(v[0]["name"], "Door");
    let recordings = format!(
        "/api/v1/cameras/1/recordings?start={}&end={}",
        t(-100.0),
        t(100.0)
    );
    let v: serde_json::Value = get_json(&c, &s, &recordings).await;
    assert_eq!(
        v["recordings"],
        serde_json::json!([{"start": t(0.0), "end": t(12.0)}])
    );
    // Default interval (the last 24 hours before the simulated now).
    let v: serde_json::Value = get_json(&c, &s, "/api/v1/cameras/1/recordings").await;
    assert_eq!(v["recordings"].as_array().unwrap().len(), 1);
}

fn ffprobe_duration(path: &std::path::Path) -> f64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe must be installed (Debian package ffmpeg)");
    assert!(
        out.status.success(),
        "ffprobe rejected the file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn ffmpeg_errors(path: &std::path::Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg must be installed (Debian package ffmpeg)");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn playback_mp4_is_valid_and_spans_the_request() {
    let s = start().await;
    let (c, _) = login(&s).await;
    // (start, end) in seconds after T0, and the expected duration: from the
    // keyframe at or before start (GOP = 1 s) to end.
    for (a, b) in [
        (0.0, 12.0),
        (2.5, 9.3),
        (3.9, 4.6),
        (-5.0, 30.0),
        (11.0, 11.5),
    ] {
        let r = c
            .get(format!(
                "{}/api/v1/cameras/1/video.mp4?start={}&end={}",
                s.base,
                t(a),
                t(b)
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "video/mp4");
        assert_eq!(r.headers()["accept-ranges"], "bytes");
        assert!(r.headers().contains_key("etag"));
        let len: usize = r.headers()["content-length"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let body = r.bytes().await.unwrap();
        assert_eq!(body.len(), len);
        let path = s.dir.path().join(format!("v-{a}-{b}.mp4"));
        std::fs::write(&path, &body).unwrap();
        let want = b.min(12.0) - a.max(0.0);
        let got = ffprobe_duration(&path);
        assert!(
            got >= want - 0.05 && got <= want + 1.0 + 0.05,
            "[{a}, {b}): duration {got}, wanted {want} + at most one GOP"
        );
        assert_eq!(ffmpeg_errors(&path), "", "[{a}, {b})");
    }
}

#[tokio::test]
async fn ranges_are_slices_of_the_whole_body() {
    let s = start().await;
    let (c, _) = login(&s).await;
    let url = format!(
        "{}/api/v1/cameras/1/video.mp4?start={}&end={}",
        s.base,
        t(0.0),
        t(12.0)
    );
    ranges_are_slices(&c, url).await;
}

/// The same with a recording that has audio and ONVIF metadata tracks, whose
/// samples are interleaved with the video in `mdat`.
#[tokio::test]
async fn ranges_are_slices_of_a_recording_with_audio_and_metadata() {
    use veil_media::mp4::{TrackCodec, TrackSample};
    use veil_store::segment::TrackIndex;
    let s = start().await;
    let yard = add_camera(&s, "Yard");
    let config = veil_media::synthetic::SyntheticConfig {
        width: 320,
        height: 240,
        fps: 25,
        gop_frames: 25,
        bitrate_bps: 300_000,
        seed: 9,
    };
    let segs = veil_store::recorder::synthetic_segments(
        yard,
        config,
        Time90k(T0),
        12 * 25 + 1,
        4 * 90_000,
    )
    .unwrap();
    for (i, mut seg) in segs.into_iter().enumerate() {
        // 16 kHz audio frames of 1024 samples over the segment, and one
        // metadata document per second.
        let seconds = (seg.samples.len() / 25).max(1);
        let frames = seconds * 16_000 / 1024;
        let audio: Vec<u8> = (0..frames * 40).map(|b| (b * 7 + i) as u8).collect();
        let xml: Vec<u8> = (0..seconds)
            .flat_map(|n| format!("<tt:MetadataStream n=\"{i}.{n}\"/>").into_bytes())
            .collect();
        let doc = xml.len() / seconds;
        seg.tracks = vec![
            TrackIndex {
                codec: TrackCodec::Aac {
                    channels: 1,
                    config: vec![0x14, 0x08],
                },
                timescale: 16_000,
                start_offset_90k: 0,
                samples: vec![
                    TrackSample {
                        size: 40,
                        duration: 1024
                    };
                    frames
                ],
            },
            TrackIndex {
                codec: TrackCodec::OnvifMetadata,
                timescale: 90_000,
                start_offset_90k: 0,
                samples: vec![
                    TrackSample {
                        size: doc as u32,
                        duration: 90_000
                    };
                    seconds
                ],
            },
        ];
        seg.media.extend_from_slice(&audio);
        seg.media.extend_from_slice(&xml);
        s.store.write_segment(seg).await.unwrap();
    }
    let (c, _) = login(&s).await;
    let url = format!(
        "{}/api/v1/cameras/{}/video.mp4?start={}&end={}",
        s.base,
        yard.0,
        t(0.5),
        t(11.0)
    );
    let whole = c.get(&url).send().await.unwrap().bytes().await.unwrap();
    let path = s.dir.path().join("tracks.mp4");
    std::fs::write(&path, &whole).unwrap();
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .expect("ffprobe must be installed (Debian package ffmpeg)");
    let kinds = String::from_utf8_lossy(&probe.stdout);
    assert_eq!(
        kinds.lines().collect::<Vec<_>>(),
        ["video", "audio", "data"],
        "{kinds}"
    );
    ranges_are_slices(&c, url).await;
}

/// Single ranges of `url`: headers, suffix and open-ended forms, malformed
/// and unsatisfiable ones, and the property that any byte range equals the
/// same slice of the whole body.
async fn ranges_are_slices(c: &reqwest::Client, url: String) {
    let full = c.get(&url).send().await.unwrap();
    let etag = full.headers()["etag"].clone();
    let full = full.bytes().await.unwrap();
    let n = full.len() as u64;
    let get = |range: String| {
        let c = c.clone();
        let url = url.clone();
        async move { c.get(&url).header("range", range).send().await.unwrap() }
    };
    // A range that crosses two segment boundaries (segments are 4 s each, so
    // the middle of the file holds the second one).
    let (a, b) = (n / 4, 3 * n / 4);
    let r = get(format!("bytes={a}-{b}")).await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["etag"], etag);
    assert_eq!(
        r.headers()["content-range"].to_str().unwrap(),
        format!("bytes {a}-{b}/{n}")
    );
    assert_eq!(
        &r.bytes().await.unwrap()[..],
        &full[a as usize..=b as usize]
    );
    // Suffix and open-ended forms.
    assert_eq!(
        &get("bytes=-100".into()).await.bytes().await.unwrap()[..],
        &full[n as usize - 100..]
    );
    assert_eq!(
        &get(format!("bytes={}-", n - 7))
            .await
            .bytes()
            .await
            .unwrap()[..],
        &full[n as usize - 7..]
    );
    // Malformed ranges are ignored (RFC 9110): the whole body.
    for ignored in ["bytes=x-y", "pages=1-2"] {
        let r = get(ignored.into()).await;
        assert_eq!(r.status(), StatusCode::OK, "{ignored}");
        assert_eq!(r.bytes().await.unwrap(), full, "{ignored}");
    }
    // Unsatisfiable ranges: 416.
    for bad in [
        format!("bytes={n}-"),
        "bytes=9-3".into(),
        format!("bytes={}-{}", n + 5, n + 9),
    ] {
        let r = get(bad.clone()).await;
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{bad}");
        assert_eq!(
            r.headers()["content-range"].to_str().unwrap(),
            format!("bytes */{n}")
        );
    }
    // Property: any byte range equals the same slice of the full body.
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 40,
        ..Default::default()
    });
    let strategy = (0..n, 0..n);
    let cases = std::sync::Mutex::new(Vec::new());
    runner
        .run(&strategy, |(x, y)| {
            cases.lock().unwrap().push((x.min(y), x.max(y)));
            Ok(())
        })
        .unwrap();
    for (a, b) in cases.into_inner().unwrap() {
        let r = get(format!("bytes={a}-{b}")).await;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        let body = r.bytes().await.unwrap();
        prop_assert_eq_sync(&body[..], &full[a as usize..=b as usize], a, b);
    }
}

fn prop_assert_eq_sync(got: &[u8], want: &[u8], a: u64, b: u64) {
    assert!(
        got == want,
        "bytes={a}-{b}: {} bytes differ from the full body's slice",
        got.len()
    );
}

#[tokio::test]
async fn bad_requests_get_clear_json_errors() {
    let s = start().await;
    let (c, _) = login(&s).await;
    let cases = [
        (
            "/api/v1/cameras/1/video.mp4?start=yesterday&end=now",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/cameras/1/video.mp4",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            &*format!(
                "/api/v1/cameras/1/video.mp4?start={}&end={}",
                t(5.0),
                t(1.0)
            ),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            &*format!(
                "/api/v1/cameras/1/video.mp4?start={}&end={}",
                t(0.0),
                t(90_000.0)
            ),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            &*format!(
                "/api/v1/cameras/1/video.mp4?start={}&end={}",
                t(100.0),
                t(200.0)
            ),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            &*format!(
                "/api/v1/cameras/99/video.mp4?start={}&end={}",
                t(0.0),
                t(2.0)
            ),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/api/v1/cameras/abc/recordings",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/api/v1/cameras/1/recordings?start=2026-13-45T00:00:00Z",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        ("/api/v1/no/such/route", StatusCode::NOT_FOUND, "not_found"),
    ];
    for (path, status, code) in cases {
        let r = get(&c, &s, path).await;
        let (st, co) = error_code(r).await;
        assert_eq!((st, co.as_str()), (status, code), "{path}");
    }
    // Oversized and malformed bodies (HTTP/1.1 so the early answer is read).
    let h1 = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .http1_only()
        .build()
        .unwrap();
    let r = h1
        .post(format!("{}/api/v1/session", s.base))
        .header("content-type", "application/json")
        .body(vec![b' '; 200 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(r).await,
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large".into())
    );
    for body in ["[]", "{\"username\": 5}", "not json"] {
        let r = h1
            .post(format!("{}/api/v1/session", s.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            !text.contains("LoginRequest") && !text.contains("deserialize"),
            "{text}"
        );
    }
    let r = get(&c, &s, "/static/..%2f..%2fetc%2fpasswd").await;
    assert_eq!(error_code(r).await.0, StatusCode::NOT_FOUND);
    // No body ever leaks internals.
    let r = c
        .get(format!(
            "{}/api/v1/cameras/1/video.mp4?start=x&end=y",
            s.base
        ))
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    for leak in ["veil.db", "objects/", "SELECT", "/tmp"] {
        assert!(!text.contains(leak), "{text}");
    }
}

#[tokio::test]
async fn playback_is_recorded_before_and_refused_without_the_record() {
    let s = start().await;
    let (c, _) = login(&s).await;
    let url = format!(
        "{}/api/v1/cameras/1/video.mp4?start={}&end={}",
        s.base,
        t(0.0),
        t(4.0)
    );
    assert_eq!(c.get(&url).send().await.unwrap().status(), StatusCode::OK);
    let last = s.store.db.audit_entries(0, 100).unwrap().pop().unwrap();
    assert_eq!(
        (
            last.actor.as_str(),
            last.action.as_str(),
            last.resource.as_str()
        ),
        ("u-test", "playback", "camera:1")
    );
    assert!(last.detail.contains(&t(0.0)), "{}", last.detail);
    let before = s.store.db.audit_entries(0, 100).unwrap().len();
    s.audit.inject_failure(true);
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(
        error_code(r).await,
        (StatusCode::SERVICE_UNAVAILABLE, "audit_unavailable".into())
    );
    // Login is refused too when it cannot be recorded.
    let r = client()
        .post(format!("{}/api/v1/session", s.base))
        .json(&serde_json::json!({"username": "alice.martin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    s.audit.inject_failure(false);
    assert_eq!(s.store.db.audit_entries(0, 100).unwrap().len(), before);
}

#[tokio::test]
async fn a_corrupt_segment_is_skipped_and_others_play() {
    let s = start().await;
    let (c, _) = login(&s).await;
    let segs = s
        .store
        .segments(s.camera, MAIN_RENDITION, Time90k(0), Time90k(i64::MAX / 2))
        .unwrap();
    assert_eq!(segs.len(), 3);
    // Truncate the middle segment's object.
    let p = s
        .dir
        .path()
        .join("data/objects")
        .join(&segs[1].row.object_key);
    let b = std::fs::read(&p).unwrap();
    std::fs::write(&p, &b[..b.len() / 3]).unwrap();
    let url = format!(
        "{}/api/v1/cameras/1/video.mp4?start={}&end={}",
        s.base,
        t(0.0),
        t(12.0)
    );
    // The first request notices (the body ends early); the segment is marked.
    let _ = c.get(&url).send().await.unwrap().bytes().await;
    let body = c.get(&url).send().await.unwrap().bytes().await.unwrap();
    let path = s.dir.path().join("skip.mp4");
    std::fs::write(&path, &body).unwrap();
    let d = ffprobe_duration(&path);
    assert!((d - 8.0).abs() < 0.1, "duration {d}");
    assert_eq!(ffmpeg_errors(&path), "");
    let v: serde_json::Value = c
        .get(format!(
            "{}/api/v1/cameras/1/recordings?start={}&end={}",
            s.base,
            t(-1.0),
            t(20.0)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["recordings"].as_array().unwrap().len(), 2, "{v}");
}

#[tokio::test]
async fn the_audit_export_needs_audit_read_is_recorded_and_verifies() {
    let s = start().await;
    let url = format!("{}/api/v1/audit/export", s.base);
    // The administrator runs the system but does not read its record.
    let (admin, _) = login(&s).await;
    let r = admin.get(&url).send().await.unwrap();
    assert_eq!(
        error_code(r).await,
        (StatusCode::FORBIDDEN, "forbidden".into())
    );
    let (auditor, _) = login_as(&s, "ines.audit").await;
    let r = auditor.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()[reqwest::header::CONTENT_TYPE],
        "application/jsonl; charset=utf-8"
    );
    let text = r.text().await.unwrap();
    let key = s.audit.public_key().unwrap();
    let report = veil_audit::verify::verify_export(&text, Some(key)).unwrap();
    // Two logins, the export itself, and the recording chain's head that
    // the checkpoint signing them records first: all signed.
    assert_eq!(
        (report.first_seq, report.last_seq, report.signed_up_to),
        (1, 4, 4)
    );
    let entries = s.store.db.audit_entries(0, 100).unwrap();
    let actions: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str()))
        .collect();
    assert_eq!(
        actions[2..],
        [("u-auditor", "audit.export"), ("system", "recording.chain")]
    );
    // A range by time; bad bounds are explained.
    let r = auditor
        .get(format!("{url}?from=2&to=2"))
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(text.lines().nth(1).unwrap().contains("\"seq\":2"), "{text}");
    let r = auditor
        .get(format!("{url}?from=yesterday"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(r).await,
        (StatusCode::BAD_REQUEST, "bad_request".into())
    );
    // Fail closed: no export when the export cannot be recorded.
    s.audit.inject_failure(true);
    let r = auditor.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    s.audit.inject_failure(false);
}

/// Health names the part that is down: the access record failing makes it
/// 503 (video cannot be served without its entry), and it recovers.
#[tokio::test]
async fn health_checks_the_parts_video_depends_on() {
    let s = start().await;
    let c = client();
    let health = || async {
        let r = get(&c, &s, "/api/v1/health").await;
        let status = r.status();
        (status, r.json::<serde_json::Value>().await.unwrap())
    };
    let (status, v) = health().await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["checks"]["database"], "ok");
    assert_eq!(v["checks"]["access_record"], "ok");
    assert!(
        v["checks"]["disk"]["free_bytes"].as_u64().unwrap() > 0,
        "{v}"
    );
    s.audit.inject_failure(true);
    let (status, v) = health().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(v["failing"], serde_json::json!(["access_record"]), "{v}");
    s.audit.inject_failure(false);
    assert_eq!(health().await.0, StatusCode::OK);
}

/// Early refusals reach the client over HTTP/2 and HTTP/1.1 alike, many
/// times in a row: a 401 before the body is read, and a 413 for a body over
/// the limit (refused from its Content-Length, before `100 Continue`).
/// Checked with curl, which speaks HTTP/2 over TLS by default.
#[tokio::test]
async fn refusals_are_readable_over_http2_and_http1() {
    let s = start().await;
    let big = s.dir.path().join("big.json");
    std::fs::write(&big, vec![b' '; 2 * 1024 * 1024]).unwrap();
    let curl = |version: &'static str, path: &'static str, body: String| {
        let base = s.base.clone();
        async move {
            let out = tokio::process::Command::new("curl")
                .args([
                    "-sSk",
                    version,
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code} %{http_version}",
                ])
                .args(["-X", "POST", "-H", "content-type: application/json"])
                .args(["--data-binary", &body])
                .arg(format!("{base}{path}"))
                .output()
                .await
                .expect("curl must be installed (Debian package curl)");
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    };
    let small = r#"{"name": "Gate", "source": {"kind": "synthetic"}}"#.to_owned();
    for (version, shown) in [("--http2", "2"), ("--http1.1", "1.1")] {
        for i in 0..25 {
            let (code, out, err) = curl(version, "/api/v1/cameras", small.clone()).await;
            assert_eq!(
                (code, out.as_str()),
                (Some(0), format!("401 {shown}").as_str()),
                "{version} try {i}: {err}"
            );
        }
        for i in 0..5 {
            let (code, out, err) =
                curl(version, "/api/v1/session", format!("@{}", big.display())).await;
            assert_eq!(
                (code, out.as_str()),
                (Some(0), format!("413 {shown}").as_str()),
                "{version} try {i}: {err}"
            );
        }
    }
}
