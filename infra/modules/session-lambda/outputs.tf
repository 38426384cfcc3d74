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
  description = "Execution ARN of the HTTP API; grant execute-api:Invoke on \"<arn>/*\" to callers when auth_mode is \"iam\"."
  value       = aws_apigatewayv2_api.http.execution_arn
}

output "log_group_name" {
  description = "Log group of the function."
  value       = aws_cloudwatch_log_group.function.name
}
