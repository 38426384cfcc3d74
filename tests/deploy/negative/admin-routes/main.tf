# Negative fixture for scripts/deploy/admin-routes.py: the Lambda module's admin route split
# without DELETE /sessions/user/{userId}, which clients could then call as admin.

locals {
  admin_routes = {
    "GET /sessions"  = "GET/sessions"
    "HEAD /sessions" = "HEAD/sessions"
  }
  admin_route_arns = [for suffix in values(local.admin_routes) : "${aws_apigatewayv2_stage.default.execution_arn}/${suffix}"]
}

resource "aws_apigatewayv2_route" "admin" {
  for_each           = local.admin_routes
  api_id             = aws_apigatewayv2_api.http.id
  route_key          = each.key
  target             = "integrations/${aws_apigatewayv2_integration.function.id}"
  authorization_type = "AWS_IAM"
}

data "aws_iam_policy_document" "invoke_client" {
  statement {
    sid       = "InvokeClientRoutes"
    actions   = ["execute-api:Invoke"]
    resources = ["${aws_apigatewayv2_stage.default.execution_arn}/*"]
  }

  statement {
    sid       = "NotTheAdminRoutes"
    effect    = "Deny"
    actions   = ["execute-api:Invoke"]
    resources = local.admin_route_arns
  }
}
