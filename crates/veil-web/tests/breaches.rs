//! The breach register through the API: each signal raised by a scripted
//! scenario, with its evidence pointing at the entries that show it, and
//! none by ten minutes of ordinary use; a breach's life (promote, fill in,
//! decide, notify, the notification text) with every step in the access
//! record; the 72-hour clock on every page of the desk; and bad input
//! refused naming the field.

mod common;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use veil_audit::{Action as Audited, Event};
use veil_base::{Clock, Time90k, TIME_UNITS_PER_SEC};

use common::*;

const HOUR: i64 = 3600 * TIME_UNITS_PER_SEC;
const REASON: &str = "Reviewed with the shift manager: a known maintenance task.";

async fn post(
    c: &reqwest::Client,
    s: &Server,
    csrf: &str,
    path: &str,
    body: Value,
) -> reqwest::Response {
    post_json(c, csrf, format!("{}{path}", s.base), body).await
}

async fn put(
    c: &reqwest::Client,
    s: &Server,
    csrf: &str,
    path: &str,
    body: Value,
) -> reqwest::Response {
    put_json(c, csrf, format!("{}{path}", s.base), body).await
}

/// The server, Alice (administrator) and Fatima (DPO).
async fn desk() -> (Server, (reqwest::Client, String), (reqwest::Client, String)) {
    let s = start().await;
    let admin = login(&s).await;
    let dpo = new_user(&s, &admin.0, &admin.1, "fatima.dpo", &["dpo"]).await;
    (s, admin, dpo)
}

async fn candidates(s: &Server, dpo: &reqwest::Client) -> Vec<Value> {
    let r = get(dpo, s, "/api/v1/breach-candidates").await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    v["items"].as_array().unwrap().clone()
}

fn of_signal<'a>(c: &'a [Value], signal: &str) -> Vec<&'a Value> {
    c.iter().filter(|c| c["signal"] == signal).collect()
}

/// The sequence numbers a candidate's evidence covers.
fn evidence(c: &Value) -> Vec<i64> {
    c["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["first"].as_i64().unwrap()..=e["last"].as_i64().unwrap())
        .collect()
}

fn seqs(s: &Server, keep: impl Fn(&veil_store::db::AuditRow) -> bool) -> Vec<i64> {
    audit_entries(s)
        .into_iter()
        .filter(|e| keep(e))
        .map(|e| e.seq)
        .collect()
}

/// Waits (a little) until the access record holds an entry `keep` accepts:
/// refusals are recorded beside the answer, not before it.
async fn wait_for(s: &Server, keep: impl Fn(&veil_store::db::AuditRow) -> bool) {
    for _ in 0..100 {
        if audit_entries(s).iter().any(&keep) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the expected access-record entry never came");
}

#[tokio::test]
async fn failed_login_bursts_raise_per_account_and_installation_wide() {
    let (s, _, (dpo, _)) = desk().await;
    let alice = user_entry(&s, &login(&s).await.0, "name", "alice.martin").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // 9 wrong passwords: below the account's threshold of 10.
    let c = client();
    for _ in 0..9 {
        post_session(&c, &s, "alice.martin", "wrong password").await;
    }
    assert!(candidates(&s, &dpo).await.is_empty());
    // 3 more (refused as wrong, or locked out) and 10 unknown names, within
    // a minute: 22 failures in all.
    for _ in 0..3 {
        post_session(&c, &s, "alice.martin", "wrong password").await;
        s.clock.advance(TIME_UNITS_PER_SEC);
    }
    for i in 0..10 {
        post_session(&c, &s, &format!("nobody{i}"), "guess").await;
        s.clock.advance(TIME_UNITS_PER_SEC);
    }
    let got = candidates(&s, &dpo).await;
    let account = of_signal(&got, "login_burst_account");
    assert_eq!(account.len(), 1, "{got:?}");
    let failed = |e: &veil_store::db::AuditRow| {
        (e.action == "login" && e.outcome == "denied") || e.action == "login.locked"
    };
    let alices = seqs(&s, |e| failed(e) && e.actor == alice);
    assert_eq!(alices.len(), 12);
    assert_eq!(evidence(account[0]), alices);
    let summary = account[0]["summary"].as_str().unwrap();
    assert!(summary.contains(&alice), "{summary}");
    assert!(!summary.contains("alice.martin"), "no names: {summary}");
    let wide = of_signal(&got, "login_burst_installation");
    assert_eq!(wide.len(), 1, "{got:?}");
    assert_eq!(evidence(wide[0]), seqs(&s, failed));
    // Raising was recorded, each once; reading again raises nothing new.
    let raised = seqs(&s, |e| {
        e.action == "breach.candidate" && e.actor == "system"
    });
    assert_eq!(raised.len(), 2);
    assert_eq!(candidates(&s, &dpo).await.len(), 2);
    assert_eq!(
        seqs(&s, |e| e.action == "breach.candidate").len(),
        2,
        "a candidate is raised once"
    );
}

#[tokio::test]
async fn refusals_raise_outside_hours_held_video_and_disabled_accounts() {
    let (s, (admin, csrf), (dpo, dpo_csrf)) = desk().await;
    // A Monday-only role used on a Wednesday.
    let r = put(
        &admin,
        &s,
        &csrf,
        "/api/v1/roles/weekdays",
        json!({"grants": [{"permission": "live.view", "scope": {"kind": "all"}}],
               "time_profile": {"time_zone": "Europe/Paris", "intervals": [
                   {"day": "mon", "start": "00:00", "end": "24:00"}]}}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let (wk, _) = new_user(&s, &admin, &csrf, "dan.week", &["weekdays"]).await;
    let dan = user_id(&s, &admin, "dan.week").await;
    assert_eq!(
        status_of(&wk, &s, "/api/v1/cameras").await,
        StatusCode::FORBIDDEN
    );
    // Video under a restriction hold, asked for by the administrator.
    let r = post(
        &dpo,
        &s,
        &dpo_csrf,
        "/api/v1/holds",
        json!({"cameras": [s.camera.0], "start": t(0.0), "end": t(6.0),
               "reason": "Data subject objected: restriction pending"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    let path = format!(
        "/api/v1/cameras/{}/video.mp4?start={}&end={}",
        s.camera.0,
        t(0.0),
        t(4.0)
    );
    assert_eq!(status_of(&admin, &s, &path).await, StatusCode::FORBIDDEN);
    // A disabled account's API token.
    create_role(&s, &admin, &csrf, "viewer", &[("live.view", None)]).await;
    let (bob, bob_csrf) = new_user(&s, &admin, &csrf, "bob.view", &["viewer"]).await;
    let token = create_token(&s, &bob, &bob_csrf, "script", &["viewer"]).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let bob_id = user_id(&s, &admin, "bob.view").await;
    let r = put(
        &admin,
        &s,
        &csrf,
        &format!("/api/v1/users/{bob_id}"),
        json!({"disabled": true}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = get_with_token(&client(), &s, "/api/v1/cameras", &token).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // A disabled account's login, with the right password.
    post_session(&client(), &s, "bob.view", PASSWORD).await;

    let denied = |reason: &'static str| {
        move |e: &veil_store::db::AuditRow| {
            e.action == "access.denied" && e.detail.contains(&format!("reason={reason}"))
        }
    };
    wait_for(&s, denied("outside_hours")).await;
    wait_for(&s, denied("held")).await;
    wait_for(&s, denied("account_disabled")).await;
    // The refused token ends at its first use: used again, it is refused
    // without another entry (a leftover token cannot flood the record).
    let r = get_with_token(&client(), &s, "/api/v1/cameras", &token).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let by_token = |e: &veil_store::db::AuditRow| {
        e.action == "access.denied" && e.detail.contains("credential=token")
    };
    assert_eq!(seqs(&s, by_token).len(), 1);
    let got = candidates(&s, &dpo).await;

    let hours = of_signal(&got, "outside_hours");
    assert_eq!(hours.len(), 1, "{got:?}");
    assert_eq!(evidence(hours[0]), seqs(&s, denied("outside_hours")));
    assert!(audit_entries(&s)
        .iter()
        .filter(|e| denied("outside_hours")(e))
        .all(|e| e.actor == dan && e.detail.contains("permission=")));

    let held = of_signal(&got, "held_video");
    assert_eq!(held.len(), 1, "{got:?}");
    let held_seqs = seqs(&s, denied("held"));
    assert_eq!(evidence(held[0]), held_seqs);
    assert_eq!(
        audit_entries(&s)
            .iter()
            .find(|e| e.seq == held_seqs[0])
            .unwrap()
            .resource,
        format!("camera:{}", s.camera.0)
    );

    let disabled = of_signal(&got, "disabled_account");
    assert_eq!(disabled.len(), 1, "{got:?}");
    let bobs = seqs(&s, |e| {
        e.actor == bob_id
            && (denied("account_disabled")(e)
                || (e.action == "login" && e.outcome == "denied" && e.detail == "disabled"))
    });
    assert_eq!(bobs.len(), 2, "the token and the login");
    assert_eq!(evidence(disabled[0]), bobs);
    // Evidence links open the access record on exactly those entries.
    let link = disabled[0]["evidence"][0]["href"].as_str().unwrap();
    assert!(link.starts_with("/audit?before="), "{link}");
    assert_eq!(got.len(), 3, "nothing else: {got:?}");
}

/// Appends an entry as the handler writes it (the scripted part of the
/// mass scenarios: hours of recordings the test store does not hold).
fn append(s: &Server, actor: &str, action: Audited, resource: &str, detail: String) -> i64 {
    s.audit
        .append(
            Event::new(actor, action, resource)
                .detail(detail)
                .justification("case 2026/7"),
        )
        .unwrap()
}

#[tokio::test]
async fn mass_playback_and_export_by_one_account() {
    let (s, _, (dpo, _)) = desk().await;
    let now = s.clock.now();
    let mut played = Vec::new();
    // Four cameras, three hours each, in twenty minutes: 12 camera-hours
    // (each asked for twice, as a player's range requests do).
    for cam in 1..=4 {
        let a = Time90k(now.0 - 48 * HOUR);
        let b = Time90k(a.0 + 3 * HOUR);
        for _ in 0..2 {
            played.push(append(
                &s,
                "u-mass",
                Audited::Playback,
                &format!("camera:{cam}"),
                format!(
                    "rendition=main start={} end={} requested_start={} requested_end={}",
                    a.to_rfc3339(),
                    b.to_rfc3339(),
                    a.to_rfc3339(),
                    b.to_rfc3339()
                ),
            ));
        }
        s.clock.advance(5 * 60 * TIME_UNITS_PER_SEC);
    }
    // Someone else's modest playback is no part of it.
    append(
        &s,
        "u-other",
        Audited::Playback,
        "camera:1",
        format!(
            "rendition=main start={} end={}",
            Time90k(now.0 - HOUR).to_rfc3339(),
            Time90k(now.0 - HOUR + 600 * TIME_UNITS_PER_SEC).to_rfc3339()
        ),
    );
    let mut exports = Vec::new();
    for _ in 0..5 {
        exports.push(append(
            &s,
            "u-exp",
            Audited::ExportRequest,
            "export",
            "cameras=1".into(),
        ));
        s.clock.advance(60 * TIME_UNITS_PER_SEC);
    }
    let got = candidates(&s, &dpo).await;
    let p = of_signal(&got, "mass_playback");
    assert_eq!(p.len(), 1, "{got:?}");
    assert_eq!(evidence(p[0]), played);
    assert!(p[0]["summary"].as_str().unwrap().contains("u-mass"));
    let e = of_signal(&got, "mass_export");
    assert_eq!(e.len(), 1, "{got:?}");
    assert_eq!(evidence(e[0]), exports);
    assert_eq!(got.len(), 2, "{got:?}");
}

#[tokio::test]
async fn a_tampered_record_and_a_readable_data_directory_raise() {
    use std::os::unix::fs::PermissionsExt;
    let (s, (admin, _), (dpo, _)) = desk().await;
    get(&admin, &s, "/api/v1/cameras").await;
    assert!(candidates(&s, &dpo).await.is_empty());
    let victim = audit_entries(&s)[3].seq;
    let drop_trigger = if s.store.db.is_postgres() {
        "DROP TRIGGER audit_no_update ON audit"
    } else {
        "DROP TRIGGER audit_no_update"
    };
    s.store.db.tamper_for_tests(drop_trigger, &[]).unwrap();
    s.store
        .db
        .tamper_for_tests(
            "UPDATE audit SET outcome = 'denied' WHERE seq = ?1",
            &[veil_store::db::RawValue::Integer(victim)],
        )
        .unwrap();
    let data = s.dir.path().join("data");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o750)).unwrap();
    // A read verifies the whole record at most every ten minutes: the one
    // just now did, this one only scans (and finds the permissions).
    let got = candidates(&s, &dpo).await;
    assert!(of_signal(&got, "audit_verify").is_empty(), "{got:?}");
    s.clock.advance(10 * 60 * TIME_UNITS_PER_SEC);
    let got = candidates(&s, &dpo).await;
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let v = of_signal(&got, "audit_verify");
    assert_eq!(v.len(), 1, "{got:?}");
    assert_eq!(evidence(v[0]), vec![victim]);
    let p = of_signal(&got, "permissions");
    assert_eq!(p.len(), 1, "{got:?}");
    assert!(
        p[0]["summary"]
            .as_str()
            .unwrap()
            .contains("data directory has permissions 750"),
        "{got:?}"
    );
    assert!(p[0]["evidence"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn ten_minutes_of_ordinary_use_raise_nothing() {
    let (s, (admin, csrf), (dpo, _)) = desk().await;
    let (op, _) = new_user(&s, &admin, &csrf, "carla.ops", &["operator"]).await;
    let step = || s.clock.advance(30 * TIME_UNITS_PER_SEC);
    for minute in 0..10 {
        // Operators sign in (a typo now and then) and look at the cameras.
        if minute % 4 == 1 {
            post_session(&client(), &s, "carla.ops", "a long test pasword 42").await;
        }
        let (op2, _) = login_as(&s, "carla.ops").await;
        assert_eq!(status_of(&op2, &s, "/api/v1/cameras").await, StatusCode::OK);
        // Some minutes of playback (the store holds 12 s).
        for (a, b) in [(0.0, 4.0), (4.0, 12.0), (0.0, 12.0)] {
            let path = format!(
                "/api/v1/cameras/{}/video.mp4?start={}&end={}",
                s.camera.0,
                t(a),
                t(b)
            );
            assert_eq!(status_of(&op, &s, &path).await, StatusCode::OK);
        }
        step();
        // The DPO reads the desk.
        for page in ["/dpo", "/dpo/breaches", "/api/v1/dpo", "/api/v1/breaches"] {
            assert_eq!(status_of(&dpo, &s, page).await, StatusCode::OK, "{page}");
        }
        step();
    }
    // One export request, as recorded.
    s.audit
        .append(
            Event::new("u-test", Audited::ExportRequest, "export")
                .detail("cameras=1")
                .justification("police request, case 2026/9"),
        )
        .unwrap();
    let got = candidates(&s, &dpo).await;
    assert!(got.is_empty(), "{got:?}");
    assert!(seqs(&s, |e| e.action == "breach.candidate").is_empty());
}

#[tokio::test]
async fn a_breach_from_promotion_to_notification_with_every_step_recorded() {
    let (s, (admin, csrf), (dpo, dpo_csrf)) = desk().await;
    let r = put(
        &dpo,
        &s,
        &dpo_csrf,
        "/api/v1/organisation",
        json!({"controller": {"name": "Mercearia <Lobo>"},
               "dpo": {"name": "Data Protection Office", "email": "dpo@lobo.example"}}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "{:?}", r.text().await);
    let (op, op_csrf) = new_user(&s, &admin, &csrf, "carla.ops", &["operator"]).await;
    // A burst of failed logins raises a candidate.
    let c = client();
    for i in 0..20 {
        post_session(&c, &s, &format!("nobody{i}"), "guess").await;
    }
    let got = candidates(&s, &dpo).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let cand = got[0]["id"].as_i64().unwrap();
    let raised_at = got[0]["raised_at"].as_str().unwrap().to_owned();

    // Only the DPO (dpo.documents).
    assert_eq!(
        status_of(&op, &s, "/api/v1/breach-candidates").await,
        StatusCode::FORBIDDEN
    );
    let r = post(
        &op,
        &s,
        &op_csrf,
        &format!("/api/v1/breach-candidates/{cand}/promote"),
        json!({}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    s.clock.advance(2 * HOUR);
    // (Sessions idle out meanwhile: sign in again.)
    let (dpo, dpo_csrf) = login_as(&s, "fatima.dpo").await;
    let (admin, _) = login(&s).await;
    let r = post(
        &dpo,
        &s,
        &dpo_csrf,
        &format!("/api/v1/breach-candidates/{cand}/promote"),
        json!({}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let b: Value = r.json().await.unwrap();
    let id = b["id"].as_i64().unwrap();
    assert_eq!(b["detected_at"], raised_at, "detected when raised");
    assert_eq!(b["hours_left"], 70);
    assert_eq!(b["late"], false);
    assert_eq!(b["open"], true);
    assert_eq!(b["candidates"], json!([cand]));
    let r = post(
        &dpo,
        &s,
        &dpo_csrf,
        &format!("/api/v1/breach-candidates/{cand}/dismiss"),
        json!({"reason": REASON}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "promoted already");

    // The clock on every page of the desk.
    for page in [
        "/dpo",
        "/dpo/compliance",
        "/dpo/breaches",
        "/dpo/processors",
    ] {
        let html = get(&dpo, &s, page).await.text().await.unwrap();
        assert!(
            html.contains(&format!("data-breach=\"{id}\" data-hours-left=\"70\"")),
            "{page}"
        );
    }
    let html = get(&admin, &s, "/").await.text().await.unwrap();
    assert!(!html.contains("breach-clock"), "only on the desk");

    // Fill in the assessment.
    let detected = b["detected_at"].as_str().unwrap().to_owned();
    let body = json!({
        "detected_at": detected,
        "description": "Password guessing against the login from one address.",
        "data_affected": "None known: no login succeeded.",
        "cameras": [s.camera.0],
        "hours_affected": 0,
        "categories": ["employees"],
        "approx_people": 12,
        "approx_records": 0,
        "consequences": "Unlikely: no account was entered.",
        "measures_taken": "The address was blocked at the firewall.",
        "measures_proposed": "Second factor for every role.",
    });
    let r = put(&dpo, &s, &dpo_csrf, &format!("/api/v1/breaches/{id}"), body).await;
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["approx_people"], 12);
    assert_eq!(b["categories"], json!(["employees"]));

    // Decide, then notify (not before deciding).
    let notified = format!("/api/v1/breaches/{id}/notified");
    let r = post(
        &dpo,
        &s,
        &dpo_csrf,
        &notified,
        json!({"about": "authority"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    for (about, notify) in [("authority", true), ("subjects", false)] {
        let r = post(
            &dpo,
            &s,
            &dpo_csrf,
            &format!("/api/v1/breaches/{id}/decision"),
            json!({"about": about, "notify": notify, "reason": "Risk assessed with the controller."}),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    s.clock.advance(HOUR);
    let (dpo, dpo_csrf) = login_as(&s, "fatima.dpo").await;
    let r = post(
        &dpo,
        &s,
        &dpo_csrf,
        &notified,
        json!({"about": "authority"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["late"], false);
    assert_eq!(b["open"], false);
    assert_eq!(b["authority"]["notify"], true);
    assert_eq!(b["subjects"]["notify"], false);
    assert!(b["authority"]["notified_at"].is_string());
    let html = get(&dpo, &s, "/dpo").await.text().await.unwrap();
    assert!(!html.contains("breach-clock"), "no open breach left");

    // The notification: Art. 33(3) items, escaped HTML under the
    // documents' policy.
    let r = get(&dpo, &s, &format!("/api/v1/breaches/{id}/notification")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let md = r.text().await.unwrap();
    for want in [
        "(a) Nature of the breach",
        "Password guessing against the login",
        "employees",
        "about 12",
        "(b) Data protection officer",
        "dpo@lobo.example",
        "(c) Likely consequences",
        "(d) Measures taken or proposed",
        "Second factor for every role.",
        "Door",
    ] {
        assert!(md.contains(want), "{want:?} missing:\n{md}");
    }
    let r = get(
        &dpo,
        &s,
        &format!("/api/v1/breaches/{id}/notification?format=html"),
    )
    .await;
    assert!(r
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("default-src 'none'"));
    let html = r.text().await.unwrap();
    assert!(html.contains("Mercearia &lt;Lobo&gt;"));
    assert!(!html.contains("<script"));

    // Every step recorded, naming ids and fields, never the texts.
    let steps: Vec<(String, String, String)> = audit_entries(&s)
        .into_iter()
        .filter(|e| e.action.starts_with("breach.") && e.action != "breach.candidate")
        .map(|e| (e.action, e.resource, e.detail))
        .collect();
    let want = [
        ("breach.promote", format!("breach_candidate:{cand}")),
        ("breach.update", format!("breach:{id}")),
        ("breach.decision", format!("breach:{id}")),
        ("breach.decision", format!("breach:{id}")),
        ("breach.notified", format!("breach:{id}")),
        ("breach.notification", format!("breach:{id}")),
        ("breach.notification", format!("breach:{id}")),
    ];
    assert_eq!(
        steps
            .iter()
            .map(|(a, r, _)| (a.as_str(), r.clone()))
            .collect::<Vec<_>>(),
        want.iter()
            .map(|(a, r)| (*a, r.clone()))
            .collect::<Vec<_>>()
    );
    assert!(steps[1].2.contains("description") && steps[1].2.contains("approx_people"));
    assert_eq!(steps[2].2, "about=authority notify=true");
    for (_, _, detail) in &steps {
        assert!(!detail.contains("Password guessing"), "{detail}");
    }
}

#[tokio::test]
async fn late_notification_needs_its_reasons_and_bad_input_names_the_field() {
    let (s, _, (dpo, csrf)) = desk().await;
    let created = |detected: String| json!({"detected_at": detected});
    // Bad input: 400 naming the field, nothing stored.
    for (body, field) in [
        (json!({"detected_at": "yesterday"}), "detected_at"),
        (created(t(1e6)), "detected_at"),
        (
            json!({"detected_at": t(0.0), "description": "x".repeat(4001)}),
            "description",
        ),
        (json!({"detected_at": t(0.0), "cameras": [99]}), "cameras"),
        (
            json!({"detected_at": t(0.0), "categories": [""]}),
            "categories",
        ),
        (
            json!({"detected_at": t(0.0), "approx_people": -1}),
            "approx_people",
        ),
        (json!({"detected_at": t(0.0), "colour": "red"}), "colour"),
    ] {
        let (status, _, message) =
            refusal(post(&dpo, &s, &csrf, "/api/v1/breaches", body.clone()).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(message.contains(field), "{field}: {message}");
    }
    let list: Value = get_json(&dpo, &s, "/api/v1/breaches").await;
    assert_eq!(list["items"], json!([]));
    assert!(seqs(&s, |e| e.action.starts_with("breach.")).is_empty());
    let (status, _, message) =
        refusal(get(&dpo, &s, "/api/v1/breach-candidates?status=closed").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("status"), "{message}");

    // A breach detected now, notified 80 hours later.
    let r = post(&dpo, &s, &csrf, "/api/v1/breaches", created(t(60.0))).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let path = |p: &str| format!("/api/v1/breaches/{id}{p}");
    for (body, field) in [
        (
            json!({"about": "press", "notify": true, "reason": REASON}),
            "about",
        ),
        (
            json!({"about": "authority", "notify": true, "reason": "short"}),
            "reason",
        ),
    ] {
        let (status, _, message) =
            refusal(post(&dpo, &s, &csrf, &path("/decision"), body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(message.starts_with(field), "{field}: {message}");
    }
    let r = post(
        &dpo,
        &s,
        &csrf,
        &path("/decision"),
        json!({"about": "authority", "notify": true, "reason": REASON}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    s.clock.advance(80 * HOUR);
    let (dpo, csrf) = login_as(&s, "fatima.dpo").await;
    let b: Value = get_json(&dpo, &s, &path("")).await;
    assert_eq!(b["late"], true);
    assert_eq!(b["hours_left"], -8);
    let html = get(&dpo, &s, "/dpo/breaches").await.text().await.unwrap();
    assert!(
        html.contains("8 hours past the deadline"),
        "late on the desk"
    );
    let (status, _, message) = refusal(
        post(
            &dpo,
            &s,
            &csrf,
            &path("/notified"),
            json!({"about": "authority"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.starts_with("late_reason"), "{message}");
    let r = post(
        &dpo,
        &s,
        &csrf,
        &path("/notified"),
        json!({"about": "authority", "late_reason": "The facts were established only on day four."}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["late"], true, "notified late stays late");
    assert_eq!(b["open"], false);
    let md = get(&dpo, &s, &path("/notification"))
        .await
        .text()
        .await
        .unwrap();
    assert!(md.contains("Reasons for the delay"), "{md}");
    assert!(md.contains("established only on day four"));
    assert_eq!(
        status_of(&dpo, &s, "/api/v1/breaches/999").await,
        StatusCode::NOT_FOUND
    );
}
