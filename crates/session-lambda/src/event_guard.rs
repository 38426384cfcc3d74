//! Events that `lambda_http` cannot turn into a request get a 400, not a crashed invocation.
//!
//! `lambda_http` builds the `http::Request` of an event with `expect`s: a query string or a
//! path with characters a URI may not hold (`?limit=<1>`), a `Host` header that is not a host,
//! or a body flagged base64 that is not, make it panic before the router sees anything. The
//! runtime survives the panic, but the invocation fails, and the client gets the gateway's bare
//! 502 with no problem details and no request id. [`EventGuard`] sits in front of
//! `lambda_http`'s adapter, catches that panic, and answers what the router answers to any
//! request it cannot read: 400 `invalid_request` as problem+json, in the shape the event's
//! source expects.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::{Context, Poll};

use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue};
use lambda_http::aws_lambda_events::alb::AlbTargetGroupResponse;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, BoxFuture, LambdaEvent, Service};
use serde::Serialize;
use session_api::layers::request_id::{self, X_REQUEST_ID};

/// Wraps `lambda_http`'s adapter (`lambda_http::Adapter::from(app)`), answering 400 to events
/// it cannot convert instead of failing the invocation.
#[derive(Debug, Clone)]
pub struct EventGuard<A> {
    inner: A,
}

impl<A> EventGuard<A> {
    /// Guards `inner`.
    pub fn new(inner: A) -> Self {
        Self { inner }
    }
}

/// What the runtime posts back: the adapter's answer, or the guard's own to an event the
/// adapter could not read. Both serialise to the payload the event's source expects.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answer<R> {
    /// The router's response, converted by `lambda_http`.
    Routed(R),
    /// 400 to an event that is not a readable HTTP request (boxed: rare, and large).
    Malformed(Box<Malformed>),
}

/// The 400 answer, in the shape of each source.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Malformed {
    /// API Gateway REST API.
    Rest(ApiGatewayProxyResponse),
    /// API Gateway HTTP API and Function URLs.
    Http(ApiGatewayV2httpResponse),
    /// Application Load Balancer.
    Alb(AlbTargetGroupResponse),
}

impl<A> Service<LambdaEvent<LambdaRequest>> for EventGuard<A>
where
    A: Service<LambdaEvent<LambdaRequest>>,
    A::Future: Send + 'static,
    A::Response: Send + 'static,
    A::Error: Send + 'static,
{
    type Response = Answer<A::Response>;
    type Error = A::Error;
    type Future = BoxFuture<'static, Result<Self::Response, A::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, event: LambdaEvent<LambdaRequest>) -> Self::Future {
        let source = Source::of(&event.payload);
        let id = aws_request_id(&event);
        // The conversion runs inside `call`, before any future exists; a panic there leaves the
        // adapter untouched (the router has not been called).
        match catch_unwind(AssertUnwindSafe(|| self.inner.call(event))) {
            Ok(future) => Box::pin(async move { future.await.map(Answer::Routed) }),
            Err(_) => {
                let id = id.unwrap_or_else(request_id::fresh);
                tracing::warn!(
                    request_id = id.to_str().unwrap_or_default(),
                    "an event could not be read as an HTTP request (malformed URI, header or body); answered 400"
                );
                let response = Answer::Malformed(Box::new(malformed(source, id)));
                Box::pin(async move { Ok(response) })
            }
        }
    }
}

/// The event sources this function serves, by the shape of their answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Rest,
    Http,
    Alb,
}

impl Source {
    fn of(request: &LambdaRequest) -> Self {
        match request {
            LambdaRequest::ApiGatewayV1(_) => Self::Rest,
            LambdaRequest::Alb(_) => Self::Alb,
            _ => Self::Http,
        }
    }
}

/// API Gateway's request id, else the invocation's: the id the answer carries (the adapter
/// gives routed requests the same one, see `adapter::gateway_request_id`).
fn aws_request_id(event: &LambdaEvent<LambdaRequest>) -> Option<HeaderValue> {
    let gateway = match &event.payload {
        LambdaRequest::ApiGatewayV1(request) => request.request_context.request_id.clone(),
        LambdaRequest::ApiGatewayV2(request) => request.request_context.request_id.clone(),
        _ => None,
    };
    gateway
        .filter(|id| !id.is_empty())
        .or_else(|| Some(event.context.request_id.clone()))
        .and_then(|id| HeaderValue::from_str(&id).ok())
        .filter(request_id::sane)
}

/// The 400 problem+json answer, in `source`'s shape.
fn malformed(source: Source, id: HeaderValue) -> Malformed {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": "the request could not be read: its URL, a header or its base64 body is malformed",
        "code": "invalid_request",
    })
    .to_string();
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_REQUEST_ID.clone(), id);
    match source {
        Source::Rest => {
            // A REST API merges `headers` into `multiValueHeaders`; one of them, as
            // lambda_http does.
            let mut response = ApiGatewayProxyResponse::default();
            response.status_code = 400;
            response.multi_value_headers = headers;
            response.body = Some(Body::Text(body));
            Malformed::Rest(response)
        }
        Source::Http => {
            let mut response = ApiGatewayV2httpResponse::default();
            response.status_code = 400;
            response.headers = headers;
            response.body = Some(Body::Text(body));
            Malformed::Http(response)
        }
        Source::Alb => {
            // Both fields: the target group may or may not have multi-value headers on.
            let mut response = AlbTargetGroupResponse::default();
            response.status_code = 400;
            response.status_description = Some("400 Bad Request".to_owned());
            response.multi_value_headers = headers.clone();
            response.headers = headers;
            response.body = Some(Body::Text(body));
            Malformed::Alb(response)
        }
    }
}
