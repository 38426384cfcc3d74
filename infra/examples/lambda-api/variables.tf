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
