//! From a Lambda HTTP event to the request the shared router expects, and back.
//!
//! `lambda_http` already turns API Gateway REST (v1), HTTP API (v2), Function URL and ALB
//! events into `http::Request`s. Two things about those requests would make the router see a
//! different request than the server sees, and this module fixes them:
//!
//! - **The stage.** For a REST API (and an HTTP API with a named stage), `lambda_http` puts the
//!   stage in front of the path (`/prod/sessions`), so the router would answer 404. The stage
//!   is deployment plumbing, not part of the contract: the adapter removes one leading
//!   `/{stage}` segment before routing, and puts it back in front of a `Location` header when
//!   the client's own URL carried it, so that the header still resolves for that client. This
//!   needs no configuration (`AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` may be set or not).
//! - **The client's address.** There is no TCP peer to read; the event names the client. The
//!   adapter inserts [`ClientAddr`] from it, and never a loopback address (see
//!   [`client_addr`]).
//! - **The request id.** A request that brings no usable `X-Request-Id` gets API Gateway's
//!   request id (or, behind an ALB or a Function URL without one, the Lambda invocation's) as
//!   its id, rather than one made up by the function: the id in the response and in the
//!   function's log line is then the one in the gateway's access log (see [`aws_request_id`]).

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body as AxumBody;
use http::header::LOCATION;
use http::uri::{PathAndQuery, Uri};
use http::{HeaderMap, HeaderValue, Response};
use lambda_http::request::RequestContext;
use lambda_http::{BoxFuture, Request, RequestExt};
use session_api::ClientAddr;
use session_api::layers::request_id::{self, X_REQUEST_ID};

use crate::emf::EmfRecorder;
use tower::ServiceExt;

/// The address recorded when an event names no usable client: "unknown, and not local".
///
/// It is inserted rather than nothing so that every request through Lambda carries a
/// [`ClientAddr`], and so that no later check can mistake an unknown caller for a local one.
pub const UNKNOWN_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

/// The stage segment that was removed from a request's path, to put back on `Location`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagePrefix(pub String);

/// The shared router as a `lambda_http` service: each request is [`prepare`]d, routed, and its
/// `Location` header given back the stage prefix the client used.
///
/// Cloning is cheap (the router is reference-counted), which is what lets the binary build
/// it once per cold start and serve every invocation with it.
#[derive(Debug, Clone)]
pub struct LambdaApp {
    router: Router,
    metrics: Option<EmfRecorder>,
}

impl LambdaApp {
    /// Serves `router` to Lambda events.
    pub fn new(router: Router) -> Self {
        Self {
            router,
            metrics: None,
        }
    }

    /// Also writes the metrics recorded during each invocation to stdout, as EMF, once the
    /// invocation is answered (`recorder` must be installed, see `session_api::metrics::install`).
    pub fn with_metrics(mut self, recorder: EmfRecorder) -> Self {
        self.metrics = Some(recorder);
        self
    }
}

impl tower::Service<Request> for LambdaApp {
    type Response = Response<AxumBody>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // An axum Router is always ready; each call below drives its own clone.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let (request, prefix) = prepare(request);
        let router = self.router.clone();
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let mut response = router.oneshot(request).await?;
            if let Some(prefix) = prefix {
                restore_prefix(response.headers_mut(), &prefix);
            }
            if let Some(metrics) = metrics
                && let Err(error) = metrics.flush(&mut std::io::stdout().lock())
            {
                tracing::warn!(error = %error, "could not write the invocation's metrics");
            }
            Ok(response)
        })
    }
}

/// Makes an event's request look like the one the server would route: the stage removed from
/// the path, and the client's address in the extensions. Returns the prefix to put back on
/// `Location`, when the client's URL carried the stage.
pub fn prepare(mut request: Request) -> (Request, Option<StagePrefix>) {
    let client = client_addr(&request);
    request.extensions_mut().insert(client);
    let usable = request
        .headers()
        .get(&X_REQUEST_ID)
        .is_some_and(request_id::sane);
    if !usable && let Some(id) = gateway_request_id(&request) {
        request.headers_mut().insert(X_REQUEST_ID.clone(), id);
    }

    let Some(stage) = named_stage(&request) else {
        return (request, None);
    };
    let visible = client_path(&request).is_some_and(|path| strip_stage(path, &stage).is_some());
    if let Some(uri) = without_stage(request.uri(), &stage) {
        *request.uri_mut() = uri;
    }
    let prefix = visible.then(|| StagePrefix(format!("/{stage}")));
    (request, prefix)
}

/// The id AWS gave `request`: API Gateway's `requestContext.requestId` (REST and HTTP APIs,
/// Function URLs), else the Lambda invocation's request id.
fn gateway_request_id(request: &Request) -> Option<HeaderValue> {
    let gateway = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.request_id.as_deref(),
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.as_deref(),
        _ => None,
    };
    let invocation = request
        .lambda_context_ref()
        .map(|context| context.request_id.as_str());
    aws_request_id(gateway, invocation)
}

/// The gateway's request id, else the invocation's, as a request id; `None` when the one that
/// applies is not a usable request id.
pub fn aws_request_id(gateway: Option<&str>, invocation: Option<&str>) -> Option<HeaderValue> {
    gateway
        .filter(|id| !id.is_empty())
        .or(invocation)
        .and_then(|id| HeaderValue::from_str(id).ok())
        .filter(request_id::sane)
}

/// The stage of an API Gateway event, unless it is the default one (which is never in paths).
fn named_stage(request: &Request) -> Option<String> {
    let stage = match request.request_context_ref()? {
        RequestContext::ApiGatewayV1(context) => context.stage.as_deref(),
        RequestContext::ApiGatewayV2(context) => context.stage.as_deref(),
        _ => None,
    }?;
    (!stage.is_empty() && stage != "$default").then(|| stage.to_owned())
}

/// The path as the client sent it: for a REST API the request context's `path` (which holds
/// the stage on the execute-api domain, and not on a custom domain); for an HTTP API the
/// `rawPath`.
fn client_path(request: &Request) -> Option<&str> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV1(context) => context.path.as_deref(),
        RequestContext::ApiGatewayV2(_) => Some(request.raw_http_path()),
        _ => None,
    }
}

/// `path` without its leading `/{stage}` segment, if it has one (`/prod` alone becomes `/`).
pub fn strip_stage<'a>(path: &'a str, stage: &str) -> Option<&'a str> {
    let rest = path.strip_prefix('/')?.strip_prefix(stage)?;
    if rest.is_empty() {
        Some("/")
    } else if rest.starts_with('/') {
        Some(rest)
    } else {
        None
    }
}

/// `uri` with the stage segment removed from its path, the query kept.
fn without_stage(uri: &Uri, stage: &str) -> Option<Uri> {
    let path = strip_stage(uri.path(), stage)?;
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(PathAndQuery::try_from(path_and_query).ok()?);
    Uri::from_parts(parts).ok()
}

/// Puts the stage back in front of an absolute-path `Location`, so that it resolves against
/// the URL the client used (`/prod/sessions/{id}` for `/prod/sessions`).
fn restore_prefix(headers: &mut HeaderMap, prefix: &StagePrefix) {
    let Some(location) = headers.get(LOCATION).and_then(|value| value.to_str().ok()) else {
        return;
    };
    if !location.starts_with('/') || location.starts_with("//") {
        return;
    }
    if let Ok(value) = HeaderValue::from_str(&format!("{}{location}", prefix.0)) {
        headers.insert(LOCATION, value);
    }
}

/// The client's address as the event source saw it:
///
/// - REST API: `requestContext.identity.sourceIp`;
/// - HTTP API and Function URL: `requestContext.http.sourceIp`;
/// - ALB: the last address of `X-Forwarded-For`, the one the load balancer appended (the
///   earlier ones are whatever the client claimed).
///
/// A missing or unparsable address, and a loopback one, become [`UNKNOWN_CLIENT`]: nothing
/// reaches a function over loopback, so a loopback address in an event is forged (a direct
/// invocation can carry any event) and must not earn the trust a local caller gets.
pub fn client_addr(request: &Request) -> ClientAddr {
    let claimed = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => {
            context.identity.source_ip.as_deref().and_then(parse_ip)
        }
        Some(RequestContext::ApiGatewayV2(context)) => {
            context.http.source_ip.as_deref().and_then(parse_ip)
        }
        Some(RequestContext::Alb(_)) => last_forwarded_for(request.headers()),
        _ => None,
    };
    ClientAddr(
        claimed
            .filter(|ip| !ClientAddr(*ip).is_loopback())
            .unwrap_or(UNKNOWN_CLIENT),
    )
}

/// The last address of the last `X-Forwarded-For` header.
fn last_forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let value = headers.get_all("x-forwarded-for").iter().next_back()?;
    let last = value.to_str().ok()?.rsplit(',').next()?;
    parse_ip(last)
}

/// An IP address, alone or with a port (`203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443`).
fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|socket| socket.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_exactly_one_leading_stage_segment() {
        assert_eq!(strip_stage("/prod/sessions", "prod"), Some("/sessions"));
        assert_eq!(strip_stage("/prod", "prod"), Some("/"));
        assert_eq!(strip_stage("/prod/prod/x", "prod"), Some("/prod/x"));
        assert_eq!(strip_stage("/production/x", "prod"), None);
        assert_eq!(strip_stage("/sessions", "prod"), None);
        assert_eq!(strip_stage("prod/sessions", "prod"), None);
    }

    #[test]
    fn keeps_the_query_when_removing_the_stage() {
        let uri: Uri = "https://api.example/prod/sessions?limit=2&cursor=abc"
            .parse()
            .expect("uri");
        let routed = without_stage(&uri, "prod").expect("stage present");
        assert_eq!(routed.path(), "/sessions");
        assert_eq!(routed.query(), Some("limit=2&cursor=abc"));
        assert_eq!(routed.host(), Some("api.example"));
    }

    #[test]
    fn location_gets_the_prefix_only_when_it_is_an_absolute_path() {
        let prefix = StagePrefix("/prod".to_owned());
        let mut headers = HeaderMap::new();
        headers.insert(LOCATION, HeaderValue::from_static("/sessions/abc"));
        restore_prefix(&mut headers, &prefix);
        assert_eq!(headers[LOCATION], "/prod/sessions/abc");

        for untouched in ["https://elsewhere.example/x", "//elsewhere.example/x"] {
            let mut headers = HeaderMap::new();
            headers.insert(LOCATION, HeaderValue::from_static(untouched));
            restore_prefix(&mut headers, &prefix);
            assert_eq!(headers[LOCATION], untouched);
        }
    }

    #[test]
    fn forwarded_for_takes_the_address_the_balancer_appended() {
        let mut headers = HeaderMap::new();
        headers.append(
            "x-forwarded-for",
            HeaderValue::from_static("10.9.9.9, 198.51.100.23"),
        );
        assert_eq!(
            last_forwarded_for(&headers),
            Some("198.51.100.23".parse().expect("ip"))
        );
        headers.append("x-forwarded-for", HeaderValue::from_static("2001:db8::7"));
        assert_eq!(
            last_forwarded_for(&headers),
            Some("2001:db8::7".parse().expect("ip"))
        );
    }

    #[test]
    fn parses_addresses_with_or_without_a_port() {
        assert_eq!(
            parse_ip(" 203.0.113.7 "),
            Some("203.0.113.7".parse().expect("ip"))
        );
        assert_eq!(
            parse_ip("[2001:db8::1]:443"),
            Some("2001:db8::1".parse().expect("ip"))
        );
        assert_eq!(parse_ip("test-invoke-source-ip"), None);
        assert_eq!(parse_ip(""), None);
    }
}
