//! The router walk: every route in `veil_web::routes()` (the table the router
//! is built from) is called anonymously and by a signed-in user with no role.
//! Anonymous callers get 401 except on public routes; a user without roles
//! gets 403 on every route that needs a permission (default deny); and each
//! path answers exactly the methods the table lists.

mod common;

use reqwest::{Method, StatusCode};
use veil_base::Time90k;
use veil_web::Guard;

use common::*;

fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
        .replace("{name}", "operator")
        .replace("{*rest}", "x")
}

async fn call(c: &reqwest::Client, s: &Server, m: &Method, path: &str, csrf: &str) -> StatusCode {
    c.request(m.clone(), format!("{}{}", s.base, concrete(path)))
        .header("x-csrf-token", csrf)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn every_route_is_authenticated_and_default_deny() {
    let s = start().await;
    s.store
        .db
        .insert_user(
            "u-nobody",
            "nobody.here",
            &veil_access::password::hash(PASSWORD),
            "",
            Time90k(T0),
        )
        .unwrap();
    let anon = client();
    let (mut nobody, mut csrf) = login_as(&s, "nobody.here").await;
    let routes = veil_web::routes();
    assert!(routes.len() >= 25, "the table lists the routes");
    let mut checked = 0;
    for r in &routes {
        for m in r.methods {
            let what = format!("{m} {}", r.path);
            let a = call(&anon, &s, m, r.path, "").await;
            match r.guard {
                Guard::Public => assert_ne!(a, StatusCode::UNAUTHORIZED, "{what} is public"),
                _ => assert!(
                    a == StatusCode::UNAUTHORIZED
                        || (a == StatusCode::SEE_OTHER && *m == Method::GET),
                    "{what}: anonymous got {a}"
                ),
            }
            let n = call(&nobody, &s, m, r.path, &csrf).await;
            match r.guard {
                Guard::Permission => {
                    assert_eq!(n, StatusCode::FORBIDDEN, "{what}: a user without roles")
                }
                Guard::Session | Guard::Public => assert!(
                    n != StatusCode::FORBIDDEN && n != StatusCode::UNAUTHORIZED,
                    "{what}: a signed-in user got {n}"
                ),
            }
            if *m == Method::DELETE && r.path == "/api/v1/session" {
                (nobody, csrf) = login_as(&s, "nobody.here").await; // that was a logout
            }
            checked += 1;
        }
    }
    // Methods the table does not list are not answered (405), so the table
    // and the router agree route by route.
    let mut paths: Vec<&str> = routes.iter().map(|r| r.path).collect();
    paths.dedup();
    for p in paths {
        let listed: Vec<&Method> = routes
            .iter()
            .filter(|r| r.path == p)
            .flat_map(|r| r.methods.iter())
            .collect();
        for m in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
            if listed.contains(&&m) || (p == "/api/v1/session" && m == Method::POST) {
                continue;
            }
            let n = call(&nobody, &s, &m, p, &csrf).await;
            assert_eq!(
                n,
                StatusCode::METHOD_NOT_ALLOWED,
                "{m} {p} is not in the table"
            );
        }
    }
    assert!(checked >= 30, "{checked} route/method pairs");
}

/// The OpenAPI description lists every API route and method, and an
/// independent validator (Python's `openapi-spec-validator`) accepts it.
#[tokio::test]
async fn the_openapi_description_covers_the_routes_and_is_valid() {
    let s = start().await;
    let (c, _) = login(&s).await;
    let doc: serde_json::Value = c
        .get(format!("{}/api/v1/openapi.json", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for r in veil_web::routes()
        .iter()
        .filter(|r| r.path.starts_with("/api/"))
    {
        for m in r.methods {
            let op = &doc["paths"][r.path][m.as_str().to_lowercase()];
            assert!(
                op["summary"].is_string(),
                "{m} {} missing from the description",
                r.path
            );
            if r.guard == Guard::Permission {
                assert!(op["responses"]["403"].is_object(), "{m} {}", r.path);
            }
        }
    }
    let file = s.dir.path().join("openapi.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("python3 with openapi-spec-validator (pip) must be installed");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
