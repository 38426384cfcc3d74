# One deployable root: the sessions table and the session API on Lambda behind an HTTP API.
#
#   scripts/package-lambda                 # builds target/lambda/session-lambda/bootstrap.zip
#                                          # and target/lambda/session-authorizer/bootstrap.zip
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

  session_cookie_name         = var.session_cookie_name
  forward_auth_data           = var.forward_auth_data
  forward_auth_data_max_bytes = var.forward_auth_data_max_bytes

  authorizer                   = var.authorizer
  authorizer_package_path      = var.authorizer_package_path
  authorizer_identity_source   = var.authorizer_identity_source
  authorizer_cache_ttl_seconds = var.authorizer_cache_ttl_seconds

  tags = var.tags
}
