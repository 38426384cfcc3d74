output "alarm_names" {
  description = "Names of every alarm the module created."
  value       = concat([for alarm in aws_cloudwatch_metric_alarm.metric : alarm.alarm_name], [for alarm in aws_cloudwatch_metric_alarm.query : alarm.alarm_name])
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard (null when var.dashboard is false)."
  value       = one(aws_cloudwatch_dashboard.service[*].dashboard_name)
}
