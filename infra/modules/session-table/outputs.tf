output "table_name" {
  description = "Name of the table: the service's DYNAMODB_TABLE_NAME."
  value       = aws_dynamodb_table.sessions.name
}

output "table_arn" {
  description = "ARN of the table (IAM policies also need \"<arn>/index/*\" for the userId-index)."
  value       = aws_dynamodb_table.sessions.arn
}

output "index_arns" {
  description = "ARN pattern that covers the table's secondary indexes."
  value       = "${aws_dynamodb_table.sessions.arn}/index/*"
}

output "replica_regions" {
  description = "Regions the table is replicated to (empty: not a global table)."
  value       = [for replica in aws_dynamodb_table.sessions.replica : replica.region_name]
}
