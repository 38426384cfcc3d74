# One deployable root: the sessions table and the session API on Lambda behind an HTTP API.
#
#   scripts/package-lambda                 # builds target/lambda/session-lambda/bootstrap.zip
#   cd infra/examples/lambda-api
#   terraform init && terraform apply      # -var auth_mode=tokens -var secret_arn=... for tokens

module "table" {
  source = "../../modules/session-table"

  table_name          = var.table_name
  kms_key_arn         = var.table_kms_key_arn
  deletion_protection = var.deletion_protection
  tags                = var.tags

  replica_regions      = var.replica_regions
  replica_kms_key_arns = var.replica_kms_key_arns
}

module "api" {
  source = "../../modules/session-lambda"

  function_name = var.name
  package_path  = var.package_path
  table_name    = module.table.table_name
  table_arn     = module.table.table_arn
  auth_mode     = var.auth_mode
  secret_arn    = var.secret_arn

  session = {
    ttl_hours            = var.session_ttl_hours
    max_lifetime_seconds = var.session_max_lifetime_seconds
    sliding              = var.session_sliding
  }

  tags = var.tags
}
