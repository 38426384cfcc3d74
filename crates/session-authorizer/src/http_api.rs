//! HTTP API authorizers with payload format 2.0 and simple responses.

use aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use http::HeaderValue;
use http::header::COOKIE;
use serde_json::Value;

use crate::authorizer::{Authorizer, SessionContext};
use crate::error::AuthorizerError;

/// `{"isAuthorized": true, "context": {userId, sessionId, expiresAt}}` for a live session,
/// `{"isAuthorized": false, "context": {}}` otherwise.
pub async fn answer(authorizer: &Authorizer, event: Value) -> Result<Value, AuthorizerError> {
    let request: ApiGatewayV2CustomAuthorizerV2Request = serde_json::from_value(event)
        .map_err(|error| AuthorizerError::InvalidEvent(error.to_string()))?;
    // Payload 2.0 moves the cookies out of the headers into their own array; put them back
    // as cookie headers so that the token is found by the one rule.
    let mut headers = request.headers;
    for cookie in &request.cookies {
        if let Ok(value) = HeaderValue::try_from(cookie.as_str()) {
            headers.append(COOKIE, value);
        }
    }
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
