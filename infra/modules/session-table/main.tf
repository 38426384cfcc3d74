# The sessions table, exactly as session_core::schema describes it:
# partition key `id` (S), TTL on `ttl` (N, epoch seconds), global secondary index
# `userId-index` (`userId` S + `createdAt` S, projection KEYS_ONLY), on-demand billing.
# crates/session-server/tests/deploy_schema.rs fails if this block drifts from those constants.
#
# Only key attributes are declared. `ttl` is deliberately NOT an `attribute` block: DynamoDB
# rejects attribute definitions that no key uses, and the provider would show a perpetual diff.

resource "aws_dynamodb_table" "sessions" {
  name         = var.table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"

  attribute {
    name = "id"
    type = "S"
  }

  attribute {
    name = "userId"
    type = "S"
  }

  attribute {
    name = "createdAt"
    type = "S"
  }

  global_secondary_index {
    name            = "userId-index"
    hash_key        = "userId"
    range_key       = "createdAt"
    projection_type = "KEYS_ONLY"
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  deletion_protection_enabled = var.deletion_protection

  tags = var.tags
}
