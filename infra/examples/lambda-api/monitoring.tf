# CloudWatch alarms and a dashboard (docs/operations.md#cloudwatch-alarms-lambda), on when
# alarm_topic_arn names an SNS topic to notify.

module "monitoring" {
  source = "../../modules/session-monitoring"
  count  = var.alarm_topic_arn == null ? 0 : 1

  name                 = var.name
  alarm_topic_arn      = var.alarm_topic_arn
  function_name        = module.api.function_name
  log_group_name       = module.api.log_group_name
  api_id               = module.api.api_id
  reserved_concurrency = module.api.reserved_concurrency
  table_name           = module.table.table_name
  thresholds           = var.alarm_thresholds
  runbook_base_url     = var.runbook_base_url
  tags                 = var.tags
}

variable "alarm_topic_arn" {
  description = "SNS topic for the CloudWatch alarms; null (default) creates no alarms and no dashboard."
  type        = string
  default     = null
}

variable "alarm_thresholds" {
  description = "Overrides of the alarm thresholds (the session-monitoring module's thresholds variable); unset ones keep their defaults."
  type        = any
  default     = {}
}

variable "runbook_base_url" {
  description = "Where your copy of docs/operations.md is published; the alarms link to its sections."
  type        = string
  default     = "docs/operations.md"
}

output "alarm_names" {
  description = "The CloudWatch alarms (empty without alarm_topic_arn)."
  value       = try(module.monitoring[0].alarm_names, [])
}

output "dashboard_name" {
  description = "The CloudWatch dashboard (null without alarm_topic_arn)."
  value       = try(module.monitoring[0].dashboard_name, null)
}
