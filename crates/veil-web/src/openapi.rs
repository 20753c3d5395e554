//! The OpenAPI 3.1 description of the API, built with `utoipa` from the route
//! table ([`crate::routes`]) and the handlers' own types: every route and
//! method with its path, query and header parameters and their types, the
//! JSON schema of its request body (derived from the type the handler
//! deserialises, [`utoipa::ToSchema`]), and every status it can answer with
//! the schema or content type of that answer: the handler's own, and those
//! its guard and the middleware add (401 and 403, 413 for any over-limit
//! body, 503 where the access record is appended to, 500). Errors share one
//! schema, [`ErrorBody`].
//!
//! [`spec`] is the one table of what each handler takes and answers; a test
//! checks that it covers every route of [`crate::routes`], and the API fuzz
//! (`scripts/api-fuzz`) checks the server against the document.

use std::collections::BTreeMap;

use axum::extract::{Extension, State};
use axum::http::Method;
use axum::Json;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref,
    RefOr, Required, ResponseBuilder, ResponsesBuilder,
};
use utoipa::ToSchema;
use veil_access::{Action, Resource};

use crate::admin::{
    Ack, ApprovalList, ApprovalRequest, ApprovalState, CreatedUser, DecisionBody, FourEyes,
    FourEyesView, NewPolicy, NewUser, PasswordChange, PermissionJson, PolicyVersion, PolicyView,
    UserChange, UserList,
};
use crate::api::{CameraSummary, Health, LoginRequest, LoginResponse, Me, Recordings};
use crate::audit::{Erased, Page};
use crate::auth::Session;
use crate::authn::{
    Code, CreatedToken, LanguageChoice, NewToken, RecoveryCodes, ResetSecondFactor, Revoked,
    SessionList, TokenList, TotpEnrolment,
};
use crate::bookmarks::{BookmarkJson, BookmarkList, BookmarkRetention, NewBookmark, NoteChange};
use crate::breaches::{
    BreachBody, BreachDecisionBody, BreachJson, BreachList, CandidateJson, CandidateList,
    DismissBody, NotifiedBody,
};
use crate::camera_retention::{CameraRetentionView, RetentionRequest};
use crate::cameras::{CameraRequest, CameraStatusView, CameraView};
use crate::data_retention::RetentionList;
use crate::disclosures::{
    CreatedDisclosure, DestructionConfirmation, DisclosureJson, DisclosureList, NewDisclosureBody,
};
use crate::dpo::{AccessReviewBody, AccessReviews, Compliance, Created, Desk, ReviewBody};
use crate::error::{ApiError, ErrorBody};
use crate::events::Events;
use crate::exports::{ExportCreated, ExportJson, ExportList, ExportRequestBody};
use crate::masks::{MaskChange, MaskSet};
use crate::model::{AuditReport, RoleDefinition, RoleView};
use crate::processors::{
    CreatedAccount, ExtendBody, ExtendedAccount, NewAccountBody, ProcessorBody, ProcessorJson,
    ProcessorList,
};
use crate::protections::{
    LockExtension, NewHold, NewLock, ProtectionJson, ProtectionList, ReleaseRequest,
};
use crate::quotas::{QuotaChange, QuotaView};
use crate::requests::{
    CompleteBody, DecideBody, Footage, IntervalBody, NewRequestBody, RecipientBody, RecipientList,
    RefuseBody, RequestExtendBody, RequestJson, RequestList, SearchBody, VerifyBody,
};
use crate::system::SystemFigures;
use crate::{routes, AppState, Guard};
use veil_dpo::model::Organisation;

/// The content of an answer.
pub enum Content {
    /// JSON with this schema.
    Json(Box<RefOr<Schema>>),
    /// The error body, [`ErrorBody`].
    Error,
    /// These media types, without a JSON schema (MP4, CSV, HTML, JSON Lines).
    Media(&'static [&'static str]),
    /// No body (204, 201 without a body, the WebSocket upgrade's 101).
    Empty,
}

/// What an operation takes and answers, beyond what its guard and the
/// middleware add (see [`document`]).
pub struct Spec {
    /// What it does, for people.
    pub summary: &'static str,
    /// The schema of its JSON request body, if it takes one.
    pub body: Option<RefOr<Schema>>,
    /// Its query and header parameters.
    pub params: Vec<Parameter>,
    /// Its own answers: status, description, content.
    pub answers: Vec<(u16, &'static str, Content)>,
    /// It appends to the access record, so it may answer 503.
    pub records: bool,
}

impl Spec {
    fn new(summary: &'static str) -> Spec {
        Spec {
            summary,
            body: None,
            params: Vec::new(),
            answers: Vec::new(),
            records: false,
        }
    }

    fn body(mut self, schema: RefOr<Schema>) -> Spec {
        self.body = Some(schema);
        self
    }

    fn param(
        mut self,
        at: ParameterIn,
        name: &str,
        required: bool,
        schema: impl Into<RefOr<Schema>>,
        description: &str,
    ) -> Spec {
        self.params.push(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(at)
                .required(if required {
                    Required::True
                } else {
                    Required::False
                })
                .description(Some(description))
                .schema(Some(schema))
                .build(),
        );
        self
    }

    fn query(
        self,
        name: &str,
        required: bool,
        schema: impl Into<RefOr<Schema>>,
        description: &str,
    ) -> Spec {
        self.param(ParameterIn::Query, name, required, schema, description)
    }

    fn ok(mut self, status: u16, description: &'static str, content: Content) -> Spec {
        self.answers.push((status, description, content));
        self
    }

    fn error(self, status: u16, description: &'static str) -> Spec {
        self.ok(status, description, Content::Error)
    }

    fn recorded(mut self) -> Spec {
        self.records = true;
        self
    }
}

/// The schemas the document refers to, collected as they are used.
#[derive(Default)]
pub struct Schemas(BTreeMap<String, RefOr<Schema>>);

impl Schemas {
    /// A reference to `T`'s schema, which is added with those it refers to.
    pub fn of<T: ToSchema>(&mut self) -> RefOr<Schema> {
        let mut nested = Vec::new();
        T::schemas(&mut nested);
        for (name, schema) in nested {
            self.0.entry(name).or_insert(schema);
        }
        let name = T::name().into_owned();
        self.0.entry(name.clone()).or_insert_with(T::schema);
        Ref::from_schema_name(name).into()
    }

    /// An array of `T`.
    pub fn list_of<T: ToSchema>(&mut self) -> RefOr<Schema> {
        ArrayBuilder::new().items(self.of::<T>()).build().into()
    }

    fn json<T: ToSchema>(&mut self) -> Content {
        Content::Json(Box::new(self.of::<T>()))
    }
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn date_time() -> ObjectBuilder {
    string().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
}

fn integer() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
}

fn one_of_strings(values: &[&str]) -> ObjectBuilder {
    string().enum_values(Some(values.iter().copied()))
}

const SELF_GRANT: &str = "Refused by the policy engine (the message gives the reason), `csrf` \
     (a cookie session without its X-CSRF-Token), or `separation_of_duties`: the change would \
     give the caller audit.read or masks.lift";

const TIME: &str = "RFC 3339, e.g. 2026-11-23T10:00:00Z; an empty value counts as absent";

/// What `method path` takes and answers; `None` for routes that are not
/// part of the API (pages, static files).
pub fn spec(method: &Method, path: &str, s: &mut Schemas) -> Option<Spec> {
    use ParameterIn::Header;
    const NO_CONTENT: Content = Content::Empty;
    let bad = "The body or a parameter is refused; the message says why";
    Some(match (method.as_str(), path) {
        ("GET", "/api/v1/health") => Spec::new("Liveness probe: database, access record, disk")
            .ok(200, "Every part works", s.json::<Health>())
            .ok(503, "A part fails; `failing` names it", s.json::<Health>())
            .error(
                401,
                "`bad_token`: an `Authorization: Bearer` token that is unknown, revoked or expired",
            ),
        ("POST", "/api/v1/session") => Spec::new(
            "Log in (password, then the second factor if enrolled)",
        )
        .body(s.of::<LoginRequest>())
        .ok(
            200,
            "Signed in; sets the `veil_session` and `veil_csrf` cookies",
            s.json::<LoginResponse>(),
        )
        .error(400, "Malformed body, or username or password too long")
        .error(
            401,
            "`bad_credentials`, `second_factor_required` (send `code`), \
                     `bad_second_factor`, or `bad_token` for an unknown bearer token",
        )
        .error(
            429,
            "`locked`: too many failed attempts; the message says how long to wait",
        )
        .error(
            503,
            "The access record cannot be written, or too many password checks wait (`busy`)",
        )
        .recorded(),
        ("GET", "/api/v1/session") => Spec::new("Who am I").ok(200, "The caller", s.json::<Me>()),
        ("DELETE", "/api/v1/session") => Spec::new("Log out")
            .ok(204, "Signed out; both cookies expire", NO_CONTENT)
            .recorded(),
        ("POST", "/api/v1/session/password") => Spec::new("Change my password")
            .body(s.of::<PasswordChange>())
            .ok(
                204,
                "Changed; the account's other sessions ended",
                NO_CONTENT,
            )
            .error(400, "A password rule is broken; the message says which")
            .error(429, "`locked`: too many wrong current passwords")
            .error(
                503,
                "The access record cannot be written, or too many password checks wait (`busy`)",
            )
            .recorded(),
        ("POST", "/api/v1/session/totp") => {
            Spec::new("Start enrolling a TOTP second factor (URI and QR code)")
                .ok(200, "The pending enrolment", s.json::<TotpEnrolment>())
                .error(409, "A second factor is enrolled already")
        }
        ("DELETE", "/api/v1/session/totp") => Spec::new("Remove my second factor")
            .body(s.of::<Code>())
            .ok(204, "Removed", NO_CONTENT)
            .error(400, "Malformed body, or the code does not match")
            .error(429, "`locked`: too many wrong codes")
            .recorded(),
        ("POST", "/api/v1/session/totp/confirm") => {
            Spec::new("Confirm enrolment; returns recovery codes once")
                .body(s.of::<Code>())
                .ok(200, "Enrolled", s.json::<RecoveryCodes>())
                .error(400, "No enrolment started, or the code does not match")
                .recorded()
        }
        ("PUT", "/api/v1/session/language") => Spec::new("Choose the language of my web client")
            .body(s.of::<LanguageChoice>())
            .ok(204, "Saved; pages follow it from the next load", NO_CONTENT)
            .error(400, "Malformed body, or a language Veil does not have"),
        ("GET", "/api/v1/sessions") => {
            Spec::new("My sessions").ok(200, "Newest first", s.json::<SessionList>())
        }
        ("DELETE", "/api/v1/sessions/{id}") => Spec::new("End one of my sessions")
            .ok(204, "Ended", NO_CONTENT)
            .error(404, "The caller has no session with this id")
            .recorded(),
        ("GET", "/api/v1/tokens") => Spec::new("My API tokens, or every account's")
            .query(
                "all",
                false,
                ObjectBuilder::new().schema_type(Type::Boolean),
                "`true`: every account's tokens with their owners (needs users.admin)",
            )
            .ok(200, "Never their values", s.json::<TokenList>())
            .error(400, "A parameter is refused (or unknown); the message names it"),
        ("POST", "/api/v1/tokens") => Spec::new("Create an API token (shown once)")
            .body(s.of::<NewToken>())
            .ok(
                201,
                "Created; the token is shown this once",
                s.json::<CreatedToken>(),
            )
            .error(400, bad)
            .recorded(),
        ("DELETE", "/api/v1/tokens/{id}") => {
            Spec::new("Revoke one of my API tokens (a user administrator: anyone's)")
                .ok(204, "Revoked", NO_CONTENT)
                .error(404, "No token with this id that the caller may revoke")
                .recorded()
        }
        ("GET", "/api/v1/permissions") => Spec::new("The permission catalogue").ok(
            200,
            "In catalogue order",
            Content::Json(Box::new(s.list_of::<PermissionJson>())),
        ),
        ("GET", "/api/v1/roles") => Spec::new("Roles").ok(
            200,
            "Every role",
            Content::Json(Box::new(s.list_of::<RoleView>())),
        ),
        ("PUT", "/api/v1/roles/{name}") => Spec::new("Create or replace a role")
            .body(s.of::<RoleDefinition>())
            .ok(201, "Created", NO_CONTENT)
            .ok(204, "Replaced", NO_CONTENT)
            .error(400, bad)
            .error(403, SELF_GRANT)
            .error(
                409,
                "`last_user_admin`: no enabled account would hold users.admin any more",
            )
            .recorded(),
        ("DELETE", "/api/v1/roles/{name}") => Spec::new("Delete a role")
            .ok(204, "Deleted; its holders lose it", NO_CONTENT)
            .error(404, "No such role")
            .error(
                409,
                "`last_user_admin`: no enabled account would hold users.admin any more",
            )
            .recorded(),
        ("GET", "/api/v1/users") => {
            Spec::new("Accounts").ok(200, "Every account", s.json::<UserList>())
        }
        ("POST", "/api/v1/users") => Spec::new("Create a personal account")
            .body(s.of::<NewUser>())
            .ok(201, "Created", s.json::<CreatedUser>())
            .error(400, bad)
            .error(409, "An account with this name exists")
            .recorded(),
        ("PUT", "/api/v1/users/{id}") => {
            Spec::new("Change an account's roles, state or training date")
                .body(s.of::<UserChange>())
                .ok(204, "Changed", NO_CONTENT)
                .error(400, bad)
                .error(403, SELF_GRANT)
                .error(404, "No such user")
                .error(
                    409,
                    "`last_user_admin`: no enabled account would hold users.admin any more",
                )
                .recorded()
        }
        ("POST", "/api/v1/users/{id}/second-factor/reset") => {
            Spec::new("Reset an account's second factor (with a justification)")
                .body(s.of::<ResetSecondFactor>())
                .ok(
                    204,
                    "Reset; the account's sessions ended, it enrols again at next login",
                    NO_CONTENT,
                )
                .error(
                    400,
                    "`justification_required`, the caller's own account, or a malformed body",
                )
                .error(404, "No such user")
                .recorded()
        }
        ("DELETE", "/api/v1/users/{id}/sessions") => Spec::new("End every session of an account")
            .ok(200, "How many ended", s.json::<Revoked>())
            .error(404, "No such user")
            .recorded(),
        ("POST", "/api/v1/users/{id}/erase") => {
            Spec::new("Erase an account's name (the pseudonym stays)")
                .ok(200, "Erased", s.json::<Erased>())
                .error(400, "The caller's own account")
                .error(404, "No such user")
                .recorded()
        }
        ("GET", "/api/v1/policy") => {
            Spec::new("The current usage policy").ok(200, "The policy", s.json::<PolicyView>())
        }
        ("POST", "/api/v1/policy") => Spec::new("Publish a new usage policy version")
            .body(s.of::<NewPolicy>())
            .ok(201, "Published", s.json::<PolicyVersion>())
            .error(400, bad)
            .recorded(),
        ("POST", "/api/v1/policy/ack") => Spec::new("Acknowledge the current usage policy")
            .body(s.of::<Ack>())
            .ok(204, "Acknowledged", NO_CONTENT)
            .error(400, "Not the current version, or none is published")
            .recorded(),
        ("GET", "/api/v1/settings/four-eyes") => {
            Spec::new("Permissions that need a second person's approval").ok(
                200,
                "The set and what is enforced",
                s.json::<FourEyesView>(),
            )
        }
        ("PUT", "/api/v1/settings/four-eyes") => {
            Spec::new("Set the permissions that need approval")
                .body(s.of::<FourEyes>())
                .ok(204, "Set", NO_CONTENT)
                .error(400, bad)
                .recorded()
        }
        ("GET", "/api/v1/approvals") => Spec::new("My requests and those I may decide").ok(
            200,
            "The requests",
            s.json::<ApprovalList>(),
        ),
        ("POST", "/api/v1/approvals") => Spec::new("Ask for a four-eyes approval")
            .body(s.of::<ApprovalRequest>())
            .ok(201, "Asked; pending", s.json::<ApprovalState>())
            .error(400, "`bad_request`, or `justification_required`")
            .recorded(),
        ("POST", "/api/v1/approvals/{id}/decision") => Spec::new("Approve or reject a request")
            .body(s.of::<DecisionBody>())
            .ok(200, "Decided", s.json::<ApprovalState>())
            .error(400, "`bad_request`, or `justification_required`")
            .error(404, "No such request")
            .error(409, "The request is no longer pending")
            .recorded(),
        ("GET", "/api/v1/audit") => {
            let actions: Vec<&str> = veil_audit::Action::ALL.iter().map(|a| a.as_str()).collect();
            Spec::new("Read the access record (filters, paging)")
                .query(
                    "actor",
                    false,
                    string(),
                    "A current user's login name, or a pseudonym (u-…, anonymous, cli, system)",
                )
                .query("camera", false, integer().minimum(Some(0)), "A camera id")
                .query("action", false, one_of_strings(&actions), "An action id")
                .query(
                    "outcome",
                    false,
                    one_of_strings(&["ok", "denied"]),
                    "The outcome",
                )
                .query("from", false, date_time(), TIME)
                .query("to", false, date_time(), TIME)
                .query(
                    "before",
                    false,
                    integer().minimum(Some(1)),
                    "A sequence number: only older entries (the paging cursor)",
                )
                .query(
                    "limit",
                    false,
                    integer().minimum(Some(1)).maximum(Some(1000)),
                    "Page size (default 100)",
                )
                .ok(200, "Newest first", s.json::<Page>())
                .error(
                    400,
                    "A parameter is refused (or unknown); the message names it",
                )
                .recorded()
        }
        ("GET", "/api/v1/audit/report") => Spec::new("Key indicators (JSON, CSV, HTML)")
            .query("from", true, date_time(), "RFC 3339, inclusive")
            .query("to", true, date_time(), "RFC 3339, exclusive; after `from`")
            .query(
                "format",
                false,
                one_of_strings(&["json", "csv", "html"]),
                "Default `json`",
            )
            .ok(200, "The report", s.json::<AuditReport>())
            .ok(200, "", Content::Media(&["text/csv", "text/html"]))
            .error(
                400,
                "A parameter is refused (or unknown); the message names it",
            )
            .recorded(),
        ("GET", "/api/v1/audit/export") => {
            let bound = || -> RefOr<Schema> {
                Schema::AnyOf(
                    AnyOfBuilder::new()
                        .item(integer())
                        .item(date_time())
                        .build(),
                )
                .into()
            };
            Spec::new("Signed offline export (JSON Lines)")
                .query(
                    "from",
                    false,
                    bound(),
                    "A sequence number, or an RFC 3339 time (the first entry at or after it)",
                )
                .query(
                    "to",
                    false,
                    bound(),
                    "A sequence number, or an RFC 3339 time (the last entry before it)",
                )
                .ok(
                    200,
                    "Entries, covering checkpoints and the public key (docs/audit-format.md)",
                    Content::Media(&["application/jsonl"]),
                )
                .error(400, "A bound that is neither, or `from` after `to`")
                .error(503, "The export cannot be recorded or signed")
                .recorded()
        }
        ("GET", "/api/v1/retention") => Spec::new(
            "Every personal data set with its rule, items, oldest item and next destruction \
             (retention.admin)",
        )
        .ok(200, "The data sets, recordings per camera first", s.json::<RetentionList>()),
        ("GET", "/api/v1/system") => Spec::new(
            "Operating figures: cameras, disk, access record, version (metrics.read)",
        )
        .ok(200, "The figures now", s.json::<SystemFigures>()),
        ("GET", "/metrics") => Spec::new(
            "Operating figures in the Prometheus text format (metrics.read; docs/api.md lists them)",
        )
        .ok(
            200,
            "Prometheus text exposition format 0.0.4",
            Content::Media(&["text/plain; version=0.0.4; charset=utf-8"]),
        ),
        ("GET", "/api/v1/openapi.json") => Spec::new("This description").ok(
            200,
            "OpenAPI 3.1",
            Content::Json(Box::new(
                ObjectBuilder::new().schema_type(Type::Object).into(),
            )),
        ),
        ("GET", "/api/v1/cameras") => Spec::new("Cameras I may see").ok(
            200,
            "The cameras",
            Content::Json(Box::new(s.list_of::<CameraSummary>())),
        ),
        ("POST", "/api/v1/cameras") => Spec::new("Add a camera")
            .body(s.of::<CameraRequest>())
            .ok(201, "Added; recording starts", s.json::<CameraView>())
            .error(400, bad)
            .error(409, "A camera with this name exists")
            .recorded(),
        ("GET", "/api/v1/cameras/{id}") => Spec::new("A camera's settings (never its credentials)")
            .ok(200, "The camera", s.json::<CameraView>())
            .error(404, "No such camera"),
        ("PUT", "/api/v1/cameras/{id}") => Spec::new("Change a camera")
            .body(s.of::<CameraRequest>())
            .ok(200, "Changed; recording restarts", s.json::<CameraView>())
            .error(400, bad)
            .error(404, "No such camera")
            .error(
                409,
                "The name is taken, the camera is from the configuration file, or \
                 `masks_fixed`: PTZ control cannot be enabled while the camera has privacy masks",
            )
            .recorded(),
        ("DELETE", "/api/v1/cameras/{id}") => Spec::new("Remove a camera (its recordings stay)")
            .ok(204, "Removed", NO_CONTENT)
            .error(404, "No such camera")
            .error(409, "The camera is from the configuration file")
            .recorded(),
        ("GET", "/api/v1/cameras/{id}/status") => Spec::new("A camera's ingest status")
            .ok(200, "The status", s.json::<CameraStatusView>())
            .error(404, "No such camera"),
        ("GET", "/api/v1/cameras/{id}/retention") => {
            Spec::new("A camera's retention per rendition, with where it comes from (retention.admin)")
                .ok(200, "The retention", s.json::<CameraRetentionView>())
                .error(404, "No such camera")
        }
        ("PUT", "/api/v1/cameras/{id}/retention") => Spec::new(
            "Set or remove a camera's own retention per rendition (retention.admin)",
        )
        .body(s.of::<RetentionRequest>())
        .ok(200, "Changed", s.json::<CameraRetentionView>())
        .error(
            400,
            "Under 1 hour, over the maximum, over 30 days without a justification, or an \
             unknown rendition: the message names the field; nothing changes",
        )
        .error(404, "No such camera")
        .recorded(),
        ("PUT", "/api/v1/cameras/{id}/purpose") => Spec::new(
            "Document a camera's purpose (cameras.admin or dpo.documents); it records from its \
             next segment",
        )
        .body(s.of::<veil_dpo::model::Purpose>())
        .ok(204, "Stored", NO_CONTENT)
        .error(
            400,
            "Empty purposes, an unknown legal basis, level of detail or site, no balancing \
             note for (f), or a short retention justification: the message names the field; \
             nothing changes",
        )
        .error(404, "No such camera")
        .recorded(),
        ("DELETE", "/api/v1/cameras/{id}/purpose") => Spec::new(
            "Remove a camera's documented purpose (cameras.admin or dpo.documents): it stops \
             recording at its next segment; live view goes on",
        )
        .ok(204, "Removed", NO_CONTENT)
        .error(404, "No such camera")
        .recorded(),
        ("GET", "/api/v1/cameras/{id}/recordings") => Spec::new("Recorded periods")
            .query("start", false, date_time(), TIME)
            .query("end", false, date_time(), TIME)
            .ok(200, "Runs, oldest first", s.json::<Recordings>())
            .error(400, "A time is refused, or `end` is not after `start`")
            .error(404, "No such camera"),
        ("GET", "/api/v1/cameras/{id}/events") => Spec::new("Motion events of the recording gate")
            .query("start", false, date_time(), TIME)
            .query("end", false, date_time(), TIME)
            .ok(
                200,
                "Events overlapping the interval, oldest first (at most 10,000)",
                s.json::<Events>(),
            )
            .error(400, "A time is refused, or `end` is not after `start`")
            .error(404, "No such camera"),
        ("GET", "/api/v1/cameras/{id}/video.mp4") => Spec::new("Recorded video as MP4 (ranges)")
            .query("start", true, date_time(), "RFC 3339")
            .query(
                "end",
                true,
                date_time(),
                "RFC 3339; after `start`, at most 24 h later",
            )
            .query(
                "rendition",
                false,
                one_of_strings(&["default", "original"]),
                "`default` (the default): the camera's default view, `main` or `protected`; \
                 `original`: the video without its liftable masks, through the lift path \
                 (`masks.lift` on the camera, a justification and, when `masks.lift` is \
                 four-eyes, an approved request for `camera:ID` unless an unexpired lift \
                 grant of the caller covers the interval)",
            )
            .query(
                "justification",
                false,
                string(),
                "Why the masks are lifted; required with `rendition=original`, recorded \
                 with the `mask.lift` entry",
            )
            .query(
                "request",
                false,
                integer(),
                "A data-subject request id: the request's player, for `dsr.handle` \
                 instead of `playback`, while the request is searching or decided and the \
                 camera and interval lie in its search scope (403 otherwise); recorded as \
                 `playback` with `request=ID`",
            )
            .param(
                Header,
                "Range",
                false,
                string(),
                "One range: bytes=a-b, bytes=a- or bytes=-n; others are ignored",
            )
            .param(
                Header,
                "X-Veil-Lift-Identity",
                false,
                string(),
                "With `rendition=original` where originals are escrowed: the escrow \
                 identity (AGE-SECRET-KEY-1…), used for this request only and never \
                 stored, logged or echoed",
            )
            .ok(200, "The whole file", Content::Media(&["video/mp4"]))
            .ok(206, "One range of it", Content::Media(&["video/mp4"]))
            .error(
                400,
                "A time is refused, the span is over 24 h, `rendition` is unknown, or a \
                 lift lacks its `justification` or escrow identity",
            )
            .error(
                403,
                "`lift_refused`: the escrow identity does not open the originals; or a \
                 lift needs an approval",
            )
            .error(404, "No such camera, or no recording in the interval")
            .error(
                416,
                "`bad_range`: the range starts at or past the end, or is reversed",
            )
            .recorded(),
        ("GET", "/api/v1/cameras/{id}/live") => Spec::new("Live video (WebSocket, fragmented MP4)")
            .ok(101, "Switching to the WebSocket", NO_CONTENT)
            .error(400, "Not a WebSocket upgrade")
            .error(404, "No such camera")
            .recorded(),
        ("GET", "/api/v1/bookmarks") => Spec::new("Bookmarks I may see (search)")
            .query("camera", false, integer().minimum(Some(0)), "A camera id")
            .query("start", false, date_time(), TIME)
            .query("end", false, date_time(), TIME)
            .query(
                "q",
                false,
                string().max_length(Some(200)),
                "Text the note contains (case-insensitive for ASCII letters)",
            )
            .ok(200, "Newest first, at most 500", s.json::<BookmarkList>())
            .error(400, "A parameter is refused; the message names it")
            .recorded(),
        ("POST", "/api/v1/bookmarks") => Spec::new("Mark a moment or an interval with a note")
            .body(s.of::<NewBookmark>())
            .ok(201, "Created", s.json::<BookmarkJson>())
            .error(400, bad)
            .recorded(),
        ("PUT", "/api/v1/bookmarks/{id}") => Spec::new("Change a bookmark's note")
            .body(s.of::<NoteChange>())
            .ok(200, "Changed", s.json::<BookmarkJson>())
            .error(400, bad)
            .error(404, "No such bookmark")
            .recorded(),
        ("DELETE", "/api/v1/bookmarks/{id}") => Spec::new("Delete a bookmark")
            .ok(204, "Deleted", NO_CONTENT)
            .error(404, "No such bookmark")
            .recorded(),
        ("GET", "/api/v1/settings/bookmarks") => Spec::new("How long bookmarks are kept").ok(
            200,
            "The retention period",
            s.json::<BookmarkRetention>(),
        ),
        ("PUT", "/api/v1/settings/bookmarks") => {
            Spec::new("Set how long bookmarks are kept (the kept ones too)")
                .body(s.of::<BookmarkRetention>())
                .ok(204, "Set", NO_CONTENT)
                .error(400, bad)
                .recorded()
        }
        ("GET", "/api/v1/cameras/{id}/masks") => Spec::new("A camera's privacy masks")
            .ok(200, "The current version", s.json::<MaskSet>())
            .error(404, "No such camera"),
        ("PUT", "/api/v1/cameras/{id}/masks") => {
            Spec::new("Replace a camera's privacy masks (a new version)")
                .body(s.of::<MaskChange>())
                .ok(200, "The new version", s.json::<MaskSet>())
                .error(400, bad)
                .error(404, "No such camera")
                .error(
                    409,
                    "`masks_fixed`: the camera has PTZ control enabled (masks are fixed to the picture)",
                )
                .recorded()
        }
        ("GET", "/api/v1/locks") => Spec::new("Evidence locks on cameras I may see locks of").ok(
            200,
            "Active first, newest first",
            s.json::<ProtectionList>(),
        ),
        ("POST", "/api/v1/locks") => {
            Spec::new("Lock recordings of cameras over an interval past their retention")
                .body(s.of::<NewLock>())
                .ok(201, "Created; covered segment keys are re-wrapped under the lock's key", s.json::<ProtectionJson>())
                .error(400, bad)
                .recorded()
        }
        ("GET", "/api/v1/locks/{id}") => Spec::new("One evidence lock")
            .ok(200, "The lock", s.json::<ProtectionJson>())
            .error(404, "No such lock"),
        ("POST", "/api/v1/locks/{id}/extend") => {
            Spec::new("Move a lock's review date, with a new reason")
                .body(s.of::<LockExtension>())
                .ok(200, "Extended", s.json::<ProtectionJson>())
                .error(400, bad)
                .error(404, "No such lock")
                .error(409, "The lock is released")
                .recorded()
        }
        ("POST", "/api/v1/locks/{id}/release") => {
            Spec::new("Release a lock: its recordings fall back to retention (four-eyes when configured)")
                .body(s.of::<ReleaseRequest>())
                .ok(200, "Released", s.json::<ProtectionJson>())
                .error(400, bad)
                .error(404, "No such lock")
                .error(409, "The lock is released already")
                .recorded()
        }
        ("GET", "/api/v1/quotas") => Spec::new("Storage quotas and what recordings take").ok(
            200,
            "The installation's and every camera's",
            s.json::<QuotaView>(),
        ),
        ("PUT", "/api/v1/quotas") => {
            Spec::new("Set every storage quota, then enforce them at once")
                .body(s.of::<QuotaChange>())
                .ok(200, "Set and enforced", s.json::<QuotaView>())
                .error(400, bad)
                .recorded()
        }
        ("GET", "/api/v1/holds") => Spec::new("Restriction holds").ok(
            200,
            "Active first, newest first",
            s.json::<ProtectionList>(),
        ),
        ("POST", "/api/v1/holds") => {
            Spec::new("Hold recordings of cameras over an interval: kept, and nobody may view, export or delete them")
                .body(s.of::<NewHold>())
                .ok(201, "Created", s.json::<ProtectionJson>())
                .error(400, bad)
                .recorded()
        }
        ("GET", "/api/v1/holds/{id}") => Spec::new("One restriction hold")
            .ok(200, "The hold", s.json::<ProtectionJson>())
            .error(404, "No such hold"),
        ("POST", "/api/v1/holds/{id}/release") => Spec::new("Release a hold")
            .body(s.of::<ReleaseRequest>())
            .ok(200, "Released", s.json::<ProtectionJson>())
            .error(400, bad)
            .error(404, "No such hold")
            .error(409, "The hold is released already")
            .recorded(),
        ("GET", "/api/v1/disclosures") | ("GET", "/api/v1/disclosures.csv") => {
            let csv = path.ends_with(".csv");
            let spec = Spec::new(if csv {
                "The register of transfers and disclosures as CSV (dpo.documents or audit.read)"
            } else {
                "The register of transfers and disclosures (dpo.documents or audit.read)"
            })
            .query("from", false, date_time(), "Entries whose recordings end after this (RFC 3339)")
            .query("to", false, date_time(), "Entries whose recordings start before this (RFC 3339)")
            .query("camera", false, integer().minimum(Some(0)), "Entries naming this camera id")
            .query(
                "kind",
                false,
                one_of_strings(&["copy", "shown", "verbal", "subject_access"]),
                "Entries of this kind",
            )
            .query(
                "country",
                false,
                string().pattern(Some("^[A-Za-z]{2}$")),
                "The requester's country (ISO 3166-1 alpha-2)",
            )
            .query(
                "organisation",
                false,
                string().max_length(Some(200)),
                "Text the requester's organisation contains (case-insensitive for ASCII letters)",
            )
            .query(
                "limit",
                false,
                integer().minimum(Some(1)).maximum(Some(1000)),
                "At most this many entries, newest first (default 1000)",
            );
            if csv {
                spec.ok(
                    200,
                    "RFC 4180 with a header row; cells a spreadsheet would read as formulas start with '",
                    Content::Media(&["text/csv"]),
                )
            } else {
                spec.ok(200, "Newest first", s.json::<DisclosureList>())
            }
            .error(400, "A parameter is refused (or unknown); the message names it")
            .recorded()
        }
        ("POST", "/api/v1/disclosures") => {
            Spec::new("Enter a showing or telling of recordings in the register (playback on each camera)")
                .body(s.of::<NewDisclosureBody>())
                .ok(201, "Entered", s.json::<CreatedDisclosure>())
                .error(400, bad)
                .recorded()
        }
        ("POST", "/api/v1/disclosures/{id}/destruction") => {
            Spec::new("Enter the recipient's confirmation that they destroyed their copy")
                .body(s.of::<DestructionConfirmation>())
                .ok(200, "Entered", s.json::<DisclosureJson>())
                .error(400, bad)
                .error(404, "No such entry")
                .error(409, "Not a copy, or its destruction is confirmed already")
                .recorded()
        }
        ("GET", "/api/v1/breach-candidates") => Spec::new(
            "Breach candidates raised from the system's own signals, newest first; the \
             access record is scanned (and verified) first (dpo.documents)",
        )
        .query(
            "status",
            false,
            one_of_strings(&["open", "dismissed", "promoted"]),
            "Only candidates with this status (all when absent)",
        )
        .ok(200, "Newest first", s.json::<CandidateList>())
        .error(400, "A parameter is refused (or unknown); the message names it")
        .recorded(),
        ("POST", "/api/v1/breach-candidates/{id}/dismiss") => {
            Spec::new("Dismiss an open breach candidate with a reason (dpo.documents)")
                .body(s.of::<DismissBody>())
                .ok(200, "Dismissed", s.json::<CandidateJson>())
                .error(400, bad)
                .error(404, "No such candidate")
                .error(409, "Not open")
                .recorded()
        }
        ("POST", "/api/v1/breach-candidates/{id}/promote") => Spec::new(
            "Promote an open breach candidate to a breach detected when it was raised \
             (dpo.documents)",
        )
        .ok(201, "The new breach", s.json::<BreachJson>())
        .error(404, "No such candidate")
        .error(409, "Not open")
        .recorded(),
        ("GET", "/api/v1/breaches") => {
            Spec::new("The breach register, newest detection first, with each breach's 72-hour clock (dpo.documents)")
                .ok(200, "Newest first", s.json::<BreachList>())
        }
        ("POST", "/api/v1/breaches") => Spec::new("Enter a breach in the register (dpo.documents)")
            .body(s.of::<BreachBody>())
            .ok(201, "Entered", s.json::<BreachJson>())
            .error(400, bad)
            .recorded(),
        ("GET", "/api/v1/breaches/{id}") => Spec::new("One breach (dpo.documents)")
            .ok(200, "The breach", s.json::<BreachJson>())
            .error(404, "No such breach"),
        ("PUT", "/api/v1/breaches/{id}") => Spec::new(
            "Replace a breach's detection time and assessment (dpo.documents)",
        )
        .body(s.of::<BreachBody>())
        .ok(200, "Changed", s.json::<BreachJson>())
        .error(400, bad)
        .error(404, "No such breach")
        .recorded(),
        ("POST", "/api/v1/breaches/{id}/decision") => Spec::new(
            "Decide whether to notify the authority or the data subjects, with the reason \
             (dpo.documents)",
        )
        .body(s.of::<BreachDecisionBody>())
        .ok(200, "Decided", s.json::<BreachJson>())
        .error(400, bad)
        .error(404, "No such breach")
        .error(409, "Deciding not to notify those already notified")
        .recorded(),
        ("POST", "/api/v1/breaches/{id}/notified") => Spec::new(
            "Record when the authority or the data subjects were notified; after 72 hours the \
             authority's needs the reasons for the delay (dpo.documents)",
        )
        .body(s.of::<NotifiedBody>())
        .ok(200, "Recorded", s.json::<BreachJson>())
        .error(400, bad)
        .error(404, "No such breach")
        .error(409, "Not decided to notify them")
        .recorded(),
        ("GET", "/api/v1/breaches/{id}/notification") => Spec::new(
            "The notification to the authority with the items of Art. 33(3), as Markdown or \
             printable HTML (dpo.documents)",
        )
        .query(
            "format",
            false,
            one_of_strings(&["md", "html"]),
            "Markdown (default) or printable HTML (A4)",
        )
        .ok(
            200,
            "The notification",
            Content::Media(&["text/markdown", "text/html"]),
        )
        .error(400, "A parameter is refused (or unknown); the message names it")
        .error(404, "No such breach")
        .recorded(),
        ("GET", "/api/v1/processors") => {
            Spec::new("The register of processors (dpo.documents or users.admin)")
                .query(
                    "removed",
                    false,
                    ObjectBuilder::new().schema_type(Type::Boolean),
                    "Include processors removed from the register",
                )
                .ok(200, "By id", s.json::<ProcessorList>())
                .error(400, "A parameter is refused (or unknown)")
        }
        ("POST", "/api/v1/processors") => {
            Spec::new("Enter a processor in the register (dpo.documents)")
                .body(s.of::<ProcessorBody>())
                .ok(201, "Entered", s.json::<ProcessorJson>())
                .error(400, bad)
                .recorded()
        }
        ("PUT", "/api/v1/processors/{id}") => {
            Spec::new("Replace a processor's register entry (dpo.documents)")
                .body(s.of::<ProcessorBody>())
                .ok(200, "Changed", s.json::<ProcessorJson>())
                .error(400, bad)
                .error(404, "No such processor")
                .error(409, "Removed from the register")
                .recorded()
        }
        ("DELETE", "/api/v1/processors/{id}") => Spec::new(
            "Remove a processor from the register (dpo.documents): the entry is kept, marked \
             removed, and its accounts are disabled",
        )
        .ok(204, "Removed", Content::Empty)
        .error(404, "No such processor")
        .error(409, "Removed already")
        .recorded(),
        ("POST", "/api/v1/processors/{id}/accounts") => Spec::new(
            "A processor's maintenance account for 1 to 30 days (users.admin and a second \
             person's approval for users.admin on processor:ID, always); the generated \
             password is answered once",
        )
        .body(s.of::<NewAccountBody>())
        .ok(201, "Created", s.json::<CreatedAccount>())
        .error(400, bad)
        .error(404, "No such processor")
        .error(409, "The processor was removed, or the login exists")
        .recorded(),
        ("PUT", "/api/v1/processors/{id}/accounts/{user}") => Spec::new(
            "Extend a maintenance account to 1 to 30 days from now (a fresh approval)",
        )
        .body(s.of::<ExtendBody>())
        .ok(200, "Extended", s.json::<ExtendedAccount>())
        .error(400, bad)
        .error(404, "No such processor, or no such account of it")
        .error(409, "The processor was removed, or the account is disabled")
        .recorded(),
        ("GET", "/api/v1/organisation") => Spec::new(
            "The organisation profile: controller, DPO, sites, authority, where data is stored \
             (dpo.documents or users.admin)",
        )
        .ok(200, "The profile (empty fields when not set)", s.json::<Organisation>()),
        ("PUT", "/api/v1/organisation") => {
            Spec::new("Replace the organisation profile (dpo.documents)")
                .body(s.of::<Organisation>())
                .ok(204, "Replaced", Content::Empty)
                .error(400, bad)
                .error(409, "A site a camera's purpose names would go")
                .recorded()
        }
        ("GET", "/api/v1/dpo") => Spec::new(
            "The DPO's desk: documents to review and what changed since, the compliance summary, \
             overdue access reviews, the DPIA screening (dpo.documents or users.admin)",
        )
        .ok(200, "The desk", s.json::<Desk>()),
        ("GET", "/api/v1/compliance") => Spec::new(
            "The compliance lint of the live configuration (dpo.documents or users.admin)",
        )
        .ok(200, "The findings", s.json::<Compliance>()),
        ("GET", "/api/v1/documents/{kind}") => Spec::new(
            "A document generated from the live configuration: ropa, policy, notice or dpia \
             (dpo.documents)",
        )
        .query(
            "format",
            false,
            one_of_strings(&["md", "html", "json"]),
            "Markdown (default), printable HTML (A4) or JSON",
        )
        .query("site", false, string(), "notice only: one site's page (its id)")
        .ok(
            200,
            "The document (format=json: its structure)",
            Content::Media(&["text/markdown", "text/html"]),
        )
        .ok(200, "", s.json::<veil_dpo::documents::Document>())
        .error(400, "A parameter is refused (or unknown); the message names it")
        .error(404, "No such document kind")
        .recorded(),
        ("POST", "/api/v1/documents/{kind}/review") => {
            Spec::new("Mark a document reviewed at a configuration version (dpo.documents)")
                .body(s.of::<ReviewBody>())
                .ok(201, "Marked", s.json::<Created>())
                .error(400, bad)
                .error(404, "No such document kind")
                .recorded()
        }
        ("GET", "/api/v1/access-reviews") => Spec::new(
            "Enabled accounts with their roles and when their access review is due, overdue \
             first (dpo.documents or users.admin)",
        )
        .ok(200, "The accounts", s.json::<AccessReviews>()),
        ("POST", "/api/v1/access-reviews") => Spec::new(
            "Confirm an account's roles, or revoke some or all (dpo.documents or users.admin; \
             not one's own)",
        )
        .body(s.of::<AccessReviewBody>())
        .ok(201, "Recorded", s.json::<Created>())
        .error(400, bad)
        .recorded(),
        ("POST", "/api/v1/exports") => Spec::new(
            "Export recordings as evidence: a signed package, encrypted with age (a generated \
             passphrase is answered once), entered in the register; written in the background. \
             `redactions` paints bystander boxes (keyframed, interpolated, solid or blur) into \
             the exported video of their camera, which is then re-encoded (stored video is \
             untouched); a bad box is a 400 naming its field",
        )
        .body(s.of::<ExportRequestBody>())
        .ok(201, "Queued", s.json::<ExportCreated>())
        .error(400, bad)
        .error(404, "No such camera, or no recording in the intervals")
        .recorded(),
        ("GET", "/api/v1/exports") => Spec::new("The caller's exports, newest first").ok(
            200,
            "The exports",
            s.json::<ExportList>(),
        ),
        ("GET", "/api/v1/exports/{id}") => Spec::new("State and progress of one's own export")
            .ok(200, "The export", s.json::<ExportJson>())
            .error(404, "No such export of the caller's"),
        ("GET", "/api/v1/exports/{id}/download") => {
            Spec::new("The stored package (until it expires)")
                .ok(
                    200,
                    "The package (.tar.age, or .tar when unencrypted)",
                    Content::Media(&["application/octet-stream"]),
                )
                .error(404, "No such export of the caller's")
                .error(409, "Not done, failed or expired")
                .recorded()
        }
        ("GET", "/api/v1/requests") => Spec::new(
            "Data-subject requests: open ones by due date (overdue first), then closed ones (dsr.handle)",
        )
        .query(
            "status",
            false,
            one_of_strings(&["received", "verified", "searching", "decided", "completed", "refused"]),
            "Only requests in this status",
        )
        .ok(200, "The requests", s.json::<RequestList>())
        .error(400, "An unknown status"),
        ("POST", "/api/v1/requests") => Spec::new("Register a data-subject request (dsr.handle)")
            .body(s.of::<NewRequestBody>())
            .ok(201, "Registered; due one month after receipt", s.json::<RequestJson>())
            .error(400, bad)
            .recorded(),
        ("GET", "/api/v1/requests/{id}") => Spec::new(
            "One request with its marked intervals, recipients told and packages",
        )
        .ok(200, "The request", s.json::<RequestJson>())
        .error(404, "No such request"),
        ("POST", "/api/v1/requests/{id}/verify") => {
            Spec::new("Record how the identity was checked: received → verified")
                .body(s.of::<VerifyBody>())
                .ok(200, "Verified", s.json::<RequestJson>())
                .error(400, bad)
                .error(404, "No such request")
                .error(409, "Not in `received`; the message names its status")
                .recorded()
        }
        ("POST", "/api/v1/requests/{id}/extend") => Spec::new(
            "Extend the due date once, by at most two months after the original one (Art. 12(3))",
        )
        .body(s.of::<RequestExtendBody>())
        .ok(200, "Extended", s.json::<RequestJson>())
        .error(400, bad)
        .error(404, "No such request")
        .error(409, "Closed, or extended already")
        .recorded(),
        ("POST", "/api/v1/requests/{id}/search") => {
            Spec::new("Set the search scope (cameras and window): verified or searching → searching")
                .body(s.of::<SearchBody>())
                .ok(200, "Searching", s.json::<RequestJson>())
                .error(400, bad)
                .error(404, "No such request")
                .error(409, "Not verified or searching; the message names its status")
                .recorded()
        }
        ("POST", "/api/v1/requests/{id}/intervals") => {
            Spec::new("Mark an interval that shows the person (within the scope, while searching)")
                .body(s.of::<IntervalBody>())
                .ok(201, "Marked", s.json::<RequestJson>())
                .error(400, bad)
                .error(404, "No such request")
                .error(409, "Not searching; the message names its status")
                .recorded()
        }
        ("DELETE", "/api/v1/requests/{id}/intervals/{iid}") => {
            Spec::new("Unmark an interval (while searching; not once held or erased)")
                .ok(200, "Unmarked", s.json::<RequestJson>())
                .error(404, "No such request or interval")
                .error(409, "Not searching, or the interval is held or erased")
                .recorded()
        }
        ("POST", "/api/v1/requests/{id}/decide") => Spec::new(
            "Decide: upheld or rejected, with a reason and, for an objection, the linked change",
        )
        .body(s.of::<DecideBody>())
        .ok(200, "Decided", s.json::<RequestJson>())
        .error(400, bad)
        .error(404, "No such request")
        .error(409, "Not verified or searching; the message names its status")
        .recorded(),
        ("POST", "/api/v1/requests/{id}/complete") => Spec::new(
            "Complete a decided request (every recipient to tell recorded first; an upheld \
             erasure once erased, with kept_reason where a lock or hold keeps a part)",
        )
        .body(s.of::<CompleteBody>())
        .ok(200, "Completed", s.json::<RequestJson>())
        .error(400, bad)
        .error(404, "No such request")
        .error(
            409,
            "Not decided, not yet erased, a kept part without kept_reason, or recipients not \
             yet recorded (Art. 19)",
        )
        .recorded(),
        ("POST", "/api/v1/requests/{id}/refuse") => Spec::new("Refuse an open request with a reason")
            .body(s.of::<RefuseBody>())
            .ok(200, "Refused", s.json::<RequestJson>())
            .error(400, bad)
            .error(404, "No such request")
            .error(409, "Closed already")
            .recorded(),
        ("POST", "/api/v1/requests/{id}/erase") => Spec::new(
            "Erase the marked intervals of an upheld erasure request (every overlapping GOP)",
        )
        .ok(200, "Erased; each interval says what was removed and what was kept", s.json::<RequestJson>())
        .error(400, "Not an erasure request, nothing to erase, or `intervals[i]` has no recording")
        .error(404, "No such request")
        .error(409, "Not decided, or not upheld")
        .recorded(),
        ("POST", "/api/v1/requests/{id}/restrict") => Spec::new(
            "Hold the marked intervals of a restriction request (as POST /api/v1/holds)",
        )
        .ok(200, "Held; each interval names its hold", s.json::<RequestJson>())
        .error(400, "Not a restriction request, or no interval to hold")
        .error(404, "No such request")
        .error(409, "Not searching or decided, or rejected")
        .recorded(),
        ("GET", "/api/v1/requests/{id}/recipients") => Spec::new(
            "The disclosure-register entries covering the marked intervals (erasure, restriction, rectification)",
        )
        .ok(200, "The entries and what was recorded", s.json::<RecipientList>())
        .error(404, "No such request"),
        ("POST", "/api/v1/requests/{id}/recipients") => {
            Spec::new("Record that an entry's recipient was informed, or why not (Art. 19)")
                .body(s.of::<RecipientBody>())
                .ok(200, "Recorded", s.json::<RecipientList>())
                .error(400, bad)
                .error(404, "No such request")
                .error(409, "Closed already")
                .recorded()
        }
        ("GET", "/api/v1/requests/{id}/footage") => {
            Spec::new("The recordings of each camera of the search scope in its window")
                .ok(200, "Per camera, the recorded runs", s.json::<Footage>())
                .error(404, "No such request")
                .error(409, "No search scope yet")
        }
        _ => return None,
    })
}

/// The schema of a path parameter.
fn path_parameter(path: &str, name: &str) -> (ObjectBuilder, &'static str) {
    match (path, name) {
        (p, "id") if p.starts_with("/api/v1/cameras/") => {
            (integer(), "A camera id; anything else is 404")
        }
        (p, "id") if p.starts_with("/api/v1/bookmarks/") => {
            (integer(), "A bookmark id; anything else is 404")
        }
        (p, "id") if p.starts_with("/api/v1/locks/") => {
            (integer(), "A lock id; anything else is 404")
        }
        (p, "id") if p.starts_with("/api/v1/requests/") => {
            (integer(), "A data-subject request id; anything else is 404")
        }
        (p, "iid") if p.starts_with("/api/v1/requests/") => {
            (integer(), "A marked interval id; anything else is 404")
        }
        (p, "id") if p.starts_with("/api/v1/holds/") => {
            (integer(), "A hold id; anything else is 404")
        }
        (p, "id") if p.starts_with("/api/v1/exports/") => {
            (integer(), "An export id; anything else is 404")
        }
        (p, "kind") if p.starts_with("/api/v1/documents/") => (
            one_of_strings(&["ropa", "policy", "notice", "dpia"]),
            "The document: ropa, policy, notice or dpia; anything else is 404",
        ),
        (p, "id") if p.starts_with("/api/v1/disclosures/") => {
            (integer(), "A register entry id; anything else is 404")
        }
        (p, "id") if p.starts_with("/api/v1/breach-candidates/") => {
            (integer(), "A breach candidate id; anything else is 404")
        }
        (p, "id") if p.starts_with("/api/v1/breaches/") => {
            (integer(), "A breach id; anything else is 404")
        }
        (p, "id") if p.starts_with("/api/v1/processors/") => {
            (integer(), "A processor id; anything else is 404")
        }
        (p, "user") if p.starts_with("/api/v1/processors/") => {
            (string(), "The account's pseudonym (u-…)")
        }
        (p, "id") if p.starts_with("/api/v1/tokens/") => {
            (integer(), "A token id; anything else is 404")
        }
        (p, "id") if p.starts_with("/api/v1/approvals/") => {
            (integer(), "A request id; anything else is 404")
        }
        (p, "id") if p.starts_with("/api/v1/sessions/") => {
            (string(), "A session id (16 hex digits)")
        }
        (p, "id") if p.starts_with("/api/v1/users/") => (string(), "A user's pseudonym (u-…)"),
        (_, "name") => (
            string().pattern(Some("^[A-Za-z0-9._ -]{2,64}$")),
            "A role name: 2 to 64 letters, digits, spaces, '.', '_' or '-'",
        ),
        _ => (string(), ""),
    }
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

/// `get_cameras_id_status` for `GET /api/v1/cameras/{id}/status`.
fn operation_id(m: &Method, path: &str) -> String {
    let words: Vec<String> = path
        .trim_start_matches("/api/v1/")
        .split(['/', '.', '-'])
        .map(|w| w.trim_matches(['{', '}']).to_owned())
        .collect();
    format!("{}_{}", m.as_str().to_lowercase(), words.join("_"))
}

/// The OpenAPI 3.1 document.
pub fn document() -> OpenApi {
    let mut schemas = Schemas::default();
    let error = schemas.of::<ErrorBody>();
    let mut paths = PathsBuilder::new();
    for r in routes()
        .iter()
        .filter(|r| r.path.starts_with("/api/") || r.path == "/metrics")
    {
        for m in r.methods {
            let Some(hm) = http_method(m) else { continue };
            let Some(spec) = spec(m, r.path, &mut schemas) else {
                continue;
            };
            let mut op = OperationBuilder::new()
                .summary(Some(spec.summary))
                .operation_id(Some(operation_id(m, r.path)))
                .tag(r.path.split('/').nth(3).unwrap_or("api"));
            for p in path_parameters(r.path) {
                let (schema, description) = path_parameter(r.path, &p);
                op = op.parameter(
                    ParameterBuilder::new()
                        .name(p)
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .description(Some(description).filter(|d| !d.is_empty()))
                        .schema(Some(schema)),
                );
            }
            for p in spec.params {
                op = op.parameter(p);
            }
            if let Some(body) = spec.body {
                op = op.request_body(Some(
                    RequestBodyBuilder::new()
                        .required(Some(Required::True))
                        .content(
                            "application/json",
                            ContentBuilder::new().schema(Some(body)).build(),
                        )
                        .build(),
                ));
            }
            // The handler's own answers, then what the guard and the
            // middleware add where the handler does not say more.
            let mut answers: BTreeMap<u16, ResponseBuilder> = BTreeMap::new();
            for (status, description, content) in spec.answers {
                let mut res = answers
                    .remove(&status)
                    .unwrap_or_else(|| ResponseBuilder::new().description(description));
                res = match content {
                    Content::Json(schema) => res.content(
                        "application/json",
                        ContentBuilder::new().schema(Some(*schema)).build(),
                    ),
                    Content::Error => res.content(
                        "application/json",
                        ContentBuilder::new().schema(Some(error.clone())).build(),
                    ),
                    Content::Media(types) => types
                        .iter()
                        .fold(res, |res, t| res.content(*t, ContentBuilder::new().build())),
                    Content::Empty => res,
                };
                answers.insert(status, res);
            }
            let mut added = |status: u16, description: &str| {
                answers.entry(status).or_insert_with(|| {
                    ResponseBuilder::new().description(description).content(
                        "application/json",
                        ContentBuilder::new().schema(Some(error.clone())).build(),
                    )
                });
            };
            if r.guard != Guard::Public {
                added(
                    401,
                    "`unauthenticated` (no session or token) or `bad_token` \
                     (unknown, revoked or expired token)",
                );
                added(
                    403,
                    "Refused by the policy engine (the message gives the reason), \
                     or `csrf` (a cookie session without its X-CSRF-Token)",
                );
            }
            added(413, "`too_large`: the request body is over 64 KiB");
            added(500, "`internal`: the cause is logged, not returned");
            if spec.records {
                added(
                    503,
                    "`audit_unavailable`: the access record cannot be written, so the action is refused",
                );
            }
            let mut responses = ResponsesBuilder::new();
            for (status, res) in answers {
                responses = responses.response(status.to_string(), res.build());
            }
            op = op.responses(responses.build());
            if r.guard != Guard::Public {
                op = op
                    .security(SecurityRequirement::new("session", Vec::<String>::new()))
                    .security(SecurityRequirement::new("token", Vec::<String>::new()));
            }
            paths = paths.path(r.path, PathItem::new(hm, op.build()));
        }
    }
    let components = ComponentsBuilder::new()
        .schemas_from_iter(schemas.0)
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
                    "Video management that enforces privacy. Every route is default-deny; \
                     see docs/api.md. Errors are always an ErrorBody.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .build()
}

/// `GET /api/v1/openapi.json` (any signed-in user).
pub async fn openapi_json(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
) -> Result<Json<OpenApi>, ApiError> {
    state.authorize(&s, Action::OwnSession, Resource::System)?;
    Ok(Json(document()))
}
