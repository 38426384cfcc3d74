# The sessions table, exactly as session_core::schema describes it:
# partition key `id` (S), TTL on `ttl` (N, epoch seconds), global secondary index
# `userId-index` (`userId` S + `createdAt` S, projection KEYS_ONLY), on-demand billing.
# crates/session-server/tests/deploy_schema.rs fails if this block drifts from those constants.
#
# Only key attributes are declared. `ttl` is deliberately NOT an `attribute` block: DynamoDB
# rejects attribute definitions that no key uses, and the provider would show a perpetual diff.

locals {
  global = length(var.replica_regions) > 0
}

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

  # A global table (replica_regions not empty): DynamoDB replicates through the table's stream,
  # which must carry new and old images. Each replica gets PITR and encryption like this one.
  # What replication means for sessions: docs/operations.md#multi-region.
  stream_enabled   = local.global
  stream_view_type = local.global ? "NEW_AND_OLD_IMAGES" : null

  dynamic "replica" {
    for_each = var.replica_regions
    content {
      region_name            = replica.value
      point_in_time_recovery = true
      kms_key_arn            = lookup(var.replica_kms_key_arns, replica.value, null)
      propagate_tags         = true
    }
  }

  deletion_protection_enabled = var.deletion_protection

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.kms_key_arn == null || alltrue([for region in var.replica_regions : contains(keys(var.replica_kms_key_arns), region)])
      error_message = "kms_key_arn is set: replica_kms_key_arns needs a key ARN for every region of replica_regions."
    }
  }
}
