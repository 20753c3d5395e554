//! Bystander redaction in exports: a moving solid box painted into the
//! exported MP4 (re-encoded; stored video untouched), checked by decoding
//! the file with ffmpeg to grey frames; the package still verifies; bad
//! boxes are 400s naming the field and change nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use veil_base::Time90k;
use veil_export::verify::{verify, Decrypt};
use veil_media::redaction::{check, RedactionBox};

const PASSPHRASE: &str = "redaction test passphrase";
const W: usize = 320;
const H: usize = 240;

async fn exporter(s: &Server) -> (reqwest::Client, String) {
    let (admin, csrf) = login(s).await;
    create_role(
        s,
        &admin,
        &csrf,
        "exporter",
        &[("export", None), ("playback", None)],
    )
    .await;
    let (c, c_csrf) = new_user(s, &admin, &csrf, "otto.exp", &["exporter"]).await;
    enrol_totp(s, &c, &c_csrf).await;
    new_user(s, &admin, &csrf, "fatima.dpo", &["dpo"]).await;
    (c, c_csrf)
}

fn request(extra: Value) -> Value {
    let mut v = json!({
        "cameras": [1],
        "start": t(0.0),
        "end": t(10.0),
        "passphrase": PASSPHRASE,
        "requester": {"name": "Rui Sousa", "title": "Data subject", "organisation": "Private person", "country": "PT"},
        "reason": "Subject access request: the person's own images, bystanders hidden",
    });
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

/// A solid box moving from the top left to the bottom right between 1 s
/// and 9 s.
fn moving_box() -> Value {
    json!([{
        "camera": 1,
        "fill": "solid",
        "keyframes": [
            {"at": t(1.0), "x": 0.05, "y": 0.08, "w": 0.3, "h": 0.35},
            {"at": t(9.0), "x": 0.62, "y": 0.55, "w": 0.3, "h": 0.35},
        ],
    }])
}

/// Approves, posts and waits until done; the export's id and package id.
async fn export(s: &Server, c: &reqwest::Client, csrf: &str, body: Value) -> (i64, String) {
    approved(
        s,
        c,
        csrf,
        "export",
        "camera:1",
        "subject access request of the person filmed",
    )
    .await;
    let r = post_json(c, csrf, format!("{}/api/v1/exports", s.base), body).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    let v: Value = r.json().await.unwrap();
    let id = v["id"].as_i64().unwrap();
    let mut last = Value::Null;
    for _ in 0..1200 {
        last = get_json::<Value>(c, s, &format!("/api/v1/exports/{id}")).await;
        match last["state"].as_str().unwrap() {
            "done" => break,
            "failed" => panic!("export failed: {last}"),
            _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    assert_eq!(last["state"], "done", "{last}");
    assert_eq!(last["done_bytes"], last["total_bytes"]);
    (id, v["package_id"].as_str().unwrap().to_owned())
}

/// Downloads, decrypts and unpacks a package; its file and its folder.
async fn unpack(
    s: &Server,
    c: &reqwest::Client,
    id: i64,
    package_id: &str,
    dir: &Path,
) -> (PathBuf, PathBuf) {
    let r = get(c, s, &format!("/api/v1/exports/{id}/download")).await;
    assert_eq!(r.status(), StatusCode::OK);
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join(format!("{package_id}.tar.age"));
    std::fs::write(&file, r.bytes().await.unwrap()).unwrap();
    let mut plain = Vec::new();
    {
        use std::io::Read;
        let id = age::scrypt::Identity::new(PASSPHRASE.to_owned().into());
        age::Decryptor::new(std::fs::File::open(&file).unwrap())
            .unwrap()
            .decrypt(std::iter::once(&id as &dyn age::Identity))
            .unwrap()
            .read_to_end(&mut plain)
            .unwrap();
    }
    let tar = dir.join(format!("{package_id}.tar"));
    std::fs::write(&tar, &plain).unwrap();
    let out = Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    (file, dir.join(format!("veil-export-{package_id}")))
}

fn tool(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .expect("ffmpeg (installed by scripts/test) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The one video of a package: its manifest entry, grey frames and frame
/// presentation times (absolute, 90 kHz), and what ffprobe says of it.
fn video(pkg: &Path) -> (Value, Vec<Vec<u8>>, Vec<i64>, String) {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(pkg.join("manifest.json")).unwrap()).unwrap();
    let videos: Vec<Value> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "video")
        .cloned()
        .collect();
    assert_eq!(videos.len(), 1, "{manifest}");
    let f = videos[0].clone();
    let path = pkg.join(f["path"].as_str().unwrap());
    let grey = tool(
        Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&path)
            .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"]),
    );
    let frames: Vec<Vec<u8>> = grey.chunks(W * H).map(<[u8]>::to_vec).collect();
    let probe = String::from_utf8(tool(
        Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0", "-count_frames"])
            .args([
                "-show_entries",
                "stream=codec_name,width,height,nb_read_frames:format=format_name",
                "-of",
                "default=noprint_wrappers=1",
            ])
            .arg(&path),
    ))
    .unwrap();
    let pts = String::from_utf8(tool(
        Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
            .args(["frame=pts", "-of", "csv=p=0"])
            .arg(&path),
    ))
    .unwrap();
    let start = Time90k::parse_rfc3339(f["video"]["start"].as_str().unwrap()).unwrap();
    let mut times: Vec<i64> = pts
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect();
    times.sort_unstable();
    let first = times[0];
    let times = times.into_iter().map(|p| start.0 + (p - first)).collect();
    (f, frames, times, probe)
}

/// Luma range (max − min) of `[x0, x1) × [y0, y1)` in a grey frame.
fn range(frame: &[u8], (x0, y0, x1, y1): (usize, usize, usize, usize)) -> u8 {
    let mut lo = 255u8;
    let mut hi = 0u8;
    for y in y0..y1 {
        for &v in &frame[y * W + x0..y * W + x1] {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    hi.saturating_sub(lo)
}

#[tokio::test]
async fn a_moving_solid_box_is_constant_in_every_frame_and_the_package_verifies() {
    let s = start().await;
    let (c, csrf) = exporter(&s).await;
    let dir = tempfile::tempdir().unwrap();
    let (plain_id, plain_pkg) = export(&s, &c, &csrf, request(json!({}))).await;
    let (_, plain) = unpack(&s, &c, plain_id, &plain_pkg, &dir.path().join("plain")).await;
    let (id, package_id) =
        export(&s, &c, &csrf, request(json!({"redactions": moving_box()}))).await;
    let (file, pkg) = unpack(&s, &c, id, &package_id, &dir.path().join("redacted")).await;

    let (entry, frames, times, probe) = video(&pkg);
    let (plain_entry, plain_frames, plain_times, _) = video(&plain);
    // A valid H.264 MP4 with every frame of the unredacted file.
    assert!(probe.contains("codec_name=h264"), "{probe}");
    assert!(
        probe.contains("width=320") && probe.contains("height=240"),
        "{probe}"
    );
    assert!(probe.contains("format_name=mov,mp4"), "{probe}");
    let n = plain_entry["video"]["frames"].as_u64().unwrap();
    assert!(n >= 250, "10 s at 25 fps: {n}");
    assert!(probe.contains(&format!("nb_read_frames={n}")), "{probe}");
    assert_eq!(entry["video"]["frames"].as_u64().unwrap(), n);
    assert_eq!(frames.len() as u64, n);
    assert_eq!(times, plain_times, "the same presentation times");
    assert_eq!(plain_frames.len() as u64, n);

    // The manifest says the file was re-encoded with this box, and still
    // lists the stored segments it came from.
    let redacted = &entry["video"]["redacted"];
    assert_eq!(redacted["source_frames"].as_u64().unwrap(), n);
    assert_eq!(redacted["boxes"][0]["fill"], "solid");
    assert_eq!(redacted["boxes"][0]["keyframes"][1]["x"], 0.62);
    assert!(redacted["encoding"].as_str().unwrap().contains("H.264"));
    assert_eq!(entry["video"]["segments"], plain_entry["video"]["segments"]);
    assert!(plain_entry["video"].get("redacted").is_none());

    // In every frame where the box exists, its region (inset for the
    // codec's edges) is flat; the same region of the unredacted export is
    // not.
    let boxes: Vec<RedactionBox> = serde_json::from_value(moving_box()).unwrap();
    let b = &check(&boxes).unwrap()[0];
    let (mut covered, mut varied, mut worst) = (0, 0, 0u8);
    for (i, &pts) in times.iter().enumerate() {
        let d = times.get(i + 1).map_or(3600, |n| n - pts);
        let Some(r) = b.on_picture(Time90k(pts), d) else {
            continue;
        };
        let (x0, y0, x1, y1) = r.pixels(W, H);
        // 6 pixels in: the deblocking filter reaches 3 across the edge, and
        // a moving box's edge moves through the blocks motion-compensated
        // from the previous picture (4 pixels in spread by up to 17 levels
        // in a few frames, 6 in by at most 8).
        let inset = (x0 + 6, y0 + 6, x1 - 6, y1 - 6);
        let inside = range(&frames[i], inset);
        worst = worst.max(inside);
        covered += 1;
        if range(&plain_frames[i], inset) > 40 {
            varied += 1;
        }
    }
    // 1 s to 9 s at 25 fps, both ends included.
    assert!(covered >= 199, "the box is on {covered} frames");
    assert!(worst <= 12, "luma inside the box spreads by {worst}");
    assert_eq!(varied, covered, "the unredacted region is never flat");
    // Before the box begins the picture is the camera's.
    let early = (10, 10, 100, 80);
    assert!(range(&frames[0], early) > 40);

    // The verifier accepts the redacted package and says so.
    let report = verify(
        std::fs::File::open(&file).unwrap(),
        Decrypt::Passphrase(PASSPHRASE.to_owned().into()),
        None,
    )
    .unwrap();
    assert_eq!(report.videos.len(), 1);
    assert_eq!(report.videos[0].redaction_boxes, 1);
    let text = report.to_string();
    assert!(text.contains("redacted: 1 box(es)"), "{text}");
    assert!(text.contains("the package verifies"), "{text}");
    // Recorded with the export; the stored request keeps the boxes.
    let created = audit_entries(&s)
        .into_iter()
        .rfind(|e| e.action == "export.create")
        .unwrap();
    assert!(
        created.detail.contains("redactions=1"),
        "{}",
        created.detail
    );
    let row = s.store.db.export(id).unwrap().unwrap();
    let stored: Value = serde_json::from_str(&row.request).unwrap();
    assert_eq!(stored["redactions"][0]["keyframes"][0]["y"], 0.08);
}

#[tokio::test]
async fn bad_boxes_are_refused_naming_the_field() {
    let s = start().await;
    let (c, csrf) = exporter(&s).await;
    let before = audit_entries(&s).len();
    let kf = |secs: f64, x: f64| json!({"at": t(secs), "x": x, "y": 0.1, "w": 0.2, "h": 0.2});
    let cases = [
        (
            json!([{"camera": 1, "fill": "solid", "keyframes": [kf(1.0, 0.1), kf(2.0, 0.9)]}]),
            "redactions[0].keyframes[1].w",
        ),
        (
            json!([{"camera": 1, "fill": "smudge", "keyframes": [kf(1.0, 0.1)]}]),
            "redactions[0].fill",
        ),
        (
            json!([{"camera": 1, "fill": "blur", "keyframes": [kf(2.0, 0.1), kf(1.0, 0.2)]}]),
            "redactions[0].keyframes[1].at",
        ),
        (
            json!([{"camera": 1, "fill": "blur", "keyframes": [kf(1.0, 0.1)]},
                   {"camera": 7, "fill": "blur", "keyframes": [kf(1.0, 0.1)]}]),
            "redactions[1].camera",
        ),
        (
            json!([{"camera": 1, "fill": "solid", "keyframes": [kf(1.0, 0.1), kf(11.0, 0.2)]}]),
            "redactions[0].keyframes[1].at",
        ),
        (
            json!([{"camera": 1, "fill": "solid", "keyframes": [kf(1.0, -0.2)]}]),
            "redactions[0].keyframes[0].x",
        ),
    ];
    for (boxes, field) in cases {
        let r = post_json(
            &c,
            &csrf,
            format!("{}/api/v1/exports", s.base),
            request(json!({ "redactions": boxes })),
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{field}");
        let v: Value = r.json().await.unwrap();
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.starts_with(&format!("{field}:")), "{field}: {v}");
    }
    // Nothing exported, nothing entered in the register or the record.
    let list: Value = get_json(&c, &s, "/api/v1/exports").await;
    assert_eq!(list["exports"].as_array().unwrap().len(), 0);
    assert!(audit_entries(&s)[before..]
        .iter()
        .all(|e| e.action != "export.create"));
}
