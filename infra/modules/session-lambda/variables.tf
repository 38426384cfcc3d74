variable "function_name" {
  description = "Name of the Lambda function; also names its role, log groups and HTTP API."
  type        = string
  default     = "session-api"
}

variable "package_path" {
  description = "Path of the zip made by scripts/package-lambda (target/lambda/session-lambda/bootstrap.zip): an executable named bootstrap at its root."
  type        = string
}

variable "architecture" {
  description = "Instruction set the package was built for: x86_64 or arm64."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture is x86_64 or arm64."
  }
}

variable "memory_size" {
  description = "Memory of the function in MB (CPU grows with it)."
  type        = number
  default     = 256
}

variable "timeout_seconds" {
  description = "Function timeout. Keep it above the service's REQUEST_TIMEOUT_SECONDS (default 10) and below the HTTP API's 30 s."
  type        = number
  default     = 15
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions: a ceiling on cost and on the load the function puts on the table, taken from the account's pool. -1 (default): no reservation, which also applies in new accounts whose concurrency quota is small."
  type        = number
  default     = -1
}

variable "table_name" {
  description = "The sessions table (DYNAMODB_TABLE_NAME)."
  type        = string
}

variable "table_arn" {
  description = "ARN of the sessions table; the function may use it and its userId-index, nothing else."
  type        = string
}

variable "session" {
  description = "Expiry and data settings passed to the function as SESSION_* variables; null leaves the service's default (see docs/configuration.md)."
  type = object({
    ttl_hours            = optional(number)
    ttl_seconds          = optional(number)
    max_ttl_seconds      = optional(number)
    max_lifetime_seconds = optional(number)
    sliding              = optional(bool)
    touch_after_seconds  = optional(number)
    max_data_bytes       = optional(number)
    max_per_user         = optional(number)
    limit_policy         = optional(string)
    require_if_match     = optional(bool)
  })
  default = {}

  validation {
    condition     = var.session.max_per_user == null || (try(var.session.max_per_user >= 1 && var.session.max_per_user <= 1000 && floor(var.session.max_per_user) == var.session.max_per_user, false))
    error_message = "session.max_per_user is a whole number from 1 to 1000 (SESSION_MAX_PER_USER), or null for no limit."
  }

  validation {
    condition     = var.session.limit_policy == null || contains(["evict-oldest", "reject"], coalesce(var.session.limit_policy, "evict-oldest"))
    error_message = "session.limit_policy is \"evict-oldest\" or \"reject\" (SESSION_LIMIT_POLICY)."
  }
}

variable "auth_mode" {
  description = "\"iam\": every HTTP API route requires AWS_IAM (SigV4-signed calls) and the function runs with AUTH_DISABLED=true, so every caller it serves is admin: give clients the client_invoke_policy_json output, which denies the admin routes. \"tokens\": the routes are open and the function checks bearer tokens from the secret (API_TOKENS, ADMIN_TOKENS)."
  type        = string
  default     = "iam"

  validation {
    condition     = contains(["iam", "tokens"], var.auth_mode)
    error_message = "auth_mode is \"iam\" or \"tokens\"."
  }
}

variable "secret_arn" {
  description = "ARN of a Secrets Manager secret whose value is a JSON object with any of the keys API_TOKENS, ADMIN_TOKENS (comma-separated bearer tokens) and SESSION_CURSOR_SECRET (at least 32 random bytes; without it the module generates one). Required when auth_mode is \"tokens\". Terraform reads it at plan time: the values end up in the Terraform state and in the function's configuration."
  type        = string
  default     = null
}

variable "environment_kms_key_arn" {
  description = "Customer-managed KMS key that encrypts the function's environment (which holds the secret's values). Null: the AWS managed key aws/lambda."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the function's and the HTTP API's log groups."
  type        = number
  default     = 30
}

variable "log_kms_key_arn" {
  description = "Customer-managed KMS key for the log groups. Null: CloudWatch Logs' own encryption."
  type        = string
  default     = null
}

variable "log_level" {
  description = "Level of the function's own logs: TRACE, DEBUG, INFO, WARN or ERROR (any case). It is Lambda's application log level, which reaches the function as AWS_LAMBDA_LOG_LEVEL and wins over RUST_LOG, so a RUST_LOG filter (per-crate directives) in extra_environment has no effect. INFO keeps the AWS SDK's own lines at WARN; DEBUG and TRACE apply to every crate, the SDK included."
  type        = string
  default     = "INFO"

  # FATAL, which Lambda also accepts, is left out: the function has no fatal level (it reads
  # FATAL as ERROR), so Lambda would drop every line it writes, errors included.
  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR"], upper(var.log_level))
    error_message = "log_level is a Lambda log level: TRACE, DEBUG, INFO, WARN or ERROR. It is no longer a RUST_LOG filter."
  }
}

variable "system_log_level" {
  description = "Level of the lines Lambda itself writes to the function's log group: DEBUG, INFO or WARN. WARN (the default) leaves out the START, END and REPORT lines of every invocation, which are INFO; choose INFO to keep them (duration, memory used, init duration), e.g. while tuning memory_size. Lambda's CloudWatch metrics do not depend on these lines."
  type        = string
  default     = "WARN"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN"], var.system_log_level)
    error_message = "system_log_level is DEBUG, INFO or WARN."
  }
}

variable "throttling_rate_limit" {
  description = "Steady-state requests per second the HTTP API lets through."
  type        = number
  default     = 500
}

variable "throttling_burst_limit" {
  description = "Burst of requests the HTTP API lets through."
  type        = number
  default     = 1000
}

variable "extra_environment" {
  description = "More environment variables for the function (e.g. REQUEST_TIMEOUT_SECONDS). The module's own settings win on a clash."
  type        = map(string)
  default     = {}
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}

variable "session_cookie_name" {
  description = "Name of the cookie that carries the session token (SESSION_COOKIE_NAME), read by /auth/forward and the authorizer. Null: the service's default, session."
  type        = string
  default     = null

  validation {
    condition     = var.session_cookie_name == null || can(regex("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", var.session_cookie_name))
    error_message = "session_cookie_name is a cookie name: visible ASCII characters, none of ()<>@,;:\\\"/[]?={} (SESSION_COOKIE_NAME)."
  }
}

variable "forward_auth_data" {
  description = "Whether /auth/forward also sends the session's data (FORWARD_AUTH_DATA). Null: the service's default, false."
  type        = bool
  default     = null
}

variable "forward_auth_data_max_bytes" {
  description = "Longest X-Session-Data header of /auth/forward, in bytes (FORWARD_AUTH_DATA_MAX_BYTES), 0 to 65536. Null: the service's default, 2048."
  type        = number
  default     = null

  validation {
    condition     = var.forward_auth_data_max_bytes == null || try(var.forward_auth_data_max_bytes >= 0 && var.forward_auth_data_max_bytes <= 65536 && floor(var.forward_auth_data_max_bytes) == var.forward_auth_data_max_bytes, false)
    error_message = "forward_auth_data_max_bytes is a whole number of bytes from 0 to 65536 (FORWARD_AUTH_DATA_MAX_BYTES)."
  }
}

variable "authorizer" {
  description = "Deploy the Lambda authorizer (session-authorizer) and attach it to the HTTP API as a REQUEST authorizer (payload 2.0, simple responses). Routes use it with authorization_type = \"CUSTOM\" and the authorizer_id output. Needs authorizer_package_path."
  type        = bool
  default     = false
}

variable "authorizer_package_path" {
  description = "Path of the authorizer's zip made by scripts/package-lambda (target/lambda/session-authorizer/bootstrap.zip). Required when authorizer is true."
  type        = string
  default     = null
}

variable "authorizer_identity_source" {
  description = "Where API Gateway requires the session token before it invokes the authorizer: \"header\" (X-Session-Token) or \"cookie\" (the Cookie header, holding the cookie session_cookie_name). A request without it gets 401 from API Gateway itself."
  type        = string
  default     = "header"

  validation {
    condition     = contains(["header", "cookie"], var.authorizer_identity_source)
    error_message = "authorizer_identity_source is \"header\" or \"cookie\"."
  }
}

variable "authorizer_cache_ttl_seconds" {
  description = "How long API Gateway caches the authorizer's answer per identity source, 0 to 3600 seconds. 0 (the default) checks every request: a cached Allow outlives a revoke, a rotation or an expiry by up to this TTL, since API Gateway cannot forget one key."
  type        = number
  default     = 0

  validation {
    condition     = try(var.authorizer_cache_ttl_seconds >= 0 && var.authorizer_cache_ttl_seconds <= 3600 && floor(var.authorizer_cache_ttl_seconds) == var.authorizer_cache_ttl_seconds, false)
    error_message = "authorizer_cache_ttl_seconds is a whole number of seconds from 0 to 3600."
  }
}
