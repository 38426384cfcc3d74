# The Lambda authorizer (session-authorizer), when var.authorizer is on: a function of its own
# (its own package, role and log group) that checks the session token of a request for API
# Gateway, attached to this HTTP API as a REQUEST authorizer with simple responses. Routes opt
# in with authorization_type = "CUSTOM" and authorizer_id = the authorizer_id output.

locals {
  authorizer_count = var.authorizer ? 1 : 0

  # The header, or the whole Cookie header: an HTTP API has no identity source for one cookie.
  # API Gateway answers 401 without invoking the function when the identity source is absent,
  # and, with a cache TTL, caches by its value.
  authorizer_identity_sources = {
    header = ["$request.header.X-Session-Token"]
    cookie = ["$request.header.Cookie"]
  }

  # Reads by token; UpdateItem only for the sliding extension a read may make.
  authorizer_dynamodb_actions = concat(
    ["dynamodb:GetItem"],
    coalesce(var.session.sliding, false) ? ["dynamodb:UpdateItem"] : [],
  )

  # The API function's session settings and table, without its tokens (the authorizer serves
  # no API route).
  authorizer_environment = merge(
    { SESSION_CURSOR_SECRET = random_bytes.cursor_secret.base64 },
    local.session_env,
    local.forward_env,
    { for key, value in local.secret_env : key => value if key == "SESSION_CURSOR_SECRET" },
    {
      SESSION_STORE       = "dynamodb"
      DYNAMODB_TABLE_NAME = var.table_name
    },
  )
}

resource "aws_cloudwatch_log_group" "authorizer" {
  #checkov:skip=CKV_AWS_338:Retention is the operator's choice (var.log_retention_days, 30 days by default), as for the API function; the authorizer logs only hashed session ids.
  count             = local.authorizer_count
  name              = "/aws/lambda/${var.function_name}-authorizer"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags

  # The first of the authorizer's resources: the check fails the plan before the function
  # would read a package at a null path.
  lifecycle {
    precondition {
      condition     = var.authorizer_package_path != null
      error_message = "authorizer = true needs authorizer_package_path (target/lambda/session-authorizer/bootstrap.zip from scripts/package-lambda)."
    }
  }
}

resource "aws_iam_role" "authorizer" {
  count              = local.authorizer_count
  name               = "${var.function_name}-authorizer"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "authorizer" {
  count = local.authorizer_count

  statement {
    sid       = "ReadSessions"
    actions   = local.authorizer_dynamodb_actions
    resources = [var.table_arn]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.authorizer[0].arn}:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray has no resource-level permissions for these two actions.
  }
}

resource "aws_iam_role_policy" "authorizer" {
  count  = local.authorizer_count
  name   = "session-authorizer"
  role   = aws_iam_role.authorizer[0].id
  policy = data.aws_iam_policy_document.authorizer[0].json
}

resource "aws_lambda_function" "authorizer" {
  #checkov:skip=CKV_AWS_117:The function reaches only DynamoDB's public regional endpoint over TLS with IAM auth; a VPC would add NAT or endpoint cost and cold-start latency without narrowing what it can reach.
  #checkov:skip=CKV_AWS_116:API Gateway invokes it synchronously and turns an error into the client's answer, so there is nothing for a dead-letter queue to keep.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile in the deploying account; the package is built by scripts/package-lambda and its hash is pinned by source_code_hash.
  count                          = local.authorizer_count
  function_name                  = "${var.function_name}-authorizer"
  description                    = "Session token check for API Gateway (session-authorizer)"
  role                           = aws_iam_role.authorizer[0].arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [var.architecture]
  filename                       = var.authorizer_package_path
  source_code_hash               = filebase64sha256(var.authorizer_package_path)
  memory_size                    = var.memory_size
  timeout                        = var.timeout_seconds
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = var.environment_kms_key_arn

  environment {
    variables = local.authorizer_environment
  }

  # As the API function's: JSON lines, and Lambda's levels.
  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.authorizer[0].name
    application_log_level = upper(var.log_level)
    system_log_level      = var.system_log_level
  }

  tracing_config {
    mode = "Active"
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.authorizer]
}

resource "aws_apigatewayv2_authorizer" "session" {
  count                             = local.authorizer_count
  api_id                            = aws_apigatewayv2_api.http.id
  name                              = "session"
  authorizer_type                   = "REQUEST"
  authorizer_uri                    = aws_lambda_function.authorizer[0].invoke_arn
  authorizer_payload_format_version = "2.0"
  enable_simple_responses           = true
  identity_sources                  = local.authorizer_identity_sources[var.authorizer_identity_source]
  # 0 by default: a cached Allow outlives a revoke by up to the TTL (docs/gateways.md).
  authorizer_result_ttl_in_seconds = var.authorizer_cache_ttl_seconds
}

resource "aws_lambda_permission" "authorizer" {
  count         = local.authorizer_count
  statement_id  = "AllowHttpApiAuthorizer"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.authorizer[0].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.session[0].id}"
}
