//! The DPO's desk through the API: the organisation profile (refusals
//! naming the field, one access-record entry per change), documents
//! generated from the live configuration and recorded, their review and
//! the settings changed since, the access review of accounts' roles, and
//! the compliance lint following the configuration.

mod common;

use reqwest::StatusCode;
use serde_json::{json, Value};
use veil_base::TIME_UNITS_PER_SEC;

use common::*;

fn organisation() -> Value {
    json!({
        "controller": {"name": "Mercearia Lobo, Lda.", "address": "Rua Augusta 10, Lisboa",
                       "email": "privacy@lobo.example", "phone": "+351 21 000 0000"},
        "dpo": {"name": "Data Protection Office", "email": "dpo@lobo.example"},
        "authority": {"name": "Comissão Nacional de Proteção de Dados",
                      "contact": "https://www.cnpd.pt"},
        "sites": [{"id": "shop", "name": "Shop", "address": "Rua Augusta 10, Lisboa"}],
        "storage": {"data_country": "PT",
                    "backups": [{"description": "Nightly copy to the depot", "country": "PT",
                                 "off_site": true}]},
        "information_at": "https://lobo.example/cctv",
    })
}

fn purpose() -> String {
    json!({
        "purposes": ["Protection of property against theft"],
        "legal_basis": "f",
        "balancing_note": "Customers expect cameras at the door; the street is not in view.",
        "detail": "recognition",
        "site": "shop",
        "retention_justification": "Thefts are noticed within a few days.",
    })
    .to_string()
}

fn count(s: &Server, action: &str) -> usize {
    audit_entries(s)
        .iter()
        .filter(|e| e.action == action)
        .count()
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

async fn post(
    c: &reqwest::Client,
    s: &Server,
    csrf: &str,
    path: &str,
    body: Value,
) -> reqwest::Response {
    post_json(c, csrf, format!("{}{path}", s.base), body).await
}

/// The server, Alice (administrator) and Fatima (DPO).
async fn desk() -> (Server, (reqwest::Client, String), (reqwest::Client, String)) {
    let s = start().await;
    let admin = login(&s).await;
    let dpo = new_user(&s, &admin.0, &admin.1, "fatima.dpo", &["dpo"]).await;
    (s, admin, dpo)
}

#[tokio::test]
async fn the_organisation_profile_is_checked_recorded_and_kept() {
    let (s, (admin, admin_csrf), (dpo, csrf)) = desk().await;
    let empty: Value = get_json(&dpo, &s, "/api/v1/organisation").await;
    assert_eq!(empty["controller"]["name"], "");
    let mut bad = organisation();
    bad["sites"][0]["id"] = json!("Shop A");
    let (status, message) =
        refusal_message(put(&dpo, &s, &csrf, "/api/v1/organisation", bad).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.starts_with("sites[0].id"), "{message}");
    let mut bad = organisation();
    bad["storage"]["backups"][0]["country"] = json!("XX");
    let (_, message) =
        refusal_message(put(&dpo, &s, &csrf, "/api/v1/organisation", bad).await).await;
    assert!(
        message.starts_with("storage.backups[0].country"),
        "{message}"
    );
    let mut bad = organisation();
    bad["colour"] = json!("blue");
    let (status, message) =
        refusal_message(put(&dpo, &s, &csrf, "/api/v1/organisation", bad).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("colour"), "{message}");
    assert_eq!(
        count(&s, "config.organisation"),
        0,
        "refusals change nothing"
    );

    let r = put(&dpo, &s, &csrf, "/api/v1/organisation", organisation()).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let entries = audit_entries(&s);
    let e = entries
        .iter()
        .find(|e| e.action == "config.organisation")
        .unwrap();
    assert_eq!(
        e.detail,
        "fields=controller,dpo,authority,sites,storage,information_at"
    );
    assert!(
        !e.detail.contains("lobo.example"),
        "no contact details in the record"
    );
    let got: Value = get_json(&dpo, &s, "/api/v1/organisation").await;
    let sent = organisation();
    for field in ["controller", "authority", "sites", "information_at"] {
        assert_eq!(got[field], sent[field], "{field}");
    }
    assert_eq!(got["dpo"]["email"], "dpo@lobo.example");
    assert_eq!(got["storage"]["backups"], sent["storage"]["backups"]);
    assert_eq!(
        got["storage"]["transfer_basis"], "",
        "absent fields are empty"
    );
    // The same profile again changes nothing and records nothing.
    put(&dpo, &s, &csrf, "/api/v1/organisation", organisation()).await;
    assert_eq!(count(&s, "config.organisation"), 1);

    // A site a camera's purpose names cannot go.
    assert!(s
        .store
        .db
        .set_camera_purpose(s.camera, Some(&purpose()))
        .unwrap());
    let mut fewer = organisation();
    fewer["sites"] = json!([{"id": "depot", "name": "Depot"}]);
    let (status, message) =
        refusal_message(put(&dpo, &s, &csrf, "/api/v1/organisation", fewer).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(message.contains("\"shop\""), "{message}");

    // The administrator may read it; only the DPO changes it.
    assert_eq!(
        status_of(&admin, &s, "/api/v1/organisation").await,
        StatusCode::OK
    );
    let r = put(
        &admin,
        &s,
        &admin_csrf,
        "/api/v1/organisation",
        organisation(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (auditor, _) = login_as(&s, "ines.audit").await;
    assert_eq!(
        status_of(&auditor, &s, "/api/v1/organisation").await,
        StatusCode::FORBIDDEN
    );
}

/// SHA-256, base64 (standard alphabet, padded), by `openssl` and `base64`:
/// what a browser compares an inline style's hash with.
fn openssl_sha256_base64(data: &[u8]) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut p = Command::new("sh")
        .args(["-c", "openssl dgst -sha256 -binary | base64 -w0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    p.stdin.take().unwrap().write_all(data).unwrap();
    let out = p.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn refusal_message(r: reqwest::Response) -> (StatusCode, String) {
    let (status, _, message) = refusal(r).await;
    (status, message)
}

#[tokio::test]
async fn documents_come_from_the_live_configuration_and_are_recorded() {
    let (s, _, (dpo, csrf)) = desk().await;
    put(&dpo, &s, &csrf, "/api/v1/organisation", organisation()).await;
    s.store
        .db
        .set_camera_purpose(s.camera, Some(&purpose()))
        .unwrap();
    for (kind, format, content_type) in [
        ("ropa", "md", "text/markdown"),
        ("policy", "html", "text/html"),
        ("notice", "md", "text/markdown"),
        ("dpia", "json", "application/json"),
    ] {
        let r = get(
            &dpo,
            &s,
            &format!("/api/v1/documents/{kind}?format={format}"),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK, "{kind}");
        let ct = r.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(ct.starts_with(content_type), "{kind}: {ct}");
        let body = r.text().await.unwrap();
        assert!(
            body.contains("Mercearia Lobo"),
            "{kind} names the controller"
        );
        for login in ["alice.martin", "ines.audit", "fatima.dpo"] {
            assert!(!body.contains(login), "{kind} names no account");
        }
        if kind != "dpia" {
            assert!(
                body.contains("Protection of property against theft"),
                "{kind}: {body}"
            );
        }
    }
    let ropa = get(&dpo, &s, "/api/v1/documents/ropa")
        .await
        .text()
        .await
        .unwrap();
    let version = s.store.db.latest_config_version().unwrap().unwrap().id;
    assert!(ropa.contains(&format!("version {version}")), "{ropa}");
    let entries = audit_entries(&s);
    let generated: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "document.generate")
        .collect();
    assert_eq!(generated.len(), 5);
    assert_eq!(
        generated[1].detail,
        format!("kind=policy format=html version={version}")
    );
    // The printable page allows exactly its own stylesheet.
    let r = get(&dpo, &s, "/api/v1/documents/ropa?format=html").await;
    let csp = r.headers()[reqwest::header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    let html = r.text().await.unwrap();
    let style = &html[html.find("<style>").unwrap() + 7..html.find("</style>").unwrap()];
    let hash = openssl_sha256_base64(style.as_bytes());
    assert!(csp.starts_with("default-src 'none'; "), "{csp}");
    assert!(csp.contains(&format!("style-src 'sha256-{hash}'")), "{csp}");
    let notice = get(&dpo, &s, "/api/v1/documents/notice?site=shop").await;
    assert_eq!(notice.status(), StatusCode::OK);

    for (path, status, field) in [
        (
            "/api/v1/documents/ropa?format=pdf",
            StatusCode::BAD_REQUEST,
            "format",
        ),
        (
            "/api/v1/documents/ropa?site=shop",
            StatusCode::BAD_REQUEST,
            "site",
        ),
        (
            "/api/v1/documents/notice?site=depot",
            StatusCode::BAD_REQUEST,
            "site",
        ),
        ("/api/v1/documents/minutes", StatusCode::NOT_FOUND, ""),
    ] {
        let (got, message) = refusal_message(get(&dpo, &s, path).await).await;
        assert_eq!(got, status, "{path}");
        assert!(message.starts_with(field), "{path}: {message}");
    }
    assert_eq!(
        count(&s, "document.generate"),
        7,
        "refusals generate nothing"
    );
    let (auditor, _) = login_as(&s, "ines.audit").await;
    assert_eq!(
        status_of(&auditor, &s, "/api/v1/documents/ropa").await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_desk_shows_what_changed_since_a_document_was_reviewed() {
    let (s, _, (dpo, csrf)) = desk().await;
    put(&dpo, &s, &csrf, "/api/v1/organisation", organisation()).await;
    let d: Value = get_json(&dpo, &s, "/api/v1/dpo").await;
    let version = d["version"].as_i64().unwrap();
    let ropa = |d: &Value| {
        d["documents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["kind"] == "ropa")
            .unwrap()
            .clone()
    };
    assert_eq!(ropa(&d)["needs_review"], true, "never reviewed");
    assert_eq!(
        d["cameras_without_purpose"],
        json!([{"id": s.camera.0, "name": "Door"}])
    );

    let (status, message) = refusal_message(
        post(
            &dpo,
            &s,
            &csrf,
            "/api/v1/documents/ropa/review",
            json!({"version": version + 7}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.starts_with("version"), "{message}");
    let r = post(
        &dpo,
        &s,
        &csrf,
        "/api/v1/documents/ropa/review",
        json!({"version": version, "note": "Checked against the floor plan"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let entries = audit_entries(&s);
    let e = entries
        .iter()
        .find(|e| e.action == "document.review")
        .unwrap();
    assert_eq!(
        (e.resource.as_str(), e.detail.clone()),
        ("document:ropa", format!("version={version}"))
    );

    let d: Value = get_json(&dpo, &s, "/api/v1/dpo").await;
    assert_eq!(d["version"], version, "nothing changed, same version");
    assert_eq!(ropa(&d)["needs_review"], false);
    assert_eq!(ropa(&d)["reviewed_version"], version);

    // A data-protection-relevant change: a new version, and the desk names it.
    s.store
        .db
        .set_camera_purpose(s.camera, Some(&purpose()))
        .unwrap();
    let mut org = organisation();
    org["controller"]["name"] = json!("Lobo & Filhos, Lda.");
    put(&dpo, &s, &csrf, "/api/v1/organisation", org).await;
    let d: Value = get_json(&dpo, &s, "/api/v1/dpo").await;
    assert_eq!(d["version"], version + 1);
    assert_eq!(ropa(&d)["needs_review"], true);
    let changes: Vec<String> = ropa(&d)["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["setting"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        changes.contains(&"organisation.controller.name".to_string()),
        "{changes:?}"
    );
    assert!(
        changes.contains(&format!("cameras[id={}].purpose.legal_basis", s.camera.0)),
        "{changes:?}"
    );
    let name = ropa(&d)["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["setting"] == "organisation.controller.name")
        .unwrap()
        .clone();
    assert_eq!(name["before"], "\"Mercearia Lobo, Lda.\"");
    assert_eq!(name["after"], "\"Lobo & Filhos, Lda.\"");
    assert_eq!(d["cameras_without_purpose"], json!([]));
}

#[tokio::test]
async fn access_reviews_fall_due_and_confirm_or_revoke_roles() {
    let (s, _, (dpo, _)) = desk().await;
    let list: Value = get_json(&dpo, &s, "/api/v1/access-reviews").await;
    assert_eq!(list["months"], 6);
    let items = list["items"].as_array().unwrap();
    let ines = items
        .iter()
        .find(|i| i["login"] == "ines.audit")
        .unwrap()
        .clone();
    assert_eq!(ines["overdue"], false);
    assert_eq!(ines["roles"], json!(["auditor"]));
    let ines_id = ines["user_id"].as_i64().unwrap();
    let rule = |c: &Value, id: i64| {
        c["findings"].as_array().unwrap().iter().any(|f| {
            f["rule"] == "account.access_review_overdue" && f["object"] == format!("account:{id}")
        })
    };
    let c: Value = get_json(&dpo, &s, "/api/v1/compliance").await;
    assert!(!rule(&c, ines_id));

    // Seven months on, every account is overdue.
    s.clock.advance(210 * 86_400 * TIME_UNITS_PER_SEC);
    let (dpo, _) = login_as(&s, "fatima.dpo").await;
    let list: Value = get_json(&dpo, &s, "/api/v1/access-reviews").await;
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["overdue"] == true),
        "{list}"
    );
    let c: Value = get_json(&dpo, &s, "/api/v1/compliance").await;
    assert!(rule(&c, ines_id), "{c}");
    let d: Value = get_json(&dpo, &s, "/api/v1/dpo").await;
    assert!(d["access_reviews_overdue"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["user_id"] == ines_id));

    let (dpo, csrf) = login_as(&s, "fatima.dpo").await;
    let review = |body: Value| {
        let (dpo, csrf) = (dpo.clone(), csrf.clone());
        let s = &s;
        async move { post(&dpo, s, &csrf, "/api/v1/access-reviews", body).await }
    };
    let (status, message) =
        refusal_message(review(json!({"user_id": ines_id, "outcome": "maybe"})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.starts_with("outcome"), "{message}");
    let (status, message) =
        refusal_message(review(json!({"user_id": 999, "outcome": "confirmed"})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.starts_with("user_id"), "{message}");
    let me = items.iter().find(|i| i["login"] == "fatima.dpo").unwrap()["user_id"]
        .as_i64()
        .unwrap();
    let (status, _) =
        refusal_message(review(json!({"user_id": me, "outcome": "confirmed"})).await).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "nobody reviews their own roles"
    );
    assert_eq!(count(&s, "access.review"), 0);

    let r = review(json!({"user_id": ines_id, "outcome": "confirmed"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let c: Value = get_json(&dpo, &s, "/api/v1/compliance").await;
    assert!(!rule(&c, ines_id), "confirmed: not overdue");
    let entries = audit_entries(&s);
    let e = entries
        .iter()
        .find(|e| e.action == "access.review")
        .unwrap();
    assert_eq!(
        (e.resource.clone(), e.detail.as_str()),
        (
            "user:u-auditor".to_string(),
            "outcome=confirmed roles=auditor"
        )
    );
    assert_eq!(ines["pseudonym"], "u-auditor");

    let (status, message) = refusal_message(
        review(json!({"user_id": ines_id, "outcome": "revoked", "roles": ["operator"]})).await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.starts_with("roles"), "{message}");
    let r = review(json!({"user_id": ines_id, "outcome": "revoked"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let roles = s.store.db.user_roles(veil_base::UserId(ines_id)).unwrap();
    assert!(roles.is_empty(), "revoked: no roles left");
    // A revocation is a change of roles like any other: recorded as one.
    let entries = audit_entries(&s);
    let change = entries
        .iter()
        .rfind(|e| e.action == "permission.change")
        .unwrap();
    assert_eq!(
        (change.resource.as_str(), change.detail.as_str()),
        ("user:u-auditor", "roles= source=access_review")
    );
    // ... and checked like one: the last account holding users.admin
    // keeps it.
    let alice = items.iter().find(|i| i["login"] == "alice.martin").unwrap()["user_id"]
        .as_i64()
        .unwrap();
    let (status, code, _) =
        refusal(review(json!({"user_id": alice, "outcome": "revoked"})).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "last_user_admin")
    );
    assert_eq!(
        s.store
            .db
            .user_roles(veil_base::UserId(alice))
            .unwrap()
            .len(),
        1
    );
    let (auditor, _) = login_as(&s, "ines.audit").await;
    assert_eq!(
        status_of(&auditor, &s, "/api/v1/audit").await,
        StatusCode::FORBIDDEN
    );
    // The administrator may review too (the DPO's account, for one).
    let (admin, admin_csrf) = login(&s).await;
    let r = post(
        &admin,
        &s,
        &admin_csrf,
        "/api/v1/access-reviews",
        json!({"user_id": me, "outcome": "confirmed"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn the_compliance_lint_follows_the_configuration() {
    let (s, _, (dpo, csrf)) = desk().await;
    let camera_rule = |c: &Value, rule: &str| {
        c["findings"].as_array().unwrap().iter().any(|f| {
            f["rule"] == rule
                && f["object"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("camera:{} ", s.camera.0))
        })
    };
    let c: Value = get_json(&dpo, &s, "/api/v1/compliance").await;
    assert!(camera_rule(&c, "camera.no_purpose"), "{c}");
    let f = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "camera.no_purpose")
        .unwrap();
    for field in ["severity", "message", "fix", "citation"] {
        assert!(!f[field].as_str().unwrap().is_empty(), "{field}");
    }
    assert_eq!(
        c["summary"]["errors"].as_u64().unwrap() as usize,
        c["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == "error")
            .count()
    );
    assert!(c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["rule"] == "organisation.no_controller"));

    put(&dpo, &s, &csrf, "/api/v1/organisation", organisation()).await;
    s.store
        .db
        .set_camera_purpose(s.camera, Some(&purpose()))
        .unwrap();
    let c: Value = get_json(&dpo, &s, "/api/v1/compliance").await;
    assert!(!camera_rule(&c, "camera.no_purpose"), "{c}");
    assert!(!c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["rule"] == "organisation.no_controller"));
}
