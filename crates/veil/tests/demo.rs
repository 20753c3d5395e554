//! `veil demo` as a new user meets it: first start, login, resume, help texts,
//! and logs that carry no personal data or secrets.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::Demo;

#[tokio::test(flavor = "multi_thread")]
async fn first_start_resume_and_clean_logs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut demo = Demo::start(&data, 1, &[]);
    assert!(demo.url.starts_with("https://127.0.0.1:"), "{}", demo.url);
    let password = demo
        .password
        .clone()
        .expect("first start prints a password");
    assert!(password.len() >= 16, "weak generated password");
    let mode = |p: &str| {
        std::fs::metadata(data.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("root.key"), 0o600);
    assert_eq!(mode("tls/key.pem"), 0o600);
    assert_eq!(mode(""), 0o700);
    assert!(data.join("veil.db").exists());

    let c = common::client();
    let bad = c
        .post(demo.at("api/v1/session"))
        .json(&serde_json::json!({"username": demo.user, "password": "not the password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let ok = c
        .post(demo.at("api/v1/session"))
        .json(&serde_json::json!({"username": demo.user, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let token = ok
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find_map(|v| {
            v.strip_prefix("veil_session=")
                .map(|s| s.split(';').next().unwrap().to_owned())
        })
        .unwrap();
    let v: serde_json::Value = c
        .get(demo.at("api/v1/cameras"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    // The live endpoint refuses plain GETs (it is a WebSocket) but is recorded
    // only when upgraded; playback of a range with nothing yet is a clean 404.
    let r = c
        .get(
            demo.at(
                "api/v1/cameras/1/video.mp4?start=2000-01-01T00:00:00Z&end=2000-01-01T00:01:00Z",
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    demo.kill();
    let logs = demo.output();
    // stdout's login line is the only place the password appears; stderr logs
    // never carry the name, the password or the session token.
    let stderr_like: String = logs.lines().filter(|l| !l.starts_with("login: ")).collect();
    for secret in [demo.user.as_str(), password.as_str(), token.as_str()] {
        assert!(
            !stderr_like.contains(secret),
            "log contains a secret or a name: {secret}"
        );
    }

    // Resume: same account, no password printed, key unchanged.
    let key_before = std::fs::read(data.join("root.key")).unwrap();
    let demo2 = Demo::start(&data, 1, &[]);
    assert_eq!(demo2.password, None);
    assert_eq!(demo2.user, demo.user);
    assert_eq!(std::fs::read(data.join("root.key")).unwrap(), key_before);
    let c = common::client();
    let ok = c
        .post(demo2.at("api/v1/session"))
        .json(&serde_json::json!({"username": demo2.user, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[test]
fn every_subcommand_has_help_and_data_dirs_are_uniform() {
    let veil = env!("CARGO_BIN_EXE_veil");
    for args in [
        vec!["--help"],
        vec!["demo", "--help"],
        vec!["serve", "--help"],
        vec!["check", "--help"],
        vec!["bench", "--help"],
        vec!["audit", "verify", "--help"],
        vec!["audit", "export", "--help"],
        vec!["audit", "key", "--help"],
        vec!["admin", "--help"],
        vec!["admin", "add-user", "--help"],
        vec!["bench", "decide", "--help"],
        vec!["audit", "report", "--help"],
        vec!["admin", "erase-user", "--help"],
    ] {
        let out = Command::new(veil).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage"), "{args:?}: {text}");
    }
    for sub in [
        &["demo"][..],
        &["check"],
        &["audit", "verify"],
        &["audit", "export"],
        &["audit", "key"],
        &["admin", "users"],
        &["admin", "add-user"],
        &["admin", "set-roles"],
        &["admin", "disable"],
        &["admin", "enable"],
        &["admin", "roles"],
        &["admin", "put-role"],
        &["admin", "publish-policy"],
        &["audit", "report"],
        &["admin", "erase-user"],
    ] {
        let out = Command::new(veil).args(sub).arg("--help").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("--data") && text.contains("veil-data"),
            "{sub:?}: {text}"
        );
    }
}

#[test]
fn bad_config_and_data_dir_are_rejected_clearly() {
    let veil = env!("CARGO_BIN_EXE_veil");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("veil.toml");
    std::fs::write(
        &cfg,
        "data_dir = 'x'\n[recording]\nsegment_seconds = 'ten'\n",
    )
    .unwrap();
    let out = Command::new(veil)
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid configuration") && err.contains("segment_seconds"),
        "{err}"
    );
    let out = Command::new(veil)
        .args(["serve", "--config", "/nonexistent/veil.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    let out = Command::new(veil)
        .arg("check")
        .arg("--data")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Veil data directory"));
}

#[test]
fn benchmarks_run_and_print_their_baselines() {
    let veil = env!("CARGO_BIN_EXE_veil");
    let dir = tempfile::tempdir().unwrap();
    let data = ["--data", dir.path().to_str().unwrap()];
    let cases: [(&[&str], [&str; 2]); 5] = [
        (
            &["ingest", "--streams", "2", "--seconds", "2", "--runs", "1"],
            ["raw write+fsync", "raw AES-256-GCM"],
        ),
        (
            &["playback", "--minutes", "1", "--runs", "1"],
            ["TTFB", "raw read"],
        ),
        (
            &[
                "audit",
                "--writers",
                "4",
                "--appends",
                "50",
                "--verify-entries",
                "1000",
            ],
            ["one commit per entry", "raw SHA-256"],
        ),
        (
            &["decide", "--decisions", "20000"],
            ["decisions/s", "hash-set lookup"],
        ),
        (
            &["export", "--minutes", "1", "--runs", "1"],
            [
                "raw read + SHA-256 + age",
                "verify: 4 files, 1 video(s), 1 chain(s)",
            ],
        ),
    ];
    for (args, expected) in cases {
        // Benchmarks that write take a scratch directory.
        let scratch: &[&str] = if args[0] == "decide" { &[] } else { &data };
        let out = Command::new(veil)
            .arg("bench")
            .args(args)
            .args(scratch)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for e in expected {
            assert!(text.contains(e), "{args:?} printed no {e:?}: {text}");
        }
    }
    // The working directory inside --data is removed afterwards.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_busy_port_on_first_start_creates_no_account() {
    let veil = env!("CARGO_BIN_EXE_veil");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = Command::new(veil)
        .args(["demo", "--listen", &addr, "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen"));
    // The next start on a free port is a first start: it prints the password.
    drop(busy);
    let demo = Demo::start(&data, 1, &[]);
    assert!(
        demo.password.is_some(),
        "the password was never shown: {}",
        demo.output()
    );
}
