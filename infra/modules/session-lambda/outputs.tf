output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.api.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function."
  value       = aws_lambda_function.api.arn
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.function.arn
}

output "api_endpoint" {
  description = "Base URL of the HTTP API (its $default stage: no stage prefix in paths)."
  value       = aws_apigatewayv2_stage.default.invoke_url
}

output "api_execution_arn" {
  description = "Execution ARN of the HTTP API. With auth_mode \"iam\", execute-api:Invoke on \"<arn>/*\" makes a caller admin: give clients client_invoke_policy_json instead."
  value       = aws_apigatewayv2_api.http.execution_arn
}

output "admin_route_arns" {
  description = "execute-api ARNs of the admin routes (GET and HEAD /sessions, DELETE /sessions/user/{userId}), which auth_mode \"iam\" leaves to admin principals only."
  value       = local.admin_route_arns
}

output "admin_invoke_policy_json" {
  description = "auth_mode \"iam\": an IAM policy for admin principals (execute-api:Invoke on every route). Null in auth_mode \"tokens\"."
  value       = local.iam_auth ? data.aws_iam_policy_document.invoke_admin.json : null
}

output "client_invoke_policy_json" {
  description = "auth_mode \"iam\": an IAM policy for client principals (execute-api:Invoke on every route, the admin routes denied). Null in auth_mode \"tokens\"."
  value       = local.iam_auth ? data.aws_iam_policy_document.invoke_client.json : null
}

output "log_group_name" {
  description = "Log group of the function."
  value       = aws_cloudwatch_log_group.function.name
}

output "authorizer_id" {
  description = "ID of the HTTP API's session authorizer, for routes with authorization_type = \"CUSTOM\". Null unless authorizer is true."
  value       = var.authorizer ? aws_apigatewayv2_authorizer.session[0].id : null
}

output "authorizer_function_name" {
  description = "Name of the authorizer function. Null unless authorizer is true."
  value       = var.authorizer ? aws_lambda_function.authorizer[0].function_name : null
}

output "api_id" {
  description = "ID of the HTTP API, for routes of your own (with authorizer_id, behind the session authorizer)."
  value       = aws_apigatewayv2_api.http.id
}

output "reserved_concurrency" {
  description = "The function's reserved concurrent executions (-1: none reserved)."
  value       = aws_lambda_function.api.reserved_concurrent_executions
}
