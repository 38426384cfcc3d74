# CloudWatch alarms and a dashboard for the session API on Lambda: the function (AWS/Lambda),
# its HTTP API (AWS/ApiGateway), the sessions table (AWS/DynamoDB) and the service's own EMF
# metrics (docs/operations.md#metrics). Every alarm notifies var.alarm_topic_arn and links to
# its runbook section in docs/operations.md.
#
# The EMF metric names, their namespace and dimension sets come from emf-metrics.json, which
# crates/session-lambda/tests/monitoring_metrics.rs checks against what the function writes.

locals {
  emf     = jsondecode(file("${path.module}/emf-metrics.json"))
  metric  = local.emf.metrics
  t       = var.thresholds
  period  = local.t.period_seconds
  runbook = "${var.runbook_base_url}#alarm-"

  # FROM clause of a Metrics Insights query over one EMF metric: SCHEMA with the metric's exact
  # dimension set, since EMF publishes each document under the full set of its labels.
  from = { for key, m in local.metric : key => "SCHEMA(\"${local.emf.namespace}\"${join("", [for d in m.dimensions : ", ${d}"])})" }

  # Every request is one EMF series per (route, method, status); these sum a status over all
  # routes and methods. The service answers two 5xx statuses: 500 (internal) and 503
  # (store_unavailable, which also covers throttling and the request timeout).
  requests_with_status = { for status in ["500", "503", "429", "401", "403"] :
    status => "SELECT SUM(${local.metric.requests.name}) FROM ${local.from.requests} WHERE status = '${status}'"
  }

  concurrency_ceiling = coalesce(var.reserved_concurrency, -1) > 0 ? var.reserved_concurrency : var.account_concurrency_limit

  # Alarms on one AWS metric. missing: "notBreaching" where no data means nothing went wrong
  # (no errors were counted), "missing" where no data means no traffic (latency, concurrency),
  # so that an idle service neither alarms nor claims OK.
  metric_alarms = {
    lambda-errors = {
      what      = "The function returned errors (crashes, timeouts, out of memory): invocations with no HTTP answer from the service."
      namespace = "AWS/Lambda"
      metric    = "Errors"
      dims      = { FunctionName = var.function_name }
      statistic = "Sum"
      extended  = null
      threshold = local.t.lambda_errors
      missing   = "notBreaching"
    }
    lambda-throttles = {
      what      = "Lambda refused invocations: the function is at its concurrency ceiling."
      namespace = "AWS/Lambda"
      metric    = "Throttles"
      dims      = { FunctionName = var.function_name }
      statistic = "Sum"
      extended  = null
      threshold = local.t.lambda_throttles
      missing   = "notBreaching"
    }
    lambda-duration-p99 = {
      what      = "The function's p99 duration is high."
      namespace = "AWS/Lambda"
      metric    = "Duration"
      dims      = { FunctionName = var.function_name }
      statistic = null
      extended  = "p99"
      threshold = local.t.lambda_duration_p99_ms
      missing   = "missing"
    }
    lambda-concurrency = {
      what      = "Concurrent executions are near the function's ceiling (reserved concurrency, or the account quota without one)."
      namespace = "AWS/Lambda"
      metric    = "ConcurrentExecutions"
      dims      = { FunctionName = var.function_name }
      statistic = "Maximum"
      extended  = null
      threshold = floor(local.concurrency_ceiling * local.t.concurrency_ratio)
      missing   = "missing"
    }
    dynamodb-user-errors = {
      what      = "DynamoDB answered HTTP 400 to many requests. UserErrors is one figure for the whole account and region, not only this table."
      namespace = "AWS/DynamoDB"
      metric    = "UserErrors"
      dims      = {}
      statistic = "Sum"
      extended  = null
      threshold = local.t.dynamodb_user_errors
      missing   = "notBreaching"
    }
    api-5xx = {
      what      = "The HTTP API answered 5xx: the function's 500 and 503, and API Gateway's own (function errors, throttling, integration timeouts)."
      namespace = "AWS/ApiGateway"
      metric    = "5xx"
      dims      = { ApiId = var.api_id }
      statistic = "Sum"
      extended  = null
      threshold = local.t.api_5xx
      missing   = "notBreaching"
    }
    api-latency-p99 = {
      what      = "The HTTP API's p99 latency, as clients see it, is high."
      namespace = "AWS/ApiGateway"
      metric    = "Latency"
      dims      = { ApiId = var.api_id }
      statistic = null
      extended  = "p99"
      threshold = local.t.api_latency_p99_ms
      missing   = "missing"
    }
  }

  # Alarms on a Metrics Insights query: a sum over many series (every route and method of an
  # EMF metric, every operation of a table's metric).
  query_alarms = {
    server-errors = {
      what      = "The service answered 500 (internal): a bug or an unexpected store answer; the cause is in the function's log."
      query     = local.requests_with_status["500"]
      threshold = local.t.server_errors
    }
    store-unavailable = {
      what      = "The service answered 503 store_unavailable: DynamoDB was unreachable, throttled the function, or a request ran out of time."
      query     = local.requests_with_status["503"]
      threshold = local.t.store_unavailable
    }
    dynamodb-throttles = {
      what      = "DynamoDB throttled requests on the sessions table or its index."
      query     = "SELECT SUM(ThrottledRequests) FROM SCHEMA(\"AWS/DynamoDB\", TableName, Operation) WHERE TableName = '${var.table_name}'"
      threshold = local.t.dynamodb_throttles
    }
    dynamodb-system-errors = {
      what      = "DynamoDB answered HTTP 500 on the sessions table: a fault on AWS's side."
      query     = "SELECT SUM(SystemErrors) FROM SCHEMA(\"AWS/DynamoDB\", TableName, Operation) WHERE TableName = '${var.table_name}'"
      threshold = local.t.dynamodb_system_errors
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "metric" {
  for_each = local.metric_alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "${each.value.what} Runbook: ${local.runbook}${each.key}"
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dims
  statistic           = each.value.statistic
  extended_statistic  = each.value.extended
  period              = local.period
  evaluation_periods  = local.t.evaluation_periods
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = each.value.missing
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "query" {
  for_each = local.query_alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "${each.value.what} Runbook: ${local.runbook}${each.key}"
  evaluation_periods  = local.t.evaluation_periods
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = each.value.threshold
  # A count that has no data counted nothing.
  treat_missing_data = "notBreaching"
  alarm_actions      = [var.alarm_topic_arn]
  ok_actions         = [var.alarm_topic_arn]
  tags               = var.tags

  metric_query {
    id          = "q1"
    expression  = each.value.query
    period      = local.period
    return_data = true
  }
}
