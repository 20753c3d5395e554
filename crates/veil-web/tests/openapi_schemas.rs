//! The OpenAPI description documents every operation's request body schema
//! and the statuses it answers: every route of `veil_web::routes()` under
//! `/api/` is in it; operations that read a JSON body have its schema (a
//! component, closed with `additionalProperties: false` where the type
//! refuses unknown fields); each lists 401 and 403 where its guard can
//! refuse, 413 (any body over 64 KiB), the statuses `docs/api.md` says it
//! answers, and error statuses with the one error schema. Then a real
//! server is called on every operation (anonymously, with a malformed body,
//! with an over-limit body) and each answer's status must be documented for
//! that operation, with a JSON error body where it is an error.

mod common;

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use veil_web::Guard;

use common::*;

/// Operations that read a JSON request body, and the schema of it.
const BODIES: &[(&str, &str, &str)] = &[
    ("POST", "/api/v1/session", "LoginRequest"),
    ("POST", "/api/v1/session/password", "PasswordChange"),
    ("PUT", "/api/v1/session/language", "LanguageChoice"),
    ("DELETE", "/api/v1/session/totp", "Code"),
    ("POST", "/api/v1/session/totp/confirm", "Code"),
    ("POST", "/api/v1/tokens", "NewToken"),
    ("PUT", "/api/v1/roles/{name}", "RoleDefinition"),
    ("POST", "/api/v1/users", "NewUser"),
    ("PUT", "/api/v1/users/{id}", "UserChange"),
    (
        "POST",
        "/api/v1/users/{id}/second-factor/reset",
        "ResetSecondFactor",
    ),
    ("POST", "/api/v1/policy", "NewPolicy"),
    ("POST", "/api/v1/policy/ack", "Ack"),
    ("PUT", "/api/v1/settings/four-eyes", "FourEyes"),
    ("POST", "/api/v1/approvals", "ApprovalRequest"),
    ("POST", "/api/v1/approvals/{id}/decision", "DecisionBody"),
    ("POST", "/api/v1/cameras", "CameraRequest"),
    ("PUT", "/api/v1/cameras/{id}", "CameraRequest"),
    ("PUT", "/api/v1/cameras/{id}/retention", "RetentionRequest"),
    ("PUT", "/api/v1/cameras/{id}/purpose", "Purpose"),
    ("POST", "/api/v1/bookmarks", "NewBookmark"),
    ("PUT", "/api/v1/bookmarks/{id}", "NoteChange"),
    ("PUT", "/api/v1/settings/bookmarks", "BookmarkRetention"),
    ("POST", "/api/v1/locks", "NewLock"),
    ("POST", "/api/v1/locks/{id}/extend", "LockExtension"),
    ("POST", "/api/v1/locks/{id}/release", "ReleaseRequest"),
    ("POST", "/api/v1/holds", "NewHold"),
    ("POST", "/api/v1/requests", "NewRequestBody"),
    ("POST", "/api/v1/requests/{id}/verify", "VerifyBody"),
    ("POST", "/api/v1/requests/{id}/extend", "RequestExtendBody"),
    ("POST", "/api/v1/requests/{id}/search", "SearchBody"),
    ("POST", "/api/v1/requests/{id}/intervals", "IntervalBody"),
    ("POST", "/api/v1/requests/{id}/decide", "DecideBody"),
    ("POST", "/api/v1/requests/{id}/complete", "CompleteBody"),
    ("POST", "/api/v1/requests/{id}/refuse", "RefuseBody"),
    ("POST", "/api/v1/requests/{id}/recipients", "RecipientBody"),
    ("PUT", "/api/v1/quotas", "QuotaChange"),
    ("PUT", "/api/v1/cameras/{id}/masks", "MaskChange"),
    ("POST", "/api/v1/holds/{id}/release", "ReleaseRequest"),
    ("POST", "/api/v1/disclosures", "NewDisclosureBody"),
    ("POST", "/api/v1/exports", "ExportRequestBody"),
    ("PUT", "/api/v1/organisation", "Organisation"),
    ("POST", "/api/v1/documents/{kind}/review", "ReviewBody"),
    ("POST", "/api/v1/access-reviews", "AccessReviewBody"),
    (
        "POST",
        "/api/v1/breach-candidates/{id}/dismiss",
        "DismissBody",
    ),
    ("POST", "/api/v1/breaches", "BreachBody"),
    ("PUT", "/api/v1/breaches/{id}", "BreachBody"),
    (
        "POST",
        "/api/v1/breaches/{id}/decision",
        "BreachDecisionBody",
    ),
    ("POST", "/api/v1/breaches/{id}/notified", "NotifiedBody"),
    ("POST", "/api/v1/processors", "ProcessorBody"),
    ("PUT", "/api/v1/processors/{id}", "ProcessorBody"),
    ("POST", "/api/v1/processors/{id}/accounts", "NewAccountBody"),
    (
        "PUT",
        "/api/v1/processors/{id}/accounts/{user}",
        "ExtendBody",
    ),
    (
        "POST",
        "/api/v1/disclosures/{id}/destruction",
        "DestructionConfirmation",
    ),
];

/// Statuses `docs/api.md` says each operation answers (beyond the guard's
/// and the middleware's).
const KNOWN: &[(&str, &str, &[u16])] = &[
    ("GET", "/api/v1/health", &[200, 503]),
    ("GET", "/api/v1/system", &[200]),
    ("GET", "/metrics", &[200]),
    ("POST", "/api/v1/session", &[200, 400, 401, 429, 503]),
    ("GET", "/api/v1/session", &[200]),
    ("DELETE", "/api/v1/session", &[204, 503]),
    ("PUT", "/api/v1/session/language", &[204, 400]),
    ("POST", "/api/v1/session/password", &[204, 400, 429, 503]),
    ("POST", "/api/v1/session/totp", &[200, 409]),
    ("DELETE", "/api/v1/session/totp", &[204, 400, 429, 503]),
    ("POST", "/api/v1/session/totp/confirm", &[200, 400, 503]),
    ("GET", "/api/v1/sessions", &[200]),
    ("DELETE", "/api/v1/sessions/{id}", &[204, 404, 503]),
    ("DELETE", "/api/v1/users/{id}/sessions", &[200, 404, 503]),
    ("GET", "/api/v1/tokens", &[200, 400]),
    ("POST", "/api/v1/tokens", &[201, 400, 503]),
    ("DELETE", "/api/v1/tokens/{id}", &[204, 404, 503]),
    ("GET", "/api/v1/permissions", &[200]),
    ("GET", "/api/v1/openapi.json", &[200]),
    ("GET", "/api/v1/roles", &[200]),
    (
        "PUT",
        "/api/v1/roles/{name}",
        &[201, 204, 400, 403, 409, 503],
    ),
    ("DELETE", "/api/v1/roles/{name}", &[204, 404, 409, 503]),
    ("GET", "/api/v1/users", &[200]),
    ("POST", "/api/v1/users", &[201, 400, 409, 503]),
    ("PUT", "/api/v1/users/{id}", &[204, 400, 403, 404, 409, 503]),
    (
        "POST",
        "/api/v1/users/{id}/second-factor/reset",
        &[204, 400, 404, 503],
    ),
    ("POST", "/api/v1/users/{id}/erase", &[200, 400, 404, 503]),
    ("GET", "/api/v1/policy", &[200]),
    ("POST", "/api/v1/policy", &[201, 400, 503]),
    ("POST", "/api/v1/policy/ack", &[204, 400, 503]),
    ("GET", "/api/v1/settings/four-eyes", &[200]),
    ("PUT", "/api/v1/settings/four-eyes", &[204, 400, 503]),
    ("GET", "/api/v1/approvals", &[200]),
    ("POST", "/api/v1/approvals", &[201, 400, 503]),
    (
        "POST",
        "/api/v1/approvals/{id}/decision",
        &[200, 400, 404, 409, 503],
    ),
    ("GET", "/api/v1/audit", &[200, 400, 503]),
    ("GET", "/api/v1/audit/report", &[200, 400, 503]),
    ("GET", "/api/v1/audit/export", &[200, 400, 503]),
    ("GET", "/api/v1/cameras", &[200]),
    ("POST", "/api/v1/cameras", &[201, 400, 409, 503]),
    ("GET", "/api/v1/cameras/{id}", &[200, 404]),
    ("PUT", "/api/v1/cameras/{id}", &[200, 400, 404, 409, 503]),
    ("DELETE", "/api/v1/cameras/{id}", &[204, 404, 409, 503]),
    ("GET", "/api/v1/cameras/{id}/status", &[200, 404]),
    ("GET", "/api/v1/cameras/{id}/retention", &[200, 404]),
    (
        "PUT",
        "/api/v1/cameras/{id}/retention",
        &[200, 400, 404, 503],
    ),
    ("PUT", "/api/v1/cameras/{id}/purpose", &[204, 400, 404, 503]),
    ("DELETE", "/api/v1/cameras/{id}/purpose", &[204, 404, 503]),
    ("GET", "/api/v1/cameras/{id}/recordings", &[200, 400, 404]),
    ("GET", "/api/v1/cameras/{id}/events", &[200, 400, 404]),
    (
        "GET",
        "/api/v1/cameras/{id}/video.mp4",
        &[200, 206, 400, 404, 416, 503],
    ),
    ("GET", "/api/v1/cameras/{id}/live", &[101, 400, 404, 503]),
    ("GET", "/api/v1/bookmarks", &[200, 400, 503]),
    ("POST", "/api/v1/bookmarks", &[201, 400, 503]),
    ("PUT", "/api/v1/bookmarks/{id}", &[200, 400, 404, 503]),
    ("DELETE", "/api/v1/bookmarks/{id}", &[204, 404, 503]),
    ("GET", "/api/v1/settings/bookmarks", &[200]),
    ("GET", "/api/v1/locks", &[200]),
    ("POST", "/api/v1/locks", &[201, 400, 503]),
    ("GET", "/api/v1/locks/{id}", &[200, 404]),
    (
        "POST",
        "/api/v1/locks/{id}/extend",
        &[200, 400, 404, 409, 503],
    ),
    (
        "POST",
        "/api/v1/locks/{id}/release",
        &[200, 400, 404, 409, 503],
    ),
    ("GET", "/api/v1/holds", &[200]),
    ("GET", "/api/v1/disclosures", &[200, 400, 503]),
    ("GET", "/api/v1/disclosures.csv", &[200, 400, 503]),
    ("POST", "/api/v1/disclosures", &[201, 400, 503]),
    (
        "POST",
        "/api/v1/disclosures/{id}/destruction",
        &[200, 400, 404, 409, 503],
    ),
    ("POST", "/api/v1/exports", &[201, 400, 404, 503]),
    ("GET", "/api/v1/organisation", &[200]),
    ("PUT", "/api/v1/organisation", &[204, 400, 409, 503]),
    ("GET", "/api/v1/dpo", &[200]),
    ("GET", "/api/v1/compliance", &[200]),
    ("GET", "/api/v1/documents/{kind}", &[200, 400, 404, 503]),
    (
        "POST",
        "/api/v1/documents/{kind}/review",
        &[201, 400, 404, 503],
    ),
    ("GET", "/api/v1/access-reviews", &[200]),
    ("POST", "/api/v1/access-reviews", &[201, 400, 503]),
    ("GET", "/api/v1/breach-candidates", &[200, 400, 503]),
    (
        "POST",
        "/api/v1/breach-candidates/{id}/dismiss",
        &[200, 400, 404, 409, 503],
    ),
    (
        "POST",
        "/api/v1/breach-candidates/{id}/promote",
        &[201, 404, 409, 503],
    ),
    ("GET", "/api/v1/breaches", &[200]),
    ("POST", "/api/v1/breaches", &[201, 400, 503]),
    ("GET", "/api/v1/breaches/{id}", &[200, 404]),
    ("PUT", "/api/v1/breaches/{id}", &[200, 400, 404, 503]),
    (
        "POST",
        "/api/v1/breaches/{id}/decision",
        &[200, 400, 404, 409, 503],
    ),
    (
        "POST",
        "/api/v1/breaches/{id}/notified",
        &[200, 400, 404, 409, 503],
    ),
    (
        "GET",
        "/api/v1/breaches/{id}/notification",
        &[200, 400, 404, 503],
    ),
    ("GET", "/api/v1/processors", &[200, 400]),
    ("POST", "/api/v1/processors", &[201, 400, 503]),
    ("PUT", "/api/v1/processors/{id}", &[200, 400, 404, 409, 503]),
    ("DELETE", "/api/v1/processors/{id}", &[204, 404, 409, 503]),
    (
        "POST",
        "/api/v1/processors/{id}/accounts",
        &[201, 400, 404, 409, 503],
    ),
    (
        "PUT",
        "/api/v1/processors/{id}/accounts/{user}",
        &[200, 400, 404, 409, 503],
    ),
    ("GET", "/api/v1/exports", &[200]),
    ("GET", "/api/v1/exports/{id}", &[200, 404]),
    (
        "GET",
        "/api/v1/exports/{id}/download",
        &[200, 404, 409, 503],
    ),
    ("GET", "/api/v1/quotas", &[200]),
    ("GET", "/api/v1/cameras/{id}/masks", &[200, 404]),
    (
        "PUT",
        "/api/v1/cameras/{id}/masks",
        &[200, 400, 404, 409, 503],
    ),
    ("PUT", "/api/v1/quotas", &[200, 400, 503]),
    ("POST", "/api/v1/holds", &[201, 400, 503]),
    ("GET", "/api/v1/requests", &[200, 400]),
    ("POST", "/api/v1/requests", &[201, 400, 503]),
    ("GET", "/api/v1/requests/{id}", &[200, 404]),
    (
        "POST",
        "/api/v1/requests/{id}/verify",
        &[200, 400, 404, 409, 503],
    ),
    (
        "POST",
        "/api/v1/requests/{id}/extend",
        &[200, 400, 404, 409, 503],
    ),
    (
        "POST",
        "/api/v1/requests/{id}/search",
        &[200, 400, 404, 409, 503],
    ),
    (
        "POST",
        "/api/v1/requests/{id}/intervals",
        &[201, 400, 404, 409, 503],
    ),
    (
        "DELETE",
        "/api/v1/requests/{id}/intervals/{iid}",
        &[200, 404, 409, 503],
    ),
    (
        "POST",
        "/api/v1/requests/{id}/decide",
        &[200, 400, 404, 409, 503],
    ),
    (
        "POST",
        "/api/v1/requests/{id}/complete",
        &[200, 400, 404, 409, 503],
    ),
    (
        "POST",
        "/api/v1/requests/{id}/refuse",
        &[200, 400, 404, 409, 503],
    ),
    (
        "POST",
        "/api/v1/requests/{id}/erase",
        &[200, 400, 404, 409, 503],
    ),
    (
        "POST",
        "/api/v1/requests/{id}/restrict",
        &[200, 400, 404, 409, 503],
    ),
    ("GET", "/api/v1/requests/{id}/recipients", &[200, 404]),
    (
        "POST",
        "/api/v1/requests/{id}/recipients",
        &[200, 400, 404, 409, 503],
    ),
    ("GET", "/api/v1/requests/{id}/footage", &[200, 404, 409]),
    ("GET", "/api/v1/holds/{id}", &[200, 404]),
    (
        "POST",
        "/api/v1/holds/{id}/release",
        &[200, 400, 404, 409, 503],
    ),
    ("GET", "/api/v1/retention", &[200]),
    ("PUT", "/api/v1/settings/bookmarks", &[204, 400, 503]),
];

/// Every API route and method of the table.
/// The documented operations: the API and the Prometheus endpoint.
fn operations() -> Vec<(Method, &'static str, Guard)> {
    veil_web::routes()
        .iter()
        .filter(|r| r.path.starts_with("/api/") || r.path == "/metrics")
        .flat_map(|r| r.methods.iter().map(move |m| (m.clone(), r.path, r.guard)))
        .collect()
}

fn document() -> Value {
    serde_json::to_value(veil_web::openapi::document()).unwrap()
}

fn operation<'a>(doc: &'a Value, m: &Method, path: &str) -> &'a Value {
    &doc["paths"][path][m.as_str().to_lowercase()]
}

fn statuses(op: &Value) -> BTreeSet<u16> {
    op["responses"]
        .as_object()
        .map(|r| r.keys().map(|k| k.parse().unwrap()).collect())
        .unwrap_or_default()
}

fn schema_ref(v: &Value) -> Option<&str> {
    v["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
}

#[test]
fn every_operation_documents_its_body_and_statuses() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let ops = operations();
    assert!(ops.len() >= 40, "{} operations", ops.len());
    for (m, path, guard) in &ops {
        let what = format!("{m} {path}");
        let op = operation(&doc, m, path);
        assert!(op.is_object(), "{what} is not in the description");
        assert!(op["summary"].is_string(), "{what} has no summary");
        assert!(op["operationId"].is_string(), "{what} has no operationId");
        let st = statuses(op);

        // The guard's and the middleware's refusals.
        assert!(st.contains(&413), "{what}: any body over 64 KiB is 413");
        assert!(st.contains(&500), "{what}: 500");
        if *guard != Guard::Public {
            assert!(st.contains(&401), "{what}: not public, so 401");
            assert!(st.contains(&403), "{what}: 403 (policy or CSRF)");
            assert_eq!(op["security"].as_array().map(Vec::len), Some(2), "{what}");
        }
        if *guard == Guard::Permission {
            assert!(st.contains(&403), "{what}: a Permission route answers 403");
        }

        // What the handler answers.
        let known = KNOWN
            .iter()
            .find(|(km, kp, _)| *km == m.as_str() && kp == path)
            .unwrap_or_else(|| panic!("{what}: add it to KNOWN"));
        for s in known.2 {
            assert!(st.contains(s), "{what} answers {s} (docs/api.md)");
        }
        for s in &st {
            let res = &op["responses"][s.to_string()];
            assert!(res["description"].is_string(), "{what} {s}");
            if *s == 503 && *path == "/api/v1/health" {
                // The probe's 503 is its own report, naming what fails.
                assert_eq!(
                    schema_ref(&res["content"]["application/json"]["schema"]),
                    Some("Health")
                );
            } else if *s >= 400 {
                assert_eq!(
                    schema_ref(&res["content"]["application/json"]["schema"]),
                    Some("ErrorBody"),
                    "{what} {s}: errors have the error schema"
                );
            } else if let Some(json) = res["content"].get("application/json") {
                assert!(
                    json["schema"].is_object(),
                    "{what} {s}: JSON without schema"
                );
            } else if *s == 200 || *s == 201 || *s == 206 {
                let types = res["content"].as_object().map(|c| c.len()).unwrap_or(0);
                assert!(
                    types > 0 || *s == 201,
                    "{what} {s}: a body's content type must be named"
                );
            }
        }

        // Path parameters, typed.
        for p in path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        {
            let param = op["parameters"]
                .as_array()
                .and_then(|ps| ps.iter().find(|x| x["name"] == p && x["in"] == "path"))
                .unwrap_or_else(|| panic!("{what}: path parameter {p}"));
            assert_eq!(param["required"], true, "{what} {p}");
            assert!(param["schema"]["type"].is_string(), "{what} {p}: typed");
        }

        // The request body.
        let body = BODIES
            .iter()
            .find(|(bm, bp, _)| *bm == m.as_str() && bp == path);
        match body {
            Some((_, _, name)) => {
                let rb = &op["requestBody"];
                assert_eq!(rb["required"], true, "{what}");
                let schema = &rb["content"]["application/json"]["schema"];
                assert_eq!(schema_ref(schema), Some(*name), "{what}: body schema");
                let s = &schemas[*name];
                assert_eq!(s["type"], "object", "{what}: {name} is an object");
                assert!(s["properties"].is_object(), "{what}: {name} has fields");
                if *name != "LoginRequest" {
                    assert_eq!(
                        s["additionalProperties"], false,
                        "{what}: {name} refuses unknown fields"
                    );
                }
            }
            None => assert!(
                op.get("requestBody").is_none(),
                "{what} takes no body, yet documents one (add it to BODIES?)"
            ),
        }
    }
    // Every documented operation is a route.
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(documented, ops.len());
    // Every reference resolves.
    let text = doc.to_string();
    for (i, _) in text.match_indices("#/components/schemas/") {
        let rest = &text[i + "#/components/schemas/".len()..];
        let name = &rest[..rest.find('"').unwrap()];
        assert!(schemas[name].is_object(), "dangling reference to {name}");
    }
}

#[test]
fn bodies_follow_the_rust_types() {
    let doc = document();
    let s = &doc["components"]["schemas"];
    let required = |name: &str| -> BTreeSet<String> {
        s[name]["required"]
            .as_array()
            .map(|r| r.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };
    let set = |v: &[&str]| -> BTreeSet<String> { v.iter().map(|s| s.to_string()).collect() };
    assert_eq!(required("LoginRequest"), set(&["username", "password"]));
    assert_eq!(
        required("NewToken"),
        set(&["name", "roles", "expires_in_days"])
    );
    assert_eq!(required("PasswordChange"), set(&["current", "new"]));
    assert_eq!(required("UserChange"), set(&[]));
    assert_eq!(required("CameraRequest"), set(&["name", "url"]));
    assert_eq!(required("RoleDefinition"), set(&["grants"]));
    assert_eq!(required("DecisionBody"), set(&["approve", "note"]));
    // `null` clears the training date.
    assert_eq!(
        s["UserChange"]["properties"]["training_valid_until"]["type"],
        serde_json::json!(["string", "null"])
    );
    // Responses: the error, and a few shapes clients rely on.
    assert_eq!(required("ErrorBody"), set(&["error"]));
    assert_eq!(required("ErrorDetail"), set(&["code", "message"]));
    assert_eq!(required("CreatedToken"), set(&["id", "token", "expires"]));
    assert!(!required("CreatedUser").contains("password"));
    assert_eq!(required("CameraStatusView"), set(&["state"]));
    assert_eq!(s["GrantScope"]["oneOf"].as_array().map(Vec::len), Some(3));
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "999999")
        .replace("{name}", "nobody-role")
}

async fn call(
    c: &reqwest::Client,
    s: &Server,
    m: &Method,
    path: &str,
    csrf: &str,
    body: Option<Vec<u8>>,
) -> (StatusCode, Option<String>, Vec<u8>) {
    let mut req = c
        .request(m.clone(), format!("{}{}", s.base, concrete(path)))
        .header("x-csrf-token", csrf);
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let ctype = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, ctype, r.bytes().await.unwrap_or_default().to_vec())
}

fn check(
    what: &str,
    doc: &Value,
    m: &Method,
    path: &str,
    got: (StatusCode, Option<String>, Vec<u8>),
) {
    let (status, ctype, body) = got;
    let st = statuses(operation(doc, m, path));
    assert!(
        st.contains(&status.as_u16()),
        "{what}: {m} {path} answered {status}, not documented ({st:?})"
    );
    if status.as_u16() >= 400 {
        assert!(
            ctype
                .as_deref()
                .is_some_and(|t| t.starts_with("application/json")),
            "{what}: {m} {path} {status}: {ctype:?}"
        );
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(v["error"]["code"].is_string(), "{what}: {m} {path}: {v}");
        assert!(v["error"]["message"].is_string(), "{what}: {m} {path}: {v}");
    }
}

#[tokio::test]
async fn every_answer_of_the_server_is_documented() {
    let s = start().await;
    let doc = document();
    let anon = client();
    let (admin, csrf) = login(&s).await;
    let big = vec![b' '; veil_web::MAX_BODY_BYTES + 1];
    let mut ops = operations();
    // Logging out ends the session the other calls use: last.
    ops.sort_by_key(|(m, p, _)| *m == Method::DELETE && *p == "/api/v1/session");
    for (m, path, _) in &ops {
        let takes_body = BODIES
            .iter()
            .any(|(bm, bp, _)| *bm == m.as_str() && bp == path);
        let garbage = takes_body.then(|| b"{not json".to_vec());
        let got = call(&anon, &s, m, path, "", garbage.clone()).await;
        check("anonymous", &doc, m, path, got);
        let got = call(&admin, &s, m, path, &csrf, Some(big.clone())).await;
        assert_eq!(got.0, StatusCode::PAYLOAD_TOO_LARGE, "{m} {path}");
        check("over-limit body", &doc, m, path, got);
        let got = call(&admin, &s, m, path, &csrf, garbage).await;
        if takes_body && got.0 == StatusCode::BAD_REQUEST {
            let v: Value = serde_json::from_slice(&got.2).unwrap();
            assert_eq!(v["error"]["code"], "bad_request", "{m} {path}");
        }
        check("administrator", &doc, m, path, got);
    }
}
