//! Credentials under attack: parallel password guesses, a second-factor code
//! raced by two logins, API tokens and first-login steps, a password change
//! that ends the other sessions, secret checks behind a session, and client
//! addresses behind a reverse proxy.

mod common;

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::json;

use common::*;

const HOUR: i64 = 3600 * 90_000;

async fn login_body(base: &str, body: serde_json::Value) -> reqwest::Response {
    client()
        .post(format!("{base}/api/v1/session"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Statuses of `n` logins with `body`, all sent at once.
async fn at_once(base: &str, n: usize, body: serde_json::Value) -> Vec<StatusCode> {
    let tries: Vec<_> = (0..n)
        .map(|_| {
            let (base, body) = (base.to_owned(), body.clone());
            tokio::spawn(async move { login_body(&base, body).await.status() })
        })
        .collect();
    let mut out = Vec::new();
    for t in tries {
        out.push(t.await.unwrap());
    }
    out
}

fn count(v: &[StatusCode], s: StatusCode) -> usize {
    v.iter().filter(|x| **x == s).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_guesses_get_at_most_the_free_attempts_through() {
    let s = start().await;
    let statuses = at_once(
        &s.base,
        50,
        json!({"username": "alice.martin", "password": "a wrong guess, 50 times"}),
    )
    .await;
    let free = veil_access::lockout::FREE_FAILURES as usize + 1;
    let checked = count(&statuses, StatusCode::UNAUTHORIZED);
    assert!(
        checked <= free,
        "{checked} guesses had their password checked: {statuses:?}"
    );
    assert_eq!(
        checked + count(&statuses, StatusCode::TOO_MANY_REQUESTS),
        50,
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_factor_code_raced_by_logins_lets_exactly_one_in() {
    let s = start().await;
    investigator(&s);
    let (c, csrf) = login_as(&s, "gina.inv").await;
    let (secret, codes) = enrol_totp(&s, &c, &csrf).await;
    for (round, recovery) in codes.iter().take(4).enumerate() {
        // Failures are forgotten and a fresh time step begins.
        s.clock.advance(2 * HOUR);
        let code = totp_now(&s, &secret);
        let statuses = at_once(
            &s.base,
            4,
            json!({"username": "gina.inv", "password": PASSWORD, "code": code}),
        )
        .await;
        assert_eq!(
            count(&statuses, StatusCode::OK),
            1,
            "round {round}, one TOTP code: {statuses:?}"
        );
        s.clock.advance(2 * HOUR);
        let statuses = at_once(
            &s.base,
            4,
            json!({"username": "gina.inv", "password": PASSWORD, "recovery_code": recovery}),
        )
        .await;
        assert_eq!(
            count(&statuses, StatusCode::OK),
            1,
            "round {round}, one recovery code: {statuses:?}"
        );
    }
}

#[tokio::test]
async fn a_token_cannot_skip_the_first_login_steps() {
    let s = start().await;
    let make = |c: reqwest::Client, csrf: String| {
        let base = s.base.clone();
        async move {
            let r = c
                .post(format!("{base}/api/v1/tokens"))
                .header("x-csrf-token", csrf)
                .json(&json!({"name": "robot", "roles": ["investigator"], "expires_in_days": 1}))
                .send()
                .await
                .unwrap();
            let status = r.status();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let inv = investigator(&s);
    // The investigator role requires a second factor, not enrolled yet.
    let (c, csrf) = login_as(&s, "gina.inv").await;
    let (status, v) = make(c.clone(), csrf.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert!(v.to_string().contains("enrol a second factor"), "{v}");
    enrol_totp(&s, &c, &csrf).await;
    let (status, v) = make(c.clone(), csrf.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let token = v["token"].as_str().unwrap().to_owned();
    let by_token = || {
        client()
            .get(format!("{}/api/v1/cameras", s.base))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(by_token().await.unwrap().status(), StatusCode::OK);
    // The account's steps come back: its token is held to them too.
    s.store.db.require_password_change(inv).unwrap();
    assert_eq!(by_token().await.unwrap().status(), StatusCode::FORBIDDEN);
    let (status, v) = make(c.clone(), csrf.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert!(v.to_string().contains("change your password"), "{v}");
    let r = c
        .post(format!("{}/api/v1/session/password", s.base))
        .header("x-csrf-token", &csrf)
        .json(&json!({"current": PASSWORD, "new": "another long password 43"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(by_token().await.unwrap().status(), StatusCode::OK);
    s.store
        .db
        .set_second_factor(inv, &Default::default())
        .unwrap();
    assert_eq!(
        by_token().await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "a token does not clear a missing second factor"
    );
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_and_can_revoke_tokens() {
    let s = start().await;
    let (a1, csrf1) = login(&s).await;
    let (a2, _) = login(&s).await;
    let token = |revoke: bool| {
        let (a1, csrf1, base) = (a1.clone(), csrf1.clone(), s.base.clone());
        async move {
            let v: serde_json::Value = a1
                .post(format!("{base}/api/v1/tokens"))
                .header("x-csrf-token", csrf1)
                .json(&json!({"name": format!("t{revoke}"), "roles": ["administrator"], "expires_in_days": 1}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["token"].as_str().unwrap().to_owned()
        }
    };
    let uses = |t: String| {
        let base = s.base.clone();
        async move {
            client()
                .get(format!("{base}/api/v1/session"))
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let kept = token(false).await;
    let change = |current: &'static str, new: &'static str, revoke: bool| {
        let (a1, csrf1, base) = (a1.clone(), csrf1.clone(), s.base.clone());
        async move {
            a1.post(format!("{base}/api/v1/session/password"))
                .header("x-csrf-token", csrf1)
                .json(&json!({"current": current, "new": new, "revoke_tokens": revoke}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        change(PASSWORD, "a new long password 1", false).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(status_of(&a1, &s, "/api/v1/session").await, StatusCode::OK);
    assert_eq!(
        status_of(&a2, &s, "/api/v1/session").await,
        StatusCode::UNAUTHORIZED,
        "the other session ended"
    );
    assert_eq!(uses(kept.clone()).await, StatusCode::OK, "tokens kept");
    assert_eq!(
        change("a new long password 1", "a new long password 2", true).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(uses(kept).await, StatusCode::UNAUTHORIZED, "tokens revoked");
    let entry = s
        .store
        .db
        .audit_entries(0, 1000)
        .unwrap()
        .into_iter()
        .rfind(|e| e.action == "user.password")
        .unwrap();
    assert_eq!(entry.detail, "other_sessions=ended tokens=revoked");
}

#[tokio::test]
async fn secret_checks_behind_a_session_are_throttled() {
    let s = start().await;
    let (a, csrf) = login(&s).await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = a
            .post(format!("{}/api/v1/session/password", s.base))
            .header("x-csrf-token", &csrf)
            .json(&json!({"current": "a guess of the password", "new": "a new long password 1"}))
            .send()
            .await
            .unwrap();
        statuses.push(r.status());
    }
    assert_eq!(count(&statuses, StatusCode::FORBIDDEN), 4, "{statuses:?}");
    assert_eq!(count(&statuses, StatusCode::TOO_MANY_REQUESTS), 4);

    // Removing a second factor asks for a code: throttled the same way.
    s.clock.advance(2 * HOUR);
    let (a, csrf) = login(&s).await;
    let (op, op_csrf) = new_user(&s, &a, &csrf, "olga.ops", &["operator"]).await;
    enrol_totp(&s, &op, &op_csrf).await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = op
            .delete(format!("{}/api/v1/session/totp", s.base))
            .header("x-csrf-token", &op_csrf)
            .json(&json!({"code": "000000"}))
            .send()
            .await
            .unwrap();
        statuses.push(r.status());
    }
    assert_eq!(count(&statuses, StatusCode::BAD_REQUEST), 4, "{statuses:?}");
    assert_eq!(count(&statuses, StatusCode::TOO_MANY_REQUESTS), 4);
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let s = start().await;
    let behind = serve_with(
        &s.store,
        &s.audit,
        Arc::new(s.clock.clone()),
        &s.dir.path().join("tls-proxy"),
        veil_web::proxy::TrustedProxies::parse(&["127.0.0.1"]).unwrap(),
    );
    let guess = |base: String, from: &'static str| async move {
        client()
            .post(format!("{base}/api/v1/session"))
            .header("x-forwarded-for", from)
            .json(&json!({"username": "nobody.known", "password": "a wrong guess"}))
            .send()
            .await
            .unwrap()
            .status()
    };
    let last_client = || {
        s.store
            .db
            .audit_entries(0, 1000)
            .unwrap()
            .into_iter()
            .rfind(|e| e.action == "login")
            .unwrap()
            .client
    };
    // Not a listed proxy: the header is ignored.
    guess(s.base.clone(), "203.0.113.9").await;
    assert_eq!(last_client(), "127.0.0.1");
    // A listed proxy: the client it names is recorded and throttled.
    guess(behind.clone(), "203.0.113.9").await;
    assert_eq!(last_client(), "203.0.113.9");
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(guess(behind.clone(), "198.51.100.7").await);
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert_eq!(
        guess(behind.clone(), "192.0.2.44").await,
        StatusCode::UNAUTHORIZED,
        "another client behind the same proxy is not locked out"
    );
}
