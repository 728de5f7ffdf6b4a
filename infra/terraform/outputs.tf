# Terraform module of driftloop's AWS resources, written by `driftloop infra render`
# from driftloop.toml: change the config and render again rather than editing this file.

output "bucket_name" {
  description = "The S3 bucket (aws.bucket)"
  value       = aws_s3_bucket.bucket.bucket
}

output "artifacts_uri" {
  description = "Where driftloop keeps its files (aws.bucket and aws.prefix)"
  value       = "s3://${aws_s3_bucket.bucket.bucket}/churn/"
}

output "sage_maker_role_arn" {
  description = "The SageMaker execution role (aws.role_arn)"
  value       = aws_iam_role.sage_maker_execution_role.arn
}

output "retrain_queue_url" {
  description = "The queue rules' retrain targets send to (aws.queue)"
  value       = aws_sqs_queue.retrain_queue.url
}

output "retrain_dead_letter_queue_url" {
  description = "Where deliveries go after their last attempt"
  value       = aws_sqs_queue.retrain_dead_letter_queue.url
}

output "ops_topic_arn" {
  description = "The ARN of topic ops"
  value       = aws_sns_topic.ops_topic.arn
}
