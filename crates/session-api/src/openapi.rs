//! The OpenAPI 3.1 document of the contract, generated from the handlers' annotations and the
//! body types, and served at `/openapi.json`.
//!
//! Responses every operation shares (authentication, rate limiting, store faults, body
//! errors) are added by one modifier from the same route classification the auth layer
//! uses, so the document cannot disagree with the running service about who may call what.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, Method, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use crate::AppState;
use crate::auth::{Access, required_access};
use crate::body::{
    CreateSessionRequest, DataPatchRequest, DeletedBody, PageBody, RefreshRequest,
    ReplaceSessionRequest, SessionBody, SessionWithToken, StatusBody,
};
use crate::problem::{PROBLEM_JSON, ProblemBody, ProblemCode};
use crate::routes::forward::{ForwardAuthBody, ForwardExtra};
use crate::routes::{current, forward, listing, probes, sessions};

/// Name of the bearer security scheme in the document.
pub const BEARER: &str = "bearerAuth";
/// Name of the session-token security scheme in the document.
pub const SESSION_TOKEN: &str = "sessionToken";
/// Name of the session-cookie security scheme in the document.
pub const SESSION_COOKIE: &str = "sessionCookie";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Session API",
        description = "Create, read, update and delete user sessions with idle, absolute and sliding expiry. Every error is RFC 9457 problem details (application/problem+json) with a stable `code`. Every response carries `X-Request-Id` and `Cache-Control: no-store`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        probes::health,
        probes::ready,
        openapi_json,
        crate::metrics::render,
        sessions::create,
        sessions::get,
        sessions::replace,
        sessions::patch,
        sessions::refresh,
        sessions::rotate,
        sessions::delete,
        current::get,
        current::replace,
        current::patch,
        current::refresh,
        current::rotate,
        current::delete,
        listing::list_user,
        listing::revoke_user,
        listing::list_all,
        forward::check,
    ),
    components(schemas(
        SessionBody,
        SessionWithToken,
        PageBody,
        StatusBody,
        DeletedBody,
        ProblemBody,
        ProblemCode,
        CreateSessionRequest,
        ReplaceSessionRequest,
        RefreshRequest,
        DataPatchRequest,
        ForwardAuthBody,
        ForwardExtra,
    )),
    modifiers(&SharedResponses),
    tags(
        (name = "sessions", description = "One session by its public id, or one user's sessions (client or admin token)"),
        (name = "current", description = "The session a session token names, sent as X-Session-Token (client or admin token, plus the session token)"),
        (name = "admin", description = "Every session (admin token)"),
        (name = "forward-auth", description = "The check a gateway makes before it forwards a request (client or admin token, plus the session token in X-Session-Token or the session cookie)"),
        (name = "probes", description = "Liveness, readiness and this document (open)"),
    )
)]
struct ApiDoc;

/// Adds security and the responses every operation shares.
struct SharedResponses;

fn problem(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

fn with_header(
    response: RefOr<utoipa::openapi::Response>,
    name: &str,
    description: &str,
) -> RefOr<utoipa::openapi::Response> {
    match response {
        RefOr::T(mut response) => {
            response.headers.insert(
                name.to_owned(),
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::String))
                    .description(Some(description))
                    .build(),
            );
            RefOr::T(response)
        }
        reference => reference,
    }
}

fn add(operation: &mut Operation, status: &str, response: RefOr<utoipa::openapi::Response>) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert(response);
}

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A client token (API_TOKENS) or an admin token (ADMIN_TOKENS).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            SESSION_TOKEN,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Session-Token",
                "The session token, `<id>.<secret>`, as the create or rotate answer gave it.",
            ))),
        );
        components.add_security_scheme(
            SESSION_COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                forward::DEFAULT_COOKIE_NAME,
                "The session token in a cookie, on /auth/forward only; its name is SESSION_COOKIE_NAME (default `session`).",
            ))),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (HttpMethod::Get, &mut item.get),
                (HttpMethod::Post, &mut item.post),
                (HttpMethod::Put, &mut item.put),
                (HttpMethod::Patch, &mut item.patch),
                (HttpMethod::Delete, &mut item.delete),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation.as_mut() else {
                    continue;
                };
                not_null_parameters(operation);
                let method = match method {
                    HttpMethod::Get => Method::GET,
                    HttpMethod::Post => Method::POST,
                    HttpMethod::Put => Method::PUT,
                    HttpMethod::Patch => Method::PATCH,
                    _ => Method::DELETE,
                };
                let access = required_access(&method, Some(path));
                if access == Access::Open {
                    operation.security = Some(vec![SecurityRequirement::default()]);
                } else {
                    let requirement = SecurityRequirement::new::<_, _, &str>(BEARER, []);
                    operation.security = Some(if path.starts_with("/sessions/current") {
                        vec![requirement.add::<_, _, &str>(SESSION_TOKEN, [])]
                    } else if path == forward::PATH {
                        // Either the header or the cookie, each with the gateway's bearer token.
                        vec![
                            requirement.clone().add::<_, _, &str>(SESSION_TOKEN, []),
                            requirement.add::<_, _, &str>(SESSION_COOKIE, []),
                        ]
                    } else {
                        vec![requirement]
                    });
                    add(
                        operation,
                        "401",
                        with_header(
                            problem(
                                "Missing or invalid bearer token (or, with no token configured, a client not on loopback)",
                            ),
                            "WWW-Authenticate",
                            "Bearer challenge",
                        ),
                    );
                    add(
                        operation,
                        "429",
                        with_header(
                            problem("Rate limit exceeded"),
                            "Retry-After",
                            "Seconds to wait",
                        ),
                    );
                }
                if access == Access::Admin {
                    add(
                        operation,
                        "403",
                        problem("A client token on an admin route"),
                    );
                }
                if operation.request_body.is_some() {
                    add(
                        operation,
                        "400",
                        problem(
                            "Malformed JSON, wrong field types, unknown fields or invalid values",
                        ),
                    );
                    add(
                        operation,
                        "413",
                        problem("Request body over 1 MiB, or data over the configured limit"),
                    );
                    add(
                        operation,
                        "408",
                        problem(
                            "The request body did not arrive in time; the connection is closed",
                        ),
                    );
                    add(operation, "415", problem("Missing or wrong Content-Type"));
                }
                add(
                    operation,
                    "500",
                    problem("Internal error (details are in the service log)"),
                );
                add(
                    operation,
                    "503",
                    with_header(
                        problem("The store is unavailable, throttling or too slow"),
                        "Retry-After",
                        "Seconds to wait",
                    ),
                );
                for response in operation.responses.responses.values_mut() {
                    let shared = std::mem::replace(response, RefOr::Ref(Ref::new("")));
                    let shared = with_header(
                        shared,
                        "X-Request-Id",
                        "The caller's request id if sane, else a new one",
                    );
                    *response = with_header(shared, "Cache-Control", "no-store");
                }
            }
        }
    }
}

/// An optional query or header parameter is absent or a value, never the text `null`; utoipa
/// writes `Option<T>` as "T or null", which would invite `?limit=null`.
fn not_null_parameters(operation: &mut Operation) {
    for parameter in operation.parameters.iter_mut().flatten() {
        if let Some(RefOr::T(Schema::Object(object))) = parameter.schema.as_mut()
            && let utoipa::openapi::schema::SchemaType::Array(types) = &object.schema_type
        {
            let non_null: Vec<Type> = types
                .iter()
                .filter(|t| **t != Type::Null)
                .cloned()
                .collect();
            if let [only] = non_null.as_slice() {
                object.schema_type = utoipa::openapi::schema::SchemaType::Type(only.clone());
            }
        }
    }
}

/// Session data and its values as JSON Schema: what the service accepts, which is what
/// DynamoDB can store (see `session_core::data`): no empty object key, and numbers that are 0
/// or of magnitude in [1e-130, 1e126). The depth and size limits are in the description, since
/// JSON Schema cannot count them. (Written as JSON: utoipa's schema model has no
/// `propertyNames` or nested `anyOf` on a number.)
fn data_schemas() -> [(&'static str, Value); 3] {
    let value_of_data = json!({"$ref": "#/components/schemas/DataValue"});
    [
        (
            "SessionData",
            json!({
                "type": "object",
                "description": "Session data: any JSON object, at most SESSION_MAX_DATA_BYTES (default 65536) bytes as compact JSON and at most 31 levels of objects and arrays deep. Object keys must not be empty.",
                "propertyNames": {"minLength": 1},
                "additionalProperties": value_of_data
            }),
        ),
        (
            "DataValue",
            json!({
                "description": "A value inside session data. Numbers are 0 or have a magnitude between 1e-130 and 1e126.",
                "anyOf": [
                    {"type": "null"},
                    {"type": "boolean"},
                    {"type": "string"},
                    {"type": "number", "anyOf": [
                        {"const": 0},
                        {"minimum": 1e-130, "exclusiveMaximum": 1e126},
                        {"maximum": -1e-130, "exclusiveMinimum": -1e126}
                    ]},
                    {"type": "array", "items": {"$ref": "#/components/schemas/DataValue"}},
                    {"$ref": "#/components/schemas/SessionData"}
                ]
            }),
        ),
        (
            "DataPatchRequest",
            json!({
                "type": "object",
                "description": "A shallow merge patch of session data: each key is set to its value, a null value removes the key, keys not named are left alone. The merged data must fit the limits of SessionData.",
                "propertyNames": {"minLength": 1},
                "additionalProperties": value_of_data
            }),
        ),
    ]
}

/// The document as JSON, with the data schemas and the limits in force (`ttlSeconds` maximum).
pub fn document(max_ttl_seconds: u64) -> Value {
    let mut openapi = ApiDoc::openapi();
    openapi.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let mut document = serde_json::to_value(&openapi).unwrap_or_default();
    let schemas = &mut document["components"]["schemas"];
    for (name, schema) in data_schemas() {
        schemas[name] = schema;
    }
    let data = json!({"$ref": "#/components/schemas/SessionData"});
    schemas["Session"]["properties"]["data"] = data.clone();
    schemas["ReplaceSessionRequest"]["properties"]["data"] = data.clone();
    schemas["CreateSessionRequest"]["properties"]["data"] =
        json!({"anyOf": [{"type": "null"}, data]});
    for name in ["CreateSessionRequest", "RefreshRequest"] {
        schemas[name]["properties"]["ttlSeconds"]["maximum"] = json!(max_ttl_seconds);
    }
    document
}

/// The serialised document, made once at start.
#[derive(Debug, Clone)]
pub struct OpenApiJson(pub Bytes);

impl OpenApiJson {
    /// Renders the document for the limits in force.
    pub fn new(max_ttl_seconds: u64) -> Self {
        Self(document(max_ttl_seconds).to_string().into())
    }
}

/// `GET /openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "probes",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json", body = Object)),
)]
pub async fn openapi_json(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        app.openapi.0.clone(),
    )
}
