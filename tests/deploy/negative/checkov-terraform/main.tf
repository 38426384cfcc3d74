# Negative fixture: a sessions table without point-in-time recovery or encryption settings.
# checkov must report CKV_AWS_28 (and CKV_AWS_119).
resource "aws_dynamodb_table" "sessions" {
  name         = "user-sessions"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"

  attribute {
    name = "id"
    type = "S"
  }
}
