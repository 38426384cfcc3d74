//! Events that `lambda_http` cannot turn into a request get a 400, not a crashed invocation.
//!
//! `lambda_http` builds the `http::Request` of an event with `expect`s: a query string or a
//! path with characters a URI may not hold (`?limit=<1>`), a `Host` header that is not a host,
//! or a body flagged base64 that is not, make it panic before the router sees anything. The
//! runtime survives the panic, but the invocation fails, and the client gets the gateway's bare
//! 502 with no problem details and no request id. [`EventGuard`] sits in front of
//! `lambda_http`'s adapter, catches that panic, and answers what the router answers to any
//! request it cannot read: 400 `invalid_request` as problem+json, converted by `lambda_http`
//! into the shape the event's source expects, as a routed response is.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::{Context, Poll};

use http::HeaderValue;
use http::header::CACHE_CONTROL;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, IntoResponse, LambdaEvent, Request, Service, TransformResponse};
use session_api::layers::request_id::{self, X_REQUEST_ID};
use session_api::problem::ApiError;

use crate::adapter::aws_request_id;

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

impl<R, S, E> Service<LambdaEvent<LambdaRequest>> for EventGuard<Adapter<'static, R, S>>
where
    S: Service<Request, Response = R, Error = E>,
    S::Future: Send + 'static,
    R: IntoResponse,
{
    type Response = <Adapter<'static, R, S> as Service<LambdaEvent<LambdaRequest>>>::Response;
    type Error = E;
    type Future = TransformResponse<'static, R, E>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, event: LambdaEvent<LambdaRequest>) -> Self::Future {
        let origin = event.payload.request_origin();
        let gateway_id = match &event.payload {
            LambdaRequest::ApiGatewayV1(request) => request.request_context.request_id.clone(),
            LambdaRequest::ApiGatewayV2(request) => request.request_context.request_id.clone(),
            _ => None,
        };
        let id = aws_request_id(gateway_id.as_deref(), Some(&event.context.request_id));
        // The conversion runs inside `call`, before any future exists; a panic there leaves the
        // adapter untouched (the router has not been called).
        catch_unwind(AssertUnwindSafe(|| self.inner.call(event))).unwrap_or_else(|_| {
            let id = id.unwrap_or_else(request_id::fresh);
            tracing::warn!(
                request_id = id.to_str().unwrap_or_default(),
                "an event could not be read as an HTTP request (malformed URI, header or body); answered 400"
            );
            let response = ApiError::invalid(
                "the request could not be read: its URL, a header or its base64 body is malformed",
            )
            .with_header(CACHE_CONTROL, HeaderValue::from_static("no-store"))
            .with_header(X_REQUEST_ID.clone(), id);
            TransformResponse::Response(
                origin,
                axum::response::IntoResponse::into_response(response).into_response(),
            )
        })
    }
}
