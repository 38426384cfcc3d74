output "api_endpoint" {
  description = "Base URL of the session API."
  value       = module.api.api_endpoint
}

output "api_execution_arn" {
  description = "Grant execute-api:Invoke on \"<this>/*\" to the callers (auth_mode = \"iam\")."
  value       = module.api.api_execution_arn
}

output "function_name" {
  description = "Name of the Lambda function."
  value       = module.api.function_name
}

output "table_name" {
  description = "Name of the sessions table."
  value       = module.table.table_name
}

output "table_arn" {
  description = "ARN of the sessions table."
  value       = module.table.table_arn
}
