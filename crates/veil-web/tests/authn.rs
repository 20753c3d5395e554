//! Authentication over the API: the TOTP second factor and recovery codes,
//! lockout after failed logins, one's own sessions, and API tokens.

mod common;

use reqwest::StatusCode;
use serde_json::json;

use common::*;

async fn login_with(
    s: &Server,
    name: &str,
    extra: serde_json::Value,
) -> (StatusCode, serde_json::Value, reqwest::Client) {
    let c = client();
    let mut body = json!({"username": name, "password": PASSWORD});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = c
        .post(format!("{}/api/v1/session", s.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or_default(), c)
}

#[tokio::test]
async fn a_role_that_needs_a_second_factor_gets_one() {
    let s = start().await;
    investigator(&s);
    let (c, csrf) = login_as(&s, "gina.inv").await;
    let r = c
        .get(format!("{}/api/v1/cameras", s.base))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("second factor"),
        "{v}"
    );
    let (secret, codes) = enrol_totp(&s, &c, &csrf).await;
    assert_eq!(status_of(&c, &s, "/api/v1/cameras").await, StatusCode::OK);

    // From now on the password alone is not enough.
    let (status, v, _) = login_with(&s, "gina.inv", json!({})).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("second_factor_required"))
    );
    let (status, v, _) = login_with(&s, "gina.inv", json!({"code": "000000"})).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_second_factor"))
    );
    // The code used to confirm enrolment cannot be replayed; the next one works.
    let (status, _, _) = login_with(&s, "gina.inv", json!({"code": totp_now(&s, &secret)})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    s.clock.advance(30 * 90_000);
    let (status, _, c2) = login_with(&s, "gina.inv", json!({"code": totp_now(&s, &secret)})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(status_of(&c2, &s, "/api/v1/cameras").await, StatusCode::OK);
    // A recovery code works once.
    let (status, _, _) = login_with(&s, "gina.inv", json!({"recovery_code": codes[3]})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = login_with(&s, "gina.inv", json!({"recovery_code": codes[3]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A role that requires it cannot drop it.
    let r = c
        .delete(format!("{}/api/v1/session/totp", s.base))
        .header("x-csrf-token", &csrf)
        .json(&json!({"code": "123456"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The seed is stored sealed: not even its base32 text is in the database.
    let db = stored_bytes(&s);
    let b32 = secret.to_base32();
    assert!(!db.windows(b32.len()).any(|w| w == b32.as_bytes()));
}

#[tokio::test]
async fn repeated_failures_lock_the_login_and_are_recorded() {
    let s = start().await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let c = client();
        let r = c
            .post(format!("{}/api/v1/session", s.base))
            .json(&json!({"username": "alice.martin", "password": "not the password at all"}))
            .send()
            .await
            .unwrap();
        statuses.push(r.status());
    }
    assert_eq!(
        &statuses[..3],
        &[StatusCode::UNAUTHORIZED; 3],
        "three free failures"
    );
    assert!(
        statuses[3..].contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // Even the right password waits while locked...
    let (status, v, _) = login_with(&s, "alice.martin", json!({})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("try again in"));
    // ...and is accepted once the delay has passed.
    s.clock.advance(16 * 60 * 90_000);
    let (status, _, _) = login_with(&s, "alice.martin", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let actions = audit_actions(&s);
    assert!(actions
        .iter()
        .any(|(a, act, o)| a == "u-test" && act == "login.locked" && o == "denied"));
    assert!(
        actions
            .iter()
            .filter(|(_, act, o)| act == "login" && o == "denied")
            .count()
            >= 3
    );
}

#[tokio::test]
async fn users_see_and_end_their_sessions_and_administrators_anyones() {
    let s = start().await;
    let (a, csrf_a) = login(&s).await;
    let (b, _) = login(&s).await;
    let v: serde_json::Value = a
        .get(format!("{}/api/v1/sessions", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = v["sessions"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|x| x["current"] == true).count(), 1);
    let other = list.iter().find(|x| x["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = a
        .delete(format!("{}/api/v1/sessions/{other}", s.base))
        .header("x-csrf-token", &csrf_a)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        status_of(&b, &s, "/api/v1/session").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(status_of(&a, &s, "/api/v1/session").await, StatusCode::OK);
    // The administrator ends every session of the auditor.
    let (aud, _) = login_as(&s, "ines.audit").await;
    let r = a
        .delete(format!("{}/api/v1/users/u-auditor/sessions", s.base))
        .header("x-csrf-token", &csrf_a)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        status_of(&aud, &s, "/api/v1/session").await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn api_tokens_carry_a_subset_of_roles_and_can_be_revoked() {
    let s = start().await;
    let (a, csrf) = login(&s).await;
    let make = |roles: serde_json::Value| {
        a.post(format!("{}/api/v1/tokens", s.base))
            .header("x-csrf-token", &csrf)
            .json(&json!({"name": "export robot", "roles": roles, "expires_in_days": 30}))
            .send()
    };
    let r = make(json!(["auditor"])).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "Alice is no auditor");
    let r = make(json!(["administrator"])).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: serde_json::Value = r.json().await.unwrap();
    let token = v["token"].as_str().unwrap().to_owned();
    let id = v["id"].as_i64().unwrap();
    // Shown once; stored as a hash.
    let listed: serde_json::Value = a
        .get(format!("{}/api/v1/tokens", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!listed.to_string().contains(&token));
    let db = stored_bytes(&s);
    assert!(!db.windows(token.len()).any(|w| w == token.as_bytes()));
    // A machine client uses it without cookies or CSRF.
    let bot = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let get = |path: &str| {
        bot.get(format!("{}{path}", s.base))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(
        get("/api/v1/cameras").await.unwrap().status(),
        StatusCode::OK
    );
    let r = bot
        .post(format!("{}/api/v1/tokens", s.base))
        .bearer_auth(&token)
        .json(&json!({"name": "x", "roles": ["administrator"], "expires_in_days": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "tokens cannot mint tokens"
    );
    let r = a
        .delete(format!("{}/api/v1/tokens/{id}", s.base))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = get("/api/v1/cameras").await.unwrap();
    assert_eq!(
        error_code(r).await,
        (StatusCode::UNAUTHORIZED, "bad_token".into())
    );
    let r = bot
        .get(format!("{}/api/v1/cameras", s.base))
        .bearer_auth("veil_nonsense")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        audit_actions(&s)
            .iter()
            .filter(|(_, a, _)| a == "token.change")
            .count()
            >= 2
    );
}
