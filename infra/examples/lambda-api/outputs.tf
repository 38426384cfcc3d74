output "api_endpoint" {
  description = "Base URL of the session API."
  value       = module.api.api_endpoint
}

output "api_execution_arn" {
  description = "Execution ARN of the HTTP API (execute-api:Invoke on \"<this>/*\" makes a caller admin with auth_mode = \"iam\")."
  value       = module.api.api_execution_arn
}

output "admin_invoke_policy_json" {
  description = "auth_mode = \"iam\": the IAM policy to attach to admin principals (every route)."
  value       = module.api.admin_invoke_policy_json
}

output "client_invoke_policy_json" {
  description = "auth_mode = \"iam\": the IAM policy to attach to client principals (every route but the admin ones)."
  value       = module.api.client_invoke_policy_json
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

output "authorizer_id" {
  description = "The HTTP API's session authorizer, for routes with authorization_type = \"CUSTOM\" (null unless authorizer = true)."
  value       = module.api.authorizer_id
}
