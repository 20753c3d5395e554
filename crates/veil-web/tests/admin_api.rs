//! Administration rules the API enforces whatever the client: separation of
//! duties (a user administrator cannot give themselves access-record reading
//! or mask lifting), no change that leaves nobody able to manage accounts,
//! the second-factor reset with its justification, and the administrators'
//! view of every API token.

mod common;

use reqwest::StatusCode;
use serde_json::{json, Value};

use common::*;

async fn roles(s: &Server, c: &reqwest::Client) -> Value {
    get_json(c, s, "/api/v1/roles").await
}

fn role<'a>(all: &'a Value, name: &str) -> &'a Value {
    all.as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no role {name}: {all}"))
}

fn grants(r: &Value) -> Vec<String> {
    r["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["permission"].as_str().unwrap().to_owned())
        .collect()
}

/// The administrator role's definition with `permission` added or removed.
fn administrator_with(all: &Value, add: Option<&str>, remove: Option<&str>) -> Value {
    let mut r = role(all, "administrator").clone();
    let g = r["grants"].as_array_mut().unwrap();
    if let Some(p) = add {
        g.push(json!({"permission": p, "scope": {"kind": "all"}}));
    }
    if let Some(p) = remove {
        g.retain(|x| x["permission"] != p);
    }
    r.as_object_mut().unwrap().remove("name");
    r
}

#[tokio::test]
async fn an_administrator_cannot_grant_themselves_audit_reading_or_mask_lifting() {
    let s = start().await;
    let (c, csrf) = login(&s).await;
    let put = |name: &str| format!("{}/api/v1/roles/{name}", s.base);
    let before = roles(&s, &c).await;

    // Through a role Alice holds.
    for p in ["audit.read", "masks.lift"] {
        let body = administrator_with(&before, Some(p), None);
        let r = put_json(&c, &csrf, put("administrator"), body).await;
        assert_eq!(
            error_code(r).await,
            (StatusCode::FORBIDDEN, "separation_of_duties".into()),
            "{p}"
        );
    }
    assert_eq!(
        grants(role(&roles(&s, &c).await, "administrator")),
        grants(role(&before, "administrator")),
        "the role is unchanged"
    );

    // A role she does not hold may carry them, for someone else.
    let reader = json!({"description": "Reads the record", "grants": [
        {"permission": "audit.read", "scope": {"kind": "all"}}]});
    let r = put_json(&c, &csrf, put("reader"), reader).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // But she cannot take that role herself.
    let me = format!("{}/api/v1/users/u-test", s.base);
    let r = put_json(&c, &csrf, me, json!({"roles": ["administrator", "reader"]})).await;
    assert_eq!(
        error_code(r).await,
        (StatusCode::FORBIDDEN, "separation_of_duties".into())
    );
    let alice = user_entry(&s, &c, "id", "u-test").await;
    assert_eq!(alice["roles"], json!(["administrator"]));
    // Ines (an auditor) may be given it.
    let r = put_json(
        &c,
        &csrf,
        format!("{}/api/v1/users/u-auditor", s.base),
        json!({"roles": ["auditor", "reader"]}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // And a role she holds can still change in other ways.
    let body = administrator_with(&before, None, Some("metrics.read"));
    let r = put_json(&c, &csrf, put("administrator"), body).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let refused = audit_actions(&s)
        .iter()
        .filter(|(_, a, _)| a == "role.change" || a == "permission.change")
        .count();
    assert_eq!(refused, 3, "only the changes made are recorded");
}

#[tokio::test]
async fn nobody_removes_the_last_user_administration() {
    let s = start().await;
    let (c, csrf) = login(&s).await;
    let all = roles(&s, &c).await;
    let put_admin = format!("{}/api/v1/roles/administrator", s.base);
    let last = (StatusCode::CONFLICT, "last_user_admin".to_owned());

    let body = administrator_with(&all, None, Some("users.admin"));
    let r = put_json(&c, &csrf, put_admin.clone(), body).await;
    assert_eq!(error_code(r).await, last);
    let r = send(&c, &csrf, reqwest::Method::DELETE, put_admin.clone(), None).await;
    assert_eq!(error_code(r).await, last);
    let me = format!("{}/api/v1/users/u-test", s.base);
    let r = put_json(&c, &csrf, me.clone(), json!({"roles": ["operator"]})).await;
    assert_eq!(error_code(r).await, last);
    assert!(grants(role(&roles(&s, &c).await, "administrator")).contains(&"users.admin".into()));

    // With a second administrator, Alice may step down.
    new_user(&s, &c, &csrf, "bruno.admin", &["administrator"]).await;
    let r = put_json(&c, &csrf, me, json!({"roles": ["operator"]})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        status_of(&c, &s, "/api/v1/users").await,
        StatusCode::FORBIDDEN,
        "she no longer administers accounts"
    );
}

/// Asks, as `c`, for the second factor of the account `who` to be reset.
async fn reset(
    s: &Server,
    c: &reqwest::Client,
    csrf: &str,
    who: &str,
    body: Value,
) -> reqwest::Response {
    let url = format!("{}/api/v1/users/{who}/second-factor/reset", s.base);
    send(c, csrf, reqwest::Method::POST, url, Some(body)).await
}

#[tokio::test]
async fn a_second_factor_reset_needs_a_justification_and_forces_enrolment() {
    let s = start().await;
    let gina = investigator(&s);
    let (g, gcsrf) = login_as(&s, "gina.inv").await;
    enrol_totp(&s, &g, &gcsrf).await;
    assert_eq!(status_of(&g, &s, "/api/v1/cameras").await, StatusCode::OK);
    let (c, csrf) = login(&s).await;
    assert_eq!(
        user_entry(&s, &c, "id", "u-inv").await["second_factor_enrolled"],
        json!(true)
    );

    let r = reset(&s, &c, &csrf, "u-inv", json!({"justification": "  "})).await;
    assert_eq!(
        error_code(r).await,
        (StatusCode::BAD_REQUEST, "justification_required".into())
    );
    let r = reset(&s, &c, &csrf, "u-inv", json!({})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let why = json!({"justification": "Phone lost; identity checked in person (ticket 118)"});
    let r = reset(&s, &c, &csrf, "u-nobody", why.clone()).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = reset(&s, &c, &csrf, "u-test", why.clone()).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "not one's own");
    let (ines, icsrf) = login_as(&s, "ines.audit").await;
    let r = reset(&s, &ines, &icsrf, "u-inv", why.clone()).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(s
        .store
        .db
        .second_factor(gina)
        .unwrap()
        .totp_sealed
        .is_some());

    let r = reset(&s, &c, &csrf, "u-inv", why).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let f = s.store.db.second_factor(gina).unwrap();
    assert!(f.totp_sealed.is_none() && f.totp_pending_sealed.is_none());
    assert!(
        matches!(f.recovery_hashes.as_str(), "" | "[]"),
        "recovery codes gone"
    );
    assert_eq!(
        status_of(&g, &s, "/api/v1/cameras").await,
        StatusCode::UNAUTHORIZED,
        "her sessions ended"
    );
    let entry = audit_entries(&s)
        .into_iter()
        .find(|e| e.detail.contains("second_factor=reset"))
        .expect("the reset is recorded");
    assert_eq!(
        (
            entry.action.as_str(),
            entry.resource.as_str(),
            entry.actor.as_str()
        ),
        ("user.change", "user:u-inv", "u-test")
    );
    assert!(entry.justification.contains("ticket 118"));

    // The password alone signs her in again, and nothing but enrolment works.
    let (g, gcsrf) = login_as(&s, "gina.inv").await;
    let r = get(&g, &s, "/api/v1/cameras").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("second factor"));
    enrol_totp(&s, &g, &gcsrf).await;
    assert_eq!(status_of(&g, &s, "/api/v1/cameras").await, StatusCode::OK);
}

/// The id of a new "`role` exporter" token with `role`.
async fn exporter_token(s: &Server, c: &reqwest::Client, csrf: &str, role: &str) -> i64 {
    create_token(s, c, csrf, &format!("{role} exporter"), &[role]).await["id"]
        .as_i64()
        .unwrap()
}

async fn tokens(s: &Server, c: &reqwest::Client, query: &str) -> (StatusCode, Value) {
    let r = get(c, s, &format!("/api/v1/tokens{query}")).await;
    (r.status(), r.json().await.unwrap())
}

#[tokio::test]
async fn user_administrators_list_and_revoke_every_token() {
    let s = start().await;
    let (c, csrf) = login(&s).await;
    let (ines, icsrf) = login_as(&s, "ines.audit").await;
    let mine = exporter_token(&s, &c, &csrf, "administrator").await;
    let hers = exporter_token(&s, &ines, &icsrf, "auditor").await;

    // Everyone sees their own; only a user administrator sees all.
    let (st, v) = tokens(&s, &ines, "").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["tokens"].as_array().unwrap().len(), 1);
    assert!(v["tokens"][0].get("owner").is_none());
    let (st, v) = tokens(&s, &ines, "?all=true").await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (st, _) = tokens(&s, &c, "?all=maybe").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, _) = tokens(&s, &c, "?everything=true").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, v) = tokens(&s, &c, "?all=true").await;
    assert_eq!(st, StatusCode::OK);
    let listed: Vec<(i64, &str, &str, bool)> = v["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["id"].as_i64().unwrap(),
                t["owner"].as_str().unwrap(),
                t["owner_name"].as_str().unwrap(),
                t["revoked"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (mine, "u-test", "alice.martin", false),
            (hers, "u-auditor", "ines.audit", false)
        ]
    );
    assert!(!v.to_string().contains("veil_"), "never a token's value");

    // Ines cannot revoke Alice's token (it does not exist for her); Alice
    // can revoke Ines's, and it is recorded against Ines's account.
    let del = |id: i64| format!("{}/api/v1/tokens/{id}", s.base);
    let r = send(&ines, &icsrf, reqwest::Method::DELETE, del(mine), None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = send(&c, &csrf, reqwest::Method::DELETE, del(hers), None).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (_, v) = tokens(&s, &ines, "").await;
    assert_eq!(v["tokens"][0]["revoked"], json!(true));
    let (_, v) = tokens(&s, &c, "?all=true").await;
    assert_eq!(
        v["tokens"][0]["revoked"],
        json!(false),
        "Alice's own is kept"
    );
    let entry = audit_entries(&s)
        .into_iter()
        .rfind(|e| e.action == "token.change")
        .unwrap();
    assert_eq!(
        (
            entry.actor.as_str(),
            entry.resource.as_str(),
            entry.detail.clone()
        ),
        ("u-test", "user:u-auditor", format!("revoke id={hers}"))
    );
    let r = send(&c, &csrf, reqwest::Method::DELETE, del(9999), None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
