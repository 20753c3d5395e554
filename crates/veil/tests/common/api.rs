//! An API session beside the browser or the CLI: signs an account of the
//! `veil demo` (or `veil serve`) server in over `POST /api/v1/session` and
//! sends requests with its cookies and CSRF token.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::webdriver::Res;
use super::Demo;

/// A signed-in API session: its own HTTP client (which keeps the cookies),
/// the session token and the CSRF token.
pub struct Api {
    http: reqwest::Client,
    base: String,
    /// The `veil_session` cookie (to hand the session to a browser).
    pub token: String,
    /// The `veil_csrf` cookie, sent back as `X-CSRF-Token`.
    pub csrf: String,
}

/// The value of the cookie `name` set by `resp`.
fn cookie_value(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            let (kv, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
}

/// The demo's own account's password, printed on the first start.
pub fn demo_password(demo: &Demo) -> Res<String> {
    demo.password
        .clone()
        .ok_or_else(|| "the demo printed no password on first start".to_string())
}

impl Api {
    /// Signs `user` in; fails unless the server answers with a success and
    /// both cookies.
    pub async fn login(demo: &Demo, user: &str, password: &str) -> Res<Api> {
        let http = super::client();
        let resp = http
            .post(demo.at("api/v1/session"))
            .json(&json!({ "username": user, "password": password }))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let token = cookie_value(&resp, "veil_session");
        let csrf = cookie_value(&resp, "veil_csrf");
        let body = resp.text().await.unwrap_or_default();
        match (token, csrf) {
            (Some(token), Some(csrf)) if status.is_success() => Ok(Api {
                http,
                base: demo.url.clone(),
                token,
                csrf,
            }),
            _ => Err(format!("login of {user}: {status} {body}")),
        }
    }

    /// Signs the demo's own account (an administrator) in.
    pub async fn login_demo(demo: &Demo) -> Res<Api> {
        Api::login(demo, &demo.user, &demo_password(demo)?).await
    }

    /// Signs `name` in with its one-time password and replaces it with
    /// `new`; the session goes on.
    pub async fn first_login(demo: &Demo, name: &str, one_time: &str, new: &str) -> Res<Api> {
        let api = Api::login(demo, name, one_time).await?;
        api.send(
            Method::POST,
            "api/v1/session/password",
            Some(json!({ "current": one_time, "new": new })),
            StatusCode::NO_CONTENT,
        )
        .await
        .map_err(|e| format!("password change of {name}: {e}"))?;
        Ok(api)
    }

    /// Sends `method path` (relative to the server's root) with the CSRF
    /// token and `body` as JSON; returns the status and the JSON answer
    /// (null when there is none or it is not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Res<(StatusCode, Value)> {
        let url = format!("{}{}", self.base, path.trim_start_matches('/'));
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header("x-csrf-token", &self.csrf);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// `GET path` (relative to the server's root); returns the status and
    /// the body as bytes (for video).
    pub async fn bytes(&self, path: &str) -> Res<(StatusCode, Vec<u8>)> {
        let url = format!("{}{}", self.base, path.trim_start_matches('/'));
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| format!("GET {url}: {e}"))?;
        Ok((status, body.to_vec()))
    }

    /// [`Api::call`], failing unless the status is `expect`; returns the
    /// JSON answer.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        expect: StatusCode,
    ) -> Res<Value> {
        let (status, v) = self.call(method.clone(), path, body).await?;
        if status != expect {
            return Err(format!("{method} {path}: {status} (wanted {expect}) {v}"));
        }
        Ok(v)
    }

    /// Creates the account `name` with `roles`; returns its one-time
    /// password.
    pub async fn create_user(&self, name: &str, roles: &[&str]) -> Res<String> {
        let v = self
            .send(
                Method::POST,
                "api/v1/users",
                Some(json!({ "name": name, "roles": roles })),
                StatusCode::CREATED,
            )
            .await
            .map_err(|e| format!("creating {name}: {e}"))?;
        Ok(v["password"].as_str().ok_or("no password")?.to_owned())
    }

    /// Gives the account `name` the roles `roles` in place of its own.
    pub async fn set_roles(&self, name: &str, roles: &[&str]) -> Res<()> {
        let users = self
            .send(Method::GET, "api/v1/users", None, StatusCode::OK)
            .await?;
        let id = users["users"]
            .as_array()
            .and_then(|a| a.iter().find(|u| u["name"] == name))
            .and_then(|u| u["id"].as_str())
            .ok_or(format!("no account {name}: {users}"))?;
        self.send(
            Method::PUT,
            &format!("api/v1/users/{id}"),
            Some(json!({ "roles": roles })),
            StatusCode::NO_CONTENT,
        )
        .await
        .map(|_| ())
    }

    /// Enrols a TOTP second factor for the signed-in account.
    pub async fn enrol_totp(&self) -> Res<()> {
        let enrol = self
            .send(Method::POST, "api/v1/session/totp", None, StatusCode::OK)
            .await?;
        let secret =
            veil_access::totp::TotpSecret::from_base32(enrol["secret"].as_str().unwrap_or(""))
                .ok_or("the enrolment's secret is not base32")?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs() as i64;
        self.send(
            Method::POST,
            "api/v1/session/totp/confirm",
            Some(json!({ "code": format!("{:06}", veil_access::totp::code_at(&secret, now)) })),
            StatusCode::OK,
        )
        .await
        .map(|_| ())
    }

    /// Acknowledges the usage policy if a version is published that the
    /// account has not acknowledged.
    pub async fn acknowledge_policy(&self) -> Res<()> {
        let policy = self
            .send(Method::GET, "api/v1/policy", None, StatusCode::OK)
            .await?;
        if policy["acknowledged"] != true {
            self.send(
                Method::POST,
                "api/v1/policy/ack",
                Some(json!({ "version": policy["version"] })),
                StatusCode::NO_CONTENT,
            )
            .await?;
        }
        Ok(())
    }
}

/// Creates the account `name` with `roles` (comma-separated) with
/// `veil admin add-user` on the server's data directory; returns the
/// one-time password it prints.
pub fn add_user_cli(demo: &Demo, name: &str, roles: &str) -> Res<String> {
    let data = demo.data_dir.to_str().ok_or("data directory not UTF-8")?;
    let (ok, out) = super::run_veil(&["admin", "add-user", name, "--roles", roles, "--data", data]);
    if !ok {
        return Err(format!("add-user {name}: {out}"));
    }
    out.split("password: ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .map(str::to_owned)
        .ok_or(format!("no password printed: {out}"))
}
