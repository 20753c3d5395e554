//! The lift path over HTTPS: default playback never serves `original`;
//! `rendition=original` needs `masks.lift`, a justification and (four-eyes)
//! an approval, consumed once; it is recorded as `mask.lift` before any
//! byte; a grant lets follow-up range requests through until it expires;
//! in the escrow mode the identity header is needed on every request and
//! never echoed or recorded.

mod common;

use common::*;
use reqwest::{header, StatusCode};
use serde_json::{json, Value};
use veil_base::{Time90k, TIME_UNITS_PER_SEC};
use veil_media::synthetic::SyntheticConfig;
use veil_store::LiftMode;

const SEC: i64 = TIME_UNITS_PER_SEC;

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn video(from: f64, to: f64, extra: &str) -> String {
    format!(
        "/api/v1/cameras/1/video.mp4?start={}&end={}{extra}",
        t(from),
        t(to)
    )
}

fn lifts(s: &Server) -> Vec<veil_store::db::AuditRow> {
    audit_entries(s)
        .into_iter()
        .filter(|e| e.action == "mask.lift")
        .collect()
}

/// A user `lena.lift` holding `masks.lift` (and playback) on every camera,
/// with a second factor, and an API token for her; and two approvers.
async fn lifter(s: &Server) -> (reqwest::Client, String, String) {
    let (admin, csrf) = login(s).await;
    create_role(
        s,
        &admin,
        &csrf,
        "lifter",
        &[("masks.lift", None), ("playback", None)],
    )
    .await;
    let (lena, lena_csrf) = new_user(s, &admin, &csrf, "lena.lift", &["lifter"]).await;
    enrol_totp(s, &lena, &lena_csrf).await;
    let token = create_token(s, &lena, &lena_csrf, "lift", &["lifter"]).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    new_user(s, &admin, &csrf, "fatima.dpo", &["dpo"]).await;
    (lena, lena_csrf, token)
}

/// Lena asks to lift the masks of camera 1 and the DPO approves; returns
/// the approval's id.
async fn approved_lift(s: &Server, lena: &reqwest::Client, csrf: &str, why: &str) -> i64 {
    approved(s, lena, csrf, "masks.lift", "camera:1", why).await
}

async fn get_lift(c: &reqwest::Client, s: &Server, path: &str, token: &str) -> reqwest::Response {
    get_with_token(c, s, path, token).await
}

#[tokio::test]
async fn default_playback_and_the_timeline_never_serve_the_original() {
    let s = start().await;
    let (protected, original) = masked_video(&s).await;
    let (admin, csrf) = login(&s).await;
    let runs: Value = get_json(
        &admin,
        &s,
        &format!(
            "/api/v1/cameras/1/recordings?start={}&end={}",
            t(0.0),
            t(40.0)
        ),
    )
    .await;
    assert_eq!(
        runs["recordings"],
        json!([{"start": t(0.0), "end": t(12.0)}, {"start": t(20.0), "end": t(28.0)}])
    );
    for extra in ["", "&rendition=default"] {
        let r = get(&admin, &s, &video(20.0, 28.0, extra)).await;
        assert_eq!(r.status(), StatusCode::OK);
        let body = r.bytes().await.unwrap();
        assert!(contains(&body, &protected));
        assert!(!contains(&body, &original));
    }
    // Across the first mask: main then protected, in one file.
    let r = get(&admin, &s, &video(8.0, 24.0, "")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!contains(&r.bytes().await.unwrap(), &original));
    let played: Vec<String> = audit_entries(&s)
        .into_iter()
        .filter(|e| e.action == "playback")
        .map(|e| e.detail)
        .collect();
    assert!(played[0].starts_with("rendition=protected "), "{played:?}");
    assert!(
        played[2].starts_with("rendition=main,protected "),
        "{played:?}"
    );
    // An unknown rendition names the parameter; no permission, no original.
    let (status, _, message) =
        refusal(get(&admin, &s, &video(20.0, 28.0, "&rendition=raw")).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("rendition"), "{message}");
    let r = get(
        &admin,
        &s,
        &video(20.0, 28.0, "&rendition=original&justification=curious"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(lifts(&s).is_empty());
    // The original keeps 72 hours by default; what everyone sees (`main`,
    // masked or not) the installation's retention.
    let v: Value = get_json(&admin, &s, "/api/v1/cameras/1/retention").await;
    assert_eq!(v["renditions"]["original"]["hours"], 72, "{v}");
    assert_eq!(v["renditions"]["original"]["source"], "masks", "{v}");
    assert_eq!(v["renditions"]["main"]["source"], "installation", "{v}");
    assert_eq!(v["renditions"].as_object().unwrap().len(), 2, "{v}");
    // The original is never kept longer than what everyone sees; masks have
    // no rule of their own.
    let url = format!("{}/api/v1/cameras/1/retention", s.base);
    let body = |r: &str, h: u32| json!({"renditions": {r: {"hours": h}}});
    let r = put_json(&admin, &csrf, url.clone(), body("original", 200)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let message = refusal(r).await.2;
    assert!(
        message.starts_with("renditions.original.hours: at most 168"),
        "{message}"
    );
    let r = put_json(&admin, &csrf, url.clone(), body("protected", 24)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(refusal(r).await.2.starts_with("renditions.protected"));
    let r = put_json(&admin, &csrf, url, body("original", 24)).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_lift_needs_permission_justification_and_an_approval_used_once_and_its_grant_expires() {
    let s = start().await;
    let (_, original) = masked_video(&s).await;
    let (lena, lena_csrf, token) = lifter(&s).await;
    let why = "&justification=Police%20request%202026-117";
    let lifted = video(20.0, 28.0, &format!("&rendition=original{why}"));

    // No justification: 400 naming it; nothing recorded.
    let (status, _, message) =
        refusal(get_lift(&lena, &s, &video(20.0, 28.0, "&rendition=original"), &token).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("justification"), "{message}");
    // masks.lift is four-eyes by default: no approval, 403 naming it.
    let (status, _, message) = refusal(get_lift(&lena, &s, &lifted, &token).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message.contains("approval"), "{message}");
    assert!(lifts(&s).is_empty());

    let approval = approved_lift(
        &s,
        &lena,
        &lena_csrf,
        "Police request 2026-117 names the neighbour's door",
    )
    .await;

    // The access record refuses: nothing is served, the approval stays.
    s.audit.inject_failure(true);
    let r = get_lift(&lena, &s, &lifted, &token).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    s.audit.inject_failure(false);
    let state = s.store.db.approval(approval).unwrap().unwrap().state;
    assert_eq!(state, "approved");

    let r = get_lift(&lena, &s, &lifted, &token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let recorded = lifts(&s);
    assert_eq!(recorded.len(), 1, "recorded before the body was read");
    let body = r.bytes().await.unwrap();
    assert!(contains(&body, &original));
    assert_eq!(recorded[0].justification, "Police request 2026-117");
    assert_eq!(recorded[0].resource, "camera:1");
    assert!(
        recorded[0].detail.contains(&format!("approval={approval}")),
        "{}",
        recorded[0].detail
    );
    let state = s.store.db.approval(approval).unwrap().unwrap().state;
    assert_eq!(state, "used");

    // The browser's range request inside the grant: no new approval, but
    // recorded again, naming the grant.
    let r = lena
        .get(format!("{}{lifted}", s.base))
        .bearer_auth(&token)
        .header(header::RANGE, "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap(), body[..100]);
    let recorded = lifts(&s);
    assert_eq!(recorded.len(), 2);
    assert!(
        recorded[1].detail.contains("grant="),
        "{}",
        recorded[1].detail
    );
    // Another interval is another lift.
    let (status, _, message) = refusal(
        get_lift(
            &lena,
            &s,
            &video(20.0, 30.0, &format!("&rendition=original{why}")),
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, message.contains("approval")),
        (StatusCode::FORBIDDEN, true)
    );

    // An hour later the grant has expired.
    s.clock.advance(59 * 60 * SEC);
    assert_eq!(
        get_lift(&lena, &s, &lifted, &token).await.status(),
        StatusCode::OK
    );
    s.clock.advance(2 * 60 * SEC);
    let (status, _, message) = refusal(get_lift(&lena, &s, &lifted, &token).await).await;
    assert_eq!(
        (status, message.contains("approval")),
        (StatusCode::FORBIDDEN, true)
    );
    assert_eq!(lifts(&s).len(), 3);
}

#[tokio::test]
async fn escrowed_originals_need_the_identity_on_every_request_and_never_echo_it() {
    let s = start().await;
    let identity = age::x25519::Identity::generate();
    s.store
        .set_lift_mode(LiftMode::Escrow(identity.to_public()));
    let (_, original) = masked_video(&s).await;
    // One person may lift here (four-eyes off for masks.lift).
    s.store
        .db
        .set_setting(veil_web::admin::FOUR_EYES_SETTING, "[]")
        .unwrap();
    let (lena, _, token) = lifter(&s).await;
    let lifted = video(
        20.0,
        28.0,
        "&rendition=original&justification=Court%20order%2017",
    );
    let secret = {
        use age::secrecy::ExposeSecret;
        identity.to_string().expose_secret().to_owned()
    };
    let with = |id: &str| {
        lena.get(format!("{}{lifted}", s.base))
            .bearer_auth(&token)
            .header("X-Veil-Lift-Identity", id.to_owned())
            .send()
    };

    let (status, _, message) = refusal(get_lift(&lena, &s, &lifted, &token).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("X-Veil-Lift-Identity"), "{message}");
    let other = {
        use age::secrecy::ExposeSecret;
        age::x25519::Identity::generate()
            .to_string()
            .expose_secret()
            .to_owned()
    };
    let (status, code, message) = refusal(with(&other).await.unwrap()).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "lift_refused")
    );
    assert!(!message.contains(&other[16..]), "{message}");
    let (status, _, message) = refusal(with("AGE-SECRET-KEY-1NOTAKEY").await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!message.contains("NOTAKEY"), "{message}");
    assert!(lifts(&s).is_empty());

    let r = with(&secret).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(contains(&r.bytes().await.unwrap(), &original));
    // Inside the grant, still only with the identity.
    let (status, _, _) = refusal(get_lift(&lena, &s, &lifted, &token).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(with(&secret).await.unwrap().status(), StatusCode::OK);
    let recorded = lifts(&s);
    assert_eq!(recorded.len(), 2);
    assert!(
        recorded[0].detail.contains("key=escrow"),
        "{}",
        recorded[0].detail
    );
    // The identity is in no entry and no file of the data directory.
    let tail = &secret[20..];
    for e in audit_entries(&s) {
        assert!(!format!("{e:?}").contains(tail));
    }
    for entry in walk(&s.dir.path().join("data")) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(!contains(&bytes, tail.as_bytes()), "{}", entry.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A synthetic camera with a permanent and a liftable mask, recorded
/// through the real mask stage from T0 + 40 s for 4 s.
async fn record_masked(s: &Server) {
    use std::sync::Arc;
    use veil_store::mask_stage::MaskStage;
    use veil_store::recorder::RunSegmenters;
    let masks = json!([
        {"kind": "permanent", "fill": "solid", "name": "Window", "scope": "all",
         "reason": "a neighbour's window in view", "polygon": WINDOW},
        {"kind": "liftable", "fill": "solid", "name": "Door", "scope": "all",
         "reason": "the staff door, lifted for incidents", "polygon": DOOR},
    ]);
    let now = s.store.clock().now();
    s.store
        .db
        .insert_mask_version(s.camera, &masks.to_string(), None, now)
        .unwrap();
    s.store.publish_masks(s.camera).unwrap();
    let mut cam = veil_media::synthetic::SyntheticCamera::new(SyntheticConfig {
        width: 320,
        height: 240,
        fps: 25,
        gop_frames: 25,
        bitrate_bps: 600_000,
        seed: 9,
    })
    .unwrap();
    let params = Arc::new(cam.params().clone());
    let mut stage = MaskStage::new(&s.store, s.camera).unwrap();
    let mut segs = RunSegmenters::new(2 * SEC);
    let start = T0 + 40 * SEC;
    let mut closed = Vec::new();
    for i in 0..=100i64 {
        let f = cam.next_frame("LIFT").unwrap();
        let pts = start + i * SEC / 25;
        for staged in stage.push(&params, pts, f.is_key, f.data.into()).unwrap() {
            closed.extend(segs.push(&staged, Time90k(staged.pts)));
        }
    }
    for seg in closed {
        s.store
            .write_segment(seg.into_new_segment(s.camera, Time90k(start)))
            .await
            .unwrap();
    }
}

const WINDOW: [[f64; 2]; 4] = [[0.1, 0.1], [0.4, 0.1], [0.4, 0.5], [0.1, 0.5]];
const DOOR: [[f64; 2]; 4] = [[0.55, 0.3], [0.9, 0.3], [0.9, 0.9], [0.55, 0.9]];

/// The share of the polygon's pixels (4 pixels in) that are the solid fill,
/// over every frame of `mp4`.
fn filled(mp4: &[u8], polygon: &[[f64; 2]]) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v.mp4");
    std::fs::write(&file, mp4).unwrap();
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&file)
        .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .expect("ffmpeg not found: install the Debian package ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inside = veil_media::mask::rasterise(polygon, 320, 240);
    let deep: Vec<usize> = (0..320 * 240)
        .filter(|&p| {
            let (x, y) = ((p % 320) as isize, (p / 320) as isize);
            (-4..=4).all(|d| {
                let (nx, ny) = ((x + d).clamp(0, 319), (y + d).clamp(0, 239));
                let (mx, my) = ((x - d).clamp(0, 319), (y + d).clamp(0, 239));
                inside[ny as usize * 320 + nx as usize] && inside[my as usize * 320 + mx as usize]
            })
        })
        .collect();
    let frames: Vec<&[u8]> = out.stdout.chunks(320 * 240).collect();
    assert!(frames.len() >= 90, "{} frames", frames.len());
    let fill = veil_media::masking::SOLID_FILL[0];
    let hits: usize = frames
        .iter()
        .map(|f| deep.iter().filter(|&&p| f[p].abs_diff(fill) <= 16).count())
        .sum();
    hits as f64 / (deep.len() * frames.len()) as f64
}

#[tokio::test]
async fn a_lift_shows_what_the_liftable_mask_hides_and_never_the_permanent_one() {
    let s = start().await;
    record_masked(&s).await;
    let (lena, lena_csrf, token) = lifter(&s).await;
    approved_lift(
        &s,
        &lena,
        &lena_csrf,
        "Insurance claim 2026-88 about the staff door",
    )
    .await;

    let everyone = get_lift(&lena, &s, &video(40.0, 44.0, ""), &token).await;
    assert_eq!(everyone.status(), StatusCode::OK);
    let everyone = everyone.bytes().await.unwrap();
    let lifted = video(
        40.0,
        44.0,
        "&rendition=original&justification=Insurance%20claim",
    );
    let r = get_lift(&lena, &s, &lifted, &token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let original = r.bytes().await.unwrap();

    assert_eq!(
        filled(&everyone, &WINDOW),
        1.0,
        "the permanent mask, for everyone"
    );
    assert_eq!(
        filled(&everyone, &DOOR),
        1.0,
        "the liftable mask, for everyone"
    );
    assert_eq!(
        filled(&original, &WINDOW),
        1.0,
        "the permanent mask is never lifted"
    );
    assert!(filled(&original, &DOOR) < 0.5, "the lift shows the door");
}
