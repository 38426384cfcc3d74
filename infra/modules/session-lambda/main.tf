# The session API on AWS Lambda: the session-lambda package (runtime provided.al2023), behind an
# HTTP API (API Gateway v2), with its own log groups and a role that may touch the sessions
# table and nothing else.

# Auth settings come from a Secrets Manager secret that the operator creates and fills (never
# from this repository). Trade-off, documented in docs/lambda.md: Terraform reads the value at plan
# time, so the tokens are stored in the Terraform state (keep the state encrypted, with tight
# access) and in the function's configuration (encrypted with var.environment_kms_key_arn, and
# readable by whoever may call lambda:GetFunctionConfiguration). auth_mode = "iam" needs no
# tokens at all: API Gateway checks SigV4 signatures and the function runs with AUTH_DISABLED.
# The secret may also hold SESSION_CURSOR_SECRET; without it, the module makes one (below).
data "aws_secretsmanager_secret_version" "auth" {
  count     = var.secret_arn == null ? 0 : 1
  secret_id = var.secret_arn
}

locals {
  iam_auth = var.auth_mode == "iam"

  secret_values = var.secret_arn == null ? {} : jsondecode(data.aws_secretsmanager_secret_version.auth[0].secret_string)

  # Only these keys of the secret become environment variables; the tokens only in "tokens" mode.
  secret_keys = local.iam_auth ? ["SESSION_CURSOR_SECRET"] : ["API_TOKENS", "ADMIN_TOKENS", "SESSION_CURSOR_SECRET"]
  secret_env  = { for key, value in local.secret_values : key => tostring(value) if contains(local.secret_keys, key) }

  session_settings = {
    SESSION_TTL_HOURS            = var.session.ttl_hours
    SESSION_TTL_SECONDS          = var.session.ttl_seconds
    SESSION_MAX_TTL_SECONDS      = var.session.max_ttl_seconds
    SESSION_MAX_LIFETIME_SECONDS = var.session.max_lifetime_seconds
    SESSION_SLIDING              = var.session.sliding
    SESSION_TOUCH_AFTER_SECONDS  = var.session.touch_after_seconds
    SESSION_MAX_DATA_BYTES       = var.session.max_data_bytes
    SESSION_MAX_PER_USER         = var.session.max_per_user
    SESSION_LIMIT_POLICY         = var.session.limit_policy
    SESSION_REQUIRE_IF_MATCH     = var.session.require_if_match
  }
  session_env = { for key, value in local.session_settings : key => tostring(value) if value != null }

  # The cookie and /auth/forward settings, read by both functions.
  forward_settings = {
    SESSION_COOKIE_NAME         = var.session_cookie_name
    FORWARD_AUTH_DATA           = var.forward_auth_data
    FORWARD_AUTH_DATA_MAX_BYTES = var.forward_auth_data_max_bytes
  }
  forward_env = { for key, value in local.forward_settings : key => tostring(value) if value != null }

  # AWS_REGION is set by Lambda itself (a reserved variable); the store is always DynamoDB here.
  # No LOG_FORMAT: the Lambda binary never reads it. No RUST_LOG: logging_config below makes
  # Lambda pass AWS_LAMBDA_LOG_LEVEL, which wins over it. The generated cursor secret comes
  # first, so that one from extra_environment or from the secret wins over it.
  environment = merge(
    { SESSION_CURSOR_SECRET = random_bytes.cursor_secret.base64 },
    var.extra_environment,
    local.session_env,
    local.forward_env,
    local.secret_env,
    {
      SESSION_STORE       = "dynamodb"
      DYNAMODB_TABLE_NAME = var.table_name
    },
    local.iam_auth ? { AUTH_DISABLED = "true" } : {},
  )

  # Exactly the DynamoDB calls the service makes (session_core::store::dynamodb), on the table
  # and the one index it queries. No CreateTable, UpdateTimeToLive or DeleteTable: the table is
  # Terraform's.
  dynamodb_actions = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:BatchWriteItem",
    "dynamodb:BatchGetItem",
    "dynamodb:DescribeTable",
    "dynamodb:DescribeTimeToLive",
  ]
}

# On DynamoDB the function refuses to start without SESSION_CURSOR_SECRET, the key that seals
# listing cursors, which must carry at least 32 bytes of entropy. When the secret has none, the
# function gets these 32 random bytes (base64, as `openssl rand -base64 32` makes them), made
# once and kept in the Terraform state like the secret's values. They stay the same across
# applies; `terraform apply -replace` on this resource rotates them.
resource "random_bytes" "cursor_secret" {
  length = 32
}

# --- Logs --------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_338:Retention is the operator's choice (var.log_retention_days, 30 days by default); request logs hold only hashed session ids, and a year of them is cost without use for most teams.
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_338:Retention is the operator's choice (var.log_retention_days, 30 days by default); access logs carry no session data.
  name              = "/aws/apigateway/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

# --- IAM: least privilege ----------------------------------------------------------------------

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  name               = "${var.function_name}-lambda"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "function" {
  statement {
    sid       = "SessionsTable"
    actions   = local.dynamodb_actions
    # userId-index is session_core::schema::USER_INDEX, the only index the service queries.
    resources = [var.table_arn, "${var.table_arn}/index/userId-index"]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray has no resource-level permissions for these two actions.
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "session-api"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
}

# --- The function ------------------------------------------------------------------------------

resource "aws_lambda_function" "api" {
  #checkov:skip=CKV_AWS_117:The function reaches only DynamoDB's public regional endpoint over TLS with IAM auth; a VPC would add NAT or endpoint cost and cold-start latency without narrowing what it can reach.
  #checkov:skip=CKV_AWS_116:Invocations are synchronous (HTTP API); the caller gets the error, so there is nothing for a dead-letter queue to keep.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile in the deploying account; the package is built by scripts/package-lambda and its hash is pinned by source_code_hash.
  function_name                  = var.function_name
  description                    = "Session API (session-lambda)"
  role                           = aws_iam_role.function.arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [var.architecture]
  filename                       = var.package_path
  source_code_hash               = filebase64sha256(var.package_path)
  memory_size                    = var.memory_size
  timeout                        = var.timeout_seconds
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = var.environment_kms_key_arn

  environment {
    variables = local.environment
  }

  # JSON: the function writes JSON lines when Lambda says AWS_LAMBDA_LOG_FORMAT=JSON (which
  # this sets). With JSON, Lambda always passes AWS_LAMBDA_LOG_LEVEL (INFO unless set here),
  # and the function lets it win over RUST_LOG; so var.log_level must go here to have effect.
  # Lambda also drops JSON lines below these levels on its side.
  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.function.name
    application_log_level = upper(var.log_level)
    system_log_level      = var.system_log_level
  }

  tracing_config {
    mode = "Active"
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = local.iam_auth || contains(keys(local.secret_env), "API_TOKENS") || contains(keys(local.secret_env), "ADMIN_TOKENS")
      error_message = "auth_mode = \"tokens\" needs secret_arn: a secret whose JSON value has API_TOKENS and/or ADMIN_TOKENS."
    }
  }

  depends_on = [aws_iam_role_policy.function]
}

# --- HTTP API (API Gateway v2) -----------------------------------------------------------------

resource "aws_apigatewayv2_api" "http" {
  name          = var.function_name
  protocol_type = "HTTP"
  description   = "Session API"
  tags          = var.tags
}

resource "aws_apigatewayv2_integration" "function" {
  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.api.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 29000
}

# Every route: AWS_IAM in auth_mode "iam"; NONE in auth_mode "tokens", where the function itself
# requires bearer tokens (API_TOKENS/ADMIN_TOKENS) on every session route.
resource "aws_apigatewayv2_route" "default" {
  api_id             = aws_apigatewayv2_api.http.id
  route_key          = "$default"
  target             = "integrations/${aws_apigatewayv2_integration.function.id}"
  authorization_type = local.iam_auth ? "AWS_IAM" : "NONE"
}

# The contract's admin routes as routes of their own. In auth_mode "iam" the function runs with
# AUTH_DISABLED and serves every caller as admin, so API Gateway must keep clients off these:
# the client policy below denies them. As routes of their own they have execute-api ARNs of
# their own, apart from the $default route's, and admin calls show in the access log's routeKey.
resource "aws_apigatewayv2_route" "admin" {
  for_each           = local.admin_routes
  api_id             = aws_apigatewayv2_api.http.id
  route_key          = each.key
  target             = "integrations/${aws_apigatewayv2_integration.function.id}"
  authorization_type = local.iam_auth ? "AWS_IAM" : "NONE"
}

locals {
  # API.md's admin routes (HEAD /sessions is GET /sessions without the body, admin too), each
  # with the end of its execute-api ARN, where a path parameter is a wildcard.
  admin_routes = {
    "GET /sessions"                  = "GET/sessions"
    "HEAD /sessions"                 = "HEAD/sessions"
    "DELETE /sessions/user/{userId}" = "DELETE/sessions/user/*"
  }
  admin_route_arns = [for suffix in values(local.admin_routes) : "${aws_apigatewayv2_stage.default.execution_arn}/${suffix}"]
}

# What to attach to the callers' IAM roles in auth_mode "iam": admins may invoke every route,
# clients every route but the admin ones.
data "aws_iam_policy_document" "invoke_admin" {
  statement {
    sid       = "InvokeEveryRoute"
    actions   = ["execute-api:Invoke"]
    resources = ["${aws_apigatewayv2_stage.default.execution_arn}/*"]
  }
}

data "aws_iam_policy_document" "invoke_client" {
  statement {
    sid       = "InvokeClientRoutes"
    actions   = ["execute-api:Invoke"]
    resources = ["${aws_apigatewayv2_stage.default.execution_arn}/*"]
  }

  statement {
    sid       = "NotTheAdminRoutes"
    effect    = "Deny"
    actions   = ["execute-api:Invoke"]
    resources = local.admin_route_arns
  }
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.http.id
  name        = "$default"
  auto_deploy = true

  # $context.routeKey rather than $context.path: paths carry only public session ids, and the
  # function's own request log already names the session; session tokens travel in the
  # X-Session-Token header, which this format never records.
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId      = "$context.requestId"
      ip             = "$context.identity.sourceIp"
      requestTime    = "$context.requestTime"
      httpMethod     = "$context.httpMethod"
      routeKey       = "$context.routeKey"
      status         = "$context.status"
      responseLength = "$context.responseLength"
      latencyMs      = "$context.integrationLatency"
      error          = "$context.integrationErrorMessage"
    })
  }

  default_route_settings {
    throttling_rate_limit  = var.throttling_rate_limit
    throttling_burst_limit = var.throttling_burst_limit
  }

  tags = var.tags
}

resource "aws_lambda_permission" "http_api" {
  statement_id  = "AllowHttpApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.api.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http.execution_arn}/*"
}
