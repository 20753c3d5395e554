//! The register of processors and their maintenance accounts through the
//! API: who may read and write the register, bad entries refused naming
//! the field (and recording nothing), removal keeping the entry and
//! disabling the accounts; accounts made only with a second person's
//! approval, consumed, working until their time limit and then refused at
//! sign-in and at the next request of their sessions, extended with a
//! fresh approval.

mod common;

use reqwest::StatusCode;
use serde_json::{json, Value};
use veil_base::TIME_UNITS_PER_SEC;

use common::*;

fn acme() -> Value {
    json!({
        "name": "Acme Security Lda",
        "kind": "maintenance",
        "agreement_date": "2026-01-15",
        "scope": "Repairs of cameras and the recorder on site",
        "country": "PT",
    })
}

fn count(s: &Server, action: &str) -> usize {
    audit_entries(s)
        .iter()
        .filter(|e| e.action == action)
        .count()
}

async fn create(c: &reqwest::Client, s: &Server, csrf: &str, body: Value) -> reqwest::Response {
    post_json(c, csrf, format!("{}/api/v1/processors", s.base), body).await
}

/// Alice (administrator) and Fatima (DPO), signed in.
async fn people(s: &Server) -> (reqwest::Client, String, reqwest::Client, String) {
    let (admin, csrf) = login(s).await;
    let (dpo, dpo_csrf) = new_user(s, &admin, &csrf, "fatima.dpo", &["dpo"]).await;
    (admin, csrf, dpo, dpo_csrf)
}

#[tokio::test]
async fn the_dpo_keeps_the_register_and_bad_entries_are_refused_naming_the_field() {
    let s = start().await;
    let (admin, csrf, dpo, dpo_csrf) = people(&s).await;

    // Writing needs dpo.documents: the administrator may only read.
    let (status, _) = error_code(create(&admin, &s, &csrf, acme()).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (auditor, _) = login_as(&s, "ines.audit").await;
    assert_eq!(
        status_of(&auditor, &s, "/api/v1/processors").await,
        StatusCode::FORBIDDEN
    );

    let with = |k: &str, v: Value| {
        let mut b = acme();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("kind", json!("friend")), "kind"),
        (
            with("agreement_date", json!("15/01/2026")),
            "agreement_date",
        ),
        (with("country", json!("XX")), "country"),
        (with("country", json!("US")), "transfer_basis"),
        (with("name", json!("")), "name"),
        (with("scope", json!("")), "scope"),
        (with("extra", json!(1)), "extra"),
    ] {
        let r = create(&dpo, &s, &dpo_csrf, body).await;
        let (status, _, message) = refusal(r).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}");
        assert!(message.contains(field), "{field}: {message}");
    }
    assert_eq!(count(&s, "processor.create"), 0);

    let r = create(&dpo, &s, &dpo_csrf, acme()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let p: Value = r.json().await.unwrap();
    let id = p["id"].as_i64().unwrap();
    assert_eq!(p["kind"], "maintenance");
    assert_eq!(p["removed_at"], Value::Null);
    assert_eq!(p["accounts"], json!([]));
    assert!(p["created_at"].as_str().unwrap().ends_with('Z'));
    let cloud = with("country", json!("US"));
    let mut cloud = cloud;
    cloud["kind"] = json!("cloud_storage");
    cloud["transfer_basis"] = json!("Standard contractual clauses of 2021");
    assert_eq!(
        create(&dpo, &s, &dpo_csrf, cloud).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(count(&s, "processor.create"), 2);

    // The administrator reads it.
    let list: Value = get_json(&admin, &s, "/api/v1/processors").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);

    let url = format!("{}/api/v1/processors/{id}", s.base);
    let r = put_json(
        &dpo,
        &dpo_csrf,
        url.clone(),
        with("scope", json!("Repairs only")),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["scope"], "Repairs only");
    let r = put_json(&dpo, &dpo_csrf, url.clone(), with("kind", json!("x"))).await;
    assert_eq!(error_code(r).await.0, StatusCode::BAD_REQUEST);
    let r = put_json(
        &dpo,
        &dpo_csrf,
        format!("{}/api/v1/processors/999", s.base),
        acme(),
    )
    .await;
    assert_eq!(error_code(r).await.0, StatusCode::NOT_FOUND);
    assert_eq!(count(&s, "processor.update"), 1);

    let r = send(&dpo, &dpo_csrf, reqwest::Method::DELETE, url.clone(), None).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(count(&s, "processor.remove"), 1);
    let r = send(&dpo, &dpo_csrf, reqwest::Method::DELETE, url.clone(), None).await;
    assert_eq!(error_code(r).await.0, StatusCode::CONFLICT);
    let r = put_json(&dpo, &dpo_csrf, url, acme()).await;
    assert_eq!(error_code(r).await.0, StatusCode::CONFLICT);
    let list: Value = get_json(&dpo, &s, "/api/v1/processors").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let all: Value = get_json(&dpo, &s, "/api/v1/processors?removed=true").await;
    let removed = &all["items"].as_array().unwrap()[0];
    assert_eq!(
        (removed["id"].as_i64(), removed["scope"].as_str()),
        (Some(id), Some("Repairs only"))
    );
    assert!(removed["removed_at"].is_string());
}

#[tokio::test]
async fn maintenance_accounts_need_an_approval_and_stop_at_their_time_limit() {
    let s = start().await;
    let (admin, csrf, dpo, dpo_csrf) = people(&s).await;
    let p: Value = create(&dpo, &s, &dpo_csrf, acme())
        .await
        .json()
        .await
        .unwrap();
    let id = p["id"].as_i64().unwrap();
    let accounts = format!("{}/api/v1/processors/{id}/accounts", s.base);
    let body = json!({"login": "joao.tech", "roles": ["operator"], "days": 1});

    // No approval: refused, nothing made.
    let r = post_json(&admin, &csrf, accounts.clone(), body.clone()).await;
    let (status, _, message) = refusal(r).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{message}");
    assert!(message.contains(&format!("processor:{id}")), "{message}");
    // The DPO cannot make accounts (users.admin).
    let r = post_json(&dpo, &dpo_csrf, accounts.clone(), body.clone()).await;
    assert_eq!(error_code(r).await.0, StatusCode::FORBIDDEN);
    for days in [0, 31] {
        let mut b = body.clone();
        b["days"] = json!(days);
        let (status, _, message) =
            refusal(post_json(&admin, &csrf, accounts.clone(), b).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(message.contains("days"), "{message}");
    }
    // A maintenance account may not make accounts (a permanent one for
    // its holder) nor approve requests.
    for role in ["administrator", "dpo"] {
        let mut b = body.clone();
        b["roles"] = json!(["operator", role]);
        let (status, _, message) =
            refusal(post_json(&admin, &csrf, accounts.clone(), b).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{role}");
        assert!(message.starts_with("roles:"), "{message}");
    }
    let r = post_json(
        &admin,
        &csrf,
        format!("{}/api/v1/processors/77/accounts", s.base),
        body.clone(),
    )
    .await;
    assert_eq!(error_code(r).await.0, StatusCode::NOT_FOUND);
    assert_eq!(count(&s, "processor.account"), 0);

    // Approved by the DPO (users.admin on processor:ID is always four-eyes).
    let resource = format!("processor:{id}");
    approved(
        &s,
        &admin,
        &csrf,
        "users.admin",
        &resource,
        "Camera 3 repair visit",
    )
    .await;
    let r = post_json(&admin, &csrf, accounts.clone(), body.clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let made: Value = r.json().await.unwrap();
    let first = made["password"].as_str().unwrap().to_owned();
    let pseudonym = made["id"].as_str().unwrap().to_owned();
    assert_eq!(made["processor_id"], id);
    assert_eq!(made["must_change_password"], true);
    assert_eq!(count(&s, "processor.account"), 1);
    // The approval was used: a second account needs another.
    let mut other = body.clone();
    other["login"] = json!("rui.tech");
    let r = post_json(&admin, &csrf, accounts.clone(), other).await;
    assert_eq!(error_code(r).await.0, StatusCode::FORBIDDEN);

    let u = user_entry(&s, &admin, "id", &pseudonym).await;
    assert_eq!(u["processor_id"], id);
    assert_eq!(u["expires_at"], made["expires_at"]);
    let alice = user_entry(&s, &admin, "name", "alice.martin").await;
    assert_eq!(
        (alice["processor_id"].clone(), alice["expires_at"].clone()),
        (Value::Null, Value::Null)
    );
    let list: Value = get_json(&dpo, &s, "/api/v1/processors").await;
    assert_eq!(list["items"][0]["accounts"][0]["id"], pseudonym.as_str());
    assert_eq!(list["items"][0]["accounts"][0]["expired"], false);

    // Shortly before the limit it signs in; its session works until the
    // limit, while another account's session of the same age goes on.
    s.clock
        .advance(23 * 3600 * TIME_UNITS_PER_SEC + 45 * 60 * TIME_UNITS_PER_SEC);
    let tech = client();
    let r = post_session(&tech, &s, "joao.tech", &first).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        status_of(&tech, &s, "/api/v1/session").await,
        StatusCode::OK
    );
    let (admin, csrf) = login(&s).await;
    let (dpo, dpo_csrf) = login_as(&s, "fatima.dpo").await;
    s.clock.advance(16 * 60 * TIME_UNITS_PER_SEC);
    assert_eq!(
        status_of(&tech, &s, "/api/v1/session").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status_of(&admin, &s, "/api/v1/session").await,
        StatusCode::OK
    );
    // Past the limit the right password is refused, saying why, and the
    // refusal is recorded.
    let denied = |s: &Server| {
        audit_entries(s)
            .iter()
            .filter(|e| e.action == "login" && e.outcome == "denied" && e.detail == "expired")
            .count()
    };
    assert_eq!(denied(&s), 0);
    let (status, code) = error_code(post_session(&client(), &s, "joao.tech", &first).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "account_expired")
    );
    assert_eq!(denied(&s), 1);
    // A wrong password learns nothing about the limit.
    let (_, code) = error_code(post_session(&client(), &s, "joao.tech", "wrong one").await).await;
    assert_eq!(code, "bad_credentials");
    let list: Value = get_json(&dpo, &s, "/api/v1/processors").await;
    assert_eq!(list["items"][0]["accounts"][0]["expired"], true);

    // Extended with a fresh approval: it signs in again.
    let extend = format!("{accounts}/{pseudonym}");
    let r = put_json(&admin, &csrf, extend.clone(), json!({"days": 2})).await;
    assert_eq!(error_code(r).await.0, StatusCode::FORBIDDEN);
    let r = put_json(&admin, &csrf, extend.clone(), json!({"days": 40})).await;
    assert_eq!(error_code(r).await.0, StatusCode::BAD_REQUEST);
    approved(
        &s,
        &admin,
        &csrf,
        "users.admin",
        &resource,
        "The repair takes longer",
    )
    .await;
    let r = put_json(&admin, &csrf, extend.clone(), json!({"days": 2})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_ne!(v["expires_at"], made["expires_at"]);
    assert_eq!(count(&s, "processor.account"), 2);
    let tech = client();
    assert_eq!(
        post_session(&tech, &s, "joao.tech", &first).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        status_of(&tech, &s, "/api/v1/session").await,
        StatusCode::OK
    );

    // Removing the processor disables its account at once.
    let r = send(
        &dpo,
        &dpo_csrf,
        reqwest::Method::DELETE,
        format!("{}/api/v1/processors/{id}", s.base),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        status_of(&tech, &s, "/api/v1/session").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        user_entry(&s, &admin, "id", &pseudonym).await["disabled"],
        true
    );
    // No new account for a removed processor.
    let mut third = body.clone();
    third["login"] = json!("ana.tech");
    let r = post_json(&admin, &csrf, accounts, third).await;
    assert_eq!(error_code(r).await.0, StatusCode::CONFLICT);
}

#[tokio::test]
async fn camera_passwords_are_checked_when_set_and_never_stored_in_clear() {
    let s = start().await;
    let (admin, csrf) = login(&s).await;
    let camera = |name: &str, user: &str, password: &str| {
        json!({"name": name, "url": "rtsp://192.0.2.1:554/stream", "username": user,
               "password": password, "recording_mode": "live_only"})
    };
    const SHARED: &str = "Zq8-unusual-shared-secret";
    let mut ids = Vec::new();
    for (name, user, password) in [
        ("Gate", "admin", "12345"),
        ("Yard", "viewer", SHARED),
        ("Dock", "viewer", SHARED),
        ("Hall", "viewer", "Zq8-another-own-secret"),
    ] {
        let r = post_json(
            &admin,
            &csrf,
            format!("{}/api/v1/cameras", s.base),
            camera(name, user, password),
        )
        .await;
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "{}",
            r.text().await.unwrap()
        );
        let v: Value = r.json().await.unwrap();
        ids.push(veil_base::CameraId(v["id"].as_i64().unwrap()));
    }
    let checks = veil_web::camera_passwords::credential_checks(&s.store.db).unwrap();
    let flags = |i: usize| {
        let c = &checks[&ids[i]];
        (c.set, c.factory_default, c.reused)
    };
    assert_eq!(flags(0), (true, true, false));
    assert_eq!(flags(1), (true, false, true));
    assert_eq!(flags(2), (true, false, true));
    assert_eq!(flags(3), (true, false, false));

    // A change of password ends the reuse; clearing the credentials too.
    let r = put_json(
        &admin,
        &csrf,
        format!("{}/api/v1/cameras/{}", s.base, ids[2].0),
        camera("Dock", "", ""),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let checks = veil_web::camera_passwords::credential_checks(&s.store.db).unwrap();
    assert_eq!(
        (checks[&ids[2]].set, checks[&ids[1]].reused),
        (false, false)
    );

    // The database never holds a password in clear.
    let bytes = stored_bytes(&s);
    assert!(!bytes.is_empty());
    for secret in [SHARED, "Zq8-another-own-secret"] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} in the database"
        );
    }
}
