//! `veil audit report` and `veil admin erase-user` on a data directory: exact
//! figures, the erasure recorded by `cli`, the chain still verifying, and the
//! erased name gone from the database file and its log.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use veil_audit::{AccessRecord, Action, ClientAddressPolicy, Event, Outcome};
use veil_base::{SimulatedClock, Time90k};

/// 2024-01-01T00:00:00Z: in the past, so the entries the commands append
/// themselves (at the real time) fall outside the reported period.
const T0: i64 = 1_704_067_200 * 90_000;
const MIN: i64 = 60 * 90_000;
const NAME: &str = "teodora.erasable-5512";

fn at(minutes: i64) -> String {
    Time90k(T0 + minutes * MIN).to_rfc3339()
}

/// A data directory with one account (`u-teo`) and a known history: two
/// playbacks of 30 minutes, a live view, a failed login and a lockout.
fn recorded(dir: &Path) {
    let store =
        veil_store::Store::open_dir(dir, Arc::new(SimulatedClock::new(Time90k(T0)))).unwrap();
    veil_web::roles::setup_roles(&store.db, Time90k(T0)).unwrap();
    store
        .db
        .insert_user(
            "u-teo",
            NAME,
            &veil_access::password::hash("a password of some length"),
            veil_access::ADMINISTRATOR,
            Time90k(T0),
        )
        .unwrap();
    let clock = Arc::new(SimulatedClock::new(Time90k(T0)));
    let record =
        AccessRecord::new(store.db.clone(), clock.clone(), ClientAddressPolicy::Full).unwrap();
    let playback = |start: i64| {
        Event::new("u-teo", Action::Playback, "camera:1").detail(format!(
            "rendition=main start={} end={}",
            at(start),
            at(start + 30)
        ))
    };
    for e in [
        playback(0),
        playback(100),
        Event::new("u-teo", Action::LiveView, "camera:2"),
        Event::new("u-teo", Action::Login, "session").outcome(Outcome::Denied),
        Event::new("u-teo", Action::LoginLocked, "session").outcome(Outcome::Denied),
    ] {
        clock.advance(10 * MIN);
        record.append(e).unwrap();
    }
}

fn veil(args: &[&str], data: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn report(data: &Path, format: &str) -> String {
    let (from, to) = (at(0), at(24 * 60));
    let (ok, out, err) = veil(
        &[
            "audit", "report", "--from", &from, "--to", &to, "--format", format,
        ],
        data,
    );
    assert!(ok, "{err}");
    out
}

fn files_contain(data: &Path, needle: &str) -> bool {
    ["veil.db", "veil.db-wal"].iter().any(|f| {
        std::fs::read(data.join(f))
            .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
    })
}

#[test]
fn report_then_erasure_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    recorded(&data);

    let v: serde_json::Value = serde_json::from_str(&report(&data, "json")).unwrap();
    assert_eq!(v["entries"], 5);
    assert_eq!(v["total"]["playback_hours"], 1.0);
    assert_eq!(v["total"]["live_views"], 1);
    assert_eq!(v["total"]["failed_logins"], 2);
    assert_eq!(v["users"][0]["pseudonym"], "u-teo");
    assert_eq!(v["users"][0]["name"], NAME);
    let csv = report(&data, "csv");
    assert!(
        csv.contains(&format!("\r\nuser,u-teo,{NAME},1,1.00,0,0,0,0,2,0,0\r\n")),
        "{csv}"
    );
    assert!(report(&data, "html").contains("<caption>Per day (UTC)</caption>"));
    assert!(
        files_contain(&data, NAME),
        "the name is stored before erasure"
    );

    let (ok, out, err) = veil(&["admin", "erase-user", NAME], &data);
    assert!(ok, "{err}");
    assert!(out.contains("erased: u-teo"), "{out}");
    let (ok, _, err) = veil(&["admin", "erase-user", NAME], &data);
    assert!(!ok);
    assert!(err.contains("no user has this name or pseudonym"), "{err}");

    let (ok, out, err) = veil(&["audit", "verify"], &data);
    assert!(ok, "{err}");
    // 5 events, 3 reports (document.generate), 1 erasure.
    assert!(out.contains("9 access-record entries verified"), "{out}");
    let db = veil_store::Db::open_read_only(&data.join("veil.db")).unwrap();
    let rows = db.audit_entries(0, 100).unwrap();
    let cli: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| r.actor == "cli")
        .map(|r| (r.action.as_str(), r.resource.as_str()))
        .collect();
    assert_eq!(
        cli,
        [
            ("document.generate", "audit_report"),
            ("document.generate", "audit_report"),
            ("document.generate", "audit_report"),
            ("user.erase", "user:u-teo"),
        ]
    );
    assert_eq!(
        rows[5].detail,
        format!("from={} to={} format=json", at(0), at(24 * 60))
    );
    drop(db);

    let v: serde_json::Value = serde_json::from_str(&report(&data, "json")).unwrap();
    let teo = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["pseudonym"] == "u-teo")
        .unwrap();
    assert_eq!(teo["name"], "u-teo", "the pseudonym where the name was");
    assert_eq!(teo["playback_hours"], 1.0);
    assert!(
        !files_contain(&data, NAME),
        "the erased name is still on disk"
    );
}

#[test]
fn report_arguments_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ok, _, err) = veil(
        &["audit", "report", "--from", "yesterday", "--to", "now"],
        &data,
    );
    assert!(!ok);
    assert!(err.contains("--from must be an RFC 3339 time"), "{err}");
    let (ok, _, err) = veil(
        &[
            "audit",
            "report",
            "--from",
            "2026-11-23T00:00:00Z",
            "--to",
            "2026-11-24T00:00:00Z",
        ],
        &data,
    );
    assert!(!ok);
    assert!(err.contains("no veil.db"), "{err}");
    assert!(!data.exists(), "a missing data directory is not created");
    let (ok, _, err) = veil(&["admin", "erase-user", "someone"], &data);
    assert!(!ok);
    assert!(err.contains("no veil.db"), "{err}");
}
