variable "table_name" {
  description = "Name of the sessions table (the service's DYNAMODB_TABLE_NAME)."
  type        = string
  default     = "user-sessions"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.table_name))
    error_message = "A DynamoDB table name is 3 to 255 characters of A-Z, a-z, 0-9, '_', '-' and '.'."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer-managed KMS key that encrypts the table. Null: the AWS managed key aws/dynamodb."
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Refuse DeleteTable while true. Turn it off (and apply) before destroying a table on purpose."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for the table."
  type        = map(string)
  default     = {}
}

variable "replica_regions" {
  description = "Other regions to replicate the table to, making it a global table (multi-Region eventual consistency; read docs/operations.md#multi-region first). Empty (default): a table in the provider's region only. Never include the provider's own region."
  type        = list(string)
  default     = []

  validation {
    condition     = length(distinct(var.replica_regions)) == length(var.replica_regions)
    error_message = "replica_regions lists each region once."
  }
}

variable "replica_kms_key_arns" {
  description = "Region => ARN of a customer-managed KMS key in that region, for each replica. Required for every replica region when kms_key_arn is set (a KMS key serves only its own region); a replica without one uses the AWS managed key aws/dynamodb."
  type        = map(string)
  default     = {}
}
