variable "region" {
  description = "AWS region of the table and the function."
  type        = string
  default     = "us-west-2"
}

variable "name" {
  description = "Name of the function, its role, log groups and HTTP API."
  type        = string
  default     = "session-api"
}

variable "table_name" {
  description = "Name of the sessions table."
  type        = string
  default     = "user-sessions"
}

variable "package_path" {
  description = "The zip made by scripts/package-lambda, relative to this folder by default."
  type        = string
  default     = "../../../target/lambda/session-lambda/bootstrap.zip"
}

variable "auth_mode" {
  description = "\"iam\" (API Gateway checks SigV4, the function runs with AUTH_DISABLED=true) or \"tokens\" (bearer tokens from secret_arn)."
  type        = string
  default     = "iam"
}

variable "secret_arn" {
  description = "Secrets Manager secret with a JSON value {\"API_TOKENS\": \"...\", \"ADMIN_TOKENS\": \"...\", \"SESSION_CURSOR_SECRET\": \"...\"}; required for auth_mode = \"tokens\". Without SESSION_CURSOR_SECRET the module generates one."
  type        = string
  default     = null
}

variable "table_kms_key_arn" {
  description = "Customer-managed KMS key for the table (null: aws/dynamodb)."
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Protect the table from deletion."
  type        = bool
  default     = true
}

variable "session_ttl_hours" {
  description = "Default idle timeout of a session, in hours (SESSION_TTL_HOURS)."
  type        = number
  default     = 24
}

variable "session_max_lifetime_seconds" {
  description = "Absolute cap on a session's life (SESSION_MAX_LIFETIME_SECONDS); null: none."
  type        = number
  default     = null
}

variable "session_sliding" {
  description = "Whether a read extends a session (SESSION_SLIDING)."
  type        = bool
  default     = false
}

variable "session_cookie_name" {
  description = "Cookie that carries the session token (SESSION_COOKIE_NAME); null: session."
  type        = string
  default     = null
}

variable "forward_auth_data" {
  description = "Whether /auth/forward sends the session's data (FORWARD_AUTH_DATA); null: false."
  type        = bool
  default     = null
}

variable "forward_auth_data_max_bytes" {
  description = "Longest X-Session-Data header of /auth/forward (FORWARD_AUTH_DATA_MAX_BYTES); null: 2048."
  type        = number
  default     = null
}

variable "authorizer" {
  description = "Deploy the Lambda authorizer and attach it to the HTTP API (see docs/gateways.md)."
  type        = bool
  default     = false
}

variable "authorizer_package_path" {
  description = "The authorizer's zip made by scripts/package-lambda, relative to this folder by default."
  type        = string
  default     = "../../../target/lambda/session-authorizer/bootstrap.zip"
}

variable "authorizer_identity_source" {
  description = "Where API Gateway requires the token: \"header\" (X-Session-Token) or \"cookie\"."
  type        = string
  default     = "header"
}

variable "authorizer_cache_ttl_seconds" {
  description = "Seconds API Gateway caches an authorizer answer; 0 (default): none, so a revoke applies at once."
  type        = number
  default     = 0
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default = {
    service = "session-api"
  }
}

variable "replica_regions" {
  description = "Other regions to replicate the table to (a global table; see docs/operations.md#multi-region). Empty: one region."
  type        = list(string)
  default     = []
}

variable "replica_kms_key_arns" {
  description = "Region => customer-managed KMS key for each replica; needed for every replica region when table_kms_key_arn is set."
  type        = map(string)
  default     = {}
}
