# Terraform module of driftloop's AWS resources, written by `driftloop infra render`
# from driftloop.toml: change the config and render again rather than editing this file.

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.40"
    }
  }
}

provider "aws" {
  region = var.region
}

data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

resource "aws_s3_bucket" "bucket" {
  bucket = "driftloop-churn-artifacts"

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_versioning" "bucket" {
  bucket = aws_s3_bucket.bucket.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "bucket" {
  bucket = aws_s3_bucket.bucket.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "bucket" {
  bucket                  = aws_s3_bucket.bucket.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_iam_role" "sage_maker_execution_role" {
  name        = "driftloop-sagemaker"
  path        = "/"
  description = "driftloop's SageMaker execution role (training jobs, models, endpoints); its policy is docs/iam/sagemaker_role_policy.json"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect = "Allow"
        Principal = {
          Service = "sagemaker.amazonaws.com"
        }
        Action = "sts:AssumeRole"
      },
    ]
  })
}

resource "aws_iam_role_policy" "sage_maker_execution_role" {
  name = "driftloop"
  role = aws_iam_role.sage_maker_execution_role.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "S3ObjectsUnderThePrefix"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        Resource = "arn:${data.aws_partition.current.partition}:s3:::driftloop-churn-artifacts/churn/*"
      },
      {
        Sid      = "S3ListUnderThePrefix"
        Effect   = "Allow"
        Action   = "s3:ListBucket"
        Resource = "arn:${data.aws_partition.current.partition}:s3:::driftloop-churn-artifacts"
        Condition = {
          StringLikeIfExists = {
            "s3:prefix" = "churn/*"
          }
        }
      },
      {
        Sid      = "S3BucketVersioning"
        Effect   = "Allow"
        Action   = ["s3:GetBucketVersioning", "s3:PutBucketVersioning"]
        Resource = "arn:${data.aws_partition.current.partition}:s3:::driftloop-churn-artifacts"
      },
      {
        Sid      = "CloudWatchPutModelMonitorMetrics"
        Effect   = "Allow"
        Action   = "cloudwatch:PutMetricData"
        Resource = "*"
        Condition = {
          StringEquals = {
            "cloudwatch:namespace" = ["aws/sagemaker/Endpoints/data-metrics", "aws/sagemaker/Endpoints/model-metrics"]
          }
        }
      },
      {
        Sid      = "CloudWatchReadMetrics"
        Effect   = "Allow"
        Action   = ["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"]
        Resource = "*"
      },
      {
        Sid    = "CloudWatchAlarms"
        Effect = "Allow"
        Action = [
          "cloudwatch:DescribeAlarms",
          "cloudwatch:DescribeAlarmHistory",
          "cloudwatch:SetAlarmState",
          "cloudwatch:DeleteAlarms",
        ]
        Resource = "arn:${data.aws_partition.current.partition}:cloudwatch:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:alarm:*"
      },
      {
        Sid      = "CloudWatchPutAlarmsThatNotifySns"
        Effect   = "Allow"
        Action   = "cloudwatch:PutMetricAlarm"
        Resource = "arn:${data.aws_partition.current.partition}:cloudwatch:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:alarm:*"
        Condition = {
          "ForAllValues:StringLike" = {
            "cloudwatch:AlarmActions" = "arn:${data.aws_partition.current.partition}:sns:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:*"
          }
        }
      },
      {
        Sid      = "SnsTopics"
        Effect   = "Allow"
        Action   = ["sns:CreateTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Publish"]
        Resource = "arn:${data.aws_partition.current.partition}:sns:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:*"
      },
      {
        Sid      = "SnsSubscribeEmailWebhooksQueues"
        Effect   = "Allow"
        Action   = "sns:Subscribe"
        Resource = "arn:${data.aws_partition.current.partition}:sns:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:*"
        Condition = {
          StringEquals = {
            "sns:Protocol" = ["email", "http", "https", "sqs"]
          }
        }
      },
      {
        Sid      = "SnsListTopics"
        Effect   = "Allow"
        Action   = "sns:ListTopics"
        Resource = "*"
      },
      {
        Sid      = "EventBridgePutEventsOnTheBus"
        Effect   = "Allow"
        Action   = "events:PutEvents"
        Resource = "arn:${data.aws_partition.current.partition}:events:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:event-bus/default"
      },
      {
        Sid    = "EventBridgeRules"
        Effect = "Allow"
        Action = [
          "events:PutRule",
          "events:DescribeRule",
          "events:DeleteRule",
          "events:PutTargets",
          "events:ListTargetsByRule",
          "events:RemoveTargets",
        ]
        Resource = "arn:${data.aws_partition.current.partition}:events:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:rule/*"
      },
      {
        Sid      = "EventBridgeListRules"
        Effect   = "Allow"
        Action   = "events:ListRules"
        Resource = "*"
      },
      {
        Sid    = "SqsDeliveryQueue"
        Effect = "Allow"
        Action = [
          "sqs:CreateQueue",
          "sqs:GetQueueUrl",
          "sqs:GetQueueAttributes",
          "sqs:ReceiveMessage",
          "sqs:ChangeMessageVisibility",
          "sqs:DeleteMessage",
        ]
        Resource = "arn:${data.aws_partition.current.partition}:sqs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:driftloop-deliveries"
      },
      {
        Sid    = "SqsDeadLetterQueue"
        Effect = "Allow"
        Action = [
          "sqs:CreateQueue",
          "sqs:GetQueueUrl",
          "sqs:GetQueueAttributes",
          "sqs:ReceiveMessage",
          "sqs:SendMessage",
        ]
        Resource = "arn:${data.aws_partition.current.partition}:sqs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:driftloop-deliveries-dead-letters"
      },
      {
        Sid      = "SageMakerModelPackageGroup"
        Effect   = "Allow"
        Action   = ["sagemaker:CreateModelPackageGroup", "sagemaker:CreateModelPackage"]
        Resource = "arn:${data.aws_partition.current.partition}:sagemaker:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:model-package-group/churn-model"
      },
      {
        Sid    = "SageMakerModelPackages"
        Effect = "Allow"
        Action = [
          "sagemaker:CreateModelPackage",
          "sagemaker:UpdateModelPackage",
          "sagemaker:DeleteModelPackage",
        ]
        Resource = "arn:${data.aws_partition.current.partition}:sagemaker:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:model-package/churn-model/*"
      },
      {
        Sid      = "SageMakerTrainingJobs"
        Effect   = "Allow"
        Action   = ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob"]
        Resource = "arn:${data.aws_partition.current.partition}:sagemaker:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:training-job/churn-model-*"
      },
      {
        Sid      = "SageMakerModels"
        Effect   = "Allow"
        Action   = ["sagemaker:CreateModel", "sagemaker:DeleteModel"]
        Resource = "arn:${data.aws_partition.current.partition}:sagemaker:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:model/*"
      },
      {
        Sid    = "SageMakerEndpointConfigs"
        Effect = "Allow"
        Action = [
          "sagemaker:CreateEndpointConfig",
          "sagemaker:DescribeEndpointConfig",
          "sagemaker:DeleteEndpointConfig",
        ]
        Resource = "arn:${data.aws_partition.current.partition}:sagemaker:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:endpoint-config/*"
      },
      {
        Sid    = "SageMakerPointEndpointsAtConfigs"
        Effect = "Allow"
        Action = ["sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint"]
        Resource = [
          "arn:${data.aws_partition.current.partition}:sagemaker:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:endpoint/*",
          "arn:${data.aws_partition.current.partition}:sagemaker:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:endpoint-config/*",
        ]
      },
      {
        Sid      = "SageMakerEndpoints"
        Effect   = "Allow"
        Action   = ["sagemaker:DescribeEndpoint", "sagemaker:DeleteEndpoint", "sagemaker:InvokeEndpoint"]
        Resource = "arn:${data.aws_partition.current.partition}:sagemaker:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:endpoint/*"
      },
      {
        Sid    = "SageMakerTagWhatDriftloopCreates"
        Effect = "Allow"
        Action = "sagemaker:AddTags"
        Resource = [
          "arn:${data.aws_partition.current.partition}:sagemaker:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:model/*",
          "arn:${data.aws_partition.current.partition}:sagemaker:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:endpoint-config/*",
          "arn:${data.aws_partition.current.partition}:sagemaker:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:endpoint/*",
        ]
        Condition = {
          StringEquals = {
            "sagemaker:TaggingAction" = ["CreateModel", "CreateEndpointConfig", "CreateEndpoint"]
          }
        }
      },
      {
        Sid    = "SageMakerListings"
        Effect = "Allow"
        Action = [
          "sagemaker:ListModelPackageGroups",
          "sagemaker:ListModelPackages",
          "sagemaker:ListModels",
          "sagemaker:ListEndpointConfigs",
          "sagemaker:ListEndpoints",
        ]
        Resource = "*"
      },
      {
        Sid      = "PassTheExecutionRoleToSageMaker"
        Effect   = "Allow"
        Action   = "iam:PassRole"
        Resource = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:role/driftloop-sagemaker"
        Condition = {
          StringEquals = {
            "iam:PassedToService" = "sagemaker.amazonaws.com"
          }
        }
      },
    ]
  })
}

resource "aws_sns_topic" "ops_topic" {
  name = "ops"
}

resource "aws_sns_topic_subscription" "ops_topic_1" {
  topic_arn = aws_sns_topic.ops_topic.arn
  protocol  = "email"
  endpoint  = var.ops_email
}

resource "aws_sqs_queue" "retrain_dead_letter_queue" {
  name                      = "driftloop-deliveries-dead-letters"
  message_retention_seconds = 1209600
}

resource "aws_sqs_queue" "retrain_queue" {
  name                       = "driftloop-deliveries"
  visibility_timeout_seconds = 900
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.retrain_dead_letter_queue.arn
    maxReceiveCount     = "3"
  })
}

resource "aws_sqs_queue_policy" "retrain_queue_policy" {
  queue_url = aws_sqs_queue.retrain_queue.url
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "driftloop-eventbridge-rules"
        Effect = "Allow"
        Principal = {
          Service = "events.amazonaws.com"
        }
        Action   = "sqs:SendMessage"
        Resource = aws_sqs_queue.retrain_queue.arn
        Condition = {
          ArnLike = {
            "aws:SourceArn" = "arn:${data.aws_partition.current.partition}:events:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:rule/*"
          }
        }
      },
    ]
  })
}

resource "aws_cloudwatch_event_rule" "retrain_on_drift_rule" {
  name           = "retrain-on-drift"
  event_bus_name = "default"
  description    = "driftloop rule, first put 1970-01-01T00:00:00+00:00"
  event_pattern  = "{\"source\":[\"driftloop.monitoring\"],\"detail-type\":[\"Monitoring Run Completed\"],\"detail\":{\"status\":[\"CompletedWithViolations\"]}}"
  state          = "ENABLED"
}

resource "aws_cloudwatch_event_target" "retrain_on_drift_rule_0" {
  rule           = aws_cloudwatch_event_rule.retrain_on_drift_rule.name
  event_bus_name = "default"
  target_id      = "driftloop-0-retrain"
  arn            = aws_sqs_queue.retrain_queue.arn

  input_transformer {
    input_paths    = {}
    input_template = "{\"rule\":\"retrain-on-drift\",\"target\":0,\"spec\":{\"type\":\"retrain\"}, \"event\": <aws.events.event.json>}"
  }
}

resource "aws_cloudwatch_event_target" "retrain_on_drift_rule_1" {
  rule           = aws_cloudwatch_event_rule.retrain_on_drift_rule.name
  event_bus_name = "default"
  target_id      = "driftloop-1-notify"
  arn            = aws_sns_topic.ops_topic.arn
}

resource "aws_sns_topic_policy" "ops_topic_policy" {
  arn = aws_sns_topic.ops_topic.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "__default_statement_ID"
        Effect = "Allow"
        Principal = {
          AWS = "*"
        }
        Action = [
          "SNS:GetTopicAttributes",
          "SNS:SetTopicAttributes",
          "SNS:AddPermission",
          "SNS:RemovePermission",
          "SNS:DeleteTopic",
          "SNS:Subscribe",
          "SNS:ListSubscriptionsByTopic",
          "SNS:Publish",
        ]
        Resource = aws_sns_topic.ops_topic.arn
        Condition = {
          StringEquals = {
            "AWS:SourceOwner" = data.aws_caller_identity.current.account_id
          }
        }
      },
      {
        Sid    = "driftloop-eventbridge-rules"
        Effect = "Allow"
        Principal = {
          Service = "events.amazonaws.com"
        }
        Action   = "sns:Publish"
        Resource = aws_sns_topic.ops_topic.arn
      },
    ]
  })
}

resource "aws_cloudwatch_metric_alarm" "high_latency_alarm" {
  alarm_name        = "HighLatencyAlarm"
  alarm_description = "Model latency above 1 ms on the churn endpoint"
  namespace         = "AWS/SageMaker"
  metric_name       = "ModelLatency"
  dimensions = {
    EndpointName = "churn"
    VariantName  = "AllTraffic"
  }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = 1000
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  unit                = "Microseconds"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.ops_topic.arn]
}

resource "aws_cloudwatch_metric_alarm" "churn_5_xx_errors_alarm" {
  alarm_name        = "churn-5xx-errors"
  alarm_description = "The churn endpoint answered 5XX errors"
  namespace         = "AWS/SageMaker"
  metric_name       = "Invocation5XXErrors"
  dimensions = {
    EndpointName = "churn"
    VariantName  = "AllTraffic"
  }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.ops_topic.arn]
}

resource "aws_cloudwatch_metric_alarm" "churn_data_drift_alarm" {
  alarm_name        = "churn-data-drift"
  alarm_description = "Monitoring found violations in the churn endpoint's captured traffic"
  namespace         = "aws/sagemaker/Endpoints/data-metrics"
  metric_name       = "violations"
  dimensions = {
    Endpoint           = "churn"
    MonitoringSchedule = "churn-monitoring"
  }
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "ignore"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.ops_topic.arn]
  ok_actions          = [aws_sns_topic.ops_topic.arn]
}

resource "aws_cloudwatch_dashboard" "churn_dashboard" {
  dashboard_name = "driftloop-churn"
  dashboard_body = jsonencode({
    widgets = [
      {
        type   = "metric"
        x      = 0
        y      = 0
        width  = 12
        height = 6
        properties = {
          title   = "Invocations"
          view    = "timeSeries"
          stacked = false
          region  = data.aws_region.current.name
          stat    = "Sum"
          period  = 60
          metrics = [
            [
              {
                expression = "SEARCH('{AWS/SageMaker,EndpointName,VariantName} EndpointName=\"churn\" MetricName=\"Invocations\"', 'Sum', 60)"
                id         = "invocations"
                label      = ""
              },
            ],
          ]
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 0
        width  = 12
        height = 6
        properties = {
          title   = "ModelLatency (microseconds)"
          view    = "timeSeries"
          stacked = false
          region  = data.aws_region.current.name
          stat    = "Average"
          period  = 60
          metrics = [
            [
              {
                expression = "SEARCH('{AWS/SageMaker,EndpointName,VariantName} EndpointName=\"churn\" MetricName=\"ModelLatency\"', 'Average', 60)"
                id         = "average"
                label      = ""
              },
            ],
            [
              {
                expression = "SEARCH('{AWS/SageMaker,EndpointName,VariantName} EndpointName=\"churn\" MetricName=\"ModelLatency\"', 'p99', 60)"
                id         = "p99"
                label      = ""
              },
            ],
          ]
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 6
        width  = 12
        height = 6
        properties = {
          title   = "Invocation errors (4XX, 5XX)"
          view    = "timeSeries"
          stacked = false
          region  = data.aws_region.current.name
          stat    = "Sum"
          period  = 60
          metrics = [
            [
              {
                expression = "SEARCH('{AWS/SageMaker,EndpointName,VariantName} EndpointName=\"churn\" MetricName=\"Invocation4XXErrors\"', 'Sum', 60)"
                id         = "errors4xx"
                label      = ""
              },
            ],
            [
              {
                expression = "SEARCH('{AWS/SageMaker,EndpointName,VariantName} EndpointName=\"churn\" MetricName=\"Invocation5XXErrors\"', 'Sum', 60)"
                id         = "errors5xx"
                label      = ""
              },
            ],
          ]
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 6
        width  = 12
        height = 6
        properties = {
          title   = "Monitoring: violations and unusable capture lines"
          view    = "timeSeries"
          stacked = false
          region  = data.aws_region.current.name
          stat    = "Maximum"
          period  = 300
          metrics = [
            [
              "aws/sagemaker/Endpoints/data-metrics",
              "violations",
              "Endpoint",
              "churn",
              "MonitoringSchedule",
              "churn-monitoring",
            ],
            [
              "aws/sagemaker/Endpoints/data-metrics",
              "input_problems",
              "Endpoint",
              "churn",
              "MonitoringSchedule",
              "churn-monitoring",
            ],
            [
              "aws/sagemaker/Endpoints/data-metrics",
              "captured_rows",
              "Endpoint",
              "churn",
              "MonitoringSchedule",
              "churn-monitoring",
              {
                yAxis = "right"
              },
            ],
          ]
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 12
        width  = 12
        height = 6
        properties = {
          title   = "Drift: dataset drift share and per-feature baseline drift"
          view    = "timeSeries"
          stacked = false
          region  = data.aws_region.current.name
          stat    = "Maximum"
          period  = 300
          metrics = [
            [
              "aws/sagemaker/Endpoints/data-metrics",
              "dataset_drift_share",
              "Endpoint",
              "churn",
              "MonitoringSchedule",
              "churn-monitoring",
            ],
            [
              {
                expression = "SEARCH('{\"aws/sagemaker/Endpoints/data-metrics\",Endpoint,MonitoringSchedule} Endpoint=\"churn\" MonitoringSchedule=\"churn-monitoring\" MetricName=feature_baseline_drift', 'Maximum', 300)"
                id         = "features"
                label      = ""
              },
            ],
          ]
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 12
        width  = 12
        height = 6
        properties = {
          title   = "Model quality on late labels"
          view    = "timeSeries"
          stacked = false
          region  = data.aws_region.current.name
          stat    = "Average"
          period  = 300
          metrics = [
            [
              "aws/sagemaker/Endpoints/model-metrics",
              "roc_auc",
              "Endpoint",
              "churn",
              "MonitoringSchedule",
              "churn-monitoring",
            ],
            [
              "aws/sagemaker/Endpoints/model-metrics",
              "f1",
              "Endpoint",
              "churn",
              "MonitoringSchedule",
              "churn-monitoring",
            ],
            [
              "aws/sagemaker/Endpoints/model-metrics",
              "precision",
              "Endpoint",
              "churn",
              "MonitoringSchedule",
              "churn-monitoring",
            ],
            [
              "aws/sagemaker/Endpoints/model-metrics",
              "recall",
              "Endpoint",
              "churn",
              "MonitoringSchedule",
              "churn-monitoring",
            ],
            [
              "aws/sagemaker/Endpoints/model-metrics",
              "accuracy",
              "Endpoint",
              "churn",
              "MonitoringSchedule",
              "churn-monitoring",
            ],
          ]
        }
      },
      {
        type   = "alarm"
        x      = 0
        y      = 18
        width  = 24
        height = 3
        properties = {
          title = "Alarms"
          alarms = [
            "arn:${data.aws_partition.current.partition}:cloudwatch:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:alarm:HighLatencyAlarm",
            "arn:${data.aws_partition.current.partition}:cloudwatch:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:alarm:churn-5xx-errors",
            "arn:${data.aws_partition.current.partition}:cloudwatch:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:alarm:churn-data-drift",
          ]
        }
      },
    ]
  })
}
