//! `veil admin …` on a data directory: accounts, roles and the usage policy,
//! each change recorded (actor `cli`) and the record still verifying.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use veil_base::{SimulatedClock, Time90k};

fn veil(data: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn accounts_and_roles_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    drop(veil_store::Store::open_dir(&data, Arc::new(SimulatedClock::new(Time90k(0)))).unwrap());

    let (ok, text) = veil(
        &data,
        &["admin", "add-user", "maria.lopez", "--roles", "operator"],
    );
    assert!(ok, "{text}");
    let password = text
        .split("password: ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .unwrap()
        .to_owned();
    assert_eq!(password.len(), 20);
    let (ok, text) = veil(
        &data,
        &["admin", "add-user", "maria.lopez", "--roles", "operator"],
    );
    assert!(!ok && text.contains("exists"), "{text}");
    let (ok, text) = veil(
        &data,
        &["admin", "add-user", "guard2", "--roles", "nonexistent"],
    );
    assert!(
        !ok && text.contains("no role is named \"nonexistent\""),
        "{text}"
    );
    let (ok, text) = veil(
        &data,
        &["admin", "add-user", "guard2", "--roles", "operator"],
    );
    assert!(ok && text.contains("generic"), "{text}");

    let (ok, text) = veil(&data, &["admin", "users"]);
    assert!(ok, "{text}");
    let maria = text.lines().find(|l| l.contains("maria.lopez")).unwrap();
    assert!(
        maria.contains("operator") && maria.contains("must change password"),
        "{maria}"
    );

    // A role from a file, then given to Maria; disabled and enabled again.
    let role = dir.path().join("role.json");
    std::fs::write(
        &role,
        r#"{"grants": [{"permission": "live.view", "scope": {"kind": "cameras", "ids": [1]}}],
            "playback_window_hours": 24}"#,
    )
    .unwrap();
    let (ok, text) = veil(
        &data,
        &[
            "admin",
            "put-role",
            "door",
            "--file",
            role.to_str().unwrap(),
        ],
    );
    assert!(ok && text.contains("created"), "{text}");
    std::fs::write(
        &role,
        r#"{"grants": [{"permission": "fly", "scope": {"kind": "all"}}]}"#,
    )
    .unwrap();
    let (ok, text) = veil(
        &data,
        &[
            "admin",
            "put-role",
            "door",
            "--file",
            role.to_str().unwrap(),
        ],
    );
    assert!(!ok && text.contains("unknown permission \"fly\""), "{text}");
    let (ok, text) = veil(
        &data,
        &[
            "admin",
            "set-roles",
            "maria.lopez",
            "--roles",
            "operator,door",
        ],
    );
    assert!(ok, "{text}");
    let (ok, _) = veil(&data, &["admin", "disable", "maria.lopez"]);
    assert!(ok);
    let (_, text) = veil(&data, &["admin", "users"]);
    assert!(
        text.lines()
            .any(|l| l.contains("maria.lopez") && l.contains("disabled")),
        "{text}"
    );
    let (ok, _) = veil(&data, &["admin", "enable", "maria.lopez"]);
    assert!(ok);
    let (ok, text) = veil(&data, &["admin", "roles"]);
    assert!(
        ok && text.contains("\"door\"") && text.contains("\"playback_window_hours\": 24"),
        "{text}"
    );

    let policy = dir.path().join("policy.txt");
    std::fs::write(
        &policy,
        "Cameras protect people and property; footage is never shared.",
    )
    .unwrap();
    let (ok, text) = veil(
        &data,
        &[
            "admin",
            "publish-policy",
            "--file",
            policy.to_str().unwrap(),
        ],
    );
    assert!(ok && text.contains("version 1"), "{text}");

    // Every change is in the record, by the CLI, and the chain verifies.
    let db = veil_store::Db::open_read_only(&data.join("veil.db")).unwrap();
    let actions: Vec<String> = db
        .audit_entries(0, 100)
        .unwrap()
        .into_iter()
        .filter(|e| e.actor == "cli")
        .map(|e| e.action)
        .collect();
    for want in [
        "user.change",
        "role.change",
        "permission.change",
        "policy.publish",
    ] {
        assert!(
            actions.iter().any(|a| a == want),
            "{want} not in {actions:?}"
        );
    }
    let (ok, text) = veil(&data, &["audit", "verify"]);
    assert!(ok, "{text}");
}

#[test]
fn admin_commands_explain_a_missing_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, text) = veil(&dir.path().join("none"), &["admin", "users"]);
    assert!(!ok && text.contains("has no database"), "{text}");
}
