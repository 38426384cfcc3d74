# The example root with everything optional turned on: alarms and dashboard, and a global table
# with customer-managed keys. scripts/validate-deploy runs tf-check and checkov on it; the
# example itself (infra/examples/lambda-api) has both off by default.

module "table" {
  source = "../../../../infra/modules/session-table"

  table_name      = "user-sessions"
  kms_key_arn     = "arn:aws:kms:us-west-2:123456789012:key/11111111-2222-3333-4444-555555555555"
  replica_regions = ["us-east-1", "eu-west-1"]
  replica_kms_key_arns = {
    us-east-1 = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    eu-west-1 = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }
}

module "api" {
  source = "../../../../infra/modules/session-lambda"

  package_path         = "bootstrap.zip"
  table_name           = module.table.table_name
  table_arn            = module.table.table_arn
  reserved_concurrency = 50
}

module "monitoring" {
  source = "../../../../infra/modules/session-monitoring"

  name                 = "session-api"
  alarm_topic_arn      = "arn:aws:sns:us-west-2:123456789012:session-api-alarms"
  function_name        = module.api.function_name
  log_group_name       = module.api.log_group_name
  api_id               = module.api.api_id
  reserved_concurrency = module.api.reserved_concurrency
  table_name           = module.table.table_name
  thresholds           = { lambda_duration_p99_ms = 500 }
}
