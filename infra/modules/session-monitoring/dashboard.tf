# The dashboard: the panels of the Grafana dashboard that CloudWatch has metrics for. Latency
# per route is an average and a maximum (Metrics Insights has no percentiles); the p99s come
# from Lambda and API Gateway. Memory is no Lambda metric: its panel reads the REPORT lines,
# which the function's log group gets only with system_log_level = "INFO".

data "aws_region" "current" {}

locals {
  region = data.aws_region.current.name

  # [title, Metrics Insights query]: one query per widget, as GetMetricData allows.
  emf_panels = [
    ["Requests by route", "SELECT SUM(${local.metric.requests.name}) FROM ${local.from.requests} GROUP BY route"],
    ["Requests by status", "SELECT SUM(${local.metric.requests.name}) FROM ${local.from.requests} GROUP BY status"],
    ["Errors: 500 internal by route", "${local.requests_with_status["500"]} GROUP BY route"],
    ["Errors: 503 store_unavailable by route", "${local.requests_with_status["503"]} GROUP BY route"],
    ["Latency by route: average (s)", "SELECT AVG(${local.metric.request_duration.name}) FROM ${local.from.request_duration} GROUP BY route"],
    ["Latency by route: maximum (s)", "SELECT MAX(${local.metric.request_duration.name}) FROM ${local.from.request_duration} GROUP BY route"],
    ["Store operations: average time (s)", "SELECT AVG(${local.metric.store_duration.name}) FROM ${local.from.store_duration} GROUP BY operation"],
    ["Store operations: count", "SELECT COUNT(${local.metric.store_duration.name}) FROM ${local.from.store_duration} GROUP BY operation"],
    ["Store errors by kind", "SELECT SUM(${local.metric.store_errors.name}) FROM ${local.from.store_errors} GROUP BY kind"],
    ["Store errors by operation", "SELECT SUM(${local.metric.store_errors.name}) FROM ${local.from.store_errors} GROUP BY operation"],
    ["Rate limited (429) by route", "${local.requests_with_status["429"]} GROUP BY route"],
    ["Auth failures: 401 by route", "${local.requests_with_status["401"]} GROUP BY route"],
    ["Auth failures: 403 by route", "${local.requests_with_status["403"]} GROUP BY route"],
  ]

  emf_widgets = [for index, panel in local.emf_panels : {
    type   = "metric"
    x      = (index % 2) * 12
    y      = floor(index / 2) * 6
    width  = 12
    height = 6
    properties = {
      title   = panel[0]
      region  = local.region
      view    = "timeSeries"
      stat    = "Sum"
      period  = 60
      metrics = [[{ expression = panel[1], id = "q1" }]]
    }
  }]

  lifecycle_widget = {
    type   = "metric"
    x      = 0
    y      = ceil(length(local.emf_panels) / 2) * 6
    width  = 24
    height = 6
    properties = {
      title  = "Sessions: created, deleted, expired on read, evicted"
      region = local.region
      view   = "timeSeries"
      stat   = "Sum"
      period = 60
      metrics = [for key in ["sessions_created", "sessions_deleted", "sessions_expired", "sessions_evicted"] :
        [local.emf.namespace, local.metric[key].name]
      ]
    }
  }

  aws_top = (ceil(length(local.emf_panels) / 2) + 1) * 6

  # [title, stat, metrics]: AWS's own metrics of the function, the API and the table.
  aws_panels = [
    ["Lambda: invocations, errors, throttles", "Sum", [
      ["AWS/Lambda", "Invocations", "FunctionName", var.function_name],
      ["AWS/Lambda", "Errors", "FunctionName", var.function_name],
      ["AWS/Lambda", "Throttles", "FunctionName", var.function_name],
    ]],
    ["Lambda: duration p50 / p99 (ms)", "p99", [
      ["AWS/Lambda", "Duration", "FunctionName", var.function_name, { stat = "p50" }],
      ["AWS/Lambda", "Duration", "FunctionName", var.function_name, { stat = "p99" }],
    ]],
    ["Lambda: concurrent executions", "Maximum", [
      ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", var.function_name],
    ]],
    ["HTTP API: requests, 4xx, 5xx", "Sum", [
      ["AWS/ApiGateway", "Count", "ApiId", var.api_id],
      ["AWS/ApiGateway", "4xx", "ApiId", var.api_id],
      ["AWS/ApiGateway", "5xx", "ApiId", var.api_id],
    ]],
    ["HTTP API: latency p50 / p99 (ms)", "p99", [
      ["AWS/ApiGateway", "Latency", "ApiId", var.api_id, { stat = "p50" }],
      ["AWS/ApiGateway", "Latency", "ApiId", var.api_id, { stat = "p99" }],
    ]],
    ["DynamoDB: consumed capacity", "Sum", [
      ["AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName", var.table_name],
      ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", var.table_name],
    ]],
  ]

  aws_widgets = [for index, panel in local.aws_panels : {
    type   = "metric"
    x      = (index % 2) * 12
    y      = local.aws_top + floor(index / 2) * 6
    width  = 12
    height = 6
    properties = {
      title   = panel[0]
      region  = local.region
      view    = "timeSeries"
      stat    = panel[1]
      period  = 60
      metrics = panel[2]
    }
  }]

  memory_widget = {
    type   = "log"
    x      = 0
    y      = local.aws_top + ceil(length(local.aws_panels) / 2) * 6
    width  = 24
    height = 6
    properties = {
      title  = "Lambda: memory used (MB; REPORT lines, system_log_level = INFO)"
      region = local.region
      view   = "timeSeries"
      query  = "SOURCE '${var.log_group_name}' | filter type = \"platform.report\" | stats max(record.metrics.maxMemoryUsedMB) as max_mb, avg(record.metrics.maxMemoryUsedMB) as avg_mb by bin(5m)"
    }
  }

  throttle_widget = {
    type   = "metric"
    x      = 0
    y      = local.aws_top + ceil(length(local.aws_panels) / 2) * 6 + 6
    width  = 24
    height = 6
    properties = {
      title  = "DynamoDB: throttled requests on the table (all operations)"
      region = local.region
      view   = "timeSeries"
      stat   = "Sum"
      period = 60
      metrics = [
        [{ expression = local.query_alarms.dynamodb-throttles.query, id = "q1" }],
      ]
    }
  }
}

resource "aws_cloudwatch_dashboard" "service" {
  count          = var.dashboard ? 1 : 0
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = concat(local.emf_widgets, [local.lifecycle_widget], local.aws_widgets, [local.memory_widget, local.throttle_widget])
  })
}
