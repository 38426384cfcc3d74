//! HTTP API authorizers with payload format 2.0 and simple responses.

use aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};
use serde_json::Value;

use crate::authorizer::{Authorizer, SessionContext};
use crate::error::AuthorizerError;

/// `{"isAuthorized": true, "context": {userId, sessionId, expiresAt}}` for a live session,
/// `{"isAuthorized": false, "context": {}}` otherwise.
pub async fn answer(authorizer: &Authorizer, event: Value) -> Result<Value, AuthorizerError> {
    let request: ApiGatewayV2CustomAuthorizerV2Request = serde_json::from_value(event)
        .map_err(|error| AuthorizerError::InvalidEvent(error.to_string()))?;
    let headers = with_cookies(request.headers, &request.cookies);
    let session = authorizer.session(&headers).await?;
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::<Value>::default();
    response.is_authorized = session.is_some();
    response.context = match session {
        Some(session) => serde_json::to_value(SessionContext::from(&*session))
            .unwrap_or_else(|_| Value::Object(serde_json::Map::new())),
        None => Value::Object(serde_json::Map::new()),
    };
    serde_json::to_value(response).map_err(|error| AuthorizerError::InvalidEvent(error.to_string()))
}

/// The request's headers with payload 2.0's `cookies` array as its cookie headers, so that the
/// token is found by the one rule `/auth/forward` uses.
///
/// The array replaces any cookie header rather than adding to it: it is where payload 2.0
/// carries the request's cookies, and a cookie seen in both places would otherwise count as a
/// cookie named twice, which the rule refuses.
fn with_cookies(mut headers: HeaderMap, cookies: &[String]) -> HeaderMap {
    if cookies.is_empty() {
        return headers;
    }
    headers.remove(COOKIE);
    for cookie in cookies {
        if let Ok(value) = HeaderValue::try_from(cookie.as_str()) {
            headers.append(COOKIE, value);
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_api::routes::forward::presented_token;

    const TOKEN: &str =
        "0b3d3a59-8a5c-4a57-9a59-0c2f3b7b8d1e.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    #[test]
    fn a_cookie_in_both_the_array_and_the_header_is_found_once() {
        let mut headers = HeaderMap::new();
        let cookie = format!("session={TOKEN}");
        headers.insert(COOKIE, HeaderValue::try_from(cookie.as_str()).unwrap());
        let headers = with_cookies(headers, &[cookie, "theme=dark".to_owned()]);
        assert_eq!(headers.get_all(COOKIE).iter().count(), 2);
        assert_eq!(presented_token(&headers, "session").as_deref(), Some(TOKEN));
    }

    #[test]
    fn without_a_cookies_array_the_cookie_header_stays() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::try_from(format!("session={TOKEN}")).unwrap(),
        );
        let headers = with_cookies(headers, &[]);
        assert_eq!(presented_token(&headers, "session").as_deref(), Some(TOKEN));
    }
}
