//! The OpenAPI description of the API, built with `utoipa` from the route
//! table ([`crate::routes`]), so it lists every route the server answers with
//! its methods, path parameters and who may call it. Bodies and fields are
//! described in `docs/api.md`.

use axum::http::Method;
use axum::Json;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Required,
    ResponseBuilder, ResponsesBuilder,
};

use crate::{routes, Guard};

/// What an operation does, for people; every API route has one (a test
/// checks).
pub fn summary(method: &Method, path: &str) -> Option<&'static str> {
    Some(match (method.as_str(), path) {
        ("GET", "/api/v1/health") => "Liveness probe",
        ("POST", "/api/v1/session") => "Log in (password, then the second factor if enrolled)",
        ("GET", "/api/v1/session") => "Who am I",
        ("DELETE", "/api/v1/session") => "Log out",
        ("POST", "/api/v1/session/password") => "Change my password",
        ("POST", "/api/v1/session/totp") => {
            "Start enrolling a TOTP second factor (URI and QR code)"
        }
        ("DELETE", "/api/v1/session/totp") => "Remove my second factor",
        ("POST", "/api/v1/session/totp/confirm") => {
            "Confirm enrolment; returns recovery codes once"
        }
        ("GET", "/api/v1/sessions") => "My sessions",
        ("DELETE", "/api/v1/sessions/{id}") => "End one of my sessions",
        ("GET", "/api/v1/tokens") => "My API tokens",
        ("POST", "/api/v1/tokens") => "Create an API token (shown once)",
        ("DELETE", "/api/v1/tokens/{id}") => "Revoke one of my API tokens",
        ("GET", "/api/v1/permissions") => "The permission catalogue",
        ("GET", "/api/v1/roles") => "Roles",
        ("PUT", "/api/v1/roles/{name}") => "Create or replace a role",
        ("DELETE", "/api/v1/roles/{name}") => "Delete a role",
        ("GET", "/api/v1/users") => "Accounts",
        ("POST", "/api/v1/users") => "Create a personal account",
        ("PUT", "/api/v1/users/{id}") => "Change an account's roles, state or training date",
        ("DELETE", "/api/v1/users/{id}/sessions") => "End every session of an account",
        ("POST", "/api/v1/users/{id}/erase") => "Erase an account's name (the pseudonym stays)",
        ("GET", "/api/v1/policy") => "The current usage policy",
        ("POST", "/api/v1/policy") => "Publish a new usage policy version",
        ("POST", "/api/v1/policy/ack") => "Acknowledge the current usage policy",
        ("GET", "/api/v1/settings/four-eyes") => "Permissions that need a second person's approval",
        ("PUT", "/api/v1/settings/four-eyes") => "Set the permissions that need approval",
        ("GET", "/api/v1/approvals") => "My requests and those I may decide",
        ("POST", "/api/v1/approvals") => "Ask for a four-eyes approval",
        ("POST", "/api/v1/approvals/{id}/decision") => "Approve or reject a request",
        ("GET", "/api/v1/audit") => "Read the access record (filters, paging)",
        ("GET", "/api/v1/audit/report") => "Key indicators (JSON, CSV, HTML)",
        ("GET", "/api/v1/audit/export") => "Signed offline export (JSON Lines)",
        ("GET", "/api/v1/openapi.json") => "This description",
        ("GET", "/api/v1/cameras") => "Cameras I may see",
        ("POST", "/api/v1/cameras") => "Add a camera",
        ("GET", "/api/v1/cameras/{id}") => "A camera's settings (never its credentials)",
        ("PUT", "/api/v1/cameras/{id}") => "Change a camera",
        ("DELETE", "/api/v1/cameras/{id}") => "Remove a camera (its recordings stay)",
        ("GET", "/api/v1/cameras/{id}/status") => "A camera's ingest status",
        ("GET", "/api/v1/cameras/{id}/recordings") => "Recorded periods",
        ("GET", "/api/v1/cameras/{id}/video.mp4") => "Recorded video as MP4 (ranges)",
        ("GET", "/api/v1/cameras/{id}/live") => "Live video (WebSocket, fragmented MP4)",
        _ => return None,
    })
}

fn http_method(m: &Method) -> Option<HttpMethod> {
    Some(match *m {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::DELETE => HttpMethod::Delete,
        _ => return None,
    })
}

/// The path's `{name}` parameters.
fn path_parameters(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_owned)
        .collect()
}

/// The OpenAPI 3.1 document.
pub fn document() -> OpenApi {
    let mut paths = PathsBuilder::new();
    for r in routes().iter().filter(|r| r.path.starts_with("/api/")) {
        for m in r.methods {
            let (Some(hm), Some(summary)) = (http_method(m), summary(m, r.path)) else {
                continue;
            };
            let mut op = OperationBuilder::new()
                .summary(Some(summary))
                .tag(r.path.split('/').nth(3).unwrap_or("api"));
            for p in path_parameters(r.path) {
                op = op.parameter(
                    ParameterBuilder::new()
                        .name(p)
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .schema(Some(
                            utoipa::openapi::ObjectBuilder::new()
                                .schema_type(utoipa::openapi::schema::Type::String),
                        )),
                );
            }
            let mut responses = ResponsesBuilder::new()
                .response("200", ResponseBuilder::new().description("Success"))
                .response(
                    "400",
                    ResponseBuilder::new()
                        .description("Bad request; the message says what is wrong"),
                );
            if r.guard != Guard::Public {
                responses =
                    responses.response("401", ResponseBuilder::new().description("Not signed in"));
                op = op
                    .security(SecurityRequirement::new("session", Vec::<String>::new()))
                    .security(SecurityRequirement::new("token", Vec::<String>::new()));
            }
            if r.guard == Guard::Permission {
                responses = responses.response(
                    "403",
                    ResponseBuilder::new()
                        .description("Refused by the policy engine; the message gives the reason"),
                );
            }
            responses = responses.response(
                "503",
                ResponseBuilder::new()
                    .description("The access record cannot be written, so the action is refused"),
            );
            op = op.responses(responses.build());
            paths = paths.path(r.path, PathItem::new(hm, op.build()));
        }
    }
    let components = ComponentsBuilder::new()
        .security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        )
        .security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Veil API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Video management that enforces privacy. Every route is default-deny; see docs/api.md.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .build()
}

/// `GET /api/v1/openapi.json` (any signed-in user).
pub async fn openapi_json() -> Json<OpenApi> {
    Json(document())
}
