//! The API's error type and its one mapping to HTTP status codes.
//!
//! Bodies are `{"error": {"code": "...", "message": "..."}}`; messages are
//! written for the user and never carry internals (paths, SQL, keys).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The code and message of an error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `bad_request`, `justification_required`,
    /// `unauthenticated`, `bad_credentials`, `account_expired`, `second_factor_required`,
    /// `bad_second_factor`, `bad_token`, `forbidden`, `csrf`, `not_found`,
    /// `conflict`, `too_large`, `bad_range`, `locked`, `internal`,
    /// `audit_unavailable`, `busy`.
    #[schema(example = "forbidden")]
    pub code: String,
    /// For people; never carries paths, SQL or keys.
    pub message: String,
}

/// A JSON body, or a 400/413 that says what is wrong with it.
pub fn json_body<T>(
    body: Result<Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, ApiError> {
    match body {
        Ok(Json(v)) => Ok(v),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::too_large()),
        Err(e) => Err(ApiError::bad_request(e.body_text())),
    }
}

impl ApiError {
    /// 413: the body is over [`crate::MAX_BODY_BYTES`].
    pub fn too_large() -> ApiError {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "too_large",
            message: format!(
                "the request body is larger than {} KiB",
                crate::MAX_BODY_BYTES / 1024
            ),
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
        }
    }
    /// 401.
    pub fn unauthenticated() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthenticated",
            message: "sign in first".into(),
        }
    }
    /// 403.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: message.into(),
        }
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
        }
    }
    /// 503 when the access record cannot be written: the action is refused.
    pub fn audit_unavailable() -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "audit_unavailable",
            message: "the access record cannot be written, so access is refused".into(),
        }
    }
    /// 500; the cause is logged, not returned.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "internal error");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error".into(),
        }
    }
}

impl From<veil_store::Error> for ApiError {
    fn from(e: veil_store::Error) -> ApiError {
        match e {
            veil_store::Error::NotFound(_) => ApiError::not_found("not found"),
            // The lift path's refusals: the message names what is missing
            // and never holds an identity.
            veil_store::Error::Lift(m) => crate::lift::refused(m),
            veil_store::Error::Invalid(m) => {
                tracing::warn!(error = %m, "store rejected a request");
                ApiError::bad_request("the request cannot be carried out")
            }
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}
