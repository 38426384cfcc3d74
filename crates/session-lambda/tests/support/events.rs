//! Lambda HTTP events built from a plain request description, for the tests that run one
//! table of requests through several event sources (the fixtures under `tests/fixtures/` are
//! the hand-checked, complete events; these are the same shapes, made on demand).
#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

/// Where an event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// API Gateway REST API (payload 1.0), on the execute-api domain, with this stage.
    Rest { stage: &'static str },
    /// API Gateway HTTP API (payload 2.0) with this stage (`$default` keeps it out of paths).
    Http { stage: &'static str },
    /// A Lambda Function URL (payload 2.0).
    FunctionUrl,
    /// An Application Load Balancer target group (single-value headers).
    Alb,
}

impl Source {
    /// The response shape the source expects.
    pub fn shape(self) -> Shape {
        match self {
            Self::Rest { .. } => Shape::Rest,
            Self::Http { .. } | Self::FunctionUrl => Shape::Http,
            Self::Alb => Shape::Alb,
        }
    }

    /// What a `Location` the router wrote as `/x` reads as through this source.
    pub fn location_prefix(self) -> String {
        match self {
            Self::Rest { stage } | Self::Http { stage } if stage != "$default" => {
                format!("/{stage}")
            }
            _ => String::new(),
        }
    }

    /// The client address this source's events carry.
    pub fn client_ip(self) -> &'static str {
        match self {
            Self::Rest { .. } => "198.51.100.23",
            Self::Http { .. } => "198.51.100.42",
            Self::FunctionUrl => "203.0.113.9",
            Self::Alb => "203.0.113.77",
        }
    }
}

/// The response shapes of the event sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `statusCode`, `multiValueHeaders`, `body`, `isBase64Encoded`.
    Rest,
    /// `statusCode`, `headers`, `cookies`, `body`, `isBase64Encoded`.
    Http,
    /// `statusCode`, `statusDescription`, `headers` and `multiValueHeaders`, `body`, `isBase64Encoded`.
    Alb,
}

/// A request to turn into an event.
#[derive(Debug, Clone, Default)]
pub struct Call {
    /// HTTP method.
    pub method: String,
    /// Path as the contract names it (no stage).
    pub path: String,
    /// Query parameters, in order (values are sent percent-encoded where the source does).
    pub query: Vec<(String, String)>,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// Body text.
    pub body: Option<String>,
    /// Send the body base64-encoded (`isBase64Encoded: true`).
    pub base64: bool,
}

impl Call {
    /// A bodiless request.
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            ..Self::default()
        }
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets a JSON body with its content type.
    pub fn json(self, content_type: &str, body: &Value) -> Self {
        self.header("content-type", content_type)
            .body(&body.to_string())
    }

    /// Sets the body text.
    pub fn body(mut self, body: &str) -> Self {
        self.body = Some(body.to_owned());
        self
    }

    /// Sends the body base64-encoded.
    pub fn base64(mut self) -> Self {
        self.base64 = true;
        self
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn encoded_body(call: &Call) -> (Value, bool) {
    match &call.body {
        None => (Value::Null, false),
        Some(body) if call.base64 => (Value::String(STANDARD.encode(body)), true),
        Some(body) => (Value::String(body.clone()), false),
    }
}

fn headers_with(call: &Call, base: &[(&str, String)]) -> Map<String, Value> {
    let mut headers = Map::new();
    for (name, value) in base {
        headers.insert((*name).to_owned(), Value::String(value.clone()));
    }
    if let Some(body) = &call.body {
        headers.insert(
            "content-length".to_owned(),
            Value::String(body.len().to_string()),
        );
    }
    for (name, value) in &call.headers {
        headers.insert(name.to_ascii_lowercase(), Value::String(value.clone()));
    }
    headers
}

/// The event `source` sends for `call`, with `request_id` in its request context.
pub fn event(source: Source, call: &Call, request_id: &str) -> Value {
    match source {
        Source::Rest { stage } => rest(stage, call, request_id),
        Source::Http { stage } => http(stage, call, request_id, false),
        Source::FunctionUrl => http("$default", call, request_id, true),
        Source::Alb => alb(call),
    }
}

fn rest(stage: &'static str, call: &Call, request_id: &str) -> Value {
    let host = "k3xq7bnv2d.execute-api.eu-west-1.amazonaws.com";
    let headers = headers_with(
        call,
        &[
            ("host", host.to_owned()),
            ("user-agent", "parity-client/1.0".to_owned()),
            (
                "x-forwarded-for",
                format!("{}, 130.176.16.71", Source::Rest { stage }.client_ip()),
            ),
            ("x-forwarded-proto", "https".to_owned()),
        ],
    );
    let multi: Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.clone(), json!([v])))
        .collect();
    let (query, multi_query) = if call.query.is_empty() {
        (Value::Null, Value::Null)
    } else {
        let mut single = Map::new();
        let mut multi = Map::new();
        for (name, value) in &call.query {
            single.insert(name.clone(), Value::String(value.clone()));
            let entry = multi.entry(name.clone()).or_insert_with(|| json!([]));
            if let Value::Array(values) = entry {
                values.push(Value::String(value.clone()));
            }
        }
        (Value::Object(single), Value::Object(multi))
    };
    let (body, base64) = encoded_body(call);
    json!({
        "resource": "/{proxy+}",
        "path": call.path,
        "httpMethod": call.method,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": {"proxy": call.path.trim_start_matches('/')},
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "k3xq7bnv2d",
            "domainName": host,
            "domainPrefix": "k3xq7bnv2d",
            "httpMethod": call.method,
            "identity": {"sourceIp": Source::Rest { stage }.client_ip(), "userAgent": "parity-client/1.0"},
            "path": format!("/{stage}{}", call.path),
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTimeEpoch": 1_795_428_000_000_i64,
            "resourceId": "x7k2p9",
            "resourcePath": "/{proxy+}",
            "stage": stage,
        },
        "body": body,
        "isBase64Encoded": base64,
    })
}

fn http(stage: &'static str, call: &Call, request_id: &str, function_url: bool) -> Value {
    let (host, ip) = if function_url {
        (
            "q4w5e6r7t8y9u0i1o2p3a4s5d6f7g8h9.lambda-url.eu-west-1.on.aws",
            Source::FunctionUrl.client_ip(),
        )
    } else {
        (
            "r2h7c3p0x4.execute-api.eu-west-1.amazonaws.com",
            Source::Http { stage }.client_ip(),
        )
    };
    let raw_path = if stage == "$default" {
        call.path.clone()
    } else {
        format!("/{stage}{}", call.path)
    };
    let raw_query = call
        .query
        .iter()
        .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    let headers = headers_with(
        call,
        &[
            ("host", host.to_owned()),
            ("user-agent", "parity-client/1.0".to_owned()),
            ("x-forwarded-for", ip.to_owned()),
            ("x-forwarded-proto", "https".to_owned()),
        ],
    );
    let (body, base64) = encoded_body(call);
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": if function_url { "anonymous" } else { "123456789012" },
            "apiId": "r2h7c3p0x4",
            "domainName": host,
            "http": {"method": call.method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": ip, "userAgent": "parity-client/1.0"},
            "requestId": request_id,
            "routeKey": "$default",
            "stage": stage,
            "timeEpoch": 1_795_428_000_000_i64,
        },
        "isBase64Encoded": base64,
    });
    if !call.query.is_empty() {
        let single: Map<String, Value> = call
            .query
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        event["queryStringParameters"] = Value::Object(single);
    }
    if !body.is_null() {
        event["body"] = body;
    }
    event
}

fn alb(call: &Call) -> Value {
    let headers = headers_with(
        call,
        &[
            (
                "host",
                "sessions-alb-1234567890.eu-west-1.elb.amazonaws.com".to_owned(),
            ),
            ("user-agent", "parity-client/1.0".to_owned()),
            // The client's own claim first; the load balancer appends the address it saw.
            (
                "x-forwarded-for",
                format!("10.20.30.40, {}", Source::Alb.client_ip()),
            ),
            ("x-forwarded-proto", "https".to_owned()),
        ],
    );
    // ALB passes query values as the client sent them, percent-encoded.
    let query: Map<String, Value> = call
        .query
        .iter()
        .map(|(k, v)| (percent_encode(k), Value::String(percent_encode(v))))
        .collect();
    let (body, base64) = encoded_body(call);
    json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/sessions-lambda/6d0ecf831eec9f09"}},
        "httpMethod": call.method,
        "path": call.path,
        "queryStringParameters": query,
        "headers": headers,
        "body": if body.is_null() { Value::String(String::new()) } else { body },
        "isBase64Encoded": base64,
    })
}
