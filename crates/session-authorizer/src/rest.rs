//! REST API REQUEST authorizers (and HTTP API ones with payload format 1.0): an IAM policy.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use serde_json::Value;

use crate::authorizer::{Authorizer, SessionContext};
use crate::error::AuthorizerError;

/// The IAM policy language version.
const POLICY_VERSION: &str = "2012-10-17";

/// The resource of every method and path of the stage `method_arn` names:
/// `arn:aws:execute-api:<region>:<account>:<api>/<stage>/*/*`. API Gateway caches the policy
/// by identity source, not by route, so a policy for the one route called would deny the
/// next route served from the cache.
pub fn stage_resource(method_arn: &str) -> Option<String> {
    let mut parts = method_arn.splitn(3, '/');
    let api = parts.next().filter(|api| api.starts_with("arn:"))?;
    let stage = parts.next().filter(|stage| !stage.is_empty())?;
    parts.next()?;
    Some(format!("{api}/{stage}/*/*"))
}

/// A policy allowing `execute-api:Invoke` on the stage, with the session as the principal and
/// context; `Unauthorized` for a request to deny.
pub async fn answer(authorizer: &Authorizer, event: Value) -> Result<Value, AuthorizerError> {
    let request: ApiGatewayCustomAuthorizerRequestTypeRequest = serde_json::from_value(event)
        .map_err(|error| AuthorizerError::InvalidEvent(error.to_string()))?;
    let resource = request
        .method_arn
        .as_deref()
        .and_then(stage_resource)
        .ok_or_else(|| AuthorizerError::InvalidEvent("no methodArn of a stage".to_owned()))?;
    // `multiValueHeaders` holds every value of a repeated header; `headers` only the last.
    let headers = if request.multi_value_headers.is_empty() {
        &request.headers
    } else {
        &request.multi_value_headers
    };
    let session = authorizer
        .session(headers)
        .await?
        .ok_or(AuthorizerError::Unauthorized)?;

    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".to_owned()];
    statement.effect = IamPolicyEffect::Allow;
    statement.resource = vec![resource];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some(POLICY_VERSION.to_owned());
    policy.statement = vec![statement];
    let context = SessionContext::from(&*session);
    let mut response = ApiGatewayCustomAuthorizerResponse::<Value>::default();
    response.principal_id = Some(context.user_id.clone());
    response.policy_document = policy;
    response.context = serde_json::to_value(context)
        .map_err(|error| AuthorizerError::InvalidEvent(error.to_string()))?;
    serde_json::to_value(response).map_err(|error| AuthorizerError::InvalidEvent(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::stage_resource;

    #[test]
    fn the_resource_covers_every_route_of_the_stage() {
        assert_eq!(
            stage_resource(
                "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/GET/sessions/current"
            )
            .as_deref(),
            Some("arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/*/*")
        );
        assert_eq!(
            stage_resource("arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/$default/POST/")
                .as_deref(),
            Some("arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/$default/*/*")
        );
        for malformed in [
            "",
            "arn:aws:execute-api:eu-west-1:1:api",
            "arn:x/prod",
            "nope/prod/GET/",
        ] {
            assert_eq!(stage_resource(malformed), None, "{malformed}");
        }
    }
}
