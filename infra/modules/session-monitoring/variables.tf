variable "name" {
  description = "Prefix of every alarm's name and the dashboard's name (e.g. the function's name)."
  type        = string
}

variable "alarm_topic_arn" {
  description = "ARN of the SNS topic every alarm notifies, on ALARM and again on OK."
  type        = string
}

variable "function_name" {
  description = "The Lambda function (session-lambda module output function_name)."
  type        = string
}

variable "log_group_name" {
  description = "The function's log group (session-lambda module output log_group_name), for the dashboard's memory panel."
  type        = string
}

variable "api_id" {
  description = "ID of the HTTP API in front of the function (session-lambda module output api_id)."
  type        = string
}

variable "table_name" {
  description = "The sessions table (session-table module output table_name)."
  type        = string
}

variable "reserved_concurrency" {
  description = "The function's reserved concurrency (session-lambda module output reserved_concurrency); -1 or null when none is reserved, and then account_concurrency_limit is the ceiling the concurrency alarm compares with."
  type        = number
  default     = -1
}

variable "account_concurrency_limit" {
  description = "The account's concurrent executions quota in this region (1000 unless raised), the ceiling of a function without reserved concurrency."
  type        = number
  default     = 1000
}

variable "dashboard" {
  description = "Also create the CloudWatch dashboard."
  type        = bool
  default     = true
}

variable "thresholds" {
  description = "Alarm thresholds; each has a default. Counts are per period_seconds; latencies in milliseconds."
  type = object({
    period_seconds          = optional(number, 300)
    evaluation_periods      = optional(number, 2)
    lambda_errors           = optional(number, 5)
    lambda_throttles        = optional(number, 1)
    lambda_duration_p99_ms  = optional(number, 1000)
    concurrency_ratio       = optional(number, 0.8)
    server_errors           = optional(number, 5)
    store_unavailable       = optional(number, 5)
    dynamodb_throttles      = optional(number, 1)
    dynamodb_system_errors  = optional(number, 1)
    dynamodb_user_errors    = optional(number, 50)
    api_5xx                 = optional(number, 5)
    api_latency_p99_ms      = optional(number, 1000)
  })
  default = {}

  validation {
    condition     = var.thresholds.concurrency_ratio > 0 && var.thresholds.concurrency_ratio <= 1
    error_message = "thresholds.concurrency_ratio is a fraction of the concurrency ceiling, above 0 and at most 1."
  }

  validation {
    condition     = var.thresholds.period_seconds >= 60 && var.thresholds.period_seconds % 60 == 0
    error_message = "thresholds.period_seconds is a multiple of 60 (Metrics Insights alarms have one-minute resolution at best)."
  }
}

variable "runbook_base_url" {
  description = "Where your copy of docs/operations.md is published (e.g. its URL in your repository host); each alarm's description ends with a link to its section there."
  type        = string
  default     = "docs/operations.md"
}

variable "tags" {
  description = "Tags for the alarms."
  type        = map(string)
  default     = {}
}
